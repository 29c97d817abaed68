//! Tests of multi-credential bindings and of [`MultiCredentialProvider`]: creation, the
//! validity of each binding for the leaf key (draft-ietf-mls-extensions-10 §6.5.2), mixed
//! X.509 and basic bindings, identity and succession.

use std::sync::Arc;

use conclave_crypto::{CipherSuite, SignatureAlgorithm};
use conclave_crypto_rustcrypto::RustCryptoProvider;

use super::super::tests::{Ca, TestKey, Y2024, leaf_params, x509};
use super::*;
use crate::credential::{BasicIdentityProvider, X509IdentityProvider};

/// Ed25519.
const ED: u16 = 1;
/// P-256.
const P256: u16 = 2;

fn basic(name: &str) -> Credential {
    Credential::Basic {
        identity: name.as_bytes().to_vec(),
    }
}

/// Basic credentials by [`BasicIdentityProvider`], X.509 by [`X509IdentityProvider`].
pub(super) struct Mixed {
    pub(super) x509: X509IdentityProvider,
}

impl IdentityProvider for Mixed {
    fn validate_credential(&self, check: &CredentialCheck<'_>) -> Result<(), CredentialError> {
        match check.credential {
            Credential::X509 { .. } => self.x509.validate_credential(check),
            _ => BasicIdentityProvider.validate_credential(check),
        }
    }

    fn identity(&self, credential: &Credential) -> Result<Vec<u8>, CredentialError> {
        match credential {
            Credential::X509 { .. } => self.x509.identity(credential),
            _ => BasicIdentityProvider.identity(credential),
        }
    }

    fn valid_successor(
        &self,
        predecessor: &Credential,
        successor: &Credential,
    ) -> Result<bool, CredentialError> {
        Ok(self.identity(predecessor)? == self.identity(successor)?)
    }

    fn supported_credential_types(&self) -> Vec<CredentialType> {
        vec![CredentialType::BASIC, CredentialType::X509]
    }
}

/// A leaf key, a basic credential with its own Ed25519 key, an X.509 certificate for a
/// P-256 key, and a provider trusting the certificate's root.
struct Fixture {
    leaf: TestKey,
    basic: Credential,
    basic_key: TestKey,
    cert: Credential,
    cert_key: TestKey,
    provider: MultiCredentialProvider,
}

impl Fixture {
    fn new() -> Self {
        let ca = Ca::root("Corp Root", P256, 1);
        let cert_key = TestKey::new(P256, 2);
        let cert = x509(&[&ca.issue(&leaf_params("im:alice@corp.example", "Alice"), &cert_key)]);
        let mixed = Mixed {
            x509: X509IdentityProvider::new([ca.der.as_slice()], &RustCryptoProvider).unwrap(),
        };
        Self {
            leaf: TestKey::new(ED, 3),
            basic: basic("alice"),
            basic_key: TestKey::new(ED, 4),
            cert,
            cert_key,
            provider: MultiCredentialProvider::new(Arc::new(mixed), &RustCryptoProvider),
        }
    }

    /// Signs bindings of `parts` (suite, credential, key) to the fixture's leaf key.
    fn bindings(&self, parts: &[(u16, &Credential, &TestKey)]) -> Vec<CredentialBinding> {
        let keys: Vec<SignaturePublicKey> = parts.iter().map(|(_, _, k)| k.key()).collect();
        let signers: Vec<BindingSigner<'_>> = parts
            .iter()
            .zip(&keys)
            .map(|((suite, credential, key), public)| BindingSigner {
                cipher_suite: CipherSuite(*suite),
                credential,
                credential_key: public,
                secret_key: &key.secret,
            })
            .collect();
        bind_credentials(&RustCryptoProvider, &self.leaf.key(), &signers).unwrap()
    }

    fn mixed(&self) -> Vec<CredentialBinding> {
        self.bindings(&[
            (P256, &self.cert, &self.cert_key),
            (ED, &self.basic, &self.basic_key),
        ])
    }

    fn validate(&self, credential: &Credential) -> Result<(), CredentialError> {
        self.validate_for(credential, &self.leaf.key())
    }

    fn validate_for(
        &self,
        credential: &Credential,
        leaf_key: &SignaturePublicKey,
    ) -> Result<(), CredentialError> {
        self.provider.validate_credential(&CredentialCheck {
            credential,
            signature_key: leaf_key,
            signature_scheme: SignatureAlgorithm::Ed25519,
            role: CredentialRole::NewMember,
            now: Y2024,
        })
    }
}

