//! The MCP face of Stripe: tools (one module per area: `customers`, `payments`, `invoicing`,
//! `products`), two resources and a prompt.
//!
//! Each tool builds async-stripe's typed request from its arguments, sends it through
//! [`StripeApi`], and shapes the answer ([`crate::shape`]). Writes go through [`Stripe::write`],
//! which refuses live-mode writes the operator has not allowed, derives the idempotency key and
//! records it in the audit line.

mod customers;
mod invoicing;
mod payments;
mod previews;
mod products;

use std::collections::HashMap;
use std::sync::Arc;

use mcp_common::backend::FailureKind;
use mcp_common::error::resource_not_found;
use mcp_common::team::{ClientCache, CredentialField, caller_credentials};
use mcp_common::{Caller, Domain, Previews, Probe, ToolError, ToolKind};
use rmcp::handler::server::router::prompt::PromptRouter;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::*;
use rmcp::service::RequestContext;
use rmcp::{
    ErrorData as McpError, RoleServer, ServerHandler, prompt, prompt_handler, prompt_router,
    tool_handler,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use stripe_client_core::StripeRequest;

use crate::client::{ApiError, Options, StripeApi, StripeError};
use crate::config::{Mode, StripeConfig};
use crate::idempotency::IdempotencyKeys;
use crate::shape::{Detail, headline, shape};

/// The stripe MCP server.
#[derive(Clone)]
pub struct Stripe {
    pub(crate) api: StripeApi,
    /// In team mode, the API with each caller's own key, one client (and breaker) per key.
    per_caller: Arc<ClientCache<StripeApi>>,
    keys: Arc<IdempotencyKeys>,
    live_writes: bool,
    tools: Arc<ToolRouter<Stripe>>,
    prompts: Arc<PromptRouter<Stripe>>,
}

impl std::fmt::Debug for Stripe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stripe").field("api", &self.api).finish()
    }
}

impl Stripe {
    /// The server over `api`.
    pub fn new(api: StripeApi, config: &StripeConfig) -> Stripe {
        Stripe {
            api,
            per_caller: Arc::new(ClientCache::default()),
            keys: Arc::new(IdempotencyKeys::new(config.idempotency_window)),
            live_writes: config.live_writes,
            tools: Arc::new(
                Self::customer_tools()
                    + Self::payment_tools()
                    + Self::invoicing_tools()
                    + Self::product_tools(),
            ),
            prompts: Arc::new(Self::prompt_router()),
        }
    }
}

/// The credential a team-mode caller brings: its own secret or restricted key.
const SECRET_KEY: &str = "secret_key";

/// What callers may bring in team mode (`ServerIdentity::credentials`).
pub const CALLER_CREDENTIALS: &[CredentialField] = &[CredentialField {
    name: SECRET_KEY,
    description: "Your own Stripe secret key or, better, a restricted key (sk_test_…, rk_live_…); your calls act on its account",
    required: true,
}];

