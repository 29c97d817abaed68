//! Parent hashes (RFC 9420 §7.9): computing the chain for a committer's path, and checking
//! that every parent node of a received tree is parent-hash valid (§7.9.2).

use conclave_codec::{CodecError, Encode, write_opaque};
use conclave_crypto::CipherSuiteProvider;

use super::{NodeRef, RatchetTree, TreeError};
use crate::messages::{HpkePublicKey, LeafIndex, LeafNode, LeafNodeSource, ParentNode};
use crate::tree_math::NodeIndex;

/// Encodes `ParentHashInput { HPKEPublicKey encryption_key; opaque parent_hash<V>;
/// opaque original_sibling_tree_hash<V>; }` (RFC 9420 §7.9).
fn parent_hash_input(
    encryption_key: &HpkePublicKey,
    parent_hash: &[u8],
    original_sibling_tree_hash: &[u8],
) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(
        encryption_key.encoded_len() + parent_hash.len() + original_sibling_tree_hash.len() + 8,
    );
    encryption_key.encode(&mut out)?;
    write_opaque(&mut out, parent_hash)?;
    write_opaque(&mut out, original_sibling_tree_hash)?;
    Ok(out)
}

/// The parent hash of `parent` with copath child whose original tree hash is
/// `original_sibling_tree_hash` (RFC 9420 §7.9).
pub fn parent_hash(
    cs: &dyn CipherSuiteProvider,
    parent: &ParentNode,
    original_sibling_tree_hash: &[u8],
) -> Result<Vec<u8>, TreeError> {
    let input = parent_hash_input(
        &parent.encryption_key,
        &parent.parent_hash,
        original_sibling_tree_hash,
    )?;
    Ok(cs.hash(&input))
}

impl RatchetTree {
    /// Sets the parent nodes of an UpdatePath from `leaf` and computes their parent-hash
    /// chain (RFC 9420 §7.5, §7.9, §12.4.1, §12.4.2): blanks the direct path of `leaf`,
    /// puts `keys[i]` (with no unmerged leaves) at the `i`-th node of the filtered direct
    /// path, then, top-down, sets each node's `parent_hash` to the parent hash of the next
    /// node above it (empty for the topmost). Returns the `parent_hash` the leaf node must
    /// carry: the committer signs it into its new LeafNode; a receiver compares it with the
    /// received one ([`check_committer_parent_hash`]).
    ///
    /// `keys` must have exactly the length of the filtered direct path (§12.4.2). The leaf
    /// itself is not changed. Costs O(log n) hashes when the tree hashes were cached.
    pub fn set_path_keys(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        leaf: LeafIndex,
        keys: Vec<HpkePublicKey>,
    ) -> Result<Vec<u8>, TreeError> {
        self.blank_direct_path(leaf)?;
        // The copath children are outside the direct path: blanking did not change them.
        let path = self.filtered_direct_path_with_copath(leaf);
        if path.len() != keys.len() {
            return Err(TreeError::PathLengthMismatch {
                expected: path.len(),
                actual: keys.len(),
            });
        }
        for ((node, _), encryption_key) in path.iter().zip(keys) {
            self.set_parent_slot(
                *node,
                Some(ParentNode {
                    encryption_key,
                    parent_hash: Vec::new(),
                    unmerged_leaves: Vec::new(),
                }),
            );
        }
        let mut above = Vec::new();
        for (node, sibling) in path.iter().rev() {
            // P was just set, so it has no unmerged leaves: the original sibling tree hash
            // is the current tree hash of S.
            let sibling_hash = self.node_tree_hash(cs, *sibling)?;
            let parent = self
                .parent_mut(*node)
                .ok_or(TreeError::NodeOutOfRange(*node))?;
            parent.parent_hash = above;
            above = parent_hash(cs, parent, &sibling_hash)?;
        }
        Ok(above)
    }

    /// Checks that every non-blank parent node is parent-hash valid (RFC 9420 §7.9.2),
    /// top-down: for each non-blank parent P, exactly one node D in the resolution of one
    /// child C has `parent_hash` equal to the parent hash of P over the other child S (with
    /// P's unmerged leaves removed from S), and the resolution of C without D is exactly
    /// P's unmerged leaves below C. Since each such D is itself non-blank and checked in
    /// turn, every parent chains down to a leaf.
    pub fn verify_parent_hashes(&mut self, cs: &dyn CipherSuiteProvider) -> Result<(), TreeError> {
        let parents: Vec<NodeIndex> = self.parent_nodes().map(|(node, _)| node).collect();
        let mut resolution = Vec::new();
        for node in parents {
            let Some(parent) = self.parent_node(node).cloned() else {
                continue;
            };
            let (Some(left), Some(right)) = (self.size.left(node), self.size.right(node)) else {
                return Err(TreeError::NodeOutOfRange(node));
            };
            let mut unmerged = parent.unmerged_leaves.clone();
            unmerged.sort_unstable();
            let mut links = 0usize;
            for (child, sibling) in [(left, right), (right, left)] {
                let sibling_hash = self.tree_hash_excluding(cs, sibling, &unmerged)?;
                let expected = parent_hash(cs, &parent, &sibling_hash)?;
                resolution.clear();
                self.resolution_into(child, &mut resolution);
                let Some((first, last)) = self.size.leaf_range(child) else {
                    return Err(TreeError::NodeOutOfRange(child));
                };
                // P's unmerged leaves below C, as node indices.
                let mut below: Vec<NodeIndex> = unmerged
                    .iter()
                    .filter(|l| first <= **l && **l <= last)
                    .map(|l| l.node())
                    .collect();
                below.sort_unstable();
                for (at, d) in resolution.iter().enumerate() {
                    let links_here = self
                        .node(*d)
                        .and_then(NodeRef::parent_hash)
                        .is_some_and(|ph| ph == expected.as_slice());
                    if links_here && resolution_minus_equals(&resolution, at, &below) {
                        links = links.saturating_add(1);
                    }
                }
            }
            if links != 1 {
                return Err(TreeError::ParentHashInvalid { node, links });
            }
        }
        Ok(())
    }
}

/// Whether `resolution` without its entry at `skip`, as a set, equals `expected` (sorted).
fn resolution_minus_equals(resolution: &[NodeIndex], skip: usize, expected: &[NodeIndex]) -> bool {
    if resolution.len() != expected.len().saturating_add(1) {
        return false;
    }
    let mut rest: Vec<NodeIndex> = resolution
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != skip)
        .map(|(_, n)| *n)
        .collect();
    rest.sort_unstable();
    rest == expected
}

/// Checks a committer's new leaf against the parent hash recomputed for its path
/// ([`RatchetTree::set_path_keys`]): the leaf must have source `commit` with exactly that
/// `parent_hash` (RFC 9420 §7.9.2, §12.4.2).
pub fn check_committer_parent_hash(
    leaf_node: &LeafNode,
    expected_parent_hash: &[u8],
) -> Result<(), TreeError> {
    match &leaf_node.leaf_node_source {
        LeafNodeSource::Commit(ph) if ph.as_slice() == expected_parent_hash => Ok(()),
        _ => Err(TreeError::CommitterParentHashMismatch),
    }
}
