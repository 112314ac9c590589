//! The fault table: every server with a remote backend, driven over stdio against its stand-in
//! while the stand-in suffers each fault of the kit's plan (timeouts before and after acting,
//! resets, 429 with `Retry-After`, 5xx, a 4xx refusal, slow, truncated and malformed bodies, a
//! backend that fails until the breaker opens and then comes back), once for a read and once for a
//! write. Each cell records what the tool answered, how many requests the backend saw, how many
//! writes it applied and how long the call took; the invariants are asserted on every cell, and
//! the table is written to `${CARGO_TARGET_DIR:-target}/fault-table.md` (`just fault-table`
//! prints it; README's "Behaviour under faults" holds a copy).
//!
//! mcp-empresa (embedded SQLite) and mcp-rag (embedded store by default; its Qdrant client speaks
//! gRPC, which the kit's HTTP fault plan does not reach) have no HTTP backend to fault.
//!
//! The policy is shortened through the servers' own settings so the whole table takes well under
//! a minute: `<PREFIX>_TIMEOUT_SECS=1`, `<PREFIX>_RETRIES=1` (the first backoff is the policy's
//! fixed 1 s ± 25 %), `<PREFIX>_BREAKER_THRESHOLD=3`, `<PREFIX>_BREAKER_COOLDOWN_SECS=1` and
//! `MCP_TOOL_TIMEOUT_SECS=4`; each server's read and write columns run on their own server and
//! stand-in, all eight in parallel threads.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail loudly.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use mcp_conformance::servers::{ServerEntry, load_servers, pairs, test_environment};
use mcp_conformance::{StdioServer, binary_path, result_text};
use serde_json::{Value, json};

/// Per-attempt timeout, in seconds, set through `<PREFIX>_TIMEOUT_SECS`.
const ATTEMPT_TIMEOUT: f64 = 1.0;
/// Retries after the first attempt (`<PREFIX>_RETRIES`).
const RETRIES: u64 = 1;
/// Consecutive failures that open the breaker (`<PREFIX>_BREAKER_THRESHOLD`).
const THRESHOLD: u64 = 3;
/// The breaker's cool-down (`<PREFIX>_BREAKER_COOLDOWN_SECS`): longer than the first backoff
/// (1 s ± 25 %), so that the retry of the call that opened the breaker finds it still open rather
/// than being let through as the probe.
const COOLDOWN: Duration = Duration::from_secs(2);
/// The tool call's deadline (`MCP_TOOL_TIMEOUT_SECS`, and mcp-openai's `OPENAI_CHAT_TIMEOUT_SECS`).
const DEADLINE: Duration = Duration::from_secs(4);
/// What a call may take beyond its deadline: the harness's pipe and the server's own bookkeeping.
const MARGIN: Duration = Duration::from_millis(1500);
/// The `Retry-After` the 429 row asks for, in seconds.
const RETRY_AFTER: u64 = 1;

/// What a row does to the stand-in.
#[derive(Clone, Copy)]
struct Fault {
    /// The row's name in the table.
    name: &'static str,
    /// The kit's fault plan (`path` is added per operation).
    plan: fn() -> Value,
    /// Whether the stand-in handles the request (its effects happen) before failing it.
    acts: bool,
    /// Whether every attempt fails (else only the first does).
    persistent: bool,
    /// A refusal the policy must not retry.
    refusal: bool,
    /// A slow answer that still fits the per-attempt timeout.
    harmless: bool,
}

const fn fault(name: &'static str, plan: fn() -> Value, acts: bool) -> Fault {
    Fault {
        name,
        plan,
        acts,
        persistent: false,
        refusal: false,
        harmless: false,
    }
}

