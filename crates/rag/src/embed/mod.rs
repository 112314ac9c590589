//! Embeddings: the local MiniLM model, OpenAI-compatible endpoints and Ollama.
//!
//! [`EmbedConfig::from_env`] reads the `RAG_EMBEDD*` settings and [`build`] turns them into an
//! [`Embedder`], or into none when no model can be reached, in which case the server runs
//! lexical-only and [`Resolution::note`] says why and how to enable semantic search.
//!
//! - [`local`]: all-MiniLM-L6-v2 in-process with candle (384 dimensions), found in
//!   `RAG_MODEL_DIR` or the data directory, or downloaded once from the Hugging Face Hub.
//! - [`remote`]: `POST {base}/embeddings` (OpenAI, vLLM, LM Studio, any compatible server) and
//!   Ollama's `POST {base}/api/embed`, called through [`mcp_common::Backend`].

mod bert;
pub mod live;
pub mod local;
pub mod remote;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;
use mcp_common::{BackendConfig, BackendError, ConfigError, Env, Secret};

pub use live::{Current, Embedding};
pub use local::LocalEmbedder;
pub use remote::RemoteEmbedder;

use crate::model::EmbedderId;

/// The `--help` lines for the embedding variables.
pub const ENV_HELP: &str = "\
rag embeddings:
  RAG_EMBEDDER                         local (default: all-MiniLM-L6-v2 in-process, no service needed), openai (any
                                       OpenAI-compatible API: OpenAI, vLLM, LM Studio) or ollama
  RAG_EMBEDDING_MODEL                  model name (default all-MiniLM-L6-v2, text-embedding-3-small or nomic-embed-text)
  RAG_EMBEDDING_URL                    base URL of the API (default https://api.openai.com/v1 for openai,
                                       http://127.0.0.1:11434 for ollama)
  RAG_EMBEDDING_API_KEY                bearer key for the API (openai falls back to OPENAI_API_KEY)
  RAG_EMBEDDING_DIMENSIONS             vector length; sent to OpenAI-compatible APIs as `dimensions`, checked on every
                                       answer (default: the model's own, learned from its first answer)
  RAG_EMBED_BATCH                      texts per request, or per forward pass of the local model (default 64, local 32)
  RAG_QUERY_PREFIX                     put before each query, e.g. search_query: for nomic-embed-text (default none)
  RAG_DOCUMENT_PREFIX                  put before each stored text, e.g. search_document: (default none)
  RAG_MODEL_DIR                        directory holding config.json, tokenizer.json and model.safetensors of
                                       all-MiniLM-L6-v2 (default: $XDG_DATA_HOME/mcp-rag/models/all-MiniLM-L6-v2,
                                       else ~/.local/share/mcp-rag/models/all-MiniLM-L6-v2); when it is unusable
                                       (missing, incomplete, damaged) search is lexical-only and says why
  RAG_MODEL_DOWNLOAD                   download the local model (90 MB) into that data directory when it is missing,
                                       in the background: lexical-only until it arrives, then hybrid without a restart;
                                       a failed download is retried after an hour (default true; false: lexical-only)
  RAG_HF_ENDPOINT                      Hugging Face Hub to download from (default https://huggingface.co)
  RAG_EMBEDDING_TIMEOUT_SECS           limit on each call to the embedding API (default 30)
  RAG_EMBEDDING_RETRIES                retries after a failure, 0 to 3 (default 3)
  RAG_EMBEDDING_BREAKER_THRESHOLD      consecutive failures that stop calls to the API for a while (default 5)
  RAG_EMBEDDING_BREAKER_COOLDOWN_SECS  how long calls stay stopped before one is tried again (default 30)";

/// Turns texts into vectors. Vectors of one embedder all have `id().dimension` values.
pub trait Embedder: Send + Sync {
    /// Which provider, model and dimension; stored with each collection.
    fn id(&self) -> &EmbedderId;
    /// One vector per text, in the order of `texts`.
    fn embed_documents<'a>(
        &'a self,
        texts: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Vec<f32>>, EmbedError>>;
    /// The vector of a search query (some models embed queries differently from documents).
    fn embed_query<'a>(&'a self, text: &'a str) -> BoxFuture<'a, Result<Vec<f32>, EmbedError>>;
}

/// Why embedding failed, phrased for a person: which provider, what went wrong, what to check.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EmbedError {
    /// The local model's files are missing or unusable.
    #[error("the local embedding model {model} in {} cannot be used: {detail} — {hint}", dir.display())]
    ModelFiles {
        /// The model, e.g. all-MiniLM-L6-v2.
        model: String,
        /// The directory it was looked for in.
        dir: PathBuf,
        /// What is wrong.
        detail: String,
        /// What to do about it.
        hint: String,
    },
    /// The local model failed while embedding.
    #[error("the local embedding model {model} failed: {detail}")]
    Local {
        /// The model.
        model: String,
        /// What went wrong.
        detail: String,
    },
    /// A remote embedding service failed, after retries; the message names the service, its
    /// endpoint, the cause and what to check.
    #[error(transparent)]
    Remote(#[from] BackendError),
    /// No HTTP client could be set up (the TLS library failed to initialise).
    #[error("cannot set up the HTTP client of the {provider} embedder: {detail}")]
    Client {
        /// `openai` or `ollama`.
        provider: String,
        /// Why.
        detail: String,
    },
    /// The service answered with vectors of another length than expected.
    #[error(
        "{provider} model {model} returned vectors of {found} dimensions, but {expected} were expected ({expected_from}) — {hint}"
    )]
    Dimension {
        /// `local`, `openai` or `ollama`.
        provider: String,
        /// The model.
        model: String,
        /// The expected length.
        expected: usize,
        /// Where the expectation comes from, e.g. "RAG_EMBEDDING_DIMENSIONS".
        expected_from: String,
        /// The length received.
        found: usize,
        /// What to do about it.
        hint: String,
    },
}

/// Which kind of embedder to use (`RAG_EMBEDDER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// all-MiniLM-L6-v2 in-process.
    Local,
    /// An OpenAI-compatible `/embeddings` API.
    OpenAi,
    /// Ollama's `/api/embed`.
    Ollama,
}

