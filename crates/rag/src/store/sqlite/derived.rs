//! The indexes derived from a collection's rows (the HNSW graph in `ann`, the BM25 postings in
//! `lexicon`): when they are built, how committed writes reach them, and when a search may trust
//! them. SQLite stays the source of truth; a derived index only ever makes a search faster.
//!
//! - Every write that changes a collection's chunks or vectors bumps its `vector_generation` in
//!   the write's transaction. A derived index records the generation it reflects, and a search
//!   uses it only when that equals the generation its own read transaction sees; otherwise it
//!   asks SQLite (the exact scan, FTS5).
//! - Builds run on a thread of their own, with a connection of their own reading one snapshot,
//!   so neither opening the store nor writing waits for them; SQLite answers meanwhile. Changes
//!   committed while a build runs are queued and replayed on the new index before it is put in
//!   place.
//! - After each commit the writer applies the change to the index in place (so changes arrive in
//!   commit order). An index that is behind (another process wrote) or asks for it (too many
//!   tombstones) is rebuilt in the background, the old one serving meanwhile when in step.
//! - An index that can be saved (the graph) is saved after a build, after enough changes (on the
//!   writer's thread under a read lock, so searches go on) and when the store closes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard};

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::error::Context;
use crate::store::StoreError;

/// When collections get derived indexes.
#[derive(Debug, Clone, Copy)]
pub struct IndexSettings {
    /// Collections with fewer chunks are served by SQLite alone (sqlite-vec's exact scan and
    /// FTS5); `usize::MAX` turns the derived indexes off.
    pub min_chunks: usize,
    /// Builds run on a thread of their own (the default); `false` runs them on the thread that
    /// asks for them (opening the store, or the write that makes a collection large enough),
    /// so tests see the index at once.
    pub build_in_background: bool,
    /// The HNSW graph's candidate list while searching (ef_search); `None` lets it grow with the
    /// graph's live nodes (`ann::ef_search`), as recall at a fixed one falls with the graph's size.
    pub ef_search: Option<usize>,
}

impl Default for IndexSettings {
    fn default() -> Self {
        // Below about 5k chunks sqlite-vec's scan and FTS5 take a couple of milliseconds, while
        // a derived index costs memory and a build.
        IndexSettings {
            min_chunks: 5_000,
            build_in_background: true,
            ef_search: None,
        }
    }
}

/// A committed change to a collection, for the derived indexes.
#[derive(Default)]
pub(super) struct Change {
    /// The collection.
    pub collection_id: i64,
    /// Its `vector_generation` before and after the write.
    pub generations: (i64, i64),
    /// Chunks given a (new) vector.
    pub vectors: Vec<(i64, Vec<f32>)>,
    /// Chunks given a (new) text: inserted, or replaced in place.
    pub texts: Vec<(i64, String)>,
    /// Chunks deleted.
    pub deleted: Vec<i64>,
}

/// What a build knows of the collection, read in its snapshot.
#[derive(Debug, Clone, Copy)]
pub(super) struct Snapshot {
    /// The collection's id.
    pub id: i64,
    /// Its `vector_generation`.
    pub generation: i64,
    /// Its chunks.
    pub chunks: usize,
    /// Its vectors' dimension; `None` when lexical-only.
    pub dimension: Option<usize>,
}

/// One kind of derived index.
pub(super) trait Derived: Sized + Send + Sync + 'static {
    /// What it is, for logs.
    const NAME: &'static str;

    /// Builds collection `snapshot.id`'s index from what `connection` (inside a read
    /// transaction) sees; `None` when the collection does not get this kind of index.
    fn build(connection: &Connection, snapshot: &Snapshot) -> Result<Option<Self>, StoreError>;

    /// Whether a collection with vectors of this dimension (`None`: lexical-only) gets one.
    fn wanted(_dimension: Option<usize>) -> bool {
        true
    }

    /// The `vector_generation` it reflects.
    fn generation(&self) -> i64;

    /// Takes what concerns it of the store's settings, once built or loaded (the build and the
    /// load read only the database and the saved files).
    fn configure(&mut self, _settings: &IndexSettings) {}

    /// Applies a change whose first generation is this one; `true` when the index wants to be
    /// rebuilt (mostly tombstones).
    fn apply(&mut self, change: &Change) -> Result<bool, StoreError>;

    /// The saved copy reflecting `snapshot`, if one is saved under `dir`.
    fn load(_dir: &Path, _snapshot: &Snapshot) -> Result<Self, String> {
        Err("it is never saved".to_owned())
    }

    /// Saves it under `dir` if it changed since it was last saved.
    fn save(&self, _dir: &Path, _id: i64) -> Result<(), String> {
        Ok(())
    }

    /// Enough changes since the last save that a killed process would rebuild too much.
    fn wants_save(&self) -> bool {
        false
    }

    /// Removes collection `id`'s saved files.
    fn remove_files(_dir: &Path, _id: i64) {}
}

