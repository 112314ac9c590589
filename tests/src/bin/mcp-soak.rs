//! `mcp-soak`: many concurrent HTTP sessions against each server for a while, to find what only
//! shows over time: memory that grows, file descriptors or threads that pile up, sessions that do
//! not expire, errors that appear only under sustained load. It is the program behind `just soak`.
//!
//! For each server (all of `servers.json` by default) it starts the server's test stand-in (from
//! `tests/standins.json`) and the server over streamable HTTP on a loopback port, with the audit
//! log written to a file and a short `MCP_SESSION_IDLE_SECS`, then runs `--sessions` client
//! threads, each with its own keep-alive connection and MCP session, for `--minutes` or until each
//! has made `--calls` calls, whichever comes first. Every session calls the server's read tools in
//! turn and, one call in `--write-every`, its write (with `confirm: true` where the tool asks for
//! consent; the workload of each server is in [`workload`]). One session in `--idle-every` goes
//! quiet after every `--idle-after` calls for longer than the idle limit; its next call must get
//! the 404 the specification prescribes for an expired session, and a new `initialize` must then
//! succeed.
//!
//! While it runs, the server's resident memory, threads and open file descriptors are read from
//! `/proc/<pid>` every `--sample-secs`. At the end it prints, per server: calls, errors by kind,
//! p50/p99 latency of reads and writes, calls/s, memory at start, after warm-up, peak and end,
//! threads and descriptors, sessions expired and re-initialized, the writes the backend received
//! against the writes the server confirmed, and audit records against calls answered.
//!
//! It exits non-zero when any call failed in a way that should not happen (a protocol error, a
//! tool error, an HTTP status other than the expected 404, a transport error, a missed expiry), a
//! count disagrees, the server logged a panic, or memory or descriptors grew after warm-up beyond
//! the tolerance (see [`Tolerance`]).
//!
//! Run it with `just soak`, or
//! `target/release/mcp-soak --sessions 64 --minutes 2 --servers empresa,odoo`.

// The report on stdout is the program's product.
#![allow(clippy::print_stdout)]

use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use mcp_conformance::servers::{ServerEntry, load_servers, pairs, test_environment};
use mcp_conformance::{ANSWER_TIMEOUT, HttpServer, PROTOCOL_VERSION, binary_path, result_text};
use serde_json::{Value, json};

const USAGE: &str = "\
mcp-soak: concurrent HTTP sessions against each MCP server for a while, with memory, threads
and descriptors sampled, session expiry exercised and every count checked

Options:
  --servers LIST       comma-separated names from servers.json [default: all]
  --sessions N         concurrent sessions per server [default: 64]
  --minutes M          minutes per server (decimals allowed) [default: 10]
  --calls N            most calls per session [default: 100000]
  --write-every N      one call in N is the server's write [default: 10]
  --idle-secs S        MCP_SESSION_IDLE_SECS for the server [default: 5]
  --idle-every N       one session in N lets its session expire now and then [default: 8]
  --idle-after N       calls such a session makes between expiries [default: 100]
  --sample-secs S      seconds between samples of /proc/<pid> [default: 5]
  --warmup-secs S      seconds before the memory baseline [default: a quarter of the run, 5 to 60]
  --window-secs S      the servers' windowed memories (Stripe idempotency keys, Twilio duplicate
                       and destination ledgers) [default: 20]
  --help               this text

Servers and stand-ins are taken from the directory of this program (MCP_BIN_DIR to choose
another); build them first (cargo build --release --workspace --bins).";

/// A session stops early after this many failed calls, so a broken server ends the run quickly.
const MAX_ERRORS_PER_SESSION: u64 = 200;
/// How much of a failing answer is kept.
const QUOTE_CHARS: usize = 300;

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            eprintln!("mcp-soak: error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<bool> {
    let Some(options) = parse_options(std::env::args().skip(1))? else {
        println!("{USAGE}");
        return Ok(true);
    };
    let all = load_servers()?;
    let chosen: Vec<ServerEntry> = match &options.servers {
        None => all,
        Some(names) => names
            .iter()
            .map(|name| {
                all.iter()
                    .find(|s| &s.name == name)
                    .cloned()
                    .with_context(|| format!("{name} is not in servers.json"))
            })
            .collect::<Result<_>>()?,
    };
    print_header(&options);
    let mut clean = true;
    for server in &chosen {
        let report =
            soak_server(server, &options).with_context(|| format!("soaking {}", server.name))?;
        print_report(&report, &options);
        let problems = report.problems(&options);
        if !problems.is_empty() {
            clean = false;
            println!("**{}: FAILED**", report.server);
            for problem in &problems {
                println!("- {problem}");
                eprintln!("mcp-soak: {}: FAILURE: {problem}", report.server);
            }
            println!();
        }
    }
    println!(
        "soak: {}",
        if clean {
            "passed"
        } else {
            "FAILED (see above)"
        }
    );
    Ok(clean)
}

// ---------------------------------------------------------------------------------------------
// Options

/// The command line.
#[derive(Debug, Clone)]
struct Options {
    servers: Option<Vec<String>>,
    sessions: usize,
    duration: Duration,
    calls: u64,
    write_every: u64,
    idle: Duration,
    idle_every: usize,
    idle_after: u64,
    sample: Duration,
    warmup: Option<Duration>,
    window: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            servers: None,
            sessions: 64,
            duration: Duration::from_secs(600),
            calls: 100_000,
            write_every: 10,
            idle: Duration::from_secs(5),
            idle_every: 8,
            idle_after: 100,
            sample: Duration::from_secs(5),
            warmup: None,
            window: Duration::from_secs(20),
        }
    }
}

