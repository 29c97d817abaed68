//! Credential renewal (RFC 9750 §4): a client whose certificate is about to
//! expire, or expired a short while ago, gets a fresh certificate for the same name without a
//! new enrolment token, optionally for a new signature key (key rotation).
//!
//! The request carries the current credential and is signed with the current key; a key
//! change is also signed with the new key (proof of possession, like enrolment). The AS
//! accepts it only if the current credential chains to its root (it issued it), the client is
//! not revoked (RFC 9420 §5.3.2), the current certificate is still valid or expired for
//! less than the renewal grace period, and:
//!
//! - it is the **latest** certificate issued to the name (by serial): after a key rotation,
//!   a renewal or a new enrolment, an older certificate and its key renew nothing, even
//!   within lifetime and grace — a stolen old key cannot mint itself a fresh certificate;
//! - the request is **used once**: its identifier (SHA-256 of the encoded request) is
//!   remembered until its timestamp is out of the freshness window
//!   ([`RENEWAL_MAX_SKEW`]), and the same request again is refused.
//!
//! Both are checked and the new certificate recorded in one atomic step of the store
//! ([`crate::AsStore::record_renewal`]), so two renewals racing from one certificate
//! (on several AS processes sharing a database too) issue one certificate.

use conclave_api::authentication::{
    CertificateError, RENEWAL_LABEL, RENEWAL_MAX_SKEW, RENEWAL_NEW_KEY_LABEL, RenewalRequest,
};
use conclave_core::credential::{
    CredentialCheck, CredentialError, CredentialRole, IdentityProvider, X509IdentityProvider,
};
use conclave_core::messages::{Credential, SignaturePublicKey};
use conclave_crypto::{CryptoProvider, labels};

use conclave_codec::Encode as _;
use sha2::{Digest as _, Sha256};

use crate::{
    AsError, AsStore, AuthenticationService, RenewalRecorded, check_name, name_of_identity,
};

/// Default renewal grace period: a certificate expired for less than seven days can still be
/// renewed.
pub const DEFAULT_RENEWAL_GRACE: u64 = 7 * 24 * 3600;

/// The end-entity certificate of a credential presented for renewal.
fn leaf_certificate(credential: &Credential) -> Result<x509_cert::Certificate, AsError> {
    conclave_api::authentication::leaf_certificate(credential).map_err(|e| match e {
        CertificateError::NotX509 => AsError::NotRenewable(
            "not an X.509 credential (renew the credential this AS issued)".into(),
        ),
        other => AsError::NotRenewable(other.to_string()),
    })
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

/// The serial number of the credential's end-entity certificate, as the AS issued it (a
/// big-endian `u64`; the DER form may carry a leading zero byte).
fn leaf_serial(credential: &Credential) -> Result<u64, AsError> {
    let certificate = leaf_certificate(credential)?;
    let bytes = certificate.tbs_certificate().serial_number().as_bytes();
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    let significant = bytes.get(start..).unwrap_or_default();
    if significant.len() > 8 {
        return Err(AsError::NotRenewable(
            "the certificate's serial number is not one this AS issues".into(),
        ));
    }
    let mut out = [0u8; 8];
    let offset = 8 - significant.len();
    if let Some(tail) = out.get_mut(offset..) {
        tail.copy_from_slice(significant);
    }
    Ok(u64::from_be_bytes(out))
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
    /// (leaf certificate, then the root). `crypto` verifies the chain.
    pub fn renew(
        &self,
        crypto: &dyn CryptoProvider,
        request: &RenewalRequest,
        now: u64,
    ) -> Result<Credential, AsError> {
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
        let provider = X509IdentityProvider::new([self.root_certificate()], crypto)
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
        let tbs = request
            .to_be_signed()
            .map_err(|e| AsError::NotRenewable(format!("the credential does not encode: {e}")))?;
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
        let renewed_serial = leaf_serial(&request.credential)?;
        let request_id = Sha256::digest(
            request
                .to_bytes()
                .map_err(|e| AsError::NotRenewable(format!("the request does not encode: {e}")))?,
        )
        .to_vec();
        // Past this, the request is stale anyway.
        let remember_until = request.timestamp.saturating_add(RENEWAL_MAX_SKEW);
        let issued = self.certificate(&name, &request.signature_key, now)?;
        let credential = self.credential_of(&issued);
        match self
            .store
            .record_renewal(issued, renewed_serial, &request_id, remember_until, now)
            .map_err(AsError::Store)?
        {
            RenewalRecorded::Recorded => Ok(credential),
            RenewalRecorded::Replayed => Err(AsError::ReplayedRequest),
            _ => Err(AsError::Superseded),
        }
    }
}
