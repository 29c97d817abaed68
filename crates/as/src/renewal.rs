//! Credential renewal (RFC 9750 §4; DESIGN.md §5): a client whose certificate is about to
//! expire, or expired a short while ago, gets a fresh certificate for the same name without a
//! new enrolment token, optionally for a new signature key (key rotation).
//!
//! The request carries the current credential and is signed with the current key; a key
//! change is also signed with the new key (proof of possession, like enrolment). The AS
//! accepts it only if the current credential chains to its root (it issued it), the client is
//! not revoked (RFC 9420 §5.3.2), and the current certificate is still valid or expired for
//! less than the renewal grace period.

use conclave_codec::Encode;
use conclave_core::credential::{
    CredentialCheck, CredentialError, CredentialRole, IdentityProvider, X509IdentityProvider,
};
use conclave_core::messages::{Credential, SignaturePublicKey};
use conclave_crypto::{CipherSuiteProvider, Secret, labels};
use conclave_crypto_rustcrypto::RustCryptoProvider;
use x509_cert::Certificate;
use x509_cert::der::Decode as _;

use crate::{AsError, AsStore, AuthenticationService, check_name, name_of_identity};

/// Label of the proof a client signs with its current key when renewing.
pub const RENEWAL_LABEL: &str = "Conclave AS renewal";

/// Label of the proof a client signs with its new key when a renewal changes the key.
pub const RENEWAL_NEW_KEY_LABEL: &str = "Conclave AS renewal new key";

/// Default renewal grace period: a certificate expired for less than seven days can still be
/// renewed.
pub const DEFAULT_RENEWAL_GRACE: u64 = 7 * 24 * 3600;

/// How far a renewal request's timestamp may be from the AS's clock, seconds.
pub const RENEWAL_MAX_SKEW: u64 = 300;

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
    ) -> Result<Self, AsError> {
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
    pub fn to_be_signed(&self) -> Result<Vec<u8>, AsError> {
        let credential = self
            .credential
            .to_bytes()
            .map_err(|e| AsError::NotRenewable(format!("the credential does not encode: {e}")))?;
        let mut out = Vec::with_capacity(credential.len() + self.signature_key.0.len() + 24);
        for field in [&credential, &self.signature_key.0] {
            out.extend_from_slice(&(field.len() as u64).to_be_bytes());
            out.extend_from_slice(field);
        }
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        Ok(out)
    }
}

/// The validity period `(notBefore, notAfter)`, in seconds since the Unix epoch, of an
/// X.509 credential's end-entity certificate: lets a client renew it in time.
pub fn certificate_validity(credential: &Credential) -> Result<(u64, u64), AsError> {
    let certificate = leaf_certificate(credential)?;
    let validity = certificate.tbs_certificate().validity();
    Ok((
        validity.not_before.to_unix_duration().as_secs(),
        validity.not_after.to_unix_duration().as_secs(),
    ))
}

fn leaf_certificate(credential: &Credential) -> Result<Certificate, AsError> {
    let Credential::X509 { certificates } = credential else {
        return Err(AsError::NotRenewable(
            "not an X.509 credential (renew the credential this AS issued)".into(),
        ));
    };
    let leaf = certificates
        .first()
        .ok_or_else(|| AsError::NotRenewable("the credential has no certificate".into()))?;
    Certificate::from_der(&leaf.cert_data)
        .map_err(|e| AsError::NotRenewable(format!("the leaf certificate does not parse: {e}")))
}

/// The end-entity certificate's public key (the BIT STRING of its SubjectPublicKeyInfo,
/// which for Ed25519/Ed448 and uncompressed ECDSA points is the MLS encoding, RFC 9420 §5.1.1)
/// and its `notAfter`.
fn leaf_key_and_expiry(credential: &Credential) -> Result<(Vec<u8>, u64), AsError> {
    let certificate = leaf_certificate(credential)?;
    let tbs = certificate.tbs_certificate();
    let key = tbs
        .subject_public_key_info()
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| AsError::NotRenewable("the leaf's public key is malformed".into()))?
        .to_vec();
    let not_after = tbs.validity().not_after.to_unix_duration().as_secs();
    Ok((key, not_after))
}

impl<S: AsStore> AuthenticationService<S> {
    /// Sets how long after its expiry a certificate can still be renewed, in seconds.
    pub fn with_renewal_grace(mut self, seconds: u64) -> Self {
        self.renewal_grace = seconds;
        self
    }

    /// How long after its expiry a certificate can still be renewed, in seconds.
    pub fn renewal_grace(&self) -> u64 {
        self.renewal_grace
    }

    /// Renews a credential: checks that the current credential chains to this AS's root and
    /// is valid at `now` or expired for less than the grace period, that the client is not
    /// revoked, that the request is fresh and that the proofs verify (the current key's, and
    /// the new key's if the key changes); then issues a certificate for the same name and the
    /// request's key, valid from `now` for the configured lifetime. Returns the credential
    /// (leaf certificate, then the root).
    pub fn renew(&self, request: &RenewalRequest, now: u64) -> Result<Credential, AsError> {
        let (current_key, not_after) = leaf_key_and_expiry(&request.credential)?;
        // Past its end, the chain is checked as it stood at its last valid second.
        let at = if now > not_after {
            let expired_for = now - not_after;
            if expired_for > self.renewal_grace {
                return Err(AsError::RenewalExpired {
                    expired_for,
                    grace: self.renewal_grace,
                });
            }
            not_after
        } else {
            now
        };
        let provider = X509IdentityProvider::new([self.root_certificate()], &RustCryptoProvider)
            .map_err(|e| AsError::Root(e.to_string()))?;
        let chain_error = |e: CredentialError| {
            AsError::NotRenewable(format!("the credential is not one this AS issued: {e}"))
        };
        provider
            .validate_credential(&CredentialCheck {
                credential: &request.credential,
                signature_key: &SignaturePublicKey(current_key.clone()),
                signature_scheme: self.root.provider().signature(),
                role: CredentialRole::Member,
                now: at,
            })
            .map_err(chain_error)?;
        let identity = provider
            .identity(&request.credential)
            .map_err(chain_error)?;
        let name = name_of_identity(&identity).ok_or_else(|| {
            AsError::NotRenewable(format!(
                "identity {:?} is not an mls://<name> URI",
                String::from_utf8_lossy(&identity)
            ))
        })?;
        let name = check_name(name.as_bytes())?;
        if self.store.is_revoked(&name).map_err(AsError::Store)? {
            return Err(AsError::Revoked(name));
        }
        let cs = self.root.provider();
        let tbs = request.to_be_signed()?;
        labels::verify_with_label(cs, &current_key, RENEWAL_LABEL, &tbs, &request.proof)
            .map_err(|_| AsError::InvalidProof)?;
        if request.signature_key.0 != current_key || request.new_key_proof.is_some() {
            let proof = request
                .new_key_proof
                .as_deref()
                .ok_or(AsError::InvalidProof)?;
            labels::verify_with_label(
                cs,
                &request.signature_key.0,
                RENEWAL_NEW_KEY_LABEL,
                &tbs,
                proof,
            )
            .map_err(|_| AsError::InvalidProof)?;
        }
        if now.abs_diff(request.timestamp) > RENEWAL_MAX_SKEW {
            return Err(AsError::StaleRequest {
                timestamp: request.timestamp,
                now,
            });
        }
        self.issue(&name, &request.signature_key, now)
    }
}
