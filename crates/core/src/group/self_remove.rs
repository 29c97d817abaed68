//! The SelfRemove proposal (draft-ietf-mls-extensions-10 §6.3): a member asks to leave with
//! a proposal that any later committer, an external joiner included, commits by reference.
//!
//! The rules, each once, called from the proposal and commit code:
//! - the proposal travels under the group's codepoint ([`check_codepoint`]: 0x000A in the
//!   draft, 0xF003 for mls-rs, [`crate::codepoints`]);
//! - it is meaningful only in a "self-remove-capable group", where every member lists that
//!   codepoint in its capabilities ([`check_capable`]);
//! - it is sent as a PublicMessage, only by a member, at most once per member and epoch
//!   ([`check_received`], [`propose`]);
//! - in a commit it is included by reference only ([`check_not_by_value`]), never the
//!   committer's own, never with a Remove or an Update of the same leaf
//!   ([`check_list`]); it requires an UpdatePath and removes its sender's leaf, after the
//!   Updates and before the Removes ([`apply`]);
//! - an external joiner validates the pending SelfRemoves it got with the GroupInfo, all but
//!   their membership tag, and includes them by reference in its external commit
//!   ([`check_as_non_member`]), an exception to RFC 9420 §12.2 and §12.4.3.2; the Delivery
//!   Service uses the same check.

use std::collections::HashSet;

use conclave_crypto::{CipherSuiteProvider, CryptoRandom};

use super::proposals::{AppliedProposals, CachedProposal, CommittedProposal, Committer};
use super::public::PublicState;
use super::{Group, GroupError, mls_message};
use crate::codepoints::CodepointProfile;
use crate::framing::{sign_content, unprotect_public_without_membership_key};
use crate::messages::{
    AuthenticatedContent, Content, ExtensionProposal, ExtensionProposalBody, ExtensionProposalKind,
    FramedContent, GroupContext, LeafIndex, MlsMessage, MlsMessageBody, Proposal, ProposalRef,
    ProposalType, SelfRemove, Sender, SenderType, WireFormat,
};
use crate::tree::RatchetTree;

/// A SelfRemove rule was broken (draft-ietf-mls-extensions-10 §6.3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SelfRemoveError {
    /// The proposal travels under another codepoint than the group's profile gives
    /// SelfRemove.
    #[error(
        "draft-ietf-mls-extensions-10 §6.3: this group (codepoint profile {profile}) sends \
         SelfRemove as proposal type {expected:#06x}, not {found:#06x}"
    )]
    WrongCodepoint {
        /// The codepoint found.
        found: u16,
        /// The group's SelfRemove codepoint.
        expected: u16,
        /// The group's codepoint profile.
        profile: CodepointProfile,
    },
    /// A member does not list SelfRemove in its capabilities: the group is not
    /// "self-remove-capable".
    #[error(
        "draft-ietf-mls-extensions-10 §6.3: the group is not self-remove-capable: the member \
         at leaf {leaf} does not list proposal type {proposal_type:#06x} in its capabilities \
         (leave with a Remove proposal instead)"
    )]
    NotCapable {
        /// The leaf of the member lacking support.
        leaf: u32,
        /// The SelfRemove codepoint it lacks.
        proposal_type: u16,
    },
    /// A SelfRemove came in another wire format than PublicMessage.
    #[error(
        "draft-ietf-mls-extensions-10 §6.3: a SelfRemove proposal must be sent as a \
         PublicMessage, not wire format {0}"
    )]
    NotPublicMessage(u16),
    /// A SelfRemove from someone who is not a member (an external sender, a new member).
    #[error(
        "draft-ietf-mls-extensions-10 §6.3: only a member sends a SelfRemove proposal; it \
         cannot be an external proposal (sender type {0:?})"
    )]
    NotFromMember(SenderType),
    /// A second SelfRemove of one member in one epoch.
    #[error(
        "draft-ietf-mls-extensions-10 §6.3: a client must not issue more than one SelfRemove \
         proposal per epoch (the member at leaf {0} already did)"
    )]
    MoreThanOnePerEpoch(u32),
    /// A SelfRemove inside a commit, by value.
    #[error(
        "draft-ietf-mls-extensions-10 §6.3: SelfRemove proposals are only allowed in a Commit \
         by reference"
    )]
    ByValue,
    /// A commit includes its committer's own SelfRemove.
    #[error(
        "draft-ietf-mls-extensions-10 §6.3, RFC 9420 §12.2: a commit must not include the \
         committer's own SelfRemove (another member commits it)"
    )]
    CommittersOwn,
    /// A commit holds a Remove of a leaf whose SelfRemove it also holds.
    #[error(
        "draft-ietf-mls-extensions-10 §6.3: the Remove proposal of leaf {0} is invalid, the \
         commit also holds that member's SelfRemove"
    )]
    RemoveOfLeavingMember(u32),
    /// A commit holds an Update of a leaf whose SelfRemove it also holds.
    #[error(
        "draft-ietf-mls-extensions-10 §6.3, RFC 9420 §12.2: an Update and a SelfRemove apply \
         to the same leaf {0} (a SelfRemove is processed as a Remove)"
    )]
    UpdateOfLeavingMember(u32),
    /// A commit holds two SelfRemoves of one member.
    #[error(
        "draft-ietf-mls-extensions-10 §6.3, RFC 9420 §12.2: two SelfRemove proposals of the \
         member at leaf {0} in one commit"
    )]
    Duplicate(u32),
    /// The SelfRemove's sender leaf is blank or outside the tree.
    #[error("draft-ietf-mls-extensions-10 §6.3: the SelfRemove's sender leaf {0} is not a member")]
    UnknownSender(u32),
    /// An external commit references a proposal that is not a SelfRemove.
    #[error(
        "draft-ietf-mls-extensions-10 §6.3, RFC 9420 §12.4.3.2: an external commit may \
         include only SelfRemove proposals by reference"
    )]
    ExternalCommitReference,
    /// What was given as a SelfRemove proposal is another message.
    #[error("draft-ietf-mls-extensions-10 §6.3: not a SelfRemove proposal: {0}")]
    NotSelfRemove(&'static str),
}

