//! Message framing and protection (RFC 9420 §6): signing and verifying `FramedContent`
//! (§6.1), `PublicMessage` with its membership tag (§6.2), and `PrivateMessage` content and
//! sender-data encryption (§6.3, §6.3.1, §6.3.2).
//!
//! The receiving side follows "parse, don't validate": unprotecting a message yields an
//! [`UnverifiedContent`] — the membership tag (PublicMessage) or AEAD (PrivateMessage) has
//! been checked, but not the signature, because the signer's key depends on the sender and
//! the content. Only [`UnverifiedContent::verify`] with the sender's signature key produces
//! a [`VerifiedContent`].
//!
//! What is *not* checked here, because it needs the group state: that the sender's leaf is
//! not blank and which key it holds (§6.1, §6.3.2: the caller picks the key), the proposal
//! types allowed for external senders (§12.1.8.1), and the confirmation tag of a commit
//! (§6.1, §8.1), which is only known after the commit is processed.
//!
//! Sending uses [`sign_content`] to build the [`AuthenticatedContent`], then
//! [`protect_public`], [`protect_private`] or [`protect_semi_private`]
//! (draft-mahy-mls-semiprivatemessage-07).

mod private;
mod public;
pub(crate) mod semi_private;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::num::NonZeroU32;

use conclave_codec::{CodecError, Encode};
use conclave_crypto::labels::sign_content_header;
use conclave_crypto::{CipherSuiteProvider, CryptoError};

use crate::messages::{
    AuthenticatedContent, Content, ContentType, FramedContent, FramedContentAuthData,
    FramedContentTbs, GroupContext, Proposal, Sender, SenderType, WireFormat,
};
use crate::secret_tree::SecretTreeError;

pub(crate) use private::{open_private_content, private_content_aad, private_unverified};
pub use private::{open_sender_data, protect_private, unprotect_private};
pub(crate) use public::unprotect_and_verify_member_public;
pub use public::unprotect_public_without_membership_key;
pub use public::{membership_tag, protect_public, unprotect_public};
pub use semi_private::{
    OpenedHandshake, external_receiver_ref, open_as_external_receiver,
    open_semi_private_sender_data, protect_semi_private, unprotect_semi_private,
};

/// The `SignWithLabel` label of content signatures (RFC 9420 §6.1).
pub const FRAMED_CONTENT_TBS_LABEL: &str = "FramedContentTBS";

