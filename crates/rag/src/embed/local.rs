//! all-MiniLM-L6-v2 in-process: BERT on the CPU ([`super::bert`]), a pure-Rust tokenizer, mean
//! pooling over real tokens and L2 normalisation, which reproduces sentence-transformers' output.
//!
//! The model is found in `RAG_MODEL_DIR`, else in the data directory, else downloaded there once
//! from the Hugging Face Hub; without any, [`resolve`] answers "no embedder" with a note.

use std::cmp::Reverse;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::BoxFuture;
use tokenizers::{Tokenizer, TruncationParams};
use tokio::io::AsyncWriteExt;

use super::bert::{BertConfig, Encoder};
use super::{EmbedConfig, EmbedError, Embedder, Embedding, Resolution, prefixed, root_cause};
use crate::model::EmbedderId;

/// The model's name, as stored in [`EmbedderId::model`].
pub const MODEL_NAME: &str = "all-MiniLM-L6-v2";

/// Its repository on the Hugging Face Hub.
pub const HF_REPO: &str = "sentence-transformers/all-MiniLM-L6-v2";

/// The Hub used when `RAG_HF_ENDPOINT` is not set.
pub const DEFAULT_HF_ENDPOINT: &str = "https://huggingface.co";

/// The files the model needs, all at the top of its directory.
pub const MODEL_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

/// The model's `max_seq_length` in sentence-transformers: longer texts are cut there, as the
/// published vectors were computed. (The packaged tokenizer.json says 128, which is not what
/// sentence-transformers uses.)
const MAX_TOKENS: usize = 256;

/// Short, so that an offline start-up falls back to lexical-only quickly.
const DOWNLOAD_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest silence while a file is being received.
const DOWNLOAD_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Cap on one downloaded file (model.safetensors is 91 MB), so that a wrong endpoint cannot fill
/// the disk.
const MAX_DOWNLOAD_BYTES: u64 = 1 << 30;

/// all-MiniLM-L6-v2 running in this process.
pub struct LocalEmbedder {
    id: EmbedderId,
    model: Arc<Model>,
    batch: usize,
    /// One forward pass at a time: each pass already uses every core, parallel passes only slow
    /// each other down, and taking turns per batch lets a query slip in between the batches of a
    /// large ingest.
    turn: Arc<tokio::sync::Mutex<()>>,
    query_prefix: String,
    document_prefix: String,
    dir: PathBuf,
}

/// The loaded weights and tokenizer.
struct Model {
    encoder: Encoder,
    tokenizer: Tokenizer,
}

impl LocalEmbedder {
    /// Loads the model from a directory holding [`MODEL_FILES`], embedding up to `batch` texts
    /// per forward pass. Blocking (about 0.1 s with the files in the page cache, longer from a
    /// cold disk): call it from a blocking thread in async code.
    pub fn load(dir: &Path, batch: usize) -> Result<Self, EmbedError> {
        let model = Model::load(
            &dir.join(MODEL_FILES[0]),
            &dir.join(MODEL_FILES[1]),
            &dir.join(MODEL_FILES[2]),
        )
        .map_err(|detail| EmbedError::ModelFiles {
            model: MODEL_NAME.into(),
            dir: dir.to_owned(),
            detail,
            hint: "put the files of sentence-transformers/all-MiniLM-L6-v2 there (a model in the data directory is downloaded again once its directory is deleted)".into(),
        })?;
        Ok(LocalEmbedder::new(model, dir, batch))
    }

    fn new(model: Model, dir: &Path, batch: usize) -> Self {
        LocalEmbedder {
            id: EmbedderId {
                provider: "local".into(),
                model: MODEL_NAME.into(),
                dimension: model.dimension(),
            },
            model: Arc::new(model),
            batch: batch.max(1),
            turn: Arc::new(tokio::sync::Mutex::new(())),
            query_prefix: String::new(),
            document_prefix: String::new(),
            dir: dir.to_owned(),
        }
    }

    /// Puts `query_prefix` (or `document_prefix`) and a space before each text; empty for none.
    pub fn with_prefixes(mut self, query_prefix: &str, document_prefix: &str) -> Self {
        self.query_prefix = query_prefix.to_owned();
        self.document_prefix = document_prefix.to_owned();
        self
    }

    /// The directory the model was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Embeds one batch on a blocking thread, after the batches before it.
    async fn run(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        let turn = Arc::clone(&self.turn).lock_owned().await;
        let model = Arc::clone(&self.model);
        let count = texts.len();
        let outcome = tokio::task::spawn_blocking(move || {
            // Held until the pass really ends, even if the caller stops waiting for it.
            let _turn = turn;
            model.embed(texts)
        })
        .await;
        let failed = |detail: String| EmbedError::Local {
            model: MODEL_NAME.into(),
            detail,
        };
        match outcome {
            Ok(Ok(vectors)) if vectors.len() == count => Ok(vectors),
            Ok(Ok(vectors)) => Err(failed(format!(
                "{} vectors came out for {count} texts",
                vectors.len()
            ))),
            Ok(Err(detail)) => Err(failed(detail)),
            Err(join) => Err(failed(format!("the embedding task stopped: {join}"))),
        }
    }

    async fn embed_all(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        // Texts of similar length go together, so that attention, which runs one text per core,
        // keeps the cores equally busy.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&idx| Reverse(texts[idx].len()));
        let mut vectors = vec![Vec::new(); texts.len()];
        for batch in order.chunks(self.batch) {
            let inputs = batch
                .iter()
                .map(|&idx| prefixed(&self.document_prefix, &texts[idx]))
                .collect();
            for (&idx, vector) in batch.iter().zip(self.run(inputs).await?) {
                vectors[idx] = vector;
            }
        }
        Ok(vectors)
    }
}

impl Embedder for LocalEmbedder {
    fn id(&self) -> &EmbedderId {
        &self.id
    }

    fn embed_documents<'a>(
        &'a self,
        texts: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Vec<f32>>, EmbedError>> {
        self.embed_all(texts).boxed()
    }

    fn embed_query<'a>(&'a self, text: &'a str) -> BoxFuture<'a, Result<Vec<f32>, EmbedError>> {
        async move {
            let mut vectors = self.run(vec![prefixed(&self.query_prefix, text)]).await?;
            vectors.pop().ok_or_else(|| EmbedError::Local {
                model: MODEL_NAME.into(),
                detail: "no vector came out".into(),
            })
        }
        .boxed()
    }
}

