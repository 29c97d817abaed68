//! The wire structures of Partial MLS (draft-ietf-mls-partial-02 §6–§10), in the TLS
//! presentation language of RFC 9420 §2.1 with the MLS varint.
//!
//! The draft defines no `WireFormat` for them (draft-ietf-mls-partial-02 Appendix "Known
//! Issues"): they travel beside MLS messages, in whatever envelope the application uses.
//! Decoding is bounded like every other MLS structure: each vector's length is checked
//! against the remaining input before anything is allocated.

use conclave_codec::{Decode, Encode};

use crate::messages::{
    GroupInfo, LeafIndex, MlsMessage, Node, PrivateMessage, PublicMessage, Welcome,
};

/// `CopathHash` (draft-ietf-mls-partial-02 §6): the tree hash (RFC 9420 §7.8) of one copath
/// node of the proven leaf.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct CopathHash {
    /// `opaque hash_value<V>`.
    pub hash_value: Vec<u8>,
}

/// `MembershipProof` (draft-ietf-mls-partial-02 §6): a tree slice that proves that a leaf
/// node sits at `leaf_index` of a tree of `n_leaves` leaves with a given root tree hash.
///
/// `direct_path_nodes` holds the leaf itself and then every node of its direct path up to
/// and including the root (RFC 9420 §4.1.2), `None` for blank nodes; `copath_hashes` holds
/// the tree hash of each copath node, from the leaf's sibling up to the root's child.
/// Built by [`MembershipProof::for_leaf`], checked by [`MembershipProof::verify`].
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct MembershipProof {
    /// `uint32 leaf_index`.
    pub leaf_index: LeafIndex,
    /// `uint32 n_leaves`.
    pub n_leaves: u32,
    /// `optional<Node> direct_path_nodes<V>`.
    pub direct_path_nodes: Vec<Option<Node>>,
    /// `CopathHash copath_hashes<V>`.
    pub copath_hashes: Vec<CopathHash>,
}

/// `SenderAuthenticatedMessage<T>` (draft-ietf-mls-partial-02 §7): a signed MLS message
/// with a membership proof for its sender, so that a partial client can find the sender's
/// signature key without the tree. `T` is [`Welcome`], [`GroupInfo`], [`PublicMessage`] or
/// [`PrivateMessage`] (the aliases below).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct SenderAuthenticatedMessage<T>
where
    T: Encode + Decode,
{
    /// `T message`.
    pub message: T,
    /// `MembershipProof sender_membership_proof`.
    pub sender_membership_proof: MembershipProof,
}

/// `SenderAuthenticatedMessage<Welcome>` (draft-ietf-mls-partial-02 §7, §8).
pub type SenderAuthenticatedWelcome = SenderAuthenticatedMessage<Welcome>;
/// `SenderAuthenticatedMessage<GroupInfo>` (draft-ietf-mls-partial-02 §7).
pub type SenderAuthenticatedGroupInfo = SenderAuthenticatedMessage<GroupInfo>;
/// `SenderAuthenticatedMessage<PublicMessage>` (draft-ietf-mls-partial-02 §7).
pub type SenderAuthenticatedPublicMessage = SenderAuthenticatedMessage<PublicMessage>;
/// `SenderAuthenticatedMessage<PrivateMessage>` (draft-ietf-mls-partial-02 §7, §11).
pub type SenderAuthenticatedPrivateMessage = SenderAuthenticatedMessage<PrivateMessage>;

/// `AnnotatedWelcome` (draft-ietf-mls-partial-02 §8): a Welcome with membership proofs for
/// its sender and for the joiner, relative to the tree the Welcome's GroupInfo names.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct AnnotatedWelcome {
    /// `SenderAuthenticatedMessage<Welcome> welcome`.
    pub welcome: SenderAuthenticatedWelcome,
    /// `MembershipProof joiner_membership_proof`.
    pub joiner_membership_proof: MembershipProof,
}

/// `AnnotatedCommit` (draft-ietf-mls-partial-02 §10): a Commit with what a partial client
/// needs to process it without the tree.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct AnnotatedCommit {
    /// `MLSMessage commit`: a PublicMessage or PrivateMessage of content type `commit`.
    pub commit: MlsMessage,
    /// `optional<MembershipProof> sender_membership_proof`: the committer in the tree
    /// before the commit; present exactly for `member` senders.
    pub sender_membership_proof: Option<MembershipProof>,
    /// `opaque tree_hash_after<V>`: the tree hash after the commit.
    pub tree_hash_after: Vec<u8>,
    /// `optional<uint32> resolution_index`: which `HPKECiphertext` of the relevant
    /// `UpdatePathNode` is the receiver's; present exactly when the commit has a path.
    pub resolution_index: Option<u32>,
    /// `MembershipProof sender_membership_proof_after`.
    pub sender_membership_proof_after: MembershipProof,
    /// `MembershipProof receiver_membership_proof_after`.
    pub receiver_membership_proof_after: MembershipProof,
}

/// `AnnotatedSplitCommit`: **Conclave's extension**, not in draft-ietf-mls-partial-02. The
/// draft's Appendix "Known Issues" notes that "we should define a version of AnnotatedCommit
/// that sends a SplitCommit instead of a normal Commit", and its §12 (Operational
/// Considerations) puts commit processing at O(log N) only for "Partial + Split": an
/// AnnotatedCommit carries the whole commit, whose UpdatePath after a large add holds ~N
/// ciphertexts. Here the commit is the receiver's PerMemberCommit
/// (draft-mularczyk-mls-splitcommit-00 §3): the signed broadcast message, the one ciphertext
/// the receiver decrypts and the committer's path keys, so there is no `resolution_index`.
/// Split commits come from members only, so the pre-commit sender proof is always present.
/// The other fields mean what they mean in [`AnnotatedCommit`] (§10).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct AnnotatedSplitCommit {
    /// The receiver's PerMemberCommit.
    pub commit: crate::split::PerMemberCommit,
    /// `MembershipProof sender_membership_proof`: the committer in the tree before.
    pub sender_membership_proof: MembershipProof,
    /// `opaque tree_hash_after<V>`.
    pub tree_hash_after: Vec<u8>,
    /// `MembershipProof sender_membership_proof_after`.
    pub sender_membership_proof_after: MembershipProof,
    /// `MembershipProof receiver_membership_proof_after`.
    pub receiver_membership_proof_after: MembershipProof,
}
