//! The rag MCP server: memory and retrieval for agents. It keeps the Python prototype's
//! `memorizar_informacion(texto)` and `recuperar_contexto(pregunta)`, and adds `store`, `ingest`
//! (txt, md, html, pdf, docx with citations), `search` (hybrid BM25 + vectors fused by
//! reciprocal rank, dense, or lexical, with metadata filters), `read_chunk`, `delete` and
//! collection tools.
//!
//! Chunks live in an embedded SQLite file (FTS5 + sqlite-vec) by default, or in Qdrant
//! (`QDRANT_URL`). Embeddings come from all-MiniLM-L6-v2 run in-process with candle, an
//! OpenAI-compatible endpoint or Ollama; with no model reachable the server runs lexical-only and
//! says so. Settings: `RAG_*` (see [`config`], [`embed`], [`ingest`]) and `QDRANT_*`.

pub mod config;
pub mod embed;
pub mod ingest;
mod ingesting;
pub mod model;
pub mod service;
pub mod store;
pub mod tools;
mod upgrade;

use std::sync::Arc;

use mcp_common::{ConfigError, Env, StartError};

pub use tools::Rag;

use crate::config::{RagConfig, StoreChoice};
use crate::service::RagService;
use crate::store::Store;

/// Every `--help` line of this server's variables.
pub fn env_help() -> String {
    [
        config::ENV_HELP,
        embed::ENV_HELP,
        ingest::ENV_HELP,
        store::qdrant::QDRANT_ENV_HELP,
    ]
    .iter()
    .map(|section| section.trim_end())
    .collect::<Vec<_>>()
    .join("\n")
}

/// Reads the configuration, opens the store and resolves the embedder.
pub async fn open(env: Env) -> Result<Rag, StartError> {
    let config = RagConfig::from_env(&env)?;
    let ingest = ingest::IngestConfig::from_env(&env)?;
    // An unusable root disables only itself; the warning is the operator's first sign of it.
    for root in &ingest.unavailable_roots {
        tracing::warn!(root = %root.configured, "{}", root.describe());
    }
    let embed_config = embed::EmbedConfig::from_env(&env)?;
    let (store, store_label): (Arc<dyn Store>, String) = match &config.store {
        StoreChoice::Sqlite { path } => {
            let index = index_settings(&env)?;
            let store = store::sqlite::SqliteStore::open_with(path.clone(), index)
                .await
                .map_err(|e| {
                    format!(
                        "could not open the store at {} (RAG_DB_PATH): {e}",
                        path.display()
                    )
                })?;
            (
                Arc::new(store),
                format!("embedded SQLite at {}", path.display()),
            )
        }
        StoreChoice::Qdrant => {
            let qdrant = store::qdrant::QdrantConfig::from_env(&env)?;
            let label = format!("Qdrant at {}", qdrant.url);
            let store = store::qdrant::QdrantStore::new(qdrant).map_err(|e| e.to_string())?;
            (Arc::new(store), label)
        }
    };
    // Never waits for the network: a missing model downloads in the background while the
    // server answers lexically, and takes over when it has arrived.
    let embedding = embed::start(&embed_config)
        .await
        .map_err(|e| e.to_string())?;
    let current = embedding.current();
    if current.embedder.is_none() {
        tracing::warn!(note = %current.note, "no embedding model: running lexical-only");
    } else {
        tracing::info!(note = %current.note, "embeddings ready");
    }
    let upgrades = upgrade::Upgrades::new(Arc::clone(&store));
    tokio::spawn(upgrade_when_embedding(
        Arc::clone(&embedding),
        Arc::clone(&upgrades),
        current.embedder.is_some(),
    ));
    Ok(Rag::new(RagService {
        store,
        store_label,
        embedding,
        upgrades,
        ingest,
        config,
    }))
}

/// The embedded store's derived indexes as the environment sets them: built in the background
/// (SQLite answers meanwhile) and kept in step with writes; `RAG_ANN_MIN_CHUNKS` moves the
/// threshold, or turns them off with "off"; `RAG_ANN_EF_SEARCH` fixes the graph's search width,
/// which otherwise grows with the collection. Public so that the bench reads the variables as
/// the server does.
pub fn index_settings(env: &Env) -> Result<store::sqlite::IndexSettings, ConfigError> {
    let defaults = store::sqlite::IndexSettings::default();
    let min_chunks = match env.get("RAG_ANN_MIN_CHUNKS") {
        Some(value) if value.trim().eq_ignore_ascii_case("off") => usize::MAX,
        _ => env
            .parse::<usize>("RAG_ANN_MIN_CHUNKS", "a number of chunks, or off")?
            .unwrap_or(defaults.min_chunks),
    };
    const EF_EXPECTED: &str = "a whole number from 1 to 100000 (the graph's candidate list)";
    let ef_search = match env.parse::<usize>("RAG_ANN_EF_SEARCH", EF_EXPECTED)? {
        // Beyond 100000 a search visits most of any collection this store holds well: a typo,
        // not a setting.
        Some(ef @ 1..=100_000) => Some(ef),
        Some(ef) => {
            return Err(ConfigError::Invalid {
                variable: "RAG_ANN_EF_SEARCH".into(),
                expected: EF_EXPECTED.into(),
                found: Some(ef.to_string()),
            });
        }
        None => defaults.ef_search,
    };
    Ok(store::sqlite::IndexSettings {
        min_chunks,
        ef_search,
        ..defaults
    })
}

