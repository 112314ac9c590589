//! A test harness that drives MCP server binaries the way hosts do: spawned over stdio with
//! newline-delimited JSON-RPC, or started with `--transport http` and called over streamable
//! HTTP. It is used by the server crates' integration tests, the protocol checks in this crate's
//! `tests/`, and the `mcp-bench` benchmark.
//!
//! Failures carry the request sent and what came back, plus the server's stderr, so that a failing
//! check says which server, which request, what was expected and what was seen.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};

pub mod baseline;
pub mod http1;
pub mod oauth;
pub mod overhead;
pub mod results;
pub mod servers;
/// The strict-schema conversion, from the library the agent bridge shares.
pub use openai_compat::strict;

/// The protocol version the harness offers in `initialize`.
pub const PROTOCOL_VERSION: &str = "2025-11-25";

/// How long the harness waits for any single answer.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// Where cargo put the workspace's binaries (the running executable's profile directory), so
/// tests of one crate, and this crate's own programs such as `mcp-soak`, can start another
/// crate's server.
pub fn binary_path(name: &str) -> PathBuf {
    if let Ok(dir) = std::env::var("MCP_BIN_DIR") {
        return Path::new(&dir).join(name);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    // A test: target/<profile>/deps/test-binary -> target/<profile>/<name>; a program of this
    // crate: target/<profile>/mcp-soak -> target/<profile>/<name>.
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.pop();
    }
    dir.join(name)
}

/// A command for `binary` with a minimal environment (PATH and HOME kept) plus `env`, so that a
/// developer's own `MCP_*` settings never leak into a test.
fn server_command(binary: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(binary);
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::var("HOME").unwrap_or_default())
        .envs(env.iter().copied())
        .stderr(Stdio::piped());
    command
}

/// Collects a child's stderr in the background, calling `on_line` for each line.
fn collect_stderr(
    pipe: std::process::ChildStderr,
    on_line: impl Fn(&str) + Send + 'static,
) -> Arc<Mutex<String>> {
    let collected = Arc::new(Mutex::new(String::new()));
    let sink = collected.clone();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            on_line(&line);
            if let Ok(mut all) = sink.lock() {
                all.push_str(&line);
            }
            line.clear();
        }
    });
    collected
}

/// The values of the environment variables that locate the independent test tools (Node, the
/// official suite, the Python SDK, the Inspector). When one is missing the check is skipped with a
/// note, except under CI, where a check that silently skips would prove nothing.
pub fn tool_paths(variables: &[&str]) -> Option<Vec<String>> {
    let values: Option<Vec<String>> = variables.iter().map(|v| std::env::var(v).ok()).collect();
    if values.is_none() {
        let wanted = variables.join(", ");
        assert!(
            std::env::var_os("CI").is_none(),
            "{wanted} must be set under CI; `just test` installs the tools and sets them"
        );
        eprintln!("skipped: set {wanted} (`just test` does this)");
    }
    values
}

