//! Tests of leaf node and KeyPackage validation (RFC 9420 §7.3, §10.1, §12.1.7).

use conclave_codec::Encode;
use conclave_crypto::labels::sign_with_label;
use conclave_crypto::{CryptoProvider, Secret, SeededRng};
use conclave_crypto_rustcrypto::RustCryptoProvider;

use super::*;
use crate::credential::BasicIdentityProvider;
use crate::messages::{ApplicationId, Credential, ExtensionPayload, ExternalSender};

const SUITE: CipherSuite = CipherSuite(1);
const NOW: u64 = 1_000_000;
const GROUP_ID: &[u8] = b"group";
const GREASE_EXT: ExtensionType = ExtensionType(0x0a0a);

fn cs() -> Box<dyn CipherSuiteProvider> {
    RustCryptoProvider.cipher_suite_provider(SUITE).unwrap()
}

fn capabilities() -> Capabilities {
    Capabilities {
        versions: vec![ProtocolVersion::MLS10],
        cipher_suites: vec![SUITE],
        extensions: vec![],
        proposals: vec![],
        credentials: vec![CredentialType::BASIC],
    }
}

/// A client: signature key and a template leaf.
struct Client {
    secret: Secret,
    leaf: LeafNode,
}

fn client(cs: &dyn CipherSuiteProvider, seed: u8, name: &str) -> Client {
    let (secret, public) = cs
        .signature_generate(&mut SeededRng::new(u64::from(seed)))
        .unwrap();
    Client {
        secret,
        leaf: LeafNode {
            encryption_key: HpkePublicKey(vec![seed; 32]),
            signature_key: SignaturePublicKey(public),
            credential: Credential::Basic {
                identity: name.as_bytes().to_vec(),
            },
            capabilities: capabilities(),
            leaf_node_source: LeafNodeSource::KeyPackage(Lifetime {
                not_before: NOW - 10,
                not_after: NOW + 10,
            }),
            extensions: vec![],
            signature: vec![],
        },
    }
}

fn sign(
    cs: &dyn CipherSuiteProvider,
    secret: &Secret,
    mut leaf: LeafNode,
    group: Option<(&[u8], LeafIndex)>,
) -> LeafNode {
    let tbs = leaf.to_be_signed(group).unwrap();
    leaf.signature = sign_with_label(cs, secret.as_bytes(), LEAF_NODE_TBS_LABEL, &tbs).unwrap();
    leaf
}

fn key_package(cs: &dyn CipherSuiteProvider, client: &Client) -> KeyPackage {
    let mut kp = KeyPackage {
        version: ProtocolVersion::MLS10,
        cipher_suite: SUITE,
        init_key: HpkePublicKey(vec![0xee; 32]),
        leaf_node: Box::new(sign(cs, &client.secret, client.leaf.clone(), None)),
        extensions: vec![Extension {
            extension_type: GREASE_EXT,
            extension_data: vec![1, 2, 3],
        }],
        signature: vec![],
    };
    let tbs = kp.to_be_signed().unwrap();
    kp.signature =
        sign_with_label(cs, client.secret.as_bytes(), KEY_PACKAGE_TBS_LABEL, &tbs).unwrap();
    kp
}

/// The group's state for the validator: members' credential types and keys.
struct Fixture {
    cs: Box<dyn CipherSuiteProvider>,
    identity: BasicIdentityProvider,
    group: GroupRequirements,
    members: MemberCredentialTypes,
    keys: UsedLeafKeys,
    policy: LifetimePolicy,
    now: u64,
}

impl Fixture {
    fn new(member_leaves: &[&LeafNode]) -> Self {
        Self {
            cs: cs(),
            identity: BasicIdentityProvider,
            group: GroupRequirements {
                version: ProtocolVersion::MLS10,
                cipher_suite: SUITE,
                required_capabilities: None,
                context_extensions: Vec::new(),
                kp_context: Default::default(),
                negotiation: negotiation::NegotiationRequirements::default(),
            },
            members: MemberCredentialTypes::from_leaves(member_leaves.iter().copied()),
            keys: UsedLeafKeys::from_leaves(member_leaves.iter().copied()),
            policy: LifetimePolicy::default(),
            now: NOW,
        }
    }

