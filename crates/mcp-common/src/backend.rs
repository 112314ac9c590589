//! One policy for every outbound call: a timeout per attempt, retries with exponential backoff and
//! jitter for operations that are safe to repeat (honouring `Retry-After`), a circuit breaker per
//! backend, and errors that say which service failed, doing what, why, and what to check.
//!
//! Every attempt and every backoff also fits inside the deadline of the tool call it serves
//! ([`with_deadline`], set by `Governed` around each tool), so retries never outlast the time a
//! host waits for an answer.

use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::{ConfigError, Env};
use crate::secret::scrub;

tokio::task_local! {
    /// The instant by which the current tool call must have answered.
    static DEADLINE: tokio::time::Instant;
}

/// Runs `future` with `deadline` as the time by which every [`Backend::call`] inside it must
/// finish: attempts are cut short at the deadline and no retry starts that could not finish
/// before it. A nested deadline never extends an outer one. The deadline is task-local, so work
/// moved to another task with `tokio::spawn` does not see it.
pub async fn with_deadline<F: Future>(deadline: tokio::time::Instant, future: F) -> F::Output {
    let deadline = current_deadline().map_or(deadline, |outer| outer.min(deadline));
    DEADLINE.scope(deadline, future).await
}

/// The deadline of the tool call this task is serving, if any (see [`with_deadline`]).
pub fn current_deadline() -> Option<tokio::time::Instant> {
    DEADLINE.try_with(|deadline| *deadline).ok()
}

/// The least time a retry must have left after its backoff (capped by the per-attempt timeout):
/// a retry squeezed into the last milliseconds only delays the error.
const MIN_ATTEMPT_WINDOW: Duration = Duration::from_secs(1);

/// Whether an operation may be sent again after a failure that might have reached the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// Reads, and writes made idempotent (an idempotency key, an upsert by id).
    Safe,
    /// Anything that could act twice: a payment, an SMS, a create without a key. Such a call is
    /// only retried when the request certainly never left (the connection was refused).
    Unsafe,
}

/// How an attempt failed, as far as the retry policy and the breaker care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// No connection could be made: the request was not sent.
    Connect,
    /// No answer within the timeout: the request may have been processed.
    Timeout,
    /// The backend answered that it is overloaded or failing (HTTP 429, 5xx): worth retrying.
    Unavailable,
    /// The backend refused this request (bad credentials, validation, not found): retrying will
    /// not help, and it proves the backend is up.
    Rejected,
    /// The answer could not be understood, or the connection broke mid-request.
    Protocol,
    /// The service cannot be reached as configured (its host name does not resolve): nothing
    /// was sent, and retrying will not help until the setting is fixed.
    Misconfigured,
}

/// A classified failure of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The class of failure.
    pub kind: FailureKind,
    /// The cause in a few words, e.g. "connection refused", "HTTP 502 Bad Gateway".
    pub detail: String,
    /// A `Retry-After` the backend asked for.
    pub retry_after: Option<Duration>,
    /// A more specific hint than the backend's default one, e.g. "check ODOO_USER and ODOO_PASSWORD".
    pub hint: Option<String>,
    /// The service said it did not act on the request (e.g. Twilio's 429 "too many requests"
    /// refuses before sending), so even a [`Repeat::Unsafe`] call may be sent again.
    pub not_acted: bool,
}

impl Failure {
    /// A failure of the given kind.
    pub fn new(kind: FailureKind, detail: impl Into<String>) -> Self {
        Failure {
            kind,
            detail: detail.into(),
            retry_after: None,
            hint: None,
            not_acted: false,
        }
    }

    /// Marks a failure the service answered without acting on the request (see
    /// [`not_acted`](Failure::not_acted)).
    pub fn not_acted(mut self) -> Self {
        self.not_acted = true;
        self
    }

    /// Adds the delay the backend asked for.
    pub fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }

    /// Replaces the backend's default hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Classifies an I/O error from a socket.
    pub fn from_io(error: &std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        let kind = match error.kind() {
            K::ConnectionRefused
            | K::NotFound
            | K::AddrNotAvailable
            | K::HostUnreachable
            | K::NetworkUnreachable => FailureKind::Connect,
            K::TimedOut | K::WouldBlock => FailureKind::Timeout,
            _ => FailureKind::Protocol,
        };
        Failure::new(kind, error.to_string())
    }
}

/// The hint for an HTTP 413 when the backend has no more specific one.
pub const TOO_LARGE_HINT: &str = "the request was too large for the service: send less in one call (fewer records, ids or values, shorter texts), or split it";

