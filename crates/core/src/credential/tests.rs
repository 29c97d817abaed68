//! Tests of credential validation: certificate chains are generated with `rcgen`, signing
//! through our own cipher-suite providers.

use conclave_crypto::{CipherSuite, CipherSuiteProvider, CryptoProvider, Secret, SeededRng};
use conclave_crypto_rustcrypto::RustCryptoProvider;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, IsCa, Issuer, KeyIdMethod,
    KeyUsagePurpose, SanType, date_time_ymd,
};

use super::*;
use crate::messages::Certificate;

/// 2020-01-01T00:00:00Z.
const Y2020: u64 = 1_577_836_800;
/// 2024-01-01T00:00:00Z.
pub(super) const Y2024: u64 = 1_704_067_200;
/// 2030-01-01T00:00:00Z.
const Y2030: u64 = 1_893_456_000;

/// A signature key pair of one of our suites, usable as an rcgen signing key.
pub(super) struct TestKey {
    cs: Box<dyn CipherSuiteProvider>,
    pub(super) secret: Secret,
    public: Vec<u8>,
    alg: &'static rcgen::SignatureAlgorithm,
}

impl TestKey {
    pub(super) fn new(suite: u16, seed: u64) -> Self {
        let cs = RustCryptoProvider
            .cipher_suite_provider(CipherSuite(suite))
            .unwrap();
        let (secret, public) = cs.signature_generate(&mut SeededRng::new(seed)).unwrap();
        let alg = match cs.signature() {
            SignatureAlgorithm::Ed25519 => &rcgen::PKCS_ED25519,
            SignatureAlgorithm::EcdsaP256Sha256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            SignatureAlgorithm::EcdsaP384Sha384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            other => panic!("no rcgen algorithm for {other:?}"),
        };
        Self {
            cs,
            secret,
            public,
            alg,
        }
    }

    pub(super) fn key(&self) -> SignaturePublicKey {
        SignaturePublicKey(self.public.clone())
    }
}

impl rcgen::PublicKeyData for TestKey {
    fn der_bytes(&self) -> &[u8] {
        &self.public
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        self.alg
    }
}

impl rcgen::SigningKey for TestKey {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.cs
            .sign(self.secret.as_bytes(), msg)
            .map_err(|_| rcgen::Error::RemoteKeyError)
    }
}

/// A positive serial number derived from the subject name.
fn serial(name: &str) -> rcgen::SerialNumber {
    let mut bytes = vec![1];
    bytes.extend(name.bytes().take(18));
    rcgen::SerialNumber::from_slice(&bytes)
}

fn ca_params(name: &str, path_len: Option<u8>) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.serial_number = Some(serial(name));
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, name.to_string());
    params.is_ca = IsCa::Ca(match path_len {
        Some(n) => BasicConstraints::Constrained(n),
        None => BasicConstraints::Unconstrained,
    });
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.key_identifier_method = KeyIdMethod::PreSpecified(name.as_bytes().to_vec());
    params.not_before = date_time_ymd(2020, 1, 1);
    params.not_after = date_time_ymd(2030, 1, 1);
    params
}

pub(super) fn leaf_params(uri: &str, cn: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.serial_number = Some(serial(cn));
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, cn.to_string());
    params.subject_alt_names = vec![
        SanType::DnsName("alice.example.com".try_into().unwrap()),
        SanType::URI(uri.try_into().unwrap()),
    ];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.key_identifier_method = KeyIdMethod::PreSpecified(cn.as_bytes().to_vec());
    params.not_before = date_time_ymd(2023, 1, 1);
    params.not_after = date_time_ymd(2025, 1, 1);
    params
}

/// A root CA, its certificate DER, and an issuer for signing with it.
pub(super) struct Ca {
    key: TestKey,
    params: CertificateParams,
    pub(super) der: Vec<u8>,
}

impl Ca {
    pub(super) fn root(name: &str, suite: u16, seed: u64) -> Self {
        let key = TestKey::new(suite, seed);
        let params = ca_params(name, None);
        let der = params.self_signed(&key).unwrap().der().to_vec();
        Self { key, params, der }
    }

