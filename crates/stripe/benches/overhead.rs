//! `cargo bench -p mcp-stripe --bench overhead`: the cost `mcp-stripe` adds to a Stripe call.
//!
//! It starts the Stripe stand-in, then times two calls, one at a time after a warm-up, two ways:
//!
//! 1. direct: async-stripe's own request (`RetrieveCustomer`, `CreateCustomer` with an
//!    `Idempotency-Key`) built with its builder, sent with a keep-alive reqwest client and decoded
//!    with its model, which is the work async-stripe's client does;
//! 2. `tools/call get_customer` / `create_customer` through `mcp-stripe` over stdio (audit log on, to a file,
//!    consent given with `confirm: true`), which adds JSON-RPC, argument validation, consent, the
//!    derived idempotency key, shaping and the audit line.
//!
//! The overhead is (2) minus (1), at p50 and p99. `just bench` runs it.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // A benchmark's output and set-up.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use mcp_conformance::{StdioServer, start_listening};
use serde_json::json;
use stripe_client_core::{StripeMethod, StripeRequest};
use stripe_core::customer::{CreateCustomer, RetrieveCustomer};

const KEY: &str = "sk_test_4eC39HqLyjWDarjtT1zdp7dc";

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

/// Sends one async-stripe request the way its client does, and decodes the answer with its model.
fn direct<R>(http: &reqwest::blocking::Client, base: &str, request: &R, key: Option<&str>)
where
    R: StripeRequest,
    R::Output: miniserde::Deserialize,
{
    let built = request.build();
    let url = format!("{base}/v1{}", built.path);
    let mut sent = match built.method {
        StripeMethod::Get => http.get(url),
        StripeMethod::Post => http.post(url),
        StripeMethod::Delete => http.delete(url),
    }
    .bearer_auth(KEY)
    .header("Stripe-Version", stripe_shared::version::VERSION.as_str());
    if let Some(key) = key {
        sent = sent.header("Idempotency-Key", key);
    }
    if let Some(body) = built.body {
        sent = sent
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
    }
    let text = sent.send().unwrap().text().unwrap();
    let _: R::Output = miniserde::json::from_str(&text).expect("async-stripe decodes the answer");
}

fn main() {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let standin = PathBuf::from(format!("{target}/{profile}/stripe-standin"));
    let server = PathBuf::from(env!("CARGO_BIN_EXE_mcp-stripe"));
    let calls: usize = std::env::var("STRIPE_BENCH_CALLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000);
    let (mut standin, addr, _) = start_listening(&standin, &[], &[])
        .expect("the stand-in starts (build it first: cargo build --release -p stripe-standin)");
    let base = format!("http://{addr}");
    let http = reqwest::blocking::Client::new();

    let audit = std::env::temp_dir().join(format!("mcp-stripe-bench-{}.jsonl", std::process::id()));
    let audit_path = audit.display().to_string();
    let mut mcp = StdioServer::spawn(
        &server,
        &[],
        &[
            ("STRIPE_API_URL", base.as_str()),
            ("STRIPE_API_KEY", KEY),
            ("MCP_AUDIT_LOG", audit_path.as_str()),
        ],
    )
    .unwrap();
    mcp.initialize().unwrap();
    let found = mcp
        .call_tool(
            "search_customers",
            json!({"query": "email:'acme-billing@example.com'"}),
        )
        .unwrap();
    let customer = found["structuredContent"]["objects"][0]["id"]
        .as_str()
        .expect("the seeded customer")
        .to_owned();

    println!(
        "mcp-stripe overhead over a direct async-stripe call ({calls} calls each, one at a time, µs)"
    );
    println!(
        "| call | direct p50 | direct p99 | mcp-stripe p50 | mcp-stripe p99 | overhead p50 | overhead p99 |"
    );
    println!("|---|---|---|---|---|---|---|");

    let mut rows = Vec::new();
    let read = RetrieveCustomer::new(customer.clone());
    let mut direct_read = time(calls, |_| direct(&http, &base, &read, None));
    let mut mcp_read = time(calls, |_| {
        let answer = mcp
            .call_tool("get_customer", json!({"id": customer}))
            .unwrap();
        assert_ne!(answer["isError"], true, "{answer}");
    });
    rows.push(("get_customer", &mut direct_read, &mut mcp_read));

    let mut direct_write = time(calls, |i| {
        let create = CreateCustomer::new().email(format!("direct{i}@example.com"));
        direct(&http, &base, &create, Some(&format!("bench-direct-{i}")));
    });
    let mut mcp_write = time(calls, |i| {
        let answer = mcp
            .call_tool(
                "create_customer",
                json!({"email": format!("mcp{i}@example.com"), "confirm": true}),
            )
            .unwrap();
        assert_ne!(answer["isError"], true, "{answer}");
    });
    rows.push(("create_customer", &mut direct_write, &mut mcp_write));

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
