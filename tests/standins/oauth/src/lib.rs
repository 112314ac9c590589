//! An OAuth 2.1 authorization server test stand-in, for testing the servers as OAuth resource
//! servers (mcp-common's `oauth`) without a real identity provider.
//!
//! `oauth-standin [--listen 127.0.0.1:0]` prints `oauth-standin: listening on http://ADDR`; the
//! issuer identifier is `http://ADDR`. In process: [`spawn`].
//!
//! # Faithful
//!
//! - **Metadata** (RFC 8414) at `/.well-known/oauth-authorization-server`: `issuer`,
//!   `token_endpoint`, `jwks_uri`, `introspection_endpoint`, the grant and authentication methods.
//! - **Keys**: ES256 (P-256) key pairs generated with ring at start; `GET /jwks` publishes the
//!   public halves as a JWK Set (`kid`, `use: sig`, `alg: ES256`). Tokens are real compact JWS
//!   signatures (`typ: at+jwt`, RFC 9068 claims: `iss`, `sub`, `aud`, `exp`, `iat`, `nbf`, `jti`,
//!   `client_id`, `scope`).
//! - **`POST /token`**, the `client_credentials` grant (RFC 6749 section 4.4) with client
//!   authentication by HTTP Basic or form fields, `scope`, and RFC 8707 `resource` parameters
//!   that become the audience; errors as RFC 6749 section 5.2 words them (`invalid_client` with
//!   401 and `WWW-Authenticate: Basic`, `unsupported_grant_type`, `invalid_target`, ...).
//! - **`POST /introspect`** (RFC 7662): client authentication required; `active: true` with the
//!   token's claims for a live token this issuer made (JWT signature and expiry checked, opaque
//!   tokens looked up), `{"active": false}` for anything else, expired or revoked.
//!
//! # Simplified
//!
//! No authorization endpoint, PKCE, refresh tokens or dynamic client registration: tests mint the
//! tokens a user's consent would have produced through the control below. Two fixed clients:
//! [`CLIENT_ID`] (asks for tokens) and [`RESOURCE_SERVER_ID`] (introspects).
//!
//! # Control routes (loopback only)
//!
//! - `POST /__standin/token {"sub", "scope", "aud", "expires_in", "not_before_in", "iss", "kid",
//!   "format": "jwt"|"opaque", "signer": "current"|"stranger"}`: a token as specified, answered
//!   like the token endpoint; `expires_in` may be negative (already expired), `iss` and `aud`
//!   may name another issuer or resource, `signer: stranger` signs with a key the JWKS does not
//!   hold (a bad signature under a known `kid`).
//! - `POST /__standin/rotate {"keep_previous": true}`: a new current key with a new `kid`; the
//!   previous ones stay published unless `keep_previous` is false. Answers `{"kid"}`.
//! - `POST /__standin/revoke {"token"}`: introspection answers `active: false` for it from now on.
//! - The kit's `POST /__standin/fault`, `POST /__standin/reset` (new keys, tokens forgotten) and
//!   `GET /__standin/calls` (e.g. how often `GET /jwks` was fetched).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::{SecureRandom as _, SystemRandom};
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _,
    UnparsedPublicKey,
};
use serde_json::{Value, json};
use standin_kit::{Faults, Running, Service};

/// The client that asks for tokens (`client_credentials`).
pub const CLIENT_ID: &str = "mcp-test-client";
/// Its secret.
pub const CLIENT_SECRET: &str = "mcp-test-client-secret";
/// The client a resource server introspects as.
pub const RESOURCE_SERVER_ID: &str = "mcp-server";
/// Its secret.
pub const RESOURCE_SERVER_SECRET: &str = "mcp-server-secret";

/// One signing key: the private half stays here, the public half is in the JWKS.
struct SigningKey {
    kid: String,
    pair: EcdsaKeyPair,
}

