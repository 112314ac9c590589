//! The JSON bodies of OpenAI's REST API (and of the servers that imitate it: Ollama's `/v1`,
//! vLLM, LM Studio, llama.cpp's server), as far as chat, embeddings, models and moderation need.
//! Unknown fields are ignored when reading and optional ones left out when writing, so the same
//! types work against endpoints that add or lack fields.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /chat/completions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The model id.
    pub model: String,
    /// The conversation, oldest first.
    pub messages: Vec<Message>,
    /// Sampling temperature (0–2); reasoning models refuse it (see [`crate::reasoning`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling; reasoning models refuse it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// The older completion token limit; reasoning models refuse it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    /// The completion token limit, reasoning tokens included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u64>,
    /// Text, a JSON object, or JSON valid for a schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
    /// Answer as server-sent events of [`ChatChunk`]s.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stream: bool,
    /// Streaming options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    /// Function tools the model may call (OpenAI's `{"type": "function", "function": {…}}`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Value>,
    /// `auto`, `none`, `required`, or a named function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
}

impl ChatRequest {
    /// A request for `model` with `messages` and nothing else set.
    pub fn new(model: impl Into<String>, messages: Vec<Message>) -> ChatRequest {
        ChatRequest {
            model: model.into(),
            messages,
            temperature: None,
            top_p: None,
            max_tokens: None,
            max_completion_tokens: None,
            response_format: None,
            stream: false,
            stream_options: None,
            tools: Vec::new(),
            tool_choice: None,
        }
    }

    /// The completion token limit, whichever parameter holds it.
    pub fn token_limit(&self) -> Option<u64> {
        self.max_completion_tokens.or(self.max_tokens)
    }
}

/// One message of a conversation: text, an assistant's tool calls, or a tool's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// `system`, `developer`, `user`, `assistant` or `tool`.
    pub role: String,
    /// The text (absent for an assistant message that only calls tools).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// The tools an assistant message calls.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// The call a `tool` message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl Message {
    /// A message with `role` and `content`.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Message {
        Message {
            role: role.into(),
            content: Some(content.into()),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }

    /// The answer `content` to the tool call `id`.
    pub fn tool_result(id: impl Into<String>, content: impl Into<String>) -> Message {
        Message {
            tool_call_id: Some(id.into()),
            ..Message::new("tool", content)
        }
    }

    /// The text, empty when there is none.
    pub fn text(&self) -> &str {
        self.content.as_deref().unwrap_or_default()
    }
}

/// A function call the model asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The id its answer must carry (some servers leave it out).
    #[serde(default)]
    pub id: String,
    /// Always `function`.
    #[serde(rename = "type", default = "function_kind")]
    pub kind: String,
    /// Which function, with which arguments.
    pub function: FunctionCall,
}

impl ToolCall {
    /// A call of `name` with `arguments` (JSON text).
    pub fn function(
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> ToolCall {
        ToolCall {
            id: id.into(),
            kind: function_kind(),
            function: FunctionCall {
                name: name.into(),
                arguments: arguments.into(),
            },
        }
    }
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

/// `response_format`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    /// Free text (the default).
    Text,
    /// Some JSON object; OpenAI wants the word "JSON" in the messages.
    JsonObject,
    /// JSON valid for a schema (structured outputs).
    JsonSchema {
        /// The schema and its name.
        json_schema: JsonSchemaFormat,
    },
}

/// The schema of a `json_schema` response format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonSchemaFormat {
    /// A name of letters, digits, `_` and `-` (at most 64).
    pub name: String,
    /// The JSON Schema.
    pub schema: Value,
    /// Whether the endpoint must follow the schema exactly (which requires OpenAI's strict form:
    /// every object closed, every property required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// `stream_options`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamOptions {
    /// End the stream with a chunk carrying the usage.
    pub include_usage: bool,
}

