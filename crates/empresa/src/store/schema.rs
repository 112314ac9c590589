//! Connection settings and schema migrations, versioned with `PRAGMA user_version`.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use super::error::{DbContext, StoreError};

/// How long a statement waits for another connection's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// One step of the schema history. Steps are applied in order, each in its own transaction,
/// and never edited once released: a change to the schema is a new step.
pub(crate) struct Migration {
    /// The `user_version` the database has after this step.
    pub version: i64,
    /// What the step does, for error messages.
    pub description: &'static str,
    /// The statements of the step.
    pub sql: &'static str,
}

/// The whole schema history, oldest first.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "create the company and document tables",
        sql: r#"
            CREATE TABLE store_meta (
                key   TEXT PRIMARY KEY,
                value TEXT NOT NULL
            ) WITHOUT ROWID;

            CREATE TABLE companies (
                id            INTEGER PRIMARY KEY,
                name          TEXT NOT NULL,
                -- Folded name (lowercase, no accents, letters and digits only): the uniqueness key.
                name_norm     TEXT NOT NULL CHECK (name_norm <> ''),
                legal_id      TEXT,
                employees     INTEGER CHECK (employees IS NULL OR employees >= 0),
                industry      TEXT,
                industry_norm TEXT,
                city          TEXT,
                city_norm     TEXT,
                country       TEXT,
                country_norm  TEXT,
                website       TEXT,
                email         TEXT,
                phone         TEXT,
                description   TEXT,
                created_at    TEXT NOT NULL,
                updated_at    TEXT NOT NULL
            );
            CREATE UNIQUE INDEX companies_name_norm ON companies (name_norm);
            CREATE INDEX companies_industry_norm ON companies (industry_norm);
            CREATE INDEX companies_city_norm ON companies (city_norm);
            CREATE INDEX companies_country_norm ON companies (country_norm);

            CREATE TABLE documents (
                id         INTEGER PRIMARY KEY,
                title      TEXT NOT NULL CHECK (title <> ''),
                body       TEXT NOT NULL,
                company_id INTEGER REFERENCES companies (id) ON DELETE CASCADE,
                -- JSON array of strings.
                tags       TEXT NOT NULL DEFAULT '[]',
                date       TEXT,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            );
            CREATE INDEX documents_company_id ON documents (company_id);
        "#,
    },
    Migration {
        version: 2,
        description: "add the full-text index over documents",
        sql: r#"
            CREATE VIRTUAL TABLE documents_fts USING fts5 (
                title, body, tags,
                content = 'documents',
                content_rowid = 'id',
                tokenize = 'unicode61 remove_diacritics 2'
            );

            CREATE TRIGGER documents_fts_after_insert AFTER INSERT ON documents BEGIN
                INSERT INTO documents_fts (rowid, title, body, tags)
                VALUES (new.id, new.title, new.body, new.tags);
            END;

            CREATE TRIGGER documents_fts_after_delete AFTER DELETE ON documents BEGIN
                INSERT INTO documents_fts (documents_fts, rowid, title, body, tags)
                VALUES ('delete', old.id, old.title, old.body, old.tags);
            END;

            CREATE TRIGGER documents_fts_after_update AFTER UPDATE ON documents BEGIN
                INSERT INTO documents_fts (documents_fts, rowid, title, body, tags)
                VALUES ('delete', old.id, old.title, old.body, old.tags);
                INSERT INTO documents_fts (rowid, title, body, tags)
                VALUES (new.id, new.title, new.body, new.tags);
            END;

            -- Index the documents written before this step.
            INSERT INTO documents_fts (documents_fts) VALUES ('rebuild');
        "#,
    },
];

/// The newest schema version this program knows.
pub(crate) const LATEST_VERSION: i64 = MIGRATIONS.len() as i64;

/// Applies the per-connection settings that do not depend on the schema.
pub(crate) fn configure(connection: &Connection, path: &Path) -> Result<(), StoreError> {
    let shown = path.display();
    connection
        .busy_timeout(BUSY_TIMEOUT)
        .with_context(|| format!("could not set the busy timeout on {shown}"))?;
    connection
        .pragma_update(None, "foreign_keys", true)
        .with_context(|| format!("could not enable foreign keys on {shown}"))?;
    Ok(())
}

/// Reads the schema version stored in the file.
pub(crate) fn user_version(connection: &Connection) -> rusqlite::Result<i64> {
    connection.pragma_query_value(None, "user_version", |row| row.get(0))
}

/// Brings the schema up to [`LATEST_VERSION`], refusing files from a newer program.
pub(crate) fn migrate(connection: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let shown = path.display();
    let found = user_version(connection)
        .with_context(|| format!("could not open the company database at {shown}"))?;
    if found > LATEST_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: LATEST_VERSION,
        });
    }
    // WAL lets readers in other processes proceed while this one writes; it must be set
    // outside a transaction and after the version check, so a refused file is left untouched.
    connection
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
        .with_context(|| format!("could not switch {shown} to WAL journal mode"))?;

    for migration in MIGRATIONS.iter().filter(|step| step.version > found) {
        let failed = || {
            format!(
                "could not upgrade the company database at {shown} to schema version {} ({})",
                migration.version, migration.description
            )
        };
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .with_context(failed)?;
        // Another process may have applied the step while this one waited for the lock.
        let current = user_version(&transaction).with_context(failed)?;
        if current >= migration.version {
            continue;
        }
        transaction
            .execute_batch(migration.sql)
            .with_context(failed)?;
        transaction
            .pragma_update(None, "user_version", migration.version)
            .with_context(failed)?;
        transaction.commit().with_context(failed)?;
    }
    Ok(())
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
