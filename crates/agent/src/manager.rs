//! The connection manager: one MCP session per server of `servers.json`, kept for the life of
//! the agent.
//!
//! Every stdio server is started as a subprocess with its entry's environment on top of the
//! agent's (less the agent's own `AGENT_*` settings, its model key among them), and all are
//! initialised concurrently; a server that fails to start is reported by
//! name (with the end of its stderr) while the others work, and is tried again on its next use.
//! A server that exited is restarted on the next call; an HTTP server (a `url` entry) that no
//! longer knows the session (404) gets a new one the same way. Tool lists are cached per server and
//! listed again after the server sends `notifications/tools/list_changed` or restarts.

use std::collections::{BTreeMap, VecDeque};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult,
    ElicitationAction, ElicitationCapability, FormElicitationCapability, Implementation,
    ProtocolVersion,
};
use rmcp::service::{NotificationContext, RequestContext, RoleClient, RunningService};
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientHandler, ErrorData, ServiceError, ServiceExt};
use serde_json::{Map, Value, json};
use tokio::io::AsyncBufReadExt;

use crate::consent::{Consent, ConsentRequest};
use crate::servers::ServerSpec;

/// How many lines of a server's stderr are kept to explain a failure.
const STDERR_TAIL_LINES: usize = 20;

/// Time limits of the manager.
#[derive(Debug, Clone, Copy)]
pub struct ManagerConfig {
    /// Starting a server and answering `initialize` and `tools/list`.
    pub start_timeout: Duration,
    /// One tool call.
    pub call_timeout: Duration,
}

/// A failed call or start, naming the server and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManagerError {
    /// No server of that name in `servers.json`.
    #[error("there is no server named `{0}` in servers.json")]
    UnknownServer(String),
    /// The server could not be started or initialised.
    #[error("the {server} server could not be started: {cause}")]
    StartFailed {
        /// The server.
        server: String,
        /// Why, with the end of its stderr when it wrote any.
        cause: String,
    },
    /// The call did not get an answer.
    #[error("the {server} server did not answer `{tool}`: {cause}")]
    CallFailed {
        /// The server.
        server: String,
        /// The tool.
        tool: String,
        /// Why.
        cause: String,
    },
}

/// One server's state, for `mcp-agent tools` and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerStatus {
    /// The server.
    pub name: String,
    /// Its process id while a session is open.
    pub pid: Option<u32>,
    /// Whether its session is open.
    pub running: bool,
    /// Why it last failed to start, if it did.
    pub error: Option<String>,
    /// How many times it was started.
    pub starts: u32,
}

/// The sessions of every configured server.
#[derive(Debug)]
pub struct Manager {
    slots: BTreeMap<String, Arc<Slot>>,
    config: ManagerConfig,
}

/// What the client handler of one session shares with the manager.
#[derive(Debug)]
struct Shared {
    server: String,
    tools_stale: AtomicBool,
    /// Calls the user approved that are in flight, so the server's own consent question for
    /// them (an elicitation request) is answered without asking twice.
    approved_in_flight: AtomicUsize,
    consent: Consent,
}

#[derive(Debug)]
struct Slot {
    spec: ServerSpec,
    shared: Arc<Shared>,
    state: tokio::sync::Mutex<SlotState>,
}

#[derive(Default)]
struct SlotState {
    session: Option<Session>,
    tools: Option<Vec<Value>>,
    last_error: Option<String>,
    starts: u32,
}

impl std::fmt::Debug for SlotState {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SlotState")
            .field("running", &self.session.is_some())
            .field("last_error", &self.last_error)
            .finish()
    }
}

struct Session {
    running: RunningService<RoleClient, AgentClient>,
    pid: Option<u32>,
    /// For an HTTP server: set when it no longer knows the session.
    lost: Option<Arc<AtomicBool>>,
}

impl Session {
    fn is_alive(&self) -> bool {
        !self.running.is_closed()
            && !self.running.is_transport_closed()
            && !self
                .lost
                .as_ref()
                .is_some_and(|lost| lost.load(Ordering::SeqCst))
    }
}

/// The client side of one session: answers the server's elicitation requests through the
/// user's [`Consent`] and notes when its tool list changed.
#[derive(Debug, Clone)]
struct AgentClient {
    shared: Arc<Shared>,
}

