//! `mcp-openai`: any OpenAI-compatible model as an MCP server.

use std::process::ExitCode;

use mcp_common::ServerIdentity;
use mcp_openai::{ENV_HELP, OpenAiConfig, open};

fn main() -> ExitCode {
    let identity = ServerIdentity {
        name: "openai",
        version: env!("CARGO_PKG_VERSION"),
        about: "Any OpenAI-compatible model (OpenAI, Ollama, vLLM, LM Studio, llama.cpp) as chat, embedding and moderation tools for AI agents, with streamed progress and token budgets, over MCP",
        env_help: ENV_HELP,
        credentials: mcp_openai::CALLER_CREDENTIALS,
    };
    mcp_common::run(identity, |env| async move {
        let config = OpenAiConfig::from_env(&env)?;
        open(config).await
    })
}
