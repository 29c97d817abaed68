//! SelfRemove (draft-ietf-mls-extensions-10 §6.3) between Conclave and mls-rs 0.57 with its
//! `self_remove_proposal` feature, under Conclave's `mls-rs` codepoint profile (SelfRemove is
//! proposal type 0xF003 there): a member of one implementation leaves with a SelfRemove and a
//! member of the other commits it, by a regular commit and by an external commit; after each
//! commit the remaining members agree on the epoch authenticator (RFC 9420 §8.7), and the
//! leaver sees itself removed.
//!
//! Where mls-rs 0.57 departs from -10 (checked here where it shows on the wire):
//! - the codepoint is its private 0xF003, not the suggested 0x000A;
//! - it sends SelfRemove in the group's handshake wire format, a PrivateMessage when handshakes
//!   are encrypted, where -10 says it MUST be a PublicMessage; Conclave refuses that one;
//! - it sends SelfRemove in a group that is not self-remove-capable (a member does not list
//!   0xF003), where -10 gives the proposal no meaning; Conclave refuses to send one there and
//!   refuses mls-rs's.

// Test code: a panic is a test failure (the helpers of this file are test code too).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::{Arc, RwLock};

use conclave_codec::{Decode, Encode};
use conclave_core::codepoints::CodepointProfile;
use conclave_core::credential::BasicIdentityProvider;
use conclave_core::group::{
    CommitOptions, Group, GroupConfig, GroupEnv, GroupError, GroupStatus, JoinOptions,
    KeyPackageBundle, LeafOptions, MemberParams, ProcessedMessage, SelfRemoveError,
    SigningIdentity, default_capabilities,
};
use conclave_core::messages::{
    Credential, ExtensionProposalKind, MlsMessage as ConclaveMessage, MlsMessageBody,
    ProposalType as ConclaveProposalType, WireFormat,
};
use conclave_crypto::{CipherSuite as ConclaveSuite, SeededRng};
use mls_rs::client_builder::MlsConfig;
use mls_rs::group::proposal::ProposalType;
use mls_rs::group::{CommitEffect, ReceivedMessage};
use mls_rs::identity::SigningIdentity as MlsRsIdentity;
use mls_rs::identity::basic::{BasicCredential, BasicIdentityProvider as MlsRsBasic};
use mls_rs::mls_rules::{CommitOptions as MlsRsCommitOptions, DefaultMlsRules, EncryptionOptions};
use mls_rs::{CipherSuite, CipherSuiteProvider, Client, CryptoProvider, ExtensionList, MlsMessage};
use mls_rs_crypto_rustcrypto::RustCryptoProvider;

const SUITE: u16 = 1;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn to_mls_rs(message: &ConclaveMessage) -> MlsMessage {
    MlsMessage::from_bytes(&message.to_bytes().unwrap()).unwrap()
}

fn to_conclave(message: &MlsMessage) -> ConclaveMessage {
    ConclaveMessage::from_bytes(&message.to_bytes().unwrap()).unwrap()
}

/// An mls-rs client whose leaves list SelfRemove (0xF003); handshakes encrypted or not.
fn mls_rs_client(name: &str, encrypt_handshakes: bool) -> Client<impl MlsConfig> {
    let suite = CipherSuite::from(SUITE);
    let crypto = RustCryptoProvider::default();
    let cs = crypto.cipher_suite_provider(suite).unwrap();
    let (secret, public) = cs.signature_key_generate().unwrap();
    let credential = BasicCredential::new(name.as_bytes().to_vec()).into_credential();
    let rules = DefaultMlsRules::new()
        .with_commit_options(
            MlsRsCommitOptions::new()
                .with_ratchet_tree_extension(true)
                .with_allow_external_commit(true),
        )
        .with_encryption_options(EncryptionOptions::new(
            encrypt_handshakes,
            mls_rs::client_builder::PaddingMode::None,
        ));
    Client::builder()
        .crypto_provider(crypto)
        .identity_provider(MlsRsBasic::new())
        .mls_rules(rules)
        .custom_proposal_type(ProposalType::SELF_REMOVE)
        .signing_identity(MlsRsIdentity::new(credential, public), secret, suite)
        .build()
}

/// A Conclave member under the `mls-rs` profile whose leaves list its SelfRemove codepoint.
struct Conclave {
    params: MemberParams,
    rng: SeededRng,
}

impl Conclave {
    fn new(name: &str, seed: u64) -> Self {
        Self::with_self_remove(name, seed, true)
    }

