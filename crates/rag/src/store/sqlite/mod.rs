//! The embedded store: one SQLite file holding the chunks, an FTS5 index per collection for BM25
//! and a sqlite-vec `vec0` table per collection for cosine search. Nothing to install.
//!
//! One writer connection and a small pool of read-only connections, in WAL mode so reads never
//! wait for a write (and other processes can open the same file). Every call runs on a tokio
//! blocking thread; every write is one transaction, so a crash leaves each upsert or delete
//! either whole or absent.
//!
//! A large collection also gets indexes derived from its rows (`derived`), built in the
//! background and kept in step with every write: an HNSW graph for dense search, kept in memory
//! and saved beside the file (`ann`), and its FTS5 postings in memory for lexical search
//! (`lexicon`). SQLite answers until they are ready and whenever they are behind: the exact scan
//! and FTS5 serve small collections, stay the fallback, and are reachable as the oracle
//! ([`SqliteStore::search_exact`]).

mod ann;
mod derived;
mod error;
mod filter;
mod fts;
mod lexicon;
mod ops;
mod schema;
mod search;
mod upgrade;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_ann;
#[cfg(test)]
mod tests_lexicon;

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use futures::future::BoxFuture;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

pub use self::ann::IndexInfo;
use self::ann::Indexes;
use self::derived::Change;
pub use self::derived::IndexSettings;
use self::error::Context;
pub use self::lexicon::LexicalInfo;
use self::lexicon::Lexicons;
use crate::model::{Chunk, CollectionInfo, EmbedderId, Hit, SearchRequest, Selector, SourceInfo};
use crate::store::{Embedded, Store, StoreError};

/// Read connections per store: searches run in parallel up to this many, beyond which they queue.
const READERS: usize = 4;

/// The longest collection name.
const MAX_NAME_LEN: usize = 64;

/// The embedded SQLite store. Cheap to clone; clones share the connections.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

/// What the clones share.
struct Inner {
    /// The database file.
    path: PathBuf,
    /// The one connection that writes; a mutex makes writes take turns in this process, and
    /// SQLite's lock (with the busy timeout) does so across processes.
    writer: Mutex<Connection>,
    /// Read-only connections.
    readers: Pool,
    /// The collections' HNSW graphs; changed only by the thread holding `writer` and by
    /// their builds.
    indexes: Indexes,
    /// The collections' lexical indexes, likewise.
    lexicons: Lexicons,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The last clone is gone: keep the graphs for the next open (a crash instead leaves
        // the last saved files, which the next open rebuilds from SQLite when stale).
        self.indexes.close();
        self.lexicons.close();
    }
}

/// What a search may use besides SQLite.
pub(super) struct Derivations<'a> {
    /// The HNSW graphs.
    graphs: &'a Indexes,
    /// The lexical indexes.
    lexicons: &'a Lexicons,
}

