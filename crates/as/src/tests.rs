//! Enrolment, certificate validation by members, revocation and expiry.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use conclave_core::credential::{
    CredentialCheck, CredentialRole, IdentityProvider, RevocationList, X509IdentityProvider,
};
use conclave_core::group::{
    CommitOptions, Group, GroupEnv, GroupError, KeyPackageBundle, MemberParams, NewGroup,
    SigningIdentity,
};
use conclave_core::messages::{Add, Proposal};
use conclave_crypto::{CipherSuite, CryptoProvider, SeededRng};
use conclave_crypto_rustcrypto::RustCryptoProvider;

use super::*;

const NOW: u64 = 1_750_000_000;

fn service(suite: u16, rng: &mut SeededRng) -> AuthenticationService<InMemoryAsStore> {
    let cs = RustCryptoProvider
        .cipher_suite_provider(CipherSuite(suite))
        .unwrap();
    AuthenticationService::new(cs, InMemoryAsStore::new(), NOW, rng).unwrap()
}

/// A client enrols: it makes its key pair, signs the request, gets its credential.
fn enrol(
    service: &AuthenticationService<InMemoryAsStore>,
    name: &str,
    rng: &mut SeededRng,
) -> SigningIdentity {
    let cs = RustCryptoProvider
        .cipher_suite_provider(service.cipher_suite())
        .unwrap();
    let (secret, public) = cs.signature_generate(rng).unwrap();
    let token = service.issue_token(name, NOW, rng).unwrap();
    let request = EnrolmentRequest::sign(
        cs.as_ref(),
        name,
        SignaturePublicKey(public.clone()),
        &secret,
        token,
    )
    .unwrap();
    let credential = service.enrol(&request, NOW).unwrap();
    SigningIdentity {
        secret_key: secret,
        public_key: SignaturePublicKey(public),
        credential,
    }
}

fn validator(
    service: &AuthenticationService<InMemoryAsStore>,
    revoked: RevocationList,
) -> X509IdentityProvider {
    X509IdentityProvider::new([service.root_certificate()], &RustCryptoProvider)
        .unwrap()
        .with_revocation_list(revoked)
}

fn check(
    provider: &X509IdentityProvider,
    identity: &SigningIdentity,
    suite: CipherSuite,
    now: u64,
) -> Result<(), conclave_core::credential::CredentialError> {
    let cs = RustCryptoProvider.cipher_suite_provider(suite).unwrap();
    provider.validate_credential(&CredentialCheck {
        credential: &identity.credential,
        signature_key: &identity.public_key,
        signature_scheme: cs.signature(),
        role: CredentialRole::Member,
        now,
    })
}

#[test]
fn enrolment_issues_certificates_members_accept() {
    // RFC 9420's suites 1, 2, 7 and the ML-DSA suites of draft-ietf-mls-pq-ciphersuites
    // (TBD9–TBD11: root and client keys ML-DSA-44/65/87, RFC 9881 certificates).
    for suite in [1u16, 2, 7, 0xF0A8, 0xF0A9, 0xF0AA] {
        let mut rng = SeededRng::new(u64::from(suite));
        let service = service(suite, &mut rng);
        let alice = enrol(&service, "alice", &mut rng);
        let provider = validator(&service, RevocationList::default());
        check(&provider, &alice, CipherSuite(suite), NOW).unwrap();
        assert_eq!(
            provider.identity(&alice.credential).unwrap(),
            b"mls://alice"
        );
        // The certificate is short-lived: two days later it is refused.
        assert!(check(&provider, &alice, CipherSuite(suite), NOW + 2 * 24 * 3600).is_err());
        // A foreign root does not vouch for it.
        let other = self::service(suite, &mut rng);
        let foreign =
            X509IdentityProvider::new([other.root_certificate()], &RustCryptoProvider).unwrap();
        assert!(check(&foreign, &alice, CipherSuite(suite), NOW).is_err());
    }
}

