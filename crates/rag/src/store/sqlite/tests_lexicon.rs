//! The lexical index against FTS5 (its oracle): the same chunks in the same order with the same
//! scores, for short and long queries, split words, accents, filters, and after upserts and
//! deletes; and its pruned search against its exhaustive one, likewise.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;

use super::filter::Admitted;
use super::{IndexSettings, SqliteStore, derived, ops};
use crate::model::{Chunk, Condition, Filter, Position, SearchMode, SearchRequest, Selector};
use crate::store::Store;

/// A word list with accents, codes that the tokenizer splits (some into a token repeated, whose
/// phrases overlap), and words of every frequency.
const WORDS: &[&str] = &[
    "protein",
    "cell",
    "cells",
    "patients",
    "risk",
    "cancer",
    "mouse",
    "gene",
    "expression",
    "café",
    "cafe",
    "Facturación",
    "naïve",
    "INV-2024-0042",
    "e-mail",
    "covid-19",
    "T-cell",
    "cell-cell",
    "x-x-x",
    "the",
    "of",
    "and",
    "in",
    "with",
    "increased",
    "reduced",
    "therapy",
    "dose",
    "mortality",
    "β-catenin",
    "İstanbul",
    "straße",
    "ΑΘΗΝΑ",
    "日本語",
    "x",
    "NOT",
    "OR",
    "NEAR",
    "*",
    "\"quoted\"",
];

