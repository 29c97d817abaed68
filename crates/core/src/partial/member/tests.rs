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
use crate::messages::ExtensionPayload as _;
use crate::messages::{Add, Credential, PreSharedKeyId, Psk, Remove, Welcome};
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
        psks: Arc::new(RwLock::new(shared_psks())),
    }
}

/// The external PSK every member of these tests holds.
fn shared_psks() -> std::collections::HashMap<Vec<u8>, Secret> {
    std::collections::HashMap::from([(b"shared".to_vec(), Secret::new(vec![7; 32]))])
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
        KeyPackageBundle::generate(&member_params(signer.clone()), SUITE, NOW, rng).unwrap();
    (signer, bundle)
}

fn welcome_of(output: &CommitOutput) -> Welcome {
    match &output.welcome.as_ref().unwrap().body {
        MlsMessageBody::Welcome(w) => w.clone(),
        _ => panic!("not a welcome"),
    }
}

/// A member's parameters: the test environment and the [`Counter`] component.
fn member_params(signer: SigningIdentity) -> MemberParams {
    MemberParams {
        components: crate::group::Components::new(Counter),
        ..MemberParams::new(env(), signer)
    }
}

/// An application component (private-use ID) whose GroupContext data is a big-endian
/// counter that each AppDataUpdate increases by its one-byte update
/// (draft-ietf-mls-extensions-10 §4.7: the component computes the new data).
struct Counter;

const COUNTER: crate::messages::ComponentId = crate::messages::ComponentId(0xF0F0);

impl crate::group::ComponentHandler for Counter {
    fn supported_components(&self) -> Vec<crate::messages::ComponentId> {
        vec![COUNTER]
    }

    fn validate_ephemeral(
        &self,
        _call: &crate::group::ComponentCall<'_>,
        _data: &[u8],
    ) -> Result<(), crate::group::ComponentRejection> {
        Ok(())
    }

    fn apply_update(
        &self,
        _call: &crate::group::ComponentCall<'_>,
        current: Option<&[u8]>,
        update: &[u8],
    ) -> Result<Vec<u8>, crate::group::ComponentRejection> {
        let [step] = update else {
            return Err(crate::group::ComponentRejection::Invalid("one byte".into()));
        };
        let now = current
            .and_then(|c| <[u8; 8]>::try_from(c).ok())
            .map_or(0, u64::from_be_bytes);
        Ok((now + u64::from(*step)).to_be_bytes().to_vec())
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
        Self::with_group(|_| NewGroup::new(SUITE, b"partial group".to_vec()))
    }

    /// As [`Mixed::new`], for the group `group` describes (given the test's randomness).
    fn with_group(group: impl FnOnce(&mut SeededRng) -> NewGroup) -> Self {
        let mut rng = SeededRng::new(7);
        let new_group = group(&mut rng);
        let alice = Group::create(
            member_params(identity("alice", &mut rng)),
            new_group,
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
            member_params(bob_signer),
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
        let annotated = crate::partial::annotate_welcome(
            cs().as_ref(),
            tree,
            welcome,
            full[0].own_leaf(),
            carol_leaf,
        )
        .unwrap();
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
        let summary = self.full[committer].merge_pending_commit().unwrap();
        for (i, group) in self.full.iter_mut().enumerate() {
            if i != committer && group.status() == &crate::group::GroupStatus::Active {
                group.process_message(&output.commit, NOW).unwrap();
            }
        }
        let annotated = annotate(
            &before,
            self.full[committer].tree(),
            &output.commit,
            Facts {
                committer: sender,
                new_member_commit: false,
                has_path: has_path(options),
                new_leaves: &summary.added,
            },
            self.partial.own_leaf(),
        );
        self.partial
            .process_annotated_commit(&annotated, &PartialPsks::NONE)
            .unwrap();
        annotated
    }
}

/// What the annotator must know of a commit besides the trees.
struct Facts<'a> {
    committer: LeafIndex,
    new_member_commit: bool,
    has_path: bool,
    new_leaves: &'a [LeafIndex],
}

/// The AnnotatedCommit of `commit` for `receiver` (draft-ietf-mls-partial-02 §10), built by
/// the annotator of [`crate::partial`] from the committer's trees before and after.
fn annotate(
    before: &RatchetTree,
    after: &RatchetTree,
    commit: &MlsMessage,
    facts: Facts<'_>,
    receiver: LeafIndex,
) -> AnnotatedCommit {
    let cs = cs();
    crate::partial::CommitAnnotator::new(
        cs.as_ref(),
        before,
        after,
        crate::partial::CommitFacts {
            commit,
            committer: facts.committer,
            new_member_commit: facts.new_member_commit,
            has_path: facts.has_path,
            new_leaves: facts.new_leaves,
        },
    )
    .unwrap()
    .annotate_for(cs.as_ref(), receiver)
    .unwrap()
}

