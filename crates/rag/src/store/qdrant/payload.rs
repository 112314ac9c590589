//! What mcp-rag keeps in Qdrant besides vectors: each point's payload (the chunk), its id, and the collection's
//! metadata (the embedder and the BM25 parameters).

use std::collections::{BTreeMap, HashMap};

use qdrant_client::qdrant::{PointId, Value as QdrantValue};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::sparse::Bm25Params;
use crate::model::{Chunk, EmbedderId, Position};

/// The namespace of point ids (UUID v5): a fixed random UUID, so ids never collide with another application's v5
/// ids and stay the same across releases.
const POINT_NAMESPACE: Uuid = Uuid::from_u128(0x6f0c_2a5e_8d1b_4c47_9a3e_51b7_c2d4_e809);

/// The key of mcp-rag's entry in a collection's metadata.
pub(crate) const METADATA_KEY: &str = "mcp_rag";

/// The version of the layout below; a collection written in a later layout is refused rather than misread.
const LAYOUT_VERSION: u32 = 1;

/// The point id of chunk `chunk_id` in `collection`: UUID v5 of `collection/chunk_id` (collection names cannot
/// contain `/`, so the pair is unambiguous). Qdrant ids are integers or UUIDs, and chunk ids are free text.
pub(crate) fn point_uuid(collection: &str, chunk_id: &str) -> Uuid {
    Uuid::new_v5(
        &POINT_NAMESPACE,
        format!("{collection}/{chunk_id}").as_bytes(),
    )
}

/// The wire form of [`point_uuid`].
pub(crate) fn point_id(collection: &str, chunk_id: &str) -> PointId {
    PointId::from(point_uuid(collection, chunk_id).to_string())
}

/// A chunk as stored in a point's payload. `chunk_id` is kept because the point id is a one-way hash of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct StoredChunk {
    chunk_id: String,
    text: String,
    source: Option<String>,
    position: Position,
    #[serde(default)]
    metadata: BTreeMap<String, Value>,
    content_hash: Option<String>,
}

/// The payload of `chunk`.
pub(crate) fn chunk_payload(chunk: &Chunk) -> HashMap<String, QdrantValue> {
    let stored = StoredChunk {
        chunk_id: chunk.id.clone(),
        text: chunk.text.clone(),
        source: chunk.source.clone(),
        position: chunk.position.clone(),
        metadata: chunk.metadata.clone(),
        content_hash: chunk.content_hash.clone(),
    };
    match QdrantValue::from(serde_json::to_value(stored).unwrap_or(Value::Null)).kind {
        Some(qdrant_client::qdrant::value::Kind::StructValue(object)) => object.fields,
        // A struct of strings, options and maps always serializes to an object.
        _ => HashMap::new(),
    }
}

/// The chunk in a payload, or why it is not one of mcp-rag's.
pub(crate) fn chunk_from_payload(payload: HashMap<String, QdrantValue>) -> Result<Chunk, String> {
    let object: serde_json::Map<String, Value> = payload
        .into_iter()
        .map(|(key, value)| (key, value.into_json()))
        .collect();
    let stored: StoredChunk =
        serde_json::from_value(Value::Object(object)).map_err(|err| err.to_string())?;
    Ok(Chunk {
        id: stored.chunk_id,
        text: stored.text,
        source: stored.source,
        position: stored.position,
        metadata: stored.metadata,
        content_hash: stored.content_hash,
    })
}

/// mcp-rag's entry in a collection's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CollectionMeta {
    /// The layout version.
    pub layout: u32,
    /// The embedder of the `dense` vectors; `None` for a lexical-only collection.
    pub embedder: Option<EmbedderId>,
    /// How the `bm25` vectors were encoded.
    pub bm25: Bm25Params,
}

impl CollectionMeta {
    /// The entry for a new collection.
    pub(crate) fn new(embedder: Option<EmbedderId>) -> CollectionMeta {
        CollectionMeta {
            layout: LAYOUT_VERSION,
            embedder,
            bm25: Bm25Params::default(),
        }
    }

