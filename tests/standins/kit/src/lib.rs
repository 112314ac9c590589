//! What every test stand-in shares, so each one holds only its service's wire format and state.
//!
//! - [`parse_args`]: `--listen ADDR` (default `127.0.0.1:0`, loopback only) plus the service's own flags, handed back.
//! - [`bind_and_announce`]: binds and prints `<name>: listening on http://ADDR` on stderr, the line the test harness
//!   (`tests/src/lib.rs`, `start_listening`) waits for.
//! - [`serve_app`]: a hyper accept loop serving an axum [`Router`] that drops a connection without answering when a
//!   response carries [`CloseConnection`].
//! - [`Running`]: a stand-in served in the background of the current runtime, stopped when dropped; [`Hosted`]: one
//!   served on a runtime of its own for blocking tests, with its controls.
//! - [`serve_main`]: the whole `main` of a stand-in whose only flag is `--listen`.
//! - [`Faults`] and [`with_controls`]: the fault plan (`POST /__standin/fault`), `POST /__standin/reset` and
//!   `GET /__standin/calls`, generic over the service's error body and reset hook ([`Service`]); [`suffer`] applies
//!   one fault to one request (timeouts before and after the service acted, resets, statuses with `Retry-After`,
//!   slow answers and slow, truncated or malformed bodies, see [`FaultMode`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::{Context as _, bail};
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tower::ServiceExt as _;

// ----------------------------------------------------------------------
// Command line and start-up
// ----------------------------------------------------------------------

/// The parsed command line of a stand-in binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// Where to listen; always a loopback address.
    pub listen: SocketAddr,
    /// `--help` or `-h` was given: print the usage and exit.
    pub help: bool,
    /// Every other `--flag value` pair, in order, for the service to interpret (and refuse if unknown).
    pub flags: Vec<(String, String)>,
}

/// Parses `[--listen ADDR] [--flag value]…` (without the program name). Every flag takes a value; a non-loopback
/// `--listen` is refused because a test backend must never be reachable from outside the machine.
pub fn parse_args(mut args: impl Iterator<Item = String>, usage: &str) -> anyhow::Result<Args> {
    let mut parsed = Args {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        help: false,
        flags: Vec::new(),
    };
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            parsed.help = true;
            continue;
        }
        if !flag.starts_with("--") {
            bail!("unexpected argument {flag}\n{usage}");
        }
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value\n{usage}"))?;
        if flag == "--listen" {
            parsed.listen = value
                .parse()
                .with_context(|| format!("--listen {value} is not an IP:PORT address"))?;
        } else {
            parsed.flags.push((flag, value));
        }
    }
    if !parsed.listen.ip().is_loopback() {
        bail!(
            "--listen {} is not a loopback address; the stand-in only binds loopback",
            parsed.listen
        );
    }
    Ok(parsed)
}

/// Binds `listen` and prints `NAME: listening on http://ADDR` on stderr. Build the routes before calling it, so a
/// printed banner means the server is really up (connections queue in the backlog until the first accept).
pub async fn bind_and_announce(
    name: &str,
    listen: SocketAddr,
) -> anyhow::Result<tokio::net::TcpListener> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    eprintln!("{name}: listening on http://{addr}");
    Ok(listener)
}

// ----------------------------------------------------------------------
// Serving
// ----------------------------------------------------------------------

/// A marker on a response asking [`serve_app`] to drop the connection instead of writing the response.
#[derive(Debug, Clone, Copy)]
pub struct CloseConnection;

/// Marks `response` so that [`serve_app`] drops the connection instead of answering.
pub fn close_connection(mut response: Response) -> Response {
    response.extensions_mut().insert(CloseConnection);
    response
}

#[derive(Debug)]
struct DroppedOnPurpose;

