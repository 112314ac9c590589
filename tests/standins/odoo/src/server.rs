//! The HTTP side: Odoo's routes, the test-control routes under `/__standin/`, fault injection and call counting.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};

use crate::dispatch::{self, Call, Protocol};
use crate::error::OdooError;
use crate::store::Store;
use crate::value::Value;
use crate::xmlrpc;

/// The stand-in's settings: the database name and admin's credentials.
#[derive(Debug, Clone, PartialEq)]
pub struct StandinConfig {
    /// The only database (`X-Odoo-Database`, the `db` argument of XML-RPC calls).
    pub db: String,
    /// Admin's login (uid 2).
    pub user: String,
    /// Admin's password.
    pub password: String,
    /// Admin's API key (JSON-2 bearer token; also accepted as an XML-RPC password, as in Odoo).
    pub api_key: String,
    /// The API key of the non-admin user `demo` (uid 6, password `demo`).
    pub demo_api_key: String,
}

impl StandinConfig {
    /// The defaults of the binary: database `test`, `admin`/`admin`, API key `test-api-key`.
    pub fn standard() -> StandinConfig {
        StandinConfig {
            db: "test".to_string(),
            user: "admin".to_string(),
            password: "admin".to_string(),
            api_key: "test-api-key".to_string(),
            demo_api_key: "demo-api-key".to_string(),
        }
    }

    fn fresh_store(&self) -> Store {
        Store::new(
            &self.user,
            &self.password,
            &self.api_key,
            &self.demo_api_key,
        )
    }
}

/// What the next API requests suffer, set with `POST /__standin/fault`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultMode {
    /// Answer normally.
    None,
    /// Never answer (the client's own timeout must fire).
    Hang,
    /// Answer after `delay_ms`.
    Slow,
    /// Drop the connection without an answer (needs [`serve`]; over another server it is a 500).
    Close,
    /// Answer 502 Bad Gateway, like a reverse proxy whose Odoo is down.
    Http502,
}

#[derive(Debug, Clone)]
struct Fault {
    mode: FaultMode,
    delay: Duration,
    remaining: Option<u64>,
}

impl Fault {
    fn none() -> Fault {
        Fault {
            mode: FaultMode::None,
            delay: Duration::ZERO,
            remaining: None,
        }
    }
}

#[derive(Debug)]
struct Inner {
    store: Store,
    fault: Fault,
    calls: BTreeMap<(String, String, String), u64>,
}

/// Shared state of a running stand-in: the database, the fault plan and the call counts.
#[derive(Debug, Clone)]
pub struct AppState {
    config: Arc<StandinConfig>,
    inner: Arc<Mutex<Inner>>,
    /// Wakes hung requests on reset so their connections close instead of lingering.
    released: Arc<tokio::sync::Notify>,
    /// The kit's fault plan, for the modes this stand-in has no plan of its own for (`status` with
    /// `Retry-After`, `drop_after`, `hang_after`, `truncated`, `malformed`, `drip`).
    kit: Arc<standin_kit::Faults>,
}

