//! What this server sent recently, so an agent that lost track of what it did cannot message
//! a person twice, and a loop cannot flood one number.
//!
//! Every send is admitted here first. An identical send (same caller, channel, destination and
//! content) within the duplicate window is refused unless the caller says it means it
//! (`allow_duplicate`), and each destination gets at most a number of sends per window whoever
//! asks. A send that certainly did not happen gives its place back; one whose outcome is unknown
//! keeps it, so the agent checks before trying again. Kept in process memory: a restart
//! forgets it (Twilio's own message log is the record that survives).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mcp_common::ToolError;
use sha2::{Digest, Sha256};

/// The fingerprint of what a send delivers.
pub type Fingerprint = [u8; 32];

/// The fingerprint of a send: who asks, through which channel, to whom, and what.
pub fn fingerprint(
    caller: &str,
    channel: &str,
    destination: &str,
    content: &[&str],
) -> Fingerprint {
    let mut hasher = Sha256::new();
    for part in [caller, channel, destination].iter().chain(content) {
        // Length-prefixed so that ("ab", "c") and ("a", "bc") differ.
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.finalize().into()
}

/// How an admitted send ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// Twilio accepted it, with this SID.
    Sent(String),
    /// It may or may not have been sent.
    Unknown,
    /// It certainly was not sent (refused, or never left): forget it.
    NotSent,
}

#[derive(Debug, Clone)]
struct Recent {
    at: Instant,
    outcome: Option<Settled>,
}

#[derive(Debug, Default)]
struct Inner {
    recent: HashMap<Fingerprint, Recent>,
    per_destination: HashMap<String, VecDeque<Instant>>,
}

/// The ledger of recent sends.
#[derive(Debug)]
pub struct SendLedger {
    duplicate_window: Duration,
    limit: u32,
    limit_window: Duration,
    inner: Mutex<Inner>,
}

/// A send admitted by the ledger, to be settled once its outcome is known.
#[derive(Debug)]
#[must_use = "settle the ticket with the send's outcome"]
pub struct Ticket {
    fingerprint: Fingerprint,
    destination: String,
    at: Instant,
}

