//! Each caller's own backend credentials (`mcp_credentials`), sealed with the [`Keyring`], and
//! the set a tool call runs with.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};

use super::db::{Database, DbError, explain};
use super::keyring::{Keyring, Sealed};
use crate::secret::Secret;

/// A credential a caller may bring for a server, as the server declares it
/// ([`crate::Domain::credential_fields`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialField {
    /// The field's name, e.g. `api_key`; also the argument name of `set_my_credentials`.
    pub name: &'static str,
    /// What it is, for the tool's schema and `credentials --help`.
    pub description: &'static str,
    /// Whether a set without it is incomplete.
    pub required: bool,
}

/// One caller's credentials for one server, opened.
#[derive(Clone)]
pub struct CredentialSet {
    principal: String,
    values: BTreeMap<String, Secret>,
    fingerprint: [u8; 32],
}

impl std::fmt::Debug for CredentialSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialSet")
            .field("principal", &self.principal)
            .field("fields", &self.values.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl CredentialSet {
    /// A set of values for `principal` (the values are registered for scrubbing).
    pub fn new(principal: impl Into<String>, values: BTreeMap<String, Secret>) -> CredentialSet {
        let mut hasher = Sha256::new();
        for (name, value) in &values {
            hasher.update((name.len() as u64).to_le_bytes());
            hasher.update(name.as_bytes());
            hasher.update((value.expose().len() as u64).to_le_bytes());
            hasher.update(value.expose().as_bytes());
        }
        CredentialSet {
            principal: principal.into(),
            values,
            fingerprint: hasher.finalize().into(),
        }
    }

    /// Whose credentials these are.
    pub fn principal(&self) -> &str {
        &self.principal
    }

    /// The value of `field`, if the caller set it.
    pub fn get(&self, field: &str) -> Option<&Secret> {
        self.values.get(field)
    }

    /// A digest of the values, the key under which a server keeps a backend client per set
    /// ([`ClientCache`]): two callers with the same key share one client, a changed key gets a
    /// new one. Never shown.
    pub fn fingerprint(&self) -> [u8; 32] {
        self.fingerprint
    }
}

/// A field as `credentials list` shows it: never the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredField {
    /// The caller.
    pub principal: String,
    /// The server.
    pub server: String,
    /// The field.
    pub field: String,
    /// The key that sealed it.
    pub key_id: String,
    /// When it was last set.
    pub updated: SystemTime,
}

/// What went wrong with stored credentials.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// No `MCP_CREDENTIALS_KEY`, so nothing can be sealed or opened.
    #[error(
        "team mode keeps per-user credentials sealed with MCP_CREDENTIALS_KEY, which is not set (make one with `mcp-<server> credentials new-key`)"
    )]
    NoKey,
    /// A stored value does not open.
    #[error("the stored {field} of {principal} for {server} cannot be opened: {cause}")]
    Unopenable {
        /// The caller.
        principal: String,
        /// The server.
        server: String,
        /// The field.
        field: String,
        /// Why.
        cause: String,
    },
    /// Bad input.
    #[error("{0}")]
    Invalid(String),
}

/// How long an opened set is reused before the database is read again. Short, so a key changed
/// by another process (the CLI) takes effect within a second or two.
const CACHE_FOR: Duration = Duration::from_secs(2);

/// A set read at an instant (none when the caller has none), by (principal, server).
type Opened = (Instant, Option<Arc<CredentialSet>>);

/// The credentials table, through the keyring.
pub struct CredentialStore {
    db: Database,
    keyring: Option<Arc<Keyring>>,
    cache: Mutex<HashMap<(String, String), Opened>>,
}

impl std::fmt::Debug for CredentialStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialStore")
            .field("db", &self.db)
            .finish()
    }
}

/// The associated data binding a sealed value to its row.
fn row_name(principal: &str, server: &str, field: &str) -> String {
    format!("mcp_credentials\n{principal}\n{server}\n{field}")
}

/// The kind of principal a name is, for `mcp_principals.kind`.
pub fn principal_kind(name: &str) -> &'static str {
    if name.starts_with("oauth:") {
        "oauth"
    } else if name == crate::grants::LOCAL_CALLER {
        "local"
    } else {
        "token"
    }
}

