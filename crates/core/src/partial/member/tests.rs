//! A partial member beside full members of the same group: it joins from an
//! AnnotatedWelcome, follows AnnotatedCommits, agrees with the full members on the epoch
//! authenticator and exporter, exchanges application messages with them, persists, and
//! refuses what draft-ietf-mls-partial-02 forbids without changing its state.

use std::sync::{Arc, RwLock};

use conclave_crypto::{CipherSuite, CipherSuiteProvider, CryptoProvider, SeededRng};
use conclave_crypto_rustcrypto::RustCryptoProvider;

use super::*;
use crate::credential::BasicIdentityProvider;
use crate::group::{
    CommitOptions, CommitOutput, Group, GroupEnv, JoinOptions, MemberParams, NewGroup,
    ProcessedMessage, SigningIdentity,
};
use crate::messages::{Add, Credential, Remove, Welcome};
use crate::partial::{
    AnnotatedCommit, AnnotatedWelcome, MembershipProof, SenderAuthenticatedMessage,
};
use crate::tree::RatchetTree;

const NOW: u64 = 1_700_000_000;
const SUITE: CipherSuite = CipherSuite(1);

fn provider() -> Arc<dyn CryptoProvider> {
    Arc::new(RustCryptoProvider)
}

fn cs() -> Box<dyn CipherSuiteProvider> {
    provider().cipher_suite_provider(SUITE).unwrap()
}

fn env() -> GroupEnv {
    GroupEnv {
        crypto: provider(),
        identity: Arc::new(BasicIdentityProvider),
        psks: Arc::new(RwLock::new(std::collections::HashMap::new())),
    }
}

fn identity(name: &str, rng: &mut SeededRng) -> SigningIdentity {
    SigningIdentity::generate(
        cs().as_ref(),
        Credential::Basic {
            identity: name.as_bytes().to_vec(),
        },
        rng,
    )
    .unwrap()
}

fn key_package(name: &str, rng: &mut SeededRng) -> (SigningIdentity, KeyPackageBundle) {
    let signer = identity(name, rng);
    let bundle =
        KeyPackageBundle::generate(&MemberParams::new(env(), signer.clone()), SUITE, NOW, rng)
            .unwrap();
    (signer, bundle)
}

fn welcome_of(output: &CommitOutput) -> Welcome {
    match &output.welcome.as_ref().unwrap().body {
        MlsMessageBody::Welcome(w) => w.clone(),
        _ => panic!("not a welcome"),
    }
}

fn proof(tree: &RatchetTree, leaf: LeafIndex) -> MembershipProof {
    MembershipProof::for_leaf(tree, cs().as_ref(), leaf).unwrap()
}

/// A group of full members (`full`) and one partial member (`partial`), with the
/// committer's view of the tree to annotate from.
struct Mixed {
    full: Vec<Group>,
    partial: PartialMember,
    rng: SeededRng,
}

impl Mixed {
    /// Alice creates the group, adds Bob (full) and Carol (partial, from an
    /// AnnotatedWelcome the committer's tree annotates).
    fn new() -> Self {
        let mut rng = SeededRng::new(7);
        let alice = Group::create(
            MemberParams::new(env(), identity("alice", &mut rng)),
            NewGroup::new(SUITE, b"partial group".to_vec()),
            NOW,
            &mut rng,
        )
        .unwrap();
        let mut full = vec![alice];
        let (bob_signer, bob) = key_package("bob", &mut rng);
        let (carol_signer, carol) = key_package("carol", &mut rng);
        let options = CommitOptions {
            proposals: vec![
                Proposal::Add(Add {
                    key_package: bob.key_package.clone(),
                }),
                Proposal::Add(Add {
                    key_package: carol.key_package.clone(),
                }),
            ],
            ..CommitOptions::default()
        };
        let output = full[0].commit(&options, NOW, &mut rng).unwrap();
        full[0].merge_pending_commit().unwrap();
        let welcome = welcome_of(&output);
        let bob_group = Group::join(
            MemberParams::new(env(), bob_signer),
            &welcome,
            &bob,
            &JoinOptions {
                ratchet_tree: Some(full[0].tree().to_nodes()),
                ..JoinOptions::default()
            },
            NOW,
        )
        .unwrap();
        full.push(bob_group);
        let tree = full[0].tree();
        let carol_leaf = tree.find_leaf(&carol.key_package.leaf_node).unwrap();
        let annotated = AnnotatedWelcome {
            welcome: SenderAuthenticatedMessage {
                message: welcome,
                sender_membership_proof: proof(tree, full[0].own_leaf()),
            },
            joiner_membership_proof: proof(tree, carol_leaf),
        };
        let partial = PartialMember::join(
            provider().as_ref(),
            &annotated,
            &carol,
            carol_signer.secret_key.clone(),
            &PartialPsks::NONE,
            SecretTreeConfig::default(),
        )
        .unwrap();
        let mixed = Self { full, partial, rng };
        mixed.assert_agree();
        mixed
    }

