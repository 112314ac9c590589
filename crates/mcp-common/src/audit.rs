//! The audit trail: one JSON line per tool call, with secrets redacted and long values cut, to
//! stderr or a file, and in team mode also a row per call in PostgreSQL
//! ([`AuditLog::with_database`], written by `team::audit` without ever delaying the call).

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::Mutex;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::config::AuditDestination;
use crate::identity::Caller;

/// One tool call, as written to the audit trail.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    /// When the call finished, RFC 3339 UTC with milliseconds.
    pub time: String,
    /// The server, e.g. "empresa".
    pub server: String,
    /// The tool called.
    pub tool: String,
    /// The arguments, with sensitive values replaced by `[redacted]` and long strings cut (see
    /// [`audited_arguments`]).
    pub arguments: Value,
    /// Wall time of the call in milliseconds.
    pub duration_ms: f64,
    /// `ok`, `tool_error`, `refused`, `protocol_error`, `panic` or `timeout`.
    pub outcome: &'static str,
    /// The error shown to the caller, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How consent was given for a write: `elicitation`, `argument`, `grant:<id>` (a standing
    /// grant) or `not_required`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent: Option<String>,
    /// Who called.
    pub caller: Caller,
    /// The JSON-RPC request id.
    pub request_id: String,
    /// What the tool itself recorded with [`note`] (e.g. the idempotency key a payment was sent
    /// with), secrets scrubbed.
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub notes: serde_json::Map<String, Value>,
    /// The start of a successful result's text (at most [`RESULT_SUMMARY_CHARS`] characters,
    /// secrets scrubbed), so the trail says what a call answered, not only that it succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_summary: Option<String>,
}

/// How much of a result the audit record keeps.
pub const RESULT_SUMMARY_CHARS: usize = 200;

tokio::task_local! {
    static NOTES: Mutex<serde_json::Map<String, Value>>;
}

/// Adds `key: value` to the audit record of the tool call in progress, for facts only the tool
/// knows (the idempotency key a payment went out with, the id of a message sent). Outside a
/// governed call, or in a task spawned from one, it does nothing.
pub fn note(key: &str, value: impl Into<Value>) {
    let value = value.into();
    let _ = NOTES.try_with(|notes| {
        if let Ok(mut notes) = notes.lock() {
            notes.insert(key.to_owned(), value);
        }
    });
}

/// Runs `future` collecting what it [`note`]s.
pub(crate) async fn collecting_notes<F: std::future::Future>(
    future: F,
) -> (F::Output, serde_json::Map<String, Value>) {
    NOTES
        .scope(Mutex::new(serde_json::Map::new()), async move {
            let output = future.await;
            let notes = NOTES
                .try_with(|notes| notes.lock().map(|n| n.clone()).unwrap_or_default())
                .unwrap_or_default();
            (output, notes)
        })
        .await
}

enum Sink {
    Stderr,
    File(std::fs::File),
    Off,
}

/// Where audit records are written.
pub struct AuditLog {
    sink: Mutex<Sink>,
    database: Option<crate::team::audit::DatabaseSink>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditLog")
    }
}

impl AuditLog {
    /// Opens the destination; a file is created if missing, with owner-only permissions.
    pub fn open(destination: &AuditDestination) -> std::io::Result<AuditLog> {
        let sink = match destination {
            AuditDestination::Stderr => Sink::Stderr,
            AuditDestination::Off => Sink::Off,
            AuditDestination::File(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent)?;
                }
                let mut options = OpenOptions::new();
                options.create(true).append(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    options.mode(0o600);
                }
                Sink::File(options.open(path)?)
            }
        };
        Ok(AuditLog {
            sink: Mutex::new(sink),
            database: None,
        })
    }

    /// Also writes every [`AuditRecord`] to the team database's `mcp_tool_executions`, still
    /// writing the line to the file or stderr as configured. A task on the current tokio runtime
    /// (so call this inside it) inserts the rows in batches; while the database is unreachable
    /// they wait in `spool_path` (JSON lines, 0600, at most `max_spooled` records) and are sent
    /// in order once it answers, as is whatever an earlier process left there. Fails only when
    /// the spool cannot be opened.
    pub fn with_database(
        mut self,
        db: crate::team::Database,
        spool_path: std::path::PathBuf,
        max_spooled: usize,
    ) -> std::io::Result<AuditLog> {
        self.database = Some(crate::team::audit::DatabaseSink::start(
            db,
            spool_path,
            max_spooled,
        )?);
        Ok(self)
    }

    /// The database side's state (spool, drops, reachability, shutdown), in team mode.
    pub fn database(&self) -> Option<crate::team::audit::DatabaseAudit> {
        self.database.as_ref().map(|sink| sink.state().clone())
    }

    /// Records waiting in the spool for the database (0 without one).
    pub fn spooled(&self) -> u64 {
        self.database
            .as_ref()
            .map_or(0, |sink| sink.state().spooled())
    }

    /// Records lost to the database trail because the spool was full (0 without one).
    pub fn dropped(&self) -> u64 {
        self.database
            .as_ref()
            .map_or(0, |sink| sink.state().dropped())
    }

    /// Writes one record as a single line, and hands it to the database writer in team mode. A
    /// failing write is logged, never fatal to the call, and nothing here waits on the database.
    pub fn record(&self, record: &AuditRecord) {
        self.record_serialized(record);
        if let Some(database) = &self.database {
            match serde_json::to_value(record) {
                Ok(value) => database.record(value),
                Err(error) => tracing::error!(%error, "could not serialise an audit record"),
            }
        }
    }

    /// Writes any serialisable record as a single line, for audit trails of other shapes (the
    /// `mcp-agent` client records its model and tool calls here). A failing write is logged,
    /// never fatal.
    pub fn record_serialized<T: Serialize>(&self, record: &T) {
        let mut line = match serde_json::to_vec(record) {
            Ok(line) => line,
            Err(error) => {
                tracing::error!(%error, "could not serialise an audit record");
                return;
            }
        };
        line.push(b'\n');
        let mut sink = self
            .sink
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let written = match &mut *sink {
            Sink::Off => Ok(()),
            Sink::Stderr => {
                let mut stderr = std::io::stderr().lock();
                stderr.write_all(&line).and_then(|()| stderr.flush())
            }
            Sink::File(file) => file.write_all(&line).and_then(|()| file.flush()),
        };
        if let Err(error) = written {
            tracing::error!(%error, "could not write an audit record");
        }
    }
}

