//! Tests of SelfRemove (draft-ietf-mls-extensions-10 §6.3): the proposal committed by another
//! member and by an external joiner, and every rule refused with the group left unchanged.

use std::sync::{Arc, RwLock};

use conclave_crypto::{CipherSuite, CryptoProvider, SeededRng};
use conclave_crypto_rustcrypto::RustCryptoProvider;

use super::super::commit::{CommitBase, build_commit};
use super::super::*;
use super::SelfRemoveError;
use crate::credential::BasicIdentityProvider;
use crate::framing::{FramingError, protect_public};
use crate::messages::{
    Add, Commit, ExtensionPayload as _, ExtensionProposal, ExtensionProposalBody, ExternalSender,
    ExternalSenders, ProposalOrRef, Remove, SelfRemove,
};

const NOW: u64 = 1_700_000_000;
const SUITE: CipherSuite = CipherSuite(1);

fn env() -> GroupEnv {
    GroupEnv {
        crypto: Arc::new(RustCryptoProvider),
        identity: Arc::new(BasicIdentityProvider),
        psks: Arc::new(RwLock::new(std::collections::HashMap::new())),
    }
}

fn signer(name: &str, rng: &mut SeededRng) -> SigningIdentity {
    let cs = RustCryptoProvider.cipher_suite_provider(SUITE).unwrap();
    SigningIdentity::generate(
        cs.as_ref(),
        Credential::Basic {
            identity: name.as_bytes().to_vec(),
        },
        rng,
    )
    .unwrap()
}

/// How the members of a test group are set up.
#[derive(Clone, Copy)]
struct Setup {
    profile: CodepointProfile,
    handshake: WireFormat,
}

impl Setup {
    fn draft(handshake: WireFormat) -> Self {
        Self {
            profile: CodepointProfile::Draft,
            handshake,
        }
    }

    /// A member's parameters; its leaves list the profile's SelfRemove codepoint if
    /// `supports`.
    fn params(self, name: &str, supports: bool, rng: &mut SeededRng) -> MemberParams {
        let mut capabilities = default_capabilities(SUITE, &BasicIdentityProvider, self.profile);
        if supports {
            capabilities.proposals.push(
                self.profile
                    .proposal_type(crate::messages::ExtensionProposalKind::SelfRemove),
            );
        }
        MemberParams {
            config: GroupConfig {
                handshake_wire_format: self.handshake,
                codepoint_profile: self.profile,
                ..GroupConfig::default()
            },
            leaf: LeafOptions {
                capabilities: Some(capabilities),
                ..LeafOptions::default()
            },
            ..MemberParams::new(env(), signer(name, rng))
        }
    }
}

/// A group of `members` (`(name, supports SelfRemove)`), the first one its creator; every
/// member has processed every commit.
fn group_of(setup: Setup, members: &[(&str, bool)], rng: &mut SeededRng) -> Vec<Group> {
    group_of_new(
        setup,
        members,
        NewGroup::new(SUITE, b"self-remove".to_vec()),
        rng,
    )
}

/// [`group_of`] for the group `new`.
fn group_of_new(
    setup: Setup,
    members: &[(&str, bool)],
    new: NewGroup,
    rng: &mut SeededRng,
) -> Vec<Group> {
    let (first, supports) = members[0];
    let mut groups =
        vec![Group::create(setup.params(first, supports, rng), new, NOW, rng).unwrap()];
    for (name, supports) in &members[1..] {
        let params = setup.params(name, *supports, rng);
        let bundle = KeyPackageBundle::generate(&params, SUITE, NOW, rng).unwrap();
        let options = CommitOptions {
            proposals: vec![Proposal::Add(Add {
                key_package: bundle.key_package.clone(),
            })],
            ..CommitOptions::default()
        };
        let output = commit_all(&mut groups, 0, &options, rng);
        let MlsMessageBody::Welcome(welcome) = &output.welcome.unwrap().body else {
            panic!("not a Welcome")
        };
        let joined = Group::join(params, welcome, &bundle, &JoinOptions::default(), NOW).unwrap();
        groups.push(joined);
    }
    assert_agree(&groups);
    groups
}

/// `committer` commits with `options`; it merges, every other active member processes.
fn commit_all(
    groups: &mut [Group],
    committer: usize,
    options: &CommitOptions,
    rng: &mut SeededRng,
) -> CommitOutput {
    let output = groups[committer].commit(options, NOW, rng).unwrap();
    for (i, g) in groups.iter_mut().enumerate() {
        if i == committer {
            g.merge_pending_commit().unwrap();
        } else if *g.status() == GroupStatus::Active {
            g.process_message(&output.commit, NOW).unwrap();
        }
    }
    output
}

