//! The in-memory database: collections with their vector spaces, payload indexes and points, and every operation
//! the services expose, with Qdrant's validation and error statuses.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use qdrant_client::qdrant::points_selector::PointsSelectorOneOf;
use qdrant_client::qdrant::vector_input::Variant as InputVariant;
use qdrant_client::qdrant::vectors::VectorsOptions;
use qdrant_client::qdrant::vectors_config::Config as VectorsConfigKind;
use qdrant_client::qdrant::with_payload_selector::SelectorOptions as PayloadSelector;
use qdrant_client::qdrant::with_vectors_selector::SelectorOptions as VectorsSelectorKind;
use qdrant_client::qdrant::{
    CollectionConfig, CollectionInfo, CollectionParams, CollectionStatus, CountPoints,
    CreateCollection, CreateFieldIndexCollection, DeletePoints, DenseVector, Direction, Distance,
    FieldType, Filter, Fusion, GetPoints, Modifier, NamedVectorsOutput, OptimizerStatus,
    OrderValue, PayloadSchemaInfo, PayloadSchemaType, PointId, PrefetchQuery, Query, QueryPoints,
    RetrievedPoint, ScoredPoint, ScrollPoints, SparseVector, SparseVectorConfig,
    SparseVectorParams, UpdateCollection, UpsertPoints, Value, Vector, VectorInput, VectorOutput,
    VectorParams, VectorParamsMap, VectorsConfig, VectorsOutput, WithPayloadSelector,
    WithVectorsSelector, order_value, query, start_from, value, vector, vector_output,
    vectors_output,
};
use tonic::Status;

use crate::eval::{self, Candidate, DEFAULT_RRF_K, Sparse};
use crate::point::{Point, PointKey};

/// Qdrant's default page size for scroll and query, and limit of a prefetch.
const DEFAULT_LIMIT: u64 = 10;

/// A dense vector space of a collection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DenseSpace {
    /// Dimension.
    pub size: u64,
    /// The similarity.
    pub distance: Distance,
}

/// A sparse vector space of a collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SparseSpace {
    /// Whether queries are weighted by inverse document frequency (`Modifier::Idf`).
    pub idf: bool,
}

/// A collection.
#[derive(Debug, Clone, Default)]
pub struct Collection {
    /// Dense spaces by vector name; the unnamed default vector is named "".
    pub dense: BTreeMap<String, DenseSpace>,
    /// Sparse spaces by vector name.
    pub sparse: BTreeMap<String, SparseSpace>,
    /// Whether the dense config was given as one unnamed vector (`VectorParams`) rather than a map.
    pub unnamed_dense: bool,
    /// The collection's metadata (Qdrant 1.16+).
    pub metadata: HashMap<String, Value>,
    /// Payload indexes: field path to `PayloadSchemaType`.
    pub payload_schema: BTreeMap<String, PayloadSchemaType>,
    /// The points, in id order.
    pub points: BTreeMap<PointKey, Point>,
}

/// The stand-in's whole state, shared by the services; cloning shares it.
#[derive(Debug, Clone, Default)]
pub struct State {
    collections: Arc<Mutex<BTreeMap<String, Collection>>>,
}

