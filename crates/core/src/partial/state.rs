//! The stored form of a partial member (draft-ietf-mls-partial-02 §4: "A partial client …
//! still possesses the group's secrets"): the GroupContext, the epoch secrets a member that
//! never commits still uses, the interim transcript hash, its own leaf, signature key and
//! direct-path private keys, the secret tree, recent resumption PSKs, the proposals
//! cached in the epoch and what it keeps of a few past epochs for late application
//! messages — and no ratchet tree.
//!
//! The encoding is the TLS presentation language of RFC 9420 §2.1.2 behind a `uint16`
//! format version ([`FORMAT_VERSION`]); an unknown version is refused, not guessed at. The
//! bytes contain secrets (every private key of the member): store them as such.

use conclave_codec::{Decode, Encode};
use conclave_crypto::Secret;

use crate::group::storage::StoredProposal;
use crate::messages::{
    GroupContext, HpkePublicKey, LeafIndex, LeafNode, ReInit, SignaturePublicKey,
};
use crate::secret_tree::SecretTree;

/// The format version [`super::member::PartialMember::to_bytes`] writes.
/// Version 2 added the past epochs and the member-proof secret.
pub(crate) const FORMAT_VERSION: u16 = 2;

/// How many past epochs' resumption PSKs a partial member keeps (RFC 9420 §8.6), as a full
/// member's default window.
pub(crate) const RESUMPTION_PSK_WINDOW: usize = 5;

/// How many past epochs a partial member keeps to read late application messages
/// (RFC 9420 §14: a member may keep an epoch's keys for messages that arrive after the
/// commit), as a full member's default (`GroupConfig::max_past_epochs`).
pub(crate) const PAST_EPOCH_WINDOW: usize = 3;

/// What a partial member keeps of a past epoch to read its late application messages: the
/// epoch's GroupContext (its tree hash checks the senders' proofs, draft-ietf-mls-partial-02
/// §7), its `sender_data_secret` and the secret tree as the epoch left it.
#[derive(Debug, Clone, Encode, Decode)]
pub(crate) struct StoredPastEpoch {
    /// The epoch's GroupContext.
    pub(crate) context: GroupContext,
    /// Its `sender_data_secret` (RFC 9420 §6.3.2).
    pub(crate) sender_data_secret: Secret,
    /// Its secret tree, consumed generations deleted.
    pub(crate) secret_tree: SecretTree,
    /// Its member-proof public key, if it had member proofs (draft-mahy-mls-member-proof-00).
    pub(crate) member_proof_key: Option<SignaturePublicKey>,
}

/// The epoch secrets a partial member keeps (RFC 9420 §8): it never commits, so the
/// confirmation key is used once, when the epoch starts, and not kept; the encryption
/// secret lives in the secret tree only.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub(crate) struct PartialSecrets {
    /// `init_secret` of the next epoch.
    pub(crate) init_secret: Secret,
    /// `sender_data_secret` (RFC 9420 §6.3.2).
    pub(crate) sender_data_secret: Secret,
    /// `exporter_secret` (RFC 9420 §8.5).
    pub(crate) exporter_secret: Secret,
    /// `external_secret`: an external commit's init secret is decapsulated with its key pair.
    pub(crate) external_secret: Secret,
    /// `membership_key` (RFC 9420 §6.2).
    pub(crate) membership_key: Secret,
    /// `resumption_psk` (RFC 9420 §8.6).
    pub(crate) resumption_psk: Secret,
    /// `epoch_authenticator` (RFC 9420 §8.7).
    pub(crate) epoch_authenticator: Secret,
}

/// One private HPKE key of the member's leaf or of a node on its direct path, with the
/// public key it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub(crate) struct StoredNodeKey {
    /// The node index (RFC 9420 Appendix C).
    pub(crate) node: u64,
    /// The private key.
    pub(crate) secret_key: Secret,
    /// The public key, as the tree carries it.
    pub(crate) public_key: HpkePublicKey,
}

/// A resumption PSK of a past epoch (RFC 9420 §8.6).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub(crate) struct StoredResumptionPsk {
    /// The epoch.
    pub(crate) epoch: u64,
    /// Its `resumption_psk`.
    pub(crate) psk: Secret,
}

/// Whether the member still follows the group: 0 active, 1 removed (RFC 9420 §12.4.2: a
/// removed member deletes its state), 2 ended by a ReInit (§11.2, the ReInit kept).
pub(crate) const STATUS_ACTIVE: u8 = 0;
/// See [`STATUS_ACTIVE`].
pub(crate) const STATUS_REMOVED: u8 = 1;
/// See [`STATUS_ACTIVE`].
pub(crate) const STATUS_REINIT: u8 = 2;

/// Everything a partial member holds, as stored.
#[derive(Encode, Decode)]
pub(crate) struct StoredPartialMember {
    pub(crate) version: u16,
    pub(crate) context: GroupContext,
    pub(crate) interim_transcript_hash: Vec<u8>,
    pub(crate) confirmation_tag: Vec<u8>,
    pub(crate) n_leaves: u32,
    pub(crate) own_leaf: LeafIndex,
    pub(crate) own_leaf_node: LeafNode,
    pub(crate) signature_key: Secret,
    pub(crate) keys: Vec<StoredNodeKey>,
    pub(crate) secrets: PartialSecrets,
    pub(crate) secret_tree: SecretTree,
    pub(crate) resumption_psks: Vec<StoredResumptionPsk>,
    pub(crate) proposals: Vec<StoredProposal>,
    pub(crate) status: u8,
    pub(crate) reinit: Option<ReInit>,
    pub(crate) past_epochs: Vec<StoredPastEpoch>,
    /// The epoch's `member_proof_secret` (draft-mahy-mls-member-proof-00 §3), if it has
    /// member proofs.
    pub(crate) member_proof_secret: Option<Secret>,
}