/// Every active member is in the same epoch with the same authenticator.
fn assert_agree(groups: &[Group]) {
    let active: Vec<&Group> = groups
        .iter()
        .filter(|g| *g.status() == GroupStatus::Active)
        .collect();
    for group in &active {
        assert_eq!(group.epoch(), active[0].epoch());
        assert_eq!(group.epoch_authenticator(), active[0].epoch_authenticator());
    }
}

/// `message` from member `sender` reaches everyone; returns the reference the others cached.
fn deliver_proposal(groups: &mut [Group], sender: usize, message: &MlsMessage) -> ProposalRef {
    let mut reference = None;
    for (i, g) in groups.iter_mut().enumerate() {
        match g.process_message(message, NOW).unwrap() {
            ProcessedMessage::OwnMessage => assert_eq!(i, sender),
            ProcessedMessage::Proposal { reference: r, .. } => reference = Some(r),
            other => panic!("unexpected {other:?}"),
        }
    }
    reference.unwrap()
}

/// Processing `message` fails with `expected`, and leaves the group byte-identical.
fn assert_refused(group: &mut Group, message: &MlsMessage, expected: &GroupError) {
    let before = group.to_bytes().unwrap();
    let error = group.process_message(message, NOW).unwrap_err();
    assert_eq!(&error, expected);
    assert_eq!(group.to_bytes().unwrap(), before, "the group changed");
}

fn self_remove_proposal(profile: CodepointProfile) -> Proposal {
    Proposal::Extension(ExtensionProposal::new(
        profile,
        ExtensionProposalBody::SelfRemove(SelfRemove),
    ))
}

/// `proposal` from `group`'s member, signed and protected as `wire_format` without the
/// checks of the sending API: what a faulty or malicious member could send.
fn forge_proposal(
    group: &mut Group,
    proposal: Proposal,
    wire_format: WireFormat,
    authenticated_data: &[u8],
    rng: &mut SeededRng,
) -> MlsMessage {
    let content = FramedContent {
        group_id: group.group_id().to_vec(),
        epoch: group.epoch(),
        sender: Sender::Member(group.own_leaf()),
        authenticated_data: authenticated_data.to_vec(),
        content: Content::Proposal(proposal),
    };
    let signed = sign_content(
        group.cs.as_ref(),
        group.signer.secret_key.as_bytes(),
        wire_format,
        content,
        Some(&group.epoch.context),
    )
    .unwrap();
    mls_message(group.protect_signed(&signed, rng).unwrap())
}

/// A commit by `group`'s member whose proposal list is `entries`, built on the new epoch of
/// `valid` (a list the real validation accepts): what a faulty committer could send. The
/// receiver refuses the list before it gets to the epoch. With `path: false` it carries no
/// UpdatePath.
fn forge_commit(
    group: &mut Group,
    valid: &[CommittedProposal],
    entries: Vec<ProposalOrRef>,
    path: bool,
    rng: &mut SeededRng,
) -> MlsMessage {
    let own = group.own_leaf();
    let mut applied = group
        .validate_proposals(Committer::Member(own), valid, NOW)
        .unwrap();
    applied.path_required &= path;
    let options = CommitOptions {
        force_path: path,
        ..CommitOptions::default()
    };
    let template = group.epoch.tree.leaf(own).cloned().unwrap();
    let built = {
        let base = CommitBase {
            cs: group.cs.as_ref(),
            config: &group.config,
            signer: &group.signer,
            context: &group.epoch.context,
            interim_transcript_hash: &group.epoch.interim_transcript_hash,
            init_secret: group.epoch.secrets.init_secret.clone(),
            own_leaf: Some(own),
            leaf_template: &template,
            member_proof: group.epoch.member_proof.as_ref(),
            form: crate::group::commit::CommitForm::Regular,
        };
        build_commit(
            &base,
            applied,
            entries,
            &[],
            Some(&*group.private),
            &options,
            rng,
        )
        .unwrap()
    };
    mls_message(
        group
            .protect_signed(built.content.regular().unwrap(), rng)
            .unwrap(),
    )
}

fn commit_entries(message: &MlsMessage) -> Vec<ProposalOrRef> {
    let MlsMessageBody::PublicMessage(public) = &message.body else {
        panic!("not a PublicMessage")
    };
    let Content::Commit(Commit { proposals, .. }) = &public.content.content else {
        panic!("not a commit")
    };
    proposals.clone()
}

use super::super::proposals::{CommittedProposal, Committer};
use crate::framing::sign_content;
use crate::messages::{ProposalRef, ProposalType, SenderType};

const ALL: [(&str, bool); 3] = [("alice", true), ("bob", true), ("carol", true)];