impl Model {
    fn load(config: &Path, tokenizer: &Path, weights: &Path) -> Result<Model, String> {
        let named = |path: &Path, error: &dyn std::fmt::Display| {
            let name = path
                .file_name()
                .unwrap_or(path.as_os_str())
                .to_string_lossy();
            format!("{name}: {error}")
        };
        let text = std::fs::read_to_string(config).map_err(|e| named(config, &e))?;
        let config_values: BertConfig =
            serde_json::from_str(&text).map_err(|e| named(config, &e))?;

        let mut tokenizer_model =
            Tokenizer::from_file(tokenizer).map_err(|e| named(tokenizer, &e))?;
        // The packaged tokenizer pads every text to 128 tokens; the encoder packs the texts of a
        // batch end to end instead, so no text is padded.
        tokenizer_model.with_padding(None);
        tokenizer_model
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS.min(config_values.max_position_embeddings),
                ..TruncationParams::default()
            }))
            .map_err(|e| named(tokenizer, &e))?;

        if !weights.is_file() {
            return Err(named(weights, &"not found"));
        }
        let encoder = Encoder::load(config_values, weights).map_err(|e| named(weights, &e))?;
        Ok(Model {
            encoder,
            tokenizer: tokenizer_model,
        })
    }

    fn dimension(&self) -> usize {
        self.encoder.dimension()
    }

    /// Tokenises, runs BERT, mean-pools the tokens and normalises: one unit vector per text.
    fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, String> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self
            .tokenizer
            .encode_batch(texts, true)
            .map_err(|e| format!("tokenizing failed: {e}"))?;
        let ids: Vec<&[u32]> = encodings.iter().map(|e| e.get_ids()).collect();
        self.encoder
            .embed(&ids)
            .map_err(|e| format!("the forward pass failed: {e}"))
    }
}

/// Finds the model (`RAG_MODEL_DIR`, the data directory, a download into it) and loads it, or
/// explains why there is none. Waits for the download: for tools and benchmarks; the server uses
/// [`start`], which never waits for the network.
pub(crate) async fn resolve(config: &EmbedConfig) -> Result<Resolution, EmbedError> {
    match locate(config).await? {
        Located::Ready(resolution) => Ok(resolution),
        Located::Missing { data_dir, searched } => {
            if let Some(failure) = Failure::read(&data_dir).filter(Failure::recent) {
                return Ok(lexical_only(&failure.clause(&searched, &data_dir)));
            }
            Ok(attempt(config, &data_dir, &searched, &mut |_| {}).await)
        }
    }
}

/// Like [`resolve`], but a missing model is downloaded in the background: the answer comes at
/// once, lexical-only with a note saying that the model is downloading (with the bytes so far),
/// and the model takes over in the returned [`Embedding`] when it has arrived. A failed download
/// is remembered in the data directory and tried again only after [`RETRY_AFTER`], by this
/// process or the next start, so an unreachable Hub costs neither start-up time nor traffic.
pub(crate) async fn start(config: &EmbedConfig) -> Result<Arc<Embedding>, EmbedError> {
    match locate(config).await? {
        Located::Ready(resolution) => Ok(Embedding::new(resolution)),
        Located::Missing { data_dir, searched } => {
            let note = match Failure::read(&data_dir).filter(Failure::recent) {
                Some(failure) => lexical_only(&failure.clause(&searched, &data_dir)).note,
                None => downloading_note(config, &data_dir, None),
            };
            let embedding = Embedding::new(Resolution {
                embedder: None,
                note,
            });
            tokio::spawn(download_in_background(
                config.clone(),
                data_dir,
                searched,
                Arc::clone(&embedding),
            ));
            Ok(embedding)
        }
    }
}

/// After a failed download, how long until the next attempt.
pub const RETRY_AFTER: Duration = Duration::from_secs(3600);

/// The file in the data directory recording the last failed download: its time (seconds since
/// 1970) on the first line, the cause on the second.
pub const FAILURE_MARKER: &str = ".download-failed";

/// What [`locate`] found without touching the network.
enum Located {
    /// A model, or a reason there is none that no download can fix.
    Ready(Resolution),
    /// No model in the data directory, and downloading it is allowed.
    Missing {
        /// Where it goes.
        data_dir: PathBuf,
        /// "RAG_MODEL_DIR is not set and … holds no model", for the notes.
        searched: String,
    },
}

/// Finds and loads the model from `RAG_MODEL_DIR` or the data directory, or says that it must be
/// downloaded.
async fn locate(config: &EmbedConfig) -> Result<Located, EmbedError> {
    if let Some(dir) = &config.model_dir {
        // An unusable RAG_MODEL_DIR (often a placeholder left in a host's configuration) must
        // not take the server down: it runs lexical-only and the note says what to fix. Nothing
        // is downloaded instead, since the operator chose this directory.
        if let Some(problem) = model_dir_problem(dir) {
            return Ok(Located::Ready(model_dir_unusable(dir, &problem)));
        }
        return Ok(Located::Ready(
            match load_blocking(config, dir.clone()).await {
                Ok(embedder) => {
                    let note = loaded_note(&embedder, "RAG_MODEL_DIR");
                    found(embedder, note)
                }
                Err(error) => {
                    let detail = match error {
                        EmbedError::ModelFiles { detail, .. }
                        | EmbedError::Local { detail, .. } => detail,
                        other => other.to_string(),
                    };
                    model_dir_unusable(dir, &format!("holds a model that does not load ({detail})"))
                }
            },
        ));
    }
    let Some(data_dir) = &config.data_dir else {
        return Ok(Located::Ready(lexical_only(
            "RAG_MODEL_DIR is not set, and neither XDG_DATA_HOME nor HOME gives a data directory to find or download the model in",
        )));
    };
    if missing_files(data_dir).is_empty() {
        let embedder = load_blocking(config, data_dir.clone()).await?;
        let note = loaded_note(&embedder, "the data directory");
        return Ok(Located::Ready(found(embedder, note)));
    }
    let searched = format!(
        "RAG_MODEL_DIR is not set and {} holds no model",
        data_dir.display()
    );
    if !config.download {
        return Ok(Located::Ready(lexical_only(&format!(
            "{searched}, and RAG_MODEL_DOWNLOAD=false forbids downloading it"
        ))));
    }
    Ok(Located::Missing {
        data_dir: data_dir.clone(),
        searched,
    })
}

