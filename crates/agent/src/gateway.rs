//! `mcp-agent serve`: the agent over HTTP, for a web front end (the prototype's gateway).
//!
//! - `POST /chat {"message": "…", "conversation_id": "…"?}` answers one message, after the
//!   earlier turns of the conversation when an id is given (a new conversation otherwise), with
//!   `{"conversation_id", "answer", "finish", "mode", "tool_calls", "pending_approvals"}`.
//! - A tool that needs consent is not run: it comes back in `pending_approvals` (`id`, server,
//!   tool, the exact arguments, the question) and the model is told it awaits approval. The
//!   client answers with `{"conversation_id", "approve": [ids], "decline": [ids], "message"?}`:
//!   approved calls run with exactly those arguments, and the model is told what happened and
//!   answers. Approvals not answered lapse with the next message.
//! - With `"stream": true` the answer comes as server-sent events: `text` events as the model
//!   writes (native mode), then a `done` event with the same JSON, or an `error` event.
//! - `GET /health`: `{"status": "ok" | "degraded", "servers": {name: running}}`.
//!
//! `/chat` sits behind mcp-common's HTTP guard (Host and Origin allow-lists, bearer tokens,
//! body size), configured with the same `MCP_*` variables as the servers; a conversation belongs
//! to the token holder that started it. The agent behind the gateway must be built with
//! [`consent`], which turns consent questions into pending approvals.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{Extension, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use mcp_common::http::HttpSettings;
use mcp_common::identity::Principal;
use openai_compat::wire::Message;
use serde_json::{Value, json};

use crate::agent::Agent;
use crate::chat::TextSink;
use crate::consent::{Answer, Consent, ConsentRequest};
use crate::manager::Manager;

tokio::task_local! {
    /// The consent questions of the `/chat` request being answered.
    static PENDING: Arc<Mutex<Vec<ConsentRequest>>>;
}

/// The consent of an agent behind the gateway: each question becomes a pending approval of the
/// `/chat` request that raised it (declined outside one, e.g. a server's own elicitation).
pub fn consent() -> Consent {
    Consent::with_answers(|request| {
        let parked = PENDING.try_with(|pending| {
            pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(request)
        });
        Box::pin(async move {
            if parked.is_ok() {
                Answer::Pending
            } else {
                Answer::Declined
            }
        })
    })
}

/// How many conversations are kept; the oldest is forgotten past this.
pub const MAX_CONVERSATIONS: usize = 1_000;

/// Earlier turns kept per conversation (questions and answers), oldest dropped first.
pub const MAX_TURNS_KEPT: usize = 40;

#[derive(Clone)]
struct Gateway {
    agent: Arc<Agent>,
    manager: Arc<Manager>,
    conversations: Arc<Mutex<Conversations>>,
    ids: RandomState,
}

#[derive(Default)]
struct Conversations {
    by_id: HashMap<String, Conversation>,
    order: VecDeque<String>,
}

struct Conversation {
    owner: Option<String>,
    turns: Vec<Message>,
    pending: Vec<(String, ConsentRequest)>,
}

