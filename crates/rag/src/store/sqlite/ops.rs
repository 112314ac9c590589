//! The store's operations other than search, as synchronous functions on a connection that is
//! already inside a transaction (the caller commits).

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::error::Context;
use super::{filter, schema};
use crate::model::{Chunk, CollectionInfo, EmbedderId, Selector, SourceInfo};
use crate::store::StoreError;

/// A collection's row: what every operation looks up first.
#[derive(Debug, Clone)]
pub(super) struct CollectionRow {
    /// Its id, which names its FTS5 and vec0 tables.
    pub id: i64,
    /// Its embedder; `None` for lexical-only.
    pub embedder: Option<EmbedderId>,
    /// How many writes have changed its chunks or vectors (see `derived`).
    pub generation: i64,
}

/// The columns [`chunk_from_row`] reads, in its order.
pub(super) const CHUNK_COLUMNS: &str =
    "c.id, c.text, c.source, c.position, c.metadata, c.content_hash";

/// Builds a chunk from a row selected with [`CHUNK_COLUMNS`].
pub(super) fn chunk_from_row(row: &Row<'_>) -> rusqlite::Result<Chunk> {
    let position: String = row.get(3)?;
    let metadata: String = row.get(4)?;
    let corrupt = |index, err: serde_json::Error| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(err))
    };
    Ok(Chunk {
        id: row.get(0)?,
        text: row.get(1)?,
        source: row.get(2)?,
        position: serde_json::from_str(&position).map_err(|err| corrupt(3, err))?,
        metadata: serde_json::from_str(&metadata).map_err(|err| corrupt(4, err))?,
        content_hash: row.get(5)?,
    })
}

/// Looks a collection up by name.
pub(super) fn collection_row(
    connection: &Connection,
    name: &str,
) -> Result<CollectionRow, StoreError> {
    connection
        .prepare_cached("SELECT id, provider, model, dimension, vector_generation FROM collections WHERE name = ?")
        .and_then(|mut statement| {
            statement
                .query_row([name], |row| {
                    let provider: Option<String> = row.get(1)?;
                    let model: Option<String> = row.get(2)?;
                    let dimension: Option<i64> = row.get(3)?;
                    let embedder = match (provider, model, dimension) {
                        (Some(provider), Some(model), Some(dimension)) => Some(EmbedderId {
                            provider,
                            model,
                            dimension: usize::try_from(dimension).unwrap_or(0),
                        }),
                        _ => None,
                    };
                    Ok(CollectionRow {
                        id: row.get(0)?,
                        embedder,
                        generation: row.get(4)?,
                    })
                })
                .optional()
        })
        .context(|| format!("could not look up collection `{name}`"))?
        .ok_or_else(|| StoreError::NoCollection(name.to_owned()))
}