impl Provider {
    /// The name used in `RAG_EMBEDDER` and in [`EmbedderId::provider`].
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Local => "local",
            Provider::OpenAi => "openai",
            Provider::Ollama => "ollama",
        }
    }

    /// The model used when `RAG_EMBEDDING_MODEL` is not set.
    pub fn default_model(self) -> &'static str {
        match self {
            Provider::Local => local::MODEL_NAME,
            Provider::OpenAi => "text-embedding-3-small",
            Provider::Ollama => "nomic-embed-text",
        }
    }

    /// The base URL used when `RAG_EMBEDDING_URL` is not set (`None` for local).
    pub fn default_url(self) -> Option<&'static str> {
        match self {
            Provider::Local => None,
            Provider::OpenAi => Some("https://api.openai.com/v1"),
            Provider::Ollama => Some("http://127.0.0.1:11434"),
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything the embedders need, read from the environment by [`EmbedConfig::from_env`].
#[derive(Debug, Clone)]
pub struct EmbedConfig {
    /// Which embedder (`RAG_EMBEDDER`).
    pub provider: Provider,
    /// The model (`RAG_EMBEDDING_MODEL`).
    pub model: String,
    /// Base URL of a remote API without a trailing slash (`RAG_EMBEDDING_URL`); empty for local.
    pub url: String,
    /// Bearer key (`RAG_EMBEDDING_API_KEY`, for openai also `OPENAI_API_KEY`).
    pub api_key: Option<Secret>,
    /// Expected vector length (`RAG_EMBEDDING_DIMENSIONS`).
    pub dimensions: Option<usize>,
    /// Texts per request or forward pass (`RAG_EMBED_BATCH`).
    pub batch: usize,
    /// Put before each query, followed by a space (`RAG_QUERY_PREFIX`); empty for none.
    pub query_prefix: String,
    /// Put before each stored text, followed by a space (`RAG_DOCUMENT_PREFIX`); empty for none.
    pub document_prefix: String,
    /// Timeouts, retries and breaker for remote APIs (`RAG_EMBEDDING_TIMEOUT_SECS` and friends).
    pub backend: BackendConfig,
    /// Where the operator put the local model (`RAG_MODEL_DIR`).
    pub model_dir: Option<PathBuf>,
    /// Where the local model is looked for and downloaded to when `model_dir` is not set:
    /// `$XDG_DATA_HOME/mcp-rag/models/all-MiniLM-L6-v2` (else under `~/.local/share`); `None`
    /// when neither variable is set.
    pub data_dir: Option<PathBuf>,
    /// Whether a missing local model is downloaded (`RAG_MODEL_DOWNLOAD`).
    pub download: bool,
    /// The Hugging Face Hub to download from, without a trailing slash (`RAG_HF_ENDPOINT`).
    pub hf_endpoint: String,
}

/// Largest accepted `RAG_EMBED_BATCH`: bigger requests hit providers' limits (OpenAI takes 2048
/// inputs) and bigger local batches only use more memory.
const MAX_BATCH: usize = 2048;

/// Largest accepted `RAG_EMBEDDING_DIMENSIONS`; real models stay far below.
const MAX_DIMENSIONS: usize = 65_536;

impl EmbedConfig {
    /// Reads the `RAG_EMBEDD*`, `RAG_MODEL_*`, `RAG_*_PREFIX` and `RAG_HF_ENDPOINT` variables
    /// (see [`ENV_HELP`]); errors name the variable and what it must hold.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let provider = match env
            .get("RAG_EMBEDDER")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("local") => Provider::Local,
            Some("openai") => Provider::OpenAi,
            Some("ollama") => Provider::Ollama,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    variable: "RAG_EMBEDDER".into(),
                    expected: "local, openai or ollama".into(),
                    found: Some(other.into()),
                });
            }
        };
        let model = match (provider, env.get("RAG_EMBEDDING_MODEL")) {
            (_, None) => provider.default_model().to_owned(),
            (Provider::Local, Some(name)) => {
                let bare = name.strip_prefix("sentence-transformers/").unwrap_or(name);
                if !bare.eq_ignore_ascii_case(local::MODEL_NAME) {
                    return Err(ConfigError::Invalid {
                        variable: "RAG_EMBEDDING_MODEL".into(),
                        expected: format!(
                            "{} with RAG_EMBEDDER=local, the one model built in (use RAG_EMBEDDER=openai or ollama for others)",
                            local::MODEL_NAME
                        ),
                        found: Some(name.into()),
                    });
                }
                local::MODEL_NAME.to_owned()
            }
            (_, Some(name)) => name.to_owned(),
        };
        let url = match provider.default_url() {
            None => String::new(),
            Some(default) => {
                http_url(env, "RAG_EMBEDDING_URL", default, "the base URL of the API")?
            }
        };
        let api_key = env.secret("RAG_EMBEDDING_API_KEY").or_else(|| {
            // OPENAI_API_KEY is OpenAI's own convention; an Ollama server has no use for it.
            (provider == Provider::OpenAi)
                .then(|| env.secret("OPENAI_API_KEY"))
                .flatten()
        });
        if provider == Provider::OpenAi
            && api_key.is_none()
            && reqwest::Url::parse(&url)
                .ok()
                .and_then(|u| {
                    u.host_str()
                        .map(|h| h.eq_ignore_ascii_case("api.openai.com"))
                })
                .unwrap_or(false)
        {
            return Err(ConfigError::Missing {
                variable: "RAG_EMBEDDING_API_KEY".into(),
                expected: "your OpenAI API key (or set OPENAI_API_KEY), or point RAG_EMBEDDING_URL at another OpenAI-compatible server".into(),
            });
        }
        let dimensions = bounded(
            env,
            "RAG_EMBEDDING_DIMENSIONS",
            1,
            MAX_DIMENSIONS,
            "a vector length from 1 to 65536",
        )?;
        let default_batch = match provider {
            // Local batches are not padded, so their size hardly changes the speed; each 256-token
            // text takes about 4 MB during its pass.
            Provider::Local => 32,
            Provider::OpenAi | Provider::Ollama => 64,
        };
        let batch = bounded(
            env,
            "RAG_EMBED_BATCH",
            1,
            MAX_BATCH,
            "a number of texts from 1 to 2048",
        )?
        .unwrap_or(default_batch);
        Ok(EmbedConfig {
            provider,
            model,
            url,
            api_key,
            dimensions,
            batch,
            query_prefix: env.get("RAG_QUERY_PREFIX").unwrap_or_default().to_owned(),
            document_prefix: env
                .get("RAG_DOCUMENT_PREFIX")
                .unwrap_or_default()
                .to_owned(),
            backend: BackendConfig::from_env(env, "RAG_EMBEDDING")?,
            model_dir: env.get("RAG_MODEL_DIR").map(PathBuf::from),
            data_dir: data_dir(env),
            download: env.flag("RAG_MODEL_DOWNLOAD")?.unwrap_or(true),
            hf_endpoint: http_url(
                env,
                "RAG_HF_ENDPOINT",
                local::DEFAULT_HF_ENDPOINT,
                "the URL of a Hugging Face Hub",
            )?,
        })
    }
}

