//! Streamable HTTP at `/mcp` (stateful sessions or stateless), guarded by Host and Origin
//! validation, bearer-token authentication and a body limit, next to `/healthz`, `/readyz` and
//! `/metrics`. A POST body that rmcp could not parse gets a 400 with a JSON-RPC error (rmcp
//! itself answers a plain-text 415). `/readyz` lists each probe's details only to a caller with
//! a valid token when tokens are configured. In stateful mode a long-running tool can end the SSE stream that carries its
//! answer and let the client poll for it ([`ResponseStream`], SEP-1699).
//!
//! With `MCP_OAUTH_ISSUER` set the server is also an OAuth resource server ([`crate::oauth`]): it
//! serves its protected resource metadata at `/.well-known/oauth-protected-resource` (Host-checked,
//! no token), accepts the issuer's access tokens next to the static ones, and refuses a
//! `tools/call` whose token lacks the scope of the tool's kind with 403 `insufficient_scope`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::{Stream, StreamExt};
use rmcp::RoleServer;
use rmcp::model::{ClientJsonRpcMessage, GetExtensions, ServerJsonRpcMessage};
use rmcp::service::RequestContext;
use rmcp::transport::WorkerTransport;
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionHandle, LocalSessionManager, LocalSessionManagerError, LocalSessionWorker,
};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::session::{
    EventStore, RestoreOutcome, ServerSseMessage,
};
use rmcp::transport::streamable_http_server::{SessionId, SessionManager};
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::json;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::TokenHolder;
use crate::framing::{INVALID_REQUEST, Rejection, check_syntax, find_id};
use crate::gate::ToolKind;
use crate::governed::{Domain, Governed};
use crate::health::Readiness;
use crate::identity::{Principal, RemoteAddr, Scopes};
use crate::metrics::Metrics;
use crate::oauth::{Challenge, OAuth, OAuthConfig, ScopeNames, Verdict};
use axum::body::Bytes;

/// How long open connections (SSE streams) get to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Where the protected resource metadata (RFC 9728) is served, and everything under it.
const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// Settings of the HTTP transport.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Where to listen.
    pub listen: SocketAddr,
    /// No sessions: every POST stands alone (for replicas behind a load balancer).
    pub stateless: bool,
    /// Accepted bearer tokens; empty means no authentication (loopback only).
    pub tokens: Vec<TokenHolder>,
    /// Accepted Host values (host or host:port); `*` accepts any.
    pub allowed_hosts: Vec<String>,
    /// Accepted Origin values; `*` accepts any; empty accepts origins on an allowed host.
    pub allowed_origins: Vec<String>,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Idle time after which a session is closed.
    pub session_idle: Duration,
}

/// The request guard's view of the settings.
#[derive(Debug, Clone)]
struct Guard {
    tokens: Arc<Vec<TokenHolder>>,
    allowed_hosts: Arc<Vec<String>>,
    allowed_origins: Arc<Vec<String>>,
    max_body_bytes: usize,
    /// Whether POSTed JSON bodies must be JSON-RPC messages (true for `/mcp`).
    json_rpc_bodies: bool,
    /// The OAuth resource server, when `MCP_OAUTH_ISSUER` is set.
    oauth: Option<Arc<OAuth>>,
    /// Every offered tool's kind, for the scope a `tools/call` needs.
    kinds: Arc<HashMap<String, ToolKind>>,
}

/// The hosts accepted when `MCP_ALLOWED_HOSTS` is not set: loopback names, plus the listen
/// address itself when it is a specific one.
pub fn default_allowed_hosts(listen: &SocketAddr) -> Vec<String> {
    let mut hosts = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if !listen.ip().is_unspecified() && !listen.ip().is_loopback() {
        hosts.push(listen.ip().to_string());
    }
    hosts
}

/// The application: `/mcp` plus the operational endpoints.
pub(crate) fn router<S: Domain>(
    governed: Governed<S>,
    settings: &HttpSettings,
    readiness: Arc<Readiness>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
    server_name: String,
) -> Router {
    router_with_oauth(
        governed,
        settings,
        None,
        readiness,
        metrics,
        shutdown,
        server_name,
        crate::connections::Affinity::default(),
    )
}

