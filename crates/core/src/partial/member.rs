//! A partial member (draft-ietf-mls-partial-02): a member that holds the group's secrets,
//! the tree hash, its own leaf and the private keys of its direct path, but no ratchet tree.
//!
//! * **Joining** ([`PartialMember::join`], §8 "Joining via Annotated Welcome"): RFC 9420
//!   §12.4.3.1 with the draft's three changes — the GroupInfo's signer is the leaf the
//!   sender proof proves (and must be its `signer`), the tree check is replaced by checking
//!   both proofs against the GroupInfo's `tree_hash`, and our leaf index is the joiner proof's
//!   (which must prove our KeyPackage's leaf).
//! * **Following commits** ([`PartialMember::process_annotated_commit`], §10 "Annotated
//!   Commit"): RFC 9420 §12.4.2 without the tree — the sender proof authenticates a member's
//!   commit, a `new_member_commit` carries none and is signed by its UpdatePath leaf, the
//!   post-commit proofs are checked against `tree_hash_after` (which enters the provisional
//!   GroupContext), the path secret comes from the annotated UpdatePath, and only proposals
//!   that leave the tree alone take effect here (PreSharedKey, GroupContextExtensions,
//!   ReInit, ExternalInit, and draft-ietf-mls-extensions-10 §4.7 AppDataUpdates through the
//!   same code as at full members, with the application's components; a Remove or
//!   SelfRemove of our own leaf ends the member). The confirmation tag authenticates
//!   `tree_hash_after` (§10). A commit is staged and adopted only when every check passed.
//! * **Handshake wire formats**: PublicMessage, PrivateMessage, and SemiPrivateMessage
//!   (draft-mahy-mls-semiprivatemessage-07 §3.2) where the group context enables it — the
//!   Delivery Service that annotates for us reads semi-private handshakes as an external
//!   receiver.
//! * **Messages** (§7, §11): application messages arrive as
//!   `SenderAuthenticatedMessage<PrivateMessage>`; they are decrypted with the secret tree,
//!   the sender proof is checked against the epoch's tree hash and must prove the decrypted
//!   sender, and the signature is verified with the proven key. Proposal messages are cached
//!   by reference for the commit that covers them.
//! * **What a partial member cannot do** (§4, §9): commit, propose changes to the tree, join
//!   by external commit — [`PartialMemberError::Refused`].
//!
//! Sans-IO: randomness is passed in; nothing here reads a clock.

use conclave_codec::{Decode, Encode};
use conclave_crypto::{CipherSuiteProvider, CryptoProvider, CryptoRandom, Secret, hpke};

use super::state::{
    FORMAT_VERSION, PAST_EPOCH_WINDOW, PartialSecrets, RESUMPTION_PSK_WINDOW, STATUS_ACTIVE,
    STATUS_REINIT, STATUS_REMOVED, StoredNodeKey, StoredPartialMember, StoredPastEpoch,
    StoredResumptionPsk,
};
use crate::codepoints::CodepointProfile;
use crate::framing::{
    FramingError, PaddingPolicy, UnverifiedContent, VerifiedContent, protect_private, sign_content,
    unprotect_private, unprotect_public, unprotect_public_without_membership_key,
    unprotect_semi_private,
};
use crate::group::commit::{EXTERNAL_INIT_LABEL, psk_secret};
use crate::group::proposals::{CachedProposal, check_sender_may_propose};
use crate::group::storage::StoredProposal;
use crate::group::{GroupError, KeyPackageBundle, PskStore};
use crate::key_schedule::{EpochSecrets, KeySchedule, KeyScheduleError, mls_exporter};
use crate::member_proof::MemberProofKeys;
use crate::messages::ExtensionProposalBody;
use crate::messages::{
    Commit, Content, ContentType, Extension, FramedContent, GroupContext, LeafIndex, LeafNode,
    MlsMessage, MlsMessageBody, PreSharedKeyId, PrivateMessage, Proposal, ProposalOrRef, Psk,
    ReInit, Sender, UpdatePath, WireFormat,
};
use crate::partial::PartialError;
use crate::secret_tree::{SecretTree, SecretTreeConfig};
use crate::transcript::{self, TranscriptError};
use crate::tree_math::{NodeIndex, TreeSize};
use crate::treekem::{NodeKey, PrivateTree, TreeKemError};
use crate::welcome::{
    WelcomeError, check_psk_ids, decrypt_group_info, decrypt_group_secrets, find_group_secrets,
    joiner_epoch_secrets, joiner_key_schedule,
};

mod proven;

pub use proven::ProvenMember;

/// The draft this module implements, as its errors cite it.
const DRAFT: &str = "draft-ietf-mls-partial-02";