/// Creates a collection with its tables.
pub(super) fn create_collection(
    connection: &Connection,
    name: &str,
    embedder: Option<&EmbedderId>,
) -> Result<(), StoreError> {
    if let Some(embedder) = embedder
        && (embedder.dimension == 0 || embedder.dimension > schema::MAX_DIMENSION)
    {
        return Err(StoreError::Invalid(format!(
            "cannot create collection `{name}` for {}-dimensional vectors: the embedded store \
             takes 1 to {} dimensions",
            embedder.dimension,
            schema::MAX_DIMENSION
        )));
    }
    let failed = || format!("could not create collection `{name}`");
    let exists: Option<i64> = connection
        .query_row("SELECT id FROM collections WHERE name = ?", [name], |row| {
            row.get(0)
        })
        .optional()
        .context(failed)?;
    if exists.is_some() {
        return Err(StoreError::CollectionExists(name.to_owned()));
    }
    connection
        .execute(
            "INSERT INTO collections (name, provider, model, dimension, created_at)
             VALUES (?, ?, ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
            params![
                name,
                embedder.map(|e| e.provider.as_str()),
                embedder.map(|e| e.model.as_str()),
                embedder.map(|e| e.dimension as i64),
            ],
        )
        .context(failed)?;
    let id = connection.last_insert_rowid();
    schema::create_collection_tables(connection, id, embedder.map(|e| e.dimension)).context(failed)
}

/// Drops a collection with everything in it; whether it existed.
pub(super) fn drop_collection(connection: &Connection, name: &str) -> Result<bool, StoreError> {
    let collection = match collection_row(connection, name) {
        Ok(collection) => collection,
        Err(StoreError::NoCollection(_)) => return Ok(false),
        Err(err) => return Err(err),
    };
    let failed = || format!("could not drop collection `{name}`");
    schema::drop_collection_tables(connection, collection.id).context(failed)?;
    // Cascades to the chunks.
    connection
        .execute("DELETE FROM collections WHERE id = ?", [collection.id])
        .context(failed)?;
    Ok(true)
}

/// Every collection with its counts, by name.
pub(super) fn list_collections(connection: &Connection) -> Result<Vec<CollectionInfo>, StoreError> {
    let names: Vec<String> = connection
        .prepare_cached("SELECT name FROM collections ORDER BY name")
        .and_then(|mut statement| statement.query_map([], |row| row.get(0))?.collect())
        .context(|| "could not list the collections")?;
    names
        .iter()
        .map(|name| collection_info(connection, name))
        .collect()
}

/// One collection with its counts.
pub(super) fn collection_info(
    connection: &Connection,
    name: &str,
) -> Result<CollectionInfo, StoreError> {
    let collection = collection_row(connection, name)?;
    let (chunks, sources) = connection
        .prepare_cached(
            "SELECT count(*), count(DISTINCT source) FROM chunks WHERE collection_id = ?",
        )
        .and_then(|mut statement| {
            statement.query_row([collection.id], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?))
            })
        })
        .context(|| format!("could not count the chunks of collection `{name}`"))?;
    Ok(CollectionInfo {
        name: name.to_owned(),
        embedder: collection.embedder,
        chunks: count(chunks),
        sources: count(sources),
    })
}

/// Checks an upsert's vectors against the collection before anything is written.
pub(super) fn check_vectors(
    name: &str,
    collection: &CollectionRow,
    chunks: &[Chunk],
    vectors: &[Vec<f32>],
) -> Result<(), StoreError> {
    for chunk in chunks {
        if chunk.id.is_empty() {
            return Err(StoreError::Invalid(
                "a chunk has an empty id; every chunk needs one".to_owned(),
            ));
        }
    }
    let Some(embedder) = &collection.embedder else {
        if vectors.is_empty() {
            return Ok(());
        }
        return Err(StoreError::Invalid(format!(
            "collection `{name}` is lexical-only (created without an embedder), so it stores no \
             vectors; upsert its chunks without vectors"
        )));
    };
    if vectors.len() != chunks.len() {
        return Err(StoreError::Invalid(format!(
            "{} chunks came with {} vectors; collection `{name}` needs one vector per chunk",
            chunks.len(),
            vectors.len()
        )));
    }
    for (chunk, vector) in chunks.iter().zip(vectors) {
        check_vector(name, embedder.dimension, vector).map_err(|problem| {
            StoreError::Invalid(format!("the vector of chunk `{}` {problem}", chunk.id))
        })?;
    }
    Ok(())
}

/// Why a vector cannot be stored in or searched against a collection of `dimension`, if it
/// cannot: the wrong length, a NaN or infinity, or all zeros (no direction, so no cosine).
pub(super) fn check_vector(name: &str, dimension: usize, vector: &[f32]) -> Result<(), String> {
    if vector.len() != dimension {
        return Err(format!(
            "has {} dimensions, but collection `{name}` holds {dimension}-dimensional vectors",
            vector.len()
        ));
    }
    if vector.iter().any(|value| !value.is_finite()) {
        return Err("contains a NaN or infinite value".to_owned());
    }
    if vector.iter().all(|value| *value == 0.0) {
        return Err("is all zeros, which has no direction to compare by cosine".to_owned());
    }
    Ok(())
}

/// A vector as sqlite-vec reads a float32 blob: little-endian, back to back.
pub(super) fn vector_blob(vector: &[f32]) -> Vec<u8> {
    vector
        .iter()
        .flat_map(|value| value.to_le_bytes())
        .collect()
}

