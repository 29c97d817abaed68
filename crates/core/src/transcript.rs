//! Transcript hashes (RFC 9420 §8.2) and the confirmation tag (§6.1, §8.1).
//!
//! ```text
//! confirmed_transcript_hash_[n] = Hash(interim_transcript_hash_[n-1] ||
//!                                      ConfirmedTranscriptHashInput_[n])
//! interim_transcript_hash_[n]   = Hash(confirmed_transcript_hash_[n] ||
//!                                      InterimTranscriptHashInput_[n])
//! ```

use conclave_codec::{CodecError, Encode};
use conclave_crypto::{CipherSuiteProvider, ct_eq};

use crate::messages::{AuthenticatedContent, ContentType, WireFormat};

/// Why a transcript computation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TranscriptError {
    /// Only commits enter the transcript (RFC 9420 §8.2).
    #[error("transcript hashes are computed over commits only, not {0:?} content")]
    NotACommit(ContentType),
    /// The commit carries no confirmation tag (RFC 9420 §6.1).
    #[error("commit has no confirmation_tag")]
    MissingConfirmationTag,
    /// Encoding failed.
    #[error("encoding failed: {0}")]
    Codec(#[from] CodecError),
}

/// `Hash(interim_before || ConfirmedTranscriptHashInput)` where the input is
/// `{wire_format, content, signature}` of the commit (RFC 9420 §8.2).
pub fn confirmed_transcript_hash(
    cs: &dyn CipherSuiteProvider,
    interim_before: &[u8],
    commit: &AuthenticatedContent,
) -> Result<Vec<u8>, TranscriptError> {
    let content_type = commit.content.content_type();
    if content_type != ContentType::Commit {
        return Err(TranscriptError::NotACommit(content_type));
    }
    confirmed_transcript_hash_of_encoded(
        cs,
        interim_before,
        commit.wire_format,
        &commit.content.to_bytes()?,
        &commit.auth.signature,
    )
}

/// [`confirmed_transcript_hash`] of a commit whose `FramedContent` is already encoded
/// (a received commit: its encoding was built to verify the signature).
pub fn confirmed_transcript_hash_of_encoded(
    cs: &dyn CipherSuiteProvider,
    interim_before: &[u8],
    wire_format: WireFormat,
    encoded_content: &[u8],
    signature: &[u8],
) -> Result<Vec<u8>, TranscriptError> {
    let mut wire_format_bytes = Vec::with_capacity(2);
    wire_format.encode(&mut wire_format_bytes)?;
    let mut signature_bytes = Vec::with_capacity(conclave_codec::opaque_len(signature.len()));
    conclave_codec::write_opaque(&mut signature_bytes, signature)?;
    Ok(cs.hash_parts(&[
        interim_before,
        &wire_format_bytes,
        encoded_content,
        &signature_bytes,
    ]))
}

/// `Hash(confirmed || InterimTranscriptHashInput)` where the input is `{confirmation_tag}`
/// (RFC 9420 §8.2).
pub fn interim_transcript_hash(
    cs: &dyn CipherSuiteProvider,
    confirmed: &[u8],
    confirmation_tag: &[u8],
) -> Result<Vec<u8>, TranscriptError> {
    let mut input = Vec::with_capacity(confirmed.len() + confirmation_tag.len() + 4);
    input.extend_from_slice(confirmed);
    conclave_codec::write_opaque(&mut input, confirmation_tag)?;
    Ok(cs.hash(&input))
}

/// Both hashes after `commit`: `(confirmed, interim)`.
pub fn next_transcript_hashes(
    cs: &dyn CipherSuiteProvider,
    interim_before: &[u8],
    commit: &AuthenticatedContent,
) -> Result<(Vec<u8>, Vec<u8>), TranscriptError> {
    let confirmed = confirmed_transcript_hash(cs, interim_before, commit)?;
    let tag = commit
        .auth
        .confirmation_tag
        .as_deref()
        .ok_or(TranscriptError::MissingConfirmationTag)?;
    let interim = interim_transcript_hash(cs, &confirmed, tag)?;
    Ok((confirmed, interim))
}

/// `confirmation_tag = MAC(confirmation_key, GroupContext.confirmed_transcript_hash)`
/// (RFC 9420 §6.1).
pub fn confirmation_tag(
    cs: &dyn CipherSuiteProvider,
    confirmation_key: &[u8],
    confirmed_transcript_hash: &[u8],
) -> Vec<u8> {
    cs.mac(confirmation_key, confirmed_transcript_hash)
}

/// Verifies a confirmation tag in constant time (RFC 9420 §6.1).
pub fn verify_confirmation_tag(
    cs: &dyn CipherSuiteProvider,
    confirmation_key: &[u8],
    confirmed_transcript_hash: &[u8],
    tag: &[u8],
) -> bool {
    ct_eq(
        &confirmation_tag(cs, confirmation_key, confirmed_transcript_hash),
        tag,
    )
}
