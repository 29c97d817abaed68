//! Errors of the Delivery Service and their HTTP form: every refusal is a 4xx (or 5xx for
//! our own faults) with a JSON [`ErrorBody`] that says what was wrong.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use conclave_api::delivery::ErrorBody;

/// A storage engine failure (the store is unreachable, a query failed, a row is corrupt).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The engine reported an error.
    #[error("storage backend: {0}")]
    Backend(String),
    /// A blocking storage task could not be run or was cancelled.
    #[error("storage task failed: {0}")]
    Task(String),
    /// The database was written by a newer schema than this binary knows.
    #[error("database schema version {found} is newer than supported {supported}")]
    SchemaTooNew {
        /// The version found.
        found: i64,
        /// The newest this binary knows.
        supported: i64,
    },
    /// A configuration value (database URL) is not usable.
    #[error("configuration: {0}")]
    Config(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Backend(format!("sqlite: {e}"))
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        // The server's message, not only "db error".
        match e.as_db_error() {
            Some(db) => Self::Backend(format!(
                "postgres: {} (SQLSTATE {})",
                db.message(),
                db.code().code()
            )),
            None => Self::Backend(format!("postgres: {e}")),
        }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Backend(format!("postgres pool: {e}"))
    }
}

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DsError {
    /// The body, path or query is malformed or violates a rule (400).
    #[error("{0}")]
    BadRequest(String),
    /// No valid token, or a failed proof of possession (401).
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated, but not allowed (403): not a member, a foreign credential.
    #[error("{0}")]
    Forbidden(String),
    /// No such group, client or object (404).
    #[error("{0}")]
    NotFound(String),
    /// The object exists already or conflicts with the stored state (409).
    #[error("{0}")]
    Conflict(String),
    /// A handshake message for another epoch than the group's current one (409).
    #[error("wrong epoch: the message is for epoch {message}, the group is at epoch {current}")]
    WrongEpoch {
        /// The epoch the client used.
        message: u64,
        /// The group's current epoch.
        current: u64,
    },
    /// The body is larger than the configured limit (413).
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The body has the wrong media type (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Too many requests of this kind (429).
    #[error("{0}")]
    RateLimited(String),
    /// The service is at a capacity limit (503), e.g. its WebSocket cap.
    #[error("{0}")]
    Unavailable(String),
    /// Too many requests of this kind until a known time (429 with `Retry-After`, RFC 9110
    /// §10.2.3).
    #[error("{message}")]
    RetryAfter {
        /// What was limited.
        message: String,
        /// Seconds until a retry can succeed.
        seconds: u64,
    },
    /// The group asks the DS to hold its ratchet tree (draft-ietf-mls-ratchet-tree-options-00
    /// §3 `distributionService`) but its handshakes are not ones the DS reads (400,
    /// `tree_needs_readable_handshakes`).
    #[error("{0}")]
    TreeNeedsReadableHandshakes(String),
    /// The storage failed (503).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Our own fault (500).
    #[error("{0}")]
    Internal(String),
}

impl From<conclave_service::body::BodyError> for DsError {
    fn from(e: conclave_service::body::BodyError) -> Self {
        use conclave_service::body::BodyError;
        match e {
            BodyError::UnsupportedMediaType(m) => Self::UnsupportedMediaType(m),
            BodyError::PayloadTooLarge(m) => Self::PayloadTooLarge(m),
            BodyError::BadRequest(m) => Self::BadRequest(m),
        }
    }
}

impl DsError {
    /// The HTTP status and the stable error code.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::WrongEpoch { .. } => (StatusCode::CONFLICT, "wrong_epoch"),
            Self::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::RateLimited(_) | Self::RetryAfter { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
            }
            Self::TreeNeedsReadableHandshakes(_) => {
                (StatusCode::BAD_REQUEST, "tree_needs_readable_handshakes")
            }
            Self::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for DsError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        } else {
            tracing::debug!(error = %self, code, "request refused");
        }
        let current_epoch = match &self {
            Self::WrongEpoch { current, .. } => Some(*current),
            _ => None,
        };
        // Our own faults are logged in full but not described to the client.
        let message = match &self {
            Self::Store(_) => "the storage is unavailable; try again".to_owned(),
            Self::Internal(_) => "internal error".to_owned(),
            other => other.to_string(),
        };
        let body = ErrorBody {
            error: code.to_owned(),
            message,
            current_epoch,
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let Self::RetryAfter { seconds, .. } = &self {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, (*seconds).into());
        }
        response
    }
}