    fn validator(&self) -> LeafNodeValidator<'_> {
        LeafNodeValidator {
            cs: self.cs.as_ref(),
            identity: &self.identity,
            group: &self.group,
            members: &self.members,
            keys: &self.keys,
            lifetime_policy: self.policy,
            now: self.now,
        }
    }
}

#[test]
fn valid_key_package_passes_and_errors_name_their_section() {
    let cs = cs();
    let alice = client(cs.as_ref(), 1, "alice");
    let bob = client(cs.as_ref(), 2, "bob");
    let f = Fixture::new(&[&alice.leaf]);
    let kp = key_package(cs.as_ref(), &bob);
    f.validator().validate_key_package(&kp).unwrap();

    let mut bad = kp.clone();
    bad.signature[0] ^= 1;
    let err = f.validator().validate_key_package(&bad).unwrap_err();
    assert_eq!(err, ValidationError::KeyPackageSignature);
    assert!(err.to_string().contains("§10.1"), "{err}");

    let mut bad = kp.clone();
    bad.leaf_node.signature[0] ^= 1;
    let err = f.validator().validate_key_package(&bad).unwrap_err();
    assert_eq!(err, ValidationError::LeafNodeSignature);
    assert!(err.to_string().contains("§7.3"), "{err}");
}

#[test]
fn key_package_fields() {
    let cs = cs();
    let bob = client(cs.as_ref(), 2, "bob");
    let f = Fixture::new(&[]);
    let kp = key_package(cs.as_ref(), &bob);

    let mut other_version = kp.clone();
    other_version.version = ProtocolVersion(2);
    assert_eq!(
        f.validator().validate_key_package(&other_version),
        Err(ValidationError::KeyPackageVersionMismatch {
            expected: ProtocolVersion::MLS10,
            found: ProtocolVersion(2),
        })
    );
    let mut other_suite = kp.clone();
    other_suite.cipher_suite = CipherSuite(3);
    assert!(matches!(
        f.validator().validate_key_package(&other_suite),
        Err(ValidationError::KeyPackageCipherSuiteMismatch { .. })
    ));
    // init_key == encryption_key (re-signed so only this rule fails).
    let mut same = kp.clone();
    same.init_key = same.leaf_node.encryption_key.clone();
    let tbs = same.to_be_signed().unwrap();
    same.signature = sign_with_label(
        cs.as_ref(),
        bob.secret.as_bytes(),
        KEY_PACKAGE_TBS_LABEL,
        &tbs,
    )
    .unwrap();
    assert_eq!(
        f.validator().validate_key_package(&same),
        Err(ValidationError::InitKeyEqualsEncryptionKey)
    );
}

#[test]
fn leaf_node_source_must_match_the_context() {
    let cs = cs();
    let alice = client(cs.as_ref(), 1, "alice");
    let f = Fixture::new(&[]);
    let group = Some((GROUP_ID, LeafIndex(0)));
    let mut update = alice.leaf.clone();
    update.leaf_node_source = LeafNodeSource::Update;
    update.encryption_key = HpkePublicKey(vec![0x42; 32]);
    let update = sign(cs.as_ref(), &alice.secret, update, group);
    assert_eq!(
        f.validator()
            .validate_leaf_node(&update, &LeafNodeContext::KeyPackage),
        Err(ValidationError::WrongLeafNodeSource {
            expected: LeafNodeSourceKind::KeyPackage,
            found: LeafNodeSourceKind::Update,
        })
    );
    let commit_ctx = LeafNodeContext::Commit {
        group_id: GROUP_ID,
        leaf_index: LeafIndex(0),
        replaced: Some(&alice.leaf),
    };
    assert!(matches!(
        f.validator().validate_leaf_node(&update, &commit_ctx),
        Err(ValidationError::WrongLeafNodeSource { .. })
    ));

    let mut commit = update.clone();
    commit.leaf_node_source = LeafNodeSource::Commit(vec![7; 32]);
    let commit = sign(cs.as_ref(), &alice.secret, commit, group);
    f.validator()
        .validate_leaf_node(&commit, &commit_ctx)
        .unwrap();
    // Signed for another leaf index: the LeafNodeTBS differs.
    let wrong_index = LeafNodeContext::Commit {
        group_id: GROUP_ID,
        leaf_index: LeafIndex(1),
        replaced: None,
    };
    assert_eq!(
        f.validator().validate_leaf_node(&commit, &wrong_index),
        Err(ValidationError::LeafNodeSignature)
    );
}

