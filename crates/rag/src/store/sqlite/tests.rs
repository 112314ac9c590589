//! The shared behaviour suite against the SQLite store, and what only this backend promises:
//! durability across reopening, WAL sharing between instances, accent folding, phrase boosts,
//! atomic batches.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Value, json};

use super::SqliteStore;
use crate::model::{Chunk, Condition, EmbedderId, Filter, Position, SearchMode, SearchRequest};
use crate::store::behaviour::{self, Fixture, behaviour_tests};
use crate::store::{Store, StoreError};

/// A store in a fresh temporary directory.
async fn fixture() -> Option<Fixture> {
    let directory = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(directory.path().join("rag.db"))
        .await
        .unwrap();
    Some(Fixture {
        store: Box::new(store),
        _keep: Box::new(directory),
    })
}

behaviour_tests!(fixture);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_behaviours_share_one_store() {
    let fixture = fixture().await.unwrap();
    behaviour::run_all(fixture.store.as_ref()).await;
    // Every behaviour cleans up after itself.
    assert!(fixture.store.list_collections().await.unwrap().is_empty());
}

fn embedder(dimension: usize) -> EmbedderId {
    EmbedderId {
        provider: "test".to_owned(),
        model: "synthetic".to_owned(),
        dimension,
    }
}

fn chunk(id: &str, text: &str, source: Option<&str>, metadata: Value) -> Chunk {
    let metadata: BTreeMap<String, Value> = serde_json::from_value(metadata).unwrap();
    Chunk {
        id: id.to_owned(),
        text: text.to_owned(),
        source: source.map(str::to_owned),
        position: Position::default(),
        metadata,
        content_hash: None,
    }
}

fn lexical(text: &str, k: usize) -> SearchRequest {
    SearchRequest {
        text: text.to_owned(),
        vector: None,
        k,
        filter: None,
        mode: SearchMode::Lexical,
        score_threshold: None,
    }
}

fn dense(vector: Vec<f32>, k: usize, filter: Option<Filter>) -> SearchRequest {
    SearchRequest {
        text: String::new(),
        vector: Some(vector),
        k,
        filter,
        mode: SearchMode::Dense,
        score_threshold: None,
    }
}

fn temp_path() -> (tempfile::TempDir, PathBuf) {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("nested").join("rag.db");
    (directory, path)
}

async fn seed(store: &SqliteStore) {
    store
        .create_collection("docs", Some(&embedder(4)))
        .await
        .unwrap();
    store.create_collection("notes", None).await.unwrap();
    store
        .upsert(
            "docs",
            vec![
                chunk("a", "durable text survives", Some("a.md"), json!({"n": 1})),
                chunk("b", "another durable line", Some("a.md"), json!({"n": 2})),
            ],
            vec![vec![1.0, 0.0, 0.0, 0.0], vec![0.0, 1.0, 0.0, 0.0]],
        )
        .await
        .unwrap();
    store
        .upsert(
            "notes",
            vec![chunk("n", "a durable note", None, json!({}))],
            Vec::new(),
        )
        .await
        .unwrap();
    store
        .delete("docs", crate::model::Selector::Ids(vec!["b".to_owned()]))
        .await
        .unwrap();
}