#[test]
fn tokens_proofs_and_names_are_checked() {
    let mut rng = SeededRng::new(9);
    let service = service(1, &mut rng);
    let cs = RustCryptoProvider
        .cipher_suite_provider(CipherSuite(1))
        .unwrap();
    let (secret, public) = cs.signature_generate(&mut rng).unwrap();
    let key = SignaturePublicKey(public);
    let token = service.issue_token("bob", NOW, &mut rng).unwrap();

    // Someone else's token, a forged proof, a bad name.
    let wrong_name =
        EnrolmentRequest::sign(cs.as_ref(), "carol", key.clone(), &secret, token.clone()).unwrap();
    assert_eq!(service.enrol(&wrong_name, NOW), Err(AsError::InvalidToken));
    let (other_secret, _) = cs.signature_generate(&mut rng).unwrap();
    let forged = EnrolmentRequest::sign(
        cs.as_ref(),
        "bob",
        key.clone(),
        &other_secret,
        token.clone(),
    )
    .unwrap();
    assert_eq!(service.enrol(&forged, NOW), Err(AsError::InvalidProof));
    assert!(matches!(
        service.issue_token("Bob Smith", NOW, &mut rng),
        Err(AsError::InvalidName(_))
    ));

    // The right one works once.
    let good = EnrolmentRequest::sign(cs.as_ref(), "bob", key, &secret, token).unwrap();
    service.enrol(&good, NOW).unwrap();
    assert_eq!(service.enrol(&good, NOW), Err(AsError::InvalidToken));
}

#[test]
fn revoked_client_cannot_enrol_or_be_added() {
    let mut rng = SeededRng::new(10);
    let suite = CipherSuite(1);
    let service = service(1, &mut rng);
    let alice = enrol(&service, "alice", &mut rng);
    let mallory = enrol(&service, "mallory", &mut rng);

    let revoked: RevocationList = Arc::new(RwLock::new(HashSet::new()));
    let env = GroupEnv {
        crypto: Arc::new(RustCryptoProvider),
        identity: Arc::new(validator(&service, revoked.clone())),
        psks: Arc::new(()),
    };
    let mallory_kp = KeyPackageBundle::generate(
        &MemberParams::new(env.clone(), mallory.clone()),
        suite,
        NOW,
        &mut rng,
    )
    .unwrap();
    let mut group = Group::create(
        MemberParams::new(env, alice),
        NewGroup::new(suite, b"as".to_vec()),
        NOW,
        &mut rng,
    )
    .unwrap();

    service.revoke("mallory").unwrap();
    // Members learn the revocation list from the AS.
    revoked.write().unwrap().extend(
        service
            .revoked()
            .unwrap()
            .into_iter()
            .map(String::into_bytes),
    );
    let add = CommitOptions {
        proposals: vec![Proposal::Add(Add {
            key_package: mallory_kp.key_package,
        })],
        ..CommitOptions::default()
    };
    assert!(matches!(
        group.commit(&add, NOW, &mut rng),
        Err(GroupError::Validation(_))
    ));

    let token = service.issue_token("mallory", NOW, &mut rng);
    let cs = RustCryptoProvider.cipher_suite_provider(suite).unwrap();
    let (secret, public) = cs.signature_generate(&mut rng).unwrap();
    let request = EnrolmentRequest::sign(
        cs.as_ref(),
        "mallory",
        SignaturePublicKey(public),
        &secret,
        token.unwrap(),
    )
    .unwrap();
    assert_eq!(
        service.enrol(&request, NOW),
        Err(AsError::Revoked("mallory".into()))
    );
}

#[test]
fn expired_tokens_are_refused_and_used_up() {
    let mut rng = SeededRng::new(11);
    let service = service(1, &mut rng).with_token_lifetime(3600);
    let cs = RustCryptoProvider
        .cipher_suite_provider(CipherSuite(1))
        .unwrap();
    let (secret, public) = cs.signature_generate(&mut rng).unwrap();
    let token = service.issue_token("dave", NOW, &mut rng).unwrap();
    let request = EnrolmentRequest::sign(
        cs.as_ref(),
        "dave",
        SignaturePublicKey(public),
        &secret,
        token,
    )
    .unwrap();
    assert_eq!(
        service.enrol(&request, NOW + 3601),
        Err(AsError::ExpiredToken)
    );
    // Presented once, expired or not, a token is gone.
    assert_eq!(service.enrol(&request, NOW), Err(AsError::InvalidToken));

    // Within its lifetime it works; the store keeps only its hash.
    let token = service.issue_token("dave", NOW, &mut rng).unwrap();
    let (secret, public) = cs.signature_generate(&mut rng).unwrap();
    let request = EnrolmentRequest::sign(
        cs.as_ref(),
        "dave",
        SignaturePublicKey(public),
        &secret,
        token.clone(),
    )
    .unwrap();
    service.enrol(&request, NOW + 3599).unwrap();
    let issued = service.issued("dave").unwrap();
    assert_eq!(issued.len(), 1);
    assert_eq!(
        issued[0].not_after,
        NOW + 3599 + DEFAULT_CERTIFICATE_LIFETIME
    );
}

