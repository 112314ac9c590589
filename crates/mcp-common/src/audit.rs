//! The audit trail: one JSON line per tool call, with secrets redacted.

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::Mutex;

use serde::Serialize;
use serde_json::Value;

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
    /// The arguments, with sensitive values replaced by `[redacted]`.
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
}

enum Sink {
    Stderr,
    File(std::fs::File),
    Off,
}

/// Where audit records are written.
pub struct AuditLog {
    sink: Mutex<Sink>,
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
        })
    }

    /// Writes one record as a single line. A failing write is logged, never fatal to the call.
    pub fn record(&self, record: &AuditRecord) {
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

/// The current time as RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