impl ClientHandler for AgentClient {
    fn get_info(&self) -> ClientConfig {
        let mut capabilities = ClientCapabilities::default();
        capabilities.elicitation =
            Some(ElicitationCapability::new().with_form(FormElicitationCapability::new()));
        let mut config = ClientConfig::new(
            capabilities,
            Implementation::new("mcp-agent", env!("CARGO_PKG_VERSION")),
        );
        // The legacy session keeps server-to-client requests (elicitation) and unscoped
        // list-changed notifications, which 2026-07-28's per-request lifecycle drops.
        config.protocol_version = ProtocolVersion::V_2025_11_25;
        config
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        let ElicitRequestParams::FormElicitationParams {
            message,
            requested_schema,
            ..
        } = request
        else {
            // Opening a URL for the user is not something a terminal agent can do.
            return Ok(ElicitResult::new(ElicitationAction::Decline));
        };
        let schema = serde_json::to_value(&requested_schema).unwrap_or(Value::Null);
        let is_consent_form = schema["properties"]["confirm"]["type"] == "boolean";
        if !is_consent_form {
            // Only yes/no questions can be put to the user through a consent callback.
            return Ok(ElicitResult::new(ElicitationAction::Decline));
        }
        let approved = self.shared.approved_in_flight.load(Ordering::SeqCst) > 0
            || self
                .shared
                .consent
                .ask(ConsentRequest {
                    server: self.shared.server.clone(),
                    tool: String::new(),
                    arguments: Value::Null,
                    message,
                })
                .await;
        Ok(if approved {
            ElicitResult::new(ElicitationAction::Accept)
                .with_content(json!({"confirm": true, "remember": "once"}))
        } else {
            ElicitResult::new(ElicitationAction::Decline)
        })
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.shared.tools_stale.store(true, Ordering::SeqCst);
    }
}

/// Decrements the approved-calls count when a call ends, however it ends.
struct ApprovedCall<'a>(&'a AtomicUsize);

impl Drop for ApprovedCall<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Manager {
    /// Starts every server in `specs` concurrently. Failures are kept per server (see
    /// [`Manager::status`]); the manager itself always starts.
    pub async fn start(specs: Vec<ServerSpec>, config: ManagerConfig, consent: Consent) -> Manager {
        let slots: BTreeMap<String, Arc<Slot>> = specs
            .into_iter()
            .map(|spec| {
                let shared = Arc::new(Shared {
                    server: spec.name.clone(),
                    tools_stale: AtomicBool::new(true),
                    approved_in_flight: AtomicUsize::new(0),
                    consent: consent.clone(),
                });
                (
                    spec.name.clone(),
                    Arc::new(Slot {
                        spec,
                        shared,
                        state: tokio::sync::Mutex::new(SlotState::default()),
                    }),
                )
            })
            .collect();
        let manager = Manager { slots, config };
        futures::future::join_all(manager.slots.values().map(|slot| manager.tools_of(slot))).await;
        manager
    }

    /// The configured servers' names.
    pub fn servers(&self) -> Vec<String> {
        self.slots.keys().cloned().collect()
    }

    /// Each server's state.
    pub async fn status(&self) -> Vec<ServerStatus> {
        let mut statuses = Vec::with_capacity(self.slots.len());
        for (name, slot) in &self.slots {
            let state = slot.state.lock().await;
            let live = state.session.as_ref().filter(|s| s.is_alive());
            statuses.push(ServerStatus {
                name: name.clone(),
                pid: live.and_then(|s| s.pid),
                running: live.is_some(),
                error: state.last_error.clone(),
                starts: state.starts,
            });
        }
        statuses
    }

    /// The tools of every server that is up, as `tools/list` entries, with the servers that
    /// are not (name and why).
    pub async fn all_tools(&self) -> (Vec<(String, Vec<Value>)>, Vec<ManagerError>) {
        let listed = futures::future::join_all(
            self.slots
                .values()
                .map(|slot| async move { (slot.spec.name.clone(), self.tools_of(slot).await) }),
        )
        .await;
        let mut tools = Vec::new();
        let mut failures = Vec::new();
        for (name, result) in listed {
            match result {
                Ok(list) => tools.push((name, list)),
                Err(error) => failures.push(error),
            }
        }
        (tools, failures)
    }

