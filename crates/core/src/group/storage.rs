//! Group state storage: a compact binary encoding of everything a member keeps between
//! messages, written with the same TLS-style codec as the wire format.
//!
//! Loading decodes the state once. The tree hashes of the larger subtrees are stored too, so
//! that the first commit after a load hashes O(log n) nodes rather than the whole tree; the
//! rest of the hash cache is rebuilt lazily. The encoding starts with a format version so
//! that later versions can migrate.
//!
//! The same encoding, with the secret trees of the current and past epochs reduced to their
//! shape, is the group record of the incremental record layout ([`super::records`]).

use crate::ratchet_tree_options::RatchetTreeLocation;
use std::collections::VecDeque;
use std::num::NonZeroU32;

use conclave_codec::{Decode, Encode};
use conclave_crypto::Secret;

use super::app_data::AppDataSummary;
use super::commit::{CommitSummary, PendingCommit, StagedCommit};
use super::proposals::CachedProposal;
use super::state::{EpochState, PastEpoch, PastMembers};
use super::{Group, GroupConfig, GroupEnv, GroupError, GroupStatus, SigningIdentity};
use crate::codepoints::CodepointProfile;
use crate::framing::PaddingPolicy;
use crate::key_schedule::EpochSecrets;
use crate::member_proof::MemberProofKeys;
use crate::messages::{
    Credential, GroupContext, LeafIndex, Proposal, ProposalRef, RatchetTreeNodes, Sender,
    SignaturePublicKey, WireFormat,
};
use crate::safe::{ExporterTree, StoredExporterTree};
use crate::secret_tree::{SecretTree, SecretTreeConfig};
use crate::tree::RatchetTree;
use crate::tree_math::NodeIndex;
use crate::treekem::{NodeKey, PrivateTree};
use crate::validation::LifetimePolicy;
use crate::validation::negotiation::MediaTypePolicy;

/// Version of the snapshot format. Version 1 is version 2 without the trailing
/// [`StoredTreeHashes`] section; version 2 is version 4 without the trailing
/// [`StateSection`] list. All three load.
const FORMAT_VERSION: u16 = 4;

/// Version of the group record of the record layout ([`super::records`]): version 4 whose
/// current and past secret trees hold no entries (those are records of their own).
/// Version 3 is the same without the trailing [`StateSection`] list; both load.
pub(super) const RECORD_FORMAT_VERSION: u16 = 5;

/// The record format version before the [`StateSection`] list.
const RECORD_FORMAT_VERSION_3: u16 = 3;

/// Format versions without the [`StateSection`] list: a snapshot and a record.
const VERSIONS_WITHOUT_SECTIONS: [u16; 2] = [2, RECORD_FORMAT_VERSION_3];

/// Whether `version` is a format version of a group record (rather than a snapshot).
pub(super) fn is_record_format(version: u16) -> bool {
    version == RECORD_FORMAT_VERSION || version == RECORD_FORMAT_VERSION_3
}

/// One tagged section of state added after format version 2/3: new state goes into a new
/// section rather than a new format version, so that a state written before the section
/// existed still loads (with the section's default).
#[derive(Encode, Decode)]
struct StateSection {
    tag: u16,
    data: Vec<u8>,
}