    fn assert_agree(&self) {
        let alice = &self.full[0];
        for group in &self.full {
            assert_eq!(group.epoch_authenticator(), alice.epoch_authenticator());
        }
        assert_eq!(self.partial.epoch(), alice.epoch());
        assert_eq!(self.partial.context(), alice.context());
        assert_eq!(
            self.partial.epoch_authenticator(),
            alice.epoch_authenticator()
        );
        assert_eq!(
            self.partial.export_secret("test", b"ctx", 32).unwrap(),
            alice.export_secret("test", b"ctx", 32).unwrap()
        );
    }

    /// `committer` commits `options`; every full member processes the commit and the
    /// partial member gets it annotated. Returns the annotated commit (already applied).
    fn commit(&mut self, committer: usize, options: &CommitOptions) -> AnnotatedCommit {
        let before = self.full[committer].tree().clone();
        let sender = self.full[committer].own_leaf();
        let output = self.full[committer]
            .commit(options, NOW, &mut self.rng)
            .unwrap();
        self.full[committer].merge_pending_commit().unwrap();
        for (i, group) in self.full.iter_mut().enumerate() {
            if i != committer && group.status() == &crate::group::GroupStatus::Active {
                group.process_message(&output.commit, NOW).unwrap();
            }
        }
        let annotated = annotate(
            Some(&before),
            self.full[committer].tree(),
            sender,
            self.partial.own_leaf(),
            output.commit.clone(),
        );
        self.partial
            .process_annotated_commit(&annotated, &PartialPsks::NONE)
            .unwrap();
        annotated
    }
}

/// The AnnotatedCommit of `commit` for `receiver` (draft-ietf-mls-partial-02 §10), from the
/// committer's trees before and after.
fn annotate(
    before: Option<&RatchetTree>,
    after: &RatchetTree,
    sender: LeafIndex,
    receiver: LeafIndex,
    commit: MlsMessage,
) -> AnnotatedCommit {
    let has_path = match &commit.body {
        MlsMessageBody::PublicMessage(m) => {
            matches!(&m.content.content, Content::Commit(c) if c.path.is_some())
        }
        _ => true,
    };
    assert!(!has_path, "these tests annotate commits without a path");
    let resolution_index = None;
    AnnotatedCommit {
        commit,
        sender_membership_proof: before.map(|before| proof(before, sender)),
        tree_hash_after: after.clone().tree_hash(cs().as_ref()).unwrap(),
        resolution_index,
        sender_membership_proof_after: proof(after, sender),
        receiver_membership_proof_after: proof(after, receiver),
    }
}

fn add_options(name: &str, rng: &mut SeededRng) -> CommitOptions {
    let (_, bundle) = key_package(name, rng);
    CommitOptions {
        proposals: vec![Proposal::Add(Add {
            key_package: bundle.key_package,
        })],
        force_path: false,
        ..CommitOptions::default()
    }
}

