//! What the tools do, in Odoo terms: the operator's policy applied to every model and field, the
//! field metadata cache, shaped searches and reads, writes, and name-or-id resolution; [`crm`]
//! holds the customer and CRM operations. The rmcp handler in [`crate::tools`] only translates
//! arguments and results.

pub mod crm;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mcp_common::ToolError;
use mcp_common::team::{ClientCache, CredentialField, caller_credentials};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::client::{Call, OdooClient, OdooError, is_model_name};
use crate::config::{OdooConfig, Policy};
use crate::domain::{like_literal, validate, validate_order};
use crate::shape::{
    FieldSelection, ModelFields, X2MANY_CAP, many2one, scrub_sensitive, select_fields,
    shape_record, shape_value, to_odoo_value,
};

/// How long a model's field list is reused before `fields_get` is called again.
const FIELDS_CACHE_TTL: Duration = Duration::from_secs(300);

/// Most ids one call may name.
const MAX_IDS: usize = 500;

/// Aggregate functions `aggregate_records` accepts.
pub const AGGREGATES: [&str; 6] = ["sum", "avg", "min", "max", "count", "count_distinct"];

/// Date granularities `aggregate_records` accepts in `group_by` (`date:month`).
pub const GRANULARITIES: [&str; 5] = ["day", "week", "month", "quarter", "year"];

/// A record given by id, or looked up by name.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum NameOrId {
    /// The record's id.
    Id(i64),
    /// The record's name (matched ignoring case).
    Name(String),
}

impl NameOrId {
    /// The id, also when given as a string of digits.
    pub fn as_id(&self) -> Option<i64> {
        match self {
            NameOrId::Id(id) => Some(*id),
            NameOrId::Name(name) => name.trim().parse().ok(),
        }
    }
}

/// A many2one value: the record's id and display name.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Ref {
    /// The record's id
    pub id: i64,
    /// Its display name
    pub name: String,
}

impl Ref {
    /// From Odoo's `[id, "Name"]` pair.
    pub fn from_pair(value: &Value) -> Option<Ref> {
        let shaped = many2one(value);
        Some(Ref {
            id: shaped.get("id")?.as_i64()?,
            name: shaped
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        })
    }
}

/// One page of a search: which records, which fields, which page and in which order.
#[derive(Debug, Clone, Copy)]
pub struct SearchQuery<'a> {
    /// The model to search.
    pub model: &'a str,
    /// An Odoo domain, validated before it is sent; `None` matches every record.
    pub domain: Option<&'a Value>,
    /// The fields to return; `None` picks a small useful set.
    pub fields: Option<&'a [String]>,
    /// Records per page; `None` is the policy's default, and the policy's maximum caps it.
    pub limit: Option<u32>,
    /// Records to skip.
    pub offset: Option<u64>,
    /// Sort order such as "name, id desc", validated before it is sent.
    pub order: Option<&'a str>,
}

/// A method to run on a model or on some of its records.
#[derive(Debug, Clone)]
pub struct MethodCall<'a> {
    /// The model.
    pub model: &'a str,
    /// The public method, which the policy must allow.
    pub method: &'a str,
    /// The records to run it on; `None` for a model-level method.
    pub ids: Option<Vec<i64>>,
    /// Positional arguments after the records (XML-RPC only).
    pub args: Vec<Value>,
    /// Named arguments; `context` is refused, since this server sets it.
    pub kwargs: Vec<(String, Value)>,
}

/// A page of records.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RecordPage {
    /// The model searched
    pub model: String,
    /// The records, shaped: many2one as {id, name}, x2many as {ids, count}, datetimes in UTC ISO 8601, empty values as null, binary content as a size marker
    pub records: Vec<Map<String, Value>>,
    /// Records on this page
    pub count: usize,
    /// Records matching the domain in all
    pub total: u64,
    /// The offset of this page
    pub offset: u64,
    /// The page size used
    pub limit: u32,
    /// The offset of the next page, when there are more records
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<u64>,
    /// The fields returned
    pub fields: Vec<String>,
    /// Requested fields that were withheld because they are sensitive
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub withheld_fields: Vec<String>,
    /// Notes on the selection, e.g. how to ask for more fields
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Records read by id.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RecordList {
    /// The model read
    pub model: String,
    /// The records found, shaped as in search_records
    pub records: Vec<Map<String, Value>>,
    /// Ids asked for that do not exist (or are not visible to this user)
    pub missing_ids: Vec<i64>,
    /// The fields returned
    pub fields: Vec<String>,
    /// Requested fields that were withheld because they are sensitive
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub withheld_fields: Vec<String>,
    /// Notes on the selection
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// How many records match.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RecordCount {
    /// The model counted
    pub model: String,
    /// Records matching the domain
    pub count: u64,
}

/// One group of an aggregation.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Group {
    /// The group's values of the group_by fields (many2one as {id, name}, null for "not set")
    pub group: Map<String, Value>,
    /// Records in the group
    pub count: u64,
    /// The aggregates asked for, keyed like "expected_revenue:sum"
    pub aggregates: Map<String, Value>,
}