impl AppState {
    /// A freshly seeded state.
    pub fn new(config: StandinConfig) -> AppState {
        let inner = Inner {
            store: config.fresh_store(),
            fault: Fault::none(),
            calls: BTreeMap::new(),
        };
        AppState {
            config: Arc::new(config),
            inner: Arc::new(Mutex::new(inner)),
            released: Arc::new(tokio::sync::Notify::new()),
            kit: Arc::new(standin_kit::Faults::default()),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &StandinConfig {
        &self.config
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the data half-written in a way tests care about.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reseeds the data and clears faults, password changes and call counts; hung requests get their connection
    /// dropped.
    pub fn reset(&self) {
        let mut inner = self.lock();
        inner.store = self.config.fresh_store();
        inner.fault = Fault::none();
        inner.calls.clear();
        self.released.notify_waiters();
        self.kit.reset();
    }

    /// How many API calls arrived for `(protocol, model, method)`, e.g. `("xmlrpc", "res.partner", "write")`.
    pub fn call_count(&self, protocol: &str, model: &str, method: &str) -> u64 {
        let key = (protocol.to_string(), model.to_string(), method.to_string());
        self.lock().calls.get(&key).copied().unwrap_or(0)
    }

    /// Runs `action` on the database, e.g. to inspect records from a test.
    pub fn with_store<T>(&self, action: impl FnOnce(&mut Store) -> T) -> T {
        action(&mut self.lock().store)
    }
}

/// The Odoo routes plus `/__standin/` control routes, ready to serve.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/xmlrpc/2/{service}", post(xmlrpc_endpoint))
        .route("/json/2", any(json2_not_found))
        .route("/json/2/{*rest}", any(json2_endpoint))
        .route("/web/version", any(web_version))
        .route("/web/webclient/version_info", post(webclient_version_info))
        .route("/__standin/reset", post(control_reset))
        .route("/__standin/fault", post(control_fault))
        .route("/__standin/password", post(control_password))
        .route("/__standin/calls", get(control_calls))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), api_guard))
        .with_state(state)
}

/// Serves a fresh stand-in on `listener` until the task is dropped.
pub async fn serve(
    config: StandinConfig,
    listener: tokio::net::TcpListener,
) -> std::io::Result<()> {
    serve_app(app(AppState::new(config)), listener).await
}

/// Serves `router` over HTTP/1.1 on `listener` (the stand-in kit's accept loop, which can drop a connection
/// without answering: fault mode `close`).
pub use standin_kit::serve_app;

/// A stand-in running in the background of the current tokio runtime, stopped when dropped: `addr`, `state` (the
/// shared [`AppState`], to inspect data or call counts directly) and `url()`.
pub type Running = standin_kit::Running<AppState>;

/// Binds 127.0.0.1 on a free port and serves a fresh stand-in there in the background.
pub async fn spawn(config: StandinConfig) -> std::io::Result<Running> {
    let state = AppState::new(config);
    standin_kit::spawn(app(state.clone()), state).await
}

// ----------------------------------------------------------------------
// Fault injection and call counting
// ----------------------------------------------------------------------

/// Which API call a request is, for `/__standin/calls`.
fn identify(path: &str, body: &[u8]) -> Option<(String, String, String)> {
    if let Some(service) = path.strip_prefix("/xmlrpc/2/") {
        let call = xmlrpc::parse_method_call(body).ok();
        let method = call
            .as_ref()
            .map(|call| call.method.clone())
            .unwrap_or_default();
        if service == "object" {
            let params = call.map(|call| call.params).unwrap_or_default();
            let text = |index: usize| {
                params
                    .get(index)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            return Some(("xmlrpc".into(), text(3), text(4)));
        }
        return Some(("xmlrpc".into(), service.to_string(), method));
    }
    if let Some(rest) = path.strip_prefix("/json/2/") {
        let (model, method) = rest.split_once('/').unwrap_or((rest, ""));
        return Some(("json2".into(), model.to_string(), method.to_string()));
    }
    match path {
        "/web/version" => Some(("http".into(), "web".into(), "version".into())),
        "/web/webclient/version_info" => Some(("http".into(), "web".into(), "version_info".into())),
        _ => None,
    }
}

async fn api_guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.uri().path().starts_with("/__standin/") {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, 64 * 1024 * 1024).await {
        Ok(bytes) => bytes,
        Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response(),
    };
    // Created before the fault is read so a reset racing with this request still releases it.
    let released = state.released.notified();
    let kit_released = state.kit.released();
    let fault = {
        let mut inner = state.lock();
        if let Some(key) = identify(parts.uri.path(), &body) {
            *inner.calls.entry(key).or_insert(0) += 1;
        }
        let fault = inner.fault.clone();
        if fault.mode != FaultMode::None {
            match fault.remaining {
                Some(1) => inner.fault = Fault::none(),
                Some(count) => inner.fault.remaining = Some(count.saturating_sub(1)),
                None => {}
            }
        }
        fault
    };
    match fault.mode {
        FaultMode::None => {}
        FaultMode::Hang => {
            // Never answer; a reset drops the connection so hung sockets do not pile up.
            released.await;
            return standin_kit::close_connection(StatusCode::SERVICE_UNAVAILABLE.into_response());
        }
        FaultMode::Slow => tokio::time::sleep(fault.delay).await,
        FaultMode::Close => {
            return standin_kit::close_connection(
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "connection dropped by fault injection",
                )
                    .into_response(),
            );
        }
        FaultMode::Http502 => {
            let page = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
            return (
                StatusCode::BAD_GATEWAY,
                [(header::CONTENT_TYPE, "text/html")],
                page,
            )
                .into_response();
        }
    }
    let method = parts.method.to_string();
    let path = parts.uri.path().to_string();
    let request = Request::from_parts(parts, Body::from(body));
    match state.kit.on_request(&method, &path) {
        Some(fault) => {
            standin_kit::suffer(&fault, kit_released, proxy_error_page, next.run(request)).await
        }
        None => next.run(request).await,
    }
}

