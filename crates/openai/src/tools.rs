//! The MCP face of the endpoint: `chat`, `embed`, `list_models` and `moderate`.
//!
//! None of them changes anything outside this server (a model answers, nothing is written), so
//! they are read-only and open-world, and no consent is asked. What they guard instead is cost
//! and size: every call is admitted by the token budgets first, reports its usage in the result
//! and the audit line, and returns at most `OPENAI_MAX_OUTPUT_CHARS` of text.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mcp_common::{Caller, Domain, Json, Probe, ToolError};
use openai_compat::reasoning::{self, Family};
use openai_compat::wire::{
    ChatRequest, EmbeddingRequest, JsonSchemaFormat, Message, ModerationRequest, ResponseFormat,
    Usage, ordered_vectors,
};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::*;
use rmcp::service::{Peer, RequestContext};
use rmcp::{RoleServer, ServerHandler, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;

use mcp_common::team::{ClientCache, CredentialField, caller_credentials};

use crate::budget::{self, Budgets, Standing, estimate_tokens};
use crate::client::{CallError, ChatAnswer, StreamEvent};
use crate::config::OpenAiConfig;
use crate::provider::Provider;
use crate::structured::{self, Schema};

/// How much of the text so far a progress notification carries: its end, enough to follow along
/// without resending the whole answer every time.
const PROGRESS_CHARS: usize = 2_000;

/// How often a call is sent again with a parameter the endpoint refused left out.
const MAX_REFUSAL_ADJUSTMENTS: usize = 3;

/// The most texts in one `embed` or `moderate` call (OpenAI's own limit for embeddings).
const MAX_TEXTS: usize = 2_048;

/// The openai MCP server.
#[derive(Clone)]
pub struct OpenAi {
    api: Provider,
    budgets: Arc<Budgets>,
    model: String,
    embedding_model: String,
    base_url: String,
    max_output_chars: usize,
    chat_timeout: Duration,
    /// Parameters the endpoint refused per model, left out of later calls from the start.
    refused: Arc<Mutex<HashMap<String, Vec<String>>>>,
    /// In team mode, the endpoint with each caller's own key, one client (and breaker) per key.
    per_caller: Arc<ClientCache<Provider>>,
    tools: Arc<ToolRouter<OpenAi>>,
}

impl std::fmt::Debug for OpenAi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAi").field("api", &self.api).finish()
    }
}

impl OpenAi {
    /// The server over `api`.
    pub fn new(api: Provider, config: &OpenAiConfig) -> OpenAi {
        OpenAi {
            api,
            budgets: Arc::new(Budgets::new(
                config.max_tokens_per_call,
                config.max_tokens_per_session,
            )),
            model: config.model.clone(),
            embedding_model: config.embedding_model.clone(),
            base_url: config.base_url.clone(),
            max_output_chars: config.max_output_chars,
            chat_timeout: config.chat_timeout,
            refused: Arc::new(Mutex::new(HashMap::new())),
            per_caller: Arc::new(ClientCache::default()),
            tools: Arc::new(Self::tool_router()),
        }
    }

    /// Where this call's requests go: in team mode, the endpoint with the caller's own key when
    /// it has one (mcp-common refuses callers without one unless the deployment shares its own);
    /// otherwise the configured provider.
    fn provider(&self) -> Provider {
        let (Some(credentials), Provider::Endpoint(api)) = (caller_credentials(), &self.api) else {
            return self.api.clone();
        };
        let Some(key) = credentials.get(API_KEY) else {
            return self.api.clone();
        };
        let own = self.per_caller.get_or_try_insert(&credentials, |_| {
            Ok::<_, std::convert::Infallible>(Provider::Endpoint(api.with_key(key.clone())))
        });
        match own {
            Ok(provider) => (*provider).clone(),
            Err(never) => match never {},
        }
    }
}

/// The credential a team-mode caller brings: its own API key.
const API_KEY: &str = "api_key";

/// What callers may bring in team mode (`ServerIdentity::credentials`).
pub const CALLER_CREDENTIALS: &[CredentialField] = &[CredentialField {
    name: API_KEY,
    description: "Your own API key for the endpoint (OpenAI's sk-…, or your provider's); your calls are made and billed with it",
    required: true,
}];

// ---------------------------------------------------------------------------------------------
// Arguments

/// Who speaks a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions for the model
    System,
    /// Instructions for the model (newer OpenAI models' name for system)
    Developer,
    /// The person asking
    User,
    /// The model's earlier answers
    Assistant,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::Developer => "developer",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One message of a conversation.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ChatMessage {
    /// system, developer, user or assistant
    pub role: Role,
    /// The text of the message
    pub content: String,
}

