//! What can go wrong talking to Odoo, and Odoo's faults turned into sentences.
//!
//! Odoo reports a refused call as an XML-RPC fault (code 1 with a Python traceback, 2 for user and
//! validation errors, 3 for a refused login, 4 for access errors) or, over JSON-2, as an HTTP
//! error whose JSON body names the Python exception. Both are reduced here to a [`FaultKind`] and
//! the one meaningful line of Odoo's message; tracebacks and XML never reach the caller.

use mcp_common::BackendError;

/// A failed call to Odoo.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OdooError {
    /// The service could not be reached or did not answer usably: connection refused, timeout,
    /// HTTP 5xx, an open breaker. The message comes from mcp-common and names endpoint and cause.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// Odoo answered and refused the call.
    #[error("{0}")]
    Fault(Fault),
    /// Odoo refused the credentials, even after authenticating again.
    #[error("Odoo rejected the {what} on database '{db}' — {hint}")]
    LoginRejected {
        /// "login for user 'admin'" or "API key".
        what: String,
        /// The database.
        db: String,
        /// Which settings to check.
        hint: String,
    },
    /// The call cannot be made as configured or asked, already phrased for a person.
    #[error("{0}")]
    Unsupported(String),
}

/// The kinds of refusal the tools react to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// The login or API key was refused (`odoo.exceptions.AccessDenied`, HTTP 401).
    AccessDenied,
    /// The user may not do this (`odoo.exceptions.AccessError`).
    AccessError,
    /// A record does not exist (`odoo.exceptions.MissingError`).
    Missing,
    /// A field named in the call does not exist on the model.
    UnknownField {
        /// The field.
        field: String,
    },
    /// The model does not exist in this database.
    UnknownModel,
    /// The model has no such public method.
    UnknownMethod,
    /// A constraint or a business rule refused the data (`ValidationError`, `UserError`).
    Validation,
    /// A transient database condition (serialisation failure, lock): worth retrying.
    Transient,
    /// Anything else.
    Other,
}

/// Odoo's refusal of one call, reduced to what a person needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// What kind of refusal.
    pub kind: FaultKind,
    /// Odoo's own message, one line, without traceback or exception class.
    pub message: String,
    /// The model the call was about (or the one Odoo named).
    pub model: String,
    /// The method called.
    pub method: String,
    /// The record ids concerned, when known.
    pub ids: Vec<i64>,
}

/// Longest Odoo message passed on; the rest is cut.
const MAX_MESSAGE_CHARS: usize = 400;

impl Fault {
    /// A fault from an XML-RPC `<fault>`.
    pub fn from_xmlrpc(code: i32, text: &str, model: &str, method: &str, ids: &[i64]) -> Fault {
        let class = match code {
            3 => "AccessDenied".to_owned(),
            4 => "AccessError".to_owned(),
            2 => "UserError".to_owned(),
            _ => exception_class(text).unwrap_or_default(),
        };
        Fault::classify(&class, text, model, method, ids)
    }

    /// A fault from a JSON-2 error body (`name` is the Python exception, e.g.
    /// `odoo.exceptions.AccessError`) or status.
    pub fn from_json2(
        status: u16,
        name: &str,
        text: &str,
        model: &str,
        method: &str,
        ids: &[i64],
    ) -> Fault {
        let class = if status == 401 {
            "AccessDenied".to_owned()
        } else {
            name.to_owned()
        };
        Fault::classify(&class, text, model, method, ids)
    }

