//! mcp-stripe end to end: the real binary over stdio against the Stripe stand-in
//! (`tests/standins/stripe`) served in process on a loopback port, with faults injected where a
//! real network would lose answers.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail loudly.

use std::collections::HashSet;
use std::path::Path;

use mcp_conformance::StdioServer;
use serde_json::{Value, json};
use standin_kit::Hosted;
use stripe_standin::AppState;

const BIN: &str = env!("CARGO_BIN_EXE_mcp-stripe");
const TEST_KEY: &str = "sk_test_4eC39HqLyjWDarjtT1zdp7dc";
const LIVE_KEY: &str = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";

/// The stand-in on its own runtime while the test thread drives the server.
type Stand = Hosted<AppState>;

fn server(stand: &Stand, extra: &[(&str, &str)]) -> StdioServer {
    let url = stand.url();
    let env = [
        ("STRIPE_API_URL", url.as_str()),
        ("STRIPE_API_KEY", TEST_KEY),
        ("MCP_AUDIT_LOG", "stderr"),
        ("STRIPE_TIMEOUT_SECS", "2"),
    ];
    StdioServer::started(Path::new(BIN), &env, extra)
}

fn customer_id(server: &mut StdioServer) -> String {
    let customers = server.call_ok(
        "search_customers",
        json!({"query": "email:'acme-billing@example.com'"}),
    );
    customers["objects"][0]["id"].as_str().unwrap().to_owned()
}

fn payment(customer: &str) -> Value {
    json!({
        "amount": 1250,
        "currency": "eur",
        "customer": customer,
        "payment_method": "pm_card_visa",
        "description": "Order 1001",
        "confirm": true
    })
}

#[test]
fn a_payment_whose_answer_is_lost_after_it_was_created_is_retried_and_exists_once() {
    let stand = Stand::start(stripe_standin::spawn);
    let mut server = server(&stand, &[]);
    let customer = customer_id(&mut server);
    // (fault, what it stands for)
    let faults = [
        (
            "drop_after",
            "the connection reset after Stripe created the payment",
        ),
        (
            "hang_after",
            "no answer within the timeout after Stripe created the payment",
        ),
    ];
    for (round, (mode, what)) in faults.into_iter().enumerate() {
        let before = stand.state().count("payment_intents");
        let posts = stand.calls("POST /v1/payment_intents");
        stand.control(
            "fault",
            json!({"mode": mode, "count": 1, "path": "/v1/payment_intents"}),
        );
        let mut arguments = payment(&customer);
        arguments["description"] = json!(format!("Order {round}"));
        let paid = server.call_ok("create_payment_intent", arguments);
        assert_eq!(stand.state().count("payment_intents"), before + 1, "{what}");
        // The retry went out with the same key and was answered from Stripe's cache.
        assert_eq!(stand.calls("POST /v1/payment_intents"), posts + 2, "{what}");
        assert_eq!(paid["replayed"], true, "{what}: {paid}");
        assert_eq!(paid["object"]["status"], "succeeded", "{what}: {paid}");
        assert_eq!(paid["object"]["amount_display"], "€12.50");
    }
    // The audit line of the write holds its key.
    let audit = server.stderr();
    assert!(
        audit.contains("\"idempotency_key\":\"mcp-stripe-"),
        "{audit}"
    );
    // The key is sent to Stripe, never written anywhere.
    assert!(!audit.contains(TEST_KEY), "{audit}");
}

#[test]
fn the_same_payment_asked_twice_within_the_window_charges_once_unless_a_new_key_is_given() {
    let stand = Stand::start(stripe_standin::spawn);
    let mut server = server(&stand, &[]);
    let customer = customer_id(&mut server);
    let before = stand.state().count("payment_intents");
    let first = server.call_ok("create_payment_intent", payment(&customer));
    let again = server.call_ok("create_payment_intent", payment(&customer));
    assert_eq!(first["object"]["id"], again["object"]["id"]);
    assert_eq!(first["replayed"], false);
    assert_eq!(again["replayed"], true);
    assert!(again["summary"].as_str().unwrap().contains("already done"));
    assert_eq!(stand.state().count("payment_intents"), before + 1);

    // A caller who means a second payment says so with a key of its own.
    let mut second = payment(&customer);
    second["idempotency_key"] = json!("order-1001-second-attempt");
    let other = server.call_ok("create_payment_intent", second.clone());
    assert_ne!(other["object"]["id"], first["object"]["id"]);
    assert_eq!(stand.state().count("payment_intents"), before + 2);
    // The same key for a different request is refused, saying what to do.
    second["amount"] = json!(999);
    let refused = server.call_err("create_payment_intent", second);
    assert!(
        refused.contains("pass a new `idempotency_key`"),
        "{refused}"
    );
    assert_eq!(stand.state().count("payment_intents"), before + 2);
}

