//! Connection settings, the sqlite-vec registration, and the schema: the shared tables (versioned
//! with `PRAGMA user_version`) and the full-text and vector tables each collection gets.

use std::ffi::{c_char, c_int};
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior, ffi};

use super::error::Context;
use crate::store::StoreError;

/// How long a statement waits for another connection's (or process's) lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// sqlite-vec refuses longer vectors (`SQLITE_VEC_VEC0_MAX_DIMENSIONS`).
pub(super) const MAX_DIMENSION: usize = 8192;

/// One step of the schema history, applied in its own transaction and never edited once
/// released: a change to the schema is a new step.
struct Migration {
    /// The `user_version` after this step.
    version: i64,
    /// What the step does, for error messages.
    description: &'static str,
    /// Its statements.
    sql: &'static str,
}

/// The `metadata_values` rows (collection, key, kind, value, pk) of the chunk row `$row` (`new`
/// in a trigger; `c`, with `$from` naming the table, over existing rows): each top-level key's
/// string, number or boolean, and each such element of a top-level array. Nulls and nested
/// objects are left out: no filter matches them.
macro_rules! metadata_rows {
    ($row:literal, $from:literal) => {
        concat!(
            "SELECT ", $row, ".collection_id, top.key,
                CASE top.type WHEN 'text' THEN 'text' WHEN 'true' THEN 'boolean'
                    WHEN 'false' THEN 'boolean' ELSE 'number' END,
                top.value, ", $row, ".pk
            FROM ", $from, "json_each(", $row, ".metadata) AS top
            WHERE top.type IN ('text', 'integer', 'real', 'true', 'false')
            UNION ALL
            SELECT ", $row, ".collection_id, top.key,
                CASE item.type WHEN 'text' THEN 'text' WHEN 'true' THEN 'boolean'
                    WHEN 'false' THEN 'boolean' ELSE 'number' END,
                item.value, ", $row, ".pk
            FROM ", $from, "json_each(", $row, ".metadata) AS top, json_each(top.value) AS item
            WHERE top.type = 'array' AND item.type IN ('text', 'integer', 'real', 'true', 'false')"
        )
    };
}

/// The shared tables, oldest step first. Each collection's own FTS5 and vec0 tables are created
/// with the collection ([`create_collection_tables`]), named after its integer id so that no
/// user text ever reaches DDL.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "create the collection and chunk tables",
        sql: r#"
        CREATE TABLE collections (
            -- AUTOINCREMENT: a dropped collection's id (and so its table names) is never
            -- reused, so nothing cached for an old collection can ever meet a new one.
            id         INTEGER PRIMARY KEY AUTOINCREMENT,
            -- Case-sensitive (BINARY), like Qdrant's collection names.
            name       TEXT NOT NULL UNIQUE,
            -- The embedder; all three NULL for a lexical-only collection.
            provider   TEXT,
            model      TEXT,
            dimension  INTEGER,
            created_at TEXT NOT NULL,
            CHECK ((provider IS NULL AND model IS NULL AND dimension IS NULL)
                OR (provider IS NOT NULL AND model IS NOT NULL AND dimension > 0))
        );

        CREATE TABLE chunks (
            -- The rowid shared with the collection's fts_<id> and vec_<id> tables.
            pk            INTEGER PRIMARY KEY,
            collection_id INTEGER NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
            id            TEXT NOT NULL,
            text          TEXT NOT NULL,
            source        TEXT,
            -- position.index, kept as a column so neighbours are an index range scan.
            chunk_index   INTEGER NOT NULL,
            -- JSON: the whole Position.
            position      TEXT NOT NULL,
            -- JSON object.
            metadata      TEXT NOT NULL,
            content_hash  TEXT,
            UNIQUE (collection_id, id)
        );
        CREATE INDEX chunks_by_source ON chunks (collection_id, source, chunk_index);
    "#,
    },
    Migration {
        version: 2,
        description: "count changes to each collection's vectors",
        // Bumped in every transaction that changes a collection's vectors, so the HNSW graph
        // derived from them (ann.rs) can tell whether it reflects what a reader sees.
        sql: "ALTER TABLE collections ADD COLUMN vector_generation INTEGER NOT NULL DEFAULT 0;",
    },
    Migration {
        version: 3,
        description: "index the chunks' metadata values for filters",
        // Filters used to read every chunk's metadata with json_each: 80-170 ms for one filtered
        // search at 100k chunks. Triggers keep the table in step with `chunks` on every write
        // path, as they do the full-text index; the last statement fills it for existing chunks.
        sql: concat!(
            r#"
        CREATE TABLE metadata_values (
            collection_id INTEGER NOT NULL,
            -- A top-level metadata key, as written.
            key           TEXT NOT NULL,
            -- 'text', 'number' (integer or real), or 'boolean' (value 1 or 0): a filter's
            -- "1", 1 and true never equal each other.
            kind          TEXT NOT NULL,
            -- The key's scalar value, or one scalar element of its array; no declared type, so
            -- SQLite keeps each value's own (numbers compare as numbers, text as text).
            value         NOT NULL,
            pk            INTEGER NOT NULL,
            PRIMARY KEY (collection_id, key, kind, value, pk)
        ) WITHOUT ROWID;
        CREATE INDEX metadata_values_by_chunk ON metadata_values (pk);
        CREATE TRIGGER metadata_values_insert AFTER INSERT ON chunks BEGIN
            INSERT OR IGNORE INTO metadata_values (collection_id, key, kind, value, pk) "#,
            metadata_rows!("new", ""),
            r#";
        END;
        CREATE TRIGGER metadata_values_update AFTER UPDATE OF collection_id, metadata ON chunks
        BEGIN
            DELETE FROM metadata_values WHERE pk = old.pk;
            INSERT OR IGNORE INTO metadata_values (collection_id, key, kind, value, pk) "#,
            metadata_rows!("new", ""),
            r#";
        END;
        CREATE TRIGGER metadata_values_delete AFTER DELETE ON chunks BEGIN
            DELETE FROM metadata_values WHERE pk = old.pk;
        END;
        INSERT OR IGNORE INTO metadata_values (collection_id, key, kind, value, pk) "#,
            metadata_rows!("c", "chunks AS c, "),
            ";"
        ),
    },
];

