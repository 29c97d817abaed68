//! Validating a ratchet tree received when joining (RFC 9420 §12.4.3.1), one named check
//! per rule, plus [`RatchetTree::validate_for_join`] running them all.
//!
//! Leaf node *semantics* (credentials, capabilities, lifetimes, extensions; RFC 9420 §7.3)
//! are checked by the caller through the per-leaf hook of `validate_for_join`.

use std::collections::HashMap;

use conclave_crypto::CipherSuiteProvider;
use conclave_crypto::labels::verify_with_label;

use super::{RatchetTree, TreeError};
use crate::messages::{LeafIndex, LeafNode};
use crate::tree_math::NodeIndex;

impl RatchetTree {
    /// The tree hash matches the one in the GroupInfo's GroupContext (RFC 9420 §12.4.3.1,
    /// §12.4.3.3).
    pub fn verify_tree_hash(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        expected: &[u8],
    ) -> Result<(), TreeError> {
        if self.tree_hash(cs)? == expected {
            Ok(())
        } else {
            Err(TreeError::TreeHashMismatch)
        }
    }

    /// The signature of every leaf verifies under its own `signature_key` (RFC 9420 §7.3),
    /// with `LeafNodeTBS` including `group_id` and the leaf's index for the `update` and
    /// `commit` sources (§7.2).
    pub fn verify_leaf_signatures(
        &self,
        cs: &dyn CipherSuiteProvider,
        group_id: &[u8],
    ) -> Result<(), TreeError> {
        for (index, leaf) in self.members() {
            verify_leaf_signature(cs, leaf, group_id, index)?;
        }
        Ok(())
    }

    /// For every non-blank parent and each of its `unmerged_leaves` (RFC 9420 §7.1,
    /// §12.4.3.1): the list is strictly increasing; the entry is a non-blank leaf below the
    /// parent; every non-blank node between that leaf and the parent lists it too.
    pub fn verify_unmerged_leaves(&self) -> Result<(), TreeError> {
        for (node, parent) in self.parent_nodes() {
            if parent
                .unmerged_leaves
                .windows(2)
                .any(|w| w.first() >= w.last())
            {
                return Err(TreeError::UnmergedLeavesNotSorted(node));
            }
        }
        // Every list is sorted now, so membership is a binary search.
        for (node, parent) in self.parent_nodes() {
            for &leaf in &parent.unmerged_leaves {
                let below = self
                    .size
                    .leaf_range(node)
                    .is_some_and(|(first, last)| first <= leaf && leaf <= last);
                if !below || self.leaf(leaf).is_none() {
                    return Err(TreeError::UnmergedLeafNotMember { node, leaf });
                }
                for intermediate in self.size.direct_path(leaf.node()) {
                    if intermediate == node {
                        break;
                    }
                    if let Some(between) = self.parent_node(intermediate)
                        && between.unmerged_leaves.binary_search(&leaf).is_err()
                    {
                        return Err(TreeError::UnmergedLeafMissingBelow {
                            node,
                            intermediate,
                            leaf,
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// No two nodes share an HPKE encryption key and no two leaves share a signature key
    /// (RFC 9420 §7.3, §12.4.3.1). Linear time.
    pub fn verify_unique_keys(&self) -> Result<(), TreeError> {
        let mut signature_keys: HashMap<&[u8], LeafIndex> = HashMap::new();
        let mut encryption_keys: HashMap<&[u8], NodeIndex> = HashMap::new();
        for (index, leaf) in self.members() {
            if let Some(first) = signature_keys.insert(&leaf.signature_key.0, index) {
                return Err(TreeError::DuplicateSignatureKey {
                    first,
                    second: index,
                });
            }
            if let Some(first) = encryption_keys.insert(&leaf.encryption_key.0, index.node()) {
                return Err(TreeError::DuplicateEncryptionKey {
                    first,
                    second: index.node(),
                });
            }
        }
        for (node, parent) in self.parent_nodes() {
            if let Some(other) = encryption_keys.insert(&parent.encryption_key.0, node) {
                let (first, second) = if other < node {
                    (other, node)
                } else {
                    (node, other)
                };
                return Err(TreeError::DuplicateEncryptionKey { first, second });
            }
        }
        Ok(())
    }

    /// Validates a tree received when joining (RFC 9420 §12.4.3.1): the tree hash equals
    /// `expected_tree_hash`, every parent node is parent-hash valid (§7.9.2), every leaf
    /// signature verifies (§7.3) and passes `leaf_check` (credential, capabilities,
    /// lifetime and extension rules of §7.3, supplied by the caller), unmerged leaves are
    /// consistent, and encryption and signature keys are unique.
    ///
    /// The caller's error type `E` carries both its own leaf errors and [`TreeError`].
    pub fn validate_for_join<E: From<TreeError>>(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        group_id: &[u8],
        expected_tree_hash: &[u8],
        mut leaf_check: impl FnMut(LeafIndex, &LeafNode) -> Result<(), E>,
    ) -> Result<(), E> {
        self.verify_tree_hash(cs, expected_tree_hash)?;
        self.verify_parent_hashes(cs)?;
        self.verify_leaf_signatures(cs, group_id)?;
        for (index, leaf) in self.members() {
            leaf_check(index, leaf)?;
        }
        self.verify_unmerged_leaves()?;
        self.verify_unique_keys()?;
        Ok(())
    }
}

/// Verifies one leaf's signature (RFC 9420 §7.2, §7.3): `VerifyWithLabel(signature_key,
/// "LeafNodeTBS", LeafNodeTBS, signature)`, where `LeafNodeTBS` includes `group_id` and
/// `leaf_index` for the `update` and `commit` sources.
pub fn verify_leaf_signature(
    cs: &dyn CipherSuiteProvider,
    leaf: &LeafNode,
    group_id: &[u8],
    leaf_index: LeafIndex,
) -> Result<(), TreeError> {
    let tbs = leaf.to_be_signed(Some((group_id, leaf_index)))?;
    verify_with_label(
        cs,
        &leaf.signature_key.0,
        "LeafNodeTBS",
        &tbs,
        &leaf.signature,
    )
    .map_err(|_| TreeError::LeafSignatureInvalid(leaf_index))
}
