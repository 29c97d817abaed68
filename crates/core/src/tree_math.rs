//! Array-based tree math (RFC 9420 §4.1, §7.1 and Appendix C).
//!
//! Nodes of a left-balanced binary tree are numbered in-order: leaf `i` is node `2i`, parent
//! nodes are odd. Every relation (parent, children, sibling, direct path, copath, common
//! ancestor) is a handful of bit operations on the index, so nothing here allocates and the
//! basic relations are O(1) for the full trees RFC 9420 uses (the number of leaves is always a
//! power of two there: the tree grows by doubling, RFC 9420 §7.7 and Appendix C).
//!
//! [`TreeSize`] also accepts leaf counts that are not powers of two. Such a tree is the full
//! tree of the next power of two truncated to its first `2n - 1` nodes: a node whose parent
//! (or right child) lies beyond the end is linked to the nearest ancestor (or left-most
//! descendant) that lies inside. For full trees every result equals Appendix C exactly.
//!
//! Node indices are `u64` so that any leaf count up to `u32::MAX` (up to `2^33 - 3` nodes)
//! is represented without overflow; leaf indices are `u32` as on the wire.

/// The index of a leaf (`uint32 leaf_index` on the wire); defined with the wire types.
pub use crate::messages::LeafIndex;

/// The index of a node in the array representation of a tree (RFC 9420 Appendix C):
/// leaves are even, parents odd.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeIndex(pub u64);

impl LeafIndex {
    /// The node index of this leaf, `2 * i` (RFC 9420 Appendix C).
    pub const fn node(self) -> NodeIndex {
        // u32::MAX * 2 < u64::MAX: cannot overflow.
        NodeIndex((self.0 as u64) << 1)
    }
}

impl From<LeafIndex> for NodeIndex {
    fn from(leaf: LeafIndex) -> Self {
        leaf.node()
    }
}

impl NodeIndex {
    /// The level of the node: 0 for leaves, and for a parent one more than the level of its
    /// children in the full tree (the number of trailing one bits; RFC 9420 Appendix C).
    pub const fn level(self) -> u32 {
        self.0.trailing_ones()
    }

    /// Whether the node is a leaf (even index).
    pub const fn is_leaf(self) -> bool {
        self.0 & 1 == 0
    }

    /// The leaf index of a leaf node, `None` for a parent node (or an index beyond `u32`).
    pub fn leaf(self) -> Option<LeafIndex> {
        if self.is_leaf() {
            u32::try_from(self.0 >> 1).ok().map(LeafIndex)
        } else {
            None
        }
    }

    /// The left child in the (infinite) full tree: `x ^ (1 << (k - 1))`; `None` for a leaf.
    pub fn full_left(self) -> Option<Self> {
        let k = self.level();
        if k == 0 {
            return None;
        }
        let bit = 1u64.checked_shl(k - 1)?;
        Some(Self(self.0 ^ bit))
    }

    /// The right child in the (infinite) full tree: `x ^ (3 << (k - 1))`; `None` for a leaf.
    pub fn full_right(self) -> Option<Self> {
        let k = self.level();
        if k == 0 || k >= 63 {
            return None;
        }
        Some(Self(self.0 ^ (3u64 << (k - 1))))
    }

    /// The parent in the (infinite) full tree, ignoring the size of any actual tree
    /// (RFC 9420 Appendix C `parent` without the root check). `None` only when the result
    /// would not fit in 64 bits.
    pub fn full_parent(self) -> Option<Self> {
        let k = self.level();
        if k >= 62 {
            return None;
        }
        let b = (self.0 >> (k + 1)) & 1;
        Some(Self((self.0 | (1u64 << k)) ^ (b << (k + 1))))
    }

    /// Whether `self` is `ancestor` or lies in its subtree (in the full tree). A node of
    /// level `k` covers the indices `x - (2^k - 1) ..= x + (2^k - 1)`.
    pub fn is_in_subtree_of(self, ancestor: Self) -> bool {
        let Some(span) = 1u64.checked_shl(ancestor.level()) else {
            return true;
        };
        self.0.abs_diff(ancestor.0) < span
    }
}

/// The size of a tree: its number of leaves (at least one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TreeSize {
    leaves: u32,
}

