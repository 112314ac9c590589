//! The team database: a PostgreSQL connection pool and the schema, which the server creates and
//! migrates itself at start-up.
//!
//! Migrations are numbered and applied in order, each in its own transaction under an advisory
//! lock, so several processes starting at once against one database apply each exactly once. A
//! database already migrated further than this build knows is refused rather than used, since its
//! tables may mean something this build does not expect.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

/// One step of the schema.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Its number; the schema's version once it is applied.
    pub version: i32,
    /// What it does, in a few words, recorded beside the version.
    pub name: &'static str,
    /// The statements, run in one transaction.
    pub sql: &'static str,
}

/// Every migration, in order. Never edit one that has shipped: add the next.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "servers, tools, principals, credentials, consents",
        sql: r#"
CREATE TABLE mcp_servers (
    name        text PRIMARY KEY,
    version     text NOT NULL,
    description text NOT NULL,
    first_seen  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE mcp_tools (
    server       text NOT NULL REFERENCES mcp_servers (name) ON DELETE CASCADE,
    name         text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('read_only', 'local_write', 'write', 'destructive')),
    description  text NOT NULL,
    input_schema jsonb NOT NULL,
    offered      boolean NOT NULL,
    updated      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (server, name)
);
CREATE TABLE mcp_principals (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL UNIQUE,
    kind       text NOT NULL CHECK (kind IN ('token', 'oauth', 'local')),
    created    timestamptz NOT NULL DEFAULT now(),
    last_seen  timestamptz
);
CREATE TABLE mcp_credentials (
    principal_id bigint NOT NULL REFERENCES mcp_principals (id) ON DELETE CASCADE,
    server       text NOT NULL,
    field        text NOT NULL,
    key_id       text NOT NULL,
    nonce        bytea NOT NULL,
    sealed       bytea NOT NULL,
    updated      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal_id, server, field)
);
CREATE TABLE mcp_user_consents (
    id        text PRIMARY KEY,
    server    text NOT NULL,
    tool      text NOT NULL,
    caller    text,
    client    text,
    arguments jsonb NOT NULL DEFAULT '{}',
    created   timestamptz NOT NULL DEFAULT now(),
    expires   timestamptz,
    source    text NOT NULL
);
CREATE INDEX mcp_user_consents_server_caller ON mcp_user_consents (server, caller);
"#,
    },
    Migration {
        version: 2,
        name: "tool executions (the audit trail)",
        sql: r#"
CREATE TABLE mcp_tool_executions (
    id           bigserial PRIMARY KEY,
    record_id    text NOT NULL UNIQUE,
    time         timestamptz NOT NULL,
    server       text NOT NULL,
    tool         text NOT NULL,
    principal    text,
    caller       jsonb NOT NULL,
    arguments    jsonb NOT NULL,
    outcome      text NOT NULL,
    error        text,
    result_summary text,
    duration_ms  double precision NOT NULL,
    consent      text,
    request_id   text NOT NULL,
    notes        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX mcp_tool_executions_server_time ON mcp_tool_executions (server, time);
CREATE INDEX mcp_tool_executions_principal_time ON mcp_tool_executions (principal, time);
"#,
    },
];

/// The schema version this build creates and understands.
pub fn latest_version() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// An arbitrary constant naming the migration lock among PostgreSQL's advisory locks.
const MIGRATION_LOCK: i64 = 0x6d63_705f_7465_616d; // "mcp_team"

/// What went wrong with the team database, in words for the operator.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// `MCP_DATABASE_URL` could not be used.
    #[error("MCP_DATABASE_URL: {0}")]
    Url(String),
    /// The database could not be reached or refused a statement.
    #[error("error talking to PostgreSQL at {target}: {cause}")]
    Postgres {
        /// Host and database, never the password.
        target: String,
        /// PostgreSQL's or the connection's own words.
        cause: String,
    },
    /// The schema is newer than this build.
    #[error(
        "the database at {target} has schema version {found}, newer than this build's {known}: upgrade this server, or point it at another database"
    )]
    TooNew {
        /// Host and database.
        target: String,
        /// The version found.
        found: i32,
        /// The newest this build knows.
        known: i32,
    },
}

/// The pool of connections to the team database.
#[derive(Clone)]
pub struct Database {
    pool: Pool,
    target: String,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("target", &self.target)
            .finish()
    }
}

/// How long to wait for a connection from the pool or a new one from PostgreSQL.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

impl Database {
    /// A pool for `url` (`postgres://user:password@host:port/db`, or key=value form; a Unix socket
    /// through `host=/path`). Connects lazily: nothing is contacted yet.
    pub fn new(url: &str, max_connections: usize) -> Result<Database, DbError> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|error| DbError::Url(format!("expected a PostgreSQL URL ({error})")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.application_name("mcp-servers");
        let target = describe(&config);
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(max_connections.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|error| DbError::Url(error.to_string()))?;
        Ok(Database { pool, target })
    }

