//! The chat completions client the loop talks to: any OpenAI-compatible endpoint (OpenAI,
//! Ollama's `/v1`, vLLM, LM Studio, llama.cpp's server), with function tools.
//!
//! Messages, tool calls and requests are `openai_compat::wire`'s, as mcp-openai's are; errors
//! are read with `openai_compat::wire::ApiError`, so the same dialects of error bodies are
//! understood.

use std::time::Duration;

use mcp_common::Secret;
use mcp_common::backend::{
    Backend, BackendConfig, Failure, FailureKind, Repeat, failure_of_http_error, failure_of_status,
    retry_after_of,
};
use openai_compat::stream::{Assembler, StreamError, StreamedAnswer};
use openai_compat::wire::{ApiError, ChatRequest, Message, StreamOptions, Usage, error_sentence};
use serde::Deserialize;
use serde_json::{Value, json};

/// What the model answered.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelTurn {
    /// The assistant message (text and/or tool calls).
    pub message: Message,
    /// `stop`, `tool_calls`, `length`, …
    pub finish_reason: Option<String>,
    /// Token usage, when reported.
    pub usage: Option<Usage>,
}

/// Where the model is and how long to wait for it.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    /// The API base, e.g. `https://api.openai.com/v1` (requests go to `{base}/chat/completions`).
    pub base_url: String,
    /// The bearer key; none for local servers that need none.
    pub api_key: Option<Secret>,
    /// The model id.
    pub model: String,
    /// mcp-common's backend policy (`AGENT_TIMEOUT_SECS` per attempt, `AGENT_RETRIES`, the
    /// breaker): a chat completion changes nothing at the provider, so timeouts, dropped
    /// connections, 429s (after `Retry-After`) and 5xx are retried, other refusals are not.
    pub policy: BackendConfig,
}

/// A failed model call, saying which endpoint and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// The endpoint could not be reached or did not answer in time.
    #[error("the model endpoint {url} could not be reached: {cause}")]
    Unreachable {
        /// The URL called.
        url: String,
        /// Why.
        cause: String,
        /// How it failed, for the retry policy.
        kind: FailureKind,
    },
    /// The endpoint answered with an error.
    #[error("the model endpoint {url} answered {status}: {message}")]
    Refused {
        /// The URL called.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The endpoint's sentence.
        message: String,
        /// The parameter it names, if any.
        param: Option<String>,
        /// When the endpoint asked to be called again (`Retry-After`).
        retry_after: Option<Duration>,
    },
    /// The answer was not a chat completion.
    #[error("the model endpoint {url} answered something that is not a chat completion: {cause}")]
    Malformed {
        /// The URL called.
        url: String,
        /// What was wrong.
        cause: String,
    },
    /// The call failed under the backend policy (after its retries, or with the breaker open);
    /// the sentence names the endpoint, the cause, the attempts and what to check.
    #[error("{0}")]
    GaveUp(String),
}

impl ModelError {
    /// The failure as mcp-common's retry policy and breaker classify it.
    pub fn failure(&self) -> Failure {
        match self {
            ModelError::Unreachable { cause, kind, .. } => Failure::new(*kind, cause.clone()),
            ModelError::Refused {
                status,
                message,
                retry_after,
                ..
            } => {
                let mut failure = failure_of_status(*status, "", *retry_after);
                failure.detail = format!("HTTP {status}: {message}");
                failure
            }
            ModelError::Malformed { cause, .. } => {
                Failure::new(FailureKind::Protocol, cause.clone())
            }
            ModelError::GaveUp(message) => Failure::new(FailureKind::Protocol, message.clone()),
        }
    }

    /// Whether the endpoint refused because the model cannot use tools (Ollama: "… does not
    /// support tools"; vLLM and llama.cpp's server without a tool parser; OpenAI for models
    /// without function calling), so the loop can switch to the JSON protocol.
    pub fn rejects_tools(&self) -> bool {
        let ModelError::Refused {
            status,
            message,
            param,
            ..
        } = self
        else {
            return false;
        };
        let message = message.to_ascii_lowercase();
        (400..500).contains(status)
            && (matches!(param.as_deref(), Some("tools" | "tool_choice"))
                || message.contains("does not support tools")
                || message.contains("tool use")
                || message.contains("function calling")
                || message.contains("tool_choice")
                || message.contains("tools are not supported"))
    }
}