/// Tags of the [`StateSection`]s. A state with a tag this build does not know is refused.
mod section {
    /// The group's [`crate::codepoints::CodepointProfile`] (one byte).
    pub(super) const CODEPOINT_PROFILE: u16 = 1;
    /// The Exporter Trees of the current epoch and of the pending commit's epoch
    /// (draft-ietf-mls-extensions-10 §4.4), [`super::StoredExporterTrees`]. Without it (a
    /// state stored before the safe exporter) those epochs have none.
    pub(super) const EXPORTER_TREES: u16 = 2;
    /// The group's GREASE and media-type policy ([`super::StoredAppDataPolicy`]).
    pub(super) const APP_DATA_POLICY: u16 = 3;
    /// What the pending commit's AppDataUpdate and AppEphemeral proposals did
    /// ([`crate::group::AppDataSummary`]).
    pub(super) const PENDING_APP_DATA: u16 = 4;
    /// The member-proof secrets of the current and pending epochs and the public keys of
    /// the past ones (draft-mahy-mls-member-proof-00), [`super::StoredMemberProof`]. Without
    /// it no epoch has member-proof keys.
    pub(super) const MEMBER_PROOF: u16 = 5;
    /// Where joiners find the tree ([`crate::group::GroupConfig::ratchet_tree_location`]):
    /// one byte, 1 for the Delivery Service. Without it: in the GroupInfo.
    pub(super) const RATCHET_TREE_LOCATION: u16 = 6;
    /// Other members' late Updates kept for a Replace (draft-barnes-mls-replace-00),
    /// `Vec<LateUpdate>`. Without it there are none.
    pub(super) const LATE_UPDATES: u16 = 7;
}

/// The [`section::MEMBER_PROOF`] section. Only the secrets are stored; the key pairs are
/// derived again on load (`DeriveSignatureKeyPair` is deterministic).
#[derive(Encode, Decode)]
struct StoredMemberProof {
    current: Option<Secret>,
    pending: Option<Secret>,
    past: Vec<StoredPastMemberProofKey>,
}

#[derive(Encode, Decode)]
struct StoredPastMemberProofKey {
    epoch: u64,
    public_key: SignaturePublicKey,
}

/// The [`section::EXPORTER_TREES`] section: `None` for an epoch without an exporter tree.
#[derive(Encode, Decode)]
struct StoredExporterTrees {
    current: Option<StoredExporterTree>,
    pending: Option<StoredExporterTree>,
}

/// The drafts' group policy (draft-ietf-mls-extensions-10 §5.1, §6.2), in the
/// [`section::APP_DATA_POLICY`] section; absent means the defaults.
#[derive(Encode, Decode, PartialEq, Eq)]
struct StoredAppDataPolicy {
    grease: bool,
    /// 0: require, 1: ignore.
    content_media_types: u8,
}

impl StoredAppDataPolicy {
    fn of(config: &GroupConfig) -> Self {
        Self {
            grease: config.grease,
            content_media_types: media_type_policy_code(config.content_media_types),
        }
    }

    fn apply(&self, config: &mut GroupConfig) {
        config.grease = self.grease;
        config.content_media_types = media_type_policy_of_code(self.content_media_types);
    }
}

/// Where the entries (node secrets, ratchets) of the current and past epochs' secret trees
/// are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SecretTrees {
    /// In the encoding itself (a snapshot).
    Inline,
    /// Elsewhere (separate records): the encoding keeps the trees' shape only.
    Separate,
}

impl SecretTrees {
    fn of(self, tree: &SecretTree) -> SecretTree {
        match self {
            Self::Inline => tree.clone(),
            Self::Separate => tree.without_entries(),
        }
    }
}

#[derive(Encode, Decode)]
struct StoredConfig {
    handshake_wire_format: WireFormat,
    /// 0: no padding; n: pad to a multiple of n.
    padding: u32,
    max_past_epochs: u32,
    secret_tree: SecretTreeConfig,
    /// 0: new KeyPackages only, 1: always, 2: never.
    lifetime_policy: u8,
    max_resumption_psks: u32,
    allow_external_commits: bool,
    allow_external_resync: bool,
}

#[derive(Encode, Decode)]
struct StoredSigner {
    secret_key: Secret,
    public_key: SignaturePublicKey,
    credential: Credential,
}

#[derive(Encode, Decode)]
struct StoredEpoch {
    context: GroupContext,
    tree: RatchetTreeNodes,
    interim_transcript_hash: Vec<u8>,
    confirmation_tag: Vec<u8>,
    secrets: StoredEpochSecrets,
    secret_tree: SecretTree,
}

