//! Tests of UserInfo VC credentials (draft-barnes-mls-addl-creds-01 §3): issuance and
//! validation, one refusal per rule, the codec and its codepoints, malformed and mutated
//! tokens, and an X.509 + UserInfo VC multi-credential.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use conclave_codec::{Decode, Encode};
use conclave_crypto::{CipherSuite, SignatureAlgorithm};
use conclave_crypto_rustcrypto::RustCryptoProvider;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::*;
use crate::codepoints::{USERINFO_VC_CREDENTIAL, UserInfoVcCodepoint};
use crate::credential::tests::{Ca, TestKey, Y2024, leaf_params, x509};
use crate::credential::{
    BindingSigner, CredentialCheck, CredentialError, CredentialRole, IdentityProvider,
    MultiCredentialProvider, X509IdentityProvider, bind_credentials,
};
use crate::messages::{Credential, CredentialType, MultiCredential, SignaturePublicKey};

const ED: u16 = 1;
const P256: u16 = 2;
const ISS: &str = "https://op.example";
const DAY: u64 = 86_400;

fn scheme(suite: u16) -> SignatureAlgorithm {
    match suite {
        ED => SignatureAlgorithm::Ed25519,
        _ => SignatureAlgorithm::EcdsaP256Sha256,
    }
}

fn issuer_with(iss: &str, kid: &str, suite: u16, seed: u64) -> UserInfoVcIssuer {
    let key = TestKey::new(suite, seed);
    UserInfoVcIssuer::new(iss, kid, scheme(suite), key.secret.as_bytes(), &key.key().0).unwrap()
}

fn keys_of(issuers: &[&UserInfoVcIssuer]) -> IssuerKeys {
    let mut keys = IssuerKeys::new();
    for issuer in issuers {
        keys.insert_jwks_json(issuer.issuer(), issuer.jwks().to_string().as_bytes())
            .unwrap();
    }
    keys
}

fn userinfo(sub: &str) -> Map<String, Value> {
    let Value::Object(map) = json!({"sub": sub, "email": format!("{sub}@op.example"), "name": sub})
    else {
        unreachable!()
    };
    map
}

struct Fixture {
    issuer: UserInfoVcIssuer,
    provider: UserInfoVcIdentityProvider,
    leaf: TestKey,
}

impl Fixture {
    fn new(issuer_suite: u16, leaf_suite: u16) -> Self {
        let issuer = issuer_with(ISS, "k1", issuer_suite, 100);
        let provider = UserInfoVcIdentityProvider::new(keys_of(&[&issuer]));
        Self {
            issuer,
            provider,
            leaf: TestKey::new(leaf_suite, 7),
        }
    }

    fn did(&self) -> String {
        did_jwk(self.leaf_scheme(), &self.leaf.key().0).unwrap()
    }

    fn leaf_scheme(&self) -> SignatureAlgorithm {
        if self.leaf.key().0.len() == 32 {
            SignatureAlgorithm::Ed25519
        } else {
            SignatureAlgorithm::EcdsaP256Sha256
        }
    }

    fn issue(&self, sub: &str) -> Credential {
        self.issuer
            .issue(
                self.leaf_scheme(),
                &self.leaf.key().0,
                &userinfo(sub),
                Y2024,
                Y2024 + DAY,
            )
            .unwrap()
    }

    /// A payload as [`UserInfoVcIssuer::issue`] makes it, for tests to break.
    fn claims(&self) -> Value {
        let did = self.did();
        json!({
            "iss": ISS, "sub": did, "iat": Y2024, "nbf": Y2024, "exp": Y2024 + DAY,
            "vc": {"type": ["VerifiableCredential", "UserInfoCredential"],
                   "credentialSubject": {"id": did, "sub": "alice"}},
        })
    }

    fn check_at(&self, credential: &Credential, now: u64) -> Result<(), CredentialError> {
        self.provider.validate_credential(&CredentialCheck {
            credential,
            signature_key: &self.leaf.key(),
            signature_scheme: self.leaf_scheme(),
            role: CredentialRole::NewMember,
            now,
        })
    }

    fn check(&self, credential: &Credential) -> Result<(), CredentialError> {
        self.check_at(credential, Y2024 + 60)
    }

