//! The kit end to end with a toy service: control routes, each fault mode over a real connection, call counts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use standin_kit::{Faults, Running, Service};

/// Counts the requests it handled, so a test can tell "handled, then dropped" from "dropped before handling".
#[derive(Clone, Default)]
struct Toy {
    handled: Arc<AtomicU64>,
    resets: Arc<AtomicU64>,
}

impl Service for Toy {
    fn fault_response(&self, status: StatusCode) -> Response {
        (status, axum::Json(json!({"toy_error": status.as_u16()}))).into_response()
    }

    fn reset(&self) {
        self.resets.fetch_add(1, Ordering::SeqCst);
    }
}

async fn start() -> Running<Toy> {
    let toy = Toy::default();
    let handled = toy.handled.clone();
    let api = Router::new().route(
        "/v1/things",
        post(move || {
            let handled = handled.clone();
            async move {
                handled.fetch_add(1, Ordering::SeqCst);
                axum::Json(json!({"ok": true}))
            }
        }),
    );
    let router = standin_kit::with_controls(api, toy.clone(), Arc::new(Faults::default()));
    standin_kit::spawn(router, toy).await.unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_millis(800))
        .build()
        .unwrap()
}

async fn fault(running: &Running<Toy>, body: Value) {
    let answer = client()
        .post(format!("{}/__standin/fault", running.url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
}

async fn thing(running: &Running<Toy>) -> reqwest::Result<reqwest::Response> {
    client()
        .post(format!("{}/v1/things", running.url()))
        .send()
        .await
}

fn handled(running: &Running<Toy>) -> u64 {
    running.state.handled.load(Ordering::SeqCst)
}

#[tokio::test]
async fn every_fault_mode_over_a_real_connection() {
    let running = start().await;
    assert!(running.url().starts_with("http://127.0.0.1:") && !running.url().ends_with('/'));

    fault(
        &running,
        json!({"mode": "status", "status": 503, "retry_after": 7}),
    )
    .await;
    let answer = thing(&running).await.unwrap();
    assert_eq!(answer.status(), 503);
    assert_eq!(answer.headers()["retry-after"], "7");
    assert_eq!(
        answer.json::<Value>().await.unwrap()["toy_error"],
        503,
        "the service's error body"
    );
    assert_eq!(handled(&running), 0, "status answers before handling");
    assert_eq!(
        thing(&running).await.unwrap().status(),
        200,
        "count defaults to 1"
    );

    fault(&running, json!({"mode": "close"})).await;
    assert!(thing(&running).await.is_err());
    assert_eq!(handled(&running), 1, "close drops before handling");

    fault(&running, json!({"mode": "drop_after"})).await;
    assert!(thing(&running).await.is_err());
    assert_eq!(handled(&running), 2, "drop_after handles, then drops");

    fault(&running, json!({"mode": "hang_after"})).await;
    let error = thing(&running).await.unwrap_err();
    assert!(error.is_timeout());
    assert_eq!(
        handled(&running),
        3,
        "hang_after handles, then never answers"
    );

    fault(
        &running,
        json!({"mode": "slow", "delay_ms": 300, "count": null}),
    )
    .await;
    for _ in 0..2 {
        let started = Instant::now();
        assert_eq!(thing(&running).await.unwrap().status(), 200);
        assert!(started.elapsed() >= Duration::from_millis(300));
    }
    fault(&running, json!({"mode": "none"})).await;
    let started = Instant::now();
    thing(&running).await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(300));
}

#[tokio::test]
async fn hang_truncated_malformed_and_drip_bodies() {
    let running = start().await;

    // hang: never handled, never answered; a reset releases it.
    fault(&running, json!({"mode": "hang"})).await;
    let error = thing(&running).await.unwrap_err();
    assert!(error.is_timeout(), "{error}");
    assert_eq!(handled(&running), 0, "hang never lets the service act");

    // truncated: handled, the headers promise the whole body, half of it comes, then the connection ends.
    fault(&running, json!({"mode": "truncated"})).await;
    let answer = thing(&running).await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.content_length(),
        Some(json!({"ok": true}).to_string().len() as u64),
        "the whole length is promised"
    );
    assert!(answer.bytes().await.is_err(), "the body is cut short");
    assert_eq!(handled(&running), 1, "truncated handles first");

    // malformed: handled, a success status, a body that is not JSON.
    fault(&running, json!({"mode": "malformed"})).await;
    let answer = thing(&running).await.unwrap();
    assert_eq!(answer.status(), 200);
    let body = answer.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&body).is_err(), "{body}");
    assert_eq!(handled(&running), 2, "malformed handles first");

    // drip: headers at once, the body in pieces 150 ms apart, whole in the end.
    fault(&running, json!({"mode": "drip", "delay_ms": 150})).await;
    let started = Instant::now();
    let answer = thing(&running).await.unwrap();
    let headers_after = started.elapsed();
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body, json!({"ok": true}));
    let pieces = standin_kit::DRIP_PIECES as u32;
    // Generous, for a loaded machine: the headers come well before the body's last piece.
    assert!(
        headers_after < Duration::from_millis(150) * (pieces - 1),
        "headers come at once: {headers_after:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(150) * (pieces - 1),
        "the body drips: {:?}",
        started.elapsed()
    );
    assert_eq!(handled(&running), 3);

    // A drip slower than the client's patience times out mid-body, after the service acted.
    fault(&running, json!({"mode": "drip", "delay_ms": 400})).await;
    let answer = thing(&running).await.unwrap();
    assert!(answer.bytes().await.unwrap_err().is_timeout());
    assert_eq!(handled(&running), 4);

    // Nothing is left planned.
    assert_eq!(thing(&running).await.unwrap().status(), 200);
}

#[tokio::test]
async fn path_filters_counts_and_reset() {
    let running = start().await;
    fault(&running, json!({"mode": "close", "path": "/v1/other"})).await;
    assert_eq!(
        thing(&running).await.unwrap().status(),
        200,
        "another path is untouched"
    );

    let bad = client()
        .post(format!("{}/__standin/fault", running.url()))
        .json(&json!({"mode": "explode"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    let calls: Value = client()
        .get(format!("{}/__standin/calls", running.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(calls["calls"]["POST /v1/things"], 1);
    assert_eq!(calls["total"], 1, "control routes are not counted");

    let reset = client()
        .post(format!("{}/__standin/reset", running.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 200);
    assert_eq!(
        running.state.resets.load(Ordering::SeqCst),
        1,
        "the service's reset hook ran"
    );
    let calls: Value = client()
        .get(format!("{}/__standin/calls", running.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(calls["total"], 0);
}

#[tokio::test]
async fn the_announced_listener_is_loopback() {
    let listener = standin_kit::bind_and_announce("kit-test", "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    assert!(listener.local_addr().unwrap().ip().is_loopback());
}
