//! `SemiPrivateMessage` protection (draft-mahy-mls-semiprivatemessage-07 §3): a
//! `PrivateMessage` for handshakes whose per-message key and nonce are also HPKE-encrypted to
//! each of the group's external receivers (§3.1), decrypted by members like a PrivateMessage
//! (§3.2) and by an external receiver with its HPKE private key (§3.3).
//!
//! Decisions on points the draft leaves open:
//! - `partial_context_hash = hash(sender_leaf_index || nonce)` (§3.1): `||` concatenates the
//!   4-byte big-endian `uint32` and the raw ratchet nonce (`AEAD.Nn` bytes, before the reuse
//!   guard is XORed in, as `PerMessageKeyAndNonces.nonce` carries it), without length prefixes.
//! - `ExternalReceiverRef = hash(ExternalReceiver)` (§3.1) is the suite's plain `Hash` of the
//!   encoded `ExternalReceiver`, not a `RefHash` (RFC 9420 §5.2) with a label.
//! - `framed_content_tbs_hash = hash(FramedContentTBS)` is the plain `Hash` of the encoded
//!   `FramedContentTBS` (RFC 9420 §6.1) with `wire_format = mls_semiprivate_message`, which
//!   for a member sender includes the GroupContext. An external receiver therefore checks
//!   it only once it has the GroupContext, together with the signature
//!   ([`OpenedHandshake::verify`]); §3.3 lists it before the signature check, but the hash
//!   cannot be computed without the context.
//! - The HPKE ciphertext (`encrypted_keys_and_nonces`) and the content ciphertext are both
//!   bound to `partial_context_hash`, the former through its context, the latter through
//!   the AAD; a receiver recomputes it from the decrypted leaf index and nonce.
//! - Members also check that `keys_for_external_receivers` names exactly the group's
//!   receivers, each once ([`FramingError::ExternalReceiverKeysMismatch`]): the draft says
//!   the key is encrypted "once for each external receiver" (§3), and a handshake the Delivery
//!   Service cannot read would defeat the group's choice of this wire format.

use std::borrow::Cow;

use conclave_codec::{Decode, Encode};
use conclave_crypto::{CipherSuiteProvider, CryptoError, CryptoRandom, Secret, labels};

use super::private::{
    decode_private_content, encode_content_plaintext, open_sender_data_of, seal_sender_data,
};
use super::{
    EncodedTbs, FramingError, PaddingPolicy, UnverifiedContent, VerifiedContent,
    check_confirmation_tag, check_context, check_group_epoch, check_sender_content,
};
use crate::codepoints::{SEMI_PRIVATE_MESSAGE_RECEIVER_LABEL, SEMI_PRIVATE_MESSAGE_WIRE_FORMAT};
use crate::messages::{
    AuthenticatedContent, Content, ContentType, ExternalReceiver, FramedContent,
    FramedContentAuthData, FramedContentTbs, GroupContext, HpkeCiphertext, KeyForExternalReceiver,
    LeafIndex, PerMessageKeyAndNonces, SemiPrivateContentAad, SemiPrivateMessage,
    SemiPrivateMessageContext, Sender, SenderData, SenderDataAad, WireFormat,
};
use crate::secret_tree::{RatchetType, SecretTree, apply_reuse_guard};

/// `hash(sender_leaf_index || nonce)` (draft-mahy-mls-semiprivatemessage-07 §3.1; the
/// encoding of `||` is decided in the module documentation).
pub(crate) fn partial_context_hash(
    cs: &dyn CipherSuiteProvider,
    sender_leaf_index: LeafIndex,
    nonce: &[u8],
) -> Vec<u8> {
    cs.hash_parts(&[&sender_leaf_index.0.to_be_bytes(), nonce])
}

/// `ExternalReceiverRef = hash(ExternalReceiver)` (draft-mahy-mls-semiprivatemessage-07 §3.1):
/// the suite's `Hash` of the encoded receiver.
pub fn external_receiver_ref(
    cs: &dyn CipherSuiteProvider,
    receiver: &ExternalReceiver,
) -> Result<Vec<u8>, FramingError> {
    Ok(cs.hash(&receiver.to_bytes()?))
}

/// `framed_content_tbs_hash` of an encoded TBS (draft-mahy-mls-semiprivatemessage-07 §3.1).
fn tbs_hash(cs: &dyn CipherSuiteProvider, encoded: &EncodedTbs) -> Vec<u8> {
    cs.hash(
        encoded
            .bytes
            .get(encoded.tbs_start..encoded.tbs_end)
            .unwrap_or_default(),
    )
}

