//! The errors of the group state machine. Every rejection names the rule it enforces, with
//! its RFC 9420 section, and leaves the group exactly as it was.

use conclave_codec::CodecError;
use conclave_crypto::{CipherSuite, CryptoError};

use crate::credential::CredentialError;
use crate::framing::FramingError;
use crate::key_schedule::KeyScheduleError;
use crate::messages::{LeafIndex, ProposalType, SenderType, WireFormat};
use crate::psk::PskError;
use crate::safe::SafeError;
use crate::secret_tree::SecretTreeError;
use crate::transcript::TranscriptError;
use crate::tree::{TreeError, TreeValidationError};
use crate::treekem::TreeKemError;
use crate::validation::ValidationError;

use super::SelfRemoveError;
use crate::welcome::WelcomeError;

/// Why a group operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GroupError {
    /// The crypto provider does not implement the group's cipher suite.
    #[error("cipher suite {0:?} is not supported by the crypto provider")]
    UnsupportedCipherSuite(CipherSuite),
    /// The message is for another group.
    #[error("message is for another group (RFC 9420 §6)")]
    WrongGroup,
    /// A handshake message is not for the current epoch, or an application message is for an
    /// epoch we no longer (or never) had keys for.
    #[error(
        "message is for epoch {message}, the group is at epoch {current} (RFC 9420 §6, §12.4.2)"
    )]
    WrongEpoch {
        /// The message's epoch.
        message: u64,
        /// The group's current epoch.
        current: u64,
    },
    /// Only `mls10` is implemented.
    #[error("protocol version {0} is not supported (RFC 9420 §6)")]
    UnsupportedVersion(u16),
    /// The wire format cannot be processed as a group message here.
    #[error("wire format {0:?} cannot be processed as a group message")]
    UnexpectedWireFormat(WireFormat),
    /// The group policy forbids this wire format for this content (RFC 9420 §6.2, §6.3).
    #[error("wire format {0:?} is not allowed here by the group's policy")]
    WireFormatNotAllowed(WireFormat),
    /// A member's handshake in another wire format than the one the group records as its
    /// handshake mode ([`crate::group::handshake_mode`]).
    #[error(
        "the group sends its handshakes as {required:?}, and this member's handshake came as {found:?}: the group's handshake mode (Conclave's component 0x8C02) refuses it"
    )]
    HandshakeModeViolated {
        /// The wire format the group records.
        required: WireFormat,
        /// The handshake's.
        found: WireFormat,
    },
    /// A SemiPrivateMessage was to be sent or was received in a group that has not enabled
    /// the wire format (draft-mahy-mls-semiprivatemessage-07 §3).
    #[error(
        "the group has not enabled SemiPrivateMessage: it needs mls_semiprivate_message in its required_wire_formats and at least one external receiver (draft-mahy-mls-semiprivatemessage-07 §3)"
    )]
    SemiPrivateNotEnabled,
    /// The member has been removed or the group was reinitialised: it cannot be used.
    #[error("the group is no longer usable: {0}")]
    Inactive(&'static str),
    /// A commit of ours is pending; merge or discard it first.
    #[error("a commit is pending: merge or clear it first")]
    PendingCommit,
    /// There is no pending commit to merge.
    #[error("no pending commit")]
    NoPendingCommit,
    /// The sender's leaf is blank or outside the tree (RFC 9420 §6.3.2, §12.4.2).
    #[error("sender leaf {0:?} is not a member (RFC 9420 §6.1)")]
    UnknownSender(LeafIndex),
    /// An external sender index does not exist in `external_senders` (RFC 9420 §12.1.8.1).
    #[error("external sender {0} is not in the group's external_senders (RFC 9420 §12.1.8.1)")]
    UnknownExternalSender(u32),
    /// This sender type may not send this message.
    #[error("sender type {sender:?} may not send {what} (RFC 9420 §{section})")]
    SenderNotAllowed {
        /// The sender type.
        sender: SenderType,
        /// What was sent.
        what: &'static str,
        /// The section of the rule.
        section: &'static str,
    },
    /// The proposal was already received in this epoch (a replay).
    #[error("proposal already received in this epoch (replayed message)")]
    DuplicateProposal,
    /// A proposal referenced by a commit is unknown (RFC 9420 §12.4).
    #[error("commit references an unknown proposal (RFC 9420 §12.4)")]
    UnknownProposalRef,
    /// A proposal is invalid on its own (RFC 9420 §12.1).
    #[error("invalid {proposal:?} proposal: {reason} (RFC 9420 §{section})")]
    InvalidProposal {
        /// The proposal's type.
        proposal: ProposalType,
        /// What is wrong.
        reason: &'static str,
        /// The section of the rule.
        section: &'static str,
    },
    /// The committed proposal list breaks a rule of RFC 9420 §12.2.
    #[error("invalid proposal list: {0} (RFC 9420 §12.2)")]
    InvalidProposalList(&'static str),
    /// A committed proposal's non-default type is not supported by a member that will
    /// process the commit (RFC 9420 §12.2, §7.2).
    #[error(
        "invalid proposal list: member {member:?} does not list proposal type {proposal:?} in its capabilities (RFC 9420 §12.2)"
    )]
    ProposalTypeUnsupported {
        /// The proposal type.
        proposal: ProposalType,
        /// The member lacking it.
        member: LeafIndex,
    },
    /// A rule of the application data of draft-ietf-mls-extensions-10 (§4.6–§4.8, §6.1,
    /// §6.3).
    #[error(transparent)]
    AppData(#[from] super::app_data::AppDataError),
    /// The room policy refuses the commit (draft-ietf-mimi-room-policy-04).
    #[error(transparent)]
    Policy(#[from] super::policy::PolicyError),
    /// The commit lacks a path although one is required (RFC 9420 §12.4).
    #[error("commit needs an UpdatePath: {0} (RFC 9420 §12.4)")]
    PathRequired(&'static str),
    /// A key in an UpdatePath is already in the tree (RFC 9420 §12.4.2).
    #[error("UpdatePath public key already present in the tree (RFC 9420 §12.4.2)")]
    DuplicatePathKey,
    /// The committer's new leaf keeps its encryption key (RFC 9420 §12.4.2).
    #[error("committer's new leaf reuses its old encryption key (RFC 9420 §12.4.2)")]
    CommitterEncryptionKeyUnchanged,
    /// The confirmation tag does not match (RFC 9420 §6.1, §12.4.2).
    #[error("confirmation tag mismatch (RFC 9420 §6.1)")]
    ConfirmationTagMismatch,
    /// A PSK is not available (RFC 9420 §8.4, §12.4.2).
    #[error("pre-shared key not available (RFC 9420 §8.4)")]
    PskNotFound,
    /// The PSK nonce has the wrong length (RFC 9420 §8.4).
    #[error("psk_nonce must be KDF.Nh bytes (RFC 9420 §8.4)")]
    PskNonceLength,
    /// A message of ours came back but matches nothing we sent.
    #[error("message claims to be from us but matches nothing we sent")]
    UnrecognisedOwnMessage,
    /// The GroupInfo lacks something needed (RFC 9420 §12.4.3).
    #[error("GroupInfo unusable: {0} (RFC 9420 §12.4.3)")]
    GroupInfo(&'static str),
    /// No ratchet tree is available for joining (RFC 9420 §12.4.3.3).
    #[error("no ratchet tree in the Welcome or GroupInfo and none supplied (RFC 9420 §12.4.3.3)")]
    MissingRatchetTree,
    /// The GroupInfo says the Delivery Service holds the ratchet tree
    /// (draft-ietf-mls-ratchet-tree-options-00 §3 `distributionService`) and none was
    /// supplied: fetch the tree of this group from the Delivery Service and join again with it
    /// ([`crate::group::JoinOptions::ratchet_tree`]); it is checked against the GroupInfo's
    /// tree hash (RFC 9420 §12.4.3.1).
    #[error(
        "the Delivery Service holds this group's ratchet tree: fetch it for group {} and join \
         with it (draft-ietf-mls-ratchet-tree-options-00 §3, RFC 9420 §12.4.3.3)",
        hex_id(group_id)
    )]
    RatchetTreeOnDeliveryService {
        /// The group whose tree to fetch.
        group_id: Vec<u8>,
        /// The epoch the GroupInfo describes.
        epoch: u64,
    },
    /// The GroupInfo says the ratchet tree can be downloaded from this `https:` URL
    /// (draft-ietf-mls-ratchet-tree-options-00 §3 `httpsUri`, checked against the group's
    /// `ratchet_tree_source_domains`) and none was supplied: download it and join again with
    /// it.
    #[error(
        "the ratchet tree of this group is at {0}: download it and join with it \
         (draft-ietf-mls-ratchet-tree-options-00 §3)"
    )]
    RatchetTreeAtUrl(String),
    /// A ratchet-tree option of the GroupInfo or GroupContext was refused
    /// (draft-ietf-mls-ratchet-tree-options-00).
    #[error(transparent)]
    TreeOption(#[from] crate::ratchet_tree_options::TreeOptionError),
    /// Our KeyPackage's leaf is not in the tree (RFC 9420 §12.4.3.1).
    #[error("our leaf is not in the ratchet tree (RFC 9420 §12.4.3.1)")]
    OwnLeafNotFound,
    /// Our private keys do not match the tree (RFC 9420 §12.4.3.1).
    #[error("derived private keys do not match the tree's public keys (RFC 9420 §12.4.3.1)")]
    PrivateKeyMismatch,
    /// A resumption PSK rule for ReInit or branching is broken (RFC 9420 §11.2, §11.3).
    #[error("{0} (RFC 9420 §11.2, §11.3, §12.4.3.1)")]
    Resumption(&'static str),
    /// An application message was attempted while proposals are pending (RFC 9420 §12.4).
    #[error("proposals are pending: commit them before sending application data (RFC 9420 §12.4)")]
    ProposalsPending,
    /// A SelfRemove rule was broken (draft-ietf-mls-extensions-10 §6.3).
    #[error(transparent)]
    SelfRemove(#[from] SelfRemoveError),
    /// A Replace rule was broken (draft-barnes-mls-replace-00).
    #[error(transparent)]
    Replace(#[from] super::replace::ReplaceError),
    /// The group state could not be decoded.
    #[error("stored group state is malformed: {0}")]
    MalformedState(&'static str),
    /// A leaf or KeyPackage failed validation.
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// A credential was rejected.
    #[error(transparent)]
    Credential(#[from] CredentialError),
    /// Framing or message protection failed.
    #[error(transparent)]
    Framing(#[from] FramingError),
    /// The ratchet tree rejected an operation.
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// A ratchet tree received when joining is invalid (RFC 9420 §12.4.3.1).
    #[error(transparent)]
    TreeValidation(#[from] TreeValidationError),
    /// TreeKEM failed.
    #[error(transparent)]
    TreeKem(#[from] TreeKemError),
    /// Welcome processing failed.
    #[error(transparent)]
    Welcome(#[from] WelcomeError),
    /// The key schedule failed.
    #[error(transparent)]
    KeySchedule(#[from] KeyScheduleError),
    /// The secret tree failed.
    #[error(transparent)]
    SecretTree(#[from] SecretTreeError),
    /// Transcript hashing failed.
    #[error(transparent)]
    Transcript(#[from] TranscriptError),
    /// PSK derivation failed.
    #[error(transparent)]
    Psk(#[from] PskError),
    /// A rule of the Safe Application Interface (draft-ietf-mls-extensions-10 §4): Safe AAD,
    /// the safe exporter, safe signatures and encryption.
    #[error(transparent)]
    Safe(#[from] SafeError),
    /// A rule of member proofs (draft-mahy-mls-member-proof-00).
    #[error(transparent)]
    MemberProof(#[from] crate::member_proof::MemberProofError),
    /// A targeted message could not be sent or was rejected
    /// (draft-ietf-mls-targeted-messages).
    #[error(transparent)]
    Targeted(#[from] crate::targeted::TargetedError),
    /// Encoding or decoding failed.
    #[error("codec: {0}")]
    Codec(#[from] CodecError),
    /// A split commit was refused (draft-mularczyk-mls-splitcommit-00).
    #[error("split commit: {0}")]
    SplitCommit(#[from] crate::split::SplitCommitError),
    /// A cryptographic primitive failed.
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
}

impl GroupError {
    pub(crate) fn proposal(
        proposal: ProposalType,
        reason: &'static str,
        section: &'static str,
    ) -> Self {
        Self::InvalidProposal {
            proposal,
            reason,
            section,
        }
    }
}

/// A group id in hex, for messages.
fn hex_id(id: &[u8]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}