/// What a model call offers besides the conversation.
#[derive(Debug, Clone, Copy)]
pub struct Offer<'a> {
    /// Function tools (native mode).
    pub tools: &'a [Value],
    /// Whether and how they are offered.
    pub choice: ToolChoice,
    /// Holds a local model's reply to the JSON protocol (react mode).
    pub guide: Option<&'a local_model::JsonGuide>,
}

/// The model the loop talks to: an endpoint, or the small model in this process.
#[derive(Debug)]
pub enum Model {
    /// An OpenAI-compatible endpoint.
    Endpoint(Box<ModelClient>),
    /// The in-process model (no tool role: the JSON protocol, constrained).
    Local(crate::local::LocalClient),
}

impl From<ModelClient> for Model {
    fn from(client: ModelClient) -> Model {
        Model::Endpoint(Box::new(client))
    }
}

impl From<crate::local::LocalClient> for Model {
    fn from(client: crate::local::LocalClient) -> Model {
        Model::Local(client)
    }
}

impl Model {
    /// The model's name.
    pub fn model(&self) -> &str {
        match self {
            Model::Endpoint(client) => client.model(),
            Model::Local(local) => local.name(),
        }
    }

    /// Where calls go, for audit lines: the endpoint's URL or `local:<file>`.
    pub fn url(&self) -> String {
        match self {
            Model::Endpoint(client) => client.url(),
            Model::Local(local) => local.location(),
        }
    }

    /// Whether it can take function tools (the in-process model cannot).
    pub fn has_tool_role(&self) -> bool {
        matches!(self, Model::Endpoint(_))
    }

    /// One completion, streamed to `on_text` when given. `guide` holds a local model's reply
    /// to the JSON protocol; an endpoint is asked in words and repaired when it strays.
    pub async fn complete(
        &self,
        messages: &[Message],
        offer: Offer<'_>,
        on_text: Option<&TextSink<'_>>,
    ) -> Result<ModelTurn, ModelError> {
        let Offer {
            tools,
            choice,
            guide,
        } = offer;
        match (self, on_text) {
            (Model::Endpoint(client), Some(on_text)) => {
                client
                    .complete_streamed(messages, tools, choice, on_text)
                    .await
            }
            (Model::Endpoint(client), None) => client.complete(messages, tools, choice).await,
            (Model::Local(local), on_text) => local.complete(messages, guide, on_text).await,
        }
    }
}

/// The HTTP client of one endpoint.
#[derive(Debug)]
pub struct ModelClient {
    config: ModelConfig,
    http: reqwest::Client,
    backend: Backend,
}

/// How the next request offers tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolChoice {
    /// No tools in the request (the JSON protocol, or a model that already has its results).
    Omitted,
    /// Tools offered, the model decides.
    Auto,
    /// Tools listed but the model must answer in text (after it repeated itself).
    ForceAnswer,
}

