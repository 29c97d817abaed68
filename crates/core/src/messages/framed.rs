//! Framed content and its authentication (RFC 9420 §6, §6.1): senders, content types, the
//! `FramedContent` that is signed, its auth data, `AuthenticatedContent` and the encoding of
//! `FramedContentTBS`.
//!
//! Two parts of these structures depend on a field elsewhere in the message, so they have
//! manual codecs: the `confirmation_tag` of [`FramedContentAuthData`] is present exactly for
//! commits, and [`FramedContentTbs`] carries the group context exactly for `member` and
//! `new_member_commit` senders.

use conclave_codec::{CodecError, Decode, Encode, Reader};

use super::{Commit, GroupContext, LeafIndex, Proposal, ProtocolVersion, WireFormat};

/// `ContentType` (RFC 9420 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode)]
#[repr(u8)]
pub enum ContentType {
    /// `application(1)`.
    Application = 1,
    /// `proposal(2)`.
    Proposal = 2,
    /// `commit(3)`.
    Commit = 3,
}

/// `SenderType` (RFC 9420 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode)]
#[repr(u8)]
pub enum SenderType {
    /// `member(1)`.
    Member = 1,
    /// `external(2)`.
    External = 2,
    /// `new_member_proposal(3)`.
    NewMemberProposal = 3,
    /// `new_member_commit(4)`.
    NewMemberCommit = 4,
}

/// `Sender` (RFC 9420 §6): `SenderType sender_type` and its select.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode)]
#[repr(u8)]
pub enum Sender {
    /// `member(1)`: `uint32 leaf_index` of the sending member.
    Member(LeafIndex) = 1,
    /// `external(2)`: `uint32 sender_index` into the `external_senders` extension.
    External(u32) = 2,
    /// `new_member_proposal(3)`: a non-member proposing its own Add.
    NewMemberProposal = 3,
    /// `new_member_commit(4)`: a non-member joining by external commit.
    NewMemberCommit = 4,
}

impl Sender {
    /// The sender's type.
    pub fn sender_type(&self) -> SenderType {
        match self {
            Self::Member(_) => SenderType::Member,
            Self::External(_) => SenderType::External,
            Self::NewMemberProposal => SenderType::NewMemberProposal,
            Self::NewMemberCommit => SenderType::NewMemberCommit,
        }
    }

    /// Whether `FramedContentTBS` includes the group context for this sender (RFC 9420 §6.1):
    /// true for `member` and `new_member_commit`.
    pub fn signs_group_context(&self) -> bool {
        matches!(self, Self::Member(_) | Self::NewMemberCommit)
    }
}

/// `ContentType content_type` and the select of `FramedContent` (RFC 9420 §6): the payload.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[repr(u8)]
pub enum Content {
    /// `application(1)`: `opaque application_data<V>`.
    Application(Vec<u8>) = 1,
    /// `proposal(2)`: a `Proposal`.
    Proposal(Proposal) = 2,
    /// `commit(3)`: a `Commit`.
    Commit(Commit) = 3,
}

impl Content {
    /// The content's type.
    pub fn content_type(&self) -> ContentType {
        match self {
            Self::Application(_) => ContentType::Application,
            Self::Proposal(_) => ContentType::Proposal,
            Self::Commit(_) => ContentType::Commit,
        }
    }

    /// Length of the select body alone, without the content type byte.
    pub fn body_encoded_len(&self) -> usize {
        match self {
            Self::Application(data) => data.encoded_len(),
            Self::Proposal(proposal) => proposal.encoded_len(),
            Self::Commit(commit) => commit.encoded_len(),
        }
    }

    /// Encodes the select body alone, without the content type byte (as in
    /// `PrivateMessageContent`, RFC 9420 §6.3.1).
    pub fn encode_body(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        match self {
            Self::Application(data) => data.encode(out),
            Self::Proposal(proposal) => proposal.encode(out),
            Self::Commit(commit) => commit.encode(out),
        }
    }

    /// Decodes a select body whose content type is known from elsewhere.
    pub fn decode_body(
        reader: &mut Reader<'_>,
        content_type: ContentType,
    ) -> Result<Self, CodecError> {
        Ok(match content_type {
            ContentType::Application => Self::Application(Vec::decode(reader)?),
            ContentType::Proposal => Self::Proposal(Proposal::decode(reader)?),
            ContentType::Commit => Self::Commit(Commit::decode(reader)?),
        })
    }
}

/// `FramedContent` (RFC 9420 §6).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct FramedContent {
    /// `opaque group_id<V>`.
    pub group_id: Vec<u8>,
    /// `uint64 epoch`.
    pub epoch: u64,
    /// Who sent it.
    pub sender: Sender,
    /// `opaque authenticated_data<V>`: application data authenticated but not encrypted.
    pub authenticated_data: Vec<u8>,
    /// `content_type` and the payload.
    pub content: Content,
}

impl FramedContent {
    /// The content's type.
    pub fn content_type(&self) -> ContentType {
        self.content.content_type()
    }
}

/// `FramedContentAuthData` (RFC 9420 §6.1): the signature and, for commits only, the
/// confirmation tag.
///
/// Its encoding depends on the content type, so it has no [`Decode`] implementation: use
/// [`FramedContentAuthData::decode_for`]. [`Encode`] writes the tag if present; the
/// structures that contain the auth data check that presence matches the content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FramedContentAuthData {
    /// `opaque signature<V>`: `SignWithLabel(., "FramedContentTBS", FramedContentTBS)`.
    pub signature: Vec<u8>,
    /// `MAC confirmation_tag` (an `opaque<V>`): `Some` exactly when the content is a commit.
    pub confirmation_tag: Option<Vec<u8>>,
}

