//! The rag server's domain service: the store and the embedder behind every tool, and what
//! needs both (which collections can take vectors, embedding, hybrid search with relevance).
//! It knows nothing of MCP, so that the tools and the ingestion loop can share it without
//! depending on each other; `tools` says its errors to the caller.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::config::{RagConfig, is_collection_name};
use crate::embed::{EmbedError, Embedder, Embedding};
use crate::ingest::IngestConfig;
use crate::model::{
    Chunk, CollectionInfo, EmbedderId, Filter, Hit, Position, SearchMode, SearchRequest,
};
use crate::store::{Store, StoreError, relevance};
use crate::upgrade::{self, Upgrades};

/// Everything the tools share: the store, the embedder and the settings, with the work that
/// takes more than one of them (opening a collection for its embedder, embedding, searching).
pub struct RagService {
    /// Where chunks live.
    pub store: Arc<dyn Store>,
    /// "embedded SQLite at …" or "Qdrant at …", for stats and readiness.
    pub store_label: String,
    /// The embedder (none while running lexical-only, e.g. while the model downloads) and why.
    pub embedding: Arc<Embedding>,
    /// Lexical-only collections being given vectors now that there is an embedder.
    pub(crate) upgrades: Arc<Upgrades>,
    /// Ingestion settings (roots, chunk sizes).
    pub ingest: IngestConfig,
    /// Server settings.
    pub config: RagConfig,
}

/// Why the service did not do what was asked; the tools translate it for the caller.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The collection name is not 1 to 64 letters, digits, `_` or `-`.
    #[error("invalid collection name: expected 1 to 64 letters, digits, `_` or `-`")]
    CollectionName,
    /// The collection cannot be written now; the reason says why and how to go on.
    #[error("{0}")]
    Refused(String),
    /// The embedder failed.
    #[error(transparent)]
    Embed(#[from] EmbedError),
    /// The store failed or refused.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One retrieved passage.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Passage {
    /// 1-based rank
    pub rank: u32,
    /// The passage text
    pub text: String,
    /// Ranking score in the search mode's scale (the fused score for hybrid): orders the passages but says nothing of relevance on its own
    pub score: f64,
    /// How relevant the passage is, from 0 to 1: cosine similarity for vectors, squared share of the query's words for BM25, the stronger of the two in hybrid mode
    pub relevance: f64,
    /// The file or URL it came from, if any
    pub source: Option<String>,
    /// Where in the source (page, heading, lines)
    pub position: Position,
    /// The chunk id, for read_chunk and delete
    pub chunk_id: String,
    /// The passage's metadata
    pub metadata: BTreeMap<String, Value>,
    /// Rank in the BM25 ranking, if it was there
    pub lexical_rank: Option<u32>,
    /// Rank in the vector ranking, if it was there
    pub dense_rank: Option<u32>,
}

/// Search results.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SearchResult {
    /// The query
    pub query: String,
    /// The collection searched
    pub collection: String,
    /// The mode actually used (lexical when no embedding model is available)
    pub mode: SearchMode,
    /// Why the mode differs from the one asked for, or that no model is available, if so
    pub note: Option<String>,
    /// The passages, best first
    pub passages: Vec<Passage>,
    /// Passages less relevant than this (0 to 1) were left out
    pub min_relevance: f64,
    /// How many passages were found but left out as less relevant than min_relevance
    pub left_out: u32,
}

/// What was stored.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Stored {
    /// The collection
    pub collection: String,
    /// The ids stored (existing ids were replaced)
    pub ids: Vec<String>,
    /// Whether vectors were stored too (false when running lexical-only)
    pub embedded: bool,
}

fn describe(embedder: &EmbedderId) -> String {
    format!(
        "{}/{} ({} dimensions)",
        embedder.provider, embedder.model, embedder.dimension
    )
}

/// How a collection relates to the server's embedder.
pub(crate) enum Fit {
    /// Same embedder: vectors can be written and searched.
    Vectors,
    /// Lexical-only on both sides.
    LexicalOnly,
    /// Searchable by BM25 only, and not writable; the reason says how to fix it.
    ReadLexical(String),
    /// Lexical-only, being given the server's vectors in place: searched by BM25 and written
    /// without vectors until then; the reason says so.
    Upgrading(String),
}

impl RagService {
    /// `name`, or the default collection when there is none, if it is a valid collection name.
    pub(crate) fn collection_name(&self, name: Option<String>) -> Result<String, ServiceError> {
        let name = name.unwrap_or_else(|| self.config.default_collection.clone());
        if !is_collection_name(&name) {
            return Err(ServiceError::CollectionName);
        }
        Ok(name)
    }

