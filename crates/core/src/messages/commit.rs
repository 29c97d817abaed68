//! Commits and update paths (RFC 9420 §7.6, §12.4).

use conclave_codec::{Decode, Encode};

use super::{HpkePublicKey, LeafNode, ProposalOrRef};

/// `HPKECiphertext` (RFC 9420 §7.6).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct HpkeCiphertext {
    /// `opaque kem_output<V>`.
    pub kem_output: Vec<u8>,
    /// `opaque ciphertext<V>`.
    pub ciphertext: Vec<u8>,
}

/// `UpdatePathNode` (RFC 9420 §7.6).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct UpdatePathNode {
    /// The new public key of this filtered-direct-path node.
    pub encryption_key: HpkePublicKey,
    /// `HPKECiphertext encrypted_path_secret<V>`: one per resolution member of the copath
    /// child.
    pub encrypted_path_secret: Vec<HpkeCiphertext>,
}

/// `UpdatePath` (RFC 9420 §7.6).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct UpdatePath {
    /// The committer's new leaf node (source `commit`).
    pub leaf_node: LeafNode,
    /// `UpdatePathNode nodes<V>`: one per node of the filtered direct path.
    pub nodes: Vec<UpdatePathNode>,
}

/// `Commit` (RFC 9420 §12.4).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Commit {
    /// `ProposalOrRef proposals<V>`.
    pub proposals: Vec<ProposalOrRef>,
    /// `optional<UpdatePath> path`.
    pub path: Option<UpdatePath>,
}