/// The gateway's routes: `/chat` behind mcp-common's guard with `settings`, `/health` open.
pub fn app(agent: Arc<Agent>, manager: Arc<Manager>, settings: &HttpSettings) -> Router {
    let gateway = Gateway {
        agent,
        manager,
        conversations: Arc::new(Mutex::new(Conversations::default())),
        ids: RandomState::new(),
    };
    let chat = Router::new()
        .route("/chat", post(chat))
        .with_state(gateway.clone());
    let chat = mcp_common::http::guarded(chat, settings);
    Router::new()
        .route("/health", get(health))
        .with_state(gateway)
        .merge(chat)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

async fn health(State(gateway): State<Gateway>) -> Response {
    let statuses = gateway.manager.status().await;
    let all_running = statuses.iter().all(|s| s.running);
    let servers: serde_json::Map<String, Value> = statuses
        .into_iter()
        .map(|s| (s.name, Value::Bool(s.running)))
        .collect();
    Json(json!({
        "status": if all_running { "ok" } else { "degraded" },
        "servers": servers,
    }))
    .into_response()
}

async fn chat(
    State(gateway): State<Gateway>,
    principal: Option<Extension<Principal>>,
    body: Bytes,
) -> Response {
    let owner = principal.map(|Extension(Principal(name))| name);
    let request: Value = match serde_json::from_slice(&body) {
        Ok(Value::Object(request)) => Value::Object(request),
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "the body must be a JSON object such as {\"message\": \"…\", \"conversation_id\": \"…\"}",
            );
        }
    };
    let ids = |field: &str| -> Result<Vec<String>, String> {
        match &request[field] {
            Value::Null => Ok(Vec::new()),
            Value::Array(items) if items.iter().all(Value::is_string) => Ok(items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()),
            _ => Err(format!(
                "`{field}`: expected an array of pending approval ids"
            )),
        }
    };
    let (approve, decline) = match (ids("approve"), ids("decline")) {
        (Ok(approve), Ok(decline)) => (approve, decline),
        (Err(problem), _) | (_, Err(problem)) => return error(StatusCode::BAD_REQUEST, problem),
    };
    let answering = !approve.is_empty() || !decline.is_empty();
    let message = match &request["message"] {
        Value::String(message) if !message.trim().is_empty() => Some(message.clone()),
        Value::Null if answering => None,
        Value::Null => {
            return error(
                StatusCode::BAD_REQUEST,
                "`message`: expected the user's message as a string",
            );
        }
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "`message`: expected a non-empty string",
            );
        }
    };
    let (id, earlier, pending) = match &request["conversation_id"] {
        Value::Null if answering => {
            return error(
                StatusCode::BAD_REQUEST,
                "`conversation_id`: approvals are answered within the conversation that asked for them",
            );
        }
        Value::Null => (gateway.new_id(), Vec::new(), Vec::new()),
        Value::String(id) => match gateway.conversation(id, owner.as_deref()) {
            Some((turns, pending)) => (id.clone(), turns, pending),
            None => {
                return error(
                    StatusCode::NOT_FOUND,
                    format!(
                        "`conversation_id`: there is no conversation {id:?}; leave it out to start one"
                    ),
                );
            }
        },
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "`conversation_id`: expected a string",
            );
        }
    };
    // Every id is checked before anything runs, so a typo does not leave half the approvals done.
    let mut approved = Vec::new();
    let mut declined = Vec::new();
    for (field, chosen) in [("approve", &approve), ("decline", &decline)] {
        for wanted in chosen {
            let Some((_, request)) = pending.iter().find(|(pending_id, _)| pending_id == wanted)
            else {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "`{field}`: {wanted:?} is not a pending approval of this conversation (approvals lapse with the next message)"
                    ),
                );
            };
            if field == "approve" {
                approved.push(request.clone());
            } else {
                declined.push(request.clone());
            }
        }
    }
    let turn = Prepared {
        id,
        owner,
        earlier,
        message,
        approved,
        declined,
    };
    if request["stream"] == Value::Bool(true) {
        return streamed(gateway, turn);
    }
    match respond(&gateway, turn, None).await {
        Ok(body) => Json(body).into_response(),
        Err(failure) => error(StatusCode::BAD_GATEWAY, failure),
    }
}

/// A checked `/chat` request, ready to run.
struct Prepared {
    id: String,
    owner: Option<String>,
    earlier: Vec<Message>,
    message: Option<String>,
    approved: Vec<ConsentRequest>,
    declined: Vec<ConsentRequest>,
}

