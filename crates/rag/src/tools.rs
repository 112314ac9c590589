//! The MCP face of the rag server: the prototype's `memorizar_informacion` and
//! `recuperar_contexto`, and `store`, `ingest`, `search`, `read_chunk`, `delete`,
//! `list_collections`, `collection_stats`, `create_collection`, `drop_collection`, with resources
//! for collections. Tools validate nothing the runtime already checked; they pick the
//! collection, embed, call the store and shape the answer.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use mcp_common::error::resource_not_found;
use mcp_common::{Domain, Json, Previews, Probe, ToolError};
use rmcp::handler::server::common::schema_for_output;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::*;
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::MAX_K;
use crate::ingesting::{self, IngestSummary};
use crate::model::{
    Chunk, CollectionInfo, Condition, EmbedderId, Filter, Position, SearchMode, Selector,
    SourceInfo,
};
use crate::service::{Fit, RagService, SearchResult, ServiceError, Stored};
use crate::store::StoreError;

/// The rag MCP server.
#[derive(Clone)]
pub struct Rag {
    service: Arc<RagService>,
    tools: Arc<ToolRouter<Rag>>,
}

impl std::fmt::Debug for Rag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Rag")
    }
}

/// A metadata value: text, number or boolean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum MetaValue {
    /// A boolean.
    Bool(bool),
    /// A number.
    Number(f64),
    /// Text.
    Text(String),
}

impl MetaValue {
    fn into_json(self) -> Value {
        match self {
            MetaValue::Bool(b) => Value::Bool(b),
            MetaValue::Number(n) => serde_json::Number::from_f64(n)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            MetaValue::Text(t) => Value::String(t),
        }
    }
}

/// One metadata entry.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct MetaEntry {
    /// The key, e.g. "topic" or "customer".
    pub key: String,
    /// Its value.
    pub value: MetaValue,
}

/// One condition of a filter; all conditions must hold.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct ConditionArg {
    /// A metadata key, or `source` for the file a chunk came from.
    pub key: String,
    /// Matches when the value equals one of these.
    #[serde(default)]
    pub any_of: Vec<MetaValue>,
    /// Matches when the value is at least this number.
    #[serde(default)]
    pub gte: Option<f64>,
    /// Matches when the value is at most this number.
    #[serde(default)]
    pub lte: Option<f64>,
}

fn to_filter(conditions: Option<Vec<ConditionArg>>) -> Option<Filter> {
    let conditions = conditions.filter(|c| !c.is_empty())?;
    Some(Filter {
        must: conditions
            .into_iter()
            .map(|c| Condition {
                key: c.key,
                any_of: c.any_of.into_iter().map(MetaValue::into_json).collect(),
                gte: c.gte,
                lte: c.lte,
            })
            .collect(),
    })
}

fn to_metadata(entries: Option<Vec<MetaEntry>>) -> BTreeMap<String, Value> {
    entries
        .unwrap_or_default()
        .into_iter()
        .map(|e| (e.key, e.value.into_json()))
        .collect()
}

/// Arguments of `memorizar_informacion`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct MemorizarArgs {
    /// The information to remember
    pub texto: String,
}

/// Arguments of `recuperar_contexto`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct RecuperarArgs {
    /// The question to find relevant remembered information for
    pub pregunta: String,
}

/// A document to store.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct DocumentArg {
    /// Its id; storing the same id again replaces it (default: derived from the text)
    #[serde(default)]
    pub id: Option<String>,
    /// The text
    pub text: String,
    /// Its metadata, added to the call's metadata
    #[serde(default)]
    pub metadata: Option<Vec<MetaEntry>>,
}

