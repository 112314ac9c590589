//! `mcp-agent`: a client of the MCP servers in `servers.json` for any OpenAI-compatible model.
//!
//! - [`manager`]: one session per server for the agent's life (started concurrently, restarted
//!   when a server exited, tool lists cached and refreshed on `tools/list_changed`).
//! - [`translate`]: MCP tools as OpenAI function tools named `<server>__<tool>` (at most 64
//!   characters, shortened with a hash), schemas in strict form when nothing is lost, results as
//!   tool messages.
//! - [`agent`]: the loop, with native tool calls (parallel ones too) or the prototype's JSON
//!   protocol ([`react`]) for models without a tool role, a step limit, no identical call run
//!   twice in a question, [`consent`] before tools that change data, and one [`audit`] line per
//!   model call and per tool call.
//! - [`gateway`]: `mcp-agent serve`, `POST /chat` and `GET /health` behind mcp-common's HTTP guard.
//! - [`chat`]: the chat completions client and [`chat::Model`], which is it or [`local`], the
//!   small model in this process (replies constrained to the JSON protocol); [`config`]: the
//!   `AGENT_*` settings;
//!   [`servers`]: reading `servers.json`.

#![deny(missing_docs)]

pub mod agent;
pub mod audit;
pub mod chat;
pub mod config;
pub mod consent;
pub mod gateway;
pub mod http_transport;
pub mod local;
pub mod manager;
pub mod react;
pub mod servers;
pub mod translate;

pub use agent::{Agent, AgentConfig, Finish, Mode, Outcome};
pub use consent::{Consent, ConsentRequest};
pub use manager::{Manager, ManagerConfig};
