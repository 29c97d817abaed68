//! Verification and issuance of UserInfo VCs (draft-barnes-mls-addl-creds-01 §3.3, §3.4)
//! with the `jsonwebtoken` crate: it parses the compact JWS and checks its signature; the
//! claims, the `did:jwk` key binding and the times are checked here, with the time given.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use conclave_crypto::SignatureAlgorithm;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value, json};

use super::{MAX_USERINFO_VC_JWT_BYTES, UserInfoVcError};
use crate::codepoints::USERINFO_VC_CREDENTIAL;
use crate::credential::{CredentialCheck, CredentialError, IdentityProvider};
use crate::messages::{Credential, CredentialType, UserInfoVc};

const DID_JWK_PREFIX: &str = "did:jwk:";

/// The JWK sets of the issuers the application trusts, fetched by the application (OIDC
/// Discovery, then `jwks_uri`: draft-barnes-mls-addl-creds-01 §3.3) and handed in. Only the
/// keys this provider can verify with are kept: OKP/Ed25519, EC/P-256, EC/P-384 (§3.4).
#[derive(Debug, Clone, Default)]
pub struct IssuerKeys {
    issuers: BTreeMap<String, Vec<Jwk>>,
}

impl IssuerKeys {
    /// No trusted issuer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts `issuer` (the exact `iss` value) with the keys of `jwks`, a JWK Set
    /// (RFC 7517 §5) as JSON, replacing what was cached for it. Keys of other types are
    /// skipped; a set with no usable key is refused.
    pub fn insert_jwks_json(&mut self, issuer: &str, jwks: &[u8]) -> Result<(), UserInfoVcError> {
        let set: JwkSet = serde_json::from_slice(jwks)
            .map_err(|e| UserInfoVcError::IssuerKey(format!("not a JWK set: {e}")))?;
        self.insert(issuer, set)
    }

    /// As [`IssuerKeys::insert_jwks_json`], with a parsed set.
    pub fn insert(&mut self, issuer: &str, set: JwkSet) -> Result<(), UserInfoVcError> {
        let keys: Vec<Jwk> = set
            .keys
            .into_iter()
            .filter(|jwk| issuer_key_algorithm(jwk).is_some())
            .collect();
        if keys.is_empty() {
            return Err(UserInfoVcError::IssuerKey(format!(
                "issuer {issuer:?}'s JWK set has no Ed25519, P-256 or P-384 key"
            )));
        }
        self.issuers.insert(issuer.to_owned(), keys);
        Ok(())
    }

    /// Stops trusting `issuer`.
    pub fn remove(&mut self, issuer: &str) {
        self.issuers.remove(issuer);
    }

    /// The trusted issuers.
    pub fn issuers(&self) -> impl Iterator<Item = &str> {
        self.issuers.keys().map(String::as_str)
    }
}

/// The JWS algorithm an issuer key verifies, if it is usable: the key type, curve and
/// coordinate lengths are checked here, so that the JWS library only ever sees well-formed
/// keys (its Ed25519 verifier slices the key without checking its length).
fn issuer_key_algorithm(jwk: &Jwk) -> Option<Algorithm> {
    let decoded_len = |s: &str| URL_SAFE_NO_PAD.decode(s).ok().map(|b| b.len());
    match &jwk.algorithm {
        AlgorithmParameters::OctetKeyPair(okp)
            if okp.curve == EllipticCurve::Ed25519 && decoded_len(&okp.x) == Some(32) =>
        {
            Some(Algorithm::EdDSA)
        }
        AlgorithmParameters::EllipticCurve(ec) => {
            let (alg, len) = match ec.curve {
                EllipticCurve::P256 => (Algorithm::ES256, 32),
                EllipticCurve::P384 => (Algorithm::ES384, 48),
                _ => return None,
            };
            (decoded_len(&ec.x) == Some(len) && decoded_len(&ec.y) == Some(len)).then_some(alg)
        }
        _ => None,
    }
}

/// The claims of a UserInfo VC whose signature verified (draft-barnes-mls-addl-creds-01
/// §3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfoClaims {
    /// `iss`: the OpenID Provider.
    pub issuer: String,
    /// The UserInfo `sub` (OpenID Connect Core §5.3.2): `vc.credentialSubject.sub`, or the
    /// JWT's own `sub` where the subject carries none.
    pub subject: String,
    /// The signature scheme of the `did:jwk` key (§3.4).
    pub key_scheme: SignatureAlgorithm,
    /// The `did:jwk` key in MLS encoding (`SignaturePublicKey`, RFC 9420 §5.1.1).
    pub key: Vec<u8>,
    /// `exp`, if present.
    pub expires: Option<u64>,
    /// `nbf`, if present.
    pub not_before: Option<u64>,
    /// The UserInfo claims of `vc.credentialSubject` other than `id` (`email`, `name`, …).
    pub userinfo: Map<String, Value>,
}

