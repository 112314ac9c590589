//! The Qdrant store: chunks as points of a Qdrant collection (Qdrant 1.16 or later, over gRPC), searched with
//! Qdrant's Query API.
//!
//! Layout of a collection:
//! - a named dense vector `dense` (cosine, the embedder's dimension), absent from lexical-only collections;
//! - a named sparse vector `bm25` with the `Idf` modifier: BM25's term-frequency half is computed here (see
//!   `sparse`), Qdrant supplies the inverse document frequency at query time;
//! - points whose id is UUID v5 of (collection, chunk id), with the chunk in the payload (`chunk_id`, `text`,
//!   `source`, `position`, `metadata`, `content_hash`);
//! - payload indexes on `source` and `position.index` from the start, and on `metadata.<key>` once a filter uses
//!   the key;
//! - the embedder and BM25 parameters in the collection's own metadata (key `mcp_rag`), so the server can refuse
//!   a mismatched embedder and any process reads the same answer. Collections without that entry belong to
//!   someone else and are neither listed nor touched.
//!
//! Hybrid search is one batched request: the BM25 ranking, the dense ranking, and Qdrant's reciprocal rank
//! fusion of the same two rankings as prefetches (k = 61 in Qdrant's formula, i.e. 1 / (60 + rank), the scale of
//! the SQLite store). The two plain rankings give each hit its `lexical_rank` and `dense_rank`.
//!
//! Every call goes through [`mcp_common::Backend`]: a timeout, retries of safe operations, a circuit breaker, and
//! errors that name Qdrant, its URL and the cause.

mod error;
mod filter;
mod payload;
mod sparse;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::ops::RangeInclusive;
use std::time::Duration;

use futures::future::BoxFuture;
use mcp_common::{Backend, BackendConfig, ConfigError, Env, Repeat, Secret};
use qdrant_client::qdrant::point_id::PointIdOptions;
use qdrant_client::qdrant::points_selector::PointsSelectorOneOf;
use qdrant_client::qdrant::value::Kind;
use qdrant_client::qdrant::vectors::VectorsOptions;
use qdrant_client::qdrant::vectors_config::Config as VectorsConfigKind;
use qdrant_client::qdrant::with_payload_selector::SelectorOptions as PayloadSelector;
use qdrant_client::qdrant::with_vectors_selector::SelectorOptions as VectorsSelector;
use qdrant_client::qdrant::{
    CollectionExistsRequest, CountPoints, CreateCollection, CreateFieldIndexCollection,
    DeleteCollection, DeletePoints, DenseVector, Distance, FieldType, Filter,
    GetCollectionInfoRequest, GetPoints, Modifier, NamedVectors, PayloadIncludeSelector, PointId,
    PointStruct, PointsIdsList, PointsSelector, PrefetchQuery, Query, QueryBatchPoints,
    QueryPoints, RetrievedPoint, Rrf, ScoredPoint, ScrollPoints, SparseVectorConfig,
    SparseVectorParams, UpsertPoints, Value as QdrantValue, Vector, VectorInput, VectorParams,
    VectorParamsMap, Vectors, VectorsConfig, WithPayloadSelector, WithVectorsSelector, query,
    vector, vector_input,
};
use qdrant_client::{Qdrant, QdrantError};
use tonic::Status;

use self::filter::{INDEX_FIELD, SOURCE_FIELD};
use self::payload::CollectionMeta;
use self::sparse::SparseVector;
use crate::model::{
    Chunk, CollectionInfo, EmbedderId, Hit, SearchMode, SearchRequest, Selector, SourceInfo,
};
use crate::store::{Store, StoreError};

/// The `--help` lines for the Qdrant store's variables.
pub const QDRANT_ENV_HELP: &str = "\
qdrant store:
  QDRANT_URL                  gRPC URL of Qdrant 1.16 or later, e.g. http://localhost:6334 (6334 is the gRPC
                              port; 6333 is REST, which this server does not speak); https for Qdrant Cloud
  QDRANT_API_KEY              Qdrant's API key, if it has one (sent in the api-key header: use https beyond
                              this machine)
  QDRANT_TIMEOUT_SECS         limit on each call to Qdrant (default 30)
  QDRANT_RETRIES              retries after a failed call, 0 to 3 (default 3; only calls safe to repeat, or
                              that surely never reached Qdrant)
  QDRANT_BREAKER_THRESHOLD    consecutive failures that stop calls to Qdrant for a while (default 5)
  QDRANT_BREAKER_COOLDOWN_SECS  how long calls stay stopped before one is tried again (default 30)";

/// The named dense vector.
const DENSE_VECTOR: &str = "dense";
/// The named sparse vector holding BM25 term weights.
const SPARSE_VECTOR: &str = "bm25";
/// The longest collection name (the SQLite store's rule, so names move between backends).
const MAX_NAME_LEN: usize = 64;
/// The RRF constant as the SQLite store uses it: a hit at rank r (1-based) adds 1 / (60 + r).
const RRF_K: u32 = 60;
/// Each ranking fused in hybrid mode is this many times deeper than k…
const HYBRID_DEPTH_FACTOR: u64 = 4;
/// …and at least this deep, so a small k still fuses over enough candidates.
const HYBRID_MIN_DEPTH: u64 = 50;
/// Points per upsert request, well under Qdrant's 32 MiB request limit even with 3,072-dimension vectors.
const UPSERT_BATCH: usize = 256;
/// Points per scroll page.
const SCROLL_PAGE: u32 = 1000;