async fn check_seeded(store: &SqliteStore) {
    let names: Vec<String> = store
        .list_collections()
        .await
        .unwrap()
        .into_iter()
        .map(|info| info.name)
        .collect();
    assert_eq!(names, ["docs", "notes"]);
    assert_eq!(
        store.collection("docs").await.unwrap().embedder,
        Some(embedder(4))
    );
    let hits = store.search("docs", lexical("durable", 5)).await.unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].chunk.id, "a");
    let hits = store
        .search("docs", dense(vec![0.0, 1.0, 0.0, 0.0], 5, None))
        .await
        .unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(
        store
            .search("notes", lexical("note", 5))
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn reopening_keeps_committed_writes() {
    let (_directory, path) = temp_path();
    let store = SqliteStore::open(path.clone()).await.unwrap();
    seed(&store).await;
    drop(store);
    let reopened = SqliteStore::open(path).await.unwrap();
    check_seeded(&reopened).await;
}

#[tokio::test]
async fn a_crash_without_closing_loses_no_committed_write() {
    let (_directory, path) = temp_path();
    let store = SqliteStore::open(path.clone()).await.unwrap();
    seed(&store).await;
    // Leaking the store never closes its connections, so the WAL is not checkpointed into the
    // main file: what a killed process leaves behind. Committed transactions live in the WAL.
    std::mem::forget(store);
    assert!(path.with_extension("db-wal").exists());
    let recovered = SqliteStore::open(path).await.unwrap();
    check_seeded(&recovered).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_file_through_wal() {
    let (_directory, path) = temp_path();
    let first = SqliteStore::open(path.clone()).await.unwrap();
    let second = SqliteStore::open(path.clone()).await.unwrap();
    let mode: String = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");

    first.create_collection("shared", None).await.unwrap();
    assert_eq!(
        second.create_collection("shared", None).await,
        Err(StoreError::CollectionExists("shared".to_owned()))
    );
    first
        .upsert(
            "shared",
            vec![chunk("one", "written by the first", None, json!({}))],
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(
        second
            .search("shared", lexical("first", 5))
            .await
            .unwrap()
            .len(),
        1
    );
    second
        .upsert(
            "shared",
            vec![chunk("two", "written by the second", None, json!({}))],
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(first.collection("shared").await.unwrap().chunks, 2);

    // Both write at once: the busy timeout makes them take turns instead of failing.
    let batch = |prefix: &str| {
        (0..50)
            .map(|i| chunk(&format!("{prefix}{i}"), "concurrent", None, json!({})))
            .collect::<Vec<_>>()
    };
    let (left, right) = futures::join!(
        first.upsert("shared", batch("x"), Vec::new()),
        second.upsert("shared", batch("y"), Vec::new())
    );
    left.unwrap();
    right.unwrap();
    assert_eq!(second.collection("shared").await.unwrap().chunks, 102);
    assert!(first.drop_collection("shared").await.unwrap());
    assert!(matches!(
        second.search("shared", lexical("first", 5)).await,
        Err(StoreError::NoCollection(_))
    ));
}

#[tokio::test]
async fn lexical_search_ignores_accents_and_case() {
    let fixture = fixture().await.unwrap();
    let store = fixture.store.as_ref();
    store.create_collection("es", None).await.unwrap();
    store
        .upsert(
            "es",
            vec![
                chunk("a", "Facturación electrónica en España", None, json!({})),
                chunk("b", "El CAFÉ de la esquina", None, json!({})),
            ],
            Vec::new(),
        )
        .await
        .unwrap();
    for (query, expected) in [
        ("facturacion", "a"),
        ("FACTURACIÓN", "a"),
        ("espana", "a"),
        ("cafe", "b"),
        ("cafe\u{301}", "b"),
    ] {
        let hits = store.search("es", lexical(query, 5)).await.unwrap();
        assert_eq!(hits.len(), 1, "{query}");
        assert_eq!(hits[0].chunk.id, expected, "{query}");
    }
}

#[tokio::test]
async fn the_exact_sequence_of_a_code_outranks_its_scattered_parts() {
    let fixture = fixture().await.unwrap();
    let store = fixture.store.as_ref();
    store.create_collection("codes", None).await.unwrap();
    let mut chunks = vec![
        // The same three tokens, apart, in a slightly shorter text: plain BM25 over the tokens
        // would rank it first.
        chunk(
            "scattered",
            "Ledger of 2024: INV entries on page 0042 for the Globex account",
            None,
            json!({}),
        ),
        chunk(
            "exact",
            "Invoice INV-2024-0042 for ACME Corp, due at the end of March",
            None,
            json!({}),
        ),
    ];
    // Other documents, so that the terms' inverse document frequencies mean something.
    chunks.extend((0..8).map(|i| {
        chunk(
            &format!("other{i}"),
            "minutes of a meeting",
            None,
            json!({}),
        )
    }));
    store.upsert("codes", chunks, Vec::new()).await.unwrap();
    let hits = store
        .search("codes", lexical("INV-2024-0042", 5))
        .await
        .unwrap();
    let order: Vec<&str> = hits.iter().map(|hit| hit.chunk.id.as_str()).collect();
    assert_eq!(order, ["exact", "scattered"]);
}

#[tokio::test]
async fn a_source_whose_chunks_disagree_on_the_hash_reports_none() {
    let fixture = fixture().await.unwrap();
    let store = fixture.store.as_ref();
    store.create_collection("mixed", None).await.unwrap();
    let hashed = |id: &str, hash: Option<&str>| {
        let mut chunk = chunk(id, "text", Some("file.md"), json!({}));
        chunk.content_hash = hash.map(str::to_owned);
        chunk
    };
    store
        .upsert(
            "mixed",
            vec![hashed("a", Some("old")), hashed("b", Some("old"))],
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(
        store.sources("mixed").await.unwrap()[0]
            .content_hash
            .as_deref(),
        Some("old")
    );
    // A re-ingestion that stopped halfway: the file is neither the old nor the new version.
    store
        .upsert("mixed", vec![hashed("a", Some("new"))], Vec::new())
        .await
        .unwrap();
    assert_eq!(store.sources("mixed").await.unwrap()[0].content_hash, None);
    store
        .upsert("mixed", vec![hashed("b", None)], Vec::new())
        .await
        .unwrap();
    assert_eq!(store.sources("mixed").await.unwrap()[0].content_hash, None);
}

#[tokio::test]
async fn any_of_matches_an_element_of_an_array() {
    let fixture = fixture().await.unwrap();
    let store = fixture.store.as_ref();
    store.create_collection("tags", None).await.unwrap();
    store
        .upsert(
            "tags",
            vec![
                chunk(
                    "a",
                    "tagged text",
                    None,
                    json!({"tags": ["red", "blue"], "scores": [1, 9]}),
                ),
                chunk(
                    "b",
                    "tagged text",
                    None,
                    json!({"tags": "red", "scores": 5}),
                ),
                chunk("c", "tagged text", None, json!({"tags": ["green"]})),
                chunk("d", "tagged text", None, json!({"odd key. [0]": "yes"})),
                chunk(
                    "e",
                    "tagged text",
                    None,
                    json!({"say \"hi\"": "yes", "nested": {"tags": "red"}, "scores": 9.0}),
                ),
                chunk(
                    "f",
                    "tagged text",
                    None,
                    json!({"tags": [["red"], {"red": "red"}, null], "flags": [false, true]}),
                ),
            ],
            Vec::new(),
        )
        .await
        .unwrap();
    // Each case: key, any_of, gte, the chunks it must find.
    type Case = (
        &'static str,
        Vec<Value>,
        Option<f64>,
        &'static [&'static str],
    );
    let check = |cases: Vec<Case>| async move {
        for (key, any_of, gte, expected) in cases {
            let mut request = lexical("tagged", 10);
            request.filter = Some(Filter {
                must: vec![Condition {
                    key: key.to_owned(),
                    any_of: any_of.clone(),
                    gte,
                    lte: None,
                }],
            });
            let mut ids: Vec<String> = store
                .search("tags", request)
                .await
                .unwrap()
                .into_iter()
                .map(|hit| hit.chunk.id)
                .collect();
            ids.sort();
            assert_eq!(ids, expected, "{key} {any_of:?} {gte:?}");
        }
    };
    check(vec![
        ("tags", vec![json!("red")], None, &["a", "b"]),
        (
            "tags",
            vec![json!("blue"), json!("green")],
            None,
            &["a", "c"],
        ),
        ("scores", vec![], Some(8.0), &["a", "e"]),
        ("odd key. [0]", vec![json!("yes")], None, &["d"]),
        // Any key can be filtered on, quotes included.
        ("say \"hi\"", vec![json!("yes")], None, &["e"]),
        // Numbers equal numbers whether written as integers or not; ranges see every element.
        ("scores", vec![json!(9)], None, &["a", "e"]),
        ("scores", vec![], Some(5.0), &["a", "b", "e"]),
        // Values nested deeper than an array's elements are not the key's values.
        ("nested", vec![json!("red")], None, &[]),
        ("flags", vec![json!(true)], None, &["f"]),
    ])
    .await;
    // A replaced chunk is filtered by its new metadata only, a deleted one not at all.
    store
        .upsert(
            "tags",
            vec![chunk("a", "tagged text", None, json!({"tags": ["green"]}))],
            Vec::new(),
        )
        .await
        .unwrap();
    store
        .delete("tags", crate::model::Selector::Ids(vec!["c".to_owned()]))
        .await
        .unwrap();
    check(vec![
        ("tags", vec![json!("red")], None, &["b"]),
        ("tags", vec![json!("green")], None, &["a"]),
        ("scores", vec![json!(1)], None, &[]),
    ])
    .await;
}

/// A file from before the metadata index (schema version 2) gets it filled at open, and filters
/// work on the chunks it already held.
#[tokio::test]
async fn the_metadata_index_is_filled_for_an_older_file() {
    let (_directory, path) = temp_path();
    {
        let store = SqliteStore::open(path.clone()).await.unwrap();
        store.create_collection("old", None).await.unwrap();
        store
            .upsert(
                "old",
                vec![
                    chunk(
                        "a",
                        "old text",
                        None,
                        json!({"lang": "en", "tags": ["x", "y"]}),
                    ),
                    chunk("b", "old text", None, json!({"lang": "de", "year": 2020})),
                ],
                Vec::new(),
            )
            .await
            .unwrap();
    }
    // What version 2 had: no table, no triggers.
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute_batch(
        "DROP TRIGGER metadata_values_insert; DROP TRIGGER metadata_values_update;
         DROP TRIGGER metadata_values_delete; DROP TABLE metadata_values;
         PRAGMA user_version = 2;",
    )
    .unwrap();
    drop(raw);
    let store = SqliteStore::open(path.clone()).await.unwrap();
    let search = |key: &str, value: Value| {
        let mut request = lexical("old", 10);
        request.filter = Some(Filter {
            must: vec![Condition {
                key: key.to_owned(),
                any_of: vec![value],
                gte: None,
                lte: None,
            }],
        });
        store.search("old", request)
    };
    let ids = |hits: Vec<crate::model::Hit>| -> Vec<String> {
        hits.into_iter().map(|hit| hit.chunk.id).collect()
    };
    assert_eq!(ids(search("tags", json!("y")).await.unwrap()), ["a"]);
    assert_eq!(ids(search("year", json!(2020)).await.unwrap()), ["b"]);
    let raw = rusqlite::Connection::open(&path).unwrap();
    let rows: i64 = raw
        .query_row("SELECT count(*) FROM metadata_values", [], |row| row.get(0))
        .unwrap();
    assert_eq!(rows, 5);
}

#[tokio::test]
async fn a_selective_filter_still_yields_k_nearest_matches() {
    let fixture = fixture().await.unwrap();
    let store = fixture.store.as_ref();
    store
        .create_collection("many", Some(&embedder(8)))
        .await
        .unwrap();
    // 2,000 chunks, 1% of them `rare`; the query points away from the rare ones, so an
    // over-fetch-then-filter search would find none of them in its first pages.
    let mut chunks = Vec::new();
    let mut vectors = Vec::new();
    for i in 0..2000 {
        let rare = i % 100 == 0;
        chunks.push(chunk(
            &format!("c{i}"),
            "text",
            None,
            json!({"rare": rare, "i": i}),
        ));
        let sign = if rare { -1.0 } else { 1.0 };
        vectors.push(vec![
            sign,
            (i % 7) as f32 * 0.01,
            0.1,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
        ]);
    }
    store.upsert("many", chunks, vectors).await.unwrap();
    let rare = Filter {
        must: vec![Condition {
            key: "rare".to_owned(),
            any_of: vec![json!(true)],
            gte: None,
            lte: None,
        }],
    };
    let query = vec![1.0, 0.0, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0];
    let hits = store
        .search("many", dense(query.clone(), 15, Some(rare.clone())))
        .await
        .unwrap();
    assert_eq!(hits.len(), 15);
    assert!(
        hits.iter()
            .all(|hit| hit.chunk.metadata["rare"] == json!(true))
    );
    let all = store
        .search("many", dense(query, 50, Some(rare)))
        .await
        .unwrap();
    assert_eq!(all.len(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_see_whole_batches_only() {
    let fixture = fixture().await.unwrap();
    let store = fixture.store.as_ref();
    store.create_collection("atomic", None).await.unwrap();
    let writer = async {
        for batch in 0..20 {
            let chunks = (0..50)
                .map(|i| chunk(&format!("{batch}-{i}"), "word", None, json!({})))
                .collect();
            store.upsert("atomic", chunks, Vec::new()).await.unwrap();
        }
    };
    let reader = async {
        for _ in 0..100 {
            let chunks = store.collection("atomic").await.unwrap().chunks;
            assert_eq!(chunks % 50, 0, "saw half a batch: {chunks}");
            let hits = store.search("atomic", lexical("word", 1000)).await.unwrap();
            assert_eq!(hits.len() % 50, 0, "saw half a batch: {}", hits.len());
        }
    };
    futures::join!(writer, reader);
}

#[tokio::test]
async fn dropping_a_collection_removes_its_tables_and_triggers() {
    let (_directory, path) = temp_path();
    let store = SqliteStore::open(path.clone()).await.unwrap();
    store
        .create_collection("gone", Some(&embedder(4)))
        .await
        .unwrap();
    store
        .upsert(
            "gone",
            vec![chunk("a", "text", None, json!({"lang": "en"}))],
            vec![vec![1.0, 0.0, 0.0, 0.0]],
        )
        .await
        .unwrap();
    store.create_collection("kept", None).await.unwrap();
    assert!(store.drop_collection("gone").await.unwrap());
    let raw = rusqlite::Connection::open(&path).unwrap();
    let leftovers: i64 = raw
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name LIKE 'fts_1%' OR name LIKE 'vec_1%'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(leftovers, 0);
    let chunks: i64 = raw
        .query_row("SELECT count(*) FROM chunks", [], |row| row.get(0))
        .unwrap();
    assert_eq!(chunks, 0);
    let values: i64 = raw
        .query_row("SELECT count(*) FROM metadata_values", [], |row| row.get(0))
        .unwrap();
    assert_eq!(values, 0);
    // The other collection's index still works.
    store
        .upsert(
            "kept",
            vec![chunk("k", "still indexed", None, json!({}))],
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .search("kept", lexical("indexed", 5))
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn unusable_vectors_and_dimensions_are_refused() {
    let fixture = fixture().await.unwrap();
    let store = fixture.store.as_ref();
    for dimension in [0, 8193] {
        assert!(matches!(
            store
                .create_collection("bad", Some(&embedder(dimension)))
                .await,
            Err(StoreError::Invalid(_))
        ));
    }
    store
        .create_collection("v", Some(&embedder(4)))
        .await
        .unwrap();
    for vector in [
        vec![0.0; 4],
        vec![f32::NAN, 0.0, 0.0, 1.0],
        vec![f32::INFINITY, 0.0, 0.0, 1.0],
    ] {
        assert!(matches!(
            store
                .upsert(
                    "v",
                    vec![chunk("a", "x", None, json!({}))],
                    vec![vector.clone()]
                )
                .await,
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            store.search("v", dense(vector, 3, None)).await,
            Err(StoreError::Invalid(_))
        ));
    }
    assert!(matches!(
        store
            .upsert(
                "v",
                vec![chunk("", "x", None, json!({}))],
                vec![vec![1.0; 4]]
            )
            .await,
        Err(StoreError::Invalid(_))
    ));
}

#[tokio::test]
async fn k_zero_and_huge_k_are_served() {
    let fixture = fixture().await.unwrap();
    let store = fixture.store.as_ref();
    store
        .create_collection("k", Some(&embedder(4)))
        .await
        .unwrap();
    store
        .upsert(
            "k",
            vec![chunk("a", "word", None, json!({}))],
            vec![vec![1.0, 0.0, 0.0, 0.0]],
        )
        .await
        .unwrap();
    for mode in [SearchMode::Lexical, SearchMode::Dense, SearchMode::Hybrid] {
        for (k, expected) in [(0, 0), (100_000, 1)] {
            let request = SearchRequest {
                text: "word".to_owned(),
                vector: Some(vec![1.0, 0.0, 0.0, 0.0]),
                k,
                filter: None,
                mode,
                score_threshold: None,
            };
            assert_eq!(
                store.search("k", request).await.unwrap().len(),
                expected,
                "{mode:?} k={k}"
            );
        }
    }
}

/// Search latency at 10k and 100k chunks of 384-d random vectors. Slow: run it on purpose, in
/// release, with `cargo test -p mcp-rag --release --lib search_latency -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: minutes in debug builds"]
async fn search_latency() {
    use std::time::{Duration, Instant};

    const DIMENSION: usize = 384;
    const BATCH: usize = 2_000;
    const QUERIES: usize = 30;
    let (_directory, path) = temp_path();
    let store = SqliteStore::open(path.clone()).await.unwrap();
    store
        .create_collection("bench", Some(&embedder(DIMENSION)))
        .await
        .unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut random = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let vector = |random: &mut dyn FnMut() -> u64| {
        (0..DIMENSION)
            .map(|_| (random() >> 40) as f32 / (1u64 << 23) as f32 - 1.0)
            .collect::<Vec<f32>>()
    };
    // A Zipf-ish vocabulary: low word numbers are common, high ones rare.
    let word = |random: &mut dyn FnMut() -> u64| {
        let r = (random() % 1_000_000) as f64 / 1_000_000.0;
        format!("w{}", (r.powi(3) * 20_000.0) as u64)
    };
    let percentile = |mut times: Vec<Duration>, p: f64| {
        times.sort();
        times[((times.len() - 1) as f64 * p).round() as usize]
    };
    let langs = ["en", "es", "de", "fr", "it", "pt", "nl", "sv", "pl", "cs"];
    let mut stored = 0;
    for target in [10_000, 100_000] {
        let added = target - stored;
        let started = Instant::now();
        while stored < target {
            let mut chunks = Vec::with_capacity(BATCH);
            let mut vectors = Vec::with_capacity(BATCH);
            for i in stored..stored + BATCH {
                let text = (0..60)
                    .map(|_| word(&mut random))
                    .collect::<Vec<_>>()
                    .join(" ");
                chunks.push(chunk(
                    &format!("c{i}"),
                    &text,
                    Some(&format!("file{}.md", i / 20)),
                    json!({"lang": langs[i % 10], "year": 2000 + (i % 100), "rare": i % 100 == 0}),
                ));
                vectors.push(vector(&mut random));
            }
            store.upsert("bench", chunks, vectors).await.unwrap();
            stored += BATCH;
        }
        let ingest = started.elapsed();
        let filters = [
            ("none", None),
            (
                "lang (10%)",
                Some(Filter {
                    must: vec![Condition {
                        key: "lang".to_owned(),
                        any_of: vec![json!("es")],
                        gte: None,
                        lte: None,
                    }],
                }),
            ),
            (
                "rare (1%)",
                Some(Filter {
                    must: vec![Condition {
                        key: "rare".to_owned(),
                        any_of: vec![json!(true)],
                        gte: None,
                        lte: None,
                    }],
                }),
            ),
        ];
        println!(
            "{target} chunks ({DIMENSION}-d): upserted {added} in {ingest:.1?} ({BATCH} per call), file {} MB",
            std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) / 1_000_000
        );
        for (label, filter) in &filters {
            for mode in [SearchMode::Lexical, SearchMode::Dense, SearchMode::Hybrid] {
                let mut times = Vec::new();
                let mut hits = 0;
                for _ in 0..QUERIES {
                    let text = (0..4)
                        .map(|_| word(&mut random))
                        .collect::<Vec<_>>()
                        .join(" ");
                    let request = SearchRequest {
                        text,
                        vector: Some(vector(&mut random)),
                        k: 10,
                        filter: filter.clone(),
                        mode,
                        score_threshold: None,
                    };
                    let started = Instant::now();
                    hits += store.search("bench", request).await.unwrap().len();
                    times.push(started.elapsed());
                }
                println!(
                    "  {mode:?} k=10 filter {label}: p50 {:.1?} p95 {:.1?} ({:.1} hits per query)",
                    percentile(times.clone(), 0.5),
                    percentile(times, 0.95),
                    hits as f64 / QUERIES as f64
                );
            }
        }
    }
}
