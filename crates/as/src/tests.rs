//! Enrolment, certificate validation by members, revocation and expiry.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use conclave_core::credential::{
    CredentialCheck, CredentialRole, IdentityProvider, RevocationList, X509IdentityProvider,
};
use conclave_core::group::{
    CommitOptions, Group, GroupConfig, GroupEnv, GroupError, KeyPackageBundle, LeafOptions,
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
    let token = service.issue_token(name, rng).unwrap();
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
    for suite in [1u16, 2, 7] {
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
    let token = service.issue_token("bob", &mut rng).unwrap();

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
        service.issue_token("Bob Smith", &mut rng),
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
        &env,
        suite,
        &mallory,
        &LeafOptions::default(),
        NOW,
        &mut rng,
    )
    .unwrap();
    let mut group = Group::create(
        env,
        suite,
        b"as".to_vec(),
        alice,
        Vec::new(),
        GroupConfig::default(),
        &LeafOptions::default(),
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

    let token = service.issue_token("mallory", &mut rng);
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