/// Classifies a failed HTTP exchange: a host name that does not resolve is a configuration
/// mistake (not retried), a refused connection was never sent (safe to retry), a timeout may
/// have been processed, anything else broke mid-exchange.
pub fn failure_of_http_error(error: &reqwest::Error) -> Failure {
    let cause = root_cause(error);
    if error.is_connect() && is_dns_failure(error) {
        let host = error
            .url()
            .and_then(|url| url.host_str())
            .map(|host| format!(" {host}"))
            .unwrap_or_default();
        // "failed to lookup address information: Name or service not known" says the same twice.
        let why = cause
            .strip_prefix("failed to lookup address information: ")
            .unwrap_or(&cause)
            .to_lowercase();
        Failure::new(
            FailureKind::Misconfigured,
            format!("could not resolve host{host}: {why}"),
        )
    } else if error.is_connect() {
        Failure::new(FailureKind::Connect, cause)
    } else if error.is_timeout() {
        Failure::new(FailureKind::Timeout, cause)
    } else {
        Failure::new(
            FailureKind::Protocol,
            format!("the connection broke during the exchange ({cause})"),
        )
    }
}

/// Whether a connection failed in name resolution. hyper's connector wraps every resolver error
/// in an error displayed as "dns error"; the system resolver's own text is recognised too.
fn is_dns_failure(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        let text = error.to_string();
        if text == "dns error" || text.starts_with("failed to lookup address information") {
            return true;
        }
        current = error.source();
    }
    false
}

/// The one classification of a non-success HTTP status every remote backend shares: 408, 425,
/// 429 and 5xx mean the service is unavailable for now (worth retrying where that is safe),
/// other 4xx that it refused the request, and a status outside those (a redirect that was not
/// followed, say) is a protocol failure.
pub fn failure_of_status(status: u16, reason: &str, retry_after: Option<Duration>) -> Failure {
    let kind = match status {
        408 | 425 | 429 | 500..=599 => FailureKind::Unavailable,
        400..=499 => FailureKind::Rejected,
        _ => {
            return Failure::new(
                FailureKind::Protocol,
                format!("unexpected HTTP {status} {reason}")
                    .trim_end()
                    .to_owned(),
            );
        }
    };
    let failure = Failure::new(
        kind,
        format!("HTTP {status} {reason}").trim_end().to_owned(),
    )
    .with_retry_after(retry_after);
    // The service was reached, so the default hint (usually "is the URL right?") would
    // mislead: the request itself was too big.
    if status == 413 {
        failure.with_hint(TOO_LARGE_HINT)
    } else {
        failure
    }
}

/// The `Retry-After` of a response, when given in seconds.
pub fn retry_after_of(headers: &http::HeaderMap) -> Option<Duration> {
    headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after)
}

/// The innermost cause of an error in a few lowercase words, e.g. "connection refused", for
/// messages a person reads.
pub fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current: &(dyn std::error::Error + 'static) = error;
    while let Some(source) = current.source() {
        current = source;
    }
    if let Some(io) = current.downcast_ref::<std::io::Error>() {
        match io.kind() {
            std::io::ErrorKind::ConnectionRefused => return "connection refused".into(),
            std::io::ErrorKind::ConnectionReset => return "connection reset".into(),
            std::io::ErrorKind::ConnectionAborted => return "connection aborted".into(),
            std::io::ErrorKind::TimedOut => return "timed out".into(),
            std::io::ErrorKind::UnexpectedEof => return "the connection was closed".into(),
            _ => {}
        }
    }
    let text = current.to_string();
    // "Connection refused (os error 111)" becomes "connection refused".
    let text = text
        .find(" (os error")
        .map_or(text.as_str(), |at| &text[..at]);
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => "unknown error".into(),
    }
}

/// Parses a `Retry-After` header given in seconds (HTTP dates are ignored: the delay-seconds form
/// is what rate-limiting APIs send).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// The tunable part of the policy.
#[derive(Debug, Clone, PartialEq)]
pub struct BackendConfig {
    /// Limit on each attempt.
    pub timeout: Duration,
    /// Retries after the first attempt (at most 3).
    pub max_retries: u32,
    /// First backoff delay; it doubles on each retry (1 s, 2 s, 4 s by default).
    pub base_delay: Duration,
    /// A `Retry-After` longer than this is not waited for: the call fails and says when to retry.
    pub max_retry_after: Duration,
    /// Consecutive failures that open the breaker.
    pub breaker_threshold: u32,
    /// How long the breaker stays open before letting one probe through.
    pub breaker_cooldown: Duration,
}

impl BackendConfig {
    /// The defaults: 30 s timeout, 3 retries at 1 s, 2 s, 4 s, breaker opening after 5
    /// consecutive failures for 30 s.
    pub fn standard() -> Self {
        BackendConfig {
            timeout: Duration::from_secs(30),
            max_retries: 3,
            base_delay: Duration::from_secs(1),
            max_retry_after: Duration::from_secs(30),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(30),
        }
    }

