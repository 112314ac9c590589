//! The stdio transport, with framing rmcp leaves out: an oversized line gets an error answer
//! (with the request's id when it can be found) instead of silence, and a line that is not JSON
//! (including a lone surrogate escape, bytes that are not UTF-8, or nesting 128 levels deep,
//! which rmcp would drop without an answer) gets a JSON-RPC parse error with the request's id
//! when a top-level `"id"` can be found. Everything else passes through to rmcp unchanged; rmcp
//! answers valid JSON that is not JSON-RPC with -32600 itself.
//!
//! Standard output is written by one task only, so answers and framing errors never interleave
//! within a line.

use rmcp::service::ServiceExt;
use rmcp::{RoleServer, Service};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
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
    serve_streams(
        service,
        standard_input(),
        standard_output(),
        max_line_bytes,
        shutdown,
    )
    .await
}

/// Standard input as an async reader. When it is a pipe, as hosts that launch a server give it,
/// it is read through the runtime's event loop: `tokio::io::stdin` instead hands every read to a
/// blocking thread and back, two thread hops per request, which the profile of a `tools/call`
/// showed among the largest costs. Anything else (a file, a terminal) falls back to
/// `tokio::io::stdin`.
fn standard_input() -> Box<dyn AsyncRead + Unpin + Send> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        let pipe = std::io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .and_then(tokio::net::unix::pipe::Receiver::from_owned_fd);
        if let Ok(pipe) = pipe {
            return Box::new(pipe);
        }
    }
    Box::new(tokio::io::stdin())
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
    // rmcp reads from `server_in` and writes to `server_out`; the pumps sit on the other ends.
    let (requests_tx, server_in) = tokio::io::duplex(256 * 1024);
    let (server_out, responses_rx) = tokio::io::duplex(256 * 1024);
    let (framing_errors_tx, framing_errors_rx) = mpsc::channel::<Vec<u8>>(64);

    let transport =
        rmcp::transport::async_rw::AsyncRwTransport::<RoleServer, _, _>::new(server_in, server_out)
            .with_max_line_length(max_line_bytes.saturating_add(2));
    let writer = tokio::spawn(write_output(responses_rx, framing_errors_rx, output));
    let reader = tokio::spawn(read_input(
        input,
        requests_tx,
        framing_errors_tx,
        max_line_bytes,
    ));

    let running = service
        .serve_with_ct(transport, shutdown.child_token())
        .await
        .map_err(|error| {
            std::io::Error::other(format!("could not start the MCP session: {error}"))
        })?;
    let quit = running.waiting().await;
    tracing::debug!(?quit, "stdio session ended");
    reader.abort();
    match writer.await {
        Ok(result) => result,
        Err(join_error) => Err(std::io::Error::other(join_error)),
    }
}

async fn read_input<R: AsyncRead + Unpin>(
    input: R,
    mut to_server: tokio::io::DuplexStream,
    framing_errors: mpsc::Sender<Vec<u8>>,
    max_line_bytes: usize,
) {
    let mut reader = BufReader::with_capacity(64 * 1024, input);
    let mut line: Vec<u8> = Vec::new();
    let mut oversized_len: Option<usize> = None;
    loop {
        let chunk = match reader.fill_buf().await {
            Ok(chunk) => chunk,
            Err(error) => {
                tracing::error!(%error, "could not read standard input");
                break;
            }
        };
        if chunk.is_empty() {
            // End of input: a last line without a newline still counts.
            if !line.is_empty() || oversized_len.is_some() {
                forward(
                    &line,
                    oversized_len,
                    &mut to_server,
                    &framing_errors,
                    max_line_bytes,
                )
                .await;
            }
            break;
        }
        let (piece, consumed, complete) = match chunk.iter().position(|b| *b == b'\n') {
            Some(pos) => (&chunk[..pos], pos + 1, true),
            None => (chunk, chunk.len(), false),
        };
        match &mut oversized_len {
            Some(len) => *len += piece.len(),
            None if line.len() + piece.len() > max_line_bytes => {
                oversized_len = Some(line.len() + piece.len());
                let keep = ID_SEARCH_PREFIX.saturating_sub(line.len()).min(piece.len());
                line.extend_from_slice(&piece[..keep]);
            }
            None => line.extend_from_slice(piece),
        }
        reader.consume(consumed);
        if complete {
            let ok = forward(
                &line,
                oversized_len,
                &mut to_server,
                &framing_errors,
                max_line_bytes,
            )
            .await;
            line.clear();
            oversized_len = None;
            if !ok {
                break;
            }
        }
    }
    // Dropping `to_server` tells rmcp that the client has gone.
    let _ = to_server.shutdown().await;
}

/// Passes one complete line on, or answers it with a framing error. False when rmcp has gone.
async fn forward(
    line: &[u8],
    oversized_len: Option<usize>,
    to_server: &mut tokio::io::DuplexStream,
    framing_errors: &mpsc::Sender<Vec<u8>>,
    max_line_bytes: usize,
) -> bool {
    if let Some(len) = oversized_len {
        tracing::warn!(
            bytes = len,
            limit = max_line_bytes,
            "rejected an oversized message"
        );
        let answer = error_line(&Rejection {
            id: find_id(line),
            code: INVALID_REQUEST,
            message: format!(
                "message of {len} bytes exceeds the limit of {max_line_bytes} bytes (MCP_MAX_REQUEST_BYTES)"
            ),
        });
        return framing_errors.send(answer).await.is_ok();
    }
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return true;
    }
    // rmcp skips a UTF-8 byte order mark; the check must see what rmcp will parse.
    let parsed = line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(line);
    if let Err(rejection) = check_syntax(parsed, "line") {
        tracing::debug!(message = %rejection.message, "answered a line that is not JSON with a parse error");
        return framing_errors.send(error_line(&rejection)).await.is_ok();
    }
    let mut framed = Vec::with_capacity(line.len() + 1);
    framed.extend_from_slice(line);
    framed.push(b'\n');
    to_server.write_all(&framed).await.is_ok()
}

fn error_line(rejection: &Rejection) -> Vec<u8> {
    let mut bytes = rejection.to_json().to_string().into_bytes();
    bytes.push(b'\n');
    bytes
}

async fn write_output<W: AsyncWrite + Unpin>(
    responses: tokio::io::DuplexStream,
    mut framing_errors: mpsc::Receiver<Vec<u8>>,
    mut output: W,
) -> std::io::Result<()> {
    let mut responses = BufReader::new(responses);
    // Kept across iterations: `read_until` appends partial reads here when another branch wins.
    let mut line = Vec::new();
    loop {
        tokio::select! {
            Some(answer) = framing_errors.recv() => {
                output.write_all(&answer).await?;
                output.flush().await?;
            }
            read = responses.read_until(b'\n', &mut line) => {
                if read? == 0 {
                    break;
                }
                output.write_all(&line).await?;
                output.flush().await?;
                line.clear();
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// A server with rmcp's default answers: the framing under test never reaches it.
    #[derive(Clone)]
    struct Bare;

    impl rmcp::ServerHandler for Bare {}

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