#[test]
fn paging_through_250_customers_returns_each_exactly_once() {
    let stand = Stand::start(stripe_standin::spawn);
    stand.control("seed", json!({"customers": 250}));
    let total = stand.state().count("customers");
    assert!(total >= 250);
    let mut server = server(&stand, &[]);
    let mut seen = HashSet::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut arguments = json!({"limit": 100});
        if let Some(after) = &after {
            arguments["starting_after"] = json!(after);
        }
        let page = server.call_ok("list_customers", arguments);
        pages += 1;
        for customer in page["objects"].as_array().unwrap() {
            let id = customer["id"].as_str().unwrap().to_owned();
            assert!(seen.insert(id.clone()), "{id} returned twice");
        }
        if page["has_more"] != true {
            assert!(page.get("next_starting_after").is_none());
            break;
        }
        after = Some(page["next_starting_after"].as_str().unwrap().to_owned());
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(seen.len(), total);
    assert_eq!(pages, total.div_ceil(100));
}

#[test]
fn a_refund_without_consent_is_refused_and_changes_nothing() {
    let stand = Stand::start(stripe_standin::spawn);
    let mut server = server(&stand, &[]);
    let customer = customer_id(&mut server);
    let paid = server.call_ok("create_payment_intent", payment(&customer));
    let intent = paid["object"]["id"].as_str().unwrap().to_owned();
    let refunds = stand.state().count("refunds");
    let refused = server.call_err(
        "create_refund",
        json!({"payment_intent": intent, "amount": 500}),
    );
    assert!(refused.contains("needs the user's consent"), "{refused}");
    // The refusal shows what would have happened: the amount, the payment and the customer.
    assert!(
        refused.contains("refund €5.00 of the €12.50 payment")
            && refused.contains("acme-billing@example.com"),
        "{refused}"
    );
    assert_eq!(stand.state().count("refunds"), refunds);
    assert_eq!(stand.calls("POST /v1/refunds"), 0);

    let refunded = server.call_ok(
        "create_refund",
        json!({"payment_intent": intent, "amount": 500, "confirm": true}),
    );
    assert_eq!(refunded["object"]["amount_display"], "€5.00");
    assert_eq!(stand.state().count("refunds"), refunds + 1);
    // A second refund is previewed against what is left.
    let left = server.call_err("create_refund", json!({"payment_intent": intent}));
    assert!(left.contains("refund €7.50 (all that is left)"), "{left}");
    assert!(left.contains("€5.00 of it was refunded before"), "{left}");
}

#[test]
fn a_live_key_refuses_writes_unless_the_operator_allows_them() {
    let stand = Stand::start(stripe_standin::spawn);
    let mut live = server(&stand, &[("STRIPE_API_KEY", LIVE_KEY)]);
    let tools = live.request("tools/list", json!({})).unwrap();
    let names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"list_customers"), "{names:?}");
    assert!(!names.contains(&"create_payment_intent"), "{names:?}");
    assert!(!names.contains(&"create_refund"), "{names:?}");
    let refused = live.call_err(
        "create_customer",
        json!({"email": "new@example.com", "confirm": true}),
    );
    assert!(refused.contains("STRIPE_LIVE_WRITES=true"), "{refused}");
    assert_eq!(stand.calls("POST /v1/customers"), 0);
    // Reads work with the live key.
    let account = live.call_ok("get_balance", json!({}));
    assert!(account["summary"].as_str().unwrap().contains("balance"));

    let mut allowed = server(
        &stand,
        &[("STRIPE_API_KEY", LIVE_KEY), ("STRIPE_LIVE_WRITES", "true")],
    );
    let created = allowed.call_ok(
        "create_customer",
        json!({"email": "new@example.com", "confirm": true}),
    );
    assert_eq!(stand.calls("POST /v1/customers"), 1);
    assert!(
        created["object"]["id"]
            .as_str()
            .unwrap()
            .starts_with("cus_")
    );
}

