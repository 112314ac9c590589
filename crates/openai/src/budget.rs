//! Token budgets: a cap per call and a cap per session, checked before a call with the tokens it
//! could use at most (the prompt, estimated, plus the answer's limit), and charged afterwards with
//! what the endpoint reports. A call's ceiling is reserved while it runs, so concurrent calls
//! cannot together overrun the session's cap.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Characters per token for estimates made without the model's tokenizer (OpenAI's rule of thumb
/// for English; it errs high for code and other languages, which is the safe side for a cap).
pub const CHARS_PER_TOKEN: usize = 4;

/// Tokens a chat message costs beyond its text (role and framing).
pub const TOKENS_PER_MESSAGE: u64 = 4;

/// An estimate of the tokens of `text`.
pub fn estimate_tokens(text: &str) -> u64 {
    text.chars().count().div_ceil(CHARS_PER_TOKEN) as u64
}

/// The caps and what each session has used.
#[derive(Debug)]
pub struct Budgets {
    per_call: Option<u64>,
    per_session: Option<u64>,
    sessions: Sessions,
}

type Sessions = Arc<Mutex<HashMap<String, Account>>>;

#[derive(Debug, Default, Clone, Copy)]
struct Account {
    used: u64,
    reserved: u64,
}

/// What a call may use, once admitted.
#[derive(Debug)]
pub struct Admission {
    /// The answer's token limit to send: the caller's, or the largest that fits the caps.
    pub answer_limit: Option<u64>,
    /// Why the limit was set by the server, when it was.
    pub note: Option<String>,
    /// What is held for the call until [`Budgets::settle`].
    pub reservation: Reservation,
}

/// Tokens held for a running call. Settle it with [`Budgets::settle`]; one dropped unsettled (the
/// call's future was dropped at its time limit, or it panicked) releases its hold and charges the
/// input, which the endpoint may well have read and billed.
#[derive(Debug)]
pub struct Reservation {
    sessions: Sessions,
    session: String,
    tokens: u64,
    charged_if_dropped: u64,
    open: bool,
}

impl Reservation {
    fn release(&mut self, used: u64) -> Account {
        self.open = false;
        let mut sessions = lock(&self.sessions);
        // The session may have ended while the call ran; it is not brought back, or its account
        // would stay for good.
        let Some(account) = sessions.get_mut(&self.session) else {
            return Account { used, reserved: 0 };
        };
        account.reserved = account.reserved.saturating_sub(self.tokens);
        account.used += used;
        *account
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.open {
            self.release(self.charged_if_dropped);
        }
    }
}

fn lock(sessions: &Sessions) -> std::sync::MutexGuard<'_, HashMap<String, Account>> {
    // A poisoned lock only means a call panicked mid-update; the counts are still usable.
    sessions
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A session's standing, for results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// Tokens the session has used.
    pub used: u64,
    /// The session's cap, if any.
    pub limit: Option<u64>,
}

