//! `mcp-stripe`: Stripe as an MCP server.

use std::process::ExitCode;

use mcp_common::ServerIdentity;
use mcp_stripe::{ENV_HELP, StripeConfig, open};

fn main() -> ExitCode {
    let identity = ServerIdentity {
        name: "stripe",
        version: env!("CARGO_PKG_VERSION"),
        about: "Stripe customers, payments, invoices, subscriptions and refunds for AI agents, with idempotent writes and consent before money moves, over MCP",
        env_help: ENV_HELP,
        credentials: mcp_stripe::CALLER_CREDENTIALS,
    };
    mcp_common::run(identity, |env| async move {
        let config = StripeConfig::from_env(&env)?;
        open(config).await
    })
}
