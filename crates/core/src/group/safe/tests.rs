//! Tests of the Safe Application Interface on groups of two members
//! (draft-ietf-mls-extensions-10 §4): signatures, HPKE, the exporter and its storage,
//! application PSKs in commits, and Safe AAD on send and receive.

use std::collections::HashMap;
use std::sync::Arc;

use conclave_codec::Encode;
use conclave_crypto::{CipherSuite, CryptoRandom, Secret, SeededRng, hpke};
use conclave_crypto_rustcrypto::RustCryptoProvider;

use crate::codepoints::{APP_DATA_DICTIONARY_EXTENSION, CodepointProfile, SAFE_AAD_COMPONENT};
use crate::credential::BasicIdentityProvider;
use crate::framing::sign_content;
use crate::group::{
    CommitOptions, Group, GroupConfig, GroupEnv, GroupError, JoinOptions, KeyPackageBundle,
    LeafOptions, MemberParams, NewGroup, ProcessedMessage, PskStore, SafeHpkeKey, SigningIdentity,
    default_capabilities, mls_message,
};
use crate::messages::{
    Add, AppDataDictionary, ComponentId, ComponentsList, Content, Credential, Extension,
    FramedContent, LeafIndex, MlsMessage, MlsMessageBody, Proposal, SafeAad, SafeAadItem, Sender,
    WireFormat,
};
use crate::safe::{ExporterTree, SafeError};

const NOW: u64 = 1_700_000_000;
const SUITE: CipherSuite = CipherSuite(1);
const C1: ComponentId = ComponentId(0x8001);
const C2: ComponentId = ComponentId(0x8002);

/// External PSKs and application PSKs (by component and id), kept apart.
#[derive(Default)]
struct Psks {
    external: HashMap<Vec<u8>, Secret>,
    application: HashMap<(ComponentId, Vec<u8>), Secret>,
}

impl PskStore for Psks {
    fn external_psk(&self, psk_id: &[u8]) -> Option<Secret> {
        self.external.get(psk_id).cloned()
    }

    fn application_psk(&self, component_id: ComponentId, psk_id: &[u8]) -> Option<Secret> {
        self.application
            .get(&(component_id, psk_id.to_vec()))
            .cloned()
    }
}

fn env(psks: Arc<dyn PskStore>) -> GroupEnv {
    GroupEnv {
        crypto: Arc::new(RustCryptoProvider),
        identity: Arc::new(BasicIdentityProvider),
        psks,
    }
}

/// Member parameters whose leaves support the `app_data_dictionary` extension (RFC 9420
/// §12.1.7: every member must support a GroupContext extension).
fn params(name: &str, psks: Arc<dyn PskStore>, rng: &mut SeededRng) -> MemberParams {
    let env = env(psks);
    let cs = env.suite(SUITE).unwrap();
    let signer = SigningIdentity::generate(
        cs.as_ref(),
        Credential::Basic {
            identity: name.as_bytes().to_vec(),
        },
        rng,
    )
    .unwrap();
    let mut capabilities =
        default_capabilities(SUITE, env.identity.as_ref(), CodepointProfile::Draft);
    capabilities.extensions = vec![APP_DATA_DICTIONARY_EXTENSION];
    MemberParams {
        leaf: LeafOptions {
            capabilities: Some(capabilities),
            ..LeafOptions::default()
        },
        config: GroupConfig::default(),
        ..MemberParams::new(env, signer)
    }
}

/// The GroupContext extension that puts Safe AAD in force (draft-ietf-mls-extensions-10 §5):
/// an `app_data_dictionary` with an empty `safe_aad` list.
fn safe_aad_extension() -> Extension {
    let mut dictionary = AppDataDictionary::default();
    dictionary.insert(
        SAFE_AAD_COMPONENT,
        ComponentsList::default().to_bytes().unwrap(),
    );
    Extension {
        extension_type: APP_DATA_DICTIONARY_EXTENSION,
        extension_data: dictionary.to_bytes().unwrap(),
    }
}

