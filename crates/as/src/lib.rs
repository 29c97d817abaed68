//! The Authentication Service (RFC 9750 §4): it binds an identity to a
//! signature key. A client makes its own key pair (the AS never sees the private key), proves
//! possession by signing the enrolment request, and receives a short-lived X.509 certificate
//! (the RFC 9420 `x509` credential, §5.3) chained to the AS root. Clients validate chains
//! against the root with [`conclave_core::credential::X509IdentityProvider`], which names a
//! client by its certificate's subjectAltName URI `mls://<name>`; two credentials are the same
//! client when their identities are equal (RFC 9420 §5.3.3). Revoked clients are listed so
//! that members refuse to add them (RFC 9420 §5.3.2).
//!
//! The core is sans-IO like the protocol crates: time and randomness are passed in; storage
//! is a trait ([`AsStore`]: [`InMemoryAsStore`], [`sqlite::SqliteAsStore`] for one machine,
//! [`postgres::PostgresAsStore`] for several AS processes sharing one database and so one
//! root). Around it:
//!
//! - [`http`]: the HTTP API (axum), served by the `conclave-as` binary and, merged into the
//!   Delivery Service, by `conclave-ds --with-as` (both in the `conclave-server` crate);
//! - [`renewal`]: renewing a credential without a new token ([`RenewalRequest`]);
//! - [`setup`]: opening a persistent service and its admin token from command-line options.
//!
//! The requests and bodies both sides use, and the HTTP client, are in `conclave-api`
//! (`conclave_api::authentication`, `conclave_api::AsClient`).

#![forbid(unsafe_code)]

pub mod http;
pub mod postgres;
pub mod renewal;
pub mod setup;
mod signer;
pub mod sqlite;
mod store;
pub mod userinfo_vc;

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use conclave_core::credential::{
    CredentialCheck, CredentialError, CredentialRole, IdentityProvider, RevocationList,
    X509IdentityProvider,
};
use conclave_core::messages::{Certificate, Credential, SignaturePublicKey};
use conclave_crypto::{
    CipherSuite, CipherSuiteProvider, CryptoProvider, CryptoRandom, SignatureAlgorithm, labels,
};
use sha2::{Digest, Sha256};

use conclave_api::authentication::is_valid_name_bytes;
pub use conclave_api::authentication::{
    ENROLMENT_LABEL, EnrolmentRequest, RenewalRequest, identity_uri, is_valid_name,
    name_of_identity,
};
pub use renewal::DEFAULT_RENEWAL_GRACE;
pub use signer::ProviderSigner;
pub use store::{
    AsStore, AsStoreError, InMemoryAsStore, IssuedCertificate, RenewalRecorded, StoredRoot,
    TokenUse,
};

/// Common name of the AS root certificate: "Conclave AS root" and a fingerprint of its key,
/// so that the roots of two AS instances never share a subject (a chain from another AS
/// then fails as "untrusted root" rather than on a same-named anchor).
fn root_name(public_key: &[u8]) -> String {
    let digest = Sha256::digest(public_key);
    let fingerprint = digest.get(..8).map(hex::encode).unwrap_or_default();
    format!("Conclave AS root {fingerprint}")
}

/// Lifetime of the AS root certificate: ten years.
const ROOT_LIFETIME: u64 = 10 * 365 * 24 * 3600;

/// Default lifetime of a client certificate: one day.
pub const DEFAULT_CERTIFICATE_LIFETIME: u64 = 24 * 3600;

/// Default lifetime of an enrolment token: one day.
pub const DEFAULT_TOKEN_LIFETIME: u64 = 24 * 3600;

