//! A streamed chat completion put back together: the events' text, refusal and tool-call pieces
//! joined, the model, finish reason and usage kept, whatever HTTP client read the events. The
//! `openai` server and `mcp-agent` both read their streams with it.

use std::fmt;

use serde_json::Value;

use crate::wire::{ChatChunk, Message, ToolCall, Usage};

/// Tool calls one message may hold at most, so a broken stream cannot make a reader allocate
/// without limit.
const MAX_TOOL_CALLS: usize = 128;

/// Why an event could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamError {
    /// The event is not JSON.
    NotJson(String),
    /// The endpoint sent an error object in the stream (it broke off mid-answer).
    ErrorEvent(String),
    /// The event is JSON but not a chat completion chunk.
    NotAChunk(String),
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::NotJson(cause) => write!(f, "a stream event is not JSON ({cause})"),
            StreamError::ErrorEvent(message) => {
                write!(f, "the stream broke off with an error: {message}")
            }
            StreamError::NotAChunk(cause) => {
                write!(f, "a stream event is not a chat completion chunk ({cause})")
            }
        }
    }
}

impl std::error::Error for StreamError {}

/// The answer once the stream has ended.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamedAnswer {
    /// The model that answered, as the endpoint names it (empty when it said nothing).
    pub model: String,
    /// The assistant message: its text (absent when it only calls tools) and its tool calls,
    /// each with an id (`call_<n>` when the endpoint gave none).
    pub message: Message,
    /// The model's refusal, with structured outputs.
    pub refusal: Option<String>,
    /// `stop`, `length`, `tool_calls`, …
    pub finish_reason: Option<String>,
    /// Usage, when the endpoint reported it (`stream_options.include_usage`).
    pub usage: Option<Usage>,
}

/// Joins a stream's events, one `data` payload at a time.
#[derive(Debug, Default)]
pub struct Assembler {
    model: String,
    refusal: Option<String>,
    finish_reason: Option<String>,
    usage: Option<Usage>,
    text: String,
    calls: Vec<ToolCall>,
    pieces: u64,
    done: bool,
}

impl Assembler {
    /// An empty answer.
    pub fn new() -> Assembler {
        Assembler::default()
    }

    /// Adds one event's data; returns the text it added to the answer, if any (for progress).
    pub fn add(&mut self, data: &str) -> Result<Option<String>, StreamError> {
        if data.trim() == "[DONE]" {
            self.done = true;
            return Ok(None);
        }
        let value: Value =
            serde_json::from_str(data).map_err(|e| StreamError::NotJson(e.to_string()))?;
        if let Some(error) = value.get("error").filter(|e| !e.is_null()) {
            let message = error["message"].as_str().unwrap_or("no reason given");
            return Err(StreamError::ErrorEvent(message.to_owned()));
        }
        let chunk: ChatChunk =
            serde_json::from_value(value).map_err(|e| StreamError::NotAChunk(e.to_string()))?;
        if !chunk.model.is_empty() {
            self.model = chunk.model;
        }
        if chunk.usage.is_some() {
            self.usage = chunk.usage;
        }
        let mut added = None::<String>;
        // The first answer only: `n` is never set by these clients.
        if let Some(choice) = chunk.choices.into_iter().next() {
            if let Some(text) = choice.delta.content.filter(|t| !t.is_empty()) {
                self.pieces += 1;
                self.text.push_str(&text);
                added = Some(text);
            }
            if let Some(refusal) = choice.delta.refusal {
                self.refusal
                    .get_or_insert_with(String::new)
                    .push_str(&refusal);
            }
            for piece in choice.delta.tool_calls {
                let index = usize::try_from(piece.index)
                    .unwrap_or(usize::MAX)
                    .min(MAX_TOOL_CALLS - 1);
                while self.calls.len() <= index {
                    self.calls.push(ToolCall::function("", "", ""));
                }
                let call = &mut self.calls[index];
                if let Some(id) = piece.id.filter(|id| !id.is_empty()) {
                    call.id = id;
                }
                if let Some(function) = piece.function {
                    call.function
                        .name
                        .push_str(&function.name.unwrap_or_default());
                    call.function
                        .arguments
                        .push_str(&function.arguments.unwrap_or_default());
                }
            }
            if choice.finish_reason.is_some() {
                self.finish_reason = choice.finish_reason;
            }
        }
        Ok(added)
    }

