//! The MCP face of the Odoo server: tools, the `odoo://` resources, the `customer_summary` prompt,
//! and the [`Domain`] implementation (readiness probes per instance, consent previews of writes).
//! Each tool translates its arguments, calls [`Service`], and returns a documented structure.

mod crm;
mod previews;
mod prompt;
mod records;
mod resources;
mod schema;

use std::sync::Arc;

use mcp_common::{Domain, Previews, Probe};
use rmcp::handler::server::router::prompt::PromptRouter;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::*;
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler, prompt_handler, tool_handler};

use crate::ops::Service;

pub use crm::{
    CreateLeadArgs, ListLeadsArgs, LogNoteArgs, MoveLeadStageArgs, ObtenerClienteArgs,
    ScheduleActivityArgs,
};
pub use prompt::CustomerSummaryArgs;
pub use records::{
    AggregateRecordsArgs, CallMethodArgs, CountRecordsArgs, CreateRecordArgs, DeleteRecordArgs,
    DescribeModelArgs, ListModelsArgs, ReadRecordsArgs, SearchRecordsArgs, UpdateRecordArgs,
};
pub use schema::{FieldValueArg, InstanceArg, NamedValueArg};

/// The Odoo MCP server.
#[derive(Clone)]
pub struct Odoo {
    service: Arc<Service>,
    tools: Arc<ToolRouter<Odoo>>,
    prompts: Arc<PromptRouter<Odoo>>,
}

impl std::fmt::Debug for Odoo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Odoo")
            .field("service", &self.service)
            .finish()
    }
}

const INSTRUCTIONS: &str = "Odoo ERP. obtener_cliente looks customers up by name; list_leads, create_lead, move_lead_stage, log_note and schedule_activity work the CRM pipeline; search_records, read_records, count_records and aggregate_records read any model (list_models and describe_model show models and fields; domains use Odoo's prefix notation). Records come shaped: many2one as {id, name}, datetimes in UTC ISO 8601, credentials never included. Resources: odoo://models and odoo://{model}/{id}; the customer_summary prompt briefs on a customer.";

impl Odoo {
    /// A server over `service`.
    pub fn new(service: Service) -> Odoo {
        Odoo {
            service: Arc::new(service),
            // Built once: rmcp's default `Self::tool_router()` would rebuild it on every call.
            tools: Arc::new(Self::record_tools() + Self::crm_tools()),
            prompts: Arc::new(Self::prompt_router()),
        }
    }

    /// The shared operations.
    pub fn service(&self) -> &Service {
        &self.service
    }
}

#[tool_handler(router = self.tools)]
#[prompt_handler(router = self.prompts)]
impl ServerHandler for Odoo {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_prompts()
                .enable_resources()
                .enable_completions()
                .build(),
        )
        .with_instructions(INSTRUCTIONS)
    }

    /// Completes the `nombre` argument of `customer_summary` with partner names.
    async fn complete(
        &self,
        request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        let is_name = matches!(&request.r#ref, Reference::Prompt(prompt) if prompt.name == "customer_summary")
            && request.argument.name == "nombre";
        let typed = request.argument.value.trim().to_owned();
        if !is_name || typed.is_empty() {
            return Ok(CompleteResult::new(CompletionInfo::default()));
        }
        Ok(CompleteResult::new(self.complete_nombre(&typed).await?))
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        Ok(ListResourcesResult::with_all_items(Self::resources()))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(ListResourceTemplatesResult::with_all_items(
            Self::resource_templates(),
        ))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        Ok(self.read_resource_at(&request.uri).await?.into())
    }
}

impl Domain for Odoo {
    fn tools(&self) -> Vec<Tool> {
        self.tools.list_all()
    }

    fn probes(&self) -> Vec<Probe> {
        let several = self.service.clients().count() > 1;
        self.service
            .clients()
            .map(|client| {
                let client = client.clone();
                let name = if several {
                    format!("odoo:{}", client.connection().name)
                } else {
                    "odoo".to_owned()
                };
                Probe::new(name, move || {
                    let client = client.clone();
                    async move {
                        let connection = client.connection();
                        match client.check_login().await {
                            Ok(report) => Ok(format!(
                                "Odoo {} at {}, database {}, protocol {}{}",
                                report.version.version,
                                connection.url,
                                connection.db,
                                report.protocol.label(),
                                report
                                    .uid
                                    .map(|uid| format!(", uid {uid}"))
                                    .unwrap_or_default()
                            )),
                            Err(error) => Err(error.to_string()),
                        }
                    }
                })
            })
            .collect()
    }

    fn previews(&self) -> Previews<Self> {
        Previews::new()
            .on("create_record", Self::preview_create_record)
            .on("update_record", Self::preview_update_record)
            .on("delete_record", Self::preview_delete_record)
            .on("call_method", Self::preview_call_method)
            .on("create_lead", Self::preview_create_lead)
            .on("move_lead_stage", Self::preview_move_lead_stage)
            .on("log_note", Self::preview_log_note)
            .on("schedule_activity", Self::preview_schedule_activity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_is_annotated_documented_and_takes_an_instance() {
        let server = Odoo::new(Service::new(
            crate::OdooConfig::from_env(&mcp_common::Env::from_pairs([
                ("ODOO_URL", "http://127.0.0.1:9"),
                ("ODOO_DB", "test"),
                ("ODOO_USER", "admin"),
                ("ODOO_PASSWORD", "admin"),
            ]))
            .unwrap(),
            reqwest::Client::new(),
        ));
        let tools = Domain::tools(&server);
        assert_eq!(tools.len(), 16);
        for tool in &tools {
            assert!(
                mcp_common::schema::tool_problems(tool).is_empty(),
                "{}",
                tool.name
            );
            let properties = tool.input_schema.get("properties").unwrap();
            assert!(properties.get("instance").is_some(), "{}", tool.name);
        }
    }
}
