//! The Authentication Service (RFC 9750 §4; DESIGN.md §5): it binds an identity to a
//! signature key. A client makes its own key pair (the AS never sees the private key), proves
//! possession by signing the enrolment request, and receives a short-lived X.509 certificate
//! (the RFC 9420 `x509` credential, §5.3) chained to the AS root. Clients validate chains
//! against the root with [`conclave_core::credential::X509IdentityProvider`], which names a
//! client by its certificate's subjectAltName URI `mls://<name>`. Revoked clients are listed
//! so that members refuse to add them.
//!
//! Sans-IO like the protocol crates: time and randomness are passed in; storage is a trait.

#![forbid(unsafe_code)]

mod signer;
mod store;

use conclave_core::messages::{Certificate, Credential, SignaturePublicKey};
use conclave_crypto::{CipherSuite, CipherSuiteProvider, CryptoRandom, Secret, labels};

pub use signer::ProviderSigner;
pub use store::{AsStore, InMemoryAsStore, IssuedCertificate};

/// Label of the proof of possession a client signs when enrolling.
pub const ENROLMENT_LABEL: &str = "Conclave AS enrolment";

/// Common name of the AS root certificate.
const ROOT_NAME: &str = "Conclave AS root";

/// Default lifetime of a client certificate: one day.
pub const DEFAULT_CERTIFICATE_LIFETIME: u64 = 24 * 3600;

/// Why an Authentication Service operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AsError {
    /// The enrolment token is unknown, used already, or for another name.
    #[error("the enrolment token is not valid for this name (ask the administrator for a new one)")]
    InvalidToken,
    /// The proof of possession did not verify with the submitted key.
    #[error("the proof of possession does not verify with the submitted signature key")]
    InvalidProof,
    /// The name is not acceptable (empty, too long, or with characters outside [a-z0-9._-]).
    #[error("invalid client name {0:?}: use 1-64 characters from a-z, 0-9, '.', '_' and '-'")]
    InvalidName(String),
    /// The client was revoked.
    #[error("client {0:?} is revoked")]
    Revoked(String),
    /// Certificate generation failed.
    #[error("certificate generation failed: {0}")]
    Certificate(String),
    /// A cryptographic operation failed.
    #[error("crypto: {0}")]
    Crypto(#[from] conclave_crypto::CryptoError),
    /// The store failed.
    #[error("store: {0}")]
    Store(String),
}

/// An enrolment request: the client's name, its freshly generated signature public key, the
/// one-time token, and `SignWithLabel(sk, "Conclave AS enrolment", EnrolmentTbs)`.
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
    ) -> Result<Self, AsError> {
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

fn check_name(name: &[u8]) -> Result<String, AsError> {
    let text = String::from_utf8_lossy(name).into_owned();
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(b));
    if ok {
        Ok(text)
    } else {
        Err(AsError::InvalidName(text))
    }
}

/// The identity URI of a client name, as certificates and the identity provider use it.
pub fn identity_uri(name: &str) -> String {
    format!("mls://{name}")
}

/// The Authentication Service: a root key and certificate, and a store of tokens, issued
/// certificates and revocations.
pub struct AuthenticationService<S: AsStore> {
    root: ProviderSigner,
    root_certificate: Vec<u8>,
    store: S,
    certificate_lifetime: u64,
}

impl<S: AsStore> AuthenticationService<S> {
    /// Creates an AS with a fresh root key for `cs`'s signature scheme and a self-signed root
    /// certificate valid for ten years from `now`.
    pub fn new(
        cs: Box<dyn CipherSuiteProvider>,
        store: S,
        now: u64,
        rng: &mut dyn CryptoRandom,
    ) -> Result<Self, AsError> {
        let (secret, public) = cs.signature_generate(rng)?;
        let root = ProviderSigner::new(cs, secret, public)?;
        let root_certificate = root.self_signed_root(ROOT_NAME, now, 10 * 365 * 24 * 3600)?;
        Ok(Self {
            root,
            root_certificate,
            store,
            certificate_lifetime: DEFAULT_CERTIFICATE_LIFETIME,
        })
    }

    /// Sets the lifetime of issued certificates, in seconds.
    pub fn with_certificate_lifetime(mut self, seconds: u64) -> Self {
        self.certificate_lifetime = seconds;
        self
    }

    /// The cipher suite whose signature scheme the AS uses.
    pub fn cipher_suite(&self) -> CipherSuite {
        self.root.provider().cipher_suite()
    }

    /// The root certificate (DER), the trust anchor clients configure.
    pub fn root_certificate(&self) -> &[u8] {
        &self.root_certificate
    }

    /// Issues a one-time enrolment token for `name` (an administrator's action).
    pub fn issue_token(&self, name: &str, rng: &mut dyn CryptoRandom) -> Result<Vec<u8>, AsError> {
        let name = check_name(name.as_bytes())?;
        let mut token = vec![0u8; 16];
        rng.fill(&mut token)?;
        let token = hex::encode(token).into_bytes();
        self.store
            .insert_token(&name, &token)
            .map_err(AsError::Store)?;
        Ok(token)
    }

    /// Enrols a client: checks the token (consuming it) and the proof of possession, then
    /// issues a certificate for the submitted key, valid from `now` for the configured
    /// lifetime. Returns the credential (leaf certificate, then the root).
    pub fn enrol(&self, request: &EnrolmentRequest, now: u64) -> Result<Credential, AsError> {
        let name = check_name(&request.name)?;
        if self.store.is_revoked(&name).map_err(AsError::Store)? {
            return Err(AsError::Revoked(name));
        }
        labels::verify_with_label(
            self.root.provider(),
            request.signature_key.as_ref(),
            ENROLMENT_LABEL,
            &request.to_be_signed(),
            &request.proof,
        )
        .map_err(|_| AsError::InvalidProof)?;
        if !self
            .store
            .take_token(&name, &request.token)
            .map_err(AsError::Store)?
        {
            return Err(AsError::InvalidToken);
        }
        let serial = self.store.next_serial().map_err(AsError::Store)?;
        let leaf = self.root.issue_client_certificate(
            ROOT_NAME,
            &name,
            &request.signature_key.0,
            serial,
            now,
            self.certificate_lifetime,
        )?;
        self.store
            .record_issued(IssuedCertificate {
                name: name.clone(),
                serial,
                not_after: now + self.certificate_lifetime,
            })
            .map_err(AsError::Store)?;
        Ok(Credential::X509 {
            certificates: vec![
                Certificate { cert_data: leaf },
                Certificate {
                    cert_data: self.root_certificate.clone(),
                },
            ],
        })
    }

    /// Revokes a client: it cannot enrol again, and [`AuthenticationService::revoked`] lists it
    /// so members refuse to add it.
    pub fn revoke(&self, name: &str) -> Result<(), AsError> {
        let name = check_name(name.as_bytes())?;
        self.store.revoke(&name).map_err(AsError::Store)
    }

    /// The revoked clients, as identity URIs (`mls://<name>`).
    pub fn revoked(&self) -> Result<Vec<String>, AsError> {
        Ok(self
            .store
            .revoked()
            .map_err(AsError::Store)?
            .iter()
            .map(|n| identity_uri(n))
            .collect())
    }
}

#[cfg(test)]
mod tests;
