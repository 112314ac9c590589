//! Seed data, created through the same endpoints clients call so it has exactly their shapes.

use serde_json::{Map, Value};

use crate::api::dispatch;
use crate::error::ApiError;
use crate::form::{self, Params};
use crate::state::Books;

/// Encodes `(key, value)` pairs as a form body (brackets left literal, as many clients send them).
fn encode(pairs: &[(&str, &str)]) -> String {
    let escape = |text: &str| {
        let mut out = String::new();
        for byte in text.bytes() {
            match byte {
                b'A'..=b'Z'
                | b'a'..=b'z'
                | b'0'..=b'9'
                | b'-'
                | b'_'
                | b'.'
                | b'~'
                | b'['
                | b']' => out.push(byte as char),
                b' ' => out.push('+'),
                other => out.push_str(&format!("%{other:02X}")),
            }
        }
        out
    };
    pairs
        .iter()
        .map(|(key, value)| format!("{}={}", escape(key), escape(value)))
        .collect::<Vec<_>>()
        .join("&")
}

fn call(
    books: &mut Books,
    method: &str,
    path: &str,
    pairs: &[(&str, &str)],
) -> Result<Value, ApiError> {
    let params = Params(form::parse(&encode(pairs))?);
    dispatch(books, method, path, params)
}

fn id(object: &Value) -> String {
    object["id"].as_str().unwrap_or_default().to_string()
}