#[test]
fn update_rules() {
    let cs = cs();
    let alice = client(cs.as_ref(), 1, "alice");
    let f = Fixture::new(&[]);
    let group = Some((GROUP_ID, LeafIndex(3)));
    let ctx = LeafNodeContext::Update {
        group_id: GROUP_ID,
        leaf_index: LeafIndex(3),
        replaced: &alice.leaf,
    };
    let mut update = alice.leaf.clone();
    update.leaf_node_source = LeafNodeSource::Update;
    let same_key = sign(cs.as_ref(), &alice.secret, update.clone(), group);
    assert_eq!(
        f.validator().validate_leaf_node(&same_key, &ctx),
        Err(ValidationError::UpdateEncryptionKeyUnchanged)
    );
    update.encryption_key = HpkePublicKey(vec![0x99; 32]);
    let good = sign(cs.as_ref(), &alice.secret, update.clone(), group);
    f.validator().validate_leaf_node(&good, &ctx).unwrap();
    // Signed for another group.
    let other_group = sign(
        cs.as_ref(),
        &alice.secret,
        update.clone(),
        Some((b"other", LeafIndex(3))),
    );
    assert_eq!(
        f.validator().validate_leaf_node(&other_group, &ctx),
        Err(ValidationError::LeafNodeSignature)
    );
    // A credential for someone else is not a valid successor.
    update.credential = Credential::Basic {
        identity: b"mallory".to_vec(),
    };
    let impostor = sign(cs.as_ref(), &alice.secret, update, group);
    assert_eq!(
        f.validator().validate_leaf_node(&impostor, &ctx),
        Err(ValidationError::CredentialNotValidSuccessor)
    );
}

#[test]
fn lifetime_policy() {
    let cs = cs();
    let alice = client(cs.as_ref(), 1, "alice");
    let leaf = sign(cs.as_ref(), &alice.secret, alice.leaf.clone(), None);
    let tree_ctx = LeafNodeContext::TreeLeaf {
        group_id: GROUP_ID,
        leaf_index: LeafIndex(0),
    };
    let mut f = Fixture::new(&[]);
    f.now = NOW + 1000;
    // Expired: rejected as a new KeyPackage, accepted in a tree under the default policy.
    assert_eq!(
        f.validator()
            .validate_leaf_node(&leaf, &LeafNodeContext::KeyPackage),
        Err(ValidationError::OutsideLifetime {
            now: NOW + 1000,
            lifetime: Lifetime {
                not_before: NOW - 10,
                not_after: NOW + 10,
            },
        })
    );
    f.validator().validate_leaf_node(&leaf, &tree_ctx).unwrap();
    f.policy = LifetimePolicy::Always;
    assert!(matches!(
        f.validator().validate_leaf_node(&leaf, &tree_ctx),
        Err(ValidationError::OutsideLifetime { .. })
    ));
    f.policy = LifetimePolicy::Never;
    f.validator()
        .validate_leaf_node(&leaf, &LeafNodeContext::KeyPackage)
        .unwrap();
    // Not yet valid.
    assert!(
        check_lifetime(
            &Lifetime {
                not_before: 5,
                not_after: 9
            },
            4
        )
        .is_err()
    );
    assert!(
        check_lifetime(
            &Lifetime {
                not_before: 5,
                not_after: 9
            },
            5
        )
        .is_ok()
    );
    assert!(
        check_lifetime(
            &Lifetime {
                not_before: 5,
                not_after: 9
            },
            9
        )
        .is_ok()
    );
}

