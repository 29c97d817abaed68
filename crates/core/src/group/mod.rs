//! The MLS group state machine (RFC 9420 §8, §11, §12): creating a group, proposals, commits,
//! Welcome and external joins, application messages, and the epoch history kept for late
//! messages.
//!
//! Design:
//! - **Typed verification.** Incoming bytes go through [`crate::framing`], which yields
//!   unverified content; only signature verification produces the content this module acts on.
//! - **Staged state.** A commit is processed into a complete next epoch on the side
//!   ([`commit`]); the group only moves when every check passed, so a rejected message leaves
//!   the group exactly as it was. Our own commit stays pending until [`Group::merge_pending_commit`]
//!   (after the Delivery Service accepted it) or until it comes back from the Delivery Service.
//! - **One place per rule.** Proposal rules live in [`proposals`] and are shared by commit
//!   creation and processing.
//! - **Incremental storage.** The state is stored as records ([`crate::storage`]);
//!   [`Group::take_changes`] returns what changed since the last save, and [`Group::load`]
//!   rebuilds the group from the records. [`Group::to_bytes`] remains as a snapshot.
//!
//! Sans-IO: randomness and the current time are passed in by the caller.

pub mod app_data;
mod backlog;
pub(crate) mod commit;
mod commit_builder;
mod error;
mod external;
pub mod handshake_mode;
pub(crate) mod join;
pub(crate) mod member_proof;
pub mod policy;
pub(crate) mod proposals;
pub(crate) mod public;
mod records;
pub mod replace;
mod resumption;
mod safe;
pub(crate) mod self_remove;
mod split;
mod state;
pub(crate) mod storage;
mod targeted;
pub mod topic;
mod tracked;

use std::collections::VecDeque;
use std::sync::Arc;

use conclave_codec::Encode;
use conclave_crypto::{
    CipherSuite, CipherSuiteProvider, CryptoProvider, CryptoRandom, Secret, hpke, labels,
};

pub use app_data::{
    AppDataChange, AppDataError, AppDataSummary, AppEphemeralEntry, ComponentCall,
    ComponentHandler, ComponentRejection, Components, FramedApplicationData, NoComponents,
};
pub use commit::{CommitOptions, CommitOutput, CommitSummary, SplitCommitOutput};
pub use commit_builder::CommitBuilder;
pub use error::GroupError;
pub use external::{external_proposal, new_member_proposal};
pub use join::{JoinOptions, external_commit_init};
pub use replace::ReplaceError;
pub use resumption::LinkedGroupOptions;
pub use safe::SafeHpkeKey;
pub use self_remove::{CheckedSelfRemove, SelfRemoveError, check_as_non_member};
pub use state::PskStore;

use crate::codepoints::CodepointProfile;
use crate::credential::IdentityProvider;
use crate::framing::{
    PaddingPolicy, VerifiedContent, open_semi_private_sender_data, open_sender_data,
    protect_private, protect_public, protect_semi_private, sign_content, unprotect_private,
    unprotect_public, unprotect_semi_private,
};
use crate::messages::{
    AppDataDictionary, Capabilities, ComponentId, Content, ContentType, Credential, Extension,
    FramedContent, GroupContext, HpkePublicKey, KeyPackage, LeafIndex, LeafNode, LeafNodeSource,
    Lifetime, MediaTypeList, MlsMessage, MlsMessageBody, PrivateMessage, Proposal, ProposalRef,
    ProtocolVersion, PublicMessage, ReInit, SemiPrivateMessage, Sender, SignaturePublicKey,
    WireFormat, WireFormats,
};
use crate::secret_tree::SecretTreeConfig;
use crate::tree::RatchetTree;
use crate::treekem::PrivateTree;
use crate::validation::negotiation::{MediaTypePolicy, NegotiationPolicy};
use crate::validation::{KEY_PACKAGE_TBS_LABEL, LEAF_NODE_TBS_LABEL, LifetimePolicy};
use proposals::CachedProposal;
use state::{EpochState, PastEpoch};
use tracked::Tracked;

/// How many private keys of our uncommitted Updates are kept past their epoch, for a later
/// Replace (draft-barnes-mls-replace-00 §4; see `Group::retain_update_keys`).
pub const MAX_RETAINED_UPDATE_KEYS: usize = 4;

/// Policy of one group: padding, handshake wire format, past epochs kept, lifetime checks
/// and external-join policy are configuration, not code.
#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// Wire format of our handshake messages: `PUBLIC_MESSAGE`, `PRIVATE_MESSAGE` (RFC 9420
    /// §6; RFC 9750 discusses the trade-off) or
    /// [`crate::codepoints::SEMI_PRIVATE_MESSAGE_WIRE_FORMAT`] (draft-mahy-mls-semiprivatemessage-07:
    /// encrypted, and readable by the group's external receivers; the group must enable it,
    /// see [`crate::semi_private`]). External commits are PublicMessages whatever this says.
    pub handshake_wire_format: WireFormat,
    /// Padding of our PrivateMessages (RFC 9420 §6.3.1).
    pub padding: PaddingPolicy,
    /// How many past epochs keep their keys for late application messages (RFC 9420 §14).
    pub max_past_epochs: usize,
    /// Out-of-order window of the sender ratchets (RFC 9420 §9.2).
    pub secret_tree: SecretTreeConfig,
    /// When KeyPackage lifetimes are enforced (RFC 9420 §7.3).
    pub lifetime_policy: LifetimePolicy,
    /// How many past epochs keep their resumption PSK (RFC 9420 §8.6).
    pub max_resumption_psks: usize,
    /// Whether external commits by newcomers are accepted (RFC 9420 §12.4.3.2).
    pub allow_external_commits: bool,
    /// Whether external commits that remove the committer's prior appearance (resync) are
    /// accepted, independently of `allow_external_commits`. GroupInfo carries
    /// `external_pub` when either is set.
    pub allow_external_resync: bool,
    /// Which codepoints the drafts' structures use on the wire (extension, proposal and
    /// credential types, component base label): the draft's by default, or a peer's
    /// ([`crate::codepoints`]). Stored with the group.
    pub codepoint_profile: CodepointProfile,
    /// Whether our LeafNodes, KeyPackages and GroupInfos carry random GREASE components
    /// (draft-ietf-mls-extensions-10 §5.1: SHOULD); on by default. Stored with the group.
    pub grease: bool,
    /// Whether a client that does not accept the media types the group requires is refused
    /// (draft-ietf-mls-extensions-10 §6.2: SHOULD NOT be added); refused by default. Stored
    /// with the group.
    pub content_media_types: MediaTypePolicy,
    /// Where joiners find the ratchet tree: in the GroupInfos we sign (RFC 9420
    /// §12.4.3.3, the default), or at the Delivery Service, which rebuilds it from the
    /// group's handshakes; our GroupInfos then carry `RatchetTreeOption{distributionService}`
    /// instead (draft-ietf-mls-ratchet-tree-options-00 §3). A joiner takes it from the
    /// GroupInfo it joins with. Stored with the group.
    pub ratchet_tree_location: crate::ratchet_tree_options::RatchetTreeLocation,
}

impl GroupConfig {
    /// The part of this policy that judges handshakes, shared with the non-member view
    /// ([`crate::public_group::PublicGroupConfig`]).
    pub(crate) fn public_policy(&self) -> public::PublicPolicy {
        public::PublicPolicy {
            lifetime_policy: self.lifetime_policy,
            negotiation: self.negotiation_policy(),
            allow_external_commits: self.allow_external_commits,
            allow_external_resync: self.allow_external_resync,
        }
    }

    /// How this group reads the drafts' negotiation extensions (draft-ietf-mls-extensions-10
    /// §5.1, §6.3).
    pub fn negotiation_policy(&self) -> NegotiationPolicy {
        NegotiationPolicy {
            profile: self.codepoint_profile,
            media_types: self.content_media_types,
        }
    }
}

