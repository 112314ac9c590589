//! The HTTP transport as an OAuth 2.1 resource server, as MCP's authorization specification
//! (2025-11-25) describes it: protected resource metadata (RFC 9728), access tokens checked as
//! JWTs against the issuer's published keys or by introspection (RFC 7662), their audience bound
//! to this server's resource URI (RFC 8707), and scopes per tool kind.
//!
//! [`OAuthConfig::from_env`] reads the `MCP_OAUTH_*` variables; `http` builds an `OAuth` from it
//! once the listener is bound and asks it about every bearer token that is not one of the static
//! `MCP_AUTH_TOKEN(S)`. The caller becomes the principal `oauth:<sub>` with its scopes in
//! [`Scopes`](crate::identity::Scopes).
//!
//! Tokens are never logged, returned or kept: the introspection cache is keyed by their SHA-256.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::Url;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::config::{ConfigError, Env};
use crate::gate::ToolKind;
use crate::secret::Secret;

/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 30;
/// How long fetched keys are used before they are fetched again (on the next use).
const MAX_KEY_AGE: Duration = Duration::from_secs(3600);
/// After a failed fetch, how long before another is tried (a down issuer is not hammered).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(2);
/// Default for `MCP_OAUTH_JWKS_MIN_REFETCH_SECS`: how often a token with an unknown key id may
/// make the server fetch the keys again, so a flood of made-up ids cannot hammer the issuer.
const DEFAULT_MIN_REFETCH: Duration = Duration::from_secs(30);
/// How long a positive introspection answer is reused (never past the token's `exp`).
const INTROSPECTION_TTL: Duration = Duration::from_secs(60);
/// How many introspection answers are kept.
const INTROSPECTION_CACHE_SIZE: usize = 10_000;
/// Time limit of one request to the authorization server.
const ISSUER_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest metadata, key set or introspection answer read.
const MAX_ISSUER_BODY: usize = 1024 * 1024;
/// The signature algorithms accepted; symmetric (HS*) ones never are, and `none` cannot parse.
const ACCEPTED: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The `MCP_OAUTH_*` settings: which authorization server issues the tokens this server accepts,
/// and how to check them.
#[derive(Debug, Clone)]
pub struct OAuthConfig {
    /// The authorization server's issuer identifier (`MCP_OAUTH_ISSUER`), the `iss` of its tokens.
    pub issuer: String,
    /// This server's canonical resource URI (`MCP_OAUTH_RESOURCE`), the audience its tokens must
    /// name; `None` to derive `http://<bound address>/mcp`, allowed only on loopback.
    pub resource: Option<String>,
    /// Where the issuer publishes its keys (`MCP_OAUTH_JWKS_URL`); `None` to discover it from the
    /// issuer's metadata.
    pub jwks_url: Option<String>,
    /// Token introspection (`MCP_OAUTH_INTROSPECTION_URL` with the client credentials); when set,
    /// every token is introspected instead of read as a JWT.
    pub introspection: Option<IntrospectionConfig>,
    /// The scope each kind of tool needs.
    pub scopes: ScopeNames,
    /// How often a token with an unknown key id may cause the keys to be fetched again
    /// (`MCP_OAUTH_JWKS_MIN_REFETCH_SECS`).
    pub jwks_min_refetch: Duration,
}

/// Where and as whom to introspect tokens (RFC 7662).
#[derive(Debug, Clone)]
pub struct IntrospectionConfig {
    /// The introspection endpoint (`MCP_OAUTH_INTROSPECTION_URL`).
    pub url: String,
    /// This server's client id at the authorization server (`MCP_OAUTH_CLIENT_ID`).
    pub client_id: String,
    /// Its client secret (`MCP_OAUTH_CLIENT_SECRET`), sent with HTTP Basic authentication.
    pub client_secret: Secret,
}

/// The scope a token needs for each kind of tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeNames {
    /// Read-only tools, and reading resources and prompts (`MCP_OAUTH_SCOPE_READ`, `mcp:read`).
    pub read: String,
    /// Local writes and writes (`MCP_OAUTH_SCOPE_WRITE`, `mcp:write`).
    pub write: String,
    /// Destructive tools (`MCP_OAUTH_SCOPE_DESTRUCTIVE`, `mcp:destructive`).
    pub destructive: String,
}

impl ScopeNames {
    /// The scope a tool of `kind` needs.
    pub fn for_kind(&self, kind: ToolKind) -> &str {
        match kind {
            ToolKind::ReadOnly => &self.read,
            ToolKind::LocalWrite | ToolKind::Write => &self.write,
            ToolKind::Destructive => &self.destructive,
        }
    }

    /// Every scope, once each, for the metadata's `scopes_supported`.
    fn all(&self) -> Vec<String> {
        let mut all: Vec<String> = Vec::new();
        for scope in [&self.read, &self.write, &self.destructive] {
            if !all.contains(scope) {
                all.push(scope.clone());
            }
        }
        all
    }
}

impl OAuthConfig {
    /// Reads the OAuth settings; `None` when `MCP_OAUTH_ISSUER` is not set (OAuth off). Errors
    /// name the variable and what it expects.
    pub fn from_env(env: &Env) -> Result<Option<OAuthConfig>, ConfigError> {
        let Some(issuer) = env.get("MCP_OAUTH_ISSUER") else {
            for dependent in [
                "MCP_OAUTH_RESOURCE",
                "MCP_OAUTH_JWKS_URL",
                "MCP_OAUTH_INTROSPECTION_URL",
            ] {
                if env.get(dependent).is_some() {
                    return Err(ConfigError::Missing {
                        variable: "MCP_OAUTH_ISSUER".into(),
                        expected: format!(
                            "the issuer URL of the authorization server whose tokens this server accepts, since {dependent} is set"
                        ),
                    });
                }
            }
            return Ok(None);
        };
        let issuer = fetchable_url(
            issuer,
            "MCP_OAUTH_ISSUER",
            "the issuer URL of the authorization server, such as https://auth.example.com (http only on loopback)",
        )?;
        let resource = match env.get("MCP_OAUTH_RESOURCE") {
            None => None,
            Some(raw) => Some(resource_uri(raw)?),
        };
        let jwks_url = match env.get("MCP_OAUTH_JWKS_URL") {
            None => None,
            Some(raw) => Some(fetchable_url(
                raw,
                "MCP_OAUTH_JWKS_URL",
                "the URL of the issuer's JSON Web Key Set, such as https://auth.example.com/jwks (http only on loopback)",
            )?),
        };
        let introspection = match env.get("MCP_OAUTH_INTROSPECTION_URL") {
            None => None,
            Some(raw) => Some(IntrospectionConfig {
                url: fetchable_url(
                    raw,
                    "MCP_OAUTH_INTROSPECTION_URL",
                    "the URL of the issuer's token introspection endpoint (RFC 7662), such as https://auth.example.com/introspect (http only on loopback)",
                )?,
                client_id: env.required(
                    "MCP_OAUTH_CLIENT_ID",
                    "this server's client id at the authorization server, since MCP_OAUTH_INTROSPECTION_URL is set",
                )?,
                client_secret: env.required_secret(
                    "MCP_OAUTH_CLIENT_SECRET",
                    "this server's client secret at the authorization server, since MCP_OAUTH_INTROSPECTION_URL is set",
                )?,
            }),
        };
        let scopes = ScopeNames {
            read: scope_name(env, "MCP_OAUTH_SCOPE_READ", "mcp:read")?,
            write: scope_name(env, "MCP_OAUTH_SCOPE_WRITE", "mcp:write")?,
            destructive: scope_name(env, "MCP_OAUTH_SCOPE_DESTRUCTIVE", "mcp:destructive")?,
        };
        let jwks_min_refetch = env
            .seconds("MCP_OAUTH_JWKS_MIN_REFETCH_SECS", 0.0..=3_600.0)?
            .unwrap_or(DEFAULT_MIN_REFETCH);
        Ok(Some(OAuthConfig {
            issuer,
            resource,
            jwks_url,
            introspection,
            scopes,
            jwks_min_refetch,
        }))
    }
}

