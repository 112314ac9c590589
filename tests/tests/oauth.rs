//! The servers as OAuth 2.1 resource servers, end to end over real HTTP: `mcp-empresa` with
//! `MCP_OAUTH_*` pointing at `oauth-standin` (a real authorization server's wire format, ES256
//! signatures, a rotatable JWKS, RFC 7662 introspection). Shows the protected resource metadata,
//! the 401 and 403 challenges MCP's authorization spec asks for, scopes per tool kind, key
//! rotation, opaque tokens by introspection, static tokens alongside, and that no token is ever
//! written to stderr or the audit log.
//!
//! Needs the binaries built: `cargo build -p mcp-empresa -p oauth-standin` (or the workspace).

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly.

use std::path::Path;
use std::time::Duration;

use mcp_conformance::oauth::Issuer;
use mcp_conformance::servers::{load_servers, test_environment};
use mcp_conformance::{HttpServer, PROTOCOL_VERSION, binary_path};
use serde_json::{Value, json};

/// A static token next to OAuth: it keeps working as it always did.
const STATIC_TOKEN: &str = "static-ops-token-5d1c9e7a2b";
/// What the stand-in's introspection client is called (see `oauth_standin::RESOURCE_SERVER_ID`).
const INTROSPECTION_CLIENT: (&str, &str) = ("mcp-server", "mcp-server-secret");

/// `mcp-empresa --transport http` with its servers.json settings, data under `dir`, and `extra`.
fn empresa(dir: &Path, extra: &[(&str, &str)]) -> HttpServer {
    let entry = load_servers()
        .unwrap()
        .into_iter()
        .find(|s| s.name == "empresa")
        .unwrap();
    let mut env = test_environment(&entry, dir);
    for (key, value) in extra {
        env.retain(|(k, _)| k != key);
        env.push(((*key).to_owned(), (*value).to_owned()));
    }
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    HttpServer::start(&binary_path("mcp-empresa"), &[], &pairs)
        .unwrap()
        .keep_alive(env)
}

/// One HTTP answer: status, `WWW-Authenticate`, body.
#[derive(Debug)]
struct Answer {
    status: u16,
    challenge: Option<String>,
    retry_after: Option<String>,
    body: String,
}

fn post(server: &HttpServer, token: Option<&str>, session: Option<&str>, body: &Value) -> Answer {
    let mut request = server
        .client
        .post(server.mcp_url())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(session) = session {
        request = request.header("mcp-session-id", session);
    }
    let response = request.send().unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    Answer {
        status: response.status().as_u16(),
        challenge: header("www-authenticate"),
        retry_after: header("retry-after"),
        body: response.text().unwrap(),
    }
}

fn initialize_body() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": PROTOCOL_VERSION, "capabilities": {}, "clientInfo": {"name": "oauth-test", "version": "1"}}})
}

fn call_body(id: u64, tool: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": arguments}})
}

/// A session opened with `token`.
fn session(server: &HttpServer, token: &str) -> String {
    let auth = format!("Bearer {token}");
    let (session, _) = server.initialize(&[("authorization", &auth)]).unwrap();
    session.unwrap()
}

/// Calls `consultar_empresa` with `token`; returns the answer.
fn read_call(server: &HttpServer, token: &str) -> Answer {
    let session = session(server, token);
    post(
        server,
        Some(token),
        Some(&session),
        &call_body(2, "consultar_empresa", json!({"nombre": "Empresa X"})),
    )
}

fn assert_invalid(server: &HttpServer, token: &str, words: &str, metadata: &str) {
    let answer = post(server, Some(token), None, &initialize_body());
    assert_eq!(answer.status, 401, "{words}: {answer:?}");
    let challenge = answer.challenge.unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer error=\"invalid_token\", error_description=\"")
            && challenge.contains(words)
            && challenge.ends_with(&format!("resource_metadata=\"{metadata}\"")),
        "{words}: {challenge}"
    );
    assert!(!answer.body.contains(token), "the token was echoed");
}

