//! The stripe MCP server: Stripe customers, payments, invoices, subscriptions and refunds for
//! agents, with every write idempotent and every charge, refund and cancellation gated by
//! consent.
//!
//! Requests are async-stripe's typed request builders sent through mcp-common's client and
//! policy ([`client`]); answers are trimmed for agents ([`shape`]) with amounts people can read
//! ([`money`]); writes carry idempotency keys derived from the call ([`idempotency`]).

pub mod client;
pub mod config;
pub mod idempotency;
pub mod money;
pub mod shape;
pub mod tools;

pub use config::{ENV_HELP, StripeConfig};
use mcp_common::StartError;
pub use tools::{CALLER_CREDENTIALS, Stripe};

/// Builds the server. Nothing is sent to Stripe here: a wrong key or an unreachable API shows
/// in `/readyz` and in the first tool's error, so a host can still list the tools.
pub async fn open(config: StripeConfig) -> Result<Stripe, StartError> {
    let api = client::StripeApi::new(&config, env!("CARGO_PKG_VERSION"))?;
    if config.mode == config::Mode::Live {
        if config.live_writes {
            tracing::warn!("live-mode key with STRIPE_LIVE_WRITES=true: writes move real money");
        } else {
            tracing::info!("live-mode key: writes are off (STRIPE_LIVE_WRITES is not true)");
        }
    }
    if !config.restricted {
        tracing::info!(
            "STRIPE_API_KEY is a secret key with full access; a restricted key (rk_…) limited to the resources used is safer"
        );
    }
    Ok(Stripe::new(api, &config))
}
