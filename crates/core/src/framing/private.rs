//! `PrivateMessage` protection (RFC 9420 §6.3): content encryption with the sender's ratchet
//! key and a reuse guard (§6.3.1), and sender-data encryption (§6.3.2).

use std::borrow::Cow;

use conclave_codec::{Decode, Encode, Reader};
use conclave_crypto::{CipherSuiteProvider, CryptoError, CryptoRandom, Secret};

use super::{
    FramingError, PaddingPolicy, UnverifiedContent, check_confirmation_tag, check_group_epoch,
    check_sender_content,
};
use crate::messages::{
    AuthenticatedContent, Content, ContentType, FramedContent, FramedContentAuthData, GroupContext,
    LeafIndex, PrivateContentAad, PrivateMessage, Sender, SenderData, SenderDataAad, WireFormat,
};
use crate::secret_tree::{KeyNonce, RatchetType, SecretTree, sender_data_key_nonce};

/// Encrypts signed content as a `PrivateMessage` (RFC 9420 §6.3).
///
/// The content must come from a member (§6.3.2), have been signed for
/// `mls_private_message`, and carry a confirmation tag exactly if it is a commit (§6.1).
/// The plaintext `PrivateMessageContent` is padded per `padding` (§6.3.1) and encrypted with
/// the next key and nonce of the sender's handshake or application ratchet, which is
/// consumed (§9.1, §9.2), the nonce XORed with a fresh 4-byte reuse guard drawn from `rng`
/// (§6.3.1). The sender data is encrypted with the key and nonce derived from
/// `sender_data_secret` and the ciphertext sample (§6.3.2).
pub fn protect_private(
    cs: &dyn CipherSuiteProvider,
    content: &AuthenticatedContent,
    secret_tree: &mut SecretTree,
    sender_data_secret: &[u8],
    padding: PaddingPolicy,
    rng: &mut dyn CryptoRandom,
) -> Result<PrivateMessage, FramingError> {
    if content.wire_format != WireFormat::PRIVATE_MESSAGE {
        return Err(FramingError::WrongWireFormat {
            signed: content.wire_format,
            used: WireFormat::PRIVATE_MESSAGE,
        });
    }
    let framed = &content.content;
    let Sender::Member(leaf) = framed.sender else {
        return Err(FramingError::SenderNotMember);
    };
    check_sender_content(framed)?;
    let content_type = framed.content_type();
    check_confirmation_tag(&content.auth, content_type)?;

    let plaintext = encode_content_plaintext(content, padding)?;

    let aad = PrivateContentAad {
        group_id: framed.group_id.clone(),
        epoch: framed.epoch,
        content_type,
        authenticated_data: framed.authenticated_data.clone(),
    }
    .to_bytes()?;

    let mut reuse_guard = [0u8; 4];
    rng.fill(&mut reuse_guard)?;

    let key = secret_tree.next_key(cs, leaf, RatchetType::for_content_type(content_type))?;
    let nonce = key.nonce_with_reuse_guard(reuse_guard);
    let ciphertext = cs.aead_seal(key.key.as_bytes(), nonce.as_bytes(), &aad, &plaintext)?;

    let encrypted_sender_data = seal_sender_data(
        cs,
        sender_data_secret,
        framed,
        SenderData {
            leaf_index: leaf,
            generation: key.generation,
            reuse_guard,
        },
        &ciphertext,
    )?;

    Ok(PrivateMessage {
        group_id: framed.group_id.clone(),
        epoch: framed.epoch,
        content_type,
        authenticated_data: framed.authenticated_data.clone(),
        encrypted_sender_data,
        ciphertext,
    })
}

