//! The governing layer end to end, in process: a toy domain served over `serve_streams`, driven
//! with JSON-RPC lines as a host would send them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail loudly.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::Json;
use crate::audit::AuditLog;
use crate::config::AuditDestination;
use crate::gate::{ConfirmLevel, ToolPolicy};
use crate::governed::{Domain, GovernConfig, Governed};
use crate::grants::{GrantStore, NewGrant};
use crate::metrics::Metrics;
use crate::stdio::serve_streams;
use crate::{Backend, BackendConfig, Failure, Previews, Repeat, Secret, ToolError};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{ServerCapabilities, ServerConfig, Tool};
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream, Lines};
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
struct Toy {
    tools: Arc<ToolRouter<Toy>>,
    writes: Arc<AtomicU32>,
}

#[derive(Deserialize, JsonSchema)]
struct NoteArgs {
    /// The note
    text: String,
}

#[derive(Serialize, JsonSchema)]
struct Count {
    /// Writes so far
    writes: u32,
}

#[tool_router]
impl Toy {
    #[tool(description = "Panics", annotations(read_only_hint = true))]
    async fn boom(&self) -> Result<Json<Count>, ToolError> {
        panic!("the toy exploded")
    }

    #[tool(
        description = "Sleeps for a long time",
        annotations(read_only_hint = true)
    )]
    async fn slow(&self) -> Result<Json<Count>, ToolError> {
        tokio::time::sleep(Duration::from_secs(30)).await;
        Ok(Json(Count { writes: 0 }))
    }

    #[tool(
        description = "Reads from a backend that never answers",
        annotations(read_only_hint = true)
    )]
    async fn hung_backend(&self) -> Result<Json<Count>, ToolError> {
        // A per-attempt timeout far beyond the tool's limit, and retries: the call's deadline
        // must still bound them.
        let backend = Backend::new(
            "Svc",
            "http://svc",
            "is SVC_URL right?",
            BackendConfig {
                timeout: Duration::from_secs(10),
                ..BackendConfig::standard()
            },
        );
        let writes = backend
            .call(
                "read",
                Repeat::Safe,
                |f: &Failure| f.clone(),
                || async {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    Ok::<u32, Failure>(0)
                },
            )
            .await?;
        Ok(Json(Count { writes }))
    }

    #[tool(
        description = "Takes longer than MCP_TOOL_TIMEOUT_SECS, with its own limit",
        annotations(read_only_hint = true)
    )]
    async fn patient(&self) -> Result<Json<Count>, ToolError> {
        tokio::time::sleep(Duration::from_millis(600)).await;
        Ok(Json(Count { writes: 0 }))
    }

    #[tool(
        description = "Leaks a secret in its output",
        annotations(read_only_hint = true)
    )]
    async fn leak(&self) -> Result<Json<Count>, ToolError> {
        Err(ToolError::Other(
            "backend said: bad key sk_test_leaky_secret_42".into(),
        ))
    }

    #[tool(
        description = "Writes a note",
        annotations(read_only_hint = false, destructive_hint = false)
    )]
    async fn write_note(
        &self,
        Parameters(args): Parameters<NoteArgs>,
    ) -> Result<Json<Count>, ToolError> {
        assert!(!args.text.is_empty());
        let writes = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(Json(Count { writes }))
    }

    #[tool(
        description = "Remembers a note in the server's own store",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn remember(
        &self,
        Parameters(args): Parameters<NoteArgs>,
    ) -> Result<Json<Count>, ToolError> {
        assert!(!args.text.is_empty());
        let writes = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(Json(Count { writes }))
    }
}

#[tool_handler(router = self.tools)]
impl ServerHandler for Toy {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

impl Domain for Toy {
    fn tools(&self) -> Vec<Tool> {
        self.tools.list_all()
    }

    fn tool_timeout(&self, tool: &str) -> Option<Duration> {
        (tool == "patient").then(|| Duration::from_secs(5))
    }

