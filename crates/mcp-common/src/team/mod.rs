//! Team mode: several users of one deployment, each with their own backend credentials, consents
//! and audit trail, kept in PostgreSQL.
//!
//! `MCP_DATABASE_URL` turns it on; without it nothing here runs and a server keeps its files in
//! the data directory as before. In team mode:
//! - the schema is created and migrated at start-up ([`db`]); the server and its tools are
//!   registered in `mcp_servers` and `mcp_tools`;
//! - standing consents live in `mcp_user_consents` ([`consents`]) instead of the grants file;
//! - every tool call is a row of `mcp_tool_executions` (the audit trail, `team::audit`), still
//!   also written to the file or stderr when `MCP_AUDIT_LOG` says so;
//! - a caller may have its own credentials for a server ([`credentials`]), sealed with
//!   `MCP_CREDENTIALS_KEY` ([`keyring`]); its calls run with them, and a caller without any falls
//!   back to the server's configured credentials only with `MCP_SHARED_CREDENTIALS=true`.

pub mod audit;
pub mod cli;
pub mod consents;
pub mod credentials;
pub mod db;
#[cfg(test)]
mod db_tests;
pub mod keyring;

use std::sync::Arc;

use rmcp::model::Tool;

pub use credentials::{
    ClientCache, CredentialError, CredentialField, CredentialSet, CredentialStore,
    caller_credentials,
};
pub use db::{Database, DbError};
pub use keyring::Keyring;

use crate::config::{ConfigError, Env};
use crate::gate::ToolKind;
use crate::secret::Secret;

/// The name of the tool through which a caller sets its own credentials.
pub const SET_MY_CREDENTIALS: &str = "set_my_credentials";

/// Team mode's settings.
#[derive(Debug, Clone)]
pub struct TeamConfig {
    /// `MCP_DATABASE_URL` (it may hold a password).
    pub database_url: Secret,
    /// `MCP_SHARED_CREDENTIALS`: whether a caller without credentials of its own uses the
    /// server's configured ones (default false).
    pub shared_credentials: bool,
    /// `MCP_DATABASE_POOL`: connections per process (default 8).
    pub pool_size: usize,
    /// `MCP_AUDIT_SPOOL_MAX`: audit records kept on disk while the database is unreachable
    /// (default 100,000).
    pub audit_spool_max: usize,
}

impl TeamConfig {
    /// The settings, or `None` when `MCP_DATABASE_URL` is not set (single-user mode).
    pub fn from_env(env: &Env) -> Result<Option<TeamConfig>, ConfigError> {
        let Some(database_url) = env.secret("MCP_DATABASE_URL") else {
            for variable in ["MCP_SHARED_CREDENTIALS", "MCP_DATABASE_POOL"] {
                if env.get(variable).is_some() {
                    return Err(ConfigError::Invalid {
                        variable: variable.into(),
                        expected: "set only in team mode, with MCP_DATABASE_URL".into(),
                        found: None,
                    });
                }
            }
            return Ok(None);
        };
        if !(database_url.expose().starts_with("postgres://")
            || database_url.expose().starts_with("postgresql://"))
        {
            return Err(ConfigError::Invalid {
                variable: "MCP_DATABASE_URL".into(),
                expected: "a PostgreSQL URL, postgres://user:password@host:port/database".into(),
                found: None,
            });
        }
        Ok(Some(TeamConfig {
            database_url,
            shared_credentials: env.flag("MCP_SHARED_CREDENTIALS")?.unwrap_or(false),
            pool_size: env
                .parse("MCP_DATABASE_POOL", "a number of connections, e.g. 8")?
                .unwrap_or(8),
            audit_spool_max: env
                .parse(
                    "MCP_AUDIT_SPOOL_MAX",
                    "a number of audit records, e.g. 100000",
                )?
                .unwrap_or(100_000),
        }))
    }
}

/// How often a principal's `last_seen` is refreshed, at most.
const SEEN_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// A server's team-mode state: the database, the credentials and the policy for callers
/// without their own.
#[derive(Debug)]
pub struct Team {
    /// When each principal was last recorded in `mcp_principals` by this process.
    seen: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
    /// The database pool.
    pub db: Database,
    /// The per-caller credentials.
    pub credentials: Arc<CredentialStore>,
    /// Whether callers without their own credentials use the server's.
    pub shared_credentials: bool,
    /// The server's short name, e.g. `openai`.
    pub server: String,
}

