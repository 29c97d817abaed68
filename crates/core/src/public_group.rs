//! A group's public state followed from outside: the "assisted" Delivery Service of
//! RFC 9750 §5, or any client that holds no secret of the group.
//!
//! A [`PublicGroup`] starts from a GroupInfo ([`PublicGroup::from_group_info`]), verified as a
//! joiner verifies it (RFC 9420 §12.4.3.1, every check that needs no secret), and follows the
//! group through its handshakes: each proposal or commit is checked and applied exactly as a
//! member checks and applies it (RFC 9420 §12.4.2 minus the secrets), by the same code
//! ([`crate::group`]'s public half): the sender's signature (§6.1), the proposal rules (§12.1,
//! §12.2, draft-ietf-mls-extensions-10 §4.7, §4.8, §6.3), external commits (§12.4.3.2) with
//! the group's external-commit policy, the UpdatePath's leaf, keys and parent hash (§7.6,
//! §7.9.2, §12.4.2), the new tree hash, GroupContext and transcript hashes (§8.2). Its
//! membership ([`PublicGroup::members`]) is therefore what the members see, never what a
//! committer claims.
//!
//! Processing is staged (`docs/style.md` §3): [`PublicGroup::process_message`] returns a
//! [`PublicHandshake`] and changes nothing; [`PublicGroup::apply`] adopts it. A refused
//! handshake leaves the view exactly as it was. After a commit with a ReInit the group has
//! ended (§11.2) and every further handshake is refused, as members refuse it.
//!
//! # What a non-member cannot verify
//!
//! Everything below needs a secret of the epoch; the members check it, and a handshake the
//! view accepts can still be refused by them for one of these reasons:
//!
//! - the **membership tag** of a member's PublicMessage (RFC 9420 §6.2, membership key): its
//!   presence is checked, not its value. A member's handshake is still authenticated by its
//!   signature, which the view verifies against the sender's leaf;
//! - the **confirmation tag** of a commit (§6.1, confirmation key): taken as sent, and used
//!   for the next interim transcript hash (§8.2). A commit whose tag is wrong moves the view
//!   to an epoch the members refuse; the members report such a commit (RFC 9750 "Invalid
//!   Commits");
//! - the **encrypted path secrets** of an UpdatePath (§12.4.2): their count is checked when
//!   the tree is updated, not their content;
//! - the **availability of a PSK** a PreSharedKey proposal names (§12.4.2): the only check of
//!   the proposal list that is skipped;
//! - the `external_pub` of a GroupInfo (§12.4.3.2: derived from the external secret), and the
//!   `kem_output` of an ExternalInit;
//! - anything inside a PrivateMessage: only PublicMessage handshakes, and content a caller
//!   opened from another wire format ([`PublicGroup::process_content`]), are processed.
//!
//! Application components (draft-ietf-mls-extensions-10 §4.7) compute the new data of an
//! AppDataUpdate: give the view the components the group uses
//! ([`PublicGroupConfig::components`]), or commits updating an unknown component are refused,
//! as a member without the component refuses them.
//!
//! # Persistence
//!
//! [`PublicGroup::to_bytes`] writes the state (policy, GroupContext, tree with its cached
//! hashes, transcript hash, confirmation tag, pending proposals) with the MLS codec behind a
//! format version; [`PublicGroup::from_bytes`] reads it back without re-validating (stored
//! state is trusted, RFC 9420 §16.8). The state holds no secret.

use std::sync::Arc;

use conclave_codec::{CodecError, Decode, Encode};
use conclave_crypto::{CipherSuiteProvider, CryptoProvider};

use crate::codepoints::CodepointProfile;
use crate::credential::IdentityProvider;
use crate::framing::{FramingError, UnverifiedContent, VerifiedContent};
use crate::group::app_data::{AppDataSummary, Components};
use crate::group::commit::{PublicCommit, stage_public_commit};
use crate::group::proposals::{CachedProposal, Committer, receive_proposal};
use crate::group::public::{PublicPolicy, PublicState};
use crate::group::storage::{
    StoredHashes, StoredProposal, lifetime_policy_code, lifetime_policy_of_code,
    media_type_policy_code, media_type_policy_of_code,
};
use crate::group::{GroupConfig, GroupError};
use crate::messages::{
    Content, FramedContent, FramedContentAuthData, GroupContext, GroupInfo, KeyPackageRef,
    LeafIndex, LeafNode, MlsMessage, MlsMessageBody, PreSharedKeyId, Proposal, ProposalRef,
    ProtocolVersion, RatchetTreeNodes, ReInit, Sender, WireFormat, find_payload,
};
use crate::safe::SafeError;
use crate::transcript;
use crate::tree::RatchetTree;
use crate::validation::LifetimePolicy;
use crate::validation::negotiation::{MediaTypePolicy, NegotiationPolicy};

