//! Standing consents: a user's "allow this for an hour" or an operator's "this agent may always
//! remember notes", so an agent is not asked again for the same routine act.
//!
//! A [`Grant`] names a tool (a glob), optionally a caller and a client, optionally argument
//! patterns (e.g. `to = "+34600*"`), and an expiry. Grants live in one JSON file per server in
//! its data directory (`MCP_GRANTS_FILE` to choose another), which the operator may edit by hand
//! and which `mcp-<server> grants list|add|revoke` manages. Every process serving the same server
//! reads the same file and notices changes, so a revocation takes effect at the next call.

use std::collections::BTreeMap;
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::gate::glob_matches;

/// The caller name grants use for a caller without an authenticated principal: the local user,
/// over stdio or loopback HTTP without tokens.
pub const LOCAL_CALLER: &str = "local";

/// One standing consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// A short identifier, e.g. `g-4f2a9c1e`, used to revoke it and in audit records.
    pub id: String,
    /// The tool it covers: a name or a glob.
    pub tool: String,
    /// The caller it covers: an HTTP token holder's name, or `local`; any caller when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    /// The client software it covers (its `clientInfo.name`); any client when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// Argument name → glob its value must match (strings as they are, other values as JSON).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub arguments: BTreeMap<String, String>,
    /// When it was given, RFC 3339 UTC.
    pub created: String,
    /// When it ends, RFC 3339 UTC; it lasts until revoked when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// How it was given: `elicitation`, `confirm` or `operator`.
    pub source: String,
}

impl Grant {
    /// Whether it has ended by `now`. An unreadable expiry counts as ended, so a typo in a
    /// hand-edited file never makes a grant last forever.
    pub fn expired(&self, now: SystemTime) -> bool {
        match &self.expires {
            None => false,
            Some(text) => humantime::parse_rfc3339_weak(text).map_or(true, |end| end <= now),
        }
    }