    fn refusal(&self, credential: &Credential) -> UserInfoVcError {
        match self.check(credential) {
            Err(CredentialError::UserInfoVc(e)) => e,
            other => panic!("not a UserInfo VC refusal: {other:?}"),
        }
    }

    fn refusal_of(&self, claims: &Value) -> UserInfoVcError {
        self.refusal(&self.issuer.sign(claims).unwrap())
    }
}

fn raw(jwt: &str) -> Credential {
    Credential::UserInfoVc(crate::messages::UserInfoVc {
        jwt: jwt.as_bytes().to_vec(),
    })
}

/// `header.payload.signature` with the given JSON header and payload and a junk signature.
fn unsigned(header: &Value, payload: &Value) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        URL_SAFE_NO_PAD.encode([0u8; 64])
    )
}

#[test]
fn an_issued_userinfo_vc_validates_for_its_leaf_key_with_ed25519_and_p256() {
    for (issuer_suite, leaf_suite) in [(ED, ED), (P256, P256), (ED, P256), (P256, ED)] {
        let f = Fixture::new(issuer_suite, leaf_suite);
        let credential = f.issue("alice");
        f.check(&credential).unwrap();
        let claims = f.provider.claims(&credential).unwrap();
        assert_eq!(claims.issuer, ISS);
        assert_eq!(claims.subject, "alice");
        assert_eq!(claims.key, f.leaf.key().0);
        assert_eq!(
            claims.userinfo.get("email"),
            Some(&json!("alice@op.example"))
        );
        assert!(!claims.userinfo.contains_key("id"));
    }
}

#[test]
fn the_identity_is_the_issuer_and_the_userinfo_sub() {
    let f = Fixture::new(ED, ED);
    let alice = f.issue("alice");
    let identity = f.provider.identity(&alice).unwrap();
    let mut expected = Vec::new();
    for part in [ISS, "alice"] {
        expected.extend_from_slice(&u32::try_from(part.len()).unwrap().to_be_bytes());
        expected.extend_from_slice(part.as_bytes());
    }
    assert_eq!(identity, expected);
    // A new token for the same subject is a valid successor; another subject is not.
    let again = f
        .issuer
        .issue(
            SignatureAlgorithm::Ed25519,
            &f.leaf.key().0,
            &userinfo("alice"),
            Y2024 + 5,
            Y2024 + DAY,
        )
        .unwrap();
    assert_ne!(again, alice);
    assert!(f.provider.valid_successor(&alice, &again).unwrap());
    assert!(!f.provider.valid_successor(&alice, &f.issue("bob")).unwrap());
    // Without `sub` in the subject, the JWT's own `sub` is the UserInfo `sub`.
    let mut claims = f.claims();
    claims["vc"]["credentialSubject"]
        .as_object_mut()
        .unwrap()
        .remove("sub");
    let cred = f.issuer.sign(&claims).unwrap();
    assert_eq!(f.provider.claims(&cred).unwrap().subject, f.did());
    // Same `sub` from another issuer: another identity.
    let other = issuer_with("https://other.example", "k1", ED, 5);
    let provider = UserInfoVcIdentityProvider::new(keys_of(&[&f.issuer, &other]));
    let from_other = other
        .issue(
            SignatureAlgorithm::Ed25519,
            &f.leaf.key().0,
            &userinfo("alice"),
            Y2024,
            Y2024 + DAY,
        )
        .unwrap();
    assert_ne!(
        provider.identity(&from_other).unwrap(),
        provider.identity(&alice).unwrap()
    );
    assert_eq!(
        provider.supported_credential_types(),
        vec![USERINFO_VC_CREDENTIAL]
    );
}

