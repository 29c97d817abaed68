//! The state of one epoch (RFC 9420 §8), what is kept of past epochs for late application
//! messages (RFC 9420 §14), and the PSK lookup groups and joiners consult (§8.4, §8.6).

use conclave_crypto::{CipherSuiteProvider, Secret};

use super::{Group, GroupConfig, GroupError};
use crate::key_schedule::{EpochSecrets, KeySchedule};
use crate::member_proof::MemberProofKeys;
use crate::messages::{
    ComponentId, GroupContext, LeafIndex, PreSharedKeyId, Psk, SignaturePublicKey,
};
use crate::safe::ExporterTree;
use crate::secret_tree::SecretTree;
use crate::transcript;
use crate::tree::RatchetTree;

/// Where external PSKs (RFC 9420 §8.4) and application PSKs (draft-ietf-mls-extensions-10
/// §4.5) come from. Resumption PSKs are kept by the groups themselves.
pub trait PskStore: Send + Sync {
    /// The external PSK with identifier `psk_id`, if known.
    fn external_psk(&self, psk_id: &[u8]) -> Option<Secret>;

    /// The application PSK `psk_id` of component `component_id`
    /// (draft-ietf-mls-extensions-10 §4.5), if known. Its own namespace: an external PSK
    /// with the same `psk_id` is a different PSK. The default knows none.
    fn application_psk(&self, component_id: ComponentId, psk_id: &[u8]) -> Option<Secret> {
        let _ = (component_id, psk_id);
        None
    }
}

/// A PSK store that knows no PSK.
impl PskStore for () {
    fn external_psk(&self, _psk_id: &[u8]) -> Option<Secret> {
        None
    }
}

/// An in-memory PSK store.
impl PskStore for std::sync::RwLock<std::collections::HashMap<Vec<u8>, Secret>> {
    fn external_psk(&self, psk_id: &[u8]) -> Option<Secret> {
        self.read().ok().and_then(|map| map.get(psk_id).cloned())
    }
}

/// Where a group, or a client joining one, finds the secret of a PSK (RFC 9420 §8.4, §8.6).
pub(crate) struct PskSources<'a> {
    /// External PSKs.
    pub(crate) external: &'a dyn PskStore,
    /// The group whose own recent epochs supply resumption PSKs under its group id; `None`
    /// for a joiner, which has no epochs yet.
    pub(crate) own: Option<&'a Group>,
    /// Resumption PSKs of other groups, `(group_id, epoch, secret)`: the predecessor a
    /// ReInit or branch links a group to (RFC 9420 §11.2, §11.3), or those a joiner was
    /// given ([`super::JoinOptions::resumption_psks`]).
    pub(crate) linked: &'a [(Vec<u8>, u64, Secret)],
}

impl PskSources<'_> {
    /// The secret of `id`: an external or application PSK from the store; a resumption PSK
    /// from the group's own epochs first, then from the linked groups (a ReInit may keep the
    /// group id, RFC 9420 §11.2, so both can name the same id).
    pub(crate) fn find(&self, id: &PreSharedKeyId) -> Option<Secret> {
        match &id.psk {
            Psk::External { psk_id } => self.external.external_psk(psk_id),
            Psk::Application {
                component_id,
                psk_id,
            } => self.external.application_psk(*component_id, psk_id),
            Psk::Resumption {
                psk_group_id,
                psk_epoch,
                ..
            } => {
                let own = self
                    .own
                    .filter(|group| group.group_id() == psk_group_id.as_slice())
                    .and_then(|group| group.resumption_psk(*psk_epoch).cloned());
                own.or_else(|| {
                    self.linked
                        .iter()
                        .find(|(g, e, _)| g == psk_group_id && e == psk_epoch)
                        .map(|(_, _, s)| s.clone())
                })
            }
        }
    }

    /// The secrets of `ids`, in order, or [`GroupError::PskNotFound`] (RFC 9420 §8.4,
    /// §12.4.2, §12.4.3.1: a PSK that is not available is an error).
    pub(crate) fn resolve(&self, ids: &[PreSharedKeyId]) -> Result<Vec<Secret>, GroupError> {
        ids.iter()
            .map(|id| self.find(id).ok_or(GroupError::PskNotFound))
            .collect()
    }
}