/// Alice creates a group (with Safe AAD if asked) and adds Bob; both at epoch 1.
fn pair(safe_aad: bool, psks: Arc<dyn PskStore>, rng: &mut SeededRng) -> (Group, Group) {
    let alice = params("alice", psks.clone(), rng);
    let bob = params("bob", psks, rng);
    let extensions = if safe_aad {
        vec![safe_aad_extension()]
    } else {
        Vec::new()
    };
    let mut alice = Group::create(
        alice,
        NewGroup {
            extensions,
            ..NewGroup::new(SUITE, b"safe".to_vec())
        },
        NOW,
        rng,
    )
    .unwrap();
    let bundle = KeyPackageBundle::generate(&bob, SUITE, NOW, rng).unwrap();
    let output = alice
        .commit(
            &CommitOptions {
                proposals: vec![Proposal::Add(Add {
                    key_package: bundle.key_package.clone(),
                })],
                ..CommitOptions::default()
            },
            NOW,
            rng,
        )
        .unwrap();
    alice.merge_pending_commit().unwrap();
    let MlsMessageBody::Welcome(welcome) = &output.welcome.unwrap().body else {
        panic!("no Welcome");
    };
    let bob = Group::join(bob, welcome, &bundle, &JoinOptions::default(), NOW).unwrap();
    assert_eq!(alice.safe_aad_required().unwrap(), safe_aad);
    assert_eq!(bob.safe_aad_required().unwrap(), safe_aad);
    (alice, bob)
}

fn no_psks() -> Arc<dyn PskStore> {
    Arc::new(Psks::default())
}

/// An empty commit by `committer`, processed by `other`.
fn next_epoch(committer: &mut Group, other: &mut Group, rng: &mut SeededRng) {
    let output = committer
        .commit(&CommitOptions::default(), NOW, rng)
        .unwrap();
    committer.merge_pending_commit().unwrap();
    other.process_message(&output.commit, NOW).unwrap();
    assert_eq!(committer.epoch_authenticator(), other.epoch_authenticator());
}

/// A genuine message of `group` (signed and protected with its keys) whose
/// `authenticated_data` is `aad` as given, bypassing the Safe AAD check of the send API.
fn message_with_raw_aad(
    group: &mut Group,
    content: Content,
    aad: &[u8],
    wire_format: WireFormat,
    rng: &mut dyn CryptoRandom,
) -> MlsMessage {
    let framed = FramedContent {
        group_id: group.group_id().to_vec(),
        epoch: group.epoch(),
        sender: Sender::Member(group.own_leaf()),
        authenticated_data: aad.to_vec(),
        content,
    };
    let signed = sign_content(
        group.cs.as_ref(),
        group.signer.secret_key.as_bytes(),
        wire_format,
        framed,
        Some(&group.epoch.context),
    )
    .unwrap();
    mls_message(group.protect_signed(&signed, rng).unwrap())
}

fn application(data: &[u8]) -> Content {
    Content::Application(data.to_vec())
}

#[test]
fn members_sign_and_verify_with_their_leaf_keys_per_component() {
    let mut rng = SeededRng::new(1);
    let (alice, bob) = pair(false, no_psks(), &mut rng);
    let signature = alice.safe_sign(C1, b"vote", b"yes").unwrap();
    bob.safe_verify(alice.own_leaf(), C1, b"vote", b"yes", &signature)
        .unwrap();
    alice
        .safe_verify(alice.own_leaf(), C1, b"vote", b"yes", &signature)
        .unwrap();
    for (signer, component, label, content) in [
        (alice.own_leaf(), C2, b"vote".as_slice(), b"yes".as_slice()),
        (alice.own_leaf(), C1, b"veto", b"yes"),
        (alice.own_leaf(), C1, b"vote", b"no"),
        (bob.own_leaf(), C1, b"vote", b"yes"),
    ] {
        assert_eq!(
            bob.safe_verify(signer, component, label, content, &signature),
            Err(GroupError::Safe(SafeError::InvalidSignature))
        );
    }
    assert_eq!(
        bob.safe_verify(LeafIndex(9), C1, b"vote", b"yes", &signature),
        Err(GroupError::Safe(SafeError::NoSuchMember(9)))
    );
    // The label is the group profile's ComponentOperationLabel.
    let label = alice.component_operation_label(C1, b"vote");
    assert_eq!(label.base_label, b"MLS Component");
    assert_eq!(label.component_id, C1);
}