/// Grouped totals.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Aggregation {
    /// The model aggregated
    pub model: String,
    /// The groups, in Odoo's order
    pub groups: Vec<Group>,
    /// Groups returned
    pub group_count: usize,
}

/// A model of the database.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ModelInfo {
    /// Technical name, e.g. res.partner
    pub model: String,
    /// Human name, e.g. Contact
    pub name: String,
}

/// Models the caller may use.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ModelList {
    /// The models, by technical name
    pub models: Vec<ModelInfo>,
    /// Models listed
    pub count: usize,
    /// Matching models left out by this server's policy (ODOO_MODELS_ALLOW / ODOO_MODELS_DENY)
    pub refused_by_policy: usize,
    /// Set when the list was cut
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One allowed value of a selection field.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SelectionOption {
    /// The value to store
    pub value: Value,
    /// Its label
    pub label: String,
}

/// One field of a model.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FieldDescription {
    /// Technical name
    pub name: String,
    /// Odoo type: char, text, html, integer, float, monetary, boolean, date, datetime, selection, many2one, one2many, many2many, binary, …
    #[serde(rename = "type")]
    pub kind: String,
    /// Label shown in Odoo
    pub label: String,
    /// Whether a value is required on create
    pub required: bool,
    /// Whether the field is read-only
    pub readonly: bool,
    /// Whether the field is stored (only stored fields can be searched, sorted and grouped)
    pub stored: bool,
    /// The related model, for relational fields
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relation: Option<String>,
    /// The allowed values, for selection fields
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub selection: Vec<SelectionOption>,
    /// Set for fields this server never reads or returns (credentials)
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
    /// Set for file contents, which are returned as a size marker, never inlined
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub binary: bool,
}

/// A model's fields.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ModelDescription {
    /// The model
    pub model: String,
    /// Its fields, by name
    pub fields: Vec<FieldDescription>,
    /// Fields listed
    pub field_count: usize,
    /// The fields search_records returns when given no `fields`
    pub default_fields: Vec<String>,
}

/// A created record.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Created {
    /// The model
    pub model: String,
    /// The new record's id
    pub id: i64,
    /// The record as stored, with its default fields
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<Map<String, Value>>,
}

/// Updated records.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Updated {
    /// The model
    pub model: String,
    /// The ids changed
    pub ids: Vec<i64>,
    /// The fields changed
    pub fields: Vec<String>,
    /// The records' new values of those fields
    pub records: Vec<Map<String, Value>>,
}

/// Deleted records.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Deleted {
    /// The model
    pub model: String,
    /// The ids deleted
    pub ids: Vec<i64>,
    /// Their display names before deletion
    pub names: Vec<String>,
}

/// What a method returned.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MethodResult {
    /// The model
    pub model: String,
    /// The method called
    pub method: String,
    /// Odoo's answer (sensitive keys removed)
    pub result: Value,
    /// Keys removed from the answer because they are sensitive
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub withheld_fields: Vec<String>,
}

/// Everything the tools share: the instances, the policy and the field metadata cache.
pub struct Service {
    instances: BTreeMap<String, Arc<OdooClient>>,
    /// In team mode, each instance's clients logged in as callers with their own login.
    per_caller: BTreeMap<String, ClientCache<OdooClient>>,
    default_instance: String,
    policy: Policy,
    fields_cache: Mutex<FieldsCache>,
}

/// Field metadata by (instance, model), with when it was fetched.
type FieldsCache = HashMap<(String, String), (Instant, Arc<ModelFields>)>;

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("instances", &self.instances.keys().collect::<Vec<_>>())
            .field("default_instance", &self.default_instance)
            .finish()
    }
}

/// An Odoo failure as the caller reads it: connection problems in mcp-common's words, Odoo's
/// refusals as one sentence.
pub fn odoo_error(error: OdooError) -> ToolError {
    match error {
        OdooError::Backend(error) => ToolError::Backend(error),
        other => ToolError::Other(other.to_string()),
    }
}

fn unexpected(call: &Call, answer: &Value) -> ToolError {
    let mut shown = answer.to_string();
    if shown.len() > 200 {
        shown.truncate(200);
        shown.push('…');
    }
    ToolError::Other(format!(
        "Odoo gave an unexpected answer to {}: {shown}",
        call.operation()
    ))
}

fn records_of(call: &Call, answer: Value) -> Result<Vec<Map<String, Value>>, ToolError> {
    match answer {
        Value::Array(rows) => rows
            .into_iter()
            .map(|row| match row {
                Value::Object(map) => Ok(map),
                other => Err(unexpected(call, &other)),
            })
            .collect(),
        other => Err(unexpected(call, &other)),
    }
}

fn count_of(call: &Call, answer: &Value) -> Result<u64, ToolError> {
    answer.as_u64().ok_or_else(|| unexpected(call, answer))
}