fn faults() -> Vec<Fault> {
    vec![
        fault(
            "timeout before acting (`hang`)",
            || json!({"mode": "hang"}),
            false,
        ),
        fault(
            "timeout after acting (`hang_after`)",
            || json!({"mode": "hang_after"}),
            true,
        ),
        fault(
            "connection reset before acting (`close`)",
            || json!({"mode": "close"}),
            false,
        ),
        fault(
            "connection reset after acting (`drop_after`)",
            || json!({"mode": "drop_after"}),
            true,
        ),
        fault(
            "429 with `Retry-After: 1`",
            || json!({"mode": "status", "status": 429, "retry_after": RETRY_AFTER}),
            false,
        ),
        fault("500", || json!({"mode": "status", "status": 500}), false),
        fault("502", || json!({"mode": "status", "status": 502}), false),
        fault("503", || json!({"mode": "status", "status": 503}), false),
        Fault {
            refusal: true,
            ..fault(
                "400 (a refusal)",
                || json!({"mode": "status", "status": 400}),
                false,
            )
        },
        Fault {
            harmless: true,
            ..fault(
                "slow body, within the timeout (`drip` 4 × 150 ms)",
                || json!({"mode": "drip", "delay_ms": 150}),
                true,
            )
        },
        fault(
            "slow body, past the timeout (`drip` 4 × 400 ms)",
            || json!({"mode": "drip", "delay_ms": 400}),
            true,
        ),
        fault(
            "truncated body (`truncated`)",
            || json!({"mode": "truncated"}),
            true,
        ),
        fault(
            "malformed body (`malformed`)",
            || json!({"mode": "malformed"}),
            true,
        ),
        Fault {
            persistent: true,
            ..fault(
                "every attempt times out after acting",
                || json!({"mode": "hang_after", "count": null}),
                true,
            )
        },
    ]
}

/// How a server's write may be repeated, which decides what its column must show.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Writes {
    /// Never re-sent once it may have reached the backend (mcp-odoo, mcp-twilio).
    Unsafe,
    /// Re-sent under one idempotency key, which the backend replays (mcp-stripe).
    Keyed,
    /// Not a write at the provider: retried like a read, each attempt billed (mcp-openai's chat).
    Retried,
}

/// One server's profile: its read and write, where they go, and how to count what the backend did.
struct Profile {
    server: &'static str,
    prefix: &'static str,
    writes: Writes,
    read_tool: &'static str,
    read_args: fn() -> Value,
    /// The path prefix the read's request goes to (the fault plan's `path`).
    read_path: String,
    write_tool: &'static str,
    /// The write's arguments; the marker makes each write distinct (no duplicate refusals, and
    /// its effect can be found at the backend).
    write_args: fn(&str) -> Value,
    write_path: String,
    /// Whether the write streams its answer, the timeout bounding each wait for the next piece
    /// rather than the whole body (mcp-openai's chat), so a body that drips within it is fine.
    streams: bool,
    /// Settings beyond the policy's.
    extra_env: Vec<(&'static str, &'static str)>,
}

const TWILIO_SID: &str = "ACa1b2c3d4e5f60718293a4b5c6d7e8f90";

fn profiles() -> Vec<Profile> {
    let messages = format!("/2010-04-01/Accounts/{TWILIO_SID}/Messages.json");
    vec![
        Profile {
            server: "odoo",
            prefix: "ODOO",
            writes: Writes::Unsafe,
            read_tool: "search_records",
            read_args: || json!({"model": "res.partner", "limit": 2}),
            read_path: "/json/2/res.partner/search_read".into(),
            write_tool: "create_record",
            write_args: |marker| json!({"model": "res.partner", "values": [{"field": "name", "value": marker}], "confirm": true}),
            write_path: "/json/2/res.partner/create".into(),
            streams: false,
            extra_env: vec![],
        },
        Profile {
            server: "stripe",
            prefix: "STRIPE",
            writes: Writes::Keyed,
            read_tool: "list_customers",
            read_args: || json!({"limit": 2}),
            read_path: "/v1/customers".into(),
            write_tool: "create_customer",
            write_args: |marker| json!({"name": marker, "email": format!("{marker}@example.com"), "confirm": true}),
            write_path: "/v1/customers".into(),
            streams: false,
            extra_env: vec![],
        },
        Profile {
            server: "twilio",
            prefix: "TWILIO",
            writes: Writes::Unsafe,
            read_tool: "list_messages",
            read_args: || json!({"page_size": 2}),
            read_path: messages.clone(),
            write_tool: "send_sms",
            write_args: |marker| json!({"to": "+15558675310", "body": marker, "confirm": true}),
            write_path: messages,
            // Every row texts the same number; the per-destination limit is not under test.
            streams: false,
            extra_env: vec![("TWILIO_DESTINATION_LIMIT", "1000")],
        },
        Profile {
            server: "openai",
            prefix: "OPENAI",
            writes: Writes::Retried,
            read_tool: "embed",
            read_args: || json!({"texts": ["fault table"]}),
            read_path: "/v1/embeddings".into(),
            write_tool: "chat",
            write_args: |marker| json!({"prompt": marker, "max_tokens": 20}),
            write_path: "/v1/chat/completions".into(),
            streams: true,
            extra_env: vec![("OPENAI_CHAT_TIMEOUT_SECS", "4")],
        },
    ]
}

