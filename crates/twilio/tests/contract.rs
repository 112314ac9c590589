//! Contract tests: mcp-twilio against Prism serving Twilio's official OpenAPI specs (the 2010
//! REST API, Lookup v2, Verify v2, as npm `@twilio-alpha/mcp` ships them). Prism checks every
//! request the server sends against the spec (path and its SID patterns, HTTP basic auth,
//! required form fields and their types) and answers with the spec's own examples, which the
//! server must then read. A request that breaks the contract comes back as HTTP 422 and so as
//! a failed tool call.
//!
//! `just test` installs Prism and the specs into `.tools/prism` and sets `MCP_NODE22`,
//! `MCP_PRISM` and `MCP_TWILIO_SPECS`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail loudly.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mcp_conformance::{StdioServer, tool_paths};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_mcp-twilio");
const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";

/// A Prism mock server, killed when dropped.
struct Prism {
    child: Child,
    url: String,
}

impl Drop for Prism {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts Prism on `spec` (not waiting for it: the three start in parallel).
fn start_prism(node: &str, prism: &str, spec: &Path) -> Prism {
    let port = free_port();
    let child = Command::new(node)
        .args([prism, "mock", "-h", "127.0.0.1", "-p", &port.to_string()])
        .arg(spec)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Prism {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

/// Waits until Prism accepts connections (it reads a 2 MB spec first).
fn wait_ready(prism: &mut Prism) {
    let address = prism.url.trim_start_matches("http://").to_owned();
    let deadline = Instant::now() + Duration::from_secs(180);
    while TcpStream::connect(&address).is_err() {
        if let Ok(Some(status)) = prism.child.try_wait() {
            panic!("Prism exited before listening: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "Prism did not listen within 180 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn every_tool_speaks_twilios_published_contract() {
    let Some(tools) = tool_paths(&["MCP_NODE22", "MCP_PRISM", "MCP_TWILIO_SPECS"]) else {
        return;
    };
    let (node, prism, specs) = (&tools[0], &tools[1], Path::new(&tools[2]));
    let mut api = start_prism(node, prism, &specs.join("twilio_api_v2010.json"));
    let mut lookups = start_prism(node, prism, &specs.join("twilio_lookups_v2.json"));
    let mut verify = start_prism(node, prism, &specs.join("twilio_verify_v2.json"));
    for prism in [&mut api, &mut lookups, &mut verify] {
        wait_ready(prism);
    }

    // The validator is live: a message without its recipient breaks the spec and gets 422.
    let http = reqwest::blocking::Client::new();
    let refused = http
        .post(format!(
            "{}/2010-04-01/Accounts/{ACCOUNT}/Messages.json",
            api.url
        ))
        .basic_auth(ACCOUNT, Some("token"))
        .form(&[("Body", "hello")])
        .send()
        .unwrap();
    assert_eq!(refused.status().as_u16(), 422);

    let env = [
        ("TWILIO_ACCOUNT_SID", ACCOUNT),
        ("TWILIO_AUTH_TOKEN", "0123456789abcdef0123456789abcdef"),
        ("TWILIO_FROM_NUMBER", "+15017122661"),
        (
            "TWILIO_VERIFY_SERVICE_SID",
            "VA0123456789abcdef0123456789abcdef",
        ),
        ("TWILIO_API_URL", api.url.as_str()),
        ("TWILIO_LOOKUPS_URL", lookups.url.as_str()),
        ("TWILIO_VERIFY_URL", verify.url.as_str()),
        ("TWILIO_TIMEOUT_SECS", "20"),
    ];
    let mut server = StdioServer::spawn(Path::new(BIN), &[], &env).unwrap();
    server.initialize().unwrap();
    let message = "SM0123456789abcdef0123456789abcdef";
    let call = "CA0123456789abcdef0123456789abcdef";
    // (tool, arguments, a field of the structured result the spec's example must fill).
    // Not here: `media_urls`, sent as repeated MediaUrl fields as Twilio documents, because
    // Prism 5 reads no form field as an array and refuses any MediaUrl (the stand-in covers it).
    let cases = [
        (
            "list_messages",
            json!({"to": "+15558675310", "sent_after": "2026-01-01", "sent_before": "2026-02-01T00:00:00Z", "page_size": 5}),
            "/objects/0/sid",
        ),
        (
            "get_message",
            json!({"message_sid": message}),
            "/object/status",
        ),
        (
            "send_sms",
            json!({"to": "+15558675310", "body": "Your order has shipped", "status_callback": "https://example.com/status", "confirm": true}),
            "/sid",
        ),
        (
            "send_sms",
            json!({"to": "+15558675311", "body": "Reminder", "messaging_service_sid": "MG0123456789abcdef0123456789abcdef", "send_at": "2030-01-01T09:00:00Z", "confirm": true}),
            "/sid",
        ),
        (
            "send_whatsapp",
            json!({"to": "+34612345678", "content_sid": "HX0123456789abcdef0123456789abcdef", "content_variables": [{"key": "1", "value": "Ana"}], "confirm": true}),
            "/sid",
        ),
        (
            "send_whatsapp",
            json!({"to": "+34612345679", "body": "Hola", "confirm": true}),
            "/sid",
        ),
        (
            "cancel_message",
            json!({"message_sid": message, "confirm": true}),
            "/object/sid",
        ),
        (
            "list_calls",
            json!({"status": "completed", "started_after": "2026-01-01", "page_size": 5}),
            "/objects/0/sid",
        ),
        ("get_call", json!({"call_sid": call}), "/object/status"),
        (
            "make_call",
            json!({"to": "+15558675310", "say": "Your table is ready", "voice": "alice", "timeout_secs": 30, "confirm": true}),
            "/sid",
        ),
        (
            "make_call",
            json!({"to": "+15558675312", "url": "https://example.com/twiml", "status_callback": "https://example.com/done", "confirm": true}),
            "/sid",
        ),
        (
            "end_call",
            json!({"call_sid": call, "confirm": true}),
            "/object/sid",
        ),
        (
            "list_phone_numbers",
            json!({"page_size": 5}),
            "/objects/0/phone_number",
        ),
        (
            "lookup_phone_number",
            json!({"phone_number": "+14159929960", "caller_name": true}),
            "/object/phone_number",
        ),
        (
            "start_verification",
            json!({"to": "+15558675310", "channel": "sms", "locale": "en", "confirm": true}),
            "/object/status",
        ),
        (
            "check_verification",
            json!({"to": "+15558675310", "code": "123456", "confirm": true}),
            "/object/status",
        ),
    ];
    for (tool, arguments, filled) in cases {
        let result = server.call_ok(tool, arguments.clone());
        assert!(
            result.pointer(filled).is_some_and(|v| !v.is_null()),
            "{tool} {arguments}: {filled} is missing in {result}"
        );
    }
}