/// The display label of a record: its display_name, else its name, else `#id`.
pub fn record_label(record: &Map<String, Value>) -> String {
    ["display_name", "name"]
        .iter()
        .find_map(|key| record.get(*key).and_then(Value::as_str))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            format!(
                "#{}",
                record.get("id").and_then(Value::as_i64).unwrap_or_default()
            )
        })
}

fn check_ids(field: &str, ids: &[i64]) -> Result<(), ToolError> {
    if ids.is_empty() {
        return Err(ToolError::invalid(field, "at least one record id"));
    }
    if ids.len() > MAX_IDS {
        return Err(ToolError::invalid(
            field,
            format!("at most {MAX_IDS} ids per call"),
        ));
    }
    if ids.iter().any(|id| *id <= 0) {
        return Err(ToolError::invalid(field, "positive record ids"));
    }
    Ok(())
}

fn unknown_field_error(model: &str, field: &str) -> ToolError {
    ToolError::Other(format!(
        "Odoo: the field '{field}' does not exist on {model} — call describe_model to see its fields"
    ))
}

/// The login a team-mode caller brings.
const LOGIN: &str = "login";
/// Its password, or an API key of its user (Odoo takes one in place of the other).
const PASSWORD: &str = "password";

/// What callers may bring in team mode (`ServerIdentity::credentials`): their own Odoo login,
/// so that Odoo's access rights and its record of who changed what are theirs.
pub const CALLER_CREDENTIALS: &[CredentialField] = &[
    CredentialField {
        name: LOGIN,
        description: "Your Odoo login (usually your email address)",
        required: true,
    },
    CredentialField {
        name: PASSWORD,
        description: "Your Odoo password, or an API key of yours (Odoo takes one in place of the other)",
        required: true,
    },
];

impl Service {
    /// The service over the configured instances, sharing one HTTP client.
    pub fn new(config: OdooConfig, http: reqwest::Client) -> Service {
        let instances: BTreeMap<String, Arc<OdooClient>> = config
            .instances
            .into_iter()
            .map(|connection| {
                let name = connection.name.clone();
                let client = OdooClient::new(connection, http.clone(), config.backend.clone());
                (name, Arc::new(client))
            })
            .collect();
        Service {
            per_caller: instances
                .keys()
                .map(|name| (name.clone(), ClientCache::default()))
                .collect(),
            instances,
            default_instance: config.default_instance,
            policy: config.policy,
            fields_cache: Mutex::new(HashMap::new()),
        }
    }

    /// The operator's policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Every instance, by name.
    pub fn clients(&self) -> impl Iterator<Item = &Arc<OdooClient>> {
        self.instances.values()
    }

    /// The named instance, or the default one: in team mode, logged in as the caller when it
    /// has its own login (mcp-common refuses callers without one unless the deployment shares
    /// its own).
    pub fn client(&self, instance: Option<&str>) -> Result<Arc<OdooClient>, ToolError> {
        let name = instance
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .unwrap_or(&self.default_instance);
        let shared = self.configured(name)?;
        let Some(credentials) = caller_credentials() else {
            return Ok(shared);
        };
        let (Some(login), Some(password), Some(cache)) = (
            credentials.get(LOGIN),
            credentials.get(PASSWORD),
            self.per_caller.get(name),
        ) else {
            return Ok(shared);
        };
        cache.get_or_try_insert(&credentials, |_| {
            Ok(shared.for_login(login.expose(), password.clone()))
        })
    }

    /// The named instance as configured.
    fn configured(&self, name: &str) -> Result<Arc<OdooClient>, ToolError> {
        self.instances.get(name).cloned().ok_or_else(|| {
            let known: Vec<&str> = self.instances.keys().map(String::as_str).collect();
            ToolError::invalid(
                "instance",
                format!(
                    "one of the configured Odoo instances: {} (got '{name}')",
                    known.join(", ")
                ),
            )
        })
    }

    /// Whether a field path is sensitive.
    pub fn is_sensitive(&self, field: &str) -> bool {
        self.policy.is_sensitive(field)
    }

    /// Refuses malformed model names and models the policy refuses.
    pub fn check_model(&self, model: &str) -> Result<(), ToolError> {
        if !is_model_name(model) {
            return Err(ToolError::invalid(
                "model",
                "a technical model name such as res.partner or crm.lead (call list_models)",
            ));
        }
        self.policy.check_model(model).map_err(ToolError::Refused)
    }

    /// Runs one call, mapping failures for the caller.
    pub async fn call(&self, client: &OdooClient, call: &Call) -> Result<Value, ToolError> {
        client.execute(call).await.map_err(odoo_error)
    }

    /// A model's fields, from the cache when fresh.
    pub async fn fields(
        &self,
        client: &OdooClient,
        model: &str,
    ) -> Result<Arc<ModelFields>, ToolError> {
        let key = (client.connection().name.clone(), model.to_owned());
        if let Ok(cache) = self.fields_cache.lock()
            && let Some((at, fields)) = cache.get(&key)
            && at.elapsed() < FIELDS_CACHE_TTL
        {
            return Ok(fields.clone());
        }
        let call = Call::read(model, "fields_get").kwarg(
            "attributes",
            json!([
                "type",
                "string",
                "required",
                "readonly",
                "relation",
                "selection",
                "store"
            ]),
        );
        let answer = self.call(client, &call).await?;
        if !answer.is_object() {
            return Err(unexpected(&call, &answer));
        }
        let fields = Arc::new(ModelFields::from_fields_get(model, &answer));
        if let Ok(mut cache) = self.fields_cache.lock() {
            cache.insert(key, (Instant::now(), fields.clone()));
        }
        Ok(fields)
    }

