//! The README's tool tables tell operators, per tool, its effect and whether it asks for the
//! user's consent by default. This check starts every server in servers.json with the default
//! policy and compares each tool it offers with its row: the effect as the annotations declare it,
//! and "asks" exactly when the server adds the `confirm` argument to the tool.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail loudly.

use mcp_conformance::servers::{load_servers, pairs, test_environment, workspace_root};
use mcp_conformance::{StdioServer, binary_path};
use serde_json::{Value, json};

/// The effect a tool's annotations declare, in the README's words.
fn effect(tool: &Value) -> &'static str {
    let hints = &tool["annotations"];
    if hints["readOnlyHint"] == true {
        "read-only"
    } else if hints["destructiveHint"] == true {
        "destructive"
    } else if hints["idempotentHint"] == true && hints["openWorldHint"] == false {
        "local write"
    } else {
        "write"
    }
}

/// The rows of the README's table for `server`: (tools named in the first cell, effect, asks).
fn readme_rows(readme: &str, server: &str) -> Vec<(Vec<String>, String, String)> {
    let heading = format!("## The {server} server");
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with(heading.trim_start_matches("## ")))
        .unwrap_or_else(|| panic!("README.md has no section {heading:?}"));
    section
        .lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.split(" | ").collect();
            let names = cells[0]
                .split('`')
                .skip(1)
                .step_by(2)
                .map(|quoted| quoted.split('(').next().unwrap_or(quoted).to_owned())
                .collect();
            (names, cells[1].to_owned(), cells[2].to_owned())
        })
        .collect()
}

#[test]
fn readme_tables_show_each_tools_effect_and_default_consent() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let mut problems = Vec::new();
    let mut changing_tools = 0;
    for server in load_servers().unwrap() {
        let dir = tempfile::tempdir().unwrap();
        let env = test_environment(&server, dir.path());
        let mut mcp = StdioServer::spawn(&binary_path(&server.command), &[], &pairs(&env))
            .unwrap()
            .keep_alive(env);
        mcp.initialize().unwrap();
        let tools = mcp.request("tools/list", json!({})).unwrap()["result"]["tools"]
            .as_array()
            .cloned()
            .unwrap();
        let rows = readme_rows(&readme, &server.name);
        for tool in &tools {
            let name = tool["name"].as_str().unwrap();
            let asks = if tool["inputSchema"]["properties"].get("confirm").is_some() {
                "yes"
            } else {
                "no"
            };
            match rows
                .iter()
                .find(|(names, ..)| names.iter().any(|n| n == name))
            {
                None => problems.push(format!("{}: `{name}` has no row", server.name)),
                Some((_, shown_effect, shown_asks)) => {
                    if shown_effect != effect(tool) || shown_asks != asks {
                        problems.push(format!(
                            "{}: `{name}` is shown as {shown_effect} / asks {shown_asks}, but it is {} / asks {asks}",
                            server.name,
                            effect(tool)
                        ));
                    }
                }
            }
        }
        // A server whose tools are all read-only (mcp-openai) has nothing to ask about; the check
        // proves something as long as some server's tools change the world.
        changing_tools += tools.iter().filter(|t| effect(t) != "read-only").count();
    }
    assert!(
        changing_tools > 0,
        "no server has a tool that changes anything, so this check would prove nothing"
    );
    assert!(
        problems.is_empty(),
        "README.md tool tables:\n  {}",
        problems.join("\n  ")
    );
}
