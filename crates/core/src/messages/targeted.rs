//! The wire structures of draft-ietf-mls-targeted-messages (-01 §3, §6.2, §6.3 and the
//! editor's copy after -02, same sections): a one-shot message from one member to one other
//! member of the same group. Sealing and opening are [`crate::targeted`]'s job.
//!
//! The two versions share [`TargetedMessage`], [`TargetedMessageSenderAuthData`],
//! [`TargetedMessageTbs`], [`TargetedMessagePskId`] and [`SenderAuthDataAad`]; they differ in
//! the HPKE `info` and `aad` ([`TargetedMessageTbm`] is -01 only,
//! [`TargetedMessageContextData`] -02 only).

use conclave_codec::{Decode, Encode};

use super::{LeafIndex, ProtocolVersion, WireFormat};

/// `TargetedMessage` (draft-ietf-mls-targeted-messages-01 §3): the body of an `MLSMessage`
/// with wire format `mls_targeted_message`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct TargetedMessage {
    /// `opaque group_id<V>`.
    pub group_id: Vec<u8>,
    /// `uint64 epoch`.
    pub epoch: u64,
    /// `uint32 recipient_leaf_index`.
    pub recipient_leaf_index: LeafIndex,
    /// `opaque authenticated_data<V>`.
    pub authenticated_data: Vec<u8>,
    /// `opaque encrypted_sender_auth_data<V>`: an AEAD-encrypted
    /// [`TargetedMessageSenderAuthData`].
    pub encrypted_sender_auth_data: Vec<u8>,
    /// `opaque ciphertext<V>`: the HPKE-encrypted [`TargetedMessageContent`] (without the
    /// `kem_output`, which travels in the sender auth data).
    pub ciphertext: Vec<u8>,
}

/// `TargetedMessageSenderAuthData` (draft-ietf-mls-targeted-messages-01 §3, §6.3).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct TargetedMessageSenderAuthData {
    /// `uint32 sender_leaf_index`.
    pub sender_leaf_index: LeafIndex,
    /// `opaque signature<V>`: over the [`TargetedMessageTbs`].
    pub signature: Vec<u8>,
    /// `opaque kem_output<V>`: the HPKE encapsulation of the content's key.
    pub kem_output: Vec<u8>,
}

/// `TargetedMessageTBM` (draft-ietf-mls-targeted-messages-01 §3, §6.2): the HPKE `aad` of
/// the content in -01. The editor's copy after -02 removed it.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct TargetedMessageTbm {
    /// `opaque group_id<V>`.
    pub group_id: Vec<u8>,
    /// `uint64 epoch`.
    pub epoch: u64,
    /// `uint32 recipient_leaf_index`.
    pub recipient_leaf_index: LeafIndex,
    /// `opaque authenticated_data<V>`.
    pub authenticated_data: Vec<u8>,
    /// `uint32 sender_leaf_index`.
    pub sender_leaf_index: LeafIndex,
    /// `opaque kem_output<V>`.
    pub kem_output: Vec<u8>,
}

/// `TargetedMessageTBS` (draft-ietf-mls-targeted-messages-01 §3, §5): what the sender
/// signs with `SignWithLabel(.., "TargetedMessageTBS", ..)`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct TargetedMessageTbs {
    /// `ProtocolVersion version = mls10`.
    pub version: ProtocolVersion,
    /// `WireFormat wire_format = mls_targeted_message`.
    pub wire_format: WireFormat,
    /// `opaque group_id<V>`.
    pub group_id: Vec<u8>,
    /// `uint64 epoch`.
    pub epoch: u64,
    /// `uint32 recipient_leaf_index`.
    pub recipient_leaf_index: LeafIndex,
    /// `opaque authenticated_data<V>`.
    pub authenticated_data: Vec<u8>,
    /// `uint32 sender_leaf_index`.
    pub sender_leaf_index: LeafIndex,
    /// `opaque kem_output<V>`.
    pub kem_output: Vec<u8>,
    /// `opaque ciphertext_hash<V>`: `Hash(ciphertext)` with the group's hash.
    pub ciphertext_hash: Vec<u8>,
}

