//! Proposals: the cache of proposals received in an epoch (RFC 9420 §12.1), the validity of
//! each proposal (§12.1.1–§12.1.8), of a committed list (§12.2), and applying a list to the
//! tree and group context (§12.3). Commit creation and processing share these functions, so
//! each rule lives once. The AppDataUpdate and AppEphemeral proposals of
//! draft-ietf-mls-extensions-10 (§4.7, §4.8) are applied after the RFC 9420 ones, in
//! [`super::app_data`].

use std::collections::{HashMap, HashSet};

use conclave_codec::Encode;
use conclave_crypto::{CipherSuiteProvider, labels};

use super::GroupError;
use super::app_data::{self, AppDataSummary, ComponentHandler};
use super::public::PublicState;
use super::state::PskSources;
use crate::credential::IdentityProvider;
use crate::framing::VerifiedContent;
use crate::messages::{
    AuthenticatedContent, Content, Extension, ExtensionProposalBody, ExternalInit, ExternalSenders,
    GroupContext, HpkePublicKey, KeyPackage, LeafIndex, LeafNode, PreSharedKeyId, Proposal,
    ProposalRef, ProposalType, Psk, ReInit, ResumptionPskUsage, Sender, SignaturePublicKey,
    find_payload,
};
use crate::tree::RatchetTree;
use crate::validation::negotiation::{NegotiationPolicy, NegotiationRequirements};
use crate::validation::{
    GroupRequirements, LeafKeyLookup, LeafNodeContext, LeafNodeValidator, UsedLeafKeys,
    ValidationError, check_key_uniqueness, is_default_proposal, validate_external_senders,
};

/// A proposal received (or sent) in the current epoch, kept for the next commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CachedProposal {
    pub(crate) reference: ProposalRef,
    pub(crate) proposal: Proposal,
    pub(crate) sender: Sender,
}

impl CachedProposal {
    /// Caches a proposal carried by `content` under its reference.
    pub(crate) fn from_content(
        cs: &dyn CipherSuiteProvider,
        content: &AuthenticatedContent,
    ) -> Result<Self, GroupError> {
        let Content::Proposal(proposal) = &content.content.content else {
            return Err(GroupError::InvalidProposalList("not a proposal"));
        };
        Ok(Self {
            reference: proposal_ref(cs, content)?,
            proposal: proposal.clone(),
            sender: content.content.sender,
        })
    }
}

/// `ProposalRef = MakeProposalRef(AuthenticatedContent)` (RFC 9420 §5.2).
pub(crate) fn proposal_ref(
    cs: &dyn CipherSuiteProvider,
    content: &AuthenticatedContent,
) -> Result<ProposalRef, GroupError> {
    let encoded = content.to_bytes()?;
    Ok(ProposalRef(labels::make_proposal_ref(cs, &encoded)?))
}

/// Checks which proposal types each sender type may send (RFC 9420 §12.1.8: external
/// senders may send Add, Remove, PreSharedKey, ReInit and GroupContextExtensions;
/// new-member proposals are Adds; ExternalInit only travels by value in external commits).
/// draft-ietf-mls-extensions-10 §4.7, §4.8, §7.2: AppDataUpdate and AppEphemeral may be sent
/// by members and external senders ("External: Y").
pub(crate) fn check_sender_may_propose(
    sender: &Sender,
    proposal: &Proposal,
) -> Result<(), GroupError> {
    if let Some(result) = super::self_remove::check_sender(sender, proposal) {
        return result;
    }
    if let Some(result) = super::replace::check_sender(sender, proposal) {
        return result;
    }
    if let Proposal::Extension(extension) = proposal
        && !matches!(
            extension.body,
            ExtensionProposalBody::AppDataUpdate(_) | ExtensionProposalBody::AppEphemeral(_)
        )
    {
        // Decoded so that a group can name what it refuses; processing the other drafts'
        // proposals is added with their rules.
        return Err(GroupError::proposal(
            extension.proposal_type,
            "this group does not process this draft-ietf-mls-extensions proposal yet",
            "12.2",
        ));
    }
    let allowed = match (sender, proposal) {
        (_, Proposal::ExternalInit(_)) => false,
        (Sender::Member(_), _) => true,
        (Sender::External(_), Proposal::Update(_)) => false,
        (Sender::External(_), _) => true,
        (Sender::NewMemberProposal, Proposal::Add(_)) => true,
        (Sender::NewMemberProposal | Sender::NewMemberCommit, _) => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(GroupError::SenderNotAllowed {
            sender: sender.sender_type(),
            what: "this proposal type",
            section: "12.1.8",
        })
    }
}