    pub(super) fn issue(&self, params: &CertificateParams, subject: &TestKey) -> Vec<u8> {
        let issuer = Issuer::from_params(&self.params, &self.key);
        params.signed_by(subject, &issuer).unwrap().der().to_vec()
    }

    fn intermediate(&self, name: &str, suite: u16, seed: u64, path_len: Option<u8>) -> Self {
        let key = TestKey::new(suite, seed);
        let params = ca_params(name, path_len);
        let der = self.issue(&params, &key);
        Self { key, params, der }
    }
}

pub(super) fn x509(chain: &[&[u8]]) -> Credential {
    Credential::X509 {
        certificates: chain
            .iter()
            .map(|c| Certificate {
                cert_data: c.to_vec(),
            })
            .collect(),
    }
}

fn provider(anchors: &[&[u8]]) -> X509IdentityProvider {
    X509IdentityProvider::new(anchors.iter().copied(), &RustCryptoProvider).unwrap()
}

fn check<'a>(
    credential: &'a Credential,
    key: &'a SignaturePublicKey,
    scheme: SignatureAlgorithm,
    now: u64,
) -> CredentialCheck<'a> {
    CredentialCheck {
        credential,
        signature_key: key,
        signature_scheme: scheme,
        role: CredentialRole::Member,
        now,
    }
}

#[test]
fn valid_chain_for_each_scheme() {
    for (suite, scheme) in [
        (1, SignatureAlgorithm::Ed25519),
        (2, SignatureAlgorithm::EcdsaP256Sha256),
        (7, SignatureAlgorithm::EcdsaP384Sha384),
    ] {
        let ca = Ca::root("Root CA", suite, 1);
        let alice = TestKey::new(suite, 2);
        let leaf = ca.issue(&leaf_params("im:alice@example.com", "Alice"), &alice);
        let p = provider(&[&ca.der]);
        let cred = x509(&[&leaf]);
        p.validate_credential(&check(&cred, &alice.key(), scheme, Y2024))
            .unwrap_or_else(|e| panic!("suite {suite}: {e}"));
        // The chain may also carry the root itself.
        let with_root = x509(&[&leaf, &ca.der]);
        p.validate_credential(&check(&with_root, &alice.key(), scheme, Y2024))
            .unwrap();
        assert_eq!(p.identity(&cred).unwrap(), b"im:alice@example.com");
    }
}

#[test]
fn mixed_scheme_chain_with_intermediate() {
    // P-384 root, P-256 intermediate, Ed25519 leaf: every link verified by its own suite.
    let root = Ca::root("Root CA", 7, 10);
    let inter = root.intermediate("Intermediate CA", 2, 11, Some(0));
    let alice = TestKey::new(1, 12);
    let leaf = inter.issue(&leaf_params("im:alice@example.com", "Alice"), &alice);
    let p = provider(&[&root.der]);
    let ed = SignatureAlgorithm::Ed25519;
    p.validate_credential(&check(&x509(&[&leaf, &inter.der]), &alice.key(), ed, Y2024))
        .unwrap();
    // Without the intermediate the chain does not reach the anchor.
    assert_eq!(
        p.validate_credential(&check(&x509(&[&leaf]), &alice.key(), ed, Y2024)),
        Err(CredentialError::UntrustedRoot)
    );
    // Trusting the intermediate directly allows omitting it (RFC 9420 §5.3).
    let p2 = provider(&[&inter.der]);
    p2.validate_credential(&check(&x509(&[&leaf]), &alice.key(), ed, Y2024))
        .unwrap();
    // Chain out of order: issuer mismatch.
    assert_eq!(
        p.validate_credential(&check(&x509(&[&inter.der, &leaf]), &alice.key(), ed, Y2024)),
        Err(CredentialError::SignatureSchemeMismatch(ed))
    );
}

