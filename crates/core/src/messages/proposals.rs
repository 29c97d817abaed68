//! Proposals (RFC 9420 §12.1) and the proposal-or-reference wrapper used in commits (§12.4).

use conclave_codec::{CodecError, Decode, Encode, Reader};
use conclave_crypto::CipherSuite;

use super::{
    Extension, ExtensionProposalBody, KeyPackage, LeafIndex, LeafNode, PreSharedKeyId, ProposalRef,
    ProposalType, ProtocolVersion,
};
use crate::codepoints::decodable_proposal_kind;

/// `Add` (RFC 9420 §12.1.1).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Add {
    /// The new member's key package.
    pub key_package: KeyPackage,
}

/// `Update` (RFC 9420 §12.1.2).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Update {
    /// The sender's new leaf node (source `update`); boxed, like every embedded `LeafNode`,
    /// so that a [`Proposal`] stays small.
    pub leaf_node: Box<LeafNode>,
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

/// A proposal of a type defined outside RFC 9420 (draft-ietf-mls-extensions-10 and later
/// drafts), with the codepoint it travels under.
///
/// The codepoint is kept because profiles disagree on it (SelfRemove is 0x000A in the draft
/// and 0xF003 in mls-rs): a proposal re-encodes exactly as it was received, and the group
/// checks the codepoint against its [`crate::codepoints::CodepointProfile`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionProposal {
    /// The wire codepoint.
    pub proposal_type: ProposalType,
    /// The proposal's body.
    pub body: ExtensionProposalBody,
}

impl ExtensionProposal {
    /// `body` under the codepoint `profile` gives it.
    pub fn new(profile: crate::codepoints::CodepointProfile, body: ExtensionProposalBody) -> Self {
        Self {
            proposal_type: profile.proposal_type(body.kind()),
            body,
        }
    }
}

/// `Proposal` (RFC 9420 §12.1): `ProposalType proposal_type` and its select.
///
/// The seven RFC 9420 types, and the drafts' types under any codepoint a profile of
/// [`crate::codepoints`] uses. Decoding any other proposal type fails: its body has no known
/// encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proposal {
    /// `add(1)`.
    Add(Add),
    /// `update(2)`.
    Update(Update),
    /// `remove(3)`.
    Remove(Remove),
    /// `psk(4)`.
    PreSharedKey(PreSharedKey),
    /// `reinit(5)`.
    ReInit(ReInit),
    /// `external_init(6)`.
    ExternalInit(ExternalInit),
    /// `group_context_extensions(7)`.
    GroupContextExtensions(GroupContextExtensions),
    /// A draft-defined proposal (AppDataUpdate, AppEphemeral, SelfRemove, …).
    Extension(ExtensionProposal),
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
            Self::Extension(proposal) => proposal.proposal_type,
        }
    }

    /// The draft-defined body, if this is one.
    pub fn extension_body(&self) -> Option<&ExtensionProposalBody> {
        match self {
            Self::Extension(proposal) => Some(&proposal.body),
            _ => None,
        }
    }
}

impl Encode for Proposal {
    fn encoded_len(&self) -> usize {
        2 + match self {
            Self::Add(body) => body.encoded_len(),
            Self::Update(body) => body.encoded_len(),
            Self::Remove(body) => body.encoded_len(),
            Self::PreSharedKey(body) => body.encoded_len(),
            Self::ReInit(body) => body.encoded_len(),
            Self::ExternalInit(body) => body.encoded_len(),
            Self::GroupContextExtensions(body) => body.encoded_len(),
            Self::Extension(proposal) => proposal.body.encoded_len(),
        }
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        self.proposal_type().encode(out)?;
        match self {
            Self::Add(body) => body.encode(out),
            Self::Update(body) => body.encode(out),
            Self::Remove(body) => body.encode(out),
            Self::PreSharedKey(body) => body.encode(out),
            Self::ReInit(body) => body.encode(out),
            Self::ExternalInit(body) => body.encode(out),
            Self::GroupContextExtensions(body) => body.encode(out),
            Self::Extension(proposal) => proposal.body.encode(out),
        }
    }
}

impl Decode for Proposal {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, CodecError> {
        let proposal_type = ProposalType::decode(reader)?;
        Ok(match proposal_type {
            ProposalType::ADD => Self::Add(Add::decode(reader)?),
            ProposalType::UPDATE => Self::Update(Update::decode(reader)?),
            ProposalType::REMOVE => Self::Remove(Remove::decode(reader)?),
            ProposalType::PSK => Self::PreSharedKey(PreSharedKey::decode(reader)?),
            ProposalType::REINIT => Self::ReInit(ReInit::decode(reader)?),
            ProposalType::EXTERNAL_INIT => Self::ExternalInit(ExternalInit::decode(reader)?),
            ProposalType::GROUP_CONTEXT_EXTENSIONS => {
                Self::GroupContextExtensions(GroupContextExtensions::decode(reader)?)
            }
            other => {
                let kind = decodable_proposal_kind(other).ok_or(CodecError::InvalidValue {
                    what: "Proposal",
                    value: u64::from(other.0),
                })?;
                Self::Extension(ExtensionProposal {
                    proposal_type: other,
                    body: ExtensionProposalBody::decode(kind, reader)?,
                })
            }
        })
    }

    /// Field by field, like the derived types (a commit's proposal list is counted before
    /// it is decoded).
    fn skip(reader: &mut Reader<'_>) -> Result<(), CodecError> {
        let proposal_type = ProposalType::decode(reader)?;
        match proposal_type {
            ProposalType::ADD => Add::skip(reader),
            ProposalType::UPDATE => Update::skip(reader),
            ProposalType::REMOVE => Remove::skip(reader),
            ProposalType::PSK => PreSharedKey::skip(reader),
            ProposalType::REINIT => ReInit::skip(reader),
            ProposalType::EXTERNAL_INIT => ExternalInit::skip(reader),
            ProposalType::GROUP_CONTEXT_EXTENSIONS => GroupContextExtensions::skip(reader),
            other => {
                let kind = decodable_proposal_kind(other).ok_or(CodecError::InvalidValue {
                    what: "Proposal",
                    value: u64::from(other.0),
                })?;
                ExtensionProposalBody::decode(kind, reader).map(drop)
            }
        }
    }
}

impl ProposalOrRef {
    /// A proposal inline.
    pub fn proposal(proposal: Proposal) -> Self {
        Self::Proposal(Box::new(proposal))
    }
}

/// `ProposalOrRef` (RFC 9420 §12.4): a proposal inline in a commit, or a reference to one sent
/// earlier in the epoch.
///
/// The proposal is boxed: a reference is two bytes on the wire, and a commit listing many
/// of them must cost a small multiple of its size in memory.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[repr(u8)]
pub enum ProposalOrRef {
    /// `proposal(1)`: the proposal itself.
    Proposal(Box<Proposal>) = 1,
    /// `reference(2)`: its `ProposalRef`.
    Reference(ProposalRef) = 2,
}
