//! One HTTP/JSON API client for every remote backend: a pooled reqwest client with the project's
//! User-Agent ([`client_builder`]) and an [`ApiClient`] that sends each request as an operation
//! through [`Backend::call`], so that the status check, the classification of failures and the
//! reading of the body are written once rather than in every server crate.
//!
//! What stays with each service is what differs: how to build its requests, how to read its
//! answers, and how its error bodies become a sentence and a hint ([`Explanation`]).

use std::sync::Arc;
use std::time::Duration;

use crate::backend::{
    Backend, BackendError, Failure, FailureKind, Repeat, failure_of_http_error, failure_of_status,
    retry_after_of,
};

/// How long an idle pooled connection is kept: dropped before a proxy or the service half-closes
/// it, so a request is never sent on a connection about to be reset.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A reqwest client builder with the project's settings: the User-Agent `mcp-<server>/<version>`
/// (so a service's logs say which server called), TCP_NODELAY (requests are small and latency
/// matters more than packet count) and the pool's idle timeout. Callers add their own timeouts.
pub fn client_builder(server: &str, version: &str) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .user_agent(format!("mcp-{server}/{version}"))
        .tcp_nodelay(true)
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
}

/// A [`client_builder`] client as start-up needs it: built, or a [`StartError`](crate::StartError)
/// saying why not (no usable TLS roots, for one).
pub fn http_client(server: &str, version: &str) -> Result<reqwest::Client, crate::StartError> {
    client_builder(server, version)
        .build()
        .map_err(|e| crate::StartError::new(format!("could not build the HTTP client: {e}")))
}

/// What a service's error body adds to a non-success status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Explanation {
    /// The service's own explanation in one line, appended to the status, e.g. "HTTP 401
    /// Unauthorized: Incorrect API key provided".
    pub message: Option<String>,
    /// What to check, replacing the backend's default hint.
    pub hint: Option<String>,
}

/// Turns a service's error status and body into an [`Explanation`].
type Explain = dyn Fn(u16, &[u8]) -> Explanation + Send + Sync;

/// An HTTP API reached through a [`Backend`]: the pooled client, the policy and the base URL.
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    backend: Arc<Backend>,
    base: String,
    explain: Arc<Explain>,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("service", &self.backend.service())
            .field("endpoint", &self.backend.endpoint())
            .finish()
    }
}

impl ApiClient {
    /// A client for the API at `base` (without a trailing slash; it may hold credentials, which
    /// only the backend's endpoint must not), whose error bodies say nothing worth passing on.
    pub fn new(http: reqwest::Client, backend: Backend, base: impl Into<String>) -> ApiClient {
        ApiClient {
            http,
            backend: Arc::new(backend),
            base: base.into(),
            explain: Arc::new(|_, _| Explanation::default()),
        }
    }

    /// Reads the service's error bodies with `explain` (given the status and the body), so its
    /// refusals keep their own words and a precise hint.
    pub fn explaining(
        mut self,
        explain: impl Fn(u16, &[u8]) -> Explanation + Send + Sync + 'static,
    ) -> ApiClient {
        self.explain = Arc::new(explain);
        self
    }

    /// The same API under another policy (e.g. fewer retries for a start-up probe), sharing the
    /// connection pool but not the breaker.
    pub fn with_backend(&self, backend: Backend) -> ApiClient {
        ApiClient {
            backend: Arc::new(backend),
            ..self.clone()
        }
    }

