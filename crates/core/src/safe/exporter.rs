//! The safe exporter (draft-ietf-mls-extensions-10 §4.4): a forward-secure exported secret
//! per component and epoch, from the Exporter Tree.
//!
//! The Exporter Tree has the structure of RFC 9420 §9's secret tree with 2^16 leaves, one
//! per `ComponentID`, and the epoch's `application_export_secret` at the root; each parent's
//! children are `ExpandWithLabel(., "tree", "left" | "right", KDF.Nh)`. `SafeExportSecret(id)`
//! is the secret of leaf `id`.
//!
//! Nodes are derived on demand. Exporting a leaf consumes the secrets on its path from the
//! nearest stored ancestor down and deletes them, storing the siblings met on the way so that
//! the other components can still derive theirs (the RFC 9420 §9.2 deletion schedule, as the
//! secret tree does). So a component's secret can be exported once per epoch: afterwards no
//! stored node covers its leaf and [`ExporterTree::export`] refuses with
//! [`SafeError::ExportConsumed`]. The caller keeps the secret it was given.

use std::collections::BTreeMap;

use conclave_codec::{Decode, Encode};
use conclave_crypto::labels::expand_with_label;
use conclave_crypto::{CipherSuiteProvider, Secret};

use super::SafeError;
use crate::messages::ComponentId;
use crate::tree_math::{LeafIndex, NodeIndex, TreeSize};

/// The number of leaves of an Exporter Tree: one per 16-bit `ComponentID`
/// (draft-ietf-mls-extensions-10 §4.4).
pub const EXPORTER_TREE_LEAVES: u32 = 1 << 16;

/// The shape of every Exporter Tree. Evaluated at compile time: the panic cannot happen at
/// run time (`TreeSize::new` is `None` only for zero leaves).
#[allow(clippy::panic)]
const SIZE: TreeSize = match TreeSize::new(EXPORTER_TREE_LEAVES) {
    Some(size) => size,
    None => panic!("an exporter tree has 2^16 leaves"),
};

/// The Exporter Tree of one epoch (draft-ietf-mls-extensions-10 §4.4), derived lazily.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExporterTree {
    /// Node secrets derived but not consumed, by node index (the frontier). Every leaf whose
    /// secret was not exported has exactly one stored node on its path to the root.
    nodes: BTreeMap<u32, Secret>,
    /// Whether the tree was ever available in this state: a state stored before the
    /// exporter existed has none for its current epoch.
    available: bool,
}

impl ExporterTree {
    /// A tree with `application_export_secret` at its root.
    pub fn new(application_export_secret: Secret) -> Self {
        let mut nodes = BTreeMap::new();
        nodes.insert(root(), application_export_secret);
        Self {
            nodes,
            available: true,
        }
    }

    /// No tree: the epoch's `application_export_secret` is unknown (a state stored before
    /// the safe exporter existed). Every export is refused with
    /// [`SafeError::ExporterUnavailable`].
    pub fn unavailable() -> Self {
        Self {
            nodes: BTreeMap::new(),
            available: false,
        }
    }

    /// Whether the tree exists (see [`ExporterTree::unavailable`]).
    pub fn is_available(&self) -> bool {
        self.available
    }

    /// How many node secrets are stored (at most 16 per exported component).
    pub fn stored_nodes(&self) -> usize {
        self.nodes.len()
    }

    /// Whether `component`'s secret can still be exported in this epoch.
    pub fn can_export(&self, component: ComponentId) -> bool {
        self.stored_ancestor(component).is_some()
    }