/// [`router`], as an OAuth resource server when `oauth` is given, noting in `affinity` the
/// thread each session is created on.
#[allow(clippy::too_many_arguments)] // Each is a separate concern the caller already holds.
pub(crate) fn router_with_oauth<S: Domain>(
    governed: Governed<S>,
    settings: &HttpSettings,
    oauth: Option<Arc<OAuth>>,
    readiness: Arc<Readiness>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
    server_name: String,
    affinity: crate::connections::Affinity,
) -> Router {
    // The guard's map of tool kinds comes from what Governed offers, so the scope a call needs
    // follows the same annotations as its consent.
    let kinds: HashMap<String, ToolKind> = governed
        .offered_tools()
        .iter()
        .filter_map(|tool| ToolKind::of(tool).map(|kind| (tool.name.to_string(), kind)))
        .collect();
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(!settings.stateless)
        .with_json_response(settings.stateless)
        // Host and Origin are checked by `guard` below, with the operator's allow-lists.
        .disable_allowed_hosts()
        .with_max_request_body_bytes(settings.max_body_bytes)
        .with_cancellation_token(shutdown.child_token());
    let ended = governed.clone();
    let factory = move || Ok(governed.clone());
    let mcp = if settings.stateless {
        Router::new().route_service(
            "/mcp",
            StreamableHttpService::new(factory, Arc::new(NeverSessionManager::default()), config),
        )
    } else {
        let mut sessions = LocalSessionManager::default();
        sessions.session_config.keep_alive = Some(settings.session_idle);
        Router::new().route_service(
            "/mcp",
            StreamableHttpService::new(
                factory,
                Arc::new(Sessions::new(
                    sessions,
                    Arc::new(move |id: &str| ended.session_ended(id)),
                    affinity,
                )),
                config,
            ),
        )
    };
    let readiness_tokens = Arc::new(settings.tokens.clone());
    let guard = Guard {
        tokens: readiness_tokens.clone(),
        allowed_hosts: Arc::new(settings.allowed_hosts.clone()),
        allowed_origins: Arc::new(settings.allowed_origins.clone()),
        max_body_bytes: settings.max_body_bytes,
        json_rpc_bodies: true,
        oauth: oauth.clone(),
        kinds: Arc::new(kinds),
    };
    let mut mcp = mcp;
    if let Some(oauth) = &oauth {
        let document = oauth.metadata(&server_name);
        let metadata = get(move || {
            let document = document.clone();
            async move { axum::Json(document) }
        });
        // RFC 9728 puts the document under the resource's path (`/mcp`); clients that look at
        // the root find it there too.
        mcp = mcp
            .route(METADATA_PATH, metadata.clone())
            .route(&format!("{METADATA_PATH}/{{*path}}"), metadata);
    }
    let readiness_oauth = oauth.clone();
    let guarded = mcp
        .route(
            "/metrics",
            get(move || async move {
                (
                    [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    metrics.render(),
                )
            }),
        )
        .layer(axum::middleware::from_fn_with_state(guard, guard_request));
    let version = env!("CARGO_PKG_VERSION");
    Router::new()
        .route(
            "/healthz",
            get(move || async move {
                axum::Json(
                    json!({"status": "ok", "server": server_name, "runtime_version": version}),
                )
            }),
        )
        .route(
            "/readyz",
            get(move |headers: HeaderMap| {
                let readiness = readiness.clone();
                let tokens = readiness_tokens.clone();
                let oauth = readiness_oauth.clone();
                async move {
                    let report = readiness.report().await;
                    let status = if report.ready {
                        StatusCode::OK
                    } else {
                        StatusCode::SERVICE_UNAVAILABLE
                    };
                    // Probe details (record counts, backend errors) are for operators: with
                    // authentication configured, anyone else (a load balancer, an OAuth client)
                    // sees only the verdict.
                    let open = tokens.is_empty() && oauth.is_none();
                    if open || token_holder(&tokens, &headers).is_ok() {
                        let mut details = json!(report);
                        // Not part of the verdict: static token holders are served without
                        // the authorization server.
                        if let Some(oauth) = &oauth {
                            details["authorization_server"] = oauth.status();
                        }
                        (status, axum::Json(details))
                    } else {
                        (status, axum::Json(json!({"ready": report.ready})))
                    }
                }
            }),
        )
        .merge(guarded)
}

/// `router` behind the same guard as `/mcp` (Host and Origin allow-lists, bearer tokens with the
/// holder recorded as [`Principal`], the body size limit), for HTTP faces other than MCP itself,
/// such as the `mcp-agent` gateway; their bodies are not required to be JSON-RPC.
pub fn guarded(router: Router, settings: &HttpSettings) -> Router {
    let guard = Guard {
        tokens: Arc::new(settings.tokens.clone()),
        allowed_hosts: Arc::new(settings.allowed_hosts.clone()),
        allowed_origins: Arc::new(settings.allowed_origins.clone()),
        max_body_bytes: settings.max_body_bytes,
        json_rpc_bodies: false,
        oauth: None,
        kinds: Arc::default(),
    };
    router.layer(axum::middleware::from_fn_with_state(guard, guard_request))
}

/// Binds, prints where it listens, and serves until `shutdown` fires; as an OAuth resource
/// server when `oauth` is given (its keys fetched in the background, so an unreachable issuer
/// delays nothing).
pub(crate) async fn serve<S: Domain>(
    governed: Governed<S>,
    settings: HttpSettings,
    oauth: Option<OAuthConfig>,
    readiness: Arc<Readiness>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
    server_name: String,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|error| {
            std::io::Error::new(
                error.kind(),
                format!("could not listen on {}: {error}", settings.listen),
            )
        })?;
    let local = listener.local_addr()?;
    let mode = if settings.stateless {
        "stateless"
    } else {
        "stateful sessions"
    };
    let oauth = match oauth {
        None => None,
        Some(config) => {
            let user_agent = format!("{server_name}/{}", env!("CARGO_PKG_VERSION"));
            let oauth =
                Arc::new(OAuth::new(config, local, &user_agent).map_err(std::io::Error::other)?);
            tracing::info!(
                resource = oauth.resource(),
                metadata = oauth.metadata_url(),
                "accepting OAuth access tokens"
            );
            let warm = oauth.clone();
            tokio::spawn(async move { warm.warm_up().await });
            Some(oauth)
        }
    };
    let affinity = crate::connections::Affinity::default();
    let app = router_with_oauth(
        governed,
        &settings,
        oauth,
        readiness,
        metrics,
        shutdown.clone(),
        server_name.clone(),
        affinity.clone(),
    );
    // One thread per core, each with its own runtime, serves the connections handed to it (see
    // `connections`); this runtime's thread is the first of them, and also accepts.
    let graceful = shutdown.clone();
    let (mut listeners, accepting) = crate::connections::spread(
        listener,
        crate::connections::serving_threads(),
        affinity,
        async move {
            graceful.cancelled().await;
        },
    )?;
    crate::connections::serving_as(0);
    tokio::spawn(accepting);
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    let first = listeners.remove(0);
    let mut others = Vec::new();
    for (index, listener) in listeners.into_iter().enumerate() {
        let serving = serve_connections(listener, service.clone(), shutdown.clone());
        others.push(crate::connections::start_thread(index + 1, serving).await?);
    }
    // A plain line on stderr, whatever the log settings, once every thread is serving:
    // operators and test harnesses read it.
    eprintln!("{server_name}: listening on http://{local}/mcp ({mode})");
    let mut result = serve_connections(first, service, shutdown).await;
    for finished in others {
        if let Ok(Err(error)) = finished.await
            && result.is_ok()
        {
            result = Err(error);
        }
    }
    result
}