    /// Calls `tool` on `server`. `approved` says the user consented to this call, so the
    /// server's own consent question for it is answered yes.
    pub async fn call(
        &self,
        server: &str,
        tool: &str,
        arguments: Map<String, Value>,
        approved: bool,
        safe_to_resend: bool,
    ) -> Result<Value, ManagerError> {
        let slot = self
            .slots
            .get(server)
            .ok_or_else(|| ManagerError::UnknownServer(server.to_owned()))?;
        let _approval = approved.then(|| {
            slot.shared
                .approved_in_flight
                .fetch_add(1, Ordering::SeqCst);
            ApprovedCall(&slot.shared.approved_in_flight)
        });
        let failed = |cause: String| ManagerError::CallFailed {
            server: server.to_owned(),
            tool: tool.to_owned(),
            cause,
        };
        let mut attempts_left = if safe_to_resend { 2 } else { 1 };
        let mut resent = false;
        loop {
            attempts_left -= 1;
            let (peer, generation) = self.peer_of(slot).await?;
            let params =
                CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments.clone());
            match tokio::time::timeout(self.config.call_timeout, peer.call_tool(params)).await {
                Err(_) => {
                    // Dropping the call sent `notifications/cancelled`, so the server can stop.
                    return Err(failed(format!(
                        "no answer within {} s (AGENT_TOOL_TIMEOUT_SECS)",
                        self.config.call_timeout.as_secs_f64()
                    )));
                }
                Ok(Ok(result)) => {
                    return serde_json::to_value(&result)
                        .map_err(|error| failed(format!("its result could not be read: {error}")));
                }
                Ok(Err(ServiceError::McpError(error))) => {
                    return Err(failed(format!(
                        "it refused the call ({}): {}",
                        error.code.0, error.message
                    )));
                }
                Ok(Err(
                    error @ (ServiceError::TransportClosed | ServiceError::TransportSend(_)),
                )) => {
                    // The server went away, or an HTTP server dropped the session. It is started
                    // again for the next call; this one is sent again when it certainly did not
                    // arrive (a write to a dead process, an HTTP request refused before any tool
                    // ran) or the tool is read-only, since otherwise a write may have happened.
                    self.forget_session(slot, generation).await;
                    if attempts_left == 0 && !resent && not_processed(&error) {
                        attempts_left = 1;
                    }
                    resent = true;
                    if attempts_left == 0 {
                        return Err(failed(format!(
                            "the server went away during the call ({error}); it will be started again on the next call"
                        )));
                    }
                }
                Ok(Err(error)) => return Err(failed(error.to_string())),
            }
        }
    }

    /// Stops every server.
    pub async fn shutdown(&self) {
        for slot in self.slots.values() {
            let session = slot.state.lock().await.session.take();
            if let Some(session) = session {
                let _ =
                    tokio::time::timeout(Duration::from_secs(5), session.running.cancel()).await;
            }
        }
    }

    /// Drops the session a failed call used, unless it was already replaced (by another call
    /// that failed at the same time and started the server again).
    async fn forget_session(&self, slot: &Slot, generation: u32) {
        let mut state = slot.state.lock().await;
        if state.starts == generation {
            state.session = None;
        }
    }

    /// The peer of a live session and which start it belongs to, (re)starting the server when
    /// it has none or it exited.
    async fn peer_of(&self, slot: &Slot) -> Result<(rmcp::Peer<RoleClient>, u32), ManagerError> {
        let mut state = slot.state.lock().await;
        self.ensure_session(slot, &mut state).await?;
        match &state.session {
            Some(session) => Ok((session.running.peer().clone(), state.starts)),
            None => Err(ManagerError::StartFailed {
                server: slot.spec.name.clone(),
                cause: "no session".to_owned(),
            }),
        }
    }

    async fn ensure_session(&self, slot: &Slot, state: &mut SlotState) -> Result<(), ManagerError> {
        if state.session.as_ref().is_some_and(Session::is_alive) {
            return Ok(());
        }
        if let Some(dead) = state.session.take() {
            tracing::warn!(server = %slot.spec.name, "the server exited; starting it again");
            drop(dead);
        }
        state.starts += 1;
        // Whatever it listed before may have changed with the new process.
        state.tools = None;
        slot.shared.tools_stale.store(true, Ordering::SeqCst);
        match tokio::time::timeout(self.config.start_timeout, start_session(slot)).await {
            Ok(Ok(session)) => {
                state.session = Some(session);
                state.last_error = None;
                Ok(())
            }
            Ok(Err(cause)) => {
                state.last_error = Some(cause.clone());
                Err(ManagerError::StartFailed {
                    server: slot.spec.name.clone(),
                    cause,
                })
            }
            Err(_) => {
                let cause = format!(
                    "it did not answer initialize within {} s (AGENT_START_TIMEOUT_SECS)",
                    self.config.start_timeout.as_secs_f64()
                );
                state.last_error = Some(cause.clone());
                Err(ManagerError::StartFailed {
                    server: slot.spec.name.clone(),
                    cause,
                })
            }
        }
    }

    /// The server's tools, from the cache unless it is stale.
    async fn tools_of(&self, slot: &Slot) -> Result<Vec<Value>, ManagerError> {
        let mut state = slot.state.lock().await;
        // Listing is read-only: when the session turns out to be gone (a server that exited,
        // an HTTP session that expired), a new one is started and asked once more.
        let mut attempts_left = 2;
        loop {
            attempts_left -= 1;
            self.ensure_session(slot, &mut state).await?;
            if let Some(tools) = &state.tools
                && !slot.shared.tools_stale.load(Ordering::SeqCst)
            {
                return Ok(tools.clone());
            }
            let Some(session) = &state.session else {
                return Err(ManagerError::StartFailed {
                    server: slot.spec.name.clone(),
                    cause: "no session".to_owned(),
                });
            };
            // Cleared before listing, so a change announced while listing is not lost.
            slot.shared.tools_stale.store(false, Ordering::SeqCst);
            let listed = tokio::time::timeout(
                self.config.start_timeout,
                session.running.peer().list_all_tools(),
            )
            .await;
            let failure = match listed {
                Ok(Ok(tools)) => {
                    let tools: Vec<Value> = tools
                        .iter()
                        .filter_map(|tool| serde_json::to_value(tool).ok())
                        .collect();
                    state.tools = Some(tools.clone());
                    return Ok(tools);
                }
                Ok(Err(
                    error @ (ServiceError::TransportClosed | ServiceError::TransportSend(_)),
                )) if attempts_left > 0 => {
                    tracing::info!(server = %slot.spec.name, %error, "the session is gone; starting a new one");
                    slot.shared.tools_stale.store(true, Ordering::SeqCst);
                    state.session = None;
                    continue;
                }
                Ok(Err(error)) => error.to_string(),
                Err(_) => format!(
                    "no answer within {} s",
                    self.config.start_timeout.as_secs_f64()
                ),
            };
            slot.shared.tools_stale.store(true, Ordering::SeqCst);
            return Err(ManagerError::CallFailed {
                server: slot.spec.name.clone(),
                tool: "tools/list".to_owned(),
                cause: failure,
            });
        }
    }
}