impl Stripe {
    /// The API this call goes through: in team mode, with the caller's own key when it has one
    /// (mcp-common refuses callers without one unless the deployment shares its own). A live
    /// key of a caller is held to STRIPE_LIVE_WRITES for writes like the operator's.
    pub(crate) fn api_for(&self, kind: ToolKind, tool: &str) -> Result<StripeApi, ToolError> {
        let Some(credentials) = caller_credentials() else {
            return Ok(self.api.clone());
        };
        let Some(key) = credentials.get(SECRET_KEY) else {
            return Ok(self.api.clone());
        };
        let Some((mode, _)) = crate::config::key_kind(key.expose()) else {
            return Err(ToolError::Refused(
                "the Stripe key you set with set_my_credentials is not a secret or restricted key (sk_test_…, sk_live_…, rk_test_…, rk_live_…): set it again. Nothing was sent to Stripe.".to_owned()
            ));
        };
        if kind != ToolKind::ReadOnly && mode == Mode::Live && !self.live_writes {
            return Err(ToolError::Refused(format!(
                "`{tool}` changes Stripe data and your key is a live-mode key: writes with a live key are off unless the operator sets STRIPE_LIVE_WRITES=true. Nothing was sent to Stripe."
            )));
        }
        let api = self.per_caller.get_or_try_insert(&credentials, |_| {
            Ok::<_, std::convert::Infallible>(self.api.with_key(key.clone(), mode))
        });
        match api {
            Ok(api) => Ok((*api).clone()),
            Err(never) => match never {},
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Arguments shared by many tools

/// How much of each object to return.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Fields {
    /// Ids, amounts, currency, status, dates, customer email and name, metadata (default)
    #[default]
    Summary,
    /// Every field Stripe returns
    All,
}

impl From<Fields> for Detail {
    fn from(fields: Fields) -> Detail {
        match fields {
            Fields::Summary => Detail::Summary,
            Fields::All => Detail::All,
        }
    }
}

/// Which account a read acts on and how much it returns.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ReadScope {
    /// Connect account (acct_…) to act for; default STRIPE_ACCOUNT, else the key's own account
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// summary (default) or all
    #[serde(default)]
    pub fields: Fields,
}

/// A page of a list.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct Page {
    /// How many objects to return, 1 to 100 (default 10)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// The `next_starting_after` of the previous page, to get the next one
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starting_after: Option<String>,
}

/// Which account a write acts on and its idempotency key.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct WriteScope {
    /// Connect account (acct_…) to act for; default STRIPE_ACCOUNT, else the key's own account
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Idempotency key for this write. By default one is derived from the tool and its arguments, so repeating the same call within STRIPE_IDEMPOTENCY_WINDOW_SECS returns the first result instead of acting twice; pass a new key only to really make a second, identical write
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// A single-id argument with its scope.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct GetArgs {
    /// The object's id
    pub id: String,
    #[serde(flatten)]
    pub scope: ReadScope,
}

// ---------------------------------------------------------------------------------------------
// Results

/// One object.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ObjectResult {
    /// The object in one line, amounts as people write them
    pub summary: String,
    /// The object: trimmed, or whole with fields = all
    pub object: Value,
    /// For writes: true when Stripe answered from its idempotency cache because this exact write had already been done (nothing happened twice)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replayed: Option<bool>,
    /// For writes: the idempotency key the write was sent with
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// A page of objects.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ListResult {
    /// The objects, newest first
    pub objects: Vec<Value>,
    /// Whether more objects follow
    pub has_more: bool,
    /// Pass as starting_after to get the next page (set when has_more)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_starting_after: Option<String>,
}

/// A page of search results.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SearchResult {
    /// The matching objects
    pub objects: Vec<Value>,
    /// Whether more results follow
    pub has_more: bool,
    /// Pass as page to get the next page of results (set when has_more)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Sending

/// Checks a `limit` argument.
pub(crate) fn limit_of(page: &Page) -> Result<Option<i64>, ToolError> {
    match page.limit {
        Some(limit) if !(1..=100).contains(&limit) => {
            Err(ToolError::invalid("limit", "a whole number from 1 to 100"))
        }
        other => Ok(other),
    }
}

/// Checks an id argument's prefix, so a customer id passed where a payment intent belongs is
/// caught before the call.
pub(crate) fn id_of(field: &str, id: &str, prefixes: &[&str]) -> Result<String, ToolError> {
    let id = id.trim();
    if prefixes.iter().any(|p| id.starts_with(p)) && id.len() > 4 {
        Ok(id.to_owned())
    } else {
        let shown: Vec<String> = prefixes.iter().map(|p| format!("{p}…")).collect();
        Err(ToolError::invalid(
            field,
            format!("a Stripe id starting {}", shown.join(" or ")),
        ))
    }
}

fn account_of(account: &Option<String>) -> Result<Option<String>, ToolError> {
    match account {
        Some(account) if !crate::config::is_account_id(account) => Err(ToolError::invalid(
            "account",
            "a Connect account id such as acct_1A2b3C4d5E6f7G8h",
        )),
        other => Ok(other.clone()),
    }
}