/// One cell of the table.
#[derive(Debug, Clone)]
struct Cell {
    /// `ok`, `ok, replayed`, `unknown outcome`, or `error: <first sentence>`.
    answer: String,
    ok: bool,
    /// The result or error text as the tool gave it.
    text: String,
    /// Requests the backend received for the operation.
    attempts: u64,
    /// Writes the backend applied (for reads: none).
    applied: u64,
    elapsed: Duration,
}

/// A server with its stand-in, one per column.
struct Rig {
    server: StdioServer,
    standin: String,
    http: reqwest::blocking::Client,
    name: &'static str,
    _dir: tempfile::TempDir,
}

impl Rig {
    fn start(entry: &ServerEntry, profile: &Profile) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let mut env = test_environment(entry, dir.path());
        let standin = env
            .standin
            .as_ref()
            .map(|standin| standin.url.clone())
            .unwrap_or_else(|| panic!("{}: tests/standins.json names no stand-in", entry.name));
        let prefix = profile.prefix;
        let policy = [
            (
                format!("{prefix}_TIMEOUT_SECS"),
                ATTEMPT_TIMEOUT.to_string(),
            ),
            (format!("{prefix}_RETRIES"), RETRIES.to_string()),
            (format!("{prefix}_BREAKER_THRESHOLD"), THRESHOLD.to_string()),
            (
                format!("{prefix}_BREAKER_COOLDOWN_SECS"),
                COOLDOWN.as_secs().to_string(),
            ),
            (
                "MCP_TOOL_TIMEOUT_SECS".to_string(),
                DEADLINE.as_secs().to_string(),
            ),
        ];
        let extra = profile
            .extra_env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()));
        for (key, value) in policy.into_iter().chain(extra) {
            env.retain(|(k, _)| *k != key);
            env.push((key, value));
        }
        let mut server = StdioServer::spawn(
            &binary_path(&entry.command),
            &entry.args.iter().map(String::as_str).collect::<Vec<_>>(),
            &pairs(&env),
        )
        .unwrap_or_else(|e| panic!("{}: {e:#}", entry.name));
        if let Err(e) = server.initialize() {
            panic!("{}: {e:#}\nstderr:\n{}", entry.name, server.stderr());
        }
        Rig {
            server: server.keep_alive(env),
            standin,
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
            name: profile.server,
            _dir: dir,
        }
    }

    fn control(&self, route: &str, body: Value) {
        let answer = self
            .http
            .post(format!("{}/__standin/{route}", self.standin))
            .json(&body)
            .send()
            .unwrap_or_else(|e| panic!("{}: {route} {body}: {e}", self.name));
        assert!(
            answer.status().is_success(),
            "{}: {route} {body}: {}",
            self.name,
            answer.text().unwrap_or_default()
        );
    }

    fn get(&self, route: &str) -> Value {
        self.http
            .get(format!("{}{route}", self.standin))
            .send()
            .and_then(|answer| answer.json())
            .unwrap_or_else(|e| panic!("{}: GET {route}: {e}", self.name))
    }

    /// Requests the stand-in received for `METHOD path` since its last reset.
    fn attempts(&self, method: &str, path: &str) -> u64 {
        let calls = self.get("/__standin/calls");
        if self.name == "odoo" {
            // The Odoo stand-in counts by protocol, model and method.
            let (model, function) = path
                .trim_start_matches("/json/2/")
                .split_once('/')
                .unwrap_or_default();
            return calls["calls"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|row| {
                    row["protocol"] == "json2" && row["model"] == model && row["method"] == function
                })
                .filter_map(|row| row["count"].as_u64())
                .sum();
        }
        calls["calls"][format!("{method} {path}")]
            .as_u64()
            .unwrap_or(0)
    }

    /// What the backend holds of the writes marked `marker`: records, messages, or for mcp-openai
    /// the chat completions it generated (each one billed); for mcp-stripe all customers, so the
    /// caller takes the difference from before the call.
    fn applied(&self, marker: &str) -> u64 {
        match self.name {
            "odoo" => {
                let answer: Value = self
                    .http
                    .post(format!("{}/json/2/res.partner/search_count", self.standin))
                    .header("Authorization", "bearer test-api-key")
                    .header("X-Odoo-Database", "test")
                    .json(&json!({"domain": [["name", "=", marker]]}))
                    .send()
                    .and_then(|answer| answer.json())
                    .unwrap();
                answer.as_u64().unwrap()
            }
            // All customers: the caller subtracts the count before the call.
            "stripe" => self.get("/__standin/count/customers")["count"]
                .as_u64()
                .unwrap(),
            "twilio" => {
                let sent = self.get("/__standin/sent");
                sent["sent"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|message| message["body"] == marker)
                    .count() as u64
            }
            "openai" => {
                let requests = self.get("/__standin/requests");
                requests["requests"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|request| {
                        request["path"] == "/v1/chat/completions"
                            && request["status"] == 200
                            && request["body"]["messages"].to_string().contains(marker)
                    })
                    .count() as u64
            }
            other => unreachable!("no profile for {other}"),
        }
    }

    fn call(&mut self, tool: &str, arguments: Value) -> (bool, String, Duration) {
        let started = Instant::now();
        let result = self
            .server
            .call_tool(tool, arguments.clone())
            .unwrap_or_else(|e| panic!("{}: {tool} {arguments}: {e:#}", self.name));
        let elapsed = started.elapsed();
        let ok = result["isError"] != true;
        let text = if ok {
            result["structuredContent"].to_string()
        } else {
            result_text(&result)
        };
        (ok, text, elapsed)
    }
}