impl std::fmt::Display for DroppedOnPurpose {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for DroppedOnPurpose {}

/// Serves `router` over HTTP/1.1 on `listener` until the task is dropped. A plain hyper loop rather than
/// `axum::serve`, because only a service that fails can make hyper close a connection without writing a response.
/// Requests carry the peer address as `ConnectInfo<SocketAddr>`.
pub async fn serve_app(router: Router, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(_) => {
                // Transient accept errors (e.g. too many open files) must not end the server.
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(
                move |mut request: hyper::Request<hyper::body::Incoming>| {
                    let router = router.clone();
                    async move {
                        request.extensions_mut().insert(ConnectInfo(peer));
                        let response = match router.oneshot(request.map(Body::new)).await {
                            Ok(response) => response,
                            Err(never) => match never {},
                        };
                        if response.extensions().get::<CloseConnection>().is_some() {
                            return Err(DroppedOnPurpose);
                        }
                        Ok(response)
                    }
                },
            );
            let io = hyper_util::rt::TokioIo::new(stream);
            // A client hanging up mid-request is normal for a test backend; there is nothing to report.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await;
        });
    }
}

/// A stand-in served in the background of the current tokio runtime, stopped when dropped.
#[derive(Debug)]
pub struct Running<S = ()> {
    /// The bound address.
    pub addr: SocketAddr,
    /// The service's shared state, to inspect or change data directly from a test.
    pub state: S,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl<S> Running<S> {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl<S> Drop for Running<S> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds 127.0.0.1 on a free port and serves `router` there in the background; `state` is kept in the handle.
pub async fn spawn<S>(router: Router, state: S) -> std::io::Result<Running<S>> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(serve_app(router, listener));
    Ok(Running { addr, state, task })
}

/// A stand-in served in process on a runtime of its own, for blocking tests: the test thread
/// drives the server under test while this runtime serves the stand-in, and reaches the
/// stand-in's controls over HTTP. Test-only: its methods panic when a control fails.
pub struct Hosted<S> {
    running: Running<S>,
    http: reqwest::blocking::Client,
    // Dropped last: it serves the stand-in.
    _runtime: tokio::runtime::Runtime,
}

impl<S> std::fmt::Debug for Hosted<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hosted")
            .field("addr", &self.running.addr)
            .finish()
    }
}

impl<S> Hosted<S> {
    /// Serves what `spawn` starts (a stand-in's own `spawn`) on a new two-thread runtime.
    pub fn start<F>(spawn: impl FnOnce() -> F) -> Hosted<S>
    where
        F: std::future::Future<Output = std::io::Result<Running<S>>>,
    {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("a runtime for the stand-in: {e}"));
        let running = runtime
            .block_on(spawn())
            .unwrap_or_else(|e| panic!("starting the stand-in: {e}"));
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_else(|e| panic!("an HTTP client for the stand-in's controls: {e}"));
        Hosted {
            running,
            http,
            _runtime: runtime,
        }
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        self.running.url()
    }

    /// The stand-in's shared state, to inspect what it received.
    pub fn state(&self) -> &S {
        &self.running.state
    }

    /// Posts `body` to the control route `/__standin/{route}` (e.g. `fault`, `reset`).
    pub fn control(&self, route: &str, body: Value) {
        let response = self
            .http
            .post(format!("{}/__standin/{route}", self.url()))
            .json(&body)
            .send()
            .unwrap_or_else(|e| panic!("{route} {body}: {e}"));
        let status = response.status();
        assert!(
            status.is_success(),
            "{route} {body}: {status} {}",
            response.text().unwrap_or_default()
        );
    }

    /// How many API requests the stand-in received for `METHOD path` (e.g. `POST /v1/refunds`).
    pub fn calls(&self, key: &str) -> u64 {
        let calls: Value = self
            .http
            .get(format!("{}/__standin/calls", self.url()))
            .send()
            .and_then(|response| response.json())
            .unwrap_or_else(|e| panic!("GET /__standin/calls: {e}"));
        calls["calls"][key].as_u64().unwrap_or(0)
    }
}

