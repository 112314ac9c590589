//! `mcp-twilio`: Twilio as an MCP server.

use std::process::ExitCode;

use mcp_common::ServerIdentity;
use mcp_twilio::{ENV_HELP, TwilioConfig, open};

fn main() -> ExitCode {
    let identity = ServerIdentity {
        name: "twilio",
        version: env!("CARGO_PKG_VERSION"),
        about: "Twilio SMS, WhatsApp, calls, phone number lookups and verification for AI agents, with consent before anything reaches a person and no repeated sends, over MCP",
        env_help: ENV_HELP,
        credentials: mcp_twilio::CALLER_CREDENTIALS,
    };
    mcp_common::run(identity, |env| async move {
        let config = TwilioConfig::from_env(&env)?;
        open(config).await
    })
}
