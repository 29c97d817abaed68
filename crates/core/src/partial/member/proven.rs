//! What a partial member takes from the annotations (draft-ietf-mls-partial-02 §6–§10): a
//! membership proof checked against the tree hash it must be valid for ([`ProvenMember`]),
//! and the parts of the annotated messages. Proof verification and the partial UpdatePath
//! are [`crate::partial`]'s; this module only adapts them to the member's state.

use conclave_crypto::{CipherSuiteProvider, Secret};

use super::PartialMemberError;
use crate::messages::{
    HpkePublicKey, LeafIndex, LeafNode, MlsMessage, Node, PrivateMessage, UpdatePath, Welcome,
};
use crate::partial::{
    AnnotatedCommit, AnnotatedWelcome, MembershipProof, PartialError, SenderAuthenticatedMessage,
};
use crate::tree_math::NodeIndex;
use crate::treekem::{NodeKey, PrivateTree};

/// A membership proof found valid for a tree hash (draft-ietf-mls-partial-02 §6): the leaf
/// it proves, the size of the tree, and the encryption keys on the leaf's direct path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenMember {
    /// `leaf_index`.
    pub leaf: LeafIndex,
    /// `n_leaves`.
    pub n_leaves: u32,
    /// The proven LeafNode.
    pub leaf_node: Box<LeafNode>,
    /// The nodes of the leaf's direct path (parent to root) with their encryption keys
    /// (`None`: blank).
    pub path: Vec<(NodeIndex, Option<HpkePublicKey>)>,
    /// The root tree hash the proof recomputes (equal to the one it was checked against).
    pub tree_hash: Vec<u8>,
}

impl ProvenMember {
    /// Checks that `proof` is valid relative to `tree_hash` (draft-ietf-mls-partial-02 §6)
    /// and that it proves a non-blank leaf; `which` names the proof in errors.
    pub fn verify(
        cs: &dyn CipherSuiteProvider,
        proof: &MembershipProof,
        tree_hash: &[u8],
        which: &'static str,
    ) -> Result<Self, PartialMemberError> {
        let proven = proof
            .verify(cs, tree_hash)
            .map_err(|e| super::proof_error(e, which, "6"))?;
        Self::from_proven(proof, proven, tree_hash)
    }

    /// The owned form of a proof the partial module verified against `tree_hash`.
    pub(super) fn from_proven(
        proof: &MembershipProof,
        proven: crate::partial::ProvenLeaf<'_>,
        tree_hash: &[u8],
    ) -> Result<Self, PartialMemberError> {
        let mut path = Vec::new();
        for (node, value) in proof.direct_path()? {
            let key = match value {
                Some(Node::Parent(parent)) => Some(parent.encryption_key.clone()),
                Some(Node::Leaf(_)) => return Err(PartialError::ParentExpected(node).into()),
                None => None,
            };
            path.push((node, key));
        }
        Ok(Self {
            leaf: proven.leaf_index,
            n_leaves: proven.n_leaves,
            leaf_node: Box::new(proven.leaf_node.clone()),
            path,
            tree_hash: tree_hash.to_vec(),
        })
    }

    /// Deletes the keys of nodes that are blank in this proof's direct path or now carry
    /// another public key (RFC 9420 §7.6), and of nodes off the path; the leaf key stays
    /// when the proven leaf still carries it.
    pub(crate) fn prune(&self, keys: &mut PrivateTree) {
        let mut kept = PrivateTree::new(
            keys.own_leaf(),
            match keys.key(self.leaf.node()) {
                Some(key) => key.clone(),
                None => return,
            },
        );
        for (node, public) in &self.path {
            if let (Some(key), Some(public)) = (keys.key(*node), public)
                && key.public_key == *public
            {
                kept.insert(*node, key.clone());
            }
        }
        *keys = kept;
    }
}

/// The Welcome, its sender proof and the joiner proof.
pub(super) fn welcome_parts(
    annotated: &AnnotatedWelcome,
) -> (&Welcome, &MembershipProof, &MembershipProof) {
    (
        &annotated.welcome.message,
        &annotated.welcome.sender_membership_proof,
        &annotated.joiner_membership_proof,
    )
}

/// The fields of an AnnotatedCommit.
pub(super) struct CommitParts<'a> {
    pub(super) commit: &'a MlsMessage,
    pub(super) sender_proof: Option<&'a MembershipProof>,
    pub(super) tree_hash_after: &'a [u8],
    pub(super) resolution_index: Option<u32>,
    pub(super) sender_proof_after: &'a MembershipProof,
    pub(super) receiver_proof_after: &'a MembershipProof,
}

pub(super) fn commit_parts(annotated: &AnnotatedCommit) -> CommitParts<'_> {
    CommitParts {
        commit: &annotated.commit,
        sender_proof: annotated.sender_membership_proof.as_ref(),
        tree_hash_after: &annotated.tree_hash_after,
        resolution_index: annotated.resolution_index,
        sender_proof_after: &annotated.sender_membership_proof_after,
        receiver_proof_after: &annotated.receiver_membership_proof_after,
    }
}

pub(super) fn sender_authenticated_parts(
    message: &SenderAuthenticatedMessage<PrivateMessage>,
) -> (&PrivateMessage, &MembershipProof) {
    (&message.message, &message.sender_membership_proof)
}

/// The commit secret and the new keys of our direct path from an annotated UpdatePath
/// (draft-ietf-mls-partial-02 §10), by [`crate::partial::update_path`].
pub(super) fn decrypt_update_path(
    cs: &dyn CipherSuiteProvider,
    annotated: &super::After<'_>,
    path: &UpdatePath,
    committer: LeafIndex,
    keys: &PrivateTree,
    provisional_context: &[u8],
) -> Result<(Secret, Vec<(NodeIndex, NodeKey)>), PartialMemberError> {
    let resolution_index = annotated
        .resolution_index
        .ok_or(PartialMemberError::ResolutionIndexPresence)?;
    let decrypted = crate::partial::decrypt_partial_path(
        cs,
        &crate::partial::PartialPath {
            update_path: path,
            committer,
            tree_hash_after: annotated.tree_hash_after,
            resolution_index,
            sender_proof_after: annotated.sender_proof_after,
            receiver_proof_after: annotated.receiver_proof_after,
        },
        keys,
        provisional_context,
    )?;
    Ok((decrypted.commit_secret, decrypted.keys))
}
