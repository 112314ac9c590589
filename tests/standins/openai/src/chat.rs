//! `POST /v1/chat/completions`: validation as OpenAI does it (reasoning-model parameter rules included), and a
//! deterministic answer: an echo of the last user message, JSON for `json_object`, and a value generated from the
//! schema for `json_schema`, cut at the completion token limit with `finish_reason: "length"`.

use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::models::{self, Family, Kind, REASONING_TOKENS, TOKENS_PER_MESSAGE, count_tokens};
use crate::schema;

/// A validated request.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    /// The model id as sent.
    pub model: String,
    /// Whether the answer is streamed as server-sent events.
    pub stream: bool,
    /// Whether a streamed answer ends with a usage chunk (`stream_options.include_usage`).
    pub include_usage: bool,
    /// The finished completion.
    pub completion: Completion,
}

/// What the model "wrote".
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The answer.
    pub content: String,
    /// `stop` or `length`.
    pub finish_reason: &'static str,
    /// Tokens of the prompt.
    pub prompt_tokens: u64,
    /// Tokens of the answer, reasoning included.
    pub completion_tokens: u64,
    /// Reasoning tokens spent (reasoning models).
    pub reasoning_tokens: u64,
}

impl Completion {
    /// OpenAI's `usage` object.
    pub fn usage(&self) -> Value {
        json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": self.reasoning_tokens,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0
            }
        })
    }
}

/// Validates `body` and writes the answer.
pub fn complete(body: &Value) -> Result<ChatRequest, ApiError> {
    let Some(request) = body.as_object() else {
        return Err(ApiError::invalid_type("body", "an object", body));
    };
    let model_id = match request.get("model") {
        None | Some(Value::Null) => {
            return Err(ApiError::invalid(
                "you must provide a model parameter",
                None,
                None,
            ));
        }
        Some(Value::String(model)) => model.clone(),
        Some(other) => return Err(ApiError::invalid_type("model", "a string", other)),
    };
    let model = models::find(&model_id).ok_or_else(|| ApiError::model_not_found(&model_id))?;
    let Kind::Chat(family) = model.kind else {
        let mut error = ApiError::invalid(
            "This is not a chat model and thus not supported in the v1/chat/completions endpoint. Did you mean to use v1/completions?",
            Some("model"),
            None,
        );
        error.status = axum::http::StatusCode::NOT_FOUND;
        return Err(error);
    };
    let messages = messages_of(request)?;
    check_sampling(request, family)?;
    let limit = token_limit(request)?;
    let (stream, include_usage) = stream_of(request)?;

    let prompt_tokens = 3 + messages
        .iter()
        .map(|(_, text)| count_tokens(text) + TOKENS_PER_MESSAGE)
        .sum::<u64>();
    let last_user = messages
        .iter()
        .rev()
        .find(|(role, _)| role == "user")
        .map(|(_, text)| text.clone())
        .unwrap_or_default();
    let content = answer(request, &messages, &last_user)?;
    let reasoning_tokens = if family == Family::Classic {
        0
    } else {
        REASONING_TOKENS
    };
    let (content, finish_reason) = cut(&content, limit.map(|l| l.saturating_sub(reasoning_tokens)));
    let completion_tokens = reasoning_tokens + count_tokens(&content);
    Ok(ChatRequest {
        model: model_id,
        stream,
        include_usage,
        completion: Completion {
            content,
            finish_reason,
            prompt_tokens,
            completion_tokens,
            reasoning_tokens,
        },
    })
}

