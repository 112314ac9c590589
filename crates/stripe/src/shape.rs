//! Stripe objects trimmed to what an agent needs: ids, amounts with their currency and a human
//! string, statuses, dates as ISO 8601, customer email and name, metadata. The whole object is
//! one `fields: "all"` away.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::money;

/// The fields kept per object type (`object` in Stripe's JSON); types not listed keep all.
const KEPT: &[(&str, &[&str])] = &[
    (
        "customer",
        &[
            "id",
            "name",
            "email",
            "phone",
            "description",
            "balance",
            "currency",
            "delinquent",
            "created",
            "metadata",
        ],
    ),
    (
        "payment_intent",
        &[
            "id",
            "amount",
            "amount_received",
            "currency",
            "status",
            "customer",
            "description",
            "payment_method",
            "latest_charge",
            "cancellation_reason",
            "canceled_at",
            "last_payment_error",
            "created",
            "metadata",
        ],
    ),
    (
        "charge",
        &[
            "id",
            "amount",
            "amount_refunded",
            "currency",
            "status",
            "paid",
            "refunded",
            "disputed",
            "customer",
            "payment_intent",
            "description",
            "receipt_email",
            "failure_code",
            "failure_message",
            "created",
            "metadata",
        ],
    ),
    (
        "refund",
        &[
            "id",
            "amount",
            "currency",
            "status",
            "reason",
            "charge",
            "payment_intent",
            "created",
            "metadata",
        ],
    ),
    (
        "invoice",
        &[
            "id",
            "number",
            "customer",
            "customer_email",
            "customer_name",
            "status",
            "currency",
            "amount_due",
            "amount_paid",
            "amount_remaining",
            "subtotal",
            "total",
            "collection_method",
            "due_date",
            "hosted_invoice_url",
            "lines",
            "created",
            "metadata",
        ],
    ),
    (
        "invoiceitem",
        &[
            "id",
            "customer",
            "invoice",
            "amount",
            "currency",
            "description",
            "quantity",
            "created",
            "metadata",
        ],
    ),
    (
        "line_item",
        &["id", "description", "amount", "currency", "quantity"],
    ),
    (
        "subscription",
        &[
            "id",
            "customer",
            "status",
            "currency",
            "items",
            "cancel_at_period_end",
            "cancel_at",
            "canceled_at",
            "start_date",
            "trial_end",
            "latest_invoice",
            "created",
            "metadata",
        ],
    ),
    (
        "subscription_item",
        &[
            "id",
            "price",
            "quantity",
            "current_period_start",
            "current_period_end",
        ],
    ),
    (
        "product",
        &[
            "id",
            "name",
            "description",
            "active",
            "default_price",
            "created",
            "metadata",
        ],
    ),
    (
        "price",
        &[
            "id",
            "product",
            "unit_amount",
            "currency",
            "type",
            "recurring",
            "active",
            "nickname",
            "lookup_key",
            "created",
            "metadata",
        ],
    ),
    (
        "coupon",
        &[
            "id",
            "name",
            "percent_off",
            "amount_off",
            "currency",
            "duration",
            "duration_in_months",
            "valid",
            "times_redeemed",
            "max_redemptions",
            "redeem_by",
            "created",
            "metadata",
        ],
    ),
    (
        "dispute",
        &[
            "id",
            "amount",
            "currency",
            "status",
            "reason",
            "charge",
            "payment_intent",
            "evidence_details",
            "created",
            "metadata",
        ],
    ),
    (
        "balance_transaction",
        &[
            "id",
            "amount",
            "fee",
            "net",
            "currency",
            "type",
            "status",
            "description",
            "source",
            "available_on",
            "created",
        ],
    ),
    (
        "account",
        &[
            "id",
            "email",
            "country",
            "default_currency",
            "type",
            "charges_enabled",
            "payouts_enabled",
            "details_submitted",
            "business_profile",
            "created",
        ],
    ),
    (
        "payment_link",
        &["id", "url", "active", "currency", "metadata"],
    ),
];

/// Fields holding an amount in minor units of the object's `currency`.
const MONEY: [&str; 14] = [
    "amount",
    "amount_received",
    "amount_refunded",
    "amount_due",
    "amount_paid",
    "amount_remaining",
    "amount_off",
    "subtotal",
    "total",
    "unit_amount",
    "balance",
    "fee",
    "net",
    "amount_capturable",
];

/// Fields holding unix seconds.
const DATES: [&str; 14] = [
    "created",
    "canceled_at",
    "cancel_at",
    "due_date",
    "start_date",
    "trial_end",
    "redeem_by",
    "available_on",
    "current_period_start",
    "current_period_end",
    "due_by",
    "period_start",
    "period_end",
    "ended_at",
];

