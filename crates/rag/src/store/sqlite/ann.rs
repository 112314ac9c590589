//! The approximate dense index: an HNSW graph per collection (the `hnsw_rs` crate), derived from
//! the vectors in SQLite, which stay the source of truth.
//!
//! - A collection with at least [`IndexSettings::min_chunks`] vectors gets one; smaller ones are
//!   scanned exactly by sqlite-vec, which is as fast there and needs no memory of its own.
//! - Every write that changes vectors bumps the collection's `vector_generation` in the same
//!   transaction; after the commit the writer applies the same change to the graph (a replaced
//!   or deleted chunk's node becomes a tombstone, skipped by the search's filter; a new vector
//!   gets a new node) and records the generation. A search uses the graph only when its
//!   generation equals the one its read transaction sees, so it never answers from a graph that
//!   is behind (a write by another process, or a commit not yet applied): it scans exactly then.
//! - The graph is saved next to the database (`<file>.hnsw/`) when the store closes, with a
//!   description holding the format, the generation and SHA-256 sums of the graph's files; at
//!   open a description that does not match (stale, from another format, or a file that does
//!   not hash to its sum) makes the graph be rebuilt from SQLite rather than trusted.
//! - hnsw_rs cannot remove nodes, so once tombstones outnumber live nodes the graph is rebuilt.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard};

use hnsw_rs::api::AnnT;
use hnsw_rs::hnswio::HnswIo;
use hnsw_rs::prelude::{DistCosine, FilterT, Hnsw};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::Context;
use super::schema;
use crate::store::StoreError;

/// Neighbours per node (HNSW's M); 16 is the usual choice for a few hundred dimensions.
const MAX_CONNECTIONS: usize = 16;
/// The candidate list while inserting: wider builds a better graph, more slowly.
const EF_CONSTRUCTION: usize = 200;
/// The candidate list while searching, at least: sets recall against the exact scan
/// (the `approximate_dense_recall` test and the bench measure it).
const EF_SEARCH: usize = 128;
/// hnsw_rs's cap on layers.
const MAX_LAYERS: usize = 16;
/// The description's format; a file of another format is rebuilt, never read.
const FORMAT: u32 = 1;

/// When collections get an index.
#[derive(Debug, Clone, Copy)]
pub struct IndexSettings {
    /// Collections with fewer vectors are scanned exactly; `usize::MAX` turns the index off.
    pub min_chunks: usize,
}

impl Default for IndexSettings {
    fn default() -> Self {
        // Below about 5k vectors sqlite-vec's scan takes a couple of milliseconds, while a graph
        // costs memory (a copy of every vector) and a build.
        IndexSettings { min_chunks: 5_000 }
    }
}

/// What a collection's HNSW index holds, for tests, the bench and operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexInfo {
    /// Chunks in the graph.
    pub live: usize,
    /// Nodes of replaced or deleted chunks, skipped by searches until the next rebuild.
    pub tombstones: usize,
    /// Dense rankings the graph has answered since the store opened (the rest, if any, went to
    /// the exact scan).
    pub searches: u64,
}

/// The graph type: cosine distance (1 - cosine similarity, as sqlite-vec's cosine distance).
type Graph = Hnsw<'static, f32, DistCosine>;

/// One collection's graph and how its nodes map to chunks.
struct CollectionIndex {
    /// The graph; node ids are slots.
    graph: Graph,
    /// The collection's `vector_generation` the graph reflects.
    generation: i64,
    /// Slot → chunk pk; 0 (never a pk) for a tombstone.
    pk_of: Vec<i64>,
    /// Chunk pk → its live slot.
    slot_of: HashMap<i64, usize>,
    /// Changed since last saved.
    dirty: bool,
    /// Rankings answered from the graph.
    searches: AtomicU64,
}

impl CollectionIndex {
    /// Live nodes.
    fn live(&self) -> usize {
        self.slot_of.len()
    }