/// Decrypts a received `PrivateMessage` into content whose signature remains to be verified
/// (RFC 9420 §6.3).
///
/// Checks, in order: the group id and epoch match `context` (§6); the sender data decrypts
/// under `SenderDataAAD` and parses (§6.3.2); its leaf index is inside the secret tree
/// (§6.3.2; that the leaf is not blank is checked by the caller when it looks up the
/// sender's signature key); the sender's ratchet yields the key of the generation (unused,
/// within the out-of-order window, §9.2); the ciphertext decrypts under `PrivateContentAAD`
/// with the reuse-guarded nonce (§6.3.1); the plaintext parses with all-zero padding and a
/// confirmation tag exactly for commits (§6.1, §6.3.1).
///
/// Ratchet state: a successfully decrypted generation is consumed (forward secrecy, §9.2),
/// so a replay fails with [`crate::secret_tree::SecretTreeError::KeyAlreadyUsed`]. If the
/// ciphertext does not decrypt, the secret tree is left exactly as it was
/// ([`SecretTree::open_generation`]), so a forged message can neither burn the key of a
/// genuine one, nor move the ratchet forward, nor derive the sender's leaf secrets.
pub fn unprotect_private(
    cs: &dyn CipherSuiteProvider,
    message: &PrivateMessage,
    context: &GroupContext,
    secret_tree: &mut SecretTree,
    sender_data_secret: &[u8],
) -> Result<UnverifiedContent<'static>, FramingError> {
    check_group_epoch(&message.group_id, message.epoch, context)?;
    let content_type = message.content_type;

    let sender_data = open_sender_data(cs, message, sender_data_secret)?;
    let leaf = sender_data.leaf_index;
    let size = secret_tree.size();
    if !size.contains_leaf(leaf) {
        return Err(FramingError::SenderLeafOutOfRange {
            leaf: leaf.0,
            leaves: size.leaf_count(),
        });
    }

    // Content (§6.3.1), with the ratchet restored if the ciphertext is not genuine.
    let aad = private_content_aad(message)?;
    let plaintext = secret_tree.open_generation(
        cs,
        leaf,
        RatchetType::for_content_type(content_type),
        sender_data.generation,
        |key| open_private_content(cs, message, &aad, key, sender_data.reuse_guard),
    )?;
    private_unverified(message, leaf, plaintext.as_bytes())
}

/// The `PrivateContentAAD` of `message`'s content ciphertext (RFC 9420 §6.3.1), encoded.
pub(crate) fn private_content_aad(message: &PrivateMessage) -> Result<Vec<u8>, FramingError> {
    Ok(PrivateContentAad {
        group_id: message.group_id.clone(),
        epoch: message.epoch,
        content_type: message.content_type,
        authenticated_data: message.authenticated_data.clone(),
    }
    .to_bytes()?)
}

/// Decrypts `message`'s content ciphertext with the ratchet `key` of its generation, the
/// nonce XORed with the sender data's `reuse_guard` (RFC 9420 §6.3.1). Touches no state: the
/// caller decides what happens to the key ([`SecretTree::open_generation`]).
pub(crate) fn open_private_content(
    cs: &dyn CipherSuiteProvider,
    message: &PrivateMessage,
    aad: &[u8],
    key: &KeyNonce,
    reuse_guard: [u8; 4],
) -> Result<Secret, FramingError> {
    let nonce = key.nonce_with_reuse_guard(reuse_guard);
    cs.aead_open(
        key.key.as_bytes(),
        nonce.as_bytes(),
        aad,
        &message.ciphertext,
    )
    .map_err(|e| match e {
        CryptoError::AeadOpenFailed => FramingError::ContentDecryption,
        other => FramingError::Crypto(other),
    })
}

/// The content of `message` from its decrypted `plaintext` (RFC 9420 §6.3.1: content body,
/// auth data, all-zero padding), sent by member `leaf`, its signature still to be verified.
pub(crate) fn private_unverified(
    message: &PrivateMessage,
    leaf: LeafIndex,
    plaintext: &[u8],
) -> Result<UnverifiedContent<'static>, FramingError> {
    let (content, auth) = decode_private_content(plaintext, message.content_type)?;
    Ok(UnverifiedContent {
        wire_format: WireFormat::PRIVATE_MESSAGE,
        content: Cow::Owned(FramedContent {
            group_id: message.group_id.clone(),
            epoch: message.epoch,
            sender: Sender::Member(leaf),
            authenticated_data: message.authenticated_data.clone(),
            content,
        }),
        auth: Cow::Owned(auth),
        encoded: None,
    })
}