fn multi(bindings: Vec<CredentialBinding>) -> Credential {
    Credential::Multi(MultiCredential { bindings })
}

fn weak(bindings: Vec<CredentialBinding>) -> Credential {
    Credential::WeakMulti(WeakMultiCredential { bindings })
}

fn refusal(error: CredentialError) -> MultiCredentialError {
    match error {
        CredentialError::MultiCredential(e) => e,
        other => panic!("not a multi-credential refusal: {other:?}"),
    }
}

#[test]
fn a_multi_credential_of_x509_and_basic_bindings_in_different_suites_is_valid() {
    let f = Fixture::new();
    let bindings = f.mixed();
    assert_eq!(bindings[0].cipher_suite, CipherSuite(P256));
    assert_eq!(bindings[1].cipher_suite, CipherSuite(ED));
    f.validate(&multi(bindings.clone())).unwrap();
    f.validate(&weak(bindings)).unwrap();
    // Plain credentials still go to the inner provider.
    f.validate(&basic("bob")).unwrap();
}

#[test]
fn each_binding_signs_with_its_credential_key_over_the_leaf_signature_key() {
    let f = Fixture::new();
    let bindings = f.mixed();
    for (index, binding) in bindings.iter().enumerate() {
        let cs = RustCryptoProvider
            .cipher_suite_provider(binding.cipher_suite)
            .unwrap();
        binding.verify(cs.as_ref(), &f.leaf.key(), index).unwrap();
        // Not under the leaf key: the signer is the credential key.
        let tbs = binding.to_be_signed(&f.leaf.key()).unwrap();
        assert!(
            verify_with_label(
                cs.as_ref(),
                f.leaf.key().as_ref(),
                CREDENTIAL_BINDING_TBS_LABEL,
                &tbs,
                &binding.signature
            )
            .is_err()
        );
    }
    // Bindings made for one leaf key do not verify for another: they cannot be moved.
    let other_leaf = TestKey::new(ED, 99).key();
    assert_eq!(
        refusal(f.validate_for(&multi(bindings), &other_leaf).unwrap_err()),
        MultiCredentialError::BindingSignature { index: 0 }
    );
}

#[test]
fn a_bad_binding_signature_is_refused_naming_the_binding() {
    let f = Fixture::new();
    let mut bindings = f.mixed();
    bindings[1].signature[0] ^= 1;
    for credential in [multi(bindings.clone()), weak(bindings)] {
        assert_eq!(
            refusal(f.validate(&credential).unwrap_err()),
            MultiCredentialError::BindingSignature { index: 1 }
        );
    }
}

#[test]
fn a_binding_key_that_the_certificate_does_not_certify_is_refused() {
    let f = Fixture::new();
    // The binding is signed correctly, but with a P-256 key the certificate is not for.
    let stranger = TestKey::new(P256, 77);
    let bindings = f.bindings(&[(P256, &f.cert, &stranger)]);
    let error = refusal(f.validate(&multi(bindings)).unwrap_err());
    assert_eq!(
        error,
        MultiCredentialError::BindingCredential {
            index: 0,
            source: Box::new(CredentialError::KeyMismatch)
        }
    );
    assert!(error.to_string().contains("§6.5.2"), "{error}");
    // A certificate's key must also be of the binding suite's scheme: the P-256 certificate
    // bound in an Ed25519 binding is refused (the binding key is then an Ed25519 key).
    let bindings = f.bindings(&[(ED, &f.cert, &f.basic_key)]);
    assert_eq!(
        refusal(f.validate(&multi(bindings)).unwrap_err()),
        MultiCredentialError::BindingCredential {
            index: 0,
            source: Box::new(CredentialError::SignatureSchemeMismatch(
                SignatureAlgorithm::Ed25519
            ))
        }
    );
}

