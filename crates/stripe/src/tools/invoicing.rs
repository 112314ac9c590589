//! Billing: invoices and their items, subscriptions and coupons.

use mcp_common::{Json, Previews, ToolError};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use stripe_billing::invoice::{
    CreateInvoice, FinalizeInvoiceInvoice, ListInvoice, RetrieveInvoice, SendInvoiceInvoice,
    VoidInvoiceInvoice,
};
use stripe_billing::invoice_item::{CreateInvoiceItem, PricingParam};
use stripe_billing::subscription::{
    CancelSubscription, ListSubscription, ListSubscriptionStatus, RetrieveSubscription,
    UpdateSubscription, UpdateSubscriptionItems, UpdateSubscriptionProrationBehavior,
};
use stripe_product::coupon::{CreateCoupon, ListCoupon};
use stripe_shared::{CouponDuration, InvoiceCollectionMethod, InvoiceStatus};

use super::previews::customer_label;
use super::{
    GetArgs, ListResult, MetadataEntry, ObjectResult, Page, ReadScope, Stripe, WriteScope, id_of,
    limit_of, metadata_of,
};
use crate::money;

/// An invoice status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceState {
    /// Being built
    Draft,
    /// Finalized, waiting for payment
    Open,
    /// Paid
    Paid,
    /// Written off
    Uncollectible,
    /// Cancelled
    Void,
}

/// `list_invoices`' filters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ListInvoicesArgs {
    /// Only this customer's invoices (cus_…)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// Only invoices in this state
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<InvoiceState>,
    /// Only this subscription's invoices (sub_…)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription: Option<String>,
    #[serde(flatten)]
    pub page: Page,
    #[serde(flatten)]
    pub scope: ReadScope,
}

/// How an invoice is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Collection {
    /// Stripe charges the customer's default payment method when the invoice is finalized
    ChargeAutomatically,
    /// Stripe emails the invoice and the customer pays it (needs days_until_due)
    SendInvoice,
}

/// A new draft invoice.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CreateInvoiceArgs {
    /// The customer to bill (cus_…)
    pub customer: String,
    /// What the invoice is for, shown on it
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// charge_automatically (default) or send_invoice
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection_method: Option<Collection>,
    /// Days the customer has to pay a sent invoice (with send_invoice)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_until_due: Option<u32>,
    /// false keeps the draft until finalize_invoice; true lets Stripe finalize it after about an hour
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_advance: Option<bool>,
    /// Key-value pairs to store with the invoice
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Vec<MetadataEntry>>,
    #[serde(flatten)]
    pub write: WriteScope,
}

/// A line to bill.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct AddInvoiceItemArgs {
    /// The customer billed (cus_…)
    pub customer: String,
    /// The draft invoice to add it to (in_…); without it the item waits for the customer's next invoice
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice: Option<String>,
    /// A price to bill (price_…), with quantity; or give amount and currency instead
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<String>,
    /// How many of the price (default 1)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u64>,
    /// An amount in the currency's smallest unit, instead of a price
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    /// The amount's currency (with amount)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// What the line is, shown on the invoice
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Key-value pairs to store with the item
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Vec<MetadataEntry>>,
    #[serde(flatten)]
    pub write: WriteScope,
}

/// An invoice to act on.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct InvoiceArgs {
    /// The invoice (in_…)
    pub invoice: String,
    #[serde(flatten)]
    pub write: WriteScope,
}

/// A subscription status to filter by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionState {
    /// Every status, cancelled ones included
    All,
    /// Active
    Active,
    /// Trialing
    Trialing,
    /// A payment failed; Stripe is retrying
    PastDue,
    /// Payments failed and retries are exhausted
    Unpaid,
    /// Paused
    Paused,
    /// Cancelled
    Canceled,
    /// Ended
    Ended,
    /// The first payment has not succeeded yet
    Incomplete,
    /// The first payment never succeeded
    IncompleteExpired,
}

