//! Interop with the official Python SDK client (`mcp` 2.x): every server in servers.json, over
//! stdio and HTTP, in the SDK's default mode (which probes `server/discover` first) and in legacy
//! mode. `just test` installs the SDK into `.tools/` and sets `MCP_PYTHON`; run alone without it,
//! this test only says how to set it up.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail loudly.

use std::process::Command;

use mcp_conformance::results::record;
use mcp_conformance::servers::{
    ServerEntry, load_servers, pairs, smoke_call, stdio_client_args, test_environment,
    workspace_root,
};
use mcp_conformance::{HttpServer, StdioServer, binary_path, tool_paths};
use serde_json::{Value, json};
use tempfile::TempDir;

/// The tool, arguments and expected text of a server's smoke call: from tests/smoke.json, or else
/// the first read-only tool that needs no arguments.
fn pick_smoke_call(server: &ServerEntry, env: &[(&str, &str)]) -> (String, Value, Option<String>) {
    if let Some(call) = smoke_call(&server.name).unwrap() {
        return call;
    }
    let mut mcp = StdioServer::spawn(&binary_path(&server.command), &[], env).unwrap();
    mcp.initialize().unwrap();
    let tools = mcp.request("tools/list", json!({})).unwrap();
    let tool = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["annotations"]["readOnlyHint"] == true && t["inputSchema"]["required"].as_array().is_none_or(Vec::is_empty))
        .unwrap_or_else(|| panic!("{}: no read-only tool without required arguments; add a smoke call to tests/smoke.json", server.name));
    (tool["name"].as_str().unwrap().to_owned(), json!({}), None)
}

fn run_client(
    python: &str,
    mode: &str,
    tool: &str,
    arguments: &Value,
    expect: &Option<String>,
    target: &[String],
) -> (bool, String) {
    let script = workspace_root().join("tests/interop/python_client.py");
    let mut command = Command::new(python);
    command.arg(script).args([
        "--mode",
        mode,
        "--tool",
        tool,
        "--arguments",
        &arguments.to_string(),
    ]);
    if let Some(expect) = expect {
        command.args(["--expect", expect]);
    }
    let output = command.args(target).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (
        output.status.success() && text.lines().any(|l| l == "OK"),
        text,
    )
}

#[test]
fn the_python_sdk_client_lists_and_calls_tools() {
    let Some(tools) = tool_paths(&["MCP_PYTHON"]) else {
        return;
    };
    let python = tools[0].clone();
    let mut failures = Vec::new();
    let mut passed = 0;
    for server in load_servers().unwrap() {
        let dir = TempDir::new().unwrap();
        let env = test_environment(&server, dir.path());
        let env_refs = pairs(&env);
        let (tool, arguments, expect) = pick_smoke_call(&server, &env_refs);

        let stdio_target = stdio_client_args(&server, &env);
        let http = HttpServer::start(&binary_path(&server.command), &[], &env_refs).unwrap();
        let http_target = vec![format!("--url={}", http.mcp_url())];

        for (transport, target) in [("stdio", &stdio_target), ("http", &http_target)] {
            for mode in ["auto", "legacy"] {
                let (ok, output) = run_client(&python, mode, &tool, &arguments, &expect, target);
                let status = if ok { "passed" } else { "failed" };
                record(
                    "python-sdk",
                    &server.name,
                    transport,
                    &format!("{mode} mode: list and call {tool}"),
                    status,
                );
                if ok {
                    passed += 1;
                } else {
                    failures.push(format!("{} / {transport} / python-sdk {mode} mode: tools/call {tool} {arguments}\n{output}", server.name));
                }
            }
        }
    }
    eprintln!(
        "python-sdk interop: {passed} passed, {} failed",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
