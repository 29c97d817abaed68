//! UserInfo Verifiable Credentials as MLS credentials (draft-barnes-mls-addl-creds-01 §3):
//! an OpenID Provider's signed JWT whose `vc.credentialSubject.id` is a `did:jwk` naming the
//! client's signature key.
//!
//! The error type and the size cap are always built; the validating
//! [`UserInfoVcIdentityProvider`], the [`IssuerKeys`] cache and the signing
//! [`UserInfoVcIssuer`] need the `userinfo-vc` feature (JWS by the `jsonwebtoken` crate).
//!
//! Sans-IO: the draft's OIDC Discovery and JWK-set fetch (§3.3, third bullet) are the
//! application's job; it hands the core the key sets it fetched, per trusted issuer
//! ([`IssuerKeys`]), and the time to check validity against.

#[cfg(feature = "userinfo-vc")]
mod provider;

#[cfg(feature = "userinfo-vc")]
pub use provider::{
    IssuerKeys, UserInfoClaims, UserInfoVcIdentityProvider, UserInfoVcIssuer, did_jwk,
    jwk_for_signature_key, parse_verified,
};

/// The longest `jwt` a UserInfo VC may carry, in bytes; longer ones are refused before any
/// parsing, so that a crafted token cannot make the JSON and base64 decoders allocate more
/// than a small multiple of this. Real UserInfo VCs are well under 4 KiB.
pub const MAX_USERINFO_VC_JWT_BYTES: usize = 16 * 1024;