/// Fields naming a customer that may come expanded as a whole object.
const CUSTOMER_REFERENCES: [&str; 1] = ["customer"];

/// How much of an object a tool returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Detail {
    /// The trimmed view.
    #[default]
    Summary,
    /// Everything Stripe answered.
    All,
}

/// `object` as the tool returns it.
pub fn shape(object: &Value, detail: Detail) -> Value {
    match detail {
        Detail::All => object.clone(),
        Detail::Summary => summary(object),
    }
}

fn summary(object: &Value) -> Value {
    let Value::Object(map) = object else {
        return object.clone();
    };
    let kind = map
        .get("object")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if kind == "list" || kind == "search_result" {
        // A nested list (invoice lines, subscription items): its objects, trimmed.
        let items: Vec<Value> = map
            .get("data")
            .and_then(Value::as_array)
            .map(|items| items.iter().map(summary).collect())
            .unwrap_or_default();
        return Value::Array(items);
    }
    if kind == "balance" {
        return balance(map);
    }
    let kept = KEPT.iter().find(|(name, _)| *name == kind).map(|(_, f)| *f);
    let currency = map
        .get("currency")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut out = Map::new();
    if !kind.is_empty() {
        out.insert("object".into(), Value::String(kind.into()));
    }
    for (field, value) in map {
        if kept.is_some_and(|kept| !kept.contains(&field.as_str())) {
            continue;
        }
        if value.is_null() || field == "object" {
            continue;
        }
        if field == "metadata" && value.as_object().is_some_and(Map::is_empty) {
            continue;
        }
        let shaped = if DATES.contains(&field.as_str()) {
            value
                .as_i64()
                .map(|seconds| Value::String(iso8601(seconds)))
                .unwrap_or_else(|| value.clone())
        } else if CUSTOMER_REFERENCES.contains(&field.as_str()) && value.is_object() {
            customer_reference(value)
        } else if field == "last_payment_error" {
            // The reason, not the card's whole record.
            json_pick(value, &["code", "decline_code", "message"])
        } else if field == "evidence_details" {
            let mut picked = json_pick(value, &["due_by", "has_evidence", "submission_count"]);
            if let Some(due) = picked.get("due_by").and_then(Value::as_i64) {
                picked["due_by"] = Value::String(iso8601(due));
            }
            picked
        } else if value.is_object() {
            summary(value)
        } else {
            value.clone()
        };
        out.insert(field.clone(), shaped);
        if let (Some(currency), true) = (&currency, MONEY.contains(&field.as_str()))
            && let Some(amount) = value.as_i64()
        {
            out.insert(
                format!("{field}_display"),
                Value::String(money::display(amount, currency)),
            );
        }
    }
    Value::Object(out)
}

/// `{available: ["€12.50"], pending: [...]}` besides the amounts themselves.
fn balance(map: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    out.insert("object".into(), Value::String("balance".into()));
    for field in [
        "available",
        "pending",
        "connect_reserved",
        "instant_available",
    ] {
        let Some(funds) = map.get(field).and_then(Value::as_array) else {
            continue;
        };
        let shaped: Vec<Value> = funds
            .iter()
            .map(|fund| {
                let amount = fund["amount"].as_i64().unwrap_or_default();
                let currency = fund["currency"].as_str().unwrap_or_default();
                serde_json::json!({
                    "amount": amount,
                    "currency": currency,
                    "amount_display": money::display(amount, currency),
                })
            })
            .collect();
        out.insert(field.into(), Value::Array(shaped));
    }
    Value::Object(out)
}

fn customer_reference(customer: &Value) -> Value {
    json_pick(customer, &["id", "email", "name"])
}

fn json_pick(value: &Value, fields: &[&str]) -> Value {
    let mut out = Map::new();
    for field in fields {
        if let Some(found) = value.get(*field).filter(|v| !v.is_null()) {
            out.insert((*field).to_owned(), found.clone());
        }
    }
    Value::Object(out)
}

/// The last second RFC 3339 can write (9999-12-31T23:59:59Z); humantime cannot format later.
const LAST_RFC3339_SECOND: u64 = 253_402_300_799;

/// Unix seconds as `2026-12-02T18:00:00Z`; a time before 1970 or after 9999 (which no real
/// Stripe object has, but a broken answer can) stays a number.
pub fn iso8601(seconds: i64) -> String {
    match u64::try_from(seconds) {
        Ok(seconds) if seconds <= LAST_RFC3339_SECOND => {
            humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(seconds)).to_string()
        }
        _ => seconds.to_string(),
    }
}

