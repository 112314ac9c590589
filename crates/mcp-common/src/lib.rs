//! The shared runtime of this workspace's MCP servers: everything that is not domain.
//!
//! A server crate implements its tools with rmcp's macros and the [`Domain`] trait, and its
//! `main` calls [`run`]. This crate then owns the command line and configuration ([`config`]),
//! the stdio and streamable HTTP transports (`stdio`, [`http`]) with Host/Origin validation,
//! bearer tokens and body limits, the policy for calling backends ([`backend`]: timeouts,
//! retries, circuit breaker, readable errors; [`api`]: the HTTP/JSON client over it), consent
//! and tool gating ([`gate`], [`governed`]),
//! the audit trail ([`audit`]), logs and metrics ([`telemetry`], `metrics`), secrets that never
//! print ([`secret`]), the schema rules clients rely on ([`schema`]) and tools' structured
//! results ([`Json`]). Only what servers and mcp-agent use is public; the stdio transport, the
//! governing layer's internals and the metrics registry are not.
//!
//! See ARCHITECTURE.md at the top of the repository for how a request flows through it, and its
//! "Adding a server" checklist.
//!
//! A whole server, with one tool: everything else (transports, security, consent, audit,
//! metrics, `--help`) comes from [`run`].
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use mcp_common::{Domain, Json, ServerIdentity, ToolError};
//! use rmcp::handler::server::router::tool::ToolRouter;
//! use rmcp::handler::server::wrapper::Parameters;
//! use rmcp::model::{ServerCapabilities, ServerConfig, Tool};
//! use rmcp::{ServerHandler, tool, tool_handler, tool_router};
//!
//! #[derive(Clone)]
//! struct Hello {
//!     tools: Arc<ToolRouter<Hello>>,
//! }
//!
//! #[derive(serde::Deserialize, schemars::JsonSchema)]
//! struct GreetArgs {
//!     /// Who to greet
//!     name: String,
//! }
//!
//! #[derive(serde::Serialize, schemars::JsonSchema)]
//! struct Greeting {
//!     /// The greeting
//!     text: String,
//! }
//!
//! #[tool_router]
//! impl Hello {
//!     // Every tool declares its effect; this one only reads.
//!     #[tool(
//!         description = "Greets someone by name",
//!         annotations(read_only_hint = true, open_world_hint = false)
//!     )]
//!     async fn greet(
//!         &self,
//!         Parameters(args): Parameters<GreetArgs>,
//!     ) -> Result<Json<Greeting>, ToolError> {
//!         Ok(Json(Greeting {
//!             text: format!("Hello, {}!", args.name),
//!         }))
//!     }
//! }
//!
//! #[tool_handler(router = self.tools)]
//! impl ServerHandler for Hello {
//!     fn get_info(&self) -> ServerConfig {
//!         ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
//!     }
//! }
//!
//! impl Domain for Hello {
//!     fn tools(&self) -> Vec<Tool> {
//!         self.tools.list_all()
//!     }
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     let identity = ServerIdentity {
//!         name: "hello",
//!         version: "0.1.0",
//!         about: "Greets people, over MCP",
//!         env_help: "",
//!         credentials: &[],
//!     };
//!     mcp_common::run(identity, |_env| async {
//!         Ok::<_, mcp_common::StartError>(Hello {
//!             tools: Arc::new(Hello::tool_router()),
//!         })
//!     })
//! }
//! ```

#![deny(missing_docs)]

pub mod api;
pub mod audit;
pub mod backend;
pub mod config;
mod connections;
mod consent;
pub mod error;
mod framing;
pub mod fuzz;
pub mod gate;
pub mod governed;
pub mod grants;
pub mod health;
pub mod http;
pub mod identity;
mod json;
pub mod limits;
mod metrics;
pub mod oauth;
pub mod preview;
pub mod schema;
pub mod secret;
pub mod serve;
mod stdio;
pub mod team;
pub mod telemetry;

#[cfg(test)]
mod tests;

pub use api::{Answer, ApiClient, Refusable, RefusalSlot};
pub use backend::{Backend, BackendConfig, BackendError, Failure, FailureKind, Repeat};
pub use config::{ConfigError, Env};
pub use error::ToolError;
pub use gate::ToolKind;
pub use governed::Domain;
pub use health::Probe;
pub use identity::Caller;
pub use json::Json;
pub use preview::Previews;
pub use secret::Secret;
pub use serve::{ServerIdentity, StartError, run};