/// Why a message could not be protected, unprotected or verified. Each variant names the
/// rule of RFC 9420 it enforces.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FramingError {
    /// The content signature does not verify (RFC 9420 §6.1).
    #[error("FramedContentTBS signature does not verify (RFC 9420 §6.1)")]
    InvalidSignature,
    /// The membership tag does not match (RFC 9420 §6.2).
    #[error(
        "membership_tag does not match MAC(membership_key, AuthenticatedContentTBM) (RFC 9420 §6.2)"
    )]
    InvalidMembershipTag,
    /// A member sender's PublicMessage lacks its membership tag, or a non-member's has one
    /// (RFC 9420 §6.2).
    #[error("membership_tag must be present exactly for member senders (RFC 9420 §6.2)")]
    MembershipTagPresence,
    /// A member sender's PublicMessage needs the membership key to be protected
    /// (RFC 9420 §6.2).
    #[error("a member's PublicMessage needs the membership key (RFC 9420 §6.2)")]
    MissingMembershipKey,
    /// The sender signs the group context but none was given (RFC 9420 §6.1).
    #[error("member and new_member_commit senders sign the group context (RFC 9420 §6.1)")]
    MissingGroupContext,
    /// Application data must be sent as PrivateMessage (RFC 9420 §6: "Applications MUST use
    /// PrivateMessage to encrypt application messages").
    #[error("application data must not be sent as a PublicMessage (RFC 9420 §6, §6.2)")]
    ApplicationAsPublicMessage,
    /// The content was signed for another wire format than the one it is sent or received
    /// with (the signature covers the wire format, RFC 9420 §6.1).
    #[error("content signed for wire format {signed:?} used as {used:?} (RFC 9420 §6.1)")]
    WrongWireFormat {
        /// The wire format in the `AuthenticatedContent`.
        signed: WireFormat,
        /// The wire format being used.
        used: WireFormat,
    },
    /// Only members send PrivateMessages: the sender data holds a leaf index
    /// (RFC 9420 §6.3.2).
    #[error("a PrivateMessage sender must be a member (RFC 9420 §6.3.2)")]
    SenderNotMember,
    /// The content type is not allowed for the sender type (RFC 9420 §6.1: external and
    /// new_member_proposal senders send proposals, new_member_commit senders commits).
    #[error(
        "{content_type:?} content is not allowed from a {sender_type:?} sender (RFC 9420 §6.1)"
    )]
    ContentNotAllowedForSender {
        /// The sender type.
        sender_type: SenderType,
        /// The content type.
        content_type: ContentType,
    },
    /// A new_member_proposal sender may only propose `add` (RFC 9420 §6.1).
    #[error("a new_member_proposal sender may only send an Add proposal (RFC 9420 §6.1)")]
    NewMemberProposalNotAdd,
    /// The confirmation tag is present exactly for commits (RFC 9420 §6.1).
    #[error("confirmation_tag must be present exactly for commits (RFC 9420 §6.1)")]
    ConfirmationTagPresence,
    /// The message is for another group than the keys used (RFC 9420 §6: `group_id`).
    #[error("message is for another group (RFC 9420 §6)")]
    WrongGroupId,
    /// The message is for another epoch than the keys used (RFC 9420 §6: `epoch`).
    #[error("message is for epoch {message}, keys are for epoch {expected} (RFC 9420 §6)")]
    WrongEpoch {
        /// The message's epoch.
        message: u64,
        /// The epoch of the group context / keys.
        expected: u64,
    },
    /// The group context is for another cipher suite than the provider.
    #[error(
        "group context cipher suite {context:#06x} differs from the provider's {provider:#06x}"
    )]
    CipherSuiteMismatch {
        /// Suite of the group context.
        context: u16,
        /// Suite of the provider.
        provider: u16,
    },
    /// `encrypted_sender_data` did not decrypt (RFC 9420 §6.3.2).
    #[error("encrypted_sender_data does not decrypt (RFC 9420 §6.3.2)")]
    SenderDataDecryption,
    /// The decrypted sender data is not a valid `SenderData` (RFC 9420 §6.3.2).
    #[error("malformed SenderData (RFC 9420 §6.3.2): {0}")]
    MalformedSenderData(CodecError),
    /// The sender data names a leaf outside the tree (RFC 9420 §6.3.2).
    #[error("sender leaf {leaf} is outside the tree of {leaves} leaves (RFC 9420 §6.3.2)")]
    SenderLeafOutOfRange {
        /// The leaf index in the sender data.
        leaf: u32,
        /// The tree's leaf count.
        leaves: u32,
    },
    /// The content ciphertext did not decrypt with the sender's ratchet key
    /// (RFC 9420 §6.3.1).
    #[error("PrivateMessage ciphertext does not decrypt (RFC 9420 §6.3.1)")]
    ContentDecryption,
    /// The decrypted plaintext is not a valid `PrivateMessageContent` (RFC 9420 §6.3.1).
    #[error("malformed PrivateMessageContent (RFC 9420 §6.3.1): {0}")]
    MalformedContent(CodecError),
    /// The padding of a `PrivateMessageContent` has a non-zero byte (RFC 9420 §6.3.1).
    #[error("PrivateMessageContent padding has non-zero bytes (RFC 9420 §6.3.1)")]
    NonZeroPadding,
    /// Application data was to be sent or was received as a SemiPrivateMessage, which carries
    /// only proposals and commits (draft-mahy-mls-semiprivatemessage-07 §1, §3).
    #[error(
        "application data must not be sent as a SemiPrivateMessage (draft-mahy-mls-semiprivatemessage-07 §3)"
    )]
    ApplicationAsSemiPrivateMessage,
    /// A SemiPrivateMessage needs at least one external receiver
    /// (draft-mahy-mls-semiprivatemessage-07 §3).
    #[error(
        "a SemiPrivateMessage needs at least one external receiver (draft-mahy-mls-semiprivatemessage-07 §3)"
    )]
    NoExternalReceivers,
    /// The `keys_for_external_receivers` of a SemiPrivateMessage do not name exactly the
    /// group's external receivers, each once (Conclave's rule for members, so that every
    /// receiver the group agreed on can read every handshake;
    /// draft-mahy-mls-semiprivatemessage-07 §3.1 encrypts the key "once for each external
    /// receiver in the external_receivers extension").
    #[error(
        "keys_for_external_receivers must name each of the group's external receivers exactly once (draft-mahy-mls-semiprivatemessage-07 §3.1)"
    )]
    ExternalReceiverKeysMismatch,
    /// The external receiver's reference is not in `keys_for_external_receivers`
    /// (draft-mahy-mls-semiprivatemessage-07 §3.3).
    #[error(
        "the SemiPrivateMessage is not encrypted to this external receiver (draft-mahy-mls-semiprivatemessage-07 §3.3)"
    )]
    NotAnExternalReceiver,
    /// `encrypted_keys_and_nonces` did not decrypt with the external receiver's private key
    /// (draft-mahy-mls-semiprivatemessage-07 §3.1, §3.3).
    #[error(
        "encrypted_keys_and_nonces does not decrypt with this external receiver's key (draft-mahy-mls-semiprivatemessage-07 §3.3)"
    )]
    KeyAndNoncesDecryption,
    /// The decrypted `PerMessageKeyAndNonces` is malformed or its key or nonce has the wrong
    /// length for the suite's AEAD (draft-mahy-mls-semiprivatemessage-07 §3.1).
    #[error("malformed PerMessageKeyAndNonces (draft-mahy-mls-semiprivatemessage-07 §3.1)")]
    MalformedKeyAndNonces,
    /// `partial_context_hash` is not `hash(sender_leaf_index || nonce)`
    /// (draft-mahy-mls-semiprivatemessage-07 §3.1, §3.2, §3.3).
    #[error(
        "partial_context_hash does not match the sender and nonce (draft-mahy-mls-semiprivatemessage-07 §3.2)"
    )]
    PartialContextHashMismatch,
    /// `framed_content_tbs_hash` is not the hash of the decrypted content's
    /// `FramedContentTBS` (draft-mahy-mls-semiprivatemessage-07 §3.2, §3.3).
    #[error(
        "framed_content_tbs_hash does not match the decrypted content (draft-mahy-mls-semiprivatemessage-07 §3.2)"
    )]
    FramedContentTbsHashMismatch,
    /// The padded plaintext would be too long to encode.
    #[error("padded plaintext is too long")]
    MessageTooLong,
    /// The sender ratchet refused the generation: already used (a replay), outside the
    /// out-of-order window, too far ahead, or the leaf is unknown (RFC 9420 §9.1, §9.2).
    #[error("sender ratchet (RFC 9420 §9.2): {0}")]
    SecretTree(#[from] SecretTreeError),
    /// Encoding a structure failed.
    #[error("encoding failed: {0}")]
    Codec(#[from] CodecError),
    /// Another cryptographic failure (signing, random source, key format…).
    #[error("crypto error: {0}")]
    Crypto(#[from] CryptoError),
}

/// How much zero padding [`protect_private`] appends to a `PrivateMessageContent`
/// (RFC 9420 §6.3.1 leaves the amount to the application).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PaddingPolicy {
    /// No padding.
    #[default]
    None,
    /// Pad the plaintext (content, auth data and padding) to a multiple of this many bytes,
    /// hiding the exact length of the content.
    PadToMultipleOf(NonZeroU32),
}

impl PaddingPolicy {
    /// The number of zero bytes to append to a plaintext of `len` bytes.
    pub fn padding_for(&self, len: usize) -> Result<usize, FramingError> {
        match self {
            Self::None => Ok(0),
            Self::PadToMultipleOf(block) => {
                let block =
                    usize::try_from(block.get()).map_err(|_| FramingError::MessageTooLong)?;
                let rem = len.checked_rem(block).ok_or(FramingError::MessageTooLong)?;
                Ok(if rem == 0 { 0 } else { block - rem })
            }
        }
    }
}

/// `SignContent` of a content's `FramedContentTBS` (RFC 9420 §5.1.2, §6.1), encoded once per
/// received message and reused: the membership tag's `AuthenticatedContentTBM` is the TBS
/// followed by the auth data (§6.2), and the confirmed transcript hash takes the encoded
/// `FramedContent` inside it (§8.2). A large commit is thus encoded once, not three times.
#[derive(Debug, Clone, PartialEq, Eq)]
struct EncodedTbs {
    /// The `SignContent` header, `FramedContentTBS`, then (for a membership tag) the
    /// encoded `FramedContentAuthData`.
    bytes: Vec<u8>,
    /// Where `FramedContentTBS` starts: after the `SignContent` header.
    tbs_start: usize,
    /// Where `FramedContentTBS` ends.
    tbs_end: usize,
    /// The encoded `FramedContent` within `bytes`.
    content: core::ops::Range<usize>,
    /// The group context inside the TBS, for senders that sign it (§6.1).
    context: Option<GroupContext>,
}

/// Length of `version` and `wire_format` before the content in `FramedContentTBS`.
const TBS_PREFIX_LEN: usize = 4;

impl EncodedTbs {
    fn new(
        wire_format: WireFormat,
        content: &FramedContent,
        context: Option<&GroupContext>,
        auth: Option<&FramedContentAuthData>,
    ) -> Result<Self, FramingError> {
        let tbs = FramedContentTbs::new(wire_format, content, context)?;
        let tbs_len = tbs.encoded_len();
        let mut bytes = sign_content_header(FRAMED_CONTENT_TBS_LABEL, tbs_len)?;
        bytes.reserve(tbs_len.saturating_add(auth.map_or(0, Encode::encoded_len)));
        let tbs_start = bytes.len();
        tbs.encode(&mut bytes)?;
        let tbs_end = bytes.len();
        let signed_context = context.filter(|_| content.sender.signs_group_context());
        let context_len = signed_context.map_or(0, Encode::encoded_len);
        let content_range =
            tbs_start.saturating_add(TBS_PREFIX_LEN)..tbs_end.saturating_sub(context_len);
        if let Some(auth) = auth {
            auth.encode(&mut bytes)?;
        }
        Ok(Self {
            bytes,
            tbs_start,
            tbs_end,
            content: content_range,
            context: signed_context.cloned(),
        })
    }

    /// `SignContent` for `VerifyWithLabel(., "FramedContentTBS", .)`.
    fn signed_message(&self) -> &[u8] {
        self.bytes.get(..self.tbs_end).unwrap_or_default()
    }

    /// `AuthenticatedContentTBM`, if built with the auth data.
    fn tbm(&self) -> &[u8] {
        self.bytes.get(self.tbs_start..).unwrap_or_default()
    }

    fn encoded_content(&self) -> &[u8] {
        self.bytes.get(self.content.clone()).unwrap_or_default()
    }

    /// Whether the TBS was built with this group context (or with none, for senders that do
    /// not sign it).
    fn signed_with(&self, content: &FramedContent, context: &GroupContext) -> bool {
        !content.sender.signs_group_context() || self.context.as_ref() == Some(context)
    }
}

/// Content whose protection was removed (membership tag or AEAD checked) but whose
/// signature is not verified yet (RFC 9420 §6.1).
///
/// Read it (e.g. [`UnverifiedContent::sender`]) to find the sender's signature key, then
/// call [`UnverifiedContent::verify`]. A PublicMessage's content is borrowed from the
/// message, not copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnverifiedContent<'a> {
    wire_format: WireFormat,
    content: Cow<'a, FramedContent>,
    auth: Cow<'a, FramedContentAuthData>,
    /// The TBS encoded while checking the membership tag, if it was.
    encoded: Option<EncodedTbs>,
}

