//! The stdio transport, with framing rmcp leaves out: an oversized line gets an error answer
//! (with the request's id when it can be found) instead of silence, and a line that is not JSON
//! (including a lone surrogate escape, bytes that are not UTF-8, or nesting 128 levels deep,
//! which rmcp would drop without an answer) gets a JSON-RPC parse error with the request's id
//! when a top-level `"id"` can be found. Everything else passes through to rmcp unchanged; rmcp
//! answers valid JSON that is not JSON-RPC with -32600 itself.
//!
//! The framing is rmcp's own transport ([`rmcp::transport::Transport`]), implemented here over the
//! streams themselves: rmcp's service loop reads a line, checks and parses it in its own task, and
//! each answer is written straight to the output. (It used to be a reader task feeding rmcp
//! through an in-memory pipe and a writer task draining another, three task hops and two copies
//! per message more.) Every write goes through one lock and whole lines only, so answers and
//! framing errors never interleave within a line.

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::ErrorData;
use rmcp::service::{RxJsonRpcMessage, ServiceExt, TxJsonRpcMessage};
use rmcp::transport::Transport;
use rmcp::transport::async_rw::{JsonRpcMessageCodec, JsonRpcMessageCodecError};
use rmcp::{RoleServer, Service};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio_util::bytes::BytesMut;
use tokio_util::codec::Decoder;
use tokio_util::sync::CancellationToken;

use crate::framing::{INVALID_REQUEST, Rejection, check_syntax, find_id};

/// How much of an oversized line is kept to look for its id.
const ID_SEARCH_PREFIX: usize = 4096;

/// Serves `service` over the process's stdin and stdout until stdin closes or `shutdown` fires.
pub async fn serve_stdio<S: Service<RoleServer>>(
    service: S,
    max_line_bytes: usize,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let (input, pipe) = standard_input();
    serve_lines(
        service,
        input,
        standard_output(),
        max_line_bytes,
        shutdown,
        pipe,
    )
    .await
}

/// Standard input as an async reader. When it is a pipe, as hosts that launch a server give it,
/// it is read through the runtime's event loop: `tokio::io::stdin` instead hands every read to a
/// blocking thread and back, two thread hops per request, which the profile of a `tools/call`
/// showed among the largest costs. Anything else (a file, a terminal) falls back to
/// `tokio::io::stdin`. The flag says whether it is the pipe.
fn standard_input() -> (Box<dyn AsyncRead + Unpin + Send>, bool) {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        let pipe = std::io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .and_then(tokio::net::unix::pipe::Receiver::from_owned_fd);
        if let Ok(pipe) = pipe {
            return (Box::new(pipe), true);
        }
    }
    (Box::new(tokio::io::stdin()), false)
}

/// Standard output as an async writer: through the event loop when it is a pipe of its own, for
/// the same reason as [`standard_input`]. A pipe shared with standard error (`2>&1`) keeps the
/// blocking writer, since making it non-blocking would also make the log writer's writes fail
/// when the pipe is full.
fn standard_output() -> Box<dyn AsyncWrite + Unpin + Send> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        use std::os::unix::fs::MetadataExt;
        let identity = |fd: std::os::fd::BorrowedFd<'_>| {
            fd.try_clone_to_owned()
                .and_then(|owned| std::fs::File::from(owned).metadata())
                .map(|m| (m.dev(), m.ino()))
                .ok()
        };
        let stdout = std::io::stdout();
        let stderr = std::io::stderr();
        let shared = identity(stdout.as_fd()) == identity(stderr.as_fd());
        if !shared {
            let pipe = stdout
                .as_fd()
                .try_clone_to_owned()
                .and_then(tokio::net::unix::pipe::Sender::from_owned_fd);
            if let Ok(pipe) = pipe {
                return Box::new(pipe);
            }
        }
    }
    Box::new(tokio::io::stdout())
}

/// Serves `service` over any pair of byte streams, with the framing described in the module.
pub async fn serve_streams<S, R, W>(
    service: S,
    input: R,
    output: W,
    max_line_bytes: usize,
    shutdown: CancellationToken,
) -> std::io::Result<()>
where
    S: Service<RoleServer>,
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    serve_lines(service, input, output, max_line_bytes, shutdown, false).await
}

