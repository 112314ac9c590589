//! The MCP face of the Odoo server: tools, the `odoo://` resources, the `customer_summary` prompt,
//! and the [`Domain`] implementation (readiness probes per instance, consent previews of writes).
//! Each tool translates its arguments, calls [`Service`], and returns a documented structure.

use std::sync::Arc;

use mcp_common::error::resource_not_found;
use mcp_common::{Domain, Previews, Probe, ToolError};
use rmcp::handler::server::router::prompt::PromptRouter;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::model::*;
use rmcp::service::RequestContext;
use rmcp::{
    ErrorData as McpError, RoleServer, ServerHandler, prompt, prompt_handler, prompt_router, tool,
    tool_handler, tool_router,
};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::client::{Call, OdooClient};
use crate::domain::like_literal;
use crate::ops::{
    Aggregation, Created, Deleted, MethodResult, ModelDescription, ModelList, NameOrId,
    RecordCount, RecordList, RecordPage, Ref, Service, Updated, record_label,
};
use crate::shape::{is_iso_date, plain_text};

/// Partners listed by `obtener_cliente` at most.
const CLIENTE_CAP: u32 = 20;

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

// ---------------------------------------------------------------------------------------------
// Argument schemas shared by several tools.

/// A JSON value without objects: what Odoo field values, domain terms and method arguments are
/// made of. Recursive through `$defs`, so that it converts to OpenAI strict mode.
fn field_value_ref(generator: &mut SchemaGenerator) -> Schema {
    generator
        .definitions_mut()
        .entry("FieldValue")
        .or_insert(json!({
            "description": "A value: text, number, true/false, null, or a list of values",
            "anyOf": [
                {"type": "string"},
                {"type": "number"},
                {"type": "boolean"},
                {"type": "array", "items": {"$ref": "#/$defs/FieldValue"}},
                {"type": "null"}
            ]
        }));
    json_schema!({"$ref": "#/$defs/FieldValue"})
}

/// An optional domain: a list whose items are operators or `[field, operator, value]` lists.
fn domain_schema(generator: &mut SchemaGenerator) -> Schema {
    let value = field_value_ref(generator);
    json_schema!({
        "anyOf": [
            {
                "type": "array",
                "items": {
                    "anyOf": [
                        {"type": "string"},
                        {"type": "array", "items": value}
                    ]
                }
            },
            {"type": "null"}
        ]
    })
}

/// Optional positional method arguments.
fn args_schema(generator: &mut SchemaGenerator) -> Schema {
    let value = field_value_ref(generator);
    json_schema!({
        "anyOf": [
            {"type": "array", "items": value},
            {"type": "null"}
        ]
    })
}

/// One field and the value to give it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct FieldValueArg {
    /// Technical field name, e.g. "email" (describe_model lists them)
    pub field: String,
    /// The value: text, a number, true/false, null to clear it; a record id for a many2one field; a list of ids for a many2many field (or Odoo commands such as [[6, 0, [1, 2]]]); dates as "YYYY-MM-DD", datetimes as "YYYY-MM-DDTHH:MM:SSZ" (UTC)
    #[schemars(schema_with = "field_value_ref")]
    pub value: Value,
}

/// One named argument of a method.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct NamedValueArg {
    /// The parameter's name
    pub name: String,
    /// Its value
    #[schemars(schema_with = "field_value_ref")]
    pub value: Value,
}

fn pairs(values: &[FieldValueArg]) -> Vec<(String, Value)> {
    values
        .iter()
        .map(|v| (v.field.clone(), v.value.clone()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Tool arguments.

/// Arguments of `obtener_cliente`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ObtenerClienteArgs {
    /// Name (or part of the name) of the customer to look up, case-insensitive
    pub nombre: String,
    /// Which configured Odoo instance to use (default: the configured default)
    #[serde(default)]
    pub instance: Option<String>,
}

/// Arguments of `search_records`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchRecordsArgs {
    /// Technical model name, e.g. res.partner or crm.lead (list_models lists them)
    pub model: String,
    /// Odoo domain in prefix notation: a list of conditions [field, operator, value] (joined by AND) and the operators "&", "|", "!" placed before their operands, e.g. [["is_company", "=", true], "|", ["city", "ilike", "madrid"], ["city", "ilike", "barcelona"]]. Operators: =, !=, ilike, like, =ilike, =like, not ilike, not like, in, not in, <, <=, >, >=, child_of, parent_of, =?, any, not any. Omit to match every record
    #[serde(default)]
    #[schemars(schema_with = "domain_schema")]
    pub domain: Option<Value>,
    /// Fields to return (default: a small useful set; describe_model lists them all)
    #[serde(default)]
    pub fields: Option<Vec<String>>,
    /// Records per page (default ODOO_DEFAULT_LIMIT, at most ODOO_MAX_LIMIT)
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub limit: Option<u32>,
    /// Records to skip: pass the next_offset of the previous page
    #[serde(default)]
    pub offset: Option<u64>,
    /// Sort order, e.g. "expected_revenue desc, name"
    #[serde(default)]
    pub order: Option<String>,
    /// Which configured Odoo instance to use (default: the configured default)
    #[serde(default)]
    pub instance: Option<String>,
}

/// Arguments of `read_records`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ReadRecordsArgs {
    /// Technical model name, e.g. res.partner
    pub model: String,
    /// Ids of the records to read
    pub ids: Vec<i64>,
    /// Fields to return (default: a small useful set; describe_model lists them all)
    #[serde(default)]
    pub fields: Option<Vec<String>>,
    /// Which configured Odoo instance to use (default: the configured default)
    #[serde(default)]
    pub instance: Option<String>,
}

/// Arguments of `count_records`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct CountRecordsArgs {
    /// Technical model name, e.g. crm.lead
    pub model: String,
    /// Odoo domain, as in search_records; omit to count every record
    #[serde(default)]
    #[schemars(schema_with = "domain_schema")]
    pub domain: Option<Value>,
    /// Which configured Odoo instance to use (default: the configured default)
    #[serde(default)]
    pub instance: Option<String>,
}

