//! `mcp-odoo`: Odoo ERP as an MCP server.

use std::process::ExitCode;

use mcp_common::ServerIdentity;
use mcp_odoo::{ENV_HELP, OdooConfig, open};

fn main() -> ExitCode {
    let identity = ServerIdentity {
        name: "odoo",
        version: env!("CARGO_PKG_VERSION"),
        about: "Odoo ERP (partners, CRM, any model) for AI agents over MCP, through XML-RPC or JSON-2, with gated writes",
        env_help: ENV_HELP,
        credentials: mcp_odoo::CALLER_CREDENTIALS,
    };
    mcp_common::run(identity, |env| async move {
        let config = OdooConfig::from_env(&env)?;
        open(config)
    })
}
