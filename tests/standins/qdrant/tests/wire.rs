//! The stand-in driven by qdrant-client over gRPC, as the Qdrant store drives a real Qdrant: the calls go
//! through the generated client, tonic and the wire, and answers are checked against Qdrant's documented
//! behaviour.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail loudly.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use qdrant_client::qdrant::{
    Condition, CountPoints, CreateCollection, CreateFieldIndexCollection, DeletePoints, Direction,
    Distance, FieldType, Filter, Fusion, Modifier, NamedVectors, OrderBy, PointStruct,
    PointsSelector, PrefetchQueryBuilder, Query, QueryPointsBuilder, Range, Rrf, ScrollPoints,
    SparseVectorConfig, SparseVectorParams, UpsertPoints, Value, Vector, VectorParams,
    VectorParamsMap, VectorsConfig, points_selector, vectors_config,
};
use qdrant_client::{Payload, Qdrant, QdrantError};
use qdrant_standin::{Running, StandinConfig};
use serde_json::json;
use tonic::Code;

async fn connect(config: StandinConfig) -> (Running, Qdrant) {
    let running = qdrant_standin::spawn(config).await.unwrap();
    let client = Qdrant::from_url(&running.url())
        .skip_compatibility_check()
        .build()
        .unwrap();
    (running, client)
}

fn code(error: QdrantError) -> (Code, String) {
    match error {
        QdrantError::ResponseError { status } => (status.code(), status.message().to_owned()),
        other => panic!("not a status: {other}"),
    }
}

/// A collection with a 2-d cosine vector `dense` and an IDF sparse vector `text`.
fn hybrid_collection(name: &str) -> CreateCollection {
    CreateCollection {
        collection_name: name.to_owned(),
        vectors_config: Some(VectorsConfig {
            config: Some(vectors_config::Config::ParamsMap(VectorParamsMap {
                map: HashMap::from([(
                    "dense".to_owned(),
                    VectorParams {
                        size: 2,
                        distance: Distance::Cosine as i32,
                        ..VectorParams::default()
                    },
                )]),
            })),
        }),
        sparse_vectors_config: Some(SparseVectorConfig {
            map: HashMap::from([(
                "text".to_owned(),
                SparseVectorParams {
                    index: None,
                    modifier: Some(Modifier::Idf as i32),
                },
            )]),
        }),
        metadata: HashMap::from([("owner".to_owned(), Value::from("tests"))]),
        ..CreateCollection::default()
    }
}

fn point(
    id: u64,
    dense: [f32; 2],
    sparse: &[(u32, f32)],
    payload: serde_json::Value,
) -> PointStruct {
    let (indices, values): (Vec<u32>, Vec<f32>) = sparse.iter().copied().unzip();
    let vectors = NamedVectors::default()
        .add_vector("dense", Vector::new_dense(dense.to_vec()))
        .add_vector("text", Vector::new_sparse(indices, values));
    PointStruct::new(id, vectors, Payload::try_from(payload).unwrap())
}

fn upsert(name: &str, points: Vec<PointStruct>) -> UpsertPoints {
    UpsertPoints {
        collection_name: name.to_owned(),
        wait: Some(true),
        points,
        ..UpsertPoints::default()
    }
}

#[tokio::test]
async fn collections_round_trip_with_config_and_metadata() {
    let (_running, client) = connect(StandinConfig::default()).await;
    client
        .create_collection(hybrid_collection("c"))
        .await
        .unwrap();
    let (code_, message) = code(
        client
            .create_collection(hybrid_collection("c"))
            .await
            .unwrap_err(),
    );
    assert_eq!(code_, Code::InvalidArgument);
    assert_eq!(message, "Wrong input: Collection `c` already exists!");

    let info = client.collection_info("c").await.unwrap().result.unwrap();
    let config = info.config.unwrap();
    assert_eq!(config.metadata["owner"], Value::from("tests"));
    let params = config.params.unwrap();
    let Some(vectors_config::Config::ParamsMap(map)) = params.vectors_config.unwrap().config else {
        panic!("named vectors expected");
    };
    assert_eq!(map.map["dense"].size, 2);
    assert_eq!(
        params.sparse_vectors_config.unwrap().map["text"].modifier,
        Some(Modifier::Idf as i32)
    );
    assert!(client.collection_exists("c").await.unwrap());
    let names: Vec<String> = client
        .list_collections()
        .await
        .unwrap()
        .collections
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["c"]);
    assert!(client.delete_collection("c").await.unwrap().result);
    assert!(!client.delete_collection("c").await.unwrap().result);
    let (code_, message) = code(client.collection_info("c").await.unwrap_err());
    assert_eq!(
        (code_, message.as_str()),
        (Code::NotFound, "Not found: Collection `c` doesn't exist!")
    );
}

