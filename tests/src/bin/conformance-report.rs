//! `conformance-report`: the table `just test` ends with. It reads the outcomes the conformance
//! checks recorded in `$MCP_RESULTS_DIR/results.jsonl` and prints, per server, transport and part,
//! how many checks passed, failed, or failed as expected (listed in a baseline).

#![allow(clippy::print_stdout)] // The table is this program's output.

use std::collections::BTreeMap;
use std::process::ExitCode;

use mcp_conformance::results::{Outcome, results_file};

fn main() -> ExitCode {
    let Some(path) = results_file() else {
        eprintln!("conformance-report: set MCP_RESULTS_DIR to the directory the checks wrote to");
        return ExitCode::from(2);
    };
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let outcomes: Vec<Outcome> = text
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    if outcomes.is_empty() {
        eprintln!(
            "conformance-report: no outcomes in {}; did the checks run?",
            path.display()
        );
        return ExitCode::from(1);
    }
    // (server, transport, part) -> (passed, failed, expected)
    let mut table: BTreeMap<(String, String, String), (u32, u32, u32)> = BTreeMap::new();
    for outcome in &outcomes {
        let cell = table
            .entry((
                outcome.server.clone(),
                outcome.transport.clone(),
                outcome.part.clone(),
            ))
            .or_default();
        match outcome.status.as_str() {
            "passed" => cell.0 += 1,
            "expected" => cell.2 += 1,
            _ => cell.1 += 1,
        }
    }
    println!();
    println!("Conformance summary (server x transport x part)");
    println!("| server | transport | part | passed | failed | expected failures (baseline) |");
    println!("|---|---|---|---:|---:|---:|");
    for ((server, transport, part), (passed, failed, expected)) in &table {
        println!("| {server} | {transport} | {part} | {passed} | {failed} | {expected} |");
    }
    let failures: Vec<&Outcome> = outcomes.iter().filter(|o| o.status == "failed").collect();
    for failure in &failures {
        println!(
            "FAILED: {} / {} / {}: {}",
            failure.server, failure.transport, failure.part, failure.check
        );
    }
    let passed = outcomes.iter().filter(|o| o.status == "passed").count();
    println!("conformance: {passed} passed, {} failed", failures.len());
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
