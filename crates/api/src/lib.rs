//! The contract between Conclave clients and the Conclave services (RFC 9750 §4-§6): the
//! wire types of the Delivery Service and the Authentication Service, and HTTP clients for
//! both. It depends on the protocol crates only, so that an application embedding a client
//! links no server code.
//!
//! - [`delivery`]: the Delivery Service's bodies, media types and signed statements (commit
//!   bundle, registration, login);
//! - [`ds_client`]: [`DsClient`], the client side of the DS API (login with the signature
//!   key, KeyPackages, groups, commits, messages, Welcomes, GroupInfo);
//! - [`authentication`]: client names, the enrolment and renewal requests, and the AS's
//!   bodies and media types;
//! - [`as_client`]: [`AsClient`], the client side of the AS API;
//! - [`clock`]: the wall clock, for the code around the sans-IO protocol crates;
//! - [`http`]: [`HttpLimits`], the timeouts and response-size limit of both clients.
//!
//! Both HTTP clients report failures as one [`ApiError`], which names the service, the
//! operation and what the server said.

#![forbid(unsafe_code)]

pub mod as_client;
pub mod authentication;
pub mod clock;
pub mod delivery;
pub mod ds_client;
pub mod http;
pub mod identities;

pub use as_client::AsClient;
pub use ds_client::DsClient;
pub use http::HttpLimits;

/// Which service an exchange was with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// The Delivery Service (RFC 9750 §5).
    Delivery,
    /// The Authentication Service (RFC 9750 §4).
    Authentication,
}

impl Service {
    /// The service as a sentence names it: "the Delivery Service".
    pub fn name(self) -> &'static str {
        match self {
            Self::Delivery => "the Delivery Service",
            Self::Authentication => "the Authentication Service",
        }
    }
}

impl core::fmt::Display for Service {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a request to a service failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The service answered with an error (4xx/5xx).
    #[error("{service} refused {what}: {message} (HTTP {status}, {code})")]
    Refused {
        /// Which service.
        service: Service,
        /// The operation ("the registration", "the commit", …).
        what: String,
        /// The HTTP status.
        status: u16,
        /// The stable error code (`wrong_epoch`, `invalid_token`, `revoked`, …).
        code: String,
        /// The server's explanation.
        message: String,
    },
    /// The Delivery Service took another commit for the epoch (RFC 9750 §5.2: one commit
    /// per epoch).
    #[error("the group is at epoch {current} on the Delivery Service, our message was for another")]
    WrongEpoch {
        /// The group's current epoch on the DS.
        current: u64,
    },
    /// The service could not be reached, or the connection failed.
    #[error("cannot reach {service} at {url}: {reason}")]
    Unreachable {
        /// Which service.
        service: Service,
        /// Its base URL.
        url: String,
        /// The transport error.
        reason: String,
    },
    /// The service answered something this client does not understand.
    #[error("{service} sent an answer we cannot use: {source}")]
    BadResponse {
        /// Which service.
        service: Service,
        /// What was wrong with it.
        #[source]
        source: BadResponse,
    },
    /// Signing a request failed.
    #[error("crypto: {0}")]
    Crypto(#[from] conclave_crypto::CryptoError),
    /// Encoding a request failed.
    #[error("encoding: {0}")]
    Codec(#[from] conclave_codec::CodecError),
}

impl ApiError {
    /// The server's error code, for a refusal.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Refused { code, .. } => Some(code),
            Self::WrongEpoch { .. } => Some("wrong_epoch"),
            _ => None,
        }
    }

    /// The HTTP status, for a refusal.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Refused { status, .. } => Some(*status),
            Self::WrongEpoch { .. } => Some(409),
            _ => None,
        }
    }
}

/// What was wrong with a server's answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BadResponse {
    /// Malformed JSON or an unexpected shape.
    #[error("{0}")]
    Json(String),
    /// Not valid base64 or hex.
    #[error("bad encoding: {0}")]
    Encoding(String),
    /// The answer's body is longer than the client reads ([`HttpLimits::max_response`]).
    #[error("the answer is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit, bytes.
        limit: usize,
    },
    /// An MLS object that does not decode or is of the wrong kind.
    #[error("bad MLS object: {0}")]
    Mls(String),
    /// Another media type than the route answers with.
    #[error("unexpected media type: {0}")]
    MediaType(String),
}

/// Decodes standard base64 from a service's answer.
pub fn b64_decode(service: Service, value: &str) -> Result<Vec<u8>, ApiError> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(value)
        .map_err(|e| ApiError::BadResponse {
            service,
            source: BadResponse::Encoding(e.to_string()),
        })
}

/// Encodes bytes as standard base64, as the JSON bodies carry them.
pub fn b64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