/// The kinds of answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FormatKind {
    /// Free text (default)
    #[default]
    Text,
    /// A JSON object of the model's choosing
    JsonObject,
    /// JSON valid for the given schema
    JsonSchema,
}

/// The format of the answer.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ResponseFormatArg {
    /// text (default), json_object, or json_schema (then give schema)
    #[serde(rename = "type")]
    pub kind: FormatKind,
    /// For json_schema: the JSON Schema the answer must match, as JSON text, e.g. {"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}. Its root must be an object
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// For json_schema: a name for the schema, letters, digits, _ and - (default answer)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// For json_schema: ask the endpoint to follow the schema strictly; default true when the schema is in OpenAI's strict form (every object with additionalProperties false, every property required)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// A chat call.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ChatArgs {
    /// The message to answer
    pub prompt: String,
    /// Earlier turns of the conversation, oldest first; prompt follows them as the user's next message
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<ChatMessage>>,
    /// Instructions for the model, sent first as a system message
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// The model; default OPENAI_MODEL (list_models shows what the endpoint serves)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Sampling temperature from 0 to 2 (left out for reasoning models, with a note)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling from 0 to 1 (left out for reasoning models, with a note)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// The longest answer in tokens (sent as max_completion_tokens to reasoning models, where it also counts their reasoning)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    /// text (default), json_object, or json_schema with a schema
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormatArg>,
}

/// One text or several.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Texts {
    /// One text
    One(String),
    /// Several texts
    Many(Vec<String>),
}

impl Texts {
    fn into_vec(self) -> Vec<String> {
        match self {
            Texts::One(text) => vec![text],
            Texts::Many(texts) => texts,
        }
    }
}

/// An embedding call.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct EmbedArgs {
    /// The text to embed, or a list of texts (at most 2048)
    pub texts: Texts,
    /// The embedding model; default OPENAI_EMBEDDING_MODEL
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Shorter vectors of this many dimensions, where the model supports it (text-embedding-3 models do)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
}

/// A moderation call.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ModerateArgs {
    /// The text to check, or a list of texts
    pub input: Texts,
    /// The moderation model; default the endpoint's (omni-moderation-latest on OpenAI)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Results

/// Token usage of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
pub struct UsageResult {
    /// Tokens of the input
    pub prompt_tokens: u64,
    /// Tokens of the answer, reasoning included
    pub completion_tokens: u64,
    /// Both
    pub total_tokens: u64,
    /// Tokens a reasoning model spent thinking, where the endpoint says
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
    /// True when the endpoint reported no usage and these are estimates (4 characters a token)
    pub estimated: bool,
}

impl UsageResult {
    fn reported(usage: &Usage) -> UsageResult {
        UsageResult {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            total_tokens: usage
                .total_tokens
                .max(usage.prompt_tokens + usage.completion_tokens),
            reasoning_tokens: usage.reasoning_tokens(),
            estimated: false,
        }
    }

    fn estimated(prompt_tokens: u64, completion_tokens: u64) -> UsageResult {
        UsageResult {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
            reasoning_tokens: None,
            estimated: true,
        }
    }
}

/// What this session has used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
pub struct SessionUsage {
    /// Tokens used by this session so far, this call included
    pub used_tokens: u64,
    /// The session's cap (OPENAI_MAX_TOKENS_PER_SESSION), if any
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_tokens: Option<u64>,
}

impl From<Standing> for SessionUsage {
    fn from(standing: Standing) -> SessionUsage {
        SessionUsage {
            used_tokens: standing.used,
            limit_tokens: standing.limit,
        }
    }
}

/// A chat answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ChatResult {
    /// The answer (cut to OPENAI_MAX_OUTPUT_CHARS, see truncated)
    pub text: String,
    /// The answer parsed, for json_object and json_schema (validated against the schema)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
    /// The model that answered
    pub model: String,
    /// stop (the answer is complete), length (cut at the token limit), content_filter, …
    pub finish_reason: String,
    /// Tokens used by this call
    pub usage: UsageResult,
    /// Tokens used by this session
    pub session: SessionUsage,
    /// What the server changed in the request for the model (e.g. parameters a reasoning model does not take)
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub adjustments: Vec<String>,
    /// Anything else worth knowing about this answer
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// True when text was cut to OPENAI_MAX_OUTPUT_CHARS
    pub truncated: bool,
}

