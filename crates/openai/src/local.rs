//! The `local` provider: the small chat model of the `local-model` crate, run in this process,
//! answering the same requests the endpoint client sends (chat only; embeddings and moderation
//! are not something a 135M chat model can do, and say so).
//!
//! The model loads in the background from start-up, so `initialize` is not held up; the first
//! chat waits for it. One generation runs at a time: on a few cores, two at once only slow
//! each other down.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use local_model::{GenerateError, Job, JsonGuide, Limits, LocalModel, SharedModel, Turn};
use mcp_common::{BackendError, Failure, FailureKind};
use openai_compat::wire::{
    ChatRequest, EmbeddingRequest, EmbeddingResponse, ModelEntry, ModelList, ModerationRequest,
    ModerationResponse, ResponseFormat, Usage,
};
use tokio::sync::OnceCell;
use tokio::sync::mpsc::UnboundedSender;

use crate::client::{CallError, ChatAnswer, StreamEvent};

/// Answer length when a call sets none: enough for a paragraph or a small JSON document, short
/// enough for a small model not to ramble for a minute.
const DEFAULT_MAX_TOKENS: usize = 512;

/// What the service is called in errors.
const SERVICE: &str = "the local model";

/// The in-process model.
#[derive(Clone)]
pub struct LocalChat {
    path: PathBuf,
    loaded: Arc<OnceCell<Result<Arc<SharedModel>, String>>>,
}

impl std::fmt::Debug for LocalChat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalChat")
            .field("path", &self.path)
            .finish()
    }
}

impl LocalChat {
    /// Starts loading the model at `path` in the background.
    pub fn start(path: PathBuf) -> LocalChat {
        let local = LocalChat {
            path,
            loaded: Arc::new(OnceCell::new()),
        };
        let early = local.clone();
        tokio::spawn(async move {
            let _ = early.model().await;
        });
        local
    }

    /// The model file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The model's name, from its file name.
    pub fn name(&self) -> String {
        local_model::model_name(&self.path)
    }

    /// The loaded model, waiting for the load; the load's error otherwise.
    pub async fn model(&self) -> Result<Arc<SharedModel>, String> {
        self.loaded
            .get_or_init(|| async {
                let path = self.path.clone();
                let started = std::time::Instant::now();
                let loaded = tokio::task::spawn_blocking(move || LocalModel::load(&path))
                    .await
                    .map_err(|e| format!("loading stopped: {e}"))
                    .and_then(|r| r.map_err(|e| e.to_string()));
                match &loaded {
                    Ok(model) => tracing::info!(
                        model = model.name(),
                        millis = started.elapsed().as_millis() as u64,
                        "local model loaded"
                    ),
                    Err(error) => tracing::error!(%error, "local model not loaded"),
                }
                loaded.map(|model| Arc::new(SharedModel::new(model)))
            })
            .await
            .clone()
    }

    /// The one model, as `GET /models` would list it.
    pub async fn models(&self) -> Result<ModelList, CallError> {
        let model = self.model().await.map_err(|e| self.failed("loading", e))?;
        Ok(ModelList {
            data: vec![ModelEntry {
                id: model.model().name().to_owned(),
                owned_by: Some("local".into()),
                created: None,
            }],
        })
    }

    /// Not something a small chat model does.
    pub async fn embeddings(
        &self,
        _request: &EmbeddingRequest,
    ) -> Result<EmbeddingResponse, CallError> {
        Err(self.unsupported(
            "embeddings",
            "the local provider runs a chat model only; for embeddings set OPENAI_BASE_URL to an endpoint that serves them (Ollama, vLLM, OpenAI)",
        ))
    }

    /// Not something a small chat model does.
    pub async fn moderations(
        &self,
        _request: &ModerationRequest,
    ) -> Result<ModerationResponse, CallError> {
        Err(self.unsupported(
            "moderations",
            "moderation is not supported by this endpoint: the local provider runs a chat model only",
        ))
    }

