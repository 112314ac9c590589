//! Customers, the account, and search across resources.

use mcp_common::{Json, ToolError};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use stripe_core::customer::{
    CreateCustomer, ListCustomer, RetrieveCustomer, SearchCustomer, UpdateCustomer,
};

use super::{
    GetArgs, ListResult, MetadataEntry, ObjectResult, Page, ReadScope, SearchResult, Stripe,
    WriteScope, id_of, limit_of, metadata_of,
};

/// Filters of `list_customers`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ListCustomersArgs {
    /// Only the customers with exactly this email (case-sensitive, as Stripe compares it)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(flatten)]
    pub page: Page,
    #[serde(flatten)]
    pub scope: ReadScope,
}

/// A search query with its page.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SearchArgs {
    /// Stripe search query, e.g. email:'ana@example.com' or name~'acme' AND metadata['plan']:'pro'
    pub query: String,
    /// How many results to return, 1 to 100 (default 10)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// The `next_page` of the previous result, to get the next page
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    #[serde(flatten)]
    pub scope: ReadScope,
}

/// What `search_stripe` searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Searchable {
    /// Customers (email, name, phone, metadata, created)
    Customers,
    /// Charges (amount, currency, customer, status, payment_intent, metadata, created)
    Charges,
    /// Payment intents (amount, currency, customer, status, metadata, created)
    PaymentIntents,
    /// Invoices (customer, status, total, number, metadata, created)
    Invoices,
    /// Subscriptions (status, metadata, created)
    Subscriptions,
    /// Products (name, active, metadata)
    Products,
    /// Prices (product, currency, active, type, lookup_key, metadata)
    Prices,
}

/// `search_stripe`'s arguments.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SearchStripeArgs {
    /// What to search
    pub resource: Searchable,
    #[serde(flatten)]
    pub search: SearchArgs,
}

/// A new customer.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct CreateCustomerArgs {
    /// The customer's full name or business name
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Email address, where Stripe sends receipts and invoices
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone number
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Internal note about the customer
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Key-value pairs to store with the customer (at most 50 keys)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Vec<MetadataEntry>>,
    #[serde(flatten)]
    pub write: WriteScope,
}

/// Changes to a customer.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct UpdateCustomerArgs {
    /// The customer's id (cus_…)
    pub customer: String,
    /// New name
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New email address
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// New phone number
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// New internal note
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Metadata keys to set (an empty value removes the key)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Vec<MetadataEntry>>,
    #[serde(flatten)]
    pub write: WriteScope,
}

fn search_limit(limit: Option<i64>) -> Result<Option<i64>, ToolError> {
    limit_of(&Page {
        limit,
        starting_after: None,
    })
}

fn query_of(query: &str) -> Result<String, ToolError> {
    let query = query.trim();
    if query.is_empty() || query.len() > 1_000 {
        return Err(ToolError::invalid(
            "query",
            "a Stripe search query of at most 1000 characters, e.g. email:'ana@example.com'",
        ));
    }
    Ok(query.to_owned())
}

/// Builds one search request type with the common query, limit and page.
macro_rules! search_request {
    ($request:ty, $args:expr) => {{
        let args = $args;
        let mut request = <$request>::new(query_of(&args.query)?);
        if let Some(limit) = search_limit(args.limit)? {
            request = request.limit(limit);
        }
        if let Some(page) = &args.page {
            request = request.page(page.clone());
        }
        request
    }};
}