    /// `SafeExportSecret(ComponentID) = tree_node_[LeafIndex(ComponentID)]_secret`
    /// (draft-ietf-mls-extensions-10 §4.4), derived from the nearest stored ancestor. The
    /// secret is consumed: the node secrets on its path are deleted and only the siblings
    /// other components need are kept (RFC 9420 §9.2), so a second export of the same
    /// component in this epoch is [`SafeError::ExportConsumed`]. Nothing changes if the
    /// export fails.
    pub fn export(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        component: ComponentId,
    ) -> Result<Secret, SafeError> {
        if !self.available {
            return Err(SafeError::ExporterUnavailable);
        }
        let target = leaf_node(component);
        let start = self
            .stored_ancestor(component)
            .ok_or(SafeError::ExportConsumed(component.0))?;
        let mut secret = self
            .nodes
            .get(&node_u32(start)?)
            .ok_or(SafeError::ExportConsumed(component.0))?
            .clone();
        let nh = cs.hash_len();
        let mut current = start;
        let mut siblings = Vec::new();
        while current != target {
            let malformed = SafeError::MalformedExporterTree("a node outside the tree");
            let left = SIZE.left(current).ok_or(malformed.clone())?;
            let right = SIZE.right(current).ok_or(malformed)?;
            let left_secret = expand_with_label(cs, secret.as_bytes(), "tree", b"left", nh)?;
            let right_secret = expand_with_label(cs, secret.as_bytes(), "tree", b"right", nh)?;
            if target < current {
                siblings.push((node_u32(right)?, right_secret));
                current = left;
                secret = left_secret;
            } else {
                siblings.push((node_u32(left)?, left_secret));
                current = right;
                secret = right_secret;
            }
        }
        // Every derivation succeeded: adopt it.
        self.nodes.remove(&node_u32(start)?);
        self.nodes.extend(siblings);
        Ok(secret)
    }

    /// The stored node on the path from `component`'s leaf to the root, if any.
    fn stored_ancestor(&self, component: ComponentId) -> Option<NodeIndex> {
        let target = leaf_node(component);
        std::iter::once(target)
            .chain(SIZE.direct_path(target))
            .find(|n| u32::try_from(n.0).is_ok_and(|n| self.nodes.contains_key(&n)))
    }

    /// The stored form: the frontier's node secrets (`None` for an unavailable tree).
    pub(crate) fn to_stored(&self) -> Option<StoredExporterTree> {
        self.available.then(|| StoredExporterTree {
            nodes: self
                .nodes
                .iter()
                .map(|(node, secret)| StoredExporterNode {
                    node: *node,
                    secret: secret.clone(),
                })
                .collect(),
        })
    }

    /// Restores a tree from [`ExporterTree::to_stored`]: node indices must lie in the tree,
    /// appear once, and no stored node may lie below another (each leaf has at most one
    /// source).
    pub(crate) fn from_stored(stored: StoredExporterTree) -> Result<Self, SafeError> {
        let mut nodes = BTreeMap::new();
        for entry in stored.nodes {
            if !SIZE.contains(NodeIndex(u64::from(entry.node))) {
                return Err(SafeError::MalformedExporterTree("a node outside the tree"));
            }
            if nodes.insert(entry.node, entry.secret).is_some() {
                return Err(SafeError::MalformedExporterTree("a node stored twice"));
            }
        }
        let tree = Self {
            nodes,
            available: true,
        };
        for node in tree.nodes.keys() {
            let nested = SIZE
                .direct_path(NodeIndex(u64::from(*node)))
                .any(|a| u32::try_from(a.0).is_ok_and(|a| tree.nodes.contains_key(&a)));
            if nested {
                return Err(SafeError::MalformedExporterTree(
                    "a stored node below another stored node",
                ));
            }
        }
        Ok(tree)
    }
}

/// The stored form of an available [`ExporterTree`] (group state storage only: it holds
/// secrets).
#[derive(Debug, Clone, Encode, Decode)]
pub(crate) struct StoredExporterTree {
    nodes: Vec<StoredExporterNode>,
}

#[derive(Debug, Clone, Encode, Decode)]
struct StoredExporterNode {
    node: u32,
    secret: Secret,
}

/// The root of the Exporter Tree: node `2^16 - 1`.
fn root() -> u32 {
    // 2^16 - 1 fits a u32.
    u32::try_from(SIZE.root().0).unwrap_or(u32::MAX)
}

/// The node of `component`'s leaf: `LeafIndex(ComponentID)`, node `2 * id`.
fn leaf_node(component: ComponentId) -> NodeIndex {
    LeafIndex(u32::from(component.0)).node()
}

fn node_u32(node: NodeIndex) -> Result<u32, SafeError> {
    u32::try_from(node.0).map_err(|_| SafeError::MalformedExporterTree("a node outside the tree"))
}
