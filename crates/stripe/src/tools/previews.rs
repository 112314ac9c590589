//! What each write would do, for the person asked to approve it: amounts as people write them,
//! and for refunds and cancellations the payment they touch, read from Stripe first.

use mcp_common::Previews;
use serde_json::Value;

use super::Stripe;
use super::customers::{CreateCustomerArgs, UpdateCustomerArgs};
use super::payments::{
    CancelPaymentIntentArgs, CreatePaymentIntentArgs, CreateRefundArgs, UpdateDisputeArgs,
};
use crate::money;

/// Every write tool's preview.
pub(crate) fn all() -> Previews<Stripe> {
    let previews = Previews::new()
        .on("create_customer", Stripe::preview_create_customer)
        .on("update_customer", Stripe::preview_update_customer)
        .on(
            "create_payment_intent",
            Stripe::preview_create_payment_intent,
        )
        .on(
            "cancel_payment_intent",
            Stripe::preview_cancel_payment_intent,
        )
        .on("create_refund", Stripe::preview_create_refund)
        .on("update_dispute", Stripe::preview_update_dispute);
    super::products::previews(super::invoicing::previews(previews))
}

/// `ana@example.com (Ana Pérez)`, or the id when the customer cannot be read.
pub(crate) async fn customer_label(stripe: &Stripe, id: &str, account: &Option<String>) -> String {
    let request = stripe_core::customer::RetrieveCustomer::new(id.to_owned());
    match stripe.read("preview", account, &request).await {
        Ok(customer) => {
            let email = customer["email"].as_str();
            let name = customer["name"].as_str();
            match (email, name) {
                (Some(email), Some(name)) => format!("{id} {email} ({name})"),
                (Some(email), None) => format!("{id} {email}"),
                (None, Some(name)) => format!("{id} ({name})"),
                (None, None) => id.to_owned(),
            }
        }
        Err(_) => id.to_owned(),
    }
}

/// `"Acme" <a@x.com>, phone …, metadata plan=pro`: the fields a customer write sets.
fn customer_fields(
    name: &Option<String>,
    email: &Option<String>,
    phone: &Option<String>,
    description: &Option<String>,
    metadata: &Option<Vec<super::MetadataEntry>>,
) -> String {
    let mut parts = Vec::new();
    for (label, value) in [
        ("name", name),
        ("email", email),
        ("phone", phone),
        ("description", description),
    ] {
        if let Some(value) = value {
            parts.push(format!("{label} {value:?}"));
        }
    }
    if let Some(metadata) = metadata {
        let mut pairs: Vec<String> = metadata
            .iter()
            .map(|entry| format!("{}={}", entry.key, entry.value))
            .collect();
        pairs.sort();
        parts.push(format!("metadata {}", pairs.join(", ")));
    }
    if parts.is_empty() {
        "no fields".into()
    } else {
        parts.join(", ")
    }
}

/// The amount, charge and what is already refunded of a payment intent or charge.
struct Payment {
    id: String,
    amount: i64,
    refunded: i64,
    currency: String,
    customer: Option<String>,
}