#[test]
fn capabilities_and_required_capabilities() {
    let cs = cs();
    let alice = client(cs.as_ref(), 1, "alice");
    let mut f = Fixture::new(&[]);
    let validate = |f: &Fixture, leaf: LeafNode| {
        let leaf = sign(cs.as_ref(), &alice.secret, leaf, None);
        f.validator()
            .validate_leaf_node(&leaf, &LeafNodeContext::KeyPackage)
    };

    let mut leaf = alice.leaf.clone();
    leaf.capabilities.cipher_suites = vec![CipherSuite(2)];
    assert_eq!(
        validate(&f, leaf),
        Err(ValidationError::UnsupportedCipherSuite(SUITE))
    );
    let mut leaf = alice.leaf.clone();
    leaf.capabilities.versions = vec![ProtocolVersion(7)];
    assert_eq!(
        validate(&f, leaf),
        Err(ValidationError::UnsupportedVersion(ProtocolVersion::MLS10))
    );

    // Required: a default extension (need not be listed), a GREASE one (must be).
    f.group.required_capabilities = Some(RequiredCapabilities {
        extension_types: vec![ExtensionType::RATCHET_TREE, GREASE_EXT],
        proposal_types: vec![ProposalType::ADD],
        credential_types: vec![],
    });
    assert_eq!(
        validate(&f, alice.leaf.clone()),
        Err(ValidationError::RequiredCapabilityUnsupported(
            Capability::Extension(GREASE_EXT)
        ))
    );
    let mut leaf = alice.leaf.clone();
    leaf.capabilities.extensions = vec![GREASE_EXT];
    validate(&f, leaf).unwrap();

    // Credential types are never default.
    f.group.required_capabilities = Some(RequiredCapabilities {
        credential_types: vec![CredentialType::X509],
        ..RequiredCapabilities::default()
    });
    assert_eq!(
        validate(&f, alice.leaf.clone()),
        Err(ValidationError::RequiredCapabilityUnsupported(
            Capability::Credential(CredentialType::X509)
        ))
    );
    f.group.required_capabilities = Some(RequiredCapabilities {
        proposal_types: vec![ProposalType(0x0b0b)],
        ..RequiredCapabilities::default()
    });
    assert_eq!(
        validate(&f, alice.leaf.clone()),
        Err(ValidationError::RequiredCapabilityUnsupported(
            Capability::Proposal(ProposalType(0x0b0b))
        ))
    );
}

#[test]
fn leaf_extensions_must_be_listed() {
    let cs = cs();
    let alice = client(cs.as_ref(), 1, "alice");
    let f = Fixture::new(&[]);
    let mut leaf = alice.leaf.clone();
    // application_id is a default extension: no listing needed.
    leaf.extensions = vec![ApplicationId(b"device-1".to_vec()).to_extension().unwrap()];
    let signed = sign(cs.as_ref(), &alice.secret, leaf.clone(), None);
    f.validator()
        .validate_leaf_node(&signed, &LeafNodeContext::KeyPackage)
        .unwrap();
    leaf.extensions.push(Extension {
        extension_type: GREASE_EXT,
        extension_data: vec![],
    });
    let signed = sign(cs.as_ref(), &alice.secret, leaf.clone(), None);
    assert_eq!(
        f.validator()
            .validate_leaf_node(&signed, &LeafNodeContext::KeyPackage),
        Err(ValidationError::ExtensionNotInCapabilities(GREASE_EXT))
    );
    leaf.capabilities.extensions.push(GREASE_EXT);
    let signed = sign(cs.as_ref(), &alice.secret, leaf, None);
    f.validator()
        .validate_leaf_node(&signed, &LeafNodeContext::KeyPackage)
        .unwrap();
}

#[test]
fn credential_type_compatibility() {
    let cs = cs();
    let alice = client(cs.as_ref(), 1, "alice");
    let mut member = client(cs.as_ref(), 2, "member").leaf;
    // The only member supports X.509 only (and uses an X.509 credential).
    member.capabilities.credentials = vec![CredentialType::X509];
    member.credential = Credential::X509 {
        certificates: vec![],
    };
    let summary = MemberCredentialTypes::from_leaves([&member]);
    assert_eq!(
        check_credential_type_compatibility(&alice.leaf, &summary),
        Err(ValidationError::CredentialTypeUnsupportedByMembers(
            CredentialType::BASIC
        ))
    );
    // The member supports both, but the newcomer does not support X.509, which is in use.
    member.capabilities.credentials = vec![CredentialType::BASIC, CredentialType::X509];
    let summary = MemberCredentialTypes::from_leaves([&member]);
    assert_eq!(
        check_credential_type_compatibility(&alice.leaf, &summary),
        Err(ValidationError::CredentialTypeInUseUnsupported(
            CredentialType::X509
        ))
    );
    let mut both = alice.leaf.clone();
    both.capabilities.credentials = vec![CredentialType::X509, CredentialType::BASIC];
    check_credential_type_compatibility(&both, &summary).unwrap();
    // The leaf must list its own credential type.
    let mut unlisted = alice.leaf.clone();
    unlisted.capabilities.credentials = vec![CredentialType::X509];
    assert_eq!(
        check_credential_type_compatibility(&unlisted, &MemberCredentialTypes::default()),
        Err(ValidationError::OwnCredentialTypeNotListed(
            CredentialType::BASIC
        ))
    );
    // Intersection over several members.
    let mut m2 = member.clone();
    m2.capabilities.credentials = vec![CredentialType::BASIC];
    let summary = MemberCredentialTypes::from_leaves([&member, &m2]);
    assert_eq!(
        summary.supported_by_all,
        Some([CredentialType::BASIC].into_iter().collect())
    );
}

