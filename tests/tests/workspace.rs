//! Tidy checks: servers.json, the workspace's server crates, their binaries and the README's
//! configuration table cannot drift apart.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail loudly.

use std::collections::BTreeSet;
use std::process::Command;

use mcp_conformance::binary_path;
use mcp_conformance::servers::{load_servers, workspace_root};

#[test]
fn every_server_crate_is_listed_in_servers_json_and_vice_versa() {
    let listed: BTreeSet<String> = load_servers()
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    let crates: BTreeSet<String> = std::fs::read_dir(workspace_root().join("crates"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name != "mcp-common")
        .collect();
    assert_eq!(
        listed, crates,
        "servers.json entries must match the server crates under crates/"
    );
    for server in load_servers().unwrap() {
        assert_eq!(
            server.command,
            format!("mcp-{}", server.name),
            "servers.json: {} must run mcp-{}",
            server.name,
            server.name
        );
    }
}

/// Every variable a binary documents in `--help` appears in the README, and so does every
/// variable servers.json sets.
#[test]
fn readme_documents_every_configuration_variable() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    for server in load_servers().unwrap() {
        let help = Command::new(binary_path(&server.command))
            .arg("--help")
            .output()
            .unwrap();
        assert!(help.status.success(), "{} --help failed", server.command);
        let text = String::from_utf8_lossy(&help.stdout);
        let mut variables: BTreeSet<String> = text
            .split(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .filter(|word| {
                word.len() > 4
                    && word.contains('_')
                    && word.starts_with(|c: char| c.is_ascii_uppercase())
            })
            .map(str::to_owned)
            .collect();
        variables.extend(server.env.iter().map(|(k, _)| k.clone()));
        assert!(
            variables.len() > 10,
            "{}: too few variables found in --help:\n{text}",
            server.command
        );
        let missing: Vec<_> = variables
            .iter()
            .filter(|v| !readme.contains(&format!("`{v}`")))
            .collect();
        assert!(
            missing.is_empty(),
            "README.md does not document {missing:?} (from {} --help or servers.json)",
            server.command
        );
    }
}

#[test]
fn version_flag_prints_the_binary_name() {
    for server in load_servers().unwrap() {
        let output = Command::new(binary_path(&server.command))
            .arg("--version")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && text.starts_with(&server.command),
            "{} --version printed {text:?}",
            server.command
        );
    }
}

/// The harness finds the address a process prints, as it does for stand-ins of real backends.
#[test]
fn the_harness_starts_listening_processes_and_reads_their_address() {
    let (mut child, addr, _) = mcp_conformance::start_listening(
        &binary_path("mcp-fixture"),
        &["--transport", "http"],
        &[],
    )
    .unwrap();
    let health = reqwest::blocking::get(format!("http://{addr}/healthz")).unwrap();
    assert_eq!(health.status().as_u16(), 200, "{addr}");
    let _ = child.kill();
    let _ = child.wait();
}
