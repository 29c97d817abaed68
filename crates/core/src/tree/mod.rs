//! The public ratchet tree (RFC 9420 §4.1, §7.1–§7.3, §7.7–§7.9, §12.1.1–§12.1.3,
//! §12.4.3.1, §12.4.3.3).
//!
//! [`RatchetTree`] keeps the nodes of a full left-balanced binary tree in arrays indexed by
//! [`NodeIndex`] (RFC 9420 Appendix C): leaves and parents in separate vectors, so a leaf can
//! never sit at a parent position. Beside the nodes it keeps, per node,
//!
//! - the number of non-blank nodes and non-blank leaves in the node's subtree, so that
//!   "is this resolution empty" (filtered direct path, §4.1.2), "where is the leftmost blank
//!   leaf" (Add, §12.1.1) and "is the right subtree empty" (truncation, §7.7) are O(log n),
//!   and a resolution costs time proportional to its length times the depth;
//! - the cached tree hash (§7.8), invalidated along the direct path when a node changes, so
//!   recomputing the root hash after a commit hashes only the changed paths;
//! - key fingerprints and credential-type counts ([`index`]), so that the §7.3 uniqueness
//!   and compatibility checks of a commit do not scan every member.
//!
//! Nodes are shared (`Arc`) between a tree and its clones: a commit is staged on a clone
//! (RFC 9420 §12.4.2 "parse, validate, then apply"), which copies pointers, not members.
//!
//! The tree always has a power-of-two number of leaves (§7.7); the wire form
//! ([`RatchetTreeNodes`], §12.4.3.3) omits trailing blank nodes and is padded back on import.

mod checks;
mod error;
pub(crate) mod hash;
mod index;
mod ops;
mod parent_hash;

#[cfg(test)]
mod tests;

pub use error::{TreeError, TreeValidationError};
pub use parent_hash::{check_committer_parent_hash, parent_hash};

use crate::messages::{
    HpkePublicKey, LeafIndex, LeafNode, Node, ParentNode, RatchetTreeNodes, SignaturePublicKey,
};
use crate::tree_math::{NodeIndex, TreeSize};
use crate::validation::MemberCredentialTypes;

use std::sync::Arc;

use conclave_codec::{CodecError, Encode};

use hash::HashCache;
use index::{CredentialCounts, FingerprintCounts};

/// A node of the tree, by reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeRef<'a> {
    /// A leaf node.
    Leaf(&'a LeafNode),
    /// A parent node.
    Parent(&'a ParentNode),
}

impl<'a> NodeRef<'a> {
    /// The node's HPKE public key.
    pub fn encryption_key(self) -> &'a HpkePublicKey {
        match self {
            Self::Leaf(leaf) => &leaf.encryption_key,
            Self::Parent(parent) => &parent.encryption_key,
        }
    }

    /// The node's `parent_hash` field: the parent node's, or the leaf's if its source is
    /// `commit` (RFC 9420 §7.9.1); `None` for other leaves.
    pub fn parent_hash(self) -> Option<&'a [u8]> {
        match self {
            Self::Leaf(leaf) => match &leaf.leaf_node_source {
                crate::messages::LeafNodeSource::Commit(ph) => Some(ph),
                _ => None,
            },
            Self::Parent(parent) => Some(&parent.parent_hash),
        }
    }
}

/// Counts over a node's subtree (the node included).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct SubtreeStats {
    /// Non-blank nodes (leaves and parents).
    nodes: u32,
    /// Non-blank leaves.
    leaves: u32,
}

/// The public state of a ratchet tree (RFC 9420 §4.1, §7): array-backed, always full,
/// with cached tree hashes.
#[derive(Debug, Clone)]
pub struct RatchetTree {
    size: TreeSize,
    /// Leaf `i` (node `2i`).
    leaves: Vec<Option<Arc<LeafNode>>>,
    /// Parent node `2j + 1` at position `j`.
    parents: Vec<Option<Arc<ParentNode>>>,
    /// Per node index.
    stats: Vec<SubtreeStats>,
    hashes: HashCache,
    /// Encryption keys of all non-blank nodes.
    encryption_keys: FingerprintCounts,
    /// Signature keys of all leaves.
    signature_keys: FingerprintCounts,
    /// Credential types of the members.
    credentials: CredentialCounts,
}

