//! Scripted mode: a test posts the model's turns and the stand-in answers chat completions from
//! them in order, for clients that drive a model through tool calls (the `mcp-agent` loop).
//! Every request is still recorded (`GET /__standin/requests`), so a test sees what the client
//! sent at each step: the tools it offered, the tool results it sent back.
//!
//! `POST /__standin/script {"turns": [TURN, …]}` replaces the script; until a reset, every
//! non-streamed `POST /v1/chat/completions` takes the next turn, whatever its model or messages.
//! A TURN is one of:
//!
//! - `{"content": "text"}`: an answer (`finish_reason: "stop"`); `{{last_result:/json/pointer}}` in the text is
//!   replaced by that value of the first JSON object in the request's last message (the tool result the client
//!   sent back), so an answer can carry what the real tool returned rather than what the test expected;
//! - `{"tool_calls": [{"name": "f", "arguments": {…} | "raw text", "id": "optional"}, …]}`: one
//!   or more (parallel) tool calls (`finish_reason: "tool_calls"`); arguments given as a string
//!   are sent as they are, so a test can send malformed JSON;
//! - `{"error": {"status": 400, "message": "…", "param": "tools", "code": "…"}}`: an OpenAI
//!   error body with that status (a model refusing tools, an overloaded endpoint).
//!
//! Streamed requests (`stream: true`) get the same turn as OpenAI streams it: the text a word at a
//! time, each tool call's id and name, then its arguments in pieces, then the finish reason.
//! A request after the last turn is answered 500 "the script has no turns left", so a client that
//! calls the model more often than the test expects fails visibly.
//! `GET /__standin/script` answers `{"active", "served", "remaining"}`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::error::json_response;
use crate::server::AppState;

/// The scripted turns of a stand-in (inactive until a script is posted).
#[derive(Debug, Clone, Default)]
pub struct Script {
    inner: Arc<Mutex<ScriptState>>,
    next_call: Arc<AtomicU64>,
}

#[derive(Debug, Default)]
struct ScriptState {
    active: bool,
    turns: VecDeque<Turn>,
    served: usize,
}

/// One scripted model turn.
#[derive(Debug, Clone, PartialEq)]
pub enum Turn {
    /// A text answer.
    Content(String),
    /// Tool calls, each (id, name, arguments text), with optional text alongside.
    ToolCalls {
        /// Text sent with the calls (usually none).
        content: Option<String>,
        /// (id, name, arguments as sent).
        calls: Vec<(Option<String>, String, String)>,
    },
    /// An error answer.
    Error {
        /// The HTTP status.
        status: u16,
        /// The error object's fields.
        body: Value,
    },
}

impl Turn {
    /// Parses one turn of a posted script; the error names the turn and field.
    pub fn from_json(index: usize, turn: &Value) -> Result<Turn, String> {
        if let Some(error) = turn.get("error") {
            let status = error["status"].as_u64().unwrap_or(400);
            if !(400..600).contains(&status) {
                return Err(format!("turns[{index}].error.status must be 400-599"));
            }
            let Some(message) = error["message"].as_str() else {
                return Err(format!("turns[{index}].error.message must be a string"));
            };
            return Ok(Turn::Error {
                status: status as u16,
                body: json!({"error": {
                    "message": message,
                    "type": error["type"].as_str().unwrap_or("invalid_request_error"),
                    "param": error["param"],
                    "code": error["code"],
                }}),
            });
        }
        let content = match &turn["content"] {
            Value::Null => None,
            Value::String(text) => Some(text.clone()),
            _ => return Err(format!("turns[{index}].content must be a string")),
        };
        match &turn["tool_calls"] {
            Value::Null => content
                .map(Turn::Content)
                .ok_or_else(|| format!("turns[{index}] needs content, tool_calls or error")),
            Value::Array(calls) if !calls.is_empty() => {
                let calls = calls
                    .iter()
                    .enumerate()
                    .map(|(call_index, call)| {
                        let Some(name) = call["name"].as_str() else {
                            return Err(format!(
                                "turns[{index}].tool_calls[{call_index}].name must be a string"
                            ));
                        };
                        let arguments = match &call["arguments"] {
                            Value::String(raw) => raw.clone(),
                            Value::Null => "{}".to_owned(),
                            other => other.to_string(),
                        };
                        Ok((
                            call["id"].as_str().map(str::to_owned),
                            name.to_owned(),
                            arguments,
                        ))
                    })
                    .collect::<Result<_, _>>()?;
                Ok(Turn::ToolCalls { content, calls })
            }
            _ => Err(format!(
                "turns[{index}].tool_calls must be a non-empty array"
            )),
        }
    }
}