/// The whole `main` of a stand-in whose only flag is `--listen`: parses the command line, builds
/// the routes with `app`, binds, announces `<name>: listening on http://ADDR` and serves until
/// killed. The routes are built before the announcement, so the banner means the server is up.
pub async fn serve_main(name: &str, app: impl FnOnce() -> Router) -> anyhow::Result<()> {
    let usage = format!("usage: {name} [--listen 127.0.0.1:0]");
    let args = parse_args(std::env::args().skip(1), &usage)?;
    if args.help {
        eprintln!("{usage}");
        return Ok(());
    }
    if let Some((flag, _)) = args.flags.first() {
        bail!("unknown flag {flag}\n{usage}");
    }
    let app = app();
    let listener = bind_and_announce(name, args.listen).await?;
    serve_app(app, listener).await.context("serving")?;
    Ok(())
}

// ----------------------------------------------------------------------
// Fault plan and call counts
// ----------------------------------------------------------------------

/// What the matching API requests suffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultMode {
    /// Answer normally.
    None,
    /// Answer the given status with the service's error body, without handling the request.
    Status,
    /// Sleep `delay_ms`, then handle and answer.
    Slow,
    /// Drop the connection without handling the request.
    Close,
    /// Handle the request (its effects happen), then drop the connection without answering.
    DropAfter,
    /// Handle the request, then never answer until the client gives up (or a reset drops the connection).
    HangAfter,
    /// Never handle the request and never answer (a timeout before the service acted), until a reset drops the
    /// connection.
    Hang,
    /// Handle the request, send the status and headers (`Content-Length` promising the whole body) and half the
    /// body, then drop the connection: an answer cut short by a proxy or a dying process.
    Truncated,
    /// Handle the request, then answer its success status with a body that is not the service's format: garbage
    /// JSON, XML or server-sent events, after the response's content type.
    Malformed,
    /// Handle the request, send the status and headers at once, then the body in [`DRIP_PIECES`] pieces
    /// `delay_ms` apart: a slow body rather than a slow answer.
    Drip,
}

/// How many pieces a [`FaultMode::Drip`] body is sent in (fewer when the body is shorter).
pub const DRIP_PIECES: usize = 4;

impl FaultMode {
    /// The names accepted in `{"mode": …}`.
    pub const NAMES: &'static str =
        "none, status, slow, close, drop_after, hang_after, hang, truncated, malformed, drip";

    /// Parses a mode name.
    pub fn parse(name: &str) -> Option<FaultMode> {
        Some(match name {
            "none" => FaultMode::None,
            "status" => FaultMode::Status,
            "slow" => FaultMode::Slow,
            "close" => FaultMode::Close,
            "drop_after" => FaultMode::DropAfter,
            "hang_after" => FaultMode::HangAfter,
            "hang" => FaultMode::Hang,
            "truncated" => FaultMode::Truncated,
            "malformed" => FaultMode::Malformed,
            "drip" => FaultMode::Drip,
            _ => return None,
        })
    }
}

/// One fault plan, as set with `POST /__standin/fault`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// What happens.
    pub mode: FaultMode,
    /// How many matching requests are still affected; `None` means until reset.
    pub remaining: Option<u64>,
    /// Only requests whose path starts with this are affected (and counted down).
    pub path: Option<String>,
    /// The status answered in [`FaultMode::Status`].
    pub status: u16,
    /// `Retry-After` seconds sent with [`FaultMode::Status`].
    pub retry_after: Option<u64>,
    /// The delay of [`FaultMode::Slow`], and the gap between the pieces of a [`FaultMode::Drip`] body.
    pub delay: Duration,
}