    fn previews(&self) -> Previews<Self> {
        Previews::new().on("write_note", |toy: Toy, args: NoteArgs| async move {
            Some(format!(
                "note #{} would read {:?}",
                toy.writes.load(Ordering::SeqCst) + 1,
                args.text
            ))
        })
    }
}

struct Client {
    to_server: DuplexStream,
    from_server: Lines<BufReader<DuplexStream>>,
}

impl Client {
    async fn send(&mut self, message: Value) {
        let mut line = message.to_string().into_bytes();
        line.push(b'\n');
        self.to_server.write_all(&line).await.unwrap();
    }

    async fn next(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(10), self.from_server.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        serde_json::from_str(&line).unwrap()
    }

    async fn call(&mut self, id: u64, name: &str, arguments: Value) -> Value {
        self.send(json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":name,"arguments":arguments}})).await;
        self.next().await
    }
}

async fn start(
    policy: ToolPolicy,
    capabilities: Value,
    audit_path: &std::path::Path,
) -> (Client, Arc<AtomicU32>) {
    start_with(
        policy,
        Some(capabilities),
        audit_path,
        Arc::new(GrantStore::in_memory()),
    )
    .await
}

/// Starts the toy server; `capabilities: None` skips `initialize`, as 2026-07-28 clients do.
async fn start_with(
    policy: ToolPolicy,
    capabilities: Option<Value>,
    audit_path: &std::path::Path,
    grants: Arc<GrantStore>,
) -> (Client, Arc<AtomicU32>) {
    start_limited(
        policy,
        capabilities,
        audit_path,
        grants,
        crate::limits::LimitSettings::default(),
    )
    .await
}

/// [`start_with`] under these call limits.
async fn start_limited(
    policy: ToolPolicy,
    capabilities: Option<Value>,
    audit_path: &std::path::Path,
    grants: Arc<GrantStore>,
    limits: crate::limits::LimitSettings,
) -> (Client, Arc<AtomicU32>) {
    let writes = Arc::new(AtomicU32::new(0));
    let toy = Toy {
        tools: Arc::new(Toy::tool_router()),
        writes: writes.clone(),
    };
    let config = GovernConfig {
        server: "toy".into(),
        version: "0.0.0".into(),
        about: String::new(),
        policy,
        consent_timeout: Duration::from_secs(5),
        tool_timeout: Duration::from_millis(300),
        grants: Arc::new(crate::grants::Grants::Local(grants)),
        team: None,
        credential_fields: &[],
        confirm_always: false,
        limits,
    };
    let audit = AuditLog::open(&AuditDestination::File(audit_path.to_path_buf())).unwrap();
    let governed = Governed::new(toy, config, audit, Arc::new(Metrics::new("toy"))).unwrap();
    let (to_server, server_in) = tokio::io::duplex(1 << 20);
    let (server_out, from_server) = tokio::io::duplex(1 << 20);
    tokio::spawn(serve_streams(
        governed,
        server_in,
        server_out,
        1 << 20,
        CancellationToken::new(),
    ));
    let mut client = Client {
        to_server,
        from_server: BufReader::new(from_server).lines(),
    };
    let Some(capabilities) = capabilities else {
        return (client, writes);
    };
    client
        .send(json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":capabilities,"clientInfo":{"name":"t","version":"1"}}}))
        .await;
    let init = client.next().await;
    assert!(
        init["result"]["capabilities"]["logging"].is_object(),
        "{init}"
    );
    client
        .send(json!({"jsonrpc":"2.0","method":"notifications/initialized"}))
        .await;
    (client, writes)
}

fn policy() -> ToolPolicy {
    ToolPolicy::default()
}

fn audit_lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn text(answer: &Value) -> String {
    answer["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn calls_over_the_concurrency_cap_or_the_rate_are_refused_at_once_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let limits = crate::limits::LimitSettings {
        max_concurrent: 1,
        per_minute: Some(3),
    };
    let (mut client, _) = start_limited(
        policy(),
        Some(json!({})),
        &audit,
        Arc::new(GrantStore::in_memory()),
        limits,
    )
    .await;
    // `slow` holds the one slot until its 0.3 s limit.
    client
        .send(json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slow","arguments":{}}}))
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let busy = client.call(2, "remember", json!({"text": "x"})).await;
    assert_eq!(
        busy["id"], 2,
        "the refusal comes at once, before the slow call ends: {busy}"
    );
    assert_eq!(busy["result"]["isError"], true, "{busy}");
    assert!(text(&busy).contains("MCP_MAX_CONCURRENT_CALLS"), "{busy}");
    let slow = client.next().await;
    assert_eq!(slow["id"], 1);
    // The slot is free again; the third call of the minute is the last one allowed.
    let third = client.call(3, "remember", json!({"text": "y"})).await;
    assert_ne!(third["result"]["isError"], true, "{third}");
    let limited = client.call(4, "remember", json!({"text": "z"})).await;
    assert_eq!(limited["result"]["isError"], true, "{limited}");
    assert!(
        text(&limited).contains("rate limited: this client has used its 3 calls per minute"),
        "{limited}"
    );
    let outcomes: Vec<String> = audit_lines(&audit)
        .iter()
        .map(|l| l["outcome"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(outcomes.contains(&"busy".to_owned()), "{outcomes:?}");
    assert!(
        outcomes.contains(&"rate_limited".to_owned()),
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn panics_and_timeouts_become_tool_errors_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let (mut client, _) = start(policy(), json!({}), &dir.path().join("audit.jsonl")).await;
    let boom = client.call(1, "boom", json!({})).await;
    assert_eq!(boom["result"]["isError"], true, "{boom}");
    assert!(
        text(&boom).contains("internal error in `boom`: the toy exploded"),
        "{boom}"
    );
    let slow = client.call(2, "slow", json!({})).await;
    assert_eq!(slow["result"]["isError"], true, "{slow}");
    assert!(
        text(&slow).contains("did not finish within 0.3 s"),
        "{slow}"
    );
    client
        .send(json!({"jsonrpc":"2.0","id":3,"method":"ping"}))
        .await;
    assert!(client.next().await["result"].is_object());
}

/// One deadline per call: a backend's attempts and retries end within the tool's limit with the
/// backend's own error, and a tool the domain gives a longer limit may use it.
#[tokio::test]
async fn backend_retries_share_the_deadline_of_the_call() {
    let dir = tempfile::tempdir().unwrap();
    let (mut client, _) = start(policy(), json!({}), &dir.path().join("audit.jsonl")).await;
    let started = std::time::Instant::now();
    let hung = client.call(1, "hung_backend", json!({})).await;
    let elapsed = started.elapsed();
    assert_eq!(hung["result"]["isError"], true, "{hung}");
    assert_eq!(
        text(&hung),
        "Svc at http://svc did not answer read in time: no answer within 0.3 s; gave up after 1 attempt because the deadline of this tool call was reached — is SVC_URL right?"
    );
    assert!(elapsed < Duration::from_millis(600), "{elapsed:?}");
    let patient = client.call(2, "patient", json!({})).await;
    assert_eq!(
        patient["result"]["structuredContent"]["writes"], 0,
        "{patient}"
    );
}

/// A huge argument is recorded as a prefix, its size and a short hash, not in full.
#[tokio::test]
async fn long_arguments_are_cut_in_the_audit_record() {
    let dir = tempfile::tempdir().unwrap();
    let audit_path = dir.path().join("audit.jsonl");
    let (mut client, _) = start(policy(), json!({}), &audit_path).await;
    let huge = "z".repeat(200_000);
    let answer = client.call(1, "remember", json!({"text": huge})).await;
    assert_eq!(
        answer["result"]["structuredContent"]["writes"], 1,
        "{answer}"
    );
    let line = std::fs::read_to_string(&audit_path).unwrap();
    assert!(line.len() < 1_000, "{} bytes", line.len());
    let record: Value = serde_json::from_str(line.trim()).unwrap();
    let recorded = record["arguments"]["text"].as_str().unwrap();
    assert!(
        recorded.starts_with(&"z".repeat(200))
            && recorded.contains("…[truncated: 200000 bytes, sha256 "),
        "{recorded}"
    );
}

#[tokio::test]
async fn writes_need_the_confirm_argument_without_elicitation() {
    let dir = tempfile::tempdir().unwrap();
    let audit_path = dir.path().join("audit.jsonl");
    let (mut client, writes) = start(policy(), json!({}), &audit_path).await;

    client
        .send(json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}))
        .await;
    let listed = client.next().await;
    let write_tool = listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "write_note")
        .unwrap()
        .clone();
    assert_eq!(
        write_tool["inputSchema"]["properties"]["confirm"]["type"], "boolean",
        "{write_tool}"
    );

    let refused = client.call(2, "write_note", json!({"text": "hello"})).await;
    assert_eq!(refused["result"]["isError"], true);
    assert!(
        text(&refused).contains("call it again with `confirm: true`"),
        "{refused}"
    );
    assert!(
        text(&refused).contains("What it would change:\nnote #1 would read \"hello\""),
        "the refusal carries the domain's preview: {refused}"
    );
    assert_eq!(
        writes.load(Ordering::SeqCst),
        0,
        "a refused write changed nothing"
    );

    let applied = client
        .call(3, "write_note", json!({"text": "hello", "confirm": true}))
        .await;
    assert_eq!(
        applied["result"]["structuredContent"]["writes"], 1,
        "{applied}"
    );

    let invalid = client
        .call(4, "write_note", json!({"text": 5, "confirm": true}))
        .await;
    assert_eq!(
        text(&invalid),
        "invalid arguments for `write_note`: `text`: expected a string, got a number (5)"
    );

    let audit: Vec<Value> = std::fs::read_to_string(&audit_path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let outcomes: Vec<(&str, Option<&str>)> = audit
        .iter()
        .map(|r| (r["outcome"].as_str().unwrap(), r["consent"].as_str()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("refused", None),
            ("ok", Some("argument")),
            ("tool_error", None)
        ]
    );
}

#[tokio::test]
async fn elicitation_asks_the_user_when_the_client_can() {
    let dir = tempfile::tempdir().unwrap();
    let (mut client, writes) = start(
        policy(),
        json!({"elicitation": {}}),
        &dir.path().join("audit.jsonl"),
    )
    .await;
    for (id, action, expected_writes) in [(1, "decline", 0), (2, "accept", 1)] {
        client.send(json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":"write_note","arguments":{"text":"x"}}})).await;
        let ask = client.next().await;
        assert_eq!(ask["method"], "elicitation/create", "{ask}");
        assert!(
            ask["params"]["message"]
                .as_str()
                .unwrap()
                .contains("write_note"),
            "{ask}"
        );
        assert!(
            ask["params"]["message"]
                .as_str()
                .unwrap()
                .contains("What it would change:\nnote #"),
            "the consent request carries the preview: {ask}"
        );
        let content = if action == "accept" {
            json!({"confirm": true})
        } else {
            Value::Null
        };
        client.send(json!({"jsonrpc":"2.0","id":ask["id"],"result":{"action":action,"content":content}})).await;
        let answer = client.next().await;
        assert_eq!(answer["id"], id, "{answer}");
        assert_eq!(
            writes.load(Ordering::SeqCst),
            expected_writes,
            "after {action}: {answer}"
        );
        if action == "decline" {
            assert!(text(&answer).contains("did not approve"), "{answer}");
        }
    }
}

#[tokio::test]
async fn policy_withholds_tools_and_says_how_to_allow_them() {
    let dir = tempfile::tempdir().unwrap();
    let read_only = ToolPolicy {
        read_only: true,
        ..policy()
    };
    let (mut client, _) = start(read_only, json!({}), &dir.path().join("audit.jsonl")).await;
    client
        .send(json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}))
        .await;
    let names: Vec<String> = client.next().await["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(!names.contains(&"write_note".to_owned()), "{names:?}");
    let refused = client
        .call(2, "write_note", json!({"text": "x", "confirm": true}))
        .await;
    assert!(text(&refused).contains("MCP_READ_ONLY=false"), "{refused}");
}

#[tokio::test]
async fn secrets_are_scrubbed_from_results_and_audit() {
    let dir = tempfile::tempdir().unwrap();
    let audit_path = dir.path().join("audit.jsonl");
    let _secret = Secret::new("sk_test_leaky_secret_42");
    let (mut client, _) = start(policy(), json!({}), &audit_path).await;
    let leaked = client.call(1, "leak", json!({})).await;
    assert_eq!(text(&leaked), "backend said: bad key [redacted]");
    let bad = client
        .call(
            2,
            "write_note",
            json!({"text": "x", "api_key": "sk_test_leaky_secret_42"}),
        )
        .await;
    assert!(text(&bad).contains("`api_key`: unknown argument"), "{bad}");
    let audit = std::fs::read_to_string(&audit_path).unwrap();
    assert!(!audit.contains("sk_test_leaky_secret_42"), "{audit}");
    assert!(audit.contains(r#""api_key":"[redacted]""#), "{audit}");
}

#[tokio::test]
async fn local_additive_writes_run_without_asking_unless_the_operator_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let audit_path = dir.path().join("audit.jsonl");
    let (mut client, writes) = start(policy(), json!({}), &audit_path).await;
    client
        .send(json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}))
        .await;
    let listed = client.next().await;
    let remember = listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "remember")
        .unwrap()
        .clone();
    assert!(
        remember["inputSchema"]["properties"]
            .get("confirm")
            .is_none(),
        "a local additive write has no confirm argument by default: {remember}"
    );
    let done = client.call(2, "remember", json!({"text": "a note"})).await;
    assert_eq!(done["result"]["structuredContent"]["writes"], 1, "{done}");
    let refused = client.call(3, "write_note", json!({"text": "x"})).await;
    assert!(
        text(&refused).contains("needs the user's consent"),
        "{refused}"
    );
    assert_eq!(writes.load(Ordering::SeqCst), 1);
    let consents: Vec<Value> = audit_lines(&audit_path)
        .iter()
        .map(|r| r["consent"].clone())
        .collect();
    assert_eq!(consents, [json!("not_required"), Value::Null]);

    for policy in [
        ToolPolicy {
            confirm: ConfirmLevel::All,
            ..policy()
        },
        ToolPolicy {
            confirm_tools: vec!["rem*".into()],
            ..policy()
        },
    ] {
        let (mut client, writes) =
            start(policy.clone(), json!({}), &dir.path().join("a2.jsonl")).await;
        let refused = client.call(1, "remember", json!({"text": "a note"})).await;
        assert!(
            text(&refused).contains("needs the user's consent"),
            "{policy:?}: {refused}"
        );
        assert_eq!(writes.load(Ordering::SeqCst), 0);
    }
    let lifted = ToolPolicy {
        no_confirm_tools: vec!["write_note".into()],
        ..policy()
    };
    let (mut client, _) = start(lifted, json!({}), &dir.path().join("a3.jsonl")).await;
    let done = client.call(1, "write_note", json!({"text": "x"})).await;
    assert_eq!(done["result"]["isError"], false, "{done}");
}

/// Answers the elicitation request the server sends for `write_note`.
async fn approve(client: &mut Client, content: Value) {
    let ask = client.next().await;
    assert_eq!(ask["method"], "elicitation/create", "{ask}");
    let schema = &ask["params"]["requestedSchema"]["properties"];
    assert_eq!(schema["confirm"]["type"], "boolean", "{ask}");
    assert!(schema["remember"].is_object(), "{ask}");
    client
        .send(
            json!({"jsonrpc":"2.0","id":ask["id"],"result":{"action":"accept","content":content}}),
        )
        .await;
}

#[tokio::test]
async fn a_standing_grant_lets_later_calls_through_until_it_expires_or_is_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let audit_path = dir.path().join("audit.jsonl");
    let grants = Arc::new(GrantStore::at(dir.path().join("grants.json")));
    let (mut client, writes) = start_with(
        policy(),
        Some(json!({"elicitation": {}})),
        &audit_path,
        grants.clone(),
    )
    .await;
    // First call: the user approves and asks to be left alone for 15 minutes.
    client.send(json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write_note","arguments":{"text":"x"}}})).await;
    approve(&mut client, json!({"confirm": true, "remember": "15m"})).await;
    let first = client.next().await;
    assert_eq!(first["id"], 1, "{first}");
    assert_eq!(first["result"]["isError"], false, "{first}");
    let granted = grants.list().unwrap();
    assert_eq!(granted.len(), 1, "{granted:?}");
    let grant = &granted[0];
    assert_eq!(
        (
            grant.tool.as_str(),
            grant.caller.as_deref(),
            grant.client.as_deref()
        ),
        ("write_note", Some("local"), Some("t"))
    );
    assert!(grant.expires.is_some());
    // Second call: no question asked; the next line is the answer itself.
    let second = client.call(2, "write_note", json!({"text": "y"})).await;
    assert_eq!(second["id"], 2, "answered without asking: {second}");
    assert_eq!(writes.load(Ordering::SeqCst), 2);
    let audit = audit_lines(&audit_path);
    assert_eq!(
        audit[0]["consent"], "elicitation",
        "the first call was asked"
    );
    assert_eq!(audit[1]["consent"], format!("grant:{}", grant.id));

    // Revoked: the user is asked again.
    grants
        .revoke(std::slice::from_ref(&grant.id), false)
        .unwrap();
    client.send(json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"write_note","arguments":{"text":"z"}}})).await;
    approve(&mut client, json!({"confirm": true})).await;
    assert_eq!(client.next().await["id"], 3);
    assert!(
        grants.list().unwrap().is_empty(),
        "\"once\" leaves no grant"
    );

