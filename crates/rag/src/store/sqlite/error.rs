//! Turning SQLite failures into [`StoreError`]s that say what the store was doing.

use crate::store::StoreError;

/// Adds what the store was doing to a low-level failure.
pub(super) trait Context<T> {
    /// Maps the error to [`StoreError::Backend`] with "`what`: cause".
    fn context<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T, StoreError>;
}

impl<T> Context<T> for rusqlite::Result<T> {
    fn context<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T, StoreError> {
        self.map_err(|err| {
            let what = what().into();
            StoreError::Backend(format!("SQLite store: {what}: {}", describe(&err)))
        })
    }
}

impl<T> Context<T> for serde_json::Result<T> {
    fn context<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T, StoreError> {
        self.map_err(|err| {
            let what = what().into();
            StoreError::Backend(format!("SQLite store: {what}: {err}"))
        })
    }
}

/// The cause in words, with a hint for the one failure an operator can act on.
fn describe(err: &rusqlite::Error) -> String {
    match err.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => format!(
            "{err} (another process kept the database locked for too long; is a long write \
             running elsewhere?)"
        ),
        Some(rusqlite::ErrorCode::DiskFull) => format!("{err} (free some disk space)"),
        Some(rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::CannotOpen) => {
            format!("{err} (check the file's and its directory's permissions)")
        }
        _ => err.to_string(),
    }
}
