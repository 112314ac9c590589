//! `mcp-agent serve`: the agent over HTTP, for a web front end (the prototype's gateway).
//!
//! - `POST /chat {"message": "…", "conversation_id": "…"?}` answers one message, after the
//!   earlier turns of the conversation when an id is given (a new conversation otherwise), with
//!   `{"conversation_id", "answer", "finish", "mode", "tool_calls"}`.
//! - `GET /health`: `{"status": "ok" | "degraded", "servers": {name: running}}`.
//!
//! `/chat` sits behind mcp-common's HTTP guard (Host and Origin allow-lists, bearer tokens,
//! body size), configured with the same `MCP_*` variables as the servers; a conversation belongs
//! to the token holder that started it. Tools that need consent are declined over the gateway
//! (nobody at a terminal to ask), and the model is told so.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex};

use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use mcp_common::http::HttpSettings;
use mcp_common::identity::Principal;
use serde_json::{Value, json};

use crate::agent::Agent;
use crate::chat::ChatMessage;
use crate::manager::Manager;

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
    turns: Vec<ChatMessage>,
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
    body: axum::body::Bytes,
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
    let message = match &request["message"] {
        Value::String(message) if !message.trim().is_empty() => message.clone(),
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
    let (id, earlier) = match &request["conversation_id"] {
        Value::Null => (gateway.new_id(), Vec::new()),
        Value::String(id) => match gateway.turns_of(id, owner.as_deref()) {
            Some(turns) => (id.clone(), turns),
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
    match gateway.agent.ask_after(&earlier, &message).await {
        Ok(outcome) => {
            let mut turns = earlier;
            turns.extend(outcome.exchange(&message));
            gateway.store(&id, owner, turns);
            Json(json!({
                "conversation_id": id,
                "answer": outcome.answer,
                "finish": outcome.finish,
                "mode": outcome.mode,
                "tool_calls": outcome.tool_calls,
                "unavailable": outcome.unavailable,
            }))
            .into_response()
        }
        Err(failure) => error(StatusCode::BAD_GATEWAY, failure.to_string()),
    }
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

    fn turns_of(&self, id: &str, owner: Option<&str>) -> Option<Vec<ChatMessage>> {
        let conversations = self.conversations.lock().unwrap_or_else(|p| p.into_inner());
        conversations
            .by_id
            .get(id)
            .filter(|c| c.owner.as_deref() == owner)
            .map(|c| c.turns.clone())
    }

    fn store(&self, id: &str, owner: Option<String>, mut turns: Vec<ChatMessage>) {
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
        conversations
            .by_id
            .insert(id.to_owned(), Conversation { owner, turns });
    }
}
