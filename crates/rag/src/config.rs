//! Configuration of the rag server (`RAG_*` and `QDRANT_*` variables), beyond the embedder's and
//! the ingestion's own settings.

use std::path::PathBuf;

use mcp_common::{ConfigError, Env};

use crate::store::relevance::DEFAULT_MIN_RELEVANCE;

/// Which store holds the chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChoice {
    /// The embedded SQLite file (default).
    Sqlite {
        /// The database file.
        path: PathBuf,
    },
    /// A Qdrant server or cluster.
    Qdrant,
}

/// The server's own settings.
#[derive(Debug, Clone)]
pub struct RagConfig {
    /// Where chunks live.
    pub store: StoreChoice,
    /// The collection used when a tool is not given one (and by the prototype's two tools).
    pub default_collection: String,
    /// Passages returned when a search does not say how many.
    pub default_k: usize,
    /// Passages less relevant than this (0 to 1, see [`crate::store::relevance`]) are left out
    /// of search results, so that a query about nothing stored answers that nothing relevant was
    /// found rather than the least unrelated passages.
    pub min_relevance: f64,
}

/// The `--help` lines for this server's own variables.
pub const ENV_HELP: &str = "\
rag settings:
  RAG_STORE                   sqlite (default; the embedded store) or qdrant (default when QDRANT_URL is set)
  RAG_DB_PATH                 the embedded store's file (default: $XDG_DATA_HOME/mcp-rag/rag.db,
                              else ~/.local/share/mcp-rag/rag.db)
  RAG_ANN_MIN_CHUNKS          collections of the embedded store with at least this many chunks get
                              in-memory indexes: an HNSW graph for dense search and BM25 postings for
                              lexical search (default 5000; off: none, SQLite's exact scan and FTS5).
                              They are built in the background, SQLite answering meanwhile, and kept
                              in step with every write; the graph is saved beside the database file
  RAG_ANN_EF_SEARCH           the HNSW graph's candidate list while searching, 1 to 100000 (default:
                              64 up to 100k chunks, growing to 768 at a million and at most 1024;
                              wider finds more of the true nearest chunks, more slowly)
  RAG_DEFAULT_COLLECTION      collection used when a tool names none (default memory)
  RAG_DEFAULT_K               passages returned when a search gives no k (default 5, at most 50)
  RAG_MIN_RELEVANCE           passages less relevant than this, from 0 to 1, are left out of results
                              (default 0.25; cosine similarity for vectors, squared share of the
                              query's words for BM25; 0 keeps every passage found)";

/// The largest `k` a search may ask for.
pub const MAX_K: usize = 50;

impl RagConfig {
    /// Reads the settings.
    pub fn from_env(env: &Env) -> Result<RagConfig, ConfigError> {
        let store = match env.get("RAG_STORE").map(str::to_ascii_lowercase).as_deref() {
            Some("qdrant") => StoreChoice::Qdrant,
            None if env.get("QDRANT_URL").is_some() => StoreChoice::Qdrant,
            None | Some("sqlite") => StoreChoice::Sqlite {
                path: db_path(env)?,
            },
            Some(other) => {
                return Err(ConfigError::Invalid {
                    variable: "RAG_STORE".into(),
                    expected: "sqlite or qdrant".into(),
                    found: Some(other.into()),
                });
            }
        };
        let default_collection = env
            .get("RAG_DEFAULT_COLLECTION")
            .unwrap_or("memory")
            .to_owned();
        if !is_collection_name(&default_collection) {
            return Err(ConfigError::Invalid {
                variable: "RAG_DEFAULT_COLLECTION".into(),
                expected: "1 to 64 letters, digits, `_` or `-`".into(),
                found: Some(default_collection),
            });
        }
        let default_k = env
            .parse::<usize>("RAG_DEFAULT_K", "a whole number from 1 to 50")?
            .unwrap_or(5);
        if !(1..=MAX_K).contains(&default_k) {
            return Err(ConfigError::Invalid {
                variable: "RAG_DEFAULT_K".into(),
                expected: "a whole number from 1 to 50".into(),
                found: Some(default_k.to_string()),
            });
        }
        let min_relevance = env
            .parse::<f64>("RAG_MIN_RELEVANCE", "a number from 0 to 1")?
            .unwrap_or(DEFAULT_MIN_RELEVANCE);
        if !(0.0..=1.0).contains(&min_relevance) {
            return Err(ConfigError::Invalid {
                variable: "RAG_MIN_RELEVANCE".into(),
                expected: "a number from 0 to 1".into(),
                found: Some(min_relevance.to_string()),
            });
        }
        Ok(RagConfig {
            store,
            default_collection,
            default_k,
            min_relevance,
        })
    }
}

/// Whether `name` is a valid collection name.
pub fn is_collection_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn db_path(env: &Env) -> Result<PathBuf, ConfigError> {
    if let Some(path) = env.get("RAG_DB_PATH") {
        return Ok(PathBuf::from(path));
    }
    let data = env.data_dir().ok_or_else(|| ConfigError::Missing {
        variable: "RAG_DB_PATH".into(),
        expected: "the path of the store file (no HOME or XDG_DATA_HOME to choose a default)"
            .into(),
    })?;
    Ok(data.join("mcp-rag").join("rag.db"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_choice_and_errors_name_the_variable() {
        let config = RagConfig::from_env(&Env::from_pairs([("HOME", "/h")])).unwrap();
        assert_eq!(
            config.store,
            StoreChoice::Sqlite {
                path: PathBuf::from("/h/.local/share/mcp-rag/rag.db")
            }
        );
        let config =
            RagConfig::from_env(&Env::from_pairs([("QDRANT_URL", "http://127.0.0.1:6334")]))
                .unwrap();
        assert_eq!(config.store, StoreChoice::Qdrant);
        let error =
            RagConfig::from_env(&Env::from_pairs([("HOME", "/h"), ("RAG_DEFAULT_K", "500")]))
                .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("RAG_DEFAULT_K must be a whole number from 1 to 50"),
            "{error}"
        );
        assert_eq!(config.min_relevance, DEFAULT_MIN_RELEVANCE);
        let config = RagConfig::from_env(&Env::from_pairs([
            ("HOME", "/h"),
            ("RAG_MIN_RELEVANCE", "0"),
        ]))
        .unwrap();
        assert_eq!(config.min_relevance, 0.0);
        for bad in ["1.5", "-0.1", "NaN", "high"] {
            let error = RagConfig::from_env(&Env::from_pairs([
                ("HOME", "/h"),
                ("RAG_MIN_RELEVANCE", bad),
            ]))
            .unwrap_err();
            assert!(
                error
                    .to_string()
                    .contains("RAG_MIN_RELEVANCE must be a number from 0 to 1"),
                "{bad}: {error}"
            );
        }
        let error = RagConfig::from_env(&Env::from_pairs([("HOME", "/h"), ("RAG_STORE", "redis")]))
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("RAG_STORE must be sqlite or qdrant"),
            "{error}"
        );
    }
}
