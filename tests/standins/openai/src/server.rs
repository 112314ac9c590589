//! The HTTP side: bearer keys, routing, the request record, streaming with its faults, and the stand-in's own
//! control routes.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use standin_kit::{Faults, Running, Service};
use tokio::sync::{Notify, mpsc};

use crate::chat::{self, ChatRequest};
use crate::error::{ApiError, json_response};
use crate::models::MODELS;
use crate::{embeddings, moderation};

/// The key the stand-in accepts unless told otherwise.
pub const DEFAULT_API_KEY: &str = "sk-standin-0123456789abcdef";

/// How a streamed answer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamOutcome {
    /// Still sending.
    Streaming,
    /// Every event and `[DONE]` were sent.
    Completed,
    /// The client went away before the end (a cancelled call, a timeout).
    Aborted,
    /// Held by a stall until a reset released it.
    Released,
}

impl StreamOutcome {
    fn name(self) -> &'static str {
        match self {
            StreamOutcome::Streaming => "streaming",
            StreamOutcome::Completed => "completed",
            StreamOutcome::Aborted => "aborted",
            StreamOutcome::Released => "released",
        }
    }
}

/// One API request as received.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, e.g. `/v1/chat/completions`.
    pub path: String,
    /// The JSON body (`null` when empty, a string when not JSON).
    pub body: Value,
    /// `valid`, `invalid`, `missing` or `not_required` (the key itself is never recorded).
    pub auth: &'static str,
    /// The last four characters of the key given, to tell whose key a request carried.
    pub key_suffix: Option<String>,
    /// The status answered.
    pub status: u16,
    /// For a streamed answer, how it ended.
    pub stream: Option<StreamOutcome>,
}

impl RecordedRequest {
    /// As JSON, for `GET /__standin/requests`.
    pub fn to_json(&self) -> Value {
        json!({
            "method": self.method,
            "path": self.path,
            "body": self.body,
            "auth": self.auth,
            "key_suffix": self.key_suffix,
            "status": self.status,
            "stream": self.stream.map(StreamOutcome::name),
        })
    }
}

/// How the next streamed answers misbehave (`POST /__standin/stream`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamPlan {
    /// Send this many events, then nothing more until the client gives up or a reset.
    pub stall_after: Option<usize>,
    /// Wait this long before each event.
    pub chunk_delay: Duration,
    /// How many streams are affected; `None` until reset.
    pub remaining: Option<u64>,
}

#[derive(Debug)]
struct Inner {
    api_key: Option<String>,
    /// More keys accepted besides `api_key` (`POST /__standin/keys`), as for several users.
    extra_keys: Vec<String>,
    requests: Vec<RecordedRequest>,
    stream_plan: Option<StreamPlan>,
    moderations: bool,
}

/// Shared state of a running stand-in.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Mutex<Inner>>,
    faults: Arc<Faults>,
    /// Wakes stalled streams on reset.
    released: Arc<Notify>,
    /// The key given at start, restored on reset.
    initial_key: Option<String>,
    next_id: Arc<AtomicU64>,
    script: crate::script::Script,
}

impl AppState {
    /// A stand-in accepting `api_key` (`None`: any key or none, like a local server).
    pub fn new(api_key: Option<String>) -> AppState {
        AppState {
            inner: Arc::new(Mutex::new(Inner {
                api_key: api_key.clone(),
                extra_keys: Vec::new(),
                requests: Vec::new(),
                stream_plan: None,
                moderations: true,
            })),
            faults: Arc::new(Faults::default()),
            released: Arc::new(Notify::new()),
            initial_key: api_key,
            next_id: Arc::new(AtomicU64::new(1)),
            script: crate::script::Script::default(),
        }
    }

