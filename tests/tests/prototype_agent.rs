//! The Python prototype's agent loop, run unchanged against every server in servers.json: the
//! official `mcp` 1.x SDK's `ClientSession` over stdio (`initialize`, `list_tools`, `call_tool`
//! with the prototype's own arguments, no `confirm`, no elicitation capability), where a result
//! with `isError` is a failure. This project replaces that prototype, so the agent already in use
//! must keep working as it is. `just test` installs the 1.x SDK into `.tools/python-mcp1` and sets
//! `MCP_PYTHON_MCP1`; run alone without it, this test only says how to set it up.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail loudly.

use std::process::Command;

use mcp_conformance::results::record;
use mcp_conformance::servers::{load_servers, stdio_client_args, test_environment, workspace_root};
use mcp_conformance::tool_paths;
use serde_json::{Value, json};
use tempfile::TempDir;

/// A sentence no seeded data contains, so finding it again proves `memorizar_informacion` stored
/// it.
const MEMORY: &str = "The lighthouse keeper of Isla Brava repaints the lamp room teal every March.";

/// The prototype's calls to `server`, in its order, with the arguments it sent, and strings the
/// answer must contain (in structuredContent or text). The data come from what the test
/// environment seeds: empresa's sample companies and documents, the Odoo stand-in's partners. A
/// server the prototype did not know gets no calls: its loop still starts it, initializes and
/// lists its tools.
fn prototype_calls(server: &str) -> Value {
    match server {
        "empresa" => json!([
            {"tool": "consultar_empresa", "arguments": {"nombre": "Empresa X"},
             "expect": ["\"name\":\"Empresa X\"", "\"employees\":100"]},
            // "contrato" is in the titles of several seeded documents.
            {"tool": "buscar_documentos", "arguments": {"nombre_documento": "contrato"},
             "expect": ["\"hits\":[{", "Contrato"]},
        ]),
        "rag" => json!([
            {"tool": "memorizar_informacion", "arguments": {"texto": MEMORY}, "expect": []},
            {"tool": "recuperar_contexto",
             "arguments": {"pregunta": "What colour does the lighthouse keeper of Isla Brava paint the lamp room?"},
             "expect": [MEMORY]},
        ]),
        "odoo" => json!([
            {"tool": "obtener_cliente", "arguments": {"nombre": "ACME Corporation"},
             "expect": ["ACME Corporation"]},
        ]),
        _ => json!([]),
    }
}

/// The last `n` lines of `text`: a server's log can be long, and its end says why it stopped.
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[test]
fn the_prototype_agent_on_the_python_sdk_1_x_works_unchanged() {
    let Some(tools) = tool_paths(&["MCP_PYTHON_MCP1"]) else {
        return;
    };
    let python = &tools[0];
    let script = workspace_root().join("tests/interop/prototype_agent.py");
    let mut failures = Vec::new();
    for server in load_servers().unwrap() {
        let dir = TempDir::new().unwrap();
        // The stand-in (for odoo) and the test model (for rag), as every interop check uses.
        let env = test_environment(&server, dir.path());
        let output = Command::new(python)
            .arg(&script)
            .args(["--server", &server.name])
            .arg(format!("--calls={}", prototype_calls(&server.name)))
            .args(stdio_client_args(&server, &env))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let passed = output.status.success() && stdout.lines().any(|l| l == "OK");
        if passed {
            // The script's lines say which call did what; a failure's go into the panic message.
            eprintln!("--- {} ---\n{stdout}", server.name);
        }
        record(
            "prototype-agent",
            &server.name,
            "stdio",
            "mcp 1.x ClientSession: initialize, list_tools, the prototype's call_tool calls",
            if passed { "passed" } else { "failed" },
        );
        if !passed {
            // The script's FAILED line is in `stdout`; say so when it died without one.
            let unfinished = if stdout.lines().any(|l| l.starts_with("FAILED:")) {
                ""
            } else {
                "the script did not finish (no OK, no FAILED line)\n"
            };
            failures.push(format!(
                "{}:\n{unfinished}{stdout}\nstderr (the server's and the SDK's), last lines:\n{}",
                server.name,
                last_lines(&stderr, 40)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
