//! Stripe's behaviour beyond shapes: pagination, idempotency keys, test cards, refund limits, validation, keys and
//! modes, Connect accounts, search, faults and the control routes, and the binary's start-up contract.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;
use std::io::{BufRead as _, BufReader};
use std::time::{Duration, Instant};

use common::{LIVE_KEY, TEST_KEY, decode, id_of, start};
use stripe_core::customer::{CreateCustomer, ListCustomer, RetrieveCustomer, SearchCustomer};
use stripe_core::payment_intent::CreatePaymentIntent;
use stripe_core::refund::CreateRefund;
use stripe_types::Currency;

fn paid_intent(amount: i64) -> CreatePaymentIntent {
    CreatePaymentIntent::new(amount, Currency::EUR)
        .payment_method("pm_card_visa")
        .confirm(true)
        .return_url("https://shop.example.com/return")
}

#[tokio::test]
async fn pagination_through_250_customers_returns_each_exactly_once() {
    let client = start().await;
    client
        .control("seed", serde_json::json!({"customers": 250}))
        .await;
    let total = client.count("customers").await as usize;
    assert_eq!(total, 253, "three seeded customers plus 250");

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut request = ListCustomer::new().limit(100);
        if let Some(after) = &after {
            request = request.starting_after(after.as_str());
        }
        let page = client.call(&request).await;
        seen.extend(
            page.data
                .iter()
                .map(|customer| customer.id.as_str().to_string()),
        );
        if !page.has_more {
            break;
        }
        after = Some(page.data.last().unwrap().id.as_str().to_string());
    }
    assert_eq!(seen.len(), total);
    assert_eq!(
        seen.iter().collect::<HashSet<_>>().len(),
        total,
        "no customer twice"
    );

    // Backwards from the oldest with ending_before gives the same objects.
    let mut back = Vec::new();
    let mut before = seen.last().cloned();
    back.push(before.clone().unwrap());
    loop {
        let page = client
            .call(
                &ListCustomer::new()
                    .limit(100)
                    .ending_before(before.as_deref().unwrap()),
            )
            .await;
        back.extend(
            page.data
                .iter()
                .rev()
                .map(|customer| customer.id.as_str().to_string()),
        );
        if !page.has_more {
            break;
        }
        before = Some(page.data[0].id.as_str().to_string());
    }
    back.reverse();
    assert_eq!(back, seen);

    // Search pages with next_page tokens.
    let mut found = HashSet::new();
    let mut page_token: Option<String> = None;
    loop {
        let mut request = SearchCustomer::new("name~'Customer'").limit(100);
        if let Some(token) = &page_token {
            request = request.page(token.as_str());
        }
        let page = client.call(&request).await;
        for customer in &page.data {
            assert!(found.insert(customer.id.as_str().to_string()));
        }
        match page.next_page {
            Some(token) => page_token = Some(token),
            None => break,
        }
    }
    assert_eq!(found.len(), 250);
    let first = client.call(&ListCustomer::new().limit(1)).await;
    assert_eq!(first.data[0].name.as_deref(), Some("Customer 0250"));
}

#[tokio::test]
async fn list_parameters_are_validated_as_stripe_does() {
    let client = start().await;
    for limit in [0, 101] {
        let answer = client.send(&ListCustomer::new().limit(limit)).await;
        assert_eq!(answer.status, 400);
        assert_eq!(answer.error()["param"], "limit");
    }
    let answer = client
        .send(&ListCustomer::new().starting_after("cus_doesnotexist"))
        .await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.error()["code"], "resource_missing");
    assert_eq!(answer.error()["param"], "starting_after");
    let recent = client
        .raw("GET", "/v1/customers?created%5Bgte%5D=1000000000", "")
        .await;
    assert_eq!(recent.json()["data"].as_array().unwrap().len(), 3);
    let ancient = client
        .raw("GET", "/v1/customers?created[lt]=1000000000", "")
        .await;
    assert!(
        ancient.json()["data"].as_array().unwrap().is_empty(),
        "created ranges filter"
    );
    let answer = client.raw("GET", "/v1/customers?bogus=1", "").await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.error()["message"],
        "Received unknown parameter: bogus"
    );
    let answer = client
        .raw("POST", "/v1/customers", "email=a%40b.co&nickname=x")
        .await;
    assert_eq!(answer.error()["param"], "nickname");
}