#[test]
fn jwt_access_tokens_metadata_challenges_scopes_and_rotation() {
    let issuer = Issuer::start();
    let dir = tempfile::tempdir().unwrap();
    let server = empresa(
        dir.path(),
        &[
            ("MCP_OAUTH_ISSUER", &issuer.url),
            ("MCP_OAUTH_JWKS_MIN_REFETCH_SECS", "1"),
            ("MCP_AUTH_TOKENS", &format!("ops:{STATIC_TOKEN}")),
            (
                "MCP_AUDIT_LOG",
                &dir.path().join("audit.jsonl").to_string_lossy(),
            ),
        ],
    );
    let resource = server.mcp_url();
    let metadata_url = format!("{}/.well-known/oauth-protected-resource/mcp", server.base);
    let mut issued = Vec::new();

    // The metadata: at the path RFC 9728 derives from the resource and at the root, no token.
    for url in [
        metadata_url.clone(),
        format!("{}/.well-known/oauth-protected-resource", server.base),
    ] {
        let document: Value = server.client.get(&url).send().unwrap().json().unwrap();
        assert_eq!(
            document,
            json!({
                "resource": resource,
                "authorization_servers": [issuer.url],
                "scopes_supported": ["mcp:read", "mcp:write", "mcp:destructive"],
                "bearer_methods_supported": ["header"],
                "resource_name": "mcp-empresa",
            }),
            "{url}"
        );
    }
    let foreign_host = server
        .client
        .get(&metadata_url)
        .header("host", "evil.example")
        .send()
        .unwrap();
    assert_eq!(
        foreign_host.status().as_u16(),
        403,
        "the metadata is Host-checked"
    );

    // No token: 401 with where to learn how to get one, and the scope to ask for first.
    let answer = post(&server, None, None, &initialize_body());
    assert_eq!(answer.status, 401, "{answer:?}");
    assert_eq!(
        answer.challenge.as_deref(),
        Some(format!("Bearer resource_metadata=\"{metadata_url}\", scope=\"mcp:read\"").as_str())
    );

    // A read token calls a read tool.
    let reader = issuer.token(json!({"sub": "alice", "scope": "mcp:read", "aud": resource}));
    issued.push(reader.clone());
    let answer = read_call(&server, &reader);
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.body.contains("employees"), "{answer:?}");

    // ... but not a write or a destructive one: 403 naming the scope needed.
    let session_id = session(&server, &reader);
    for (tool, scope, kind) in [
        ("create_company", "mcp:write", "write"),
        ("add_document", "mcp:write", "local write"),
        ("delete_company", "mcp:destructive", "destructive"),
    ] {
        let answer = post(
            &server,
            Some(&reader),
            Some(&session_id),
            &call_body(3, tool, json!({})),
        );
        assert_eq!(answer.status, 403, "{tool}: {answer:?}");
        assert_eq!(
            answer.challenge.as_deref(),
            Some(format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\", error_description=\"{tool} is a {kind} tool, which needs the scope {scope}\", resource_metadata=\"{metadata_url}\"").as_str()),
            "{tool}"
        );
    }
    // A tool the server does not offer needs the strongest scope rather than slipping through.
    let answer = post(
        &server,
        Some(&reader),
        Some(&session_id),
        &call_body(4, "no_such_tool", json!({})),
    );
    assert_eq!(answer.status, 403, "{answer:?}");

    // With the write scope the guard lets the write through (Governed then asks for consent).
    let writer = issuer.token(json!({"sub": "bob", "scope": "mcp:read mcp:write", "aud": [resource, "https://other.example/mcp"]}));
    issued.push(writer.clone());
    let session_id = session(&server, &writer);
    let answer = post(
        &server,
        Some(&writer),
        Some(&session_id),
        &call_body(5, "create_company", json!({"nombre": "Nueva SL"})),
    );
    assert_eq!(answer.status, 200, "{answer:?}");

    // Tokens that are not valid here: 401 invalid_token, saying why.
    let cases = [
        (
            json!({"sub": "alice", "scope": "mcp:read", "aud": resource, "expires_in": -3600}),
            "the token has expired",
        ),
        (
            json!({"sub": "alice", "scope": "mcp:read", "aud": "https://other.example/mcp"}),
            "audience does not include this resource",
        ),
        (
            json!({"sub": "alice", "scope": "mcp:read", "aud": resource, "iss": "https://evil.example"}),
            "not issued by this server's authorization server",
        ),
        (
            json!({"sub": "alice", "scope": "mcp:read", "aud": resource, "signer": "stranger"}),
            "signature does not verify",
        ),
        (
            json!({"sub": "alice", "scope": "mcp:read", "aud": resource, "not_before_in": 600}),
            "not valid yet",
        ),
    ];
    for (spec, words) in cases {
        let token = issuer.token(spec);
        issued.push(token.clone());
        assert_invalid(&server, &token, words, &metadata_url);
    }
    assert_invalid(&server, "not-a-jwt-at-all", "not a JWT", &metadata_url);

    // Key rotation: a token signed with the new key has an unknown kid, so the keys are fetched
    // again (at most once a second here) and it is accepted.
    let fetched_before = issuer.calls("GET /jwks");
    let kid = issuer.control("rotate", json!({}))["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    std::thread::sleep(Duration::from_millis(1100));
    let rotated = issuer.token(json!({"sub": "alice", "scope": "mcp:read", "aud": resource}));
    issued.push(rotated.clone());
    let answer = read_call(&server, &rotated);
    assert_eq!(answer.status, 200, "after rotating to {kid}: {answer:?}");
    assert_eq!(issuer.calls("GET /jwks"), fetched_before + 1);
    // A flood of made-up key ids does not make the server hammer the issuer: at most one fetch
    // a second (MCP_OAUTH_JWKS_MIN_REFETCH_SECS), however many requests.
    let fetched_before = issuer.calls("GET /jwks");
    let flood = std::time::Instant::now();
    for n in 0..20 {
        let token = issuer.token(
            json!({"sub": "mallory", "scope": "mcp:read", "aud": resource, "kid": format!("made-up-{n}")}),
        );
        assert_invalid(
            &server,
            &token,
            "no key of the authorization server",
            &metadata_url,
        );
    }
    let fetches = issuer.calls("GET /jwks") - fetched_before;
    assert!(
        fetches <= flood.elapsed().as_secs() + 1,
        "{fetches} fetches for 20 unknown kids in {:?}",
        flood.elapsed()
    );

    // A token from the real token endpoint: client_credentials, RFC 8707's resource as audience.
    let granted: Value = issuer
        .http
        .post(format!("{}/token", issuer.url))
        .basic_auth("mcp-test-client", Some("mcp-test-client-secret"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "mcp:read"),
            ("resource", resource.as_str()),
        ])
        .send()
        .unwrap()
        .json()
        .unwrap();
    let granted = granted["access_token"].as_str().unwrap().to_owned();
    issued.push(granted.clone());
    assert_eq!(read_call(&server, &granted).status, 200);

    // The static token works as before, alongside.
    let answer = read_call(&server, STATIC_TOKEN);
    assert_eq!(answer.status, 200, "{answer:?}");
    let answer = post(
        &server,
        Some("wrong-static-token"),
        None,
        &initialize_body(),
    );
    assert_eq!(answer.status, 401);

    // The audit names the OAuth subject as principal; no token appears anywhere.
    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    assert!(audit.contains("\"principal\":\"oauth:alice\""), "{audit}");
    assert!(audit.contains("\"principal\":\"ops\""), "{audit}");
    assert!(
        audit.contains("\"principal\":\"oauth:mcp-test-client\""),
        "{audit}"
    );
    let stderr = server.stderr();
    for token in issued.iter().map(String::as_str).chain([STATIC_TOKEN]) {
        assert!(!stderr.contains(token), "a token in stderr:\n{stderr}");
        assert!(!audit.contains(token), "a token in the audit log");
        // Not even its signature, which would be enough to spot it.
        let tail = token.rsplit('.').next().unwrap();
        assert!(!stderr.contains(tail) && !audit.contains(tail));
    }
}