/// Where Qdrant is and how to call it.
#[derive(Debug, Clone)]
pub struct QdrantConfig {
    /// The gRPC URL, e.g. `http://localhost:6334`.
    pub url: String,
    /// The API key, if Qdrant has one.
    pub api_key: Option<Secret>,
    /// Timeout, retries and circuit breaker.
    pub backend: BackendConfig,
}

impl QdrantConfig {
    /// Qdrant at `url`, without an API key, with the standard call policy.
    pub fn new(url: impl Into<String>) -> QdrantConfig {
        QdrantConfig {
            url: url.into(),
            api_key: None,
            backend: BackendConfig::standard(),
        }
    }

    /// Reads `QDRANT_URL` (required), `QDRANT_API_KEY` and the `QDRANT_*` call policy (see [`QDRANT_ENV_HELP`]).
    pub fn from_env(env: &Env) -> Result<QdrantConfig, ConfigError> {
        const EXPECTED: &str = "the gRPC URL of Qdrant, such as http://localhost:6334";
        let url = env.required("QDRANT_URL", EXPECTED)?;
        let host = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .map(|rest| rest.split(['/', '?']).next().unwrap_or_default());
        if host.is_none_or(|host| host.is_empty() || host.contains(char::is_whitespace)) {
            return Err(ConfigError::Invalid {
                variable: "QDRANT_URL".into(),
                expected: format!("{EXPECTED} (http:// or https://)"),
                found: Some(url),
            });
        }
        Ok(QdrantConfig {
            url,
            api_key: env.secret("QDRANT_API_KEY"),
            backend: BackendConfig::from_env(env, "QDRANT")?,
        })
    }
}

/// Chunks in Qdrant. Cheap to clone: clones share the connection pool and the circuit breaker.
#[derive(Clone)]
pub struct QdrantStore {
    client: Qdrant,
    backend: std::sync::Arc<Backend>,
}

impl std::fmt::Debug for QdrantStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QdrantStore")
            .field("endpoint", &self.backend.endpoint())
            .finish_non_exhaustive()
    }
}

/// What a collection's info says that the store needs.
struct Described {
    /// mcp-rag's metadata entry.
    meta: CollectionMeta,
    /// The payload fields that have an index.
    indexed: HashSet<String>,
}

