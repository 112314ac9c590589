//! A client transport for MCP servers reached over streamable HTTP (`url` entries), on the
//! workspace's reqwest 0.12 (rmcp's own HTTP client needs reqwest 0.13).
//!
//! Each message is POSTed to the server's URL with the bearer token and, once `initialize` gave
//! one, the `Mcp-Session-Id`. A 202 carries nothing; a JSON answer is one message; an SSE answer
//! (the server's progress, its requests such as elicitation, then the response) is read in the
//! background. A 404 once a session exists means the server dropped the session (it expired or
//! the server restarted): the request fails as not processed and the session is marked lost
//! ([`HttpTransport::lost`]), so the manager initialises a new session and sends it again. Messages the server sends outside a request (on the standalone GET stream) are not
//! read.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mcp_common::Secret;
use rmcp::service::{RoleClient, RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The protocol version the agent initialises with, sent on every request after `initialize`.
const PROTOCOL_VERSION: &str = "2025-11-25";

/// A failed exchange with an HTTP server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct HttpTransportError {
    message: String,
    not_processed: bool,
}

impl HttpTransportError {
    fn new(message: String) -> HttpTransportError {
        HttpTransportError {
            message,
            not_processed: false,
        }
    }

    fn refused(message: String) -> HttpTransportError {
        HttpTransportError {
            message,
            not_processed: true,
        }
    }

    /// Whether the server certainly did not act on the message (no connection, an unknown
    /// session, a refused token), so sending it again cannot do anything twice.
    pub fn not_processed(&self) -> bool {
        self.not_processed
    }
}

/// The transport of one HTTP server.
#[derive(Debug)]
pub struct HttpTransport {
    shared: Arc<Shared>,
    inbox: mpsc::UnboundedReceiver<RxJsonRpcMessage<RoleClient>>,
}

#[derive(Debug)]
struct Shared {
    http: reqwest::Client,
    url: String,
    token: Option<Secret>,
    session: Mutex<Option<String>>,
    sender: mpsc::UnboundedSender<RxJsonRpcMessage<RoleClient>>,
    closed: CancellationToken,
    lost: Arc<AtomicBool>,
}

impl HttpTransport {
    /// A transport for `url`, sending `token` as a bearer token when given.
    pub fn new(url: &str, token: Option<Secret>) -> Result<HttpTransport, HttpTransportError> {
        // No overall timeout: an SSE answer lasts as long as the tool runs, and the manager
        // bounds every call.
        let http = mcp_common::api::client_builder("agent", env!("CARGO_PKG_VERSION"))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|error| {
                HttpTransportError::new(format!("the HTTP client could not be built: {error}"))
            })?;
        let (sender, inbox) = mpsc::unbounded_channel();
        Ok(HttpTransport {
            shared: Arc::new(Shared {
                http,
                url: url.to_owned(),
                token,
                session: Mutex::new(None),
                sender,
                closed: CancellationToken::new(),
                lost: Arc::new(AtomicBool::new(false)),
            }),
            inbox,
        })
    }

    /// Set once the server answered 404 to the session: it is gone and a new one is needed.
    pub fn lost(&self) -> Arc<AtomicBool> {
        self.shared.lost.clone()
    }
}

impl Shared {
    fn session(&self) -> Option<String> {
        self.session
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn deliver(&self, data: &[u8]) -> Result<(), HttpTransportError> {
        let message: RxJsonRpcMessage<RoleClient> =
            serde_json::from_slice(data).map_err(|error| {
                HttpTransportError::new(format!(
                    "{} sent a message that is not MCP: {error}",
                    self.url
                ))
            })?;
        // A closed inbox means the session is over; the message has no one to go to.
        let _ = self.sender.send(message);
        Ok(())
    }

    async fn post(
        self: Arc<Self>,
        message: TxJsonRpcMessage<RoleClient>,
    ) -> Result<(), HttpTransportError> {
        let body = serde_json::to_vec(&message).map_err(|error| {
            HttpTransportError::new(format!("a message could not be written: {error}"))
        })?;
        let mut request = self
            .http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(
                reqwest::header::ACCEPT,
                "application/json, text/event-stream",
            )
            .body(body);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token.expose());
        }
        let session = self.session();
        if let Some(session) = &session {
            request = request
                .header("Mcp-Session-Id", session)
                .header("MCP-Protocol-Version", PROTOCOL_VERSION);
        }
        let response = request.send().await.map_err(|error| {
            let message = format!(
                "POST {}: {}",
                self.url,
                mcp_common::backend::root_cause(&error)
            );
            if error.is_connect() {
                HttpTransportError::refused(message)
            } else {
                HttpTransportError::new(message)
            }
        })?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND && session.is_some() {
            self.lost.store(true, Ordering::SeqCst);
            return Err(HttpTransportError::refused(format!(
                "{} no longer knows the session (404: it expired or the server restarted); a new one is started on the next call",
                self.url
            )));
        }
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            let hint = match status.as_u16() {
                401 | 403 => " (check the bearer token named by bearer_token_env in servers.json)",
                _ => "",
            };
            let message = format!(
                "{} answered {status}: {}{hint}",
                self.url,
                crate::translate::cut(text.trim(), 300)
            );
            // A refused token or request never reached a tool; a 5xx may have.
            return Err(if status.is_client_error() {
                HttpTransportError::refused(message)
            } else {
                HttpTransportError::new(message)
            });
        }
        if let Some(id) = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
        {
            *self.session.lock().unwrap_or_else(|p| p.into_inner()) = Some(id.to_owned());
        }
        if status == reqwest::StatusCode::ACCEPTED {
            return Ok(());
        }
        let is_stream = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if !is_stream {
            let bytes = response.bytes().await.map_err(|error| {
                HttpTransportError::new(format!("{}: the answer was cut off: {error}", self.url))
            })?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(());
            }
            return self.deliver(&bytes);
        }
        // The stream lasts as long as the request on the server; read it on its own task so
        // other messages go out meanwhile.
        let shared = self.clone();
        tokio::spawn(async move {
            let mut response = response;
            let mut decoder = openai_compat::sse::Decoder::new();
            loop {
                let chunk = tokio::select! {
                    chunk = response.chunk() => chunk,
                    () = shared.closed.cancelled() => return,
                };
                let Ok(Some(chunk)) = chunk else { break };
                for event in decoder.feed(&chunk) {
                    // The priming event carries no data.
                    if !event.trim().is_empty()
                        && let Err(error) = shared.deliver(event.as_bytes())
                    {
                        tracing::warn!(%error, "skipped a message");
                    }
                }
            }
            if let Some(event) = decoder.finish()
                && !event.trim().is_empty()
                && let Err(error) = shared.deliver(event.as_bytes())
            {
                tracing::warn!(%error, "skipped a message");
            }
        });
        Ok(())
    }
}

impl Transport<RoleClient> for HttpTransport {
    type Error = HttpTransportError;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.shared.clone().post(item)
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        tokio::select! {
            message = self.inbox.recv() => message,
            () = self.shared.closed.cancelled() => None,
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.shared.closed.cancel();
        if let Some(session) = self.shared.session() {
            // Ending the session is a courtesy to the server; it expires anyway.
            let mut request = self
                .shared
                .http
                .delete(&self.shared.url)
                .header("Mcp-Session-Id", session)
                .timeout(Duration::from_secs(5));
            if let Some(token) = &self.shared.token {
                request = request.bearer_auth(token.expose());
            }
            let _ = request.send().await;
        }
        Ok(())
    }
}