/// [`serve_streams`]; `standard_input` says `input` is the process's own, whose messages keep
/// the thread awake a moment ([`stay_awake`]).
async fn serve_lines<S, R, W>(
    service: S,
    input: R,
    output: W,
    max_line_bytes: usize,
    shutdown: CancellationToken,
    standard_input: bool,
) -> std::io::Result<()>
where
    S: Service<RoleServer>,
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let output = Arc::new(Output::new(output));
    let transport = LineTransport {
        input: BufReader::with_capacity(64 * 1024, input),
        line: Vec::new(),
        oversized_len: None,
        ended: false,
        max_line_bytes,
        decoder: JsonRpcMessageCodec::default(),
        decode_buffer: BytesMut::new(),
        unanswered: None,
        flush_owed: false,
        output: output.clone(),
        keep_awake: standard_input,
    };
    let running = service
        .serve_with_ct(transport, shutdown.child_token())
        .await
        .map_err(|error| {
            std::io::Error::other(format!("could not start the MCP session: {error}"))
        })?;
    let quit = running.waiting().await;
    tracing::debug!(?quit, "stdio session ended");
    // rmcp has sent what was in flight and closed the transport, which flushed the output.
    output.outcome()
}

/// The output side: whole lines, written under one lock.
struct Output<W> {
    writer: tokio::sync::Mutex<Unwritten<W>>,
    /// The first write that failed, reported when the session ends.
    failure: std::sync::Mutex<Option<std::io::Error>>,
}

/// The output stream and the bytes accepted but not yet written to it. A line is appended in
/// full before any await, and bytes leave the buffer only once written, so a write cancelled
/// half-way (rmcp polls `receive` in a `select!`) never leaves half a line: whoever holds the
/// lock next writes the rest first.
struct Unwritten<W> {
    stream: W,
    bytes: Vec<u8>,
}

impl<W: AsyncWrite + Unpin> Output<W> {
    fn new(stream: W) -> Output<W> {
        Output {
            writer: tokio::sync::Mutex::new(Unwritten {
                stream,
                bytes: Vec::new(),
            }),
            failure: std::sync::Mutex::new(None),
        }
    }

    /// Writes `message` as one line after anything still unwritten. It is serialised straight
    /// into the output's buffer, whose room stays from one message to the next: no buffer of its
    /// own to grow (five reallocations for a 3 KB answer) and copy over.
    async fn write_message(&self, message: &impl serde::Serialize) -> std::io::Result<()> {
        let mut writer = self.writer.lock().await;
        let start = writer.bytes.len();
        if let Err(error) = serde_json::to_writer(&mut writer.bytes, message) {
            // Nothing of a message that could not be written goes out.
            writer.bytes.truncate(start);
            return Err(error.into());
        }
        writer.bytes.push(b'\n');
        let written = writer.flush().await;
        // One large answer (a big resource) should not hold its size for the session's life.
        if writer.bytes.is_empty() && writer.bytes.capacity() > KEPT_OUTPUT_BYTES {
            writer.bytes = Vec::new();
        }
        if let Err(error) = &written {
            self.remember(error);
        }
        written
    }

    /// Writes anything still unwritten.
    async fn flush(&self) -> std::io::Result<()> {
        let written = self.writer.lock().await.flush().await;
        if let Err(error) = &written {
            self.remember(error);
        }
        written
    }

    fn remember(&self, error: &std::io::Error) {
        let mut failure = self
            .failure
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if failure.is_none() {
            *failure = Some(std::io::Error::new(error.kind(), error.to_string()));
        }
    }

    /// The first write error of the session, if any.
    fn outcome(&self) -> std::io::Result<()> {
        let failure = self
            .failure
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        match failure {
            None => Ok(()),
            Some(error) => Err(error),
        }
    }
}

impl<W: AsyncWrite + Unpin> Unwritten<W> {
    async fn flush(&mut self) -> std::io::Result<()> {
        while !self.bytes.is_empty() {
            let written = self.stream.write(&self.bytes).await?;
            if written == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            self.bytes.drain(..written);
        }
        self.stream.flush().await
    }
}

/// The most room the output buffer keeps between messages.
const KEPT_OUTPUT_BYTES: usize = 64 * 1024;

