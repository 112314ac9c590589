//! The approximate dense index: an HNSW graph per collection (the `hnsw_rs` crate), derived from
//! the vectors in SQLite, which stay the source of truth (see `derived` for when it is built,
//! kept in step and trusted).
//!
//! - Vectors are stored normalised, so cosine distance is one minus a dot product
//!   ([`UnitCosine`], eight lanes wide so the compiler vectorises it); hnsw_rs's `DistCosine`
//!   recomputed both norms at every one of the thousands of distances a search or an insert
//!   takes.
//! - A replaced or deleted chunk's node becomes a tombstone, dropped from the answer of an
//!   unfiltered search widened by their share (hnsw_rs's filtered search is three times slower),
//!   or skipped by the filtered search when that comes back short; hnsw_rs cannot remove nodes,
//!   so once tombstones outnumber live nodes the graph is rebuilt.
//! - The graph is saved next to the database (`<file>.hnsw/`) with a description holding the
//!   format, the generation and SHA-256 sums of the graph's files; at open a description that
//!   does not match (stale, from another format, or a file that does not hash to its sum) makes
//!   the graph be rebuilt from SQLite rather than trusted.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use hnsw_rs::api::AnnT;
use hnsw_rs::hnsw::Point;
use hnsw_rs::hnswio::HnswIo;
use hnsw_rs::prelude::{Distance, FilterT, Hnsw};
use rusqlite::Connection;
use rustc_hash::FxBuildHasher;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::derived::{self, Change, Derived, IndexSettings, Snapshot};
use super::error::Context;
use super::filter::Admitted;
use super::schema;
use crate::store::StoreError;

/// Neighbours per node (HNSW's M; twice as many at layer 0). 16, the usual choice, lost recall
/// at a million clustered points: hnsw_rs trims a full neighbour list by dropping its farthest
/// entry, which drops the links between clusters first, so 1.1% of the nodes ended with no
/// incoming link and 3.1% with none from their own cluster. With 32 those were 0.013% and
/// 0.34%, and recall@10 at a million rose from 0.858 to 0.996 at ef 768 (0.763 to 0.986 at 256),
/// for about 35% more build CPU and 8% more memory (a scratch program on hnsw_rs with this
/// module's distance and the bench's vectors, 100 queries against a brute-force top 10,
/// 2026-12-07; see [`ef_search`]).
const MAX_CONNECTIONS: usize = 32;
/// The candidate list while inserting: wider builds a better graph, more slowly. 100 keeps
/// recall@10 at 0.99 or more on the bench's 100k clustered vectors at half the cost of 200.
const EF_CONSTRUCTION: usize = 100;
/// The candidate list while searching, at least (see [`ef_search`]). On the bench's 100k
/// clustered vectors recall@10 stayed 1.000 from 32 to 128, and 64 searched several times faster
/// than 128.
const EF_SEARCH_FLOOR: usize = 64;
/// Live nodes up to which [`EF_SEARCH_FLOOR`] is enough (recall@10 1.000 at 100k).
const EF_FLOOR_UP_TO: usize = 100_000;
/// The candidate list at a million live nodes: the knee of recall against time there.
const EF_AT_A_MILLION: usize = 768;
/// The widest [`ef_search`] grows to: past it a search costs more than hybrid search's budget.
const EF_SEARCH_CAP: usize = 1024;
/// hnsw_rs's cap on layers.
const MAX_LAYERS: usize = 16;
/// The description's format; a file of another format is rebuilt, never read. 2: normalised
/// vectors under [`UnitCosine`]. 3: [`MAX_CONNECTIONS`] 32 (a graph saved with 16 would load and
/// keep its lower recall, so it is rebuilt instead).
const FORMAT: u32 = 3;
/// A graph is saved once this many vectors changed since its last save…
const SAVE_AFTER_CHANGES: usize = 10_000;
/// …and at least this share of its live nodes (1 / this).
const SAVE_AFTER_SHARE: usize = 5;

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
    /// Of those, the ones answered by hnsw_rs's filtered search, which expands every candidate
    /// and so takes about three times as long: a caller's filter admitting too small a share of
    /// the graph, or a widened unfiltered search that came back short (`fallbacks`).
    pub filtered: u64,
    /// Widened unfiltered searches (past tombstones or a broad filter) that came back with
    /// fewer admitted nodes than asked and were searched again with the filter.
    pub fallbacks: u64,
    /// Of the `searches`, the ones that compared the query with each chunk a selective filter
    /// admits, from the vectors the graph holds, instead of searching the graph.
    pub compared: u64,
    /// The candidate list its searches take (ef_search; a search asking for more results, as
    /// hybrid's 50, widens it to that many): `RAG_ANN_EF_SEARCH`, or else grown with the live
    /// nodes.
    pub ef_search: usize,
}