/// A proposal received in a message (RFC 9420 §12.1): the sender may send it; it is
/// cached as is, unless it is already cached (a PublicMessage proposal can be replayed
/// verbatim: it carries no generation). Its validity against the group is checked when it is
/// committed (§12.2); a draft proposal's codepoint and component are checked now too
/// ([`app_data::check_received`]), and so are the SelfRemove rules
/// ([`super::self_remove::check_received`]). Members and non-members call it alike.
pub(crate) fn receive_proposal(
    state: &PublicState<'_>,
    verified: VerifiedContent<'_>,
) -> Result<CachedProposal, GroupError> {
    let content = verified.into_authenticated_content();
    let Content::Proposal(proposal) = &content.content.content else {
        return Err(GroupError::InvalidProposalList("not a proposal"));
    };
    check_sender_may_propose(&content.content.sender, proposal)?;
    super::policy::check_received(
        state.identity,
        &state.context.extensions,
        state.tree,
        content.content.sender,
        proposal,
    )?;
    if let Proposal::Extension(extension) = proposal
        && !super::self_remove::is_self_remove(proposal)
    {
        app_data::check_codepoint(state.policy.negotiation.profile, extension)?;
        app_data::check_received(state, content.content.sender, extension)?;
    }
    let cached = CachedProposal::from_content(state.cs, &content)?;
    super::self_remove::check_received(state, content.wire_format, &cached)?;
    if state
        .proposals
        .iter()
        .any(|p| p.reference == cached.reference)
    {
        return Err(GroupError::DuplicateProposal);
    }
    Ok(cached)
}

/// Who commits: a member at a leaf, or a new member through an external commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Committer {
    /// A member (regular commit).
    Member(LeafIndex),
    /// A joiner (external commit, RFC 9420 §12.4.3.2).
    External,
}

/// A proposal in a commit, with its sender.
#[derive(Debug, Clone)]
pub(crate) struct CommittedProposal {
    pub(crate) sender: Sender,
    pub(crate) proposal: Proposal,
}

/// The result of applying a proposal list (RFC 9420 §12.3).
#[derive(Debug, Clone)]
pub(crate) struct AppliedProposals {
    /// The new tree (before any UpdatePath).
    pub(crate) tree: RatchetTree,
    /// The new group context extensions.
    pub(crate) extensions: Vec<Extension>,
    /// Leaves added, with their KeyPackages, in proposal order.
    pub(crate) added: Vec<(LeafIndex, KeyPackage)>,
    /// Leaves removed by Remove proposals, with their former leaf nodes.
    pub(crate) removed: Vec<(LeafIndex, LeafNode)>,
    /// Leaves removed by SelfRemove proposals (draft-ietf-mls-extensions-10 §6.3), with
    /// their former leaf nodes.
    pub(crate) self_removed: Vec<(LeafIndex, LeafNode)>,
    /// Leaves updated by Update proposals, then those replaced by Replace proposals
    /// (draft-barnes-mls-replace-00 §4: applied like an Update of that leaf).
    pub(crate) updated: Vec<LeafIndex>,
    /// PSKs, in proposal order.
    pub(crate) psks: Vec<PreSharedKeyId>,
    /// The ExternalInit of an external commit.
    pub(crate) external_init: Option<ExternalInit>,
    /// A ReInit to carry out after the commit.
    pub(crate) reinit: Option<ReInit>,
    /// Whether the commit must carry an UpdatePath (RFC 9420 §12.4).
    pub(crate) path_required: bool,
    /// What the AppDataUpdate and AppEphemeral proposals did (draft-ietf-mls-extensions-10
    /// §4.7, §4.8).
    pub(crate) app_data: AppDataSummary,
}