impl SigningKey {
    fn generate(kid: String) -> Result<SigningKey, String> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| "could not generate a P-256 key".to_owned())?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|_| "could not load the generated P-256 key".to_owned())?;
        Ok(SigningKey { kid, pair })
    }

    /// The public key as a JWK (RFC 7518 section 6.2: the uncompressed point's x and y).
    fn jwk(&self) -> Value {
        let point = self.pair.public_key().as_ref();
        let x = point.get(1..33).unwrap_or_default();
        let y = point.get(33..65).unwrap_or_default();
        json!({
            "kty": "EC",
            "crv": "P-256",
            "kid": self.kid,
            "use": "sig",
            "alg": "ES256",
            "x": URL_SAFE_NO_PAD.encode(x),
            "y": URL_SAFE_NO_PAD.encode(y),
        })
    }

    /// A compact JWS of `claims` (ES256), with `kid` in the header.
    fn sign(&self, kid: &str, claims: &Value) -> Result<String, String> {
        let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": kid});
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .pair
            .sign(&SystemRandom::new(), message.as_bytes())
            .map_err(|_| "signing failed".to_owned())?;
        Ok(format!(
            "{message}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        ))
    }

    fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, self.pair.public_key().as_ref())
            .verify(message, signature)
            .is_ok()
    }
}

struct Inner {
    /// Published keys, the current one last.
    keys: Vec<SigningKey>,
    next_kid: u64,
    /// Opaque tokens and their claims.
    opaque: HashMap<String, Value>,
    revoked: HashSet<String>,
}

impl Inner {
    fn new() -> Result<Inner, String> {
        Ok(Inner {
            keys: vec![SigningKey::generate("key-1".into())?],
            next_kid: 2,
            opaque: HashMap::new(),
            revoked: HashSet::new(),
        })
    }
}

/// The stand-in's state: its issuer identifier, keys and tokens.
#[derive(Clone)]
pub struct AppState {
    /// `http://ADDR`, known once the listener is bound.
    issuer: Arc<OnceLock<String>>,
    inner: Arc<Mutex<Inner>>,
    faults: Arc<Faults>,
}

impl AppState {
    /// A fresh authorization server; its issuer identifier is set with [`AppState::bound_to`].
    pub fn new() -> Result<AppState, String> {
        Ok(AppState {
            issuer: Arc::new(OnceLock::new()),
            inner: Arc::new(Mutex::new(Inner::new()?)),
            faults: Arc::new(Faults::default()),
        })
    }

    /// Sets the issuer identifier to `http://ADDR` (once; later calls change nothing).
    pub fn bound_to(&self, addr: SocketAddr) {
        let _ = self.issuer.set(format!("http://{addr}"));
    }

    /// The issuer identifier.
    pub fn issuer(&self) -> &str {
        self.issuer.get().map(String::as_str).unwrap_or_default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Service for AppState {
    fn fault_response(&self, status: StatusCode) -> Response {
        oauth_error(
            status,
            "temporarily_unavailable",
            "fault injected by the test",
        )
    }

    fn reset(&self) {
        if let Ok(fresh) = Inner::new() {
            *self.lock() = fresh;
        }
    }
}

/// The routes, with the kit's fault plan and controls.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/.well-known/oauth-authorization-server", get(metadata))
        .route("/jwks", get(jwks))
        .route("/token", post(token))
        .route("/introspect", post(introspect))
        .route("/__standin/token", post(control_token))
        .route("/__standin/rotate", post(control_rotate))
        .route("/__standin/revoke", post(control_revoke))
        .with_state(state.clone());
    let faults = state.faults.clone();
    standin_kit::with_controls(api, state, faults)
}

/// Serves a new stand-in on a free loopback port in the background.
pub async fn spawn() -> std::io::Result<Running<AppState>> {
    let state = AppState::new().map_err(std::io::Error::other)?;
    let running = standin_kit::spawn(app(state.clone()), state).await?;
    running.state.bound_to(running.addr);
    Ok(running)
}

/// What a token says and how it is made.
#[derive(Debug, Clone)]
struct TokenSpec {
    sub: String,
    client_id: String,
    scope: String,
    aud: Value,
    iss: Option<String>,
    expires_in: i64,
    not_before_in: Option<i64>,
    kid: Option<String>,
    opaque: bool,
    stranger: bool,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn random_id(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    // SystemRandom fails only without an OS source of randomness; the ids then stay zeros and
    // the test that needs unique ones says so.
    let _ = SystemRandom::new().fill(&mut buffer);
    URL_SAFE_NO_PAD.encode(buffer)
}

impl AppState {
    fn mint(&self, spec: &TokenSpec) -> Result<Value, String> {
        let issued = now();
        let mut claims = json!({
            "iss": spec.iss.clone().unwrap_or_else(|| self.issuer().to_owned()),
            "sub": spec.sub,
            "aud": spec.aud,
            "exp": issued + spec.expires_in,
            "iat": issued,
            "jti": random_id(12),
            "client_id": spec.client_id,
            "scope": spec.scope,
        });
        if let Some(nbf) = spec.not_before_in {
            claims["nbf"] = json!(issued + nbf);
        }
        let mut inner = self.lock();
        let access_token = if spec.opaque {
            let token = random_id(32);
            inner.opaque.insert(token.clone(), claims);
            token
        } else {
            let current = inner.keys.last().ok_or("no signing key")?;
            let kid = spec.kid.clone().unwrap_or_else(|| current.kid.clone());
            if spec.stranger {
                SigningKey::generate(kid.clone())?.sign(&kid, &claims)?
            } else {
                current.sign(&kid, &claims)?
            }
        };
        Ok(json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": spec.expires_in,
            "scope": spec.scope,
        }))
    }