impl Options {
    /// The memory baseline is taken this long after the load starts: long enough for the
    /// allocator, the thread pools, the connection pools and the servers' windowed memories to
    /// reach their working size.
    fn warmup(&self) -> Duration {
        self.warmup.unwrap_or_else(|| {
            (self.duration / 4).clamp(Duration::from_secs(5), Duration::from_secs(60))
        })
    }

    /// How long an idling session stays quiet: past the idle limit with a margin, since the
    /// server's timer and its clean-up run late on a busy machine.
    fn idle_pause(&self) -> Duration {
        self.idle + (self.idle / 2).max(Duration::from_secs(2))
    }
}

/// Parses the arguments (without the program name); `None` means `--help` was asked for.
fn parse_options(args: impl IntoIterator<Item = String>) -> Result<Option<Options>> {
    let mut options = Options::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--help" || arg == "-h" {
            return Ok(None);
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .with_context(|| format!("{flag} needs a value\n\n{USAGE}"))
        };
        match flag.as_str() {
            "--servers" => {
                let names: Vec<String> = value()?
                    .split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect();
                if names.is_empty() {
                    bail!("--servers needs at least one name");
                }
                options.servers = Some(names);
            }
            "--sessions" => options.sessions = count(&flag, &value()?, 1024)? as usize,
            "--minutes" => options.duration = seconds(&flag, &value()?, 60.0, 120.0)?,
            "--calls" => options.calls = count(&flag, &value()?, 100_000_000)?,
            "--write-every" => options.write_every = count(&flag, &value()?, 1_000_000)?,
            "--idle-secs" => options.idle = seconds(&flag, &value()?, 1.0, 3600.0)?,
            "--idle-every" => options.idle_every = count(&flag, &value()?, 1024)? as usize,
            "--idle-after" => options.idle_after = count(&flag, &value()?, 100_000_000)?,
            "--sample-secs" => options.sample = seconds(&flag, &value()?, 1.0, 600.0)?,
            "--warmup-secs" => options.warmup = Some(seconds(&flag, &value()?, 1.0, 7200.0)?),
            "--window-secs" => options.window = seconds(&flag, &value()?, 1.0, 86_400.0)?,
            _ => bail!("unknown argument {arg:?}\n\n{USAGE}"),
        }
    }
    // The idle limit is whole seconds for the server; a fraction would be read differently.
    options.idle = Duration::from_secs(options.idle.as_secs().max(1));
    Ok(Some(options))
}

fn count(flag: &str, text: &str, max: u64) -> Result<u64> {
    match text.parse::<u64>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => bail!("{flag} needs a whole number from 1 to {max}, got {text:?}"),
    }
}