    /// The scripted model turns (see [`crate::script`]).
    pub fn script(&self) -> &crate::script::Script {
        &self.script
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the record half-written in a way tests care about.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every API request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// Makes the next streamed answers stall or crawl.
    pub fn set_stream_plan(&self, plan: Option<StreamPlan>) {
        self.lock().stream_plan = plan;
    }

    /// Turns `/v1/moderations` on or off (off: 404 as endpoints without moderation answer).
    pub fn set_moderations(&self, enabled: bool) {
        self.lock().moderations = enabled;
    }

    /// The fault plan and call counts.
    pub fn faults(&self) -> &Arc<Faults> {
        &self.faults
    }

    fn record(&self, request: RecordedRequest) -> usize {
        let mut inner = self.lock();
        inner.requests.push(request);
        inner.requests.len() - 1
    }

    fn update(&self, index: usize, change: impl FnOnce(&mut RecordedRequest)) {
        if let Some(request) = self.lock().requests.get_mut(index) {
            change(request);
        }
    }

    fn take_stream_plan(&self) -> Option<StreamPlan> {
        let mut inner = self.lock();
        let plan = inner.stream_plan.clone()?;
        match plan.remaining {
            Some(1) => inner.stream_plan = None,
            Some(n) => {
                if let Some(current) = inner.stream_plan.as_mut() {
                    current.remaining = Some(n - 1);
                }
            }
            None => {}
        }
        Some(plan)
    }
}

impl Service for AppState {
    fn fault_response(&self, status: StatusCode) -> Response {
        ApiError::for_status(status).into_response()
    }

    fn reset(&self) {
        {
            let mut inner = self.lock();
            inner.api_key = self.initial_key.clone();
            inner.extra_keys.clear();
            inner.requests.clear();
            inner.stream_plan = None;
            inner.moderations = true;
        }
        self.released.notify_waiters();
        self.script.clear();
    }
}

/// The API under `/v1/` plus the control routes, with the kit's fault plan around them.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/__standin/stream", post(control_stream))
        .route("/__standin/requests", get(control_requests))
        .route("/__standin/endpoints", post(control_endpoints))
        .route("/__standin/keys", post(control_keys))
        .route(
            "/__standin/script",
            post(crate::script::control).get(crate::script::status),
        )
        .fallback(api_endpoint)
        .with_state(state.clone());
    let faults = state.faults.clone();
    standin_kit::with_controls(api, state, faults)
}

/// Binds 127.0.0.1 on a free port and serves a stand-in accepting [`DEFAULT_API_KEY`] there in the background.
pub async fn spawn() -> std::io::Result<Running<AppState>> {
    spawn_with_key(Some(DEFAULT_API_KEY.to_owned())).await
}

