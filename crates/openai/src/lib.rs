//! The openai MCP server: a model behind any OpenAI-compatible endpoint (OpenAI's API, Ollama's
//! `/v1`, vLLM, LM Studio, llama.cpp's server, Azure OpenAI's v1 API) as the tools `chat`,
//! `embed`, `list_models` and `moderate`.
//!
//! [`client`] speaks the API through mcp-common's client and policy, streaming chat answers;
//! [`local`] runs the `local-model` crate's small model in this process instead (the `local`
//! provider, chosen when nothing else is configured and the model file is present), and
//! [`provider`] sends each request to one or the other;
//! [`budget`] keeps the per-call and per-session token caps; [`structured`] checks JSON answers
//! against the caller's schema; [`tools`] is the MCP face. The wire types and the reasoning-model
//! rules live in the `openai-compat` library, shared with other OpenAI bridges.
//!
//! Reads `OPENAI_BASE_URL`, `OPENAI_API_KEY`, `OPENAI_MODEL`, `OPENAI_EMBEDDING_MODEL`,
//! `OPENAI_PROVIDER`, `OPENAI_LOCAL_MODEL`, the token and output caps and the usual backend settings ([`config`]).

pub mod budget;
pub mod client;
pub mod config;
pub mod local;
pub mod provider;
pub mod structured;
pub mod tools;

pub use config::{ENV_HELP, OpenAiConfig};
use mcp_common::StartError;
pub use tools::{CALLER_CREDENTIALS, OpenAi};

/// Builds the server. Nothing is sent to the endpoint here (a local model starts loading in the background): an unreachable endpoint or a wrong
/// key shows in `/readyz` and in the first tool's error, so a host can still list the tools.
pub async fn open(config: OpenAiConfig) -> Result<OpenAi, StartError> {
    if let Some(path) = &config.local_model {
        tracing::info!(model = %path.display(), "provider: the local model, in this process");
        let local = local::LocalChat::start(path.clone());
        return Ok(OpenAi::new(provider::Provider::Local(local), &config));
    }
    let api = client::OpenAiApi::new(&config, env!("CARGO_PKG_VERSION"))?;
    if config.api_key.is_none() {
        tracing::info!(
            base_url = %config.base_url,
            "no OPENAI_API_KEY: requests are sent without a key, as local servers accept"
        );
    }
    Ok(OpenAi::new(provider::Provider::Endpoint(api), &config))
}
