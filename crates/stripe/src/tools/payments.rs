//! Money in and out: balance, payment intents, charges, refunds and disputes.

use mcp_common::{Json, ToolError};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use stripe_core::balance::RetrieveForMyAccountBalance;
use stripe_core::balance_transaction::ListBalanceTransaction;
use stripe_core::charge::ListCharge;
use stripe_core::dispute::{ListDispute, UpdateDispute, UpdateDisputeEvidence};
use stripe_core::payment_intent::{
    CancelPaymentIntent, CancelPaymentIntentCancellationReason, CreatePaymentIntent,
    CreatePaymentIntentAutomaticPaymentMethods,
    CreatePaymentIntentAutomaticPaymentMethodsAllowRedirects, ListPaymentIntent,
    RetrievePaymentIntent,
};
use stripe_core::refund::{CreateRefund, CreateRefundReason, ListRefund};

use super::{
    GetArgs, ListResult, MetadataEntry, ObjectResult, Page, ReadScope, Stripe, WriteScope, id_of,
    limit_of, metadata_of,
};
use crate::money;

/// A page with an optional filter by customer.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ByCustomerArgs {
    /// Only those of this customer (cus_…)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    #[serde(flatten)]
    pub page: Page,
    #[serde(flatten)]
    pub scope: ReadScope,
}

/// A page with optional filters by payment intent and charge.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ByPaymentArgs {
    /// Only those of this payment intent (pi_…)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_intent: Option<String>,
    /// Only those of this charge (ch_…)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge: Option<String>,
    #[serde(flatten)]
    pub page: Page,
    #[serde(flatten)]
    pub scope: ReadScope,
}

/// `list_charges`' filters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ListChargesArgs {
    /// Only the charges of this customer (cus_…)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// Only the charges of this payment intent (pi_…)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_intent: Option<String>,
    #[serde(flatten)]
    pub page: Page,
    #[serde(flatten)]
    pub scope: ReadScope,
}

/// `list_balance_transactions`' filters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ListBalanceTransactionsArgs {
    /// Only this type: charge, refund, payout, adjustment, stripe_fee, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    #[serde(flatten)]
    pub page: Page,
    #[serde(flatten)]
    pub scope: ReadScope,
}

/// A new payment intent.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CreatePaymentIntentArgs {
    /// Amount in the currency's smallest unit: 1250 is €12.50, 500 is ¥500
    pub amount: i64,
    /// Three-letter ISO currency code, e.g. eur, usd, jpy
    pub currency: String,
    /// The customer paying (cus_…)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// A saved payment method of the customer (pm_…) to charge at once; without it the payment intent waits for one
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<String>,
    /// What the payment is for, shown in the Dashboard
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Email address to send the receipt to
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt_email: Option<String>,
    /// Key-value pairs to store with the payment
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Vec<MetadataEntry>>,
    #[serde(flatten)]
    pub write: WriteScope,
}

/// Why a payment intent is cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CancellationReason {
    /// The customer gave up
    Abandoned,
    /// It duplicates another payment
    Duplicate,
    /// It looks fraudulent
    Fraudulent,
    /// The customer asked
    RequestedByCustomer,
}

/// `cancel_payment_intent`'s arguments.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CancelPaymentIntentArgs {
    /// The payment intent (pi_…); it must not have succeeded yet
    pub payment_intent: String,
    /// Why
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<CancellationReason>,
    #[serde(flatten)]
    pub write: WriteScope,
}

/// Why money goes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundReason {
    /// The customer was charged twice
    Duplicate,
    /// The payment was fraudulent
    Fraudulent,
    /// The customer asked for it
    RequestedByCustomer,
}

/// `create_refund`'s arguments.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CreateRefundArgs {
    /// The payment intent to refund (pi_…); give this or charge
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_intent: Option<String>,
    /// The charge to refund (ch_…); give this or payment_intent
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge: Option<String>,
    /// How much to refund, in the currency's smallest unit; default everything not yet refunded
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    /// Why
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<RefundReason>,
    /// Key-value pairs to store with the refund
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Vec<MetadataEntry>>,
    #[serde(flatten)]
    pub write: WriteScope,
}

