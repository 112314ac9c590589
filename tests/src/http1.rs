//! A minimal keep-alive HTTP/1.1 client over one blocking TCP connection, for the throughput
//! benchmark: a POST is one `write` and the answer is read in place, with no runtime, pool or
//! helper thread. `reqwest::blocking` runs a runtime thread per client and hands every request to
//! it and back, which cost about as much CPU as the server's own work per call; measured on two
//! shared cores, that made the benchmark a measure of its client.
//!
//! It speaks just what an MCP server answers a POST with: a body sized by `Content-Length` or
//! sent `chunked` (an SSE stream that ends with its answer).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

/// Most headers an answer may have.
const MAX_HEADERS: usize = 32;

/// The headers of an MCP POST besides its length and session.
const MCP_HEADERS: &str =
    "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n";

/// Cap on an answer's head or body, so a confused server cannot exhaust memory.
const MAX_ANSWER_BYTES: usize = 16 << 20;

/// An answer as read, its body not parsed yet.
#[derive(Debug)]
pub struct RawAnswer {
    /// The status code.
    pub status: u16,
    /// The `content-type`.
    pub content_type: String,
    /// The `mcp-session-id` header.
    pub session: Option<String>,
    /// The body.
    pub body: String,
}

impl RawAnswer {
    /// The JSON text of each message in the body (see [`crate::message_texts`]).
    pub fn message_texts(&self) -> impl Iterator<Item = &str> {
        crate::message_texts(&self.content_type, &self.body)
    }
}

/// One keep-alive connection to a server's `/mcp`.
pub struct Connection {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
    host: String,
    path: String,
    request: Vec<u8>,
}

impl Connection {
    /// Connects to `base` (`http://host:port`) for POSTs to `path`, each answer awaited at most
    /// `timeout`.
    pub fn open(base: &str, path: &str, timeout: Duration) -> Result<Connection> {
        let host = base
            .strip_prefix("http://")
            .ok_or_else(|| anyhow!("only http:// is supported, got {base}"))?
            .trim_end_matches('/')
            .to_owned();
        let stream = TcpStream::connect(&host).with_context(|| format!("connecting to {host}"))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        Ok(Connection {
            reader: BufReader::with_capacity(64 * 1024, stream.try_clone()?),
            writer: stream,
            host,
            path: path.to_owned(),
            request: Vec::with_capacity(1024),
        })
    }

    /// POSTs `body` as JSON with the headers MCP requires (plus the session's, when given) and
    /// reads the whole answer, leaving its body unparsed: the benchmark's workers check only part
    /// of each answer, since their parsing shares the cores with the server.
    pub fn post(&mut self, body: &[u8], session: Option<&str>) -> Result<RawAnswer> {
        self.send(MCP_HEADERS, body, session)
    }

    /// POSTs `body` as `content_type` with no other headers and reads the whole answer: a
    /// backend's own protocol, such as the XML-RPC that `odoo-bench` times directly.
    pub fn post_as(&mut self, content_type: &str, body: &[u8]) -> Result<RawAnswer> {
        self.send(&format!("Content-Type: {content_type}\r\n"), body, None)
    }

    /// Writes the request, `headers` (whole lines) included, in one `write` and reads the answer.
    fn send(&mut self, headers: &str, body: &[u8], session: Option<&str>) -> Result<RawAnswer> {
        self.request.clear();
        write!(
            self.request,
            "POST {} HTTP/1.1\r\nHost: {}\r\n{headers}Content-Length: {}\r\n",
            self.path,
            self.host,
            body.len()
        )?;
        if let Some(session) = session {
            write!(self.request, "Mcp-Session-Id: {session}\r\n")?;
        }
        self.request.extend_from_slice(b"\r\n");
        self.request.extend_from_slice(body);
        self.writer
            .write_all(&self.request)
            .context("sending the request")?;
        self.read_answer()
    }

    fn read_answer(&mut self) -> Result<RawAnswer> {
        let mut head = Vec::with_capacity(512);
        loop {
            let read = self.reader.read_until(b'\n', &mut head)?;
            if read == 0 {
                bail!("the server closed the connection before answering");
            }
            if head.ends_with(b"\r\n\r\n") {
                break;
            }
            if head.len() > MAX_ANSWER_BYTES {
                bail!("the answer's head exceeds {MAX_ANSWER_BYTES} bytes");
            }
        }
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut headers);
        response.parse(&head).context("parsing the answer's head")?;
        let status = response.code.unwrap_or(0);
        let header = |name: &str| {
            response
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .and_then(|h| std::str::from_utf8(h.value).ok())
                .map(str::to_owned)
        };
        let content_type = header("content-type").unwrap_or_default();
        let session = header("mcp-session-id");
        let body = if let Some(length) = header("content-length") {
            let length: usize = length
                .trim()
                .parse()
                .with_context(|| format!("content-length {length:?}"))?;
            if length > MAX_ANSWER_BYTES {
                bail!("an answer of {length} bytes exceeds {MAX_ANSWER_BYTES}");
            }
            let mut body = vec![0; length];
            self.reader.read_exact(&mut body)?;
            body
        } else if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            self.read_chunked()?
        } else if matches!(status, 202 | 204 | 304) {
            // Answers that carry no body (a notification's 202).
            Vec::new()
        } else {
            bail!("an answer with neither content-length nor chunked encoding");
        };
        let body = String::from_utf8(body).context("the answer's body is not UTF-8")?;
        Ok(RawAnswer {
            status,
            content_type,
            session,
            body,
        })
    }

    /// A `chunked` body, to its last chunk.
    fn read_chunked(&mut self) -> Result<Vec<u8>> {
        let mut body = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let size = line.trim().split(';').next().unwrap_or_default();
            let size = usize::from_str_radix(size, 16)
                .with_context(|| format!("a chunk size {line:?}"))?;
            if size == 0 {
                // No trailers are sent; the empty line ends the body.
                line.clear();
                self.reader.read_line(&mut line)?;
                return Ok(body);
            }
            if body.len() + size > MAX_ANSWER_BYTES {
                bail!("a chunked answer exceeds {MAX_ANSWER_BYTES} bytes");
            }
            let start = body.len();
            body.resize(start + size, 0);
            self.reader.read_exact(&mut body[start..])?;
            let mut crlf = [0; 2];
            self.reader.read_exact(&mut crlf)?;
        }
    }
}
