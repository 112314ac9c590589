//! `odoo-bench`: the cost `mcp-odoo` adds to an Odoo call. It starts the Odoo stand-in, then times
//! the same search three ways, one call at a time, in rounds of one call per way after a warm-up:
//!
//! 1. `search_read` sent directly over XML-RPC (encoded with the `xmlrpc` crate and the answer
//!    read with mcp-odoo's own reader, so that the two paths parse alike and the difference is
//!    the MCP layer; over a keep-alive HTTP connection read in place, with no runtime or helper
//!    thread), as a Python or Rust client would;
//! 2. `search_read` plus `search_count` sent directly: the Odoo work `search_records` does (it
//!    reports the total for pagination);
//! 3. `tools/call search_records` through `mcp-odoo` over stdio (`ODOO_PROTOCOL=xmlrpc`, audit log
//!    on), with the same model, domain, fields and limit.
//!
//! The overhead is (3) minus (2). Run it with `just bench`, or
//! `cargo run --release -p mcp-conformance --bin odoo-bench -- --calls 2000`.

#![allow(clippy::print_stdout)] // The figures are this program's output.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use mcp_conformance::{ANSWER_TIMEOUT, StdioServer, http1, start_listening};
use serde_json::json;
use xmlrpc::{Request, Value};

struct Options {
    standin: PathBuf,
    server: PathBuf,
    calls: usize,
}

const USAGE: &str = "usage: odoo-bench [--standin PATH] [--server PATH] [--calls N]
  --standin PATH  the Odoo stand-in (default $CARGO_TARGET_DIR/release/odoo-standin)
  --server PATH   the mcp-odoo binary to time (default $CARGO_TARGET_DIR/release/mcp-odoo)
  --calls N       timed calls per path, after 100 warm-up rounds (default 2000)";

/// The options, or `None` when help was asked for.
fn options() -> Result<Option<Options>> {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let mut options = Options {
        standin: PathBuf::from(format!("{target}/release/odoo-standin")),
        server: PathBuf::from(format!("{target}/release/mcp-odoo")),
        calls: 2000,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Ok(None);
        }
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--standin" => options.standin = value.into(),
            "--server" => options.server = value.into(),
            "--calls" => options.calls = value.parse().context("--calls takes a number")?,
            other => bail!("unknown option {other}\n{USAGE}"),
        }
    }
    Ok(Some(options))
}

/// p50, p99 and max of `samples`, in microseconds.
fn percentiles(samples: &mut [Duration]) -> (f64, f64, f64) {
    samples.sort();
    let at =
        |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1e6;
    (at(0.5), at(0.99), at(1.0))
}

/// A direct XML-RPC client: one keep-alive connection to one endpoint. (`reqwest::blocking`
/// hands every request to a runtime thread and back, which cost this bench up to ~90 µs per
/// call and made mcp-odoo look faster than the direct path.)
struct Direct {
    connection: RefCell<http1::Connection>,
    uid: i32,
}

impl Direct {
    fn open(base: &str, path: &str, uid: i32) -> Result<Direct> {
        Ok(Direct {
            connection: RefCell::new(http1::Connection::open(base, path, ANSWER_TIMEOUT)?),
            uid,
        })
    }

    fn call(&self, request: &Request<'_>) -> Result<serde_json::Value> {
        let mut body = Vec::new();
        request.write_as_xml(&mut body)?;
        let answer = self.connection.borrow_mut().post_as("text/xml", &body)?;
        if answer.status != 200 {
            bail!("XML-RPC call answered HTTP {}", answer.status);
        }
        let bytes = answer.body.into_bytes();
        mcp_odoo::client::decode_xmlrpc_answer(bytes, "res.partner", "execute_kw")
            .map_err(|e| anyhow::anyhow!("XML-RPC call failed: {e}"))
    }

    fn execute(
        &self,
        method: &str,
        args: Vec<Value>,
        kwargs: BTreeMap<String, Value>,
    ) -> Result<serde_json::Value> {
        let request = Request::new("execute_kw")
            .arg("test")
            .arg(self.uid)
            .arg("admin")
            .arg("res.partner")
            .arg(method)
            .arg(Value::Array(args))
            .arg(Value::Struct(kwargs));
        self.call(&request)
    }
}

fn domain() -> Value {
    Value::Array(vec![Value::Array(vec![
        "name".into(),
        "ilike".into(),
        "a".into(),
    ])])
}

/// Times the paths in turn, one call of each per round after 100 warm-up rounds, so that all of
/// them meet the same conditions (a neighbour's load comes and goes; timing one path after the
/// other let it land on one of them). Answers each path's samples.
fn time_rounds(
    calls: usize,
    paths: &mut [&mut dyn FnMut() -> Result<()>],
) -> Result<Vec<Vec<Duration>>> {
    for _ in 0..100 {
        for path in paths.iter_mut() {
            path()?;
        }
    }
    let mut samples = vec![Vec::with_capacity(calls); paths.len()];
    for _ in 0..calls {
        for (path, times) in paths.iter_mut().zip(&mut samples) {
            let started = Instant::now();
            path()?;
            times.push(started.elapsed());
        }
    }
    Ok(samples)
}