/// A URL this server fetches from: https, or http to a loopback host (test issuers).
fn fetchable_url(raw: &str, variable: &str, expected: &str) -> Result<String, ConfigError> {
    let invalid = || ConfigError::Invalid {
        variable: variable.into(),
        expected: expected.into(),
        found: Some(raw.into()),
    };
    let url = Url::parse(raw).map_err(|_| invalid())?;
    let host = url.host_str().ok_or_else(invalid)?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    let secure = url.scheme() == "https" || (url.scheme() == "http" && loopback);
    if !secure || url.fragment().is_some() || !url.username().is_empty() {
        return Err(invalid());
    }
    // The issuer is compared with `iss` as written, so keep the operator's spelling.
    Ok(raw.to_owned())
}

/// The resource URI: absolute http(s), no fragment (RFC 8707 section 2).
fn resource_uri(raw: &str) -> Result<String, ConfigError> {
    let invalid = || {
        ConfigError::Invalid {
        variable: "MCP_OAUTH_RESOURCE".into(),
        expected: "this server's canonical URI as clients reach it, such as https://mcp.example.com/mcp (absolute, no fragment)".into(),
        found: Some(raw.into()),
    }
    };
    let url = Url::parse(raw).map_err(|_| invalid())?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() || url.fragment().is_some()
    {
        return Err(invalid());
    }
    Ok(raw.to_owned())
}

/// A scope name: RFC 6749's scope-token characters (printable ASCII but space, `"` and `\`).
fn scope_name(env: &Env, variable: &str, default: &str) -> Result<String, ConfigError> {
    let Some(raw) = env.get(variable) else {
        return Ok(default.to_owned());
    };
    let valid = raw
        .bytes()
        .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
    if !valid {
        return Err(ConfigError::Invalid {
            variable: variable.into(),
            expected: format!(
                "one OAuth scope name without spaces, quotes or backslashes, such as {default}"
            ),
            found: Some(raw.into()),
        });
    }
    Ok(raw.to_owned())
}

/// Where the protected resource metadata of `resource` is (RFC 9728 section 3.1): the
/// well-known path inserted between the host and the resource's path.
pub(crate) fn metadata_url(resource: &str) -> String {
    let Ok(url) = Url::parse(resource) else {
        return format!(
            "{}/.well-known/oauth-protected-resource",
            resource.trim_end_matches('/')
        );
    };
    let origin = url.origin().ascii_serialization();
    let path = url.path().trim_end_matches('/');
    format!("{origin}/.well-known/oauth-protected-resource{path}")
}

/// The protected resource metadata document (RFC 9728 section 2).
pub(crate) fn metadata_document(
    resource: &str,
    issuer: &str,
    scopes: &ScopeNames,
    server: &str,
) -> Value {
    json!({
        "resource": resource,
        "authorization_servers": [issuer],
        "scopes_supported": scopes.all(),
        "bearer_methods_supported": ["header"],
        "resource_name": server,
    })
}

/// Why a request is refused, as said in its `WWW-Authenticate` challenge (RFC 6750 section 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    /// No token: 401, with the scope to ask for.
    Missing {
        /// The scope a client should ask for first.
        scope: String,
    },
    /// A token that is not valid here: 401 `invalid_token`.
    Invalid {
        /// Why, in words (never the token).
        description: String,
    },
    /// A valid token without the scope the call needs: 403 `insufficient_scope`.
    InsufficientScope {
        /// The scope needed.
        scope: String,
        /// What it was needed for.
        description: String,
    },
}

impl Challenge {
    /// The `WWW-Authenticate` value, with `resource_metadata` pointing at `metadata_url`.
    pub(crate) fn header(&self, metadata_url: &str) -> String {
        let metadata = quoted(metadata_url);
        match self {
            Challenge::Missing { scope } => {
                format!(
                    "Bearer resource_metadata=\"{metadata}\", scope=\"{}\"",
                    quoted(scope)
                )
            }
            Challenge::Invalid { description } => format!(
                "Bearer error=\"invalid_token\", error_description=\"{}\", resource_metadata=\"{metadata}\"",
                quoted(description)
            ),
            Challenge::InsufficientScope { scope, description } => format!(
                "Bearer error=\"insufficient_scope\", scope=\"{}\", error_description=\"{}\", resource_metadata=\"{metadata}\"",
                quoted(scope),
                quoted(description)
            ),
        }
    }
}

/// Text fit for a quoted-string of a challenge: RFC 6750 allows neither `"` nor `\` in its
/// values, nor control characters; they become `'` and `?`.
fn quoted(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' => '\'',
            '\\' => '/',
            c if c == ' ' || c.is_ascii_graphic() => c,
            _ => '?',
        })
        .collect()
}

/// What a valid token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Grant {
    /// `sub` (or, from introspection without one, `client_id`).
    pub subject: String,
    /// The granted scopes.
    pub scopes: BTreeSet<String>,
    /// `exp`, when known.
    pub expires: Option<u64>,
}

/// What the claims must say.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expected<'a> {
    /// The configured issuer.
    pub issuer: &'a str,
    /// This server's resource URI.
    pub resource: &'a str,
    /// The current time, seconds since the epoch.
    pub now: u64,
}

/// Where the claims came from: a signed JWT must carry `iss` and `exp`; an introspection answer
/// (already the issuer's word) may leave them out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// The payload of a JWT whose signature verified.
    Jwt,
    /// An RFC 7662 introspection answer with `active: true`.
    Introspection,
}