/// Serves the connections `listener` hands over until `shutdown`, then lets them finish for at
/// most [`SHUTDOWN_GRACE`].
async fn serve_connections(
    listener: crate::connections::HandedOver,
    service: axum::extract::connect_info::IntoMakeServiceWithConnectInfo<Router, SocketAddr>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    // `tap_io` only for axum's `ConnectInfo<SocketAddr>`, which it provides for tapped listeners.
    let listener = listener.tap_io(|_| {});
    let graceful = shutdown.clone();
    let server = axum::serve(listener, service)
        .with_graceful_shutdown(async move { graceful.cancelled().await });
    tokio::select! {
        result = server => result,
        () = async {
            shutdown.cancelled().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {
            tracing::warn!("connections still open {} s after shutdown began; closing them", SHUTDOWN_GRACE.as_secs());
            Ok(())
        }
    }
}

/// Streams closed by their tool and not yet resumed by the client, by session and HTTP request.
type Waiting = Arc<Mutex<HashMap<(SessionId, u64), Weak<Notify>>>>;

/// The SSE stream that carries one request's answer over stateful HTTP, so that a long-running
/// tool can end it early and let the client poll (SEP-1699): the client reconnects with a GET and
/// `Last-Event-ID`, and the answer arrives on that new stream. Useful behind proxies that cut long
/// responses, and the only way to pass the conformance suite's `server-sse-polling` scenario.
///
/// Present in the request context only over stateful HTTP; over stdio and stateless HTTP
/// [`ResponseStream::of`] returns `None` and the tool simply answers as usual.
#[derive(Clone)]
pub struct ResponseStream {
    session: LocalSessionHandle,
    session_id: SessionId,
    http_request_id: u64,
    resumed: Arc<Notify>,
    waiting: Waiting,
}

impl std::fmt::Debug for ResponseStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseStream")
            .field("session_id", &self.session_id)
            .field("http_request_id", &self.http_request_id)
            .finish()
    }
}