impl UserInfoClaims {
    /// The member identity (RFC 9420 §5.3.3): the issuer and the subject, each as an MLS
    /// vector, so that equal subjects of different issuers are different identities.
    pub fn identity(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for part in [&self.issuer, &self.subject] {
            // A length prefix (u32 suffices: both come from a token of at most 16 KiB).
            out.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
        out
    }
}

/// Parses `jwt` and checks it against `keys` (draft-barnes-mls-addl-creds-01 §3.3): the size
/// cap, a JWT with a UserInfo payload, `iss` present and trusted, the signature under one of
/// the issuer's keys, `vc.credentialSubject.id` a `did:jwk` whose JWK maps to an MLS
/// signature scheme (§3.4); then, when `now` is given, `nbf` and `exp` (RFC 7519 §4.1.4,
/// §4.1.5; `exp` is required when `require_expiry`). Does not compare the key with a leaf's:
/// see [`UserInfoVcIdentityProvider`].
pub fn parse_verified(
    jwt: &[u8],
    keys: &IssuerKeys,
    now: Option<u64>,
    require_expiry: bool,
) -> Result<UserInfoClaims, UserInfoVcError> {
    if jwt.len() > MAX_USERINFO_VC_JWT_BYTES {
        return Err(UserInfoVcError::TooLarge {
            len: jwt.len(),
            max: MAX_USERINFO_VC_JWT_BYTES,
        });
    }
    let token = core::str::from_utf8(jwt).map_err(|_| UserInfoVcError::NotUtf8)?;
    let header = jsonwebtoken::decode_header(token)
        .map_err(|e| UserInfoVcError::MalformedJwt(e.to_string()))?;
    refuse_critical_extensions(token)?;
    if !matches!(
        header.alg,
        Algorithm::EdDSA | Algorithm::ES256 | Algorithm::ES384
    ) {
        return Err(UserInfoVcError::UnsupportedAlgorithm(format!(
            "{:?}",
            header.alg
        )));
    }
    // The issuer decides which keys verify, so it is read before the signature is checked;
    // nothing else from the unverified payload is used.
    let unverified = jsonwebtoken::dangerous::insecure_decode::<Value>(token)
        .map_err(|e| UserInfoVcError::MalformedJwt(e.to_string()))?;
    let payload = unverified
        .claims
        .as_object()
        .ok_or_else(|| UserInfoVcError::NotUserInfo("the payload is not a JSON object".into()))?;
    let issuer = match payload.get("iss") {
        Some(Value::String(iss)) => iss.clone(),
        Some(_) => return Err(UserInfoVcError::NotUserInfo("iss is not a string".into())),
        None => return Err(UserInfoVcError::MissingIssuer),
    };
    let issuer_keys = keys
        .issuers
        .get(&issuer)
        .ok_or_else(|| UserInfoVcError::UntrustedIssuer(issuer.clone()))?;
    let claims = verify_signature(token, &header, &issuer, issuer_keys)?;
    let claims = claims
        .as_object()
        .ok_or_else(|| UserInfoVcError::NotUserInfo("the payload is not a JSON object".into()))?;
    let parsed = userinfo_claims(issuer, claims)?;
    if let Some(now) = now {
        check_times(&parsed, now, require_expiry)?;
    }
    Ok(parsed)
}

/// RFC 7515 §4.1.11: a recipient MUST reject a JWS whose `crit` header lists extensions it
/// does not understand; we understand none, so any `crit` is refused. (The JWS library
/// ignores header members it does not model, `crit` among them.)
fn refuse_critical_extensions(token: &str) -> Result<(), UserInfoVcError> {
    let encoded = token.split('.').next().unwrap_or_default();
    let json = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|e| UserInfoVcError::MalformedJwt(e.to_string()))?;
    let header: Map<String, Value> =
        serde_json::from_slice(&json).map_err(|e| UserInfoVcError::MalformedJwt(e.to_string()))?;
    match header.get("crit") {
        None => Ok(()),
        Some(crit) => Err(UserInfoVcError::UnsupportedCriticalHeader(crit.to_string())),
    }
}