/// `list_subscriptions`' filters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ListSubscriptionsArgs {
    /// Only this customer's subscriptions (cus_…)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// Only subscriptions to this price (price_…)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<String>,
    /// Only this status; default: everything not cancelled
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<SubscriptionState>,
    #[serde(flatten)]
    pub page: Page,
    #[serde(flatten)]
    pub scope: ReadScope,
}

/// How a change is charged for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Proration {
    /// Credit or charge the difference on the next invoice (Stripe's default)
    CreateProrations,
    /// No proration
    None,
    /// Invoice the difference now
    AlwaysInvoice,
}

/// Changes to a subscription.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct UpdateSubscriptionArgs {
    /// The subscription (sub_…)
    pub subscription: String,
    /// The new price of its item (price_…); only for a subscription with one item
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<String>,
    /// The new quantity of its item; only for a subscription with one item
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u64>,
    /// true to end it at the end of the current period, false to undo that
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_at_period_end: Option<bool>,
    /// How a price or quantity change is charged
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proration_behavior: Option<Proration>,
    /// Key-value pairs to set on the subscription
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Vec<MetadataEntry>>,
    #[serde(flatten)]
    pub write: WriteScope,
}

/// `cancel_subscription`'s arguments.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CancelSubscriptionArgs {
    /// The subscription (sub_…)
    pub subscription: String,
    /// Invoice pending usage and prorations now
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice_now: Option<bool>,
    /// Credit the unused time
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prorate: Option<bool>,
    #[serde(flatten)]
    pub write: WriteScope,
}

/// How long a coupon applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Duration {
    /// To one invoice
    Once,
    /// For duration_in_months
    Repeating,
    /// For as long as the subscription lasts
    Forever,
}

/// A new coupon.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CreateCouponArgs {
    /// A percentage off, above 0 and at most 100; or give amount_off and currency
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent_off: Option<f64>,
    /// An amount off in the currency's smallest unit
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_off: Option<i64>,
    /// The currency of amount_off
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// once, repeating (with duration_in_months) or forever
    pub duration: Duration,
    /// Months it applies, with repeating
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_in_months: Option<i64>,
    /// Its name, shown to customers
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// How many times it can be redeemed in all
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_redemptions: Option<i64>,
    /// Key-value pairs to store with the coupon
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Vec<MetadataEntry>>,
    #[serde(flatten)]
    pub write: WriteScope,
}

/// A page of coupons.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ListCouponsArgs {
    #[serde(flatten)]
    pub page: Page,
    #[serde(flatten)]
    pub scope: ReadScope,
}