impl ResponseStream {
    /// The stream of the request behind `context`, over stateful HTTP.
    pub fn of(context: &RequestContext<RoleServer>) -> Option<ResponseStream> {
        context.extensions.get::<ResponseStream>().cloned()
    }

    /// Ends the stream after an event (with an id) telling the client to reconnect after
    /// `retry`. Messages for this request sent meanwhile (progress; rmcp caches 16 events) are
    /// replayed on reconnection, but rmcp 3.9 drops the stream's events once the answer is sent:
    /// answer only after [`ResponseStream::resumed`], or a client that reconnects late gets an
    /// empty stream.
    pub async fn close(&self, retry: Duration) -> Result<(), String> {
        {
            let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
            waiting.retain(|_, resumed| resumed.strong_count() > 0);
            waiting.insert(
                (self.session_id.clone(), self.http_request_id),
                Arc::downgrade(&self.resumed),
            );
        }
        self.session
            .close_sse_stream(self.http_request_id, Some(retry))
            .await
            .map_err(|error| format!("could not close the response stream: {error}"))
    }

    /// Resolves once the client has reconnected to the stream ended by
    /// [`ResponseStream::close`] (a GET with its `Last-Event-ID`). Bound it with a timeout: a
    /// client that never reconnects never receives the answer anyway.
    pub async fn resumed(&self) {
        self.resumed.notified().await;
    }
}

/// rmcp's in-memory sessions, plus a [`ResponseStream`] in every request's extensions, and the
/// domain told when a session ends.
struct Sessions {
    local: LocalSessionManager,
    waiting: Waiting,
    /// [`Domain::session_ended`] of the served domain.
    ended: Arc<dyn Fn(&str) + Send + Sync>,
    /// The serving thread of each session, for connections that come later.
    affinity: crate::connections::Affinity,
}

impl Sessions {
    fn new(
        local: LocalSessionManager,
        ended: Arc<dyn Fn(&str) + Send + Sync>,
        affinity: crate::connections::Affinity,
    ) -> Sessions {
        Sessions {
            local,
            waiting: Arc::default(),
            ended,
            affinity,
        }
    }
}

impl SessionManager for Sessions {
    type Error = LocalSessionManagerError;
    type Transport = WorkerTransport<LocalSessionWorker>;

    /// rmcp runs the session's worker, and the service over it, on the thread that creates it.
    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        let created = self.local.create_session().await?;
        self.affinity.created_here(&created.0);
        Ok(created)
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        self.local.initialize_session(id, message).await
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        self.local.has_session(id).await
    }

    /// rmcp calls this for a client's DELETE and whenever a session's service stops, an idle
    /// session's expiry included, so it is where the domain learns that a session is gone.
    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        let closed = self.local.close_session(id).await;
        self.affinity.ended(id);
        (self.ended)(id);
        closed
    }

    /// What `LocalSessionManager::create_stream` does, with the stream's handle added to the
    /// request.
    async fn create_stream(
        &self,
        id: &SessionId,
        mut message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let session = self
            .local
            .sessions
            .read()
            .await
            .get(id)
            .cloned()
            .ok_or_else(|| LocalSessionManagerError::SessionNotFound(id.clone()))?;
        let receiver = session.establish_request_wise_channel().await?;
        if let (ClientJsonRpcMessage::Request(request), Some(http_request_id)) =
            (&mut message, receiver.http_request_id)
        {
            request.request.extensions_mut().insert(ResponseStream {
                session: session.clone(),
                session_id: id.clone(),
                http_request_id,
                resumed: Arc::new(Notify::new()),
                waiting: self.waiting.clone(),
            });
        }
        session
            .push_message(message, receiver.http_request_id)
            .await?;
        let mut inner = receiver.inner;
        Ok(futures::stream::poll_fn(move |cx| inner.poll_recv(cx)))
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        self.local.accept_message(id, message).await
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.local.create_standalone_stream(id).await
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        // rmcp's event ids are `<index>/<http request id>` on request streams.
        let http_request_id = last_event_id
            .split_once('/')
            .and_then(|(_, request)| request.parse::<u64>().ok());
        let stream = self.local.resume(id, last_event_id).await?;
        if let Some(http_request_id) = http_request_id {
            let resumed = self
                .waiting
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&(id.clone(), http_request_id))
                .and_then(|resumed| resumed.upgrade());
            if let Some(resumed) = resumed {
                resumed.notify_one();
            }
        }
        Ok(stream)
    }

    async fn restore_session(
        &self,
        id: SessionId,
    ) -> Result<RestoreOutcome<Self::Transport>, Self::Error> {
        self.local.restore_session(id).await
    }

    fn event_store(&self) -> Option<Arc<dyn EventStore>> {
        self.local.event_store()
    }
}