/// `usize` position of a node index in a per-node vector.
fn pos(node: NodeIndex) -> Option<usize> {
    usize::try_from(node.0).ok()
}

/// `usize` position of a leaf in the leaf vector.
fn leaf_pos(leaf: LeafIndex) -> Option<usize> {
    usize::try_from(leaf.0).ok()
}

/// `usize` position of a parent node in the parent vector.
fn parent_pos(node: NodeIndex) -> Option<usize> {
    if node.is_leaf() {
        None
    } else {
        usize::try_from(node.0 >> 1).ok()
    }
}

impl RatchetTree {
    /// A one-member tree holding `leaf` at index 0 (group creation, RFC 9420 §11).
    pub fn new(leaf: LeafNode) -> Self {
        let mut tree = Self::blank(ONE_LEAF);
        tree.set_leaf_slot(LeafIndex(0), Some(leaf));
        tree
    }

    /// An all-blank full tree of `size` leaves.
    fn blank(size: TreeSize) -> Self {
        let leaves = size.leaf_count() as usize;
        let nodes = leaves.saturating_mul(2).saturating_sub(1);
        Self {
            size,
            leaves: vec![None; leaves],
            parents: vec![None; leaves.saturating_sub(1)],
            stats: vec![SubtreeStats::default(); nodes],
            hashes: HashCache::new(nodes),
            encryption_keys: FingerprintCounts::default(),
            signature_keys: FingerprintCounts::default(),
            credentials: CredentialCounts::default(),
        }
    }

    /// Builds a tree from the `ratchet_tree` vector (RFC 9420 §12.4.3.3), checking its
    /// structure: not empty, last node non-blank, leaves at even and parents at odd
    /// positions, and a size whose full tree fits `uint32` leaf indices. The tree is padded
    /// with blank nodes to the next full size.
    ///
    /// This checks only the shape; [`RatchetTree::validate_for_join`] checks the content.
    pub fn from_nodes(nodes: RatchetTreeNodes) -> Result<Self, TreeError> {
        let nodes = nodes.0;
        match nodes.last() {
            None => return Err(TreeError::EmptyTree),
            Some(None) => return Err(TreeError::TrailingBlankNode),
            Some(Some(_)) => {}
        }
        // A vector of length L covers leaves 0..=L/2 (the last leaf may be implied by a
        // trailing parent node).
        let covered = u32::try_from(nodes.len() / 2 + 1).map_err(|_| TreeError::TooLarge)?;
        let size = TreeSize::full_for(covered).ok_or(TreeError::TooLarge)?;
        let mut tree = Self::blank(size);
        for (i, node) in nodes.into_iter().enumerate() {
            let index = NodeIndex(u64::try_from(i).map_err(|_| TreeError::TooLarge)?);
            match (node, index.leaf()) {
                (None, _) => {}
                (Some(Node::Leaf(leaf)), Some(leaf_index)) => {
                    tree.set_leaf_slot(leaf_index, Some(*leaf));
                }
                (Some(Node::Parent(parent)), None) => {
                    tree.set_parent_slot(index, Some(*parent));
                }
                (Some(Node::Leaf(_)), None) => {
                    return Err(TreeError::WrongNodeType {
                        node: index,
                        expected: "parent",
                    });
                }
                (Some(Node::Parent(_)), Some(_)) => {
                    return Err(TreeError::WrongNodeType {
                        node: index,
                        expected: "leaf",
                    });
                }
            }
        }
        Ok(tree)
    }

