//! Standing consents in the team database (`mcp_user_consents`): the same [`Grant`]s as the
//! grants file holds, one row each, shared by every process of every server on the database.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::Value;

use super::db::{Database, DbError, explain};
use crate::grants::{Grant, NewGrant};

/// The grants of one server in the team database.
#[derive(Debug, Clone)]
pub struct DbGrants {
    db: Database,
    server: String,
}

const COLUMNS: &str = "id, tool, caller, client, arguments, created, expires, source";

impl DbGrants {
    /// The grants of `server` in `db`.
    pub fn new(db: Database, server: impl Into<String>) -> DbGrants {
        DbGrants {
            db,
            server: server.into(),
        }
    }

    /// Every grant in force.
    pub async fn list(&self) -> Result<Vec<Grant>, DbError> {
        let client = self.db.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM mcp_user_consents
                     WHERE server = $1 AND (expires IS NULL OR expires > now())
                     ORDER BY created, id"
                ),
                &[&self.server],
            )
            .await
            .map_err(|e| self.db.error(explain(&e)))?;
        Ok(rows.iter().map(grant_of).collect())
    }

    /// The first grant in force covering this call: only rows for this caller (or any caller)
    /// are read, and the tool glob, client and argument patterns are matched as the file's are.
    pub async fn find(
        &self,
        tool: &str,
        caller: &str,
        client: Option<&str>,
        arguments: &serde_json::Map<String, Value>,
    ) -> Result<Option<Grant>, DbError> {
        let db_client = self.db.client().await?;
        let rows = db_client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM mcp_user_consents
                     WHERE server = $1 AND (caller IS NULL OR caller = $2)
                       AND (expires IS NULL OR expires > now())
                     ORDER BY created, id"
                ),
                &[&self.server, &caller],
            )
            .await
            .map_err(|e| self.db.error(explain(&e)))?;
        let now = SystemTime::now();
        Ok(rows
            .iter()
            .map(grant_of)
            .find(|g| !g.expired(now) && g.covers(tool, caller, client, arguments)))
    }

    /// Records a new grant and returns it; expired rows of this server are pruned.
    pub async fn add(&self, new: NewGrant) -> Result<Grant, DbError> {
        let now = SystemTime::now();
        let (grant, expires) = new.given_at(now);
        let arguments = serde_json::to_value(&grant.arguments).unwrap_or(Value::Null);
        let client = self.db.client().await?;
        let fail = |e: tokio_postgres::Error| self.db.error(explain(&e));
        client
            .execute(
                "DELETE FROM mcp_user_consents WHERE server = $1 AND expires <= now()",
                &[&self.server],
            )
            .await
            .map_err(fail)?;
        client
            .execute(
                "INSERT INTO mcp_user_consents (id, server, tool, caller, client, arguments, created, expires, source)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    &grant.id,
                    &self.server,
                    &grant.tool,
                    &grant.caller,
                    &grant.client,
                    &arguments,
                    &now,
                    &expires,
                    &grant.source,
                ],
            )
            .await
            .map_err(fail)?;
        Ok(grant)
    }

    /// Removes the grants with these ids (every grant of this server with `all`); returns them.
    pub async fn revoke(&self, ids: &[String], all: bool) -> Result<Vec<Grant>, DbError> {
        let client = self.db.client().await?;
        let rows = client
            .query(
                &format!(
                    "DELETE FROM mcp_user_consents WHERE server = $1 AND ($2 OR id = ANY($3))
                     RETURNING {COLUMNS}"
                ),
                &[&self.server, &all, &ids],
            )
            .await
            .map_err(|e| self.db.error(explain(&e)))?;
        Ok(rows.iter().map(grant_of).collect())
    }
}

fn grant_of(row: &tokio_postgres::Row) -> Grant {
    let arguments: Value = row.get("arguments");
    let arguments: BTreeMap<String, String> = serde_json::from_value(arguments).unwrap_or_default();
    let created: SystemTime = row.get("created");
    let expires: Option<SystemTime> = row.get("expires");
    Grant {
        id: row.get("id"),
        tool: row.get("tool"),
        caller: row.get("caller"),
        client: row.get("client"),
        arguments,
        created: humantime::format_rfc3339_seconds(created).to_string(),
        expires: expires.map(|t| humantime::format_rfc3339_seconds(t).to_string()),
        source: row.get("source"),
    }
}
