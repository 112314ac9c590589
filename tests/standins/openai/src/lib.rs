//! An OpenAI-compatible test stand-in: a loopback HTTP server speaking the parts of OpenAI's REST API that
//! `mcp-openai` uses, with OpenAI's wire formats and error wording, for testing without the network or a model.
//!
//! `openai-standin [--listen 127.0.0.1:0] [--api-key KEY]` prints `openai-standin: listening on http://ADDR`; point
//! the client at `http://ADDR/v1`. In process: [`spawn`].
//!
//! # Faithful
//!
//! - **Keys.** `Authorization: Bearer KEY`; a wrong key is 401 `invalid_api_key` "Incorrect API key provided:
//!   sk-***…abcd" (masked as OpenAI does), a missing one 401 "You didn't provide an API key…". Started with
//!   `--api-key ""` it accepts anything, like Ollama or llama.cpp's server.
//! - **`POST /v1/chat/completions`**: OpenAI's validation wording (missing or empty `messages`, roles, temperature
//!   range, token limits, `stream_options` without `stream`, unknown model 404 `model_not_found`); **reasoning
//!   models** refuse parameters exactly as OpenAI words it: o-series (`o3-mini`, `o4-mini`, and `local-reasoner`, a reasoning
//!   model whose name does not say so, as local servers serve them) 400
//!   `unsupported_parameter` for `temperature`, `top_p` and `max_tokens` ("Unsupported parameter: 'max_tokens' is
//!   not supported with this model. Use 'max_completion_tokens' instead."), the gpt-5 family (`gpt-5-mini`) for
//!   `max_tokens` and 400 `unsupported_value` for a `temperature` or `top_p` other than 1 ("Unsupported value:
//!   'temperature' does not support 0.2 with this model. Only the default (1) value is supported."); reasoning
//!   tokens counted in `completion_tokens` and against `max_completion_tokens`. **Streaming** (`stream: true`):
//!   `chat.completion.chunk` events (role first, one word per event, the finish reason in an empty delta), with
//!   `stream_options.include_usage` a `usage: null` on each chunk and a last chunk with empty `choices` and the
//!   usage, then `data: [DONE]`. **`response_format`**: `json_object` (refused unless a message mentions JSON, as
//!   OpenAI does) answers a JSON object; `json_schema` answers a value generated from the schema (valid for it),
//!   and with `strict: true` the schema must be closed and require every key, refused with OpenAI's "Invalid schema
//!   for response_format …" wording otherwise.
//! - **`POST /v1/embeddings`**: string, string array or token arrays; `dimensions` (text-embedding-3 models; ada-002
//!   refuses it); `encoding_format` float or base64; usage.
//! - **`GET /v1/models`**, `GET /v1/models/{id}`; **`POST /v1/moderations`** with omni-moderation's categories.
//! - Errors are `{"error": {"message", "type", "param", "code"}}`; unknown routes 404 "Invalid URL (METHOD path)".
//!
//! # Simplified
//!
//! The answer is deterministic rather than written by a model: "You said: " and the last user message, a JSON
//! object `{"reply": …}` for `json_object`, or a value derived from the schema (free strings mention the prompt)
//! for `json_schema`. Tokens are whitespace-separated words (plus 4 per message and 3 per prompt), not BPE.
//! Embeddings are a hashed bag of words (texts sharing words are close), not a learned model. Moderation flags
//! from word lists. No tools/function calling, images, audio, logprobs, `n` > 1, or organisation/project headers.
//!
//! # Control routes (loopback only)
//!
//! - `POST /__standin/fault` (the kit's fault plan: `status` 429 with `retry_after`, 500, `slow`, `close`,
//!   `hang_after`, …); a `status` fault answers OpenAI's error body for that status.
//! - `POST /__standin/stream {"stall_after": N, "chunk_delay_ms": M, "count": K}`: the next K streamed answers wait
//!   M ms before each event and/or stop after N events, holding the connection open (a stalled stream).
//! - `POST /__standin/endpoints {"moderations": false}`: `/v1/moderations` answers 404 as endpoints without it do.
//! - `POST /__standin/keys {"keys": [...]}`: accept these keys too, as an endpoint with several users' keys.
//! - `GET /__standin/requests`: every API request received (method, path, JSON body, whether the key was valid and
//!   its last four characters, the status, and how a stream ended: `completed`, `aborted` by the client, or `released` by a reset).
//!   Requests the fault plan answers (a 429, a dropped connection) never reach the handler: they are only in
//!   `GET /__standin/calls`.
//! - `GET /__standin/calls`, `POST /__standin/reset` (the kit's: counts; reset clears the record and plans).
//! - `POST /__standin/script {"turns": [...]}`: scripted mode, chat completions answered from the posted model
//!   turns (text, tool calls, parallel tool calls, malformed arguments, errors; streamed when asked) until reset;
//!   see [`script`].

pub mod chat;
pub mod embeddings;
pub mod error;
pub mod models;
pub mod moderation;
pub mod schema;
pub mod script;
pub mod server;

pub use server::{
    AppState, DEFAULT_API_KEY, RecordedRequest, StreamOutcome, StreamPlan, app, spawn,
    spawn_with_key,
};