impl Fault {
    /// Parses the JSON body of `POST /__standin/fault`:
    /// `{"mode", "count" (default 1; null = until reset), "path", "status" (default 500), "retry_after", "delay_ms" (default 1000)}`.
    pub fn from_json(body: &Value) -> Result<Fault, String> {
        let Some(object) = body.as_object() else {
            return Err("the body must be a JSON object".into());
        };
        let mode = object
            .get("mode")
            .and_then(Value::as_str)
            .and_then(FaultMode::parse)
            .ok_or_else(|| format!("mode must be one of {}", FaultMode::NAMES))?;
        let remaining = match object.get("count") {
            None => Some(1),
            Some(Value::Null) => None,
            Some(count) => match count.as_u64() {
                Some(count) if count > 0 => Some(count),
                _ => return Err("count must be a positive integer or null".into()),
            },
        };
        let path = match object.get("path") {
            None | Some(Value::Null) => None,
            Some(Value::String(path)) => Some(path.clone()),
            Some(_) => return Err("path must be a string".into()),
        };
        let status = match object.get("status") {
            None | Some(Value::Null) => 500,
            Some(status) => match status.as_u64() {
                Some(status @ 100..=599) => status as u16,
                _ => return Err("status must be an HTTP status code".into()),
            },
        };
        let optional_u64 = |name: &str| match object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => value
                .as_u64()
                .map(Some)
                .ok_or_else(|| format!("{name} must be a non-negative integer")),
        };
        let retry_after = optional_u64("retry_after")?;
        let delay = Duration::from_millis(optional_u64("delay_ms")?.unwrap_or(1000));
        Ok(Fault {
            mode,
            remaining,
            path,
            status,
            retry_after,
            delay,
        })
    }
}

#[derive(Debug, Default)]
struct FaultsInner {
    plan: Option<Fault>,
    calls: BTreeMap<String, u64>,
}

/// The fault plan and the call counts of one stand-in.
#[derive(Debug, Default)]
pub struct Faults {
    inner: Mutex<FaultsInner>,
    /// Wakes requests held by `hang_after` on reset so their connections close instead of lingering.
    released: tokio::sync::Notify,
}

impl Faults {
    fn lock(&self) -> MutexGuard<'_, FaultsInner> {
        // A panic while holding the lock cannot leave counts half-written in a way tests care about.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Replaces the plan (`FaultMode::None` clears it).
    pub fn set(&self, fault: Fault) {
        self.lock().plan = (fault.mode != FaultMode::None).then_some(fault);
    }

    /// Clears the plan, keeping the call counts.
    pub fn clear(&self) {
        self.lock().plan = None;
    }

    /// Clears the plan and the call counts, and releases hung requests.
    pub fn reset(&self) {
        {
            let mut inner = self.lock();
            inner.plan = None;
            inner.calls.clear();
        }
        self.released.notify_waiters();
    }

    /// Counts one API request and returns the fault it suffers, consuming one use of the plan if it matches.
    pub fn on_request(&self, method: &str, path: &str) -> Option<Fault> {
        let mut inner = self.lock();
        *inner.calls.entry(format!("{method} {path}")).or_insert(0) += 1;
        let plan = inner.plan.as_mut()?;
        if let Some(prefix) = &plan.path
            && !path.starts_with(prefix.as_str())
        {
            return None;
        }
        let fault = plan.clone();
        match plan.remaining {
            Some(1) => inner.plan = None,
            Some(count) => plan.remaining = Some(count.saturating_sub(1)),
            None => {}
        }
        Some(fault)
    }

    /// How many requests arrived per `"METHOD path"`.
    pub fn calls(&self) -> BTreeMap<String, u64> {
        self.lock().calls.clone()
    }

    /// How many requests arrived for `"METHOD path"`, e.g. `"POST /v1/customers"`.
    pub fn call_count(&self, key: &str) -> u64 {
        self.lock().calls.get(key).copied().unwrap_or(0)
    }