/// The epoch secrets as stored since format version 1: every [`EpochSecrets`] field but
/// `application_export_secret`, which the epoch's exporter tree holds (its own section).
#[derive(Encode, Decode)]
struct StoredEpochSecrets {
    sender_data_secret: Secret,
    encryption_secret: Secret,
    exporter_secret: Secret,
    external_secret: Secret,
    confirmation_key: Secret,
    membership_key: Secret,
    resumption_psk: Secret,
    epoch_authenticator: Secret,
    init_secret: Secret,
}

impl StoredEpochSecrets {
    fn from_secrets(secrets: &EpochSecrets) -> Self {
        Self {
            sender_data_secret: secrets.sender_data_secret.clone(),
            encryption_secret: secrets.encryption_secret.clone(),
            exporter_secret: secrets.exporter_secret.clone(),
            external_secret: secrets.external_secret.clone(),
            confirmation_key: secrets.confirmation_key.clone(),
            membership_key: secrets.membership_key.clone(),
            resumption_psk: secrets.resumption_psk.clone(),
            epoch_authenticator: secrets.epoch_authenticator.clone(),
            init_secret: secrets.init_secret.clone(),
        }
    }

    fn into_secrets(self) -> EpochSecrets {
        EpochSecrets {
            sender_data_secret: self.sender_data_secret,
            encryption_secret: self.encryption_secret,
            exporter_secret: self.exporter_secret,
            external_secret: self.external_secret,
            confirmation_key: self.confirmation_key,
            membership_key: self.membership_key,
            resumption_psk: self.resumption_psk,
            epoch_authenticator: self.epoch_authenticator,
            init_secret: self.init_secret,
            application_export_secret: Secret::default(),
        }
    }
}

/// A cached proposal (RFC 9420 §12.1), as members and the non-member view
/// ([`crate::public_group`]) store it.
#[derive(Encode, Decode)]
pub(crate) struct StoredProposal {
    reference: ProposalRef,
    proposal: Proposal,
    sender: Sender,
}

impl StoredProposal {
    pub(crate) fn of(cached: &CachedProposal) -> Self {
        Self {
            reference: cached.reference.clone(),
            proposal: cached.proposal.clone(),
            sender: cached.sender,
        }
    }

    pub(crate) fn into_cached(self) -> CachedProposal {
        CachedProposal {
            reference: self.reference,
            proposal: self.proposal,
            sender: self.sender,
        }
    }
}

/// A [`LifetimePolicy`] as stored: 0 new KeyPackages only, 1 always, 2 never.
pub(crate) fn lifetime_policy_code(policy: LifetimePolicy) -> u8 {
    match policy {
        LifetimePolicy::Always => 1,
        LifetimePolicy::Never => 2,
        _ => 0,
    }
}

/// The [`LifetimePolicy`] of a stored code ([`lifetime_policy_code`]).
pub(crate) fn lifetime_policy_of_code(code: u8) -> LifetimePolicy {
    match code {
        1 => LifetimePolicy::Always,
        2 => LifetimePolicy::Never,
        _ => LifetimePolicy::NewKeyPackagesOnly,
    }
}

/// A [`MediaTypePolicy`] as stored: 0 require, 1 ignore.
pub(crate) fn media_type_policy_code(policy: MediaTypePolicy) -> u8 {
    match policy {
        MediaTypePolicy::Ignore => 1,
        _ => 0,
    }
}

/// The [`MediaTypePolicy`] of a stored code ([`media_type_policy_code`]).
pub(crate) fn media_type_policy_of_code(code: u8) -> MediaTypePolicy {
    match code {
        1 => MediaTypePolicy::Ignore,
        _ => MediaTypePolicy::Require,
    }
}

#[derive(Encode, Decode)]
struct StoredPending {
    encoded: Vec<u8>,
    epoch: Option<StoredEpoch>,
    private: Option<PrivateTree>,
    summary: StoredSummary,
    status: Option<GroupStatus>,
}

