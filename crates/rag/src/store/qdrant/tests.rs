//! The Qdrant store against the Qdrant stand-in (a real gRPC server on loopback speaking Qdrant's protos): the
//! shared behaviour suite, then what is particular to Qdrant (layout, encoding, scores, errors, configuration).

use std::time::Duration;

use mcp_common::{BackendConfig, ConfigError, Env};
use qdrant_client::qdrant::value::Kind;
use qdrant_client::qdrant::{CreateCollection, PayloadSchemaType};
use qdrant_standin::point::PointKey;
use qdrant_standin::{Running, StandinConfig};
use serde_json::json;

use super::payload::{CollectionMeta, METADATA_KEY, point_uuid};
use super::sparse::{self, Bm25Params};
use super::*;
use crate::model::{Condition, Filter, Position};
use crate::store::behaviour::{Fixture, behaviour_tests};

/// A call policy for tests: short timeout, no retries, so failures show at once.
fn fast_policy() -> BackendConfig {
    BackendConfig {
        timeout: Duration::from_secs(5),
        max_retries: 0,
        base_delay: Duration::from_millis(10),
        max_retry_after: Duration::from_secs(1),
        breaker_threshold: 1000,
        breaker_cooldown: Duration::from_millis(10),
    }
}

fn store_for(url: &str, api_key: Option<&str>) -> QdrantStore {
    QdrantStore::new(QdrantConfig {
        url: url.to_owned(),
        api_key: api_key.map(Secret::new),
        backend: fast_policy(),
    })
    .unwrap()
}

async fn standin() -> (Running, QdrantStore) {
    let running = qdrant_standin::spawn(StandinConfig::default())
        .await
        .unwrap();
    let store = store_for(&running.url(), None);
    (running, store)
}

/// A fresh stand-in per behaviour, so behaviours never see each other's collections.
async fn standin_fixture() -> Option<Fixture> {
    let (running, store) = standin().await;
    Some(Fixture {
        store: Box::new(store),
        _keep: Box::new(running),
    })
}

behaviour_tests!(standin_fixture);

fn embedder(dimension: usize) -> EmbedderId {
    EmbedderId {
        provider: "test".to_owned(),
        model: "synthetic".to_owned(),
        dimension,
    }
}

