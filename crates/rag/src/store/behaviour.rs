//! The behaviour every [`Store`] must show, written against the trait alone so that each backend
//! runs the same checks: `behaviour_tests!(fixture)` in a backend's test module expands to one
//! `#[tokio::test]` per behaviour, or call [`run_all`] or a single behaviour directly.
//!
//! Vectors are small and synthetic (4 or 8 dimensions), so no model is needed. Every behaviour
//! uses its own collection names (prefixed `bt_`), dropping leftovers first, so the suite also
//! runs against a long-lived server.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::model::{
    Chunk, Condition, EmbedderId, Filter, Hit, Position, SearchMode, SearchRequest, Selector,
    SourceInfo,
};
use crate::store::{Store, StoreError};

/// A store to test, with whatever must live as long as it (a temporary directory, a container).
pub(crate) struct Fixture {
    /// The store.
    pub store: Box<dyn Store>,
    /// Kept alive until the test ends.
    pub _keep: Box<dyn std::any::Any + Send>,
}

/// Expands to one `#[tokio::test]` per behaviour. `$fixture` is an async fn returning
/// `Option<Fixture>`; `None` skips the test (say, when the backend's server is not running).
macro_rules! behaviour_tests {
    ($fixture:path) => {
        $crate::store::behaviour::behaviour_tests!(@each $fixture;
            collections_lifecycle,
            upsert_replaces_same_id,
            delete_by_ids_source_and_filter,
            filters_apply_in_every_mode,
            lexical_finds_exact_codes,
            free_text_never_breaks_lexical_search,
            dense_ranks_by_cosine,
            hybrid_fuses_both_rankings,
            score_thresholds_use_each_modes_scale,
            chunks_of_source_gives_neighbours,
            sources_report_hashes,
            lexical_only_collections,
            wrong_dimensions_are_invalid,
            concurrent_reads_during_writes,
        );
    };
    (@each $fixture:path; $($behaviour:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $behaviour() {
                if let Some(fixture) = $fixture().await {
                    $crate::store::behaviour::$behaviour(fixture.store.as_ref()).await;
                }
            }
        )*
    };
}
pub(crate) use behaviour_tests;

