//! Customers and the CRM pipeline in Odoo terms: the customer lookup, leads (the fields read, the
//! rules for creating one, the filters of a list), pipeline stages, chatter notes and activities.
//! The tools in [`crate::tools`] translate their arguments into these calls and return the
//! results as they are.

use mcp_common::ToolError;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::client::{Call, OdooClient};
use crate::domain::like_literal;
use crate::ops::{NameOrId, Ref, SearchQuery, Service, record_label, records_of};
use crate::shape::{is_iso_date, iso_datetime, plain_text};

/// Partners listed by a customer lookup at most.
pub const CUSTOMER_CAP: u32 = 20;

/// Lead or opportunity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LeadType {
    /// A lead, not yet qualified
    Lead,
    /// An opportunity in the pipeline
    Opportunity,
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

/// A lead to create; `None` leaves a field to Odoo's default.
#[derive(Debug, Clone)]
pub struct NewLead {
    /// Title, required.
    pub name: String,
    /// The customer (res.partner id).
    pub partner_id: Option<i64>,
    /// Company name of a prospect who is not a contact yet.
    pub partner_name: Option<String>,
    /// Contact email.
    pub email: Option<String>,
    /// Contact phone.
    pub phone: Option<String>,
    /// Expected revenue.
    pub expected_revenue: Option<f64>,
    /// Probability of winning, 0 to 100.
    pub probability: Option<f64>,
    /// Internal notes.
    pub description: Option<String>,
    /// Salesperson (res.users id).
    pub salesperson_id: Option<i64>,
    /// Lead or opportunity.
    pub lead_type: Option<LeadType>,
}

/// Which leads to list, and which page; every filter given must match.
#[derive(Debug, Clone)]
pub struct LeadFilter {
    /// Stage by name (substring, ignoring case) or id.
    pub stage: Option<NameOrId>,
    /// Salesperson by name (substring, ignoring case) or user id.
    pub salesperson: Option<NameOrId>,
    /// Customer by name (substring, ignoring case) or partner id, its contacts included.
    pub partner: Option<NameOrId>,
    /// Least expected revenue.
    pub min_expected_revenue: Option<f64>,
    /// Most expected revenue.
    pub max_expected_revenue: Option<f64>,
    /// Only leads or only opportunities.
    pub lead_type: Option<LeadType>,
    /// Page size (the policy's default when `None`).
    pub limit: Option<u32>,
    /// Leads to skip.
    pub offset: Option<u64>,
}

/// An activity to schedule on a record.
#[derive(Debug, Clone)]
pub struct NewActivity {
    /// The record's model.
    pub model: String,
    /// The record's id.
    pub record_id: i64,
    /// What to do.
    pub activity: ActivityKind,
    /// Short summary, required.
    pub summary: String,
    /// Longer note.
    pub note: Option<String>,
    /// Due date, YYYY-MM-DD.
    pub deadline: String,
    /// Who does it (default: the connected user).
    pub assignee: Option<NameOrId>,
}

/// A message of a record's chatter, as a briefing shows it.
#[derive(Debug, Clone)]
pub struct Message {
    /// When it was posted (UTC, ISO 8601), or empty.
    pub date: String,
    /// Its author's name ("someone" when unknown).
    pub author: String,
    /// Its body as plain text.
    pub body: String,
}

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

impl LeadType {
    /// The value Odoo stores, `lead` or `opportunity`.
    pub fn as_str(self) -> &'static str {
        match self {
            LeadType::Lead => "lead",
            LeadType::Opportunity => "opportunity",
        }
    }
}

impl ActivityKind {
    /// The name the caller gives, e.g. `todo`.
    pub fn as_str(self) -> &'static str {
        match self {
            ActivityKind::Call => "call",
            ActivityKind::Meeting => "meeting",
            ActivityKind::Todo => "todo",
            ActivityKind::Email => "email",
        }
    }

    /// The name of Odoo's default activity type, e.g. `To-Do`.
    pub fn type_name(self) -> &'static str {
        match self {
            ActivityKind::Call => "Call",
            ActivityKind::Meeting => "Meeting",
            ActivityKind::Todo => "To-Do",
            ActivityKind::Email => "Email",
        }
    }
}

/// Trimmed text, or an invalid-argument error naming `field` and what was `expected`.
pub fn require_text(field: &str, value: &str, expected: &str) -> Result<String, ToolError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ToolError::invalid(field, expected));
    }
    Ok(value.to_owned())
}

fn text(record: &Map<String, Value>, field: &str) -> Option<String> {
    record
        .get(field)
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// A lead from a shaped crm.lead record.
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

/// A customer from a res.partner row of `search_read`.
fn cliente_of(row: &Map<String, Value>) -> Cliente {
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
        country: Ref::from_pair(row.get("country_id").unwrap_or(&Value::Null)).map(|c| c.name),
        name,
    }
}

