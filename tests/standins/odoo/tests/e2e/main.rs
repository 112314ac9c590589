//! End-to-end checks over real sockets: a stand-in on 127.0.0.1:0, raw HTTP requests, exact wire answers.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail loudly.

mod binary;
mod faults;
mod json2_wire;
mod xmlrpc_wire;

use std::time::Duration;

use odoo_standin::{Running, StandinConfig};

/// A fresh stand-in with the binary's default settings (db `test`, admin/admin, key `test-api-key`).
pub async fn standin() -> Running {
    odoo_standin::spawn(StandinConfig::standard())
        .await
        .expect("spawn the stand-in")
}

/// A client whose own timeout bounds every test request.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// Posts a JSON body to a `/__standin/` control route and checks it was accepted.
pub async fn control(standin: &Running, route: &str, body: serde_json::Value) {
    let response = client()
        .post(format!("{}/__standin/{route}", standin.url()))
        .json(&body)
        .send()
        .await
        .expect("control");
    assert_eq!(
        response.status(),
        200,
        "{route}: {}",
        response.text().await.unwrap_or_default()
    );
}