/// Evidence for a dispute; every field is optional text.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct DisputeEvidence {
    /// What was sold
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_description: Option<String>,
    /// The customer's name
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_name: Option<String>,
    /// The customer's email address
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_email_address: Option<String>,
    /// Shipping carrier
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_carrier: Option<String>,
    /// Shipping tracking number
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_tracking_number: Option<String>,
    /// Date of shipping, YYYY-MM-DD
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_date: Option<String>,
    /// Date the service was provided, YYYY-MM-DD
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_date: Option<String>,
    /// How the refund policy was shown to the customer
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_policy_disclosure: Option<String>,
    /// Why the customer is not entitled to a refund
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_refusal_explanation: Option<String>,
    /// Why the subscription was not cancelled as the customer claims
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation_rebuttal: Option<String>,
    /// Why the charge is not a duplicate
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_charge_explanation: Option<String>,
    /// Any other evidence, as text
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncategorized_text: Option<String>,
}

/// `update_dispute`'s arguments.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct UpdateDisputeArgs {
    /// The dispute (dp_… or du_…)
    pub dispute: String,
    /// Evidence to add; fields given replace earlier ones
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<DisputeEvidence>,
    /// true to submit the evidence to the bank now (it cannot be changed afterwards); default false stages it
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submit: Option<bool>,
    /// Key-value pairs to store with the dispute
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Vec<MetadataEntry>>,
    #[serde(flatten)]
    pub write: WriteScope,
}

impl DisputeEvidence {
    fn into_request(self) -> UpdateDisputeEvidence {
        let mut evidence = UpdateDisputeEvidence::new();
        evidence.product_description = self.product_description;
        evidence.customer_name = self.customer_name;
        evidence.customer_email_address = self.customer_email_address;
        evidence.shipping_carrier = self.shipping_carrier;
        evidence.shipping_tracking_number = self.shipping_tracking_number;
        evidence.shipping_date = self.shipping_date;
        evidence.service_date = self.service_date;
        evidence.refund_policy_disclosure = self.refund_policy_disclosure;
        evidence.refund_refusal_explanation = self.refund_refusal_explanation;
        evidence.cancellation_rebuttal = self.cancellation_rebuttal;
        evidence.duplicate_charge_explanation = self.duplicate_charge_explanation;
        evidence.uncategorized_text = self.uncategorized_text;
        evidence
    }
}

