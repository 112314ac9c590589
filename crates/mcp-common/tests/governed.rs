//! The governing layer end to end, in process: a toy domain served over `serve_streams`, driven
//! with JSON-RPC lines as a host would send them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail loudly.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use mcp_common::audit::AuditLog;
use mcp_common::config::AuditDestination;
use mcp_common::gate::ToolPolicy;
use mcp_common::governed::{Domain, GovernConfig, Governed};
use mcp_common::metrics::Metrics;
use mcp_common::stdio::serve_streams;
use mcp_common::{Secret, ToolError};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::{Json, Parameters};
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

    fn consent_preview<'a>(
        &'a self,
        tool: &'a str,
        arguments: &'a rmcp::model::JsonObject,
    ) -> futures::future::BoxFuture<'a, Option<String>> {
        let preview = (tool == "write_note").then(|| {
            format!(
                "note #{} would read {}",
                self.writes.load(Ordering::SeqCst) + 1,
                arguments["text"]
            )
        });
        Box::pin(async move { preview })
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
    let writes = Arc::new(AtomicU32::new(0));
    let toy = Toy {
        tools: Arc::new(Toy::tool_router()),
        writes: writes.clone(),
    };
    let config = GovernConfig {
        server: "toy".into(),
        policy,
        consent_timeout: Duration::from_secs(5),
        tool_timeout: Duration::from_millis(300),
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
    ToolPolicy {
        read_only: false,
        allow: vec![],
        deny: vec![],
        require_confirmation: true,
    }
}

fn text(answer: &Value) -> String {
    answer["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
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