    /// Adds or replaces the vectors of these chunks (inserted in parallel: hnsw_rs takes
    /// concurrent inserts).
    fn put(&mut self, vectors: &[(i64, Vec<f32>)]) {
        let mut slots = Vec::with_capacity(vectors.len());
        for (pk, vector) in vectors {
            self.remove(*pk);
            let slot = self.pk_of.len();
            self.pk_of.push(*pk);
            self.slot_of.insert(*pk, slot);
            slots.push((vector.as_slice(), slot));
        }
        self.graph.parallel_insert_slice(&slots);
    }

    /// Makes chunk `pk`'s node a tombstone.
    fn remove(&mut self, pk: i64) {
        if let Some(slot) = self.slot_of.remove(&pk)
            && let Some(entry) = self.pk_of.get_mut(slot)
        {
            *entry = 0;
        }
    }
}

/// Admits live nodes, and only those of `allowed` when given.
struct Admit<'a> {
    /// Slot → pk (0: tombstone).
    pk_of: &'a [i64],
    /// The chunks a filter lets through.
    allowed: Option<&'a HashSet<i64>>,
}

impl FilterT for Admit<'_> {
    fn hnsw_filter(&self, slot: &usize) -> bool {
        match self.pk_of.get(*slot) {
            Some(&pk) if pk != 0 => self.allowed.is_none_or(|allowed| allowed.contains(&pk)),
            _ => false,
        }
    }
}

/// What is saved beside the graph's files.
#[derive(Serialize, Deserialize)]
struct Description {
    /// [`FORMAT`].
    format: u32,
    /// The vectors' dimension.
    dimension: usize,
    /// The collection's `vector_generation` the graph reflects.
    generation: i64,
    /// Slot → pk, 0 for tombstones.
    pk_of: Vec<i64>,
    /// SHA-256 of the graph file, hex.
    graph_sha256: String,
    /// SHA-256 of the data file, hex.
    data_sha256: String,
}

/// The graphs of a store's collections.
pub(super) struct Indexes {
    /// Where graphs are saved; `None` for a store without a file of its own.
    dir: Option<PathBuf>,
    /// When a collection gets a graph.
    settings: IndexSettings,
    /// Collection id → its graph.
    graphs: Mutex<HashMap<i64, Arc<RwLock<CollectionIndex>>>>,
}

/// A collection's graph, read-locked for a search.
pub(super) struct Reading {
    /// The shared graph.
    graph: Arc<RwLock<CollectionIndex>>,
}

impl Reading {
    /// The `depth` nearest live chunks (restricted to `allowed`) as (pk, similarity), best
    /// first, if the graph reflects `generation`; `None` when it does not (scan exactly then).
    pub(super) fn search(
        &self,
        generation: i64,
        vector: &[f32],
        depth: usize,
        allowed: Option<&HashSet<i64>>,
    ) -> Option<Vec<(i64, f64)>> {
        let index = read(&self.graph);
        if index.generation != generation {
            return None;
        }
        let admit = Admit {
            pk_of: &index.pk_of,
            allowed,
        };
        let found = index
            .graph
            .search_filter(vector, depth, depth.max(EF_SEARCH), Some(&admit));
        index.searches.fetch_add(1, Ordering::Relaxed);
        Some(
            found
                .into_iter()
                .filter_map(|neighbour| {
                    let pk = *index.pk_of.get(neighbour.d_id)?;
                    Some((pk, 1.0 - f64::from(neighbour.distance)))
                })
                .collect(),
        )
    }

    /// Live nodes in the graph.
    pub(super) fn live(&self) -> usize {
        read(&self.graph).live()
    }

    /// What the graph holds.
    pub(super) fn info(&self) -> IndexInfo {
        let index = read(&self.graph);
        IndexInfo {
            live: index.live(),
            tombstones: index.pk_of.len() - index.live(),
            searches: index.searches.load(Ordering::Relaxed),
        }
    }
}

