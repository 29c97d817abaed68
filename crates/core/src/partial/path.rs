//! Processing an UpdatePath without the tree (draft-ietf-mls-partial-02 §10, the `path`
//! steps of "A partial client processes an AnnotatedCommit"), and computing the
//! `resolution_index` an annotator puts in an AnnotatedCommit for one receiver.
//!
//! The receiver finds the lowest common ancestor (LCA) of the committer and itself, its
//! position among the non-blank nodes of the committer's direct path after the commit (that
//! is the UpdatePath's filtered direct path, RFC 9420 §7.5, §12.4.2), decrypts the
//! `resolution_index`-th ciphertext of that UpdatePathNode with the key of its own node
//! under the LCA, derives the path secrets above and checks each derived public key against
//! the UpdatePath (RFC 9420 §12.4.2), and ends with `commit_secret = path_secret[n+1]`.

use conclave_crypto::{CipherSuiteProvider, labels};

use super::PartialError;
use super::messages::{AnnotatedCommit, MembershipProof};
use super::sender::verify_sender;
use crate::messages::{Extension, GroupContext, LeafIndex, Node, Sender, UpdatePath};
use crate::tree::RatchetTree;
use crate::tree_math::NodeIndex;
use crate::treekem::{DecryptedPath, NodeKey, PrivateTree, UPDATE_PATH_NODE_LABEL};

/// What a partial receiver needs to decrypt an UpdatePath (draft-ietf-mls-partial-02 §10).
#[derive(Debug, Clone, Copy)]
pub struct PartialPath<'a> {
    /// The commit's UpdatePath.
    pub update_path: &'a UpdatePath,
    /// The committer's leaf: `sender_membership_proof.leaf_index` for a member commit,
    /// `sender_membership_proof_after.leaf_index` for a `new_member_commit` (§10).
    pub committer: LeafIndex,
    /// `tree_hash_after`.
    pub tree_hash_after: &'a [u8],
    /// `resolution_index`.
    pub resolution_index: u32,
    /// `sender_membership_proof_after`.
    pub sender_proof_after: &'a MembershipProof,
    /// `receiver_membership_proof_after`.
    pub receiver_proof_after: &'a MembershipProof,
}

/// The provisional GroupContext a partial receiver decrypts an UpdatePath with
/// (RFC 9420 §12.4.2, draft-ietf-mls-partial-02 §10 "using the tree hash in the
/// `tree_hash_after` field in the provisional GroupContext"): the current context with the
/// next epoch, `tree_hash_after`, and the extensions after the commit's
/// GroupContextExtensions proposal (`None`: unchanged). The confirmed transcript hash is
/// still the current one; it is updated after the path is processed.
pub fn provisional_context(
    current: &GroupContext,
    tree_hash_after: &[u8],
    extensions: Option<Vec<Extension>>,
) -> Result<GroupContext, PartialError> {
    Ok(GroupContext {
        epoch: current
            .epoch
            .checked_add(1)
            .ok_or(PartialError::EpochOverflow)?,
        tree_hash: tree_hash_after.to_vec(),
        extensions: extensions.unwrap_or_else(|| current.extensions.clone()),
        ..current.clone()
    })
}

/// The node under the LCA whose private key decrypts the receiver's path secret
/// (draft-ietf-mls-partial-02 §10: "the next non-blank node in the recipient's direct path
/// under the lowest common ancestor"), from the receiver's direct path `path` (leaf's parent
/// up to the root, `None` for blank nodes) in the tree after the commit, which below the
/// LCA is the provisional tree. A parent node that lists the receiver as unmerged leaf does
/// not hold its key: the receiver's leaf is in the resolution instead (RFC 9420 §4.1.1).
fn receiver_key_node(
    receiver: LeafIndex,
    lca: NodeIndex,
    path: &[(NodeIndex, Option<&Node>)],
) -> NodeIndex {
    path.iter()
        .rev()
        .filter(|(index, _)| index.level() < lca.level())
        .find_map(|(index, node)| match node {
            Some(Node::Parent(parent)) if !parent.unmerged_leaves.contains(&receiver) => {
                Some(*index)
            }
            _ => None,
        })
        .unwrap_or(receiver.node())
}

/// The encryption key of `node` in `proof` (`node` is the proven leaf or on its direct path).
fn key_in_proof(
    proof: &MembershipProof,
    node: NodeIndex,
) -> Option<&crate::messages::HpkePublicKey> {
    let leaf_node = proof.leaf_index.node();
    let position = if node == leaf_node {
        0
    } else {
        let size = proof.tree_size().ok()?;
        1 + size.direct_path(leaf_node).position(|n| n == node)?
    };
    match proof.direct_path_nodes.get(position)? {
        Some(Node::Leaf(leaf)) => Some(&leaf.encryption_key),
        Some(Node::Parent(parent)) => Some(&parent.encryption_key),
        None => None,
    }
}

