//! The OpenAI-compatible API as this server reaches it: requests built from `openai-compat`'s wire
//! types, sent through mcp-common's pooled client and [`Backend`] policy, chat answers streamed.
//!
//! Every operation here is [`Repeat::Safe`]: a chat completion, an embedding, a model list or a
//! moderation changes nothing at the provider (it only costs tokens), so sending one again after
//! a timeout, a dropped connection, a 429 or a 5xx cannot act twice; the retry policy and its
//! `Retry-After` handling apply to all of them. A refusal (4xx other than 429) is never retried,
//! and neither is a 429 for exhausted quota, which waiting does not fix.
//!
//! Two time limits apply: `OPENAI_TIMEOUT_SECS` to each wait for the endpoint (the answer, its
//! headers, the next piece of a stream), so a stalled stream fails in that time rather than at the
//! end of the call; and `OPENAI_CHAT_TIMEOUT_SECS` to a whole chat call, however long its stream.

use std::time::Duration;

use mcp_common::backend::{failure_of_http_error, failure_of_status, retry_after_of};
use mcp_common::{
    ApiClient, Backend, BackendError, Failure, FailureKind, RefusalSlot, Repeat, Secret,
};
use openai_compat::sse;
use openai_compat::stream::{Assembler, StreamError};
use openai_compat::wire::{
    ApiError, ChatCompletion, ChatRequest, EmbeddingRequest, EmbeddingResponse, ModelList,
    ModerationRequest, ModerationResponse, StreamOptions, Usage, error_sentence,
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::mpsc::UnboundedSender;

use crate::config::{Auth, OpenAiConfig};

/// The API at the configured endpoint.
#[derive(Debug, Clone)]
pub struct OpenAiApi {
    api: ApiClient,
    key: Option<Secret>,
    auth: Auth,
    /// The longest wait for the endpoint (`OPENAI_TIMEOUT_SECS`).
    idle: Duration,
}

/// What the endpoint said when it refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The HTTP status.
    pub status: u16,
    /// OpenAI's error object, when the body was one.
    pub error: Option<ApiError>,
}

/// A failed call: the policy's error (naming the service, the endpoint, the cause and what to
/// check) and, when the endpoint refused the request, its refusal.
#[derive(Debug, Clone)]
pub struct CallError {
    /// The error to show.
    pub error: BackendError,
    /// The refusal behind it.
    pub refusal: Option<Refusal>,
}

impl CallError {
    /// The parameter a 400 refused as unsupported for the model (OpenAI's
    /// `unsupported_parameter` and `unsupported_value`), which a changed request may avoid.
    pub fn unsupported_parameter(&self) -> Option<&str> {
        let refusal = self.refusal.as_ref().filter(|r| r.status == 400)?;
        let error = refusal.error.as_ref()?;
        let unsupported = matches!(
            error.code.as_deref(),
            Some("unsupported_parameter" | "unsupported_value")
        ) || error.message.as_deref().is_some_and(|m| {
            m.starts_with("Unsupported parameter") || m.starts_with("Unsupported value")
        });
        if unsupported {
            error.param.as_deref()
        } else {
            None
        }
    }
}

/// What a streamed chat reports as it arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// An attempt starts: text received by an earlier one is void.
    Restart,
    /// More of the answer.
    Delta(String),
}

/// A finished chat answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatAnswer {
    /// The text.
    pub text: String,
    /// The model's refusal, with structured outputs.
    pub refusal: Option<String>,
    /// The model that answered, as the endpoint names it.
    pub model: String,
    /// `stop`, `length`, `content_filter`, …
    pub finish_reason: Option<String>,
    /// Usage, when the endpoint reported it.
    pub usage: Option<Usage>,
}