/// Why an Authentication Service operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AsError {
    /// The enrolment token is unknown, used already, or for another name.
    #[error("the enrolment token is not valid for this name (ask the administrator for a new one)")]
    InvalidToken,
    /// The enrolment token was this name's but has expired (it is now used up).
    #[error("the enrolment token has expired (ask the administrator for a new one)")]
    ExpiredToken,
    /// The proof of possession did not verify with the submitted key.
    #[error("the proof of possession does not verify with the submitted signature key")]
    InvalidProof,
    /// The name is not acceptable (empty, too long, or with characters outside [a-z0-9._-]).
    #[error("invalid client name {0:?}: use 1-64 characters from a-z, 0-9, '.', '_' and '-'")]
    InvalidName(String),
    /// The client was revoked.
    #[error("client {0:?} is revoked")]
    Revoked(String),
    /// A renewal presented a credential this AS did not issue, or one that does not parse.
    #[error("cannot renew: {0} (enrol again with a token from the administrator)")]
    NotRenewable(String),
    /// A renewal presented a certificate that expired longer ago than the grace period.
    #[error(
        "cannot renew: the certificate expired {expired_for} s ago, more than the renewal \
         grace period of {grace} s (enrol again with a token from the administrator)"
    )]
    RenewalExpired {
        /// Seconds since the certificate's notAfter.
        expired_for: u64,
        /// The grace period, seconds.
        grace: u64,
    },
    /// A renewal request's timestamp is too far from the AS's clock (a replay, or a wrong
    /// clock).
    #[error(
        "the renewal request's timestamp {timestamp} is more than {} s away from the AS's \
         clock ({now}): check the client's clock and sign a new request",
        conclave_api::authentication::RENEWAL_MAX_SKEW
    )]
    StaleRequest {
        /// The request's timestamp.
        timestamp: u64,
        /// The AS's time.
        now: u64,
    },
    /// A renewal presented a certificate that is no longer the latest issued to its name: a
    /// key rotation, a renewal or a new enrolment replaced it.
    #[error(
        "cannot renew: this certificate was replaced by a later one (a key rotation or a \
         renewal); only the latest certificate of a client renews"
    )]
    Superseded,
    /// The AS cannot issue UserInfo VCs (its root's signature scheme has no JWS issuer
    /// here, or the issuer key failed).
    #[error("UserInfo VC issuance: {0}")]
    UserInfoVc(String),
    /// A renewal request that was used before.
    #[error("this renewal request was used already: sign a new one")]
    ReplayedRequest,
    /// The persisted root does not fit the provider given, or is damaged.
    #[error("AS root: {0}")]
    Root(String),
    /// A credential presented to [`AuthenticationService::validate_credential`] is not valid.
    #[error("credential: {0}")]
    Credential(#[from] CredentialError),
    /// Certificate generation failed.
    #[error("certificate generation failed: {0}")]
    Certificate(String),
    /// A cryptographic operation failed.
    #[error("crypto: {0}")]
    Crypto(#[from] conclave_crypto::CryptoError),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] AsStoreError),
}

/// Validates `credential` with `provider` as a member would (RFC 9420 §5.3.1-§5.3.2): an
/// X.509 chain to the provider's trust anchor, valid at `now`, whose end-entity key is
/// `signature_key` of `scheme`, for a client the provider's revocation list does not name.
/// Returns the client name (`mls://<name>` → `<name>`). What
/// [`AuthenticationService::validate_credential`] does with the AS's own root and revocation
/// list, for a verifier that holds only the root and a copy of the list (a Delivery Service
/// checking against a remote AS).
pub fn validate_with(
    provider: &dyn IdentityProvider,
    credential: &Credential,
    signature_key: &SignaturePublicKey,
    scheme: SignatureAlgorithm,
    now: u64,
) -> Result<String, AsError> {
    provider.validate_credential(&CredentialCheck {
        credential,
        signature_key,
        signature_scheme: scheme,
        role: CredentialRole::Member,
        now,
    })?;
    let identity = provider.identity(credential)?;
    name_of_identity(&identity)
        .map(str::to_owned)
        .ok_or_else(|| {
            AsError::Credential(CredentialError::Rejected(format!(
                "identity {:?} is not an mls://<name> URI",
                String::from_utf8_lossy(&identity)
            )))
        })
}

/// The name, if it is an acceptable client name (RFC 9750 §4: the AS decides which names
/// exist; ours are 1-64 characters of `[a-z0-9._-]`).
fn check_name(name: &[u8]) -> Result<String, AsError> {
    let text = String::from_utf8_lossy(name).into_owned();
    if is_valid_name_bytes(name) {
        Ok(text)
    } else {
        Err(AsError::InvalidName(text))
    }
}

/// What the store keeps of a token: its SHA-256 hash.
fn token_hash(token: &[u8]) -> Vec<u8> {
    Sha256::digest(token).to_vec()
}

/// The Authentication Service: a root key and certificate, and a store of tokens, issued
/// certificates and revocations.
pub struct AuthenticationService<S: AsStore> {
    root: ProviderSigner,
    root_certificate: Vec<u8>,
    store: S,
    certificate_lifetime: u64,
    token_lifetime: u64,
    renewal_grace: u64,
    vc_issuer: Option<String>,
}

impl<S: AsStore> core::fmt::Debug for AuthenticationService<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AuthenticationService")
            .field("suite", &self.cipher_suite())
            .field("certificate_lifetime", &self.certificate_lifetime)
            .field("token_lifetime", &self.token_lifetime)
            .field("renewal_grace", &self.renewal_grace)
            .finish_non_exhaustive()
    }
}

