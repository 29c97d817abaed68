//! The Replace proposal and the `leaf_node_epoch` LeafNode extension
//! (draft-barnes-mls-replace-00): a member puts a LeafNode another member published earlier —
//! in an Update proposal that arrived too late to be committed in its epoch — at that
//! member's leaf, so that the fresh key still brings post-compromise security.
//!
//! The rules, each once, called from the proposal and commit code (so commit creation,
//! commit processing and [`crate::public_group::PublicGroup`] judge alike):
//! - codepoints: private-use values under every profile ([`crate::codepoints::REPLACE_PROPOSAL`],
//!   [`crate::codepoints::LEAF_NODE_EPOCH_EXTENSION`]); whether every member processing a
//!   commit supports the proposal type is RFC 9420 §12.2's generic check;
//! - a Replace comes from a member (`check_sender`);
//! - its LeafNode is valid as an Update for the indicated leaf (RFC 9420 §7.3), the leaf is
//!   not blank, the source is `update`, the LeafNode carries `leaf_node_epoch`, no later than
//!   the current epoch and no earlier than the current LeafNode's ([`check_replace`]);
//! - in a commit: never the committer's leaf, at most one per leaf, never with an Update or a
//!   Remove (or SelfRemove) of the same leaf, never in an external commit (`check_list`);
//!   it is applied like an Update of that leaf (the leaf replaced, its direct path blanked)
//!   and requires an UpdatePath (`apply`, `check_path`).
//!
//! Who sets `leaf_node_epoch` (`stamp_leaf_node_epoch`): a member whose leaf lists the
//! extension type in its capabilities stamps every LeafNode it creates in the group — an
//! Update's with the epoch it is sent in, a commit's UpdatePath leaf with the epoch the commit
//! starts (the epoch that leaf is created for: an Update sent in the same epoch can then never
//! roll a commit's fresher leaf back, which the draft's "greater than or equal" would allow
//! with the sending epoch). KeyPackage leaves carry none: they are created outside any epoch
//! of the group.
//!
//! Capabilities: the members that process a commit with a Replace must list the proposal type
//! (RFC 9420 §12.2, the generic check, so the replaced member too); a LeafNode carrying
//! `leaf_node_epoch` must list the extension type in its own capabilities (RFC 9420 §7.3,
//! the generic check). The draft asks no more: members that do not understand the extension
//! carry it like any other.
//!
//! Late Updates ([`Group::receive_late_update`], `Group::keep_uncommitted_updates`): another
//! member's Update that the commit ending its epoch left out, or one that reached us after
//! that commit, is kept (one per member, the newest) until that member's leaf changes; a
//! commit of ours with `CommitOptions::replace_late_updates` Replaces with those still valid.
//!
//! Security (draft-barnes-mls-replace-00 §6): a Replace is not signed by the replaced
//! member's current key; the LeafNode's own signature binds it to the group and leaf index
//! (RFC 9420 §7.2), and the identity provider must accept its credential as a successor of
//! the member's. `leaf_node_epoch` stops a rollback to an older LeafNode only when the
//! current LeafNode carries it, so groups that use Replace should give it to every leaf.

use std::collections::HashSet;

use conclave_codec::{Decode, Encode};

use super::proposals::{AppliedProposals, CommittedProposal, Committer, ProposalContext, TreeKeys};
use super::{Group, GroupError};
use crate::codepoints::{CodepointProfile, LEAF_NODE_EPOCH_EXTENSION};
use crate::framing::{
    unprotect_private, unprotect_public_without_membership_key, unprotect_semi_private,
};
use crate::messages::{
    Capabilities, Content, ContentType, Extension, ExtensionPayload, ExtensionProposal,
    ExtensionProposalBody, HpkePublicKey, LeafIndex, LeafNode, LeafNodeEpoch, LeafNodeSource,
    MlsMessage, MlsMessageBody, Proposal, Replace, Sender, SenderType,
};
use crate::tree::RatchetTree;
use crate::validation::{
    GroupRequirements, LeafNodeContext, LeafNodeSourceKind, LeafNodeValidator,
    MemberCredentialTypes, ValidationError,
};

