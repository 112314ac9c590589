//! `Domain::session_ended` over stateful HTTP, in process: the domain hears of a session's end
//! when its client deletes it and when it expires after the idle limit, so per-session state
//! (mcp-openai's token budgets) does not outlive the session. Found while adding session expiry to
//! `just soak`: mcp-openai kept a budget account for every session it ever served.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail loudly.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::governed::Domain;
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
    super::serve_http(recorder, "recorder", idle).await
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