/// The derived indexes of one kind for a store's collections.
pub(super) struct Registry<T: Derived> {
    /// What the build threads share with the store.
    shared: Arc<Shared<T>>,
}

/// The state behind a [`Registry`].
struct Shared<T> {
    /// The database file builds read.
    database: PathBuf,
    /// Where indexes are saved, for the kinds that are.
    dir: PathBuf,
    /// When a collection gets an index.
    settings: IndexSettings,
    /// Collection id → its index in place.
    ready: Mutex<HashMap<i64, Arc<RwLock<T>>>>,
    /// Collection id → the changes committed since its build started.
    building: Mutex<HashMap<i64, Vec<Arc<Change>>>>,
    /// Signalled (with `building`) when a build ends.
    built: Condvar,
    /// Set when the store closes: builds still running leave nothing behind.
    closing: AtomicBool,
    /// Held while saving, so closing waits for a save under way.
    saving: Mutex<()>,
}

impl<T: Derived> Registry<T> {
    /// The indexes of the store at `database`, saved (if at all) in `<database>.<suffix>/`.
    pub(super) fn new(database: &Path, suffix: &str, settings: IndexSettings) -> Registry<T> {
        let mut dir = database.as_os_str().to_owned();
        dir.push(".");
        dir.push(suffix);
        Registry {
            shared: Arc::new(Shared {
                database: database.to_owned(),
                dir: PathBuf::from(dir),
                settings,
                ready: Mutex::new(HashMap::new()),
                building: Mutex::new(HashMap::new()),
                built: Condvar::new(),
                closing: AtomicBool::new(false),
                saving: Mutex::new(()),
            }),
        }
    }

    /// Where indexes of this kind are saved.
    pub(super) fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// Collection `id`'s index, if one is in place (it may be behind: check its generation).
    pub(super) fn get(&self, id: i64) -> Option<Arc<RwLock<T>>> {
        lock(&self.shared.ready).get(&id).cloned()
    }

    /// At open: loads the saved index of every collection large enough, and builds the others.
    pub(super) fn open_all(&self, connection: &Connection) -> Result<(), StoreError> {
        for snapshot in snapshots(connection, None)? {
            if snapshot.chunks < self.shared.settings.min_chunks || !T::wanted(snapshot.dimension) {
                continue;
            }
            match T::load(&self.shared.dir, &snapshot) {
                Ok(mut index) => {
                    index.configure(&self.shared.settings);
                    lock(&self.shared.ready).insert(snapshot.id, Arc::new(RwLock::new(index)));
                }
                Err(why) => {
                    tracing::info!(
                        collection = snapshot.id,
                        "building the {} from SQLite: {why}",
                        T::NAME
                    );
                    Shared::schedule(&self.shared, snapshot.id);
                }
            }
        }
        Ok(())
    }

