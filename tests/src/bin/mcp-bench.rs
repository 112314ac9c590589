//! `mcp-bench`: the figures the README quotes for one MCP server binary (by default
//! `target/release/mcp-empresa`). It is a benchmark, not a test: it prints what it measured and
//! asserts no timings; it exits non-zero only when a call failed or a phase could not run.
//!
//! It measures, on this machine, with the client running next to the server:
//!
//! 1. start-up over stdio: from just before `spawn` to the `initialize` result, over `--starts`
//!    fresh processes (after one untimed warm-up start that creates the database);
//! 2. memory: the server's `VmRSS` 1 s after `initialize`, after the sequential run and after each
//!    HTTP run, plus its peak (`VmHWM`);
//! 3. sequential `tools/call` latency over stdio: 200 warm-up calls, then `--calls` calls one at a
//!    time, each timed from write to answer; every answer must be a result without `isError`;
//! 4. HTTP throughput at each `--concurrency` level, stateful (each worker opens its own session,
//!    like separate clients) and `--stateless`: N worker threads, each with its own keep-alive
//!    client, call the tool in a loop for `--seconds`.
//!
//! Every server run gets a fresh temporary directory with `EMPRESA_DB_PATH=<tmp>/empresa.db`,
//! `MCP_AUDIT_LOG=<tmp>/audit.jsonl` (auditing is part of the real cost, so it stays on) and
//! `MCP_LOG_LEVEL=warn`, plus any `--env KEY=VALUE`.
//!
//! Run it with `just bench`, or
//! `cargo run --release -p mcp-conformance --bin mcp-bench -- --server target/release/mcp-empresa`.
//! Results go to stdout as Markdown tables followed by one `bench: <name> = <value> <unit>` line
//! per figure; `--json PATH` also writes them as JSON. Progress goes to stderr.
//!
//! With `--baseline PATH` (`just bench` passes `bench/baseline.json`, the figures the README
//! quotes) every figure is also printed beside its previous value, `previous X → now Y (±Z%)`,
//! marked `worse` or `better` when it moved by more than 5% in that direction, so a regression is
//! visible. `--save-baseline PATH` writes this run's figures in that form, with the command line.

// The benchmark's output on stdout is its product.
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use mcp_conformance::baseline::{self, Figure};
use mcp_conformance::{
    ANSWER_TIMEOUT, HttpServer, PROTOCOL_VERSION, StdioServer, http1, result_text,
};
use serde_json::{Value, json};
use tempfile::TempDir;

const USAGE: &str = "\
mcp-bench: start-up, memory, stdio latency and HTTP throughput of one MCP server binary