/// What [`build`] found: an embedder, or none (lexical-only), and a sentence saying which and why.
pub struct Resolution {
    /// The embedder; `None` means no model is reachable and search is lexical-only.
    pub embedder: Option<Arc<dyn Embedder>>,
    /// For the start-up log: what is used and where it came from, or why there is none and how
    /// to provide one.
    pub note: String,
}

impl fmt::Debug for Resolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolution")
            .field("embedder", &self.embedder.as_ref().map(|e| e.id()))
            .field("note", &self.note)
            .finish()
    }
}

/// Builds the configured embedder.
///
/// Local: loads the model from `RAG_MODEL_DIR`, else the data directory, else downloads it there.
/// Remote: asks the service for one embedding to learn the dimension, unless
/// `RAG_EMBEDDING_DIMENSIONS` gives it.
/// `Ok` with no embedder when no model is reachable (offline, download disabled, service down)
/// or `RAG_MODEL_DIR` is unusable (missing, incomplete or damaged files: a placeholder left in a
/// host's configuration must not stop the server), the note saying what to fix;
/// `Err` when the configuration is wrong in a way an operator should fix rather than run without
/// (a refused key, an unknown model, a model in the data directory that does not load).
pub async fn build(config: &EmbedConfig) -> Result<Resolution, EmbedError> {
    match config.provider {
        Provider::Local => local::resolve(config).await,
        Provider::OpenAi | Provider::Ollama => remote::connect(config).await,
    }
}