    /// Applies a committed change, on the writer's thread after the commit. An index that is
    /// behind or wants it is rebuilt; a collection grown past the threshold gets its first.
    pub(super) fn apply(
        &self,
        connection: &Connection,
        change: Arc<Change>,
    ) -> Result<(), StoreError> {
        let id = change.collection_id;
        let rebuild = {
            // Held throughout, so a build ending now either sees this change queued or
            // installs before it and gets it applied below.
            let mut building = lock(&self.shared.building);
            if let Some(pending) = building.get_mut(&id) {
                pending.push(Arc::clone(&change));
            }
            match self.get(id) {
                Some(index) => {
                    let mut index = index.write().unwrap_or_else(PoisonError::into_inner);
                    if index.generation() == change.generations.0 {
                        index.apply(&change).unwrap_or_else(|err| {
                            // Left behind (its generation unchanged): SQLite answers until the
                            // rebuild is in place.
                            tracing::warn!(collection = id, "{}: {err}", T::NAME);
                            true
                        })
                    } else {
                        // Behind: another process wrote, or a change was missed.
                        true
                    }
                }
                None => {
                    !building.contains_key(&id)
                        && T::wanted(dimension(connection, id)?)
                        && chunk_count(connection, id)? >= self.shared.settings.min_chunks
                }
            }
        };
        if rebuild {
            Shared::schedule(&self.shared, id);
        } else if let Some(index) = self.get(id) {
            let index = read(&index);
            if index.wants_save() {
                self.shared.save(id, &index);
            }
        }
        Ok(())
    }

    /// Drops collection `id`'s index and its files.
    pub(super) fn forget(&self, id: i64) {
        self.shared.forget(id);
    }