    /// A member whose leaves list SelfRemove only if `supports`.
    fn with_self_remove(name: &str, seed: u64, supports: bool) -> Self {
        let env = GroupEnv {
            crypto: Arc::new(conclave_crypto_rustcrypto::RustCryptoProvider),
            identity: Arc::new(BasicIdentityProvider),
            psks: Arc::new(RwLock::new(std::collections::HashMap::new())),
        };
        let mut rng = SeededRng::new(seed);
        let cs = env.suite(ConclaveSuite(SUITE)).unwrap();
        let signer = SigningIdentity::generate(
            cs.as_ref(),
            Credential::Basic {
                identity: name.as_bytes().to_vec(),
            },
            &mut rng,
        )
        .unwrap();
        let profile = CodepointProfile::MlsRs;
        let mut capabilities =
            default_capabilities(ConclaveSuite(SUITE), &BasicIdentityProvider, profile);
        if supports {
            capabilities
                .proposals
                .push(profile.proposal_type(ExtensionProposalKind::SelfRemove));
        }
        let params = MemberParams {
            config: GroupConfig {
                handshake_wire_format: WireFormat::PUBLIC_MESSAGE,
                codepoint_profile: profile,
                ..GroupConfig::default()
            },
            leaf: LeafOptions {
                capabilities: Some(capabilities),
                ..LeafOptions::default()
            },
            ..MemberParams::new(env, signer)
        };
        Self { params, rng }
    }

    fn key_package(&mut self) -> (KeyPackageBundle, MlsMessage) {
        let bundle =
            KeyPackageBundle::generate(&self.params, ConclaveSuite(SUITE), now(), &mut self.rng)
                .unwrap();
        let message = ConclaveMessage::new(MlsMessageBody::KeyPackage(bundle.key_package.clone()));
        (bundle, to_mls_rs(&message))
    }

    fn join(&self, welcome: &MlsMessage, bundle: &KeyPackageBundle) -> Group {
        let MlsMessageBody::Welcome(welcome) = to_conclave(welcome).body else {
            panic!("not a Welcome")
        };
        Group::join(
            self.params.clone(),
            &welcome,
            bundle,
            &JoinOptions::default(),
            now(),
        )
        .unwrap()
    }
}

/// The epoch authenticator of a Conclave and an mls-rs member agree.
fn assert_agree<C: MlsConfig>(conclave: &Group, mls_rs: &mls_rs::Group<C>, step: &str) {
    assert_eq!(conclave.epoch(), mls_rs.current_epoch(), "{step}: epoch");
    assert_eq!(
        conclave.epoch_authenticator(),
        mls_rs.epoch_authenticator().unwrap().as_bytes(),
        "{step}: epoch authenticator"
    );
}

fn conclave_commit(group: &mut Group, rng: &mut SeededRng) -> MlsMessage {
    let output = group.commit(&CommitOptions::default(), now(), rng).unwrap();
    group.merge_pending_commit().unwrap();
    to_mls_rs(&output.commit)
}