    fn classify(class: &str, text: &str, model: &str, method: &str, ids: &[i64]) -> Fault {
        let message = meaningful_line(text);
        let short = class.rsplit('.').next().unwrap_or(class);
        let lower = message.to_ascii_lowercase();
        let mut fault = Fault {
            kind: FaultKind::Other,
            message: message.clone(),
            model: model.to_owned(),
            method: method.to_owned(),
            ids: ids.to_vec(),
        };
        fault.kind = if short == "AccessDenied" {
            FaultKind::AccessDenied
        } else if short == "MissingError" || lower.contains("does not exist or has been deleted") {
            if let Some((named_model, named_ids)) = missing_record(&message) {
                fault.model = named_model;
                fault.ids = named_ids;
            }
            FaultKind::Missing
        } else if let Some((field, named_model)) = invalid_field(&message) {
            if let Some(named_model) = named_model {
                fault.model = named_model;
            }
            FaultKind::UnknownField { field }
        } else if let Some(named_model) = unknown_model(&message) {
            fault.model = named_model;
            FaultKind::UnknownModel
        } else if short == "AccessError" {
            FaultKind::AccessError
        } else if (short == "NotFound" || short == "AttributeError")
            && lower.contains("method")
            && lower.contains("does not exist")
        {
            FaultKind::UnknownMethod
        } else if matches!(
            short,
            "ValidationError" | "UserError" | "RedirectWarning" | "UnprocessableEntity"
        ) {
            FaultKind::Validation
        } else if class.contains("psycopg2")
            || matches!(
                short,
                "OperationalError" | "SerializationFailure" | "LockNotAvailable" | "LockError"
            )
        {
            FaultKind::Transient
        } else {
            FaultKind::Other
        };
        fault
    }

    /// What the call was, e.g. "search_read on res.partner".
    pub fn operation(&self) -> String {
        format!("{} on {}", self.method, self.model)
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Fault {
            model,
            message,
            method,
            ..
        } = self;
        match &self.kind {
            FaultKind::UnknownField { field } => write!(
                f,
                "Odoo: the field '{field}' does not exist on {model} — call describe_model to see its fields"
            ),
            FaultKind::Missing if !self.ids.is_empty() => {
                let ids: Vec<String> = self.ids.iter().map(i64::to_string).collect();
                write!(
                    f,
                    "Odoo: {model} {} does not exist or was deleted",
                    ids.join(", ")
                )
            }
            FaultKind::Missing => write!(f, "Odoo: {message}"),
            FaultKind::UnknownModel => {
                write!(f, "Odoo has no model '{model}' — call list_models")
            }
            FaultKind::UnknownMethod => write!(
                f,
                "Odoo: {model} has no public method '{method}' ({message})"
            ),
            FaultKind::AccessError => write!(f, "Odoo denied access: {message}"),
            FaultKind::AccessDenied => write!(f, "Odoo refused the credentials: {message}"),
            FaultKind::Validation | FaultKind::Transient => write!(f, "Odoo: {message}"),
            FaultKind::Other => write!(f, "Odoo rejected {}: {message}", self.operation()),
        }
    }
}

/// The exception class on the last line of a Python traceback ("ValueError: ..." → "ValueError").
fn exception_class(text: &str) -> Option<String> {
    if !text.contains("Traceback (most recent call last)") {
        return None;
    }
    let last = text.lines().rev().find(|l| !l.trim().is_empty())?;
    let (class, _) = last.split_once(':')?;
    let class = class.trim();
    class
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
        .then(|| class.to_owned())
}

/// The part of Odoo's text worth showing: the last line of a traceback without its exception
/// class, else the message with its lines joined; cut to a readable length.
pub fn meaningful_line(text: &str) -> String {
    let text = text.trim();
    let core = if text.contains("Traceback (most recent call last)") {
        let last = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default()
            .trim();
        match last.split_once(": ") {
            Some((class, rest))
                if class
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_') =>
            {
                rest.to_owned()
            }
            _ => last.to_owned(),
        }
    } else {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    };
    // Python reprs of strings in messages ("'x'") are fine; a werkzeug status prefix is not.
    let core = core
        .strip_prefix("404 Not Found: ")
        .or_else(|| core.strip_prefix("422 Unprocessable Entity: "))
        .unwrap_or(&core)
        .to_owned();
    if core.chars().count() > MAX_MESSAGE_CHARS {
        let cut: String = core.chars().take(MAX_MESSAGE_CHARS).collect();
        format!("{cut}…")
    } else {
        core
    }
}

/// `(model, ids)` from "Record does not exist or has been deleted. (Record: res.partner(999,), User: 2)".
fn missing_record(message: &str) -> Option<(String, Vec<i64>)> {
    let rest = message.split("Record: ").nth(1)?;
    let (model, rest) = rest.split_once('(')?;
    let (ids, _) = rest.split_once(')')?;
    let ids: Vec<i64> = ids
        .split(',')
        .filter_map(|id| id.trim().parse().ok())
        .collect();
    let model = model.trim();
    is_model_name(model).then(|| (model.to_owned(), ids))
}

