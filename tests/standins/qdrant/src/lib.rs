//! A Qdrant-faithful stand-in for tests: a loopback gRPC server implementing, over in-memory collections, the
//! Collections and Points calls mcp-rag's Qdrant store makes, with Qdrant's wire format (the server traits that
//! qdrant-client generates from Qdrant's protos), semantics and error statuses.
//!
//! Implemented: collections (create with named dense and sparse vectors and metadata, get, list, exists, delete,
//! metadata update), payload indexes (recorded; `order_by` demands a range index as Qdrant does), upsert, delete
//! by ids or filter, get, scroll (filter, id offset, `order_by`), count, and query / query batch (prefetch,
//! nearest by dense cosine or dot product, sparse dot product with the IDF modifier, RRF fusion with Qdrant's
//! `k` and weights, `score_threshold`, `offset`, `limit`). Filters: `must`, `should`, `must_not`, `min_should`,
//! nested filters, match keyword / integer / boolean / any, numeric range, `is_empty`, `is_null`, `has_id`.
//! Everything else answers `Unimplemented`. Searches are exact (no HNSW), so they return the true nearest points.
//!
//! # Example
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! let standin = qdrant_standin::spawn(qdrant_standin::StandinConfig::default()).await?;
//! // Point qdrant-client at standin.url(); inspect what it stored through standin.state.
//! assert!(standin.state.collection_names().is_empty());
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

pub mod eval;
pub mod point;
mod server;
pub mod service;
pub mod state;

pub use server::{Running, StandinConfig, serve, serve_state, spawn};
pub use state::State;