/// Why a UserInfo VC credential was refused (draft-barnes-mls-addl-creds-01 §3.2, §3.3,
/// §3.4; RFC 7519 for the registered claims).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UserInfoVcError {
    /// The JWT is longer than [`MAX_USERINFO_VC_JWT_BYTES`].
    #[error("the UserInfo VC is {len} bytes, more than the {max} accepted")]
    TooLarge {
        /// The JWT's length.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// The `jwt` field is not UTF-8 (draft-barnes-mls-addl-creds-01 §3.2).
    #[error("the UserInfo VC is not UTF-8 (draft-barnes-mls-addl-creds-01 §3.2)")]
    NotUtf8,
    /// The `jwt` field does not parse as a JWT (draft-barnes-mls-addl-creds-01 §3.3, RFC 7519).
    #[error("the UserInfo VC is not a JWT: {0} (draft-barnes-mls-addl-creds-01 §3.3)")]
    MalformedJwt(String),
    /// The payload is not a UserInfo object (draft-barnes-mls-addl-creds-01 §3.3; OpenID
    /// Connect Core §5.3.2: `sub` is always returned).
    #[error(
        "the UserInfo VC's payload is not a UserInfo object: {0} (draft-barnes-mls-addl-creds-01 §3.3)"
    )]
    NotUserInfo(String),
    /// The JWS header has a `crit` member (RFC 7515 §4.1.11: extensions the recipient does
    /// not understand MUST make it reject the JWS; Conclave understands none).
    #[error(
        "the UserInfo VC's JWS header marks {0} critical, which is not understood (RFC 7515 §4.1.11)"
    )]
    UnsupportedCriticalHeader(String),
    /// No `iss` claim (draft-barnes-mls-addl-creds-01 §3.2: the payload MUST provide it).
    #[error("the UserInfo VC has no iss claim (draft-barnes-mls-addl-creds-01 §3.2)")]
    MissingIssuer,
    /// The issuer is not trusted by local policy (draft-barnes-mls-addl-creds-01 §3.3).
    #[error("the UserInfo VC's issuer {0:?} is not trusted (draft-barnes-mls-addl-creds-01 §3.3)")]
    UntrustedIssuer(String),
    /// The JWS algorithm is not one we verify: EdDSA, ES256, ES384
    /// (draft-barnes-mls-addl-creds-01 §3.4).
    #[error(
        "the UserInfo VC is signed with unsupported algorithm {0} (draft-barnes-mls-addl-creds-01 §3.4)"
    )]
    UnsupportedAlgorithm(String),
    /// No key of the issuer's JWK set fits the JWT's header (`kid`, key type)
    /// (draft-barnes-mls-addl-creds-01 §3.3).
    #[error(
        "no key of issuer {0:?}'s JWK set can verify the UserInfo VC (draft-barnes-mls-addl-creds-01 §3.3)"
    )]
    NoIssuerKey(String),
    /// The JWT's signature does not verify under the issuer's keys
    /// (draft-barnes-mls-addl-creds-01 §3.3).
    #[error(
        "the UserInfo VC's signature does not verify under issuer {0:?}'s keys (draft-barnes-mls-addl-creds-01 §3.3)"
    )]
    BadSignature(String),
    /// No `vc` claim (draft-barnes-mls-addl-creds-01 §3.2: the payload MUST provide it).
    #[error("the UserInfo VC has no vc claim (draft-barnes-mls-addl-creds-01 §3.2)")]
    MissingVc,
    /// `vc` is not an object with a `credentialSubject` object
    /// (draft-barnes-mls-addl-creds-01 §3.3).
    #[error(
        "the UserInfo VC's vc claim has no credentialSubject object (draft-barnes-mls-addl-creds-01 §3.3)"
    )]
    MissingCredentialSubject,
    /// `vc.credentialSubject.id` is missing or is not a `did:jwk` DID
    /// (draft-barnes-mls-addl-creds-01 §3.3: it MUST be one).
    #[error(
        "the UserInfo VC's credentialSubject.id is not a did:jwk DID (draft-barnes-mls-addl-creds-01 §3.3)"
    )]
    SubjectNotDidJwk,
    /// The `did:jwk` does not hold a JWK (draft-barnes-mls-addl-creds-01 §3.3).
    #[error(
        "the UserInfo VC's did:jwk does not parse as a JWK: {0} (draft-barnes-mls-addl-creds-01 §3.3)"
    )]
    SubjectJwkMalformed(String),
    /// The subject's JWK is of a key type and curve with no MLS signature scheme
    /// (draft-barnes-mls-addl-creds-01 §3.4).
    #[error(
        "the subject key kty={kty} crv={crv} has no MLS signature scheme (draft-barnes-mls-addl-creds-01 §3.4)"
    )]
    UnsupportedSubjectKey {
        /// The JWK's `kty`.
        kty: String,
        /// The JWK's `crv`.
        crv: String,
    },
    /// The subject key's scheme is not the group's signature scheme
    /// (draft-barnes-mls-addl-creds-01 §3.3, §3.4: MLS signatures are verified with the
    /// scheme of the JWK's `kty` and `crv`).
    #[error(
        "the subject key's signature scheme is not the cipher suite's (draft-barnes-mls-addl-creds-01 §3.4)"
    )]
    SchemeMismatch,
    /// The LeafNode's `signature_key` is not the `did:jwk` key
    /// (draft-barnes-mls-addl-creds-01 §3.3).
    #[error(
        "the leaf's signature_key is not the UserInfo VC's did:jwk key (draft-barnes-mls-addl-creds-01 §3.3)"
    )]
    KeyMismatch,
    /// The JWT has no `exp` claim; Conclave refuses credentials that never expire.
    #[error("the UserInfo VC has no exp claim (RFC 7519 §4.1.4; required by this provider)")]
    MissingExpiry,
    /// The JWT's `exp` is not after `now` (RFC 7519 §4.1.4).
    #[error("the UserInfo VC expired at {exp}, before {now} (RFC 7519 §4.1.4)")]
    Expired {
        /// The `exp` claim.
        exp: u64,
        /// The time checked.
        now: u64,
    },
    /// The JWT's `nbf` is after `now` (RFC 7519 §4.1.5).
    #[error("the UserInfo VC is not valid before {nbf}, after {now} (RFC 7519 §4.1.5)")]
    NotYetValid {
        /// The `nbf` claim.
        nbf: u64,
        /// The time checked.
        now: u64,
    },
    /// An issuer JWK set handed to [`IssuerKeys`] or a key handed to an issuer is unusable.
    #[error("unusable issuer key: {0}")]
    IssuerKey(String),
}

#[cfg(test)]
#[cfg(feature = "userinfo-vc")]
mod tests;

#[cfg(test)]
#[cfg(feature = "userinfo-vc")]
mod group_tests;