/// Whether a commit with `options` carries a path (RFC 9420 §12.4: forced, or required by
/// a Remove, Update or GroupContextExtensions).
fn has_path(options: &CommitOptions) -> bool {
    options.force_path
        || options.proposals.iter().any(|p| {
            matches!(
                p,
                Proposal::Remove(_) | Proposal::Update(_) | Proposal::GroupContextExtensions(_)
            )
        })
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
    let summary = mixed.full[0].merge_pending_commit().unwrap();
    for group in mixed.full.iter_mut().skip(1) {
        group.process_message(&output.commit, NOW).unwrap();
    }
    let annotated = annotate(
        &before,
        mixed.full[0].tree(),
        &output.commit,
        Facts {
            committer: mixed.full[0].own_leaf(),
            new_member_commit: false,
            has_path: has_path(options),
            new_leaves: &summary.added,
        },
        mixed.partial.own_leaf(),
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
    let options = CommitOptions {
        force_path: true,
        ..CommitOptions::default()
    };
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

    // No resolution_index although the commit has a path.
    let mut wrong = good.clone();
    wrong.resolution_index = None;
    assert_refused_unchanged(&mut mixed, &wrong, |e| {
        matches!(e, PartialMemberError::ResolutionIndexPresence)
    });

    // An out-of-range resolution_index, as the partial UpdatePath reports it.
    let mut wrong = good.clone();
    wrong.resolution_index = Some(1000);
    assert_refused_unchanged(&mut mixed, &wrong, |e| {
        matches!(e, PartialMemberError::Proof(_))
    });

    // An UpdatePath leaf that is not the proven committer's (sender proof after from the
    // old tree is refused as a wrong tree first; here the receiver's proof stands in).
    let mut wrong = good.clone();
    wrong.sender_membership_proof_after = good.receiver_membership_proof_after.clone();
    assert_refused_unchanged(&mut mixed, &wrong, |e| {
        matches!(e, PartialMemberError::ProvenLeafMismatch { .. })
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
    assert_eq!(
        err,
        PartialMemberError::GroupInfoSignerNotProvenSender {
            signer: alice.own_leaf().0,
            proven: bob_leaf.0,
        }
    );
    assert!(
        err.to_string().contains("draft-ietf-mls-partial-02 §8"),
        "{err}"
    );
    // A joiner proof of Bob's leaf: not our KeyPackage's.
    let err = join(&annotated(alice.own_leaf(), bob_leaf)).unwrap_err();
    assert!(
        matches!(err, PartialMemberError::NotOurLeaf { section: "8", .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("draft-ietf-mls-partial-02 §8"),
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

#[test]
fn psk_proposals_by_reference_and_by_value_take_effect_at_the_partial_member() {
    let mut mixed = Mixed::new();
    let external = PreSharedKeyId {
        psk: Psk::External {
            psk_id: b"shared".to_vec(),
        },
        psk_nonce: vec![1; 32],
    };
    let resumption = PreSharedKeyId {
        psk: Psk::Resumption {
            usage: crate::messages::ResumptionPskUsage::Application,
            psk_group_id: mixed.partial.group_id().to_vec(),
            psk_epoch: mixed.partial.epoch(),
        },
        psk_nonce: vec![2; 32],
    };
    // By reference: Bob's proposal reaches everyone, the partial member caches it.
    let proposal = mixed.full[1]
        .propose(
            Proposal::PreSharedKey(crate::messages::PreSharedKey { psk: external }),
            b"",
            &mut mixed.rng,
        )
        .unwrap();
    mixed.full[0].process_message(&proposal, NOW).unwrap();
    mixed.partial.receive_proposal(&proposal).unwrap();
    // Committed with a resumption PSK by value, without a path.
    let options = CommitOptions {
        proposals: vec![Proposal::PreSharedKey(crate::messages::PreSharedKey {
            psk: resumption,
        })],
        force_path: false,
        ..CommitOptions::default()
    };
    let store = RwLock::new(shared_psks());
    let before = mixed.full[0].tree().clone();
    let output = mixed.full[0].commit(&options, NOW, &mut mixed.rng).unwrap();
    let summary = mixed.full[0].merge_pending_commit().unwrap();
    mixed.full[1].process_message(&output.commit, NOW).unwrap();
    let annotated = annotate(
        &before,
        mixed.full[0].tree(),
        &output.commit,
        Facts {
            committer: mixed.full[0].own_leaf(),
            new_member_commit: false,
            has_path: false,
            new_leaves: &summary.added,
        },
        mixed.partial.own_leaf(),
    );
    // Without the external PSK the commit cannot be followed, and nothing changes.
    let state = mixed.partial.to_bytes().unwrap();
    let err = mixed
        .partial
        .process_annotated_commit(&annotated, &PartialPsks::NONE)
        .unwrap_err();
    assert_eq!(err, PartialMemberError::PskNotFound);
    assert_eq!(mixed.partial.to_bytes().unwrap(), state);
    mixed
        .partial
        .process_annotated_commit(
            &annotated,
            &PartialPsks {
                store: &store,
                linked: &[],
            },
        )
        .unwrap();
    mixed.assert_agree();
}

#[test]
fn a_partial_member_follows_adds_removes_and_path_updates_like_the_full_members() {
    let mut mixed = Mixed::new();
    // An add without a path, by Alice.
    let options = add_options("dave", &mut mixed.rng);
    mixed.commit(0, &options);
    mixed.assert_agree();
    // An empty commit with a path, by Bob (a new leaf key and path).
    let options = CommitOptions {
        force_path: true,
        ..CommitOptions::default()
    };
    mixed.commit(1, &options);
    mixed.assert_agree();
    // An add with a path, by Bob, as a PrivateMessage.
    mixed.full[1]
        .set_handshake_wire_format(WireFormat::PRIVATE_MESSAGE)
        .unwrap();
    let mut options = add_options("erin", &mut mixed.rng);
    options.force_path = true;
    mixed.commit(1, &options);
    mixed.assert_agree();
    // A GroupContextExtensions proposal: the partial member takes the new extensions into
    // its GroupContext.
    let server = identity("server", &mut mixed.rng);
    let mut extensions = mixed.full[0].context().extensions.clone();
    extensions.push(
        crate::messages::ExternalSenders(vec![crate::messages::ExternalSender {
            signature_key: server.public_key.clone(),
            credential: server.credential.clone(),
        }])
        .to_extension()
        .unwrap(),
    );
    let options = CommitOptions {
        proposals: vec![Proposal::GroupContextExtensions(
            crate::messages::GroupContextExtensions { extensions },
        )],
        ..CommitOptions::default()
    };
    mixed.commit(0, &options);
    mixed.assert_agree();
    assert!(
        mixed
            .partial
            .context()
            .extensions
            .iter()
            .any(|e| e.extension_type == crate::messages::ExtensionType::EXTERNAL_SENDERS)
    );
    // Bob's Update proposal (by reference, cached by the partial member), committed by
    // Alice with the path an Update requires.
    let update = mixed.full[1].propose_update(None, &mut mixed.rng).unwrap();
    mixed.full[0].process_message(&update, NOW).unwrap();
    mixed.partial.receive_proposal(&update).unwrap();
    let options = CommitOptions::default();
    mixed.commit(0, &options);
    mixed.assert_agree();
    // A remove (with its required path), by Alice, of Bob.
    let bob = mixed.full[1].own_leaf();
    let options = CommitOptions {
        proposals: vec![Proposal::Remove(Remove { removed: bob })],
        ..CommitOptions::default()
    };
    mixed.commit(0, &options);
    mixed.full.remove(1);
    mixed.assert_agree();
    // A path update after the remove, and another add.
    let options = CommitOptions {
        force_path: true,
        ..CommitOptions::default()
    };
    mixed.commit(0, &options);
    mixed.assert_agree();
    let options = add_options("frank", &mut mixed.rng);
    mixed.commit(0, &options);
    mixed.assert_agree();
    assert_eq!(mixed.partial.epoch(), 9);

    // Messages both ways in the last epoch.
    let message = mixed.full[0]
        .encrypt_application_message(b"after eight commits", b"", &mut mixed.rng)
        .unwrap();
    let MlsMessageBody::PrivateMessage(private) = message.body else {
        panic!("not a PrivateMessage");
    };
    let wrapped = SenderAuthenticatedMessage {
        message: private,
        sender_membership_proof: proof(mixed.full[0].tree(), mixed.full[0].own_leaf()),
    };
    let received = mixed.partial.decrypt_application_message(&wrapped).unwrap();
    assert_eq!(received.data, b"after eight commits");
    let sent = mixed
        .partial
        .encrypt_application_message(b"ack", b"", PaddingPolicy::default(), &mut mixed.rng)
        .unwrap();
    let sent = MlsMessage::new(MlsMessageBody::PrivateMessage(sent));
    match mixed.full[0].process_message(&sent, NOW).unwrap() {
        ProcessedMessage::Application { data, .. } => assert_eq!(data, b"ack"),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_new_member_commit_with_a_sender_proof_is_refused() {
    let mut mixed = Mixed::new();
    let options = CommitOptions {
        force_path: true,
        ..CommitOptions::default()
    };
    // The latest GroupInfo (with external_pub) comes with Alice's next commit.
    let before_commit = mixed.full[0].tree().clone();
    let output = mixed.full[0].commit(&options, NOW, &mut mixed.rng).unwrap();
    mixed.full[0].merge_pending_commit().unwrap();
    mixed.full[1].process_message(&output.commit, NOW).unwrap();
    let annotated = annotate(
        &before_commit,
        mixed.full[0].tree(),
        &output.commit,
        Facts {
            committer: mixed.full[0].own_leaf(),
            new_member_commit: false,
            has_path: true,
            new_leaves: &[],
        },
        mixed.partial.own_leaf(),
    );
    mixed
        .partial
        .process_annotated_commit(&annotated, &PartialPsks::NONE)
        .unwrap();
    let MlsMessageBody::GroupInfo(group_info) = output.group_info.body else {
        panic!("not a GroupInfo");
    };
    // Dave joins by external commit.
    let before = mixed.full[0].tree().clone();
    let (dave, output) = Group::join_external(
        MemberParams::new(env(), identity("dave", &mut mixed.rng)),
        &group_info,
        &JoinOptions::default(),
        NOW,
        &mut mixed.rng,
    )
    .unwrap();
    for group in &mut mixed.full {
        group.process_message(&output.commit, NOW).unwrap();
    }
    let mut annotated = annotate(
        &before,
        mixed.full[0].tree(),
        &output.commit,
        Facts {
            committer: dave.own_leaf(),
            new_member_commit: true,
            has_path: true,
            new_leaves: &[],
        },
        mixed.partial.own_leaf(),
    );
    assert!(annotated.sender_membership_proof.is_none());
    // Any pre-commit sender proof (here Alice's, valid for the old tree) must be absent.
    annotated.sender_membership_proof = Some(proof(&before, mixed.full[0].own_leaf()));
    assert_refused_unchanged(&mut mixed, &annotated, |e| {
        matches!(e, PartialMemberError::SenderProofOnNewMemberCommit)
    });
    // Without it, the external commit is processed by the new_member_commit rules.
    annotated.sender_membership_proof = None;
    mixed
        .partial
        .process_annotated_commit(&annotated, &PartialPsks::NONE)
        .unwrap();
    mixed.full.push(dave);
    mixed.assert_agree();
}

#[test]
fn an_authenticated_proposal_and_a_reinit_end_the_group_for_the_partial_member() {
    let mut mixed = Mixed::new();
    let reinit = ReInit {
        group_id: b"next".to_vec(),
        version: crate::messages::ProtocolVersion::MLS10,
        cipher_suite: SUITE,
        extensions: Vec::new(),
    };
    // Bob proposes the ReInit as a PublicMessage; the DS adds Bob's proof.
    let proposal = mixed.full[1]
        .propose(Proposal::ReInit(reinit.clone()), b"", &mut mixed.rng)
        .unwrap();
    mixed.full[0].process_message(&proposal, NOW).unwrap();
    let MlsMessageBody::PublicMessage(public) = proposal.body else {
        panic!("not a PublicMessage");
    };
    let tree = mixed.full[0].tree();
    // Alice's proof on Bob's proposal is refused, and nothing is cached.
    let forged = SenderAuthenticatedMessage {
        message: public.clone(),
        sender_membership_proof: proof(tree, mixed.full[0].own_leaf()),
    };
    let state = mixed.partial.to_bytes().unwrap();
    assert!(matches!(
        mixed.partial.receive_authenticated_proposal(&forged),
        Err(PartialMemberError::ProvenLeafMismatch { .. })
    ));
    assert_eq!(mixed.partial.to_bytes().unwrap(), state);
    let authenticated = SenderAuthenticatedMessage {
        message: public,
        sender_membership_proof: proof(tree, mixed.full[1].own_leaf()),
    };
    mixed
        .partial
        .receive_authenticated_proposal(&authenticated)
        .unwrap();
    // Alice commits it by reference (a ReInit commit has nothing else).
    let before = mixed.full[0].tree().clone();
    let options = CommitOptions {
        force_path: false,
        ..CommitOptions::default()
    };
    let output = mixed.full[0].commit(&options, NOW, &mut mixed.rng).unwrap();
    mixed.full[0].merge_pending_commit().unwrap();
    let annotated = annotate(
        &before,
        mixed.full[0].tree(),
        &output.commit,
        Facts {
            committer: mixed.full[0].own_leaf(),
            new_member_commit: false,
            has_path: false,
            new_leaves: &[],
        },
        mixed.partial.own_leaf(),
    );
    let outcome = mixed
        .partial
        .process_annotated_commit(&annotated, &PartialPsks::NONE)
        .unwrap();
    assert_eq!(outcome, PartialCommitOutcome::ReInitialized(reinit.clone()));
    assert_eq!(mixed.partial.reinit(), Some(&reinit));
    assert!(!mixed.partial.is_active());
    assert_eq!(
        mixed.partial.epoch_authenticator(),
        mixed.full[0].epoch_authenticator()
    );
    // The last epoch's resumption PSK is what the new group's Welcome will ask for.
    assert_eq!(
        mixed.partial.resumption_psk(mixed.partial.epoch()),
        mixed.full[0].resumption_psk(mixed.full[0].epoch())
    );
}

#[test]
fn our_own_message_is_wrapped_only_with_a_proof_of_our_leaf_for_the_current_tree() {
    let mut mixed = Mixed::new();
    let sent = mixed
        .partial
        .encrypt_application_message(b"hi", b"", PaddingPolicy::default(), &mut mixed.rng)
        .unwrap();
    let tree = mixed.full[0].tree();
    let bob = proof(tree, mixed.full[1].own_leaf());
    assert!(matches!(
        mixed.partial.sender_authenticated(sent.clone(), bob),
        Err(PartialMemberError::NotOurLeaf { .. })
    ));
    let ours = proof(tree, mixed.partial.own_leaf());
    let wrapped = mixed.partial.sender_authenticated(sent, ours).unwrap();
    assert_eq!(
        wrapped.sender_membership_proof.leaf_index,
        mixed.partial.own_leaf()
    );
}

/// A [`Mixed`] group whose full members send SemiPrivateMessage handshakes
/// (draft-mahy-mls-semiprivatemessage-07 §3: the group enables the wire format and names the
/// Delivery Service as its external receiver).
fn semi_private_mixed() -> Mixed {
    use crate::messages::{ExternalReceiver, HpkePublicKey};
    let mut mixed = Mixed::with_group(|rng| {
        let pair = conclave_crypto::hpke::generate_key_pair(cs().as_ref(), rng).unwrap();
        NewGroup::new(SUITE, b"semi-private partial group".to_vec())
            .with_external_receivers(vec![ExternalReceiver {
                external_receiver_public_key: HpkePublicKey(pair.public_key),
                credential: Credential::Basic {
                    identity: b"ds.example".to_vec(),
                },
            }])
            .unwrap()
    });
    for group in &mut mixed.full {
        group
            .set_handshake_wire_format(crate::codepoints::SEMI_PRIVATE_MESSAGE_WIRE_FORMAT)
            .unwrap();
    }
    mixed
}

#[test]
fn a_partial_member_follows_semi_private_handshakes() {
    use crate::codepoints::SEMI_PRIVATE_MESSAGE_WIRE_FORMAT;
    let mut mixed = semi_private_mixed();
    // A semi-private add without a path, and one with a path.
    let options = add_options("dave", &mut mixed.rng);
    let annotated = mixed.commit(0, &options);
    assert!(matches!(
        annotated.commit.body,
        MlsMessageBody::SemiPrivateMessage(_)
    ));
    mixed.assert_agree();
    let mut options = add_options("erin", &mut mixed.rng);
    options.force_path = true;
    mixed.commit(1, &options);
    mixed.assert_agree();
    // Bob's semi-private Update proposal, cached by reference and committed by Alice.
    let update = mixed.full[1].propose_update(None, &mut mixed.rng).unwrap();
    assert_eq!(update.wire_format(), SEMI_PRIVATE_MESSAGE_WIRE_FORMAT);
    mixed.full[0].process_message(&update, NOW).unwrap();
    mixed.partial.receive_proposal(&update).unwrap();
    mixed.commit(0, &CommitOptions::default());
    mixed.assert_agree();
    // A semi-private commit whose ciphertext was altered is refused, the state unchanged.
    let options = CommitOptions {
        force_path: true,
        ..CommitOptions::default()
    };
    let (mut annotated, _) = annotated_only(&mut mixed, &options);
    let MlsMessageBody::SemiPrivateMessage(semi) = &mut annotated.commit.body else {
        panic!("not a SemiPrivateMessage");
    };
    if let Some(byte) = semi.ciphertext.last_mut() {
        *byte ^= 1;
    }
    assert_refused_unchanged(&mut mixed, &annotated, |e| {
        matches!(e, PartialMemberError::Framing(_))
    });
}

#[test]
fn a_semi_private_commit_is_refused_where_the_group_has_not_enabled_it() {
    use crate::codepoints::SEMI_PRIVATE_MESSAGE_WIRE_FORMAT;
    let mut mixed = Mixed::new();
    let options = CommitOptions {
        force_path: true,
        ..CommitOptions::default()
    };
    let (mut annotated, _) = annotated_only(&mut mixed, &options);
    // Re-label the PrivateMessage-shaped commit: the partial member must refuse the wire
    // format before it decrypts anything, since its group never enabled it.
    let MlsMessageBody::PublicMessage(public) = &annotated.commit.body else {
        panic!("not a PublicMessage");
    };
    let semi = crate::messages::SemiPrivateMessage {
        group_id: public.content.group_id.clone(),
        epoch: public.content.epoch,
        content_type: ContentType::Commit,
        authenticated_data: Vec::new(),
        partial_context_hash: vec![0; 32],
        keys_for_external_receivers: Vec::new(),
        framed_content_tbs_hash: vec![0; 32],
        encrypted_sender_data: vec![0; 40],
        ciphertext: vec![0; 64],
    };
    annotated.commit = MlsMessage::new(MlsMessageBody::SemiPrivateMessage(semi));
    assert_eq!(
        annotated.commit.wire_format(),
        SEMI_PRIVATE_MESSAGE_WIRE_FORMAT
    );
    assert_refused_unchanged(
        &mut mixed,
        &annotated,
        |e| matches!(e, PartialMemberError::Group(g) if **g == GroupError::SemiPrivateNotEnabled),
    );
}

#[test]
fn app_data_updates_change_the_partial_members_group_context_like_the_full_members() {
    use crate::messages::{AppDataUpdate, AppDataUpdateOperation, AppEphemeral};
    let mut mixed = Mixed::new();
    mixed
        .partial
        .set_component_handler(crate::group::Components::new(Counter));
    let update = |step: u8| AppDataUpdate {
        component_id: COUNTER,
        op: AppDataUpdateOperation::Update(vec![step]),
    };
    // By value, two updates of one component in one commit, with an AppEphemeral.
    let options = CommitOptions {
        proposals: vec![
            mixed.full[0].app_data_update_proposal(update(2)),
            mixed.full[0].app_ephemeral_proposal(AppEphemeral {
                component_id: COUNTER,
                data: b"tick".to_vec(),
            }),
            mixed.full[0].app_data_update_proposal(update(3)),
        ],
        ..CommitOptions::default()
    };
    mixed.commit(0, &options);
    mixed.assert_agree();
    assert_eq!(
        mixed.full[0].app_data(COUNTER).unwrap(),
        Some(5u64.to_be_bytes().to_vec())
    );
    // By reference, from Bob.
    let proposal = mixed.full[1]
        .propose_app_data_update(update(4), &mut mixed.rng)
        .unwrap();
    mixed.full[0].process_message(&proposal, NOW).unwrap();
    mixed.partial.receive_proposal(&proposal).unwrap();
    mixed.commit(0, &CommitOptions::default());
    mixed.assert_agree();
    assert_eq!(
        mixed.full[1].app_data(COUNTER).unwrap(),
        Some(9u64.to_be_bytes().to_vec())
    );
    // A remove.
    let options = CommitOptions {
        proposals: vec![mixed.full[0].app_data_update_proposal(AppDataUpdate {
            component_id: COUNTER,
            op: AppDataUpdateOperation::Remove,
        })],
        ..CommitOptions::default()
    };
    mixed.commit(0, &options);
    mixed.assert_agree();
    assert_eq!(mixed.full[0].app_data(COUNTER).unwrap(), None);
}

#[test]
fn a_partial_member_without_the_component_refuses_its_update_unchanged() {
    use crate::messages::{AppDataUpdate, AppDataUpdateOperation};
    let mut mixed = Mixed::new();
    let options = CommitOptions {
        proposals: vec![mixed.full[0].app_data_update_proposal(AppDataUpdate {
            component_id: COUNTER,
            op: AppDataUpdateOperation::Update(vec![1]),
        })],
        ..CommitOptions::default()
    };
    let (annotated, _) = annotated_only(&mut mixed, &options);
    assert_refused_unchanged(
        &mut mixed,
        &annotated,
        |e| matches!(e, PartialMemberError::Group(g) if matches!(**g, GroupError::AppData(_))),
    );
    // With the component it follows the same commit.
    mixed
        .partial
        .set_component_handler(crate::group::Components::new(Counter));
    mixed
        .partial
        .process_annotated_commit(&annotated, &PartialPsks::NONE)
        .unwrap();
    mixed.assert_agree();
}

/// `group`'s application message `data`, wrapped with its sender's proof in `group`'s tree.
fn authenticated_message(
    group: &mut Group,
    data: &[u8],
    rng: &mut SeededRng,
) -> SenderAuthenticatedMessage<PrivateMessage> {
    let message = group.encrypt_application_message(data, b"", rng).unwrap();
    let MlsMessageBody::PrivateMessage(private) = message.body else {
        panic!("not a PrivateMessage");
    };
    SenderAuthenticatedMessage {
        message: private,
        sender_membership_proof: proof(group.tree(), group.own_leaf()),
    }
}

#[test]
fn late_application_messages_of_past_epochs_are_read_within_the_window() {
    let mut mixed = Mixed::new();
    // Bob sends in epoch 1, 2, 3 and 4; each message arrives after the next commit.
    let mut late = Vec::new();
    for round in 0..4u8 {
        let mut bob = mixed.full.remove(1);
        late.push(authenticated_message(&mut bob, &[round], &mut mixed.rng));
        mixed.full.insert(1, bob);
        mixed.commit(
            0,
            &CommitOptions {
                force_path: true,
                ..CommitOptions::default()
            },
        );
    }
    assert_eq!(mixed.partial.epoch(), 5);
    // The state keeps the past epochs across its encoding.
    let provider = provider();
    mixed.partial =
        PartialMember::from_bytes(&mixed.partial.to_bytes().unwrap(), provider.as_ref()).unwrap();
    // Epoch 1 fell out of the window of three past epochs.
    let before = mixed.partial.to_bytes().unwrap();
    assert!(matches!(
        mixed.partial.decrypt_application_message(&late[0]),
        Err(PartialMemberError::WrongEpoch { got: 1, current: 5 })
    ));
    assert_eq!(mixed.partial.to_bytes().unwrap(), before);
    for (round, message) in (0u8..).zip(&late).skip(1) {
        let received = mixed.partial.decrypt_application_message(message).unwrap();
        assert_eq!(received.data, [round]);
        assert_eq!(received.epoch, u64::from(round) + 1);
    }
    // A replay finds its generation consumed.
    let before = mixed.partial.to_bytes().unwrap();
    assert!(mixed.partial.decrypt_application_message(&late[3]).is_err());
    assert_eq!(mixed.partial.to_bytes().unwrap(), before);
    // A past-epoch message with a proof for the tree of the epoch after it is refused,
    // unchanged; with its own epoch's proof it is read.
    let mut bob = mixed.full.remove(1);
    let sent_in_5 = authenticated_message(&mut bob, b"five", &mut mixed.rng);
    mixed.full.insert(1, bob);
    mixed.commit(
        0,
        &CommitOptions {
            force_path: true,
            ..CommitOptions::default()
        },
    );
    let mut mismatched = sent_in_5.clone();
    mismatched.sender_membership_proof = proof(mixed.full[1].tree(), mixed.full[1].own_leaf());
    let before = mixed.partial.to_bytes().unwrap();
    let err = mixed
        .partial
        .decrypt_application_message(&mismatched)
        .unwrap_err();
    assert!(
        matches!(err, PartialMemberError::WrongTreeHash { which: "sender" }),
        "{err:?}"
    );
    assert_eq!(mixed.partial.to_bytes().unwrap(), before);
    assert_eq!(
        mixed
            .partial
            .decrypt_application_message(&sent_in_5)
            .unwrap()
            .data,
        b"five"
    );
}

#[test]
fn a_partial_member_sends_and_follows_in_a_group_with_member_proofs() {
    // draft-mahy-mls-member-proof-00: every message carries a proof under the epoch's key.
    let mut mixed = Mixed::with_group(|_| {
        NewGroup::new(SUITE, b"member-proof partial group".to_vec())
            .with_member_proofs()
            .unwrap()
    });
    assert!(mixed.full[0].member_proofs_enabled().unwrap());
    let key_at_join = mixed.full[0].member_proof_public_key().cloned();
    assert!(key_at_join.is_some());
    // A full member's message reaches the partial member, and the partial member's
    // message is accepted by the full members, whose check of its proof it passes.
    let mut bob = mixed.full.remove(1);
    let message = authenticated_message(&mut bob, b"with proof", &mut mixed.rng);
    mixed.full.insert(1, bob);
    assert_eq!(
        mixed
            .partial
            .decrypt_application_message(&message)
            .unwrap()
            .data,
        b"with proof"
    );
    let sent = mixed
        .partial
        .encrypt_application_message(b"mine", b"", PaddingPolicy::default(), &mut mixed.rng)
        .unwrap();
    let sent = MlsMessage::new(MlsMessageBody::PrivateMessage(sent));
    for group in &mut mixed.full {
        match group.process_message(&sent, NOW).unwrap() {
            ProcessedMessage::Application { data, .. } => assert_eq!(data, b"mine"),
            other => panic!("unexpected {other:?}"),
        }
    }
    // Commits move the member-proof key on; the partial member derives the same one and
    // checks the key each commit announces, across its encoding.
    for round in 0..2 {
        let options = if round == 0 {
            add_options("dave", &mut mixed.rng)
        } else {
            CommitOptions {
                force_path: true,
                ..CommitOptions::default()
            }
        };
        mixed.commit(0, &options);
        mixed.assert_agree();
        let provider = provider();
        mixed.partial =
            PartialMember::from_bytes(&mixed.partial.to_bytes().unwrap(), provider.as_ref())
                .unwrap();
        let sent = mixed
            .partial
            .encrypt_application_message(b"again", b"", PaddingPolicy::default(), &mut mixed.rng)
            .unwrap();
        let sent = MlsMessage::new(MlsMessageBody::PrivateMessage(sent));
        assert!(matches!(
            mixed.full[1].process_message(&sent, NOW).unwrap(),
            ProcessedMessage::Application { .. }
        ));
    }
    assert_ne!(
        mixed.full[0].member_proof_public_key().cloned(),
        key_at_join
    );
}

/// Issue 15, "Bad input": a membership proof of an earlier epoch's tree, on an application
/// message and on a commit, is refused with the draft's section and changes nothing.
#[test]
fn a_proof_of_another_epochs_tree_is_refused_and_leaves_the_state_byte_identical() {
    let mut mixed = Mixed::new();
    let bob = mixed.full[1].own_leaf();
    let alice = mixed.full[0].own_leaf();
    // Proofs of this epoch's tree, kept for later.
    let old_bob = proof(mixed.full[1].tree(), bob);
    let old_alice = proof(mixed.full[0].tree(), alice);
    // The next epoch: Alice's path changes the tree hash.
    let old_hash = mixed.partial.context().tree_hash.clone();
    mixed.commit(
        0,
        &CommitOptions {
            force_path: true,
            ..CommitOptions::default()
        },
    );
    assert_ne!(mixed.partial.context().tree_hash, old_hash);

    // An application message of this epoch with Bob's proof of the last epoch's tree.
    let message = mixed.full[1]
        .encrypt_application_message(b"hi", b"", &mut mixed.rng)
        .unwrap();
    let MlsMessageBody::PrivateMessage(private) = message.body else {
        panic!("not a PrivateMessage");
    };
    let stale = SenderAuthenticatedMessage {
        message: private.clone(),
        sender_membership_proof: old_bob,
    };
    let before = mixed.partial.to_bytes().unwrap();
    let err = mixed
        .partial
        .decrypt_application_message(&stale)
        .unwrap_err();
    assert_eq!(err, PartialMemberError::WrongTreeHash { which: "sender" });
    assert!(
        err.to_string().contains("draft-ietf-mls-partial-02 §6"),
        "{err}"
    );
    assert_eq!(mixed.partial.to_bytes().unwrap(), before);
    // The refusal consumed no key: with the current proof the same message decrypts.
    let fresh = SenderAuthenticatedMessage {
        message: private,
        sender_membership_proof: proof(mixed.full[1].tree(), bob),
    };
    let got = mixed.partial.decrypt_application_message(&fresh).unwrap();
    assert_eq!(got.data, b"hi");
    assert_eq!(got.sender, bob);

    // A commit whose pre-commit sender proof is of the last epoch's tree.
    let options = CommitOptions {
        force_path: true,
        ..CommitOptions::default()
    };
    let (good, _) = annotated_only(&mut mixed, &options);
    let mut stale = good.clone();
    stale.sender_membership_proof = Some(old_alice);
    assert_refused_unchanged(&mut mixed, &stale, |e| {
        *e == PartialMemberError::WrongTreeHash { which: "sender" }
            && e.to_string().contains("draft-ietf-mls-partial-02 §6")
    });
    mixed
        .partial
        .process_annotated_commit(&good, &PartialPsks::NONE)
        .unwrap();
    mixed.assert_agree();
}

/// Issue 15, "Bad input": an out-of-range `resolution_index` is the typed §10 error (not a
/// panic, not a decryption failure), and the state stays byte-identical.
#[test]
fn an_out_of_range_resolution_index_is_the_typed_section_10_error() {
    let mut mixed = Mixed::new();
    let options = CommitOptions {
        force_path: true,
        ..CommitOptions::default()
    };
    let (good, _) = annotated_only(&mut mixed, &options);
    for index in [2, 1000, u32::MAX] {
        let mut wrong = good.clone();
        wrong.resolution_index = Some(index);
        assert_refused_unchanged(&mut mixed, &wrong, |e| {
            matches!(
                e,
                PartialMemberError::Proof(PartialError::ResolutionIndexOutOfRange { index: i, .. })
                    if *i == index
            ) && e.to_string().contains("draft-ietf-mls-partial-02 §10")
        });
    }
    mixed
        .partial
        .process_annotated_commit(&good, &PartialPsks::NONE)
        .unwrap();
    mixed.assert_agree();
}

/// Issue 15, "Bad input": annotations built from a forged tree after the commit (one
/// member's leaf blanked), so that `tree_hash_after` and both post-commit proofs agree with
/// each other but not with the committer's tree. §10: "the tree hash is authenticated by
/// the confirmation_tag" — with a path the provisional GroupContext already fails the HPKE
/// decryption; without one the confirmation tag fails. Nothing changes either way.
#[test]
fn a_self_consistent_forged_tree_hash_after_is_caught_and_changes_nothing() {
    let mut mixed = Mixed::new();
    let bob = mixed.full[1].own_leaf();
    for with_path in [true, false] {
        let options = if with_path {
            CommitOptions {
                force_path: true,
                ..CommitOptions::default()
            }
        } else {
            add_options(&format!("joiner-{with_path}"), &mut mixed.rng)
        };
        let before = mixed.full[0].tree().clone();
        let output = mixed.full[0].commit(&options, NOW, &mut mixed.rng).unwrap();
        let summary = mixed.full[0].merge_pending_commit().unwrap();
        for group in mixed.full.iter_mut().skip(1) {
            group.process_message(&output.commit, NOW).unwrap();
        }
        let mut forged_after = mixed.full[0].tree().clone();
        forged_after.set_leaf(bob, None).unwrap();
        let facts = || Facts {
            committer: mixed.full[0].own_leaf(),
            new_member_commit: false,
            has_path: with_path,
            new_leaves: &summary.added,
        };
        let receiver = mixed.partial.own_leaf();
        let forged = annotate(&before, &forged_after, &output.commit, facts(), receiver);
        let good = annotate(
            &before,
            mixed.full[0].tree(),
            &output.commit,
            facts(),
            receiver,
        );
        assert_ne!(forged.tree_hash_after, good.tree_hash_after);
        // The forged annotations are consistent among themselves.
        forged
            .sender_membership_proof_after
            .verify(cs().as_ref(), &forged.tree_hash_after)
            .unwrap();
        forged
            .receiver_membership_proof_after
            .verify(cs().as_ref(), &forged.tree_hash_after)
            .unwrap();
        if with_path {
            assert_refused_unchanged(&mut mixed, &forged, |e| {
                matches!(e, PartialMemberError::Proof(PartialError::Crypto(_)))
            });
        } else {
            assert_refused_unchanged(&mut mixed, &forged, |e| {
                *e == PartialMemberError::ConfirmationTag
                    && e.to_string().contains("draft-ietf-mls-partial-02 §10")
            });
        }
        mixed
            .partial
            .process_annotated_commit(&good, &PartialPsks::NONE)
            .unwrap();
        mixed.assert_agree();
    }
}

/// A member the commit removes: the annotator refuses it an AnnotatedCommit (§10's
/// post-commit receiver proof cannot exist) and builds the removal notice instead, which the
/// partial member processes into `Removed`; a notice for a member still in the group is
/// refused, and a removal notice cannot end a member the commit does not remove.
#[test]
fn the_annotator_gives_a_removed_partial_member_a_removal_notice() {
    let mut mixed = Mixed::new();
    let carol = mixed.partial.own_leaf();
    let bob = mixed.full[1].own_leaf();
    let cs = cs();
    // Alice removes Bob in a commit she then forgets (restored from her state before): a
    // removal notice for Carol is refused, and Bob's does not end Carol.
    let saved = mixed.full[0].to_bytes().unwrap();
    let before = mixed.full[0].tree().clone();
    let options = CommitOptions {
        proposals: vec![Proposal::Remove(Remove { removed: bob })],
        ..CommitOptions::default()
    };
    let commit = mixed.full[0]
        .commit(&options, NOW, &mut mixed.rng)
        .unwrap()
        .commit;
    mixed.full[0].merge_pending_commit().unwrap();
    let after = mixed.full[0].tree().clone();
    mixed.full[0] = Group::from_bytes(env(), &saved).unwrap();
    let facts = crate::partial::CommitFacts {
        commit: &commit,
        committer: LeafIndex(0),
        new_member_commit: false,
        has_path: true,
        new_leaves: &[],
    };
    let annotator =
        crate::partial::CommitAnnotator::new(cs.as_ref(), &before, &after, facts).unwrap();
    assert!(annotator.removes(bob));
    assert!(!annotator.removes(carol));
    assert_eq!(
        annotator.annotate_removal_for(carol),
        Err(PartialError::NotRemoved(carol))
    );
    assert_eq!(
        annotator.annotate_for(cs.as_ref(), bob),
        Err(PartialError::ReceiverRemoved(bob))
    );
    let bobs_notice = annotator.annotate_removal_for(bob).unwrap();
    let err = PartialError::ReceiverRemoved(bob).to_string();
    assert!(err.contains("draft-ietf-mls-partial-02 §10"), "{err}");
    // Bob's notice lacks Carol's post-commit proof: Carol refuses it and stays unchanged.
    assert_refused_unchanged(&mut mixed, &bobs_notice, |e| {
        matches!(e, PartialMemberError::ProvenLeafMismatch { .. })
    });

    // Alice removes Carol: the notice ends her.
    let before = mixed.full[0].tree().clone();
    let options = CommitOptions {
        proposals: vec![Proposal::Remove(Remove { removed: carol })],
        ..CommitOptions::default()
    };
    let output = mixed.full[0].commit(&options, NOW, &mut mixed.rng).unwrap();
    let summary = mixed.full[0].merge_pending_commit().unwrap();
    let annotator = crate::partial::CommitAnnotator::new(
        cs.as_ref(),
        &before,
        mixed.full[0].tree(),
        crate::partial::CommitFacts {
            commit: &output.commit,
            committer: mixed.full[0].own_leaf(),
            new_member_commit: false,
            has_path: true,
            new_leaves: &summary.added,
        },
    )
    .unwrap();
    assert_eq!(
        annotator.annotate_for(cs.as_ref(), carol),
        Err(PartialError::ReceiverRemoved(carol))
    );
    let notice = annotator.annotate_removal_for(carol).unwrap();
    // Well-formed per §10: the presence rules hold and the two post-commit proofs reference
    // the tree whose hash it carries.
    assert_eq!(notice.resolution_index, Some(0));
    notice
        .receiver_membership_proof_after
        .verify(cs.as_ref(), &notice.tree_hash_after)
        .unwrap();
    let outcome = mixed
        .partial
        .process_annotated_commit(&notice, &PartialPsks::NONE)
        .unwrap();
    assert_eq!(outcome, PartialCommitOutcome::Removed);
    assert!(!mixed.partial.is_active());
}

/// The partial member asks to leave with a Remove proposal of its own leaf in `wire_format`;
/// the full members verify and cache it, Alice commits it, and the commit ends the partial
/// member.
fn partial_member_leaves(mut mixed: Mixed, wire_format: WireFormat) {
    let carol = mixed.partial.own_leaf();
    let proposal = mixed
        .partial
        .propose_own_removal(wire_format, b"", PaddingPolicy::default(), &mut mixed.rng)
        .unwrap();
    assert_eq!(proposal.wire_format(), wire_format);
    for group in &mut mixed.full {
        match group.process_message(&proposal, NOW).unwrap() {
            ProcessedMessage::Proposal {
                sender, proposal, ..
            } => {
                assert_eq!(sender, Sender::Member(carol));
                assert_eq!(*proposal, Proposal::Remove(Remove { removed: carol }));
            }
            other => panic!("not a proposal: {other:?}"),
        }
    }
    let before = mixed.full[0].tree().clone();
    let output = mixed.full[0]
        .commit(&CommitOptions::default(), NOW, &mut mixed.rng)
        .unwrap();
    mixed.full[0].merge_pending_commit().unwrap();
    mixed.full[1].process_message(&output.commit, NOW).unwrap();
    assert!(mixed.full[0].tree().leaf(carol).is_none());
    assert_eq!(
        mixed.full[1].epoch_authenticator(),
        mixed.full[0].epoch_authenticator()
    );
    let after = mixed.full[0].tree();
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
}

#[test]
fn a_partial_member_leaves_with_a_public_remove_proposal_of_its_own_leaf() {
    partial_member_leaves(Mixed::new(), WireFormat::PUBLIC_MESSAGE);
}

#[test]
fn a_partial_member_leaves_with_a_private_remove_proposal_of_its_own_leaf() {
    partial_member_leaves(Mixed::new(), WireFormat::PRIVATE_MESSAGE);
}

#[test]
fn a_partial_member_leaves_with_a_semi_private_remove_proposal_of_its_own_leaf() {
    partial_member_leaves(
        semi_private_mixed(),
        crate::codepoints::SEMI_PRIVATE_MESSAGE_WIRE_FORMAT,
    );
}

#[test]
fn a_semi_private_removal_proposal_is_refused_where_the_group_has_not_enabled_it() {
    let mut mixed = Mixed::new();
    let before = mixed.partial.to_bytes().unwrap();
    let refused = mixed.partial.propose_own_removal(
        crate::codepoints::SEMI_PRIVATE_MESSAGE_WIRE_FORMAT,
        b"",
        PaddingPolicy::default(),
        &mut mixed.rng,
    );
    assert!(
        matches!(
            &refused,
            Err(PartialMemberError::Group(e)) if matches!(**e, GroupError::SemiPrivateNotEnabled)
        ),
        "{refused:?}"
    );
    assert_eq!(mixed.partial.to_bytes().unwrap(), before);
}
// ---- split commits (Conclave's AnnotatedSplitCommit) -----------------------------------

use crate::partial::AnnotatedSplitCommit;

/// A mixed group that enabled split commits (draft-mularczyk-mls-splitcommit-00, opt-in by
/// `required_wire_formats`), grown by `extra` members added without a path (unmerged leaves
/// and blank parents; they never join, their leaves just sit in the tree).
fn split_mixed(extra: usize) -> Mixed {
    let mut mixed = Mixed::with_group(|_| {
        NewGroup::new(SUITE, b"split partial group".to_vec()).with_required_wire_formats(vec![
            crate::codepoints::SCOMMIT_WIRE_FORMAT,
            crate::codepoints::PER_MEMBER_COMMIT_WIRE_FORMAT,
        ])
    });
    for i in 0..extra {
        let options = add_options(&format!("extra-{i}"), &mut mixed.rng);
        mixed.commit(i % 2, &options);
    }
    mixed.assert_agree();
    mixed
}

/// `committer` sends a split commit of `options`; the full members process the SCommit,
/// and the AnnotatedSplitCommit for the partial member is returned, not yet applied.
fn split_annotated(
    mixed: &mut Mixed,
    committer: usize,
    options: &CommitOptions,
) -> AnnotatedSplitCommit {
    let cs = cs();
    let before = mixed.full[committer].tree().clone();
    let output = mixed.full[committer]
        .split_commit(options, NOW, &mut mixed.rng)
        .unwrap();
    let summary = mixed.full[committer].merge_pending_commit().unwrap();
    for (i, group) in mixed.full.iter_mut().enumerate() {
        if i != committer {
            group.process_scommit(&output.scommit, NOW).unwrap();
        }
    }
    crate::partial::CommitAnnotator::for_split(
        cs.as_ref(),
        &before,
        mixed.full[committer].tree(),
        &output.scommit,
        &summary.added,
    )
    .unwrap()
    .annotate_split_for(cs.as_ref(), mixed.partial.own_leaf())
    .unwrap()
}

fn assert_split_refused_unchanged(
    mixed: &mut Mixed,
    annotated: &AnnotatedSplitCommit,
    check: impl Fn(&PartialMemberError) -> bool,
) {
    let before = mixed.partial.to_bytes().unwrap();
    let err = mixed
        .partial
        .process_annotated_split_commit(annotated, &PartialPsks::NONE)
        .unwrap_err();
    assert!(check(&err), "unexpected error: {err}");
    assert_eq!(mixed.partial.to_bytes().unwrap(), before);
}

fn split_error(err: &PartialMemberError) -> Option<&crate::split::SplitCommitError> {
    match err {
        PartialMemberError::Group(group) => match group.as_ref() {
            GroupError::SplitCommit(split) => Some(split),
            _ => None,
        },
        _ => None,
    }
}

#[test]
fn a_partial_member_follows_split_commits_like_the_full_members() {
    let mut mixed = split_mixed(5);
    let path = CommitOptions::default();
    for committer in [0, 1, 0] {
        let annotated = split_annotated(&mut mixed, committer, &path);
        // The receiver's ciphertext and the committer's path keys only.
        let partial_path = annotated.commit.partial_path.as_ref().unwrap();
        assert!(!partial_path.new_pks.is_empty());
        let encoded = annotated.to_bytes().unwrap();
        let decoded = AnnotatedSplitCommit::from_bytes(&encoded).unwrap();
        let outcome = mixed
            .partial
            .process_annotated_split_commit(&decoded, &PartialPsks::NONE)
            .unwrap();
        assert!(matches!(outcome, PartialCommitOutcome::Advanced { .. }));
        mixed.assert_agree();
    }
    // Without a path (an Add alone), and with an Add and a Remove (a path).
    let options = add_options("late", &mut mixed.rng);
    let annotated = split_annotated(&mut mixed, 1, &options);
    assert!(annotated.commit.partial_path.is_none());
    mixed
        .partial
        .process_annotated_split_commit(&annotated, &PartialPsks::NONE)
        .unwrap();
    mixed.assert_agree();
    let (_, bundle) = key_package("another", &mut mixed.rng);
    let removed = mixed.full[0]
        .members()
        .map(|(leaf, _)| leaf)
        .find(|leaf| {
            ![
                mixed.full[0].own_leaf(),
                mixed.full[1].own_leaf(),
                mixed.partial.own_leaf(),
            ]
            .contains(leaf)
        })
        .unwrap();
    let options = CommitOptions {
        proposals: vec![
            Proposal::Add(Add {
                key_package: bundle.key_package,
            }),
            Proposal::Remove(Remove { removed }),
        ],
        ..CommitOptions::default()
    };
    let annotated = split_annotated(&mut mixed, 0, &options);
    mixed
        .partial
        .process_annotated_split_commit(&annotated, &PartialPsks::NONE)
        .unwrap();
    mixed.assert_agree();
    // A regular AnnotatedCommit after the split ones: the transcripts agree.
    mixed.commit(1, &CommitOptions::default());
    mixed.assert_agree();
}

#[test]
fn bad_annotated_split_commits_are_refused_and_change_nothing() {
    let mut mixed = split_mixed(3);
    let good = split_annotated(&mut mixed, 0, &CommitOptions::default());
    let cs = cs();

    // The one ciphertext altered.
    let mut bad = good.clone();
    let partial_path = bad.commit.partial_path.as_mut().unwrap();
    partial_path.encrypted_path_secret.ciphertext[0] ^= 1;
    assert_split_refused_unchanged(&mut mixed, &bad, |e| {
        matches!(e, PartialMemberError::Proof(PartialError::Crypto(_)))
    });

    // A path key altered: the committer's proof after shows the true one.
    let mut bad = good.clone();
    let partial_path = bad.commit.partial_path.as_mut().unwrap();
    let other = conclave_crypto::hpke::generate_key_pair(cs.as_ref(), &mut mixed.rng).unwrap();
    partial_path.new_pks[0] = crate::messages::HpkePublicKey(other.public_key);
    assert_split_refused_unchanged(&mut mixed, &bad, |e| {
        matches!(
            e,
            PartialMemberError::Proof(PartialError::PathNotInProof("encryption keys"))
        )
    });

    // The membership tag, then the signature (under a fresh valid tag).
    let mut bad = good.clone();
    bad.commit.broadcast.membership_tag[0] ^= 1;
    assert_split_refused_unchanged(&mut mixed, &bad, |e| {
        split_error(e) == Some(&crate::split::SplitCommitError::InvalidMembershipTag)
    });
    let mut bad = good.clone();
    bad.commit.broadcast.signature[0] ^= 1;
    crate::split::retag(
        cs.as_ref(),
        mixed.partial.secrets.membership_key.as_bytes(),
        &mut bad.commit.broadcast,
        mixed.partial.context(),
    );
    assert_split_refused_unchanged(&mut mixed, &bad, |e| {
        split_error(e) == Some(&crate::split::SplitCommitError::InvalidSignature)
    });

    // A sender proof of another leaf than the broadcast's sender.
    let mut bad = good.clone();
    bad.sender_membership_proof = bad.receiver_membership_proof_after.clone();
    assert_split_refused_unchanged(&mut mixed, &bad, |e| {
        matches!(
            e,
            PartialMemberError::ProvenLeafMismatch {
                which: "sender",
                ..
            }
        )
    });

    // A forged tree_hash_after.
    let mut bad = good.clone();
    bad.tree_hash_after[0] ^= 1;
    assert_split_refused_unchanged(&mut mixed, &bad, |e| {
        *e == PartialMemberError::WrongTreeHash {
            which: "sender (after)",
        }
    });

    // A wrong epoch identifier, signed and tagged as the committer would.
    let mut bad = good.clone();
    bad.commit.broadcast.content.broadcast.epoch_identifier[0] ^= 1;
    {
        let alice = &mixed.full[0];
        // Alice is in the next epoch already: sign with her key and the partial member's
        // (current) membership key and context.
        bad.commit.broadcast = crate::split::protect_broadcast(
            cs.as_ref(),
            alice.signer().secret_key.as_bytes(),
            mixed.partial.secrets.membership_key.as_bytes(),
            bad.commit.broadcast.content.clone(),
            mixed.partial.context(),
        )
        .unwrap();
    }
    assert_split_refused_unchanged(&mut mixed, &bad, |e| {
        split_error(e) == Some(&crate::split::SplitCommitError::EpochIdentifierMismatch)
    });

    mixed
        .partial
        .process_annotated_split_commit(&good, &PartialPsks::NONE)
        .unwrap();
    mixed.assert_agree();
    // Replayed in the next epoch.
    assert_split_refused_unchanged(&mut mixed, &good, |e| {
        matches!(e, PartialMemberError::WrongEpoch { .. })
    });
}

#[test]
fn a_group_without_split_commits_refuses_an_annotated_split_commit() {
    let mut mixed = Mixed::new();
    let cs = cs();
    let before = mixed.full[0].tree().clone();
    let built = mixed.full[0]
        .build_own_commit(&CommitOptions::default(), NOW, true, &mut mixed.rng)
        .unwrap();
    let crate::group::commit::BuiltContent::Split(scommit) = built.content else {
        panic!("not split");
    };
    let after = built.staged.epoch.as_ref().unwrap().tree.clone();
    let annotated =
        crate::partial::CommitAnnotator::for_split(cs.as_ref(), &before, &after, &scommit, &[])
            .unwrap()
            .annotate_split_for(cs.as_ref(), mixed.partial.own_leaf())
            .unwrap();
    assert_split_refused_unchanged(&mut mixed, &annotated, |e| {
        split_error(e) == Some(&crate::split::SplitCommitError::NotEnabled)
    });
}

#[test]
fn a_removed_partial_member_learns_it_from_a_split_commit() {
    let mut mixed = split_mixed(1);
    let cs = cs();
    let carol = mixed.partial.own_leaf();
    let before = mixed.full[0].tree().clone();
    let options = CommitOptions {
        proposals: vec![Proposal::Remove(Remove { removed: carol })],
        ..CommitOptions::default()
    };
    let output = mixed.full[0]
        .split_commit(&options, NOW, &mut mixed.rng)
        .unwrap();
    mixed.full[0].merge_pending_commit().unwrap();
    let annotator = crate::partial::CommitAnnotator::for_split(
        cs.as_ref(),
        &before,
        mixed.full[0].tree(),
        &output.scommit,
        &[],
    )
    .unwrap();
    assert_eq!(
        annotator
            .annotate_split_for(cs.as_ref(), carol)
            .unwrap_err(),
        PartialError::ReceiverRemoved(carol)
    );
    // The framed-commit annotations are refused by a split annotator.
    assert!(matches!(
        annotator.annotate_for(cs.as_ref(), mixed.full[1].own_leaf()),
        Err(PartialError::WrongCommitForm(_))
    ));
    let notice = annotator.annotate_split_removal_for(carol).unwrap();
    assert_eq!(
        mixed
            .partial
            .process_annotated_split_commit(&notice, &PartialPsks::NONE)
            .unwrap(),
        PartialCommitOutcome::Removed
    );
}