/// One download into `data_dir`, reporting progress to `progress`: the loaded model, or
/// lexical-only with the cause, which is then also recorded in the [`FAILURE_MARKER`].
async fn attempt(
    config: &EmbedConfig,
    data_dir: &Path,
    searched: &str,
    progress: &mut (dyn FnMut(Progress<'_>) + Send),
) -> Resolution {
    let started = Instant::now();
    tracing::info!(
        from = %config.hf_endpoint,
        into = %data_dir.display(),
        "downloading the embedding model {HF_REPO} (about 90 MB)"
    );
    match download(&config.hf_endpoint, data_dir, config.batch, progress).await {
        Ok(embedder) => {
            // Best effort: a stale marker only delays a download that is no longer needed.
            let _ = tokio::fs::remove_file(data_dir.join(FAILURE_MARKER)).await;
            let embedder = embedder.with_prefixes(&config.query_prefix, &config.document_prefix);
            let note = format!(
                "{}, downloaded from {} in {:.1} s",
                loaded_note(&embedder, "the data directory"),
                config.hf_endpoint,
                started.elapsed().as_secs_f64()
            );
            tracing::info!(note = %note, "embedding model downloaded");
            found(embedder, note)
        }
        Err(cause) => {
            let cause = format!("downloading it from {} failed: {cause}", config.hf_endpoint);
            let failure = Failure::now(cause);
            if let Err(error) = failure.write(data_dir) {
                tracing::warn!(%error, "could not record the failed download; it will be retried in this process only after the back-off");
            }
            let resolution = lexical_only(&failure.clause(searched, data_dir));
            tracing::warn!(note = %resolution.note, "the embedding model could not be downloaded: running lexical-only");
            resolution
        }
    }
}

/// Downloads the model until it arrives, waiting [`RETRY_AFTER`] after each failure (this
/// process's or another's, as the marker says), and hands it to `embedding`.
async fn download_in_background(
    config: EmbedConfig,
    data_dir: PathBuf,
    searched: String,
    embedding: Arc<Embedding>,
) {
    // The failure of this process, in case the marker could not be written.
    let mut own: Option<Failure> = None;
    loop {
        let failure = match (Failure::read(&data_dir), own.take()) {
            (Some(marker), Some(mine)) => Some(if marker.at >= mine.at { marker } else { mine }),
            (marker, mine) => marker.or(mine),
        };
        if let Some(failure) = failure.filter(Failure::recent) {
            embedding.set_note(lexical_only(&failure.clause(&searched, &data_dir)).note);
            tracing::info!(
                "the last download of the embedding model failed {}; the next attempt is at {} ({})",
                utc(failure.at),
                utc(failure.at + RETRY_AFTER.as_secs()),
                failure.cause
            );
            tokio::time::sleep(failure.remaining()).await;
            own = Some(failure);
            continue;
        }
        // Another process may have downloaded it meanwhile.
        if missing_files(&data_dir).is_empty()
            && let Ok(embedder) = load_blocking(&config, data_dir.clone()).await
        {
            let note = loaded_note(&embedder, "the data directory");
            embedding.arrive(Arc::new(embedder), note);
            return;
        }
        let mut reporter = Reporter::new(&config, &data_dir, &embedding);
        let resolution = attempt(&config, &data_dir, &searched, &mut |progress| {
            reporter.report(progress)
        })
        .await;
        match resolution.embedder {
            Some(embedder) => {
                embedding.arrive(embedder, resolution.note);
                return;
            }
            None => {
                embedding.set_note(resolution.note);
                own = Some(Failure::now(String::new()));
            }
        }
    }
}

/// How far a download is.
#[derive(Debug, Clone, Copy)]
struct Progress<'a> {
    /// The file being received.
    file: &'a str,
    /// Its 1-based place among [`MODEL_FILES`].
    number: usize,
    /// Bytes of it received so far.
    received: u64,
    /// Its size, when the Hub said.
    total: Option<u64>,
}

/// Turns download progress into the note (at most every [`NOTE_EVERY`]) and the log (at most
/// every [`LOG_EVERY`]).
struct Reporter<'a> {
    config: &'a EmbedConfig,
    data_dir: &'a Path,
    embedding: &'a Embedding,
    noted: Option<Instant>,
    logged: Option<Instant>,
}

/// How often the note (readiness, instructions, search notes) follows a download.
const NOTE_EVERY: Duration = Duration::from_millis(200);

/// How often the log does.
const LOG_EVERY: Duration = Duration::from_secs(5);

impl<'a> Reporter<'a> {
    fn new(config: &'a EmbedConfig, data_dir: &'a Path, embedding: &'a Embedding) -> Self {
        Reporter {
            config,
            data_dir,
            embedding,
            noted: None,
            logged: None,
        }
    }

    fn report(&mut self, progress: Progress<'_>) {
        let due =
            |last: Option<Instant>, every: Duration| last.is_none_or(|at| at.elapsed() >= every);
        // The first and last bytes of each file always show, so a stalled file is visible.
        let edge = progress.received == 0 || Some(progress.received) == progress.total;
        if edge || due(self.noted, NOTE_EVERY) {
            self.noted = Some(Instant::now());
            self.embedding
                .set_note(downloading_note(self.config, self.data_dir, Some(progress)));
        }
        if edge || due(self.logged, LOG_EVERY) {
            self.logged = Some(Instant::now());
            tracing::info!(
                file = progress.file,
                received = progress.received,
                total = progress.total,
                "downloading the embedding model"
            );
        }
    }
}

/// The note while the model downloads.
fn downloading_note(
    config: &EmbedConfig,
    data_dir: &Path,
    progress: Option<Progress<'_>>,
) -> String {
    let so_far = match progress {
        None => "starting".to_owned(),
        Some(progress) => format!(
            "{} (file {} of {}): {} of {} bytes so far",
            progress.file,
            progress.number,
            MODEL_FILES.len(),
            progress.received,
            progress.total.map_or_else(
                || "an unknown number of".to_owned(),
                |total| total.to_string()
            )
        ),
    };
    format!(
        "no embedding model yet, so search is lexical-only (BM25) for now: {MODEL_NAME} is \
         downloading from {} into {} ({so_far}); search switches to hybrid by itself once it has \
         arrived, without a restart",
        config.hf_endpoint,
        data_dir.display()
    )
}