/// Whether `proposal` is a SelfRemove (under any profile's codepoint).
pub(crate) fn is_self_remove(proposal: &Proposal) -> bool {
    matches!(
        proposal.extension_body(),
        Some(ExtensionProposalBody::SelfRemove(_))
    )
}

/// The SelfRemove codepoint of `profile`.
fn codepoint(profile: CodepointProfile) -> ProposalType {
    profile.proposal_type(ExtensionProposalKind::SelfRemove)
}

/// draft-ietf-mls-extensions-10 §6.3 with the group's codepoint profile
/// ([`crate::codepoints`]): a SelfRemove is refused under another profile's codepoint.
pub(crate) fn check_codepoint(
    profile: CodepointProfile,
    proposal: &Proposal,
) -> Result<(), SelfRemoveError> {
    let expected = codepoint(profile);
    let found = proposal.proposal_type();
    if found == expected {
        Ok(())
    } else {
        Err(SelfRemoveError::WrongCodepoint {
            found: found.0,
            expected: expected.0,
            profile,
        })
    }
}

/// draft-ietf-mls-extensions-10 §6.3 "self-remove-capable group", RFC 9420 §12.2: every
/// member of `tree` but those in `except` (members the commit removes need not support a
/// proposal type) lists `proposal_type` in its capabilities.
fn check_capable(
    tree: &RatchetTree,
    proposal_type: ProposalType,
    except: &HashSet<LeafIndex>,
) -> Result<(), SelfRemoveError> {
    match tree.members().find(|(leaf, node)| {
        !except.contains(leaf) && !node.capabilities.proposals.contains(&proposal_type)
    }) {
        Some((leaf, _)) => Err(SelfRemoveError::NotCapable {
            leaf: leaf.0,
            proposal_type: proposal_type.0,
        }),
        None => Ok(()),
    }
}

/// The early branch of [`super::proposals::check_sender_may_propose`] for SelfRemove
/// (draft-ietf-mls-extensions-10 §6.3: only members; "cannot be sent as an external
/// proposal"). `None` for every other proposal.
pub(crate) fn check_sender(sender: &Sender, proposal: &Proposal) -> Option<Result<(), GroupError>> {
    if !is_self_remove(proposal) {
        return None;
    }
    Some(match sender {
        Sender::Member(_) => Ok(()),
        other => Err(SelfRemoveError::NotFromMember(other.sender_type()).into()),
    })
}