impl<S: AsStore> AuthenticationService<S> {
    /// Creates an AS with a fresh root key for `cs`'s signature scheme and a self-signed root
    /// certificate valid for ten years from `now`. The root is not persisted: a service
    /// that must keep its trust anchor across restarts uses
    /// [`AuthenticationService::open_or_create`].
    pub fn new(
        cs: Box<dyn CipherSuiteProvider>,
        store: S,
        now: u64,
        rng: &mut dyn CryptoRandom,
    ) -> Result<Self, AsError> {
        let (root, root_certificate) = Self::fresh_root(cs, now, rng)?;
        Ok(Self::assemble(root, root_certificate, store))
    }

    /// Opens the AS whose root `store` holds, or, on first use, creates a root for `cs`'s
    /// signature scheme (valid for ten years from `now`) and persists it, so the trust
    /// anchor survives restarts. Fails with [`AsError::Root`] if the stored root belongs to
    /// another cipher suite than `cs` or its key pair does not match.
    pub fn open_or_create(
        store: S,
        cs: Box<dyn CipherSuiteProvider>,
        now: u64,
        rng: &mut dyn CryptoRandom,
    ) -> Result<Self, AsError> {
        if let Some(stored) = store.load_root().map_err(AsError::Store)? {
            return Self::from_stored(store, cs, stored);
        }
        let suite = cs.cipher_suite();
        let (secret, public) = cs.signature_generate(rng)?;
        let root = ProviderSigner::new(cs, secret.clone(), public.clone())?;
        let certificate =
            root.self_signed_root(&root_name(root.public_key()), now, ROOT_LIFETIME)?;
        let stored = StoredRoot {
            cipher_suite: suite.0,
            secret_key: secret,
            public_key: public,
            certificate: certificate.clone(),
        };
        if store.store_root(&stored).map_err(AsError::Store)? {
            return Ok(Self::assemble(root, certificate, store));
        }
        // Another process stored a root first: use that one.
        let cs = root.into_provider();
        let stored = store
            .load_root()
            .map_err(AsError::Store)?
            .ok_or_else(|| AsError::Root("the store lost the root it reported".into()))?;
        Self::from_stored(store, cs, stored)
    }

    fn from_stored(
        store: S,
        cs: Box<dyn CipherSuiteProvider>,
        stored: StoredRoot,
    ) -> Result<Self, AsError> {
        if stored.cipher_suite != cs.cipher_suite().0 {
            return Err(AsError::Root(format!(
                "the stored root is for cipher suite {}, not {} (keep the suite the database \
                 was created with, or use a new database)",
                stored.cipher_suite,
                cs.cipher_suite().0
            )));
        }
        // A damaged or mismatched key pair would issue certificates nobody can verify.
        let probe = cs
            .sign(stored.secret_key.as_bytes(), b"Conclave AS root check")
            .map_err(|e| AsError::Root(format!("the stored private key is unusable: {e}")))?;
        cs.verify(&stored.public_key, b"Conclave AS root check", &probe)
            .map_err(|_| AsError::Root("the stored key pair does not match".into()))?;
        let root = ProviderSigner::new(cs, stored.secret_key, stored.public_key)?;
        Ok(Self::assemble(root, stored.certificate, store))
    }