/// The ranking actually run.
enum Effective<'a> {
    Lexical,
    Dense(&'a [f32]),
    Hybrid(&'a [f32]),
}

impl QdrantStore {
    /// A store on the Qdrant of `config`. Connections are made on first use, so this fails only on an unusable
    /// URL; call [`QdrantStore::health`] to check that Qdrant answers.
    pub fn new(config: QdrantConfig) -> Result<QdrantStore, StoreError> {
        let endpoint = shown_endpoint(&config.url);
        let mut builder = Qdrant::from_url(&config.url)
            .timeout(config.backend.timeout)
            .connect_timeout(config.backend.timeout.min(Duration::from_secs(10)))
            // The compatibility check prints to stdout, which is the MCP channel over stdio, and costs a call
            // at start-up; the store reports an incompatible server through its errors instead.
            .skip_compatibility_check();
        if let Some(key) = &config.api_key {
            if config.url.starts_with("http://") && !is_loopback_url(&config.url) {
                tracing::warn!(
                    endpoint = %endpoint,
                    "QDRANT_API_KEY is sent unencrypted over http to a host that is not this machine; use https"
                );
            }
            builder = builder.api_key(key.expose());
        }
        let client = builder.build().map_err(|err| {
            StoreError::Backend(format!(
                "cannot use QDRANT_URL {endpoint} for Qdrant: {err}; give the gRPC URL, such as http://localhost:6334"
            ))
        })?;
        let backend = Backend::new(
            "Qdrant",
            endpoint,
            "is QDRANT_URL right (the gRPC port, 6334 by default) and is Qdrant running?",
            config.backend,
        );
        Ok(QdrantStore {
            client,
            backend: std::sync::Arc::new(backend),
        })
    }

    /// Asks Qdrant for its version (its health check), for readiness probes.
    pub async fn health(&self) -> Result<String, StoreError> {
        let reply = self
            .call("the health check", Repeat::Safe, || {
                self.client.health_check()
            })
            .await?
            .map_err(|status| self.answered("", "the health check", &status))?;
        Ok(reply.version)
    }

    /// Runs one Qdrant call under the backend policy. `Ok(Err(status))` is an answer from Qdrant (not found, bad
    /// input, refused key); transport failures are retried when `repeat` allows and end as `StoreError::Backend`.
    async fn call<T, F, Fut>(
        &self,
        operation: &str,
        repeat: Repeat,
        attempt: F,
    ) -> Result<Result<T, Status>, StoreError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, QdrantError>>,
    {
        self.backend
            .call(operation, repeat, error::classify, || {
                let pending = attempt();
                async move {
                    match pending.await {
                        Ok(value) => Ok(Ok(value)),
                        Err(QdrantError::ResponseError { status }) if error::is_answer(&status) => {
                            Ok(Err(status))
                        }
                        Err(other) => Err(other),
                    }
                }
            })
            .await
            .map_err(|err| StoreError::Backend(err.to_string()))
    }

    fn answered(&self, collection: &str, operation: &str, status: &Status) -> StoreError {
        error::answered(self.backend.endpoint(), collection, operation, status)
    }

    /// The collection's mcp-rag metadata and indexed fields; `Ok(None)` when the collection exists but is not
    /// mcp-rag's.
    async fn describe_any(&self, name: &str) -> Result<Option<Described>, StoreError> {
        let operation = format!("get collection `{name}`");
        let request = GetCollectionInfoRequest {
            collection_name: name.to_owned(),
        };
        let response = self
            .call(&operation, Repeat::Safe, || {
                self.client.collection_info(request.clone())
            })
            .await?
            .map_err(|status| self.answered(name, &operation, &status))?;
        let info = response.result.ok_or_else(|| {
            StoreError::Backend(format!(
                "Qdrant at {} answered {operation} without the collection",
                self.backend.endpoint()
            ))
        })?;
        let empty = HashMap::new();
        let metadata = info
            .config
            .as_ref()
            .map(|config| &config.metadata)
            .unwrap_or(&empty);
        match CollectionMeta::from_metadata(metadata) {
            Ok(Some(meta)) => Ok(Some(Described {
                meta,
                indexed: info.payload_schema.into_keys().collect(),
            })),
            Ok(None) => Ok(None),
            Err(problem) => Err(StoreError::Invalid(format!(
                "collection `{name}` in Qdrant has mcp-rag metadata this server cannot read: {problem}"
            ))),
        }
    }

    /// Like [`QdrantStore::describe_any`], refusing collections that are not mcp-rag's.
    async fn describe(&self, name: &str) -> Result<Described, StoreError> {
        self.describe_any(name).await?.ok_or_else(|| {
            StoreError::Invalid(format!(
                "collection `{name}` exists in Qdrant but was not created by mcp-rag (its metadata has no \
                 `{}` entry), so this server leaves it alone; use another name",
                payload::METADATA_KEY
            ))
        })
    }

    /// Creates the payload indexes `wanted` that the collection lacks. Indexes only speed filters up (and satisfy
    /// a Qdrant in strict mode), so a failure is logged, not returned: the filter itself still reports errors.
    async fn ensure_indexes(
        &self,
        name: &str,
        described: &Described,
        wanted: &[(String, FieldType)],
    ) {
        let mut done = HashSet::new();
        for (field, kind) in wanted {
            if described.indexed.contains(field) || !done.insert(field.clone()) {
                continue;
            }
            if let Err(err) = self.create_index(name, field, *kind).await {
                tracing::warn!(collection = name, field = %field, error = %err, "could not index a payload field");
            }
        }
    }

    async fn create_index(
        &self,
        name: &str,
        field: &str,
        kind: FieldType,
    ) -> Result<(), StoreError> {
        let operation = format!("index `{field}` in collection `{name}`");
        let request = CreateFieldIndexCollection {
            collection_name: name.to_owned(),
            wait: Some(true),
            field_name: field.to_owned(),
            field_type: Some(kind as i32),
            ..CreateFieldIndexCollection::default()
        };
        self.call(&operation, Repeat::Safe, || {
            self.client.create_field_index(request.clone())
        })
        .await?
        .map_err(|status| self.answered(name, &operation, &status))?;
        Ok(())
    }

    async fn create(&self, name: &str, embedder: Option<&EmbedderId>) -> Result<(), StoreError> {
        check_name(name)?;
        if let Some(embedder) = embedder
            && embedder.dimension == 0
        {
            return Err(StoreError::Invalid(format!(
                "the embedder {} has 0 dimensions; a collection needs vectors of at least one",
                describe_embedder(embedder)
            )));
        }
        let exists_operation = format!("check whether collection `{name}` exists");
        let exists_request = CollectionExistsRequest {
            collection_name: name.to_owned(),
        };
        let exists = self
            .call(&exists_operation, Repeat::Safe, || {
                self.client.collection_exists(exists_request.clone())
            })
            .await?
            .map_err(|status| self.answered(name, &exists_operation, &status))?;
        if exists {
            return Err(StoreError::CollectionExists(name.to_owned()));
        }
        let meta = CollectionMeta::new(embedder.cloned());
        let vectors_config = embedder.map(|embedder| VectorsConfig {
            config: Some(VectorsConfigKind::ParamsMap(VectorParamsMap {
                map: HashMap::from([(
                    DENSE_VECTOR.to_owned(),
                    VectorParams {
                        size: embedder.dimension as u64,
                        distance: Distance::Cosine as i32,
                        ..VectorParams::default()
                    },
                )]),
            })),
        });
        let request = CreateCollection {
            collection_name: name.to_owned(),
            vectors_config,
            sparse_vectors_config: Some(SparseVectorConfig {
                map: HashMap::from([(
                    SPARSE_VECTOR.to_owned(),
                    SparseVectorParams {
                        index: None,
                        modifier: Some(Modifier::Idf as i32),
                    },
                )]),
            }),
            metadata: meta.to_metadata(),
            ..CreateCollection::default()
        };
        let operation = format!("create collection `{name}`");
        self.call(&operation, Repeat::Unsafe, || {
            self.client.create_collection(request.clone())
        })
        .await?
        .map_err(|status| self.answered(name, &operation, &status))?;
        self.create_index(name, SOURCE_FIELD, FieldType::Keyword)
            .await?;
        self.create_index(name, INDEX_FIELD, FieldType::Integer)
            .await?;
        // A Qdrant older than 1.16 drops the metadata silently, and the collection would then look foreign:
        // find out now, while the collection is empty.
        if self.describe_any(name).await?.is_none() {
            let _ = self.remove(name).await;
            return Err(StoreError::Backend(format!(
                "Qdrant at {} did not keep the metadata of collection `{name}`, where mcp-rag records its \
                 embedder; it needs Qdrant 1.16 or later",
                self.backend.endpoint()
            )));
        }
        Ok(())
    }

    async fn remove(&self, name: &str) -> Result<bool, StoreError> {
        let operation = format!("delete collection `{name}`");
        let request = DeleteCollection {
            collection_name: name.to_owned(),
            timeout: None,
        };
        let response = self
            .call(&operation, Repeat::Safe, || {
                self.client.delete_collection(request.clone())
            })
            .await?
            .map_err(|status| self.answered(name, &operation, &status))?;
        Ok(response.result)
    }

    async fn drop_named(&self, name: &str) -> Result<bool, StoreError> {
        check_name(name)?;
        match self.describe(name).await {
            Ok(_) => self.remove(name).await,
            Err(StoreError::NoCollection(_)) => Ok(false),
            Err(err) => Err(err),
        }
    }

    async fn info(&self, name: &str, meta: CollectionMeta) -> Result<CollectionInfo, StoreError> {
        let chunks = self.count(name, None).await?;
        let sources = self.source_counts(name, false).await?;
        Ok(CollectionInfo {
            name: name.to_owned(),
            embedder: meta.embedder,
            chunks,
            sources: sources.len() as u64,
        })
    }

    async fn list(&self) -> Result<Vec<CollectionInfo>, StoreError> {
        let operation = "list collections";
        let response = self
            .call(operation, Repeat::Safe, || self.client.list_collections())
            .await?
            .map_err(|status| self.answered("", operation, &status))?;
        let mut names: Vec<String> = response
            .collections
            .into_iter()
            .map(|collection| collection.name)
            .collect();
        names.sort();
        let mut infos = Vec::with_capacity(names.len());
        for name in names {
            // Collections of other applications, and ones dropped since the listing, are not listed.
            match self.describe_any(&name).await {
                Ok(Some(described)) => match self.info(&name, described.meta).await {
                    Ok(info) => infos.push(info),
                    Err(StoreError::NoCollection(_)) => {}
                    Err(err) => return Err(err),
                },
                Ok(None) | Err(StoreError::NoCollection(_) | StoreError::Invalid(_)) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(infos)
    }

    async fn count(&self, name: &str, filter: Option<Filter>) -> Result<u64, StoreError> {
        let operation = format!("count the chunks of collection `{name}`");
        let request = CountPoints {
            collection_name: name.to_owned(),
            filter,
            exact: Some(true),
            ..CountPoints::default()
        };
        let response = self
            .call(&operation, Repeat::Safe, || {
                self.client.count(request.clone())
            })
            .await?
            .map_err(|status| self.answered(name, &operation, &status))?;
        Ok(response.result.map(|result| result.count).unwrap_or(0))
    }

    /// Every point matching `filter`, page by page, with the payload fields `fields` (all when `None`).
    async fn scroll_all(
        &self,
        name: &str,
        operation: &str,
        filter: Option<Filter>,
        fields: Option<&[&str]>,
    ) -> Result<Vec<RetrievedPoint>, StoreError> {
        let with_payload = match fields {
            None => PayloadSelector::Enable(true),
            Some(fields) => PayloadSelector::Include(PayloadIncludeSelector {
                fields: fields.iter().map(|field| (*field).to_owned()).collect(),
            }),
        };
        let mut points = Vec::new();
        let mut offset: Option<PointId> = None;
        loop {
            let request = ScrollPoints {
                collection_name: name.to_owned(),
                filter: filter.clone(),
                offset: offset.take(),
                limit: Some(SCROLL_PAGE),
                with_payload: Some(WithPayloadSelector {
                    selector_options: Some(with_payload.clone()),
                }),
                with_vectors: Some(no_vectors()),
                ..ScrollPoints::default()
            };
            let page = self
                .call(operation, Repeat::Safe, || {
                    self.client.scroll(request.clone())
                })
                .await?
                .map_err(|status| self.answered(name, operation, &status))?;
            points.extend(page.result);
            match page.next_page_offset {
                Some(next) => offset = Some(next),
                None => return Ok(points),
            }
        }
    }

    /// Each source with its content hash and number of chunks; hashes are read only when `with_hashes`.
    async fn source_counts(
        &self,
        name: &str,
        with_hashes: bool,
    ) -> Result<BTreeMap<String, (Option<String>, u64)>, StoreError> {
        let operation = format!("list the sources of collection `{name}`");
        let fields: &[&str] = if with_hashes {
            &["source", "content_hash"]
        } else {
            &["source"]
        };
        let points = self
            .scroll_all(name, &operation, Some(filter::has_source()), Some(fields))
            .await?;
        let mut sources: BTreeMap<String, (Option<String>, u64)> = BTreeMap::new();
        for point in points {
            let Some(source) = string_field(&point.payload, "source") else {
                continue;
            };
            let entry = sources.entry(source).or_insert((None, 0));
            entry.1 += 1;
            if entry.0.is_none() {
                entry.0 = string_field(&point.payload, "content_hash");
            }
        }
        Ok(sources)
    }

    async fn upsert_chunks(
        &self,
        name: &str,
        chunks: Vec<Chunk>,
        vectors: Vec<Vec<f32>>,
    ) -> Result<(), StoreError> {
        check_name(name)?;
        let described = self.describe(name).await?;
        check_vectors(name, described.meta.embedder.as_ref(), &chunks, &vectors)?;
        // The last of several chunks with one id wins, as if they had been upserted one after another.
        let mut latest: HashMap<&str, usize> = HashMap::new();
        for (position, chunk) in chunks.iter().enumerate() {
            latest.insert(chunk.id.as_str(), position);
        }
        let mut vectors = vectors.into_iter().map(Some).collect::<Vec<_>>();
        let mut points = Vec::with_capacity(latest.len());
        for (position, chunk) in chunks.iter().enumerate() {
            if latest.get(chunk.id.as_str()) != Some(&position) {
                continue;
            }
            let mut named = HashMap::new();
            if let Some(dense) = vectors.get_mut(position).and_then(Option::take) {
                named.insert(DENSE_VECTOR.to_owned(), dense_vector(dense));
            }
            let bm25 = sparse::encode_document(&chunk.text, &described.meta.bm25);
            if !bm25.is_empty() {
                named.insert(SPARSE_VECTOR.to_owned(), sparse_vector(bm25));
            }
            points.push(PointStruct {
                id: Some(payload::point_id(name, &chunk.id)),
                payload: payload::chunk_payload(chunk),
                vectors: Some(Vectors {
                    vectors_options: Some(VectorsOptions::Vectors(NamedVectors { vectors: named })),
                }),
            });
        }
        let operation = format!("upsert chunks into collection `{name}`");
        for batch in points.chunks(UPSERT_BATCH) {
            let request = UpsertPoints {
                collection_name: name.to_owned(),
                wait: Some(true),
                points: batch.to_vec(),
                ..UpsertPoints::default()
            };
            // An upsert by id is idempotent, so it is safe to send again.
            self.call(&operation, Repeat::Safe, || {
                self.client.upsert_points(request.clone())
            })
            .await?
            .map_err(|status| self.answered(name, &operation, &status))?;
        }
        Ok(())
    }

    async fn delete_selected(&self, name: &str, selector: Selector) -> Result<u64, StoreError> {
        check_name(name)?;
        let described = self.describe(name).await?;
        let operation = format!("delete chunks from collection `{name}`");
        let (selected, count) = match selector {
            Selector::Ids(ids) => {
                let ids: Vec<PointId> = ids
                    .iter()
                    .collect::<HashSet<_>>()
                    .into_iter()
                    .map(|id| payload::point_id(name, id))
                    .collect();
                if ids.is_empty() {
                    return Ok(0);
                }
                let found = self.get_points(name, ids.clone(), false).await?.len() as u64;
                let selected = PointsSelectorOneOf::Points(PointsIdsList { ids });
                (selected, found)
            }
            Selector::Source(source) => {
                let filter = Filter {
                    must: vec![filter::source_is(&source)],
                    ..Filter::default()
                };
                let count = self.count(name, Some(filter.clone())).await?;
                (PointsSelectorOneOf::Filter(filter), count)
            }
            Selector::Filter(selected) => {
                if selected.must.is_empty() {
                    return Err(StoreError::Invalid(format!(
                        "a delete filter without conditions would empty collection `{name}`; give \
                         conditions, or drop the collection"
                    )));
                }
                let translated = filter::translate(&selected)?;
                self.ensure_indexes(name, &described, &translated.indexes)
                    .await;
                let count = self.count(name, Some(translated.filter.clone())).await?;
                (PointsSelectorOneOf::Filter(translated.filter), count)
            }
        };
        if count == 0 {
            return Ok(0);
        }
        let request = DeletePoints {
            collection_name: name.to_owned(),
            wait: Some(true),
            points: Some(PointsSelector {
                points_selector_one_of: Some(selected),
            }),
            ..DeletePoints::default()
        };
        self.call(&operation, Repeat::Safe, || {
            self.client.delete_points(request.clone())
        })
        .await?
        .map_err(|status| self.answered(name, &operation, &status))?;
        Ok(count)
    }

    async fn get_points(
        &self,
        name: &str,
        ids: Vec<PointId>,
        with_payload: bool,
    ) -> Result<Vec<RetrievedPoint>, StoreError> {
        let operation = format!("get chunks of collection `{name}`");
        let request = GetPoints {
            collection_name: name.to_owned(),
            ids,
            with_payload: Some(WithPayloadSelector {
                selector_options: Some(PayloadSelector::Enable(with_payload)),
            }),
            with_vectors: Some(no_vectors()),
            ..GetPoints::default()
        };
        let response = self
            .call(&operation, Repeat::Safe, || {
                self.client.get_points(request.clone())
            })
            .await?
            .map_err(|status| self.answered(name, &operation, &status))?;
        Ok(response.result)
    }

    async fn get_chunk(&self, name: &str, id: &str) -> Result<Option<Chunk>, StoreError> {
        check_name(name)?;
        let points = self
            .get_points(name, vec![payload::point_id(name, id)], true)
            .await?;
        for point in points {
            let chunk = self.decode(name, point.payload)?;
            // Guards against a hash collision however unlikely: the payload names the chunk.
            if chunk.id == id {
                return Ok(Some(chunk));
            }
        }
        Ok(None)
    }

    fn decode(
        &self,
        name: &str,
        payload: HashMap<String, QdrantValue>,
    ) -> Result<Chunk, StoreError> {
        payload::chunk_from_payload(payload).map_err(|problem| {
            StoreError::Backend(format!(
                "Qdrant at {} returned a point of collection `{name}` that is not an mcp-rag chunk: {problem}",
                self.backend.endpoint()
            ))
        })
    }

    async fn neighbours(
        &self,
        name: &str,
        source: &str,
        range: RangeInclusive<u32>,
    ) -> Result<Vec<Chunk>, StoreError> {
        check_name(name)?;
        if range.is_empty() {
            return Ok(Vec::new());
        }
        let filter = Filter {
            must: vec![
                filter::source_is(source),
                filter::index_between(*range.start(), *range.end()),
            ],
            ..Filter::default()
        };
        let operation = format!("read chunks of `{source}` in collection `{name}`");
        let points = self
            .scroll_all(name, &operation, Some(filter), None)
            .await?;
        let mut chunks = points
            .into_iter()
            .map(|point| self.decode(name, point.payload))
            .collect::<Result<Vec<_>, _>>()?;
        chunks.sort_by(|a, b| {
            a.position
                .index
                .cmp(&b.position.index)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(chunks)
    }

    async fn search_chunks(
        &self,
        name: &str,
        request: SearchRequest,
    ) -> Result<Vec<Hit>, StoreError> {
        check_name(name)?;
        let described = self.describe(name).await?;
        let translated = request.filter.as_ref().map(filter::translate).transpose()?;
        let mode = effective_mode(name, &described.meta, &request)?;
        if request.k == 0 {
            return Ok(Vec::new());
        }
        if let Some(translated) = &translated {
            self.ensure_indexes(name, &described, &translated.indexes)
                .await;
        }
        let filter = translated.map(|translated| translated.filter);
        let k = request.k as u64;
        let terms = sparse::encode_query(&request.text);
        let lexical = (!terms.is_empty()).then(|| sparse_query(terms));
        let operation = format!("search collection `{name}`");
        // Cosine similarity by point, from the dense ranking: the calibrated signal behind relevance.
        let mut similarities: HashMap<String, f64> = HashMap::new();
        let ranked: Vec<(ScoredPoint, Option<u32>, Option<u32>)> = match mode {
            Effective::Lexical => {
                let Some(lexical) = lexical else {
                    // No word to look for: nothing matches, as in the SQLite store.
                    return Ok(Vec::new());
                };
                let query = ranking(name, lexical, SPARSE_VECTOR, filter, k, true);
                self.query_batch(name, &operation, vec![query])
                    .await?
                    .into_iter()
                    .next()
                    .unwrap_or_default()
                    .into_iter()
                    .enumerate()
                    .map(|(position, point)| (point, Some(rank_number(position)), None))
                    .collect()
            }
            Effective::Dense(vector) => {
                let query = ranking(name, dense_query(vector), DENSE_VECTOR, filter, k, true);
                let points = self
                    .query_batch(name, &operation, vec![query])
                    .await?
                    .into_iter()
                    .next()
                    .unwrap_or_default();
                similarities = scores(&points);
                points
                    .into_iter()
                    .enumerate()
                    .map(|(position, point)| (point, None, Some(rank_number(position))))
                    .collect()
            }
            Effective::Hybrid(vector) => {
                let depth = k.saturating_mul(HYBRID_DEPTH_FACTOR).max(HYBRID_MIN_DEPTH);
                let dense = dense_query(vector);
                let mut queries = Vec::with_capacity(3);
                let mut prefetch = Vec::with_capacity(2);
                if let Some(lexical) = &lexical {
                    queries.push(ranking(
                        name,
                        lexical.clone(),
                        SPARSE_VECTOR,
                        filter.clone(),
                        depth,
                        false,
                    ));
                    prefetch.push(prefetch_of(
                        lexical.clone(),
                        SPARSE_VECTOR,
                        filter.clone(),
                        depth,
                    ));
                }
                queries.push(ranking(
                    name,
                    dense.clone(),
                    DENSE_VECTOR,
                    filter.clone(),
                    depth,
                    false,
                ));
                prefetch.push(prefetch_of(dense, DENSE_VECTOR, filter.clone(), depth));
                queries.push(QueryPoints {
                    collection_name: name.to_owned(),
                    prefetch,
                    query: Some(Query {
                        // Qdrant adds 1 / (k + 0-based position): k = 61 gives 1 / (60 + rank).
                        variant: Some(query::Variant::Rrf(Rrf {
                            k: Some(RRF_K + 1),
                            weights: Vec::new(),
                        })),
                    }),
                    filter,
                    limit: Some(k),
                    with_payload: Some(with_payload(true)),
                    with_vectors: Some(no_vectors()),
                    ..QueryPoints::default()
                });
                let mut results = self.query_batch(name, &operation, queries).await?;
                let fused = results.pop().unwrap_or_default();
                let dense_results = results.pop().unwrap_or_default();
                similarities = scores(&dense_results);
                let dense_ranks = ranks(dense_results);
                let lexical_ranks = ranks(results.pop().unwrap_or_default());
                let mut hits: Vec<_> = fused
                    .into_iter()
                    .map(|point| {
                        let key = point.id.as_ref().map(id_key).unwrap_or_default();
                        let lexical_rank = lexical_ranks.get(&key).copied();
                        let dense_rank = dense_ranks.get(&key).copied();
                        (point, lexical_rank, dense_rank)
                    })
                    .collect();
                // Qdrant leaves ties in any order; like the SQLite store, the better single rank goes first.
                hits.sort_by(|a, b| {
                    b.0.score
                        .total_cmp(&a.0.score)
                        .then_with(|| best_rank(a.1, a.2).cmp(&best_rank(b.1, b.2)))
                });
                hits
            }
        };
        let mut hits = Vec::with_capacity(ranked.len());
        for (point, lexical_rank, dense_rank) in ranked {
            let score = f64::from(point.score);
            // Each list is sorted by its own score, so this keeps a prefix, as a server-side threshold would;
            // comparing here in f64 avoids rounding the threshold to f32.
            if request
                .score_threshold
                .is_some_and(|threshold| score < threshold)
            {
                continue;
            }
            let key = point.id.as_ref().map(id_key).unwrap_or_default();
            hits.push(Hit {
                chunk: self.decode(name, point.payload)?,
                score,
                lexical_rank,
                dense_rank,
                similarity: similarities.get(&key).copied(),
            });
        }
        Ok(hits)
    }

    async fn query_batch(
        &self,
        name: &str,
        operation: &str,
        queries: Vec<QueryPoints>,
    ) -> Result<Vec<Vec<ScoredPoint>>, StoreError> {
        let expected = queries.len();
        let request = QueryBatchPoints {
            collection_name: name.to_owned(),
            query_points: queries,
            ..QueryBatchPoints::default()
        };
        let response = self
            .call(operation, Repeat::Safe, || {
                self.client.query_batch(request.clone())
            })
            .await?
            .map_err(|status| self.answered(name, operation, &status))?;
        if response.result.len() != expected {
            return Err(StoreError::Backend(format!(
                "Qdrant at {} answered {operation} with {} result lists for {expected} queries",
                self.backend.endpoint(),
                response.result.len()
            )));
        }
        Ok(response
            .result
            .into_iter()
            .map(|batch| batch.result)
            .collect())
    }
}

impl Store for QdrantStore {
    fn create_collection<'a>(
        &'a self,
        name: &'a str,
        embedder: Option<&'a EmbedderId>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.create(name, embedder))
    }

    fn drop_collection<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(self.drop_named(name))
    }

    fn list_collections(&self) -> BoxFuture<'_, Result<Vec<CollectionInfo>, StoreError>> {
        Box::pin(self.list())
    }

    fn collection(&self, name: &str) -> BoxFuture<'_, Result<CollectionInfo, StoreError>> {
        let name = name.to_owned();
        Box::pin(async move {
            check_name(&name)?;
            let described = self.describe(&name).await?;
            self.info(&name, described.meta).await
        })
    }

    fn upsert<'a>(
        &'a self,
        collection: &'a str,
        chunks: Vec<Chunk>,
        vectors: Vec<Vec<f32>>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.upsert_chunks(collection, chunks, vectors))
    }

    fn delete<'a>(
        &'a self,
        collection: &'a str,
        selector: Selector,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(self.delete_selected(collection, selector))
    }

    fn search<'a>(
        &'a self,
        collection: &'a str,
        request: SearchRequest,
    ) -> BoxFuture<'a, Result<Vec<Hit>, StoreError>> {
        Box::pin(self.search_chunks(collection, request))
    }

    fn get<'a>(
        &'a self,
        collection: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Chunk>, StoreError>> {
        Box::pin(self.get_chunk(collection, id))
    }

    fn chunks_of_source<'a>(
        &'a self,
        collection: &'a str,
        source: &'a str,
        range: RangeInclusive<u32>,
    ) -> BoxFuture<'a, Result<Vec<Chunk>, StoreError>> {
        Box::pin(self.neighbours(collection, source, range))
    }

    fn sources<'a>(
        &'a self,
        collection: &'a str,
    ) -> BoxFuture<'a, Result<Vec<SourceInfo>, StoreError>> {
        Box::pin(async move {
            check_name(collection)?;
            self.describe(collection).await?;
            let sources = self.source_counts(collection, true).await?;
            Ok(sources
                .into_iter()
                .map(|(source, (content_hash, chunks))| SourceInfo {
                    source,
                    content_hash,
                    chunks,
                })
                .collect())
        })
    }
}