/// Checks the claims of a token whose signature (or introspection) already passed: issuer,
/// audience, expiry and not-before (with [`LEEWAY_SECS`]), subject; returns what it grants or
/// why it is refused.
pub(crate) fn check_claims(
    claims: &Value,
    expected: Expected<'_>,
    source: Source,
) -> Result<Grant, String> {
    let strict = source == Source::Jwt;
    match claims.get("iss").and_then(Value::as_str) {
        Some(iss) if iss == expected.issuer => {}
        None if !strict && claims.get("iss").is_none() => {}
        _ => return Err("the token was not issued by this server's authorization server".into()),
    }
    let audience_matches = |aud: &str| same_uri(aud, expected.resource);
    let aud_ok = match claims.get("aud") {
        Some(Value::String(aud)) => audience_matches(aud),
        Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).any(audience_matches),
        _ => false,
    };
    if !aud_ok {
        return Err(format!(
            "the token's audience does not include this resource ({})",
            expected.resource
        ));
    }
    let expires = match numeric(claims, "exp") {
        Ok(Some(exp)) => Some(exp),
        Ok(None) if !strict => None,
        Ok(None) => return Err("the token has no expiry (exp)".into()),
        Err(()) => return Err("the token's exp is not a number".into()),
    };
    if let Some(exp) = expires
        && expected.now > exp.saturating_add(LEEWAY_SECS)
    {
        return Err("the token has expired".into());
    }
    match numeric(claims, "nbf") {
        Ok(Some(nbf)) if expected.now.saturating_add(LEEWAY_SECS) < nbf => {
            return Err("the token is not valid yet (nbf)".into());
        }
        Ok(_) => {}
        Err(()) => return Err("the token's nbf is not a number".into()),
    }
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .or_else(|| {
            (!strict)
                .then(|| claims.get("client_id").and_then(Value::as_str))
                .flatten()
                .filter(|s| !s.is_empty())
        })
        .ok_or_else(|| "the token names no subject (sub)".to_owned())?;
    Ok(Grant {
        subject: subject.to_owned(),
        scopes: scopes_of(claims),
        expires,
    })
}

/// Two resource URIs are the same one when they differ at most by a trailing slash.
fn same_uri(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// A NumericDate claim (seconds, possibly fractional); `Err` when present but not a number.
fn numeric(claims: &Value, name: &str) -> Result<Option<u64>, ()> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => match value.as_f64() {
            Some(n) if n.is_finite() && n >= 0.0 => Ok(Some(n as u64)),
            _ => Err(()),
        },
    }
}

/// The scopes of `scope` (space-separated, RFC 9068 and 7662) or `scp` (a list, as some issuers
/// write it).
fn scopes_of(claims: &Value) -> BTreeSet<String> {
    let mut scopes = BTreeSet::new();
    for name in ["scope", "scp"] {
        match claims.get(name) {
            Some(Value::String(text)) => {
                scopes.extend(text.split_whitespace().map(str::to_owned));
            }
            Some(Value::Array(items)) => {
                scopes.extend(items.iter().filter_map(Value::as_str).map(str::to_owned));
            }
            _ => {}
        }
    }
    scopes
}

/// Seconds since the epoch.
fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The answer about one token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Valid here.
    Valid(Grant),
    /// Not valid here (401 `invalid_token`), and why.
    Invalid(String),
    /// Cannot be checked now: the authorization server did not answer (503).
    Unavailable(String),
}

/// One verification key from the issuer's key set.
#[derive(Clone)]
struct VerifyKey {
    kid: Option<String>,
    /// The key's own `alg`, when it names one.
    alg: Option<String>,
    kty: String,
    crv: Option<String>,
    key: DecodingKey,
}

impl VerifyKey {
    /// Whether this key may verify a signature made with `alg`: same family and curve, and the
    /// key's own `alg` when it declares one.
    fn fits(&self, alg: Algorithm) -> bool {
        let name = alg_name(alg);
        if self.alg.as_deref().is_some_and(|own| own != name) {
            return false;
        }
        match alg {
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => self.kty == "RSA",
            Algorithm::ES256 => self.kty == "EC" && self.crv.as_deref() == Some("P-256"),
            Algorithm::ES384 => self.kty == "EC" && self.crv.as_deref() == Some("P-384"),
            Algorithm::EdDSA => self.kty == "OKP" && self.crv.as_deref() == Some("Ed25519"),
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => false,
        }
    }
}

fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::EdDSA => "EdDSA",
    }
}

/// The signing keys of a JWK Set; keys this server cannot use (encryption keys, symmetric keys,
/// unknown types) are skipped rather than failing the whole set.
fn parse_key_set(body: &Value) -> Result<Vec<VerifyKey>, String> {
    let keys = body
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("the key set has no \"keys\" array")?;
    let mut usable = Vec::new();
    for raw in keys {
        let text = |name: &str| raw.get(name).and_then(Value::as_str).map(str::to_owned);
        let kty = text("kty").unwrap_or_default();
        if !matches!(kty.as_str(), "RSA" | "EC" | "OKP") {
            continue;
        }
        if text("use").is_some_and(|u| u != "sig") {
            continue;
        }
        let Ok(jwk) = serde_json::from_value::<Jwk>(raw.clone()) else {
            continue;
        };
        let Ok(key) = DecodingKey::from_jwk(&jwk) else {
            continue;
        };
        usable.push(VerifyKey {
            kid: text("kid"),
            alg: text("alg"),
            kty,
            crv: text("crv"),
            key,
        });
    }
    Ok(usable)
}

/// Verifies a compact JWS with one of `keys`: the header's algorithm must be an accepted one the
/// key fits; only the signature is checked here, the claims by [`check_claims`].
fn verify_signature(token: &str, alg: Algorithm, keys: &[VerifyKey]) -> Option<Value> {
    let mut validation = Validation::new(alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    keys.iter()
        .filter(|key| key.fits(alg))
        .find_map(|key| jsonwebtoken::decode::<Value>(token, &key.key, &validation).ok())
        .map(|data| data.claims)
}

/// The keys fetched last, and when.
struct KeySet {
    keys: Vec<VerifyKey>,
    fetched: Instant,
}

impl KeySet {
    fn matching(&self, kid: Option<&str>, alg: Algorithm) -> Vec<VerifyKey> {
        self.keys
            .iter()
            .filter(|key| kid.is_none() || key.kid.as_deref() == kid)
            .filter(|key| key.fits(alg))
            .cloned()
            .collect()
    }
}

/// Fetching state, behind an async mutex so concurrent requests share one fetch.
#[derive(Default)]
struct Fetcher {
    /// The key set's URL, configured or discovered.
    jwks_url: Option<String>,
    last_attempt: Option<Instant>,
}

/// An introspection answer kept for a while.
struct Cached {
    grant: Grant,
    until: Instant,
}

/// The resource server: checks tokens for `http`'s guard and serves the metadata.
pub(crate) struct OAuth {
    config: OAuthConfig,
    resource: String,
    metadata_url: String,
    http: reqwest::Client,
    keys: RwLock<Option<Arc<KeySet>>>,
    fetcher: tokio::sync::Mutex<Fetcher>,
    introspected: Mutex<HashMap<[u8; 32], Cached>>,
    /// The last failure to reach the authorization server, cleared by a success; for `/readyz`.
    last_error: Mutex<Option<String>>,
}

impl std::fmt::Debug for OAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuth")
            .field("issuer", &self.config.issuer)
            .field("resource", &self.resource)
            .finish()
    }
}