/// The first sentence of an error, with the stand-in's port left out so the table is stable: up to
/// the hint (" — "), and whether it says the write may have taken effect.
fn first_sentence(text: &str, standin: &str) -> String {
    let text = text.replace(standin, "<backend>");
    let head = text.split(" — ").next().unwrap_or(&text);
    let head = head
        .split(". ")
        .next()
        .unwrap_or(head)
        .trim_end_matches('.');
    let mut head: String = head.chars().take(140).collect();
    if says_maybe_applied(&text) && !says_maybe_applied(&head) {
        head.push_str(" … (says it may have taken effect)");
    }
    head.replace('|', "\\|")
}

/// Whether an error says the request may have been carried out.
fn says_maybe_applied(text: &str) -> bool {
    text.contains("may have reached")
        || text.contains("may have been")
        || text.contains("may or may not")
        || text.contains("probably carried out")
}

fn describe(ok: bool, text: &str, standin: &str) -> String {
    if !ok {
        return format!("error: {}", first_sentence(text, standin));
    }
    let value: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    if value["outcome"] == "unknown" {
        "ok, `outcome: unknown`".into()
    } else if value["replayed"] == true {
        "ok, `replayed: true`".into()
    } else {
        "ok".into()
    }
}

fn unknown_outcome(cell: &Cell) -> bool {
    let value: Value = serde_json::from_str(&cell.text).unwrap_or(Value::Null);
    (cell.ok && value["outcome"] == "unknown") || (!cell.ok && says_maybe_applied(&cell.text))
}

/// Runs one fault against one operation: reset, fault, call, count, clear, and a read that must
/// succeed again (the server recovered).
fn run_cell(rig: &mut Rig, profile: &Profile, fault: &Fault, write: bool, row: usize) -> Cell {
    rig.control("reset", json!({}));
    let (tool, method, path) = if write {
        (profile.write_tool, "POST", profile.write_path.as_str())
    } else {
        let method = if profile.server == "openai" {
            "POST"
        } else {
            "GET"
        };
        (profile.read_tool, method, profile.read_path.as_str())
    };
    let marker = format!("fault-table-{row}-{}", profile.server);
    let arguments = if write {
        (profile.write_args)(&marker)
    } else {
        (profile.read_args)()
    };
    let before = if write { rig.applied(&marker) } else { 0 };
    let mut plan = (fault.plan)();
    plan["path"] = json!(path);
    rig.control("fault", plan);
    let (ok, text, elapsed) = rig.call(tool, arguments);
    let attempts = rig.attempts(method, path);
    // Cleared first: a persistent fault would also hit the stand-in's own API, which counts.
    rig.control("fault", json!({"mode": "none"}));
    let applied = if write {
        rig.applied(&marker) - before
    } else {
        0
    };
    let cell = Cell {
        answer: describe(ok, &text, &rig.standin),
        ok,
        text,
        attempts,
        applied,
        elapsed,
    };
    let (recovered, again, _) = rig.call(profile.read_tool, (profile.read_args)());
    assert!(
        recovered,
        "{}: after `{}` the read fails: {again}",
        profile.server, fault.name
    );
    cell
}