/// Cosine distance between unit vectors: one minus their dot product (as sqlite-vec's cosine
/// distance, up to rounding), never below zero.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct UnitCosine;

impl Distance<f32> for UnitCosine {
    fn eval(&self, left: &[f32], right: &[f32]) -> f32 {
        (1.0 - dot(left, right)).max(0.0)
    }
}

/// The dot product, summed in eight independent lanes so that it vectorises.
pub(super) fn dot(left: &[f32], right: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (left_blocks, left_rest) = left.as_chunks::<8>();
    let (right_blocks, right_rest) = right.as_chunks::<8>();
    for (a, b) in left_blocks.iter().zip(right_blocks) {
        for lane in 0..8 {
            lanes[lane] += a[lane] * b[lane];
        }
    }
    let rest: f32 = left_rest.iter().zip(right_rest).map(|(a, b)| a * b).sum();
    lanes.iter().sum::<f32>() + rest
}

/// The vector scaled to unit length (a zero vector stays zero).
pub(super) fn normalised(vector: &[f32]) -> Vec<f32> {
    let norm = dot(vector, vector).sqrt();
    if norm > 0.0 {
        vector.iter().map(|x| x / norm).collect()
    } else {
        vector.to_vec()
    }
}

/// The graph type.
type Graph = Hnsw<'static, f32, UnitCosine>;

/// The graph's nodes by slot (`None` for a slot the graph does not hold).
type Nodes = Arc<Vec<Option<Arc<Point<'static, f32>>>>>;

/// One collection's graph and how its nodes map to chunks.
pub(super) struct CollectionIndex {
    /// The graph; node ids are slots.
    graph: Graph,
    /// The collection's `vector_generation` the graph reflects.
    generation: i64,
    /// Slot → chunk pk; 0 (never a pk) for a tombstone.
    pk_of: Vec<i64>,
    /// Chunk pk → its live slot.
    slot_of: HashMap<i64, usize, FxBuildHasher>,
    /// Vectors changed since last saved (a fresh build counts as all of them).
    unsaved: AtomicUsize,
    /// Rankings answered from the graph.
    searches: AtomicU64,
    /// Rankings that took hnsw_rs's filtered search.
    filtered: AtomicU64,
    /// Widened unfiltered searches that came back short.
    fallbacks: AtomicU64,
    /// Rankings computed by comparing the query with every admitted chunk.
    compared: AtomicU64,
    /// The operator's ef_search (`RAG_ANN_EF_SEARCH`), which overrides [`ef_search`].
    ef_override: Option<usize>,
    /// The graph's nodes by slot, for [`CollectionIndex::nearest_among`]: hnsw_rs finds a node
    /// only by walking all of them, so they are listed once, when first needed after nodes were
    /// added (a list shorter than `pk_of` is stale).
    nodes: Mutex<Nodes>,
}

impl CollectionIndex {
    /// Live nodes.
    pub(super) fn live(&self) -> usize {
        self.slot_of.len()
    }