#[test]
fn a_self_remove_committed_by_another_member_removes_its_sender() {
    let mut rng = SeededRng::new(1);
    let mut groups = group_of(Setup::draft(WireFormat::PRIVATE_MESSAGE), &ALL, &mut rng);
    assert!(groups.iter().all(Group::is_self_remove_capable));
    let bob_leaf = groups[1].own_leaf();

    // Bob asks to leave. The group's handshakes are PrivateMessages; SelfRemove is public.
    let message = groups[1].self_remove(b"bye", &mut rng).unwrap();
    assert!(matches!(message.body, MlsMessageBody::PublicMessage(_)));
    assert_eq!(groups[1].pending_proposals().count(), 1);
    // Kept as a pending proposal of ours across a reload.
    let reloaded = Group::from_bytes(env(), &groups[1].to_bytes().unwrap()).unwrap();
    assert_eq!(reloaded.to_bytes().unwrap(), groups[1].to_bytes().unwrap());
    groups[1] = reloaded;
    deliver_proposal(&mut groups, 1, &message);

    // Carol's next commit includes it by reference, with an UpdatePath.
    let output = groups[2]
        .commit(&CommitOptions::default(), NOW, &mut rng)
        .unwrap();
    let MlsMessageBody::PrivateMessage(_) = &output.commit.body else {
        panic!("the group's commits are PrivateMessages")
    };
    groups[2].merge_pending_commit().unwrap();
    let ProcessedMessage::Commit(summary) = groups[0].process_message(&output.commit, NOW).unwrap()
    else {
        panic!("not a commit")
    };
    assert_eq!(summary.removed, vec![bob_leaf]);
    assert!(!summary.self_removed);

    // Bob sees himself removed, as by a Remove.
    let ProcessedMessage::Commit(summary) = groups[1].process_message(&output.commit, NOW).unwrap()
    else {
        panic!("not a commit")
    };
    assert!(summary.self_removed);
    assert_eq!(*groups[1].status(), GroupStatus::Removed);

    assert_agree(&groups);
    assert_eq!(groups[0].members().count(), 2);
    assert!(groups[0].tree().leaf(bob_leaf).is_none());
}

#[test]
fn a_public_handshake_group_commits_a_self_remove_too() {
    let mut rng = SeededRng::new(2);
    let mut groups = group_of(Setup::draft(WireFormat::PUBLIC_MESSAGE), &ALL, &mut rng);
    let message = groups[2].self_remove(&[], &mut rng).unwrap();
    let reference = deliver_proposal(&mut groups, 2, &message);
    let output = commit_all(&mut groups, 0, &CommitOptions::default(), &mut rng);
    assert_eq!(
        commit_entries(&output.commit),
        vec![ProposalOrRef::Reference(reference)]
    );
    assert_eq!(*groups[2].status(), GroupStatus::Removed);
    assert_agree(&groups);
}

#[test]
fn in_a_safe_aad_group_a_self_remove_carries_a_safe_aad_and_is_committed() {
    let mut rng = SeededRng::new(40);
    let new = NewGroup::new(SUITE, b"self-remove".to_vec()).with_app_data(
        crate::codepoints::SAFE_AAD_COMPONENT,
        crate::messages::ComponentsList::default()
            .to_bytes()
            .unwrap(),
    );
    let mut groups = group_of_new(
        Setup::draft(WireFormat::PUBLIC_MESSAGE),
        &ALL,
        new,
        &mut rng,
    );
    assert!(groups[0].safe_aad_required().unwrap());
    let message = groups[1].self_remove(&[], &mut rng).unwrap();
    let MlsMessageBody::PublicMessage(public) = &message.body else {
        panic!("a SelfRemove is a PublicMessage")
    };
    // draft-ietf-mls-extensions-10 §4.9: the empty SafeAAD, not an empty field.
    assert_eq!(public.content.authenticated_data, vec![0]);
    // Bytes that are not a SafeAAD are refused before anything is sent.
    assert!(groups[1].self_remove(b"raw", &mut rng).is_err());
    let reference = deliver_proposal(&mut groups, 1, &message);
    let output = commit_all(&mut groups, 0, &CommitOptions::default(), &mut rng);
    assert_eq!(
        commit_entries(&output.commit),
        vec![ProposalOrRef::Reference(reference)]
    );
    assert_eq!(*groups[1].status(), GroupStatus::Removed);
    assert_agree(&groups);
}

