//! What every bridge between MCP tools and OpenAI-compatible APIs needs, in one library for the
//! conformance checks, the `openai` server, rag's remote embedder and the `mcp-agent` client.
//!
//! Today it holds [`strict`]: converting a tool's input schema to OpenAI's strict
//! function-calling form, and saying why when that would lose a field.

#![deny(missing_docs)]

pub mod strict;