#[test]
fn a_declined_card_and_a_bad_currency_read_as_sentences() {
    let stand = Stand::start(stripe_standin::spawn);
    let mut server = server(&stand, &[]);
    let customer = customer_id(&mut server);
    let mut declined = payment(&customer);
    declined["payment_method"] = json!("pm_card_chargeDeclinedInsufficientFunds");
    let message = server.call_err("create_payment_intent", declined);
    assert!(
        message.starts_with("Stripe refused the card: card_declined (insufficient_funds): "),
        "{message}"
    );
    assert!(message.contains(" — request req_"), "{message}");
    assert!(!message.contains('{'), "no raw JSON: {message}");

    let mut bad = payment(&customer);
    bad["currency"] = json!("xyz");
    let message = server.call_err("create_payment_intent", bad);
    assert_eq!(
        message,
        "invalid argument `currency`: expected a currency Stripe supports (ISO 4217, such as eur, usd or jpy); `xyz` is not one"
    );
    assert_eq!(stand.calls("POST /v1/payment_intents"), 1);
}

#[test]
fn rate_limits_are_waited_out_and_unknown_ids_say_so() {
    let stand = Stand::start(stripe_standin::spawn);
    let mut server = server(&stand, &[]);
    stand.control(
        "fault",
        json!({"mode": "status", "status": 429, "retry_after": 1, "count": 1, "path": "/v1/customers"}),
    );
    let customers = server.call_ok("list_customers", json!({"limit": 3}));
    assert_eq!(customers["objects"].as_array().unwrap().len(), 3);
    assert_eq!(stand.calls("GET /v1/customers"), 2);

    let missing = server.call_err("get_customer", json!({"id": "cus_doesnotexist"}));
    assert!(
        missing.contains("not found") && missing.contains("request req_"),
        "{missing}"
    );
    let wrong = server.call_err("get_payment_intent", json!({"id": "cus_123"}));
    assert_eq!(
        wrong,
        "invalid argument `id`: expected a Stripe id starting pi_…"
    );
}