#[test]
fn conclave_and_mls_rs_commit_each_others_self_removes() {
    // Alice (mls-rs) creates the group with Bob (Conclave), Carol (mls-rs), Dave (Conclave).
    let alice = mls_rs_client("alice", false);
    let carol_client = mls_rs_client("carol", false);
    let mut bob_member = Conclave::new("bob", 1);
    let mut dave_member = Conclave::new("dave", 2);
    let mut alice_group = alice
        .create_group(ExtensionList::new(), ExtensionList::new(), None)
        .unwrap();
    let (bob_kp, bob_kp_message) = bob_member.key_package();
    let (dave_kp, dave_kp_message) = dave_member.key_package();
    let carol_kp = carol_client
        .generate_key_package_message(ExtensionList::new(), ExtensionList::new(), None)
        .unwrap();
    let output = alice_group
        .commit_builder()
        .add_member(bob_kp_message)
        .unwrap()
        .add_member(carol_kp)
        .unwrap()
        .add_member(dave_kp_message)
        .unwrap()
        .build()
        .unwrap();
    alice_group.apply_pending_commit().unwrap();
    let welcome = &output.welcome_messages()[0];
    let mut bob = bob_member.join(welcome, &bob_kp);
    let mut dave = dave_member.join(welcome, &dave_kp);
    let (mut carol, _) = carol_client.join_group(None, welcome, None).unwrap();
    assert!(bob.is_self_remove_capable(), "every leaf lists 0xF003");
    assert_eq!(
        bob.self_remove_proposal_type(),
        ConclaveProposalType(0xF003)
    );
    assert_agree(&bob, &alice_group, "joined");

    // Carol (mls-rs) leaves; Bob (Conclave) commits her SelfRemove by reference.
    let proposal = carol.propose_self_remove(Vec::new()).unwrap();
    assert!(matches!(
        to_conclave(&proposal).body,
        MlsMessageBody::PublicMessage(_)
    ));
    for group in [&mut bob, &mut dave] {
        assert!(matches!(
            group
                .process_message(&to_conclave(&proposal), now())
                .unwrap(),
            ProcessedMessage::Proposal { .. }
        ));
    }
    assert!(matches!(
        alice_group.process_incoming_message(proposal).unwrap(),
        ReceivedMessage::Proposal(_)
    ));
    let commit = conclave_commit(&mut bob, &mut bob_member.rng);
    let ProcessedMessage::Commit(summary) =
        dave.process_message(&to_conclave(&commit), now()).unwrap()
    else {
        panic!("not a commit")
    };
    assert_eq!(summary.removed.len(), 1);
    alice_group
        .process_incoming_message(commit.clone())
        .unwrap();
    let ReceivedMessage::Commit(description) = carol.process_incoming_message(commit).unwrap()
    else {
        panic!("not a commit")
    };
    assert!(matches!(description.effect, CommitEffect::Removed { .. }));
    assert_agree(&bob, &alice_group, "carol left");
    assert_agree(&dave, &alice_group, "carol left");
    assert_eq!(alice_group.roster().members().len(), 3);

    // Dave (Conclave) leaves; Alice (mls-rs) commits his SelfRemove.
    let proposal = to_mls_rs(&dave.self_remove(&[], &mut dave_member.rng).unwrap());
    assert!(matches!(
        alice_group
            .process_incoming_message(proposal.clone())
            .unwrap(),
        ReceivedMessage::Proposal(_)
    ));
    bob.process_message(&to_conclave(&proposal), now()).unwrap();
    let output = alice_group.commit_builder().build().unwrap();
    alice_group.apply_pending_commit().unwrap();
    let commit = to_conclave(output.commit_message());
    bob.process_message(&commit, now()).unwrap();
    let ProcessedMessage::Commit(summary) = dave.process_message(&commit, now()).unwrap() else {
        panic!("not a commit")
    };
    assert!(summary.self_removed);
    assert_eq!(*dave.status(), GroupStatus::Removed);
    assert_agree(&bob, &alice_group, "dave left");
    assert_eq!(alice_group.roster().members().len(), 2);
    assert_eq!(bob.members().count(), 2);
}

#[test]
fn external_joiners_of_either_implementation_commit_the_pending_self_removes() {
    // Alice (mls-rs) and Bob, Carol (Conclave).
    let alice = mls_rs_client("alice", false);
    let mut bob_member = Conclave::new("bob", 3);
    let mut carol_member = Conclave::new("carol", 4);
    let mut alice_group = alice
        .create_group(ExtensionList::new(), ExtensionList::new(), None)
        .unwrap();
    let (bob_kp, bob_kp_message) = bob_member.key_package();
    let (carol_kp, carol_kp_message) = carol_member.key_package();
    let output = alice_group
        .commit_builder()
        .add_member(bob_kp_message)
        .unwrap()
        .add_member(carol_kp_message)
        .unwrap()
        .build()
        .unwrap();
    alice_group.apply_pending_commit().unwrap();
    let welcome = &output.welcome_messages()[0];
    let mut bob = bob_member.join(welcome, &bob_kp);
    let mut carol = carol_member.join(welcome, &carol_kp);

    // Carol (Conclave) leaves; Erin (mls-rs) joins externally with Carol's SelfRemove.
    let leave = carol.self_remove(&[], &mut carol_member.rng).unwrap();
    alice_group
        .process_incoming_message(to_mls_rs(&leave))
        .unwrap();
    bob.process_message(&leave, now()).unwrap();
    let erin = mls_rs_client("erin", false);
    let group_info = alice_group
        .group_info_message_allowing_ext_commit(true)
        .unwrap();
    let (erin_group, commit) = erin
        .external_commit_builder()
        .unwrap()
        .with_received_custom_proposal(to_mls_rs(&leave))
        .build(group_info)
        .unwrap();
    alice_group
        .process_incoming_message(commit.clone())
        .unwrap();
    let ProcessedMessage::Commit(summary) =
        bob.process_message(&to_conclave(&commit), now()).unwrap()
    else {
        panic!("not a commit")
    };
    assert_eq!(summary.removed, vec![carol.own_leaf()]);
    let ProcessedMessage::Commit(summary) =
        carol.process_message(&to_conclave(&commit), now()).unwrap()
    else {
        panic!("not a commit")
    };
    assert!(summary.self_removed);
    assert_agree(&bob, &alice_group, "carol left by erin's external commit");
    assert_agree(&bob, &erin_group, "erin joined");

    // Alice (mls-rs) leaves; Frank (Conclave) joins externally with Alice's SelfRemove.
    let leave = alice_group.propose_self_remove(Vec::new()).unwrap();
    bob.process_message(&to_conclave(&leave), now()).unwrap();
    let mut erin_group = erin_group;
    erin_group.process_incoming_message(leave.clone()).unwrap();
    let mut frank_member = Conclave::new("frank", 5);
    let MlsMessageBody::GroupInfo(info) = bob.group_info(true).unwrap().body else {
        panic!("not a GroupInfo")
    };
    let (frank, output) = Group::join_external(
        frank_member.params.clone(),
        &info,
        &JoinOptions {
            self_removes: vec![to_conclave(&leave)],
            ..JoinOptions::default()
        },
        now(),
        &mut frank_member.rng,
    )
    .unwrap();
    let commit = to_mls_rs(&output.commit);
    bob.process_message(&output.commit, now()).unwrap();
    erin_group.process_incoming_message(commit.clone()).unwrap();
    let ReceivedMessage::Commit(description) =
        alice_group.process_incoming_message(commit).unwrap()
    else {
        panic!("not a commit")
    };
    assert!(matches!(description.effect, CommitEffect::Removed { .. }));
    assert_agree(&bob, &erin_group, "alice left by frank's external commit");
    assert_agree(&frank, &erin_group, "frank joined");
    assert_eq!(erin_group.roster().members().len(), 3);
}

