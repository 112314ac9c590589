//! Every endpoint mcp-stripe calls, requested with async-stripe 1.0.0-rc.10's own request builders and decoded
//! with its own models: the stand-in accepts what async-stripe sends and answers what it decodes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;

use common::{decode, start};
use stripe_types::Currency;

#[tokio::test]
async fn account_balance_and_balance_transactions() {
    let client = start().await;
    let account = client
        .call(&stripe_connect::account::RetrieveForMyAccountAccount::new())
        .await;
    assert!(account.id.as_str().starts_with("acct_"));
    assert_eq!(account.charges_enabled, Some(true));

    let balance = client
        .call(&stripe_core::balance::RetrieveForMyAccountBalance::new())
        .await;
    assert!(!balance.livemode);
    let eur = balance
        .available
        .iter()
        .find(|amount| amount.currency == Currency::EUR)
        .expect("eur funds");
    assert!(eur.amount > 0, "the seed leaves funds available");

    let transactions = client
        .call(&stripe_core::balance_transaction::ListBalanceTransaction::new().limit(100))
        .await;
    assert!(!transactions.data.is_empty());
    assert!(
        transactions
            .data
            .iter()
            .all(|transaction| transaction.id.as_str().starts_with("txn_"))
    );
    let charges = client
        .call(&stripe_core::balance_transaction::ListBalanceTransaction::new().type_("charge"))
        .await;
    assert!(
        charges
            .data
            .iter()
            .all(|transaction| transaction.type_.as_str() == "charge")
    );
    let one = client
        .call(
            &stripe_core::balance_transaction::RetrieveBalanceTransaction::new(
                transactions.data[0].id.as_str(),
            ),
        )
        .await;
    assert_eq!(one.id, transactions.data[0].id);
}

#[tokio::test]
async fn customers_create_retrieve_update_list_search() {
    use stripe_core::customer::*;
    let client = start().await;
    let metadata = HashMap::from([("crm_id".to_string(), "42".to_string())]);
    let created = client
        .call(
            &CreateCustomer::new()
                .email("ann@example.com")
                .name("Ann Lee")
                .phone("+44 20 7946 0000")
                .description("Test customer")
                .metadata(metadata.clone()),
        )
        .await;
    assert!(created.id.as_str().starts_with("cus_"));
    assert_eq!(created.email.as_deref(), Some("ann@example.com"));
    assert_eq!(created.metadata.as_ref(), Some(&metadata));
    assert!(!created.livemode);

    let fetched = client
        .call(&RetrieveCustomer::new(created.id.as_str()))
        .await;
    match fetched {
        RetrieveCustomerReturned::Customer(customer) => {
            assert_eq!(customer.name.as_deref(), Some("Ann Lee"))
        }
        RetrieveCustomerReturned::DeletedCustomer(_) => panic!("not deleted"),
    }

    let updated = client
        .call(
            &UpdateCustomer::new(created.id.as_str())
                .name("Ann Lee-Smith")
                .metadata(HashMap::from([("tier".to_string(), "gold".to_string())])),
        )
        .await;
    assert_eq!(updated.name.as_deref(), Some("Ann Lee-Smith"));
    let metadata = updated.metadata.unwrap();
    assert_eq!(
        metadata.get("crm_id").map(String::as_str),
        Some("42"),
        "metadata updates merge"
    );
    assert_eq!(metadata.get("tier").map(String::as_str), Some("gold"));

    let by_email = client
        .call(&ListCustomer::new().email("ann@example.com"))
        .await;
    assert_eq!(by_email.data.len(), 1);
    assert_eq!(by_email.url, "/v1/customers");
    let all = client.call(&ListCustomer::new().limit(2)).await;
    assert_eq!(all.data.len(), 2);
    assert!(all.has_more);
    assert_eq!(all.data[0].id, created.id, "newest first");
    let next = client
        .call(
            &ListCustomer::new()
                .limit(2)
                .starting_after(all.data[1].id.as_str()),
        )
        .await;
    assert_ne!(next.data[0].id, all.data[1].id);
    let back = client
        .call(
            &ListCustomer::new()
                .limit(1)
                .ending_before(all.data[1].id.as_str()),
        )
        .await;
    assert_eq!(back.data[0].id, created.id);

    let found = client
        .call(&SearchCustomer::new("email:'acme-billing@example.com'"))
        .await;
    assert_eq!(found.data.len(), 1);
    assert_eq!(found.data[0].name.as_deref(), Some("Acme Corporation"));
    assert_eq!(found.url, "/v1/customers/search");
    let by_metadata = client
        .call(&SearchCustomer::new("metadata['tier']:'gold'"))
        .await;
    assert_eq!(by_metadata.data[0].id, created.id);
}

