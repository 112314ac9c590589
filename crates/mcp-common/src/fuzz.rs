//! Entry points for the fuzz targets in `tests/fuzz`: each takes bytes a stranger could send and
//! drives one surface exactly as a running server does. None may panic or hang on any input, and
//! each asserts what a correct answer looks like, so the fuzzer finds wrong answers as well as
//! crashes. `cargo test` replays the checked-in corpus through these functions; `just fuzz` runs
//! them under libFuzzer.

// A fuzz target reports a wrong answer by panicking; that is its whole job.
#![allow(clippy::expect_used, clippy::panic)]

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http::Request;
use serde_json::Value;
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::audit::AuditLog;
use crate::config::{AuditDestination, TokenHolder};
use crate::framing::{PARSE_ERROR, check_syntax, find_id};
use crate::gate::ToolPolicy;
use crate::governed::{Domain, GovernConfig, Governed};
use crate::grants::{GrantStore, Grants};
use crate::health::Readiness;
use crate::http::HttpSettings;
use crate::metrics::Metrics;
use crate::secret::Secret;

/// Longer than any input may take: a session that has not ended by then is a hang.
const HANG: Duration = Duration::from_secs(20);

/// The bearer token a fuzzed HTTP request must present when its request line asks for `token`.
pub const FUZZ_TOKEN: &str = "fuzz-token-0123456789";

thread_local! {
    // One runtime per fuzzing thread: building one per input would dominate the run time.
    static RUNTIME: RefCell<Option<tokio::runtime::Runtime>> = const { RefCell::new(None) };
}

/// Runs `future` to completion on this thread's runtime.
fn block_on<F: Future>(future: F) -> F::Output {
    RUNTIME.with(|cell| {
        let mut slot = cell.borrow_mut();
        let runtime = slot.get_or_insert_with(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a current-thread runtime")
        });
        runtime.block_on(future)
    })
}

/// The syntax check every stdio line and HTTP body goes through before rmcp sees it must agree
/// with serde_json (which rmcp parses with): it accepts exactly what parses, and a rejection is a
/// JSON-RPC parse error carrying an id that is `null`, a number or a string.
pub fn json_rpc_line(data: &[u8]) {
    let verdict = check_syntax(data, "line");
    let parsed = serde_json::from_slice::<Value>(data);
    match (&verdict, &parsed) {
        (Ok(()), Err(error)) => panic!("the check accepted what serde_json refuses: {error}"),
        (Err(rejection), Ok(_)) => {
            panic!(
                "the check refused what serde_json parses: {}",
                rejection.message
            )
        }
        (Err(rejection), Err(_)) => {
            assert_eq!(rejection.code, PARSE_ERROR);
            assert!(matches!(
                rejection.id,
                Value::Null | Value::Number(_) | Value::String(_)
            ));
        }
        (Ok(()), Ok(_)) => {}
    }
    let id = find_id(data);
    assert!(matches!(
        id,
        Value::Null | Value::Number(_) | Value::String(_)
    ));
}

/// The governing layer around `domain` with the default policy, no audit file and short waits.
fn governed<S: Domain>(domain: S) -> Governed<S> {
    let config = GovernConfig {
        server: "fuzz".into(),
        version: "0.0.0".into(),
        about: String::new(),
        policy: ToolPolicy::default(),
        consent_timeout: Duration::from_secs(2),
        tool_timeout: Duration::from_secs(5),
        grants: Arc::new(Grants::Local(Arc::new(GrantStore::in_memory()))),
        team: None,
        credential_fields: &[],
        confirm_always: false,
        limits: crate::limits::LimitSettings::default(),
    };
    let audit = AuditLog::open(&AuditDestination::Off).expect("an audit log that writes nowhere");
    match Governed::new(domain, config, audit, Arc::new(Metrics::new("fuzz"))) {
        Ok(governed) => governed,
        Err(error) => panic!("the domain's tools break the rules: {:?}", error.problems),
    }
}