#[tokio::test]
async fn idempotency_replays_refuses_other_parameters_and_only_applies_with_a_key() {
    let client = start().await;
    let request = CreateCustomer::new().email("idem@example.com");
    let first = client.send_idempotent(&request, "key-1").await;
    let second = client.send_idempotent(&request, "key-1").await;
    assert_eq!(first.status, 200);
    assert_eq!(second.status, 200);
    assert_eq!(first.json()["id"], second.json()["id"], "the same object");
    assert_eq!(
        second.header("idempotent-replayed").as_deref(),
        Some("true")
    );
    assert_eq!(first.header("idempotent-replayed"), None);
    assert_ne!(first.header("request-id"), second.header("request-id"));
    assert_eq!(
        second.header("original-request"),
        first.header("request-id")
    );
    assert_eq!(client.count("customers").await, 4);

    let other = client
        .send_idempotent(&CreateCustomer::new().email("other@example.com"), "key-1")
        .await;
    assert_eq!(other.status, 400);
    assert_eq!(other.error()["type"], "idempotency_error");
    let other_path = client
        .send_idempotent(&stripe_product::product::CreateProduct::new("X"), "key-1")
        .await;
    assert_eq!(other_path.error()["type"], "idempotency_error");

    client.call(&request).await;
    client.call(&request).await;
    assert_eq!(
        client.count("customers").await,
        6,
        "without a key every request creates"
    );

    // A key is scoped to its mode: its first use with the live key creates a live object.
    let mut client = client;
    client.key = LIVE_KEY.to_string();
    let live_answer = client.send_idempotent(&request, "key-1").await;
    assert_eq!(live_answer.status, 200);
    assert_ne!(first.json()["id"], live_answer.json()["id"]);
    assert_eq!(live_answer.json()["livemode"], true);
    assert_eq!(live_answer.header("idempotent-replayed"), None);
}

#[tokio::test]
async fn idempotency_saves_execution_errors_but_not_validation_failures() {
    let client = start().await;
    let declined = CreatePaymentIntent::new(1000, Currency::EUR)
        .payment_method("pm_card_chargeDeclined")
        .confirm(true)
        .return_url("https://shop.example.com/return");
    let first = client.send_idempotent(&declined, "decline").await;
    assert_eq!(first.status, 402);
    let second = client.send_idempotent(&declined, "decline").await;
    assert_eq!(second.status, 402);
    assert_eq!(
        second.header("idempotent-replayed").as_deref(),
        Some("true")
    );
    assert_eq!(
        first.error()["payment_intent"]["id"],
        second.error()["payment_intent"]["id"]
    );
    assert_eq!(
        client.count("payment_intents").await,
        4,
        "one intent for the two requests"
    );

    let bad = CreatePaymentIntent::new(1000, Currency::Unknown("xyz".into()));
    let refused = client.send_idempotent(&bad, "validate").await;
    assert_eq!(refused.status, 400);
    let good = client.send_idempotent(&paid_intent(1000), "validate").await;
    assert_eq!(
        good.status, 200,
        "a validation failure saved nothing under the key: {}",
        good.body
    );
}

#[tokio::test]
async fn a_request_while_the_first_with_its_key_executes_gets_409() {
    let client = start().await;
    client
        .control("latency", serde_json::json!({"ms": 400}))
        .await;
    let request = CreateCustomer::new().email("race@example.com");
    let (a, b) = tokio::join!(client.send_idempotent(&request, "race"), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        client.send_idempotent(&request, "race").await
    });
    assert_eq!(a.status, 200);
    assert_eq!(b.status, 409);
    assert_eq!(b.error()["type"], "idempotency_error");
    client
        .control("latency", serde_json::json!({"ms": 0}))
        .await;
    let c = client.send_idempotent(&request, "race").await;
    assert_eq!(c.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(c.json()["id"], a.json()["id"]);
}