#[test]
fn the_mls_rs_profile_sends_self_remove_under_its_codepoint() {
    let mut rng = SeededRng::new(3);
    let setup = Setup {
        profile: CodepointProfile::MlsRs,
        handshake: WireFormat::PUBLIC_MESSAGE,
    };
    let mut groups = group_of(setup, &ALL, &mut rng);
    assert_eq!(groups[0].self_remove_proposal_type(), ProposalType(0xF003));
    let message = groups[1].self_remove(&[], &mut rng).unwrap();
    let MlsMessageBody::PublicMessage(public) = &message.body else {
        panic!("not a PublicMessage")
    };
    let Content::Proposal(proposal) = &public.content.content else {
        panic!("not a proposal")
    };
    assert_eq!(proposal.proposal_type(), ProposalType(0xF003));
    deliver_proposal(&mut groups, 1, &message);
    commit_all(&mut groups, 2, &CommitOptions::default(), &mut rng);
    assert_eq!(*groups[1].status(), GroupStatus::Removed);
    assert_agree(&groups);
}

#[test]
fn self_remove_is_refused_locally_in_a_group_that_is_not_self_remove_capable() {
    let mut rng = SeededRng::new(4);
    let members = [("alice", true), ("bob", true), ("carol", false)];
    let mut groups = group_of(Setup::draft(WireFormat::PUBLIC_MESSAGE), &members, &mut rng);
    assert!(!groups[1].is_self_remove_capable());
    let before = groups[1].to_bytes().unwrap();
    let error = groups[1].self_remove(&[], &mut rng).unwrap_err();
    assert_eq!(
        error,
        GroupError::SelfRemove(SelfRemoveError::NotCapable {
            leaf: groups[2].own_leaf().0,
            proposal_type: 0x000A,
        })
    );
    assert!(error.to_string().contains("Remove proposal instead"));
    assert_eq!(groups[1].to_bytes().unwrap(), before);
}

#[test]
fn a_received_self_remove_in_a_group_that_is_not_self_remove_capable_is_refused() {
    let mut rng = SeededRng::new(5);
    let members = [("alice", true), ("bob", true), ("carol", false)];
    let mut groups = group_of(Setup::draft(WireFormat::PUBLIC_MESSAGE), &members, &mut rng);
    let forged = forge_proposal(
        &mut groups[1],
        self_remove_proposal(CodepointProfile::Draft),
        WireFormat::PUBLIC_MESSAGE,
        &[],
        &mut rng,
    );
    let expected = GroupError::SelfRemove(SelfRemoveError::NotCapable {
        leaf: groups[2].own_leaf().0,
        proposal_type: 0x000A,
    });
    assert_refused(&mut groups[0], &forged, &expected);
}

#[test]
fn a_self_remove_under_another_profiles_codepoint_is_refused() {
    let mut rng = SeededRng::new(6);
    let mut groups = group_of(Setup::draft(WireFormat::PUBLIC_MESSAGE), &ALL, &mut rng);
    let expected = GroupError::SelfRemove(SelfRemoveError::WrongCodepoint {
        found: 0xF003,
        expected: 0x000A,
        profile: CodepointProfile::Draft,
    });
    // Sending: refused by the group.
    let before = groups[1].to_bytes().unwrap();
    let error = groups[1]
        .propose(self_remove_proposal(CodepointProfile::MlsRs), &[], &mut rng)
        .unwrap_err();
    assert_eq!(error, expected);
    assert_eq!(groups[1].to_bytes().unwrap(), before);
    // Receiving.
    let forged = forge_proposal(
        &mut groups[1],
        self_remove_proposal(CodepointProfile::MlsRs),
        WireFormat::PUBLIC_MESSAGE,
        &[],
        &mut rng,
    );
    assert_refused(&mut groups[0], &forged, &expected);
}

#[test]
fn propose_sends_a_self_remove_as_self_remove_does() {
    let mut rng = SeededRng::new(7);
    let mut groups = group_of(Setup::draft(WireFormat::PRIVATE_MESSAGE), &ALL, &mut rng);
    let message = groups[1]
        .propose(self_remove_proposal(CodepointProfile::Draft), &[], &mut rng)
        .unwrap();
    assert!(matches!(message.body, MlsMessageBody::PublicMessage(_)));
}

#[test]
fn a_self_remove_in_a_private_message_is_refused() {
    let mut rng = SeededRng::new(8);
    let mut groups = group_of(Setup::draft(WireFormat::PRIVATE_MESSAGE), &ALL, &mut rng);
    let forged = forge_proposal(
        &mut groups[1],
        self_remove_proposal(CodepointProfile::Draft),
        WireFormat::PRIVATE_MESSAGE,
        &[],
        &mut rng,
    );
    // A PrivateMessage's ratchet generation is consumed even when its content is refused
    // (RFC 9420 §9.2); nothing else changes.
    let epoch = groups[0].epoch();
    let error = groups[0].process_message(&forged, NOW).unwrap_err();
    assert_eq!(
        error,
        GroupError::SelfRemove(SelfRemoveError::NotPublicMessage(2))
    );
    assert_eq!(groups[0].pending_proposals().count(), 0);
    assert_eq!(groups[0].epoch(), epoch);
}

