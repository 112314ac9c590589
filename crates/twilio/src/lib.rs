//! The twilio MCP server: SMS, WhatsApp, calls, phone number lookups and verification codes for
//! agents, with consent before anything reaches a person and no send ever repeated.
//!
//! Requests go through mcp-common's client and policy ([`client`]); sends are admitted by a
//! ledger of recent sends that refuses duplicates and floods ([`ledger`]); numbers are checked
//! as E.164 against the operator's allow-list ([`phone`]); SMS bodies are measured in segments
//! before sending ([`segments`]); call instructions are TwiML ([`twiml`]); answers are trimmed
//! for agents ([`shape`]).

pub mod client;
pub mod config;
pub mod ledger;
pub mod phone;
pub mod segments;
pub mod shape;
pub mod tools;
pub mod twiml;

pub use config::{ENV_HELP, TwilioConfig};
use mcp_common::StartError;
pub use tools::{CALLER_CREDENTIALS, Twilio};

/// Builds the server. Nothing is sent to Twilio here: wrong credentials or an unreachable API
/// show in `/readyz` and in the first tool's error, so a host can still list the tools.
pub async fn open(config: TwilioConfig) -> Result<Twilio, StartError> {
    let api = client::TwilioApi::new(&config, env!("CARGO_PKG_VERSION"))?;
    if config.dry_run {
        tracing::info!("TWILIO_DRY_RUN is on: sends are checked and shown, never sent");
    }
    if config.allowed_destinations.is_open() {
        tracing::info!(
            "TWILIO_ALLOWED_DESTINATIONS is not set: any number may be reached (with consent)"
        );
    }
    if matches!(config.credentials, config::Credentials::AuthToken(_)) {
        tracing::info!(
            "authenticating with the account's auth token; an API key (TWILIO_API_KEY, TWILIO_API_SECRET) can be revoked on its own"
        );
    }
    Ok(Twilio::new(api, &config))
}