/// A Replace rule was broken (draft-barnes-mls-replace-00).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplaceError {
    /// A Replace from someone who is not a member.
    #[error(
        "draft-barnes-mls-replace-00 §1, RFC 9420 §12.1.8: only a member of the group proposes \
         a Replace (sender type {0:?})"
    )]
    NotFromMember(SenderType),
    /// The replaced leaf is blank or outside the tree.
    #[error("draft-barnes-mls-replace-00 §4: the Replace's leaf {0} is blank")]
    BlankLeaf(u32),
    /// The new LeafNode's `leaf_node_source` is not `update`.
    #[error(
        "draft-barnes-mls-replace-00 §4: the Replace's LeafNode must have leaf_node_source \
         update, not {0:?}"
    )]
    WrongSource(LeafNodeSourceKind),
    /// The new LeafNode has no `leaf_node_epoch` extension.
    #[error(
        "draft-barnes-mls-replace-00 §4: the Replace's LeafNode carries no leaf_node_epoch \
         extension"
    )]
    MissingLeafNodeEpoch,
    /// A `leaf_node_epoch` extension whose data is not one `uint64`.
    #[error("draft-barnes-mls-replace-00 §3: malformed leaf_node_epoch extension at leaf {0}")]
    MalformedLeafNodeEpoch(u32),
    /// The new LeafNode claims an epoch after the current one.
    #[error(
        "draft-barnes-mls-replace-00 §4: the Replace's LeafNode was created in epoch \
         {leaf_node_epoch}, after the current epoch {current}"
    )]
    FutureEpoch {
        /// The LeafNode's `leaf_node_epoch`.
        leaf_node_epoch: u64,
        /// The group's epoch.
        current: u64,
    },
    /// The new LeafNode is older than the one it replaces (a rollback).
    #[error(
        "draft-barnes-mls-replace-00 §4, §6: the Replace's LeafNode (epoch {leaf_node_epoch}) \
         is older than leaf {leaf}'s current LeafNode (epoch {current_leaf_epoch})"
    )]
    Rollback {
        /// The replaced leaf.
        leaf: u32,
        /// The new LeafNode's `leaf_node_epoch`.
        leaf_node_epoch: u64,
        /// The current LeafNode's `leaf_node_epoch`.
        current_leaf_epoch: u64,
    },
    /// The new LeafNode is not valid as an Update of the indicated leaf.
    #[error(
        "draft-barnes-mls-replace-00 §4: the Replace's LeafNode is not valid as an Update for \
         leaf {leaf}: {source}"
    )]
    InvalidLeafNode {
        /// The replaced leaf.
        leaf: u32,
        /// The RFC 9420 §7.3 rule it breaks.
        #[source]
        source: ValidationError,
    },
    /// A regular commit replaces its committer's own leaf.
    #[error(
        "draft-barnes-mls-replace-00 §5: a commit must not hold a Replace of the committer's \
         leaf {0}"
    )]
    CommittersLeaf(u32),
    /// Two Replaces of one leaf in one commit.
    #[error("draft-barnes-mls-replace-00 §5: several Replace proposals for leaf {0}")]
    Duplicate(u32),
    /// A Replace and an Update of the same leaf in one commit.
    #[error(
        "draft-barnes-mls-replace-00 §5: a Replace and an Update proposal for the same leaf {0}"
    )]
    WithUpdate(u32),
    /// A Replace and a Remove (or a SelfRemove, processed as a Remove) of the same leaf.
    #[error(
        "draft-barnes-mls-replace-00 §5: a Replace and a Remove proposal for the same leaf {0}"
    )]
    WithRemove(u32),
    /// A Replace in an external commit.
    #[error(
        "draft-barnes-mls-replace-00 §5: Replace proposals are not allowed in external commits"
    )]
    InExternalCommit,
    /// A commit with a Replace but no UpdatePath.
    #[error("draft-barnes-mls-replace-00 §4: a Commit that contains a Replace must have a path")]
    PathRequired,
    /// What was offered as a late Update is not one ([`super::Group::receive_late_update`]).
    #[error("draft-barnes-mls-replace-00 §1: not a late Update proposal: {0}")]
    NotLateUpdate(&'static str),
    /// The late Update's sender has another signature key now than when it sent it.
    #[error(
        "draft-barnes-mls-replace-00 §6: the member at leaf {0} changed its signature key since \
         its Update; its LeafNode is not replayed"
    )]
    SignerChanged(u32),
    /// Our leaf was replaced with a LeafNode whose private key we do not hold.
    #[error(
        "draft-barnes-mls-replace-00 §4: our leaf was replaced with a LeafNode whose private \
         key we do not hold"
    )]
    UnknownOwnKey,
}