/// Only proposals and commits travel as SemiPrivateMessage (draft-mahy-mls-semiprivatemessage-07
/// §1, §3).
pub(crate) fn check_handshake(content_type: ContentType) -> Result<(), FramingError> {
    if content_type == ContentType::Application {
        return Err(FramingError::ApplicationAsSemiPrivateMessage);
    }
    Ok(())
}

/// Encrypts signed handshake content as a `SemiPrivateMessage`
/// (draft-mahy-mls-semiprivatemessage-07 §3.1).
///
/// The content must be a member's proposal or commit signed for `mls_semiprivate_message`
/// in the group of `context`, with a confirmation tag exactly if it is a commit. Like
/// [`super::protect_private`] it takes the next key of the sender's *handshake* ratchet and a
/// fresh reuse guard from `rng`, pads the plaintext per `padding` and encrypts the sender
/// data (RFC 9420 §6.3.1, §6.3.2); in addition it computes `partial_context_hash` and
/// `framed_content_tbs_hash`, and encrypts the `PerMessageKeyAndNonces` to each of
/// `receivers` with `EncryptWithLabel(., "SemiPrivateMessageReceiver",
/// SemiPrivateMessageContext, .)`, in the order given. `receivers` must not be empty.
#[allow(clippy::too_many_arguments)]
pub fn protect_semi_private(
    cs: &dyn CipherSuiteProvider,
    content: &AuthenticatedContent,
    context: &GroupContext,
    receivers: &[ExternalReceiver],
    secret_tree: &mut SecretTree,
    sender_data_secret: &[u8],
    padding: PaddingPolicy,
    rng: &mut dyn CryptoRandom,
) -> Result<SemiPrivateMessage, FramingError> {
    if content.wire_format != SEMI_PRIVATE_MESSAGE_WIRE_FORMAT {
        return Err(FramingError::WrongWireFormat {
            signed: content.wire_format,
            used: SEMI_PRIVATE_MESSAGE_WIRE_FORMAT,
        });
    }
    let framed = &content.content;
    let Sender::Member(leaf) = framed.sender else {
        return Err(FramingError::SenderNotMember);
    };
    let content_type = framed.content_type();
    check_handshake(content_type)?;
    check_sender_content(framed)?;
    check_confirmation_tag(&content.auth, content_type)?;
    check_context(cs, framed, context)?;
    if receivers.is_empty() {
        return Err(FramingError::NoExternalReceivers);
    }

    let plaintext = encode_content_plaintext(content, padding)?;
    let tbs = FramedContentTbs::new(SEMI_PRIVATE_MESSAGE_WIRE_FORMAT, framed, Some(context))?;
    let framed_content_tbs_hash = cs.hash(&tbs.to_bytes()?);

    let mut reuse_guard = [0u8; 4];
    rng.fill(&mut reuse_guard)?;
    let key = secret_tree.next_key(cs, leaf, RatchetType::Handshake)?;
    let partial_context_hash = partial_context_hash(cs, leaf, key.nonce.as_bytes());

    // The per-message keys, once per receiver (§3.1).
    let key_and_nonces = Secret::new(
        PerMessageKeyAndNonces {
            key: key.key.clone(),
            nonce: key.nonce.clone(),
            reuse_guard,
            sender_leaf_index: leaf,
        }
        .to_bytes()?,
    );
    let hpke_context = SemiPrivateMessageContext {
        group_id: framed.group_id.clone(),
        epoch: framed.epoch,
        partial_context_hash: partial_context_hash.clone(),
    }
    .to_bytes()?;
    let prepared =
        labels::prepare_encrypt_context(cs, SEMI_PRIVATE_MESSAGE_RECEIVER_LABEL, &hpke_context)?;
    let mut keys_for_external_receivers = Vec::with_capacity(receivers.len());
    for receiver in receivers {
        let sealed = labels::encrypt_with_label_prepared(
            cs,
            receiver.external_receiver_public_key.as_ref(),
            &prepared,
            key_and_nonces.as_bytes(),
            rng,
        )?;
        keys_for_external_receivers.push(KeyForExternalReceiver {
            external_receiver_ref: external_receiver_ref(cs, receiver)?,
            encrypted_keys_and_nonces: HpkeCiphertext {
                kem_output: sealed.kem_output,
                ciphertext: sealed.ciphertext,
            },
        });
    }

    let mut message = SemiPrivateMessage {
        group_id: framed.group_id.clone(),
        epoch: framed.epoch,
        content_type,
        authenticated_data: framed.authenticated_data.clone(),
        partial_context_hash,
        keys_for_external_receivers,
        framed_content_tbs_hash,
        encrypted_sender_data: Vec::new(),
        ciphertext: Vec::new(),
    };
    let aad = SemiPrivateContentAad::of(&message).to_bytes()?;
    let nonce = key.nonce_with_reuse_guard(reuse_guard);
    message.ciphertext = cs.aead_seal(key.key.as_bytes(), nonce.as_bytes(), &aad, &plaintext)?;
    message.encrypted_sender_data = seal_sender_data(
        cs,
        sender_data_secret,
        framed,
        SenderData {
            leaf_index: leaf,
            generation: key.generation,
            reuse_guard,
        },
        &message.ciphertext,
    )?;
    Ok(message)
}