#[test]
fn a_member_encrypts_to_a_leaf_and_only_that_member_decrypts_for_that_component() {
    let mut rng = SeededRng::new(2);
    let (alice, bob) = pair(false, no_psks(), &mut rng);
    let to_bob = SafeHpkeKey::Leaf(bob.own_leaf());
    let ct = alice
        .safe_encrypt(to_bob, C1, b"file", b"ctx", b"key material", &mut rng)
        .unwrap();
    let pt = bob.safe_decrypt(to_bob, C1, b"file", b"ctx", &ct).unwrap();
    assert_eq!(pt.as_bytes(), b"key material");
    // Another component, label or context of Bob's cannot read it.
    for (component, label, context) in [
        (C2, b"file".as_slice(), b"ctx".as_slice()),
        (C1, b"files", b"ctx"),
        (C1, b"file", b""),
    ] {
        assert_eq!(
            bob.safe_decrypt(to_bob, component, label, context, &ct),
            Err(GroupError::Safe(SafeError::DecryptionFailed))
        );
    }
    // Alice holds no private key of Bob's leaf.
    assert_eq!(
        alice.safe_decrypt(to_bob, C1, b"file", b"ctx", &ct),
        Err(GroupError::Safe(SafeError::NotOwnLeaf(bob.own_leaf().0)))
    );
    assert_eq!(
        alice
            .safe_encrypt(
                SafeHpkeKey::Leaf(LeafIndex(7)),
                C1,
                b"f",
                b"",
                b"",
                &mut rng
            )
            .unwrap_err(),
        GroupError::Safe(SafeError::NoSuchMember(7))
    );
}

#[test]
fn the_group_external_key_pair_carries_safe_ciphertexts_within_an_epoch() {
    let mut rng = SeededRng::new(3);
    let (mut alice, mut bob) = pair(false, no_psks(), &mut rng);
    let ct = alice
        .safe_encrypt(
            SafeHpkeKey::External,
            C1,
            b"g",
            b"",
            b"for everyone",
            &mut rng,
        )
        .unwrap();
    for member in [&alice, &bob] {
        let pt = member
            .safe_decrypt(SafeHpkeKey::External, C1, b"g", b"", &ct)
            .unwrap();
        assert_eq!(pt.as_bytes(), b"for everyone");
    }
    assert!(
        bob.safe_decrypt(SafeHpkeKey::External, C2, b"g", b"", &ct)
            .is_err()
    );
    // The next epoch has another external key pair: the old ciphertext is unreadable.
    next_epoch(&mut alice, &mut bob, &mut rng);
    assert!(
        bob.safe_decrypt(SafeHpkeKey::External, C1, b"g", b"", &ct)
            .is_err()
    );
}

#[test]
fn authenticated_hpke_between_members_agrees_on_messages_and_exports() {
    let mut rng = SeededRng::new(4);
    let (alice, bob) = pair(false, no_psks(), &mut rng);
    let psk = hpke::Psk {
        psk: &[8; 32],
        psk_id: b"id",
    };
    for use_psk in [false, true] {
        let psk = use_psk.then_some(psk);
        let to_bob = SafeHpkeKey::Leaf(bob.own_leaf());
        let (enc, mut sender) = alice
            .safe_hpke_sender(to_bob, C1, b"stream", psk, true, &mut rng)
            .unwrap();
        let ct = sender.seal(b"", b"chunk").unwrap();
        let exported = sender.export(b"k", 16).unwrap();
        let mut receiver = bob
            .safe_hpke_receiver(
                to_bob,
                &enc,
                C1,
                b"stream",
                psk,
                Some(SafeHpkeKey::Leaf(alice.own_leaf())),
            )
            .unwrap();
        assert_eq!(receiver.open(b"", &ct).unwrap().as_bytes(), b"chunk");
        assert_eq!(receiver.export(b"k", 16).unwrap(), exported);
        // Claiming Bob as the sender (auth mode binds the sender's key) fails.
        let mut wrong = bob
            .safe_hpke_receiver(
                to_bob,
                &enc,
                C1,
                b"stream",
                psk,
                Some(SafeHpkeKey::Leaf(bob.own_leaf())),
            )
            .unwrap();
        assert!(wrong.open(b"", &ct).is_err());
    }
}