/// Once there is an embedder (at start-up, or when the download ends), gives every
/// lexical-only collection its vectors, so memories kept while no model was there are found by
/// meaning too.
async fn upgrade_when_embedding(
    embedding: Arc<embed::Embedding>,
    upgrades: Arc<upgrade::Upgrades>,
    at_start: bool,
) {
    let mut changes = embedding.subscribe();
    let Ok(current) = changes
        .wait_for(|current| current.embedder.is_some())
        .await
        .map(|current| current.clone())
    else {
        return;
    };
    drop(changes);
    if let Some(embedder) = current.embedder {
        if !at_start {
            tracing::info!(note = %current.note, "the embedding model has arrived: search is hybrid from now on");
        }
        upgrades.all(embedder).await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use mcp_common::Domain;
    use mcp_common::health::Readiness;
    use rmcp::ServerHandler;

    use super::*;

    /// servers.json's placeholders (`RAG_MODEL_DIR`, `RAG_INGEST_ROOTS`) leave a server that
    /// starts, runs lexical-only with ingest disabled, and says why in its instructions and in
    /// every readiness detail, while staying ready.
    #[tokio::test]
    async fn servers_json_placeholders_do_not_stop_start_up() {
        let data = tempfile::tempdir().unwrap();
        let home = data.path().to_str().unwrap();
        let rag = open(Env::from_pairs([
            ("RAG_MODEL_DIR", "/path/to/all-MiniLM-L6-v2"),
            ("RAG_INGEST_ROOTS", "/home/you/Documents"),
            ("HOME", home),
            ("XDG_DATA_HOME", home),
        ]))
        .await
        .unwrap_or_else(|error| panic!("start-up failed: {error}"));
        let model_note = "RAG_MODEL_DIR is /path/to/all-MiniLM-L6-v2, which does not exist";
        let root_note = "/home/you/Documents is configured in RAG_INGEST_ROOTS but does not exist";
        let instructions = rag.get_info().instructions.unwrap_or_default();
        assert!(instructions.contains(model_note), "{instructions}");

        let report = Readiness::new(rag.probes(), Duration::ZERO).report().await;
        assert!(report.ready, "{report:?}");
        let detail = |name: &str| {
            report
                .checks
                .iter()
                .find(|check| check.name == name)
                .map(|check| check.detail.clone())
                .unwrap_or_else(|| panic!("no {name} probe in {report:?}"))
        };
        let embeddings = detail("embeddings");
        assert!(
            embeddings.starts_with("lexical-only: ") && embeddings.contains(model_note),
            "{embeddings}"
        );
        let ingest = detail("ingest");
        assert!(ingest.contains(root_note), "{ingest}");
    }

    /// `RAG_ANN_EF_SEARCH` unset leaves the width to the graph's size; set, it is carried to
    /// the store; zero, too large or not a number is refused naming the variable.
    #[test]
    fn ef_search_comes_from_the_environment() {
        let settings = |value: Option<&str>| {
            let pairs: Vec<(&str, &str)> = value
                .map(|value| ("RAG_ANN_EF_SEARCH", value))
                .into_iter()
                .collect();
            index_settings(&Env::from_pairs(pairs))
        };
        assert_eq!(settings(None).unwrap().ef_search, None);
        assert_eq!(settings(Some("")).unwrap().ef_search, None);
        assert_eq!(settings(Some(" 200 ")).unwrap().ef_search, Some(200));
        assert_eq!(settings(Some("100000")).unwrap().ef_search, Some(100_000));
        for wrong in ["0", "100001", "-5", "wide", "1.5"] {
            let error = settings(Some(wrong)).unwrap_err().to_string();
            assert!(
                error.contains("RAG_ANN_EF_SEARCH") && error.contains(wrong),
                "{wrong}: {error}"
            );
        }
        // The other setting is still read beside it.
        let both = index_settings(&Env::from_pairs([
            ("RAG_ANN_MIN_CHUNKS", "off"),
            ("RAG_ANN_EF_SEARCH", "96"),
        ]))
        .unwrap();
        assert_eq!((both.min_chunks, both.ef_search), (usize::MAX, Some(96)));
    }
}