    /// Whether `[DONE]` arrived.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Whether the answer is known to be whole: `[DONE]` or a finish reason arrived.
    pub fn is_complete(&self) -> bool {
        self.done || self.finish_reason.is_some()
    }

    /// Pieces of text received so far.
    pub fn pieces(&self) -> u64 {
        self.pieces
    }

    /// The answer as received.
    pub fn finish(self) -> StreamedAnswer {
        let Assembler {
            model,
            refusal,
            finish_reason,
            usage,
            text,
            mut calls,
            ..
        } = self;
        for (index, call) in calls.iter_mut().enumerate() {
            if call.id.is_empty() {
                call.id = format!("call_{index}");
            }
        }
        StreamedAnswer {
            model,
            message: Message {
                role: "assistant".to_owned(),
                content: (!text.is_empty() || calls.is_empty()).then_some(text),
                tool_calls: calls,
                tool_call_id: None,
            },
            refusal,
            finish_reason,
            usage,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_refusal_usage_and_finish_are_joined() {
        let mut stream = Assembler::new();
        let events = [
            r#"{"model":"gpt-4o-mini-2024","choices":[{"delta":{"role":"assistant","content":""}}]}"#,
            r#"{"choices":[{"delta":{"content":"Hel"}}]}"#,
            r#"{"choices":[{"delta":{"content":"lo"},"finish_reason":"stop"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#,
        ];
        let added: Vec<Option<String>> = events.iter().map(|e| stream.add(e).unwrap()).collect();
        assert_eq!(added, [None, Some("Hel".into()), Some("lo".into()), None]);
        assert!(stream.is_complete() && !stream.is_done());
        stream.add(" [DONE]\n").unwrap();
        assert!(stream.is_done());
        assert_eq!(stream.pieces(), 2);
        let answer = stream.finish();
        assert_eq!(answer.model, "gpt-4o-mini-2024");
        assert_eq!(answer.message.content.as_deref(), Some("Hello"));
        assert_eq!(answer.finish_reason.as_deref(), Some("stop"));
        assert_eq!(answer.usage.unwrap().total_tokens, 5);

        let mut refused = Assembler::new();
        refused
            .add(r#"{"choices":[{"delta":{"refusal":"I can"}}]}"#)
            .unwrap();
        refused
            .add(r#"{"choices":[{"delta":{"refusal":"not."}}]}"#)
            .unwrap();
        assert!(!refused.is_complete());
        assert_eq!(refused.finish().refusal.as_deref(), Some("I cannot."));
    }

    #[test]
    fn tool_calls_are_put_together_from_their_pieces() {
        let mut stream = Assembler::new();
        for event in [
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"call_a","function":{"name":"empresa__consultar_empresa","arguments":""}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":1,"function":{"name":"rag__recuperar_contexto","arguments":"{\"pregunta\""}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"nombre\":"}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Empresa X\"}"}},{"index":1,"function":{"arguments":":\"x\"}"}}]},"finish_reason":"tool_calls"}]}"#,
        ] {
            assert_eq!(stream.add(event).unwrap(), None);
        }
        let message = stream.finish().message;
        assert_eq!(message.content, None, "a message of calls only has no text");
        assert_eq!(
            message.tool_calls,
            [
                ToolCall::function(
                    "call_a",
                    "empresa__consultar_empresa",
                    r#"{"nombre":"Empresa X"}"#
                ),
                ToolCall::function("call_1", "rag__recuperar_contexto", r#"{"pregunta":"x"}"#),
            ]
        );
    }

    #[test]
    fn broken_events_say_what_is_wrong_and_indexes_are_bounded() {
        let mut stream = Assembler::new();
        assert!(matches!(stream.add("{nope"), Err(StreamError::NotJson(_))));
        let error = stream
            .add(r#"{"error":{"message":"overloaded"}}"#)
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "the stream broke off with an error: overloaded"
        );
        assert!(matches!(
            stream.add(r#"{"choices":3}"#),
            Err(StreamError::NotAChunk(_))
        ));
        stream
            .add(r#"{"choices":[{"delta":{"tool_calls":[{"index":99999999,"function":{"name":"f"}}]}}]}"#)
            .unwrap();
        assert_eq!(stream.finish().message.tool_calls.len(), MAX_TOOL_CALLS);
    }
}
