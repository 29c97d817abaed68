//! What travels between clients and the Authentication Service (RFC 9750 §4): the client
//! name rules, the signed enrolment and renewal requests, the media types of the binary
//! bodies and the small JSON bodies of the HTTP API. Binary fields in JSON are base64
//! (standard alphabet), as in the Delivery Service's API.
//!
//! A client is named by the subjectAltName URI `mls://<name>` of its X.509 certificate
//! (RFC 9420 §5.3); two credentials are the same client when their identities are equal
//! (RFC 9420 §5.3.3).

use conclave_codec::Encode;
use conclave_core::messages::{Credential, SignaturePublicKey};
use conclave_crypto::{CipherSuiteProvider, Secret, labels};
use serde::{Deserialize, Serialize};
use x509_cert::Certificate;
use x509_cert::der::Decode as _;

use crate::ApiError;

/// Label of the proof of possession a client signs when enrolling.
pub const ENROLMENT_LABEL: &str = "Conclave AS enrolment";

/// Label of the proof a client signs with its current key when renewing.
pub const RENEWAL_LABEL: &str = "Conclave AS renewal";

/// Label of the proof a client signs with its new key when a renewal changes the key.
pub const RENEWAL_NEW_KEY_LABEL: &str = "Conclave AS renewal new key";

/// How far a renewal request's timestamp may be from the AS's clock, seconds.
pub const RENEWAL_MAX_SKEW: u64 = 300;

/// The longest client name, bytes.
pub const MAX_NAME_LEN: usize = 64;

/// Whether `name` is an acceptable client name: 1-64 characters of `[a-z0-9._-]`.
pub fn is_valid_name(name: &str) -> bool {
    is_valid_name_bytes(name.as_bytes())
}

/// [`is_valid_name`] on raw bytes (a name as it arrives in a request).
pub fn is_valid_name_bytes(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(b))
}

/// The identity URI of a client name, as certificates and the identity provider use it.
pub fn identity_uri(name: &str) -> String {
    format!("mls://{name}")
}

/// The client name of an identity URI (`mls://<name>` → `<name>`), if it is one.
pub fn name_of_identity(identity: &[u8]) -> Option<&str> {
    std::str::from_utf8(identity).ok()?.strip_prefix("mls://")
}

/// Why a credential's certificate could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// The credential is not an X.509 credential (RFC 9420 §5.3).
    #[error("not an X.509 credential")]
    NotX509,
    /// The X.509 credential carries no certificate.
    #[error("the credential has no certificate")]
    Empty,
    /// The end-entity certificate is not valid DER.
    #[error("the leaf certificate does not parse: {0}")]
    Malformed(String),
}

/// The end-entity certificate of an X.509 credential (the first of the chain, RFC 9420
/// §5.3).
pub fn leaf_certificate(credential: &Credential) -> Result<Certificate, CertificateError> {
    let Credential::X509 { certificates } = credential else {
        return Err(CertificateError::NotX509);
    };
    let leaf = certificates.first().ok_or(CertificateError::Empty)?;
    Certificate::from_der(&leaf.cert_data).map_err(|e| CertificateError::Malformed(e.to_string()))
}

/// The validity period `(notBefore, notAfter)`, in seconds since the Unix epoch, of an
/// X.509 credential's end-entity certificate: lets a client renew it in time.
pub fn certificate_validity(credential: &Credential) -> Result<(u64, u64), CertificateError> {
    let certificate = leaf_certificate(credential)?;
    let validity = certificate.tbs_certificate().validity();
    Ok((
        validity.not_before.to_unix_duration().as_secs(),
        validity.not_after.to_unix_duration().as_secs(),
    ))
}

/// An enrolment request: the client's name, its freshly generated signature public key, the
/// one-time token, and `SignWithLabel(sk, "Conclave AS enrolment", EnrolmentTbs)`.
///
/// The token is the bytes of the token string the administrator received (UTF-8).
#[derive(Debug, Clone, PartialEq, Eq, conclave_codec::Encode, conclave_codec::Decode)]
pub struct EnrolmentRequest {
    /// The client name (becomes `mls://<name>`).
    pub name: Vec<u8>,
    /// The client's signature public key (in the suite's encoding).
    pub signature_key: SignaturePublicKey,
    /// The one-time enrolment token.
    pub token: Vec<u8>,
    /// Proof of possession over [`EnrolmentRequest::to_be_signed`].
    pub proof: Vec<u8>,
}