#[tokio::test]
async fn test_cards_decide_the_outcome() {
    let client = start().await;
    let before = client
        .call(&stripe_core::balance::RetrieveForMyAccountBalance::new())
        .await;
    let pending_eur = |balance: &stripe_core::Balance| {
        balance
            .pending
            .iter()
            .filter(|amount| amount.currency == Currency::EUR)
            .map(|amount| amount.amount)
            .sum::<i64>()
    };
    let paid = client.call(&paid_intent(10_000)).await;
    assert_eq!(paid.status.as_str(), "succeeded");
    let after = client
        .call(&stripe_core::balance::RetrieveForMyAccountBalance::new())
        .await;
    assert_eq!(
        pending_eur(&after) - pending_eur(&before),
        10_000 - 320,
        "the net of 2.9 % + 30 is pending"
    );

    for (token, code, decline_code, message) in [
        (
            "pm_card_chargeDeclined",
            "card_declined",
            "generic_decline",
            "Your card was declined.",
        ),
        (
            "pm_card_chargeDeclinedInsufficientFunds",
            "card_declined",
            "insufficient_funds",
            "Your card has insufficient funds.",
        ),
        (
            "pm_card_chargeDeclinedExpiredCard",
            "expired_card",
            "expired_card",
            "Your card has expired.",
        ),
    ] {
        let answer = client
            .send(
                &CreatePaymentIntent::new(2000, Currency::EUR)
                    .payment_method(token)
                    .confirm(true)
                    .return_url("https://shop.example.com/return"),
            )
            .await;
        assert_eq!(answer.status, 402, "{token}");
        let error = answer.error();
        assert_eq!(error["type"], "card_error");
        assert_eq!(error["code"], code);
        assert_eq!(error["decline_code"], decline_code);
        assert_eq!(error["message"], message);
        assert!(error["charge"].as_str().unwrap().starts_with("ch_"));
        let intent = &error["payment_intent"];
        assert_eq!(intent["status"], "requires_payment_method");
        assert_eq!(intent["last_payment_error"]["decline_code"], decline_code);
        // async-stripe decodes the error object and the intent inside it.
        let decoded: stripe_shared::ApiErrors =
            miniserde::json::from_str(&error.to_string()).expect("ApiErrors decodes");
        assert_eq!(decoded.decline_code.as_deref(), Some(decline_code));
        assert!(decoded.payment_intent.is_some());
        let charge = client
            .call(&stripe_core::charge::RetrieveCharge::new(
                error["charge"].as_str().unwrap(),
            ))
            .await;
        assert!(!charge.paid);
        assert_eq!(charge.failure_code.as_deref(), Some(code));
    }

    // Automatic payment methods allow redirects by default, and then Stripe wants a return_url to confirm.
    let no_return = client
        .send(
            &CreatePaymentIntent::new(2000, Currency::EUR)
                .payment_method("pm_card_visa")
                .confirm(true),
        )
        .await;
    assert_eq!(no_return.status, 400);
    assert_eq!(no_return.error()["param"], "return_url");
    let never = client
        .call(
            &CreatePaymentIntent::new(2000, Currency::EUR)
                .payment_method("pm_card_visa")
                .confirm(true)
                .automatic_payment_methods(
                    stripe_core::payment_intent::CreatePaymentIntentAutomaticPaymentMethods {
                        allow_redirects: Some(
                            stripe_core::payment_intent::CreatePaymentIntentAutomaticPaymentMethodsAllowRedirects::Never,
                        ),
                        enabled: true,
                    },
                ),
        )
        .await;
    assert_eq!(
        never.status.as_str(),
        "succeeded",
        "no return_url needed without redirects"
    );

    let without = client
        .call(&CreatePaymentIntent::new(2000, Currency::EUR))
        .await;
    assert_eq!(without.status.as_str(), "requires_payment_method");
    let unknown = client
        .send(&CreatePaymentIntent::new(2000, Currency::EUR).payment_method("pm_nope"))
        .await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.error()["param"], "payment_method");
    let tiny = client
        .send(&CreatePaymentIntent::new(10, Currency::EUR))
        .await;
    assert_eq!(tiny.error()["code"], "amount_too_small");
}