    /// The `ratchet_tree` vector of this tree (RFC 9420 §12.4.3.3): every node in array
    /// order, without trailing blank nodes.
    pub fn to_nodes(&self) -> RatchetTreeNodes {
        let count = self.stats.len();
        let mut out: Vec<Option<Node>> = Vec::with_capacity(count);
        for i in 0..self.size.node_count() {
            out.push(match self.node(NodeIndex(i)) {
                None => None,
                Some(NodeRef::Leaf(leaf)) => Some(Node::Leaf(Box::new(leaf.clone()))),
                Some(NodeRef::Parent(parent)) => Some(Node::Parent(Box::new(parent.clone()))),
            });
        }
        while matches!(out.last(), Some(None)) {
            out.pop();
        }
        RatchetTreeNodes(out)
    }

    /// The `ratchet_tree` extension of this tree (RFC 9420 §12.4.3.3): the encoding of
    /// [`RatchetTree::to_nodes`], written from the tree's own nodes without copying them
    /// first. A commit signs a GroupInfo carrying the whole tree, so at N = 1000 the copy
    /// was a fifth of the committer's own (unparallelised) work.
    pub fn ratchet_tree_extension(&self) -> Result<crate::messages::Extension, CodecError> {
        Ok(crate::messages::Extension {
            extension_type: crate::messages::ExtensionType::RATCHET_TREE,
            extension_data: self.nodes_to_bytes()?,
        })
    }

    /// `self.to_nodes().to_bytes()`, without the copy of every node in between.
    pub fn nodes_to_bytes(&self) -> Result<Vec<u8>, CodecError> {
        EncodedNodes::new(self).to_bytes()
    }

    /// The size of the tree (always a power-of-two number of leaves, RFC 9420 §7.7).
    pub fn size(&self) -> TreeSize {
        self.size
    }

    /// The number of leaves, blank or not.
    pub fn leaf_count(&self) -> u32 {
        self.size.leaf_count()
    }

    /// The number of non-blank leaves (members).
    pub fn member_count(&self) -> u32 {
        self.stat(self.size.root()).leaves
    }

    /// The leaf node at `leaf`; `None` if blank or outside the tree.
    pub fn leaf(&self, leaf: LeafIndex) -> Option<&LeafNode> {
        self.leaves.get(leaf_pos(leaf)?)?.as_deref()
    }

    /// The parent node at `node`; `None` if blank, a leaf position or outside the tree.
    pub fn parent_node(&self, node: NodeIndex) -> Option<&ParentNode> {
        self.parents.get(parent_pos(node)?)?.as_deref()
    }

