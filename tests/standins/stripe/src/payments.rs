//! Payment intents with Stripe's test payment methods, charges, refunds, disputes and balance transactions.

use serde_json::{Value, json};

use crate::api::{list, metadata, update_metadata};
use crate::currency;
use crate::error::ApiError;
use crate::form::Params;
use crate::ids::{new_id, now, random_text};
use crate::params as known;
use crate::state::Books;

/// What confirming with a test payment method does.
#[derive(Debug, Clone, Copy)]
struct TestCard {
    brand: &'static str,
    last4: &'static str,
    funding: &'static str,
    /// `(code, decline_code, message)` when the card is declined.
    decline: Option<(&'static str, &'static str, &'static str)>,
    /// The charge is disputed right away (`pm_card_createDispute`).
    dispute: bool,
}

const fn card(brand: &'static str, last4: &'static str) -> TestCard {
    TestCard {
        brand,
        last4,
        funding: "credit",
        decline: None,
        dispute: false,
    }
}

const fn declined(
    last4: &'static str,
    code: &'static str,
    decline_code: &'static str,
    message: &'static str,
) -> TestCard {
    TestCard {
        brand: "visa",
        last4,
        funding: "credit",
        decline: Some((code, decline_code, message)),
        dispute: false,
    }
}

/// Stripe's test PaymentMethod tokens (docs.stripe.com/testing).
fn test_card(token: &str) -> Option<TestCard> {
    Some(match token {
        "pm_card_visa" => card("visa", "4242"),
        "pm_card_visa_debit" => TestCard {
            funding: "debit",
            ..card("visa", "5556")
        },
        "pm_card_mastercard" => card("mastercard", "4444"),
        "pm_card_mastercard_debit" => TestCard {
            funding: "debit",
            ..card("mastercard", "8210")
        },
        "pm_card_amex" => card("amex", "8431"),
        "pm_card_discover" => card("discover", "1117"),
        "pm_card_diners" => card("diners", "0004"),
        "pm_card_jcb" => card("jcb", "0505"),
        "pm_card_unionpay" => card("unionpay", "0005"),
        "pm_card_bypassPending" => card("visa", "0077"),
        "pm_card_createDispute" => TestCard {
            dispute: true,
            ..card("visa", "0259")
        },
        "pm_card_chargeDeclined" => declined(
            "0002",
            "card_declined",
            "generic_decline",
            "Your card was declined.",
        ),
        "pm_card_chargeDeclinedInsufficientFunds" => declined(
            "9995",
            "card_declined",
            "insufficient_funds",
            "Your card has insufficient funds.",
        ),
        "pm_card_chargeDeclinedLostCard" => declined(
            "9987",
            "card_declined",
            "lost_card",
            "Your card was declined.",
        ),
        "pm_card_chargeDeclinedStolenCard" => declined(
            "9979",
            "card_declined",
            "stolen_card",
            "Your card was declined.",
        ),
        "pm_card_chargeDeclinedFraudulent" => declined(
            "0019",
            "card_declined",
            "fraudulent",
            "Your card was declined.",
        ),
        "pm_card_chargeDeclinedExpiredCard" => declined(
            "0069",
            "expired_card",
            "expired_card",
            "Your card has expired.",
        ),
        "pm_card_chargeDeclinedIncorrectCvc" => declined(
            "0127",
            "incorrect_cvc",
            "incorrect_cvc",
            "Your card's security code is incorrect.",
        ),
        "pm_card_chargeDeclinedProcessingError" => declined(
            "0119",
            "processing_error",
            "processing_error",
            "An error occurred while processing your card. Try again in a little bit.",
        ),
        _ => return None,
    })
}

fn check_payment_method(token: &str, param: &str) -> Result<TestCard, ApiError> {
    test_card(token).ok_or_else(|| ApiError::no_such_param("PaymentMethod", token, param))
}

/// "$0.50" style amounts for messages.
fn display_amount(amount: i64, currency: &str) -> String {
    let symbol = match currency {
        "usd" => "$",
        "eur" => "€",
        "gbp" => "£",
        "jpy" => "¥",
        _ => "",
    };
    if currency::is_zero_decimal(currency) {
        format!("{symbol}{amount}")
    } else {
        format!("{symbol}{}.{:02}", amount / 100, amount % 100)
    }
}

fn check_amount(amount: i64, currency: &str) -> Result<(), ApiError> {
    let minimum = currency::minimum_charge(currency);
    if amount < minimum {
        return Err(ApiError::invalid(
            format!(
                "Amount must be at least {} {currency}",
                display_amount(minimum, currency)
            ),
            Some("amount"),
        )
        .with_code("amount_too_small"));
    }
    if amount > 99_999_999 {
        return Err(ApiError::invalid(
            format!(
                "Amount must be no more than {} {currency}",
                display_amount(99_999_999, currency)
            ),
            Some("amount"),
        )
        .with_code("amount_too_large"));
    }
    Ok(())
}

/// `POST /v1/payment_intents`.
pub fn create_payment_intent(books: &mut Books, p: &Params) -> Result<Value, ApiError> {
    p.allow(known::CREATE_PAYMENT_INTENT)?;
    let amount = p
        .int("amount")?
        .ok_or_else(|| ApiError::missing("amount"))?;
    let currency = currency::check(&p.required_str("currency")?, "currency")?;
    check_amount(amount, &currency)?;
    let customer = p.str("customer")?;
    if let Some(customer) = &customer {
        books.get_param("customers", customer, "customer")?;
    }
    let payment_method = p.str("payment_method")?;
    if let Some(token) = &payment_method {
        check_payment_method(token, "payment_method")?;
    }
    let (automatic, allow_redirects) = match p.hash("automatic_payment_methods")? {
        Some(hash) => (
            Some(
                hash.bool("enabled")?
                    .ok_or_else(|| ApiError::missing("automatic_payment_methods[enabled]"))?,
            ),
            hash.one_of("allow_redirects", &["always", "never"])
                .map_err(|error| ApiError {
                    param: Some("automatic_payment_methods[allow_redirects]".into()),
                    ..error
                })?
                .unwrap_or_else(|| "always".into()),
        ),
        None => (None, "always".to_string()),
    };
    // Current API versions name the explicit list `allowed_payment_method_types` (it was `payment_method_types`);
    // the answer's `payment_method_types` is what may be used, and only cards are modelled.
    let types: Vec<String> = p
        .list("allowed_payment_method_types")?
        .iter()
        .filter_map(|value| value.as_str().map(str::to_string))
        .collect();
    if automatic == Some(true) && !types.is_empty() {
        return Err(ApiError::invalid(
            "You may only specify one of these parameters: allowed_payment_method_types, automatic_payment_methods.",
            None,
        ));
    }
    if !types.is_empty() && !types.iter().any(|kind| kind == "card") {
        return Err(ApiError::invalid(
            "The stand-in models card payments only; allowed_payment_method_types must include card.",
            Some("allowed_payment_method_types"),
        ));
    }
    let capture_method = p
        .one_of(
            "capture_method",
            &["automatic", "automatic_async", "manual"],
        )?
        .unwrap_or_else(|| "automatic_async".into());
    let confirmation_method = p
        .one_of("confirmation_method", &["automatic", "manual"])?
        .unwrap_or_else(|| "automatic".into());
    let confirm = p.bool("confirm")?.unwrap_or(false);
    let id = new_id("pi");
    let intent = json!({
        "id": id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": null,
        "application_fee_amount": null,
        // Without an explicit list, current API versions enable automatic payment methods (redirects allowed).
        "automatic_payment_methods": if types.is_empty() && automatic != Some(false) { json!({"allow_redirects": allow_redirects, "enabled": true}) } else { Value::Null },
        "canceled_at": null,
        "cancellation_reason": null,
        "capture_method": capture_method,
        "client_secret": format!("{id}_secret_{}", random_text(25)),
        "confirmation_method": confirmation_method,
        "created": now(),
        "currency": currency,
        "customer": customer,
        "description": p.str("description")?,
        "last_payment_error": null,
        "latest_charge": null,
        "livemode": books.livemode,
        "metadata": metadata(p)?,
        "next_action": null,
        "on_behalf_of": null,
        "payment_method": payment_method,
        "payment_method_configuration_details": null,
        "payment_method_options": {"card": {"installments": null, "mandate_options": null, "network": null, "request_three_d_secure": "automatic"}},
        "payment_method_types": if types.is_empty() { vec!["card".to_string()] } else { types },
        "processing": null,
        "receipt_email": p.str("receipt_email")?,
        "review": null,
        "setup_future_usage": p.one_of("setup_future_usage", &["off_session", "on_session"])?,
        "shipping": null,
        "source": null,
        "statement_descriptor": p.str("statement_descriptor")?,
        "statement_descriptor_suffix": p.str("statement_descriptor_suffix")?,
        "status": if payment_method.is_some() { "requires_confirmation" } else { "requires_payment_method" },
        "transfer_data": null,
        "transfer_group": p.str("transfer_group")?,
    });
    let return_url = p.str("return_url")?;
    if confirm {
        // Checked before anything is stored: the request fails as a whole, as Stripe's parameter checks do.
        check_return_url(&intent, &return_url)?;
    }
    books.insert("payment_intents", intent.clone());
    if confirm {
        return confirm_with(books, &id, None);
    }
    Ok(intent)
}

/// `POST /v1/payment_intents/{id}`: amount, currency, customer, description, metadata, payment method.
pub fn update_payment_intent(books: &mut Books, id: &str, p: &Params) -> Result<Value, ApiError> {
    p.allow(known::UPDATE_PAYMENT_INTENT)?;
    let mut intent = books.get("payment_intents", id)?;
    let status = intent["status"].as_str().unwrap_or_default().to_string();
    if ![
        "requires_payment_method",
        "requires_confirmation",
        "requires_action",
    ]
    .contains(&status.as_str())
    {
        return Err(unexpected_state(
            &intent,
            "update",
            &[
                "requires_payment_method",
                "requires_confirmation",
                "requires_action",
            ],
        ));
    }
    if let Some(currency) = p.str("currency")? {
        intent["currency"] = json!(currency::check(&currency, "currency")?);
    }
    if let Some(amount) = p.int("amount")? {
        check_amount(amount, intent["currency"].as_str().unwrap_or("usd"))?;
        intent["amount"] = json!(amount);
    }
    if p.has("customer") {
        let customer = p.str("customer")?;
        if let Some(customer) = &customer {
            books.get_param("customers", customer, "customer")?;
        }
        intent["customer"] = json!(customer);
    }
    for field in [
        "description",
        "receipt_email",
        "statement_descriptor",
        "statement_descriptor_suffix",
    ] {
        if p.has(field) {
            intent[field] = json!(p.str(field)?);
        }
    }
    if let Some(token) = p.str("payment_method")? {
        check_payment_method(&token, "payment_method")?;
        intent["payment_method"] = json!(token);
        intent["status"] = json!("requires_confirmation");
    }
    update_metadata(&mut intent, p)?;
    books.put("payment_intents", intent.clone());
    Ok(intent)
}

fn unexpected_state(intent: &Value, action: &str, allowed: &[&str]) -> ApiError {
    ApiError::state(
        "payment_intent_unexpected_state",
        format!(
            "You cannot {action} this PaymentIntent because it has a status of {}. Only a PaymentIntent with one of the following statuses may be {}: {}.",
            intent["status"].as_str().unwrap_or_default(),
            if action == "confirm" { "confirmed" } else if action == "cancel" { "canceled" } else if action == "capture" { "captured" } else { "updated" },
            allowed.join(", ")
        ),
        None,
    )
    .with("payment_intent", intent.clone())
}

/// `POST /v1/payment_intents/{id}/confirm`.
pub fn confirm_payment_intent(books: &mut Books, id: &str, p: &Params) -> Result<Value, ApiError> {
    p.allow(known::CONFIRM_PAYMENT_INTENT)?;
    let token = p.str("payment_method")?;
    if let Some(token) = &token {
        check_payment_method(token, "payment_method")?;
    }
    let intent = books.get("payment_intents", id)?;
    check_return_url(&intent, &p.str("return_url")?)?;
    confirm_with(books, id, token)
}

/// Stripe refuses to confirm an intent whose automatic payment methods allow redirects without a `return_url`,
/// even when the card at hand would not redirect.
fn check_return_url(intent: &Value, return_url: &Option<String>) -> Result<(), ApiError> {
    let redirects = intent["automatic_payment_methods"]["enabled"] == true
        && intent["automatic_payment_methods"]["allow_redirects"] != "never";
    if redirects && return_url.is_none() {
        return Err(ApiError::invalid(
            "A `return_url` must be specified because this Payment Intent is configured to automatically accept the payment methods enabled in the Dashboard, some of which may require a full page redirect to succeed. If you do not want to accept redirect-based payment methods, set `automatic_payment_methods[enabled]` to `true` and `automatic_payment_methods[allow_redirects]` to `never` when creating Setup Intents and Payment Intents.",
            Some("return_url"),
        ));
    }
    Ok(())
}

/// Confirms with the intent's (or the given) test payment method: success makes a charge and a balance
/// transaction; a decline makes a failed charge and answers 402 with the intent in the error.
fn confirm_with(books: &mut Books, id: &str, token: Option<String>) -> Result<Value, ApiError> {
    let mut intent = books.get("payment_intents", id)?;
    let allowed = [
        "requires_payment_method",
        "requires_confirmation",
        "requires_action",
    ];
    if !allowed.contains(&intent["status"].as_str().unwrap_or_default()) {
        return Err(unexpected_state(&intent, "confirm", &allowed));
    }
    let Some(token) = token.or_else(|| intent["payment_method"].as_str().map(str::to_string))
    else {
        return Err(ApiError::state(
            "payment_intent_unexpected_state",
            "You cannot confirm this PaymentIntent because it's missing a payment method. To confirm the PaymentIntent, specify a payment method with the `payment_method` parameter.",
            Some("payment_method"),
        )
        .with("payment_intent", intent));
    };
    let card = check_payment_method(&token, "payment_method")?;
    let amount = intent["amount"].as_i64().unwrap_or(0);
    let currency = intent["currency"].as_str().unwrap_or("usd").to_string();
    let payment_method = new_id("pm");
    let charge_id = new_id("ch");
    let manual = intent["capture_method"] == "manual";
    let mut charge = json!({
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": 0,
        "amount_refunded": 0,
        "application": null,
        "application_fee": null,
        "application_fee_amount": null,
        "balance_transaction": null,
        "billing_details": {"address": {"city": null, "country": null, "line1": null, "line2": null, "postal_code": null, "state": null}, "email": null, "name": null, "phone": null},
        "calculated_statement_descriptor": "STANDIN* PLATFORM",
        "captured": false,
        "created": now(),
        "currency": currency,
        "customer": intent["customer"],
        "description": intent["description"],
        "disputed": false,
        "failure_balance_transaction": null,
        "failure_code": null,
        "failure_message": null,
        "fraud_details": {},
        "livemode": books.livemode,
        "metadata": intent["metadata"],
        "on_behalf_of": null,
        "outcome": {"network_status": "approved_by_network", "reason": null, "risk_level": "normal", "risk_score": 32, "seller_message": "Payment complete.", "type": "authorized"},
        "paid": true,
        "payment_intent": id,
        "payment_method": payment_method,
        "payment_method_details": {
            "card": {
                "brand": card.brand,
                "checks": {"address_line1_check": null, "address_postal_code_check": null, "cvc_check": "pass"},
                "country": "US",
                "exp_month": 12,
                "exp_year": 2034,
                "fingerprint": random_text(16),
                "funding": card.funding,
                "last4": card.last4,
                "network": card.brand,
            },
            "type": "card",
        },
        "receipt_email": intent["receipt_email"],
        "receipt_number": null,
        "receipt_url": format!("https://pay.stripe.com/receipts/payment/{}", random_text(40)),
        "refunded": false,
        "review": null,
        "shipping": null,
        "source": null,
        "source_transfer": null,
        "statement_descriptor": null,
        "statement_descriptor_suffix": null,
        "status": "succeeded",
        "transfer_data": null,
        "transfer_group": null,
    });
    intent["latest_charge"] = json!(charge_id);
    if let Some((code, decline_code, message)) = card.decline {
        charge["status"] = json!("failed");
        charge["paid"] = json!(false);
        charge["failure_code"] = json!(code);
        charge["failure_message"] = json!(message);
        charge["outcome"] = json!({"network_status": "declined_by_network", "reason": decline_code, "risk_level": "normal", "risk_score": 40, "seller_message": "The bank did not return any further details with this decline.", "type": "issuer_declined"});
        books.insert("charges", charge);
        let error = ApiError::card(code, Some(decline_code), message);
        let mut last_error = error.body("", books.livemode)["error"].clone();
        if let Some(object) = last_error.as_object_mut() {
            object.remove("request_log_url");
            object.insert("charge".into(), json!(charge_id));
        }
        intent["status"] = json!("requires_payment_method");
        intent["payment_method"] = Value::Null;
        intent["last_payment_error"] = last_error;
        books.put("payment_intents", intent.clone());
        return Err(error
            .with("charge", json!(charge_id))
            .with("payment_intent", intent));
    }
    intent["payment_method"] = json!(payment_method);
    intent["last_payment_error"] = Value::Null;
    if manual {
        intent["status"] = json!("requires_capture");
        intent["amount_capturable"] = json!(amount);
        books.insert("charges", charge);
    } else {
        capture_charge(books, &mut charge, amount);
        intent["status"] = json!("succeeded");
        intent["amount_received"] = json!(amount);
        if card.dispute {
            open_dispute(books, &mut charge);
        }
        books.insert("charges", charge);
    }
    books.put("payment_intents", intent.clone());
    Ok(intent)
}

/// Stripe's standard card pricing (2.9 % + 30 in the minor unit), only as a realistic fee.
fn card_fee(amount: i64, currency: &str) -> i64 {
    let fixed = if currency::is_zero_decimal(currency) {
        0
    } else {
        30
    };
    (amount * 29 + 500) / 1000 + fixed
}

fn balance_transaction(
    books: &mut Books,
    kind: &str,
    source: &str,
    amount: i64,
    fee: i64,
    currency: &str,
    description: Value,
) -> String {
    let id = new_id("txn");
    let created = now();
    let pending = kind == "charge";
    let transaction = json!({
        "id": id,
        "object": "balance_transaction",
        "amount": amount,
        "available_on": if pending { created + 2 * 86_400 } else { created },
        "balance_type": "payments",
        "created": created,
        "currency": currency,
        "description": description,
        "exchange_rate": null,
        "fee": fee,
        "fee_details": if fee == 0 { json!([]) } else { json!([{"amount": fee, "application": null, "currency": currency, "description": "Stripe processing fees", "type": "stripe_fee"}]) },
        "net": amount - fee,
        "reporting_category": kind,
        "source": source,
        "status": if pending { "pending" } else { "available" },
        "type": kind,
    });
    books.insert("balance_transactions", transaction);
    // Charges settle into pending funds (available two days later); refunds and disputes come out of available.
    if pending {
        books.credit(currency, 0, amount - fee);
    } else {
        books.credit(currency, amount - fee, 0);
    }
    id
}

fn capture_charge(books: &mut Books, charge: &mut Value, amount: i64) {
    let currency = charge["currency"].as_str().unwrap_or("usd").to_string();
    let charge_id = charge["id"].as_str().unwrap_or_default().to_string();
    let fee = card_fee(amount, &currency);
    let description = charge["description"].clone();
    let transaction = balance_transaction(
        books,
        "charge",
        &charge_id,
        amount,
        fee,
        &currency,
        description,
    );
    charge["captured"] = json!(true);
    charge["amount_captured"] = json!(amount);
    charge["balance_transaction"] = json!(transaction);
}

fn open_dispute(books: &mut Books, charge: &mut Value) {
    let amount = charge["amount"].as_i64().unwrap_or(0);
    let currency = charge["currency"].as_str().unwrap_or("usd").to_string();
    let id = new_id("dp");
    let transaction = balance_transaction(
        books,
        "adjustment",
        &id,
        -amount,
        1500,
        &currency,
        json!(format!(
            "Chargeback withdrawal for {}",
            charge["id"].as_str().unwrap_or_default()
        )),
    );
    let created = now();
    let transaction_object = books
        .collection("balance_transactions")
        .get(&transaction)
        .cloned()
        .unwrap_or(Value::Null);
    charge["disputed"] = json!(true);
    let evidence_fields = [
        "access_activity_log",
        "billing_address",
        "cancellation_policy",
        "cancellation_policy_disclosure",
        "cancellation_rebuttal",
        "customer_communication",
        "customer_email_address",
        "customer_name",
        "customer_purchase_ip",
        "customer_signature",
        "duplicate_charge_documentation",
        "duplicate_charge_explanation",
        "duplicate_charge_id",
        "product_description",
        "receipt",
        "refund_policy",
        "refund_policy_disclosure",
        "refund_refusal_explanation",
        "service_date",
        "service_documentation",
        "shipping_address",
        "shipping_carrier",
        "shipping_date",
        "shipping_documentation",
        "shipping_tracking_number",
        "uncategorized_file",
        "uncategorized_text",
    ];
    let mut evidence = serde_json::Map::new();
    for field in evidence_fields {
        evidence.insert(field.into(), Value::Null);
    }
    evidence.insert("enhanced_evidence".into(), json!({}));
    let dispute = json!({
        "id": id,
        "object": "dispute",
        "amount": amount,
        "balance_transactions": [transaction_object],
        "charge": charge["id"],
        "created": created,
        "currency": currency,
        "enhanced_eligibility_types": [],
        "evidence": evidence,
        "evidence_details": {"due_by": created + 7 * 86_400, "enhanced_eligibility": {}, "has_evidence": false, "past_due": false, "submission_count": 0},
        "is_charge_refundable": false,
        "livemode": books.livemode,
        "metadata": {},
        "network_reason_code": "10.4",
        "payment_intent": charge["payment_intent"],
        "payment_method_details": {"card": {"brand": "visa", "case_type": "chargeback", "network": "visa", "network_reason_code": "10.4"}, "type": "card"},
        "reason": "fraudulent",
        "status": "needs_response",
    });
    books.insert("disputes", dispute);
}

/// `POST /v1/payment_intents/{id}/capture`.
pub fn capture_payment_intent(books: &mut Books, id: &str, p: &Params) -> Result<Value, ApiError> {
    p.allow(&[
        "amount_to_capture",
        "application_fee_amount",
        "expand",
        "final_capture",
        "metadata",
        "statement_descriptor",
        "statement_descriptor_suffix",
        "transfer_data",
    ])?;
    let mut intent = books.get("payment_intents", id)?;
    if intent["status"] != "requires_capture" {
        return Err(unexpected_state(&intent, "capture", &["requires_capture"]));
    }
    let capturable = intent["amount_capturable"].as_i64().unwrap_or(0);
    let amount = p.int("amount_to_capture")?.unwrap_or(capturable);
    if amount < 1 || amount > capturable {
        return Err(ApiError::invalid(
            format!(
                "The amount to capture must be between 1 and the capturable amount ({capturable})."
            ),
            Some("amount_to_capture"),
        ));
    }
    let charge_id = intent["latest_charge"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut charge = books.get("charges", &charge_id)?;
    capture_charge(books, &mut charge, amount);
    books.put("charges", charge);
    intent["status"] = json!("succeeded");
    intent["amount_capturable"] = json!(0);
    intent["amount_received"] = json!(amount);
    update_metadata(&mut intent, p)?;
    books.put("payment_intents", intent.clone());
    Ok(intent)
}

/// `POST /v1/payment_intents/{id}/cancel`.
pub fn cancel_payment_intent(books: &mut Books, id: &str, p: &Params) -> Result<Value, ApiError> {
    p.allow(known::CANCEL_PAYMENT_INTENT)?;
    let reason = p.one_of(
        "cancellation_reason",
        &[
            "abandoned",
            "duplicate",
            "fraudulent",
            "requested_by_customer",
        ],
    )?;
    let mut intent = books.get("payment_intents", id)?;
    let allowed = [
        "requires_payment_method",
        "requires_capture",
        "requires_confirmation",
        "requires_action",
        "processing",
    ];
    if !allowed.contains(&intent["status"].as_str().unwrap_or_default()) {
        return Err(unexpected_state(&intent, "cancel", &allowed));
    }
    intent["status"] = json!("canceled");
    intent["canceled_at"] = json!(now());
    intent["cancellation_reason"] = json!(reason);
    intent["amount_capturable"] = json!(0);
    books.put("payment_intents", intent.clone());
    Ok(intent)
}

/// `GET /v1/payment_intents`.
pub fn list_payment_intents(books: &Books, p: &Params) -> Result<Value, ApiError> {
    p.allow(known::LIST_PAYMENT_INTENT)?;
    let customer = p.str("customer")?;
    list(books, "payment_intents", p, |intent| {
        customer
            .as_ref()
            .is_none_or(|id| intent["customer"] == id.as_str())
    })
}

/// `GET /v1/charges`.
pub fn list_charges(books: &Books, p: &Params) -> Result<Value, ApiError> {
    p.allow(known::LIST_CHARGE)?;
    let customer = p.str("customer")?;
    let intent = p.str("payment_intent")?;
    list(books, "charges", p, |charge| {
        customer
            .as_ref()
            .is_none_or(|id| charge["customer"] == id.as_str())
            && intent
                .as_ref()
                .is_none_or(|id| charge["payment_intent"] == id.as_str())
    })
}

/// `POST /v1/refunds`: of a charge or of a payment intent's successful charge, at most what remains.
pub fn create_refund(books: &mut Books, p: &Params) -> Result<Value, ApiError> {
    p.allow(known::CREATE_REFUND)?;
    let reason = p.one_of(
        "reason",
        &["duplicate", "fraudulent", "requested_by_customer"],
    )?;
    let requested = p.int("amount")?;
    if requested.is_some_and(|amount| amount < 1) {
        return Err(ApiError::invalid(
            "Invalid positive integer",
            Some("amount"),
        ));
    }
    let (charge_param, intent_param) = (p.str("charge")?, p.str("payment_intent")?);
    let mut charge = match (&charge_param, &intent_param) {
        (None, None) => {
            return Err(ApiError::invalid(
                "One of the following params should be provided for this request: payment_intent or charge.",
                None,
            ));
        }
        (Some(charge), _) => books.get_param("charges", charge, "charge")?,
        (None, Some(intent_id)) => {
            let intent = books.get_param("payment_intents", intent_id, "payment_intent")?;
            let charge = intent["latest_charge"]
                .as_str()
                .and_then(|id| books.collection("charges").get(id).cloned())
                .filter(|charge| charge["status"] == "succeeded" && charge["captured"] == true);
            charge.ok_or_else(|| {
                ApiError::state(
                    "charge_not_refundable",
                    format!("This PaymentIntent ({intent_id}) does not have a successful charge to refund."),
                    Some("payment_intent"),
                )
            })?
        }
    };
    if let (Some(_), Some(intent_id)) = (&charge_param, &intent_param)
        && charge["payment_intent"] != intent_id.as_str()
    {
        return Err(ApiError::invalid(
            format!(
                "The charge {} does not belong to the PaymentIntent {intent_id}.",
                charge["id"].as_str().unwrap_or_default()
            ),
            Some("charge"),
        ));
    }
    let charge_id = charge["id"].as_str().unwrap_or_default().to_string();
    let currency = charge["currency"].as_str().unwrap_or("usd").to_string();
    if charge["status"] != "succeeded" {
        return Err(ApiError::state(
            "charge_not_refundable",
            format!("Charge {charge_id} cannot be refunded because it has not succeeded."),
            Some("charge"),
        ));
    }
    if charge["refunded"] == true {
        return Err(ApiError::state(
            "charge_already_refunded",
            format!("Charge {charge_id} has already been refunded."),
            Some("charge"),
        ));
    }
    let open_dispute = books.collection("disputes").newest_first().any(|dispute| {
        dispute["charge"] == charge_id.as_str()
            && dispute["status"] != "won"
            && dispute["status"] != "lost"
    });
    if open_dispute {
        return Err(ApiError::state(
            "charge_disputed",
            format!("Charge {charge_id} has been charged back; cannot issue a refund."),
            Some("charge"),
        ));
    }
    let captured = charge["amount_captured"].as_i64().unwrap_or(0);
    let remaining = captured - charge["amount_refunded"].as_i64().unwrap_or(0);
    let amount = requested.unwrap_or(remaining);
    if amount > remaining {
        return Err(ApiError::state(
            "amount_too_large",
            format!(
                "Refund amount ({}) is greater than unrefunded amount on charge ({})",
                display_amount(amount, &currency),
                display_amount(remaining, &currency)
            ),
            Some("amount"),
        ));
    }
    let id = new_id("re");
    let transaction = balance_transaction(
        books,
        "refund",
        &id,
        -amount,
        0,
        &currency,
        json!("REFUND FOR CHARGE"),
    );
    let refund = json!({
        "id": id,
        "object": "refund",
        "amount": amount,
        "balance_transaction": transaction,
        "charge": charge_id,
        "created": now(),
        "currency": currency,
        "description": null,
        "destination_details": {"card": {"reference_status": "pending", "reference_type": "acquirer_reference_number", "type": "refund"}, "type": "card"},
        "failure_reason": null,
        "metadata": metadata(p)?,
        "payment_intent": charge["payment_intent"],
        "reason": reason,
        "receipt_number": null,
        "source_transfer_reversal": null,
        "status": "succeeded",
        "transfer_reversal": null,
    });
    let refunded = charge["amount_refunded"].as_i64().unwrap_or(0) + amount;
    charge["amount_refunded"] = json!(refunded);
    charge["refunded"] = json!(refunded >= charge["amount"].as_i64().unwrap_or(0));
    books.put("charges", charge);
    books.insert("refunds", refund.clone());
    Ok(refund)
}

/// `GET /v1/refunds`.
pub fn list_refunds(books: &Books, p: &Params) -> Result<Value, ApiError> {
    p.allow(known::LIST_REFUND)?;
    let charge = p.str("charge")?;
    let intent = p.str("payment_intent")?;
    list(books, "refunds", p, |refund| {
        charge
            .as_ref()
            .is_none_or(|id| refund["charge"] == id.as_str())
            && intent
                .as_ref()
                .is_none_or(|id| refund["payment_intent"] == id.as_str())
    })
}

/// `GET /v1/disputes`.
pub fn list_disputes(books: &Books, p: &Params) -> Result<Value, ApiError> {
    p.allow(known::LIST_DISPUTE)?;
    let charge = p.str("charge")?;
    let intent = p.str("payment_intent")?;
    list(books, "disputes", p, |dispute| {
        charge
            .as_ref()
            .is_none_or(|id| dispute["charge"] == id.as_str())
            && intent
                .as_ref()
                .is_none_or(|id| dispute["payment_intent"] == id.as_str())
    })
}

/// `POST /v1/disputes/{id}`: stages `evidence[…]`, submits it unless `submit=false` (Stripe's default is to submit).
pub fn update_dispute(books: &mut Books, id: &str, p: &Params) -> Result<Value, ApiError> {
    p.allow(known::UPDATE_DISPUTE)?;
    let mut dispute = books.get("disputes", id)?;
    let submit = p.bool("submit")?;
    let evidence = p.hash("evidence")?;
    let open = matches!(
        dispute["status"].as_str(),
        Some("needs_response" | "warning_needs_response")
    );
    if (evidence.is_some() || submit == Some(true)) && !open {
        return Err(ApiError::state(
            "dispute_already_closed",
            format!(
                "This dispute is in status {} and can no longer be updated with evidence.",
                dispute["status"].as_str().unwrap_or_default()
            ),
            Some("evidence"),
        ));
    }
    if let Some(evidence) = &evidence {
        for (key, value) in &evidence.0 {
            let known_field = dispute["evidence"].get(key).is_some() && key != "enhanced_evidence";
            if !known_field {
                return Err(ApiError::invalid(
                    format!("Received unknown parameter: evidence[{key}]"),
                    Some(&format!("evidence[{key}]")),
                ));
            }
            let Some(text) = value.as_str() else {
                return Err(ApiError::invalid(
                    format!("Invalid string: evidence[{key}]"),
                    Some(&format!("evidence[{key}]")),
                ));
            };
            dispute["evidence"][key] = if text.is_empty() {
                Value::Null
            } else {
                json!(text)
            };
        }
        let has_evidence = dispute["evidence"].as_object().is_some_and(|fields| {
            fields
                .iter()
                .any(|(key, value)| key != "enhanced_evidence" && !value.is_null())
        });
        dispute["evidence_details"]["has_evidence"] = json!(has_evidence);
    }
    if (evidence.is_some() && submit != Some(false)) || submit == Some(true) {
        dispute["status"] = json!("under_review");
        let count = dispute["evidence_details"]["submission_count"]
            .as_u64()
            .unwrap_or(0);
        dispute["evidence_details"]["submission_count"] = json!(count + 1);
        dispute["evidence_details"]["due_by"] = Value::Null;
    }
    update_metadata(&mut dispute, p)?;
    books.put("disputes", dispute.clone());
    Ok(dispute)
}

/// `GET /v1/balance_transactions`.
pub fn list_balance_transactions(books: &Books, p: &Params) -> Result<Value, ApiError> {
    p.allow(known::LIST_BALANCE_TRANSACTION)?;
    let kind = p.str("type")?;
    let source = p.str("source")?;
    let currency = p.str("currency")?;
    list(books, "balance_transactions", p, |transaction| {
        kind.as_ref()
            .is_none_or(|kind| transaction["type"] == kind.as_str())
            && source
                .as_ref()
                .is_none_or(|id| transaction["source"] == id.as_str())
            && currency
                .as_ref()
                .is_none_or(|currency| transaction["currency"] == currency.as_str())
    })
}