/// The newest schema version this program knows.
const LATEST_VERSION: i64 = MIGRATIONS.len() as i64;

/// Makes every SQLite connection this process opens from now on load sqlite-vec (the `vec0`
/// table and the `vec_*` functions). Registration happens once; later calls return its outcome.
#[allow(unsafe_code)]
fn register_sqlite_vec() -> c_int {
    /// The C signature SQLite calls extension entry points with.
    type EntryPoint = unsafe extern "C" fn(
        *mut ffi::sqlite3,
        *mut *mut c_char,
        *const ffi::sqlite3_api_routines,
    ) -> c_int;
    static STATUS: OnceLock<c_int> = OnceLock::new();
    *STATUS.get_or_init(|| {
        // SAFETY: `sqlite3_vec_init` is sqlite-vec's extension entry point, a C function whose
        // real signature is exactly `EntryPoint` (the crate declares it without parameters, hence
        // the pointer transmute, which only changes the declared type). sqlite-vec is compiled
        // with SQLITE_CORE and linked against the same bundled SQLite as rusqlite, so it calls
        // that library directly and ignores the API-routines argument. `sqlite3_auto_extension`
        // only records the pointer, under SQLite's own mutex, and the function lives for the
        // whole process.
        unsafe {
            let entry_point = std::mem::transmute::<*const (), EntryPoint>(
                sqlite_vec::sqlite3_vec_init as *const (),
            );
            ffi::sqlite3_auto_extension(Some(entry_point))
        }
    })
}

/// Makes sure connections opened from now on have sqlite-vec.
pub(super) fn ensure_sqlite_vec() -> Result<(), StoreError> {
    match register_sqlite_vec() {
        ffi::SQLITE_OK => Ok(()),
        code => Err(StoreError::Backend(format!(
            "could not register the sqlite-vec extension with SQLite (error code {code})"
        ))),
    }
}

/// Applies the per-connection settings every connection needs, and checks that sqlite-vec
/// loaded, so a broken build fails at start-up rather than on the first search.
pub(super) fn configure(connection: &Connection, path: &Path) -> Result<(), StoreError> {
    let shown = path.display();
    connection
        .busy_timeout(BUSY_TIMEOUT)
        .context(|| format!("could not set the busy timeout on {shown}"))?;
    connection
        .pragma_update(None, "foreign_keys", true)
        .context(|| format!("could not enable foreign keys on {shown}"))?;
    connection
        .query_row("SELECT vec_version()", [], |row| row.get::<_, String>(0))
        .context(|| format!("sqlite-vec is not loaded on the connection to {shown}"))?;
    Ok(())
}

/// How much of the file a read connection maps into memory. Dense search reads every vector of
/// a collection (150 MB for 100k 384-d vectors); mapped pages come straight from the OS page
/// cache instead of one read call and copy per 4 KiB page, which halves search time at that size.
const READER_MMAP_BYTES: i64 = 1 << 30;

/// The settings only read connections take.
pub(super) fn configure_reader(connection: &Connection, path: &Path) -> Result<(), StoreError> {
    configure(connection, path)?;
    connection
        .pragma_update(None, "mmap_size", READER_MMAP_BYTES)
        .context(|| format!("could not set mmap_size on {}", path.display()))
}

/// Reads the schema version stored in the file.
pub(super) fn user_version(connection: &Connection) -> rusqlite::Result<i64> {
    connection.pragma_query_value(None, "user_version", |row| row.get(0))
}

