//! The HTTP side: authentication, the `Stripe-Account` scope, idempotency keys, response headers, and the
//! Stripe-specific control routes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use standin_kit::{Faults, Running, Service};

use crate::api::{PLATFORM_ACCOUNT, dispatch};
use crate::error::{ApiError, redact_key};
use crate::form::{self, Params};
use crate::ids::request_id;
use crate::seed;
use crate::state::{Books, RESOURCES};

/// The API version answered when the client names none (the one async-stripe 1.0.0-rc.10 pins).
pub const API_VERSION: &str = "2026-09-30.endive";

/// How long an idempotent result is kept, as Stripe documents.
const IDEMPOTENCY_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

#[derive(Debug, Clone)]
enum Saved {
    InFlight {
        fingerprint: Fingerprint,
    },
    Done {
        fingerprint: Fingerprint,
        status: StatusCode,
        body: String,
        request_id: String,
        at: Instant,
    },
}

/// What "the same parameters" means: method, path and the parsed parameters (so their order does not matter).
type Fingerprint = (String, Value);

/// (live mode, account, key).
type IdempotencyScope = (bool, String, String);

#[derive(Debug)]
struct Inner {
    books: HashMap<(bool, String), Books>,
    idempotency: HashMap<IdempotencyScope, Saved>,
    /// Time every API request spends "executing" after its idempotency key is reserved (`/__standin/latency`).
    latency: Duration,
}

fn seeded(livemode: bool) -> Books {
    let mut books = Books::new(livemode, PLATFORM_ACCOUNT);
    // The seed runs the stand-in's own endpoints; a failure is a bug the tests show as missing seed data.
    if let Err(error) = seed::seed(&mut books) {
        eprintln!("stripe-standin: seeding failed: {}", error.message);
    }
    books
}

impl Inner {
    fn fresh() -> Inner {
        let mut books = HashMap::new();
        books.insert((false, PLATFORM_ACCOUNT.to_string()), seeded(false));
        books.insert((true, PLATFORM_ACCOUNT.to_string()), seeded(true));
        Inner {
            books,
            idempotency: HashMap::new(),
            latency: Duration::ZERO,
        }
    }

    fn books(&mut self, livemode: bool, account: &str) -> &mut Books {
        self.books
            .entry((livemode, account.to_string()))
            // A Connect account starts empty: its objects are its own.
            .or_insert_with(|| Books::new(livemode, account))
    }
}

/// Shared state of a running stand-in.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Mutex<Inner>>,
    faults: Arc<Faults>,
}

impl Default for AppState {
    fn default() -> Self {
        AppState::new()
    }
}

impl AppState {
    /// A freshly seeded state.
    pub fn new() -> AppState {
        AppState {
            inner: Arc::new(Mutex::new(Inner::fresh())),
            faults: Arc::new(Faults::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the data half-written in a way tests care about.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How many objects of `resource` (e.g. `payment_intents`) exist in test mode on the platform account.
    pub fn count(&self, resource: &str) -> usize {
        self.count_in(false, PLATFORM_ACCOUNT, resource)
    }

    /// How many objects of `resource` exist in a mode and account.
    pub fn count_in(&self, livemode: bool, account: &str, resource: &str) -> usize {
        self.lock()
            .books
            .get(&(livemode, account.to_string()))
            .map(|books| books.collection(resource).len())
            .unwrap_or(0)
    }

    /// Runs `action` on the test-mode platform books, e.g. to inspect objects from a test.
    pub fn with_books<T>(&self, action: impl FnOnce(&mut Books) -> T) -> T {
        action(self.lock().books(false, PLATFORM_ACCOUNT))
    }

    /// The fault plan and call counts.
    pub fn faults(&self) -> &Arc<Faults> {
        &self.faults
    }
}

impl Service for AppState {
    fn fault_response(&self, status: StatusCode) -> Response {
        let id = request_id();
        let error = ApiError::for_status(status);
        json_response(status, &error.body(&id, false).to_string(), &id, &[])
    }

    fn reset(&self) {
        *self.lock() = Inner::fresh();
    }
}

/// Stripe's routes under `/v1/` plus the control routes, with the kit's fault plan around them.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/__standin/seed", post(control_seed))
        .route("/__standin/count/{resource}", get(control_count))
        .route("/__standin/latency", post(control_latency))
        .fallback(api_endpoint)
        .with_state(state.clone());
    let faults = state.faults.clone();
    standin_kit::with_controls(api, state, faults)
}

/// Binds 127.0.0.1 on a free port and serves a freshly seeded stand-in there in the background.
pub async fn spawn() -> std::io::Result<Running<AppState>> {
    let state = AppState::new();
    standin_kit::spawn(app(state.clone()), state).await
}

fn json_response(
    status: StatusCode,
    body: &str,
    request_id: &str,
    extra: &[(&str, String)],
) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert("request-id", value);
    }
    headers.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    for (name, value) in extra {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.insert(name, value);
        }
    }
    response
}

