//! Storage of chunks with their vectors, behind one interface with two backends: the embedded
//! SQLite store (default) and Qdrant.

pub mod qdrant;
pub mod relevance;
pub mod sqlite;
mod stopwords;

#[cfg(test)]
pub(crate) mod behaviour;

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::model::{Chunk, CollectionInfo, EmbedderId, Hit, SearchRequest, Selector, SourceInfo};

/// Why a store operation failed, phrased for a person.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// No such collection.
    #[error("collection `{0}` does not exist; call list_collections or create_collection")]
    NoCollection(String),
    /// The collection exists already.
    #[error("collection `{0}` already exists")]
    CollectionExists(String),
    /// The collection was built by another embedder (or dimension); mixing would give garbage.
    #[error(
        "collection `{collection}` was built with {built_with}, but this server embeds with {current}; re-index it: drop_collection and ingest again, or configure the original embedder"
    )]
    EmbedderMismatch {
        /// The collection.
        collection: String,
        /// Its embedder, as "provider/model (N dimensions)".
        built_with: String,
        /// The server's embedder, same format.
        current: String,
    },
    /// The request is unusable (bad filter, bad name, vector of the wrong length).
    #[error("{0}")]
    Invalid(String),
    /// The backend failed; the message names it and the cause.
    #[error("{0}")]
    Backend(String),
}

/// A chunk store. Implementations: `sqlite::SqliteStore` (embedded) and `qdrant::QdrantStore`.
pub trait Store: Send + Sync {
    /// Creates a collection for vectors of `embedder` (`None`: lexical-only).
    fn create_collection<'a>(
        &'a self,
        name: &'a str,
        embedder: Option<&'a EmbedderId>,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Deletes a collection and everything in it; returns whether it existed.
    fn drop_collection<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<bool, StoreError>>;
    /// Every collection.
    fn list_collections(&self) -> BoxFuture<'_, Result<Vec<CollectionInfo>, StoreError>>;
    /// One collection's info.
    fn collection(&self, name: &str) -> BoxFuture<'_, Result<CollectionInfo, StoreError>>;
    /// Inserts or replaces chunks (same id replaces). `vectors` is empty for a lexical-only
    /// collection, else one vector per chunk, of the collection's dimension.
    fn upsert<'a>(
        &'a self,
        collection: &'a str,
        chunks: Vec<Chunk>,
        vectors: Vec<Vec<f32>>,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Deletes the selected chunks; returns how many went.
    fn delete<'a>(
        &'a self,
        collection: &'a str,
        selector: Selector,
    ) -> BoxFuture<'a, Result<u64, StoreError>>;
    /// Ranked search.
    fn search<'a>(
        &'a self,
        collection: &'a str,
        request: SearchRequest,
    ) -> BoxFuture<'a, Result<Vec<Hit>, StoreError>>;
    /// One chunk by id.
    fn get<'a>(
        &'a self,
        collection: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Chunk>, StoreError>>;
    /// The chunks of `source` whose `position.index` lies in `range` (for context around a hit).
    fn chunks_of_source<'a>(
        &'a self,
        collection: &'a str,
        source: &'a str,
        range: std::ops::RangeInclusive<u32>,
    ) -> BoxFuture<'a, Result<Vec<Chunk>, StoreError>>;
    /// Every source of the collection with its content hash.
    fn sources<'a>(
        &'a self,
        collection: &'a str,
    ) -> BoxFuture<'a, Result<Vec<SourceInfo>, StoreError>>;
    /// Whether [`Store::add_vectors`] can turn a lexical-only collection into one with vectors
    /// in place. A store that cannot keeps such collections searchable by BM25 only.
    fn adds_vectors_in_place(&self) -> bool {
        false
    }
    /// Upgrades the lexical-only `collection` to `embedder` without losing a chunk: when every
    /// chunk it holds has a vector in `vectors` computed from its current text, stores them all
    /// and records `embedder` in one transaction, and answers an empty list. Otherwise changes
    /// nothing and answers the chunks still lacking one (all of them on a first call with no
    /// vectors; later, those written or changed meanwhile), to embed and call again with.
    /// A collection already built with `embedder` answers an empty list.
    fn add_vectors<'a>(
        &'a self,
        collection: &'a str,
        embedder: &'a EmbedderId,
        vectors: Arc<Embedded>,
    ) -> BoxFuture<'a, Result<Vec<Chunk>, StoreError>> {
        let _ = (embedder, vectors);
        Box::pin(std::future::ready(Err(StoreError::Invalid(format!(
            "this store cannot add vectors to collection `{collection}`, which was built without them"
        )))))
    }
}

/// Vectors for [`Store::add_vectors`]: chunk id → (the text the vector was computed from, the
/// vector), so that a chunk rewritten since it was read is embedded again, not mislabelled.
pub type Embedded = HashMap<String, (String, Vec<f32>)>;
