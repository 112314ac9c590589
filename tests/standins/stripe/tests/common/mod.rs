//! What the integration tests share: a stand-in started in process, and a client that sends async-stripe's own
//! request builders the way async-stripe does (form-encoded, bearer key) and decodes answers with its models.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use reqwest::header::HeaderMap;
use standin_kit::Running;
use stripe_client_core::{RequestBuilder, StripeMethod, StripeRequest};
use stripe_standin::AppState;

/// A test-mode secret key.
pub const TEST_KEY: &str = "sk_test_51StandinTestKey0000000000";
/// A live-mode secret key.
pub const LIVE_KEY: &str = "sk_live_51StandinLiveKey0000000000";

/// One HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.body))
    }

    /// A response header.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
    }

    /// The `error` member of an error body.
    pub fn error(&self) -> serde_json::Value {
        self.json()["error"].clone()
    }
}

/// A client of the stand-in, like mcp-stripe's.
pub struct Client {
    pub standin: Running<AppState>,
    pub key: String,
    pub account: Option<String>,
    pub http: reqwest::Client,
}

/// Starts a freshly seeded stand-in and a test-mode client.
pub async fn start() -> Client {
    let standin = stripe_standin::spawn().await.expect("stand-in starts");
    Client {
        standin,
        key: TEST_KEY.to_string(),
        account: None,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap(),
    }
}

fn method_of(method: StripeMethod) -> reqwest::Method {
    match method {
        StripeMethod::Get => reqwest::Method::GET,
        StripeMethod::Post => reqwest::Method::POST,
        StripeMethod::Delete => reqwest::Method::DELETE,
    }
}

impl Client {
    /// Sends a built request as async-stripe does: `{url}/v1{path}?{query}`, form body, bearer key, API version.
    pub async fn send_built(&self, built: RequestBuilder, headers: &[(&str, &str)]) -> Answer {
        let mut url = format!("{}/v1{}", self.standin.url(), built.path);
        if let Some(query) = &built.query
            && !query.is_empty()
        {
            url.push('?');
            url.push_str(query);
        }
        let mut request = self
            .http
            .request(method_of(built.method), url)
            .bearer_auth(&self.key)
            .header("stripe-version", stripe_standin::API_VERSION);
        if let Some(account) = &self.account {
            request = request.header("stripe-account", account);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = built.body {
            request = request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body);
        }
        let response = request.send().await.expect("the stand-in answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap();
        Answer {
            status,
            headers,
            body,
        }
    }

    /// Sends an async-stripe request.
    pub async fn send<R: StripeRequest>(&self, request: &R) -> Answer {
        self.send_built(request.build(), &[]).await
    }

    /// Sends an async-stripe request with an idempotency key.
    pub async fn send_idempotent<R: StripeRequest>(&self, request: &R, key: &str) -> Answer {
        self.send_built(request.build(), &[("idempotency-key", key)])
            .await
    }

    /// Sends an async-stripe request, expects 200 and decodes the body with async-stripe's own model.
    pub async fn call<R>(&self, request: &R) -> R::Output
    where
        R: StripeRequest,
        R::Output: miniserde::Deserialize,
    {
        let answer = self.send(request).await;
        decode::<R>(&answer)
    }

    /// A raw request: `path` includes `/v1`, `body` is a form body.
    pub async fn raw(&self, method: &str, path: &str, body: &str) -> Answer {
        let method = match method {
            "GET" => StripeMethod::Get,
            "DELETE" => StripeMethod::Delete,
            _ => StripeMethod::Post,
        };
        let (path, query) = match path.split_once('?') {
            Some((path, query)) => (path, Some(query.to_string())),
            None => (path, None),
        };
        let built = RequestBuilder {
            path: path.trim_start_matches("/v1").to_string(),
            method,
            query,
            body: (!body.is_empty()).then(|| body.to_string()),
        };
        self.send_built(built, &[]).await
    }

    /// `POST /__standin/...` with a JSON body.
    pub async fn control(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let response = self
            .http
            .post(format!("{}/__standin/{path}", self.standin.url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "control {path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    /// `GET /__standin/count/{resource}`.
    pub async fn count(&self, resource: &str) -> u64 {
        let response = self
            .http
            .get(format!("{}/__standin/count/{resource}", self.standin.url()))
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = response.json().await.unwrap();
        body["count"].as_u64().unwrap()
    }
}

/// Decodes a 200 answer into `R::Output`, failing with the body when the status or the shape is wrong.
pub fn decode<R>(answer: &Answer) -> R::Output
where
    R: StripeRequest,
    R::Output: miniserde::Deserialize,
{
    assert_eq!(answer.status, 200, "status of {}", answer.body);
    match miniserde::json::from_str::<R::Output>(&answer.body) {
        Ok(output) => output,
        Err(_) => panic!(
            "async-stripe could not decode the answer as {}: {}",
            std::any::type_name::<R::Output>(),
            answer.body
        ),
    }
}

/// The id of a JSON object.
pub fn id_of(value: &serde_json::Value) -> String {
    value["id"].as_str().unwrap().to_string()
}
