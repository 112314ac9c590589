//! Turning a lexical-only collection into one with vectors, in place: a first start without a
//! model must never leave memories that can only be kept by deleting them.
//!
//! The caller embeds outside any transaction (that takes seconds to minutes); this module then
//! checks, in one write transaction, that every chunk has a vector of its current text, and only
//! then creates the vec0 table, fills it and records the embedder. Chunks written meanwhile are
//! answered back to be embedded in another round, so nothing is ever left without a vector.

use rusqlite::{Connection, params};

use super::derived::Change;
use super::error::Context;
use super::ops::{self, CHUNK_COLUMNS, check_vector, vector_blob};
use super::schema;
use crate::model::{Chunk, EmbedderId};
use crate::store::{Embedded, StoreError};

/// See [`crate::store::Store::add_vectors`]; with the change to give the HNSW index when the
/// vectors were stored.
pub(super) fn add_vectors(
    connection: &Connection,
    name: &str,
    embedder: &EmbedderId,
    vectors: &Embedded,
) -> Result<(Vec<Chunk>, Option<Change>), StoreError> {
    let collection = ops::collection_row(connection, name)?;
    match &collection.embedder {
        None => {}
        // Another process (or an earlier round) finished it.
        Some(built) if built == embedder => return Ok((Vec::new(), None)),
        Some(built) => {
            return Err(StoreError::EmbedderMismatch {
                collection: name.to_owned(),
                built_with: shown(built),
                current: shown(embedder),
            });
        }
    }
    if embedder.dimension == 0 || embedder.dimension > schema::MAX_DIMENSION {
        return Err(StoreError::Invalid(format!(
            "cannot add {}-dimensional vectors to collection `{name}`: the embedded store takes 1 \
             to {} dimensions",
            embedder.dimension,
            schema::MAX_DIMENSION
        )));
    }
    let failed = || format!("could not add vectors to collection `{name}`");
    let chunks: Vec<(i64, Chunk)> = connection
        .prepare(&format!(
            "SELECT {CHUNK_COLUMNS}, c.pk FROM chunks AS c WHERE c.collection_id = ? ORDER BY c.pk"
        ))
        .and_then(|mut statement| {
            statement
                .query_map([collection.id], |row| {
                    // The pk follows the columns chunk_from_row reads.
                    Ok((row.get(6)?, ops::chunk_from_row(row)?))
                })?
                .collect()
        })
        .context(failed)?;
    let missing: Vec<Chunk> = chunks
        .iter()
        .filter(|(_, chunk)| {
            vectors
                .get(&chunk.id)
                .is_none_or(|(text, _)| *text != chunk.text)
        })
        .map(|(_, chunk)| chunk.clone())
        .collect();
    if !missing.is_empty() {
        return Ok((missing, None));
    }
    for (_, chunk) in &chunks {
        if let Some((_, vector)) = vectors.get(&chunk.id) {
            check_vector(name, embedder.dimension, vector).map_err(|problem| {
                StoreError::Invalid(format!("the vector of chunk `{}` {problem}", chunk.id))
            })?;
        }
    }
    // A lexical-only collection has no vec0 table; one left by an interrupted attempt of an
    // older program would hold nothing this collection needs.
    connection
        .execute_batch(&format!(
            "DROP TABLE IF EXISTS {}; {}",
            schema::vec_table(collection.id),
            schema::vec_table_sql(collection.id, embedder.dimension)
        ))
        .context(failed)?;
    let mut insert = connection
        .prepare(&format!(
            "INSERT INTO {} (rowid, embedding) VALUES (?, ?)",
            schema::vec_table(collection.id)
        ))
        .context(failed)?;
    for (pk, chunk) in &chunks {
        if let Some((_, vector)) = vectors.get(&chunk.id) {
            insert
                .execute(params![pk, vector_blob(vector)])
                .context(failed)?;
        }
    }
    connection
        .execute(
            "UPDATE collections SET provider = ?, model = ?, dimension = ? WHERE id = ?",
            params![
                embedder.provider,
                embedder.model,
                embedder.dimension as i64,
                collection.id
            ],
        )
        .context(failed)?;
    // The index is built from SQLite once the collection is large enough; the vectors are not
    // needed here.
    let change = Change {
        collection_id: collection.id,
        generations: ops::bump_generation(connection, collection.id)?,
        ..Change::default()
    };
    Ok((Vec::new(), Some(change)))
}