#[test]
fn application_messages_flow_between_full_and_partial_members() {
    let mut mixed = Mixed::new();
    let options = add_options("dave", &mut mixed.rng);
    mixed.commit(1, &options);
    mixed.assert_agree();

    // Full (Bob) to partial: the DS (or Bob) adds Bob's membership proof.
    let message = mixed.full[1]
        .encrypt_application_message(b"to everyone", b"", &mut mixed.rng)
        .unwrap();
    let MlsMessageBody::PrivateMessage(private) = message.body.clone() else {
        panic!("not a PrivateMessage");
    };
    let wrapped = SenderAuthenticatedMessage {
        message: private,
        sender_membership_proof: proof(mixed.full[0].tree(), mixed.full[1].own_leaf()),
    };
    let received = mixed.partial.decrypt_application_message(&wrapped).unwrap();
    assert_eq!(received.data, b"to everyone");
    assert_eq!(received.sender, mixed.full[1].own_leaf());
    assert_eq!(
        received.sender_leaf.credential,
        Credential::Basic {
            identity: b"bob".to_vec()
        }
    );

    // Partial to full: the PrivateMessage is an ordinary one for full members.
    let sent = mixed
        .partial
        .encrypt_application_message(
            b"from carol",
            b"aad",
            PaddingPolicy::default(),
            &mut mixed.rng,
        )
        .unwrap();
    let message = MlsMessage::new(MlsMessageBody::PrivateMessage(sent));
    for group in &mut mixed.full {
        match group.process_message(&message, NOW).unwrap() {
            ProcessedMessage::Application { sender, data, .. } => {
                assert_eq!(sender, mixed.partial.own_leaf());
                assert_eq!(data, b"from carol");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn a_sender_proof_for_another_leaf_than_the_decrypted_sender_is_refused() {
    let mut mixed = Mixed::new();
    let message = mixed.full[1]
        .encrypt_application_message(b"hi", b"", &mut mixed.rng)
        .unwrap();
    let MlsMessageBody::PrivateMessage(private) = message.body else {
        panic!("not a PrivateMessage");
    };
    // Alice's proof, valid for the tree, on Bob's message.
    let wrapped = SenderAuthenticatedMessage {
        message: private,
        sender_membership_proof: proof(mixed.full[0].tree(), mixed.full[0].own_leaf()),
    };
    let before = mixed.partial.to_bytes().unwrap();
    let err = mixed
        .partial
        .decrypt_application_message(&wrapped)
        .unwrap_err();
    assert!(
        matches!(err, PartialMemberError::ProvenLeafMismatch { .. }),
        "{err}"
    );
    assert_eq!(mixed.partial.to_bytes().unwrap(), before);
}

/// Commits `options` at Alice and returns the AnnotatedCommit for the partial member
/// without applying it there (the full members move on).
fn annotated_only(mixed: &mut Mixed, options: &CommitOptions) -> (AnnotatedCommit, RatchetTree) {
    let before = mixed.full[0].tree().clone();
    let output = mixed.full[0].commit(options, NOW, &mut mixed.rng).unwrap();
    mixed.full[0].merge_pending_commit().unwrap();
    for group in mixed.full.iter_mut().skip(1) {
        group.process_message(&output.commit, NOW).unwrap();
    }
    let annotated = annotate(
        Some(&before),
        mixed.full[0].tree(),
        mixed.full[0].own_leaf(),
        mixed.partial.own_leaf(),
        output.commit,
    );
    (annotated, before)
}

fn assert_refused_unchanged(
    mixed: &mut Mixed,
    annotated: &AnnotatedCommit,
    check: impl Fn(&PartialMemberError) -> bool,
) {
    let before = mixed.partial.to_bytes().unwrap();
    let err = mixed
        .partial
        .process_annotated_commit(annotated, &PartialPsks::NONE)
        .unwrap_err();
    assert!(check(&err), "unexpected error: {err}");
    assert_eq!(mixed.partial.to_bytes().unwrap(), before);
}

#[test]
fn a_rejected_annotated_commit_leaves_the_partial_state_byte_identical() {
    let mut mixed = Mixed::new();
    let options = add_options("dave", &mut mixed.rng);
    let (good, before_tree) = annotated_only(&mut mixed, &options);

    // A pre-commit sender proof for another tree (the one after the commit).
    let mut wrong = good.clone();
    wrong.sender_membership_proof = Some(good.sender_membership_proof_after.clone());
    assert_refused_unchanged(&mut mixed, &wrong, |e| {
        matches!(e, PartialMemberError::WrongTreeHash { which: "sender" })
    });

    // tree_hash_after that disagrees with the post-commit proofs.
    let mut wrong = good.clone();
    wrong.tree_hash_after = mixed.partial.context().tree_hash.clone();
    assert_refused_unchanged(&mut mixed, &wrong, |e| {
        matches!(e, PartialMemberError::WrongTreeHash { .. })
    });

    // A receiver proof from the old tree: the post-commit proofs disagree on the tree.
    let mut wrong = good.clone();
    wrong.receiver_membership_proof_after = proof(&before_tree, mixed.partial.own_leaf());
    assert_refused_unchanged(&mut mixed, &wrong, |e| {
        matches!(
            e,
            PartialMemberError::WrongTreeHash { .. } | PartialMemberError::ProofsDisagree { .. }
        )
    });

    // A receiver proof for someone else's leaf.
    let mut wrong = good.clone();
    wrong.receiver_membership_proof_after = good.sender_membership_proof_after.clone();
    assert_refused_unchanged(&mut mixed, &wrong, |e| {
        matches!(e, PartialMemberError::ProvenLeafMismatch { .. })
    });

    // A resolution_index although the commit has no path.
    let mut wrong = good.clone();
    wrong.resolution_index = Some(0);
    assert_refused_unchanged(&mut mixed, &wrong, |e| {
        matches!(e, PartialMemberError::ResolutionIndexPresence)
    });

    // No pre-commit sender proof on a member commit.
    let mut wrong = good.clone();
    wrong.sender_membership_proof = None;
    assert_refused_unchanged(&mut mixed, &wrong, |e| {
        matches!(e, PartialMemberError::MissingSenderProof)
    });

    // The genuine one is accepted afterwards.
    mixed
        .partial
        .process_annotated_commit(&good, &PartialPsks::NONE)
        .unwrap();
    mixed.assert_agree();
}

#[test]
fn a_welcome_whose_group_info_signer_is_not_the_proven_sender_is_refused() {
    let mut rng = SeededRng::new(11);
    let mut alice = Group::create(
        MemberParams::new(env(), identity("alice", &mut rng)),
        NewGroup::new(SUITE, b"g".to_vec()),
        NOW,
        &mut rng,
    )
    .unwrap();
    let (_, bob) = key_package("bob", &mut rng);
    let (carol_signer, carol) = key_package("carol", &mut rng);
    let options = CommitOptions {
        proposals: vec![
            Proposal::Add(Add {
                key_package: bob.key_package.clone(),
            }),
            Proposal::Add(Add {
                key_package: carol.key_package.clone(),
            }),
        ],
        ..CommitOptions::default()
    };
    let output = alice.commit(&options, NOW, &mut rng).unwrap();
    alice.merge_pending_commit().unwrap();
    let tree = alice.tree();
    let carol_leaf = tree.find_leaf(&carol.key_package.leaf_node).unwrap();
    let bob_leaf = tree.find_leaf(&bob.key_package.leaf_node).unwrap();
    let annotated = |sender: LeafIndex, joiner: LeafIndex| AnnotatedWelcome {
        welcome: SenderAuthenticatedMessage {
            message: welcome_of(&output),
            sender_membership_proof: proof(tree, sender),
        },
        joiner_membership_proof: proof(tree, joiner),
    };
    let join = |welcome: &AnnotatedWelcome| {
        PartialMember::join(
            provider().as_ref(),
            welcome,
            &carol,
            carol_signer.secret_key.clone(),
            &PartialPsks::NONE,
            SecretTreeConfig::default(),
        )
    };
    // Bob's proof as the sender's: the GroupInfo's signer is Alice.
    let err = join(&annotated(bob_leaf, carol_leaf)).unwrap_err();
    assert!(
        matches!(
            err,
            PartialMemberError::GroupInfoSignerNotProvenSender { .. }
        ),
        "{err}"
    );
    // A joiner proof of Bob's leaf: not our KeyPackage's.
    let err = join(&annotated(alice.own_leaf(), bob_leaf)).unwrap_err();
    assert!(
        matches!(err, PartialMemberError::NotOurLeaf { .. }),
        "{err}"
    );
    // A sender proof from another tree (Alice alone, before the adds) fails the tree hash.
    let mut wrong = annotated(alice.own_leaf(), carol_leaf);
    let lone = RatchetTree::from_nodes(crate::messages::RatchetTreeNodes(vec![Some(
        crate::messages::Node::leaf(tree.leaf(alice.own_leaf()).unwrap().clone()),
    )]))
    .unwrap();
    wrong.welcome.sender_membership_proof = proof(&lone, alice.own_leaf());
    let err = join(&wrong).unwrap_err();
    assert!(
        matches!(
            err,
            PartialMemberError::WrongTreeHash { .. } | PartialMemberError::ProofsDisagree { .. }
        ),
        "{err}"
    );
    // The genuine one joins.
    let member = join(&annotated(alice.own_leaf(), carol_leaf)).unwrap();
    assert_eq!(member.epoch_authenticator(), alice.epoch_authenticator());
}

#[test]
fn a_partial_member_refuses_to_commit_propose_tree_changes_or_join_externally() {
    let mixed = Mixed::new();
    assert!(matches!(
        mixed.partial.commit(),
        Err(PartialMemberError::Refused { section: "9", .. })
    ));
    let remove = Proposal::Remove(Remove {
        removed: LeafIndex(0),
    });
    assert!(matches!(
        mixed.partial.propose_tree_change(&remove),
        Err(PartialMemberError::Refused { section: "4", .. })
    ));
    assert!(matches!(
        PartialMember::join_external(),
        Err(PartialMemberError::Refused { section: "9", .. })
    ));
}

#[test]
fn the_state_round_trips_through_its_encoding_and_keeps_working() {
    let mut mixed = Mixed::new();
    let bytes = mixed.partial.to_bytes().unwrap();
    let restored = PartialMember::from_bytes(&bytes, provider().as_ref()).unwrap();
    assert_eq!(restored.to_bytes().unwrap(), bytes);
    mixed.partial = restored;
    let options = add_options("dave", &mut mixed.rng);
    mixed.commit(1, &options);
    mixed.assert_agree();
    // No tree: the state stays small (a few hundred bytes plus one leaf node).
    assert!(mixed.partial.to_bytes().unwrap().len() < 2_000);
    // An unknown format version is refused.
    let mut bytes = mixed.partial.to_bytes().unwrap();
    bytes[1] ^= 0xff;
    assert!(matches!(
        PartialMember::from_bytes(&bytes, provider().as_ref()),
        Err(PartialMemberError::Storage(_))
    ));
}

#[test]
fn a_commit_removing_the_partial_member_ends_it() {
    let mut mixed = Mixed::new();
    let carol = mixed.partial.own_leaf();
    let options = CommitOptions {
        proposals: vec![Proposal::Remove(Remove { removed: carol })],
        ..CommitOptions::default()
    };
    let before = mixed.full[0].tree().clone();
    let output = mixed.full[0].commit(&options, NOW, &mut mixed.rng).unwrap();
    mixed.full[0].merge_pending_commit().unwrap();
    let after = mixed.full[0].tree();
    // The receiver proof cannot prove the removed leaf: the annotator sends the sender's.
    let annotated = AnnotatedCommit {
        commit: output.commit,
        sender_membership_proof: Some(proof(&before, LeafIndex(0))),
        tree_hash_after: after.clone().tree_hash(cs().as_ref()).unwrap(),
        resolution_index: None,
        sender_membership_proof_after: proof(after, LeafIndex(0)),
        receiver_membership_proof_after: proof(after, LeafIndex(0)),
    };
    let outcome = mixed
        .partial
        .process_annotated_commit(&annotated, &PartialPsks::NONE)
        .unwrap();
    assert_eq!(outcome, PartialCommitOutcome::Removed);
    assert!(!mixed.partial.is_active());
    assert!(matches!(
        mixed.partial.encrypt_application_message(
            b"x",
            b"",
            PaddingPolicy::default(),
            &mut mixed.rng
        ),
        Err(PartialMemberError::Inactive)
    ));
}
