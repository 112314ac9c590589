//! The model behind async callers (mcp-openai's local provider, mcp-agent): one generation at a
//! time on a blocking thread, its text handed to the caller as it is decided, and stopped at the
//! next token when the caller's future is dropped (a cancelled or timed-out call).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::{Finish, GenerateError, JsonGuide, LocalModel, Output, Request, Turn};

/// What to generate, owned, since the blocking thread may outlive the caller.
#[derive(Debug, Clone)]
pub struct Job {
    /// The conversation, oldest first.
    pub turns: Vec<Turn>,
    /// The most tokens to generate.
    pub max_tokens: usize,
    /// 0 for greedy decoding.
    pub temperature: f64,
    /// Constrains the answer to JSON of this shape.
    pub guide: Option<JsonGuide>,
}

/// A loaded model shared by async callers.
#[derive(Debug)]
pub struct SharedModel {
    model: Arc<LocalModel>,
    /// On a few cores, two generations at once only slow each other down.
    turn: tokio::sync::Mutex<()>,
}

impl SharedModel {
    /// Shares `model`.
    pub fn new(model: LocalModel) -> SharedModel {
        SharedModel {
            model: Arc::new(model),
            turn: tokio::sync::Mutex::new(()),
        }
    }

    /// The model.
    pub fn model(&self) -> &LocalModel {
        &self.model
    }

    /// Generates `job` after any generation already running, handing each piece of text to
    /// `on_text`. Dropping the future stops the generation at its next token.
    pub async fn generate(
        &self,
        job: Job,
        on_text: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Output, GenerateError> {
        let _turn = self.turn.lock().await;
        let cancel = Arc::new(AtomicBool::new(false));
        let _stop = StopOnDrop(cancel.clone());
        let (pieces, mut received) = tokio::sync::mpsc::unbounded_channel::<String>();
        let model = self.model.clone();
        let mut generation = tokio::task::spawn_blocking(move || {
            let request = Request {
                turns: &job.turns,
                max_tokens: job.max_tokens,
                temperature: job.temperature,
                seed: 0,
                guide: job.guide.as_ref(),
            };
            let output = model.generate(&request, &cancel, &mut |piece| {
                let _ = pieces.send(piece.to_owned());
            });
            // Said here: a caller that cancelled is gone and will not read the result.
            if let Ok(output) = &output
                && output.finish == Finish::Cancelled
            {
                tracing::info!(
                    tokens = output.completion_tokens,
                    "local generation cancelled"
                );
            }
            output
        });
        let joined = loop {
            tokio::select! {
                Some(piece) = received.recv() => on_text(&piece),
                joined = &mut generation => break joined,
            }
        };
        // Pieces sent just before the end.
        while let Ok(piece) = received.try_recv() {
            on_text(&piece);
        }
        joined.map_err(|e| GenerateError::Model(format!("the generation stopped: {e}")))?
    }
}

/// Sets the flag when dropped; the generating thread reads it before every token.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