impl<'a> UnverifiedContent<'a> {
    /// Content opened from a wire format this module does not protect itself (e.g. the
    /// SemiPrivateMessage of draft-mahy-mls-semiprivatemessage-07, whose recipient outside
    /// the group decrypted it), for its signature to be verified: the content type is allowed
    /// for the sender type (RFC 9420 §6.1) and the confirmation tag is present exactly for
    /// commits (§6.1). `wire_format` is what the sender signed (§6.1: part of
    /// `FramedContentTBS`). Protection of the wire format itself (a membership tag, an AEAD)
    /// is the caller's to check.
    pub fn opened(
        wire_format: WireFormat,
        content: &'a FramedContent,
        auth: &'a FramedContentAuthData,
    ) -> Result<Self, FramingError> {
        check_sender_content(content)?;
        check_confirmation_tag(auth, content.content_type())?;
        Ok(Self {
            wire_format,
            content: Cow::Borrowed(content),
            auth: Cow::Borrowed(auth),
            encoded: None,
        })
    }

    /// The unverified content: nothing in it is authenticated by its sender yet.
    pub fn unverified_content(&self) -> &FramedContent {
        &self.content
    }

    /// The unverified signature and confirmation tag.
    pub fn unverified_auth(&self) -> &FramedContentAuthData {
        &self.auth
    }