/// Embedding vectors.
#[derive(Debug, Serialize, JsonSchema)]
pub struct EmbedResult {
    /// The model that embedded
    pub model: String,
    /// The length of each vector
    pub dimensions: usize,
    /// One vector per text, in the order given
    pub vectors: Vec<Vec<f32>>,
    /// Tokens used by this call
    pub usage: UsageResult,
    /// Tokens used by this session
    pub session: SessionUsage,
}

/// One model.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ModelInfo {
    /// The id to pass as model
    pub id: String,
    /// Who owns it, as the endpoint says
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owned_by: Option<String>,
    /// When it was created, Unix seconds
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<u64>,
    /// True for reasoning models (o-series, gpt-5 family), which take no temperature and count reasoning in max_tokens
    pub reasoning: bool,
}

/// The endpoint's models.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ModelsResult {
    /// The models, by id
    pub models: Vec<ModelInfo>,
    /// How many
    pub count: usize,
    /// The chat model used when a call names none (OPENAI_MODEL)
    pub default_model: String,
    /// The embedding model used when a call names none (OPENAI_EMBEDDING_MODEL)
    pub default_embedding_model: String,
}

/// The verdict on one text.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ModerationVerdict {
    /// Whether any category applies
    pub flagged: bool,
    /// The categories that apply
    pub categories: Vec<String>,
    /// The highest-scoring category and its score in 0..1
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_category: Option<String>,
    /// Its score
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_score: Option<f64>,
}

/// Moderation verdicts.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ModerateResult {
    /// The moderation model
    pub model: String,
    /// Whether any text was flagged
    pub flagged: bool,
    /// One verdict per text, in the order given
    pub results: Vec<ModerationVerdict>,
}

// ---------------------------------------------------------------------------------------------
// Tools