impl Stripe {
    async fn payment(
        &self,
        intent: Option<&str>,
        charge: Option<&str>,
        account: &Option<String>,
    ) -> Option<Payment> {
        let charge_of = |value: &Value| -> Option<Payment> {
            Some(Payment {
                id: value["id"].as_str()?.to_owned(),
                amount: value["amount"].as_i64()?,
                refunded: value["amount_refunded"].as_i64().unwrap_or(0),
                currency: value["currency"].as_str()?.to_owned(),
                customer: value["customer"].as_str().map(str::to_owned),
            })
        };
        if let Some(charge) = charge {
            let request = stripe_core::charge::RetrieveCharge::new(charge.to_owned());
            return charge_of(&self.read("preview", account, &request).await.ok()?);
        }
        let intent = intent?;
        let request = stripe_core::payment_intent::RetrievePaymentIntent::new(intent.to_owned());
        let value = self.read("preview", account, &request).await.ok()?;
        let received = value["amount_received"].as_i64().unwrap_or(0);
        // The refunded part lives on the charges; a payment intent's own fields do not say it.
        let charges = stripe_core::charge::ListCharge::new()
            .payment_intent(intent.to_owned())
            .limit(10);
        let refunded = match self.read("preview", account, &charges).await {
            Ok(list) => list["data"]
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|c| c["amount_refunded"].as_i64())
                        .sum()
                })
                .unwrap_or(0),
            Err(_) => 0,
        };
        Some(Payment {
            id: intent.to_owned(),
            amount: if received > 0 {
                received
            } else {
                value["amount"].as_i64().unwrap_or(0)
            },
            refunded,
            currency: value["currency"].as_str()?.to_owned(),
            customer: value["customer"].as_str().map(str::to_owned),
        })
    }

    async fn preview_create_customer(self, args: CreateCustomerArgs) -> Option<String> {
        Some(format!(
            "create a Stripe customer with {}",
            customer_fields(
                &args.name,
                &args.email,
                &args.phone,
                &args.description,
                &args.metadata
            )
        ))
    }

    async fn preview_update_customer(self, args: UpdateCustomerArgs) -> Option<String> {
        let who = customer_label(&self, &args.customer, &args.write.account).await;
        Some(format!(
            "update the customer {who}: set {}",
            customer_fields(
                &args.name,
                &args.email,
                &args.phone,
                &args.description,
                &args.metadata
            )
        ))
    }

    async fn preview_create_payment_intent(self, args: CreatePaymentIntentArgs) -> Option<String> {
        let amount = money::display(args.amount, &args.currency);
        let who = match &args.customer {
            Some(customer) => format!(
                " from {}",
                customer_label(&self, customer, &args.write.account).await
            ),
            None => String::new(),
        };
        let what = args
            .description
            .as_ref()
            .map(|d| format!(" for {d:?}"))
            .unwrap_or_default();
        Some(match &args.payment_method {
            Some(method) => {
                format!("charge {amount}{who}{what} now, to the payment method {method}")
            }
            None => format!(
                "create a payment of {amount}{who}{what}, to be paid later (nothing is charged yet)"
            ),
        })
    }

    async fn preview_cancel_payment_intent(self, args: CancelPaymentIntentArgs) -> Option<String> {
        let request =
            stripe_core::payment_intent::RetrievePaymentIntent::new(args.payment_intent.clone());
        let intent = self
            .read("preview", &args.write.account, &request)
            .await
            .ok();
        Some(match intent {
            Some(intent) => format!(
                "cancel the payment {} of {} ({}); it can no longer be paid",
                args.payment_intent,
                money::display(
                    intent["amount"].as_i64().unwrap_or(0),
                    intent["currency"].as_str().unwrap_or("usd")
                ),
                intent["status"].as_str().unwrap_or("unknown status")
            ),
            None => format!("cancel the payment {}", args.payment_intent),
        })
    }

    async fn preview_create_refund(self, args: CreateRefundArgs) -> Option<String> {
        let payment = self
            .payment(
                args.payment_intent.as_deref(),
                args.charge.as_deref(),
                &args.write.account,
            )
            .await;
        let target = args
            .payment_intent
            .as_deref()
            .or(args.charge.as_deref())
            .unwrap_or("?");
        let Some(payment) = payment else {
            let amount = args
                .amount
                .map(|a| format!("{a} (smallest currency unit)"))
                .unwrap_or_else(|| "everything not yet refunded".into());
            return Some(format!(
                "refund {amount} of {target}; money leaves the account and cannot be taken back"
            ));
        };
        let left = payment.amount - payment.refunded;
        let amount = args.amount.unwrap_or(left);
        let whole = if args.amount.is_none() || amount == left {
            " (all that is left)"
        } else {
            ""
        };
        let who = match &payment.customer {
            Some(customer) => format!(
                " to {}",
                customer_label(&self, customer, &args.write.account).await
            ),
            None => String::new(),
        };
        let already = if payment.refunded > 0 {
            format!(
                "; {} of it was refunded before",
                money::display(payment.refunded, &payment.currency)
            )
        } else {
            String::new()
        };
        Some(format!(
            "refund {}{whole} of the {} payment {}{who}{already}; money leaves the account and cannot be taken back",
            money::display(amount, &payment.currency),
            money::display(payment.amount, &payment.currency),
            payment.id,
        ))
    }

    async fn preview_update_dispute(self, args: UpdateDisputeArgs) -> Option<String> {
        let evidence = args
            .evidence
            .as_ref()
            .and_then(|e| serde_json::to_value(e).ok())
            .and_then(|v| v.as_object().map(|m| m.keys().cloned().collect::<Vec<_>>()))
            .unwrap_or_default();
        let staged = if evidence.is_empty() {
            "no new evidence".to_owned()
        } else {
            format!("evidence: {}", evidence.join(", "))
        };
        let submit = if args.submit == Some(true) {
            "; SUBMIT it to the bank now (it cannot be changed afterwards)"
        } else {
            "; staged, not submitted"
        };
        Some(format!(
            "update the dispute {} with {staged}{submit}",
            args.dispute
        ))
    }
}