/// `(field, model)` from Odoo's messages about unknown fields:
/// "Invalid field 'x' on model 'res.partner'", "Invalid field res.partner.x in leaf ('x', '=', 1)",
/// "Invalid field 'x' in 'res.partner'", "Invalid field x on model res.partner".
fn invalid_field(message: &str) -> Option<(String, Option<String>)> {
    let rest = message.split("Invalid field ").nth(1)?;
    let (token, after) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let token = unquote(token);
    let after = after.trim_start();
    let named_model = if let Some(model) = after
        .strip_prefix("on model ")
        .or_else(|| after.strip_prefix("in model "))
    {
        model.split_whitespace().next().map(unquote)
    } else if let Some(model) = after.strip_prefix("in '") {
        model.split('\'').next()
    } else {
        None
    }
    .filter(|m| is_model_name(m))
    .map(str::to_owned);
    if named_model.is_some() || !token.contains('.') {
        return Some((token.to_owned(), named_model));
    }
    // "res.partner.x": the field is the last part, the model the rest.
    let (model, field) = token.rsplit_once('.')?;
    Some((field.to_owned(), Some(model.to_owned())))
}

fn unquote(text: &str) -> &str {
    text.trim_matches(|c| matches!(c, '\'' | '"' | ',' | ':' | '.'))
}

/// The model from "Object x.y doesn't exist", "the model 'x.y' does not exist" or "KeyError: 'x.y'".
fn unknown_model(message: &str) -> Option<String> {
    let candidates = [
        message
            .strip_prefix("Object ")
            .and_then(|rest| rest.split_whitespace().next()),
        message
            .to_ascii_lowercase()
            .contains("model")
            .then(|| message.split('\'').nth(1))
            .flatten()
            .filter(|_| message.contains("does not exist") || message.contains("doesn't exist")),
    ];
    let found = candidates.into_iter().flatten().next()?;
    let found = found.trim_matches(|c| c == '\'' || c == '"');
    let phrased = message.contains("doesn't exist") || message.contains("does not exist");
    (phrased && is_model_name(found)).then(|| found.to_owned())
}