impl OAuth {
    /// The resource server for `config`, serving `resource` (the configured one, else the
    /// address it was bound to, which must then be loopback).
    pub(crate) fn new(
        config: OAuthConfig,
        bound: std::net::SocketAddr,
        user_agent: &str,
    ) -> Result<OAuth, String> {
        let resource = match &config.resource {
            Some(resource) => resource.clone(),
            None if bound.ip().is_loopback() => format!("http://{bound}/mcp"),
            None => {
                return Err(format!(
                    "set MCP_OAUTH_RESOURCE to this server's URL as clients reach it, such as https://mcp.example.com/mcp: it is the audience tokens must name, and it cannot be derived when listening on {bound}"
                ));
            }
        };
        let http = reqwest::Client::builder()
            .user_agent(user_agent)
            .timeout(ISSUER_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            // An issuer's keys are not fetched through redirects to elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| {
                format!("could not build the HTTP client for the authorization server: {e}")
            })?;
        let fetcher = Fetcher {
            jwks_url: config.jwks_url.clone(),
            last_attempt: None,
        };
        Ok(OAuth {
            metadata_url: metadata_url(&resource),
            resource,
            config,
            http,
            keys: RwLock::new(None),
            fetcher: tokio::sync::Mutex::new(fetcher),
            introspected: Mutex::new(HashMap::new()),
            last_error: Mutex::new(None),
        })
    }

    /// This server's resource URI.
    pub(crate) fn resource(&self) -> &str {
        &self.resource
    }

    /// Where its metadata document is, for `resource_metadata` in challenges.
    pub(crate) fn metadata_url(&self) -> &str {
        &self.metadata_url
    }

    /// The scope names.
    pub(crate) fn scopes(&self) -> &ScopeNames {
        &self.config.scopes
    }

    /// The metadata document.
    pub(crate) fn metadata(&self, server: &str) -> Value {
        metadata_document(
            &self.resource,
            &self.config.issuer,
            &self.config.scopes,
            server,
        )
    }

    /// What `/readyz` says about the authorization server (details for operators).
    pub(crate) fn status(&self) -> Value {
        let keys = self
            .keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|set| set.keys.len());
        let last_error = self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        json!({
            "issuer": self.config.issuer,
            "resource": self.resource,
            "mode": if self.config.introspection.is_some() { "introspection" } else { "jwt" },
            "keys": keys,
            "last_error": last_error,
        })
    }

    /// Fetches the keys once at start-up, so the first caller does not wait; a failure is logged
    /// and retried at first use, never fatal.
    pub(crate) async fn warm_up(&self) {
        if self.config.introspection.is_some() {
            return;
        }
        let mut fetcher = self.fetcher.lock().await;
        fetcher.last_attempt = Some(Instant::now());
        match self.fetch_keys(&mut fetcher).await {
            Ok(set) => {
                tracing::info!(
                    issuer = %self.config.issuer,
                    keys = set.keys.len(),
                    "fetched the authorization server's keys"
                );
                self.store_keys(set);
            }
            Err(error) => {
                tracing::warn!(
                    issuer = %self.config.issuer,
                    %error,
                    "could not reach the authorization server at start-up; tokens will be checked once it answers"
                );
                self.record_error(Some(error));
            }
        }
    }

    /// Checks `token`: by introspection when it is configured, else as a JWT.
    pub(crate) async fn verify(&self, token: &str) -> Verdict {
        if self.config.introspection.is_some() {
            return self.introspect(token).await;
        }
        self.verify_jwt(token).await
    }

    fn expected(&self) -> Expected<'_> {
        Expected {
            issuer: &self.config.issuer,
            resource: &self.resource,
            now: now_secs(),
        }
    }

    async fn verify_jwt(&self, token: &str) -> Verdict {
        if token.split('.').count() != 3 {
            return Verdict::Invalid(
                "the token is not a JWT, and this server checks only JWTs (no introspection endpoint is configured)".into(),
            );
        }
        let header = match jsonwebtoken::decode_header(token) {
            Ok(header) => header,
            Err(_) => {
                return Verdict::Invalid(
                    "the token's header cannot be read or names an unknown algorithm".into(),
                );
            }
        };
        if !ACCEPTED.contains(&header.alg) {
            return Verdict::Invalid(format!(
                "the token is signed with {}, which this server does not accept",
                alg_name(header.alg)
            ));
        }
        let keys = match self.keys_for(header.kid.as_deref(), header.alg).await {
            Ok(keys) => keys,
            Err(reason) => return Verdict::Unavailable(reason),
        };
        if keys.is_empty() {
            return Verdict::Invalid(
                "no key of the authorization server matches the token's key id and algorithm"
                    .into(),
            );
        }
        let Some(claims) = verify_signature(token, header.alg, &keys) else {
            return Verdict::Invalid("the token's signature does not verify".into());
        };
        match check_claims(&claims, self.expected(), Source::Jwt) {
            Ok(grant) => Verdict::Valid(grant),
            Err(reason) => Verdict::Invalid(reason),
        }
    }

    fn current_keys(&self) -> Option<Arc<KeySet>> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn store_keys(&self, set: KeySet) {
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(set));
        self.record_error(None);
    }

    fn record_error(&self, error: Option<String>) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = error;
    }

    /// The keys that may have signed a token with `kid` and `alg`: the cached ones, fetched
    /// again when there are none yet, they are old, or `kid` is unknown, each at most as often
    /// as the throttles allow. `Err` when there are no keys at all and none could be fetched.
    async fn keys_for(&self, kid: Option<&str>, alg: Algorithm) -> Result<Vec<VerifyKey>, String> {
        let fresh = |set: &KeySet| set.fetched.elapsed() < MAX_KEY_AGE;
        if let Some(set) = self.current_keys() {
            let found = set.matching(kid, alg);
            if !found.is_empty() && fresh(&set) {
                return Ok(found);
            }
        }
        let mut fetcher = self.fetcher.lock().await;
        // Another request may have fetched them while this one waited.
        let current = self.current_keys();
        if let Some(set) = &current {
            let found = set.matching(kid, alg);
            if !found.is_empty() && fresh(set) {
                return Ok(found);
            }
        }
        let since = fetcher.last_attempt.map(|at| at.elapsed());
        let allowed = match (&current, since) {
            (_, None) => true,
            (None, Some(since)) => since >= RETRY_AFTER_FAILURE,
            (Some(set), Some(since)) if !fresh(set) => since >= RETRY_AFTER_FAILURE,
            (Some(_), Some(since)) => since >= self.config.jwks_min_refetch,
        };
        if !allowed {
            return match current {
                Some(set) => Ok(set.matching(kid, alg)),
                None => Err(self.unavailable()),
            };
        }
        fetcher.last_attempt = Some(Instant::now());
        match self.fetch_keys(&mut fetcher).await {
            Ok(set) => {
                let found = set.matching(kid, alg);
                tracing::info!(
                    issuer = %self.config.issuer,
                    keys = set.keys.len(),
                    "fetched the authorization server's keys"
                );
                self.store_keys(set);
                Ok(found)
            }
            Err(error) => {
                tracing::warn!(issuer = %self.config.issuer, %error, "could not fetch the authorization server's keys");
                self.record_error(Some(error));
                match current {
                    // Keep using the keys we have while the issuer is unreachable.
                    Some(set) => Ok(set.matching(kid, alg)),
                    None => Err(self.unavailable()),
                }
            }
        }
    }

    fn unavailable(&self) -> String {
        let cause = self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or_else(|| "no answer yet".into());
        format!(
            "the authorization server's keys could not be fetched, so the token cannot be checked now ({cause})"
        )
    }

    async fn fetch_keys(&self, fetcher: &mut Fetcher) -> Result<KeySet, String> {
        let url = match &fetcher.jwks_url {
            Some(url) => url.clone(),
            None => {
                let url = self.discover_jwks_url().await?;
                fetcher.jwks_url = Some(url.clone());
                url
            }
        };
        let body = self.get_json(&url).await?;
        let keys = parse_key_set(&body).map_err(|e| format!("{e} ({url})"))?;
        if keys.is_empty() {
            return Err(format!(
                "the key set at {url} holds no signing key this server can use (RSA, P-256, P-384 or Ed25519)"
            ));
        }
        Ok(KeySet {
            keys,
            fetched: Instant::now(),
        })
    }

    /// `jwks_uri` from the issuer's metadata: RFC 8414's well-known URL, else OpenID Connect's.
    async fn discover_jwks_url(&self) -> Result<String, String> {
        let mut failures = Vec::new();
        for url in discovery_urls(&self.config.issuer) {
            match self.get_json(&url).await {
                Ok(metadata) => {
                    if metadata.get("issuer").and_then(Value::as_str)
                        != Some(self.config.issuer.as_str())
                    {
                        // RFC 8414 section 3.3: metadata for another issuer must not be used.
                        failures.push(format!("{url} describes another issuer"));
                        continue;
                    }
                    return metadata
                        .get("jwks_uri")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .ok_or_else(|| format!("{url} has no jwks_uri; set MCP_OAUTH_JWKS_URL"));
                }
                Err(error) => failures.push(error),
            }
        }
        Err(format!(
            "could not discover the issuer's keys: {}",
            failures.join("; ")
        ))
    }

    async fn get_json(&self, url: &str) -> Result<Value, String> {
        let response = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("GET {url}: {}", crate::backend::root_cause(&e)))?;
        read_json(response, url).await
    }

    /// RFC 7662: asks the issuer about `token`, authenticating as this server's client;
    /// positive answers are reused for [`INTROSPECTION_TTL`] (never past `exp`).
    async fn introspect(&self, token: &str) -> Verdict {
        let Some(introspection) = &self.config.introspection else {
            return Verdict::Invalid("no introspection endpoint is configured".into());
        };
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        {
            let mut cache = self
                .introspected
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match cache.get(&digest) {
                Some(cached) if cached.until > Instant::now() => {
                    return Verdict::Valid(cached.grant.clone());
                }
                Some(_) => {
                    cache.remove(&digest);
                }
                None => {}
            }
        }
        let url = &introspection.url;
        let response = self
            .http
            .post(url)
            .basic_auth(
                &introspection.client_id,
                Some(introspection.client_secret.expose()),
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await;
        let answer = match response {
            Ok(response) => read_json(response, url).await,
            Err(e) => Err(format!("POST {url}: {}", crate::backend::root_cause(&e))),
        };
        let answer = match answer {
            Ok(answer) => {
                self.record_error(None);
                answer
            }
            Err(error) => {
                tracing::warn!(issuer = %self.config.issuer, %error, "token introspection failed");
                self.record_error(Some(error.clone()));
                return Verdict::Unavailable(format!(
                    "the authorization server did not answer the introspection request, so the token cannot be checked now ({error})"
                ));
            }
        };
        if answer.get("active") != Some(&Value::Bool(true)) {
            return Verdict::Invalid("the token is not active".into());
        }
        let grant = match check_claims(&answer, self.expected(), Source::Introspection) {
            Ok(grant) => grant,
            Err(reason) => return Verdict::Invalid(reason),
        };
        let mut keep = INTROSPECTION_TTL;
        if let Some(exp) = grant.expires {
            keep = keep.min(Duration::from_secs(exp.saturating_sub(now_secs())));
        }
        let mut cache = self
            .introspected
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= INTROSPECTION_CACHE_SIZE {
            let now = Instant::now();
            cache.retain(|_, cached| cached.until > now);
            if cache.len() >= INTROSPECTION_CACHE_SIZE
                && let Some(soonest) = cache
                    .iter()
                    .min_by_key(|(_, cached)| cached.until)
                    .map(|(key, _)| *key)
            {
                cache.remove(&soonest);
            }
        }
        cache.insert(
            digest,
            Cached {
                grant: grant.clone(),
                until: Instant::now() + keep,
            },
        );
        Verdict::Valid(grant)
    }
}