/// Version of the [`PublicGroup::to_bytes`] format.
const FORMAT_VERSION: u16 = 1;

/// Why the public view refused a GroupInfo or a handshake, or could not load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PublicGroupError {
    /// A rule members enforce too (RFC 9420, draft-ietf-mls-extensions-10): the same error a
    /// member would report.
    #[error(transparent)]
    Group(#[from] GroupError),
    /// A GroupInfo offered for the current epoch does not describe it (RFC 9420 §12.4.3).
    #[error("the GroupInfo does not describe the group's current epoch: {0} (RFC 9420 §12.4.3)")]
    GroupInfoMismatch(&'static str),
    /// A handshake processed against another state than the current one is applied: process
    /// it again.
    #[error(
        "the handshake was processed in epoch {processed}, the group is at epoch {current} \
         (or has changed since): process it again"
    )]
    StaleHandshake {
        /// The epoch it was processed in.
        processed: u64,
        /// The group's current epoch.
        current: u64,
    },
    /// [`PublicGroup::process_content`] takes content opened from another wire format, sent
    /// by a member; a PublicMessage goes to [`PublicGroup::process_message`].
    #[error(
        "content opened from wire format {wire_format:?} must be a member's handshake \
         (RFC 9420 §6.3: only members send protected content); {reason}"
    )]
    OpenedContent {
        /// The wire format.
        wire_format: WireFormat,
        /// What was wrong.
        reason: &'static str,
    },
    /// A stored state that this build cannot read.
    #[error("stored public group state unreadable: {0}")]
    Storage(&'static str),
}

impl From<FramingError> for PublicGroupError {
    fn from(error: FramingError) -> Self {
        Self::Group(error.into())
    }
}

impl From<CodecError> for PublicGroupError {
    fn from(error: CodecError) -> Self {
        Self::Group(error.into())
    }
}

impl From<SafeError> for PublicGroupError {
    fn from(error: SafeError) -> Self {
        Self::Group(error.into())
    }
}

/// The policy of a public view: the parts of [`GroupConfig`] that judge handshakes. Use the
/// group's own settings, or the view refuses what members accept (or accepts what they
/// refuse).
#[derive(Debug, Clone)]
pub struct PublicGroupConfig {
    /// Whether external commits by newcomers are accepted (RFC 9420 §12.4.3.2).
    pub allow_external_commits: bool,
    /// Whether resync external commits (removing the joiner's prior appearance) are accepted
    /// (RFC 9420 §12.4.3.2).
    pub allow_external_resync: bool,
    /// The codepoints of the drafts' structures ([`crate::codepoints`]).
    pub codepoint_profile: CodepointProfile,
    /// When KeyPackage lifetimes are enforced (RFC 9420 §7.3).
    pub lifetime_policy: LifetimePolicy,
    /// Whether required content media types are enforced (draft-ietf-mls-extensions-10 §6.2).
    pub content_media_types: MediaTypePolicy,
    /// The application components whose AppDataUpdates the view computes
    /// (draft-ietf-mls-extensions-10 §4.7). Code, not state: not stored by
    /// [`PublicGroup::to_bytes`]; set again with [`PublicGroup::set_components`] after
    /// [`PublicGroup::from_bytes`].
    pub components: Components,
}

impl Default for PublicGroupConfig {
    /// The defaults of [`GroupConfig`], without application components.
    fn default() -> Self {
        Self::from(&GroupConfig::default())
    }
}

impl From<&GroupConfig> for PublicGroupConfig {
    /// The handshake policy of a member's configuration, without application components.
    fn from(config: &GroupConfig) -> Self {
        Self {
            allow_external_commits: config.allow_external_commits,
            allow_external_resync: config.allow_external_resync,
            codepoint_profile: config.codepoint_profile,
            lifetime_policy: config.lifetime_policy,
            content_media_types: config.content_media_types,
            components: Components::default(),
        }
    }
}

impl PublicGroupConfig {
    fn policy(&self) -> PublicPolicy {
        PublicPolicy {
            lifetime_policy: self.lifetime_policy,
            negotiation: NegotiationPolicy {
                profile: self.codepoint_profile,
                media_types: self.content_media_types,
            },
            allow_external_commits: self.allow_external_commits,
            allow_external_resync: self.allow_external_resync,
        }
    }
}