/// [`spawn`] with another key, or none required.
pub async fn spawn_with_key(api_key: Option<String>) -> std::io::Result<Running<AppState>> {
    let state = AppState::new(api_key);
    standin_kit::spawn(app(state.clone()), state).await
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

async fn api_endpoint(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let parsed: Result<Value, ()> = if body.is_empty() {
        Ok(Value::Null)
    } else {
        serde_json::from_slice(&body).map_err(|_| ())
    };
    let (expected, extra) = {
        let inner = state.lock();
        (inner.api_key.clone(), inner.extra_keys.clone())
    };
    let given = bearer(&headers);
    let auth = match (&expected, &given) {
        (None, _) => "not_required",
        (Some(_), None) => "missing",
        (Some(expected), Some(given)) if expected == given || extra.contains(given) => "valid",
        (Some(_), Some(_)) => "invalid",
    };
    let key_suffix = given.as_deref().map(|key| {
        let chars: Vec<char> = key.chars().collect();
        chars[chars.len().saturating_sub(4)..].iter().collect()
    });
    let index = state.record(RecordedRequest {
        method: method.to_string(),
        path: path.clone(),
        body: parsed
            .clone()
            .unwrap_or_else(|()| Value::String(String::from_utf8_lossy(&body).into_owned())),
        auth,
        key_suffix,
        status: 0,
        stream: None,
    });
    let response = match auth {
        "missing" => ApiError::missing_api_key().into_response(),
        "invalid" => ApiError::invalid_api_key(given.as_deref().unwrap_or_default()).into_response(),
        _ => match parsed {
            Err(()) => ApiError::invalid(
                "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)",
                None,
                None,
            )
            .into_response(),
            Ok(body) => dispatch(&state, index, &method, &path, &body),
        },
    };
    let status = response.status().as_u16();
    state.update(index, |request| request.status = status);
    response
}

fn dispatch(state: &AppState, index: usize, method: &Method, path: &str, body: &Value) -> Response {
    let answer = |result: Result<Value, ApiError>| match result {
        Ok(value) => json_response(StatusCode::OK, &value),
        Err(error) => error.into_response(),
    };
    match (method.as_str(), path) {
        ("POST", "/v1/chat/completions") if state.script.is_active() => state.script.answer(body),
        ("POST", "/v1/chat/completions") => match chat::complete(body) {
            Err(error) => error.into_response(),
            Ok(request) => {
                let id = format!(
                    "chatcmpl-standin{}",
                    state.next_id.fetch_add(1, Ordering::Relaxed)
                );
                if request.stream {
                    stream_response(state.clone(), index, id, request)
                } else {
                    json_response(StatusCode::OK, &completion_body(&id, &request))
                }
            }
        },
        ("POST", "/v1/embeddings") => answer(embeddings::create(body)),
        ("POST", "/v1/moderations") if state.lock().moderations => answer(moderation::create(body)),
        ("POST", "/v1/moderations") => {
            // What Ollama and llama.cpp's server answer for a route they do not have.
            (StatusCode::NOT_FOUND, "404 page not found").into_response()
        }
        ("GET", "/v1/models") => {
            let data: Vec<Value> = MODELS
                .iter()
                .map(|m| json!({"id": m.id, "object": "model", "created": m.created, "owned_by": m.owned_by}))
                .collect();
            answer(Ok(json!({"object": "list", "data": data})))
        }
        ("GET", other) if other.starts_with("/v1/models/") => {
            let id = other.trim_start_matches("/v1/models/");
            answer(
                MODELS
                    .iter()
                    .find(|m| m.id == id)
                    .map(|m| json!({"id": m.id, "object": "model", "created": m.created, "owned_by": m.owned_by}))
                    .ok_or_else(|| ApiError::model_not_found(id)),
            )
        }
        _ => {
            let mut error = ApiError::invalid(format!("Invalid URL ({method} {path})"), None, None);
            error.status = StatusCode::NOT_FOUND;
            error.into_response()
        }
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn completion_body(id: &str, request: &ChatRequest) -> Value {
    let completion = &request.completion;
    json!({
        "id": id,
        "object": "chat.completion",
        "created": now(),
        "model": request.model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": completion.content, "refusal": null, "annotations": []},
            "logprobs": null,
            "finish_reason": completion.finish_reason,
        }],
        "usage": completion.usage(),
        "service_tier": "default",
        "system_fingerprint": "fp_standin",
    })
}

/// The server-sent events of a streamed answer, `[DONE]` last.
pub fn stream_events(id: &str, request: &ChatRequest) -> Vec<String> {
    let created = now();
    let chunk = |delta: Value, finish: Value| {
        let mut chunk = json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": request.model,
            "service_tier": "default",
            "system_fingerprint": "fp_standin",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        });
        if request.include_usage {
            chunk["usage"] = Value::Null;
        }
        chunk.to_string()
    };
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": "", "refusal": null}),
        Value::Null,
    )];
    for piece in chat::pieces(&request.completion.content) {
        events.push(chunk(json!({"content": piece}), Value::Null));
    }
    events.push(chunk(json!({}), json!(request.completion.finish_reason)));
    if request.include_usage {
        events.push(
            json!({
                "id": id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": request.model,
                "service_tier": "default",
                "system_fingerprint": "fp_standin",
                "choices": [],
                "usage": request.completion.usage(),
            })
            .to_string(),
        );
    }
    events.push("[DONE]".to_owned());
    events
}

fn stream_response(state: AppState, index: usize, id: String, request: ChatRequest) -> Response {
    let (sender, receiver) = mpsc::channel::<Bytes>(1);
    let plan = state.take_stream_plan();
    state.update(index, |r| r.stream = Some(StreamOutcome::Streaming));
    let events = stream_events(&id, &request);
    let released = state.released.clone();
    tokio::spawn(async move {
        let outcome = send_events(&sender, events, plan, &released).await;
        state.update(index, |r| r.stream = Some(outcome));
    });
    let body = Body::from_stream(futures::stream::unfold(
        receiver,
        |mut receiver| async move {
            receiver
                .recv()
                .await
                .map(|bytes| (Ok::<_, Infallible>(bytes), receiver))
        },
    ));
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-request-id", HeaderValue::from_static("req_standin"));
    response
}

