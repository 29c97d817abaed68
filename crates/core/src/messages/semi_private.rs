//! The wire structures of draft-mahy-mls-semiprivatemessage-07 §3: the `external_receivers`
//! list, the per-message keys wrapped for each external receiver, and `SemiPrivateMessage`
//! with its associated data. Encrypting and decrypting are the framing layer's job
//! (`crate::framing`); the external receiver's side is `crate::semi_private`.
//!
//! Names follow the draft's structs. Where the draft's text is inconsistent
//! (`key_and_nonces` / `keys_and_nonces`, `encrypted_key_and_nonces` /
//! `encrypted_keys_and_nonces`) the struct names win: [`PerMessageKeyAndNonces`], and the
//! field [`KeyForExternalReceiver::encrypted_keys_and_nonces`] as the struct spells it.

use conclave_codec::{Decode, Encode};
use conclave_crypto::Secret;

use super::{ContentType, Credential, HpkeCiphertext, HpkePublicKey, LeafIndex};

/// `ExternalReceiver` (draft-mahy-mls-semiprivatemessage-07 §3): an HPKE public key of the
/// group's cipher suite and a credential naming its holder (for example the Delivery
/// Service). Mirrors `ExternalSender` (RFC 9420 §12.1.8.1).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ExternalReceiver {
    /// `HPKEPublicKey external_receiver_public_key`.
    pub external_receiver_public_key: HpkePublicKey,
    /// `Credential credential`.
    pub credential: Credential,
}

/// `ExternalReceiver external_receivers<V>`: the data of the `external_receivers` component
/// in the GroupContext's `app_data_dictionary` (draft-mahy-mls-semiprivatemessage-07 §3, §5.2).
///
/// The draft does not spell this struct out; by its statement that the component "mirrors
/// the syntax of the `external_senders` extension", it is the vector of entries, as
/// `ExternalSender external_senders<V>` is (RFC 9420 §12.1.8.1).
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode)]
pub struct ExternalReceivers(pub Vec<ExternalReceiver>);

/// `PerMessageKeyAndNonces` (draft-mahy-mls-semiprivatemessage-07 §3.1): what an external
/// receiver needs to decrypt one `SemiPrivateMessage`, HPKE-encrypted to it. The key and the
/// nonce are the sender's handshake ratchet's for the message's generation; the nonce is the
/// ratchet nonce *before* the reuse guard is XORed in (the guard travels beside it).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct PerMessageKeyAndNonces {
    /// `opaque key<V>`: `AEAD.Nk` bytes.
    pub key: Secret,
    /// `opaque nonce<V>`: `AEAD.Nn` bytes.
    pub nonce: Secret,
    /// `opaque reuse_guard[4]`.
    pub reuse_guard: [u8; 4],
    /// `uint32 sender_leaf_index`.
    pub sender_leaf_index: LeafIndex,
}

/// `SemiPrivateMessageContext` (draft-mahy-mls-semiprivatemessage-07 §3.1): the HPKE context
/// of `encrypted_keys_and_nonces`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct SemiPrivateMessageContext {
    /// `opaque group_id<V>`.
    pub group_id: Vec<u8>,
    /// `uint64 epoch`.
    pub epoch: u64,
    /// `opaque partial_context_hash<V>`.
    pub partial_context_hash: Vec<u8>,
}

/// `KeyForExternalReceiver` (draft-mahy-mls-semiprivatemessage-07 §3.1).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct KeyForExternalReceiver {
    /// `ExternalReceiverRef external_receiver_ref`: the hash of the encoded
    /// [`ExternalReceiver`] (see `crate::semi_private::external_receiver_ref`), an
    /// `opaque<V>`.
    pub external_receiver_ref: Vec<u8>,
    /// `HPKECiphertext encrypted_keys_and_nonces`: the [`PerMessageKeyAndNonces`].
    pub encrypted_keys_and_nonces: HpkeCiphertext,
}

/// `SemiPrivateMessage` (draft-mahy-mls-semiprivatemessage-07 §3.1): a `PrivateMessage` whose
/// per-message key is also encrypted to the group's external receivers.
///
/// Decoding accepts any content type; that only proposals and commits travel in this wire
/// format is a processing rule (§3: "restricted for use only with commits or proposals").
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct SemiPrivateMessage {
    /// `opaque group_id<V>`.
    pub group_id: Vec<u8>,
    /// `uint64 epoch`.
    pub epoch: u64,
    /// `ContentType content_type`.
    pub content_type: ContentType,
    /// `opaque authenticated_data<V>`.
    pub authenticated_data: Vec<u8>,
    /// `opaque partial_context_hash<V>`.
    pub partial_context_hash: Vec<u8>,
    /// `KeyForExternalReceiver keys_for_external_receivers<V>`.
    pub keys_for_external_receivers: Vec<KeyForExternalReceiver>,
    /// `opaque framed_content_tbs_hash<V>`: the hash of the `FramedContentTBS` the sender
    /// signed.
    pub framed_content_tbs_hash: Vec<u8>,
    /// `opaque encrypted_sender_data<V>`: a `SenderData`, encrypted as for a
    /// `PrivateMessage` (RFC 9420 §6.3.2).
    pub encrypted_sender_data: Vec<u8>,
    /// `opaque ciphertext<V>`: the encrypted `SemiPrivateMessageContent`.
    pub ciphertext: Vec<u8>,
}

/// `SemiPrivateContentAAD` (draft-mahy-mls-semiprivatemessage-07 §3.1): the associated data
/// of the content encryption.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct SemiPrivateContentAad {
    /// `opaque group_id<V>`.
    pub group_id: Vec<u8>,
    /// `uint64 epoch`.
    pub epoch: u64,
    /// `ContentType content_type`.
    pub content_type: ContentType,
    /// `opaque authenticated_data<V>`.
    pub authenticated_data: Vec<u8>,
    /// `opaque partial_context_hash<V>`.
    pub partial_context_hash: Vec<u8>,
    /// `KeyForExternalReceiver keys_for_external_receivers<V>`.
    pub keys_for_external_receivers: Vec<KeyForExternalReceiver>,
    /// `opaque framed_content_tbs_hash<V>`.
    pub framed_content_tbs_hash: Vec<u8>,
}

impl SemiPrivateContentAad {
    /// The associated data of `message`'s content.
    pub fn of(message: &SemiPrivateMessage) -> Self {
        Self {
            group_id: message.group_id.clone(),
            epoch: message.epoch,
            content_type: message.content_type,
            authenticated_data: message.authenticated_data.clone(),
            partial_context_hash: message.partial_context_hash.clone(),
            keys_for_external_receivers: message.keys_for_external_receivers.clone(),
            framed_content_tbs_hash: message.framed_content_tbs_hash.clone(),
        }
    }
}
