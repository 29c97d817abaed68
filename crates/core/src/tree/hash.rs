//! Tree hashes (RFC 9420 §7.8) with a per-node cache.
//!
//! Each node's hash is cached until the node or a descendant changes. Invalidation walks
//! up the direct path (O(log n)), and recomputing the root afterwards hashes only the
//! invalid nodes.

use conclave_codec::{CodecError, Encode, write_opaque};
use conclave_crypto::{CipherSuite, CipherSuiteProvider};

use super::{NodeRef, RatchetTree, TreeError, pos};
use crate::messages::{LeafIndex, LeafNode, NodeType, ParentNode};
use crate::tree_math::{NodeIndex, TreeSize};

/// Cached tree hashes, one slot per node, for one cipher suite.
///
/// The hashes sit in one flat buffer (`hash_len` bytes per node) with a validity flag per
/// node, so that cloning the tree to stage a commit copies two arrays instead of
/// allocating one vector per node.
#[derive(Debug, Clone)]
pub(super) struct HashCache {
    /// The suite the cached hashes were computed with.
    suite: Option<CipherSuite>,
    /// Length of every hash of `suite` (0 until the first hash is stored).
    hash_len: usize,
    /// `hash_len` bytes per node, in node-index order.
    bytes: Vec<u8>,
    /// `false`: not computed or invalidated.
    valid: Vec<bool>,
    /// Number of node hashes computed so far (for tests and diagnostics).
    computations: u64,
}

impl HashCache {
    pub(super) fn new(nodes: usize) -> Self {
        Self {
            suite: None,
            hash_len: 0,
            bytes: Vec::new(),
            valid: vec![false; nodes],
            computations: 0,
        }
    }

    /// Forgets the hashes of `node` and all its ancestors. The whole direct path is walked
    /// (O(log n)): an invalid node may have valid ancestors, e.g. in a tree loaded with only
    /// the larger subtrees' hashes.
    pub(super) fn invalidate(&mut self, size: TreeSize, node: NodeIndex) {
        for n in std::iter::once(node).chain(size.direct_path(node)) {
            if let Some(slot) = pos(n).and_then(|i| self.valid.get_mut(i)) {
                *slot = false;
            }
        }
    }

    /// Resizes to `nodes` slots (new slots are invalid).
    pub(super) fn resize(&mut self, nodes: usize) {
        self.valid.resize(nodes, false);
        self.bytes.resize(nodes.saturating_mul(self.hash_len), 0);
    }

    fn range(&self, i: usize) -> core::ops::Range<usize> {
        let start = i.saturating_mul(self.hash_len);
        start..start.saturating_add(self.hash_len)
    }

    fn get(&self, node: NodeIndex) -> Option<&[u8]> {
        let i = pos(node)?;
        if !*self.valid.get(i)? {
            return None;
        }
        self.bytes.get(self.range(i))
    }

    fn set(&mut self, node: NodeIndex, hash: &[u8]) {
        let Some(i) = pos(node).filter(|i| *i < self.valid.len()) else {
            return;
        };
        if hash.len() != self.hash_len {
            // The first hash fixes the layout (a suite's hashes all have one length).
            self.hash_len = hash.len();
            self.bytes = vec![0; self.valid.len().saturating_mul(self.hash_len)];
            self.valid.iter_mut().for_each(|v| *v = false);
        }
        let range = self.range(i);
        if let (Some(slot), Some(valid)) = (self.bytes.get_mut(range), self.valid.get_mut(i)) {
            slot.copy_from_slice(hash);
            *valid = true;
        }
    }

    /// Drops everything if the cache was filled with another suite.
    fn select_suite(&mut self, suite: CipherSuite) {
        if self.suite != Some(suite) {
            self.valid.iter_mut().for_each(|v| *v = false);
            self.suite = Some(suite);
        }
    }
}

/// Nodes at this level or above (subtrees of at least four leaves) keep their tree hash in
/// the stored group state: about a quarter of the nodes, while a loaded tree recomputes at
/// most three hashes per copath node below that level instead of every hash in the tree.
const STORED_HASH_MIN_LEVEL: u32 = 2;