/// The URL as shown in messages: without credentials or a trailing slash.
fn shown_endpoint(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = match rest.split_once('@') {
        Some((userinfo, host)) if !userinfo.contains('/') => host,
        _ => rest,
    };
    let shown = if scheme.is_empty() {
        rest.to_owned()
    } else {
        format!("{scheme}://{rest}")
    };
    shown.trim_end_matches('/').to_owned()
}

fn is_loopback_url(url: &str) -> bool {
    let host = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split(['/', '?'])
        .next()
        .unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, host)| host);
    let name = if host.starts_with('[') {
        host.split(']')
            .next()
            .unwrap_or_default()
            .trim_start_matches('[')
    } else {
        host.split(':').next().unwrap_or_default()
    };
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

/// Checks a collection name: `[A-Za-z0-9_-]{1,64}`, the SQLite store's rule.
fn check_name(name: &str) -> Result<(), StoreError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-');
    if valid {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "`{name}` is not a valid collection name: use 1 to {MAX_NAME_LEN} ASCII letters, digits, `_` or `-`"
        )))
    }
}

fn describe_embedder(embedder: &EmbedderId) -> String {
    format!(
        "{}/{} ({} dimensions)",
        embedder.provider, embedder.model, embedder.dimension
    )
}

/// Checks an upsert's vectors against the collection's embedder, before anything is sent, so a bad vector
/// stores nothing of the batch.
fn check_vectors(
    name: &str,
    embedder: Option<&EmbedderId>,
    chunks: &[Chunk],
    vectors: &[Vec<f32>],
) -> Result<(), StoreError> {
    if chunks.iter().any(|chunk| chunk.id.is_empty()) {
        return Err(StoreError::Invalid(
            "a chunk has an empty id; every chunk needs one".to_owned(),
        ));
    }
    let Some(embedder) = embedder else {
        if vectors.is_empty() {
            return Ok(());
        }
        return Err(StoreError::Invalid(format!(
            "collection `{name}` is lexical-only (created without an embedder), so it stores no vectors; upsert \
             its chunks without vectors"
        )));
    };
    if vectors.len() != chunks.len() {
        return Err(StoreError::Invalid(format!(
            "{} chunks came with {} vectors; collection `{name}` needs one vector per chunk",
            chunks.len(),
            vectors.len()
        )));
    }
    for (chunk, vector) in chunks.iter().zip(vectors) {
        check_vector(name, embedder.dimension, vector).map_err(|problem| {
            StoreError::Invalid(format!("the vector of chunk `{}` {problem}", chunk.id))
        })?;
    }
    Ok(())
}