impl OpenAiApi {
    /// A client for the configured endpoint.
    pub fn new(config: &OpenAiConfig, version: &str) -> Result<OpenAiApi, mcp_common::StartError> {
        let http = mcp_common::api::http_client("openai", version)?;
        let idle = config.backend.timeout;
        // The policy's own limit bounds a whole attempt, which for a chat is its whole stream;
        // the waits inside it are limited to `idle` here.
        let mut policy = config.backend.clone();
        policy.timeout = config.chat_timeout.max(idle);
        let backend = Backend::new(
            "OpenAI",
            config.base_url.clone(),
            "check OPENAI_BASE_URL and that the endpoint is running, or https://status.openai.com",
            policy,
        );
        Ok(OpenAiApi {
            api: ApiClient::new(http, backend, config.base_url.clone()),
            key: config.api_key.clone(),
            auth: config.auth,
            idle,
        })
    }

    /// The same endpoint called with another key (a team-mode caller's own), with a circuit
    /// breaker of its own.
    pub fn with_key(&self, key: Secret) -> OpenAiApi {
        OpenAiApi {
            api: self.api.with_backend(self.api.backend().fresh()),
            key: Some(key),
            auth: self.auth,
            idle: self.idle,
        }
    }

    /// The policy calls go through (for readiness).
    pub fn backend(&self) -> &Backend {
        self.api.backend()
    }

    /// `GET /models`.
    pub async fn models(&self) -> Result<ModelList, CallError> {
        self.call_json(
            "list_models",
            reqwest::Method::GET,
            "/models",
            None,
            "a model list",
        )
        .await
    }

    /// `POST /embeddings`.
    pub async fn embeddings(
        &self,
        request: &EmbeddingRequest,
    ) -> Result<EmbeddingResponse, CallError> {
        let body = serde_json::to_value(request).unwrap_or(Value::Null);
        self.call_json(
            "embed",
            reqwest::Method::POST,
            "/embeddings",
            Some(&body),
            "an embedding list",
        )
        .await
    }

    /// `POST /moderations`.
    pub async fn moderations(
        &self,
        request: &ModerationRequest,
    ) -> Result<ModerationResponse, CallError> {
        let body = serde_json::to_value(request).unwrap_or(Value::Null);
        self.call_json(
            "moderate",
            reqwest::Method::POST,
            "/moderations",
            Some(&body),
            "a moderation result",
        )
        .await
    }

