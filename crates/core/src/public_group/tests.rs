//! Tests of the public view: it follows real groups epoch by epoch (its GroupContext and
//! members equal every member's), and refuses what members refuse, staying unchanged.

use std::sync::{Arc, RwLock};

use conclave_crypto::{CipherSuite, CryptoProvider, SeededRng};
use conclave_crypto_rustcrypto::RustCryptoProvider;

use super::*;
use crate::credential::BasicIdentityProvider;
use crate::framing::sign_content;
use crate::group::{
    CommitOptions, CommitOutput, Group, GroupEnv, GroupStatus, JoinOptions, KeyPackageBundle,
    LeafOptions, MemberParams, NewGroup, SigningIdentity, default_capabilities, external_proposal,
    new_member_proposal,
};
use crate::messages::{
    Add, Commit, Credential, ExtensionPayload as _, ExtensionProposalKind, ExternalSender,
    ExternalSenders, GroupContextExtensions, ProposalOrRef, PublicMessage, Remove,
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

fn cs() -> Box<dyn CipherSuiteProvider> {
    RustCryptoProvider.cipher_suite_provider(SUITE).unwrap()
}

fn signer(name: &str, rng: &mut SeededRng) -> SigningIdentity {
    SigningIdentity::generate(
        cs().as_ref(),
        Credential::Basic {
            identity: name.as_bytes().to_vec(),
        },
        rng,
    )
    .unwrap()
}

/// A member's parameters: PublicMessage handshakes, leaves that support SelfRemove.
fn params(name: &str, rng: &mut SeededRng) -> MemberParams {
    let profile = CodepointProfile::Draft;
    let mut capabilities = default_capabilities(SUITE, &BasicIdentityProvider, profile);
    capabilities
        .proposals
        .push(profile.proposal_type(ExtensionProposalKind::SelfRemove));
    MemberParams {
        config: GroupConfig {
            handshake_wire_format: WireFormat::PUBLIC_MESSAGE,
            codepoint_profile: profile,
            ..GroupConfig::default()
        },
        leaf: LeafOptions {
            capabilities: Some(capabilities),
            ..LeafOptions::default()
        },
        ..MemberParams::new(env(), signer(name, rng))
    }
}

fn group_info_of(message: &MlsMessage) -> GroupInfo {
    match &message.body {
        MlsMessageBody::GroupInfo(group_info) => group_info.clone(),
        _ => panic!("not a GroupInfo"),
    }
}

fn public_of(message: &MlsMessage) -> &PublicMessage {
    match &message.body {
        MlsMessageBody::PublicMessage(public) => public,
        _ => panic!("not a PublicMessage"),
    }
}

/// A group of real members and a public view that follows it.
struct World {
    rng: SeededRng,
    members: Vec<Group>,
    view: PublicGroup,
    /// The external sender listed in the group's `external_senders`.
    server: SigningIdentity,
}

impl World {
    /// Alice's group with `server` as its external sender; the view starts from Alice's
    /// GroupInfo without the tree extension, the tree given separately.
    fn new(seed: u64) -> Self {
        let mut rng = SeededRng::new(seed);
        let server = signer("server", &mut rng);
        let senders = ExternalSenders(vec![ExternalSender {
            signature_key: server.public_key.clone(),
            credential: server.credential.clone(),
        }]);
        let mut new = NewGroup::new(SUITE, b"public-view".to_vec());
        new.extensions.push(senders.to_extension().unwrap());
        let alice = Group::create(params("alice", &mut rng), new, NOW, &mut rng).unwrap();
        let group_info = group_info_of(&alice.group_info(false).unwrap());
        let nodes = alice.tree().to_nodes();
        let view = PublicGroup::from_group_info(
            &RustCryptoProvider,
            Arc::new(BasicIdentityProvider),
            &group_info,
            Some(&nodes),
            PublicGroupConfig::from(alice.config()),
            NOW,
        )
        .unwrap();
        let world = Self {
            rng,
            members: vec![alice],
            view,
            server,
        };
        world.assert_follows();
        world
    }

    /// The view's GroupContext and members are every member's.
    fn assert_follows(&self) {
        let view_members: Vec<(LeafIndex, LeafNode)> =
            self.view.members().map(|(i, l)| (i, l.clone())).collect();
        for member in &self.members {
            assert_eq!(self.view.context(), member.context());
            assert_eq!(self.view.epoch(), member.epoch());
            let members: Vec<(LeafIndex, LeafNode)> =
                member.members().map(|(i, l)| (i, l.clone())).collect();
            assert_eq!(view_members, members);
        }
        // A GroupInfo any member signs now describes the view's epoch.
        for member in &self.members {
            let group_info = group_info_of(&member.group_info(true).unwrap());
            self.view.check_group_info(&group_info).unwrap();
        }
    }

    /// A proposal from member `from` (or from outside, `None`): the view and the members
    /// take it.
    fn propose(&mut self, from: Option<usize>, message: &MlsMessage) -> ProposalRef {
        let handshake = self.view.process_message(message, NOW).unwrap();
        let PublicHandshake::Proposal { reference, .. } = &handshake else {
            panic!("not a proposal: {handshake:?}");
        };
        let reference = reference.clone();
        self.view.apply(handshake).unwrap();
        for (i, member) in self.members.iter_mut().enumerate() {
            if Some(i) != from {
                member.process_message(message, NOW).unwrap();
            }
        }
        reference
    }

    /// A commit by member `committer`: the view checks it and the committer's GroupInfo,
    /// then every member processes it; removed members leave the list.
    fn commit(
        &mut self,
        committer: usize,
        options: &CommitOptions,
    ) -> (CommitOutput, PublicCommitSummary) {
        let output = self.members[committer]
            .commit(options, NOW, &mut self.rng)
            .unwrap();
        let summary = self.deliver_commit(Some(committer), &output);
        (output, summary)
    }

    /// The view and the members (but `committer`, which merges) process a commit.
    fn deliver_commit(
        &mut self,
        committer: Option<usize>,
        output: &CommitOutput,
    ) -> PublicCommitSummary {
        let handshake = self.view.process_message(&output.commit, NOW).unwrap();
        let PublicHandshake::Commit(staged) = &handshake else {
            panic!("not a commit: {handshake:?}");
        };
        let summary = staged.summary().clone();
        staged
            .group()
            .check_group_info(&group_info_of(&output.group_info))
            .unwrap();
        self.view.apply(handshake).unwrap();
        for (i, member) in self.members.iter_mut().enumerate() {
            if Some(i) == committer {
                member.merge_pending_commit().unwrap();
            } else {
                member.process_message(&output.commit, NOW).unwrap();
            }
        }
        self.members.retain(|m| *m.status() == GroupStatus::Active);
        summary
    }

    /// Adds `name` by value through `committer`; the newcomer joins by Welcome.
    fn add(&mut self, committer: usize, names: &[&str]) -> PublicCommitSummary {
        let mut joiners = Vec::new();
        let mut proposals = Vec::new();
        for name in names {
            let params = params(name, &mut self.rng);
            let bundle = KeyPackageBundle::generate(&params, SUITE, NOW, &mut self.rng).unwrap();
            proposals.push(Proposal::Add(Add {
                key_package: bundle.key_package.clone(),
            }));
            joiners.push((params, bundle));
        }
        let options = CommitOptions {
            proposals,
            ..CommitOptions::default()
        };
        let (output, summary) = self.commit(committer, &options);
        self.welcome(&output, joiners);
        summary
    }

    fn welcome(&mut self, output: &CommitOutput, joiners: Vec<(MemberParams, KeyPackageBundle)>) {
        let MlsMessageBody::Welcome(welcome) = &output.welcome.as_ref().unwrap().body else {
            panic!("not a Welcome");
        };
        for (params, bundle) in joiners {
            let joined =
                Group::join(params, welcome, &bundle, &JoinOptions::default(), NOW).unwrap();
            self.members.push(joined);
        }
    }

    /// The index in `members` of the member at `leaf`.
    fn at(&self, leaf: LeafIndex) -> usize {
        self.members
            .iter()
            .position(|m| m.own_leaf() == leaf)
            .unwrap()
    }
}

#[test]
fn the_public_view_follows_every_epoch_of_a_group() {
    let mut world = World::new(1);

    // Adds by value, one and then two in one commit.
    let summary = world.add(0, &["bob"]);
    assert_eq!(summary.epoch, 1);
    assert_eq!(summary.committer, Sender::Member(LeafIndex(0)));
    assert_eq!(summary.added.len(), 1);
    assert!(summary.path && !summary.external);
    world.assert_follows();
    let summary = world.add(1, &["carol", "dave"]);
    let added: Vec<LeafIndex> = summary.added.iter().map(|(leaf, _)| *leaf).collect();
    assert_eq!(added, vec![LeafIndex(2), LeafIndex(3)]);
    world.assert_follows();
    assert_eq!(world.view.members().count(), 4);

    // An Update proposal by reference, committed by another member.
    let bob = world.at(LeafIndex(1));
    let update = world.members[bob]
        .propose_update(None, &mut world.rng)
        .unwrap();
    world.propose(Some(bob), &update);
    assert_eq!(world.view.pending_proposals().count(), 1);
    let (_, summary) = world.commit(0, &CommitOptions::default());
    assert_eq!(summary.updated, vec![LeafIndex(1)]);
    assert_eq!(world.view.pending_proposals().count(), 0);
    world.assert_follows();

    // A Remove by reference.
    let carol = world.at(LeafIndex(2));
    let remove = world.members[carol]
        .propose(
            Proposal::Remove(Remove {
                removed: LeafIndex(3),
            }),
            &[],
            &mut world.rng,
        )
        .unwrap();
    world.propose(Some(carol), &remove);
    let (_, summary) = world.commit(0, &CommitOptions::default());
    assert_eq!(summary.removed, vec![LeafIndex(3)]);
    assert!(summary.self_removed.is_empty());
    world.assert_follows();
    assert_eq!(world.view.members().count(), 3);

    // A Remove by value, then an add into the blank leaf.
    let options = CommitOptions {
        proposals: vec![Proposal::Remove(Remove {
            removed: LeafIndex(2),
        })],
        ..CommitOptions::default()
    };
    let (_, summary) = world.commit(world.at(LeafIndex(1)), &options);
    assert_eq!(summary.removed, vec![LeafIndex(2)]);
    world.assert_follows();
    let summary = world.add(0, &["erin"]);
    assert_eq!(summary.added[0].0, LeafIndex(2));
    world.assert_follows();

    // A SelfRemove by erin, committed by bob.
    let erin = world.at(LeafIndex(2));
    let leave = world.members[erin]
        .self_remove(&[], &mut world.rng)
        .unwrap();
    world.propose(Some(erin), &leave);
    let (_, summary) = world.commit(world.at(LeafIndex(1)), &CommitOptions::default());
    assert_eq!(summary.self_removed, vec![LeafIndex(2)]);
    assert_eq!(summary.removed, vec![LeafIndex(2)]);
    world.assert_follows();

    // A GroupContextExtensions proposal: a second external sender.
    let second = signer("second-server", &mut world.rng);
    let senders = ExternalSenders(vec![
        ExternalSender {
            signature_key: world.server.public_key.clone(),
            credential: world.server.credential.clone(),
        },
        ExternalSender {
            signature_key: second.public_key.clone(),
            credential: second.credential.clone(),
        },
    ]);
    let options = CommitOptions {
        proposals: vec![Proposal::GroupContextExtensions(GroupContextExtensions {
            extensions: vec![senders.to_extension().unwrap()],
        })],
        ..CommitOptions::default()
    };
    world.commit(0, &options);
    world.assert_follows();

    // A proposal by the second external sender, and a new member's own Add, both committed
    // by reference.
    let frank_params = params("frank", &mut world.rng);
    let frank = KeyPackageBundle::generate(&frank_params, SUITE, NOW, &mut world.rng).unwrap();
    let join_request = new_member_proposal(
        cs().as_ref(),
        world.view.group_id(),
        world.view.epoch(),
        &frank,
        &frank_params.signer,
    )
    .unwrap();
    world.propose(None, &join_request);
    let gina_params = params("gina", &mut world.rng);
    let gina = KeyPackageBundle::generate(&gina_params, SUITE, NOW, &mut world.rng).unwrap();
    let server_add = external_proposal(
        cs().as_ref(),
        world.view.group_id(),
        world.view.epoch(),
        1,
        &second,
        Proposal::Add(Add {
            key_package: gina.key_package.clone(),
        }),
        b"",
    )
    .unwrap();
    world.propose(None, &server_add);
    let (output, summary) = world.commit(world.at(LeafIndex(1)), &CommitOptions::default());
    assert_eq!(summary.added.len(), 2);
    world.welcome(&output, vec![(frank_params, frank), (gina_params, gina)]);
    world.assert_follows();

    // An external commit by a newcomer (RFC 9420 §12.4.3.2).
    let group_info = group_info_of(&world.members[0].group_info(true).unwrap());
    let (henry, output) = Group::join_external(
        params("henry", &mut world.rng),
        &group_info,
        &JoinOptions::default(),
        NOW,
        &mut world.rng,
    )
    .unwrap();
    let summary = world.deliver_commit(None, &output);
    assert!(summary.external && !summary.resync);
    assert_eq!(summary.committer, Sender::NewMemberCommit);
    assert_eq!(summary.committer_leaf, henry.own_leaf());
    world.members.push(henry);
    world.assert_follows();

    // A resync: bob lost his state and rejoins, removing his prior leaf.
    let bob = world.at(LeafIndex(1));
    let group_info = group_info_of(&world.members[0].group_info(true).unwrap());
    let bob_params = MemberParams {
        signer: world.members[bob].signer().clone(),
        ..params("bob", &mut world.rng)
    };
    let (rejoined, output) = Group::join_external(
        bob_params,
        &group_info,
        &JoinOptions {
            remove_prior_leaf: Some(LeafIndex(1)),
            ..JoinOptions::default()
        },
        NOW,
        &mut world.rng,
    )
    .unwrap();
    world.members.remove(bob);
    let summary = world.deliver_commit(None, &output);
    assert!(summary.external && summary.resync);
    assert_eq!(summary.removed, vec![LeafIndex(1)]);
    world.members.push(rejoined);
    world.assert_follows();

    // An empty commit still moves the epoch (path only).
    let (_, summary) = world.commit(0, &CommitOptions::default());
    assert!(summary.added.is_empty() && summary.removed.is_empty() && summary.path);
    world.assert_follows();
}

/// Signs `content` as `sender` with `key` for the view's epoch, as a PublicMessage with a
/// dummy membership tag for members (the view checks only its presence).
fn forged(
    view: &PublicGroup,
    key: &conclave_crypto::Secret,
    sender: Sender,
    content: Content,
    confirmation_tag: Option<Vec<u8>>,
) -> MlsMessage {
    let framed = FramedContent {
        group_id: view.group_id().to_vec(),
        epoch: view.epoch(),
        sender,
        authenticated_data: Vec::new(),
        content,
    };
    let mut signed = sign_content(
        cs().as_ref(),
        key.as_bytes(),
        WireFormat::PUBLIC_MESSAGE,
        framed,
        Some(view.context()),
    )
    .unwrap();
    signed.auth.confirmation_tag = confirmation_tag;
    let membership_tag = matches!(sender, Sender::Member(_)).then(|| vec![7; 32]);
    crate::group::mls_message(MlsMessageBody::PublicMessage(PublicMessage {
        content: signed.content,
        auth: signed.auth,
        membership_tag,
    }))
}

/// Processes `message`, expecting a refusal that leaves the view as it was.
fn refused(view: &PublicGroup, message: &MlsMessage) -> PublicGroupError {
    let before = view.to_bytes().unwrap();
    let error = view.process_message(message, NOW).unwrap_err();
    assert_eq!(view.to_bytes().unwrap(), before);
    error
}

#[test]
fn a_flipped_bit_in_a_signature_is_refused() {
    let mut world = World::new(2);
    world.add(0, &["bob"]);
    let output = world.members[0]
        .commit(&CommitOptions::default(), NOW, &mut world.rng)
        .unwrap();
    let mut tampered = output.commit.clone();
    let MlsMessageBody::PublicMessage(public) = &mut tampered.body else {
        panic!("not a PublicMessage");
    };
    public.auth.signature[3] ^= 1;
    assert_eq!(
        refused(&world.view, &tampered),
        PublicGroupError::Group(GroupError::Framing(FramingError::InvalidSignature))
    );
    // A proposal too.
    let proposal = world.members[1]
        .propose_update(None, &mut world.rng)
        .unwrap();
    let mut tampered = proposal.clone();
    let MlsMessageBody::PublicMessage(public) = &mut tampered.body else {
        panic!("not a PublicMessage");
    };
    let last = public.auth.signature.len() - 1;
    public.auth.signature[last] ^= 0x80;
    assert!(matches!(
        refused(&world.view, &tampered),
        PublicGroupError::Group(GroupError::Framing(FramingError::InvalidSignature))
    ));
    // The untouched commit still goes through.
    world.members[0].clear_pending_commit();
    let handshake = world.view.process_message(&output.commit, NOW).unwrap();
    assert!(matches!(handshake, PublicHandshake::Commit(_)));
}

#[test]
fn a_commit_under_another_members_name_is_refused() {
    let mut world = World::new(3);
    world.add(0, &["bob", "carol"]);
    // Bob signs a commit removing carol, but names alice as its sender.
    let bob_key = world.members[1].signer().secret_key.clone();
    let commit = Content::Commit(Commit {
        proposals: vec![ProposalOrRef::Proposal(Box::new(Proposal::Remove(
            Remove {
                removed: LeafIndex(2),
            },
        )))],
        path: None,
    });
    let message = forged(
        &world.view,
        &bob_key,
        Sender::Member(LeafIndex(0)),
        commit.clone(),
        Some(vec![0; 32]),
    );
    assert!(matches!(
        refused(&world.view, &message),
        PublicGroupError::Group(GroupError::Framing(FramingError::InvalidSignature))
    ));
    // An external sender may not commit (RFC 9420 §6.1), even with a valid signature.
    let server_key = world.server.secret_key.clone();
    let mut message = forged(
        &world.view,
        &server_key,
        Sender::Member(LeafIndex(0)),
        commit,
        Some(vec![0; 32]),
    );
    if let MlsMessageBody::PublicMessage(public) = &mut message.body {
        public.content.sender = Sender::External(0);
        public.membership_tag = None;
    }
    assert!(matches!(
        refused(&world.view, &message),
        PublicGroupError::Group(GroupError::Framing(
            FramingError::ContentNotAllowedForSender { .. }
        ))
    ));
    // A sender leaf that is blank.
    let message = forged(
        &world.view,
        &bob_key,
        Sender::Member(LeafIndex(5)),
        Content::Commit(Commit {
            proposals: Vec::new(),
            path: None,
        }),
        Some(vec![0; 32]),
    );
    assert!(matches!(
        refused(&world.view, &message),
        PublicGroupError::Group(GroupError::UnknownSender(LeafIndex(5)))
    ));
}

#[test]
fn a_members_commit_with_an_invalid_proposal_list_is_refused() {
    let mut world = World::new(4);
    world.add(0, &["bob"]);
    let alice_key = world.members[0].signer().secret_key.clone();
    // Removing a blank leaf (RFC 9420 §12.1.3).
    let message = forged(
        &world.view,
        &alice_key,
        Sender::Member(LeafIndex(0)),
        Content::Commit(Commit {
            proposals: vec![ProposalOrRef::Proposal(Box::new(Proposal::Remove(
                Remove {
                    removed: LeafIndex(3),
                },
            )))],
            path: None,
        }),
        Some(vec![0; 32]),
    );
    assert!(
        refused(&world.view, &message)
            .to_string()
            .contains("12.1.3")
    );
    // Adding a KeyPackage whose signature is broken (RFC 9420 §10.1).
    let params = params("mallory", &mut world.rng);
    let mut bundle = KeyPackageBundle::generate(&params, SUITE, NOW, &mut world.rng).unwrap();
    bundle.key_package.signature[0] ^= 1;
    let message = forged(
        &world.view,
        &alice_key,
        Sender::Member(LeafIndex(0)),
        Content::Commit(Commit {
            proposals: vec![ProposalOrRef::Proposal(Box::new(Proposal::Add(Add {
                key_package: bundle.key_package,
            })))],
            path: None,
        }),
        Some(vec![0; 32]),
    );
    assert!(matches!(
        refused(&world.view, &message),
        PublicGroupError::Group(GroupError::Validation(_))
    ));
    // A reference to a proposal the view never saw.
    let message = forged(
        &world.view,
        &alice_key,
        Sender::Member(LeafIndex(0)),
        Content::Commit(Commit {
            proposals: vec![ProposalOrRef::Reference(ProposalRef(vec![1; 32]))],
            path: None,
        }),
        Some(vec![0; 32]),
    );
    assert_eq!(
        refused(&world.view, &message),
        PublicGroupError::Group(GroupError::UnknownProposalRef)
    );
    // A member's PublicMessage without its membership tag (RFC 9420 §6.2).
    let proposal = world.members[1]
        .propose_update(None, &mut world.rng)
        .unwrap();
    let mut stripped = proposal;
    if let MlsMessageBody::PublicMessage(public) = &mut stripped.body {
        public.membership_tag = None;
    }
    assert!(matches!(
        refused(&world.view, &stripped),
        PublicGroupError::Group(GroupError::Framing(FramingError::MembershipTagPresence))
    ));
}

#[test]
fn external_commits_are_checked_as_members_check_them() {
    let mut world = World::new(5);
    world.add(0, &["bob"]);
    let group_info = group_info_of(&world.members[0].group_info(true).unwrap());
    let joiner = params("joiner", &mut world.rng);
    let joiner_key = joiner.signer.secret_key.clone();
    let (_, output) = Group::join_external(
        joiner,
        &group_info,
        &JoinOptions::default(),
        NOW,
        &mut world.rng,
    )
    .unwrap();
    let public = public_of(&output.commit).clone();
    let Content::Commit(commit) = &public.content.content else {
        panic!("not a commit");
    };

    // Without its ExternalInit, re-signed by the joiner (RFC 9420 §12.4.3.2).
    let without_init = Commit {
        proposals: commit
            .proposals
            .iter()
            .filter(|p| !matches!(p, ProposalOrRef::Proposal(proposal) if matches!(**proposal, Proposal::ExternalInit(_))))
            .cloned()
            .collect(),
        path: commit.path.clone(),
    };
    let message = forged(
        &world.view,
        &joiner_key,
        Sender::NewMemberCommit,
        Content::Commit(without_init),
        public.auth.confirmation_tag.clone(),
    );
    assert!(
        refused(&world.view, &message)
            .to_string()
            .contains("exactly one ExternalInit")
    );

    // Unsigned (an empty signature), or signed by another key than the path's leaf.
    let mut unsigned = output.commit.clone();
    if let MlsMessageBody::PublicMessage(public) = &mut unsigned.body {
        public.auth.signature.clear();
    }
    assert!(matches!(
        refused(&world.view, &unsigned),
        PublicGroupError::Group(GroupError::Framing(_))
    ));
    let other_key = world.members[1].signer().secret_key.clone();
    let message = forged(
        &world.view,
        &other_key,
        Sender::NewMemberCommit,
        Content::Commit(commit.clone()),
        public.auth.confirmation_tag.clone(),
    );
    assert!(matches!(
        refused(&world.view, &message),
        PublicGroupError::Group(GroupError::Framing(FramingError::InvalidSignature))
    ));

    // Without a path.
    let message = forged(
        &world.view,
        &joiner_key,
        Sender::NewMemberCommit,
        Content::Commit(Commit {
            proposals: commit.proposals.clone(),
            path: None,
        }),
        public.auth.confirmation_tag.clone(),
    );
    assert!(matches!(
        refused(&world.view, &message),
        PublicGroupError::Group(GroupError::PathRequired(_))
    ));

    // A view whose policy refuses newcomers refuses it; the real one accepts it.
    let mut strict = world.view.clone();
    strict.config.allow_external_commits = false;
    assert!(
        refused(&strict, &output.commit)
            .to_string()
            .contains("only resync is allowed")
    );
    let handshake = world.view.process_message(&output.commit, NOW).unwrap();
    world.view.apply(handshake).unwrap();
    world.members[0]
        .process_message(&output.commit, NOW)
        .unwrap();
    assert_eq!(world.view.context(), world.members[0].context());
}

#[test]
fn resync_external_commits_follow_the_resync_policy() {
    let mut world = World::new(6);
    world.add(0, &["bob"]);
    let group_info = group_info_of(&world.members[0].group_info(true).unwrap());
    let bob = MemberParams {
        signer: world.members[1].signer().clone(),
        ..params("bob", &mut world.rng)
    };
    let (_, output) = Group::join_external(
        bob,
        &group_info,
        &JoinOptions {
            remove_prior_leaf: Some(LeafIndex(1)),
            ..JoinOptions::default()
        },
        NOW,
        &mut world.rng,
    )
    .unwrap();
    let mut strict = world.view.clone();
    strict.config.allow_external_resync = false;
    assert!(
        refused(&strict, &output.commit)
            .to_string()
            .contains("resync external commit")
    );
    let PublicHandshake::Commit(staged) = world.view.process_message(&output.commit, NOW).unwrap()
    else {
        panic!("not a commit");
    };
    assert!(staged.summary().resync);
}

#[test]
fn a_handshake_of_another_epoch_is_refused() {
    let mut world = World::new(7);
    world.add(0, &["bob"]);
    let old = world.members[1]
        .propose_update(None, &mut world.rng)
        .unwrap();
    world.propose(Some(1), &old);
    world.commit(0, &CommitOptions::default());
    assert_eq!(
        refused(&world.view, &old),
        PublicGroupError::Group(GroupError::WrongEpoch {
            message: 1,
            current: 2
        })
    );
    // A PrivateMessage is not for the view.
    let private = world.members[0]
        .encrypt_application_message(b"hi", b"", &mut world.rng)
        .unwrap();
    assert!(matches!(
        refused(&world.view, &private),
        PublicGroupError::Group(GroupError::UnexpectedWireFormat(_))
    ));
}

#[test]
fn a_staged_handshake_applies_only_to_the_state_it_was_processed_against() {
    let mut world = World::new(8);
    world.add(0, &["bob"]);
    let first = world.members[0]
        .commit(&CommitOptions::default(), NOW, &mut world.rng)
        .unwrap();
    let second = world.members[1]
        .commit(&CommitOptions::default(), NOW, &mut world.rng)
        .unwrap();
    let staged_first = world.view.process_message(&first.commit, NOW).unwrap();
    let staged_second = world.view.process_message(&second.commit, NOW).unwrap();
    world.view.apply(staged_first).unwrap();
    let before = world.view.to_bytes().unwrap();
    assert_eq!(
        world.view.apply(staged_second).unwrap_err(),
        PublicGroupError::StaleHandshake {
            processed: 1,
            current: 2
        }
    );
    assert_eq!(world.view.to_bytes().unwrap(), before);
    // A proposal cannot be cached twice.
    world.members[0].merge_pending_commit().unwrap();
    world.members[1].clear_pending_commit();
    world.members[1]
        .process_message(&first.commit, NOW)
        .unwrap();
    let proposal = world.members[1]
        .propose_update(None, &mut world.rng)
        .unwrap();
    let handshake = world.view.process_message(&proposal, NOW).unwrap();
    world.view.apply(handshake.clone()).unwrap();
    assert_eq!(
        world.view.apply(handshake).unwrap_err(),
        PublicGroupError::Group(GroupError::DuplicateProposal)
    );
    assert_eq!(
        refused(&world.view, &proposal),
        PublicGroupError::Group(GroupError::DuplicateProposal)
    );
}

#[test]
fn a_group_info_with_a_tampered_tree_is_refused() {
    let mut world = World::new(9);
    world.add(0, &["bob", "carol"]);
    let group_info = group_info_of(&world.members[0].group_info(true).unwrap());
    let nodes = world.members[0].tree().to_nodes();
    let from = |group_info: &GroupInfo, nodes: Option<&RatchetTreeNodes>| {
        PublicGroup::from_group_info(
            &RustCryptoProvider,
            Arc::new(BasicIdentityProvider),
            group_info,
            nodes,
            PublicGroupConfig::default(),
            NOW,
        )
    };
    // The GroupInfo's own tree, and the tree given separately, are accepted.
    let view = from(&group_info, None).unwrap();
    assert_eq!(view.context(), world.members[0].context());
    let without_tree = group_info_of(&world.members[0].group_info(false).unwrap());
    assert!(from(&without_tree, Some(&nodes)).is_ok());
    assert_eq!(
        from(&without_tree, None).unwrap_err(),
        PublicGroupError::Group(GroupError::MissingRatchetTree)
    );

    // Carol's leaf dropped from the tree: the tree hash no longer matches.
    let mut tampered = nodes.clone();
    let carol_node = tampered.0.iter().rposition(Option::is_some).unwrap();
    tampered.0[carol_node] = None;
    while tampered.0.last().is_some_and(Option::is_none) {
        tampered.0.pop();
    }
    assert!(matches!(
        from(&without_tree, Some(&tampered)).unwrap_err(),
        PublicGroupError::Group(GroupError::TreeValidation(_) | GroupError::Tree(_))
    ));
    // A leaf's encryption key changed: the tree hash no longer matches.
    let mut tampered = nodes.clone();
    if let Some(Some(crate::messages::Node::Leaf(leaf))) = tampered.0.get_mut(2) {
        leaf.encryption_key.0[0] ^= 1;
    } else {
        panic!("leaf 1 is not at node 2");
    }
    assert!(matches!(
        from(&without_tree, Some(&tampered)).unwrap_err(),
        PublicGroupError::Group(GroupError::TreeValidation(_))
    ));

    // A GroupInfo whose signature does not verify.
    let mut forged = group_info.clone();
    forged.signature[0] ^= 1;
    assert!(from(&forged, None).is_err());
}

#[test]
fn check_group_info_refuses_another_epochs_or_a_changed_group_info() {
    let mut world = World::new(10);
    world.add(0, &["bob"]);
    let old = group_info_of(&world.members[0].group_info(true).unwrap());
    world.view.check_group_info(&old).unwrap();
    let (output, _) = world.commit(1, &CommitOptions::default());
    // The previous epoch's GroupInfo.
    assert_eq!(
        world.view.check_group_info(&old).unwrap_err(),
        PublicGroupError::GroupInfoMismatch("its GroupContext is not the group's")
    );
    let current = group_info_of(&output.group_info);
    world.view.check_group_info(&current).unwrap();

    // Another GroupContext (an extension added), validly signed by a member.
    let cs = cs();
    let resign = |group_info: &mut GroupInfo, key: &conclave_crypto::Secret| {
        let tbs = group_info.to_be_signed().unwrap();
        group_info.signature = conclave_crypto::labels::sign_with_label(
            cs.as_ref(),
            key.as_bytes(),
            crate::welcome::GROUP_INFO_TBS_LABEL,
            &tbs,
        )
        .unwrap();
    };
    let bob_key = world.members[1].signer().secret_key.clone();
    let mut changed = current.clone();
    changed.group_context.extensions.clear();
    resign(&mut changed, &bob_key);
    assert_eq!(
        world.view.check_group_info(&changed).unwrap_err(),
        PublicGroupError::GroupInfoMismatch("its GroupContext is not the group's")
    );
    // Another confirmation tag.
    let mut changed = current.clone();
    changed.confirmation_tag[0] ^= 1;
    resign(&mut changed, &bob_key);
    assert!(matches!(
        world.view.check_group_info(&changed).unwrap_err(),
        PublicGroupError::GroupInfoMismatch(_)
    ));
    // A ratchet_tree extension with another tree.
    let mut changed = current.clone();
    let mut nodes = world.view.tree().to_nodes();
    nodes.0.push(None);
    nodes.0.push(None);
    changed
        .extensions
        .retain(|e| e.extension_type != RatchetTreeNodes::EXTENSION_TYPE);
    changed.extensions.insert(0, nodes.to_extension().unwrap());
    resign(&mut changed, &bob_key);
    assert_eq!(
        world.view.check_group_info(&changed).unwrap_err(),
        PublicGroupError::GroupInfoMismatch("its ratchet_tree is not the group's tree")
    );
    // Signed by a key that is not its signer leaf's.
    let mut changed = current;
    let alice_key = world.members[0].signer().secret_key.clone();
    changed.signer = world.members[1].own_leaf();
    resign(&mut changed, &alice_key);
    assert!(matches!(
        world.view.check_group_info(&changed).unwrap_err(),
        PublicGroupError::Group(GroupError::Welcome(_))
    ));
}

#[test]
fn the_stored_state_round_trips_and_keeps_following() {
    let mut world = World::new(11);
    world.add(0, &["bob", "carol"]);
    let proposal = world.members[1]
        .propose_update(None, &mut world.rng)
        .unwrap();
    world.propose(Some(1), &proposal);
    let bytes = world.view.to_bytes().unwrap();
    let loaded =
        PublicGroup::from_bytes(&bytes, &RustCryptoProvider, Arc::new(BasicIdentityProvider))
            .unwrap();
    assert_eq!(loaded.to_bytes().unwrap(), bytes);
    assert_eq!(loaded.pending_proposals().count(), 1);
    world.view = loaded;
    // The cached proposal is committed by reference after the reload.
    let (_, summary) = world.commit(2, &CommitOptions::default());
    assert_eq!(summary.updated, vec![LeafIndex(1)]);
    world.assert_follows();

    // Refused: an unknown version, a truncated state.
    let mut unknown = bytes.clone();
    unknown[1] = 99;
    let load = |bytes: &[u8]| {
        PublicGroup::from_bytes(bytes, &RustCryptoProvider, Arc::new(BasicIdentityProvider))
    };
    assert!(matches!(
        load(&unknown).unwrap_err(),
        PublicGroupError::Storage(_)
    ));
    assert!(load(&bytes[..bytes.len() / 2]).is_err());
    assert!(load(&[]).is_err());
}

#[test]
fn content_opened_from_another_wire_format_must_be_a_members() {
    let mut world = World::new(12);
    world.add(0, &["bob"]);
    let proposal = world.members[1]
        .propose_update(None, &mut world.rng)
        .unwrap();
    let public = public_of(&proposal);
    // A PublicMessage's content goes through process_message, not process_content.
    assert!(matches!(
        world
            .view
            .process_content(
                WireFormat::PUBLIC_MESSAGE,
                &public.content,
                &public.auth,
                NOW
            )
            .unwrap_err(),
        PublicGroupError::OpenedContent { .. }
    ));
    // Content signed for PublicMessage does not verify as another wire format (the wire
    // format is signed, RFC 9420 §6.1).
    assert!(matches!(
        world
            .view
            .process_content(
                WireFormat::PRIVATE_MESSAGE,
                &public.content,
                &public.auth,
                NOW
            )
            .unwrap_err(),
        PublicGroupError::Group(GroupError::Framing(FramingError::InvalidSignature))
    ));
    // Content signed for the wire format it came in is processed like a PublicMessage.
    let bob_key = world.members[1].signer().secret_key.clone();
    let signed = sign_content(
        cs().as_ref(),
        bob_key.as_bytes(),
        WireFormat::PRIVATE_MESSAGE,
        public.content.clone(),
        Some(world.view.context()),
    )
    .unwrap();
    let handshake = world
        .view
        .process_content(
            WireFormat::PRIVATE_MESSAGE,
            &signed.content,
            &signed.auth,
            NOW,
        )
        .unwrap();
    assert!(matches!(
        handshake,
        PublicHandshake::Proposal {
            sender: Sender::Member(LeafIndex(1)),
            ..
        }
    ));
    // Not from a member.
    let server_key = world.server.secret_key.clone();
    let mut content = public.content.clone();
    content.sender = Sender::External(0);
    content.content = Content::Proposal(Proposal::Remove(Remove {
        removed: LeafIndex(1),
    }));
    let signed = sign_content(
        cs().as_ref(),
        server_key.as_bytes(),
        WireFormat::PUBLIC_MESSAGE,
        content,
        Some(world.view.context()),
    )
    .unwrap();
    assert!(matches!(
        world
            .view
            .process_content(
                WireFormat::PRIVATE_MESSAGE,
                &signed.content,
                &signed.auth,
                NOW
            )
            .unwrap_err(),
        PublicGroupError::OpenedContent { .. }
    ));
}

#[test]
fn after_a_reinit_the_view_refuses_every_handshake_as_members_do() {
    let mut world = World::new(13);
    world.add(0, &["bob"]);
    let reinit = ReInit {
        group_id: b"public-view-2".to_vec(),
        version: ProtocolVersion::MLS10,
        cipher_suite: SUITE,
        extensions: Vec::new(),
    };
    let options = CommitOptions {
        proposals: vec![Proposal::ReInit(reinit.clone())],
        ..CommitOptions::default()
    };
    let (_, summary) = world.commit(0, &options);
    assert_eq!(summary.reinit.as_ref(), Some(&reinit));
    assert_eq!(world.view.reinit(), Some(&reinit));
    assert!(
        world.members.is_empty(),
        "members are inactive after a ReInit"
    );
    // The ended state survives a reload; any handshake of the next epoch is refused.
    let stored = world.view.to_bytes().unwrap();
    let loaded = PublicGroup::from_bytes(
        &stored,
        &RustCryptoProvider,
        Arc::new(BasicIdentityProvider),
    )
    .unwrap();
    assert_eq!(loaded.reinit(), Some(&reinit));
    let message = forged(
        &loaded,
        &conclave_crypto::Secret::new(vec![1; 32]),
        Sender::Member(LeafIndex(0)),
        Content::Commit(Commit {
            proposals: Vec::new(),
            path: None,
        }),
        Some(vec![0; 32]),
    );
    assert!(matches!(
        refused(&loaded, &message),
        PublicGroupError::Group(GroupError::Inactive(_))
    ));
}

#[test]
fn the_view_can_move_between_threads() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<PublicGroup>();
    assert_send_sync::<PublicHandshake>();
}