impl AppliedProposals {
    /// The leaves the commit removes: by SelfRemove (draft-ietf-mls-extensions-10 §6.3),
    /// then by Remove.
    pub(crate) fn removed_leaves(&self) -> impl Iterator<Item = LeafIndex> + '_ {
        self.self_removed
            .iter()
            .chain(&self.removed)
            .map(|(leaf, _)| *leaf)
    }
}

/// What the proposal rules need to know about the group.
pub(crate) struct ProposalContext<'a> {
    pub(crate) cs: &'a dyn CipherSuiteProvider,
    pub(crate) identity: &'a dyn IdentityProvider,
    pub(crate) context: &'a GroupContext,
    pub(crate) tree: &'a RatchetTree,
    pub(crate) lifetime_policy: crate::validation::LifetimePolicy,
    pub(crate) now: u64,
    /// Where PSKs come from: a PreSharedKey proposal is valid only if its PSK is available
    /// (RFC 9420 §12.4.2). `None` for a non-member ([`crate::public_group`]), which cannot
    /// know which PSKs the members hold: that one check is skipped.
    pub(crate) psks: Option<&'a PskSources<'a>>,
    /// The group's codepoints and media-type policy (draft-ietf-mls-extensions-10 §5,
    /// §6.3, §9).
    pub(crate) policy: NegotiationPolicy,
    /// The application's components (draft-ietf-mls-extensions-10 §4.7, §4.8).
    pub(crate) components: &'a dyn ComponentHandler,
}

/// Key uniqueness against the leaves of a tree, optionally ignoring one leaf (the leaf
/// being replaced by an Update or a commit).
pub(crate) struct TreeKeys<'a> {
    pub(crate) tree: &'a RatchetTree,
    pub(crate) except: Option<LeafIndex>,
}

impl LeafKeyLookup for TreeKeys<'_> {
    fn encryption_key_in_use(&self, key: &HpkePublicKey) -> bool {
        self.tree
            .find_node_by_encryption_key(key)
            .is_some_and(|node| node.leaf().is_none() || node.leaf() != self.except)
    }

    fn signature_key_in_use(&self, key: &SignaturePublicKey) -> bool {
        self.tree
            .find_leaf_by_signature_key(key)
            .is_some_and(|leaf| Some(leaf) != self.except)
    }
}

/// Key uniqueness for KeyPackages added in one commit: against every key in the tree and
/// each other, with sets built once per commit (no per-Add scan of the tree).
struct AddedKeys {
    encryption: HashSet<HpkePublicKey>,
    signature: HashSet<SignaturePublicKey>,
}

impl AddedKeys {
    fn of_tree(tree: &RatchetTree) -> Self {
        let mut keys = Self {
            encryption: HashSet::new(),
            signature: HashSet::new(),
        };
        for (_, leaf) in tree.members() {
            keys.encryption.insert(leaf.encryption_key.clone());
            keys.signature.insert(leaf.signature_key.clone());
        }
        for (_, parent) in tree.parent_nodes() {
            keys.encryption.insert(parent.encryption_key.clone());
        }
        keys
    }
}

impl LeafKeyLookup for AddedKeys {
    fn encryption_key_in_use(&self, key: &HpkePublicKey) -> bool {
        self.encryption.contains(key)
    }

    fn signature_key_in_use(&self, key: &SignaturePublicKey) -> bool {
        self.signature.contains(key)
    }
}

impl ProposalContext<'_> {
    fn requirements(&self, extensions: &[Extension]) -> Result<GroupRequirements, GroupError> {
        let mut context = self.context.clone();
        context.extensions = extensions.to_vec();
        Ok(GroupRequirements::from_group_context_in(
            &context,
            &self.policy,
        )?)
    }
}