/// (role, text) of each message; content as a string or an array of text parts.
fn messages_of(request: &Map<String, Value>) -> Result<Vec<(String, String)>, ApiError> {
    let messages = match request.get("messages") {
        None | Some(Value::Null) => return Err(ApiError::missing("messages")),
        Some(Value::Array(messages)) => messages,
        Some(other) => return Err(ApiError::invalid_type("messages", "an array", other)),
    };
    if messages.is_empty() {
        return Err(ApiError::invalid(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            Some("messages"),
            Some("empty_array"),
        ));
    }
    let mut out = Vec::with_capacity(messages.len());
    for (index, message) in messages.iter().enumerate() {
        let role = message["role"].as_str().unwrap_or_default();
        if !["system", "developer", "user", "assistant", "tool"].contains(&role) {
            return Err(ApiError::invalid(
                format!(
                    "Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'."
                ),
                Some(&format!("messages[{index}].role")),
                Some("invalid_value"),
            ));
        }
        let text = match &message["content"] {
            Value::String(text) => text.clone(),
            Value::Array(parts) => parts
                .iter()
                .filter_map(|part| part["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            Value::Null if role == "assistant" => String::new(),
            other => {
                return Err(ApiError::invalid_type(
                    &format!("messages[{index}].content"),
                    "one of a string or array of objects",
                    other,
                ));
            }
        };
        out.push((role.to_owned(), text));
    }
    Ok(out)
}

/// OpenAI's rules for sampling parameters per model family.
fn check_sampling(request: &Map<String, Value>, family: Family) -> Result<(), ApiError> {
    let given = |name: &str| request.get(name).filter(|v| !v.is_null());
    match family {
        Family::Classic => {
            if let Some(temperature) = given("temperature") {
                match temperature.as_f64() {
                    Some(t) if t > 2.0 => {
                        return Err(ApiError::invalid(
                            format!(
                                "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got {temperature} instead."
                            ),
                            Some("temperature"),
                            Some("decimal_above_max_value"),
                        ));
                    }
                    Some(t) if t < 0.0 => {
                        return Err(ApiError::invalid(
                            format!(
                                "Invalid 'temperature': decimal below minimum value. Expected a value >= 0, but got {temperature} instead."
                            ),
                            Some("temperature"),
                            Some("decimal_below_min_value"),
                        ));
                    }
                    Some(_) => {}
                    None => {
                        return Err(ApiError::invalid_type(
                            "temperature",
                            "a decimal",
                            temperature,
                        ));
                    }
                }
            }
        }
        Family::OSeries => {
            for name in ["max_tokens", "temperature", "top_p"] {
                if given(name).is_some() {
                    return Err(ApiError::unsupported_parameter(name));
                }
            }
        }
        Family::Gpt5 => {
            if given("max_tokens").is_some() {
                return Err(ApiError::unsupported_parameter("max_tokens"));
            }
            for name in ["temperature", "top_p"] {
                if let Some(value) = given(name)
                    && value.as_f64() != Some(1.0)
                {
                    return Err(ApiError::unsupported_value(name, value));
                }
            }
        }
    }
    Ok(())
}

/// The completion token limit (`max_completion_tokens`, else `max_tokens`).
fn token_limit(request: &Map<String, Value>) -> Result<Option<u64>, ApiError> {
    for name in ["max_completion_tokens", "max_tokens"] {
        match request.get(name) {
            None | Some(Value::Null) => {}
            Some(value) => match value.as_u64() {
                Some(limit) if limit >= 1 => return Ok(Some(limit)),
                _ => {
                    return Err(ApiError::invalid(
                        format!(
                            "Invalid '{name}': integer below minimum value. Expected a value >= 1, but got {value} instead."
                        ),
                        Some(name),
                        Some("integer_below_min_value"),
                    ));
                }
            },
        }
    }
    Ok(None)
}

fn stream_of(request: &Map<String, Value>) -> Result<(bool, bool), ApiError> {
    let stream = match request.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(stream)) => *stream,
        Some(other) => return Err(ApiError::invalid_type("stream", "a boolean", other)),
    };
    let include_usage = match request.get("stream_options") {
        None | Some(Value::Null) => false,
        Some(_) if !stream => {
            return Err(ApiError::invalid(
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                Some("stream_options"),
                None,
            ));
        }
        Some(options) => options["include_usage"].as_bool().unwrap_or(false),
    };
    Ok((stream, include_usage))
}

/// The answer for the requested response format.
fn answer(
    request: &Map<String, Value>,
    messages: &[(String, String)],
    last_user: &str,
) -> Result<String, ApiError> {
    let format = request.get("response_format").filter(|f| !f.is_null());
    let kind = format.map(|f| f["type"].as_str().unwrap_or_default());
    match kind {
        None | Some("text") => Ok(format!("You said: {}", last_user.trim())),
        Some("json_object") => {
            let mentions_json = messages
                .iter()
                .any(|(_, text)| text.to_lowercase().contains("json"));
            if !mentions_json {
                return Err(ApiError::invalid(
                    "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
                    Some("messages"),
                    None,
                ));
            }
            Ok(json!({"reply": format!("You said: {}", last_user.trim())}).to_string())
        }
        Some("json_schema") => {
            let Some(spec) = format
                .and_then(|f| f.get("json_schema"))
                .filter(|s| s.is_object())
            else {
                return Err(ApiError::missing("response_format.json_schema"));
            };
            let Some(name) = spec["name"].as_str() else {
                return Err(ApiError::missing("response_format.json_schema.name"));
            };
            let schema = spec
                .get("schema")
                .cloned()
                .unwrap_or(json!({"type": "object"}));
            if spec["strict"] == Value::Bool(true)
                && let Some(problem) = schema::strict_problem(&schema)
            {
                return Err(ApiError::invalid(
                    format!("Invalid schema for response_format '{name}': {problem}"),
                    Some("response_format"),
                    Some("invalid_json_schema"),
                ));
            }
            Ok(schema::generate(&schema, last_user).to_string())
        }
        Some(other) => Err(ApiError::invalid(
            format!(
                "Invalid value: '{other}'. Supported values are: 'json_object', 'json_schema', and 'text'."
            ),
            Some("response_format.type"),
            Some("invalid_value"),
        )),
    }
}