    /// The policy requests go through.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// The pooled HTTP client.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// `base` followed by `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A `GET` of `path`.
    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(self.url(path))
    }

    /// A `POST` to `path`.
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.post(self.url(path))
    }

    /// Sends the request `request` builds (once per attempt) as `operation` under the backend's
    /// policy, and hands a successful body to `decode`. A failed exchange is classified by
    /// [`failure_of_http_error`], a non-success status by [`failure_of_status`] with its
    /// `Retry-After` and the service's explanation, and a body `decode` refuses fails the
    /// attempt with its failure (so a safe operation is retried: the next answer may be fine).
    pub async fn call<T>(
        &self,
        operation: &str,
        repeat: Repeat,
        request: impl Fn() -> reqwest::RequestBuilder,
        decode: impl Fn(&[u8]) -> Result<T, Failure>,
    ) -> Result<T, BackendError> {
        self.backend
            .call(operation, repeat, Failure::clone, || async {
                let body = self.exchange(request()).await?;
                decode(&body)
            })
            .await
    }

    /// [`call`](ApiClient::call) for a JSON answer, `what` naming it in errors (e.g. "an
    /// OpenAI embedding list"; see [`decode_json`]).
    pub async fn call_json<T: serde::de::DeserializeOwned>(
        &self,
        operation: &str,
        repeat: Repeat,
        request: impl Fn() -> reqwest::RequestBuilder,
        what: &str,
    ) -> Result<T, BackendError> {
        self.call(operation, repeat, request, |body| decode_json(body, what))
            .await
    }

    /// One attempt outside the policy: the body of a successful answer, or the classified
    /// failure. For transports whose decoding classifies into their own attempt error (Odoo's
    /// faults) and so run their attempts through [`backend`](ApiClient::backend) themselves.
    pub async fn exchange(&self, request: reqwest::RequestBuilder) -> Result<Vec<u8>, Failure> {
        let response = request
            .send()
            .await
            .map_err(|e| failure_of_http_error(&e))?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = retry_after_of(response.headers());
            // The body only adds the service's explanation; losing it must not hide the status.
            let body = response.bytes().await.unwrap_or_default();
            let code = status.as_u16();
            let mut failure = failure_of_status(
                code,
                status.canonical_reason().unwrap_or_default(),
                retry_after,
            );
            let Explanation { message, hint } = (self.explain)(code, &body);
            if let Some(message) = message {
                failure.detail = format!("{}: {message}", failure.detail);
            }
            return Err(match hint {
                Some(hint) => failure.with_hint(hint),
                None => failure,
            });
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| failure_of_http_error(&e))?;
        Ok(body.to_vec())
    }
}

/// A successful answer with its headers, for services whose headers carry facts the caller
/// reports (Stripe's `Idempotent-Replayed`).
#[derive(Debug)]
pub struct Answer {
    /// The response headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

/// Why a call to a service with error objects of its own failed.
#[derive(Debug)]
pub enum Refusable<E> {
    /// The service refused the request with its error object, and the policy did not send it
    /// again: the server words it with the service's code and documentation.
    Refused(E),
    /// The service could not be reached, kept failing, or its breaker is open.
    Failed(BackendError),
}

/// A service's error object from a call's attempts, kept so that the call's error can carry it
/// when the call ended on that refusal (a rejection the policy did not send again), and not when
/// a refused attempt was followed by one that failed otherwise. [`ApiClient::call_refusable`]
/// keeps one; a caller that reads its answer itself (a stream) keeps its own around
/// [`Backend::call`].
#[derive(Debug)]
pub struct RefusalSlot<E>(std::sync::Mutex<Option<E>>);

impl<E> Default for RefusalSlot<E> {
    fn default() -> Self {
        RefusalSlot(std::sync::Mutex::new(None))
    }
}

impl<E> RefusalSlot<E> {
    /// Keeps the error object an attempt was refused with.
    pub fn keep(&self, refusal: E) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(refusal);
    }

    /// The kept object, if the call that failed with `error` ended on a rejection.
    pub fn take_for(&self, error: &BackendError) -> Option<E> {
        let rejected = error
            .failure
            .as_ref()
            .is_some_and(|f| f.kind == FailureKind::Rejected);
        let kept = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        kept.filter(|_| rejected)
    }
}

impl ApiClient {
    /// Sends the request `request` builds (once per attempt) as `operation` under the backend's
    /// policy, for services that answer a refusal with an error object of their own (Stripe's,
    /// Twilio's). `refusal` reads a non-success status, its headers and body into that object
    /// and the [`Failure`] the policy acts on (it may mark a rate limit
    /// [`not_acted`](Failure::not_acted), or a status the service means as final
    /// [`Rejected`](FailureKind::Rejected)). When the call ends on a rejection, the last object
    /// read comes back as [`Refusable::Refused`]; any other end is [`Refusable::Failed`].
    pub async fn call_refusable<E>(
        &self,
        operation: &str,
        repeat: Repeat,
        request: impl Fn() -> reqwest::RequestBuilder,
        refusal: impl Fn(u16, &reqwest::header::HeaderMap, &[u8]) -> (E, Failure),
    ) -> Result<Answer, Refusable<E>> {
        let refusals = RefusalSlot::default();
        let outcome = self
            .backend
            .call(operation, repeat, Failure::clone, || async {
                let response = request()
                    .send()
                    .await
                    .map_err(|e| failure_of_http_error(&e))?;
                let status = response.status().as_u16();
                let headers = response.headers().clone();
                if !(200..300).contains(&status) {
                    // The body only adds the service's explanation; losing it must not hide the status.
                    let body = response.bytes().await.unwrap_or_default();
                    let (error, failure) = refusal(status, &headers, &body);
                    refusals.keep(error);
                    return Err(failure);
                }
                let body = response
                    .bytes()
                    .await
                    .map_err(|e| failure_of_http_error(&e))?;
                Ok(Answer {
                    headers,
                    body: body.to_vec(),
                })
            })
            .await;
        outcome.map_err(|error| match refusals.take_for(&error) {
            Some(refused) => Refusable::Refused(refused),
            None => Refusable::Failed(error),
        })
    }
}

