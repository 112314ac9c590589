//! The customer lookup (the prototype's `obtener_cliente`) and the CRM tools: leads, pipeline
//! stages, notes and activities. Each one translates its arguments into an [`ops::crm`] call.
//!
//! [`ops::crm`]: crate::ops::crm

use mcp_common::{Json, ToolError};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::ops::NameOrId;
use crate::ops::crm::{
    ActivityKind, ActivityScheduled, ClienteLookup, Lead, LeadFilter, LeadPage, LeadType,
    NewActivity, NewLead, NoteLogged, StageMove, require_text,
};
use crate::tools::Odoo;
use crate::tools::schema::InstanceArg;

/// Arguments of `obtener_cliente`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ObtenerClienteArgs {
    /// Name (or part of the name) of the customer to look up, case-insensitive
    pub nombre: String,
    /// The Odoo instance to use
    #[serde(flatten)]
    pub target: InstanceArg,
}

/// Arguments of `create_lead`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreateLeadArgs {
    /// Title of the lead, e.g. "Office chairs for Acme"
    pub name: String,
    /// The customer, if already a contact (res.partner id; obtener_cliente finds it)
    #[serde(default)]
    pub partner_id: Option<i64>,
    /// Company name of a prospect who is not a contact yet
    #[serde(default)]
    pub partner_name: Option<String>,
    /// Contact email
    #[serde(default)]
    pub email: Option<String>,
    /// Contact phone
    #[serde(default)]
    pub phone: Option<String>,
    /// Expected revenue, in the company's currency
    #[serde(default)]
    #[schemars(range(min = 0.0))]
    pub expected_revenue: Option<f64>,
    /// Probability of winning, 0 to 100
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 100.0))]
    pub probability: Option<f64>,
    /// Internal notes
    #[serde(default)]
    pub description: Option<String>,
    /// Salesperson (res.users id); default: the connected user
    #[serde(default)]
    pub salesperson_id: Option<i64>,
    /// "lead" or "opportunity" (default: Odoo's default for the user)
    #[serde(default, rename = "type")]
    pub lead_type: Option<LeadType>,
    /// The Odoo instance to use
    #[serde(flatten)]
    pub target: InstanceArg,
}

/// Arguments of `list_leads`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListLeadsArgs {
    /// Stage name (e.g. "Qualified", matched as a substring ignoring case) or id
    #[serde(default)]
    pub stage: Option<NameOrId>,
    /// Salesperson name (substring, ignoring case) or user id
    #[serde(default)]
    pub salesperson: Option<NameOrId>,
    /// Customer name (substring, ignoring case) or partner id (its contacts included)
    #[serde(default)]
    pub partner: Option<NameOrId>,
    /// Only leads expecting at least this revenue
    #[serde(default)]
    pub min_expected_revenue: Option<f64>,
    /// Only leads expecting at most this revenue
    #[serde(default)]
    pub max_expected_revenue: Option<f64>,
    /// Only leads or only opportunities
    #[serde(default, rename = "type")]
    pub lead_type: Option<LeadType>,
    /// Leads per page (default ODOO_DEFAULT_LIMIT)
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub limit: Option<u32>,
    /// Leads to skip: pass the next_offset of the previous page
    #[serde(default)]
    pub offset: Option<u64>,
    /// The Odoo instance to use
    #[serde(flatten)]
    pub target: InstanceArg,
}

/// Arguments of `move_lead_stage`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct MoveLeadStageArgs {
    /// Id of the lead (crm.lead)
    pub lead_id: i64,
    /// The new stage: a name such as "Qualified" (ignoring case) or a stage id
    pub stage: NameOrId,
    /// The Odoo instance to use
    #[serde(flatten)]
    pub target: InstanceArg,
}

/// Arguments of `log_note`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct LogNoteArgs {
    /// Technical model of the record, e.g. crm.lead or res.partner
    pub model: String,
    /// Id of the record
    pub record_id: i64,
    /// The note's text (internal, not sent to followers)
    pub body: String,
    /// The Odoo instance to use
    #[serde(flatten)]
    pub target: InstanceArg,
}

/// Arguments of `schedule_activity`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ScheduleActivityArgs {
    /// Technical model of the record, e.g. crm.lead or res.partner
    pub model: String,
    /// Id of the record
    pub record_id: i64,
    /// What to do: call, meeting, todo or email
    pub activity: ActivityKind,
    /// Short summary, e.g. "Call back about the quote"
    pub summary: String,
    /// Longer note
    #[serde(default)]
    pub note: Option<String>,
    /// Due date, YYYY-MM-DD
    pub deadline: String,
    /// Who does it: a user name or res.users id (default: the connected user)
    #[serde(default)]
    pub assignee: Option<NameOrId>,
    /// The Odoo instance to use
    #[serde(flatten)]
    pub target: InstanceArg,
}