    /// The embedder now, if any (it can arrive while the server runs).
    pub(crate) fn embedder(&self) -> Option<Arc<dyn Embedder>> {
        self.embedding.embedder()
    }

    /// Which embedder is used, or why there is none.
    pub(crate) fn embedder_note(&self) -> String {
        self.embedding.note()
    }

    /// `info` once its upgrade to the server's embedder is over, waiting up to `wait` for it:
    /// a lexical-only collection gets vectors as soon as there is an embedder, never by
    /// deleting what it holds. Unchanged when nothing is to be done or the upgrade runs on.
    async fn with_vectors_if_possible(
        &self,
        info: CollectionInfo,
        wait: Duration,
    ) -> CollectionInfo {
        let Some(embedder) = self.embedder() else {
            return info;
        };
        if info.embedder.is_some() || !self.upgrades.supported() {
            return info;
        }
        if self.upgrades.settle(&info.name, &embedder, wait).await
            && let Ok(upgraded) = self.store.collection(&info.name).await
        {
            return upgraded;
        }
        info
    }

    /// How `info` relates to the embedder now.
    pub(crate) fn fit(&self, info: &CollectionInfo) -> Fit {
        match (&info.embedder, &self.embedder()) {
            (Some(built), Some(current)) if built == current.id() => Fit::Vectors,
            (None, None) => Fit::LexicalOnly,
            (Some(built), Some(current)) => Fit::ReadLexical(
                StoreError::EmbedderMismatch {
                    collection: info.name.clone(),
                    built_with: describe(built),
                    current: describe(current.id()),
                }
                .to_string(),
            ),
            (Some(built), None) => Fit::ReadLexical(format!(
                "collection `{}` was built with {}, but no embedding model is available now ({}); searching by BM25 only, and writes are refused until the model is configured again",
                info.name,
                describe(built),
                self.embedder_note()
            )),
            (None, Some(current)) if self.upgrades.supported() => {
                Fit::Upgrading(self.upgrades.note(&info.name, current.id()))
            }
            // Qdrant cannot add a dense vector to an existing collection: keep every chunk,
            // searchable by BM25, and say how to go on without deleting anything.
            (None, Some(current)) => Fit::ReadLexical(format!(
                "collection `{}` was built without vectors (lexical-only), and {} cannot add vectors to an existing collection, so writes to it are refused while this server embeds with {}; it stays searchable by BM25 and nothing in it is deleted. To go on without deleting anything: write to another collection (pass `collection`, or set RAG_DEFAULT_COLLECTION), or run without a model (RAG_MODEL_DOWNLOAD=false and no RAG_MODEL_DIR) to keep writing to it lexically, or move to the embedded SQLite store (unset QDRANT_URL), which adds vectors in place",
                info.name,
                self.store_label,
                describe(current.id())
            )),
        }
    }