#[test]
fn path_length_constraint_is_enforced() {
    let root = Ca::root("Root CA", 1, 20);
    let inter1 = root.intermediate("Intermediate 1", 1, 21, Some(0));
    let inter2 = inter1.intermediate("Intermediate 2", 1, 22, None);
    let alice = TestKey::new(1, 23);
    let leaf = inter2.issue(&leaf_params("im:alice@example.com", "Alice"), &alice);
    let p = provider(&[&root.der]);
    let cred = x509(&[&leaf, &inter2.der, &inter1.der]);
    assert_eq!(
        p.validate_credential(&check(
            &cred,
            &alice.key(),
            SignatureAlgorithm::Ed25519,
            Y2024
        )),
        Err(CredentialError::PathLengthExceeded { index: 2 })
    );
}

#[test]
fn wrong_root_is_untrusted() {
    let ca = Ca::root("Root CA", 1, 1);
    let alice = TestKey::new(1, 2);
    let leaf = ca.issue(&leaf_params("im:alice@example.com", "Alice"), &alice);
    let cred = x509(&[&leaf]);
    let ed = SignatureAlgorithm::Ed25519;
    // An anchor with another name.
    let other = Ca::root("Other CA", 1, 3);
    assert_eq!(
        provider(&[&other.der]).validate_credential(&check(&cred, &alice.key(), ed, Y2024)),
        Err(CredentialError::UntrustedRoot)
    );
    // An impostor anchor with the same name but another key.
    let impostor = Ca::root("Root CA", 1, 4);
    assert_eq!(
        provider(&[&impostor.der]).validate_credential(&check(&cred, &alice.key(), ed, Y2024)),
        Err(CredentialError::UntrustedRoot)
    );
    // A chain ending in a self-signed root that is not an anchor.
    assert_eq!(
        provider(&[&other.der]).validate_credential(&check(
            &x509(&[&leaf, &ca.der]),
            &alice.key(),
            ed,
            Y2024
        )),
        Err(CredentialError::UntrustedRoot)
    );
    // A chain ending in a foreign self-signed root named like the trusted anchor, which
    // allows no intermediate (path length 0): still an untrusted root.
    let strict_key = TestKey::new(1, 6);
    let strict_anchor = ca_params("Root CA", Some(0))
        .self_signed(&strict_key)
        .unwrap()
        .der()
        .to_vec();
    assert_eq!(
        provider(&[&strict_anchor]).validate_credential(&check(
            &x509(&[&leaf, &ca.der]),
            &alice.key(),
            ed,
            Y2024
        )),
        Err(CredentialError::UntrustedRoot)
    );
    // No anchors at all.
    assert_eq!(
        provider(&[]).validate_credential(&check(&cred, &alice.key(), ed, Y2024)),
        Err(CredentialError::UntrustedRoot)
    );
}

#[test]
fn validity_period_is_checked_at_the_supplied_time() {
    let ca = Ca::root("Root CA", 1, 1);
    let alice = TestKey::new(1, 2);
    let leaf = ca.issue(&leaf_params("im:alice@example.com", "Alice"), &alice);
    let p = provider(&[&ca.der]);
    let cred = x509(&[&leaf]);
    let ed = SignatureAlgorithm::Ed25519;
    // Leaf valid 2023..2025: expired in 2030 (the CA is still valid on 2030-01-01).
    assert!(matches!(
        p.validate_credential(&check(&cred, &alice.key(), ed, Y2030)),
        Err(CredentialError::NotValidAtTime {
            index: 0,
            now: Y2030,
            ..
        })
    ));
    // Not yet valid in 2020.
    assert!(matches!(
        p.validate_credential(&check(&cred, &alice.key(), ed, Y2020)),
        Err(CredentialError::NotValidAtTime { index: 0, .. })
    ));
    // An expired intermediate is reported at its index.
    let mut inter_params = ca_params("Old Intermediate", None);
    inter_params.not_after = date_time_ymd(2021, 1, 1);
    let inter_key = TestKey::new(1, 30);
    let inter_der = ca.issue(&inter_params, &inter_key);
    let inter = Ca {
        key: inter_key,
        params: inter_params,
        der: inter_der,
    };
    let leaf2 = inter.issue(&leaf_params("im:alice@example.com", "Alice"), &alice);
    assert!(matches!(
        p.validate_credential(&check(
            &x509(&[&leaf2, &inter.der]),
            &alice.key(),
            ed,
            Y2024
        )),
        Err(CredentialError::NotValidAtTime { index: 1, .. })
    ));
}