/// Token usage of a call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens of the prompt.
    #[serde(default)]
    pub prompt_tokens: u64,
    /// Tokens generated, reasoning included.
    #[serde(default)]
    pub completion_tokens: u64,
    /// Both.
    #[serde(default)]
    pub total_tokens: u64,
    /// The breakdown of the completion tokens, where the endpoint gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_tokens_details: Option<CompletionTokensDetails>,
}

impl Usage {
    /// Reasoning tokens spent, where reported.
    pub fn reasoning_tokens(&self) -> Option<u64> {
        self.completion_tokens_details
            .as_ref()
            .and_then(|d| d.reasoning_tokens)
    }
}

/// `usage.completion_tokens_details`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletionTokensDetails {
    /// Tokens the model spent reasoning before its answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
}

/// The answer of a non-streamed chat completion.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ChatCompletion {
    /// The model that answered (may be a dated snapshot of the one asked for).
    #[serde(default)]
    pub model: String,
    /// The answers; one unless `n` was set.
    #[serde(default)]
    pub choices: Vec<Choice>,
    /// Token usage.
    #[serde(default)]
    pub usage: Option<Usage>,
}

/// One answer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Choice {
    /// The assistant's message.
    pub message: AssistantMessage,
    /// `stop`, `length`, `content_filter`, `tool_calls`.
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// The assistant's message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct AssistantMessage {
    /// The text (absent for a refusal).
    #[serde(default)]
    pub content: Option<String>,
    /// Why the model refused, with structured outputs.
    #[serde(default)]
    pub refusal: Option<String>,
}

/// One event of a streamed chat completion.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ChatChunk {
    /// The model that answers.
    #[serde(default)]
    pub model: String,
    /// The deltas (empty in the final usage chunk).
    #[serde(default)]
    pub choices: Vec<ChunkChoice>,
    /// Usage, in the last chunk when `stream_options.include_usage` was set.
    #[serde(default)]
    pub usage: Option<Usage>,
}

/// One delta.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ChunkChoice {
    /// What was added.
    #[serde(default)]
    pub delta: Delta,
    /// Set on the last delta.
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// Text added by one chunk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Delta {
    /// More of the answer.
    #[serde(default)]
    pub content: Option<String>,
    /// More of a refusal.
    #[serde(default)]
    pub refusal: Option<String>,
    /// Pieces of tool calls, each naming the call it continues by `index`.
    #[serde(default)]
    pub tool_calls: Vec<ToolCallDelta>,
}

/// A piece of a streamed tool call: the first piece of a call carries its id and name, later
/// ones more of its arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ToolCallDelta {
    /// Which call of the message this continues.
    #[serde(default)]
    pub index: u64,
    /// The call's id, in its first piece.
    #[serde(default)]
    pub id: Option<String>,
    /// More of the function's name and arguments.
    #[serde(default)]
    pub function: Option<FunctionDelta>,
}

/// More of a streamed function call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct FunctionDelta {
    /// More of the name (usually all of it, in the first piece).
    #[serde(default)]
    pub name: Option<String>,
    /// More of the arguments' JSON text.
    #[serde(default)]
    pub arguments: Option<String>,
}

/// `POST /embeddings`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbeddingRequest {
    /// The model id.
    pub model: String,
    /// The texts.
    pub input: Vec<String>,
    /// Shorter vectors (text-embedding-3 models and some others).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    /// `float` (the only one read here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_format: Option<String>,
}

/// The answer of `/embeddings`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EmbeddingResponse {
    /// One per input, with its index.
    pub data: Vec<Embedding>,
    /// The model that embedded.
    #[serde(default)]
    pub model: String,
    /// Token usage (completion tokens are 0).
    #[serde(default)]
    pub usage: Option<Usage>,
}

/// One vector.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Embedding {
    /// The position of its input.
    #[serde(default)]
    pub index: usize,
    /// The vector.
    pub embedding: Vec<f32>,
}

