//! Tests of Partial MLS (draft-ietf-mls-partial-02).

use conclave_codec::{Decode, Encode};

use super::*;
use crate::messages::{LeafIndex, Node};

fn sample_proof() -> MembershipProof {
    MembershipProof {
        leaf_index: LeafIndex(2),
        n_leaves: 4,
        direct_path_nodes: vec![None, None, None],
        copath_hashes: vec![
            CopathHash {
                hash_value: vec![1; 32],
            },
            CopathHash {
                hash_value: vec![2; 32],
            },
        ],
    }
}

#[test]
fn a_membership_proof_re_encodes_to_the_same_bytes() {
    let proof = sample_proof();
    let bytes = proof.to_bytes().unwrap();
    // uint32, uint32, a 3-byte vector of blanks, two 33-byte CopathHashes (66 bytes: a
    // two-byte varint length).
    assert_eq!(bytes.len(), 4 + 4 + 1 + 3 + 2 + 2 * 33);
    let decoded = MembershipProof::from_bytes(&bytes).unwrap();
    assert_eq!(decoded, proof);
    assert_eq!(decoded.to_bytes().unwrap(), bytes);
}

#[test]
fn a_truncated_membership_proof_is_refused() {
    let bytes = sample_proof().to_bytes().unwrap();
    for len in 0..bytes.len() {
        assert!(
            MembershipProof::from_bytes(&bytes[..len]).is_err(),
            "length {len}"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(MembershipProof::from_bytes(&longer).is_err());
}

// ---------------------------------------------------------------------------------------
// Groups of real members, for proofs built from their trees.

use std::sync::{Arc, RwLock};

use conclave_crypto::{CipherSuite, CipherSuiteProvider, CryptoProvider, SeededRng};
use conclave_crypto_rustcrypto::RustCryptoProvider;

use crate::codepoints::CodepointProfile;
use crate::credential::BasicIdentityProvider;
use crate::group::{
    CommitOptions, CommitOutput, Group, GroupConfig, GroupEnv, JoinOptions, KeyPackageBundle,
    MemberParams, NewGroup, SigningIdentity,
};
use crate::messages::{
    Add, Credential, MlsMessage, MlsMessageBody, Proposal, PublicMessage, Remove, WireFormat,
};

const NOW: u64 = 1_700_000_000;
const SUITE: CipherSuite = CipherSuite(1);

fn cs() -> Box<dyn CipherSuiteProvider> {
    RustCryptoProvider.cipher_suite_provider(SUITE).unwrap()
}

fn params(name: &str, rng: &mut SeededRng) -> MemberParams {
    let env = GroupEnv {
        crypto: Arc::new(RustCryptoProvider),
        identity: Arc::new(BasicIdentityProvider),
        psks: Arc::new(RwLock::new(std::collections::HashMap::new())),
    };
    let signer = SigningIdentity::generate(
        cs().as_ref(),
        Credential::Basic {
            identity: name.as_bytes().to_vec(),
        },
        rng,
    )
    .unwrap();
    MemberParams {
        config: GroupConfig {
            handshake_wire_format: WireFormat::PUBLIC_MESSAGE,
            codepoint_profile: CodepointProfile::Draft,
            ..GroupConfig::default()
        },
        ..MemberParams::new(env, signer)
    }
}

/// Full members of one group, all in the same epoch.
pub(super) struct Members {
    pub(super) rng: SeededRng,
    pub(super) groups: Vec<Group>,
    /// The leaves the last commit added.
    pub(super) last_added: Vec<LeafIndex>,
}

impl Members {
    /// A group of `n` members: the creator adds the others in one commit.
    pub(super) fn new(n: usize, seed: u64) -> Self {
        let mut rng = SeededRng::new(seed);
        let creator = Group::create(
            params("member-0", &mut rng),
            NewGroup::new(SUITE, b"partial".to_vec()),
            NOW,
            &mut rng,
        )
        .unwrap();
        let mut members = Self {
            rng,
            groups: vec![creator],
            last_added: Vec::new(),
        };
        let names: Vec<String> = (1..n).map(|i| format!("member-{i}")).collect();
        members.add(0, &names);
        members
    }

    /// `committer` adds `names` by value; the newcomers join by Welcome.
    pub(super) fn add(&mut self, committer: usize, names: &[String]) -> CommitOutput {
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let (proposals, joiners) = self.adds(&names);
        let output = self.commit(
            committer,
            &CommitOptions {
                proposals,
                ..CommitOptions::default()
            },
        );
        self.welcome(&output, joiners);
        output
    }

    /// The joiners of `output` join by its Welcome.
    pub(super) fn welcome(
        &mut self,
        output: &CommitOutput,
        joiners: Vec<(MemberParams, KeyPackageBundle)>,
    ) {
        if joiners.is_empty() {
            return;
        }
        let MlsMessageBody::Welcome(welcome) = &output.welcome.as_ref().unwrap().body else {
            panic!("not a Welcome");
        };
        for (params, bundle) in joiners {
            let joined =
                Group::join(params, welcome, &bundle, &JoinOptions::default(), NOW).unwrap();
            self.groups.push(joined);
        }
    }

    /// Proposals adding `names`, with the joiners' parameters and KeyPackages.
    pub(super) fn adds(
        &mut self,
        names: &[&str],
    ) -> (Vec<Proposal>, Vec<(MemberParams, KeyPackageBundle)>) {
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
        (proposals, joiners)
    }

    /// The index in `groups` of the member at `leaf`.
    pub(super) fn at(&self, leaf: u32) -> usize {
        self.groups
            .iter()
            .position(|g| g.own_leaf() == LeafIndex(leaf))
            .unwrap()
    }

    /// `committer` commits `options`; every other member processes the commit.
    pub(super) fn commit(&mut self, committer: usize, options: &CommitOptions) -> CommitOutput {
        let output = self.groups[committer]
            .commit(options, NOW, &mut self.rng)
            .unwrap();
        for (i, group) in self.groups.iter_mut().enumerate() {
            if i == committer {
                self.last_added = group.merge_pending_commit().unwrap().added;
            } else {
                group.process_message(&output.commit, NOW).unwrap();
            }
        }
        self.groups
            .retain(|group| *group.status() == crate::group::GroupStatus::Active);
        output
    }

    pub(super) fn tree_hash(&self) -> Vec<u8> {
        self.groups[0].context().tree_hash.clone()
    }
}

pub(super) fn public_of(message: &MlsMessage) -> &PublicMessage {
    match &message.body {
        MlsMessageBody::PublicMessage(public) => public,
        _ => panic!("not a PublicMessage"),
    }
}

#[test]
fn a_proof_for_every_leaf_of_a_real_tree_verifies_against_the_tree_hash() {
    let cs = cs();
    let members = Members::new(11, 1);
    let tree = members.groups[0].tree();
    let tree_hash = members.tree_hash();
    let mut previous: Option<MembershipProof> = None;
    for (leaf, leaf_node) in members.groups[0].members() {
        let proof = MembershipProof::for_leaf(tree, cs.as_ref(), leaf).unwrap();
        assert_eq!(proof.n_leaves, 16);
        let proven = proof.verify(cs.as_ref(), &tree_hash).unwrap();
        assert_eq!(proven.leaf_index, leaf);
        assert_eq!(proven.leaf_node, leaf_node);
        // Exact re-encoding.
        let bytes = proof.to_bytes().unwrap();
        assert_eq!(MembershipProof::from_bytes(&bytes).unwrap(), proof);
        if let Some(previous) = &previous {
            assert_eq!(
                previous.same_tree_as(&proof, cs.as_ref(), "test").unwrap(),
                tree_hash
            );
        }
        previous = Some(proof);
    }
    // A tree without cached hashes (a copy rebuilt from its nodes) gives the same proofs.
    let rebuilt = crate::tree::RatchetTree::from_nodes(tree.to_nodes()).unwrap();
    for (leaf, _) in members.groups[0].members() {
        assert_eq!(
            MembershipProof::for_leaf(&rebuilt, cs.as_ref(), leaf).unwrap(),
            MembershipProof::for_leaf(tree, cs.as_ref(), leaf).unwrap()
        );
    }
}

#[test]
fn a_proof_of_a_blank_leaf_is_refused_at_creation() {
    let cs = cs();
    let members = Members::new(5, 2);
    let err = MembershipProof::for_leaf(members.groups[0].tree(), cs.as_ref(), LeafIndex(6));
    assert_eq!(err, Err(PartialError::BlankLeaf(LeafIndex(6))));
}

#[test]
fn forged_and_mismatched_proofs_are_refused_with_the_draft_section() {
    let cs = cs();
    let cs = cs.as_ref();
    let mut members = Members::new(6, 3);
    let tree_hash = members.tree_hash();
    let proof = MembershipProof::for_leaf(members.groups[0].tree(), cs, LeafIndex(3)).unwrap();
    proof.verify(cs, &tree_hash).unwrap();

    // A flipped bit in a copath hash.
    let mut forged = proof.clone();
    forged.copath_hashes[1].hash_value[0] ^= 1;
    let err = forged.verify(cs, &tree_hash).unwrap_err();
    assert_eq!(err, PartialError::TreeHashMismatch(LeafIndex(3)));
    assert!(err.to_string().contains("draft-ietf-mls-partial-02 §6"));

    // Another leaf's contents at this index.
    let mut swapped = proof.clone();
    let other = members.groups[0].tree().leaf(LeafIndex(4)).unwrap().clone();
    swapped.direct_path_nodes[0] = Some(Node::leaf(other));
    assert!(matches!(
        swapped.verify(cs, &tree_hash),
        Err(PartialError::TreeHashMismatch(_))
    ));

    // The same slice claimed for a neighbouring leaf index.
    let mut moved = proof.clone();
    moved.leaf_index = LeafIndex(2);
    assert!(moved.verify(cs, &tree_hash).is_err());

    // n_leaves inconsistent with the slice, or not a tree size.
    let mut larger = proof.clone();
    larger.n_leaves = 16;
    assert!(matches!(
        larger.verify(cs, &tree_hash),
        Err(PartialError::ProofLength { .. })
    ));
    let mut odd = proof.clone();
    odd.n_leaves = 6;
    assert_eq!(
        odd.verify(cs, &tree_hash),
        Err(PartialError::InvalidLeafCount(6))
    );
    let mut outside = proof.clone();
    outside.leaf_index = LeafIndex(8);
    assert!(matches!(
        outside.verify(cs, &tree_hash),
        Err(PartialError::LeafOutOfRange { .. })
    ));

    // A truncated copath hash.
    let mut short = proof.clone();
    short.copath_hashes[0].hash_value.pop();
    assert!(matches!(
        short.verify(cs, &tree_hash),
        Err(PartialError::CopathHashLength { position: 0, .. })
    ));

    // A parent node where the leaf should be.
    let mut parent_first = proof.clone();
    parent_first.direct_path_nodes.swap(0, 1);
    assert!(parent_first.verify(cs, &tree_hash).is_err());

    // A proof of the previous epoch's tree fails against the new tree hash, and does not
    // reference the same tree as a proof of the new one.
    members.commit(
        0,
        &CommitOptions {
            force_path: true,
            ..CommitOptions::default()
        },
    );
    let new_hash = members.tree_hash();
    assert_ne!(new_hash, tree_hash);
    assert!(matches!(
        proof.verify(cs, &new_hash),
        Err(PartialError::TreeHashMismatch(_))
    ));
    let fresh = MembershipProof::for_leaf(members.groups[0].tree(), cs, LeafIndex(3)).unwrap();
    assert_eq!(
        proof.same_tree_as(&fresh, cs, "old and new"),
        Err(PartialError::DifferentTrees("old and new"))
    );
}

#[test]
fn a_sender_authenticated_public_message_verifies_with_the_proven_key() {
    let cs = cs();
    let cs = cs.as_ref();
    let mut members = Members::new(5, 4);
    let message = members.groups[2]
        .propose(
            Proposal::Remove(Remove {
                removed: LeafIndex(4),
            }),
            &[],
            &mut members.rng,
        )
        .unwrap();
    let context = members.groups[0].context().clone();
    let tree = members.groups[0].tree();
    let authenticated = SenderAuthenticatedMessage {
        message: public_of(&message).clone(),
        sender_membership_proof: MembershipProof::for_leaf(tree, cs, LeafIndex(2)).unwrap(),
    };
    let proven = authenticated.verify(cs, &context).unwrap();
    assert_eq!(proven.leaf_index, LeafIndex(2));

    // Another member's (valid) proof: the sender is not the proven leaf.
    let wrong = SenderAuthenticatedMessage {
        message: authenticated.message.clone(),
        sender_membership_proof: MembershipProof::for_leaf(tree, cs, LeafIndex(1)).unwrap(),
    };
    assert!(matches!(
        wrong.verify(cs, &context),
        Err(PartialError::SenderMismatch { .. })
    ));

    // A proof whose leaf carries another signature key, with a tree hash that matches it:
    // the proof passes, the signature does not.
    let mut other_key = authenticated.clone();
    let Some(Some(Node::Leaf(leaf))) = other_key
        .sender_membership_proof
        .direct_path_nodes
        .first_mut()
    else {
        panic!("no leaf");
    };
    leaf.signature_key = tree.leaf(LeafIndex(1)).unwrap().signature_key.clone();
    let mut forged_context = context.clone();
    forged_context.tree_hash = other_key
        .sender_membership_proof
        .root_tree_hash(cs)
        .unwrap();
    assert_eq!(
        other_key.verify(cs, &forged_context).map(|p| p.leaf_index),
        Err(PartialError::InvalidSignature)
    );
    // With the real tree hash, the forged proof is refused first.
    assert!(matches!(
        other_key.verify(cs, &context),
        Err(PartialError::TreeHashMismatch(_))
    ));

    // Another epoch's context.
    let mut later = context.clone();
    later.epoch += 1;
    assert_eq!(
        authenticated.verify(cs, &later).map(|p| p.leaf_index),
        Err(PartialError::WrongGroupOrEpoch)
    );
}

#[test]
fn a_sender_authenticated_group_info_names_the_proven_signer() {
    let cs = cs();
    let cs = cs.as_ref();
    let members = Members::new(4, 5);
    let MlsMessageBody::GroupInfo(group_info) = members.groups[1].group_info(false).unwrap().body
    else {
        panic!("not a GroupInfo");
    };
    let tree = members.groups[0].tree();
    let good = SenderAuthenticatedMessage {
        message: group_info.clone(),
        sender_membership_proof: MembershipProof::for_leaf(tree, cs, LeafIndex(1)).unwrap(),
    };
    assert_eq!(good.verify(cs).unwrap().leaf_index, LeafIndex(1));
    let other = SenderAuthenticatedMessage {
        message: group_info,
        sender_membership_proof: MembershipProof::for_leaf(tree, cs, LeafIndex(2)).unwrap(),
    };
    assert!(matches!(
        other.verify(cs),
        Err(PartialError::SenderMismatch { .. })
    ));
}

// ---------------------------------------------------------------------------------------
// Annotated commits of real groups, decrypted by partial receivers.

use crate::messages::{Content, Sender, UpdatePath};
use crate::tree_math::NodeIndex;
use crate::treekem::PrivateTree;

/// The UpdatePath of a PublicMessage commit.
fn path_of(message: &MlsMessage) -> UpdatePath {
    let Content::Commit(commit) = &public_of(message).content.content else {
        panic!("not a commit");
    };
    commit.path.clone().unwrap()
}

/// Commits `options` from `committer` (index into `members.groups`) and checks, for every
/// other member that was in the group before, that the AnnotatedCommit our annotator builds
/// is accepted by the partial path code with that member's pre-commit keys, gives the new
/// keys the full member derived, and the same commit secret for everyone. Returns how many
/// receivers were checked and the largest `resolution_index` seen.
fn commit_and_check_partial_receivers(
    members: &mut Members,
    committer: usize,
    options: &CommitOptions,
    joiners: Vec<(MemberParams, KeyPackageBundle)>,
) -> (usize, u32) {
    let cs = cs();
    let cs = cs.as_ref();
    let committer_leaf = members.groups[committer].own_leaf();
    let tree_before = members.groups[committer].tree().clone();
    let context_before = members.groups[committer].context().clone();
    let before: Vec<(LeafIndex, PrivateTree)> = members
        .groups
        .iter()
        .map(|g| (g.own_leaf(), g.private_tree().clone()))
        .collect();
    let output = members.commit(committer, options);
    members.welcome(&output, joiners);
    let update_path = path_of(&output.commit);
    let full = members
        .groups
        .iter()
        .find(|g| g.own_leaf() == committer_leaf)
        .unwrap();
    let tree_after = full.tree().clone();
    let context = provisional_context(&context_before, &full.context().tree_hash, None)
        .unwrap()
        .to_bytes()
        .unwrap();
    let new_leaves = members.last_added.clone();
    let annotator = CommitAnnotator::new(
        cs,
        &tree_before,
        &tree_after,
        CommitFacts {
            commit: &output.commit,
            committer: committer_leaf,
            new_member_commit: false,
            has_path: true,
            new_leaves: &new_leaves,
        },
    )
    .unwrap();
    assert_eq!(
        annotator.tree_hash_after(),
        full.context().tree_hash.as_slice()
    );
    let mut commit_secret = None;
    let mut checked = 0;
    let mut max_resolution_index = 0;
    for (receiver, private) in &before {
        let Some(after) = members.groups.iter().find(|g| g.own_leaf() == *receiver) else {
            continue; // removed by the commit
        };
        if *receiver == committer_leaf || new_leaves.contains(receiver) {
            continue; // the committer, or a removed member's slot refilled by a newcomer
        }
        let annotated = annotator.annotate_for(cs, *receiver).unwrap();
        let bytes = annotated.to_bytes().unwrap();
        assert_eq!(AnnotatedCommit::from_bytes(&bytes).unwrap(), annotated);
        // §10 steps 1 and 2.
        annotated
            .sender_membership_proof
            .as_ref()
            .unwrap()
            .verify(cs, &tree_before.clone().tree_hash(cs).unwrap())
            .unwrap();
        let input = PartialPath {
            update_path: &update_path,
            committer: annotated
                .sender_membership_proof
                .as_ref()
                .unwrap()
                .leaf_index,
            tree_hash_after: &annotated.tree_hash_after,
            resolution_index: annotated.resolution_index.unwrap(),
            sender_proof_after: &annotated.sender_membership_proof_after,
            receiver_proof_after: &annotated.receiver_membership_proof_after,
        };
        max_resolution_index = max_resolution_index.max(input.resolution_index);
        let decrypted = decrypt_partial_path(cs, &input, private, &context).unwrap();
        for (node, key) in &decrypted.keys {
            assert_eq!(after.private_tree().key(*node), Some(key), "node {node:?}");
        }
        // The root is always among the new keys: every member agrees on it.
        let root = tree_after.size().root();
        assert!(decrypted.keys.iter().any(|(node, _)| *node == root));
        match &commit_secret {
            None => commit_secret = Some(decrypted.commit_secret.clone()),
            Some(secret) => assert_eq!(secret, &decrypted.commit_secret),
        }
        checked += 1;
    }
    (checked, max_resolution_index)
}

#[test]
fn annotated_commits_of_a_real_group_give_every_partial_receiver_the_full_members_keys() {
    let mut members = Members::new(12, 6);
    let path = |proposals: Vec<Proposal>| CommitOptions {
        proposals,
        force_path: true,
        ..CommitOptions::default()
    };
    // A commit with a path that also removes a member and adds two: the new members are
    // left out of the resolutions and get no AnnotatedCommit path secret.
    let (mut proposals, joiners) = members.adds(&["late-1", "late-2"]);
    proposals.push(Proposal::Remove(Remove {
        removed: LeafIndex(7),
    }));
    let committer = members.at(3);
    let (checked, _) =
        commit_and_check_partial_receivers(&mut members, committer, &path(proposals), joiners);
    assert_eq!(checked, 10);
    assert_eq!(members.last_added, vec![LeafIndex(7), LeafIndex(12)]);

    // Leaf 9 sets the parents above leaves 8–15; then leaf 0 adds a member at leaf 13,
    // which becomes an unmerged leaf of node 23; then leaf 1 commits: the receiver at
    // leaf 13 decrypts with its leaf key, after node 23 in the resolution of the copath.
    let committer = members.at(9);
    commit_and_check_partial_receivers(&mut members, committer, &path(vec![]), vec![]);
    let (proposals, joiners) = members.adds(&["late-3"]);
    let committer = members.at(0);
    commit_and_check_partial_receivers(&mut members, committer, &path(proposals), joiners);
    assert_eq!(members.last_added, vec![LeafIndex(13)]);
    let tree = members.groups[0].tree();
    let unmerged = &tree.parent_node(NodeIndex(23)).unwrap().unmerged_leaves;
    assert_eq!(unmerged, &vec![LeafIndex(13)]);
    let committer = members.at(1);
    let (checked, max_resolution_index) =
        commit_and_check_partial_receivers(&mut members, committer, &path(vec![]), vec![]);
    assert_eq!(checked, members.groups.len() - 1);
    assert!(max_resolution_index >= 1);
    for committer in [5, 12] {
        let committer = members.at(committer);
        let (checked, _) =
            commit_and_check_partial_receivers(&mut members, committer, &path(vec![]), vec![]);
        assert_eq!(checked, members.groups.len() - 1);
    }
}

#[test]
fn bad_annotations_are_refused_with_the_draft_section() {
    let cs = cs();
    let cs = cs.as_ref();
    let mut members = Members::new(8, 7);
    let tree_before = members.groups[0].tree().clone();
    let context_before = members.groups[0].context().clone();
    let private_2 = members.groups[2].private_tree().clone();
    let private_5 = members.groups[5].private_tree().clone();
    let output = members.commit(
        1,
        &CommitOptions {
            force_path: true,
            ..CommitOptions::default()
        },
    );
    let update_path = path_of(&output.commit);
    let tree_after = members.groups[0].tree().clone();
    let context = provisional_context(&context_before, &members.tree_hash(), None)
        .unwrap()
        .to_bytes()
        .unwrap();
    let annotator = CommitAnnotator::new(
        cs,
        &tree_before,
        &tree_after,
        CommitFacts {
            commit: &output.commit,
            committer: LeafIndex(1),
            new_member_commit: false,
            has_path: true,
            new_leaves: &[],
        },
    )
    .unwrap();
    let annotated = annotator.annotate_for(cs, LeafIndex(2)).unwrap();
    let good = PartialPath {
        update_path: &update_path,
        committer: LeafIndex(1),
        tree_hash_after: &annotated.tree_hash_after,
        resolution_index: annotated.resolution_index.unwrap(),
        sender_proof_after: &annotated.sender_membership_proof_after,
        receiver_proof_after: &annotated.receiver_membership_proof_after,
    };
    decrypt_partial_path(cs, &good, &private_2, &context).unwrap();

    // An out-of-range resolution_index.
    let out_of_range = PartialPath {
        resolution_index: 7,
        ..good
    };
    let err = decrypt_partial_path(cs, &out_of_range, &private_2, &context).unwrap_err();
    assert!(matches!(
        err,
        PartialError::ResolutionIndexOutOfRange { index: 7, .. }
    ));
    assert!(err.to_string().contains("draft-ietf-mls-partial-02 §10"));

    // tree_hash_after disagreeing with the proofs.
    let other_hash = tree_before.clone().tree_hash(cs).unwrap();
    let wrong_hash = PartialPath {
        tree_hash_after: &other_hash,
        ..good
    };
    let err = decrypt_partial_path(cs, &wrong_hash, &private_2, &context).unwrap_err();
    assert!(matches!(err, PartialError::TreeHashMismatch(_)));
    assert!(err.to_string().contains("draft-ietf-mls-partial-02 §6"));

    // A receiver proof of the tree before the commit: not the same tree.
    let old_receiver = MembershipProof::for_leaf(&tree_before, cs, LeafIndex(2)).unwrap();
    let mixed = PartialPath {
        receiver_proof_after: &old_receiver,
        ..good
    };
    assert!(matches!(
        decrypt_partial_path(cs, &mixed, &private_2, &context),
        Err(PartialError::DifferentTrees(_))
    ));

    // Another member's keys with this receiver's proof.
    assert!(matches!(
        decrypt_partial_path(cs, &good, &private_5, &context),
        Err(PartialError::SenderMismatch { .. })
    ));

    // The committer claimed at another leaf.
    let moved = PartialPath {
        committer: LeafIndex(0),
        ..good
    };
    assert!(matches!(
        decrypt_partial_path(cs, &moved, &private_2, &context),
        Err(PartialError::SenderMismatch { .. })
    ));

    // An UpdatePath whose keys are not the ones in the proofs.
    let mut other_path = update_path.clone();
    other_path.nodes[0].encryption_key = other_path.nodes[1].encryption_key.clone();
    let tampered = PartialPath {
        update_path: &other_path,
        ..good
    };
    assert_eq!(
        decrypt_partial_path(cs, &tampered, &private_2, &context).map(|d| d.node),
        Err(PartialError::PathNotInProof("encryption keys"))
    );

    // The wrong HPKE context (the previous epoch's GroupContext) does not decrypt.
    let old_context = context_before.to_bytes().unwrap();
    assert!(matches!(
        decrypt_partial_path(cs, &good, &private_2, &old_context),
        Err(PartialError::Crypto(_))
    ));

    // The presence rules and step 1 of §10.
    let before_hash = context_before.tree_hash.clone();
    let member = Sender::Member(LeafIndex(1));
    assert_eq!(
        annotated.verify_annotations(cs, &before_hash, member, true),
        Ok(LeafIndex(1))
    );
    assert_eq!(
        annotated.verify_annotations(cs, &before_hash, member, false),
        Err(PartialError::ResolutionIndexPresence)
    );
    assert_eq!(
        annotated.verify_annotations(cs, &before_hash, Sender::NewMemberCommit, true),
        Err(PartialError::SenderProofPresence)
    );
    let mut no_sender_proof = annotated.clone();
    no_sender_proof.sender_membership_proof = None;
    assert_eq!(
        no_sender_proof.verify_annotations(cs, &before_hash, member, true),
        Err(PartialError::SenderProofPresence)
    );
    assert!(matches!(
        annotated.verify_annotations(cs, &before_hash, Sender::Member(LeafIndex(3)), true),
        Err(PartialError::SenderMismatch { .. })
    ));
    // The sender proof of the new tree is not valid relative to the current tree hash.
    let mut new_tree_proof = annotated.clone();
    new_tree_proof.sender_membership_proof = Some(annotated.sender_membership_proof_after.clone());
    assert!(matches!(
        new_tree_proof.verify_annotations(cs, &before_hash, member, true),
        Err(PartialError::TreeHashMismatch(_))
    ));
    let mut other_after_hash = annotated.clone();
    other_after_hash.tree_hash_after = before_hash.clone();
    assert!(matches!(
        other_after_hash.verify_annotations(cs, &before_hash, member, true),
        Err(PartialError::TreeHashMismatch(_))
    ));
    let mut mixed_after = annotated.clone();
    mixed_after.receiver_membership_proof_after = old_receiver.clone();
    assert!(matches!(
        mixed_after.verify_annotations(cs, &before_hash, member, true),
        Err(PartialError::DifferentTrees(_))
    ));

    // The committer gets no annotation for itself.
    assert!(matches!(
        annotator.annotate_for(cs, LeafIndex(1)),
        Err(PartialError::NotAReceiver { .. })
    ));
}

#[test]
fn an_annotated_welcome_proves_the_signer_and_the_joiner() {
    let cs = cs();
    let cs = cs.as_ref();
    let mut members = Members::new(6, 8);
    let output = members.add(2, &["joiner".to_owned()]);
    let joiner = members.last_added[0];
    let MlsMessageBody::Welcome(welcome) = output.welcome.unwrap().body else {
        panic!("not a Welcome");
    };
    let tree = members.groups[0].tree();
    let tree_hash = members.tree_hash();
    let annotated = annotate_welcome(cs, tree, welcome, LeafIndex(2), joiner).unwrap();
    let bytes = annotated.to_bytes().unwrap();
    assert_eq!(AnnotatedWelcome::from_bytes(&bytes).unwrap(), annotated);
    let sender = &annotated.welcome.sender_membership_proof;
    assert_eq!(
        sender
            .same_tree_as(&annotated.joiner_membership_proof, cs, "welcome proofs")
            .unwrap(),
        tree_hash
    );
    assert_eq!(
        sender.verify(cs, &tree_hash).unwrap().leaf_index,
        LeafIndex(2)
    );
    let proven_joiner = annotated
        .joiner_membership_proof
        .verify(cs, &tree_hash)
        .unwrap();
    assert_eq!(proven_joiner.leaf_index, joiner);
}

#[test]
fn a_public_group_view_annotates_like_the_members() {
    use crate::public_group::{PublicGroup, PublicGroupConfig};
    let cs = cs();
    let cs = cs.as_ref();
    let mut members = Members::new(7, 9);
    let MlsMessageBody::GroupInfo(group_info) = members.groups[0].group_info(false).unwrap().body
    else {
        panic!("not a GroupInfo");
    };
    let nodes = members.groups[0].tree().to_nodes();
    let mut view = PublicGroup::from_group_info(
        &RustCryptoProvider,
        Arc::new(BasicIdentityProvider),
        &group_info,
        Some(&nodes),
        PublicGroupConfig::from(members.groups[0].config()),
        NOW,
    )
    .unwrap();
    let tree_before = view.tree().clone();
    for leaf in 0..7 {
        assert_eq!(
            MembershipProof::for_leaf(view.tree(), cs, LeafIndex(leaf)).unwrap(),
            MembershipProof::for_leaf(members.groups[0].tree(), cs, LeafIndex(leaf)).unwrap()
        );
    }
    // The view follows a commit and annotates it for a partial receiver, who decrypts it.
    let context_before = members.groups[0].context().clone();
    let private_4 = members.groups[4].private_tree().clone();
    let output = members.commit(
        2,
        &CommitOptions {
            force_path: true,
            ..CommitOptions::default()
        },
    );
    let handshake = view.process_message(&output.commit, NOW).unwrap();
    view.apply(handshake).unwrap();
    assert_eq!(view.context(), members.groups[0].context());
    let annotator = CommitAnnotator::new(
        cs,
        &tree_before,
        view.tree(),
        CommitFacts {
            commit: &output.commit,
            committer: LeafIndex(2),
            new_member_commit: false,
            has_path: true,
            new_leaves: &[],
        },
    )
    .unwrap();
    let annotated = annotator.annotate_for(cs, LeafIndex(4)).unwrap();
    let committer = annotated
        .verify_annotations(
            cs,
            &context_before.tree_hash,
            Sender::Member(LeafIndex(2)),
            true,
        )
        .unwrap();
    let update_path = path_of(&output.commit);
    let context = provisional_context(&context_before, &annotated.tree_hash_after, None)
        .unwrap()
        .to_bytes()
        .unwrap();
    let decrypted = decrypt_partial_path(
        cs,
        &annotated.partial_path(&update_path, committer).unwrap(),
        &private_4,
        &context,
    )
    .unwrap();
    let full = &members.groups[members.at(4)];
    for (node, key) in &decrypted.keys {
        assert_eq!(full.private_tree().key(*node), Some(key));
    }
}
