//! The shared runtime of this workspace's MCP servers: everything that is not domain.
//!
//! A server crate implements its tools with rmcp's macros and the [`Domain`] trait, and its
//! `main` calls [`run`]. This crate then owns the command line and configuration ([`config`]),
//! the stdio and streamable HTTP transports ([`stdio`], [`http`]) with Host/Origin validation,
//! bearer tokens and body limits, the policy for calling backends ([`backend`]: timeouts,
//! retries, circuit breaker, readable errors), consent and tool gating ([`gate`], [`governed`]),
//! the audit trail ([`audit`]), logs and metrics ([`telemetry`], [`metrics`]), secrets that never
//! print ([`secret`]) and the schema rules clients rely on ([`schema`]).
//!
//! See ARCHITECTURE.md at the top of the repository for how a request flows through it.

#![deny(missing_docs)]

pub mod audit;
pub mod backend;
pub mod config;
pub mod consent;
pub mod error;
mod framing;
pub mod gate;
pub mod governed;
pub mod grants;
pub mod health;
pub mod http;
pub mod identity;
pub mod metrics;
pub mod schema;
pub mod secret;
pub mod serve;
pub mod stdio;
pub mod telemetry;

pub use backend::{Backend, BackendConfig, BackendError, Failure, FailureKind, Repeat};
pub use config::{ConfigError, Env};
pub use error::ToolError;
pub use gate::ToolKind;
pub use governed::{Domain, Governed};
pub use health::Probe;
pub use identity::Caller;
pub use secret::Secret;
pub use serve::{ServerIdentity, run};