/// Feeds `input` to `domain` as a stdio client would (newline-delimited JSON-RPC, any bytes),
/// closes the input and returns everything the server wrote. The session must end on its own,
/// and every line written must be a JSON-RPC 2.0 message.
pub fn stdio_session<S: Domain>(domain: S, input: &[u8]) -> Vec<u8> {
    let governed = governed(domain);
    let input = std::io::Cursor::new(input.to_vec());
    let output = block_on(async move {
        let (server_out, mut client_in) = tokio::io::duplex(1 << 16);
        let serve = crate::stdio::serve_streams(
            governed,
            input,
            server_out,
            64 * 1024,
            CancellationToken::new(),
        );
        let read = async {
            let mut written = Vec::new();
            let _ = client_in.read_to_end(&mut written).await;
            written
        };
        match tokio::time::timeout(HANG, async { tokio::join!(serve, read) }).await {
            Ok((_, written)) => written,
            Err(_) => panic!("the stdio session did not end within {HANG:?} of its input closing"),
        }
    });
    for line in output.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let message: Value = serde_json::from_slice(line).unwrap_or_else(|error| {
            panic!(
                "the server wrote a line that is not JSON ({error}): {}",
                String::from_utf8_lossy(line)
            )
        });
        assert_eq!(
            message["jsonrpc"], "2.0",
            "not a JSON-RPC 2.0 message: {message}"
        );
    }
    output
}

/// Sends one HTTP request, written as text, to the HTTP face of `domain` (the guard, `/mcp`, the
/// operational endpoints), as a client on loopback would. The text is a request line
/// `METHOD PATH [stateless] [token]`, header lines `name: value`, an empty line and the body;
/// `stateless` serves without sessions and `token` requires [`FUZZ_TOKEN`]. Requests the `http`
/// crate cannot represent are skipped (`None`). The server must answer, and never with a 500;
/// the status and the start of the body are returned.
pub fn http_exchange<S: Domain>(domain: S, data: &[u8]) -> Option<(u16, Vec<u8>)> {
    let (head, body) = split_head(data)?;
    let mut lines = head.split(|b| *b == b'\n');
    let request_line = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let mut words = request_line.split_whitespace();
    let (Some(method), Some(path)) = (words.next(), words.next()) else {
        return None;
    };
    let flags: Vec<&str> = words.collect();
    let mut builder = Request::builder().method(method).uri(path);
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let value = line[colon + 1..].trim_ascii_start();
        builder = builder.header(&line[..colon], value);
    }
    let request = builder.body(Body::from(body.to_vec())).ok()?;
    let listen = std::net::SocketAddr::from(([127, 0, 0, 1], 8000));
    let settings = HttpSettings {
        listen,
        stateless: flags.contains(&"stateless"),
        tokens: if flags.contains(&"token") {
            vec![TokenHolder {
                name: "fuzzer".into(),
                token: Secret::new(FUZZ_TOKEN.to_owned()),
                variable: "MCP_AUTH_TOKEN",
            }]
        } else {
            Vec::new()
        },
        allowed_hosts: crate::http::default_allowed_hosts(&listen),
        allowed_origins: Vec::new(),
        max_body_bytes: 64 * 1024,
        session_idle: Duration::from_secs(60),
    };
    let shutdown = CancellationToken::new();
    let app = crate::http::router(
        governed(domain),
        &settings,
        Arc::new(Readiness::new(Vec::new(), Duration::from_secs(1))),
        Arc::new(Metrics::new("fuzz")),
        shutdown.clone(),
        "fuzz".into(),
    );
    block_on(async move {
        let response = match tokio::time::timeout(HANG, app.oneshot(request)).await {
            Ok(Ok(response)) => response,
            Ok(Err(infallible)) => match infallible {},
            Err(_) => panic!("no answer within {HANG:?}"),
        };
        let status = response.status();
        assert_ne!(
            status,
            http::StatusCode::INTERNAL_SERVER_ERROR,
            "a client's request answered with 500"
        );
        // An event stream stays open for the session's messages: read its first frame only.
        let mut body = response.into_body().into_data_stream();
        let mut read = Vec::new();
        while let Ok(Some(Ok(frame))) = tokio::time::timeout(
            Duration::from_millis(200),
            futures::StreamExt::next(&mut body),
        )
        .await
        {
            read.extend_from_slice(&frame);
            if read.len() > 1 << 20 || read.ends_with(b"\n\n") {
                break;
            }
        }
        shutdown.cancel();
        Some((status.as_u16(), read))
    })
}

/// The head (before the first empty line) and the body of a request written as text.
fn split_head(data: &[u8]) -> Option<(&[u8], &[u8])> {
    for (separator, len) in [(&b"\r\n\r\n"[..], 4), (&b"\n\n"[..], 2)] {
        if let Some(at) = data.windows(len).position(|w| w == separator) {
            return Some((&data[..at], &data[at + len..]));
        }
    }
    (!data.is_empty()).then_some((data, &[][..]))
}