#[test]
fn key_uniqueness() {
    let cs = cs();
    let alice = client(cs.as_ref(), 1, "alice");
    let bob = client(cs.as_ref(), 2, "bob");
    let mut clash = bob.leaf.clone();
    clash.encryption_key = alice.leaf.encryption_key.clone();
    let clash = sign(cs.as_ref(), &bob.secret, clash, None);
    let f = Fixture::new(&[&alice.leaf]);
    assert_eq!(
        f.validator()
            .validate_leaf_node(&clash, &LeafNodeContext::KeyPackage),
        Err(ValidationError::DuplicateEncryptionKey)
    );
    // Alice's own signature key in a second leaf.
    let mut again = alice.leaf.clone();
    again.encryption_key = HpkePublicKey(vec![0x77; 32]);
    let again = sign(cs.as_ref(), &alice.secret, again, None);
    assert_eq!(
        f.validator()
            .validate_leaf_node(&again, &LeafNodeContext::KeyPackage),
        Err(ValidationError::DuplicateSignatureKey)
    );
}

#[test]
fn group_context_extensions_required_capabilities() {
    let cs = cs();
    let alice = client(cs.as_ref(), 1, "alice");
    let mut bob = client(cs.as_ref(), 2, "bob").leaf;
    bob.capabilities.extensions = vec![GREASE_EXT];
    let rc = RequiredCapabilities {
        extension_types: vec![GREASE_EXT],
        ..RequiredCapabilities::default()
    };
    let extensions = vec![rc.to_extension().unwrap()];
    let members = [(LeafIndex(0), &bob), (LeafIndex(2), &alice.leaf)];
    assert_eq!(
        check_group_context_extensions(&extensions, members),
        Err(ValidationError::MemberLacksRequiredCapability {
            member: LeafIndex(2),
            capability: Capability::Extension(GREASE_EXT),
        })
    );
    check_group_context_extensions(&extensions, [(LeafIndex(0), &bob)]).unwrap();
    check_group_context_extensions(&[], members).unwrap();
    let malformed = vec![Extension {
        extension_type: ExtensionType::REQUIRED_CAPABILITIES,
        extension_data: vec![0xff],
    }];
    assert!(matches!(
        check_group_context_extensions(&malformed, members),
        Err(ValidationError::MalformedRequiredCapabilities(_))
    ));

    // A non-default context extension must be listed by every member (RFC 9420 §13.4).
    let grease = Extension {
        extension_type: GREASE_EXT,
        extension_data: vec![],
    };
    assert_eq!(
        check_group_context_extensions(std::slice::from_ref(&grease), members),
        Err(ValidationError::MemberLacksContextExtension {
            member: LeafIndex(2),
            extension: GREASE_EXT,
        })
    );
    check_group_context_extensions(std::slice::from_ref(&grease), [(LeafIndex(0), &bob)]).unwrap();
    // No extension type twice (RFC 9420 §13.4).
    assert_eq!(
        check_group_context_extensions(&[grease.clone(), grease], [(LeafIndex(0), &bob)]),
        Err(ValidationError::DuplicateExtension(GREASE_EXT))
    );
}