/// Arguments of `aggregate_records`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct AggregateRecordsArgs {
    /// Technical model name, e.g. crm.lead
    pub model: String,
    /// Odoo domain, as in search_records; omit to aggregate every record
    #[serde(default)]
    #[schemars(schema_with = "domain_schema")]
    pub domain: Option<Value>,
    /// Fields to group by, e.g. ["stage_id"], or a date field with a granularity such as "create_date:month" (day, week, month, quarter, year); empty for one overall total
    pub group_by: Vec<String>,
    /// Aggregates as "field:function", e.g. ["expected_revenue:sum", "probability:avg"]; functions: sum, avg, min, max, count, count_distinct. Every group also has its record count
    pub aggregates: Vec<String>,
    /// Most groups to return (default ODOO_MAX_LIMIT)
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub limit: Option<u32>,
    /// Which configured Odoo instance to use (default: the configured default)
    #[serde(default)]
    pub instance: Option<String>,
}

/// Arguments of `list_models`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListModelsArgs {
    /// Text to look for in technical or human model names, e.g. "partner" or "lead"
    #[serde(default)]
    pub query: Option<String>,
    /// Which configured Odoo instance to use (default: the configured default)
    #[serde(default)]
    pub instance: Option<String>,
}

/// Arguments of `describe_model`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct DescribeModelArgs {
    /// Technical model name, e.g. res.partner
    pub model: String,
    /// Which configured Odoo instance to use (default: the configured default)
    #[serde(default)]
    pub instance: Option<String>,
}

/// Arguments of `create_record`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreateRecordArgs {
    /// Technical model name, e.g. res.partner
    pub model: String,
    /// The new record's fields, e.g. [{"field": "name", "value": "Acme"}, {"field": "email", "value": "info@acme.example"}]
    pub values: Vec<FieldValueArg>,
    /// Which configured Odoo instance to use (default: the configured default)
    #[serde(default)]
    pub instance: Option<String>,
}

/// Arguments of `update_record`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct UpdateRecordArgs {
    /// Technical model name, e.g. res.partner
    pub model: String,
    /// Ids of the records to change
    pub ids: Vec<i64>,
    /// The fields to change and their new values, e.g. [{"field": "phone", "value": "+34 600 000 000"}]
    pub values: Vec<FieldValueArg>,
    /// Which configured Odoo instance to use (default: the configured default)
    #[serde(default)]
    pub instance: Option<String>,
}

/// Arguments of `delete_record`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct DeleteRecordArgs {
    /// Technical model name, e.g. res.partner
    pub model: String,
    /// Ids of the records to delete
    pub ids: Vec<i64>,
    /// Which configured Odoo instance to use (default: the configured default)
    #[serde(default)]
    pub instance: Option<String>,
}

/// Arguments of `call_method`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct CallMethodArgs {
    /// Technical model name, e.g. crm.lead
    pub model: String,
    /// Public method name, e.g. action_set_won; the operator must list model.method in ODOO_CALL_METHODS_ALLOW
    pub method: String,
    /// Records to call the method on; omit for model-level methods
    #[serde(default)]
    pub ids: Option<Vec<i64>>,
    /// Positional arguments after the records (XML-RPC only; prefer kwargs)
    #[serde(default)]
    #[schemars(schema_with = "args_schema")]
    pub args: Option<Vec<Value>>,
    /// Named arguments, e.g. [{"name": "default", "value": null}]
    #[serde(default)]
    pub kwargs: Option<Vec<NamedValueArg>>,
    /// Which configured Odoo instance to use (default: the configured default)
    #[serde(default)]
    pub instance: Option<String>,
}

/// Lead or opportunity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LeadType {
    /// A lead, not yet qualified
    Lead,
    /// An opportunity in the pipeline
    Opportunity,
}

impl LeadType {
    fn as_str(self) -> &'static str {
        match self {
            LeadType::Lead => "lead",
            LeadType::Opportunity => "opportunity",
        }
    }
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
    /// Which configured Odoo instance to use (default: the configured default)
    #[serde(default)]
    pub instance: Option<String>,
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
    /// Which configured Odoo instance to use (default: the configured default)
    #[serde(default)]
    pub instance: Option<String>,
}

/// Arguments of `move_lead_stage`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct MoveLeadStageArgs {
    /// Id of the lead (crm.lead)
    pub lead_id: i64,
    /// The new stage: a name such as "Qualified" (ignoring case) or a stage id
    pub stage: NameOrId,
    /// Which configured Odoo instance to use (default: the configured default)
    #[serde(default)]
    pub instance: Option<String>,
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
    /// Which configured Odoo instance to use (default: the configured default)
    #[serde(default)]
    pub instance: Option<String>,
}

/// Kinds of activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ActivityKind {
    /// A phone call
    Call,
    /// A meeting
    Meeting,
    /// A to-do
    Todo,
    /// An email to send
    Email,
}

impl ActivityKind {
    fn type_name(self) -> &'static str {
        match self {
            ActivityKind::Call => "Call",
            ActivityKind::Meeting => "Meeting",
            ActivityKind::Todo => "To-Do",
            ActivityKind::Email => "Email",
        }
    }
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
    /// Which configured Odoo instance to use (default: the configured default)
    #[serde(default)]
    pub instance: Option<String>,
}

/// Arguments of the `customer_summary` prompt.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct CustomerSummaryArgs {
    /// Name of the customer to brief on
    pub nombre: String,
}

// ---------------------------------------------------------------------------------------------
// Tool results.

/// A customer as `obtener_cliente` returns it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Cliente {
    /// Partner id
    pub id: i64,
    /// Name
    pub name: String,
    /// Email
    pub email: Option<String>,
    /// Phone
    pub phone: Option<String>,
    /// The company: the parent company's name, or its own name when it is a company
    pub company: Option<String>,
    /// City
    pub city: Option<String>,
    /// Country
    pub country: Option<String>,
}