#[tokio::test]
async fn products_and_prices() {
    use stripe_product::price::*;
    use stripe_product::product::*;
    let client = start().await;
    let product = client
        .call(&CreateProduct::new("Team plan").description("For teams"))
        .await;
    assert!(product.id.as_str().starts_with("prod_"));
    assert!(product.active);
    let fetched = client
        .call(&RetrieveProduct::new(product.id.as_str()))
        .await;
    assert_eq!(fetched.name, "Team plan");
    let listed = client.call(&ListProduct::new().active(true)).await;
    assert!(listed.data.iter().any(|item| item.id == product.id));
    let searched = client.call(&SearchProduct::new("name:'Pro plan'")).await;
    assert_eq!(searched.data.len(), 1);

    let monthly = client
        .call(
            &CreatePrice::new(Currency::EUR)
                .product(product.id.as_str())
                .unit_amount(4900)
                .recurring(CreatePriceRecurring::new(
                    CreatePriceRecurringInterval::Month,
                ))
                .lookup_key("team_monthly"),
        )
        .await;
    assert!(monthly.id.as_str().starts_with("price_"));
    assert_eq!(monthly.unit_amount, Some(4900));
    assert_eq!(monthly.currency, Currency::EUR);
    assert_eq!(monthly.type_.as_str(), "recurring");
    let once = client
        .call(
            &CreatePrice::new(Currency::JPY)
                .product(product.id.as_str())
                .unit_amount(500),
        )
        .await;
    assert_eq!(once.type_.as_str(), "one_time");
    assert_eq!(
        once.unit_amount,
        Some(500),
        "zero-decimal amounts are whole yen"
    );

    let fetched = client.call(&RetrievePrice::new(monthly.id.as_str())).await;
    assert_eq!(fetched.id, monthly.id);
    let for_product = client
        .call(&ListPrice::new().product(product.id.as_str()).active(true))
        .await;
    assert_eq!(for_product.data.len(), 2);
    let searched = client
        .call(&SearchPrice::new("lookup_key:'team_monthly'"))
        .await;
    assert_eq!(searched.data[0].id, monthly.id);
    let by_product = client
        .call(&SearchPrice::new(format!(
            "product:'{}' AND active:'true'",
            product.id.as_str()
        )))
        .await;
    assert_eq!(by_product.data.len(), 2);
}

#[tokio::test]
async fn payment_links() {
    use stripe_payment::payment_link::*;
    let client = start().await;
    let prices = client
        .call(&stripe_product::price::ListPrice::new().type_(stripe_shared::PriceType::Recurring))
        .await;
    let mut line = CreatePaymentLinkLineItems::new(2u64);
    line.price = Some(prices.data[0].id.as_str().to_string());
    let link = client.call(&CreatePaymentLink::new(vec![line])).await;
    assert!(link.id.as_str().starts_with("plink_"));
    assert!(link.url.starts_with("https://buy.stripe.com/test_"));
    assert!(link.active);
}