/// Read-locks a graph; a panic mid-write leaves at worst a stale generation, which searches see.
fn read(graph: &RwLock<CollectionIndex>) -> RwLockReadGuard<'_, CollectionIndex> {
    graph.read().unwrap_or_else(PoisonError::into_inner)
}

/// A committed change to a collection's vectors, for [`Indexes::apply`].
#[derive(Default)]
pub(super) struct VectorChange {
    /// The collection.
    pub collection_id: i64,
    /// Its `vector_generation` before and after the write.
    pub generations: (i64, i64),
    /// Chunks given a (new) vector.
    pub upserted: Vec<(i64, Vec<f32>)>,
    /// Chunks deleted.
    pub deleted: Vec<i64>,
}

impl Indexes {
    /// Graphs saved under `database`'s `.hnsw` directory (none for `:memory:`).
    pub(super) fn new(database: &Path, settings: IndexSettings) -> Indexes {
        let in_memory = database.as_os_str().is_empty() || database == Path::new(":memory:");
        let dir = (!in_memory).then(|| {
            let mut name = database.as_os_str().to_owned();
            name.push(".hnsw");
            PathBuf::from(name)
        });
        Indexes {
            dir,
            settings,
            graphs: Mutex::new(HashMap::new()),
        }
    }

    /// The graph of collection `id`, if it has one.
    pub(super) fn get(&self, id: i64) -> Option<Reading> {
        self.graphs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .map(|graph| Reading {
                graph: Arc::clone(graph),
            })
    }