#[test]
fn both_members_export_the_same_secret_once_per_component_and_epoch() {
    let mut rng = SeededRng::new(5);
    let (mut alice, mut bob) = pair(false, no_psks(), &mut rng);
    let a1 = alice.safe_export_secret(C1).unwrap();
    let b1 = bob.safe_export_secret(C1).unwrap();
    assert_eq!(a1, b1);
    assert_eq!(a1.len(), 32);
    assert!(!alice.can_safe_export(C1));
    assert_eq!(
        alice.safe_export_secret(C1),
        Err(GroupError::Safe(SafeError::ExportConsumed(C1.0)))
    );
    // Other components are unaffected, and different.
    assert!(alice.can_safe_export(C2));
    let a2 = alice.safe_export_secret(C2).unwrap();
    assert_ne!(a1, a2);
    assert_eq!(a2, bob.safe_export_secret(C2).unwrap());
    // Not the RFC 9420 exporter.
    assert_ne!(a1, alice.export_secret("", &[], 32).unwrap());
    // A new epoch has a new tree: the component can export again, another secret.
    next_epoch(&mut bob, &mut alice, &mut rng);
    let next = alice.safe_export_secret(C1).unwrap();
    assert_ne!(next, a1);
    assert_eq!(next, bob.safe_export_secret(C1).unwrap());
}

#[test]
fn an_export_is_remembered_as_consumed_across_snapshot_and_record_reloads() {
    let mut rng = SeededRng::new(6);
    let (mut alice, mut bob) = pair(false, no_psks(), &mut rng);
    // Saved as records before the export; the export makes the next save a full rewrite.
    alice.take_changes().unwrap();
    let first = alice.safe_export_secret(C1).unwrap();
    let crate::storage::StateChanges::Full { records, .. } = alice.take_changes().unwrap() else {
        panic!("an export must make the next save a full rewrite");
    };
    let mut from_records = Group::load(alice.env.clone(), records).unwrap();
    let snapshot = alice.to_bytes().unwrap();
    let mut from_snapshot = Group::from_bytes(alice.env.clone(), &snapshot).unwrap();
    assert_eq!(from_snapshot.to_bytes().unwrap(), snapshot);
    for reloaded in [&mut from_records, &mut from_snapshot] {
        assert_eq!(
            reloaded.safe_export_secret(C1),
            Err(GroupError::Safe(SafeError::ExportConsumed(C1.0)))
        );
        assert_eq!(
            reloaded.safe_export_secret(C2).unwrap(),
            bob.clone_export(C2)
        );
    }
    // A group reloaded before any export exports as it would have.
    let bytes = bob.to_bytes().unwrap();
    let mut bob_again = Group::from_bytes(bob.env.clone(), &bytes).unwrap();
    assert_eq!(bob_again.safe_export_secret(C1).unwrap(), first);
    assert_eq!(bob.safe_export_secret(C1).unwrap(), first);
}

impl Group {
    /// The secret `component` would export, without consuming it (tests only).
    fn clone_export(&self, component: ComponentId) -> Secret {
        let mut tree = self.epoch.exporter_tree.clone();
        tree.export(self.cs.as_ref(), component).unwrap()
    }
}