#[tokio::test]
async fn invoices_and_invoice_items() {
    use stripe_billing::invoice::*;
    use stripe_billing::invoice_item::*;
    let client = start().await;
    let customer = client
        .call(&stripe_core::customer::CreateCustomer::new().email("bill@example.com"))
        .await;
    let invoice = client
        .call(
            &CreateInvoice::new()
                .customer(customer.id.as_str())
                .auto_advance(false)
                .collection_method(stripe_shared::InvoiceCollectionMethod::SendInvoice)
                .days_until_due(14u32)
                .currency(Currency::EUR)
                .description("Work in March"),
        )
        .await;
    let invoice_id = invoice.id.clone().unwrap();
    assert!(invoice_id.as_str().starts_with("in_"));
    assert_eq!(
        invoice.status.as_ref().map(|status| status.as_str()),
        Some("draft")
    );
    assert_eq!(invoice.total, 0);

    let item = client
        .call(
            &CreateInvoiceItem::new()
                .customer(customer.id.as_str())
                .invoice(invoice_id.as_str())
                .amount(12_500)
                .currency(Currency::EUR)
                .description("Design work"),
        )
        .await;
    assert!(item.id.as_str().starts_with("ii_"));
    let prices = client
        .call(&stripe_product::price::SearchPrice::new(
            "lookup_key:'pro_monthly'",
        ))
        .await;
    let mut pricing = stripe_billing::invoice_item::PricingParam::new();
    pricing.price = Some(prices.data[0].id.as_str().to_string());
    client
        .call(
            &CreateInvoiceItem::new()
                .customer(customer.id.as_str())
                .invoice(invoice_id.as_str())
                .pricing(pricing)
                .quantity(2u64),
        )
        .await;

    let fetched = client
        .call(&RetrieveInvoice::new(invoice_id.as_str()))
        .await;
    assert_eq!(fetched.lines.data.len(), 2);
    assert_eq!(
        fetched.total,
        12_500 + 2 * 2900,
        "the invoice items make the total"
    );
    assert_eq!(fetched.amount_due, fetched.total);

    let finalized = client
        .call(&FinalizeInvoiceInvoice::new(invoice_id.as_str()))
        .await;
    assert_eq!(
        finalized.status.as_ref().map(|status| status.as_str()),
        Some("open")
    );
    assert!(finalized.number.is_some() && finalized.hosted_invoice_url.is_some());
    let sent = client
        .call(&SendInvoiceInvoice::new(invoice_id.as_str()))
        .await;
    assert_eq!(sent.id, finalized.id);

    let listed = client
        .call(
            &ListInvoice::new()
                .customer(customer.id.as_str())
                .status(stripe_shared::InvoiceStatus::Open),
        )
        .await;
    assert_eq!(listed.data.len(), 1);
    let searched = client
        .call(&SearchInvoice::new(format!(
            "customer:'{}' AND total>10000",
            customer.id.as_str()
        )))
        .await;
    assert_eq!(searched.data.len(), 1);

    let voided = client
        .call(&VoidInvoiceInvoice::new(invoice_id.as_str()))
        .await;
    assert_eq!(
        voided.status.as_ref().map(|status| status.as_str()),
        Some("void")
    );
    let again = client
        .send(&VoidInvoiceInvoice::new(invoice_id.as_str()))
        .await;
    assert_eq!(again.status, 400, "a void invoice cannot be voided again");
}

