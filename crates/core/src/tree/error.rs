//! Errors of the ratchet tree: each names the rule it enforces and the RFC 9420 section.

use conclave_codec::CodecError;
use conclave_crypto::CryptoError;

use crate::messages::LeafIndex;
use crate::tree_math::NodeIndex;
use crate::validation::ValidationError;

/// What went wrong building, changing or validating a ratchet tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TreeError {
    /// The `ratchet_tree` vector is empty (RFC 9420 §12.4.3.3).
    #[error("RFC 9420 §12.4.3.3: the ratchet_tree vector is empty")]
    EmptyTree,
    /// The last node of the `ratchet_tree` vector is blank; senders must truncate trailing
    /// blank nodes (RFC 9420 §12.4.3.3).
    #[error("RFC 9420 §12.4.3.3: the last node of ratchet_tree is blank (must be truncated)")]
    TrailingBlankNode,
    /// A node of the wrong kind at an array position: leaves live at even indices and
    /// parents at odd ones (RFC 9420 §12.4.3.3, Appendix C).
    #[error("RFC 9420 §12.4.3.3: node {node:?} must be a {expected} node")]
    WrongNodeType {
        /// The node's position in the array.
        node: NodeIndex,
        /// `"leaf"` or `"parent"`.
        expected: &'static str,
    },
    /// The tree has more leaves than a `uint32` leaf index can address in a full tree
    /// (RFC 9420 §4.1, §7.7).
    #[error("RFC 9420 §7.7: the tree is too large")]
    TooLarge,
    /// A leaf index outside the tree.
    #[error("RFC 9420 §4.1: leaf {0:?} is outside the tree")]
    LeafOutOfRange(LeafIndex),
    /// A node index outside the tree.
    #[error("RFC 9420 §4.1: node {0:?} is outside the tree")]
    NodeOutOfRange(NodeIndex),
    /// The leaf is blank where a member is required (RFC 9420 §12.1.2, §12.1.3).
    #[error("RFC 9420 §12.1.3: leaf {0:?} is blank")]
    BlankLeaf(LeafIndex),
    /// An UpdatePath has a number of nodes other than the length of the sender's filtered
    /// direct path (RFC 9420 §7.6, §12.4.2).
    #[error(
        "RFC 9420 §7.6: the path has {actual} nodes but the filtered direct path has {expected}"
    )]
    PathLengthMismatch {
        /// Length of the filtered direct path.
        expected: usize,
        /// Number of nodes supplied.
        actual: usize,
    },
    /// The tree hash differs from the expected one (RFC 9420 §7.8, §12.4.3.1).
    #[error("RFC 9420 §12.4.3.1: the tree hash does not match")]
    TreeHashMismatch,
    /// A non-blank parent node is not parent-hash valid: no descendant (or more than one)
    /// links to it by parent hash (RFC 9420 §7.9.2).
    #[error("RFC 9420 §7.9.2: parent node {node:?} is not parent-hash valid ({links} valid links)")]
    ParentHashInvalid {
        /// The parent node.
        node: NodeIndex,
        /// How many descendants link to it (exactly one is required).
        links: usize,
    },
    /// The committer's leaf carries a `parent_hash` other than the recomputed one
    /// (RFC 9420 §7.9.2).
    #[error("RFC 9420 §7.9.2: the committer's leaf parent_hash does not match the path")]
    CommitterParentHashMismatch,
    /// `unmerged_leaves` is not sorted in strictly increasing order (RFC 9420 §7.1).
    #[error("RFC 9420 §7.1: unmerged_leaves of node {0:?} are not in increasing order")]
    UnmergedLeavesNotSorted(NodeIndex),
    /// An unmerged leaf is not a non-blank leaf below the parent (RFC 9420 §12.4.3.1).
    #[error(
        "RFC 9420 §12.4.3.1: unmerged leaf {leaf:?} of node {node:?} is not a non-blank descendant"
    )]
    UnmergedLeafNotMember {
        /// The parent node listing it.
        node: NodeIndex,
        /// The unmerged leaf.
        leaf: LeafIndex,
    },
    /// A non-blank node between an unmerged leaf and the parent listing it does not list the
    /// leaf as unmerged too (RFC 9420 §12.4.3.1).
    #[error(
        "RFC 9420 §12.4.3.1: node {intermediate:?} lacks unmerged leaf {leaf:?} listed by {node:?}"
    )]
    UnmergedLeafMissingBelow {
        /// The parent node listing the leaf.
        node: NodeIndex,
        /// The intermediate node that should list it too.
        intermediate: NodeIndex,
        /// The unmerged leaf.
        leaf: LeafIndex,
    },
    /// Two nodes carry the same HPKE encryption key (RFC 9420 §7.3, §12.4.3.1).
    #[error("RFC 9420 §7.3, §12.4.3.1: nodes {first:?} and {second:?} share an encryption key")]
    DuplicateEncryptionKey {
        /// The first node with the key.
        first: NodeIndex,
        /// The other node with the key.
        second: NodeIndex,
    },
    /// Two leaves carry the same signature key (RFC 9420 §7.3).
    #[error("RFC 9420 §7.3: leaves {first:?} and {second:?} share a signature key")]
    DuplicateSignatureKey {
        /// The first leaf with the key.
        first: LeafIndex,
        /// The other leaf with the key.
        second: LeafIndex,
    },
    /// Encoding a hash or signature input failed.
    #[error("encoding failed: {0}")]
    Codec(#[from] CodecError),
    /// A cryptographic operation failed (other than a signature check, which has its own
    /// variant).
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
}

/// Why a ratchet tree received when joining was rejected
/// ([`super::RatchetTree::validate_for_join`], RFC 9420 §12.4.3.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TreeValidationError {
    /// A rule of the tree itself: tree hash, parent hashes, unmerged leaves, unique keys.
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// The GroupContext the tree is validated against is malformed (its
    /// `required_capabilities` extension does not decode, RFC 9420 §11.1).
    #[error("the group context: {0}")]
    GroupContext(#[source] ValidationError),
    /// A leaf fails LeafNode validation (RFC 9420 §7.3).
    #[error("RFC 9420 §12.4.3.1: leaf {leaf:?}: {error}")]
    Leaf {
        /// The leaf.
        leaf: LeafIndex,
        /// The rule it breaks.
        #[source]
        error: ValidationError,
    },
    /// The leaf signatures failed as a batch although each verifies on its own.
    #[error("RFC 9420 §7.3: the leaf signatures do not verify as a batch")]
    LeafSignatureBatch,
}