impl Team {
    /// Connects to the database and migrates it.
    pub async fn open(
        config: &TeamConfig,
        keyring: Option<Arc<Keyring>>,
        server: &str,
    ) -> Result<Team, DbError> {
        let db = Database::new(config.database_url.expose(), config.pool_size)?;
        db.migrate().await?;
        Ok(Team {
            seen: Default::default(),
            credentials: Arc::new(CredentialStore::new(db.clone(), keyring)),
            db,
            shared_credentials: config.shared_credentials,
            server: server.to_owned(),
        })
    }

    /// Records `principal` in `mcp_principals` (created on first sight, `last_seen` refreshed at
    /// most once a minute), in the background: a call never waits for it, and a failure only
    /// logs.
    pub fn seen(&self, principal: &str) {
        {
            let Ok(mut seen) = self.seen.lock() else {
                return;
            };
            if seen
                .get(principal)
                .is_some_and(|at| at.elapsed() < SEEN_EVERY)
            {
                return;
            }
            if seen.len() > 100_000 {
                seen.clear();
            }
            seen.insert(principal.to_owned(), std::time::Instant::now());
        }
        let db = self.db.clone();
        let principal = principal.to_owned();
        tokio::spawn(async move {
            let recorded = async {
                let client = db.client().await?;
                client
                    .execute(
                        "INSERT INTO mcp_principals (name, kind, last_seen) VALUES ($1, $2, now())
                         ON CONFLICT (name) DO UPDATE SET last_seen = now()",
                        &[&principal, &credentials::principal_kind(&principal)],
                    )
                    .await
                    .map_err(|e| db.error(db::explain(&e)))
            };
            if let Err(error) = recorded.await {
                tracing::warn!(%error, "could not record a caller in mcp_principals");
            }
        });
    }

    /// Records the server and its tools in `mcp_servers` and `mcp_tools`, replacing what an
    /// earlier version registered.
    pub async fn register(
        &self,
        version: &str,
        description: &str,
        tools: &[(Tool, ToolKind, bool)],
    ) -> Result<(), DbError> {
        let mut client = self.db.client().await?;
        let fail = |e: tokio_postgres::Error| self.db.error(db::explain(&e));
        let transaction = client.transaction().await.map_err(fail)?;
        transaction
            .execute(
                "INSERT INTO mcp_servers (name, version, description) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO UPDATE
                 SET version = excluded.version, description = excluded.description, last_seen = now()",
                &[&self.server, &version, &description],
            )
            .await
            .map_err(fail)?;
        let names: Vec<String> = tools.iter().map(|(t, _, _)| t.name.to_string()).collect();
        transaction
            .execute(
                "DELETE FROM mcp_tools WHERE server = $1 AND NOT (name = ANY($2))",
                &[&self.server, &names],
            )
            .await
            .map_err(fail)?;
        for (tool, kind, offered) in tools {
            let schema = serde_json::Value::Object((*tool.input_schema).clone());
            let description = tool.description.as_deref().unwrap_or_default();
            transaction
                .execute(
                    "INSERT INTO mcp_tools (server, name, kind, description, input_schema, offered, updated)
                     VALUES ($1, $2, $3, $4, $5, $6, now())
                     ON CONFLICT (server, name) DO UPDATE
                     SET kind = excluded.kind, description = excluded.description,
                         input_schema = excluded.input_schema, offered = excluded.offered, updated = now()",
                    &[&self.server, &tool.name.as_ref(), &kind_name(*kind), &description, &schema, offered],
                )
                .await
                .map_err(fail)?;
        }
        transaction.commit().await.map_err(fail)
    }
}

/// A tool kind as `mcp_tools.kind` stores it.
pub fn kind_name(kind: ToolKind) -> &'static str {
    match kind {
        ToolKind::ReadOnly => "read_only",
        ToolKind::LocalWrite => "local_write",
        ToolKind::Write => "write",
        ToolKind::Destructive => "destructive",
    }
}