/// "provider/model (N dimensions)", as [`StoreError::EmbedderMismatch`] shows embedders.
fn shown(embedder: &EmbedderId) -> String {
    format!(
        "{}/{} ({} dimensions)",
        embedder.provider, embedder.model, embedder.dimension
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use super::super::SqliteStore;
    use crate::model::{Chunk, EmbedderId, Position, SearchMode, SearchRequest, Selector};
    use crate::store::{Embedded, Store, StoreError};

    fn memory(id: &str, text: &str) -> Chunk {
        Chunk {
            id: id.to_owned(),
            text: text.to_owned(),
            source: None,
            position: Position::default(),
            metadata: BTreeMap::new(),
            content_hash: None,
        }
    }

    /// A direction per chunk id, so dense search can be checked.
    fn vector(id: &str) -> Vec<f32> {
        match id {
            "a" => vec![1.0, 0.0, 0.0],
            "b" => vec![0.0, 1.0, 0.0],
            _ => vec![0.0, 0.0, 1.0],
        }
    }

    fn with(vectors: &mut Embedded, chunks: &[Chunk]) {
        for chunk in chunks {
            vectors.insert(chunk.id.clone(), (chunk.text.clone(), vector(&chunk.id)));
        }
    }

    /// A lexical-only collection gains vectors in place: chunks written or rewritten between
    /// the reading and the final call are answered back instead of being left without a
    /// vector, nothing changes until every chunk has one, and every chunk is kept.
    #[tokio::test]
    async fn a_lexical_only_collection_gains_vectors_without_losing_a_chunk() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("rag.db")).await.unwrap();
        assert!(store.adds_vectors_in_place());
        let id = EmbedderId {
            provider: "test".into(),
            model: "three".into(),
            dimension: 3,
        };
        store.create_collection("memory", None).await.unwrap();
        let first = vec![memory("a", "alpha"), memory("b", "bravo")];
        store
            .upsert("memory", first.clone(), Vec::new())
            .await
            .unwrap();
        // A deletion leaves a free slot that must not catch a stray vector.
        store
            .upsert("memory", vec![memory("gone", "gone")], Vec::new())
            .await
            .unwrap();
        store
            .delete("memory", Selector::Ids(vec!["gone".into()]))
            .await
            .unwrap();

        let missing = store
            .add_vectors("memory", &id, Arc::new(Embedded::new()))
            .await
            .unwrap();
        assert_eq!(missing, first, "the first call lists everything");
        let mut vectors = Embedded::new();
        with(&mut vectors, &missing);
        // Meanwhile one chunk is rewritten and one added, lexically.
        let later = vec![memory("b", "bravo, rewritten"), memory("c", "charlie")];
        store
            .upsert("memory", later.clone(), Vec::new())
            .await
            .unwrap();
        let missing = store
            .add_vectors("memory", &id, Arc::new(vectors.clone()))
            .await
            .unwrap();
        assert_eq!(missing, later, "only what changed is asked for");
        assert_eq!(
            store.collection("memory").await.unwrap().embedder,
            None,
            "nothing changes until every chunk has a vector"
        );
        with(&mut vectors, &missing);
        let done = store
            .add_vectors("memory", &id, Arc::new(vectors))
            .await
            .unwrap();
        assert!(done.is_empty());
        let info = store.collection("memory").await.unwrap();
        assert_eq!(info.embedder.as_ref(), Some(&id));
        assert_eq!(info.chunks, 3);
        let hits = store
            .search(
                "memory",
                SearchRequest {
                    text: String::new(),
                    vector: Some(vector("c")),
                    k: 1,
                    filter: None,
                    mode: SearchMode::Dense,
                    score_threshold: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(hits[0].chunk.text, "charlie");
        // Upgraded: writes need vectors now, and calling again is harmless.
        store
            .upsert(
                "memory",
                vec![memory("d", "delta")],
                vec![vec![0.5, 0.5, 0.0]],
            )
            .await
            .unwrap();
        let again = store
            .add_vectors("memory", &id, Arc::new(Embedded::new()))
            .await
            .unwrap();
        assert!(again.is_empty());
        let other = EmbedderId {
            dimension: 4,
            ..id.clone()
        };
        let refused = store
            .add_vectors("memory", &other, Arc::new(Embedded::new()))
            .await
            .unwrap_err();
        assert!(
            matches!(refused, StoreError::EmbedderMismatch { .. }),
            "{refused}"
        );
    }
}