/// Everything a member holds for the current epoch.
#[derive(Debug, Clone)]
pub(crate) struct EpochState {
    /// The group context of the epoch (RFC 9420 §8.1).
    pub(crate) context: GroupContext,
    /// The ratchet tree.
    pub(crate) tree: RatchetTree,
    /// Interim transcript hash after the commit that started the epoch (§8.2).
    pub(crate) interim_transcript_hash: Vec<u8>,
    /// Confirmation tag of that commit (§6.1), repeated in GroupInfo.
    pub(crate) confirmation_tag: Vec<u8>,
    /// The epoch's secrets; `encryption_secret` and `application_export_secret` are wiped
    /// once the secret tree and the exporter tree hold them.
    pub(crate) secrets: EpochSecrets,
    /// The secret tree of the epoch (§9).
    pub(crate) secret_tree: SecretTree,
    /// The epoch's Exporter Tree (draft-ietf-mls-extensions-10 §4.4). Only the current
    /// epoch (and a pending commit's) has one: it ends with its epoch.
    pub(crate) exporter_tree: ExporterTree,
    /// The epoch's member-proof keys when its GroupContext requires member proofs
    /// (draft-mahy-mls-member-proof-00, [`crate::member_proof`]); set by whoever builds the
    /// epoch, since they come from the key schedule before the GroupContext (D3) or from a
    /// Welcome (D4).
    pub(crate) member_proof: Option<MemberProofKeys>,
}

impl EpochState {
    /// The first epoch of a new group (RFC 9420 §11): the key schedule from a random
    /// `init_secret` with an all-zero commit secret and no PSK; the confirmation tag over the
    /// empty confirmed transcript hash.
    pub(crate) fn first(
        cs: &dyn CipherSuiteProvider,
        config: &GroupConfig,
        context: GroupContext,
        tree: RatchetTree,
        init_secret: &Secret,
    ) -> Result<Self, GroupError> {
        let commit_secret = Secret::zero(cs.hash_len());
        // draft-mahy-mls-member-proof-00 (D3): epoch 0's key from the creator's init_secret.
        let member_proof = crate::member_proof::keys_for_epoch(
            cs,
            &context.extensions,
            init_secret.as_bytes(),
            commit_secret.as_bytes(),
            &context.group_id,
            context.epoch,
        )?;
        let mut epoch = NextEpoch::start(cs, context, init_secret, &commit_secret, None)?.finish(
            cs,
            config,
            tree,
            ConfirmationTag::Compute,
        )?;
        epoch.member_proof = member_proof;
        Ok(epoch)
    }

    /// Assembles an epoch, building its secret tree and exporter tree (and wiping the
    /// encryption and application export secrets).
    pub(crate) fn new(
        config: &GroupConfig,
        context: GroupContext,
        tree: RatchetTree,
        interim_transcript_hash: Vec<u8>,
        confirmation_tag: Vec<u8>,
        mut secrets: EpochSecrets,
    ) -> Self {
        let encryption_secret = std::mem::take(&mut secrets.encryption_secret);
        let secret_tree = SecretTree::new(encryption_secret, tree.size(), config.secret_tree);
        let exporter_tree =
            ExporterTree::new(std::mem::take(&mut secrets.application_export_secret));
        Self {
            context,
            tree,
            interim_transcript_hash,
            confirmation_tag,
            secrets,
            secret_tree,
            exporter_tree,
            member_proof: None,
        }
    }
}