impl State {
    /// An empty database.
    pub fn new() -> State {
        State::default()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Collection>> {
        // A poisoned lock only means a request panicked mid-way; the map is still usable for a test backend.
        self.collections
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A copy of a collection, for tests to inspect.
    pub fn collection(&self, name: &str) -> Option<Collection> {
        self.lock().get(name).cloned()
    }

    /// The names of the collections.
    pub fn collection_names(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// Drops every collection.
    pub fn reset(&self) {
        self.lock().clear();
    }

    /// `Collections.Create`.
    pub fn create_collection(&self, request: CreateCollection) -> Result<bool, Status> {
        check_collection_name(&request.collection_name)?;
        let mut collection = Collection::default();
        match request.vectors_config.and_then(|config| config.config) {
            None => {}
            Some(VectorsConfigKind::Params(params)) => {
                collection
                    .dense
                    .insert(String::new(), dense_space("", &params)?);
                collection.unnamed_dense = true;
            }
            Some(VectorsConfigKind::ParamsMap(map)) => {
                for (name, params) in &map.map {
                    collection
                        .dense
                        .insert(name.clone(), dense_space(name, params)?);
                }
            }
        }
        for (name, params) in request
            .sparse_vectors_config
            .map(|config| config.map)
            .unwrap_or_default()
        {
            if collection.dense.contains_key(&name) {
                return Err(Status::invalid_argument(format!(
                    "Wrong input: vector name `{name}` is used by both a dense and a sparse vector"
                )));
            }
            let idf = params.modifier == Some(Modifier::Idf as i32);
            collection.sparse.insert(name, SparseSpace { idf });
        }
        collection.metadata = request.metadata;
        let mut collections = self.lock();
        if collections.contains_key(&request.collection_name) {
            return Err(Status::invalid_argument(format!(
                "Wrong input: Collection `{}` already exists!",
                request.collection_name
            )));
        }
        collections.insert(request.collection_name, collection);
        Ok(true)
    }

    /// `Collections.Update`: merges metadata; the other settings mean nothing to an in-memory store.
    pub fn update_collection(&self, request: UpdateCollection) -> Result<bool, Status> {
        if request.vectors_config.is_some() || request.sparse_vectors_config.is_some() {
            return Err(Status::unimplemented(
                "qdrant-standin does not change vector configurations",
            ));
        }
        let mut collections = self.lock();
        let collection = existing(&mut collections, &request.collection_name)?;
        collection.metadata.extend(request.metadata);
        Ok(true)
    }

    /// `Collections.Delete`: whether it existed.
    pub fn delete_collection(&self, name: &str) -> bool {
        self.lock().remove(name).is_some()
    }

    /// `Collections.CollectionExists`.
    pub fn collection_exists(&self, name: &str) -> bool {
        self.lock().contains_key(name)
    }

    /// `Collections.Get`.
    pub fn collection_info(&self, name: &str) -> Result<CollectionInfo, Status> {
        let mut collections = self.lock();
        let collection = existing(&mut collections, name)?;
        Ok(info(collection))
    }

    /// `Points.CreateFieldIndex`: records the index, so that `order_by` can demand one as Qdrant does.
    pub fn create_field_index(&self, request: CreateFieldIndexCollection) -> Result<(), Status> {
        let field_type = request
            .field_type
            .and_then(|raw| FieldType::try_from(raw).ok())
            .ok_or_else(|| {
                Status::invalid_argument(format!(
                    "Wrong input: the index on `{}` needs a field type",
                    request.field_name
                ))
            })?;
        if request.field_name.is_empty() {
            return Err(Status::invalid_argument(
                "Wrong input: the index needs a field name",
            ));
        }
        let mut collections = self.lock();
        let collection = existing(&mut collections, &request.collection_name)?;
        collection
            .payload_schema
            .insert(request.field_name, schema_type(field_type));
        Ok(())
    }

    /// `Points.Upsert`: validates every point before storing any.
    pub fn upsert(&self, request: UpsertPoints) -> Result<(), Status> {
        if request.update_filter.is_some() {
            return Err(Status::unimplemented(
                "qdrant-standin does not do conditional updates (update_filter)",
            ));
        }
        let mut collections = self.lock();
        let collection = existing(&mut collections, &request.collection_name)?;
        let mut points = Vec::with_capacity(request.points.len());
        for point in request.points {
            let id = point
                .id
                .ok_or_else(|| Status::invalid_argument("Wrong input: point id is missing"))?;
            let key = PointKey::from_point_id(&id)?;
            let mut stored = Point {
                key,
                payload: point.payload,
                dense: HashMap::new(),
                sparse: HashMap::new(),
            };
            // Qdrant needs the field even for a point without vectors (then an empty map of named vectors).
            let Some(vectors) = point.vectors else {
                return Err(Status::invalid_argument(
                    "Wrong input: the point has no vectors field; send an empty map of named vectors for none",
                ));
            };
            let named: Vec<(String, Vector)> = match vectors.vectors_options {
                None => Vec::new(),
                Some(VectorsOptions::Vector(single)) => vec![(String::new(), single)],
                Some(VectorsOptions::Vectors(named)) => named.vectors.into_iter().collect(),
            };
            for (name, vector) in named {
                match parse_vector(vector)? {
                    Parsed::Dense(data) => {
                        let space = collection
                            .dense
                            .get(&name)
                            .ok_or_else(|| missing_vector(&name))?;
                        check_dimension(space, data.len())?;
                        let data = if space.distance == Distance::Cosine {
                            eval::normalized(&data)
                        } else {
                            data
                        };
                        stored.dense.insert(name, data);
                    }
                    Parsed::Sparse(sparse) => {
                        if !collection.sparse.contains_key(&name) {
                            return Err(missing_vector(&name));
                        }
                        stored.sparse.insert(name, sparse);
                    }
                }
            }
            points.push(stored);
        }
        for point in points {
            collection.points.insert(point.key, point);
        }
        Ok(())
    }

    /// `Points.Delete`, by ids or by filter.
    pub fn delete_points(&self, request: DeletePoints) -> Result<(), Status> {
        let mut collections = self.lock();
        let collection = existing(&mut collections, &request.collection_name)?;
        match request
            .points
            .and_then(|selector| selector.points_selector_one_of)
        {
            Some(PointsSelectorOneOf::Points(list)) => {
                for id in &list.ids {
                    let key = PointKey::from_point_id(id)?;
                    collection.points.remove(&key);
                }
            }
            Some(PointsSelectorOneOf::Filter(filter)) => {
                eval::check_filter(&filter)?;
                let doomed: Vec<PointKey> = collection
                    .points
                    .values()
                    .filter(|point| eval::matches(&filter, candidate(point)))
                    .map(|point| point.key)
                    .collect();
                for key in doomed {
                    collection.points.remove(&key);
                }
            }
            None => {
                return Err(Status::invalid_argument(
                    "Wrong input: delete needs a points selector",
                ));
            }
        }
        Ok(())
    }

    /// `Points.Get`: the points found, in the order asked, each once.
    pub fn get_points(&self, request: GetPoints) -> Result<Vec<RetrievedPoint>, Status> {
        let mut collections = self.lock();
        let collection = existing(&mut collections, &request.collection_name)?;
        let mut seen = HashSet::new();
        let mut found = Vec::new();
        for id in &request.ids {
            let key = PointKey::from_point_id(id)?;
            if !seen.insert(key) {
                continue;
            }
            if let Some(point) = collection.points.get(&key) {
                found.push(retrieved(
                    collection,
                    point,
                    request.with_payload.as_ref(),
                    request.with_vectors.as_ref(),
                    None,
                ));
            }
        }
        Ok(found)
    }

    /// `Points.Scroll`: by id from `offset`, or by a payload value with `order_by` (which needs a range index and
    /// excludes `offset`, as in Qdrant). Returns the page and the next page's offset.
    pub fn scroll(
        &self,
        request: ScrollPoints,
    ) -> Result<(Vec<RetrievedPoint>, Option<PointId>), Status> {
        let mut collections = self.lock();
        let collection = existing(&mut collections, &request.collection_name)?;
        if let Some(filter) = &request.filter {
            eval::check_filter(filter)?;
        }
        let limit = request.limit.map(u64::from).unwrap_or(DEFAULT_LIMIT) as usize;
        let passes = |point: &Point| {
            request
                .filter
                .as_ref()
                .is_none_or(|filter| eval::matches(filter, candidate(point)))
        };
        let with_payload = request.with_payload.as_ref().or(Some(&PAYLOAD_ON));
        if let Some(order_by) = &request.order_by {
            if request.offset.is_some() {
                return Err(Status::invalid_argument(
                    "Wrong input: Cannot use an `offset` when using `order_by`",
                ));
            }
            let indexed = matches!(
                collection.payload_schema.get(&order_by.key),
                Some(PayloadSchemaType::Integer | PayloadSchemaType::Float)
            );
            if !indexed {
                return Err(Status::invalid_argument(format!(
                    "Wrong input: No range index for `order_by` key: `{}`. Please create one to use `order_by`.",
                    order_by.key
                )));
            }
            let descending = order_by.direction == Some(Direction::Desc as i32);
            let start = order_by
                .start_from
                .as_ref()
                .and_then(|start| start.value.as_ref())
                .map(|start| match start {
                    start_from::Value::Float(float) => Ok(*float),
                    start_from::Value::Integer(integer) => Ok(*integer as f64),
                    _ => Err(Status::unimplemented(
                        "qdrant-standin orders by numbers only",
                    )),
                })
                .transpose()?;
            // Qdrant lists a point once per value of a multi-valued key.
            let mut entries: Vec<(f64, &Point, OrderValue)> = Vec::new();
            for point in collection.points.values().filter(|point| passes(point)) {
                for value in eval::values_at(&point.payload, &order_by.key) {
                    let (number, order_value) = match value.kind {
                        Some(value::Kind::IntegerValue(integer)) => {
                            (integer as f64, order_value::Variant::Int(integer))
                        }
                        Some(value::Kind::DoubleValue(double)) => {
                            (double, order_value::Variant::Float(double))
                        }
                        _ => continue,
                    };
                    let after_start = start.is_none_or(|start| {
                        if descending {
                            number <= start
                        } else {
                            number >= start
                        }
                    });
                    if after_start {
                        entries.push((
                            number,
                            point,
                            OrderValue {
                                variant: Some(order_value),
                            },
                        ));
                    }
                }
            }
            entries.sort_by(|(left, left_point, _), (right, right_point, _)| {
                let by_value = if descending {
                    right.total_cmp(left)
                } else {
                    left.total_cmp(right)
                };
                by_value.then(left_point.key.cmp(&right_point.key))
            });
            let page = entries
                .into_iter()
                .take(limit)
                .map(|(_, point, order_value)| {
                    retrieved(
                        collection,
                        point,
                        with_payload,
                        request.with_vectors.as_ref(),
                        Some(order_value),
                    )
                })
                .collect();
            return Ok((page, None));
        }
        let start = request
            .offset
            .as_ref()
            .map(PointKey::from_point_id)
            .transpose()?;
        let mut matching = collection
            .points
            .range(start.unwrap_or(PointKey::Num(0))..)
            .map(|(_, point)| point)
            .filter(|point| passes(point));
        let page: Vec<RetrievedPoint> = matching
            .by_ref()
            .take(limit)
            .map(|point| {
                retrieved(
                    collection,
                    point,
                    with_payload,
                    request.with_vectors.as_ref(),
                    None,
                )
            })
            .collect();
        let next = matching.next().map(|point| point.key.to_point_id());
        Ok((page, next))
    }

    /// `Points.Count`.
    pub fn count(&self, request: CountPoints) -> Result<u64, Status> {
        let mut collections = self.lock();
        let collection = existing(&mut collections, &request.collection_name)?;
        let Some(filter) = &request.filter else {
            return Ok(collection.points.len() as u64);
        };
        eval::check_filter(filter)?;
        Ok(collection
            .points
            .values()
            .filter(|point| eval::matches(filter, candidate(point)))
            .count() as u64)
    }

    /// `Points.Query`: prefetches first (each inheriting the enclosing filters), then the query over their results
    /// (or over the whole collection without prefetches), then `score_threshold`, `offset` and `limit`.
    pub fn query(
        &self,
        collection_name: &str,
        request: &QueryPoints,
    ) -> Result<Vec<ScoredPoint>, Status> {
        let mut collections = self.lock();
        let collection = existing(&mut collections, collection_name)?;
        if request.lookup_from.is_some() {
            return Err(Status::unimplemented(
                "qdrant-standin does not look vectors up from another collection",
            ));
        }
        let limit = request.limit.unwrap_or(DEFAULT_LIMIT);
        let offset = request.offset.unwrap_or(0);
        let level = Level {
            prefetch: &request.prefetch,
            query: request.query.as_ref(),
            using: request.using.as_deref(),
            filter: request.filter.as_ref(),
            score_threshold: request.score_threshold,
            limit: limit.saturating_add(offset),
        };
        let ranked = run_level(collection, &level, &[])?;
        Ok(ranked
            .into_iter()
            .skip(offset as usize)
            .filter_map(|(key, score)| {
                let point = collection.points.get(&key)?;
                let shown = retrieved(
                    collection,
                    point,
                    request.with_payload.as_ref(),
                    request.with_vectors.as_ref(),
                    None,
                );
                Some(ScoredPoint {
                    id: shown.id,
                    payload: shown.payload,
                    score,
                    version: 0,
                    vectors: shown.vectors,
                    shard_key: None,
                    order_value: None,
                })
            })
            .collect())
    }
}

/// `with_payload: true`, the default of scroll and get when the request says nothing.
const PAYLOAD_ON: WithPayloadSelector = WithPayloadSelector {
    selector_options: Some(PayloadSelector::Enable(true)),
};

fn existing<'a>(
    collections: &'a mut BTreeMap<String, Collection>,
    name: &str,
) -> Result<&'a mut Collection, Status> {
    collections
        .get_mut(name)
        .ok_or_else(|| Status::not_found(format!("Not found: Collection `{name}` doesn't exist!")))
}

/// Qdrant's collection name rule: 1 to 255 characters, none of them a path separator or reserved on common
/// file systems.
fn check_collection_name(name: &str) -> Result<(), Status> {
    const FORBIDDEN: &[char] = &['<', '>', ':', '"', '/', '\\', '|', '?', '*', '\0'];
    if name.is_empty() || name.len() > 255 {
        return Err(Status::invalid_argument(
            "Wrong input: collection name must be between 1 and 255 characters",
        ));
    }
    if let Some(bad) = name.chars().find(|c| FORBIDDEN.contains(c)) {
        return Err(Status::invalid_argument(format!(
            "Wrong input: collection name cannot contain \"{bad}\" char"
        )));
    }
    Ok(())
}

fn dense_space(name: &str, params: &VectorParams) -> Result<DenseSpace, Status> {
    if params.size == 0 {
        return Err(Status::invalid_argument(format!(
            "Wrong input: vector `{name}`: size must be at least 1"
        )));
    }
    let distance = Distance::try_from(params.distance)
        .ok()
        .filter(|distance| *distance != Distance::UnknownDistance)
        .ok_or_else(|| {
            Status::invalid_argument(format!("Wrong input: vector `{name}`: unknown distance"))
        })?;
    Ok(DenseSpace {
        size: params.size,
        distance,
    })
}

fn schema_type(field_type: FieldType) -> PayloadSchemaType {
    match field_type {
        FieldType::Keyword => PayloadSchemaType::Keyword,
        FieldType::Integer => PayloadSchemaType::Integer,
        FieldType::Float => PayloadSchemaType::Float,
        FieldType::Geo => PayloadSchemaType::Geo,
        FieldType::Text => PayloadSchemaType::Text,
        FieldType::Bool => PayloadSchemaType::Bool,
        FieldType::Datetime => PayloadSchemaType::Datetime,
        FieldType::Uuid => PayloadSchemaType::Uuid,
    }
}

fn info(collection: &Collection) -> CollectionInfo {
    let vector_params = |space: &DenseSpace| VectorParams {
        size: space.size,
        distance: space.distance as i32,
        ..Default::default()
    };
    let vectors_config = if collection.unnamed_dense {
        collection.dense.get("").map(|space| VectorsConfig {
            config: Some(VectorsConfigKind::Params(vector_params(space))),
        })
    } else if collection.dense.is_empty() {
        None
    } else {
        Some(VectorsConfig {
            config: Some(VectorsConfigKind::ParamsMap(VectorParamsMap {
                map: collection
                    .dense
                    .iter()
                    .map(|(name, space)| (name.clone(), vector_params(space)))
                    .collect(),
            })),
        })
    };
    let sparse_vectors_config = (!collection.sparse.is_empty()).then(|| SparseVectorConfig {
        map: collection
            .sparse
            .iter()
            .map(|(name, space)| {
                let modifier = if space.idf {
                    Modifier::Idf
                } else {
                    Modifier::None
                };
                (
                    name.clone(),
                    SparseVectorParams {
                        index: None,
                        modifier: Some(modifier as i32),
                    },
                )
            })
            .collect(),
    });
    let payload_schema = collection
        .payload_schema
        .iter()
        .map(|(field, schema)| {
            let points = collection
                .points
                .values()
                .filter(|point| !eval::values_at(&point.payload, field).is_empty())
                .count() as u64;
            (
                field.clone(),
                PayloadSchemaInfo {
                    data_type: *schema as i32,
                    params: None,
                    points: Some(points),
                },
            )
        })
        .collect();
    CollectionInfo {
        status: CollectionStatus::Green as i32,
        optimizer_status: Some(OptimizerStatus {
            ok: true,
            error: String::new(),
        }),
        segments_count: 1,
        config: Some(CollectionConfig {
            params: Some(CollectionParams {
                shard_number: 1,
                vectors_config,
                replication_factor: Some(1),
                write_consistency_factor: Some(1),
                sparse_vectors_config,
                ..Default::default()
            }),
            metadata: collection.metadata.clone(),
            ..Default::default()
        }),
        payload_schema,
        points_count: Some(collection.points.len() as u64),
        indexed_vectors_count: Some(0),
        ..Default::default()
    }
}

enum Parsed {
    Dense(Vec<f32>),
    Sparse(Sparse),
}

/// Reads a vector in either wire form: the `vector` oneof (Qdrant 1.16+) or the deprecated `data`/`indices`
/// fields older clients send.
fn parse_vector(input: Vector) -> Result<Parsed, Status> {
    match input.vector {
        Some(vector::Vector::Dense(dense)) => Ok(Parsed::Dense(dense.data)),
        Some(vector::Vector::Sparse(sparse)) => {
            Sparse::new(sparse.indices, sparse.values).map(Parsed::Sparse)
        }
        Some(_) => Err(Status::unimplemented(
            "qdrant-standin stores dense and sparse vectors only (no multivectors, documents, images or objects)",
        )),
        None => {
            #[allow(deprecated)]
            let Vector { data, indices, .. } = input;
            match indices {
                Some(indices) => Sparse::new(indices.data, data).map(Parsed::Sparse),
                None => Ok(Parsed::Dense(data)),
            }
        }
    }
}

fn missing_vector(name: &str) -> Status {
    Status::invalid_argument(format!(
        "Wrong input: Not existing vector name error: {name}"
    ))
}

fn check_dimension(space: &DenseSpace, got: usize) -> Result<(), Status> {
    if got as u64 != space.size {
        return Err(Status::invalid_argument(format!(
            "Wrong input: Vector dimension error: expected dim: {}, got {got}",
            space.size
        )));
    }
    Ok(())
}

fn candidate(point: &Point) -> Candidate<'_> {
    Candidate {
        key: point.key,
        payload: &point.payload,
    }
}

