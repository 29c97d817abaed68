//! Ratchet tree nodes (RFC 9420 §7.1, §7.2, §12.4.3.3): leaf nodes with their capabilities,
//! lifetime and source, parent nodes, and the `optional<Node> ratchet_tree<V>` vector.

use conclave_codec::{CodecError, Decode, Encode, write_opaque};
use conclave_crypto::CipherSuite;

use super::{
    Credential, CredentialType, Extension, ExtensionType, HpkePublicKey, LeafIndex, ProposalType,
    ProtocolVersion, SignaturePublicKey,
};

/// `Capabilities` (RFC 9420 §7.2): what a client supports.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode)]
pub struct Capabilities {
    /// `ProtocolVersion versions<V>`.
    pub versions: Vec<ProtocolVersion>,
    /// `CipherSuite cipher_suites<V>`.
    pub cipher_suites: Vec<CipherSuite>,
    /// `ExtensionType extensions<V>` (non-default extensions only, §7.2).
    pub extensions: Vec<ExtensionType>,
    /// `ProposalType proposals<V>` (non-default proposals only, §7.2).
    pub proposals: Vec<ProposalType>,
    /// `CredentialType credentials<V>`.
    pub credentials: Vec<CredentialType>,
}

/// `Lifetime` (RFC 9420 §7.2): validity window in seconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode)]
pub struct Lifetime {
    /// `uint64 not_before`.
    pub not_before: u64,
    /// `uint64 not_after`.
    pub not_after: u64,
}

/// `LeafNodeSource` and its select (RFC 9420 §7.2): why the leaf node was created, with the
/// data that depends on it.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[repr(u8)]
pub enum LeafNodeSource {
    /// `key_package(1)`: the leaf came in a KeyPackage; carries its `Lifetime`.
    KeyPackage(Lifetime) = 1,
    /// `update(2)`: the leaf came in an Update proposal.
    Update = 2,
    /// `commit(3)`: the leaf came in a Commit's UpdatePath; carries `opaque parent_hash<V>`.
    Commit(Vec<u8>) = 3,
}

/// `LeafNode` (RFC 9420 §7.2).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct LeafNode {
    /// `HPKEPublicKey encryption_key`.
    pub encryption_key: HpkePublicKey,
    /// `SignaturePublicKey signature_key`.
    pub signature_key: SignaturePublicKey,
    /// The member's credential.
    pub credential: Credential,
    /// What the client supports.
    pub capabilities: Capabilities,
    /// `leaf_node_source` and its select.
    pub leaf_node_source: LeafNodeSource,
    /// `Extension extensions<V>`.
    pub extensions: Vec<Extension>,
    /// `SignWithLabel(., "LeafNodeTBS", LeafNodeTBS)`.
    pub signature: Vec<u8>,
}

impl LeafNode {
    /// Encodes `LeafNodeTBS` (RFC 9420 §7.2): every field but the signature, then, for the
    /// `update` and `commit` sources, `opaque group_id<V>` and `uint32 leaf_index`.
    ///
    /// `group` is `(group_id, leaf_index)`; it is required for the `update` and `commit`
    /// sources (else [`CodecError::Malformed`]) and ignored for `key_package`.
    pub fn to_be_signed(&self, group: Option<(&[u8], LeafIndex)>) -> Result<Vec<u8>, CodecError> {
        let Self {
            encryption_key,
            signature_key,
            credential,
            capabilities,
            leaf_node_source,
            extensions,
            signature: _,
        } = self;
        let mut out = Vec::with_capacity(self.encoded_len());
        encryption_key.encode(&mut out)?;
        signature_key.encode(&mut out)?;
        credential.encode(&mut out)?;
        capabilities.encode(&mut out)?;
        leaf_node_source.encode(&mut out)?;
        extensions.encode(&mut out)?;
        match leaf_node_source {
            LeafNodeSource::KeyPackage(_) => {}
            LeafNodeSource::Update | LeafNodeSource::Commit(_) => {
                let (group_id, leaf_index) = group.ok_or(CodecError::Malformed {
                    what: "LeafNodeTBS",
                    reason: "update and commit leaf nodes are signed with group_id and leaf_index",
                })?;
                write_opaque(&mut out, group_id)?;
                leaf_index.encode(&mut out)?;
            }
        }
        Ok(out)
    }
}

/// `ParentNode` (RFC 9420 §7.1).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ParentNode {
    /// `HPKEPublicKey encryption_key`.
    pub encryption_key: HpkePublicKey,
    /// `opaque parent_hash<V>` (RFC 9420 §7.9).
    pub parent_hash: Vec<u8>,
    /// `uint32 unmerged_leaves<V>`: leaf indices, in increasing order (RFC 9420 §7.1).
    pub unmerged_leaves: Vec<LeafIndex>,
}

/// `NodeType` (RFC 9420 §7.8, §12.4.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode)]
#[repr(u8)]
pub enum NodeType {
    /// `leaf(1)`.
    Leaf = 1,
    /// `parent(2)`.
    Parent = 2,
}

/// `Node` (RFC 9420 §12.4.3.3): `NodeType node_type` then a leaf or a parent node.
///
/// Both payloads are boxed so that `Option<Node>` takes 16 bytes: a blank node is one byte
/// on the wire, and a `ratchet_tree` that is a run of blanks must not cost hundreds of bytes
/// of memory per input byte (a `LeafNode` is about 280 bytes inline).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[repr(u8)]
pub enum Node {
    /// `leaf(1)`.
    Leaf(Box<LeafNode>) = 1,
    /// `parent(2)`.
    Parent(Box<ParentNode>) = 2,
}

impl Node {
    /// A leaf node.
    pub fn leaf(leaf: LeafNode) -> Self {
        Self::Leaf(Box::new(leaf))
    }

    /// A parent node.
    pub fn parent(parent: ParentNode) -> Self {
        Self::Parent(Box::new(parent))
    }

    /// The node's type.
    pub fn node_type(&self) -> NodeType {
        match self {
            Self::Leaf(_) => NodeType::Leaf,
            Self::Parent(_) => NodeType::Parent,
        }
    }
}

/// `optional<Node> ratchet_tree<V>` (RFC 9420 §12.4.3.3): the nodes in array order
/// (RFC 9420 Appendix C), `None` for blank nodes. This is also the `extension_data` of the
/// `ratchet_tree` extension.
///
/// The codec only checks the syntax; whether the vector is a well-formed tree (odd length,
/// non-blank last node, leaves at even positions) is checked where a tree is built from it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode)]
pub struct RatchetTreeNodes(pub Vec<Option<Node>>);