/// The caller's name for idempotency: the HTTP token holder, or `local`.
pub(crate) fn caller_of(context: &RequestContext<RoleServer>) -> String {
    Caller::of(context)
        .principal
        .unwrap_or_else(|| mcp_common::grants::LOCAL_CALLER.to_owned())
}

impl Stripe {
    /// Sends a read.
    pub(crate) async fn read<R>(
        &self,
        operation: &str,
        account: &Option<String>,
        request: &R,
    ) -> Result<Value, ToolError>
    where
        R: StripeRequest,
        R::Output: miniserde::Deserialize,
    {
        let options = Options {
            account: account_of(account)?,
            idempotency_key: None,
        };
        let answer = self
            .api_for(ToolKind::ReadOnly, operation)?
            .send(operation, request, &options)
            .await
            .map_err(stripe_error)?;
        Ok(answer.raw)
    }

    /// Reads one object.
    pub(crate) async fn get<R>(
        &self,
        operation: &str,
        scope: &ReadScope,
        request: &R,
    ) -> Result<ObjectResult, ToolError>
    where
        R: StripeRequest,
        R::Output: miniserde::Deserialize,
    {
        let raw = self.read(operation, &scope.account, request).await?;
        let object = shape(&raw, scope.fields.into());
        Ok(ObjectResult {
            summary: headline(&shape(&raw, Detail::Summary)),
            object,
            replayed: None,
            idempotency_key: None,
        })
    }

    /// Reads one page of a list.
    pub(crate) async fn list<R>(
        &self,
        operation: &str,
        scope: &ReadScope,
        request: &R,
    ) -> Result<ListResult, ToolError>
    where
        R: StripeRequest,
        R::Output: miniserde::Deserialize,
    {
        let raw = self.read(operation, &scope.account, request).await?;
        let items = raw["data"].as_array().cloned().unwrap_or_default();
        let has_more = raw["has_more"].as_bool().unwrap_or(false);
        let next_starting_after = if has_more {
            items
                .last()
                .and_then(|last| last["id"].as_str())
                .map(str::to_owned)
        } else {
            None
        };
        let detail: Detail = scope.fields.into();
        Ok(ListResult {
            objects: items.iter().map(|item| shape(item, detail)).collect(),
            has_more,
            next_starting_after,
        })
    }

    /// Runs one search.
    pub(crate) async fn search<R>(
        &self,
        operation: &str,
        scope: &ReadScope,
        request: &R,
    ) -> Result<SearchResult, ToolError>
    where
        R: StripeRequest,
        R::Output: miniserde::Deserialize,
    {
        let raw = self.read(operation, &scope.account, request).await?;
        let items = raw["data"].as_array().cloned().unwrap_or_default();
        let detail: Detail = scope.fields.into();
        Ok(SearchResult {
            objects: items.iter().map(|item| shape(item, detail)).collect(),
            has_more: raw["has_more"].as_bool().unwrap_or(false),
            next_page: raw["next_page"].as_str().map(str::to_owned),
        })
    }