#[test]
fn a_second_self_remove_in_one_epoch_is_refused() {
    let mut rng = SeededRng::new(9);
    let mut groups = group_of(Setup::draft(WireFormat::PUBLIC_MESSAGE), &ALL, &mut rng);
    let first = groups[1].self_remove(b"once", &mut rng).unwrap();
    deliver_proposal(&mut groups, 1, &first);
    let expected =
        GroupError::SelfRemove(SelfRemoveError::MoreThanOnePerEpoch(groups[1].own_leaf().0));
    // Sending.
    let before = groups[1].to_bytes().unwrap();
    assert_eq!(
        groups[1].self_remove(b"twice", &mut rng).unwrap_err(),
        expected
    );
    assert_eq!(groups[1].to_bytes().unwrap(), before);
    // Receiving: another SelfRemove of bob's (other authenticated data, another reference).
    let second = forge_proposal(
        &mut groups[1],
        self_remove_proposal(CodepointProfile::Draft),
        WireFormat::PUBLIC_MESSAGE,
        b"twice",
        &mut rng,
    );
    assert_refused(&mut groups[0], &second, &expected);
    // The same one again is a replay.
    assert_refused(&mut groups[0], &first, &GroupError::DuplicateProposal);
}

#[test]
fn a_self_remove_can_be_sent_again_in_the_next_epoch() {
    let mut rng = SeededRng::new(10);
    let mut groups = group_of(Setup::draft(WireFormat::PUBLIC_MESSAGE), &ALL, &mut rng);
    let first = groups[1].self_remove(&[], &mut rng).unwrap();
    deliver_proposal(&mut groups, 1, &first);
    // Carol commits without the pending proposals (it raced with them): bob stays.
    let options = CommitOptions {
        include_pending: false,
        ..CommitOptions::default()
    };
    commit_all(&mut groups, 2, &options, &mut rng);
    assert_eq!(*groups[1].status(), GroupStatus::Active);
    let again = groups[1].self_remove(&[], &mut rng).unwrap();
    deliver_proposal(&mut groups, 1, &again);
    commit_all(&mut groups, 0, &CommitOptions::default(), &mut rng);
    assert_eq!(*groups[1].status(), GroupStatus::Removed);
    assert_agree(&groups);
}

#[test]
fn a_self_remove_as_an_external_proposal_is_refused() {
    let mut rng = SeededRng::new(11);
    let cs = RustCryptoProvider.cipher_suite_provider(SUITE).unwrap();
    let server = signer("server", &mut rng);
    let senders = ExternalSenders(vec![ExternalSender {
        signature_key: server.public_key.clone(),
        credential: server.credential.clone(),
    }]);
    let setup = Setup::draft(WireFormat::PUBLIC_MESSAGE);
    let mut alice = Group::create(
        setup.params("alice", true, &mut rng),
        NewGroup {
            extensions: vec![senders.to_extension().unwrap()],
            ..NewGroup::new(SUITE, b"self-remove".to_vec())
        },
        NOW,
        &mut rng,
    )
    .unwrap();
    let expected = GroupError::SelfRemove(SelfRemoveError::NotFromMember(SenderType::External));
    // The external sender's API refuses it.
    let error = external_proposal(
        cs.as_ref(),
        alice.group_id(),
        alice.epoch(),
        0,
        &server,
        self_remove_proposal(CodepointProfile::Draft),
        &[],
    )
    .unwrap_err();
    assert_eq!(error, expected);
    // A member refuses one signed by a listed external sender.
    let content = FramedContent {
        group_id: alice.group_id().to_vec(),
        epoch: alice.epoch(),
        sender: Sender::External(0),
        authenticated_data: Vec::new(),
        content: Content::Proposal(self_remove_proposal(CodepointProfile::Draft)),
    };
    let signed = sign_content(
        cs.as_ref(),
        server.secret_key.as_bytes(),
        WireFormat::PUBLIC_MESSAGE,
        content,
        None,
    )
    .unwrap();
    let message = mls_message(MlsMessageBody::PublicMessage(
        protect_public(cs.as_ref(), &signed, None, None).unwrap(),
    ));
    assert_refused(&mut alice, &message, &expected);
}