/// Checks one vector: the collection's dimension, finite, not all zeros (no direction for cosine).
fn check_vector(name: &str, dimension: usize, vector: &[f32]) -> Result<(), String> {
    if vector.len() != dimension {
        return Err(format!(
            "has {} dimensions, but collection `{name}` holds {dimension}-dimensional vectors",
            vector.len()
        ));
    }
    if vector.iter().any(|value| !value.is_finite()) {
        return Err("contains a NaN or infinite value".to_owned());
    }
    if vector.iter().all(|value| *value == 0.0) {
        return Err("is all zeros, which has no direction to compare by cosine".to_owned());
    }
    Ok(())
}

/// Decides how to rank, refusing requests that cannot be served (the SQLite store's rules).
fn effective_mode<'a>(
    name: &str,
    meta: &CollectionMeta,
    request: &'a SearchRequest,
) -> Result<Effective<'a>, StoreError> {
    let embedder = match (request.mode, &meta.embedder) {
        (SearchMode::Lexical, _) => return Ok(Effective::Lexical),
        // Without vectors, BM25 is all there is to fuse.
        (SearchMode::Hybrid, None) => return Ok(Effective::Lexical),
        (SearchMode::Dense, None) => {
            return Err(StoreError::Invalid(format!(
                "collection `{name}` is lexical-only (it was created without an embedder), so it has no \
                 vectors to search; use mode `lexical` (or `hybrid`, which falls back to lexical here)"
            )));
        }
        (SearchMode::Dense | SearchMode::Hybrid, Some(embedder)) => embedder,
    };
    let mode = if request.mode == SearchMode::Dense {
        "dense"
    } else {
        "hybrid"
    };
    let Some(vector) = request.vector.as_deref() else {
        return Err(StoreError::Invalid(format!(
            "a {mode} search of collection `{name}` needs a query vector; embed the query, or use mode `lexical`"
        )));
    };
    check_vector(name, embedder.dimension, vector)
        .map_err(|problem| StoreError::Invalid(format!("the query vector {problem}")))?;
    Ok(match request.mode {
        SearchMode::Dense => Effective::Dense(vector),
        _ => Effective::Hybrid(vector),
    })
}