/// Customers matching a name.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ClienteLookup {
    /// Partners listed
    pub count: usize,
    /// Partners matching in all (at most 20 are listed)
    pub total: u64,
    /// The matching partners, by name
    pub partners: Vec<Cliente>,
    /// Set when nothing matches, or when the list was cut
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A lead or opportunity.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Lead {
    /// Lead id
    pub id: i64,
    /// Title
    pub name: String,
    /// "lead" or "opportunity"
    #[serde(rename = "type")]
    pub lead_type: Option<String>,
    /// Pipeline stage
    pub stage: Option<Ref>,
    /// Customer
    pub partner: Option<Ref>,
    /// Company name of a prospect without a contact
    pub partner_name: Option<String>,
    /// Salesperson
    pub salesperson: Option<Ref>,
    /// Expected revenue
    pub expected_revenue: Option<f64>,
    /// Probability of winning, 0 to 100
    pub probability: Option<f64>,
    /// Contact email
    pub email: Option<String>,
    /// Contact phone
    pub phone: Option<String>,
    /// Created at (UTC, ISO 8601)
    pub created: Option<String>,
}

/// A page of leads.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LeadPage {
    /// The leads, newest first
    pub leads: Vec<Lead>,
    /// Leads on this page
    pub count: usize,
    /// Leads matching in all
    pub total: u64,
    /// The offset of the next page, when there are more leads
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<u64>,
}

/// A lead moved to another stage.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StageMove {
    /// The lead
    pub lead: Ref,
    /// Its stage before
    pub from_stage: Option<Ref>,
    /// Its stage now
    pub to_stage: Ref,
}

/// A note posted on a record's chatter.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct NoteLogged {
    /// The record's model
    pub model: String,
    /// The record's id
    pub record_id: i64,
    /// The new mail.message id
    pub message_id: Option<i64>,
}

/// A scheduled activity.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ActivityScheduled {
    /// The new mail.activity id
    pub activity_id: i64,
    /// The record's model
    pub model: String,
    /// The record's id
    pub record_id: i64,
    /// The activity type
    pub activity_type: Ref,
    /// Summary
    pub summary: String,
    /// Due date, YYYY-MM-DD
    pub deadline: String,
    /// Who does it (null: the connected user)
    pub assignee: Option<Ref>,
}

// ---------------------------------------------------------------------------------------------

const LEAD_FIELDS: [&str; 12] = [
    "name",
    "type",
    "stage_id",
    "partner_id",
    "partner_name",
    "user_id",
    "expected_revenue",
    "probability",
    "email_from",
    "phone",
    "create_date",
    "display_name",
];

fn text(record: &Map<String, Value>, field: &str) -> Option<String> {
    record
        .get(field)
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

fn lead_of(record: &Map<String, Value>) -> Lead {
    let reference = |field: &str| {
        let value = record.get(field)?;
        Some(Ref {
            id: value.get("id")?.as_i64()?,
            name: value
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        })
    };
    Lead {
        id: record.get("id").and_then(Value::as_i64).unwrap_or_default(),
        name: text(record, "name").unwrap_or_else(|| record_label(record)),
        lead_type: text(record, "type"),
        stage: reference("stage_id"),
        partner: reference("partner_id"),
        partner_name: text(record, "partner_name"),
        salesperson: reference("user_id"),
        expected_revenue: record.get("expected_revenue").and_then(Value::as_f64),
        probability: record.get("probability").and_then(Value::as_f64),
        email: text(record, "email_from"),
        phone: text(record, "phone"),
        created: text(record, "create_date"),
    }
}

fn normalized(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn require_text(field: &str, value: &str, expected: &str) -> Result<String, ToolError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ToolError::invalid(field, expected));
    }
    Ok(value.to_owned())
}

fn short(text: &str, max: usize) -> String {
    if text.chars().count() > max {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}…")
    } else {
        text.to_owned()
    }
}

/// A value as shown in a consent preview: a many2one by name, text quoted, null as "(empty)".
fn shown(value: &Value) -> String {
    match value {
        Value::Null | Value::Bool(false) => "(empty)".into(),
        Value::Object(map) if map.contains_key("name") && map.contains_key("id") => {
            let name = map.get("name").and_then(Value::as_str).unwrap_or_default();
            format!(
                "{name} (id {})",
                map.get("id").cloned().unwrap_or(Value::Null)
            )
        }
        Value::Object(map) if map.contains_key("ids") => format!(
            "{} record(s)",
            map.get("count").and_then(Value::as_u64).unwrap_or_default()
        ),
        other => short(&other.to_string(), 80),
    }
}

impl Odoo {
    /// A server over `service`.
    pub fn new(service: Service) -> Odoo {
        Odoo {
            service: Arc::new(service),
            tools: Arc::new(Self::tool_router()),
            prompts: Arc::new(Self::prompt_router()),
        }
    }

    /// The shared operations.
    pub fn service(&self) -> &Service {
        &self.service
    }

    async fn lead_fields(&self, client: &OdooClient) -> Result<Vec<String>, ToolError> {
        let meta = self.service.fields(client, "crm.lead").await?;
        Ok(LEAD_FIELDS
            .iter()
            .filter(|f| meta.get(f).is_some())
            .map(|f| (*f).to_owned())
            .collect())
    }

    async fn read_lead(&self, client: &OdooClient, id: i64) -> Result<Lead, ToolError> {
        let fields = self.lead_fields(client).await?;
        let list = self
            .service
            .read(client, "crm.lead", &[id], Some(&fields))
            .await?;
        list.records.first().map(lead_of).ok_or_else(|| {
            ToolError::not_found(format!("crm.lead {id}"), "call list_leads to find lead ids")
        })
    }
}