    /// `POST /chat/completions`, streamed: each piece of the answer goes to `events` as it
    /// arrives (sending fails silently when nobody listens). An endpoint that answers with a plain
    /// completion instead of a stream is read as such.
    pub async fn chat(
        &self,
        request: &ChatRequest,
        events: &UnboundedSender<StreamEvent>,
    ) -> Result<ChatAnswer, CallError> {
        let mut request = request.clone();
        request.stream = true;
        request.stream_options = Some(StreamOptions {
            include_usage: true,
        });
        let body = serde_json::to_value(&request).unwrap_or(Value::Null);
        let refusals = RefusalSlot::default();
        let outcome = self
            .api
            .backend()
            .call("chat", Repeat::Safe, Failure::clone, || async {
                let _ = events.send(StreamEvent::Restart);
                let response = self
                    .within_idle(
                        self.request(reqwest::Method::POST, "/chat/completions")
                            .json(&body)
                            .send(),
                    )
                    .await?
                    .map_err(|e| failure_of_http_error(&e))?;
                if !response.status().is_success() {
                    return Err(self.refused(response, &refusals).await);
                }
                let is_json = response
                    .headers()
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with("application/json"));
                if is_json {
                    let bytes = self
                        .within_idle(response.bytes())
                        .await?
                        .map_err(|e| failure_of_http_error(&e))?;
                    let completion: ChatCompletion =
                        mcp_common::api::decode_json(&bytes, "a chat completion")?;
                    let answer = answer_of(completion);
                    let _ = events.send(StreamEvent::Delta(answer.text.clone()));
                    return Ok(answer);
                }
                self.read_stream(response, events).await
            })
            .await;
        outcome.map_err(|error| CallError {
            refusal: refusals.take_for(&error),
            error,
        })
    }

    async fn read_stream(
        &self,
        mut response: reqwest::Response,
        events: &UnboundedSender<StreamEvent>,
    ) -> Result<ChatAnswer, Failure> {
        let mut decoder = sse::Decoder::new();
        let mut stream = Assembler::new();
        let unusable = |error: StreamError| {
            let kind = match error {
                StreamError::ErrorEvent(_) => FailureKind::Unavailable,
                _ => FailureKind::Protocol,
            };
            Failure::new(kind, error.to_string())
        };
        loop {
            let chunk = match tokio::time::timeout(self.idle, response.chunk()).await {
                Err(_) => {
                    let pieces = stream.pieces();
                    return Err(Failure::new(
                        FailureKind::Timeout,
                        format!(
                            "the stream stalled: nothing arrived for {} s after {pieces} piece{} of the answer",
                            secs(self.idle),
                            if pieces == 1 { "" } else { "s" }
                        ),
                    ));
                }
                Ok(Err(error)) => return Err(failure_of_http_error(&error)),
                Ok(Ok(None)) => break,
                Ok(Ok(Some(chunk))) => chunk,
            };
            for data in decoder.feed(&chunk) {
                if let Some(text) = stream.add(&data).map_err(unusable)? {
                    let _ = events.send(StreamEvent::Delta(text));
                }
            }
        }
        if let Some(data) = decoder.finish() {
            stream.add(&data).map_err(unusable)?;
        }
        if !stream.is_complete() {
            return Err(Failure::new(
                FailureKind::Protocol,
                format!(
                    "the stream ended before the answer was complete ({} pieces received)",
                    stream.pieces()
                ),
            ));
        }
        let answer = stream.finish();
        Ok(ChatAnswer {
            text: answer.message.content.unwrap_or_default(),
            refusal: answer.refusal,
            model: answer.model,
            finish_reason: answer.finish_reason,
            usage: answer.usage,
        })
    }

    /// A request to `path` with the key, as the endpoint wants it.
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.api.http().request(method, self.api.url(path));
        match (&self.key, self.auth) {
            (Some(key), Auth::Bearer) => request.bearer_auth(key.expose()),
            (Some(key), Auth::AzureApiKey) => request.header("api-key", key.expose()),
            (None, _) => request,
        }
    }

    async fn within_idle<T>(&self, future: impl Future<Output = T>) -> Result<T, Failure> {
        tokio::time::timeout(self.idle, future).await.map_err(|_| {
            Failure::new(
                FailureKind::Timeout,
                format!("no answer within {} s", secs(self.idle)),
            )
        })
    }

    async fn call_json<T: DeserializeOwned>(
        &self,
        operation: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        what: &str,
    ) -> Result<T, CallError> {
        let refusals = RefusalSlot::default();
        let outcome = self
            .api
            .backend()
            .call(operation, Repeat::Safe, Failure::clone, || async {
                let mut request = self.request(method.clone(), path);
                if let Some(body) = body {
                    request = request.json(body);
                }
                let exchange = async {
                    let response = request
                        .send()
                        .await
                        .map_err(|e| failure_of_http_error(&e))?;
                    if !response.status().is_success() {
                        return Err(self.refused(response, &refusals).await);
                    }
                    let bytes = response
                        .bytes()
                        .await
                        .map_err(|e| failure_of_http_error(&e))?;
                    mcp_common::api::decode_json::<T>(&bytes, what)
                };
                self.within_idle(exchange).await?
            })
            .await;
        outcome.map_err(|error| CallError {
            refusal: refusals.take_for(&error),
            error,
        })
    }

    /// The failure of a non-success answer, with OpenAI's own words and a precise hint; the
    /// refusal is kept in `slot` for the caller.
    async fn refused(&self, response: reqwest::Response, slot: &RefusalSlot<Refusal>) -> Failure {
        let status = response.status();
        let code = status.as_u16();
        let retry_after = retry_after_of(response.headers());
        // The body only adds the endpoint's explanation; losing it must not hide the status.
        let body = response.bytes().await.unwrap_or_default();
        let error = ApiError::parse(&body);
        let mut failure = failure_of_status(
            code,
            status.canonical_reason().unwrap_or_default(),
            retry_after,
        );
        let said = match &error {
            Some(error) => {
                let message = error
                    .message
                    .as_deref()
                    .unwrap_or("no reason given")
                    .trim_end_matches('.');
                match &error.param {
                    Some(param) if !param.is_empty() => format!("{message} (parameter `{param}`)"),
                    _ => message.to_owned(),
                }
            }
            // Some services echo the key they refused.
            None => error_sentence(&body, 200)
                .map(|line| mcp_common::secret::scrub(&line).into_owned())
                .unwrap_or_default(),
        };
        if !said.is_empty() {
            failure.detail = format!("{}: {said}", failure.detail);
        }
        let error_code = error.as_ref().and_then(|e| e.code.as_deref());
        let param = error
            .as_ref()
            .and_then(|e| e.param.as_deref())
            .filter(|p| !p.is_empty());
        let hint = match (code, error_code) {
            (401, _) => Some("check OPENAI_API_KEY".to_owned()),
            (403, _) => Some("the key has no access to this model or endpoint: check the project's permissions and model access".to_owned()),
            (404, Some("model_not_found")) => Some("call list_models to see the models this endpoint serves, or set OPENAI_MODEL".to_owned()),
            (404, _) => Some("check OPENAI_BASE_URL (OpenAI-compatible APIs usually end in /v1)".to_owned()),
            (429, Some("insufficient_quota")) => {
                // Waiting does not bring credit back: not worth a retry.
                failure.kind = FailureKind::Rejected;
                Some("the account has no quota left: check its plan and billing".to_owned())
            }
            (400 | 422, _) => Some(match param {
                Some(param) => format!("change or leave out `{param}`"),
                None => "change the arguments as the message says".to_owned(),
            }),
            _ => None,
        };
        slot.keep(Refusal {
            status: code,
            error,
        });
        match hint {
            Some(hint) => failure.with_hint(hint),
            None => failure,
        }
    }
}

