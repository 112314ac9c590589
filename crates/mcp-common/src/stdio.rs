//! The stdio transport, with framing rmcp leaves out: an oversized line gets an error answer
//! (with the request's id when it can be found) instead of silence, and a line that is not JSON
//! gets a JSON-RPC parse error. Everything else passes through to rmcp unchanged.
//!
//! Standard output is written by one task only, so answers and framing errors never interleave
//! within a line.

use rmcp::service::ServiceExt;
use rmcp::{RoleServer, Service};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

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
        tokio::io::stdin(),
        tokio::io::stdout(),
        max_line_bytes,
        shutdown,
    )
    .await
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
        let answer = error_line(
            find_id(line),
            -32600,
            &format!(
                "message of {len} bytes exceeds the limit of {max_line_bytes} bytes (MCP_MAX_REQUEST_BYTES)"
            ),
        );
        return framing_errors.send(answer).await.is_ok();
    }
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return true;
    }
    if serde_json::from_slice::<serde::de::IgnoredAny>(line).is_err() {
        tracing::debug!("answered a line that is not JSON with a parse error");
        return framing_errors
            .send(error_line(
                Value::Null,
                -32700,
                "Parse error: the line is not valid JSON",
            ))
            .await
            .is_ok();
    }
    let mut framed = Vec::with_capacity(line.len() + 1);
    framed.extend_from_slice(line);
    framed.push(b'\n');
    to_server.write_all(&framed).await.is_ok()
}

fn error_line(id: Value, code: i64, message: &str) -> Vec<u8> {
    let mut bytes =
        json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
            .to_string()
            .into_bytes();
    bytes.push(b'\n');
    bytes
}

/// Finds a top-level-looking `"id": <number or string>` near the start of a message.
fn find_id(prefix: &[u8]) -> Value {
    let text = String::from_utf8_lossy(prefix);
    let Some(start) = text.find("\"id\"") else {
        return Value::Null;
    };
    let rest = text[start + 4..].trim_start();
    let Some(rest) = rest.strip_prefix(':') else {
        return Value::Null;
    };
    let rest = rest.trim_start();
    let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
    match stream.next() {
        Some(Ok(id @ (Value::Number(_) | Value::String(_)))) => id,
        _ => Value::Null,
    }
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

    #[test]
    fn ids_are_found_in_message_prefixes() {
        let cases = [
            (
                r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"#,
                json!(7),
            ),
            (
                r#"{"jsonrpc":"2.0", "id" : "abc-1", "method":"x""#,
                json!("abc-1"),
            ),
            (
                r#"{"jsonrpc":"2.0","method":"x","params":{"text":"aaaa"#,
                Value::Null,
            ),
            (r#"garbage"#, Value::Null),
        ];
        for (prefix, expected) in cases {
            assert_eq!(find_id(prefix.as_bytes()), expected, "{prefix}");
        }
    }
}
