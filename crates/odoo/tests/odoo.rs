//! mcp-odoo end to end: the real binary, over stdio and HTTP, against the Odoo stand-in
//! (`tests/standins/odoo`) served in process on a loopback port.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail loudly.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use mcp_conformance::{HttpServer, StdioServer, result_text};
use odoo_standin::{AppState, StandinConfig};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_mcp-odoo");

/// The stand-in, served on its own tokio runtime while the test thread drives the server.
struct Stand {
    addr: SocketAddr,
    state: AppState,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    http: reqwest::blocking::Client,
    // Dropped last: the runtime runs the stand-in.
    _runtime: tokio::runtime::Runtime,
}

impl Stand {
    fn start() -> Stand {
        Stand::with_app(|router| router)
    }

    /// A stand-in whose router is wrapped by `wrap`, e.g. to inject a refusal.
    fn with_app(wrap: impl FnOnce(axum::Router) -> axum::Router) -> Stand {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let state = AppState::new(StandinConfig::standard());
        let router = wrap(odoo_standin::app(state.clone()));
        let (addr, task) = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            (
                addr,
                tokio::spawn(odoo_standin::serve_app(router, listener)),
            )
        });
        Stand {
            addr,
            state,
            task,
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
            _runtime: runtime,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn calls(&self, protocol: &str, model: &str, method: &str) -> u64 {
        self.state.call_count(protocol, model, method)
    }

    /// Every API call received so far, from `/__standin/calls`.
    fn total_calls(&self) -> u64 {
        let answer: Value = self
            .http
            .get(format!("{}/__standin/calls", self.url()))
            .send()
            .unwrap()
            .json()
            .unwrap();
        answer["total"].as_u64().unwrap()
    }

    fn control(&self, route: &str, body: Value) {
        let response = self
            .http
            .post(format!("{}/__standin/{route}", self.url()))
            .json(&body)
            .send()
            .unwrap();
        assert!(response.status().is_success(), "{route} {body}");
    }

    fn fault(&self, body: Value) {
        self.control("fault", body);
    }

    /// A direct JSON-2 call, to compare the server's answers with the stand-in's data.
    fn json2(&self, model: &str, method: &str, body: Value) -> Value {
        self.http
            .post(format!("{}/json/2/{model}/{method}", self.url()))
            .bearer_auth("test-api-key")
            .header("X-Odoo-Database", "test")
            .json(&body)
            .send()
            .unwrap()
            .json()
            .unwrap()
    }
}