#[test]
fn section_3_3_the_leaf_signature_key_must_be_the_did_jwk_key_of_the_same_scheme() {
    let f = Fixture::new(ED, ED);
    let other = TestKey::new(ED, 8);
    let credential = f
        .issuer
        .issue(
            SignatureAlgorithm::Ed25519,
            &other.key().0,
            &userinfo("alice"),
            Y2024,
            Y2024 + DAY,
        )
        .unwrap();
    assert_eq!(f.refusal(&credential), UserInfoVcError::KeyMismatch);
    // §3.4: a P-256 key in the VC for a group whose suite signs with Ed25519.
    let p256 = TestKey::new(P256, 9);
    let credential = f
        .issuer
        .issue(
            SignatureAlgorithm::EcdsaP256Sha256,
            &p256.key().0,
            &userinfo("alice"),
            Y2024,
            Y2024 + DAY,
        )
        .unwrap();
    assert_eq!(f.refusal(&credential), UserInfoVcError::SchemeMismatch);
    // Other credential types are not this provider's.
    let basic = Credential::Basic {
        identity: b"alice".to_vec(),
    };
    assert_eq!(
        f.check(&basic),
        Err(CredentialError::UnsupportedCredentialType(
            CredentialType::BASIC
        ))
    );
}

#[test]
fn section_3_3_the_issuer_must_be_present_and_trusted_and_its_key_must_sign() {
    let f = Fixture::new(ED, ED);
    let mut claims = f.claims();
    claims.as_object_mut().unwrap().remove("iss");
    assert_eq!(f.refusal_of(&claims), UserInfoVcError::MissingIssuer);
    claims["iss"] = json!(42);
    assert!(matches!(
        f.refusal_of(&claims),
        UserInfoVcError::NotUserInfo(_)
    ));
    claims["iss"] = json!("https://evil.example");
    assert_eq!(
        f.refusal_of(&claims),
        UserInfoVcError::UntrustedIssuer("https://evil.example".into())
    );
    // Signed by a key that is not in the issuer's set, under the set's kid.
    let impostor = issuer_with(ISS, "k1", ED, 101);
    assert_eq!(
        f.refusal(
            &impostor
                .issue(
                    SignatureAlgorithm::Ed25519,
                    &f.leaf.key().0,
                    &userinfo("a"),
                    Y2024,
                    Y2024 + DAY
                )
                .unwrap()
        ),
        UserInfoVcError::BadSignature(ISS.into())
    );
    // A kid the set does not have, and a key type the set does not have.
    let unknown_kid = issuer_with(ISS, "k2", ED, 100);
    assert_eq!(
        f.refusal(&unknown_kid.sign(&f.claims()).unwrap()),
        UserInfoVcError::NoIssuerKey(ISS.into())
    );
    let p256 = issuer_with(ISS, "k1", P256, 100);
    assert_eq!(
        f.refusal(&p256.sign(&f.claims()).unwrap()),
        UserInfoVcError::NoIssuerKey(ISS.into())
    );
    // A payload altered after signing.
    let good = f.issuer.sign(&f.claims()).unwrap();
    let Credential::UserInfoVc(vc) = &good else {
        unreachable!()
    };
    let token = String::from_utf8(vc.jwt.clone()).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let mut altered = f.claims();
    altered["vc"]["credentialSubject"]["sub"] = json!("mallory");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(altered.to_string()),
        parts[2]
    );
    assert_eq!(
        f.refusal(&raw(&forged)),
        UserInfoVcError::BadSignature(ISS.into())
    );
    // A key given in the header is never used.
    let header = json!({"alg": "EdDSA", "kid": "k1", "jwk": impostor.jwks()["keys"][0]});
    assert_eq!(
        f.refusal(&raw(&unsigned(&header, &f.claims()))),
        UserInfoVcError::BadSignature(ISS.into())
    );
}