/// Waits up to `timeout` for `child` to exit; returns its status if it did.
fn wait_for_exit(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// Starts `binary --listen 127.0.0.1:0 ARGS` and waits for the `listening on http://ADDR` line it
/// prints on stderr (as every server and stand-in of this project does); returns the process, the
/// address and its collected stderr.
pub fn start_listening(
    binary: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Result<(Child, String, Arc<Mutex<String>>)> {
    let mut command = server_command(binary, &["--listen", "127.0.0.1:0"], env);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let mut child = command
        .spawn()
        .with_context(|| format!("could not start {}", binary.display()))?;
    let (tx, rx) = channel();
    let tx = Mutex::new(tx);
    let stderr = collect_stderr(child.stderr.take().context("no stderr")?, move |line| {
        if let Some(rest) = line.split("listening on http://").nth(1) {
            let addr = rest
                .split(['/', ' ', '\n'])
                .next()
                .unwrap_or_default()
                .to_owned();
            if let Ok(tx) = tx.lock() {
                let _ = tx.send(addr);
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(addr) => Ok((child, addr, stderr)),
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            let output = stderr.lock().map(|s| s.clone()).unwrap_or_default();
            bail!(
                "{} did not start listening; stderr:\n{output}",
                binary.display()
            )
        }
    }
}

/// A server process speaking MCP over stdio.
pub struct StdioServer {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Lines,
    stderr: Arc<Mutex<String>>,
    /// Notifications and requests from the server seen while waiting for answers.
    pub notifications: VecDeque<Value>,
    next_id: u64,
    name: String,
    /// Things that must live as long as the server, such as its stand-in backend.
    guards: Vec<Box<dyn std::any::Any + Send + Sync>>,
}

impl StdioServer {
    /// Spawns `binary` with `env` added to a clean-ish environment (PATH and HOME kept). A thread
    /// drains its stdout, so the server never blocks on a full pipe whatever the test does.
    pub fn spawn(binary: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<StdioServer> {
        StdioServer::start(binary, args, env, false)
    }

    /// As [`StdioServer::spawn`], but stdout is read on the caller's thread when an answer is
    /// awaited, as a single-threaded host does: for benchmarks, where the reader thread's
    /// hand-off (a thread wake-up per message, tens of microseconds across cores) would be
    /// counted as the server's time. The caller must keep reading: a server that writes more
    /// than a pipe holds while nobody reads blocks.
    pub fn spawn_inline(binary: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<StdioServer> {
        StdioServer::start(binary, args, env, true)
    }

    fn start(
        binary: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        inline: bool,
    ) -> Result<StdioServer> {
        let mut command = server_command(binary, args, &[("MCP_LOG_LEVEL", "info")]);
        command
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        let mut child = command
            .spawn()
            .with_context(|| format!("could not start {}", binary.display()))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let stderr = collect_stderr(child.stderr.take().context("no stderr")?, |_| {});
        let lines = if inline {
            Lines::Inline(InlineLines::new(stdout))
        } else {
            let (tx, lines) = channel();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            Lines::Thread(lines)
        };
        let stdin = child.stdin.take();
        Ok(StdioServer {
            child,
            stdin,
            lines,
            stderr,
            notifications: VecDeque::new(),
            next_id: 1,
            guards: Vec::new(),
            name: binary
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        })
    }

    /// Everything the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Keeps `guard` (for instance the server's `TestEnvironment` with its stand-in) alive until
    /// the server is stopped.
    pub fn keep_alive<T: Send + Sync + 'static>(mut self, guard: T) -> Self {
        self.guards.push(Box::new(guard));
        self
    }

    /// Writes one raw line (a newline is added).
    pub fn send_line(&mut self, line: &str) -> Result<()> {
        let stdin = self.stdin.as_mut().context("stdin already closed")?;
        // One write, as hosts send a message: two would be two wake-ups of the server.
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        stdin.write_all(&bytes)?;
        stdin.flush()?;
        Ok(())
    }

    /// A fresh request id, for callers that write their own request lines.
    pub fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// The next line on stdout as it is, unparsed (for benchmarks, whose parsing would be
    /// counted as the server's time).
    pub fn next_line(&mut self, timeout: Duration) -> Result<String> {
        match self.lines.next(timeout) {
            Ok(line) => Ok(line),
            Err(RecvTimeoutError::Timeout) => bail!(
                "{}: no message within {timeout:?}\nstderr:\n{}",
                self.name,
                self.stderr()
            ),
            Err(RecvTimeoutError::Disconnected) => {
                bail!("{}: stdout closed\nstderr:\n{}", self.name, self.stderr())
            }
        }
    }

    /// Writes raw bytes as they are.
    pub fn send_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        let stdin = self.stdin.as_mut().context("stdin already closed")?;
        stdin.write_all(bytes)?;
        stdin.flush()?;
        Ok(())
    }

    /// Closes stdin, as a host does when it is done.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// The next line on stdout, parsed; every stdout line must be a JSON-RPC 2.0 message.
    pub fn next_message(&mut self, timeout: Duration) -> Result<Value> {
        let line = self.next_line(timeout)?;
        let message: Value = serde_json::from_str(&line)
            .map_err(|e| anyhow!("{}: stdout line is not JSON ({e}): {line}", self.name))?;
        if message.get("jsonrpc") != Some(&json!("2.0")) {
            bail!("{}: stdout line is not JSON-RPC 2.0: {line}", self.name);
        }
        Ok(message)
    }

    /// Sends a request and waits for the answer with the same id (result or error object).
    pub fn request(&mut self, method: &str, params: Value) -> Result<Value> {
        let id = self.take_id();
        let request = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.send_line(&request.to_string())?;
        self.answer_to(&json!(id), &request)
    }

    /// Waits for the answer to `id`, keeping other messages in `notifications`.
    pub fn answer_to(&mut self, id: &Value, sent: &Value) -> Result<Value> {
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let message = self
                .next_message(remaining)
                .with_context(|| format!("waiting for the answer to {sent}"))?;
            if message.get("id") == Some(id) && message.get("method").is_none() {
                return Ok(message);
            }
            self.notifications.push_back(message);
        }
    }

    /// Sends a notification.
    pub fn notify(&mut self, method: &str, params: Value) -> Result<()> {
        self.send_line(&json!({"jsonrpc": "2.0", "method": method, "params": params}).to_string())
    }

    /// Runs the `initialize` handshake with the given client capabilities; returns the result.
    pub fn initialize_with(&mut self, capabilities: Value) -> Result<Value> {
        let answer = self.request(
            "initialize",
            json!({"protocolVersion": PROTOCOL_VERSION, "capabilities": capabilities, "clientInfo": {"name": "mcp-harness", "version": "1"}}),
        )?;
        let result = answer
            .get("result")
            .cloned()
            .ok_or_else(|| anyhow!("initialize failed: {answer}"))?;
        self.notify("notifications/initialized", json!({}))?;
        Ok(result)
    }

    /// Runs the `initialize` handshake without client capabilities.
    pub fn initialize(&mut self) -> Result<Value> {
        self.initialize_with(json!({}))
    }

    /// Calls a tool; returns the `result` object (check `isError`), or fails on a JSON-RPC error.
    pub fn call_tool(&mut self, name: &str, arguments: Value) -> Result<Value> {
        let answer = self.request("tools/call", json!({"name": name, "arguments": arguments}))?;
        answer.get("result").cloned().ok_or_else(|| {
            anyhow!("tools/call {name} {arguments} answered with an error: {answer}")
        })
    }

    /// For a test: spawns `binary` with `env`, each of `overrides` replacing the variable of its
    /// name (or adding it), and initializes it; panics with the reason if either fails.
    pub fn started(binary: &Path, env: &[(&str, &str)], overrides: &[(&str, &str)]) -> StdioServer {
        let mut env = env.to_vec();
        for (key, value) in overrides {
            env.retain(|(k, _)| k != key);
            env.push((key, value));
        }
        let mut server = StdioServer::spawn(binary, &[], &env)
            .unwrap_or_else(|e| panic!("{}: {e:#}", binary.display()));
        if let Err(e) = server.initialize() {
            panic!("{}: {e:#}\nstderr:\n{}", binary.display(), server.stderr());
        }
        server
    }

    /// For a test: calls a tool that must succeed and returns its `structuredContent`; a tool
    /// error or a failed call panics with the arguments, the answer and the server's stderr.
    pub fn call_ok(&mut self, name: &str, arguments: Value) -> Value {
        let result = self
            .call_tool(name, arguments.clone())
            .unwrap_or_else(|e| panic!("{name} {arguments}: {e:#}\nstderr:\n{}", self.stderr()));
        assert_ne!(
            result["isError"],
            true,
            "{name} {arguments}: {}\nstderr:\n{}",
            result_text(&result),
            self.stderr()
        );
        result["structuredContent"].clone()
    }

    /// For a test: calls a tool that must fail and returns its error text; success panics.
    pub fn call_err(&mut self, name: &str, arguments: Value) -> String {
        let result = self
            .call_tool(name, arguments.clone())
            .unwrap_or_else(|e| panic!("{name} {arguments}: {e:#}\nstderr:\n{}", self.stderr()));
        assert_eq!(result["isError"], true, "{name} {arguments}: {result}");
        result_text(&result)
    }

    /// Waits up to `timeout` for the process to exit; returns its status if it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        wait_for_exit(&mut self.child, timeout)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for StdioServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The text of a tool result's first text block.
pub fn result_text(result: &Value) -> String {
    result["content"]
        .as_array()
        .and_then(|blocks| blocks.iter().find_map(|b| b["text"].as_str()))
        .unwrap_or_default()
        .to_owned()
}

/// A server process serving streamable HTTP, and a client for it.
pub struct HttpServer {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    stderr: Arc<Mutex<String>>,
    /// A client with no default headers.
    pub client: reqwest::blocking::Client,
    /// Things that must live as long as the server, such as its stand-in backend.
    guards: Vec<Box<dyn std::any::Any + Send + Sync>>,
}

impl HttpServer {
    /// Starts `binary --transport http` on a free loopback port and waits until it listens.
    pub fn start(binary: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<HttpServer> {
        let mut all_args = vec!["--transport", "http"];
        all_args.extend_from_slice(args);
        let (child, addr, stderr) = start_listening(binary, &all_args, env)?;
        let client = reqwest::blocking::Client::builder()
            .timeout(ANSWER_TIMEOUT)
            .build()?;
        Ok(HttpServer {
            child,
            base: format!("http://{addr}"),
            stderr,
            client,
            guards: Vec::new(),
        })
    }

    /// Keeps `guard` (for instance the server's `TestEnvironment` with its stand-in) alive until
    /// the server is stopped.
    pub fn keep_alive<T: Send + Sync + 'static>(mut self, guard: T) -> Self {
        self.guards.push(Box::new(guard));
        self
    }

    /// Everything the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Waits up to `timeout` for the process to exit; returns its status if it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        wait_for_exit(&mut self.child, timeout)
    }

    /// `http://127.0.0.1:<port>/mcp`.
    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.base)
    }

    /// A POST to `/mcp` with the headers MCP requires, plus `extra` headers.
    pub fn post(
        &self,
        body: &Value,
        session: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Result<HttpAnswer> {
        self.post_with(&self.client, body, session, extra)
    }

    /// `initialize` over HTTP; returns the session id (if stateful) and the result.
    pub fn initialize(&self, extra: &[(&str, &str)]) -> Result<(Option<String>, Value)> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": PROTOCOL_VERSION, "capabilities": {}, "clientInfo": {"name": "mcp-harness", "version": "1"}}});
        let answer = self.post(&body, None, extra)?;
        let session = answer.session.clone();
        let message = answer
            .message_with_id(&json!(1))
            .ok_or_else(|| anyhow!("initialize got {}: {}", answer.status, answer.body))?;
        if let Some(session) = &session {
            let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
            let ack = self.post(&initialized, Some(session), extra)?;
            if ack.status != 202 {
                bail!(
                    "notifications/initialized got {} instead of 202: {}",
                    ack.status,
                    ack.body
                );
            }
        }
        Ok((session, message["result"].clone()))
    }

    /// Calls a tool over HTTP; returns the `result` object.
    pub fn call_tool(
        &self,
        session: Option<&str>,
        id: u64,
        name: &str,
        arguments: Value,
        extra: &[(&str, &str)],
    ) -> Result<Value> {
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": name, "arguments": arguments}});
        let answer = self.post(&body, session, extra)?;
        let message = answer
            .message_with_id(&json!(id))
            .ok_or_else(|| anyhow!("tools/call {name} got {}: {}", answer.status, answer.body))?;
        message
            .get("result")
            .cloned()
            .ok_or_else(|| anyhow!("tools/call {name} answered with an error: {message}"))
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer with its JSON-RPC messages, whether sent as JSON or as SSE events.
#[derive(Debug)]
pub struct HttpAnswer {
    /// The status code.
    pub status: u16,
    /// The `content-type`.
    pub content_type: String,
    /// The `mcp-session-id` header.
    pub session: Option<String>,
    /// The raw body.
    pub body: String,
    /// The JSON-RPC messages in the body.
    pub messages: Vec<Value>,
}

impl HttpAnswer {
    fn read(mut response: reqwest::blocking::Response) -> Result<HttpAnswer> {
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header("content-type").unwrap_or_default();
        let session = header("mcp-session-id");
        let mut body = String::new();
        response.read_to_string(&mut body)?;
        Ok(HttpAnswer::new(status, content_type, session, body))
    }

    /// An answer from its parts, its messages parsed from `body` (one JSON message, or the
    /// `data:` lines of an SSE stream).
    pub fn new(
        status: u16,
        content_type: String,
        session: Option<String>,
        body: String,
    ) -> HttpAnswer {
        let messages = message_texts(&content_type, &body)
            .filter_map(|text| serde_json::from_str(text).ok())
            .collect();
        HttpAnswer {
            status,
            content_type,
            session,
            body,
            messages,
        }
    }

    /// The message answering `id`.
    pub fn message_with_id(&self, id: &Value) -> Option<Value> {
        self.messages
            .iter()
            .find(|m| m.get("id") == Some(id))
            .cloned()
    }
}

/// The JSON text of each message in an answer's body: the body itself, or the `data:` lines of
/// an SSE stream (`content_type` `text/event-stream`).
pub fn message_texts<'a>(content_type: &str, body: &'a str) -> impl Iterator<Item = &'a str> {
    let stream = content_type.starts_with("text/event-stream");
    let lines = stream.then(|| {
        body.lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .map(str::trim)
    });
    let whole = (!stream).then_some(body);
    lines.into_iter().flatten().chain(whole)
}

/// Helpers for the `mcp-bench` benchmark, which drives one HTTP server from many clients at once.
impl HttpServer {
    /// The server's process id, e.g. to read its memory use from `/proc/<pid>/status`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Like [`HttpServer::post`], but over `client` instead of [`HttpServer::client`], so that
    /// several threads can act as separate MCP clients, each with its own connections.
    pub fn post_with(
        &self,
        client: &reqwest::blocking::Client,
        body: &Value,
        session: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Result<HttpAnswer> {
        let mut request = client
            .post(self.mcp_url())
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body.to_string());
        if let Some(session) = session {
            request = request.header("mcp-session-id", session);
        }
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        HttpAnswer::read(request.send().with_context(|| format!("POST {body}"))?)
    }
}

/// Where a [`StdioServer`]'s stdout lines come from.
enum Lines {
    /// A thread reads them as they come and hands them over.
    Thread(Receiver<String>),
    /// Read on the caller's thread when asked for.
    Inline(InlineLines),
}

impl Lines {
    /// The next line, waiting up to `timeout`.
    fn next(&mut self, timeout: Duration) -> Result<String, RecvTimeoutError> {
        match self {
            Lines::Thread(lines) => lines.recv_timeout(timeout),
            Lines::Inline(lines) => lines.next(timeout),
        }
    }
}

/// A child's stdout split into lines on the reading thread, with a timeout from poll(2).
struct InlineLines {
    stdout: std::process::ChildStdout,
    buffer: Vec<u8>,
    /// What each read fills, allocated once (zeroing 64 KiB per read showed in the timings).
    chunk: Box<[u8]>,
    /// Where the unread part of `buffer` starts.
    start: usize,
    closed: bool,
}

impl InlineLines {
    fn new(stdout: std::process::ChildStdout) -> InlineLines {
        InlineLines {
            stdout,
            buffer: Vec::with_capacity(64 * 1024),
            chunk: vec![0; 64 * 1024].into_boxed_slice(),
            start: 0,
            closed: false,
        }
    }

    /// The next line (without its `\n` or `\r\n`), as `BufRead::lines` gives them: a last line
    /// without a newline still counts; bytes that are not UTF-8 end the stream.
    fn next(&mut self, timeout: Duration) -> Result<String, RecvTimeoutError> {
        let deadline = Instant::now() + timeout;
        loop {
            let unread = &self.buffer[self.start..];
            let line_end = unread.iter().position(|&b| b == b'\n');
            if line_end.is_some() || (self.closed && !unread.is_empty()) {
                let length = line_end.unwrap_or(unread.len());
                let mut line = &unread[..length];
                if line.last() == Some(&b'\r') {
                    line = &line[..line.len() - 1];
                }
                let line = String::from_utf8(line.to_vec());
                self.start += line_end.map_or(length, |end| end + 1);
                if self.start == self.buffer.len() {
                    self.buffer.clear();
                    self.start = 0;
                }
                return line.map_err(|_| {
                    self.closed = true;
                    self.buffer.clear();
                    self.start = 0;
                    RecvTimeoutError::Disconnected
                });
            }
            if self.closed {
                return Err(RecvTimeoutError::Disconnected);
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(RecvTimeoutError::Timeout);
            }
            if !self.readable_within(remaining) {
                continue;
            }
            match self.stdout.read(&mut self.chunk) {
                Ok(0) | Err(_) => self.closed = true,
                Ok(read) => self.buffer.extend_from_slice(&self.chunk[..read]),
            }
        }
    }

    /// Whether stdout has something to read (or has closed) within `wait`.
    fn readable_within(&self, wait: Duration) -> bool {
        use rustix::event::{PollFd, PollFlags, Timespec, poll};
        let mut fds = [PollFd::new(&self.stdout, PollFlags::IN)];
        let timeout = Timespec {
            tv_sec: wait.as_secs().try_into().unwrap_or(i64::MAX),
            tv_nsec: wait.subsec_nanos().into(),
        };
        matches!(poll(&mut fds, Some(&timeout)), Ok(ready) if ready > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `sh` running `script`, and its stdout read inline.
    fn inline(script: &str) -> (Child, InlineLines) {
        let mut child = Command::new("sh")
            .args(["-c", script])
            .stdout(Stdio::piped())
            .spawn()
            .expect("sh starts");
        let lines = InlineLines::new(child.stdout.take().expect("stdout"));
        (child, lines)
    }

    #[test]
    fn inline_lines_split_as_buf_read_does() {
        let (mut child, mut lines) = inline(r"printf 'first\nsecond\r\n\nlast without newline'");
        let wait = Duration::from_secs(10);
        assert_eq!(lines.next(wait), Ok("first".to_owned()));
        assert_eq!(lines.next(wait), Ok("second".to_owned()));
        assert_eq!(lines.next(wait), Ok(String::new()));
        assert_eq!(lines.next(wait), Ok("last without newline".to_owned()));
        assert_eq!(lines.next(wait), Err(RecvTimeoutError::Disconnected));
        child.wait().expect("sh exits");
    }

    #[test]
    fn inline_lines_time_out_then_read_what_comes_later() {
        let (mut child, mut lines) = inline("sleep 1; echo late");
        let started = Instant::now();
        assert_eq!(
            lines.next(Duration::from_millis(100)),
            Err(RecvTimeoutError::Timeout)
        );
        assert!(started.elapsed() >= Duration::from_millis(100));
        assert_eq!(lines.next(Duration::from_secs(10)), Ok("late".to_owned()));
        child.wait().expect("sh exits");
    }

    #[test]
    fn inline_lines_end_at_bytes_that_are_not_utf8() {
        let (mut child, mut lines) = inline(r"printf 'ok\n\377\376\nnever read\n'");
        let wait = Duration::from_secs(10);
        assert_eq!(lines.next(wait), Ok("ok".to_owned()));
        assert_eq!(lines.next(wait), Err(RecvTimeoutError::Disconnected));
        assert_eq!(lines.next(wait), Err(RecvTimeoutError::Disconnected));
        child.wait().expect("sh exits");
    }
}
