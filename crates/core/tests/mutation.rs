//! Mutation tests of message processing (RFC 9420 §6, §12.4.2): valid commits, proposals and
//! application messages are damaged (bit flips in every byte, truncations, changed epoch,
//! group or sender, reordered or dropped proposals, dropped path or confirmation tag, wrong
//! membership tag, replays) and fed to a member, which must reject each with a typed error
//! and keep its state byte for byte (`Group::to_bytes`). The undamaged message must still be
//! accepted afterwards.
//!
//! A member's PublicMessage is covered by its membership tag, which only members can compute,
//! so mutations of member commits stop there; external commits carry no membership tag and
//! are re-signed by the joiner after mutation, so they exercise the deeper rules
//! (RFC 9420 §12.4.3.2, §12.4.2) — among them those of the AppDataUpdate and AppEphemeral
//! proposals an external commit may carry (draft-ietf-mls-extensions-10 §4.7, §4.8, §6.1).
//! Replace commits and the late Updates they carry (draft-barnes-mls-replace-00) are damaged
//! the same way.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use common::{
    LOG, NOW, REACTION, TOPIC, components, create_group, env, group_info_of, identity, key_package,
    snapshot, welcome_of,
};
use conclave_codec::{CodecError, Decode, Encode};
use conclave_core::codepoints::{
    APP_ACK_COMPONENT, APP_COMPONENTS_COMPONENT, CodepointProfile, LEAF_NODE_EPOCH_EXTENSION,
    REPLACE_PROPOSAL, SELF_REMOVE_PROPOSAL_MLS_RS,
};
use conclave_core::credential::BasicIdentityProvider;
use conclave_core::framing::{FramingError, protect_public, sign_content};
use conclave_core::group::{
    AppDataError, CommitOptions, Group, GroupConfig, GroupError, JoinOptions, KeyPackageBundle,
    LeafOptions, MemberParams, NewGroup, ProcessedMessage, SigningIdentity, default_capabilities,
};
use conclave_core::messages::{
    Add, AppAck, AppDataUpdate, AppDataUpdateOperation, AppEphemeral, Commit, ComponentId,
    ComponentsList, Content, ExtensionProposal, ExtensionProposalBody, ExternalInit, FramedContent,
    LeafIndex, MessageRange, MlsMessage, MlsMessageBody, PrivateMessage, Proposal, ProposalOrRef,
    ProposalRef, ProtocolVersion, PublicMessage, Remove, SelfRemove, Sender, WireFormat,
};
use conclave_core::validation::ValidationError;
use conclave_core::validation::negotiation::NegotiationError;
use conclave_crypto::{CipherSuite, CryptoProvider, SeededRng};
use conclave_crypto_rustcrypto::RustCryptoProvider;

/// Why a damaged message was not accepted.
#[derive(Debug)]
enum Rejection {
    /// The bytes do not decode as an `MLSMessage`.
    Decode(#[allow(dead_code)] CodecError),
    /// The member rejected the message.
    Process(GroupError),
}

/// Feeds `bytes` to `group`: it must be rejected (decoding or processing fails, no panic) and
/// the group's serialized state must not change.
fn expect_rejected(group: &mut Group, bytes: &[u8], what: &str) -> Rejection {
    let before = snapshot(group);
    let outcome = catch_unwind(AssertUnwindSafe(|| match MlsMessage::from_bytes(bytes) {
        Err(e) => Rejection::Decode(e),
        Ok(message) => match group.process_message(&message, NOW) {
            Ok(accepted) => panic!("{what}: accepted: {accepted:?}"),
            Err(e) => Rejection::Process(e),
        },
    }));
    let rejection = match outcome {
        Ok(rejection) => rejection,
        Err(_) => panic!("{what}: panicked (input {})", hex::encode(bytes)),
    };
    assert!(
        before == snapshot(group),
        "{what}: state changed although the message was rejected ({rejection:?})"
    );
    rejection
}

/// Like [`expect_rejected`] for a message value; it must encode.
fn expect_message_rejected(group: &mut Group, message: &MlsMessage, what: &str) -> Rejection {
    let bytes = message.to_bytes().unwrap();
    expect_rejected(group, &bytes, what)
}

fn encode(message: &MlsMessage) -> Vec<u8> {
    message.to_bytes().unwrap()
}

/// Flips one bit in every byte (bit `i % 8` of byte `i`) and every bit of the first
/// `header` bytes; each result must be rejected without effect.
fn flip_every_byte(group: &mut Group, original: &[u8], header: usize, what: &str) -> usize {
    let mut count = 0;
    let mut flip = |i: usize, bit: usize| {
        let mut bytes = original.to_vec();
        bytes[i] ^= 1 << bit;
        expect_rejected(group, &bytes, &format!("{what}: bit {bit} of byte {i}"));
        count += 1;
    };
    for i in 0..original.len() {
        flip(i, i % 8);
    }
    for i in 0..header.min(original.len()) {
        for bit in 0..8 {
            if bit != i % 8 {
                flip(i, bit);
            }
        }
    }
    count
}

/// Every strict prefix, and the message with trailing bytes.
fn truncate_and_extend(group: &mut Group, original: &[u8], what: &str) {
    for len in 0..original.len() {
        let rejection = expect_rejected(group, &original[..len], &format!("{what}: {len} bytes"));
        assert!(
            matches!(rejection, Rejection::Decode(_)),
            "{what}: prefix of {len} bytes decoded"
        );
    }
    for extra in [&[0u8][..], &[0, 0, 0, 0], &[0xff]] {
        let mut bytes = original.to_vec();
        bytes.extend_from_slice(extra);
        let rejection = expect_rejected(group, &bytes, &format!("{what}: trailing {extra:?}"));
        assert!(matches!(rejection, Rejection::Decode(_)));
    }
}

fn public(message: &MlsMessage) -> PublicMessage {
    match &message.body {
        MlsMessageBody::PublicMessage(m) => m.clone(),
        other => panic!("not a PublicMessage: {other:?}"),
    }
}

fn private(message: &MlsMessage) -> PrivateMessage {
    match &message.body {
        MlsMessageBody::PrivateMessage(m) => m.clone(),
        other => panic!("not a PrivateMessage: {other:?}"),
    }
}

fn wrap_public(message: PublicMessage) -> MlsMessage {
    MlsMessage::new(MlsMessageBody::PublicMessage(message))
}

fn wrap_private(message: PrivateMessage) -> MlsMessage {
    MlsMessage::new(MlsMessageBody::PrivateMessage(message))
}

fn commit_of(message: &PublicMessage) -> Commit {
    match &message.content.content {
        Content::Commit(commit) => commit.clone(),
        other => panic!("not a commit: {other:?}"),
    }
}

fn is_framing(rejection: &Rejection, expected: &FramingError) -> bool {
    matches!(rejection, Rejection::Process(GroupError::Framing(e)) if e == expected)
}

/// A group of four (alice, bob, carol, dave) built through Welcomes.
struct Fixture {
    rng: SeededRng,
    suite: CipherSuite,
    groups: Vec<Group>,
}

const ALICE: usize = 0;
const BOB: usize = 1;
const CAROL: usize = 2;
const DAVE: usize = 3;

impl Fixture {
    /// `sender` sends an application message that `receiver` reads: the first message from
    /// a sender in an epoch derives that sender's leaf ratchets in the receiver's secret
    /// tree (RFC 9420 §9) even if it is then rejected, a harmless state change (no key is
    /// lost, documented on `framing::unprotect_private`). After this warm-up, rejected
    /// PrivateMessages from `sender` must leave the receiver's state byte for byte.
    fn warm_up(&mut self, sender: usize, receiver: usize) {
        let message = self.groups[sender]
            .encrypt_application_message(b"warm-up", b"", &mut self.rng)
            .unwrap();
        let processed = self.groups[receiver]
            .process_message(&message, NOW)
            .unwrap();
        assert!(matches!(processed, ProcessedMessage::Application { .. }));
    }

    fn new(suite: CipherSuite, handshake: WireFormat, seed: u64) -> Self {
        let mut rng = SeededRng::new(seed);
        let config = GroupConfig {
            handshake_wire_format: handshake,
            ..GroupConfig::default()
        };
        let alice = identity("alice", suite, &mut rng);
        let mut groups = vec![create_group(
            suite,
            b"mutation",
            alice,
            config.clone(),
            &mut rng,
        )];
        for name in ["bob", "carol", "dave"] {
            let signer = identity(name, suite, &mut rng);
            let bundle = key_package(&signer, suite, &mut rng);
            let options = CommitOptions {
                proposals: vec![Proposal::Add(Add {
                    key_package: bundle.key_package.clone(),
                })],
                ..CommitOptions::default()
            };
            let output = groups[0].commit(&options, NOW, &mut rng).unwrap();
            groups[0].merge_pending_commit().unwrap();
            for group in &mut groups[1..] {
                group.process_message(&output.commit, NOW).unwrap();
            }
            let welcome = welcome_of(output.welcome.as_ref().unwrap());
            let joined = Group::join(
                MemberParams {
                    config: config.clone(),
                    ..MemberParams::new(env(), signer)
                },
                &welcome,
                &bundle,
                &JoinOptions::default(),
                NOW,
            )
            .unwrap();
            groups.push(joined);
        }
        Self { rng, suite, groups }
    }