    /// Generates the answer to `request`, each piece of text going to `events` as it is
    /// decided. Dropping the future stops the generation at the next token.
    pub async fn chat(
        &self,
        request: &ChatRequest,
        events: &UnboundedSender<StreamEvent>,
    ) -> Result<ChatAnswer, CallError> {
        let model = self.model().await.map_err(|e| self.failed("chat", e))?;
        let guide = match &request.response_format {
            None | Some(ResponseFormat::Text) => None,
            Some(ResponseFormat::JsonObject) => Some(JsonGuide::any_object(Limits::default())),
            Some(ResponseFormat::JsonSchema { json_schema }) => Some(
                JsonGuide::from_schema(&json_schema.schema, Limits::default()).map_err(|e| {
                    self.refused(
                        "chat",
                        format!("the local model cannot hold its answer to this schema: {e}"),
                        "simplify response_format.schema (objects, arrays, strings, numbers, booleans, enums, anyOf and local $refs are supported)",
                    )
                })?,
            ),
        };
        let turns = turns_of(request);
        let max_tokens = request.token_limit().map_or(DEFAULT_MAX_TOKENS, |n| {
            usize::try_from(n).unwrap_or(usize::MAX)
        });
        let temperature = request.temperature.unwrap_or(0.0);
        let _ = events.send(StreamEvent::Restart);
        let job = Job {
            turns,
            max_tokens,
            temperature,
            guide,
        };
        let output = model
            .generate(job, &mut |text| {
                let _ = events.send(StreamEvent::Delta(text.to_owned()));
            })
            .await;
        let name = model.model().name().to_owned();
        let output = output.map_err(|e| match e {
            GenerateError::TooLong { .. } => self.refused(
                "chat",
                e.to_string(),
                "the local model is small: send a shorter conversation",
            ),
            other => self.failed("chat", other.to_string()),
        })?;
        tracing::debug!(
            prompt_tokens = output.prompt_tokens,
            completion_tokens = output.completion_tokens,
            prompt_ms = output.prompt_time.as_millis() as u64,
            generation_ms = output.generation_time.as_millis() as u64,
            "local generation"
        );
        let finish_reason = output.finish.reason();
        let (prompt, completion) = (output.prompt_tokens as u64, output.completion_tokens as u64);
        Ok(ChatAnswer {
            text: output.text,
            refusal: None,
            model: name,
            finish_reason: Some(finish_reason.into()),
            usage: Some(Usage {
                prompt_tokens: prompt,
                completion_tokens: completion,
                total_tokens: prompt + completion,
                ..Usage::default()
            }),
        })
    }

    fn error(&self, operation: &str, failure: Failure) -> CallError {
        CallError {
            error: BackendError {
                service: SERVICE.into(),
                endpoint: self.path.display().to_string().into(),
                operation: operation.into(),
                failure: Some(Box::new(failure)),
                attempts: 1,
                hint: "check OPENAI_LOCAL_MODEL: it must be a llama-family GGUF chat model such as SmolLM2-135M-Instruct (`just local-model` installs it)".into(),
                maybe_applied: false,
                open_for: None,
                deadline_reached: false,
            },
            refusal: None,
        }
    }

    fn failed(&self, operation: &str, detail: String) -> CallError {
        self.error(operation, Failure::new(FailureKind::Misconfigured, detail))
    }

    fn refused(&self, operation: &str, detail: String, hint: &str) -> CallError {
        self.error(
            operation,
            Failure::new(FailureKind::Rejected, detail).with_hint(hint),
        )
    }

    fn unsupported(&self, operation: &str, detail: &str) -> CallError {
        self.refused(
            operation,
            format!("not supported by this endpoint ({})", self.name()),
            detail,
        )
    }
}

/// The conversation as the model's turns. A JSON answer's schema goes into the system message,
/// so that the model knows what the fields mean while the guide keeps it to their shape.
fn turns_of(request: &ChatRequest) -> Vec<Turn> {
    let mut turns: Vec<Turn> = request
        .messages
        .iter()
        .map(|m| Turn::from_chat(&m.role, m.text()))
        .collect();
    let instruction = match &request.response_format {
        Some(ResponseFormat::JsonSchema { json_schema }) => Some(format!(
            "Answer with JSON only, matching this JSON Schema: {}",
            json_schema.schema
        )),
        Some(ResponseFormat::JsonObject) => Some("Answer with a JSON object only.".to_owned()),
        _ => None,
    };
    if let Some(instruction) = instruction {
        match turns.iter_mut().find(|t| t.role == "system") {
            Some(system) => {
                system.content.push_str("\n\n");
                system.content.push_str(&instruction);
            }
            None => turns.insert(0, Turn::new("system", instruction)),
        }
    }
    turns
}