#[test]
fn an_mls_rs_self_remove_in_a_private_message_is_refused_by_conclave() {
    // mls-rs sends SelfRemove in the group's handshake wire format; -10 requires a
    // PublicMessage.
    let alice = mls_rs_client("alice", true);
    let carol_client = mls_rs_client("carol", true);
    let mut bob_member = Conclave::new("bob", 6);
    let mut alice_group = alice
        .create_group(ExtensionList::new(), ExtensionList::new(), None)
        .unwrap();
    let (bob_kp, bob_kp_message) = bob_member.key_package();
    let carol_kp = carol_client
        .generate_key_package_message(ExtensionList::new(), ExtensionList::new(), None)
        .unwrap();
    let output = alice_group
        .commit_builder()
        .add_member(bob_kp_message)
        .unwrap()
        .add_member(carol_kp)
        .unwrap()
        .build()
        .unwrap();
    alice_group.apply_pending_commit().unwrap();
    let welcome = &output.welcome_messages()[0];
    let mut bob = bob_member.join(welcome, &bob_kp);
    let (mut carol, _) = carol_client.join_group(None, welcome, None).unwrap();
    let proposal = to_conclave(&carol.propose_self_remove(Vec::new()).unwrap());
    assert!(matches!(proposal.body, MlsMessageBody::PrivateMessage(_)));
    assert_eq!(
        bob.process_message(&proposal, now()).unwrap_err(),
        GroupError::SelfRemove(SelfRemoveError::NotPublicMessage(2))
    );
    assert_eq!(bob.pending_proposals().count(), 0);
}

#[test]
fn an_mls_rs_self_remove_in_a_group_that_is_not_self_remove_capable_is_refused_by_conclave() {
    let alice = mls_rs_client("alice", false);
    let carol_client = mls_rs_client("carol", false);
    let mut bob_member = Conclave::with_self_remove("bob", 7, false);
    let mut alice_group = alice
        .create_group(ExtensionList::new(), ExtensionList::new(), None)
        .unwrap();
    let (bob_kp, bob_kp_message) = bob_member.key_package();
    let carol_kp = carol_client
        .generate_key_package_message(ExtensionList::new(), ExtensionList::new(), None)
        .unwrap();
    let output = alice_group
        .commit_builder()
        .add_member(bob_kp_message)
        .unwrap()
        .add_member(carol_kp)
        .unwrap()
        .build()
        .unwrap();
    alice_group.apply_pending_commit().unwrap();
    let welcome = &output.welcome_messages()[0];
    let mut bob = bob_member.join(welcome, &bob_kp);
    let (mut carol, _) = carol_client.join_group(None, welcome, None).unwrap();
    assert!(!bob.is_self_remove_capable());
    // mls-rs sends it all the same.
    let proposal = to_conclave(&carol.propose_self_remove(Vec::new()).unwrap());
    let before = bob.to_bytes().unwrap();
    assert_eq!(
        bob.process_message(&proposal, now()).unwrap_err(),
        GroupError::SelfRemove(SelfRemoveError::NotCapable {
            leaf: bob.own_leaf().0,
            proposal_type: 0xF003,
        })
    );
    assert_eq!(bob.to_bytes().unwrap(), before);
}