#[test]
fn a_state_without_the_exporter_section_loads_and_exports_again_from_the_next_epoch() {
    let mut rng = SeededRng::new(7);
    let (mut alice, mut bob) = pair(false, no_psks(), &mut rng);
    let with_section = alice.to_bytes().unwrap();
    // A state written before the safe exporter existed has no exporter tree.
    alice.epoch.exporter_tree = ExporterTree::unavailable();
    let without_section = alice.to_bytes().unwrap();
    assert!(without_section.len() < with_section.len());
    let mut old = Group::from_bytes(alice.env.clone(), &without_section).unwrap();
    assert_eq!(old.to_bytes().unwrap(), without_section);
    assert_eq!(
        old.safe_export_secret(C1),
        Err(GroupError::Safe(SafeError::ExporterUnavailable))
    );
    // It works from the next epoch on.
    next_epoch(&mut bob, &mut old, &mut rng);
    assert_eq!(
        old.safe_export_secret(C1).unwrap(),
        bob.safe_export_secret(C1).unwrap()
    );
}

#[test]
fn a_pending_commit_keeps_its_exporter_tree_across_a_reload() {
    let mut rng = SeededRng::new(8);
    let (mut alice, mut bob) = pair(false, no_psks(), &mut rng);
    let output = alice
        .commit(&CommitOptions::default(), NOW, &mut rng)
        .unwrap();
    let bytes = alice.to_bytes().unwrap();
    let mut alice = Group::from_bytes(alice.env.clone(), &bytes).unwrap();
    assert_eq!(alice.to_bytes().unwrap(), bytes);
    alice.merge_pending_commit().unwrap();
    bob.process_message(&output.commit, NOW).unwrap();
    assert_eq!(
        alice.safe_export_secret(C1).unwrap(),
        bob.safe_export_secret(C1).unwrap()
    );
}

fn psk_store(application: &[(ComponentId, &[u8], u8)], external: &[(&[u8], u8)]) -> Psks {
    Psks {
        external: external
            .iter()
            .map(|(id, v)| (id.to_vec(), Secret::new(vec![*v; 32])))
            .collect(),
        application: application
            .iter()
            .map(|(c, id, v)| ((*c, id.to_vec()), Secret::new(vec![*v; 32])))
            .collect(),
    }
}

#[test]
fn an_application_psk_is_committed_by_one_member_and_processed_by_the_other() {
    let mut rng = SeededRng::new(9);
    let psks: Arc<dyn PskStore> = Arc::new(psk_store(&[(C1, b"password", 1)], &[]));
    let (mut alice, mut bob) = pair(false, psks, &mut rng);
    // By value in a commit.
    let proposal = alice
        .application_psk_proposal(C1, b"password".to_vec(), &mut rng)
        .unwrap();
    let options = CommitOptions {
        proposals: vec![proposal],
        ..CommitOptions::default()
    };
    let output = alice.commit(&options, NOW, &mut rng).unwrap();
    alice.merge_pending_commit().unwrap();
    bob.process_message(&output.commit, NOW).unwrap();
    assert_eq!(alice.epoch(), 2);
    assert_eq!(alice.epoch_authenticator(), bob.epoch_authenticator());
    // By reference from Bob, committed by Alice.
    let proposal = bob
        .application_psk_proposal(C1, b"password".to_vec(), &mut rng)
        .unwrap();
    let message = bob.propose(proposal, &[], &mut rng).unwrap();
    alice.process_message(&message, NOW).unwrap();
    let output = alice
        .commit(&CommitOptions::default(), NOW, &mut rng)
        .unwrap();
    alice.merge_pending_commit().unwrap();
    bob.process_message(&output.commit, NOW).unwrap();
    assert_eq!(alice.epoch(), 3);
    assert_eq!(alice.epoch_authenticator(), bob.epoch_authenticator());
}