/// `PSKId` (draft-ietf-mls-targeted-messages-01 §3, §5): the HPKE `psk_id` of a targeted
/// message.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct TargetedMessagePskId {
    /// `opaque group_id<V>`.
    pub group_id: Vec<u8>,
    /// `uint64 epoch`.
    pub epoch: u64,
    /// `opaque label<V> = "MLS 1.0 targeted message psk"`.
    pub label: Vec<u8>,
}

/// `SenderAuthDataAAD` (draft-ietf-mls-targeted-messages-01 §6.3): the AEAD associated data
/// of `encrypted_sender_auth_data`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct SenderAuthDataAad {
    /// `opaque group_id<V>`.
    pub group_id: Vec<u8>,
    /// `uint64 epoch`.
    pub epoch: u64,
    /// `uint32 recipient_leaf_index`.
    pub recipient_leaf_index: LeafIndex,
}

/// `TargetedMessageContextData` (editor's copy after draft-ietf-mls-targeted-messages-02
/// §6.2): the typed `context` of the HPKE `info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct TargetedMessageContextData {
    /// `uint32 recipient_leaf_index`.
    pub recipient_leaf_index: LeafIndex,
    /// `uint32 sender_leaf_index`.
    pub sender_leaf_index: LeafIndex,
}

/// `TargetedMessageContent` (draft-ietf-mls-targeted-messages-01 §3, §6.1):
/// `opaque application_data<V>` followed by `length_of_padding` zero bytes.
///
/// Not `Decode`: the padding has no length prefix, so [`TargetedMessageContent::parse`]
/// reads the application data and checks that everything after it is zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetedMessageContent {
    /// `opaque application_data<V>`.
    pub application_data: Vec<u8>,
    /// `length_of_padding`: how many zero bytes follow.
    pub padding_length: usize,
}

/// Why a decrypted [`TargetedMessageContent`] is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TargetedContentError {
    /// The plaintext does not start with an `opaque application_data<V>`.
    #[error(
        "draft-ietf-mls-targeted-messages-01 §6.1: the plaintext does not start with \
         application_data<V>: {0}"
    )]
    Malformed(conclave_codec::CodecError),
    /// A padding byte is not zero.
    #[error(
        "draft-ietf-mls-targeted-messages-01 §6.1: the padding of a TargetedMessageContent \
         must be all zero bytes (the message is malformed)"
    )]
    NonZeroPadding,
}

impl TargetedMessageContent {
    /// The serialized content: `application_data<V>` then `padding_length` zeros.
    pub fn to_bytes(&self) -> Result<Vec<u8>, conclave_codec::CodecError> {
        let mut out = Vec::with_capacity(
            conclave_codec::opaque_len(self.application_data.len())
                .saturating_add(self.padding_length),
        );
        conclave_codec::write_opaque(&mut out, &self.application_data)?;
        out.resize(out.len().saturating_add(self.padding_length), 0);
        Ok(out)
    }

    /// Parses a decrypted plaintext (draft-ietf-mls-targeted-messages-01 §6.1): the
    /// application data first, then the padding is every remaining byte, which "MUST be
    /// filled with all zero bytes"; a non-zero byte rejects the message.
    pub fn parse(plaintext: &[u8]) -> Result<Self, TargetedContentError> {
        let mut reader = conclave_codec::Reader::new(plaintext);
        let application_data = reader
            .read_opaque()
            .map_err(TargetedContentError::Malformed)?
            .to_vec();
        let padding = reader.peek_rest();
        if padding.iter().any(|b| *b != 0) {
            return Err(TargetedContentError::NonZeroPadding);
        }
        Ok(Self {
            application_data,
            padding_length: padding.len(),
        })
    }
}