#[test]
fn opaque_tokens_are_introspected_and_inactive_ones_refused() {
    let issuer = Issuer::start();
    let dir = tempfile::tempdir().unwrap();
    let server = empresa(
        dir.path(),
        &[
            ("MCP_OAUTH_ISSUER", &issuer.url),
            (
                "MCP_OAUTH_INTROSPECTION_URL",
                &format!("{}/introspect", issuer.url),
            ),
            ("MCP_OAUTH_CLIENT_ID", INTROSPECTION_CLIENT.0),
            ("MCP_OAUTH_CLIENT_SECRET", INTROSPECTION_CLIENT.1),
        ],
    );
    let resource = server.mcp_url();
    let metadata_url = format!("{}/.well-known/oauth-protected-resource/mcp", server.base);

    let opaque = issuer
        .token(json!({"sub": "carol", "scope": "mcp:read", "aud": resource, "format": "opaque"}));
    assert_eq!(opaque.split('.').count(), 1, "an opaque token");
    let answer = read_call(&server, &opaque);
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.body.contains("employees"));
    // The positive answer is reused: two requests (initialize, call), one introspection.
    assert_eq!(issuer.calls("POST /introspect"), 1);

    // Unknown, revoked and expired tokens are inactive.
    assert_invalid(&server, "made-up-opaque-token", "not active", &metadata_url);
    let revoked = issuer
        .token(json!({"sub": "carol", "scope": "mcp:read", "aud": resource, "format": "opaque"}));
    issuer.control("revoke", json!({"token": revoked}));
    assert_invalid(&server, &revoked, "not active", &metadata_url);
    let expired = issuer.token(json!({"sub": "carol", "scope": "mcp:read", "aud": resource, "format": "opaque", "expires_in": -5}));
    assert_invalid(&server, &expired, "not active", &metadata_url);
    // Active, but for another resource.
    let elsewhere = issuer.token(json!({"sub": "carol", "scope": "mcp:read", "aud": "https://other.example/mcp", "format": "opaque"}));
    assert_invalid(&server, &elsewhere, "audience", &metadata_url);
    // Scopes come from the introspection answer too.
    let session_id = session(&server, &opaque);
    let answer = post(
        &server,
        Some(&opaque),
        Some(&session_id),
        &call_body(3, "delete_company", json!({})),
    );
    assert_eq!(answer.status, 403, "{answer:?}");
    // JWTs are introspected as well when introspection is configured.
    let jwt = issuer.token(json!({"sub": "dave", "scope": "mcp:read", "aud": resource}));
    assert_eq!(read_call(&server, &jwt).status, 200);

    // The issuer answers introspection only to an authenticated client.
    let anonymous = issuer
        .http
        .post(format!("{}/introspect", issuer.url))
        .form(&[("token", opaque.as_str())])
        .send()
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);

    let stderr = server.stderr();
    for token in [&opaque, &revoked, &expired, &jwt] {
        assert!(!stderr.contains(token.as_str()), "a token in stderr");
    }
}