/// The breaker rows of a column: a backend failing with 503 until the breaker opens, a call
/// while it is open, and one after the cool-down once the backend is back.
fn run_breaker(rig: &mut Rig, profile: &Profile, write: bool) -> Vec<(String, Cell)> {
    rig.control("reset", json!({}));
    let (tool, method, path) = if write {
        (profile.write_tool, "POST", profile.write_path.as_str())
    } else {
        let method = if profile.server == "openai" {
            "POST"
        } else {
            "GET"
        };
        (profile.read_tool, method, profile.read_path.as_str())
    };
    let arguments = |n: usize| {
        if write {
            (profile.write_args)(&format!("breaker-{n}-{}", profile.server))
        } else {
            (profile.read_args)()
        }
    };
    rig.control(
        "fault",
        json!({"mode": "status", "status": 503, "count": null, "path": path}),
    );
    let mut rows = Vec::new();
    let mut failing_calls = 0;
    let mut seen = 0;
    let started = Instant::now();
    let mut last = (false, String::new());
    // Calls until one fails without reaching the backend.
    loop {
        failing_calls += 1;
        assert!(
            failing_calls <= THRESHOLD as usize + 1,
            "{}: the breaker never opened after {seen} failed requests",
            profile.server
        );
        let (ok, text, elapsed) = rig.call(tool, arguments(failing_calls));
        let now = rig.attempts(method, path);
        if now == seen {
            rows.push((
                format!("503 until the breaker opens ({THRESHOLD} failures)"),
                Cell {
                    answer: describe(last.0, &last.1, &rig.standin),
                    ok: last.0,
                    text: last.1.clone(),
                    attempts: seen,
                    applied: 0,
                    elapsed: started.elapsed() - elapsed,
                },
            ));
            rows.push((
                "… the next call, breaker open".into(),
                Cell {
                    answer: describe(ok, &text, &rig.standin),
                    ok,
                    text,
                    attempts: 0,
                    applied: 0,
                    elapsed,
                },
            ));
            break;
        }
        seen = now;
        last = (ok, text);
    }
    // The backend comes back; after the cool-down one call is let through and closes the breaker.
    rig.control("fault", json!({"mode": "none"}));
    std::thread::sleep(COOLDOWN + Duration::from_millis(100));
    let before = rig.attempts(method, path);
    let marker = format!("breaker-100-{}", profile.server);
    let applied_before = if write { rig.applied(&marker) } else { 0 };
    let (ok, text, elapsed) = rig.call(tool, arguments(100));
    let attempts = rig.attempts(method, path) - before;
    let applied = if write {
        rig.applied(&marker) - applied_before
    } else {
        0
    };
    rows.push((
        format!(
            "… backend back, after the cool-down ({} s)",
            COOLDOWN.as_secs()
        ),
        Cell {
            answer: describe(ok, &text, &rig.standin),
            ok,
            text,
            attempts,
            applied,
            elapsed,
        },
    ));
    rows
}

/// A column's rows: each row's name and its cell.
type Column = Vec<(String, Cell)>;

/// One column (a server's reads or writes): every fault, then the breaker.
fn run_column(entry: &ServerEntry, profile: &Profile, write: bool) -> Column {
    let mut rig = Rig::start(entry, profile);
    let mut cells = Vec::new();
    for (row, fault) in faults().iter().enumerate() {
        cells.push((
            fault.name.to_string(),
            run_cell(&mut rig, profile, fault, write, row),
        ));
    }
    cells.extend(run_breaker(&mut rig, profile, write));
    cells
}