fn answer_of(completion: ChatCompletion) -> ChatAnswer {
    let choice = completion.choices.into_iter().next();
    ChatAnswer {
        text: choice
            .as_ref()
            .and_then(|c| c.message.content.clone())
            .unwrap_or_default(),
        refusal: choice.as_ref().and_then(|c| c.message.refusal.clone()),
        model: completion.model,
        finish_reason: choice.and_then(|c| c.finish_reason),
        usage: completion.usage,
    }
}

/// Seconds as people write them: `2`, `0.5`.
pub fn secs(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs.fract() == 0.0 {
        format!("{secs:.0}")
    } else {
        format!("{secs:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(status: u16, body: serde_json::Value) -> CallError {
        CallError {
            error: BackendError {
                service: "OpenAI".into(),
                endpoint: "http://x/v1".into(),
                operation: "chat".into(),
                failure: None,
                attempts: 1,
                hint: "".into(),
                maybe_applied: false,
                open_for: None,
                deadline_reached: false,
            },
            refusal: Some(Refusal {
                status,
                error: ApiError::parse(body.to_string().as_bytes()),
            }),
        }
    }

    #[test]
    fn unsupported_parameters_are_recognised_from_openai_refusals() {
        let top_p = refused(
            400,
            serde_json::json!({"error": {"message": "Unsupported parameter: 'top_p' is not supported with this model.", "type": "invalid_request_error", "param": "top_p", "code": "unsupported_parameter"}}),
        );
        assert_eq!(top_p.unsupported_parameter(), Some("top_p"));
        let other = refused(
            400,
            serde_json::json!({"error": {"message": "Invalid 'messages'", "param": "messages", "code": "empty_array"}}),
        );
        assert_eq!(other.unsupported_parameter(), None);
        assert_eq!(secs(Duration::from_millis(1500)), "1.5");
        assert_eq!(secs(Duration::from_secs(2)), "2");
    }
}
