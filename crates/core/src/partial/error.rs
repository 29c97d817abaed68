//! Why a Partial MLS operation failed (draft-ietf-mls-partial-02).

use conclave_codec::CodecError;
use conclave_crypto::CryptoError;

use crate::messages::LeafIndex;
use crate::tree::TreeError;
use crate::tree_math::NodeIndex;

/// A refused membership proof, sender-authenticated message or annotation, or a failed
/// partial UpdatePath decryption. Each variant names the rule of draft-ietf-mls-partial-02
/// (or RFC 9420) that was broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PartialError {
    /// Encoding failed.
    #[error("codec: {0}")]
    Codec(#[from] CodecError),
    /// A cryptographic operation failed.
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
    /// Framing refused the message (RFC 9420 §6).
    #[error("framing: {0}")]
    Framing(#[from] crate::framing::FramingError),
    /// The ratchet tree refused an operation (building a proof from a tree).
    #[error("tree: {0}")]
    Tree(#[from] TreeError),
    /// `n_leaves` is not the leaf count of an MLS tree (a power of two, at least 1;
    /// RFC 9420 §7.7, draft-ietf-mls-partial-02 §6).
    #[error(
        "membership proof: n_leaves {0} is not a power of two (RFC 9420 §7.7, \
         draft-ietf-mls-partial-02 §6)"
    )]
    InvalidLeafCount(u32),
    /// `leaf_index` is not a leaf of a tree of `n_leaves` leaves (draft-ietf-mls-partial-02
    /// §6).
    #[error(
        "membership proof: leaf {leaf_index:?} is outside a tree of {n_leaves} leaves \
         (draft-ietf-mls-partial-02 §6)"
    )]
    LeafOutOfRange {
        /// The proof's leaf index.
        leaf_index: LeafIndex,
        /// The proof's leaf count.
        n_leaves: u32,
    },
    /// A proof vector does not have one entry per node of the leaf's path
    /// (draft-ietf-mls-partial-02 §6: the leaf and its direct path up to the root, and one
    /// hash per copath node).
    #[error(
        "membership proof: {field} has {actual} entries, expected {expected} for a tree of \
         this size (draft-ietf-mls-partial-02 §6)"
    )]
    ProofLength {
        /// `direct_path_nodes` or `copath_hashes`.
        field: &'static str,
        /// Entries the tree size calls for.
        expected: usize,
        /// Entries present.
        actual: usize,
    },
    /// The first node of `direct_path_nodes` is blank or a parent: a proof proves a leaf
    /// node (draft-ietf-mls-partial-02 §6).
    #[error("membership proof: the proven node is not a leaf node (draft-ietf-mls-partial-02 §6)")]
    NotALeaf,
    /// A node above the leaf in `direct_path_nodes` is a leaf node (RFC 9420 §7.8,
    /// draft-ietf-mls-partial-02 §6).
    #[error(
        "membership proof: node {0:?} of the direct path is a leaf node (RFC 9420 §7.8, \
         draft-ietf-mls-partial-02 §6)"
    )]
    ParentExpected(NodeIndex),
    /// A copath hash does not have the suite's hash length (RFC 9420 §7.8).
    #[error(
        "membership proof: copath hash {position} has {actual} bytes, the suite's hash has \
         {expected} (RFC 9420 §7.8, draft-ietf-mls-partial-02 §6)"
    )]
    CopathHashLength {
        /// Position in `copath_hashes`.
        position: usize,
        /// The suite's hash length.
        expected: usize,
        /// The CopathHash's length.
        actual: usize,
    },
    /// The root tree hash recomputed from the proof is not the expected tree hash: the proof
    /// is not valid relative to it (draft-ietf-mls-partial-02 §6).
    #[error(
        "membership proof for leaf {0:?} is not valid relative to the tree hash \
         (draft-ietf-mls-partial-02 §6)"
    )]
    TreeHashMismatch(LeafIndex),
    /// Two proofs do not reference the same tree: different `n_leaves` or root tree hashes
    /// (draft-ietf-mls-partial-02 §6).
    #[error(
        "{0}: the membership proofs do not reference the same tree (draft-ietf-mls-partial-02 §6)"
    )]
    DifferentTrees(&'static str),
    /// The message's sender is not the proven leaf (draft-ietf-mls-partial-02 §7, §8, §10).
    #[error(
        "{what}: sender leaf {sender:?} is not the proven leaf {proven:?} \
         (draft-ietf-mls-partial-02 §7, §8, §10)"
    )]
    SenderMismatch {
        /// The message checked.
        what: &'static str,
        /// The sender the message names.
        sender: LeafIndex,
        /// The leaf the membership proof proves.
        proven: LeafIndex,
    },
    /// A sender-authenticated message is not from a member (draft-ietf-mls-partial-02 §7:
    /// the proof proves a member's leaf).
    #[error(
        "sender-authenticated message: the sender is not a member (draft-ietf-mls-partial-02 §7)"
    )]
    NotAMemberSender,
    /// The message's group id or epoch is not the one the caller verifies against (RFC 9420
    /// §6.1, draft-ietf-mls-partial-02 §7).
    #[error(
        "sender-authenticated message: group id or epoch differs from the group context \
         (RFC 9420 §6.1, draft-ietf-mls-partial-02 §7)"
    )]
    WrongGroupOrEpoch,
    /// The signature does not verify with the proven leaf's signature key
    /// (draft-ietf-mls-partial-02 §7, RFC 9420 §6.1).
    #[error(
        "the signature does not verify with the proven leaf's key (draft-ietf-mls-partial-02 \
         §7, RFC 9420 §6.1)"
    )]
    InvalidSignature,
    /// `sender_membership_proof` is absent for a member commit or present for a
    /// `new_member_commit` (draft-ietf-mls-partial-02 §10).
    #[error(
        "sender_membership_proof must be present exactly when the commit's sender is a member \
         (draft-ietf-mls-partial-02 §10)"
    )]
    SenderProofPresence,
    /// `resolution_index` is absent although the commit has a path, or present although it
    /// has none (draft-ietf-mls-partial-02 §10).
    #[error(
        "resolution_index must be present exactly when the commit has a path \
         (draft-ietf-mls-partial-02 §10)"
    )]
    ResolutionIndexPresence,
    /// `resolution_index` names no ciphertext of the UpdatePathNode
    /// (draft-ietf-mls-partial-02 §10).
    #[error(
        "resolution_index {index} is out of range: the UpdatePathNode has {count} ciphertexts \
         (draft-ietf-mls-partial-02 §10)"
    )]
    ResolutionIndexOutOfRange {
        /// The annotated index.
        index: u32,
        /// Ciphertexts in the UpdatePathNode.
        count: usize,
    },
    /// The committer's path in `sender_membership_proof_after` does not have one non-blank
    /// node per UpdatePathNode (draft-ietf-mls-partial-02 §10, RFC 9420 §12.4.2).
    #[error(
        "the committer's direct path after the commit has {proof} non-blank nodes but the \
         UpdatePath has {update_path} (draft-ietf-mls-partial-02 §10, RFC 9420 §12.4.2)"
    )]
    PathLength {
        /// Non-blank nodes above the committer's leaf in its proof.
        proof: usize,
        /// UpdatePath nodes.
        update_path: usize,
    },
    /// The post-commit proofs do not show the UpdatePath's leaf and keys on the committer's
    /// direct path (draft-ietf-mls-partial-02 §10, RFC 9420 §12.4.2).
    #[error(
        "sender_membership_proof_after does not carry the UpdatePath's {0} \
         (draft-ietf-mls-partial-02 §10)"
    )]
    PathNotInProof(&'static str),
    /// The receiver is the committer, or not a member below the committer's copath
    /// (draft-ietf-mls-partial-02 §10).
    #[error(
        "receiver leaf {receiver:?} cannot decrypt a path from leaf {sender:?} \
         (draft-ietf-mls-partial-02 §10)"
    )]
    NotAReceiver {
        /// The committer.
        sender: LeafIndex,
        /// The receiver.
        receiver: LeafIndex,
    },
    /// The receiver holds no private key for the node the path secret is encrypted to, or
    /// its key is not that node's public key (draft-ietf-mls-partial-02 §10).
    #[error(
        "no private key for node {0:?}, the receiver's node under the lowest common ancestor \
         (draft-ietf-mls-partial-02 §10)"
    )]
    NoDecryptionKey(NodeIndex),
    /// A public key derived from the decrypted path secret differs from the UpdatePath's
    /// (RFC 9420 §12.4.2, draft-ietf-mls-partial-02 §10).
    #[error(
        "the public key derived for node {0:?} differs from the UpdatePath (RFC 9420 §12.4.2, \
         draft-ietf-mls-partial-02 §10)"
    )]
    PublicKeyMismatch(NodeIndex),
    /// The epoch counter would overflow (RFC 9420 §8).
    #[error("epoch overflow (RFC 9420 §8)")]
    EpochOverflow,
    /// An annotation was asked for a leaf that is blank in the tree
    /// (draft-ietf-mls-partial-02 §6).
    #[error("leaf {0:?} is blank: no membership proof (draft-ietf-mls-partial-02 §6)")]
    BlankLeaf(LeafIndex),
    /// An AnnotatedCommit was asked for a member the commit removes: §10's
    /// `receiver_membership_proof_after` cannot prove a leaf the tree after no longer holds
    /// (draft-ietf-mls-partial-02 §10; `CommitAnnotator::annotate_removal_for` builds what a
    /// removed member gets).
    #[error(
        "leaf {0:?} is removed by the commit: no receiver_membership_proof_after \
         (draft-ietf-mls-partial-02 §10)"
    )]
    ReceiverRemoved(LeafIndex),
    /// A removal notice was asked for a leaf the commit does not remove
    /// (draft-ietf-mls-partial-02 §10).
    #[error("leaf {0:?} is not removed by the commit (draft-ietf-mls-partial-02 §10)")]
    NotRemoved(LeafIndex),
    /// The annotator was prepared for the other kind of commit (a framed commit or an
    /// SCommit) than the annotation asked for.
    #[error("this annotator cannot build {0}: it was prepared for the other commit form")]
    WrongCommitForm(&'static str),
}