impl TreeSize {
    /// A tree with `leaves` leaves; `None` if `leaves == 0`.
    pub const fn new(leaves: u32) -> Option<Self> {
        if leaves == 0 {
            None
        } else {
            Some(Self { leaves })
        }
    }

    /// The smallest full tree (power-of-two leaf count) with at least `leaves` leaves, as
    /// RFC 9420 §7.7 extends trees; `None` if `leaves` is 0 or above `2^31`.
    pub const fn full_for(leaves: u32) -> Option<Self> {
        if leaves == 0 {
            return None;
        }
        match leaves.checked_next_power_of_two() {
            Some(n) => Some(Self { leaves: n }),
            None => None,
        }
    }

    /// The number of leaves.
    pub const fn leaf_count(self) -> u32 {
        self.leaves
    }

    /// The number of nodes, `2n - 1` (RFC 9420 Appendix C `node_width`).
    pub const fn node_count(self) -> u64 {
        2 * (self.leaves as u64) - 1
    }

    /// Whether the leaf count is a power of two (the only shape RFC 9420 produces).
    pub const fn is_full(self) -> bool {
        self.leaves.is_power_of_two()
    }

    /// The root: `2^floor(log2(node_count)) - 1` (RFC 9420 Appendix C `root`).
    pub const fn root(self) -> NodeIndex {
        let w = self.node_count();
        let log2 = 63 - w.leading_zeros();
        NodeIndex((1u64 << log2) - 1)
    }

    /// Whether `node` is a node of this tree.
    pub const fn contains(self, node: NodeIndex) -> bool {
        node.0 < self.node_count()
    }

    /// Whether `leaf` is a leaf of this tree.
    pub const fn contains_leaf(self, leaf: LeafIndex) -> bool {
        leaf.0 < self.leaves
    }

    /// The leaves of the tree in order.
    pub fn leaves(self) -> impl DoubleEndedIterator<Item = LeafIndex> + ExactSizeIterator {
        (0..self.leaves).map(LeafIndex)
    }

    /// The left child of a parent node; `None` for a leaf or a node outside the tree.
    pub fn left(self, node: NodeIndex) -> Option<NodeIndex> {
        if !self.contains(node) {
            return None;
        }
        // The left subtree of an in-tree node always lies entirely inside the tree.
        node.full_left()
    }

    /// The right child of a parent node; `None` for a leaf or a node outside the tree.
    ///
    /// In a truncated (non-full) tree the full-tree right child may lie beyond the end; the
    /// actual right child is then its left-most descendant inside the tree.
    pub fn right(self, node: NodeIndex) -> Option<NodeIndex> {
        if !self.contains(node) {
            return None;
        }
        let mut r = node.full_right()?;
        while !self.contains(r) {
            // `node + 1` is an in-tree leaf of the right subtree, so this ends there at
            // the latest; `full_left` is `None` only for a leaf, which cannot be out of range
            // here, so the fallback never triggers.
            r = r.full_left()?;
        }
        Some(r)
    }

    /// The parent of a node; `None` for the root or a node outside the tree
    /// (RFC 9420 Appendix C `parent`).
    pub fn parent(self, node: NodeIndex) -> Option<NodeIndex> {
        if !self.contains(node) || node == self.root() {
            return None;
        }
        let mut p = node.full_parent()?;
        while !self.contains(p) {
            p = p.full_parent()?;
        }
        Some(p)
    }

    /// The other child of the node's parent; `None` for the root or a node outside the tree
    /// (RFC 9420 Appendix C `sibling`).
    pub fn sibling(self, node: NodeIndex) -> Option<NodeIndex> {
        let p = self.parent(node)?;
        if node < p {
            self.right(p)
        } else {
            self.left(p)
        }
    }

    /// The direct path of a node: its ancestors from its parent up to and including the root
    /// (RFC 9420 §4.1, Appendix C `direct_path`). Empty for the root and for nodes outside
    /// the tree. Does not allocate.
    pub fn direct_path(self, node: NodeIndex) -> DirectPath {
        DirectPath {
            size: self,
            current: if self.contains(node) {
                Some(node)
            } else {
                None
            },
        }
    }