#[test]
fn an_unreachable_issuer_delays_nothing_and_static_tokens_still_work() {
    let dir = tempfile::tempdir().unwrap();
    // Port 1 on loopback: nothing listens there.
    let server = empresa(
        dir.path(),
        &[
            ("MCP_OAUTH_ISSUER", "http://127.0.0.1:1"),
            ("MCP_AUTH_TOKEN", STATIC_TOKEN),
        ],
    );
    assert_eq!(read_call(&server, STATIC_TOKEN).status, 200);
    // A JWT-shaped token cannot be checked: 503 with Retry-After, not a 401 that would send the
    // client to the authorization server for nothing.
    let header = r#"{"alg":"ES256","kid":"k1"}"#;
    let token = format!("{}.e30.c2ln", base64_url(header.as_bytes()));
    let answer = post(&server, Some(&token), None, &initialize_body());
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(answer.retry_after.as_deref(), Some("5"));
    assert!(answer.body.contains("could not be fetched"), "{answer:?}");
    // Readiness tells an operator why.
    let ready: Value = server
        .client
        .get(format!("{}/readyz", server.base))
        .bearer_auth(STATIC_TOKEN)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(
        ready["authorization_server"]["last_error"].is_string(),
        "{ready}"
    );
}

/// Unpadded base64url, enough for a test header.
fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}