#[tokio::test]
async fn refunds_are_limited_to_what_remains() {
    let client = start().await;
    let paid = client.call(&paid_intent(5000)).await;
    let too_much = client
        .send(
            &CreateRefund::new()
                .payment_intent(paid.id.as_str())
                .amount(6000),
        )
        .await;
    assert_eq!(too_much.status, 400);
    assert_eq!(too_much.error()["code"], "amount_too_large");
    assert_eq!(too_much.error()["param"], "amount");
    client
        .call(
            &CreateRefund::new()
                .payment_intent(paid.id.as_str())
                .amount(4000),
        )
        .await;
    let over_rest = client
        .send(
            &CreateRefund::new()
                .payment_intent(paid.id.as_str())
                .amount(1001),
        )
        .await;
    assert_eq!(over_rest.error()["code"], "amount_too_large");
    client
        .call(
            &CreateRefund::new()
                .payment_intent(paid.id.as_str())
                .amount(1000),
        )
        .await;
    let again = client
        .send(&CreateRefund::new().payment_intent(paid.id.as_str()))
        .await;
    assert_eq!(again.status, 400);
    assert_eq!(again.error()["code"], "charge_already_refunded");

    let unpaid = client
        .call(&CreatePaymentIntent::new(5000, Currency::EUR))
        .await;
    let nothing = client
        .send(&CreateRefund::new().payment_intent(unpaid.id.as_str()))
        .await;
    assert_eq!(nothing.status, 400);
    let neither = client.send(&CreateRefund::new()).await;
    assert_eq!(neither.status, 400);
    let disputed = client.call(&stripe_core::dispute::ListDispute::new()).await;
    let charge = match &disputed.data[0].charge {
        stripe_types::Expandable::Id(id) => id.as_str().to_string(),
        stripe_types::Expandable::Object(charge) => charge.id.as_str().to_string(),
    };
    let chargeback = client
        .send(&CreateRefund::new().charge(charge.as_str()))
        .await;
    assert_eq!(chargeback.error()["code"], "charge_disputed");
}

#[tokio::test]
async fn unknown_currencies_are_refused_with_stripes_message() {
    let client = start().await;
    let answer = client
        .send(&CreatePaymentIntent::new(
            1000,
            Currency::Unknown("xyz".into()),
        ))
        .await;
    assert_eq!(answer.status, 400);
    let error = answer.error();
    assert_eq!(error["type"], "invalid_request_error");
    assert_eq!(error["param"], "currency");
    assert!(
        error["message"].as_str().unwrap().starts_with(
            "Invalid currency: xyz. Stripe currently supports these currencies: usd, aed,"
        ),
        "{error}"
    );
    let price = client
        .send(
            &stripe_product::price::CreatePrice::new(Currency::Unknown("abc".into()))
                .unit_amount(1)
                .product("prod_x"),
        )
        .await;
    assert_eq!(price.status, 400);
}

#[tokio::test]
async fn keys_decide_mode_and_bad_keys_get_401_without_the_key() {
    let mut client = start().await;
    let test_customer = client
        .call(&CreateCustomer::new().email("t@example.com"))
        .await;
    client.key = LIVE_KEY.to_string();
    let live_customer = client
        .call(&CreateCustomer::new().email("l@example.com"))
        .await;
    assert!(live_customer.livemode);
    let live_intent = client.call(&paid_intent(2000)).await;
    assert!(live_intent.livemode);
    let crossed = client
        .send(&RetrieveCustomer::new(test_customer.id.as_str()))
        .await;
    assert_eq!(
        crossed.status, 404,
        "test objects are not visible with a live key"
    );
    assert_eq!(crossed.error()["code"], "resource_missing");
    assert_eq!(crossed.error()["param"], "id");
    assert!(
        crossed.error()["request_log_url"]
            .as_str()
            .unwrap()
            .starts_with("https://dashboard.stripe.com/logs/req_")
    );

    client.key = "rk_test_51RestrictedKey0000".to_string();
    assert_eq!(client.send(&ListCustomer::new()).await.status, 200);
    for key in [
        "sk_test_51NotAGoodKeyrevoked99",
        "sk_test_short",
        "pk_test_51PublishableKey000",
        "whatever-key-9876",
        "",
    ] {
        client.key = key.to_string();
        let answer = client.send(&ListCustomer::new()).await;
        assert_eq!(answer.status, 401, "{key}");
        let message = answer.error()["message"].as_str().unwrap().to_string();
        if key.len() > 4 {
            assert!(!message.contains(key), "the key is never echoed: {message}");
            assert!(
                message.starts_with("Invalid API Key provided: "),
                "{message}"
            );
            assert!(
                message.ends_with(&format!("****{}", &key[key.len() - 4..])),
                "{message}"
            );
        }
        assert!(answer.header("request-id").unwrap().starts_with("req_"));
    }
}

#[tokio::test]
async fn every_answer_has_a_request_id_and_errors_name_it() {
    let client = start().await;
    let ok = client.send(&ListCustomer::new()).await;
    assert!(ok.header("request-id").unwrap().starts_with("req_"));
    let missing = client.send(&RetrieveCustomer::new("cus_missing")).await;
    assert_eq!(missing.status, 404);
    let id = missing.header("request-id").unwrap();
    let url = missing.error()["request_log_url"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        url.starts_with(&format!("https://dashboard.stripe.com/test/logs/{id}")),
        "{url}"
    );
    assert_eq!(
        missing.error()["message"],
        "No such customer: 'cus_missing'"
    );
    let route = client.raw("GET", "/v1/nothing_here", "").await;
    assert_eq!(route.status, 404);
    assert_eq!(
        missing.header("stripe-version").as_deref(),
        Some(stripe_standin::API_VERSION)
    );
}

