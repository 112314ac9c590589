//! The gRPC services, implementing the server traits qdrant-client generates from Qdrant's protos, so the wire
//! format is Qdrant's own. Calls mcp-rag does not make answer `Unimplemented`.

use std::time::Instant;

// `::` because the glob below also brings in the generated module `qdrant::qdrant_client`.
use ::qdrant_client::qdrant::collections_server::Collections;
use ::qdrant_client::qdrant::points_server::Points;
use ::qdrant_client::qdrant::qdrant_server::Qdrant;
use ::qdrant_client::qdrant::*;
use tonic::{Request, Response, Status};

use crate::state::State;

/// The version the stand-in reports in its health check: the Qdrant release whose API it follows.
pub const REPORTED_VERSION: &str = "1.20.0";

/// All three services over one shared [`State`].
#[derive(Debug, Clone)]
pub struct Service {
    state: State,
    forget_metadata: bool,
}

impl Service {
    /// Services over `state`; with `forget_metadata`, collection metadata is dropped on creation, as a Qdrant
    /// older than 1.16 (which does not know the field) does.
    pub fn new(state: State, forget_metadata: bool) -> Service {
        Service {
            state,
            forget_metadata,
        }
    }
}

/// Seconds since `started`, for the `time` field every Qdrant answer carries.
fn took(started: Instant) -> f64 {
    started.elapsed().as_secs_f64()
}

fn completed() -> Option<UpdateResult> {
    Some(UpdateResult {
        operation_id: Some(0),
        status: UpdateStatus::Completed as i32,
    })
}

fn points_done(started: Instant) -> Response<PointsOperationResponse> {
    Response::new(PointsOperationResponse {
        result: completed(),
        time: took(started),
        usage: None,
    })
}

/// An `impl` of a service trait: the methods written out, plus methods that answer `Unimplemented` with their
/// name. The whole impl is produced here, so that `async_trait` sees the generated methods expanded.
macro_rules! service_impl {
    (
        impl $service_trait:ident {
            $($implemented:item)*
        }
        unimplemented {
            $($method:ident($request:ty) -> $response:ty;)*
        }
    ) => {
        #[tonic::async_trait]
        impl $service_trait for Service {
            $($implemented)*
            $(
                async fn $method(&self, _request: Request<$request>) -> Result<Response<$response>, Status> {
                    Err(Status::unimplemented(concat!(
                        "qdrant-standin does not implement ",
                        stringify!($method)
                    )))
                }
            )*
        }
    };
}

service_impl! {
impl Collections {
    async fn get(
        &self,
        request: Request<GetCollectionInfoRequest>,
    ) -> Result<Response<GetCollectionInfoResponse>, Status> {
        let started = Instant::now();
        let info = self.state.collection_info(&request.into_inner().collection_name)?;
        Ok(Response::new(GetCollectionInfoResponse {
            result: Some(info),
            time: took(started),
        }))
    }

    async fn list(
        &self,
        _request: Request<ListCollectionsRequest>,
    ) -> Result<Response<ListCollectionsResponse>, Status> {
        let started = Instant::now();
        let collections = self
            .state
            .collection_names()
            .into_iter()
            .map(|name| CollectionDescription { name })
            .collect();
        Ok(Response::new(ListCollectionsResponse {
            collections,
            time: took(started),
        }))
    }

    async fn create(
        &self,
        request: Request<CreateCollection>,
    ) -> Result<Response<CollectionOperationResponse>, Status> {
        let started = Instant::now();
        let mut request = request.into_inner();
        if self.forget_metadata {
            request.metadata.clear();
        }
        let result = self.state.create_collection(request)?;
        Ok(Response::new(CollectionOperationResponse {
            result,
            time: took(started),
        }))
    }

    async fn update(
        &self,
        request: Request<UpdateCollection>,
    ) -> Result<Response<CollectionOperationResponse>, Status> {
        let started = Instant::now();
        let result = self.state.update_collection(request.into_inner())?;
        Ok(Response::new(CollectionOperationResponse {
            result,
            time: took(started),
        }))
    }

    async fn delete(
        &self,
        request: Request<DeleteCollection>,
    ) -> Result<Response<CollectionOperationResponse>, Status> {
        let started = Instant::now();
        let result = self.state.delete_collection(&request.into_inner().collection_name);
        Ok(Response::new(CollectionOperationResponse {
            result,
            time: took(started),
        }))
    }

    async fn collection_exists(
        &self,
        request: Request<CollectionExistsRequest>,
    ) -> Result<Response<CollectionExistsResponse>, Status> {
        let started = Instant::now();
        let exists = self.state.collection_exists(&request.into_inner().collection_name);
        Ok(Response::new(CollectionExistsResponse {
            result: Some(CollectionExists { exists }),
            time: took(started),
        }))
    }

}
    unimplemented {
        update_aliases(ChangeAliases) -> CollectionOperationResponse;
        list_collection_aliases(ListCollectionAliasesRequest) -> ListAliasesResponse;
        list_aliases(ListAliasesRequest) -> ListAliasesResponse;
        collection_cluster_info(CollectionClusterInfoRequest) -> CollectionClusterInfoResponse;
        update_collection_cluster_setup(UpdateCollectionClusterSetupRequest) -> UpdateCollectionClusterSetupResponse;
        create_shard_key(CreateShardKeyRequest) -> CreateShardKeyResponse;
        delete_shard_key(DeleteShardKeyRequest) -> DeleteShardKeyResponse;
        list_shard_keys(ListShardKeysRequest) -> ListShardKeysResponse;
    }
}