#[tool_router]
impl OpenAi {
    /// Ask the model: a prompt, optionally after earlier turns of a conversation (messages), with a system message, a model, temperature, max_tokens and a response format (text, json_object, or json_schema with a schema, whose answer is validated). Returns the text, the parsed JSON when asked for, the model, the finish reason and the token usage. Streams: with a progress token, the text so far arrives as progress notifications.
    #[tool(
        name = "chat",
        annotations(
            title = "Ask the model",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn chat(
        &self,
        Parameters(args): Parameters<ChatArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<ChatResult>, ToolError> {
        let prepared = self.prepare_chat(args)?;
        let mut request = prepared.request;
        let mut notes = prepared.notes;
        if let Provider::Local(local) = &self.api {
            let name = local.name();
            if request.model != name {
                notes.push(format!(
                    "the local provider has one model, {name}; `{}` was not used",
                    request.model
                ));
                request.model = name;
            }
        }
        let prompt_tokens: u64 = request
            .messages
            .iter()
            .map(|m| estimate_tokens(m.text()) + budget::TOKENS_PER_MESSAGE)
            .sum();
        let admission = self
            .budgets
            .admit(&session_of(&context), prompt_tokens, request.max_tokens)
            .map_err(ToolError::Refused)?;
        request.max_tokens = admission.answer_limit;
        notes.extend(admission.note);
        let mut adjustments = reasoning::adjust(&mut request);
        adjustments.extend(self.leave_out_refused(&mut request));

        let (sender, receiver) = mpsc::unbounded_channel();
        let forward = forward_progress(
            receiver,
            context.meta.get_progress_token(),
            context.peer.clone(),
        );
        let call = self.send_chat(request, sender);
        let outcome = tokio::select! {
            // Dropping the call drops its connection: the endpoint stops generating.
            _ = context.ct.cancelled() => None,
            (outcome, ()) = async { tokio::join!(call, forward) } => Some(outcome),
        };
        let Some((request, learned, outcome)) = outcome else {
            // The endpoint read the prompt: count it, the safe side for a budget.
            self.budgets.settle(admission.reservation, prompt_tokens);
            mcp_common::audit::note("cancelled", true);
            return Err(ToolError::Other(
                "cancelled by the client; the request to the endpoint was aborted".into(),
            ));
        };
        adjustments.extend(learned);
        let answer = match outcome {
            Ok(answer) => answer,
            Err(error) => {
                // A refusal cost nothing; anything else may have been read and billed.
                let spent = if error.refusal.is_some() {
                    0
                } else {
                    prompt_tokens
                };
                self.budgets.settle(admission.reservation, spent);
                if !adjustments.is_empty() {
                    mcp_common::audit::note("adjustments", adjustments);
                }
                return Err(ToolError::Backend(error.error));
            }
        };
        let usage = match &answer.usage {
            Some(usage) => UsageResult::reported(usage),
            None => UsageResult::estimated(prompt_tokens, estimate_tokens(&answer.text)),
        };
        let session = self
            .budgets
            .settle(admission.reservation, usage.total_tokens);
        let model = if answer.model.is_empty() {
            request.model.clone()
        } else {
            answer.model.clone()
        };
        mcp_common::audit::note("model", model.clone());
        mcp_common::audit::note("usage", serde_json::to_value(usage).unwrap_or(Value::Null));
        if !adjustments.is_empty() {
            mcp_common::audit::note("adjustments", adjustments.clone());
        }
        let finish_reason = answer
            .finish_reason
            .clone()
            .unwrap_or_else(|| "stop".into());
        mcp_common::audit::note("finish_reason", finish_reason.clone());
        // An answer that is not the JSON asked for is an error, which still says what it cost.
        let json = self
            .parse_answer(&prepared.format, &answer, &request, &mut notes)
            .map_err(|error| {
                ToolError::Other(format!(
                    "{}; the call used {} tokens ({} in this session)",
                    error.message(),
                    usage.total_tokens,
                    session.used
                ))
            })?;
        if finish_reason == "length" {
            let limit = request
                .token_limit()
                .map(|l| format!(" ({l} tokens)"))
                .unwrap_or_default();
            if answer.text.is_empty() && Family::of(&request.model).is_reasoning() {
                notes.push(format!("the model spent the whole token limit{limit} reasoning and wrote no answer: raise max_tokens"));
            } else {
                notes.push(format!(
                    "the answer was cut at the token limit{limit}: raise max_tokens for more"
                ));
            }
        }
        if let Some(refusal) = &answer.refusal {
            notes.push(format!("the model refused: {refusal}"));
        }
        let (text, truncated) = cap(&answer.text, self.max_output_chars);
        if truncated {
            notes.push(format!(
                "the answer is {} characters; only the first {} are returned (OPENAI_MAX_OUTPUT_CHARS)",
                answer.text.chars().count(),
                self.max_output_chars
            ));
        }
        Ok(Json(ChatResult {
            text,
            json,
            model,
            finish_reason,
            usage,
            session: session.into(),
            adjustments,
            notes,
            truncated,
        }))
    }

    /// Embed one text or many as vectors (for search, clustering, similarity), with an optional model and shorter dimensions. Returns one vector per text, in order, and the token usage.
    #[tool(
        name = "embed",
        annotations(
            title = "Embed texts",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn embed(
        &self,
        Parameters(args): Parameters<EmbedArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<EmbedResult>, ToolError> {
        let texts = texts_of("texts", args.texts)?;
        if args.dimensions == Some(0) {
            return Err(ToolError::invalid(
                "dimensions",
                "a whole number of at least 1",
            ));
        }
        let model = non_empty(args.model, "model")?.unwrap_or_else(|| self.embedding_model.clone());
        let tokens: u64 = texts.iter().map(|t| estimate_tokens(t)).sum();
        let reservation = self
            .budgets
            .admit_input(&session_of(&context), tokens)
            .map_err(ToolError::Refused)?;
        let request = EmbeddingRequest {
            model,
            input: texts,
            dimensions: args.dimensions,
            encoding_format: Some("float".into()),
        };
        let answer = match self.provider().embeddings(&request).await {
            Ok(answer) => answer,
            Err(error) => {
                let spent = if error.refusal.is_some() { 0 } else { tokens };
                self.budgets.settle(reservation, spent);
                return Err(ToolError::Backend(error.error));
            }
        };
        let usage = match &answer.usage {
            Some(usage) => UsageResult::reported(usage),
            None => UsageResult::estimated(tokens, 0),
        };
        let session = self.budgets.settle(reservation, usage.total_tokens);
        mcp_common::audit::note("model", answer.model.clone());
        mcp_common::audit::note("usage", serde_json::to_value(usage).unwrap_or(Value::Null));
        let vectors = ordered_vectors(answer.data, request.input.len()).map_err(|detail| {
            ToolError::Other(format!(
                "OpenAI at {} answered embeddings this server cannot use: {detail}",
                self.base_url
            ))
        })?;
        let dimensions = vectors.first().map_or(0, Vec::len);
        // About 10 characters per number in JSON.
        let size = vectors.len() * dimensions * 10;
        if size > self.max_output_chars {
            return Err(ToolError::Other(format!(
                "{} vectors of {dimensions} dimensions are about {size} characters, more than the {} a result may hold (OPENAI_MAX_OUTPUT_CHARS); pass fewer texts per call or a smaller `dimensions`",
                vectors.len(),
                self.max_output_chars
            )));
        }
        Ok(Json(EmbedResult {
            model: if answer.model.is_empty() {
                request.model
            } else {
                answer.model
            },
            dimensions,
            vectors,
            usage,
            session: session.into(),
        }))
    }

    /// List the models the endpoint serves, with which are reasoning models and the defaults this server uses.
    #[tool(
        name = "list_models",
        annotations(
            title = "List models",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn list_models(&self) -> Result<Json<ModelsResult>, ToolError> {
        let list = self
            .provider()
            .models()
            .await
            .map_err(|e| ToolError::Backend(e.error))?;
        let mut models: Vec<ModelInfo> = list
            .data
            .into_iter()
            .map(|m| ModelInfo {
                reasoning: Family::of(&m.id).is_reasoning(),
                id: m.id,
                owned_by: m.owned_by,
                created: m.created,
            })
            .collect();
        models.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Json(ModelsResult {
            count: models.len(),
            models,
            default_model: self.model.clone(),
            default_embedding_model: self.embedding_model.clone(),
        }))
    }

    /// Check one text or many with the endpoint's moderation model (OpenAI's omni-moderation): whether each is flagged and for which categories (harassment, hate, illicit, self-harm, sexual, violence, …). Endpoints without moderation say so.
    #[tool(
        name = "moderate",
        annotations(
            title = "Moderate texts",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn moderate(
        &self,
        Parameters(args): Parameters<ModerateArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<ModerateResult>, ToolError> {
        let input = texts_of("input", args.input)?;
        let model = non_empty(args.model, "model")?;
        let tokens: u64 = input.iter().map(|t| estimate_tokens(t)).sum();
        let reservation = self
            .budgets
            .admit_input(&session_of(&context), tokens)
            .map_err(ToolError::Refused)?;
        // OpenAI does not charge for moderation; nothing is counted against the budget.
        let outcome = self
            .provider()
            .moderations(&ModerationRequest { input, model })
            .await;
        self.budgets.settle(reservation, 0);
        let answer = outcome.map_err(|error| self.moderation_error(error))?;
        mcp_common::audit::note("model", answer.model.clone());
        let results: Vec<ModerationVerdict> = answer
            .results
            .into_iter()
            .map(|r| {
                let top = r
                    .category_scores
                    .iter()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .map(|(name, score)| (name.clone(), *score));
                ModerationVerdict {
                    flagged: r.flagged,
                    categories: r
                        .categories
                        .into_iter()
                        .filter(|(_, on)| *on)
                        .map(|(name, _)| name)
                        .collect(),
                    top_category: top.as_ref().map(|(name, _)| name.clone()),
                    top_score: top.map(|(_, score)| score),
                }
            })
            .collect();
        Ok(Json(ModerateResult {
            model: answer.model,
            flagged: results.iter().any(|r| r.flagged),
            results,
        }))
    }
}

// ---------------------------------------------------------------------------------------------
// Chat, step by step

/// A chat request built from the arguments, before budgets and model adjustments.
struct PreparedChat {
    request: ChatRequest,
    format: Format,
    notes: Vec<String>,
}

/// What the answer must be.
enum Format {
    Text,
    JsonObject,
    JsonSchema(Box<Schema>),
}

impl OpenAi {
    fn prepare_chat(&self, args: ChatArgs) -> Result<PreparedChat, ToolError> {
        let mut messages = Vec::new();
        if let Some(system) = non_empty(args.system, "system")? {
            messages.push(Message::new("system", system));
        }
        for (index, message) in args.messages.into_iter().flatten().enumerate() {
            if message.content.trim().is_empty() {
                return Err(ToolError::invalid(
                    format!("messages[{index}].content"),
                    "text that is not empty",
                ));
            }
            messages.push(Message::new(message.role.name(), message.content));
        }
        if args.prompt.trim().is_empty() {
            return Err(ToolError::invalid("prompt", "a message that is not empty"));
        }
        messages.push(Message::new("user", args.prompt));
        let model = non_empty(args.model, "model")?.unwrap_or_else(|| self.model.clone());
        let mut request = ChatRequest::new(model, messages);
        if let Some(temperature) = args.temperature {
            if !(0.0..=2.0).contains(&temperature) {
                return Err(ToolError::invalid("temperature", "a number from 0 to 2"));
            }
            request.temperature = Some(temperature);
        }
        if let Some(top_p) = args.top_p {
            if !(0.0..=1.0).contains(&top_p) {
                return Err(ToolError::invalid("top_p", "a number from 0 to 1"));
            }
            request.top_p = Some(top_p);
        }
        if args.max_tokens == Some(0) {
            return Err(ToolError::invalid(
                "max_tokens",
                "a whole number of at least 1",
            ));
        }
        request.max_tokens = args.max_tokens;
        let mut notes = Vec::new();
        let format = match args.response_format {
            None => Format::Text,
            Some(format) => self.response_format(format, &mut request, &mut notes)?,
        };
        Ok(PreparedChat {
            request,
            format,
            notes,
        })
    }

    fn response_format(
        &self,
        format: ResponseFormatArg,
        request: &mut ChatRequest,
        notes: &mut Vec<String>,
    ) -> Result<Format, ToolError> {
        match format.kind {
            FormatKind::Text => {
                if format.schema.is_some() {
                    return Err(ToolError::invalid(
                        "response_format.type",
                        "json_schema when a schema is given",
                    ));
                }
                Ok(Format::Text)
            }
            FormatKind::JsonObject => {
                // OpenAI refuses json_object unless the conversation mentions JSON.
                let mentions_json = request
                    .messages
                    .iter()
                    .any(|m| m.text().to_lowercase().contains("json"));
                if !mentions_json {
                    request
                        .messages
                        .insert(0, Message::new("system", "Answer with a JSON object."));
                    notes.push("a system message asking for a JSON object was added, as OpenAI requires for json_object".into());
                }
                request.response_format = Some(ResponseFormat::JsonObject);
                Ok(Format::JsonObject)
            }
            FormatKind::JsonSchema => {
                let Some(text) = format.schema else {
                    return Err(ToolError::invalid(
                        "response_format.schema",
                        "a JSON Schema (as JSON text) when type is json_schema",
                    ));
                };
                let schema: Value = serde_json::from_str(&text).map_err(|e| {
                    ToolError::invalid(
                        "response_format.schema",
                        format!("a JSON Schema as JSON text ({e})"),
                    )
                })?;
                let compiled = Schema::compile(&schema)
                    .map_err(|expected| ToolError::invalid("response_format.schema", expected))?;
                let name = format.name.unwrap_or_else(|| "answer".into());
                let valid_name = (1..=64).contains(&name.len())
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                if !valid_name {
                    return Err(ToolError::invalid(
                        "response_format.name",
                        "1 to 64 letters, digits, _ or -",
                    ));
                }
                let strict = match format.strict {
                    Some(strict) => strict,
                    None => {
                        let (strict, note) = structured::strict_mode(&schema);
                        notes.extend(note);
                        strict
                    }
                };
                request.response_format = Some(ResponseFormat::JsonSchema {
                    json_schema: JsonSchemaFormat {
                        name,
                        schema,
                        strict: Some(strict),
                    },
                });
                Ok(Format::JsonSchema(Box::new(compiled)))
            }
        }
    }

    /// Leaves out what the endpoint refused before for this model.
    fn leave_out_refused(&self, request: &mut ChatRequest) -> Vec<String> {
        let known: Vec<String> = self
            .refused
            .lock()
            .map(|r| r.get(&request.model).cloned().unwrap_or_default())
            .unwrap_or_default();
        known
            .iter()
            .filter_map(|param| reasoning::adjust_for_refusal(request, param))
            .collect()
    }

    /// Sends the chat; a 400 refusing a parameter the model does not take is answered by
    /// sending again without it (remembered for the model), at most a few times.
    async fn send_chat(
        &self,
        mut request: ChatRequest,
        events: mpsc::UnboundedSender<StreamEvent>,
    ) -> (ChatRequest, Vec<String>, Result<ChatAnswer, CallError>) {
        let mut learned = Vec::new();
        loop {
            let outcome = self.provider().chat(&request, &events).await;
            let parameter = match &outcome {
                Err(error) if learned.len() < MAX_REFUSAL_ADJUSTMENTS => {
                    error.unsupported_parameter().map(str::to_owned)
                }
                _ => None,
            };
            let note = parameter
                .as_deref()
                .and_then(|p| reasoning::adjust_for_refusal(&mut request, p));
            match (parameter, note) {
                (Some(parameter), Some(note)) => {
                    if let Ok(mut refused) = self.refused.lock() {
                        refused
                            .entry(request.model.clone())
                            .or_default()
                            .push(parameter);
                    }
                    learned.push(note);
                }
                _ => return (request, learned, outcome),
            }
        }
    }

    /// The parsed JSON of a json_object or json_schema answer, checked; `None` for text.
    fn parse_answer(
        &self,
        format: &Format,
        answer: &ChatAnswer,
        request: &ChatRequest,
        notes: &mut Vec<String>,
    ) -> Result<Option<Value>, ToolError> {
        if matches!(format, Format::Text) || answer.refusal.is_some() {
            return Ok(None);
        }
        let value: Value = match serde_json::from_str(&answer.text) {
            Ok(value) => value,
            Err(_) if answer.finish_reason.as_deref() == Some("length") => {
                let limit = request
                    .token_limit()
                    .map(|l| format!(" of {l} tokens"))
                    .unwrap_or_default();
                return Err(ToolError::Other(format!(
                    "the model's answer was cut at the token limit{limit} before its JSON was complete: raise max_tokens"
                )));
            }
            Err(error) => {
                return Err(ToolError::Other(format!(
                    "the model's answer is not JSON ({error}); it begins: {}",
                    cap(&answer.text, 200).0
                )));
            }
        };
        match format {
            Format::Text => {}
            Format::JsonObject if !value.is_object() => {
                return Err(ToolError::Other(format!(
                    "the model's answer is JSON but not an object: {}",
                    cap(&answer.text, 200).0
                )));
            }
            Format::JsonObject => {}
            Format::JsonSchema(schema) => {
                schema.check(&value).map_err(|violations| {
                    ToolError::Other(format!(
                        "the model's answer does not match the schema: {violations}"
                    ))
                })?;
            }
        }
        let size = value.to_string().len();
        if size > self.max_output_chars {
            notes.push(format!(
                "the parsed JSON ({size} characters) is left out because it is longer than OPENAI_MAX_OUTPUT_CHARS ({}); it is in text",
                self.max_output_chars
            ));
            return Ok(None);
        }
        Ok(Some(value))
    }

    fn moderation_error(&self, error: CallError) -> ToolError {
        let unsupported = error.refusal.as_ref().is_some_and(|r| {
            matches!(r.status, 404 | 405 | 501)
                && r.error.as_ref().and_then(|e| e.code.as_deref()) != Some("model_not_found")
        });
        if unsupported {
            let status = error.refusal.as_ref().map_or(404, |r| r.status);
            return ToolError::Other(format!(
                "moderation is not supported by this endpoint: {}/moderations answered HTTP {status}; OpenAI's own API (https://api.openai.com/v1) has it",
                self.base_url
            ));
        }
        ToolError::Backend(error.error)
    }
}

/// Sends the text so far as progress notifications while the answer streams, when the client
/// asked for progress; ends when the call drops its sender.
async fn forward_progress(
    mut events: mpsc::UnboundedReceiver<StreamEvent>,
    token: Option<ProgressToken>,
    peer: Peer<RoleServer>,
) {
    let Some(token) = token else {
        return;
    };
    let mut text = String::new();
    // Counts pieces over every attempt, so progress only grows, as the protocol requires.
    let mut pieces: u64 = 0;
    while let Some(event) = events.recv().await {
        apply(event, &mut text, &mut pieces);
        // Whatever else has arrived meanwhile goes in the same notification.
        while let Ok(event) = events.try_recv() {
            apply(event, &mut text, &mut pieces);
        }
        if text.is_empty() {
            continue;
        }
        let shown = tail(&text, PROGRESS_CHARS);
        let _ = peer
            .notify_progress(
                ProgressNotificationParam::new(token.clone(), pieces as f64).with_message(shown),
            )
            .await;
    }
}

fn apply(event: StreamEvent, text: &mut String, pieces: &mut u64) {
    match event {
        StreamEvent::Restart => text.clear(),
        StreamEvent::Delta(delta) => {
            text.push_str(&delta);
            *pieces += 1;
        }
    }
}

/// The session a call belongs to for the budget: the HTTP session, else the token holder, else
/// the transport (over stdio, the process is the session).
fn session_of(context: &RequestContext<RoleServer>) -> String {
    let caller = Caller::of(context);
    caller
        .session
        .map(|s| http_session_key(&s))
        .or_else(|| caller.principal.map(|p| format!("principal {p}")))
        .unwrap_or_else(|| caller.transport.to_owned())
}

/// The budget key of an HTTP session.
fn http_session_key(session: &str) -> String {
    format!("session {session}")
}

/// `text` cut to `max` characters, and whether it was.
fn cap(text: &str, max: usize) -> (String, bool) {
    match text.char_indices().nth(max) {
        Some((end, _)) => (text[..end].to_owned(), true),
        None => (text.to_owned(), false),
    }
}

/// The last `max` characters of `text`, marked when cut.
fn tail(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_owned();
    }
    let start = text
        .char_indices()
        .nth(count - max)
        .map_or(0, |(index, _)| index);
    format!("…{}", &text[start..])
}

fn texts_of(field: &str, texts: Texts) -> Result<Vec<String>, ToolError> {
    let texts = texts.into_vec();
    if texts.is_empty() || texts.len() > MAX_TEXTS {
        return Err(ToolError::invalid(
            field,
            format!("a text or a list of 1 to {MAX_TEXTS} texts"),
        ));
    }
    if let Some(index) = texts.iter().position(|t| t.trim().is_empty()) {
        return Err(ToolError::invalid(
            format!("{field}[{index}]"),
            "text that is not empty",
        ));
    }
    Ok(texts)
}

fn non_empty(value: Option<String>, field: &str) -> Result<Option<String>, ToolError> {
    match value {
        Some(text) if text.trim().is_empty() => Err(ToolError::invalid(
            field,
            "text that is not empty, or leave it out",
        )),
        other => Ok(other),
    }
}

#[tool_handler(router = self.tools)]
impl ServerHandler for OpenAi {
    fn get_info(&self) -> ServerConfig {
        let instructions = match &self.api {
            Provider::Local(local) => format!(
                "A small language model ({}) running in this process on the CPU: no key, no network, the local provider. Use chat to ask it; a json_schema or json_object response format is held to its schema while the model writes, so the JSON always parses and matches. It is a 135M-parameter model: good for short, simple answers and for filling a schema, not for facts or reasoning. embed and moderate are not available with the local provider (point OPENAI_BASE_URL at an endpoint for them). Every result reports its token usage.",
                local.name()
            ),
            Provider::Endpoint(_) => format!(
                "A language model behind the OpenAI-compatible endpoint {} (default chat model {}, embedding model {}). Use chat to ask it (a json_schema response format returns validated JSON), embed for vectors, list_models for what it serves, moderate to check texts. Reasoning models (o-series, gpt-5) take no temperature: the server adjusts the request and says so. Every result reports its token usage.",
                self.base_url, self.model, self.embedding_model
            ),
        };
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_instructions(instructions)
    }
}

impl Domain for OpenAi {
    fn tools(&self) -> Vec<Tool> {
        self.tools.list_all()
    }

    fn session_ended(&self, session: &str) {
        self.budgets.forget(&http_session_key(session));
    }

    fn probes(&self) -> Vec<Probe> {
        let api = self.api.clone();
        let base_url = self.base_url.clone();
        vec![Probe::new("openai", move || {
            let api = api.clone();
            let base_url = base_url.clone();
            async move {
                match &api {
                    Provider::Local(local) => match local.model().await {
                        Ok(model) => Ok(format!(
                            "local provider: {} loaded in this process from {}",
                            model.model().name(),
                            local.path().display()
                        )),
                        Err(error) => Err(format!("local provider: {error}")),
                    },
                    Provider::Endpoint(_) => match api.models().await {
                        Ok(list) => Ok(format!("{} models at {base_url}", list.data.len())),
                        Err(error) => Err(ToolError::Backend(error.error).message()),
                    },
                }
            }
        })]
    }

    fn tool_timeout(&self, tool: &str) -> Option<Duration> {
        // A chat streams for as long as the model writes, reporting progress meanwhile.
        (tool == "chat").then_some(self.chat_timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_cut_on_character_boundaries() {
        assert_eq!(cap("héllo", 2), ("hé".to_owned(), true));
        assert_eq!(cap("héllo", 5), ("héllo".to_owned(), false));
        assert_eq!(tail("abcdef", 3), "…def");
        assert_eq!(tail("ab", 3), "ab");
    }

    #[test]
    fn texts_are_checked_with_the_field_named() {
        assert_eq!(texts_of("texts", Texts::One("a".into())).unwrap(), ["a"]);
        let empty = texts_of("texts", Texts::Many(vec!["a".into(), " ".into()])).unwrap_err();
        assert_eq!(
            empty.message(),
            "invalid argument `texts[1]`: expected text that is not empty"
        );
        assert!(texts_of("input", Texts::Many(Vec::new())).is_err());
    }
}
