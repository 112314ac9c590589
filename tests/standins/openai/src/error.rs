//! OpenAI's error bodies: `{"error": {"message", "type", "param", "code"}}`, with the wording OpenAI uses.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One refusal, as OpenAI answers it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// OpenAI's sentence.
    pub message: String,
    /// `invalid_request_error`, `server_error`, `requests`, …
    pub kind: &'static str,
    /// The parameter at fault, if any.
    pub param: Option<String>,
    /// `unsupported_parameter`, `invalid_api_key`, `model_not_found`, …
    pub code: Option<&'static str>,
}

impl ApiError {
    /// A 400 `invalid_request_error`.
    pub fn invalid(
        message: impl Into<String>,
        param: Option<&str>,
        code: Option<&'static str>,
    ) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            kind: "invalid_request_error",
            param: param.map(str::to_owned),
            code,
        }
    }

    /// The 400 OpenAI answers a reasoning model sent a parameter it does not take at all.
    pub fn unsupported_parameter(param: &str) -> ApiError {
        let message = if param == "max_tokens" {
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.".to_owned()
        } else {
            format!("Unsupported parameter: '{param}' is not supported with this model.")
        };
        ApiError::invalid(message, Some(param), Some("unsupported_parameter"))
    }

    /// The 400 OpenAI answers a gpt-5 family model sent a value other than the default one.
    pub fn unsupported_value(param: &str, value: &Value) -> ApiError {
        ApiError::invalid(
            format!(
                "Unsupported value: '{param}' does not support {value} with this model. Only the default (1) value is supported."
            ),
            Some(param),
            Some("unsupported_value"),
        )
    }

    /// A missing required parameter.
    pub fn missing(param: &str) -> ApiError {
        ApiError::invalid(
            format!("Missing required parameter: '{param}'."),
            Some(param),
            Some("missing_required_parameter"),
        )
    }

    /// A parameter of the wrong type or value.
    pub fn invalid_type(param: &str, expected: &str, found: &Value) -> ApiError {
        let found = match found {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        };
        ApiError::invalid(
            format!("Invalid type for '{param}': expected {expected}, but got {found} instead."),
            Some(param),
            Some("invalid_type"),
        )
    }

    /// 404 for a model that does not exist.
    pub fn model_not_found(model: &str) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: format!("The model `{model}` does not exist or you do not have access to it."),
            kind: "invalid_request_error",
            param: None,
            code: Some("model_not_found"),
        }
    }

    /// 401 for a wrong key, showing only its first and last characters as OpenAI does.
    pub fn invalid_api_key(key: &str) -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            message: format!(
                "Incorrect API key provided: {}. You can find your API key at https://platform.openai.com/account/api-keys.",
                mask_key(key)
            ),
            kind: "invalid_request_error",
            param: None,
            code: Some("invalid_api_key"),
        }
    }

    /// 401 for a request without a key.
    pub fn missing_api_key() -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            message: "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.".into(),
            kind: "invalid_request_error",
            param: None,
            code: None,
        }
    }

    /// What OpenAI answers for a status injected by the fault plan.
    pub fn for_status(status: StatusCode) -> ApiError {
        let (message, kind, code) = match status.as_u16() {
            429 => (
                "Rate limit reached for gpt-4o-mini in organization org-standin on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s. Visit https://platform.openai.com/account/rate-limits to learn more.",
                "requests",
                Some("rate_limit_exceeded"),
            ),
            503 => (
                "The engine is currently overloaded, please try again later.",
                "server_error",
                None,
            ),
            500..=599 => (
                "The server had an error while processing your request. Sorry about that!",
                "server_error",
                None,
            ),
            _ => (
                "The request could not be processed.",
                "invalid_request_error",
                None,
            ),
        };
        ApiError {
            status,
            message: message.into(),
            kind,
            param: None,
            code,
        }
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        json!({"error": {
            "message": self.message,
            "type": self.kind,
            "param": self.param,
            "code": self.code,
        }})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(self.status, &self.body())
    }
}

/// A JSON response with OpenAI's headers.
pub fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert("x-request-id", HeaderValue::from_static("req_standin"));
    headers.insert("openai-processing-ms", HeaderValue::from_static("1"));
    response
}

/// `sk-abc***wxyz`: the first three and last four characters, as OpenAI shows a wrong key.
pub fn mask_key(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars.iter().take(3).collect();
    let tail: String = chars.iter().skip(chars.len() - 4).collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_masked_like_openai_does() {
        assert_eq!(mask_key("sk-wrong-key-1234"), "sk-**********1234");
        assert_eq!(mask_key("short"), "*****");
    }

    #[test]
    fn reasoning_rejections_use_openai_wording() {
        let max_tokens = ApiError::unsupported_parameter("max_tokens").body();
        assert_eq!(
            max_tokens["error"]["message"],
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."
        );
        assert_eq!(max_tokens["error"]["code"], "unsupported_parameter");
        assert_eq!(max_tokens["error"]["param"], "max_tokens");
        let temperature = ApiError::unsupported_value("temperature", &json!(0.2)).body();
        assert_eq!(
            temperature["error"]["message"],
            "Unsupported value: 'temperature' does not support 0.2 with this model. Only the default (1) value is supported."
        );
    }
}
