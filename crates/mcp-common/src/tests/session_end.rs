//! `Domain::session_ended` over stateful HTTP, in process: the domain hears of a session's end
//! when its client deletes it and when it expires after the idle limit, so per-session state
//! (mcp-openai's token budgets) does not outlive the session. Found while adding session expiry to
//! `just soak`: mcp-openai kept a budget account for every session it ever served.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail loudly.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::audit::AuditLog;
use crate::config::AuditDestination;
use crate::gate::ToolPolicy;
use crate::governed::{Domain, GovernConfig, Governed};
use crate::grants::GrantStore;
use crate::health::Readiness;
use crate::http::{HttpSettings, router};
use crate::metrics::Metrics;
use rmcp::ServerHandler;
use rmcp::model::{ServerCapabilities, ServerConfig, Tool};
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// A domain with no tools that records the sessions it is told have ended.
#[derive(Clone, Default)]
struct Recorder {
    ended: Arc<Mutex<Vec<String>>>,
}

impl ServerHandler for Recorder {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

impl Domain for Recorder {
    fn tools(&self) -> Vec<Tool> {
        Vec::new()
    }

    fn session_ended(&self, session: &str) {
        self.ended.lock().unwrap().push(session.to_owned());
    }
}

async fn serve(recorder: Recorder, idle: Duration) -> (String, CancellationToken) {
    let config = GovernConfig {
        server: "recorder".into(),
        version: "0.0.0".into(),
        about: String::new(),
        policy: ToolPolicy::default(),
        consent_timeout: Duration::from_secs(5),
        tool_timeout: Duration::from_secs(30),
        grants: Arc::new(GrantStore::in_memory()),
        confirm_always: false,
        limits: crate::limits::LimitSettings::default(),
    };
    let metrics = Arc::new(Metrics::new("recorder"));
    let governed = Governed::new(
        recorder,
        config,
        AuditLog::open(&AuditDestination::Off).unwrap(),
        metrics.clone(),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let settings = HttpSettings {
        listen: addr,
        stateless: false,
        tokens: vec![],
        allowed_hosts: crate::http::default_allowed_hosts(&addr),
        allowed_origins: vec![],
        max_body_bytes: 1 << 20,
        session_idle: idle,
    };
    let shutdown = CancellationToken::new();
    let app = router(
        governed,
        &settings,
        Arc::new(Readiness::new(vec![], Duration::from_secs(1))),
        metrics,
        shutdown.clone(),
        "mcp-recorder".into(),
    );
    let stop = shutdown.clone();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
    });
    (format!("http://{addr}/mcp"), shutdown)
}

/// Opens a session and returns its id.
async fn open(client: &reqwest::Client, url: &str) -> String {
    let init = client
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}).to_string())
        .send()
        .await
        .unwrap();
    let session = init.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(init.text().await.unwrap().contains("\"result\""));
    session
}

/// Waits up to 10 s for `session` to be among the ended ones.
async fn wait_ended(recorder: &Recorder, session: &str) -> bool {
    for _ in 0..200 {
        if recorder.ended.lock().unwrap().iter().any(|s| s == session) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_domain_hears_of_deleted_and_expired_sessions() {
    let recorder = Recorder::default();
    let (url, shutdown) = serve(recorder.clone(), Duration::from_secs(1)).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    let deleted = open(&client, &url).await;
    let expiring = open(&client, &url).await;
    let answer = client
        .delete(&url)
        .header("mcp-session-id", &deleted)
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
    assert!(wait_ended(&recorder, &deleted).await, "DELETE not heard");

    // Left alone past the idle limit, the other one expires; the domain hears of it too.
    assert!(
        wait_ended(&recorder, &expiring).await,
        "expiry not heard; ended: {:?}",
        recorder.ended.lock().unwrap()
    );
    shutdown.cancel();
}