#[tokio::test]
async fn upserts_are_validated_like_qdrant() {
    let (running, client) = connect(StandinConfig::default()).await;
    client
        .create_collection(hybrid_collection("v"))
        .await
        .unwrap();
    let wrong_dimension = PointStruct::new(
        1,
        NamedVectors::default().add_vector("dense", Vector::new_dense(vec![1.0, 0.0, 0.0])),
        Payload::new(),
    );
    let (code_, message) = code(
        client
            .upsert_points(upsert("v", vec![wrong_dimension]))
            .await
            .unwrap_err(),
    );
    assert_eq!(code_, Code::InvalidArgument);
    assert_eq!(
        message,
        "Wrong input: Vector dimension error: expected dim: 2, got 3"
    );
    let unknown = PointStruct::new(
        2,
        NamedVectors::default().add_vector("nope", Vector::new_dense(vec![1.0, 0.0])),
        Payload::new(),
    );
    let (_, message) = code(
        client
            .upsert_points(upsert("v", vec![unknown]))
            .await
            .unwrap_err(),
    );
    assert!(message.contains("Not existing vector name"), "{message}");
    let duplicate = point(3, [1.0, 0.0], &[(1, 1.0), (1, 2.0)], json!({}));
    assert!(
        client
            .upsert_points(upsert("v", vec![duplicate]))
            .await
            .is_err()
    );
    // Nothing of a refused batch is stored.
    let good = point(4, [1.0, 0.0], &[(1, 1.0)], json!({}));
    let bad = point(5, [1.0, 0.0], &[(1, 1.0), (1, 1.0)], json!({}));
    assert!(
        client
            .upsert_points(upsert("v", vec![good, bad]))
            .await
            .is_err()
    );
    assert!(running.state.collection("v").unwrap().points.is_empty());
    let (code_, _) = code(
        client
            .upsert_points(upsert("missing", Vec::new()))
            .await
            .unwrap_err(),
    );
    assert_eq!(code_, Code::NotFound);
}

#[tokio::test]
async fn hybrid_query_fuses_prefetches_with_rrf() {
    let (_running, client) = connect(StandinConfig::default()).await;
    client
        .create_collection(hybrid_collection("h"))
        .await
        .unwrap();
    // Sparse ranking for the query term 7: point 1 (value 2), point 2 (value 1); point 3 lacks the term.
    // Dense ranking for [1, 0]: point 3, point 2, point 1.
    let points = vec![
        point(1, [-1.0, 0.2], &[(7, 2.0)], json!({"lang": "en"})),
        point(2, [0.8, 0.6], &[(7, 1.0), (9, 1.0)], json!({"lang": "en"})),
        point(3, [1.0, 0.0], &[(9, 1.0)], json!({"lang": "fr"})),
    ];
    client.upsert_points(upsert("h", points)).await.unwrap();
    let hybrid = |query: Query| {
        QueryPointsBuilder::new("h")
            .add_prefetch(
                PrefetchQueryBuilder::default()
                    .query(Query::new_nearest([(7u32, 1.0f32)].as_slice()))
                    .using("text")
                    .limit(10u64),
            )
            .add_prefetch(
                PrefetchQueryBuilder::default()
                    .query(Query::new_nearest(vec![1.0, 0.0]))
                    .using("dense")
                    .limit(10u64),
            )
            .query(query)
            .limit(10)
    };
    let fused = client
        .query(hybrid(Query::new_fusion(Fusion::Rrf)))
        .await
        .unwrap()
        .result;
    // Qdrant's default k = 2 adds 1 / (2 + position): point 1 is 1st and 3rd (1/2 + 1/4), point 2 is 2nd in
    // both (1/3 + 1/3), point 3 is 1st in one ranking only (1/2).
    assert_eq!(fused.len(), 3, "{fused:?}");
    assert_eq!(fused[0].id, Some(1.into()));
    assert_eq!(fused[2].id, Some(3.into()));
    let by_id = |id: u64| {
        fused
            .iter()
            .find(|p| p.id == Some(id.into()))
            .map(|p| p.score)
            .unwrap()
    };
    assert!((by_id(2) - (1.0 / 3.0 + 1.0 / 3.0)).abs() < 1e-6);
    assert!((by_id(1) - (1.0 / 2.0 + 1.0 / 4.0)).abs() < 1e-6);
    assert!((by_id(3) - 1.0 / 2.0).abs() < 1e-6);
    // k = 61 is the RRF paper's 1 / (60 + rank).
    let paper = client
        .query(hybrid(Query::new_rrf(Rrf {
            k: Some(61),
            weights: Vec::new(),
        })))
        .await
        .unwrap()
        .result;
    let best = paper.iter().find(|p| p.id == Some(2.into())).unwrap();
    assert!((best.score - 2.0 / 62.0).abs() < 1e-6);
    // A filter on the root query applies to the prefetches too.
    let filtered = client
        .query(
            hybrid(Query::new_fusion(Fusion::Rrf))
                .filter(Filter::must([Condition::matches("lang", "fr".to_string())])),
        )
        .await
        .unwrap()
        .result;
    assert_eq!(filtered.len(), 1);
    assert_eq!(filtered[0].id, Some(3.into()));
    assert!((filtered[0].score - 0.5).abs() < 1e-6);
}

