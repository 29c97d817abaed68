//! `PublicMessage` protection (RFC 9420 §6.2): the membership tag
//! `MAC(membership_key, AuthenticatedContentTBM)` for member senders.

use conclave_crypto::{CipherSuiteProvider, ct_eq};

use std::borrow::Cow;

use super::{
    EncodedTbs, FramingError, PrecomputedTranscript, UnverifiedContent, VerifiedContent,
    check_confirmation_tag, check_context, check_sender_content,
};
use crate::messages::{
    AuthenticatedContent, ContentType, FramedContent, FramedContentAuthData, GroupContext,
    PublicMessage, Sender, WireFormat, authenticated_content_tbm,
};

/// `membership_tag = MAC(membership_key, AuthenticatedContentTBM)` (RFC 9420 §6.2).
///
/// `context` is the current group context (signed by member senders, the only ones with a
/// membership tag).
pub fn membership_tag(
    cs: &dyn CipherSuiteProvider,
    membership_key: &[u8],
    content: &FramedContent,
    auth: &FramedContentAuthData,
    context: &GroupContext,
) -> Result<Vec<u8>, FramingError> {
    let tbm = authenticated_content_tbm(content, auth, Some(context))?;
    Ok(cs.mac(membership_key, &tbm))
}

/// Encodes signed content as a `PublicMessage` (RFC 9420 §6.2).
///
/// The content must have been signed for `mls_public_message`, must not be application data
/// (§6), and must carry a confirmation tag exactly if it is a commit (§6.1). For a member
/// sender, `context` and `membership_key` are required to compute the membership tag; other
/// senders get none and may pass `None`.
pub fn protect_public(
    cs: &dyn CipherSuiteProvider,
    content: &AuthenticatedContent,
    context: Option<&GroupContext>,
    membership_key: Option<&[u8]>,
) -> Result<PublicMessage, FramingError> {
    check_public_content(content.wire_format, &content.content, &content.auth)?;
    let membership_tag = match content.content.sender {
        Sender::Member(_) => {
            let context = context.ok_or(FramingError::MissingGroupContext)?;
            check_context(cs, &content.content, context)?;
            let key = membership_key.ok_or(FramingError::MissingMembershipKey)?;
            Some(membership_tag(
                cs,
                key,
                &content.content,
                &content.auth,
                context,
            )?)
        }
        Sender::External(_) | Sender::NewMemberProposal | Sender::NewMemberCommit => None,
    };
    Ok(PublicMessage {
        content: content.content.clone(),
        auth: content.auth.clone(),
        membership_tag,
    })
}

/// Decodes a received `PublicMessage` into content whose signature remains to be verified
/// (RFC 9420 §6.2).
///
/// Checks, in order: the group id and epoch match `context` (§6); the content is not
/// application data (§6) and is allowed for the sender type (§6.1); the confirmation tag is
/// present exactly for commits (§6.1); the membership tag is present exactly for member
/// senders and, for them, equals `MAC(membership_key, AuthenticatedContentTBM)`, compared
/// in constant time (§6.2).
pub fn unprotect_public<'a>(
    cs: &dyn CipherSuiteProvider,
    message: &'a PublicMessage,
    context: &GroupContext,
    membership_key: &[u8],
) -> Result<UnverifiedContent<'a>, FramingError> {
    let encoded = match member_tbm(cs, message, context)? {
        Some((encoded, tag)) => {
            if !ct_eq(&cs.mac(membership_key, encoded.tbm()), tag) {
                return Err(FramingError::InvalidMembershipTag);
            }
            Some(encoded)
        }
        None => None,
    };
    Ok(UnverifiedContent {
        wire_format: WireFormat::PUBLIC_MESSAGE,
        content: Cow::Borrowed(&message.content),
        auth: Cow::Borrowed(&message.auth),
        encoded,
    })
}

/// The checks of [`unprotect_public`] before the membership tag's value, in its order, and
/// for a member's message its `AuthenticatedContentTBM` with the tag it carries (§6.2);
/// `None` for the senders that carry no tag.
fn member_tbm<'m>(
    cs: &dyn CipherSuiteProvider,
    message: &'m PublicMessage,
    context: &GroupContext,
) -> Result<Option<(EncodedTbs, &'m [u8])>, FramingError> {
    check_context(cs, &message.content, context)?;
    check_public_content(WireFormat::PUBLIC_MESSAGE, &message.content, &message.auth)?;
    match (&message.content.sender, &message.membership_tag) {
        (Sender::Member(_), Some(tag)) => Ok(Some((
            EncodedTbs::new(
                WireFormat::PUBLIC_MESSAGE,
                &message.content,
                Some(context),
                Some(&message.auth),
            )?,
            tag.as_slice(),
        ))),
        (Sender::External(_) | Sender::NewMemberProposal | Sender::NewMemberCommit, None) => {
            Ok(None)
        }
        (_, _) => Err(FramingError::MembershipTagPresence),
    }
}