/// `content` cut after `limit` tokens (words), with the finish reason.
fn cut(content: &str, limit: Option<u64>) -> (String, &'static str) {
    let Some(limit) = limit else {
        return (content.to_owned(), "stop");
    };
    if count_tokens(content) <= limit {
        return (content.to_owned(), "stop");
    }
    let mut kept = String::new();
    let mut seen = 0;
    for piece in pieces(content) {
        if !piece.trim().is_empty() {
            seen += 1;
        }
        if seen > limit {
            break;
        }
        kept.push_str(&piece);
    }
    (kept.trim_end().to_owned(), "length")
}

/// `content` split into stream pieces: each word with the whitespace before it.
pub fn pieces(content: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    for c in content.chars() {
        if c.is_whitespace() && in_word {
            pieces.push(std::mem::take(&mut current));
            in_word = false;
        } else if !c.is_whitespace() {
            in_word = true;
        }
        current.push(c);
    }
    if !current.is_empty() {
        pieces.push(current);
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(extra: Value) -> Value {
        let mut body = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hello to the team"}]});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        body
    }

    #[test]
    fn the_answer_echoes_and_is_cut_at_the_limit() {
        let done = complete(&request(json!({}))).unwrap();
        assert_eq!(done.completion.content, "You said: Say hello to the team");
        assert_eq!(done.completion.finish_reason, "stop");
        assert_eq!(done.completion.prompt_tokens, 3 + 5 + 4);
        let cut = complete(&request(json!({"max_tokens": 3}))).unwrap();
        assert_eq!(cut.completion.content, "You said: Say");
        assert_eq!(cut.completion.finish_reason, "length");
        assert_eq!(cut.completion.completion_tokens, 3);
        assert_eq!(pieces(" a  b c").concat(), " a  b c");
    }

    #[test]
    fn reasoning_models_refuse_sampling_parameters_as_openai_does() {
        // (model, extra, param, code)
        let cases = [
            (
                "o3-mini",
                json!({"temperature": 0.2}),
                "temperature",
                "unsupported_parameter",
            ),
            (
                "o3-mini",
                json!({"top_p": 0.5}),
                "top_p",
                "unsupported_parameter",
            ),
            (
                "o4-mini",
                json!({"max_tokens": 10}),
                "max_tokens",
                "unsupported_parameter",
            ),
            (
                "gpt-5-mini",
                json!({"max_tokens": 10}),
                "max_tokens",
                "unsupported_parameter",
            ),
            (
                "gpt-5-mini",
                json!({"temperature": 0}),
                "temperature",
                "unsupported_value",
            ),
        ];
        for (model, extra, param, code) in cases {
            let mut body = request(extra.clone());
            body["model"] = json!(model);
            let error = complete(&body).unwrap_err();
            assert_eq!(error.param.as_deref(), Some(param), "{model} {extra}");
            assert_eq!(error.code, Some(code), "{model} {extra}");
        }
        let mut fine = request(json!({"temperature": 1, "max_completion_tokens": 100}));
        fine["model"] = json!("gpt-5-mini");
        let done = complete(&fine).unwrap();
        assert_eq!(done.completion.reasoning_tokens, REASONING_TOKENS);
    }

    #[test]
    fn json_formats_are_checked_and_answered_with_json() {
        let error = complete(&request(
            json!({"response_format": {"type": "json_object"}}),
        ))
        .unwrap_err();
        assert_eq!(error.param.as_deref(), Some("messages"));
        let mut body = request(json!({"response_format": {"type": "json_object"}}));
        body["messages"][0]["content"] = json!("Answer in JSON");
        let done = complete(&body).unwrap();
        let parsed: Value = serde_json::from_str(&done.completion.content).unwrap();
        assert_eq!(parsed["reply"], "You said: Answer in JSON");
        let schema = json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"], "additionalProperties": false});
        let done = complete(&request(json!({"response_format": {"type": "json_schema", "json_schema": {"name": "n", "strict": true, "schema": schema}}}))).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&done.completion.content).unwrap(),
            json!({"n": 42})
        );
    }
}