#[test]
fn a_self_remove_by_value_is_refused_in_our_commit_and_in_a_received_one() {
    let mut rng = SeededRng::new(12);
    let mut groups = group_of(Setup::draft(WireFormat::PUBLIC_MESSAGE), &ALL, &mut rng);
    let expected = GroupError::SelfRemove(SelfRemoveError::ByValue);
    let before = groups[1].to_bytes().unwrap();
    let options = CommitOptions {
        proposals: vec![self_remove_proposal(CodepointProfile::Draft)],
        ..CommitOptions::default()
    };
    assert_eq!(
        groups[1].commit(&options, NOW, &mut rng).unwrap_err(),
        expected
    );
    assert_eq!(groups[1].to_bytes().unwrap(), before);

    let forged = forge_commit(
        &mut groups[1],
        &[],
        vec![ProposalOrRef::Proposal(Box::new(self_remove_proposal(
            CodepointProfile::Draft,
        )))],
        true,
        &mut rng,
    );
    assert_refused(&mut groups[0], &forged, &expected);
}

#[test]
fn the_committer_leaves_its_own_self_remove_out_and_a_commit_with_it_is_refused() {
    let mut rng = SeededRng::new(13);
    let mut groups = group_of(Setup::draft(WireFormat::PUBLIC_MESSAGE), &ALL, &mut rng);
    let message = groups[1].self_remove(&[], &mut rng).unwrap();
    let reference = deliver_proposal(&mut groups, 1, &message);

    // Bob's own commit leaves it out: he stays a member, his proposal is gone with the epoch.
    let forged = forge_commit(
        &mut groups[1],
        &[],
        vec![ProposalOrRef::Reference(reference)],
        true,
        &mut rng,
    );
    assert_refused(
        &mut groups[0],
        &forged,
        &GroupError::SelfRemove(SelfRemoveError::CommittersOwn),
    );
    let output = commit_all(&mut groups, 1, &CommitOptions::default(), &mut rng);
    assert!(commit_entries(&output.commit).is_empty());
    assert_eq!(*groups[1].status(), GroupStatus::Active);
    assert_eq!(groups[0].members().count(), 3);
    assert_agree(&groups);
}

#[test]
fn a_remove_of_a_member_whose_self_remove_is_pending_is_invalid() {
    let mut rng = SeededRng::new(14);
    let members = [
        ("alice", true),
        ("bob", true),
        ("carol", true),
        ("dave", true),
    ];
    let mut groups = group_of(Setup::draft(WireFormat::PUBLIC_MESSAGE), &members, &mut rng);
    let bob = groups[1].own_leaf();
    let self_remove = groups[1].self_remove(&[], &mut rng).unwrap();
    let self_remove_ref = deliver_proposal(&mut groups, 1, &self_remove);
    let remove = groups[3]
        .propose(Proposal::Remove(Remove { removed: bob }), &[], &mut rng)
        .unwrap();
    let remove_ref = deliver_proposal(&mut groups, 3, &remove);
    let expected = GroupError::SelfRemove(SelfRemoveError::RemoveOfLeavingMember(bob.0));

    // By value in our commit: refused.
    let before = groups[0].to_bytes().unwrap();
    let options = CommitOptions {
        proposals: vec![Proposal::Remove(Remove { removed: bob })],
        ..CommitOptions::default()
    };
    assert_eq!(
        groups[0].commit(&options, NOW, &mut rng).unwrap_err(),
        expected
    );
    assert_eq!(groups[0].to_bytes().unwrap(), before);

    // Received with both: refused.
    let forged = forge_commit(
        &mut groups[2],
        &[],
        vec![
            ProposalOrRef::Reference(self_remove_ref.clone()),
            ProposalOrRef::Reference(remove_ref),
        ],
        true,
        &mut rng,
    );
    assert_refused(&mut groups[0], &forged, &expected);

    // Our commit of the pending proposals leaves dave's Remove out and removes bob once.
    let output = commit_all(&mut groups, 0, &CommitOptions::default(), &mut rng);
    assert_eq!(
        commit_entries(&output.commit),
        vec![ProposalOrRef::Reference(self_remove_ref)]
    );
    assert_eq!(*groups[1].status(), GroupStatus::Removed);
    assert_agree(&groups);
}

#[test]
fn an_update_of_a_member_whose_self_remove_is_pending_is_left_out_or_refused() {
    let mut rng = SeededRng::new(15);
    let mut groups = group_of(Setup::draft(WireFormat::PUBLIC_MESSAGE), &ALL, &mut rng);
    let bob = groups[1].own_leaf();
    let update = groups[1].propose_update(None, &mut rng).unwrap();
    let update_ref = deliver_proposal(&mut groups, 1, &update);
    let self_remove = groups[1].self_remove(&[], &mut rng).unwrap();
    let self_remove_ref = deliver_proposal(&mut groups, 1, &self_remove);

    let forged = forge_commit(
        &mut groups[2],
        &[],
        vec![
            ProposalOrRef::Reference(update_ref),
            ProposalOrRef::Reference(self_remove_ref.clone()),
        ],
        true,
        &mut rng,
    );
    assert_refused(
        &mut groups[0],
        &forged,
        &GroupError::SelfRemove(SelfRemoveError::UpdateOfLeavingMember(bob.0)),
    );

    let output = commit_all(&mut groups, 0, &CommitOptions::default(), &mut rng);
    assert_eq!(
        commit_entries(&output.commit),
        vec![ProposalOrRef::Reference(self_remove_ref)]
    );
    assert_eq!(*groups[1].status(), GroupStatus::Removed);
    assert_agree(&groups);
}