/// Arguments of `store`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct StoreArgs {
    /// Texts to store (give texts or documents)
    #[serde(default)]
    pub texts: Option<Vec<String>>,
    /// Documents with their own ids and metadata (give texts or documents)
    #[serde(default)]
    pub documents: Option<Vec<DocumentArg>>,
    /// Metadata for every text or document stored, usable in search filters
    #[serde(default)]
    pub metadata: Option<Vec<MetaEntry>>,
    /// Collection to store into (default: the server's default collection, created if missing)
    #[serde(default)]
    pub collection: Option<String>,
    /// Id for a single text; storing the same id again replaces it
    #[serde(default)]
    pub id: Option<String>,
}

/// Arguments of `ingest`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct IngestArgs {
    /// Files or folders to ingest (txt, md, html, pdf, docx), inside the configured roots
    pub paths: Vec<String>,
    /// Collection to ingest into (default: the server's default collection, created if missing)
    #[serde(default)]
    pub collection: Option<String>,
}

/// Arguments of `search`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchArgs {
    /// What to look for
    pub query: String,
    /// Collection to search (default: the server's default collection)
    #[serde(default)]
    pub collection: Option<String>,
    /// How many passages to return, 1 to 50 (default from RAG_DEFAULT_K)
    #[serde(default)]
    pub k: Option<u32>,
    /// Conditions on metadata (or `source`) that every passage must meet
    #[serde(default)]
    pub filter: Option<Vec<ConditionArg>>,
    /// hybrid (default: BM25 and vectors fused), dense (vectors only) or lexical (BM25 only)
    #[serde(default)]
    pub mode: Option<SearchMode>,
    /// Leave out passages less relevant than this, from 0 to 1 (cosine similarity for vectors, squared share of the query's words for BM25; default from RAG_MIN_RELEVANCE; 0 keeps every passage found)
    #[serde(default)]
    pub score_threshold: Option<f64>,
}

/// Arguments of `read_chunk`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ReadChunkArgs {
    /// The chunk id, as returned by a search
    pub id: String,
    /// Collection (default: the server's default collection)
    #[serde(default)]
    pub collection: Option<String>,
    /// How many chunks before and after it, from the same source, to include (default 1, at most 5)
    #[serde(default)]
    pub neighbours: Option<u32>,
}

/// Arguments of `delete`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct DeleteArgs {
    /// Delete these chunk ids (give exactly one of ids, source, filter)
    #[serde(default)]
    pub ids: Option<Vec<String>>,
    /// Delete every chunk from this source
    #[serde(default)]
    pub source: Option<String>,
    /// Delete every chunk matching these conditions
    #[serde(default)]
    pub filter: Option<Vec<ConditionArg>>,
    /// Collection (default: the server's default collection)
    #[serde(default)]
    pub collection: Option<String>,
}

/// A collection name argument.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct CollectionArgs {
    /// The collection's name: 1 to 64 letters, digits, `_` or `-`
    pub name: String,
}

/// Optional collection argument.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct StatsArgs {
    /// The collection (default: the server's default collection)
    #[serde(default)]
    pub collection: Option<String>,
}

/// A chunk with its neighbours.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ChunkContext {
    /// The chunk asked for
    pub chunk: Chunk,
    /// Chunks of the same source around it, in order (it included)
    pub context: Vec<Chunk>,
}

/// How many chunks were deleted.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Deleted {
    /// The collection
    pub collection: String,
    /// Chunks deleted
    pub deleted: u64,
}

/// Every collection.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Collections {
    /// The collections
    pub collections: Vec<CollectionInfo>,
    /// The store in use
    pub store: String,
    /// The embedder in use, or why there is none
    pub embedder: String,
}

/// A collection's statistics.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CollectionStats {
    /// The collection
    pub collection: CollectionInfo,
    /// Its sources (at most 200), with chunk counts
    pub sources: Vec<SourceInfo>,
    /// Whether this server's embedder can write to and search it by vector
    pub compatible: bool,
    /// Why not, if not
    pub note: Option<String>,
}

/// A collection created or dropped.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CollectionChanged {
    /// The collection
    pub name: String,
    /// The embedder it is built for (none: lexical-only)
    pub embedder: Option<EmbedderId>,
    /// Whether it existed before (for drop) or was created (for create)
    pub changed: bool,
}