    fn fresh_root(
        cs: Box<dyn CipherSuiteProvider>,
        now: u64,
        rng: &mut dyn CryptoRandom,
    ) -> Result<(ProviderSigner, Vec<u8>), AsError> {
        let (secret, public) = cs.signature_generate(rng)?;
        let root = ProviderSigner::new(cs, secret, public)?;
        let certificate =
            root.self_signed_root(&root_name(root.public_key()), now, ROOT_LIFETIME)?;
        Ok((root, certificate))
    }

    fn assemble(root: ProviderSigner, root_certificate: Vec<u8>, store: S) -> Self {
        Self {
            root,
            root_certificate,
            store,
            certificate_lifetime: DEFAULT_CERTIFICATE_LIFETIME,
            token_lifetime: DEFAULT_TOKEN_LIFETIME,
            renewal_grace: DEFAULT_RENEWAL_GRACE,
            vc_issuer: None,
        }
    }

    /// Sets the lifetime of issued certificates, in seconds.
    pub fn with_certificate_lifetime(mut self, seconds: u64) -> Self {
        self.certificate_lifetime = seconds;
        self
    }

    /// Sets the lifetime of enrolment tokens, in seconds.
    pub fn with_token_lifetime(mut self, seconds: u64) -> Self {
        self.token_lifetime = seconds;
        self
    }