/// A [`CommitSummary`] as format versions 1–5 store it; its `app_data` is in the
/// [`section::PENDING_APP_DATA`] section.
#[derive(Encode, Decode)]
struct StoredSummary {
    epoch: u64,
    committer: Sender,
    committer_leaf: Option<LeafIndex>,
    added: Vec<LeafIndex>,
    removed: Vec<LeafIndex>,
    updated: Vec<LeafIndex>,
    reinit: Option<crate::messages::ReInit>,
    self_removed: bool,
}

impl StoredSummary {
    fn of(summary: &CommitSummary) -> Self {
        Self {
            epoch: summary.epoch,
            committer: summary.committer,
            committer_leaf: summary.committer_leaf,
            added: summary.added.clone(),
            removed: summary.removed.clone(),
            updated: summary.updated.clone(),
            reinit: summary.reinit.clone(),
            self_removed: summary.self_removed,
        }
    }

    fn into_summary(self) -> CommitSummary {
        CommitSummary {
            epoch: self.epoch,
            committer: self.committer,
            committer_leaf: self.committer_leaf,
            added: self.added,
            removed: self.removed,
            updated: self.updated,
            reinit: self.reinit,
            self_removed: self.self_removed,
            app_data: AppDataSummary::default(),
        }
    }
}

#[derive(Encode, Decode)]
struct StoredPast {
    context: GroupContext,
    own_leaf: LeafIndex,
    secret_tree: SecretTree,
    sender_data_secret: Secret,
    signature_keys: Vec<Option<SignaturePublicKey>>,
}

#[derive(Encode, Decode)]
struct StoredResumption {
    epoch: u64,
    psk: Secret,
}

#[derive(Encode, Decode)]
struct StoredNodeKey {
    secret_key: Secret,
    public_key: crate::messages::HpkePublicKey,
}

#[derive(Encode, Decode)]
struct StoredGroup {
    version: u16,
    config: StoredConfig,
    signer: StoredSigner,
    epoch: StoredEpoch,
    private: PrivateTree,
    proposals: Vec<StoredProposal>,
    pending_commit: Option<StoredPending>,
    past_epochs: Vec<StoredPast>,
    resumption_psks: Vec<StoredResumption>,
    status: GroupStatus,
    pending_updates: Vec<StoredNodeKey>,
    linked_psks: Vec<StoredLinkedPsk>,
}

/// Cached tree hashes of one epoch's ratchet tree (see [`RatchetTree::stored_hashes`]).
#[derive(Encode, Decode)]
pub(crate) struct StoredHashes {
    cipher_suite: u16,
    hashes: Vec<StoredNodeHash>,
}

#[derive(Encode, Decode)]
struct StoredNodeHash {
    node: u64,
    hash: Vec<u8>,
}

/// Format version 2's trailing section: the tree hashes of the current epoch and of the
/// pending commit's epoch.
#[derive(Encode, Decode)]
struct StoredTreeHashes {
    current: Option<StoredHashes>,
    pending: Option<StoredHashes>,
}

/// Reads the part of a stored state that format version 1 also has, for tests that build a
/// version 1 state.
#[cfg(test)]
pub(super) fn decode_without_tree_hashes(reader: &mut conclave_codec::Reader<'_>) {
    assert!(StoredGroup::decode(reader).is_ok());
}

impl StoredHashes {
    pub(crate) fn of(tree: &RatchetTree) -> Option<Self> {
        let (suite, hashes) = tree.stored_hashes()?;
        Some(Self {
            cipher_suite: suite.0,
            hashes: hashes
                .into_iter()
                .map(|(node, hash)| StoredNodeHash {
                    node: node.0,
                    hash: hash.to_vec(),
                })
                .collect(),
        })
    }

    pub(crate) fn restore(&self, tree: &mut RatchetTree, hash_len: usize) {
        tree.restore_hashes(
            conclave_crypto::CipherSuite(self.cipher_suite),
            hash_len,
            self.hashes
                .iter()
                .map(|h| (NodeIndex(h.node), h.hash.as_slice())),
        );
    }
}

#[derive(Encode, Decode)]
struct StoredLinkedPsk {
    group_id: Vec<u8>,
    epoch: u64,
    psk: Secret,
}