/// Node hashes by node index, borrowed from the cache.
pub(crate) type NodeHashes<'a> = Vec<(NodeIndex, &'a [u8])>;

/// Encodes `TreeHashInput` for a leaf (RFC 9420 §7.8): `node_type = leaf`, then
/// `LeafNodeHashInput { uint32 leaf_index; optional<LeafNode> leaf_node; }`.
pub(crate) fn leaf_hash_input(
    index: LeafIndex,
    leaf: Option<&LeafNode>,
) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(6 + leaf.map_or(0, Encode::encoded_len));
    NodeType::Leaf.encode(&mut out)?;
    index.encode(&mut out)?;
    match leaf {
        None => out.push(0),
        Some(leaf) => {
            out.push(1);
            leaf.encode(&mut out)?;
        }
    }
    Ok(out)
}

/// Encodes `TreeHashInput` for a parent (RFC 9420 §7.8): `node_type = parent`, then
/// `ParentNodeHashInput { optional<ParentNode> parent_node; opaque left_hash<V>;
/// opaque right_hash<V>; }`.
pub(crate) fn parent_hash_input(
    parent: Option<&ParentNode>,
    left_hash: &[u8],
    right_hash: &[u8],
) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(
        8 + parent.map_or(0, Encode::encoded_len) + left_hash.len() + right_hash.len(),
    );
    NodeType::Parent.encode(&mut out)?;
    match parent {
        None => out.push(0),
        Some(parent) => {
            out.push(1);
            parent.encode(&mut out)?;
        }
    }
    write_opaque(&mut out, left_hash)?;
    write_opaque(&mut out, right_hash)?;
    Ok(out)
}

impl RatchetTree {
    /// The tree hash of the root (RFC 9420 §7.8), as put in the GroupContext. Only nodes
    /// changed since the last call are hashed again.
    pub fn tree_hash(&mut self, cs: &dyn CipherSuiteProvider) -> Result<Vec<u8>, TreeError> {
        self.node_tree_hash(cs, self.size.root())
    }

    /// The tree hash of `node` (RFC 9420 §7.8), from the cache where valid.
    pub fn node_tree_hash(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        node: NodeIndex,
    ) -> Result<Vec<u8>, TreeError> {
        if !self.size.contains(node) {
            return Err(TreeError::NodeOutOfRange(node));
        }
        self.hashes.select_suite(cs.cipher_suite());
        self.ensure_hash(cs, node)?;
        self.hashes
            .get(node)
            .map(<[u8]>::to_vec)
            .ok_or(TreeError::NodeOutOfRange(node))
    }

    /// The tree hash of every node, in node-index order (RFC 9420 §7.8).
    pub fn all_tree_hashes(
        &mut self,
        cs: &dyn CipherSuiteProvider,
    ) -> Result<Vec<Vec<u8>>, TreeError> {
        self.tree_hash(cs)?;
        (0..self.size.node_count())
            .map(|i| {
                self.hashes
                    .get(NodeIndex(i))
                    .map(<[u8]>::to_vec)
                    .ok_or(TreeError::NodeOutOfRange(NodeIndex(i)))
            })
            .collect()
    }

    /// The cached tree hashes worth storing with the group state: those of valid nodes at
    /// level [`STORED_HASH_MIN_LEVEL`] or above, with the suite they were computed with.
    /// Storage is trusted like the rest of the state (RFC 9420 §16.8 counts local state as
    /// the member's own).
    pub(crate) fn stored_hashes(&self) -> Option<(CipherSuite, NodeHashes<'_>)> {
        let suite = self.hashes.suite?;
        let hashes = (0..self.size.node_count())
            .map(NodeIndex)
            .filter(|node| node.0.trailing_ones() >= STORED_HASH_MIN_LEVEL)
            .filter_map(|node| self.hashes.get(node).map(|hash| (node, hash)))
            .collect();
        Some((suite, hashes))
    }