impl SendLedger {
    /// A ledger refusing duplicates for `duplicate_window` and allowing `limit` sends per
    /// destination per `limit_window`.
    pub fn new(duplicate_window: Duration, limit: u32, limit_window: Duration) -> SendLedger {
        SendLedger {
            duplicate_window,
            limit,
            limit_window,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Admits a send to `destination` (for the messages) or refuses it, saying why and what
    /// to do. `what` names the send in the refusal, e.g. "an identical SMS".
    pub fn admit(
        &self,
        fingerprint: Fingerprint,
        destination: &str,
        allow_duplicate: bool,
        what: &str,
    ) -> Result<Ticket, ToolError> {
        self.admit_at(
            fingerprint,
            destination,
            allow_duplicate,
            what,
            Instant::now(),
        )
    }

    fn admit_at(
        &self,
        fingerprint: Fingerprint,
        destination: &str,
        allow_duplicate: bool,
        what: &str,
        now: Instant,
    ) -> Result<Ticket, ToolError> {
        let mut inner = self.lock();
        let window = self.duplicate_window;
        inner
            .recent
            .retain(|_, recent| now.saturating_duration_since(recent.at) < window);
        if !allow_duplicate && let Some(recent) = inner.recent.get(&fingerprint) {
            let ago = now.saturating_duration_since(recent.at).as_secs();
            let state = match &recent.outcome {
                Some(Settled::Sent(sid)) => format!("was sent {ago} s ago ({sid})"),
                Some(Settled::Unknown) => format!(
                    "was attempted {ago} s ago and may have been delivered (its outcome is unknown)"
                ),
                _ => "is being sent right now".to_owned(),
            };
            return Err(ToolError::Conflict(format!(
                "not sent: {what} to {destination} {state}. Check it with list_messages or get_message; to send it again on purpose, repeat the call with allow_duplicate: true"
            )));
        }
        let limit_window = self.limit_window;
        let sends = inner
            .per_destination
            .entry(destination.to_owned())
            .or_default();
        while sends
            .front()
            .is_some_and(|at| now.saturating_duration_since(*at) >= limit_window)
        {
            sends.pop_front();
        }
        if sends.len() >= self.limit as usize {
            let wait = sends
                .front()
                .map(|at| limit_window.saturating_sub(now.saturating_duration_since(*at)))
                .unwrap_or_default();
            return Err(ToolError::Refused(format!(
                "not sent: {destination} already got {} sends from this server in the last {} s (TWILIO_DESTINATION_LIMIT); the next is allowed in {} s. A loop may be sending repeatedly.",
                sends.len(),
                limit_window.as_secs(),
                wait.as_secs().max(1)
            )));
        }
        sends.push_back(now);
        inner.recent.insert(
            fingerprint,
            Recent {
                at: now,
                outcome: None,
            },
        );
        Ok(Ticket {
            fingerprint,
            destination: destination.to_owned(),
            at: now,
        })
    }

    /// Records how an admitted send ended.
    pub fn settle(&self, ticket: Ticket, outcome: Settled) {
        let mut inner = self.lock();
        if outcome == Settled::NotSent {
            inner.recent.remove(&ticket.fingerprint);
            if let Some(sends) = inner.per_destination.get_mut(&ticket.destination)
                && let Some(position) = sends.iter().position(|at| *at == ticket.at)
            {
                sends.remove(position);
            }
            return;
        }
        if let Some(recent) = inner.recent.get_mut(&ticket.fingerprint) {
            recent.outcome = Some(outcome);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger() -> SendLedger {
        SendLedger::new(Duration::from_secs(600), 3, Duration::from_secs(3600))
    }

    #[test]
    fn an_identical_send_is_refused_unless_allowed() {
        let ledger = SendLedger::new(Duration::from_secs(600), 10, Duration::from_secs(3600));
        let print = fingerprint("local", "sms", "+15550100", &["hi"]);
        let now = Instant::now();
        let ticket = ledger
            .admit_at(print, "+15550100", false, "an identical SMS", now)
            .unwrap();
        ledger.settle(ticket, Settled::Sent("SM1".into()));
        let refused = ledger
            .admit_at(
                print,
                "+15550100",
                false,
                "an identical SMS",
                now + Duration::from_secs(5),
            )
            .unwrap_err()
            .message();
        assert!(
            refused.contains("was sent 5 s ago (SM1)") && refused.contains("allow_duplicate"),
            "{refused}"
        );
        // Other content, another caller, or allow_duplicate go through.
        for (print, allow) in [
            (fingerprint("local", "sms", "+15550100", &["hello"]), false),
            (fingerprint("alice", "sms", "+15550100", &["hi"]), false),
            (print, true),
        ] {
            let ticket = ledger
                .admit_at(print, "+15550100", allow, "x", now)
                .unwrap();
            ledger.settle(ticket, Settled::Sent("SM2".into()));
        }
        // After the window, the same send is new.
        assert!(
            ledger
                .admit_at(
                    print,
                    "+15550100",
                    false,
                    "x",
                    now + Duration::from_secs(601)
                )
                .is_ok()
        );
    }

    #[test]
    fn unknown_outcomes_are_kept_and_failed_sends_forgotten() {
        let ledger = ledger();
        let now = Instant::now();
        let lost = fingerprint("local", "sms", "+15550100", &["lost"]);
        let ticket = ledger
            .admit_at(lost, "+15550100", false, "an identical SMS", now)
            .unwrap();
        ledger.settle(ticket, Settled::Unknown);
        let refused = ledger
            .admit_at(lost, "+15550100", false, "an identical SMS", now)
            .unwrap_err()
            .message();
        assert!(refused.contains("outcome is unknown"), "{refused}");

        let refused_by_twilio = fingerprint("local", "sms", "+15550100", &["bad"]);
        let ticket = ledger
            .admit_at(refused_by_twilio, "+15550100", false, "x", now)
            .unwrap();
        ledger.settle(ticket, Settled::NotSent);
        // Forgotten entirely: neither a duplicate nor counted against the destination.
        for _ in 0..2 {
            let ticket = ledger
                .admit_at(refused_by_twilio, "+15550100", true, "x", now)
                .unwrap();
            ledger.settle(ticket, Settled::Sent("SM".into()));
        }
    }

    #[test]
    fn a_destination_gets_at_most_the_limit_per_window() {
        let ledger = ledger();
        let now = Instant::now();
        for i in 0..3 {
            let print = fingerprint("local", "sms", "+15550100", &[&i.to_string()]);
            let ticket = ledger
                .admit_at(print, "+15550100", false, "x", now)
                .unwrap();
            ledger.settle(ticket, Settled::Sent(format!("SM{i}")));
        }
        let print = fingerprint("local", "sms", "+15550100", &["4"]);
        let refused = ledger
            .admit_at(
                print,
                "+15550100",
                false,
                "x",
                now + Duration::from_secs(60),
            )
            .unwrap_err()
            .message();
        assert!(
            refused.contains("already got 3 sends") && refused.contains("3540 s"),
            "{refused}"
        );
        // Another number is not affected; the first is again after the window.
        assert!(ledger.admit_at(print, "+15550199", false, "x", now).is_ok());
        assert!(
            ledger
                .admit_at(
                    print,
                    "+15550100",
                    false,
                    "x",
                    now + Duration::from_secs(3600)
                )
                .is_ok()
        );
    }
}