/// A store error as the caller reads it; `?` converts.
impl From<StoreError> for ToolError {
    fn from(error: StoreError) -> ToolError {
        match error {
            StoreError::NoCollection(name) => ToolError::not_found(
                format!("collection `{name}`"),
                "call list_collections, or store something to create it",
            ),
            StoreError::CollectionExists(name) => {
                ToolError::Conflict(format!("collection `{name}` already exists"))
            }
            StoreError::Invalid(message) => ToolError::Other(message),
            other => ToolError::Other(other.to_string()),
        }
    }
}

/// A service error as the caller reads it; `?` converts, in the tools and in `ingesting`.
impl From<ServiceError> for ToolError {
    fn from(error: ServiceError) -> ToolError {
        match error {
            ServiceError::CollectionName => {
                ToolError::invalid("collection", "1 to 64 letters, digits, `_` or `-`")
            }
            ServiceError::Refused(reason) => ToolError::Refused(reason),
            ServiceError::Embed(error) => ToolError::Other(error.to_string()),
            ServiceError::Store(error) => ToolError::from(error),
        }
    }
}

/// The ids that more than one of `chunks` has, in order of first appearance.
fn duplicate_ids(chunks: &[Chunk]) -> Vec<&str> {
    let mut seen = std::collections::HashSet::new();
    let mut duplicates = Vec::new();
    for chunk in chunks {
        if !seen.insert(chunk.id.as_str()) && !duplicates.contains(&chunk.id.as_str()) {
            duplicates.push(chunk.id.as_str());
        }
    }
    duplicates
}

/// A stable id for a text: the same text stored twice replaces itself.
fn text_id(text: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("mem-{hex}")
}

fn memory_chunk(id: String, text: String, metadata: BTreeMap<String, Value>) -> Chunk {
    Chunk {
        id,
        text,
        source: None,
        position: Position::default(),
        metadata,
        content_hash: None,
    }
}

/// The passages as text for the agent: numbered, with their source and position.
fn passages_text(result: &SearchResult) -> String {
    let mut out = String::new();
    if let Some(note) = &result.note {
        out.push_str(&format!("Note: {note}\n\n"));
    }
    if result.passages.is_empty() {
        out.push_str(&format!(
            "Nothing relevant was found in `{}` for: {}",
            result.collection, result.query
        ));
        return out;
    }
    for passage in &result.passages {
        let mut cite = vec![format!("relevance {:.2}", passage.relevance)];
        if let Some(source) = &passage.source {
            cite.push(format!("source {source}"));
        }
        if let Some(page) = passage.position.page {
            cite.push(format!("page {page}"));
        }
        if let Some(heading) = &passage.position.heading {
            cite.push(format!("section \"{heading}\""));
        }
        if let (Some(start), Some(end)) = (passage.position.line_start, passage.position.line_end) {
            cite.push(format!("lines {start}-{end}"));
        }
        cite.push(format!("chunk {}", passage.chunk_id));
        out.push_str(&format!(
            "[{}] ({})\n{}\n\n",
            passage.rank,
            cite.join(", "),
            passage.text.trim()
        ));
    }
    out.trim_end().to_owned()
}

/// A tool result whose text is `text` and whose structured content is `value`.
fn result_with_text<T: Serialize>(value: &T, text: String) -> Result<CallToolResult, ToolError> {
    let structured = serde_json::to_value(value)
        .map_err(|e| ToolError::Other(format!("could not encode the result: {e}")))?;
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = Some(structured);
    Ok(result)
}

impl Rag {
    /// A server over the given parts.
    pub fn new(service: RagService) -> Self {
        Rag {
            service: Arc::new(service),
            tools: Arc::new(Self::tool_router()),
        }
    }
}