fn u32_of(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

impl StoredConfig {
    fn from_config(config: &GroupConfig) -> Self {
        Self {
            handshake_wire_format: config.handshake_wire_format,
            padding: match config.padding {
                PaddingPolicy::None => 0,
                PaddingPolicy::PadToMultipleOf(n) => n.get(),
            },
            max_past_epochs: u32_of(config.max_past_epochs),
            secret_tree: config.secret_tree,
            lifetime_policy: lifetime_policy_code(config.lifetime_policy),
            max_resumption_psks: u32_of(config.max_resumption_psks),
            allow_external_commits: config.allow_external_commits,
            allow_external_resync: config.allow_external_resync,
        }
    }

    fn into_config(self) -> GroupConfig {
        GroupConfig {
            handshake_wire_format: self.handshake_wire_format,
            padding: NonZeroU32::new(self.padding)
                .map_or(PaddingPolicy::None, PaddingPolicy::PadToMultipleOf),
            max_past_epochs: self.max_past_epochs as usize,
            secret_tree: self.secret_tree,
            lifetime_policy: lifetime_policy_of_code(self.lifetime_policy),
            max_resumption_psks: self.max_resumption_psks as usize,
            allow_external_commits: self.allow_external_commits,
            allow_external_resync: self.allow_external_resync,
            // Kept in their own state sections (they came after this record).
            codepoint_profile: CodepointProfile::default(),
            ..GroupConfig::default()
        }
    }
}

impl StoredEpoch {
    fn from_epoch(epoch: &EpochState, trees: SecretTrees) -> Self {
        Self {
            context: epoch.context.clone(),
            tree: epoch.tree.to_nodes(),
            interim_transcript_hash: epoch.interim_transcript_hash.clone(),
            confirmation_tag: epoch.confirmation_tag.clone(),
            secrets: StoredEpochSecrets::from_secrets(&epoch.secrets),
            secret_tree: trees.of(&epoch.secret_tree),
        }
    }

    fn into_epoch(self) -> Result<EpochState, GroupError> {
        Ok(EpochState {
            context: self.context,
            tree: RatchetTree::from_nodes(self.tree)?,
            interim_transcript_hash: self.interim_transcript_hash,
            confirmation_tag: self.confirmation_tag,
            secrets: self.secrets.into_secrets(),
            secret_tree: self.secret_tree,
            // Restored from its own section, if the state has it.
            exporter_tree: ExporterTree::unavailable(),
            member_proof: None,
        })
    }
}

impl Group {
    /// Serializes the whole member state (secrets included: store it encrypted at rest).
    ///
    /// This snapshot is O(members) bytes; [`Group::take_changes`] gives what changed since
    /// the last save as records instead, O(1) bytes after an application message.
    pub fn to_bytes(&self) -> Result<Vec<u8>, GroupError> {
        self.encode_state(FORMAT_VERSION, SecretTrees::Inline)
    }

    /// The state encoding of format `version`, with the current and past secret trees'
    /// entries written inline or left out.
    pub(super) fn encode_state(
        &self,
        version: u16,
        trees: SecretTrees,
    ) -> Result<Vec<u8>, GroupError> {
        let stored = StoredGroup {
            version,
            config: StoredConfig::from_config(&self.config),
            signer: StoredSigner {
                secret_key: self.signer.secret_key.clone(),
                public_key: self.signer.public_key.clone(),
                credential: self.signer.credential.clone(),
            },
            epoch: StoredEpoch::from_epoch(&self.epoch, trees),
            private: self.private.clone(),
            proposals: self.proposals.iter().map(StoredProposal::of).collect(),
            pending_commit: self.pending_commit.as_ref().map(|p| StoredPending {
                encoded: p.encoded.clone(),
                // The next epoch's secret tree is unused until the commit is merged.
                epoch: p
                    .staged
                    .epoch
                    .as_deref()
                    .map(|e| StoredEpoch::from_epoch(e, SecretTrees::Inline)),
                private: p.staged.private.clone(),
                summary: StoredSummary::of(&p.staged.summary),
                status: p.staged.status.clone(),
            }),
            past_epochs: self
                .past_epochs
                .iter()
                .map(|p| StoredPast {
                    context: p.context.clone(),
                    own_leaf: p.own_leaf,
                    secret_tree: trees.of(&p.secret_tree),
                    sender_data_secret: p.sender_data_secret.clone(),
                    signature_keys: p.signature_keys(),
                })
                .collect(),
            resumption_psks: self
                .resumption_psks
                .iter()
                .map(|(epoch, psk)| StoredResumption {
                    epoch: *epoch,
                    psk: psk.clone(),
                })
                .collect(),
            status: self.status.clone(),
            pending_updates: self
                .pending_updates
                .iter()
                .map(|k| StoredNodeKey {
                    secret_key: k.secret_key.clone(),
                    public_key: k.public_key.clone(),
                })
                .collect(),
            linked_psks: self
                .linked_psks
                .iter()
                .map(|(group_id, epoch, psk)| StoredLinkedPsk {
                    group_id: group_id.clone(),
                    epoch: *epoch,
                    psk: psk.clone(),
                })
                .collect(),
        };
        let hashes = StoredTreeHashes {
            current: StoredHashes::of(&self.epoch.tree),
            pending: self
                .pending_commit
                .as_ref()
                .and_then(|p| p.staged.epoch.as_deref())
                .and_then(|epoch| StoredHashes::of(&epoch.tree)),
        };
        let mut out = stored.to_bytes()?;
        hashes.encode(&mut out)?;
        if !VERSIONS_WITHOUT_SECTIONS.contains(&version) {
            self.state_sections()?.encode(&mut out)?;
        }
        Ok(out)
    }

    /// The [`StateSection`]s of this state. A section whose value is the default (what a
    /// state without it loads as) is left out.
    fn state_sections(&self) -> Result<Vec<StateSection>, GroupError> {
        let mut sections = Vec::new();
        if self.config.codepoint_profile != CodepointProfile::default() {
            sections.push(StateSection {
                tag: section::CODEPOINT_PROFILE,
                data: self.config.codepoint_profile.to_bytes()?,
            });
        }
        let exporter_trees = StoredExporterTrees {
            current: self.epoch.exporter_tree.to_stored(),
            pending: self
                .pending_commit
                .as_ref()
                .and_then(|p| p.staged.epoch.as_deref())
                .and_then(|epoch| epoch.exporter_tree.to_stored()),
        };
        if exporter_trees.current.is_some() || exporter_trees.pending.is_some() {
            sections.push(StateSection {
                tag: section::EXPORTER_TREES,
                data: exporter_trees.to_bytes()?,
            });
        }
        if self.config.ratchet_tree_location == RatchetTreeLocation::DeliveryService {
            sections.push(StateSection {
                tag: section::RATCHET_TREE_LOCATION,
                data: vec![1],
            });
        }
        let policy = StoredAppDataPolicy::of(&self.config);
        if policy != StoredAppDataPolicy::of(&GroupConfig::default()) {
            sections.push(StateSection {
                tag: section::APP_DATA_POLICY,
                data: policy.to_bytes()?,
            });
        }
        let member_proof = StoredMemberProof {
            current: self.epoch.member_proof.as_ref().map(|k| k.secret().clone()),
            pending: self
                .pending_commit
                .as_ref()
                .and_then(|p| p.staged.epoch.as_deref())
                .and_then(|epoch| epoch.member_proof.as_ref())
                .map(|k| k.secret().clone()),
            past: self
                .past_epochs
                .iter()
                .filter_map(|p| {
                    p.member_proof_key
                        .as_ref()
                        .map(|key| StoredPastMemberProofKey {
                            epoch: p.context.epoch,
                            public_key: key.clone(),
                        })
                })
                .collect(),
        };
        if member_proof.current.is_some()
            || member_proof.pending.is_some()
            || !member_proof.past.is_empty()
        {
            sections.push(StateSection {
                tag: section::MEMBER_PROOF,
                data: member_proof.to_bytes()?,
            });
        }
        if !self.late_updates.is_empty() {
            sections.push(StateSection {
                tag: section::LATE_UPDATES,
                data: self.late_updates.to_bytes()?,
            });
        }
        if let Some(pending) = self.pending_commit.as_deref()
            && !pending.staged.summary.app_data.is_empty()
        {
            sections.push(StateSection {
                tag: section::PENDING_APP_DATA,
                data: pending.staged.summary.app_data.to_bytes()?,
            });
        }
        Ok(sections)
    }

    /// Loads a member state written by [`Group::to_bytes`] (format version 1, 2 or 4).
    ///
    /// The loaded group has not been saved as records yet: its first
    /// [`Group::take_changes`] is a full rewrite, which is how a snapshot is migrated to the
    /// record layout.
    pub fn from_bytes(env: GroupEnv, bytes: &[u8]) -> Result<Self, GroupError> {
        let (group, version) = Self::decode_state(env, bytes)?;
        if is_record_format(version) {
            return Err(GroupError::MalformedState(
                "a group record is not a snapshot (see Group::load)",
            ));
        }
        Ok(group)
    }

    /// Decodes a state of any known format version; returns the version too.
    pub(super) fn decode_state(env: GroupEnv, bytes: &[u8]) -> Result<(Self, u16), GroupError> {
        let mut reader = conclave_codec::Reader::new(bytes);
        let stored = StoredGroup::decode(&mut reader)?;
        let version = stored.version;
        let hashes = match version {
            1 => None,
            2 | RECORD_FORMAT_VERSION_3 | FORMAT_VERSION | RECORD_FORMAT_VERSION => {
                Some(StoredTreeHashes::decode(&mut reader)?)
            }
            _ => return Err(GroupError::MalformedState("unknown state format version")),
        };
        let sections = if version > 1 && !VERSIONS_WITHOUT_SECTIONS.contains(&version) {
            Vec::<StateSection>::decode(&mut reader)?
        } else {
            Vec::new()
        };
        reader.finish()?;
        let mut config = stored.config.into_config();
        let mut exporter_trees = None;
        let mut pending_app_data = None;
        let mut member_proof = None;
        let mut late_updates = Vec::new();
        for section in sections {
            match section.tag {
                section::CODEPOINT_PROFILE => {
                    config.codepoint_profile = CodepointProfile::from_bytes(&section.data)?;
                }
                section::EXPORTER_TREES => {
                    exporter_trees = Some(StoredExporterTrees::from_bytes(&section.data)?);
                }
                section::APP_DATA_POLICY => {
                    StoredAppDataPolicy::from_bytes(&section.data)?.apply(&mut config);
                }
                section::PENDING_APP_DATA => {
                    pending_app_data = Some(AppDataSummary::from_bytes(&section.data)?);
                }
                section::MEMBER_PROOF => {
                    member_proof = Some(StoredMemberProof::from_bytes(&section.data)?);
                }
                section::RATCHET_TREE_LOCATION => {
                    config.ratchet_tree_location = match section.data.as_slice() {
                        [1] => RatchetTreeLocation::DeliveryService,
                        _ => {
                            return Err(GroupError::MalformedState(
                                "unknown ratchet tree location",
                            ));
                        }
                    };
                }
                section::LATE_UPDATES => {
                    late_updates = Vec::<super::replace::LateUpdate>::from_bytes(&section.data)?;
                }
                _ => return Err(GroupError::MalformedState("unknown state section")),
            }
        }
        let (current_exporter, pending_exporter) = match exporter_trees {
            Some(trees) => (
                trees.current.map(ExporterTree::from_stored).transpose()?,
                trees.pending.map(ExporterTree::from_stored).transpose()?,
            ),
            None => (None, None),
        };
        let mut epoch = stored.epoch.into_epoch()?;
        if let Some(tree) = current_exporter {
            epoch.exporter_tree = tree;
        }
        let cs = env.suite(epoch.context.cipher_suite)?;
        let hash_len = cs.hash_len();
        let (current_proof, mut pending_proof, past_proof_keys) = match member_proof {
            Some(stored) => (stored.current, stored.pending, stored.past),
            None => (None, None, Vec::new()),
        };
        let proof_keys = |secret: Secret| MemberProofKeys::from_secret(cs.as_ref(), secret);
        epoch.member_proof = current_proof.map(proof_keys).transpose()?;
        if let Some(current) = hashes.as_ref().and_then(|h| h.current.as_ref()) {
            current.restore(&mut epoch.tree, hash_len);
        }
        let mut pending_exporter = pending_exporter;
        let pending_commit = match stored.pending_commit {
            None => None,
            Some(p) => Some(Box::new(PendingCommit {
                encoded: p.encoded,
                staged: StagedCommit {
                    epoch: p
                        .epoch
                        .map(StoredEpoch::into_epoch)
                        .transpose()?
                        .map(|mut pending| {
                            if let Some(stored) = hashes.as_ref().and_then(|h| h.pending.as_ref()) {
                                stored.restore(&mut pending.tree, hash_len);
                            }
                            if let Some(tree) = pending_exporter.take() {
                                pending.exporter_tree = tree;
                            }
                            pending.member_proof = pending_proof
                                .take()
                                .map(|s| MemberProofKeys::from_secret(cs.as_ref(), s))
                                .transpose()?;
                            Ok::<_, GroupError>(Box::new(pending))
                        })
                        .transpose()?,
                    private: p.private,
                    summary: {
                        let mut summary = p.summary.into_summary();
                        if let Some(app_data) = pending_app_data.take() {
                            summary.app_data = app_data;
                        }
                        summary
                    },
                    status: p.status,
                },
            })),
        };
        if pending_proof.is_some() {
            return Err(GroupError::MalformedState(
                "a member-proof secret for a pending commit the state does not have",
            ));
        }
        if pending_exporter.is_some() {
            return Err(GroupError::MalformedState(
                "an exporter tree for a pending commit the state does not have",
            ));
        }
        let group = Self {
            env,
            cs,
            config: config.into(),
            signer: SigningIdentity {
                secret_key: stored.signer.secret_key,
                public_key: stored.signer.public_key,
                credential: stored.signer.credential,
            }
            .into(),
            epoch: epoch.into(),
            private: stored.private.into(),
            proposals: stored
                .proposals
                .into_iter()
                .map(StoredProposal::into_cached)
                .collect::<Vec<_>>()
                .into(),
            pending_commit: pending_commit.into(),
            past_epochs: stored
                .past_epochs
                .into_iter()
                .map(|p| PastEpoch {
                    member_proof_key: past_proof_keys
                        .iter()
                        .find(|k| k.epoch == p.context.epoch)
                        .map(|k| k.public_key.clone()),
                    context: p.context,
                    own_leaf: p.own_leaf,
                    secret_tree: p.secret_tree,
                    sender_data_secret: p.sender_data_secret,
                    members: PastMembers::Keys(p.signature_keys),
                })
                .collect::<VecDeque<_>>()
                .into(),
            resumption_psks: stored
                .resumption_psks
                .into_iter()
                .map(|r| (r.epoch, r.psk))
                .collect::<VecDeque<_>>()
                .into(),
            status: stored.status.into(),
            pending_updates: stored
                .pending_updates
                .into_iter()
                .map(|k| NodeKey {
                    secret_key: k.secret_key,
                    public_key: k.public_key,
                })
                .collect::<Vec<_>>()
                .into(),
            late_updates: late_updates.into(),
            linked_psks: stored
                .linked_psks
                .into_iter()
                .map(|l| (l.group_id, l.epoch, l.psk))
                .collect::<Vec<_>>()
                .into(),
            changes: super::records::ChangeLog::unsaved(),
            components: super::app_data::Components::default(),
        };
        Ok((group, version))
    }
}
