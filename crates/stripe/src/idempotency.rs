//! Idempotency keys for writes, derived from what the call asks for.
//!
//! An agent that repeats a call after a timeout or a lost answer sends the same tool and the
//! same arguments again. Deriving the key from (tool, canonical arguments, caller, account)
//! makes that repeat carry the key of the first call, so Stripe answers it from its
//! idempotency cache instead of charging twice. The key is remembered for the window
//! (`STRIPE_IDEMPOTENCY_WINDOW_SECS`): after it, the same call is a new request. A caller who
//! really wants a second identical payment passes its own `idempotency_key`.
//!
//! Keys are remembered in memory. A process that restarts within the window still derives the
//! same key as long as the window's time bucket has not changed, because the key also depends
//! on the bucket the first call fell in.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The keys handed out in the last window.
#[derive(Debug)]
pub struct IdempotencyKeys {
    window: Duration,
    issued: Mutex<HashMap<[u8; 32], (String, Instant)>>,
}

/// Arguments that are about the call rather than the request, left out of the fingerprint.
const NOT_PART_OF_THE_REQUEST: [&str; 2] = ["idempotency_key", "confirm"];

impl IdempotencyKeys {
    /// Keys reused for `window`.
    pub fn new(window: Duration) -> IdempotencyKeys {
        IdempotencyKeys {
            window,
            issued: Mutex::new(HashMap::new()),
        }
    }

    /// The key for `tool` called with `arguments` by `caller` for `account`: the same as an
    /// identical call's within the window, else a new one.
    pub fn key_for(
        &self,
        tool: &str,
        arguments: &Value,
        caller: &str,
        account: Option<&str>,
    ) -> String {
        let fingerprint = fingerprint(tool, arguments, caller, account);
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        self.key_at(fingerprint, Instant::now(), unix)
    }

    fn key_at(&self, fingerprint: [u8; 32], now: Instant, unix: u64) -> String {
        let bucket = unix / self.window.as_secs().max(1);
        let Ok(mut issued) = self.issued.lock() else {
            return derive(&fingerprint, bucket);
        };
        issued.retain(|_, (_, at)| now.saturating_duration_since(*at) < self.window);
        issued
            .entry(fingerprint)
            .or_insert_with(|| (derive(&fingerprint, bucket), now))
            .0
            .clone()
    }
}

fn derive(fingerprint: &[u8; 32], bucket: u64) -> String {
    let mut hasher = Sha256::new();
    hasher.update(fingerprint);
    hasher.update(bucket.to_be_bytes());
    let digest = hasher.finalize();
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("mcp-stripe-{hex}")
}

fn fingerprint(tool: &str, arguments: &Value, caller: &str, account: Option<&str>) -> [u8; 32] {
    let mut request = arguments.clone();
    if let Value::Object(map) = &mut request {
        for key in NOT_PART_OF_THE_REQUEST {
            map.remove(key);
        }
    }
    let mut hasher = Sha256::new();
    for part in [tool, caller, account.unwrap_or("")] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher.update(canonical(&request).as_bytes());
    hasher.finalize().into()
}

/// JSON with object keys sorted at every level and absent-or-null fields dropped, so that
/// `{"a":1,"b":null}` and `{"a":1}` are the same request, whatever order a client sends.
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> =
                map.iter().filter(|(_, v)| !v.is_null()).collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), canonical(v)))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", inner.join(","))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_same_call_gets_the_same_key_and_any_difference_another() {
        let keys = IdempotencyKeys::new(Duration::from_secs(600));
        let pay = json!({"amount": 1250, "currency": "eur", "customer": "cus_1", "metadata": {"b": "2", "a": "1"}});
        let first = keys.key_for("create_payment_intent", &pay, "local", None);
        assert!(first.starts_with("mcp-stripe-"), "{first}");
        // Key order, null fields, `confirm` and the key argument itself do not matter.
        let same = json!({"metadata": {"a": "1", "b": "2"}, "customer": "cus_1", "currency": "eur", "amount": 1250, "description": null, "confirm": true});
        assert_eq!(
            keys.key_for("create_payment_intent", &same, "local", None),
            first
        );
        let others = [
            (
                "create_payment_intent",
                json!({"amount": 1251, "currency": "eur", "customer": "cus_1", "metadata": {"a": "1", "b": "2"}}),
                "local",
                None,
            ),
            ("create_payment_intent", pay.clone(), "alice", None),
            (
                "create_payment_intent",
                pay.clone(),
                "local",
                Some("acct_1"),
            ),
            ("create_refund", pay.clone(), "local", None),
        ];
        for (tool, arguments, caller, account) in others {
            assert_ne!(
                keys.key_for(tool, &arguments, caller, account),
                first,
                "{tool} {arguments} {caller}"
            );
        }
    }

    #[test]
    fn a_key_lapses_after_the_window_and_survives_a_restart_within_its_bucket() {
        let window = Duration::from_secs(600);
        let keys = IdempotencyKeys::new(window);
        let print = fingerprint("create_refund", &json!({"amount": 1}), "local", None);
        let start = Instant::now();
        let first = keys.key_at(print, start, 1_000);
        // Within the window, even across a bucket boundary, the remembered key is reused.
        assert_eq!(
            keys.key_at(print, start + Duration::from_secs(590), 1_590),
            first
        );
        assert_eq!(
            keys.key_at(print, start + Duration::from_secs(599), 1_201),
            first
        );
        // After it, the same call is a new request.
        assert_ne!(
            keys.key_at(print, start + Duration::from_secs(1_300), 2_300),
            first
        );
        // A restarted process derives the same key within the first call's bucket (600..1200).
        let restarted = IdempotencyKeys::new(window);
        assert_eq!(restarted.key_at(print, Instant::now(), 1_150), first);
    }
}