#[test]
fn a_jws_with_critical_header_extensions_is_refused() {
    let f = Fixture::new(ED, ED);
    let token = unsigned(
        &json!({"alg": "EdDSA", "kid": "k1", "crit": ["exp"]}),
        &f.claims(),
    );
    assert_eq!(
        f.refusal(&raw(&token)),
        UserInfoVcError::UnsupportedCriticalHeader(r#"["exp"]"#.into())
    );
}

#[test]
fn section_3_4_only_eddsa_es256_and_es384_signatures_are_accepted() {
    let f = Fixture::new(ED, ED);
    for alg in ["HS256", "RS256", "PS256"] {
        let token = unsigned(&json!({"alg": alg, "kid": "k1"}), &f.claims());
        assert!(
            matches!(
                f.refusal(&raw(&token)),
                UserInfoVcError::UnsupportedAlgorithm(_)
            ),
            "{alg}"
        );
    }
    let none = unsigned(&json!({"alg": "none"}), &f.claims());
    assert!(matches!(
        f.refusal(&raw(&none)),
        UserInfoVcError::MalformedJwt(_)
    ));
}

#[test]
fn section_3_2_and_3_3_the_vc_claim_must_hold_a_did_jwk_subject() {
    let f = Fixture::new(ED, ED);
    let mut claims = f.claims();
    claims.as_object_mut().unwrap().remove("vc");
    assert_eq!(f.refusal_of(&claims), UserInfoVcError::MissingVc);
    for vc in [
        json!("text"),
        json!({}),
        json!({"credentialSubject": "did:jwk:x"}),
    ] {
        claims["vc"] = vc;
        assert_eq!(
            f.refusal_of(&claims),
            UserInfoVcError::MissingCredentialSubject
        );
    }
    for id in [
        json!(null),
        json!(7),
        json!("did:web:op.example"),
        json!("https://x"),
    ] {
        claims["vc"] = json!({"credentialSubject": {"id": id, "sub": "alice"}});
        assert_eq!(
            f.refusal_of(&claims),
            UserInfoVcError::SubjectNotDidJwk,
            "{id}"
        );
    }
    let jwk_did = |jwk: Value| format!("did:jwk:{}", URL_SAFE_NO_PAD.encode(jwk.to_string()));
    let x = URL_SAFE_NO_PAD.encode(f.leaf.key().0);
    for did in [
        "did:jwk:***".to_owned(),
        format!("did:jwk:{}", URL_SAFE_NO_PAD.encode("not json")),
        jwk_did(json!({"kty": "OKP", "crv": "Ed25519", "x": x, "d": x})),
        jwk_did(json!({"kty": "OKP", "crv": "Ed25519", "x": "AAAA"})),
        jwk_did(json!({"kty": "EC", "crv": "P-256", "x": x})),
    ] {
        claims["vc"] = json!({"credentialSubject": {"id": did, "sub": "alice"}});
        assert!(
            matches!(
                f.refusal_of(&claims),
                UserInfoVcError::SubjectJwkMalformed(_)
            ),
            "{did}"
        );
    }
    for (kty, crv) in [("RSA", ""), ("OKP", "X25519"), ("EC", "secp256k1")] {
        claims["vc"] = json!({"credentialSubject": {"id": jwk_did(json!({"kty": kty, "crv": crv, "x": x})), "sub": "a"}});
        assert_eq!(
            f.refusal_of(&claims),
            UserInfoVcError::UnsupportedSubjectKey {
                kty: kty.into(),
                crv: crv.into()
            }
        );
    }
}

#[test]
fn the_payload_must_be_a_userinfo_object_with_a_sub() {
    let f = Fixture::new(ED, ED);
    let mut claims = f.claims();
    claims.as_object_mut().unwrap().remove("sub");
    claims["vc"]["credentialSubject"]
        .as_object_mut()
        .unwrap()
        .remove("sub");
    assert!(matches!(
        f.refusal_of(&claims),
        UserInfoVcError::NotUserInfo(_)
    ));
    claims["sub"] = json!("");
    assert!(matches!(
        f.refusal_of(&claims),
        UserInfoVcError::NotUserInfo(_)
    ));
    let mut claims = f.claims();
    claims["exp"] = json!("tomorrow");
    assert!(matches!(
        f.refusal_of(&claims),
        UserInfoVcError::NotUserInfo(_)
    ));
    assert!(matches!(
        f.refusal_of(&json!(["array"])),
        UserInfoVcError::NotUserInfo(_)
    ));
}

#[test]
fn rfc_7519_validity_times_are_checked_against_the_given_time() {
    let f = Fixture::new(ED, ED);
    let credential = f.issue("alice");
    f.check_at(&credential, Y2024).unwrap();
    f.check_at(&credential, Y2024 + DAY - 1).unwrap();
    assert_eq!(
        f.check_at(&credential, Y2024 + DAY),
        Err(UserInfoVcError::Expired {
            exp: Y2024 + DAY,
            now: Y2024 + DAY
        }
        .into())
    );
    assert_eq!(
        f.check_at(&credential, Y2024 - 1),
        Err(UserInfoVcError::NotYetValid {
            nbf: Y2024,
            now: Y2024 - 1
        }
        .into())
    );
    let mut claims = f.claims();
    claims.as_object_mut().unwrap().remove("exp");
    let forever = f.issuer.sign(&claims).unwrap();
    assert_eq!(f.refusal(&forever), UserInfoVcError::MissingExpiry);
    let lenient = f.provider.clone().allow_tokens_without_expiry();
    lenient
        .validate_credential(&CredentialCheck {
            credential: &forever,
            signature_key: &f.leaf.key(),
            signature_scheme: SignatureAlgorithm::Ed25519,
            role: CredentialRole::Member,
            now: Y2024 + 10 * DAY,
        })
        .unwrap();
}

#[test]
fn section_3_2_the_jwt_must_be_utf8_and_parse_and_fit_the_cap() {
    let f = Fixture::new(ED, ED);
    let bytes = Credential::UserInfoVc(crate::messages::UserInfoVc {
        jwt: vec![0xff, 0xfe, b'.'],
    });
    assert_eq!(f.refusal(&bytes), UserInfoVcError::NotUtf8);
    for junk in ["", ".", "..", "a.b", "a.b.c", "a.b.c.d", "eyJ9.e30.AA"] {
        assert!(
            matches!(f.refusal(&raw(junk)), UserInfoVcError::MalformedJwt(_)),
            "{junk:?}"
        );
    }
    let huge = "a".repeat(MAX_USERINFO_VC_JWT_BYTES + 1);
    assert_eq!(
        f.refusal(&raw(&huge)),
        UserInfoVcError::TooLarge {
            len: MAX_USERINFO_VC_JWT_BYTES + 1,
            max: MAX_USERINFO_VC_JWT_BYTES
        }
    );
    // A genuine token padded past the cap is refused before its signature is looked at.
    let mut claims = f.claims();
    claims["vc"]["credentialSubject"]["name"] = json!("x".repeat(MAX_USERINFO_VC_JWT_BYTES));
    assert!(matches!(
        f.refusal_of(&claims),
        UserInfoVcError::TooLarge { .. }
    ));
}

#[test]
fn issuer_key_sets_without_a_usable_key_are_refused() {
    let mut keys = IssuerKeys::new();
    assert!(keys.insert_jwks_json(ISS, b"not json").is_err());
    assert!(keys.insert_jwks_json(ISS, br#"{"keys": []}"#).is_err());
    // A short Ed25519 key is skipped rather than handed to the JWS library.
    let short = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}]});
    assert!(
        keys.insert_jwks_json(ISS, short.to_string().as_bytes())
            .is_err()
    );
    assert_eq!(keys.issuers().count(), 0);
    let issuer = issuer_with(ISS, "k1", ED, 1);
    keys.insert_jwks_json(ISS, issuer.jwks().to_string().as_bytes())
        .unwrap();
    assert_eq!(keys.issuers().collect::<Vec<_>>(), vec![ISS]);
    keys.remove(ISS);
    assert_eq!(keys.issuers().count(), 0);
    assert!(
        UserInfoVcIssuer::new(
            ISS,
            "k",
            SignatureAlgorithm::EcdsaP384Sha384,
            &[0; 48],
            &[4; 97]
        )
        .is_err()
    );
}