    /// Alice's commit adding erin and removing dave, with a path; not yet merged.
    fn add_remove_commit(&mut self) -> MlsMessage {
        let erin = identity("erin", self.suite, &mut self.rng);
        let bundle = key_package(&erin, self.suite, &mut self.rng);
        let dave = self.groups[DAVE].own_leaf();
        let options = CommitOptions {
            proposals: vec![
                Proposal::Add(Add {
                    key_package: bundle.key_package,
                }),
                Proposal::Remove(Remove { removed: dave }),
            ],
            authenticated_data: b"mutation test".to_vec(),
            ..CommitOptions::default()
        };
        self.groups[ALICE]
            .commit(&options, NOW, &mut self.rng)
            .unwrap()
            .commit
    }

    /// `receiver` accepts the commit, alice merges it, and both agree.
    fn accept_commit(&mut self, receiver: usize, commit: &MlsMessage) {
        let processed = self.groups[receiver].process_message(commit, NOW).unwrap();
        assert!(
            matches!(processed, ProcessedMessage::Commit(_)),
            "{processed:?}"
        );
        self.groups[ALICE].merge_pending_commit().unwrap();
        assert_eq!(self.groups[receiver].epoch(), self.groups[ALICE].epoch());
        assert_eq!(
            self.groups[receiver].epoch_authenticator(),
            self.groups[ALICE].epoch_authenticator()
        );
    }