impl EnrolmentRequest {
    /// Builds and signs a request with the client's private key.
    pub fn sign(
        cs: &dyn CipherSuiteProvider,
        name: &str,
        signature_key: SignaturePublicKey,
        secret_key: &Secret,
        token: Vec<u8>,
    ) -> Result<Self, ApiError> {
        let mut request = Self {
            name: name.as_bytes().to_vec(),
            signature_key,
            token,
            proof: Vec::new(),
        };
        request.proof = labels::sign_with_label(
            cs,
            secret_key.as_bytes(),
            ENROLMENT_LABEL,
            &request.to_be_signed(),
        )?;
        Ok(request)
    }

    /// What the proof covers: name, key and token, each length-prefixed.
    pub fn to_be_signed(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for field in [&self.name, &self.signature_key.0, &self.token] {
            out.extend_from_slice(&(field.len() as u64).to_be_bytes());
            out.extend_from_slice(field);
        }
        out
    }
}

/// A renewal request (`POST /v1/as/renew`), TLS-encoded:
///
/// ```text
/// struct {
///     Credential credential;               // the current credential (leaf, root)
///     SignaturePublicKey signature_key;    // the key to certify: the current one or a new one
///     uint64 timestamp;                    // the client's clock, seconds since the Unix epoch
///     opaque proof<V>;                     // SignWithLabel(current sk, "Conclave AS renewal", tbs)
///     optional<opaque new_key_proof<V>>;   // SignWithLabel(new sk, "Conclave AS renewal new key", tbs)
/// } RenewalRequest;
/// ```
///
/// `tbs` is the encoded `credential`, then `signature_key`, each prefixed by its length as a
/// big-endian `u64`, then `timestamp` as a big-endian `u64`. `new_key_proof` is required when
/// `signature_key` is not the current certificate's key.
#[derive(Debug, Clone, PartialEq, Eq, conclave_codec::Encode, conclave_codec::Decode)]
pub struct RenewalRequest {
    /// The current credential (X.509 chain: leaf, root).
    pub credential: Credential,
    /// The signature public key the new certificate is for.
    pub signature_key: SignaturePublicKey,
    /// When the client made the request (seconds since the Unix epoch); the AS refuses a
    /// request more than [`RENEWAL_MAX_SKEW`] seconds away from its clock.
    pub timestamp: u64,
    /// Proof by the current key over [`RenewalRequest::to_be_signed`].
    pub proof: Vec<u8>,
    /// Proof by the new key over the same bytes, when the key changes.
    pub new_key_proof: Option<Vec<u8>>,
}

impl RenewalRequest {
    /// Builds and signs a request: `current_key`/`current_secret` are the key pair of
    /// `credential`; `new_key` is `Some((public, secret))` to rotate to a new key pair, `None`
    /// to keep the current key.
    pub fn sign(
        cs: &dyn CipherSuiteProvider,
        credential: Credential,
        current_key: &SignaturePublicKey,
        current_secret: &Secret,
        new_key: Option<(&SignaturePublicKey, &Secret)>,
        timestamp: u64,
    ) -> Result<Self, ApiError> {
        let signature_key = new_key.map_or(current_key, |(public, _)| public).clone();
        let mut request = Self {
            credential,
            signature_key,
            timestamp,
            proof: Vec::new(),
            new_key_proof: None,
        };
        let tbs = request.to_be_signed()?;
        request.proof =
            labels::sign_with_label(cs, current_secret.as_bytes(), RENEWAL_LABEL, &tbs)?;
        if let Some((_, secret)) = new_key {
            request.new_key_proof = Some(labels::sign_with_label(
                cs,
                secret.as_bytes(),
                RENEWAL_NEW_KEY_LABEL,
                &tbs,
            )?);
        }
        Ok(request)
    }

    /// What both proofs cover: the encoded credential and the key, each length-prefixed,
    /// then the timestamp.
    pub fn to_be_signed(&self) -> Result<Vec<u8>, conclave_codec::CodecError> {
        let credential = self.credential.to_bytes()?;
        let mut out = Vec::with_capacity(credential.len() + self.signature_key.0.len() + 24);
        for field in [&credential, &self.signature_key.0] {
            out.extend_from_slice(&(field.len() as u64).to_be_bytes());
            out.extend_from_slice(field);
        }
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        Ok(out)
    }
}

/// A TLS-encoded [`EnrolmentRequest`] (`POST /v1/as/enrol`).
pub const ENROLMENT_MEDIA_TYPE: &str = "application/vnd.conclave.enrolment";
/// A TLS-encoded [`RenewalRequest`] (`POST /v1/as/renew`).
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