    /// The claimed sender.
    pub fn sender(&self) -> Sender {
        self.content.sender
    }

    /// The wire format the content arrived with.
    pub fn wire_format(&self) -> WireFormat {
        self.wire_format
    }

    /// Verifies the signature over `FramedContentTBS` with `sender_signature_key`
    /// (RFC 9420 §6.1: `VerifyWithLabel(., "FramedContentTBS", .)`).
    ///
    /// `context` is the group context of the message's epoch; it is part of what is signed
    /// for `member` and `new_member_commit` senders, and the message's group id and epoch
    /// must match it. The caller chooses `sender_signature_key` by sender type (§6.1): the
    /// sender leaf's key for members (the leaf must not be blank, §6.3.2), the
    /// `external_senders` entry for external senders, the key in the commit's path or the
    /// proposal's KeyPackage for new members. The confirmation tag of a commit is checked by
    /// the group state machine once the new epoch is known.
    pub fn verify(
        self,
        cs: &dyn CipherSuiteProvider,
        sender_signature_key: &[u8],
        context: &GroupContext,
    ) -> Result<VerifiedContent<'a>, FramingError> {
        self.into_pending(cs, context)?
            .verify(cs, sender_signature_key)
    }

    /// Everything [`UnverifiedContent::verify`] does before checking the signature: the
    /// message's group id and epoch match `context`, and the `FramedContentTBS` is encoded
    /// (RFC 9420 §6.1). The signature can then be checked alone
    /// ([`PendingSignature::verify`]) or with others in one batch.
    pub fn into_pending(
        self,
        cs: &dyn CipherSuiteProvider,
        context: &GroupContext,
    ) -> Result<PendingSignature<'a>, FramingError> {
        check_context(cs, &self.content, context)?;
        let encoded = match self.encoded {
            Some(encoded) if encoded.signed_with(&self.content, context) => encoded,
            _ => EncodedTbs::new(self.wire_format, &self.content, Some(context), None)?,
        };
        Ok(PendingSignature {
            wire_format: self.wire_format,
            content: self.content,
            auth: self.auth,
            encoded,
        })
    }
}