/// Seeded text of `length` words, skewed towards the first words of [`WORDS`].
fn text(state: &mut u64, length: usize) -> String {
    (0..length)
        .map(|_| {
            *state ^= *state << 13;
            *state ^= *state >> 7;
            *state ^= *state << 17;
            let skewed = ((*state % 1000) as f64 / 1000.0).powi(2);
            WORDS[(skewed * WORDS.len() as f64) as usize % WORDS.len()]
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn chunk(i: usize, text: String) -> Chunk {
    let metadata: BTreeMap<String, serde_json::Value> =
        serde_json::from_value(json!({ "group": i % 4 })).unwrap();
    Chunk {
        id: format!("c{i}"),
        text,
        source: None,
        position: Position::default(),
        metadata,
        content_hash: None,
    }
}

fn lexical(text: &str, k: usize, filter: Option<Filter>) -> SearchRequest {
    SearchRequest {
        text: text.to_owned(),
        vector: None,
        k,
        filter,
        mode: SearchMode::Lexical,
        score_threshold: None,
    }
}

/// Asserts that the index and FTS5 answer `request` alike, to the last bit of every score.
async fn same_as_fts5(store: &SqliteStore, request: SearchRequest) {
    let indexed = store.search("lex", request.clone()).await.unwrap();
    let oracle = store.search_exact("lex", request.clone()).await.unwrap();
    let shown = |hits: &[crate::model::Hit]| -> Vec<(String, f64)> {
        hits.iter().map(|h| (h.chunk.id.clone(), h.score)).collect()
    };
    assert_eq!(shown(&indexed), shown(&oracle), "query {:?}", request.text);
}

/// A store in `directory` whose collection `lex` gets its lexical index from 100 chunks on,
/// built in step with the writes (no background build to wait for).
async fn indexed_store(directory: &tempfile::TempDir) -> SqliteStore {
    let settings = IndexSettings {
        min_chunks: 100,
        build_in_background: false,
        ..IndexSettings::default()
    };
    let store = SqliteStore::open_with(directory.path().join("rag.db"), settings)
        .await
        .unwrap();
    store.create_collection("lex", None).await.unwrap();
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lexicon_matches_fts5() {
    let directory = tempfile::tempdir().unwrap();
    let store = indexed_store(&directory).await;
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut chunks: Vec<Chunk> = (0..600)
        .map(|i| {
            let length = 5 + (i * 37) % 120;
            chunk(i, text(&mut state, length))
        })
        .collect();
    // A word 300 times in one chunk (counts past 255), and an empty one.
    chunks.push(chunk(600, vec!["protein"; 300].join(" ")));
    chunks.push(chunk(601, String::new()));
    // Phrases past position 16,384 (three bytes a gap).
    chunks.push(chunk(
        602,
        format!(
            "{} T-cell cell-cell x-x-x",
            vec!["filler"; 17_000].join(" ")
        ),
    ));
    for batch in chunks.chunks(64) {
        store
            .upsert("lex", batch.to_vec(), Vec::new())
            .await
            .unwrap();
    }
    let info = store.lexical_info("lex").await.unwrap().unwrap();
    assert_eq!(info.live, 603);

    let mut queries: Vec<String> = WORDS.iter().map(|w| (*w).to_owned()).collect();
    queries.extend((0..40).map(|i| text(&mut state, 2 + i)));
    queries.push("INV-2024-0042 e-mail covid-19 about nothing stored: zzz".to_owned());
    queries.push("CAFE naive facturacion STRASSE istanbul".to_owned());
    queries.push("x-x cell-cell-cell x-x-x-x T-cell-cell".to_owned());
    let check = |store: &SqliteStore, queries: Vec<String>| {
        let store = store.clone();
        async move {
            for query in &queries {
                same_as_fts5(&store, lexical(query, 50, None)).await;
                same_as_fts5(&store, lexical(query, 3, None)).await;
                let group = Filter {
                    must: vec![Condition {
                        key: "group".to_owned(),
                        any_of: vec![json!(1)],
                        gte: None,
                        lte: None,
                    }],
                };
                same_as_fts5(&store, lexical(query, 20, Some(group))).await;
            }
        }
    };
    check(&store, queries.clone()).await;
    let used = store.lexical_info("lex").await.unwrap().unwrap().searches;
    assert_eq!(used, 3 * queries.len() as u64, "some searches went to FTS5");

    // Kept in step: replaced texts, deleted chunks, new chunks.
    let replaced: Vec<Chunk> = (0..100)
        .step_by(3)
        .map(|i| chunk(i, text(&mut state, 40)))
        .collect();
    store.upsert("lex", replaced, Vec::new()).await.unwrap();
    let gone: Vec<String> = (100..200).step_by(2).map(|i| format!("c{i}")).collect();
    store.delete("lex", Selector::Ids(gone)).await.unwrap();
    let fresh: Vec<Chunk> = (700..760).map(|i| chunk(i, text(&mut state, 30))).collect();
    store.upsert("lex", fresh, Vec::new()).await.unwrap();
    let info = store.lexical_info("lex").await.unwrap().unwrap();
    assert_eq!(info.live, 603 - 50 + 60);
    check(&store, queries.clone()).await;
    let after = store.lexical_info("lex").await.unwrap().unwrap().searches;
    assert_eq!(after - used, 3 * queries.len() as u64);
}

/// Asserts that the pruned search ranks every query as the exhaustive one does, to the last bit
/// of every score, at several depths and under several filters; answers how many of the
/// searches pruned.
async fn pruned_as_exhaustive(store: &SqliteStore, queries: Vec<String>) -> u64 {
    let inner = Arc::clone(&store.inner);
    store
        .read(move |connection| {
            let collection = ops::collection_row(connection, "lex")?;
            let lexicon = inner.lexicons.get(collection.id).unwrap();
            let lexicon = derived::read(&lexicon);
            let pks: Vec<i64> = connection
                .prepare("SELECT pk FROM chunks WHERE collection_id = ? ORDER BY pk")
                .unwrap()
                .query_map([collection.id], |row| row.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let every = |step: usize| -> Admitted { pks.iter().step_by(step).copied().collect() };
            // None, half, a seventh, and fewer chunks than the deepest ranking.
            let filters = [
                None,
                Some(every(2)),
                Some(every(7)),
                Some(every(pks.len() / 5)),
            ];
            let before = lexicon.pruned_searches();
            for query in &queries {
                for depth in [1, 3, 10, 50] {
                    for allowed in &filters {
                        let pruned = lexicon
                            .search(collection.generation, query, allowed.as_ref(), depth)
                            .unwrap()
                            .expect("the lexical index is behind");
                        let exhaustive = lexicon
                            .search_exhaustive(
                                (connection, collection.id),
                                query,
                                allowed.as_ref(),
                                depth,
                            )
                            .unwrap();
                        let bits = |ranking: &[(i64, f64)]| -> Vec<(i64, u64)> {
                            ranking
                                .iter()
                                .map(|(pk, score)| (*pk, score.to_bits()))
                                .collect()
                        };
                        assert_eq!(
                            bits(&pruned),
                            bits(&exhaustive),
                            "query {query:?}, depth {depth}, filter of {:?} chunks",
                            allowed.as_ref().map(Admitted::len)
                        );
                    }
                }
            }
            Ok(lexicon.pruned_searches() - before)
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruned_search_matches_exhaustive() {
    let directory = tempfile::tempdir().unwrap();
    let store = indexed_store(&directory).await;
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    // Each text three times (as SciFact repeated is), so many scores tie and the pk decides.
    let texts: Vec<String> = (0..300)
        .map(|i| text(&mut state, 3 + (i * 53) % 90))
        .collect();
    let mut chunks: Vec<Chunk> = (0..900)
        .map(|i| chunk(i, texts[i % texts.len()].clone()))
        .collect();
    chunks.push(chunk(900, vec!["mortality"; 300].join(" ")));
    for batch in chunks.chunks(100) {
        store
            .upsert("lex", batch.to_vec(), Vec::new())
            .await
            .unwrap();
    }
    // Long queries (SciFact's claims have 10 to 20 terms) and short ones.
    let mut queries: Vec<String> = (0..60)
        .map(|i| text(&mut state, 1 + (i * 7) % 40))
        .collect();
    queries.push("mortality dose therapy covid-19 T-cell".to_owned());
    queries.push("Facturación INV-2024-0042 cafe naïve zzz".to_owned());
    queries.push("x-x cell-cell x-x-x therapy".to_owned());
    let pruned = pruned_as_exhaustive(&store, queries.clone()).await;
    assert!(pruned > 0, "no search pruned");

    // Tombstones (replaced and deleted chunks) and longer chunks, which raise the average
    // length past the one the terms' bounds were taken at.
    let replaced: Vec<Chunk> = (0..300)
        .step_by(4)
        .map(|i| chunk(i, text(&mut state, 60)))
        .collect();
    store.upsert("lex", replaced, Vec::new()).await.unwrap();
    let gone: Vec<String> = (300..600).step_by(3).map(|i| format!("c{i}")).collect();
    store.delete("lex", Selector::Ids(gone)).await.unwrap();
    let longer: Vec<Chunk> = (1000..1100)
        .map(|i| chunk(i, text(&mut state, 200)))
        .collect();
    store.upsert("lex", longer, Vec::new()).await.unwrap();
    let pruned = pruned_as_exhaustive(&store, queries).await;
    assert!(pruned > 0, "no search pruned after the changes");
}
