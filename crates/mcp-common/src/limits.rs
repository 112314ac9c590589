//! Limits on tool calls, so one runaway agent cannot starve the others: a cap on the calls a
//! server runs at once (`MCP_MAX_CONCURRENT_CALLS`) and an optional rate per caller
//! (`MCP_RATE_LIMIT_PER_MINUTE`). A call over either is answered at once with a tool error
//! saying which limit and when to try again; nothing queues without bound.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::identity::Caller;

/// The default cap on calls running at once in one server process.
pub const DEFAULT_MAX_CONCURRENT_CALLS: usize = 256;

/// Callers whose rate is tracked at most; beyond it, callers with a full allowance are
/// forgotten first (they lose nothing).
const MAX_TRACKED_CALLERS: usize = 10_000;

/// The operator's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitSettings {
    /// Calls running at once, at most.
    pub max_concurrent: usize,
    /// Calls one caller may start per minute (a token bucket: a burst of this many, then one
    /// every `60 / n` seconds); `None` for no limit.
    pub per_minute: Option<u32>,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            max_concurrent: DEFAULT_MAX_CONCURRENT_CALLS,
            per_minute: None,
        }
    }
}

/// Why a call was not admitted.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Refusal {
    /// The server already runs as many calls as it may.
    Busy {
        /// The cap.
        max: usize,
    },
    /// The caller used its allowance.
    RateLimited {
        /// Who, as the message names them.
        who: String,
        /// The allowance.
        per_minute: u32,
        /// When the next call is allowed.
        retry_in: Duration,
    },
}

impl Refusal {
    /// The audit outcome.
    pub(crate) fn outcome(&self) -> &'static str {
        match self {
            Refusal::Busy { .. } => "busy",
            Refusal::RateLimited { .. } => "rate_limited",
        }
    }

    /// The tool error's text.
    pub(crate) fn message(&self) -> String {
        match self {
            Refusal::Busy { max } => format!(
                "the server is busy: {max} tool calls are already running, the most it runs at once (MCP_MAX_CONCURRENT_CALLS); try again when one has finished"
            ),
            Refusal::RateLimited {
                who,
                per_minute,
                retry_in,
            } => format!(
                "rate limited: {who} has used its {per_minute} calls per minute (MCP_RATE_LIMIT_PER_MINUTE); the next call is allowed in {:.1} s",
                retry_in.as_secs_f64()
            ),
        }
    }
}

/// The limits of one server process, shared by its sessions.
#[derive(Debug)]
pub(crate) struct CallLimits {
    settings: LimitSettings,
    running: Arc<Semaphore>,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    allowance: f64,
    updated: Instant,
}

impl CallLimits {
    pub(crate) fn new(settings: LimitSettings) -> CallLimits {
        CallLimits {
            settings,
            running: Arc::new(Semaphore::new(settings.max_concurrent.max(1))),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Admits a call by `caller`: a permit to hold while it runs, or why not.
    pub(crate) fn admit(&self, caller: &Caller) -> Result<OwnedSemaphorePermit, Refusal> {
        self.admit_at(caller, Instant::now())
    }

    fn admit_at(&self, caller: &Caller, now: Instant) -> Result<OwnedSemaphorePermit, Refusal> {
        if let Some(per_minute) = self.settings.per_minute {
            self.take_allowance(caller, per_minute, now)?;
        }
        self.running
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refusal::Busy {
                max: self.settings.max_concurrent,
            })
    }

    fn take_allowance(
        &self,
        caller: &Caller,
        per_minute: u32,
        now: Instant,
    ) -> Result<(), Refusal> {
        let (key, who) = identity(caller);
        let capacity = f64::from(per_minute.max(1));
        let per_second = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= MAX_TRACKED_CALLERS && !buckets.contains_key(&key) {
            buckets.retain(|_, b| {
                b.allowance + now.saturating_duration_since(b.updated).as_secs_f64() * per_second
                    < capacity
            });
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            allowance: capacity,
            updated: now,
        });
        let refilled = now.saturating_duration_since(bucket.updated).as_secs_f64() * per_second;
        bucket.allowance = (bucket.allowance + refilled).min(capacity);
        bucket.updated = now;
        if bucket.allowance >= 1.0 {
            bucket.allowance -= 1.0;
            return Ok(());
        }
        Err(Refusal::RateLimited {
            who,
            per_minute,
            retry_in: Duration::from_secs_f64((1.0 - bucket.allowance) / per_second),
        })
    }
}

/// Whose allowance a call uses, and how the message names them: the token holder over HTTP
/// with tokens, else the remote address, else the one stdio client.
fn identity(caller: &Caller) -> (String, String) {
    if let Some(principal) = &caller.principal {
        return (
            format!("principal:{principal}"),
            format!("the token holder `{principal}`"),
        );
    }
    if let Some(remote) = &caller.remote {
        // The address without its port: one host's connections share an allowance.
        let host = remote
            .rsplit_once(':')
            .map_or(remote.as_str(), |(host, _)| host);
        return (format!("address:{host}"), format!("the client at {host}"));
    }
    ("stdio".to_owned(), "this client".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(principal: Option<&str>, remote: &str) -> Caller {
        Caller {
            transport: "http",
            principal: principal.map(str::to_owned),
            remote: Some(remote.to_owned()),
            client: None,
            session: None,
        }
    }

    #[test]
    fn each_caller_has_its_own_allowance_refilled_over_time() {
        let limits = CallLimits::new(LimitSettings {
            max_concurrent: 100,
            per_minute: Some(2),
        });
        let alice = http(Some("alice"), "10.0.0.1:5000");
        let bob = http(Some("bob"), "10.0.0.1:5001");
        let start = Instant::now();
        assert!(limits.admit_at(&alice, start).is_ok());
        assert!(limits.admit_at(&alice, start).is_ok());
        let refused = limits.admit_at(&alice, start).unwrap_err();
        assert_eq!(refused.outcome(), "rate_limited");
        assert_eq!(
            refused.message(),
            "rate limited: the token holder `alice` has used its 2 calls per minute (MCP_RATE_LIMIT_PER_MINUTE); the next call is allowed in 30.0 s"
        );
        // Another token holder is not affected.
        assert!(limits.admit_at(&bob, start).is_ok());
        // Half a minute gives alice one call back.
        assert!(
            limits
                .admit_at(&alice, start + Duration::from_secs(30))
                .is_ok()
        );
        assert!(
            limits
                .admit_at(&alice, start + Duration::from_secs(30))
                .is_err()
        );
        // Without tokens, one host's connections share an allowance.
        let first = http(None, "192.168.1.9:4000");
        let second = http(None, "192.168.1.9:4001");
        assert!(limits.admit_at(&first, start).is_ok());
        assert!(limits.admit_at(&second, start).is_ok());
        let refused = limits.admit_at(&first, start).unwrap_err();
        assert!(
            refused.message().contains("the client at 192.168.1.9"),
            "{refused:?}"
        );
    }

    #[test]
    fn calls_beyond_the_cap_are_refused_until_one_finishes() {
        let limits = CallLimits::new(LimitSettings {
            max_concurrent: 2,
            per_minute: None,
        });
        let caller = Caller::stdio(None);
        let first = limits.admit(&caller).unwrap();
        let _second = limits.admit(&caller).unwrap();
        let refused = limits.admit(&caller).unwrap_err();
        assert_eq!(refused, Refusal::Busy { max: 2 });
        assert!(refused.message().contains("MCP_MAX_CONCURRENT_CALLS"));
        drop(first);
        assert!(limits.admit(&caller).is_ok());
    }
}