    /// The node at `node`; `None` if blank or outside the tree.
    pub fn node(&self, node: NodeIndex) -> Option<NodeRef<'_>> {
        match node.leaf() {
            Some(leaf) => self.leaf(leaf).map(NodeRef::Leaf),
            None => self.parent_node(node).map(NodeRef::Parent),
        }
    }

    /// Whether `node` is blank (or outside the tree).
    pub fn is_blank(&self, node: NodeIndex) -> bool {
        self.node(node).is_none()
    }

    /// The HPKE public key of a non-blank node.
    pub fn encryption_key(&self, node: NodeIndex) -> Option<&HpkePublicKey> {
        self.node(node).map(NodeRef::encryption_key)
    }

    /// The members: every non-blank leaf with its index, left to right.
    pub fn members(&self) -> impl Iterator<Item = (LeafIndex, &LeafNode)> {
        self.size
            .leaves()
            .zip(self.leaves.iter())
            .filter_map(|(i, leaf)| leaf.as_deref().map(|leaf| (i, leaf)))
    }

    /// The non-blank parent nodes with their node indices, left to right.
    pub fn parent_nodes(&self) -> impl Iterator<Item = (NodeIndex, &ParentNode)> {
        self.parents.iter().enumerate().filter_map(|(j, parent)| {
            let parent = parent.as_deref()?;
            let j = u64::try_from(j).ok()?;
            Some((NodeIndex(2 * j + 1), parent))
        })
    }

    /// The leaf whose signature key is `key`, if any (for the uniqueness rule of
    /// RFC 9420 §7.3). O(1) when no leaf has the key, else linear in the number of leaves.
    pub fn find_leaf_by_signature_key(&self, key: &SignaturePublicKey) -> Option<LeafIndex> {
        if !self.signature_keys.may_contain(key.as_ref()) {
            return None;
        }
        self.members()
            .find(|(_, leaf)| leaf.signature_key == *key)
            .map(|(i, _)| i)
    }

    /// The leaf whose encryption key is `key`, if any (for the uniqueness rule of
    /// RFC 9420 §7.3). O(1) when no node has the key, else linear in the number of leaves.
    pub fn find_leaf_by_encryption_key(&self, key: &HpkePublicKey) -> Option<LeafIndex> {
        if !self.encryption_keys.may_contain(key.as_ref()) {
            return None;
        }
        self.members()
            .find(|(_, leaf)| leaf.encryption_key == *key)
            .map(|(i, _)| i)
    }

    /// Any node (leaf or parent) whose encryption key is `key` (RFC 9420 §12.4.3.1).
    /// O(1) when no node has the key, else linear in the number of nodes.
    pub fn find_node_by_encryption_key(&self, key: &HpkePublicKey) -> Option<NodeIndex> {
        if !self.encryption_keys.may_contain(key.as_ref()) {
            return None;
        }
        if let Some(leaf) = self.find_leaf_by_encryption_key(key) {
            return Some(leaf.node());
        }
        self.parent_nodes()
            .find(|(_, parent)| parent.encryption_key == *key)
            .map(|(i, _)| i)
    }

    /// The leaf holding exactly `leaf_node`, if any (a joiner finding its own leaf,
    /// RFC 9420 §12.4.3.1).
    pub fn find_leaf(&self, leaf_node: &LeafNode) -> Option<LeafIndex> {
        self.members()
            .find(|(_, leaf)| *leaf == leaf_node)
            .map(|(i, _)| i)
    }

    /// The resolution of `node` (RFC 9420 §4.1.1): the non-blank nodes covering its
    /// subtree, depth-first and left-first, each non-blank node followed by its unmerged
    /// leaves. Empty for a node outside the tree.
    ///
    /// Empty subtrees are skipped by their cached counts, so the cost is proportional to
    /// the length of the result times the depth of the tree.
    pub fn resolution(&self, node: NodeIndex) -> Vec<NodeIndex> {
        let mut out = Vec::new();
        self.resolution_into(node, &mut out);
        out
    }

    /// Appends the resolution of `node` to `out` (see [`RatchetTree::resolution`]).
    pub fn resolution_into(&self, node: NodeIndex, out: &mut Vec<NodeIndex>) {
        if self.stat(node).nodes == 0 {
            return;
        }
        match self.node(node) {
            Some(NodeRef::Leaf(_)) => out.push(node),
            Some(NodeRef::Parent(parent)) => {
                out.push(node);
                out.extend(parent.unmerged_leaves.iter().map(|leaf| leaf.node()));
            }
            None => {
                if let (Some(left), Some(right)) = (self.size.left(node), self.size.right(node)) {
                    self.resolution_into(left, out);
                    self.resolution_into(right, out);
                }
            }
        }
    }

    /// Whether the resolution of `node` is empty: no non-blank node in its subtree. O(1).
    pub fn resolution_is_empty(&self, node: NodeIndex) -> bool {
        self.stat(node).nodes == 0
    }

    /// The filtered direct path of `leaf` (RFC 9420 §4.1.2): its direct path without the
    /// nodes whose copath child has an empty resolution, ordered from the leaf to the root.
    /// O(log n).
    pub fn filtered_direct_path(&self, leaf: LeafIndex) -> Vec<NodeIndex> {
        self.filtered_direct_path_with_copath(leaf)
            .into_iter()
            .map(|(node, _)| node)
            .collect()
    }

    /// The filtered direct path of `leaf` (RFC 9420 §4.1.2) with, for each node, its child
    /// on the copath of `leaf` (whose resolution is non-empty by definition): the pairs
    /// `(P, S)` that path secrets are encrypted along (§7.6) and parent hashes computed
    /// over (§7.9).
    pub fn filtered_direct_path_with_copath(&self, leaf: LeafIndex) -> Vec<(NodeIndex, NodeIndex)> {
        if !self.size.contains_leaf(leaf) {
            return Vec::new();
        }
        let node = leaf.node();
        self.size
            .direct_path(node)
            .zip(self.size.copath(node))
            .filter(|(_, copath_child)| !self.resolution_is_empty(*copath_child))
            .collect()
    }

    /// Replaces leaf `leaf` (blank with `None`), returning the old value. Invalidates the
    /// cached tree hashes on its direct path. The caller keeps the tree consistent (e.g.
    /// unmerged leaves); prefer the proposal operations for membership changes.
    pub fn set_leaf(
        &mut self,
        leaf: LeafIndex,
        value: Option<LeafNode>,
    ) -> Result<Option<LeafNode>, TreeError> {
        if !self.size.contains_leaf(leaf) {
            return Err(TreeError::LeafOutOfRange(leaf));
        }
        Ok(self.set_leaf_slot(leaf, value))
    }

    /// Replaces parent node `node` (blank with `None`), returning the old value.
    /// Invalidates the cached tree hashes on its direct path.
    pub fn set_parent(
        &mut self,
        node: NodeIndex,
        value: Option<ParentNode>,
    ) -> Result<Option<ParentNode>, TreeError> {
        if node.is_leaf() || !self.size.contains(node) {
            return Err(TreeError::NodeOutOfRange(node));
        }
        Ok(self.set_parent_slot(node, value))
    }

    // ---- internals ----------------------------------------------------------------------

    fn stat(&self, node: NodeIndex) -> SubtreeStats {
        pos(node)
            .and_then(|i| self.stats.get(i))
            .copied()
            .unwrap_or_default()
    }

    /// Adds `nodes` and `leaves` (each -1, 0 or 1) to the counts of `node` and its
    /// ancestors.
    fn adjust_stats(&mut self, node: NodeIndex, nodes: i32, leaves: i32) {
        if nodes == 0 && leaves == 0 {
            return;
        }
        for n in std::iter::once(node).chain(self.size.direct_path(node)) {
            if let Some(stat) = pos(n).and_then(|i| self.stats.get_mut(i)) {
                stat.nodes = stat.nodes.saturating_add_signed(nodes);
                stat.leaves = stat.leaves.saturating_add_signed(leaves);
            }
        }
    }

    /// Sets a leaf slot (the leaf must be inside the tree), keeping counts, indexes and
    /// hashes.
    fn set_leaf_slot(&mut self, leaf: LeafIndex, value: Option<LeafNode>) -> Option<LeafNode> {
        let slot = leaf_pos(leaf).and_then(|i| self.leaves.get_mut(i))?;
        let delta = i32::from(value.is_some()) - i32::from(slot.is_some());
        let old = std::mem::replace(slot, value.map(Arc::new));
        if let Some(old) = &old {
            self.encryption_keys.remove(old.encryption_key.as_ref());
            self.signature_keys.remove(old.signature_key.as_ref());
            self.credentials.adjust(old, -1);
        }
        if let Some(new) = self.leaves.get(leaf_pos(leaf)?).and_then(Option::as_deref) {
            self.encryption_keys.add(new.encryption_key.as_ref());
            self.signature_keys.add(new.signature_key.as_ref());
            self.credentials.adjust(new, 1);
        }
        let node = leaf.node();
        self.adjust_stats(node, delta, delta);
        self.hashes.invalidate(self.size, node);
        old.map(Arc::unwrap_or_clone)
    }

    /// Sets a parent slot (the node must be a parent inside the tree), keeping counts and
    /// hashes.
    fn set_parent_slot(
        &mut self,
        node: NodeIndex,
        value: Option<ParentNode>,
    ) -> Option<ParentNode> {
        let slot = parent_pos(node).and_then(|i| self.parents.get_mut(i))?;
        let delta = i32::from(value.is_some()) - i32::from(slot.is_some());
        if let Some(new) = &value {
            self.encryption_keys.add(new.encryption_key.as_ref());
        }
        let old = std::mem::replace(slot, value.map(Arc::new));
        if let Some(old) = &old {
            self.encryption_keys.remove(old.encryption_key.as_ref());
        }
        self.adjust_stats(node, delta, 0);
        self.hashes.invalidate(self.size, node);
        old.map(Arc::unwrap_or_clone)
    }

    /// The credential types of the members other than `except` (RFC 9420 §7.3), from the
    /// maintained counts: O(number of credential types).
    pub fn member_credential_types(&self, except: Option<LeafIndex>) -> MemberCredentialTypes {
        let except = except.and_then(|leaf| self.leaf(leaf));
        self.credentials.summary(self.member_count(), except)
    }

    /// Mutable access to a non-blank parent node; invalidates its cached tree hashes.
    fn parent_mut(&mut self, node: NodeIndex) -> Option<&mut ParentNode> {
        let j = parent_pos(node)?;
        if self.parents.get(j)?.is_none() {
            return None;
        }
        self.hashes.invalidate(self.size, node);
        // Copy-on-write: a node shared with the tree this one was cloned from is copied.
        // Callers change unmerged leaves and parent hashes, never the encryption key, so
        // the key index stays valid.
        self.parents.get_mut(j)?.as_mut().map(Arc::make_mut)
    }
}