/// What a reverse proxy in front of Odoo answers for `status` (nginx's page), as a real deployment
/// would show a rate limit or a failing Odoo.
fn proxy_error_page(status: StatusCode) -> Response {
    let line = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or_default()
    );
    let page = format!(
        "<html>\r\n<head><title>{line}</title></head>\r\n<body>\r\n<center><h1>{line}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    );
    (status, [(header::CONTENT_TYPE, "text/html")], page).into_response()
}

// ----------------------------------------------------------------------
// XML-RPC
// ----------------------------------------------------------------------

fn xml_response(body: String) -> Response {
    // Odoo answers faults with 200 too: the fault is in the body.
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
}

async fn xmlrpc_endpoint(
    State(state): State<AppState>,
    Path(service): Path<String>,
    body: Bytes,
) -> Response {
    let result = xmlrpc::parse_method_call(&body)
        .map_err(|error| error.to_odoo_error())
        .and_then(|call| xmlrpc_dispatch(&state, &service, &call.method, call.params));
    match result {
        Ok(value) => xml_response(xmlrpc::encode_response(&value)),
        Err(error) => xml_response(xmlrpc::encode_fault(&error.to_fault())),
    }
}

/// `odoo.http.dispatch_rpc(service, method, params)`.
fn xmlrpc_dispatch(
    state: &AppState,
    service: &str,
    method: &str,
    params: Vec<Value>,
) -> Result<Value, OdooError> {
    match service {
        "common" => common_service(state, method, params),
        "object" => object_service(state, method, params),
        "db" => db_service(state, method, params),
        other => Err(OdooError::key_error(other)),
    }
}

fn arity(function: &str, expected: usize, params: &[Value]) -> Result<(), OdooError> {
    if params.len() == expected {
        return Ok(());
    }
    let plural = if expected == 1 { "" } else { "s" };
    let verb = if params.len() == 1 { "was" } else { "were" };
    Err(OdooError::type_error(format!(
        "{function}() takes {expected} positional argument{plural} but {} {verb} given",
        params.len()
    )))
}

/// Opening the registry of an unknown database fails in psycopg2 before anything else.
fn check_db(state: &AppState, db: &Value) -> Result<(), OdooError> {
    let name = db
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| db.py_repr());
    if name == state.config.db {
        return Ok(());
    }
    Err(OdooError::Python {
        module: "psycopg2",
        name: "OperationalError",
        message: format!(
            "connection to server on socket \"/var/run/postgresql/.s.PGSQL.5432\" failed: FATAL:  database \"{name}\" does not exist\n"
        ),
    })
}