impl Default for GroupConfig {
    fn default() -> Self {
        Self {
            handshake_wire_format: WireFormat::PUBLIC_MESSAGE,
            padding: PaddingPolicy::None,
            max_past_epochs: 3,
            secret_tree: SecretTreeConfig::default(),
            lifetime_policy: LifetimePolicy::default(),
            max_resumption_psks: 8,
            allow_external_commits: true,
            allow_external_resync: true,
            codepoint_profile: CodepointProfile::Draft,
            grease: true,
            content_media_types: MediaTypePolicy::Require,
            ratchet_tree_location: crate::ratchet_tree_options::RatchetTreeLocation::GroupInfo,
        }
    }
}

/// The services a group consults: crypto, the Authentication Service policy and external
/// PSKs. Shared between groups.
#[derive(Clone)]
pub struct GroupEnv {
    /// The crypto backend.
    pub crypto: Arc<dyn CryptoProvider>,
    /// Credential validation (RFC 9420 §5.3.1).
    pub identity: Arc<dyn IdentityProvider>,
    /// External pre-shared keys (RFC 9420 §8.4) and application PSKs
    /// (draft-ietf-mls-extensions-10 §4.5).
    pub psks: Arc<dyn PskStore>,
}

impl core::fmt::Debug for GroupEnv {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GroupEnv")
            .field("crypto", &self.crypto.name())
            .finish_non_exhaustive()
    }
}

impl GroupEnv {
    /// The provider of `suite`, or [`GroupError::UnsupportedCipherSuite`].
    pub fn suite(&self, suite: CipherSuite) -> Result<Box<dyn CipherSuiteProvider>, GroupError> {
        self.crypto
            .cipher_suite_provider(suite)
            .ok_or(GroupError::UnsupportedCipherSuite(suite))
    }
}

/// A member's signature key pair and credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningIdentity {
    /// The signature private key.
    pub secret_key: Secret,
    /// The signature public key.
    pub public_key: SignaturePublicKey,
    /// The credential binding an identity to the public key (RFC 9420 §5.3).
    pub credential: Credential,
}

impl SigningIdentity {
    /// Generates a fresh signature key pair for `credential`.
    pub fn generate(
        cs: &dyn CipherSuiteProvider,
        credential: Credential,
        rng: &mut dyn CryptoRandom,
    ) -> Result<Self, GroupError> {
        let (secret_key, public_key) = cs.signature_generate(rng)?;
        Ok(Self {
            secret_key,
            public_key: SignaturePublicKey(public_key),
            credential,
        })
    }
}

/// A KeyPackage with its private keys (RFC 9420 §10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPackageBundle {
    /// The public KeyPackage.
    pub key_package: KeyPackage,
    /// Private key of `init_key`.
    pub init_private_key: Secret,
    /// Private key of `leaf_node.encryption_key`.
    pub encryption_private_key: Secret,
}

/// Parameters of a new KeyPackage or leaf.
#[derive(Debug, Clone, Default)]
pub struct LeafOptions {
    /// Capabilities; `None` gives [`default_capabilities`]. They must list MLS 1.0 and the
    /// group's cipher suite (see [`LeafOptions::capabilities_for`]).
    pub capabilities: Option<Capabilities>,
    /// Leaf node extensions.
    pub leaf_extensions: Vec<Extension>,
    /// KeyPackage extensions.
    pub key_package_extensions: Vec<Extension>,
    /// Validity period in seconds from `now` (default 90 days).
    pub lifetime_seconds: Option<u64>,
    /// Entries of our LeafNodes' `app_data_dictionary` (draft-ietf-mls-extensions-10 §4.6),
    /// sorted by component; merged into a dictionary of `leaf_extensions`, if any. Our
    /// leaves' dictionaries also carry `app_components` (unless given here) and GREASE.
    pub leaf_app_data: AppDataDictionary,
    /// Entries of our KeyPackages' `app_data_dictionary` (draft-ietf-mls-extensions-10
    /// §4.6), sorted by component.
    pub key_package_app_data: AppDataDictionary,
    /// The media types we accept, advertised as our leaves' `content_media_types`
    /// (draft-ietf-mls-extensions-10 §6.2: SHOULD); must not be empty.
    pub content_media_types: Option<MediaTypeList>,
}

/// Default validity of a KeyPackage: 90 days.
const DEFAULT_LIFETIME: u64 = 90 * 24 * 3600;

/// What a member brings to every group it creates or joins, and to its KeyPackages: the
/// services, its signing identity, the policy of its groups and the parameters of its
/// leaves.
#[derive(Debug, Clone)]
pub struct MemberParams {
    /// Crypto, credential validation and external PSKs.
    pub env: GroupEnv,
    /// Our signature key pair and credential (RFC 9420 §5.3).
    pub signer: SigningIdentity,
    /// The policy of the groups we create or join.
    pub config: GroupConfig,
    /// Capabilities, extensions and lifetime of our leaves and KeyPackages (RFC 9420 §7.2).
    pub leaf: LeafOptions,
    /// The application's components (draft-ietf-mls-extensions-10 §4.7, §4.8): they check
    /// AppEphemeral data and compute AppDataUpdates. By default none.
    pub components: Components,
}

impl MemberParams {
    /// `signer` with the default group policy and leaf parameters, and no application
    /// components.
    pub fn new(env: GroupEnv, signer: SigningIdentity) -> Self {
        Self {
            env,
            signer,
            config: GroupConfig::default(),
            leaf: LeafOptions::default(),
            components: Components::default(),
        }
    }
}

/// A group to create (RFC 9420 §11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGroup {
    /// Its cipher suite.
    pub cipher_suite: CipherSuite,
    /// Its group id (RFC 9420 §8.1: unique among the groups of the Delivery Service).
    pub group_id: Vec<u8>,
    /// Its group context extensions (e.g. required capabilities, external senders).
    pub extensions: Vec<Extension>,
    /// Entries of its group context's `app_data_dictionary` (draft-ietf-mls-extensions-10
    /// §4.6), merged into a dictionary of `extensions`, if any. The creator sets them
    /// unilaterally; afterwards AppDataUpdate proposals change them (§4.7).
    pub app_data: AppDataDictionary,
    /// Wire formats every member must support, as a `required_wire_formats` extension
    /// (draft-ietf-mls-extensions-10 §5), if the group's codepoint profile has it.
    pub required_wire_formats: Option<WireFormats>,
}

impl NewGroup {
    /// A group without group context extensions.
    pub fn new(cipher_suite: CipherSuite, group_id: Vec<u8>) -> Self {
        Self {
            cipher_suite,
            group_id,
            extensions: Vec::new(),
            app_data: AppDataDictionary::default(),
            required_wire_formats: None,
        }
    }

    /// Sets `component`'s entry of the group context's `app_data_dictionary`
    /// (draft-ietf-mls-extensions-10 §4.6).
    pub fn with_app_data(mut self, component: ComponentId, data: Vec<u8>) -> Self {
        self.app_data.insert(component, data);
        self
    }

    /// Requires every member to support `components` (the group context's `app_components`,
    /// draft-ietf-mls-extensions-10 §5).
    pub fn with_required_components(
        self,
        components: Vec<ComponentId>,
    ) -> Result<Self, GroupError> {
        let list = crate::messages::ComponentsList {
            component_ids: components,
        };
        Ok(self.with_app_data(crate::codepoints::APP_COMPONENTS_COMPONENT, encode(&list)?))
    }

    /// Requires every member to accept `media_types`, and frames every application message
    /// (the group context's `content_media_types`, draft-ietf-mls-extensions-10 §6.2).
    pub fn with_content_media_types(self, media_types: &MediaTypeList) -> Result<Self, GroupError> {
        Ok(self.with_app_data(
            crate::codepoints::CONTENT_MEDIA_TYPES_COMPONENT,
            encode(media_types)?,
        ))
    }