    /// Loads or builds the graph of every collection large enough, at open.
    pub(super) fn open_all(&self, connection: &Connection) -> Result<(), StoreError> {
        let collections: Vec<(i64, i64, i64, i64)> = connection
            .prepare(
                "SELECT c.id, c.dimension, c.vector_generation,
                        (SELECT count(*) FROM chunks WHERE collection_id = c.id)
                 FROM collections AS c WHERE c.dimension IS NOT NULL",
            )
            .and_then(|mut statement| {
                statement
                    .query_map([], |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                    })?
                    .collect()
            })
            .context(|| "could not list the collections to index")?;
        for (id, dimension, generation, chunks) in collections {
            if usize::try_from(chunks).unwrap_or(0) < self.settings.min_chunks {
                continue;
            }
            let dimension = usize::try_from(dimension).unwrap_or(0);
            let index = match self.load(id, dimension, generation) {
                Ok(index) => index,
                Err(why) => {
                    tracing::info!(
                        collection = id,
                        "building the HNSW index from SQLite: {why}"
                    );
                    build(connection, id, generation)?
                }
            };
            self.install(id, index);
        }
        Ok(())
    }

    /// Applies a committed change, on the writer's thread after the commit (so generations are
    /// applied in commit order). A graph that is behind, or mostly tombstones, is rebuilt from
    /// `connection`; a collection that has grown past the threshold gets its first graph.
    pub(super) fn apply(
        &self,
        connection: &Connection,
        change: VectorChange,
    ) -> Result<(), StoreError> {
        let (before, after) = change.generations;
        if let Some(reading) = self.get(change.collection_id) {
            let mut index = reading
                .graph
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            if index.generation == before {
                for pk in &change.deleted {
                    index.remove(*pk);
                }
                index.put(&change.upserted);
                index.generation = after;
                index.dirty = true;
                let tombstones = index.pk_of.len() - index.live();
                if tombstones <= index.live() {
                    return Ok(());
                }
            }
            // Behind (another process wrote) or mostly tombstones: rebuild below.
        }
        let chunks: i64 = connection
            .query_row(
                "SELECT count(*) FROM chunks WHERE collection_id = ?",
                [change.collection_id],
                |row| row.get(0),
            )
            .context(|| "could not count the chunks to index")?;
        if usize::try_from(chunks).unwrap_or(0) < self.settings.min_chunks {
            // Too small now: the exact scan serves it, and a stale graph must not linger.
            self.forget(change.collection_id);
            return Ok(());
        }
        let index = build(connection, change.collection_id, after)?;
        self.install(change.collection_id, index);
        Ok(())
    }

    /// Where collection graphs are saved, if anywhere.
    pub(super) fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Drops collection `id`'s graph and its files.
    pub(super) fn forget(&self, id: i64) {
        self.graphs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
        if let Some(dir) = &self.dir {
            for path in files(dir, id) {
                // Absent files are the usual case.
                let _ = std::fs::remove_file(path);
            }
        }
    }

    /// Saves every graph changed since it was last saved (at close).
    pub(super) fn save_all(&self) {
        let graphs: Vec<(i64, Arc<RwLock<CollectionIndex>>)> = self
            .graphs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(id, graph)| (*id, Arc::clone(graph)))
            .collect();
        for (id, graph) in graphs {
            let mut index = graph.write().unwrap_or_else(PoisonError::into_inner);
            if !index.dirty {
                continue;
            }
            match self.save(id, &index) {
                Ok(()) => index.dirty = false,
                // Not fatal: the next open rebuilds from SQLite.
                Err(err) => tracing::warn!(collection = id, "could not save the HNSW index: {err}"),
            }
        }
    }

    /// Puts a graph in place and saves it (a fresh build or load).
    fn install(&self, id: i64, mut index: CollectionIndex) {
        if index.dirty {
            match self.save(id, &index) {
                Ok(()) => index.dirty = false,
                Err(err) => tracing::warn!(collection = id, "could not save the HNSW index: {err}"),
            }
        }
        self.graphs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, Arc::new(RwLock::new(index)));
    }

    /// Writes collection `id`'s graph: the description goes first (removed) and last (written),
    /// so a crash midway leaves no description that vouches for half-written files.
    fn save(&self, id: i64, index: &CollectionIndex) -> Result<(), String> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let [graph_file, data_file, description_file] = files(dir, id);
        std::fs::create_dir_all(dir).map_err(|err| format!("{}: {err}", dir.display()))?;
        let _ = std::fs::remove_file(&description_file);
        let written = index
            .graph
            .file_dump(dir, &basename(id))
            .map_err(|err| format!("dumping the graph: {err}"))?;
        // hnsw_rs picks another name rather than overwrite files it memory-maps; this one maps
        // nothing, so any other name means the files are not where the description says.
        if written != basename(id) {
            return Err(format!("hnsw_rs wrote the graph as `{written}`"));
        }
        let description = Description {
            format: FORMAT,
            dimension: index.graph.get_point_indexation().get_data_dimension(),
            generation: index.generation,
            pk_of: index.pk_of.clone(),
            graph_sha256: sha256(&graph_file)?,
            data_sha256: sha256(&data_file)?,
        };
        let text = serde_json::to_vec(&description).map_err(|err| err.to_string())?;
        let partial = description_file.with_extension("json.partial");
        std::fs::write(&partial, text).map_err(|err| format!("{}: {err}", partial.display()))?;
        std::fs::rename(&partial, &description_file)
            .map_err(|err| format!("{}: {err}", description_file.display()))
    }

    /// Reads collection `id`'s saved graph if its description vouches for it at `generation`.
    fn load(&self, id: i64, dimension: usize, generation: i64) -> Result<CollectionIndex, String> {
        let Some(dir) = &self.dir else {
            return Err("the store has no file to keep it beside".to_owned());
        };
        let [graph_file, data_file, description_file] = files(dir, id);
        let text = std::fs::read(&description_file).map_err(|_| "no saved index".to_owned())?;
        let description: Description = serde_json::from_slice(&text)
            .map_err(|err| format!("the saved description is unreadable ({err})"))?;
        if description.format != FORMAT || description.dimension != dimension {
            return Err("the saved index is of another format or dimension".to_owned());
        }
        if description.generation != generation {
            return Err(format!(
                "the saved index is stale (generation {}, the database is at {generation})",
                description.generation
            ));
        }
        // Checked before hnsw_rs reads a byte: its reader trusts lengths and ends the process on
        // some malformed files.
        if sha256(&graph_file)? != description.graph_sha256
            || sha256(&data_file)? != description.data_sha256
        {
            return Err("the saved index does not match its checksum".to_owned());
        }
        // hnsw_rs ties a loaded graph's lifetime to its reader even when (as here, without
        // memory-mapping) the graph owns all its data; the reader is a few paths, leaked once
        // per load at open.
        let reader: &'static mut HnswIo = Box::leak(Box::new(HnswIo::new(dir, &basename(id))));
        let graph: Graph = reader
            .load_hnsw::<f32, DistCosine>()
            .map_err(|err| format!("the saved index is unreadable ({err})"))?;
        if graph.get_nb_point() != description.pk_of.len() {
            return Err("the saved index does not hold the nodes its description lists".to_owned());
        }
        let slot_of = description
            .pk_of
            .iter()
            .enumerate()
            .filter(|(_, pk)| **pk != 0)
            .map(|(slot, pk)| (*pk, slot))
            .collect();
        Ok(CollectionIndex {
            graph,
            generation,
            pk_of: description.pk_of,
            slot_of,
            dirty: false,
            searches: AtomicU64::new(0),
        })
    }
}