fn common_service(state: &AppState, method: &str, params: Vec<Value>) -> Result<Value, OdooError> {
    match method {
        "version" => {
            arity("exp_version", 0, &params)?;
            Ok(version_info())
        }
        "about" => {
            let extended = params.first().is_some_and(Value::is_truthy);
            let info = Value::str("See http://openerp.com");
            Ok(if extended {
                Value::List(vec![info, Value::str("19.0")])
            } else {
                info
            })
        }
        "login" | "authenticate" => {
            let expected = if method == "login" { 3 } else { 4 };
            arity(&format!("exp_{method}"), expected, &params)?;
            check_db(state, &params[0])?;
            let login = params[1].as_str().unwrap_or_default();
            let password = params[2].as_str().unwrap_or_default();
            let uid = state.lock().store.authenticate(login, password);
            Ok(uid.map(Value::Int).unwrap_or(Value::Bool(false)))
        }
        other => Err(OdooError::Python {
            module: "builtins",
            name: "Exception",
            message: format!("Method not found: {other}"),
        }),
    }
}

fn db_service(state: &AppState, method: &str, params: Vec<Value>) -> Result<Value, OdooError> {
    match method {
        "list" => Ok(Value::List(vec![Value::str(state.config.db.clone())])),
        "server_version" => Ok(Value::str("19.0")),
        "db_exist" => Ok(Value::Bool(
            params.first().and_then(Value::as_str) == Some(state.config.db.as_str()),
        )),
        other => Err(OdooError::key_error(&format!("Method not found: {other}"))),
    }
}

/// `odoo.service.model.dispatch`: credentials first, then `execute_kw(args, kw)` or `execute(*args)`.
fn object_service(state: &AppState, method: &str, params: Vec<Value>) -> Result<Value, OdooError> {
    if params.len() < 5 {
        return Err(OdooError::value_error(format!(
            "not enough values to unpack (expected at least 5, got {})",
            params.len()
        )));
    }
    let mut params = params.into_iter();
    let (db, uid, password) = (params.next(), params.next(), params.next());
    let (model, method_name) = (params.next(), params.next());
    let rest: Vec<Value> = params.collect();
    let uid = match uid.unwrap_or(Value::Nil) {
        Value::Int(uid) => uid,
        Value::Bool(flag) => i64::from(flag),
        Value::Float(number) => number as i64,
        Value::Str(text) => text.trim().parse::<i64>().map_err(|_| {
            OdooError::value_error(format!(
                "invalid literal for int() with base 10: {}",
                Value::str(text.clone()).py_repr()
            ))
        })?,
        other => {
            return Err(OdooError::type_error(format!(
                "int() argument must be a string, a bytes-like object or a real number, not '{}'",
                type_name(&other)
            )));
        }
    };
    let password = password.unwrap_or(Value::Nil);
    if !password.is_truthy() {
        return Err(OdooError::access_denied());
    }
    // Odoo opens the registry (failing for an unknown database) before looking at the call itself.
    check_db(state, db.as_ref().unwrap_or(&Value::Nil))?;
    let (args, kwargs) = match method {
        "execute" => (rest, Vec::new()),
        "execute_kw" => {
            let mut rest = rest;
            if rest.len() == 1 {
                rest.push(Value::Dict(Vec::new()));
            }
            if rest.len() != 2 {
                return Err(OdooError::value_error(if rest.len() > 2 {
                    "too many values to unpack (expected 2)".to_string()
                } else {
                    format!(
                        "not enough values to unpack (expected 2, got {})",
                        rest.len()
                    )
                }));
            }
            let kw = rest.pop().unwrap_or(Value::Nil);
            let args = match rest.pop().unwrap_or(Value::Nil) {
                Value::List(items) => items,
                other => {
                    return Err(OdooError::type_error(format!(
                        "odoo.service.model.execute_cr() argument after * must be an iterable, not {}",
                        type_name(&other)
                    )));
                }
            };
            let kwargs = match kw {
                Value::Dict(pairs) => pairs,
                Value::Nil => Vec::new(),
                other => {
                    return Err(OdooError::type_error(format!(
                        "odoo.service.model.call_kw() argument after ** must be a mapping, not {}",
                        type_name(&other)
                    )));
                }
            };
            (args, kwargs)
        }
        other => {
            return Err(OdooError::Python {
                module: "builtins",
                name: "NameError",
                message: format!("Method not available {other}"),
            });
        }
    };
    let mut inner = state.lock();
    if !inner
        .store
        .check_credentials(uid, password.as_str().unwrap_or_default())
    {
        return Err(OdooError::access_denied());
    }
    let model = model
        .and_then(|value| value.as_str().map(str::to_string))
        .unwrap_or_default();
    let method = method_name
        .and_then(|value| value.as_str().map(str::to_string))
        .unwrap_or_default();
    dispatch::execute(
        &mut inner.store,
        uid,
        Call {
            model,
            method,
            ids: None,
            args,
            kwargs,
        },
        Protocol::XmlRpc,
    )
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Nil => "NoneType",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Float(_) => "float",
        Value::Str(_) => "str",
        Value::DateTime(_) => "datetime",
        Value::Binary(_) => "Binary",
        Value::List(_) => "list",
        Value::Dict(_) => "dict",
    }
}

