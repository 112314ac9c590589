//! The Odoo MCP server: Odoo ERP for AI agents, with gated writes.
//!
//! It exposes the Python prototype's `obtener_cliente(nombre)` contract, generic tools over any
//! model (`search_records`, `read_records`, `count_records`, `aggregate_records`, `list_models`,
//! `describe_model`, `create_record`, `update_record`, `delete_record`, `call_method`), CRM tools
//! (`create_lead`, `list_leads`, `move_lead_stage`, `log_note`, `schedule_activity`), the
//! `odoo://models` and `odoo://{model}/{id}` resources and the `customer_summary` prompt.
//!
//! It speaks Odoo's external APIs: XML-RPC (`/xmlrpc/2`, every supported Odoo version, deprecated
//! from Odoo 19 and due to be removed in Odoo 22) and JSON-2 (`/json/2`, Odoo 19 and newer),
//! chosen by `ODOO_PROTOCOL` (`auto` by default). Configuration comes from `ODOO_URL`, `ODOO_DB`,
//! `ODOO_USER`, `ODOO_PASSWORD` / `ODOO_API_KEY` or `ODOO_INSTANCES_FILE`, the policy from
//! `ODOO_MODELS_ALLOW`, `ODOO_MODELS_DENY`, `ODOO_SENSITIVE_FIELDS`, `ODOO_CALL_METHODS_ALLOW`,
//! `ODOO_DEFAULT_LIMIT`, `ODOO_MAX_LIMIT`, and the call policy from `ODOO_TIMEOUT_SECS`,
//! `ODOO_RETRIES`, `ODOO_BREAKER_THRESHOLD`, `ODOO_BREAKER_COOLDOWN_SECS` (see [`ENV_HELP`]).
//! Transports, consent, audit, retries and the breaker come from `mcp-common`.

pub mod client;
pub mod config;
pub mod domain;
pub mod fuzz;
pub mod ops;
pub mod shape;
pub mod tools;

pub use config::{ENV_HELP, OdooConfig};
use mcp_common::StartError;
pub use ops::CALLER_CREDENTIALS;
pub use tools::Odoo;

/// Builds the server. Nothing is sent to Odoo here: the server starts even when Odoo is down,
/// and only `/readyz` and tool calls report the problem.
pub fn open(config: OdooConfig) -> Result<Odoo, StartError> {
    let http = mcp_common::api::http_client("odoo", env!("CARGO_PKG_VERSION"))?;
    for connection in &config.instances {
        tracing::info!(
            instance = %connection.name,
            url = %connection.url,
            db = %connection.db,
            "Odoo instance configured"
        );
    }
    Ok(Odoo::new(ops::Service::new(config, http)))
}