/// The invariants of one cell; each broken one is a line of the returned list.
fn check(profile: &Profile, fault: Option<&Fault>, write: bool, cell: &Cell) -> Vec<String> {
    let mut broken = Vec::new();
    let mut expect = |holds: bool, what: &str| {
        if !holds {
            broken.push(format!(
                "{} {} `{}`: {what} (answer: {}, attempts {}, applied {}, {:.1} s)",
                profile.server,
                if write { "write" } else { "read" },
                fault.map_or("breaker", |f| f.name),
                cell.text,
                cell.attempts,
                cell.applied,
                cell.elapsed.as_secs_f64()
            ));
        }
    };
    expect(
        cell.elapsed <= DEADLINE + MARGIN,
        "answered within the tool call's deadline",
    );
    let Some(fault) = fault else {
        return broken;
    };
    let treated_as_read = !write || profile.writes == Writes::Retried;
    if treated_as_read {
        if fault.refusal {
            expect(!cell.ok && cell.attempts == 1, "a refusal is not retried");
        } else if fault.harmless
            || (write && profile.streams && fault.name.starts_with("slow body"))
        {
            expect(
                cell.ok && cell.attempts == 1,
                "a slow answer within the timeout is ok",
            );
        } else if fault.name.starts_with("malformed") && cell.attempts == 1 {
            // mcp-stripe and mcp-twilio read the body after the policy has let the answer
            // through, so a garbled one is not retried; it must at least be named as such.
            expect(
                !cell.ok && cell.text.contains("cannot read"),
                "a garbled answer that is not retried is named as unreadable",
            );
        } else if fault.persistent {
            expect(!cell.ok, "fails when every attempt fails");
            expect(
                cell.attempts == 1 + RETRIES,
                "retried as configured, then failed",
            );
        } else {
            expect(cell.ok, "recovers by retrying");
            expect(cell.attempts == 2, "one retry");
        }
        if fault.name.starts_with("429") && cell.attempts > 1 {
            expect(
                cell.elapsed >= Duration::from_secs(RETRY_AFTER),
                "waited for Retry-After",
            );
        }
        if write {
            // Chat changes nothing at the provider, but each generation served is billed.
            expect(
                cell.applied <= cell.attempts,
                "billed at most once per attempt",
            );
        }
        return broken;
    }
    expect(cell.applied <= 1, "no write applied twice");
    if cell.ok && !unknown_outcome(cell) {
        expect(cell.applied == 1, "a write reported done was applied");
    }
    if cell.applied == 1 && !cell.ok {
        expect(
            unknown_outcome(cell),
            "a write that took effect but failed says it may have taken effect",
        );
    }
    if cell.applied == 1 && cell.ok && profile.writes == Writes::Unsafe {
        expect(
            fault.harmless || unknown_outcome(cell) || fault.name.starts_with("429"),
            "an answer lost after the write is reported as unknown",
        );
    }
    match profile.writes {
        Writes::Unsafe => {
            if fault.acts {
                expect(
                    cell.attempts == 1,
                    "a write that may have acted is never re-sent",
                );
            }
            if fault.refusal {
                expect(!cell.ok && cell.applied == 0, "a refusal applies nothing");
            }
        }
        Writes::Keyed => {
            if fault.refusal {
                expect(!cell.ok && cell.attempts == 1, "a refusal is not retried");
            } else if fault.name.starts_with("malformed") && cell.attempts == 1 {
                // Read after the policy let the answer through, so not re-sent; said instead.
                expect(
                    !cell.ok && unknown_outcome(cell),
                    "a garbled success answer says the write probably took effect",
                );
            } else if fault.persistent {
                expect(
                    cell.attempts == 1 + RETRIES,
                    "re-sent under its key as configured",
                );
            } else if !fault.harmless {
                expect(
                    cell.ok && cell.applied == 1,
                    "retried under its key and applied once",
                );
                expect(cell.attempts == 2, "one retry");
            }
        }
        Writes::Retried => unreachable!("handled with reads"),
    }
    broken
}