/// A failed download, as recorded in the [`FAILURE_MARKER`].
#[derive(Debug, Clone)]
struct Failure {
    /// When, in seconds since 1970.
    at: u64,
    /// Why.
    cause: String,
}

impl Failure {
    fn now(cause: String) -> Failure {
        Failure {
            at: unix_now(),
            cause,
        }
    }

    /// The marker in `data_dir`, if there is a readable one.
    fn read(data_dir: &Path) -> Option<Failure> {
        let text = std::fs::read_to_string(data_dir.join(FAILURE_MARKER)).ok()?;
        let mut lines = text.lines();
        let at = lines.next()?.trim().parse().ok()?;
        Some(Failure {
            at,
            cause: lines.next().unwrap_or_default().trim().to_owned(),
        })
    }

    fn write(&self, data_dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(data_dir)?;
        std::fs::write(
            data_dir.join(FAILURE_MARKER),
            format!("{}\n{}\n", self.at, self.cause.replace('\n', " ")),
        )
    }

    /// Whether the back-off after it still runs. A time in the future (a clock set back) counts
    /// as recent only up to the back-off, so a wrong clock cannot block downloads for good.
    fn recent(&self) -> bool {
        !self.remaining().is_zero()
    }

    fn remaining(&self) -> Duration {
        let elapsed = unix_now().saturating_sub(self.at);
        RETRY_AFTER
            .saturating_sub(Duration::from_secs(elapsed))
            .min(RETRY_AFTER)
    }