/// Like [`build`], for a server: never waits for a model download. A missing local model is
/// downloaded in the background (the [`Embedding`] is lexical-only meanwhile, its note saying
/// so with the bytes received, and holds the model once it has arrived); a failed download is
/// tried again only after [`local::RETRY_AFTER`]. Must be called within a tokio runtime.
pub async fn start(config: &EmbedConfig) -> Result<Arc<Embedding>, EmbedError> {
    match config.provider {
        Provider::Local => local::start(config).await,
        Provider::OpenAi | Provider::Ollama => Ok(Embedding::new(remote::connect(config).await?)),
    }
}

/// `text` with `prefix` and a space before it, or `text` itself when there is no prefix.
///
/// The space is added because `Env` trims values, and every prefix convention in use
/// ("search_query: ", "query: ") separates prefix and text with one.
pub(crate) fn prefixed(prefix: &str, text: &str) -> String {
    if prefix.is_empty() {
        text.to_owned()
    } else {
        format!("{prefix} {text}")
    }
}

/// An http(s) URL from `variable`, else `default`, without a trailing slash.
fn http_url(env: &Env, variable: &str, default: &str, what: &str) -> Result<String, ConfigError> {
    let raw = env.get(variable).unwrap_or(default);
    match reqwest::Url::parse(raw) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {
            Ok(raw.trim_end_matches('/').to_owned())
        }
        _ => Err(ConfigError::Invalid {
            variable: variable.into(),
            expected: format!("{what}, starting with http:// or https://"),
            found: Some(raw.into()),
        }),
    }
}

