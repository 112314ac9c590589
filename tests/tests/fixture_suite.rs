//! The official MCP conformance suite (`@modelcontextprotocol/conformance`, run with Node 22)
//! against `mcp-fixture`, the test-only server in `tests/fixture/` that implements every fixture
//! the suite calls (`test_*` tools, `test://` resources, `test_*` prompts) on the shared runtime.
//! With `--suite all` and no baseline, every scenario must pass with neither a failure nor a
//! warning: proof that `mcp-common` carries the whole protocol, including the scenarios product
//! servers list in their baselines. `mcp-fixture` is not in servers.json, so the per-server checks
//! never see it; build it first (`cargo build --workspace --bins`, as `just test` does).
//! `just test` installs the suite into `.tools/` and sets `MCP_NODE22` and `MCP_CONFORMANCE`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail loudly.

use std::process::Command;
use std::time::{Duration, Instant};

use mcp_conformance::results::{read_baseline, record_suite_summary};
use mcp_conformance::servers::workspace_root;
use mcp_conformance::{HttpServer, binary_path, tool_paths};
use serde_json::Value;
use tempfile::TempDir;

/// Every check of status `wanted` in the suite's `-o` output: `scenario: check: message`.
fn checks_with_status(results: &std::path::Path, wanted: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(results).unwrap().filter_map(Result::ok) {
        let scenario = entry.file_name().to_string_lossy().into_owned();
        let Ok(text) = std::fs::read_to_string(entry.path().join("checks.json")) else {
            continue;
        };
        let checks: Value = serde_json::from_str(&text).unwrap();
        for check in checks.as_array().into_iter().flatten() {
            if check["status"] == wanted {
                found.push(format!(
                    "{scenario}: {}: {}",
                    check["id"].as_str().unwrap_or_default(),
                    check["errorMessage"]
                        .as_str()
                        .or(check["description"].as_str())
                        .unwrap_or_default()
                ));
            }
        }
    }
    found.sort();
    found
}

/// One run of the suite the fixture must pass.
struct SuiteRun {
    /// The env var holding the suite's entry point.
    suite_var: &'static str,
    /// Extra arguments, such as `--spec-version`.
    extra: &'static [&'static str],
    /// The baseline listing fixtures not built yet, if any.
    baseline: Option<&'static str>,
    /// The label in the summary table.
    label: &'static str,
    /// The least number of scenarios the run must contain.
    least_scenarios: usize,
}

const RUNS: [SuiteRun; 3] = [
    SuiteRun {
        suite_var: "MCP_CONFORMANCE",
        extra: &[],
        baseline: None,
        label: "official 0.1.16",
        least_scenarios: 32,
    },
    SuiteRun {
        suite_var: "MCP_CONFORMANCE_NEXT",
        extra: &["--spec-version", "2025-11-25"],
        baseline: None,
        label: "official 0.2 (2025-11-25)",
        least_scenarios: 33,
    },
    SuiteRun {
        suite_var: "MCP_CONFORMANCE_NEXT",
        extra: &["--spec-version", "2026-07-28"],
        baseline: Some("fixture.baseline-0.2-2026-07-28.yml"),
        label: "official 0.2 (2026-07-28)",
        least_scenarios: 30,
    },
];

#[test]
fn the_fixture_server_passes_every_scenario_of_the_official_suite() {
    let mut variables = vec!["MCP_NODE22"];
    variables.extend(RUNS.iter().map(|run| run.suite_var));
    let Some(tools) = tool_paths(&variables) else {
        return;
    };
    let (node, suites) = (tools[0].clone(), tools[1..].to_vec());
    let binary = binary_path("mcp-fixture");
    assert!(
        binary.exists(),
        "{} is missing; build it with `cargo build -p mcp-fixture` (`just test` builds every binary)",
        binary.display()
    );
    let dir = TempDir::new().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let home = home.to_string_lossy().into_owned();
    let env = [
        ("HOME", home.as_str()),
        ("XDG_DATA_HOME", home.as_str()),
        ("MCP_AUDIT_LOG", "off"),
    ];
    let http = HttpServer::start(&binary, &[], &env).unwrap();
    let mut failures = Vec::new();
    for (run, suite) in RUNS.iter().zip(&suites) {
        let SuiteRun {
            extra,
            baseline,
            label,
            least_scenarios,
            ..
        } = run;
        let results = dir.path().join(format!(
            "results-{}",
            label.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
        ));
        let baseline_path =
            baseline.map(|file| workspace_root().join("tests/conformance").join(file));
        let started = Instant::now();
        let mut command = Command::new("timeout");
        command
            .arg("300")
            .arg(&node)
            .arg(suite)
            .args(["server", "--url", &http.mcp_url(), "--suite", "all", "-o"])
            .arg(&results)
            .args(*extra);
        if let Some(path) = &baseline_path {
            command.arg("--expected-failures").arg(path);
        }
        let output = command.output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let summary: String = stdout
            .lines()
            .skip_while(|l| !l.contains("=== SUMMARY ==="))
            .collect::<Vec<_>>()
            .join("\n");
        eprintln!(
            "fixture / http / {label} ({:.1} s):\n{summary}",
            started.elapsed().as_secs_f64()
        );
        let expected = baseline_path
            .as_deref()
            .map(read_baseline)
            .unwrap_or_default();
        record_suite_summary("fixture", label, &stdout, &expected);
        let mut problems = Vec::new();
        if !output.status.success() {
            problems.push(format!(
                "the suite exited with {:?}:\n{stdout}\n{}",
                output.status.code(),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let scenarios = summary
            .lines()
            .filter(|l| l.starts_with('✓') || l.starts_with('✗'))
            .count();
        if scenarios < *least_scenarios {
            problems.push(format!(
                "only {scenarios} scenarios ran, expected at least {least_scenarios}"
            ));
        }
        if baseline.is_none() {
            // Without a baseline every check must succeed: no failure and no warning either.
            problems.extend(
                checks_with_status(&results, "FAILURE")
                    .into_iter()
                    .map(|c| format!("failed: {c}")),
            );
            problems.extend(
                checks_with_status(&results, "WARNING")
                    .into_iter()
                    .map(|c| format!("warned: {c}")),
            );
        }
        if !problems.is_empty() {
            failures.push(format!(
                "fixture / http / {label}:\n{}\nserver stderr:\n{}",
                problems.join("\n"),
                http.stderr()
            ));
        }
        assert!(started.elapsed() < Duration::from_secs(310));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