/// A failed `VerifyWithLabel` of `FramedContentTBS` (RFC 9420 §6.1) as a framing error: a
/// signature that does not verify, or the provider's failure.
fn signature_error(e: CryptoError) -> FramingError {
    match e {
        CryptoError::InvalidSignature => FramingError::InvalidSignature,
        other => FramingError::Crypto(other),
    }
}

/// Content ready for its signature check (RFC 9420 §6.1): its `FramedContentTBS` is
/// encoded ([`UnverifiedContent::into_pending`]), the signature not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSignature<'a> {
    wire_format: WireFormat,
    content: Cow<'a, FramedContent>,
    auth: Cow<'a, FramedContentAuthData>,
    encoded: EncodedTbs,
}

impl<'a> PendingSignature<'a> {
    /// The signed message: `SignContent` of `FramedContentTBS` with the label (§5.1.2).
    pub fn signed_message(&self) -> &[u8] {
        self.encoded.signed_message()
    }

    /// The signature to check.
    pub fn signature(&self) -> &[u8] {
        &self.auth.signature
    }

    /// The claimed sender.
    pub fn sender(&self) -> Sender {
        self.content.sender
    }

    /// Verifies the signature with `sender_signature_key` (RFC 9420 §6.1:
    /// `VerifyWithLabel(., "FramedContentTBS", .)`).
    pub fn verify(
        self,
        cs: &dyn CipherSuiteProvider,
        sender_signature_key: &[u8],
    ) -> Result<VerifiedContent<'a>, FramingError> {
        cs.verify(
            sender_signature_key,
            self.encoded.signed_message(),
            &self.auth.signature,
        )
        .map_err(signature_error)?;
        Ok(self.verified())
    }

    /// The content as verified, once the caller checked [`PendingSignature::signature`]
    /// over [`PendingSignature::signed_message`] with the sender's key (e.g. in a batch with
    /// [`CipherSuiteProvider::verify_all`]).
    pub(crate) fn verified(self) -> VerifiedContent<'a> {
        VerifiedContent {
            wire_format: self.wire_format,
            content: self.content,
            auth: self.auth,
            encoded: self.encoded,
            transcript: None,
        }
    }
}

