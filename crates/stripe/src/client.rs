//! The Stripe API client: async-stripe's typed requests, sent through mcp-common's pooled
//! client and [`Backend`] policy (timeout, retries with backoff, breaker), so that retries,
//! idempotency keys and the headers Stripe answers with (`Idempotent-Replayed`, `Request-Id`)
//! are in this server's hands rather than a second HTTP stack's.
//!
//! A write is only ever sent with an idempotency key, which makes it [`Repeat::Safe`]: a retry
//! after a timeout or a reset reuses the key, and Stripe answers it from its idempotency cache
//! instead of acting again.

use mcp_common::backend::{failure_of_status, retry_after_of};
use mcp_common::{
    ApiClient, Backend, BackendError, Failure, FailureKind, Refusable, Repeat, Secret,
};
use serde_json::Value;
use stripe_client_core::{StripeMethod, StripeRequest};

use crate::config::{Mode, StripeConfig};

/// The API version async-stripe's types describe; every request pins it so that Stripe answers
/// in the shapes they decode, whatever the account's default version.
fn api_version() -> &'static str {
    stripe_shared::version::VERSION.as_str()
}

/// The Stripe API as this server reaches it.
#[derive(Debug, Clone)]
pub struct StripeApi {
    api: ApiClient,
    key: Secret,
    account: Option<String>,
    mode: Mode,
}

/// Per-call settings.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The Connect account to act for, overriding `STRIPE_ACCOUNT`.
    pub account: Option<String>,
    /// The `Idempotency-Key` of a write.
    pub idempotency_key: Option<String>,
}

/// A successful answer.
#[derive(Debug)]
pub struct Answer<T> {
    /// The answer as async-stripe's type.
    pub object: T,
    /// The same answer as JSON, for shaping the tool's output.
    pub raw: Value,
    /// Stripe answered from its idempotency cache: the write had already been done.
    pub replayed: bool,
}

/// Stripe's error object (`{"error": {...}}`), as far as a person needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// `card_error`, `invalid_request_error`, `idempotency_error`, `api_error`, …
    pub kind: String,
    /// Stripe's error code, e.g. `card_declined`, `resource_missing`.
    pub code: Option<String>,
    /// The issuer's reason for a decline, e.g. `insufficient_funds`.
    pub decline_code: Option<String>,
    /// The parameter Stripe names.
    pub param: Option<String>,
    /// Stripe's own sentence.
    pub message: Option<String>,
    /// The request's id (`req_…`), for Stripe's dashboard and support.
    pub request_id: Option<String>,
    /// The payment intent a card error belongs to.
    pub payment_intent: Option<String>,
}

impl ApiError {
    /// Reads an error body; one that is not Stripe's JSON still keeps the status.
    pub fn parse(status: u16, body: &[u8], request_id: Option<String>) -> ApiError {
        let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let error = &value["error"];
        let text = |key: &str| error[key].as_str().map(str::to_owned);
        // The dashboard log URL ends with the request id when the header is missing.
        let from_log = text("request_log_url")
            .and_then(|url| url.rsplit('/').next().map(str::to_owned))
            .filter(|id| id.starts_with("req_"));
        ApiError {
            status,
            kind: text("type").unwrap_or_else(|| "api_error".into()),
            code: text("code"),
            decline_code: text("decline_code"),
            param: text("param").filter(|p| !p.is_empty()),
            message: text("message"),
            request_id: request_id.or(from_log),
            payment_intent: error["payment_intent"]["id"].as_str().map(str::to_owned),
        }
    }

    /// Whether another attempt with the same idempotency key may succeed: Stripe is
    /// overloaded, failing, or still running the first request with that key.
    fn is_transient(&self) -> bool {
        self.status == 429
            || self.status >= 500
            || (self.status == 409 && self.kind != "idempotency_error")
            || (self.status == 409
                && self
                    .message
                    .as_deref()
                    .is_some_and(|m| m.contains("currently being processed")))
    }

    fn failure(&self, retry_after: Option<std::time::Duration>) -> Failure {
        let reason = http::StatusCode::from_u16(self.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or_default();
        let mut failure = failure_of_status(self.status, reason, retry_after);
        if self.is_transient() {
            failure.kind = FailureKind::Unavailable;
        }
        if let Some(message) = &self.message {
            failure.detail = format!("{}: {message}", failure.detail);
        }
        failure
    }
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    /// Stripe refused the request with its error object.
    #[error("Stripe refused {operation}: {}", .error.message.as_deref().unwrap_or("no reason given"))]
    Api {
        /// What was being done.
        operation: String,
        /// Stripe's answer.
        error: ApiError,
    },
    /// Stripe could not be reached, or kept failing.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// Stripe answered, but not in a shape async-stripe's type reads.
    #[error("Stripe answered {operation} with something this server cannot read ({detail}){}", .id.as_ref().map(|id| format!("; the object is {id}, so check it in the dashboard before trying again")).unwrap_or_default())]
    Unreadable {
        /// What was being done.
        operation: String,
        /// What is wrong with it.
        detail: String,
        /// The id of the object the answer names, when it names one.
        id: Option<String>,
    },
}

impl StripeApi {
    /// A client for the configured account.
    pub fn new(config: &StripeConfig, version: &str) -> Result<StripeApi, mcp_common::StartError> {
        let http = mcp_common::api::http_client("stripe", version)?;
        let endpoint = config.api_url.trim_end_matches('/').to_owned();
        let backend = Backend::new(
            "Stripe",
            endpoint.clone(),
            "check STRIPE_API_URL and the network, or https://status.stripe.com",
            config.backend.clone(),
        );
        Ok(StripeApi {
            api: ApiClient::new(http, backend, format!("{endpoint}/v1")),
            key: config.api_key.clone(),
            account: config.account.clone(),
            mode: config.mode,
        })
    }