/// A group's public state, followed from outside the group (RFC 9750 §5; module docs).
#[derive(Clone)]
pub struct PublicGroup {
    cs: Arc<dyn CipherSuiteProvider>,
    identity: Arc<dyn IdentityProvider>,
    config: PublicGroupConfig,
    /// The GroupContext of the current epoch (RFC 9420 §8.1).
    context: GroupContext,
    tree: RatchetTree,
    /// The interim transcript hash of the current epoch (RFC 9420 §8.2).
    interim_transcript_hash: Vec<u8>,
    /// The confirmation tag of the commit that started the epoch (RFC 9420 §6.1), as sent.
    confirmation_tag: Vec<u8>,
    /// Proposals received in the current epoch (RFC 9420 §12.1).
    proposals: Vec<CachedProposal>,
    /// The ReInit the last commit carried: the group has ended (RFC 9420 §11.2).
    reinit: Option<ReInit>,
}

impl core::fmt::Debug for PublicGroup {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PublicGroup")
            .field("epoch", &self.context.epoch)
            .field("members", &self.tree.member_count())
            .field("pending_proposals", &self.proposals.len())
            .finish_non_exhaustive()
    }
}

/// A verified handshake of the current epoch, not yet applied ([`PublicGroup::apply`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum PublicHandshake {
    /// A proposal (RFC 9420 §12.1), to be cached for the commits that name it.
    Proposal {
        /// Its reference (RFC 9420 §5.2), as commits name it.
        reference: ProposalRef,
        /// Who sent it.
        sender: Sender,
        /// The proposal.
        proposal: Box<Proposal>,
        /// The epoch it belongs to.
        epoch: u64,
    },
    /// A commit: the next epoch's public state.
    Commit(Box<StagedPublicCommit>),
}

/// A commit processed into the next epoch's public state, not yet applied.
#[derive(Debug, Clone)]
pub struct StagedPublicCommit {
    next: PublicGroup,
    summary: PublicCommitSummary,
    /// The epoch and confirmed transcript hash it was processed against.
    base_epoch: u64,
    base_transcript_hash: Vec<u8>,
}

impl StagedPublicCommit {
    /// What the commit changed.
    pub fn summary(&self) -> &PublicCommitSummary {
        &self.summary
    }

    /// The public state of the epoch the commit creates: e.g. to check the GroupInfo the
    /// committer supplied ([`PublicGroup::check_group_info`]) before applying.
    pub fn group(&self) -> &PublicGroup {
        &self.next
    }
}

/// What a commit changed, as a non-member sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PublicCommitSummary {
    /// The new epoch.
    pub epoch: u64,
    /// Who committed: a member, or a joiner (`NewMemberCommit`).
    pub committer: Sender,
    /// The committer's leaf in the new epoch (for an external commit, the joiner's new
    /// leaf).
    pub committer_leaf: LeafIndex,
    /// Leaves added by Add proposals, with the reference of the KeyPackage each came from
    /// (RFC 9420 §5.2): the Welcome of the commit is for exactly these.
    pub added: Vec<(LeafIndex, KeyPackageRef)>,
    /// Leaves removed, by Remove and SelfRemove proposals.
    pub removed: Vec<LeafIndex>,
    /// The leaves of `removed` that left by SelfRemove (draft-ietf-mls-extensions-10 §6.3).
    pub self_removed: Vec<LeafIndex>,
    /// Leaves an Update proposal replaced (RFC 9420 §12.1.2).
    pub updated: Vec<LeafIndex>,
    /// Whether the commit carried an UpdatePath.
    pub path: bool,
    /// Whether it is an external commit (RFC 9420 §12.4.3.2); it then carried exactly one
    /// ExternalInit.
    pub external: bool,
    /// Whether it is an external commit that removed the joiner's prior appearance (resync).
    pub resync: bool,
    /// The PSKs it injected (RFC 9420 §8.4), whose availability was not checked.
    pub psks: Vec<PreSharedKeyId>,
    /// A ReInit it carried (RFC 9420 §11.2): the group ends with this epoch.
    pub reinit: Option<ReInit>,
    /// What its AppDataUpdate and AppEphemeral proposals did (draft-ietf-mls-extensions-10
    /// §4.7, §4.8).
    pub app_data: AppDataSummary,
}

