//! Membership proofs (draft-ietf-mls-partial-02 §6): building one from a ratchet tree,
//! recomputing the root tree hash from one (RFC 9420 §7.8), and the "reference the same
//! tree" relation between two.
//!
//! The hash inputs are the tree's own (`tree::hash`), so a proof's root is computed by the
//! same encoding that computes the GroupContext's tree hash.

use conclave_crypto::CipherSuiteProvider;

use super::PartialError;
use super::messages::{CopathHash, MembershipProof};
use crate::messages::{LeafIndex, LeafNode, Node};
use crate::tree::hash::{leaf_hash_input, parent_hash_input};
use crate::tree::{NodeRef, RatchetTree};
use crate::tree_math::{NodeIndex, TreeSize};

/// A membership proof checked against a tree hash: the leaf it proves, with its index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProvenLeaf<'a> {
    /// The proven leaf's index.
    pub leaf_index: LeafIndex,
    /// The proven leaf node (its `signature_key` authenticates the member's messages,
    /// draft-ietf-mls-partial-02 §7).
    pub leaf_node: &'a LeafNode,
    /// The tree's leaf count.
    pub n_leaves: u32,
}

impl MembershipProof {
    /// The proof of `leaf` in `tree` (draft-ietf-mls-partial-02 §6): the leaf, its direct
    /// path up to the root and the tree hash of each copath node. Uses the tree's cached
    /// hashes where they are valid for the suite, else hashes a copy of the tree.
    pub fn for_leaf(
        tree: &RatchetTree,
        cs: &dyn CipherSuiteProvider,
        leaf: LeafIndex,
    ) -> Result<Self, PartialError> {
        let size = tree.size();
        let leaf_node = tree.leaf(leaf).ok_or(PartialError::BlankLeaf(leaf))?;
        let own = leaf.node();
        let mut direct_path_nodes = Vec::with_capacity(size.root().level() as usize + 1);
        direct_path_nodes.push(Some(Node::leaf(leaf_node.clone())));
        for node in size.direct_path(own) {
            direct_path_nodes.push(match tree.node(node) {
                Some(NodeRef::Parent(parent)) => Some(Node::parent(parent.clone())),
                Some(NodeRef::Leaf(_)) => return Err(PartialError::ParentExpected(node)),
                None => None,
            });
        }
        let suite = cs.cipher_suite();
        let cached: Option<Vec<CopathHash>> = size
            .copath(own)
            .map(|node| {
                tree.cached_tree_hash(suite, node).map(|hash| CopathHash {
                    hash_value: hash.to_vec(),
                })
            })
            .collect();
        let copath_hashes = match cached {
            Some(hashes) => hashes,
            None => {
                let mut tree = tree.clone();
                size.copath(own)
                    .map(|node| {
                        tree.node_tree_hash(cs, node)
                            .map(|hash_value| CopathHash { hash_value })
                    })
                    .collect::<Result<_, _>>()?
            }
        };
        Ok(Self {
            leaf_index: leaf,
            n_leaves: size.leaf_count(),
            direct_path_nodes,
            copath_hashes,
        })
    }

    /// The size of the tree the proof is about: `n_leaves` must be a power of two (an MLS
    /// tree is always full, RFC 9420 §7.7) with `leaf_index` inside it
    /// (draft-ietf-mls-partial-02 §6).
    pub fn tree_size(&self) -> Result<TreeSize, PartialError> {
        let size = TreeSize::new(self.n_leaves)
            .filter(|size| size.is_full())
            .ok_or(PartialError::InvalidLeafCount(self.n_leaves))?;
        if !size.contains_leaf(self.leaf_index) {
            return Err(PartialError::LeafOutOfRange {
                leaf_index: self.leaf_index,
                n_leaves: self.n_leaves,
            });
        }
        Ok(size)
    }

    /// The proven leaf node, if the proof's first node is a leaf (unverified).
    pub fn leaf_node(&self) -> Option<&LeafNode> {
        match self.direct_path_nodes.first() {
            Some(Some(Node::Leaf(leaf))) => Some(leaf),
            _ => None,
        }
    }

    /// The nodes of the proven leaf's direct path with their node indices, from the leaf's
    /// parent up to the root (`None`: blank), after checking the proof's shape.
    pub fn direct_path(&self) -> Result<Vec<(NodeIndex, Option<&Node>)>, PartialError> {
        let size = self.check_shape()?;
        Ok(size
            .direct_path(self.leaf_index.node())
            .zip(self.direct_path_nodes.iter().skip(1))
            .map(|(index, node)| (index, node.as_ref()))
            .collect())
    }