/// The mode of a valid secret or restricted key; `None` for anything Stripe would refuse.
fn mode_of_key(key: &str) -> Option<bool> {
    let (livemode, rest) = if let Some(rest) = key
        .strip_prefix("sk_test_")
        .or_else(|| key.strip_prefix("rk_test_"))
    {
        (false, rest)
    } else if let Some(rest) = key
        .strip_prefix("sk_live_")
        .or_else(|| key.strip_prefix("rk_live_"))
    {
        (true, rest)
    } else {
        return None;
    };
    let valid = rest.len() >= 10
        && rest.chars().all(|c| c.is_ascii_alphanumeric())
        && !key.to_ascii_lowercase().contains("revoked");
    valid.then_some(livemode)
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

/// Releases an idempotency key reserved by a request whose client went away before it executed.
struct Reservation {
    state: AppState,
    scope: Option<IdempotencyScope>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(scope) = self.scope.take() {
            let mut inner = self.state.lock();
            if matches!(inner.idempotency.get(&scope), Some(Saved::InFlight { .. })) {
                inner.idempotency.remove(&scope);
            }
        }
    }
}

async fn api_endpoint(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let id = request_id();
    let header_text = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
    };
    let version = header_text("stripe-version").unwrap_or_else(|| API_VERSION.to_string());
    let mut extra: Vec<(&str, String)> = vec![("stripe-version", version)];
    let account_header = header_text("stripe-account");
    if let Some(account) = &account_header {
        extra.push(("stripe-account", account.clone()));
    }
    let fail = |error: ApiError, livemode: bool, extra: &[(&str, String)]| {
        json_response(
            error.status,
            &pretty(&error.body(&id, livemode)),
            &id,
            extra,
        )
    };

    let key = bearer(&headers);
    let Some(livemode) = key.as_deref().and_then(mode_of_key) else {
        return fail(
            ApiError::bad_key(key.as_deref().filter(|key| !key.is_empty())),
            false,
            &extra,
        );
    };
    let key = key.unwrap_or_default();
    let account = match &account_header {
        None => PLATFORM_ACCOUNT.to_string(),
        Some(account) if account.starts_with("acct_") && account.len() > 5 => account.clone(),
        Some(account) => {
            let error = ApiError::invalid(
                format!(
                    "The provided key '{}' does not have access to account '{account}' (or that account does not exist). Application access may have been revoked.",
                    redact_key(&key)
                ),
                None,
            )
            .with_code("account_invalid");
            return fail(
                ApiError {
                    status: StatusCode::FORBIDDEN,
                    ..error
                },
                livemode,
                &extra,
            );
        }
    };
    let path = uri.path().to_string();
    if !path.starts_with("/v1/") {
        let error = ApiError::invalid(
            format!("Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/."),
            None,
        )
        .not_found();
        return fail(error, livemode, &extra);
    }
    let body_text = String::from_utf8_lossy(&body).into_owned();
    let mut params = match form::parse(uri.query().unwrap_or("")) {
        Ok(params) => params,
        Err(error) => return fail(error, livemode, &extra),
    };
    if method == Method::POST {
        match form::parse(&body_text) {
            Ok(form) => params.extend(form),
            Err(error) => return fail(error, livemode, &extra),
        }
    }

    // Idempotency (POST only, as in Stripe; GET and DELETE are idempotent by definition).
    let idempotency_key = header_text("idempotency-key").filter(|_| method == Method::POST);
    let mut reservation = Reservation {
        state: state.clone(),
        scope: None,
    };
    if let Some(idempotency_key) = &idempotency_key {
        extra.push(("idempotency-key", idempotency_key.clone()));
        if idempotency_key.len() > 255 {
            return fail(
                ApiError::invalid(
                    "Invalid idempotency key: keys can be at most 255 characters long.",
                    None,
                ),
                livemode,
                &extra,
            );
        }
        let scope = (livemode, account.clone(), idempotency_key.clone());
        let fingerprint: Fingerprint = (format!("{method} {path}"), Value::Object(params.clone()));
        let mut inner = state.lock();
        let expired = matches!(inner.idempotency.get(&scope), Some(Saved::Done { at, .. }) if at.elapsed() > IDEMPOTENCY_WINDOW);
        if expired {
            inner.idempotency.remove(&scope);
        }
        match inner.idempotency.get(&scope).cloned() {
            Some(Saved::InFlight { .. }) => {
                drop(inner);
                return fail(ApiError::idempotency_in_flight(), livemode, &extra);
            }
            Some(Saved::Done {
                fingerprint: first,
                status,
                body,
                request_id: original,
                ..
            }) => {
                drop(inner);
                if first != fingerprint {
                    return fail(
                        ApiError::idempotency_mismatch(idempotency_key),
                        livemode,
                        &extra,
                    );
                }
                extra.push(("idempotent-replayed", "true".into()));
                extra.push(("original-request", original));
                return json_response(status, &body, &id, &extra);
            }
            None => {
                inner
                    .idempotency
                    .insert(scope.clone(), Saved::InFlight { fingerprint });
                reservation.scope = Some(scope);
            }
        }
    }

    let latency = state.lock().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }

    let mut inner = state.lock();
    let result = dispatch(
        inner.books(livemode, &account),
        method.as_str(),
        &path,
        Params(params),
    );
    let (status, body, executed) = match result {
        Ok(object) => (StatusCode::OK, pretty(&object), true),
        Err(error) => (
            error.status,
            pretty(&error.body(&id, livemode)),
            error.executed,
        ),
    };
    if let Some(scope) = reservation.scope.take() {
        if executed {
            let fingerprint = match inner.idempotency.get(&scope) {
                Some(Saved::InFlight { fingerprint }) => fingerprint.clone(),
                _ => (String::new(), Value::Null),
            };
            inner.idempotency.insert(
                scope,
                Saved::Done {
                    fingerprint,
                    status,
                    body: body.clone(),
                    request_id: id.clone(),
                    at: Instant::now(),
                },
            );
        } else {
            // A request refused before executing saves nothing: the key may be used again.
            inner.idempotency.remove(&scope);
        }
    }
    drop(inner);
    json_response(status, &body, &id, &extra)
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