#[tokio::test]
async fn payment_intents() {
    use stripe_core::payment_intent::*;
    let client = start().await;
    let customer = client
        .call(&stripe_core::customer::CreateCustomer::new().email("pay@example.com"))
        .await;
    let pending = client
        .call(
            &CreatePaymentIntent::new(2000, Currency::USD)
                .customer(customer.id.as_str())
                .description("Order 7")
                .metadata(HashMap::from([("order".to_string(), "7".to_string())]))
                .automatic_payment_methods(CreatePaymentIntentAutomaticPaymentMethods::new(true)),
        )
        .await;
    assert!(pending.id.as_str().starts_with("pi_"));
    assert_eq!(pending.status.as_str(), "requires_payment_method");

    let paid = client
        .call(
            &CreatePaymentIntent::new(4500, Currency::EUR)
                .customer(customer.id.as_str())
                .payment_method("pm_card_visa")
                .confirm(true)
                .return_url("https://shop.example.com/return"),
        )
        .await;
    assert_eq!(paid.status.as_str(), "succeeded");
    assert_eq!(paid.amount_received, 4500);
    let charge_id = match paid.latest_charge.as_ref().unwrap() {
        stripe_types::Expandable::Id(id) => id.as_str().to_string(),
        stripe_types::Expandable::Object(charge) => charge.id.as_str().to_string(),
    };
    assert!(charge_id.starts_with("ch_"));

    let fetched = client
        .call(&RetrievePaymentIntent::new(pending.id.as_str()))
        .await;
    assert_eq!(fetched.description.as_deref(), Some("Order 7"));
    let listed = client
        .call(&ListPaymentIntent::new().customer(customer.id.as_str()))
        .await;
    assert_eq!(listed.data.len(), 2);
    let searched = client
        .call(&SearchPaymentIntent::new(format!(
            "customer:'{}' AND status:'succeeded'",
            customer.id.as_str()
        )))
        .await;
    assert_eq!(searched.data.len(), 1);
    assert_eq!(searched.data[0].id, paid.id);

    let cards_only = client
        .call(
            &CreatePaymentIntent::new(1500, Currency::EUR).allowed_payment_method_types(vec![
                stripe_shared::PaymentIntentAllowedPaymentMethodTypes::Card,
            ]),
        )
        .await;
    assert_eq!(cards_only.payment_method_types, vec!["card".to_string()]);
    assert!(cards_only.automatic_payment_methods.is_none());

    let confirmable = client
        .call(&CreatePaymentIntent::new(1500, Currency::EUR))
        .await;
    let confirmed = client
        .call(
            &ConfirmPaymentIntent::new(confirmable.id.as_str())
                .payment_method("pm_card_mastercard")
                .return_url("https://shop.example.com/return"),
        )
        .await;
    assert_eq!(confirmed.status.as_str(), "succeeded");

    let canceled = client
        .call(
            &CancelPaymentIntent::new(pending.id.as_str())
                .cancellation_reason(CancelPaymentIntentCancellationReason::Abandoned),
        )
        .await;
    assert_eq!(canceled.status.as_str(), "canceled");
    assert!(canceled.canceled_at.is_some());
    let again = client
        .send(&CancelPaymentIntent::new(pending.id.as_str()))
        .await;
    assert_eq!(again.status, 400);
    assert_eq!(again.error()["code"], "payment_intent_unexpected_state");
}

#[tokio::test]
async fn charges_and_refunds() {
    use stripe_core::charge::*;
    use stripe_core::refund::*;
    let client = start().await;
    let paid = client
        .call(
            &stripe_core::payment_intent::CreatePaymentIntent::new(3000, Currency::EUR)
                .payment_method("pm_card_visa")
                .confirm(true)
                .return_url("https://shop.example.com/return"),
        )
        .await;
    let charges = client
        .call(&ListCharge::new().payment_intent(paid.id.as_str()))
        .await;
    assert_eq!(charges.data.len(), 1);
    let charge = &charges.data[0];
    assert!(charge.paid && charge.captured && !charge.refunded);
    assert!(charge.balance_transaction.is_some());
    let fetched = client.call(&RetrieveCharge::new(charge.id.as_str())).await;
    assert_eq!(fetched.amount, 3000);
    let searched = client
        .call(&SearchCharge::new("amount>=3000 AND status:'succeeded'"))
        .await;
    assert!(searched.data.iter().any(|found| found.id == charge.id));

    let partial = client
        .call(
            &CreateRefund::new()
                .payment_intent(paid.id.as_str())
                .amount(1000)
                .reason(CreateRefundReason::RequestedByCustomer),
        )
        .await;
    assert!(partial.id.as_str().starts_with("re_"));
    assert_eq!(partial.amount, 1000);
    let charge_after = client.call(&RetrieveCharge::new(charge.id.as_str())).await;
    assert_eq!(charge_after.amount_refunded, 1000);
    assert!(!charge_after.refunded);
    let rest = client
        .call(&CreateRefund::new().charge(charge.id.as_str()))
        .await;
    assert_eq!(
        rest.amount, 2000,
        "without an amount, what remains is refunded"
    );
    assert!(
        client
            .call(&RetrieveCharge::new(charge.id.as_str()))
            .await
            .refunded
    );

    let by_charge = client
        .call(&ListRefund::new().charge(charge.id.as_str()))
        .await;
    assert_eq!(by_charge.data.len(), 2);
    let by_intent = client
        .call(&ListRefund::new().payment_intent(paid.id.as_str()))
        .await;
    assert_eq!(by_intent.data.len(), 2);
    let fetched = client.call(&RetrieveRefund::new(partial.id.as_str())).await;
    assert_eq!(fetched.amount, 1000);
}