    /// The clause for [`lexical_only`]'s note.
    fn clause(&self, searched: &str, data_dir: &Path) -> String {
        let cause = if self.cause.is_empty() {
            "downloading it failed".to_owned()
        } else {
            self.cause.clone()
        };
        format!(
            "{searched}, and {cause} (at {}); it is tried again only after a back-off of {} min, \
             from {} on, by a running server or the next start (delete {} to try again at the \
             next start)",
            utc(self.at),
            RETRY_AFTER.as_secs() / 60,
            utc(self.at + RETRY_AFTER.as_secs()),
            data_dir.join(FAILURE_MARKER).display()
        )
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Seconds since 1970 as an ISO 8601 UTC time, e.g. 2025-01-31T17:05:00Z.
fn utc(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let rest = seconds % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

fn found(embedder: LocalEmbedder, note: String) -> Resolution {
    Resolution {
        embedder: Some(Arc::new(embedder)),
        note,
    }
}

fn loaded_note(embedder: &LocalEmbedder, place: &str) -> String {
    format!(
        "embedding in-process with {MODEL_NAME} ({} dimensions) from {} ({place})",
        embedder.id.dimension,
        embedder.dir.display()
    )
}

fn lexical_only(why: &str) -> Resolution {
    Resolution {
        embedder: None,
        note: format!(
            "no embedding model, so search is lexical-only (BM25): {why}. For semantic search, set \
             RAG_MODEL_DIR to a directory holding config.json, tokenizer.json and model.safetensors \
             of {HF_REPO}, allow the download (RAG_MODEL_DOWNLOAD=true with access to \
             RAG_HF_ENDPOINT), or use RAG_EMBEDDER=openai or ollama"
        ),
    }
}

/// What makes `dir` unusable before loading is tried, as a clause after "which": it does not
/// exist, is not a folder, or lacks some of [`MODEL_FILES`].
fn model_dir_problem(dir: &Path) -> Option<String> {
    match std::fs::metadata(dir) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Some("does not exist".into()),
        Err(error) => Some(format!("cannot be read ({error})")),
        Ok(meta) if !meta.is_dir() => Some("is not a folder".into()),
        Ok(_) => {
            let missing = missing_files(dir);
            (!missing.is_empty()).then(|| format!("lacks {}", missing.join(", ")))
        }
    }
}

/// Lexical-only because `RAG_MODEL_DIR` is unusable: the note names the variable, its value and
/// what is wrong, and how to fix it (there is no download to allow: it is only tried without
/// `RAG_MODEL_DIR`).
fn model_dir_unusable(dir: &Path, problem: &str) -> Resolution {
    Resolution {
        embedder: None,
        note: format!(
            "no embedding model, so search is lexical-only (BM25): RAG_MODEL_DIR is {}, which \
             {problem}. For semantic search, set RAG_MODEL_DIR to a directory holding \
             config.json, tokenizer.json and model.safetensors of {HF_REPO}, unset it to use the \
             data directory (where the model is downloaded when missing), or use \
             RAG_EMBEDDER=openai or ollama",
            dir.display()
        ),
    }
}

fn missing_files(dir: &Path) -> Vec<&'static str> {
    MODEL_FILES
        .iter()
        .copied()
        .filter(|file| !dir.join(file).is_file())
        .collect()
}

async fn load_blocking(config: &EmbedConfig, dir: PathBuf) -> Result<LocalEmbedder, EmbedError> {
    let batch = config.batch;
    let loaded = tokio::task::spawn_blocking(move || LocalEmbedder::load(&dir, batch))
        .await
        .map_err(|join| EmbedError::Local {
            model: MODEL_NAME.into(),
            detail: format!("loading stopped: {join}"),
        })??;
    Ok(loaded.with_prefixes(&config.query_prefix, &config.document_prefix))
}

/// Downloads [`MODEL_FILES`] from `{endpoint}/{HF_REPO}/resolve/main/` into temporary files in
/// `dir`, checks that they load, and only then renames them into place, so that `dir` never
/// holds a partial model.
async fn download(
    endpoint: &str,
    dir: &Path,
    batch: usize,
    progress: &mut (dyn FnMut(Progress<'_>) + Send),
) -> Result<LocalEmbedder, String> {
    let client = mcp_common::api::client_builder("rag", env!("CARGO_PKG_VERSION"))
        .connect_timeout(DOWNLOAD_CONNECT_TIMEOUT)
        .read_timeout(DOWNLOAD_READ_TIMEOUT)
        .build()
        .map_err(|e| root_cause(&e))?;
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let stamp = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    let staged: Vec<PathBuf> = MODEL_FILES
        .iter()
        .map(|file| dir.join(format!(".{file}.{stamp}.part")))
        .collect();
    let outcome = stage(&client, endpoint, dir, batch, &staged, progress).await;
    if outcome.is_err() {
        for path in &staged {
            // Best effort: a leftover .part file is harmless, and the error below matters more.
            let _ = tokio::fs::remove_file(path).await;
        }
    }
    outcome
}

async fn stage(
    client: &reqwest::Client,
    endpoint: &str,
    dir: &Path,
    batch: usize,
    staged: &[PathBuf],
    progress: &mut (dyn FnMut(Progress<'_>) + Send),
) -> Result<LocalEmbedder, String> {
    for (number, (file, temp)) in MODEL_FILES.iter().zip(staged).enumerate() {
        let url = format!("{endpoint}/{HF_REPO}/resolve/main/{file}");
        let mut progress = |received, total| {
            progress(Progress {
                file,
                number: number + 1,
                received,
                total,
            })
        };
        progress(0, None);
        fetch(client, &url, temp, &mut progress)
            .await
            .map_err(|cause| format!("{url}: {cause}"))?;
    }
    let [config, tokenizer, weights] = [&staged[0], &staged[1], &staged[2]].map(|p| p.to_owned());
    let model = tokio::task::spawn_blocking(move || Model::load(&config, &tokenizer, &weights))
        .await
        .map_err(|join| format!("loading stopped: {join}"))?
        .map_err(|cause| format!("the downloaded files do not load ({cause})"))?;
    for (file, temp) in MODEL_FILES.iter().zip(staged) {
        tokio::fs::rename(temp, dir.join(file))
            .await
            .map_err(|e| format!("cannot move {file} into {}: {e}", dir.display()))?;
    }
    Ok(LocalEmbedder::new(model, dir, batch))
}

/// Streams `url` into `path`, flushed to disk before returning, telling `progress` the bytes
/// received so far and the size, when known.
async fn fetch(
    client: &reqwest::Client,
    url: &str,
    path: &Path,
    progress: &mut (dyn FnMut(u64, Option<u64>) + Send),
) -> Result<(), String> {
    let mut response = client.get(url).send().await.map_err(|e| root_cause(&e))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    let expected = response.content_length();
    if expected.is_some_and(|size| size > MAX_DOWNLOAD_BYTES) {
        return Err(format!(
            "the file is larger than {} MB",
            MAX_DOWNLOAD_BYTES >> 20
        ));
    }
    progress(0, expected);
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let mut received: u64 = 0;
    while let Some(chunk) = response.chunk().await.map_err(|e| root_cause(&e))? {
        received += chunk.len() as u64;
        if received > MAX_DOWNLOAD_BYTES {
            return Err(format!(
                "the file is larger than {} MB",
                MAX_DOWNLOAD_BYTES >> 20
            ));
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        progress(received, expected);
    }
    if let Some(expected) = expected
        && expected != received
    {
        return Err(format!(
            "the transfer stopped after {received} of {expected} bytes"
        ));
    }
    // On disk before the rename, so that a crash cannot leave a renamed but empty file.
    file.sync_all()
        .await
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, Ordering};

    use axum::Router;
    use axum::extract::{Path as UrlPath, State};
    use axum::http::{StatusCode, header};
    use axum::response::{IntoResponse, Response};
    use axum::routing::get;
    use mcp_common::Env;

    use super::*;
    use crate::embed::testing::{cosine, model_dir, reference};

    /// sentence-transformers' published output for this sentence (first five of 384 values).
    const EXAMPLE: &str = "This is an example sentence";
    const EXAMPLE_START: [f32; 5] = [0.06766, 0.06350, 0.04871, 0.07930, 0.03745];

    #[tokio::test]
    async fn reference_sentence_matches_published_values() {
        let embedder = reference();
        let vector = embedder.embed_query(EXAMPLE).await.unwrap();
        println!(
            "\"{EXAMPLE}\" → {} dims, starts {:?}",
            vector.len(),
            &vector[..5]
        );
        assert_eq!(vector.len(), 384);
        assert_eq!(embedder.id().dimension, 384);
        for (idx, (got, want)) in vector.iter().zip(EXAMPLE_START).enumerate() {
            assert!(
                (got - want).abs() < 1e-4,
                "value {idx}: {got} instead of {want}"
            );
        }
        let norm: f32 = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "not normalised: {norm}");
    }

    #[tokio::test]
    async fn cosine_relations_hold() {
        let texts: Vec<String> = [
            "A cat sits on the mat",
            "A kitten is lying on the rug",
            EXAMPLE,
            "The stock market fell sharply today",
        ]
        .map(String::from)
        .to_vec();
        let vectors = reference().embed_documents(&texts).await.unwrap();
        let similar = cosine(&vectors[0], &vectors[1]);
        let unrelated = cosine(&vectors[0], &vectors[2]);
        let finance = cosine(&vectors[0], &vectors[3]);
        println!(
            "cos(cat, kitten) = {similar:.3}, cos(cat, example) = {unrelated:.3}, cos(cat, stocks) = {finance:.3}"
        );
        assert!(similar > 0.5, "{similar}");
        assert!(unrelated.abs() < 0.15, "{unrelated}");
        assert!(finance < 0.2, "{finance}");
        assert!(similar > unrelated + 0.4);
    }

    #[tokio::test]
    async fn batching_and_padding_do_not_change_vectors() {
        let long =
            "A remarkably long sentence about retrieval, embeddings, tokenizers and the many \
                    ways in which padding tokens could leak into a mean-pooled sentence vector."
                .to_owned();
        let texts = vec![
            "short".to_owned(),
            long.clone(),
            EXAMPLE.to_owned(),
            String::new(),
            "another medium-sized sentence".to_owned(),
        ];
        let together = reference().embed_documents(&texts).await.unwrap();
        let one_by_one = LocalEmbedder::load(&model_dir(), 1).unwrap();
        let alone = one_by_one.embed_documents(&texts).await.unwrap();
        assert_eq!(together.len(), texts.len());
        for (idx, (a, b)) in together.iter().zip(&alone).enumerate() {
            let gap = a
                .iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f32::max);
            assert!(gap < 1e-5, "text {idx} differs by {gap} when batched");
        }
        let example = reference().embed_query(EXAMPLE).await.unwrap();
        assert!(cosine(&together[2], &example) > 0.99999, "order kept");
    }

    #[tokio::test]
    async fn long_texts_are_cut_at_256_tokens() {
        let words: Vec<String> = (0..400).map(|n| format!("word{n}")).collect();
        let long = words.join(" ");
        let longer = format!("{long} and then a completely different ending about volcanoes");
        let vectors = reference().embed_documents(&[long, longer]).await.unwrap();
        assert!(
            cosine(&vectors[0], &vectors[1]) > 0.99999,
            "text past 256 tokens must not count"
        );
        assert!(reference().embed_documents(&[]).await.unwrap().is_empty());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn embedding_does_not_block_the_runtime() {
        let ticks = Arc::new(AtomicU32::new(0));
        let counter = Arc::clone(&ticks);
        let ticker = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(2)).await;
                counter.fetch_add(1, Ordering::SeqCst);
            }
        });
        let texts: Vec<String> = (0..96)
            .map(|n| format!("sentence number {n} about a fairly ordinary topic, padded out a bit"))
            .collect();
        let started = Instant::now();
        reference().embed_documents(&texts).await.unwrap();
        let elapsed = started.elapsed();
        ticker.abort();
        let ticks = ticks.load(Ordering::SeqCst);
        println!(
            "96 texts in {:.2} s ({:.0}/s); the runtime ticked {ticks} times meanwhile",
            elapsed.as_secs_f64(),
            96.0 / elapsed.as_secs_f64()
        );
        // A single-threaded runtime only ticks if the forward passes run elsewhere.
        let possible = elapsed.as_millis() as u32 / 2;
        assert!(ticks * 4 > possible, "{ticks} ticks of about {possible}");
    }