impl Drop for Stand {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The server's environment: the stand-in's admin over `protocol`, then `extra` (an empty value
/// unsets a variable, as the server reads empty values as unset).
fn env(stand: &Stand, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("ODOO_URL", stand.url()),
        ("ODOO_DB", "test".into()),
        ("ODOO_USER", "admin".into()),
        ("ODOO_PASSWORD", "admin".into()),
        ("MCP_AUDIT_LOG", "off".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (key, value) in extra {
        env.retain(|(k, _)| k != key);
        env.push(((*key).to_owned(), (*value).to_owned()));
    }
    env
}

fn stdio(env: &[(String, String)]) -> StdioServer {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut server = StdioServer::spawn(Path::new(BIN), &[], &env).unwrap();
    server.initialize().unwrap();
    server
}

fn http(env: &[(String, String)]) -> HttpServer {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    HttpServer::start(Path::new(BIN), &[], &env).unwrap()
}

fn with_confirm(mut arguments: Value) -> Value {
    arguments["confirm"] = json!(true);
    arguments
}

fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn ids(records: &Value, key: &str) -> Vec<i64> {
    let mut ids: Vec<i64> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[key].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

#[test]
fn obtener_cliente_returns_the_acme_partners_over_stdio_and_http() {
    let stand = Stand::start();
    let expected = ids(
        &stand.json2(
            "res.partner",
            "search_read",
            json!({"domain": [["name", "ilike", "acme"]], "fields": ["name"]}),
        ),
        "id",
    );
    assert!(
        expected.len() >= 2,
        "the stand-in has several acme partners"
    );
    let env = env(&stand, &[]);

    let mut server = stdio(&env);
    let found = server.call_ok("obtener_cliente", json!({"nombre": "acme"}));
    assert_eq!(ids(&found["partners"], "id"), expected, "{found}");
    assert_eq!(found["count"], expected.len());
    assert_eq!(found["total"], expected.len());
    let corporation = found["partners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "ACME Corporation")
        .unwrap();
    assert_eq!(
        corporation["company"], "ACME Corporation",
        "a company is its own company"
    );
    assert_eq!(corporation["country"], "United States");
    assert_eq!(corporation["email"], "info@acme.example.com");
    for partner in found["partners"].as_array().unwrap() {
        for key in ["id", "name", "email", "phone", "company", "city", "country"] {
            assert!(partner.get(key).is_some(), "{key} missing in {partner}");
        }
        assert!(
            partner["name"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains("acme"),
            "{partner}"
        );
    }
    let contact = server.call_ok("obtener_cliente", json!({"nombre": "John Smith"}));
    assert_eq!(
        contact["partners"][0]["company"], "ACME Corporation",
        "a contact's company is its parent: {contact}"
    );
    let none = server.call_ok("obtener_cliente", json!({"nombre": "zzz-nobody"}));
    assert_eq!(
        none,
        json!({"count": 0, "total": 0, "partners": [], "message": "no customer matches 'zzz-nobody'"})
    );

    let http = http(&env);
    let (session, _) = http.initialize(&[]).unwrap();
    let over_http = http
        .call_tool(
            session.as_deref(),
            2,
            "obtener_cliente",
            json!({"nombre": "acme"}),
            &[],
        )
        .unwrap();
    assert_eq!(
        ids(&over_http["structuredContent"]["partners"], "id"),
        expected,
        "{over_http}"
    );
}

/// A name is matched literally: `%` and `_` are LIKE wildcards in Odoo's `ilike`, so unescaped
/// they would list every partner; escaped they find only names that really contain them.
#[test]
fn obtener_cliente_matches_wildcard_characters_literally() {
    let stand = Stand::start();
    let mut server = stdio(&env(&stand, &[]));
    for wildcard in ["%", "_", "\\"] {
        let none = server.call_ok("obtener_cliente", json!({"nombre": wildcard}));
        assert_eq!(
            none,
            json!({"count": 0, "total": 0, "partners": [], "message": format!("no customer matches '{wildcard}'")}),
            "{wildcard}"
        );
    }
    let acme = server.call_ok("obtener_cliente", json!({"nombre": "acme"}));
    assert!(acme["count"].as_u64().unwrap() >= 2, "{acme}");

    let mut created = Vec::new();
    for name in ["100% Natural", "Under_Score SL", "Under-Score Ltd"] {
        let record = server.call_ok(
            "create_record",
            with_confirm(
                json!({"model": "res.partner", "values": [{"field": "name", "value": name}]}),
            ),
        );
        created.push(record["id"].as_i64().unwrap());
    }
    let names = |found: &Value| -> Vec<String> {
        found["partners"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let cases = [
        ("%", vec!["100% Natural"]),
        ("0% n", vec!["100% Natural"]),
        ("_", vec!["Under_Score SL"]),
        ("under_score", vec!["Under_Score SL"]),
        ("Under-Score", vec!["Under-Score Ltd"]),
    ];
    for (nombre, expected) in cases {
        let found = server.call_ok("obtener_cliente", json!({"nombre": nombre}));
        assert_eq!(names(&found), expected, "{nombre}: {found}");
        assert_eq!(found["total"], expected.len(), "{nombre}: {found}");
    }
}

/// The CRM flow through tools: each write is refused without consent (and changes nothing),
/// applied with `confirm: true`, and audited.
fn crm_flow(protocol: &str) {
    let stand = Stand::start();
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let audit_path = audit.to_string_lossy().into_owned();
    let env = env(
        &stand,
        &[
            ("ODOO_PROTOCOL", protocol),
            ("ODOO_API_KEY", "test-api-key"),
            ("MCP_AUDIT_LOG", &audit_path),
        ],
    );
    let mut server = stdio(&env);
    let mut expected_audit: Vec<(&str, &str)> = Vec::new();

    let lead = json!({"name": "Chairs for Acme", "partner_id": 5, "expected_revenue": 5000.0, "probability": 30.0, "email": "buyer@acme.example.com"});
    let refusal = server.call_err("create_lead", lead.clone());
    assert!(refusal.contains("confirm: true"), "{refusal}");
    assert!(
        refusal.contains("create a crm.lead: ") && refusal.contains("name = \"Chairs for Acme\""),
        "{refusal}"
    );
    assert_eq!(
        stand.calls(protocol, "crm.lead", "create"),
        0,
        "a refused write sends nothing"
    );
    expected_audit.push(("create_lead", "refused"));

    let created = server.call_ok("create_lead", with_confirm(lead));
    expected_audit.push(("create_lead", "ok"));
    assert_eq!(stand.calls(protocol, "crm.lead", "create"), 1);
    let lead_id = created["id"].as_i64().unwrap();
    assert_eq!(created["name"], "Chairs for Acme");
    assert_eq!(created["partner"]["id"], 5, "{created}");
    assert_eq!(created["expected_revenue"], 5000.0);

    let move_args = json!({"lead_id": lead_id, "stage": "qualified"});
    let refusal = server.call_err("move_lead_stage", move_args.clone());
    expected_audit.push(("move_lead_stage", "refused"));
    assert!(
        refusal.contains(&format!("crm.lead {lead_id} (Chairs for Acme): stage"))
            && refusal.contains("-> Qualified"),
        "the refusal previews the move: {refusal}"
    );
    assert_eq!(stand.calls(protocol, "crm.lead", "write"), 0);
    let moved = server.call_ok("move_lead_stage", with_confirm(move_args));
    expected_audit.push(("move_lead_stage", "ok"));
    assert_eq!(
        moved["to_stage"],
        json!({"id": 2, "name": "Qualified"}),
        "{moved}"
    );
    assert_eq!(stand.calls(protocol, "crm.lead", "write"), 1);
    let read = server.call_ok(
        "read_records",
        json!({"model": "crm.lead", "ids": [lead_id], "fields": ["stage_id"]}),
    );
    expected_audit.push(("read_records", "ok"));
    assert_eq!(
        read["records"][0]["stage_id"],
        json!({"id": 2, "name": "Qualified"})
    );

    let unknown = server.call_err(
        "move_lead_stage",
        with_confirm(json!({"lead_id": lead_id, "stage": "Negotiation"})),
    );
    expected_audit.push(("move_lead_stage", "tool_error"));
    assert!(
        unknown.contains("stage 'Negotiation' not found; the stages are: New (id 1), Qualified (id 2), Proposition (id 3), Won (id 4)"),
        "{unknown}"
    );
    assert_eq!(stand.calls(protocol, "crm.lead", "write"), 1);

    let note =
        json!({"model": "crm.lead", "record_id": lead_id, "body": "Called: they want 40 chairs"});
    let refusal = server.call_err("log_note", note.clone());
    expected_audit.push(("log_note", "refused"));
    assert!(
        refusal.contains("post an internal note on crm.lead"),
        "{refusal}"
    );
    assert_eq!(stand.calls(protocol, "crm.lead", "message_post"), 0);
    let logged = server.call_ok("log_note", with_confirm(note));
    expected_audit.push(("log_note", "ok"));
    assert!(logged["message_id"].as_i64().is_some(), "{logged}");
    assert_eq!(stand.calls(protocol, "crm.lead", "message_post"), 1);
    let messages = server.call_ok("search_records",
        json!({"model": "mail.message", "domain": [["model", "=", "crm.lead"], ["res_id", "=", lead_id]], "fields": ["body", "message_type", "subtype_id"]}),
    );
    expected_audit.push(("search_records", "ok"));
    let message = &messages["records"][0];
    assert!(
        message["body"].as_str().unwrap().contains("40 chairs"),
        "{messages}"
    );
    assert_eq!(message["message_type"], "comment");
    assert_eq!(message["subtype_id"]["name"], "Note", "{message}");

    let activity = json!({"model": "crm.lead", "record_id": lead_id, "activity": "call", "summary": "Call back about the quote", "deadline": "2026-12-01"});
    let refusal = server.call_err("schedule_activity", activity.clone());
    expected_audit.push(("schedule_activity", "refused"));
    assert!(refusal.contains("schedule a call on crm.lead"), "{refusal}");
    assert_eq!(stand.calls(protocol, "mail.activity", "create"), 0);
    let scheduled = server.call_ok("schedule_activity", with_confirm(activity));
    expected_audit.push(("schedule_activity", "ok"));
    assert_eq!(scheduled["activity_type"]["name"], "Call", "{scheduled}");
    assert_eq!(stand.calls(protocol, "mail.activity", "create"), 1);
    let activities = server.call_ok("search_records",
        json!({"model": "mail.activity", "domain": [["res_model", "=", "crm.lead"], ["res_id", "=", lead_id]], "fields": ["activity_type_id", "summary", "date_deadline"]}),
    );
    expected_audit.push(("search_records", "ok"));
    assert_eq!(activities["total"], 1, "{activities}");
    assert_eq!(activities["records"][0]["date_deadline"], "2026-12-01");
    assert_eq!(activities["records"][0]["activity_type_id"]["name"], "Call");

    let bad_date = server.call_err("schedule_activity",
        with_confirm(
            json!({"model": "crm.lead", "record_id": lead_id, "activity": "todo", "summary": "x", "deadline": "next friday"}),
        ),
    );
    expected_audit.push(("schedule_activity", "tool_error"));
    assert!(
        bad_date.contains("`deadline`: expected a date as YYYY-MM-DD"),
        "{bad_date}"
    );

    let listed = server.call_ok(
        "list_leads",
        json!({"stage": "Qualified", "partner": "acme"}),
    );
    expected_audit.push(("list_leads", "ok"));
    assert!(
        listed["leads"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["id"] == lead_id),
        "{listed}"
    );

    let lines: Vec<Value> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let seen: Vec<(&str, &str)> = lines
        .iter()
        .map(|r| (r["tool"].as_str().unwrap(), r["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(seen, expected_audit, "one audit line per call");
    let applied: Vec<&Value> = lines
        .iter()
        .filter(|r| r["outcome"] == "ok" && r["consent"] == "argument")
        .collect();
    assert_eq!(applied.len(), 4, "every applied write records its consent");
    assert!(
        lines
            .iter()
            .filter(|r| r["outcome"] == "refused")
            .all(|r| r["consent"].is_null()),
        "refused writes record no consent"
    );
    assert!(
        !std::fs::read_to_string(&audit)
            .unwrap()
            .contains("test-api-key")
    );
}

#[test]
fn crm_flow_over_xmlrpc() {
    crm_flow("xmlrpc");
}

#[test]
fn crm_flow_over_json2() {
    crm_flow("json2");
}

#[test]
fn auto_protocol_picks_json2_with_an_api_key_and_xmlrpc_without() {
    let stand = Stand::start();
    let keyed = env(
        &stand,
        &[
            ("ODOO_API_KEY", "test-api-key"),
            ("ODOO_USER", ""),
            ("ODOO_PASSWORD", ""),
        ],
    );
    let mut server = stdio(&keyed);
    server.call_ok("obtener_cliente", json!({"nombre": "acme"}));
    assert_eq!(
        stand.calls("http", "web", "version"),
        1,
        "the version is probed once"
    );
    assert_eq!(
        stand.calls("json2", "res.users", "context_get"),
        1,
        "and JSON-2 once, with the key"
    );
    assert_eq!(stand.calls("json2", "res.partner", "search_read"), 1);
    server.call_ok("count_records", json!({"model": "res.partner"}));
    assert_eq!(
        stand.calls("http", "web", "version"),
        1,
        "the choice is cached"
    );
    assert_eq!(stand.calls("xmlrpc", "res.partner", "search_read"), 0);

    let mut password_only = stdio(&env(&stand, &[]));
    password_only.call_ok("obtener_cliente", json!({"nombre": "acme"}));
    assert_eq!(stand.calls("xmlrpc", "res.partner", "search_read"), 1);
    assert_eq!(stand.calls("xmlrpc", "common", "authenticate"), 1);
    assert_eq!(stand.calls("json2", "res.partner", "search_read"), 1);
}

/// A proxy in front of Odoo 19 that forwards everything but `/json/2`.
async fn no_json2(request: Request, next: Next) -> Response {
    if request.uri().path().starts_with("/json/2") {
        return (
            axum::http::StatusCode::NOT_FOUND,
            "<html>404 Not Found</html>",
        )
            .into_response();
    }
    next.run(request).await
}

#[test]
fn auto_protocol_falls_back_to_xmlrpc_when_json2_is_not_served() {
    let stand = Stand::with_app(|router| router.layer(axum::middleware::from_fn(no_json2)));
    let mut server = stdio(&env(
        &stand,
        &[("ODOO_API_KEY", "test-api-key"), ("ODOO_PASSWORD", "")],
    ));
    let found = server.call_ok("obtener_cliente", json!({"nombre": "acme"}));
    assert_eq!(found["count"], 3);
    assert_eq!(
        stand.calls("xmlrpc", "res.partner", "search_read"),
        1,
        "the API key served as the password"
    );

    let mut keyless = stdio(&env(
        &stand,
        &[
            ("ODOO_API_KEY", "test-api-key"),
            ("ODOO_USER", ""),
            ("ODOO_PASSWORD", ""),
        ],
    ));
    let message = keyless.call_err("obtener_cliente", json!({"nombre": "acme"}));
    assert!(
        message.contains("does not answer JSON-2") && message.contains("set the user"),
        "{message}"
    );
}

#[test]
fn wrong_credentials_unreachable_odoo_and_timeouts_give_clear_errors_in_time() {
    let stand = Stand::start();

    let mut wrong = stdio(&env(&stand, &[("ODOO_PASSWORD", "not-the-password")]));
    let started = Instant::now();
    let message = wrong.call_err("obtener_cliente", json!({"nombre": "acme"}));
    assert_eq!(
        message,
        "Odoo rejected the login for user 'admin' on database 'test' — check ODOO_USER and ODOO_PASSWORD (or ODOO_API_KEY)"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(!wrong.stderr().contains("not-the-password"));

    let mut bad_key = stdio(&env(
        &stand,
        &[
            ("ODOO_PROTOCOL", "json2"),
            ("ODOO_API_KEY", "wrong-api-key"),
        ],
    ));
    let message = bad_key.call_err("count_records", json!({"model": "res.partner"}));
    assert_eq!(
        message,
        "Odoo rejected the API key on database 'test' — check ODOO_API_KEY"
    );

    let port = closed_port();
    let unreachable = format!("http://127.0.0.1:{port}");
    let mut down = stdio(&env(
        &stand,
        &[("ODOO_URL", &unreachable), ("ODOO_RETRIES", "0")],
    ));
    let started = Instant::now();
    let message = down.call_err("obtener_cliente", json!({"nombre": "acme"}));
    assert_eq!(
        message,
        format!(
            "error connecting to Odoo at {unreachable}: connection refused (search_read on res.partner) — is ODOO_URL right?"
        )
    );
    assert!(started.elapsed() < Duration::from_secs(2));

    let mut retried = stdio(&env(
        &stand,
        &[("ODOO_URL", &unreachable), ("ODOO_RETRIES", "1")],
    ));
    let started = Instant::now();
    let message = retried.call_err("search_records", json!({"model": "res.partner"}));
    let elapsed = started.elapsed();
    assert!(
        message.starts_with(&format!("error connecting to Odoo at {unreachable}: connection refused (fields_get on res.partner, after 2 attempts) — is ODOO_URL right?")),
        "{message}"
    );
    assert!(
        elapsed >= Duration::from_millis(700) && elapsed < Duration::from_secs(4),
        "one backoff of about a second: {elapsed:?}"
    );

    stand.fault(json!({"mode": "hang"}));
    let mut hung = stdio(&env(
        &stand,
        &[("ODOO_TIMEOUT_SECS", "1"), ("ODOO_RETRIES", "0")],
    ));
    let started = Instant::now();
    let message = hung.call_err("obtener_cliente", json!({"nombre": "acme"}));
    let elapsed = started.elapsed();
    assert_eq!(
        message,
        format!(
            "Odoo at {} did not answer search_read on res.partner in time: no answer within 1 s — is ODOO_URL right?",
            stand.url()
        )
    );
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_millis(2500),
        "{elapsed:?}"
    );
}

/// A hung Odoo with the default per-attempt timeout (30 s) and retries (3): the call still
/// answers by its deadline (MCP_TOOL_TIMEOUT_SECS), with Odoo's error rather than a bare timeout.
#[test]
fn a_hung_odoo_answers_by_the_call_deadline_whatever_the_retries() {
    let stand = Stand::start();
    stand.fault(json!({"mode": "hang"}));
    let mut hung = stdio(&env(&stand, &[("MCP_TOOL_TIMEOUT_SECS", "2")]));
    let started = Instant::now();
    let message = hung.call_err("obtener_cliente", json!({"nombre": "acme"}));
    let elapsed = started.elapsed();
    assert!(
        message.starts_with(&format!("Odoo at {} did not answer ", stand.url()))
            && message.contains(
                "; gave up after 1 attempt because the deadline of this tool call was reached — is ODOO_URL right?"
            ),
        "{message}"
    );
    assert!(
        elapsed >= Duration::from_millis(1_500) && elapsed < Duration::from_millis(3_000),
        "{elapsed:?}"
    );
}

#[test]
fn the_breaker_answers_at_once_then_recovers_after_the_cooldown() {
    let stand = Stand::start();
    let mut server = stdio(&env(
        &stand,
        &[
            ("ODOO_RETRIES", "0"),
            ("ODOO_BREAKER_THRESHOLD", "2"),
            ("ODOO_BREAKER_COOLDOWN_SECS", "1"),
        ],
    ));
    server.call_ok("obtener_cliente", json!({"nombre": "acme"}));
    stand.fault(json!({"mode": "http502"}));
    for _ in 0..2 {
        let message = server.call_err("obtener_cliente", json!({"nombre": "acme"}));
        assert_eq!(
            message,
            format!(
                "Odoo at {} is unavailable: search_read on res.partner failed with HTTP 502 Bad Gateway — is ODOO_URL right?",
                stand.url()
            )
        );
    }
    let before = stand.total_calls();
    let started = Instant::now();
    let message = server.call_err("obtener_cliente", json!({"nombre": "acme"}));
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_millis(100),
        "the open breaker answers at once: {elapsed:?}"
    );
    assert!(
        message.contains("is failing, so search_read on res.partner was not attempted (last error: HTTP 502 Bad Gateway)"),
        "{message}"
    );
    assert_eq!(stand.total_calls(), before, "nothing reached Odoo");

    stand.fault(json!({"mode": "none"}));
    std::thread::sleep(Duration::from_millis(1100));
    let found = server.call_ok("obtener_cliente", json!({"nombre": "acme"}));
    assert_eq!(found["count"], 3, "{found}");
}

#[test]
fn writes_are_never_resent_after_a_timeout_or_a_dropped_connection() {
    for protocol in ["xmlrpc", "json2"] {
        let stand = Stand::start();
        // Default retries (3): reads are retried, writes must not be.
        let mut server = stdio(&env(
            &stand,
            &[
                ("ODOO_PROTOCOL", protocol),
                ("ODOO_API_KEY", "test-api-key"),
                ("ODOO_TIMEOUT_SECS", "1"),
            ],
        ));
        // Log in and cache res.partner's fields, so that the next request is the create itself.
        server.call_ok("describe_model", json!({"model": "res.partner"}));
        let create = with_confirm(
            json!({"model": "res.partner", "values": [{"field": "name", "value": "Timeout Test"}]}),
        );

        stand.fault(json!({"mode": "hang", "times": 1}));
        let message = server.call_err("create_record", create.clone());
        assert!(
            message.contains("did not answer create on res.partner in time")
                && message
                    .contains("may have reached the service, so check whether it took effect"),
            "{protocol}: {message}"
        );
        assert_eq!(
            stand.calls(protocol, "res.partner", "create"),
            1,
            "{protocol}"
        );

        stand.fault(json!({"mode": "close", "times": 1}));
        let message = server.call_err("create_record", create);
        assert!(
            message
                .contains("gave an unusable answer to create on res.partner: the connection broke")
                && message.contains("may have reached the service"),
            "{protocol}: {message}"
        );
        assert_eq!(
            stand.calls(protocol, "res.partner", "create"),
            2,
            "{protocol}: sent once more, not twice"
        );

        // A read in the same situation is retried and succeeds.
        let reads = stand.calls(protocol, "res.partner", "search_read");
        stand.fault(json!({"mode": "close", "times": 1}));
        let page = server.call_ok(
            "search_records",
            json!({"model": "res.partner", "limit": 1}),
        );
        assert_eq!(page["count"], 1);
        assert_eq!(
            stand.calls(protocol, "res.partner", "search_read"),
            reads + 2,
            "{protocol}"
        );
    }
}

#[test]
fn fifty_concurrent_reads_over_one_http_session_agree() {
    let stand = Stand::start();
    let server = http(&env(&stand, &[]));
    let (session, _) = server.initialize(&[]).unwrap();
    let names = ["acme", "deco", "gemini", "azure", "wood"];
    // The burst comes first, so that the concurrent calls also race for the first login.
    let results: Vec<(usize, Value)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..50u64)
            .map(|call| {
                let (server, session) = (&server, &session);
                scope.spawn(move || {
                    let which = (call % 5) as usize;
                    let result = server
                        .call_tool(
                            session.as_deref(),
                            1000 + call,
                            "obtener_cliente",
                            json!({"nombre": names[which]}),
                            &[],
                        )
                        .unwrap();
                    (which, result)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        stand.calls("xmlrpc", "common", "authenticate"),
        1,
        "concurrent first calls share one login"
    );
    for (idx, name) in names.iter().enumerate() {
        let expected = server
            .call_tool(
                session.as_deref(),
                100 + idx as u64,
                "obtener_cliente",
                json!({"nombre": name}),
                &[],
            )
            .unwrap()["structuredContent"]
            .clone();
        assert!(
            expected["count"].as_u64().unwrap() >= 1,
            "{name}: {expected}"
        );
        for (which, result) in &results {
            if *which == idx {
                assert_eq!(result["structuredContent"], expected, "{name}: {result}");
            }
        }
    }
    assert_eq!(stand.calls("xmlrpc", "res.partner", "search_read"), 55);
}

#[test]
fn a_changed_password_gets_one_new_login_then_a_clear_error() {
    let stand = Stand::start();
    let mut server = stdio(&env(&stand, &[]));
    server.call_ok("obtener_cliente", json!({"nombre": "acme"}));
    assert_eq!(stand.calls("xmlrpc", "common", "authenticate"), 1);

    stand.control(
        "password",
        json!({"login": "admin", "password": "rotated-password"}),
    );
    let message = server.call_err("obtener_cliente", json!({"nombre": "acme"}));
    assert_eq!(
        message,
        "Odoo rejected the login for user 'admin' on database 'test' — check ODOO_USER and ODOO_PASSWORD (or ODOO_API_KEY)"
    );
    assert_eq!(
        stand.calls("xmlrpc", "common", "authenticate"),
        2,
        "exactly one new login"
    );
    assert_eq!(
        stand.calls("xmlrpc", "res.partner", "search_read"),
        2,
        "not re-sent after the failed login"
    );

    let mut updated = stdio(&env(&stand, &[("ODOO_PASSWORD", "rotated-password")]));
    updated.call_ok("obtener_cliente", json!({"nombre": "acme"}));

    stand.control("password", json!({"login": "admin", "password": "admin"}));
    server.call_ok("obtener_cliente", json!({"nombre": "acme"}));
}

/// Answers the next `/xmlrpc/2/object` call with Odoo's "Access Denied" fault, as Odoo does when
/// a uid's session is no longer valid.
async fn deny_once(State(armed): State<Arc<AtomicBool>>, request: Request, next: Next) -> Response {
    if request.uri().path() == "/xmlrpc/2/object" && armed.swap(false, Ordering::SeqCst) {
        let fault = odoo_standin::Fault {
            code: 3,
            string: "Access Denied".into(),
        };
        return (
            [(axum::http::header::CONTENT_TYPE, "text/xml")],
            odoo_standin::xmlrpc::encode_fault(&fault),
        )
            .into_response();
    }
    next.run(request).await
}

#[test]
fn a_refused_session_is_renewed_once_and_the_call_succeeds() {
    let armed = Arc::new(AtomicBool::new(false));
    let flag = armed.clone();
    let stand = Stand::with_app(move |router| {
        router.layer(axum::middleware::from_fn_with_state(flag, deny_once))
    });
    let mut server = stdio(&env(&stand, &[]));
    server.call_ok("describe_model", json!({"model": "res.partner"}));
    assert_eq!(stand.calls("xmlrpc", "common", "authenticate"), 1);

    armed.store(true, Ordering::SeqCst);
    let found = server.call_ok("obtener_cliente", json!({"nombre": "acme"}));
    assert_eq!(found["count"], 3);
    assert!(!armed.load(Ordering::SeqCst), "the refusal was served");
    assert_eq!(
        stand.calls("xmlrpc", "common", "authenticate"),
        2,
        "one new login"
    );

    // A write refused this way never ran, so it is sent again once.
    armed.store(true, Ordering::SeqCst);
    let created = server.call_ok("create_record",
        with_confirm(
            json!({"model": "res.partner", "values": [{"field": "name", "value": "After re-login"}]}),
        ),
    );
    assert!(created["id"].as_i64().is_some());
    assert_eq!(stand.calls("xmlrpc", "common", "authenticate"), 3);
    assert_eq!(
        stand.calls("xmlrpc", "res.partner", "create"),
        1,
        "the refused attempt never reached Odoo's create"
    );
}

#[test]
fn domains_policy_sensitive_and_binary_fields_and_shaping() {
    let stand = Stand::start();
    let mut server = stdio(&env(
        &stand,
        &[
            ("ODOO_MODELS_DENY", "res.country"),
            ("ODOO_SENSITIVE_FIELDS", "vat"),
        ],
    ));

    let message = server.call_err("search_records",
        json!({"model": "res.partner", "domain": [["name", "ilike", "a"], ["name", "contains", "x"]]}),
    );
    assert_eq!(
        message,
        "invalid domain: term 2 `[\"name\",\"contains\",\"x\"]` has unknown operator 'contains'; use one of =, !=, ilike, like, =ilike, =like, not ilike, not like, in, not in, <, <=, >, >=, child_of, parent_of, =?, any, not any"
    );
    let message = server.call_err(
        "count_records",
        json!({"model": "res.partner", "domain": ["|", ["name", "=", "a"]]}),
    );
    assert!(
        message.contains("term 1 `\"|\"` needs 2 conditions after it, but the domain ends after 1"),
        "{message}"
    );
    let message = server.call_err(
        "search_records",
        json!({"model": "res.partner", "domain": "name = acme"}),
    );
    assert!(
        message.contains("`domain`"),
        "the schema catches a non-list: {message}"
    );

    let message = server.call_err("search_records", json!({"model": "res.country"}));
    assert_eq!(
        message,
        "the model 'res.country' is refused by this server's policy (`res.country`): remove it from ODOO_MODELS_DENY to allow it"
    );
    let message = server.call_err("count_records", json!({"model": "ir.config_parameter"}));
    assert!(
        message.contains("holds credentials or server secrets"),
        "{message}"
    );
    let models = server.call_ok("list_models", json!({}));
    let names: Vec<&str> = models["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["model"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"res.partner") && names.contains(&"crm.lead"),
        "{names:?}"
    );
    assert!(!names.contains(&"res.country"), "{names:?}");
    assert!(models["refused_by_policy"].as_u64().unwrap() >= 1);
    let leads = server.call_ok("list_models", json!({"query": "lead"}));
    assert_eq!(leads["models"][0]["model"], "crm.lead", "{leads}");

    let users = server.call_ok("search_records",
        json!({"model": "res.users", "fields": ["name", "login", "password"], "domain": [["login", "=", "admin"]]}),
    );
    assert_eq!(users["withheld_fields"], json!(["password"]));
    assert!(users["records"][0].get("password").is_none(), "{users}");
    assert!(
        users["note"]
            .as_str()
            .unwrap()
            .contains("withheld sensitive fields: password")
    );
    let partners = server.call_ok(
        "read_records",
        json!({"model": "res.partner", "ids": [11], "fields": ["name", "vat"]}),
    );
    assert_eq!(partners["withheld_fields"], json!(["vat"]));
    assert!(partners["records"][0].get("vat").is_none());
    let message = server.call_err(
        "search_records",
        json!({"model": "res.users", "domain": [["password", "=", "admin"]]}),
    );
    assert!(
        message.contains("a sensitive field this server never reads"),
        "{message}"
    );
    let message = server.call_err("update_record",
        with_confirm(
            json!({"model": "res.users", "ids": [6], "values": [{"field": "password", "value": "x"}]}),
        ),
    );
    assert!(
        message.contains("'password' is a sensitive field"),
        "{message}"
    );
    let described = server.call_ok("describe_model", json!({"model": "res.users"}));
    let password = described["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "password")
        .unwrap();
    assert_eq!(password["sensitive"], true);

    let read = server
        .call_tool(
            "read_records",
            json!({"model": "res.partner", "ids": [5, 99999], "fields": ["name", "image_1920", "country_id", "child_ids", "write_date", "parent_id", "website"]}),
        )
        .unwrap();
    let record = &read["structuredContent"]["records"][0];
    assert_eq!(
        record["image_1920"],
        json!({"binary": true, "size": "70 bytes"}),
        "{record}"
    );
    assert!(
        !result_text(&read).contains("iVBORw0KGgo"),
        "binary content is never inlined"
    );
    assert_eq!(
        record["country_id"],
        json!({"id": 233, "name": "United States"})
    );
    assert_eq!(record["child_ids"]["count"], 2, "{record}");
    assert_eq!(record["parent_id"], Value::Null);
    assert!(
        record["write_date"].as_str().unwrap().ends_with('Z'),
        "{record}"
    );
    assert_eq!(read["structuredContent"]["missing_ids"], json!([99999]));

    let first = server.call_ok(
        "search_records",
        json!({"model": "res.partner", "limit": 2, "order": "id"}),
    );
    assert_eq!(first["next_offset"], 2, "{first}");
    let total = server.call_ok("count_records", json!({"model": "res.partner"}))["count"].clone();
    assert_eq!(first["total"], total);
    assert!(
        first["note"].as_str().unwrap().contains("default fields"),
        "{first}"
    );
    let fields: Vec<&str> = first["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(
        fields.len() <= 20 && fields.contains(&"name") && !fields.contains(&"image_1920"),
        "{fields:?}"
    );
    let second = server.call_ok(
        "search_records",
        json!({"model": "res.partner", "limit": 2, "offset": 2, "order": "id"}),
    );
    assert_ne!(first["records"][0]["id"], second["records"][0]["id"]);
    let last = server.call_ok("search_records",
        json!({"model": "res.partner", "limit": 2, "offset": total.as_u64().unwrap() - 1, "order": "id"}),
    );
    assert!(last.get("next_offset").is_none(), "{last}");

    let groups = server.call_ok("aggregate_records",
        json!({"model": "crm.lead", "group_by": ["stage_id"], "aggregates": ["expected_revenue:sum"]}),
    );
    let qualified = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"]["stage_id"]["name"] == "Qualified")
        .unwrap();
    assert!(qualified["count"].as_u64().unwrap() >= 1);
    assert!(
        qualified["aggregates"]["expected_revenue:sum"]
            .as_f64()
            .is_some(),
        "{groups}"
    );
    let message = server.call_err("aggregate_records",
        json!({"model": "crm.lead", "group_by": ["stage_id"], "aggregates": ["expected_revenue:median"]}),
    );
    assert!(
        message.contains("a function among sum, avg, min, max, count, count_distinct"),
        "{message}"
    );

    let preview = server.call_err("update_record",
        json!({"model": "res.partner", "ids": [5], "values": [{"field": "email", "value": "new@acme.example.com"}]}),
    );
    assert!(
        preview.contains("res.partner 5 (ACME Corporation): email \"info@acme.example.com\" -> \"new@acme.example.com\""),
        "{preview}"
    );
    let preview = server.call_err(
        "delete_record",
        json!({"model": "res.partner", "ids": [10]}),
    );
    assert!(
        preview.contains("delete res.partner 10 (acme test)"),
        "{preview}"
    );
    let updated = server.call_ok("update_record",
        with_confirm(
            json!({"model": "res.partner", "ids": [5], "values": [{"field": "email", "value": "new@acme.example.com"}]}),
        ),
    );
    assert_eq!(
        updated["records"][0]["email"], "new@acme.example.com",
        "{updated}"
    );
    let deleted = server.call_ok(
        "delete_record",
        with_confirm(json!({"model": "res.partner", "ids": [10]})),
    );
    assert_eq!(deleted["names"], json!(["acme test"]));
    let gone = server.call_ok("read_records", json!({"model": "res.partner", "ids": [10]}));
    assert_eq!(gone["missing_ids"], json!([10]));
}

#[test]
fn odoo_faults_become_sentences_over_both_protocols() {
    for protocol in ["xmlrpc", "json2"] {
        let stand = Stand::start();
        let mut server = stdio(&env(
            &stand,
            &[
                ("ODOO_PROTOCOL", protocol),
                ("ODOO_API_KEY", "test-api-key"),
            ],
        ));
        let message = server.call_err("count_records", json!({"model": "x.y"}));
        assert_eq!(
            message, "Odoo has no model 'x.y' — call list_models",
            "{protocol}"
        );
        let message = server.call_err(
            "search_records",
            json!({"model": "res.partner", "fields": ["nope"]}),
        );
        assert_eq!(
            message,
            "Odoo: the field 'nope' does not exist on res.partner — call describe_model to see its fields",
            "{protocol}"
        );
        let message = server.call_err(
            "count_records",
            json!({"model": "res.partner", "domain": [["nope", "=", 1]]}),
        );
        assert_eq!(
            message,
            "Odoo: the field 'nope' does not exist on res.partner — call describe_model to see its fields",
            "{protocol}: a field Odoo itself refuses"
        );
        let message = server.call_err("update_record",
            with_confirm(
                json!({"model": "res.partner", "ids": [99999], "values": [{"field": "name", "value": "x"}]}),
            ),
        );
        assert_eq!(
            message, "Odoo: res.partner 99999 does not exist or was deleted",
            "{protocol}"
        );
        let message = server.call_err("create_record",
            with_confirm(
                json!({"model": "crm.lead", "values": [{"field": "expected_revenue", "value": 10}]}),
            ),
        );
        assert!(message.starts_with("Odoo: "), "{protocol}: {message}");
        assert!(
            !message.contains("Traceback") && !message.contains("<?xml"),
            "{message}"
        );
    }
}

#[test]
fn call_method_is_refused_unless_allowed() {
    let stand = Stand::start();
    let mut server = stdio(&env(&stand, &[]));
    let arguments = json!({"model": "res.partner", "method": "name_search", "kwargs": [{"name": "name", "value": "acme"}]});
    let preview = server.call_err("call_method", arguments.clone());
    assert!(preview.contains("this call would be refused"), "{preview}");
    let message = server.call_err("call_method", with_confirm(arguments.clone()));
    assert!(
        message.contains("call_method is refused for res.partner.name_search")
            && message.contains("add `res.partner.name_search` to ODOO_CALL_METHODS_ALLOW"),
        "{message}"
    );
    assert_eq!(stand.calls("xmlrpc", "res.partner", "name_search"), 0);

    let mut allowed = stdio(&env(
        &stand,
        &[("ODOO_CALL_METHODS_ALLOW", "res.partner.name_*")],
    ));
    let preview = allowed.call_err("call_method", arguments.clone());
    assert!(
        preview.contains("run res.partner.name_search on the model res.partner"),
        "{preview}"
    );
    let result = allowed.call_ok("call_method", with_confirm(arguments));
    assert!(result["result"].as_array().unwrap().len() >= 2, "{result}");
    let message = allowed.call_err(
        "call_method",
        with_confirm(json!({"model": "res.partner", "method": "_read"})),
    );
    assert!(message.contains("private"), "{message}");
}

#[test]
fn resources_prompt_readiness_and_instances() {
    let stand = Stand::start();
    let mut server = stdio(&env(&stand, &[]));
    let models = server
        .request("resources/read", json!({"uri": "odoo://models"}))
        .unwrap();
    let text = models["result"]["contents"][0]["text"].as_str().unwrap();
    assert!(text.contains("\"res.partner\""), "{models}");
    let record = server
        .request("resources/read", json!({"uri": "odoo://res.partner/5"}))
        .unwrap();
    let text = record["result"]["contents"][0]["text"].as_str().unwrap();
    assert!(text.contains("ACME Corporation"), "{record}");
    let missing = server
        .request("resources/read", json!({"uri": "odoo://res.partner/99999"}))
        .unwrap();
    assert_eq!(missing["error"]["code"], -32002, "{missing}");
    assert_eq!(missing["error"]["data"]["uri"], "odoo://res.partner/99999");
    let templates = server
        .request("resources/templates/list", json!({}))
        .unwrap();
    assert_eq!(
        templates["result"]["resourceTemplates"][0]["uriTemplate"],
        "odoo://{model}/{id}"
    );

    let prompt = server
        .request(
            "prompts/get",
            json!({"name": "customer_summary", "arguments": {"nombre": "ACME Corporation"}}),
        )
        .unwrap();
    let text = prompt["result"]["messages"][0]["content"]["text"]
        .as_str()
        .unwrap();
    assert!(
        text.contains("ACME Corporation")
            && text.contains("Office furniture for ACME HQ")
            && text.contains("Latest messages"),
        "{text}"
    );
    let completion = server
        .request(
            "completion/complete",
            json!({"ref": {"type": "ref/prompt", "name": "customer_summary"}, "argument": {"name": "nombre", "value": "acm"}}),
        )
        .unwrap();
    assert!(
        completion["result"]["completion"]["values"]
            .as_array()
            .unwrap()
            .contains(&json!("ACME Corporation")),
        "{completion}"
    );

    stand.control(
        "password",
        json!({"login": "admin", "password": "Sup3r-Secret-Passw0rd"}),
    );
    let ready_server = http(&env(&stand, &[("ODOO_PASSWORD", "Sup3r-Secret-Passw0rd")]));
    let ready = ready_server
        .client
        .get(format!("{}/readyz", ready_server.base))
        .send()
        .unwrap();
    assert_eq!(ready.status(), 200);
    let body = ready.text().unwrap();
    assert!(
        body.contains("Odoo 19.0") && body.contains("protocol xmlrpc") && body.contains("uid 2"),
        "{body}"
    );
    assert!(!body.contains("Sup3r-Secret-Passw0rd"), "{body}");
    stand.control("password", json!({"login": "admin", "password": "admin"}));

    let down = http(&env(
        &stand,
        &[
            ("ODOO_URL", &format!("http://127.0.0.1:{}", closed_port())),
            ("ODOO_RETRIES", "0"),
        ],
    ));
    let ready = down
        .client
        .get(format!("{}/readyz", down.base))
        .send()
        .unwrap();
    assert_eq!(
        ready.status(),
        503,
        "the server starts, and readiness reports Odoo down"
    );
    assert!(ready.text().unwrap().contains("connection refused"));

    let dir = tempfile::tempdir().unwrap();
    let file: PathBuf = dir.path().join("instances.json");
    std::fs::write(
        &file,
        json!({"default": "main", "instances": {
            "main": {"url": stand.url(), "db": "test", "user": "admin", "password_env": "ODOO_MAIN_PASSWORD", "protocol": "xmlrpc"},
            "keyed": {"url": stand.url(), "db": "test", "api_key_env": "ODOO_KEYED_KEY", "protocol": "json2"}
        }})
        .to_string(),
    )
    .unwrap();
    let file = file.to_string_lossy().into_owned();
    let mut several = stdio(&[
        ("ODOO_INSTANCES_FILE".to_owned(), file),
        ("ODOO_MAIN_PASSWORD".to_owned(), "admin".to_owned()),
        ("ODOO_KEYED_KEY".to_owned(), "test-api-key".to_owned()),
        ("MCP_AUDIT_LOG".to_owned(), "off".to_owned()),
    ]);
    let json2_before = stand.calls("json2", "res.partner", "search_read");
    let keyed = several.call_ok(
        "obtener_cliente",
        json!({"nombre": "acme", "instance": "keyed"}),
    );
    assert_eq!(keyed["count"], 3);
    assert_eq!(
        stand.calls("json2", "res.partner", "search_read"),
        json2_before + 1
    );
    several.call_ok("obtener_cliente", json!({"nombre": "acme"}));
    let message = several.call_err(
        "obtener_cliente",
        json!({"nombre": "acme", "instance": "nope"}),
    );
    assert_eq!(
        message,
        "invalid argument `instance`: expected one of the configured Odoo instances: keyed, main (got 'nope')"
    );
}

#[test]
fn input_schemas_convert_to_openai_strict_form() {
    let stand = Stand::start();
    let mut server = stdio(&env(&stand, &[]));
    let tools = server.request("tools/list", json!({})).unwrap();
    let tools = tools["result"]["tools"].as_array().unwrap().clone();
    assert_eq!(tools.len(), 16);
    for tool in &tools {
        let schema = &tool["inputSchema"];
        let strict = mcp_conformance::strict::to_strict(schema)
            .unwrap_or_else(|problems| panic!("{}: {problems:?}", tool["name"]));
        assert_eq!(
            mcp_conformance::strict::property_paths(&strict),
            mcp_conformance::strict::property_paths(schema),
            "{}",
            tool["name"]
        );
        assert!(tool["outputSchema"].is_object(), "{}", tool["name"]);
        assert!(
            tool["inputSchema"]["properties"].get("instance").is_some(),
            "{}",
            tool["name"]
        );
    }
}

#[test]
fn every_tool_answers_within_its_output_schema() {
    let stand = Stand::start();
    let mut server = stdio(&env(
        &stand,
        &[("ODOO_CALL_METHODS_ALLOW", "res.partner.name_search")],
    ));
    let listed = server.request("tools/list", json!({})).unwrap();
    let schemas: std::collections::BTreeMap<String, Value> = listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_owned(),
                t["outputSchema"].clone(),
            )
        })
        .collect();
    let calls = [
        ("obtener_cliente", json!({"nombre": "acme"})),
        (
            "search_records",
            json!({"model": "res.partner", "limit": 3, "fields": ["name", "child_ids", "image_1920", "country_id"]}),
        ),
        (
            "read_records",
            json!({"model": "crm.lead", "ids": [1, 999]}),
        ),
        ("count_records", json!({"model": "crm.lead"})),
        (
            "aggregate_records",
            json!({"model": "crm.lead", "group_by": ["stage_id", "create_date:month"], "aggregates": ["expected_revenue:sum", "probability:avg"]}),
        ),
        ("list_models", json!({})),
        ("describe_model", json!({"model": "crm.lead"})),
        ("list_leads", json!({"min_expected_revenue": 1000})),
        (
            "create_record",
            json!({"model": "res.partner", "values": [{"field": "name", "value": "Schema Check"}], "confirm": true}),
        ),
        (
            "update_record",
            json!({"model": "res.partner", "ids": [11], "values": [{"field": "phone", "value": "+1 555 0199"}], "confirm": true}),
        ),
        (
            "delete_record",
            json!({"model": "res.partner", "ids": [16], "confirm": true}),
        ),
        (
            "call_method",
            json!({"model": "res.partner", "method": "name_search", "kwargs": [{"name": "name", "value": "deco"}], "confirm": true}),
        ),
        (
            "create_lead",
            json!({"name": "Schema lead", "partner_name": "Nuevo Cliente SL", "email": "hola@nuevo.example.es", "type": "lead", "confirm": true}),
        ),
        (
            "move_lead_stage",
            json!({"lead_id": 1, "stage": 3, "confirm": true}),
        ),
        (
            "log_note",
            json!({"model": "res.partner", "record_id": 11, "body": "Prefers email", "confirm": true}),
        ),
        (
            "schedule_activity",
            json!({"model": "res.partner", "record_id": 11, "activity": "todo", "summary": "Send catalogue", "deadline": "2026-12-24", "assignee": "Marc Demo", "confirm": true}),
        ),
    ];
    assert_eq!(calls.len(), schemas.len(), "every tool is exercised");
    for (tool, arguments) in calls {
        let result = server.call_ok(tool, arguments);
        let validator = jsonschema::validator_for(&schemas[tool]).unwrap();
        let problems: Vec<String> = validator
            .iter_errors(&result)
            .map(|e| e.to_string())
            .collect();
        assert!(problems.is_empty(), "{tool}: {problems:?}\n{result}");
    }
}