impl Budgets {
    /// Budgets with these caps (`None`: no cap).
    pub fn new(per_call: Option<u64>, per_session: Option<u64>) -> Budgets {
        Budgets {
            per_call,
            per_session,
            sessions: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Account>> {
        lock(&self.sessions)
    }

    /// Forgets an ended session's account. Without this every HTTP session the process ever
    /// served kept one (found while adding session expiry to `just soak`).
    pub fn forget(&self, session: &str) {
        self.lock().remove(session);
    }

    /// How many sessions have an account.
    pub fn sessions_tracked(&self) -> usize {
        self.lock().len()
    }

    /// Admits a call of `session` whose prompt is about `prompt_tokens` and whose answer may be
    /// `answer_limit` tokens long (`None`: the endpoint's default, only allowed when no cap
    /// applies; otherwise the server sets the largest limit that fits). A call that cannot fit is
    /// refused with the numbers.
    pub fn admit(
        &self,
        session: &str,
        prompt_tokens: u64,
        answer_limit: Option<u64>,
    ) -> Result<Admission, String> {
        let mut sessions = self.lock();
        let account = sessions.entry(session.to_owned()).or_default();
        let mut limit = answer_limit;
        let mut note = None;
        if let Some(cap) = self.per_call {
            let room = cap.saturating_sub(prompt_tokens);
            match limit {
                Some(asked) if prompt_tokens + asked > cap => {
                    return Err(format!(
                        "refused: this call could use up to {} tokens (about {prompt_tokens} for the prompt, estimated at {CHARS_PER_TOKEN} characters a token, plus max_tokens {asked}), more than the {cap} allowed per call (OPENAI_MAX_TOKENS_PER_CALL); lower max_tokens to at most {room} or shorten the prompt",
                        prompt_tokens + asked
                    ));
                }
                Some(_) => {}
                None if room == 0 => {
                    return Err(format!(
                        "refused: the prompt alone is about {prompt_tokens} tokens (estimated at {CHARS_PER_TOKEN} characters a token), more than the {cap} allowed per call (OPENAI_MAX_TOKENS_PER_CALL); shorten it"
                    ));
                }
                None => {
                    limit = Some(room);
                    note = Some(format!(
                        "max_tokens was set to {room} so the call stays within the {cap} tokens allowed per call (OPENAI_MAX_TOKENS_PER_CALL)"
                    ));
                }
            }
        }
        if let Some(cap) = self.per_session {
            let left = cap.saturating_sub(account.used + account.reserved);
            let room = left.saturating_sub(prompt_tokens);
            let held = if account.reserved > 0 {
                format!(" ({} more held by calls still running)", account.reserved)
            } else {
                String::new()
            };
            match limit {
                Some(asked) if prompt_tokens + asked > left => {
                    return Err(format!(
                        "refused: this session has used {} of its {cap} tokens (OPENAI_MAX_TOKENS_PER_SESSION){held}, leaving {left}, and this call could use up to {} (about {prompt_tokens} for the prompt plus max_tokens {asked}); lower max_tokens to at most {room}, or start a new session",
                        account.used,
                        prompt_tokens + asked
                    ));
                }
                Some(_) => {}
                None if room == 0 => {
                    return Err(format!(
                        "refused: this session has used {} of its {cap} tokens (OPENAI_MAX_TOKENS_PER_SESSION){held}, leaving {left}, not enough for this call's prompt of about {prompt_tokens} tokens; start a new session",
                        account.used
                    ));
                }
                None => {
                    limit = Some(room);
                    note = Some(format!(
                        "max_tokens was set to {room}, what is left of this session's {cap} tokens (OPENAI_MAX_TOKENS_PER_SESSION) after the prompt"
                    ));
                }
            }
        }
        let tokens = prompt_tokens + limit.unwrap_or(0);
        account.reserved += tokens;
        Ok(Admission {
            answer_limit: limit,
            note,
            reservation: Reservation {
                sessions: self.sessions.clone(),
                session: session.to_owned(),
                tokens,
                charged_if_dropped: prompt_tokens,
                open: true,
            },
        })
    }

    /// Admits a call that only sends input (embeddings, moderation) of about `tokens` tokens.
    pub fn admit_input(&self, session: &str, tokens: u64) -> Result<Reservation, String> {
        let mut sessions = self.lock();
        let account = sessions.entry(session.to_owned()).or_default();
        if let Some(cap) = self.per_call
            && tokens > cap
        {
            return Err(format!(
                "refused: the texts are about {tokens} tokens (estimated at {CHARS_PER_TOKEN} characters a token), more than the {cap} allowed per call (OPENAI_MAX_TOKENS_PER_CALL); send fewer or shorter texts per call"
            ));
        }
        if let Some(cap) = self.per_session {
            let left = cap.saturating_sub(account.used + account.reserved);
            if tokens > left {
                return Err(format!(
                    "refused: this session has used {} of its {cap} tokens (OPENAI_MAX_TOKENS_PER_SESSION), leaving {left}, and the texts are about {tokens} tokens; send fewer texts, or start a new session",
                    account.used
                ));
            }
        }
        account.reserved += tokens;
        Ok(Reservation {
            sessions: self.sessions.clone(),
            session: session.to_owned(),
            tokens,
            charged_if_dropped: tokens,
            open: true,
        })
    }

    /// Releases a call's reservation and charges what it used (`used`: the endpoint's count, or
    /// an estimate; 0 when the call failed before the endpoint answered).
    pub fn settle(&self, mut reservation: Reservation, used: u64) -> Standing {
        let account = reservation.release(used);
        Standing {
            used: account.used,
            limit: self.per_session,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ended_sessions_are_forgotten_even_with_a_call_running() {
        let budgets = Budgets::new(None, Some(1000));
        let finished = budgets.admit("session a", 10, Some(10)).unwrap();
        budgets.settle(finished.reservation, 15);
        let running = budgets.admit("session b", 10, Some(10)).unwrap();
        assert_eq!(budgets.sessions_tracked(), 2);
        budgets.forget("session a");
        budgets.forget("session b");
        // The call that outlived its session settles without bringing the account back.
        let standing = budgets.settle(running.reservation, 12);
        assert_eq!(standing.used, 12);
        let dropped = budgets.admit_input("session c", 5).unwrap();
        budgets.forget("session c");
        drop(dropped);
        assert_eq!(budgets.sessions_tracked(), 0);
    }

    #[test]
    fn estimates_round_up() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
    }

    #[test]
    fn the_per_call_cap_refuses_or_sets_the_limit_with_the_numbers() {
        let budgets = Budgets::new(Some(1000), None);
        let admitted = budgets.admit("s", 100, None).unwrap();
        assert_eq!(admitted.answer_limit, Some(900));
        assert!(admitted.note.unwrap().contains("max_tokens was set to 900"));
        let refused = budgets.admit("s", 100, Some(950)).unwrap_err();
        assert!(
            refused.contains("up to 1050 tokens")
                && refused.contains("more than the 1000 allowed per call")
                && refused.contains("at most 900"),
            "{refused}"
        );
        assert!(budgets.admit("s", 1200, None).is_err());
        let unlimited = Budgets::new(None, None).admit("s", 100, None).unwrap();
        assert_eq!((unlimited.answer_limit, unlimited.note), (None, None));
    }

    #[test]
    fn the_session_cap_counts_usage_and_running_calls_per_session() {
        let budgets = Budgets::new(None, Some(500));
        let first = budgets.admit("a", 50, Some(100)).unwrap();
        // While the first call runs, its 150 tokens are held.
        let refused = budgets.admit("a", 50, Some(310)).unwrap_err();
        assert!(refused.contains("150 more held"), "{refused}");
        let standing = budgets.settle(first.reservation, 120);
        assert_eq!(
            standing,
            Standing {
                used: 120,
                limit: Some(500)
            }
        );
        let second = budgets.admit("a", 50, None).unwrap();
        assert_eq!(second.answer_limit, Some(330));
        budgets.settle(second.reservation, 380);
        let refused = budgets.admit("a", 10, None).unwrap_err();
        assert!(
            refused.contains("has used 500 of its 500 tokens"),
            "{refused}"
        );
        // Another session has its own budget.
        assert!(budgets.admit("b", 10, None).is_ok());
        // A call dropped before it settled (its time limit) releases its hold and charges its prompt.
        let dropped = budgets.admit("c", 40, Some(100)).unwrap();
        drop(dropped);
        let after = budgets.admit("c", 0, Some(1)).unwrap();
        assert_eq!(budgets.settle(after.reservation, 0).used, 40);
    }
}