    fn signer(&self, member: usize) -> &SigningIdentity {
        self.groups[member].signer()
    }
}

// ---- member commits -----------------------------------------------------------------------

fn public_commit_bit_flips(suite: CipherSuite, seed: u64) {
    let mut fx = Fixture::new(suite, WireFormat::PUBLIC_MESSAGE, seed);
    let commit = fx.add_remove_commit();
    let bytes = encode(&commit);
    let flips = flip_every_byte(&mut fx.groups[BOB], &bytes, 24, "public commit");
    assert!(flips > bytes.len());
    // Carol sees the same damage (she is not the sender's sibling in the tree).
    let mut damaged = bytes.clone();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0x40;
    expect_rejected(&mut fx.groups[CAROL], &damaged, "public commit to carol");
    fx.accept_commit(BOB, &commit);
    fx.groups[CAROL].process_message(&commit, NOW).unwrap();
    assert_eq!(
        fx.groups[CAROL].epoch_authenticator(),
        fx.groups[BOB].epoch_authenticator()
    );
}

#[test]
fn public_commit_bit_flips_suite1() {
    public_commit_bit_flips(CipherSuite(1), 11);
}

#[test]
fn public_commit_bit_flips_suite2() {
    public_commit_bit_flips(CipherSuite(2), 12);
}

#[test]
fn public_commit_truncated_or_extended() {
    let mut fx = Fixture::new(CipherSuite(1), WireFormat::PUBLIC_MESSAGE, 13);
    let commit = fx.add_remove_commit();
    let bytes = encode(&commit);
    truncate_and_extend(&mut fx.groups[BOB], &bytes, "public commit");
    fx.accept_commit(BOB, &commit);
}

#[test]
fn public_commit_structural_mutations() {
    let mut fx = Fixture::new(CipherSuite(1), WireFormat::PUBLIC_MESSAGE, 14);
    let commit = fx.add_remove_commit();
    let original = public(&commit);
    let bob = &mut fx.groups[BOB];
    let epoch = bob.epoch();
    let tag_mismatch = FramingError::InvalidMembershipTag;

    // Epoch and group.
    for wrong in [epoch + 1, epoch.wrapping_sub(1), 0, u64::MAX] {
        let mut m = original.clone();
        m.content.epoch = wrong;
        let r = expect_message_rejected(bob, &wrap_public(m), &format!("epoch {wrong}"));
        assert!(
            matches!(r, Rejection::Process(GroupError::WrongEpoch { message, .. }) if message == wrong),
            "{r:?}"
        );
    }
    let mut m = original.clone();
    m.content.group_id = b"another group".to_vec();
    let r = expect_message_rejected(bob, &wrap_public(m), "group id");
    assert!(
        matches!(r, Rejection::Process(GroupError::WrongGroup)),
        "{r:?}"
    );

    // Sender: another member, ourselves, a leaf outside the tree, non-member sender types.
    let carol = fx.groups[CAROL].own_leaf();
    let bob = &mut fx.groups[BOB];
    let own = bob.own_leaf();
    for sender in [Sender::Member(carol), Sender::Member(LeafIndex(99))] {
        let mut m = original.clone();
        m.content.sender = sender;
        let r = expect_message_rejected(bob, &wrap_public(m), &format!("sender {sender:?}"));
        assert!(
            is_framing(&r, &tag_mismatch)
                || matches!(r, Rejection::Process(GroupError::UnknownSender(_))),
            "{sender:?}: {r:?}"
        );
    }
    let mut m = original.clone();
    m.content.sender = Sender::Member(own);
    let r = expect_message_rejected(bob, &wrap_public(m), "sender is the receiver");
    assert!(
        matches!(r, Rejection::Process(GroupError::UnrecognisedOwnMessage)),
        "{r:?}"
    );
    for sender in [
        Sender::External(0),
        Sender::NewMemberCommit,
        Sender::NewMemberProposal,
    ] {
        let mut m = original.clone();
        m.content.sender = sender;
        m.membership_tag = None;
        expect_message_rejected(bob, &wrap_public(m), &format!("sender {sender:?}"));
    }

    // The commit's content: reordered, dropped or duplicated proposals; dropped path.
    let body = commit_of(&original);
    let mut variants: Vec<(&str, Commit)> = Vec::new();
    let mut reordered = body.clone();
    reordered.proposals.reverse();
    variants.push(("reordered proposals", reordered));
    let mut dropped = body.clone();
    dropped.proposals.pop();
    variants.push(("dropped proposal", dropped));
    let mut duplicated = body.clone();
    duplicated.proposals.push(body.proposals[0].clone());
    variants.push(("duplicated proposal", duplicated));
    let mut no_proposals = body.clone();
    no_proposals.proposals.clear();
    variants.push(("no proposals", no_proposals));
    let mut by_reference = body.clone();
    by_reference.proposals[0] = ProposalOrRef::Reference(ProposalRef(vec![7; 32]));
    variants.push(("unknown reference", by_reference));
    let mut no_path = body.clone();
    no_path.path = None;
    variants.push(("dropped path", no_path));
    let mut short_path = body.clone();
    short_path.path.as_mut().unwrap().nodes.pop();
    variants.push(("path without its last node", short_path));
    let mut reused_key = body.clone();
    let alice = LeafIndex(0);
    let old_leaf_key = bob.tree().leaf(alice).unwrap().encryption_key.clone();
    reused_key.path.as_mut().unwrap().leaf_node.encryption_key = old_leaf_key;
    variants.push(("committer keeps its leaf key", reused_key));
    for (what, content) in variants {
        let mut m = original.clone();
        m.content.content = Content::Commit(content);
        let r = expect_message_rejected(bob, &wrap_public(m), what);
        assert!(is_framing(&r, &tag_mismatch), "{what}: {r:?}");
    }

    // Authenticated data, signature, confirmation and membership tags.
    let mut m = original.clone();
    m.content.authenticated_data = b"changed".to_vec();
    let r = expect_message_rejected(bob, &wrap_public(m), "authenticated data");
    assert!(is_framing(&r, &tag_mismatch), "{r:?}");
    let mut m = original.clone();
    m.auth.signature = Vec::new();
    expect_message_rejected(bob, &wrap_public(m), "empty signature");
    let mut m = original.clone();
    m.auth.confirmation_tag = Some(Vec::new());
    expect_message_rejected(bob, &wrap_public(m), "empty confirmation tag");
    let mut m = original.clone();
    m.auth.confirmation_tag.as_mut().unwrap()[0] ^= 1;
    expect_message_rejected(bob, &wrap_public(m), "flipped confirmation tag");
    for (what, tag) in [
        ("empty membership tag", Vec::new()),
        ("zero membership tag", vec![0; 32]),
        (
            "short membership tag",
            original.membership_tag.clone().unwrap()[..16].to_vec(),
        ),
        (
            "long membership tag",
            [original.membership_tag.clone().unwrap(), vec![0]].concat(),
        ),
    ] {
        let mut m = original.clone();
        m.membership_tag = Some(tag);
        let r = expect_message_rejected(bob, &wrap_public(m), what);
        assert!(is_framing(&r, &tag_mismatch), "{what}: {r:?}");
    }
    // A membership tag computed by a member of another epoch: the previous message's.
    let mut m = original.clone();
    m.membership_tag = Some(vec![0xaa; original.membership_tag.as_ref().unwrap().len()]);
    expect_message_rejected(bob, &wrap_public(m), "random membership tag");

    // The confirmation tag cut out of the encoding (the struct refuses to encode that).
    let bytes = encode(&commit);
    let tag = original.auth.confirmation_tag.clone().unwrap();
    let start = 4 + original.content.encoded_len() + original.auth.signature.encoded_len();
    let tag_len = tag.encoded_len();
    assert_eq!(
        &bytes[start + tag_len - tag.len()..start + tag_len],
        tag.as_slice()
    );
    let cut = [&bytes[..start], &bytes[start + tag_len..]].concat();
    expect_rejected(bob, &cut, "confirmation tag removed");

    // Other MLSMessage wire formats and versions.
    let mut m = commit.clone();
    m.version = ProtocolVersion(2);
    let r = expect_message_rejected(bob, &m, "version");
    assert!(
        matches!(r, Rejection::Process(GroupError::UnsupportedVersion(2))),
        "{r:?}"
    );
    let group_info = bob.group_info(true).unwrap();
    let r = expect_message_rejected(bob, &group_info, "GroupInfo");
    assert!(
        matches!(r, Rejection::Process(GroupError::UnexpectedWireFormat(_))),
        "{r:?}"
    );

    // The original is still accepted; afterwards it is a replay for the old epoch.
    fx.accept_commit(BOB, &commit);
    let r = expect_message_rejected(&mut fx.groups[BOB], &commit, "replayed commit");
    assert!(
        matches!(r, Rejection::Process(GroupError::WrongEpoch { .. })),
        "{r:?}"
    );
    // Dave was removed by it: he processes it, then nothing more.
    fx.groups[DAVE].process_message(&commit, NOW).unwrap();
    let r = expect_message_rejected(&mut fx.groups[DAVE], &commit, "commit to a removed member");
    assert!(matches!(r, Rejection::Process(_)), "{r:?}");
}

#[test]
fn private_commit_mutations() {
    let mut fx = Fixture::new(CipherSuite(1), WireFormat::PRIVATE_MESSAGE, 15);
    fx.warm_up(ALICE, BOB);
    let commit = fx.add_remove_commit();
    let bytes = encode(&commit);
    let flips = flip_every_byte(&mut fx.groups[BOB], &bytes, 24, "private commit");
    assert!(flips > bytes.len());
    truncate_and_extend(&mut fx.groups[BOB], &bytes, "private commit");
    let original = private(&commit);
    let bob = &mut fx.groups[BOB];
    let epoch = bob.epoch();
    let mut m = original.clone();
    m.epoch = epoch + 1;
    let r = expect_message_rejected(bob, &wrap_private(m), "future epoch");
    assert!(
        matches!(r, Rejection::Process(GroupError::WrongEpoch { .. })),
        "{r:?}"
    );
    let mut m = original.clone();
    m.epoch = epoch - 1;
    let r = expect_message_rejected(bob, &wrap_private(m), "past epoch (commit)");
    assert!(
        matches!(r, Rejection::Process(GroupError::WrongEpoch { .. })),
        "{r:?}"
    );
    let mut m = original.clone();
    m.content_type = conclave_core::messages::ContentType::Application;
    expect_message_rejected(bob, &wrap_private(m), "content type");
    let mut m = original.clone();
    m.authenticated_data = b"changed".to_vec();
    expect_message_rejected(bob, &wrap_private(m), "authenticated data");
    let mut m = original.clone();
    m.encrypted_sender_data.truncate(4);
    expect_message_rejected(bob, &wrap_private(m), "short sender data");
    let mut m = original.clone();
    m.ciphertext.truncate(m.ciphertext.len() - 1);
    expect_message_rejected(bob, &wrap_private(m), "short ciphertext");
    let mut m = original.clone();
    m.ciphertext.clear();
    expect_message_rejected(bob, &wrap_private(m), "empty ciphertext");
    fx.accept_commit(BOB, &commit);
    let r = expect_message_rejected(&mut fx.groups[BOB], &commit, "replayed commit");
    assert!(
        matches!(r, Rejection::Process(GroupError::WrongEpoch { .. })),
        "{r:?}"
    );
}

/// An empty commit needs a path (RFC 9420 §12.4); one without a path is rejected (here by
/// the membership tag, which covers the whole content).
#[test]
fn empty_commit_without_path() {
    let mut fx = Fixture::new(CipherSuite(1), WireFormat::PUBLIC_MESSAGE, 16);
    let output = fx.groups[ALICE]
        .commit(&CommitOptions::default(), NOW, &mut fx.rng)
        .unwrap();
    let original = public(&output.commit);
    let mut m = original.clone();
    let mut body = commit_of(&original);
    body.path = None;
    m.content.content = Content::Commit(body);
    expect_message_rejected(
        &mut fx.groups[BOB],
        &wrap_public(m),
        "empty commit without path",
    );
    fx.accept_commit(BOB, &output.commit);
}

// ---- proposals ----------------------------------------------------------------------------

fn proposal_mutations(handshake: WireFormat, seed: u64) {
    let mut fx = Fixture::new(CipherSuite(1), handshake, seed);
    fx.warm_up(CAROL, BOB);
    let proposal = fx.groups[CAROL].propose_update(None, &mut fx.rng).unwrap();
    let bytes = encode(&proposal);
    flip_every_byte(&mut fx.groups[BOB], &bytes, 16, "update proposal");
    truncate_and_extend(&mut fx.groups[BOB], &bytes, "update proposal");
    if handshake == WireFormat::PUBLIC_MESSAGE {
        let original = public(&proposal);
        let bob = &mut fx.groups[BOB];
        let mut m = original.clone();
        m.content.content = Content::Application(b"not a proposal".to_vec());
        expect_message_rejected(bob, &wrap_public(m), "application data as PublicMessage");
        let mut m = original.clone();
        m.content.content = Content::Proposal(Proposal::ExternalInit(ExternalInit {
            kem_output: vec![1; 32],
        }));
        expect_message_rejected(bob, &wrap_public(m), "ExternalInit by reference");
        let mut m = original.clone();
        m.content.epoch += 1;
        expect_message_rejected(bob, &wrap_public(m), "proposal for the next epoch");
    }
    let processed = fx.groups[BOB].process_message(&proposal, NOW).unwrap();
    assert!(
        matches!(processed, ProcessedMessage::Proposal { .. }),
        "{processed:?}"
    );
    fx.groups[ALICE].process_message(&proposal, NOW).unwrap();
    fx.groups[DAVE].process_message(&proposal, NOW).unwrap();
    assert_eq!(
        fx.groups[CAROL].process_message(&proposal, NOW).unwrap(),
        ProcessedMessage::OwnMessage
    );

    // Bob commits the Update; everyone, carol included, follows.
    let output = fx.groups[BOB]
        .commit(&CommitOptions::default(), NOW, &mut fx.rng)
        .unwrap();
    fx.groups[BOB].merge_pending_commit().unwrap();
    for member in [ALICE, CAROL, DAVE] {
        let processed = fx.groups[member]
            .process_message(&output.commit, NOW)
            .unwrap();
        let ProcessedMessage::Commit(summary) = processed else {
            panic!("{processed:?}");
        };
        assert_eq!(summary.updated, vec![fx.groups[CAROL].own_leaf()]);
        assert_eq!(
            fx.groups[member].epoch_authenticator(),
            fx.groups[BOB].epoch_authenticator()
        );
    }
    // The proposal of the old epoch is now rejected.
    let r = expect_message_rejected(
        &mut fx.groups[ALICE],
        &proposal,
        "proposal of the old epoch",
    );
    assert!(
        matches!(r, Rejection::Process(GroupError::WrongEpoch { .. })),
        "{r:?}"
    );
}

#[test]
fn public_proposal_mutations() {
    proposal_mutations(WireFormat::PUBLIC_MESSAGE, 21);
}

#[test]
fn private_proposal_mutations() {
    proposal_mutations(WireFormat::PRIVATE_MESSAGE, 22);
}

/// A replayed PublicMessage proposal (PublicMessages carry no generation, so nothing in
/// framing detects a replay, RFC 9420 §6.2) must not break the next commit: it is either
/// rejected or ignored, and the next commit covering the pending proposals still works.
///
/// BUG (group/mod.rs `Group::process_verified` → group/proposals.rs `receive_proposal`):
/// the replay is cached a second time under the same ProposalRef; `Group::commit` with
/// `include_pending` then lists the same Update twice and fails with
/// `InvalidProposalList("several Update and/or Remove proposals apply to the same leaf")`
/// (RFC 9420 §12.2), so anyone able to replay a message blocks every commit of the receiver
/// for the epoch.
#[test]
fn replayed_public_proposal() {
    let mut fx = Fixture::new(CipherSuite(1), WireFormat::PUBLIC_MESSAGE, 23);
    let proposal = fx.groups[CAROL].propose_update(None, &mut fx.rng).unwrap();
    for member in [ALICE, BOB, DAVE] {
        fx.groups[member].process_message(&proposal, NOW).unwrap();
    }
    let before = snapshot(&fx.groups[BOB]);
    let replay = fx.groups[BOB].process_message(&proposal, NOW);
    assert!(
        replay.is_err() || before == snapshot(&fx.groups[BOB]),
        "a replayed proposal changed the state: {replay:?}"
    );
    assert_eq!(fx.groups[BOB].pending_proposals().count(), 1);
    let output = fx.groups[BOB]
        .commit(&CommitOptions::default(), NOW, &mut fx.rng)
        .unwrap();
    fx.groups[BOB].merge_pending_commit().unwrap();
    for member in [ALICE, CAROL, DAVE] {
        fx.groups[member]
            .process_message(&output.commit, NOW)
            .unwrap();
    }
}

// ---- application messages -----------------------------------------------------------------

#[test]
fn application_message_mutations() {
    let mut fx = Fixture::new(CipherSuite(1), WireFormat::PUBLIC_MESSAGE, 31);
    fx.warm_up(CAROL, BOB);
    let message = fx.groups[CAROL]
        .encrypt_application_message(b"attack at dawn", b"ad", &mut fx.rng)
        .unwrap();
    let bytes = encode(&message);
    flip_every_byte(&mut fx.groups[BOB], &bytes, 16, "application message");
    truncate_and_extend(&mut fx.groups[BOB], &bytes, "application message");
    let original = private(&message);
    let bob = &mut fx.groups[BOB];
    let epoch = bob.epoch();
    for wrong in [epoch + 1, epoch - 1, 0] {
        let mut m = original.clone();
        m.epoch = wrong;
        let r = expect_message_rejected(bob, &wrap_private(m), &format!("epoch {wrong}"));
        assert!(matches!(r, Rejection::Process(_)), "{r:?}");
    }
    let mut m = original.clone();
    m.content_type = conclave_core::messages::ContentType::Proposal;
    expect_message_rejected(bob, &wrap_private(m), "content type");
    let mut m = original.clone();
    m.authenticated_data = b"AD".to_vec();
    expect_message_rejected(bob, &wrap_private(m), "authenticated data");
    let mut m = original.clone();
    m.group_id = b"elsewhere".to_vec();
    let r = expect_message_rejected(bob, &wrap_private(m), "group id");
    assert!(
        matches!(r, Rejection::Process(GroupError::WrongGroup)),
        "{r:?}"
    );
    // Sender data of another message of the same sender (a later generation).
    let second = fx.groups[CAROL]
        .encrypt_application_message(b"second", b"", &mut fx.rng)
        .unwrap();
    let mut m = original.clone();
    m.encrypted_sender_data = private(&second).encrypted_sender_data;
    expect_message_rejected(&mut fx.groups[BOB], &wrap_private(m), "spliced sender data");

    // The original is still readable, once.
    let processed = fx.groups[BOB].process_message(&message, NOW).unwrap();
    assert!(
        matches!(&processed, ProcessedMessage::Application { data, .. } if data == b"attack at dawn"),
        "{processed:?}"
    );
    expect_message_rejected(
        &mut fx.groups[BOB],
        &message,
        "replayed application message",
    );
    let processed = fx.groups[BOB].process_message(&second, NOW).unwrap();
    assert!(matches!(processed, ProcessedMessage::Application { .. }));
    expect_message_rejected(&mut fx.groups[BOB], &second, "replayed second message");

    // After a commit, a late message of the previous epoch is still readable (RFC 9420 §14),
    // but damaged copies of it are not.
    let late = fx.groups[CAROL]
        .encrypt_application_message(b"late", b"", &mut fx.rng)
        .unwrap();
    let output = fx.groups[ALICE]
        .commit(&CommitOptions::default(), NOW, &mut fx.rng)
        .unwrap();
    fx.accept_commit(BOB, &output.commit);
    let late_bytes = encode(&late);
    flip_every_byte(
        &mut fx.groups[BOB],
        &late_bytes,
        0,
        "late application message",
    );
    let processed = fx.groups[BOB].process_message(&late, NOW).unwrap();
    assert!(matches!(&processed, ProcessedMessage::Application { data, .. } if data == b"late"));
    expect_message_rejected(&mut fx.groups[BOB], &late, "replayed late message");
}

/// The documented exception: the first PrivateMessage from a sender in an epoch derives that
/// sender's leaf ratchets in the secret tree (RFC 9420 §9) before its content fails to
/// decrypt. The serialized state may then differ, but no key is lost: the epoch is unchanged
/// and the genuine message is still accepted.
#[test]
fn first_damaged_private_message_loses_no_key() {
    let mut fx = Fixture::new(CipherSuite(1), WireFormat::PRIVATE_MESSAGE, 32);
    let message = fx.groups[CAROL]
        .encrypt_application_message(b"first", b"ad", &mut fx.rng)
        .unwrap();
    let mut m = private(&message);
    m.authenticated_data = b"AD".to_vec();
    let bob = &mut fx.groups[BOB];
    let (epoch, authenticator) = (bob.epoch(), bob.epoch_authenticator().to_vec());
    let result = bob.process_message(&wrap_private(m), NOW);
    assert!(
        matches!(
            result,
            Err(GroupError::Framing(FramingError::ContentDecryption))
        ),
        "{result:?}"
    );
    assert_eq!(
        (bob.epoch(), bob.epoch_authenticator()),
        (epoch, authenticator.as_slice())
    );
    let processed = bob.process_message(&message, NOW).unwrap();
    assert!(matches!(&processed, ProcessedMessage::Application { data, .. } if data == b"first"));
}

// ---- external commits: re-signed by the joiner after mutation ------------------------------

/// An external joiner's commit, with the joiner's signing identity.
struct ExternalCommit {
    message: PublicMessage,
    signer: SigningIdentity,
}

fn external_commit(fx: &mut Fixture, resync_of: Option<usize>) -> ExternalCommit {
    let group_info = group_info_of(&fx.groups[ALICE].group_info(true).unwrap());
    let (signer, options) = match resync_of {
        Some(member) => (
            fx.signer(member).clone(),
            JoinOptions {
                remove_prior_leaf: Some(fx.groups[member].own_leaf()),
                ..JoinOptions::default()
            },
        ),
        None => (
            identity("frank", fx.suite, &mut fx.rng),
            JoinOptions::default(),
        ),
    };
    let (_group, output) = Group::join_external(
        MemberParams::new(env(), signer.clone()),
        &group_info,
        &options,
        NOW,
        &mut fx.rng,
    )
    .unwrap();
    ExternalCommit {
        message: public(&output.commit),
        signer,
    }
}

/// Re-signs `content` as the joiner would (RFC 9420 §6.1), keeping `confirmation_tag`.
fn resign(
    fx: &Fixture,
    receiver: usize,
    signer: &SigningIdentity,
    content: FramedContent,
    confirmation_tag: Option<Vec<u8>>,
) -> MlsMessage {
    let cs = RustCryptoProvider.cipher_suite_provider(fx.suite).unwrap();
    let mut context = fx.groups[receiver].context().clone();
    // Sign for the epoch the content claims, as an attacker would.
    context.epoch = content.epoch;
    let mut signed = sign_content(
        cs.as_ref(),
        signer.secret_key.as_bytes(),
        WireFormat::PUBLIC_MESSAGE,
        content,
        Some(&context),
    )
    .unwrap();
    signed.auth.confirmation_tag = confirmation_tag;
    let message = protect_public(cs.as_ref(), &signed, Some(&context), None).unwrap();
    wrap_public(message)
}

#[test]
fn external_commit_mutations() {
    let mut fx = Fixture::new(CipherSuite(1), WireFormat::PUBLIC_MESSAGE, 41);
    let external = external_commit(&mut fx, Some(DAVE));
    let original = external.message.clone();
    let tag = original.auth.confirmation_tag.clone();
    let body = commit_of(&original);
    assert_eq!(body.proposals.len(), 2, "ExternalInit and Remove");

    // Re-signing the unchanged content gives an acceptable message: the harness is sound.
    let same = resign(
        &fx,
        BOB,
        &external.signer,
        original.content.clone(),
        tag.clone(),
    );
    assert_eq!(encode(&same), encode(&wrap_public(original.clone())));

    let bytes = encode(&wrap_public(original.clone()));
    flip_every_byte(&mut fx.groups[BOB], &bytes, 16, "external commit");
    truncate_and_extend(&mut fx.groups[BOB], &bytes, "external commit");

    let with_commit = |commit: Commit| FramedContent {
        content: Content::Commit(commit),
        ..original.content.clone()
    };
    let init = body.proposals[0].clone();
    let remove = body.proposals[1].clone();
    let erin_kp = {
        let erin = identity("erin", fx.suite, &mut fx.rng);
        key_package(&erin, fx.suite, &mut fx.rng).key_package
    };
    let proposal = ProposalOrRef::proposal;
    let mut cases: Vec<(&str, FramedContent, Option<Vec<u8>>)> = Vec::new();
    let mut c = body.clone();
    c.proposals.reverse();
    cases.push(("reordered proposals", with_commit(c), tag.clone()));
    let mut c = body.clone();
    c.proposals.remove(0);
    cases.push(("no ExternalInit", with_commit(c), tag.clone()));
    let mut c = body.clone();
    c.proposals.push(init.clone());
    cases.push(("two ExternalInits", with_commit(c), tag.clone()));
    let mut c = body.clone();
    c.proposals.push(remove.clone());
    cases.push(("two Removes", with_commit(c), tag.clone()));
    let mut c = body.clone();
    let carol = fx.groups[CAROL].own_leaf();
    c.proposals[1] = proposal(Proposal::Remove(Remove { removed: carol }));
    cases.push(("removes someone else", with_commit(c), tag.clone()));
    let mut c = body.clone();
    c.proposals.push(proposal(Proposal::Add(Add {
        key_package: erin_kp,
    })));
    cases.push(("with an Add", with_commit(c), tag.clone()));
    let mut c = body.clone();
    c.proposals
        .push(ProposalOrRef::Reference(ProposalRef(vec![1; 32])));
    cases.push(("with a reference", with_commit(c), tag.clone()));
    let mut c = body.clone();
    if let ProposalOrRef::Proposal(p) = &mut c.proposals[0]
        && let Proposal::ExternalInit(e) = p.as_mut()
    {
        e.kem_output[0] ^= 1;
    }
    cases.push(("damaged kem_output", with_commit(c), tag.clone()));
    let mut c = body.clone();
    c.path.as_mut().unwrap().nodes.pop();
    cases.push(("path without its last node", with_commit(c), tag.clone()));
    let mut c = body.clone();
    c.path.as_mut().unwrap().nodes.swap(0, 1);
    cases.push(("path nodes swapped", with_commit(c), tag.clone()));
    let mut c = body.clone();
    c.path.as_mut().unwrap().leaf_node.encryption_key.0[0] ^= 1;
    cases.push((
        "leaf key changed (leaf signature)",
        with_commit(c),
        tag.clone(),
    ));
    let mut c = body.clone();
    let bob_key = fx.groups[BOB]
        .tree()
        .leaf(fx.groups[BOB].own_leaf())
        .unwrap()
        .encryption_key
        .clone();
    c.path.as_mut().unwrap().nodes[0].encryption_key = bob_key;
    cases.push(("path key already in the tree", with_commit(c), tag.clone()));
    let mut c = body.clone();
    c.path.as_mut().unwrap().nodes[0]
        .encrypted_path_secret
        .clear();
    cases.push(("no ciphertexts for a node", with_commit(c), tag.clone()));
    let mut content = original.content.clone();
    content.authenticated_data = b"changed".to_vec();
    cases.push(("authenticated data (transcript)", content, tag.clone()));
    cases.push((
        "empty confirmation tag",
        original.content.clone(),
        Some(Vec::new()),
    ));
    let mut flipped = tag.clone().unwrap();
    flipped[3] ^= 0x10;
    cases.push((
        "flipped confirmation tag",
        original.content.clone(),
        Some(flipped),
    ));
    let mut content = original.content.clone();
    content.epoch += 1;
    cases.push(("next epoch", content, tag.clone()));

    for (what, content, confirmation_tag) in cases {
        let message = resign(&fx, BOB, &external.signer, content, confirmation_tag);
        let r = expect_message_rejected(&mut fx.groups[BOB], &message, what);
        assert!(matches!(r, Rejection::Process(_)), "{what}: {r:?}");
        if what.contains("confirmation tag") || what.contains("transcript") {
            assert!(
                matches!(r, Rejection::Process(GroupError::ConfirmationTagMismatch)),
                "{what}: {r:?}"
            );
        }
        if what == "next epoch" {
            assert!(
                matches!(r, Rejection::Process(GroupError::WrongEpoch { .. })),
                "{r:?}"
            );
        }
    }

    // The path dropped: the sender's signature key is in the path, so nothing verifies.
    let mut c = body.clone();
    c.path = None;
    let message = resign(&fx, BOB, &external.signer, with_commit(c), tag.clone());
    let r = expect_message_rejected(
        &mut fx.groups[BOB],
        &message,
        "external commit without path",
    );
    assert!(
        matches!(r, Rejection::Process(GroupError::PathRequired(_))),
        "{r:?}"
    );

    // Signed by someone else (carol's key; the path names the joiner's).
    let carol_signer = fx.signer(CAROL).clone();
    let message = resign(
        &fx,
        BOB,
        &carol_signer,
        original.content.clone(),
        tag.clone(),
    );
    let r = expect_message_rejected(&mut fx.groups[BOB], &message, "wrong signer");
    assert!(is_framing(&r, &FramingError::InvalidSignature), "{r:?}");

    // A member sender without a valid membership tag.
    let mut m = original.clone();
    m.content.sender = Sender::Member(fx.groups[DAVE].own_leaf());
    m.membership_tag = Some(vec![0; 32]);
    expect_message_rejected(
        &mut fx.groups[BOB],
        &wrap_public(m),
        "external commit as member",
    );

    let message = wrap_public(original);
    let processed = fx.groups[BOB].process_message(&message, NOW).unwrap();
    assert!(
        matches!(processed, ProcessedMessage::Commit(_)),
        "{processed:?}"
    );
    let r = expect_message_rejected(&mut fx.groups[BOB], &message, "replayed external commit");
    assert!(
        matches!(r, Rejection::Process(GroupError::WrongEpoch { .. })),
        "{r:?}"
    );
}

/// A plain external join (no resync): its mutations, and the original accepted by all.
#[test]
fn external_join_mutations() {
    let mut fx = Fixture::new(CipherSuite(2), WireFormat::PRIVATE_MESSAGE, 42);
    let external = external_commit(&mut fx, None);
    let original = external.message.clone();
    let body = commit_of(&original);
    let tag = original.auth.confirmation_tag.clone();
    let mut c = body.clone();
    let dave = fx.groups[DAVE].own_leaf();
    c.proposals
        .push(ProposalOrRef::proposal(Proposal::Remove(Remove {
            removed: dave,
        })));
    let content = FramedContent {
        content: Content::Commit(c),
        ..original.content.clone()
    };
    let message = resign(&fx, BOB, &external.signer, content, tag);
    expect_message_rejected(
        &mut fx.groups[BOB],
        &message,
        "external commit removing dave",
    );
    let message = wrap_public(original);
    for member in [ALICE, BOB, CAROL, DAVE] {
        let processed = fx.groups[member].process_message(&message, NOW).unwrap();
        assert!(
            matches!(processed, ProcessedMessage::Commit(_)),
            "{processed:?}"
        );
    }
    assert_eq!(
        fx.groups[ALICE].epoch_authenticator(),
        fx.groups[DAVE].epoch_authenticator()
    );
}

// ---- application data (draft-ietf-mls-extensions-10 §4.7, §4.8, §6.1) ----------------------

fn app_update(component: ComponentId, op: AppDataUpdateOperation) -> ProposalOrRef {
    ProposalOrRef::proposal(Proposal::Extension(ExtensionProposal::new(
        CodepointProfile::Draft,
        ExtensionProposalBody::AppDataUpdate(AppDataUpdate {
            component_id: component,
            op,
        }),
    )))
}

fn app_ephemeral(component: ComponentId, data: Vec<u8>) -> ProposalOrRef {
    ProposalOrRef::proposal(Proposal::Extension(ExtensionProposal::new(
        CodepointProfile::Draft,
        ExtensionProposalBody::AppEphemeral(AppEphemeral {
            component_id: component,
            data,
        }),
    )))
}

/// What a damaged message must be refused with.
type Expected = fn(&GroupError) -> bool;

/// An external commit carrying AppDataUpdate and AppEphemeral proposals by value, its
/// proposals damaged one rule at a time and re-signed by the joiner: each must be refused
/// for that rule, with the member's state unchanged; the original is then accepted by all.
#[test]
fn external_commit_app_data_mutations() {
    let mut fx = Fixture::new(CipherSuite(1), WireFormat::PUBLIC_MESSAGE, 43);
    for group in &mut fx.groups {
        group.set_component_handler(components());
    }
    let group_info = group_info_of(&fx.groups[ALICE].group_info(true).unwrap());
    let frank = identity("frank", fx.suite, &mut fx.rng);
    let options = JoinOptions {
        app_proposals: vec![
            ExtensionProposalBody::AppDataUpdate(AppDataUpdate {
                component_id: TOPIC,
                op: AppDataUpdateOperation::Update(b"frank joined".to_vec()),
            }),
            ExtensionProposalBody::AppEphemeral(AppEphemeral {
                component_id: REACTION,
                data: b"hi".to_vec(),
            }),
        ],
        ..JoinOptions::default()
    };
    let (mut frank_group, output) = Group::join_external(
        MemberParams {
            components: components(),
            ..MemberParams::new(env(), frank.clone())
        },
        &group_info,
        &options,
        NOW,
        &mut fx.rng,
    )
    .unwrap();
    let original = public(&output.commit);
    let tag = original.auth.confirmation_tag.clone();
    let body = commit_of(&original);
    assert_eq!(
        body.proposals.len(),
        3,
        "ExternalInit, AppDataUpdate, AppEphemeral"
    );

    let with_proposals = |extra: Vec<(usize, ProposalOrRef)>, push: Vec<ProposalOrRef>| {
        let mut commit = body.clone();
        for (index, proposal) in extra {
            commit.proposals[index] = proposal;
        }
        commit.proposals.extend(push);
        FramedContent {
            content: Content::Commit(commit),
            ..original.content.clone()
        }
    };
    let update = |data: &[u8]| AppDataUpdateOperation::Update(data.to_vec());
    let ack = |sender: u32, first: u32, last: u32| {
        AppAck {
            received_ranges: vec![MessageRange {
                sender,
                first_generation: first,
                last_generation: last,
            }],
        }
        .to_bytes()
        .unwrap()
    };
    let unknown = ComponentId(0x9999);
    let requiring_unknown = ComponentsList {
        component_ids: vec![unknown],
    }
    .to_bytes()
    .unwrap();
    // A proposal under another profile's codepoint (mls-rs's SelfRemove) decodes, and the
    // group refuses the codepoint.
    let other_profile = ProposalOrRef::proposal(Proposal::Extension(ExtensionProposal {
        proposal_type: SELF_REMOVE_PROPOSAL_MLS_RS,
        body: ExtensionProposalBody::SelfRemove(SelfRemove),
    }));
    let cases: Vec<(&str, FramedContent, Expected)> = vec![
        (
            "update of an unknown component",
            with_proposals(vec![(1, app_update(unknown, update(b"x")))], vec![]),
            |e| {
                matches!(
                    e,
                    GroupError::AppData(AppDataError::UnknownUpdateComponent(_))
                )
            },
        ),
        (
            "remove of an absent entry",
            with_proposals(
                vec![(1, app_update(LOG, AppDataUpdateOperation::Remove))],
                vec![],
            ),
            |e| matches!(e, GroupError::AppData(AppDataError::RemoveOfAbsentEntry(_))),
        ),
        (
            "remove together with an update",
            with_proposals(
                vec![],
                vec![app_update(TOPIC, AppDataUpdateOperation::Remove)],
            ),
            |e| matches!(e, GroupError::AppData(AppDataError::RemoveNotAlone(_))),
        ),
        (
            "update the component rejects",
            with_proposals(vec![(1, app_update(TOPIC, update(b"!no")))], vec![]),
            |e| matches!(e, GroupError::AppData(AppDataError::UpdateRejected { .. })),
        ),
        (
            "a SelfRemove by value under another profile's codepoint",
            with_proposals(vec![], vec![other_profile]),
            // Either rule refuses it first: the codepoint, or SelfRemove only by reference.
            |e| {
                matches!(
                    e,
                    GroupError::AppData(AppDataError::ProposalCodepoint { .. })
                        | GroupError::SelfRemove(_)
                )
            },
        ),
        (
            "ephemeral data of an unknown component",
            with_proposals(vec![(2, app_ephemeral(unknown, b"x".to_vec()))], vec![]),
            |e| {
                matches!(
                    e,
                    GroupError::AppData(AppDataError::UnknownEphemeralComponent(_))
                )
            },
        ),
        (
            "ephemeral data the component rejects",
            with_proposals(vec![(2, app_ephemeral(REACTION, Vec::new()))], vec![]),
            |e| {
                matches!(
                    e,
                    GroupError::AppData(AppDataError::EphemeralRejected { .. })
                )
            },
        ),
        (
            "AppAck of a leaf that is no member",
            with_proposals(
                vec![(2, app_ephemeral(APP_ACK_COMPONENT, ack(9, 0, 1)))],
                vec![],
            ),
            |e| {
                matches!(
                    e,
                    GroupError::AppData(AppDataError::AppAckSenderNotMember(9))
                )
            },
        ),
        (
            "AppAck with a reversed range",
            with_proposals(
                vec![(2, app_ephemeral(APP_ACK_COMPONENT, ack(1, 5, 1)))],
                vec![],
            ),
            |e| {
                matches!(
                    e,
                    GroupError::AppData(AppDataError::AppAckRangeReversed { .. })
                )
            },
        ),
        (
            "requiring a component no member supports",
            with_proposals(
                vec![(
                    1,
                    app_update(APP_COMPONENTS_COMPONENT, update(&requiring_unknown)),
                )],
                vec![],
            ),
            |e| {
                matches!(
                    e,
                    GroupError::Validation(ValidationError::Negotiation(
                        NegotiationError::RequiredComponentUnsupported { .. }
                    ))
                )
            },
        ),
        (
            "a valid update other than the one the path was encrypted for",
            with_proposals(vec![(1, app_update(TOPIC, update(b"frank left")))], vec![]),
            |e| !matches!(e, GroupError::AppData(_)),
        ),
    ];
    for (what, content, expected) in cases {
        let message = resign(&fx, BOB, &frank, content, tag.clone());
        let r = expect_message_rejected(&mut fx.groups[BOB], &message, what);
        match &r {
            Rejection::Process(error) => assert!(expected(error), "{what}: {error:?}"),
            Rejection::Decode(_) => panic!("{what}: {r:?}"),
        }
    }

    let message = wrap_public(original);
    for member in [ALICE, BOB, CAROL, DAVE] {
        let processed = fx.groups[member].process_message(&message, NOW).unwrap();
        let ProcessedMessage::Commit(summary) = processed else {
            panic!("{processed:?}");
        };
        assert_eq!(summary.app_data.changes.len(), 1);
        assert_eq!(summary.app_data.ephemeral.len(), 1);
        assert_eq!(
            fx.groups[member].app_data(TOPIC).unwrap(),
            Some(b"frank joined".to_vec())
        );
        assert_eq!(
            fx.groups[member].epoch_authenticator(),
            frank_group.epoch_authenticator()
        );
    }
    // Frank's group talks with the others.
    let hello = frank_group
        .encrypt_application_message(b"hello", b"", &mut fx.rng)
        .unwrap();
    assert!(matches!(
        fx.groups[ALICE].process_message(&hello, NOW).unwrap(),
        ProcessedMessage::Application { .. }
    ));
}

/// An AppDataUpdate proposal by reference, damaged in every byte: rejected without effect;
/// the original is then accepted and committed.
#[test]
fn app_data_update_proposal_mutations() {
    let mut fx = Fixture::new(CipherSuite(1), WireFormat::PRIVATE_MESSAGE, 44);
    for group in &mut fx.groups {
        group.set_component_handler(components());
    }
    fx.warm_up(CAROL, BOB);
    let proposal = fx.groups[CAROL]
        .propose_app_data_update(
            AppDataUpdate {
                component_id: LOG,
                op: AppDataUpdateOperation::Update(b"entry".to_vec()),
            },
            &mut fx.rng,
        )
        .unwrap();
    let bytes = encode(&proposal);
    flip_every_byte(&mut fx.groups[BOB], &bytes, 16, "AppDataUpdate proposal");
    truncate_and_extend(&mut fx.groups[BOB], &bytes, "AppDataUpdate proposal");
    for member in [ALICE, BOB, DAVE] {
        let processed = fx.groups[member].process_message(&proposal, NOW).unwrap();
        assert!(matches!(processed, ProcessedMessage::Proposal { .. }));
    }
    let output = fx.groups[BOB]
        .commit(&CommitOptions::default(), NOW, &mut fx.rng)
        .unwrap();
    fx.groups[BOB].merge_pending_commit().unwrap();
    for member in [ALICE, CAROL, DAVE] {
        fx.groups[member]
            .process_message(&output.commit, NOW)
            .unwrap();
        assert_eq!(
            fx.groups[member].app_data(LOG).unwrap(),
            Some(b"entry".to_vec())
        );
    }
}

// ---- the room policy (draft-ietf-mimi-room-policy-04) ----------------------------------------

/// An external join of an open room (§8.1.1: `canOpenJoin` on role 0, the joiner puts itself
/// in the participant list as a member) is damaged in its participant-list update and
/// re-signed by the joiner: every damaged version is refused with the state unchanged, and
/// the original is accepted afterwards. The same join of an admins-only room is refused.
#[test]
fn room_policy_external_join_mutations() {
    use conclave_core::codepoints::ROOM_PARTICIPANTS_COMPONENT;
    use conclave_core::group::policy::{
        ADMIN_ROLE, MEMBER_ROLE, Participant, ParticipantList, PolicyError, Preset,
    };
    use conclave_core::group::{KeyPackageBundle, NewGroup};

    let suite = CipherSuite(1);
    let mut rng = SeededRng::new(77);
    let params = |name: &str, rng: &mut SeededRng| {
        let mut params = MemberParams::new(env(), identity(name, suite, rng));
        params.components = conclave_core::group::topic::components();
        params.config.allow_external_commits = true;
        params
    };
    let room = |preset: Preset, rng: &mut SeededRng| {
        let group = preset
            .policy_for(b"alice")
            .entries()
            .unwrap()
            .into_iter()
            .fold(NewGroup::new(suite, b"room".to_vec()), |g, (id, data)| {
                g.with_app_data(id, data)
            });
        let mut alice = Group::create(params("alice", rng), group, NOW, rng).unwrap();
        let bob = params("bob", rng);
        let bundle = KeyPackageBundle::generate(&bob, suite, NOW, rng).unwrap();
        let mut list = alice.room_policy().unwrap().unwrap().participants;
        list.set_role(b"bob", MEMBER_ROLE);
        let options = CommitOptions {
            proposals: vec![
                Proposal::Add(Add {
                    key_package: bundle.key_package.clone(),
                }),
                alice.participants_proposal(&list).unwrap(),
            ],
            ..CommitOptions::default()
        };
        let output = alice.commit(&options, NOW, rng).unwrap();
        alice.merge_pending_commit().unwrap();
        let bob = Group::join(
            bob,
            &welcome_of(output.welcome.as_ref().unwrap()),
            &bundle,
            &JoinOptions::default(),
            NOW,
        )
        .unwrap();
        (alice, bob)
    };
    let list_update = |list: &ParticipantList| {
        ExtensionProposalBody::AppDataUpdate(AppDataUpdate {
            component_id: ROOM_PARTICIPANTS_COMPONENT,
            op: AppDataUpdateOperation::Update(list.to_bytes().unwrap()),
        })
    };
    let (alice, mut bob) = room(Preset::Open, &mut rng);
    let mut list = alice.room_policy().unwrap().unwrap().participants;
    list.set_role(b"frank", MEMBER_ROLE);
    let frank = params("frank", &mut rng);
    let signer = identity("frank", suite, &mut rng);
    let frank = MemberParams {
        signer: signer.clone(),
        ..frank
    };
    let info = group_info_of(&alice.group_info(true).unwrap());
    let (_, output) = Group::join_external(
        frank,
        &info,
        &JoinOptions {
            app_proposals: vec![list_update(&list)],
            ..JoinOptions::default()
        },
        NOW,
        &mut rng,
    )
    .unwrap();
    let original = public(&output.commit);
    let tag = original.auth.confirmation_tag.clone();
    let body = commit_of(&original);
    let position = body
        .proposals
        .iter()
        .position(|p| {
            matches!(p, ProposalOrRef::Proposal(p) if matches!(p.as_ref(), Proposal::Extension(_)))
        })
        .expect("the list update");

    let cs = RustCryptoProvider.cipher_suite_provider(suite).unwrap();
    let resign = |group: &Group, body: Commit| {
        let content = FramedContent {
            content: Content::Commit(body),
            ..original.content.clone()
        };
        let mut signed = sign_content(
            cs.as_ref(),
            signer.secret_key.as_bytes(),
            WireFormat::PUBLIC_MESSAGE,
            content,
            Some(group.context()),
        )
        .unwrap();
        signed.auth.confirmation_tag = tag.clone();
        wrap_public(protect_public(cs.as_ref(), &signed, Some(group.context()), None).unwrap())
    };
    let with_update = |update: Option<ExtensionProposalBody>| {
        let mut c = body.clone();
        match update {
            Some(update) => {
                c.proposals[position] = ProposalOrRef::proposal(Proposal::Extension(
                    ExtensionProposal::new(CodepointProfile::default(), update),
                ));
            }
            None => {
                c.proposals.remove(position);
            }
        }
        c
    };

    let mut as_admin = list.clone();
    as_admin.set_role(b"frank", ADMIN_ROLE);
    let mut with_eve = list.clone();
    with_eve.set_role(b"eve", MEMBER_ROLE);
    let mut without_bob = list.clone();
    without_bob.set_role(b"bob", 0);
    let unsorted = ParticipantList {
        participants: list.participants.iter().rev().cloned().collect(),
    };
    let role_zero = ParticipantList {
        participants: vec![Participant {
            user: b"frank".to_vec(),
            role_index: 0,
        }],
    };
    let cases: Vec<(&str, Option<ExtensionProposalBody>)> = vec![
        ("joins as admin", Some(list_update(&as_admin))),
        ("adds eve too", Some(list_update(&with_eve))),
        ("takes bob off the list", Some(list_update(&without_bob))),
        ("unsorted list", Some(list_update(&unsorted))),
        ("role 0 entry", Some(list_update(&role_zero))),
        ("no list update", None),
    ];
    for (what, update) in cases {
        let message = resign(&bob, with_update(update));
        let r = expect_message_rejected(&mut bob, &message, what);
        assert!(matches!(r, Rejection::Process(_)), "{what}: {r:?}");
        let expected_policy = !matches!(what, "unsorted list" | "role 0 entry");
        if expected_policy {
            assert!(
                matches!(r, Rejection::Process(GroupError::Policy(_))),
                "{what}: {r:?}"
            );
        }
        if what == "joins as admin" {
            assert!(
                matches!(
                    r,
                    Rejection::Process(GroupError::Policy(PolicyError::RoleChangeNotAuthorized {
                        to: ADMIN_ROLE,
                        ..
                    }))
                ),
                "{r:?}"
            );
        }
    }
    // Every truncation of the list's bytes, and a flipped bit in each of its bytes.
    let bytes = list.to_bytes().unwrap();
    for cut in 0..bytes.len() {
        let update = ExtensionProposalBody::AppDataUpdate(AppDataUpdate {
            component_id: ROOM_PARTICIPANTS_COMPONENT,
            op: AppDataUpdateOperation::Update(bytes[..cut].to_vec()),
        });
        let message = resign(&bob, with_update(Some(update)));
        expect_message_rejected(&mut bob, &message, &format!("list cut to {cut} bytes"));
    }
    for i in 0..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[i] ^= 1 << (i % 8);
        let update = ExtensionProposalBody::AppDataUpdate(AppDataUpdate {
            component_id: ROOM_PARTICIPANTS_COMPONENT,
            op: AppDataUpdateOperation::Update(damaged),
        });
        let message = resign(&bob, with_update(Some(update)));
        expect_message_rejected(&mut bob, &message, &format!("list bit flip in byte {i}"));
    }
    // The original is accepted after all that.
    let processed = bob.process_message(&wrap_public(original), NOW).unwrap();
    assert!(matches!(processed, ProcessedMessage::Commit(_)));