    /// A validated, normalised domain (an empty one when none is given).
    pub fn domain(&self, domain: Option<&Value>) -> Result<Value, ToolError> {
        match domain {
            None | Some(Value::Null) => Ok(json!([])),
            Some(domain) => validate(domain, &|f| self.is_sensitive(f))
                .map_err(|error| ToolError::Other(error.to_string())),
        }
    }

    /// Searches and reads one page of records, shaped.
    pub async fn search(
        &self,
        client: &OdooClient,
        query: &SearchQuery<'_>,
    ) -> Result<RecordPage, ToolError> {
        let SearchQuery {
            model,
            domain,
            fields,
            limit,
            offset,
            order,
        } = *query;
        self.check_model(model)?;
        let domain = self.domain(domain)?;
        let order = match order {
            Some(order) => {
                Some(validate_order(order, &|f| self.is_sensitive(f)).map_err(ToolError::Other)?)
                    .filter(|o| !o.is_empty())
            }
            None => None,
        };
        let meta = self.fields(client, model).await?;
        let selection = self.selection(model, fields, &meta)?;
        let (limit, capped) = self.policy.limit(limit);
        let offset = offset.unwrap_or(0);
        let call = Call::read(model, "search_read")
            .arg("domain", domain.clone())
            .kwarg("fields", json!(selection.fetch))
            .kwarg("offset", offset)
            .kwarg("limit", limit)
            .kwarg("order", order.map_or(Value::Null, Value::String))
            .context("bin_size", true);
        let rows = records_of(&call, self.call(client, &call).await?)?;
        let returned = rows.len() as u64;
        // A short page gives the total for free; a full one (or an empty page past the end)
        // needs a count.
        let total = if returned < u64::from(limit) && (returned > 0 || offset == 0) {
            offset + returned
        } else {
            self.count_domain(client, model, domain).await?
        };
        let next_offset = (offset + returned < total && returned > 0).then_some(offset + returned);
        let sensitive = |f: &str| self.is_sensitive(f);
        let records = rows
            .iter()
            .map(|row| shape_record(row, &meta, &sensitive))
            .collect();
        let mut notes = Vec::new();
        if capped {
            notes.push(format!(
                "limit capped at {} (ODOO_MAX_LIMIT)",
                self.policy.max_limit
            ));
        }
        notes.extend(selection_note(&selection));
        Ok(RecordPage {
            model: model.to_owned(),
            records,
            count: returned as usize,
            total,
            offset,
            limit,
            next_offset,
            fields: selection.fetch,
            withheld_fields: selection.withheld,
            note: (!notes.is_empty()).then(|| notes.join("; ")),
        })
    }

    fn selection(
        &self,
        model: &str,
        fields: Option<&[String]>,
        meta: &ModelFields,
    ) -> Result<FieldSelection, ToolError> {
        let selection = select_fields(fields, meta, &|f| self.is_sensitive(f));
        if let Some(unknown) = selection.unknown.first() {
            return Err(unknown_field_error(model, unknown));
        }
        if selection.fetch.is_empty() {
            return Err(ToolError::Refused(format!(
                "every requested field is sensitive ({}), and this server never returns those",
                selection.withheld.join(", ")
            )));
        }
        Ok(selection)
    }

    async fn count_domain(
        &self,
        client: &OdooClient,
        model: &str,
        domain: Value,
    ) -> Result<u64, ToolError> {
        let call = Call::read(model, "search_count").arg("domain", domain);
        let answer = self.call(client, &call).await?;
        count_of(&call, &answer)
    }

    /// Counts the records matching a domain.
    pub async fn count(
        &self,
        client: &OdooClient,
        model: &str,
        domain: Option<&Value>,
    ) -> Result<RecordCount, ToolError> {
        self.check_model(model)?;
        let domain = self.domain(domain)?;
        let count = self.count_domain(client, model, domain).await?;
        Ok(RecordCount {
            model: model.to_owned(),
            count,
        })
    }

