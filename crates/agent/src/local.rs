//! The model in this process: the `local-model` crate's small chat model (the one mcp-openai's
//! local provider runs), used when no endpoint is configured. It has no tool role, so the loop
//! speaks the JSON protocol to it, and its replies are constrained to that protocol: every reply
//! is a JSON object naming a real tool with arguments of that tool's shape, or an answer.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use local_model::{Job, JsonGuide, LocalModel, SharedModel, Turn};
use openai_compat::wire::{Message, Usage};

use crate::chat::{ModelError, ModelTurn, TextSink};

/// The longest reply: a tool call or a short answer.
const MAX_REPLY_TOKENS: usize = 384;

/// The loaded model.
#[derive(Debug, Clone)]
pub struct LocalClient {
    model: Arc<SharedModel>,
    path: PathBuf,
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
            model: Arc::new(SharedModel::new(model)),
            path: path.to_owned(),
        })
    }

    /// The model's name.
    pub fn name(&self) -> &str {
        self.model.model().name()
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
        let job = Job {
            turns: messages
                .iter()
                .map(|m| Turn::from_chat(&m.role, m.text()))
                .collect(),
            max_tokens: MAX_REPLY_TOKENS,
            temperature: 0.0,
            guide: guide.cloned(),
        };
        let output = self
            .model
            .generate(job, &mut |piece| {
                if let Some(on_text) = on_text {
                    on_text(piece);
                }
            })
            .await
            .map_err(|e| ModelError::Malformed {
                url: self.location(),
                cause: e.to_string(),
            })?;
        let (prompt, completion) = (output.prompt_tokens as u64, output.completion_tokens as u64);
        Ok(ModelTurn {
            message: Message::new("assistant", output.text),
            finish_reason: Some(output.finish.reason().to_owned()),
            usage: Some(Usage {
                prompt_tokens: prompt,
                completion_tokens: completion,
                total_tokens: prompt + completion,
                ..Usage::default()
            }),
        })
    }
}
