//! Stripe's error object: `{"error": {"type", "code", "decline_code", "message", "param", "doc_url", "request_log_url", …}}`
//! with the statuses Stripe uses.

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

/// One Stripe API error, before it gets its request id.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// `api_error`, `card_error`, `idempotency_error`, `invalid_request_error`, `rate_limit_error`, …
    pub kind: &'static str,
    /// Stripe's error code, e.g. `resource_missing`, `card_declined`.
    pub code: Option<String>,
    /// The card issuer's reason, for card errors.
    pub decline_code: Option<&'static str>,
    /// The human-readable message.
    pub message: String,
    /// The parameter at fault.
    pub param: Option<String>,
    /// Further members of the error object (e.g. `payment_intent`, `charge`); boxed to keep `Result`s small.
    pub extra: Box<Map<String, Value>>,
    /// Whether the endpoint had started executing: only then is the result saved under an idempotency key.
    pub executed: bool,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            kind,
            code: None,
            decline_code: None,
            message: message.into(),
            param: None,
            extra: Box::default(),
            executed: false,
        }
    }

    /// 400 `invalid_request_error` from parameter validation (not saved for idempotency).
    pub fn invalid(message: impl Into<String>, param: Option<&str>) -> ApiError {
        let mut error = ApiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", message);
        error.param = param.map(str::to_string);
        error
    }

    /// 400 `parameter_missing`.
    pub fn missing(param: &str) -> ApiError {
        ApiError::invalid(format!("Missing required param: {param}."), Some(param))
            .with_code("parameter_missing")
    }

    /// 404 `resource_missing` for the object named in the path (param `id`).
    pub fn no_such(kind: &str, id: &str) -> ApiError {
        let mut error = ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!("No such {kind}: '{id}'"),
        );
        error.code = Some("resource_missing".into());
        error.param = Some("id".into());
        error.executed = true;
        error
    }

    /// 400 `resource_missing` for an object named by a parameter (e.g. `customer`).
    pub fn no_such_param(kind: &str, id: &str, param: &str) -> ApiError {
        let mut error = ApiError::invalid(format!("No such {kind}: '{id}'"), Some(param));
        error.code = Some("resource_missing".into());
        error
    }

    /// 400 raised while executing (saved for idempotency), e.g. `amount_too_large`.
    pub fn state(code: &str, message: impl Into<String>, param: Option<&str>) -> ApiError {
        let mut error = ApiError::invalid(message, param).with_code(code);
        error.executed = true;
        error
    }

    /// 402 `card_error`.
    pub fn card(code: &str, decline_code: Option<&'static str>, message: &str) -> ApiError {
        let mut error = ApiError::new(StatusCode::PAYMENT_REQUIRED, "card_error", message);
        error.code = Some(code.into());
        error.decline_code = decline_code;
        error.executed = true;
        error
    }

    /// 401 for a missing or unknown key; the key is shown as Stripe does, only its prefix and last four.
    pub fn bad_key(key: Option<&str>) -> ApiError {
        let message = match key {
            None => "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.".to_string(),
            Some(key) => format!("Invalid API Key provided: {}", redact_key(key)),
        };
        let mut error = ApiError::new(StatusCode::UNAUTHORIZED, "invalid_request_error", message);
        if key.is_some() {
            error.code = Some("api_key_invalid".into());
        }
        error
    }

    /// 400 `idempotency_error`: the key was used with other parameters.
    pub fn idempotency_mismatch(key: &str) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "idempotency_error",
            format!(
                "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request."
            ),
        )
    }

    /// 409 `idempotency_error`: a request with this key is still executing.
    pub fn idempotency_in_flight() -> ApiError {
        ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_error",
            "There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through). Please try again later.",
        )
    }

    /// The error Stripe answers for `status` when nothing more specific applies (fault injection).
    pub fn for_status(status: StatusCode) -> ApiError {
        match status.as_u16() {
            400 => ApiError::invalid("Invalid request.", None),
            401 => ApiError::bad_key(None),
            402 => ApiError::card("card_declined", Some("generic_decline"), "Your card was declined."),
            403 => ApiError::new(
                status,
                "invalid_request_error",
                "The provided key does not have the required permissions for this endpoint.",
            )
            .with_code("secret_key_required"),
            404 => ApiError::new(status, "invalid_request_error", "Unrecognized request URL.")
                .with_code("resource_missing"),
            409 => ApiError::new(
                status,
                "invalid_request_error",
                "This object cannot be accessed right now because another API request or Stripe process is currently accessing it. If you see this error intermittently, retry the request. If you see this error frequently and are making multiple concurrent requests to a single object, make your requests serially or at a lower rate.",
            )
            .with_code("lock_timeout"),
            429 => ApiError::new(
                status,
                "rate_limit_error",
                "Request rate limit exceeded. You can learn more about rate limits here https://stripe.com/docs/rate-limits.",
            )
            .with_code("rate_limit"),
            code if code >= 500 => ApiError::new(
                status,
                "api_error",
                "Sorry, something went wrong on Stripe's end. We have already been notified of the problem, but please contact support@stripe.com with any questions you may have.",
            ),
            _ => ApiError::new(status, "invalid_request_error", "The request could not be handled."),
        }
    }

    /// The same error answered with 404 (an unknown route).
    pub fn not_found(mut self) -> ApiError {
        self.status = StatusCode::NOT_FOUND;
        self
    }

    /// Sets the code.
    pub fn with_code(mut self, code: &str) -> ApiError {
        self.code = Some(code.into());
        self
    }

    /// Adds a member to the error object.
    pub fn with(mut self, name: &str, value: Value) -> ApiError {
        self.extra.insert(name.into(), value);
        self
    }

    /// The body, naming the request in `request_log_url` as Stripe's dashboard does.
    pub fn body(&self, request_id: &str, livemode: bool) -> Value {
        let mut error = Map::new();
        if let Some(code) = &self.code {
            error.insert("code".into(), json!(code));
            error.insert(
                "doc_url".into(),
                json!(format!(
                    "https://stripe.com/docs/error-codes/{}",
                    code.replace('_', "-")
                )),
            );
        }
        if let Some(decline_code) = self.decline_code {
            error.insert("decline_code".into(), json!(decline_code));
        }
        error.insert("message".into(), json!(self.message));
        if let Some(param) = &self.param {
            error.insert("param".into(), json!(param));
        }
        let logs = if livemode { "logs" } else { "test/logs" };
        error.insert(
            "request_log_url".into(),
            json!(format!(
                "https://dashboard.stripe.com/{logs}/{request_id}?t={}",
                crate::ids::now()
            )),
        );
        error.insert("type".into(), json!(self.kind));
        for (name, value) in self.extra.iter() {
            error.insert(name.clone(), value.clone());
        }
        json!({ "error": error })
    }
}