impl CredentialStore {
    /// The store over `db`, sealing with `keyring` (without one, reading and writing fail with
    /// [`CredentialError::NoKey`]).
    pub fn new(db: Database, keyring: Option<Arc<Keyring>>) -> CredentialStore {
        CredentialStore {
            db,
            keyring,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The id of the key new values are sealed with, if a key is configured.
    pub fn key_id(&self) -> Option<&str> {
        self.keyring.as_deref().map(Keyring::current_id)
    }

    fn keyring(&self) -> Result<&Keyring, CredentialError> {
        self.keyring.as_deref().ok_or(CredentialError::NoKey)
    }

    /// Sets (replaces) fields of `principal`'s credentials for `server`, creating the principal.
    pub async fn set(
        &self,
        principal: &str,
        server: &str,
        values: &BTreeMap<String, Secret>,
    ) -> Result<(), CredentialError> {
        if values.is_empty() {
            return Err(CredentialError::Invalid(
                "no credential values given".into(),
            ));
        }
        let keyring = self.keyring()?;
        let mut sealed = Vec::new();
        for (field, value) in values {
            let row = row_name(principal, server, field);
            let value = keyring
                .seal(&row, value.expose().as_bytes())
                .map_err(|e| CredentialError::Invalid(e.to_string()))?;
            sealed.push((field.clone(), value));
        }
        let mut client = self.db.client().await?;
        let fail = |e: tokio_postgres::Error| CredentialError::Db(self.db.error(explain(&e)));
        let transaction = client.transaction().await.map_err(fail)?;
        let id: i64 = transaction
            .query_one(
                "INSERT INTO mcp_principals (name, kind) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id",
                &[&principal, &principal_kind(principal)],
            )
            .await
            .map_err(fail)?
            .get(0);
        for (field, value) in &sealed {
            transaction
                .execute(
                    "INSERT INTO mcp_credentials (principal_id, server, field, key_id, nonce, sealed, updated)
                     VALUES ($1, $2, $3, $4, $5, $6, now())
                     ON CONFLICT (principal_id, server, field) DO UPDATE
                     SET key_id = excluded.key_id, nonce = excluded.nonce, sealed = excluded.sealed, updated = now()",
                    &[&id, &server, field, &value.key_id, &value.nonce, &value.sealed],
                )
                .await
                .map_err(fail)?;
        }
        transaction.commit().await.map_err(fail)?;
        self.forget(principal, server);
        Ok(())
    }

    /// `principal`'s credentials for `server`, opened; `None` when it has none. Reused for a
    /// second or two.
    pub async fn get(
        &self,
        principal: &str,
        server: &str,
    ) -> Result<Option<Arc<CredentialSet>>, CredentialError> {
        let key = (principal.to_owned(), server.to_owned());
        if let Ok(cache) = self.cache.lock()
            && let Some((when, set)) = cache.get(&key)
            && when.elapsed() < CACHE_FOR
        {
            return Ok(set.clone());
        }
        let set = self.read(principal, server).await?.map(Arc::new);
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() > 10_000 {
                cache.retain(|_, (when, _)| when.elapsed() < CACHE_FOR);
            }
            cache.insert(key, (Instant::now(), set.clone()));
        }
        Ok(set)
    }

    async fn read(
        &self,
        principal: &str,
        server: &str,
    ) -> Result<Option<CredentialSet>, CredentialError> {
        let client = self.db.client().await?;
        let rows = client
            .query(
                "SELECT c.field, c.key_id, c.nonce, c.sealed
                 FROM mcp_credentials c JOIN mcp_principals p ON p.id = c.principal_id
                 WHERE p.name = $1 AND c.server = $2",
                &[&principal, &server],
            )
            .await
            .map_err(|e| self.db.error(explain(&e)))?;
        if rows.is_empty() {
            return Ok(None);
        }
        let keyring = self.keyring()?;
        let mut values = BTreeMap::new();
        for row in rows {
            let field: String = row.get(0);
            let sealed = Sealed {
                key_id: row.get(1),
                nonce: row.get(2),
                sealed: row.get(3),
            };
            let plain = keyring
                .open(&row_name(principal, server, &field), &sealed)
                .map_err(|e| CredentialError::Unopenable {
                    principal: principal.into(),
                    server: server.into(),
                    field: field.clone(),
                    cause: e.to_string(),
                })?;
            let text = String::from_utf8(plain).map_err(|_| CredentialError::Unopenable {
                principal: principal.into(),
                server: server.into(),
                field: field.clone(),
                cause: "not text".into(),
            })?;
            values.insert(field, Secret::new(text));
        }
        Ok(Some(CredentialSet::new(principal, values)))
    }

    /// Every stored field (of `server` when given), never the values.
    pub async fn list(&self, server: Option<&str>) -> Result<Vec<StoredField>, CredentialError> {
        let client = self.db.client().await?;
        let rows = client
            .query(
                "SELECT p.name, c.server, c.field, c.key_id, c.updated
                 FROM mcp_credentials c JOIN mcp_principals p ON p.id = c.principal_id
                 WHERE $1::text IS NULL OR c.server = $1
                 ORDER BY p.name, c.server, c.field",
                &[&server],
            )
            .await
            .map_err(|e| self.db.error(explain(&e)))?;
        Ok(rows
            .iter()
            .map(|row| StoredField {
                principal: row.get(0),
                server: row.get(1),
                field: row.get(2),
                key_id: row.get(3),
                updated: row.get(4),
            })
            .collect())
    }

    /// Deletes `principal`'s credentials for `server` (only `fields` when not empty); returns how
    /// many fields were deleted.
    pub async fn delete(
        &self,
        principal: &str,
        server: &str,
        fields: &[String],
    ) -> Result<u64, CredentialError> {
        let client = self.db.client().await?;
        let deleted = client
            .execute(
                "DELETE FROM mcp_credentials c USING mcp_principals p
                 WHERE p.id = c.principal_id AND p.name = $1 AND c.server = $2
                   AND (cardinality($3::text[]) = 0 OR c.field = ANY($3))",
                &[&principal, &server, &fields],
            )
            .await
            .map_err(|e| self.db.error(explain(&e)))?;
        self.forget(principal, server);
        Ok(deleted)
    }

    /// Re-seals every value not sealed with the current key; returns how many were re-sealed.
    /// Run it after moving the old key to `MCP_CREDENTIALS_OLD_KEYS`; once it reports 0, the old
    /// key can be dropped.
    pub async fn rotate(&self) -> Result<u64, CredentialError> {
        let keyring = self.keyring()?;
        let mut client = self.db.client().await?;
        let fail = |e: tokio_postgres::Error| CredentialError::Db(self.db.error(explain(&e)));
        let transaction = client.transaction().await.map_err(fail)?;
        let rows = transaction
            .query(
                "SELECT c.principal_id, p.name, c.server, c.field, c.key_id, c.nonce, c.sealed
                 FROM mcp_credentials c JOIN mcp_principals p ON p.id = c.principal_id
                 WHERE c.key_id <> $1 FOR UPDATE OF c",
                &[&keyring.current_id()],
            )
            .await
            .map_err(fail)?;
        let mut count = 0;
        for row in rows {
            let (id, principal, server, field): (i64, String, String, String) =
                (row.get(0), row.get(1), row.get(2), row.get(3));
            let name = row_name(&principal, &server, &field);
            let sealed = Sealed {
                key_id: row.get(4),
                nonce: row.get(5),
                sealed: row.get(6),
            };
            let plain = keyring
                .open(&name, &sealed)
                .map_err(|e| CredentialError::Unopenable {
                    principal: principal.clone(),
                    server: server.clone(),
                    field: field.clone(),
                    cause: e.to_string(),
                })?;
            let resealed = keyring
                .seal(&name, &plain)
                .map_err(|e| CredentialError::Invalid(e.to_string()))?;
            transaction
                .execute(
                    "UPDATE mcp_credentials SET key_id = $4, nonce = $5, sealed = $6
                     WHERE principal_id = $1 AND server = $2 AND field = $3",
                    &[
                        &id,
                        &server,
                        &field,
                        &resealed.key_id,
                        &resealed.nonce,
                        &resealed.sealed,
                    ],
                )
                .await
                .map_err(fail)?;
            count += 1;
        }
        transaction.commit().await.map_err(fail)?;
        if let Ok(mut cache) = self.cache.lock() {
            cache.clear();
        }
        Ok(count)
    }

    fn forget(&self, principal: &str, server: &str) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(&(principal.to_owned(), server.to_owned()));
        }
    }
}