fn reject(status: StatusCode, message: String) -> Response {
    let body = json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32000, "message": message}});
    let mut response = (status, axum::Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// Why a request carries no valid bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unauthorized {
    /// No `Authorization: Bearer` header.
    Missing,
    /// A token that is none of the configured ones.
    Wrong,
}

/// The name of the holder of the bearer token in `headers`.
fn token_holder(tokens: &[TokenHolder], headers: &HeaderMap) -> Result<String, Unauthorized> {
    let presented = bearer(headers).ok_or(Unauthorized::Missing)?;
    static_holder(tokens, presented).ok_or(Unauthorized::Wrong)
}

/// The token of an `Authorization: Bearer` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

/// The holder of `presented` among the static tokens.
fn static_holder(tokens: &[TokenHolder], presented: &str) -> Option<String> {
    // Check every token so the time taken does not reveal which one came closest.
    let mut holder = None;
    for candidate in tokens {
        if candidate.token.matches(presented.as_bytes()) && holder.is_none() {
            holder = Some(candidate.name.clone());
        }
    }
    holder
}

/// Who a request authenticated as.
enum Authenticated {
    /// A static token's holder: not limited by scopes.
    Holder(String),
    /// An OAuth access token's subject and scopes.
    OAuth(crate::oauth::Grant),
}

/// Checks the bearer token: a static one as before, else (with OAuth) an access token of the
/// issuer; the refusal is the response to send.
async fn authenticate(guard: &Guard, headers: &HeaderMap) -> Result<Authenticated, Response> {
    let Some(oauth) = &guard.oauth else {
        return match token_holder(&guard.tokens, headers) {
            Ok(holder) => Ok(Authenticated::Holder(holder)),
            Err(Unauthorized::Missing) => Err(reject(
                StatusCode::UNAUTHORIZED,
                "Unauthorized: send the server's token as Authorization: Bearer <token>".into(),
            )),
            Err(Unauthorized::Wrong) => {
                tracing::warn!("rejected a request with a wrong bearer token");
                Err(reject(
                    StatusCode::UNAUTHORIZED,
                    "Unauthorized: the bearer token is not valid".into(),
                ))
            }
        };
    };
    let Some(presented) = bearer(headers).filter(|token| !token.is_empty()) else {
        return Err(challenge(
            oauth,
            &Challenge::Missing {
                scope: oauth.scopes().read.clone(),
            },
            format!(
                "Unauthorized: send an access token as Authorization: Bearer <token>; {} says where to get one",
                oauth.metadata_url()
            ),
        ));
    };
    if let Some(holder) = static_holder(&guard.tokens, presented) {
        return Ok(Authenticated::Holder(holder));
    }
    match oauth.verify(presented).await {
        Verdict::Valid(grant) => Ok(Authenticated::OAuth(grant)),
        Verdict::Invalid(reason) => {
            tracing::warn!(%reason, "rejected a request with an invalid access token");
            let message = format!("Unauthorized: {reason}");
            Err(challenge(
                oauth,
                &Challenge::Invalid {
                    description: reason,
                },
                message,
            ))
        }
        Verdict::Unavailable(reason) => {
            let mut response = reject(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("Service Unavailable: {reason}"),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            Err(response)
        }
    }
}

/// A 401 or 403 with the JSON-RPC error body and the challenge of `kind`.
fn challenge(oauth: &OAuth, kind: &Challenge, message: String) -> Response {
    let status = match kind {
        Challenge::InsufficientScope { .. } => StatusCode::FORBIDDEN,
        _ => StatusCode::UNAUTHORIZED,
    };
    let mut response = reject(status, message);
    if let Ok(value) = HeaderValue::from_str(&kind.header(oauth.metadata_url())) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// What a JSON-RPC request asks for, as far as scopes go.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// `tools/call` of this tool.
    Tool(String),
    /// Reads the server's data otherwise: resources, prompts.
    Data,
    /// Anything else: lifecycle, lists, notifications, answers to the server's requests.
    Other,
}

impl Target {
    fn of(message: &ClientJsonRpcMessage) -> Target {
        use rmcp::model::ClientRequest;
        let ClientJsonRpcMessage::Request(request) = message else {
            return Target::Other;
        };
        match &request.request {
            ClientRequest::CallToolRequest(call) => Target::Tool(call.params.name.to_string()),
            ClientRequest::ReadResourceRequest(_)
            | ClientRequest::ReadResourceDirectoryRequest(_)
            | ClientRequest::SubscribeRequest(_)
            | ClientRequest::GetPromptRequest(_) => Target::Data,
            _ => Target::Other,
        }
    }
}

/// The scope `target` needs, and why in words; `None` when a valid token is enough. A tool the
/// server does not offer needs the destructive scope: Governed refuses it anyway, and nothing
/// unknown gets through on a lesser scope.
fn needed_scope<'a>(
    target: &Target,
    kinds: &HashMap<String, ToolKind>,
    scopes: &'a ScopeNames,
) -> Option<(&'a str, String)> {
    match target {
        Target::Tool(name) => Some(match kinds.get(name) {
            Some(kind) => (
                scopes.for_kind(*kind),
                format!("{name} is a {} tool", kind.label()),
            ),
            None => (
                scopes.destructive.as_str(),
                format!("{name} is not a tool this server offers"),
            ),
        }),
        Target::Data => Some((
            scopes.read.as_str(),
            "reading resources and prompts".to_owned(),
        )),
        Target::Other => None,
    }
}