/// Verifies the JWS under the issuer key the header names (`kid`) or, without a `kid`,
/// under any issuer key of the header's algorithm (draft-barnes-mls-addl-creds-01 §3.3:
/// "verifies under one of the keys in the JWK set"). Keys in the header (`jwk`, `jku`) are
/// never used.
fn verify_signature(
    token: &str,
    header: &Header,
    issuer: &str,
    issuer_keys: &[Jwk],
) -> Result<Value, UserInfoVcError> {
    let mut validation = Validation::new(header.alg);
    // Time is checked by the caller with the injected `now`, never by the library's clock;
    // audiences are not part of a UserInfo VC's validation.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let mut candidates = issuer_keys
        .iter()
        .filter(|jwk| issuer_key_algorithm(jwk) == Some(header.alg))
        .filter(|jwk| match &header.kid {
            Some(kid) => jwk.common.key_id.as_deref() == Some(kid.as_str()),
            None => true,
        })
        .peekable();
    if candidates.peek().is_none() {
        return Err(UserInfoVcError::NoIssuerKey(issuer.to_owned()));
    }
    for jwk in candidates {
        let key =
            DecodingKey::from_jwk(jwk).map_err(|e| UserInfoVcError::IssuerKey(e.to_string()))?;
        match jsonwebtoken::decode::<Value>(token, &key, &validation) {
            Ok(data) => return Ok(data.claims),
            Err(e) => match e.kind() {
                ErrorKind::InvalidSignature
                | ErrorKind::InvalidEcdsaKey
                | ErrorKind::InvalidEddsaKey => {}
                _ => return Err(UserInfoVcError::MalformedJwt(e.to_string())),
            },
        }
    }
    Err(UserInfoVcError::BadSignature(issuer.to_owned()))
}

/// Reads the key binding and the UserInfo claims of a verified payload
/// (draft-barnes-mls-addl-creds-01 §3.2, §3.3).
fn userinfo_claims(
    issuer: String,
    claims: &Map<String, Value>,
) -> Result<UserInfoClaims, UserInfoVcError> {
    let vc = claims.get("vc").ok_or(UserInfoVcError::MissingVc)?;
    let subject = vc
        .get("credentialSubject")
        .and_then(Value::as_object)
        .ok_or(UserInfoVcError::MissingCredentialSubject)?;
    let did = subject
        .get("id")
        .and_then(Value::as_str)
        .ok_or(UserInfoVcError::SubjectNotDidJwk)?;
    let (key_scheme, key) = parse_did_jwk(did)?;
    let sub = match subject.get("sub").or_else(|| claims.get("sub")) {
        Some(Value::String(sub)) if !sub.is_empty() => sub.clone(),
        Some(_) => {
            return Err(UserInfoVcError::NotUserInfo(
                "sub is not a non-empty string".into(),
            ));
        }
        None => {
            return Err(UserInfoVcError::NotUserInfo(
                "no sub claim (OpenID Connect Core §5.3.2)".into(),
            ));
        }
    };
    let time = |name: &str| match claims.get(name) {
        None => Ok(None),
        Some(value) => value
            .as_u64()
            .map(Some)
            .ok_or_else(|| UserInfoVcError::NotUserInfo(format!("{name} is not a NumericDate"))),
    };
    let mut userinfo = subject.clone();
    userinfo.remove("id");
    Ok(UserInfoClaims {
        issuer,
        subject: sub,
        key_scheme,
        key,
        expires: time("exp")?,
        not_before: time("nbf")?,
        userinfo,
    })
}

/// RFC 7519 §4.1.4 (`exp`: not accepted on or after it) and §4.1.5 (`nbf`: not before it).
fn check_times(
    claims: &UserInfoClaims,
    now: u64,
    require_expiry: bool,
) -> Result<(), UserInfoVcError> {
    if let Some(nbf) = claims.not_before
        && now < nbf
    {
        return Err(UserInfoVcError::NotYetValid { nbf, now });
    }
    match claims.expires {
        Some(exp) if now >= exp => Err(UserInfoVcError::Expired { exp, now }),
        None if require_expiry => Err(UserInfoVcError::MissingExpiry),
        _ => Ok(()),
    }
}

/// The subject JWK of a `did:jwk` DID (`did:jwk:` then the base64url JWK), with no fragment.
#[derive(serde::Deserialize)]
struct SubjectJwk {
    kty: String,
    #[serde(default)]
    crv: String,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
    #[serde(default)]
    d: Option<Value>,
}