impl ModelClient {
    /// A client for `config`.
    pub fn new(config: ModelConfig) -> Result<ModelClient, ModelError> {
        let timeout = config.policy.timeout;
        let http = mcp_common::api::client_builder("agent", env!("CARGO_PKG_VERSION"))
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(10).min(timeout))
            .build()
            .map_err(|error| ModelError::Unreachable {
                url: config.base_url.clone(),
                cause: format!("the HTTP client could not be built: {error}"),
                kind: FailureKind::Misconfigured,
            })?;
        let backend = Backend::new(
            "the model endpoint",
            config.base_url.trim_end_matches('/'),
            "check AGENT_BASE_URL, AGENT_API_KEY and AGENT_MODEL",
            config.policy.clone(),
        );
        Ok(ModelClient {
            config,
            http,
            backend,
        })
    }

    /// The model id.
    pub fn model(&self) -> &str {
        &self.config.model
    }

    /// `{base}/chat/completions`.
    pub fn url(&self) -> String {
        format!(
            "{}/chat/completions",
            self.config.base_url.trim_end_matches('/')
        )
    }

    /// One chat completion.
    pub async fn complete(
        &self,
        messages: &[Message],
        tools: &[Value],
        choice: ToolChoice,
    ) -> Result<ModelTurn, ModelError> {
        self.complete_with(messages, tools, choice, None).await
    }

    /// One chat completion, streamed: `on_text` gets each piece of text as it arrives; the turn
    /// is the same as [`ModelClient::complete`]'s once the stream ends.
    pub async fn complete_streamed(
        &self,
        messages: &[Message],
        tools: &[Value],
        choice: ToolChoice,
        on_text: &TextSink<'_>,
    ) -> Result<ModelTurn, ModelError> {
        self.complete_with(messages, tools, choice, Some(on_text))
            .await
    }

    /// One completion under the backend policy. A 4xx refusal other than 429 comes back as it
    /// is (the loop reads it, e.g. a model refusing tools); other failures as the policy's
    /// sentence. A stream that broke after some text was shown is not retried, so nothing is
    /// shown twice.
    async fn complete_with(
        &self,
        messages: &[Message],
        tools: &[Value],
        choice: ToolChoice,
        on_text: Option<&TextSink<'_>>,
    ) -> Result<ModelTurn, ModelError> {
        let last_error = std::sync::Mutex::new(None::<ModelError>);
        let shown_any = std::sync::atomic::AtomicBool::new(false);
        let relay = |text: &str| {
            shown_any.store(true, std::sync::atomic::Ordering::Relaxed);
            if let Some(on_text) = on_text {
                on_text(text);
            }
        };
        let sink: Option<&TextSink<'_>> = on_text.map(|_| &relay as &TextSink<'_>);
        let classify = |error: &ModelError| {
            if shown_any.load(std::sync::atomic::Ordering::Relaxed) {
                Failure::new(
                    FailureKind::Rejected,
                    format!("{error} (after part of the answer was shown)"),
                )
            } else {
                error.failure()
            }
        };
        let last = &last_error;
        let result = self
            .backend
            .call(
                "chat completion",
                Repeat::Safe,
                classify,
                move || async move {
                    let result = self.attempt(messages, tools, choice, sink).await;
                    if let Err(error) = &result {
                        *last.lock().unwrap_or_else(|p| p.into_inner()) = Some(error.clone());
                    }
                    result
                },
            )
            .await;
        match result {
            Ok(turn) => Ok(turn),
            Err(gave_up) => {
                let last = last_error.lock().unwrap_or_else(|p| p.into_inner()).take();
                match last {
                    Some(refused @ ModelError::Refused { .. })
                        if refused.failure().kind == FailureKind::Rejected =>
                    {
                        Err(refused)
                    }
                    _ => Err(ModelError::GaveUp(gave_up.to_string())),
                }
            }
        }
    }

    /// One attempt.
    async fn attempt(
        &self,
        messages: &[Message],
        tools: &[Value],
        choice: ToolChoice,
        on_text: Option<&TextSink<'_>>,
    ) -> Result<ModelTurn, ModelError> {
        let url = self.url();
        let mut body = ChatRequest::new(&self.config.model, messages.to_vec());
        if on_text.is_some() {
            body.stream = true;
            body.stream_options = Some(StreamOptions {
                include_usage: true,
            });
        }
        if choice != ToolChoice::Omitted && !tools.is_empty() {
            body.tools = tools.to_vec();
            body.tool_choice = Some(json!(if choice == ToolChoice::ForceAnswer {
                "none"
            } else {
                "auto"
            }));
        }
        let mut request = self.http.post(&url).json(&body);
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key.expose());
        }
        let response = request
            .send()
            .await
            .map_err(|error| ModelError::Unreachable {
                url: url.clone(),
                cause: if error.is_timeout() {
                    format!(
                        "no answer within {} s",
                        self.config.policy.timeout.as_secs_f64()
                    )
                } else {
                    root_cause(&error)
                },
                kind: failure_of_http_error(&error).kind,
            })?;
        let status = response.status();
        let retry_after = retry_after_of(response.headers());
        let streamed = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if let (true, true, Some(on_text)) = (status.is_success(), streamed, on_text) {
            return self.read_stream(&url, response, on_text).await;
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|error| ModelError::Unreachable {
                url: url.clone(),
                cause: format!("the answer was cut off: {}", root_cause(&error)),
                kind: if error.is_timeout() {
                    FailureKind::Timeout
                } else {
                    FailureKind::Protocol
                },
            })?;
        if !status.is_success() {
            let parsed = ApiError::parse(&bytes);
            let message = parsed
                .as_ref()
                .and_then(|e| e.message.clone())
                .or_else(|| error_sentence(&bytes, 300))
                .map(|line| mcp_common::secret::scrub(&line).into_owned())
                .unwrap_or_else(|| "no explanation given".to_owned());
            return Err(ModelError::Refused {
                url,
                status: status.as_u16(),
                message,
                param: parsed.and_then(|e| e.param),
                retry_after,
            });
        }
        parse_completion(&bytes).map_err(|cause| ModelError::Malformed { url, cause })
    }
}

/// Where streamed text goes.
pub type TextSink<'a> = dyn Fn(&str) + Send + Sync + 'a;

