//! What travels between clients and the Authentication Service (RFC 9750 §4): the media
//! types of the binary bodies and the small JSON bodies of the HTTP API. Binary fields in
//! JSON are base64 (standard alphabet), as in the Delivery Service's API.

use serde::{Deserialize, Serialize};

/// A TLS-encoded [`crate::EnrolmentRequest`] (`POST /v1/as/enrol`).
pub const ENROLMENT_MEDIA_TYPE: &str = "application/vnd.conclave.enrolment";
/// A TLS-encoded [`crate::RenewalRequest`] (`POST /v1/as/renew`).
pub const RENEWAL_MEDIA_TYPE: &str = "application/vnd.conclave.renewal";
/// A TLS-encoded `Credential` (RFC 9420 §5.3), the answer to an enrolment or a renewal.
pub const CREDENTIAL_MEDIA_TYPE: &str = "application/vnd.conclave.credential";

/// `GET /v1/as/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthResponse {
    /// `"ok"`.
    pub status: String,
}

/// `GET /v1/as/root`: the trust anchor clients configure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootResponse {
    /// The cipher suite whose signature scheme the AS (and its clients' keys) use.
    pub cipher_suite: u16,
    /// The root certificate, DER, base64.
    pub root_certificate: String,
}

/// `POST /v1/as/tokens` and `POST /v1/as/revoke`: a client name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameRequest {
    /// The client name (1-64 characters of `[a-z0-9._-]`).
    pub name: String,
}

/// Answer to `POST /v1/as/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The client name.
    pub name: String,
    /// The one-time enrolment token (its UTF-8 bytes go into the enrolment request).
    pub token: String,
}

/// `GET /v1/as/revoked`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokedResponse {
    /// Identity URIs (`mls://<name>`) of the revoked clients, sorted.
    pub revoked: Vec<String>,
}

/// Every error answer: `{"error": code, "message": what was wrong and what to do}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A stable machine-readable code (`invalid_token`, `invalid_proof`, `revoked`,
    /// `invalid_name`, `unauthorized`, `bad_request`, …).
    pub error: String,
    /// What was wrong.
    pub message: String,
}