/// A SelfRemove received from another member (draft-ietf-mls-extensions-10 §6.3): under the
/// group's codepoint, as a PublicMessage, in a self-remove-capable group, and the first of
/// its sender in this epoch (an exact replay is left to the duplicate check). Nothing for
/// other proposals.
pub(crate) fn check_received(
    state: &PublicState<'_>,
    wire_format: WireFormat,
    received: &CachedProposal,
) -> Result<(), GroupError> {
    if !is_self_remove(&received.proposal) {
        return Ok(());
    }
    check_codepoint(state.policy.negotiation.profile, &received.proposal)?;
    if wire_format != WireFormat::PUBLIC_MESSAGE {
        return Err(SelfRemoveError::NotPublicMessage(wire_format.0).into());
    }
    check_capable(
        state.tree,
        received.proposal.proposal_type(),
        &HashSet::new(),
    )?;
    let Sender::Member(leaf) = received.sender else {
        return Err(SelfRemoveError::NotFromMember(received.sender.sender_type()).into());
    };
    check_first_of_sender(state.proposals.iter(), leaf, &received.reference)
}

/// "A client MUST NOT issue more than one SelfRemove proposal per epoch"
/// (draft-ietf-mls-extensions-10 §6.3): no other SelfRemove of `leaf` among `cached`.
fn check_first_of_sender<'a>(
    cached: impl IntoIterator<Item = &'a CachedProposal>,
    leaf: LeafIndex,
    reference: &ProposalRef,
) -> Result<(), GroupError> {
    let earlier = cached.into_iter().any(|p| {
        is_self_remove(&p.proposal) && p.sender == Sender::Member(leaf) && p.reference != *reference
    });
    if earlier {
        Err(SelfRemoveError::MoreThanOnePerEpoch(leaf.0).into())
    } else {
        Ok(())
    }
}

/// Sends our SelfRemove (draft-ietf-mls-extensions-10 §6.3) as a PublicMessage whatever the
/// group's handshake wire format, and caches it like our other proposals. Refused under
/// another codepoint than the group's, in a group that is not self-remove-capable, or if we
/// sent one in this epoch already.
pub(super) fn propose(
    group: &mut Group,
    proposal: Proposal,
    authenticated_data: &[u8],
    rng: &mut dyn CryptoRandom,
) -> Result<MlsMessage, GroupError> {
    group.ensure_active()?;
    check_codepoint(group.config.codepoint_profile, &proposal)?;
    check_capable(&group.epoch.tree, proposal.proposal_type(), &HashSet::new())?;
    let own = group.own_leaf();
    if group
        .proposals
        .iter()
        .any(|p| is_self_remove(&p.proposal) && p.sender == Sender::Member(own))
    {
        return Err(SelfRemoveError::MoreThanOnePerEpoch(own.0).into());
    }
    let content = FramedContent {
        group_id: group.epoch.context.group_id.clone(),
        epoch: group.epoch(),
        sender: Sender::Member(own),
        // Framed like every other message of ours: a SafeAAD where the group requires one
        // (draft-ietf-mls-extensions-10 §4.9).
        authenticated_data: group.outgoing_aad(
            authenticated_data,
            crate::messages::ContentType::Proposal,
            rng,
        )?,
        content: Content::Proposal(proposal),
    };
    let signed = sign_content(
        group.cs.as_ref(),
        group.signer.secret_key.as_bytes(),
        WireFormat::PUBLIC_MESSAGE,
        content,
        Some(&group.epoch.context),
    )?;
    let body = group.protect_signed(&signed, rng)?;
    let cached = CachedProposal::from_content(group.cs.as_ref(), &signed)?;
    group.proposals.push(cached);
    Ok(mls_message(body))
}

/// draft-ietf-mls-extensions-10 §6.3: "SelfRemove proposals are only allowed in a Commit by
/// reference".
pub(crate) fn check_not_by_value(proposal: &Proposal) -> Result<(), GroupError> {
    if is_self_remove(proposal) {
        Err(SelfRemoveError::ByValue.into())
    } else {
        Ok(())
    }
}

/// An external commit may reference SelfRemoves, and nothing else
/// (draft-ietf-mls-extensions-10 §6.3; RFC 9420 §12.4.3.2 allows no reference at all).
pub(crate) fn check_external_reference(proposal: &Proposal) -> Result<(), GroupError> {
    if is_self_remove(proposal) {
        Ok(())
    } else {
        Err(SelfRemoveError::ExternalCommitReference.into())
    }
}