impl Script {
    fn lock(&self) -> MutexGuard<'_, ScriptState> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether chat completions are answered from the script.
    pub fn is_active(&self) -> bool {
        self.lock().active
    }

    /// Replaces the script.
    pub fn set(&self, turns: Vec<Turn>) {
        let mut state = self.lock();
        state.active = true;
        state.turns = turns.into();
        state.served = 0;
    }

    /// Back to unscripted answers.
    pub fn clear(&self) {
        *self.lock() = ScriptState::default();
    }

    /// Answers one chat completion request from the next turn.
    pub fn answer(&self, request: &Value) -> Response {
        let turn = {
            let mut state = self.lock();
            let turn = state.turns.pop_front();
            if turn.is_some() {
                state.served += 1;
            }
            turn
        };
        let model = request["model"].as_str().unwrap_or("scripted");
        let (message, finish_reason) = match turn {
            None => return error_response(500, "the script has no turns left"),
            Some(Turn::Error { status, body }) => {
                return json_response(
                    StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                    &body,
                );
            }
            Some(Turn::Content(text)) => (
                json!({"role": "assistant", "content": fill(&text, request), "refusal": null}),
                "stop",
            ),
            Some(Turn::ToolCalls { content, calls }) => {
                let calls: Vec<Value> = calls
                    .into_iter()
                    .map(|(id, name, arguments)| {
                        let id = id.unwrap_or_else(|| {
                            format!("call_script{}", self.next_call.fetch_add(1, Ordering::Relaxed))
                        });
                        json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}})
                    })
                    .collect();
                (
                    json!({"role": "assistant", "content": content, "tool_calls": calls, "refusal": null}),
                    "tool_calls",
                )
            }
        };
        let id = format!(
            "chatcmpl-script{}",
            self.next_call.fetch_add(1, Ordering::Relaxed)
        );
        if request["stream"] == Value::Bool(true) {
            return stream_response(&id, model, &message, finish_reason);
        }
        json_response(
            StatusCode::OK,
            &json!({
                "id": id,
                "object": "chat.completion",
                "model": model,
                "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                "system_fingerprint": "fp_standin",
            }),
        )
    }

    fn status(&self) -> Value {
        let state = self.lock();
        json!({"active": state.active, "served": state.served, "remaining": state.turns.len()})
    }
}

/// `template` with each `{{last_result:POINTER}}` replaced by the value at POINTER of the first JSON object in
/// the request's last message (`(nothing at POINTER)` when there is none).
fn fill(template: &str, request: &Value) -> String {
    const OPEN: &str = "{{last_result:";
    let last = request["messages"]
        .as_array()
        .and_then(|messages| messages.last())
        .and_then(|message| message["content"].as_str())
        .unwrap_or_default();
    let result = last.find('{').and_then(|start| {
        serde_json::Deserializer::from_str(&last[start..])
            .into_iter::<Value>()
            .next()
            .and_then(Result::ok)
    });
    let mut filled = String::new();
    let mut rest = template;
    while let Some(start) = rest.find(OPEN) {
        let Some(length) = rest[start..].find("}}") else {
            break;
        };
        let pointer = &rest[start + OPEN.len()..start + length];
        filled.push_str(&rest[..start]);
        match result.as_ref().and_then(|r| r.pointer(pointer)) {
            Some(Value::String(text)) => filled.push_str(text),
            Some(value) => filled.push_str(&value.to_string()),
            None => filled.push_str(&format!("(nothing at {pointer})")),
        }
        rest = &rest[start + length + 2..];
    }
    filled.push_str(rest);
    filled
}