    /// Checks the lengths and node types of the proof (draft-ietf-mls-partial-02 §6).
    fn check_shape(&self) -> Result<TreeSize, PartialError> {
        let size = self.tree_size()?;
        let depth = size.root().level() as usize;
        if self.direct_path_nodes.len() != depth + 1 {
            return Err(PartialError::ProofLength {
                field: "direct_path_nodes",
                expected: depth + 1,
                actual: self.direct_path_nodes.len(),
            });
        }
        if self.copath_hashes.len() != depth {
            return Err(PartialError::ProofLength {
                field: "copath_hashes",
                expected: depth,
                actual: self.copath_hashes.len(),
            });
        }
        if let Some(Some(Node::Parent(_))) = self.direct_path_nodes.first() {
            return Err(PartialError::NotALeaf);
        }
        for (index, node) in size
            .direct_path(self.leaf_index.node())
            .zip(self.direct_path_nodes.iter().skip(1))
        {
            if let Some(Node::Leaf(_)) = node {
                return Err(PartialError::ParentExpected(index));
            }
        }
        Ok(size)
    }

    /// The root tree hash the proof implies (draft-ietf-mls-partial-02 §6; a blank leaf
    /// hashes as blank, but only [`MembershipProof::verify`] proves a member): the leaf's
    /// `TreeHashInput`, then at each level the parent's with the copath hash on the copath
    /// side, by the recursion of RFC 9420 §7.8.
    pub fn root_tree_hash(&self, cs: &dyn CipherSuiteProvider) -> Result<Vec<u8>, PartialError> {
        let size = self.check_shape()?;
        let hash_len = cs.hash_len();
        let mut current = self.leaf_index.node();
        let mut hash = cs.hash(&leaf_hash_input(self.leaf_index, self.leaf_node())?);
        let levels = size
            .direct_path(current)
            .zip(self.direct_path_nodes.iter().skip(1))
            .zip(self.copath_hashes.iter().enumerate());
        for ((parent, node), (position, copath)) in levels {
            if copath.hash_value.len() != hash_len {
                return Err(PartialError::CopathHashLength {
                    position,
                    expected: hash_len,
                    actual: copath.hash_value.len(),
                });
            }
            let parent_node = match node {
                Some(Node::Parent(parent_node)) => Some(parent_node.as_ref()),
                Some(Node::Leaf(_)) => return Err(PartialError::ParentExpected(parent)),
                None => None,
            };
            let copath_hash = copath.hash_value.as_slice();
            let input = if size.left(parent) == Some(current) {
                parent_hash_input(parent_node, &hash, copath_hash)?
            } else {
                parent_hash_input(parent_node, copath_hash, &hash)?
            };
            hash = cs.hash(&input);
            current = parent;
        }
        Ok(hash)
    }

    /// Checks that the proof is valid relative to `tree_hash` (draft-ietf-mls-partial-02
    /// §6) and returns the proven leaf.
    pub fn verify(
        &self,
        cs: &dyn CipherSuiteProvider,
        tree_hash: &[u8],
    ) -> Result<ProvenLeaf<'_>, PartialError> {
        let root = self.root_tree_hash(cs)?;
        if root != tree_hash {
            return Err(PartialError::TreeHashMismatch(self.leaf_index));
        }
        self.proven_leaf()
    }

    /// The proven leaf of a proof whose root was already checked.
    fn proven_leaf(&self) -> Result<ProvenLeaf<'_>, PartialError> {
        Ok(ProvenLeaf {
            leaf_index: self.leaf_index,
            leaf_node: self.leaf_node().ok_or(PartialError::NotALeaf)?,
            n_leaves: self.n_leaves,
        })
    }

    /// Whether `self` and `other` reference the same tree (draft-ietf-mls-partial-02 §6):
    /// equal `n_leaves` and identical root tree hashes. Returns that root. `what` names the
    /// pair in the error.
    pub fn same_tree_as(
        &self,
        other: &MembershipProof,
        cs: &dyn CipherSuiteProvider,
        what: &'static str,
    ) -> Result<Vec<u8>, PartialError> {
        if self.n_leaves != other.n_leaves {
            return Err(PartialError::DifferentTrees(what));
        }
        let root = self.root_tree_hash(cs)?;
        if other.root_tree_hash(cs)? != root {
            return Err(PartialError::DifferentTrees(what));
        }
        Ok(root)
    }
}
