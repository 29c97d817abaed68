//! Errors of the interop server and how the harness sees them: every failure of a harness
//! operation is an [`InteropError`], which the gRPC glue ([`crate::server`]) turns into a
//! [`tonic::Status`] whose code tells the harness whose fault it was (its request, the
//! protocol state, or us).

use conclave_codec::CodecError;
use conclave_core::group::GroupError;
use conclave_crypto::CryptoError;
use tonic::Status;

/// What can go wrong serving a request; each maps to a gRPC status with a message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InteropError {
    /// No state, transaction, reinit or signer with this handle.
    #[error("unknown handle {0}")]
    UnknownHandle(u32),
    /// The handle exists but is of another kind.
    #[error("handle {0} is not a {1}")]
    WrongHandle(u32, &'static str),
    /// The request is malformed or asks for something unsupported.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The protocol refused the operation.
    #[error("MLS: {0}")]
    Group(#[from] GroupError),
    /// A message did not decode.
    #[error("decoding: {0}")]
    Codec(#[from] CodecError),
    /// A cryptographic operation failed.
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
    /// The server's state lock was poisoned by an earlier failure.
    #[error("server state unavailable")]
    Poisoned,
}

impl From<InteropError> for Status {
    /// Requests the harness got wrong are `NOT_FOUND` / `INVALID_ARGUMENT`, operations the
    /// protocol refuses in the current state `FAILED_PRECONDITION`, our own failures
    /// `INTERNAL`: the harness reports the first two as the other side's fault.
    fn from(error: InteropError) -> Self {
        let message = error.to_string();
        match error {
            InteropError::UnknownHandle(_) => Status::not_found(message),
            InteropError::WrongHandle(..)
            | InteropError::BadRequest(_)
            | InteropError::Codec(_) => Status::invalid_argument(message),
            InteropError::Group(_) => Status::failed_precondition(message),
            InteropError::Crypto(_) | InteropError::Poisoned => Status::internal(message),
        }
    }
}

/// The result of a harness operation.
pub type Result<T> = std::result::Result<T, InteropError>;

/// A [`InteropError::BadRequest`] with `message`: shorthand for the many request checks.
pub(crate) fn bad(message: impl Into<String>) -> InteropError {
    InteropError::BadRequest(message.into())
}
