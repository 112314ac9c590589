//! What every bridge between MCP tools and OpenAI-compatible APIs needs, in one library for the
//! conformance checks, the `openai` server, rag's remote embedder and the `mcp-agent` client.
//!
//! - [`strict`]: converting a tool's input schema to OpenAI's strict function-calling form, and
//!   saying why when that would lose a field.
//! - [`wire`]: the request and response bodies of chat completions (plain and streamed),
//!   embeddings, models and moderations, and OpenAI's error object, without any HTTP client.
//! - [`sse`]: an incremental decoder of server-sent events, for streamed chat completions.
//! - [`stream`]: a streamed chat completion put back together from its events (text, refusal,
//!   tool calls, finish reason, usage), for every reader of a stream.
//! - [`reasoning`]: which models are reasoning models and how a request is adjusted for them
//!   (`max_completion_tokens` instead of `max_tokens`, no `temperature`/`top_p`), with a note of
//!   each change.

#![deny(missing_docs)]

pub mod reasoning;
pub mod sse;
pub mod stream;
pub mod strict;
pub mod wire;
