//! `cargo bench -p mcp-twilio --bench overhead`: the cost `mcp-twilio` adds to a Twilio call.
//!
//! It starts the Twilio stand-in, then times two calls, one at a time after a warm-up, two ways:
//!
//! 1. direct: the request Twilio's REST API takes (`GET …/Messages/SM….json`, `POST
//!    …/Messages.json` with a form body and HTTP basic auth) sent with a keep-alive reqwest
//!    client and its JSON answer parsed;
//! 2. `tools/call get_message` / `send_sms` through `mcp-twilio` over stdio (audit log on, to a
//!    file, consent given with `confirm: true`), which adds JSON-RPC, argument validation, the
//!    E.164 and segment checks, consent, the duplicate ledger, shaping and the audit line.
//!
//! The overhead is (2) minus (1), at p50 and p99. `just bench` runs it.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // A benchmark's output and set-up.

use std::path::PathBuf;

use mcp_conformance::StdioServer;
use mcp_conformance::overhead::{calls_from_env, print_table, sample, start_standin};
use serde_json::{Value, json};
use twilio_standin::{ACCOUNT_SID, FROM_NUMBER};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

fn main() {
    let server = PathBuf::from(env!("CARGO_BIN_EXE_mcp-twilio"));
    let calls = calls_from_env("TWILIO_BENCH_CALLS");
    let (mut standin, addr) = start_standin("twilio-standin");
    let base = format!("http://{addr}");
    let messages = format!("{base}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json");
    let http = reqwest::blocking::Client::new();

    let audit = std::env::temp_dir().join(format!("mcp-twilio-bench-{}.jsonl", std::process::id()));
    let audit_path = audit.display().to_string();
    let mut mcp = StdioServer::spawn_inline(
        &server,
        &[],
        &[
            ("TWILIO_ACCOUNT_SID", ACCOUNT_SID),
            ("TWILIO_AUTH_TOKEN", TOKEN),
            ("TWILIO_FROM_NUMBER", FROM_NUMBER),
            ("TWILIO_API_URL", base.as_str()),
            ("TWILIO_DESTINATION_LIMIT", "1000000"),
            ("MCP_AUDIT_LOG", audit_path.as_str()),
        ],
    )
    .unwrap();
    mcp.initialize().unwrap();
    let sent = mcp
        .call_tool(
            "send_sms",
            json!({"to": "+15558675310", "body": "bench", "confirm": true}),
        )
        .unwrap();
    let sid = sent["structuredContent"]["sid"]
        .as_str()
        .expect("the stand-in accepts the message")
        .to_owned();

    let mut rows = Vec::new();
    let message_url = format!("{base}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json");
    let direct_read = sample(calls, |_| {
        let answer: Value = http
            .get(&message_url)
            .basic_auth(ACCOUNT_SID, Some(TOKEN))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert!(answer["sid"].is_string(), "{answer}");
    });
    let mcp_read = sample(calls, |_| {
        let answer = mcp
            .call_tool("get_message", json!({"message_sid": sid}))
            .unwrap();
        assert_ne!(answer["isError"], true, "{answer}");
    });
    rows.push(("get_message", direct_read, mcp_read));

    let direct_write = sample(calls, |i| {
        let answer: Value = http
            .post(&messages)
            .basic_auth(ACCOUNT_SID, Some(TOKEN))
            .form(&[
                ("To", "+15558675311"),
                ("From", FROM_NUMBER),
                ("Body", &format!("direct {i}")),
            ])
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert!(answer["sid"].is_string(), "{answer}");
    });
    let mcp_write = sample(calls, |i| {
        let answer = mcp
            .call_tool(
                "send_sms",
                json!({"to": "+15558675312", "body": format!("mcp {i}"), "confirm": true}),
            )
            .unwrap();
        assert_eq!(answer["structuredContent"]["outcome"], "sent", "{answer}");
    });
    rows.push(("send_sms", direct_write, mcp_write));

    print_table("mcp-twilio", "a direct REST call", calls, rows);
    let _ = standin.kill();
    let _ = std::fs::remove_file(&audit);
}