#[test]
fn open_or_create_keeps_the_root() {
    let mut rng = SeededRng::new(12);
    let store = Arc::new(InMemoryAsStore::new());
    let cs = || {
        RustCryptoProvider
            .cipher_suite_provider(CipherSuite(2))
            .unwrap()
    };
    let first = AuthenticationService::open_or_create(store.clone(), cs(), NOW, &mut rng).unwrap();
    let alice = {
        let cs = cs();
        let (secret, public) = cs.signature_generate(&mut rng).unwrap();
        let token = first.issue_token("alice", NOW, &mut rng).unwrap();
        let request = EnrolmentRequest::sign(
            cs.as_ref(),
            "alice",
            SignaturePublicKey(public.clone()),
            &secret,
            token,
        )
        .unwrap();
        (
            first.enrol(&request, NOW).unwrap(),
            SignaturePublicKey(public),
        )
    };
    let second =
        AuthenticationService::open_or_create(store.clone(), cs(), NOW + 10, &mut rng).unwrap();
    assert_eq!(first.root_certificate(), second.root_certificate());
    // The reopened service vouches for what the first one issued.
    let name = second
        .validate_credential(
            &RustCryptoProvider,
            &alice.0,
            &alice.1,
            cs().signature(),
            NOW + 20,
        )
        .unwrap();
    assert_eq!(name, "alice");

    // Another suite than the stored root's is refused with an explanation.
    let other = RustCryptoProvider
        .cipher_suite_provider(CipherSuite(1))
        .unwrap();
    let err = AuthenticationService::open_or_create(store, other, NOW, &mut rng).unwrap_err();
    assert!(
        matches!(&err, AsError::Root(m) if m.contains("cipher suite 2")),
        "{err}"
    );
}

#[test]
fn validate_credential_checks_root_expiry_key_and_revocation() {
    let mut rng = SeededRng::new(13);
    let service = service(1, &mut rng);
    let alice = enrol(&service, "alice", &mut rng);
    let scheme = RustCryptoProvider
        .cipher_suite_provider(CipherSuite(1))
        .unwrap()
        .signature();
    let validate = |s: &AuthenticationService<InMemoryAsStore>, id: &SigningIdentity, now| {
        s.validate_credential(
            &RustCryptoProvider,
            &id.credential,
            &id.public_key,
            scheme,
            now,
        )
    };
    assert_eq!(validate(&service, &alice, NOW).unwrap(), "alice");
    // Expired.
    assert!(matches!(
        validate(&service, &alice, NOW + 2 * DEFAULT_CERTIFICATE_LIFETIME),
        Err(AsError::Credential(CredentialError::NotValidAtTime { .. }))
    ));
    // Another key than the certificate's.
    let bob = enrol(&service, "bob", &mut rng);
    let mixed = SigningIdentity {
        secret_key: bob.secret_key.clone(),
        public_key: bob.public_key.clone(),
        credential: alice.credential.clone(),
    };
    assert!(matches!(
        validate(&service, &mixed, NOW),
        Err(AsError::Credential(CredentialError::KeyMismatch))
    ));
    // Another AS's credential.
    let other = self::service(1, &mut rng);
    let foreign = enrol(&other, "alice", &mut rng);
    let err = validate(&service, &foreign, NOW).unwrap_err();
    assert!(
        matches!(err, AsError::Credential(CredentialError::UntrustedRoot)),
        "{err:?}"
    );
    // A basic credential.
    let basic = SigningIdentity {
        credential: Credential::Basic {
            identity: b"alice".to_vec(),
        },
        ..alice.clone()
    };
    assert!(matches!(
        validate(&service, &basic, NOW),
        Err(AsError::Credential(
            CredentialError::UnsupportedCredentialType(_)
        ))
    ));
    // Revoked.
    service.revoke("alice").unwrap();
    assert!(matches!(
        validate(&service, &alice, NOW),
        Err(AsError::Credential(CredentialError::Rejected(_)))
    ));
    assert_eq!(validate(&service, &bob, NOW).unwrap(), "bob");
    // Two credentials of the same client present the same identity (RFC 9420 §5.3.3).
    let bob2 = enrol(&service, "bob", &mut rng);
    let provider = service.identity_provider(&RustCryptoProvider).unwrap();
    assert!(
        provider
            .valid_successor(&bob.credential, &bob2.credential)
            .unwrap()
    );
    assert!(
        !provider
            .valid_successor(&bob.credential, &alice.credential)
            .unwrap()
    );
}