/// An optional whole number within `min..=max`.
fn bounded(
    env: &Env,
    variable: &str,
    min: usize,
    max: usize,
    expected: &str,
) -> Result<Option<usize>, ConfigError> {
    match env.parse::<usize>(variable, expected)? {
        Some(value) if !(min..=max).contains(&value) => Err(ConfigError::Invalid {
            variable: variable.into(),
            expected: expected.into(),
            found: Some(value.to_string()),
        }),
        other => Ok(other),
    }
}

/// `$XDG_DATA_HOME/mcp-rag/models/all-MiniLM-L6-v2`, else the same under `$HOME/.local/share`.
fn data_dir(env: &Env) -> Option<PathBuf> {
    Some(
        env.data_dir()?
            .join("mcp-rag")
            .join("models")
            .join(local::MODEL_NAME),
    )
}

pub(crate) use mcp_common::backend::root_cause;

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Variables for one case.
    type Pairs<'a> = &'a [(&'a str, &'a str)];

    fn config(pairs: Pairs<'_>) -> Result<EmbedConfig, ConfigError> {
        EmbedConfig::from_env(&Env::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn defaults_follow_the_provider() {
        // (RAG_EMBEDDER, model, url, batch)
        let cases = [
            (None, "all-MiniLM-L6-v2", "", 32),
            (Some("LOCAL"), "all-MiniLM-L6-v2", "", 32),
            (
                Some("openai"),
                "text-embedding-3-small",
                "https://api.openai.com/v1",
                64,
            ),
            (
                Some("ollama"),
                "nomic-embed-text",
                "http://127.0.0.1:11434",
                64,
            ),
        ];
        for (embedder, model, url, batch) in cases {
            let mut pairs = vec![("OPENAI_API_KEY", "sk-default-test-key")];
            if let Some(embedder) = embedder {
                pairs.push(("RAG_EMBEDDER", embedder));
            }
            let config = config(&pairs).unwrap();
            assert_eq!(config.model, model, "{embedder:?}");
            assert_eq!(config.url, url, "{embedder:?}");
            assert_eq!(config.batch, batch, "{embedder:?}");
            assert!(config.download);
            assert_eq!(config.hf_endpoint, "https://huggingface.co");
            assert_eq!(config.backend.timeout, Duration::from_secs(30));
            assert_eq!(config.dimensions, None);
        }
    }

    #[test]
    fn errors_name_the_variable() {
        let cases: [(Pairs, &str); 8] = [
            (
                &[("RAG_EMBEDDER", "bert")],
                "RAG_EMBEDDER must be local, openai or ollama",
            ),
            (
                &[("RAG_EMBEDDING_MODEL", "bge-small")],
                "RAG_EMBEDDING_MODEL must be all-MiniLM-L6-v2 with RAG_EMBEDDER=local",
            ),
            (
                &[
                    ("RAG_EMBEDDER", "ollama"),
                    ("RAG_EMBEDDING_URL", "localhost:11434"),
                ],
                "RAG_EMBEDDING_URL must be the base URL of the API, starting with http:// or https://",
            ),
            (
                &[("RAG_EMBEDDING_DIMENSIONS", "0")],
                "RAG_EMBEDDING_DIMENSIONS must be a vector length from 1 to 65536 (found \"0\")",
            ),
            (
                &[("RAG_EMBED_BATCH", "lots")],
                "RAG_EMBED_BATCH must be a number of texts from 1 to 2048",
            ),
            (
                &[("RAG_MODEL_DOWNLOAD", "maybe")],
                "RAG_MODEL_DOWNLOAD must be true or false",
            ),
            (
                &[("RAG_HF_ENDPOINT", "hf.co")],
                "RAG_HF_ENDPOINT must be the URL of a Hugging Face Hub",
            ),
            (
                &[("RAG_EMBEDDING_RETRIES", "9")],
                "RAG_EMBEDDING_RETRIES must be a whole number from 0 to 3",
            ),
        ];
        for (pairs, expected) in cases {
            let error = config(pairs).unwrap_err().to_string();
            assert!(error.contains(expected), "{pairs:?}: {error}");
        }
    }

    #[test]
    fn openai_needs_a_key_only_at_openai() {
        let error = config(&[("RAG_EMBEDDER", "openai")])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(
                "set RAG_EMBEDDING_API_KEY to your OpenAI API key (or set OPENAI_API_KEY)"
            ),
            "{error}"
        );
        let fallback = config(&[
            ("RAG_EMBEDDER", "openai"),
            ("OPENAI_API_KEY", "sk-fallback-key-123"),
        ])
        .unwrap();
        assert_eq!(
            fallback.api_key.as_ref().map(Secret::expose),
            Some("sk-fallback-key-123")
        );
        assert!(!format!("{fallback:?}").contains("sk-fallback-key-123"));
        let own = config(&[
            ("RAG_EMBEDDER", "openai"),
            ("OPENAI_API_KEY", "sk-fallback-key-123"),
            ("RAG_EMBEDDING_API_KEY", "sk-own-key-456"),
        ])
        .unwrap();
        assert_eq!(
            own.api_key.as_ref().map(Secret::expose),
            Some("sk-own-key-456")
        );
        let vllm = config(&[
            ("RAG_EMBEDDER", "openai"),
            ("RAG_EMBEDDING_URL", "http://127.0.0.1:8000/v1/"),
        ])
        .unwrap();
        assert_eq!(vllm.url, "http://127.0.0.1:8000/v1");
        assert!(vllm.api_key.is_none());
        let ollama = config(&[
            ("RAG_EMBEDDER", "ollama"),
            ("OPENAI_API_KEY", "sk-not-for-ollama"),
        ])
        .unwrap();
        assert!(ollama.api_key.is_none(), "OPENAI_API_KEY is OpenAI's");
    }

    #[test]
    fn data_dir_follows_xdg() {
        let cases: [(Pairs, Option<&str>); 4] = [
            (
                &[("XDG_DATA_HOME", "/data"), ("HOME", "/home/ana")],
                Some("/data/mcp-rag/models/all-MiniLM-L6-v2"),
            ),
            (
                &[("HOME", "/home/ana")],
                Some("/home/ana/.local/share/mcp-rag/models/all-MiniLM-L6-v2"),
            ),
            (
                &[("XDG_DATA_HOME", "relative/dir"), ("HOME", "/home/ana")],
                Some("/home/ana/.local/share/mcp-rag/models/all-MiniLM-L6-v2"),
            ),
            (&[], None),
        ];
        for (pairs, expected) in cases {
            let config = config(pairs).unwrap();
            assert_eq!(config.data_dir, expected.map(PathBuf::from), "{pairs:?}");
        }
    }

    #[test]
    fn prefixes_are_followed_by_one_space() {
        let config = config(&[
            ("RAG_QUERY_PREFIX", "search_query: "),
            ("RAG_DOCUMENT_PREFIX", "search_document:"),
        ])
        .unwrap();
        assert_eq!(prefixed(&config.query_prefix, "cats"), "search_query: cats");
        assert_eq!(
            prefixed(&config.document_prefix, "cats"),
            "search_document: cats"
        );
        assert_eq!(prefixed("", "cats"), "cats");
    }

    #[test]
    fn env_help_lists_every_variable() {
        for variable in [
            "RAG_EMBEDDER",
            "RAG_EMBEDDING_MODEL",
            "RAG_EMBEDDING_URL",
            "RAG_EMBEDDING_API_KEY",
            "OPENAI_API_KEY",
            "RAG_EMBEDDING_DIMENSIONS",
            "RAG_EMBED_BATCH",
            "RAG_QUERY_PREFIX",
            "RAG_DOCUMENT_PREFIX",
            "RAG_MODEL_DIR",
            "RAG_MODEL_DOWNLOAD",
            "RAG_HF_ENDPOINT",
            "XDG_DATA_HOME",
            "RAG_EMBEDDING_TIMEOUT_SECS",
            "RAG_EMBEDDING_RETRIES",
            "RAG_EMBEDDING_BREAKER_THRESHOLD",
            "RAG_EMBEDDING_BREAKER_COOLDOWN_SECS",
        ] {
            assert!(ENV_HELP.contains(variable), "{variable}");
        }
        for line in ENV_HELP.lines() {
            assert!(line.len() <= 120, "too long for a terminal: {line}");
        }
    }
}
