//! Outcomes of the conformance checks, per server, transport and part, for the table printed at
//! the end of `just test`. Checks append one JSON line each to `$MCP_RESULTS_DIR/results.jsonl`
//! when that variable is set; `conformance-report` reads them back.

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::servers::{ServerEntry, load_servers};

/// One check of one server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outcome {
    /// `rust`, `official`, `python-sdk`, `prototype-agent` or `inspector`.
    pub part: String,
    /// The server's name in servers.json.
    pub server: String,
    /// `stdio` or `http`.
    pub transport: String,
    /// What was checked.
    pub check: String,
    /// `passed`, `failed` or `expected` (a failure listed in a baseline).
    pub status: String,
}

/// The results file, when results are being collected.
pub fn results_file() -> Option<PathBuf> {
    std::env::var_os("MCP_RESULTS_DIR").map(|dir| PathBuf::from(dir).join("results.jsonl"))
}

/// Appends one outcome (a no-op unless `MCP_RESULTS_DIR` is set).
pub fn record(part: &str, server: &str, transport: &str, check: &str, status: &str) {
    let Some(path) = results_file() else { return };
    let outcome = Outcome {
        part: part.into(),
        server: server.into(),
        transport: transport.into(),
        check: check.into(),
        status: status.into(),
    };
    let Ok(mut line) = serde_json::to_string(&outcome) else {
        return;
    };
    line.push('\n');
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    // One write per line in append mode, so concurrent test threads do not interleave lines.
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    {
        let _ = file.write_all(line.as_bytes());
    }
}

/// Runs the Rust protocol check `check` over `transport` against every server in servers.json,
/// the servers side by side, records each one's outcome, and fails at the end naming the servers
/// that failed (each failure's own message is printed where it happened).
pub fn for_each_server(transport: &str, check: &str, body: impl Fn(&ServerEntry) + Sync) {
    let servers = match load_servers() {
        Ok(servers) => servers,
        Err(error) => panic!("{error:#}"),
    };
    // One thread per server: the checks wait on processes and timers far more than on the CPU,
    // so running them side by side costs little and saves the sum of their waits.
    let passed: Vec<bool> = std::thread::scope(|scope| {
        let running: Vec<_> = servers
            .iter()
            .map(|server| {
                let body = &body;
                scope.spawn(move || catch_unwind(AssertUnwindSafe(|| body(server))).is_ok())
            })
            .collect();
        running
            .into_iter()
            .map(|thread| thread.join().unwrap_or(false))
            .collect()
    });
    let mut failed = Vec::new();
    for (server, passed) in servers.iter().zip(passed) {
        record(
            "rust",
            &server.name,
            transport,
            check,
            if passed { "passed" } else { "failed" },
        );
        if !passed {
            failed.push(server.name.clone());
        }
    }
    assert!(
        failed.is_empty(),
        "{check} ({transport}) failed for: {}",
        failed.join(", ")
    );
}

/// The scenario names of an expected-failures baseline file (`server:` list, `# comments` allowed).
pub fn read_baseline(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- "))
        .map(|entry| {
            entry
                .split('#')
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned()
        })
        .collect()
}

/// Records each scenario of an official-suite run from its summary lines ("✓ scenario: N passed,
/// M failed" or "✗ ..."): `expected` when the baseline lists it, else `passed` or `failed`.
pub fn record_suite_summary(server: &str, part: &str, stdout: &str, baseline: &[String]) {
    for line in stdout.lines() {
        let Some((mark, rest)) = line.split_once(' ') else {
            continue;
        };
        let Some((scenario, _)) = rest.split_once(": ") else {
            continue;
        };
        if mark != "✓" && mark != "✗" {
            continue;
        }
        let status = if baseline.iter().any(|entry| entry == scenario) {
            "expected"
        } else if mark == "✓" {
            "passed"
        } else {
            "failed"
        };
        record(part, server, "http", scenario, status);
    }
}