#[test]
fn a_member_added_with_an_application_psk_finds_it_through_its_psk_store() {
    let mut rng = SeededRng::new(17);
    let psks: Arc<dyn PskStore> = Arc::new(psk_store(&[(C2, b"room key", 5)], &[]));
    let (mut alice, mut bob) = pair(false, psks.clone(), &mut rng);
    let carol = params("carol", psks, &mut rng);
    let bundle = KeyPackageBundle::generate(&carol, SUITE, NOW, &mut rng).unwrap();
    let proposals = vec![
        Proposal::Add(Add {
            key_package: bundle.key_package.clone(),
        }),
        alice
            .application_psk_proposal(C2, b"room key".to_vec(), &mut rng)
            .unwrap(),
    ];
    let output = alice
        .commit(
            &CommitOptions {
                proposals,
                ..CommitOptions::default()
            },
            NOW,
            &mut rng,
        )
        .unwrap();
    alice.merge_pending_commit().unwrap();
    bob.process_message(&output.commit, NOW).unwrap();
    let MlsMessageBody::Welcome(welcome) = &output.welcome.unwrap().body else {
        panic!("no Welcome");
    };
    // The Welcome's GroupSecrets name the PSK (RFC 9420 §12.4.3.1).
    let carol_group = Group::join(
        carol.clone(),
        welcome,
        &bundle,
        &JoinOptions::default(),
        NOW,
    )
    .unwrap();
    assert_eq!(
        carol_group.epoch_authenticator(),
        alice.epoch_authenticator()
    );
    assert_eq!(bob.epoch_authenticator(), alice.epoch_authenticator());
    // Without the PSK the joiner cannot compute the epoch.
    let without = MemberParams {
        env: env(no_psks()),
        ..carol
    };
    assert_eq!(
        Group::join(without, welcome, &bundle, &JoinOptions::default(), NOW).unwrap_err(),
        GroupError::PskNotFound
    );
}

#[test]
fn an_application_psk_is_not_an_external_psk_of_the_same_id() {
    let mut rng = SeededRng::new(10);
    let (mut alice, mut bob) = pair(false, no_psks(), &mut rng);
    // Alice knows C1's PSK; Bob only an external PSK and another component's, same id.
    alice.env.psks = Arc::new(psk_store(&[(C1, b"pw", 1)], &[]));
    bob.env.psks = Arc::new(psk_store(&[(C2, b"pw", 1)], &[(b"pw", 1)]));
    let proposal = alice
        .application_psk_proposal(C1, b"pw".to_vec(), &mut rng)
        .unwrap();
    let output = alice
        .commit(
            &CommitOptions {
                proposals: vec![proposal.clone()],
                ..CommitOptions::default()
            },
            NOW,
            &mut rng,
        )
        .unwrap();
    let before = bob.to_bytes().unwrap();
    assert_eq!(
        bob.process_message(&output.commit, NOW),
        Err(GroupError::PskNotFound)
    );
    assert_eq!(bob.to_bytes().unwrap(), before);
    // Bob cannot commit it either.
    assert_eq!(
        bob.commit(
            &CommitOptions {
                proposals: vec![proposal],
                ..CommitOptions::default()
            },
            NOW,
            &mut rng,
        )
        .unwrap_err(),
        GroupError::PskNotFound
    );
}

fn not_safe_aad(result: Result<ProcessedMessage, GroupError>) -> bool {
    matches!(result, Err(GroupError::Safe(SafeError::NotSafeAad(_))))
}

