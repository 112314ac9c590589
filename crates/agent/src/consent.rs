//! Asking the user before a tool that needs consent runs.
//!
//! The servers mark those tools by declaring a `confirm` argument (mcp-common adds it to every
//! tool its policy says must ask); the agent hides it from the model, asks through a
//! [`Consent`] before the call, and sets it only when the user approved. A declined call is never
//! sent. Servers that ask through an elicitation request instead are answered the same way.

use std::fmt;
use std::io::{BufRead, IsTerminal, Write};
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use serde_json::Value;

/// What the user is asked about.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsentRequest {
    /// The server.
    pub server: String,
    /// The server's tool (empty for an elicitation that belongs to no known call).
    pub tool: String,
    /// The arguments it would run with.
    pub arguments: Value,
    /// The question, in a sentence.
    pub message: String,
}

/// What became of a consent question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The user approved: the call runs.
    Approved,
    /// The user declined: the call is not sent.
    Declined,
    /// The question was passed on to someone who answers later (the gateway's client): the call
    /// is not sent now, and the model is told it awaits approval.
    Pending,
}

type Callback = dyn Fn(ConsentRequest) -> BoxFuture<'static, Answer> + Send + Sync;

/// How the agent asks: a callback returning whether the user approved.
#[derive(Clone)]
pub struct Consent {
    callback: Arc<Callback>,
}

impl fmt::Debug for Consent {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Consent")
    }
}

impl Consent {
    /// Asks through `callback` (a library user's own dialogue, a test's scripted answer), which
    /// says whether the user approved.
    pub fn new(
        callback: impl Fn(ConsentRequest) -> BoxFuture<'static, bool> + Send + Sync + 'static,
    ) -> Consent {
        let callback = Arc::new(callback);
        Consent::with_answers(move |request| {
            let approved = callback(request);
            Box::pin(async move {
                if approved.await {
                    Answer::Approved
                } else {
                    Answer::Declined
                }
            })
        })
    }

    /// Asks through `callback`, which may also leave the question pending.
    pub fn with_answers(
        callback: impl Fn(ConsentRequest) -> BoxFuture<'static, Answer> + Send + Sync + 'static,
    ) -> Consent {
        Consent {
            callback: Arc::new(callback),
        }
    }

    /// Approves everything (`--yes`: the user accepted every change in advance).
    pub fn approve_all() -> Consent {
        Consent::new(|_| Box::pin(async { true }))
    }

    /// Declines everything (no one to ask).
    pub fn decline_all() -> Consent {
        Consent::new(|_| Box::pin(async { false }))
    }

    /// Asks on the terminal: the question on stderr, `y`/`yes` on stdin approves, anything
    /// else (or no terminal to ask on) declines.
    pub fn terminal() -> Consent {
        // One question at a time, even when the model called several tools at once.
        let asking = Arc::new(Mutex::new(()));
        Consent::new(move |request| {
            let asking = asking.clone();
            Box::pin(async move {
                tokio::task::spawn_blocking(move || {
                    let _turn = asking.lock().unwrap_or_else(|p| p.into_inner());
                    ask_on_terminal(&request)
                })
                .await
                .unwrap_or(false)
            })
        })
    }

    /// Asks; true only when the user approved now.
    pub async fn ask(&self, request: ConsentRequest) -> bool {
        self.answer(request).await == Answer::Approved
    }

    /// Asks, and says what became of the question.
    pub async fn answer(&self, request: ConsentRequest) -> Answer {
        (self.callback)(request).await
    }
}

fn ask_on_terminal(request: &ConsentRequest) -> bool {
    let mut stderr = std::io::stderr().lock();
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let _ = writeln!(
            stderr,
            "{}\nNo terminal to ask on, so this is declined (run with --yes to approve changes in advance).",
            request.message
        );
        return false;
    }
    let _ = write!(stderr, "{}\nAllow it? [y/N] ", request.message);
    let _ = stderr.flush();
    drop(stderr);
    let mut line = String::new();
    if stdin.lock().read_line(&mut line).is_err() {
        return false;
    }
    matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes" | "s" | "si" | "sí"
    )
}

/// The question for a call of `tool` on `server` with `arguments`.
pub fn question(server: &str, tool: &str, arguments: &Value) -> String {
    let mut shown = arguments.clone();
    mcp_common::secret::scrub_json(&mut shown);
    format!(
        "The model wants to run `{tool}` on the {server} server, which changes data, with {}",
        crate::translate::cut(&shown.to_string(), 2_000)
    )
}