#[tool_router(router = invoicing_tools, vis = "pub(crate)")]
impl Stripe {
    #[tool(
        description = "Get one invoice by id (in_…) with its lines, amounts due and paid, and status.",
        annotations(
            title = "Get an invoice",
            read_only_hint = true,
            open_world_hint = true
        )
    )]
    async fn get_invoice(
        &self,
        Parameters(args): Parameters<GetArgs>,
    ) -> Result<Json<ObjectResult>, ToolError> {
        let id = id_of("id", &args.id, &["in_"])?;
        self.get("get_invoice", &args.scope, &RetrieveInvoice::new(id))
            .await
            .map(Json)
    }

    #[tool(
        description = "List invoices, newest first, a page at a time; optionally of one customer or subscription, or in one status.",
        annotations(title = "List invoices", read_only_hint = true, open_world_hint = true)
    )]
    async fn list_invoices(
        &self,
        Parameters(args): Parameters<ListInvoicesArgs>,
    ) -> Result<Json<ListResult>, ToolError> {
        let mut request = ListInvoice::new();
        if let Some(limit) = limit_of(&args.page)? {
            request = request.limit(limit);
        }
        if let Some(after) = &args.page.starting_after {
            request = request.starting_after(id_of("starting_after", after, &["in_"])?);
        }
        if let Some(customer) = &args.customer {
            request = request.customer(id_of("customer", customer, &["cus_"])?);
        }
        if let Some(subscription) = &args.subscription {
            request = request.subscription(id_of("subscription", subscription, &["sub_"])?);
        }
        if let Some(status) = args.status {
            request = request.status(match status {
                InvoiceState::Draft => InvoiceStatus::Draft,
                InvoiceState::Open => InvoiceStatus::Open,
                InvoiceState::Paid => InvoiceStatus::Paid,
                InvoiceState::Uncollectible => InvoiceStatus::Uncollectible,
                InvoiceState::Void => InvoiceStatus::Void,
            });
        }
        self.list("list_invoices", &args.scope, &request)
            .await
            .map(Json)
    }

    #[tool(
        description = "Create a draft invoice for a customer; add lines with add_invoice_item, then finalize_invoice and send_invoice.",
        annotations(
            title = "Create an invoice",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn create_invoice(
        &self,
        Parameters(args): Parameters<CreateInvoiceArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<ObjectResult>, ToolError> {
        let customer = id_of("customer", &args.customer, &["cus_"])?;
        let mut request = CreateInvoice::new().customer(customer);
        if let Some(description) = &args.description {
            request = request.description(description.clone());
        }
        match (args.collection_method, args.days_until_due) {
            (Some(Collection::SendInvoice), Some(days)) => {
                request = request
                    .collection_method(InvoiceCollectionMethod::SendInvoice)
                    .days_until_due(days);
            }
            (Some(Collection::SendInvoice), None) => {
                return Err(ToolError::invalid(
                    "days_until_due",
                    "the days the customer has to pay, with collection_method send_invoice",
                ));
            }
            (_, Some(_)) => {
                return Err(ToolError::invalid(
                    "days_until_due",
                    "nothing unless collection_method is send_invoice",
                ));
            }
            (Some(Collection::ChargeAutomatically), None) => {
                request = request.collection_method(InvoiceCollectionMethod::ChargeAutomatically);
            }
            (None, None) => {}
        }
        if let Some(auto) = args.auto_advance {
            request = request.auto_advance(auto);
        }
        if let Some(metadata) = metadata_of(&args.metadata)? {
            request = request.metadata(metadata);
        }
        self.write("create_invoice", &args, &args.write, &context, &request)
            .await
            .map(Json)
    }

    #[tool(
        description = "Add a line to a customer's draft invoice (or their next one): a price with a quantity, or an amount and currency with a description.",
        annotations(
            title = "Add an invoice line",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn add_invoice_item(
        &self,
        Parameters(args): Parameters<AddInvoiceItemArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<ObjectResult>, ToolError> {
        let customer = id_of("customer", &args.customer, &["cus_"])?;
        let mut request = CreateInvoiceItem::new().customer(customer);
        if let Some(invoice) = &args.invoice {
            request = request.invoice(id_of("invoice", invoice, &["in_"])?);
        }
        match (&args.price, args.amount, &args.currency) {
            (Some(price), None, None) => {
                let mut pricing = PricingParam::new();
                pricing.price = Some(id_of("price", price, &["price_"])?);
                request = request.pricing(pricing);
                if let Some(quantity) = args.quantity {
                    if quantity == 0 {
                        return Err(ToolError::invalid(
                            "quantity",
                            "a whole number of at least 1",
                        ));
                    }
                    request = request.quantity(quantity);
                }
            }
            (None, Some(amount), Some(currency)) => {
                let code =
                    money::currency(currency).map_err(|e| ToolError::invalid("currency", e))?;
                let amount = money::amount("amount", amount, currency)?;
                request = request.amount(amount).currency(code);
            }
            _ => {
                return Err(ToolError::invalid(
                    "price",
                    "either price (price_…) with an optional quantity, or amount with currency",
                ));
            }
        }
        if let Some(description) = &args.description {
            request = request.description(description.clone());
        }
        if let Some(metadata) = metadata_of(&args.metadata)? {
            request = request.metadata(metadata);
        }
        self.write("add_invoice_item", &args, &args.write, &context, &request)
            .await
            .map(Json)
    }

    #[tool(
        description = "Finalize a draft invoice: its lines and amounts are fixed and it gets a number; with charge_automatically Stripe then charges it.",
        annotations(
            title = "Finalize an invoice",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn finalize_invoice(
        &self,
        Parameters(args): Parameters<InvoiceArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<ObjectResult>, ToolError> {
        let id = id_of("invoice", &args.invoice, &["in_"])?;
        let request = FinalizeInvoiceInvoice::new(id);
        self.write("finalize_invoice", &args, &args.write, &context, &request)
            .await
            .map(Json)
    }

    #[tool(
        description = "Email a finalized invoice to the customer so they can pay it.",
        annotations(
            title = "Send an invoice",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn send_invoice(
        &self,
        Parameters(args): Parameters<InvoiceArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<ObjectResult>, ToolError> {
        let id = id_of("invoice", &args.invoice, &["in_"])?;
        let request = SendInvoiceInvoice::new(id);
        self.write("send_invoice", &args, &args.write, &context, &request)
            .await
            .map(Json)
    }

    #[tool(
        description = "Void a finalized invoice: it can no longer be paid. Cannot be undone.",
        annotations(
            title = "Void an invoice",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn void_invoice(
        &self,
        Parameters(args): Parameters<InvoiceArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<ObjectResult>, ToolError> {
        let id = id_of("invoice", &args.invoice, &["in_"])?;
        let request = VoidInvoiceInvoice::new(id);
        self.write("void_invoice", &args, &args.write, &context, &request)
            .await
            .map(Json)
    }

    #[tool(
        description = "Get one subscription by id (sub_…) with its items and prices.",
        annotations(
            title = "Get a subscription",
            read_only_hint = true,
            open_world_hint = true
        )
    )]
    async fn get_subscription(
        &self,
        Parameters(args): Parameters<GetArgs>,
    ) -> Result<Json<ObjectResult>, ToolError> {
        let id = id_of("id", &args.id, &["sub_"])?;
        self.get(
            "get_subscription",
            &args.scope,
            &RetrieveSubscription::new(id),
        )
        .await
        .map(Json)
    }

    #[tool(
        description = "List subscriptions, newest first, a page at a time; optionally of one customer or price, or in one status (default: all but cancelled).",
        annotations(
            title = "List subscriptions",
            read_only_hint = true,
            open_world_hint = true
        )
    )]
    async fn list_subscriptions(
        &self,
        Parameters(args): Parameters<ListSubscriptionsArgs>,
    ) -> Result<Json<ListResult>, ToolError> {
        let mut request = ListSubscription::new();
        if let Some(limit) = limit_of(&args.page)? {
            request = request.limit(limit);
        }
        if let Some(after) = &args.page.starting_after {
            request = request.starting_after(id_of("starting_after", after, &["sub_"])?);
        }
        if let Some(customer) = &args.customer {
            request = request.customer(id_of("customer", customer, &["cus_"])?);
        }
        if let Some(price) = &args.price {
            request = request.price(id_of("price", price, &["price_"])?);
        }
        if let Some(status) = args.status {
            use ListSubscriptionStatus as S;
            request = request.status(match status {
                SubscriptionState::All => S::All,
                SubscriptionState::Active => S::Active,
                SubscriptionState::Trialing => S::Trialing,
                SubscriptionState::PastDue => S::PastDue,
                SubscriptionState::Unpaid => S::Unpaid,
                SubscriptionState::Paused => S::Paused,
                SubscriptionState::Canceled => S::Canceled,
                SubscriptionState::Ended => S::Ended,
                SubscriptionState::Incomplete => S::Incomplete,
                SubscriptionState::IncompleteExpired => S::IncompleteExpired,
            });
        }
        self.list("list_subscriptions", &args.scope, &request)
            .await
            .map(Json)
    }

    #[tool(
        description = "Change a subscription: the price or quantity of its single item, ending it at the period's end (or undoing that), metadata; price changes are prorated unless told otherwise.",
        annotations(
            title = "Change a subscription",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn update_subscription(
        &self,
        Parameters(args): Parameters<UpdateSubscriptionArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<ObjectResult>, ToolError> {
        let id = id_of("subscription", &args.subscription, &["sub_"])?;
        let mut request = UpdateSubscription::new(id.clone());
        if args.price.is_some() || args.quantity.is_some() {
            // Changing an item means naming it: read the subscription for its one item's id.
            let current = self
                .read(
                    "update_subscription",
                    &args.write.account,
                    &RetrieveSubscription::new(id),
                )
                .await?;
            let items = current["items"]["data"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let [item] = items.as_slice() else {
                return Err(ToolError::invalid(
                    "price",
                    format!(
                        "a subscription with exactly one item; this one has {}",
                        items.len()
                    ),
                ));
            };
            let mut change = UpdateSubscriptionItems::new();
            change.id = item["id"].as_str().map(str::to_owned);
            if let Some(price) = &args.price {
                change.price = Some(id_of("price", price, &["price_"])?);
            }
            if let Some(quantity) = args.quantity {
                if quantity == 0 {
                    return Err(ToolError::invalid(
                        "quantity",
                        "a whole number of at least 1",
                    ));
                }
                change.quantity = Some(quantity);
            }
            request = request.items(vec![change]);
        }
        if let Some(at_end) = args.cancel_at_period_end {
            request = request.cancel_at_period_end(at_end);
        }
        if let Some(proration) = args.proration_behavior {
            request = request.proration_behavior(match proration {
                Proration::CreateProrations => {
                    UpdateSubscriptionProrationBehavior::CreateProrations
                }
                Proration::None => UpdateSubscriptionProrationBehavior::None,
                Proration::AlwaysInvoice => UpdateSubscriptionProrationBehavior::AlwaysInvoice,
            });
        }
        if let Some(metadata) = metadata_of(&args.metadata)? {
            request = request.metadata(metadata);
        }
        self.write(
            "update_subscription",
            &args,
            &args.write,
            &context,
            &request,
        )
        .await
        .map(Json)
    }

    #[tool(
        description = "Cancel a subscription now: the customer is no longer billed. Cannot be undone (to end it at the period's end instead, use update_subscription with cancel_at_period_end).",
        annotations(
            title = "Cancel a subscription",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn cancel_subscription(
        &self,
        Parameters(args): Parameters<CancelSubscriptionArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<ObjectResult>, ToolError> {
        let id = id_of("subscription", &args.subscription, &["sub_"])?;
        let mut request = CancelSubscription::new(id);
        if let Some(now) = args.invoice_now {
            request = request.invoice_now(now);
        }
        if let Some(prorate) = args.prorate {
            request = request.prorate(prorate);
        }
        self.write(
            "cancel_subscription",
            &args,
            &args.write,
            &context,
            &request,
        )
        .await
        .map(Json)
    }

    #[tool(
        description = "List coupons, newest first, a page at a time.",
        annotations(title = "List coupons", read_only_hint = true, open_world_hint = true)
    )]
    async fn list_coupons(
        &self,
        Parameters(args): Parameters<ListCouponsArgs>,
    ) -> Result<Json<ListResult>, ToolError> {
        let mut request = ListCoupon::new();
        if let Some(limit) = limit_of(&args.page)? {
            request = request.limit(limit);
        }
        if let Some(after) = &args.page.starting_after {
            request = request.starting_after(after.trim().to_owned());
        }
        self.list("list_coupons", &args.scope, &request)
            .await
            .map(Json)
    }

    #[tool(
        description = "Create a coupon: a percentage or an amount off, once, for some months, or forever.",
        annotations(
            title = "Create a coupon",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn create_coupon(
        &self,
        Parameters(args): Parameters<CreateCouponArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<ObjectResult>, ToolError> {
        let mut request = CreateCoupon::new();
        match (args.percent_off, args.amount_off, &args.currency) {
            (Some(percent), None, None) => {
                if !(percent > 0.0 && percent <= 100.0) {
                    return Err(ToolError::invalid(
                        "percent_off",
                        "a number above 0 and at most 100",
                    ));
                }
                request = request.percent_off(percent);
            }
            (None, Some(amount), Some(currency)) => {
                let code =
                    money::currency(currency).map_err(|e| ToolError::invalid("currency", e))?;
                let amount = money::amount("amount_off", amount, currency)?;
                request = request.amount_off(amount).currency(code);
            }
            _ => {
                return Err(ToolError::invalid(
                    "percent_off",
                    "either percent_off, or amount_off with currency",
                ));
            }
        }
        request = match (args.duration, args.duration_in_months) {
            (Duration::Repeating, Some(months)) if (1..=120).contains(&months) => request
                .duration(CouponDuration::Repeating)
                .duration_in_months(months),
            (Duration::Repeating, _) => {
                return Err(ToolError::invalid(
                    "duration_in_months",
                    "the months a repeating coupon applies, 1 to 120",
                ));
            }
            (_, Some(_)) => {
                return Err(ToolError::invalid(
                    "duration_in_months",
                    "nothing unless duration is repeating",
                ));
            }
            (Duration::Once, None) => request.duration(CouponDuration::Once),
            (Duration::Forever, None) => request.duration(CouponDuration::Forever),
        };
        if let Some(name) = &args.name {
            request = request.name(name.clone());
        }
        if let Some(max) = args.max_redemptions {
            if max < 1 {
                return Err(ToolError::invalid(
                    "max_redemptions",
                    "a whole number of at least 1",
                ));
            }
            request = request.max_redemptions(max);
        }
        if let Some(metadata) = metadata_of(&args.metadata)? {
            request = request.metadata(metadata);
        }
        self.write("create_coupon", &args, &args.write, &context, &request)
            .await
            .map(Json)
    }
}

/// `€120.00 to ana@example.com (open)`: an invoice as the person approving knows it.
fn invoice_text(invoice: &Value) -> String {
    let currency = invoice["currency"].as_str().unwrap_or("usd");
    let total = invoice["amount_due"]
        .as_i64()
        .or(invoice["total"].as_i64())
        .unwrap_or(0);
    let to = invoice["customer_email"]
        .as_str()
        .or(invoice["customer_name"].as_str())
        .or(invoice["customer"].as_str())
        .unwrap_or("the customer");
    let status = invoice["status"].as_str().unwrap_or("unknown status");
    format!("{} to {to} ({status})", money::display(total, currency))
}

/// `Pro plan at €29.00/month` for each item of a subscription.
fn subscription_text(subscription: &Value) -> String {
    let items: Vec<String> = subscription["items"]["data"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| {
                    let price = &item["price"];
                    let amount = match (price["unit_amount"].as_i64(), price["currency"].as_str()) {
                        (Some(amount), Some(currency)) => money::display(amount, currency),
                        _ => price["id"].as_str().unwrap_or("a price").to_owned(),
                    };
                    let every = price["recurring"]["interval"]
                        .as_str()
                        .map(|i| format!("/{i}"))
                        .unwrap_or_default();
                    let quantity = item["quantity"].as_i64().unwrap_or(1);
                    let times = if quantity > 1 {
                        format!("{quantity} × ")
                    } else {
                        String::new()
                    };
                    format!("{times}{amount}{every}")
                })
                .collect()
        })
        .unwrap_or_default();
    let customer = subscription["customer"].as_str().unwrap_or("the customer");
    let status = subscription["status"].as_str().unwrap_or("unknown status");
    if items.is_empty() {
        format!("of {customer} ({status})")
    } else {
        format!("of {customer} at {} ({status})", items.join(" + "))
    }
}

impl Stripe {
    async fn described_invoice(&self, id: &str, account: &Option<String>) -> String {
        match self
            .read("preview", account, &RetrieveInvoice::new(id.to_owned()))
            .await
        {
            Ok(invoice) => format!("the invoice {id} of {}", invoice_text(&invoice)),
            Err(_) => format!("the invoice {id}"),
        }
    }

    async fn described_subscription(&self, id: &str, account: &Option<String>) -> String {
        match self
            .read(
                "preview",
                account,
                &RetrieveSubscription::new(id.to_owned()),
            )
            .await
        {
            Ok(subscription) => {
                format!("the subscription {id} {}", subscription_text(&subscription))
            }
            Err(_) => format!("the subscription {id}"),
        }
    }

    async fn preview_create_invoice(self, args: CreateInvoiceArgs) -> Option<String> {
        let who = customer_label(&self, &args.customer, &args.write.account).await;
        let how = match args.collection_method {
            Some(Collection::SendInvoice) => format!(
                ", to be emailed and paid within {} days",
                args.days_until_due.unwrap_or(0)
            ),
            _ => ", charged to their default payment method once finalized".to_owned(),
        };
        Some(format!("create a draft invoice for {who}{how}"))
    }

    async fn preview_add_invoice_item(self, args: AddInvoiceItemArgs) -> Option<String> {
        let who = customer_label(&self, &args.customer, &args.write.account).await;
        let what = match (&args.price, args.amount, &args.currency) {
            (Some(price), _, _) => {
                let quantity = args.quantity.unwrap_or(1);
                let request = stripe_product::price::RetrievePrice::new(price.clone());
                match self.read("preview", &args.write.account, &request).await {
                    Ok(found) => {
                        match (found["unit_amount"].as_i64(), found["currency"].as_str()) {
                            (Some(amount), Some(currency)) => format!(
                                "{quantity} × {} of {price}",
                                money::display(amount, currency)
                            ),
                            _ => format!("{quantity} × {price}"),
                        }
                    }
                    Err(_) => format!("{quantity} × {price}"),
                }
            }
            (None, Some(amount), Some(currency)) => money::display(amount, currency),
            _ => "a line".to_owned(),
        };
        let into = match &args.invoice {
            Some(invoice) => format!("the invoice {invoice}"),
            None => "their next invoice".to_owned(),
        };
        let description = args
            .description
            .as_ref()
            .map(|d| format!(" ({d:?})"))
            .unwrap_or_default();
        Some(format!("bill {who} {what}{description} on {into}"))
    }

    async fn preview_finalize_invoice(self, args: InvoiceArgs) -> Option<String> {
        let invoice = self
            .described_invoice(&args.invoice, &args.write.account)
            .await;
        Some(format!(
            "finalize {invoice}: its amounts become fixed, and if it is charged automatically Stripe charges it now"
        ))
    }

    async fn preview_send_invoice(self, args: InvoiceArgs) -> Option<String> {
        let invoice = self
            .described_invoice(&args.invoice, &args.write.account)
            .await;
        Some(format!("email {invoice} to the customer"))
    }

    async fn preview_void_invoice(self, args: InvoiceArgs) -> Option<String> {
        let invoice = self
            .described_invoice(&args.invoice, &args.write.account)
            .await;
        Some(format!(
            "void {invoice}; it can no longer be paid, and this cannot be undone"
        ))
    }

    async fn preview_update_subscription(self, args: UpdateSubscriptionArgs) -> Option<String> {
        let subscription = self
            .described_subscription(&args.subscription, &args.write.account)
            .await;
        let mut changes = Vec::new();
        if let Some(price) = &args.price {
            changes.push(format!("switch it to the price {price}"));
        }
        if let Some(quantity) = args.quantity {
            changes.push(format!("set the quantity to {quantity}"));
        }
        match args.cancel_at_period_end {
            Some(true) => changes.push("end it at the end of the current period".to_owned()),
            Some(false) => changes.push("keep it running past the current period".to_owned()),
            None => {}
        }
        if let Some(proration) = args.proration_behavior {
            changes.push(
                match proration {
                    Proration::CreateProrations => "prorate the difference on the next invoice",
                    Proration::None => "without proration",
                    Proration::AlwaysInvoice => "invoice the difference now",
                }
                .to_owned(),
            );
        }
        if args.metadata.is_some() {
            changes.push("set metadata".to_owned());
        }
        Some(format!("change {subscription}: {}", changes.join(", ")))
    }

    async fn preview_cancel_subscription(self, args: CancelSubscriptionArgs) -> Option<String> {
        let subscription = self
            .described_subscription(&args.subscription, &args.write.account)
            .await;
        Some(format!(
            "cancel {subscription} now; billing stops and this cannot be undone"
        ))
    }

    async fn preview_create_coupon(self, args: CreateCouponArgs) -> Option<String> {
        Some(coupon_text(&args))
    }
}

/// `create a coupon "Spring" for 20% off for 3 months`.
fn coupon_text(args: &CreateCouponArgs) -> String {
    let off = match (args.percent_off, args.amount_off, &args.currency) {
        (Some(percent), _, _) => format!("{percent}% off"),
        (None, Some(amount), Some(currency)) => format!("{} off", money::display(amount, currency)),
        _ => "a discount".to_owned(),
    };
    let how_long = match args.duration {
        Duration::Once => "once".to_owned(),
        Duration::Forever => "forever".to_owned(),
        Duration::Repeating => format!("for {} months", args.duration_in_months.unwrap_or(0)),
    };
    let name = args
        .name
        .as_ref()
        .map(|n| format!(" {n:?}"))
        .unwrap_or_default();
    format!("create a coupon{name} for {off}, {how_long}")
}

/// The consent previews of billing's writes.
pub(crate) fn previews(previews: Previews<Stripe>) -> Previews<Stripe> {
    previews
        .on("create_invoice", Stripe::preview_create_invoice)
        .on("add_invoice_item", Stripe::preview_add_invoice_item)
        .on("finalize_invoice", Stripe::preview_finalize_invoice)
        .on("send_invoice", Stripe::preview_send_invoice)
        .on("void_invoice", Stripe::preview_void_invoice)
        .on("update_subscription", Stripe::preview_update_subscription)
        .on("cancel_subscription", Stripe::preview_cancel_subscription)
        .on("create_coupon", Stripe::preview_create_coupon)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn invoices_and_subscriptions_read_as_people_know_them() {
        let invoice = json!({"currency": "eur", "amount_due": 12000, "customer_email": "ana@example.com", "status": "open"});
        assert_eq!(invoice_text(&invoice), "€120.00 to ana@example.com (open)");
        let subscription = json!({
            "customer": "cus_1", "status": "active",
            "items": {"data": [{"quantity": 2, "price": {"id": "price_1", "unit_amount": 2900, "currency": "eur", "recurring": {"interval": "month"}}}]}
        });
        assert_eq!(
            subscription_text(&subscription),
            "of cus_1 at 2 × €29.00/month (active)"
        );
    }

    #[test]
    fn coupons_say_how_much_and_how_long() {
        let coupon =
            |percent: Option<f64>, amount: Option<i64>, duration, months| CreateCouponArgs {
                percent_off: percent,
                amount_off: amount,
                currency: amount.map(|_| "usd".to_owned()),
                duration,
                duration_in_months: months,
                name: Some("Spring".into()),
                max_redemptions: None,
                metadata: None,
                write: WriteScope::default(),
            };
        // (coupon, text)
        let cases = [
            (
                coupon(Some(20.0), None, Duration::Repeating, Some(3)),
                "create a coupon \"Spring\" for 20% off, for 3 months",
            ),
            (
                coupon(None, Some(500), Duration::Once, None),
                "create a coupon \"Spring\" for $5.00 off, once",
            ),
            (
                coupon(Some(100.0), None, Duration::Forever, None),
                "create a coupon \"Spring\" for 100% off, forever",
            ),
        ];
        for (args, text) in cases {
            assert_eq!(coupon_text(&args), text);
        }
    }
}