    /// Requires member proofs in every message (draft-mahy-mls-member-proof-00; D2 in
    /// [`crate::member_proof`]): a [`crate::codepoints::MEMBER_PROOF_COMPONENT`] entry in the
    /// group context's `app_data_dictionary`, and Safe AAD in force (an empty `safe_aad`
    /// list unless one is set already, draft-ietf-mls-extensions-10 §4.9).
    pub fn with_member_proofs(mut self) -> Result<Self, GroupError> {
        if self
            .app_data
            .get(crate::codepoints::SAFE_AAD_COMPONENT)
            .is_none()
        {
            let empty = encode(&crate::messages::ComponentsList::default())?;
            self.app_data
                .insert(crate::codepoints::SAFE_AAD_COMPONENT, empty);
        }
        self.app_data
            .insert(crate::codepoints::MEMBER_PROOF_COMPONENT, Vec::new());
        Ok(self)
    }

    /// Requires every member to support `wire_formats` (draft-ietf-mls-extensions-10 §5).
    pub fn with_required_wire_formats(mut self, wire_formats: Vec<WireFormat>) -> Self {
        self.required_wire_formats = Some(WireFormats { wire_formats });
        self
    }

    /// Enables semi-private handshakes (draft-mahy-mls-semiprivatemessage-07 §3): lists
    /// `receivers` in the group context's `external_receivers` component and adds
    /// `mls_semiprivate_message` to the required wire formats. The creator still chooses to
    /// send its handshakes so ([`GroupConfig::handshake_wire_format`]).
    pub fn with_external_receivers(
        mut self,
        receivers: Vec<crate::messages::ExternalReceiver>,
    ) -> Result<Self, GroupError> {
        let semi_private = crate::codepoints::SEMI_PRIVATE_MESSAGE_WIRE_FORMAT;
        let formats = self
            .required_wire_formats
            .get_or_insert_with(WireFormats::default);
        if !formats.wire_formats.contains(&semi_private) {
            formats.wire_formats.push(semi_private);
        }
        let list = crate::messages::ExternalReceivers(receivers);
        Ok(self.with_app_data(
            crate::codepoints::EXTERNAL_RECEIVERS_COMPONENT,
            encode(&list)?,
        ))
    }
}

/// The capabilities we advertise by default (RFC 9420 §7.2): MLS 1.0, the group's suite, the
/// credential types our identity provider validates, and the drafts' extension and proposal
/// types we implement under `profile` (draft-ietf-mls-extensions-10 §4.6–§4.8, §5:
/// `app_data_dictionary`, the wire-format extensions, AppDataUpdate and AppEphemeral).
pub fn default_capabilities(
    suite: CipherSuite,
    identity: &dyn IdentityProvider,
    profile: CodepointProfile,
) -> Capabilities {
    Capabilities {
        versions: vec![ProtocolVersion::MLS10],
        cipher_suites: vec![suite],
        extensions: app_data::leaf::draft_extension_types(profile),
        proposals: app_data::leaf::draft_proposal_types(profile),
        credentials: identity.supported_credential_types(),
    }
}

impl LeafOptions {
    /// The capabilities of a leaf we generate for a group of `suite`: the given ones, else
    /// [`default_capabilities`]. They must list MLS 1.0 and `suite` (else
    /// `ValidationError::UnsupportedVersion` or `UnsupportedCipherSuite`): a KeyPackage
    /// must (RFC 9420 §7.3, §10.1), and the leaves we generate never rely on the leniency
    /// granted to other members' leaves
    /// ([`crate::validation::LeafNodeContext::tolerates_omitted_suite`]).
    pub fn capabilities_for(
        &self,
        suite: CipherSuite,
        identity: &dyn IdentityProvider,
        profile: CodepointProfile,
    ) -> Result<Capabilities, GroupError> {
        let capabilities = self
            .capabilities
            .clone()
            .unwrap_or_else(|| default_capabilities(suite, identity, profile));
        crate::validation::check_supports_group(&capabilities, ProtocolVersion::MLS10, suite)?;
        Ok(capabilities)
    }
}

impl KeyPackageBundle {
    /// Creates and signs a KeyPackage of `suite` (RFC 9420 §10) for `member`'s signer and
    /// leaf parameters, with fresh init and encryption keys; valid from an hour before `now`.
    /// Its leaf and its own extensions carry the drafts' dictionaries, wire formats and
    /// GREASE as `member.config` and `member.leaf` say (draft-ietf-mls-extensions-10 §4.6,
    /// §5.1, §5.2).
    pub fn generate(
        member: &MemberParams,
        suite: CipherSuite,
        now: u64,
        rng: &mut dyn CryptoRandom,
    ) -> Result<Self, GroupError> {
        let (env, signer, options) = (&member.env, &member.signer, &member.leaf);
        let cs = env.suite(suite)?;
        let cs = cs.as_ref();
        let init = hpke::generate_key_pair(cs, rng)?;
        let encryption = hpke::generate_key_pair(cs, rng)?;
        let lifetime = options.lifetime_seconds.unwrap_or(DEFAULT_LIFETIME);
        let capabilities = options.capabilities_for(
            suite,
            env.identity.as_ref(),
            member.config.codepoint_profile,
        )?;
        let leaf_extensions = app_data::leaf::leaf_extensions(
            options,
            &capabilities,
            &member.config,
            member.components.handler(),
            rng,
        )?;
        let key_package_extensions =
            app_data::leaf::key_package_extensions(options, &capabilities, &member.config, rng)?;
        let leaf_node = sign_leaf_node(
            cs,
            signer,
            HpkePublicKey(encryption.public_key),
            capabilities,
            LeafNodeSource::KeyPackage(Lifetime {
                not_before: now.saturating_sub(3600),
                not_after: now.saturating_add(lifetime),
            }),
            leaf_extensions,
            None,
        )?;
        let mut key_package = KeyPackage {
            version: ProtocolVersion::MLS10,
            cipher_suite: suite,
            init_key: HpkePublicKey(init.public_key),
            leaf_node: Box::new(leaf_node),
            extensions: key_package_extensions,
            signature: Vec::new(),
        };
        let tbs = key_package.to_be_signed()?;
        key_package.signature = labels::sign_with_label(
            cs,
            signer.secret_key.as_bytes(),
            KEY_PACKAGE_TBS_LABEL,
            &tbs,
        )?;
        Ok(Self {
            key_package,
            init_private_key: init.secret_key,
            encryption_private_key: encryption.secret_key,
        })
    }
}

/// Builds and signs a LeafNode (RFC 9420 §7.2). `group` is `(group_id, leaf_index)` for the
/// `update` and `commit` sources.
pub(crate) fn sign_leaf_node(
    cs: &dyn CipherSuiteProvider,
    signer: &SigningIdentity,
    encryption_key: HpkePublicKey,
    capabilities: Capabilities,
    leaf_node_source: LeafNodeSource,
    extensions: Vec<Extension>,
    group: Option<(&[u8], LeafIndex)>,
) -> Result<LeafNode, GroupError> {
    let mut leaf = LeafNode {
        encryption_key,
        signature_key: signer.public_key.clone(),
        credential: signer.credential.clone(),
        capabilities,
        leaf_node_source,
        extensions,
        signature: Vec::new(),
    };
    let tbs = leaf.to_be_signed(group)?;
    leaf.signature =
        labels::sign_with_label(cs, signer.secret_key.as_bytes(), LEAF_NODE_TBS_LABEL, &tbs)?;
    Ok(leaf)
}

/// Whether the group can still be used.
#[derive(Debug, Clone, PartialEq, Eq, conclave_codec::Encode, conclave_codec::Decode)]
#[repr(u8)]
pub enum GroupStatus {
    /// A member in good standing.
    Active = 0,
    /// A commit removed us (RFC 9420 §12.4.2: delete the state promptly).
    Removed = 1,
    /// A commit with a ReInit was applied: wait for the Welcome to the new group
    /// (RFC 9420 §11.2).
    ReInitialized(ReInit) = 2,
}