// ----------------------------------------------------------------------
// Control routes
// ----------------------------------------------------------------------

fn control_error(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({ "error": message })),
    )
        .into_response()
}

fn control_body(body: &Bytes) -> Result<Value, String> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|error| format!("body is not JSON: {error}"))
}

/// `POST /__standin/seed {"customers": N}`: adds N customers in test mode.
async fn control_seed(State(state): State<AppState>, body: Bytes) -> Response {
    let body = match control_body(&body) {
        Ok(body) => body,
        Err(message) => return control_error(&message),
    };
    let count = match body.get("customers") {
        None => 0,
        Some(count) => match count.as_u64() {
            Some(count) if count <= 100_000 => count as usize,
            _ => return control_error("customers must be an integer from 0 to 100000"),
        },
    };
    let result = state.with_books(|books| seed::bulk_customers(books, count));
    match result {
        Ok(()) => {
            axum::Json(json!({"ok": true, "customers": state.count("customers")})).into_response()
        }
        Err(error) => control_error(&error.message),
    }
}

/// `GET /__standin/count/{resource}[?mode=live][&account=acct_…]`.
async fn control_count(
    State(state): State<AppState>,
    Path(resource): Path<String>,
    uri: Uri,
) -> Response {
    let query = Params(form::parse(uri.query().unwrap_or("")).unwrap_or_default());
    if !RESOURCES.iter().any(|(name, _, _)| *name == resource) {
        let names: Vec<&str> = RESOURCES.iter().map(|(name, _, _)| *name).collect();
        return control_error(&format!(
            "unknown resource {resource}; one of {}",
            names.join(", ")
        ));
    }
    let livemode = query.get("mode").is_some_and(|mode| mode == "live");
    let account = query
        .str("account")
        .ok()
        .flatten()
        .unwrap_or_else(|| PLATFORM_ACCOUNT.to_string());
    let count = state.count_in(livemode, &account, &resource);
    axum::Json(json!({"resource": resource, "count": count})).into_response()
}

/// `POST /__standin/latency {"ms": N}`: every API request then takes N ms to execute, holding its idempotency key.
async fn control_latency(State(state): State<AppState>, body: Bytes) -> Response {
    let body = match control_body(&body) {
        Ok(body) => body,
        Err(message) => return control_error(&message),
    };
    let Some(ms) = body.get("ms").and_then(Value::as_u64) else {
        return control_error("ms must be a non-negative integer");
    };
    state.lock().latency = Duration::from_millis(ms);
    axum::Json(json!({"ok": true})).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_decide_the_mode_and_bad_ones_are_refused() {
        assert_eq!(mode_of_key("sk_test_4eC39HqLyjWDarjtT1zdp7dc"), Some(false));
        assert_eq!(mode_of_key("rk_test_abcdefghij"), Some(false));
        // The key tests/standins.json gives mcp-stripe.
        assert_eq!(mode_of_key("sk_test_standin0key0for0tests"), Some(false));
        assert_eq!(mode_of_key("sk_live_abcdefghij12"), Some(true));
        assert_eq!(mode_of_key("rk_live_abcdefghij12"), Some(true));
        assert_eq!(mode_of_key("sk_test_short"), None);
        assert_eq!(mode_of_key("pk_test_abcdefghij12"), None);
        assert_eq!(mode_of_key("sk_test_revokedabcdef12"), None);
        assert_eq!(mode_of_key("sk_test_abc-defghij12"), None);
    }

    #[test]
    fn the_seed_has_every_resource() {
        let state = AppState::new();
        for resource in [
            "customers",
            "products",
            "prices",
            "payment_links",
            "invoices",
            "invoiceitems",
            "payment_intents",
            "charges",
            "subscriptions",
            "coupons",
            "disputes",
            "balance_transactions",
        ] {
            assert!(state.count(resource) > 0, "{resource}");
            assert!(
                state.count_in(true, PLATFORM_ACCOUNT, resource) > 0,
                "live {resource}"
            );
        }
    }
}