#[tokio::test]
async fn subscriptions() {
    use stripe_billing::subscription::*;
    let client = start().await;
    let customer = client
        .call(&stripe_core::customer::CreateCustomer::new().email("sub@example.com"))
        .await;
    let price = client
        .call(&stripe_product::price::SearchPrice::new(
            "lookup_key:'pro_monthly'",
        ))
        .await
        .data
        .remove(0);
    let mut item = CreateSubscriptionItems::new();
    item.price = Some(price.id.as_str().to_string());
    item.quantity = Some(3);
    let created = client
        .call(
            &CreateSubscription::new()
                .customer(customer.id.as_str())
                .items(vec![item]),
        )
        .await;
    assert!(created.id.as_str().starts_with("sub_"));
    assert_eq!(created.status.as_str(), "active");
    assert_eq!(created.items.data.len(), 1);
    let subscription_item = &created.items.data[0];
    assert!(subscription_item.id.as_str().starts_with("si_"));
    assert_eq!(subscription_item.quantity, Some(3));
    assert!(subscription_item.current_period_end > subscription_item.current_period_start);

    let fetched = client
        .call(&RetrieveSubscription::new(created.id.as_str()))
        .await;
    assert_eq!(fetched.id, created.id);
    let listed = client
        .call(&ListSubscription::new().customer(customer.id.as_str()))
        .await;
    assert_eq!(listed.data.len(), 1);
    let by_price = client
        .call(&ListSubscription::new().price(price.id.as_str()))
        .await;
    assert!(
        by_price
            .data
            .iter()
            .any(|subscription| subscription.id == created.id)
    );

    let mut change = UpdateSubscriptionItems::new();
    change.id = Some(subscription_item.id.as_str().to_string());
    change.quantity = Some(5);
    let updated = client
        .call(
            &UpdateSubscription::new(created.id.as_str())
                .items(vec![change])
                .cancel_at_period_end(true)
                .proration_behavior(UpdateSubscriptionProrationBehavior::None)
                .metadata(HashMap::from([("seats".to_string(), "5".to_string())])),
        )
        .await;
    assert_eq!(updated.items.data[0].quantity, Some(5));
    assert!(updated.cancel_at_period_end);
    assert!(updated.cancel_at.is_some());

    let searched = client
        .call(&SearchSubscription::new("metadata['seats']:'5'"))
        .await;
    assert_eq!(searched.data.len(), 1);
    let canceled = client
        .call(&CancelSubscription::new(created.id.as_str()))
        .await;
    assert_eq!(canceled.status.as_str(), "canceled");
    let active = client
        .call(&ListSubscription::new().customer(customer.id.as_str()))
        .await;
    assert!(
        active.data.is_empty(),
        "canceled subscriptions are not listed by default"
    );
    let all = client
        .call(
            &ListSubscription::new()
                .customer(customer.id.as_str())
                .status(ListSubscriptionStatus::All),
        )
        .await;
    assert_eq!(all.data.len(), 1);
}