#[test]
fn key_must_match_the_leaf_node() {
    let ca = Ca::root("Root CA", 1, 1);
    let alice = TestKey::new(1, 2);
    let mallory = TestKey::new(1, 3);
    let leaf = ca.issue(&leaf_params("im:alice@example.com", "Alice"), &alice);
    let p = provider(&[&ca.der]);
    let cred = x509(&[&leaf]);
    assert_eq!(
        p.validate_credential(&check(
            &cred,
            &mallory.key(),
            SignatureAlgorithm::Ed25519,
            Y2024
        )),
        Err(CredentialError::KeyMismatch)
    );
    // An Ed25519 certificate in a P-256 group.
    assert_eq!(
        p.validate_credential(&check(
            &cred,
            &alice.key(),
            SignatureAlgorithm::EcdsaP256Sha256,
            Y2024
        )),
        Err(CredentialError::SignatureSchemeMismatch(
            SignatureAlgorithm::EcdsaP256Sha256
        ))
    );
}

#[test]
fn tampered_and_malformed_certificates_are_rejected() {
    let ca = Ca::root("Root CA", 1, 1);
    let inter = ca.intermediate("Intermediate CA", 1, 5, None);
    let alice = TestKey::new(1, 2);
    let mut leaf = inter.issue(&leaf_params("im:alice@example.com", "Alice"), &alice);
    let p = provider(&[&ca.der]);
    let ed = SignatureAlgorithm::Ed25519;
    p.validate_credential(&check(&x509(&[&leaf, &inter.der]), &alice.key(), ed, Y2024))
        .unwrap();
    // The Ed25519 signature is the last 64 bytes of the certificate.
    *leaf.last_mut().unwrap() ^= 1;
    assert_eq!(
        p.validate_credential(&check(&x509(&[&leaf, &inter.der]), &alice.key(), ed, Y2024)),
        Err(CredentialError::BadSignature { index: 0 })
    );
    // Directly under an anchor, a bad signature means no trusted issuer was found.
    let mut direct = ca.issue(&leaf_params("im:alice@example.com", "Alice"), &alice);
    *direct.last_mut().unwrap() ^= 1;
    assert_eq!(
        p.validate_credential(&check(&x509(&[&direct]), &alice.key(), ed, Y2024)),
        Err(CredentialError::UntrustedRoot)
    );
    leaf.truncate(leaf.len() - 1);
    assert!(matches!(
        p.validate_credential(&check(&x509(&[&leaf]), &alice.key(), ed, Y2024)),
        Err(CredentialError::CertificateParse { index: 0, .. })
    ));
    assert_eq!(
        p.validate_credential(&check(&x509(&[]), &alice.key(), ed, Y2024)),
        Err(CredentialError::EmptyChain)
    );
    let basic = Credential::Basic {
        identity: b"alice".to_vec(),
    };
    assert_eq!(
        p.validate_credential(&check(&basic, &alice.key(), ed, Y2024)),
        Err(CredentialError::UnsupportedCredentialType(
            CredentialType::BASIC
        ))
    );
    assert!(X509IdentityProvider::new([b"not a certificate"], &RustCryptoProvider).is_err());
}