/// draft-ietf-mls-partial-02 §10: decrypts the receiver's path secret from an UpdatePath
/// without the tree and derives the rest of the chain to the commit secret.
///
/// Checks first that the two post-commit proofs reference the same tree and are valid
/// relative to `tree_hash_after` (§10 step 2), that the committer's proof is the committer's
/// and shows the UpdatePath's leaf and one non-blank node per UpdatePathNode with the
/// UpdatePath's keys, and that the receiver's proof is `private`'s leaf.
///
/// `private` holds the receiver's keys before the commit; `hpke_context` is the context of
/// `DecryptWithLabel(…, "UpdatePathNode", context, …)` (RFC 9420 §12.4.2): the encoded
/// provisional GroupContext, whose `tree_hash` is `tree_hash_after`. The result names the
/// LCA, its path secret, the commit secret, and the new key pairs of the LCA and the
/// non-blank nodes above it — the receiver's new direct-path keys; keys of nodes below the
/// LCA stay as they were.
pub fn decrypt_partial_path(
    cs: &dyn CipherSuiteProvider,
    input: &PartialPath<'_>,
    private: &PrivateTree,
    hpke_context: &[u8],
) -> Result<DecryptedPath, PartialError> {
    let sender_after = input.sender_proof_after;
    let receiver_after = input.receiver_proof_after;
    let root = sender_after.same_tree_as(
        receiver_after,
        cs,
        "sender_membership_proof_after and receiver_membership_proof_after",
    )?;
    if root != input.tree_hash_after {
        return Err(PartialError::TreeHashMismatch(sender_after.leaf_index));
    }
    if sender_after.leaf_index != input.committer {
        return Err(PartialError::SenderMismatch {
            what: "sender_membership_proof_after",
            sender: input.committer,
            proven: sender_after.leaf_index,
        });
    }
    let receiver = receiver_after.leaf_index;
    if receiver != private.own_leaf() {
        return Err(PartialError::SenderMismatch {
            what: "receiver_membership_proof_after",
            sender: private.own_leaf(),
            proven: receiver,
        });
    }
    if receiver == input.committer {
        return Err(PartialError::NotAReceiver {
            sender: input.committer,
            receiver,
        });
    }
    if sender_after.leaf_node() != Some(input.update_path.leaf_node.as_ref()) {
        return Err(PartialError::PathNotInProof("leaf node"));
    }
    // The non-blank nodes of the committer's direct path after the commit: the filtered
    // direct path the UpdatePath covers.
    let filtered: Vec<(NodeIndex, &crate::messages::HpkePublicKey)> = sender_after
        .direct_path()?
        .into_iter()
        .filter_map(|(index, node)| match node {
            Some(Node::Parent(parent)) => Some((index, &parent.encryption_key)),
            _ => None,
        })
        .collect();
    let update_nodes = &input.update_path.nodes;
    if filtered.len() != update_nodes.len() {
        return Err(PartialError::PathLength {
            proof: filtered.len(),
            update_path: update_nodes.len(),
        });
    }
    if filtered
        .iter()
        .zip(update_nodes)
        .any(|((_, key), node)| **key != node.encryption_key)
    {
        return Err(PartialError::PathNotInProof("encryption keys"));
    }
    let size = sender_after.tree_size()?;
    let not_a_receiver = PartialError::NotAReceiver {
        sender: input.committer,
        receiver,
    };
    let lca = size
        .common_ancestor(input.committer.node(), receiver.node())
        .ok_or(not_a_receiver.clone())?;
    let update_path_index = filtered
        .iter()
        .position(|(index, _)| *index == lca)
        .ok_or(not_a_receiver)?;
    let path_node = update_nodes
        .get(update_path_index)
        .ok_or(PartialError::PathLength {
            proof: filtered.len(),
            update_path: update_nodes.len(),
        })?;
    let ciphertexts = &path_node.encrypted_path_secret;
    let ciphertext = usize::try_from(input.resolution_index)
        .ok()
        .and_then(|i| ciphertexts.iter().nth(i))
        .ok_or(PartialError::ResolutionIndexOutOfRange {
            index: input.resolution_index,
            count: ciphertexts.len(),
        })?;
    let receiver_path = receiver_after.direct_path()?;
    let key_node = receiver_key_node(receiver, lca, &receiver_path);
    let key = private
        .key(key_node)
        .filter(|key| key_in_proof(receiver_after, key_node) == Some(&key.public_key))
        .ok_or(PartialError::NoDecryptionKey(key_node))?;
    let path_secret = labels::decrypt_with_label(
        cs,
        key.secret_key.as_bytes(),
        UPDATE_PATH_NODE_LABEL,
        hpke_context,
        ciphertext.kem_output,
        ciphertext.ciphertext,
    )?;
    let mut keys = Vec::with_capacity(filtered.len() - update_path_index);
    let mut secret = path_secret.clone();
    for (index, sent) in filtered.iter().skip(update_path_index) {
        let key: NodeKey = labels::node_key_pair_from_path_secret(cs, secret.as_bytes())?.into();
        if &key.public_key != *sent {
            return Err(PartialError::PublicKeyMismatch(*index));
        }
        keys.push((*index, key));
        secret = labels::derive_secret(cs, secret.as_bytes(), "path")?;
    }
    Ok(DecryptedPath {
        node: lca,
        path_secret,
        commit_secret: secret,
        keys,
    })
}

