//! The records shared by the embedders, the stores, ingestion and the tools.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Which embedder built a collection's vectors; a collection is searched only with the same one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EmbedderId {
    /// `local`, `openai` or `ollama`.
    pub provider: String,
    /// The model, e.g. `all-MiniLM-L6-v2`, `text-embedding-3-small`, `nomic-embed-text`.
    pub model: String,
    /// Vector length.
    pub dimension: usize,
}

/// Where a chunk comes from inside its source, for citations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Position {
    /// 1-based page (PDF).
    pub page: Option<u32>,
    /// The nearest heading above the chunk (Markdown, HTML, DOCX).
    pub heading: Option<String>,
    /// 1-based first line of the chunk in the source text.
    pub line_start: Option<u32>,
    /// 1-based last line.
    pub line_end: Option<u32>,
    /// 0-based index of the chunk within its source, used to find neighbours.
    pub index: u32,
}

/// A piece of text stored in a collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Chunk {
    /// Unique within the collection; storing the same id again replaces the chunk.
    pub id: String,
    /// The text.
    pub text: String,
    /// The file or URL it came from, if any (`None` for memories stored directly).
    pub source: Option<String>,
    /// Where in the source.
    pub position: Position,
    /// Caller-supplied metadata (string, number or boolean values), usable in filters.
    pub metadata: BTreeMap<String, Value>,
    /// SHA-256 (hex) of the source file's content when the chunk came from ingestion; used to skip
    /// unchanged files.
    pub content_hash: Option<String>,
}

/// How a search ranks chunks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    /// BM25 and dense rankings fused (the default): the embedded store adds their min-max normalised scores, Qdrant fuses them by reciprocal rank.
    #[default]
    Hybrid,
    /// Vector similarity only.
    Dense,
    /// BM25 only.
    Lexical,
}

/// A metadata filter: every condition must hold. Keys are metadata keys, or `source`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Filter {
    /// The conditions, all of which must hold.
    pub must: Vec<Condition>,
}

/// One condition of a filter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Condition {
    /// A metadata key, or `source`.
    pub key: String,
    /// Equal to one of these values (string, number or boolean).
    #[serde(default)]
    pub any_of: Vec<Value>,
    /// At least this number.
    #[serde(default)]
    pub gte: Option<f64>,
    /// At most this number.
    #[serde(default)]
    pub lte: Option<f64>,
}

/// What to search for.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    /// The query as text (for BM25).
    pub text: String,
    /// The query's vector (for dense search); `None` when running lexical-only.
    pub vector: Option<Vec<f32>>,
    /// How many hits to return.
    pub k: usize,
    /// Conditions the hits must meet.
    pub filter: Option<Filter>,
    /// How to rank.
    pub mode: SearchMode,
    /// Drop hits scoring below this (in the mode's own score scale).
    pub score_threshold: Option<f64>,
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Hit {
    /// The chunk found.
    pub chunk: Chunk,
    /// Higher is better: the fused score (hybrid), cosine similarity (dense) or BM25 score (lexical).
    pub score: f64,
    /// 1-based rank in the BM25 ranking, if it was there.
    pub lexical_rank: Option<u32>,
    /// 1-based rank in the dense ranking, if it was there.
    pub dense_rank: Option<u32>,
    /// Cosine similarity of the query and the chunk, when the dense ranking found it (dense and
    /// hybrid modes): the calibrated signal behind [`crate::store::relevance`].
    #[serde(default)]
    pub similarity: Option<f64>,
}

/// A collection and what it holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CollectionInfo {
    /// Its name.
    pub name: String,
    /// The embedder that built its vectors; `None` for a lexical-only collection.
    pub embedder: Option<EmbedderId>,
    /// Number of chunks.
    pub chunks: u64,
    /// Number of distinct sources.
    pub sources: u64,
}

/// Which chunks to delete.
#[derive(Debug, Clone, PartialEq)]
pub enum Selector {
    /// These ids.
    Ids(Vec<String>),
    /// Every chunk of this source.
    Source(String),
    /// Every chunk matching the filter.
    Filter(Filter),
}

/// A source as stored, for skipping unchanged files on re-ingestion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SourceInfo {
    /// The source.
    pub source: String,
    /// Its content hash.
    pub content_hash: Option<String>,
    /// Its number of chunks.
    pub chunks: u64,
}
