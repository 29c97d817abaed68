//! The public half of processing a handshake (RFC 9420 §12.4.2): every check that needs no
//! secret of the epoch, and the public effects of a commit on the tree, the group context
//! and the transcript hashes.
//!
//! A member ([`super::Group`]) runs it between its secret steps (the membership tag or the
//! decryption before; the path secrets, the key schedule and the confirmation tag after); a
//! non-member ([`crate::public_group::PublicGroup`], e.g. the Delivery Service of RFC 9750 §5)
//! runs it alone. Both call the same functions, so a handshake is judged by one set of rules:
//! [`PublicState::sender_signature_key`] (RFC 9420 §6.1), [`super::proposals::receive_proposal`]
//! (§12.1), [`super::commit::stage_public_commit`] (§12.2, §12.4.2, §12.4.3.2).

use conclave_crypto::CipherSuiteProvider;

use super::GroupError;
use super::app_data::ComponentHandler;
use super::proposals::{
    AppliedProposals, CachedProposal, CommittedProposal, Committer, ProposalContext,
    validate_and_apply,
};
use super::state::PskSources;
use crate::credential::IdentityProvider;
use crate::framing::{PendingSignature, UnverifiedContent, VerifiedContent};
use crate::messages::{
    Content, ExternalSenders, FramedContent, GroupContext, Proposal, Sender, SenderType,
    SignaturePublicKey, find_payload,
};
use crate::tree::RatchetTree;
use crate::validation::LifetimePolicy;
use crate::validation::negotiation::NegotiationPolicy;

/// The policy a handshake is judged by, beyond the RFC's rules: what both
/// [`super::GroupConfig`] and [`crate::public_group::PublicGroupConfig`] say.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PublicPolicy {
    /// When KeyPackage lifetimes are enforced (RFC 9420 §7.3).
    pub(crate) lifetime_policy: LifetimePolicy,
    /// The group's codepoints and media-type policy (draft-ietf-mls-extensions-10 §5, §6.2).
    pub(crate) negotiation: NegotiationPolicy,
    /// Whether external commits by newcomers are accepted (RFC 9420 §12.4.3.2).
    pub(crate) allow_external_commits: bool,
    /// Whether resync external commits are accepted (RFC 9420 §12.4.3.2).
    pub(crate) allow_external_resync: bool,
}

/// The public state of the current epoch, as a member or a non-member holds it, with the
/// policy and services its handshakes are checked with.
pub(crate) struct PublicState<'a> {
    pub(crate) cs: &'a dyn CipherSuiteProvider,
    pub(crate) identity: &'a dyn IdentityProvider,
    /// The group context of the epoch (RFC 9420 §8.1).
    pub(crate) context: &'a GroupContext,
    /// The ratchet tree of the epoch.
    pub(crate) tree: &'a RatchetTree,
    /// The interim transcript hash of the epoch (RFC 9420 §8.2).
    pub(crate) interim_transcript_hash: &'a [u8],
    /// The proposals received in this epoch (RFC 9420 §12.1), for commits by reference.
    pub(crate) proposals: &'a [CachedProposal],
    pub(crate) policy: PublicPolicy,
    /// The application's components (draft-ietf-mls-extensions-10 §4.7, §4.8).
    pub(crate) components: &'a dyn ComponentHandler,
    /// Where PSKs come from, to check that a PreSharedKey proposal's PSK is available
    /// (RFC 9420 §12.4.2); `None` for a non-member, which cannot know (the check is skipped).
    pub(crate) psks: Option<PskSources<'a>>,
}