/// The Replace body of `proposal`, if it is one.
pub(crate) fn replace_body(proposal: &Proposal) -> Option<&Replace> {
    match proposal.extension_body() {
        Some(ExtensionProposalBody::Replace(replace)) => Some(replace),
        _ => None,
    }
}

/// Whether `proposal` is a Replace.
pub(crate) fn is_replace(proposal: &Proposal) -> bool {
    replace_body(proposal).is_some()
}

/// The `leaf_node_epoch` of `leaf` (draft-barnes-mls-replace-00 §3), `None` without one.
pub fn leaf_node_epoch(leaf: &LeafNode, index: LeafIndex) -> Result<Option<u64>, ReplaceError> {
    crate::messages::find_payload::<LeafNodeEpoch>(&leaf.extensions)
        .map(|epoch| epoch.map(|e| e.0))
        .map_err(|_| ReplaceError::MalformedLeafNodeEpoch(index.0))
}

/// `extensions` with `leaf_node_epoch = epoch` (draft-barnes-mls-replace-00 §3, §6) when
/// `capabilities` list the extension type; unchanged otherwise. Any earlier value is replaced
/// in place.
pub(crate) fn stamp_leaf_node_epoch(
    capabilities: &Capabilities,
    mut extensions: Vec<Extension>,
    epoch: u64,
) -> Result<Vec<Extension>, GroupError> {
    if !capabilities.extensions.contains(&LEAF_NODE_EPOCH_EXTENSION) {
        return Ok(extensions);
    }
    let stamped = LeafNodeEpoch(epoch).to_extension()?;
    match extensions
        .iter_mut()
        .find(|e| e.extension_type == LEAF_NODE_EPOCH_EXTENSION)
    {
        Some(existing) => *existing = stamped,
        None => extensions.push(stamped),
    }
    Ok(extensions)
}

/// The early branch of [`super::proposals::check_sender_may_propose`] for Replace: a member
/// takes a LeafNode another member published and proposes it ("any member of the group",
/// draft-barnes-mls-replace-00 §1); not an external sender or a newcomer. `None` for every
/// other proposal.
pub(crate) fn check_sender(sender: &Sender, proposal: &Proposal) -> Option<Result<(), GroupError>> {
    if !is_replace(proposal) {
        return None;
    }
    Some(match sender {
        Sender::Member(_) => Ok(()),
        other => Err(ReplaceError::NotFromMember(other.sender_type()).into()),
    })
}