    /// Whether it covers a call of `tool` by `caller` through `client` with `arguments`.
    pub fn covers(
        &self,
        tool: &str,
        caller: &str,
        client: Option<&str>,
        arguments: &serde_json::Map<String, Value>,
    ) -> bool {
        glob_matches(&self.tool, tool)
            && self.caller.as_deref().is_none_or(|c| c == caller)
            && self
                .client
                .as_deref()
                .is_none_or(|c| client.is_some_and(|given| given == c))
            && self.arguments.iter().all(|(name, pattern)| {
                arguments.get(name).is_some_and(|value| {
                    let text = match value {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    glob_matches(pattern, &text)
                })
            })
    }
}

/// What a new grant covers and for how long.
#[derive(Debug, Clone, Default)]
pub struct NewGrant {
    /// The tool, a name or a glob.
    pub tool: String,
    /// The caller; any when `None`.
    pub caller: Option<String>,
    /// The client software; any when `None`.
    pub client: Option<String>,
    /// Argument patterns.
    pub arguments: BTreeMap<String, String>,
    /// How long it lasts; until revoked when `None`.
    pub lasts: Option<Duration>,
    /// `elicitation`, `confirm` or `operator`.
    pub source: String,
}

impl NewGrant {
    /// The grant as given at `now`, with a new id, and when it ends.
    pub(crate) fn given_at(self, now: SystemTime) -> (Grant, Option<SystemTime>) {
        // Past year 9999 humantime cannot write the date (and far enough, the addition
        // overflows): a longer grant is held to the longest one.
        let expires = self.lasts.map(|d| now + d.min(LONGEST_GRANT));
        let grant = Grant {
            id: new_grant_id(),
            tool: self.tool,
            caller: self.caller,
            client: self.client,
            arguments: self.arguments,
            created: humantime::format_rfc3339_seconds(now).to_string(),
            expires: expires.map(|t| humantime::format_rfc3339_seconds(t).to_string()),
            source: self.source,
        };
        (grant, expires)
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct GrantFile {
    #[serde(default)]
    grants: Vec<Grant>,
}

/// The file's identity when last read, to notice edits by other processes.
type Stamp = Option<(SystemTime, u64)>;

#[derive(Debug, Default)]
struct Cache {
    stamp: Stamp,
    grants: Vec<Grant>,
}

/// The grants of one server: a file shared by every process of that server, or, without a data
/// directory, memory only.
#[derive(Debug)]
pub struct GrantStore {
    path: Option<PathBuf>,
    cache: Mutex<Cache>,
}

/// Where a server's standing consents are kept: its grants file (or memory), or the team
/// database (`mcp_user_consents`) in team mode. Reading never fails a call: a store that cannot
/// be read grants nothing, so consent is asked for as usual.
#[derive(Debug, Clone)]
pub enum Grants {
    /// The grants file shared by the server's processes, or memory.
    Local(std::sync::Arc<GrantStore>),
    /// The team database.
    Team(crate::team::consents::DbGrants),
}

impl Grants {
    /// Every grant in force.
    pub async fn list(&self) -> Result<Vec<Grant>, String> {
        match self {
            Grants::Local(store) => store.list().map_err(|e| e.to_string()),
            Grants::Team(db) => db.list().await.map_err(|e| e.to_string()),
        }
    }

    /// The first grant in force covering this call, or none (also when the store cannot be read,
    /// which is logged).
    pub async fn find(
        &self,
        tool: &str,
        caller: &str,
        client: Option<&str>,
        arguments: &serde_json::Map<String, Value>,
    ) -> Option<Grant> {
        match self {
            Grants::Local(store) => store.find(tool, caller, client, arguments),
            Grants::Team(db) => match db.find(tool, caller, client, arguments).await {
                Ok(grant) => grant,
                Err(error) => {
                    tracing::warn!(%error, "could not read standing grants from the team database; asking for consent instead");
                    None
                }
            },
        }
    }

    /// Records a new grant.
    pub async fn add(&self, new: NewGrant) -> Result<Grant, String> {
        match self {
            Grants::Local(store) => store.add(new).map_err(|e| e.to_string()),
            Grants::Team(db) => db.add(new).await.map_err(|e| e.to_string()),
        }
    }

    /// Removes grants by id (all with `all`); returns those removed.
    pub async fn revoke(&self, ids: &[String], all: bool) -> Result<Vec<Grant>, String> {
        match self {
            Grants::Local(store) => store.revoke(ids, all).map_err(|e| e.to_string()),
            Grants::Team(db) => db.revoke(ids, all).await.map_err(|e| e.to_string()),
        }
    }

    /// Where they are kept, for messages.
    pub fn location(&self) -> String {
        match self {
            Grants::Local(store) => store
                .path()
                .map_or_else(|| "memory".into(), |p| p.display().to_string()),
            Grants::Team(_) => "the team database (mcp_user_consents)".into(),
        }
    }
}

/// The longest a standing consent may last: 100 years, far beyond any real use and far inside
/// the dates the grants file can hold.
pub const LONGEST_GRANT: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

impl GrantStore {
    /// Grants kept in `path` (read when first needed, created when first written).
    pub fn at(path: impl Into<PathBuf>) -> GrantStore {
        GrantStore {
            path: Some(path.into()),
            cache: Mutex::new(Cache::default()),
        }
    }

    /// Grants kept in memory for the life of the process.
    pub fn in_memory() -> GrantStore {
        GrantStore {
            path: None,
            cache: Mutex::new(Cache::default()),
        }
    }

    /// Where the grants are kept, if in a file.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Every grant that has not expired.
    pub fn list(&self) -> io::Result<Vec<Grant>> {
        let now = SystemTime::now();
        Ok(self
            .current()?
            .into_iter()
            .filter(|g| !g.expired(now))
            .collect())
    }

    /// The first unexpired grant covering this call. A file that cannot be read grants nothing
    /// (the call is then asked for as usual), and says why in the log.
    pub fn find(
        &self,
        tool: &str,
        caller: &str,
        client: Option<&str>,
        arguments: &serde_json::Map<String, Value>,
    ) -> Option<Grant> {
        let grants = match self.current() {
            Ok(grants) => grants,
            Err(error) => {
                tracing::warn!(path = ?self.path, %error, "could not read the grants file; asking for consent instead");
                return None;
            }
        };
        let now = SystemTime::now();
        grants
            .into_iter()
            .find(|g| !g.expired(now) && g.covers(tool, caller, client, arguments))
    }

    /// Records a new grant, pruning expired ones, and returns it.
    pub fn add(&self, new: NewGrant) -> io::Result<Grant> {
        let now = SystemTime::now();
        let (grant, _) = new.given_at(now);
        let added = grant.clone();
        self.modify(move |grants| {
            grants.retain(|g| !g.expired(now));
            grants.push(grant);
        })?;
        Ok(added)
    }

    /// Removes the grants with these ids (or every grant when `ids` is empty and `all` is set);
    /// returns the ones removed.
    pub fn revoke(&self, ids: &[String], all: bool) -> io::Result<Vec<Grant>> {
        let mut removed = Vec::new();
        self.modify(|grants| {
            let (gone, kept): (Vec<Grant>, Vec<Grant>) = std::mem::take(grants)
                .into_iter()
                .partition(|g| all || ids.contains(&g.id));
            *grants = kept;
            removed = gone;
        })?;
        Ok(removed)
    }

    /// The grants as the file holds them now, re-read only when it changed.
    fn current(&self) -> io::Result<Vec<Grant>> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(path) = &self.path {
            let stamp = stamp_of(path)?;
            if stamp != cache.stamp || stamp.is_none() {
                cache.grants = read_file(path)?.grants;
                cache.stamp = stamp;
            }
        }
        Ok(cache.grants.clone())
    }

    /// Read, change and write back under an exclusive lock, so two processes adding grants at
    /// once do not lose one; the write goes through a temporary file and a rename, so a reader
    /// never sees half a file.
    fn modify(&self, change: impl FnOnce(&mut Vec<Grant>)) -> io::Result<()> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let Some(path) = &self.path else {
            change(&mut cache.grants);
            return Ok(());
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path.with_extension("lock"))?;
        lock.lock()?;
        let mut file = read_file(path)?;
        change(&mut file.grants);
        let temporary = path.with_extension("tmp");
        {
            let mut out = owner_only(&temporary)?;
            let text = serde_json::to_string_pretty(&file).map_err(io::Error::other)?;
            out.write_all(text.as_bytes())?;
            out.write_all(b"\n")?;
            out.sync_all()?;
        }
        std::fs::rename(&temporary, path)?;
        cache.stamp = stamp_of(path)?;
        cache.grants = file.grants;
        lock.unlock()?;
        Ok(())
    }
}

fn stamp_of(path: &Path) -> io::Result<Stamp> {
    match std::fs::metadata(path) {
        Ok(meta) => Ok(Some((meta.modified()?, meta.len()))),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

fn read_file(path: &Path) -> io::Result<GrantFile> {
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => Ok(GrantFile::default()),
        Ok(text) => serde_json::from_str(&text).map_err(|error| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is not a valid grants file: {error}", path.display()),
            )
        }),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(GrantFile::default()),
        Err(error) => Err(error),
    }
}