#[tokio::test]
async fn connect_accounts_have_their_own_objects() {
    let mut client = start().await;
    client.account = Some("acct_1ConnectedShop01".to_string());
    let account = client
        .call(&stripe_connect::account::RetrieveForMyAccountAccount::new())
        .await;
    assert_eq!(account.id.as_str(), "acct_1ConnectedShop01");
    let empty = client.call(&ListCustomer::new()).await;
    assert!(empty.data.is_empty(), "a connected account starts empty");
    let created = client
        .call(&CreateCustomer::new().email("shop@example.com"))
        .await;
    let answer = client.send(&ListCustomer::new()).await;
    assert_eq!(
        answer.header("stripe-account").as_deref(),
        Some("acct_1ConnectedShop01")
    );
    client.account = None;
    let platform = client
        .send(&RetrieveCustomer::new(created.id.as_str()))
        .await;
    assert_eq!(platform.status, 404);
    client.account = Some("not-an-account".to_string());
    assert_eq!(client.send(&ListCustomer::new()).await.status, 403);
}

#[tokio::test]
async fn search_queries_follow_stripes_language() {
    let client = start().await;
    let hits = client
        .call(&SearchCustomer::new(
            "name~'corp' OR email:'ap@initech.example.com'",
        ))
        .await;
    assert_eq!(hits.data.len(), 2);
    let negated = client
        .call(&SearchCustomer::new(
            "-name:'Acme Corporation' AND created>0",
        ))
        .await;
    assert_eq!(negated.data.len(), 2);
    let amounts = client
        .call(&stripe_core::payment_intent::SearchPaymentIntent::new(
            "amount>=4900 AND currency:'eur'",
        ))
        .await;
    assert_eq!(amounts.data.len(), 2);
    let metadata = client
        .call(&stripe_core::payment_intent::SearchPaymentIntent::new(
            "metadata['order_id']:'1001'",
        ))
        .await;
    assert_eq!(metadata.data.len(), 1);
    let last4 = client
        .call(&stripe_core::charge::SearchCharge::new(
            "payment_method_details.card.last4:4242 currency:'eur'",
        ))
        .await;
    assert_eq!(
        last4.data.len(),
        1,
        "Stripe's own example query, clauses joined by a space"
    );
    for query in [
        "name:'a' AND email:'b' OR phone:'c'",
        "nosuchfield:'x'",
        "email:",
        "name~'ab'",
    ] {
        let answer = client.send(&SearchCustomer::new(query)).await;
        assert_eq!(answer.status, 400, "{query}");
        assert_eq!(answer.error()["param"], "query", "{query}");
    }
    let bad_page = client
        .send(&SearchCustomer::new("name~'Acme'").page("forged"))
        .await;
    assert_eq!(bad_page.error()["param"], "page");
}

#[tokio::test]
async fn status_faults_answer_stripe_errors_without_executing() {
    let client = start().await;
    client
        .control("fault", serde_json::json!({"mode": "status", "status": 429, "retry_after": 3, "path": "/v1/customers"}))
        .await;
    let limited = client
        .send(&CreateCustomer::new().email("x@example.com"))
        .await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.error()["type"], "rate_limit_error");
    assert_eq!(limited.header("retry-after").as_deref(), Some("3"));
    assert!(limited.header("request-id").is_some());
    assert_eq!(client.count("customers").await, 3, "nothing was created");
    assert_eq!(
        client.send(&CreateCustomer::new()).await.status,
        200,
        "count defaults to one request"
    );

    client
        .control(
            "fault",
            serde_json::json!({"mode": "status", "status": 500, "count": 2}),
        )
        .await;
    assert_eq!(
        client.send(&ListCustomer::new()).await.error()["type"],
        "api_error"
    );
    assert_eq!(client.send(&ListCustomer::new()).await.status, 500);
    assert_eq!(client.send(&ListCustomer::new()).await.status, 200);

    let calls: serde_json::Value = client
        .http
        .get(format!("{}/__standin/calls", client.standin.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(calls["calls"]["POST /v1/customers"], 2);
    assert_eq!(calls["calls"]["GET /v1/customers"], 3);
}

#[tokio::test]
async fn slow_and_close_faults() {
    let client = start().await;
    client
        .control(
            "fault",
            serde_json::json!({"mode": "slow", "delay_ms": 300}),
        )
        .await;
    let started = Instant::now();
    assert_eq!(client.send(&ListCustomer::new()).await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));

    client
        .control("fault", serde_json::json!({"mode": "close"}))
        .await;
    let built =
        stripe_client_core::StripeRequest::build(&CreateCustomer::new().email("c@example.com"));
    let url = format!("{}/v1{}", client.standin.url(), built.path);
    let dropped = client
        .http
        .post(url)
        .bearer_auth(TEST_KEY)
        .body(built.body.unwrap_or_default())
        .send()
        .await;
    assert!(dropped.is_err(), "the connection closes without an answer");
    assert_eq!(
        client.count("customers").await,
        3,
        "close drops before handling"
    );
}