impl ModelClient {
    /// Assembles a streamed completion: text pieces passed on and joined, tool calls put
    /// together from their pieces by index, the usage from the last chunk.
    async fn read_stream(
        &self,
        url: &str,
        mut response: reqwest::Response,
        on_text: &TextSink<'_>,
    ) -> Result<ModelTurn, ModelError> {
        let malformed = |error: StreamError| ModelError::Malformed {
            url: url.to_owned(),
            cause: error.to_string(),
        };
        let mut decoder = openai_compat::sse::Decoder::new();
        let mut stream = Assembler::new();
        loop {
            let chunk = response
                .chunk()
                .await
                .map_err(|error| ModelError::Unreachable {
                    url: url.to_owned(),
                    cause: if error.is_timeout() {
                        format!(
                            "the stream did not finish within {} s",
                            self.config.policy.timeout.as_secs_f64()
                        )
                    } else {
                        format!("the stream was cut off: {}", root_cause(&error))
                    },
                    kind: if error.is_timeout() {
                        FailureKind::Timeout
                    } else {
                        FailureKind::Protocol
                    },
                })?;
            let Some(chunk) = chunk else { break };
            for event in decoder.feed(&chunk) {
                if let Some(text) = stream.add(&event).map_err(malformed)? {
                    on_text(&text);
                }
                if stream.is_done() {
                    return Ok(turn_of(stream.finish()));
                }
            }
        }
        if let Some(event) = decoder.finish()
            && let Some(text) = stream.add(&event).map_err(malformed)?
        {
            on_text(&text);
        }
        Ok(turn_of(stream.finish()))
    }
}

/// The loop's view of a streamed answer.
fn turn_of(answer: StreamedAnswer) -> ModelTurn {
    ModelTurn {
        message: answer.message,
        finish_reason: answer.finish_reason,
        usage: answer.usage,
    }
}

fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

#[derive(Deserialize)]
struct Completion {
    #[serde(default)]
    choices: Vec<CompletionChoice>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct CompletionChoice {
    message: Message,
    #[serde(default)]
    finish_reason: Option<String>,
}

fn parse_completion(bytes: &[u8]) -> Result<ModelTurn, String> {
    let completion: Completion =
        serde_json::from_slice(bytes).map_err(|error| error.to_string())?;
    let Some(choice) = completion.choices.into_iter().next() else {
        return Err("`choices` is empty".to_owned());
    };
    let mut message = choice.message;
    if message.role.is_empty() {
        message.role = "assistant".to_owned();
    }
    // Some servers leave ids out; the tool messages need one to refer to.
    for (index, call) in message.tool_calls.iter_mut().enumerate() {
        if call.id.is_empty() {
            call.id = format!("call_{index}");
        }
    }
    Ok(ModelTurn {
        message,
        finish_reason: choice.finish_reason,
        usage: completion.usage,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_with_tool_calls_are_read() {
        let turn = parse_completion(br#"{"choices": [{"message": {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "a__b", "arguments": "{\"x\":1}"}}, {"function": {"name": "a__c"}}]}, "finish_reason": "tool_calls"}], "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}}"#).unwrap();
        assert_eq!(turn.message.tool_calls.len(), 2);
        assert_eq!(turn.message.tool_calls[1].id, "call_1");
        assert_eq!(turn.message.tool_calls[1].function.arguments, "");
        assert_eq!(turn.usage.unwrap().total_tokens, 7);
        assert!(
            parse_completion(br#"{"choices": []}"#)
                .unwrap_err()
                .contains("empty")
        );
        let serialized = serde_json::to_value(Message::tool_result("c1", "ok")).unwrap();
        assert_eq!(
            serialized,
            json!({"role": "tool", "content": "ok", "tool_call_id": "c1"})
        );
    }

    #[test]
    fn refusals_of_tools_are_recognised() {
        let refused = |status: u16, message: &str, param: Option<&str>| ModelError::Refused {
            url: "u".into(),
            status,
            message: message.into(),
            param: param.map(str::to_owned),
            retry_after: None,
        };
        assert!(
            refused(
                400,
                "registry.ollama.ai/library/gemma:2b does not support tools",
                None
            )
            .rejects_tools()
        );
        assert!(refused(400, "Invalid value", Some("tools")).rejects_tools());
        assert!(!refused(400, "Invalid 'messages'", Some("messages")).rejects_tools());
        assert!(!refused(500, "does not support tools", None).rejects_tools());
    }
}