/// Validates a proposal list (RFC 9420 §12.2) and applies it (§12.3), returning the new tree
/// and everything the commit needs. Nothing of the group is modified.
pub(crate) fn validate_and_apply(
    ctx: &ProposalContext<'_>,
    committer: Committer,
    proposals: &[CommittedProposal],
) -> Result<AppliedProposals, GroupError> {
    check_list_rules(ctx, committer, proposals)?;

    let mut applied = AppliedProposals {
        tree: ctx.tree.clone(),
        extensions: ctx.context.extensions.clone(),
        added: Vec::new(),
        removed: Vec::new(),
        self_removed: Vec::new(),
        updated: Vec::new(),
        psks: Vec::new(),
        external_init: None,
        reinit: None,
        path_required: proposals.is_empty(),
        app_data: AppDataSummary::default(),
    };

    // 1. GroupContextExtensions: replace the extensions; they apply to the rest of the list.
    for proposal in proposals {
        if let Proposal::GroupContextExtensions(gce) = &proposal.proposal {
            app_data::check_gce_keeps_dictionary(ctx, gce)?;
            applied.extensions = gce.extensions.clone();
            applied.path_required = true;
        }
    }
    let requirements = ctx.requirements(&applied.extensions)?;
    let members = ctx.tree.member_credential_types(None);

    // 2. Updates (RFC 9420 §12.1.2).
    for proposal in proposals {
        if let Proposal::Update(update) = &proposal.proposal {
            let Sender::Member(sender) = proposal.sender else {
                return Err(GroupError::proposal(
                    ProposalType::UPDATE,
                    "sender is not a member",
                    "12.1.2",
                ));
            };
            let replaced = ctx
                .tree
                .leaf(sender)
                .ok_or(GroupError::UnknownSender(sender))?;
            let keys = TreeKeys {
                tree: ctx.tree,
                except: Some(sender),
            };
            let validator = LeafNodeValidator {
                cs: ctx.cs,
                identity: ctx.identity,
                group: &requirements,
                members: &members,
                keys: &keys,
                lifetime_policy: ctx.lifetime_policy,
                now: ctx.now,
            };
            validator.validate_leaf_node(
                &update.leaf_node,
                &LeafNodeContext::Update {
                    group_id: &ctx.context.group_id,
                    leaf_index: sender,
                    replaced,
                },
            )?;
            applied
                .tree
                .update_leaf(sender, LeafNode::clone(&update.leaf_node))?;
            applied.updated.push(sender);
            applied.path_required = true;
        }
    }

    // 2a. Replaces: like Updates of the indicated leaves (draft-barnes-mls-replace-00 §4).
    super::replace::apply(ctx, &requirements, &members, proposals, &mut applied)?;

    // 2b. SelfRemoves: after the Updates, before the Removes (draft-ietf-mls-extensions-10
    // §6.5).
    super::self_remove::apply(ctx.tree, proposals, &mut applied)?;

    // 3. Removes (RFC 9420 §12.1.3).
    for proposal in proposals {
        if let Proposal::Remove(remove) = &proposal.proposal {
            if ctx.tree.leaf(remove.removed).is_none() {
                return Err(GroupError::proposal(
                    ProposalType::REMOVE,
                    "the removed leaf is blank or outside the tree",
                    "12.1.3",
                ));
            }
            let old = applied.tree.remove_leaf(remove.removed)?;
            applied.removed.push((remove.removed, old));
            applied.path_required = true;
        }
    }

    // 4. Adds, in order (RFC 9420 §12.1.1).
    let has_adds = proposals
        .iter()
        .any(|p| matches!(p.proposal, Proposal::Add(_)));
    if has_adds {
        let mut keys = AddedKeys::of_tree(&applied.tree);
        let mut identities: HashMap<Vec<u8>, LeafIndex> = HashMap::new();
        for (leaf, node) in applied.tree.members() {
            identities.insert(ctx.identity.identity(&node.credential)?, leaf);
        }
        let key_packages: Vec<&KeyPackage> = proposals
            .iter()
            .filter_map(|p| match &p.proposal {
                Proposal::Add(add) => Some(&add.key_package),
                _ => None,
            })
            .collect();
        // Every check but key uniqueness is independent of the other Adds: run them (the
        // signatures above all) in parallel where enabled, then uniqueness in order.
        let no_keys = UsedLeafKeys::default();
        let validator = LeafNodeValidator {
            cs: ctx.cs,
            identity: ctx.identity,
            group: &requirements,
            members: &members,
            keys: &no_keys,
            lifetime_policy: ctx.lifetime_policy,
            now: ctx.now,
        };
        let signatures = crate::parallel::try_map(&key_packages, |kp| {
            validator.validate_key_package_deferring_signatures(kp)
        })?;
        let signatures: Vec<_> = signatures.into_iter().flatten().collect();
        if !crate::validation::verify_deferred(ctx.cs, &signatures) {
            // Name the first bad KeyPackage, as checking one by one would.
            crate::parallel::try_map(&key_packages, |kp| validator.validate_key_package(kp))?;
            return Err(crate::validation::ValidationError::KeyPackageSignature.into());
        }
        for key_package in key_packages {
            check_key_uniqueness(&key_package.leaf_node, &keys)?;
            // RFC 9420 §12.2: no two Adds for one client, none for a client already in the
            // group (unless removed by this commit, which the removals above reflect).
            let identity = ctx.identity.identity(&key_package.leaf_node.credential)?;
            if identities.contains_key(&identity) {
                return Err(GroupError::InvalidProposalList(
                    "an Add is for a client that is already a member or added twice",
                ));
            }
            keys.encryption
                .insert(key_package.leaf_node.encryption_key.clone());
            keys.signature
                .insert(key_package.leaf_node.signature_key.clone());
            let leaf = applied
                .tree
                .add_leaf(LeafNode::clone(&key_package.leaf_node))?;
            identities.insert(identity, leaf);
            applied.added.push((leaf, key_package.clone()));
        }
    }

    // 5. PSKs, in order (RFC 9420 §12.1.4).
    for proposal in proposals {
        if let Proposal::PreSharedKey(psk) = &proposal.proposal {
            check_psk_proposal(ctx, &psk.psk)?;
            applied.psks.push(psk.psk.clone());
        }
    }

    // 6. ExternalInit (RFC 9420 §12.1.5), 7. ReInit (§12.1.6).
    for proposal in proposals {
        match &proposal.proposal {
            Proposal::ExternalInit(init) => {
                applied.external_init = Some(init.clone());
                applied.path_required = true;
            }
            Proposal::ReInit(reinit) => {
                if reinit.version < ctx.context.version {
                    return Err(GroupError::proposal(
                        ProposalType::REINIT,
                        "version older than the group's",
                        "12.1.6",
                    ));
                }
                applied.reinit = Some(reinit.clone());
            }
            _ => {}
        }
    }

    // 8. AppEphemeral, then AppDataUpdate (draft-ietf-mls-extensions-10 §4.7, §4.8; the
    // order is documented at `app_data::apply_app_proposals`).
    let dictionary_changed =
        app_data::apply_app_proposals(ctx, committer, proposals, &mut applied)?;

    // GroupContextExtensions must be supported by every member of the new tree (§12.1.7),
    // and so must a dictionary an AppDataUpdate changed (draft-ietf-mls-extensions-10 §5).
    if proposals
        .iter()
        .any(|p| matches!(p.proposal, Proposal::GroupContextExtensions(_)))
    {
        check_group_context_extensions(
            ctx.cs,
            ctx.identity,
            &applied.tree,
            &applied.extensions,
            &ctx.policy,
            ctx.now,
        )?;
    } else if dictionary_changed {
        app_data::check_new_context(ctx, &applied)?;
    }
    Ok(applied)
}