    /// The collection, created with the server's embedder when missing and `create` is set.
    async fn open(&self, name: &str, create: bool) -> Result<CollectionInfo, ServiceError> {
        match self.store.collection(name).await {
            Ok(info) => Ok(info),
            Err(StoreError::NoCollection(_)) if create => {
                let embedder = self.embedder().map(|e| e.id().clone());
                match self.store.create_collection(name, embedder.as_ref()).await {
                    Ok(()) | Err(StoreError::CollectionExists(_)) => {}
                    Err(error) => return Err(error.into()),
                }
                Ok(self.store.collection(name).await?)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// The collection, ready for writing; vectors are needed when it has an embedder.
    pub(crate) async fn open_for_write(
        &self,
        name: &str,
    ) -> Result<(CollectionInfo, bool), ServiceError> {
        let info = self.open(name, true).await?;
        let info = self.with_vectors_if_possible(info, upgrade::WAIT).await;
        match self.fit(&info) {
            Fit::Vectors => Ok((info, true)),
            Fit::LexicalOnly | Fit::Upgrading(_) => Ok((info, false)),
            Fit::ReadLexical(reason) => Err(ServiceError::Refused(reason)),
        }
    }

    /// The vectors of `texts` by the embedder now, or none while running lexical-only.
    pub(crate) async fn embed_documents(
        &self,
        texts: &[String],
    ) -> Result<Vec<Vec<f32>>, ServiceError> {
        match &self.embedder() {
            Some(embedder) => Ok(embedder.embed_documents(texts).await?),
            None => Ok(Vec::new()),
        }
    }

    /// Stores `chunks` in `collection` (created when missing), with vectors when it has them.
    pub(crate) async fn store_chunks(
        &self,
        collection: &str,
        chunks: Vec<Chunk>,
    ) -> Result<Stored, ServiceError> {
        let (_, with_vectors) = self.open_for_write(collection).await?;
        let texts: Vec<String> = chunks.iter().map(|c| c.text.clone()).collect();
        let vectors = if with_vectors {
            self.embed_documents(&texts).await?
        } else {
            Vec::new()
        };
        let ids = chunks.iter().map(|c| c.id.clone()).collect();
        self.store.upsert(collection, chunks, vectors).await?;
        Ok(Stored {
            collection: collection.to_owned(),
            ids,
            embedded: with_vectors,
        })
    }

    /// Searches `collection` in `mode`, or lexically when its vectors cannot be used (the note
    /// says why), leaving out passages less relevant than `min_relevance` (default
    /// `RAG_MIN_RELEVANCE`).
    pub(crate) async fn search(
        &self,
        collection: String,
        query: String,
        k: usize,
        filter: Option<Filter>,
        mode: SearchMode,
        min_relevance: Option<f64>,
    ) -> Result<SearchResult, ServiceError> {
        let min_relevance = min_relevance.unwrap_or(self.config.min_relevance);
        let info = match self.store.collection(&collection).await {
            Ok(info) => info,
            // Nothing stored yet in the default collection: an empty answer, and nothing created.
            Err(StoreError::NoCollection(_)) if collection == self.config.default_collection => {
                let note = Some(format!("nothing has been stored in `{collection}` yet"));
                return Ok(SearchResult {
                    query,
                    collection,
                    mode,
                    note,
                    passages: Vec::new(),
                    min_relevance,
                    left_out: 0,
                });
            }
            Err(error) => return Err(error.into()),
        };
        let info = self.with_vectors_if_possible(info, upgrade::WAIT).await;
        let (mode, note) = match (self.fit(&info), mode) {
            (Fit::Vectors, mode) => (mode, None),
            (Fit::LexicalOnly, SearchMode::Lexical) => (
                SearchMode::Lexical,
                Some(format!("lexical-only: {}", self.embedder_note())),
            ),
            (Fit::LexicalOnly, _) => (
                SearchMode::Lexical,
                Some(format!(
                    "searched by BM25 only (lexical-only): {}",
                    self.embedder_note()
                )),
            ),
            (Fit::ReadLexical(reason) | Fit::Upgrading(reason), _) => {
                (SearchMode::Lexical, Some(reason))
            }
        };
        let vector = match (mode, &self.embedder()) {
            (SearchMode::Lexical, _) | (_, None) => None,
            (_, Some(embedder)) => Some(embedder.embed_query(&query).await?),
        };
        let request = SearchRequest {
            text: query.clone(),
            vector,
            k,
            filter,
            mode,
            // The store's threshold is in the mode's own scale (RRF for hybrid), which means
            // nothing on its own; relevance is cut on below, in one scale for every mode.
            score_threshold: None,
        };
        let hits = self.store.search(&collection, request).await?;
        let found = hits.len();
        let mut best_left_out: Option<f64> = None;
        let passages: Vec<Passage> = hits
            .into_iter()
            .filter_map(|hit| {
                let relevance = relevance::relevance(&query, &hit, mode);
                if relevance < min_relevance {
                    best_left_out = Some(best_left_out.map_or(relevance, |b| b.max(relevance)));
                    return None;
                }
                Some((hit, relevance))
            })
            .enumerate()
            .map(|(idx, (hit, relevance))| passage(idx, hit, relevance))
            .collect();
        let left_out = u32::try_from(found - passages.len()).unwrap_or(u32::MAX);
        let note = match (passages.is_empty(), best_left_out) {
            // Said in structured form too, so that a client never mistakes the least unrelated
            // passages for an answer.
            (true, best) => {
                let why = match best {
                    Some(best) => format!(
                        "nothing relevant was found: {left_out} passages matched only weakly (best relevance {best:.2}, below the minimum {min_relevance:.2}; a lower score_threshold shows them)"
                    ),
                    None => "nothing relevant was found: no passage matched".to_owned(),
                };
                Some(match note {
                    Some(note) => format!("{note}; {why}"),
                    None => why,
                })
            }
            (false, _) => note,
        };
        Ok(SearchResult {
            query,
            collection,
            mode,
            note,
            passages,
            min_relevance,
            left_out,
        })
    }
}

fn passage(idx: usize, hit: Hit, relevance: f64) -> Passage {
    Passage {
        rank: idx as u32 + 1,
        text: hit.chunk.text,
        score: hit.score,
        relevance,
        source: hit.chunk.source,
        position: hit.chunk.position,
        chunk_id: hit.chunk.id,
        metadata: hit.chunk.metadata,
        lexical_rank: hit.lexical_rank,
        dense_rank: hit.dense_rank,
    }
}