impl PublicGroup {
    /// The public view of the epoch `group_info` describes (RFC 9420 §12.4.3.1, every check a
    /// joiner makes that needs no secret): the GroupInfo's signature by its signer leaf and
    /// its extension lists; the tree (from its `ratchet_tree` extension, else `ratchet_tree`,
    /// §12.4.3.3): tree hash equal to the GroupContext's, parent hashes, every leaf valid,
    /// unmerged leaves, unique keys; the GroupContext's extensions supported by every member.
    /// The interim transcript hash is derived from the confirmed transcript hash and the
    /// GroupInfo's confirmation tag (§8.2), which cannot be verified (module docs).
    pub fn from_group_info(
        crypto: &dyn CryptoProvider,
        identity: Arc<dyn IdentityProvider>,
        group_info: &GroupInfo,
        ratchet_tree: Option<&RatchetTreeNodes>,
        config: PublicGroupConfig,
        now: u64,
    ) -> Result<Self, PublicGroupError> {
        let context = &group_info.group_context;
        if context.version != ProtocolVersion::MLS10 {
            return Err(GroupError::UnsupportedVersion(context.version.0).into());
        }
        let cs: Arc<dyn CipherSuiteProvider> = crypto
            .cipher_suite_provider(context.cipher_suite)
            .ok_or(GroupError::UnsupportedCipherSuite(context.cipher_suite))?
            .into();
        let mut tree = crate::group::join::group_info_tree(group_info, ratchet_tree)?;
        crate::group::join::verify_group_info_and_tree(
            cs.as_ref(),
            identity.as_ref(),
            &config.policy(),
            group_info,
            &mut tree,
            now,
        )?;
        let interim_transcript_hash = transcript::interim_transcript_hash(
            cs.as_ref(),
            &context.confirmed_transcript_hash,
            &group_info.confirmation_tag,
        )
        .map_err(GroupError::from)?;
        Ok(Self {
            cs,
            identity,
            config,
            context: context.clone(),
            tree,
            interim_transcript_hash,
            confirmation_tag: group_info.confirmation_tag.clone(),
            proposals: Vec::new(),
            reinit: None,
        })
    }

    // ---- accessors ---------------------------------------------------------------------

    /// The GroupContext of the current epoch (RFC 9420 §8.1).
    pub fn context(&self) -> &GroupContext {
        &self.context
    }

    /// The group id.
    pub fn group_id(&self) -> &[u8] {
        &self.context.group_id
    }

    /// The current epoch.
    pub fn epoch(&self) -> u64 {
        self.context.epoch
    }

    /// The ratchet tree of the current epoch.
    pub fn tree(&self) -> &RatchetTree {
        &self.tree
    }

    /// The members, by leaf index.
    pub fn members(&self) -> impl Iterator<Item = (LeafIndex, &LeafNode)> {
        self.tree.members()
    }

    /// The interim transcript hash of the current epoch (RFC 9420 §8.2).
    pub fn interim_transcript_hash(&self) -> &[u8] {
        &self.interim_transcript_hash
    }

    /// The confirmation tag of the commit (or GroupInfo) that started the current epoch, as
    /// sent (RFC 9420 §6.1: not verifiable here).
    pub fn confirmation_tag(&self) -> &[u8] {
        &self.confirmation_tag
    }

    /// The proposals received in this epoch and not yet committed (RFC 9420 §12.1): e.g. the
    /// pending SelfRemoves an external joiner must include (draft-ietf-mls-extensions-10
    /// §6.3).
    pub fn pending_proposals(&self) -> impl Iterator<Item = (&ProposalRef, &Sender, &Proposal)> {
        self.proposals
            .iter()
            .map(|p| (&p.reference, &p.sender, &p.proposal))
    }

    /// The ReInit that ended the group, if a commit carried one (RFC 9420 §11.2): members
    /// then wait for the new group, and the view refuses every further handshake, as they
    /// do.
    pub fn reinit(&self) -> Option<&ReInit> {
        self.reinit.as_ref()
    }

    /// The policy.
    pub fn config(&self) -> &PublicGroupConfig {
        &self.config
    }

    /// Replaces the application components (after [`PublicGroup::from_bytes`]).
    pub fn set_components(&mut self, components: Components) {
        self.config.components = components;
    }

    // ---- processing --------------------------------------------------------------------