/// A duration given in `unit`-second units (60 for minutes), at most `max` units.
fn seconds(flag: &str, text: &str, unit: f64, max: f64) -> Result<Duration> {
    match text.parse::<f64>() {
        Ok(n) if n.is_finite() && n > 0.0 && n <= max => Ok(Duration::from_secs_f64(n * unit)),
        _ => bail!("{flag} needs a number above 0 and at most {max}, got {text:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Workloads

/// What the sessions call on one server, and how the backend's count of writes is read.
struct Workload {
    /// Read-only calls, made in turn.
    reads: Vec<(&'static str, Value)>,
    /// The write: its tool, and its arguments for the `n`th write of run `tag` (every write is
    /// different, so no idempotency key, duplicate guard or unique name turns it away).
    write: (&'static str, fn(&str, u64) -> Value),
    /// Where the number of writes the backend received is read.
    counter: Counter,
    /// Settings the workload needs beyond the test environment's.
    env: Vec<(&'static str, String)>,
}

/// How to count what the backend holds or received, read before and after the load.
enum Counter {
    /// `GET <stand-in><path>`, the number at a JSON pointer of the answer.
    Standin(&'static str, &'static str),
    /// The odoo stand-in's request counts: `create` calls on the model, over both protocols.
    OdooCreates(&'static str),
    /// A read tool of the server itself (for servers whose backend is their own store), the
    /// number at a JSON pointer of its `structuredContent`.
    Tool(&'static str, Value, &'static str),
}

impl Counter {
    fn describe(&self) -> String {
        match self {
            Counter::Standin(path, _) => format!("stand-in `GET {path}`"),
            Counter::OdooCreates(model) => {
                format!("stand-in `GET /__standin/calls`, `create` on `{model}`")
            }
            Counter::Tool(tool, args, pointer) => {
                format!("the server's own `{tool}({args})` at `{pointer}`")
            }
        }
    }
}

/// The workload for each server of `servers.json`.
fn workload(server: &str, options: &Options) -> Result<Workload> {
    let window = options.window.as_secs().max(1).to_string();
    Ok(match server {
        "empresa" => Workload {
            reads: vec![
                ("consultar_empresa", json!({"nombre": "Empresa X"})),
                (
                    "buscar_documentos",
                    json!({"nombre_documento": "informe", "limit": 5}),
                ),
                ("list_companies", json!({"limit": 5})),
            ],
            write: (
                "create_company",
                |tag, n| json!({"name": format!("Soak {tag} company {n}"), "employees": n % 500, "city": "Madrid", "confirm": true}),
            ),
            counter: Counter::Tool("list_companies", json!({"limit": 1}), "/total"),
            env: vec![],
        },
        "odoo" => Workload {
            reads: vec![
                ("obtener_cliente", json!({"nombre": "acme"})),
                (
                    "search_records",
                    json!({"model": "res.partner", "domain": [["name", "ilike", "a"]], "fields": ["name", "email"], "limit": 20}),
                ),
                ("list_leads", json!({"limit": 5})),
            ],
            write: (
                "create_lead",
                |tag, n| json!({"name": format!("Soak {tag} lead {n}"), "email": format!("soak-{tag}-{n}@example.com"), "expected_revenue": n % 10_000, "confirm": true}),
            ),
            counter: Counter::OdooCreates("crm.lead"),
            env: vec![],
        },
        "stripe" => Workload {
            reads: vec![
                (
                    "search_customers",
                    json!({"query": "email:'acme-billing@example.com'"}),
                ),
                ("list_customers", json!({"limit": 5})),
                ("get_balance", json!({})),
            ],
            write: (
                "create_customer",
                |tag, n| json!({"email": format!("soak-{tag}-{n}@example.com"), "name": format!("Soak {n}"), "confirm": true}),
            ),
            counter: Counter::Standin("/__standin/count/customers", "/count"),
            // Idempotency keys are remembered for this window; a short one lets the key store
            // reach its steady size during warm-up, so growth after it would be a leak.
            env: vec![("STRIPE_IDEMPOTENCY_WINDOW_SECS", window)],
        },
        "twilio" => Workload {
            reads: vec![
                ("list_phone_numbers", json!({})),
                ("list_messages", json!({"page_size": 5})),
            ],
            // A new destination and body every time: the server refuses an identical send, and
            // more than TWILIO_DESTINATION_LIMIT sends to one number per window.
            write: (
                "send_sms",
                |tag, n| json!({"to": format!("+346{:08}", n % 100_000_000), "body": format!("Soak {tag} message {n}"), "confirm": true}),
            ),
            counter: Counter::Standin("/__standin/count/messages", "/count"),
            env: vec![
                ("TWILIO_DUPLICATE_WINDOW_SECS", window.clone()),
                ("TWILIO_DESTINATION_WINDOW_SECS", window),
            ],
        },
        "openai" => Workload {
            reads: vec![
                ("list_models", json!({})),
                ("embed", json!({"texts": ["soak"]})),
            ],
            // mcp-openai has no write; `chat` is the call counted at the endpoint.
            write: (
                "chat",
                |tag, n| json!({"prompt": format!("Soak {tag} question {n}")}),
            ),
            counter: Counter::Standin("/__standin/calls", "/calls/POST ~1v1~1chat~1completions"),
            env: vec![],
        },
        "rag" => Workload {
            reads: vec![
                (
                    "recuperar_contexto",
                    json!({"pregunta": "what was decided at the last meeting?"}),
                ),
                ("collection_stats", json!({})),
            ],
            // A local write: it needs no consent.
            write: (
                "memorizar_informacion",
                |tag, n| json!({"texto": format!("Soak {tag} note {n}: the weekly meeting moved to room {n}.")}),
            ),
            counter: Counter::Tool("collection_stats", json!({}), "/collection/chunks"),
            env: vec![],
        },
        other => bail!("mcp-soak has no workload for {other}; add one to `workload`"),
    })
}

// ---------------------------------------------------------------------------------------------
// Measurements

/// One reading of the server process.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    /// Since the load started.
    at: Duration,
    rss_kb: u64,
    hwm_kb: u64,
    threads: u64,
    fds: u64,
}

fn read_sample(pid: u32, at: Duration) -> Result<Sample> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim_start_matches(':').split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .with_context(|| format!("listing /proc/{pid}/fd"))?
        .count() as u64;
    Ok(Sample {
        at,
        rss_kb: field("VmRSS"),
        hwm_kb: field("VmHWM"),
        threads: field("Threads"),
        fds,
    })
}

/// Failed calls of one kind: how many, and the first one.
#[derive(Debug, Default, Clone)]
struct Failures {
    count: u64,
    first: Option<String>,
}

impl Failures {
    fn record(&mut self, why: impl FnOnce() -> String) {
        self.count += 1;
        if self.first.is_none() {
            self.first = Some(why());
        }
    }

    fn merge(&mut self, other: Failures) {
        self.count += other.count;
        if self.first.is_none() {
            self.first = other.first;
        }
    }
}

/// The kinds of failure a call can meet.
#[derive(Debug, Default, Clone)]
struct Errors {
    /// No HTTP answer: refused or dropped connection, timeout.
    transport: Failures,
    /// An HTTP status other than 200 (or the 404 expected after an expiry).
    http: Failures,
    /// A JSON-RPC error, an answer that does not parse or lacks the request's id, or a 404 for a
    /// session that had not been idle.
    protocol: Failures,
    /// A result with `isError: true` for a call that should succeed.
    tool: Failures,
    /// An idle session that still answered after the idle limit.
    expiry_missed: Failures,
    /// `initialize` that failed.
    initialize: Failures,
}

impl Errors {
    fn merge(&mut self, other: Errors) {
        self.transport.merge(other.transport);
        self.http.merge(other.http);
        self.protocol.merge(other.protocol);
        self.tool.merge(other.tool);
        self.expiry_missed.merge(other.expiry_missed);
        self.initialize.merge(other.initialize);
    }

    fn total(&self) -> u64 {
        self.kinds().iter().map(|(_, f)| f.count).sum()
    }

    fn kinds(&self) -> [(&'static str, &Failures); 6] {
        [
            ("protocol", &self.protocol),
            ("tool", &self.tool),
            ("http", &self.http),
            ("transport", &self.transport),
            ("expiry missed", &self.expiry_missed),
            ("initialize", &self.initialize),
        ]
    }
}

/// What one session thread did.
#[derive(Debug, Default)]
struct SessionOutcome {
    /// Latencies of successful reads and writes, in microseconds.
    reads_us: Vec<u32>,
    writes_us: Vec<u32>,
    /// Calls that got a JSON-RPC answer from the server (each is one audit record).
    answered: u64,
    errors: Errors,
    sessions_opened: u64,
    expired: u64,
    reinitialized: u64,
}

/// Everything measured on one server.
struct ServerReport {
    server: String,
    server_info: String,
    elapsed: Duration,
    sessions: usize,
    outcome: SessionOutcome,
    samples: Vec<Sample>,
    /// After the load stopped and the idle limit passed, so every session has expired.
    settled: Sample,
    writes_confirmed: u64,
    backend_writes: u64,
    counter: String,
    write_tool: &'static str,
    audit_records: u64,
    /// Calls the runner made itself (the counts before and after), also audited.
    own_calls: u64,
    stderr_lines: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// Running one server

fn soak_server(entry: &ServerEntry, options: &Options) -> Result<ServerReport> {
    let plan = workload(&entry.name, options)?;
    let dir = tempfile::Builder::new()
        .prefix(&format!("mcp-soak-{}-", entry.name))
        .tempdir()
        .context("creating a temporary directory")?;
    let mut env = test_environment(entry, dir.path());
    let audit = dir.path().join("audit.jsonl");
    let overrides: Vec<(String, String)> = [
        ("MCP_AUDIT_LOG", audit.to_string_lossy().into_owned()),
        ("MCP_SESSION_IDLE_SECS", options.idle.as_secs().to_string()),
        ("MCP_LOG_LEVEL", "warn".to_owned()),
    ]
    .into_iter()
    .chain(plan.env.iter().map(|(k, v)| (*k, v.clone())))
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (key, value) in overrides {
        env.retain(|(k, _)| *k != key);
        env.push((key, value));
    }
    let standin_url = env.standin.as_ref().map(|s| s.url.clone());
    let binary = binary_path(&entry.command);
    if !binary.is_file() {
        bail!(
            "{} does not exist; build it first (cargo build --release --workspace --bins)",
            binary.display()
        );
    }
    let args: Vec<&str> = entry.args.iter().map(String::as_str).collect();
    let server = HttpServer::start(&binary, &args, &pairs(&env))?;
    let (_, info) = server.initialize(&[])?;
    let server_info = format!(
        "{} {}",
        info["serverInfo"]["name"].as_str().unwrap_or("?"),
        info["serverInfo"]["version"].as_str().unwrap_or("?")
    );
    let mut own_calls = 0;
    let before = read_counter(
        &plan.counter,
        &server,
        standin_url.as_deref(),
        &mut own_calls,
    )
    .context("counting the backend's writes before the load")?;
    let tag = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
        .to_string();
    eprintln!(
        "mcp-soak: {}: {} sessions for {:?} (at most {} calls each)",
        entry.name, options.sessions, options.duration, options.calls
    );

    let writes = AtomicU64::new(0);
    let numbering = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let samples = Mutex::new(Vec::new());
    let began = Instant::now();
    let deadline = began + options.duration;
    let pid = server.pid();
    let (outcome, elapsed) = std::thread::scope(|scope| {
        let sampler =
            scope.spawn(|| sample_until_stopped(pid, began, options.sample, &stop, &samples));
        let handles: Vec<_> = (0..options.sessions)
            .map(|index| {
                let ctx = SessionContext {
                    server: &server,
                    plan: &plan,
                    options,
                    tag: &tag,
                    index,
                    deadline,
                    writes: &writes,
                    numbering: &numbering,
                };
                scope.spawn(move || run_session(&ctx))
            })
            .collect();
        let mut outcome = SessionOutcome::default();
        for handle in handles {
            match handle.join() {
                Ok(one) => {
                    outcome.reads_us.extend(one.reads_us);
                    outcome.writes_us.extend(one.writes_us);
                    outcome.answered += one.answered;
                    outcome.errors.merge(one.errors);
                    outcome.sessions_opened += one.sessions_opened;
                    outcome.expired += one.expired;
                    outcome.reinitialized += one.reinitialized;
                }
                Err(_) => outcome
                    .errors
                    .protocol
                    .record(|| "a session thread panicked".to_owned()),
            }
        }
        let elapsed = began.elapsed();
        stop.store(true, Ordering::SeqCst);
        let _ = sampler.join();
        (outcome, elapsed)
    });
    let mut samples = samples.into_inner().unwrap_or_default();
    // The reading as the load stopped.
    samples.push(read_sample(pid, began.elapsed())?);
    // Every session the load left open (polite clients ended theirs) expires within the idle
    // limit; what the server holds after that is what it keeps for good.
    std::thread::sleep(options.idle_pause());
    let settled = read_sample(pid, began.elapsed())?;
    let after = read_counter(
        &plan.counter,
        &server,
        standin_url.as_deref(),
        &mut own_calls,
    )
    .context("counting the backend's writes after the load")?;
    let audit_records = std::fs::read_to_string(&audit)
        .map(|text| text.lines().count() as u64)
        .unwrap_or(0);
    let stderr_lines = server
        .stderr()
        .lines()
        .filter(|line| !line.contains("listening on http://"))
        .map(str::to_owned)
        .collect();
    Ok(ServerReport {
        server: entry.name.clone(),
        server_info,
        elapsed,
        sessions: options.sessions,
        writes_confirmed: writes.load(Ordering::SeqCst),
        backend_writes: after.saturating_sub(before),
        counter: plan.counter.describe(),
        write_tool: plan.write.0,
        outcome,
        samples,
        settled,
        audit_records,
        own_calls,
        stderr_lines,
    })
}

/// Reads `/proc/<pid>` every `every` until `stop`; the first reading is taken at once.
fn sample_until_stopped(
    pid: u32,
    began: Instant,
    every: Duration,
    stop: &AtomicBool,
    samples: &Mutex<Vec<Sample>>,
) {
    let mut next = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        if Instant::now() >= next {
            if let Ok(sample) = read_sample(pid, began.elapsed())
                && let Ok(mut all) = samples.lock()
            {
                all.push(sample);
            }
            next += every;
        }
        // Short naps, so the sampler notices the end of the load promptly.
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The backend's count of writes now.
fn read_counter(
    counter: &Counter,
    server: &HttpServer,
    standin: Option<&str>,
    own_calls: &mut u64,
) -> Result<u64> {
    let get = |path: &str| -> Result<Value> {
        let url = format!(
            "{}{path}",
            standin.context("the workload counts at a stand-in, but the server has none")?
        );
        server
            .client
            .get(&url)
            .send()
            .and_then(|r| r.error_for_status())
            .and_then(|r| r.json::<Value>())
            .with_context(|| format!("GET {url}"))
    };
    match counter {
        // A count the stand-in has not seen yet is absent: zero.
        Counter::Standin(path, pointer) => Ok(get(path)?
            .pointer(pointer)
            .and_then(Value::as_u64)
            .unwrap_or(0)),
        Counter::OdooCreates(model) => {
            let calls = get("/__standin/calls")?;
            Ok(calls["calls"]
                .as_array()
                .map(|rows| {
                    rows.iter()
                        .filter(|row| row["model"] == *model && row["method"] == "create")
                        .filter_map(|row| row["count"].as_u64())
                        .sum()
                })
                .unwrap_or(0))
        }
        Counter::Tool(tool, args, pointer) => {
            let (session, _) = server.initialize(&[])?;
            *own_calls += 1;
            let result = server.call_tool(session.as_deref(), 2, tool, args.clone(), &[])?;
            if result["isError"] == true {
                bail!("{tool} failed: {}", result_text(&result));
            }
            result["structuredContent"]
                .pointer(pointer)
                .and_then(Value::as_u64)
                .with_context(|| format!("{tool} has no number at {pointer}: {result}"))
        }
    }
}

/// What a session thread shares with the others.
struct SessionContext<'a> {
    server: &'a HttpServer,
    plan: &'a Workload,
    options: &'a Options,
    tag: &'a str,
    index: usize,
    deadline: Instant,
    /// Writes the server confirmed, across sessions.
    writes: &'a AtomicU64,
    /// Numbers the writes, so every one is different.
    numbering: &'a AtomicU64,
}

/// One client: its own connection and session, calls until the deadline or its call budget,
/// letting its session expire now and then if it is one of the idlers.
fn run_session(ctx: &SessionContext) -> SessionOutcome {
    let options = ctx.options;
    let mut outcome = SessionOutcome::default();
    let client = match reqwest::blocking::Client::builder()
        .timeout(ANSWER_TIMEOUT)
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            outcome
                .errors
                .transport
                .record(|| format!("building a client: {error}"));
            return outcome;
        }
    };
    let idler = ctx.index.is_multiple_of(options.idle_every);
    let mut session: Option<String> = None;
    let mut expecting_expiry = false;
    let mut id: u64 = 1;
    let mut made: u64 = 0;
    let mut since_idle: u64 = 0;
    // Sessions start at different points of the read rotation, so the mix is even at any time.
    let mut turn = ctx.index as u64;
    while made < options.calls
        && Instant::now() < ctx.deadline
        && outcome.errors.total() < MAX_ERRORS_PER_SESSION
    {
        let Some(current) = session.clone() else {
            match open_session(ctx.server, &client) {
                Ok(new) => {
                    outcome.sessions_opened += 1;
                    if expecting_expiry {
                        outcome.reinitialized += 1;
                        expecting_expiry = false;
                    }
                    session = Some(new);
                }
                Err(why) => {
                    outcome.errors.initialize.record(|| why);
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            continue;
        };
        turn += 1;
        let is_write = turn.is_multiple_of(options.write_every);
        let (tool, arguments) = if is_write {
            let n = ctx.numbering.fetch_add(1, Ordering::Relaxed);
            (ctx.plan.write.0, (ctx.plan.write.1)(ctx.tag, n))
        } else {
            let (tool, args) = &ctx.plan.reads[(turn as usize) % ctx.plan.reads.len()];
            (*tool, args.clone())
        };
        id += 1;
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": arguments}});
        let start = Instant::now();
        let answer = ctx.server.post_with(&client, &body, Some(&current), &[]);
        let took = start.elapsed();
        let answer = match answer {
            Ok(answer) => answer,
            Err(error) => {
                outcome
                    .errors
                    .transport
                    .record(|| format!("{tool}: {error:#}"));
                continue;
            }
        };
        if answer.status == 404 {
            // The specification's answer for a session the server no longer has: expected
            // after an idle pause, a protocol failure otherwise. Either way, start a new one.
            if expecting_expiry {
                outcome.expired += 1;
            } else {
                outcome.errors.protocol.record(|| {
                    format!(
                        "{tool}: 404 for a session that was not idle: {}",
                        quote(&answer.body)
                    )
                });
            }
            session = None;
            continue;
        }
        if expecting_expiry {
            outcome.errors.expiry_missed.record(|| {
                format!(
                    "{tool}: HTTP {} after {:?} idle, with a limit of {:?}",
                    answer.status,
                    options.idle_pause(),
                    options.idle
                )
            });
            expecting_expiry = false;
        }
        made += 1;
        if answer.status != 200 {
            outcome
                .errors
                .http
                .record(|| format!("{tool}: HTTP {}: {}", answer.status, quote(&answer.body)));
            continue;
        }
        let Some(message) = answer.message_with_id(&json!(id)) else {
            outcome
                .errors
                .protocol
                .record(|| format!("{tool}: no answer with id {id}: {}", quote(&answer.body)));
            continue;
        };
        outcome.answered += 1;
        if let Some(error) = message.get("error") {
            outcome
                .errors
                .protocol
                .record(|| format!("{tool}: JSON-RPC error {}", quote(&error.to_string())));
            continue;
        }
        let result = &message["result"];
        if result["isError"] == true || result.is_null() {
            outcome
                .errors
                .tool
                .record(|| format!("{tool} {arguments}: {}", quote(&result_text(result))));
            continue;
        }
        let micros = u32::try_from(took.as_micros()).unwrap_or(u32::MAX);
        if is_write {
            ctx.writes.fetch_add(1, Ordering::SeqCst);
            outcome.writes_us.push(micros);
        } else {
            outcome.reads_us.push(micros);
        }
        since_idle += 1;
        if idler && since_idle >= options.idle_after {
            since_idle = 0;
            // Quiet past the idle limit, keeping the connection: the next call must find the
            // session gone.
            let quiet_until = Instant::now() + options.idle_pause();
            if quiet_until >= ctx.deadline {
                break;
            }
            std::thread::sleep(options.idle_pause());
            expecting_expiry = true;
        }
    }
    if let Some(session) = session {
        // A polite client ends its session; idlers that stopped mid-pause leave theirs to expire.
        let _ = client
            .delete(ctx.server.mcp_url())
            .header("mcp-session-id", session)
            .timeout(Duration::from_secs(5))
            .send();
    }
    outcome
}

/// `initialize` and `notifications/initialized` over `client`; returns the session id.
fn open_session(server: &HttpServer, client: &reqwest::blocking::Client) -> Result<String, String> {
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": PROTOCOL_VERSION, "capabilities": {}, "clientInfo": {"name": "mcp-soak", "version": "1"}}});
    let answer = server
        .post_with(client, &initialize, None, &[])
        .map_err(|e| format!("initialize: {e:#}"))?;
    if answer
        .message_with_id(&json!(1))
        .and_then(|m| m.get("result").cloned())
        .is_none()
    {
        return Err(format!(
            "initialize got {}: {}",
            answer.status,
            quote(&answer.body)
        ));
    }
    let session = answer
        .session
        .ok_or_else(|| "the server sent no mcp-session-id".to_owned())?;
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let ack = server
        .post_with(client, &initialized, Some(&session), &[])
        .map_err(|e| format!("notifications/initialized: {e:#}"))?;
    if ack.status != 202 {
        return Err(format!(
            "notifications/initialized got {} instead of 202: {}",
            ack.status,
            quote(&ack.body)
        ));
    }
    Ok(session)
}

/// The first `QUOTE_CHARS` characters of `text`.
fn quote(text: &str) -> String {
    match text.char_indices().nth(QUOTE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// Judging and reporting

/// How much the server may grow after warm-up before the soak fails.
///
/// Memory: the baseline is the median of the first three samples after warm-up and the end the
/// median of the last three under load (medians, so one sample taken mid-burst does not decide).
/// The end may exceed the baseline by at most `max(8 MiB, 10%)`. Without a leak the resident size
/// still moves: glibc keeps freed memory in per-thread arenas, tokio's blocking threads come and
/// go (each arena it touched stays resident for a while), and connection buffers follow the
/// traffic; in our runs that noise stayed within a few MiB. A leak proportional to the work does
/// not hide under this bound for long: 100 bytes per call exceed 8 MiB after about 84,000 calls,
/// which a two-minute run of 64 sessions makes on every server but the CPU-bound ones.
///
/// Descriptors: after warm-up the count may exceed the most seen during warm-up by at most
/// `16 + sessions / 4`. Under load it holds one descriptor per client connection and per pooled
/// backend connection, both bounded by the sessions and settled during warm-up; a descriptor
/// leaked per call or per session would add hundreds.
#[derive(Debug, Clone, Copy)]
struct Tolerance {
    memory_kb: u64,
    fds: u64,
}

impl Tolerance {
    fn for_run(baseline_kb: u64, sessions: usize) -> Tolerance {
        Tolerance {
            memory_kb: (8 * 1024).max(baseline_kb / 10),
            fds: 16 + sessions as u64 / 4,
        }
    }
}

/// The median of some samples' values (the lower middle for an even count); 0 for none.
fn median(mut values: Vec<u64>) -> u64 {
    values.sort_unstable();
    values
        .get(values.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or(0)
}

/// The `p`th percentile (0–100) of an ascending sample by the nearest-rank method; 0 for none.
fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn mib(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn millis(micros: u32) -> f64 {
    f64::from(micros) / 1000.0
}

impl ServerReport {
    /// The samples taken under load, the last one being the reading as the load stopped.
    fn load_samples(&self) -> &[Sample] {
        &self.samples
    }

    /// The memory baseline and the end: medians of three samples after warm-up and of the last
    /// three. `None` when the run was too short to have samples after warm-up.
    fn memory_points(&self, options: &Options) -> Option<(u64, u64)> {
        let samples = self.load_samples();
        let after: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.at >= options.warmup())
            .collect();
        if after.len() < 2 {
            return None;
        }
        let baseline = median(after.iter().take(3).map(|s| s.rss_kb).collect());
        let end = median(samples.iter().rev().take(3).map(|s| s.rss_kb).collect());
        Some((baseline, end))
    }

    /// The most descriptors seen during warm-up and after it.
    fn fd_points(&self, options: &Options) -> (u64, u64) {
        let (warm, after): (Vec<&Sample>, Vec<&Sample>) = self
            .load_samples()
            .iter()
            .partition(|s| s.at < options.warmup());
        let most = |v: &[&Sample]| v.iter().map(|s| s.fds).max().unwrap_or(0);
        (most(&warm), most(&after))
    }

    fn calls(&self) -> u64 {
        (self.outcome.reads_us.len() + self.outcome.writes_us.len()) as u64
    }

    /// Everything that makes this server's soak fail.
    fn problems(&self, options: &Options) -> Vec<String> {
        let mut problems = Vec::new();
        for (kind, failures) in self.outcome.errors.kinds() {
            if failures.count > 0 {
                problems.push(format!(
                    "{} {kind} error(s); first: {}",
                    failures.count,
                    failures.first.as_deref().unwrap_or("?")
                ));
            }
        }
        if self.calls() == 0 {
            problems.push("no call succeeded".to_owned());
        }
        if self.backend_writes != self.writes_confirmed {
            problems.push(format!(
                "the backend received {} writes ({}), the server confirmed {}",
                self.backend_writes, self.counter, self.writes_confirmed
            ));
        }
        let audited = self.outcome.answered + self.own_calls;
        if self.audit_records != audited {
            problems.push(format!(
                "{} audit records for {audited} calls answered",
                self.audit_records
            ));
        }
        if self.outcome.expired != self.outcome.reinitialized {
            problems.push(format!(
                "{} sessions expired but {} were opened again",
                self.outcome.expired, self.outcome.reinitialized
            ));
        }
        for line in &self.stderr_lines {
            if line.contains("panicked") {
                problems.push(format!("the server logged a panic: {}", quote(line)));
                break;
            }
        }
        match self.memory_points(options) {
            Some((baseline, end)) => {
                let tolerance = Tolerance::for_run(baseline, self.sessions);
                if end > baseline + tolerance.memory_kb {
                    problems.push(format!(
                        "resident memory grew after warm-up from {:.1} MiB to {:.1} MiB, more than the {:.1} MiB allowed",
                        mib(baseline),
                        mib(end),
                        mib(tolerance.memory_kb)
                    ));
                }
                let (warm_fds, after_fds) = self.fd_points(options);
                if after_fds > warm_fds + tolerance.fds {
                    problems.push(format!(
                        "open descriptors grew after warm-up from at most {warm_fds} to {after_fds}, more than the {} allowed",
                        tolerance.fds
                    ));
                }
            }
            None => problems.push(format!(
                "the run was too short for a memory baseline: no two samples after the {:?} warm-up",
                options.warmup()
            )),
        }
        problems
    }
}

fn print_header(options: &Options) {
    println!("## Soak");
    println!();
    println!(
        "- {} concurrent HTTP sessions per server, each its own keep-alive client, for {:.1} min or {} calls per session",
        options.sessions,
        options.duration.as_secs_f64() / 60.0,
        options.calls
    );
    println!(
        "- one call in {} is the server's write, the rest its reads in turn; one session in {} goes quiet for {:.1} s after every {} calls (MCP_SESSION_IDLE_SECS={}), must get 404 and opens a new session",
        options.write_every,
        options.idle_every,
        options.idle_pause().as_secs_f64(),
        options.idle_after,
        options.idle.as_secs()
    );
    println!(
        "- /proc/<pid> sampled every {:.0} s; memory baseline after {:.0} s of warm-up; windowed memories of the servers {} s",
        options.sample.as_secs_f64(),
        options.warmup().as_secs_f64(),
        options.window.as_secs()
    );
    println!(
        "- release build, loopback only, audit log to a file, stand-ins as backends, client and server on this machine ({} CPUs)",
        std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(0)
    );
    println!();
}

fn print_report(report: &ServerReport, options: &Options) {
    let outcome = &report.outcome;
    let mut reads = outcome.reads_us.clone();
    let mut writes = outcome.writes_us.clone();
    reads.sort_unstable();
    writes.sort_unstable();
    let samples = report.load_samples();
    let first = samples.first().copied().unwrap_or_default();
    let last = samples.last().copied().unwrap_or_default();
    let peak_hwm = samples.iter().map(|s| s.hwm_kb).max().unwrap_or(0);
    let memory = report.memory_points(options);
    let (warm_fds, after_fds) = report.fd_points(options);
    println!("### {} ({})", report.server, report.server_info);
    println!();
    println!("| what | figure |");
    println!("|---|---|");
    println!(
        "| calls | {} in {:.0} s, **{:.0} calls/s**; {} reads, {} writes (`{}`) |",
        report.calls(),
        report.elapsed.as_secs_f64(),
        report.calls() as f64 / report.elapsed.as_secs_f64().max(1e-9),
        reads.len(),
        writes.len(),
        report.write_tool
    );
    let errors: Vec<String> = outcome
        .errors
        .kinds()
        .iter()
        .map(|(kind, f)| format!("{kind} {}", f.count))
        .collect();
    println!("| errors | {} |", errors.join(", "));
    println!(
        "| latency, reads | p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms |",
        millis(percentile(&reads, 50.0)),
        millis(percentile(&reads, 99.0)),
        millis(percentile(&reads, 100.0))
    );
    println!(
        "| latency, writes | p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms |",
        millis(percentile(&writes, 50.0)),
        millis(percentile(&writes, 99.0)),
        millis(percentile(&writes, 100.0))
    );
    let (baseline, end) = memory.unwrap_or_default();
    println!(
        "| resident memory | start {:.1} MiB, after warm-up {:.1} MiB, end {:.1} MiB ({:+.1} MiB), peak {:.1} MiB; {:.1} MiB once idle |",
        mib(first.rss_kb),
        mib(baseline),
        mib(end),
        (end as f64 - baseline as f64) / 1024.0,
        mib(peak_hwm.max(report.settled.hwm_kb)),
        mib(report.settled.rss_kb)
    );
    println!(
        "| threads | start {}, end {}, once idle {} |",
        first.threads, last.threads, report.settled.threads
    );
    println!(
        "| open descriptors | start {}, most during warm-up {}, most after {}, end {}, once idle {} |",
        first.fds, warm_fds, after_fds, last.fds, report.settled.fds
    );
    println!(
        "| sessions | {} opened, {} expired after idling and opened again |",
        outcome.sessions_opened, outcome.reinitialized
    );
    println!(
        "| writes | {} confirmed by the server, {} received by the backend ({}) |",
        report.writes_confirmed, report.backend_writes, report.counter
    );
    println!(
        "| audit | {} records for {} calls answered |",
        report.audit_records,
        outcome.answered + report.own_calls
    );
    println!();
    let rss: Vec<String> = samples
        .iter()
        .map(|s| format!("{:.0}s {:.1}", s.at.as_secs_f64(), mib(s.rss_kb)))
        .collect();
    println!("Resident memory samples (MiB): {}.", rss.join(", "));
    println!();
    if !report.stderr_lines.is_empty() {
        println!(
            "The server logged {} line(s) on stderr; the first ones:",
            report.stderr_lines.len()
        );
        println!();
        for line in report.stderr_lines.iter().take(5) {
            println!("    {}", quote(line));
        }
        println!();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let sample: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&sample, 50.0), 50);
        assert_eq!(percentile(&sample, 99.0), 99);
        assert_eq!(percentile(&sample, 100.0), 100);
        assert_eq!(percentile(&[], 50.0), 0);
        assert_eq!(median(vec![5, 1, 3]), 3);
        assert_eq!(median(vec![4, 1, 3, 2]), 2);
    }

    #[test]
    fn options_parse_and_reject() {
        let args = |text: &str| text.split(' ').map(str::to_owned).collect::<Vec<_>>();
        let options = parse_options(args("--sessions 4 --minutes 0.5 --servers empresa,odoo"))
            .unwrap()
            .unwrap();
        assert_eq!(options.sessions, 4);
        assert_eq!(options.duration, Duration::from_secs(30));
        assert_eq!(
            options.servers,
            Some(vec!["empresa".to_owned(), "odoo".to_owned()])
        );
        assert_eq!(
            options.warmup(),
            Duration::from_secs(7) + Duration::from_millis(500)
        );
        assert!(parse_options(args("--help")).unwrap().is_none());
        for bad in [
            "--sessions 0",
            "--minutes 500",
            "--minutes",
            "--servers ,",
            "--bogus 1",
        ] {
            assert!(parse_options(args(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_server_has_a_workload() {
        for server in load_servers().unwrap() {
            let plan = workload(&server.name, &Options::default()).unwrap();
            assert!(!plan.reads.is_empty(), "{}", server.name);
        }
    }
}
