//! `mcp-rag`: memory and retrieval for agents as an MCP server.

use std::process::ExitCode;
use std::sync::LazyLock;

use mcp_common::ServerIdentity;

/// `ServerIdentity` wants `&'static str`; the help is assembled from each module's section once.
static ENV_HELP: LazyLock<String> = LazyLock::new(mcp_rag::env_help);

fn main() -> ExitCode {
    let identity = ServerIdentity {
        name: "rag",
        version: env!("CARGO_PKG_VERSION"),
        about: "Memory and retrieval for AI agents over MCP: hybrid search (BM25 + vectors) over an embedded store or Qdrant",
        env_help: ENV_HELP.as_str(),
        credentials: &[],
    };
    mcp_common::run(identity, mcp_rag::open)
}
