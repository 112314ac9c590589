//! Sorting qdrant-client's errors: transport failures go to the shared backend policy (retries, breaker, "error
//! connecting to Qdrant at …"), while answers Qdrant gave (not found, bad input, refused key) become the matching
//! [`StoreError`].

use mcp_common::{Failure, FailureKind};
use qdrant_client::QdrantError;
use tonic::{Code, Status};

use crate::store::StoreError;

/// Whether `status` is Qdrant answering the request (it is up and said no), as opposed to the request not
/// getting through: such a status is not retried and does not count against the circuit breaker.
pub(super) fn is_answer(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::NotFound
            | Code::InvalidArgument
            | Code::AlreadyExists
            | Code::FailedPrecondition
            | Code::OutOfRange
            | Code::PermissionDenied
            | Code::Unauthenticated
            | Code::Unimplemented
    )
}

/// Classifies a failure that is not an answer, for the retry policy and the error message.
pub(super) fn classify(error: &QdrantError) -> Failure {
    match error {
        QdrantError::ResponseError { status } => classify_status(status),
        QdrantError::ResourceExhaustedError {
            status,
            retry_after_seconds,
        } => Failure::new(
            FailureKind::Unavailable,
            format!("Qdrant is overloaded ({})", status.message()),
        )
        .with_retry_after(Some(std::time::Duration::from_secs(*retry_after_seconds))),
        QdrantError::Io(io) => Failure::from_io(io),
        QdrantError::InvalidUri(uri) => {
            Failure::new(FailureKind::Connect, format!("invalid URL: {uri}")).with_hint(
                "set QDRANT_URL to the gRPC URL of Qdrant, such as http://localhost:6334",
            )
        }
        other => Failure::new(FailureKind::Protocol, other.to_string()),
    }
}

fn classify_status(status: &Status) -> Failure {
    let message = status.message();
    match status.code() {
        // qdrant-client reports a failed connection as `Internal` "Failed to connect to …", and tonic a broken
        // one as `Unavailable`; either way nothing was processed.
        Code::Internal if message.starts_with("Failed to connect") => {
            Failure::new(FailureKind::Connect, connect_cause(message))
        }
        Code::Unavailable if refused(message) => {
            Failure::new(FailureKind::Connect, connect_cause(message))
        }
        Code::Unavailable => {
            Failure::new(FailureKind::Unavailable, format!("unavailable: {message}"))
        }
        Code::DeadlineExceeded | Code::Cancelled => Failure::new(
            FailureKind::Timeout,
            format!("no answer in time ({message})"),
        ),
        Code::ResourceExhausted => Failure::new(
            FailureKind::Unavailable,
            format!("Qdrant is overloaded ({message})"),
        ),
        Code::Unknown
            if message.contains("h2 protocol error") || message.contains("transport error") =>
        {
            Failure::new(
                FailureKind::Protocol,
                format!("not a gRPC answer ({message})"),
            )
            .with_hint(
                "QDRANT_URL must be Qdrant's gRPC port (6334 by default), not the REST port 6333",
            )
        }
        code => Failure::new(FailureKind::Unavailable, format!("{code:?}: {message}")),
    }
}

fn refused(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("connection refused")
        || lower.contains("connectionrefused")
        || lower.contains("tcp connect")
}

/// The cause of a failed connection in a few words, out of tonic's nested debug output.
fn connect_cause(message: &str) -> String {
    let lower = message.to_ascii_lowercase();
    if lower.contains("connection refused") || lower.contains("connectionrefused") {
        "connection refused".to_owned()
    } else if lower.contains("timed out") || lower.contains("timeout") {
        "the connection timed out".to_owned()
    } else if lower.contains("dns") || lower.contains("lookup") || lower.contains("resolve") {
        "the host name could not be resolved".to_owned()
    } else if lower.contains("certificate") || lower.contains("tls") {
        format!("the TLS handshake failed ({message})")
    } else {
        message.to_owned()
    }
}

/// The error for an answer Qdrant gave to `operation` on `collection`.
pub(super) fn answered(
    endpoint: &str,
    collection: &str,
    operation: &str,
    status: &Status,
) -> StoreError {
    let message = status.message();
    match status.code() {
        Code::NotFound => StoreError::NoCollection(collection.to_owned()),
        Code::AlreadyExists => StoreError::CollectionExists(collection.to_owned()),
        Code::InvalidArgument if message.contains("already exists") => {
            StoreError::CollectionExists(collection.to_owned())
        }
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StoreError::Invalid(format!("Qdrant refused {operation}: {message}"))
        }
        Code::Unauthenticated | Code::PermissionDenied => StoreError::Backend(format!(
            "Qdrant at {endpoint} refused {operation}: {message}; check QDRANT_API_KEY"
        )),
        Code::Unimplemented => StoreError::Backend(format!(
            "Qdrant at {endpoint} cannot do {operation} ({message}); mcp-rag needs Qdrant 1.16 or later"
        )),
        code => StoreError::Backend(format!(
            "Qdrant at {endpoint} failed {operation}: {code:?}: {message}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_failures_are_connect_failures_with_a_short_cause() {
        let refused = Status::internal(
            "Failed to connect to http://127.0.0.1:9/: tonic::transport::Error(Transport, ConnectError(\"tcp connect error\", Os { code: 111, kind: ConnectionRefused, message: \"Connection refused\" }))",
        );
        let failure = classify(&QdrantError::ResponseError { status: refused });
        assert_eq!(failure.kind, FailureKind::Connect);
        assert_eq!(failure.detail, "connection refused");
        let broken =
            Status::unavailable("error trying to connect: tcp connect error: Connection refused");
        assert_eq!(
            classify(&QdrantError::ResponseError { status: broken }).kind,
            FailureKind::Connect
        );
        let slow = Status::deadline_exceeded("Timeout expired");
        assert_eq!(
            classify(&QdrantError::ResponseError { status: slow }).kind,
            FailureKind::Timeout
        );
    }

    #[test]
    fn answers_map_to_store_errors() {
        let endpoint = "http://127.0.0.1:6334";
        assert_eq!(
            answered(
                endpoint,
                "c",
                "search",
                &Status::not_found("Not found: Collection `c` doesn't exist!")
            ),
            StoreError::NoCollection("c".to_owned())
        );
        assert_eq!(
            answered(
                endpoint,
                "c",
                "create",
                &Status::invalid_argument("Wrong input: Collection `c` already exists!")
            ),
            StoreError::CollectionExists("c".to_owned())
        );
        assert!(matches!(
            answered(endpoint, "c", "upsert", &Status::invalid_argument("Wrong input: Vector dimension error")),
            StoreError::Invalid(message) if message.contains("Vector dimension error")
        ));
        let key = answered(
            endpoint,
            "c",
            "list",
            &Status::unauthenticated("Must provide an API key"),
        );
        assert!(
            matches!(&key, StoreError::Backend(m) if m.contains("QDRANT_API_KEY") && m.contains(endpoint)),
            "{key:?}"
        );
        assert!(is_answer(&Status::not_found("x")));
        assert!(!is_answer(&Status::unavailable("x")));
        assert!(!is_answer(&Status::internal("Failed to connect")));
    }
}