    // An operator's grant for one second: honoured, then expired on time.
    let short = grants
        .add(NewGrant {
            tool: "write_*".into(),
            caller: Some("local".into()),
            lasts: Some(Duration::from_secs(1)),
            source: "operator".into(),
            ..NewGrant::default()
        })
        .unwrap();
    let within = client.call(4, "write_note", json!({"text": "w"})).await;
    assert_eq!(within["id"], 4, "{within}");
    tokio::time::sleep(Duration::from_millis(1300)).await;
    client.send(json!({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"write_note","arguments":{"text":"v"}}})).await;
    let ask = client.next().await;
    assert_eq!(
        ask["method"], "elicitation/create",
        "expired grant: asked again: {ask}"
    );
    client
        .send(json!({"jsonrpc":"2.0","id":ask["id"],"result":{"action":"decline"}}))
        .await;
    assert!(text(&client.next().await).contains("did not approve"));
    let audit = audit_lines(&audit_path);
    let consents: Vec<&str> = audit
        .iter()
        .map(|r| r["consent"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(
        consents,
        [
            "elicitation",
            format!("grant:{}", grant.id).as_str(),
            "elicitation",
            format!("grant:{}", short.id).as_str(),
            "-"
        ]
    );
}

#[tokio::test]
async fn clients_on_2026_07_28_are_asked_through_input_required_results() {
    let dir = tempfile::tempdir().unwrap();
    let audit_path = dir.path().join("audit.jsonl");
    let (mut client, writes) = start_with(
        policy(),
        None,
        &audit_path,
        Arc::new(GrantStore::in_memory()),
    )
    .await;
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"form": {}}},
        "io.modelcontextprotocol/clientInfo": {"name": "modern", "version": "1"}
    });
    let call = |id: u64, text: &str, extra: Value| {
        let mut params = json!({"name": "write_note", "arguments": {"text": text}, "_meta": meta});
        if let (Value::Object(params), Value::Object(extra)) = (&mut params, extra) {
            params.extend(extra);
        }
        json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":params})
    };
    client.send(call(1, "hello", json!({}))).await;
    let asked = client.next().await;
    assert_eq!(asked["result"]["resultType"], "input_required", "{asked}");
    let question = &asked["result"]["inputRequests"]["mcp_consent"];
    assert_eq!(question["method"], "elicitation/create", "{asked}");
    assert!(
        question["params"]["message"]
            .as_str()
            .unwrap()
            .contains("note #1 would read"),
        "the question carries the preview: {asked}"
    );
    let state = asked["result"]["requestState"].as_str().unwrap().to_owned();
    assert_eq!(
        writes.load(Ordering::SeqCst),
        0,
        "nothing changed while asking"
    );

    let yes = json!({"mcp_consent": {"action": "accept", "content": {"confirm": true}}});
    // A forged state, or the real one with other arguments, approves nothing.
    client
        .send(call(
            2,
            "hello",
            json!({"inputResponses": yes, "requestState": "mcp-consent-forged"}),
        ))
        .await;
    let forged = client.next().await;
    assert!(
        text(&forged).contains("does not match a question"),
        "{forged}"
    );
    client.send(call(3, "hello", json!({}))).await;
    let asked = client.next().await;
    let state_2 = asked["result"]["requestState"].as_str().unwrap().to_owned();
    client
        .send(call(
            4,
            "other text",
            json!({"inputResponses": yes, "requestState": state_2}),
        ))
        .await;
    assert!(text(&client.next().await).contains("does not match a question"));
    assert_eq!(writes.load(Ordering::SeqCst), 0);

    client
        .send(call(
            5,
            "hello",
            json!({"inputResponses": yes, "requestState": state}),
        ))
        .await;
    let done = client.next().await;
    assert_eq!(done["result"]["structuredContent"]["writes"], 1, "{done}");
    // The same answer cannot be replayed.
    client
        .send(call(
            6,
            "hello",
            json!({"inputResponses": yes, "requestState": state}),
        ))
        .await;
    assert!(text(&client.next().await).contains("does not match a question"));
    assert_eq!(writes.load(Ordering::SeqCst), 1);
    let outcomes: Vec<(String, String)> = audit_lines(&audit_path)
        .iter()
        .map(|r| {
            (
                r["outcome"].as_str().unwrap().to_owned(),
                r["consent"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        outcomes[4],
        ("ok".to_owned(), "elicitation".to_owned()),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[0].0, "input_required", "{outcomes:?}");
}

/// A call still running when the server's runtime goes away (the process exiting after its input
/// ended) leaves an audit record that says so, instead of none: the call may have changed
/// something.
#[test]
fn a_call_the_runtime_drops_is_audited_as_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (mut client, _) = start(policy(), json!({}), &audit).await;
        // `patient` takes 600 ms; the runtime is dropped while it sleeps.
        client
            .send(json!({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"patient","arguments":{}}}))
            .await;
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(audit_lines(&audit).is_empty(), "no record before it ends");
    });
    drop(runtime);
    let records = audit_lines(&audit);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["tool"], "patient");
    assert_eq!(records[0]["outcome"], "interrupted");
    assert_eq!(records[0]["request_id"], "7");
    assert!(
        records[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("whether it changed anything is unknown")),
        "{records:?}"
    );
}

/// A call that ends normally is recorded once, with its own outcome, not again on drop.
#[tokio::test]
async fn a_finished_call_is_audited_once() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let (mut client, _) = start(policy(), json!({}), &audit).await;
    let answer = client.call(1, "patient", json!({})).await;
    assert_eq!(answer["result"]["isError"], false, "{answer}");
    drop(client);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let outcomes: Vec<Value> = audit_lines(&audit)
        .iter()
        .map(|r| r["outcome"].clone())
        .collect();
    assert_eq!(outcomes, [json!("ok")]);
}