/// Whether the request declares a JSON body, as rmcp decides it (anything else gets its 415).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|value| {
            let essence = value.split_once(';').map_or(value, |(essence, _)| essence);
            essence.trim().eq_ignore_ascii_case("application/json")
        })
}

/// A JSON-RPC error answered with HTTP 400.
fn bad_message(rejection: &Rejection) -> Response {
    (StatusCode::BAD_REQUEST, axum::Json(rejection.to_json())).into_response()
}

/// Reads the body, within `max_body_bytes`.
async fn read_body(body: Body, max_body_bytes: usize) -> Result<Bytes, Response> {
    let mut collected = Vec::new();
    let mut chunks = body.into_data_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|error| {
            reject(
                StatusCode::BAD_REQUEST,
                format!("Bad Request: could not read the request body: {error}"),
            )
        })?;
        // Bodies without a Content-Length are only measured here.
        if chunk.len() > max_body_bytes.saturating_sub(collected.len()) {
            return Err(reject(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "Payload Too Large: the limit is {max_body_bytes} bytes (MCP_MAX_REQUEST_BYTES)"
                ),
            ));
        }
        collected.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(collected))
}

/// Why rmcp cannot parse `body`, as a JSON-RPC error with the request's id (rmcp itself answers
/// with a plain-text 415); `None` if it can.
fn unparsable(body: &[u8]) -> Option<Response> {
    if let Err(rejection) = check_syntax(body, "request body") {
        tracing::debug!(message = %rejection.message, "answered a body that is not JSON with a parse error");
        return Some(bad_message(&rejection));
    }
    let error = serde_json::from_slice::<ClientJsonRpcMessage>(body).err()?;
    Some(invalid_request(body, &error))
}

/// A JSON body that is not a JSON-RPC message, answered with the request's id.
fn invalid_request(body: &[u8], error: &serde_json::Error) -> Response {
    bad_message(&Rejection {
        id: find_id(body),
        code: INVALID_REQUEST,
        message: format!(
            "Invalid Request: the body is not a JSON-RPC request, notification or response ({error})"
        ),
    })
}

/// Splits a Host header into host and optional port, handling `[::1]:8080`.
fn split_host(value: &str) -> (String, Option<&str>) {
    let value = value.trim();
    if let Some(rest) = value.strip_prefix('[')
        && let Some((host, after)) = rest.split_once(']')
    {
        return (host.to_ascii_lowercase(), after.strip_prefix(':'));
    }
    match value.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host.to_ascii_lowercase(), Some(port)),
        _ => (value.to_ascii_lowercase(), None),
    }
}