/// The turn as OpenAI streams it: a role chunk, the text a word at a time, each tool call's
/// id and name first and its arguments in two pieces, the finish reason, a usage chunk, `[DONE]`.
fn stream_response(id: &str, model: &str, message: &Value, finish_reason: &str) -> Response {
    let chunk = |delta: Value, finish: Value| {
        json!({
            "id": id, "object": "chat.completion.chunk", "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        })
    };
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    if let Some(text) = message["content"].as_str() {
        for piece in crate::chat::pieces(text) {
            events.push(chunk(json!({"content": piece}), Value::Null));
        }
    }
    for (index, call) in message["tool_calls"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        events.push(chunk(
            json!({"tool_calls": [{"index": index, "id": call["id"], "type": "function", "function": {"name": call["function"]["name"], "arguments": ""}}]}),
            Value::Null,
        ));
        let arguments = call["function"]["arguments"].as_str().unwrap_or_default();
        let middle = arguments
            .char_indices()
            .nth(arguments.chars().count() / 2)
            .map_or(arguments.len(), |(at, _)| at);
        for piece in [&arguments[..middle], &arguments[middle..]] {
            events.push(chunk(
                json!({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}),
                Value::Null,
            ));
        }
    }
    events.push(chunk(json!({}), json!(finish_reason)));
    events.push(
        json!({"id": id, "object": "chat.completion.chunk", "model": model, "choices": [],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}),
    );
    let mut body: String = events
        .iter()
        .map(|event| format!("data: {event}\n\n"))
        .collect();
    body.push_str("data: [DONE]\n\n");
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    response
}

fn error_response(status: u16, message: &str) -> Response {
    json_response(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &json!({"error": {"message": message, "type": "server_error", "param": null, "code": null}}),
    )
}

/// `POST /__standin/script {"turns": [...]}`.
pub async fn control(State(state): State<AppState>, body: Bytes) -> Response {
    let parsed: Result<Vec<Turn>, String> = serde_json::from_slice::<Value>(&body)
        .map_err(|_| "the body must be a JSON object".to_owned())
        .and_then(|body| match body.get("turns") {
            Some(Value::Array(turns)) => turns
                .iter()
                .enumerate()
                .map(|(index, turn)| Turn::from_json(index, turn))
                .collect(),
            _ => Err("`turns` must be an array of turns".to_owned()),
        });
    match parsed {
        Ok(turns) => {
            state.script().set(turns);
            axum::Json(json!({"ok": true})).into_response()
        }
        Err(message) => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": message})),
        )
            .into_response(),
    }
}

/// `GET /__standin/script`.
pub async fn status(State(state): State<AppState>) -> Response {
    axum::Json(state.script().status()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_can_quote_the_last_tool_result() {
        let request = json!({"messages": [
            {"role": "user", "content": "¿Cuántos?"},
            {"role": "tool", "content": "{\"company\": {\"name\": \"Empresa X\", \"employees\": 100}}"}
        ]});
        assert_eq!(
            fill(
                "{{last_result:/company/name}} tiene {{last_result:/company/employees}} empleados",
                &request
            ),
            "Empresa X tiene 100 empleados"
        );
        let react = json!({"messages": [{"role": "user", "content": "Result of f: {\"n\": 3}\nReply with one JSON object."}]});
        assert_eq!(
            fill("{\"respuesta\": \"{{last_result:/n}}\"}", &react),
            "{\"respuesta\": \"3\"}"
        );
        assert_eq!(
            fill("x {{last_result:/missing}}", &react),
            "x (nothing at /missing)"
        );
    }

    #[test]
    fn turns_are_parsed_and_bad_ones_named() {
        let turn = Turn::from_json(
            0,
            &json!({"tool_calls": [{"name": "f", "arguments": {"a": 1}}, {"name": "g", "arguments": "{bad"}]}),
        )
        .unwrap();
        assert_eq!(
            turn,
            Turn::ToolCalls {
                content: None,
                calls: vec![
                    (None, "f".into(), "{\"a\":1}".into()),
                    (None, "g".into(), "{bad".into())
                ]
            }
        );
        for (turn, expected) in [
            (json!({}), "turns[3] needs content"),
            (json!({"tool_calls": []}), "non-empty array"),
            (
                json!({"tool_calls": [{"arguments": {}}]}),
                "tool_calls[0].name",
            ),
            (json!({"error": {"status": 200, "message": "x"}}), "400-599"),
        ] {
            let error = Turn::from_json(3, &turn).unwrap_err();
            assert!(error.contains(expected), "{turn}: {error}");
        }
    }
}
