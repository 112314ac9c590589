//! The exceptions Odoo raises, and how each protocol puts them on the wire.
//!
//! XML-RPC (`odoo/addons/rpc/controllers/xmlrpc.py`, `xmlrpc_handle_exception_int`): `AccessError` → fault 4,
//! `AccessDenied` → 3, any other `UserError` (including `MissingError` and `ValidationError`) → 2 with `str(e)`, and
//! every other exception → 1 with the formatted Python traceback as the fault string.
//! JSON-2 (`Json2Dispatcher.handle_error`): a `UserError` answers its `http_status` (422, `AccessError`/`AccessDenied`
//! 403, `MissingError` 404), a werkzeug `HTTPException` its own code, anything else 500; the body is
//! `serialize_exception(exc)`: `{"name", "message", "arguments", "context", "debug"}`.

use crate::value::Value;

/// An exception raised while serving an Odoo call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OdooError {
    /// `odoo.exceptions.AccessDenied`: wrong login, password, uid or API key.
    #[error("{0}")]
    AccessDenied(String),
    /// `odoo.exceptions.AccessError`: the user's groups do not allow the operation.
    #[error("{0}")]
    AccessError(String),
    /// `odoo.exceptions.MissingError`: the record does not exist (any more).
    #[error("{0}")]
    MissingError(String),
    /// `odoo.exceptions.ValidationError`: a constraint, such as a required field, is violated.
    #[error("{0}")]
    ValidationError(String),
    /// `odoo.exceptions.UserError`: a business error shown to the user.
    #[error("{0}")]
    UserError(String),
    /// Any other Python exception (`ValueError`, `TypeError`, `AttributeError`, ...): a server error with a traceback.
    #[error("{module}.{name}: {message}")]
    Python {
        /// The exception's module, `builtins` for built-in exceptions.
        module: &'static str,
        /// The exception class name.
        name: &'static str,
        /// `str(exception)`.
        message: String,
    },
    /// A werkzeug `HTTPException` raised by the JSON-2 controller (`NotFound`, `UnprocessableEntity`, ...).
    #[error("{status} {name}: {description}")]
    Http {
        /// The HTTP status code.
        status: u16,
        /// The werkzeug class name, e.g. `NotFound`.
        name: &'static str,
        /// The exception's description.
        description: String,
    },
}

/// A fault as XML-RPC carries it: `faultCode` and `faultString`.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// `faultCode`: 1 application error, 2 warning/user error, 3 access denied, 4 access error.
    pub code: i64,
    /// `faultString`.
    pub string: String,
}

/// A JSON-2 error answer: status code, extra headers and the JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Json2Error {
    /// The HTTP status code.
    pub status: u16,
    /// Headers besides `Content-Type`, e.g. `WWW-Authenticate` on a 401.
    pub headers: Vec<(&'static str, String)>,
    /// The `serialize_exception` body.
    pub body: Value,
}

impl OdooError {
    /// `ValueError(message)`.
    pub fn value_error(message: impl Into<String>) -> OdooError {
        OdooError::Python {
            module: "builtins",
            name: "ValueError",
            message: message.into(),
        }
    }

    /// `TypeError(message)`.
    pub fn type_error(message: impl Into<String>) -> OdooError {
        OdooError::Python {
            module: "builtins",
            name: "TypeError",
            message: message.into(),
        }
    }

    /// `AttributeError(message)`.
    pub fn attribute_error(message: impl Into<String>) -> OdooError {
        OdooError::Python {
            module: "builtins",
            name: "AttributeError",
            message: message.into(),
        }
    }

    /// `KeyError(key)`: Python's message is the key's repr.
    pub fn key_error(key: &str) -> OdooError {
        OdooError::Python {
            module: "builtins",
            name: "KeyError",
            message: crate::value::py_str_repr(key),
        }
    }

    /// A werkzeug `HTTPException` subclass by status code.
    pub fn http(status: u16, description: impl Into<String>) -> OdooError {
        let name = match status {
            400 => "BadRequest",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "NotFound",
            405 => "MethodNotAllowed",
            422 => "UnprocessableEntity",
            _ => "InternalServerError",
        };
        OdooError::Http {
            status,
            name,
            description: description.into(),
        }
    }

    /// The default `AccessDenied()`, whose message is "Access Denied".
    pub fn access_denied() -> OdooError {
        OdooError::AccessDenied("Access Denied".to_string())
    }

    /// `str(exception)`.
    pub fn message(&self) -> String {
        match self {
            OdooError::AccessDenied(message)
            | OdooError::AccessError(message)
            | OdooError::MissingError(message)
            | OdooError::ValidationError(message)
            | OdooError::UserError(message) => message.clone(),
            OdooError::Python { message, .. } => message.clone(),
            OdooError::Http { description, .. } => description.clone(),
        }
    }

    /// The fully qualified class name, as `serialize_exception` writes it (`odoo.exceptions.MissingError`).
    pub fn qualified_name(&self) -> String {
        match self {
            OdooError::AccessDenied(_) => "odoo.exceptions.AccessDenied".to_string(),
            OdooError::AccessError(_) => "odoo.exceptions.AccessError".to_string(),
            OdooError::MissingError(_) => "odoo.exceptions.MissingError".to_string(),
            OdooError::ValidationError(_) => "odoo.exceptions.ValidationError".to_string(),
            OdooError::UserError(_) => "odoo.exceptions.UserError".to_string(),
            OdooError::Python { module, name, .. } => format!("{module}.{name}"),
            OdooError::Http { name, .. } => format!("werkzeug.exceptions.{name}"),
        }
    }