/// Where the confirmation tag of a new epoch comes from (RFC 9420 §6.1).
#[derive(Debug, Clone, Copy)]
pub(crate) enum ConfirmationTag<'a> {
    /// Computed: a commit we create, or a new group.
    Compute,
    /// Received with a commit, and verified.
    Verify(&'a [u8]),
    /// A split commit (draft-mularczyk-mls-splitcommit-00 §3, §4): the tag is computed, not
    /// received (it enters the GroupInfo, RFC 9420 §12.4.3, and the interim transcript
    /// hash), and a received commit's `epoch_identifier` must be the new epoch's.
    Split(Option<&'a [u8]>),
}

/// The next epoch between the key schedule and the epoch secrets (RFC 9420 §8): a
/// committer takes the `joiner_secret` and the Welcome key from it, then everyone
/// [`NextEpoch::finish`]es it the same way. This is the one epoch-advance sequence, shared
/// by the commits we create, the commits we receive and a new group's first epoch.
pub(crate) struct NextEpoch {
    context: GroupContext,
    context_bytes: Vec<u8>,
    schedule: KeySchedule,
}

impl NextEpoch {
    /// Starts the key schedule of the epoch whose GroupContext is `context` (its
    /// `confirmed_transcript_hash` already the new one): `joiner_secret` from the previous
    /// `init_secret`, the `commit_secret` and the new GroupContext, then `member_secret` with
    /// the `psk_secret` (`None`: no PSKs, all zero) (RFC 9420 §8).
    pub(crate) fn start(
        cs: &dyn CipherSuiteProvider,
        context: GroupContext,
        init_secret: &Secret,
        commit_secret: &Secret,
        psk_secret: Option<&Secret>,
    ) -> Result<Self, GroupError> {
        let context_bytes = super::encode(&context)?;
        let schedule = KeySchedule::from_init(
            cs,
            init_secret.as_bytes(),
            commit_secret.as_bytes(),
            psk_secret.map(Secret::as_bytes),
            &context_bytes,
        )?;
        Ok(Self {
            context,
            context_bytes,
            schedule,
        })
    }

    /// The key schedule, for the `joiner_secret` and `welcome_secret` a Welcome carries
    /// (RFC 9420 §8, §12.4.3.1).
    pub(crate) fn schedule(&self) -> &KeySchedule {
        &self.schedule
    }

    /// The epoch: its secrets (RFC 9420 §8), the confirmation tag over the confirmed
    /// transcript hash, computed or verified (§6.1), the interim transcript hash (§8.2) and
    /// the secret tree (§9) over `tree`.
    pub(crate) fn finish(
        self,
        cs: &dyn CipherSuiteProvider,
        config: &GroupConfig,
        tree: RatchetTree,
        tag: ConfirmationTag<'_>,
    ) -> Result<EpochState, GroupError> {
        let Self {
            context,
            context_bytes,
            schedule,
        } = self;
        let secrets = schedule.epoch_secrets(cs, &context_bytes)?;
        let confirmation_key = secrets.confirmation_key.as_bytes();
        let confirmed = &context.confirmed_transcript_hash;
        let confirmation_tag = match tag {
            ConfirmationTag::Compute => {
                transcript::confirmation_tag(cs, confirmation_key, confirmed)
            }
            ConfirmationTag::Verify(received) => {
                if !transcript::verify_confirmation_tag(cs, confirmation_key, confirmed, received) {
                    return Err(GroupError::ConfirmationTagMismatch);
                }
                received.to_vec()
            }
            ConfirmationTag::Split(received) => {
                if let Some(received) = received {
                    let expected = crate::split::epoch_identifier(cs, &secrets)?;
                    if !conclave_crypto::ct_eq(&expected, received) {
                        return Err(crate::split::SplitCommitError::EpochIdentifierMismatch.into());
                    }
                }
                transcript::confirmation_tag(cs, confirmation_key, confirmed)
            }
        };
        // A split commit's interim hash too is RFC 9420's, over the tag every member computes
        // (`crate::split`: draft-mularczyk-mls-splitcommit-00 §4 would make it the confirmed
        // hash, which a joiner, who sees only the GroupInfo, cannot tell).
        let interim = transcript::interim_transcript_hash(cs, confirmed, &confirmation_tag)?;
        Ok(EpochState::new(
            config,
            context,
            tree,
            interim,
            confirmation_tag,
            secrets,
        ))
    }
}

/// What is kept of a past epoch to read late application messages (RFC 9420 §14): its
/// context, secret tree, sender-data secret and the members' signature keys.
#[derive(Debug, Clone)]
pub(crate) struct PastEpoch {
    pub(crate) context: GroupContext,
    pub(crate) own_leaf: LeafIndex,
    pub(crate) secret_tree: SecretTree,
    pub(crate) sender_data_secret: Secret,
    pub(crate) members: PastMembers,
    /// The epoch's member-proof public key, to check the proofs of late application
    /// messages (draft-mahy-mls-member-proof-00 §3).
    pub(crate) member_proof_key: Option<SignaturePublicKey>,
}

/// Where a past epoch's signature keys come from.
#[derive(Debug, Clone)]
pub(crate) enum PastMembers {
    /// The epoch's own tree, moved in when the epoch ended: its nodes are shared with the
    /// trees of later epochs, so keeping it copies nothing (a commit stays O(log n)).
    Tree(Box<RatchetTree>),
    /// The keys alone, as stored by [`super::Group::to_bytes`].
    Keys(Vec<Option<SignaturePublicKey>>),
}

impl PastEpoch {
    /// Keeps what late messages need of `epoch`; the rest is dropped (and zeroized).
    pub(crate) fn from_epoch(epoch: EpochState, own_leaf: LeafIndex) -> Self {
        Self {
            context: epoch.context,
            own_leaf,
            secret_tree: epoch.secret_tree,
            sender_data_secret: epoch.secrets.sender_data_secret,
            members: PastMembers::Tree(Box::new(epoch.tree)),
            member_proof_key: epoch.member_proof.map(|keys| keys.public_key().clone()),
        }
    }

    /// The members' signature keys by leaf index (the stored form).
    pub(crate) fn signature_keys(&self) -> Vec<Option<SignaturePublicKey>> {
        match &self.members {
            PastMembers::Keys(keys) => keys.clone(),
            PastMembers::Tree(tree) => {
                let mut keys = vec![None; tree.leaf_count() as usize];
                for (index, leaf) in tree.members() {
                    if let Some(slot) = keys.get_mut(index.0 as usize) {
                        *slot = Some(leaf.signature_key.clone());
                    }
                }
                keys
            }
        }
    }

    /// The credential of the member at `leaf` in that epoch, when it is known: the epoch's
    /// own tree if it was kept, else `current`'s leaf at that index if it still has the
    /// same signature key (after a reload only the keys of past epochs are stored).
    pub(crate) fn credential<'a>(
        &'a self,
        leaf: LeafIndex,
        current: &'a RatchetTree,
    ) -> Option<&'a crate::messages::Credential> {
        match &self.members {
            PastMembers::Tree(tree) => tree.leaf(leaf).map(|l| &l.credential),
            PastMembers::Keys(_) => {
                let now = current.leaf(leaf)?;
                (Some(&now.signature_key) == self.signature_key(leaf)).then_some(&now.credential)
            }
        }
    }

    /// The signature key of the member at `leaf` in that epoch.
    pub(crate) fn signature_key(&self, leaf: LeafIndex) -> Option<&SignaturePublicKey> {
        match &self.members {
            PastMembers::Tree(tree) => tree.leaf(leaf).map(|l| &l.signature_key),
            PastMembers::Keys(keys) => keys.get(leaf.0 as usize).and_then(Option::as_ref),
        }
    }
}