#[tool_router]
impl Rag {
    #[tool(
        description = "Remember a piece of information for later: it is stored in the default collection and found again by recuperar_contexto, by meaning as well as by words. Storing the same text again changes nothing.",
        annotations(
            title = "Remember information",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn memorizar_informacion(
        &self,
        Parameters(args): Parameters<MemorizarArgs>,
    ) -> Result<Json<Stored>, ToolError> {
        if args.texto.trim().is_empty() {
            return Err(ToolError::invalid("texto", "some text to remember"));
        }
        let service = &self.service;
        let collection = service.config.default_collection.clone();
        let chunk = memory_chunk(text_id(&args.texto), args.texto, BTreeMap::new());
        service
            .store_chunks(&collection, vec![chunk])
            .await
            .map(Json)
            .map_err(ToolError::from)
    }

    #[tool(
        description = "Recall what was remembered that is relevant to a question: the best passages, as text with their sources, and in structured form with relevance (0 to 1), source and chunk id; says so when nothing relevant was remembered.",
        output_schema = schema_for_output::<SearchResult>(),
        annotations(title = "Recall context", read_only_hint = true, open_world_hint = false)
    )]
    async fn recuperar_contexto(
        &self,
        Parameters(args): Parameters<RecuperarArgs>,
    ) -> Result<CallToolResult, ToolError> {
        if args.pregunta.trim().is_empty() {
            return Err(ToolError::invalid("pregunta", "a question"));
        }
        let service = &self.service;
        let result = service
            .search(
                service.config.default_collection.clone(),
                args.pregunta,
                service.config.default_k,
                None,
                SearchMode::Hybrid,
                None,
            )
            .await?;
        let text = passages_text(&result);
        result_with_text(&result, text)
    }

    #[tool(
        description = "Store texts or documents (with metadata) in a collection; the same id replaces the earlier one. Texts are embedded for search by meaning when a model is available.",
        annotations(
            title = "Store texts",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn store(
        &self,
        Parameters(args): Parameters<StoreArgs>,
    ) -> Result<Json<Stored>, ToolError> {
        let service = &self.service;
        let collection = service.collection_name(args.collection)?;
        let shared = to_metadata(args.metadata);
        let mut chunks = Vec::new();
        let texts = args.texts.unwrap_or_default();
        if texts.len() > 1 && args.id.is_some() {
            return Err(ToolError::invalid(
                "id",
                "one id for one text; give documents with their own ids to store several",
            ));
        }
        for text in texts {
            let id = args.id.clone().unwrap_or_else(|| text_id(&text));
            chunks.push(memory_chunk(id, text, shared.clone()));
        }
        let documents = args.documents.unwrap_or_default();
        let field = if documents.is_empty() {
            "texts"
        } else {
            "documents"
        };
        for document in documents {
            let mut metadata = shared.clone();
            metadata.extend(to_metadata(document.metadata));
            let id = document.id.unwrap_or_else(|| text_id(&document.text));
            chunks.push(memory_chunk(id, document.text, metadata));
        }
        if chunks.is_empty() {
            return Err(ToolError::invalid(
                "texts",
                "at least one text, or documents",
            ));
        }
        if let Some(empty) = chunks.iter().position(|c| c.text.trim().is_empty()) {
            return Err(ToolError::invalid(
                format!("texts[{empty}]"),
                "non-empty text",
            ));
        }
        // The store keeps one chunk per id, so a second one in the same call would silently
        // replace the first: refuse the call, storing nothing.
        let duplicates = duplicate_ids(&chunks);
        if !duplicates.is_empty() {
            let named = duplicates
                .iter()
                .map(|id| format!("`{id}`"))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(ToolError::invalid(
                field,
                format!(
                    "a different id for each text or document, but {named} is given more than once (identical texts without an id get the same id); nothing was stored"
                ),
            ));
        }
        Ok(Json(service.store_chunks(&collection, chunks).await?))
    }

    #[tool(
        description = "Search a collection: hybrid by default (BM25 and vector rankings fused), or dense or lexical, with metadata filters. Each passage comes with its relevance from 0 to 1 and its source and position for citation; passages less relevant than score_threshold (default RAG_MIN_RELEVANCE) are left out, and when none is left the answer says nothing relevant was found.",
        output_schema = schema_for_output::<SearchResult>(),
        annotations(title = "Search", read_only_hint = true, open_world_hint = false)
    )]
    async fn search(
        &self,
        Parameters(args): Parameters<SearchArgs>,
    ) -> Result<CallToolResult, ToolError> {
        // Like recuperar_contexto's empty pregunta: an empty query matches nothing by words and
        // an arbitrary point by meaning, so it is refused rather than answered with noise.
        if args.query.trim().is_empty() {
            return Err(ToolError::invalid("query", "some text to search for"));
        }
        if let Some(threshold) = args.score_threshold
            && !(0.0..=1.0).contains(&threshold)
        {
            return Err(ToolError::invalid(
                "score_threshold",
                "a minimum relevance from 0 to 1",
            ));
        }
        let service = &self.service;
        let collection = service.collection_name(args.collection)?;
        let k = args
            .k
            .map(|k| k as usize)
            .unwrap_or(service.config.default_k);
        if !(1..=MAX_K).contains(&k) {
            return Err(ToolError::invalid("k", "a whole number from 1 to 50"));
        }
        let result = service
            .search(
                collection,
                args.query,
                k,
                to_filter(args.filter),
                args.mode.unwrap_or_default(),
                args.score_threshold,
            )
            .await?;
        let text = passages_text(&result);
        result_with_text(&result, text)
    }

    #[tool(
        description = "Read one chunk by id, with the chunks around it from the same source for context.",
        annotations(title = "Read a chunk", read_only_hint = true, open_world_hint = false)
    )]
    async fn read_chunk(
        &self,
        Parameters(args): Parameters<ReadChunkArgs>,
    ) -> Result<Json<ChunkContext>, ToolError> {
        let service = &self.service;
        let collection = service.collection_name(args.collection)?;
        let neighbours = args.neighbours.unwrap_or(1).min(5);
        let chunk = service
            .store
            .get(&collection, &args.id)
            .await?
            .ok_or_else(|| {
                ToolError::not_found(
                    format!("chunk `{}` in `{collection}`", args.id),
                    "search first to get chunk ids",
                )
            })?;
        let context = match &chunk.source {
            Some(source) => {
                let index = chunk.position.index;
                let range = index.saturating_sub(neighbours)..=index.saturating_add(neighbours);
                service
                    .store
                    .chunks_of_source(&collection, source, range)
                    .await?
            }
            None => vec![chunk.clone()],
        };
        Ok(Json(ChunkContext { chunk, context }))
    }

    #[tool(
        description = "Delete chunks from a collection: by ids, by source (every chunk of a file), or by metadata filter. Cannot be undone.",
        annotations(
            title = "Delete chunks",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn delete(
        &self,
        Parameters(args): Parameters<DeleteArgs>,
    ) -> Result<Json<Deleted>, ToolError> {
        let service = &self.service;
        let collection = service.collection_name(args.collection)?;
        let selector = match (args.ids, args.source, to_filter(args.filter)) {
            (Some(ids), None, None) if !ids.is_empty() => Selector::Ids(ids),
            (None, Some(source), None) => Selector::Source(source),
            (None, None, Some(filter)) => Selector::Filter(filter),
            _ => {
                return Err(ToolError::invalid(
                    "ids",
                    "exactly one of ids, source or filter",
                ));
            }
        };
        let deleted = service.store.delete(&collection, selector).await?;
        Ok(Json(Deleted {
            collection,
            deleted,
        }))
    }

    #[tool(
        description = "List the collections with their embedder and chunk and source counts.",
        annotations(
            title = "List collections",
            read_only_hint = true,
            open_world_hint = false
        )
    )]
    async fn list_collections(&self) -> Result<Json<Collections>, ToolError> {
        let service = &self.service;
        let collections = service.store.list_collections().await?;
        Ok(Json(Collections {
            collections,
            store: service.store_label.clone(),
            embedder: service.embedder_note(),
        }))
    }

    #[tool(
        description = "Statistics of a collection: chunks, sources with their chunk counts, its embedder, and whether this server can search it by meaning.",
        annotations(
            title = "Collection statistics",
            read_only_hint = true,
            open_world_hint = false
        )
    )]
    async fn collection_stats(
        &self,
        Parameters(args): Parameters<StatsArgs>,
    ) -> Result<Json<CollectionStats>, ToolError> {
        let service = &self.service;
        let name = service.collection_name(args.collection)?;
        let collection = match service.store.collection(&name).await {
            Ok(info) => info,
            // The default collection exists from the first write on; before that it is empty.
            Err(StoreError::NoCollection(_)) if name == service.config.default_collection => {
                let embedder = service.embedder().map(|e| e.id().clone());
                let collection = CollectionInfo {
                    name,
                    embedder,
                    chunks: 0,
                    sources: 0,
                };
                let note = Some("nothing has been stored yet".to_owned());
                return Ok(Json(CollectionStats {
                    collection,
                    sources: Vec::new(),
                    compatible: true,
                    note,
                }));
            }
            Err(error) => return Err(ToolError::from(error)),
        };
        let mut sources = service.store.sources(&name).await?;
        sources.truncate(200);
        let (compatible, note) = match service.fit(&collection) {
            Fit::Vectors => (true, None),
            Fit::LexicalOnly => (
                true,
                Some(format!("lexical-only: {}", service.embedder_note())),
            ),
            Fit::ReadLexical(reason) | Fit::Upgrading(reason) => (false, Some(reason)),
        };
        Ok(Json(CollectionStats {
            collection,
            sources,
            compatible,
            note,
        }))
    }

    #[tool(
        description = "Create an empty collection for this server's embedder.",
        annotations(
            title = "Create a collection",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn create_collection(
        &self,
        Parameters(args): Parameters<CollectionArgs>,
    ) -> Result<Json<CollectionChanged>, ToolError> {
        let service = &self.service;
        let name = service.collection_name(Some(args.name))?;
        let embedder = service.embedder().map(|e| e.id().clone());
        service
            .store
            .create_collection(&name, embedder.as_ref())
            .await?;
        Ok(Json(CollectionChanged {
            name,
            embedder,
            changed: true,
        }))
    }

    #[tool(
        description = "Drop a collection and everything in it. Cannot be undone.",
        annotations(
            title = "Drop a collection",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn drop_collection(
        &self,
        Parameters(args): Parameters<CollectionArgs>,
    ) -> Result<Json<CollectionChanged>, ToolError> {
        let service = &self.service;
        let name = service.collection_name(Some(args.name))?;
        let changed = service.store.drop_collection(&name).await?;
        Ok(Json(CollectionChanged {
            name,
            embedder: None,
            changed,
        }))
    }

    #[tool(
        description = "Ingest files and folders (txt, md, html, pdf, docx) inside the configured roots into a collection: chunked along headings and paragraphs with overlap, each chunk keeping its file and position for citations. Unchanged files are skipped; progress is reported while it works; unreadable files are listed by name while the rest goes in.",
        annotations(
            title = "Ingest files",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn ingest(
        &self,
        Parameters(args): Parameters<IngestArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<IngestSummary>, ToolError> {
        ingesting::run(&self.service, args.paths, args.collection, context)
            .await
            .map(Json)
    }
}

const COLLECTIONS_URI: &str = "rag://collections";

#[tool_handler(router = self.tools)]
impl ServerHandler for Rag {
    fn get_info(&self) -> ServerConfig {
        let service = &self.service;
        let instructions = format!(
            "Memory and retrieval. memorizar_informacion remembers a text and recuperar_contexto recalls passages relevant to a question (both on the `{}` collection); store, ingest, search (hybrid BM25 + vectors by default), read_chunk and delete work on any collection. Embeddings: {}. Store: {}.",
            service.config.default_collection,
            service.embedder_note(),
            service.store_label
        );
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_instructions(instructions)
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let collections = self
            .service
            .store
            .list_collections()
            .await
            .map_err(|e| McpError::internal_error(e.to_string(), None))?;
        let mut resources =
            vec![Resource::new(COLLECTIONS_URI, "collections").with_mime_type("application/json")];
        resources.extend(collections.iter().map(|c| {
            Resource::new(format!("{COLLECTIONS_URI}/{}", c.name), c.name.clone())
                .with_mime_type("application/json")
        }));
        Ok(ListResourcesResult::with_all_items(resources))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            ResourceTemplate::new(format!("{COLLECTIONS_URI}/{{name}}"), "collection")
                .with_mime_type("application/json"),
            ResourceTemplate::new(
                format!("{COLLECTIONS_URI}/{{name}}/sources/{{source}}"),
                "document",
            )
            .with_mime_type("text/plain"),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let uri = request.uri.clone();
        let not_found = |what: String| resource_not_found(&uri, what);
        let service = &self.service;
        let text = if uri == COLLECTIONS_URI {
            let collections = service
                .store
                .list_collections()
                .await
                .map_err(|e| McpError::internal_error(e.to_string(), None))?;
            pretty(&collections)
        } else if let Some(rest) = uri.strip_prefix(&format!("{COLLECTIONS_URI}/")) {
            match rest.split_once("/sources/") {
                None => {
                    let stats = self
                        .collection_stats(Parameters(StatsArgs {
                            collection: Some(rest.to_owned()),
                        }))
                        .await
                        .map_err(|e| not_found(e.message()))?
                        .0;
                    pretty(&stats)
                }
                Some((collection, encoded)) => {
                    let source = percent_decode(encoded);
                    let chunks = service
                        .store
                        .chunks_of_source(collection, &source, 0..=u32::MAX)
                        .await
                        .map_err(|e| not_found(e.to_string()))?;
                    if chunks.is_empty() {
                        return Err(not_found(format!(
                            "no source {source:?} in collection `{collection}`"
                        )));
                    }
                    chunks
                        .iter()
                        .map(|c| c.text.as_str())
                        .collect::<Vec<_>>()
                        .join("\n\n")
                }
            }
        } else {
            return Err(not_found(format!(
                "unknown resource {uri}; use {COLLECTIONS_URI}, {COLLECTIONS_URI}/{{name}} or {COLLECTIONS_URI}/{{name}}/sources/{{source}}"
            )));
        };
        let mime = if uri.contains("/sources/") {
            "text/plain"
        } else {
            "application/json"
        };
        Ok(ReadResourceResult::new(vec![
            ResourceContents::text(text, &uri).with_mime_type(mime),
        ])
        .into())
    }
}

/// A resource payload as pretty JSON.
fn pretty(value: &impl Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// Decodes `%XX` escapes in a resource URI segment.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut idx = 0;
    while idx < bytes.len() {
        if bytes[idx] == b'%'
            && let Some(hex) = text.get(idx + 1..idx + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            idx += 3;
        } else {
            out.push(bytes[idx]);
            idx += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// How long one `ingest` call may run. Reading and embedding a folder can take minutes; the call
/// reports progress between files, which keeps hosts waiting, so it is exempt from the shorter
/// deadline (`MCP_TOOL_TIMEOUT_SECS`) that every other tool answers within.
const INGEST_TIME_LIMIT: Duration = Duration::from_secs(15 * 60);

impl Rag {
    /// The collection `create_collection` would add and what would build its vectors.
    async fn preview_create_collection(self, args: CollectionArgs) -> Option<String> {
        let vectors = match self.service.embedder() {
            Some(embedder) => {
                let id = embedder.id();
                format!(
                    "vectors of {} {} ({} dimensions)",
                    id.provider, id.model, id.dimension
                )
            }
            None => "lexical-only (no embedding model yet)".to_owned(),
        };
        Some(format!(
            "create the empty collection `{}`, {vectors}",
            args.name
        ))
    }

    /// How much `drop_collection` would remove.
    async fn preview_drop_collection(self, args: CollectionArgs) -> Option<String> {
        Some(match self.service.store.collection(&args.name).await {
            Ok(info) => format!(
                "drop the collection `{}` with its {} chunks from {} sources",
                info.name, info.chunks, info.sources
            ),
            Err(_) => format!("drop the collection `{}` (it may not exist)", args.name),
        })
    }

    /// Which chunks `delete` would remove.
    async fn preview_delete(self, args: DeleteArgs) -> Option<String> {
        let collection = args
            .collection
            .clone()
            .unwrap_or_else(|| self.service.config.default_collection.clone());
        let what = match (&args.ids, &args.source, &args.filter) {
            (Some(ids), None, None) => format!("the {} chunk(s) {}", ids.len(), ids.join(", ")),
            (None, Some(source), None) => format!("every chunk of the source {source}"),
            (None, None, Some(filter)) => {
                let conditions: Vec<String> = filter.iter().map(condition_text).collect();
                format!("every chunk where {}", conditions.join(" and "))
            }
            _ => return None,
        };
        Some(format!(
            "delete {what} from the collection `{collection}`; this cannot be undone"
        ))
    }
}

/// `lang in ["es", "en"]`, `year >= 2020`.
fn condition_text(condition: &ConditionArg) -> String {
    let mut parts = Vec::new();
    if !condition.any_of.is_empty() {
        let values = serde_json::to_string(&condition.any_of).unwrap_or_default();
        parts.push(format!("{} in {values}", condition.key));
    }
    if let Some(gte) = condition.gte {
        parts.push(format!("{} >= {gte}", condition.key));
    }
    if let Some(lte) = condition.lte {
        parts.push(format!("{} <= {lte}", condition.key));
    }
    parts.join(" and ")
}

impl Domain for Rag {
    fn tools(&self) -> Vec<Tool> {
        self.tools.list_all()
    }

    fn previews(&self) -> Previews<Self> {
        Previews::new()
            .on("create_collection", Self::preview_create_collection)
            .on("drop_collection", Self::preview_drop_collection)
            .on("delete", Self::preview_delete)
    }

    fn tool_timeout(&self, tool: &str) -> Option<Duration> {
        (tool == "ingest").then_some(INGEST_TIME_LIMIT)
    }

    fn probes(&self) -> Vec<Probe> {
        let store_service = self.service.clone();
        let embedding = Arc::clone(&self.service.embedding);
        let ingest_status = self.service.ingest.status();
        vec![
            Probe::new("store", move || {
                let service = store_service.clone();
                async move {
                    match service.store.list_collections().await {
                        Ok(collections) => Ok(format!(
                            "{}: {} collections",
                            service.store_label,
                            collections.len()
                        )),
                        Err(error) => Err(error.to_string()),
                    }
                }
            }),
            // Lexical-only still serves: the probe passes, and its detail says so (while the
            // model downloads: the bytes so far, or the failure and when it is retried). Read at
            // each check, since the model can arrive while the server runs.
            Probe::new("embeddings", move || {
                let current = embedding.current();
                let detail = match current.embedder {
                    None => format!("lexical-only: {}", current.note),
                    Some(_) => current.note,
                };
                async move { Ok(detail) }
            }),
            // Likewise a disabled ingest root: every other tool serves, the detail says which
            // root and what to fix.
            Probe::new("ingest", move || {
                let detail = ingest_status.clone();
                async move { Ok(detail) }
            }),
        ]
    }
}