    /// Sends a write under its idempotency key: `arguments` (the tool's own, as the caller
    /// gave them) and the caller decide the derived key.
    pub(crate) async fn write<R>(
        &self,
        tool: &str,
        arguments: &impl Serialize,
        scope: &WriteScope,
        context: &RequestContext<RoleServer>,
        request: &R,
    ) -> Result<ObjectResult, ToolError>
    where
        R: StripeRequest,
        R::Output: miniserde::Deserialize,
    {
        let account = account_of(&scope.account)?;
        let key = match &scope.idempotency_key {
            Some(key) => idempotency_key_of(key)?,
            None => {
                let arguments = serde_json::to_value(arguments).unwrap_or(Value::Null);
                self.keys.key_for(
                    tool,
                    &arguments,
                    &caller_of(context),
                    account.as_deref().or(self.api.default_account()),
                )
            }
        };
        mcp_common::audit::note("idempotency_key", key.clone());
        let options = Options {
            account,
            idempotency_key: Some(key.clone()),
        };
        let answer = self
            .api_for(ToolKind::Write, tool)?
            .send(tool, request, &options)
            .await
            .map_err(|error| write_error(tool, &key, error))?;
        mcp_common::audit::note("replayed", answer.replayed);
        if let Some(id) = answer.raw["id"].as_str() {
            mcp_common::audit::note("object", id);
        }
        let object = shape(&answer.raw, Detail::Summary);
        let mut summary = headline(&object);
        if answer.replayed {
            summary.push_str(
                " (already done: Stripe returned the result of the first identical call)",
            );
        }
        Ok(ObjectResult {
            summary,
            object,
            replayed: Some(answer.replayed),
            idempotency_key: Some(key),
        })
    }
}

/// A write's failure as the caller reads it. The key makes the retries safe, but it does not make
/// the outcome known: when the last attempt may have reached Stripe (a timeout, a reset, a 5xx, an
/// answer cut short) or Stripe answered with success in a shape this server cannot read, the
/// write may have been carried out, and the error says so rather than reading as "nothing
/// happened".
fn write_error(tool: &str, key: &str, error: StripeError) -> ToolError {
    match error {
        StripeError::Backend(mut error)
            if error.open_for.is_none()
                && error.failure.as_ref().is_some_and(|failure| {
                    matches!(
                        failure.kind,
                        FailureKind::Timeout | FailureKind::Unavailable | FailureKind::Protocol
                    ) && !failure.not_acted
                }) =>
        {
            error.maybe_applied = true;
            ToolError::Backend(error)
        }
        unreadable @ StripeError::Unreadable { .. } => ToolError::Other(format!(
            "{unreadable}; Stripe answered with success, so {tool} was probably carried out: calling it again with the same arguments within STRIPE_IDEMPOTENCY_WINDOW_SECS returns the first result without acting twice (idempotency key {key})"
        )),
        other => stripe_error(other),
    }
}

/// Stripe accepts keys of up to 255 characters.
fn idempotency_key_of(key: &str) -> Result<String, ToolError> {
    let key = key.trim();
    if key.is_empty() || key.len() > 255 || key.chars().any(char::is_control) {
        return Err(ToolError::invalid(
            "idempotency_key",
            "1 to 255 printable characters",
        ));
    }
    Ok(key.to_owned())
}

/// A Stripe failure as the caller reads it: Stripe's code, the parameter it names and the
/// request id, never the raw body.
pub(crate) fn stripe_error(error: StripeError) -> ToolError {
    match error {
        StripeError::Api { operation, error } => api_error(&operation, &error),
        StripeError::Backend(error) => ToolError::Backend(error),
        unreadable @ StripeError::Unreadable { .. } => ToolError::Other(unreadable.to_string()),
    }
}