#[test]
fn the_credential_encodes_under_0xfe00_and_under_the_drafts_0x0003_on_request() {
    let f = Fixture::new(ED, ED);
    let credential = f.issue("alice");
    let bytes = credential.to_bytes().unwrap();
    assert_eq!(bytes[..2], [0xFE, 0x00]);
    assert_eq!(Credential::from_bytes(&bytes).unwrap(), credential);
    assert_eq!(credential.credential_type(), USERINFO_VC_CREDENTIAL);
    let draft = credential
        .to_bytes_with(UserInfoVcCodepoint::AddlCreds)
        .unwrap();
    assert_eq!(draft[..2], [0x00, 0x03]);
    assert_eq!(draft[2..], bytes[2..]);
    assert_eq!(
        Credential::from_bytes_with(&draft, UserInfoVcCodepoint::AddlCreds).unwrap(),
        credential
    );
    // Profile-free decoding reads 0x0003 as the extensions draft's `multi`, and the
    // draft's assignment refuses 0xFE00.
    assert!(!matches!(
        Credential::from_bytes(&draft),
        Ok(Credential::UserInfoVc(_))
    ));
    assert!(Credential::from_bytes_with(&bytes, UserInfoVcCodepoint::AddlCreds).is_err());
    assert_eq!(
        Credential::from_bytes_with(&bytes, UserInfoVcCodepoint::Mlspp).unwrap(),
        credential
    );
    // The jwt is an MLS vector (`<V>`): a varint length, then the token.
    let Credential::UserInfoVc(vc) = &credential else {
        unreachable!()
    };
    let mut body = Vec::new();
    conclave_codec::write_varint(&mut body, vc.jwt.len()).unwrap();
    body.extend_from_slice(&vc.jwt);
    assert_eq!(bytes[2..], body);
}

