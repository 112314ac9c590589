//! Tool errors: what a person or a model reads when a call fails.
//!
//! Every variant becomes a tool result with `isError: true` and one sentence that says what went
//! wrong and what to do, never a JSON-RPC error (hosts show those opaquely) and never a raw
//! backend body or stack trace.

use rmcp::ErrorData as McpError;
use rmcp::model::{CallToolResult, ContentBlock, IntoContents};

use crate::backend::BackendError;
use crate::secret::scrub;

/// A failed tool call, as the caller should read it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ToolError {
    /// An argument is missing or unusable.
    #[error("invalid argument `{field}`: expected {expected}")]
    InvalidArgument {
        /// The argument (or `argument.sub_field`).
        field: String,
        /// What it must hold.
        expected: String,
    },
    /// The thing asked for does not exist.
    #[error("{what} not found{}", hint.as_ref().map(|h| format!("; {h}")).unwrap_or_default())]
    NotFound {
        /// What was looked up, e.g. "company 42".
        what: String,
        /// How to find valid values, e.g. "call list_companies to see valid ids".
        hint: Option<String>,
    },
    /// The call conflicts with the current state (duplicate name, stale version).
    #[error("{0}")]
    Conflict(String),
    /// The call was not allowed: policy, missing consent, or a declined confirmation.
    #[error("{0}")]
    Refused(String),
    /// A backend failed; the message names the service, operation, cause and what to check.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// Anything else, already phrased for a person.
    #[error("{0}")]
    Other(String),
}

impl ToolError {
    /// An invalid-argument error.
    pub fn invalid(field: impl Into<String>, expected: impl Into<String>) -> Self {
        ToolError::InvalidArgument {
            field: field.into(),
            expected: expected.into(),
        }
    }

    /// A not-found error with a hint on how to find valid values.
    pub fn not_found(what: impl Into<String>, hint: impl Into<String>) -> Self {
        ToolError::NotFound {
            what: what.into(),
            hint: Some(hint.into()),
        }
    }

    /// The message with every registered secret scrubbed out.
    pub fn message(&self) -> String {
        scrub(&self.to_string()).into_owned()
    }

    /// The tool result a client receives.
    pub fn into_result(self) -> CallToolResult {
        CallToolResult::error(vec![ContentBlock::text(self.message())])
    }
}

/// The JSON-RPC error for a resource that does not exist; `data.uri` names it, as the protocol
/// asks (SEP-2164).
pub fn resource_not_found(uri: &str, message: impl Into<String>) -> McpError {
    McpError::resource_not_found(message.into(), Some(serde_json::json!({ "uri": uri })))
}

impl ToolError {
    /// The JSON-RPC error for a failed `resources/read` of `uri`: a missing record, or a URI
    /// that names nothing usable, is "not found"; anything else is an internal error. Both carry
    /// `data.uri`.
    pub fn into_resource_error(self, uri: &str) -> McpError {
        match self {
            ToolError::NotFound { .. }
            | ToolError::InvalidArgument { .. }
            | ToolError::Refused(_) => resource_not_found(uri, self.message()),
            other => {
                McpError::internal_error(other.message(), Some(serde_json::json!({ "uri": uri })))
            }
        }
    }
}

impl IntoContents for ToolError {
    fn into_contents(self) -> Vec<ContentBlock> {
        vec![ContentBlock::text(self.message())]
    }
}