    // The same join of an admins-only room: role 0 lacks canOpenJoin.
    let (alice, mut bob) = room(Preset::AdminsOnly, &mut rng);
    let mut list = alice.room_policy().unwrap().unwrap().participants;
    list.set_role(b"frank", MEMBER_ROLE);
    let info = group_info_of(&alice.group_info(true).unwrap());
    let (_, output) = Group::join_external(
        params("frank", &mut rng),
        &info,
        &JoinOptions {
            app_proposals: vec![list_update(&list)],
            ..JoinOptions::default()
        },
        NOW,
        &mut rng,
    )
    .unwrap();
    let r = expect_message_rejected(&mut bob, &output.commit, "join of an admins-only room");
    assert!(
        matches!(
            r,
            Rejection::Process(GroupError::Policy(PolicyError::MissingCapability { .. }))
        ),
        "{r:?}"
    );
}

/// A targeted message (draft-ietf-mls-targeted-messages, §7) with a bit flipped in every
/// byte, every strict prefix and trailing bytes: each fails to decode or is refused by the
/// recipient with a typed error, without a panic and without a change of its state; the
/// undamaged message still opens afterwards. Other members refuse it untouched too.
#[test]
fn targeted_message_mutations() {
    let mut fx = Fixture::new(CipherSuite(1), WireFormat::PRIVATE_MESSAGE, 71);
    let message = fx.groups[ALICE]
        .encrypt_targeted_message(LeafIndex(1), b"between us", b"id=9", 4, &mut fx.rng)
        .unwrap();
    let original = encode(&message);
    let open = |group: &Group, bytes: &[u8]| -> Result<(), String> {
        match MlsMessage::from_bytes(bytes) {
            Err(e) => Err(format!("decode: {e}")),
            Ok(message) => group
                .process_targeted_message(&message)
                .map(|_| ())
                .map_err(|e| e.to_string()),
        }
    };
    let bob = &fx.groups[BOB];
    let before = snapshot(bob);
    let mut variants = Vec::new();
    for i in 0..original.len() {
        let mut bytes = original.clone();
        bytes[i] ^= 1 << (i % 8);
        variants.push((format!("bit {} of byte {i}", i % 8), bytes));
    }
    for len in 0..original.len() {
        variants.push((format!("{len} bytes"), original[..len].to_vec()));
    }
    for extra in [&[0u8][..], &[0xff, 0xff]] {
        let mut bytes = original.clone();
        bytes.extend_from_slice(extra);
        variants.push((format!("trailing {extra:?}"), bytes));
    }
    for (what, bytes) in &variants {
        let outcome = catch_unwind(AssertUnwindSafe(|| open(bob, bytes)));
        match outcome {
            Ok(Err(_)) => {}
            Ok(Ok(())) => panic!("{what}: accepted"),
            Err(_) => panic!("{what}: panicked"),
        }
        assert!(snapshot(bob) == before, "{what}: state changed");
    }
    open(bob, &original).unwrap();
    for other in [ALICE, CAROL, DAVE] {
        let group = &fx.groups[other];
        let before = snapshot(group);
        assert!(open(group, &original).is_err(), "member {other} opened it");
        assert!(snapshot(group) == before);
    }
}