    /// The defaults, overridden by `<PREFIX>_TIMEOUT_SECS`, `<PREFIX>_RETRIES` (0–3),
    /// `<PREFIX>_BREAKER_THRESHOLD` and `<PREFIX>_BREAKER_COOLDOWN_SECS`.
    pub fn from_env(env: &Env, prefix: &str) -> Result<Self, ConfigError> {
        let mut config = BackendConfig::standard();
        if let Some(timeout) = env.seconds(&format!("{prefix}_TIMEOUT_SECS"), 0.01..=600.0)? {
            config.timeout = timeout;
        }
        let retries_var = format!("{prefix}_RETRIES");
        if let Some(retries) = env.parse::<u32>(&retries_var, "a whole number from 0 to 3")? {
            if retries > 3 {
                return Err(ConfigError::Invalid {
                    variable: retries_var,
                    expected: "a whole number from 0 to 3".into(),
                    found: Some(retries.to_string()),
                });
            }
            config.max_retries = retries;
        }
        let threshold_var = format!("{prefix}_BREAKER_THRESHOLD");
        if let Some(threshold) =
            env.parse::<u32>(&threshold_var, "a whole number from 1 to 1000")?
        {
            if !(1..=1000).contains(&threshold) {
                return Err(ConfigError::Invalid {
                    variable: threshold_var,
                    expected: "a whole number from 1 to 1000".into(),
                    found: Some(threshold.to_string()),
                });
            }
            config.breaker_threshold = threshold;
        }
        if let Some(cooldown) =
            env.seconds(&format!("{prefix}_BREAKER_COOLDOWN_SECS"), 0.01..=3600.0)?
        {
            config.breaker_cooldown = cooldown;
        }
        Ok(config)
    }
}

/// The final failure of a call, after retries, phrased for a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct BackendError {
    /// The service, e.g. "Odoo".
    pub service: Arc<str>,
    /// Where it was reached, without credentials, e.g. "http://127.0.0.1:8069".
    pub endpoint: Arc<str>,
    /// What was being done, e.g. "search_read on res.partner".
    pub operation: String,
    /// Why it failed (for an open breaker: the failure that opened it).
    pub failure: Option<Box<Failure>>,
    /// Attempts made (0 when the breaker was open).
    pub attempts: u32,
    /// What to check.
    pub hint: Arc<str>,
    /// Set when a non-repeatable operation may have been carried out despite the error.
    pub maybe_applied: bool,
    /// Set when the breaker was open: how long until the next probe.
    pub open_for: Option<Duration>,
    /// Set when the call stopped because the tool call's deadline was reached (see
    /// [`with_deadline`]): the last attempt was cut short, or no time was left for another.
    pub deadline_reached: bool,
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let BackendError {
            service,
            endpoint,
            operation,
            ..
        } = self;
        let attempts = match self.attempts {
            _ if self.deadline_reached => String::new(),
            0 | 1 => String::new(),
            n => format!(", after {n} attempts"),
        };
        // Said before the hint: it explains why the policy stopped retrying.
        let deadline = if self.deadline_reached {
            let n = self.attempts;
            let plural = if n == 1 { "" } else { "s" };
            format!(
                "; gave up after {n} attempt{plural} because the deadline of this tool call was reached"
            )
        } else {
            String::new()
        };
        let text = match (&self.failure, self.open_for) {
            (last, Some(wait)) => {
                let last = last
                    .as_ref()
                    .map(|f| format!(" (last error: {})", f.detail))
                    .unwrap_or_default();
                format!(
                    "{service} at {endpoint} is failing, so {operation} was not attempted{last}; the next try is allowed in {} s — {}",
                    wait_secs(wait),
                    self.hint
                )
            }
            (None, None) => format!(
                "{service} at {endpoint} failed {operation}{deadline} — {}",
                self.hint
            ),
            (Some(failure), None) => {
                let hint = failure.hint.as_deref().unwrap_or(&*self.hint);
                let cause = &failure.detail;
                match failure.kind {
                    FailureKind::Connect | FailureKind::Misconfigured => format!(
                        "error connecting to {service} at {endpoint}: {cause} ({operation}{attempts}){deadline} — {hint}"
                    ),
                    FailureKind::Timeout => format!(
                        "{service} at {endpoint} did not answer {operation} in time: {cause}{attempts}{deadline} — {hint}"
                    ),
                    FailureKind::Unavailable => format!(
                        "{service} at {endpoint} is unavailable: {operation} failed with {cause}{attempts}{deadline} — {hint}"
                    ),
                    FailureKind::Rejected => {
                        format!("{service} rejected {operation}: {cause} — {hint}")
                    }
                    FailureKind::Protocol => format!(
                        "{service} at {endpoint} gave an unusable answer to {operation}: {cause}{attempts}{deadline} — {hint}"
                    ),
                }
            }
        };
        let applied = if self.maybe_applied {
            "; the request may have reached the service, so check whether it took effect before trying again"
        } else {
            ""
        };
        f.write_str(&scrub(&format!("{text}{applied}")))
    }
}