/// The MLS signature scheme and `SignaturePublicKey` of a `did:jwk` DID
/// (draft-barnes-mls-addl-creds-01 §3.3, §3.4): OKP keys are their `x`; EC keys the SEC1
/// uncompressed point `0x04 || x || y`, as RFC 9420 §5.1.1 encodes ECDSA keys.
fn parse_did_jwk(did: &str) -> Result<(SignatureAlgorithm, Vec<u8>), UserInfoVcError> {
    let encoded = did
        .strip_prefix(DID_JWK_PREFIX)
        .ok_or(UserInfoVcError::SubjectNotDidJwk)?;
    let malformed = |reason: String| UserInfoVcError::SubjectJwkMalformed(reason);
    let json = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|e| malformed(format!("not base64url: {e}")))?;
    let jwk: SubjectJwk =
        serde_json::from_slice(&json).map_err(|e| malformed(format!("not a JWK: {e}")))?;
    if jwk.d.is_some() {
        return Err(malformed("it holds a private key (d)".into()));
    }
    let coordinate = |value: &Option<String>, name: &str, len: usize| {
        let bytes = URL_SAFE_NO_PAD
            .decode(value.as_deref().unwrap_or_default())
            .map_err(|e| malformed(format!("{name} is not base64url: {e}")))?;
        if bytes.len() == len {
            Ok(bytes)
        } else {
            Err(malformed(format!(
                "{name} is {} bytes, not {len}",
                bytes.len()
            )))
        }
    };
    let unsupported = || UserInfoVcError::UnsupportedSubjectKey {
        kty: jwk.kty.clone(),
        crv: jwk.crv.clone(),
    };
    match jwk.kty.as_str() {
        "OKP" => {
            let (scheme, len) = match jwk.crv.as_str() {
                "Ed25519" => (SignatureAlgorithm::Ed25519, 32),
                "Ed448" => (SignatureAlgorithm::Ed448, 57),
                _ => return Err(unsupported()),
            };
            Ok((scheme, coordinate(&jwk.x, "x", len)?))
        }
        "EC" => {
            let (scheme, len) = match jwk.crv.as_str() {
                "P-256" => (SignatureAlgorithm::EcdsaP256Sha256, 32),
                "P-384" => (SignatureAlgorithm::EcdsaP384Sha384, 48),
                "P-521" => (SignatureAlgorithm::EcdsaP521Sha512, 66),
                _ => return Err(unsupported()),
            };
            let mut point = vec![0x04];
            point.extend(coordinate(&jwk.x, "x", len)?);
            point.extend(coordinate(&jwk.y, "y", len)?);
            Ok((scheme, point))
        }
        _ => Err(unsupported()),
    }
}

/// The public JWK of an MLS signature key (draft-barnes-mls-addl-creds-01 §3.4, inverse of
/// the `did:jwk` parsing).
pub fn jwk_for_signature_key(
    scheme: SignatureAlgorithm,
    key: &[u8],
) -> Result<Value, UserInfoVcError> {
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let ec = |crv: &str, len: usize| -> Result<Value, UserInfoVcError> {
        match key.split_first() {
            Some((0x04, point)) if point.len() == 2 * len => {
                let (x, y) = point.split_at(len);
                Ok(json!({"kty": "EC", "crv": crv, "x": b64(x), "y": b64(y)}))
            }
            _ => Err(UserInfoVcError::IssuerKey(format!(
                "not an uncompressed {crv} point"
            ))),
        }
    };
    let okp = |crv: &str, len: usize| -> Result<Value, UserInfoVcError> {
        if key.len() == len {
            Ok(json!({"kty": "OKP", "crv": crv, "x": b64(key)}))
        } else {
            Err(UserInfoVcError::IssuerKey(format!("not a {crv} key")))
        }
    };
    match scheme {
        SignatureAlgorithm::Ed25519 => okp("Ed25519", 32),
        SignatureAlgorithm::Ed448 => okp("Ed448", 57),
        SignatureAlgorithm::EcdsaP256Sha256 => ec("P-256", 32),
        SignatureAlgorithm::EcdsaP384Sha384 => ec("P-384", 48),
        SignatureAlgorithm::EcdsaP521Sha512 => ec("P-521", 66),
        // draft-barnes-mls-addl-creds-01 §3.4 names only the EC and OKP key types; an
        // ML-DSA JWK ("AKP", draft-ietf-cose-dilithium) is not part of it.
        SignatureAlgorithm::MlDsa44 | SignatureAlgorithm::MlDsa65 | SignatureAlgorithm::MlDsa87 => {
            Err(UserInfoVcError::IssuerKey(format!(
                "no JWK for {scheme:?} keys (draft-barnes-mls-addl-creds-01 §3.4 has EC and OKP only)"
            )))
        }
    }
}