    /// The collection metadata to create the collection with.
    pub(crate) fn to_metadata(&self) -> HashMap<String, QdrantValue> {
        let value = serde_json::to_value(self).unwrap_or(Value::Null);
        HashMap::from([(METADATA_KEY.to_owned(), QdrantValue::from(value))])
    }

    /// Reads the entry from a collection's metadata: `Ok(None)` when there is none (not an mcp-rag collection),
    /// `Err` when it is unreadable or from a later layout.
    pub(crate) fn from_metadata(
        metadata: &HashMap<String, QdrantValue>,
    ) -> Result<Option<CollectionMeta>, String> {
        let Some(entry) = metadata.get(METADATA_KEY) else {
            return Ok(None);
        };
        let meta: CollectionMeta =
            serde_json::from_value(entry.clone().into_json()).map_err(|err| err.to_string())?;
        if meta.layout > LAYOUT_VERSION {
            return Err(format!(
                "it was written by a newer mcp-rag (layout {}; this one reads up to {LAYOUT_VERSION})",
                meta.layout
            ));
        }
        Ok(Some(meta))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn point_ids_are_uuid_v5_of_collection_and_chunk() {
        let id = point_uuid("notes", "chunk-1");
        assert_eq!(id.get_version_num(), 5);
        assert_eq!(id, point_uuid("notes", "chunk-1"));
        assert_ne!(id, point_uuid("notes", "chunk-2"));
        assert_ne!(id, point_uuid("other", "chunk-1"));
        assert_eq!(id, Uuid::new_v5(&POINT_NAMESPACE, b"notes/chunk-1"));
        // Pinned: a change would orphan every stored point.
        assert_eq!(
            point_id("notes", "chunk-1"),
            PointId::from(point_uuid("notes", "chunk-1").to_string())
        );
    }

    #[test]
    fn chunks_round_trip_through_payloads() {
        let chunk = Chunk {
            id: "guide#3".to_owned(),
            text: "Intro text".to_owned(),
            source: Some("guide.md".to_owned()),
            position: Position {
                page: Some(2),
                heading: Some("Intro".to_owned()),
                line_start: Some(10),
                line_end: Some(14),
                index: 3,
            },
            metadata: serde_json::from_value(json!({
                "lang": "en", "year": 2024, "score": 0.5, "draft": false, "tags": ["a", "b"]
            }))
            .unwrap(),
            content_hash: Some("abc".to_owned()),
        };
        let payload = chunk_payload(&chunk);
        for key in [
            "chunk_id",
            "text",
            "source",
            "position",
            "metadata",
            "content_hash",
        ] {
            assert!(payload.contains_key(key), "{key}");
        }
        assert_eq!(chunk_from_payload(payload).unwrap(), chunk);
        let memory = Chunk {
            source: None,
            content_hash: None,
            metadata: BTreeMap::new(),
            position: Position::default(),
            ..chunk
        };
        assert_eq!(chunk_from_payload(chunk_payload(&memory)).unwrap(), memory);
        assert!(chunk_from_payload(HashMap::new()).is_err());
    }

    #[test]
    fn collection_metadata_round_trips_and_refuses_later_layouts() {
        let meta = CollectionMeta::new(Some(EmbedderId {
            provider: "local".to_owned(),
            model: "all-MiniLM-L6-v2".to_owned(),
            dimension: 384,
        }));
        let stored = meta.to_metadata();
        assert_eq!(
            CollectionMeta::from_metadata(&stored),
            Ok(Some(meta.clone()))
        );
        assert_eq!(CollectionMeta::from_metadata(&HashMap::new()), Ok(None));
        let later = CollectionMeta {
            layout: LAYOUT_VERSION + 1,
            ..meta
        };
        assert!(CollectionMeta::from_metadata(&later.to_metadata()).is_err());
        let garbage = HashMap::from([(METADATA_KEY.to_owned(), QdrantValue::from("x"))]);
        assert!(CollectionMeta::from_metadata(&garbage).is_err());
    }
}