#[test]
fn group_requirements_from_group_context() {
    let rc = RequiredCapabilities {
        credential_types: vec![CredentialType::BASIC],
        ..RequiredCapabilities::default()
    };
    let context = GroupContext {
        version: ProtocolVersion::MLS10,
        cipher_suite: SUITE,
        group_id: GROUP_ID.to_vec(),
        epoch: 3,
        tree_hash: vec![],
        confirmed_transcript_hash: vec![],
        extensions: vec![rc.to_extension().unwrap()],
    };
    let req = GroupRequirements::from_group_context(&context).unwrap();
    assert_eq!(req.required_capabilities, Some(rc));
    assert_eq!(req.cipher_suite, SUITE);
    assert!(context.to_bytes().is_ok());
}

#[test]
fn external_senders_are_validated() {
    let cs = cs();
    let sender = |credential| ExternalSender {
        signature_key: SignaturePublicKey(vec![1; 32]),
        credential,
    };
    let good = ExternalSenders(vec![sender(Credential::Basic {
        identity: b"ds".to_vec(),
    })]);
    validate_external_senders(&BasicIdentityProvider, &good, cs.as_ref(), NOW).unwrap();
    let mut bad = good.clone();
    bad.0.push(sender(Credential::X509 {
        certificates: vec![],
    }));
    let (index, err) =
        validate_external_senders(&BasicIdentityProvider, &bad, cs.as_ref(), NOW).unwrap_err();
    assert_eq!(index, 1);
    assert!(matches!(err, ValidationError::Credential(_)));
}

#[test]
fn extension_lists_and_context_extension_support() {
    let ext = |t: u16| Extension {
        extension_type: ExtensionType(t),
        extension_data: vec![],
    };
    assert_eq!(check_unique_extensions(&[ext(1), ext(0xff01)]), Ok(()));
    assert_eq!(
        check_unique_extensions(&[ext(0xff01), ext(2), ext(0xff01)]),
        Err(ValidationError::DuplicateExtension(ExtensionType(0xff01)))
    );
    let mut capabilities = Capabilities::default();
    // Default extension types need no listing; others do (RFC 9420 §13.4).
    assert_eq!(
        check_supports_context_extensions(&capabilities, &[ExtensionType(5)]),
        Ok(())
    );
    assert_eq!(
        check_supports_context_extensions(&capabilities, &[ExtensionType(0xff01)]),
        Err(ValidationError::ContextExtensionUnsupported(ExtensionType(
            0xff01
        )))
    );
    capabilities.extensions.push(ExtensionType(0xff01));
    assert_eq!(
        check_supports_context_extensions(&capabilities, &[ExtensionType(0xff01)]),
        Ok(())
    );
}

/// Deferred signatures checked as one batch (Ed25519, RFC 8032 §5.1.7): a batch of valid
/// KeyPackages passes, and one bad signature anywhere in it fails the batch.
#[test]
fn deferred_key_package_signatures_verify_as_a_batch() {
    let cs = cs();
    let alice = client(cs.as_ref(), 1, "alice");
    let f = Fixture::new(&[&alice.leaf]);
    let packages: Vec<KeyPackage> = (0..40)
        .map(|i| key_package(cs.as_ref(), &client(cs.as_ref(), 10 + i, &format!("m{i}"))))
        .collect();
    let validator = f.validator();
    let all_verify = |packages: &[KeyPackage]| {
        let deferred: Vec<DeferredSignature<'_>> = packages
            .iter()
            .flat_map(|kp| {
                validator
                    .validate_key_package_deferring_signatures(kp)
                    .unwrap()
            })
            .collect();
        verify_deferred(cs.as_ref(), &deferred)
    };
    assert!(all_verify(&packages));

    let mut bad_package = packages.clone();
    bad_package[23].signature[5] ^= 1;
    assert!(!all_verify(&bad_package));
    let mut bad_leaf = packages.clone();
    bad_leaf[0].leaf_node.signature[40] ^= 1;
    assert!(!all_verify(&bad_leaf));
    // One by one, the same KeyPackages name their fault.
    assert_eq!(
        f.validator().validate_key_package(&bad_leaf[0]),
        Err(ValidationError::LeafNodeSignature)
    );
}

