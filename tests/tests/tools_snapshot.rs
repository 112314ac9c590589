//! `tools/list` of every server in servers.json, pinned in `tests/snapshots/<server>.tools.json`,
//! so that a changed tool name, description, schema or annotation shows up in review as a diff
//! of that file rather than passing unnoticed. After an intended change, refresh the files with
//! `MCP_UPDATE_SNAPSHOTS=1 cargo test -p mcp-conformance --test tools_snapshot` and commit them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail loudly.

use mcp_conformance::results::for_each_server;
use mcp_conformance::servers::{pairs, test_environment, workspace_root};
use mcp_conformance::{StdioServer, binary_path};
use serde_json::{Value, json};

#[test]
fn tools_list_matches_its_snapshot() {
    let update = std::env::var_os("MCP_UPDATE_SNAPSHOTS").is_some_and(|v| v == "1");
    assert!(
        !(update && std::env::var_os("CI").is_some_and(|v| v == "true")),
        "MCP_UPDATE_SNAPSHOTS is for developers; CI must compare, not rewrite"
    );
    for_each_server("stdio", "tools/list snapshot", |server| {
        let dir = tempfile::tempdir().unwrap();
        let env = test_environment(server, dir.path());
        let mut mcp = StdioServer::spawn(&binary_path(&server.command), &[], &pairs(&env))
            .unwrap()
            .keep_alive(env);
        mcp.initialize().unwrap();
        let mut tools = mcp.request("tools/list", json!({})).unwrap()["result"]["tools"]
            .as_array()
            .cloned()
            .unwrap();
        tools.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        let listed = serde_json::to_string_pretty(&Value::Array(tools)).unwrap() + "\n";
        let path = workspace_root()
            .join("tests/snapshots")
            .join(format!("{}.tools.json", server.name));
        if update {
            std::fs::write(&path, &listed).unwrap();
            return;
        }
        let pinned = std::fs::read_to_string(&path).unwrap_or_default();
        if pinned != listed {
            let first_difference = pinned
                .lines()
                .zip(listed.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| pinned.lines().count().min(listed.lines().count()));
            panic!(
                "{}: tools/list differs from {} from line {} on:\n  pinned: {}\n  served: {}\nIf the change is intended, run MCP_UPDATE_SNAPSHOTS=1 cargo test -p mcp-conformance --test tools_snapshot and commit the file.",
                server.name,
                path.display(),
                first_difference + 1,
                pinned
                    .lines()
                    .nth(first_difference)
                    .unwrap_or("(end of file)"),
                listed
                    .lines()
                    .nth(first_difference)
                    .unwrap_or("(end of file)"),
            );
        }
    });
}