    fn state(&self) -> PublicState<'_> {
        PublicState {
            cs: self.cs.as_ref(),
            identity: self.identity.as_ref(),
            context: &self.context,
            tree: &self.tree,
            interim_transcript_hash: &self.interim_transcript_hash,
            proposals: &self.proposals,
            policy: self.config.policy(),
            components: self.config.components.handler(),
            psks: None,
        }
    }

    /// Checks a PublicMessage handshake (proposal or commit) of the current epoch, as a
    /// member would (RFC 9420 §6, §6.1, §12.1, §12.4.2) but for the membership tag, whose
    /// presence alone is checked (module docs): group id and epoch, Safe AAD where the group
    /// requires it (draft-ietf-mls-extensions-10 §4.9), the signature by the sender (a
    /// member's leaf, an `external_senders` entry, the KeyPackage of a `new_member_proposal`,
    /// the UpdatePath leaf of a `new_member_commit`), then the proposal or the whole commit.
    /// Nothing changes until [`PublicGroup::apply`].
    pub fn process_message(
        &self,
        message: &MlsMessage,
        now: u64,
    ) -> Result<PublicHandshake, PublicGroupError> {
        if message.version != ProtocolVersion::MLS10 {
            return Err(GroupError::UnsupportedVersion(message.version.0).into());
        }
        let MlsMessageBody::PublicMessage(public) = &message.body else {
            return Err(GroupError::UnexpectedWireFormat(message.wire_format()).into());
        };
        let state = self.state();
        self.check_framing(&state, &public.content)?;
        let unverified = crate::framing::unprotect_public_without_membership_key(
            self.cs.as_ref(),
            public,
            &self.context,
        )?;
        self.handshake(&state, state.verify(unverified)?, now)
    }

    /// [`PublicGroup::process_message`] for handshake content a caller opened from another
    /// wire format (e.g. a SemiPrivateMessage, draft-mahy-mls-semiprivatemessage-07, which
    /// the Delivery Service decrypts as an external receiver): the sender must be a member
    /// (RFC 9420 §6.3) and `wire_format` is the one the content was signed for (§6.1). The
    /// protection of that wire format is the caller's to check. PublicMessages are refused
    /// here: they carry a membership tag whose presence [`PublicGroup::process_message`]
    /// checks.
    pub fn process_content(
        &self,
        wire_format: WireFormat,
        content: &FramedContent,
        auth: &FramedContentAuthData,
        now: u64,
    ) -> Result<PublicHandshake, PublicGroupError> {
        if wire_format == WireFormat::PUBLIC_MESSAGE {
            return Err(PublicGroupError::OpenedContent {
                wire_format,
                reason: "a PublicMessage is processed whole, with process_message",
            });
        }
        if !matches!(content.sender, Sender::Member(_)) {
            return Err(PublicGroupError::OpenedContent {
                wire_format,
                reason: "the sender is not a member",
            });
        }
        let state = self.state();
        self.check_framing(&state, content)?;
        let unverified = UnverifiedContent::opened(wire_format, content, auth)?;
        self.handshake(&state, state.verify(unverified)?, now)
    }

    /// A split commit (draft-mularczyk-mls-splitcommit-00 §3) followed from outside, with
    /// `group_info`, the GroupInfo its committer published for the epoch it creates: the
    /// broadcast message checked as [`PublicGroup::process_message`] checks a member's
    /// PublicMessage (the membership tag's presence only), the commit staged by the
    /// members' code from the SUpdatePath. A split commit carries no confirmation tag, and
    /// the members' interim transcript hash takes the tag each of them computes
    /// ([`crate::split`]); a non-member takes it from `group_info`, which must be signed by
    /// the committer's new leaf over exactly the GroupContext computed here (the tag itself
    /// is as unverifiable as a framed commit's, module docs). The epoch identifier cannot be
    /// checked either (it is exported from the new epoch's secrets). With the new tree
    /// ([`StagedPublicCommit::group`]) the Delivery Service can split the SCommit for each
    /// receiver ([`crate::split::split_for_receiver`]). Nothing changes until
    /// [`PublicGroup::apply`].
    pub fn process_scommit(
        &self,
        scommit: &crate::split::SCommit,
        group_info: &GroupInfo,
        now: u64,
    ) -> Result<PublicHandshake, PublicGroupError> {
        use crate::split::SplitCommitError;
        if !crate::split::is_enabled(&self.context.extensions).map_err(GroupError::from)? {
            return Err(GroupError::from(SplitCommitError::NotEnabled).into());
        }
        let broadcast = &scommit.broadcast;
        let content = &broadcast.content;
        if self.reinit.is_some() {
            return Err(
                GroupError::Inactive("the group was reinitialised (RFC 9420 §11.2)").into(),
            );
        }
        let state = self.state();
        state.check_group_and_epoch(&content.group_id, content.epoch)?;
        crate::safe::incoming_safe_aad(
            self.config.codepoint_profile,
            &self.context.extensions,
            &content.authenticated_data,
        )?;
        let Sender::Member(committer) = content.sender else {
            return Err(GroupError::from(SplitCommitError::SenderNotMember).into());
        };
        let key = self
            .tree
            .leaf(committer)
            .map(|leaf| leaf.signature_key.clone())
            .ok_or(GroupError::UnknownSender(committer))?;
        crate::split::verify_broadcast(
            self.cs.as_ref(),
            broadcast,
            &self.context,
            None,
            key.as_ref(),
        )
        .map_err(GroupError::from)?;
        let commit = crate::split::commit_of(
            &content.broadcast,
            scommit.path.as_ref().map(|path| path.nodes.clone()),
        )
        .map_err(GroupError::from)?;
        let received = crate::group::commit::ReceivedCommit {
            sender: content.sender,
            commit: std::borrow::Cow::Owned(commit),
            authenticated_data: &content.authenticated_data,
            proof: crate::group::commit::CommitProof::Split(content),
            single_ciphertext: None,
        };
        let mut public = crate::group::commit::stage_received_commit(&state, &received, now)?;
        if group_info.group_context != public.next_context() {
            return Err(PublicGroupError::GroupInfoMismatch(
                "its GroupContext is not the one the split commit creates",
            ));
        }
        if group_info.signer != committer {
            return Err(PublicGroupError::GroupInfoMismatch(
                "it is not signed by the split commit's committer",
            ));
        }
        crate::group::join::verify_group_info(self.cs.as_ref(), group_info, &public.applied.tree)?;
        public.confirmation_tag = group_info.confirmation_tag.clone();
        Ok(PublicHandshake::Commit(Box::new(self.next_epoch(public)?)))
    }

    /// The checks before the signature: group, epoch (RFC 9420 §6) and Safe AAD
    /// (draft-ietf-mls-extensions-10 §4.9).
    fn check_framing(
        &self,
        state: &PublicState<'_>,
        content: &FramedContent,
    ) -> Result<(), PublicGroupError> {
        if self.reinit.is_some() {
            return Err(
                GroupError::Inactive("the group was reinitialised (RFC 9420 §11.2)").into(),
            );
        }
        state.check_group_and_epoch(&content.group_id, content.epoch)?;
        crate::safe::incoming_safe_aad(
            self.config.codepoint_profile,
            &self.context.extensions,
            &content.authenticated_data,
        )?;
        Ok(())
    }

    /// A verified handshake: a proposal checked for the cache, or a commit staged.
    fn handshake(
        &self,
        state: &PublicState<'_>,
        verified: VerifiedContent<'_>,
        now: u64,
    ) -> Result<PublicHandshake, PublicGroupError> {
        match verified.content() {
            Content::Application(_) => {
                Err(GroupError::UnexpectedWireFormat(verified.wire_format()).into())
            }
            Content::Proposal(_) => {
                let cached = receive_proposal(state, verified)?;
                Ok(PublicHandshake::Proposal {
                    reference: cached.reference,
                    sender: cached.sender,
                    proposal: Box::new(cached.proposal),
                    epoch: self.epoch(),
                })
            }
            Content::Commit(_) => {
                let public = stage_public_commit(state, &verified, now)?;
                Ok(PublicHandshake::Commit(Box::new(self.next_epoch(public)?)))
            }
        }
    }

    /// The next epoch's public state after `public` (RFC 9420 §8.2: the interim transcript
    /// hash from the new confirmed one and the commit's confirmation tag).
    fn next_epoch(&self, public: PublicCommit) -> Result<StagedPublicCommit, PublicGroupError> {
        let cs = self.cs.as_ref();
        let context = public.next_context();
        let interim_transcript_hash = transcript::interim_transcript_hash(
            cs,
            &context.confirmed_transcript_hash,
            &public.confirmation_tag,
        )
        .map_err(GroupError::from)?;
        let applied = &public.applied;
        let mut added = Vec::with_capacity(applied.added.len());
        for (leaf, key_package) in &applied.added {
            let reference =
                crate::welcome::key_package_ref(cs, key_package).map_err(GroupError::from)?;
            added.push((*leaf, reference));
        }
        let external = public.committer == Committer::External;
        let summary = PublicCommitSummary {
            epoch: context.epoch,
            committer: public.sender,
            committer_leaf: public.committer_leaf.ok_or(GroupError::PathRequired(
                "an external commit must have a path",
            ))?,
            added,
            removed: applied.removed_leaves().collect(),
            self_removed: applied.self_removed.iter().map(|(leaf, _)| *leaf).collect(),
            updated: applied.updated.clone(),
            path: public.path,
            external,
            resync: external && !applied.removed.is_empty(),
            psks: applied.psks.clone(),
            reinit: applied.reinit.clone(),
            app_data: applied.app_data.clone(),
        };
        let next = Self {
            cs: Arc::clone(&self.cs),
            identity: Arc::clone(&self.identity),
            config: self.config.clone(),
            context,
            tree: public.applied.tree,
            interim_transcript_hash,
            confirmation_tag: public.confirmation_tag,
            proposals: Vec::new(),
            reinit: public.applied.reinit,
        };
        Ok(StagedPublicCommit {
            next,
            summary,
            base_epoch: self.epoch(),
            base_transcript_hash: self.context.confirmed_transcript_hash.clone(),
        })
    }

    /// Adopts a handshake [`PublicGroup::process_message`] or
    /// [`PublicGroup::process_content`] returned for the current state: a proposal is cached
    /// (RFC 9420 §12.1); a commit moves the view to its epoch, dropping the cached
    /// proposals. A handshake processed against another state is refused
    /// ([`PublicGroupError::StaleHandshake`]), and so is a proposal already cached.
    pub fn apply(&mut self, handshake: PublicHandshake) -> Result<(), PublicGroupError> {
        match handshake {
            PublicHandshake::Proposal {
                reference,
                sender,
                proposal,
                epoch,
            } => {
                if epoch != self.epoch() {
                    return Err(PublicGroupError::StaleHandshake {
                        processed: epoch,
                        current: self.epoch(),
                    });
                }
                if self.proposals.iter().any(|p| p.reference == reference) {
                    return Err(GroupError::DuplicateProposal.into());
                }
                self.proposals.push(CachedProposal {
                    reference,
                    proposal: *proposal,
                    sender,
                });
            }
            PublicHandshake::Commit(staged) => {
                if staged.base_epoch != self.epoch()
                    || staged.base_transcript_hash != self.context.confirmed_transcript_hash
                {
                    return Err(PublicGroupError::StaleHandshake {
                        processed: staged.base_epoch,
                        current: self.epoch(),
                    });
                }
                *self = staged.next;
            }
        }
        Ok(())
    }

    /// Checks a GroupInfo offered for the current epoch, e.g. the one a committer supplies
    /// for the epoch its commit created (check it on [`StagedPublicCommit::group`] before
    /// applying), so that it can be served to joiners (RFC 9420 §12.4.3): its GroupContext
    /// and confirmation tag are this epoch's, its signer is a member and its signature
    /// verifies, its extension lists are well formed, and a `ratchet_tree` extension, if
    /// any, is this epoch's tree. Its `external_pub` cannot be checked (module docs).
    pub fn check_group_info(&self, group_info: &GroupInfo) -> Result<(), PublicGroupError> {
        if group_info.group_context != self.context {
            return Err(PublicGroupError::GroupInfoMismatch(
                "its GroupContext is not the group's",
            ));
        }
        if group_info.confirmation_tag != self.confirmation_tag {
            return Err(PublicGroupError::GroupInfoMismatch(
                "its confirmation tag is not the one of the commit that started the epoch",
            ));
        }
        crate::group::join::verify_group_info(self.cs.as_ref(), group_info, &self.tree)?;
        if let Some(nodes) =
            find_payload::<RatchetTreeNodes>(&group_info.extensions).map_err(GroupError::from)?
            && nodes != self.tree.to_nodes()
        {
            return Err(PublicGroupError::GroupInfoMismatch(
                "its ratchet_tree is not the group's tree",
            ));
        }
        // draft-ietf-mls-ratchet-tree-options-00 §3: a `full` RatchetTreeOption is the tree
        // too.
        if let Some(crate::ratchet_tree_options::RatchetTreeOption::Full(nodes)) =
            crate::ratchet_tree_options::tree_option_of(&group_info.extensions)
                .map_err(GroupError::from)?
            && nodes != self.tree.to_nodes()
        {
            return Err(PublicGroupError::GroupInfoMismatch(
                "its RatchetTreeOption's tree is not the group's tree",
            ));
        }
        Ok(())
    }

    /// The GroupInfo of the current epoch rebuilt from the committer's `PartialGroupInfo`
    /// (draft-ietf-mls-ratchet-tree-options-00 §4): this view's GroupContext, confirmation tag
    /// and, when the partial says the GroupInfo has one, its tree as the `ratchet_tree`
    /// extension (first, where Conclave's committers put it; the draft does not say where),
    /// then the partial's extensions and signature, signed by `signer` — the committer's
    /// leaf ([`PublicCommitSummary::committer_leaf`]). Checked as
    /// [`PublicGroup::check_group_info`] checks a full one: the signature must verify, so a
    /// partial that does not belong to this epoch is refused. Whether the presence matches
    /// the previous epoch's GroupInfo is not checked (it changes nothing that is signed).
    pub fn group_info_from_partial(
        &self,
        partial: &crate::ratchet_tree_options::PartialGroupInfo,
        signer: LeafIndex,
    ) -> Result<GroupInfo, PublicGroupError> {
        if partial
            .group_info_extensions
            .iter()
            .any(|e| e.extension_type == crate::messages::ExtensionType::RATCHET_TREE)
        {
            return Err(PublicGroupError::GroupInfoMismatch(
                "a PartialGroupInfo's extensions leave out ratchet_tree \
                 (draft-ietf-mls-ratchet-tree-options-00 §4)",
            ));
        }
        let mut extensions = Vec::with_capacity(partial.group_info_extensions.len() + 1);
        if partial.has_ratchet_tree() {
            extensions.push(
                self.tree
                    .ratchet_tree_extension()
                    .map_err(GroupError::from)?,
            );
        }
        extensions.extend(partial.group_info_extensions.iter().cloned());
        let group_info = GroupInfo {
            group_context: self.context.clone(),
            extensions,
            confirmation_tag: self.confirmation_tag.clone(),
            signer,
            signature: partial.signature.clone(),
        };
        self.check_group_info(&group_info)?;
        Ok(group_info)
    }

    // ---- persistence -------------------------------------------------------------------

    /// The state, encoded (module docs, "Persistence"). It holds no secret.
    pub fn to_bytes(&self) -> Result<Vec<u8>, PublicGroupError> {
        let stored = StoredPublicGroup {
            version: FORMAT_VERSION,
            allow_external_commits: self.config.allow_external_commits,
            allow_external_resync: self.config.allow_external_resync,
            codepoint_profile: self.config.codepoint_profile,
            lifetime_policy: lifetime_policy_code(self.config.lifetime_policy),
            content_media_types: media_type_policy_code(self.config.content_media_types),
            context: self.context.clone(),
            tree: self.tree.to_nodes(),
            tree_hashes: StoredHashes::of(&self.tree),
            interim_transcript_hash: self.interim_transcript_hash.clone(),
            confirmation_tag: self.confirmation_tag.clone(),
            proposals: self.proposals.iter().map(StoredProposal::of).collect(),
            reinit: self.reinit.clone(),
        };
        Ok(stored.to_bytes()?)
    }

    /// Loads a state [`PublicGroup::to_bytes`] wrote, with no application components
    /// ([`PublicGroup::set_components`]).
    pub fn from_bytes(
        bytes: &[u8],
        crypto: &dyn CryptoProvider,
        identity: Arc<dyn IdentityProvider>,
    ) -> Result<Self, PublicGroupError> {
        let version = bytes
            .get(..2)
            .and_then(|v| <[u8; 2]>::try_from(v).ok())
            .map(u16::from_be_bytes)
            .ok_or(PublicGroupError::Storage("too short"))?;
        if version != FORMAT_VERSION {
            return Err(PublicGroupError::Storage("unknown format version"));
        }
        let stored = StoredPublicGroup::from_bytes(bytes)?;
        let suite = stored.context.cipher_suite;
        let cs: Arc<dyn CipherSuiteProvider> = crypto
            .cipher_suite_provider(suite)
            .ok_or(GroupError::UnsupportedCipherSuite(suite))?
            .into();
        let mut tree = RatchetTree::from_nodes(stored.tree).map_err(GroupError::from)?;
        if let Some(hashes) = &stored.tree_hashes {
            hashes.restore(&mut tree, cs.hash_len());
        }
        Ok(Self {
            cs,
            identity,
            config: PublicGroupConfig {
                allow_external_commits: stored.allow_external_commits,
                allow_external_resync: stored.allow_external_resync,
                codepoint_profile: stored.codepoint_profile,
                lifetime_policy: lifetime_policy_of_code(stored.lifetime_policy),
                content_media_types: media_type_policy_of_code(stored.content_media_types),
                components: Components::default(),
            },
            context: stored.context,
            tree,
            interim_transcript_hash: stored.interim_transcript_hash,
            confirmation_tag: stored.confirmation_tag,
            proposals: stored
                .proposals
                .into_iter()
                .map(StoredProposal::into_cached)
                .collect(),
            reinit: stored.reinit,
        })
    }
}

/// The stored form of a [`PublicGroup`], format version [`FORMAT_VERSION`].
#[derive(Encode, Decode)]
struct StoredPublicGroup {
    version: u16,
    allow_external_commits: bool,
    allow_external_resync: bool,
    codepoint_profile: CodepointProfile,
    lifetime_policy: u8,
    content_media_types: u8,
    context: GroupContext,
    tree: RatchetTreeNodes,
    tree_hashes: Option<StoredHashes>,
    interim_transcript_hash: Vec<u8>,
    confirmation_tag: Vec<u8>,
    proposals: Vec<StoredProposal>,
    reinit: Option<ReInit>,
}

#[cfg(test)]
mod tests;
