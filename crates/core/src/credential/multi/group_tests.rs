//! Multi-credentials in groups (draft-ietf-mls-extensions-10 §6.5.2): members presenting
//! `multi` and `weak-multi` credentials with X.509 and basic bindings create, join and
//! update a group; Adds that break a rule are refused by the committer and by the
//! receivers, and a refusal leaves the group's state byte for byte as it was.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use conclave_crypto::{CipherSuite, SeededRng};
use conclave_crypto_rustcrypto::RustCryptoProvider;

use super::super::tests::{Ca, TestKey, Y2024, leaf_params, x509};
use super::tests::Mixed;
use super::*;
use crate::credential::X509IdentityProvider;
use crate::group::{
    CommitOptions, Group, GroupEnv, GroupError, JoinOptions, KeyPackageBundle, LeafOptions,
    MemberParams, NewGroup, SigningIdentity,
};
use crate::messages::{Add, MlsMessage, MlsMessageBody, Proposal, ProtocolVersion, Welcome};
use crate::validation::{BindingKind, MultiCredentialGap, ValidationError};

const NOW: u64 = Y2024;
/// The group's suite (Ed25519).
const ED: CipherSuite = CipherSuite(1);
/// A second suite (P-256), used by some bindings.
const P256: CipherSuite = CipherSuite(2);

fn basic(name: &str) -> Credential {
    Credential::Basic {
        identity: name.as_bytes().to_vec(),
    }
}

fn capabilities(suites: &[CipherSuite], types: &[CredentialType]) -> Capabilities {
    Capabilities {
        versions: vec![ProtocolVersion::MLS10],
        cipher_suites: suites.to_vec(),
        extensions: Vec::new(),
        proposals: Vec::new(),
        credentials: types.to_vec(),
    }
}

/// Every credential type, both suites.
fn full_support() -> Capabilities {
    capabilities(
        &[ED, P256],
        &[
            CredentialType::BASIC,
            CredentialType::X509,
            MULTI_CREDENTIAL,
            WEAK_MULTI_CREDENTIAL,
        ],
    )
}

/// Accepts every credential: a committer that does not check, so that the receivers'
/// checks can be seen.
struct AcceptAll;

impl IdentityProvider for AcceptAll {
    fn validate_credential(&self, _: &CredentialCheck<'_>) -> Result<(), CredentialError> {
        Ok(())
    }
    fn identity(&self, credential: &Credential) -> Result<Vec<u8>, CredentialError> {
        Ok(conclave_codec::Encode::to_bytes(credential).unwrap_or_default())
    }
    fn valid_successor(&self, _: &Credential, _: &Credential) -> Result<bool, CredentialError> {
        Ok(true)
    }
    fn supported_credential_types(&self) -> Vec<CredentialType> {
        vec![
            CredentialType::BASIC,
            CredentialType::X509,
            MULTI_CREDENTIAL,
            WEAK_MULTI_CREDENTIAL,
        ]
    }
}

/// The corporate CA, Alice's certificate (for a P-256 key) and the members' provider.
struct World {
    cert: Credential,
    cert_key: TestKey,
    provider: Arc<dyn IdentityProvider>,
    seed: u64,
}

impl World {
    fn new() -> Self {
        let ca = Ca::root("Corp Root", 2, 1);
        let cert_key = TestKey::new(2, 2);
        let cert = x509(&[&ca.issue(&leaf_params("im:alice@corp.example", "Alice"), &cert_key)]);
        let mixed = Mixed {
            x509: X509IdentityProvider::new([ca.der.as_slice()], &RustCryptoProvider).unwrap(),
        };
        Self {
            cert,
            cert_key,
            provider: Arc::new(MultiCredentialProvider::new(
                Arc::new(mixed),
                &RustCryptoProvider,
            )),
            seed: 100,
        }
    }

    fn key(&mut self, suite: CipherSuite) -> TestKey {
        self.seed += 1;
        TestKey::new(suite.0, self.seed)
    }

    fn env(&self) -> GroupEnv {
        GroupEnv {
            crypto: Arc::new(RustCryptoProvider),
            identity: self.provider.clone(),
            psks: Arc::new(RwLock::new(HashMap::new())),
        }
    }