    fn settings(pairs: &[(&str, &str)]) -> EmbedConfig {
        EmbedConfig::from_env(&Env::from_pairs(pairs.iter().copied())).unwrap()
    }

    #[tokio::test]
    async fn model_dir_is_used_first() {
        let dir = model_dir();
        let data = tempfile::tempdir().unwrap();
        let config = settings(&[
            ("RAG_MODEL_DIR", dir.to_str().unwrap()),
            ("XDG_DATA_HOME", data.path().to_str().unwrap()),
            ("RAG_QUERY_PREFIX", "query:"),
        ]);
        let resolution = resolve(&config).await.unwrap();
        let embedder = resolution.embedder.expect("an embedder");
        assert_eq!(embedder.id().model, "all-MiniLM-L6-v2");
        assert!(
            resolution.note.contains("(RAG_MODEL_DIR)"),
            "{}",
            resolution.note
        );
        // The prefix reaches the model: "query: x" is not "x".
        let with_prefix = embedder.embed_query(EXAMPLE).await.unwrap();
        let plain = reference().embed_query(EXAMPLE).await.unwrap();
        let prefixed = reference()
            .embed_query(&format!("query: {EXAMPLE}"))
            .await
            .unwrap();
        assert!(cosine(&with_prefix, &prefixed) > 0.99999);
        assert!(cosine(&with_prefix, &plain) < 0.999);
    }