#[test]
fn a_safe_aad_group_refuses_messages_whose_authenticated_data_is_not_a_safe_aad() {
    let mut rng = SeededRng::new(11);
    let (mut alice, mut bob) = pair(true, no_psks(), &mut rng);
    let psk_proposal = alice
        .application_psk_proposal(C1, b"x".to_vec(), &mut rng)
        .unwrap();
    let cases: Vec<(MlsMessage, &str)> = vec![
        (
            message_with_raw_aad(
                &mut alice,
                application(b"hi"),
                b"unsafe",
                WireFormat::PRIVATE_MESSAGE,
                &mut rng,
            ),
            "raw bytes in a PrivateMessage",
        ),
        (
            message_with_raw_aad(
                &mut alice,
                application(b"hi"),
                &[],
                WireFormat::PRIVATE_MESSAGE,
                &mut rng,
            ),
            "empty authenticated_data",
        ),
        (
            message_with_raw_aad(
                &mut alice,
                application(b"hi"),
                &[0, 0],
                WireFormat::PRIVATE_MESSAGE,
                &mut rng,
            ),
            "a SafeAAD followed by unsafe bytes",
        ),
        (
            message_with_raw_aad(
                &mut alice,
                Content::Proposal(psk_proposal),
                b"unsafe",
                WireFormat::PUBLIC_MESSAGE,
                &mut rng,
            ),
            "raw bytes in a PublicMessage proposal",
        ),
    ];
    // One more from this epoch, delivered after the next: the past-epoch path.
    let late = message_with_raw_aad(
        &mut alice,
        application(b"late"),
        b"unsafe",
        WireFormat::PRIVATE_MESSAGE,
        &mut rng,
    );
    for (message, what) in &cases {
        let before = bob.to_bytes().unwrap();
        assert!(not_safe_aad(bob.process_message(message, NOW)), "{what}");
        assert_eq!(bob.to_bytes().unwrap(), before, "{what}");
    }
    next_epoch(&mut alice, &mut bob, &mut rng);
    let before = bob.to_bytes().unwrap();
    assert!(not_safe_aad(bob.process_message(&late, NOW)));
    assert_eq!(bob.to_bytes().unwrap(), before);
    // The group still works.
    let message = alice
        .encrypt_application_message(b"ok", &[], &mut rng)
        .unwrap();
    assert!(matches!(
        bob.process_message(&message, NOW).unwrap(),
        ProcessedMessage::Application { data, .. } if data == b"ok"
    ));
}

#[test]
fn the_same_raw_authenticated_data_is_accepted_without_safe_aad() {
    let mut rng = SeededRng::new(12);
    let (mut alice, mut bob) = pair(false, no_psks(), &mut rng);
    let message = message_with_raw_aad(
        &mut alice,
        application(b"hi"),
        b"unsafe",
        WireFormat::PRIVATE_MESSAGE,
        &mut rng,
    );
    match bob.process_message(&message, NOW).unwrap() {
        ProcessedMessage::Application {
            authenticated_data,
            safe_aad,
            ..
        } => {
            assert_eq!(authenticated_data, b"unsafe");
            assert_eq!(safe_aad, None);
        }
        other => panic!("unexpected {other:?}"),
    }
    // The raw send API sends raw bytes too.
    let message = alice
        .encrypt_application_message(b"x", b"raw", &mut rng)
        .unwrap();
    assert!(matches!(
        bob.process_message(&message, NOW).unwrap(),
        ProcessedMessage::Application { authenticated_data, .. } if authenticated_data == b"raw"
    ));
}

fn item(component: ComponentId, data: &[u8]) -> SafeAadItem {
    SafeAadItem {
        component_id: component,
        aad_item_data: data.to_vec(),
    }
}

#[test]
fn a_safe_aad_group_refuses_unsorted_safe_aad_on_send_and_on_receive() {
    let mut rng = SeededRng::new(13);
    let (mut alice, mut bob) = pair(true, no_psks(), &mut rng);
    let unsorted = SafeAad {
        aad_items: vec![item(C2, b"b"), item(C1, b"a")],
    };
    let repeated = SafeAad {
        aad_items: vec![item(C1, b"a"), item(C1, b"b")],
    };
    for aad in [&unsorted, &repeated] {
        let before = alice.to_bytes().unwrap();
        assert_eq!(
            alice
                .encrypt_application_message_with_safe_aad(b"x", aad, &mut rng)
                .unwrap_err(),
            GroupError::Safe(SafeError::SafeAadUnsorted)
        );
        // The raw API checks the same rule.
        assert_eq!(
            alice
                .encrypt_application_message(b"x", &aad.to_bytes().unwrap(), &mut rng)
                .unwrap_err(),
            GroupError::Safe(SafeError::SafeAadUnsorted)
        );
        assert_eq!(alice.to_bytes().unwrap(), before);
        let message = message_with_raw_aad(
            &mut alice,
            application(b"x"),
            &aad.to_bytes().unwrap(),
            WireFormat::PRIVATE_MESSAGE,
            &mut rng,
        );
        let before = bob.to_bytes().unwrap();
        assert_eq!(
            bob.process_message(&message, NOW),
            Err(GroupError::Safe(SafeError::SafeAadUnsorted))
        );
        assert_eq!(bob.to_bytes().unwrap(), before);
    }
}