/// Content whose sender signature has been verified (and, for a member's PublicMessage,
/// its membership tag; for a PrivateMessage, its AEAD protection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedContent<'a> {
    wire_format: WireFormat,
    content: Cow<'a, FramedContent>,
    auth: Cow<'a, FramedContentAuthData>,
    encoded: EncodedTbs,
    /// A commit's confirmed transcript hash (RFC 9420 §8.2), computed beside the other
    /// hashing passes of a large commit, with the interim transcript hash it started from.
    transcript: Option<PrecomputedTranscript>,
}

/// A confirmed transcript hash computed ahead of commit processing.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PrecomputedTranscript {
    interim_before: Vec<u8>,
    confirmed: Vec<u8>,
}

impl VerifiedContent<'_> {
    /// The verified content.
    pub fn framed_content(&self) -> &FramedContent {
        &self.content
    }

    /// The verified signature and confirmation tag (the latter still to be checked against
    /// the new epoch, for a commit).
    pub fn auth(&self) -> &FramedContentAuthData {
        &self.auth
    }

    /// The verified content, by value.
    pub fn into_authenticated_content(self) -> AuthenticatedContent {
        AuthenticatedContent {
            wire_format: self.wire_format,
            content: self.content.into_owned(),
            auth: self.auth.into_owned(),
        }
    }

    /// The encoded `FramedContent`, as signed (RFC 9420 §6.1): the transcript hash input
    /// takes it as is (§8.2).
    pub fn encoded_content(&self) -> &[u8] {
        self.encoded.encoded_content()
    }

    /// The commit's confirmed transcript hash after `interim_before` (RFC 9420 §8.2), if it
    /// was computed while the message was verified
    /// ([`public::unprotect_and_verify_member_public`]).
    pub(crate) fn precomputed_transcript_hash(&self, interim_before: &[u8]) -> Option<&[u8]> {
        self.transcript
            .as_ref()
            .filter(|t| t.interim_before == interim_before)
            .map(|t| t.confirmed.as_slice())
    }

    /// The sender.
    pub fn sender(&self) -> Sender {
        self.content.sender
    }

    /// The payload.
    pub fn content(&self) -> &Content {
        &self.content.content
    }

    /// The wire format the content arrived with.
    pub fn wire_format(&self) -> WireFormat {
        self.wire_format
    }
}