    /// The copath of a node: the siblings of the node and of each node on its direct path
    /// except the root, ordered from leaf to root (RFC 9420 §4.1, Appendix C `copath`).
    /// Empty for the root and for nodes outside the tree. Does not allocate.
    pub fn copath(self, node: NodeIndex) -> Copath {
        Copath {
            size: self,
            current: if self.contains(node) {
                Some(node)
            } else {
                None
            },
        }
    }

    /// The lowest node that is `x`, `y` or on both of their direct paths
    /// (RFC 9420 Appendix C `common_ancestor_semantic`); `None` if either is outside the tree.
    pub fn common_ancestor(self, x: NodeIndex, y: NodeIndex) -> Option<NodeIndex> {
        if !self.contains(x) || !self.contains(y) {
            return None;
        }
        // Lowest common ancestor in the infinite full tree: the node at the level where the
        // two indices agree on all higher bits (Appendix C `common_ancestor_direct`).
        let (lx, ly) = (x.level() + 1, y.level() + 1);
        let mut a = if lx <= ly && x.0 >> ly == y.0 >> ly {
            y
        } else if ly <= lx && x.0 >> lx == y.0 >> lx {
            x
        } else {
            let k = 64 - (x.0 ^ y.0).leading_zeros();
            // k >= 1 here (x != y), and k <= 34 since both are below 2^34.
            NodeIndex(((x.0 >> k) << k) + (1u64 << (k - 1)) - 1)
        };
        // In a truncated tree the in-tree ancestors are the full-tree ancestors inside it.
        while !self.contains(a) {
            a = a.full_parent()?;
        }
        Some(a)
    }

    /// The indices of the leaves below `node` (inclusive range), or `None` if `node` is
    /// outside the tree.
    pub fn leaf_range(self, node: NodeIndex) -> Option<(LeafIndex, LeafIndex)> {
        if !self.contains(node) {
            return None;
        }
        let half = (1u64 << node.level()) - 1;
        let first = node.0 - half;
        let last = (node.0 + half).min(self.node_count() - 1);
        Some((NodeIndex(first).leaf()?, NodeIndex(last).leaf()?))
    }
}

/// Iterator over a direct path (see [`TreeSize::direct_path`]).
#[derive(Debug, Clone)]
pub struct DirectPath {
    size: TreeSize,
    current: Option<NodeIndex>,
}

impl Iterator for DirectPath {
    type Item = NodeIndex;

    fn next(&mut self) -> Option<NodeIndex> {
        let next = self.size.parent(self.current?);
        self.current = next;
        next
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(34))
    }
}

/// Iterator over a copath (see [`TreeSize::copath`]).
#[derive(Debug, Clone)]
pub struct Copath {
    size: TreeSize,
    current: Option<NodeIndex>,
}

impl Iterator for Copath {
    type Item = NodeIndex;

    fn next(&mut self) -> Option<NodeIndex> {
        let node = self.current?;
        let sibling = self.size.sibling(node);
        self.current = self.size.parent(node);
        sibling
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(34))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn size(n: u32) -> TreeSize {
        TreeSize::new(n).unwrap()
    }

    /// RFC 9420 Appendix C reference `parent` without root check, for comparison.
    fn rfc_parent(x: u64) -> u64 {
        let k = x.trailing_ones();
        let b = (x >> (k + 1)) & 1;
        (x | (1 << k)) ^ (b << (k + 1))
    }