/// Whether a commit of ours leaves out a cached proposal because of a SelfRemove
/// (draft-ietf-mls-extensions-10 §6.3): our own SelfRemove (another member commits it), a
/// Remove of a member whose SelfRemove is pending (that Remove is invalid), and an Update of
/// such a member (RFC 9420 §12.2 prefers the removal).
pub(crate) fn left_out_of_commit(
    own: LeafIndex,
    proposal: &CachedProposal,
    pending: &[CachedProposal],
) -> bool {
    let leaving = |leaf: LeafIndex| {
        leaf != own
            && pending
                .iter()
                .any(|p| is_self_remove(&p.proposal) && p.sender == Sender::Member(leaf))
    };
    match (&proposal.proposal, proposal.sender) {
        (p, Sender::Member(sender)) if is_self_remove(p) => sender == own,
        (Proposal::Remove(remove), _) => leaving(remove.removed),
        (Proposal::Update(_), Sender::Member(sender)) => leaving(sender),
        _ => false,
    }
}

/// The rules of draft-ietf-mls-extensions-10 §6.3 on a committed list: each SelfRemove is
/// another member's (by value it would carry the committer as sender), at most one per
/// member, and no Remove or Update of a leaving member is in the list.
pub(crate) fn check_list(
    committer: Committer,
    proposals: &[CommittedProposal],
) -> Result<(), GroupError> {
    let mut leaving = HashSet::new();
    for proposal in proposals.iter().filter(|p| is_self_remove(&p.proposal)) {
        let Sender::Member(leaf) = proposal.sender else {
            // A new member's by-value proposal in an external commit.
            return Err(SelfRemoveError::ByValue.into());
        };
        if committer == Committer::Member(leaf) {
            return Err(SelfRemoveError::CommittersOwn.into());
        }
        if !leaving.insert(leaf) {
            return Err(SelfRemoveError::Duplicate(leaf.0).into());
        }
    }
    if leaving.is_empty() {
        return Ok(());
    }
    for proposal in proposals {
        match (&proposal.proposal, proposal.sender) {
            (Proposal::Remove(remove), _) if leaving.contains(&remove.removed) => {
                return Err(SelfRemoveError::RemoveOfLeavingMember(remove.removed.0).into());
            }
            (Proposal::Update(_), Sender::Member(sender)) if leaving.contains(&sender) => {
                return Err(SelfRemoveError::UpdateOfLeavingMember(sender.0).into());
            }
            _ => {}
        }
    }
    Ok(())
}

/// Applies the SelfRemoves of a committed list (draft-ietf-mls-extensions-10 §6.3): each
/// removes its sender's leaf like a Remove (RFC 9420 §12.1.3), after the Updates and before
/// the Removes, and requires an UpdatePath. The members that process the commit support the
/// proposal type (RFC 9420 §12.2; the removed ones need not).
pub(crate) fn apply(
    tree: &RatchetTree,
    proposals: &[CommittedProposal],
    applied: &mut AppliedProposals,
) -> Result<(), GroupError> {
    let mut removed: HashSet<LeafIndex> = proposals
        .iter()
        .filter_map(|p| match &p.proposal {
            Proposal::Remove(remove) => Some(remove.removed),
            _ => None,
        })
        .collect();
    let mut types = Vec::new();
    for proposal in proposals.iter().filter(|p| is_self_remove(&p.proposal)) {
        let Sender::Member(leaf) = proposal.sender else {
            return Err(SelfRemoveError::ByValue.into());
        };
        if tree.leaf(leaf).is_none() {
            return Err(SelfRemoveError::UnknownSender(leaf.0).into());
        }
        let old = applied.tree.remove_leaf(leaf)?;
        applied.self_removed.push((leaf, old));
        applied.path_required = true;
        removed.insert(leaf);
        types.push(proposal.proposal.proposal_type());
    }
    types.dedup();
    for proposal_type in types {
        check_capable(tree, proposal_type, &removed)?;
    }
    Ok(())
}

/// A SelfRemove proposal checked by someone outside the group: an external joiner before it
/// includes the proposal by reference, or the Delivery Service before it serves it with the
/// GroupInfo (draft-ietf-mls-extensions-10 §6.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedSelfRemove {
    /// The leaf of the member leaving.
    pub sender: LeafIndex,
    /// The proposal's reference (RFC 9420 §5.2), as a commit names it.
    pub reference: ProposalRef,
    /// The proposal, under its codepoint.
    pub proposal: Proposal,
}

