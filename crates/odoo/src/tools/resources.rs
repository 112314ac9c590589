//! The `odoo://models` resource and the `odoo://{model}/{id}` template: the models this server may
//! use and one record, both as JSON.

use mcp_common::error::resource_not_found;
use rmcp::ErrorData as McpError;
use rmcp::model::{ReadResourceResult, Resource, ResourceContents, ResourceTemplate};
use serde_json::{Value, json};

use crate::tools::Odoo;

const MODELS_URI: &str = "odoo://models";

impl Odoo {
    /// The fixed resources.
    pub(super) fn resources() -> Vec<Resource> {
        vec![
            Resource::new(MODELS_URI, "models")
                .with_description("The Odoo models this server may use, as JSON")
                .with_mime_type("application/json"),
        ]
    }

    /// The resource templates.
    pub(super) fn resource_templates() -> Vec<ResourceTemplate> {
        vec![
            ResourceTemplate::new("odoo://{model}/{id}", "record")
                .with_description("One Odoo record with its default fields, shaped as in search_records, e.g. odoo://res.partner/7")
                .with_mime_type("application/json"),
        ]
    }

    /// Reads `uri` from the default instance.
    pub(super) async fn read_resource_at(&self, uri: &str) -> Result<ReadResourceResult, McpError> {
        let client = &self
            .service
            .client(None)
            .map_err(|e| e.into_resource_error(uri))?;
        let value = if uri == MODELS_URI {
            let list = self
                .service
                .list_models(client, None)
                .await
                .map_err(|e| e.into_resource_error(uri))?;
            serde_json::to_value(list).unwrap_or_default()
        } else {
            let parsed = uri
                .strip_prefix("odoo://")
                .and_then(|rest| rest.rsplit_once('/'))
                .and_then(|(model, id)| Some((model.to_owned(), id.parse::<i64>().ok()?)));
            let Some((model, id)) = parsed else {
                return Err(resource_not_found(
                    uri,
                    format!(
                        "unknown resource {uri}; use odoo://models or odoo://{{model}}/{{id}}, e.g. odoo://res.partner/7"
                    ),
                ));
            };
            let record = self
                .service
                .record(client, &model, id)
                .await
                .map_err(|e| e.into_resource_error(uri))?;
            Value::Object(record)
        };
        let text = serde_json::to_string_pretty(&value)
            .map_err(|e| McpError::internal_error(e.to_string(), Some(json!({ "uri": uri }))))?;
        Ok(ReadResourceResult::new(vec![
            ResourceContents::text(text, uri).with_mime_type("application/json"),
        ]))
    }
}