/// The proposal-list rules of draft-barnes-mls-replace-00 §5 (in addition to RFC 9420
/// §12.2): no Replace in an external commit; in a regular one, no Replace of the committer's
/// leaf, at most one per leaf, and none with an Update or a Remove of the same leaf. A
/// SelfRemove (draft-ietf-mls-extensions-10 §6.3) is processed as a Remove, so it counts as
/// one.
pub(crate) fn check_list(
    committer: Committer,
    proposals: &[CommittedProposal],
) -> Result<(), GroupError> {
    let mut replaced = HashSet::new();
    for replace in proposals.iter().filter_map(|p| replace_body(&p.proposal)) {
        let Committer::Member(own) = committer else {
            return Err(ReplaceError::InExternalCommit.into());
        };
        if replace.replaced == own {
            return Err(ReplaceError::CommittersLeaf(own.0).into());
        }
        if !replaced.insert(replace.replaced) {
            return Err(ReplaceError::Duplicate(replace.replaced.0).into());
        }
    }
    if replaced.is_empty() {
        return Ok(());
    }
    for proposal in proposals {
        match (&proposal.proposal, proposal.sender) {
            (Proposal::Update(_), Sender::Member(sender)) if replaced.contains(&sender) => {
                return Err(ReplaceError::WithUpdate(sender.0).into());
            }
            (Proposal::Remove(remove), _) if replaced.contains(&remove.removed) => {
                return Err(ReplaceError::WithRemove(remove.removed.0).into());
            }
            (p, Sender::Member(sender))
                if super::self_remove::is_self_remove(p) && replaced.contains(&sender) =>
            {
                return Err(ReplaceError::WithRemove(sender.0).into());
            }
            _ => {}
        }
    }
    Ok(())
}

/// The checks of draft-barnes-mls-replace-00 §4 on the LeafNode of a Replace of `leaf`, whose
/// current LeafNode is `current`, in epoch `epoch`; the §7.3 validation as an Update of that
/// leaf is the caller's (`apply`).
pub fn check_replace(
    epoch: u64,
    leaf: LeafIndex,
    current: &LeafNode,
    new: &LeafNode,
) -> Result<(), ReplaceError> {
    if !matches!(new.leaf_node_source, LeafNodeSource::Update) {
        return Err(ReplaceError::WrongSource(LeafNodeSourceKind::of(
            &new.leaf_node_source,
        )));
    }
    let leaf_epoch = leaf_node_epoch(new, leaf)?.ok_or(ReplaceError::MissingLeafNodeEpoch)?;
    if leaf_epoch > epoch {
        return Err(ReplaceError::FutureEpoch {
            leaf_node_epoch: leaf_epoch,
            current: epoch,
        });
    }
    if let Some(current_epoch) = leaf_node_epoch(current, leaf)?
        && leaf_epoch < current_epoch
    {
        return Err(ReplaceError::Rollback {
            leaf: leaf.0,
            leaf_node_epoch: leaf_epoch,
            current_leaf_epoch: current_epoch,
        });
    }
    Ok(())
}

/// Validates and applies the Replaces of a committed list (draft-barnes-mls-replace-00 §4),
/// after the Updates: each replaces a non-blank leaf with a LeafNode that passes
/// [`check_replace`] and is valid as an Update for that leaf (RFC 9420 §7.3; its keys unique
/// in the tree as the Updates left it), blanks the leaf's direct path, and requires an
/// UpdatePath. The replaced leaves are reported with the updated ones.
pub(crate) fn apply(
    ctx: &ProposalContext<'_>,
    requirements: &GroupRequirements,
    members: &MemberCredentialTypes,
    proposals: &[CommittedProposal],
    applied: &mut AppliedProposals,
) -> Result<(), GroupError> {
    for replace in proposals.iter().filter_map(|p| replace_body(&p.proposal)) {
        let leaf = replace.replaced;
        let current = ctx.tree.leaf(leaf).ok_or(ReplaceError::BlankLeaf(leaf.0))?;
        check_replace(ctx.context.epoch, leaf, current, &replace.leaf_node)?;
        let keys = TreeKeys {
            tree: &applied.tree,
            except: Some(leaf),
        };
        let validator = LeafNodeValidator {
            cs: ctx.cs,
            identity: ctx.identity,
            group: requirements,
            members,
            keys: &keys,
            lifetime_policy: ctx.lifetime_policy,
            now: ctx.now,
        };
        validator
            .validate_leaf_node(
                &replace.leaf_node,
                &LeafNodeContext::Update {
                    group_id: &ctx.context.group_id,
                    leaf_index: leaf,
                    replaced: current,
                },
            )
            .map_err(|source| ReplaceError::InvalidLeafNode {
                leaf: leaf.0,
                source,
            })?;
        applied
            .tree
            .update_leaf(leaf, LeafNode::clone(&replace.leaf_node))?;
        applied.updated.push(leaf);
        applied.path_required = true;
    }
    Ok(())
}