/// Checks a SelfRemove `message` of the epoch a GroupInfo describes (its `context` and
/// `tree`), as a non-member can (draft-ietf-mls-extensions-10 §6.3): a PublicMessage of this
/// group and epoch, a SelfRemove under `profile`'s codepoint, from a member of `tree` whose
/// signature verifies, in a self-remove-capable group. Its membership tag must be present
/// but cannot be verified without the membership key ("it skips the validation of the
/// `membership_tag`").
pub fn check_as_non_member(
    cs: &dyn CipherSuiteProvider,
    profile: CodepointProfile,
    context: &GroupContext,
    tree: &RatchetTree,
    message: &MlsMessage,
) -> Result<CheckedSelfRemove, GroupError> {
    let MlsMessageBody::PublicMessage(public) = &message.body else {
        return Err(SelfRemoveError::NotPublicMessage(message.wire_format().0).into());
    };
    let Content::Proposal(proposal) = &public.content.content else {
        return Err(SelfRemoveError::NotSelfRemove("the message is not a proposal").into());
    };
    if !is_self_remove(proposal) {
        return Err(SelfRemoveError::NotSelfRemove("the proposal is of another type").into());
    }
    check_codepoint(profile, proposal)?;
    let Sender::Member(leaf) = public.content.sender else {
        return Err(SelfRemoveError::NotFromMember(public.content.sender.sender_type()).into());
    };
    let unverified = unprotect_public_without_membership_key(cs, public, context)?;
    let signer = tree
        .leaf(leaf)
        .ok_or(SelfRemoveError::UnknownSender(leaf.0))?;
    unverified.verify(cs, signer.signature_key.as_ref(), context)?;
    check_capable(tree, proposal.proposal_type(), &HashSet::new())?;
    let content = AuthenticatedContent {
        wire_format: WireFormat::PUBLIC_MESSAGE,
        content: public.content.clone(),
        auth: public.auth.clone(),
    };
    Ok(CheckedSelfRemove {
        sender: leaf,
        reference: super::proposals::proposal_ref(cs, &content)?,
        proposal: proposal.clone(),
    })
}

/// The SelfRemoves an external joiner includes (draft-ietf-mls-extensions-10 §6.3), each
/// checked with [`check_as_non_member`] and at most one per member.
pub(crate) fn check_for_joiner(
    cs: &dyn CipherSuiteProvider,
    profile: CodepointProfile,
    context: &GroupContext,
    tree: &RatchetTree,
    messages: &[MlsMessage],
) -> Result<Vec<CheckedSelfRemove>, GroupError> {
    let mut checked: Vec<CheckedSelfRemove> = Vec::with_capacity(messages.len());
    for message in messages {
        let next = check_as_non_member(cs, profile, context, tree, message)?;
        if checked.iter().any(|c| c.sender == next.sender) {
            return Err(SelfRemoveError::MoreThanOnePerEpoch(next.sender.0).into());
        }
        checked.push(next);
    }
    Ok(checked)
}

impl Group {
    /// Asks to leave the group with a SelfRemove proposal (draft-ietf-mls-extensions-10
    /// §6.3): returns the PublicMessage to send, and keeps the proposal pending like our other
    /// proposals. The next commit by any other member, or by an external joiner, removes us;
    /// we see it as our removal ([`GroupStatus::Removed`](super::GroupStatus::Removed)).
    ///
    /// Refused ([`SelfRemoveError::NotCapable`]) unless every member lists the group
    /// profile's SelfRemove codepoint in its capabilities ([`Group::is_self_remove_capable`]),
    /// and ([`SelfRemoveError::MoreThanOnePerEpoch`]) if we sent one in this epoch already.
    /// Our own commits never include it.
    pub fn self_remove(
        &mut self,
        authenticated_data: &[u8],
        rng: &mut dyn CryptoRandom,
    ) -> Result<MlsMessage, GroupError> {
        let proposal = Proposal::Extension(ExtensionProposal::new(
            self.config.codepoint_profile,
            ExtensionProposalBody::SelfRemove(SelfRemove),
        ));
        propose(self, proposal, authenticated_data, rng)
    }

    /// Whether every member lists the group profile's SelfRemove codepoint in its
    /// capabilities: a "self-remove-capable group" (draft-ietf-mls-extensions-10 §6.3).
    pub fn is_self_remove_capable(&self) -> bool {
        check_capable(
            &self.epoch.tree,
            codepoint(self.config.codepoint_profile),
            &HashSet::new(),
        )
        .is_ok()
    }

    /// The SelfRemove codepoint of the group's profile, for the capabilities of leaves that
    /// support it (draft-ietf-mls-extensions-10 §6.3, §7.2).
    pub fn self_remove_proposal_type(&self) -> ProposalType {
        codepoint(self.config.codepoint_profile)
    }
}

#[cfg(test)]
mod tests;