#[tool_router]
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
        let client = self.service.client(args.instance.as_deref())?;
        self.service.check_model("res.partner")?;
        // Literal, so that a name such as "%" or "_" is not a wildcard matching every partner.
        let domain = json!([["name", "ilike", like_literal(&nombre)]]);
        // The operator may have marked some of these sensitive (ODOO_SENSITIVE_FIELDS).
        let fields: Vec<&str> = [
            "name",
            "email",
            "phone",
            "is_company",
            "parent_id",
            "city",
            "country_id",
        ]
        .into_iter()
        .filter(|f| !self.service.is_sensitive(f))
        .collect();
        let call = Call::read("res.partner", "search_read")
            .arg("domain", domain.clone())
            .kwarg("fields", json!(fields))
            .kwarg("limit", CLIENTE_CAP)
            .kwarg("order", "name");
        let answer = self.service.call(client, &call).await?;
        let rows: Vec<Map<String, Value>> = match answer {
            Value::Array(rows) => rows
                .into_iter()
                .filter_map(|r| match r {
                    Value::Object(map) => Some(map),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let partners: Vec<Cliente> = rows
            .iter()
            .map(|row| {
                let name = text(row, "name").unwrap_or_default();
                let parent = Ref::from_pair(row.get("parent_id").unwrap_or(&Value::Null));
                let is_company = row.get("is_company").and_then(Value::as_bool) == Some(true);
                Cliente {
                    id: row.get("id").and_then(Value::as_i64).unwrap_or_default(),
                    email: text(row, "email"),
                    phone: text(row, "phone"),
                    company: parent
                        .map(|p| p.name)
                        .or_else(|| is_company.then(|| name.clone())),
                    city: text(row, "city"),
                    country: Ref::from_pair(row.get("country_id").unwrap_or(&Value::Null))
                        .map(|c| c.name),
                    name,
                }
            })
            .collect();
        let total = if partners.len() < CLIENTE_CAP as usize {
            partners.len() as u64
        } else {
            self.service
                .count(client, "res.partner", Some(&domain))
                .await?
                .count
        };
        let message = if partners.is_empty() {
            Some(format!("no customer matches '{nombre}'"))
        } else if total > partners.len() as u64 {
            Some(format!(
                "{total} customers match '{nombre}'; the first {} are listed, give more of the name to narrow it",
                partners.len()
            ))
        } else {
            None
        };
        Ok(Json(ClienteLookup {
            count: partners.len(),
            total,
            partners,
            message,
        }))
    }

    #[tool(
        description = "Search any Odoo model with a domain and return one page of records (shaped: many2one as {id, name}, dates in ISO 8601, empty values as null, binary content as a size marker, credentials never included), the total count and next_offset for the next page.",
        annotations(
            title = "Search records",
            read_only_hint = true,
            open_world_hint = true
        )
    )]
    async fn search_records(
        &self,
        Parameters(args): Parameters<SearchRecordsArgs>,
    ) -> Result<Json<RecordPage>, ToolError> {
        let client = self.service.client(args.instance.as_deref())?;
        self.service
            .search(
                client,
                args.model.trim(),
                args.domain.as_ref(),
                args.fields.as_deref(),
                args.limit,
                args.offset,
                args.order.as_deref(),
            )
            .await
            .map(Json)
    }

    #[tool(
        description = "Read records of an Odoo model by id (archived ones included); ids that do not exist are listed in missing_ids.",
        annotations(title = "Read records", read_only_hint = true, open_world_hint = true)
    )]
    async fn read_records(
        &self,
        Parameters(args): Parameters<ReadRecordsArgs>,
    ) -> Result<Json<RecordList>, ToolError> {
        let client = self.service.client(args.instance.as_deref())?;
        self.service
            .read(client, args.model.trim(), &args.ids, args.fields.as_deref())
            .await
            .map(Json)
    }

    #[tool(
        description = "Count the records of an Odoo model matching a domain.",
        annotations(title = "Count records", read_only_hint = true, open_world_hint = true)
    )]
    async fn count_records(
        &self,
        Parameters(args): Parameters<CountRecordsArgs>,
    ) -> Result<Json<RecordCount>, ToolError> {
        let client = self.service.client(args.instance.as_deref())?;
        self.service
            .count(client, args.model.trim(), args.domain.as_ref())
            .await
            .map(Json)
    }

    #[tool(
        description = "Group records of an Odoo model and aggregate fields (Odoo read_group), e.g. the expected revenue per CRM stage: group_by [\"stage_id\"], aggregates [\"expected_revenue:sum\"]. Every group has its record count.",
        annotations(
            title = "Aggregate records",
            read_only_hint = true,
            open_world_hint = true
        )
    )]
    async fn aggregate_records(
        &self,
        Parameters(args): Parameters<AggregateRecordsArgs>,
    ) -> Result<Json<Aggregation>, ToolError> {
        let client = self.service.client(args.instance.as_deref())?;
        self.service
            .aggregate(
                client,
                args.model.trim(),
                args.domain.as_ref(),
                &args.group_by,
                &args.aggregates,
                args.limit,
            )
            .await
            .map(Json)
    }

    #[tool(
        description = "List the Odoo models this server may use (technical and human names), optionally those matching a text such as \"partner\" or \"invoice\".",
        annotations(title = "List models", read_only_hint = true, open_world_hint = true)
    )]
    async fn list_models(
        &self,
        Parameters(args): Parameters<ListModelsArgs>,
    ) -> Result<Json<ModelList>, ToolError> {
        let client = self.service.client(args.instance.as_deref())?;
        self.service
            .list_models(client, args.query.as_deref())
            .await
            .map(Json)
    }

    #[tool(
        description = "Describe an Odoo model's fields: type, label, required, read-only, stored, related model and selection values. Sensitive fields (credentials) are marked and can never be read; binary fields are returned as a size marker.",
        annotations(
            title = "Describe a model",
            read_only_hint = true,
            open_world_hint = true
        )
    )]
    async fn describe_model(
        &self,
        Parameters(args): Parameters<DescribeModelArgs>,
    ) -> Result<Json<ModelDescription>, ToolError> {
        let client = self.service.client(args.instance.as_deref())?;
        self.service
            .describe(client, args.model.trim())
            .await
            .map(Json)
    }

    #[tool(
        description = "Create a record in any Odoo model from a list of {field, value} pairs; returns its id and stored values. Needs the user's consent.",
        annotations(
            title = "Create a record",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn create_record(
        &self,
        Parameters(args): Parameters<CreateRecordArgs>,
    ) -> Result<Json<Created>, ToolError> {
        let client = self.service.client(args.instance.as_deref())?;
        let model = args.model.trim();
        let values = self
            .service
            .values(client, model, &pairs(&args.values))
            .await?;
        self.service.create(client, model, values).await.map(Json)
    }

    #[tool(
        description = "Change fields of existing Odoo records (the same values on every id given); returns the new values. Overwrites data, so it needs the user's consent.",
        annotations(
            title = "Update records",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn update_record(
        &self,
        Parameters(args): Parameters<UpdateRecordArgs>,
    ) -> Result<Json<Updated>, ToolError> {
        let client = self.service.client(args.instance.as_deref())?;
        let model = args.model.trim();
        let values = self
            .service
            .values(client, model, &pairs(&args.values))
            .await?;
        self.service
            .update(client, model, &args.ids, values)
            .await
            .map(Json)
    }

    #[tool(
        description = "Delete Odoo records by id. Cannot be undone (archiving with update_record active=false can), so it needs the user's consent.",
        annotations(
            title = "Delete records",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn delete_record(
        &self,
        Parameters(args): Parameters<DeleteRecordArgs>,
    ) -> Result<Json<Deleted>, ToolError> {
        let client = self.service.client(args.instance.as_deref())?;
        self.service
            .delete(client, args.model.trim(), &args.ids)
            .await
            .map(Json)
    }

    #[tool(
        description = "Call a public method of an Odoo model (e.g. crm.lead action_set_won on some ids). Only methods the operator listed in ODOO_CALL_METHODS_ALLOW run; others are refused with how to allow them. Methods can do anything, so it needs the user's consent.",
        annotations(
            title = "Call a model method",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn call_method(
        &self,
        Parameters(args): Parameters<CallMethodArgs>,
    ) -> Result<Json<MethodResult>, ToolError> {
        let client = self.service.client(args.instance.as_deref())?;
        let kwargs = args
            .kwargs
            .unwrap_or_default()
            .into_iter()
            .map(|k| (k.name, k.value))
            .collect();
        self.service
            .call_method(
                client,
                args.model.trim(),
                args.method.trim(),
                args.ids,
                args.args.unwrap_or_default(),
                kwargs,
            )
            .await
            .map(Json)
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
        let client = self.service.client(args.instance.as_deref())?;
        let name = require_text("name", &args.name, "a title for the lead")?;
        let mut values: Vec<(String, Value)> = vec![("name".into(), Value::String(name))];
        let optional: [(&str, Option<Value>); 9] = [
            ("partner_id", args.partner_id.map(Value::from)),
            ("partner_name", args.partner_name.map(Value::from)),
            ("email_from", args.email.map(Value::from)),
            ("phone", args.phone.map(Value::from)),
            ("expected_revenue", args.expected_revenue.map(Value::from)),
            ("probability", args.probability.map(Value::from)),
            ("description", args.description.map(Value::from)),
            ("user_id", args.salesperson_id.map(Value::from)),
            ("type", args.lead_type.map(|t| Value::from(t.as_str()))),
        ];
        values.extend(
            optional
                .into_iter()
                .filter_map(|(field, value)| Some((field.to_owned(), value?))),
        );
        let values = self.service.values(client, "crm.lead", &values).await?;
        let created = self.service.create(client, "crm.lead", values).await?;
        self.read_lead(client, created.id).await.map(Json)
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
        let client = self.service.client(args.instance.as_deref())?;
        self.service.check_model("crm.lead")?;
        let mut domain = Vec::new();
        let by_name_or_id = |field: &str, value: &NameOrId| match value.as_id() {
            Some(id) => vec![json!([field, "=", id])],
            None => {
                let name = match value {
                    NameOrId::Name(name) => name.trim(),
                    NameOrId::Id(_) => "",
                };
                vec![json!([
                    format!("{field}.name"),
                    "ilike",
                    like_literal(name)
                ])]
            }
        };
        if let Some(stage) = &args.stage {
            domain.extend(by_name_or_id("stage_id", stage));
        }
        if let Some(user) = &args.salesperson {
            domain.extend(by_name_or_id("user_id", user));
        }
        if let Some(partner) = &args.partner {
            match partner.as_id() {
                // The company and its contacts (Odoo's partner hierarchy is company -> contacts;
                // `child_of` would say the same but not every server evaluates it).
                Some(id) => domain.extend([
                    json!("|"),
                    json!(["partner_id", "=", id]),
                    json!(["partner_id.parent_id", "=", id]),
                ]),
                None => domain.extend(by_name_or_id("partner_id", partner)),
            }
        }
        if let Some(min) = args.min_expected_revenue {
            domain.push(json!(["expected_revenue", ">=", min]));
        }
        if let Some(max) = args.max_expected_revenue {
            domain.push(json!(["expected_revenue", "<=", max]));
        }
        if let Some(kind) = args.lead_type {
            domain.push(json!(["type", "=", kind.as_str()]));
        }
        let fields = self.lead_fields(client).await?;
        let page = self
            .service
            .search(
                client,
                "crm.lead",
                Some(&Value::Array(domain)),
                Some(&fields),
                args.limit,
                args.offset,
                Some("create_date desc, id desc"),
            )
            .await?;
        let leads: Vec<Lead> = page.records.iter().map(lead_of).collect();
        Ok(Json(LeadPage {
            count: leads.len(),
            leads,
            total: page.total,
            next_offset: page.next_offset,
        }))
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
        let client = self.service.client(args.instance.as_deref())?;
        self.service.check_model("crm.lead")?;
        let stage = self.service.resolve_stage(client, &args.stage).await?;
        let before = self.read_lead(client, args.lead_id).await?;
        let call = Call::write("crm.lead", "write")
            .on(vec![args.lead_id])
            .arg("vals", json!({"stage_id": stage.id}));
        self.service.call(client, &call).await?;
        Ok(Json(StageMove {
            lead: Ref {
                id: before.id,
                name: before.name,
            },
            from_stage: before.stage,
            to_stage: stage,
        }))
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
        let client = self.service.client(args.instance.as_deref())?;
        let model = args.model.trim();
        self.service.check_model(model)?;
        let body = require_text("body", &args.body, "the text of the note")?;
        if args.record_id <= 0 {
            return Err(ToolError::invalid("record_id", "a positive record id"));
        }
        let call = Call::write(model, "message_post")
            .on(vec![args.record_id])
            .kwarg("body", body)
            .kwarg("message_type", "comment")
            .kwarg("subtype_xmlid", "mail.mt_note");
        let answer = self.service.call(client, &call).await?;
        let message_id = match &answer {
            Value::Number(id) => id.as_i64(),
            Value::Array(ids) => ids.first().and_then(Value::as_i64),
            _ => None,
        };
        Ok(Json(NoteLogged {
            model: model.to_owned(),
            record_id: args.record_id,
            message_id,
        }))
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
        let client = self.service.client(args.instance.as_deref())?;
        let model = args.model.trim();
        self.service.check_model(model)?;
        self.service.check_model("mail.activity")?;
        let summary = require_text("summary", &args.summary, "a short summary of the activity")?;
        let deadline = args.deadline.trim().to_owned();
        if !is_iso_date(&deadline) {
            return Err(ToolError::invalid(
                "deadline",
                format!("a date as YYYY-MM-DD, e.g. 2026-03-31 (got '{deadline}')"),
            ));
        }
        if args.record_id <= 0 {
            return Err(ToolError::invalid("record_id", "a positive record id"));
        }
        // Say plainly that the record is missing rather than leave Odoo to fail deep in mail.activity.
        if self
            .service
            .labels(client, model, &[args.record_id])
            .await?
            .is_empty()
        {
            return Err(ToolError::not_found(
                format!("{model} {}", args.record_id),
                "check the record id (search_records finds records)",
            ));
        }
        let call = Call::read("ir.model", "search_read")
            .arg("domain", json!([["model", "=", model]]))
            .kwarg("fields", json!(["model"]))
            .kwarg("limit", 1);
        let model_id = self
            .service
            .call(client, &call)
            .await?
            .get(0)
            .and_then(|row| row.get("id"))
            .and_then(Value::as_i64)
            .ok_or_else(|| {
                ToolError::Other(format!("Odoo has no model '{model}' — call list_models"))
            })?;
        let call = Call::read("mail.activity.type", "search_read")
            .arg("domain", json!([]))
            .kwarg("fields", json!(["name"]));
        let types = self.service.call(client, &call).await?;
        let wanted = normalized(args.activity.type_name());
        let activity_type = types
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|row| {
                Some(Ref {
                    id: row.get("id")?.as_i64()?,
                    name: row.get("name")?.as_str()?.to_owned(),
                })
            })
            .find(|t| normalized(&t.name) == wanted)
            .ok_or_else(|| {
                ToolError::not_found(
                    format!("activity type '{}'", args.activity.type_name()),
                    "the activity types of this database differ from Odoo's defaults",
                )
            })?;
        let assignee = match &args.assignee {
            Some(user) => Some(
                self.service
                    .resolve(client, "res.users", "user", "assignee", user)
                    .await?,
            ),
            None => None,
        };
        let mut values = Map::new();
        values.insert("res_model_id".into(), Value::from(model_id));
        values.insert("res_id".into(), Value::from(args.record_id));
        values.insert("activity_type_id".into(), Value::from(activity_type.id));
        values.insert("summary".into(), Value::from(summary.clone()));
        values.insert("date_deadline".into(), Value::from(deadline.clone()));
        if let Some(note) = args
            .note
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            values.insert("note".into(), Value::from(note));
        }
        if let Some(user) = &assignee {
            values.insert("user_id".into(), Value::from(user.id));
        }
        let created = self.service.create(client, "mail.activity", values).await?;
        Ok(Json(ActivityScheduled {
            activity_id: created.id,
            model: model.to_owned(),
            record_id: args.record_id,
            activity_type,
            summary,
            deadline,
            assignee,
        }))
    }
}

#[prompt_router]
impl Odoo {
    /// Brief an agent on a customer before working with them: their contact details, their CRM leads and the latest messages about them.
    #[prompt(name = "customer_summary")]
    async fn customer_summary(
        &self,
        Parameters(args): Parameters<CustomerSummaryArgs>,
    ) -> Result<GetPromptResult, McpError> {
        let internal = |e: ToolError| McpError::internal_error(e.message(), None);
        let nombre = args.nombre.trim().to_owned();
        if nombre.is_empty() {
            return Err(McpError::invalid_params(
                "give the customer's name in `nombre`",
                None,
            ));
        }
        let service = &self.service;
        let client = service.client(None).map_err(internal)?;
        let found = self
            .obtener_cliente(Parameters(ObtenerClienteArgs {
                nombre: nombre.clone(),
                instance: None,
            }))
            .await
            .map_err(internal)?
            .0;
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
            match self
                .list_leads(Parameters(ListLeadsArgs {
                    stage: None,
                    salesperson: None,
                    partner: Some(NameOrId::Id(partner.id)),
                    min_expected_revenue: None,
                    max_expected_revenue: None,
                    lead_type: None,
                    limit: Some(20),
                    offset: None,
                    instance: None,
                }))
                .await
            {
                Ok(Json(page)) => {
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
                        if lines.is_empty() {
                            "(none)".to_owned()
                        } else {
                            lines.join("\n")
                        }
                    ));
                }
                Err(error) => {
                    sections.push(format!("CRM leads: unavailable ({})", error.message()))
                }
            }
        }
        if service.check_model("mail.message").is_ok() {
            let domain = json!([
                "|",
                "&",
                ["model", "=", "res.partner"],
                ["res_id", "=", partner.id],
                "&",
                ["model", "=", "crm.lead"],
                ["res_id", "in", lead_ids]
            ]);
            let call = Call::read("mail.message", "search_read")
                .arg("domain", domain)
                .kwarg(
                    "fields",
                    json!([
                        "date",
                        "body",
                        "author_id",
                        "message_type",
                        "model",
                        "res_id"
                    ]),
                )
                .kwarg("limit", 10)
                .kwarg("order", "date desc, id desc");
            match service.call(client, &call).await {
                Ok(Value::Array(messages)) => {
                    let lines: Vec<String> = messages
                        .iter()
                        .map(|m| {
                            let author = Ref::from_pair(m.get("author_id").unwrap_or(&Value::Null))
                                .map_or_else(|| "someone".to_owned(), |a| a.name);
                            let date = m
                                .get("date")
                                .and_then(Value::as_str)
                                .map(crate::shape::iso_datetime)
                                .unwrap_or_default();
                            let body = plain_text(
                                m.get("body").and_then(Value::as_str).unwrap_or_default(),
                            );
                            format!("- {date} {author}: {}", short(&body, 300))
                        })
                        .collect();
                    sections.push(format!(
                        "Latest messages:\n{}",
                        if lines.is_empty() {
                            "(none)".to_owned()
                        } else {
                            lines.join("\n")
                        }
                    ));
                }
                Ok(_) => {}
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

const INSTRUCTIONS: &str = "Odoo ERP. obtener_cliente looks customers up by name; list_leads, create_lead, move_lead_stage, log_note and schedule_activity work the CRM pipeline; search_records, read_records, count_records and aggregate_records read any model (list_models and describe_model show models and fields; domains use Odoo's prefix notation). Records come shaped: many2one as {id, name}, datetimes in UTC ISO 8601, credentials never included. Resources: odoo://models and odoo://{model}/{id}; the customer_summary prompt briefs on a customer.";

const MODELS_URI: &str = "odoo://models";

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
        let found = self
            .obtener_cliente(Parameters(ObtenerClienteArgs {
                nombre: typed,
                instance: None,
            }))
            .await
            .map_err(|e| McpError::internal_error(e.message(), None))?
            .0;
        let names = found.partners.into_iter().map(|p| p.name).collect();
        let has_more = found.total > found.count as u64;
        let info =
            CompletionInfo::with_pagination(names, u32::try_from(found.total).ok(), has_more)
                .map_err(|e| McpError::internal_error(e, None))?;
        Ok(CompleteResult::new(info))
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        Ok(ListResourcesResult::with_all_items(vec![
            Resource::new(MODELS_URI, "models")
                .with_description("The Odoo models this server may use, as JSON")
                .with_mime_type("application/json"),
        ]))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            ResourceTemplate::new("odoo://{model}/{id}", "record")
                .with_description("One Odoo record with its default fields, shaped as in search_records, e.g. odoo://res.partner/7")
                .with_mime_type("application/json"),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let uri = request.uri.clone();
        let client = self
            .service
            .client(None)
            .map_err(|e| e.into_resource_error(&uri))?;
        let value = if uri == MODELS_URI {
            let list = self
                .service
                .list_models(client, None)
                .await
                .map_err(|e| e.into_resource_error(&uri))?;
            serde_json::to_value(list).unwrap_or_default()
        } else {
            let parsed = uri
                .strip_prefix("odoo://")
                .and_then(|rest| rest.rsplit_once('/'))
                .and_then(|(model, id)| Some((model.to_owned(), id.parse::<i64>().ok()?)));
            let Some((model, id)) = parsed else {
                return Err(resource_not_found(
                    &uri,
                    format!(
                        "unknown resource {uri}; use odoo://models or odoo://{{model}}/{{id}}, e.g. odoo://res.partner/7"
                    ),
                ));
            };
            let record = self
                .service
                .record(client, &model, id)
                .await
                .map_err(|e| e.into_resource_error(&uri))?;
            Value::Object(record)
        };
        let text = serde_json::to_string_pretty(&value)
            .map_err(|e| McpError::internal_error(e.to_string(), Some(json!({ "uri": uri }))))?;
        Ok(ReadResourceResult::new(vec![
            ResourceContents::text(text, &uri).with_mime_type("application/json"),
        ])
        .into())
    }
}