fn wait_secs(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil() as u64
}

#[derive(Debug)]
enum BreakerState {
    Closed {
        consecutive_failures: u32,
    },
    Open {
        until: Instant,
        last_failure: Failure,
    },
    HalfOpen {
        last_failure: Failure,
    },
}

/// The circuit breaker's state, for readiness reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerStatus {
    /// Calls go through.
    Closed,
    /// Calls fail at once until the cool-down ends.
    Open,
    /// One probe call is in flight.
    HalfOpen,
}

/// A remote service reached through the shared policy.
pub struct Backend {
    service: Arc<str>,
    endpoint: Arc<str>,
    hint: Arc<str>,
    config: BackendConfig,
    breaker: Mutex<BreakerState>,
}

impl fmt::Debug for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backend")
            .field("service", &self.service)
            .field("endpoint", &self.endpoint)
            .field("status", &self.status())
            .finish()
    }
}

impl Backend {
    /// A backend named `service` at `endpoint` (shown in errors; never put credentials in it),
    /// with a default hint such as "is ODOO_URL right?".
    pub fn new(
        service: impl Into<String>,
        endpoint: impl Into<String>,
        hint: impl Into<String>,
        config: BackendConfig,
    ) -> Self {
        Backend {
            service: Arc::from(service.into()),
            endpoint: Arc::from(endpoint.into()),
            hint: Arc::from(hint.into()),
            config,
            breaker: Mutex::new(BreakerState::Closed {
                consecutive_failures: 0,
            }),
        }
    }

    /// A backend like this one with a circuit breaker of its own, for calls made with another
    /// caller's credentials (team mode), so that one caller's failures never open the breaker
    /// for the others.
    pub fn fresh(&self) -> Backend {
        Backend {
            service: self.service.clone(),
            endpoint: self.endpoint.clone(),
            hint: self.hint.clone(),
            config: self.config.clone(),
            breaker: Mutex::new(BreakerState::Closed {
                consecutive_failures: 0,
            }),
        }
    }

    /// The policy settings.
    pub fn config(&self) -> &BackendConfig {
        &self.config
    }

    /// The service name.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The endpoint as shown in errors.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The breaker's current state.
    pub fn status(&self) -> BreakerStatus {
        match &*self.lock() {
            BreakerState::Closed { .. } => BreakerStatus::Closed,
            BreakerState::Open { until, .. } if Instant::now() < *until => BreakerStatus::Open,
            BreakerState::Open { .. } => BreakerStatus::Closed,
            BreakerState::HalfOpen { .. } => BreakerStatus::HalfOpen,
        }
    }