    /// Resolves at the next [`reset`](Faults::reset); create it before [`on_request`](Faults::on_request) and
    /// hand it to [`suffer`], so a reset racing with the request still releases it.
    pub fn released(&self) -> tokio::sync::futures::Notified<'_> {
        self.released.notified()
    }
}

/// What a service lends the generic control routes.
pub trait Service: Clone + Send + Sync + 'static {
    /// The service's error response for `status`, as the real service would answer it (fault mode `status`).
    /// The kit adds `Retry-After` itself.
    fn fault_response(&self, status: StatusCode) -> Response;
    /// Reseeds the service's data (`POST /__standin/reset`); the kit clears faults and counts itself.
    fn reset(&self);
}

#[derive(Clone)]
struct Controls<S> {
    service: S,
    faults: Arc<Faults>,
}

/// Wraps the service's `api` router with the fault plan and call counting, and adds `POST /__standin/fault`,
/// `POST /__standin/reset` and `GET /__standin/calls`. Other `/__standin/` routes of `api` pass untouched and
/// uncounted; control routes answer loopback peers only.
pub fn with_controls<S: Service>(api: Router, service: S, faults: Arc<Faults>) -> Router {
    let controls = Controls { service, faults };
    let control_routes = Router::new()
        .route("/__standin/fault", post(control_fault::<S>))
        .route("/__standin/reset", post(control_reset::<S>))
        .route("/__standin/calls", get(control_calls::<S>))
        .with_state(controls.clone());
    api.merge(control_routes)
        .layer(middleware::from_fn_with_state(controls, fault_guard::<S>))
}

async fn fault_guard<S: Service>(
    State(controls): State<Controls<S>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_string();
    if path.starts_with("/__standin/") {
        if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>()
            && !peer.ip().is_loopback()
        {
            return control_error(StatusCode::FORBIDDEN, "control routes are loopback-only");
        }
        return next.run(request).await;
    }
    // Created before the fault is read so a reset racing with this request still releases it.
    let released = controls.faults.released.notified();
    let Some(fault) = controls.faults.on_request(request.method().as_str(), &path) else {
        return next.run(request).await;
    };
    suffer(
        &fault,
        released,
        |status| controls.service.fault_response(status),
        next.run(request),
    )
    .await
}

/// Answers a request as `fault` says: `handle` is the service handling it (awaited only by the modes that let the
/// service act), `fault_response` the service's error answer for [`FaultMode::Status`] (the `Retry-After` is added
/// here), and `released` resolves when a reset lets held requests go ([`Faults::released`]). For stand-ins with
/// a guard of their own (the Odoo stand-in); [`with_controls`] applies it to every faulted request.
pub async fn suffer(
    fault: &Fault,
    released: impl std::future::Future<Output = ()>,
    fault_response: impl FnOnce(StatusCode) -> Response,
    handle: impl std::future::Future<Output = Response>,
) -> Response {
    match fault.mode {
        FaultMode::None => handle.await,
        FaultMode::Status => {
            let status =
                StatusCode::from_u16(fault.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = fault_response(status);
            if let Some(seconds) = fault.retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            response
        }
        FaultMode::Slow => {
            tokio::time::sleep(fault.delay).await;
            handle.await
        }
        FaultMode::Close => close_connection(StatusCode::INTERNAL_SERVER_ERROR.into_response()),
        FaultMode::DropAfter => close_connection(handle.await),
        FaultMode::HangAfter => {
            let response = handle.await;
            // Never answer; the client's timeout fires, or a reset drops the connection.
            released.await;
            close_connection(response)
        }
        FaultMode::Hang => {
            // Not even handled: the service never saw it act.
            released.await;
            close_connection(StatusCode::SERVICE_UNAVAILABLE.into_response())
        }
        FaultMode::Truncated => {
            let (mut parts, body) = handle.await.into_parts();
            let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
                return close_connection(StatusCode::INTERNAL_SERVER_ERROR.into_response());
            };
            // The headers promise the whole body; hyper frames the answer by this length, so the client sees
            // the connection end before the body does.
            parts
                .headers
                .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
            let half = body.slice(..body.len() / 2);
            Response::from_parts(
                parts,
                // The pause lets hyper flush the headers and the half before the connection drops.
                Body::new(Scripted::new(vec![half], Duration::from_millis(50), true)),
            )
        }
        FaultMode::Malformed => {
            let (mut parts, _) = handle.await.into_parts();
            let content_type = parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_ascii_lowercase();
            let garbage: &'static str = if content_type.contains("xml") {
                // Tags that do not match: no XML parser takes it.
                "<?xml version='1.0'?>\n<methodResponse><params><param><value><struct><member><name>id</name></value></param></struct></methodResponse>\n"
            } else if content_type.contains("event-stream") {
                "data: {\"id\": \"chatcmpl-garbage\", \"choices\": [oops}\n\ndata: [DONE]\n\n"
            } else {
                "{\"object\": \"garbage\", \"data\": [1, 2,, 3]"
            };
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(garbage))
        }
        FaultMode::Drip => {
            let (mut parts, body) = handle.await.into_parts();
            let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
                return close_connection(StatusCode::INTERNAL_SERVER_ERROR.into_response());
            };
            parts
                .headers
                .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
            let size = body.len().div_ceil(DRIP_PIECES).max(1);
            let pieces = (0..body.len())
                .step_by(size)
                .map(|start| body.slice(start..(start + size).min(body.len())))
                .collect();
            Response::from_parts(parts, Body::new(Scripted::new(pieces, fault.delay, false)))
        }
    }
}