    /// A member with `credential` (or, for `Bind`, a multi-credential bound to a fresh leaf
    /// key) and the given capabilities.
    fn member(&mut self, credential: Cred, capabilities: Capabilities) -> MemberParams {
        let leaf = self.key(ED);
        let credential = match credential {
            Cred::Plain(credential) => credential,
            Cred::Bind { weak, parts } => {
                let keys: Vec<(CipherSuite, Credential, TestKey)> = parts
                    .into_iter()
                    .map(|(suite, credential)| {
                        // The certificate's key is re-derived from its seed (World::new).
                        let key = if credential == self.cert {
                            TestKey::new(2, 2)
                        } else {
                            self.key(suite)
                        };
                        (suite, credential, key)
                    })
                    .collect();
                let publics: Vec<SignaturePublicKey> =
                    keys.iter().map(|(_, _, k)| k.key()).collect();
                let signers: Vec<BindingSigner<'_>> = keys
                    .iter()
                    .zip(&publics)
                    .map(|((suite, credential, key), public)| BindingSigner {
                        cipher_suite: *suite,
                        credential,
                        credential_key: public,
                        secret_key: &key.secret,
                    })
                    .collect();
                let bindings =
                    bind_credentials(&RustCryptoProvider, &leaf.key(), &signers).unwrap();
                if weak {
                    Credential::WeakMulti(WeakMultiCredential { bindings })
                } else {
                    Credential::Multi(MultiCredential { bindings })
                }
            }
        };
        let signer = SigningIdentity {
            secret_key: leaf.secret.clone(),
            public_key: leaf.key(),
            credential,
        };
        MemberParams {
            leaf: LeafOptions {
                capabilities: Some(capabilities),
                ..LeafOptions::default()
            },
            ..MemberParams::new(self.env(), signer)
        }
    }
}

/// How a test member's credential is made.
enum Cred {
    Plain(Credential),
    Bind {
        weak: bool,
        parts: Vec<(CipherSuite, Credential)>,
    },
}

fn alice_multi(world: &World) -> Cred {
    Cred::Bind {
        weak: false,
        parts: vec![(P256, world.cert.clone()), (ED, basic("alice"))],
    }
}

fn key_package(member: &MemberParams, seed: u64) -> KeyPackageBundle {
    KeyPackageBundle::generate(member, ED, NOW, &mut SeededRng::new(seed)).unwrap()
}

fn welcome(message: &MlsMessage) -> Welcome {
    match &message.body {
        MlsMessageBody::Welcome(w) => w.clone(),
        other => panic!("not a Welcome: {other:?}"),
    }
}

fn add(key_package: &KeyPackageBundle) -> CommitOptions {
    CommitOptions {
        proposals: vec![Proposal::Add(Add {
            key_package: key_package.key_package.clone(),
        })],
        ..CommitOptions::default()
    }
}

/// `creator` creates a group, then each of `others` is added by the creator and joins.
fn group_of(creator: &MemberParams, others: &[&MemberParams], rng: &mut SeededRng) -> Vec<Group> {
    let mut groups = vec![
        Group::create(
            creator.clone(),
            NewGroup::new(ED, b"multi".to_vec()),
            NOW,
            rng,
        )
        .unwrap(),
    ];
    for (i, member) in others.iter().enumerate() {
        let bundle = key_package(member, 1000 + i as u64);
        let output = groups[0].commit(&add(&bundle), NOW, rng).unwrap();
        groups[0].merge_pending_commit().unwrap();
        for group in groups.iter_mut().skip(1) {
            group.process_message(&output.commit, NOW).unwrap();
        }
        let joined = Group::join(
            (*member).clone(),
            &welcome(output.welcome.as_ref().unwrap()),
            &bundle,
            &JoinOptions::default(),
            NOW,
        )
        .unwrap();
        groups.push(joined);
    }
    groups
}

fn assert_agree(groups: &[Group]) {
    for group in groups {
        assert_eq!(group.epoch_authenticator(), groups[0].epoch_authenticator());
    }
}

fn validation_error(error: GroupError) -> ValidationError {
    match error {
        GroupError::Validation(e) => e,
        other => panic!("not a validation error: {other:?}"),
    }
}