    /// The `depth` nearest live chunks (restricted to `allowed`) as (pk, similarity), best
    /// first, if the graph reflects `generation`; `None` when it does not (scan exactly then).
    ///
    /// hnsw_rs's search with a filter never stops at HNSW's usual condition (the nearest
    /// candidate farther than the worst kept) but expands every candidate left, even when the
    /// filter admits all. Measured (bench's clustered vectors, 100 queries, k 10): at 100k, ef 64,
    /// recall@10 1.000 both ways, p50 0.85-0.94 ms unfiltered against 2.8-2.9 ms filtered; at
    /// 1M, at equal recall (0.81), ef 384 unfiltered took 3.0-3.2 ms and ef 256 filtered
    /// 5.3-6.2 ms. So tombstones, and a filter admitting most of the graph, are dropped after an
    /// unfiltered search widened by the share they take ([`widened`]); the filtered search is
    /// kept for narrower filters and for the rare widened search that comes back short.
    pub(super) fn search(
        &self,
        generation: i64,
        vector: &[f32],
        depth: usize,
        allowed: Option<&Admitted>,
    ) -> Option<Vec<(i64, f64)>> {
        if self.generation != generation {
            return None;
        }
        let admit = Admit {
            pk_of: &self.pk_of,
            allowed,
        };
        let query = normalised(vector);
        let ef = depth.max(self.ef_search());
        // `allowed` holds live chunks only (read in the snapshot the graph reflects); `min`
        // guards the share against one that does not.
        let admitted = allowed.map_or(self.live(), |allowed| allowed.len().min(self.live()));
        let nodes = self.pk_of.len();
        let found = if admitted == nodes {
            // Every node is admitted: nothing to drop.
            self.graph.search(&query, depth, ef)
        } else if let Some(wide) = widened(depth, ef, admitted, nodes) {
            // The whole candidate list comes back (it is computed anyway), the best admitted
            // first.
            let mut found = self.graph.search(&query, wide, wide);
            found.retain(|neighbour| admit.hnsw_filter(&neighbour.d_id));
            found.truncate(depth);
            if found.len() >= depth.min(admitted) {
                found
            } else {
                // The nodes dropped crowd this query's neighbourhood (a deleted document's
                // chunks lie close together): the filtered search finds the admitted ones
                // beyond them.
                self.fallbacks.fetch_add(1, Ordering::Relaxed);
                self.filtered.fetch_add(1, Ordering::Relaxed);
                self.graph.search_filter(&query, depth, ef, Some(&admit))
            }
        } else {
            self.filtered.fetch_add(1, Ordering::Relaxed);
            self.graph.search_filter(&query, depth, ef, Some(&admit))
        };
        self.searches.fetch_add(1, Ordering::Relaxed);
        Some(
            found
                .into_iter()
                .filter_map(|neighbour| {
                    let pk = *self.pk_of.get(neighbour.d_id)?;
                    Some((pk, 1.0 - f64::from(neighbour.distance)))
                })
                .collect(),
        )
    }

