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
pub mod store;
pub mod tools;

use std::sync::Arc;

use mcp_common::Env;

pub use tools::Rag;

use crate::config::{RagConfig, StoreChoice};
use crate::store::Store;
use crate::tools::RagService;

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
pub async fn open(env: Env) -> Result<Rag, String> {
    let config = RagConfig::from_env(&env).map_err(|e| e.to_string())?;
    let ingest = ingest::IngestConfig::from_env(&env).map_err(|e| e.to_string())?;
    let embed_config = embed::EmbedConfig::from_env(&env).map_err(|e| e.to_string())?;
    let (store, store_label): (Arc<dyn Store>, String) = match &config.store {
        StoreChoice::Sqlite { path } => {
            let store = store::sqlite::SqliteStore::open(path.clone())
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
            let qdrant = store::qdrant::QdrantConfig::from_env(&env).map_err(|e| e.to_string())?;
            let label = format!("Qdrant at {}", qdrant.url);
            let store = store::qdrant::QdrantStore::new(qdrant).map_err(|e| e.to_string())?;
            (Arc::new(store), label)
        }
    };
    let resolution = embed::build(&embed_config)
        .await
        .map_err(|e| e.to_string())?;
    if resolution.embedder.is_none() {
        tracing::warn!(note = %resolution.note, "no embedding model: running lexical-only");
    } else {
        tracing::info!(note = %resolution.note, "embeddings ready");
    }
    Ok(Rag::new(RagService {
        store,
        store_label,
        embedder: resolution.embedder,
        embedder_note: resolution.note,
        ingest,
        config,
    }))
}
