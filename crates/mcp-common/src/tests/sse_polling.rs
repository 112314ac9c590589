//! SSE polling (SEP-1699) over stateful HTTP, in process: a tool ends the SSE stream of its own
//! call with `ResponseStream::close`, the client reconnects with a GET and `Last-Event-ID`, and
//! the answer arrives on the new stream.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail loudly.

use std::sync::Arc;
use std::time::Duration;

use crate::ToolError;
use crate::governed::Domain;
use crate::http::ResponseStream;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Json;
use rmcp::model::{ServerCapabilities, ServerConfig, Tool};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, ServerHandler, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
struct Poller {
    tools: Arc<ToolRouter<Poller>>,
}

#[derive(Serialize, JsonSchema)]
struct Polled {
    /// Whether the call had a stream to close
    closed: bool,
    /// Whether the client came back
    resumed: bool,
}

#[tool_router]
impl Poller {
    #[tool(
        description = "Closes its stream and answers after the client reconnects",
        annotations(read_only_hint = true)
    )]
    async fn poll_me(
        &self,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<Polled>, ToolError> {
        let Some(stream) = ResponseStream::of(&context) else {
            return Ok(Json(Polled {
                closed: false,
                resumed: false,
            }));
        };
        stream
            .close(Duration::from_millis(100))
            .await
            .map_err(ToolError::Other)?;
        let resumed = tokio::time::timeout(Duration::from_secs(10), stream.resumed())
            .await
            .is_ok();
        Ok(Json(Polled {
            closed: true,
            resumed,
        }))
    }
}

#[tool_handler(router = self.tools)]
impl ServerHandler for Poller {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

impl Domain for Poller {
    fn tools(&self) -> Vec<Tool> {
        self.tools.list_all()
    }
}

async fn serve() -> (String, CancellationToken) {
    let poller = Poller {
        tools: Arc::new(Poller::tool_router()),
    };
    super::serve_http(poller, "poller", Duration::from_secs(60)).await
}

/// `(id, data)` of each SSE event in `body`.
fn events(body: &str) -> Vec<(Option<String>, String)> {
    body.split("\n\n")
        .filter(|event| !event.trim().is_empty())
        .map(|event| {
            let mut id = None;
            let mut data = String::new();
            for line in event.lines() {
                if let Some(value) = line.strip_prefix("id:") {
                    id = Some(value.trim().to_owned());
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push_str(value.trim());
                }
            }
            (id, data)
        })
        .collect()
}

fn post(
    client: &reqwest::Client,
    url: &str,
    session: Option<&str>,
    body: Value,
) -> reqwest::RequestBuilder {
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string());
    if let Some(session) = session {
        request = request.header("mcp-session-id", session);
    }
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_closes_its_stream_and_answers_after_the_client_reconnects() {
    let (url, shutdown) = serve().await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let init = post(&client, &url, None, json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}))
        .send()
        .await
        .unwrap();
    let session = init.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(init.text().await.unwrap().contains("\"result\""));
    let initialized = post(
        &client,
        &url,
        Some(&session),
        json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(initialized.status(), 202);

    // The POST stream ends without the answer, after an event with an id and a retry hint.
    let call = post(&client, &url, Some(&session), json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"poll_me","arguments":{}}}))
        .send()
        .await
        .unwrap();
    let body = call.text().await.unwrap();
    assert!(
        !body.contains("\"result\""),
        "answered on the closed stream: {body}"
    );
    assert!(body.contains("retry:"), "{body}");
    let last_event_id = events(&body)
        .into_iter()
        .filter_map(|(id, _)| id)
        .next_back()
        .unwrap_or_else(|| panic!("no event id in {body}"));

    // The reconnection gets the answer, and the tool saw the client come back.
    let resumed = client
        .get(&url)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &session)
        .header("last-event-id", &last_event_id)
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.status(), 200);
    let body = resumed.text().await.unwrap();
    let answer: Value = events(&body)
        .into_iter()
        .filter_map(|(_, data)| serde_json::from_str::<Value>(&data).ok())
        .find(|message| message["id"] == json!(2))
        .unwrap_or_else(|| panic!("no answer after reconnecting: {body}"));
    assert_eq!(
        answer["result"]["structuredContent"],
        json!({"closed": true, "resumed": true}),
        "{answer}"
    );
    shutdown.cancel();
}