fn multi_refusal(error: GroupError) -> MultiCredentialError {
    match validation_error(error) {
        ValidationError::Credential(CredentialError::MultiCredential(e)) => e,
        other => panic!("not a multi-credential refusal: {other:?}"),
    }
}

#[test]
fn members_with_multi_and_weak_multi_credentials_of_x509_and_basic_bindings_form_a_group() {
    let mut world = World::new();
    let mut rng = SeededRng::new(7);
    let alice = world.member(alice_multi(&world), full_support());
    let bob = world.member(Cred::Plain(basic("bob")), full_support());
    let carol = world.member(
        Cred::Bind {
            weak: true,
            parts: vec![(P256, basic("carol@p256")), (ED, basic("carol"))],
        },
        full_support(),
    );
    // Bob and Carol join and validate Alice's leaf in the tree (X.509 binding included).
    let mut groups = group_of(&alice, &[&bob, &carol], &mut rng);
    assert_agree(&groups);
    assert_eq!(groups.len(), 3);
    let alice_leaf = groups[1].members().next().unwrap().1.clone();
    assert_eq!(alice_leaf.credential.credential_type(), MULTI_CREDENTIAL);
    assert_eq!(
        world.provider.identity(&alice_leaf.credential).unwrap(),
        b"im:alice@corp.example"
    );
    // Carol commits an UpdatePath: her weak-multi leaf is validated by the others.
    let output = groups[2]
        .commit(&CommitOptions::default(), NOW, &mut rng)
        .unwrap();
    groups[2].merge_pending_commit().unwrap();
    for group in &mut groups[..2] {
        group.process_message(&output.commit, NOW).unwrap();
    }
    assert_agree(&groups);
}

#[test]
fn an_add_with_a_bad_binding_signature_is_refused_by_committer_and_receiver_alike() {
    let mut world = World::new();
    let mut rng = SeededRng::new(8);
    let lax = {
        let mut params = world.member(Cred::Plain(basic("alice")), full_support());
        params.env.identity = Arc::new(AcceptAll);
        params
    };
    let bob = world.member(Cred::Plain(basic("bob")), full_support());
    let mut groups = group_of(&lax, &[&bob], &mut rng);
    let carol = world.member(
        Cred::Bind {
            weak: false,
            parts: vec![(ED, basic("carol")), (P256, basic("carol@p256"))],
        },
        full_support(),
    );
    let mut bundle = key_package(&carol, 9);
    // Tamper with the second binding and re-sign the leaf and the KeyPackage, so that only
    // the binding is wrong.
    let Credential::Multi(multi) = &mut bundle.key_package.leaf_node.credential else {
        panic!("not multi");
    };
    multi.bindings[1].signature[3] ^= 1;
    resign(&mut bundle, &carol);

    // Bob (checking) refuses to commit it.
    let before = groups[1].to_bytes().unwrap();
    let refused = groups[1].commit(&add(&bundle), NOW, &mut rng).unwrap_err();
    assert_eq!(
        multi_refusal(refused),
        MultiCredentialError::BindingSignature { index: 1 }
    );
    assert_eq!(groups[1].to_bytes().unwrap(), before);
    // The lax committer commits it; Bob refuses the commit and his state is unchanged.
    let output = groups[0].commit(&add(&bundle), NOW, &mut rng).unwrap();
    let refused = groups[1].process_message(&output.commit, NOW).unwrap_err();
    assert_eq!(
        multi_refusal(refused),
        MultiCredentialError::BindingSignature { index: 1 }
    );
    assert_eq!(groups[1].to_bytes().unwrap(), before);
}

/// Re-signs a KeyPackage's leaf and the package after a test changed them.
fn resign(bundle: &mut KeyPackageBundle, owner: &MemberParams) {
    use conclave_crypto::labels::sign_with_label;
    let cs = RustCryptoProvider.cipher_suite_provider(ED).unwrap();
    let kp = &mut bundle.key_package;
    let tbs = kp.leaf_node.to_be_signed(None).unwrap();
    kp.leaf_node.signature = sign_with_label(
        cs.as_ref(),
        owner.signer.secret_key.as_bytes(),
        crate::validation::LEAF_NODE_TBS_LABEL,
        &tbs,
    )
    .unwrap();
    let tbs = kp.to_be_signed().unwrap();
    kp.signature = sign_with_label(
        cs.as_ref(),
        owner.signer.secret_key.as_bytes(),
        crate::validation::KEY_PACKAGE_TBS_LABEL,
        &tbs,
    )
    .unwrap();
}