/// What processing an incoming message produced.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProcessedMessage {
    /// An application message (RFC 9420 §6.3).
    Application {
        /// The sender's leaf.
        sender: LeafIndex,
        /// The generation of the sender's ratchet it used (RFC 9420 §6.3.2, §9): with
        /// `sender`, what an AppAck acknowledges (draft-ietf-mls-extensions-10 §6.1,
        /// [`app_data::app_ack_of`]).
        generation: u32,
        /// The epoch it was sent in.
        epoch: u64,
        /// The plaintext.
        data: Vec<u8>,
        /// The sender's authenticated but unencrypted data.
        authenticated_data: Vec<u8>,
        /// `authenticated_data` parsed as a `SafeAAD` (draft-ietf-mls-extensions-10 §4.9) when
        /// the epoch's GroupContext requires Safe AAD, `None` when it does not.
        safe_aad: Option<crate::messages::SafeAad>,
    },
    /// A proposal, now cached for the next commit (RFC 9420 §12.1).
    Proposal {
        /// Who proposed it.
        sender: Sender,
        /// The proposal.
        proposal: Box<Proposal>,
        /// Its reference, as commits will name it.
        reference: ProposalRef,
    },
    /// A commit, applied: the group is in the next epoch (or we were removed).
    Commit(CommitSummary),
    /// Our own pending commit came back and was merged.
    OwnCommitMerged(CommitSummary),
    /// A message we sent came back (application message or proposal): nothing to do.
    OwnMessage,
}

/// An MLS group from one member's point of view.
///
/// Every field but the services is `Tracked`: a mutable access marks the group for a full
/// rewrite of its stored records ([`Group::take_changes`]).
pub struct Group {
    env: GroupEnv,
    cs: Box<dyn CipherSuiteProvider>,
    config: Tracked<GroupConfig>,
    signer: Tracked<SigningIdentity>,
    epoch: Tracked<EpochState>,
    private: Tracked<PrivateTree>,
    proposals: Tracked<Vec<CachedProposal>>,
    pending_commit: Tracked<Option<Box<commit::PendingCommit>>>,
    past_epochs: Tracked<VecDeque<PastEpoch>>,
    resumption_psks: Tracked<VecDeque<(u64, Secret)>>,
    status: Tracked<GroupStatus>,
    /// Private keys of leaf nodes we proposed in Update proposals this epoch.
    pending_updates: Tracked<Vec<crate::treekem::NodeKey>>,
    /// Other members' Updates that arrived after their epoch, kept for a Replace in our next
    /// commit (draft-barnes-mls-replace-00; [`Group::receive_late_update`]).
    late_updates: Tracked<Vec<replace::LateUpdate>>,
    /// Resumption PSKs of other groups this group is linked to (its predecessor after a
    /// ReInit or branch): `(group_id, epoch, psk)` (RFC 9420 §11.2, §11.3).
    linked_psks: Tracked<Vec<(Vec<u8>, u64, Secret)>>,
    /// What must be written at the next [`Group::take_changes`].
    changes: records::ChangeLog,
    /// The application's components (code, not state: not stored).
    components: Components,
}

impl core::fmt::Debug for Group {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Group")
            .field("group_id", &hex_prefix(&self.epoch.context.group_id))
            .field("epoch", &self.epoch.context.epoch)
            .field("own_leaf", &self.private.own_leaf())
            .field("members", &self.epoch.tree.member_count())
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

impl Group {
    /// Creates a one-member group at epoch 0 (RFC 9420 §11), with `member`'s signer, policy
    /// and leaf parameters.
    pub fn create(
        member: MemberParams,
        group: NewGroup,
        now: u64,
        rng: &mut dyn CryptoRandom,
    ) -> Result<Self, GroupError> {
        let extensions =
            app_data::leaf::group_context_extensions(&group, member.config.codepoint_profile)?;
        let NewGroup {
            cipher_suite: suite,
            group_id,
            ..
        } = group;
        let bundle = KeyPackageBundle::generate(&member, suite, now, rng)?;
        let MemberParams {
            env,
            signer,
            config,
            leaf: _,
            components,
        } = member;
        let cs = env.suite(suite)?;
        let leaf = *bundle.key_package.leaf_node;
        let own = crate::treekem::NodeKey {
            secret_key: bundle.encryption_private_key,
            public_key: leaf.encryption_key.clone(),
        };
        let mut tree = RatchetTree::new(leaf);
        let context = GroupContext {
            version: ProtocolVersion::MLS10,
            cipher_suite: suite,
            group_id,
            epoch: 0,
            tree_hash: tree.tree_hash(cs.as_ref())?,
            confirmed_transcript_hash: Vec::new(),
            extensions,
        };
        proposals::check_group_context_extensions(
            cs.as_ref(),
            env.identity.as_ref(),
            &tree,
            &context.extensions,
            &config.negotiation_policy(),
            now,
        )?;
        let mut init_secret = vec![0u8; cs.hash_len()];
        rng.fill(&mut init_secret)?;
        let epoch = EpochState::first(
            cs.as_ref(),
            &config,
            context,
            tree,
            &Secret::new(init_secret),
        )?;
        let mut group = Self::joined(
            env,
            cs,
            config,
            signer,
            epoch,
            PrivateTree::new(LeafIndex(0), own),
            Vec::new(),
        );
        group.components = components;
        Ok(group)
    }

    // ---- accessors ------------------------------------------------------------------------

    /// The group id.
    pub fn group_id(&self) -> &[u8] {
        &self.epoch.context.group_id
    }

    /// The current epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch.context.epoch
    }

    /// The cipher suite.
    pub fn cipher_suite(&self) -> CipherSuite {
        self.epoch.context.cipher_suite
    }

    /// The current group context (RFC 9420 §8.1).
    pub fn context(&self) -> &GroupContext {
        &self.epoch.context
    }

    /// The ratchet tree.
    pub fn tree(&self) -> &RatchetTree {
        &self.epoch.tree
    }

    /// Our private keys (leaf and direct path): the partial-client tests compare them with
    /// what a partial receiver derives from an AnnotatedCommit.
    #[cfg(test)]
    pub(crate) fn private_tree(&self) -> &crate::treekem::PrivateTree {
        &self.private
    }

    /// Our leaf index.
    pub fn own_leaf(&self) -> LeafIndex {
        self.private.own_leaf()
    }

    /// Our signing identity.
    pub fn signer(&self) -> &SigningIdentity {
        &self.signer
    }

    /// Replaces the credential our next leaf node carries (in our next commit's UpdatePath or
    /// Update proposal), keeping the signature key: e.g. a renewed certificate before the
    /// current one expires. The tree shows the new credential once that commit is merged.
    ///
    /// Checked here as the other members will check it (RFC 9420 §7.3, §5.3.1): valid at
    /// `now` for our signature key, and a valid successor of the current credential.
    pub fn set_credential(&mut self, credential: Credential, now: u64) -> Result<(), GroupError> {
        let identity = self.env.identity.as_ref();
        identity
            .validate_credential(&crate::credential::CredentialCheck {
                credential: &credential,
                signature_key: &self.signer.public_key,
                signature_scheme: self.cs.signature(),
                role: crate::credential::CredentialRole::Member,
                now,
            })
            .map_err(|e| {
                GroupError::Validation(crate::validation::ValidationError::Credential(e))
            })?;
        if credential != self.signer.credential
            && !identity
                .valid_successor(&self.signer.credential, &credential)
                .map_err(|e| {
                    GroupError::Validation(crate::validation::ValidationError::Credential(e))
                })?
        {
            return Err(GroupError::Validation(
                crate::validation::ValidationError::CredentialNotValidSuccessor,
            ));
        }
        self.signer.credential = credential;
        Ok(())
    }

    /// The policy.
    pub fn config(&self) -> &GroupConfig {
        &self.config
    }