/// The vectors of an embeddings answer in the order of its `inputs` texts, checked: one per
/// text, indices 0 to `inputs - 1`, none empty. The error says what is wrong with the answer
/// ("the answer holds 1 embeddings for 2 texts"), for the caller to name the endpoint.
pub fn ordered_vectors(mut data: Vec<Embedding>, inputs: usize) -> Result<Vec<Vec<f32>>, String> {
    if data.len() != inputs {
        return Err(format!(
            "the answer holds {} embeddings for {inputs} texts",
            data.len()
        ));
    }
    data.sort_by_key(|item| item.index);
    if data.iter().enumerate().any(|(pos, item)| item.index != pos) {
        return Err(format!(
            "the answer's indices are not 0 to {}",
            inputs.saturating_sub(1)
        ));
    }
    if data.iter().any(|item| item.embedding.is_empty()) {
        return Err("the answer holds an empty embedding".to_owned());
    }
    Ok(data.into_iter().map(|item| item.embedding).collect())
}

/// The answer of `GET /models`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ModelList {
    /// The models.
    pub data: Vec<ModelEntry>,
}

/// One model.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ModelEntry {
    /// Its id.
    pub id: String,
    /// Who owns it (`system`, `openai`, `library` on Ollama, …).
    #[serde(default)]
    pub owned_by: Option<String>,
    /// When it was created (Unix seconds).
    #[serde(default)]
    pub created: Option<u64>,
}

/// `POST /moderations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModerationRequest {
    /// The texts.
    pub input: Vec<String>,
    /// The moderation model; the endpoint's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// The answer of `/moderations`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ModerationResponse {
    /// The model that judged.
    #[serde(default)]
    pub model: String,
    /// One per input.
    pub results: Vec<ModerationResult>,
}

/// The verdict on one input.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ModerationResult {
    /// Whether any category was flagged.
    pub flagged: bool,
    /// Each category and whether it applies.
    #[serde(default)]
    pub categories: std::collections::BTreeMap<String, bool>,
    /// Each category's score in 0..1.
    #[serde(default)]
    pub category_scores: std::collections::BTreeMap<String, f64>,
}

/// OpenAI's error body, `{"error": {...}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ErrorBody {
    /// The error.
    #[serde(default)]
    pub error: ApiError,
}

/// OpenAI's error object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ApiError {
    /// OpenAI's sentence.
    #[serde(default)]
    pub message: Option<String>,
    /// `invalid_request_error`, `server_error`, …
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// The parameter at fault.
    #[serde(default)]
    pub param: Option<String>,
    /// `unsupported_parameter`, `invalid_api_key`, `model_not_found`, …
    #[serde(default)]
    pub code: Option<String>,
}

impl ApiError {
    /// Reads an error body; `None` when it is not OpenAI's shape (a plain-text 404 of an
    /// endpoint without the route, an HTML page of a proxy).
    pub fn parse(body: &[u8]) -> Option<ApiError> {
        let value: Value = serde_json::from_slice(body).ok()?;
        // Some servers (older vLLM, LiteLLM) put a string in `error` or the fields at the top.
        match value.get("error") {
            Some(Value::Object(_)) => serde_json::from_value::<ErrorBody>(value)
                .ok()
                .map(|b| b.error),
            Some(Value::String(message)) => Some(ApiError {
                message: Some(message.clone()),
                ..ApiError::default()
            }),
            _ => serde_json::from_value::<ApiError>(value)
                .ok()
                .filter(|e| e.message.is_some()),
        }
    }
}