/// Reads a JSON answer of at most [`MAX_ISSUER_BODY`] bytes from a successful status.
async fn read_json(response: reqwest::Response, url: &str) -> Result<Value, String> {
    let status = response.status();
    if !status.is_success() {
        return Err(format!("{url} answered HTTP {}", status.as_u16()));
    }
    if response
        .content_length()
        .is_some_and(|len| len > MAX_ISSUER_BODY as u64)
    {
        return Err(format!("{url} answered more than {MAX_ISSUER_BODY} bytes"));
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("reading {url}: {e}"))?;
    if body.len() > MAX_ISSUER_BODY {
        return Err(format!("{url} answered more than {MAX_ISSUER_BODY} bytes"));
    }
    serde_json::from_slice(&body).map_err(|e| format!("{url} did not answer JSON ({e})"))
}

/// Where an issuer's metadata may be: RFC 8414's well-known URL (the suffix inserted before the
/// issuer's path), then OpenID Connect Discovery's (appended to it).
fn discovery_urls(issuer: &str) -> Vec<String> {
    let Ok(url) = Url::parse(issuer) else {
        return Vec::new();
    };
    let origin = url.origin().ascii_serialization();
    let path = url.path().trim_end_matches('/');
    let mut urls = vec![format!(
        "{origin}/.well-known/oauth-authorization-server{path}"
    )];
    urls.push(format!("{origin}{path}/.well-known/openid-configuration"));
    urls
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "https://auth.example.com";
    const RESOURCE: &str = "https://mcp.example.com/mcp";
    const NOW: u64 = 1_800_000_000;

    fn expected() -> Expected<'static> {
        Expected {
            issuer: ISSUER,
            resource: RESOURCE,
            now: NOW,
        }
    }

    fn claims(changes: Value) -> Value {
        let mut base = json!({
            "iss": ISSUER,
            "sub": "alice",
            "aud": RESOURCE,
            "exp": NOW + 300,
            "iat": NOW - 10,
            "scope": "mcp:read mcp:write",
        });
        for (key, value) in changes.as_object().cloned().unwrap_or_default() {
            if value.is_null() {
                base.as_object_mut().unwrap().remove(&key);
            } else {
                base[key] = value;
            }
        }
        base
    }

    fn check(changes: Value, source: Source) -> Result<Grant, String> {
        check_claims(&claims(changes), expected(), source)
    }

    #[test]
    fn claims_are_checked_one_by_one() {
        let grant = check(json!({}), Source::Jwt).unwrap();
        assert_eq!(grant.subject, "alice");
        assert_eq!(
            grant.scopes.iter().collect::<Vec<_>>(),
            ["mcp:read", "mcp:write"]
        );
        let cases: &[(Value, Source, Option<&str>)] = &[
            // Audience as a list, or with a trailing slash.
            (json!({"aud": ["other", RESOURCE]}), Source::Jwt, None),
            (json!({"aud": format!("{RESOURCE}/")}), Source::Jwt, None),
            (
                json!({"aud": "https://other.example.com/mcp"}),
                Source::Jwt,
                Some("audience"),
            ),
            (json!({"aud": ["a", "b"]}), Source::Jwt, Some("audience")),
            (json!({"aud": null}), Source::Jwt, Some("audience")),
            (
                json!({"aud": null}),
                Source::Introspection,
                Some("audience"),
            ),
            (
                json!({"iss": "https://evil.example.com"}),
                Source::Jwt,
                Some("not issued"),
            ),
            (json!({"iss": null}), Source::Jwt, Some("not issued")),
            (json!({"iss": null}), Source::Introspection, None),
            (json!({"iss": 7}), Source::Introspection, Some("not issued")),
            (json!({"exp": NOW - 31}), Source::Jwt, Some("expired")),
            // Within the leeway.
            (json!({"exp": NOW - 29}), Source::Jwt, None),
            (json!({"exp": null}), Source::Jwt, Some("no expiry")),
            (json!({"exp": null}), Source::Introspection, None),
            (json!({"exp": "soon"}), Source::Jwt, Some("not a number")),
            (json!({"nbf": NOW + 60}), Source::Jwt, Some("not valid yet")),
            (json!({"nbf": NOW + 20}), Source::Jwt, None),
            (json!({"sub": null}), Source::Jwt, Some("no subject")),
            (json!({"sub": ""}), Source::Jwt, Some("no subject")),
            (
                json!({"sub": null, "client_id": "svc"}),
                Source::Jwt,
                Some("no subject"),
            ),
            (
                json!({"sub": null, "client_id": "svc"}),
                Source::Introspection,
                None,
            ),
        ];
        for (changes, source, refusal) in cases {
            let result = check(changes.clone(), *source);
            match refusal {
                None => assert!(result.is_ok(), "{changes} {source:?}: {result:?}"),
                Some(words) => {
                    let error = result.unwrap_err();
                    assert!(error.contains(words), "{changes} {source:?}: {error}");
                }
            }
        }
        let scp = check(json!({"scope": null, "scp": ["a", "b"]}), Source::Jwt).unwrap();
        assert_eq!(scp.scopes.len(), 2);
    }

    #[test]
    fn challenges_render_as_rfc_6750_says() {
        let url = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp";
        assert_eq!(
            Challenge::Missing {
                scope: "mcp:read".into()
            }
            .header(url),
            format!("Bearer resource_metadata=\"{url}\", scope=\"mcp:read\"")
        );
        assert_eq!(
            Challenge::Invalid {
                description: "the token has \"expired\"\n\\".into()
            }
            .header(url),
            format!(
                "Bearer error=\"invalid_token\", error_description=\"the token has 'expired'?/\", resource_metadata=\"{url}\""
            )
        );
        assert_eq!(
            Challenge::InsufficientScope {
                scope: "mcp:write".into(),
                description: "create_company is a write tool".into()
            }
            .header(url),
            format!(
                "Bearer error=\"insufficient_scope\", scope=\"mcp:write\", error_description=\"create_company is a write tool\", resource_metadata=\"{url}\""
            )
        );
    }

    #[test]
    fn metadata_lives_under_the_resource_path() {
        assert_eq!(
            metadata_url("https://mcp.example.com/mcp"),
            "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            metadata_url("https://mcp.example.com"),
            "https://mcp.example.com/.well-known/oauth-protected-resource"
        );
        assert_eq!(
            metadata_url("http://127.0.0.1:8080/mcp"),
            "http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp"
        );
        let scopes = ScopeNames {
            read: "mcp".into(),
            write: "mcp".into(),
            destructive: "admin".into(),
        };
        let document = metadata_document(RESOURCE, ISSUER, &scopes, "mcp-test");
        assert_eq!(document["scopes_supported"], json!(["mcp", "admin"]));
        assert_eq!(document["authorization_servers"], json!([ISSUER]));
        assert_eq!(document["bearer_methods_supported"], json!(["header"]));
        assert_eq!(
            discovery_urls("https://auth.example.com/tenant/"),
            [
                "https://auth.example.com/.well-known/oauth-authorization-server/tenant",
                "https://auth.example.com/tenant/.well-known/openid-configuration"
            ]
        );
    }

    fn from_env(pairs: &[(&str, &str)]) -> Result<Option<OAuthConfig>, ConfigError> {
        OAuthConfig::from_env(&Env::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn configuration_errors_name_the_variable() {
        assert!(from_env(&[]).unwrap().is_none());
        let config = from_env(&[("MCP_OAUTH_ISSUER", ISSUER)]).unwrap().unwrap();
        assert_eq!(config.scopes.for_kind(ToolKind::ReadOnly), "mcp:read");
        assert_eq!(config.scopes.for_kind(ToolKind::LocalWrite), "mcp:write");
        assert_eq!(config.scopes.for_kind(ToolKind::Write), "mcp:write");
        assert_eq!(
            config.scopes.for_kind(ToolKind::Destructive),
            "mcp:destructive"
        );
        assert!(config.resource.is_none() && config.introspection.is_none());
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("MCP_OAUTH_RESOURCE", RESOURCE)], "set MCP_OAUTH_ISSUER"),
            (
                &[("MCP_OAUTH_ISSUER", "auth.example.com")],
                "MCP_OAUTH_ISSUER must be",
            ),
            (
                &[("MCP_OAUTH_ISSUER", "http://auth.example.com")],
                "MCP_OAUTH_ISSUER must be",
            ),
            (
                &[
                    ("MCP_OAUTH_ISSUER", ISSUER),
                    ("MCP_OAUTH_RESOURCE", "https://x/mcp#frag"),
                ],
                "MCP_OAUTH_RESOURCE must be",
            ),
            (
                &[
                    ("MCP_OAUTH_ISSUER", ISSUER),
                    ("MCP_OAUTH_JWKS_URL", "ftp://x/jwks"),
                ],
                "MCP_OAUTH_JWKS_URL must be",
            ),
            (
                &[
                    ("MCP_OAUTH_ISSUER", ISSUER),
                    (
                        "MCP_OAUTH_INTROSPECTION_URL",
                        "https://auth.example.com/introspect",
                    ),
                ],
                "set MCP_OAUTH_CLIENT_ID",
            ),
            (
                &[
                    ("MCP_OAUTH_ISSUER", ISSUER),
                    (
                        "MCP_OAUTH_INTROSPECTION_URL",
                        "https://auth.example.com/introspect",
                    ),
                    ("MCP_OAUTH_CLIENT_ID", "mcp"),
                ],
                "set MCP_OAUTH_CLIENT_SECRET",
            ),
            (
                &[
                    ("MCP_OAUTH_ISSUER", ISSUER),
                    ("MCP_OAUTH_SCOPE_WRITE", "mcp write"),
                ],
                "MCP_OAUTH_SCOPE_WRITE must be one OAuth scope name",
            ),
            (
                &[
                    ("MCP_OAUTH_ISSUER", ISSUER),
                    ("MCP_OAUTH_JWKS_MIN_REFETCH_SECS", "-1"),
                ],
                "MCP_OAUTH_JWKS_MIN_REFETCH_SECS must be",
            ),
        ];
        for (pairs, expected) in cases {
            let error = from_env(pairs).unwrap_err().to_string();
            assert!(error.contains(expected), "{pairs:?}: {error}");
        }
        let secret = "s3cret-client-secret";
        let config = from_env(&[
            ("MCP_OAUTH_ISSUER", "http://127.0.0.1:9000"),
            (
                "MCP_OAUTH_INTROSPECTION_URL",
                "http://localhost:9000/introspect",
            ),
            ("MCP_OAUTH_CLIENT_ID", "mcp"),
            ("MCP_OAUTH_CLIENT_SECRET", secret),
        ])
        .unwrap()
        .unwrap();
        assert!(!format!("{config:?}").contains(secret));
    }

    #[test]
    fn the_resource_defaults_to_the_bound_address_on_loopback_only() {
        let config = from_env(&[("MCP_OAUTH_ISSUER", ISSUER)]).unwrap().unwrap();
        let local = OAuth::new(config.clone(), "127.0.0.1:8123".parse().unwrap(), "t").unwrap();
        assert_eq!(local.resource(), "http://127.0.0.1:8123/mcp");
        assert_eq!(
            local.metadata_url(),
            "http://127.0.0.1:8123/.well-known/oauth-protected-resource/mcp"
        );
        let exposed = OAuth::new(config, "10.0.0.1:8123".parse().unwrap(), "t").unwrap_err();
        assert!(exposed.contains("MCP_OAUTH_RESOURCE"), "{exposed}");
    }

    // Signatures, through the same path a request takes (keys already fetched, so no network).

    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use jsonwebtoken::{EncodingKey, Header};
    use ring::rand::SystemRandom;
    use ring::signature::{self as ring_signature, KeyPair as _};

    /// A 2048-bit RSA key made for these tests only (PKCS#1 DER, base64), and its modulus.
    const TEST_RSA_DER: &str = concat!(
        "MIIEpAIBAAKCAQEA44P3/tJZf5E46ORKwqG2PpP1dd12ecwBWDytryCoU3TAqglSeJP6Y7Ebusf42Z/6RzON2P/JNTJEX4lG",
        "smJndmQD+xHVfYFvaMRhXx5RX15eH9/BYv3aOR7M1W2zxys1mlGpBReLj85bwVS1YLg9vGFlrIXix062Tznthi4v+U3Gzeo3",
        "fiF2y77hhKnPNDA4BapVdihnT+kU2IYTNEgxV6IpV96Brdc30hnOZUblReo9aRVV4Avg0AaSEsbwGauk5aZ/CRBH5K+s5nxo",
        "ZNvKczOPAo4u0Afka/nFRt/ddqtg6PwBrNTEKKlevbZIY0Yyptwplxs4/UlnRiFdPN9d4QIDAQABAoIBABlrysSThvcp/Xcy",
        "4DzptLiT76lBGtZ2ZPARrOu/H7peIT4z1x3XQEhDUcXc8iveztLbKnjvRkbGBxMQU5s67jSG7arv+IVoIPqjy/1vdcgiKIIx",
        "43nGw3X+awSt7UMjy37NVlqrTCdqofXyxma4L1hidD8tS9mD11BNjgH1cdwjuVPpdYo4b6nVBVvNxZ4SAyqIfDGZzdLZ/Ctx",
        "mS+Bbo/hL5NPntffQdBskRSAIzGmy2l7lgJqBzCJza9ixTzN7Om32rjiH6E0pxAOTmjAnfk2ux6H3TZss8NEPpRljNg+KXFU",
        "ZOYQurj4Ma63DnztRQPvj1jwW81sdf9R4Y2q18ECgYEA81Cl+7ih1JAFO1z46mOVS/IkUFzqcdRsArZAmtIXLJUcGwk7qZAp",
        "nuMOOofDBB2FKIRXwVyCCz4una2kses1dI93ytVXvo+0xr3jaoPZQIgbOM+0NS9NrCf92SAHv8c9JcxtDBg5OJZehv6pmfrS",
        "oIeoC7V5/UOoGNslx+UpH7cCgYEA72B0kTmLCOO99zu37ejzQfcl8qj5XURl/CELUk79ENVdPeHGkV/vcxhO1aVZqJmYdXdr",
        "vrjc18+GWbDRWNvwWUaKSJfFGqYfttJExMOVmfuGYQPyjJzWk9CpodPqKJOjH+g9om4AY4SUTkZ7WIAXxJvH2/PpmQd3DF/k",
        "nn6evycCgYEAp4/5zwHWyPkp8TjU3y4XagbmxUVH235rp+51TWmztes2QNQ590slrps1eE94mQPvaPjDKpGXqUB4f/ROgIy3",
        "8n6/A7uqwrxaxaeNzxPf8NYK0TQRKbNa7V1ZL0ckrwj57mb7DiI8feDoVlVY3YbjuNPTgcTHrwgB4qRBP4lsqb8CgYEAuMkt",
        "0vmnwYoFGDhqaOad+jsueR9FuGDXlYVwtu4w3vDGVMHYRlrXfnKyUKyfBM7k6TDx5L3SBWq23L/pK35FELWqhBVc25CIBNpW",
        "qcoNz1tiRbwFXdSotFysxjbPmNk3YKcoBR6DgE9VKQOxrgTb1DMpWjr1BePEW7IeytcV9psCgYBfPpk8UMOVmMSrEG0E0+yP",
        "VBqs7PmDqb8dO7pyyUjH29GnbYv5hqyIdwWbSeh/Eu4YZK8OvtqPAgvsCnJsAJQ+Y71oxDfpyfSG3qniI7uqwINFfwLoSBbg",
        "s67dpDp8n93RwY0af5hTbNiKX5z1lRcB7GdBQ5a64lp6jG01/LcQHw==",
    );
    const TEST_RSA_N: &str = concat!(
        "44P3_tJZf5E46ORKwqG2PpP1dd12ecwBWDytryCoU3TAqglSeJP6Y7Ebusf42Z_6RzON2P_JNTJEX4lGsmJndmQD-xHVfYFv",
        "aMRhXx5RX15eH9_BYv3aOR7M1W2zxys1mlGpBReLj85bwVS1YLg9vGFlrIXix062Tznthi4v-U3Gzeo3fiF2y77hhKnPNDA4",
        "BapVdihnT-kU2IYTNEgxV6IpV96Brdc30hnOZUblReo9aRVV4Avg0AaSEsbwGauk5aZ_CRBH5K-s5nxoZNvKczOPAo4u0Afk",
        "a_nFRt_ddqtg6PwBrNTEKKlevbZIY0Yyptwplxs4_UlnRiFdPN9d4Q",
    );

    /// A signing key and its public JWK.
    fn es256(kid: &str) -> (EncodingKey, Value) {
        let rng = SystemRandom::new();
        let alg = &ring_signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = ring_signature::EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        let pair = ring_signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap();
        let point = pair.public_key().as_ref();
        let jwk = json!({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
            "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..])});
        (EncodingKey::from_ec_der(pkcs8.as_ref()), jwk)
    }

    fn eddsa(kid: &str) -> (EncodingKey, Value) {
        let pkcs8 = ring_signature::Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = ring_signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let jwk = json!({"kty": "OKP", "crv": "Ed25519", "kid": kid,
            "x": B64.encode(pair.public_key().as_ref())});
        (EncodingKey::from_ed_der(pkcs8.as_ref()), jwk)
    }

    fn rs256(kid: &str) -> (EncodingKey, Value) {
        let der = base64::engine::general_purpose::STANDARD
            .decode(TEST_RSA_DER)
            .unwrap();
        let jwk = json!({"kty": "RSA", "kid": kid, "n": TEST_RSA_N, "e": "AQAB"});
        (EncodingKey::from_rsa_der(&der), jwk)
    }

    fn sign(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, claims: &Value) -> String {
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&header, claims, key).unwrap()
    }

    /// A resource server that already holds `jwks` and whose issuer is unreachable.
    fn holding(jwks: Value) -> OAuth {
        let config = from_env(&[
            ("MCP_OAUTH_ISSUER", ISSUER),
            ("MCP_OAUTH_RESOURCE", RESOURCE),
            ("MCP_OAUTH_JWKS_URL", "http://127.0.0.1:1/jwks"),
        ])
        .unwrap()
        .unwrap();
        let oauth = OAuth::new(config, "127.0.0.1:1".parse().unwrap(), "test").unwrap();
        oauth.store_keys(KeySet {
            keys: parse_key_set(&jwks).unwrap(),
            fetched: Instant::now(),
        });
        oauth
    }

    fn live_claims() -> Value {
        let now = now_secs();
        json!({"iss": ISSUER, "sub": "alice", "aud": [RESOURCE], "exp": now + 300, "scope": "mcp:read"})
    }

    #[tokio::test]
    async fn rs256_es256_and_eddsa_tokens_verify_and_nothing_else_does() {
        let (es_key, es_jwk) = es256("ec-1");
        let (ed_key, ed_jwk) = eddsa("ed-1");
        let (rs_key, rs_jwk) = rs256("rsa-1");
        // Keys this server cannot use are skipped, not fatal.
        let junk = json!({"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"});
        let encryption =
            json!({"kty": "RSA", "use": "enc", "kid": "enc", "n": TEST_RSA_N, "e": "AQAB"});
        let oauth = holding(json!({"keys": [es_jwk, ed_jwk, rs_jwk, junk, encryption]}));
        let claims = live_claims();
        for (alg, kid, key) in [
            (Algorithm::ES256, "ec-1", &es_key),
            (Algorithm::EdDSA, "ed-1", &ed_key),
            (Algorithm::RS256, "rsa-1", &rs_key),
            (Algorithm::PS256, "rsa-1", &rs_key),
        ] {
            let token = sign(alg, Some(kid), key, &claims);
            match oauth.verify(&token).await {
                Verdict::Valid(grant) => assert_eq!(grant.subject, "alice", "{alg:?}"),
                other => panic!("{alg:?}: {other:?}"),
            }
            // Without a kid every fitting key is tried.
            let token = sign(alg, None, key, &claims);
            assert!(
                matches!(oauth.verify(&token).await, Verdict::Valid(_)),
                "{alg:?}"
            );
            // A changed payload breaks the signature.
            let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
            let mut forged = claims.clone();
            forged["sub"] = json!("mallory");
            parts[1] = B64.encode(forged.to_string());
            let verdict = oauth.verify(&parts.join(".")).await;
            assert_eq!(
                verdict,
                Verdict::Invalid("the token's signature does not verify".into()),
                "{alg:?}"
            );
        }
        // Another key under a known kid: the signature does not verify.
        let (stranger, _) = es256("ec-1");
        let token = sign(Algorithm::ES256, Some("ec-1"), &stranger, &claims);
        assert!(
            matches!(oauth.verify(&token).await, Verdict::Invalid(r) if r.contains("signature"))
        );
        // A kid the issuer does not publish (the refetch fails: port 1).
        let token = sign(Algorithm::ES256, Some("ec-9"), &es_key, &claims);
        assert!(matches!(oauth.verify(&token).await, Verdict::Invalid(r) if r.contains("no key")));
        // An RSA key's kid with an EC signature: the key does not fit the algorithm.
        let token = sign(Algorithm::ES256, Some("rsa-1"), &es_key, &claims);
        assert!(matches!(oauth.verify(&token).await, Verdict::Invalid(r) if r.contains("no key")));
        // HS256 keyed with the public key (algorithm confusion) and `none` are refused.
        let public = EncodingKey::from_secret(TEST_RSA_N.as_bytes());
        let token = sign(Algorithm::HS256, Some("rsa-1"), &public, &claims);
        assert!(matches!(oauth.verify(&token).await, Verdict::Invalid(r) if r.contains("HS256")));
        let none = format!(
            "{}.{}.",
            B64.encode(r#"{"alg":"none","kid":"ec-1"}"#),
            B64.encode(claims.to_string())
        );
        assert!(matches!(oauth.verify(&none).await, Verdict::Invalid(r) if r.contains("header")));
        assert!(
            matches!(oauth.verify("opaque-token").await, Verdict::Invalid(r) if r.contains("not a JWT"))
        );
        // Claims are checked after the signature.
        let mut expired = claims.clone();
        expired["exp"] = json!(now_secs() - 3600);
        let token = sign(Algorithm::ES256, Some("ec-1"), &es_key, &expired);
        assert_eq!(
            oauth.verify(&token).await,
            Verdict::Invalid("the token has expired".into())
        );
    }

    #[tokio::test]
    async fn an_unreachable_issuer_makes_tokens_uncheckable_not_invalid() {
        let config = from_env(&[
            ("MCP_OAUTH_ISSUER", "http://127.0.0.1:1"),
            ("MCP_OAUTH_RESOURCE", RESOURCE),
        ])
        .unwrap()
        .unwrap();
        let oauth = OAuth::new(config, "127.0.0.1:1".parse().unwrap(), "test").unwrap();
        oauth.warm_up().await;
        let (key, _) = es256("ec-1");
        let token = sign(Algorithm::ES256, Some("ec-1"), &key, &live_claims());
        match oauth.verify(&token).await {
            Verdict::Unavailable(reason) => {
                assert!(reason.contains("could not be fetched"), "{reason}");
                assert!(!reason.contains(&token));
            }
            other => panic!("{other:?}"),
        }
        assert!(oauth.status()["last_error"].is_string());
    }
}
