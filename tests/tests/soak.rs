//! A few seconds of `mcp-soak` against mcp-empresa, so `just test` exercises the soak runner
//! itself: sessions under load, an idle session's expiry (404, then a new session), the count of
//! writes, the audit count and the memory check all run, and the run passes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail loudly.

use std::process::Command;

#[test]
fn a_short_soak_of_empresa_passes_and_sees_sessions_expire() {
    let output = Command::new(env!("CARGO_BIN_EXE_mcp-soak"))
        .args([
            "--servers",
            "empresa",
            "--sessions",
            "4",
            "--minutes",
            "0.15",
            "--idle-secs",
            "1",
            "--idle-every",
            "2",
            "--idle-after",
            "20",
            "--sample-secs",
            "1",
            "--warmup-secs",
            "3",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "mcp-soak failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    // "| sessions | N opened, M expired after idling and opened again |"
    let expired: u64 = stdout
        .lines()
        .find_map(|line| line.strip_prefix("| sessions | "))
        .and_then(|rest| rest.split(", ").nth(1))
        .and_then(|part| part.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no sessions line:\n{stdout}"));
    assert!(expired >= 1, "no session expired:\n{stdout}");
    assert!(stdout.contains("soak: passed"), "{stdout}");
}