    /// Reads records by id (archived ones included), reporting the ids not found.
    pub async fn read(
        &self,
        client: &OdooClient,
        model: &str,
        ids: &[i64],
        fields: Option<&[String]>,
    ) -> Result<RecordList, ToolError> {
        self.check_model(model)?;
        check_ids("ids", ids)?;
        let meta = self.fields(client, model).await?;
        let selection = self.selection(model, fields, &meta)?;
        let mut fetch = selection.fetch.clone();
        if !fetch.iter().any(|f| f == "id") {
            fetch.push("id".into());
        }
        // `read` fails outright on a missing id; a search by id reports what exists instead.
        let call = Call::read(model, "search_read")
            .arg("domain", json!([["id", "in", ids]]))
            .kwarg("fields", json!(fetch))
            .kwarg("limit", ids.len())
            .context("active_test", false)
            .context("bin_size", true);
        let rows = records_of(&call, self.call(client, &call).await?)?;
        let found: Vec<i64> = rows
            .iter()
            .filter_map(|r| r.get("id").and_then(Value::as_i64))
            .collect();
        let mut by_id: BTreeMap<i64, Map<String, Value>> = BTreeMap::new();
        for row in &rows {
            if let Some(id) = row.get("id").and_then(Value::as_i64) {
                by_id.insert(id, shape_record(row, &meta, &|f| self.is_sensitive(f)));
            }
        }
        // Keep the caller's order.
        let records = ids.iter().filter_map(|id| by_id.remove(id)).collect();
        let missing_ids = ids
            .iter()
            .filter(|id| !found.contains(id))
            .copied()
            .collect();
        let notes = selection_note(&selection);
        Ok(RecordList {
            model: model.to_owned(),
            records,
            missing_ids,
            fields: selection.fetch,
            withheld_fields: selection.withheld,
            note: notes,
        })
    }

    /// Groups records and aggregates fields with `read_group`.
    pub async fn aggregate(
        &self,
        client: &OdooClient,
        model: &str,
        domain: Option<&Value>,
        group_by: &[String],
        aggregates: &[String],
        limit: Option<u32>,
    ) -> Result<Aggregation, ToolError> {
        self.check_model(model)?;
        let domain = self.domain(domain)?;
        let meta = self.fields(client, model).await?;
        let mut group_fields = Vec::new();
        for spec in group_by {
            let (field, granularity) = match spec.split_once(':') {
                Some((field, granularity)) => (field.trim(), Some(granularity.trim())),
                None => (spec.trim(), None),
            };
            self.check_field(model, &meta, field, "group_by")?;
            if let Some(granularity) = granularity
                && !GRANULARITIES.contains(&granularity)
            {
                return Err(ToolError::invalid(
                    "group_by",
                    format!(
                        "a field, or a date field with one of :{} (got '{spec}')",
                        GRANULARITIES.join(", :")
                    ),
                ));
            }
            group_fields.push(field.to_owned());
        }
        let mut specs = Vec::new();
        for spec in aggregates {
            let Some((field, function)) = spec.split_once(':') else {
                return Err(ToolError::invalid(
                    "aggregates",
                    format!(
                        "entries like \"expected_revenue:sum\" (field:function, with function one of {}), got '{spec}'",
                        AGGREGATES.join(", ")
                    ),
                ));
            };
            let (field, function) = (field.trim(), function.trim());
            self.check_field(model, &meta, field, "aggregates")?;
            if !AGGREGATES.contains(&function) {
                return Err(ToolError::invalid(
                    "aggregates",
                    format!(
                        "a function among {} (got '{function}' in '{spec}')",
                        AGGREGATES.join(", ")
                    ),
                ));
            }
            specs.push((
                spec.clone(),
                field.to_owned(),
                format!("{field}:{function}"),
            ));
        }
        let (limit, _) = self.policy.limit(limit.or(Some(self.policy.max_limit)));
        let call = Call::read(model, "read_group")
            .arg("domain", domain)
            .arg(
                "fields",
                json!(specs.iter().map(|(_, _, s)| s.clone()).collect::<Vec<_>>()),
            )
            .arg("groupby", json!(group_by))
            .kwarg("limit", limit)
            .kwarg("lazy", false);
        let rows = records_of(&call, self.call(client, &call).await?)?;
        let groups: Vec<Group> = rows
            .iter()
            .map(|row| {
                let mut group = Map::new();
                for (spec, field) in group_by.iter().zip(&group_fields) {
                    let raw = row
                        .get(spec)
                        .or_else(|| row.get(field))
                        .cloned()
                        .unwrap_or(Value::Null);
                    let shaped = if spec.contains(':') {
                        // Date groups come back as labels such as "January 2026".
                        match raw {
                            Value::Bool(false) => Value::Null,
                            other => other,
                        }
                    } else {
                        meta.get(field)
                            .map(|info| shape_value(&raw, info))
                            .unwrap_or(raw)
                    };
                    group.insert(spec.clone(), shaped);
                }
                let count = row
                    .get("__count")
                    .or_else(|| {
                        group_fields
                            .first()
                            .and_then(|f| row.get(&format!("{f}_count")))
                    })
                    .and_then(Value::as_u64)
                    .unwrap_or_default();
                let mut values = Map::new();
                for (spec, field, normalized) in &specs {
                    let value = row
                        .get(normalized)
                        .or_else(|| row.get(field))
                        .cloned()
                        .unwrap_or(Value::Null);
                    values.insert(spec.clone(), value);
                }
                Group {
                    group,
                    count,
                    aggregates: values,
                }
            })
            .collect();
        Ok(Aggregation {
            model: model.to_owned(),
            group_count: groups.len(),
            groups,
        })
    }

