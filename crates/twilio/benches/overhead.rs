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
use std::time::{Duration, Instant};

use mcp_conformance::{StdioServer, start_listening};
use serde_json::{Value, json};
use twilio_standin::{ACCOUNT_SID, FROM_NUMBER};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

fn percentiles(samples: &mut [Duration]) -> (f64, f64) {
    samples.sort();
    let at =
        |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1e6;
    (at(0.5), at(0.99))
}

fn time(calls: usize, mut call: impl FnMut(usize)) -> Vec<Duration> {
    for i in 0..100 {
        call(1_000_000 + i);
    }
    (0..calls)
        .map(|i| {
            let started = Instant::now();
            call(i);
            started.elapsed()
        })
        .collect()
}

fn main() {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let standin = PathBuf::from(format!("{target}/{profile}/twilio-standin"));
    let server = PathBuf::from(env!("CARGO_BIN_EXE_mcp-twilio"));
    let calls: usize = std::env::var("TWILIO_BENCH_CALLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000);
    let (mut standin, addr, _) = start_listening(&standin, &[], &[])
        .expect("the stand-in starts (build it first: cargo build --release -p twilio-standin)");
    let base = format!("http://{addr}");
    let messages = format!("{base}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json");
    let http = reqwest::blocking::Client::new();

    let audit = std::env::temp_dir().join(format!("mcp-twilio-bench-{}.jsonl", std::process::id()));
    let audit_path = audit.display().to_string();
    let mut mcp = StdioServer::spawn(
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

    println!("mcp-twilio overhead over a direct REST call ({calls} calls each, one at a time, µs)");
    println!(
        "| call | direct p50 | direct p99 | mcp-twilio p50 | mcp-twilio p99 | overhead p50 | overhead p99 |"
    );
    println!("|---|---|---|---|---|---|---|");

    let mut rows = Vec::new();
    let message_url = format!("{base}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json");
    let mut direct_read = time(calls, |_| {
        let answer: Value = http
            .get(&message_url)
            .basic_auth(ACCOUNT_SID, Some(TOKEN))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert!(answer["sid"].is_string(), "{answer}");
    });
    let mut mcp_read = time(calls, |_| {
        let answer = mcp
            .call_tool("get_message", json!({"message_sid": sid}))
            .unwrap();
        assert_ne!(answer["isError"], true, "{answer}");
    });
    rows.push(("get_message", &mut direct_read, &mut mcp_read));

    let mut direct_write = time(calls, |i| {
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
    let mut mcp_write = time(calls, |i| {
        let answer = mcp
            .call_tool(
                "send_sms",
                json!({"to": "+15558675312", "body": format!("mcp {i}"), "confirm": true}),
            )
            .unwrap();
        assert_eq!(answer["structuredContent"]["outcome"], "sent", "{answer}");
    });
    rows.push(("send_sms", &mut direct_write, &mut mcp_write));

    for (name, direct, through) in rows {
        let (d50, d99) = percentiles(direct);
        let (m50, m99) = percentiles(through);
        println!(
            "| `{name}` | {d50:.0} | {d99:.0} | {m50:.0} | {m99:.0} | {:.0} | {:.0} |",
            m50 - d50,
            m99 - d99
        );
    }
    let _ = standin.kill();
    let _ = std::fs::remove_file(&audit);
}