fn version_info() -> Value {
    Value::dict([
        ("server_version", Value::str("19.0")),
        (
            "server_version_info",
            Value::List(vec![
                Value::Int(19),
                Value::Int(0),
                Value::Int(0),
                Value::str("final"),
                Value::Int(0),
                Value::str(""),
            ]),
        ),
        ("server_serie", Value::str("19.0")),
        ("protocol_version", Value::Int(1)),
    ])
}

// ----------------------------------------------------------------------
// JSON-2 and /web/version
// ----------------------------------------------------------------------

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_python_json(),
    )
        .into_response()
}

fn json2_error(error: &OdooError) -> Response {
    let answer = error.to_json2();
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json_response(status, &answer.body);
    for (name, value) in answer.headers {
        if let Ok(value) = header::HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// werkzeug's HTML 404 page: what Odoo answers when no database could be selected for the request.
fn html_not_found() -> Response {
    let page = "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n<p>The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.</p>\n";
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response()
}

async fn not_found() -> Response {
    html_not_found()
}

async fn json2_not_found() -> Response {
    json2_error(&OdooError::http(
        404,
        "Did you mean POST /json/2/<model>/<method>?",
    ))
}

async fn web_version() -> Response {
    let body = Value::dict([
        (
            "version_info",
            Value::List(vec![
                Value::Int(19),
                Value::Int(0),
                Value::Int(0),
                Value::str("final"),
                Value::Int(0),
                Value::str(""),
            ]),
        ),
        ("version", Value::str("19.0")),
    ]);
    json_response(StatusCode::OK, &body)
}

/// The JSON-RPC route older clients use to read the version (`type='jsonrpc'`, answered in an envelope).
async fn webclient_version_info(body: Bytes) -> Response {
    let id = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|request| request.get("id").map(Value::from_json))
        .unwrap_or(Value::Nil);
    let envelope = Value::dict([
        ("jsonrpc", Value::str("2.0")),
        ("id", id),
        ("result", version_info()),
    ]);
    json_response(StatusCode::OK, &envelope)
}

async fn json2_endpoint(
    State(state): State<AppState>,
    Path(rest): Path<String>,
    http_method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Only `POST /json/2/<model>/<method>` is the RPC route; Odoo's catch-all answers everything else with a hint.
    let segments: Vec<&str> = rest.split('/').collect();
    let (model, method) = match segments.as_slice() {
        [model, method]
            if !model.is_empty() && !method.is_empty() && http_method == Method::POST =>
        {
            (model.to_string(), method.to_string())
        }
        _ => return json2_not_found().await,
    };
    // X-Odoo-Database naming another database leaves the request without a database: no such route there.
    if let Some(db) = headers
        .get("x-odoo-database")
        .and_then(|value| value.to_str().ok())
        && db != state.config.db
    {
        return html_not_found();
    }
    let mimetype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
    if !body.is_empty() && mimetype.as_deref() != Some("application/json") {
        return json2_error(&OdooError::http(
            400,
            "Request inferred type is compatible with ['http'] but 'json2' was expected by the route",
        ));
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, rest) = value.split_once(char::is_whitespace)?;
            let token = rest.trim();
            (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_string())
        });
    let Some(token) = token else {
        return json2_error(&OdooError::http(
            401,
            "User not authenticated, use an API Key with a Bearer Authorization header.",
        ));
    };
    let Some(uid) = state.lock().store.uid_for_api_key(&token) else {
        return json2_error(&OdooError::http(401, "Invalid apikey"));
    };
    let params = if body.is_empty() {
        Value::Dict(Vec::new())
    } else {
        match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(json) => Value::from_json(&json),
            Err(error) => {
                return json2_error(&OdooError::http(
                    400,
                    format!("could not parse the body as json: {error}"),
                ));
            }
        }
    };
    // A body that is not a JSON object is ignored, as in Odoo (`jsonrequest | args` fails and only the path counts).
    let mut ids = None;
    let mut kwargs = Vec::new();
    if let Value::Dict(pairs) = params {
        for (key, value) in pairs {
            if key == "ids" {
                ids = Some(value);
            } else {
                kwargs.push((key, value));
            }
        }
    }
    let result = {
        let mut inner = state.lock();
        dispatch::execute(
            &mut inner.store,
            uid,
            Call {
                model,
                method,
                ids,
                args: Vec::new(),
                kwargs,
            },
            Protocol::Json2,
        )
    };
    match result {
        Ok(value) => json_response(StatusCode::OK, &value),
        Err(error) => json2_error(&error),
    }
}