    /// Runs `attempt` under the policy: each try limited by the timeout, failures classified by
    /// `classify`, retries only where `repeat` allows, the breaker consulted and updated.
    ///
    /// Inside [`with_deadline`] (every tool call under `Governed`), each attempt is also limited
    /// by the time left, and no backoff or retry starts that could not finish before the
    /// deadline; the error then says so and how many attempts were made.
    pub async fn call<T, E, F, Fut>(
        &self,
        operation: &str,
        repeat: Repeat,
        classify: impl Fn(&E) -> Failure,
        mut attempt: F,
    ) -> Result<T, BackendError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let deadline = current_deadline();
        let mut attempts = 0;
        let mut last_failure: Option<Failure> = None;
        loop {
            if let Err(open) = self.admit(operation) {
                // When this call itself tripped the breaker, its own last failure is the real cause.
                return Err(match last_failure {
                    Some(failure) => self.error(operation, failure, attempts, false),
                    None => open,
                });
            }
            attempts += 1;
            let left = deadline.map(|d| d.saturating_duration_since(tokio::time::Instant::now()));
            let (limit, cut_by_deadline) = match left {
                Some(left) if left < self.config.timeout => (left, true),
                _ => (self.config.timeout, false),
            };
            let failure = match tokio::time::timeout(limit, attempt()).await {
                Ok(Ok(value)) => {
                    self.record_success();
                    return Ok(value);
                }
                Ok(Err(error)) => classify(&error),
                Err(_) if cut_by_deadline => {
                    let failure = Failure::new(
                        FailureKind::Timeout,
                        format!("no answer within {} s", round_secs(limit)),
                    );
                    // A deadline cut proves nothing about the backend's health: not the breaker's business.
                    let maybe_applied = repeat == Repeat::Unsafe;
                    return Err(self
                        .error(operation, failure, attempts, maybe_applied)
                        .at_deadline());
                }
                Err(_) => Failure::new(
                    FailureKind::Timeout,
                    format!("no answer within {} s", self.config.timeout.as_secs_f64()),
                ),
            };
            match failure.kind {
                FailureKind::Rejected => {
                    // The service is up and said no: not the breaker's business, and not retryable.
                    self.record_success();
                    return Err(self.error(operation, failure, attempts, false));
                }
                FailureKind::Misconfigured => {
                    // Nothing reached the service, so its health is unknown; fail at once.
                    return Err(self.error(operation, failure, attempts, false));
                }
                _ => {}
            }
            self.record_failure(&failure);
            let may_resend = match failure.kind {
                FailureKind::Connect => true,
                _ if failure.not_acted => true,
                FailureKind::Timeout | FailureKind::Unavailable | FailureKind::Protocol => {
                    repeat == Repeat::Safe
                }
                FailureKind::Rejected | FailureKind::Misconfigured => false,
            };
            let retries_done = attempts - 1;
            let maybe_applied = repeat == Repeat::Unsafe
                && failure.kind != FailureKind::Connect
                && !failure.not_acted;
            if !may_resend || retries_done >= self.config.max_retries {
                return Err(self.error(operation, failure, attempts, maybe_applied));
            }
            let backoff = jittered(self.config.base_delay * 2u32.pow(retries_done));
            let delay = match failure.retry_after {
                Some(asked) if asked > self.config.max_retry_after => {
                    let mut failure = failure;
                    failure.detail = format!(
                        "{}; it asked to wait {} s before retrying",
                        failure.detail,
                        wait_secs(asked)
                    );
                    return Err(self.error(operation, failure, attempts, false));
                }
                Some(asked) => asked.max(backoff),
                None => backoff,
            };
            if let Some(deadline) = deadline {
                let window = MIN_ATTEMPT_WINDOW.min(self.config.timeout);
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                if delay + window > left {
                    return Err(self
                        .error(operation, failure, attempts, maybe_applied)
                        .at_deadline());
                }
            }
            tracing::warn!(
                service = %self.service,
                operation,
                attempt = attempts,
                cause = %failure.detail,
                delay_ms = delay.as_millis() as u64,
                "backend call failed; retrying"
            );
            last_failure = Some(failure);
            tokio::time::sleep(delay).await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BreakerState> {
        // A poisoned lock only means another call panicked mid-update; the state is still usable.
        self.breaker
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn admit(&self, operation: &str) -> Result<(), BackendError> {
        let mut state = self.lock();
        match &*state {
            BreakerState::Closed { .. } => Ok(()),
            BreakerState::Open {
                until,
                last_failure,
            } => {
                let now = Instant::now();
                if now >= *until {
                    *state = BreakerState::HalfOpen {
                        last_failure: last_failure.clone(),
                    };
                    Ok(())
                } else {
                    Err(self.open_error(operation, last_failure.clone(), *until - now))
                }
            }
            // One probe at a time: others fail fast until it reports back.
            BreakerState::HalfOpen { last_failure } => {
                Err(self.open_error(operation, last_failure.clone(), Duration::from_secs(1)))
            }
        }
    }

    fn record_success(&self) {
        *self.lock() = BreakerState::Closed {
            consecutive_failures: 0,
        };
    }

    fn record_failure(&self, failure: &Failure) {
        let mut state = self.lock();
        let next = match &*state {
            BreakerState::Closed {
                consecutive_failures,
            } => {
                let failures = consecutive_failures + 1;
                if failures >= self.config.breaker_threshold {
                    tracing::warn!(service = %self.service, failures, "circuit breaker opened");
                    BreakerState::Open {
                        until: Instant::now() + self.config.breaker_cooldown,
                        last_failure: failure.clone(),
                    }
                } else {
                    BreakerState::Closed {
                        consecutive_failures: failures,
                    }
                }
            }
            BreakerState::HalfOpen { .. } | BreakerState::Open { .. } => BreakerState::Open {
                until: Instant::now() + self.config.breaker_cooldown,
                last_failure: failure.clone(),
            },
        };
        *state = next;
    }

    fn error(
        &self,
        operation: &str,
        failure: Failure,
        attempts: u32,
        maybe_applied: bool,
    ) -> BackendError {
        BackendError {
            service: self.service.clone(),
            endpoint: self.endpoint.clone(),
            operation: operation.to_owned(),
            failure: Some(Box::new(failure)),
            attempts,
            hint: self.hint.clone(),
            maybe_applied,
            open_for: None,
            deadline_reached: false,
        }
    }

    fn open_error(&self, operation: &str, last_failure: Failure, wait: Duration) -> BackendError {
        BackendError {
            service: self.service.clone(),
            endpoint: self.endpoint.clone(),
            operation: operation.to_owned(),
            failure: Some(Box::new(last_failure)),
            attempts: 0,
            hint: self.hint.clone(),
            maybe_applied: false,
            open_for: Some(wait),
            deadline_reached: false,
        }
    }
}

impl BackendError {
    fn at_deadline(mut self) -> Self {
        self.deadline_reached = true;
        self
    }
}

/// Seconds with at most one decimal, for messages ("19.5 s" rather than "19.499873 s").
fn round_secs(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 10.0).round() / 10.0
}

/// `delay` scaled by a random factor in [0.75, 1.25], so that clients retrying together spread out.
fn jittered(delay: Duration) -> Duration {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(Instant::now().elapsed().as_nanos());
    let unit = (hasher.finish() % 10_000) as f64 / 10_000.0;
    delay.mul_f64(0.75 + unit * 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn fast_config() -> BackendConfig {
        BackendConfig {
            timeout: Duration::from_millis(200),
            max_retries: 3,
            base_delay: Duration::from_millis(5),
            max_retry_after: Duration::from_secs(1),
            breaker_threshold: 3,
            breaker_cooldown: Duration::from_millis(300),
        }
    }

    fn backend() -> Backend {
        Backend::new(
            "Odoo",
            "http://127.0.0.1:9",
            "is ODOO_URL right?",
            fast_config(),
        )
    }

    async fn run(
        backend: &Backend,
        repeat: Repeat,
        outcomes: &[Result<u32, Failure>],
    ) -> (Result<u32, BackendError>, u32) {
        let calls = AtomicU32::new(0);
        let result = backend
            .call(
                "search_read",
                repeat,
                |f: &Failure| f.clone(),
                || {
                    let idx = calls.fetch_add(1, Ordering::SeqCst) as usize;
                    let outcome = outcomes.get(idx).cloned().unwrap_or(Ok(99));
                    async move { outcome }
                },
            )
            .await;
        (result, calls.load(Ordering::SeqCst))
    }

    fn fail(kind: FailureKind) -> Result<u32, Failure> {
        Err(Failure::new(kind, "boom"))
    }

    fn not_acted(kind: FailureKind) -> Result<u32, Failure> {
        Err(Failure::new(kind, "HTTP 429 Too Many Requests").not_acted())
    }

    #[tokio::test]
    async fn retry_policy_follows_repeatability() {
        use FailureKind::*;
        // (repeat, outcomes, expected success, expected attempts)
        type Case = (Repeat, Vec<Result<u32, Failure>>, bool, u32);
        let cases: Vec<Case> = vec![
            (
                Repeat::Safe,
                vec![fail(Unavailable), fail(Timeout), Ok(1)],
                true,
                3,
            ),
            (Repeat::Safe, vec![fail(Unavailable); 4], false, 4),
            (Repeat::Safe, vec![fail(Rejected)], false, 1),
            (Repeat::Unsafe, vec![fail(Connect), Ok(1)], true, 2),
            (Repeat::Unsafe, vec![fail(Timeout)], false, 1),
            (Repeat::Unsafe, vec![fail(Unavailable)], false, 1),
            // A refusal the service made without acting (a rate limit) may be resent.
            (Repeat::Unsafe, vec![not_acted(Unavailable), Ok(1)], true, 2),
            (Repeat::Unsafe, vec![not_acted(Unavailable); 4], false, 4),
        ];
        for (repeat, outcomes, ok, attempts) in cases {
            let backend = Backend::new(
                "Svc",
                "http://x",
                "hint",
                BackendConfig {
                    breaker_threshold: 100,
                    ..fast_config()
                },
            );
            let (result, calls) = run(&backend, repeat, &outcomes).await;
            assert_eq!(result.is_ok(), ok, "{repeat:?} {outcomes:?}");
            assert_eq!(calls, attempts, "{repeat:?} {outcomes:?}");
        }
    }

    #[tokio::test]
    async fn unsafe_failures_say_the_request_may_have_applied() {
        let (result, _) = run(&backend(), Repeat::Unsafe, &[fail(FailureKind::Timeout)]).await;
        let message = result.unwrap_err().to_string();
        assert!(
            message.contains("may have reached the service"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn connect_errors_name_service_endpoint_cause_and_hint() {
        let backend = backend();
        let refused = Failure::new(FailureKind::Connect, "connection refused");
        let outcomes = vec![Err(refused); 4];
        let (result, calls) = run(&backend, Repeat::Safe, &outcomes).await;
        assert_eq!(
            calls, 3,
            "the breaker opens after three consecutive failures"
        );
        let message = result.unwrap_err().to_string();
        assert!(
            message.starts_with("error connecting to Odoo at http://127.0.0.1:9: connection refused (search_read, after 3 attempts) — is ODOO_URL right?"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn breaker_fails_fast_then_probes_and_recovers() {
        let backend = backend();
        let (_, calls) = run(&backend, Repeat::Unsafe, &[fail(FailureKind::Unavailable)]).await;
        assert_eq!(calls, 1);
        let _ = run(&backend, Repeat::Unsafe, &[fail(FailureKind::Unavailable)]).await;
        let _ = run(&backend, Repeat::Unsafe, &[fail(FailureKind::Unavailable)]).await;
        assert_eq!(backend.status(), BreakerStatus::Open);
        let started = Instant::now();
        let (result, calls) = run(&backend, Repeat::Safe, &[Ok(1)]).await;
        assert_eq!(calls, 0, "no attempt while open");
        assert!(started.elapsed() < Duration::from_millis(50));
        let message = result.unwrap_err().to_string();
        assert!(message.contains("was not attempted"), "{message}");
        tokio::time::sleep(Duration::from_millis(320)).await;
        let (result, calls) = run(&backend, Repeat::Safe, &[Ok(7)]).await;
        assert_eq!((result.unwrap(), calls), (7, 1));
        assert_eq!(backend.status(), BreakerStatus::Closed);
    }

    #[tokio::test]
    async fn slow_attempts_time_out() {
        let backend = Backend::new(
            "Svc",
            "http://x",
            "hint",
            BackendConfig {
                max_retries: 0,
                ..fast_config()
            },
        );
        let started = Instant::now();
        let result: Result<(), BackendError> = backend
            .call(
                "slow",
                Repeat::Safe,
                |_: &()| Failure::new(FailureKind::Protocol, "x"),
                || async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    Ok(())
                },
            )
            .await;
        assert!(started.elapsed() < Duration::from_secs(1));
        let message = result.unwrap_err().to_string();
        assert!(
            message.contains("did not answer slow in time: no answer within 0.2 s"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn long_retry_after_is_not_waited_for() {
        let asked = Failure::new(FailureKind::Unavailable, "HTTP 429 Too Many Requests")
            .with_retry_after(Some(Duration::from_secs(90)));
        let (result, calls) = run(&backend(), Repeat::Safe, &[Err(asked)]).await;
        assert_eq!(calls, 1);
        assert!(
            result
                .unwrap_err()
                .to_string()
                .contains("asked to wait 90 s")
        );
    }

    #[tokio::test]
    async fn real_refused_connection_is_classified_as_connect() {
        // Bind then drop a listener so the port is closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let error = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap_err();
        assert_eq!(Failure::from_io(&error).kind, FailureKind::Connect);
    }

    #[tokio::test]
    async fn http_errors_are_classified_with_their_root_cause() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let refused = reqwest::get(format!("http://127.0.0.1:{port}/"))
            .await
            .unwrap_err();
        let failure = failure_of_http_error(&refused);
        assert_eq!(
            (failure.kind, failure.detail.as_str()),
            (FailureKind::Connect, "connection refused")
        );
        assert_eq!(
            failure_of_status(304, "Not Modified", None).kind,
            FailureKind::Protocol
        );
        assert_eq!(
            failure_of_status(503, "Service Unavailable", None).kind,
            FailureKind::Unavailable
        );
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_static("3"),
        );
        assert_eq!(retry_after_of(&headers), Some(Duration::from_secs(3)));
    }

    /// Attempts that never answer (or fail at once), under a deadline: every attempt and backoff
    /// fits in it, and the error says the deadline stopped the call and after how many attempts.
    #[tokio::test]
    async fn retries_share_the_deadline_of_the_tool_call() {
        async fn hang() -> Result<u32, Failure> {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(1)
        }
        async fn busy() -> Result<u32, Failure> {
            Err(Failure::new(FailureKind::Unavailable, "HTTP 502"))
        }
        async fn slow_asker() -> Result<u32, Failure> {
            Err(Failure::new(FailureKind::Unavailable, "HTTP 429")
                .with_retry_after(Some(Duration::from_secs(2))))
        }
        let config = |timeout_ms: u64, base_ms: u64| BackendConfig {
            timeout: Duration::from_millis(timeout_ms),
            max_retries: 3,
            base_delay: Duration::from_millis(base_ms),
            max_retry_after: Duration::from_secs(5),
            breaker_threshold: 100,
            breaker_cooldown: Duration::from_secs(1),
        };
        // (per-attempt timeout, base delay, deadline, attempt, expected attempts, expected text)
        type Attempt = fn() -> std::pin::Pin<Box<dyn Future<Output = Result<u32, Failure>> + Send>>;
        let cases: Vec<(u64, u64, u64, Attempt, u32, &str)> = vec![
            // A hung backend: the one attempt is cut at the deadline, not at 10 s.
            (
                10_000,
                5,
                300,
                || Box::pin(hang()),
                1,
                "did not answer op in time: no answer within 0.3 s; gave up after 1 attempt because the deadline of this tool call was reached — hint",
            ),
            // Failing at once: one backoff (~200 ms) fits, the next (~400 ms) would not.
            (
                200,
                200,
                500,
                || Box::pin(busy()),
                2,
                "is unavailable: op failed with HTTP 502; gave up after 2 attempts because the deadline of this tool call was reached — hint",
            ),
            // A Retry-After longer than the time left is not slept.
            (
                200,
                5,
                1_000,
                || Box::pin(slow_asker()),
                1,
                "is unavailable: op failed with HTTP 429; gave up after 1 attempt because the deadline of this tool call was reached — hint",
            ),
        ];
        for (timeout_ms, base_ms, deadline_ms, attempt, attempts, text) in cases {
            let backend = Backend::new("Svc", "http://x", "hint", config(timeout_ms, base_ms));
            let made = AtomicU32::new(0);
            let started = tokio::time::Instant::now();
            let deadline = started + Duration::from_millis(deadline_ms);
            let result = with_deadline(
                deadline,
                backend.call(
                    "op",
                    Repeat::Safe,
                    |f: &Failure| f.clone(),
                    || {
                        made.fetch_add(1, Ordering::SeqCst);
                        attempt()
                    },
                ),
            )
            .await;
            let elapsed = started.elapsed();
            let error = result.unwrap_err();
            assert!(error.deadline_reached, "{error}");
            assert_eq!(made.load(Ordering::SeqCst), attempts, "{error}");
            assert_eq!(error.attempts, attempts, "{error}");
            assert!(error.to_string().ends_with(text), "{error}");
            assert!(
                elapsed <= Duration::from_millis(deadline_ms + 100),
                "{elapsed:?} for a deadline of {deadline_ms} ms"
            );
        }
        // Without a deadline the policy is unchanged, and an inner deadline never extends an
        // outer one.
        assert_eq!(current_deadline(), None);
        let outer = tokio::time::Instant::now() + Duration::from_secs(1);
        let inner = with_deadline(outer, async {
            with_deadline(outer + Duration::from_secs(60), async {
                current_deadline()
            })
            .await
        })
        .await;
        assert_eq!(inner, Some(outer));
    }

    /// A host name that does not resolve is a setting to fix: no retries, no waiting.
    #[tokio::test]
    async fn unresolvable_hosts_fail_at_once_naming_the_host() {
        struct NoSuchHost;
        impl reqwest::dns::Resolve for NoSuchHost {
            fn resolve(&self, _name: reqwest::dns::Name) -> reqwest::dns::Resolving {
                Box::pin(async {
                    Err::<reqwest::dns::Addrs, _>(
                        std::io::Error::other(
                            "failed to lookup address information: Name or service not known",
                        )
                        .into(),
                    )
                })
            }
        }
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(NoSuchHost))
            .build()
            .unwrap();
        let backend = Backend::new(
            "Odoo",
            "http://odoo.invalid:8069",
            "is ODOO_URL right?",
            BackendConfig::standard(),
        );
        let made = AtomicU32::new(0);
        let started = Instant::now();
        let result: Result<reqwest::Response, BackendError> = backend
            .call(
                "search_read on res.partner",
                Repeat::Safe,
                failure_of_http_error,
                || {
                    made.fetch_add(1, Ordering::SeqCst);
                    client.get("http://odoo.invalid:8069/web/version").send()
                },
            )
            .await;
        let message = result.unwrap_err().to_string();
        assert_eq!(made.load(Ordering::SeqCst), 1, "not retried");
        assert!(started.elapsed() < Duration::from_millis(500));
        assert_eq!(
            message,
            "error connecting to Odoo at http://odoo.invalid:8069: could not resolve host odoo.invalid: name or service not known (search_read on res.partner) — is ODOO_URL right?"
        );
        assert_eq!(backend.status(), BreakerStatus::Closed);
    }

    #[test]
    fn too_large_requests_blame_the_size_not_the_url() {
        let failure = failure_of_status(413, "Payload Too Large", None);
        assert_eq!(failure.kind, FailureKind::Rejected);
        assert_eq!(failure.hint.as_deref(), Some(TOO_LARGE_HINT));
        assert_eq!(failure_of_status(404, "Not Found", None).hint, None);
    }

    #[test]
    fn statuses_and_retry_after_are_classified() {
        let cases = [
            (200, FailureKind::Protocol),
            (304, FailureKind::Protocol),
            (404, FailureKind::Rejected),
            (401, FailureKind::Rejected),
            (408, FailureKind::Unavailable),
            (429, FailureKind::Unavailable),
            (502, FailureKind::Unavailable),
        ];
        for (status, kind) in cases {
            assert_eq!(failure_of_status(status, "", None).kind, kind, "{status}");
        }
        assert_eq!(parse_retry_after(" 2 "), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    #[test]
    fn jitter_stays_within_a_quarter() {
        for _ in 0..100 {
            let delay = jittered(Duration::from_secs(4));
            assert!(
                delay >= Duration::from_secs(3) && delay <= Duration::from_secs(5),
                "{delay:?}"
            );
        }
    }
}