    /// Changes the wire format of our handshake messages from now on
    /// ([`GroupConfig::handshake_wire_format`]): `PUBLIC_MESSAGE`, `PRIVATE_MESSAGE`, or the
    /// semi-private one if the group enabled it (draft-mahy-mls-semiprivatemessage-07 §3,
    /// else [`GroupError::SemiPrivateNotEnabled`]). A joiner uses it to follow the group's
    /// choice, which the Welcome's configuration could not know. Stored with the group.
    pub fn set_handshake_wire_format(&mut self, wire_format: WireFormat) -> Result<(), GroupError> {
        if wire_format == crate::codepoints::SEMI_PRIVATE_MESSAGE_WIRE_FORMAT {
            self.semi_private_receivers()?;
        } else if wire_format != WireFormat::PUBLIC_MESSAGE
            && wire_format != WireFormat::PRIVATE_MESSAGE
        {
            return Err(GroupError::WireFormatNotAllowed(wire_format));
        }
        if self.config.handshake_wire_format != wire_format {
            self.config.handshake_wire_format = wire_format;
        }
        Ok(())
    }

    /// Whether the group is usable.
    pub fn status(&self) -> &GroupStatus {
        &self.status
    }

    /// The members, by leaf index.
    pub fn members(&self) -> impl Iterator<Item = (LeafIndex, &LeafNode)> {
        self.epoch.tree.members()
    }

    /// The epoch authenticator (RFC 9420 §8.7).
    pub fn epoch_authenticator(&self) -> &[u8] {
        self.epoch.secrets.epoch_authenticator.as_bytes()
    }

    /// `MLS-Exporter(label, context, length)` of the current epoch (RFC 9420 §8.5).
    pub fn export_secret(
        &self,
        label: &str,
        context: &[u8],
        length: usize,
    ) -> Result<Secret, GroupError> {
        Ok(self
            .epoch
            .secrets
            .export(self.cs.as_ref(), label, context, length)?)
    }

    /// The resumption PSK of `epoch`, if still kept (RFC 9420 §8.6); the current epoch's
    /// is always available.
    pub fn resumption_psk(&self, epoch: u64) -> Option<&Secret> {
        if epoch == self.epoch() {
            return Some(&self.epoch.secrets.resumption_psk);
        }
        self.resumption_psks
            .iter()
            .find(|(e, _)| *e == epoch)
            .map(|(_, s)| s)
    }

    /// Proposals received (or sent) in this epoch and not yet committed.
    pub fn pending_proposals(&self) -> impl Iterator<Item = (&Sender, &Proposal)> {
        self.proposals.iter().map(|p| (&p.sender, &p.proposal))
    }

    /// Whether one of our commits awaits merging.
    pub fn has_pending_commit(&self) -> bool {
        self.pending_commit.is_some()
    }

    /// The ratchet tree of the epoch our pending commit creates, if we have one (and were not
    /// removed by it): e.g. the members to tell a Delivery Service when the GroupInfo does
    /// not carry the tree (draft-ietf-mls-ratchet-tree-options-00 §3).
    pub fn pending_commit_tree(&self) -> Option<&RatchetTree> {
        self.pending_commit
            .as_deref()
            .and_then(|p| p.staged.epoch.as_deref())
            .map(|epoch| &epoch.tree)
    }

    /// Discards our pending commit (the Delivery Service rejected it).
    pub fn clear_pending_commit(&mut self) {
        if self.pending_commit.is_some() {
            *self.pending_commit = None;
        }
    }

    fn ensure_active(&self) -> Result<(), GroupError> {
        match &*self.status {
            GroupStatus::Active => Ok(()),
            GroupStatus::Removed => Err(GroupError::Inactive("we were removed from the group")),
            GroupStatus::ReInitialized(_) => Err(GroupError::Inactive(
                "the group was reinitialised (RFC 9420 §11.2)",
            )),
        }
    }

    // ---- sending --------------------------------------------------------------------------

    /// Encrypts an application message (RFC 9420 §6.3). Refused while proposals are pending
    /// (RFC 9420 §12.4: commit them first).
    ///
    /// In a group that requires Safe AAD (draft-ietf-mls-extensions-10 §4.9,
    /// [`Group::safe_aad_required`]) `authenticated_data` must be an encoded `SafeAAD`
    /// (see [`Group::encrypt_application_message_with_safe_aad`]); empty bytes are sent as the
    /// empty `SafeAAD`, anything else is refused with [`crate::safe::SafeError`].
    ///
    /// Only our sender ratchet changes: write [`Group::take_changes`] (a few dozen bytes)
    /// before sending the message, so that a reload never reuses its generation.
    pub fn encrypt_application_message(
        &mut self,
        data: &[u8],
        authenticated_data: &[u8],
        rng: &mut dyn CryptoRandom,
    ) -> Result<MlsMessage, GroupError> {
        self.ensure_active()?;
        if !self.proposals.is_empty() {
            return Err(GroupError::ProposalsPending);
        }
        app_data::content::check_outgoing(&self.epoch.context, data)?;
        self.check_message_capability(self.own_leaf(), policy::MessageRole::Send)?;
        let content = FramedContent {
            group_id: self.epoch.context.group_id.clone(),
            epoch: self.epoch(),
            sender: Sender::Member(self.own_leaf()),
            authenticated_data: self.outgoing_aad(
                authenticated_data,
                ContentType::Application,
                rng,
            )?,
            content: Content::Application(data.to_vec()),
        };
        let signed = sign_content(
            self.cs.as_ref(),
            self.signer.secret_key.as_bytes(),
            WireFormat::PRIVATE_MESSAGE,
            content,
            Some(&self.epoch.context),
        )?;
        // Only the sender ratchet changes: the secret tree records it for the next save.
        let epoch = self.epoch.untracked_mut();
        let message = protect_private(
            self.cs.as_ref(),
            &signed,
            &mut epoch.secret_tree,
            epoch.secrets.sender_data_secret.as_bytes(),
            self.config.padding,
            rng,
        )?;
        Ok(mls_message(MlsMessageBody::PrivateMessage(message)))
    }

    /// Sends `proposal` by reference: returns the message and caches the proposal so that
    /// our next commit includes it (RFC 9420 §12.1). `authenticated_data` follows the Safe
    /// AAD rule of [`Group::encrypt_application_message`]. A SelfRemove goes as
    /// [`Group::self_remove`] sends it (draft-ietf-mls-extensions-10 §6.3).
    pub fn propose(
        &mut self,
        proposal: Proposal,
        authenticated_data: &[u8],
        rng: &mut dyn CryptoRandom,
    ) -> Result<MlsMessage, GroupError> {
        if self_remove::is_self_remove(&proposal) {
            return self_remove::propose(self, proposal, authenticated_data, rng);
        }
        self.ensure_active()?;
        if matches!(proposal, Proposal::ExternalInit(_)) {
            return Err(GroupError::proposal(
                proposal.proposal_type(),
                "ExternalInit is only sent by value in an external commit",
                "12.1.5",
            ));
        }
        if let Proposal::Extension(extension) = &proposal {
            app_data::check_codepoint(self.config.codepoint_profile, extension)?;
        }
        let content = FramedContent {
            group_id: self.epoch.context.group_id.clone(),
            epoch: self.epoch(),
            sender: Sender::Member(self.own_leaf()),
            authenticated_data: self.outgoing_aad(
                authenticated_data,
                ContentType::Proposal,
                rng,
            )?,
            content: Content::Proposal(proposal),
        };
        let (message, signed) = self.sign_and_protect_handshake(content, None, rng)?;
        let cached = CachedProposal::from_content(self.cs.as_ref(), &signed)?;
        self.proposals.push(cached);
        Ok(message)
    }