/// The `did:jwk` DID of an MLS signature key: `did:jwk:` and the base64url JWK.
pub fn did_jwk(scheme: SignatureAlgorithm, key: &[u8]) -> Result<String, UserInfoVcError> {
    let jwk = jwk_for_signature_key(scheme, key)?;
    Ok(format!(
        "{DID_JWK_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(jwk.to_string())
    ))
}

/// Validates `userinfo-vc` credentials (draft-barnes-mls-addl-creds-01 §3.3) against cached
/// issuer key sets; refuses every other credential type, so combine it with another
/// provider for mixed groups (and wrap it in
/// [`MultiCredentialProvider`](crate::credential::MultiCredentialProvider) for X.509 + VC
/// multi-credentials).
///
/// The identity is [`UserInfoClaims::identity`] (issuer and UserInfo `sub`); a successor
/// must present the same identity.
#[derive(Debug, Clone)]
pub struct UserInfoVcIdentityProvider {
    keys: IssuerKeys,
    require_expiry: bool,
}

impl UserInfoVcIdentityProvider {
    /// A provider trusting `keys`' issuers; tokens without `exp` are refused.
    pub fn new(keys: IssuerKeys) -> Self {
        Self {
            keys,
            require_expiry: true,
        }
    }

    /// Accepts tokens without an `exp` claim (the draft does not require one).
    pub fn allow_tokens_without_expiry(mut self) -> Self {
        self.require_expiry = false;
        self
    }

    /// The cached issuer keys, to refresh them.
    pub fn keys_mut(&mut self) -> &mut IssuerKeys {
        &mut self.keys
    }

    /// The verified claims of a `userinfo-vc` credential, with no time check.
    pub fn claims(&self, credential: &Credential) -> Result<UserInfoClaims, CredentialError> {
        let vc = userinfo_vc(credential)?;
        Ok(parse_verified(
            &vc.jwt,
            &self.keys,
            None,
            self.require_expiry,
        )?)
    }
}

fn userinfo_vc(credential: &Credential) -> Result<&UserInfoVc, CredentialError> {
    match credential {
        Credential::UserInfoVc(vc) => Ok(vc),
        other => Err(CredentialError::UnsupportedCredentialType(
            other.credential_type(),
        )),
    }
}

impl IdentityProvider for UserInfoVcIdentityProvider {
    /// draft-barnes-mls-addl-creds-01 §3.3 in full, then §3.4: the `did:jwk` key's scheme
    /// must be the cipher suite's and the key must equal the leaf's `signature_key`.
    fn validate_credential(&self, check: &CredentialCheck<'_>) -> Result<(), CredentialError> {
        let vc = userinfo_vc(check.credential)?;
        let claims = parse_verified(&vc.jwt, &self.keys, Some(check.now), self.require_expiry)?;
        if claims.key_scheme != check.signature_scheme {
            return Err(UserInfoVcError::SchemeMismatch.into());
        }
        if claims.key != check.signature_key.0 {
            return Err(UserInfoVcError::KeyMismatch.into());
        }
        Ok(())
    }

    fn identity(&self, credential: &Credential) -> Result<Vec<u8>, CredentialError> {
        Ok(self.claims(credential)?.identity())
    }

    fn valid_successor(
        &self,
        predecessor: &Credential,
        successor: &Credential,
    ) -> Result<bool, CredentialError> {
        Ok(self.identity(predecessor)? == self.identity(successor)?)
    }

    fn supported_credential_types(&self) -> Vec<CredentialType> {
        vec![USERINFO_VC_CREDENTIAL]
    }
}

/// An OpenID Provider's signer of UserInfo VCs (the credential response of
/// draft-barnes-mls-addl-creds-01 §3.1 step 4), for an Authentication Service that issues
/// them itself, and for tests. Signs with Ed25519 (`EdDSA`) or P-256 (`ES256`).
pub struct UserInfoVcIssuer {
    issuer: String,
    kid: String,
    algorithm: Algorithm,
    key: EncodingKey,
    public_jwk: Value,
}