#[tokio::test]
async fn sparse_search_applies_idf_and_dense_search_cosine() {
    let (_running, client) = connect(StandinConfig::default()).await;
    client
        .create_collection(hybrid_collection("s"))
        .await
        .unwrap();
    let points = vec![
        point(1, [3.0, 4.0], &[(1, 1.0), (2, 1.0)], json!({})),
        point(2, [1.0, 0.0], &[(1, 1.0)], json!({})),
        point(3, [0.0, 1.0], &[(3, 1.0)], json!({})),
    ];
    client.upsert_points(upsert("s", points)).await.unwrap();
    let sparse = client
        .query(
            QueryPointsBuilder::new("s")
                .query(Query::new_nearest([(1u32, 1.0f32), (2, 1.0)].as_slice()))
                .using("text"),
        )
        .await
        .unwrap()
        .result;
    // idf = ln((N - n + 0.5) / (n + 0.5) + 1) with N = 3: term 1 (n = 2) and term 2 (n = 1).
    let idf = |n: f32| ((3.0 - n + 0.5) / (n + 0.5) + 1.0).ln();
    assert_eq!(
        sparse.len(),
        2,
        "point 3 shares no term and is not returned"
    );
    assert!((sparse[0].score - (idf(2.0) + idf(1.0))).abs() < 1e-5);
    assert!((sparse[1].score - idf(2.0)).abs() < 1e-5);
    let dense = client
        .query(
            QueryPointsBuilder::new("s")
                .query(Query::new_nearest(vec![2.0, 0.0]))
                .using("dense")
                .score_threshold(0.5),
        )
        .await
        .unwrap()
        .result;
    let scores: Vec<f32> = dense.iter().map(|p| p.score).collect();
    assert_eq!(dense[0].id, Some(2.into()));
    assert!(
        (scores[0] - 1.0).abs() < 1e-6 && (scores[1] - 0.6).abs() < 1e-6,
        "{scores:?}"
    );
    assert_eq!(
        scores.len(),
        2,
        "the orthogonal point is under the threshold"
    );
}

#[tokio::test]
async fn scroll_pages_by_id_and_orders_by_an_indexed_key() {
    let (_running, client) = connect(StandinConfig::default()).await;
    client
        .create_collection(hybrid_collection("p"))
        .await
        .unwrap();
    let points = (1..=25)
        .map(|i| {
            point(
                i,
                [1.0, 0.0],
                &[(1, 1.0)],
                json!({"n": 100 - i, "even": i % 2 == 0}),
            )
        })
        .collect();
    client.upsert_points(upsert("p", points)).await.unwrap();
    let scroll = |offset, order_by| ScrollPoints {
        collection_name: "p".to_owned(),
        limit: Some(10),
        offset,
        order_by,
        filter: Some(Filter::must([Condition::matches("even", false)])),
        ..ScrollPoints::default()
    };
    let first = client.scroll(scroll(None, None)).await.unwrap();
    assert_eq!(first.result.len(), 10);
    assert_eq!(first.result[0].id, Some(1.into()));
    assert_eq!(first.next_page_offset, Some(21.into()));
    assert!(
        !first.result[0].payload.is_empty(),
        "scroll returns payloads by default"
    );
    let second = client
        .scroll(scroll(first.next_page_offset, None))
        .await
        .unwrap();
    assert_eq!(second.result.len(), 3);
    assert_eq!(second.next_page_offset, None);

    let by_n = Some(OrderBy {
        key: "n".to_owned(),
        direction: Some(Direction::Desc as i32),
        start_from: None,
    });
    let (code_, message) = code(client.scroll(scroll(None, by_n.clone())).await.unwrap_err());
    assert_eq!(code_, Code::InvalidArgument);
    assert!(
        message.contains("No range index for `order_by` key"),
        "{message}"
    );
    client
        .create_field_index(CreateFieldIndexCollection {
            collection_name: "p".to_owned(),
            wait: Some(true),
            field_name: "n".to_owned(),
            field_type: Some(FieldType::Integer as i32),
            ..CreateFieldIndexCollection::default()
        })
        .await
        .unwrap();
    let ordered = client.scroll(scroll(None, by_n)).await.unwrap();
    let ids: Vec<_> = ordered
        .result
        .iter()
        .map(|p| p.id.clone().unwrap())
        .collect();
    // n = 100 - i, descending: the smallest odd ids first.
    assert_eq!(ids[..3], [1.into(), 3.into(), 5.into()]);
    assert_eq!(ordered.next_page_offset, None);
}