/// A response body sent as given pieces, `gap` apart (none before the first), optionally failing `gap` after the
/// last one so that hyper drops the connection mid-body.
struct Scripted {
    pieces: std::collections::VecDeque<axum::body::Bytes>,
    gap: Duration,
    wait: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
    started: bool,
    break_after: bool,
}

impl Scripted {
    fn new(pieces: Vec<axum::body::Bytes>, gap: Duration, break_after: bool) -> Scripted {
        Scripted {
            pieces: pieces.into(),
            gap,
            wait: None,
            started: false,
            break_after,
        }
    }
}

impl hyper::body::Body for Scripted {
    type Data = axum::body::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        context: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        use std::future::Future as _;
        use std::task::Poll;
        if self.pieces.is_empty() && !self.break_after {
            return Poll::Ready(None);
        }
        if self.started && !self.gap.is_zero() {
            let gap = self.gap;
            let wait = self
                .wait
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(gap)));
            if wait.as_mut().poll(context).is_pending() {
                return Poll::Pending;
            }
            self.wait = None;
        }
        self.started = true;
        if self.pieces.is_empty() {
            self.break_after = false;
            return Poll::Ready(Some(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "body cut short by fault injection",
            ))));
        }
        match self.pieces.pop_front() {
            Some(piece) => Poll::Ready(Some(Ok(hyper::body::Frame::data(piece)))),
            None => Poll::Ready(None),
        }
    }
}

fn control_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

async fn control_fault<S: Service>(
    State(controls): State<Controls<S>>,
    body: axum::body::Bytes,
) -> Response {
    let body: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(body) => body,
            Err(error) => {
                return control_error(
                    StatusCode::BAD_REQUEST,
                    &format!("body is not JSON: {error}"),
                );
            }
        }
    };
    match Fault::from_json(&body) {
        Ok(fault) => {
            controls.faults.set(fault);
            axum::Json(json!({ "ok": true })).into_response()
        }
        Err(message) => control_error(StatusCode::BAD_REQUEST, &message),
    }
}

async fn control_reset<S: Service>(State(controls): State<Controls<S>>) -> Response {
    controls.service.reset();
    controls.faults.reset();
    axum::Json(json!({ "ok": true })).into_response()
}