/// Builds collection `id`'s graph from its vectors in SQLite.
fn build(connection: &Connection, id: i64, generation: i64) -> Result<CollectionIndex, StoreError> {
    let vectors: Vec<(i64, Vec<f32>)> = connection
        .prepare(&format!(
            "SELECT rowid, embedding FROM {} ORDER BY rowid",
            schema::vec_table(id)
        ))
        .and_then(|mut statement| {
            statement
                .query_map([], |row| {
                    let blob: Vec<u8> = row.get(1)?;
                    Ok((row.get(0)?, floats(&blob)))
                })?
                .collect()
        })
        .context(|| "could not read the vectors to index")?;
    let graph = Graph::new(
        MAX_CONNECTIONS,
        vectors.len().max(1),
        MAX_LAYERS,
        EF_CONSTRUCTION,
        DistCosine {},
    );
    let slots: Vec<(&[f32], usize)> = vectors
        .iter()
        .enumerate()
        .map(|(slot, (_, vector))| (vector.as_slice(), slot))
        .collect();
    graph.parallel_insert_slice(&slots);
    let pk_of: Vec<i64> = vectors.iter().map(|(pk, _)| *pk).collect();
    let slot_of = pk_of
        .iter()
        .enumerate()
        .map(|(slot, pk)| (*pk, slot))
        .collect();
    Ok(CollectionIndex {
        graph,
        generation,
        pk_of,
        slot_of,
        dirty: true,
        searches: AtomicU64::new(0),
    })
}

/// A little-endian float32 blob as floats.
fn floats(blob: &[u8]) -> Vec<f32> {
    blob.chunks_exact(4)
        .map(|bytes| f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
        .collect()
}

/// hnsw_rs's base name for collection `id`'s files.
fn basename(id: i64) -> String {
    format!("collection-{id}")
}

/// Collection `id`'s graph file, data file (both named by hnsw_rs) and description.
fn files(dir: &Path, id: i64) -> [PathBuf; 3] {
    let base = basename(id);
    [
        dir.join(format!("{base}.hnsw.graph")),
        dir.join(format!("{base}.hnsw.data")),
        dir.join(format!("{base}.json")),
    ]
}

/// A file's SHA-256, hex.
fn sha256(path: &Path) -> Result<String, String> {
    let mut file = std::fs::File::open(path).map_err(|err| format!("{}: {err}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file
            .read(&mut buffer)
            .map_err(|err| format!("{}: {err}", path.display()))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    let mut hex = String::with_capacity(64);
    for byte in hasher.finalize() {
        hex.push_str(&format!("{byte:02x}"));
    }
    Ok(hex)
}