fn api_error(operation: &str, error: &ApiError) -> ToolError {
    let request = error
        .request_id
        .as_ref()
        .map(|id| format!(" — request {id}"))
        .unwrap_or_default();
    let message = error
        .message
        .as_deref()
        .unwrap_or("no reason given")
        .trim_end_matches('.');
    let code = error.code.as_deref();
    match (error.kind.as_str(), error.status) {
        ("card_error", _) => {
            let decline = error
                .decline_code
                .as_ref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            let intent = error
                .payment_intent
                .as_ref()
                .map(|id| format!("; the payment intent {id} stays unpaid"))
                .unwrap_or_default();
            ToolError::Other(format!(
                "Stripe refused the card: {}{decline}: {message}{intent}{request}",
                code.unwrap_or("card_error")
            ))
        }
        ("idempotency_error", _) => ToolError::Conflict(format!(
            "Stripe refused {operation}: {message}. The idempotency key was already used for a different request; to make a separate write pass a new `idempotency_key`{request}"
        )),
        (_, 401) => ToolError::Other(format!(
            "Stripe rejected the API key: {message} — check STRIPE_API_KEY{request}"
        )),
        (_, 403) => ToolError::Refused(format!(
            "Stripe refused {operation} for this key: {message} — a restricted key needs the permission for this resource (Dashboard → Developers → API keys){request}"
        )),
        _ if code == Some("resource_missing") => ToolError::NotFound {
            what: format!("{message}{request}"),
            hint: Some("check the id; the list_ and search tools show valid ones".into()),
        },
        _ => {
            let param = error
                .param
                .as_ref()
                .map(|p| format!(" (parameter `{p}`)"))
                .unwrap_or_default();
            let code = code.map(|c| format!(": {c}")).unwrap_or_default();
            ToolError::Other(format!(
                "Stripe rejected {operation}{code}{param}: {message}{request}"
            ))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Resources and prompt

const CUSTOMERS_URI: &str = "stripe://customers/";
const INVOICES_URI: &str = "stripe://invoices/";

/// The customer whose billing to summarise.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct BillingArgs {
    /// The customer's id (cus_…)
    pub customer: String,
}

#[prompt_router]
impl Stripe {
    /// Summarise a customer's billing: who they are, their subscriptions, open invoices and recent payments.
    #[prompt(name = "billing_summary")]
    async fn billing_summary(
        &self,
        Parameters(args): Parameters<BillingArgs>,
    ) -> Result<GetPromptResult, McpError> {
        let customer = id_of("customer", &args.customer, &["cus_"])
            .map_err(|e| McpError::invalid_params(e.message(), None))?;
        let snapshot = self
            .billing_snapshot(&customer)
            .await
            .map_err(|e| McpError::invalid_params(e.message(), None))?;
        let text = format!(
            "Summarise the billing of this Stripe customer for a colleague: who they are, what they pay for (subscriptions), what they owe (open invoices), how recent payments went, and anything that needs attention (failed payments, disputes, past-due invoices). Amounts are in minor units with a display string beside them.\n\n{}",
            serde_json::to_string_pretty(&snapshot).unwrap_or_default()
        );
        Ok(
            GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)])
                .with_description(format!("Billing summary of {customer}")),
        )
    }
}

impl Stripe {
    /// The customer with their subscriptions, invoices and payment intents, trimmed.
    async fn billing_snapshot(&self, customer: &str) -> Result<Value, ToolError> {
        use stripe_billing::invoice::ListInvoice;
        use stripe_billing::subscription::ListSubscription;
        use stripe_core::customer::RetrieveCustomer;
        use stripe_core::payment_intent::ListPaymentIntent;
        let scope = ReadScope::default();
        let profile = self
            .get(
                "get_customer",
                &scope,
                &RetrieveCustomer::new(customer.to_owned()),
            )
            .await?;
        let subscriptions = self
            .list(
                "list_subscriptions",
                &scope,
                &ListSubscription::new()
                    .customer(customer.to_owned())
                    .limit(10),
            )
            .await?;
        let invoices = self
            .list(
                "list_invoices",
                &scope,
                &ListInvoice::new().customer(customer.to_owned()).limit(10),
            )
            .await?;
        let payments = self
            .list(
                "list_payment_intents",
                &scope,
                &ListPaymentIntent::new()
                    .customer(customer.to_owned())
                    .limit(10),
            )
            .await?;
        Ok(serde_json::json!({
            "customer": profile.object,
            "subscriptions": subscriptions.objects,
            "invoices": invoices.objects,
            "payment_intents": payments.objects,
        }))
    }
}