impl PublicState<'_> {
    /// The message is for this group and epoch (RFC 9420 §6, §12.4.2: handshakes only in
    /// their own epoch).
    pub(crate) fn check_group_and_epoch(
        &self,
        group_id: &[u8],
        epoch: u64,
    ) -> Result<(), GroupError> {
        if group_id != self.context.group_id.as_slice() {
            return Err(GroupError::WrongGroup);
        }
        if epoch != self.context.epoch {
            return Err(GroupError::WrongEpoch {
                message: epoch,
                current: self.context.epoch,
            });
        }
        Ok(())
    }

    /// The signature key of the sender of `content` (RFC 9420 §6.1): a member's leaf (not
    /// blank, §6.3.2), an entry of the group's `external_senders` (§12.1.8.1), the
    /// KeyPackage of a `new_member_proposal` Add (§12.1.8), the UpdatePath leaf of a
    /// `new_member_commit` (§12.4.3.2).
    pub(crate) fn sender_signature_key(
        &self,
        framed: &FramedContent,
    ) -> Result<SignaturePublicKey, GroupError> {
        match framed.sender {
            Sender::Member(leaf) => self
                .tree
                .leaf(leaf)
                .map(|l| l.signature_key.clone())
                .ok_or(GroupError::UnknownSender(leaf)),
            Sender::External(index) => {
                let senders = find_payload::<ExternalSenders>(&self.context.extensions)?
                    .ok_or(GroupError::UnknownExternalSender(index))?;
                senders
                    .0
                    .get(index as usize)
                    .map(|s| s.signature_key.clone())
                    .ok_or(GroupError::UnknownExternalSender(index))
            }
            Sender::NewMemberProposal => match &framed.content {
                Content::Proposal(Proposal::Add(add)) => {
                    Ok(add.key_package.leaf_node.signature_key.clone())
                }
                _ => Err(GroupError::SenderNotAllowed {
                    sender: SenderType::NewMemberProposal,
                    what: "anything but an Add proposal",
                    section: "12.1.8",
                }),
            },
            Sender::NewMemberCommit => match &framed.content {
                Content::Commit(commit) => commit
                    .path
                    .as_ref()
                    .map(|p| p.leaf_node.signature_key.clone())
                    .ok_or(GroupError::PathRequired(
                        "an external commit must have a path",
                    )),
                _ => Err(GroupError::SenderNotAllowed {
                    sender: SenderType::NewMemberCommit,
                    what: "anything but a commit",
                    section: "12.4.3.2",
                }),
            },
        }
    }

    /// Verifies the sender's signature (RFC 9420 §6.1) with the key
    /// [`PublicState::sender_signature_key`] finds, after the wire-format check of the
    /// group's handshake mode ([`super::handshake_mode`]).
    pub(crate) fn verify<'m>(
        &self,
        unverified: UnverifiedContent<'m>,
    ) -> Result<VerifiedContent<'m>, GroupError> {
        let (pending, key) = self.prepare_verify(unverified)?;
        Ok(pending.verify(self.cs, key.as_ref())?)
    }

    /// [`PublicState::verify`] up to the signature check itself: the handshake wire-format
    /// check, the sender's key and the encoded `FramedContentTBS` (RFC 9420 §6.1), for the
    /// caller to verify alone or in a batch.
    pub(crate) fn prepare_verify<'m>(
        &self,
        unverified: UnverifiedContent<'m>,
    ) -> Result<(PendingSignature<'m>, SignaturePublicKey), GroupError> {
        super::handshake_mode::check_handshake_wire_format(
            &self.context.extensions,
            unverified.wire_format(),
            unverified.unverified_content(),
        )?;
        let key = self.sender_signature_key(unverified.unverified_content())?;
        Ok((unverified.into_pending(self.cs, self.context)?, key))
    }

    /// What the proposal rules need, at time `now`.
    pub(crate) fn proposal_context(&self, now: u64) -> ProposalContext<'_> {
        ProposalContext {
            cs: self.cs,
            identity: self.identity,
            context: self.context,
            tree: self.tree,
            lifetime_policy: self.policy.lifetime_policy,
            now,
            psks: self.psks.as_ref(),
            policy: self.policy.negotiation,
            components: self.components,
        }
    }

    /// Validates and applies a committed proposal list against this epoch (RFC 9420 §12.2,
    /// §12.3): for a commit created and for one received alike.
    pub(crate) fn validate_proposals(
        &self,
        committer: Committer,
        committed: &[CommittedProposal],
        now: u64,
    ) -> Result<AppliedProposals, GroupError> {
        let applied = validate_and_apply(&self.proposal_context(now), committer, committed)?;
        // An external commit is judged with its joiner's leaf, in `stage_public_commit`.
        if committer != Committer::External {
            self.check_policy(committer, None, committed, &applied)?;
        }
        Ok(applied)
    }

    /// The room policy's check of a commit (draft-ietf-mimi-room-policy-04 §8,
    /// [`super::policy::check_commit`]).
    pub(crate) fn check_policy(
        &self,
        committer: Committer,
        joiner: Option<&crate::messages::LeafNode>,
        committed: &[CommittedProposal],
        applied: &AppliedProposals,
    ) -> Result<(), GroupError> {
        super::policy::check_commit(&super::policy::CommitCheck {
            identity: self.identity,
            extensions: &self.context.extensions,
            tree: self.tree,
            committer,
            joiner,
            proposals: committed,
            applied,
        })?;
        Ok(())
    }
}
