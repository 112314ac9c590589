//! The error type of the store and the helpers that give database errors their context.

use std::fmt::Write as _;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How many problems the `Display` of a rejected import spells out; the full list stays in the error.
const PROBLEMS_SHOWN_IN_MESSAGE: usize = 20;

/// One reason an import was rejected, tied to where it occurs in the submitted data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ImportProblem {
    /// Where the problem is: for CSV the line of the file where the record starts (the header is line 1); for JSON the 1-based position of the item in the array, or the text line of a syntax error; 0 when it concerns the whole input
    pub line: u64,
    /// The same place in words, such as "line 4", "item 3" or "the whole input"
    pub location: String,
    /// The field (CSV column or JSON key) at fault, when the problem concerns one field
    pub field: Option<String>,
    /// What is wrong and what was expected
    pub message: String,
}

impl std::fmt::Display for ImportProblem {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(formatter, "{}, `{field}`: {}", self.location, self.message),
            None => write!(formatter, "{}: {}", self.location, self.message),
        }
    }
}

/// Everything that can go wrong in the store.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// A value given by the caller is not acceptable.
    #[error("invalid value for `{field}`: expected {expected}")]
    InvalidInput {
        /// The name of the offending parameter or field.
        field: String,
        /// What an acceptable value looks like.
        expected: String,
    },
    /// No record has the given id.
    #[error("no {what} with id {id}")]
    NotFound {
        /// The kind of record, such as "company".
        what: &'static str,
        /// The id that was looked up.
        id: i64,
    },
    /// The change would break a uniqueness rule, such as two companies with the same name.
    #[error("{message}")]
    Conflict {
        /// Which existing record is in the way, with its id.
        message: String,
    },
    /// An import had problems; nothing was written.
    #[error("{}", describe_rejection(problems))]
    ImportRejected {
        /// Every problem found, in input order (capped, with a last entry saying how many more there were).
        problems: Vec<ImportProblem>,
    },
    /// The database failed; the message says which operation.
    #[error("{0}")]
    Database(String),
    /// The database file was written by a newer version of this program.
    #[error(
        "the database schema version {found} is newer than the newest version this program supports ({supported}); use a newer mcp-empresa or another database file"
    )]
    SchemaTooNew {
        /// The schema version found in the file.
        found: i64,
        /// The newest schema version this program knows.
        supported: i64,
    },
}

impl StoreError {
    /// True when the caller (or the AI agent behind it) can fix the problem by changing its request,
    /// false when the database itself failed.
    pub fn is_caller_error(&self) -> bool {
        match self {
            StoreError::InvalidInput { .. }
            | StoreError::NotFound { .. }
            | StoreError::Conflict { .. }
            | StoreError::ImportRejected { .. } => true,
            StoreError::Database(_) | StoreError::SchemaTooNew { .. } => false,
        }
    }

    pub(crate) fn invalid(field: &str, expected: impl Into<String>) -> StoreError {
        StoreError::InvalidInput {
            field: field.to_owned(),
            expected: expected.into(),
        }
    }
}

fn describe_rejection(problems: &[ImportProblem]) -> String {
    let count = problems.len();
    let mut text = format!(
        "the import was rejected and nothing was written; {count} problem{}: ",
        if count == 1 { "" } else { "s" }
    );
    for (index, problem) in problems.iter().take(PROBLEMS_SHOWN_IN_MESSAGE).enumerate() {
        if index > 0 {
            text.push_str("; ");
        }
        let _ = write!(text, "{problem}");
    }
    if count > PROBLEMS_SHOWN_IN_MESSAGE {
        let _ = write!(
            text,
            "; and {} more in the problem list",
            count - PROBLEMS_SHOWN_IN_MESSAGE
        );
    }
    text
}

/// Turns a rusqlite error into [`StoreError::Database`] saying what the store was doing.
pub(crate) trait DbContext<T> {
    /// Prefixes the error with a fixed description of the operation.
    fn context(self, action: &str) -> Result<T, StoreError>;
    /// Prefixes the error with a description built only when there is an error.
    fn with_context(self, action: impl FnOnce() -> String) -> Result<T, StoreError>;
}

impl<T> DbContext<T> for Result<T, rusqlite::Error> {
    fn context(self, action: &str) -> Result<T, StoreError> {
        self.map_err(|err| StoreError::Database(format!("{action}: {err}")))
    }

    fn with_context(self, action: impl FnOnce() -> String) -> Result<T, StoreError> {
        self.map_err(|err| StoreError::Database(format!("{}: {err}", action())))
    }
}