fn dense_vector(data: Vec<f32>) -> Vector {
    Vector {
        vector: Some(vector::Vector::Dense(DenseVector { data })),
        ..Vector::default()
    }
}

fn sparse_vector(sparse: SparseVector) -> Vector {
    Vector {
        vector: Some(vector::Vector::Sparse(
            qdrant_client::qdrant::SparseVector {
                values: sparse.values,
                indices: sparse.indices,
            },
        )),
        ..Vector::default()
    }
}

fn dense_query(vector: &[f32]) -> Query {
    nearest(vector_input::Variant::Dense(DenseVector {
        data: vector.to_vec(),
    }))
}

fn sparse_query(sparse: SparseVector) -> Query {
    nearest(vector_input::Variant::Sparse(
        qdrant_client::qdrant::SparseVector {
            values: sparse.values,
            indices: sparse.indices,
        },
    ))
}

fn nearest(input: vector_input::Variant) -> Query {
    Query {
        variant: Some(query::Variant::Nearest(VectorInput {
            variant: Some(input),
        })),
    }
}

/// One ranking by `query` on the vector `using`.
fn ranking(
    name: &str,
    query: Query,
    using: &str,
    filter: Option<Filter>,
    limit: u64,
    payload: bool,
) -> QueryPoints {
    QueryPoints {
        collection_name: name.to_owned(),
        query: Some(query),
        using: Some(using.to_owned()),
        filter,
        limit: Some(limit),
        with_payload: Some(with_payload(payload)),
        with_vectors: Some(no_vectors()),
        ..QueryPoints::default()
    }
}