fn host_allowed(allowed: &[String], host_header: &str) -> bool {
    let (host, port) = split_host(host_header);
    allowed.iter().any(|entry| {
        if entry == "*" {
            return true;
        }
        let (allowed_host, allowed_port) = split_host(entry);
        allowed_host == host && (allowed_port.is_none() || allowed_port == port)
    })
}

fn origin_allowed(guard: &Guard, origin: &str) -> bool {
    let origin = origin.trim().trim_end_matches('/');
    if guard.allowed_origins.iter().any(|o| o == "*") {
        return true;
    }
    if !guard.allowed_origins.is_empty() {
        return guard
            .allowed_origins
            .iter()
            .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin));
    }
    // No explicit list: a browser page may call us only from an allowed host (e.g. a local UI).
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https")
        && host_allowed(&guard.allowed_hosts, authority)
}

async fn guard_request(
    State(guard): State<Guard>,
    mut request: Request<Body>,
    next: Next,
) -> Response {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.to_string()));
    match host {
        Some(host) if host_allowed(&guard.allowed_hosts, &host) => {}
        Some(host) => {
            tracing::warn!(host, "rejected a request with a disallowed Host header");
            return reject(
                StatusCode::FORBIDDEN,
                format!(
                    "Forbidden: Host header {host:?} is not allowed; an operator can add it to MCP_ALLOWED_HOSTS"
                ),
            );
        }
        None => {
            return reject(
                StatusCode::BAD_REQUEST,
                "Bad Request: missing Host header".into(),
            );
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("(not text)");
        if !origin_allowed(&guard, origin) {
            tracing::warn!(origin, "rejected a request with a disallowed Origin header");
            return reject(
                StatusCode::FORBIDDEN,
                format!(
                    "Forbidden: Origin {origin:?} is not allowed; an operator can add it to MCP_ALLOWED_ORIGINS"
                ),
            );
        }
    }
    // The metadata says how to get a token, so it needs none.
    let metadata = guard.oauth.is_some() && request.uri().path().starts_with(METADATA_PATH);
    if !metadata && (!guard.tokens.is_empty() || guard.oauth.is_some()) {
        match authenticate(&guard, request.headers()).await {
            Ok(Authenticated::Holder(holder)) => {
                request.extensions_mut().insert(Principal(holder));
            }
            Ok(Authenticated::OAuth(grant)) => {
                request
                    .extensions_mut()
                    .insert(Principal(format!("oauth:{}", grant.subject)));
                request.extensions_mut().insert(Scopes(grant.scopes));
            }
            Err(refusal) => return refusal,
        }
    }
    let declared_length = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared_length.is_some_and(|len| len > guard.max_body_bytes as u64) {
        return reject(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "Payload Too Large: the limit is {} bytes (MCP_MAX_REQUEST_BYTES)",
                guard.max_body_bytes
            ),
        );
    }
    if let Some(ConnectInfo(addr)) = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .copied()
    {
        request.extensions_mut().insert(RemoteAddr(addr));
    }
    if guard.json_rpc_bodies && request.method() == Method::POST && is_json(request.headers()) {
        let (parts, body) = request.into_parts();
        let body = match read_body(body, guard.max_body_bytes).await {
            Ok(body) => body,
            Err(response) => return response,
        };
        // Only OAuth callers carry scopes; static token holders are not limited by them. The
        // scope follows what the message asks for, so it is parsed here once more than rmcp does.
        if let (Some(oauth), Some(granted)) = (&guard.oauth, parts.extensions.get::<Scopes>()) {
            let target = match serde_json::from_slice::<ClientJsonRpcMessage>(&body) {
                Ok(message) => Target::of(&message),
                Err(error) => {
                    return unparsable(&body).unwrap_or_else(|| invalid_request(&body, &error));
                }
            };
            if let Some((scope, why)) = needed_scope(&target, &guard.kinds, oauth.scopes())
                && !granted.contains(scope)
            {
                let principal = parts
                    .extensions
                    .get::<Principal>()
                    .map(|p| p.0.clone())
                    .unwrap_or_default();
                tracing::warn!(%principal, scope, %why, "refused a request lacking a scope");
                let message = format!("Forbidden: {why}, which needs the scope {scope}");
                return challenge(
                    oauth,
                    &Challenge::InsufficientScope {
                        scope: scope.to_owned(),
                        description: format!("{why}, which needs the scope {scope}"),
                    },
                    message,
                );
            }
        }
        let response = next
            .run(Request::from_parts(parts, Body::from(body.clone())))
            .await;
        // The content type is JSON, so rmcp's 415 means it could not parse the body: the happy
        // path parses once (in rmcp), and only a bad body is examined again for a precise answer.
        if response.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE
            && let Some(answer) = unparsable(&body)
        {
            return answer;
        }
        return response;
    }
    let is_delete = request.method() == Method::DELETE;
    let mut response = next.run(request).await;
    // rmcp answers a session DELETE with 202; clients (the Python SDK among them) expect 200.
    if is_delete && response.status() == StatusCode::ACCEPTED {
        *response.status_mut() = StatusCode::OK;
    }
    response
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn guard(hosts: &[&str], origins: &[&str]) -> Guard {
        Guard {
            tokens: Arc::new(vec![]),
            allowed_hosts: Arc::new(hosts.iter().map(|s| s.to_string()).collect()),
            allowed_origins: Arc::new(origins.iter().map(|s| s.to_string()).collect()),
            max_body_bytes: 1024,
            json_rpc_bodies: true,
            oauth: None,
            kinds: Arc::default(),
        }
    }

    #[test]
    fn the_scope_needed_follows_the_method_and_the_tool_kind() {
        let scopes = ScopeNames {
            read: "r".into(),
            write: "w".into(),
            destructive: "d".into(),
        };
        let kinds = HashMap::from([
            ("look".to_owned(), ToolKind::ReadOnly),
            ("remember".to_owned(), ToolKind::LocalWrite),
            ("send".to_owned(), ToolKind::Write),
            ("drop".to_owned(), ToolKind::Destructive),
        ]);
        let needed = |body: Value| {
            let message: ClientJsonRpcMessage = serde_json::from_value(body).unwrap();
            needed_scope(&Target::of(&message), &kinds, &scopes).map(|(scope, _)| scope)
        };
        let call = |tool: &str| json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": {}}});
        assert_eq!(needed(call("look")), Some("r"));
        assert_eq!(needed(call("remember")), Some("w"));
        assert_eq!(needed(call("send")), Some("w"));
        assert_eq!(needed(call("drop")), Some("d"));
        assert_eq!(needed(call("unknown")), Some("d"));
        assert_eq!(
            needed(
                json!({"jsonrpc": "2.0", "id": 1, "method": "resources/read", "params": {"uri": "x://y"}})
            ),
            Some("r")
        );
        for method in ["tools/list", "ping"] {
            assert_eq!(
                needed(json!({"jsonrpc": "2.0", "id": 1, "method": method})),
                None
            );
        }
        assert_eq!(
            needed(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})),
            None
        );
    }

    #[test]
    fn hosts_match_with_or_without_ports() {
        let loopback = default_allowed_hosts(&"127.0.0.1:8080".parse().unwrap());
        let cases = [
            ("127.0.0.1:8080", true),
            ("localhost", true),
            ("LOCALHOST:1234", true),
            ("[::1]:8080", true),
            ("evil.example", false),
            ("evil.example:8080", false),
            ("127.0.0.1.evil.example", false),
        ];
        for (host, allowed) in cases {
            assert_eq!(host_allowed(&loopback, host), allowed, "{host}");
        }
        let pinned = vec!["mcp.example.com:443".to_owned()];
        assert!(host_allowed(&pinned, "mcp.example.com:443"));
        assert!(!host_allowed(&pinned, "mcp.example.com:8443"));
    }

    #[test]
    fn origins_default_to_allowed_hosts() {
        let default = guard(&["localhost", "127.0.0.1"], &[]);
        let cases = [
            ("http://localhost:3000", true),
            ("http://127.0.0.1:8080", true),
            ("https://localhost", true),
            ("http://evil.example", false),
            ("null", false),
            ("file://localhost", false),
        ];
        for (origin, allowed) in cases {
            assert_eq!(origin_allowed(&default, origin), allowed, "{origin}");
        }
        let explicit = guard(&["localhost"], &["https://app.example.com"]);
        assert!(origin_allowed(&explicit, "https://app.example.com/"));
        assert!(!origin_allowed(&explicit, "http://localhost:3000"));
    }
}