/// Runs the approved calls, tells the model what the user decided and said, keeps the
/// conversation, and returns the answer's JSON.
async fn respond(
    gateway: &Gateway,
    turn: Prepared,
    on_text: Option<&TextSink<'_>>,
) -> Result<Value, String> {
    let mut notes = Vec::new();
    let mut approved_reports = Vec::new();
    for request in &turn.approved {
        let report = gateway.agent.run_approved(request).await;
        notes.push(format!(
            "The user approved `{}` with {}; it ran ({}) and returned: {}",
            report.function, report.arguments, report.outcome, report.result
        ));
        approved_reports.push(report);
    }
    for request in &turn.declined {
        notes.push(format!(
            "The user declined `{}__{}` with {}; it was not run and nothing changed",
            request.server, request.tool, request.arguments
        ));
    }
    let text = match (notes.is_empty(), turn.message) {
        (true, Some(message)) => message,
        (false, Some(message)) => format!("{}\n\n{message}", notes.join("\n")),
        (_, None) => format!("{}\n\nTell me what was done.", notes.join("\n")),
    };
    let asked = Arc::new(Mutex::new(Vec::new()));
    let asking = async {
        match on_text {
            Some(on_text) => {
                gateway
                    .agent
                    .ask_streaming(&turn.earlier, &text, on_text)
                    .await
            }
            None => gateway.agent.ask_after(&turn.earlier, &text).await,
        }
    };
    let outcome = PENDING
        .scope(asked.clone(), asking)
        .await
        .map_err(|failure| failure.to_string())?;
    let mut turns = turn.earlier;
    turns.extend(outcome.exchange(&text));
    let asked = std::mem::take(&mut *asked.lock().unwrap_or_else(|p| p.into_inner()));
    let pending: Vec<(String, ConsentRequest)> = asked
        .into_iter()
        .map(|request| (gateway.new_id().replacen("c-", "p-", 1), request))
        .collect();
    let shown: Vec<Value> = pending
        .iter()
        .map(|(pending_id, request)| {
            json!({
                "id": pending_id,
                "server": request.server,
                "tool": request.tool,
                "arguments": request.arguments,
                "question": request.message,
            })
        })
        .collect();
    gateway.store(&turn.id, turn.owner, turns, pending);
    Ok(json!({
        "conversation_id": turn.id,
        "answer": outcome.answer,
        "finish": outcome.finish,
        "mode": outcome.mode,
        "approved": approved_reports,
        "tool_calls": outcome.tool_calls,
        "pending_approvals": shown,
        "unavailable": outcome.unavailable,
    }))
}

/// The answer as server-sent events: `text` events (`{"text": …}`) as the model writes, then one
/// `done` event with the same JSON as a plain answer, or an `error` event.
fn streamed(gateway: Gateway, turn: Prepared) -> Response {
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
    tokio::spawn(async move {
        let pieces = sender.clone();
        let on_text = move |text: &str| {
            let _ = pieces.send(event("text", &json!({"text": text})));
        };
        let last = match respond(&gateway, turn, Some(&on_text)).await {
            Ok(body) => event("done", &body),
            Err(failure) => event("error", &json!({"error": failure})),
        };
        let _ = sender.send(last);
    });
    let body = Body::from_stream(futures::stream::unfold(
        receiver,
        |mut receiver| async move {
            receiver
                .recv()
                .await
                .map(|bytes| (Ok::<_, std::convert::Infallible>(bytes), receiver))
        },
    ));
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn event(name: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

impl Gateway {
    fn new_id(&self) -> String {
        let mut high = self.ids.build_hasher();
        high.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        let high = high.finish();
        let mut low = self.ids.build_hasher();
        low.write_u64(high);
        format!("c-{high:016x}{:016x}", low.finish())
    }

    /// The conversation's turns and pending approvals, when it exists and is `owner`'s.
    #[allow(clippy::type_complexity, reason = "a private pair read in one place")]
    fn conversation(
        &self,
        id: &str,
        owner: Option<&str>,
    ) -> Option<(Vec<Message>, Vec<(String, ConsentRequest)>)> {
        let conversations = self.conversations.lock().unwrap_or_else(|p| p.into_inner());
        conversations
            .by_id
            .get(id)
            .filter(|c| c.owner.as_deref() == owner)
            .map(|c| (c.turns.clone(), c.pending.clone()))
    }

    fn store(
        &self,
        id: &str,
        owner: Option<String>,
        mut turns: Vec<Message>,
        pending: Vec<(String, ConsentRequest)>,
    ) {
        if turns.len() > MAX_TURNS_KEPT {
            turns.drain(..turns.len() - MAX_TURNS_KEPT);
        }
        let mut conversations = self.conversations.lock().unwrap_or_else(|p| p.into_inner());
        if !conversations.by_id.contains_key(id) {
            conversations.order.push_back(id.to_owned());
            while conversations.order.len() > MAX_CONVERSATIONS {
                if let Some(oldest) = conversations.order.pop_front() {
                    conversations.by_id.remove(&oldest);
                }
            }
        }
        conversations.by_id.insert(
            id.to_owned(),
            Conversation {
                owner,
                turns,
                pending,
            },
        );
    }
}