/// The rules of RFC 9420 §12.2 on the list as a whole.
fn check_list_rules(
    ctx: &ProposalContext<'_>,
    committer: Committer,
    proposals: &[CommittedProposal],
) -> Result<(), GroupError> {
    for proposal in proposals {
        check_sender_may_propose_in_commit(committer, proposal)?;
        if let Proposal::Extension(extension) = &proposal.proposal {
            app_data::check_codepoint(ctx.policy.profile, extension)?;
        }
    }
    check_proposal_types_supported(ctx, proposals)?;
    super::self_remove::check_list(committer, proposals)?;
    super::replace::check_list(committer, proposals)?;
    let count = |t: ProposalType| {
        proposals
            .iter()
            .filter(|p| p.proposal.proposal_type() == t)
            .count()
    };
    match committer {
        Committer::Member(own) => {
            let mut touched = HashSet::new();
            for proposal in proposals {
                match (&proposal.proposal, proposal.sender) {
                    (Proposal::Update(_), Sender::Member(sender)) => {
                        if sender == own {
                            return Err(GroupError::InvalidProposalList(
                                "it contains an Update proposal generated by the committer",
                            ));
                        }
                        if !touched.insert(sender) {
                            return Err(GroupError::InvalidProposalList(
                                "several Update and/or Remove proposals apply to the same leaf",
                            ));
                        }
                    }
                    (Proposal::Remove(remove), _) => {
                        if remove.removed == own {
                            return Err(GroupError::InvalidProposalList(
                                "it contains a Remove proposal that removes the committer",
                            ));
                        }
                        if !touched.insert(remove.removed) {
                            return Err(GroupError::InvalidProposalList(
                                "several Update and/or Remove proposals apply to the same leaf",
                            ));
                        }
                    }
                    _ => {}
                }
            }
            if count(ProposalType::EXTERNAL_INIT) > 0 {
                return Err(GroupError::InvalidProposalList(
                    "a regular commit contains an ExternalInit proposal",
                ));
            }
            if count(ProposalType::REINIT) > 0 && proposals.len() > 1 {
                return Err(GroupError::InvalidProposalList(
                    "it contains a ReInit proposal together with other proposals",
                ));
            }
        }
        Committer::External => {
            if count(ProposalType::EXTERNAL_INIT) != 1 {
                return Err(GroupError::InvalidProposalList(
                    "an external commit must contain exactly one ExternalInit",
                ));
            }
            if count(ProposalType::REMOVE) > 1 {
                return Err(GroupError::InvalidProposalList(
                    "an external commit may contain at most one Remove",
                ));
            }
            // draft-ietf-mls-extensions-10 §4.7, §4.8: AppDataUpdate and AppEphemeral "can
            // be included in an external Commit"; §6.5 adds SelfRemove (by reference).
            let others = proposals.iter().any(|p| {
                !matches!(
                    p.proposal,
                    Proposal::ExternalInit(_) | Proposal::Remove(_) | Proposal::PreSharedKey(_)
                ) && !matches!(
                    p.proposal.extension_body(),
                    Some(
                        ExtensionProposalBody::AppDataUpdate(_)
                            | ExtensionProposalBody::AppEphemeral(_)
                    )
                ) && !super::self_remove::is_self_remove(&p.proposal)
            });
            if others {
                return Err(GroupError::InvalidProposalList(
                    "an external commit may contain only ExternalInit, Remove, PreSharedKey, \
                     AppDataUpdate, AppEphemeral and SelfRemove",
                ));
            }
        }
    }
    if count(ProposalType::GROUP_CONTEXT_EXTENSIONS) > 1 {
        return Err(GroupError::InvalidProposalList(
            "it contains multiple GroupContextExtensions proposals",
        ));
    }
    let mut psk_ids = HashSet::new();
    for proposal in proposals {
        if let Proposal::PreSharedKey(psk) = &proposal.proposal
            && !psk_ids.insert(&psk.psk)
        {
            return Err(GroupError::InvalidProposalList(
                "several PreSharedKey proposals reference the same PreSharedKeyID",
            ));
        }
    }
    Ok(())
}