/// Decrypts the sender data of a `SemiPrivateMessage` exactly as for a `PrivateMessage`
/// (draft-mahy-mls-semiprivatemessage-07 §3.2, RFC 9420 §6.3.2). Touches no ratchet state.
pub fn open_semi_private_sender_data(
    cs: &dyn CipherSuiteProvider,
    message: &SemiPrivateMessage,
    sender_data_secret: &[u8],
) -> Result<SenderData, FramingError> {
    open_sender_data_of(
        cs,
        sender_data_secret,
        SenderDataAad {
            group_id: message.group_id.clone(),
            epoch: message.epoch,
            content_type: message.content_type,
        },
        &message.encrypted_sender_data,
        &message.ciphertext,
    )
}

/// `keys_for_external_receivers` names each of `receivers` exactly once and nothing else
/// (see the module documentation).
fn check_receiver_keys(
    cs: &dyn CipherSuiteProvider,
    message: &SemiPrivateMessage,
    receivers: &[ExternalReceiver],
) -> Result<(), FramingError> {
    if receivers.is_empty() {
        return Err(FramingError::NoExternalReceivers);
    }
    if message.keys_for_external_receivers.len() != receivers.len() {
        return Err(FramingError::ExternalReceiverKeysMismatch);
    }
    for receiver in receivers {
        let reference = external_receiver_ref(cs, receiver)?;
        let count = message
            .keys_for_external_receivers
            .iter()
            .filter(|k| k.external_receiver_ref == reference)
            .count();
        if count != 1 {
            return Err(FramingError::ExternalReceiverKeysMismatch);
        }
    }
    Ok(())
}

/// Decrypts a received `SemiPrivateMessage` as a member, into content whose signature
/// remains to be verified (draft-mahy-mls-semiprivatemessage-07 §3.2).
///
/// Checks, in order: the group id and epoch match `context` (RFC 9420 §6); the content is a
/// proposal or commit (§3); `keys_for_external_receivers` names exactly `receivers`, the
/// group's list (see the module documentation); the sender data decrypts (RFC 9420 §6.3.2)
/// and names a leaf inside the tree; the sender's *handshake* ratchet yields the key of the
/// generation; `partial_context_hash` matches the leaf and the ratchet nonce; the ciphertext
/// decrypts under `SemiPrivateContentAAD` with the reuse-guarded nonce; the plaintext parses
/// with all-zero padding and a confirmation tag exactly for commits; `framed_content_tbs_hash`
/// is the hash of the content's `FramedContentTBS`. The signature is verified by
/// [`UnverifiedContent::verify`], which reuses the TBS encoded here.
///
/// Ratchet state as for [`super::unprotect_private`]: the generation is consumed only if the
/// partial context hash matches and the ciphertext decrypts; else the tree is unchanged.
pub fn unprotect_semi_private(
    cs: &dyn CipherSuiteProvider,
    message: &SemiPrivateMessage,
    context: &GroupContext,
    receivers: &[ExternalReceiver],
    secret_tree: &mut SecretTree,
    sender_data_secret: &[u8],
) -> Result<UnverifiedContent<'static>, FramingError> {
    check_group_epoch(&message.group_id, message.epoch, context)?;
    let content_type = message.content_type;
    check_handshake(content_type)?;
    check_receiver_keys(cs, message, receivers)?;

    let sender_data = open_semi_private_sender_data(cs, message, sender_data_secret)?;
    let leaf = sender_data.leaf_index;
    let size = secret_tree.size();
    if !size.contains_leaf(leaf) {
        return Err(FramingError::SenderLeafOutOfRange {
            leaf: leaf.0,
            leaves: size.leaf_count(),
        });
    }

    let aad = SemiPrivateContentAad::of(message).to_bytes()?;
    let plaintext = secret_tree.open_generation(
        cs,
        leaf,
        RatchetType::Handshake,
        sender_data.generation,
        |key| {
            if partial_context_hash(cs, leaf, key.nonce.as_bytes()) != message.partial_context_hash
            {
                return Err(FramingError::PartialContextHashMismatch);
            }
            let nonce = key.nonce_with_reuse_guard(sender_data.reuse_guard);
            open_content(cs, key.key.as_bytes(), nonce.as_bytes(), &aad, message)
        },
    )?;
    let (content, auth) = decode_private_content(plaintext.as_bytes(), content_type)?;
    let content = framed_content(message, leaf, content);
    let encoded = EncodedTbs::new(
        SEMI_PRIVATE_MESSAGE_WIRE_FORMAT,
        &content,
        Some(context),
        None,
    )?;
    if tbs_hash(cs, &encoded) != message.framed_content_tbs_hash {
        return Err(FramingError::FramedContentTbsHashMismatch);
    }
    Ok(UnverifiedContent {
        wire_format: SEMI_PRIVATE_MESSAGE_WIRE_FORMAT,
        content: Cow::Owned(content),
        auth: Cow::Owned(auth),
        encoded: Some(encoded),
    })
}