/// The `resolution_index` of an AnnotatedCommit for `receiver` (draft-ietf-mls-partial-02
/// §10): the position, in the resolution of the LCA's child on the receiver's side (new
/// members of the commit left out, RFC 9420 §12.4.2), of the node whose key the receiver
/// holds — the order of the UpdatePathNode's `encrypted_path_secret`. `tree_after` is the
/// tree after the commit (below the LCA it is the provisional tree the committer encrypted
/// to); `None` if `receiver` is the committer, a new member, or not in the tree.
pub fn resolution_index(
    tree_after: &RatchetTree,
    committer: LeafIndex,
    receiver: LeafIndex,
    new_leaves: &[LeafIndex],
) -> Option<u32> {
    if receiver == committer || new_leaves.contains(&receiver) {
        return None;
    }
    tree_after.leaf(receiver)?;
    let size = tree_after.size();
    let lca = size.common_ancestor(committer.node(), receiver.node())?;
    let copath_child = [size.left(lca)?, size.right(lca)?]
        .into_iter()
        .find(|child| receiver.node().is_in_subtree_of(*child))?;
    let position = tree_after
        .resolution(copath_child)
        .into_iter()
        .filter(|node| node.leaf().is_none_or(|leaf| !new_leaves.contains(&leaf)))
        .position(|node| {
            node == receiver.node()
                || (receiver.node().is_in_subtree_of(node)
                    && tree_after
                        .parent_node(node)
                        .is_some_and(|parent| !parent.unmerged_leaves.contains(&receiver)))
        })?;
    u32::try_from(position).ok()
}

impl AnnotatedCommit {
    /// draft-ietf-mls-partial-02 §10, steps 1 and 2 and the presence rules, for a commit from
    /// `sender` (read from the PublicMessage, or from a PrivateMessage's decrypted content)
    /// that `has_path` or not:
    ///
    /// - a `member` sender needs `sender_membership_proof`, valid relative to the group's
    ///   current tree hash and proving the sender's leaf; a `new_member_commit` must have
    ///   none; other senders cannot commit;
    /// - `resolution_index` is present exactly when the commit has a path;
    /// - the two post-commit proofs reference the same tree, valid relative to
    ///   `tree_hash_after`, and the committer's is the committer's.
    ///
    /// Returns the committer's leaf index (for a `new_member_commit`, the one
    /// `sender_membership_proof_after` gives it). The commit's signature is checked with the
    /// key of the proven leaf (`sender_membership_proof` via [`verify_sender`]) by the caller
    /// when it processes the commit.
    pub fn verify_annotations(
        &self,
        cs: &dyn CipherSuiteProvider,
        current_tree_hash: &[u8],
        sender: Sender,
        has_path: bool,
    ) -> Result<LeafIndex, PartialError> {
        let committer = match (sender, &self.sender_membership_proof) {
            (Sender::Member(_), Some(proof)) => {
                verify_sender(cs, proof, current_tree_hash, sender, "AnnotatedCommit")?.leaf_index
            }
            (Sender::NewMemberCommit, None) => self.sender_membership_proof_after.leaf_index,
            (Sender::Member(_) | Sender::NewMemberCommit, _) => {
                return Err(PartialError::SenderProofPresence);
            }
            (Sender::External(_) | Sender::NewMemberProposal, _) => {
                return Err(PartialError::NotAMemberSender);
            }
        };
        if self.resolution_index.is_some() != has_path {
            return Err(PartialError::ResolutionIndexPresence);
        }
        let root = self.sender_membership_proof_after.same_tree_as(
            &self.receiver_membership_proof_after,
            cs,
            "sender_membership_proof_after and receiver_membership_proof_after",
        )?;
        if root != self.tree_hash_after {
            return Err(PartialError::TreeHashMismatch(
                self.sender_membership_proof_after.leaf_index,
            ));
        }
        if self.sender_membership_proof_after.leaf_index != committer {
            return Err(PartialError::SenderMismatch {
                what: "sender_membership_proof_after",
                sender: committer,
                proven: self.sender_membership_proof_after.leaf_index,
            });
        }
        Ok(committer)
    }

    /// The input of [`decrypt_partial_path`] for this AnnotatedCommit, the commit's
    /// `update_path` and the `committer` [`AnnotatedCommit::verify_annotations`] returned.
    pub fn partial_path<'a>(
        &'a self,
        update_path: &'a UpdatePath,
        committer: LeafIndex,
    ) -> Result<PartialPath<'a>, PartialError> {
        Ok(PartialPath {
            update_path,
            committer,
            tree_hash_after: &self.tree_hash_after,
            resolution_index: self
                .resolution_index
                .ok_or(PartialError::ResolutionIndexPresence)?,
            sender_proof_after: &self.sender_membership_proof_after,
            receiver_proof_after: &self.receiver_membership_proof_after,
        })
    }
}