fn chunk(id: &str, text: &str, source: Option<&str>, index: u32) -> Chunk {
    Chunk {
        id: id.to_owned(),
        text: text.to_owned(),
        source: source.map(str::to_owned),
        position: Position {
            index,
            ..Position::default()
        },
        metadata: BTreeMap::new(),
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

#[tokio::test]
async fn collections_have_named_dense_and_idf_sparse_vectors_indexes_and_the_embedder_in_metadata()
{
    let (running, store) = standin().await;
    store
        .create_collection("docs", Some(&embedder(4)))
        .await
        .unwrap();
    store.create_collection("words", None).await.unwrap();

    let docs = running.state.collection("docs").unwrap();
    assert_eq!(docs.dense.len(), 1);
    let dense = docs.dense[DENSE_VECTOR];
    assert_eq!((dense.size, dense.distance), (4, Distance::Cosine));
    assert!(docs.sparse[SPARSE_VECTOR].idf);
    assert_eq!(
        docs.payload_schema[SOURCE_FIELD],
        PayloadSchemaType::Keyword
    );
    assert_eq!(docs.payload_schema[INDEX_FIELD], PayloadSchemaType::Integer);
    let meta = CollectionMeta::from_metadata(&docs.metadata)
        .unwrap()
        .unwrap();
    assert_eq!(meta.embedder, Some(embedder(4)));
    assert_eq!(meta.bm25, Bm25Params::default());

    let words = running.state.collection("words").unwrap();
    assert!(
        words.dense.is_empty(),
        "a lexical-only collection has no dense vector"
    );
    assert!(words.sparse[SPARSE_VECTOR].idf);
    assert_eq!(
        CollectionMeta::from_metadata(&words.metadata)
            .unwrap()
            .unwrap()
            .embedder,
        None
    );
    // The embedder comes back from Qdrant, not from memory: a second store (another process) reads it.
    let other = store_for(&running.url(), None);
    assert_eq!(
        other.collection("docs").await.unwrap().embedder,
        Some(embedder(4))
    );
}

#[tokio::test]
async fn points_have_uuid_v5_ids_the_chunk_as_payload_and_bm25_sparse_vectors() {
    let (running, store) = standin().await;
    store
        .create_collection("notes", Some(&embedder(4)))
        .await
        .unwrap();
    let mut stored = chunk("intro#0", "Café au lait, café noir", Some("menu.md"), 7);
    stored.metadata = serde_json::from_value(json!({"lang": "fr", "year": 2024})).unwrap();
    stored.content_hash = Some("abc123".to_owned());
    store
        .upsert(
            "notes",
            vec![stored.clone()],
            vec![vec![3.0, 4.0, 0.0, 0.0]],
        )
        .await
        .unwrap();

    let collection = running.state.collection("notes").unwrap();
    let key = PointKey::Uuid(point_uuid("notes", "intro#0").as_u128());
    let point = &collection.points[&key];
    assert_eq!(
        point.payload["chunk_id"].kind,
        Some(Kind::StringValue("intro#0".to_owned()))
    );
    assert_eq!(
        point.payload["source"].kind,
        Some(Kind::StringValue("menu.md".to_owned()))
    );
    let Some(Kind::StructValue(position)) = &point.payload["position"].kind else {
        panic!("{:?}", point.payload);
    };
    assert_eq!(position.fields["index"].kind, Some(Kind::IntegerValue(7)));
    let Some(Kind::StructValue(metadata)) = &point.payload["metadata"].kind else {
        panic!("{:?}", point.payload);
    };
    assert_eq!(metadata.fields["year"].kind, Some(Kind::IntegerValue(2024)));
    assert_eq!(
        point.payload["content_hash"].kind,
        Some(Kind::StringValue("abc123".to_owned()))
    );
    // The dense vector as sent (Qdrant normalises cosine vectors itself).
    assert_eq!(point.dense[DENSE_VECTOR], vec![0.6, 0.8, 0.0, 0.0]);
    // BM25 term frequencies: "café" twice, "au", "lait", "noir" once, 5 tokens.
    let expected = sparse::encode_document(&stored.text, &Bm25Params::default());
    let bm25 = &point.sparse[SPARSE_VECTOR];
    assert_eq!(bm25.indices, expected.indices);
    assert_eq!(bm25.values, expected.values);
    assert_eq!(bm25.indices.len(), 4);
    let cafe = bm25.get(sparse::term_index("cafe"));
    assert!(cafe > bm25.get(sparse::term_index("noir")), "{bm25:?}");

    assert_eq!(store.get("notes", "intro#0").await.unwrap(), Some(stored));
}

#[tokio::test]
async fn lexical_scores_are_bm25_with_qdrants_idf() {
    let (_running, store) = standin().await;
    store.create_collection("bm25", None).await.unwrap();
    let texts = [
        ("a", "the quick brown fox"),
        ("b", "the lazy dog"),
        ("c", "the quick dog jumps over the fox"),
    ];
    let chunks = texts
        .iter()
        .map(|(id, text)| chunk(id, text, None, 0))
        .collect();
    store.upsert("bm25", chunks, Vec::new()).await.unwrap();
    let hits = store
        .search("bm25", lexical("quick fox", 10))
        .await
        .unwrap();
    assert_eq!(hits.len(), 2);
    // idf(t) = ln((N - n + 0.5) / (n + 0.5) + 1); score = Σ idf(t) · document value of t.
    let idf = |n: f64| ((3.0 - n + 0.5) / (n + 0.5) + 1.0).ln();
    let params = Bm25Params::default();
    for hit in &hits {
        let document = sparse::encode_document(&hit.chunk.text, &params);
        let value = |token: &str| {
            let index = sparse::term_index(token);
            let position = document.indices.iter().position(|i| *i == index).unwrap();
            f64::from(document.values[position])
        };
        let expected = idf(2.0) * value("quick") + idf(2.0) * value("fox");
        assert!((hit.score - expected).abs() < 1e-4, "{hit:?}: {expected}");
    }
    // The shorter document holding both words ranks first.
    assert_eq!(hits[0].chunk.id, "a");
}

#[tokio::test]
async fn hybrid_scores_are_reciprocal_ranks_with_k_60() {
    let (_running, store) = standin().await;
    store
        .create_collection("mix", Some(&embedder(2)))
        .await
        .unwrap();
    let chunks = vec![
        chunk("x", "red apple", None, 0),
        chunk("y", "green apple pie", None, 0),
        chunk("z", "blue sky", None, 0),
    ];
    let vectors = vec![vec![0.0, 1.0], vec![1.0, 0.1], vec![1.0, 0.0]];
    store.upsert("mix", chunks, vectors).await.unwrap();
    let request = SearchRequest {
        text: "apple".to_owned(),
        vector: Some(vec![1.0, 0.0]),
        k: 10,
        filter: None,
        mode: SearchMode::Hybrid,
        score_threshold: None,
    };
    let hits = store.search("mix", request).await.unwrap();
    assert_eq!(hits.len(), 3);
    for hit in &hits {
        let part = |rank: Option<u32>| rank.map_or(0.0, |rank| 1.0 / (60.0 + f64::from(rank)));
        let expected = part(hit.lexical_rank) + part(hit.dense_rank);
        assert!((hit.score - expected).abs() < 1e-6, "{hit:?}: {expected}");
    }
    let y = hits.iter().find(|hit| hit.chunk.id == "y").unwrap();
    assert_eq!((y.dense_rank, y.lexical_rank.is_some()), (Some(2), true));
    let z = hits.iter().find(|hit| hit.chunk.id == "z").unwrap();
    assert_eq!((z.lexical_rank, z.dense_rank), (None, Some(1)));
}

#[tokio::test]
async fn filters_index_metadata_keys_on_first_use() {
    let (running, store) = standin().await;
    store.create_collection("tagged", None).await.unwrap();
    let mut english = chunk("en", "hello world", Some("a.md"), 0);
    english.metadata = serde_json::from_value(json!({"lang": "en", "year": 2020})).unwrap();
    store
        .upsert("tagged", vec![english], Vec::new())
        .await
        .unwrap();
    let mut request = lexical("hello", 5);
    request.filter = Some(Filter {
        must: vec![
            Condition {
                key: "lang".to_owned(),
                any_of: vec![json!("en")],
                gte: None,
                lte: None,
            },
            Condition {
                key: "year".to_owned(),
                any_of: Vec::new(),
                gte: Some(2019.0),
                lte: None,
            },
        ],
    });
    assert_eq!(store.search("tagged", request).await.unwrap().len(), 1);
    let schema = running.state.collection("tagged").unwrap().payload_schema;
    assert_eq!(schema["metadata.lang"], PayloadSchemaType::Keyword);
    assert_eq!(schema["metadata.year"], PayloadSchemaType::Float);
}

#[tokio::test]
async fn batches_larger_than_a_request_or_a_page_go_through_whole() {
    let (_running, store) = standin().await;
    store.create_collection("big", None).await.unwrap();
    let count = UPSERT_BATCH * 2 + SCROLL_PAGE as usize + 7;
    let chunks: Vec<Chunk> = (0..count)
        .map(|i| {
            let source = format!("file-{}.md", i % 3);
            chunk(
                &format!("c{i}"),
                &format!("text {i}"),
                Some(&source),
                i as u32,
            )
        })
        .collect();
    store.upsert("big", chunks, Vec::new()).await.unwrap();
    let info = store.collection("big").await.unwrap();
    assert_eq!((info.chunks, info.sources), (count as u64, 3));
    let sources = store.sources("big").await.unwrap();
    assert_eq!(sources.iter().map(|s| s.chunks).sum::<u64>(), count as u64);
    let all = store
        .chunks_of_source("big", "file-0.md", 0..=u32::MAX)
        .await
        .unwrap();
    assert_eq!(all.len(), count.div_ceil(3));
    assert!(
        all.windows(2)
            .all(|pair| pair[0].position.index < pair[1].position.index)
    );
}

#[tokio::test]
async fn the_last_of_duplicate_ids_in_a_batch_wins() {
    let (_running, store) = standin().await;
    store.create_collection("dups", None).await.unwrap();
    let batch = vec![chunk("a", "first", None, 0), chunk("a", "second", None, 1)];
    store.upsert("dups", batch, Vec::new()).await.unwrap();
    assert_eq!(
        store.get("dups", "a").await.unwrap().unwrap().text,
        "second"
    );
    assert_eq!(store.collection("dups").await.unwrap().chunks, 1);
}

#[tokio::test]
async fn collections_of_other_applications_are_neither_listed_nor_touched() {
    let (running, store) = standin().await;
    running
        .state
        .create_collection(CreateCollection {
            collection_name: "theirs".to_owned(),
            ..CreateCollection::default()
        })
        .unwrap();
    store.create_collection("ours", None).await.unwrap();
    let names: Vec<String> = store
        .list_collections()
        .await
        .unwrap()
        .into_iter()
        .map(|info| info.name)
        .collect();
    assert_eq!(names, ["ours"]);
    for outcome in [
        store.drop_collection("theirs").await.map(|_| ()),
        store.collection("theirs").await.map(|_| ()),
        store
            .upsert("theirs", vec![chunk("a", "x", None, 0)], Vec::new())
            .await,
    ] {
        assert!(
            matches!(&outcome, Err(StoreError::Invalid(message)) if message.contains("not created by mcp-rag")),
            "{outcome:?}"
        );
    }
    assert!(running.state.collection("theirs").is_some());
    assert_eq!(
        store.create_collection("theirs", None).await,
        Err(StoreError::CollectionExists("theirs".to_owned()))
    );
}

#[tokio::test]
async fn a_qdrant_that_drops_collection_metadata_is_refused_at_creation() {
    let running = qdrant_standin::spawn(StandinConfig {
        forget_metadata: true,
        ..StandinConfig::default()
    })
    .await
    .unwrap();
    let store = store_for(&running.url(), None);
    let outcome = store.create_collection("old", Some(&embedder(4))).await;
    assert!(
        matches!(&outcome, Err(StoreError::Backend(message)) if message.contains("1.16")),
        "{outcome:?}"
    );
    // The half-made collection is removed again.
    assert!(running.state.collection("old").is_none());
}

#[tokio::test]
async fn a_closed_port_is_an_error_connecting_to_qdrant() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let url = format!("http://127.0.0.1:{port}");
    let store = store_for(&url, None);
    let outcome = store.list_collections().await;
    let Err(StoreError::Backend(message)) = outcome else {
        panic!("{outcome:?}");
    };
    assert!(
        message.starts_with(&format!(
            "error connecting to Qdrant at {url}: connection refused"
        )),
        "{message}"
    );
    assert!(message.contains("QDRANT_URL"), "{message}");
    let outcome = store.health().await;
    assert!(
        matches!(outcome, Err(StoreError::Backend(_))),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn the_api_key_is_sent_and_a_missing_or_wrong_one_is_reported() {
    let running = qdrant_standin::spawn(StandinConfig {
        api_key: Some("sesame-open-1234".to_owned()),
        ..StandinConfig::default()
    })
    .await
    .unwrap();
    let with_key = store_for(&running.url(), Some("sesame-open-1234"));
    with_key.create_collection("locked", None).await.unwrap();
    assert_eq!(with_key.list_collections().await.unwrap().len(), 1);
    for key in [None, Some("wrong-key-5678")] {
        let outcome = store_for(&running.url(), key).list_collections().await;
        assert!(
            matches!(&outcome, Err(StoreError::Backend(message)) if message.contains("QDRANT_API_KEY") && message.contains("Qdrant at http://127.0.0.1")),
            "{outcome:?}"
        );
    }
    assert_eq!(
        with_key.health().await.unwrap(),
        qdrant_standin::service::REPORTED_VERSION
    );
}

#[test]
fn configuration_comes_from_the_environment() {
    let env = |pairs: &[(&str, &str)]| Env::from_pairs(pairs.iter().copied());
    assert!(matches!(
        QdrantConfig::from_env(&env(&[])),
        Err(ConfigError::Missing { variable, .. }) if variable == "QDRANT_URL"
    ));
    for bad in ["localhost:6334", "ftp://host", "http://", "http:// spaced"] {
        assert!(
            matches!(
                QdrantConfig::from_env(&env(&[("QDRANT_URL", bad)])),
                Err(ConfigError::Invalid { variable, .. }) if variable == "QDRANT_URL"
            ),
            "{bad}"
        );
    }
    let config = QdrantConfig::from_env(&env(&[
        ("QDRANT_URL", "https://xyz.cloud.qdrant.io:6334"),
        ("QDRANT_API_KEY", "secret-key-value"),
        ("QDRANT_TIMEOUT_SECS", "2.5"),
        ("QDRANT_RETRIES", "1"),
    ]))
    .unwrap();
    assert_eq!(config.url, "https://xyz.cloud.qdrant.io:6334");
    assert_eq!(
        config.api_key.as_ref().map(Secret::expose),
        Some("secret-key-value")
    );
    assert_eq!(config.backend.timeout, Duration::from_millis(2500));
    assert_eq!(config.backend.max_retries, 1);
    assert!(!format!("{config:?}").contains("secret-key-value"));
    assert!(QDRANT_ENV_HELP.contains("QDRANT_URL") && QDRANT_ENV_HELP.contains("QDRANT_API_KEY"));
}

#[test]
fn endpoints_are_shown_without_credentials() {
    assert_eq!(
        shown_endpoint("http://localhost:6334/"),
        "http://localhost:6334"
    );
    assert_eq!(
        shown_endpoint("https://user:pw@host:6334"),
        "https://host:6334"
    );
    assert!(is_loopback_url("http://127.0.0.1:6334"));
    assert!(is_loopback_url("http://localhost:6334"));
    assert!(is_loopback_url("http://[::1]:6334"));
    assert!(!is_loopback_url("http://qdrant.internal:6334"));
}

#[test]
fn payload_fields_are_what_the_filters_name() {
    let payload = payload::chunk_payload(&chunk("a", "x", Some("s"), 3));
    assert!(payload.contains_key(SOURCE_FIELD));
    let Some(Kind::StructValue(position)) = &payload["position"].kind else {
        panic!("{payload:?}");
    };
    assert!(
        position.fields.contains_key("index"),
        "INDEX_FIELD is position.index"
    );
    assert_eq!(INDEX_FIELD, "position.index");
    assert_eq!(METADATA_KEY, "mcp_rag");
}
