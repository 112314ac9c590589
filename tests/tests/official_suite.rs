//! The official MCP conformance suite (`@modelcontextprotocol/conformance`, run with Node 22)
//! against every server in servers.json over streamable HTTP, with `--suite all` and the server's
//! expected-failures baseline in `tests/conformance/<server>.baseline.yml`. The suite itself fails
//! on a scenario that fails outside the baseline and on a baseline entry that now passes.
//! `just test` installs the suite into `.tools/` and sets `MCP_NODE22` and `MCP_CONFORMANCE`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail loudly.

use std::process::Command;
use std::time::{Duration, Instant};

use mcp_conformance::results::{read_baseline, record_suite_summary};
use mcp_conformance::servers::{load_servers, pairs, test_environment, workspace_root};
use mcp_conformance::{HttpServer, binary_path, tool_paths};
use tempfile::TempDir;

/// One configuration of the suite: the env var holding its entry point, extra arguments, the
/// baseline file suffix, and the label used in the summary table.
const RUNS: [(&str, &[&str], &str, &str); 3] = [
    ("MCP_CONFORMANCE", &[], "baseline", "official 0.1.16"),
    (
        "MCP_CONFORMANCE_NEXT",
        &["--spec-version", "2025-11-25"],
        "baseline-0.2-2025-11-25",
        "official 0.2 (2025-11-25)",
    ),
    (
        "MCP_CONFORMANCE_NEXT",
        &["--spec-version", "2026-07-28"],
        "baseline-0.2-2026-07-28",
        "official 0.2 (2026-07-28)",
    ),
];

#[test]
fn every_server_passes_the_official_suite_outside_its_baseline() {
    let mut variables = vec!["MCP_NODE22"];
    variables.extend(RUNS.iter().map(|(var, ..)| *var));
    let Some(tools) = tool_paths(&variables) else {
        return;
    };
    let (node, suites) = (tools[0].clone(), tools[1..].to_vec());
    let mut failures = Vec::new();
    for server in load_servers().unwrap() {
        let dir = TempDir::new().unwrap();
        let env = test_environment(&server, dir.path());
        let env = pairs(&env);
        let http = HttpServer::start(&binary_path(&server.command), &[], &env).unwrap();
        for ((_, extra, suffix, label), suite) in RUNS.iter().zip(&suites) {
            let baseline =
                workspace_root().join(format!("tests/conformance/{}.{suffix}.yml", server.name));
            assert!(
                baseline.exists(),
                "{}: no baseline at {}; list the scenarios that need the suite's test fixtures there",
                server.name,
                baseline.display()
            );
            let started = Instant::now();
            let output = Command::new("timeout")
                .arg("300")
                .arg(&node)
                .arg(suite)
                .args(["server", "--url", &http.mcp_url(), "--suite", "all"])
                .args(*extra)
                .arg("--expected-failures")
                .arg(&baseline)
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            let summary: String = stdout
                .lines()
                .skip_while(|l| !l.contains("=== SUMMARY ==="))
                .collect::<Vec<_>>()
                .join("\n");
            eprintln!(
                "{} / http / {label} ({:.1} s):\n{summary}",
                server.name,
                started.elapsed().as_secs_f64()
            );
            record_suite_summary(&server.name, label, &stdout, &read_baseline(&baseline));
            if !output.status.success() {
                failures.push(format!(
                    "{} / http / {label} exited with {:?}:\n{stdout}\n{}",
                    server.name,
                    output.status.code(),
                    String::from_utf8_lossy(&output.stderr)
                ));
            }
            assert!(started.elapsed() < Duration::from_secs(310));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