    /// The last line of a Python traceback for this exception: builtins are written without their module.
    pub fn traceback_line(&self) -> String {
        let name = match self {
            OdooError::Python {
                module: "builtins",
                name,
                ..
            } => (*name).to_string(),
            OdooError::Http { status, name, .. } => {
                return format!(
                    "werkzeug.exceptions.{name}: {status} {}: {}",
                    reason(*status),
                    self.message()
                );
            }
            _ => self.qualified_name(),
        };
        format!("{name}: {}", self.message())
    }

    /// A traceback in Python's format. The frames are the stand-in's own; clients only rely on the last line.
    pub fn traceback(&self) -> String {
        if matches!(self, OdooError::AccessDenied(_)) {
            // AccessDenied calls suppress_traceback(), so format_exception() only prints the exception line.
            return format!("{}\n", self.traceback_line());
        }
        format!(
            "Traceback (most recent call last):\n  File \"/opt/odoo/odoo/service/model.py\", line 89, in retrying\n    result = func()\n  File \"odoo-standin\", line 1, in call_kw\n{}\n",
            self.traceback_line()
        )
    }

    /// The XML-RPC fault Odoo's `/xmlrpc/2` endpoint answers for this exception.
    pub fn to_fault(&self) -> Fault {
        match self {
            OdooError::AccessError(message) => Fault {
                code: 4,
                string: message.clone(),
            },
            OdooError::AccessDenied(message) => Fault {
                code: 3,
                string: message.clone(),
            },
            OdooError::MissingError(message)
            | OdooError::ValidationError(message)
            | OdooError::UserError(message) => Fault {
                code: 2,
                string: message.clone(),
            },
            OdooError::Python { .. } | OdooError::Http { .. } => Fault {
                code: 1,
                string: self.traceback(),
            },
        }
    }

    /// The JSON-2 answer Odoo 19's `Json2Dispatcher.handle_error` builds for this exception.
    pub fn to_json2(&self) -> Json2Error {
        let (status, arguments) = match self {
            OdooError::AccessDenied(message) | OdooError::AccessError(message) => {
                (403, vec![Value::str(message.clone())])
            }
            OdooError::MissingError(message) => (404, vec![Value::str(message.clone())]),
            OdooError::ValidationError(message) | OdooError::UserError(message) => {
                (422, vec![Value::str(message.clone())])
            }
            OdooError::Python { message, .. } => (500, vec![Value::str(message.clone())]),
            OdooError::Http {
                status,
                description,
                ..
            } => (
                *status,
                vec![
                    Value::str(description.clone()),
                    Value::Int(i64::from(*status)),
                ],
            ),
        };
        let headers = match self {
            OdooError::Http { status: 401, .. } => vec![("WWW-Authenticate", "Bearer".to_string())],
            _ => Vec::new(),
        };
        let body = Value::dict([
            ("name", Value::str(self.qualified_name())),
            ("message", Value::str(self.message())),
            ("arguments", Value::List(arguments)),
            ("context", Value::Dict(Vec::new())),
            ("debug", Value::str(self.traceback())),
        ]);
        Json2Error {
            status,
            headers,
            body,
        }
    }
}

/// The reason phrase of a status code, as werkzeug prints it.
pub fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        422 => "Unprocessable Entity",
        502 => "Bad Gateway",
        _ => "Internal Server Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_use_odoo_codes() {
        let cases = [
            (OdooError::access_denied(), 3, "Access Denied"),
            (OdooError::AccessError("nope".into()), 4, "nope"),
            (OdooError::MissingError("gone".into()), 2, "gone"),
            (OdooError::ValidationError("bad".into()), 2, "bad"),
            (
                OdooError::UserError("Object x doesn't exist".into()),
                2,
                "Object x doesn't exist",
            ),
        ];
        for (error, code, string) in cases {
            assert_eq!(
                error.to_fault(),
                Fault {
                    code,
                    string: string.to_string()
                }
            );
        }
        let fault = OdooError::value_error("Invalid field 'x' on model 'res.partner'").to_fault();
        assert_eq!(fault.code, 1);
        assert!(
            fault
                .string
                .starts_with("Traceback (most recent call last):\n")
        );
        assert!(
            fault
                .string
                .ends_with("\nValueError: Invalid field 'x' on model 'res.partner'\n")
        );
    }

    #[test]
    fn json2_bodies_follow_serialize_exception() {
        let error = OdooError::http(401, "Invalid apikey").to_json2();
        assert_eq!(error.status, 401);
        assert_eq!(
            error.headers,
            vec![("WWW-Authenticate", "Bearer".to_string())]
        );
        assert_eq!(
            error.body.get("name"),
            Some(&Value::str("werkzeug.exceptions.Unauthorized"))
        );
        assert_eq!(
            error.body.get("arguments"),
            Some(&Value::List(vec![
                Value::str("Invalid apikey"),
                Value::Int(401)
            ]))
        );
        let debug = error
            .body
            .get("debug")
            .and_then(Value::as_str)
            .unwrap_or_default();
        assert!(
            debug.ends_with("werkzeug.exceptions.Unauthorized: 401 Unauthorized: Invalid apikey\n")
        );

        let statuses = [
            (
                OdooError::MissingError("m".into()),
                404,
                "odoo.exceptions.MissingError",
            ),
            (
                OdooError::AccessError("a".into()),
                403,
                "odoo.exceptions.AccessError",
            ),
            (
                OdooError::ValidationError("v".into()),
                422,
                "odoo.exceptions.ValidationError",
            ),
            (OdooError::value_error("x"), 500, "builtins.ValueError"),
        ];
        for (error, status, name) in statuses {
            let json = error.to_json2();
            assert_eq!(json.status, status);
            assert_eq!(json.body.get("name"), Some(&Value::str(name)));
            assert_eq!(json.body.get("context"), Some(&Value::Dict(Vec::new())));
        }
    }
}