/// Decrypts the sender data of a `PrivateMessage` (RFC 9420 §6.3.2) with the key and nonce
/// derived from `sender_data_secret` and the ciphertext sample. Touches no ratchet state, so
/// a receiver can learn the sender (e.g. recognise its own message echoed back) before
/// decrypting the content.
pub fn open_sender_data(
    cs: &dyn CipherSuiteProvider,
    message: &PrivateMessage,
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

/// Decrypts `encrypted_sender_data` under `aad` with the key and nonce derived from
/// `sender_data_secret` and the sample of `ciphertext` (RFC 9420 §6.3.2). Shared by
/// `PrivateMessage` and `SemiPrivateMessage`, whose sender data is encrypted "in the same
/// way" (draft-mahy-mls-semiprivatemessage-07 §3.1).
pub(super) fn open_sender_data_of(
    cs: &dyn CipherSuiteProvider,
    sender_data_secret: &[u8],
    aad: SenderDataAad,
    encrypted_sender_data: &[u8],
    ciphertext: &[u8],
) -> Result<SenderData, FramingError> {
    let sender_data_aad = aad.to_bytes()?;
    let (sd_key, sd_nonce) = sender_data_key_nonce(cs, sender_data_secret, ciphertext)?;
    let sender_data = cs
        .aead_open(
            sd_key.as_bytes(),
            sd_nonce.as_bytes(),
            &sender_data_aad,
            encrypted_sender_data,
        )
        .map_err(|e| match e {
            CryptoError::AeadOpenFailed => FramingError::SenderDataDecryption,
            other => FramingError::Crypto(other),
        })?;
    SenderData::from_bytes(sender_data.as_bytes()).map_err(FramingError::MalformedSenderData)
}

/// Encrypts `sender_data` for content `framed` whose ciphertext is `ciphertext`
/// (RFC 9420 §6.3.2): AEAD under `SenderDataAAD` with the key and nonce derived from
/// `sender_data_secret` and the ciphertext sample. Shared with `SemiPrivateMessage`
/// (draft-mahy-mls-semiprivatemessage-07 §3.1).
pub(super) fn seal_sender_data(
    cs: &dyn CipherSuiteProvider,
    sender_data_secret: &[u8],
    framed: &FramedContent,
    sender_data: SenderData,
    ciphertext: &[u8],
) -> Result<Vec<u8>, FramingError> {
    let sender_data = Secret::new(sender_data.to_bytes()?);
    let sender_data_aad = SenderDataAad {
        group_id: framed.group_id.clone(),
        epoch: framed.epoch,
        content_type: framed.content_type(),
    }
    .to_bytes()?;
    let (sd_key, sd_nonce) = sender_data_key_nonce(cs, sender_data_secret, ciphertext)?;
    Ok(cs.aead_seal(
        sd_key.as_bytes(),
        sd_nonce.as_bytes(),
        &sender_data_aad,
        sender_data.as_bytes(),
    )?)
}

/// The plaintext of a `PrivateMessageContent` (RFC 9420 §6.3.1) — and of a
/// `SemiPrivateMessageContent`, which has the same encoding
/// (draft-mahy-mls-semiprivatemessage-07 §3.1): content body, auth data, zero padding per
/// `padding`. In a zeroizing buffer: it is the plaintext.
pub(super) fn encode_content_plaintext(
    content: &AuthenticatedContent,
    padding: PaddingPolicy,
) -> Result<zeroize::Zeroizing<Vec<u8>>, FramingError> {
    let framed = &content.content;
    let unpadded = framed
        .content
        .body_encoded_len()
        .checked_add(content.auth.encoded_len())
        .ok_or(FramingError::MessageTooLong)?;
    let padded = unpadded
        .checked_add(padding.padding_for(unpadded)?)
        .ok_or(FramingError::MessageTooLong)?;
    let mut plaintext = zeroize::Zeroizing::new(Vec::with_capacity(padded));
    framed.content.encode_body(&mut plaintext)?;
    content.auth.encode(&mut plaintext)?;
    plaintext.resize(padded, 0);
    Ok(plaintext)
}

/// Parses a `PrivateMessageContent` plaintext (RFC 9420 §6.3.1) — or a
/// `SemiPrivateMessageContent`, encoded alike (draft-mahy-mls-semiprivatemessage-07 §3.1): the
/// content body of `content_type`, the auth data, then padding that must be all zero bytes.
pub(super) fn decode_private_content(
    plaintext: &[u8],
    content_type: ContentType,
) -> Result<(Content, FramedContentAuthData), FramingError> {
    let mut reader = Reader::new(plaintext);
    let content =
        Content::decode_body(&mut reader, content_type).map_err(FramingError::MalformedContent)?;
    let auth = FramedContentAuthData::decode_for(&mut reader, content_type)
        .map_err(FramingError::MalformedContent)?;
    // Not secret, but there is no reason to stop at the first non-zero byte either.
    if reader.peek_rest().iter().fold(0u8, |acc, b| acc | b) != 0 {
        return Err(FramingError::NonZeroPadding);
    }
    Ok((content, auth))
}