/// draft-barnes-mls-replace-00 §4: "A Commit that contains a Replace proposal MUST contain an
/// update path".
pub(crate) fn check_path(
    proposals: &[CommittedProposal],
    has_path: bool,
) -> Result<(), GroupError> {
    if !has_path && proposals.iter().any(|p| is_replace(&p.proposal)) {
        Err(ReplaceError::PathRequired.into())
    } else {
        Ok(())
    }
}

/// Another member's Update proposal that arrived after its epoch ended, kept so that our
/// next commit may Replace with it (draft-barnes-mls-replace-00 §1). Dropped when that
/// member's leaf changes (the LeafNode would then roll it back, or install a key its owner
/// deleted) and when a commit installs it.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub(crate) struct LateUpdate {
    /// The sender's leaf.
    pub(crate) leaf: LeafIndex,
    /// The Update's LeafNode.
    pub(crate) leaf_node: LeafNode,
    /// The encryption key of the sender's leaf when we took the Update.
    pub(crate) replaces_key: HpkePublicKey,
}

/// The leaf an Update, Remove, SelfRemove or Replace of a commit touches.
fn touched_leaf(proposal: &CommittedProposal) -> Option<LeafIndex> {
    match (&proposal.proposal, proposal.sender) {
        (Proposal::Update(_), Sender::Member(sender)) => Some(sender),
        (Proposal::Remove(remove), _) => Some(remove.removed),
        (p, Sender::Member(sender)) if super::self_remove::is_self_remove(p) => Some(sender),
        (p, _) => replace_body(p).map(|r| r.replaced),
    }
}