impl Odoo {
    /// What a write would change, for the consent request; `None` when it cannot be told.
    async fn preview(&self, tool: &str, arguments: &JsonObject) -> Option<String> {
        let arguments = Value::Object(arguments.clone());
        let instance = arguments.get("instance").and_then(Value::as_str);
        let client = self.service.client(instance).ok()?;
        let model = arguments
            .get("model")
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or_default();
        let ids: Vec<i64> = arguments
            .get("ids")
            .and_then(Value::as_array)
            .map(|ids| ids.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default();
        let service = &self.service;
        match tool {
            "update_record" => {
                let values: Vec<FieldValueArg> =
                    serde_json::from_value(arguments.get("values")?.clone()).ok()?;
                let fields: Vec<String> = values.iter().map(|v| v.field.clone()).collect();
                service.check_model(model).ok()?;
                let current = service
                    .current_values(client, model, &ids, &fields)
                    .await
                    .ok()?;
                let mut lines = Vec::new();
                for id in ids.iter().take(10) {
                    let Some(record) = current.get(id) else {
                        lines.push(format!("{model} {id}: does not exist"));
                        continue;
                    };
                    let changes: Vec<String> = values
                        .iter()
                        .map(|v| {
                            let old = record.get(&v.field).map_or_else(|| "?".to_owned(), shown);
                            format!("{} {old} -> {}", v.field, shown(&v.value))
                        })
                        .collect();
                    lines.push(format!(
                        "{model} {id} ({}): {}",
                        record_label(record),
                        changes.join("; ")
                    ));
                }
                if ids.len() > 10 {
                    lines.push(format!("… and {} more records", ids.len() - 10));
                }
                Some(lines.join("\n"))
            }
            "delete_record" => {
                service.check_model(model).ok()?;
                let labels = service.labels(client, model, &ids).await.ok()?;
                let mut lines: Vec<String> = labels
                    .iter()
                    .take(20)
                    .map(|(id, name)| format!("delete {model} {id} ({name})"))
                    .collect();
                let missing: Vec<String> = ids
                    .iter()
                    .filter(|id| !labels.iter().any(|(found, _)| found == *id))
                    .map(i64::to_string)
                    .collect();
                if labels.len() > 20 {
                    lines.push(format!("… and {} more records", labels.len() - 20));
                }
                if !missing.is_empty() {
                    lines.push(format!("{model} {} do not exist", missing.join(", ")));
                }
                Some(lines.join("\n"))
            }
            "move_lead_stage" => {
                service.check_model("crm.lead").ok()?;
                let lead_id = arguments.get("lead_id").and_then(Value::as_i64)?;
                let stage: NameOrId =
                    serde_json::from_value(arguments.get("stage")?.clone()).ok()?;
                let lead = self.read_lead(client, lead_id).await.ok()?;
                let to = match service.resolve_stage(client, &stage).await {
                    Ok(stage) => stage.name,
                    Err(error) => {
                        return Some(format!("this move would fail: {}", error.message()));
                    }
                };
                let from = lead.stage.map_or_else(|| "(none)".to_owned(), |s| s.name);
                Some(format!(
                    "crm.lead {lead_id} ({}): stage {from} -> {to}",
                    lead.name
                ))
            }
            "call_method" => {
                let method = arguments.get("method").and_then(Value::as_str)?.trim();
                if let Err(refusal) = service.check_method(model, method) {
                    return Some(format!("this call would be refused: {}", refusal.message()));
                }
                let target = if ids.is_empty() {
                    format!("the model {model}")
                } else {
                    let labels = service.labels(client, model, &ids).await.ok()?;
                    let named: Vec<String> = labels
                        .iter()
                        .take(10)
                        .map(|(id, name)| format!("{id} ({name})"))
                        .collect();
                    format!("{model} {}", named.join(", "))
                };
                let mut line = format!("run {model}.{method} on {target}");
                for key in ["args", "kwargs"] {
                    if let Some(value) = arguments.get(key).filter(|v| !v.is_null()) {
                        line.push_str(&format!(" with {key} {}", short(&value.to_string(), 200)));
                    }
                }
                Some(line)
            }
            "create_record" => {
                let values: Vec<FieldValueArg> =
                    serde_json::from_value(arguments.get("values")?.clone()).ok()?;
                let listed: Vec<String> = values
                    .iter()
                    .map(|v| format!("{} = {}", v.field, shown(&v.value)))
                    .collect();
                Some(format!("create a {model} record: {}", listed.join("; ")))
            }
            "create_lead" => {
                let listed: Vec<String> = arguments
                    .as_object()?
                    .iter()
                    .filter(|(key, value)| key.as_str() != "instance" && !value.is_null())
                    .map(|(key, value)| format!("{key} = {}", shown(value)))
                    .collect();
                Some(format!("create a crm.lead: {}", listed.join("; ")))
            }
            "log_note" => {
                // Never show data of a model the policy refuses, not even in a consent request.
                service.check_model(model).ok()?;
                let record_id = arguments.get("record_id").and_then(Value::as_i64)?;
                let body = arguments
                    .get("body")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let name = service
                    .labels(client, model, &[record_id])
                    .await
                    .ok()
                    .and_then(|l| l.into_iter().next())
                    .map_or_else(|| "not found".to_owned(), |(_, name)| name);
                Some(format!(
                    "post an internal note on {model} {record_id} ({name}): {}",
                    short(body, 200)
                ))
            }
            "schedule_activity" => {
                let record_id = arguments.get("record_id").and_then(Value::as_i64)?;
                let activity = arguments
                    .get("activity")
                    .and_then(Value::as_str)
                    .unwrap_or("activity");
                let summary = arguments
                    .get("summary")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let deadline = arguments
                    .get("deadline")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                Some(format!(
                    "schedule a {activity} on {model} {record_id} due {deadline}: {}",
                    short(summary, 200)
                ))
            }
            _ => None,
        }
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
        // Every write tool reads its own arguments in `preview`.
        const WRITES: [&str; 8] = [
            "update_record",
            "delete_record",
            "move_lead_stage",
            "call_method",
            "create_record",
            "create_lead",
            "log_note",
            "schedule_activity",
        ];
        WRITES.into_iter().fold(Previews::new(), |previews, tool| {
            previews.on(tool, move |odoo: Self, arguments: JsonObject| async move {
                odoo.preview(tool, &arguments).await
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_values_read_like_odoo_shows_them() {
        // (shaped value, as shown in a consent request)
        let cases = [
            (json!(null), "(empty)"),
            (json!(false), "(empty)"),
            (json!("a@x.com"), "\"a@x.com\""),
            (json!(42), "42"),
            (json!({"id": 2, "name": "Qualified"}), "Qualified (id 2)"),
            (json!({"ids": [1, 2], "count": 2}), "2 record(s)"),
        ];
        for (value, text) in cases {
            assert_eq!(shown(&value), text, "{value}");
        }
        assert_eq!(short(&"x".repeat(90), 80).chars().count(), 81);
    }

    #[test]
    fn activity_kinds_match_odoo_type_names() {
        // (kind, a type name as a database may spell it)
        let cases = [
            (ActivityKind::Todo, "To-Do"),
            (ActivityKind::Todo, "To Do"),
            (ActivityKind::Call, "Call"),
            (ActivityKind::Email, "E-mail"),
            (ActivityKind::Meeting, "meeting"),
        ];
        for (kind, name) in cases {
            assert_eq!(normalized(kind.type_name()), normalized(name), "{name}");
        }
    }

    #[test]
    fn leads_are_read_from_shaped_records() {
        let Value::Object(record) = json!({
            "id": 7, "name": "Chairs", "type": "opportunity",
            "stage_id": {"id": 2, "name": "Qualified"}, "partner_id": null,
            "user_id": {"id": 2, "name": "Mitchell Admin"}, "expected_revenue": 5000.0,
            "probability": 30.0, "email_from": "", "create_date": "2026-01-05T09:00:00Z"
        }) else {
            unreachable!()
        };
        let lead = lead_of(&record);
        assert_eq!(lead.id, 7);
        assert_eq!(
            lead.stage,
            Some(Ref {
                id: 2,
                name: "Qualified".into()
            })
        );
        assert_eq!(lead.partner, None);
        assert_eq!(lead.email, None, "empty text reads as absent");
        assert_eq!(lead.created.as_deref(), Some("2026-01-05T09:00:00Z"));
    }

    #[test]
    fn every_tool_is_annotated_documented_and_takes_an_instance() {
        let server = Odoo {
            service: Arc::new(Service::new(
                crate::OdooConfig::from_env(&mcp_common::Env::from_pairs([
                    ("ODOO_URL", "http://127.0.0.1:9"),
                    ("ODOO_DB", "test"),
                    ("ODOO_USER", "admin"),
                    ("ODOO_PASSWORD", "admin"),
                ]))
                .unwrap(),
                reqwest::Client::new(),
            )),
            tools: Arc::new(Odoo::tool_router()),
            prompts: Arc::new(Odoo::prompt_router()),
        };
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