// ----------------------------------------------------------------------
// Test control
// ----------------------------------------------------------------------

/// Control routes answer loopback peers only (requests without a known peer come from in-process tests).
fn refuse_remote(request_peer: Option<&ConnectInfo<SocketAddr>>) -> Option<Response> {
    match request_peer {
        Some(ConnectInfo(peer)) if !peer.ip().is_loopback() => Some(control_answer(
            StatusCode::FORBIDDEN,
            Value::dict([("error", Value::str("control routes are loopback-only"))]),
        )),
        _ => None,
    }
}

fn control_answer(status: StatusCode, body: Value) -> Response {
    json_response(status, &body)
}

fn ok() -> Response {
    control_answer(StatusCode::OK, Value::dict([("ok", Value::Bool(true))]))
}

fn bad_request(message: impl Into<String>) -> Response {
    control_answer(
        StatusCode::BAD_REQUEST,
        Value::dict([("error", Value::str(message.into()))]),
    )
}

fn parse_control_body(body: &Bytes) -> Result<Value, String> {
    if body.is_empty() {
        return Ok(Value::Dict(Vec::new()));
    }
    serde_json::from_slice::<serde_json::Value>(body)
        .map(|json| Value::from_json(&json))
        .map_err(|error| format!("body is not JSON: {error}"))
}

async fn control_reset(State(state): State<AppState>, request: Request) -> Response {
    if let Some(refused) = refuse_remote(request.extensions().get()) {
        return refused;
    }
    state.reset();
    ok()
}