    /// The `depth` nearest of the `allowed` chunks as (pk, similarity), best first, computed
    /// exactly from the graph's own vectors, if the graph reflects `generation`.
    ///
    /// For a filter admitting few chunks: the graph's filtered search would wander through many
    /// nodes it may not return, and sqlite-vec's exact scan reads every vector of the collection
    /// (56 ms at 100k), while this reads only the admitted ones (a few thousand dot products).
    pub(super) fn nearest_among(
        &self,
        generation: i64,
        vector: &[f32],
        depth: usize,
        allowed: &Admitted,
    ) -> Option<Vec<(i64, f64)>> {
        if self.generation != generation {
            return None;
        }
        let nodes = self.nodes();
        let query = normalised(vector);
        // In slot order, which is about the order the vectors were allocated in, so reading
        // them goes forward through memory rather than hopping as the set's order would.
        let mut slots: Vec<usize> = allowed
            .iter()
            .filter_map(|pk| self.slot_of.get(pk).copied())
            .collect();
        slots.sort_unstable();
        let mut found: Vec<(i64, f32)> = slots
            .into_iter()
            .filter_map(|slot| {
                let node = nodes.get(slot)?.as_ref()?;
                Some((self.pk_of[slot], UnitCosine.eval(&query, node.get_v())))
            })
            .collect();
        let by_distance =
            |a: &(i64, f32), b: &(i64, f32)| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0));
        if found.len() > depth {
            found.select_nth_unstable_by(depth, by_distance);
            found.truncate(depth);
        }
        found.sort_unstable_by(by_distance);
        self.searches.fetch_add(1, Ordering::Relaxed);
        self.compared.fetch_add(1, Ordering::Relaxed);
        Some(
            found
                .into_iter()
                .map(|(pk, distance)| (pk, 1.0 - f64::from(distance)))
                .collect(),
        )
    }

    /// The graph's nodes by slot, listed again if nodes were added since they last were.
    fn nodes(&self) -> Nodes {
        let mut nodes = self.nodes.lock().unwrap_or_else(PoisonError::into_inner);
        if nodes.len() != self.pk_of.len() {
            let mut by_slot = vec![None; self.pk_of.len()];
            for node in self.graph.get_point_indexation() {
                if let Some(entry) = by_slot.get_mut(node.get_origin_id()) {
                    *entry = Some(node);
                }
            }
            *nodes = Arc::new(by_slot);
        }
        Arc::clone(&nodes)
    }

    /// The candidate list a search takes at least: the operator's, or the one the live nodes
    /// call for.
    fn ef_search(&self) -> usize {
        self.ef_override.unwrap_or_else(|| ef_search(self.live()))
    }

    /// What the graph holds.
    pub(super) fn info(&self) -> IndexInfo {
        IndexInfo {
            live: self.live(),
            tombstones: self.pk_of.len() - self.live(),
            searches: self.searches.load(Ordering::Relaxed),
            filtered: self.filtered.load(Ordering::Relaxed),
            fallbacks: self.fallbacks.load(Ordering::Relaxed),
            compared: self.compared.load(Ordering::Relaxed),
            ef_search: self.ef_search(),
        }
    }

    /// Adds or replaces the vectors of these chunks (inserted in parallel: hnsw_rs takes
    /// concurrent inserts).
    fn put(&mut self, vectors: &[(i64, Vec<f32>)]) {
        let unit: Vec<Vec<f32>> = vectors
            .iter()
            .map(|(_, vector)| normalised(vector))
            .collect();
        let mut slots = Vec::with_capacity(vectors.len());
        for ((pk, _), vector) in vectors.iter().zip(&unit) {
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

impl Derived for CollectionIndex {
    const NAME: &'static str = "HNSW index";

    fn wanted(dimension: Option<usize>) -> bool {
        dimension.is_some()
    }

    fn build(connection: &Connection, snapshot: &Snapshot) -> Result<Option<Self>, StoreError> {
        if snapshot.dimension.is_none() {
            return Ok(None);
        }
        let vectors: Vec<(i64, Vec<f32>)> = connection
            .prepare(&format!(
                "SELECT rowid, embedding FROM {} ORDER BY rowid",
                schema::vec_table(snapshot.id)
            ))
            .and_then(|mut statement| {
                statement
                    .query_map([], |row| {
                        let blob: Vec<u8> = row.get(1)?;
                        Ok((row.get(0)?, normalised(&floats(&blob))))
                    })?
                    .collect()
            })
            .context(|| "could not read the vectors to index")?;
        let graph = Graph::new(
            MAX_CONNECTIONS,
            vectors.len().max(1),
            MAX_LAYERS,
            EF_CONSTRUCTION,
            UnitCosine,
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
        Ok(Some(CollectionIndex {
            graph,
            generation: snapshot.generation,
            unsaved: AtomicUsize::new(pk_of.len().max(1)),
            pk_of,
            slot_of,
            searches: AtomicU64::new(0),
            filtered: AtomicU64::new(0),
            fallbacks: AtomicU64::new(0),
            compared: AtomicU64::new(0),
            ef_override: None,
            nodes: Mutex::default(),
        }))
    }

    fn generation(&self) -> i64 {
        self.generation
    }

    fn configure(&mut self, settings: &IndexSettings) {
        self.ef_override = settings.ef_search;
    }

    fn apply(&mut self, change: &Change) -> Result<bool, StoreError> {
        for pk in &change.deleted {
            self.remove(*pk);
        }
        self.put(&change.vectors);
        self.generation = change.generations.1;
        self.unsaved.fetch_add(
            change.deleted.len() + change.vectors.len(),
            Ordering::Relaxed,
        );
        let tombstones = self.pk_of.len() - self.live();
        Ok(tombstones > self.live())
    }

    fn load(dir: &Path, snapshot: &Snapshot) -> Result<Self, String> {
        let Some(dimension) = snapshot.dimension else {
            return Err("the collection has no vectors".to_owned());
        };
        let id = snapshot.id;
        let [graph_file, data_file, description_file] = files(dir, id);
        let text = std::fs::read(&description_file).map_err(|_| "no saved index".to_owned())?;
        let description: Description = serde_json::from_slice(&text)
            .map_err(|err| format!("the saved description is unreadable ({err})"))?;
        if description.format != FORMAT || description.dimension != dimension {
            return Err("the saved index is of another format or dimension".to_owned());
        }
        if description.generation != snapshot.generation {
            return Err(format!(
                "the saved index is stale (generation {}, the database is at {})",
                description.generation, snapshot.generation
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
            .load_hnsw::<f32, UnitCosine>()
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
            generation: snapshot.generation,
            pk_of: description.pk_of,
            slot_of,
            unsaved: AtomicUsize::new(0),
            searches: AtomicU64::new(0),
            filtered: AtomicU64::new(0),
            fallbacks: AtomicU64::new(0),
            compared: AtomicU64::new(0),
            ef_override: None,
            nodes: Mutex::default(),
        })
    }

    /// Writes the graph: the description goes first (removed) and last (written), so a crash
    /// midway leaves no description that vouches for half-written files.
    fn save(&self, dir: &Path, id: i64) -> Result<(), String> {
        let unsaved = self.unsaved.load(Ordering::Relaxed);
        if unsaved == 0 {
            return Ok(());
        }
        let [graph_file, data_file, description_file] = files(dir, id);
        std::fs::create_dir_all(dir).map_err(|err| format!("{}: {err}", dir.display()))?;
        let _ = std::fs::remove_file(&description_file);
        let written = self
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
            dimension: self.graph.get_point_indexation().get_data_dimension(),
            generation: self.generation,
            pk_of: self.pk_of.clone(),
            graph_sha256: sha256(&graph_file)?,
            data_sha256: sha256(&data_file)?,
        };
        let text = serde_json::to_vec(&description).map_err(|err| err.to_string())?;
        let partial = description_file.with_extension("json.partial");
        std::fs::write(&partial, text).map_err(|err| format!("{}: {err}", partial.display()))?;
        std::fs::rename(&partial, &description_file)
            .map_err(|err| format!("{}: {err}", description_file.display()))?;
        // Changes applied while saving (none: the writer waits for the read lock) are kept.
        self.unsaved.fetch_sub(unsaved, Ordering::Relaxed);
        Ok(())
    }

    fn wants_save(&self) -> bool {
        let unsaved = self.unsaved.load(Ordering::Relaxed);
        unsaved >= SAVE_AFTER_CHANGES && unsaved.saturating_mul(SAVE_AFTER_SHARE) >= self.live()
    }

    fn remove_files(dir: &Path, id: i64) {
        for path in files(dir, id) {
            // Absent files are the usual case.
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The candidate list (ef_search) a search of a graph of `live` nodes takes, at least:
/// [`EF_SEARCH_FLOOR`] up to 100k nodes, then growing linearly to [`EF_AT_A_MILLION`] at a
/// million, and no wider than [`EF_SEARCH_CAP`].
///
/// Why, measured on the bench's vectors (384-d, clustered around 1,000 centres; graphs built as
/// here, ef_construction 100; 100 queries from the same generator, recall@10 against a
/// brute-force top 10, unfiltered search, hnsw_rs's search time; 2026-12-07 on the shared 2-core
/// machine, load 2-5, so times are upper bounds):
/// - 100k (M 16): recall 1.000 at every ef from 64 to 512; p50 0.85-0.94 ms at 64, 1.1 at 96,
///   1.7 at 128, 2.4-2.9 at 192;
/// - 1M, M 32 (as built now): recall 0.923 at 64 (1.5 ms p50), 0.986 at 256 (2.6 ms), 0.996 at
///   768 (4.1 ms p50, 7.0 p99), 0.996 at 1024 (6.6 ms);
/// - 1M, M 16 (before): 0.602 at 64, 0.760 at 256, 0.906 at 768, 0.944 at 4096 (29-38 ms): no
///   ef reached 0.98 on that graph (see [`MAX_CONNECTIONS`]).
///
/// At a million, hnsw_rs's descent through the upper layers (one look at a node's neighbours
/// per layer) starts the list in the query's own cluster for under a third of the queries;
/// a wider list finds its way back. 768 keeps a margin over 0.98 (a graph's recall moves by a
/// few hundredths with the order of its inserts), and hybrid search at a million has about
/// 7 ms for its dense half (lexical 7-12 ms p50 of its 20).
/// Only these two sizes were measured: linear between them because the bench's clusters (a
/// fixed 1,000) grow linearly with the collection; the cap because nothing past a million was
/// measured.
pub(super) fn ef_search(live: usize) -> usize {
    let beyond = live.saturating_sub(EF_FLOOR_UP_TO);
    let grown = EF_SEARCH_FLOOR
        + (EF_AT_A_MILLION - EF_SEARCH_FLOOR).saturating_mul(beyond) / (1_000_000 - EF_FLOOR_UP_TO);
    grown.min(EF_SEARCH_CAP)
}

/// The widest an unfiltered search grows (nodes / admitted) to stand in for the filtered one: up
/// to half the graph dropped, which takes in tombstones alone (a graph is rebuilt before they
/// outnumber its live nodes) and filters admitting half of it or more.
///
/// Measured with a scratch program (not in the repository) on hnsw_rs with this module's
/// distance and parameters, the bench's 100k clustered vectors, 200 queries, nodes dropped at
/// random, against a brute-force top k of the admitted nodes (2026-12-07, shared 2-core machine,
/// load 2.5-4), p50 and recall, filtered at ef 64 against unfiltered widened:
/// - k 10: 1% dropped 2.1 ms against 0.6 ms, 50% 3.9-4.2 against 1.1-1.2, 75% 8.5-9.1 against
///   2.8-3.2, all at recall 1.000; 90% 14-26 ms against 7-11, recall 0.998 against 0.996; 95%
///   26-27 against 12-13, recall 0.996 against 0.989;
/// - k 50 (hybrid's depth): 1% dropped 1.6-1.7 ms against 0.5, recall 1.000 both; 50% 3.5-3.6
///   against 1.2, recall 0.995 against 0.994; 75% 7.2-8.2 against 3.0-3.3, but recall 0.957
///   against 0.941; 90% 0.941 against 0.907.
///
/// So the widened search is two to three times faster at every share, but past half dropped it
/// loses recall at hybrid's depth; narrower filters keep the filtered search (and the narrowest,
/// under one chunk in twenty, go to the exact scan before reaching the graph).
const MAX_WIDENING: usize = 2;

/// The candidate list (and results asked for) of an unfiltered search that keeps `depth` of the
/// `admitted` among a graph's `nodes` after the others are dropped, standing in for a filtered
/// search with candidate list `ef`; `None` when more than [`MAX_WIDENING`] would be dropped.
///
/// - The list widens by the share dropped (nodes / admitted), so it holds about as many
///   admitted nodes as the filtered search's list would, and recall stays as it was.
/// - It holds at least `depth` admitted nodes, plus three standard deviations of how many of a
///   list drawn at random would be dropped (binomially), so that a short answer, which takes a
///   second, filtered search, stays rare where the dropped nodes are spread out. Where they are
///   not (most of a neighbourhood deleted), the answer comes back short and the filtered search
///   takes over.
fn widened(depth: usize, ef: usize, admitted: usize, nodes: usize) -> Option<usize> {
    if admitted == 0 || admitted.saturating_mul(MAX_WIDENING) < nodes {
        return None;
    }
    let share = admitted as f64 / nodes as f64;
    let margin = 3.0 * (depth as f64 * (1.0 - share)).sqrt();
    let ask = ((depth as f64 + margin) / share).ceil() as usize;
    let list = ef.saturating_mul(nodes).div_ceil(admitted);
    Some(ask.max(list))
}

/// The HNSW graphs of a store's collections.
pub(super) type Indexes = derived::Registry<CollectionIndex>;

/// A collection's graph, shared with the writer that keeps it in step.
pub(super) type Shared = Arc<RwLock<CollectionIndex>>;

/// Admits live nodes, and only those of `allowed` when given.
struct Admit<'a> {
    /// Slot → pk (0: tombstone).
    pk_of: &'a [i64],
    /// The chunks a filter lets through.
    allowed: Option<&'a Admitted>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_cosine_is_one_minus_the_dot_product_of_unit_vectors() {
        let left = normalised(&(0..384).map(|i| (i % 7) as f32 - 3.0).collect::<Vec<_>>());
        let right = normalised(&(0..384).map(|i| (i % 5) as f32 + 0.5).collect::<Vec<_>>());
        let expected: f32 = 1.0 - left.iter().zip(&right).map(|(a, b)| a * b).sum::<f32>();
        assert!((UnitCosine.eval(&left, &right) - expected).abs() < 1e-5);
        assert!(UnitCosine.eval(&left, &left) < 1e-6);
        // A length that is not a multiple of eight.
        assert!((dot(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]) - 32.0).abs() < 1e-6);
    }

    /// Widened by the share dropped, with room for chance; never past half dropped.
    #[test]
    fn an_unfiltered_search_widens_by_the_share_dropped() {
        // Nothing dropped: the list as it is.
        assert_eq!(widened(10, 64, 1_000, 1_000), Some(64));
        // 1% tombstones, at k 10 and at hybrid's 50.
        assert_eq!(widened(10, 64, 99_000, 100_000), Some(65));
        assert_eq!(widened(50, 64, 99_000, 100_000), Some(65));
        // Half (as many tombstones as a graph keeps before its rebuild): the list doubles; at 50
        // results the three standard deviations ask for more than that.
        assert_eq!(widened(10, 64, 50_000, 100_000), Some(128));
        assert_eq!(widened(50, 64, 50_000, 100_000), Some(130));
        assert_eq!(widened(4096, 4096, 50_000, 100_000), Some(8464));
        // Past half dropped, or nothing admitted: the filtered search.
        assert_eq!(widened(10, 64, 49_999, 100_000), None);
        assert_eq!(widened(10, 64, 0, 10), None);
    }

    /// The floor up to 100k, the measured width at a million, never narrower as the graph
    /// grows, and the cap past it.
    #[test]
    fn ef_search_grows_with_the_graph() {
        assert_eq!(ef_search(0), 64);
        assert_eq!(ef_search(12_000), 64);
        assert_eq!(ef_search(100_000), 64);
        assert_eq!(ef_search(550_000), 416);
        assert_eq!(ef_search(1_000_000), 768);
        assert_eq!(ef_search(10_000_000), 1024);
        assert_eq!(ef_search(usize::MAX), 1024);
        let mut previous = 0;
        for live in (0..3_000_000).step_by(7_919) {
            let ef = ef_search(live);
            assert!(ef >= previous && (64..=1024).contains(&ef), "{live}: {ef}");
            previous = ef;
        }
    }
}