#[tokio::test]
async fn coupons() {
    use stripe_product::coupon::*;
    let client = start().await;
    let percent = client
        .call(
            &CreateCoupon::new()
                .percent_off(25.0)
                .duration(stripe_shared::CouponDuration::Repeating)
                .duration_in_months(3)
                .name("Spring"),
        )
        .await;
    assert_eq!(percent.percent_off, Some(25.0));
    assert_eq!(percent.duration_in_months, Some(3));
    let amount = client
        .call(
            &CreateCoupon::new()
                .amount_off(500)
                .currency(Currency::EUR)
                .duration(stripe_shared::CouponDuration::Once),
        )
        .await;
    assert_eq!(amount.amount_off, Some(500));
    let listed = client.call(&ListCoupon::new().limit(100)).await;
    assert!(listed.data.iter().any(|coupon| coupon.id == percent.id));
    assert!(
        listed
            .data
            .iter()
            .any(|coupon| coupon.id.as_str() == "WELCOME10")
    );
}

#[tokio::test]
async fn disputes() {
    use stripe_core::dispute::*;
    let client = start().await;
    let disputes = client.call(&ListDispute::new()).await;
    assert_eq!(disputes.data.len(), 1);
    let dispute = &disputes.data[0];
    assert!(dispute.id.as_str().starts_with("dp_"));
    assert_eq!(dispute.status.as_str(), "needs_response");
    let fetched = client
        .call(&RetrieveDispute::new(dispute.id.as_str()))
        .await;
    assert_eq!(fetched.amount, 12_000);

    let mut evidence = UpdateDisputeEvidence::new();
    evidence.product_description = Some("Annual subscription, delivered".to_string());
    evidence.customer_email_address = Some("accounts@globex.example.com".to_string());
    let staged = client
        .call(
            &UpdateDispute::new(dispute.id.as_str())
                .evidence(evidence)
                .submit(false)
                .metadata(HashMap::from([("case".to_string(), "C-9".to_string())])),
        )
        .await;
    assert_eq!(
        staged.status.as_str(),
        "needs_response",
        "submit=false only stages"
    );
    assert!(staged.evidence_details.has_evidence);
    assert_eq!(
        staged.evidence.product_description.as_deref(),
        Some("Annual subscription, delivered")
    );
    let submitted = client
        .call(&UpdateDispute::new(dispute.id.as_str()).submit(true))
        .await;
    assert_eq!(submitted.status.as_str(), "under_review");
    assert_eq!(submitted.evidence_details.submission_count, 1);
}

#[tokio::test]
async fn seeded_objects_decode_as_async_stripe_models() {
    let client = start().await;
    // Reads of everything the seed holds, each decoded by the model the server uses.
    let intents = client
        .call(&stripe_core::payment_intent::ListPaymentIntent::new().limit(100))
        .await;
    assert_eq!(intents.data.len(), 3);
    let invoices = client
        .call(&stripe_billing::invoice::ListInvoice::new())
        .await;
    assert_eq!(
        invoices.data[0]
            .status
            .as_ref()
            .map(|status| status.as_str()),
        Some("open")
    );
    assert_eq!(invoices.data[0].lines.data.len(), 2);
    let subscriptions = client
        .call(&stripe_billing::subscription::ListSubscription::new())
        .await;
    assert_eq!(subscriptions.data[0].status.as_str(), "active");
    let products = client
        .call(&stripe_product::product::ListProduct::new())
        .await;
    assert_eq!(products.data.len(), 2);
    let prices = client.call(&stripe_product::price::ListPrice::new()).await;
    assert_eq!(prices.data.len(), 3);
    let charges = client.call(&stripe_core::charge::ListCharge::new()).await;
    assert!(charges.data.iter().any(|charge| charge.disputed));
    let expanded = client
        .send(
            &stripe_core::payment_intent::ListPaymentIntent::new().expand(vec![
                "data.latest_charge".to_string(),
                "data.customer".to_string(),
            ]),
        )
        .await;
    let list = decode::<stripe_core::payment_intent::ListPaymentIntent>(&expanded);
    let with_charge = list
        .data
        .iter()
        .find(|intent| intent.latest_charge.is_some())
        .unwrap();
    assert!(
        matches!(
            with_charge.latest_charge,
            Some(stripe_types::Expandable::Object(_))
        ),
        "expand[] gives the object"
    );
}