service_impl! {
impl Points {
    async fn upsert(
        &self,
        request: Request<UpsertPoints>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        let started = Instant::now();
        self.state.upsert(request.into_inner())?;
        Ok(points_done(started))
    }

    async fn delete(
        &self,
        request: Request<DeletePoints>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        let started = Instant::now();
        self.state.delete_points(request.into_inner())?;
        Ok(points_done(started))
    }

    async fn get(&self, request: Request<GetPoints>) -> Result<Response<GetResponse>, Status> {
        let started = Instant::now();
        let result = self.state.get_points(request.into_inner())?;
        Ok(Response::new(GetResponse {
            result,
            time: took(started),
            usage: None,
        }))
    }

    async fn create_field_index(
        &self,
        request: Request<CreateFieldIndexCollection>,
    ) -> Result<Response<PointsOperationResponse>, Status> {
        let started = Instant::now();
        self.state.create_field_index(request.into_inner())?;
        Ok(points_done(started))
    }

    async fn scroll(&self, request: Request<ScrollPoints>) -> Result<Response<ScrollResponse>, Status> {
        let started = Instant::now();
        let (result, next_page_offset) = self.state.scroll(request.into_inner())?;
        Ok(Response::new(ScrollResponse {
            next_page_offset,
            result,
            time: took(started),
            usage: None,
        }))
    }

    async fn count(&self, request: Request<CountPoints>) -> Result<Response<CountResponse>, Status> {
        let started = Instant::now();
        let count = self.state.count(request.into_inner())?;
        Ok(Response::new(CountResponse {
            result: Some(CountResult { count }),
            time: took(started),
            usage: None,
        }))
    }

    async fn query(&self, request: Request<QueryPoints>) -> Result<Response<QueryResponse>, Status> {
        let started = Instant::now();
        let request = request.into_inner();
        let result = self.state.query(&request.collection_name, &request)?;
        Ok(Response::new(QueryResponse {
            result,
            time: took(started),
            usage: None,
        }))
    }

    async fn query_batch(
        &self,
        request: Request<QueryBatchPoints>,
    ) -> Result<Response<QueryBatchResponse>, Status> {
        let started = Instant::now();
        let request = request.into_inner();
        // Qdrant runs every query of a batch against the batch's collection.
        let mut result = Vec::with_capacity(request.query_points.len());
        for query in &request.query_points {
            result.push(BatchResult {
                result: self.state.query(&request.collection_name, query)?,
            });
        }
        Ok(Response::new(QueryBatchResponse {
            result,
            time: took(started),
            usage: None,
        }))
    }

}
    unimplemented {
        update_vectors(UpdatePointVectors) -> PointsOperationResponse;
        delete_vectors(DeletePointVectors) -> PointsOperationResponse;
        set_payload(SetPayloadPoints) -> PointsOperationResponse;
        overwrite_payload(SetPayloadPoints) -> PointsOperationResponse;
        delete_payload(DeletePayloadPoints) -> PointsOperationResponse;
        clear_payload(ClearPayloadPoints) -> PointsOperationResponse;
        delete_field_index(DeleteFieldIndexCollection) -> PointsOperationResponse;
        create_vector_name(CreateVectorNameRequest) -> PointsOperationResponse;
        delete_vector_name(DeleteVectorNameRequest) -> PointsOperationResponse;
        search(SearchPoints) -> SearchResponse;
        search_batch(SearchBatchPoints) -> SearchBatchResponse;
        search_groups(SearchPointGroups) -> SearchGroupsResponse;
        recommend(RecommendPoints) -> RecommendResponse;
        recommend_batch(RecommendBatchPoints) -> RecommendBatchResponse;
        recommend_groups(RecommendPointGroups) -> RecommendGroupsResponse;
        discover(DiscoverPoints) -> DiscoverResponse;
        discover_batch(DiscoverBatchPoints) -> DiscoverBatchResponse;
        update_batch(UpdateBatchPoints) -> UpdateBatchResponse;
        query_groups(QueryPointGroups) -> QueryGroupsResponse;
        facet(FacetCounts) -> FacetResponse;
        search_matrix_pairs(SearchMatrixPoints) -> SearchMatrixPairsResponse;
        search_matrix_offsets(SearchMatrixPoints) -> SearchMatrixOffsetsResponse;
    }
}

#[tonic::async_trait]
impl Qdrant for Service {
    async fn health_check(
        &self,
        _request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckReply>, Status> {
        Ok(Response::new(HealthCheckReply {
            title: "qdrant - vector search engine (qdrant-standin)".to_string(),
            version: REPORTED_VERSION.to_string(),
            commit: None,
        }))
    }
}