/// Fills `books` with a small, realistic account: customers, a product with prices, payments (one disputed),
/// an open invoice, an active subscription, a coupon, a payment link, and available funds.
pub fn seed(books: &mut Books) -> Result<(), ApiError> {
    let acme = call(
        books,
        "POST",
        "/v1/customers",
        &[
            ("name", "Acme Corporation"),
            ("email", "acme-billing@example.com"),
            ("phone", "+49 30 1234567"),
            ("description", "Key account since 2021"),
            ("address[line1]", "Friedrichstraße 100"),
            ("address[city]", "Berlin"),
            ("address[postal_code]", "10117"),
            ("address[country]", "DE"),
            ("metadata[segment]", "enterprise"),
            ("preferred_locales[0]", "de"),
        ],
    )?;
    let globex = call(
        books,
        "POST",
        "/v1/customers",
        &[
            ("name", "Globex GmbH"),
            ("email", "accounts@globex.example.com"),
            ("metadata[segment]", "mid-market"),
        ],
    )?;
    let initech = call(
        books,
        "POST",
        "/v1/customers",
        &[
            ("name", "Initech Inc."),
            ("email", "ap@initech.example.com"),
            ("phone", "+1 512 555 0100"),
        ],
    )?;
    let pro = call(
        books,
        "POST",
        "/v1/products",
        &[
            ("name", "Pro plan"),
            (
                "description",
                "Everything in Starter, plus priority support",
            ),
            ("metadata[tier]", "pro"),
        ],
    )?;
    let monthly = call(
        books,
        "POST",
        "/v1/prices",
        &[
            ("product", &id(&pro)),
            ("unit_amount", "2900"),
            ("currency", "eur"),
            ("recurring[interval]", "month"),
            ("lookup_key", "pro_monthly"),
            ("nickname", "Pro monthly"),
        ],
    )?;
    call(
        books,
        "POST",
        "/v1/prices",
        &[
            ("product", &id(&pro)),
            ("unit_amount", "29000"),
            ("currency", "eur"),
            ("recurring[interval]", "year"),
            ("lookup_key", "pro_yearly"),
        ],
    )?;
    let onboarding = call(
        books,
        "POST",
        "/v1/products",
        &[("name", "Onboarding workshop")],
    )?;
    let workshop = call(
        books,
        "POST",
        "/v1/prices",
        &[
            ("product", &id(&onboarding)),
            ("unit_amount", "150000"),
            ("currency", "eur"),
        ],
    )?;
    call(
        books,
        "POST",
        "/v1/payment_intents",
        &[
            ("amount", "4900"),
            ("currency", "eur"),
            ("customer", &id(&acme)),
            ("description", "Order #1001"),
            ("metadata[order_id]", "1001"),
            ("payment_method", "pm_card_visa"),
            ("confirm", "true"),
            ("return_url", "https://shop.example.com/orders/1001/paid"),
        ],
    )?;
    call(
        books,
        "POST",
        "/v1/payment_intents",
        &[
            ("amount", "12000"),
            ("currency", "eur"),
            ("customer", &id(&globex)),
            ("description", "Order #1002"),
            ("metadata[order_id]", "1002"),
            ("payment_method", "pm_card_createDispute"),
            ("confirm", "true"),
            ("automatic_payment_methods[enabled]", "true"),
            ("automatic_payment_methods[allow_redirects]", "never"),
        ],
    )?;
    call(
        books,
        "POST",
        "/v1/payment_intents",
        &[
            ("amount", "2500"),
            ("currency", "usd"),
            ("customer", &id(&initech)),
            ("description", "Order #1003 (awaiting payment)"),
        ],
    )?;
    let invoice = call(
        books,
        "POST",
        "/v1/invoices",
        &[
            ("customer", &id(&acme)),
            ("collection_method", "send_invoice"),
            ("days_until_due", "30"),
            ("currency", "eur"),
            ("description", "Onboarding, November"),
        ],
    )?;
    call(
        books,
        "POST",
        "/v1/invoiceitems",
        &[
            ("customer", &id(&acme)),
            ("invoice", &id(&invoice)),
            ("pricing[price]", &id(&workshop)),
        ],
    )?;
    call(
        books,
        "POST",
        "/v1/invoiceitems",
        &[
            ("customer", &id(&acme)),
            ("invoice", &id(&invoice)),
            ("amount", "25000"),
            ("currency", "eur"),
            ("description", "Consulting (10 h)"),
        ],
    )?;
    call(
        books,
        "POST",
        &format!("/v1/invoices/{}/finalize", id(&invoice)),
        &[],
    )?;
    call(
        books,
        "POST",
        "/v1/subscriptions",
        &[
            ("customer", &id(&acme)),
            ("items[0][price]", &id(&monthly)),
            ("items[0][quantity]", "5"),
            ("metadata[contract]", "C-2024-017"),
        ],
    )?;
    call(
        books,
        "POST",
        "/v1/coupons",
        &[
            ("id", "WELCOME10"),
            ("name", "Welcome 10%"),
            ("percent_off", "10"),
            ("duration", "once"),
        ],
    )?;
    call(
        books,
        "POST",
        "/v1/payment_links",
        &[
            ("line_items[0][price]", &id(&monthly)),
            ("line_items[0][quantity]", "1"),
        ],
    )?;
    settle(books);
    Ok(())
}

/// Seed payments are days old: their funds are available rather than pending.
fn settle(books: &mut Books) {
    for amounts in books.balance.values_mut() {
        amounts[0] += amounts[1];
        amounts[1] = 0;
    }
    for transaction in books.collection_mut("balance_transactions").values_mut() {
        transaction["status"] = Value::String("available".into());
        transaction["available_on"] = transaction["created"].clone();
    }
}

/// Adds `count` customers `Customer 0001`… with emails `customer0001@example.com`… (for pagination tests).
pub fn bulk_customers(books: &mut Books, count: usize) -> Result<(), ApiError> {
    // Numbering continues after earlier bulk customers, so repeated seeding never repeats a name.
    let start = books
        .collection("customers")
        .newest_first()
        .filter(|customer| {
            customer["name"]
                .as_str()
                .is_some_and(|name| name.starts_with("Customer "))
        })
        .count();
    for index in 1..=count {
        let number = format!("{:04}", start + index);
        let mut params = Map::new();
        params.insert("name".into(), Value::String(format!("Customer {number}")));
        params.insert(
            "email".into(),
            Value::String(format!("customer{number}@example.com")),
        );
        dispatch(books, "POST", "/v1/customers", Params(params))?;
    }
    Ok(())
}