#[test]
fn the_catalogue_invoices_subscriptions_and_coupons_work_end_to_end() {
    let stand = Stand::start(stripe_standin::spawn);
    let mut server = server(&stand, &[("MCP_CONFIRM", "none")]);
    let customer = customer_id(&mut server);
    let product = server.call_ok("create_product", json!({"name": "Support plan"}));
    let product = product["object"]["id"].as_str().unwrap().to_owned();
    let price = server.call_ok(
        "create_price",
        json!({"product": product, "unit_amount": 2900, "currency": "usd", "interval": "month"}),
    );
    assert_eq!(price["object"]["unit_amount_display"], "$29.00");
    let price = price["object"]["id"].as_str().unwrap().to_owned();
    let prices = server.call_ok("list_prices", json!({"product": product}));
    assert_eq!(prices["objects"][0]["id"], price.as_str());
    let link = server.call_ok(
        "create_payment_link",
        json!({"line_items": [{"price": price, "quantity": 2}]}),
    );
    assert!(
        link["object"]["url"].as_str().unwrap().starts_with("http"),
        "{link}"
    );

    let invoice = server.call_ok("create_invoice",
        json!({"customer": customer, "auto_advance": false, "collection_method": "send_invoice", "days_until_due": 14}),
    );
    let invoice = invoice["object"]["id"].as_str().unwrap().to_owned();
    server.call_ok(
        "add_invoice_item",
        json!({"customer": customer, "invoice": invoice, "price": price, "quantity": 2}),
    );
    server.call_ok("add_invoice_item",
        json!({"customer": customer, "invoice": invoice, "amount": 1000, "currency": "usd", "description": "Setup"}),
    );
    let draft = server.call_ok("get_invoice", json!({"id": invoice}));
    assert_eq!(draft["object"]["total"], 6800, "{draft}");
    assert_eq!(draft["object"]["total_display"], "$68.00");
    let finalized = server.call_ok("finalize_invoice", json!({"invoice": invoice}));
    assert_eq!(finalized["object"]["status"], "open");
    server.call_ok("send_invoice", json!({"invoice": invoice}));
    let voided = server.call_ok("void_invoice", json!({"invoice": invoice}));
    assert_eq!(voided["object"]["status"], "void");
    let open = server.call_ok(
        "list_invoices",
        json!({"customer": customer, "status": "void"}),
    );
    assert!(
        open["objects"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == invoice.as_str())
    );

    let subscriptions = server.call_ok("list_subscriptions", json!({"customer": customer}));
    let subscription = subscriptions["objects"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A subscription's prices share its currency and interval (the seeded one is monthly, in eur).
    let price = server.call_ok(
        "create_price",
        json!({"product": product, "unit_amount": 3900, "currency": "eur", "interval": "month"}),
    );
    let price = price["object"]["id"].as_str().unwrap().to_owned();
    let changed = server.call_ok("update_subscription",
        json!({"subscription": subscription, "price": price, "quantity": 3, "proration_behavior": "none"}),
    );
    assert_eq!(changed["object"]["items"][0]["quantity"], 3, "{changed}");
    assert_eq!(
        changed["object"]["items"][0]["price"]["id"],
        price.as_str(),
        "{changed}"
    );
    let cancelled = server.call_ok("cancel_subscription", json!({"subscription": subscription}));
    assert_eq!(cancelled["object"]["status"], "canceled");

    let coupon = server.call_ok("create_coupon",
        json!({"percent_off": 20, "duration": "repeating", "duration_in_months": 3, "name": "Spring"}),
    );
    let coupons = server.call_ok("list_coupons", json!({"limit": 100}));
    assert!(
        coupons["objects"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == coupon["object"]["id"])
    );
    let bad = server.call_err(
        "create_coupon",
        json!({"percent_off": 20, "duration": "repeating"}),
    );
    assert!(bad.contains("`duration_in_months`"), "{bad}");
}

#[test]
fn every_write_previews_what_it_would_do() {
    let stand = Stand::start(stripe_standin::spawn);
    let mut server = server(&stand, &[]);
    let customer = customer_id(&mut server);
    let invoices = server.call_ok(
        "list_invoices",
        json!({"customer": customer, "status": "open"}),
    );
    let invoice = invoices["objects"][0]["id"].as_str().unwrap().to_owned();
    let subscriptions = server.call_ok("list_subscriptions", json!({"customer": customer}));
    let subscription = subscriptions["objects"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // (tool, arguments, what the refusal without consent must show)
    let cases = [
        (
            "void_invoice",
            json!({"invoice": invoice}),
            "void the invoice",
        ),
        (
            "cancel_subscription",
            json!({"subscription": subscription}),
            "/month",
        ),
        (
            "create_price",
            json!({"product": "prod_x1", "unit_amount": 2900, "currency": "eur", "interval": "month"}),
            "€29.00 every month",
        ),
        (
            "create_coupon",
            json!({"amount_off": 500, "currency": "usd", "duration": "once"}),
            "$5.00 off, once",
        ),
        (
            "update_customer",
            json!({"customer": customer, "email": "new@example.com"}),
            "acme-billing@example.com",
        ),
    ];
    for (tool, arguments, shown) in cases {
        let refused = server.call_err(tool, arguments);
        assert!(
            refused.contains("What it would change:") && refused.contains(shown),
            "{tool}: {refused}"
        );
    }
}

/// Found by the fault table (`tests/tests/fault_table.rs`): a write whose every attempt was
/// carried out by Stripe but answered too late (or answered with garbage) came back as an error
/// that read like nothing had happened, and the garbage was blamed on the API version.
#[test]
fn a_write_whose_answers_are_all_lost_says_it_may_have_taken_effect() {
    let stand = Stand::start(stripe_standin::spawn);
    let mut server = server(
        &stand,
        &[("STRIPE_TIMEOUT_SECS", "1"), ("STRIPE_RETRIES", "1")],
    );
    let customer = json!({"name": "Lost answers", "email": "lost@example.com", "confirm": true});
    let before = stand.state().count("customers");
    stand.control(
        "fault",
        json!({"mode": "hang_after", "count": null, "path": "/v1/customers"}),
    );
    let lost = server.call_err("create_customer", customer.clone());
    assert!(
        lost.contains("after 2 attempts") && lost.contains("may have reached the service"),
        "{lost}"
    );
    stand.control("fault", json!({"mode": "none"}));
    assert_eq!(stand.state().count("customers"), before + 1, "created once");
    // The same call again is answered from Stripe's record of the first: nothing twice.
    let again = server.call_ok("create_customer", customer);
    assert_eq!(again["replayed"], true, "{again}");
    assert_eq!(stand.state().count("customers"), before + 1);

    let other = json!({"name": "Garbled", "email": "garbled@example.com", "confirm": true});
    stand.control(
        "fault",
        json!({"mode": "malformed", "count": 1, "path": "/v1/customers"}),
    );
    let garbled = server.call_err("create_customer", other.clone());
    assert!(
        garbled.contains("the answer is not JSON")
            && !garbled.contains("API version")
            && garbled.contains("probably carried out"),
        "{garbled}"
    );
    assert_eq!(stand.state().count("customers"), before + 2);
    assert_eq!(server.call_ok("create_customer", other)["replayed"], true);
    assert_eq!(stand.state().count("customers"), before + 2);
}