    /// Writes a model directory for one case: the real files, except those `damage` replaces
    /// (`None` leaves a file out).
    fn model_copy(damage: &[(&str, Option<Vec<u8>>)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for file in MODEL_FILES {
            let target = dir.path().join(file);
            match damage.iter().find(|(name, _)| *name == file) {
                Some((_, Some(bytes))) => std::fs::write(&target, bytes).unwrap(),
                Some((_, None)) => {}
                // A link, not a copy: model.safetensors is 90 MB.
                #[cfg(unix)]
                None => std::os::unix::fs::symlink(model_dir().join(file), &target).unwrap(),
                #[cfg(not(unix))]
                None => {
                    std::fs::copy(model_dir().join(file), &target).unwrap();
                }
            }
        }
        dir
    }

    /// servers.json ships `RAG_MODEL_DIR=/path/to/all-MiniLM-L6-v2`: an unusable directory, in
    /// any of the ways it can be, means lexical-only with a note naming the variable and the
    /// fault, never an error that stops the server.
    #[tokio::test]
    async fn unusable_model_dir_means_lexical_only_with_a_note() {
        let weights = std::fs::read(model_dir().join("model.safetensors")).unwrap();
        let truncated = weights[..1 << 20].to_vec();
        let empty = tempfile::tempdir().unwrap();
        let not_a_folder = empty.path().join("model.bin");
        std::fs::write(&not_a_folder, "weights?").unwrap();
        let incomplete = model_copy(&[("tokenizer.json", None), ("model.safetensors", None)]);
        let cut = model_copy(&[("model.safetensors", Some(truncated))]);
        let empty_weights = model_copy(&[("model.safetensors", Some(Vec::new()))]);
        let garbage_tokenizer =
            model_copy(&[("tokenizer.json", Some(b"this is {not json".to_vec()))]);
        let wrong_config = model_copy(&[("config.json", Some(b"{}".to_vec()))]);
        // (RAG_MODEL_DIR, what the note must say after "which")
        let cases: [(PathBuf, &str); 9] = [
            ("/path/to/all-MiniLM-L6-v2".into(), "does not exist"),
            (empty.path().join("missing"), "does not exist"),
            (not_a_folder, "is not a folder"),
            (
                empty.path().to_owned(),
                "lacks config.json, tokenizer.json, model.safetensors",
            ),
            (
                incomplete.path().to_owned(),
                "lacks tokenizer.json, model.safetensors",
            ),
            (
                cut.path().to_owned(),
                "holds a model that does not load (model.safetensors: ",
            ),
            (
                empty_weights.path().to_owned(),
                "holds a model that does not load (model.safetensors: ",
            ),
            (
                garbage_tokenizer.path().to_owned(),
                "holds a model that does not load (tokenizer.json: ",
            ),
            (
                wrong_config.path().to_owned(),
                "holds a model that does not load (config.json: missing field",
            ),
        ];
        for (dir, expected) in cases {
            let data = tempfile::tempdir().unwrap();
            let config = settings(&[
                ("RAG_MODEL_DIR", dir.to_str().unwrap()),
                ("XDG_DATA_HOME", data.path().to_str().unwrap()),
            ]);
            let resolution = resolve(&config)
                .await
                .unwrap_or_else(|error| panic!("{}: must not be an error: {error}", dir.display()));
            assert!(resolution.embedder.is_none(), "{}", dir.display());
            let note = &resolution.note;
            println!("{note}");
            assert!(
                note.starts_with(&format!(
                    "no embedding model, so search is lexical-only (BM25): RAG_MODEL_DIR is {}, which {expected}",
                    dir.display()
                )),
                "{note}"
            );
            assert!(
                note.contains("set RAG_MODEL_DIR to a directory holding config.json, tokenizer.json and model.safetensors")
                    && note.contains("unset it to use the data directory"),
                "{note}"
            );
            // RAG_MODEL_DIR wins over the data directory: nothing is downloaded in its stead.
            assert!(
                missing_files(&data.path().join("mcp-rag/models/all-MiniLM-L6-v2")).len() == 3,
                "{}",
                dir.display()
            );
        }
    }

    #[tokio::test]
    async fn without_model_or_download_search_is_lexical_only() {
        let data = tempfile::tempdir().unwrap();
        let config = settings(&[
            ("XDG_DATA_HOME", data.path().to_str().unwrap()),
            ("RAG_MODEL_DOWNLOAD", "false"),
        ]);
        let resolution = resolve(&config).await.unwrap();
        assert!(resolution.embedder.is_none());
        let note = &resolution.note;
        assert!(
            note.starts_with("no embedding model, so search is lexical-only"),
            "{note}"
        );
        assert!(note.contains("RAG_MODEL_DIR is not set and"), "{note}");
        assert!(
            note.contains("mcp-rag/models/all-MiniLM-L6-v2 holds no model"),
            "{note}"
        );
        assert!(note.contains("RAG_MODEL_DOWNLOAD=false"), "{note}");
        assert!(
            note.contains("or use RAG_EMBEDDER=openai or ollama"),
            "{note}"
        );
        assert!(
            resolve(&settings(&[])).await.unwrap().embedder.is_none(),
            "no HOME: nowhere to look"
        );
    }

    /// A loopback stand-in for the Hugging Face Hub: the real files under its URL layout, with
    /// model.safetensors behind a redirect as on the real Hub (which sends it to a CDN).
    struct Hub {
        endpoint: String,
        requests: Arc<Mutex<BTreeMap<String, u32>>>,
    }

    #[derive(Clone)]
    struct HubState {
        dir: Option<PathBuf>,
        requests: Arc<Mutex<BTreeMap<String, u32>>>,
    }

    async fn hub_file(
        State(state): State<HubState>,
        UrlPath((owner, repo, file)): UrlPath<(String, String, String)>,
    ) -> Response {
        *state
            .requests
            .lock()
            .unwrap()
            .entry(file.clone())
            .or_default() += 1;
        let Some(dir) = &state.dir else {
            return (StatusCode::NOT_FOUND, "Entry not found").into_response();
        };
        if format!("{owner}/{repo}") != HF_REPO {
            return (StatusCode::NOT_FOUND, "Repository not found").into_response();
        }
        if file == "model.safetensors" {
            return (
                StatusCode::FOUND,
                [(header::LOCATION, "/cdn/model.safetensors")],
            )
                .into_response();
        }
        match tokio::fs::read(dir.join(&file)).await {
            Ok(bytes) => bytes.into_response(),
            Err(_) => (StatusCode::NOT_FOUND, "Entry not found").into_response(),
        }
    }

    async fn cdn_file(State(state): State<HubState>) -> Response {
        let dir = state.dir.clone().unwrap_or_default();
        match tokio::fs::read(dir.join("model.safetensors")).await {
            Ok(bytes) => bytes.into_response(),
            Err(_) => StatusCode::NOT_FOUND.into_response(),
        }
    }

    async fn hub(dir: Option<PathBuf>) -> Hub {
        let requests = Arc::new(Mutex::new(BTreeMap::new()));
        let state = HubState {
            dir,
            requests: Arc::clone(&requests),
        };
        let app = Router::new()
            .route("/{owner}/{repo}/resolve/main/{file}", get(hub_file))
            .route("/cdn/model.safetensors", get(cdn_file))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Hub { endpoint, requests }
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|name| name.ends_with(".part"))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn model_is_downloaded_once_from_the_hub() {
        let hub = hub(Some(model_dir())).await;
        let data = tempfile::tempdir().unwrap();
        let config = settings(&[
            ("XDG_DATA_HOME", data.path().to_str().unwrap()),
            ("RAG_HF_ENDPOINT", &format!("{}/", hub.endpoint)),
        ]);
        let resolution = resolve(&config).await.unwrap();
        let note = resolution.note.clone();
        println!("{note}");
        let embedder = resolution.embedder.expect("downloaded");
        assert!(
            note.contains(&format!("downloaded from {}", hub.endpoint)),
            "{note}"
        );
        let target = data.path().join("mcp-rag/models/all-MiniLM-L6-v2");
        for file in MODEL_FILES {
            let copy = std::fs::read(target.join(file)).unwrap();
            let original = std::fs::read(model_dir().join(file)).unwrap();
            assert!(copy == original, "{file} differs from the served file");
        }
        assert!(leftovers(&target).is_empty(), "{:?}", leftovers(&target));
        let vector = embedder.embed_query(EXAMPLE).await.unwrap();
        assert!((vector[0] - EXAMPLE_START[0]).abs() < 1e-4);

        // Next start: found in the data directory, nothing fetched.
        let again = resolve(&config).await.unwrap();
        assert!(again.embedder.is_some());
        assert!(
            again.note.contains("(the data directory)"),
            "{}",
            again.note
        );
        assert!(!again.note.contains("downloaded"), "{}", again.note);
        let counts = hub.requests.lock().unwrap().clone();
        assert_eq!(
            counts,
            BTreeMap::from(MODEL_FILES.map(|file| (file.to_owned(), 1)))
        );
    }

    #[tokio::test]
    async fn failed_downloads_leave_nothing_and_fall_back_to_lexical_only() {
        let empty_hub = hub(None).await;
        let data = tempfile::tempdir().unwrap();
        let config = settings(&[
            ("XDG_DATA_HOME", data.path().to_str().unwrap()),
            ("RAG_HF_ENDPOINT", &empty_hub.endpoint),
        ]);
        let resolution = resolve(&config).await.unwrap();
        assert!(resolution.embedder.is_none());
        let note = resolution.note;
        assert!(
            note.contains(&format!(
                "downloading it from {} failed: {}/sentence-transformers/all-MiniLM-L6-v2/resolve/main/config.json: HTTP 404 Not Found",
                empty_hub.endpoint, empty_hub.endpoint
            )),
            "{note}"
        );
        let target = data.path().join("mcp-rag/models/all-MiniLM-L6-v2");
        assert!(missing_files(&target).len() == 3 && leftovers(&target).is_empty());

        // Nothing listens on a port just released: refused at once, not after a timeout. (A
        // fresh data directory: the failure above is remembered in the other.)
        let data = tempfile::tempdir().unwrap();
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let config = settings(&[
            ("XDG_DATA_HOME", data.path().to_str().unwrap()),
            ("RAG_HF_ENDPOINT", &endpoint),
        ]);
        let started = Instant::now();
        let resolution = resolve(&config).await.unwrap();
        assert!(resolution.embedder.is_none());
        assert!(
            resolution.note.contains("connection refused"),
            "{}",
            resolution.note
        );
        assert!(started.elapsed() < DOWNLOAD_CONNECT_TIMEOUT);
    }

    /// The time of the failure recorded in `target`'s marker, moved `seconds` into the past.
    fn backdate_marker(target: &Path, seconds: u64) {
        let marker = target.join(FAILURE_MARKER);
        let failure = Failure::read(target).expect("a failure marker");
        std::fs::write(
            &marker,
            format!("{}\n{}\n", failure.at - seconds, failure.cause),
        )
        .unwrap();
    }

    /// A failed download is written down with its time in the data directory, and the next
    /// starts do not ask the Hub again until the back-off is over; they say so, and when.
    #[tokio::test]
    async fn a_failed_download_is_retried_only_after_the_back_off() {
        let empty_hub = hub(None).await;
        let data = tempfile::tempdir().unwrap();
        let config = settings(&[
            ("XDG_DATA_HOME", data.path().to_str().unwrap()),
            ("RAG_HF_ENDPOINT", &empty_hub.endpoint),
        ]);
        let target = data.path().join("mcp-rag/models/all-MiniLM-L6-v2");
        let asked = || empty_hub.requests.lock().unwrap().values().sum::<u32>();
        assert!(resolve(&config).await.unwrap().embedder.is_none());
        assert_eq!(asked(), 1, "config.json, refused");
        let failure = Failure::read(&target).expect("the failure is remembered");
        assert!(failure.at.abs_diff(unix_now()) < 60, "{failure:?}");
        assert!(failure.cause.contains("HTTP 404"), "{failure:?}");

        for _ in 0..3 {
            let again = resolve(&config).await.unwrap();
            assert!(again.embedder.is_none());
            assert!(
                again.note.contains("HTTP 404")
                    && again
                        .note
                        .contains("tried again only after a back-off of 60 min")
                    && again.note.contains(FAILURE_MARKER),
                "{}",
                again.note
            );
            let started = start(&config).await.unwrap();
            assert!(started.note().contains("back-off"), "{}", started.note());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(asked(), 1, "no start asked the Hub during the back-off");

        // The back-off over, the next start tries again.
        backdate_marker(&target, RETRY_AFTER.as_secs() + 1);
        assert!(resolve(&config).await.unwrap().embedder.is_none());
        assert_eq!(asked(), 2);
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_738_343_100), "2025-01-31T17:05:00Z");
    }