/// Why a partial member refused an input or an operation. Each message names the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PartialMemberError {
    /// An operation a partial member cannot perform (it holds no tree).
    #[error("{DRAFT} §{section}: a partial member cannot {what}")]
    Refused {
        /// What was asked.
        what: &'static str,
        /// The draft section that rules it out.
        section: &'static str,
    },
    /// A `new_member_commit` arrived with a pre-commit sender proof.
    #[error("{DRAFT} §10: a new_member_commit's sender_membership_proof MUST be absent")]
    SenderProofOnNewMemberCommit,
    /// A member's commit arrived without a pre-commit sender proof.
    #[error("{DRAFT} §10: a member commit's sender_membership_proof MUST be present")]
    MissingSenderProof,
    /// A proof does not recompute the tree hash it must be valid against.
    #[error("{DRAFT} §6: the {which} membership proof is not valid for the expected tree hash")]
    WrongTreeHash {
        /// Which proof.
        which: &'static str,
    },
    /// Two proofs that must reference the same tree do not.
    #[error("{DRAFT} §6, §{section}: the {which} proofs do not reference the same tree")]
    ProofsDisagree {
        /// Which pair of proofs.
        which: &'static str,
        /// The section that requires them to agree.
        section: &'static str,
    },
    /// A proof proves another leaf than the one the message names.
    #[error(
        "{DRAFT} §{section}: the {which} proof is for leaf {proven}, the message names leaf {named}"
    )]
    ProvenLeafMismatch {
        /// Which proof.
        which: &'static str,
        /// The proven leaf index.
        proven: u32,
        /// The leaf the message (or our state) names.
        named: u32,
        /// The section requiring them equal.
        section: &'static str,
    },
    /// The GroupInfo's signer is not the leaf the Welcome's sender proof proves.
    #[error("{DRAFT} §8: the GroupInfo signer {signer} is not the proven sender {proven}")]
    GroupInfoSignerNotProvenSender {
        /// `GroupInfo.signer`.
        signer: u32,
        /// `sender_membership_proof.leaf_index`.
        proven: u32,
    },
    /// The joiner proof (or a receiver proof) proves a leaf that is not ours.
    #[error("{DRAFT} §{section}: the {which} proof does not prove our own leaf node")]
    NotOurLeaf {
        /// Which proof.
        which: &'static str,
        /// The section.
        section: &'static str,
    },
    /// `resolution_index` is present without an UpdatePath or absent with one.
    #[error("{DRAFT} §10: resolution_index MUST be included if and only if the commit has a path")]
    ResolutionIndexPresence,
    /// The AnnotatedCommit's message is not a commit in a Public-, Private- or
    /// SemiPrivateMessage.
    #[error("{DRAFT} §10: the AnnotatedCommit does not carry a commit ({0})")]
    NotACommit(&'static str),
    /// The message is for another epoch or group.
    #[error("RFC 9420 §6: the message is for epoch {got} of this group, we are at {current}")]
    WrongEpoch {
        /// The message's epoch.
        got: u64,
        /// Ours.
        current: u64,
    },
    /// A commit names a proposal we have not cached.
    #[error("RFC 9420 §12.4.2: the commit references a proposal we have not received")]
    UnknownProposalRef,
    /// A PSK the commit or Welcome needs is not available.
    #[error("RFC 9420 §8.4, §12.4.2: a PSK the message uses is not available")]
    PskNotFound,
    /// The commit's confirmation tag does not verify in the new epoch.
    #[error("RFC 9420 §12.4.2, {DRAFT} §10: the confirmation tag does not verify")]
    ConfirmationTag,
    /// A proposal or commit this member cannot interpret without the tree or a component.
    #[error("{DRAFT} §10: a partial member cannot apply {0}")]
    UnsupportedProposal(&'static str),
    /// The member was removed or the group reinitialised: it follows no further epochs.
    #[error("RFC 9420 §12.4.2, §11.2: this partial member no longer follows the group")]
    Inactive,
    /// A key derived from a path secret is not the one the proof shows.
    #[error("{DRAFT} §8: a key derived from the Welcome's path_secret is not the tree's")]
    PathKeyMismatch,
    /// The stored state could not be read.
    #[error("partial member state: {0}")]
    Storage(&'static str),
    /// A membership proof or annotation was refused.
    #[error(transparent)]
    Proof(#[from] crate::partial::PartialError),
    /// Welcome processing (RFC 9420 §12.4.3.1).
    #[error(transparent)]
    Welcome(#[from] WelcomeError),
    /// Framing (RFC 9420 §6).
    #[error(transparent)]
    Framing(#[from] FramingError),
    /// The key schedule (RFC 9420 §8).
    #[error(transparent)]
    KeySchedule(#[from] KeyScheduleError),
    /// TreeKEM key derivation (RFC 9420 §7.4).
    #[error(transparent)]
    TreeKem(#[from] TreeKemError),
    /// Transcript hashes (RFC 9420 §8.2).
    #[error(transparent)]
    Transcript(#[from] TranscriptError),
    /// A rule shared with full members.
    #[error(transparent)]
    Group(Box<GroupError>),
    /// Encoding or decoding.
    #[error("encoding: {0}")]
    Codec(#[from] conclave_codec::CodecError),
    /// A cryptographic operation.
    #[error("crypto: {0}")]
    Crypto(#[from] conclave_crypto::CryptoError),
}

impl From<GroupError> for PartialMemberError {
    fn from(e: GroupError) -> Self {
        Self::Group(Box::new(e))
    }
}

impl From<crate::secret_tree::SecretTreeError> for PartialMemberError {
    fn from(e: crate::secret_tree::SecretTreeError) -> Self {
        Self::Framing(FramingError::from(e))
    }
}

impl From<crate::validation::ValidationError> for PartialMemberError {
    fn from(e: crate::validation::ValidationError) -> Self {
        Self::Group(Box::new(GroupError::from(e)))
    }
}

/// Where a partial member finds PSKs (RFC 9420 §8.4): external and application PSKs in a
/// store, resumption PSKs of other groups supplied by the caller, its own in its window.
pub struct PartialPsks<'a> {
    /// External and application PSKs.
    pub store: &'a dyn PskStore,
    /// Resumption PSKs of other groups, `(group_id, epoch, secret)` (ReInit, branch).
    pub linked: &'a [(Vec<u8>, u64, Secret)],
}

impl PartialPsks<'_> {
    /// No PSKs at all.
    pub const NONE: PartialPsks<'static> = PartialPsks {
        store: &(),
        linked: &[],
    };
}

/// What a processed AnnotatedCommit did to the partial member.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PartialCommitOutcome {
    /// The member is in the next epoch.
    Advanced {
        /// The new epoch.
        epoch: u64,
        /// The committer's leaf (for an external commit, the joiner's new leaf).
        committer: LeafIndex,
    },
    /// The commit removed us: the member follows no further epochs (RFC 9420 §12.4.2).
    Removed,
    /// The commit carried a ReInit: the member is in the last epoch of this group (§11.2).
    ReInitialized(ReInit),
}

/// An application message decrypted and authenticated by a partial member (§11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialApplicationMessage {
    /// The proven sender.
    pub sender: LeafIndex,
    /// The sender's LeafNode, as its membership proof shows it (credential included).
    pub sender_leaf: LeafNode,
    /// The epoch the message was sent in.
    pub epoch: u64,
    /// The application data.
    pub data: Vec<u8>,
    /// The message's `authenticated_data`.
    pub authenticated_data: Vec<u8>,
}

/// A partial member of one group: see the module documentation.
pub struct PartialMember {
    cs: Box<dyn CipherSuiteProvider>,
    context: GroupContext,
    interim_transcript_hash: Vec<u8>,
    confirmation_tag: Vec<u8>,
    n_leaves: u32,
    own_leaf: LeafIndex,
    own_leaf_node: LeafNode,
    signature_key: Secret,
    keys: PrivateTree,
    secrets: PartialSecrets,
    secret_tree: SecretTree,
    resumption_psks: Vec<StoredResumptionPsk>,
    proposals: Vec<CachedProposal>,
    status: u8,
    reinit: Option<ReInit>,
    /// The most recent past epochs, oldest first, for late application messages.
    past_epochs: Vec<StoredPastEpoch>,
    /// The epoch's member-proof keys, if it has member proofs
    /// (draft-mahy-mls-member-proof-00 §3).
    member_proof: Option<MemberProofKeys>,
    /// Which codepoints the group's drafts use (not persisted: the caller's configuration,
    /// [`PartialMember::set_codepoint_profile`]).
    profile: CodepointProfile,
    /// The application's components, for AppDataUpdates (draft-ietf-mls-extensions-10
    /// §4.7); not persisted ([`PartialMember::set_component_handler`]).
    components: crate::group::Components,
}

impl core::fmt::Debug for PartialMember {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PartialMember")
            .field("group_id", &hex_prefix(&self.context.group_id))
            .field("epoch", &self.context.epoch)
            .field("own_leaf", &self.own_leaf)
            .field("n_leaves", &self.n_leaves)
            .finish_non_exhaustive()
    }
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The parts of a partial member's epoch, for a caller that holds them from elsewhere (a
/// state exported by another implementation, or the draft's test vectors, whose "partial
/// client state" has exactly these fields): [`PartialMember::from_parts`].
#[derive(Debug, Clone)]
pub struct PartialParts {
    /// The epoch's GroupContext.
    pub context: GroupContext,
    /// The interim transcript hash (RFC 9420 §8.2).
    pub interim_transcript_hash: Vec<u8>,
    /// The number of leaves of the epoch's tree.
    pub n_leaves: u32,
    /// Our leaf index.
    pub own_leaf: LeafIndex,
    /// Our LeafNode.
    pub own_leaf_node: LeafNode,
    /// Our signature private key.
    pub signature_key: Secret,
    /// The private keys we hold: our leaf's and those of our direct path, with their nodes.
    pub keys: Vec<(NodeIndex, NodeKey)>,
    /// `init_secret` of the next epoch.
    pub init_secret: Secret,
    /// `sender_data_secret`.
    pub sender_data_secret: Secret,
    /// `encryption_secret` (root of the secret tree).
    pub encryption_secret: Secret,
    /// `membership_key`.
    pub membership_key: Secret,
    /// `exporter_secret`.
    pub exporter_secret: Secret,
    /// `external_secret`.
    pub external_secret: Secret,
    /// `resumption_psk`.
    pub resumption_psk: Secret,
    /// `epoch_authenticator`.
    pub epoch_authenticator: Secret,
}

impl PartialMember {
    // ---- joining -----------------------------------------------------------------------

    /// Joins a group from an AnnotatedWelcome (draft-ietf-mls-partial-02 §8; RFC 9420
    /// §12.4.3.1 with the draft's changes): `key_package` is the KeyPackage the Welcome is
    /// for with its private keys, `signature_key` the private key of its leaf's
    /// `signature_key`. The GroupInfo must be signed by the leaf the sender proof proves, and
    /// the joiner proof must prove our KeyPackage's leaf; both proofs must reference the
    /// tree whose hash the GroupInfo carries.
    pub fn join(
        crypto: &dyn CryptoProvider,
        annotated_welcome: &super::AnnotatedWelcome,
        key_package: &KeyPackageBundle,
        signature_key: Secret,
        psks: &PartialPsks<'_>,
        secret_tree: SecretTreeConfig,
    ) -> Result<Self, PartialMemberError> {
        Self::join_with_group_info_extensions(
            crypto,
            annotated_welcome,
            key_package,
            signature_key,
            psks,
            secret_tree,
        )
        .map(|(member, _)| member)
    }

    /// [`PartialMember::join`], also returning the GroupInfo's `extensions` (RFC 9420
    /// §12.4.3): what the adder told joiners beyond the group context (an application's
    /// name for the group, say), which the partial member does not keep.
    pub fn join_with_group_info_extensions(
        crypto: &dyn CryptoProvider,
        annotated_welcome: &super::AnnotatedWelcome,
        key_package: &KeyPackageBundle,
        signature_key: Secret,
        psks: &PartialPsks<'_>,
        secret_tree: SecretTreeConfig,
    ) -> Result<(Self, Vec<Extension>), PartialMemberError> {
        let (welcome, sender_proof, joiner_proof) = proven::welcome_parts(annotated_welcome);
        let cs = crypto
            .cipher_suite_provider(welcome.cipher_suite)
            .ok_or(GroupError::UnsupportedCipherSuite(welcome.cipher_suite))?;
        let csr = cs.as_ref();
        let kp = &key_package.key_package;

        // RFC 9420 §12.4.3.1 steps 1–3: our GroupSecrets, the PSKs, the GroupInfo.
        let entry = find_group_secrets(csr, welcome, kp)?;
        let secrets =
            decrypt_group_secrets(csr, welcome, entry, key_package.init_private_key.as_bytes())?;
        check_psk_ids(&secrets.psks)?;
        let psk_values = resolve_psks(&secrets.psks, psks, None)?;
        let psk = psk_secret(csr, &secrets.psks, &psk_values)?;
        let schedule = joiner_key_schedule(csr, &secrets, psk.as_ref().map(Secret::as_bytes))?;
        let group_info = decrypt_group_info(csr, welcome, &schedule)?;
        crate::group::join::check_own_key_package(&group_info, kp)?;
        let tree_hash = &group_info.group_context.tree_hash;

        // §8: both proofs against the GroupInfo's tree hash (replacing the tree check) and
        // referencing the same tree.
        // §8: the GroupInfo's signer is the proven sender, the sender proof is valid for the
        // GroupInfo's tree hash (replacing the tree check), and the signature verifies
        // with the proven key; the joiner proof is valid for the same tree.
        let proven_sender =
            crate::partial::verify_group_info_sender(csr, &group_info, sender_proof).map_err(
                |e| match e {
                    PartialError::SenderMismatch { sender, proven, .. } => {
                        PartialMemberError::GroupInfoSignerNotProvenSender {
                            signer: sender.0,
                            proven: proven.0,
                        }
                    }
                    other => proof_error(other, "Welcome sender", "8"),
                },
            )?;
        let sender_leaf = proven_sender.leaf_index;
        let joiner = ProvenMember::verify(csr, joiner_proof, tree_hash, "joiner")?;
        sender_proof
            .same_tree_as(
                joiner_proof,
                csr,
                "AnnotatedWelcome sender and joiner proofs",
            )
            .map_err(|e| proof_error(e, "sender and joiner", "8"))?;
        crate::validation::check_unique_extensions(&group_info.extensions)?;
        crate::validation::check_unique_extensions(&group_info.group_context.extensions)?;
        // draft-mahy-mls-member-proof-00 (D4): the epoch's member-proof secret comes in the
        // GroupInfo.
        let member_proof = if crate::member_proof::enabled(&group_info.group_context.extensions)
            .map_err(GroupError::from)?
        {
            let secret = crate::member_proof::secret_in_group_info(&group_info.extensions)
                .map_err(GroupError::from)?
                .ok_or(GroupError::from(
                    crate::member_proof::MemberProofError::NoKey,
                ))?;
            Some(MemberProofKeys::from_secret(csr, secret).map_err(GroupError::from)?)
        } else {
            None
        };
        // §8: my_leaf is the joiner proof's leaf, which must be our KeyPackage's.
        if *joiner.leaf_node != *kp.leaf_node {
            return Err(PartialMemberError::NotOurLeaf {
                which: "joiner",
                section: "8",
            });
        }
        let own = joiner.leaf;
        let mut keys = PrivateTree::new(
            own,
            NodeKey {
                secret_key: key_package.encryption_private_key.clone(),
                public_key: kp.leaf_node.encryption_key.clone(),
            },
        );
        if let Some(path_secret) = secrets.path_secret.clone() {
            insert_welcome_path(csr, &mut keys, &joiner, sender_leaf, path_secret)?;
        }

        // RFC 9420 §12.4.3.1: the key schedule and the confirmation tag.
        let epoch_secrets = joiner_epoch_secrets(csr, schedule, &group_info)?;
        let context = group_info.group_context;
        let interim = transcript::interim_transcript_hash(
            csr,
            &context.confirmed_transcript_hash,
            &group_info.confirmation_tag,
        )?;
        let (secrets, secret_tree) = split_secrets(epoch_secrets, joiner.n_leaves, secret_tree)?;
        let member = Self {
            cs,
            context,
            interim_transcript_hash: interim,
            confirmation_tag: group_info.confirmation_tag,
            n_leaves: joiner.n_leaves,
            own_leaf: own,
            own_leaf_node: LeafNode::clone(&kp.leaf_node),
            signature_key,
            keys,
            secrets,
            secret_tree,
            resumption_psks: Vec::new(),
            proposals: Vec::new(),
            status: STATUS_ACTIVE,
            reinit: None,
            past_epochs: Vec::new(),
            member_proof,
            profile: CodepointProfile::default(),
            components: crate::group::Components::default(),
        };
        Ok((member, group_info.extensions))
    }

    /// A partial member from the parts of an epoch held elsewhere ([`PartialParts`]). The
    /// caller vouches for the parts: nothing here can check them against the group.
    pub fn from_parts(
        crypto: &dyn CryptoProvider,
        parts: PartialParts,
        secret_tree: SecretTreeConfig,
    ) -> Result<Self, PartialMemberError> {
        let suite = parts.context.cipher_suite;
        let cs = crypto
            .cipher_suite_provider(suite)
            .ok_or(GroupError::UnsupportedCipherSuite(suite))?;
        let size = TreeSize::new(parts.n_leaves).ok_or(PartialMemberError::Storage("no leaves"))?;
        let mut keys_iter = parts.keys.into_iter();
        let mut keys: Option<PrivateTree> = None;
        let mut rest = Vec::new();
        for (node, key) in keys_iter.by_ref() {
            if node == parts.own_leaf.node() && keys.is_none() {
                keys = Some(PrivateTree::new(parts.own_leaf, key));
            } else {
                rest.push((node, key));
            }
        }
        let mut keys = keys.ok_or(PartialMemberError::Storage("no key for our leaf"))?;
        for (node, key) in rest {
            keys.insert(node, key);
        }
        Ok(Self {
            cs,
            context: parts.context,
            interim_transcript_hash: parts.interim_transcript_hash,
            confirmation_tag: Vec::new(),
            n_leaves: parts.n_leaves,
            own_leaf: parts.own_leaf,
            own_leaf_node: parts.own_leaf_node,
            signature_key: parts.signature_key,
            keys,
            secrets: PartialSecrets {
                init_secret: parts.init_secret,
                sender_data_secret: parts.sender_data_secret,
                exporter_secret: parts.exporter_secret,
                external_secret: parts.external_secret,
                membership_key: parts.membership_key,
                resumption_psk: parts.resumption_psk,
                epoch_authenticator: parts.epoch_authenticator,
            },
            secret_tree: SecretTree::new(parts.encryption_secret, size, secret_tree),
            resumption_psks: Vec::new(),
            proposals: Vec::new(),
            status: STATUS_ACTIVE,
            reinit: None,
            past_epochs: Vec::new(),
            member_proof: None,
            profile: CodepointProfile::default(),
            components: crate::group::Components::default(),
        })
    }

    // ---- reading -----------------------------------------------------------------------

    /// Sets which codepoints the group's drafts use (draft-ietf-mls-extensions-10 proposal
    /// types, the semi-private wire format): [`CodepointProfile::Draft`] unless set. Not
    /// part of [`PartialMember::to_bytes`]; set it again after
    /// [`PartialMember::from_bytes`], as for a full member's configuration.
    pub fn set_codepoint_profile(&mut self, profile: CodepointProfile) {
        self.profile = profile;
    }

    /// Sets the application's components (draft-ietf-mls-extensions-10 §4.6, §4.7), which
    /// compute the new data of an AppDataUpdate for a component Conclave does not implement
    /// itself; none unless set. Not part of [`PartialMember::to_bytes`], like the profile.
    pub fn set_component_handler(&mut self, components: crate::group::Components) {
        self.components = components;
    }

    /// The group id.
    pub fn group_id(&self) -> &[u8] {
        &self.context.group_id
    }

    /// The current epoch.
    pub fn epoch(&self) -> u64 {
        self.context.epoch
    }

    /// The current GroupContext (its `tree_hash` is what every proof is checked against).
    pub fn context(&self) -> &GroupContext {
        &self.context
    }

    /// Our leaf index.
    pub fn own_leaf(&self) -> LeafIndex {
        self.own_leaf
    }

    /// Our LeafNode.
    pub fn own_leaf_node(&self) -> &LeafNode {
        &self.own_leaf_node
    }

    /// The number of leaves of the current tree (from the last proof of our own leaf).
    pub fn leaf_count(&self) -> u32 {
        self.n_leaves
    }

    /// The interim transcript hash (RFC 9420 §8.2).
    pub fn interim_transcript_hash(&self) -> &[u8] {
        &self.interim_transcript_hash
    }

    /// The epoch authenticator (RFC 9420 §8.7).
    pub fn epoch_authenticator(&self) -> &[u8] {
        self.secrets.epoch_authenticator.as_bytes()
    }

    /// `MLS-Exporter(label, context, length)` (RFC 9420 §8.5).
    pub fn export_secret(
        &self,
        label: &str,
        context: &[u8],
        length: usize,
    ) -> Result<Secret, PartialMemberError> {
        Ok(mls_exporter(
            self.cs.as_ref(),
            &self.secrets.exporter_secret,
            label,
            context,
            length,
        )?)
    }

    /// The resumption PSK of `epoch`, if it is the current one or in the kept window
    /// (RFC 9420 §8.6).
    pub fn resumption_psk(&self, epoch: u64) -> Option<&Secret> {
        if epoch == self.context.epoch {
            return Some(&self.secrets.resumption_psk);
        }
        self.resumption_psks
            .iter()
            .find(|p| p.epoch == epoch)
            .map(|p| &p.psk)
    }

    /// Whether the member still follows the group (not removed, no ReInit).
    pub fn is_active(&self) -> bool {
        self.status == STATUS_ACTIVE
    }

    /// The ReInit that ended this group, if one did (RFC 9420 §11.2).
    pub fn reinit(&self) -> Option<&ReInit> {
        self.reinit.as_ref()
    }

    /// The direct-path private keys we hold (our leaf's included), by node.
    pub fn path_keys(&self) -> impl Iterator<Item = (NodeIndex, &NodeKey)> {
        self.keys.keys()
    }

    fn ensure_active(&self) -> Result<(), PartialMemberError> {
        if self.is_active() {
            Ok(())
        } else {
            Err(PartialMemberError::Inactive)
        }
    }

    // ---- what a partial member cannot do ------------------------------------------------

    /// Always refused: a partial member cannot commit (draft-ietf-mls-partial-02 §4, §9:
    /// "partial clients cannot generate commits").
    pub fn commit(&self) -> Result<MlsMessage, PartialMemberError> {
        Err(PartialMemberError::Refused {
            what: "commit (it holds no ratchet tree)",
            section: "9",
        })
    }

    /// Always refused: a partial member cannot propose a change to the tree — Add, Update or
    /// Remove (draft-ietf-mls-partial-02 §4: it cannot process them; it would also need the
    /// tree to build them). The one exception, its own removal, is
    /// [`PartialMember::propose_own_removal`].
    pub fn propose_tree_change(
        &self,
        _proposal: &Proposal,
    ) -> Result<MlsMessage, PartialMemberError> {
        Err(PartialMemberError::Refused {
            what: "propose a change to the ratchet tree",
            section: "4",
        })
    }

    /// Asks to leave the group: a Remove proposal of our own leaf (RFC 9420 §12.1.3; any
    /// member may propose any member's removal, and a member cannot commit its own, §12.4),
    /// sent by reference for the next full member to commit. Building it needs no tree: the
    /// proposal names only our leaf index. (draft-ietf-mls-partial-02 §4 forbids a partial
    /// member *processing* tree-changing proposals; it says nothing against sending one, and
    /// the commit that applies it removes us, which [`PartialMember::process_annotated_commit`]
    /// reports as [`PartialCommitOutcome::Removed`].) A SelfRemove is not used: whether every
    /// leaf lists it (draft-ietf-mls-extensions-10 §6.3) cannot be known without the tree.
    ///
    /// `wire_format` is the group's handshake format: PublicMessage (with the membership
    /// tag, RFC 9420 §6.2), SemiPrivateMessage where the group context enables it
    /// (draft-mahy-mls-semiprivatemessage-07 §3.1) or PrivateMessage (§6.3). The Safe AAD
    /// rules and our member proof apply as to any handshake (draft-ietf-mls-extensions-10
    /// §4.9, draft-mahy-mls-member-proof-00 §3). The proposal is cached like a received
    /// one, so that the commit naming it is understood.
    pub fn propose_own_removal(
        &mut self,
        wire_format: WireFormat,
        authenticated_data: &[u8],
        padding: PaddingPolicy,
        rng: &mut dyn CryptoRandom,
    ) -> Result<MlsMessage, PartialMemberError> {
        self.ensure_active()?;
        let removal = Content::Proposal(Proposal::Remove(crate::messages::Remove {
            removed: self.own_leaf,
        }));
        let signed = self.sign_own(removal, authenticated_data, wire_format, rng)?;
        let cs = self.cs.as_ref();
        let mut secret_tree = self.secret_tree.clone();
        let body = if wire_format == crate::codepoints::SEMI_PRIVATE_MESSAGE_WIRE_FORMAT {
            let receivers =
                crate::semi_private::enabled_receivers(&self.context.extensions, self.profile)
                    .map_err(crate::validation::ValidationError::from)
                    .map_err(GroupError::from)?
                    .ok_or(GroupError::SemiPrivateNotEnabled)?;
            MlsMessageBody::SemiPrivateMessage(crate::framing::protect_semi_private(
                cs,
                &signed,
                &self.context,
                &receivers,
                &mut secret_tree,
                self.secrets.sender_data_secret.as_bytes(),
                padding,
                rng,
            )?)
        } else if wire_format == WireFormat::PRIVATE_MESSAGE {
            MlsMessageBody::PrivateMessage(protect_private(
                cs,
                &signed,
                &mut secret_tree,
                self.secrets.sender_data_secret.as_bytes(),
                padding,
                rng,
            )?)
        } else if wire_format == WireFormat::PUBLIC_MESSAGE {
            MlsMessageBody::PublicMessage(crate::framing::protect_public(
                cs,
                &signed,
                Some(&self.context),
                Some(self.secrets.membership_key.as_bytes()),
            )?)
        } else {
            return Err(GroupError::WireFormatNotAllowed(wire_format).into());
        };
        self.cache_proposal(&signed)?;
        self.secret_tree = secret_tree;
        Ok(MlsMessage::new(body))
    }

    /// Always refused: a partial client cannot join by external commit
    /// (draft-ietf-mls-partial-02 §9); join as a full member and drop the tree instead.
    pub fn join_external() -> Result<Self, PartialMemberError> {
        Err(PartialMemberError::Refused {
            what: "join by external commit",
            section: "9",
        })
    }

    // ---- proposals ---------------------------------------------------------------------

    /// Caches a proposal sent outside a commit (draft-ietf-mls-partial-02 §4: partial
    /// clients "still need to be provided with access to any proposals"), by its
    /// `ProposalRef` (RFC 9420 §5.2, §12.1). A PublicMessage's membership tag (members) or a
    /// PrivateMessage's AEAD is checked here; the sender's signature cannot be without the
    /// tree, and it need not be: a proposal takes effect only when a commit names its
    /// reference, a hash over the whole signed content, and that commit is authenticated and
    /// its committer validated the proposal (RFC 9420 §12.2).
    pub fn receive_proposal(&mut self, message: &MlsMessage) -> Result<(), PartialMemberError> {
        self.ensure_active()?;
        let mut secret_tree = self.secret_tree.clone();
        let unverified = self.unprotect_handshake(message, &mut secret_tree, None)?;
        self.check_member_proof(
            &self.context,
            self.member_proof.as_ref().map(MemberProofKeys::public_key),
            unverified.unverified_content(),
        )?;
        let content = unverified_authenticated(unverified);
        let Content::Proposal(proposal) = &content.content.content else {
            return Err(PartialMemberError::NotACommit("not a proposal"));
        };
        check_sender_may_propose(&content.content.sender, proposal)?;
        self.cache_proposal(&content)?;
        self.secret_tree = secret_tree;
        Ok(())
    }

    /// Caches a member's proposal sent as a `SenderAuthenticatedMessage<PublicMessage>`
    /// (draft-ietf-mls-partial-02 §7): the membership tag, then the sender proof against the
    /// epoch's tree hash (it must prove the message's sender) and the signature under the
    /// proven key, before caching it as [`PartialMember::receive_proposal`] does.
    pub fn receive_authenticated_proposal(
        &mut self,
        message: &super::SenderAuthenticatedMessage<crate::messages::PublicMessage>,
    ) -> Result<(), PartialMemberError> {
        self.ensure_active()?;
        let cs = self.cs.as_ref();
        let public = &message.message;
        let Sender::Member(leaf) = public.content.sender else {
            return Err(PartialMemberError::NotACommit(
                "a sender proof for a non-member",
            ));
        };
        let unverified = unprotect_public(
            cs,
            public,
            &self.context,
            self.secrets.membership_key.as_bytes(),
        )?;
        let sender = verified_sender(
            cs,
            &message.sender_membership_proof,
            &self.context.tree_hash,
            leaf,
            "7",
        )?;
        let verified =
            unverified.verify(cs, sender.leaf_node.signature_key.as_ref(), &self.context)?;
        let content = verified.into_authenticated_content();
        let Content::Proposal(proposal) = &content.content.content else {
            return Err(PartialMemberError::NotACommit("not a proposal"));
        };
        check_sender_may_propose(&content.content.sender, proposal)?;
        self.cache_proposal(&content)
    }

    /// Caches a proposal by its reference (RFC 9420 §12.4: a commit names it so); the same
    /// proposal twice is kept once.
    fn cache_proposal(
        &mut self,
        content: &crate::messages::AuthenticatedContent,
    ) -> Result<(), PartialMemberError> {
        let cached = CachedProposal::from_content(self.cs.as_ref(), content)?;
        if !self
            .proposals
            .iter()
            .any(|p| p.reference == cached.reference)
        {
            self.proposals.push(cached);
        }
        Ok(())
    }

    /// Wraps a PrivateMessage we sent with our membership proof, as whoever holds the tree
    /// supplies it (draft-ietf-mls-partial-02 §11: the sender or the DS adds the proof). The
    /// proof must be valid for the current tree hash and prove our own leaf, so that
    /// partial receivers accept the result.
    pub fn sender_authenticated(
        &self,
        message: PrivateMessage,
        own_proof: super::MembershipProof,
    ) -> Result<super::SenderAuthenticatedMessage<PrivateMessage>, PartialMemberError> {
        let proven =
            ProvenMember::verify(self.cs.as_ref(), &own_proof, &self.context.tree_hash, "own")?;
        if proven.leaf != self.own_leaf || *proven.leaf_node != self.own_leaf_node {
            return Err(PartialMemberError::NotOurLeaf {
                which: "own",
                section: "11",
            });
        }
        Ok(super::SenderAuthenticatedMessage {
            message,
            sender_membership_proof: own_proof,
        })
    }

    /// Opens a handshake message of the current epoch (RFC 9420 §6.2, §6.3): a PublicMessage
    /// (with its membership tag when a member sent it), a PrivateMessage, or a
    /// SemiPrivateMessage (draft-mahy-mls-semiprivatemessage-07 §3.2: sender data and
    /// content keys as for a PrivateMessage; accepted only when the group context enables
    /// the wire format and names the receivers the message was encrypted to). With
    /// `expected`, a message of another content type is refused before anything is
    /// decrypted. Ratchet generations are consumed in `secret_tree`, the caller's copy.
    fn unprotect_handshake<'a>(
        &self,
        message: &'a MlsMessage,
        secret_tree: &mut SecretTree,
        expected: Option<ContentType>,
    ) -> Result<UnverifiedContent<'a>, PartialMemberError> {
        let cs = self.cs.as_ref();
        let wrong_type = |what: &'static str, found: ContentType| match expected {
            Some(want) if want != found => Err(PartialMemberError::NotACommit(what)),
            _ => Ok(()),
        };
        match &message.body {
            MlsMessageBody::PublicMessage(public) => {
                wrong_type(
                    "a PublicMessage of another type",
                    public.content.content_type(),
                )?;
                Ok(match public.content.sender {
                    Sender::Member(_) => unprotect_public(
                        cs,
                        public,
                        &self.context,
                        self.secrets.membership_key.as_bytes(),
                    )?,
                    _ => unprotect_public_without_membership_key(cs, public, &self.context)?,
                })
            }
            MlsMessageBody::PrivateMessage(private) => {
                wrong_type("a PrivateMessage of another type", private.content_type)?;
                self.check_epoch(&private.group_id, private.epoch)?;
                Ok(unprotect_private(
                    cs,
                    private,
                    &self.context,
                    secret_tree,
                    self.secrets.sender_data_secret.as_bytes(),
                )?)
            }
            MlsMessageBody::SemiPrivateMessage(semi) => {
                wrong_type("a SemiPrivateMessage of another type", semi.content_type)?;
                self.check_epoch(&semi.group_id, semi.epoch)?;
                let receivers =
                    crate::semi_private::enabled_receivers(&self.context.extensions, self.profile)
                        .map_err(crate::validation::ValidationError::from)?
                        .ok_or(GroupError::SemiPrivateNotEnabled)?;
                Ok(unprotect_semi_private(
                    cs,
                    semi,
                    &self.context,
                    &receivers,
                    secret_tree,
                    self.secrets.sender_data_secret.as_bytes(),
                )?)
            }
            _ => Err(PartialMemberError::NotACommit(
                "not a Public/Private/SemiPrivateMessage",
            )),
        }
    }

    /// The Safe AAD and member-proof rules a full member applies to a received message of
    /// the epoch of `context` (draft-ietf-mls-extensions-10 §4.9, draft-mahy-mls-member-proof-00
    /// §3): its `authenticated_data` must parse as the epoch requires, and a member's message
    /// must carry a valid proof under `key`, the epoch's member-proof key.
    fn check_member_proof(
        &self,
        context: &GroupContext,
        key: Option<&crate::messages::SignaturePublicKey>,
        content: &FramedContent,
    ) -> Result<(), PartialMemberError> {
        crate::safe::incoming_safe_aad(
            self.profile,
            &context.extensions,
            &content.authenticated_data,
        )
        .map_err(GroupError::from)?;
        crate::group::member_proof::check_incoming(
            self.cs.as_ref(),
            self.profile,
            context,
            key,
            Some(content.sender),
            content.content_type(),
            &content.authenticated_data,
        )?;
        Ok(())
    }

    fn check_epoch(&self, group_id: &[u8], epoch: u64) -> Result<(), PartialMemberError> {
        if group_id != self.context.group_id.as_slice() || epoch != self.context.epoch {
            return Err(PartialMemberError::WrongEpoch {
                got: epoch,
                current: self.context.epoch,
            });
        }
        Ok(())
    }

    // ---- commits -----------------------------------------------------------------------

    /// Processes an AnnotatedCommit (draft-ietf-mls-partial-02 §10) into the next epoch.
    /// Nothing changes unless every check passes.
    pub fn process_annotated_commit(
        &mut self,
        annotated: &super::AnnotatedCommit,
        psks: &PartialPsks<'_>,
    ) -> Result<PartialCommitOutcome, PartialMemberError> {
        self.ensure_active()?;
        let verified = self.verify_annotated_commit(annotated)?;
        if verified.removes_us {
            return Ok(self.end_removed());
        }
        let (commit_secret, keys) = self.commit_secret(&verified, annotated)?;
        let next = self.finish_commit(verified, &commit_secret, keys, psks)?;
        Ok(self.adopt(next))
    }

    /// Ends the member after a commit that removed it (RFC 9420 §12.4.2): it follows no
    /// further epochs and its cached proposals are gone.
    fn end_removed(&mut self) -> PartialCommitOutcome {
        self.status = STATUS_REMOVED;
        self.proposals.clear();
        PartialCommitOutcome::Removed
    }

    /// Processes an [`AnnotatedSplitCommit`](super::AnnotatedSplitCommit) (Conclave's
    /// extension: draft-ietf-mls-partial-02 §10 over a PerMemberCommit of
    /// draft-mularczyk-mls-splitcommit-00 §3) into the next epoch, in O(log N): the one
    /// ciphertext, the path keys and the proofs. Nothing changes unless every check passes.
    pub fn process_annotated_split_commit(
        &mut self,
        annotated: &super::AnnotatedSplitCommit,
        psks: &PartialPsks<'_>,
    ) -> Result<PartialCommitOutcome, PartialMemberError> {
        self.ensure_active()?;
        let verified = self.verify_annotated_split_commit(annotated)?;
        if verified.removes_us {
            return Ok(self.end_removed());
        }
        let (commit_secret, keys) = self.commit_secret_after(
            &verified,
            &After {
                tree_hash_after: &annotated.tree_hash_after,
                resolution_index: verified.resolution_index,
                sender_proof_after: &annotated.sender_membership_proof_after,
                receiver_proof_after: &annotated.receiver_membership_proof_after,
            },
        )?;
        let next = self.finish_commit(verified, &commit_secret, keys, psks)?;
        Ok(self.adopt(next))
    }

    /// The checks of [`PartialMember::verify_annotated_commit`] for an AnnotatedSplitCommit:
    /// the broadcast message of the current epoch from a member (group, epoch, Safe AAD and
    /// member proof as for a commit), its membership tag and its signature under the key of
    /// the leaf the sender proof proves (draft-ietf-mls-partial-02 §10 step 1, RFC 9420
    /// §6.1, §6.2), then the post-commit proofs and proposals as for any commit. The
    /// commit's UpdatePath is rebuilt from the PerMemberCommit: the committer's keys, and
    /// the one ciphertext. Changes nothing.
    pub fn verify_annotated_split_commit(
        &self,
        annotated: &super::AnnotatedSplitCommit,
    ) -> Result<VerifiedAnnotatedCommit, PartialMemberError> {
        let cs = self.cs.as_ref();
        let broadcast = &annotated.commit.broadcast;
        let content = &broadcast.content;
        if !crate::split::is_enabled(&self.context.extensions)? {
            return Err(GroupError::from(crate::split::SplitCommitError::NotEnabled).into());
        }
        self.check_epoch(&content.group_id, content.epoch)?;
        let Sender::Member(leaf) = content.sender else {
            return Err(GroupError::from(crate::split::SplitCommitError::SenderNotMember).into());
        };
        crate::safe::incoming_safe_aad(
            self.profile,
            &self.context.extensions,
            &content.authenticated_data,
        )
        .map_err(GroupError::from)?;
        crate::group::member_proof::check_incoming(
            cs,
            self.profile,
            &self.context,
            self.member_proof.as_ref().map(MemberProofKeys::public_key),
            Some(content.sender),
            ContentType::Commit,
            &content.authenticated_data,
        )?;
        let sender = verified_sender(
            cs,
            &annotated.sender_membership_proof,
            &self.context.tree_hash,
            leaf,
            "10",
        )?;
        crate::split::verify_broadcast(
            cs,
            broadcast,
            &self.context,
            Some(self.secrets.membership_key.as_bytes()),
            sender.leaf_node.signature_key.as_ref(),
        )
        .map_err(GroupError::from)?;
        let partial = annotated.commit.partial_path.as_ref();
        let nodes = partial
            .map(crate::split::nodes_with_single_ciphertext)
            .transpose()?;
        let commit =
            crate::split::commit_of(&content.broadcast, nodes).map_err(GroupError::from)?;
        // The framed form of the commit, for the parts of the key schedule step that read
        // its sender and authenticated data; it enters no hash.
        let framed = crate::messages::AuthenticatedContent {
            wire_format: WireFormat::PUBLIC_MESSAGE,
            content: FramedContent {
                group_id: content.group_id.clone(),
                epoch: content.epoch,
                sender: content.sender,
                authenticated_data: content.authenticated_data.clone(),
                content: Content::Commit(commit),
            },
            auth: crate::messages::FramedContentAuthData {
                signature: broadcast.signature.clone(),
                confirmation_tag: None,
            },
        };
        let mut verified = self.check_after_commit(
            (framed, Vec::new()),
            Some(sender),
            After {
                tree_hash_after: &annotated.tree_hash_after,
                // Every rebuilt UpdatePathNode holds the one ciphertext, first.
                resolution_index: partial.map(|_| 0),
                sender_proof_after: &annotated.sender_membership_proof_after,
                receiver_proof_after: &annotated.receiver_membership_proof_after,
            },
        )?;
        verified.split = Some(Box::new(content.clone()));
        Ok(verified)
    }

    /// Steps 1, 2 and the public part of step 3 of draft-ietf-mls-partial-02 §10: the
    /// commit's framing, its sender (by proof, or by the new-member rules), the post-commit
    /// proofs against `tree_hash_after`, the proposals' effects and the provisional
    /// GroupContext. Changes nothing.
    pub fn verify_annotated_commit(
        &self,
        annotated: &super::AnnotatedCommit,
    ) -> Result<VerifiedAnnotatedCommit, PartialMemberError> {
        let cs = self.cs.as_ref();
        let parts = proven::commit_parts(annotated);
        if parts.commit.version != self.context.version {
            return Err(PartialMemberError::NotACommit(
                "an MLSMessage of another version",
            ));
        }
        // A member's PublicMessage commit (what a DS that reads handshakes relays): the
        // sender proof first, then the commit's hashing passes side by side as at full
        // members (`framing::unprotect_and_verify_member_public`: the signature under the
        // proven key, the membership tag and the confirmed transcript hash), with the same
        // checks as the general path below.
        if let MlsMessageBody::PublicMessage(public) = &parts.commit.body
            && let Sender::Member(leaf) = public.content.sender
            && public.content.content_type() == ContentType::Commit
        {
            let proof = parts
                .sender_proof
                .ok_or(PartialMemberError::MissingSenderProof)?;
            let sender = verified_sender(cs, proof, &self.context.tree_hash, leaf, "10")?;
            let verified = crate::framing::unprotect_and_verify_member_public(
                cs,
                public,
                &self.context,
                self.secrets.membership_key.as_bytes(),
                sender.leaf_node.signature_key.as_ref(),
                &self.interim_transcript_hash,
            )?;
            self.check_member_proof(
                &self.context,
                self.member_proof.as_ref().map(MemberProofKeys::public_key),
                verified.framed_content(),
            )?;
            let precomputed = verified
                .precomputed_transcript_hash(&self.interim_transcript_hash)
                .map(|hash| (self.interim_transcript_hash.clone(), hash.to_vec()));
            let mut out = self.check_after_commit(
                verified.into_authenticated_content_owned(),
                Some(sender),
                After {
                    tree_hash_after: parts.tree_hash_after,
                    resolution_index: parts.resolution_index,
                    sender_proof_after: parts.sender_proof_after,
                    receiver_proof_after: parts.receiver_proof_after,
                },
            )?;
            out.precomputed_transcript_hash = precomputed;
            return Ok(out);
        }
        let mut secret_tree = self.secret_tree.clone();
        let unverified =
            self.unprotect_handshake(parts.commit, &mut secret_tree, Some(ContentType::Commit))?;
        self.check_member_proof(
            &self.context,
            self.member_proof.as_ref().map(MemberProofKeys::public_key),
            unverified.unverified_content(),
        )?;
        let Content::Commit(commit) = &unverified.unverified_content().content else {
            return Err(PartialMemberError::NotACommit(
                "the content is not a commit",
            ));
        };

        // §10 step 1 and the first two modifications of step 3: who signed.
        let (verified, committer) = match unverified.sender() {
            Sender::Member(leaf) => {
                let proof = parts
                    .sender_proof
                    .ok_or(PartialMemberError::MissingSenderProof)?;
                let sender = verified_sender(cs, proof, &self.context.tree_hash, leaf, "10")?;
                let key = sender.leaf_node.signature_key.clone();
                (
                    unverified.verify(cs, key.as_ref(), &self.context)?,
                    Some(sender),
                )
            }
            Sender::NewMemberCommit => {
                if parts.sender_proof.is_some() {
                    return Err(PartialMemberError::SenderProofOnNewMemberCommit);
                }
                // RFC 9420 §12.4.3.2: an external commit has a path, whose leaf signs it.
                let path = commit.path.as_ref().ok_or(GroupError::PathRequired(
                    "an external commit carries an UpdatePath",
                ))?;
                let key = path.leaf_node.signature_key.clone();
                (unverified.verify(cs, key.as_ref(), &self.context)?, None)
            }
            other => {
                return Err(GroupError::SenderNotAllowed {
                    sender: other.sender_type(),
                    what: "a commit",
                    section: "6.1",
                }
                .into());
            }
        };
        let verified = verified.into_authenticated_content_owned();
        self.check_after_commit(
            verified,
            committer,
            After {
                tree_hash_after: parts.tree_hash_after,
                resolution_index: parts.resolution_index,
                sender_proof_after: parts.sender_proof_after,
                receiver_proof_after: parts.receiver_proof_after,
            },
        )
    }

    /// The rest of [`PartialMember::verify_annotated_commit`] once the commit's sender is
    /// authenticated: the proposals' effects and §10 step 2 (the post-commit proofs against
    /// `tree_hash_after`, the same tree, the committer's and our leaf). Shared by framed and
    /// split commits ([`PartialMember::verify_annotated_split_commit`]).
    fn check_after_commit(
        &self,
        verified: (crate::messages::AuthenticatedContent, Vec<u8>),
        committer: Option<ProvenMember>,
        parts: After<'_>,
    ) -> Result<VerifiedAnnotatedCommit, PartialMemberError> {
        let cs = self.cs.as_ref();
        let Content::Commit(commit) = &verified.0.content.content else {
            return Err(PartialMemberError::NotACommit(
                "the content is not a commit",
            ));
        };
        // The proposals (RFC 9420 §12.4.2), without list validation (§10 step 3).
        let effects = self.proposal_effects(commit, verified.0.content.sender)?;

        // §10 step 2: the post-commit proofs against tree_hash_after, the same tree.
        let tree_hash_after = parts.tree_hash_after.to_vec();
        let sender_after = ProvenMember::verify(
            cs,
            parts.sender_proof_after,
            &tree_hash_after,
            "sender (after)",
        )?;
        let committer_leaf = match &committer {
            Some(sender) => {
                if sender_after.leaf != sender.leaf {
                    return Err(PartialMemberError::ProvenLeafMismatch {
                        which: "sender (after)",
                        proven: sender_after.leaf.0,
                        named: sender.leaf.0,
                        section: "10",
                    });
                }
                sender.leaf
            }
            None => sender_after.leaf,
        };
        if let Some(path) = &commit.path
            && *sender_after.leaf_node != *path.leaf_node
        {
            // The UpdatePath's leaf is the committer's leaf in the new tree.
            return Err(PartialMemberError::NotOurLeaf {
                which: "sender (after): the UpdatePath leaf is not the proven",
                section: "10",
            });
        }
        if effects.removes_us {
            return Ok(VerifiedAnnotatedCommit {
                removes_us: true,
                ..VerifiedAnnotatedCommit::pending(
                    verified,
                    committer_leaf,
                    sender_after,
                    effects,
                    tree_hash_after,
                )
            });
        }
        let receiver_after = ProvenMember::verify(
            cs,
            parts.receiver_proof_after,
            &tree_hash_after,
            "receiver (after)",
        )?;
        parts
            .sender_proof_after
            .same_tree_as(
                parts.receiver_proof_after,
                cs,
                "AnnotatedCommit post-commit proofs",
            )
            .map_err(|e| proof_error(e, "post-commit sender and receiver", "10"))?;
        if receiver_after.leaf != self.own_leaf {
            return Err(PartialMemberError::ProvenLeafMismatch {
                which: "receiver (after)",
                proven: receiver_after.leaf.0,
                named: self.own_leaf.0,
                section: "10",
            });
        }
        if *receiver_after.leaf_node != self.own_leaf_node {
            return Err(PartialMemberError::NotOurLeaf {
                which: "receiver (after)",
                section: "10",
            });
        }
        if commit.path.is_some() != parts.resolution_index.is_some() {
            return Err(PartialMemberError::ResolutionIndexPresence);
        }
        let mut out = VerifiedAnnotatedCommit::pending(
            verified,
            committer_leaf,
            sender_after,
            effects,
            tree_hash_after,
        );
        out.receiver_after = Some(receiver_after);
        out.resolution_index = parts.resolution_index;
        Ok(out)
    }

    /// The effects of the committed proposals a partial member applies
    /// (draft-ietf-mls-partial-02 §10: "only the proposals that do not modify the tree").
    fn proposal_effects(
        &self,
        commit: &Commit,
        committer: Sender,
    ) -> Result<ProposalEffects, PartialMemberError> {
        let mut effects = ProposalEffects {
            extensions: self.context.extensions.clone(),
            ..ProposalEffects::default()
        };
        let mut app_proposals = Vec::new();
        for entry in &commit.proposals {
            let (sender, proposal) = match entry {
                ProposalOrRef::Proposal(p) => (committer, Proposal::clone(p)),
                ProposalOrRef::Reference(r) => {
                    let cached = self
                        .proposals
                        .iter()
                        .find(|p| &p.reference == r)
                        .ok_or(PartialMemberError::UnknownProposalRef)?;
                    (cached.sender, cached.proposal.clone())
                }
            };
            match proposal {
                Proposal::Add(_) | Proposal::Update(_) => {}
                Proposal::Remove(remove) => {
                    if remove.removed == self.own_leaf {
                        effects.removes_us = true;
                    }
                }
                Proposal::PreSharedKey(psk) => effects.psks.push(psk.psk),
                Proposal::ReInit(reinit) => effects.reinit = Some(reinit),
                Proposal::ExternalInit(init) => effects.external_init = Some(init.kem_output),
                Proposal::GroupContextExtensions(gce) => {
                    crate::validation::check_unique_extensions(&gce.extensions)?;
                    effects.extensions = gce.extensions;
                }
                Proposal::Extension(ext) => {
                    crate::group::app_data::check_codepoint(self.profile, &ext)
                        .map_err(GroupError::from)?;
                    match &ext.body {
                        ExtensionProposalBody::SelfRemove(_) => {
                            if sender == Sender::Member(self.own_leaf) {
                                effects.removes_us = true;
                            }
                        }
                        // The tree's business (draft-barnes-mls-replace-00 §4).
                        ExtensionProposalBody::Replace(_) => {}
                        ExtensionProposalBody::AppDataUpdate(_)
                        | ExtensionProposalBody::AppEphemeral(_) => {
                            app_proposals.push(crate::group::proposals::CommittedProposal {
                                sender,
                                proposal: Proposal::Extension(ext),
                            });
                        }
                    }
                }
            }
        }
        // draft-ietf-mls-extensions-10 §4.7: the AppDataUpdates change the GroupContext's
        // app_data_dictionary, as the GroupContextExtensions above left it, exactly as at
        // the full members (the confirmation tag covers the result). AppEphemeral data
        // changes no state; its validation (app_ack against the tree, §4.8) is the
        // committer's and the full members', which hold the tree.
        crate::group::app_data::apply_app_data_updates(
            self.components.handler(),
            self.profile,
            &self.context,
            committer == Sender::NewMemberCommit,
            &app_proposals,
            &mut effects.extensions,
        )?;
        Ok(effects)
    }

    /// The commit secret and our new direct-path keys (draft-ietf-mls-partial-02 §10, path
    /// processing): the all-zero secret without a path; with one, the annotated path secret
    /// decrypted with the key of our next non-blank node under the common ancestor and the
    /// chain derived along our new direct path.
    pub fn commit_secret(
        &self,
        verified: &VerifiedAnnotatedCommit,
        annotated: &super::AnnotatedCommit,
    ) -> Result<(Secret, PrivateTree), PartialMemberError> {
        self.commit_secret_after(
            verified,
            &After {
                tree_hash_after: &annotated.tree_hash_after,
                resolution_index: annotated.resolution_index,
                sender_proof_after: &annotated.sender_membership_proof_after,
                receiver_proof_after: &annotated.receiver_membership_proof_after,
            },
        )
    }

    /// [`PartialMember::commit_secret`] from the post-commit annotations of either form.
    fn commit_secret_after(
        &self,
        verified: &VerifiedAnnotatedCommit,
        annotated: &After<'_>,
    ) -> Result<(Secret, PrivateTree), PartialMemberError> {
        let cs = self.cs.as_ref();
        let mut keys = self.keys.clone();
        let receiver = verified
            .receiver_after
            .as_ref()
            .ok_or(PartialMemberError::Inactive)?;
        // RFC 9420 §7.6: keys of nodes that are now blank or carry another key are deleted.
        receiver.prune(&mut keys);
        let Some(path) = verified.commit().and_then(|c| c.path.as_ref()) else {
            return Ok((Secret::zero(cs.hash_len()), keys));
        };
        let provisional = verified.provisional_context(&self.context)?.to_bytes()?;
        let (commit_secret, new_keys) = proven::decrypt_update_path(
            cs,
            annotated,
            path,
            verified.committer,
            &self.keys,
            &provisional,
        )?;
        for (node, key) in new_keys {
            keys.insert(node, key);
        }
        Ok((commit_secret, keys))
    }

    /// The rest of RFC 9420 §12.4.2 for a partial member: the init secret (the external one
    /// for an external commit), PSKs, the key schedule over the new GroupContext, the
    /// confirmation tag and the next interim transcript hash. Changes nothing.
    pub fn finish_commit(
        &self,
        verified: VerifiedAnnotatedCommit,
        commit_secret: &Secret,
        keys: PrivateTree,
        psks: &PartialPsks<'_>,
    ) -> Result<NextPartialEpoch, PartialMemberError> {
        let cs = self.cs.as_ref();
        let init_secret = match &verified.effects.external_init {
            Some(kem_output) => {
                // RFC 9420 §8: external_priv = KEM.DeriveKeyPair(external_secret).
                let pair = conclave_crypto::labels::derive_key_pair(
                    cs,
                    self.secrets.external_secret.as_bytes(),
                )?;
                let receiver = hpke::setup_receiver(
                    cs,
                    kem_output,
                    pair.secret_key.as_bytes(),
                    &[],
                    None,
                    None,
                )?;
                receiver.export(EXTERNAL_INIT_LABEL, cs.hash_len())?
            }
            None => self.secrets.init_secret.clone(),
        };
        let psk_values = resolve_psks(&verified.effects.psks, psks, Some(self))?;
        let psk = psk_secret(cs, &verified.effects.psks, &psk_values)?;
        let next = next_epoch(
            cs,
            &self.context,
            &self.interim_transcript_hash,
            &verified,
            init_secret.as_bytes(),
            commit_secret.as_bytes(),
            psk.as_ref().map(Secret::as_bytes),
        )?;
        // draft-mahy-mls-member-proof-00 §4 (D3, D7): the new epoch's member-proof keys, which
        // the commit must have announced, as at full members.
        let member_proof = crate::member_proof::keys_for_epoch(
            cs,
            &next.context.extensions,
            init_secret.as_bytes(),
            commit_secret.as_bytes(),
            &next.context.group_id,
            next.context.epoch,
        )
        .map_err(GroupError::from)?;
        crate::group::member_proof::check_next_epoch_key(
            self.profile,
            &self.context,
            member_proof.as_ref(),
            &verified.content.content.authenticated_data,
        )?;
        let receiver = verified
            .receiver_after
            .as_ref()
            .ok_or(PartialMemberError::Inactive)?;
        let (secrets, secret_tree) =
            split_secrets(next.secrets, receiver.n_leaves, self.secret_tree.config())?;
        Ok(NextPartialEpoch {
            member_proof,
            context: next.context,
            interim_transcript_hash: next.interim_transcript_hash,
            confirmation_tag: next.confirmation_tag,
            n_leaves: receiver.n_leaves,
            keys,
            secrets,
            secret_tree,
            committer: verified.committer,
            reinit: verified.effects.reinit,
        })
    }

    fn adopt(&mut self, next: NextPartialEpoch) -> PartialCommitOutcome {
        let old_epoch = self.context.epoch;
        let old_psk = std::mem::replace(&mut self.secrets.resumption_psk, Secret::zero(0));
        self.resumption_psks.push(StoredResumptionPsk {
            epoch: old_epoch,
            psk: old_psk,
        });
        if self.resumption_psks.len() > RESUMPTION_PSK_WINDOW {
            self.resumption_psks.remove(0);
        }
        // The epoch we leave stays readable for late application messages (RFC 9420 §14).
        let old_context = std::mem::replace(&mut self.context, next.context);
        let old_sender_data =
            std::mem::replace(&mut self.secrets.sender_data_secret, Secret::zero(0));
        let old_tree = std::mem::replace(&mut self.secret_tree, next.secret_tree);
        let old_member_proof = std::mem::replace(&mut self.member_proof, next.member_proof);
        self.past_epochs.push(StoredPastEpoch {
            context: old_context,
            sender_data_secret: old_sender_data,
            secret_tree: old_tree,
            member_proof_key: old_member_proof.map(|k| k.public_key().clone()),
        });
        if self.past_epochs.len() > PAST_EPOCH_WINDOW {
            self.past_epochs.remove(0);
        }
        self.interim_transcript_hash = next.interim_transcript_hash;
        self.confirmation_tag = next.confirmation_tag;
        self.n_leaves = next.n_leaves;
        self.keys = next.keys;
        self.secrets = next.secrets;
        self.proposals.clear();
        match next.reinit {
            Some(reinit) => {
                self.status = STATUS_REINIT;
                self.reinit = Some(reinit.clone());
                PartialCommitOutcome::ReInitialized(reinit)
            }
            None => PartialCommitOutcome::Advanced {
                epoch: self.context.epoch,
                committer: next.committer,
            },
        }
    }

    // ---- application messages ----------------------------------------------------------

    /// Decrypts and authenticates an application message (draft-ietf-mls-partial-02 §7, §11):
    /// the PrivateMessage is decrypted with the secret tree, the sender proof must be valid
    /// for the epoch's tree hash and prove the decrypted sender, and the signature is
    /// verified with the proven leaf's key. A message of one of the last three past epochs
    /// (RFC 9420 §14: sent before its sender saw the commit) is read with that epoch's
    /// secrets, tree hash and GroupContext. A refused message changes nothing.
    pub fn decrypt_application_message(
        &mut self,
        message: &super::SenderAuthenticatedMessage<PrivateMessage>,
    ) -> Result<PartialApplicationMessage, PartialMemberError> {
        self.ensure_active()?;
        let cs = self.cs.as_ref();
        let (private, proof) = proven::sender_authenticated_parts(message);
        if private.content_type != ContentType::Application {
            return Err(PartialMemberError::NotACommit("not an application message"));
        }
        // The current epoch, or a past one we still keep (RFC 9420 §14).
        let (context, sender_data_secret, tree, proof_key) =
            if private.group_id == self.context.group_id && private.epoch < self.context.epoch {
                let past = self
                    .past_epochs
                    .iter()
                    .find(|p| p.context.epoch == private.epoch)
                    .ok_or(PartialMemberError::WrongEpoch {
                        got: private.epoch,
                        current: self.context.epoch,
                    })?;
                (
                    &past.context,
                    &past.sender_data_secret,
                    &past.secret_tree,
                    past.member_proof_key.as_ref(),
                )
            } else {
                self.check_epoch(&private.group_id, private.epoch)?;
                (
                    &self.context,
                    &self.secrets.sender_data_secret,
                    &self.secret_tree,
                    self.member_proof.as_ref().map(MemberProofKeys::public_key),
                )
            };
        let mut secret_tree = tree.clone();
        let unverified = unprotect_private(
            cs,
            private,
            context,
            &mut secret_tree,
            sender_data_secret.as_bytes(),
        )?;
        let Sender::Member(leaf) = unverified.sender() else {
            return Err(PartialMemberError::NotACommit("not from a member"));
        };
        self.check_member_proof(context, proof_key, unverified.unverified_content())?;
        let sender = verified_sender(cs, proof, &context.tree_hash, leaf, "7")?;
        let verified = unverified.verify(cs, sender.leaf_node.signature_key.as_ref(), context)?;
        let content = verified.into_authenticated_content().content;
        let Content::Application(data) = content.content else {
            return Err(PartialMemberError::NotACommit("not an application message"));
        };
        // Only now, every check passed, the consumed generation is deleted.
        if content.epoch == self.context.epoch {
            self.secret_tree = secret_tree;
        } else if let Some(past) = self
            .past_epochs
            .iter_mut()
            .find(|p| p.context.epoch == content.epoch)
        {
            past.secret_tree = secret_tree;
        }
        Ok(PartialApplicationMessage {
            sender: leaf,
            sender_leaf: *sender.leaf_node,
            epoch: content.epoch,
            data,
            authenticated_data: content.authenticated_data,
        })
    }

    /// Encrypts an application message as a PrivateMessage signed with our key
    /// (RFC 9420 §6.3). Full members read it as any member's message; for partial
    /// receivers, whoever holds the tree wraps it with our membership proof
    /// ([`super::SenderAuthenticatedMessage`], draft-ietf-mls-partial-02 §11).
    pub fn encrypt_application_message(
        &mut self,
        data: &[u8],
        authenticated_data: &[u8],
        padding: PaddingPolicy,
        rng: &mut dyn CryptoRandom,
    ) -> Result<PrivateMessage, PartialMemberError> {
        self.ensure_active()?;
        let signed = self.sign_own(
            Content::Application(data.to_vec()),
            authenticated_data,
            WireFormat::PRIVATE_MESSAGE,
            rng,
        )?;
        let cs = self.cs.as_ref();
        let mut secret_tree = self.secret_tree.clone();
        let message = protect_private(
            cs,
            &signed,
            &mut secret_tree,
            self.secrets.sender_data_secret.as_bytes(),
            padding,
            rng,
        )?;
        self.secret_tree = secret_tree;
        Ok(message)
    }

    /// Our `content` of the current epoch, framed and signed for `wire_format` as a full
    /// member sends it (RFC 9420 §6.1): the Safe AAD rules (draft-ietf-mls-extensions-10
    /// §4.9) and our member proof where the epoch requires one
    /// (draft-mahy-mls-member-proof-00 §3) in its authenticated data.
    fn sign_own(
        &self,
        content: Content,
        authenticated_data: &[u8],
        wire_format: WireFormat,
        rng: &mut dyn CryptoRandom,
    ) -> Result<crate::messages::AuthenticatedContent, PartialMemberError> {
        let cs = self.cs.as_ref();
        let authenticated_data = crate::group::member_proof::with_own_proof(
            cs,
            &self.context,
            self.member_proof.as_ref(),
            content.content_type(),
            crate::safe::outgoing_authenticated_data(&self.context.extensions, authenticated_data)
                .map_err(GroupError::from)?,
            rng,
        )?;
        let content = FramedContent {
            group_id: self.context.group_id.clone(),
            epoch: self.context.epoch,
            sender: Sender::Member(self.own_leaf),
            authenticated_data,
            content,
        };
        Ok(sign_content(
            cs,
            self.signature_key.as_bytes(),
            wire_format,
            content,
            Some(&self.context),
        )?)
    }

    // ---- persistence -------------------------------------------------------------------

    /// The state, encoded (versioned; see [`super::state`]). It contains every private key
    /// of the member.
    pub fn to_bytes(&self) -> Result<Vec<u8>, PartialMemberError> {
        let stored = StoredPartialMember {
            version: FORMAT_VERSION,
            context: self.context.clone(),
            interim_transcript_hash: self.interim_transcript_hash.clone(),
            confirmation_tag: self.confirmation_tag.clone(),
            n_leaves: self.n_leaves,
            own_leaf: self.own_leaf,
            own_leaf_node: self.own_leaf_node.clone(),
            signature_key: self.signature_key.clone(),
            keys: self
                .keys
                .keys()
                .map(|(node, key)| StoredNodeKey {
                    node: node.0,
                    secret_key: key.secret_key.clone(),
                    public_key: key.public_key.clone(),
                })
                .collect(),
            secrets: self.secrets.clone(),
            secret_tree: self.secret_tree.clone(),
            resumption_psks: self.resumption_psks.clone(),
            proposals: self.proposals.iter().map(StoredProposal::of).collect(),
            status: self.status,
            reinit: self.reinit.clone(),
            past_epochs: self.past_epochs.clone(),
            member_proof_secret: self.member_proof.as_ref().map(|k| k.secret().clone()),
        };
        Ok(stored.to_bytes()?)
    }

    /// Loads a state [`PartialMember::to_bytes`] wrote.
    pub fn from_bytes(
        bytes: &[u8],
        crypto: &dyn CryptoProvider,
    ) -> Result<Self, PartialMemberError> {
        let version = bytes
            .get(..2)
            .and_then(|v| <[u8; 2]>::try_from(v).ok())
            .map(u16::from_be_bytes)
            .ok_or(PartialMemberError::Storage("too short"))?;
        if version != FORMAT_VERSION {
            return Err(PartialMemberError::Storage("unknown format version"));
        }
        let stored = StoredPartialMember::from_bytes(bytes)?;
        let suite = stored.context.cipher_suite;
        let cs = crypto
            .cipher_suite_provider(suite)
            .ok_or(GroupError::UnsupportedCipherSuite(suite))?;
        let mut keys: Option<PrivateTree> = None;
        let mut rest = Vec::new();
        for key in stored.keys {
            let node_key = NodeKey {
                secret_key: key.secret_key,
                public_key: key.public_key,
            };
            if key.node == stored.own_leaf.node().0 {
                keys = Some(PrivateTree::new(stored.own_leaf, node_key));
            } else {
                rest.push((NodeIndex(key.node), node_key));
            }
        }
        let mut keys = keys.ok_or(PartialMemberError::Storage("no key for our leaf"))?;
        let member_proof = stored
            .member_proof_secret
            .map(|secret| MemberProofKeys::from_secret(cs.as_ref(), secret))
            .transpose()
            .map_err(GroupError::from)?;
        for (node, key) in rest {
            keys.insert(node, key);
        }
        if !matches!(
            stored.status,
            STATUS_ACTIVE | STATUS_REMOVED | STATUS_REINIT
        ) {
            return Err(PartialMemberError::Storage("unknown status"));
        }
        Ok(Self {
            cs,
            context: stored.context,
            interim_transcript_hash: stored.interim_transcript_hash,
            confirmation_tag: stored.confirmation_tag,
            n_leaves: stored.n_leaves,
            own_leaf: stored.own_leaf,
            own_leaf_node: stored.own_leaf_node,
            signature_key: stored.signature_key,
            keys,
            secrets: stored.secrets,
            secret_tree: stored.secret_tree,
            resumption_psks: stored.resumption_psks,
            proposals: stored
                .proposals
                .into_iter()
                .map(StoredProposal::into_cached)
                .collect(),
            status: stored.status,
            reinit: stored.reinit,
            past_epochs: stored.past_epochs,
            member_proof,
            profile: CodepointProfile::default(),
            components: crate::group::Components::default(),
        })
    }
}

/// The post-commit annotations of an AnnotatedCommit or AnnotatedSplitCommit
/// (draft-ietf-mls-partial-02 §10).
struct After<'a> {
    tree_hash_after: &'a [u8],
    resolution_index: Option<u32>,
    sender_proof_after: &'a super::MembershipProof,
    receiver_proof_after: &'a super::MembershipProof,
}

/// What the committed proposals do to a partial member.
#[derive(Debug, Clone, Default)]
struct ProposalEffects {
    extensions: Vec<crate::messages::Extension>,
    psks: Vec<PreSharedKeyId>,
    reinit: Option<ReInit>,
    external_init: Option<Vec<u8>>,
    removes_us: bool,
}

/// An AnnotatedCommit whose framing, sender, proofs and proposals were checked
/// ([`PartialMember::verify_annotated_commit`]), before the path secret and the key schedule.
#[derive(Debug, Clone)]
pub struct VerifiedAnnotatedCommit {
    /// The commit's authenticated content (its `Content` is the commit).
    content: crate::messages::AuthenticatedContent,
    encoded_content: Vec<u8>,
    /// The confirmed transcript hash computed while the commit was verified, with the
    /// interim hash it followed (`framing::unprotect_and_verify_member_public`).
    precomputed_transcript_hash: Option<(Vec<u8>, Vec<u8>)>,
    committer: LeafIndex,
    sender_after: ProvenMember,
    receiver_after: Option<ProvenMember>,
    resolution_index: Option<u32>,
    effects: ProposalEffects,
    tree_hash_after: Vec<u8>,
    removes_us: bool,
    /// A split commit's broadcast content (draft-mularczyk-mls-splitcommit-00 §3): its
    /// transcript hash and `epoch_identifier` replace the framed commit's and its
    /// confirmation tag (§4); its one ciphertext is the path's.
    split: Option<Box<crate::split::SCommitBroadcastContent>>,
}

impl VerifiedAnnotatedCommit {
    fn pending(
        content: (crate::messages::AuthenticatedContent, Vec<u8>),
        committer: LeafIndex,
        sender_after: ProvenMember,
        effects: ProposalEffects,
        tree_hash_after: Vec<u8>,
    ) -> Self {
        Self {
            content: content.0,
            encoded_content: content.1,
            precomputed_transcript_hash: None,
            committer,
            sender_after,
            receiver_after: None,
            resolution_index: None,
            effects,
            tree_hash_after,
            removes_us: false,
            split: None,
        }
    }

    /// Whether the commit removes us.
    pub fn removes_us(&self) -> bool {
        self.removes_us
    }

    /// The commit (the content [`PartialMember::verify_annotated_commit`] checked is one).
    fn commit(&self) -> Option<&Commit> {
        match &self.content.content.content {
            Content::Commit(commit) => Some(commit),
            _ => None,
        }
    }

    /// The committer's leaf (in the new tree, for an external commit).
    pub fn committer(&self) -> LeafIndex {
        self.committer
    }

    /// The `tree_hash_after` the commit's proofs were checked against.
    pub fn tree_hash_after(&self) -> &[u8] {
        &self.tree_hash_after
    }

    /// The commit's UpdatePath, if any.
    pub fn path(&self) -> Option<&UpdatePath> {
        self.commit().and_then(|c| c.path.as_ref())
    }

    /// `resolution_index`, present exactly with a path.
    pub fn resolution_index(&self) -> Option<u32> {
        self.resolution_index
    }

    /// The proven post-commit sender leaf.
    pub fn sender_after(&self) -> &ProvenMember {
        &self.sender_after
    }

    /// The provisional GroupContext (RFC 9420 §12.4.2; draft-ietf-mls-partial-02 §10: with
    /// `tree_hash_after`): the epoch incremented, the new extensions, the old confirmed
    /// transcript hash.
    pub fn provisional_context(
        &self,
        current: &GroupContext,
    ) -> Result<GroupContext, PartialMemberError> {
        Ok(crate::partial::provisional_context(
            current,
            &self.tree_hash_after,
            Some(self.effects.extensions.clone()),
        )?)
    }
}

/// A next epoch computed but not adopted ([`PartialMember::finish_commit`]).
#[derive(Debug, Clone)]
pub struct NextPartialEpoch {
    member_proof: Option<MemberProofKeys>,
    context: GroupContext,
    interim_transcript_hash: Vec<u8>,
    confirmation_tag: Vec<u8>,
    n_leaves: u32,
    keys: PrivateTree,
    secrets: PartialSecrets,
    secret_tree: SecretTree,
    committer: LeafIndex,
    reinit: Option<ReInit>,
}

impl NextPartialEpoch {
    /// The new GroupContext.
    pub fn context(&self) -> &GroupContext {
        &self.context
    }

    /// The new epoch authenticator.
    pub fn epoch_authenticator(&self) -> &[u8] {
        self.secrets.epoch_authenticator.as_bytes()
    }

    /// The new interim transcript hash.
    pub fn interim_transcript_hash(&self) -> &[u8] {
        &self.interim_transcript_hash
    }

    /// The new `encryption_secret`, as the root of the new secret tree holds it (before any
    /// message of the epoch consumed it).
    pub fn encryption_secret(&self) -> Option<Secret> {
        let root = TreeSize::new(self.n_leaves)?.root();
        self.secret_tree
            .entry_value(crate::secret_tree::SecretTreeEntry::Node(root))
            .ok()
            .flatten()
    }

    /// The new `init_secret`, `sender_data_secret` and `membership_key`.
    pub fn secrets(&self) -> (&Secret, &Secret, &Secret) {
        (
            &self.secrets.init_secret,
            &self.secrets.sender_data_secret,
            &self.secrets.membership_key,
        )
    }
}

/// The key schedule step of a commit (RFC 9420 §8, §8.2, §12.4.2).
struct KeyScheduleOutput {
    context: GroupContext,
    interim_transcript_hash: Vec<u8>,
    confirmation_tag: Vec<u8>,
    secrets: EpochSecrets,
}

/// The new GroupContext (provisional with the new confirmed transcript hash), the key
/// schedule over it, the confirmation tag check and the new interim transcript hash
/// (RFC 9420 §8, §8.2, §12.4.2).
fn next_epoch(
    cs: &dyn CipherSuiteProvider,
    current: &GroupContext,
    interim: &[u8],
    verified: &VerifiedAnnotatedCommit,
    init_secret: &[u8],
    commit_secret: &[u8],
    psk_secret: Option<&[u8]>,
) -> Result<KeyScheduleOutput, PartialMemberError> {
    let confirmed = match &verified.split {
        // draft-mularczyk-mls-splitcommit-00 §4 (as `crate::split` settles it).
        Some(content) => crate::split::confirmed_transcript_hash(cs, interim, content)?,
        None => match &verified.precomputed_transcript_hash {
            Some((before, confirmed)) if before.as_slice() == interim => confirmed.clone(),
            _ => transcript::confirmed_transcript_hash_of_encoded(
                cs,
                interim,
                verified.content.wire_format,
                &verified.encoded_content,
                &verified.content.auth.signature,
            )?,
        },
    };
    let context = GroupContext {
        confirmed_transcript_hash: confirmed,
        ..verified.provisional_context(current)?
    };
    let context_bytes = context.to_bytes()?;
    let secrets =
        KeySchedule::from_init(cs, init_secret, commit_secret, psk_secret, &context_bytes)?
            .epoch_secrets(cs, &context_bytes)?;
    if let Some(content) = &verified.split {
        // No confirmation tag: the signed epoch identifier must be the new epoch's
        // (draft-mularczyk-mls-splitcommit-00 §3 step 4); the tag members compute enters the
        // interim transcript hash as at full members (`crate::split`).
        let expected = crate::split::epoch_identifier(cs, &secrets)?;
        if !conclave_crypto::ct_eq(&expected, &content.broadcast.epoch_identifier) {
            return Err(
                GroupError::from(crate::split::SplitCommitError::EpochIdentifierMismatch).into(),
            );
        }
        let tag = transcript::confirmation_tag(
            cs,
            secrets.confirmation_key.as_bytes(),
            &context.confirmed_transcript_hash,
        );
        let interim_transcript_hash =
            transcript::interim_transcript_hash(cs, &context.confirmed_transcript_hash, &tag)?;
        return Ok(KeyScheduleOutput {
            context,
            interim_transcript_hash,
            confirmation_tag: tag,
            secrets,
        });
    }
    let tag = verified
        .content
        .auth
        .confirmation_tag
        .clone()
        .ok_or(PartialMemberError::ConfirmationTag)?;
    if !transcript::verify_confirmation_tag(
        cs,
        secrets.confirmation_key.as_bytes(),
        &context.confirmed_transcript_hash,
        &tag,
    ) {
        return Err(PartialMemberError::ConfirmationTag);
    }
    let interim_transcript_hash =
        transcript::interim_transcript_hash(cs, &context.confirmed_transcript_hash, &tag)?;
    Ok(KeyScheduleOutput {
        context,
        interim_transcript_hash,
        confirmation_tag: tag,
        secrets,
    })
}

/// The epoch secrets a partial member keeps, and the secret tree over `n_leaves` leaves
/// (RFC 9420 §9) that takes the encryption secret.
fn split_secrets(
    secrets: EpochSecrets,
    n_leaves: u32,
    config: SecretTreeConfig,
) -> Result<(PartialSecrets, SecretTree), PartialMemberError> {
    let size =
        TreeSize::new(n_leaves).ok_or(PartialMemberError::Storage("a tree without leaves"))?;
    let EpochSecrets {
        sender_data_secret,
        encryption_secret,
        exporter_secret,
        external_secret,
        membership_key,
        resumption_psk,
        epoch_authenticator,
        init_secret,
        ..
    } = secrets;
    Ok((
        PartialSecrets {
            init_secret,
            sender_data_secret,
            exporter_secret,
            external_secret,
            membership_key,
            resumption_psk,
            epoch_authenticator,
        },
        SecretTree::new(encryption_secret, size, config),
    ))
}

/// The secrets of `ids` (RFC 9420 §8.4): external and application PSKs from the store,
/// resumption PSKs from our own window, then from the linked groups.
fn resolve_psks(
    ids: &[PreSharedKeyId],
    psks: &PartialPsks<'_>,
    own: Option<&PartialMember>,
) -> Result<Vec<Secret>, PartialMemberError> {
    ids.iter()
        .map(|id| {
            let found = match &id.psk {
                Psk::External { psk_id } => psks.store.external_psk(psk_id),
                Psk::Application {
                    component_id,
                    psk_id,
                } => psks.store.application_psk(*component_id, psk_id),
                Psk::Resumption {
                    psk_group_id,
                    psk_epoch,
                    ..
                } => own
                    .filter(|m| m.group_id() == psk_group_id.as_slice())
                    .and_then(|m| m.resumption_psk(*psk_epoch).cloned())
                    .or_else(|| {
                        psks.linked
                            .iter()
                            .find(|(g, e, _)| g == psk_group_id && e == psk_epoch)
                            .map(|(_, _, s)| s.clone())
                    }),
            };
            found.ok_or(PartialMemberError::PskNotFound)
        })
        .collect()
}

/// A refused proof, in the member's terms: which proof, and the section that needs it.
fn proof_error(e: PartialError, which: &'static str, section: &'static str) -> PartialMemberError {
    match e {
        PartialError::TreeHashMismatch(_) => PartialMemberError::WrongTreeHash { which },
        PartialError::DifferentTrees(_) => PartialMemberError::ProofsDisagree { which, section },
        PartialError::SenderMismatch { sender, proven, .. } => {
            PartialMemberError::ProvenLeafMismatch {
                which,
                proven: proven.0,
                named: sender.0,
                section,
            }
        }
        other => PartialMemberError::Proof(other),
    }
}

/// draft-ietf-mls-partial-02 §7, §10: the sender proof is valid for `tree_hash` and proves
/// the member leaf the message names ([`crate::partial::verify_sender`]).
fn verified_sender(
    cs: &dyn CipherSuiteProvider,
    proof: &super::MembershipProof,
    tree_hash: &[u8],
    leaf: LeafIndex,
    section: &'static str,
) -> Result<ProvenMember, PartialMemberError> {
    let proven =
        crate::partial::verify_sender(cs, proof, tree_hash, Sender::Member(leaf), "sender")
            .map_err(|e| proof_error(e, "sender", section))?;
    ProvenMember::from_proven(proof, proven, tree_hash)
}

/// The keys of the Welcome's `path_secret` (RFC 9420 §12.4.3.1; draft-ietf-mls-partial-02
/// §8): the secret belongs to the lowest common ancestor of our leaf and the signer's (the
/// committer that added us), and the chain continues over the non-blank nodes of our direct
/// path above it, as the joiner proof shows them — after the commit exactly the committer's
/// filtered direct path from there (RFC 9420 §7.5). Each derived public key must be the
/// one the proof shows.
fn insert_welcome_path(
    cs: &dyn CipherSuiteProvider,
    keys: &mut PrivateTree,
    joiner: &ProvenMember,
    signer: LeafIndex,
    path_secret: Secret,
) -> Result<(), PartialMemberError> {
    let size = TreeSize::new(joiner.n_leaves).ok_or(PartialMemberError::PathKeyMismatch)?;
    let ancestor = size
        .common_ancestor(joiner.leaf.node(), signer.node())
        .ok_or(PartialMemberError::PathKeyMismatch)?;
    let nodes: Vec<(NodeIndex, crate::messages::HpkePublicKey)> = joiner
        .path
        .iter()
        .filter(|(node, _)| ancestor.is_in_subtree_of(*node))
        .filter_map(|(node, key)| key.clone().map(|k| (*node, k)))
        .collect();
    let path: Vec<NodeIndex> = nodes.iter().map(|(n, _)| *n).collect();
    let mut derived = PrivateTree::new(
        joiner.leaf,
        keys.key(joiner.leaf.node())
            .cloned()
            .ok_or(PartialMemberError::PathKeyMismatch)?,
    );
    derived.insert_path(cs, &path, path_secret)?;
    for (node, public) in nodes {
        let key = derived
            .key(node)
            .ok_or(PartialMemberError::PathKeyMismatch)?;
        if key.public_key != public {
            return Err(PartialMemberError::PathKeyMismatch);
        }
        keys.insert(node, key.clone());
    }
    Ok(())
}

/// A framed content whose signature is not (and cannot be) checked here, as the
/// authenticated content a `ProposalRef` is computed over (RFC 9420 §5.2).
fn unverified_authenticated(
    unverified: UnverifiedContent<'_>,
) -> crate::messages::AuthenticatedContent {
    crate::messages::AuthenticatedContent {
        wire_format: unverified.wire_format(),
        content: unverified.unverified_content().clone(),
        auth: unverified.unverified_auth().clone(),
    }
}

/// The verified content with its encoding, as the transcript hash takes it.
trait IntoOwned {
    fn into_authenticated_content_owned(self) -> (crate::messages::AuthenticatedContent, Vec<u8>);
}

impl IntoOwned for VerifiedContent<'_> {
    fn into_authenticated_content_owned(self) -> (crate::messages::AuthenticatedContent, Vec<u8>) {
        let encoded = self.encoded_content().to_vec();
        (self.into_authenticated_content(), encoded)
    }
}

#[cfg(test)]
mod tests;