Options:
  --server PATH          server binary [default: target/release/mcp-empresa]
  --tool NAME            tool to call [default: consultar_empresa]
  --args JSON            its arguments [default: {\"nombre\":\"Empresa X\"}]
  --calls N              sequential stdio calls [default: 5000]
  --starts N             timed start-ups [default: 20]
  --seconds S            seconds per HTTP concurrency level [default: 5]
  --concurrency LIST     HTTP worker counts [default: 1,4,16,64]
  --env KEY=VALUE        extra environment for every server run (repeatable)
  --json PATH            also write the results as JSON
  --baseline PATH        print each figure beside its value in PATH (see --save-baseline)
  --save-baseline PATH   write this run's figures to PATH as the next baseline
  --help                 this text";

/// Untimed calls before the sequential stdio run.
const WARMUP_CALLS: usize = 200;
/// How long the stdio server idles after `initialize` before its memory is read.
const IDLE_BEFORE_RSS: Duration = Duration::from_secs(1);
/// The sequential stdio phase (warm-up and timed calls) gives up after this long.
const STDIO_PHASE_LIMIT: Duration = Duration::from_secs(900);
/// How long a stdio server gets to exit after its stdin closes before it is killed.
const EXIT_WAIT: Duration = Duration::from_secs(5);
/// An HTTP worker stops early after this many errors.
const MAX_ERRORS_PER_WORKER: usize = 1000;
/// An HTTP worker never makes more calls than this in one level.
const MAX_CALLS_PER_WORKER: usize = 10_000_000;
/// Pause between HTTP levels, so one level's tail does not spill into the next.
const PAUSE_BETWEEN_LEVELS: Duration = Duration::from_millis(500);
/// How much of a failing answer is quoted.
const QUOTE_CHARS: usize = 300;

fn main() -> ExitCode {
    match run() {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::Failures) => ExitCode::from(1),
        Err(error) => {
            eprintln!("mcp-bench: error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Whether every call succeeded.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Clean,
    Failures,
}

fn run() -> Result<Outcome> {
    let Some(options) = parse_options(std::env::args().skip(1))? else {
        println!("{USAGE}");
        return Ok(Outcome::Clean);
    };
    if !options.server.is_file() {
        bail!(
            "{} does not exist; build it first (cargo build --release -p mcp-empresa)",
            options.server.display()
        );
    }
    let startup = measure_startup(&options)?;
    let stdio = measure_stdio(&options)?;
    let mut http = Vec::new();
    for mode in [Mode::Stateful, Mode::Stateless] {
        http.push(measure_http(&options, mode)?);
    }
    let report = Report {
        machine: describe_machine(&options, &startup.server_info)?,
        startup,
        stdio,
        http,
    };
    print_report(&options, &report);
    let figures = report.figures();
    for figure in &figures {
        println!("{}", figure.line());
    }
    if let Some(path) = &options.json {
        write_json(path, &options, &report, &figures)?;
        eprintln!("mcp-bench: wrote {}", path.display());
    }
    if let Some(path) = &options.baseline {
        let previous = baseline::read(path)?;
        print!("{}", baseline::comparison(path, &previous, &figures));
    }
    if let Some(path) = &options.save_baseline {
        write_baseline(path, &report.machine, &figures)?;
        eprintln!("mcp-bench: wrote the baseline {}", path.display());
    }
    Ok(report_failures(&report))
}

// ---------------------------------------------------------------------------------------------
// Options

/// The command line.
#[derive(Debug, Clone)]
struct Options {
    server: PathBuf,
    tool: String,
    args: Value,
    calls: usize,
    starts: usize,
    seconds: Duration,
    concurrency: Vec<usize>,
    json: Option<PathBuf>,
    baseline: Option<PathBuf>,
    save_baseline: Option<PathBuf>,
    env: Vec<(String, String)>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            server: PathBuf::from("target/release/mcp-empresa"),
            tool: "consultar_empresa".to_owned(),
            args: json!({"nombre": "Empresa X"}),
            calls: 5000,
            starts: 20,
            seconds: Duration::from_secs(5),
            concurrency: vec![1, 4, 16, 64],
            json: None,
            baseline: None,
            save_baseline: None,
            env: Vec::new(),
        }
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
            "--server" => options.server = PathBuf::from(value()?),
            "--tool" => options.tool = value()?,
            "--args" => options.args = parse_tool_args(&value()?)?,
            "--calls" => options.calls = parse_count(&flag, &value()?)?,
            "--starts" => options.starts = parse_count(&flag, &value()?)?,
            "--seconds" => options.seconds = parse_seconds(&value()?)?,
            "--concurrency" => options.concurrency = parse_concurrency(&value()?)?,
            "--json" => options.json = Some(PathBuf::from(value()?)),
            "--baseline" => options.baseline = Some(PathBuf::from(value()?)),
            "--save-baseline" => options.save_baseline = Some(PathBuf::from(value()?)),
            "--env" => options.env.push(parse_env(&value()?)?),
            _ => bail!("unknown argument {arg:?}\n\n{USAGE}"),
        }
    }
    Ok(Some(options))
}

fn parse_tool_args(text: &str) -> Result<Value> {
    let value: Value =
        serde_json::from_str(text).with_context(|| format!("--args is not JSON: {text}"))?;
    if !value.is_object() {
        bail!("--args must be a JSON object, got {text}");
    }
    Ok(value)
}

fn parse_count(flag: &str, text: &str) -> Result<usize> {
    match text.parse::<usize>() {
        Ok(count) if count > 0 => Ok(count),
        _ => bail!("{flag} needs a whole number above 0, got {text:?}"),
    }
}

fn parse_seconds(text: &str) -> Result<Duration> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds > 0.0 && seconds <= 3600.0 => {
            Ok(Duration::from_secs_f64(seconds))
        }
        _ => bail!("--seconds needs a number of seconds above 0 (at most 3600), got {text:?}"),
    }
}