/// draft-ietf-mls-ratchet-tree-options-00 §4: the view rebuilds the committer's GroupInfo
/// from its PartialGroupInfo, with or without the tree, and refuses one whose signature is
/// not the committer's over this epoch.
#[test]
fn the_view_rebuilds_a_group_info_from_a_partial_group_info_and_checks_its_signature() {
    use crate::ratchet_tree_options::{PartialGroupInfo, RatchetTreePresence};
    let mut world = World::new(41);
    world.add(0, &["bob"]);
    for with_tree in [true, false] {
        let bob = world.at(LeafIndex(1));
        let options = CommitOptions {
            ratchet_tree_in_group_info: with_tree,
            ..CommitOptions::default()
        };
        let (output, summary) = world.commit(bob, &options);
        let full = group_info_of(&output.group_info);
        let partial = PartialGroupInfo::of(&full, !with_tree);
        assert_eq!(
            partial.ratchet_tree_presence,
            if with_tree {
                RatchetTreePresence::Added
            } else {
                RatchetTreePresence::Removed
            }
        );
        let bytes = partial.to_bytes().unwrap();
        assert!(bytes.len() < full.to_bytes().unwrap().len());
        let rebuilt = world
            .view
            .group_info_from_partial(&partial, summary.committer_leaf)
            .unwrap();
        assert_eq!(rebuilt, full);
        // Not the committer's leaf, or a signature of something else: refused.
        assert!(
            world
                .view
                .group_info_from_partial(&partial, LeafIndex(0))
                .is_err()
        );
        let mut forged = partial.clone();
        forged.signature[3] ^= 1;
        assert!(
            world
                .view
                .group_info_from_partial(&forged, summary.committer_leaf)
                .is_err()
        );
        let mut wrong_presence = partial.clone();
        wrong_presence.ratchet_tree_presence = if with_tree {
            RatchetTreePresence::NoRatchetTree
        } else {
            RatchetTreePresence::Present
        };
        assert!(
            world
                .view
                .group_info_from_partial(&wrong_presence, summary.committer_leaf)
                .is_err()
        );
    }
}