    /// Host and database name, for messages (never the password).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// A connection from the pool.
    pub async fn client(&self) -> Result<deadpool_postgres::Object, DbError> {
        self.pool.get().await.map_err(|error| self.error(error))
    }

    /// `error` as a [`DbError`] naming this database.
    pub fn error(&self, error: impl std::fmt::Display) -> DbError {
        DbError::Postgres {
            target: self.target.clone(),
            cause: error.to_string(),
        }
    }

    /// The schema version the database is at (0 when empty).
    pub async fn version(&self) -> Result<i32, DbError> {
        let client = self.client().await?;
        version_of(&client).await.map_err(|e| self.error(e))
    }

    /// Brings the schema up to this build's version; returns the versions applied now.
    pub async fn migrate(&self) -> Result<Vec<i32>, DbError> {
        self.migrate_to(latest_version()).await
    }

    /// Brings the schema up to `target` (tests use it to stop at an older version).
    pub async fn migrate_to(&self, target: i32) -> Result<Vec<i32>, DbError> {
        let mut client = self.client().await?;
        let fail = |error: tokio_postgres::Error| self.error(explain(&error));
        // Under the migration lock: two processes creating the table at once would otherwise
        // collide in PostgreSQL's catalog ("type already exists") despite IF NOT EXISTS.
        let transaction = client.transaction().await.map_err(fail)?;
        transaction
            .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(fail)?;
        transaction
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS mcp_schema_migrations (
                    version integer PRIMARY KEY,
                    name    text NOT NULL,
                    applied timestamptz NOT NULL DEFAULT now()
                )",
            )
            .await
            .map_err(fail)?;
        transaction.commit().await.map_err(fail)?;
        let mut applied = Vec::new();
        for migration in MIGRATIONS.iter().filter(|m| m.version <= target) {
            let transaction = client.transaction().await.map_err(fail)?;
            transaction
                .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
                .await
                .map_err(fail)?;
            let current = version_of(&transaction).await.map_err(fail)?;
            if current > latest_version() {
                return Err(DbError::TooNew {
                    target: self.target.clone(),
                    found: current,
                    known: latest_version(),
                });
            }
            if migration.version <= current {
                continue;
            }
            transaction
                .batch_execute(migration.sql)
                .await
                .map_err(|error| {
                    self.error(format!(
                        "migration {} ({}) failed: {}",
                        migration.version,
                        migration.name,
                        explain(&error)
                    ))
                })?;
            transaction
                .execute(
                    "INSERT INTO mcp_schema_migrations (version, name) VALUES ($1, $2)",
                    &[&migration.version, &migration.name],
                )
                .await
                .map_err(fail)?;
            transaction.commit().await.map_err(fail)?;
            tracing::info!(version = migration.version, name = migration.name, database = %self.target, "schema migrated");
            applied.push(migration.version);
        }
        if applied.is_empty() {
            let current = version_of(&client).await.map_err(fail)?;
            if current > latest_version() {
                return Err(DbError::TooNew {
                    target: self.target.clone(),
                    found: current,
                    known: latest_version(),
                });
            }
        }
        Ok(applied)
    }
}

async fn version_of(
    client: &impl deadpool_postgres::GenericClient,
) -> Result<i32, tokio_postgres::Error> {
    let exists: bool = client
        .query_one(
            "SELECT to_regclass('mcp_schema_migrations') IS NOT NULL",
            &[],
        )
        .await?
        .get(0);
    if !exists {
        return Ok(0);
    }
    let row = client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM mcp_schema_migrations",
            &[],
        )
        .await?;
    Ok(row.get(0))
}

/// PostgreSQL's own message (with its detail) rather than tokio-postgres's "db error".
pub fn explain(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_owned(),
        },
        None => {
            let mut text = error.to_string();
            let mut source = std::error::Error::source(error);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        }
    }
}

/// `host[:port]/dbname` of a configuration, without user or password.
fn describe(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|host| match host {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config
        .get_ports()
        .first()
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    let db = config.get_dbname().unwrap_or("postgres");
    format!("{host}{port}/{db}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_one_by_one() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version, index as i32 + 1, "{}", migration.name);
        }
    }

    #[test]
    fn the_target_never_shows_the_password() {
        let db = Database::new("postgres://alice:s3cret-pw@db.example:5433/team", 2)
            .expect("a valid URL");
        assert_eq!(db.target(), "db.example:5433/team");
        assert!(!format!("{db:?}").contains("s3cret"));
    }

    #[test]
    fn a_url_that_is_not_postgres_is_refused_naming_the_variable() {
        let error = Database::new("mysql://x", 2).expect_err("not PostgreSQL");
        assert!(error.to_string().starts_with("MCP_DATABASE_URL"), "{error}");
    }
}
