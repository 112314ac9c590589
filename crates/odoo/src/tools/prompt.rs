//! The `customer_summary` prompt, which briefs an agent on a customer, and the completion of its
//! `nombre` argument with partner names.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CompletionInfo, GetPromptResult, PromptMessage, Role};
use rmcp::{ErrorData as McpError, prompt, prompt_router};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::ops::NameOrId;
use crate::ops::crm::LeadFilter;
use crate::tools::Odoo;
use crate::tools::previews::short;

/// Arguments of the `customer_summary` prompt.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct CustomerSummaryArgs {
    /// Name of the customer to brief on
    pub nombre: String,
}

#[prompt_router(vis = "pub(super)")]
impl Odoo {
    /// Brief an agent on a customer before working with them: their contact details, their CRM leads and the latest messages about them.
    #[prompt(name = "customer_summary")]
    async fn customer_summary(
        &self,
        Parameters(args): Parameters<CustomerSummaryArgs>,
    ) -> Result<GetPromptResult, McpError> {
        let internal = |e: mcp_common::ToolError| McpError::internal_error(e.message(), None);
        let nombre = args.nombre.trim().to_owned();
        if nombre.is_empty() {
            return Err(McpError::invalid_params(
                "give the customer's name in `nombre`",
                None,
            ));
        }
        let service = &self.service;
        let client = &service.client(None).map_err(internal)?;
        let found = service
            .find_customers(client, &nombre)
            .await
            .map_err(internal)?;
        let Some(partner) = found
            .partners
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(&nombre))
            .or_else(|| found.partners.first())
            .cloned()
        else {
            return Err(McpError::invalid_params(
                format!("no customer matches '{nombre}'; obtener_cliente looks customers up"),
                None,
            ));
        };
        let mut sections = vec![format!(
            "Contact:\n{}",
            serde_json::to_string_pretty(&partner).unwrap_or_default()
        )];
        let mut lead_ids = Vec::new();
        if service.check_model("crm.lead").is_ok() {
            let filter = LeadFilter {
                stage: None,
                salesperson: None,
                partner: Some(NameOrId::Id(partner.id)),
                min_expected_revenue: None,
                max_expected_revenue: None,
                lead_type: None,
                limit: Some(20),
                offset: None,
            };
            match service.list_leads(client, &filter).await {
                Ok(page) => {
                    lead_ids = page.leads.iter().map(|l| l.id).collect();
                    let lines: Vec<String> = page
                        .leads
                        .iter()
                        .map(|lead| {
                            format!(
                                "- #{} {} — stage {}, expected revenue {}, probability {}%",
                                lead.id,
                                lead.name,
                                lead.stage.as_ref().map_or("none", |s| s.name.as_str()),
                                lead.expected_revenue.unwrap_or_default(),
                                lead.probability.unwrap_or_default()
                            )
                        })
                        .collect();
                    sections.push(format!(
                        "CRM leads ({} in all):\n{}",
                        page.total,
                        listed(lines)
                    ));
                }
                Err(error) => {
                    sections.push(format!("CRM leads: unavailable ({})", error.message()))
                }
            }
        }
        if service.check_model("mail.message").is_ok() {
            match service.recent_messages(client, partner.id, &lead_ids).await {
                Ok(Some(messages)) => {
                    let lines: Vec<String> = messages
                        .iter()
                        .map(|m| format!("- {} {}: {}", m.date, m.author, short(&m.body, 300)))
                        .collect();
                    sections.push(format!("Latest messages:\n{}", listed(lines)));
                }
                Ok(None) => {}
                Err(error) => sections.push(format!(
                    "Latest messages: unavailable ({})",
                    error.message()
                )),
            }
        }
        let text = format!(
            "You are about to work with the customer {name} (res.partner {id}). Here is what Odoo knows.\n\n{}\n\nSummarise who they are, where their deals stand, what was discussed last, and what to do next. Use search_records and read_records for details, log_note and schedule_activity to record follow-ups (they need the user's consent).",
            sections.join("\n\n"),
            name = partner.name,
            id = partner.id
        );
        Ok(
            GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)])
                .with_description(format!("Briefing on {}", partner.name)),
        )
    }
}

impl Odoo {
    /// Partner names containing `typed` (trimmed, not empty), for completing `nombre`.
    pub(super) async fn complete_nombre(&self, typed: &str) -> Result<CompletionInfo, McpError> {
        let internal = |e: mcp_common::ToolError| McpError::internal_error(e.message(), None);
        let client = &self.service.client(None).map_err(internal)?;
        let found = self
            .service
            .find_customers(client, typed)
            .await
            .map_err(internal)?;
        let names = found.partners.into_iter().map(|p| p.name).collect();
        let has_more = found.total > found.count as u64;
        CompletionInfo::with_pagination(names, u32::try_from(found.total).ok(), has_more)
            .map_err(|e| McpError::internal_error(e, None))
    }
}

/// Lines of a briefing section, or "(none)".
fn listed(lines: Vec<String>) -> String {
    if lines.is_empty() {
        "(none)".to_owned()
    } else {
        lines.join("\n")
    }
}