impl Group {
    /// Takes another member's Update proposal of an earlier epoch — one that reached us
    /// after the commit that ended its epoch, which RFC 9420 §12.1.2 lets nobody commit — so
    /// that our next commit with
    /// [`CommitOptions::replace_late_updates`](super::CommitOptions::replace_late_updates) puts its LeafNode
    /// at the sender's leaf with a Replace (draft-barnes-mls-replace-00 §1, §4). Returns the
    /// sender's leaf.
    ///
    /// The message must be a handshake of one of the past epochs we keep
    /// ([`GroupConfig::max_past_epochs`](super::GroupConfig::max_past_epochs)): its
    /// signature is verified with the sender's key of that epoch (a PublicMessage's
    /// membership tag cannot be, the membership key of a past epoch is not kept; a
    /// PrivateMessage or SemiPrivateMessage is decrypted with that epoch's secret tree). The
    /// sender must still be at its leaf with the same signature key, and the Replace must
    /// be valid now — every rule a commit of it would meet (draft-barnes-mls-replace-00 §4,
    /// §5, RFC 9420 §7.3, §12.2). A newer Update of the same member supersedes an older one.
    ///
    /// Security (draft-barnes-mls-replace-00 §6): committing it restores the sender's
    /// post-compromise security only if nobody learnt that LeafNode's private key since it was
    /// created; an attacker who held the sender's state then still holds the new key. It is
    /// a second chance for a fresh key, not a substitute for the sender's own next commit.
    pub fn receive_late_update(
        &mut self,
        message: &MlsMessage,
        now: u64,
    ) -> Result<LeafIndex, GroupError> {
        self.ensure_active()?;
        if message.version != crate::messages::ProtocolVersion::MLS10 {
            return Err(GroupError::UnsupportedVersion(message.version.0));
        }
        let current = self.epoch();
        let group_id = self.epoch.context.group_id.clone();
        let profile = self.config.codepoint_profile;
        let own = self.own_leaf();
        let cs = self.cs.as_ref();
        let (message_group, message_epoch) = match &message.body {
            MlsMessageBody::PublicMessage(m) => (&m.content.group_id, m.content.epoch),
            MlsMessageBody::PrivateMessage(m) => (&m.group_id, m.epoch),
            MlsMessageBody::SemiPrivateMessage(m) => (&m.group_id, m.epoch),
            _ => return Err(ReplaceError::NotLateUpdate("not a handshake message").into()),
        };
        if *message_group != group_id {
            return Err(GroupError::WrongGroup);
        }
        if message_epoch >= current {
            return Err(ReplaceError::NotLateUpdate("not of an earlier epoch").into());
        }
        let past = self
            .past_epochs
            .untracked_mut()
            .iter_mut()
            .find(|p| p.context.epoch == message_epoch)
            .ok_or(GroupError::WrongEpoch {
                message: message_epoch,
                current,
            })?;
        let unverified = match &message.body {
            MlsMessageBody::PublicMessage(m) => {
                unprotect_public_without_membership_key(cs, m, &past.context)?
            }
            MlsMessageBody::PrivateMessage(m) => {
                if m.content_type != ContentType::Proposal {
                    return Err(ReplaceError::NotLateUpdate("not a proposal").into());
                }
                unprotect_private(
                    cs,
                    m,
                    &past.context,
                    &mut past.secret_tree,
                    past.sender_data_secret.as_bytes(),
                )?
            }
            MlsMessageBody::SemiPrivateMessage(m) => {
                let receivers =
                    crate::semi_private::enabled_receivers(&past.context.extensions, profile)
                        .map_err(ValidationError::from)?
                        .ok_or(GroupError::SemiPrivateNotEnabled)?;
                unprotect_semi_private(
                    cs,
                    m,
                    &past.context,
                    &receivers,
                    &mut past.secret_tree,
                    past.sender_data_secret.as_bytes(),
                )?
            }
            _ => return Err(ReplaceError::NotLateUpdate("not a handshake message").into()),
        };
        let Sender::Member(leaf) = unverified.sender() else {
            return Err(ReplaceError::NotLateUpdate("not from a member").into());
        };
        if leaf == own {
            return Err(ReplaceError::NotLateUpdate("our own Update").into());
        }
        let key = past
            .signature_key(leaf)
            .ok_or(GroupError::UnknownSender(leaf))?
            .clone();
        let verified = unverified.verify(cs, key.as_ref(), &past.context)?;
        let Content::Proposal(Proposal::Update(update)) = verified.content() else {
            return Err(ReplaceError::NotLateUpdate("not an Update proposal").into());
        };
        let leaf_node = LeafNode::clone(&update.leaf_node);
        let member = self
            .epoch
            .tree
            .leaf(leaf)
            .ok_or(ReplaceError::BlankLeaf(leaf.0))?;
        if member.signature_key != key {
            return Err(ReplaceError::SignerChanged(leaf.0).into());
        }
        let replaces_key = member.encryption_key.clone();
        let proposal = replace_proposal(profile, leaf, leaf_node.clone());
        self.validate_proposals(
            Committer::Member(own),
            &[CommittedProposal {
                sender: Sender::Member(own),
                proposal,
            }],
            now,
        )?;
        self.keep_late_update(LateUpdate {
            leaf,
            leaf_node,
            replaces_key,
        });
        Ok(leaf)
    }

    /// At the end of an epoch: the other members' Update proposals we cached but the commit
    /// did not include are late Updates now (draft-barnes-mls-replace-00 §1) — the common case
    /// behind a Delivery Service that takes proposals only for the current epoch. Kept if
    /// their LeafNode carries `leaf_node_epoch` (without it no Replace can install it); those
    /// the commit did include, or whose sender left, are dropped by
    /// [`Group::prune_late_updates`] right after.
    pub(crate) fn keep_uncommitted_updates(&mut self) {
        let own = self.own_leaf();
        let found: Vec<LateUpdate> = self
            .proposals
            .iter()
            .filter_map(|cached| match (&cached.proposal, cached.sender) {
                (Proposal::Update(update), Sender::Member(leaf)) if leaf != own => {
                    leaf_node_epoch(&update.leaf_node, leaf).ok().flatten()?;
                    Some(LateUpdate {
                        leaf,
                        leaf_node: LeafNode::clone(&update.leaf_node),
                        replaces_key: self.epoch.tree.leaf(leaf)?.encryption_key.clone(),
                    })
                }
                _ => None,
            })
            .collect();
        for late in found {
            self.keep_late_update(late);
        }
    }