    /// The same service over a boxed store (one concrete type for the HTTP layer).
    pub fn into_dyn(self) -> AuthenticationService<Box<dyn AsStore>>
    where
        S: 'static,
    {
        AuthenticationService {
            root: self.root,
            root_certificate: self.root_certificate,
            store: Box::new(self.store),
            certificate_lifetime: self.certificate_lifetime,
            token_lifetime: self.token_lifetime,
            renewal_grace: self.renewal_grace,
            vc_issuer: self.vc_issuer,
        }
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The cipher suite whose signature scheme the AS uses.
    pub fn cipher_suite(&self) -> CipherSuite {
        self.root.provider().cipher_suite()
    }

    /// The root certificate (DER), the trust anchor clients configure.
    pub fn root_certificate(&self) -> &[u8] {
        &self.root_certificate
    }

    /// The lifetime of issued certificates, in seconds.
    pub fn certificate_lifetime(&self) -> u64 {
        self.certificate_lifetime
    }

    /// Issues a one-time enrolment token for `name` (an administrator's action), valid for
    /// the token lifetime from `now`. The store keeps only its hash.
    pub fn issue_token(
        &self,
        name: &str,
        now: u64,
        rng: &mut dyn CryptoRandom,
    ) -> Result<Vec<u8>, AsError> {
        let name = check_name(name.as_bytes())?;
        let mut raw = [0u8; 16];
        rng.fill(&mut raw)?;
        let token = hex::encode(raw).into_bytes();
        // Expired tokens are of no use to anyone: drop them as new ones are issued.
        self.store.prune_tokens(now).map_err(AsError::Store)?;
        self.store
            .insert_token(
                &name,
                &token_hash(&token),
                now.saturating_add(self.token_lifetime),
            )
            .map_err(AsError::Store)?;
        Ok(token)
    }

    /// Enrols a client: checks the name, revocation and the proof of possession, then
    /// consumes the token (a token is used at most once, and only when the proof is good),
    /// and issues a certificate for the submitted key, valid from `now` for the configured
    /// lifetime. Returns the credential (leaf certificate, then the root).
    pub fn enrol(&self, request: &EnrolmentRequest, now: u64) -> Result<Credential, AsError> {
        let name = self.accept_enrolment(request, now)?;
        self.issue(&name, &request.signature_key, now)
    }

    /// The checks of an enrolment, whatever it issues: the name, revocation, the proof of
    /// possession, then the token (consumed only when all else passed). Returns the name.
    fn accept_enrolment(&self, request: &EnrolmentRequest, now: u64) -> Result<String, AsError> {
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
        match self
            .store
            .take_token(&name, &token_hash(&request.token), now)
            .map_err(AsError::Store)?
        {
            TokenUse::Valid => Ok(name),
            TokenUse::Expired => Err(AsError::ExpiredToken),
            _ => Err(AsError::InvalidToken),
        }
    }

    /// Issues and records a certificate for `name` over `signature_key`, valid from `now` for
    /// the configured lifetime; returns the credential (leaf, then the root).
    fn issue(
        &self,
        name: &str,
        signature_key: &SignaturePublicKey,
        now: u64,
    ) -> Result<Credential, AsError> {
        let issued = self.certificate(name, signature_key, now)?;
        let credential = self.credential_of(&issued);
        self.store.record_issued(issued).map_err(AsError::Store)?;
        Ok(credential)
    }

    /// A certificate for `name` over `signature_key`, valid from `now` for the configured
    /// lifetime, with a fresh serial (not recorded yet).
    fn certificate(
        &self,
        name: &str,
        signature_key: &SignaturePublicKey,
        now: u64,
    ) -> Result<IssuedCertificate, AsError> {
        let serial = self.store.next_serial().map_err(AsError::Store)?;
        let leaf = self.root.issue_client_certificate(
            &root_name(self.root.public_key()),
            name,
            &signature_key.0,
            serial,
            now,
            self.certificate_lifetime,
        )?;
        Ok(IssuedCertificate {
            name: name.to_owned(),
            serial,
            not_before: now.saturating_sub(60),
            not_after: now.saturating_add(self.certificate_lifetime),
            certificate: leaf,
        })
    }

    /// The credential of an issued certificate: the leaf, then the root.
    fn credential_of(&self, issued: &IssuedCertificate) -> Credential {
        let leaf = issued.certificate.clone();
        Credential::X509 {
            certificates: vec![
                Certificate { cert_data: leaf },
                Certificate {
                    cert_data: self.root_certificate.clone(),
                },
            ],
        }
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

    /// The current revocation list, in the form
    /// [`X509IdentityProvider::with_revocation_list`] takes.
    pub fn revocation_list(&self) -> Result<RevocationList, AsError> {
        let set: HashSet<Vec<u8>> = self
            .revoked()?
            .into_iter()
            .map(String::into_bytes)
            .collect();
        Ok(Arc::new(RwLock::new(set)))
    }

    /// An identity provider that accepts this AS's credentials (chains to its root) and
    /// refuses the currently revoked clients: what members configure (RFC 9420 §5.3.1).
    pub fn identity_provider(
        &self,
        crypto: &dyn CryptoProvider,
    ) -> Result<X509IdentityProvider, AsError> {
        Ok(
            X509IdentityProvider::new([self.root_certificate()], crypto)?
                .with_revocation_list(self.revocation_list()?),
        )
    }

    /// Validates `credential` as a member would (RFC 9420 §5.3.1): an X.509 chain to this
    /// AS's root, valid at `now`, whose end-entity key is `signature_key` of `scheme`, for
    /// a client that is not revoked. Returns the client name (`mls://<name>` → `<name>`).
    pub fn validate_credential(
        &self,
        crypto: &dyn CryptoProvider,
        credential: &Credential,
        signature_key: &SignaturePublicKey,
        scheme: SignatureAlgorithm,
        now: u64,
    ) -> Result<String, AsError> {
        validate_with(
            &self.identity_provider(crypto)?,
            credential,
            signature_key,
            scheme,
            now,
        )
    }

    /// The certificates issued to `name`, oldest first.
    pub fn issued(&self, name: &str) -> Result<Vec<IssuedCertificate>, AsError> {
        self.store.issued(name).map_err(AsError::Store)
    }

    /// Whether the store answers.
    pub fn health(&self) -> Result<(), AsError> {
        self.store.health().map_err(AsError::Store)
    }
}

#[cfg(test)]
mod tests;