/// Signs `content` to be sent as `wire_format` (RFC 9420 §6.1):
/// `signature = SignWithLabel(signature_key, "FramedContentTBS", FramedContentTBS)`.
///
/// `context` is the current group context; it is required for `member` and
/// `new_member_commit` senders and ignored for the others. The result has no confirmation
/// tag: for a commit, the caller sets `auth.confirmation_tag` once the new epoch's
/// confirmation key is known (§6.1, §8.1) and before protecting it.
pub fn sign_content(
    cs: &dyn CipherSuiteProvider,
    signature_key: &[u8],
    wire_format: WireFormat,
    content: FramedContent,
    context: Option<&GroupContext>,
) -> Result<AuthenticatedContent, FramingError> {
    check_sender_content(&content)?;
    if wire_format == WireFormat::PUBLIC_MESSAGE
        && content.content_type() == ContentType::Application
    {
        return Err(FramingError::ApplicationAsPublicMessage);
    }
    let semi_private = wire_format == crate::codepoints::SEMI_PRIVATE_MESSAGE_WIRE_FORMAT;
    if (wire_format == WireFormat::PRIVATE_MESSAGE || semi_private)
        && !matches!(content.sender, Sender::Member(_))
    {
        return Err(FramingError::SenderNotMember);
    }
    if semi_private && content.content_type() == ContentType::Application {
        return Err(FramingError::ApplicationAsSemiPrivateMessage);
    }
    if let Some(context) = context {
        check_context(cs, &content, context)?;
    }
    if content.sender.signs_group_context() && context.is_none() {
        return Err(FramingError::MissingGroupContext);
    }
    let tbs = FramedContentTbs::new(wire_format, &content, context)?;
    let signature = cs.sign(signature_key, &signed_message(&tbs)?)?;
    Ok(AuthenticatedContent {
        wire_format,
        content,
        auth: FramedContentAuthData {
            signature,
            confirmation_tag: None,
        },
    })
}

/// `SignContent` of `SignWithLabel(., "FramedContentTBS", FramedContentTBS)` (RFC 9420
/// §5.1.2, §6.1), with the TBS encoded in place rather than encoded and then copied.
fn signed_message(tbs: &FramedContentTbs<'_>) -> Result<Vec<u8>, FramingError> {
    let mut message = sign_content_header(FRAMED_CONTENT_TBS_LABEL, tbs.encoded_len())?;
    tbs.encode(&mut message)?;
    Ok(message)
}

/// The content types each sender type may send (RFC 9420 §6.1).
fn check_sender_content(content: &FramedContent) -> Result<(), FramingError> {
    let content_type = content.content_type();
    let sender_type = content.sender.sender_type();
    let allowed = match content.sender {
        Sender::Member(_) => true,
        Sender::External(_) => content_type == ContentType::Proposal,
        Sender::NewMemberCommit => content_type == ContentType::Commit,
        Sender::NewMemberProposal => {
            return match &content.content {
                Content::Proposal(Proposal::Add(_)) => Ok(()),
                Content::Proposal(_) => Err(FramingError::NewMemberProposalNotAdd),
                Content::Application(_) | Content::Commit(_) => {
                    Err(FramingError::ContentNotAllowedForSender {
                        sender_type,
                        content_type,
                    })
                }
            };
        }
    };
    if allowed {
        Ok(())
    } else {
        Err(FramingError::ContentNotAllowedForSender {
            sender_type,
            content_type,
        })
    }
}

/// The confirmation tag is present exactly for commits (RFC 9420 §6.1).
fn check_confirmation_tag(
    auth: &FramedContentAuthData,
    content_type: ContentType,
) -> Result<(), FramingError> {
    auth.check_for(content_type)
        .map_err(|_| FramingError::ConfirmationTagPresence)
}

/// The message belongs to the group and epoch of `context`, and the provider implements the
/// group's suite (RFC 9420 §6).
fn check_context(
    cs: &dyn CipherSuiteProvider,
    content: &FramedContent,
    context: &GroupContext,
) -> Result<(), FramingError> {
    check_group_epoch(&content.group_id, content.epoch, context)?;
    if context.cipher_suite != cs.cipher_suite() {
        return Err(FramingError::CipherSuiteMismatch {
            context: context.cipher_suite.0,
            provider: cs.cipher_suite().0,
        });
    }
    Ok(())
}

/// `group_id` and `epoch` of a message match the group context (RFC 9420 §6).
fn check_group_epoch(
    group_id: &[u8],
    epoch: u64,
    context: &GroupContext,
) -> Result<(), FramingError> {
    if group_id != context.group_id.as_slice() {
        return Err(FramingError::WrongGroupId);
    }
    if epoch != context.epoch {
        return Err(FramingError::WrongEpoch {
            message: epoch,
            expected: context.epoch,
        });
    }
    Ok(())
}