    /// Proposes to replace our leaf with a fresh encryption key (RFC 9420 §12.1.2), keeping
    /// the new private key until a commit includes the proposal. `leaf_extensions` replace
    /// our leaf's extensions when given.
    pub fn propose_update(
        &mut self,
        leaf_extensions: Option<Vec<Extension>>,
        rng: &mut dyn CryptoRandom,
    ) -> Result<MlsMessage, GroupError> {
        self.ensure_active()?;
        let own = self.own_leaf();
        let current = self
            .epoch
            .tree
            .leaf(own)
            .ok_or(GroupError::UnknownSender(own))?;
        let pair = hpke::generate_key_pair(self.cs.as_ref(), rng)?;
        let leaf_node = sign_leaf_node(
            self.cs.as_ref(),
            &self.signer,
            HpkePublicKey(pair.public_key.clone()),
            current.capabilities.clone(),
            LeafNodeSource::Update,
            // Stamped with the epoch it is sent in (draft-barnes-mls-replace-00 §3), so that
            // a later Replace can still install it.
            replace::stamp_leaf_node_epoch(
                &current.capabilities,
                leaf_extensions.unwrap_or_else(|| current.extensions.clone()),
                self.epoch(),
            )?,
            Some((&self.epoch.context.group_id, own)),
        )?;
        let message = self.propose(
            Proposal::Update(crate::messages::Update {
                leaf_node: Box::new(leaf_node),
            }),
            &[],
            rng,
        )?;
        self.pending_updates.push(crate::treekem::NodeKey {
            secret_key: pair.secret_key,
            public_key: HpkePublicKey(pair.public_key),
        });
        Ok(message)
    }

    /// Signs handshake content, sets the confirmation tag if given, and protects it with the
    /// configured wire format. Returns the message and the signed content.
    fn sign_and_protect_handshake(
        &mut self,
        content: FramedContent,
        confirmation_tag: Option<Vec<u8>>,
        rng: &mut dyn CryptoRandom,
    ) -> Result<(MlsMessage, crate::messages::AuthenticatedContent), GroupError> {
        let wire_format = self.config.handshake_wire_format;
        let mut signed = sign_content(
            self.cs.as_ref(),
            self.signer.secret_key.as_bytes(),
            wire_format,
            content,
            Some(&self.epoch.context),
        )?;
        signed.auth.confirmation_tag = confirmation_tag;
        let body = self.protect_signed(&signed, rng)?;
        Ok((mls_message(body), signed))
    }

    fn protect_signed(
        &mut self,
        signed: &crate::messages::AuthenticatedContent,
        rng: &mut dyn CryptoRandom,
    ) -> Result<MlsMessageBody, GroupError> {
        if signed.wire_format == crate::codepoints::SEMI_PRIVATE_MESSAGE_WIRE_FORMAT {
            // draft-mahy-mls-semiprivatemessage-07 §3.1: encrypted to the receivers of the
            // epoch the message is sent in.
            let receivers = self.semi_private_receivers()?;
            let epoch = &mut *self.epoch;
            return Ok(MlsMessageBody::SemiPrivateMessage(protect_semi_private(
                self.cs.as_ref(),
                signed,
                &epoch.context,
                &receivers,
                &mut epoch.secret_tree,
                epoch.secrets.sender_data_secret.as_bytes(),
                self.config.padding,
                rng,
            )?));
        }
        let epoch = &mut *self.epoch;
        Ok(match signed.wire_format {
            WireFormat::PRIVATE_MESSAGE => MlsMessageBody::PrivateMessage(protect_private(
                self.cs.as_ref(),
                signed,
                &mut epoch.secret_tree,
                epoch.secrets.sender_data_secret.as_bytes(),
                self.config.padding,
                rng,
            )?),
            WireFormat::PUBLIC_MESSAGE => MlsMessageBody::PublicMessage(protect_public(
                self.cs.as_ref(),
                signed,
                Some(&epoch.context),
                Some(epoch.secrets.membership_key.as_bytes()),
            )?),
            other => return Err(GroupError::WireFormatNotAllowed(other)),
        })
    }

    // ---- receiving ------------------------------------------------------------------------

    /// Processes a PublicMessage or PrivateMessage for this group.
    ///
    /// A rejected message leaves the group unchanged, except that a PrivateMessage whose
    /// content decrypted consumes its ratchet generation (its key is deleted, RFC 9420 §9.2)
    /// even if its signature or content is then rejected; [`Group::take_changes`] then
    /// deletes it from the store too. An application message (or our own message echoed
    /// back) changes only the sender's ratchet records of its epoch.
    pub fn process_message(
        &mut self,
        message: &MlsMessage,
        now: u64,
    ) -> Result<ProcessedMessage, GroupError> {
        if message.version != ProtocolVersion::MLS10 {
            return Err(GroupError::UnsupportedVersion(message.version.0));
        }
        if let Some(pending) = self.pending_commit.as_deref()
            && pending.is_echo_of(message)
        {
            return self
                .merge_pending_commit()
                .map(ProcessedMessage::OwnCommitMerged);
        }
        match &message.body {
            MlsMessageBody::PublicMessage(public) => self.process_public(public, now),
            MlsMessageBody::PrivateMessage(private) => self.process_private(private, now),
            MlsMessageBody::SemiPrivateMessage(semi) => self.process_semi_private(semi, now),
            MlsMessageBody::Welcome(_) => {
                Err(GroupError::UnexpectedWireFormat(WireFormat::WELCOME))
            }
            MlsMessageBody::GroupInfo(_) => {
                Err(GroupError::UnexpectedWireFormat(WireFormat::GROUP_INFO))
            }
            MlsMessageBody::KeyPackage(_) => {
                Err(GroupError::UnexpectedWireFormat(WireFormat::KEY_PACKAGE))
            }
            // Stateless and for one member: `Group::process_targeted_message`.
            MlsMessageBody::TargetedMessage(_) => Err(GroupError::UnexpectedWireFormat(
                crate::codepoints::TARGETED_MESSAGE_WIRE_FORMAT,
            )),
        }
    }

    fn process_public(
        &mut self,
        message: &PublicMessage,
        now: u64,
    ) -> Result<ProcessedMessage, GroupError> {
        self.ensure_active()?;
        self.public_state()
            .check_group_and_epoch(&message.content.group_id, message.content.epoch)?;
        crate::safe::incoming_safe_aad(
            self.config.codepoint_profile,
            &self.epoch.context.extensions,
            &message.content.authenticated_data,
        )?;
        member_proof::check_incoming(
            self.cs.as_ref(),
            self.config.codepoint_profile,
            &self.epoch.context,
            self.member_proof_public_key(),
            Some(message.content.sender),
            message.content.content_type(),
            &message.content.authenticated_data,
        )?;
        if message.content.sender == Sender::Member(self.own_leaf()) {
            return self.own_handshake_echo(message);
        }
        let verified = match self.member_commit_signature_key(message) {
            // A member's commit: its hashing passes side by side
            // (`framing::unprotect_and_verify_member_public`).
            Some(key) => crate::framing::unprotect_and_verify_member_public(
                self.cs.as_ref(),
                message,
                &self.epoch.context,
                self.epoch.secrets.membership_key.as_bytes(),
                key.as_ref(),
                &self.epoch.interim_transcript_hash,
            )?,
            None => {
                let unverified = unprotect_public(
                    self.cs.as_ref(),
                    message,
                    &self.epoch.context,
                    self.epoch.secrets.membership_key.as_bytes(),
                )?;
                self.public_state().verify(unverified)?
            }
        };
        self.process_verified(verified, None, now)
    }

    /// The signature key of the member that sent the commit `message`, when everything
    /// [`PublicState::verify`](public::PublicState) checks before the signature holds;
    /// `None` otherwise, and for other messages, which then take the one-pass-after-another
    /// path that reports the error in its usual order.
    fn member_commit_signature_key(
        &self,
        message: &PublicMessage,
    ) -> Option<crate::messages::SignaturePublicKey> {
        if !matches!(message.content.sender, Sender::Member(_))
            || message.content.content_type() != ContentType::Commit
        {
            return None;
        }
        let state = self.public_state();
        handshake_mode::check_handshake_wire_format(
            &state.context.extensions,
            WireFormat::PUBLIC_MESSAGE,
            &message.content,
        )
        .ok()?;
        state.sender_signature_key(&message.content).ok()
    }

