//! The generic record tools: search, read, count and aggregate any model, list and describe
//! models, create, update and delete records, and call allowed methods.

use mcp_common::{Json, ToolError};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::ops::{
    Aggregation, Created, Deleted, MethodCall, MethodResult, ModelDescription, ModelList,
    RecordCount, RecordList, RecordPage, SearchQuery, Updated,
};
use crate::tools::Odoo;
use crate::tools::schema::InstanceArg;
use crate::tools::schema::{FieldValueArg, NamedValueArg, args_schema, domain_schema, pairs};

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
    /// The Odoo instance to use
    #[serde(flatten)]
    pub target: InstanceArg,
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
    /// The Odoo instance to use
    #[serde(flatten)]
    pub target: InstanceArg,
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
    /// The Odoo instance to use
    #[serde(flatten)]
    pub target: InstanceArg,
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
    /// The Odoo instance to use
    #[serde(flatten)]
    pub target: InstanceArg,
}

/// Arguments of `list_models`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListModelsArgs {
    /// Text to look for in technical or human model names, e.g. "partner" or "lead"
    #[serde(default)]
    pub query: Option<String>,
    /// The Odoo instance to use
    #[serde(flatten)]
    pub target: InstanceArg,
}

/// Arguments of `describe_model`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct DescribeModelArgs {
    /// Technical model name, e.g. res.partner
    pub model: String,
    /// The Odoo instance to use
    #[serde(flatten)]
    pub target: InstanceArg,
}

/// Arguments of `create_record`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreateRecordArgs {
    /// Technical model name, e.g. res.partner
    pub model: String,
    /// The new record's fields, e.g. [{"field": "name", "value": "Acme"}, {"field": "email", "value": "info@acme.example"}]
    pub values: Vec<FieldValueArg>,
    /// The Odoo instance to use
    #[serde(flatten)]
    pub target: InstanceArg,
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
    /// The Odoo instance to use
    #[serde(flatten)]
    pub target: InstanceArg,
}

/// Arguments of `delete_record`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct DeleteRecordArgs {
    /// Technical model name, e.g. res.partner
    pub model: String,
    /// Ids of the records to delete
    pub ids: Vec<i64>,
    /// The Odoo instance to use
    #[serde(flatten)]
    pub target: InstanceArg,
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
    /// The Odoo instance to use
    #[serde(flatten)]
    pub target: InstanceArg,
}

#[tool_router(router = record_tools, vis = "pub(super)")]
impl Odoo {
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
        let client = &self.service.client(args.target.instance())?;
        let query = SearchQuery {
            model: args.model.trim(),
            domain: args.domain.as_ref(),
            fields: args.fields.as_deref(),
            limit: args.limit,
            offset: args.offset,
            order: args.order.as_deref(),
        };
        self.service.search(client, &query).await.map(Json)
    }

    #[tool(
        description = "Read records of an Odoo model by id (archived ones included); ids that do not exist are listed in missing_ids.",
        annotations(title = "Read records", read_only_hint = true, open_world_hint = true)
    )]
    async fn read_records(
        &self,
        Parameters(args): Parameters<ReadRecordsArgs>,
    ) -> Result<Json<RecordList>, ToolError> {
        let client = &self.service.client(args.target.instance())?;
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
        let client = &self.service.client(args.target.instance())?;
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
        let client = &self.service.client(args.target.instance())?;
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
        let client = &self.service.client(args.target.instance())?;
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
        let client = &self.service.client(args.target.instance())?;
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
        let client = &self.service.client(args.target.instance())?;
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
        let client = &self.service.client(args.target.instance())?;
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
        let client = &self.service.client(args.target.instance())?;
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
        let client = &self.service.client(args.target.instance())?;
        let kwargs = args
            .kwargs
            .unwrap_or_default()
            .into_iter()
            .map(|k| (k.name, k.value))
            .collect();
        let method_call = MethodCall {
            model: args.model.trim(),
            method: args.method.trim(),
            ids: args.ids,
            args: args.args.unwrap_or_default(),
            kwargs,
        };
        self.service
            .call_method(client, method_call)
            .await
            .map(Json)
    }
}