// ---- Replace (draft-barnes-mls-replace-00) -----------------------------------------------

/// Alice, Bob and Carol, whose leaves list the Replace proposal type and the
/// `leaf_node_epoch` extension.
fn replace_group(handshake: WireFormat, seed: u64) -> (Vec<Group>, SeededRng) {
    let mut rng = SeededRng::new(seed);
    let suite = CipherSuite(1);
    let params = |name: &str, rng: &mut SeededRng| {
        let mut capabilities =
            default_capabilities(suite, &BasicIdentityProvider, CodepointProfile::Draft);
        capabilities.proposals.push(REPLACE_PROPOSAL);
        capabilities.extensions.push(LEAF_NODE_EPOCH_EXTENSION);
        MemberParams {
            config: GroupConfig {
                handshake_wire_format: handshake,
                ..GroupConfig::default()
            },
            leaf: LeafOptions {
                capabilities: Some(capabilities),
                ..LeafOptions::default()
            },
            ..MemberParams::new(env(), identity(name, suite, rng))
        }
    };
    let creator = params("alice", &mut rng);
    let mut groups = vec![
        Group::create(
            creator,
            NewGroup::new(suite, b"replace-mutation".to_vec()),
            NOW,
            &mut rng,
        )
        .unwrap(),
    ];
    for name in ["bob", "carol"] {
        let joiner = params(name, &mut rng);
        let bundle = KeyPackageBundle::generate(&joiner, suite, NOW, &mut rng).unwrap();
        let options = CommitOptions {
            proposals: vec![Proposal::Add(Add {
                key_package: bundle.key_package.clone(),
            })],
            ..CommitOptions::default()
        };
        let output = groups[0].commit(&options, NOW, &mut rng).unwrap();
        groups[0].merge_pending_commit().unwrap();
        for group in &mut groups[1..] {
            group.process_message(&output.commit, NOW).unwrap();
        }
        let welcome = welcome_of(output.welcome.as_ref().unwrap());
        groups.push(Group::join(joiner, &welcome, &bundle, &JoinOptions::default(), NOW).unwrap());
    }
    (groups, rng)
}