/// A one-line description of an object for a person: "payment intent pi_1: €12.50, succeeded".
pub fn headline(object: &Value) -> String {
    let kind = object["object"]
        .as_str()
        .unwrap_or("object")
        .replace('_', " ");
    let id = object["id"].as_str().unwrap_or_default();
    let currency = object["currency"].as_str();
    let amount = ["amount", "total", "unit_amount", "amount_off"]
        .iter()
        .find_map(|field| object[*field].as_i64());
    let mut parts = Vec::new();
    if let Some(name) = object["name"].as_str().or(object["email"].as_str()) {
        parts.push(name.to_owned());
    }
    if let (Some(amount), Some(currency)) = (amount, currency) {
        parts.push(money::display(amount, currency));
    }
    if let Some(status) = object["status"].as_str() {
        parts.push(status.to_owned());
    }
    if parts.is_empty() {
        format!("{kind} {id}")
    } else {
        format!("{kind} {id}: {}", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Found by the fuzz target `stripe_answer` (regressions/stripe_answer/created-after-year-9999):
    /// an object `created` after 9999 made humantime's formatter fail and `to_string` panic.
    #[test]
    fn a_timestamp_after_year_9999_stays_a_number_instead_of_panicking() {
        assert_eq!(iso8601(LAST_RFC3339_SECOND as i64), "9999-12-31T23:59:59Z");
        assert_eq!(iso8601(170_000_033_333_333), "170000033333333");
        assert_eq!(iso8601(i64::MAX), i64::MAX.to_string());
        assert_eq!(iso8601(-1), "-1");
        let shaped = shape(
            &json!({"object": "customer", "id": "cus_1", "created": 170_000_033_333_333_i64}),
            Detail::Summary,
        );
        assert_eq!(shaped["created"], "170000033333333");
    }

    #[test]
    fn objects_are_trimmed_with_dates_and_money_for_people() {
        let intent = json!({
            "id": "pi_1", "object": "payment_intent", "amount": 1250, "currency": "eur",
            "status": "succeeded", "created": 1_764_698_400, "client_secret": "pi_1_secret_x",
            "customer": {"id": "cus_1", "object": "customer", "email": "ana@example.com", "name": "Ana", "balance": 0},
            "metadata": {}, "description": null, "payment_method_types": ["card"],
            "last_payment_error": {"code": "card_declined", "decline_code": "insufficient_funds", "message": "Your card has insufficient funds.", "payment_method": {"id": "pm_1"}}
        });
        let shaped = shape(&intent, Detail::Summary);
        assert_eq!(
            shaped,
            json!({
                "object": "payment_intent", "id": "pi_1", "amount": 1250, "amount_display": "€12.50",
                "currency": "eur", "status": "succeeded", "created": "2025-12-02T18:00:00Z",
                "customer": {"id": "cus_1", "email": "ana@example.com", "name": "Ana"},
                "last_payment_error": {"code": "card_declined", "decline_code": "insufficient_funds", "message": "Your card has insufficient funds."}
            })
        );
        // The client secret, among everything else, is only in the whole object.
        assert_eq!(shape(&intent, Detail::All), intent);
        assert_eq!(headline(&shaped), "payment intent pi_1: €12.50, succeeded");
    }

    #[test]
    fn nested_lists_and_balances_are_shaped_too() {
        let invoice = json!({
            "id": "in_1", "object": "invoice", "currency": "usd", "total": 500, "status": "open",
            "lines": {"object": "list", "has_more": false, "data": [
                {"id": "il_1", "object": "line_item", "amount": 500, "currency": "usd", "description": "Pro plan", "period": {"start": 1, "end": 2}}
            ]}
        });
        let shaped = shape(&invoice, Detail::Summary);
        assert_eq!(shaped["total_display"], "$5.00");
        assert_eq!(
            shaped["lines"],
            json!([{"object": "line_item", "id": "il_1", "amount": 500, "amount_display": "$5.00", "currency": "usd", "description": "Pro plan"}])
        );
        let balance = json!({"object": "balance", "livemode": false, "available": [{"amount": 9900, "currency": "jpy", "source_types": {"card": 9900}}], "pending": []});
        assert_eq!(
            shape(&balance, Detail::Summary),
            json!({"object": "balance", "available": [{"amount": 9900, "currency": "jpy", "amount_display": "¥9900"}], "pending": []})
        );
    }
}