/// Inserts or replaces chunks (checked by [`check_vectors`]) with their vectors; the chunks'
/// keys, in order.
pub(super) fn upsert(
    connection: &Connection,
    name: &str,
    collection: &CollectionRow,
    chunks: &[Chunk],
    vectors: &[Vec<f32>],
) -> Result<Vec<i64>, StoreError> {
    let failed = || format!("could not store chunks in collection `{name}`");
    let vec = schema::vec_table(collection.id);
    let mut find = connection
        .prepare_cached("SELECT pk FROM chunks WHERE collection_id = ? AND id = ?")
        .context(failed)?;
    let mut insert = connection
        .prepare_cached(
            "INSERT INTO chunks
                 (collection_id, id, text, source, chunk_index, position, metadata, content_hash)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .context(failed)?;
    let mut update = connection
        .prepare_cached(
            "UPDATE chunks SET text = ?, source = ?, chunk_index = ?, position = ?, metadata = ?,
                 content_hash = ?
             WHERE pk = ?",
        )
        .context(failed)?;
    let mut pks = Vec::with_capacity(chunks.len());
    for (index, chunk) in chunks.iter().enumerate() {
        let position = serde_json::to_string(&chunk.position).context(failed)?;
        let metadata = serde_json::to_string(&chunk.metadata).context(failed)?;
        let existing: Option<i64> = find
            .query_row(params![collection.id, chunk.id], |row| row.get(0))
            .optional()
            .context(failed)?;
        let pk = match existing {
            Some(pk) => {
                update
                    .execute(params![
                        chunk.text,
                        chunk.source,
                        chunk.position.index,
                        position,
                        metadata,
                        chunk.content_hash,
                        pk
                    ])
                    .context(failed)?;
                pk
            }
            None => {
                insert
                    .execute(params![
                        collection.id,
                        chunk.id,
                        chunk.text,
                        chunk.source,
                        chunk.position.index,
                        position,
                        metadata,
                        chunk.content_hash
                    ])
                    .context(failed)?;
                connection.last_insert_rowid()
            }
        };
        if let Some(vector) = vectors.get(index) {
            let blob = vector_blob(vector);
            // Updating in place keeps the row's slot: vec0 does not reuse the slots that
            // deletes free, so delete-and-insert would grow the table on every replacement.
            let updated = match existing {
                Some(_) => connection
                    .prepare_cached(&format!("UPDATE {vec} SET embedding = ? WHERE rowid = ?"))
                    .and_then(|mut statement| statement.execute(params![blob, pk]))
                    .context(failed)?,
                None => 0,
            };
            if updated == 0 {
                connection
                    .prepare_cached(&format!(
                        "INSERT INTO {vec} (rowid, embedding) VALUES (?, ?)"
                    ))
                    .and_then(|mut statement| statement.execute(params![pk, blob]))
                    .context(failed)?;
            }
        }
        pks.push(pk);
    }
    Ok(pks)
}

/// Records in the write's transaction that collection `id`'s chunks or vectors changed; the
/// generations before and after.
pub(super) fn bump_generation(connection: &Connection, id: i64) -> Result<(i64, i64), StoreError> {
    let after: i64 = connection
        .prepare_cached(
            "UPDATE collections SET vector_generation = vector_generation + 1 WHERE id = ?
             RETURNING vector_generation",
        )
        .and_then(|mut statement| statement.query_row([id], |row| row.get(0)))
        .context(|| "could not record the change of vectors")?;
    Ok((after - 1, after))
}

/// Deletes the selected chunks; the keys of those that went.
pub(super) fn delete(
    connection: &Connection,
    name: &str,
    collection: &CollectionRow,
    selector: &Selector,
) -> Result<Vec<i64>, StoreError> {
    let failed = || format!("could not delete chunks from collection `{name}`");
    let pks: Vec<i64> = match selector {
        Selector::Ids(ids) => {
            let mut find = connection
                .prepare_cached("SELECT pk FROM chunks WHERE collection_id = ? AND id = ?")
                .context(failed)?;
            let mut pks = Vec::new();
            for id in ids {
                if let Some(pk) = find
                    .query_row(params![collection.id, id], |row| row.get(0))
                    .optional()
                    .context(failed)?
                {
                    pks.push(pk);
                }
            }
            pks.sort_unstable();
            pks.dedup();
            pks
        }
        Selector::Source(source) => connection
            .prepare_cached("SELECT pk FROM chunks WHERE collection_id = ? AND source = ?")
            .and_then(|mut statement| {
                statement
                    .query_map(params![collection.id, source], |row| row.get(0))?
                    .collect()
            })
            .context(failed)?,
        Selector::Filter(selected) => {
            if selected.must.is_empty() {
                return Err(StoreError::Invalid(format!(
                    "a delete filter without conditions would empty collection `{name}`; give \
                     at least one condition, or use drop_collection"
                )));
            }
            let condition = filter::to_sql(Some(selected), collection.id)?;
            let mut pks: Vec<i64> = filter::matching_pks(connection, &condition).context(failed)?;
            pks.sort_unstable();
            pks.dedup();
            pks
        }
    };
    let mut delete_chunk = connection
        .prepare_cached("DELETE FROM chunks WHERE pk = ?")
        .context(failed)?;
    let mut delete_vector = match collection.embedder {
        Some(_) => Some(
            connection
                .prepare_cached(&format!(
                    "DELETE FROM {} WHERE rowid = ?",
                    schema::vec_table(collection.id)
                ))
                .context(failed)?,
        ),
        None => None,
    };
    for pk in &pks {
        if let Some(statement) = delete_vector.as_mut() {
            statement.execute([pk]).context(failed)?;
        }
        // The FTS trigger removes the text from the index.
        delete_chunk.execute([pk]).context(failed)?;
    }
    Ok(pks)
}

/// One chunk by id.
pub(super) fn get(
    connection: &Connection,
    name: &str,
    id: &str,
) -> Result<Option<Chunk>, StoreError> {
    let collection = collection_row(connection, name)?;
    connection
        .prepare_cached(&format!(
            "SELECT {CHUNK_COLUMNS} FROM chunks AS c WHERE c.collection_id = ? AND c.id = ?"
        ))
        .and_then(|mut statement| {
            statement
                .query_row(params![collection.id, id], chunk_from_row)
                .optional()
        })
        .context(|| format!("could not read chunk `{id}` of collection `{name}`"))
}

/// The chunks of `source` whose index lies in `first..=last`, in order.
pub(super) fn chunks_of_source(
    connection: &Connection,
    name: &str,
    source: &str,
    first: u32,
    last: u32,
) -> Result<Vec<Chunk>, StoreError> {
    let collection = collection_row(connection, name)?;
    connection
        .prepare_cached(&format!(
            "SELECT {CHUNK_COLUMNS} FROM chunks AS c
             WHERE c.collection_id = ? AND c.source = ? AND c.chunk_index BETWEEN ? AND ?
             ORDER BY c.chunk_index, c.id"
        ))
        .and_then(|mut statement| {
            statement
                .query_map(params![collection.id, source, first, last], chunk_from_row)?
                .collect()
        })
        .context(|| format!("could not read the chunks of `{source}` in collection `{name}`"))
}

/// Every source with its hash and chunk count, by source.
///
/// A source whose chunks disagree on the hash (or lack one) reports none: its stored state is
/// not one known version of the file, so re-ingestion should not skip it.
pub(super) fn sources(connection: &Connection, name: &str) -> Result<Vec<SourceInfo>, StoreError> {
    let collection = collection_row(connection, name)?;
    connection
        .prepare_cached(
            "SELECT source,
                    CASE WHEN count(DISTINCT content_hash) = 1 AND count(content_hash) = count(*)
                         THEN max(content_hash) END,
                    count(*)
             FROM chunks
             WHERE collection_id = ? AND source IS NOT NULL
             GROUP BY source
             ORDER BY source",
        )
        .and_then(|mut statement| {
            statement
                .query_map([collection.id], |row| {
                    Ok(SourceInfo {
                        source: row.get(0)?,
                        content_hash: row.get(1)?,
                        chunks: count(row.get(2)?),
                    })
                })?
                .collect()
        })
        .context(|| format!("could not list the sources of collection `{name}`"))
}

/// A SQL count as u64 (counts are never negative).
fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}