/// Below this many bytes of `AuthenticatedContentTBM` the passes of
/// [`unprotect_and_verify_member_public`] run one after the other: the hand-off to a
/// second thread costs more than hashing a small message.
const SIDE_BY_SIDE_MIN: usize = 32 * 1024;

/// [`unprotect_public`] then [`UnverifiedContent::verify`] for a member's PublicMessage, with
/// the independent passes over a large message side by side (a commit of a group of 10 000
/// is 820 KB, hashed three times): the signature (RFC 9420 §6.1; for Ed25519 a
/// SHA-512 pass) on one thread; the membership tag (§6.2, HMAC over
/// `AuthenticatedContentTBM`) and, for a commit whose tag is valid, the confirmed transcript
/// hash after `interim_before` (§8.2) on the other. The results are those of the calls one
/// after the other, with the same errors in the same precedence (membership tag first);
/// the thread count changes nothing but the time. `signature_key` is the sender leaf's.
pub(crate) fn unprotect_and_verify_member_public<'a>(
    cs: &dyn CipherSuiteProvider,
    message: &'a PublicMessage,
    context: &GroupContext,
    membership_key: &[u8],
    signature_key: &[u8],
    interim_before: &[u8],
) -> Result<VerifiedContent<'a>, FramingError> {
    let Some((encoded, tag)) = member_tbm(cs, message, context)? else {
        // Not a member's message: no membership tag to compute beside the signature.
        return unprotect_public(cs, message, context, membership_key)?.verify(
            cs,
            signature_key,
            context,
        );
    };
    let is_commit = message.content.content_type() == ContentType::Commit;
    let (signature, (tag_valid, confirmed)) = crate::parallel::join(
        encoded.tbm().len() >= SIDE_BY_SIDE_MIN,
        || {
            cs.verify(
                signature_key,
                encoded.signed_message(),
                &message.auth.signature,
            )
        },
        || {
            let tag_valid = ct_eq(&cs.mac(membership_key, encoded.tbm()), tag);
            // An error here only means no precomputed hash: commit processing computes it
            // again and reports the error.
            let confirmed = (tag_valid && is_commit)
                .then(|| {
                    crate::transcript::confirmed_transcript_hash_of_encoded(
                        cs,
                        interim_before,
                        WireFormat::PUBLIC_MESSAGE,
                        encoded.encoded_content(),
                        &message.auth.signature,
                    )
                    .ok()
                })
                .flatten();
            (tag_valid, confirmed)
        },
    );
    if !tag_valid {
        return Err(FramingError::InvalidMembershipTag);
    }
    signature.map_err(super::signature_error)?;
    Ok(VerifiedContent {
        wire_format: WireFormat::PUBLIC_MESSAGE,
        content: Cow::Borrowed(&message.content),
        auth: Cow::Borrowed(&message.auth),
        encoded,
        transcript: confirmed.map(|confirmed| PrecomputedTranscript {
            interim_before: interim_before.to_vec(),
            confirmed,
        }),
    })
}

/// The rules on what a PublicMessage may carry (RFC 9420 §6, §6.1, §6.2).
fn check_public_content(
    wire_format: WireFormat,
    content: &FramedContent,
    auth: &FramedContentAuthData,
) -> Result<(), FramingError> {
    if wire_format != WireFormat::PUBLIC_MESSAGE {
        return Err(FramingError::WrongWireFormat {
            signed: wire_format,
            used: WireFormat::PUBLIC_MESSAGE,
        });
    }
    let content_type = content.content_type();
    if content_type == ContentType::Application {
        return Err(FramingError::ApplicationAsPublicMessage);
    }
    check_sender_content(content)?;
    check_confirmation_tag(auth, content_type)
}

/// Decodes a received `PublicMessage` for a recipient outside the group, which holds no
/// membership key: every check of [`unprotect_public`] but the value of the membership tag,
/// whose presence is still checked (RFC 9420 §6.2). An external joiner and the Delivery
/// Service validate SelfRemove proposals so, "except that [they skip] the validation of the
/// `membership_tag`" (draft-ietf-mls-extensions-10 §6.3). The signature remains to be
/// verified.
pub fn unprotect_public_without_membership_key<'a>(
    cs: &dyn CipherSuiteProvider,
    message: &'a PublicMessage,
    context: &GroupContext,
) -> Result<UnverifiedContent<'a>, FramingError> {
    check_context(cs, &message.content, context)?;
    check_public_content(WireFormat::PUBLIC_MESSAGE, &message.content, &message.auth)?;
    match (&message.content.sender, &message.membership_tag) {
        (Sender::Member(_), Some(_))
        | (Sender::External(_) | Sender::NewMemberProposal | Sender::NewMemberCommit, None) => {}
        (_, _) => return Err(FramingError::MembershipTagPresence),
    }
    Ok(UnverifiedContent {
        wire_format: WireFormat::PUBLIC_MESSAGE,
        content: Cow::Borrowed(&message.content),
        auth: Cow::Borrowed(&message.auth),
        encoded: None,
    })
}
