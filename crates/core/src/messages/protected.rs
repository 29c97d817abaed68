//! Protected messages (RFC 9420 §6.2, §6.3): `PublicMessage` (signed, MACed with the
//! membership key) and `PrivateMessage` (encrypted), with the plaintext and associated-data
//! structures of the latter. Only the encodings live here; computing tags and encrypting
//! are the job of the framing layer.

use conclave_codec::{CodecError, Decode, Encode, Reader};

use super::{Content, ContentType, FramedContent, FramedContentAuthData, LeafIndex, Sender};

/// `PublicMessage` (RFC 9420 §6.2).
///
/// The membership tag is present exactly when the sender is a `member`; encoding checks
/// that, and that the confirmation tag is present exactly for commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicMessage {
    /// The content.
    pub content: FramedContent,
    /// Signature and, for commits, confirmation tag.
    pub auth: FramedContentAuthData,
    /// `MAC membership_tag` (an `opaque<V>`): `Some` exactly for `member` senders.
    pub membership_tag: Option<Vec<u8>>,
}

impl PublicMessage {
    fn check(&self) -> Result<(), CodecError> {
        self.auth.check_for(self.content.content_type())?;
        match (&self.content.sender, &self.membership_tag) {
            (Sender::Member(_), Some(_))
            | (Sender::External(_) | Sender::NewMemberProposal | Sender::NewMemberCommit, None) => {
                Ok(())
            }
            (Sender::Member(_), None) => Err(CodecError::Malformed {
                what: "PublicMessage",
                reason: "a member sender needs a membership_tag",
            }),
            (_, Some(_)) => Err(CodecError::Malformed {
                what: "PublicMessage",
                reason: "only member senders carry a membership_tag",
            }),
        }
    }
}

impl Encode for PublicMessage {
    fn encoded_len(&self) -> usize {
        self.content.encoded_len()
            + self.auth.encoded_len()
            + self.membership_tag.as_ref().map_or(0, Encode::encoded_len)
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        self.check()?;
        self.content.encode(out)?;
        self.auth.encode(out)?;
        if let Some(tag) = &self.membership_tag {
            tag.encode(out)?;
        }
        Ok(())
    }
}

impl Decode for PublicMessage {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, CodecError> {
        let content = FramedContent::decode(reader)?;
        let auth = FramedContentAuthData::decode_for(reader, content.content_type())?;
        let membership_tag = match content.sender {
            Sender::Member(_) => Some(Vec::decode(reader)?),
            Sender::External(_) | Sender::NewMemberProposal | Sender::NewMemberCommit => None,
        };
        Ok(Self {
            content,
            auth,
            membership_tag,
        })
    }
}

/// `PrivateMessage` (RFC 9420 §6.3).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct PrivateMessage {
    /// `opaque group_id<V>`.
    pub group_id: Vec<u8>,
    /// `uint64 epoch`.
    pub epoch: u64,
    /// The type of the encrypted content.
    pub content_type: ContentType,
    /// `opaque authenticated_data<V>`.
    pub authenticated_data: Vec<u8>,
    /// `opaque encrypted_sender_data<V>`: the encrypted [`SenderData`].
    pub encrypted_sender_data: Vec<u8>,
    /// `opaque ciphertext<V>`: the encrypted [`PrivateMessageContent`].
    pub ciphertext: Vec<u8>,
}

/// `PrivateMessageContent` (RFC 9420 §6.3.1): the plaintext of a `PrivateMessage`.
///
/// The content is written without its type (that is in the `PrivateMessage`), then the auth
/// data, then `padding` zero bytes. Decoding needs the type from outside: use
/// [`PrivateMessageContent::decode_with_type`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateMessageContent {
    /// The payload; its type must equal the enclosing `PrivateMessage`'s `content_type`.
    pub content: Content,
    /// Signature and, for commits, confirmation tag.
    pub auth: FramedContentAuthData,
    /// Number of zero padding bytes at the end.
    pub padding: usize,
}

impl PrivateMessageContent {
    /// Decodes a plaintext of content type `content_type`, consuming everything left in
    /// `reader`: whatever follows the auth data is padding, which must be all zero bytes
    /// (RFC 9420 §6.3.1; else [`CodecError::Malformed`]).
    pub fn decode_with_type(
        reader: &mut Reader<'_>,
        content_type: ContentType,
    ) -> Result<Self, CodecError> {
        let content = Content::decode_body(reader, content_type)?;
        let auth = FramedContentAuthData::decode_for(reader, content_type)?;
        let padding = reader.read_bytes(reader.remaining())?;
        // Padding is not secret, but there is no reason to stop early either.
        if padding.iter().fold(0u8, |acc, b| acc | b) != 0 {
            return Err(CodecError::Malformed {
                what: "PrivateMessageContent",
                reason: "padding must be all zero bytes",
            });
        }
        Ok(Self {
            content,
            auth,
            padding: padding.len(),
        })
    }

    /// Decodes a whole plaintext (see [`PrivateMessageContent::decode_with_type`]).
    pub fn from_bytes_with_type(
        bytes: &[u8],
        content_type: ContentType,
    ) -> Result<Self, CodecError> {
        Self::decode_with_type(&mut Reader::new(bytes), content_type)
    }
}

impl Encode for PrivateMessageContent {
    fn encoded_len(&self) -> usize {
        self.content.body_encoded_len() + self.auth.encoded_len() + self.padding
    }

    /// Fails with [`CodecError::Malformed`] if the confirmation tag's presence does not match
    /// the content type.
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        self.auth.check_for(self.content.content_type())?;
        self.content.encode_body(out)?;
        self.auth.encode(out)?;
        out.resize(out.len().saturating_add(self.padding), 0);
        Ok(())
    }
}

/// `SenderData` (RFC 9420 §6.3.2): the plaintext of `encrypted_sender_data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct SenderData {
    /// `uint32 leaf_index` of the sender.
    pub leaf_index: LeafIndex,
    /// `uint32 generation` of the ratchet key used.
    pub generation: u32,
    /// `opaque reuse_guard[4]`, XORed into the content nonce.
    pub reuse_guard: [u8; 4],
}

/// `SenderDataAAD` (RFC 9420 §6.3.2): associated data of the sender data encryption.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct SenderDataAad {
    /// `opaque group_id<V>`.
    pub group_id: Vec<u8>,
    /// `uint64 epoch`.
    pub epoch: u64,
    /// `ContentType content_type`.
    pub content_type: ContentType,
}

/// `PrivateContentAAD` (RFC 9420 §6.3.1): associated data of the content encryption.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct PrivateContentAad {
    /// `opaque group_id<V>`.
    pub group_id: Vec<u8>,
    /// `uint64 epoch`.
    pub epoch: u64,
    /// `ContentType content_type`.
    pub content_type: ContentType,
    /// `opaque authenticated_data<V>`.
    pub authenticated_data: Vec<u8>,
}