/// The one-leaf tree size; evaluated at compile time, so the `None` arm can never run.
const ONE_LEAF: TreeSize = match TreeSize::new(1) {
    Some(size) => size,
    None => unreachable!(),
};

/// The `ratchet_tree` vector of a tree, encoded from the tree's nodes in place (the same
/// bytes as [`RatchetTree::to_nodes`] encoded: `optional<Node>` in array order, trailing
/// blanks left out).
struct EncodedNodes<'a> {
    tree: &'a RatchetTree,
    /// Nodes up to and including the last non-blank one.
    count: u64,
    /// Bytes of the vector's body.
    body: usize,
}

impl<'a> EncodedNodes<'a> {
    fn new(tree: &'a RatchetTree) -> Self {
        let mut count = tree.size.node_count();
        while count > 0 && tree.is_blank(NodeIndex(count - 1)) {
            count -= 1;
        }
        let mut nodes = Self {
            tree,
            count,
            body: 0,
        };
        nodes.body = nodes
            .nodes()
            .map(|node| match node {
                None => 1,
                // presence, node type, node
                Some(NodeRef::Leaf(leaf)) => 2 + leaf.encoded_len(),
                Some(NodeRef::Parent(parent)) => 2 + parent.encoded_len(),
            })
            .sum();
        nodes
    }

    fn nodes(&self) -> impl Iterator<Item = Option<NodeRef<'a>>> + use<'a> {
        let tree = self.tree;
        (0..self.count).map(move |i| tree.node(NodeIndex(i)))
    }
}

impl Encode for EncodedNodes<'_> {
    fn encoded_len(&self) -> usize {
        conclave_codec::varint_len(self.body) + self.body
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        conclave_codec::write_varint(out, self.body)?;
        for node in self.nodes() {
            match node {
                None => out.push(0),
                Some(NodeRef::Leaf(leaf)) => {
                    out.extend_from_slice(&[1, crate::messages::NodeType::Leaf as u8]);
                    leaf.encode(out)?;
                }
                Some(NodeRef::Parent(parent)) => {
                    out.extend_from_slice(&[1, crate::messages::NodeType::Parent as u8]);
                    parent.encode(out)?;
                }
            }
        }
        Ok(())
    }
}
