//! Changes to the tree from proposals (RFC 9420 §12.1.1–§12.1.3) and the extending and
//! truncating they imply (RFC 9420 §7.7).

use super::{RatchetTree, SubtreeStats, TreeError, leaf_pos, pos};
use crate::messages::{LeafIndex, LeafNode};
use crate::tree_math::{NodeIndex, TreeSize};

impl RatchetTree {
    /// The leftmost blank leaf, if any. O(log n) by the per-subtree leaf counts.
    pub fn leftmost_blank_leaf(&self) -> Option<LeafIndex> {
        let mut node = self.size.root();
        if self.stat(node).leaves >= self.size.leaf_count() {
            return None;
        }
        while let (Some(left), Some(right)) = (self.size.left(node), self.size.right(node)) {
            // A full tree: the subtree of a level-k node has 2^k leaves.
            let capacity = 1u64 << left.level();
            node = if u64::from(self.stat(left).leaves) < capacity {
                left
            } else {
                right
            };
        }
        node.leaf()
    }

    /// Applies an Add (RFC 9420 §12.1.1): the new member goes to the leftmost blank leaf,
    /// or, if there is none, the tree is extended to the right (§7.7) and it takes the
    /// first new leaf; the new leaf is added (in order) to `unmerged_leaves` of every
    /// non-blank parent on its direct path. Returns the new member's leaf index.
    ///
    /// The leaf node itself is not validated here (see RFC 9420 §7.3, §10.1).
    pub fn add_leaf(&mut self, leaf_node: LeafNode) -> Result<LeafIndex, TreeError> {
        let leaf = match self.leftmost_blank_leaf() {
            Some(leaf) => leaf,
            None => {
                let first_new = LeafIndex(self.size.leaf_count());
                self.extend()?;
                first_new
            }
        };
        let path: Vec<NodeIndex> = self.size.direct_path(leaf.node()).collect();
        for node in path {
            if let Some(parent) = self.parent_mut(node)
                && let Err(at) = parent.unmerged_leaves.binary_search(&leaf)
            {
                parent.unmerged_leaves.insert(at, leaf);
            }
        }
        self.set_leaf_slot(leaf, Some(leaf_node));
        Ok(leaf)
    }

    /// Applies an Update (RFC 9420 §12.1.2): replaces the sender's leaf node and blanks the
    /// parent nodes on its direct path. The sender's leaf must be non-blank.
    pub fn update_leaf(&mut self, sender: LeafIndex, leaf_node: LeafNode) -> Result<(), TreeError> {
        self.require_member(sender)?;
        self.set_leaf_slot(sender, Some(leaf_node));
        self.blank_direct_path(sender)
    }

    /// Applies a Remove (RFC 9420 §12.1.3): blanks the leaf and its direct path, then
    /// truncates the tree while its right half has no member (§7.7). The leaf must be
    /// non-blank. Returns the removed leaf node.
    pub fn remove_leaf(&mut self, removed: LeafIndex) -> Result<LeafNode, TreeError> {
        self.require_member(removed)?;
        let old = self
            .set_leaf_slot(removed, None)
            .ok_or(TreeError::BlankLeaf(removed))?;
        self.blank_direct_path(removed)?;
        self.truncate();
        Ok(old)
    }

    /// Blanks every parent node on the direct path of `leaf` (RFC 9420 §7.4, §12.1.2,
    /// §12.1.3).
    pub fn blank_direct_path(&mut self, leaf: LeafIndex) -> Result<(), TreeError> {
        if !self.size.contains_leaf(leaf) {
            return Err(TreeError::LeafOutOfRange(leaf));
        }
        let path: Vec<NodeIndex> = self.size.direct_path(leaf.node()).collect();
        for node in path {
            if self.parent_node(node).is_some() {
                self.set_parent_slot(node, None);
            }
        }
        Ok(())
    }

    /// Removes the right half of the tree (and the root) while that half holds no member
    /// (RFC 9420 §7.7, §12.1.3). Never shrinks below one leaf.
    pub fn truncate(&mut self) {
        while self.size.leaf_count() > 1 {
            let root = self.size.root();
            let Some(right) = self.size.right(root) else {
                return;
            };
            if self.stat(right).leaves > 0 {
                return;
            }
            let Some(half) = TreeSize::new(self.size.leaf_count() / 2) else {
                return;
            };
            // The array of a full tree with n/2 leaves is a prefix of the n-leaf one.
            let leaves = half.leaf_count() as usize;
            let nodes = leaves.saturating_mul(2).saturating_sub(1);
            self.leaves.truncate(leaves);
            self.parents.truncate(leaves.saturating_sub(1));
            self.stats.truncate(nodes);
            self.hashes.resize(nodes);
            self.size = half;
        }
    }

    /// Doubles the number of leaves (RFC 9420 §7.7): a new blank root whose left subtree is
    /// the old tree and whose right subtree is all blank.
    fn extend(&mut self) -> Result<(), TreeError> {
        let old_root = self.size.root();
        let doubled = self
            .size
            .leaf_count()
            .checked_mul(2)
            .and_then(TreeSize::full_for)
            .ok_or(TreeError::TooLarge)?;
        let leaves = doubled.leaf_count() as usize;
        let nodes = leaves.saturating_mul(2).saturating_sub(1);
        let root_stats = self.stat(old_root);
        self.leaves.resize(leaves, None);
        self.parents.resize(leaves.saturating_sub(1), None);
        self.stats.resize(nodes, SubtreeStats::default());
        self.hashes.resize(nodes);
        self.size = doubled;
        if let Some(stat) = pos(doubled.root()).and_then(|i| self.stats.get_mut(i)) {
            *stat = root_stats;
        }
        Ok(())
    }

    fn require_member(&self, leaf: LeafIndex) -> Result<(), TreeError> {
        match self
            .leaves
            .get(leaf_pos(leaf).ok_or(TreeError::LeafOutOfRange(leaf))?)
        {
            None => Err(TreeError::LeafOutOfRange(leaf)),
            Some(None) => Err(TreeError::BlankLeaf(leaf)),
            Some(Some(_)) => Ok(()),
        }
    }
}