/// AEAD-opens the content ciphertext (draft-mahy-mls-semiprivatemessage-07 §3.1).
fn open_content(
    cs: &dyn CipherSuiteProvider,
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    message: &SemiPrivateMessage,
) -> Result<Secret, FramingError> {
    cs.aead_open(key, nonce, aad, &message.ciphertext)
        .map_err(|e| match e {
            CryptoError::AeadOpenFailed => FramingError::ContentDecryption,
            other => FramingError::Crypto(other),
        })
}

fn framed_content(
    message: &SemiPrivateMessage,
    leaf: LeafIndex,
    content: Content,
) -> FramedContent {
    FramedContent {
        group_id: message.group_id.clone(),
        epoch: message.epoch,
        sender: Sender::Member(leaf),
        authenticated_data: message.authenticated_data.clone(),
        content,
    }
}

/// A handshake an external receiver decrypted from a `SemiPrivateMessage`
/// (draft-mahy-mls-semiprivatemessage-07 §3.3): the partial context hash, padding and
/// content encoding are checked; the `framed_content_tbs_hash` and the signature are not,
/// because both need the group's GroupContext (and the signature the sender's leaf):
/// [`OpenedHandshake::verify`] checks them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedHandshake {
    /// The wire format: always `mls_semiprivate_message`.
    pub wire_format: WireFormat,
    /// The decrypted content, its sender the member at `sender_leaf`. Unverified.
    pub content: FramedContent,
    /// The signature and (for a commit) confirmation tag. Unverified.
    pub auth: FramedContentAuthData,
    /// The sender's leaf index, from the decrypted `PerMessageKeyAndNonces`.
    pub sender_leaf: LeafIndex,
    /// The `framed_content_tbs_hash` the message carries.
    pub framed_content_tbs_hash: Vec<u8>,
}

impl OpenedHandshake {
    /// Checks that `framed_content_tbs_hash` is the hash of the content's `FramedContentTBS`
    /// in the group of `context` (draft-mahy-mls-semiprivatemessage-07 §3.3): the content the
    /// external receiver read is the content the members read and the sender signed.
    pub fn check_framed_content_tbs_hash(
        &self,
        cs: &dyn CipherSuiteProvider,
        context: &GroupContext,
    ) -> Result<(), FramingError> {
        self.encoded_tbs(cs, context).map(|_| ())
    }

    fn encoded_tbs(
        &self,
        cs: &dyn CipherSuiteProvider,
        context: &GroupContext,
    ) -> Result<EncodedTbs, FramingError> {
        check_context(cs, &self.content, context)?;
        let encoded = EncodedTbs::new(self.wire_format, &self.content, Some(context), None)?;
        if tbs_hash(cs, &encoded) != self.framed_content_tbs_hash {
            return Err(FramingError::FramedContentTbsHashMismatch);
        }
        Ok(encoded)
    }