    /// The claims of a live token this issuer made, for introspection.
    fn live_claims(&self, token: &str) -> Option<Value> {
        let inner = self.lock();
        if inner.revoked.contains(token) {
            return None;
        }
        let claims = match inner.opaque.get(token) {
            Some(claims) => claims.clone(),
            None => {
                let (message, signature) = token.rsplit_once('.')?;
                let (header, payload) = message.split_once('.')?;
                let header: Value =
                    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
                let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
                let kid = header.get("kid").and_then(Value::as_str);
                let key = inner
                    .keys
                    .iter()
                    .find(|key| Some(key.kid.as_str()) == kid)?;
                if header.get("alg").and_then(Value::as_str) != Some("ES256")
                    || !key.verifies(message.as_bytes(), &signature)
                {
                    return None;
                }
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?
            }
        };
        let expired = claims
            .get("exp")
            .and_then(Value::as_i64)
            .is_none_or(|exp| exp <= now());
        (!expired).then_some(claims)
    }
}

async fn metadata(State(state): State<AppState>) -> Response {
    let issuer = state.issuer();
    axum::Json(json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "introspection_endpoint": format!("{issuer}/introspect"),
        "response_types_supported": [],
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": ["mcp:read", "mcp:write", "mcp:destructive"],
    }))
    .into_response()
}

async fn jwks(State(state): State<AppState>) -> Response {
    let keys: Vec<Value> = state.lock().keys.iter().map(SigningKey::jwk).collect();
    axum::Json(json!({"keys": keys})).into_response()
}

/// An RFC 6749 section 5.2 error answer.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"oauth-standin\""),
        );
    }
    response
}

/// `application/x-www-form-urlencoded` pairs, in order (a key may repeat, as `resource` does).
fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(key), form_decode(value))
        })
        .collect()
}

fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        match byte {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(index + 1..index + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(decoded) = hex {
                    out.push(decoded);
                    index += 2;
                } else {
                    out.push(b'%');
                }
            }
            other => out.push(other),
        }
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// The authenticated client: HTTP Basic (RFC 6749 section 2.3.1, form-encoded id and secret)
/// or `client_id` and `client_secret` in the body.
fn client(headers: &HeaderMap, pairs: &[(String, String)]) -> Option<&'static str> {
    let (id, secret) = match headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        Some(encoded) => {
            let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
            let (id, secret) = decoded.split_once(':')?;
            (form_decode(id), form_decode(secret))
        }
        None => (
            field(pairs, "client_id")?.to_owned(),
            field(pairs, "client_secret")?.to_owned(),
        ),
    };
    [
        (CLIENT_ID, CLIENT_SECRET),
        (RESOURCE_SERVER_ID, RESOURCE_SERVER_SECRET),
    ]
    .into_iter()
    .find(|(known, known_secret)| *known == id && *known_secret == secret)
    .map(|(known, _)| known)
}