    fn check_field(
        &self,
        model: &str,
        meta: &ModelFields,
        field: &str,
        argument: &str,
    ) -> Result<(), ToolError> {
        if self.is_sensitive(field) {
            return Err(ToolError::Refused(format!(
                "`{argument}`: '{field}' is a sensitive field this server never reads"
            )));
        }
        if field != "id" && meta.get(field).is_none() {
            return Err(unknown_field_error(model, field));
        }
        Ok(())
    }

    /// Lists the models of the database the policy allows, optionally matching a text.
    pub async fn list_models(
        &self,
        client: &OdooClient,
        query: Option<&str>,
    ) -> Result<ModelList, ToolError> {
        let domain = match query.map(str::trim).filter(|q| !q.is_empty()) {
            Some(query) => {
                // Literal, so that a query such as "_" is not a wildcard matching every model.
                let query = like_literal(query);
                json!(["|", ["model", "ilike", query], ["name", "ilike", query]])
            }
            None => json!([]),
        };
        let call = Call::read("ir.model", "search_read")
            .arg("domain", domain)
            .kwarg("fields", json!(["model", "name"]))
            .kwarg("order", "model");
        let rows = records_of(&call, self.call(client, &call).await?)?;
        let mut refused = 0;
        let mut models = Vec::new();
        for row in rows {
            let Some(model) = row.get("model").and_then(Value::as_str) else {
                continue;
            };
            if self.policy.check_model(model).is_err() {
                refused += 1;
                continue;
            }
            models.push(ModelInfo {
                model: model.to_owned(),
                name: row
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or(model)
                    .to_owned(),
            });
        }
        let cap = self.policy.max_limit as usize;
        let note = (models.len() > cap).then(|| {
            format!(
                "{} models match; the first {cap} are listed, pass `query` to narrow the list",
                models.len()
            )
        });
        models.truncate(cap);
        Ok(ModelList {
            count: models.len(),
            models,
            refused_by_policy: refused,
            note,
        })
    }

    /// A model's fields, with sensitive and binary ones marked.
    pub async fn describe(
        &self,
        client: &OdooClient,
        model: &str,
    ) -> Result<ModelDescription, ToolError> {
        self.check_model(model)?;
        let meta = self.fields(client, model).await?;
        let fields: Vec<FieldDescription> = meta
            .fields
            .values()
            .map(|info| FieldDescription {
                name: info.name.clone(),
                kind: info.kind.clone(),
                label: info.label.clone(),
                required: info.required,
                readonly: info.readonly,
                stored: info.stored,
                relation: info.relation.clone(),
                selection: info
                    .selection
                    .iter()
                    .map(|(value, label)| SelectionOption {
                        value: value.clone(),
                        label: label.clone(),
                    })
                    .collect(),
                sensitive: self.is_sensitive(&info.name),
                binary: info.is_binary(),
            })
            .collect();
        let default_fields = select_fields(None, &meta, &|f| self.is_sensitive(f)).fetch;
        Ok(ModelDescription {
            model: model.to_owned(),
            field_count: fields.len(),
            fields,
            default_fields,
        })
    }

    /// Checks and converts values to write: every field must exist and not be sensitive.
    pub async fn values(
        &self,
        client: &OdooClient,
        model: &str,
        values: &[(String, Value)],
    ) -> Result<Map<String, Value>, ToolError> {
        self.check_model(model)?;
        if values.is_empty() {
            return Err(ToolError::invalid(
                "values",
                "at least one {field, value} pair",
            ));
        }
        let meta = self.fields(client, model).await?;
        let mut map = Map::new();
        for (field, value) in values {
            let field = field.trim();
            if self.is_sensitive(field) {
                return Err(ToolError::Refused(format!(
                    "'{field}' is a sensitive field: this server never reads or writes credentials"
                )));
            }
            let Some(info) = meta.get(field) else {
                return Err(unknown_field_error(model, field));
            };
            if map.contains_key(field) {
                return Err(ToolError::invalid(
                    "values",
                    format!("each field once ('{field}' is given twice)"),
                ));
            }
            map.insert(field.to_owned(), to_odoo_value(value, Some(info)));
        }
        Ok(map)
    }

    /// Creates a record and reads it back with its default fields.
    pub async fn create(
        &self,
        client: &OdooClient,
        model: &str,
        values: Map<String, Value>,
    ) -> Result<Created, ToolError> {
        self.check_model(model)?;
        let call = Call::write(model, "create").arg("vals_list", Value::Object(values));
        let answer = self.call(client, &call).await?;
        // Odoo answers the id for one dict (XML-RPC) or the list of ids (JSON-2).
        let id = match &answer {
            Value::Number(id) => id.as_i64(),
            Value::Array(ids) => ids.first().and_then(Value::as_i64),
            _ => None,
        }
        .ok_or_else(|| unexpected(&call, &answer))?;
        // The record is created: a failed read-back must not turn that into an error.
        let record = match self.read(client, model, &[id], None).await {
            Ok(mut list) => list.records.pop(),
            Err(error) => {
                tracing::warn!(model, id, error = %error.message(), "could not read back a created record");
                None
            }
        };
        Ok(Created {
            model: model.to_owned(),
            id,
            record,
        })
    }

