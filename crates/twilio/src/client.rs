//! The Twilio API client: form-encoded requests with HTTP basic auth to the three hosts the
//! tools use (the 2010 REST API, Lookup v2, Verify v2), each through mcp-common's pooled client
//! and its own [`Backend`] policy (timeout, retries, breaker).
//!
//! Sends are [`Repeat::Unsafe`]: a message or call whose request may have reached Twilio is
//! never sent again by this client. The one exception is a refusal Twilio makes before acting
//! (HTTP 429, error 20429 "too many requests"), which is marked as such so the policy may
//! resend it after the delay Twilio asks for.

use mcp_common::backend::{failure_of_status, retry_after_of};
use mcp_common::{
    ApiClient, Backend, BackendError, Failure, FailureKind, Refusable, Repeat, Secret,
};
use serde_json::Value;

use crate::config::{Credentials, TwilioConfig};

/// Which Twilio host a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// `api.twilio.com`: messages, calls, phone numbers.
    Api,
    /// `lookups.twilio.com`: Lookup v2.
    Lookups,
    /// `verify.twilio.com`: Verify v2.
    Verify,
}

/// Twilio's error object (`{"code", "message", "more_info", "status"}`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// Twilio's error code, e.g. 21211.
    pub code: Option<u64>,
    /// Twilio's own sentence.
    pub message: Option<String>,
    /// The documentation page of the code.
    pub more_info: Option<String>,
}

impl ApiError {
    /// Reads an error body; one that is not Twilio's JSON still keeps the status.
    pub fn parse(status: u16, body: &[u8]) -> ApiError {
        let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let text = |key: &str| {
            value[key]
                .as_str()
                .map(str::to_owned)
                .filter(|s| !s.is_empty())
        };
        let code = value["code"].as_u64();
        ApiError {
            status,
            code,
            message: text("message"),
            more_info: text("more_info")
                .or_else(|| code.map(|code| format!("https://www.twilio.com/docs/errors/{code}"))),
        }
    }