fn main() -> Result<()> {
    let Some(options) = options()? else {
        println!("{USAGE}");
        return Ok(());
    };
    let (mut standin, addr, _) =
        start_listening(&options.standin, &[], &[]).context("starting the Odoo stand-in")?;
    let base = format!("http://{addr}");
    let login = Direct::open(&base, "/xmlrpc/2/common", 0)?;
    let uid = login
        .call(
            &Request::new("authenticate")
                .arg("test")
                .arg("admin")
                .arg("admin")
                .arg(Value::Struct(BTreeMap::new())),
        )?
        .as_i64()
        .and_then(|uid| i32::try_from(uid).ok())
        .context("authenticate returned no uid")?;
    let direct = Direct::open(&base, "/xmlrpc/2/object", uid)?;
    let kwargs = || {
        BTreeMap::from([
            (
                "fields".to_owned(),
                Value::Array(vec!["name".into(), "email".into()]),
            ),
            ("limit".to_owned(), Value::Int(20)),
        ])
    };

    let dir = tempfile::tempdir()?;
    let audit = dir
        .path()
        .join("audit.jsonl")
        .to_string_lossy()
        .into_owned();
    let env = [
        ("ODOO_URL", base.as_str()),
        ("ODOO_DB", "test"),
        ("ODOO_USER", "admin"),
        ("ODOO_PASSWORD", "admin"),
        ("ODOO_PROTOCOL", "xmlrpc"),
        ("MCP_AUDIT_LOG", audit.as_str()),
        ("MCP_LOG_LEVEL", "warn"),
    ];
    let mut server = StdioServer::spawn_inline(&options.server, &[], &env)?;
    server.initialize()?;
    let arguments = json!({"model": "res.partner", "domain": [["name", "ilike", "a"]], "fields": ["name", "email"], "limit": 20});
    let mut direct_read = || {
        direct
            .execute("search_read", vec![domain()], kwargs())
            .map(drop)
    };
    let mut direct_pair = || {
        direct.execute("search_read", vec![domain()], kwargs())?;
        direct
            .execute("search_count", vec![domain()], BTreeMap::new())
            .map(drop)
    };
    let mut through_mcp = || {
        let result = server.call_tool("search_records", arguments.clone())?;
        if result["isError"] == true {
            bail!("search_records failed: {result}");
        }
        Ok(())
    };
    let mut samples = time_rounds(
        options.calls,
        &mut [&mut direct_read, &mut direct_pair, &mut through_mcp],
    )?
    .into_iter();
    let (Some(mut read_only), Some(mut read_and_count), Some(mut through)) =
        (samples.next(), samples.next(), samples.next())
    else {
        bail!("three paths were timed");
    };
    let _ = standin.kill();
    let _ = standin.wait();

    let (direct_p50, direct_p99, _) = percentiles(&mut read_only);
    let (pair_p50, pair_p99, _) = percentiles(&mut read_and_count);
    let (mcp_p50, mcp_p99, mcp_max) = percentiles(&mut through);
    println!(
        "## Benchmark: mcp-odoo overhead over direct XML-RPC ({} calls each, in rounds of one per path, after 100 warm-up rounds)",
        options.calls
    );
    println!();
    println!("| path | p50 | p99 |");
    println!("|---|---:|---:|");
    println!("| direct XML-RPC `search_read` | {direct_p50:.0} µs | {direct_p99:.0} µs |");
    println!(
        "| direct XML-RPC `search_read` + `search_count` | {pair_p50:.0} µs | {pair_p99:.0} µs |"
    );
    println!(
        "| `tools/call search_records` through mcp-odoo (stdio) | {mcp_p50:.0} µs | {mcp_p99:.0} µs |"
    );
    println!();
    println!("bench: odoo_direct_search_read_p50 = {direct_p50:.0} µs");
    println!("bench: odoo_direct_search_read_p99 = {direct_p99:.0} µs");
    println!("bench: odoo_direct_search_read_count_p50 = {pair_p50:.0} µs");
    println!("bench: odoo_direct_search_read_count_p99 = {pair_p99:.0} µs");
    println!("bench: odoo_mcp_search_records_p50 = {mcp_p50:.0} µs");
    println!("bench: odoo_mcp_search_records_p99 = {mcp_p99:.0} µs");
    println!("bench: odoo_mcp_search_records_max = {mcp_max:.0} µs");
    println!("bench: odoo_overhead_p50 = {:.0} µs", mcp_p50 - pair_p50);
    println!("bench: odoo_overhead_p99 = {:.0} µs", mcp_p99 - pair_p99);
    Ok(())
}