/// A point as returned by get, scroll and query, with the payload and vectors the selectors ask for.
fn retrieved(
    collection: &Collection,
    point: &Point,
    with_payload: Option<&WithPayloadSelector>,
    with_vectors: Option<&WithVectorsSelector>,
    order_value: Option<OrderValue>,
) -> RetrievedPoint {
    let payload = match with_payload.and_then(|selector| selector.selector_options.as_ref()) {
        None | Some(PayloadSelector::Enable(false)) => HashMap::new(),
        Some(PayloadSelector::Enable(true)) => point.payload.clone(),
        Some(PayloadSelector::Include(include)) => point
            .payload
            .iter()
            .filter(|(key, _)| include.fields.contains(key))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect(),
        Some(PayloadSelector::Exclude(exclude)) => point
            .payload
            .iter()
            .filter(|(key, _)| !exclude.fields.contains(key))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect(),
    };
    let wanted =
        |name: &str| match with_vectors.and_then(|selector| selector.selector_options.as_ref()) {
            None | Some(VectorsSelectorKind::Enable(false)) => false,
            Some(VectorsSelectorKind::Enable(true)) => true,
            Some(VectorsSelectorKind::Include(include)) => include.names.iter().any(|n| n == name),
        };
    let mut outputs: HashMap<String, VectorOutput> = HashMap::new();
    for (name, data) in point.dense.iter().filter(|(name, _)| wanted(name)) {
        outputs.insert(
            name.clone(),
            VectorOutput {
                vector: Some(vector_output::Vector::Dense(DenseVector {
                    data: data.clone(),
                })),
                ..Default::default()
            },
        );
    }
    for (name, sparse) in point.sparse.iter().filter(|(name, _)| wanted(name)) {
        outputs.insert(
            name.clone(),
            VectorOutput {
                vector: Some(vector_output::Vector::Sparse(SparseVector {
                    values: sparse.values.clone(),
                    indices: sparse.indices.clone(),
                })),
                ..Default::default()
            },
        );
    }
    let vectors = if outputs.is_empty() {
        None
    } else if collection.unnamed_dense && outputs.len() == 1 && outputs.contains_key("") {
        outputs.remove("").map(|single| VectorsOutput {
            vectors_options: Some(vectors_output::VectorsOptions::Vector(single)),
        })
    } else {
        Some(VectorsOutput {
            vectors_options: Some(vectors_output::VectorsOptions::Vectors(
                NamedVectorsOutput { vectors: outputs },
            )),
        })
    };
    RetrievedPoint {
        id: Some(point.key.to_point_id()),
        payload,
        vectors,
        shard_key: None,
        order_value,
    }
}