#[tool_handler(router = self.tools)]
#[prompt_handler(router = self.prompts)]
impl ServerHandler for Stripe {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_prompts()
                .build(),
        )
        .with_instructions(
            "Stripe: customers, payments, invoices, subscriptions, refunds. Amounts are integers in the currency's smallest unit (cents for eur/usd, whole yen for jpy). Lists page with limit and starting_after. Every write carries an idempotency key, so repeating a call that timed out is safe: it returns the first result instead of acting twice.",
        )
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            ResourceTemplate::new(format!("{CUSTOMERS_URI}{{id}}"), "customer")
                .with_description(
                    "A customer with their subscriptions, open invoices and recent payments",
                )
                .with_mime_type("application/json"),
            ResourceTemplate::new(format!("{INVOICES_URI}{{id}}"), "invoice")
                .with_description("An invoice with its lines")
                .with_mime_type("application/json"),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let uri = request.uri.clone();
        let value = if let Some(id) = uri.strip_prefix(CUSTOMERS_URI) {
            let id = id_of("id", id, &["cus_"]).map_err(|e| e.into_resource_error(&uri))?;
            self.billing_snapshot(&id)
                .await
                .map_err(|e| e.into_resource_error(&uri))?
        } else if let Some(id) = uri.strip_prefix(INVOICES_URI) {
            let id = id_of("id", id, &["in_"]).map_err(|e| e.into_resource_error(&uri))?;
            let invoice = stripe_billing::invoice::RetrieveInvoice::new(id);
            self.get("get_invoice", &ReadScope::default(), &invoice)
                .await
                .map_err(|e| e.into_resource_error(&uri))?
                .object
        } else {
            return Err(resource_not_found(
                &uri,
                format!("no resource {uri}; use {CUSTOMERS_URI}{{id}} or {INVOICES_URI}{{id}}"),
            ));
        };
        let text = serde_json::to_string_pretty(&value)
            .map_err(|e| McpError::internal_error(e.to_string(), None))?;
        Ok(ReadResourceResult::new(vec![
            ResourceContents::text(text, &uri).with_mime_type("application/json"),
        ])
        .into())
    }
}

impl Domain for Stripe {
    fn tools(&self) -> Vec<Tool> {
        self.tools.list_all()
    }

    fn probes(&self) -> Vec<Probe> {
        let api = self.api.clone();
        vec![Probe::new("stripe", move || {
            let api = api.clone();
            async move {
                let balance = stripe_core::balance::RetrieveForMyAccountBalance::new();
                let options = Options::default();
                match api.send("get_balance", &balance, &options).await {
                    Ok(_) => Ok(match api.mode() {
                        Mode::Test => "test mode".to_owned(),
                        Mode::Live => "live mode".to_owned(),
                    }),
                    Err(error) => Err(stripe_error(error).message()),
                }
            }
        })]
    }

    fn sensitive_arguments(&self) -> Vec<&'static str> {
        Vec::new()
    }

    fn previews(&self) -> Previews<Self> {
        previews::all()
    }

    fn withheld(&self, tool: &str, kind: ToolKind) -> Option<String> {
        (kind != ToolKind::ReadOnly && self.api.mode() == Mode::Live && !self.live_writes).then(|| {
            format!(
                "`{tool}` changes Stripe data and STRIPE_API_KEY is a live-mode key: writes with a live key are off unless the operator sets STRIPE_LIVE_WRITES=true. Nothing was sent to Stripe."
            )
        })
    }
}

/// One metadata pair. A list of pairs rather than a free-form object, so that the schema stays
/// usable by clients that require closed object schemas (OpenAI's strict function calling).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MetadataEntry {
    /// The key, 1 to 40 characters without square brackets
    pub key: String,
    /// The value, at most 500 characters (on an update, an empty value removes the key)
    pub value: String,
}