#[test]
fn issuer_must_be_a_ca_and_critical_extensions_known() {
    let ca = Ca::root("Root CA", 1, 1);
    let alice = TestKey::new(1, 2);
    let bob = TestKey::new(1, 3);
    let ed = SignatureAlgorithm::Ed25519;
    let p = provider(&[&ca.der]);
    // Alice's end-entity certificate used as an issuer.
    let alice_params = leaf_params("im:alice@example.com", "Alice");
    let alice_der = ca.issue(&alice_params, &alice);
    let alice_as_issuer = Ca {
        key: alice,
        params: alice_params,
        der: alice_der,
    };
    let bob_leaf = alice_as_issuer.issue(&leaf_params("im:bob@example.com", "Bob"), &bob);
    assert!(matches!(
        p.validate_credential(&check(
            &x509(&[&bob_leaf, &alice_as_issuer.der]),
            &bob.key(),
            ed,
            Y2024
        )),
        Err(CredentialError::NotACa { index: 1, .. })
    ));
    // An unknown critical extension.
    let mut params = leaf_params("im:bob@example.com", "Bob");
    let mut ext = CustomExtension::from_oid_content(&[1, 2, 3, 4, 5], vec![0x05, 0x00]);
    ext.set_criticality(true);
    params.custom_extensions.push(ext);
    let leaf = ca.issue(&params, &bob);
    assert!(matches!(
        p.validate_credential(&check(&x509(&[&leaf]), &bob.key(), ed, Y2024)),
        Err(CredentialError::UnknownCriticalExtension { index: 0, .. })
    ));
    // A leaf whose keyUsage lacks digitalSignature.
    let mut params = leaf_params("im:bob@example.com", "Bob");
    params.key_usages = vec![KeyUsagePurpose::KeyEncipherment];
    let leaf = ca.issue(&params, &bob);
    assert_eq!(
        p.validate_credential(&check(&x509(&[&leaf]), &bob.key(), ed, Y2024)),
        Err(CredentialError::KeyUsage)
    );
}

#[test]
fn identity_choice_and_successors() {
    let ca = Ca::root("Root CA", 1, 1);
    let alice1 = TestKey::new(1, 2);
    let alice2 = TestKey::new(1, 3);
    let bob = TestKey::new(1, 4);
    let c1 = x509(&[&ca.issue(&leaf_params("im:alice@example.com", "Alice"), &alice1)]);
    let c2 = x509(&[&ca.issue(&leaf_params("im:alice@example.com", "Alice 2"), &alice2)]);
    let cb = x509(&[&ca.issue(&leaf_params("im:bob@example.com", "Bob"), &bob)]);
    let p = provider(&[&ca.der]);
    assert!(p.valid_successor(&c1, &c2).unwrap());
    assert!(!p.valid_successor(&c1, &cb).unwrap());
    assert_eq!(p.supported_credential_types(), vec![CredentialType::X509]);

    let by_cn = provider(&[&ca.der]).with_identity(X509Identity::CommonName);
    assert_eq!(by_cn.identity(&c1).unwrap(), b"Alice");
    assert!(!by_cn.valid_successor(&c1, &c2).unwrap());
    let by_dns = provider(&[&ca.der]).with_identity(X509Identity::SanDns);
    assert_eq!(by_dns.identity(&c1).unwrap(), b"alice.example.com");
    let by_email = provider(&[&ca.der]).with_identity(X509Identity::SanEmail);
    assert_eq!(
        by_email.identity(&c1),
        Err(CredentialError::IdentityMissing(
            "subjectAltName rfc822Name"
        ))
    );
    // A credential whose configured identity is missing does not validate.
    assert_eq!(
        by_email.validate_credential(&check(
            &c1,
            &alice1.key(),
            SignatureAlgorithm::Ed25519,
            Y2024
        )),
        Err(CredentialError::IdentityMissing(
            "subjectAltName rfc822Name"
        ))
    );
    let by_subject = provider(&[&ca.der]).with_identity(X509Identity::SubjectDer);
    assert_ne!(
        by_subject.identity(&c1).unwrap(),
        by_subject.identity(&cb).unwrap()
    );
}

#[test]
fn basic_provider() {
    let p = BasicIdentityProvider::new();
    let alice = Credential::Basic {
        identity: b"alice".to_vec(),
    };
    let bob = Credential::Basic {
        identity: b"bob".to_vec(),
    };
    let key = SignaturePublicKey(vec![1; 32]);
    p.validate_credential(&check(&alice, &key, SignatureAlgorithm::Ed25519, 0))
        .unwrap();
    assert_eq!(p.identity(&alice).unwrap(), b"alice");
    assert!(p.valid_successor(&alice, &alice.clone()).unwrap());
    assert!(!p.valid_successor(&alice, &bob).unwrap());
    let cert = x509(&[b"x"]);
    assert_eq!(
        p.validate_credential(&check(&cert, &key, SignatureAlgorithm::Ed25519, 0)),
        Err(CredentialError::UnsupportedCredentialType(
            CredentialType::X509
        ))
    );
    assert!(p.valid_successor(&alice, &cert).is_err());
    // Object safety.
    let dynamic: &dyn IdentityProvider = &p;
    assert_eq!(
        dynamic.supported_credential_types(),
        vec![CredentialType::BASIC]
    );
}