#[tool_router(router = crm_tools, vis = "pub(super)")]
impl Odoo {
    #[tool(
        description = "Look up customers (Odoo contacts) whose name contains `nombre`, ignoring case. Returns each one's id, name, email, phone, company, city and country; an empty list (with a message) when nothing matches.",
        annotations(
            title = "Look up a customer",
            read_only_hint = true,
            open_world_hint = true
        )
    )]
    async fn obtener_cliente(
        &self,
        Parameters(args): Parameters<ObtenerClienteArgs>,
    ) -> Result<Json<ClienteLookup>, ToolError> {
        let nombre = require_text("nombre", &args.nombre, "a customer name to look for")?;
        let client = &self.service.client(args.target.instance())?;
        self.service.find_customers(client, &nombre).await.map(Json)
    }

    #[tool(
        description = "Create a CRM lead (crm.lead) for an existing customer (partner_id) or a new prospect (partner_name, email, phone), with expected revenue, probability and salesperson. Needs the user's consent.",
        annotations(
            title = "Create a CRM lead",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn create_lead(
        &self,
        Parameters(args): Parameters<CreateLeadArgs>,
    ) -> Result<Json<Lead>, ToolError> {
        let client = &self.service.client(args.target.instance())?;
        let lead = NewLead {
            name: args.name,
            partner_id: args.partner_id,
            partner_name: args.partner_name,
            email: args.email,
            phone: args.phone,
            expected_revenue: args.expected_revenue,
            probability: args.probability,
            description: args.description,
            salesperson_id: args.salesperson_id,
            lead_type: args.lead_type,
        };
        self.service.create_lead(client, lead).await.map(Json)
    }

    #[tool(
        description = "List CRM leads and opportunities, newest first, filtered by stage, salesperson or customer (each by name or id), expected revenue range and type; paginated with next_offset.",
        annotations(
            title = "List CRM leads",
            read_only_hint = true,
            open_world_hint = true
        )
    )]
    async fn list_leads(
        &self,
        Parameters(args): Parameters<ListLeadsArgs>,
    ) -> Result<Json<LeadPage>, ToolError> {
        let client = &self.service.client(args.target.instance())?;
        let filter = LeadFilter {
            stage: args.stage,
            salesperson: args.salesperson,
            partner: args.partner,
            min_expected_revenue: args.min_expected_revenue,
            max_expected_revenue: args.max_expected_revenue,
            lead_type: args.lead_type,
            limit: args.limit,
            offset: args.offset,
        };
        self.service.list_leads(client, &filter).await.map(Json)
    }

    #[tool(
        description = "Move a CRM lead to another pipeline stage, given by name (e.g. \"Qualified\") or id; an unknown stage gets the list of valid ones. Needs the user's consent.",
        annotations(
            title = "Move a lead to a stage",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn move_lead_stage(
        &self,
        Parameters(args): Parameters<MoveLeadStageArgs>,
    ) -> Result<Json<StageMove>, ToolError> {
        let client = &self.service.client(args.target.instance())?;
        self.service
            .move_lead_stage(client, args.lead_id, &args.stage)
            .await
            .map(Json)
    }

    #[tool(
        description = "Log an internal note on a record's chatter (e.g. a crm.lead or res.partner), visible to employees and not sent to followers. Needs the user's consent.",
        annotations(
            title = "Log a note",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn log_note(
        &self,
        Parameters(args): Parameters<LogNoteArgs>,
    ) -> Result<Json<NoteLogged>, ToolError> {
        let client = &self.service.client(args.target.instance())?;
        self.service
            .log_note(client, args.model.trim(), args.record_id, &args.body)
            .await
            .map(Json)
    }

    #[tool(
        description = "Schedule an activity (call, meeting, to-do or email) on a record such as a crm.lead, with a summary, a due date and an assignee (default: the connected user). Needs the user's consent.",
        annotations(
            title = "Schedule an activity",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn schedule_activity(
        &self,
        Parameters(args): Parameters<ScheduleActivityArgs>,
    ) -> Result<Json<ActivityScheduled>, ToolError> {
        let client = &self.service.client(args.target.instance())?;
        let activity = NewActivity {
            model: args.model.trim().to_owned(),
            record_id: args.record_id,
            activity: args.activity,
            summary: args.summary,
            note: args.note,
            deadline: args.deadline,
            assignee: args.assignee,
        };
        self.service
            .schedule_activity(client, activity)
            .await
            .map(Json)
    }
}