async fn control_fault(State(state): State<AppState>, request: Request) -> Response {
    if let Some(refused) = refuse_remote(request.extensions().get()) {
        return refused;
    }
    let body = match axum::body::to_bytes(request.into_body(), 1024 * 1024).await {
        Ok(body) => body,
        Err(_) => return bad_request("body too large"),
    };
    let kit_mode = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .filter(|json| {
            // The kit's plan for its own modes, and for any mode given with its fields (a `path`
            // or a `count`); Odoo's plan applies to every path and counts with `times`.
            let mode = json["mode"].as_str().unwrap_or_default();
            let kit_fields = json.get("path").is_some() || json.get("count").is_some();
            (kit_fields || !["none", "hang", "slow", "close", "http502"].contains(&mode))
                && standin_kit::FaultMode::parse(mode).is_some()
        });
    if let Some(json) = kit_mode {
        // The kit's modes, with the kit's fields (`count`, `path`, `status`, `retry_after`, `delay_ms`).
        return match standin_kit::Fault::from_json(&json) {
            Ok(fault) => {
                state.lock().fault = Fault::none();
                state.kit.set(fault);
                ok()
            }
            Err(message) => bad_request(message),
        };
    }
    let body = match parse_control_body(&body) {
        Ok(body) => body,
        Err(message) => return bad_request(message),
    };
    let mode = match body.get("mode").and_then(Value::as_str) {
        Some("none") => FaultMode::None,
        Some("hang") => FaultMode::Hang,
        Some("slow") => FaultMode::Slow,
        Some("close") => FaultMode::Close,
        Some("http502") => FaultMode::Http502,
        _ => {
            return bad_request(
                "mode must be one of none, hang, slow, close, http502, or the kit's status, drop_after, hang_after, truncated, malformed, drip",
            );
        }
    };
    let delay_ms = match body.get("delay_ms") {
        None | Some(Value::Nil) => 1000,
        Some(Value::Int(delay)) if *delay >= 0 => *delay as u64,
        _ => return bad_request("delay_ms must be a non-negative integer"),
    };
    let remaining = match body.get("times") {
        None | Some(Value::Nil) => None,
        Some(Value::Int(times)) if *times > 0 => Some(*times as u64),
        _ => return bad_request("times must be a positive integer"),
    };
    let fault = if mode == FaultMode::None {
        Fault::none()
    } else {
        Fault {
            mode,
            delay: Duration::from_millis(delay_ms),
            remaining,
        }
    };
    state.lock().fault = fault;
    // One plan at a time: this one replaces a plan of the kit's modes.
    state.kit.clear();
    ok()
}

async fn control_password(State(state): State<AppState>, request: Request) -> Response {
    if let Some(refused) = refuse_remote(request.extensions().get()) {
        return refused;
    }
    let body = match axum::body::to_bytes(request.into_body(), 1024 * 1024).await {
        Ok(body) => body,
        Err(_) => return bad_request("body too large"),
    };
    let body = match parse_control_body(&body) {
        Ok(body) => body,
        Err(message) => return bad_request(message),
    };
    let (Some(login), Some(password)) = (
        body.get("login").and_then(Value::as_str),
        body.get("password").and_then(Value::as_str),
    ) else {
        return bad_request("login and password are required strings");
    };
    if state.lock().store.set_password(login, password) {
        ok()
    } else {
        control_answer(
            StatusCode::NOT_FOUND,
            Value::dict([("error", Value::str(format!("no user with login {login}")))]),
        )
    }
}

async fn control_calls(State(state): State<AppState>, request: Request) -> Response {
    if let Some(refused) = refuse_remote(request.extensions().get()) {
        return refused;
    }
    let calls = state.lock().calls.clone();
    let total: u64 = calls.values().sum();
    let rows = calls
        .into_iter()
        .map(|((protocol, model, method), count)| {
            Value::dict([
                ("protocol", Value::str(protocol)),
                ("model", Value::str(model)),
                ("method", Value::str(method)),
                ("count", Value::Int(count as i64)),
            ])
        })
        .collect();
    control_answer(
        StatusCode::OK,
        Value::dict([
            ("calls", Value::List(rows)),
            ("total", Value::Int(total as i64)),
        ]),
    )
}