/// RFC 9420 §12.2: a list is invalid if "it contains a Proposal with a non-default proposal
/// type that is not supported by some members of the group that will process the Commit
/// (i.e., members being added or removed by the Commit do not need to support the proposal
/// type)". Support is `capabilities.proposals` (§7.2).
fn check_proposal_types_supported(
    ctx: &ProposalContext<'_>,
    proposals: &[CommittedProposal],
) -> Result<(), GroupError> {
    let mut types: Vec<ProposalType> = proposals
        .iter()
        .map(|p| p.proposal.proposal_type())
        .filter(|t| !is_default_proposal(*t))
        .collect();
    if types.is_empty() {
        return Ok(());
    }
    types.sort_unstable();
    types.dedup();
    let removed: HashSet<LeafIndex> = proposals
        .iter()
        .filter_map(|p| match &p.proposal {
            Proposal::Remove(remove) => Some(remove.removed),
            _ => None,
        })
        .collect();
    for (member, leaf) in ctx.tree.members() {
        if removed.contains(&member) {
            continue;
        }
        if let Some(proposal) = types
            .iter()
            .find(|t| !leaf.capabilities.proposals.contains(t))
        {
            return Err(GroupError::ProposalTypeUnsupported {
                proposal: *proposal,
                member,
            });
        }
    }
    Ok(())
}

