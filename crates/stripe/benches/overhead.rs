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

use mcp_conformance::StdioServer;
use mcp_conformance::overhead::{calls_from_env, print_table, sample, start_standin};
use serde_json::json;
use stripe_client_core::{StripeMethod, StripeRequest};
use stripe_core::customer::{CreateCustomer, RetrieveCustomer};

const KEY: &str = "sk_test_4eC39HqLyjWDarjtT1zdp7dc";

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
    let server = PathBuf::from(env!("CARGO_BIN_EXE_mcp-stripe"));
    let calls = calls_from_env("STRIPE_BENCH_CALLS");
    let (mut standin, addr) = start_standin("stripe-standin");
    let base = format!("http://{addr}");
    let http = reqwest::blocking::Client::new();

    let audit = std::env::temp_dir().join(format!("mcp-stripe-bench-{}.jsonl", std::process::id()));
    let audit_path = audit.display().to_string();
    let mut mcp = StdioServer::spawn_inline(
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

    let mut rows = Vec::new();
    let read = RetrieveCustomer::new(customer.clone());
    let direct_read = sample(calls, |_| direct(&http, &base, &read, None));
    let mcp_read = sample(calls, |_| {
        let answer = mcp
            .call_tool("get_customer", json!({"id": customer}))
            .unwrap();
        assert_ne!(answer["isError"], true, "{answer}");
    });
    rows.push(("get_customer", direct_read, mcp_read));

    let direct_write = sample(calls, |i| {
        let create = CreateCustomer::new().email(format!("direct{i}@example.com"));
        direct(&http, &base, &create, Some(&format!("bench-direct-{i}")));
    });
    let mcp_write = sample(calls, |i| {
        let answer = mcp
            .call_tool(
                "create_customer",
                json!({"email": format!("mcp{i}@example.com"), "confirm": true}),
            )
            .unwrap();
        assert_ne!(answer["isError"], true, "{answer}");
    });
    rows.push(("create_customer", direct_write, mcp_write));

    print_table("mcp-stripe", "a direct async-stripe call", calls, rows);
    let _ = standin.kill();
    let _ = std::fs::remove_file(&audit);
}