/// rmcp's transport over a line-oriented pair of streams, with the framing described in the
/// module.
struct LineTransport<R, W> {
    input: BufReader<R>,
    /// The line read so far (for an oversized line, only its start, to look for its id).
    line: Vec<u8>,
    /// The full length of the line being read once it is over the limit.
    oversized_len: Option<usize>,
    /// The input has ended.
    ended: bool,
    max_line_bytes: usize,
    /// rmcp's own decoding of a line, so messages parse exactly as rmcp parses them.
    decoder: JsonRpcMessageCodec<RxJsonRpcMessage<RoleServer>>,
    decode_buffer: BytesMut,
    /// An error answer to a line that is not a message, not yet (fully) written.
    unanswered: Option<Vec<u8>>,
    /// A write of an error answer was cut short; its rest is still to be written.
    flush_owed: bool,
    output: Arc<Output<W>>,
    /// Messages keep the thread awake a moment ([`stay_awake`]); only for the process's own
    /// standard input.
    keep_awake: bool,
}

impl<R, W> LineTransport<R, W>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send,
{
    /// Reads up to the end of the next line. Cancel-safe: what has been read stays in `self`.
    /// False at the end of the input (a last line without a newline is then complete).
    async fn read_line(&mut self) -> bool {
        loop {
            let chunk = match self.input.fill_buf().await {
                Ok(chunk) => chunk,
                Err(error) => {
                    tracing::error!(%error, "could not read standard input");
                    // What was read of an unfinished line is not a message.
                    self.line.clear();
                    self.oversized_len = None;
                    return false;
                }
            };
            if chunk.is_empty() {
                return false;
            }
            let (piece, consumed, complete) = match chunk.iter().position(|b| *b == b'\n') {
                Some(pos) => (&chunk[..pos], pos + 1, true),
                None => (chunk, chunk.len(), false),
            };
            match &mut self.oversized_len {
                Some(len) => *len += piece.len(),
                None if self.line.len() + piece.len() > self.max_line_bytes => {
                    self.oversized_len = Some(self.line.len() + piece.len());
                    let keep = ID_SEARCH_PREFIX
                        .saturating_sub(self.line.len())
                        .min(piece.len());
                    self.line.extend_from_slice(&piece[..keep]);
                }
                None => self.line.extend_from_slice(piece),
            }
            self.input.consume(consumed);
            if complete {
                return true;
            }
        }
    }

    /// Checks and parses the complete line in `self.line`, and clears it: the message, or
    /// `None` when the line was answered with an error or there is nothing to pass on.
    fn take_line(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        let line = std::mem::take(&mut self.line);
        let oversized_len = self.oversized_len.take();
        let outcome = self.examine(&line, oversized_len);
        // Keep the allocation for the next line.
        self.line = line;
        self.line.clear();
        outcome
    }