    /// A Hub that accepts connections and never answers: `start` answers at once, lexical-only,
    /// with a note saying that the model is downloading, from where, and how far it got.
    #[tokio::test]
    async fn start_does_not_wait_for_a_stalled_hub() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                open.push(socket);
            }
        });
        let data = tempfile::tempdir().unwrap();
        let config = settings(&[
            ("XDG_DATA_HOME", data.path().to_str().unwrap()),
            ("RAG_HF_ENDPOINT", &endpoint),
        ]);
        let started = Instant::now();
        let embedding = start(&config).await.unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        assert!(embedding.embedder().is_none());
        tokio::time::sleep(Duration::from_millis(300)).await;
        let note = embedding.note();
        println!("{note}");
        assert!(
            note.contains(&format!("{MODEL_NAME} is downloading from {endpoint}"))
                && note
                    .contains("config.json (file 1 of 3): 0 of an unknown number of bytes so far")
                && note.contains("without a restart"),
            "{note}"
        );
        held.abort();
    }

    /// Served slowly, the model arrives in the background: the note follows the bytes, then the
    /// embedder takes over, and the next start finds it in the data directory.
    #[tokio::test]
    async fn the_model_arrives_in_the_background() {
        let hub = hub(Some(model_dir())).await;
        let data = tempfile::tempdir().unwrap();
        let config = settings(&[
            ("XDG_DATA_HOME", data.path().to_str().unwrap()),
            ("RAG_HF_ENDPOINT", &hub.endpoint),
        ]);
        let embedding = start(&config).await.unwrap();
        let mut changes = embedding.subscribe();
        let mut notes = vec![embedding.note()];
        let arrived = tokio::time::timeout(Duration::from_secs(120), async {
            loop {
                if let Some(embedder) = changes.borrow_and_update().embedder.clone() {
                    return embedder;
                }
                notes.push(changes.borrow().note.clone());
                changes.changed().await.unwrap();
            }
        })
        .await
        .expect("the model arrives");
        let vector = arrived.embed_query(EXAMPLE).await.unwrap();
        assert!((vector[0] - EXAMPLE_START[0]).abs() < 1e-4);
        assert!(
            notes
                .iter()
                .any(|note| note.contains("model.safetensors (file 3 of 3): ")
                    && note.contains(" bytes so far")),
            "{notes:#?}"
        );
        let note = embedding.note();
        assert!(
            note.contains(&format!("downloaded from {}", hub.endpoint)),
            "{note}"
        );
        let again = start(&config).await.unwrap();
        assert!(again.embedder().is_some(), "{}", again.note());
    }
}