    #[test]
    fn eight_leaf_tree_matches_appendix_c() {
        let s = size(8);
        assert_eq!(s.node_count(), 15);
        assert_eq!(s.root(), NodeIndex(7));
        assert_eq!(s.left(NodeIndex(7)), Some(NodeIndex(3)));
        assert_eq!(s.right(NodeIndex(7)), Some(NodeIndex(11)));
        assert_eq!(s.parent(NodeIndex(7)), None);
        assert_eq!(s.sibling(NodeIndex(7)), None);
        assert_eq!(s.left(NodeIndex(4)), None);
        assert_eq!(s.right(NodeIndex(4)), None);
        assert_eq!(s.parent(NodeIndex(4)), Some(NodeIndex(5)));
        assert_eq!(s.sibling(NodeIndex(4)), Some(NodeIndex(6)));
        let dp: Vec<_> = s.direct_path(NodeIndex(4)).collect();
        assert_eq!(dp, vec![NodeIndex(5), NodeIndex(3), NodeIndex(7)]);
        let cp: Vec<_> = s.copath(NodeIndex(4)).collect();
        assert_eq!(cp, vec![NodeIndex(6), NodeIndex(1), NodeIndex(11)]);
        assert_eq!(s.direct_path(NodeIndex(7)).count(), 0);
        assert_eq!(s.copath(NodeIndex(7)).count(), 0);
        assert_eq!(
            s.common_ancestor(NodeIndex(0), NodeIndex(6)),
            Some(NodeIndex(3))
        );
        assert_eq!(
            s.common_ancestor(NodeIndex(8), NodeIndex(6)),
            Some(NodeIndex(7))
        );
        assert_eq!(
            s.common_ancestor(NodeIndex(5), NodeIndex(6)),
            Some(NodeIndex(5))
        );
        assert_eq!(
            s.common_ancestor(NodeIndex(3), NodeIndex(3)),
            Some(NodeIndex(3))
        );
        assert_eq!(
            s.leaf_range(NodeIndex(11)),
            Some((LeafIndex(4), LeafIndex(7)))
        );
        assert_eq!(s.parent(NodeIndex(15)), None);
        assert_eq!(s.direct_path(NodeIndex(99)).count(), 0);
    }

    #[test]
    fn single_leaf_tree() {
        let s = size(1);
        assert_eq!(s.root(), NodeIndex(0));
        assert_eq!(s.parent(NodeIndex(0)), None);
        assert_eq!(s.sibling(NodeIndex(0)), None);
        assert_eq!(s.direct_path(NodeIndex(0)).count(), 0);
        assert_eq!(s.copath(NodeIndex(0)).count(), 0);
        assert!(TreeSize::new(0).is_none());
    }

    #[test]
    fn truncated_three_leaf_tree() {
        let s = size(3);
        assert_eq!(s.root(), NodeIndex(3));
        assert_eq!(s.right(NodeIndex(3)), Some(NodeIndex(4)));
        assert_eq!(s.parent(NodeIndex(4)), Some(NodeIndex(3)));
        assert_eq!(s.sibling(NodeIndex(4)), Some(NodeIndex(1)));
        assert_eq!(s.sibling(NodeIndex(1)), Some(NodeIndex(4)));
        assert_eq!(
            s.leaf_range(NodeIndex(3)),
            Some((LeafIndex(0), LeafIndex(2)))
        );
    }

    #[test]
    fn extreme_sizes_do_not_overflow() {
        let s = size(u32::MAX);
        let last = LeafIndex(u32::MAX - 1).node();
        assert!(s.contains(last));
        assert_eq!(s.root(), NodeIndex((1 << 32) - 1));
        let dp: Vec<_> = s.direct_path(last).collect();
        assert_eq!(dp.last(), Some(&s.root()));
        assert!(dp.len() <= 33);
        assert_eq!(s.copath(last).count(), dp.len());
        assert_eq!(s.common_ancestor(NodeIndex(0), last), Some(s.root()));
        assert_eq!(
            NodeIndex(u64::MAX).full_left(),
            Some(NodeIndex(u64::MAX >> 1))
        );
        assert_eq!(NodeIndex(u64::MAX).full_right(), None);
        assert_eq!(NodeIndex(u64::MAX).full_parent(), None);
        assert_eq!(TreeSize::full_for(5), Some(size(8)));
        assert_eq!(TreeSize::full_for(u32::MAX), None);
        assert_eq!(TreeSize::full_for(1 << 31), Some(size(1 << 31)));
        let big = size(1 << 31);
        assert_eq!(big.root(), NodeIndex((1 << 31) - 1));
        assert_eq!(big.parent(big.root()), None);
    }

    fn tree_and_node() -> impl Strategy<Value = (TreeSize, NodeIndex)> {
        prop_oneof![1u32..=300, 1u32..=u32::MAX]
            .prop_flat_map(|n| (Just(size(n)), 0..size(n).node_count()))
            .prop_map(|(s, x)| (s, NodeIndex(x)))
    }