#[test]
fn multi_needs_every_binding_supported_and_weak_multi_at_least_one() {
    let f = Fixture::new();
    let mut bindings = f.mixed();
    // A suite the crypto provider does not implement.
    bindings[0].cipher_suite = CipherSuite(0x7a7a);
    assert_eq!(
        refusal(f.validate(&multi(bindings.clone())).unwrap_err()),
        MultiCredentialError::UnsupportedBinding {
            index: 0,
            credential_type: CredentialType::X509,
            cipher_suite: CipherSuite(0x7a7a)
        }
    );
    // weak-multi skips it and validates the supported basic binding.
    f.validate(&weak(bindings.clone())).unwrap();
    // ... but a supported binding must still be valid.
    bindings[1].signature[0] ^= 1;
    assert_eq!(
        refusal(f.validate(&weak(bindings.clone())).unwrap_err()),
        MultiCredentialError::BindingSignature { index: 1 }
    );
    // With no supported binding at all, weak-multi is refused too.
    bindings[1].cipher_suite = CipherSuite(0x7a7a);
    assert_eq!(
        refusal(f.validate(&weak(bindings)).unwrap_err()),
        MultiCredentialError::NoSupportedBinding
    );
    // A credential type the inner provider does not list is unsupported as well.
    let basic_only =
        MultiCredentialProvider::new(Arc::new(BasicIdentityProvider), &RustCryptoProvider);
    let check = |credential: &Credential| {
        basic_only.validate_credential(&CredentialCheck {
            credential,
            signature_key: &f.leaf.key(),
            signature_scheme: SignatureAlgorithm::Ed25519,
            role: CredentialRole::Member,
            now: Y2024,
        })
    };
    assert_eq!(
        refusal(check(&multi(f.mixed())).unwrap_err()),
        MultiCredentialError::UnsupportedBinding {
            index: 0,
            credential_type: CredentialType::X509,
            cipher_suite: CipherSuite(P256)
        }
    );
    check(&weak(f.mixed())).unwrap();
}

#[test]
fn empty_and_nested_multi_credentials_are_refused() {
    let f = Fixture::new();
    assert_eq!(
        refusal(f.validate(&multi(Vec::new())).unwrap_err()),
        MultiCredentialError::NoBindings
    );
    let inner = multi(f.bindings(&[(ED, &f.basic, &f.basic_key)]));
    let nested = f.bindings(&[(ED, &f.basic, &f.basic_key), (ED, &inner, &f.basic_key)]);
    for credential in [multi(nested.clone()), weak(nested)] {
        assert_eq!(
            refusal(f.validate(&credential).unwrap_err()),
            MultiCredentialError::NestedMultiCredential { index: 1 }
        );
    }
}

#[test]
fn the_identity_is_the_first_supported_bindings() {
    let f = Fixture::new();
    assert_eq!(
        f.provider.identity(&multi(f.mixed())).unwrap(),
        b"im:alice@corp.example"
    );
    let basic_first = f.bindings(&[(ED, &f.basic, &f.basic_key), (P256, &f.cert, &f.cert_key)]);
    assert_eq!(f.provider.identity(&multi(basic_first)).unwrap(), b"alice");
    // An unsupported first binding is skipped.
    let mut bindings = f.mixed();
    bindings[0].cipher_suite = CipherSuite(0x7a7a);
    assert_eq!(
        f.provider.identity(&weak(bindings.clone())).unwrap(),
        b"alice"
    );
    bindings[1].cipher_suite = CipherSuite(0x7a7a);
    assert_eq!(
        refusal(f.provider.identity(&weak(bindings)).unwrap_err()),
        MultiCredentialError::NoSupportedBinding
    );
}

#[test]
fn a_successor_keeps_the_identity_of_its_first_supported_binding() {
    let f = Fixture::new();
    let p = &f.provider;
    let bob = basic("bob");
    let bob_key = TestKey::new(ED, 5);
    let basic_first =
        multi(f.bindings(&[(ED, &f.basic, &f.basic_key), (P256, &f.cert, &f.cert_key)]));
    let cert_first = multi(f.mixed());
    // basic "alice" -> a multi-credential presenting "alice" first -> dropping the
    // certificate again.
    assert!(p.valid_successor(&f.basic, &basic_first).unwrap());
    assert!(p.valid_successor(&basic_first, &f.basic).unwrap());
    // The other bindings may change: the certificate is the identity here.
    assert!(p.valid_successor(&cert_first, &f.cert).unwrap());
    let other_second = multi(f.bindings(&[(P256, &f.cert, &f.cert_key), (ED, &bob, &bob_key)]));
    assert!(p.valid_successor(&cert_first, &other_second).unwrap());
    assert!(p.valid_successor(&cert_first, &weak(f.mixed())).unwrap());
    // The identity may not change: another first binding, or another basic identity.
    assert!(!p.valid_successor(&f.basic, &cert_first).unwrap());
    assert!(!p.valid_successor(&basic_first, &cert_first).unwrap());
    let renamed = multi(f.bindings(&[(ED, &bob, &bob_key), (P256, &f.cert, &f.cert_key)]));
    assert!(!p.valid_successor(&basic_first, &renamed).unwrap());
    // An unsupported first binding is skipped, as for the identity.
    let mut skipped = f.bindings(&[(ED, &bob, &bob_key), (ED, &f.basic, &f.basic_key)]);
    skipped[0].cipher_suite = CipherSuite(0x7a7a);
    assert!(p.valid_successor(&f.basic, &weak(skipped)).unwrap());
    // Plain credentials are the inner provider's business.
    assert!(p.valid_successor(&f.basic, &basic("alice")).unwrap());
    assert!(!p.valid_successor(&f.basic, &bob).unwrap());
}