/// X.509 credentials by [`X509IdentityProvider`], UserInfo VCs by
/// [`UserInfoVcIdentityProvider`].
pub(super) struct X509AndVc {
    pub(super) x509: X509IdentityProvider,
    pub(super) vc: UserInfoVcIdentityProvider,
}

impl IdentityProvider for X509AndVc {
    fn validate_credential(&self, check: &CredentialCheck<'_>) -> Result<(), CredentialError> {
        match check.credential {
            Credential::X509 { .. } => self.x509.validate_credential(check),
            _ => self.vc.validate_credential(check),
        }
    }

    fn identity(&self, credential: &Credential) -> Result<Vec<u8>, CredentialError> {
        match credential {
            Credential::X509 { .. } => self.x509.identity(credential),
            _ => self.vc.identity(credential),
        }
    }

    fn valid_successor(&self, a: &Credential, b: &Credential) -> Result<bool, CredentialError> {
        Ok(self.identity(a)? == self.identity(b)?)
    }

    fn supported_credential_types(&self) -> Vec<CredentialType> {
        vec![CredentialType::X509, USERINFO_VC_CREDENTIAL]
    }
}

#[test]
fn a_multi_credential_of_an_x509_certificate_and_a_userinfo_vc_validates() {
    let f = Fixture::new(ED, ED);
    let leaf = TestKey::new(ED, 30);
    let ca = Ca::root("Corp Root", P256, 31);
    let cert_key = TestKey::new(P256, 32);
    let cert = x509(&[&ca.issue(&leaf_params("im:alice@corp.example", "Alice"), &cert_key)]);
    let vc_key = TestKey::new(ED, 33);
    let vc = f
        .issuer
        .issue(
            SignatureAlgorithm::Ed25519,
            &vc_key.key().0,
            &userinfo("alice"),
            Y2024,
            Y2024 + DAY,
        )
        .unwrap();
    let provider = MultiCredentialProvider::new(
        Arc::new(X509AndVc {
            x509: X509IdentityProvider::new([ca.der.as_slice()], &RustCryptoProvider).unwrap(),
            vc: f.provider.clone(),
        }),
        &RustCryptoProvider,
    );
    let bind = |vc: &Credential, vc_key: &TestKey| {
        let keys = [cert_key.key(), vc_key.key()];
        let signers = [
            BindingSigner {
                cipher_suite: CipherSuite(P256),
                credential: &cert,
                credential_key: &keys[0],
                secret_key: &cert_key.secret,
            },
            BindingSigner {
                cipher_suite: CipherSuite(ED),
                credential: vc,
                credential_key: &keys[1],
                secret_key: &vc_key.secret,
            },
        ];
        Credential::Multi(MultiCredential {
            bindings: bind_credentials(&RustCryptoProvider, &leaf.key(), &signers).unwrap(),
        })
    };
    let check = |credential: &Credential, now: u64| {
        provider.validate_credential(&CredentialCheck {
            credential,
            signature_key: &leaf.key(),
            signature_scheme: SignatureAlgorithm::Ed25519,
            role: CredentialRole::NewMember,
            now,
        })
    };
    let multi = bind(&vc, &vc_key);
    check(&multi, Y2024 + 60).unwrap();
    let round_trip = Credential::from_bytes(&multi.to_bytes().unwrap()).unwrap();
    assert_eq!(round_trip, multi);
    // The identity is the first binding's: the certificate's.
    assert_eq!(
        provider.identity(&multi).unwrap(),
        provider.inner().identity(&cert).unwrap()
    );
    // The VC binding is checked like a leaf's VC: expired, it fails the whole credential.
    assert!(matches!(
        check(&multi, Y2024 + 2 * DAY),
        Err(CredentialError::MultiCredential(_))
    ));
    // A VC for another key than the binding's credential_key is refused.
    let other_key = TestKey::new(ED, 34);
    let mismatched = bind(&vc, &other_key);
    let error = check(&mismatched, Y2024 + 60).unwrap_err();
    assert!(format!("{error:?}").contains("KeyMismatch"), "{error:?}");
}