/// Decodes a JSON body; one that does not match `T` is a protocol failure saying "the answer is
/// not {what} (…)", which the backend's error prefixes with the service's name.
pub fn decode_json<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, Failure> {
    serde_json::from_slice(body).map_err(|e| {
        Failure::new(
            FailureKind::Protocol,
            format!("the answer is not {what} ({e})"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::BackendConfig;

    #[test]
    fn malformed_json_is_a_protocol_failure_naming_the_answer() {
        let failure = decode_json::<Vec<u32>>(b"{", "a list of numbers").unwrap_err();
        assert_eq!(failure.kind, FailureKind::Protocol);
        assert!(
            failure
                .detail
                .starts_with("the answer is not a list of numbers ("),
            "{}",
            failure.detail
        );
        assert_eq!(decode_json::<Vec<u32>>(b"[1,2]", "x").unwrap(), [1, 2]);
    }

    #[tokio::test]
    async fn a_final_refusal_keeps_the_services_error_object_and_others_do_not() {
        use axum::http::StatusCode;
        let app = axum::Router::new()
            .route(
                "/refuse",
                axum::routing::post(|| async { (StatusCode::BAD_REQUEST, "21211") }),
            )
            .route(
                "/fail",
                axum::routing::get(|| async { (StatusCode::BAD_GATEWAY, "down") }),
            )
            .route(
                "/ok",
                axum::routing::get(|| async { ([("x-replayed", "true")], "{}") }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let backend = Backend::new("Svc", base.clone(), "is SVC_URL right?", {
            BackendConfig {
                max_retries: 0,
                ..BackendConfig::standard()
            }
        });
        let http = client_builder("test", "0").build().unwrap();
        let api = ApiClient::new(http, backend, base);
        let read = |status: u16, _: &reqwest::header::HeaderMap, body: &[u8]| {
            let code = String::from_utf8_lossy(body).into_owned();
            (code, failure_of_status(status, "", None))
        };
        let refused = api
            .call_refusable("send", Repeat::Unsafe, || api.post("/refuse"), read)
            .await
            .unwrap_err();
        assert!(matches!(refused, Refusable::Refused(code) if code == "21211"));
        let failed = api
            .call_refusable("read", Repeat::Safe, || api.get("/fail"), read)
            .await
            .unwrap_err();
        assert!(matches!(failed, Refusable::Failed(e) if e.to_string().contains("502")));
        let answer = api
            .call_refusable("read", Repeat::Safe, || api.get("/ok"), read)
            .await
            .unwrap();
        assert_eq!(answer.body, b"{}");
        assert_eq!(answer.headers["x-replayed"], "true");
    }

    #[tokio::test]
    async fn statuses_are_explained_by_the_service() {
        use axum::http::StatusCode;
        let app = axum::Router::new().route(
            "/fail",
            axum::routing::get(|| async {
                (
                    StatusCode::UNAUTHORIZED,
                    r#"{"error":{"message":"bad key"}}"#,
                )
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let backend = Backend::new("Svc", base.clone(), "is SVC_URL right?", {
            BackendConfig {
                max_retries: 0,
                ..BackendConfig::standard()
            }
        });
        let http = client_builder("test", "0").build().unwrap();
        let api = ApiClient::new(http, backend, base).explaining(|code, body| Explanation {
            message: String::from_utf8(body.to_vec()).ok(),
            hint: (code == 401).then(|| "check SVC_KEY".to_owned()),
        });
        let error = api
            .call("op", Repeat::Safe, || api.get("/fail"), |_| Ok(()))
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"Svc rejected op: HTTP 401 Unauthorized: {"error":{"message":"bad key"}} — check SVC_KEY"#
        );
    }
}