#[test]
fn a_commit_naming_one_self_remove_twice_is_refused() {
    let mut rng = SeededRng::new(16);
    let mut groups = group_of(Setup::draft(WireFormat::PUBLIC_MESSAGE), &ALL, &mut rng);
    let message = groups[1].self_remove(&[], &mut rng).unwrap();
    let reference = deliver_proposal(&mut groups, 1, &message);
    let forged = forge_commit(
        &mut groups[2],
        &[],
        vec![
            ProposalOrRef::Reference(reference.clone()),
            ProposalOrRef::Reference(reference),
        ],
        true,
        &mut rng,
    );
    let bob = groups[1].own_leaf();
    assert_refused(
        &mut groups[0],
        &forged,
        &GroupError::SelfRemove(SelfRemoveError::Duplicate(bob.0)),
    );
}

#[test]
fn a_commit_with_a_self_remove_needs_an_update_path() {
    let mut rng = SeededRng::new(17);
    let mut groups = group_of(Setup::draft(WireFormat::PUBLIC_MESSAGE), &ALL, &mut rng);
    let message = groups[1].self_remove(&[], &mut rng).unwrap();
    let reference = deliver_proposal(&mut groups, 1, &message);
    let cached = groups[2]
        .proposals
        .iter()
        .find(|p| p.reference == reference)
        .cloned()
        .unwrap();
    let valid = [CommittedProposal {
        sender: cached.sender,
        proposal: cached.proposal,
    }];
    let forged = forge_commit(
        &mut groups[2],
        &valid,
        vec![ProposalOrRef::Reference(reference)],
        false,
        &mut rng,
    );
    let error = groups[0].process_message(&forged, NOW).unwrap_err();
    assert!(matches!(error, GroupError::PathRequired(_)), "{error:?}");
    // Without a path even when the committer does not force one.
    let options = CommitOptions {
        force_path: false,
        ..CommitOptions::default()
    };
    let output = groups[2].commit(&options, NOW, &mut rng).unwrap();
    let MlsMessageBody::PublicMessage(public) = &output.commit.body else {
        panic!("not a PublicMessage")
    };
    let Content::Commit(commit) = &public.content.content else {
        panic!("not a commit")
    };
    assert!(commit.path.is_some());
}

/// The GroupInfo `group` publishes, as a joiner reads it.
fn group_info(group: &Group) -> GroupInfo {
    let MlsMessageBody::GroupInfo(info) = group.group_info(true).unwrap().body else {
        panic!("not a GroupInfo")
    };
    info
}

use crate::messages::GroupInfo;

#[test]
fn an_external_joiner_commits_the_pending_self_removes_by_reference() {
    let mut rng = SeededRng::new(18);
    let setup = Setup::draft(WireFormat::PRIVATE_MESSAGE);
    let mut groups = group_of(setup, &ALL, &mut rng);
    let bob = groups[1].own_leaf();
    let message = groups[1].self_remove(&[], &mut rng).unwrap();
    let reference = deliver_proposal(&mut groups, 1, &message);

    let (dave, output) = Group::join_external(
        setup.params("dave", true, &mut rng),
        &group_info(&groups[0]),
        &JoinOptions {
            self_removes: vec![message],
            ..JoinOptions::default()
        },
        NOW,
        &mut rng,
    )
    .unwrap();
    let entries = commit_entries(&output.commit);
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1], ProposalOrRef::Reference(reference));
    for (i, g) in groups.iter_mut().enumerate() {
        let ProcessedMessage::Commit(summary) = g.process_message(&output.commit, NOW).unwrap()
        else {
            panic!("not a commit")
        };
        assert_eq!(summary.removed, vec![bob]);
        assert_eq!(summary.self_removed, i == 1);
    }
    assert_eq!(*groups[1].status(), GroupStatus::Removed);
    groups.push(dave);
    assert_agree(&groups);
    // The joiner took the leaf the SelfRemove freed.
    assert_eq!(groups[3].own_leaf(), bob);
}