    /// Writes values on records and reads back the changed fields.
    pub async fn update(
        &self,
        client: &OdooClient,
        model: &str,
        ids: &[i64],
        values: Map<String, Value>,
    ) -> Result<Updated, ToolError> {
        self.check_model(model)?;
        check_ids("ids", ids)?;
        let fields: Vec<String> = values.keys().cloned().collect();
        let call = Call::write(model, "write")
            .on(ids.to_vec())
            .arg("vals", Value::Object(values));
        self.call(client, &call).await?;
        let mut read_fields = fields.clone();
        read_fields.push("display_name".into());
        let records = match self.read(client, model, ids, Some(&read_fields)).await {
            Ok(list) => list.records,
            Err(_) => Vec::new(),
        };
        Ok(Updated {
            model: model.to_owned(),
            ids: ids.to_vec(),
            fields,
            records,
        })
    }

    /// Deletes records, returning their names.
    pub async fn delete(
        &self,
        client: &OdooClient,
        model: &str,
        ids: &[i64],
    ) -> Result<Deleted, ToolError> {
        self.check_model(model)?;
        check_ids("ids", ids)?;
        let names = self
            .labels(client, model, ids)
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|(_, name)| name)
            .collect();
        let call = Call::write(model, "unlink").on(ids.to_vec());
        self.call(client, &call).await?;
        Ok(Deleted {
            model: model.to_owned(),
            ids: ids.to_vec(),
            names,
        })
    }

    /// `(id, display name)` of existing records, archived ones included.
    pub async fn labels(
        &self,
        client: &OdooClient,
        model: &str,
        ids: &[i64],
    ) -> Result<Vec<(i64, String)>, ToolError> {
        let call = Call::read(model, "search_read")
            .arg("domain", json!([["id", "in", ids]]))
            .kwarg("fields", json!(["display_name"]))
            .context("active_test", false);
        let rows = records_of(&call, self.call(client, &call).await?)?;
        Ok(rows
            .iter()
            .filter_map(|row| Some((row.get("id")?.as_i64()?, record_label(row))))
            .collect())
    }

    /// Current values of `fields` on records, shaped, by id.
    pub async fn current_values(
        &self,
        client: &OdooClient,
        model: &str,
        ids: &[i64],
        fields: &[String],
    ) -> Result<BTreeMap<i64, Map<String, Value>>, ToolError> {
        let meta = self.fields(client, model).await?;
        let mut fetch: Vec<String> = fields
            .iter()
            .filter(|f| !self.is_sensitive(f) && meta.get(f).is_some())
            .cloned()
            .collect();
        fetch.push("display_name".into());
        let call = Call::read(model, "search_read")
            .arg("domain", json!([["id", "in", ids]]))
            .kwarg("fields", json!(fetch))
            .context("active_test", false)
            .context("bin_size", true);
        let rows = records_of(&call, self.call(client, &call).await?)?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                let id = row.get("id")?.as_i64()?;
                Some((id, shape_record(row, &meta, &|f| self.is_sensitive(f))))
            })
            .collect())
    }

    /// Runs an allowed method and scrubs sensitive keys from its answer.
    pub async fn call_method(
        &self,
        client: &OdooClient,
        method_call: MethodCall<'_>,
    ) -> Result<MethodResult, ToolError> {
        let MethodCall {
            model,
            method,
            ids,
            args,
            kwargs,
        } = method_call;
        self.check_method(model, method)?;
        let mut call = Call::write(model, method);
        if let Some(ids) = ids {
            check_ids("ids", &ids)?;
            call = call.on(ids);
        }
        call.extra_args = args;
        for (name, value) in kwargs {
            if name == "context" {
                return Err(ToolError::invalid(
                    "kwargs",
                    "method arguments only (the context is set by this server)",
                ));
            }
            call.keywords.insert(name, value);
        }
        let mut result = self.call(client, &call).await?;
        let withheld = scrub_sensitive(&mut result, &|f| self.is_sensitive(f));
        Ok(MethodResult {
            model: model.to_owned(),
            method: method.to_owned(),
            result,
            withheld_fields: withheld,
        })
    }

    /// Refuses methods not in `ODOO_CALL_METHODS_ALLOW`, saying how to allow them.
    pub fn check_method(&self, model: &str, method: &str) -> Result<(), ToolError> {
        self.check_model(model)?;
        if method.starts_with('_') {
            return Err(ToolError::Refused(format!(
                "'{method}' is private: Odoo never lets private methods be called remotely"
            )));
        }
        if !self.policy.method_allowed(model, method) {
            return Err(ToolError::Refused(format!(
                "call_method is refused for {model}.{method}: this server only runs methods the operator listed; add `{model}.{method}` to ODOO_CALL_METHODS_ALLOW (comma-separated model.method entries, globs allowed) to allow it"
            )));
        }
        Ok(())
    }

    /// A record of `model` by id (checked to exist) or by name (ignoring case; exact match
    /// preferred, else a unique partial match). The error lists candidates.
    pub async fn resolve(
        &self,
        client: &OdooClient,
        model: &str,
        what: &str,
        argument: &str,
        value: &NameOrId,
    ) -> Result<Ref, ToolError> {
        if let Some(id) = value.as_id() {
            let labels = self.labels(client, model, &[id]).await?;
            return match labels.into_iter().next() {
                Some((id, name)) => Ok(Ref { id, name }),
                None => Err(ToolError::not_found(
                    format!("{what} {id}"),
                    format!("give `{argument}` as an existing id or a name"),
                )),
            };
        }
        let name = match value {
            NameOrId::Name(name) => name.trim(),
            NameOrId::Id(_) => "",
        };
        if name.is_empty() {
            return Err(ToolError::invalid(argument, format!("a {what} name or id")));
        }
        let call = Call::read(model, "search_read")
            // Literal, so that a name such as "%" is not a wildcard matching every record.
            .arg("domain", json!([["name", "ilike", like_literal(name)]]))
            .kwarg("fields", json!(["name", "display_name"]))
            .kwarg("limit", 20);
        let rows = records_of(&call, self.call(client, &call).await?)?;
        let candidates: Vec<Ref> = rows
            .iter()
            .filter_map(|row| {
                Some(Ref {
                    id: row.get("id")?.as_i64()?,
                    name: row
                        .get("name")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .unwrap_or_else(|| record_label(row)),
                })
            })
            .collect();
        let exact: Vec<&Ref> = candidates
            .iter()
            .filter(|c| c.name.eq_ignore_ascii_case(name))
            .collect();
        match (exact.as_slice(), candidates.as_slice()) {
            ([one], _) => Ok((*one).clone()),
            ([], [one]) => Ok(one.clone()),
            ([], []) => Err(ToolError::not_found(
                format!("{what} '{name}'"),
                format!("give `{argument}` as an exact name or an id"),
            )),
            _ => {
                let listed: Vec<String> = candidates
                    .iter()
                    .take(10)
                    .map(|c| format!("{} (id {})", c.name, c.id))
                    .collect();
                Err(ToolError::Conflict(format!(
                    "'{name}' matches several {what}s: {}; give `{argument}` as one of these ids",
                    listed.join(", ")
                )))
            }
        }
    }

    /// The shaped default-field reads used by resources: one record, or a not-found error.
    pub async fn record(
        &self,
        client: &OdooClient,
        model: &str,
        id: i64,
    ) -> Result<Map<String, Value>, ToolError> {
        let mut list = self.read(client, model, &[id], None).await?;
        list.records
            .pop()
            .ok_or_else(|| ToolError::not_found(format!("{model} {id}"), "check the model and id"))
    }
}

