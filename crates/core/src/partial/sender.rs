//! Sender-authenticated messages (draft-ietf-mls-partial-02 §7): the sender's membership
//! proof gives a partial client the signature key a full client looks up in its tree.
//!
//! The proof is checked against the tree hash of the epoch the message was sent in — the
//! GroupContext's for a PublicMessage or PrivateMessage, the object's own for a GroupInfo
//! (§7) — and the message's sender must be the proven leaf; only then is the signature
//! verified with that leaf's `signature_key`. What RFC 9420 checks besides the signature (a
//! PublicMessage's membership tag, a PrivateMessage's decryption) stays with the caller,
//! which holds the epoch's secrets.

use conclave_crypto::CipherSuiteProvider;

use super::messages::{MembershipProof, SenderAuthenticatedMessage};
use super::{PartialError, ProvenLeaf};
use crate::framing::{FramingError, UnverifiedContent};
use crate::messages::{GroupContext, GroupInfo, LeafIndex, PublicMessage, Sender, WireFormat};
use crate::welcome::verify_group_info_signature;

/// draft-ietf-mls-partial-02 §7, §10: checks `proof` against `tree_hash` and that the
/// message's `sender` is a member at the proven leaf; returns the proven leaf, whose
/// `signature_key` verifies the message. `what` names the message in errors.
///
/// This is the step a partial client runs for a PrivateMessage after decrypting it (the
/// sender is in the encrypted SenderData) and for an AnnotatedCommit's member sender.
pub fn verify_sender<'p>(
    cs: &dyn CipherSuiteProvider,
    proof: &'p MembershipProof,
    tree_hash: &[u8],
    sender: Sender,
    what: &'static str,
) -> Result<ProvenLeaf<'p>, PartialError> {
    let Sender::Member(leaf) = sender else {
        return Err(PartialError::NotAMemberSender);
    };
    check_proven_leaf(proof, leaf, what)?;
    proof.verify(cs, tree_hash)
}

/// The leaf the message names must be the proof's (draft-ietf-mls-partial-02 §7, §8, §10).
fn check_proven_leaf(
    proof: &MembershipProof,
    sender: LeafIndex,
    what: &'static str,
) -> Result<(), PartialError> {
    if sender == proof.leaf_index {
        Ok(())
    } else {
        Err(PartialError::SenderMismatch {
            what,
            sender,
            proven: proof.leaf_index,
        })
    }
}

impl SenderAuthenticatedMessage<PublicMessage> {
    /// draft-ietf-mls-partial-02 §7: verifies the sender proof against the tree hash of
    /// `context` (the GroupContext of the epoch in the message's FramedContent; its group id
    /// and epoch must be the message's), then the signature over `FramedContentTBS`
    /// (RFC 9420 §6.1) with the proven leaf's key. Returns the proven leaf.
    ///
    /// The membership tag (RFC 9420 §6.2) is not checked here: it needs the epoch's
    /// membership key, which the caller's group state holds.
    pub fn verify(
        &self,
        cs: &dyn CipherSuiteProvider,
        context: &GroupContext,
    ) -> Result<ProvenLeaf<'_>, PartialError> {
        let content = &self.message.content;
        if content.group_id != context.group_id || content.epoch != context.epoch {
            return Err(PartialError::WrongGroupOrEpoch);
        }
        let proven = verify_sender(
            cs,
            &self.sender_membership_proof,
            &context.tree_hash,
            content.sender,
            "SenderAuthenticatedMessage<PublicMessage>",
        )?;
        UnverifiedContent::opened(WireFormat::PUBLIC_MESSAGE, content, &self.message.auth)?
            .verify(cs, proven.leaf_node.signature_key.as_ref(), context)
            .map_err(|e| match e {
                FramingError::InvalidSignature => PartialError::InvalidSignature,
                other => PartialError::Framing(other),
            })?;
        Ok(proven)
    }
}

impl SenderAuthenticatedMessage<GroupInfo> {
    /// draft-ietf-mls-partial-02 §7, §8: verifies the sender proof against the GroupInfo's
    /// own tree hash, that `signer` is the proven leaf, and the GroupInfo's signature
    /// (RFC 9420 §12.4.3) with that leaf's key. Returns the proven leaf.
    pub fn verify(&self, cs: &dyn CipherSuiteProvider) -> Result<ProvenLeaf<'_>, PartialError> {
        verify_group_info_sender(cs, &self.message, &self.sender_membership_proof)
    }
}

/// draft-ietf-mls-partial-02 §8 (and §7 for a GroupInfo): the `signer` of `group_info` is
/// the leaf `proof` proves, the proof is valid relative to the GroupInfo's tree hash, and
/// the GroupInfo's signature verifies with the proven leaf's key.
pub fn verify_group_info_sender<'p>(
    cs: &dyn CipherSuiteProvider,
    group_info: &GroupInfo,
    proof: &'p MembershipProof,
) -> Result<ProvenLeaf<'p>, PartialError> {
    check_proven_leaf(proof, group_info.signer, "GroupInfo")?;
    let proven = proof.verify(cs, &group_info.group_context.tree_hash)?;
    verify_group_info_signature(cs, group_info, &proven.leaf_node.signature_key)
        .map_err(|_| PartialError::InvalidSignature)?;
    Ok(proven)
}