/// A valid token's bytes.
fn valid_token() -> Vec<u8> {
    let f = Fixture::new(ED, ED);
    let Credential::UserInfoVc(vc) = f.issue("alice") else {
        unreachable!()
    };
    vc.jwt
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random bytes never panic and never validate.
    #[test]
    fn random_tokens_are_refused_without_panicking(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let f = Fixture::new(ED, ED);
        let credential = Credential::UserInfoVc(crate::messages::UserInfoVc { jwt: bytes });
        prop_assert!(f.check(&credential).is_err());
    }

    /// Mutations of a valid token (byte flips, truncation, insertion) never panic, and a
    /// changed token never validates: only the untouched token does.
    #[test]
    fn mutated_tokens_never_panic_and_never_validate(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..4),
    ) {
        let f = Fixture::new(ED, ED);
        let original = valid_token();
        let mut token = original.clone();
        for (index, byte, op) in edits {
            if token.is_empty() { break; }
            let at = index.index(token.len());
            match op {
                0 => token[at] = byte,
                1 => token.truncate(at),
                _ => token.insert(at, byte),
            }
        }
        let credential = Credential::UserInfoVc(crate::messages::UserInfoVc { jwt: token.clone() });
        let result = f.check(&credential);
        if token == original {
            prop_assert!(result.is_ok());
        } else {
            // Base64url has a few spare bits in its last character; a flip there decodes to
            // the same bytes and so still verifies, which is not a forgery.
            let same = token.split(|b| *b == b'.').map(|p| URL_SAFE_NO_PAD.decode(p).ok()).collect::<Vec<_>>()
                == original.split(|b| *b == b'.').map(|p| URL_SAFE_NO_PAD.decode(p).ok()).collect::<Vec<_>>();
            prop_assert!(result.is_err() || same, "{:?}", String::from_utf8_lossy(&token));
        }
    }

    /// Tokens over the cap are refused by length alone, whatever they hold.
    #[test]
    fn tokens_over_the_cap_are_refused_before_parsing(extra in 1usize..4096, fill in any::<u8>()) {
        let f = Fixture::new(ED, ED);
        let mut token = valid_token();
        token.resize(MAX_USERINFO_VC_JWT_BYTES + extra, fill);
        let credential = Credential::UserInfoVc(crate::messages::UserInfoVc { jwt: token });
        prop_assert_eq!(
            f.refusal(&credential),
            UserInfoVcError::TooLarge { len: MAX_USERINFO_VC_JWT_BYTES + extra, max: MAX_USERINFO_VC_JWT_BYTES }
        );
    }
}

#[test]
fn signature_public_key_jwks_round_trip_through_did_jwk() {
    for suite in [ED, P256] {
        let key = TestKey::new(suite, 40);
        let did = did_jwk(scheme(suite), &key.key().0).unwrap();
        assert!(did.starts_with("did:jwk:"));
        let jwk = jwk_for_signature_key(scheme(suite), &key.key().0).unwrap();
        let decoded: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(did.trim_start_matches("did:jwk:"))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(decoded, jwk);
    }
    assert!(jwk_for_signature_key(SignatureAlgorithm::Ed25519, &[1; 31]).is_err());
    assert!(jwk_for_signature_key(SignatureAlgorithm::EcdsaP256Sha256, &[2; 65]).is_err());
    let _ = SignaturePublicKey(vec![]);
}