    /// A PublicMessage claiming to be from our leaf: one of our proposals echoed by the
    /// Delivery Service (our commits are matched before this).
    fn own_handshake_echo(&self, message: &PublicMessage) -> Result<ProcessedMessage, GroupError> {
        let content = crate::messages::AuthenticatedContent {
            wire_format: WireFormat::PUBLIC_MESSAGE,
            content: message.content.clone(),
            auth: message.auth.clone(),
        };
        let reference = proposals::proposal_ref(self.cs.as_ref(), &content)?;
        if self.proposals.iter().any(|p| p.reference == reference) {
            Ok(ProcessedMessage::OwnMessage)
        } else {
            Err(GroupError::UnrecognisedOwnMessage)
        }
    }

    fn process_private(
        &mut self,
        message: &PrivateMessage,
        now: u64,
    ) -> Result<ProcessedMessage, GroupError> {
        if message.group_id != self.epoch.context.group_id {
            return Err(GroupError::WrongGroup);
        }
        if message.epoch != self.epoch() {
            return self.process_past_epoch(message);
        }
        self.process_encrypted(Encrypted::Private(message), now)
    }

    /// A SemiPrivateMessage, processed as a member (draft-mahy-mls-semiprivatemessage-07
    /// §3.2): like a PrivateMessage handshake, in the current epoch only, and only in a group
    /// that enabled the wire format (§3).
    fn process_semi_private(
        &mut self,
        message: &SemiPrivateMessage,
        now: u64,
    ) -> Result<ProcessedMessage, GroupError> {
        self.public_state()
            .check_group_and_epoch(&message.group_id, message.epoch)?;
        crate::framing::semi_private::check_handshake(message.content_type)?;
        self.process_encrypted(Encrypted::SemiPrivate(message), now)
    }

    /// The external receivers of the current epoch if the group enabled semi-private
    /// handshakes (draft-mahy-mls-semiprivatemessage-07 §3), else
    /// [`GroupError::SemiPrivateNotEnabled`].
    fn semi_private_receivers(&self) -> Result<Vec<crate::messages::ExternalReceiver>, GroupError> {
        crate::semi_private::enabled_receivers(
            &self.epoch.context.extensions,
            self.config.codepoint_profile,
        )
        .map_err(crate::validation::ValidationError::from)?
        .ok_or(GroupError::SemiPrivateNotEnabled)
    }

    /// An encrypted message of the current epoch (RFC 9420 §6.3; a SemiPrivateMessage's
    /// sender data and handshake key are those of a PrivateMessage,
    /// draft-mahy-mls-semiprivatemessage-07 §3.2).
    fn process_encrypted(
        &mut self,
        message: Encrypted<'_>,
        now: u64,
    ) -> Result<ProcessedMessage, GroupError> {
        self.ensure_active()?;
        let receivers = match message {
            Encrypted::Private(_) => Vec::new(),
            Encrypted::SemiPrivate(_) => self.semi_private_receivers()?,
        };
        // Before anything is decrypted, so that a refused message consumes no key.
        crate::safe::incoming_safe_aad(
            self.config.codepoint_profile,
            &self.epoch.context.extensions,
            message.authenticated_data(),
        )?;
        member_proof::check_incoming(
            self.cs.as_ref(),
            self.config.codepoint_profile,
            &self.epoch.context,
            self.member_proof_public_key(),
            None,
            message.content_type(),
            message.authenticated_data(),
        )?;
        let sender_data_secret = self.epoch.secrets.sender_data_secret.as_bytes();
        let sender_data = match message {
            Encrypted::Private(m) => open_sender_data(self.cs.as_ref(), m, sender_data_secret)?,
            Encrypted::SemiPrivate(m) => {
                open_semi_private_sender_data(self.cs.as_ref(), m, sender_data_secret)?
            }
        };
        if sender_data.leaf_index == self.own_leaf() {
            // We deleted the key when we sent it (RFC 9420 §9.2): an echo of our own message.
            return if message.content_type() == ContentType::Commit {
                Err(GroupError::UnrecognisedOwnMessage)
            } else {
                Ok(ProcessedMessage::OwnMessage)
            };
        }
        // Only the sender's ratchet changes here, recorded by the secret tree; whatever the
        // content then changes goes through the tracked fields.
        let epoch = self.epoch.untracked_mut();
        let unverified = match message {
            Encrypted::Private(m) => unprotect_private(
                self.cs.as_ref(),
                m,
                &epoch.context,
                &mut epoch.secret_tree,
                epoch.secrets.sender_data_secret.as_bytes(),
            )?,
            Encrypted::SemiPrivate(m) => unprotect_semi_private(
                self.cs.as_ref(),
                m,
                &epoch.context,
                &receivers,
                &mut epoch.secret_tree,
                epoch.secrets.sender_data_secret.as_bytes(),
            )?,
        };
        let verified = self.public_state().verify(unverified)?;
        self.process_verified(verified, Some(sender_data.generation), now)
    }

    /// An application message from one of the kept past epochs (RFC 9420 §14).
    fn process_past_epoch(
        &mut self,
        message: &PrivateMessage,
    ) -> Result<ProcessedMessage, GroupError> {
        let current = self.epoch();
        if message.content_type != ContentType::Application {
            return Err(GroupError::WrongEpoch {
                message: message.epoch,
                current,
            });
        }
        let profile = self.config.codepoint_profile;
        let cs = self.cs.as_ref();
        // Only the sender's ratchet of that epoch changes, recorded by its secret tree.
        let past = self
            .past_epochs
            .untracked_mut()
            .iter_mut()
            .find(|p| p.context.epoch == message.epoch)
            .ok_or(GroupError::WrongEpoch {
                message: message.epoch,
                current,
            })?;
        crate::safe::incoming_safe_aad(
            profile,
            &past.context.extensions,
            &message.authenticated_data,
        )?;
        member_proof::check_incoming(
            cs,
            profile,
            &past.context,
            past.member_proof_key.as_ref(),
            None,
            message.content_type,
            &message.authenticated_data,
        )?;
        let sender_data = open_sender_data(cs, message, past.sender_data_secret.as_bytes())?;
        if sender_data.leaf_index == past.own_leaf {
            return Ok(ProcessedMessage::OwnMessage);
        }
        let unverified = unprotect_private(
            cs,
            message,
            &past.context,
            &mut past.secret_tree,
            past.sender_data_secret.as_bytes(),
        )?;
        let Sender::Member(leaf) = unverified.sender() else {
            return Err(GroupError::WrongEpoch {
                message: message.epoch,
                current,
            });
        };
        let key = past
            .signature_key(leaf)
            .ok_or(GroupError::UnknownSender(leaf))?
            .clone();
        let verified = unverified.verify(cs, key.as_ref(), &past.context)?;
        // draft-ietf-mimi-room-policy-04 §8.3 under that epoch's policy. A sender whose
        // credential is no longer known (it left, and the epoch was reloaded with its keys
        // only) cannot be judged: refused, as the policy cannot say it may send.
        let identity = self.env.identity.as_ref();
        let user_of = |credential: Option<&crate::messages::Credential>| {
            let credential = credential.ok_or_else(|| {
                policy::PolicyError::UnknownUser(format!(
                    "the credential of leaf {} in epoch {} is no longer known",
                    leaf.0, message.epoch
                ))
            })?;
            identity
                .identity(credential)
                .map_err(|e| policy::PolicyError::UnknownUser(e.to_string()))
        };
        policy::check_message(
            &past.context.extensions,
            || user_of(past.credential(leaf, &self.epoch.tree)),
            policy::MessageRole::Send,
        )?;
        policy::check_message(
            &past.context.extensions,
            || user_of(Some(&self.signer.credential)),
            policy::MessageRole::Receive,
        )?;
        application_message(
            verified,
            profile,
            &past.context,
            Some(sender_data.generation),
        )
    }

