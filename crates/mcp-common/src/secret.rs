//! Secrets that never print, and scrubbing of any text that might contain one.
//!
//! Every [`Secret`] registers its value in a process-wide list so that the runtime can scrub tool
//! output, error messages and audit records before they leave the process, even when a backend
//! echoes a credential back in an error body.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, RwLock};

use serde_json::Value;

/// What a secret, or a redacted argument, is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Secrets shorter than this are not scrubbed from free text: replacing every "abc" in an output
/// would mangle it while protecting nothing.
const MIN_SCRUB_LEN: usize = 6;

static REGISTERED: RwLock<Vec<Arc<str>>> = RwLock::new(Vec::new());

/// A credential: its `Debug` and `Display` print `[redacted]`, and its value is scrubbed from
/// everything the runtime returns or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wraps `value` and registers it for scrubbing.
    pub fn new(value: impl Into<String>) -> Self {
        let value: Arc<str> = Arc::from(value.into());
        if value.len() >= MIN_SCRUB_LEN
            && let Ok(mut registered) = REGISTERED.write()
            && !registered.iter().any(|known| **known == *value)
        {
            registered.push(value.clone());
        }
        Secret(value)
    }

    /// The secret value, for the one place that must send it (an auth header, a login call).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares with `candidate` in time that depends only on the lengths, not on where the
    /// first difference is.
    pub fn matches(&self, candidate: &[u8]) -> bool {
        constant_time_eq(self.0.as_bytes(), candidate)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Byte comparison whose running time does not reveal the position of the first mismatch.
pub fn constant_time_eq(expected: &[u8], candidate: &[u8]) -> bool {
    let mut difference = (expected.len() ^ candidate.len()) as u64;
    for (idx, expected_byte) in expected.iter().enumerate() {
        // Compare against a byte of the candidate even when it is shorter, so that the loop always
        // runs over the whole expected value.
        let candidate_byte = candidate.get(idx).copied().unwrap_or(!expected_byte);
        difference |= u64::from(expected_byte ^ candidate_byte);
    }
    difference == 0
}

/// Whether any secret has been registered, so that scrubbing can be skipped when none has.
pub fn any_registered() -> bool {
    REGISTERED
        .read()
        .map(|registered| !registered.is_empty())
        .unwrap_or(true)
}

/// Replaces every registered secret in `text` with `[redacted]`.
pub fn scrub(text: &str) -> Cow<'_, str> {
    let Ok(registered) = REGISTERED.read() else {
        return Cow::Borrowed(text);
    };
    let mut scrubbed = Cow::Borrowed(text);
    for secret in registered.iter() {
        if scrubbed.contains(&**secret) {
            scrubbed = Cow::Owned(scrubbed.replace(&**secret, REDACTED));
        }
    }
    scrubbed
}

/// Scrubs registered secrets from every string inside a JSON value.
pub fn scrub_json(value: &mut Value) {
    match value {
        Value::String(text) => {
            if let Cow::Owned(clean) = scrub(text) {
                *text = clean;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(scrub_json),
        Value::Object(map) => map.values_mut().for_each(scrub_json),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Whether an argument or field name denotes a credential, judged by its name alone.
pub fn is_sensitive_key(key: &str) -> bool {
    let folded: String = key
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    const MARKERS: [&str; 14] = [
        "password",
        "passwd",
        "secret",
        "token",
        "apikey",
        "accesskey",
        "privatekey",
        "authorization",
        "credential",
        "cookie",
        "cardnumber",
        "cvc",
        "cvv",
        "signature",
    ];
    folded == "pwd" || folded == "pin" || MARKERS.iter().any(|marker| folded.contains(marker))
}

/// A copy of tool arguments fit for logs and audit records: values under sensitive keys (and
/// under any of `extra_keys`) become `[redacted]`, and registered secrets are scrubbed from the
/// rest.
pub fn redact_arguments(arguments: &Value, extra_keys: &[&str]) -> Value {
    fn walk(value: &Value, extra_keys: &[&str]) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(key, inner)| {
                        let hidden = is_sensitive_key(key) || extra_keys.contains(&key.as_str());
                        let shown = if hidden {
                            Value::String(REDACTED.to_owned())
                        } else {
                            walk(inner, extra_keys)
                        };
                        (key.clone(), shown)
                    })
                    .collect(),
            ),
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| walk(v, extra_keys)).collect())
            }
            other => {
                let mut copy = other.clone();
                scrub_json(&mut copy);
                copy
            }
        }
    }
    walk(arguments, extra_keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_never_formats_its_value() {
        let secret = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{secret}"), REDACTED);
        assert_eq!(format!("{secret:?}"), REDACTED);
        assert_eq!(format!("{:?}", Some(&secret)), "Some([redacted])");
        assert_eq!(secret.expose(), "hunter2-very-secret");
    }

    #[test]
    fn registered_secrets_are_scrubbed_from_text_and_json() {
        let _secret = Secret::new("sk_live_scrub_me_123");
        assert_eq!(
            scrub("backend said: bad key sk_live_scrub_me_123 for user"),
            "backend said: bad key [redacted] for user"
        );
        let mut value = json!({"a": ["x sk_live_scrub_me_123 y"], "b": 3});
        scrub_json(&mut value);
        assert_eq!(value, json!({"a": ["x [redacted] y"], "b": 3}));
    }

    #[test]
    fn constant_time_eq_compares_whole_values() {
        let cases: [(&[u8], &[u8], bool); 5] = [
            (b"token", b"token", true),
            (b"token", b"tokem", false),
            (b"token", b"toke", false),
            (b"token", b"token!", false),
            (b"", b"", true),
        ];
        for (expected, candidate, equal) in cases {
            assert_eq!(
                constant_time_eq(expected, candidate),
                equal,
                "{expected:?} vs {candidate:?}"
            );
        }
    }

    #[test]
    fn sensitive_keys_are_recognised_by_name() {
        let cases = [
            ("password", true),
            ("ODOO_PASSWORD", true),
            ("api_key", true),
            ("apiKey", true),
            ("auth_token", true),
            ("card-number", true),
            ("nombre", false),
            ("author", false),
            ("tokens_used", true),
            ("pin", true),
            ("employees", false),
        ];
        for (key, sensitive) in cases {
            assert_eq!(is_sensitive_key(key), sensitive, "{key}");
        }
    }

    #[test]
    fn arguments_are_redacted_recursively() {
        let arguments = json!({"nombre": "Acme", "auth": {"password": "p", "user": "u"}, "list": [{"api_key": "k"}], "note": "n"});
        let redacted = redact_arguments(&arguments, &["note"]);
        assert_eq!(
            redacted,
            json!({"nombre": "Acme", "auth": {"password": "[redacted]", "user": "u"}, "list": [{"api_key": "[redacted]"}], "note": "[redacted]"})
        );
    }
}