    /// Puts hashes from [`RatchetTree::stored_hashes`] back into the cache of a tree
    /// rebuilt from the same nodes. Entries outside the tree or of the wrong length are
    /// ignored (recomputed on demand).
    pub(crate) fn restore_hashes<'a>(
        &mut self,
        suite: CipherSuite,
        hash_len: usize,
        hashes: impl IntoIterator<Item = (NodeIndex, &'a [u8])>,
    ) {
        self.hashes.select_suite(suite);
        for (node, hash) in hashes {
            if hash.len() == hash_len && self.size.contains(node) {
                self.hashes.set(node, hash);
            }
        }
    }

    /// The cached tree hash of `node` for `suite`, if it is valid: lets a caller with only a
    /// shared reference (a membership proof, draft-ietf-mls-partial-02 §6) use the hashes the
    /// last [`RatchetTree::tree_hash`] computed.
    pub(crate) fn cached_tree_hash(&self, suite: CipherSuite, node: NodeIndex) -> Option<&[u8]> {
        if self.hashes.suite != Some(suite) {
            return None;
        }
        self.hashes.get(node)
    }

    /// How many node hashes (tree hashes and original-sibling tree hashes) this tree has
    /// computed since it was created: lets tests check that a commit costs O(log n)
    /// hashing.
    pub fn tree_hash_computations(&self) -> u64 {
        self.hashes.computations
    }

    /// Fills the cache for `node` and everything below it that is invalid. Recursion depth
    /// is the tree depth (at most 32).
    fn ensure_hash(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        node: NodeIndex,
    ) -> Result<(), TreeError> {
        if self.hashes.get(node).is_some() {
            return Ok(());
        }
        let input = match node.leaf() {
            Some(leaf) => leaf_hash_input(leaf, self.leaf(leaf))?,
            None => {
                let (Some(left), Some(right)) = (self.size.left(node), self.size.right(node))
                else {
                    return Err(TreeError::NodeOutOfRange(node));
                };
                self.ensure_hash(cs, left)?;
                self.ensure_hash(cs, right)?;
                let (Some(lh), Some(rh)) = (self.hashes.get(left), self.hashes.get(right)) else {
                    return Err(TreeError::NodeOutOfRange(node));
                };
                parent_hash_input(self.parent_node(node), lh, rh)?
            }
        };
        self.hashes.computations = self.hashes.computations.saturating_add(1);
        let hash = cs.hash(&input);
        self.hashes.set(node, &hash);
        Ok(())
    }

    /// The tree hash of `node` in the tree where every leaf of `excluded` (sorted) is
    /// blanked and removed from all `unmerged_leaves` lists: the
    /// `original_sibling_tree_hash` of RFC 9420 §7.9. Subtrees without an excluded leaf
    /// use the cache, so the cost is O(|excluded| · log n) hashes.
    pub(super) fn tree_hash_excluding(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        node: NodeIndex,
        excluded: &[LeafIndex],
    ) -> Result<Vec<u8>, TreeError> {
        let Some((first, last)) = self.size.leaf_range(node) else {
            return Err(TreeError::NodeOutOfRange(node));
        };
        let start = excluded.partition_point(|l| *l < first);
        let end = excluded.partition_point(|l| *l <= last);
        let inside = excluded.get(start..end).unwrap_or_default();
        if inside.is_empty() {
            return self.node_tree_hash(cs, node);
        }
        let input = match node.leaf() {
            // An excluded leaf is blanked.
            Some(leaf) => leaf_hash_input(leaf, None)?,
            None => {
                let (Some(left), Some(right)) = (self.size.left(node), self.size.right(node))
                else {
                    return Err(TreeError::NodeOutOfRange(node));
                };
                let lh = self.tree_hash_excluding(cs, left, inside)?;
                let rh = self.tree_hash_excluding(cs, right, inside)?;
                let parent = match self.node(node) {
                    Some(NodeRef::Parent(parent)) => Some(ParentNode {
                        encryption_key: parent.encryption_key.clone(),
                        parent_hash: parent.parent_hash.clone(),
                        unmerged_leaves: parent
                            .unmerged_leaves
                            .iter()
                            .copied()
                            .filter(|l| inside.binary_search(l).is_err())
                            .collect(),
                    }),
                    _ => None,
                };
                parent_hash_input(parent.as_ref(), &lh, &rh)?
            }
        };
        self.hashes.computations = self.hashes.computations.saturating_add(1);
        Ok(cs.hash(&input))
    }
}
