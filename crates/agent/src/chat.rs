//! The chat completions client the loop talks to: any OpenAI-compatible endpoint (OpenAI,
//! Ollama's `/v1`, vLLM, LM Studio, llama.cpp's server), with function tools.
//!
//! The messages here carry tool calls and tool results, which `openai_compat::wire`'s plain
//! text messages do not; errors are read with `openai_compat::wire::ApiError`, so the same
//! dialects of error bodies are understood.

use std::time::Duration;

use mcp_common::Secret;
use openai_compat::wire::{ApiError, Usage};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One message of the conversation, in the shape chat completions take and give.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `user`, `assistant` or `tool`.
    pub role: String,
    /// The text (absent for an assistant message that only calls tools).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// The tools an assistant message calls.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// The call a tool message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl ChatMessage {
    /// A message with `role` and text.
    pub fn text(role: &str, content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role: role.to_owned(),
            content: Some(content.into()),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }

    /// The answer to the tool call `id`.
    pub fn tool_result(id: &str, content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role: "tool".to_owned(),
            content: Some(content.into()),
            tool_calls: Vec::new(),
            tool_call_id: Some(id.to_owned()),
        }
    }
}

/// A function call the model asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The id its answer must carry.
    #[serde(default)]
    pub id: String,
    /// Always `function`.
    #[serde(rename = "type", default = "function_kind")]
    pub kind: String,
    /// Which function, with which arguments.
    pub function: FunctionCall,
}

fn function_kind() -> String {
    "function".to_owned()
}

/// The function and its arguments, as the model wrote them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionCall {
    /// The function name.
    pub name: String,
    /// The arguments: a JSON object as text, which the model may have written badly.
    #[serde(default)]
    pub arguments: String,
}

/// What the model answered.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelTurn {
    /// The assistant message (text and/or tool calls).
    pub message: ChatMessage,
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
    /// The limit on one model call.
    pub timeout: Duration,
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
    },
    /// The answer was not a chat completion.
    #[error("the model endpoint {url} answered something that is not a chat completion: {cause}")]
    Malformed {
        /// The URL called.
        url: String,
        /// What was wrong.
        cause: String,
    },
}

impl ModelError {
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

/// The HTTP client of one endpoint.
#[derive(Debug, Clone)]
pub struct ModelClient {
    config: ModelConfig,
    http: reqwest::Client,
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
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(10).min(config.timeout))
            .user_agent(concat!("mcp-agent/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| ModelError::Unreachable {
                url: config.base_url.clone(),
                cause: format!("the HTTP client could not be built: {error}"),
            })?;
        Ok(ModelClient { config, http })
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
        messages: &[ChatMessage],
        tools: &[Value],
        choice: ToolChoice,
    ) -> Result<ModelTurn, ModelError> {
        let url = self.url();
        let mut body = json!({"model": self.config.model, "messages": messages});
        if choice != ToolChoice::Omitted && !tools.is_empty() {
            body["tools"] = Value::Array(tools.to_vec());
            body["tool_choice"] = json!(if choice == ToolChoice::ForceAnswer {
                "none"
            } else {
                "auto"
            });
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
                    format!("no answer within {} s", self.config.timeout.as_secs_f64())
                } else {
                    root_cause(&error)
                },
            })?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|error| ModelError::Unreachable {
                url: url.clone(),
                cause: format!("the answer was cut off: {}", root_cause(&error)),
            })?;
        if !status.is_success() {
            let parsed = ApiError::parse(&bytes);
            let message = parsed
                .as_ref()
                .and_then(|e| e.message.clone())
                .unwrap_or_else(|| openai_compat_snippet(&String::from_utf8_lossy(&bytes)));
            return Err(ModelError::Refused {
                url,
                status: status.as_u16(),
                message,
                param: parsed.and_then(|e| e.param),
            });
        }
        parse_completion(&bytes).map_err(|cause| ModelError::Malformed { url, cause })
    }
}

fn openai_compat_snippet(body: &str) -> String {
    crate::translate::cut(body.trim(), 300)
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
    message: ChatMessage,
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
        let serialized = serde_json::to_value(ChatMessage::tool_result("c1", "ok")).unwrap();
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