/// In a commit, by-value proposals are the committer's; by reference they keep their sender.
fn check_sender_may_propose_in_commit(
    committer: Committer,
    proposal: &CommittedProposal,
) -> Result<(), GroupError> {
    match (committer, &proposal.proposal) {
        // ExternalInit is sent by value by the joiner in its external commit.
        (Committer::External, Proposal::ExternalInit(_)) => Ok(()),
        (Committer::External, _) if proposal.sender == Sender::NewMemberCommit => Ok(()),
        _ => check_sender_may_propose(&proposal.sender, &proposal.proposal),
    }
}

/// A PreSharedKey proposal (RFC 9420 §12.1.4, §8.4): an external PSK or a resumption PSK
/// with usage `application`, a nonce of `KDF.Nh` bytes, and the PSK available (checked only
/// where PSKs are known: not by a non-member).
fn check_psk_proposal(ctx: &ProposalContext<'_>, psk: &PreSharedKeyId) -> Result<(), GroupError> {
    // Resumption PSKs with usage reinit or branch only link a new group to its predecessor:
    // they are valid only in the commit that starts the new group (epoch 0, RFC 9420 §11.2,
    // §11.3, §12.1.4).
    if let Psk::Resumption { usage, .. } = &psk.psk
        && *usage != ResumptionPskUsage::Application
        && ctx.context.epoch != 0
    {
        return Err(GroupError::proposal(
            ProposalType::PSK,
            "a resumption PSK with usage reinit or branch outside a reinitialisation or branch",
            "12.1.4",
        ));
    }
    if psk.psk_nonce.len() != ctx.cs.hash_len() {
        return Err(GroupError::PskNonceLength);
    }
    if let Some(psks) = ctx.psks
        && psks.find(psk).is_none()
    {
        return Err(GroupError::PskNotFound);
    }
    Ok(())
}

/// New group context extensions (RFC 9420 §12.1.7, §13.4, §11.1): the rules on the list
/// and on the members ([`check_context_support`]), and a valid `external_senders` extension
/// (§12.1.8.1, §5.3.1).
pub(crate) fn check_group_context_extensions(
    cs: &dyn CipherSuiteProvider,
    identity: &dyn IdentityProvider,
    tree: &RatchetTree,
    extensions: &[Extension],
    policy: &NegotiationPolicy,
    now: u64,
) -> Result<(), GroupError> {
    check_context_support(tree, extensions, policy)?;
    if let Some(senders) = find_payload::<ExternalSenders>(extensions)? {
        validate_external_senders(identity, &senders, cs, now).map_err(|(_, e)| e)?;
    }
    Ok(())
}

/// Whether every member of `tree` supports group context `extensions`: the RFC 9420 rules
/// ([`crate::validation::check_group_context_extensions`], §12.1.7, §13.4, §11.1) and the
/// components, wire formats and media types they require (draft-ietf-mls-extensions-10
/// §5.1, §6.3), read as `policy` says.
pub(crate) fn check_context_support(
    tree: &RatchetTree,
    extensions: &[Extension],
    policy: &NegotiationPolicy,
) -> Result<(), GroupError> {
    crate::validation::check_group_context_extensions(extensions, tree.members())?;
    let requirements = NegotiationRequirements::from_extensions(extensions, policy)
        .map_err(ValidationError::from)?;
    crate::validation::negotiation::check_members_meet(&requirements, tree.members())
        .map_err(ValidationError::from)?;
    Ok(())
}