/// The breaker rows' invariants: the breaker opened after exactly the threshold of failed
/// requests, the call while open reached nothing and said so, and the backend was used again
/// after the cool-down.
fn check_breaker(profile: &Profile, write: bool, rows: &[(String, Cell)]) -> Vec<String> {
    let mut broken = Vec::new();
    let column = if write { "write" } else { "read" };
    let [(_, opening), (_, open), (_, back)] = rows else {
        return vec![format!("{} {column}: breaker rows missing", profile.server)];
    };
    if opening.attempts != THRESHOLD {
        broken.push(format!(
            "{} {column}: the breaker opened after {} failed requests, not {THRESHOLD}",
            profile.server, opening.attempts
        ));
    }
    if open.ok || !open.text.contains("was not attempted") {
        broken.push(format!(
            "{} {column}: the call while the breaker is open should fail at once saying so: {}",
            profile.server, open.text
        ));
    }
    if open.elapsed > Duration::from_millis(500) {
        broken.push(format!(
            "{} {column}: the open breaker took {:?}",
            profile.server, open.elapsed
        ));
    }
    if !back.ok || back.attempts != 1 {
        broken.push(format!(
            "{} {column}: after the cool-down the backend should be used again: {} ({} requests)",
            profile.server, back.text, back.attempts
        ));
    }
    broken
}

fn secs(duration: Duration) -> String {
    format!("{:.1} s", duration.as_secs_f64())
}

#[test]
fn every_fault_through_every_stand_in() {
    let started = Instant::now();
    let entries = load_servers().unwrap();
    let profiles = profiles();
    let columns: Vec<(usize, bool, Column)> = std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for (index, profile) in profiles.iter().enumerate() {
            let entry = entries
                .iter()
                .find(|entry| entry.name == profile.server)
                .unwrap_or_else(|| panic!("servers.json has no {}", profile.server));
            for write in [false, true] {
                handles
                    .push(scope.spawn(move || (index, write, run_column(entry, profile, write))));
            }
        }
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });

    let faults = faults();
    let mut broken = Vec::new();
    let mut table = String::new();
    writeln!(
        table,
        "Per attempt {ATTEMPT_TIMEOUT} s, {RETRIES} retry (first backoff 1 s ± 25 %), breaker after {THRESHOLD} failures for {} s, tool call deadline {} s. \"tries\" is what the backend received; \"applied\" is what it holds afterwards.",
        COOLDOWN.as_secs(),
        DEADLINE.as_secs()
    )
    .unwrap();
    for (index, profile) in profiles.iter().enumerate() {
        let column = |write: bool| {
            &columns
                .iter()
                .find(|(i, w, _)| *i == index && *w == write)
                .unwrap()
                .2
        };
        let (reads, writes) = (column(false), column(true));
        let write_note = match profile.writes {
            Writes::Unsafe => "never re-sent once it may have reached the backend",
            Writes::Keyed => "re-sent under one idempotency key",
            Writes::Retried => {
                "changes nothing at the provider, so retried like a read; each generation served is billed"
            }
        };
        writeln!(
            table,
            "\n### mcp-{}: read `{}`, write `{}` ({write_note})\n",
            profile.server, profile.read_tool, profile.write_tool
        )
        .unwrap();
        let applied_name = if profile.writes == Writes::Retried {
            "billed"
        } else {
            "applied"
        };
        writeln!(
            table,
            "| fault | read: answer | tries | time | write: answer | tries | {applied_name} | time |\n|---|---|---|---|---|---|---|---|"
        )
        .unwrap();
        for (row, ((name, read), (_, write))) in reads.iter().zip(writes).enumerate() {
            let fault = faults.get(row);
            broken.extend(check(profile, fault, false, read));
            broken.extend(check(profile, fault, true, write));
            writeln!(
                table,
                "| {name} | {} | {} | {} | {} | {} | {} | {} |",
                read.answer,
                read.attempts,
                secs(read.elapsed),
                write.answer,
                write.attempts,
                write.applied,
                secs(write.elapsed)
            )
            .unwrap();
        }
        broken.extend(check_breaker(profile, false, &reads[faults.len()..]));
        broken.extend(check_breaker(profile, true, &writes[faults.len()..]));
    }
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| {
        mcp_conformance::servers::workspace_root()
            .join("target")
            .to_string_lossy()
            .into_owned()
    });
    let path = std::path::Path::new(&target).join("fault-table.md");
    std::fs::write(&path, &table).unwrap();
    println!("{table}");
    println!(
        "written to {} in {:.1} s",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        broken.is_empty(),
        "broken invariants:\n{}",
        broken.join("\n")
    );
}