/// `sender`'s application message read by every other member: it derives the sender's
/// ratchets in their secret trees, so that later rejected PrivateMessages change nothing
/// (see `Fixture::warm_up`).
fn warm_up_all(groups: &mut [Group], sender: usize, rng: &mut SeededRng) {
    let message = groups[sender]
        .encrypt_application_message(b"warm-up", b"", rng)
        .unwrap();
    for (i, group) in groups.iter_mut().enumerate() {
        if i != sender {
            group.process_message(&message, NOW).unwrap();
        }
    }
}

/// Bob's Update arrives at Carol after Alice's commit ended its epoch; Carol keeps it and
/// commits it as a Replace. Every damaged copy of the late Update (PrivateMessage: the
/// PublicMessage's membership tag of a past epoch cannot be checked) and of the Replace
/// commit is refused with the state unchanged, by Alice and by Bob, whose leaf it replaces;
/// the undamaged ones are then accepted and everyone agrees.
fn replace_mutations(handshake: WireFormat, seed: u64) {
    let (mut groups, mut rng) = replace_group(handshake, seed);
    warm_up_all(&mut groups, 1, &mut rng);
    let update = groups[1].propose_update(None, &mut rng).unwrap();
    let output = groups[0]
        .commit(&CommitOptions::default(), NOW, &mut rng)
        .unwrap();
    groups[0].merge_pending_commit().unwrap();
    for member in [1, 2] {
        groups[member].process_message(&output.commit, NOW).unwrap();
    }

    if handshake == WireFormat::PRIVATE_MESSAGE {
        let original = encode(&update);
        let carol = &mut groups[2];
        let before = snapshot(carol);
        let mut variants = Vec::new();
        for i in 0..original.len() {
            let mut bytes = original.clone();
            bytes[i] ^= 1 << (i % 8);
            variants.push((format!("late Update: bit {} of byte {i}", i % 8), bytes));
        }
        for len in 0..original.len() {
            variants.push((
                format!("late Update: {len} bytes"),
                original[..len].to_vec(),
            ));
        }
        for (what, bytes) in &variants {
            let outcome = catch_unwind(AssertUnwindSafe(|| match MlsMessage::from_bytes(bytes) {
                Err(_) => Ok(()),
                Ok(message) => match carol.receive_late_update(&message, NOW) {
                    Ok(leaf) => Err(format!("accepted as {leaf:?}")),
                    Err(_) => Ok(()),
                },
            }));
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(accepted)) => panic!("{what}: {accepted}"),
                Err(_) => panic!("{what}: panicked"),
            }
            assert!(snapshot(carol) == before, "{what}: state changed");
        }
    }
    groups[2].receive_late_update(&update, NOW).unwrap();

    warm_up_all(&mut groups, 2, &mut rng);
    let options = CommitOptions {
        replace_late_updates: true,
        ..CommitOptions::default()
    };
    let commit = groups[2].commit(&options, NOW, &mut rng).unwrap().commit;
    let bytes = encode(&commit);
    for member in [0, 1] {
        let what = format!("Replace commit to member {member}");
        flip_every_byte(&mut groups[member], &bytes, 16, &what);
        truncate_and_extend(&mut groups[member], &bytes, &what);
    }
    groups[2].merge_pending_commit().unwrap();
    for member in [0, 1] {
        let processed = groups[member].process_message(&commit, NOW).unwrap();
        let ProcessedMessage::Commit(summary) = processed else {
            panic!("not a commit: {processed:?}")
        };
        assert_eq!(summary.updated, vec![LeafIndex(1)]);
    }
    for group in &groups[1..] {
        assert_eq!(group.epoch_authenticator(), groups[0].epoch_authenticator());
    }
}

#[test]
fn replace_mutations_public() {
    replace_mutations(WireFormat::PUBLIC_MESSAGE, 81);
}

#[test]
fn replace_mutations_private() {
    replace_mutations(WireFormat::PRIVATE_MESSAGE, 82);
}