#[test]
fn the_inner_provider_sees_each_binding_then_the_whole_credential() {
    /// Records what it is asked; refuses multi-credentials without an X.509 binding.
    #[derive(Default)]
    struct Recorder(std::sync::Mutex<Vec<String>>);
    impl IdentityProvider for Recorder {
        fn validate_credential(&self, check: &CredentialCheck<'_>) -> Result<(), CredentialError> {
            self.0.lock().unwrap().push(format!(
                "{:?} key {} {:?}",
                check.credential.credential_type(),
                check.signature_key.as_ref().len(),
                check.signature_scheme
            ));
            Ok(())
        }
        fn identity(&self, _: &Credential) -> Result<Vec<u8>, CredentialError> {
            Ok(Vec::new())
        }
        fn valid_successor(&self, _: &Credential, _: &Credential) -> Result<bool, CredentialError> {
            Ok(true)
        }
        fn supported_credential_types(&self) -> Vec<CredentialType> {
            vec![CredentialType::BASIC, CredentialType::X509]
        }
        fn validate_multi_credential(
            &self,
            check: &MultiCredentialCheck<'_>,
        ) -> Result<(), CredentialError> {
            self.0
                .lock()
                .unwrap()
                .push(format!("whole {:?}", check.validated));
            let has_x509 = check.validated.iter().any(|i| {
                check
                    .bindings
                    .get(*i)
                    .map(|b| b.credential.credential_type())
                    == Some(CredentialType::X509)
            });
            if has_x509 {
                Ok(())
            } else {
                Err(CredentialError::Rejected(
                    "an X.509 binding is required".into(),
                ))
            }
        }
    }
    let f = Fixture::new();
    let recorder = Arc::new(Recorder::default());
    let provider = MultiCredentialProvider::new(recorder.clone(), &RustCryptoProvider);
    let check = |credential: &Credential| {
        provider.validate_credential(&CredentialCheck {
            credential,
            signature_key: &f.leaf.key(),
            signature_scheme: SignatureAlgorithm::Ed25519,
            role: CredentialRole::Member,
            now: Y2024,
        })
    };
    check(&multi(f.mixed())).unwrap();
    assert_eq!(
        *recorder.0.lock().unwrap(),
        vec![
            // The certificate with its P-256 credential key (65-byte SEC1 point), then the
            // basic credential with its Ed25519 key.
            "CredentialType(2) key 65 EcdsaP256Sha256".to_string(),
            "CredentialType(1) key 32 Ed25519".to_string(),
            "whole [0, 1]".to_string(),
        ]
    );
    assert_eq!(
        check(&multi(f.bindings(&[(ED, &f.basic, &f.basic_key)]))),
        Err(CredentialError::Rejected(
            "an X.509 binding is required".into()
        ))
    );
    let types = provider.supported_credential_types();
    for kind in [
        CredentialType::BASIC,
        CredentialType::X509,
        MULTI_CREDENTIAL,
        WEAK_MULTI_CREDENTIAL,
    ] {
        assert!(types.contains(&kind), "{kind:?}");
    }
}

#[test]
fn advertised_support_lists_the_credential_and_every_binding() {
    let f = Fixture::new();
    let mut capabilities = Capabilities {
        versions: Vec::new(),
        cipher_suites: vec![CipherSuite(ED)],
        extensions: Vec::new(),
        proposals: Vec::new(),
        credentials: vec![CredentialType::BASIC],
    };
    advertise_support(&mut capabilities, &weak(f.mixed()));
    assert_eq!(
        capabilities.cipher_suites,
        vec![CipherSuite(ED), CipherSuite(P256)]
    );
    assert_eq!(
        capabilities.credentials,
        vec![
            CredentialType::BASIC,
            WEAK_MULTI_CREDENTIAL,
            CredentialType::X509
        ]
    );
}
