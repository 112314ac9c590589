//! Twilio's error body: `{"code", "message", "more_info", "status"}`, the same on every host.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwilioError {
    /// HTTP status.
    pub status: StatusCode,
    /// Twilio error code (`21211`, `20404`, …).
    pub code: u32,
    /// Human-readable message.
    pub message: String,
}

impl TwilioError {
    /// An error with a status, code and message.
    pub fn new(status: u16, code: u32, message: impl Into<String>) -> TwilioError {
        TwilioError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            code,
            message: message.into(),
        }
    }

    /// 400 with a code.
    pub fn bad(code: u32, message: impl Into<String>) -> TwilioError {
        TwilioError::new(400, code, message)
    }

    /// 404 20404 for a path.
    pub fn not_found(path: &str) -> TwilioError {
        TwilioError::new(
            404,
            20404,
            format!("The requested resource {path} was not found"),
        )
    }

    /// 401 20003.
    pub fn authenticate() -> TwilioError {
        TwilioError::new(401, 20003, "Authenticate")
    }

    /// The error a fault of mode `status` answers.
    pub fn for_status(status: StatusCode) -> TwilioError {
        let (code, message) = match status.as_u16() {
            400 => (20001, "Bad Request"),
            401 => (20003, "Authenticate"),
            403 => (20403, "Forbidden"),
            404 => (20404, "Not Found"),
            405 => (20004, "Method not allowed"),
            429 => (20429, "Too Many Requests"),
            500 => (20500, "Internal Server Error"),
            503 => (20503, "Service Unavailable"),
            other => (
                20000 + u32::from(other),
                status.canonical_reason().unwrap_or("Error"),
            ),
        };
        TwilioError {
            status,
            code,
            message: message.to_string(),
        }
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        json!({
            "code": self.code,
            "message": self.message,
            "more_info": format!("https://www.twilio.com/docs/errors/{}", self.code),
            "status": self.status.as_u16(),
        })
    }
}

impl IntoResponse for TwilioError {
    fn into_response(self) -> Response {
        let mut response = crate::server::json_response(self.status, &self.body());
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Twilio API\""),
            );
        }
        response
    }
}

/// What an endpoint returns.
pub type ApiResult = Result<(StatusCode, serde_json::Value), TwilioError>;