impl Inner {
    /// The derived indexes, for a search.
    fn derivations(&self) -> Derivations<'_> {
        Derivations {
            graphs: &self.indexes,
            lexicons: &self.lexicons,
        }
    }

    /// Applies a committed change to the derived indexes.
    fn apply(&self, connection: &Connection, change: Change) -> Result<(), StoreError> {
        let change = Arc::new(change);
        self.indexes.apply(connection, Arc::clone(&change))?;
        self.lexicons.apply(connection, change)
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path` on a blocking thread: creates the parent
    /// directory, switches the file to WAL and brings the schema up to date.
    pub async fn open(path: impl Into<PathBuf>) -> Result<SqliteStore, StoreError> {
        let path = path.into();
        tokio::task::spawn_blocking(move || SqliteStore::open_blocking(&path))
            .await
            .map_err(worker_failed)?
    }

    /// Like [`SqliteStore::open`], with these index settings.
    pub async fn open_with(
        path: impl Into<PathBuf>,
        settings: IndexSettings,
    ) -> Result<SqliteStore, StoreError> {
        let path = path.into();
        tokio::task::spawn_blocking(move || SqliteStore::open_blocking_with(&path, settings))
            .await
            .map_err(worker_failed)?
    }

    /// Like [`SqliteStore::open`], on the calling thread (it does file I/O).
    pub fn open_blocking(path: &Path) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_blocking_with(path, IndexSettings::default())
    }

    /// Like [`SqliteStore::open_with`], on the calling thread. Loads the saved HNSW graph of
    /// each large collection, and builds (in the background, by default) the graphs missing or
    /// stale and the lexical indexes.
    pub fn open_blocking_with(
        path: &Path,
        settings: IndexSettings,
    ) -> Result<SqliteStore, StoreError> {
        schema::ensure_sqlite_vec()?;
        let shown = path.display();
        if let Some(parent) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(|err| {
                StoreError::Backend(format!(
                    "SQLite store: could not create the directory {} for {shown}: {err}",
                    parent.display()
                ))
            })?;
        }
        let mut writer = Connection::open(path)
            .context(|| format!("could not open the rag database at {shown}"))?;
        schema::configure(&writer, path)?;
        schema::migrate(&mut writer, path)?;
        // Read-only, so a bug in a read path cannot write; opened after the writer has made
        // the file WAL and created the schema.
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let readers = (0..READERS)
            .map(|_| {
                let reader = Connection::open_with_flags(path, flags)
                    .context(|| format!("could not open a read connection to {shown}"))?;
                schema::configure_reader(&reader, path)?;
                Ok(reader)
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let indexes = Indexes::new(path, "hnsw", settings);
        indexes.open_all(&writer)?;
        let lexicons = Lexicons::new(path, "lexicon", settings);
        lexicons.open_all(&writer)?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer: Mutex::new(writer),
                readers: Pool::new(readers),
                indexes,
                lexicons,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `op` in a read transaction on a pooled connection, on a blocking thread. The
    /// transaction gives it one snapshot: a concurrent write (even a dropped collection) is
    /// either wholly visible or not at all.
    fn read<T, F>(&self, op: F) -> BoxFuture<'static, Result<T, StoreError>>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                inner.readers.with(|connection| {
                    let transaction = connection
                        .transaction()
                        .context(|| "could not start a read transaction")?;
                    op(&transaction)
                    // Dropping the transaction ends it; a read has nothing to commit.
                })
            })
            .await
            .map_err(worker_failed)?
        })
    }

    /// Search by SQLite alone, never the derived indexes: the exact scan and FTS5, the oracles
    /// the HNSW graph and the lexical index are measured against (tests, the bench).
    pub fn search_exact<'a>(
        &'a self,
        collection: &'a str,
        request: SearchRequest,
    ) -> BoxFuture<'a, Result<Vec<Hit>, StoreError>> {
        if let Err(err) = check_name(collection) {
            return refuse(err);
        }
        let name = collection.to_owned();
        self.read(move |connection| search::search(connection, &name, &request, None))
    }

    /// Waits until no derived index is being built (tests and the bench, which measure them).
    pub async fn wait_for_indexes(&self) {
        let inner = Arc::clone(&self.inner);
        let _ = tokio::task::spawn_blocking(move || {
            inner.indexes.wait_for_builds();
            inner.lexicons.wait_for_builds();
        })
        .await;
    }

    /// What the lexical index of `collection` holds; `None` when it has none (small, or not
    /// built yet), so FTS5 answers.
    pub fn lexical_info(
        &self,
        collection: &str,
    ) -> BoxFuture<'_, Result<Option<LexicalInfo>, StoreError>> {
        self.derived_info(collection, |inner, id| {
            inner
                .lexicons
                .get(id)
                .map(|lexicon| derived::read(&lexicon).info())
        })
    }

    /// What the HNSW index of `collection` holds; `None` when it has none (small, lexical-only
    /// or unknown collections), so dense search scans exactly.
    pub fn index_info(
        &self,
        collection: &str,
    ) -> BoxFuture<'_, Result<Option<IndexInfo>, StoreError>> {
        self.derived_info(collection, |inner, id| {
            inner
                .indexes
                .get(id)
                .map(|graph| derived::read(&graph).info())
        })
    }

    /// What `info` says of `collection`'s entry among the derived indexes, read once the
    /// collection is looked up in a read transaction.
    fn derived_info<T: Send + 'static>(
        &self,
        collection: &str,
        info: fn(&Inner, i64) -> Option<T>,
    ) -> BoxFuture<'_, Result<Option<T>, StoreError>> {
        if let Err(err) = check_name(collection) {
            return refuse(err);
        }
        let name = collection.to_owned();
        let inner = Arc::clone(&self.inner);
        self.read(move |connection| {
            let collection = ops::collection_row(connection, &name)?;
            Ok(info(&inner, collection.id))
        })
    }

    /// The directory the HNSW indexes are saved in (`<database>.hnsw`).
    pub fn index_dir(&self) -> Option<PathBuf> {
        Some(self.inner.indexes.dir().to_owned())
    }

    /// Runs `op` in one immediate write transaction on a blocking thread, committing if it
    /// succeeds and rolling back (leaving nothing behind) if it fails.
    fn write<T, F>(&self, op: F) -> BoxFuture<'static, Result<T, StoreError>>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.write_then(op, |_, _, outcome| Ok(outcome))
    }

    /// Like [`SqliteStore::write`], then runs `after` on the committed outcome while still
    /// holding the writer, so the derived indexes take changes in commit order. A failure of
    /// `after` is reported although the write stands.
    fn write_then<T, U, F, A>(&self, op: F, after: A) -> BoxFuture<'static, Result<U, StoreError>>
    where
        T: Send + 'static,
        U: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
        A: FnOnce(&Connection, &Inner, T) -> Result<U, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut connection = inner.writer();
                // Immediate: take the write lock now, so the busy timeout covers waiting for
                // another process instead of failing on a lock upgrade midway.
                let transaction = connection
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .context(|| "could not start a write transaction")?;
                let outcome = op(&transaction)?;
                transaction
                    .commit()
                    .context(|| "could not commit the write")?;
                after(&connection, &inner, outcome)
            })
            .await
            .map_err(worker_failed)?
        })
    }
}

impl Inner {
    /// The writer. A panic while it was held cannot leave a transaction open (rusqlite rolls
    /// back on drop), so a poisoned lock still guards a usable connection.
    fn writer(&self) -> MutexGuard<'_, Connection> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A fixed set of connections handed out one caller at a time.
struct Pool {
    /// The connections not on loan.
    idle: Mutex<Vec<Connection>>,
    /// Signalled when a connection comes back.
    returned: Condvar,
}

impl Pool {
    /// A pool of these connections.
    fn new(connections: Vec<Connection>) -> Pool {
        Pool {
            idle: Mutex::new(connections),
            returned: Condvar::new(),
        }
    }

    /// Runs `op` on an idle connection, waiting for one if all are busy.
    fn with<T>(
        &self,
        op: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut pooled = self.take();
        match pooled.connection.as_mut() {
            Some(connection) => op(connection),
            // `take` always lends a connection; only `drop` removes it.
            None => Err(StoreError::Backend(
                "SQLite store: the connection pool lent an empty slot".to_owned(),
            )),
        }
    }

    /// Waits for an idle connection.
    fn take(&self) -> Pooled<'_> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(connection) = idle.pop() {
                return Pooled {
                    pool: self,
                    connection: Some(connection),
                };
            }
            idle = self
                .returned
                .wait(idle)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// A connection on loan; it goes back to the pool when dropped, even if the borrower panicked.
struct Pooled<'a> {
    /// Where it goes back to.
    pool: &'a Pool,
    /// `None` only once returned.
    connection: Option<Connection>,
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(connection) = self.connection.take() {
            self.pool
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(connection);
            self.pool.returned.notify_one();
        }
    }
}

/// A blocking task that panicked or was cancelled.
fn worker_failed(err: tokio::task::JoinError) -> StoreError {
    StoreError::Backend(format!("SQLite store: the worker thread failed: {err}"))
}

/// Checks a collection name: `[A-Za-z0-9_-]{1,64}`.
fn check_name(name: &str) -> Result<(), StoreError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-');
    if valid {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "`{name}` is not a valid collection name: use 1 to {MAX_NAME_LEN} ASCII letters, \
             digits, `_` or `-`"
        )))
    }
}

/// An already-failed future, for arguments refused before any work.
fn refuse<T: Send + 'static>(err: StoreError) -> BoxFuture<'static, Result<T, StoreError>> {
    Box::pin(std::future::ready(Err(err)))
}

impl Store for SqliteStore {
    fn create_collection<'a>(
        &'a self,
        name: &'a str,
        embedder: Option<&'a EmbedderId>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        if let Err(err) = check_name(name) {
            return refuse(err);
        }
        let name = name.to_owned();
        let embedder = embedder.cloned();
        self.write(move |connection| ops::create_collection(connection, &name, embedder.as_ref()))
    }

    fn drop_collection<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        if let Err(err) = check_name(name) {
            return refuse(err);
        }
        let name = name.to_owned();
        self.write_then(
            move |connection| {
                let id = ops::collection_row(connection, &name)
                    .ok()
                    .map(|row| row.id);
                Ok((ops::drop_collection(connection, &name)?, id))
            },
            |_, inner, (existed, id)| {
                if let Some(id) = id {
                    inner.indexes.forget(id);
                    inner.lexicons.forget(id);
                }
                Ok(existed)
            },
        )
    }

    fn list_collections(&self) -> BoxFuture<'_, Result<Vec<CollectionInfo>, StoreError>> {
        self.read(ops::list_collections)
    }

    fn collection(&self, name: &str) -> BoxFuture<'_, Result<CollectionInfo, StoreError>> {
        if let Err(err) = check_name(name) {
            return refuse(err);
        }
        let name = name.to_owned();
        self.read(move |connection| ops::collection_info(connection, &name))
    }

    fn upsert<'a>(
        &'a self,
        collection: &'a str,
        chunks: Vec<Chunk>,
        vectors: Vec<Vec<f32>>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        if let Err(err) = check_name(collection) {
            return refuse(err);
        }
        let name = collection.to_owned();
        self.write_then(
            move |connection| {
                let collection = ops::collection_row(connection, &name)?;
                ops::check_vectors(&name, &collection, &chunks, &vectors)?;
                let pks = ops::upsert(connection, &name, &collection, &chunks, &vectors)?;
                Ok(Change {
                    collection_id: collection.id,
                    generations: ops::bump_generation(connection, collection.id)?,
                    texts: pks
                        .iter()
                        .copied()
                        .zip(chunks.into_iter().map(|chunk| chunk.text))
                        .collect(),
                    vectors: pks.into_iter().zip(vectors).collect(),
                    deleted: Vec::new(),
                })
            },
            |connection, inner, change| inner.apply(connection, change),
        )
    }

    fn delete<'a>(
        &'a self,
        collection: &'a str,
        selector: Selector,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        if let Err(err) = check_name(collection) {
            return refuse(err);
        }
        let name = collection.to_owned();
        self.write_then(
            move |connection| {
                let collection = ops::collection_row(connection, &name)?;
                let deleted = ops::delete(connection, &name, &collection, &selector)?;
                if deleted.is_empty() {
                    return Ok((0, None));
                }
                let change = Change {
                    collection_id: collection.id,
                    generations: ops::bump_generation(connection, collection.id)?,
                    deleted,
                    ..Change::default()
                };
                Ok((change.deleted.len() as u64, Some(change)))
            },
            |connection, inner, (count, change)| {
                if let Some(change) = change {
                    inner.apply(connection, change)?;
                }
                Ok(count)
            },
        )
    }

    fn search<'a>(
        &'a self,
        collection: &'a str,
        request: SearchRequest,
    ) -> BoxFuture<'a, Result<Vec<Hit>, StoreError>> {
        if let Err(err) = check_name(collection) {
            return refuse(err);
        }
        let name = collection.to_owned();
        let inner = Arc::clone(&self.inner);
        self.read(move |connection| {
            search::search(connection, &name, &request, Some(&inner.derivations()))
        })
    }

    fn get<'a>(
        &'a self,
        collection: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Chunk>, StoreError>> {
        if let Err(err) = check_name(collection) {
            return refuse(err);
        }
        let name = collection.to_owned();
        let id = id.to_owned();
        self.read(move |connection| ops::get(connection, &name, &id))
    }

    fn chunks_of_source<'a>(
        &'a self,
        collection: &'a str,
        source: &'a str,
        range: RangeInclusive<u32>,
    ) -> BoxFuture<'a, Result<Vec<Chunk>, StoreError>> {
        if let Err(err) = check_name(collection) {
            return refuse(err);
        }
        let name = collection.to_owned();
        let source = source.to_owned();
        let (first, last) = range.into_inner();
        self.read(move |connection| ops::chunks_of_source(connection, &name, &source, first, last))
    }

    fn sources<'a>(
        &'a self,
        collection: &'a str,
    ) -> BoxFuture<'a, Result<Vec<SourceInfo>, StoreError>> {
        if let Err(err) = check_name(collection) {
            return refuse(err);
        }
        let name = collection.to_owned();
        self.read(move |connection| ops::sources(connection, &name))
    }

    fn adds_vectors_in_place(&self) -> bool {
        true
    }

    fn add_vectors<'a>(
        &'a self,
        collection: &'a str,
        embedder: &'a EmbedderId,
        vectors: Arc<Embedded>,
    ) -> BoxFuture<'a, Result<Vec<Chunk>, StoreError>> {
        if let Err(err) = check_name(collection) {
            return refuse(err);
        }
        let name = collection.to_owned();
        let embedder = embedder.clone();
        self.write_then(
            move |connection| upgrade::add_vectors(connection, &name, &embedder, &vectors),
            |connection, inner, (missing, change)| {
                if let Some(change) = change {
                    inner.apply(connection, change)?;
                }
                Ok(missing)
            },
        )
    }
}