/// Strings longer than this (in characters) are cut in audit records.
pub const MAX_AUDIT_STRING_CHARS: usize = 1_000;

/// How much of a cut string is kept: enough to recognise it.
const KEPT_CHARS: usize = 200;

/// The arguments as recorded: every string value (and object key) longer than
/// [`MAX_AUDIT_STRING_CHARS`] is replaced by its first characters, its size in bytes and the
/// start of its SHA-256, e.g. `"abc…[truncated: 1048576 bytes, sha256 1f2e3d4c]"`, so that one
/// huge argument cannot turn into a huge audit line while the record still says what was sent.
/// Apply it after redaction, so no hash is taken of a secret.
pub fn audited_arguments(arguments: Value) -> Value {
    match arguments {
        Value::String(text) => Value::String(truncated(text)),
        Value::Array(items) => Value::Array(items.into_iter().map(audited_arguments).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| (truncated(key), audited_arguments(value)))
                .collect(),
        ),
        other => other,
    }
}

/// `text` itself when short enough, else its prefix, size and short hash.
fn truncated(text: String) -> String {
    // Cheap test first: a string of at most this many bytes has at most as many characters.
    if text.len() <= MAX_AUDIT_STRING_CHARS || text.chars().count() <= MAX_AUDIT_STRING_CHARS {
        return text;
    }
    let digest = Sha256::digest(text.as_bytes());
    let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let prefix: String = text.chars().take(KEPT_CHARS).collect();
    format!("{prefix}…[truncated: {} bytes, sha256 {hash}]", text.len())
}

/// The current time as RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn long_strings_are_cut_to_a_prefix_size_and_hash() {
        let huge = "a".repeat(1_048_576);
        let limit = "é".repeat(MAX_AUDIT_STRING_CHARS);
        let cases = [
            (json!({"q": "short"}), json!({"q": "short"})),
            // Exactly at the limit in characters, though longer in bytes: kept.
            (json!({"q": limit.clone()}), json!({"q": limit})),
            (
                json!({"q": huge, "n": 3, "list": [true, null]}),
                json!({
                    "q": format!("{}…[truncated: 1048576 bytes, sha256 {}]", "a".repeat(KEPT_CHARS), short_sha("a", 1_048_576)),
                    "n": 3,
                    "list": [true, null]
                }),
            ),
            (
                json!({"domain": [["name", "=", "b".repeat(1_001)]]}),
                json!({"domain": [["name", "=", format!("{}…[truncated: 1001 bytes, sha256 {}]", "b".repeat(KEPT_CHARS), short_sha("b", 1_001))]]}),
            ),
        ];
        for (arguments, expected) in cases {
            assert_eq!(audited_arguments(arguments), expected);
        }
        // The whole record stays small.
        let line =
            serde_json::to_string(&audited_arguments(json!({"q": "x".repeat(1 << 20)}))).unwrap();
        assert!(line.len() < 400, "{}", line.len());
    }

    #[tokio::test]
    async fn notes_are_collected_within_a_call_only() {
        note("outside", 1);
        let (answer, notes) = collecting_notes(async {
            note("idempotency_key", "mcp-abc");
            note("replayed", true);
            42
        })
        .await;
        assert_eq!(answer, 42);
        assert_eq!(
            Value::Object(notes),
            json!({"idempotency_key": "mcp-abc", "replayed": true})
        );
    }

    fn short_sha(unit: &str, times: usize) -> String {
        let digest = Sha256::digest(unit.repeat(times).as_bytes());
        digest.iter().take(4).map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn records_are_one_json_line_each() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/audit.jsonl");
        let log = AuditLog::open(&AuditDestination::File(path.clone())).unwrap();
        for tool in ["a", "b"] {
            log.record(&AuditRecord {
                time: now_rfc3339(),
                server: "test".into(),
                tool: tool.into(),
                arguments: json!({"password": "[redacted]"}),
                duration_ms: 1.5,
                outcome: "ok",
                error: None,
                consent: None,
                caller: Caller::stdio(None),
                request_id: "1".into(),
                notes: serde_json::Map::new(),
                result_summary: None,
            });
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["tool"], "b");
        assert_eq!(lines[0]["caller"]["transport"], "stdio");
        // No notes, no field.
        assert!(lines[0].get("notes").is_none());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }
}