#[test]
fn a_binding_key_the_certificate_does_not_certify_is_refused_on_add() {
    let mut world = World::new();
    let mut rng = SeededRng::new(9);
    let bob = world.member(Cred::Plain(basic("bob")), full_support());
    let mut groups = group_of(&bob, &[], &mut rng);
    // Mallory binds Alice's certificate with a key of her own.
    let mallory_key = world.key(P256);
    let leaf = world.key(ED);
    let public = mallory_key.key();
    let bindings = bind_credentials(
        &RustCryptoProvider,
        &leaf.key(),
        &[BindingSigner {
            cipher_suite: P256,
            credential: &world.cert,
            credential_key: &public,
            secret_key: &mallory_key.secret,
        }],
    )
    .unwrap();
    let mallory = MemberParams {
        leaf: LeafOptions {
            capabilities: Some(full_support()),
            ..LeafOptions::default()
        },
        ..MemberParams::new(
            world.env(),
            SigningIdentity {
                secret_key: leaf.secret.clone(),
                public_key: leaf.key(),
                credential: Credential::Multi(MultiCredential { bindings }),
            },
        )
    };
    let before = groups[0].to_bytes().unwrap();
    let refused = groups[0]
        .commit(&add(&key_package(&mallory, 10)), NOW, &mut rng)
        .unwrap_err();
    assert_eq!(
        multi_refusal(refused),
        MultiCredentialError::BindingCredential {
            index: 0,
            source: Box::new(CredentialError::KeyMismatch)
        }
    );
    assert_eq!(groups[0].to_bytes().unwrap(), before);
}

/// `member`'s Add is refused by the committer of a group of `alice` and `bob` with `error`,
/// and the committer's state is unchanged.
fn assert_add_refused(
    world: &mut World,
    alice: Cred,
    bob: Capabilities,
    carol: (Cred, Capabilities),
    error: ValidationError,
) {
    let mut rng = SeededRng::new(11);
    let alice = world.member(alice, full_support());
    let bob = world.member(Cred::Plain(basic("bob")), bob);
    let mut groups = group_of(&alice, &[&bob], &mut rng);
    let carol = world.member(carol.0, carol.1);
    let before = groups[0].to_bytes().unwrap();
    let refused = groups[0]
        .commit(&add(&key_package(&carol, 12)), NOW, &mut rng)
        .unwrap_err();
    assert_eq!(validation_error(refused), error);
    assert_eq!(groups[0].to_bytes().unwrap(), before);
}

#[test]
fn a_member_without_multi_support_blocks_the_add_of_a_multi_credential() {
    let mut world = World::new();
    let no_multi = capabilities(&[ED, P256], &[CredentialType::BASIC]);
    let carol = alice_multi(&world);
    assert_add_refused(
        &mut world,
        Cred::Plain(basic("alice")),
        no_multi,
        (carol, full_support()),
        ValidationError::MultiCredentialUnsupportedByMember(MultiCredentialGap::CredentialType(
            MULTI_CREDENTIAL,
        )),
    );
}

#[test]
fn a_binding_suite_that_a_member_lacks_blocks_the_add() {
    let mut world = World::new();
    let ed_only = capabilities(
        &[ED],
        &[
            CredentialType::BASIC,
            CredentialType::X509,
            MULTI_CREDENTIAL,
        ],
    );
    let carol = alice_multi(&world);
    assert_add_refused(
        &mut world,
        Cred::Plain(basic("alice")),
        ed_only,
        (carol, full_support()),
        ValidationError::MultiCredentialUnsupportedByMember(MultiCredentialGap::Binding(
            BindingKind {
                credential_type: CredentialType::X509,
                cipher_suite: P256,
            },
        )),
    );
}