/// Whether a failed call certainly never reached the server: a message that could not be
/// written to a stdio server, or an HTTP request the server refused before acting on it.
fn not_processed(error: &ServiceError) -> bool {
    let ServiceError::TransportSend(failure) = error else {
        return false;
    };
    match failure
        .error
        .downcast_ref::<crate::http_transport::HttpTransportError>()
    {
        Some(http) => http.not_processed(),
        None => true,
    }
}

/// Connects to an HTTP server and initialises a session.
async fn start_http_session(slot: &Slot, url: &str) -> Result<Session, String> {
    let token = match &slot.spec.bearer_token_env {
        None => None,
        Some(variable) => match std::env::var(variable) {
            Ok(token) if !token.is_empty() => Some(mcp_common::Secret::new(token)),
            _ => {
                return Err(format!(
                    "{variable} is not set; servers.json names it (bearer_token_env) as holding the server's bearer token"
                ));
            }
        },
    };
    let transport =
        crate::http_transport::HttpTransport::new(url, token).map_err(|error| error.to_string())?;
    let lost = transport.lost();
    let client = AgentClient {
        shared: slot.shared.clone(),
    };
    match client.serve(transport).await {
        Ok(running) => Ok(Session {
            running,
            pid: None,
            lost: Some(lost),
        }),
        Err(error) => Err(format!("initialize at {url} failed: {error}")),
    }
}

/// Spawns the server and initialises a session; the error says why, with its last stderr lines.
async fn start_session(slot: &Slot) -> Result<Session, String> {
    let spec = &slot.spec;
    if let Some(url) = &spec.url {
        return start_http_session(slot, url).await;
    }
    let mut command = tokio::process::Command::new(&spec.command);
    command.args(&spec.args);
    // The agent's own settings (the model's API key above all) are not the servers' business.
    for (variable, _) in std::env::vars_os() {
        if variable.to_string_lossy().starts_with("AGENT_") {
            command.env_remove(&variable);
        }
    }
    command.envs(&spec.env);
    let (transport, stderr) = TokioChildProcess::builder(command)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => format!(
                "`{}` was not found (install it, put it on PATH, or give its full path in servers.json)",
                spec.command
            ),
            _ => format!("`{}` could not be started: {error}", spec.command),
        })?;
    let pid = transport.id();
    let tail = Arc::new(Mutex::new(VecDeque::new()));
    if let Some(stderr) = stderr {
        let tail = tail.clone();
        let server = spec.name.clone();
        // The server's log and audit lines are kept out of the agent's own output: debug
        // events, and the last lines to explain a failure.
        tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::debug!(server = %server, "{line}");
                if let Ok(mut tail) = tail.lock() {
                    if tail.len() == STDERR_TAIL_LINES {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
            }
        });
    }
    let client = AgentClient {
        shared: slot.shared.clone(),
    };
    match client.serve(transport).await {
        Ok(running) => Ok(Session {
            running,
            pid,
            lost: None,
        }),
        Err(error) => {
            // Give the stderr reader a moment to collect what the server said before exiting.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let said: Vec<String> = tail
                .lock()
                .map(|t| t.iter().cloned().collect())
                .unwrap_or_default();
            Err(if said.is_empty() {
                format!("initialize failed: {error}")
            } else {
                format!(
                    "initialize failed: {error}; its stderr ended with:\n{}",
                    said.join("\n")
                )
            })
        }
    }
}