tokio::task_local! {
    static CALL_CREDENTIALS: Option<Arc<CredentialSet>>;
}

/// Runs `future` with `set` as the caller's credentials ([`caller_credentials`]).
pub(crate) async fn with_credentials<F: std::future::Future>(
    set: Option<Arc<CredentialSet>>,
    future: F,
) -> F::Output {
    CALL_CREDENTIALS.scope(set, future).await
}

/// The credentials of the caller of the tool call in progress, in team mode when the caller has
/// its own for this server; `None` means "use the server's configured credentials" (single-user
/// mode, or team mode with `MCP_SHARED_CREDENTIALS`). A server reads it in the tool, before
/// spawning any task (a task-local does not follow into spawned tasks), and picks its backend
/// client with [`ClientCache`].
pub fn caller_credentials() -> Option<Arc<CredentialSet>> {
    CALL_CREDENTIALS.try_with(Clone::clone).ok().flatten()
}

/// A cached client and when it was last used.
type Kept<T> = (Instant, Arc<T>);

/// Backend clients kept per credential set, so each caller's calls go out with its own
/// credentials and one caller's failures (a circuit breaker opened by a wrong key) never touch
/// another's. Bounded, with clients unused for a while evicted first.
pub struct ClientCache<T> {
    /// Each client with when it was last used, by credential fingerprint.
    entries: Mutex<HashMap<[u8; 32], Kept<T>>>,
    capacity: usize,
    idle: Duration,
}

