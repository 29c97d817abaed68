//! Proposals (RFC 9420 §12.1) and the proposal-or-reference wrapper used in commits (§12.4).

use conclave_codec::{Decode, Encode};
use conclave_crypto::CipherSuite;

use super::{
    Extension, KeyPackage, LeafIndex, LeafNode, PreSharedKeyId, ProposalRef, ProposalType,
    ProtocolVersion,
};

/// `Add` (RFC 9420 §12.1.1).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Add {
    /// The new member's key package.
    pub key_package: KeyPackage,
}

/// `Update` (RFC 9420 §12.1.2).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Update {
    /// The sender's new leaf node (source `update`).
    pub leaf_node: LeafNode,
}

/// `Remove` (RFC 9420 §12.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode)]
pub struct Remove {
    /// `uint32 removed`: the leaf to remove.
    pub removed: LeafIndex,
}

/// `PreSharedKey` (RFC 9420 §12.1.4).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct PreSharedKey {
    /// The PSK to inject.
    pub psk: PreSharedKeyId,
}

/// `ReInit` (RFC 9420 §12.1.5).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ReInit {
    /// `opaque group_id<V>` of the new group.
    pub group_id: Vec<u8>,
    /// The new group's protocol version.
    pub version: ProtocolVersion,
    /// The new group's cipher suite.
    pub cipher_suite: CipherSuite,
    /// The new group's extensions.
    pub extensions: Vec<Extension>,
}

/// `ExternalInit` (RFC 9420 §12.1.6).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ExternalInit {
    /// `opaque kem_output<V>`.
    pub kem_output: Vec<u8>,
}

/// `GroupContextExtensions` (RFC 9420 §12.1.7).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct GroupContextExtensions {
    /// The group's new extension list.
    pub extensions: Vec<Extension>,
}

/// `Proposal` (RFC 9420 §12.1): `ProposalType proposal_type` and its select.
///
/// Decoding a proposal type other than the seven RFC 9420 defines fails: its body has no
/// known encoding.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[repr(u16)]
pub enum Proposal {
    /// `add(1)`.
    Add(Add) = 0x0001,
    /// `update(2)`.
    Update(Update) = 0x0002,
    /// `remove(3)`.
    Remove(Remove) = 0x0003,
    /// `psk(4)`.
    PreSharedKey(PreSharedKey) = 0x0004,
    /// `reinit(5)`.
    ReInit(ReInit) = 0x0005,
    /// `external_init(6)`.
    ExternalInit(ExternalInit) = 0x0006,
    /// `group_context_extensions(7)`.
    GroupContextExtensions(GroupContextExtensions) = 0x0007,
}

impl Proposal {
    /// The proposal's type.
    pub fn proposal_type(&self) -> ProposalType {
        match self {
            Self::Add(_) => ProposalType::ADD,
            Self::Update(_) => ProposalType::UPDATE,
            Self::Remove(_) => ProposalType::REMOVE,
            Self::PreSharedKey(_) => ProposalType::PSK,
            Self::ReInit(_) => ProposalType::REINIT,
            Self::ExternalInit(_) => ProposalType::EXTERNAL_INIT,
            Self::GroupContextExtensions(_) => ProposalType::GROUP_CONTEXT_EXTENSIONS,
        }
    }
}

/// `ProposalOrRef` (RFC 9420 §12.4): a proposal inline in a commit, or a reference to one sent
/// earlier in the epoch.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[allow(
    clippy::large_enum_variant,
    reason = "a wire value, decoded once and kept; boxing would only add an allocation"
)]
#[repr(u8)]
pub enum ProposalOrRef {
    /// `proposal(1)`: the proposal itself.
    Proposal(Proposal) = 1,
    /// `reference(2)`: its `ProposalRef`.
    Reference(ProposalRef) = 2,
}
