//! An Odoo-faithful stand-in for tests: a small loopback HTTP server that speaks Odoo 19's external APIs over
//! seeded, in-memory data.
//!
//! It serves XML-RPC (`/xmlrpc/2/common`, `/xmlrpc/2/object`), JSON-2 (`POST /json/2/<model>/<method>` with a bearer
//! API key) and `GET /web/version`, with Odoo's wire formats, semantics (domains, ordering, `active`, many2one
//! pairs, grouping) and error answers (fault codes and strings, JSON-2 status codes and bodies).
//! Test-only routes under `/__standin/` reset the data, inject faults (hang, slow, close, 502, and the kit's modes:
//! statuses with `Retry-After`, drop or hang after acting, truncated, malformed and dripping bodies), change a
//! password and count the calls received.
//!
//! # Example
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! let standin = odoo_standin::spawn(odoo_standin::StandinConfig::standard()).await?;
//! // Point the client under test at standin.url(): database "test", admin/admin, API key "test-api-key".
//! assert_eq!(standin.state.call_count("json2", "res.partner", "write"), 0);
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod clock;
pub mod dispatch;
pub mod domain;
pub mod error;
pub mod schema;
pub mod seed;
mod server;
pub mod store;
pub mod value;
pub mod xmlrpc;

#[cfg(test)]
mod orm_tests;

pub use error::{Fault, OdooError};
pub use server::{AppState, FaultMode, Running, StandinConfig, app, serve, serve_app, spawn};
pub use value::Value;