#[test]
fn an_external_joiner_refuses_a_self_remove_that_does_not_verify() {
    let mut rng = SeededRng::new(19);
    let setup = Setup::draft(WireFormat::PUBLIC_MESSAGE);
    let mut groups = group_of(setup, &ALL, &mut rng);
    let message = groups[1].self_remove(&[], &mut rng).unwrap();
    deliver_proposal(&mut groups, 1, &message);
    let info = group_info(&groups[0]);
    let join = |self_removes: Vec<MlsMessage>, rng: &mut SeededRng| {
        Group::join_external(
            setup.params("dave", true, rng),
            &info,
            &JoinOptions {
                self_removes,
                ..JoinOptions::default()
            },
            NOW,
            rng,
        )
        .map(|_| ())
        .unwrap_err()
    };

    // A signature that does not verify.
    let mut tampered = message.clone();
    let MlsMessageBody::PublicMessage(public) = &mut tampered.body else {
        panic!("not a PublicMessage")
    };
    public.content.authenticated_data = b"changed".to_vec();
    assert_eq!(
        join(vec![tampered], &mut rng),
        GroupError::Framing(FramingError::InvalidSignature)
    );
    // The membership tag is not checked (the joiner has no key), but must be present.
    let with_tag = |tag: Option<Vec<u8>>| {
        let mut changed = message.clone();
        let MlsMessageBody::PublicMessage(public) = &mut changed.body else {
            panic!("not a PublicMessage")
        };
        public.membership_tag = tag;
        changed
    };
    assert_eq!(
        join(vec![with_tag(None)], &mut rng),
        GroupError::Framing(FramingError::MembershipTagPresence)
    );
    join_succeeds(setup, &info, with_tag(Some(vec![0; 32])), &mut rng);
    // Twice the same member's.
    assert_eq!(
        join(vec![message.clone(), message.clone()], &mut rng),
        GroupError::SelfRemove(SelfRemoveError::MoreThanOnePerEpoch(groups[1].own_leaf().0))
    );
    // Another proposal.
    let update = groups[2].propose_update(None, &mut rng).unwrap();
    assert_eq!(
        join(vec![update], &mut rng),
        GroupError::SelfRemove(SelfRemoveError::NotSelfRemove(
            "the proposal is of another type"
        ))
    );
    // One of an earlier epoch.
    commit_all(&mut groups, 0, &CommitOptions::default(), &mut rng);
    let stale = group_info(&groups[0]);
    let error = Group::join_external(
        setup.params("erin", true, &mut rng),
        &stale,
        &JoinOptions {
            self_removes: vec![message],
            ..JoinOptions::default()
        },
        NOW,
        &mut rng,
    )
    .map(|_| ())
    .unwrap_err();
    assert!(
        matches!(error, GroupError::Framing(FramingError::WrongEpoch { .. })),
        "{error:?}"
    );
}

/// A joiner accepts `self_remove` (whose membership tag it cannot check).
fn join_succeeds(setup: Setup, info: &GroupInfo, self_remove: MlsMessage, rng: &mut SeededRng) {
    Group::join_external(
        setup.params("frank", true, rng),
        info,
        &JoinOptions {
            self_removes: vec![self_remove],
            ..JoinOptions::default()
        },
        NOW,
        rng,
    )
    .unwrap();
}

#[test]
fn an_external_commit_may_reference_only_self_removes() {
    let mut rng = SeededRng::new(20);
    let cs = RustCryptoProvider.cipher_suite_provider(SUITE).unwrap();
    let setup = Setup::draft(WireFormat::PUBLIC_MESSAGE);
    let mut groups = group_of(setup, &ALL, &mut rng);
    let update = groups[1].propose_update(None, &mut rng).unwrap();
    let update_ref = deliver_proposal(&mut groups, 1, &update);
    // A joiner's commit with a reference to the Update added, signed again by the joiner.
    let params = setup.params("dave", true, &mut rng);
    let dave = params.signer.clone();
    let info = group_info(&groups[0]);
    let (_, output) =
        Group::join_external(params, &info, &JoinOptions::default(), NOW, &mut rng).unwrap();
    let MlsMessageBody::PublicMessage(public) = &output.commit.body else {
        panic!("not a PublicMessage")
    };
    let mut content = public.content.clone();
    let Content::Commit(commit) = &mut content.content else {
        panic!("not a commit")
    };
    commit.proposals.push(ProposalOrRef::Reference(update_ref));
    let mut signed = sign_content(
        cs.as_ref(),
        dave.secret_key.as_bytes(),
        WireFormat::PUBLIC_MESSAGE,
        content,
        Some(&info.group_context),
    )
    .unwrap();
    signed.auth.confirmation_tag = public.auth.confirmation_tag.clone();
    let forged = mls_message(MlsMessageBody::PublicMessage(
        protect_public(cs.as_ref(), &signed, Some(&info.group_context), None).unwrap(),
    ));
    assert_refused(
        &mut groups[0],
        &forged,
        &GroupError::SelfRemove(SelfRemoveError::ExternalCommitReference),
    );
}
