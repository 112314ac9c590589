//! Serving the services over a loopback listener, and running them in the background for in-process tests.

use std::net::SocketAddr;
use std::sync::Arc;

use qdrant_client::qdrant::collections_server::CollectionsServer;
use qdrant_client::qdrant::points_server::PointsServer;
use qdrant_client::qdrant::qdrant_server::QdrantServer;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Status};

use crate::service::Service;
use crate::state::State;

/// Qdrant accepts requests of up to 32 MiB by default (`service.max_request_size_mb`); tonic's default of 4 MiB
/// would refuse large upserts a real server takes.
const MAX_MESSAGE_BYTES: usize = 32 * 1024 * 1024;

/// How the stand-in behaves.
#[derive(Debug, Clone, Default)]
pub struct StandinConfig {
    /// When set, Collections and Points calls need this key in the `api-key` header (as Qdrant's
    /// `service.api_key`); the health check stays open, as Qdrant's health endpoints do.
    pub api_key: Option<String>,
    /// Behave like a Qdrant older than 1.16, which drops the collection metadata it does not know, to test
    /// that clients notice.
    pub forget_metadata: bool,
}

/// Checks the `api-key` header the way Qdrant does: missing gives `Unauthenticated`, wrong gives
/// `PermissionDenied`.
fn authorize(expected: &Option<Arc<str>>, request: Request<()>) -> Result<Request<()>, Status> {
    let Some(expected) = expected else {
        return Ok(request);
    };
    let metadata = request.metadata();
    let given = metadata
        .get("api-key")
        .and_then(|value| value.to_str().ok())
        .or_else(|| {
            metadata
                .get("authorization")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.strip_prefix("Bearer "))
        });
    match given {
        None => Err(Status::unauthenticated(
            "Must provide an API key or an Authorization bearer token",
        )),
        Some(key) if key == &**expected => Ok(request),
        Some(_) => Err(Status::permission_denied("Invalid api-key")),
    }
}

/// Serves the stand-in over `state` on `listener` until the future is dropped or the listener fails.
pub async fn serve_state(
    config: StandinConfig,
    state: State,
    listener: tokio::net::TcpListener,
) -> Result<(), tonic::transport::Error> {
    let service = Service::new(state, config.forget_metadata);
    let key: Option<Arc<str>> = config.api_key.map(Arc::from);
    let collections_key = key.clone();
    let points_key = key;
    let collections = CollectionsServer::new(service.clone())
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let points = PointsServer::new(service.clone())
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    tonic::transport::Server::builder()
        .add_service(tonic::service::interceptor::InterceptedService::new(
            collections,
            move |request| authorize(&collections_key, request),
        ))
        .add_service(tonic::service::interceptor::InterceptedService::new(
            points,
            move |request| authorize(&points_key, request),
        ))
        .add_service(QdrantServer::new(service))
        .serve_with_incoming(TcpIncoming::from(listener).with_nodelay(Some(true)))
        .await
}

/// Serves a fresh, empty stand-in on `listener` until the future is dropped or the listener fails.
pub async fn serve(
    config: StandinConfig,
    listener: tokio::net::TcpListener,
) -> Result<(), tonic::transport::Error> {
    serve_state(config, State::new(), listener).await
}

/// A stand-in running in the background of the current tokio runtime, stopped when dropped.
#[derive(Debug)]
pub struct Running {
    /// The bound address.
    pub addr: SocketAddr,
    /// The shared state, to inspect collections and points directly.
    pub state: State,
    task: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
}

impl Running {
    /// `http://127.0.0.1:PORT`, the gRPC URL to give qdrant-client.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds 127.0.0.1 on a free port and serves a fresh stand-in there in the background.
pub async fn spawn(config: StandinConfig) -> std::io::Result<Running> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let state = State::new();
    let task = tokio::spawn(serve_state(config, state.clone(), listener));
    Ok(Running { addr, state, task })
}