#[tokio::test]
async fn count_and_delete_by_ids_and_filter() {
    let (_running, client) = connect(StandinConfig::default()).await;
    client
        .create_collection(hybrid_collection("d"))
        .await
        .unwrap();
    let points = (1..=6)
        .map(|i| point(i, [1.0, 0.0], &[(1, 1.0)], json!({"year": 2018 + i})))
        .collect();
    client.upsert_points(upsert("d", points)).await.unwrap();
    let count = |filter: Option<Filter>| CountPoints {
        collection_name: "d".to_owned(),
        filter,
        exact: Some(true),
        ..CountPoints::default()
    };
    let recent = Filter::must([Condition::range(
        "year",
        Range {
            gte: Some(2022.0),
            ..Range::default()
        },
    )]);
    assert_eq!(
        client
            .count(count(Some(recent.clone())))
            .await
            .unwrap()
            .result
            .unwrap()
            .count,
        3
    );
    let delete = |selector| DeletePoints {
        collection_name: "d".to_owned(),
        wait: Some(true),
        points: Some(PointsSelector {
            points_selector_one_of: Some(selector),
        }),
        ..DeletePoints::default()
    };
    client
        .delete_points(delete(points_selector::PointsSelectorOneOf::Filter(recent)))
        .await
        .unwrap();
    client
        .delete_points(delete(points_selector::PointsSelectorOneOf::Points(
            qdrant_client::qdrant::PointsIdsList {
                ids: vec![1.into(), 99.into()],
            },
        )))
        .await
        .unwrap();
    assert_eq!(
        client
            .count(count(None))
            .await
            .unwrap()
            .result
            .unwrap()
            .count,
        2
    );
}

#[tokio::test]
async fn an_api_key_is_required_when_configured() {
    let (running, without_key) = connect(StandinConfig {
        api_key: Some("k-123456".to_owned()),
        ..StandinConfig::default()
    })
    .await;
    let (code_, message) = code(without_key.list_collections().await.unwrap_err());
    assert_eq!(code_, Code::Unauthenticated);
    assert_eq!(
        message,
        "Must provide an API key or an Authorization bearer token"
    );
    let wrong = Qdrant::from_url(&running.url())
        .api_key("nope")
        .skip_compatibility_check()
        .build()
        .unwrap();
    assert_eq!(
        code(wrong.list_collections().await.unwrap_err()).0,
        Code::PermissionDenied
    );
    let right = Qdrant::from_url(&running.url())
        .api_key("k-123456")
        .skip_compatibility_check()
        .build()
        .unwrap();
    assert!(
        right
            .list_collections()
            .await
            .unwrap()
            .collections
            .is_empty()
    );
    // The health check stays open, as Qdrant's health endpoints are.
    assert!(without_key.health_check().await.is_ok());
}

#[tokio::test]
async fn calls_outside_the_subset_are_unimplemented() {
    let (_running, client) = connect(StandinConfig::default()).await;
    client
        .create_collection(hybrid_collection("u"))
        .await
        .unwrap();
    let outcome = client
        .facet(qdrant_client::qdrant::FacetCounts {
            collection_name: "u".to_owned(),
            key: "lang".to_owned(),
            ..Default::default()
        })
        .await;
    assert_eq!(code(outcome.unwrap_err()).0, Code::Unimplemented);
}

/// Kills the child when the test ends, whatever happens.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_binary_announces_its_loopback_address() {
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_qdrant-standin"))
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stderr = child.0.stderr.take().unwrap();
    let mut line = String::new();
    BufReader::new(stderr).read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("qdrant-standin: listening on ")
        .unwrap_or_else(|| panic!("unexpected banner {line:?}"))
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let answered = runtime.block_on(async {
        let client = Qdrant::from_url(&url)
            .timeout(Duration::from_secs(5))
            .skip_compatibility_check()
            .build()
            .unwrap();
        client.health_check().await
    });
    drop(child);
    assert_eq!(
        answered.unwrap().version,
        qdrant_standin::service::REPORTED_VERSION
    );
}