/// Metadata arguments: at most 50 keys of up to 40 characters, values up to 500 (Stripe's limits).
pub(crate) fn metadata_of(
    metadata: &Option<Vec<MetadataEntry>>,
) -> Result<Option<HashMap<String, String>>, ToolError> {
    let Some(entries) = metadata else {
        return Ok(None);
    };
    if entries.len() > 50 {
        return Err(ToolError::invalid("metadata", "at most 50 keys"));
    }
    let mut metadata = HashMap::with_capacity(entries.len());
    for MetadataEntry { key, value } in entries {
        if metadata.insert(key.clone(), value.clone()).is_some() {
            return Err(ToolError::invalid(
                "metadata",
                format!("each key once; `{key}` is given twice"),
            ));
        }
    }
    for (key, value) in &metadata {
        if key.is_empty() || key.chars().count() > 40 || key.contains('[') || key.contains(']') {
            return Err(ToolError::invalid(
                "metadata",
                format!("keys of 1 to 40 characters without square brackets; `{key}` is not one"),
            ));
        }
        if value.chars().count() > 500 {
            return Err(ToolError::invalid(
                format!("metadata.{key}"),
                "a value of at most 500 characters",
            ));
        }
    }
    Ok(Some(metadata))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripe_errors_read_as_sentences() {
        let declined = ApiError {
            status: 402,
            kind: "card_error".into(),
            code: Some("card_declined".into()),
            decline_code: Some("insufficient_funds".into()),
            message: Some("Your card has insufficient funds.".into()),
            request_id: Some("req_123".into()),
            payment_intent: Some("pi_9".into()),
            ..ApiError::default()
        };
        assert_eq!(
            api_error("create_payment_intent", &declined).message(),
            "Stripe refused the card: card_declined (insufficient_funds): Your card has insufficient funds; the payment intent pi_9 stays unpaid — request req_123"
        );
        let currency = ApiError {
            status: 400,
            kind: "invalid_request_error".into(),
            code: Some("parameter_invalid".into()),
            param: Some("currency".into()),
            message: Some("Invalid currency: xyz.".into()),
            request_id: Some("req_4".into()),
            ..ApiError::default()
        };
        assert_eq!(
            api_error("create_price", &currency).message(),
            "Stripe rejected create_price: parameter_invalid (parameter `currency`): Invalid currency: xyz — request req_4"
        );
        let reused = ApiError {
            status: 400,
            kind: "idempotency_error".into(),
            message: Some("Keys for idempotent requests can only be used with the same parameters they were first used with.".into()),
            ..ApiError::default()
        };
        assert!(matches!(
            api_error("create_refund", &reused),
            ToolError::Conflict(m) if m.contains("pass a new `idempotency_key`")
        ));
        let missing = ApiError {
            status: 404,
            kind: "invalid_request_error".into(),
            code: Some("resource_missing".into()),
            message: Some("No such customer: 'cus_x'".into()),
            ..ApiError::default()
        };
        assert!(matches!(
            api_error("get_customer", &missing),
            ToolError::NotFound { .. }
        ));
    }

    #[test]
    fn ids_limits_and_metadata_are_checked() {
        assert_eq!(
            id_of("customer", " cus_123 ", &["cus_"]).unwrap(),
            "cus_123"
        );
        let error = id_of("payment_intent", "cus_123", &["pi_"]).unwrap_err();
        assert_eq!(
            error.message(),
            "invalid argument `payment_intent`: expected a Stripe id starting pi_…"
        );
        assert!(
            limit_of(&Page {
                limit: Some(0),
                starting_after: None
            })
            .is_err()
        );
        assert_eq!(
            limit_of(&Page {
                limit: Some(100),
                starting_after: None
            })
            .unwrap(),
            Some(100)
        );
        let entry = |key: &str, value: String| MetadataEntry {
            key: key.into(),
            value,
        };
        let long = vec![entry("note", "x".repeat(501))];
        assert!(
            metadata_of(&Some(long))
                .unwrap_err()
                .message()
                .contains("metadata.note")
        );
        let twice = vec![entry("a", "1".into()), entry("a", "2".into())];
        assert!(
            metadata_of(&Some(twice))
                .unwrap_err()
                .message()
                .contains("`a` is given twice")
        );
        let fine = vec![entry("plan", "pro".into())];
        assert_eq!(
            metadata_of(&Some(fine)).unwrap(),
            Some([("plan".to_owned(), "pro".to_owned())].into())
        );
        assert!(idempotency_key_of("").is_err());
        assert!(idempotency_key_of(&"k".repeat(256)).is_err());
    }
}