    /// Waits until no build is running.
    pub(super) fn wait_for_builds(&self) {
        let mut building = lock(&self.shared.building);
        while !building.is_empty() {
            building = self
                .shared
                .built
                .wait(building)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// At close: builds still running are abandoned, and every index is saved.
    pub(super) fn close(&self) {
        self.shared.closing.store(true, Ordering::SeqCst);
        let ready: Vec<(i64, Arc<RwLock<T>>)> = lock(&self.shared.ready)
            .iter()
            .map(|(id, index)| (*id, Arc::clone(index)))
            .collect();
        let _saving = lock(&self.shared.saving);
        for (id, index) in ready {
            if let Err(err) = read(&index).save(&self.shared.dir, id) {
                tracing::warn!(collection = id, "could not save the {}: {err}", T::NAME);
            }
        }
    }
}

impl<T: Derived> Shared<T> {
    /// Starts a build of collection `id`'s index unless one is running.
    fn schedule(shared: &Arc<Shared<T>>, id: i64) {
        {
            let mut building = lock(&shared.building);
            if building.contains_key(&id) {
                return;
            }
            building.insert(id, Vec::new());
        }
        if !shared.settings.build_in_background {
            shared.build(id);
            return;
        }
        let background = Arc::clone(shared);
        let spawned = std::thread::Builder::new()
            .name(format!("rag-index-{id}"))
            .spawn(move || background.build(id));
        if let Err(err) = spawned {
            tracing::warn!(
                collection = id,
                "could not start building the {}: {err}",
                T::NAME
            );
            lock(&shared.building).remove(&id);
            shared.built.notify_all();
        }
    }

    /// Builds collection `id`'s index, replays the changes committed meanwhile, and puts it in
    /// place (or drops the old one when the collection went or shrank).
    fn build(&self, id: i64) {
        let started = std::time::Instant::now();
        let built = match self.build_from_snapshot(id) {
            Ok(built) => built,
            Err(err) => {
                tracing::warn!(collection = id, "could not build the {}: {err}", T::NAME);
                lock(&self.building).remove(&id);
                self.built.notify_all();
                return;
            }
        };
        let mut built = built;
        loop {
            let pending = match lock(&self.building).get_mut(&id) {
                Some(pending) => std::mem::take(pending),
                None => Vec::new(),
            };
            if pending.is_empty() {
                let mut building = lock(&self.building);
                if building.get(&id).is_some_and(|pending| !pending.is_empty()) {
                    continue;
                }
                building.remove(&id);
                let installed = match built.take() {
                    Some(index) if !self.closing.load(Ordering::SeqCst) => {
                        let index = Arc::new(RwLock::new(index));
                        lock(&self.ready).insert(id, Arc::clone(&index));
                        Some(index)
                    }
                    Some(_) => None,
                    None => {
                        lock(&self.ready).remove(&id);
                        None
                    }
                };
                drop(building);
                if let Some(index) = installed {
                    tracing::info!(
                        collection = id,
                        seconds = started.elapsed().as_secs_f64(),
                        "built the {}",
                        T::NAME
                    );
                    self.save(id, &read(&index));
                }
                self.built.notify_all();
                return;
            }
            if let Some(index) = built.as_mut() {
                for change in pending {
                    if change.generations.0 == index.generation() {
                        // A rebuild wanted again so soon is left to the next write.
                        if let Err(err) = index.apply(&change) {
                            tracing::warn!(collection = id, "{}: {err}", T::NAME);
                        }
                    }
                    // Otherwise already in the snapshot (or a gap: the index stays behind and
                    // the next write rebuilds it).
                }
            }
        }
    }

    /// The index built from one read snapshot; `None` when the collection is gone, too small
    /// or does not get this kind.
    fn build_from_snapshot(&self, id: i64) -> Result<Option<T>, StoreError> {
        let shown = self.database.display();
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut connection = Connection::open_with_flags(&self.database, flags)
            .context(|| format!("could not open {shown} to build an index"))?;
        super::schema::configure_reader(&connection, &self.database)?;
        let transaction = connection
            .transaction()
            .context(|| "could not start a read transaction")?;
        let Some(snapshot) = snapshots(&transaction, Some(id))?.pop() else {
            return Ok(None);
        };
        if snapshot.chunks < self.settings.min_chunks {
            return Ok(None);
        }
        let mut built = T::build(&transaction, &snapshot)?;
        if let Some(index) = built.as_mut() {
            index.configure(&self.settings);
        }
        Ok(built)
    }

    /// Saves collection `id`'s index unless the store is closing (close saves it then).
    fn save(&self, id: i64, index: &T) {
        let _saving = lock(&self.saving);
        if self.closing.load(Ordering::SeqCst) {
            return;
        }
        if let Err(err) = index.save(&self.dir, id) {
            // Not fatal: the next open rebuilds from SQLite.
            tracing::warn!(collection = id, "could not save the {}: {err}", T::NAME);
        }
    }

    /// Drops collection `id`'s index and its files.
    fn forget(&self, id: i64) {
        lock(&self.ready).remove(&id);
        let _saving = lock(&self.saving);
        T::remove_files(&self.dir, id);
    }
}

/// The collections (or collection `only`) as a build sees them.
fn snapshots(connection: &Connection, only: Option<i64>) -> Result<Vec<Snapshot>, StoreError> {
    connection
        .prepare_cached(
            "SELECT c.id, c.vector_generation, c.dimension,
                    (SELECT count(*) FROM chunks WHERE collection_id = c.id)
             FROM collections AS c WHERE ?1 IS NULL OR c.id = ?1",
        )
        .and_then(|mut statement| {
            statement
                .query_map([only], |row| {
                    let dimension: Option<i64> = row.get(2)?;
                    let chunks: i64 = row.get(3)?;
                    Ok(Snapshot {
                        id: row.get(0)?,
                        generation: row.get(1)?,
                        dimension: dimension.and_then(|d| usize::try_from(d).ok()),
                        chunks: usize::try_from(chunks).unwrap_or(0),
                    })
                })?
                .collect()
        })
        .context(|| "could not list the collections to index")
}

/// Collection `id`'s vectors' dimension; `None` when lexical-only (or gone).
fn dimension(connection: &Connection, id: i64) -> Result<Option<usize>, StoreError> {
    connection
        .prepare_cached("SELECT dimension FROM collections WHERE id = ?")
        .and_then(|mut statement| {
            statement
                .query_row([id], |row| row.get::<_, Option<i64>>(0))
                .optional()
        })
        .map(|dimension| dimension.flatten().and_then(|d| usize::try_from(d).ok()))
        .context(|| "could not read the collection's dimension")
}

/// Collection `id`'s chunks.
fn chunk_count(connection: &Connection, id: i64) -> Result<usize, StoreError> {
    connection
        .prepare_cached("SELECT count(*) FROM chunks WHERE collection_id = ?")
        .and_then(|mut statement| statement.query_row([id], |row| row.get::<_, i64>(0)))
        .map(|count| usize::try_from(count).unwrap_or(0))
        .context(|| "could not count the chunks to index")
}

/// Locks a mutex; the state behind these stays consistent even if a holder panicked.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Read-locks an index; a panic mid-write leaves at worst a stale generation, which searches see.
pub(super) fn read<T>(index: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    index.read().unwrap_or_else(PoisonError::into_inner)
}