/// A whole group on X.509 credentials: members from the trusted root are added and can
/// talk; a KeyPackage from a foreign root or an expired certificate is refused.
#[test]
fn group_with_x509_credentials() {
    use std::sync::Arc;

    use crate::group::{
        CommitOptions, Group, GroupEnv, GroupError, JoinOptions, KeyPackageBundle, MemberParams,
        NewGroup, ProcessedMessage, SigningIdentity,
    };
    use crate::messages::{Add, MlsMessageBody, Proposal};

    let suite = CipherSuite(2);
    let root = Ca::root("Conclave Root", 2, 100);
    let foreign = Ca::root("Foreign Root", 2, 200);
    let env = GroupEnv {
        crypto: Arc::new(RustCryptoProvider),
        identity: Arc::new(provider(&[&root.der])),
        psks: Arc::new(()),
    };
    let member = |ca: &Ca, name: &str, seed: u64, not_after: (i32, u8, u8)| {
        let key = TestKey::new(2, seed);
        let mut params = leaf_params(&format!("mls://{name}"), name);
        params.not_after = date_time_ymd(not_after.0, not_after.1, not_after.2);
        let cert = ca.issue(&params, &key);
        SigningIdentity {
            secret_key: key.secret.clone(),
            public_key: key.key(),
            credential: x509(&[&cert]),
        }
    };
    let mut rng = SeededRng::new(5);
    let mut alice = Group::create(
        MemberParams::new(env.clone(), member(&root, "alice", 1, (2025, 1, 1))),
        NewGroup::new(suite, b"x509".to_vec()),
        Y2024,
        &mut rng,
    )
    .unwrap();
    let bob = member(&root, "bob", 2, (2025, 1, 1));
    let bob_kp = KeyPackageBundle::generate(
        &MemberParams::new(env.clone(), bob.clone()),
        suite,
        Y2024,
        &mut rng,
    )
    .unwrap();
    let add = |kp: &KeyPackageBundle| CommitOptions {
        proposals: vec![Proposal::Add(Add {
            key_package: kp.key_package.clone(),
        })],
        ..CommitOptions::default()
    };
    let output = alice.commit(&add(&bob_kp), Y2024, &mut rng).unwrap();
    alice.merge_pending_commit().unwrap();
    let Some(MlsMessageBody::Welcome(welcome)) = output.welcome.map(|w| w.body) else {
        panic!("no welcome")
    };
    let mut bob_group = Group::join(
        MemberParams::new(env.clone(), bob),
        &welcome,
        &bob_kp,
        &JoinOptions::default(),
        Y2024,
    )
    .unwrap();
    let message = alice
        .encrypt_application_message(b"hi bob", b"", &mut rng)
        .unwrap();
    assert!(matches!(
        bob_group.process_message(&message, Y2024).unwrap(),
        ProcessedMessage::Application { .. }
    ));

    // Mallory's certificate comes from another root: the Add is refused.
    let mallory = member(&foreign, "mallory", 3, (2025, 1, 1));
    let mallory_kp = KeyPackageBundle::generate(
        &MemberParams::new(env.clone(), mallory.clone()),
        suite,
        Y2024,
        &mut rng,
    )
    .unwrap();
    assert!(matches!(
        alice.commit(&add(&mallory_kp), Y2024, &mut rng),
        Err(GroupError::Validation(_))
    ));
    // Carol's certificate expired before now: refused too.
    let carol = member(&root, "carol", 4, (2023, 6, 1));
    let carol_kp = KeyPackageBundle::generate(
        &MemberParams::new(env.clone(), carol.clone()),
        suite,
        Y2024,
        &mut rng,
    )
    .unwrap();
    assert!(alice.commit(&add(&carol_kp), Y2024, &mut rng).is_err());
    assert!(!alice.has_pending_commit());
}