async fn control_calls<S: Service>(State(controls): State<Controls<S>>) -> Response {
    let calls = controls.faults.calls();
    let total: u64 = calls.values().sum();
    axum::Json(json!({ "calls": calls, "total": total })).into_response()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> anyhow::Result<Args> {
        parse_args(args.iter().map(|arg| arg.to_string()), "usage: x")
    }

    #[test]
    fn listen_defaults_to_loopback_and_extra_flags_are_handed_back() {
        let args = parse(&[]).unwrap();
        assert_eq!(args.listen, SocketAddr::from(([127, 0, 0, 1], 0)));
        assert!(args.flags.is_empty() && !args.help);
        let args = parse(&["--listen", "127.0.0.1:7000", "--api-key", "k", "--db", "d"]).unwrap();
        assert_eq!(args.listen.port(), 7000);
        assert_eq!(
            args.flags,
            vec![
                ("--api-key".to_string(), "k".to_string()),
                ("--db".to_string(), "d".to_string())
            ]
        );
        assert!(
            parse(&["--listen", "[::1]:0"])
                .unwrap()
                .listen
                .ip()
                .is_loopback()
        );
        assert!(parse(&["-h"]).unwrap().help);
    }

    #[test]
    fn non_loopback_missing_values_and_bare_words_are_refused() {
        assert!(parse(&["--listen", "0.0.0.0:7000"]).is_err());
        assert!(parse(&["--listen", "localhost:7000"]).is_err());
        assert!(parse(&["--listen"]).is_err());
        assert!(parse(&["--db"]).is_err());
        assert!(parse(&["stray"]).is_err());
    }

    #[test]
    fn fault_json_defaults_and_errors() {
        let fault =
            Fault::from_json(&json!({"mode": "status", "status": 429, "retry_after": 2})).unwrap();
        assert_eq!(fault.mode, FaultMode::Status);
        assert_eq!(fault.remaining, Some(1));
        assert_eq!(fault.status, 429);
        assert_eq!(fault.retry_after, Some(2));
        let fault = Fault::from_json(&json!({"mode": "slow", "count": null})).unwrap();
        assert_eq!(fault.remaining, None);
        assert_eq!(fault.delay, Duration::from_millis(1000));
        for name in ["hang", "truncated", "malformed", "drip"] {
            assert!(
                FaultMode::NAMES.contains(name) && FaultMode::parse(name).is_some(),
                "{name}"
            );
        }
        assert!(Fault::from_json(&json!({"mode": "explode"})).is_err());
        assert!(Fault::from_json(&json!({"mode": "close", "count": 0})).is_err());
        assert!(Fault::from_json(&json!({"mode": "status", "status": 99})).is_err());
        assert!(Fault::from_json(&json!([])).is_err());
    }

    #[test]
    fn the_plan_counts_down_only_on_matching_paths_and_calls_are_counted() {
        let faults = Faults::default();
        faults.set(
            Fault::from_json(&json!({"mode": "close", "count": 2, "path": "/v1/customers"}))
                .unwrap(),
        );
        assert!(faults.on_request("GET", "/v1/balance").is_none());
        assert!(faults.on_request("POST", "/v1/customers").is_some());
        assert!(faults.on_request("GET", "/v1/customers/cus_1").is_some());
        assert!(faults.on_request("POST", "/v1/customers").is_none());
        assert_eq!(faults.call_count("POST /v1/customers"), 2);
        assert_eq!(faults.call_count("GET /v1/balance"), 1);

        faults.set(Fault::from_json(&json!({"mode": "slow", "count": null})).unwrap());
        for _ in 0..5 {
            assert!(faults.on_request("GET", "/v1/balance").is_some());
        }
        faults.set(Fault::from_json(&json!({"mode": "none"})).unwrap());
        assert!(faults.on_request("GET", "/v1/balance").is_none());
        faults.reset();
        assert!(faults.calls().is_empty());
    }
}