#[tool_router(router = payment_tools, vis = "pub(crate)")]
impl Stripe {
    #[tool(
        description = "Show the account's balance: funds available and pending, per currency.",
        annotations(
            title = "Get the balance",
            read_only_hint = true,
            open_world_hint = true
        )
    )]
    async fn get_balance(
        &self,
        Parameters(scope): Parameters<ReadScope>,
    ) -> Result<Json<ObjectResult>, ToolError> {
        self.get("get_balance", &scope, &RetrieveForMyAccountBalance::new())
            .await
            .map(Json)
    }

    #[tool(
        description = "List balance transactions (charges, refunds, payouts, fees), newest first, a page at a time; optionally of one type.",
        annotations(
            title = "List balance transactions",
            read_only_hint = true,
            open_world_hint = true
        )
    )]
    async fn list_balance_transactions(
        &self,
        Parameters(args): Parameters<ListBalanceTransactionsArgs>,
    ) -> Result<Json<ListResult>, ToolError> {
        let mut request = ListBalanceTransaction::new();
        if let Some(limit) = limit_of(&args.page)? {
            request = request.limit(limit);
        }
        if let Some(after) = &args.page.starting_after {
            request = request.starting_after(id_of("starting_after", after, &["txn_"])?);
        }
        if let Some(kind) = &args.r#type {
            request = request.type_(kind.clone());
        }
        self.list("list_balance_transactions", &args.scope, &request)
            .await
            .map(Json)
    }

    #[tool(
        description = "Get one payment intent by id (pi_…): amount, status, customer, last error.",
        annotations(
            title = "Get a payment intent",
            read_only_hint = true,
            open_world_hint = true
        )
    )]
    async fn get_payment_intent(
        &self,
        Parameters(args): Parameters<GetArgs>,
    ) -> Result<Json<ObjectResult>, ToolError> {
        let id = id_of("id", &args.id, &["pi_"])?;
        self.get(
            "get_payment_intent",
            &args.scope,
            &RetrievePaymentIntent::new(id),
        )
        .await
        .map(Json)
    }

    #[tool(
        description = "List payment intents, newest first, a page at a time; optionally of one customer.",
        annotations(
            title = "List payment intents",
            read_only_hint = true,
            open_world_hint = true
        )
    )]
    async fn list_payment_intents(
        &self,
        Parameters(args): Parameters<ByCustomerArgs>,
    ) -> Result<Json<ListResult>, ToolError> {
        let mut request = ListPaymentIntent::new();
        if let Some(limit) = limit_of(&args.page)? {
            request = request.limit(limit);
        }
        if let Some(after) = &args.page.starting_after {
            request = request.starting_after(id_of("starting_after", after, &["pi_"])?);
        }
        if let Some(customer) = &args.customer {
            request = request.customer(id_of("customer", customer, &["cus_"])?);
        }
        self.list("list_payment_intents", &args.scope, &request)
            .await
            .map(Json)
    }

    #[tool(
        description = "List charges, newest first, a page at a time; optionally of one customer or payment intent.",
        annotations(title = "List charges", read_only_hint = true, open_world_hint = true)
    )]
    async fn list_charges(
        &self,
        Parameters(args): Parameters<ListChargesArgs>,
    ) -> Result<Json<ListResult>, ToolError> {
        let mut request = ListCharge::new();
        if let Some(limit) = limit_of(&args.page)? {
            request = request.limit(limit);
        }
        if let Some(after) = &args.page.starting_after {
            request = request.starting_after(id_of("starting_after", after, &["ch_", "py_"])?);
        }
        if let Some(customer) = &args.customer {
            request = request.customer(id_of("customer", customer, &["cus_"])?);
        }
        if let Some(intent) = &args.payment_intent {
            request = request.payment_intent(id_of("payment_intent", intent, &["pi_"])?);
        }
        self.list("list_charges", &args.scope, &request)
            .await
            .map(Json)
    }

    #[tool(
        description = "List refunds, newest first, a page at a time; optionally of one payment intent or charge.",
        annotations(title = "List refunds", read_only_hint = true, open_world_hint = true)
    )]
    async fn list_refunds(
        &self,
        Parameters(args): Parameters<ByPaymentArgs>,
    ) -> Result<Json<ListResult>, ToolError> {
        let mut request = ListRefund::new();
        if let Some(limit) = limit_of(&args.page)? {
            request = request.limit(limit);
        }
        if let Some(after) = &args.page.starting_after {
            request = request.starting_after(id_of("starting_after", after, &["re_", "pyr_"])?);
        }
        if let Some(intent) = &args.payment_intent {
            request = request.payment_intent(id_of("payment_intent", intent, &["pi_"])?);
        }
        if let Some(charge) = &args.charge {
            request = request.charge(id_of("charge", charge, &["ch_", "py_"])?);
        }
        self.list("list_refunds", &args.scope, &request)
            .await
            .map(Json)
    }

    #[tool(
        description = "List disputes (chargebacks), newest first, a page at a time; optionally of one payment intent or charge.",
        annotations(title = "List disputes", read_only_hint = true, open_world_hint = true)
    )]
    async fn list_disputes(
        &self,
        Parameters(args): Parameters<ByPaymentArgs>,
    ) -> Result<Json<ListResult>, ToolError> {
        let mut request = ListDispute::new();
        if let Some(limit) = limit_of(&args.page)? {
            request = request.limit(limit);
        }
        if let Some(after) = &args.page.starting_after {
            request = request.starting_after(id_of("starting_after", after, &["dp_", "du_"])?);
        }
        if let Some(intent) = &args.payment_intent {
            request = request.payment_intent(id_of("payment_intent", intent, &["pi_"])?);
        }
        if let Some(charge) = &args.charge {
            request = request.charge(id_of("charge", charge, &["ch_", "py_"])?);
        }
        self.list("list_disputes", &args.scope, &request)
            .await
            .map(Json)
    }

    #[tool(
        description = "Create a payment intent for an amount in a currency; with a customer's saved payment_method (pm_…) it is charged at once. Repeating the same call within the idempotency window returns the first payment intent: it never charges twice.",
        annotations(
            title = "Create a payment",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn create_payment_intent(
        &self,
        Parameters(args): Parameters<CreatePaymentIntentArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<ObjectResult>, ToolError> {
        let currency =
            money::currency(&args.currency).map_err(|e| ToolError::invalid("currency", e))?;
        let amount = money::amount("amount", args.amount, &args.currency)?;
        let mut request = CreatePaymentIntent::new(amount, currency);
        if let Some(customer) = &args.customer {
            request = request.customer(id_of("customer", customer, &["cus_"])?);
        }
        if let Some(method) = &args.payment_method {
            request = request
                .payment_method(id_of("payment_method", method, &["pm_", "card_", "src_"])?)
                .confirm(true)
                // Confirmed here, off the customer's screen: nobody could follow a redirect or
                // complete a 3-D Secure step, so such payment methods are refused up front.
                .automatic_payment_methods({
                    let mut methods = CreatePaymentIntentAutomaticPaymentMethods::new(true);
                    methods.allow_redirects =
                        Some(CreatePaymentIntentAutomaticPaymentMethodsAllowRedirects::Never);
                    methods
                })
                .error_on_requires_action(true);
        }
        if let Some(description) = &args.description {
            request = request.description(description.clone());
        }
        if let Some(email) = &args.receipt_email {
            request = request.receipt_email(email.clone());
        }
        if let Some(metadata) = metadata_of(&args.metadata)? {
            request = request.metadata(metadata);
        }
        self.write(
            "create_payment_intent",
            &args,
            &args.write,
            &context,
            &request,
        )
        .await
        .map(Json)
    }

    #[tool(
        description = "Cancel a payment intent that has not succeeded, so it can no longer be charged.",
        annotations(
            title = "Cancel a payment",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn cancel_payment_intent(
        &self,
        Parameters(args): Parameters<CancelPaymentIntentArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<ObjectResult>, ToolError> {
        let id = id_of("payment_intent", &args.payment_intent, &["pi_"])?;
        let mut request = CancelPaymentIntent::new(id);
        if let Some(reason) = args.reason {
            let reason = match reason {
                CancellationReason::Abandoned => CancelPaymentIntentCancellationReason::Abandoned,
                CancellationReason::Duplicate => CancelPaymentIntentCancellationReason::Duplicate,
                CancellationReason::Fraudulent => CancelPaymentIntentCancellationReason::Fraudulent,
                CancellationReason::RequestedByCustomer => {
                    CancelPaymentIntentCancellationReason::RequestedByCustomer
                }
            };
            request = request.cancellation_reason(reason);
        }
        self.write(
            "cancel_payment_intent",
            &args,
            &args.write,
            &context,
            &request,
        )
        .await
        .map(Json)
    }

    #[tool(
        description = "Refund a payment, wholly or in part (amount in the currency's smallest unit). Money leaves the account and cannot be taken back; repeating the same call within the idempotency window does not refund twice.",
        annotations(
            title = "Refund a payment",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn create_refund(
        &self,
        Parameters(args): Parameters<CreateRefundArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<ObjectResult>, ToolError> {
        let mut request = CreateRefund::new();
        match (&args.payment_intent, &args.charge) {
            (Some(intent), None) => {
                request = request.payment_intent(id_of("payment_intent", intent, &["pi_"])?)
            }
            (None, Some(charge)) => {
                request = request.charge(id_of("charge", charge, &["ch_", "py_"])?)
            }
            _ => {
                return Err(ToolError::invalid(
                    "payment_intent",
                    "exactly one of payment_intent (pi_…) or charge (ch_…)",
                ));
            }
        }
        if let Some(amount) = args.amount {
            if amount <= 0 {
                return Err(ToolError::invalid(
                    "amount",
                    "a positive whole number of the currency's smallest unit, or nothing to refund everything",
                ));
            }
            request = request.amount(amount);
        }
        if let Some(reason) = args.reason {
            request = request.reason(match reason {
                RefundReason::Duplicate => CreateRefundReason::Duplicate,
                RefundReason::Fraudulent => CreateRefundReason::Fraudulent,
                RefundReason::RequestedByCustomer => CreateRefundReason::RequestedByCustomer,
            });
        }
        if let Some(metadata) = metadata_of(&args.metadata)? {
            request = request.metadata(metadata);
        }
        self.write("create_refund", &args, &args.write, &context, &request)
            .await
            .map(Json)
    }

    #[tool(
        description = "Add evidence to a dispute (chargeback) and optionally submit it to the bank; submitted evidence cannot be changed.",
        annotations(
            title = "Answer a dispute",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn update_dispute(
        &self,
        Parameters(args): Parameters<UpdateDisputeArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<ObjectResult>, ToolError> {
        let id = id_of("dispute", &args.dispute, &["dp_", "du_"])?;
        let mut request = UpdateDispute::new(id);
        if let Some(evidence) = args.evidence.clone() {
            request = request.evidence(evidence.into_request());
        }
        if let Some(submit) = args.submit {
            request = request.submit(submit);
        }
        if let Some(metadata) = metadata_of(&args.metadata)? {
            request = request.metadata(metadata);
        }
        self.write("update_dispute", &args, &args.write, &context, &request)
            .await
            .map(Json)
    }
}
