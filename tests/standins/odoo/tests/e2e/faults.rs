//! Fault injection and call counting through `/__standin/`.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::{client, control, standin};

async fn version(client: &reqwest::Client, url: &str) -> Result<reqwest::Response, reqwest::Error> {
    client.get(format!("{url}/web/version")).send().await
}

async fn search_count(
    client: &reqwest::Client,
    url: &str,
) -> Result<reqwest::Response, reqwest::Error> {
    client
        .post(format!("{url}/json/2/res.partner/search_count"))
        .header("Authorization", "bearer test-api-key")
        .json(&json!({"domain": []}))
        .send()
        .await
}

#[tokio::test]
async fn hang_makes_the_clients_own_timeout_fire() {
    let standin = standin().await;
    let url = standin.url();
    control(&standin, "fault", json!({"mode": "hang", "times": 1})).await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let started = Instant::now();
    let error = search_count(&impatient, &url).await.expect_err("no answer");
    assert!(error.is_timeout(), "{error:?}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    let answer = search_count(&impatient, &url)
        .await
        .expect("the fault only applied once");
    assert_eq!(answer.text().await.expect("body"), "14");
}

#[tokio::test]
async fn reset_releases_hung_requests() {
    let standin = standin().await;
    let url = standin.url();
    control(&standin, "fault", json!({"mode": "hang"})).await;
    let started = Instant::now();
    let hung = tokio::spawn(async move { search_count(&client(), &url).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!hung.is_finished(), "still waiting for an answer");
    control(&standin, "reset", json!({})).await;
    let error = hung
        .await
        .expect("task")
        .expect_err("the connection is dropped, not answered");
    assert!(!error.is_timeout(), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn slow_answers_after_the_delay() {
    let standin = standin().await;
    let url = standin.url();
    control(
        &standin,
        "fault",
        json!({"mode": "slow", "delay_ms": 400, "times": 1}),
    )
    .await;
    let started = Instant::now();
    let answer = search_count(&client(), &url).await.expect("a slow answer");
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(answer.text().await.expect("body"), "14");
    let started = Instant::now();
    search_count(&client(), &url).await.expect("answer");
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "the delay applied once"
    );
}

#[tokio::test]
async fn close_drops_the_connection_without_an_answer() {
    let standin = standin().await;
    let url = standin.url();
    control(&standin, "fault", json!({"mode": "close", "times": 1})).await;
    let client = client();
    let error = search_count(&client, &url).await.expect_err("no response");
    assert!(!error.is_timeout() && !error.is_status(), "{error:?}");
    assert!(error.is_request() || error.is_connect(), "{error:?}");
    let answer = search_count(&client, &url)
        .await
        .expect("the next request is served");
    assert_eq!(answer.status(), 200);
    // The dropped request still arrived, so it counts.
    assert_eq!(
        standin
            .state
            .call_count("json2", "res.partner", "search_count"),
        2
    );
}

#[tokio::test]
async fn http502_until_reset_or_times() {
    let standin = standin().await;
    let url = standin.url();
    let client = client();
    control(&standin, "fault", json!({"mode": "http502", "times": 2})).await;
    for _ in 0..2 {
        let answer = version(&client, &url).await.expect("answer");
        assert_eq!(answer.status(), 502);
        assert!(
            answer
                .text()
                .await
                .expect("body")
                .contains("<title>502 Bad Gateway</title>")
        );
    }
    assert_eq!(version(&client, &url).await.expect("answer").status(), 200);

    // Without `times`, the fault lasts until reset, and control routes are never affected.
    control(&standin, "fault", json!({"mode": "http502"})).await;
    for _ in 0..3 {
        assert_eq!(
            search_count(&client, &url).await.expect("answer").status(),
            502
        );
    }
    control(&standin, "reset", json!({})).await;
    assert_eq!(
        search_count(&client, &url).await.expect("answer").status(),
        200
    );
    control(&standin, "fault", json!({"mode": "http502"})).await;
    control(&standin, "fault", json!({"mode": "none"})).await;
    assert_eq!(version(&client, &url).await.expect("answer").status(), 200);
}

#[tokio::test]
async fn calls_are_counted_by_protocol_model_and_method() {
    let standin = standin().await;
    let url = standin.url();
    let client = client();
    let write = client
        .post(format!("{url}/json/2/crm.lead/write"))
        .header("Authorization", "bearer test-api-key")
        .json(&json!({"ids": [1], "vals": {"probability": 50}}))
        .send()
        .await
        .expect("write");
    assert_eq!(write.status(), 200);
    let xml = odoo_standin::xmlrpc::encode_method_call(
        "execute_kw",
        &[
            "test".into(),
            odoo_standin::Value::Int(2),
            "admin".into(),
            "crm.lead".into(),
            "write".into(),
            odoo_standin::Value::List(vec![
                odoo_standin::Value::List(vec![odoo_standin::Value::Int(1)]),
                odoo_standin::Value::dict([("probability", odoo_standin::Value::Int(60))]),
            ]),
        ],
    );
    client
        .post(format!("{url}/xmlrpc/2/object"))
        .body(xml)
        .send()
        .await
        .expect("xml-rpc write");
    client
        .post(format!("{url}/xmlrpc/2/common"))
        .body(odoo_standin::xmlrpc::encode_method_call("version", &[]))
        .send()
        .await
        .expect("version");
    let calls: serde_json::Value = client
        .get(format!("{url}/__standin/calls"))
        .send()
        .await
        .expect("calls")
        .json()
        .await
        .expect("json");
    assert_eq!(
        calls,
        json!({
            "calls": [
                {"protocol": "json2", "model": "crm.lead", "method": "write", "count": 1},
                {"protocol": "xmlrpc", "model": "common", "method": "version", "count": 1},
                {"protocol": "xmlrpc", "model": "crm.lead", "method": "write", "count": 1}
            ],
            "total": 3
        })
    );
    control(&standin, "reset", json!({})).await;
    let calls: serde_json::Value = client
        .get(format!("{url}/__standin/calls"))
        .send()
        .await
        .expect("calls")
        .json()
        .await
        .expect("json");
    assert_eq!(calls, json!({"calls": [], "total": 0}));
}

#[tokio::test]
async fn control_routes_validate_their_input() {
    let standin = standin().await;
    let url = standin.url();
    let client = client();
    for body in [
        json!({"mode": "explode"}),
        json!({"mode": "slow", "delay_ms": -1}),
        json!({"mode": "hang", "times": 0}),
    ] {
        let answer = client
            .post(format!("{url}/__standin/fault"))
            .json(&body)
            .send()
            .await
            .expect("fault");
        assert_eq!(answer.status(), 400, "{body}");
    }
    let answer = client
        .post(format!("{url}/__standin/password"))
        .json(&json!({"login": "nobody", "password": "x"}))
        .send()
        .await
        .expect("password");
    assert_eq!(answer.status(), 404);
    let answer = client
        .post(format!("{url}/__standin/password"))
        .json(&json!({"login": "admin"}))
        .send()
        .await
        .expect("password");
    assert_eq!(answer.status(), 400);
}

#[tokio::test]
async fn the_kits_modes_apply_with_an_nginx_page_for_statuses() {
    let standin = standin().await;
    let url = standin.url();
    let client = client();
    control(
        &standin,
        "fault",
        json!({"mode": "status", "status": 429, "retry_after": 3, "path": "/json/2/"}),
    )
    .await;
    // Another path is untouched and does not use up the plan.
    assert_eq!(version(&client, &url).await.expect("version").status(), 200);
    let limited = search_count(&client, &url).await.expect("answered");
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "3");
    assert!(limited.text().await.expect("body").contains("nginx"));

    control(&standin, "fault", json!({"mode": "malformed"})).await;
    let garbage = search_count(&client, &url).await.expect("answered");
    assert_eq!(garbage.status(), 200);
    let body = garbage.text().await.expect("body");
    assert!(
        serde_json::from_str::<serde_json::Value>(&body).is_err(),
        "{body}"
    );

    control(&standin, "fault", json!({"mode": "truncated"})).await;
    let cut = search_count(&client, &url).await.expect("headers");
    assert!(cut.bytes().await.is_err(), "the body is cut short");

    // An Odoo mode replaces a kit plan: `none` clears everything.
    control(
        &standin,
        "fault",
        json!({"mode": "drop_after", "count": null}),
    )
    .await;
    control(&standin, "fault", json!({"mode": "none"})).await;
    let answer = search_count(&client, &url).await.expect("answered");
    assert_eq!(answer.text().await.expect("body"), "14");
}
