//! Tidy checks: servers.json, the workspace's server crates, their binaries and the README's
//! configuration table cannot drift apart.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail loudly.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use mcp_conformance::servers::{load_servers, pairs, workspace_root};
use mcp_conformance::{StdioServer, binary_path};
use serde_json::{Value, json};
use tempfile::TempDir;

/// The workspace's packages as Cargo reads them (`cargo metadata --no-deps`).
fn workspace_metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace_root())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The directories under crates/ whose Cargo.toml declares `[package.metadata.mcp] server = true`,
/// read with Cargo's own parser (`cargo metadata`), so every way TOML allows writing the marker
/// counts. Crates without it (mcp-common, a client, shared libraries) are not servers and need no
/// servers.json entry; a marker with a value other than true or false fails, so a typo cannot
/// silently unlist a server.
fn server_crates() -> BTreeSet<String> {
    let metadata = workspace_metadata();
    let crates = workspace_root().join("crates").canonicalize().unwrap();
    let mut servers = BTreeSet::new();
    for package in metadata["packages"].as_array().unwrap() {
        let manifest = Path::new(package["manifest_path"].as_str().unwrap());
        let Some(dir) = manifest
            .parent()
            .filter(|dir| dir.parent() == Some(crates.as_path()))
        else {
            continue;
        };
        match &package["metadata"]["mcp"]["server"] {
            Value::Null | Value::Bool(false) => {}
            Value::Bool(true) => {
                servers.insert(dir.file_name().unwrap().to_string_lossy().into_owned());
            }
            other => panic!(
                "{}: [package.metadata.mcp] server must be true or false, found {other}",
                manifest.display()
            ),
        }
    }
    servers
}

/// A server linked with a symbol order (`link/build.rs` as its build script) has its order and
/// the workload it was written from in `link/`, and every order there belongs to such a server:
/// an order nobody links with, or a build script with nothing to read, would go unnoticed.
#[test]
fn every_link_order_has_its_server_and_workload() {
    let metadata = workspace_metadata();
    let link = workspace_root().join("link").canonicalize().unwrap();
    let mut linked = BTreeSet::new();
    for package in metadata["packages"].as_array().unwrap() {
        for target in package["targets"].as_array().unwrap() {
            let script = Path::new(target["src_path"].as_str().unwrap());
            if target["kind"] == json!(["custom-build"])
                && script.canonicalize().ok() == Some(link.join("build.rs"))
            {
                linked.insert(package["name"].as_str().unwrap().to_owned());
            }
        }
    }
    let mut orders = BTreeSet::new();
    for entry in std::fs::read_dir(&link).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "order") {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            assert!(
                link.join(format!("{name}.jsonl")).is_file(),
                "link/{name}.order has no workload link/{name}.jsonl to write it again from"
            );
            orders.insert(name);
        }
    }
    assert!(!linked.is_empty(), "no package builds with link/build.rs");
    assert_eq!(
        linked, orders,
        "the packages whose build script is link/build.rs and the orders in link/ differ"
    );
}

#[test]
fn every_server_crate_is_listed_in_servers_json_and_vice_versa() {
    let listed: BTreeSet<String> = load_servers()
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    let crates = server_crates();
    assert_eq!(
        listed, crates,
        "servers.json entries must match the crates under crates/ whose Cargo.toml declares \
         [package.metadata.mcp] server = true"
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

/// A crate under crates/ without the marker (mcp-common, the openai-compat library, a client such
/// as mcp-agent) is a non-server rather than a drift between servers.json and crates/.
#[test]
fn crates_without_the_server_marker_are_not_servers() {
    let servers = server_crates();
    let all: BTreeSet<String> = std::fs::read_dir(workspace_root().join("crates"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let others: Vec<&String> = all.difference(&servers).collect();
    assert!(
        others.contains(&&"mcp-common".to_owned()) && others.contains(&&"openai-compat".to_owned()),
        "{others:?}"
    );
    assert!(
        servers.contains("empresa") && !servers.contains("mcp-common"),
        "{servers:?}"
    );
}

/// servers.json is what users paste into Claude Desktop or Cursor before filling in their own
/// values, so as shipped, placeholders included, every server must start, answer initialize and
/// tools/list, and keep running; a server that needs a real backend or folder to start would
/// greet a new user with a crash. HOME and XDG_DATA_HOME point into a temporary directory so no
/// real data directory is touched, and RAG_MODEL_DOWNLOAD=false keeps mcp-rag from fetching its
/// model from the network (the other servers ignore it).
#[test]
fn servers_json_as_shipped_starts_every_server() {
    let mut failures = Vec::new();
    for server in load_servers().unwrap() {
        let dir = TempDir::new().unwrap();
        let home = dir.path().to_string_lossy().into_owned();
        let mut env = server.env.clone();
        env.push(("HOME".into(), home.clone()));
        env.push(("XDG_DATA_HOME".into(), home));
        env.push(("RAG_MODEL_DOWNLOAD".into(), "false".into()));
        let args: Vec<&str> = server.args.iter().map(String::as_str).collect();
        let mut mcp = StdioServer::spawn(&binary_path(&server.command), &args, &pairs(&env))
            .unwrap_or_else(|error| panic!("{}: {error:#}", server.name));
        let answered = mcp.initialize().and_then(|_| {
            let answer = mcp.request("tools/list", json!({}))?;
            let count = answer["result"]["tools"].as_array().map_or(0, Vec::len);
            anyhow::ensure!(count > 0, "tools/list answered without tools: {answer}");
            Ok(count)
        });
        // Still running a moment after answering, so it did not answer and then die.
        let exited = mcp.wait_exit(Duration::from_millis(500));
        match (answered, exited) {
            (Ok(_), None) => {}
            (_, Some(status)) => failures.push(format!(
                "{} exited ({status}) when started with servers.json's env as shipped; stderr:\n{}",
                server.name,
                mcp.stderr()
            )),
            (Err(error), None) => failures.push(format!(
                "{} did not answer initialize and tools/list with servers.json's env as shipped: \
                 {error:#}",
                server.name
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
