//! The model in this process: the `local-model` crate's small chat model (the one mcp-openai's
//! local provider runs), used when no endpoint is configured. It has no tool role, so the loop
//! speaks the JSON protocol to it, and its replies are constrained to that protocol: every reply
//! is a JSON object naming a real tool with arguments of that tool's shape, or an answer.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use local_model::{Finish, JsonGuide, LocalModel, Request, Turn};
use openai_compat::wire::{Message, Usage};

use crate::chat::{ModelError, ModelTurn, TextSink};

/// The longest reply: a tool call or a short answer.
const MAX_REPLY_TOKENS: usize = 384;

/// The loaded model.
#[derive(Debug, Clone)]
pub struct LocalClient {
    model: Arc<LocalModel>,
    path: PathBuf,
    /// One generation at a time: two at once on a few cores only slow each other down.
    turn: Arc<tokio::sync::Mutex<()>>,
}

impl LocalClient {
    /// Loads the model at `path` (blocking: about a second).
    pub fn load(path: &Path) -> Result<LocalClient, ModelError> {
        let model = LocalModel::load(path).map_err(|e| ModelError::Unreachable {
            url: path.display().to_string(),
            cause: e.to_string(),
            kind: mcp_common::FailureKind::Misconfigured,
        })?;
        Ok(LocalClient {
            model: Arc::new(model),
            path: path.to_owned(),
            turn: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// The model's name.
    pub fn name(&self) -> &str {
        self.model.name()
    }

    /// Where it was loaded from, in place of an endpoint's URL.
    pub fn location(&self) -> String {
        format!("local:{}", self.path.display())
    }

    /// The next assistant message after `messages`, held to `guide` when there is one; text
    /// goes to `on_text` as it is decided. Dropping the future stops the generation.
    pub async fn complete(
        &self,
        messages: &[Message],
        guide: Option<&JsonGuide>,
        on_text: Option<&TextSink<'_>>,
    ) -> Result<ModelTurn, ModelError> {
        let turns: Vec<Turn> = messages
            .iter()
            .map(|m| {
                // The model knows system, user and assistant; a tool's answer reads as a user turn.
                let role = match m.role.as_str() {
                    "developer" => "system",
                    "tool" => "user",
                    other => other,
                };
                Turn::new(role, m.text())
            })
            .collect();
        let guide = guide.cloned();
        let model = self.model.clone();
        let _turn = self.turn.lock().await;
        let cancel = Arc::new(AtomicBool::new(false));
        let _stop = StopOnDrop(cancel.clone());
        let (pieces, mut received) = tokio::sync::mpsc::unbounded_channel::<String>();
        let mut generation = tokio::task::spawn_blocking(move || {
            let request = Request {
                turns: &turns,
                max_tokens: MAX_REPLY_TOKENS,
                temperature: 0.0,
                seed: 0,
                guide: guide.as_ref(),
            };
            model.generate(&request, &cancel, &mut |piece| {
                let _ = pieces.send(piece.to_owned());
            })
        });
        let joined = loop {
            tokio::select! {
                Some(piece) = received.recv() => {
                    if let Some(on_text) = on_text {
                        on_text(&piece);
                    }
                }
                joined = &mut generation => break joined,
            }
        };
        // Pieces sent just before the end.
        while let Ok(piece) = received.try_recv() {
            if let Some(on_text) = on_text {
                on_text(&piece);
            }
        }
        let output = joined
            .map_err(|e| ModelError::GaveUp(format!("the local model stopped: {e}")))?
            .map_err(|e| ModelError::Malformed {
                url: self.location(),
                cause: e.to_string(),
            })?;
        let (prompt, completion) = (output.prompt_tokens as u64, output.completion_tokens as u64);
        Ok(ModelTurn {
            message: Message::new("assistant", output.text),
            finish_reason: Some(
                match output.finish {
                    Finish::Stop => "stop",
                    Finish::Length => "length",
                    Finish::Cancelled => "cancelled",
                }
                .to_owned(),
            ),
            usage: Some(Usage {
                prompt_tokens: prompt,
                completion_tokens: completion,
                total_tokens: prompt + completion,
                ..Usage::default()
            }),
        })
    }
}

/// Sets the flag when dropped, which the generating thread reads before every token.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