/// The note explaining a field selection, if any.
fn selection_note(selection: &FieldSelection) -> Option<String> {
    let mut notes = Vec::new();
    if selection.defaulted {
        notes.push(format!(
            "showing {} default fields of {} readable; pass `fields` to choose others (describe_model lists them), x2many fields show at most {X2MANY_CAP} ids",
            selection.fetch.len(),
            selection.available
        ));
    }
    if !selection.withheld.is_empty() {
        notes.push(format!(
            "withheld sensitive fields: {} (this server never returns credentials)",
            selection.withheld.join(", ")
        ));
    }
    (!notes.is_empty()).then(|| notes.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_or_ids_are_read_both_ways() {
        let cases = [
            (json!(7), NameOrId::Id(7), Some(7)),
            (json!("7"), NameOrId::Name("7".into()), Some(7)),
            (json!("Qualified"), NameOrId::Name("Qualified".into()), None),
        ];
        for (raw, parsed, id) in cases {
            let value: NameOrId = serde_json::from_value(raw.clone()).unwrap();
            assert_eq!(value, parsed, "{raw}");
            assert_eq!(value.as_id(), id, "{raw}");
        }
    }

    #[test]
    fn ids_are_checked() {
        assert!(check_ids("ids", &[1, 2]).is_ok());
        for (ids, expected) in [
            (vec![], "at least one record id"),
            (vec![0], "positive record ids"),
            (vec![1; MAX_IDS + 1], "at most 500 ids"),
        ] {
            let error = check_ids("ids", &ids).unwrap_err().to_string();
            assert!(error.contains(expected), "{error}");
        }
    }

    #[test]
    fn record_labels_prefer_display_names() {
        let cases = [
            (
                json!({"id": 1, "display_name": "Acme, Bob", "name": "Bob"}),
                "Acme, Bob",
            ),
            (json!({"id": 1, "name": "Bob"}), "Bob"),
            (json!({"id": 9}), "#9"),
        ];
        for (record, label) in cases {
            let Value::Object(record) = record else {
                unreachable!()
            };
            assert_eq!(record_label(&record), label);
        }
    }
}