async fn send_events(
    sender: &mpsc::Sender<Bytes>,
    events: Vec<String>,
    plan: Option<StreamPlan>,
    released: &Notify,
) -> StreamOutcome {
    let delay = plan.as_ref().map_or(Duration::ZERO, |p| p.chunk_delay);
    let stall_after = plan.as_ref().and_then(|p| p.stall_after);
    for (sent, event) in events.into_iter().enumerate() {
        if stall_after == Some(sent) {
            // Hold the connection open without a byte more, as a stuck upstream does.
            let release = released.notified();
            return tokio::select! {
                _ = sender.closed() => StreamOutcome::Aborted,
                _ = release => StreamOutcome::Released,
            };
        }
        if !delay.is_zero() {
            tokio::select! {
                _ = sender.closed() => return StreamOutcome::Aborted,
                _ = tokio::time::sleep(delay) => {}
            }
        }
        if sender
            .send(Bytes::from(format!("data: {event}\n\n")))
            .await
            .is_err()
        {
            return StreamOutcome::Aborted;
        }
    }
    StreamOutcome::Completed
}

fn control_error(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"error": message})),
    )
        .into_response()
}

/// `POST /__standin/stream {"stall_after": N|null, "chunk_delay_ms": M, "count": K|null}` (count defaults to 1;
/// null means until reset).
async fn control_stream(State(state): State<AppState>, body: Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return control_error("the body must be a JSON object");
    };
    let stall_after = match &body["stall_after"] {
        Value::Null => None,
        value => match value.as_u64() {
            Some(n) => Some(n as usize),
            None => return control_error("stall_after must be a non-negative integer or null"),
        },
    };
    let chunk_delay = match &body["chunk_delay_ms"] {
        Value::Null => Duration::ZERO,
        value => match value.as_u64() {
            Some(ms) => Duration::from_millis(ms),
            None => return control_error("chunk_delay_ms must be a non-negative integer"),
        },
    };
    let remaining = match body.get("count") {
        None => Some(1),
        Some(Value::Null) => None,
        Some(value) => match value.as_u64() {
            Some(n) if n > 0 => Some(n),
            _ => return control_error("count must be a positive integer or null"),
        },
    };
    let plan = (stall_after.is_some() || !chunk_delay.is_zero()).then_some(StreamPlan {
        stall_after,
        chunk_delay,
        remaining,
    });
    state.set_stream_plan(plan);
    axum::Json(json!({"ok": true})).into_response()
}

/// `GET /__standin/requests`: every API request received, oldest first.
async fn control_requests(State(state): State<AppState>) -> Response {
    let requests: Vec<Value> = state
        .requests()
        .iter()
        .map(RecordedRequest::to_json)
        .collect();
    axum::Json(json!({"requests": requests})).into_response()
}

/// `POST /__standin/endpoints {"moderations": false}`: answer `/v1/moderations` with 404, as endpoints without
/// moderation do.
/// `POST /__standin/keys {"keys": [...]}`: accept these keys too (until reset), as an endpoint
/// with several users' keys.
async fn control_keys(State(state): State<AppState>, body: Bytes) -> Response {
    let keys: Option<Vec<String>> = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|body| serde_json::from_value(body["keys"].clone()).ok());
    match keys {
        Some(keys) => {
            state.lock().extra_keys.extend(keys);
            axum::Json(json!({"ok": true})).into_response()
        }
        None => control_error("keys must be an array of strings"),
    }
}

async fn control_endpoints(State(state): State<AppState>, body: Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return control_error("the body must be a JSON object");
    };
    match body["moderations"].as_bool() {
        Some(enabled) => {
            state.set_moderations(enabled);
            axum::Json(json!({"ok": true})).into_response()
        }
        None => control_error("moderations must be true or false"),
    }
}
