//! Credential validation and client identity (RFC 9420 §5.3, §5.3.1, §5.3.2, §5.3.3): the
//! application's Authentication Service policy as an [`IdentityProvider`], with two
//! implementations, [`BasicIdentityProvider`] and [`X509IdentityProvider`], and the
//! multi-credentials of draft-ietf-mls-extensions-10 §6.5 ([`MultiCredentialProvider`],
//! which adds them to either). With the `userinfo-vc` feature, `UserInfoVcIdentityProvider`
//! validates the UserInfo VC credentials of draft-barnes-mls-addl-creds-01 §3 against
//! issuer key sets the application caches (`IssuerKeys`), and `UserInfoVcIssuer` signs them.
//!
//! The protocol code asks the identity provider three questions:
//!
//! * is this credential valid for this signature key, for this role, at this time
//!   ([`IdentityProvider::validate_credential`], RFC 9420 §5.3.1 — at every event listed
//!   there: a KeyPackage for an Add, a GroupInfo for joining, an Update or UpdatePath leaf
//!   with a new credential, an `external_senders` extension);
//! * which identity does this credential present ([`IdentityProvider::identity`]), used to
//!   detect that the same client appears twice in a group (RFC 9420 §5.3.3);
//! * is a new credential a valid successor of an old one for the same member
//!   ([`IdentityProvider::valid_successor`], RFC 9420 §5.3.1, last paragraph).
//!
//! A multi-credential (`multi`, `weak-multi`) is never shown to these three questions as a
//! whole by [`MultiCredentialProvider`]: it asks the inner provider about each bound
//! credential, with the binding's `credential_key` in place of the leaf's signature key,
//! then [`IdentityProvider::validate_multi_credential`] about the combination; see
//! [`MultiCredentialProvider`] for the identity and successor rules.
//!
//! Sans-IO: the current time is an argument (seconds since the Unix epoch), never read from
//! a clock. How to treat expired credentials of existing members (RFC 9420 §5.3.2) is the
//! caller's choice of `now` and [`CredentialRole`]; the providers here simply check
//! validity at the time they are given.

mod multi;
mod userinfo_vc;
mod x509;

use conclave_crypto::SignatureAlgorithm;

pub use multi::{
    BindingSigner, MultiCredentialCheck, MultiCredentialError, MultiCredentialProvider,
    advertise_support, bind_credentials,
};
#[cfg(feature = "userinfo-vc")]
pub use userinfo_vc::{
    IssuerKeys, UserInfoClaims, UserInfoVcIdentityProvider, UserInfoVcIssuer, did_jwk,
    jwk_for_signature_key, parse_verified,
};
pub use userinfo_vc::{MAX_USERINFO_VC_JWT_BYTES, UserInfoVcError};
pub use x509::{RevocationList, X509Identity, X509IdentityProvider};

use crate::messages::{Credential, CredentialType, SignaturePublicKey};

/// Who presents a credential, i.e. which RFC 9420 §5.3.1 event triggers its validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CredentialRole {
    /// A current member of the group (a leaf of the ratchet tree, an Update proposal or a
    /// Commit's UpdatePath leaf, or a tree being joined).
    Member,
    /// A client being added: a KeyPackage in an Add proposal, or the joiner of an external
    /// Commit.
    NewMember,
    /// An entry of the group's `external_senders` extension (RFC 9420 §12.1.8.1).
    ExternalSender,
}

/// What is validated: a credential, the signature key it must be bound to, and the context
/// (RFC 9420 §5.3, §5.3.1).
#[derive(Debug, Clone, Copy)]
pub struct CredentialCheck<'a> {
    /// The credential presented.
    pub credential: &'a Credential,
    /// The signature key the credential must authenticate (`LeafNode.signature_key`, or
    /// `ExternalSender.signature_key`).
    pub signature_key: &'a SignaturePublicKey,
    /// The signature scheme of the group's cipher suite; the key is of this scheme.
    pub signature_scheme: SignatureAlgorithm,
    /// Which RFC 9420 §5.3.1 event this is.
    pub role: CredentialRole,
    /// The time to check validity periods against, in seconds since the Unix epoch.
    pub now: u64,
}

