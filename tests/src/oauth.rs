//! The OAuth stand-in issuer (`oauth-standin`) as tests drive it: started on a free port,
//! stopped when dropped, with its test controls (tokens of any shape, key rotation, call counts).

// Only tests use it: a stand-in that misbehaves fails the test at once, loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Child;

use serde_json::Value;

use crate::{binary_path, start_listening};

/// The authorization server stand-in, stopped when dropped.
pub struct Issuer {
    child: Child,
    /// Its base URL, `http://127.0.0.1:<port>`, also its issuer identifier.
    pub url: String,
    /// A client for its endpoints.
    pub http: reqwest::blocking::Client,
}

impl Drop for Issuer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Issuer {
    /// Starts the stand-in; panics when its binary is not built.
    pub fn start() -> Issuer {
        let binary = binary_path("oauth-standin");
        assert!(
            binary.exists(),
            "{} is missing: cargo build -p oauth-standin",
            binary.display()
        );
        let (child, addr, _) = start_listening(&binary, &[], &[]).unwrap();
        Issuer {
            child,
            url: format!("http://{addr}"),
            http: reqwest::blocking::Client::new(),
        }
    }

    /// Posts `body` to the control route `/__standin/<route>`; returns its JSON answer.
    pub fn control(&self, route: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}/__standin/{route}", self.url))
            .json(&body)
            .send()
            .unwrap();
        assert!(response.status().is_success(), "{route} {body}");
        response.json().unwrap()
    }

    /// A token as `spec` says (see the stand-in's `/__standin/token`).
    pub fn token(&self, spec: Value) -> String {
        self.control("token", spec)["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// How many times the stand-in served `key` (e.g. `GET /jwks`).
    pub fn calls(&self, key: &str) -> u64 {
        let calls: Value = self
            .http
            .get(format!("{}/__standin/calls", self.url))
            .send()
            .unwrap()
            .json()
            .unwrap();
        calls["calls"][key].as_u64().unwrap_or(0)
    }
}