fn prefetch_of(query: Query, using: &str, filter: Option<Filter>, limit: u64) -> PrefetchQuery {
    PrefetchQuery {
        query: Some(query),
        using: Some(using.to_owned()),
        filter,
        limit: Some(limit),
        ..PrefetchQuery::default()
    }
}

fn with_payload(enabled: bool) -> WithPayloadSelector {
    WithPayloadSelector {
        selector_options: Some(PayloadSelector::Enable(enabled)),
    }
}

fn no_vectors() -> WithVectorsSelector {
    WithVectorsSelector {
        selector_options: Some(VectorsSelector::Enable(false)),
    }
}

/// A point id as a map key.
fn id_key(id: &PointId) -> String {
    match &id.point_id_options {
        Some(PointIdOptions::Uuid(uuid)) => uuid.to_ascii_lowercase(),
        Some(PointIdOptions::Num(num)) => num.to_string(),
        None => String::new(),
    }
}

/// The 1-based rank of each point of a ranking.
/// Each point's score in a ranking (for the dense ranking: its cosine similarity).
fn scores(points: &[ScoredPoint]) -> HashMap<String, f64> {
    points
        .iter()
        .filter_map(|point| Some((id_key(point.id.as_ref()?), f64::from(point.score))))
        .collect()
}

fn ranks(points: Vec<ScoredPoint>) -> HashMap<String, u32> {
    points
        .iter()
        .enumerate()
        .filter_map(|(position, point)| Some((id_key(point.id.as_ref()?), rank_number(position))))
        .collect()
}

/// The 1-based rank of the 0-based position.
fn rank_number(position: usize) -> u32 {
    u32::try_from(position + 1).unwrap_or(u32::MAX)
}

fn best_rank(lexical: Option<u32>, dense: Option<u32>) -> u32 {
    lexical.unwrap_or(u32::MAX).min(dense.unwrap_or(u32::MAX))
}

fn string_field(payload: &HashMap<String, QdrantValue>, key: &str) -> Option<String> {
    match payload.get(key).and_then(|value| value.kind.as_ref()) {
        Some(Kind::StringValue(text)) => Some(text.clone()),
        _ => None,
    }
}