/// Switches the file to WAL and brings the schema up to date, refusing files from a newer
/// program. Runs on the writer connection before any reader opens.
pub(super) fn migrate(connection: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let shown = path.display();
    let found = user_version(connection)
        .context(|| format!("could not open the rag database at {shown}"))?;
    if found > LATEST_VERSION {
        return Err(StoreError::Backend(format!(
            "the rag database at {shown} has schema version {found}, newer than this program's \
             {LATEST_VERSION}; upgrade mcp-rag or point it at another file"
        )));
    }
    // WAL lets readers proceed while the writer commits, in this process and others. It must be
    // set outside a transaction, and after the version check so a refused file is left as is.
    connection
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
        .context(|| format!("could not switch {shown} to WAL journal mode"))?;
    // FULL: a committed upsert survives a power cut too, not only a crash of this process.
    connection
        .pragma_update(None, "synchronous", "FULL")
        .context(|| format!("could not set synchronous=FULL on {shown}"))?;

    for migration in MIGRATIONS.iter().filter(|step| step.version > found) {
        let failed = || {
            format!(
                "could not upgrade the rag database at {shown} to schema version {} ({})",
                migration.version, migration.description
            )
        };
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context(failed)?;
        // Another process may have applied the step while this one waited for the lock.
        if user_version(&transaction).context(failed)? >= migration.version {
            continue;
        }
        transaction.execute_batch(migration.sql).context(failed)?;
        transaction
            .pragma_update(None, "user_version", migration.version)
            .context(failed)?;
        transaction.commit().context(failed)?;
    }
    Ok(())
}

/// The FTS5 table of collection `id`.
pub(super) fn fts_table(id: i64) -> String {
    format!("fts_{id}")
}

/// The vec0 table of collection `id`.
pub(super) fn vec_table(id: i64) -> String {
    format!("vec_{id}")
}

/// Creates collection `id`'s full-text index (kept in sync with `chunks` by triggers, so no
/// write path can forget it) and, for a collection with vectors, its vec0 table.
pub(super) fn create_collection_tables(
    connection: &Connection,
    id: i64,
    dimension: Option<usize>,
) -> rusqlite::Result<()> {
    let fts = fts_table(id);
    // External content: the text is stored once, in `chunks`. remove_diacritics 2 folds accents
    // (café = cafe) in both the index and the queries.
    let mut sql = format!(
        r#"
        CREATE VIRTUAL TABLE {fts} USING fts5 (
            text,
            content = 'chunks',
            content_rowid = 'pk',
            tokenize = 'unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER {fts}_insert AFTER INSERT ON chunks WHEN new.collection_id = {id} BEGIN
            INSERT INTO {fts} (rowid, text) VALUES (new.pk, new.text);
        END;
        CREATE TRIGGER {fts}_delete AFTER DELETE ON chunks WHEN old.collection_id = {id} BEGIN
            INSERT INTO {fts} ({fts}, rowid, text) VALUES ('delete', old.pk, old.text);
        END;
        CREATE TRIGGER {fts}_update AFTER UPDATE OF text ON chunks
        WHEN old.collection_id = {id} BEGIN
            INSERT INTO {fts} ({fts}, rowid, text) VALUES ('delete', old.pk, old.text);
            INSERT INTO {fts} (rowid, text) VALUES (new.pk, new.text);
        END;
        "#
    );
    if let Some(dimension) = dimension {
        sql.push_str(&vec_table_sql(id, dimension));
    }
    connection.execute_batch(&sql)
}

/// The statement creating collection `id`'s vec0 table, also used when a lexical-only
/// collection gains vectors.
pub(super) fn vec_table_sql(id: i64, dimension: usize) -> String {
    let vec = vec_table(id);
    // Cosine distance, so the dense score is 1 - distance.
    format!(
        "CREATE VIRTUAL TABLE {vec} USING vec0 (embedding float[{dimension}] distance_metric=cosine);"
    )
}

/// Drops collection `id`'s own tables and triggers; the caller then deletes its row, which
/// cascades to its chunks (the triggers must be gone first: they write to the dropped index).
pub(super) fn drop_collection_tables(connection: &Connection, id: i64) -> rusqlite::Result<()> {
    let fts = fts_table(id);
    let vec = vec_table(id);
    connection.execute_batch(&format!(
        r#"
        DROP TRIGGER IF EXISTS {fts}_insert;
        DROP TRIGGER IF EXISTS {fts}_delete;
        DROP TRIGGER IF EXISTS {fts}_update;
        DROP TABLE IF EXISTS {fts};
        DROP TABLE IF EXISTS {vec};
        "#
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_versions_count_up_from_one() {
        for (step, expected) in MIGRATIONS.iter().zip(1..) {
            assert_eq!(step.version, expected, "{}", step.description);
        }
        assert_eq!(LATEST_VERSION, MIGRATIONS.len() as i64);
    }
}