/// Whether `name` looks like an Odoo model name (`res.partner`, `x_custom.thing`).
pub fn is_model_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACEBACK: &str = "Traceback (most recent call last):\n  File \"/odoo/odoo/http.py\", line 1, in dispatch\n    result = func()\n  File \"/odoo/odoo/models.py\", line 2, in _where_calc\nValueError: Invalid field res.partner.x in leaf ('x', '=', 1)\n";

    #[test]
    fn xmlrpc_faults_become_sentences() {
        // (fault code, fault string, model, method, ids, expected message)
        type Case<'a> = (i32, &'a str, &'a str, &'a str, Vec<i64>, &'a str);
        let cases: Vec<Case> = vec![
            (
                1,
                TRACEBACK,
                "res.partner",
                "search_read",
                vec![],
                "Odoo: the field 'x' does not exist on res.partner — call describe_model to see its fields",
            ),
            (
                1,
                "Traceback (most recent call last):\n  File \"x\"\nValueError: Invalid field 'foo' on model 'crm.lead'\n",
                "crm.lead",
                "search_read",
                vec![],
                "Odoo: the field 'foo' does not exist on crm.lead — call describe_model to see its fields",
            ),
            (
                2,
                "Record does not exist or has been deleted.\n(Record: res.partner(999,), User: 2)",
                "res.partner",
                "write",
                vec![999],
                "Odoo: res.partner 999 does not exist or was deleted",
            ),
            (
                2,
                "Object x.y doesn't exist",
                "x.y",
                "search_read",
                vec![],
                "Odoo has no model 'x.y' — call list_models",
            ),
            (
                4,
                "You are not allowed to modify 'Contact' (res.partner) records.\n\nThis operation is allowed for the following groups:\n\t- Sales",
                "res.partner",
                "write",
                vec![1],
                "Odoo denied access: You are not allowed to modify 'Contact' (res.partner) records. This operation is allowed for the following groups: - Sales",
            ),
            (
                2,
                "The email address is invalid",
                "res.partner",
                "create",
                vec![],
                "Odoo: The email address is invalid",
            ),
            (
                1,
                "Traceback (most recent call last):\n  File \"x\"\nTypeError: search_read() got an unexpected keyword argument 'bogus'\n",
                "res.partner",
                "search_read",
                vec![],
                "Odoo rejected search_read on res.partner: search_read() got an unexpected keyword argument 'bogus'",
            ),
        ];
        for (code, text, model, method, ids, expected) in cases {
            let fault = Fault::from_xmlrpc(code, text, model, method, &ids);
            assert_eq!(fault.to_string(), expected, "{code} {text:?}");
            assert!(!fault.to_string().contains("Traceback"));
        }
        assert_eq!(
            Fault::from_xmlrpc(3, "Access Denied", "res.partner", "search_read", &[]).kind,
            FaultKind::AccessDenied
        );
    }

    #[test]
    fn json2_errors_become_sentences() {
        // (status, exception name, message, model, method, expected kind, expected text)
        let cases: Vec<(u16, &str, &str, &str, &str, FaultKind, &str)> = vec![
            (
                401,
                "werkzeug.exceptions.Unauthorized",
                "Invalid apikey",
                "res.partner",
                "search_read",
                FaultKind::AccessDenied,
                "Odoo refused the credentials: Invalid apikey",
            ),
            (
                404,
                "werkzeug.exceptions.NotFound",
                "the model 'x.y' does not exist",
                "x.y",
                "search_read",
                FaultKind::UnknownModel,
                "Odoo has no model 'x.y' — call list_models",
            ),
            (
                404,
                "werkzeug.exceptions.NotFound",
                "The method 'res.partner.fly' does not exist",
                "res.partner",
                "fly",
                FaultKind::UnknownMethod,
                "Odoo: res.partner has no public method 'fly' (The method 'res.partner.fly' does not exist)",
            ),
            (
                404,
                "odoo.exceptions.MissingError",
                "Record does not exist or has been deleted.\n(Record: crm.lead(42,), User: 2)",
                "crm.lead",
                "write",
                FaultKind::Missing,
                "Odoo: crm.lead 42 does not exist or was deleted",
            ),
            (
                500,
                "builtins.ValueError",
                "Invalid field 'nope' on model 'res.partner'",
                "res.partner",
                "search_read",
                FaultKind::UnknownField {
                    field: "nope".into(),
                },
                "Odoo: the field 'nope' does not exist on res.partner — call describe_model to see its fields",
            ),
            (
                422,
                "odoo.exceptions.ValidationError",
                "The probability must be between 0 and 100",
                "crm.lead",
                "create",
                FaultKind::Validation,
                "Odoo: The probability must be between 0 and 100",
            ),
            (
                403,
                "odoo.exceptions.AccessError",
                "You are not allowed to access 'Lead' (crm.lead) records.",
                "crm.lead",
                "search_read",
                FaultKind::AccessError,
                "Odoo denied access: You are not allowed to access 'Lead' (crm.lead) records.",
            ),
            (
                500,
                "psycopg2.errors.SerializationFailure",
                "could not serialize access due to concurrent update",
                "crm.lead",
                "write",
                FaultKind::Transient,
                "Odoo: could not serialize access due to concurrent update",
            ),
        ];
        for (status, name, message, model, method, kind, text) in cases {
            let fault = Fault::from_json2(status, name, message, model, method, &[]);
            assert_eq!(fault.kind, kind, "{name}: {message}");
            assert_eq!(fault.to_string(), text, "{name}: {message}");
        }
    }

    #[test]
    fn long_messages_are_cut_and_tracebacks_reduced() {
        let long = "x".repeat(1000);
        assert_eq!(
            meaningful_line(&long).chars().count(),
            MAX_MESSAGE_CHARS + 1
        );
        assert_eq!(
            meaningful_line(TRACEBACK),
            "Invalid field res.partner.x in leaf ('x', '=', 1)"
        );
        assert_eq!(meaningful_line("  one\n\n two  "), "one two");
    }

    #[test]
    fn model_names_are_recognised() {
        for (name, ok) in [
            ("res.partner", true),
            ("x_custom.thing_2", true),
            ("crm.lead", true),
            ("", false),
            ("res..partner", false),
            ("../web", false),
            ("Res.Partner", false),
            ("res partner", false),
        ] {
            assert_eq!(is_model_name(name), ok, "{name}");
        }
    }
}