#[test]
fn a_weak_multi_credential_with_no_binding_for_some_member_is_refused() {
    let mut world = World::new();
    // Bob supports weak-multi, but only Ed25519, and Carol's bindings are all P-256.
    let ed_only = capabilities(
        &[ED],
        &[
            CredentialType::BASIC,
            CredentialType::X509,
            WEAK_MULTI_CREDENTIAL,
        ],
    );
    let carol = Cred::Bind {
        weak: true,
        parts: vec![(P256, world.cert.clone()), (P256, basic("carol"))],
    };
    assert_add_refused(
        &mut world,
        Cred::Plain(basic("alice")),
        ed_only,
        (carol, full_support()),
        ValidationError::MultiCredentialUnsupportedByMember(MultiCredentialGap::NoBinding),
    );
}

#[test]
fn a_newcomer_who_cannot_support_a_members_multi_credential_is_refused() {
    let mut world = World::new();
    let alice = alice_multi(&world);
    let ed_only = capabilities(
        &[ED],
        &[
            CredentialType::BASIC,
            CredentialType::X509,
            MULTI_CREDENTIAL,
        ],
    );
    assert_add_refused(
        &mut world,
        alice,
        full_support(),
        (Cred::Plain(basic("carol")), ed_only),
        ValidationError::MultiCredentialInUseUnsupported(MultiCredentialGap::Binding(
            BindingKind {
                credential_type: CredentialType::X509,
                cipher_suite: P256,
            },
        )),
    );
}

#[test]
fn a_member_migrates_from_basic_to_a_multi_credential_but_cannot_change_its_identity() {
    let mut world = World::new();
    let mut rng = SeededRng::new(13);
    let alice = world.member(Cred::Plain(basic("alice")), full_support());
    let bob = world.member(Cred::Plain(basic("bob")), full_support());
    let mut groups = group_of(&alice, &[&bob], &mut rng);
    let leaf_key = alice.signer.public_key.clone();
    let bind = |world: &mut World, parts: &[(CipherSuite, &Credential)]| {
        let keys: Vec<TestKey> = parts.iter().map(|(suite, _)| world.key(*suite)).collect();
        let publics: Vec<SignaturePublicKey> = keys.iter().map(TestKey::key).collect();
        let signers: Vec<BindingSigner<'_>> = parts
            .iter()
            .zip(keys.iter().zip(&publics))
            .map(|((suite, credential), (key, public))| BindingSigner {
                cipher_suite: *suite,
                credential,
                credential_key: public,
                secret_key: &key.secret,
            })
            .collect();
        Credential::Multi(MultiCredential::new(&RustCryptoProvider, &leaf_key, &signers).unwrap())
    };
    // Presenting "alice" first and a certificate in a P-256 binding is a valid successor.
    let cert = world.cert.clone();
    let cert_key = world.cert_key.key();
    let mut migrated = bind(&mut world, &[(ED, &basic("alice"))]);
    if let Credential::Multi(multi) = &mut migrated {
        let signer = BindingSigner {
            cipher_suite: P256,
            credential: &cert,
            credential_key: &cert_key,
            secret_key: &world.cert_key.secret,
        };
        multi
            .bindings
            .extend(bind_credentials(&RustCryptoProvider, &leaf_key, &[signer]).unwrap());
    }
    groups[0].set_credential(migrated.clone(), NOW).unwrap();
    let output = groups[0]
        .commit(&CommitOptions::default(), NOW, &mut rng)
        .unwrap();
    groups[0].merge_pending_commit().unwrap();
    groups[1].process_message(&output.commit, NOW).unwrap();
    assert_agree(&groups);
    assert_eq!(groups[1].members().next().unwrap().1.credential, migrated);
    // Presenting another identity first is not: neither "mallory" nor the certificate.
    let renamed = bind(
        &mut world,
        &[(ED, &basic("mallory")), (ED, &basic("alice"))],
    );
    let before = groups[0].to_bytes().unwrap();
    assert_eq!(
        validation_error(groups[0].set_credential(renamed, NOW).unwrap_err()),
        ValidationError::CredentialNotValidSuccessor
    );
    let cert_first = Credential::Multi(MultiCredential {
        bindings: migrated.bindings().unwrap().iter().rev().cloned().collect(),
    });
    assert_eq!(
        validation_error(groups[0].set_credential(cert_first, NOW).unwrap_err()),
        ValidationError::CredentialNotValidSuccessor
    );
    assert_eq!(groups[0].to_bytes().unwrap(), before);
}