/// `sk_test_****abcd`: the prefix up to the mode and the last four characters.
pub fn redact_key(key: &str) -> String {
    let prefix = [
        "sk_test_", "sk_live_", "rk_test_", "rk_live_", "pk_test_", "pk_live_",
    ]
    .into_iter()
    .find(|prefix| key.starts_with(prefix))
    .unwrap_or("");
    let chars: Vec<char> = key.chars().collect();
    let last4: String = chars[chars.len().saturating_sub(4)..].iter().collect();
    format!("{prefix}****{last4}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_redacted_to_prefix_and_last_four() {
        assert_eq!(redact_key("sk_test_abcdefghijkl1234"), "sk_test_****1234");
        assert_eq!(redact_key("garbage"), "****bage");
        assert_eq!(redact_key("ab"), "****ab");
    }

    #[test]
    fn bodies_carry_type_code_param_and_log_url() {
        let body = ApiError::no_such("customer", "cus_x").body("req_1", false);
        let error = &body["error"];
        assert_eq!(error["type"], "invalid_request_error");
        assert_eq!(error["code"], "resource_missing");
        assert_eq!(error["param"], "id");
        assert!(
            error["request_log_url"]
                .as_str()
                .unwrap()
                .starts_with("https://dashboard.stripe.com/test/logs/req_1")
        );
    }
}