async fn token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let pairs = form_pairs(&body);
    let Some(client_id) = client(&headers, &pairs) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    };
    match field(&pairs, "grant_type") {
        Some("client_credentials") => {}
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only client_credentials is supported",
            );
        }
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required",
            );
        }
    }
    let resources: Vec<&str> = pairs
        .iter()
        .filter(|(key, _)| key == "resource")
        .map(|(_, value)| value.as_str())
        .collect();
    if resources.is_empty() || resources.iter().any(|r| r.contains('#')) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_target",
            "name the resource the token is for (RFC 8707), as an absolute URI without a fragment",
        );
    }
    let aud = match resources.as_slice() {
        [one] => json!(one),
        many => json!(many),
    };
    let spec = TokenSpec {
        sub: client_id.to_owned(),
        client_id: client_id.to_owned(),
        scope: field(&pairs, "scope").unwrap_or("mcp:read").to_owned(),
        aud,
        iss: None,
        expires_in: 3600,
        not_before_in: None,
        kid: None,
        opaque: false,
        stranger: false,
    };
    minted(&state, &spec)
}

fn minted(state: &AppState, spec: &TokenSpec) -> Response {
    match state.mint(spec) {
        Ok(answer) => {
            let mut response = axum::Json(answer).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", &error),
    }
}

async fn introspect(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let pairs = form_pairs(&body);
    if client(&headers, &pairs).is_none() {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    }
    let Some(token) = field(&pairs, "token") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is required",
        );
    };
    match state.live_claims(token) {
        Some(mut claims) => {
            claims["active"] = json!(true);
            claims["token_type"] = json!("Bearer");
            axum::Json(claims).into_response()
        }
        None => axum::Json(json!({"active": false})).into_response(),
    }
}

fn control_error(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"error": message})),
    )
        .into_response()
}

async fn control_token(State(state): State<AppState>, body: Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return control_error("the body must be a JSON object");
    };
    let text = |name: &str| request.get(name).and_then(Value::as_str).map(str::to_owned);
    let Some(sub) = text("sub") else {
        return control_error("sub is required");
    };
    let Some(aud) = request.get("aud").filter(|a| a.is_string() || a.is_array()) else {
        return control_error("aud is required: the resource URI, or a list of them");
    };
    let opaque = match text("format").as_deref() {
        None | Some("jwt") => false,
        Some("opaque") => true,
        Some(_) => return control_error("format must be jwt or opaque"),
    };
    let stranger = match text("signer").as_deref() {
        None | Some("current") => false,
        Some("stranger") => true,
        Some(_) => return control_error("signer must be current or stranger"),
    };
    let spec = TokenSpec {
        client_id: text("client_id").unwrap_or_else(|| CLIENT_ID.to_owned()),
        sub,
        scope: text("scope").unwrap_or_default(),
        aud: aud.clone(),
        iss: text("iss"),
        expires_in: request
            .get("expires_in")
            .and_then(Value::as_i64)
            .unwrap_or(3600),
        not_before_in: request.get("not_before_in").and_then(Value::as_i64),
        kid: text("kid"),
        opaque,
        stranger,
    };
    minted(&state, &spec)
}

async fn control_rotate(State(state): State<AppState>, body: Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or(json!({}));
    let keep_previous = request
        .get("keep_previous")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let mut inner = state.lock();
    let kid = format!("key-{}", inner.next_kid);
    let key = match SigningKey::generate(kid.clone()) {
        Ok(key) => key,
        Err(error) => return control_error(&error),
    };
    inner.next_kid += 1;
    if !keep_previous {
        inner.keys.clear();
    }
    inner.keys.push(key);
    axum::Json(json!({"kid": kid})).into_response()
}

async fn control_revoke(State(state): State<AppState>, body: Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or(json!({}));
    let Some(token) = request.get("token").and_then(Value::as_str) else {
        return control_error("token is required");
    };
    state.lock().revoked.insert(token.to_owned());
    axum::Json(json!({"revoked": true})).into_response()
}