impl<T> std::fmt::Debug for ClientCache<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len = self.entries.lock().map(|e| e.len()).unwrap_or(0);
        f.debug_struct("ClientCache")
            .field("clients", &len)
            .finish()
    }
}

impl<T> Default for ClientCache<T> {
    fn default() -> Self {
        ClientCache::new(1_000, Duration::from_secs(15 * 60))
    }
}

impl<T> ClientCache<T> {
    /// At most `capacity` clients; one unused for `idle` is dropped at the next insertion.
    pub fn new(capacity: usize, idle: Duration) -> ClientCache<T> {
        ClientCache {
            entries: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
            idle,
        }
    }

    /// The client for `set`, built by `build` the first time (or after eviction).
    pub fn get_or_try_insert<E>(
        &self,
        set: &CredentialSet,
        build: impl FnOnce(&CredentialSet) -> Result<T, E>,
    ) -> Result<Arc<T>, E> {
        let key = set.fingerprint();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((used, client)) = entries.get_mut(&key) {
            *used = Instant::now();
            return Ok(client.clone());
        }
        let client = Arc::new(build(set)?);
        entries.retain(|_, (used, _)| used.elapsed() < self.idle);
        while entries.len() >= self.capacity {
            let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, (used, _))| *used)
                .map(|(key, _)| *key)
            else {
                break;
            };
            entries.remove(&oldest);
        }
        entries.insert(key, (Instant::now(), client.clone()));
        Ok(client)
    }

    /// How many clients are kept.
    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(principal: &str, key: &str) -> CredentialSet {
        CredentialSet::new(
            principal,
            BTreeMap::from([("api_key".to_owned(), Secret::new(key))]),
        )
    }

    #[test]
    fn the_cache_keeps_one_client_per_credential_set_and_evicts_the_least_recent() {
        let cache: ClientCache<String> = ClientCache::new(2, Duration::from_secs(60));
        let built = std::cell::Cell::new(0);
        let build = |s: &CredentialSet| {
            built.set(built.get() + 1);
            Ok::<_, ()>(s.principal().to_owned())
        };
        let alice = set("alice", "sk-alice-000001");
        let bob = set("bob", "sk-bob-00000001");
        let carol = set("carol", "sk-carol-000001");
        assert_eq!(*cache.get_or_try_insert(&alice, build).unwrap(), "alice");
        assert_eq!(*cache.get_or_try_insert(&alice, build).unwrap(), "alice");
        assert_eq!(built.get(), 1);
        cache.get_or_try_insert(&bob, build).unwrap();
        cache.get_or_try_insert(&alice, build).unwrap();
        cache.get_or_try_insert(&carol, build).unwrap();
        assert_eq!(cache.len(), 2);
        // bob was the least recently used, so he is rebuilt.
        cache.get_or_try_insert(&bob, build).unwrap();
        assert_eq!(built.get(), 4);
    }

    /// Against a real PostgreSQL: values sealed under one key open after rotation to another,
    /// are re-sealed by `rotate`, then open without the old key; the rows never hold plaintext;
    /// a row's value moved to another caller's row does not open.
    #[tokio::test]
    async fn credentials_survive_key_rotation_and_never_sit_in_plaintext() {
        let Some(pg) = pg_cluster::PgCluster::for_tests() else {
            return;
        };
        let db = Database::new(&pg.new_database("credentials").unwrap(), 2).unwrap();
        db.migrate().await.unwrap();
        let old = Arc::new(Keyring::from_keys([1; 32], &[]));
        let store = CredentialStore::new(db.clone(), Some(old.clone()));
        let values = |key: &str| BTreeMap::from([("api_key".to_owned(), Secret::new(key))]);
        store
            .set("alice", "openai", &values("sk-alice-plain-1"))
            .await
            .unwrap();
        store
            .set("bob", "openai", &values("sk-bob-plain-002"))
            .await
            .unwrap();
        let client = db.client().await.unwrap();
        let dump: String = client
            .query_one(
                "SELECT string_agg(encode(sealed, 'escape'), '|') FROM mcp_credentials",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert!(!dump.contains("plain"), "{dump}");

        let rotated = Arc::new(Keyring::from_keys([2; 32], &[[1; 32]]));
        let store = CredentialStore::new(db.clone(), Some(rotated.clone()));
        let alice = store.get("alice", "openai").await.unwrap().unwrap();
        assert_eq!(alice.get("api_key").unwrap().expose(), "sk-alice-plain-1");
        assert_eq!(store.rotate().await.unwrap(), 2);
        assert_eq!(store.rotate().await.unwrap(), 0);
        let listed = store.list(Some("openai")).await.unwrap();
        assert!(
            listed.iter().all(|f| f.key_id == rotated.current_id()),
            "{listed:?}"
        );

        let only_new =
            CredentialStore::new(db.clone(), Some(Arc::new(Keyring::from_keys([2; 32], &[]))));
        let bob = only_new.get("bob", "openai").await.unwrap().unwrap();
        assert_eq!(bob.get("api_key").unwrap().expose(), "sk-bob-plain-002");

        // Alice's sealed value copied into Bob's row does not open as Bob's.
        client
            .execute(
                "UPDATE mcp_credentials SET nonce = a.nonce, sealed = a.sealed
                 FROM (SELECT c.nonce, c.sealed FROM mcp_credentials c JOIN mcp_principals p ON p.id = c.principal_id WHERE p.name = 'alice') a
                 WHERE principal_id = (SELECT id FROM mcp_principals WHERE name = 'bob')",
                &[],
            )
            .await
            .unwrap();
        let fresh = CredentialStore::new(db.clone(), Some(rotated));
        let error = fresh.get("bob", "openai").await.unwrap_err().to_string();
        assert!(error.contains("cannot be opened"), "{error}");

        assert_eq!(fresh.delete("alice", "openai", &[]).await.unwrap(), 1);
        assert!(fresh.get("alice", "openai").await.unwrap().is_none());
    }

    #[test]
    fn a_changed_key_is_another_set() {
        assert_ne!(
            set("alice", "sk-one-0000001").fingerprint(),
            set("alice", "sk-two-0000001").fingerprint()
        );
        assert!(!format!("{:?}", set("alice", "sk-hidden-00001")).contains("hidden"));
    }
}