fn parse_concurrency(text: &str) -> Result<Vec<usize>> {
    let levels = text
        .split(',')
        .map(|level| match level.trim().parse::<usize>() {
            Ok(n) if (1..=1024).contains(&n) => Ok(n),
            _ => Err(anyhow!(
                "--concurrency needs a comma-separated list of numbers from 1 to 1024, got {text:?}"
            )),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(levels)
}

fn parse_env(text: &str) -> Result<(String, String)> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => bail!("--env needs KEY=VALUE, got {text:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Shared pieces

/// A fresh temporary directory and the environment one server run gets.
struct RunDir {
    dir: TempDir,
    env: Vec<(String, String)>,
}

impl RunDir {
    fn new(options: &Options) -> Result<RunDir> {
        let dir = tempfile::Builder::new()
            .prefix("mcp-bench-")
            .tempdir()
            .context("creating a temporary directory")?;
        let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
        let mut env = vec![
            ("EMPRESA_DB_PATH".to_owned(), path("empresa.db")),
            ("MCP_AUDIT_LOG".to_owned(), path("audit.jsonl")),
            ("MCP_LOG_LEVEL".to_owned(), "warn".to_owned()),
        ];
        // Later entries win when the process is spawned, so --env can override the defaults.
        env.extend(options.env.iter().cloned());
        Ok(RunDir { dir, env })
    }

    /// The environment in the form the harness takes.
    fn env(&self) -> Vec<(&str, &str)> {
        self.env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// How many audit records the run wrote (lines of the audit file; 0 if there is none).
    fn audit_records(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("audit.jsonl"))
            .map(|text| text.lines().count())
            .unwrap_or(0)
    }
}

/// The `initialize` parameters, the same as the harness offers.
fn initialize_params() -> Value {
    json!({"protocolVersion": PROTOCOL_VERSION, "capabilities": {}, "clientInfo": {"name": "mcp-bench", "version": "1"}})
}

/// Ends a stdio server the way a host does (closing stdin), killing it if it lingers.
fn stop(mut server: StdioServer) {
    server.close_stdin();
    let _ = server.wait_exit(EXIT_WAIT);
    // Dropping the server kills it if it is still running.
}

/// Shows (on stderr) the first lines a server logged during a run, apart from the line saying
/// where it listens, since with `MCP_LOG_LEVEL=warn` anything there deserves a look.
fn note_server_stderr(run: &str, stderr: &str) {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| !line.contains("listening on http://"))
        .collect();
    if lines.is_empty() {
        return;
    }
    eprintln!(
        "mcp-bench: the server logged {} line(s) on stderr during the {run} run; the first ones:",
        lines.len()
    );
    for line in lines.iter().take(5) {
        eprintln!("    {}", quote(line));
    }
}

/// Why a JSON-RPC answer to `tools/call` is not a successful result, if it is not.
fn check_answer(answer: &Value) -> Result<(), String> {
    if let Some(error) = answer.get("error") {
        return Err(format!("JSON-RPC error: {}", quote(&error.to_string())));
    }
    let Some(result) = answer.get("result") else {
        return Err(format!(
            "answer without result: {}",
            quote(&answer.to_string())
        ));
    };
    if result.get("isError") == Some(&Value::Bool(true)) {
        return Err(format!("isError: {}", quote(&result_text(result))));
    }
    Ok(())
}

/// The first `QUOTE_CHARS` characters of `text`.
fn quote(text: &str) -> String {
    match text.char_indices().nth(QUOTE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Counts failures, keeping the first one to show.
#[derive(Debug, Default)]
struct Failures {
    count: usize,
    first: Option<String>,
}

impl Failures {
    fn record(&mut self, why: String) {
        self.count += 1;
        self.first.get_or_insert(why);
    }

    fn merge(&mut self, other: Failures) {
        self.count += other.count;
        if self.first.is_none() {
            self.first = other.first;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Percentiles

/// The spread of a sample of durations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Spread {
    min: Duration,
    p50: Duration,
    p90: Duration,
    p99: Duration,
    max: Duration,
}

/// The `p`th percentile (0–100) of an ascending sample by the nearest-rank method: the smallest
/// value with at least `p`% of the sample at or below it. Zero for an empty sample.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn spread(mut sample: Vec<Duration>) -> Spread {
    sample.sort_unstable();
    Spread {
        min: percentile(&sample, 0.0),
        p50: percentile(&sample, 50.0),
        p90: percentile(&sample, 90.0),
        p99: percentile(&sample, 99.0),
        max: percentile(&sample, 100.0),
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn us(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

fn per_second(count: usize, elapsed: Duration) -> f64 {
    if elapsed.is_zero() {
        0.0
    } else {
        count as f64 / elapsed.as_secs_f64()
    }
}

// ---------------------------------------------------------------------------------------------
// Memory

/// A process's resident memory, from `/proc/<pid>/status`, in kB.
#[derive(Debug, Clone, Copy, Default)]
struct Memory {
    /// `VmRSS`: resident now.
    rss_kb: u64,
    /// `VmHWM`: the most it was ever resident.
    peak_kb: u64,
}

fn read_memory(pid: u32) -> Result<Memory> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let field = |name: &str| -> Result<u64> {
        let line = status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .with_context(|| format!("{path} has no {name}"))?;
        let number = line
            .trim_start_matches(':')
            .split_whitespace()
            .next()
            .unwrap_or_default();
        number
            .parse()
            .with_context(|| format!("{path}: {name} is {line:?}"))
    };
    Ok(Memory {
        rss_kb: field("VmRSS")?,
        peak_kb: field("VmHWM")?,
    })
}

fn mib(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

// ---------------------------------------------------------------------------------------------
// 1. Start-up

/// Start-up times over stdio.
#[derive(Debug)]
struct StartupFigures {
    /// The untimed warm-up start, which created the database (shown, not in the spread).
    first: Duration,
    starts: usize,
    spread: Spread,
    /// `serverInfo` from `initialize`.
    server_info: Value,
}

fn measure_startup(options: &Options) -> Result<StartupFigures> {
    eprintln!(
        "mcp-bench: start-up: 1 warm-up start (creates the database), then {} timed starts",
        options.starts
    );
    let run = RunDir::new(options)?;
    let (first, result) = time_one_start(options, &run).context("warm-up start")?;
    let mut times = Vec::with_capacity(options.starts);
    for n in 1..=options.starts {
        times.push(
            time_one_start(options, &run)
                .with_context(|| format!("start {n}"))?
                .0,
        );
    }
    Ok(StartupFigures {
        first,
        starts: options.starts,
        spread: spread(times),
        server_info: result["serverInfo"].clone(),
    })
}

/// Spawns a fresh server and times it from just before `spawn` to the `initialize` result.
fn time_one_start(options: &Options, run: &RunDir) -> Result<(Duration, Value)> {
    let began = Instant::now();
    let mut server = StdioServer::spawn_inline(&options.server, &[], &run.env())?;
    let answer = server.request("initialize", initialize_params())?;
    let elapsed = began.elapsed();
    let result = answer
        .get("result")
        .cloned()
        .ok_or_else(|| anyhow!("initialize failed: {answer}\nstderr:\n{}", server.stderr()))?;
    server.notify("notifications/initialized", json!({}))?;
    stop(server);
    Ok((elapsed, result))
}

// ---------------------------------------------------------------------------------------------
// 2 and 3. Memory and sequential stdio latency

/// The sequential stdio run.
#[derive(Debug)]
struct StdioFigures {
    idle: Memory,
    after: Memory,
    calls: usize,
    elapsed: Duration,
    latency: Spread,
    /// Failed calls, warm-up included.
    failures: Failures,
    audit_records: usize,
}

fn measure_stdio(options: &Options) -> Result<StdioFigures> {
    eprintln!(
        "mcp-bench: stdio: idle memory, then {WARMUP_CALLS} warm-up and {} timed sequential calls",
        options.calls
    );
    let run = RunDir::new(options)?;
    let mut server = StdioServer::spawn_inline(&options.server, &[], &run.env())?;
    server.initialize()?;
    std::thread::sleep(IDLE_BEFORE_RSS);
    let idle = read_memory(server.pid())?;
    let deadline = Instant::now() + STDIO_PHASE_LIMIT;
    let warmup =
        sequential_calls(&mut server, options, WARMUP_CALLS, deadline).context("stdio warm-up")?;
    let timed = sequential_calls(&mut server, options, options.calls, deadline)
        .context("stdio timed calls")?;
    let after = read_memory(server.pid())?;
    note_server_stderr("stdio", &server.stderr());
    stop(server);
    let mut failures = warmup.failures;
    failures.merge(timed.failures);
    Ok(StdioFigures {
        idle,
        after,
        calls: timed.latencies.len(),
        elapsed: timed.elapsed,
        latency: spread(timed.latencies),
        failures,
        audit_records: run.audit_records(),
    })
}

/// Calls made one at a time.
struct SequentialRun {
    latencies: Vec<Duration>,
    elapsed: Duration,
    failures: Failures,
}

/// Makes `count` calls one after the other, timing each from write to answer. A failed call
/// (JSON-RPC error or `isError`) is counted; a broken transport ends the run with an error.
fn sequential_calls(
    server: &mut StdioServer,
    options: &Options,
    count: usize,
    deadline: Instant,
) -> Result<SequentialRun> {
    // The request is written from a template and only the outline of the answer is read, as
    // the HTTP workers do: the client's own work would otherwise be counted as the server's.
    let params = serde_json::to_string(&json!({"name": options.tool, "arguments": options.args}))?;
    let mut latencies = Vec::with_capacity(count);
    let mut failures = Failures::default();
    let began = Instant::now();
    for _ in 0..count {
        if Instant::now() > deadline {
            bail!("the sequential stdio phase took longer than {STDIO_PHASE_LIMIT:?}; giving up");
        }
        let id = server.take_id();
        let request =
            format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{params}}}"#);
        let start = Instant::now();
        server.send_line(&request)?;
        let verdict = loop {
            let line = server
                .next_line(deadline.saturating_duration_since(Instant::now()))
                .with_context(|| format!("waiting for the answer to {request}"))?;
            // Anything else (a notification, a log message) is passed over.
            if let Some(verdict) = check_answer_text(&line, id) {
                break verdict;
            }
        };
        latencies.push(start.elapsed());
        if let Err(why) = verdict {
            failures.record(why);
        }
    }
    Ok(SequentialRun {
        latencies,
        elapsed: began.elapsed(),
        failures,
    })
}

// ---------------------------------------------------------------------------------------------
// 4. HTTP throughput

/// How the HTTP server keeps (or does not keep) clients apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Sessions: each worker runs `initialize` and sends its `mcp-session-id`.
    Stateful,
    /// `--stateless`: every POST stands alone.
    Stateless,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Stateful => "stateful",
            Mode::Stateless => "stateless",
        }
    }

    fn server_args(self) -> &'static [&'static str] {
        match self {
            Mode::Stateful => &[],
            Mode::Stateless => &["--stateless"],
        }
    }
}

/// One HTTP mode: every concurrency level against one server.
#[derive(Debug)]
struct HttpFigures {
    mode: Mode,
    levels: Vec<LevelFigures>,
    after: Memory,
}

/// One concurrency level.
#[derive(Debug)]
struct LevelFigures {
    workers: usize,
    calls: usize,
    elapsed: Duration,
    latency: Spread,
    errors: Failures,
}

fn measure_http(options: &Options, mode: Mode) -> Result<HttpFigures> {
    let run = RunDir::new(options)?;
    let server = HttpServer::start(&options.server, mode.server_args(), &run.env())?;
    let mut levels = Vec::with_capacity(options.concurrency.len());
    for &workers in &options.concurrency {
        eprintln!(
            "mcp-bench: http {}: {workers} worker(s) for {:?}",
            mode.name(),
            options.seconds
        );
        levels.push(measure_http_level(&server, options, mode, workers));
        std::thread::sleep(PAUSE_BETWEEN_LEVELS);
    }
    let after = read_memory(server.pid())?;
    note_server_stderr(&format!("http {}", mode.name()), &server.stderr());
    Ok(HttpFigures {
        mode,
        levels,
        after,
    })
}

/// Runs `workers` threads against `server` for `--seconds`; the clock starts once every worker
/// is connected (and, when stateful, has its session).
fn measure_http_level(
    server: &HttpServer,
    options: &Options,
    mode: Mode,
    workers: usize,
) -> LevelFigures {
    let barrier = Barrier::new(workers + 1);
    let (elapsed, outcomes) = std::thread::scope(|scope| {
        let barrier = &barrier;
        let handles: Vec<_> = (0..workers)
            .map(|_| scope.spawn(move || http_worker(server, options, mode, barrier)))
            .collect();
        barrier.wait();
        let began = Instant::now();
        let outcomes: Vec<WorkerOutcome> = handles
            .into_iter()
            .map(|handle| {
                handle.join().unwrap_or_else(|_| {
                    let mut outcome = WorkerOutcome::default();
                    outcome
                        .errors
                        .record("the worker thread panicked".to_owned());
                    outcome
                })
            })
            .collect();
        (began.elapsed(), outcomes)
    });
    let mut latencies = Vec::new();
    let mut errors = Failures::default();
    for outcome in outcomes {
        latencies.extend(outcome.latencies);
        errors.merge(outcome.errors);
    }
    LevelFigures {
        workers,
        calls: latencies.len(),
        elapsed,
        latency: spread(latencies),
        errors,
    }
}

/// What one HTTP worker did.
#[derive(Debug, Default)]
struct WorkerOutcome {
    /// Latencies of the successful calls.
    latencies: Vec<Duration>,
    errors: Failures,
}

/// One client: connects (and opens a session when stateful), waits for the others, then calls
/// the tool in a loop until the level's time is up.
fn http_worker(
    server: &HttpServer,
    options: &Options,
    mode: Mode,
    barrier: &Barrier,
) -> WorkerOutcome {
    let mut outcome = WorkerOutcome::default();
    let connected = connect_worker(server, options, mode);
    // Every worker reaches the barrier exactly once, connected or not, so the level cannot hang.
    barrier.wait();
    let (client, mut connection, session) = match connected {
        Ok(connected) => connected,
        Err(error) => {
            outcome
                .errors
                .record(format!("could not connect: {error:#}"));
            return outcome;
        }
    };
    let deadline = Instant::now() + options.seconds;
    let mut id = 10;
    while Instant::now() < deadline
        && outcome.latencies.len() < MAX_CALLS_PER_WORKER
        && outcome.errors.count < MAX_ERRORS_PER_WORKER
    {
        id += 1;
        let body = tool_call_body(id, options).to_string();
        let start = Instant::now();
        let answer = connection.post(body.as_bytes(), session.as_deref());
        let took = start.elapsed();
        match check_http_answer(answer, id) {
            Ok(()) => outcome.latencies.push(took),
            Err(why) => outcome.errors.record(why),
        }
    }
    if let Some(session) = session {
        end_session(server, &client, &session);
    }
    outcome
}

/// A keep-alive connection of its own for the timed calls, its session when stateful (opened
/// with a reqwest client, which also ends it), and one untimed call so the connection is open
/// before the clock starts.
fn connect_worker(
    server: &HttpServer,
    options: &Options,
    mode: Mode,
) -> Result<(reqwest::blocking::Client, http1::Connection, Option<String>)> {
    let client = reqwest::blocking::Client::builder()
        .timeout(ANSWER_TIMEOUT)
        .build()
        .context("building an HTTP client")?;
    let session = match mode {
        Mode::Stateful => Some(open_session(server, &client)?),
        Mode::Stateless => None,
    };
    let mut connection = http1::Connection::open(&server.base, "/mcp", ANSWER_TIMEOUT)?;
    let id = 2;
    check_http_answer(
        connection.post(
            tool_call_body(id, options).to_string().as_bytes(),
            session.as_deref(),
        ),
        id,
    )
    .map_err(|why| anyhow!("first call: {why}"))?;
    Ok((client, connection, session))
}

/// `initialize` and `notifications/initialized` over `client`; returns the session id.
fn open_session(server: &HttpServer, client: &reqwest::blocking::Client) -> Result<String> {
    let initialize =
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": initialize_params()});
    let answer = server.post_with(client, &initialize, None, &[])?;
    if answer
        .message_with_id(&json!(1))
        .and_then(|m| m.get("result").cloned())
        .is_none()
    {
        bail!("initialize got {}: {}", answer.status, quote(&answer.body));
    }
    let session = answer
        .session
        .context("the stateful server sent no mcp-session-id")?;
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let ack = server.post_with(client, &initialized, Some(&session), &[])?;
    if ack.status != 202 {
        bail!(
            "notifications/initialized got {} instead of 202: {}",
            ack.status,
            quote(&ack.body)
        );
    }
    Ok(session)
}

/// Ends a session the way a polite client does (`DELETE /mcp`); failures do not matter here.
fn end_session(server: &HttpServer, client: &reqwest::blocking::Client, session: &str) {
    let _ = client
        .delete(server.mcp_url())
        .header("mcp-session-id", session)
        .timeout(Duration::from_secs(5))
        .send();
}

fn tool_call_body(id: u64, options: &Options) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": options.tool, "arguments": options.args}})
}

/// Why an HTTP exchange is not a successful tool result, if it is not.
fn check_http_answer(answer: Result<http1::RawAnswer>, id: u64) -> Result<(), String> {
    let answer = answer.map_err(|error| format!("transport: {error:#}"))?;
    if answer.status != 200 {
        return Err(format!("HTTP {}: {}", answer.status, quote(&answer.body)));
    }
    for text in answer.message_texts() {
        if let Some(verdict) = check_answer_text(text, id) {
            return verdict;
        }
    }
    Err(format!("no answer with id {id}: {}", quote(&answer.body)))
}

/// Whether `text` is the answer to request `id` (`None` when it is another message), and if so
/// why it is not a successful tool result, if it is not. Reads only the outline of a success.
fn check_answer_text(text: &str, id: u64) -> Option<Result<(), String>> {
    let outline = serde_json::from_str::<AnswerOutline>(text).ok()?;
    if outline.id != Some(id) {
        return None;
    }
    if outline.error.is_none() && outline.result.is_some_and(|result| !result.is_error) {
        return Some(Ok(()));
    }
    // A failure: read the whole message for the reason.
    let message: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    Some(check_answer(&message).and_then(|()| Err(format!("unexpected answer: {}", quote(text)))))
}

/// What the HTTP workers read of each answer: enough to tell a success from a failure without
/// building the whole message, since the client's parsing shares the cores with the server.
#[derive(serde::Deserialize)]
struct AnswerOutline {
    id: Option<u64>,
    error: Option<serde::de::IgnoredAny>,
    result: Option<ResultOutline>,
}

/// Whether a `tools/call` result is a tool error.
#[derive(serde::Deserialize)]
struct ResultOutline {
    #[serde(rename = "isError", default)]
    is_error: bool,
}

// ---------------------------------------------------------------------------------------------
// 5. Report

/// Where the figures were taken.
#[derive(Debug)]
struct Machine {
    date: String,
    uname: String,
    cpus: usize,
    cpu_model: String,
    server: String,
    server_bytes: u64,
    server_info: String,
}

fn describe_machine(options: &Options, server_info: &Value) -> Result<Machine> {
    let server_bytes = std::fs::metadata(&options.server)
        .with_context(|| format!("reading {}", options.server.display()))?
        .len();
    let name = server_info["name"].as_str().unwrap_or("?");
    let version = server_info["version"].as_str().unwrap_or("?");
    Ok(Machine {
        date: command_output("date", &["-u", "+%Y-%m-%d %H:%M:%S UTC"]),
        uname: command_output("uname", &["-srm"]),
        cpus: std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(0),
        cpu_model: cpu_model(),
        server: options.server.display().to_string(),
        server_bytes,
        server_info: format!("{name} {version}"),
    })
}

/// The trimmed stdout of a small command, or `unknown`.
fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The first `model name` of `/proc/cpuinfo`, or `unknown`.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Everything measured.
#[derive(Debug)]
struct Report {
    machine: Machine,
    startup: StartupFigures,
    stdio: StdioFigures,
    http: Vec<HttpFigures>,
}

impl Report {
    /// Every figure, in the order of the tables.
    fn figures(&self) -> Vec<Figure> {
        let mut figures = Vec::new();
        let startup = &self.startup;
        figures.push(Figure::new(
            "startup_first_creates_db",
            ms(startup.first),
            "ms",
        ));
        figures.push(Figure::new("startup_min", ms(startup.spread.min), "ms"));
        figures.push(Figure::new("startup_median", ms(startup.spread.p50), "ms"));
        figures.push(Figure::new("startup_p90", ms(startup.spread.p90), "ms"));
        let stdio = &self.stdio;
        figures.push(Figure::new("rss_idle", mib(stdio.idle.rss_kb), "MiB"));
        figures.push(Figure::new(
            "rss_after_stdio_calls",
            mib(stdio.after.rss_kb),
            "MiB",
        ));
        figures.push(Figure::new(
            "rss_peak_stdio",
            mib(stdio.after.peak_kb),
            "MiB",
        ));
        figures.push(Figure::new("stdio_p50", us(stdio.latency.p50), "µs"));
        figures.push(Figure::new("stdio_p90", us(stdio.latency.p90), "µs"));
        figures.push(Figure::new("stdio_p99", us(stdio.latency.p99), "µs"));
        figures.push(Figure::new("stdio_max", us(stdio.latency.max), "µs"));
        figures.push(Figure::new(
            "stdio_throughput",
            per_second(stdio.calls, stdio.elapsed),
            "calls/s",
        ));
        figures.push(Figure::new(
            "stdio_failures",
            stdio.failures.count as f64,
            "calls",
        ));
        for http in &self.http {
            let mode = http.mode.name();
            for level in &http.levels {
                let prefix = format!("http_{mode}_c{}", level.workers);
                figures.push(Figure::new(
                    format!("{prefix}_throughput"),
                    per_second(level.calls, level.elapsed),
                    "calls/s",
                ));
                figures.push(Figure::new(
                    format!("{prefix}_p50"),
                    ms(level.latency.p50),
                    "ms",
                ));
                figures.push(Figure::new(
                    format!("{prefix}_p99"),
                    ms(level.latency.p99),
                    "ms",
                ));
                figures.push(Figure::new(
                    format!("{prefix}_errors"),
                    level.errors.count as f64,
                    "calls",
                ));
            }
            figures.push(Figure::new(
                format!("rss_after_http_{mode}"),
                mib(http.after.rss_kb),
                "MiB",
            ));
            figures.push(Figure::new(
                format!("rss_peak_http_{mode}"),
                mib(http.after.peak_kb),
                "MiB",
            ));
        }
        figures
    }
}

fn print_report(options: &Options, report: &Report) {
    print_header(options, &report.machine);
    print_startup(&report.startup);
    print_memory(report);
    print_stdio(&report.stdio);
    print_http(options, &report.http);
}

fn print_header(options: &Options, machine: &Machine) {
    println!("## Benchmark: {}", machine.server_info);
    println!();
    println!("- date: {}", machine.date);
    println!(
        "- machine: {}, {} CPUs ({})",
        machine.uname, machine.cpus, machine.cpu_model
    );
    println!(
        "- server: `{}` ({:.1} MiB)",
        machine.server,
        mib(machine.server_bytes / 1024)
    );
    println!("- tool: `{}` with `{}`", options.tool, options.args);
    println!("- the client runs on the same machine and shares its cores with the server");
    println!(
        "- every server run: a fresh temporary directory, audit log on (`MCP_AUDIT_LOG=<tmp>/audit.jsonl`), `MCP_LOG_LEVEL=warn`"
    );
    for (key, value) in &options.env {
        println!("- extra environment: `{key}={value}`");
    }
    println!();
}

fn print_startup(startup: &StartupFigures) {
    println!("### Start-up (stdio, from spawn to the `initialize` result)");
    println!();
    println!(
        "| starts | min | median | p90 | first start, creating the database (untimed warm-up) |"
    );
    println!("|---:|---:|---:|---:|---:|");
    let spread = &startup.spread;
    println!(
        "| {} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms |",
        startup.starts,
        ms(spread.min),
        ms(spread.p50),
        ms(spread.p90),
        ms(startup.first)
    );
    println!();
}

fn print_memory(report: &Report) {
    println!("### Memory of the server process");
    println!();
    println!("| when | resident (VmRSS) | peak so far (VmHWM) |");
    println!("|---|---:|---:|");
    let stdio = &report.stdio;
    let row = |when: String, memory: &Memory| {
        println!(
            "| {when} | {:.1} MiB | {:.1} MiB |",
            mib(memory.rss_kb),
            mib(memory.peak_kb)
        )
    };
    row(
        format!(
            "stdio, idle {} s after `initialize`",
            IDLE_BEFORE_RSS.as_secs()
        ),
        &stdio.idle,
    );
    row(
        format!(
            "stdio, after {} sequential calls",
            stdio.calls + WARMUP_CALLS
        ),
        &stdio.after,
    );
    for http in &report.http {
        row(
            format!("HTTP {}, after the run", http.mode.name()),
            &http.after,
        );
    }
    println!();
}

fn print_stdio(stdio: &StdioFigures) {
    println!(
        "### Sequential `tools/call` over stdio (one at a time, after {WARMUP_CALLS} warm-up calls)"
    );
    println!();
    println!("| calls | p50 | p90 | p99 | max | calls/s | failures (warm-up included) |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    let latency = &stdio.latency;
    println!(
        "| {} | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} | {} |",
        stdio.calls,
        us(latency.p50),
        us(latency.p90),
        us(latency.p99),
        us(latency.max),
        per_second(stdio.calls, stdio.elapsed),
        stdio.failures.count
    );
    println!();
    println!(
        "Audit records written during the stdio run: {}.",
        stdio.audit_records
    );
    println!();
}

fn print_http(options: &Options, http: &[HttpFigures]) {
    println!(
        "### `tools/call` over HTTP ({} s per level; each worker is a separate keep-alive client; stateful workers each open a session)",
        options.seconds.as_secs_f64()
    );
    println!();
    println!("| mode | clients | calls | calls/s | p50 | p99 | errors |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for figures in http {
        for level in &figures.levels {
            println!(
                "| {} | {} | {} | {:.0} | {:.2} ms | {:.2} ms | {} |",
                figures.mode.name(),
                level.workers,
                level.calls,
                per_second(level.calls, level.elapsed),
                ms(level.latency.p50),
                ms(level.latency.p99),
                level.errors.count
            );
        }
    }
    println!();
}

/// Says loudly, on stdout and stderr, whether any call failed.
fn report_failures(report: &Report) -> Outcome {
    let mut lines = Vec::new();
    let stdio = &report.stdio;
    if stdio.failures.count > 0 {
        lines.push(format!(
            "stdio: {} failed calls; first: {}",
            stdio.failures.count,
            stdio.failures.first.as_deref().unwrap_or("?")
        ));
    }
    for http in &report.http {
        for level in http.levels.iter().filter(|level| level.errors.count > 0) {
            lines.push(format!(
                "http {} with {} clients: {} errors; first: {}",
                http.mode.name(),
                level.workers,
                level.errors.count,
                level.errors.first.as_deref().unwrap_or("?")
            ));
        }
    }
    if lines.is_empty() {
        return Outcome::Clean;
    }
    println!();
    println!(
        "**FAILURES: some calls failed, so the figures above do not measure the intended work.**"
    );
    for line in &lines {
        println!("- {line}");
        eprintln!("mcp-bench: FAILURE: {line}");
    }
    Outcome::Failures
}

fn write_json(path: &Path, options: &Options, report: &Report, figures: &[Figure]) -> Result<()> {
    let machine = &report.machine;
    let document = json!({
        "date": machine.date,
        "uname": machine.uname,
        "cpus": machine.cpus,
        "cpu_model": machine.cpu_model,
        "server": {"path": machine.server, "bytes": machine.server_bytes, "info": machine.server_info},
        "client_on_same_machine": true,
        "options": {
            "tool": options.tool,
            "args": options.args,
            "calls": options.calls,
            "starts": options.starts,
            "seconds": options.seconds.as_secs_f64(),
            "concurrency": options.concurrency,
            "env": options.env.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
        },
        "stdio": {
            "failures": report.stdio.failures.count,
            "first_failure": report.stdio.failures.first,
            "audit_records": report.stdio.audit_records,
        },
        "http": report.http.iter().map(http_errors_json).collect::<Vec<_>>(),
        "figures": figures.iter().map(|f| json!({"name": f.name, "value": f.value, "unit": f.unit})).collect::<Vec<_>>(),
    });
    let text = serde_json::to_string_pretty(&document)?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

/// The errors of one HTTP mode, per level, for the JSON output.
fn http_errors_json(http: &HttpFigures) -> Value {
    let levels: Vec<Value> = http
        .levels
        .iter()
        .map(|level| json!({"clients": level.workers, "errors": level.errors.count, "first_error": level.errors.first}))
        .collect();
    json!({"mode": http.mode.name(), "levels": levels})
}

// ---------------------------------------------------------------------------------------------
// Baseline

/// Writes this run's figures as a baseline, with what produced them.
fn write_baseline(path: &Path, machine: &Machine, figures: &[Figure]) -> Result<()> {
    let command: Vec<String> = std::env::args().collect();
    let mut about = serde_json::Map::new();
    about.insert("date".into(), json!(machine.date));
    about.insert(
        "machine".into(),
        json!(format!(
            "{}, {} CPUs ({})",
            machine.uname, machine.cpus, machine.cpu_model
        )),
    );
    about.insert("server".into(), json!(machine.server));
    about.insert("command".into(), json!(command.join(" ")));
    baseline::write(path, about, figures)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(values: impl IntoIterator<Item = u64>) -> Vec<Duration> {
        values.into_iter().map(Duration::from_millis).collect()
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let sample = millis(1..=100);
        assert_eq!(percentile(&sample, 0.0), Duration::from_millis(1));
        assert_eq!(percentile(&sample, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&sample, 90.0), Duration::from_millis(90));
        assert_eq!(percentile(&sample, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&sample, 100.0), Duration::from_millis(100));
        assert_eq!(percentile(&millis([7]), 99.0), Duration::from_millis(7));
        assert_eq!(
            percentile(&millis([1, 2, 3, 4, 5]), 50.0),
            Duration::from_millis(3)
        );
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }

    #[test]
    fn spread_sorts_its_sample() {
        let spread = spread(millis([5, 1, 4, 2, 3]));
        assert_eq!(
            (spread.min, spread.p50, spread.max),
            (
                Duration::from_millis(1),
                Duration::from_millis(3),
                Duration::from_millis(5)
            )
        );
    }

    #[test]
    fn options_parse_and_reject() {
        let args = |text: &str| text.split(' ').map(str::to_owned).collect::<Vec<_>>();
        let options = parse_options(args(
            "--calls 10 --concurrency=2,8 --env A=b=c --args {\"q\":1} --seconds 0.5",
        ))
        .unwrap()
        .unwrap();
        assert_eq!(
            (options.calls, options.concurrency.clone()),
            (10, vec![2, 8])
        );
        assert_eq!(options.env, vec![("A".to_owned(), "b=c".to_owned())]);
        assert_eq!(options.args, json!({"q": 1}));
        assert_eq!(options.seconds, Duration::from_millis(500));
        assert!(parse_options(args("--help")).unwrap().is_none());
        for bad in [
            "--calls 0",
            "--calls",
            "--concurrency 1,,2",
            "--args [1]",
            "--env =x",
            "--seconds -1",
            "--bogus 1",
        ] {
            assert!(parse_options(args(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn http_answers_are_told_apart_without_the_whole_message() {
        let answer = |status: u16, content_type: &str, body: &str| {
            Ok(http1::RawAnswer {
                status,
                content_type: content_type.to_owned(),
                session: None,
                body: body.to_owned(),
            })
        };
        let json = "application/json";
        let sse = "text/event-stream";
        let ok = r#"{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"x"}],"isError":false}}"#;
        assert_eq!(check_http_answer(answer(200, json, ok), 7), Ok(()));
        let stream = format!(
            "data: {{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{{}}}}\n\ndata: {ok}\n\n"
        );
        assert_eq!(check_http_answer(answer(200, sse, &stream), 7), Ok(()));
        let failures = [
            (answer(200, json, ok), 8, "no answer with id 8"),
            (answer(500, json, "boom"), 7, "HTTP 500"),
            (
                answer(
                    200,
                    json,
                    r#"{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"no such company"}],"isError":true}}"#,
                ),
                7,
                "isError: no such company",
            ),
            (
                answer(
                    200,
                    sse,
                    r#"data: {"jsonrpc":"2.0","id":7,"error":{"code":-32602,"message":"bad"}}"#,
                ),
                7,
                "JSON-RPC error",
            ),
            (
                answer(200, json, r#"{"jsonrpc":"2.0","id":7}"#),
                7,
                "answer without result",
            ),
            (answer(200, json, "not json"), 7, "no answer with id 7"),
        ];
        for (answer, id, expected) in failures {
            let why = check_http_answer(answer, id).unwrap_err();
            assert!(why.contains(expected), "{why:?} should say {expected:?}");
        }
    }

    /// The stdio loop passes over lines that are not the answer to its request, and tells a
    /// success from a failure by the outline.
    #[test]
    fn stdio_answers_are_found_among_other_lines() {
        let passed_over = [
            r#"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}"#,
            r#"{"jsonrpc":"2.0","id":6,"result":{"content":[],"isError":false}}"#,
            r#"{"jsonrpc":"2.0","id":"7","result":{"content":[]}}"#,
            "not json",
        ];
        for line in passed_over {
            assert_eq!(check_answer_text(line, 7), None, "{line}");
        }
        assert_eq!(
            check_answer_text(
                r#"{"jsonrpc":"2.0","id":7,"result":{"content":[],"isError":false}}"#,
                7
            ),
            Some(Ok(()))
        );
        assert_eq!(
            check_answer_text(r#"{"jsonrpc":"2.0","id":7,"result":{"content":[]}}"#, 7),
            Some(Ok(()))
        );
        let failures = [
            (
                r#"{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"gone"}],"isError":true}}"#,
                "isError: gone",
            ),
            (
                r#"{"jsonrpc":"2.0","id":7,"error":{"code":-32602,"message":"bad"}}"#,
                "JSON-RPC error",
            ),
        ];
        for (line, expected) in failures {
            let why = check_answer_text(line, 7).unwrap().unwrap_err();
            assert!(why.contains(expected), "{why:?} should say {expected:?}");
        }
    }
}