fn owner_only(path: &Path) -> io::Result<File> {
    let mut options = File::options();
    options.create(true).truncate(true).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// 32 random bits as hex: enough to tell a server's grants apart, and unguessable enough that
/// revoking by id cannot hit a grant by accident.
/// A new grant id, e.g. `g-4f2a9c1e`.
fn new_grant_id() -> String {
    format!("g-{:08x}", random_u64() as u32)
}

/// A random number from the standard library's randomly keyed hasher (no extra dependency).
pub(crate) fn random_u64() -> u64 {
    let mut hasher = std::hash::RandomState::new().build_hasher();
    hasher.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(value: Value) -> serde_json::Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn a_grant_covers_its_tool_caller_client_and_argument_patterns() {
        let grant = Grant {
            id: "g-1".into(),
            tool: "send_*".into(),
            caller: Some("alice".into()),
            client: Some("claude-ai".into()),
            arguments: BTreeMap::from([("to".into(), "+34600*".into())]),
            created: "2026-01-01T00:00:00Z".into(),
            expires: None,
            source: "operator".into(),
        };
        let to = |n: &str| args(json!({"to": n, "body": "hi"}));
        assert!(grant.covers("send_sms", "alice", Some("claude-ai"), &to("+34600111222")));
        assert!(!grant.covers("send_sms", "alice", Some("claude-ai"), &to("+1555")));
        assert!(!grant.covers("send_sms", "bob", Some("claude-ai"), &to("+34600111222")));
        assert!(!grant.covers("send_sms", "alice", Some("cursor"), &to("+34600111222")));
        assert!(!grant.covers("send_sms", "alice", None, &to("+34600111222")));
        assert!(!grant.covers("make_call", "alice", Some("claude-ai"), &to("+34600111222")));
        assert!(!grant.covers("send_sms", "alice", Some("claude-ai"), &args(json!({}))));
        let numeric = Grant {
            arguments: BTreeMap::from([("id".into(), "4?".into())]),
            caller: None,
            client: None,
            ..grant
        };
        assert!(numeric.covers("send_x", "anyone", None, &args(json!({"id": 42}))));
    }

    #[test]
    fn expiry_is_checked_and_an_unreadable_one_counts_as_ended() {
        let now = SystemTime::now();
        let mut grant = Grant {
            id: "g".into(),
            tool: "*".into(),
            caller: None,
            client: None,
            arguments: BTreeMap::new(),
            created: String::new(),
            expires: Some(
                humantime::format_rfc3339_seconds(now + Duration::from_secs(60)).to_string(),
            ),
            source: "operator".into(),
        };
        assert!(!grant.expired(now));
        assert!(grant.expired(now + Duration::from_secs(61)));
        grant.expires = Some("next tuesday".into());
        assert!(grant.expired(now));
        grant.expires = None;
        assert!(!grant.expired(now + Duration::from_secs(1 << 30)));
    }

    #[test]
    fn the_file_is_shared_between_stores_and_revocation_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("grants.json");
        let server = GrantStore::at(&path);
        let cli = GrantStore::at(&path);
        assert!(
            server
                .find("store", "local", None, &args(json!({})))
                .is_none()
        );
        let added = cli
            .add(NewGrant {
                tool: "store".into(),
                caller: Some(LOCAL_CALLER.into()),
                source: "operator".into(),
                ..NewGrant::default()
            })
            .unwrap();
        assert!(added.id.starts_with("g-"));
        let found = server
            .find("store", "local", None, &args(json!({})))
            .unwrap();
        assert_eq!(found.id, added.id);
        assert_eq!(cli.list().unwrap().len(), 1);
        let removed = cli.revoke(std::slice::from_ref(&added.id), false).unwrap();
        assert_eq!(removed.len(), 1);
        assert!(
            server
                .find("store", "local", None, &args(json!({})))
                .is_none()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_broken_file_grants_nothing_and_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grants.json");
        std::fs::write(&path, "{not json").unwrap();
        let store = GrantStore::at(&path);
        assert!(store.find("x", "local", None, &args(json!({}))).is_none());
        let error = store.list().unwrap_err().to_string();
        assert!(error.contains("is not a valid grants file"), "{error}");
    }

    #[test]
    fn memory_grants_work_without_a_file() {
        let store = GrantStore::in_memory();
        store
            .add(NewGrant {
                tool: "memorize".into(),
                lasts: Some(Duration::from_secs(60)),
                source: "elicitation".into(),
                ..NewGrant::default()
            })
            .unwrap();
        assert!(
            store
                .find("memorize", "local", None, &args(json!({})))
                .is_some()
        );
        assert_eq!(store.revoke(&[], true).unwrap().len(), 1);
        assert!(store.list().unwrap().is_empty());
    }
}