    fn examine(
        &mut self,
        line: &[u8],
        oversized_len: Option<usize>,
    ) -> Option<RxJsonRpcMessage<RoleServer>> {
        let max_line_bytes = self.max_line_bytes;
        if let Some(len) = oversized_len {
            tracing::warn!(
                bytes = len,
                limit = max_line_bytes,
                "rejected an oversized message"
            );
            self.unanswered = Some(error_line(&Rejection {
                id: find_id(line),
                code: INVALID_REQUEST,
                message: format!(
                    "message of {len} bytes exceeds the limit of {max_line_bytes} bytes (MCP_MAX_REQUEST_BYTES)"
                ),
            }));
            return None;
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        // rmcp skips a UTF-8 byte order mark; the check must see what rmcp will parse.
        let parsed = line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(line);
        if let Some(call) = plain_tool_call(parsed) {
            return Some(call);
        }
        if let Err(rejection) = check_syntax(parsed, "line") {
            tracing::debug!(message = %rejection.message, "answered a line that is not JSON with a parse error");
            self.unanswered = Some(error_line(&rejection));
            return None;
        }
        self.decode_buffer.clear();
        self.decode_buffer.extend_from_slice(line);
        self.decode_buffer.extend_from_slice(b"\n");
        match self.decoder.decode(&mut self.decode_buffer) {
            Ok(Some(message)) => Some(message),
            // A notification rmcp ignores for compatibility.
            Ok(None) => None,
            Err(error) => {
                // JSON (the check passed) that is not a JSON-RPC message: rmcp's stream
                // transport answers it with this error, without an id.
                tracing::debug!(%error, "answered a message that is not JSON-RPC");
                if let JsonRpcMessageCodecError::Serde(_) = error {
                    let answer = TxJsonRpcMessage::<RoleServer>::error(
                        ErrorData::invalid_request("Invalid request", None),
                        None,
                    );
                    match serde_json::to_vec(&answer) {
                        Ok(mut bytes) => {
                            bytes.push(b'\n');
                            self.unanswered = Some(bytes);
                        }
                        Err(error) => tracing::error!(%error, "could not serialise an answer"),
                    }
                }
                None
            }
        }
    }

    /// Writes the pending error answer, if any, and anything an earlier cancelled write left.
    /// False when the output has failed.
    async fn answer_pending(&mut self) -> bool {
        if self.unanswered.is_none() && !self.flush_owed {
            return true;
        }
        // Cancelled while waiting for the lock: nothing has changed, the next call starts over.
        let mut writer = self.output.writer.lock().await;
        if let Some(answer) = self.unanswered.take() {
            writer.bytes.extend_from_slice(&answer);
        }
        // Cancelled while writing: the rest stays in the output's buffer, written by the next
        // holder of the lock or by the next call here.
        self.flush_owed = true;
        let written = writer.flush().await;
        self.flush_owed = false;
        if let Err(error) = &written {
            self.output.remember(error);
        }
        written.is_ok()
    }
}

impl<R, W> Transport<RoleServer> for LineTransport<R, W>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let output = self.output.clone();
        let keep_awake = self.keep_awake;
        async move {
            let written = output.write_message(&item).await;
            if keep_awake {
                self::keep_awake();
            }
            written
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        loop {
            if !self.answer_pending().await {
                return None;
            }
            if self.ended {
                return None;
            }
            if !self.read_line().await {
                self.ended = true;
                // End of input: a last line without a newline still counts.
                if self.line.is_empty() && self.oversized_len.is_none() {
                    return None;
                }
            }
            if let Some(message) = self.take_line() {
                if self.keep_awake {
                    keep_awake();
                }
                return Some(message);
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.answer_pending().await;
        self.output.flush().await
    }
}

/// How long the stdio thread stays awake after a message in either direction, checking for the
/// next event without sleeping. A client that calls again at once (an agent's loop, a batch)
/// sends within tens of microseconds, and a quick call's blocking task finishes as soon; either
/// then finds the thread awake. Asleep, the thread is woken by an interrupt from another core,
/// which on a virtual machine without halt polling costs more than the server's whole work for a
/// call: on the 2-core development VM, `mcp-bench`'s stdio p50 was about 31 µs with client and
/// server on one core and 95–160 µs with them on two; enabling the guest's halt polling (which
/// avoids those interrupts) brought the latter to 33–42 µs, and staying awake to 65 µs.
const AWAKE_FOR: Duration = Duration::from_micros(150);

/// Until when the stdio thread stays awake: [`AWAKE_FOR`] after the last message of the
/// process's own stdio session ([`stay_awake`] reads it).
static AWAKE_UNTIL: std::sync::Mutex<Option<std::time::Instant>> = std::sync::Mutex::new(None);

/// Keeps the stdio thread awake for [`AWAKE_FOR`] from now.
fn keep_awake() {
    keep_awake_for(AWAKE_FOR);
}

fn keep_awake_for(window: Duration) {
    let until = std::time::Instant::now() + window;
    *AWAKE_UNTIL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(until);
}

/// Run by the stdio runtime each time its thread is about to sleep (tokio's `on_thread_park`).
/// Within [`AWAKE_FOR`] of the last message it hands the runtime a task that does nothing, so
/// the runtime checks its events (standard input, sockets, timers, tasks woken by other threads)
/// without blocking and comes back here, and yields the core in between so a client on the same
/// core runs. Past that, or while the client is idle, it returns at once and the thread sleeps.
pub(crate) fn stay_awake() {
    let mut until = AWAKE_UNTIL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    match *until {
        Some(deadline) if std::time::Instant::now() < deadline => {}
        Some(_) => {
            *until = None;
            return;
        }
        None => return,
    }
    drop(until);
    // Tokio skips sleeping when the hook leaves it work, and polls its events once instead.
    drop(tokio::spawn(async {}));
    std::thread::yield_now();
}

/// A `tools/call` request with nothing but a tool name and arguments, the message a session
/// mostly consists of, parsed in one pass into the message rmcp's parse would give; `None` for
/// anything else (metadata, other fields, other methods, escapes in the method), which then takes
/// the general path: the syntax check and rmcp's parse. That parse tries the message kinds and
/// request types one after another over a buffered copy, which profiled at a fifth of a call's
/// instructions.
fn plain_tool_call(line: &[u8]) -> Option<RxJsonRpcMessage<RoleServer>> {
    use rmcp::model::{
        CallToolRequest, CallToolRequestParams, ClientJsonRpcMessage, ClientRequest, JsonObject,
        JsonRpcRequest, JsonRpcVersion2_0, RequestId,
    };

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct PlainCall<'a> {
        #[allow(dead_code, reason = "checked by its type: only \"2.0\" parses")]
        jsonrpc: JsonRpcVersion2_0,
        id: RequestId,
        #[serde(borrow)]
        method: &'a str,
        params: PlainParams,
    }

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct PlainParams {
        name: String,
        arguments: Option<JsonObject>,
    }

    let call: PlainCall = serde_json::from_slice(line).ok()?;
    if call.method != "tools/call" {
        return None;
    }
    let mut params = CallToolRequestParams::new(call.params.name);
    params.arguments = call.params.arguments;
    Some(ClientJsonRpcMessage::Request(JsonRpcRequest::new(
        call.id,
        ClientRequest::CallToolRequest(CallToolRequest::new(params)),
    )))
}

fn error_line(rejection: &Rejection) -> Vec<u8> {
    let mut bytes = rejection.to_json().to_string().into_bytes();
    bytes.push(b'\n');
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// After a message the stdio runtime checks its events without sleeping, and once the window
    /// has passed it sleeps again: an idle session burns no CPU.
    #[test]
    fn a_message_keeps_the_stdio_thread_awake_for_a_moment_only() {
        let parks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = parks.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .on_thread_park(move || {
                counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                stay_awake();
            })
            .build()
            .unwrap();
        let parks_while = |sleep: Duration| {
            let before = parks.load(std::sync::atomic::Ordering::Relaxed);
            runtime.block_on(async { tokio::time::sleep(sleep).await });
            parks.load(std::sync::atomic::Ordering::Relaxed) - before
        };
        // Within the window: every park returns at once and comes back. Each lap yields the
        // core, so on a loaded machine a lap can take a scheduler slice: 43 laps in 100 ms were
        // seen with a build running on both cores, thousands on an idle one.
        keep_awake_for(Duration::from_millis(400));
        let awake = parks_while(Duration::from_millis(100));
        assert!(awake > 10, "{awake} parks in 100 ms while awake");
        // Past it: one park for the whole sleep (a few for a spurious wake-up).
        std::thread::sleep(Duration::from_millis(400));
        let asleep = parks_while(Duration::from_millis(20));
        assert!(asleep <= 3, "{asleep} parks in 20 ms past the window");
        let asleep = parks_while(Duration::from_millis(20));
        assert!(asleep <= 3, "{asleep} parks in 20 ms while idle");
    }

    /// Messages are serialised into the output's own buffer: each goes out as one whole line, one
    /// that cannot be serialised leaves nothing behind, and a large one does not keep its room.
    #[tokio::test]
    async fn messages_are_written_whole_from_the_outputs_buffer() {
        let (mut reader, writer) = tokio::io::duplex(1 << 20);
        let output = Output::new(writer);
        output.write_message(&json!({"id": 1})).await.unwrap();
        let unserialisable = std::collections::HashMap::from([((1, 2), 3)]);
        assert!(output.write_message(&unserialisable).await.is_err());
        let large = "x".repeat(KEPT_OUTPUT_BYTES * 2);
        output
            .write_message(&json!({"id": 2, "text": large}))
            .await
            .unwrap();
        {
            let writer = output.writer.lock().await;
            assert!(writer.bytes.is_empty());
            assert!(writer.bytes.capacity() <= KEPT_OUTPUT_BYTES);
        }
        output.write_message(&json!({"id": 3})).await.unwrap();
        drop(output);
        let mut written = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut reader, &mut written)
            .await
            .unwrap();
        let lines: Vec<Value> = written
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 3, "{written:.200}");
        assert_eq!(lines[0], json!({"id": 1}));
        assert_eq!(lines[1]["text"].as_str().map(str::len), Some(large.len()));
        assert_eq!(lines[2], json!({"id": 3}));
        assert!(written.ends_with('\n'));
    }

    /// A server with rmcp's default answers: the framing under test never reaches it.
    #[derive(Clone)]
    struct Bare;

    impl rmcp::ServerHandler for Bare {}

    /// The one-pass parse of a plain `tools/call` gives exactly rmcp's message, and declines
    /// every line that is not one (which rmcp then parses as always).
    #[test]
    fn plain_tool_calls_parse_as_rmcp_parses_them() {
        let taken = [
            r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"t","arguments":{"a":1,"b":["x"]}}}"#,
            r#"{"id":"abc","method":"tools/call","jsonrpc":"2.0","params":{"arguments":{},"name":"t"}}"#,
            r#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"t"}}"#,
            r#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"té","arguments":null}}"#,
            " {\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"tools/call\",\"params\":{\"name\":\"t\"}} ",
        ];
        for line in taken {
            let rmcp: RxJsonRpcMessage<RoleServer> = serde_json::from_str(line).unwrap();
            let ours = plain_tool_call(line.as_bytes())
                .unwrap_or_else(|| panic!("declined a plain call: {line}"));
            assert_eq!(
                serde_json::to_value(&ours).unwrap(),
                serde_json::to_value(&rmcp).unwrap(),
                "{line}"
            );
        }
        let declined = [
            // Metadata (a progress token) and the fields of a retried call take rmcp's parse.
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","_meta":{"progressToken":1}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","requestState":"s"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t"},"extra":1}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"name":"t"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools\/call","params":{"name":"t"}}"#,
            r#"{"jsonrpc":"1.0","id":1,"method":"tools/call","params":{"name":"t"}}"#,
            r#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"t"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"tools/call","params":{"name":"t"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t"}} x"#,
        ];
        for line in declined {
            assert!(plain_tool_call(line.as_bytes()).is_none(), "{line}");
        }
    }

    /// Lines rmcp would drop without an answer get a parse error carrying the request's id.
    #[tokio::test]
    async fn lines_rmcp_would_drop_get_parse_errors_with_their_ids() {
        let (mut client_in, server_in) = tokio::io::duplex(64 * 1024);
        let (server_out, client_out) = tokio::io::duplex(64 * 1024);
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(serve_streams(
            Bare,
            server_in,
            server_out,
            1024 * 1024,
            shutdown.clone(),
        ));
        let mut lines: Vec<Vec<u8>> = vec![
            br#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"\ud800"}}"#.to_vec(),
            br#"{"jsonrpc":"2.0","id":2,"method":"ping","params":{"x":"#.to_vec(),
            format!(
                r#"{{"jsonrpc":"2.0","id":3,"method":"ping","params":{{"x":{}{}}}}}"#,
                "[".repeat(130),
                "]".repeat(130)
            )
            .into_bytes(),
        ];
        lines[1].extend_from_slice(b"\"\xff\"}}");
        for line in &lines {
            client_in.write_all(line).await.unwrap();
            client_in.write_all(b"\n").await.unwrap();
        }
        let mut answers = BufReader::new(client_out);
        for expected_id in 1..=3 {
            let mut answer = String::new();
            tokio::time::timeout(
                std::time::Duration::from_secs(10),
                answers.read_line(&mut answer),
            )
            .await
            .unwrap()
            .unwrap();
            let answer: Value = serde_json::from_str(&answer).unwrap();
            assert_eq!(answer["id"], json!(expected_id), "{answer}");
            assert_eq!(answer["error"]["code"], -32700, "{answer}");
        }
        shutdown.cancel();
        drop(client_in);
        let _ = server.await;
    }
}