    /// Keeps `late` unless a newer late Update of the same member is kept.
    fn keep_late_update(&mut self, late: LateUpdate) {
        let epoch_of = |l: &LateUpdate| leaf_node_epoch(&l.leaf_node, l.leaf).ok().flatten();
        let newer = epoch_of(&late);
        if self
            .late_updates
            .iter()
            .any(|l| l.leaf == late.leaf && epoch_of(l) > newer)
        {
            return;
        }
        self.late_updates.retain(|l| l.leaf != late.leaf);
        self.late_updates.push(late);
    }

    /// The leaves whose late Update we keep for a Replace ([`Group::receive_late_update`]).
    pub fn late_update_leaves(&self) -> Vec<LeafIndex> {
        self.late_updates.iter().map(|l| l.leaf).collect()
    }

    /// The leaves a commit of ours with
    /// [`CommitOptions::replace_late_updates`](super::CommitOptions::replace_late_updates) and
    /// no other proposal would Replace now: the kept late Updates that are valid at `now`.
    pub fn replaceable_late_updates(&self, now: u64) -> Vec<LeafIndex> {
        self.late_update_replaces(&[], now)
            .iter()
            .filter_map(|p| replace_body(p).map(|r| r.replaced))
            .collect()
    }

    /// The Replaces a commit of ours adds by value for the kept late Updates: those whose leaf
    /// the commit's other proposals do not touch (draft-barnes-mls-replace-00 §5) and that are
    /// valid now on their own (§4, RFC 9420 §7.3, §12.2: e.g. every member supports Replace);
    /// the others are left out rather than failing the commit.
    pub(crate) fn late_update_replaces(
        &self,
        committed: &[CommittedProposal],
        now: u64,
    ) -> Vec<Proposal> {
        let own = self.own_leaf();
        let touched: HashSet<LeafIndex> = committed.iter().filter_map(touched_leaf).collect();
        self.late_updates
            .iter()
            .filter(|l| l.leaf != own && !touched.contains(&l.leaf))
            .map(|l| replace_proposal(self.config.codepoint_profile, l.leaf, l.leaf_node.clone()))
            .filter(|proposal| {
                self.validate_proposals(
                    Committer::Member(own),
                    &[CommittedProposal {
                        sender: Sender::Member(own),
                        proposal: proposal.clone(),
                    }],
                    now,
                )
                .is_ok()
            })
            .collect()
    }

    /// Drops the late Updates whose sender's leaf changed in `next` (or left).
    pub(crate) fn prune_late_updates(&mut self, next: &RatchetTree) {
        if self.late_updates.iter().any(|l| {
            next.leaf(l.leaf)
                .is_none_or(|node| node.encryption_key != l.replaces_key)
        }) {
            self.late_updates.retain(|l| {
                next.leaf(l.leaf)
                    .is_some_and(|node| node.encryption_key == l.replaces_key)
            });
        }
    }
}

/// A Replace of `leaf` with `leaf_node`, under `profile`'s codepoint.
pub fn replace_proposal(
    profile: CodepointProfile,
    leaf: LeafIndex,
    leaf_node: LeafNode,
) -> Proposal {
    Proposal::Extension(ExtensionProposal::new(
        profile,
        ExtensionProposalBody::Replace(Replace {
            replaced: leaf,
            leaf_node: Box::new(leaf_node),
        }),
    ))
}

#[cfg(test)]
mod tests;