/// A leaf of a member already in the group may omit the group's cipher suite from its
/// capabilities when its keys are keys of the suite (an MLSpp interoperability leniency,
/// RFC 9420 §7.3); a KeyPackage, and a newcomer's external commit, may not (§10.1).
#[test]
fn only_leaves_already_in_the_group_may_omit_the_suite() {
    let cs = cs();
    let cs = cs.as_ref();
    let alice = client(cs, 1, "alice");
    let f = Fixture::new(&[]);
    let validator = f.validator();
    let key = hpke::generate_key_pair(cs, &mut SeededRng::new(7)).unwrap();
    let mut omitting = alice.leaf.clone();
    omitting.encryption_key = HpkePublicKey(key.public_key);
    omitting.capabilities.cipher_suites = vec![CipherSuite(2), CipherSuite(0x0a0a)];
    let at = LeafIndex(1);
    let signed = |mut leaf: LeafNode, source: LeafNodeSource| {
        let group = match source {
            LeafNodeSource::KeyPackage(_) => None,
            LeafNodeSource::Update | LeafNodeSource::Commit(_) => Some((GROUP_ID, at)),
        };
        leaf.leaf_node_source = source;
        sign(cs, &alice.secret, leaf, group)
    };
    let key_package_leaf = signed(omitting.clone(), omitting.leaf_node_source.clone());
    let tree_leaf = LeafNodeContext::TreeLeaf {
        group_id: GROUP_ID,
        leaf_index: at,
    };

    // In a tree received when joining: accepted, with the signature checked now or batched.
    validator
        .validate_leaf_node(&key_package_leaf, &tree_leaf)
        .unwrap();
    let deferred = validator
        .validate_leaf_node_deferring_signature(&key_package_leaf, &tree_leaf)
        .unwrap();
    assert!(verify_deferred(cs, &[deferred]));
    // Replacing a member's leaf (Update, a member's commit, a resync): accepted.
    let update = signed(omitting.clone(), LeafNodeSource::Update);
    validator
        .validate_leaf_node(
            &update,
            &LeafNodeContext::Update {
                group_id: GROUP_ID,
                leaf_index: at,
                replaced: &alice.leaf,
            },
        )
        .unwrap();
    let commit = signed(omitting.clone(), LeafNodeSource::Commit(vec![1; 32]));
    let in_commit = |replaced| LeafNodeContext::Commit {
        group_id: GROUP_ID,
        leaf_index: at,
        replaced,
    };
    validator
        .validate_leaf_node(&commit, &in_commit(Some(&alice.leaf)))
        .unwrap();

    // A newcomer (external commit) and a KeyPackage (§10.1) must list the suite.
    assert_eq!(
        validator.validate_leaf_node(&commit, &in_commit(None)),
        Err(ValidationError::UnsupportedCipherSuite(SUITE))
    );
    assert_eq!(
        validator.validate_leaf_node(&key_package_leaf, &LeafNodeContext::KeyPackage),
        Err(ValidationError::UnsupportedCipherSuite(SUITE))
    );
    let package = key_package(
        cs,
        &Client {
            secret: alice.secret.clone(),
            leaf: omitting.clone(),
        },
    );
    assert_eq!(
        validator.validate_key_package(&package),
        Err(ValidationError::UnsupportedCipherSuite(SUITE))
    );

    // Without a key of the suite, a leaf omitting the suite is refused everywhere.
    let mut foreign_key = omitting.clone();
    foreign_key.encryption_key = HpkePublicKey(vec![9; 31]);
    let foreign_key = signed(foreign_key, omitting.leaf_node_source.clone());
    assert_eq!(
        validator.validate_leaf_node(&foreign_key, &tree_leaf),
        Err(ValidationError::EncryptionKeyNotOfSuite(SUITE))
    );
    // A leaf listing the suite is not asked for more than before.
    let mut listing = alice.leaf.clone();
    listing.encryption_key = HpkePublicKey(vec![9; 31]);
    let listing = signed(listing, omitting.leaf_node_source.clone());
    validator.validate_leaf_node(&listing, &tree_leaf).unwrap();
    // The protocol version must still be listed.
    let mut no_version = omitting;
    no_version.capabilities.versions.clear();
    let no_version = signed(no_version, LeafNodeSource::Update);
    assert_eq!(
        validator.validate_leaf_node(&no_version, &tree_leaf),
        Err(ValidationError::UnsupportedVersion(ProtocolVersion::MLS10))
    );
}