    /// Checks the `framed_content_tbs_hash` against `context` and verifies the signature with
    /// `sender_signature_key`, the signature key of the leaf at [`OpenedHandshake::sender_leaf`]
    /// in the group's tree (draft-mahy-mls-semiprivatemessage-07 §3.3, RFC 9420 §6.1).
    /// The confirmation tag of a commit cannot be checked by an external receiver.
    pub fn verify(
        self,
        cs: &dyn CipherSuiteProvider,
        sender_signature_key: &[u8],
        context: &GroupContext,
    ) -> Result<VerifiedContent<'static>, FramingError> {
        let encoded = self.encoded_tbs(cs, context)?;
        UnverifiedContent {
            wire_format: self.wire_format,
            content: Cow::Owned(self.content),
            auth: Cow::Owned(self.auth),
            encoded: Some(encoded),
        }
        .verify(cs, sender_signature_key, context)
    }
}

/// Decrypts a `SemiPrivateMessage` as one of the group's external receivers, for example
/// the Delivery Service (draft-mahy-mls-semiprivatemessage-07 §3.3).
///
/// `receiver` is the receiver's own entry of the group's `external_receivers` list and
/// `receiver_private_key` the HPKE private key of its public key. Finds the entry of
/// `keys_for_external_receivers` whose reference is `hash(receiver)`, decrypts the
/// `PerMessageKeyAndNonces` with `DecryptWithLabel(., "SemiPrivateMessageReceiver",
/// SemiPrivateMessageContext, .)`, checks `partial_context_hash` against the decrypted leaf
/// index and nonce, decrypts the content with the reuse-guarded nonce under
/// `SemiPrivateContentAAD`, and parses it (zero padding, confirmation tag exactly for
/// commits). Application content is refused before anything is decrypted.
///
/// Sans-IO and stateless: the caller (who holds the group's public state) then calls
/// [`OpenedHandshake::verify`] with the GroupContext and the sender leaf's signature key.
pub fn open_as_external_receiver(
    cs: &dyn CipherSuiteProvider,
    receiver_private_key: &[u8],
    receiver: &ExternalReceiver,
    message: &SemiPrivateMessage,
) -> Result<OpenedHandshake, FramingError> {
    let content_type = message.content_type;
    check_handshake(content_type)?;
    let reference = external_receiver_ref(cs, receiver)?;
    let entry = message
        .keys_for_external_receivers
        .iter()
        .find(|k| k.external_receiver_ref == reference)
        .ok_or(FramingError::NotAnExternalReceiver)?;
    let hpke_context = SemiPrivateMessageContext {
        group_id: message.group_id.clone(),
        epoch: message.epoch,
        partial_context_hash: message.partial_context_hash.clone(),
    }
    .to_bytes()?;
    let decrypted = labels::decrypt_with_label(
        cs,
        receiver_private_key,
        SEMI_PRIVATE_MESSAGE_RECEIVER_LABEL,
        &hpke_context,
        &entry.encrypted_keys_and_nonces.kem_output,
        &entry.encrypted_keys_and_nonces.ciphertext,
    )
    .map_err(|e| match e {
        CryptoError::AeadOpenFailed | CryptoError::InvalidKey { .. } | CryptoError::DhFailed(_) => {
            FramingError::KeyAndNoncesDecryption
        }
        other => FramingError::Crypto(other),
    })?;
    let keys = PerMessageKeyAndNonces::from_bytes(decrypted.as_bytes())
        .map_err(|_| FramingError::MalformedKeyAndNonces)?;
    if keys.key.as_bytes().len() != cs.aead_key_len()
        || keys.nonce.as_bytes().len() != cs.aead_nonce_len()
    {
        return Err(FramingError::MalformedKeyAndNonces);
    }
    let leaf = keys.sender_leaf_index;
    if partial_context_hash(cs, leaf, keys.nonce.as_bytes()) != message.partial_context_hash {
        return Err(FramingError::PartialContextHashMismatch);
    }
    let aad = SemiPrivateContentAad::of(message).to_bytes()?;
    let nonce = apply_reuse_guard(keys.nonce.as_bytes(), keys.reuse_guard);
    let plaintext = open_content(cs, keys.key.as_bytes(), nonce.as_bytes(), &aad, message)?;
    let (content, auth) = decode_private_content(plaintext.as_bytes(), content_type)?;
    Ok(OpenedHandshake {
        wire_format: SEMI_PRIVATE_MESSAGE_WIRE_FORMAT,
        content: framed_content(message, leaf, content),
        auth,
        sender_leaf: leaf,
        framed_content_tbs_hash: message.framed_content_tbs_hash.clone(),
    })
}