#[tool_router(router = customer_tools, vis = "pub(crate)")]
impl Stripe {
    #[tool(
        description = "Show the Stripe account the key belongs to (or the Connect account given): name, country, default currency, whether charges and payouts are enabled.",
        annotations(
            title = "Get the account",
            read_only_hint = true,
            open_world_hint = true
        )
    )]
    async fn get_account(
        &self,
        Parameters(scope): Parameters<ReadScope>,
    ) -> Result<Json<ObjectResult>, ToolError> {
        let request = stripe_connect::account::RetrieveForMyAccountAccount::new();
        self.get("get_account", &scope, &request).await.map(Json)
    }

    #[tool(
        description = "Get one customer by id (cus_…).",
        annotations(
            title = "Get a customer",
            read_only_hint = true,
            open_world_hint = true
        )
    )]
    async fn get_customer(
        &self,
        Parameters(args): Parameters<GetArgs>,
    ) -> Result<Json<ObjectResult>, ToolError> {
        let id = id_of("id", &args.id, &["cus_"])?;
        self.get("get_customer", &args.scope, &RetrieveCustomer::new(id))
            .await
            .map(Json)
    }

    #[tool(
        description = "List customers, newest first, a page at a time (limit, starting_after); optionally only those with one email.",
        annotations(
            title = "List customers",
            read_only_hint = true,
            open_world_hint = true
        )
    )]
    async fn list_customers(
        &self,
        Parameters(args): Parameters<ListCustomersArgs>,
    ) -> Result<Json<ListResult>, ToolError> {
        let mut request = ListCustomer::new();
        if let Some(limit) = limit_of(&args.page)? {
            request = request.limit(limit);
        }
        if let Some(after) = &args.page.starting_after {
            request = request.starting_after(id_of("starting_after", after, &["cus_"])?);
        }
        if let Some(email) = &args.email {
            request = request.email(email.clone());
        }
        self.list("list_customers", &args.scope, &request)
            .await
            .map(Json)
    }

    #[tool(
        description = "Search customers with Stripe's query language: email:'ana@example.com', name~'acme', phone:'+34…', metadata['key']:'value', created>1700000000; join clauses with AND or OR. Page with next_page.",
        annotations(
            title = "Search customers",
            read_only_hint = true,
            open_world_hint = true
        )
    )]
    async fn search_customers(
        &self,
        Parameters(args): Parameters<SearchArgs>,
    ) -> Result<Json<SearchResult>, ToolError> {
        let request = search_request!(SearchCustomer, &args);
        self.search("search_customers", &args.scope, &request)
            .await
            .map(Json)
    }

    #[tool(
        description = "Search customers, charges, payment intents, invoices, subscriptions, products or prices with Stripe's query language (field:'value', field~'part', metadata['key']:'value', amount>1000; AND or OR). Page with next_page.",
        annotations(title = "Search Stripe", read_only_hint = true, open_world_hint = true)
    )]
    async fn search_stripe(
        &self,
        Parameters(args): Parameters<SearchStripeArgs>,
    ) -> Result<Json<SearchResult>, ToolError> {
        let search = &args.search;
        let scope = &search.scope;
        let operation = "search_stripe";
        let found = match args.resource {
            Searchable::Customers => {
                let request = search_request!(SearchCustomer, search);
                self.search(operation, scope, &request).await
            }
            Searchable::Charges => {
                let request = search_request!(stripe_core::charge::SearchCharge, search);
                self.search(operation, scope, &request).await
            }
            Searchable::PaymentIntents => {
                let request =
                    search_request!(stripe_core::payment_intent::SearchPaymentIntent, search);
                self.search(operation, scope, &request).await
            }
            Searchable::Invoices => {
                let request = search_request!(stripe_billing::invoice::SearchInvoice, search);
                self.search(operation, scope, &request).await
            }
            Searchable::Subscriptions => {
                let request =
                    search_request!(stripe_billing::subscription::SearchSubscription, search);
                self.search(operation, scope, &request).await
            }
            Searchable::Products => {
                let request = search_request!(stripe_product::product::SearchProduct, search);
                self.search(operation, scope, &request).await
            }
            Searchable::Prices => {
                let request = search_request!(stripe_product::price::SearchPrice, search);
                self.search(operation, scope, &request).await
            }
        };
        found.map(Json)
    }

    #[tool(
        description = "Create a customer (name, email, phone, description, metadata). Repeating the same call within the idempotency window returns the same customer instead of a duplicate.",
        annotations(
            title = "Create a customer",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn create_customer(
        &self,
        Parameters(args): Parameters<CreateCustomerArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<ObjectResult>, ToolError> {
        let mut request = CreateCustomer::new();
        if let Some(name) = &args.name {
            request = request.name(name.clone());
        }
        if let Some(email) = &args.email {
            request = request.email(email.clone());
        }
        if let Some(phone) = &args.phone {
            request = request.phone(phone.clone());
        }
        if let Some(description) = &args.description {
            request = request.description(description.clone());
        }
        if let Some(metadata) = metadata_of(&args.metadata)? {
            request = request.metadata(metadata);
        }
        self.write("create_customer", &args, &args.write, &context, &request)
            .await
            .map(Json)
    }

    #[tool(
        description = "Change a customer's name, email, phone, description or metadata; fields not given stay as they are.",
        annotations(
            title = "Update a customer",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn update_customer(
        &self,
        Parameters(args): Parameters<UpdateCustomerArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<ObjectResult>, ToolError> {
        let id = id_of("customer", &args.customer, &["cus_"])?;
        let mut request = UpdateCustomer::new(id);
        if let Some(name) = &args.name {
            request = request.name(name.clone());
        }
        if let Some(email) = &args.email {
            request = request.email(email.clone());
        }
        if let Some(phone) = &args.phone {
            request = request.phone(phone.clone());
        }
        if let Some(description) = &args.description {
            request = request.description(description.clone());
        }
        if let Some(metadata) = metadata_of(&args.metadata)? {
            request = request.metadata(metadata);
        }
        self.write("update_customer", &args, &args.write, &context, &request)
            .await
            .map(Json)
    }
}