impl FramedContentAuthData {
    /// Decodes the auth data of content of type `content_type`: the confirmation tag is read
    /// only for commits.
    pub fn decode_for(
        reader: &mut Reader<'_>,
        content_type: ContentType,
    ) -> Result<Self, CodecError> {
        let signature = Vec::decode(reader)?;
        let confirmation_tag = match content_type {
            ContentType::Commit => Some(Vec::decode(reader)?),
            ContentType::Application | ContentType::Proposal => None,
        };
        Ok(Self {
            signature,
            confirmation_tag,
        })
    }

    /// Checks that the confirmation tag is present exactly when `content_type` is commit.
    pub fn check_for(&self, content_type: ContentType) -> Result<(), CodecError> {
        match (content_type, &self.confirmation_tag) {
            (ContentType::Commit, Some(_))
            | (ContentType::Application | ContentType::Proposal, None) => Ok(()),
            (ContentType::Commit, None) => Err(CodecError::Malformed {
                what: "FramedContentAuthData",
                reason: "a commit needs a confirmation_tag",
            }),
            (ContentType::Application | ContentType::Proposal, Some(_)) => {
                Err(CodecError::Malformed {
                    what: "FramedContentAuthData",
                    reason: "only commits carry a confirmation_tag",
                })
            }
        }
    }
}

impl Encode for FramedContentAuthData {
    fn encoded_len(&self) -> usize {
        self.signature.encoded_len()
            + self
                .confirmation_tag
                .as_ref()
                .map_or(0, Encode::encoded_len)
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        self.signature.encode(out)?;
        if let Some(tag) = &self.confirmation_tag {
            tag.encode(out)?;
        }
        Ok(())
    }
}

/// `AuthenticatedContent` (RFC 9420 §6.1): framed content with its wire format and auth data,
/// the unit that is signed, referenced (`ProposalRef`) and hashed into the transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedContent {
    /// How the content was (or will be) sent.
    pub wire_format: WireFormat,
    /// The content.
    pub content: FramedContent,
    /// Its signature and confirmation tag.
    pub auth: FramedContentAuthData,
}

impl Encode for AuthenticatedContent {
    fn encoded_len(&self) -> usize {
        self.wire_format.encoded_len() + self.content.encoded_len() + self.auth.encoded_len()
    }

    /// Fails with [`CodecError::Malformed`] if the confirmation tag's presence does not match
    /// the content type.
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        self.auth.check_for(self.content.content_type())?;
        self.wire_format.encode(out)?;
        self.content.encode(out)?;
        self.auth.encode(out)
    }
}

impl Decode for AuthenticatedContent {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, CodecError> {
        let wire_format = WireFormat::decode(reader)?;
        let content = FramedContent::decode(reader)?;
        let auth = FramedContentAuthData::decode_for(reader, content.content_type())?;
        Ok(Self {
            wire_format,
            content,
            auth,
        })
    }
}

/// `FramedContentTBS` (RFC 9420 §6.1): what a sender signs. Encode-only.
///
/// Build it with [`FramedContentTbs::new`], which includes the group context exactly when the
/// sender type requires it.
#[derive(Debug, Clone, Copy)]
pub struct FramedContentTbs<'a> {
    wire_format: WireFormat,
    content: &'a FramedContent,
    context: Option<&'a GroupContext>,
}

impl<'a> FramedContentTbs<'a> {
    /// The to-be-signed structure for `content` sent as `wire_format`.
    ///
    /// `context` is the current group context. It is included for `member` and
    /// `new_member_commit` senders, where it is required (else [`CodecError::Malformed`]),
    /// and ignored for `external` and `new_member_proposal` senders.
    pub fn new(
        wire_format: WireFormat,
        content: &'a FramedContent,
        context: Option<&'a GroupContext>,
    ) -> Result<Self, CodecError> {
        let context = if content.sender.signs_group_context() {
            Some(context.ok_or(CodecError::Malformed {
                what: "FramedContentTBS",
                reason: "member and new_member_commit senders sign the group context",
            })?)
        } else {
            None
        };
        Ok(Self {
            wire_format,
            content,
            context,
        })
    }
}

impl Encode for FramedContentTbs<'_> {
    fn encoded_len(&self) -> usize {
        ProtocolVersion::MLS10.encoded_len()
            + self.wire_format.encoded_len()
            + self.content.encoded_len()
            + self.context.map_or(0, Encode::encoded_len)
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        ProtocolVersion::MLS10.encode(out)?;
        self.wire_format.encode(out)?;
        self.content.encode(out)?;
        if let Some(context) = self.context {
            context.encode(out)?;
        }
        Ok(())
    }
}

/// Encodes `AuthenticatedContentTBM` (RFC 9420 §6.2): `FramedContentTBS` (with wire format
/// `mls_public_message`) followed by the auth data, the input of the membership tag MAC.
///
/// Fails with [`CodecError::Malformed`] if the sender is a member and `context` is `None`, or
/// if the confirmation tag's presence does not match the content type.
pub fn authenticated_content_tbm(
    content: &FramedContent,
    auth: &FramedContentAuthData,
    context: Option<&GroupContext>,
) -> Result<Vec<u8>, CodecError> {
    auth.check_for(content.content_type())?;
    let tbs = FramedContentTbs::new(WireFormat::PUBLIC_MESSAGE, content, context)?;
    let mut out = Vec::with_capacity(tbs.encoded_len() + auth.encoded_len());
    tbs.encode(&mut out)?;
    auth.encode(&mut out)?;
    Ok(out)
}