/// The endpoint's explanation in an error body, as one line of at most `max_chars` characters
/// (cut with `…`): OpenAI's `error.message`, a string `error` (Ollama), a top-level `message`
/// (vLLM) or `detail` (FastAPI), else the first line of a plain-text body. `None` for an empty
/// body or an HTML error page, which says nothing a person needs. Callers scrub secrets: some
/// services echo the key they refused.
pub fn error_sentence(body: &[u8], max_chars: usize) -> Option<String> {
    let text = match serde_json::from_slice::<Value>(body) {
        Ok(value) => ["/error/message", "/error", "/message", "/detail"]
            .iter()
            .find_map(|pointer| value.pointer(pointer).and_then(Value::as_str))?
            .to_owned(),
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            if text.trim_start().starts_with('<') {
                return None;
            }
            text.into_owned()
        }
    };
    let line = text.lines().map(str::trim).find(|line| !line.is_empty())?;
    let mut cut: String = line.chars().take(max_chars).collect();
    if cut.len() < line.len() {
        cut.push('…');
    }
    Some(cut)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn error_bodies_read_as_one_short_line() {
        let long = "x".repeat(50);
        let cut = format!("{}…", "x".repeat(30));
        let cases: [(&[u8], Option<&str>); 8] = [
            (
                br#"{"error":{"message":"bad input","type":"x"}}"#,
                Some("bad input"),
            ),
            (
                br#"{"error":"model \"a\" not found"}"#,
                Some("model \"a\" not found"),
            ),
            (
                br#"{"object":"error","message":"too long","code":400}"#,
                Some("too long"),
            ),
            (br#"{"detail":"Not Found"}"#, Some("Not Found")),
            (b"<html><body>502</body></html>", None),
            (b"\n upstream timed out \nmore", Some("upstream timed out")),
            (long.as_bytes(), Some(cut.as_str())),
            (b"", None),
        ];
        for (body, expected) in cases {
            assert_eq!(
                error_sentence(body, 30).as_deref(),
                expected,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn embeddings_come_back_in_input_order_and_checked() {
        let item = |index, embedding: &[f32]| Embedding {
            index,
            embedding: embedding.to_vec(),
        };
        let vectors = ordered_vectors(vec![item(1, &[2.0]), item(0, &[1.0])], 2).unwrap();
        assert_eq!(vectors, [vec![1.0], vec![2.0]]);
        assert_eq!(
            ordered_vectors(vec![item(0, &[1.0])], 2).unwrap_err(),
            "the answer holds 1 embeddings for 2 texts"
        );
        assert_eq!(
            ordered_vectors(vec![item(0, &[1.0]), item(0, &[2.0])], 2).unwrap_err(),
            "the answer's indices are not 0 to 1"
        );
        assert_eq!(
            ordered_vectors(vec![item(0, &[])], 1).unwrap_err(),
            "the answer holds an empty embedding"
        );
    }

    #[test]
    fn requests_leave_out_what_is_not_set() {
        let mut request = ChatRequest::new("gpt-4o-mini", vec![Message::new("user", "hi")]);
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
        );
        request.stream = true;
        request.response_format = Some(ResponseFormat::JsonSchema {
            json_schema: JsonSchemaFormat {
                name: "answer".into(),
                schema: json!({"type": "object"}),
                strict: Some(true),
            },
        });
        let value = serde_json::to_value(&request).unwrap();
        assert_eq!(value["stream"], true);
        assert_eq!(value["response_format"]["type"], "json_schema");
        assert_eq!(value["response_format"]["json_schema"]["strict"], true);
    }

    #[test]
    fn answers_and_errors_are_read_from_several_dialects() {
        let chunk: ChatChunk = serde_json::from_value(json!({"id": "x", "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": null}], "usage": null})).unwrap();
        assert_eq!(chunk.choices[0].delta.content.as_deref(), Some("Hi"));
        let usage: Usage = serde_json::from_value(json!({"prompt_tokens": 3, "completion_tokens": 20, "total_tokens": 23, "completion_tokens_details": {"reasoning_tokens": 16}})).unwrap();
        assert_eq!(usage.reasoning_tokens(), Some(16));
        let openai = ApiError::parse(br#"{"error":{"message":"Unsupported parameter: 'top_p' is not supported with this model.","type":"invalid_request_error","param":"top_p","code":"unsupported_parameter"}}"#).unwrap();
        assert_eq!(openai.param.as_deref(), Some("top_p"));
        let flat = ApiError::parse(br#"{"error":"model 'x' not found"}"#).unwrap();
        assert_eq!(flat.message.as_deref(), Some("model 'x' not found"));
        assert_eq!(ApiError::parse(b"404 page not found"), None);
    }
}