/// Runs every behaviour in turn.
pub(crate) async fn run_all(store: &dyn Store) {
    collections_lifecycle(store).await;
    upsert_replaces_same_id(store).await;
    delete_by_ids_source_and_filter(store).await;
    filters_apply_in_every_mode(store).await;
    lexical_finds_exact_codes(store).await;
    free_text_never_breaks_lexical_search(store).await;
    dense_ranks_by_cosine(store).await;
    hybrid_fuses_both_rankings(store).await;
    score_thresholds_use_each_modes_scale(store).await;
    chunks_of_source_gives_neighbours(store).await;
    sources_report_hashes(store).await;
    lexical_only_collections(store).await;
    wrong_dimensions_are_invalid(store).await;
    concurrent_reads_during_writes(store).await;
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// The synthetic embedder of `dimension`.
fn embedder(dimension: usize) -> EmbedderId {
    EmbedderId {
        provider: "test".to_owned(),
        model: "synthetic".to_owned(),
        dimension,
    }
}

/// Drops `name` if a previous run left it, then creates it.
async fn fresh(store: &dyn Store, name: &str, dimension: Option<usize>) {
    store.drop_collection(name).await.unwrap();
    let embedder = dimension.map(embedder);
    store
        .create_collection(name, embedder.as_ref())
        .await
        .unwrap();
}

/// A chunk; `metadata` is a JSON object.
fn chunk(id: &str, text: &str, source: Option<&str>, index: u32, metadata: Value) -> Chunk {
    let metadata: BTreeMap<String, Value> = serde_json::from_value(metadata).unwrap();
    Chunk {
        id: id.to_owned(),
        text: text.to_owned(),
        source: source.map(str::to_owned),
        position: Position {
            index,
            ..Position::default()
        },
        metadata,
        content_hash: None,
    }
}

/// A search request without filter or threshold.
fn request(text: &str, vector: Option<Vec<f32>>, k: usize, mode: SearchMode) -> SearchRequest {
    SearchRequest {
        text: text.to_owned(),
        vector,
        k,
        filter: None,
        mode,
        score_threshold: None,
    }
}

/// The ids of hits, in order.
fn ids(hits: &[Hit]) -> Vec<&str> {
    hits.iter().map(|hit| hit.chunk.id.as_str()).collect()
}

/// The ids of chunks, in order.
fn chunk_ids(chunks: &[Chunk]) -> Vec<&str> {
    chunks.iter().map(|chunk| chunk.id.as_str()).collect()
}

/// A filter of one condition.
fn filter(key: &str, any_of: Vec<Value>, gte: Option<f64>, lte: Option<f64>) -> Filter {
    Filter {
        must: vec![Condition {
            key: key.to_owned(),
            any_of,
            gte,
            lte,
        }],
    }
}

/// Deterministic pseudo-random vectors (xorshift), so runs are repeatable without a dependency.
struct Vectors(u64);

impl Vectors {
    fn next(&mut self, dimension: usize) -> Vec<f32> {
        (0..dimension)
            .map(|_| {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                // In [-1, 1).
                (self.0 >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    }
}

/// Cosine similarity, to check dense scores against.
fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b))
}

/// Asserts the error is `Invalid`.
fn assert_invalid<T: std::fmt::Debug>(outcome: Result<T, StoreError>, what: &str) -> String {
    match outcome {
        Err(StoreError::Invalid(message)) => message,
        other => panic!("{what}: expected Invalid, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Behaviours

/// Collections are created, listed, described and dropped; names are checked; duplicates and
/// missing collections are reported as such.
pub(crate) async fn collections_lifecycle(store: &dyn Store) {
    let (dense, lexical) = ("bt_life-Dense", "bt_life_lexical");
    fresh(store, dense, Some(4)).await;
    fresh(store, lexical, None).await;

    let listed = store.list_collections().await.unwrap();
    let find = |name: &str| listed.iter().find(|info| info.name == name).cloned();
    let info = find(dense).unwrap();
    assert_eq!(info.embedder, Some(embedder(4)));
    assert_eq!((info.chunks, info.sources), (0, 0));
    assert_eq!(find(lexical).unwrap().embedder, None);
    assert_eq!(store.collection(dense).await.unwrap(), info);

    assert_eq!(
        store.create_collection(dense, None).await,
        Err(StoreError::CollectionExists(dense.to_owned()))
    );
    // Names are case-sensitive: another case is another collection.
    store.drop_collection("bt_life-dense").await.unwrap();
    store
        .create_collection("bt_life-dense", Some(&embedder(4)))
        .await
        .unwrap();
    assert!(store.drop_collection("bt_life-dense").await.unwrap());

    let too_long = "x".repeat(65);
    for bad in [
        "",
        "has space",
        "a/b",
        "a.b",
        "café",
        "semi;colon",
        too_long.as_str(),
    ] {
        assert_invalid(store.create_collection(bad, None).await, bad);
    }
    let longest = format!("bt_{}", "x".repeat(61));
    fresh(store, &longest, None).await;
    assert!(store.drop_collection(&longest).await.unwrap());

    let missing = "bt_life_missing";
    store.drop_collection(missing).await.unwrap();
    assert_eq!(
        store.collection(missing).await,
        Err(StoreError::NoCollection(missing.to_owned()))
    );
    assert!(matches!(
        store.get(missing, "a").await,
        Err(StoreError::NoCollection(_))
    ));
    assert!(matches!(
        store
            .search(missing, request("x", None, 3, SearchMode::Lexical))
            .await,
        Err(StoreError::NoCollection(_))
    ));
    assert!(matches!(
        store
            .upsert(
                missing,
                vec![chunk("a", "x", None, 0, json!({}))],
                Vec::new()
            )
            .await,
        Err(StoreError::NoCollection(_))
    ));

    store
        .upsert(
            dense,
            vec![chunk("old", "four dimensions", None, 0, json!({}))],
            vec![vec![1.0; 4]],
        )
        .await
        .unwrap();
    let hits = store
        .search(dense, request("", Some(vec![1.0; 4]), 5, SearchMode::Dense))
        .await
        .unwrap();
    assert_eq!(ids(&hits), ["old"]);
    assert!(store.drop_collection(dense).await.unwrap());
    assert!(!store.drop_collection(dense).await.unwrap());
    let listed = store.list_collections().await.unwrap();
    assert!(listed.iter().all(|info| info.name != dense));
    assert!(matches!(
        store.collection(dense).await,
        Err(StoreError::NoCollection(_))
    ));
    // A name can be used again after a drop, and starts empty.
    store
        .create_collection(dense, Some(&embedder(8)))
        .await
        .unwrap();
    let info = store.collection(dense).await.unwrap();
    assert_eq!((info.chunks, info.embedder), (0, Some(embedder(8))));
    store
        .upsert(
            dense,
            vec![chunk("new", "eight dimensions", None, 0, json!({}))],
            vec![vec![1.0; 8]],
        )
        .await
        .unwrap();
    let hits = store
        .search(dense, request("", Some(vec![1.0; 8]), 5, SearchMode::Dense))
        .await
        .unwrap();
    assert_eq!(ids(&hits), ["new"]);
    store.drop_collection(dense).await.unwrap();
    store.drop_collection(lexical).await.unwrap();
}

/// Upserting an id that exists replaces its text, vector, source and metadata.
pub(crate) async fn upsert_replaces_same_id(store: &dyn Store) {
    let name = "bt_upsert";
    fresh(store, name, Some(4)).await;
    let mut original = chunk(
        "a",
        "the walrus hums quietly",
        Some("one.md"),
        0,
        json!({"lang": "en", "year": 2020}),
    );
    original.content_hash = Some("h1".to_owned());
    store
        .upsert(
            name,
            vec![
                original.clone(),
                chunk("b", "penguins slide on ice", Some("one.md"), 1, json!({})),
                chunk("c", "a memory without a source", None, 0, json!({})),
            ],
            vec![
                vec![1.0, 0.0, 0.0, 0.0],
                vec![0.0, 1.0, 0.0, 0.0],
                vec![0.0, 0.0, 1.0, 0.0],
            ],
        )
        .await
        .unwrap();
    assert_eq!(store.get(name, "a").await.unwrap(), Some(original));
    assert_eq!(store.get(name, "zzz").await.unwrap(), None);
    let info = store.collection(name).await.unwrap();
    assert_eq!((info.chunks, info.sources), (3, 1));

    let mut replacement = chunk(
        "a",
        "the narwhal sings loudly",
        Some("two.md"),
        4,
        json!({"lang": "es"}),
    );
    replacement.content_hash = Some("h2".to_owned());
    store
        .upsert(
            name,
            vec![replacement.clone()],
            vec![vec![0.0, 0.0, 0.0, 1.0]],
        )
        .await
        .unwrap();
    assert_eq!(store.get(name, "a").await.unwrap(), Some(replacement));
    let info = store.collection(name).await.unwrap();
    assert_eq!((info.chunks, info.sources), (3, 2));

    // The old text and vector are gone from both indexes; the new ones are found.
    let old_words = store
        .search(name, request("walrus", None, 5, SearchMode::Lexical))
        .await
        .unwrap();
    assert!(old_words.is_empty(), "{:?}", ids(&old_words));
    let new_words = store
        .search(name, request("narwhal", None, 5, SearchMode::Lexical))
        .await
        .unwrap();
    assert_eq!(ids(&new_words), ["a"]);
    let dense = store
        .search(
            name,
            request("", Some(vec![0.0, 0.0, 0.0, 1.0]), 1, SearchMode::Dense),
        )
        .await
        .unwrap();
    assert_eq!(ids(&dense), ["a"]);
    assert!((dense[0].score - 1.0).abs() < 1e-4, "{}", dense[0].score);
    let old_vector = store
        .search(
            name,
            request("", Some(vec![1.0, 0.0, 0.0, 0.0]), 3, SearchMode::Dense),
        )
        .await
        .unwrap();
    assert!(
        old_vector.iter().all(|hit| hit.score < 0.5),
        "{old_vector:?}"
    );

    // One vector per chunk.
    assert_invalid(
        store
            .upsert(name, vec![chunk("d", "x", None, 0, json!({}))], Vec::new())
            .await,
        "missing vectors",
    );
    store.drop_collection(name).await.unwrap();
}

/// Deleting by ids, by source and by filter removes exactly those chunks, from every index.
pub(crate) async fn delete_by_ids_source_and_filter(store: &dyn Store) {
    let name = "bt_delete";
    fresh(store, name, Some(4)).await;
    let chunks = vec![
        chunk("a", "alpha apple", Some("s1"), 0, json!({"lang": "en"})),
        chunk("b", "beta apple", Some("s1"), 1, json!({"lang": "en"})),
        chunk("c", "gamma apple", Some("s2"), 0, json!({"lang": "es"})),
        chunk("d", "delta apple", Some("s2"), 1, json!({"lang": "es"})),
        chunk("e", "epsilon apple", Some("s3"), 0, json!({"lang": "de"})),
        chunk("f", "zeta apple", None, 0, json!({"lang": "de"})),
    ];
    let vectors = (0..6)
        .map(|i| vec![1.0, i as f32 * 0.1, 0.0, 0.0])
        .collect();
    store.upsert(name, chunks, vectors).await.unwrap();

    let gone = store
        .delete(
            name,
            Selector::Ids(vec!["a".to_owned(), "missing".to_owned()]),
        )
        .await
        .unwrap();
    assert_eq!(gone, 1);
    assert_eq!(store.get(name, "a").await.unwrap(), None);

    assert_eq!(
        store
            .delete(name, Selector::Source("s2".to_owned()))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .delete(
                name,
                Selector::Filter(filter("lang", vec![json!("de")], None, None))
            )
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .delete(name, Selector::Source("nothing-here".to_owned()))
            .await
            .unwrap(),
        0
    );
    // An empty filter would select everything: refused rather than emptying the collection.
    assert_invalid(
        store
            .delete(name, Selector::Filter(Filter::default()))
            .await,
        "empty delete filter",
    );

    let info = store.collection(name).await.unwrap();
    assert_eq!(info.chunks, 1);
    for mode in [SearchMode::Lexical, SearchMode::Dense, SearchMode::Hybrid] {
        let hits = store
            .search(
                name,
                request("apple", Some(vec![1.0, 0.2, 0.0, 0.0]), 10, mode),
            )
            .await
            .unwrap();
        assert_eq!(ids(&hits), ["b"], "{mode:?}");
    }
    store.drop_collection(name).await.unwrap();
}

/// One synthetic chunk of the filter data set.
struct Row {
    id: String,
    lang: &'static str,
    year: i64,
    draft: bool,
    source: &'static str,
}

/// Filters (`any_of` on strings, numbers and booleans; ranges; `source`; several conditions)
/// hold in lexical, dense and hybrid search, and a selective filter still yields k hits.
pub(crate) async fn filters_apply_in_every_mode(store: &dyn Store) {
    let name = "bt_filters";
    fresh(store, name, Some(4)).await;
    let langs = ["en", "es", "de", "en", "fr"];
    let sources = ["s1", "s2", "s3"];
    let rows: Vec<Row> = (0..30)
        .map(|i| Row {
            id: format!("r{i:02}"),
            lang: langs[i % langs.len()],
            year: 2016 + (i % 10) as i64,
            draft: i % 3 == 0,
            source: sources[i % sources.len()],
        })
        .collect();
    let mut vectors = Vectors(7);
    let chunks = rows
        .iter()
        .map(|row| {
            chunk(
                &row.id,
                &format!("quarterly report number {} about budgets", row.id),
                Some(row.source),
                0,
                json!({"lang": row.lang, "year": row.year, "draft": row.draft}),
            )
        })
        .collect();
    let vectors = rows.iter().map(|_| vectors.next(4)).collect();
    store.upsert(name, chunks, vectors).await.unwrap();

    type Predicate = fn(&Row) -> bool;
    let both = |first: Filter, second: Filter| Filter {
        must: first.must.into_iter().chain(second.must).collect(),
    };
    let cases: Vec<(Filter, Predicate)> = vec![
        (filter("lang", vec![json!("es")], None, None), |r| {
            r.lang == "es"
        }),
        (
            filter("lang", vec![json!("en"), json!("de")], None, None),
            |r| r.lang == "en" || r.lang == "de",
        ),
        (filter("year", vec![], Some(2019.0), Some(2021.0)), |r| {
            (2019..=2021).contains(&r.year)
        }),
        (filter("year", vec![], Some(2024.0), None), |r| {
            r.year >= 2024
        }),
        (filter("year", vec![], None, Some(2016.5)), |r| {
            r.year <= 2016
        }),
        (
            filter("year", vec![json!(2018), json!(2020)], None, None),
            |r| r.year == 2018 || r.year == 2020,
        ),
        (filter("draft", vec![json!(true)], None, None), |r| r.draft),
        (filter("draft", vec![json!(false)], None, None), |r| {
            !r.draft
        }),
        (filter("source", vec![json!("s2")], None, None), |r| {
            r.source == "s2"
        }),
        (
            both(
                filter("lang", vec![json!("en")], None, None),
                filter("year", vec![], None, Some(2020.0)),
            ),
            |r| r.lang == "en" && r.year <= 2020,
        ),
        // A string never equals a number, nor a number a boolean.
        (filter("year", vec![json!("2018")], None, None), |_| false),
        (filter("draft", vec![json!(1)], None, None), |_| false),
        (filter("nonexistent", vec![json!("x")], None, None), |_| {
            false
        }),
        (filter("lang", vec![], Some(0.0), None), |_| false),
    ];
    let query = vec![0.5, -0.5, 0.5, -0.5];
    for (filter, predicate) in cases {
        let expected: Vec<&str> = rows
            .iter()
            .filter(|row| predicate(row))
            .map(|row| row.id.as_str())
            .collect();
        for k in [3, 30] {
            for mode in [SearchMode::Lexical, SearchMode::Dense, SearchMode::Hybrid] {
                let mut filtered = request("quarterly budgets", Some(query.clone()), k, mode);
                filtered.filter = Some(filter.clone());
                let hits = store.search(name, filtered).await.unwrap();
                let found = ids(&hits);
                assert_eq!(
                    found.len(),
                    expected.len().min(k),
                    "{mode:?} k={k} {filter:?}: {found:?}"
                );
                assert!(
                    found.iter().all(|id| expected.contains(id)),
                    "{mode:?} {filter:?}: {found:?} not within {expected:?}"
                );
            }
        }
    }

    // The filter applies before ranking: the nearest `lang = fr` chunks are found even when
    // every unfiltered neighbour is something else.
    let french: Vec<&Row> = rows.iter().filter(|row| row.lang == "fr").collect();
    let mut nearest_french = request(
        "",
        Some(vec![-0.5, 0.5, -0.5, 0.5]),
        french.len(),
        SearchMode::Dense,
    );
    nearest_french.filter = Some(filter("lang", vec![json!("fr")], None, None));
    assert_eq!(
        store.search(name, nearest_french).await.unwrap().len(),
        french.len()
    );

    let mut null_value = request("report", None, 3, SearchMode::Lexical);
    null_value.filter = Some(filter("lang", vec![json!(null)], None, None));
    assert_invalid(store.search(name, null_value).await, "null in any_of");
    let mut no_test = request("report", None, 3, SearchMode::Lexical);
    no_test.filter = Some(filter("lang", vec![], None, None));
    assert_invalid(store.search(name, no_test).await, "condition without test");
    store.drop_collection(name).await.unwrap();
}

/// BM25 finds exact codes first, matches whatever the case, reports positive, descending scores
/// and lexical ranks only.
pub(crate) async fn lexical_finds_exact_codes(store: &dyn Store) {
    let name = "bt_lexical";
    fresh(store, name, None).await;
    let texts = [
        (
            "exact",
            "Invoice INV-2024-0042 for ACME Corp, due at the end of March.",
        ),
        ("near", "Invoice INV-2024-0043 for Globex, paid in full."),
        (
            "older",
            "Reminder about invoice INV-2023-0042 from last year.",
        ),
        (
            "noise1",
            "Meeting notes: the roadmap for the mobile application.",
        ),
        ("noise2", "The cafeteria menu changes every Monday."),
    ];
    let chunks = texts
        .iter()
        .map(|(id, text)| chunk(id, text, Some("ledger.txt"), 0, json!({})))
        .collect();
    store.upsert(name, chunks, Vec::new()).await.unwrap();

    for query in ["INV-2024-0042", "inv-2024-0042", "invoice INV-2024-0042?"] {
        let hits = store
            .search(name, request(query, None, 10, SearchMode::Lexical))
            .await
            .unwrap();
        assert_eq!(
            ids(&hits).first(),
            Some(&"exact"),
            "{query}: {:?}",
            ids(&hits)
        );
        assert!(!ids(&hits).contains(&"noise1"), "{query}: {:?}", ids(&hits));
        for (rank, hit) in hits.iter().enumerate() {
            assert!(hit.score > 0.0, "{query}: {hit:?}");
            assert_eq!(hit.lexical_rank, Some(rank as u32 + 1));
            assert_eq!(hit.dense_rank, None);
        }
        assert!(
            hits.windows(2).all(|pair| pair[0].score >= pair[1].score),
            "{query}: scores not descending"
        );
    }
    let hits = store
        .search(
            name,
            request("MOBILE Roadmap", None, 10, SearchMode::Lexical),
        )
        .await
        .unwrap();
    assert_eq!(ids(&hits), ["noise1"]);
    let hits = store
        .search(name, request("zeppelin", None, 10, SearchMode::Lexical))
        .await
        .unwrap();
    assert!(hits.is_empty());
    store.drop_collection(name).await.unwrap();
}

/// No free text, however odd, makes a lexical search fail.
pub(crate) async fn free_text_never_breaks_lexical_search(store: &dyn Store) {
    let name = "bt_free_text";
    fresh(store, name, None).await;
    store
        .upsert(
            name,
            vec![chunk(
                "a",
                "NEAR AND OR NOT quoted \"text\" a:b c*",
                None,
                0,
                json!({}),
            )],
            Vec::new(),
        )
        .await
        .unwrap();
    let nasty = [
        "",
        " ",
        "\"",
        "\"\"",
        "'",
        "*",
        "-",
        "^",
        ":",
        "(",
        ")",
        "()",
        "AND",
        "OR",
        "NOT",
        "NEAR",
        "NEAR(a b)",
        "a AND",
        "OR b",
        "\"unterminated",
        "a:b",
        "col:value",
        "x*",
        "-x",
        "+x",
        "{a b}",
        "[x]",
        "\\",
        "a\\\"b",
        "\u{0}",
        "\u{301}",
        "🦀 rust",
        "a\u{301}\u{301}",
        "%",
        "_",
        "; DROP TABLE chunks; --",
        "é",
        "日本語のテキスト",
        "a'b\"c",
    ];
    for text in nasty {
        let outcome = store
            .search(name, request(text, None, 5, SearchMode::Lexical))
            .await;
        assert!(outcome.is_ok(), "{text:?}: {outcome:?}");
    }
    // Operators are words like any other.
    let hits = store
        .search(name, request("NEAR", None, 5, SearchMode::Lexical))
        .await
        .unwrap();
    assert_eq!(ids(&hits), ["a"]);
    store.drop_collection(name).await.unwrap();
}

/// Dense search ranks by cosine (direction, not length) and reports it as the score.
pub(crate) async fn dense_ranks_by_cosine(store: &dyn Store) {
    let name = "bt_dense";
    fresh(store, name, Some(4)).await;
    let vectors = [
        ("same", vec![1.0, 0.0, 0.0, 0.0]),
        ("long", vec![2.0, 0.2, 0.0, 0.0]),
        ("diagonal", vec![1.0, 1.0, 0.0, 0.0]),
        ("orthogonal", vec![0.0, 1.0, 0.0, 0.0]),
        ("opposite", vec![-1.0, 0.0, 0.0, 0.0]),
    ];
    let chunks = vectors
        .iter()
        .map(|(id, _)| chunk(id, "text", None, 0, json!({})))
        .collect();
    store
        .upsert(
            name,
            chunks,
            vectors.iter().map(|(_, v)| v.clone()).collect(),
        )
        .await
        .unwrap();
    let query = vec![3.0, 0.0, 0.0, 0.0];
    let hits = store
        .search(
            name,
            request("", Some(query.clone()), 10, SearchMode::Dense),
        )
        .await
        .unwrap();
    assert_eq!(
        ids(&hits),
        ["same", "long", "diagonal", "orthogonal", "opposite"]
    );
    for (rank, hit) in hits.iter().enumerate() {
        let vector = &vectors
            .iter()
            .find(|(id, _)| *id == hit.chunk.id)
            .unwrap()
            .1;
        let expected = cosine(&query, vector);
        assert!((hit.score - expected).abs() < 1e-4, "{hit:?} vs {expected}");
        assert_eq!(hit.dense_rank, Some(rank as u32 + 1));
        assert_eq!(hit.lexical_rank, None);
    }
    let top = store
        .search(name, request("", Some(query), 2, SearchMode::Dense))
        .await
        .unwrap();
    assert_eq!(ids(&top), ["same", "long"]);
    store.drop_collection(name).await.unwrap();
}

/// Hybrid search fuses the rankings by reciprocal rank: a chunk ranked well by both beats one
/// ranked first by only one, and each hit reports its rank in each ranking.
pub(crate) async fn hybrid_fuses_both_rankings(store: &dyn Store) {
    let name = "bt_hybrid";
    fresh(store, name, Some(4)).await;
    // Lexically (query "solar panel warranty"): lexical_best 1st (all three words), both 2nd
    // (two words), nothing else matches. Densely: dense_best 1st, both 2nd, lexical_best last.
    let data = [
        (
            "both",
            "solar panel installation guide",
            vec![0.99, 0.14, 0.0, 0.0],
        ),
        (
            "lexical_best",
            "solar panel warranty",
            vec![-1.0, 0.0, 0.0, 0.0],
        ),
        (
            "dense_best",
            "opening hours of the office",
            vec![1.0, 0.0, 0.0, 0.0],
        ),
        (
            "filler1",
            "a recipe for lentil soup",
            vec![0.9, 0.43, 0.0, 0.0],
        ),
        (
            "filler2",
            "train timetable for Sunday",
            vec![0.8, 0.6, 0.0, 0.0],
        ),
        (
            "filler3",
            "knitting patterns for winter",
            vec![0.7, 0.71, 0.0, 0.0],
        ),
    ];
    let chunks = data
        .iter()
        .map(|(id, text, _)| chunk(id, text, None, 0, json!({})))
        .collect();
    store
        .upsert(
            name,
            chunks,
            data.iter().map(|(_, _, v)| v.clone()).collect(),
        )
        .await
        .unwrap();
    let hits = store
        .search(
            name,
            request(
                "solar panel warranty",
                Some(vec![1.0, 0.0, 0.0, 0.0]),
                6,
                SearchMode::Hybrid,
            ),
        )
        .await
        .unwrap();
    let order = ids(&hits);
    assert_eq!(order.first(), Some(&"both"), "{order:?}");
    let position = |id: &str| order.iter().position(|found| *found == id).unwrap();
    assert!(
        position("lexical_best") < position("dense_best"),
        "{order:?}"
    );
    let rank = |id: &str| {
        let hit = &hits[position(id)];
        (hit.lexical_rank, hit.dense_rank)
    };
    assert_eq!(rank("both"), (Some(2), Some(2)));
    assert_eq!(rank("lexical_best"), (Some(1), Some(6)));
    assert_eq!(rank("dense_best"), (None, Some(1)));
    assert!(
        hits.windows(2).all(|pair| pair[0].score >= pair[1].score),
        "{hits:?}"
    );
    assert!(hits.iter().all(|hit| hit.score > 0.0));
    // k limits the fused list, not the rankings fused.
    let top = store
        .search(
            name,
            request(
                "solar panel warranty",
                Some(vec![1.0, 0.0, 0.0, 0.0]),
                1,
                SearchMode::Hybrid,
            ),
        )
        .await
        .unwrap();
    assert_eq!(ids(&top), ["both"]);
    store.drop_collection(name).await.unwrap();
}

/// `score_threshold` drops hits below it, in cosine for dense, BM25 for lexical and the fused
/// score for hybrid.
pub(crate) async fn score_thresholds_use_each_modes_scale(store: &dyn Store) {
    let name = "bt_threshold";
    fresh(store, name, Some(4)).await;
    let data = [
        ("a", "apple apple apple", vec![1.0, 0.0, 0.0, 0.0]),
        ("b", "apple pie", vec![1.0, 1.0, 0.0, 0.0]),
        (
            "c",
            "apple orchard in the valley by the river",
            vec![0.0, 1.0, 0.0, 0.0],
        ),
        ("d", "pear", vec![-1.0, 0.0, 0.0, 0.0]),
    ];
    let chunks = data
        .iter()
        .map(|(id, text, _)| chunk(id, text, None, 0, json!({})))
        .collect();
    store
        .upsert(
            name,
            chunks,
            data.iter().map(|(_, _, v)| v.clone()).collect(),
        )
        .await
        .unwrap();
    let query = Some(vec![1.0, 0.0, 0.0, 0.0]);
    let search = |mode, threshold| {
        let mut thresholded = request("apple", query.clone(), 10, mode);
        thresholded.score_threshold = threshold;
        store.search(name, thresholded)
    };
    // Cosine: a = 1, b ≈ 0.707, c = 0, d = -1.
    assert_eq!(
        ids(&search(SearchMode::Dense, Some(0.5)).await.unwrap()),
        ["a", "b"]
    );
    assert_eq!(
        ids(&search(SearchMode::Dense, Some(0.999)).await.unwrap()),
        ["a"]
    );
    assert_eq!(
        search(SearchMode::Dense, Some(-2.0)).await.unwrap().len(),
        4
    );
    // BM25 and RRF scales differ by backend: cut between the first two scores found.
    for mode in [SearchMode::Lexical, SearchMode::Hybrid] {
        let all = search(mode, None).await.unwrap();
        assert!(all.len() >= 2, "{mode:?}: {all:?}");
        assert!(all[0].score > all[1].score, "{mode:?}: {all:?}");
        let cut = (all[0].score + all[1].score) / 2.0;
        let kept = search(mode, Some(cut)).await.unwrap();
        assert_eq!(ids(&kept), [all[0].chunk.id.as_str()], "{mode:?}");
        let none = search(mode, Some(all[0].score * 2.0 + 1.0)).await.unwrap();
        assert!(none.is_empty(), "{mode:?}: {none:?}");
    }
    store.drop_collection(name).await.unwrap();
}

/// `chunks_of_source` returns the source's chunks within the index range, in order.
pub(crate) async fn chunks_of_source_gives_neighbours(store: &dyn Store) {
    let name = "bt_neighbours";
    fresh(store, name, None).await;
    // Stored out of order, next to another source with the same indexes.
    let mut chunks: Vec<Chunk> = [5, 0, 3, 6, 1, 4, 2]
        .into_iter()
        .map(|i| {
            chunk(
                &format!("guide-{i}"),
                &format!("part {i}"),
                Some("guide.md"),
                i,
                json!({}),
            )
        })
        .collect();
    chunks.extend((0..4).map(|i| {
        chunk(
            &format!("other-{i}"),
            "other",
            Some("other.md"),
            i,
            json!({}),
        )
    }));
    chunks.push(chunk("memory", "no source", None, 3, json!({})));
    store.upsert(name, chunks, Vec::new()).await.unwrap();

    let around = store
        .chunks_of_source(name, "guide.md", 2..=4)
        .await
        .unwrap();
    assert_eq!(chunk_ids(&around), ["guide-2", "guide-3", "guide-4"]);
    let positions: Vec<u32> = around.iter().map(|chunk| chunk.position.index).collect();
    assert_eq!(positions, [2, 3, 4]);
    let tail = store
        .chunks_of_source(name, "guide.md", 5..=10)
        .await
        .unwrap();
    assert_eq!(chunk_ids(&tail), ["guide-5", "guide-6"]);
    let first = store
        .chunks_of_source(name, "guide.md", 0..=0)
        .await
        .unwrap();
    assert_eq!(chunk_ids(&first), ["guide-0"]);
    assert!(
        store
            .chunks_of_source(name, "missing.md", 0..=10)
            .await
            .unwrap()
            .is_empty()
    );
    store.drop_collection(name).await.unwrap();
}

/// `sources` lists each source once with its hash and chunk count; chunks without a source are
/// not a source.
pub(crate) async fn sources_report_hashes(store: &dyn Store) {
    let name = "bt_sources";
    fresh(store, name, None).await;
    let with_hash = |id: &str, source: &str, index, hash: Option<&str>| {
        let mut chunk = chunk(id, "text", Some(source), index, json!({}));
        chunk.content_hash = hash.map(str::to_owned);
        chunk
    };
    let chunks = vec![
        with_hash("a0", "a.md", 0, Some("hash-a")),
        with_hash("a1", "a.md", 1, Some("hash-a")),
        with_hash("a2", "a.md", 2, Some("hash-a")),
        with_hash("b0", "b.md", 0, Some("hash-b")),
        with_hash("b1", "b.md", 1, Some("hash-b")),
        with_hash("c0", "https://example.invalid/c", 0, None),
        chunk("memory", "remember this", None, 0, json!({})),
    ];
    store.upsert(name, chunks, Vec::new()).await.unwrap();
    let mut sources = store.sources(name).await.unwrap();
    sources.sort_by(|a, b| a.source.cmp(&b.source));
    let info = |source: &str, hash: Option<&str>, chunks| SourceInfo {
        source: source.to_owned(),
        content_hash: hash.map(str::to_owned),
        chunks,
    };
    assert_eq!(
        sources,
        [
            info("a.md", Some("hash-a"), 3),
            info("b.md", Some("hash-b"), 2),
            info("https://example.invalid/c", None, 1),
        ]
    );
    let collection = store.collection(name).await.unwrap();
    assert_eq!((collection.chunks, collection.sources), (7, 3));

    store
        .delete(name, Selector::Source("a.md".to_owned()))
        .await
        .unwrap();
    let mut sources = store.sources(name).await.unwrap();
    sources.sort_by(|a, b| a.source.cmp(&b.source));
    assert_eq!(
        sources
            .iter()
            .map(|s| s.source.as_str())
            .collect::<Vec<_>>(),
        ["b.md", "https://example.invalid/c"]
    );
    store.drop_collection(name).await.unwrap();
}

/// A collection without an embedder stores no vectors, searches lexically, falls back to
/// lexical for hybrid, and refuses dense search with a reason.
pub(crate) async fn lexical_only_collections(store: &dyn Store) {
    let name = "bt_lexical_only";
    fresh(store, name, None).await;
    let chunks = vec![
        chunk(
            "a",
            "the lighthouse keeper's log",
            None,
            0,
            json!({"lang": "en"}),
        ),
        chunk(
            "b",
            "el diario del farero: lighthouse",
            None,
            0,
            json!({"lang": "es"}),
        ),
        chunk("c", "unrelated text", None, 0, json!({"lang": "en"})),
    ];
    store
        .upsert(name, chunks.clone(), Vec::new())
        .await
        .unwrap();
    assert_eq!(store.collection(name).await.unwrap().embedder, None);
    assert_invalid(
        store
            .upsert(name, chunks[..1].to_vec(), vec![vec![1.0, 0.0, 0.0, 0.0]])
            .await,
        "vectors for a lexical-only collection",
    );

    let lexical = store
        .search(name, request("lighthouse", None, 5, SearchMode::Lexical))
        .await
        .unwrap();
    assert_eq!(lexical.len(), 2);
    for vector in [None, Some(vec![1.0, 0.0, 0.0, 0.0])] {
        let hybrid = store
            .search(name, request("lighthouse", vector, 5, SearchMode::Hybrid))
            .await
            .unwrap();
        assert_eq!(ids(&hybrid), ids(&lexical));
        assert!(
            hybrid
                .iter()
                .all(|hit| hit.dense_rank.is_none() && hit.lexical_rank.is_some())
        );
    }
    let mut filtered = request("lighthouse", None, 5, SearchMode::Hybrid);
    filtered.filter = Some(filter("lang", vec![json!("es")], None, None));
    assert_eq!(ids(&store.search(name, filtered).await.unwrap()), ["b"]);

    let message = assert_invalid(
        store
            .search(
                name,
                request(
                    "lighthouse",
                    Some(vec![1.0, 0.0, 0.0, 0.0]),
                    5,
                    SearchMode::Dense,
                ),
            )
            .await,
        "dense search of a lexical-only collection",
    );
    assert!(message.contains("lexical"), "{message}");
    store.drop_collection(name).await.unwrap();
}

/// Vectors of the wrong length are refused, in upserts (storing nothing of the batch) and in
/// searches; dense search needs a vector.
pub(crate) async fn wrong_dimensions_are_invalid(store: &dyn Store) {
    let name = "bt_dimensions";
    fresh(store, name, Some(4)).await;
    assert_invalid(
        store
            .upsert(
                name,
                vec![chunk("short", "x", None, 0, json!({}))],
                vec![vec![1.0, 0.0, 0.0]],
            )
            .await,
        "3-d vector",
    );
    assert_invalid(
        store
            .upsert(
                name,
                vec![
                    chunk("fine", "x", None, 0, json!({})),
                    chunk("long", "x", None, 1, json!({})),
                ],
                vec![vec![1.0, 0.0, 0.0, 0.0], vec![1.0, 0.0, 0.0, 0.0, 0.0]],
            )
            .await,
        "5-d vector in a batch",
    );
    assert_eq!(store.get(name, "fine").await.unwrap(), None);
    assert_eq!(store.collection(name).await.unwrap().chunks, 0);

    store
        .upsert(
            name,
            vec![chunk("ok", "x", None, 0, json!({}))],
            vec![vec![1.0, 0.0, 0.0, 0.0]],
        )
        .await
        .unwrap();
    for mode in [SearchMode::Dense, SearchMode::Hybrid] {
        for vector in [vec![1.0, 0.0, 0.0], vec![1.0; 5], Vec::new()] {
            assert_invalid(
                store
                    .search(name, request("x", Some(vector.clone()), 3, mode))
                    .await,
                &format!("{mode:?} with {} dimensions", vector.len()),
            );
        }
    }
    assert_invalid(
        store
            .search(name, request("x", None, 3, SearchMode::Dense))
            .await,
        "dense without a vector",
    );
    // Lexical search needs no vector, so none of the wrong length matters.
    let hits = store
        .search(name, request("x", Some(vec![1.0]), 3, SearchMode::Lexical))
        .await
        .unwrap();
    assert_eq!(ids(&hits), ["ok"]);
    store.drop_collection(name).await.unwrap();
}

/// Searches keep answering, with full results, while batches are written.
pub(crate) async fn concurrent_reads_during_writes(store: &dyn Store) {
    let name = "bt_concurrent";
    fresh(store, name, Some(8)).await;
    let mut vectors = Vectors(42);
    let batch = |start: usize, count: usize, vectors: &mut Vectors| {
        let chunks = (start..start + count)
            .map(|i| {
                chunk(
                    &format!("c{i}"),
                    &format!("shared words item {i}"),
                    None,
                    0,
                    json!({"n": i}),
                )
            })
            .collect::<Vec<_>>();
        let vectors = (0..count).map(|_| vectors.next(8)).collect::<Vec<_>>();
        (chunks, vectors)
    };
    let (chunks, initial) = batch(0, 200, &mut vectors);
    store.upsert(name, chunks, initial).await.unwrap();
    let batches: Vec<_> = (0..5)
        .map(|b| batch(200 + b * 100, 100, &mut vectors))
        .collect();
    let queries: Vec<Vec<f32>> = (0..4).map(|_| vectors.next(8)).collect();

    let writer = async {
        for (chunks, vectors) in batches {
            store.upsert(name, chunks, vectors).await.unwrap();
        }
    };
    let reader = |query: Vec<f32>| async move {
        for round in 0..10 {
            let mode = [SearchMode::Hybrid, SearchMode::Dense, SearchMode::Lexical][round % 3];
            let hits = store
                .search(name, request("shared words", Some(query.clone()), 10, mode))
                .await
                .unwrap();
            assert_eq!(hits.len(), 10, "{mode:?}");
            let chunks = store.collection(name).await.unwrap().chunks;
            assert!((200..=700).contains(&chunks), "{chunks}");
        }
    };
    let readers = futures::future::join_all(queries.into_iter().map(reader));
    futures::join!(writer, readers);
    assert_eq!(store.collection(name).await.unwrap().chunks, 700);
    store.drop_collection(name).await.unwrap();
}