    /// The same API called with another key (a team-mode caller's own) in `mode`, with a circuit
    /// breaker of its own.
    pub fn with_key(&self, key: Secret, mode: Mode) -> StripeApi {
        StripeApi {
            api: self.api.with_backend(self.api.backend().fresh()),
            key,
            account: self.account.clone(),
            mode,
        }
    }

    /// Test or live.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The Connect account calls act for when a tool names none (`STRIPE_ACCOUNT`).
    pub fn default_account(&self) -> Option<&str> {
        self.account.as_deref()
    }

    /// The policy calls go through (for readiness).
    pub fn backend(&self) -> &Backend {
        self.api.backend()
    }

    /// Sends `request` as `operation` (e.g. "create_payment_intent"). A read, or a write with an
    /// idempotency key, is retried under the policy; a write without one is sent once.
    pub async fn send<R>(
        &self,
        operation: &str,
        request: &R,
        options: &Options,
    ) -> Result<Answer<R::Output>, StripeError>
    where
        R: StripeRequest,
        R::Output: miniserde::Deserialize,
    {
        let built = request.build();
        let method = match built.method {
            StripeMethod::Get => reqwest::Method::GET,
            StripeMethod::Post => reqwest::Method::POST,
            StripeMethod::Delete => reqwest::Method::DELETE,
        };
        let mut url = self.api.url(&built.path);
        if let Some(query) = built.query.as_deref().filter(|q| !q.is_empty()) {
            url.push('?');
            url.push_str(query);
        }
        let repeat = if method == reqwest::Method::GET || options.idempotency_key.is_some() {
            Repeat::Safe
        } else {
            Repeat::Unsafe
        };
        let account = options.account.as_deref().or(self.account.as_deref());
        let request = || {
            let mut request = self
                .api
                .http()
                .request(method.clone(), &url)
                .bearer_auth(self.key.expose())
                .header("Stripe-Version", api_version());
            if let Some(account) = account {
                request = request.header("Stripe-Account", account);
            }
            if let Some(key) = &options.idempotency_key {
                request = request.header("Idempotency-Key", key);
            }
            if let Some(body) = &built.body {
                request = request
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    )
                    .body(body.clone());
            }
            request
        };
        let refusal = |status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]| {
            let request_id = header(headers, "request-id");
            let error = ApiError::parse(status, body, request_id);
            let failure = error.failure(retry_after_of(headers));
            (error, failure)
        };
        let answer = self
            .api
            .call_refusable(operation, repeat, request, refusal)
            .await
            .map_err(|error| match error {
                Refusable::Refused(error) => StripeError::Api {
                    operation: operation.to_owned(),
                    error,
                },
                Refusable::Failed(error) => StripeError::Backend(error),
            })?;
        let replayed = header(&answer.headers, "idempotent-replayed").as_deref() == Some("true");
        let body = answer.body;
        let raw: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let unreadable = |detail: &str| StripeError::Unreadable {
            operation: operation.to_owned(),
            detail: detail.to_owned(),
            id: raw["id"].as_str().map(str::to_owned),
        };
        let text = std::str::from_utf8(&body).map_err(|_| unreadable("not UTF-8"))?;
        let object: R::Output = miniserde::json::from_str(text).map_err(|_| {
            // Garbage from a proxy is not a version mismatch; saying so would send the operator
            // looking in the wrong place.
            if raw.is_null() {
                unreadable("the answer is not JSON")
            } else {
                unreadable("its fields do not match the Stripe API version this server speaks")
            }
        })?;
        Ok(Answer {
            object,
            raw,
            replayed,
        })
    }
}

/// A header's value as text, if it has one.
fn header(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_are_read_and_classified() {
        let body = br#"{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds.","param":"","payment_intent":{"id":"pi_1"},"request_log_url":"https://dashboard.stripe.com/test/logs/req_abc"}}"#;
        let error = ApiError::parse(402, body, None);
        assert_eq!(error.kind, "card_error");
        assert_eq!(error.decline_code.as_deref(), Some("insufficient_funds"));
        assert_eq!(error.param, None);
        assert_eq!(error.request_id.as_deref(), Some("req_abc"));
        assert_eq!(error.payment_intent.as_deref(), Some("pi_1"));
        assert_eq!(error.failure(None).kind, FailureKind::Rejected);

        // (status, type, message, transient)
        let cases = [
            (429, "rate_limit_error", "Too many requests", true),
            (500, "api_error", "Something went wrong", true),
            (
                409,
                "idempotency_error",
                "There is currently another in-progress request using this Stripe-Idempotency-Key (that was currently being processed)",
                true,
            ),
            (
                400,
                "idempotency_error",
                "Keys for idempotent requests can only be used with the same parameters",
                false,
            ),
            (404, "invalid_request_error", "No such customer", false),
        ];
        for (status, kind, message, transient) in cases {
            let body = serde_json::json!({"error": {"type": kind, "message": message}}).to_string();
            let error = ApiError::parse(status, body.as_bytes(), Some("req_1".into()));
            assert_eq!(error.is_transient(), transient, "{status} {kind}");
            assert!(error.failure(None).detail.contains(message));
        }
    }
}
