//! The secret scan: every server of `servers.json`, run against its stand-in with its credential
//! variables set to known values (the stand-ins' own keys and a bearer token), driven over stdio
//! and HTTP through start-up, listing, a real call, a call carrying a secret as an argument, bad
//! arguments, `/metrics`, `/readyz` and a refused token; then everything it wrote (stdout,
//! stderr, the audit file, every HTTP body) is searched for each secret value.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly.

use std::path::Path;
use std::time::Duration;

use mcp_conformance::servers::{load_servers, smoke_call, test_environment};
use mcp_conformance::{HttpServer, StdioServer, binary_path};
use serde_json::{Value, json};

/// The bearer token the HTTP runs require: a secret the servers hold too.
const TOKEN: &str = "scan-token-7f3a9c1e5b2d8046";
/// A wrong token a client might send: it must not be echoed either.
const WRONG_TOKEN: &str = "scan-wrong-token-0c4e8a2f6b1d";

/// The values of the variables that hold credentials (at least 8 characters, so a match means a
/// leak and not a coincidence).
fn secrets_of(env: &[(String, String)]) -> Vec<(String, String)> {
    env.iter()
        .filter(|(name, value)| {
            let name = name.to_ascii_uppercase();
            ["KEY", "TOKEN", "SECRET", "PASSWORD"]
                .iter()
                .any(|word| name.contains(word))
                && value.len() >= 8
                && !value.contains('/')
        })
        .cloned()
        .collect()
}

/// The smoke call's arguments with the first text argument replaced by `secret`, if it has one.
fn carrying(arguments: &Value, secret: &str) -> Option<Value> {
    let mut arguments = arguments.clone();
    let object = arguments.as_object_mut()?;
    let key = object
        .iter()
        .find(|(_, v)| v.is_string())
        .map(|(k, _)| k.clone())?;
    object.insert(key, json!(secret));
    Some(arguments)
}

fn scan(server: &str, surface: &str, written: &str, secrets: &[(String, String)]) {
    for (variable, value) in secrets {
        assert!(
            !written.contains(value.as_str()),
            "{server}: the value of {variable} appears in {surface}:\n{}",
            written
                .lines()
                .filter(|l| l.contains(value.as_str()))
                .take(3)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

#[test]
fn no_server_writes_a_secret_anywhere() {
    let mut scanned = Vec::new();
    for entry in load_servers().unwrap() {
        let dir = tempfile::tempdir().unwrap();
        let mut env = test_environment(&entry, dir.path());
        env.push(("MCP_AUTH_TOKEN".into(), TOKEN.into()));
        let mut secrets = secrets_of(&env);
        secrets.push(("a refused bearer token".into(), WRONG_TOKEN.into()));
        let binary = binary_path(&entry.command);
        let smoke = smoke_call(&entry.name).unwrap();
        let pairs = mcp_conformance::servers::pairs(&env);

        // stdio
        let mut stdio = StdioServer::spawn(&binary, &[], &pairs).unwrap();
        let mut written = String::new();
        written.push_str(&stdio.initialize().unwrap().to_string());
        written.push_str(&stdio.request("tools/list", json!({})).unwrap().to_string());
        if let Some((tool, arguments, _)) = &smoke {
            written.push_str(
                &stdio
                    .call_tool(tool, arguments.clone())
                    .unwrap()
                    .to_string(),
            );
            // Only the server's own secrets: it cannot know another value is one.
            for (_, secret) in secrets.iter().filter(|(_, s)| s != WRONG_TOKEN) {
                if let Some(arguments) = carrying(arguments, secret) {
                    written.push_str(&stdio.call_tool(tool, arguments).unwrap().to_string());
                }
            }
            written.push_str(
                &stdio
                    .request(
                        "tools/call",
                        json!({"name": tool, "arguments": {"no_such_argument": TOKEN}}),
                    )
                    .unwrap()
                    .to_string(),
            );
        }
        for message in &stdio.notifications {
            written.push_str(&message.to_string());
        }
        stdio.close_stdin();
        stdio.wait_exit(Duration::from_secs(10));
        scan(&entry.name, "stdio answers", &written, &secrets);
        scan(&entry.name, "stderr (stdio)", &stdio.stderr(), &secrets);

        // HTTP, with a bearer token
        let http = HttpServer::start(&binary, &[], &pairs).unwrap();
        let bearer = format!("Bearer {TOKEN}");
        let auth = [("Authorization", bearer.as_str())];
        let mut bodies = String::new();
        let (session, info) = http.initialize(&auth).unwrap();
        bodies.push_str(&info.to_string());
        if let Some((tool, arguments, _)) = &smoke {
            let result = http
                .call_tool(session.as_deref(), 2, tool, arguments.clone(), &auth)
                .unwrap();
            bodies.push_str(&result.to_string());
        }
        for path in ["/metrics", "/readyz", "/healthz"] {
            let answer = http
                .client
                .get(format!("{}{path}", http.base))
                .header("Authorization", &bearer)
                .send()
                .unwrap();
            bodies.push_str(&answer.text().unwrap());
        }
        let wrong = format!("Bearer {WRONG_TOKEN}");
        let refused = http
            .post(
                &json!({"jsonrpc": "2.0", "id": 9, "method": "tools/list"}),
                session.as_deref(),
                &[("Authorization", wrong.as_str())],
            )
            .unwrap();
        assert_eq!(
            refused.status, 401,
            "{}: a wrong token is refused",
            entry.name
        );
        bodies.push_str(&refused.body);
        scan(&entry.name, "HTTP answers", &bodies, &secrets);
        scan(&entry.name, "stderr (HTTP)", &http.stderr(), &secrets);
        drop(http);

        let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap_or_default();
        assert!(
            !audit.is_empty(),
            "{}: the audit file was written",
            entry.name
        );
        scan(&entry.name, "the audit file", &audit, &secrets);
        scanned.push(format!(
            "{} ({})",
            entry.name,
            secrets
                .iter()
                .map(|(v, _)| v.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let _ = Path::new(&binary);
    }
    eprintln!("scanned: {}", scanned.join("; "));
    assert!(scanned.len() >= 6, "{scanned:?}");
}