impl core::fmt::Debug for UserInfoVcIssuer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("UserInfoVcIssuer")
            .field("issuer", &self.issuer)
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// PKCS#8 v1 prefix of an Ed25519 private key (RFC 8410 §7): the 32-byte seed follows.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
/// PKCS#8 prefix of a P-256 private key (RFC 5915 ECPrivateKey in RFC 5208 PrivateKeyInfo,
/// no optional fields): the 32-byte scalar follows.
const P256_PKCS8_PREFIX: [u8; 35] = [
    0x30, 0x41, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x04, 0x27, 0x30, 0x25, 0x02, 0x01,
    0x01, 0x04, 0x20,
];

impl UserInfoVcIssuer {
    /// An issuer named `issuer` (its `iss`), signing with the key pair `secret` / `public` of
    /// `scheme` as a conclave-crypto provider generates them (the Ed25519 seed or the P-256
    /// scalar; the MLS encoding of the public key), published under key id `kid`.
    pub fn new(
        issuer: &str,
        kid: &str,
        scheme: SignatureAlgorithm,
        secret: &[u8],
        public: &[u8],
    ) -> Result<Self, UserInfoVcError> {
        let (algorithm, prefix): (Algorithm, &[u8]) = match scheme {
            SignatureAlgorithm::Ed25519 => (Algorithm::EdDSA, &ED25519_PKCS8_PREFIX),
            SignatureAlgorithm::EcdsaP256Sha256 => (Algorithm::ES256, &P256_PKCS8_PREFIX),
            other => {
                return Err(UserInfoVcError::IssuerKey(format!(
                    "an issuer signs with Ed25519 or P-256, not {other:?}"
                )));
            }
        };
        if secret.len() != 32 {
            return Err(UserInfoVcError::IssuerKey(
                "the secret key is not 32 bytes".into(),
            ));
        }
        let mut der = prefix.to_vec();
        der.extend_from_slice(secret);
        let key = match algorithm {
            Algorithm::EdDSA => EncodingKey::from_ed_der(&der),
            _ => EncodingKey::from_ec_der(&der),
        };
        let mut public_jwk = jwk_for_signature_key(scheme, public)?;
        if let Some(object) = public_jwk.as_object_mut() {
            object.insert("kid".into(), Value::String(kid.to_owned()));
            object.insert("use".into(), Value::String("sig".into()));
            let alg = if algorithm == Algorithm::EdDSA {
                "EdDSA"
            } else {
                "ES256"
            };
            object.insert("alg".into(), Value::String(alg.into()));
        }
        Ok(Self {
            issuer: issuer.to_owned(),
            kid: kid.to_owned(),
            algorithm,
            key,
            public_jwk,
        })
    }

    /// The issuer's `iss` value.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The issuer's JWK Set (RFC 7517 §5), what its `jwks_uri` serves.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.public_jwk] })
    }

    /// Signs a UserInfo VC (OpenID Connect UserInfo VC §4, as draft-barnes-mls-addl-creds-01
    /// §3.2 uses it) binding the UserInfo claims `userinfo` (which must hold `sub`) to the
    /// subject's MLS signature key, valid from `issued_at` until `expires`.
    pub fn issue(
        &self,
        subject_scheme: SignatureAlgorithm,
        subject_key: &[u8],
        userinfo: &Map<String, Value>,
        issued_at: u64,
        expires: u64,
    ) -> Result<Credential, UserInfoVcError> {
        let did = did_jwk(subject_scheme, subject_key)?;
        let mut subject = userinfo.clone();
        subject.insert("id".into(), Value::String(did.clone()));
        let claims = json!({
            "iss": self.issuer,
            "sub": did,
            "iat": issued_at,
            "nbf": issued_at,
            "exp": expires,
            "vc": {
                "@context": ["https://www.w3.org/2018/credentials/v1"],
                "type": ["VerifiableCredential", "UserInfoCredential"],
                "credentialSubject": subject,
            },
        });
        self.sign(&claims)
    }

    /// Signs `claims` as they are, under the issuer's key and `kid`: for tests of payloads
    /// that [`UserInfoVcIssuer::issue`] would not produce.
    pub fn sign(&self, claims: &Value) -> Result<Credential, UserInfoVcError> {
        let mut header = Header::new(self.algorithm);
        header.kid = Some(self.kid.clone());
        let jwt = jsonwebtoken::encode(&header, claims, &self.key)
            .map_err(|e| UserInfoVcError::IssuerKey(format!("signing failed: {e}")))?;
        Ok(Credential::UserInfoVc(UserInfoVc {
            jwt: jwt.into_bytes(),
        }))
    }
}