    /// `generation` is the PrivateMessage's (RFC 9420 §6.3.2), `None` for a PublicMessage.
    fn process_verified(
        &mut self,
        verified: VerifiedContent<'_>,
        generation: Option<u32>,
        now: u64,
    ) -> Result<ProcessedMessage, GroupError> {
        match verified.content() {
            Content::Application(_) => {
                if let Sender::Member(sender) = verified.sender() {
                    self.check_message_capability(sender, policy::MessageRole::Send)?;
                }
                self.check_message_capability(self.own_leaf(), policy::MessageRole::Receive)?;
                application_message(
                    verified,
                    self.config.codepoint_profile,
                    &self.epoch.context,
                    generation,
                )
            }
            Content::Proposal(_) => {
                let cached = proposals::receive_proposal(&self.public_state(), verified)?;
                let message = ProcessedMessage::Proposal {
                    sender: cached.sender,
                    proposal: Box::new(cached.proposal.clone()),
                    reference: cached.reference.clone(),
                };
                self.proposals.push(cached);
                Ok(message)
            }
            Content::Commit(_) => {
                let staged = commit::process_commit(self, verified, now)?;
                let summary = staged.summary.clone();
                self.apply_staged(staged);
                Ok(ProcessedMessage::Commit(summary))
            }
        }
    }

    /// The message capabilities of the current epoch's room policy
    /// (draft-ietf-mimi-room-policy-04 §8.3, [`policy::check_message`]) for the user of
    /// `leaf`.
    fn check_message_capability(
        &self,
        leaf: LeafIndex,
        side: policy::MessageRole,
    ) -> Result<(), GroupError> {
        let identity = self.env.identity.as_ref();
        let tree = &self.epoch.tree;
        policy::check_message(
            &self.epoch.context.extensions,
            || {
                let node = tree.leaf(leaf).ok_or_else(|| {
                    policy::PolicyError::UnknownUser(format!("no leaf {}", leaf.0))
                })?;
                identity
                    .identity(&node.credential)
                    .map_err(|e| policy::PolicyError::UnknownUser(e.to_string()))
            },
            side,
        )?;
        Ok(())
    }

    /// Whether the private keys of our uncommitted Updates outlive the epoch that ends when
    /// the group moves to `next` (draft-barnes-mls-replace-00 §1, §4): another member may
    /// still install one of their LeafNodes with a Replace, and we must then decrypt the
    /// commit's path. Kept only while our leaf stamps `leaf_node_epoch` (without it our
    /// Updates cannot be Replaced) and stays the same: once it changes, by our commit, an
    /// Update or a Replace, the older Updates are superseded and their keys deleted. At most
    /// [`MAX_RETAINED_UPDATE_KEYS`] are kept, the newest. The keys were never used to encrypt
    /// anything, so keeping them costs no forward secrecy until a Replace installs one.
    fn retain_update_keys(&self, next: &EpochState) -> bool {
        let own = self.own_leaf();
        match (self.epoch.tree.leaf(own), next.tree.leaf(own)) {
            (Some(before), Some(after)) => {
                before.encryption_key == after.encryption_key
                    && before
                        .capabilities
                        .extensions
                        .contains(&crate::codepoints::LEAF_NODE_EPOCH_EXTENSION)
            }
            _ => false,
        }
    }

    /// Merges our pending commit once the Delivery Service accepted it (RFC 9420 §12.4.1).
    pub fn merge_pending_commit(&mut self) -> Result<CommitSummary, GroupError> {
        let pending = self
            .pending_commit
            .take()
            .ok_or(GroupError::NoPendingCommit)?;
        let staged = pending.staged;
        let summary = staged.summary.clone();
        self.apply_staged(staged);
        Ok(summary)
    }

    /// Moves the group to a staged next epoch, keeping the current one for late messages.
    fn apply_staged(&mut self, staged: commit::StagedCommit) {
        let commit::StagedCommit {
            epoch,
            private,
            summary: _,
            status,
        } = staged;
        let retain_updates = epoch
            .as_deref()
            .is_some_and(|next| self.retain_update_keys(next));
        if let Some(next) = epoch.as_deref() {
            self.keep_uncommitted_updates();
            self.prune_late_updates(&next.tree);
        }
        if let Some(epoch) = epoch {
            let previous = std::mem::replace(&mut *self.epoch, *epoch);
            let old_epoch = previous.context.epoch;
            self.resumption_psks
                .push_front((old_epoch, previous.secrets.resumption_psk.clone()));
            self.resumption_psks
                .truncate(self.config.max_resumption_psks);
            if self.config.max_past_epochs > 0 {
                let own = self.private.own_leaf();
                self.past_epochs
                    .push_front(PastEpoch::from_epoch(previous, own));
                self.past_epochs.truncate(self.config.max_past_epochs);
            }
        }
        if let Some(private) = private {
            *self.private = private;
        }
        self.proposals.clear();
        if retain_updates {
            let excess = self
                .pending_updates
                .len()
                .saturating_sub(MAX_RETAINED_UPDATE_KEYS);
            if excess > 0 {
                self.pending_updates.drain(..excess);
            }
        } else {
            self.pending_updates.clear();
        }
        *self.pending_commit = None;
        if let Some(status) = status {
            *self.status = status;
        }
    }
}

/// The application message of `verified`, received in the epoch of `context`.
fn application_message(
    verified: VerifiedContent<'_>,
    profile: CodepointProfile,
    context: &GroupContext,
    generation: Option<u32>,
) -> Result<ProcessedMessage, GroupError> {
    let content = verified.into_authenticated_content();
    // Application data travels only as PrivateMessage (RFC 9420 §6.2), which has a generation.
    let generation = generation.ok_or(GroupError::UnexpectedWireFormat(content.wire_format))?;
    let Sender::Member(sender) = content.content.sender else {
        return Err(GroupError::SenderNotAllowed {
            sender: content.content.sender.sender_type(),
            what: "application data",
            section: "6.1",
        });
    };
    let Content::Application(data) = content.content.content else {
        return Err(GroupError::UnexpectedWireFormat(content.wire_format));
    };
    // Checked before decryption already; parsed again here for the caller.
    let safe_aad = crate::safe::incoming_safe_aad(
        profile,
        &context.extensions,
        &content.content.authenticated_data,
    )?;
    Ok(ProcessedMessage::Application {
        sender,
        generation,
        epoch: content.content.epoch,
        data,
        authenticated_data: content.content.authenticated_data,
        safe_aad,
    })
}

/// An encrypted message of the current epoch: the two wire formats share sender data and
/// ratchet keys (RFC 9420 §6.3, draft-mahy-mls-semiprivatemessage-07 §3.2).
#[derive(Clone, Copy)]
enum Encrypted<'a> {
    Private(&'a PrivateMessage),
    SemiPrivate(&'a SemiPrivateMessage),
}

impl Encrypted<'_> {
    fn content_type(self) -> ContentType {
        match self {
            Self::Private(m) => m.content_type,
            Self::SemiPrivate(m) => m.content_type,
        }
    }

    fn authenticated_data(&self) -> &[u8] {
        match self {
            Self::Private(m) => &m.authenticated_data,
            Self::SemiPrivate(m) => &m.authenticated_data,
        }
    }
}

/// Wraps a body in an `MLSMessage` of version `mls10`.
pub(crate) fn mls_message(body: MlsMessageBody) -> MlsMessage {
    MlsMessage {
        version: ProtocolVersion::MLS10,
        body,
    }
}

/// Encodes a value or maps the codec error.
pub(crate) fn encode<T: Encode>(value: &T) -> Result<Vec<u8>, GroupError> {
    Ok(value.to_bytes()?)
}

#[cfg(test)]
mod semi_private_tests;
#[cfg(test)]
mod tests;
