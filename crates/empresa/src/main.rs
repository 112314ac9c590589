//! `mcp-empresa`: the company directory and document store as an MCP server.

use std::process::ExitCode;

use mcp_common::ServerIdentity;
use mcp_empresa::{ENV_HELP, EmpresaConfig, open};

fn main() -> ExitCode {
    let identity = ServerIdentity {
        name: "empresa",
        version: env!("CARGO_PKG_VERSION"),
        about: "Company directory and document store (embedded SQLite with full-text search) for AI agents, over MCP",
        env_help: ENV_HELP,
        credentials: &[],
    };
    mcp_common::run(identity, |env| async move {
        let config = EmpresaConfig::from_env(&env)?;
        open(config).await
    })
}