    fn tree_and_two_nodes() -> impl Strategy<Value = (TreeSize, NodeIndex, NodeIndex)> {
        prop_oneof![1u32..=300, 1u32..=u32::MAX]
            .prop_flat_map(|n| {
                let w = size(n).node_count();
                (Just(size(n)), 0..w, 0..w)
            })
            .prop_map(|(s, x, y)| (s, NodeIndex(x), NodeIndex(y)))
    }

    proptest! {
        #[test]
        fn children_and_parent_are_inverse((s, x) in tree_and_node()) {
            if let Some(l) = s.left(x) {
                prop_assert!(s.contains(l));
                prop_assert_eq!(s.parent(l), Some(x));
                prop_assert!(l < x);
            }
            if let Some(r) = s.right(x) {
                prop_assert!(s.contains(r));
                prop_assert_eq!(s.parent(r), Some(x));
                prop_assert!(r > x);
            }
            prop_assert_eq!(x.is_leaf(), s.left(x).is_none());
            prop_assert_eq!(x.is_leaf(), s.right(x).is_none());
            match s.parent(x) {
                None => prop_assert_eq!(x, s.root()),
                Some(p) => {
                    prop_assert!(s.left(p) == Some(x) || s.right(p) == Some(x));
                    let sib = s.sibling(x).unwrap();
                    prop_assert_ne!(sib, x);
                    prop_assert_eq!(s.parent(sib), Some(p));
                    prop_assert_eq!(s.sibling(sib), Some(x));
                    prop_assert!(x.is_in_subtree_of(p));
                }
            }
        }

        #[test]
        fn full_trees_match_rfc_formulas(k in 0u32..=31, pick in any::<u64>()) {
            let s = size(1 << k);
            let x = NodeIndex(pick % s.node_count());
            if x != s.root() {
                prop_assert_eq!(s.parent(x), Some(NodeIndex(rfc_parent(x.0))));
            }
            if !x.is_leaf() {
                let lvl = x.level();
                prop_assert_eq!(s.left(x), Some(NodeIndex(x.0 ^ (1 << (lvl - 1)))));
                prop_assert_eq!(s.right(x), Some(NodeIndex(x.0 ^ (3 << (lvl - 1)))));
            }
        }

        #[test]
        fn paths_end_at_root((s, x) in tree_and_node()) {
            let dp: Vec<_> = s.direct_path(x).collect();
            let cp: Vec<_> = s.copath(x).collect();
            prop_assert_eq!(dp.len(), cp.len());
            if x == s.root() {
                prop_assert!(dp.is_empty());
            } else {
                prop_assert_eq!(dp.last().copied(), Some(s.root()));
                prop_assert_eq!(dp.first().copied(), s.parent(x));
            }
            // Each copath node is the sibling of the path node below it.
            let mut below = x;
            for (p, c) in dp.iter().zip(&cp) {
                prop_assert_eq!(s.sibling(below), Some(*c));
                prop_assert_eq!(s.parent(*c), Some(*p));
                below = *p;
            }
            // Levels strictly increase along the direct path.
            for w in dp.windows(2) {
                prop_assert!(w[0].level() < w[1].level());
            }
            if let Some((a, b)) = s.leaf_range(x) {
                prop_assert!(a <= b);
                prop_assert!(s.contains_leaf(b));
                prop_assert!(a.node().is_in_subtree_of(x) && b.node().is_in_subtree_of(x));
            }
        }

        #[test]
        fn common_ancestor_is_semantic((s, x, y) in tree_and_two_nodes()) {
            let a = s.common_ancestor(x, y).unwrap();
            let on_x = a == x || s.direct_path(x).any(|n| n == a);
            let on_y = a == y || s.direct_path(y).any(|n| n == a);
            prop_assert!(on_x && on_y);
            // Nothing lower is common: a's children are not ancestors-or-self of both.
            for child in [s.left(a), s.right(a)].into_iter().flatten() {
                let cx = child == x || s.direct_path(x).any(|n| n == child);
                let cy = child == y || s.direct_path(y).any(|n| n == child);
                prop_assert!(!(cx && cy));
            }
            prop_assert_eq!(s.common_ancestor(y, x), Some(a));
        }
    }
}