/// A name reduced to lowercase letters and digits, so "To-Do" and "To Do" compare equal.
fn normalized(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A domain term matching `field` by id, or by a name substring ignoring case.
fn by_name_or_id(field: &str, value: &NameOrId) -> Value {
    match value.as_id() {
        Some(id) => json!([field, "=", id]),
        None => {
            let name = match value {
                NameOrId::Name(name) => name.trim(),
                NameOrId::Id(_) => "",
            };
            json!([format!("{field}.name"), "ilike", like_literal(name)])
        }
    }
}

impl LeadFilter {
    /// The filter as an Odoo domain.
    fn domain(&self) -> Value {
        let mut domain = Vec::new();
        if let Some(stage) = &self.stage {
            domain.push(by_name_or_id("stage_id", stage));
        }
        if let Some(user) = &self.salesperson {
            domain.push(by_name_or_id("user_id", user));
        }
        if let Some(partner) = &self.partner {
            match partner.as_id() {
                // The company and its contacts (Odoo's partner hierarchy is company -> contacts;
                // `child_of` would say the same but not every server evaluates it).
                Some(id) => domain.extend([
                    json!("|"),
                    json!(["partner_id", "=", id]),
                    json!(["partner_id.parent_id", "=", id]),
                ]),
                None => domain.push(by_name_or_id("partner_id", partner)),
            }
        }
        if let Some(min) = self.min_expected_revenue {
            domain.push(json!(["expected_revenue", ">=", min]));
        }
        if let Some(max) = self.max_expected_revenue {
            domain.push(json!(["expected_revenue", "<=", max]));
        }
        if let Some(kind) = self.lead_type {
            domain.push(json!(["type", "=", kind.as_str()]));
        }
        Value::Array(domain)
    }
}

impl Service {
    /// Customers whose name contains `nombre` (already trimmed and not empty), ignoring case: at
    /// most [`CUSTOMER_CAP`], by name, with the total and a message when none or not all are
    /// listed.
    pub async fn find_customers(
        &self,
        client: &OdooClient,
        nombre: &str,
    ) -> Result<ClienteLookup, ToolError> {
        self.check_model("res.partner")?;
        // Literal, so that a name such as "%" or "_" is not a wildcard matching every partner.
        let domain = json!([["name", "ilike", like_literal(nombre)]]);
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
        .filter(|f| !self.is_sensitive(f))
        .collect();
        let call = Call::read("res.partner", "search_read")
            .arg("domain", domain.clone())
            .kwarg("fields", json!(fields))
            .kwarg("limit", CUSTOMER_CAP)
            .kwarg("order", "name");
        let answer = self.call(client, &call).await?;
        // Rows that are not objects are skipped rather than failing the lookup.
        let partners: Vec<Cliente> = match answer {
            Value::Array(rows) => rows
                .iter()
                .filter_map(Value::as_object)
                .map(cliente_of)
                .collect(),
            _ => Vec::new(),
        };
        let total = if partners.len() < CUSTOMER_CAP as usize {
            partners.len() as u64
        } else {
            self.count(client, "res.partner", Some(&domain))
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
        Ok(ClienteLookup {
            count: partners.len(),
            total,
            partners,
            message,
        })
    }

    /// The lead fields this database has (custom installs may lack some).
    async fn lead_fields(&self, client: &OdooClient) -> Result<Vec<String>, ToolError> {
        let meta = self.fields(client, "crm.lead").await?;
        Ok(LEAD_FIELDS
            .iter()
            .filter(|f| meta.get(f).is_some())
            .map(|f| (*f).to_owned())
            .collect())
    }

    /// One lead by id, or a not-found error pointing to `list_leads`.
    pub async fn read_lead(&self, client: &OdooClient, id: i64) -> Result<Lead, ToolError> {
        let fields = self.lead_fields(client).await?;
        let list = self.read(client, "crm.lead", &[id], Some(&fields)).await?;
        list.records.first().map(lead_of).ok_or_else(|| {
            ToolError::not_found(format!("crm.lead {id}"), "call list_leads to find lead ids")
        })
    }

    /// Creates a lead (its title must not be empty) and reads it back.
    pub async fn create_lead(&self, client: &OdooClient, lead: NewLead) -> Result<Lead, ToolError> {
        let name = require_text("name", &lead.name, "a title for the lead")?;
        let mut values: Vec<(String, Value)> = vec![("name".into(), Value::String(name))];
        let optional: [(&str, Option<Value>); 9] = [
            ("partner_id", lead.partner_id.map(Value::from)),
            ("partner_name", lead.partner_name.map(Value::from)),
            ("email_from", lead.email.map(Value::from)),
            ("phone", lead.phone.map(Value::from)),
            ("expected_revenue", lead.expected_revenue.map(Value::from)),
            ("probability", lead.probability.map(Value::from)),
            ("description", lead.description.map(Value::from)),
            ("user_id", lead.salesperson_id.map(Value::from)),
            ("type", lead.lead_type.map(|t| Value::from(t.as_str()))),
        ];
        values.extend(
            optional
                .into_iter()
                .filter_map(|(field, value)| Some((field.to_owned(), value?))),
        );
        let values = self.values(client, "crm.lead", &values).await?;
        let created = self.create(client, "crm.lead", values).await?;
        self.read_lead(client, created.id).await
    }

    /// One page of leads matching `filter`, newest first.
    pub async fn list_leads(
        &self,
        client: &OdooClient,
        filter: &LeadFilter,
    ) -> Result<LeadPage, ToolError> {
        self.check_model("crm.lead")?;
        let domain = filter.domain();
        let fields = self.lead_fields(client).await?;
        let query = SearchQuery {
            model: "crm.lead",
            domain: Some(&domain),
            fields: Some(&fields),
            limit: filter.limit,
            offset: filter.offset,
            order: Some("create_date desc, id desc"),
        };
        let page = self.search(client, &query).await?;
        let leads: Vec<Lead> = page.records.iter().map(lead_of).collect();
        Ok(LeadPage {
            count: leads.len(),
            leads,
            total: page.total,
            next_offset: page.next_offset,
        })
    }

    /// The stages of the CRM pipeline, in order.
    pub async fn stages(&self, client: &OdooClient) -> Result<Vec<Ref>, ToolError> {
        let call = Call::read("crm.stage", "search_read")
            .arg("domain", json!([]))
            .kwarg("fields", json!(["name"]))
            .kwarg("order", "sequence, id");
        let rows = records_of(&call, self.call(client, &call).await?)?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                Some(Ref {
                    id: row.get("id")?.as_i64()?,
                    name: record_label(row),
                })
            })
            .collect())
    }

    /// A CRM stage by id or name; an unknown one lists the valid stages.
    pub async fn resolve_stage(
        &self,
        client: &OdooClient,
        stage: &NameOrId,
    ) -> Result<Ref, ToolError> {
        let stages = self.stages(client).await?;
        let found = match stage.as_id() {
            Some(id) => stages.iter().find(|s| s.id == id),
            None => {
                let wanted = match stage {
                    NameOrId::Name(name) => name.trim(),
                    NameOrId::Id(_) => "",
                };
                stages.iter().find(|s| s.name.eq_ignore_ascii_case(wanted))
            }
        };
        found.cloned().ok_or_else(|| {
            let listed: Vec<String> = stages
                .iter()
                .map(|s| format!("{} (id {})", s.name, s.id))
                .collect();
            let asked = match stage {
                NameOrId::Id(id) => id.to_string(),
                NameOrId::Name(name) => name.clone(),
            };
            ToolError::not_found(
                format!("stage '{asked}'"),
                format!("the stages are: {}", listed.join(", ")),
            )
        })
    }

    /// Moves a lead to a stage, saying where it was before.
    pub async fn move_lead_stage(
        &self,
        client: &OdooClient,
        lead_id: i64,
        stage: &NameOrId,
    ) -> Result<StageMove, ToolError> {
        self.check_model("crm.lead")?;
        let stage = self.resolve_stage(client, stage).await?;
        let before = self.read_lead(client, lead_id).await?;
        let call = Call::write("crm.lead", "write")
            .on(vec![lead_id])
            .arg("vals", json!({"stage_id": stage.id}));
        self.call(client, &call).await?;
        Ok(StageMove {
            lead: Ref {
                id: before.id,
                name: before.name,
            },
            from_stage: before.stage,
            to_stage: stage,
        })
    }

    /// Posts an internal note (not sent to followers) on a record's chatter.
    pub async fn log_note(
        &self,
        client: &OdooClient,
        model: &str,
        record_id: i64,
        body: &str,
    ) -> Result<NoteLogged, ToolError> {
        self.check_model(model)?;
        let body = require_text("body", body, "the text of the note")?;
        if record_id <= 0 {
            return Err(ToolError::invalid("record_id", "a positive record id"));
        }
        let call = Call::write(model, "message_post")
            .on(vec![record_id])
            .kwarg("body", body)
            .kwarg("message_type", "comment")
            .kwarg("subtype_xmlid", "mail.mt_note");
        let answer = self.call(client, &call).await?;
        let message_id = match &answer {
            Value::Number(id) => id.as_i64(),
            Value::Array(ids) => ids.first().and_then(Value::as_i64),
            _ => None,
        };
        Ok(NoteLogged {
            model: model.to_owned(),
            record_id,
            message_id,
        })
    }

    /// Schedules an activity on an existing record, with the activity type of this database
    /// that matches the kind and the assignee resolved by name or id.
    pub async fn schedule_activity(
        &self,
        client: &OdooClient,
        activity: NewActivity,
    ) -> Result<ActivityScheduled, ToolError> {
        let model = activity.model.as_str();
        let record_id = activity.record_id;
        self.check_model(model)?;
        self.check_model("mail.activity")?;
        let summary = require_text(
            "summary",
            &activity.summary,
            "a short summary of the activity",
        )?;
        let deadline = activity.deadline.trim().to_owned();
        if !is_iso_date(&deadline) {
            return Err(ToolError::invalid(
                "deadline",
                format!("a date as YYYY-MM-DD, e.g. 2026-03-31 (got '{deadline}')"),
            ));
        }
        if record_id <= 0 {
            return Err(ToolError::invalid("record_id", "a positive record id"));
        }
        // Say plainly that the record is missing rather than leave Odoo to fail deep in mail.activity.
        if self.labels(client, model, &[record_id]).await?.is_empty() {
            return Err(ToolError::not_found(
                format!("{model} {record_id}"),
                "check the record id (search_records finds records)",
            ));
        }
        let call = Call::read("ir.model", "search_read")
            .arg("domain", json!([["model", "=", model]]))
            .kwarg("fields", json!(["model"]))
            .kwarg("limit", 1);
        let model_id = self
            .call(client, &call)
            .await?
            .get(0)
            .and_then(|row| row.get("id"))
            .and_then(Value::as_i64)
            .ok_or_else(|| {
                ToolError::Other(format!("Odoo has no model '{model}' — call list_models"))
            })?;
        let activity_type = self.activity_type(client, activity.activity).await?;
        let assignee = match &activity.assignee {
            Some(user) => Some(
                self.resolve(client, "res.users", "user", "assignee", user)
                    .await?,
            ),
            None => None,
        };
        let mut values = Map::new();
        values.insert("res_model_id".into(), Value::from(model_id));
        values.insert("res_id".into(), Value::from(record_id));
        values.insert("activity_type_id".into(), Value::from(activity_type.id));
        values.insert("summary".into(), Value::from(summary.clone()));
        values.insert("date_deadline".into(), Value::from(deadline.clone()));
        if let Some(note) = activity
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
        let created = self.create(client, "mail.activity", values).await?;
        Ok(ActivityScheduled {
            activity_id: created.id,
            model: model.to_owned(),
            record_id,
            activity_type,
            summary,
            deadline,
            assignee,
        })
    }

    /// The activity type of this database for `kind`, matched loosely ("To Do" is "To-Do").
    async fn activity_type(
        &self,
        client: &OdooClient,
        kind: ActivityKind,
    ) -> Result<Ref, ToolError> {
        let call = Call::read("mail.activity.type", "search_read")
            .arg("domain", json!([]))
            .kwarg("fields", json!(["name"]));
        let types = self.call(client, &call).await?;
        let wanted = normalized(kind.type_name());
        types
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
                    format!("activity type '{}'", kind.type_name()),
                    "the activity types of this database differ from Odoo's defaults",
                )
            })
    }

    /// The ten latest messages about a partner and its leads, newest first; `None` when Odoo's
    /// answer is not a list, which leaves nothing to tell.
    pub async fn recent_messages(
        &self,
        client: &OdooClient,
        partner_id: i64,
        lead_ids: &[i64],
    ) -> Result<Option<Vec<Message>>, ToolError> {
        let domain = json!([
            "|",
            "&",
            ["model", "=", "res.partner"],
            ["res_id", "=", partner_id],
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
        let Value::Array(messages) = self.call(client, &call).await? else {
            return Ok(None);
        };
        Ok(Some(
            messages
                .iter()
                .map(|m| Message {
                    date: m
                        .get("date")
                        .and_then(Value::as_str)
                        .map(iso_datetime)
                        .unwrap_or_default(),
                    author: Ref::from_pair(m.get("author_id").unwrap_or(&Value::Null))
                        .map_or_else(|| "someone".to_owned(), |a| a.name),
                    body: plain_text(m.get("body").and_then(Value::as_str).unwrap_or_default()),
                })
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn activity_kinds_are_named_as_the_caller_gives_them() {
        for kind in [
            ActivityKind::Call,
            ActivityKind::Meeting,
            ActivityKind::Todo,
            ActivityKind::Email,
        ] {
            assert_eq!(serde_json::to_value(kind).unwrap(), json!(kind.as_str()));
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
}