#[test]
fn an_empty_safe_aad_is_accepted_and_items_reach_the_receiver() {
    let mut rng = SeededRng::new(14);
    let (mut alice, mut bob) = pair(true, no_psks(), &mut rng);
    let items = SafeAad {
        aad_items: vec![item(C1, b"a"), item(C2, b"")],
    };
    let messages = [
        (
            alice
                .encrypt_application_message_with_safe_aad(b"1", &SafeAad::default(), &mut rng)
                .unwrap(),
            SafeAad::default(),
        ),
        // "No authenticated data" through the raw API is the empty SafeAAD.
        (
            alice
                .encrypt_application_message(b"2", &[], &mut rng)
                .unwrap(),
            SafeAad::default(),
        ),
        (
            alice
                .encrypt_application_message_with_safe_aad(b"3", &items, &mut rng)
                .unwrap(),
            items.clone(),
        ),
    ];
    for (message, expected) in messages {
        match bob.process_message(&message, NOW).unwrap() {
            ProcessedMessage::Application {
                authenticated_data,
                safe_aad,
                ..
            } => {
                assert_eq!(authenticated_data, expected.to_bytes().unwrap());
                assert_eq!(safe_aad, Some(expected));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // Commits and proposals without authenticated data carry the empty SafeAAD too.
    let update = bob.propose_update(None, &mut rng).unwrap();
    alice.process_message(&update, NOW).unwrap();
    next_epoch(&mut alice, &mut bob, &mut rng);
}

#[test]
fn the_raw_authenticated_data_api_refuses_bytes_that_are_not_a_safe_aad() {
    let mut rng = SeededRng::new(15);
    let (mut alice, _bob) = pair(true, no_psks(), &mut rng);
    let before = alice.to_bytes().unwrap();
    assert!(matches!(
        alice.encrypt_application_message(b"x", b"raw", &mut rng),
        Err(GroupError::Safe(SafeError::NotSafeAad(_)))
    ));
    let proposal = alice
        .application_psk_proposal(C1, b"x".to_vec(), &mut rng)
        .unwrap();
    assert!(matches!(
        alice.propose(proposal, b"raw", &mut rng),
        Err(GroupError::Safe(SafeError::NotSafeAad(_)))
    ));
    assert!(matches!(
        alice.commit(
            &CommitOptions {
                authenticated_data: b"raw".to_vec(),
                ..CommitOptions::default()
            },
            NOW,
            &mut rng,
        ),
        Err(GroupError::Safe(SafeError::NotSafeAad(_)))
    ));
    assert_eq!(alice.to_bytes().unwrap(), before);
    // A valid SafeAAD in the raw commit option is sent as it is.
    let aad = SafeAad {
        aad_items: vec![item(C1, b"c")],
    }
    .to_bytes()
    .unwrap();
    alice
        .commit(
            &CommitOptions {
                authenticated_data: aad,
                ..CommitOptions::default()
            },
            NOW,
            &mut rng,
        )
        .unwrap();
}

#[test]
fn a_member_group_returns_an_export_only_once_it_is_saved() {
    use crate::member::Member;
    use crate::storage::InMemoryStorage;

    let storage = Arc::new(InMemoryStorage::new());
    let alice = Member::builder()
        .crypto(RustCryptoProvider)
        .credential(Credential::Basic {
            identity: b"alice".to_vec(),
        })
        .storage(storage)
        .random(SeededRng::new(16))
        .clock(|| NOW)
        .build()
        .unwrap();
    let mut group = alice.create_group(b"g".to_vec()).unwrap();
    let secret = group.safe_export_secret(C1).unwrap();
    assert_eq!(secret.len(), 32);
    let mut reloaded = alice.load_group(b"g").unwrap();
    assert_eq!(
        reloaded.safe_export_secret(C1).unwrap_err(),
        crate::member::MemberError::Group(GroupError::Safe(SafeError::ExportConsumed(C1.0)))
    );
    assert_eq!(reloaded.safe_export_secret(C2).unwrap().len(), 32);
}