/// One level of a query: the root request or a prefetch.
struct Level<'a> {
    prefetch: &'a [PrefetchQuery],
    query: Option<&'a Query>,
    using: Option<&'a str>,
    filter: Option<&'a Filter>,
    score_threshold: Option<f32>,
    limit: u64,
}

impl<'a> Level<'a> {
    fn of_prefetch(prefetch: &'a PrefetchQuery) -> Result<Level<'a>, Status> {
        if prefetch.lookup_from.is_some() {
            return Err(Status::unimplemented(
                "qdrant-standin does not look vectors up from another collection",
            ));
        }
        Ok(Level {
            prefetch: &prefetch.prefetch,
            query: prefetch.query.as_ref(),
            using: prefetch.using.as_deref(),
            filter: prefetch.filter.as_ref(),
            score_threshold: prefetch.score_threshold,
            limit: prefetch.limit.unwrap_or(DEFAULT_LIMIT),
        })
    }
}

/// Runs one level: its prefetches (recursively), then its own query, and returns the ranked point ids and scores.
fn run_level(
    collection: &Collection,
    level: &Level<'_>,
    inherited: &[&Filter],
) -> Result<Vec<(PointKey, f32)>, Status> {
    let mut filters: Vec<&Filter> = inherited.to_vec();
    if let Some(filter) = level.filter {
        eval::check_filter(filter)?;
        filters.push(filter);
    }
    let mut prefetched = Vec::with_capacity(level.prefetch.len());
    for prefetch in level.prefetch {
        prefetched.push(run_level(
            collection,
            &Level::of_prefetch(prefetch)?,
            &filters,
        )?);
    }
    let candidates: Vec<&Point> = if level.prefetch.is_empty() {
        collection
            .points
            .values()
            .filter(|point| eval::matches_all(&filters, candidate(point)))
            .collect()
    } else {
        let keys: HashSet<PointKey> = prefetched.iter().flatten().map(|(key, _)| *key).collect();
        let mut points: Vec<&Point> = keys
            .iter()
            .filter_map(|key| collection.points.get(key))
            .collect();
        points.sort_by_key(|point| point.key);
        points
    };
    let mut ranked = match level.query.and_then(|query| query.variant.as_ref()) {
        None => {
            if level.prefetch.len() > 1 {
                return Err(Status::unimplemented(
                    "qdrant-standin needs a query (e.g. a fusion) to combine several prefetches",
                ));
            }
            match prefetched.pop() {
                Some(only) => only,
                None => candidates.iter().map(|point| (point.key, 0.0)).collect(),
            }
        }
        Some(query::Variant::Nearest(input)) => {
            nearest(collection, &candidates, input, level.using)?
        }
        Some(query::Variant::Fusion(fusion)) => match Fusion::try_from(*fusion) {
            Ok(Fusion::Rrf) => fuse(&prefetched, DEFAULT_RRF_K, None)?,
            Ok(Fusion::Dbsf) => {
                return Err(Status::unimplemented(
                    "qdrant-standin does not do distribution-based score fusion",
                ));
            }
            Err(_) => return Err(Status::invalid_argument("Wrong input: unknown fusion")),
        },
        Some(query::Variant::Rrf(params)) => {
            let weights = (!params.weights.is_empty()).then_some(params.weights.as_slice());
            fuse(&prefetched, params.k.unwrap_or(DEFAULT_RRF_K), weights)?
        }
        Some(other) => {
            return Err(Status::unimplemented(format!(
                "qdrant-standin answers nearest and fusion queries only, not {other:?}"
            )));
        }
    };
    if let Some(threshold) = level.score_threshold {
        ranked.retain(|(_, score)| *score >= threshold);
    }
    ranked.truncate(level.limit as usize);
    Ok(ranked)
}

fn fuse(
    prefetched: &[Vec<(PointKey, f32)>],
    k: u32,
    weights: Option<&[f32]>,
) -> Result<Vec<(PointKey, f32)>, Status> {
    if prefetched.is_empty() {
        return Err(Status::invalid_argument(
            "Wrong input: a fusion query needs at least one prefetch",
        ));
    }
    eval::rrf(prefetched, k, weights)
}

/// Nearest-neighbour scoring of `candidates` against a dense or sparse query vector, exact (no HNSW).
fn nearest(
    collection: &Collection,
    candidates: &[&Point],
    input: &VectorInput,
    using: Option<&str>,
) -> Result<Vec<(PointKey, f32)>, Status> {
    let name = using.unwrap_or("");
    let mut ranked = match input.variant.as_ref() {
        Some(InputVariant::Dense(dense)) => {
            let space = collection
                .dense
                .get(name)
                .ok_or_else(|| missing_vector(name))?;
            check_dimension(space, dense.data.len())?;
            dense_ranking(candidates, name, space, &dense.data)?
        }
        Some(InputVariant::Sparse(sparse)) => {
            let space = collection
                .sparse
                .get(name)
                .ok_or_else(|| missing_vector(name))?;
            let query = Sparse::new(sparse.indices.clone(), sparse.values.clone())?;
            let weights = space.idf.then(|| idf_weights(collection, name, &query));
            candidates
                .iter()
                .filter_map(|point| {
                    let document = point.sparse.get(name)?;
                    eval::sparse_score(&query, document, weights.as_ref())
                        .map(|score| (point.key, score))
                })
                .collect()
        }
        Some(InputVariant::Id(id)) => {
            let key = PointKey::from_point_id(id)?;
            let point = collection.points.get(&key).ok_or_else(|| {
                Status::not_found(format!("Not found: No point with id {key:?} found"))
            })?;
            let space = collection
                .dense
                .get(name)
                .ok_or_else(|| missing_vector(name))?;
            let data = point.dense.get(name).ok_or_else(|| missing_vector(name))?;
            let others: Vec<&Point> = candidates
                .iter()
                .copied()
                .filter(|p| p.key != key)
                .collect();
            dense_ranking(&others, name, space, data)?
        }
        Some(_) => {
            return Err(Status::unimplemented(
                "qdrant-standin searches with dense and sparse vectors only",
            ));
        }
        None => return Err(Status::invalid_argument("Wrong input: empty query vector")),
    };
    eval::sort_by_score(&mut ranked, true);
    Ok(ranked)
}

fn dense_ranking(
    candidates: &[&Point],
    name: &str,
    space: &DenseSpace,
    query: &[f32],
) -> Result<Vec<(PointKey, f32)>, Status> {
    let query = match space.distance {
        Distance::Cosine => eval::normalized(query),
        Distance::Dot => query.to_vec(),
        _ => {
            return Err(Status::unimplemented(
                "qdrant-standin scores cosine and dot-product spaces only",
            ));
        }
    };
    Ok(candidates
        .iter()
        .filter_map(|point| {
            let stored = point.dense.get(name)?;
            Some((point.key, eval::dot(&query, stored)))
        })
        .collect())
}

/// IDF of each query index over the whole collection (not the filtered candidates), as Qdrant's collection-level
/// statistics are.
fn idf_weights(collection: &Collection, name: &str, query: &Sparse) -> HashMap<u32, f32> {
    let total = collection.points.len();
    query
        .indices
        .iter()
        .map(|index| {
            let with_term = collection
                .points
                .values()
                .filter(|point| {
                    point
                        .sparse
                        .get(name)
                        .is_some_and(|sparse| sparse.get(*index) != 0.0)
                })
                .count();
            (*index, eval::idf(total, with_term))
        })
        .collect()
}