    /// The policy's view: a 429 rate limit is a refusal made before acting (worth resending
    /// after a pause), except Verify's attempt limits, which a retry cannot lift.
    fn failure(&self, retry_after: Option<std::time::Duration>) -> Failure {
        let reason = reqwest::StatusCode::from_u16(self.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or_default();
        let mut failure = failure_of_status(self.status, reason, retry_after);
        let attempt_limit = matches!(self.code, Some(60202 | 60203));
        if attempt_limit {
            failure.kind = FailureKind::Rejected;
        } else if self.status == 429 {
            failure = failure.not_acted();
        }
        if let Some(message) = &self.message {
            failure.detail = format!("{}: {message}", failure.detail);
        }
        if let Some(code) = self.code {
            let link = self.more_info.as_deref().unwrap_or_default();
            failure.detail = format!("{} (error {code}, {link})", failure.detail);
        }
        failure
    }
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum TwilioError {
    /// Twilio refused the request with its error object.
    #[error("Twilio refused {operation}: {}", .error.message.as_deref().unwrap_or("no reason given"))]
    Api {
        /// What was being done.
        operation: String,
        /// Twilio's answer.
        error: ApiError,
    },
    /// Twilio could not be reached, or kept failing.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// Twilio answered with something that is not JSON.
    #[error("Twilio answered {operation} with something this server cannot read ({detail})")]
    Unreadable {
        /// What was being done.
        operation: String,
        /// What is wrong with it.
        detail: String,
    },
}

/// One request: method, path under the host, and its form or query pairs.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    /// The host.
    pub host: Host,
    /// The tool or step, for errors and logs.
    pub operation: &'a str,
    /// `GET` or `POST`.
    pub method: reqwest::Method,
    /// The path, starting with `/`, possibly with a query string (a `next_page_uri`).
    pub path: String,
    /// Form fields (POST) or query parameters (GET).
    pub params: Vec<(String, String)>,
    /// Whether the policy may send it again.
    pub repeat: Repeat,
}

impl<'a> Call<'a> {
    /// A read: repeatable.
    pub fn get(host: Host, operation: &'a str, path: String) -> Call<'a> {
        Call {
            host,
            operation,
            method: reqwest::Method::GET,
            path,
            params: Vec::new(),
            repeat: Repeat::Safe,
        }
    }

    /// A write: sent once, unless Twilio said it did nothing.
    pub fn post(host: Host, operation: &'a str, path: String) -> Call<'a> {
        Call {
            host,
            operation,
            method: reqwest::Method::POST,
            path,
            params: Vec::new(),
            repeat: Repeat::Unsafe,
        }
    }

    /// Adds a parameter.
    pub fn param(mut self, key: &str, value: impl Into<String>) -> Self {
        self.params.push((key.to_owned(), value.into()));
        self
    }

    /// Adds a parameter when there is a value.
    pub fn maybe(self, key: &str, value: Option<impl Into<String>>) -> Self {
        match value {
            Some(value) => self.param(key, value),
            None => self,
        }
    }
}

/// Twilio as this server reaches it.
#[derive(Debug, Clone)]
pub struct TwilioApi {
    api: ApiClient,
    lookups: ApiClient,
    verify: ApiClient,
    account_sid: String,
    username: String,
    password: Secret,
}

impl TwilioApi {
    /// Clients for the configured account.
    pub fn new(config: &TwilioConfig, version: &str) -> Result<TwilioApi, mcp_common::StartError> {
        let http = mcp_common::api::http_client("twilio", version)?;
        let client = |service: &str, url: &str, variable: &str| {
            let backend = Backend::new(
                service,
                url,
                format!("check {variable} and the network, or https://status.twilio.com"),
                config.backend.clone(),
            );
            ApiClient::new(http.clone(), backend, url)
        };
        let (username, password) = match &config.credentials {
            Credentials::AuthToken(token) => (config.account_sid.clone(), token.clone()),
            Credentials::ApiKey { sid, secret } => (sid.clone(), secret.clone()),
        };
        Ok(TwilioApi {
            api: client("Twilio", &config.api_url, "TWILIO_API_URL"),
            lookups: client("Twilio Lookup", &config.lookups_url, "TWILIO_LOOKUPS_URL"),
            verify: client("Twilio Verify", &config.verify_url, "TWILIO_VERIFY_URL"),
            account_sid: config.account_sid.clone(),
            username,
            password,
        })
    }

    /// The same services called as another account (a team-mode caller's own), with its auth
    /// token, or with an API key (`key_sid`) and its secret; each service with a circuit breaker
    /// of its own.
    pub fn with_account(
        &self,
        account_sid: &str,
        key_sid: Option<String>,
        secret: Secret,
    ) -> TwilioApi {
        let fresh = |client: &ApiClient| client.with_backend(client.backend().fresh());
        TwilioApi {
            api: fresh(&self.api),
            lookups: fresh(&self.lookups),
            verify: fresh(&self.verify),
            account_sid: account_sid.to_owned(),
            username: key_sid.unwrap_or_else(|| account_sid.to_owned()),
            password: secret,
        }
    }

    /// The account SID.
    pub fn account_sid(&self) -> &str {
        &self.account_sid
    }

    /// `/2010-04-01/Accounts/AC…` followed by `rest` (e.g. `/Messages.json`).
    pub fn account_path(&self, rest: &str) -> String {
        format!("/2010-04-01/Accounts/{}{rest}", self.account_sid)
    }

    /// The policy of `host` (for readiness).
    pub fn backend(&self, host: Host) -> &Backend {
        self.client(host).backend()
    }

    fn client(&self, host: Host) -> &ApiClient {
        match host {
            Host::Api => &self.api,
            Host::Lookups => &self.lookups,
            Host::Verify => &self.verify,
        }
    }

    /// Sends `call` and returns Twilio's JSON answer.
    pub async fn send(&self, call: &Call<'_>) -> Result<Value, TwilioError> {
        let client = self.client(call.host);
        let url = client.url(&call.path);
        let request = || {
            let request = client
                .http()
                .request(call.method.clone(), &url)
                .basic_auth(&self.username, Some(self.password.expose()));
            if call.method == reqwest::Method::GET {
                request.query(&call.params)
            } else {
                request.form(&call.params)
            }
        };
        let refusal = |status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]| {
            let error = ApiError::parse(status, body);
            let failure = error.failure(retry_after_of(headers));
            (error, failure)
        };
        let answer = client
            .call_refusable(call.operation, call.repeat, request, refusal)
            .await
            .map_err(|error| match error {
                Refusable::Refused(error) => TwilioError::Api {
                    operation: call.operation.to_owned(),
                    error,
                },
                Refusable::Failed(error) => TwilioError::Backend(error),
            })?;
        if answer.body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&answer.body).map_err(|e| TwilioError::Unreadable {
            operation: call.operation.to_owned(),
            detail: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_are_read_and_classified() {
        let body = br#"{"code": 21211, "message": "Invalid 'To' Phone Number: +1500555000", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#;
        let error = ApiError::parse(400, body);
        assert_eq!(error.code, Some(21211));
        assert_eq!(error.failure(None).kind, FailureKind::Rejected);
        assert!(!error.failure(None).not_acted);

        let limited = ApiError::parse(429, br#"{"code": 20429, "message": "Too Many Requests"}"#);
        let failure = limited.failure(None);
        assert_eq!(failure.kind, FailureKind::Unavailable);
        assert!(failure.not_acted, "a rate-limit refusal sent nothing");
        assert_eq!(
            limited.more_info.as_deref(),
            Some("https://www.twilio.com/docs/errors/20429")
        );

        let attempts = ApiError::parse(
            429,
            br#"{"code": 60203, "message": "Max send attempts reached"}"#,
        );
        assert_eq!(attempts.failure(None).kind, FailureKind::Rejected);

        let failing = ApiError::parse(502, b"<html>Bad Gateway</html>");
        assert_eq!(failing.code, None);
        let failure = failing.failure(None);
        assert_eq!(failure.kind, FailureKind::Unavailable);
        assert!(!failure.not_acted, "a 502 may have acted");
    }
}
