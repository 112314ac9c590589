//! The MCP Inspector CLI (`@modelcontextprotocol/inspector` 2.x, an independent TypeScript
//! client) lists the tools of every server in servers.json, over stdio and HTTP, with `--strict`:
//! it must succeed and report no schema that some client could not use. `just test` installs it
//! into `.tools/` and sets `MCP_NODE22` and `MCP_INSPECTOR`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail loudly.

use std::process::Command;

use mcp_conformance::results::record;
use mcp_conformance::servers::{load_servers, pairs, test_environment};
use mcp_conformance::{HttpServer, binary_path, tool_paths};
use serde_json::Value;
use tempfile::TempDir;

#[test]
fn the_inspector_lists_every_tool_with_strict_portability_checks() {
    let Some(tools) = tool_paths(&["MCP_NODE22", "MCP_INSPECTOR"]) else {
        return;
    };
    let (node, inspector) = (tools[0].clone(), tools[1].clone());
    let mut failures = Vec::new();
    for server in load_servers().unwrap() {
        let dir = TempDir::new().unwrap();
        let env = test_environment(&server, dir.path());
        let env_refs = pairs(&env);
        let http = HttpServer::start(&binary_path(&server.command), &[], &env_refs).unwrap();
        // The inspector starts stdio servers with a minimal environment; pass the settings along.
        let mut stdio_target: Vec<String> = env
            .iter()
            .flat_map(|(k, v)| ["-e".to_owned(), format!("{k}={v}")])
            .collect();
        stdio_target.push(binary_path(&server.command).to_string_lossy().into_owned());
        stdio_target.extend(server.args.iter().cloned());
        for (transport, target) in [("stdio", stdio_target), ("http", vec![http.mcp_url()])] {
            // The inspector keeps state under $HOME; give it a disposable one.
            let home = TempDir::new().unwrap();
            let output = Command::new("timeout")
                .arg("120")
                .arg(&node)
                .arg(&inspector)
                .args(["--cli", "--format", "json", "-q"])
                .args(&target)
                .args(["--method", "tools/list", "--strict"])
                .env("HOME", home.path())
                .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            let stderr = String::from_utf8_lossy(&output.stderr);
            let listed = serde_json::from_str::<Value>(&stdout)
                .ok()
                .and_then(|v| v["result"]["tools"].as_array().map(Vec::len))
                .unwrap_or(0);
            let warnings: Vec<&str> = stderr
                .lines()
                .filter(|l| l.starts_with("Warning") || l.trim_start().starts_with("Issue:"))
                .collect();
            let passed = output.status.success() && listed > 0 && warnings.is_empty();
            record(
                "inspector",
                &server.name,
                transport,
                "tools/list --strict",
                if passed { "passed" } else { "failed" },
            );
            if !passed {
                failures.push(format!(
                    "{} / {transport} / inspector tools/list --strict: exit {:?}, {listed} tools listed; expected exit 0, tools and no portability warnings\n{stderr}",
                    server.name,
                    output.status.code()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