#[tokio::test]
async fn drop_after_creates_the_object_and_the_same_key_replays_it() {
    let client = start().await;
    client
        .control(
            "fault",
            serde_json::json!({"mode": "drop_after", "path": "/v1/payment_intents"}),
        )
        .await;
    let request = paid_intent(7700);
    let built = stripe_client_core::StripeRequest::build(&request);
    let url = format!("{}/v1{}", client.standin.url(), built.path);
    let dropped = client
        .http
        .post(&url)
        .bearer_auth(TEST_KEY)
        .header("idempotency-key", "after-reset")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(built.body.clone().unwrap_or_default())
        .send()
        .await;
    assert!(dropped.is_err(), "no answer reaches the client");
    assert_eq!(
        client.count("payment_intents").await,
        4,
        "but the payment intent was created"
    );
    assert_eq!(client.count("charges").await, 3, "and charged");

    let retried = client.send_idempotent(&request, "after-reset").await;
    assert_eq!(retried.status, 200);
    assert_eq!(
        retried.header("idempotent-replayed").as_deref(),
        Some("true")
    );
    let intent = decode::<CreatePaymentIntent>(&retried);
    assert_eq!(intent.amount, 7700);
    assert_eq!(
        client.count("payment_intents").await,
        4,
        "the retry created nothing"
    );
}

#[tokio::test]
async fn hang_after_creates_the_object_and_never_answers() {
    let client = start().await;
    client
        .control("fault", serde_json::json!({"mode": "hang_after"}))
        .await;
    let built =
        stripe_client_core::StripeRequest::build(&CreateCustomer::new().email("hang@example.com"));
    let url = format!("{}/v1{}", client.standin.url(), built.path);
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let answer = impatient
        .post(url)
        .bearer_auth(TEST_KEY)
        .header("idempotency-key", "hang")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(built.body.unwrap_or_default())
        .send()
        .await;
    assert!(answer.unwrap_err().is_timeout());
    assert_eq!(
        client.count("customers").await,
        4,
        "created before the silence"
    );
    let replay = client
        .send_idempotent(&CreateCustomer::new().email("hang@example.com"), "hang")
        .await;
    assert_eq!(
        replay.header("idempotent-replayed").as_deref(),
        Some("true")
    );
}

#[tokio::test]
async fn reset_restores_the_seed_and_forgets_keys() {
    let client = start().await;
    let first = client
        .send_idempotent(&CreateCustomer::new().email("r@example.com"), "k")
        .await;
    client
        .control("seed", serde_json::json!({"customers": 5}))
        .await;
    assert_eq!(client.count("customers").await, 9);
    client.control("reset", serde_json::json!({})).await;
    assert_eq!(client.count("customers").await, 3);
    let again = client
        .send_idempotent(&CreateCustomer::new().email("r@example.com"), "k")
        .await;
    assert_eq!(again.header("idempotent-replayed"), None);
    assert_ne!(id_of(&again.json()), id_of(&first.json()));
}

#[test]
fn the_binary_announces_its_loopback_address_and_serves() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_stripe-standin"))
        .args(["--listen", "127.0.0.1:0"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("stripe-standin: listening on http://")
        .expect(&line)
        .to_string();
    let answer = reqwest::blocking::Client::new()
        .get(format!("http://{addr}/v1/customers?limit=1"))
        .bearer_auth(TEST_KEY)
        .send()
        .unwrap();
    assert_eq!(answer.status(), 200);
    let _ = child.kill();
    let _ = child.wait();

    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_stripe-standin"))
        .args(["--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!refused.status.success(), "only loopback is accepted");
}