/// Why a credential was rejected (RFC 9420 §5.3, §5.3.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// The identity provider does not accept this credential type.
    #[error("credential type {0:?} is not accepted by this identity provider (RFC 9420 §5.3)")]
    UnsupportedCredentialType(CredentialType),
    /// An X.509 credential with no certificate.
    #[error("X.509 credential has no certificates (RFC 9420 §5.3)")]
    EmptyChain,
    /// A certificate (index 0 is the end-entity certificate) does not parse as DER X.509.
    #[error("certificate {index} is not a valid DER X.509 certificate: {reason}")]
    CertificateParse {
        /// Position in the chain (`usize::MAX` for a configured trust anchor).
        index: usize,
        /// The parser's message.
        reason: String,
    },
    /// The end-entity certificate's public key is not the LeafNode's `signature_key`
    /// (RFC 9420 §5.3: "MUST be identical").
    #[error("the end-entity certificate's public key is not the signature_key (RFC 9420 §5.3)")]
    KeyMismatch,
    /// The end-entity certificate's key is not of the group's signature scheme.
    #[error(
        "the end-entity certificate's key algorithm does not match the cipher suite's signature scheme {0:?} (RFC 9420 §5.3)"
    )]
    SignatureSchemeMismatch(SignatureAlgorithm),
    /// Certificate `index`'s issuer is not the subject of the next certificate.
    #[error("certificate {index}'s issuer is not the subject of certificate {}", index + 1)]
    IssuerMismatch {
        /// The issued certificate's position.
        index: usize,
    },
    /// An issuing certificate is not a CA (RFC 5280 §4.2.1.9, §4.2.1.3).
    #[error("certificate {index} issues a certificate but is not a CA: {reason}")]
    NotACa {
        /// The issuing certificate's position (`usize::MAX` for a trust anchor).
        index: usize,
        /// What is missing.
        reason: &'static str,
    },
    /// A path length constraint of an issuing certificate is exceeded (RFC 5280 §4.2.1.9).
    #[error("certificate {index}'s pathLenConstraint is exceeded")]
    PathLengthExceeded {
        /// The constraining certificate's position.
        index: usize,
    },
    /// The end-entity certificate's key usage does not allow signatures (RFC 5280 §4.2.1.3).
    #[error("the end-entity certificate's keyUsage does not include digitalSignature")]
    KeyUsage,
    /// A certificate has a critical extension we do not process (RFC 5280 §4.2).
    #[error("certificate {index} has an unrecognised critical extension {oid}")]
    UnknownCriticalExtension {
        /// Position in the chain.
        index: usize,
        /// The extension's OID.
        oid: String,
    },
    /// A certificate's signature algorithm is not one we verify.
    #[error("certificate {index}: unsupported signature algorithm {algorithm}")]
    UnsupportedAlgorithm {
        /// Position in the chain.
        index: usize,
        /// The algorithm OID (with the issuer key's curve for ECDSA).
        algorithm: String,
    },
    /// No configured crypto provider implements the certificate's signature scheme.
    #[error("certificate {index}: no cipher suite provider for {scheme:?}")]
    NoProviderForScheme {
        /// Position in the chain.
        index: usize,
        /// The scheme needed.
        scheme: SignatureAlgorithm,
    },
    /// A certificate's signature does not verify under its issuer's key.
    #[error("certificate {index}'s signature does not verify under its issuer's key")]
    BadSignature {
        /// Position in the chain.
        index: usize,
    },
    /// The chain does not end at a configured trust anchor.
    #[error("the certificate chain does not lead to a trusted root")]
    UntrustedRoot,
    /// A certificate is outside its validity period at the supplied time.
    #[error("certificate {index} is not valid at {now} (valid {not_before}..={not_after})")]
    NotValidAtTime {
        /// Position in the chain.
        index: usize,
        /// The time supplied.
        now: u64,
        /// `notBefore`, seconds since the Unix epoch.
        not_before: u64,
        /// `notAfter`, seconds since the Unix epoch.
        not_after: u64,
    },
    /// The credential does not carry the identity the provider is configured to extract.
    #[error("the credential presents no {0}")]
    IdentityMissing(&'static str),
    /// Rejected by application policy.
    #[error("credential rejected: {0}")]
    Rejected(String),
    /// A multi-credential is invalid or unsupported (draft-ietf-mls-extensions-10 §6.5).
    #[error(transparent)]
    MultiCredential(#[from] MultiCredentialError),
    /// A `userinfo-vc` credential is invalid (draft-barnes-mls-addl-creds-01 §3).
    #[error(transparent)]
    UserInfoVc(#[from] UserInfoVcError),
}

/// The application's Authentication Service policy (RFC 9420 §5.3.1). Object-safe: the group
/// state machine holds a `&dyn IdentityProvider`.
///
/// Multi-credentials (draft-ietf-mls-extensions-10 §6.5) reach an implementation through
/// [`MultiCredentialProvider`], which never passes a `multi` or `weak-multi` credential to
/// the methods below: [`IdentityProvider::validate_credential`] is called once per binding
/// the client supports, with the bound credential, the binding's `credential_key` as
/// `signature_key` and the signature scheme of the binding's cipher suite (so a key must
/// correspond to a bound credential exactly as a leaf's key must correspond to its
/// credential); [`IdentityProvider::validate_multi_credential`] then sees the whole
/// credential with the list of validated bindings; [`IdentityProvider::identity`] and
/// [`IdentityProvider::valid_successor`] are asked about the first supported binding's
/// credential, which is the member's identity.
pub trait IdentityProvider: Send + Sync {
    /// Checks that `check.credential` is acceptable for `check.role` and legitimately binds
    /// its presented identities to `check.signature_key` at time `check.now`
    /// (RFC 9420 §5.3.1: "validated with the AS").
    fn validate_credential(&self, check: &CredentialCheck<'_>) -> Result<(), CredentialError>;

    /// The identity the credential presents, as bytes. Two leaves with equal identities are
    /// the same client for duplicate-member detection (RFC 9420 §5.3.3).
    fn identity(&self, credential: &Credential) -> Result<Vec<u8>, CredentialError>;

    /// Whether `successor` is a valid successor of `predecessor` for the same member (an
    /// Update or an UpdatePath leaf replacing a credential, RFC 9420 §5.3.1). `Ok(false)`
    /// means a well-formed but unacceptable replacement.
    fn valid_successor(
        &self,
        predecessor: &Credential,
        successor: &Credential,
    ) -> Result<bool, CredentialError>;

    /// The credential types this provider can validate (advertised in our own
    /// `Capabilities.credentials`, RFC 9420 §7.2).
    fn supported_credential_types(&self) -> Vec<CredentialType>;

    /// Accepts or refuses a multi-credential as a whole (draft-ietf-mls-extensions-10
    /// §6.5.2), after [`MultiCredentialProvider`] found each binding this client supports
    /// valid: every binding's credential was accepted by
    /// [`IdentityProvider::validate_credential`] for its `credential_key`, and every
    /// binding's signature verified for the leaf's signature key. For policies about the
    /// combination ("an X.509 binding is required"). The default accepts.
    fn validate_multi_credential(
        &self,
        check: &MultiCredentialCheck<'_>,
    ) -> Result<(), CredentialError> {
        let _ = check;
        Ok(())
    }
}

/// Accepts every `basic` credential (RFC 9420 §5.3): a bare, unauthenticated assertion of
/// an identity. The identity is the `identity` bytes; a successor must present the same
/// identity. Suitable for tests and for applications that authenticate identities out of
/// band.
#[derive(Debug, Clone, Copy, Default)]
pub struct BasicIdentityProvider;

impl BasicIdentityProvider {
    /// A new provider.
    pub fn new() -> Self {
        Self
    }
}

fn basic_identity(credential: &Credential) -> Result<&[u8], CredentialError> {
    match credential {
        Credential::Basic { identity } => Ok(identity),
        other => Err(CredentialError::UnsupportedCredentialType(
            other.credential_type(),
        )),
    }
}

impl IdentityProvider for BasicIdentityProvider {
    fn validate_credential(&self, check: &CredentialCheck<'_>) -> Result<(), CredentialError> {
        basic_identity(check.credential).map(|_| ())
    }

    fn identity(&self, credential: &Credential) -> Result<Vec<u8>, CredentialError> {
        basic_identity(credential).map(<[u8]>::to_vec)
    }

    fn valid_successor(
        &self,
        predecessor: &Credential,
        successor: &Credential,
    ) -> Result<bool, CredentialError> {
        Ok(basic_identity(predecessor)? == basic_identity(successor)?)
    }

    fn supported_credential_types(&self) -> Vec<CredentialType> {
        vec![CredentialType::BASIC]
    }
}

#[cfg(test)]
mod tests;
