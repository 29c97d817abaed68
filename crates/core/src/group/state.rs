//! The state of one epoch (RFC 9420 §8), what is kept of past epochs for late application
//! messages (RFC 9420 §14), and the PSK lookup groups and joiners consult (§8.4, §8.6).

use conclave_crypto::{CipherSuiteProvider, Secret};

use super::{Group, GroupConfig, GroupError};
use crate::key_schedule::{EpochSecrets, KeySchedule};
use crate::messages::{GroupContext, LeafIndex, PreSharedKeyId, Psk, SignaturePublicKey};
use crate::secret_tree::SecretTree;
use crate::transcript;
use crate::tree::RatchetTree;

/// Where external PSKs come from (RFC 9420 §8.4). Resumption PSKs are kept by the groups
/// themselves.
pub trait PskStore: Send + Sync {
    /// The external PSK with identifier `psk_id`, if known.
    fn external_psk(&self, psk_id: &[u8]) -> Option<Secret>;
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
    /// The secret of `id`: an external PSK from the store; a resumption PSK from the
    /// group's own epochs first, then from the linked groups (a ReInit may keep the group
    /// id, RFC 9420 §11.2, so both can name the same id).
    pub(crate) fn find(&self, id: &PreSharedKeyId) -> Option<Secret> {
        match &id.psk {
            Psk::External { psk_id } => self.external.external_psk(psk_id),
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
    /// The epoch's secrets; `encryption_secret` is wiped once the secret tree holds it.
    pub(crate) secrets: EpochSecrets,
    /// The secret tree of the epoch (§9).
    pub(crate) secret_tree: SecretTree,
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
        let encoded = super::encode(&context)?;
        let secrets = KeySchedule::from_init(
            cs,
            init_secret.as_bytes(),
            commit_secret.as_bytes(),
            None,
            &encoded,
        )?
        .epoch_secrets(cs, &encoded)?;
        let confirmation_tag = transcript::confirmation_tag(
            cs,
            secrets.confirmation_key.as_bytes(),
            &context.confirmed_transcript_hash,
        );
        let interim = transcript::interim_transcript_hash(
            cs,
            &context.confirmed_transcript_hash,
            &confirmation_tag,
        )?;
        Ok(Self::new(
            config,
            context,
            tree,
            interim,
            confirmation_tag,
            secrets,
        ))
    }

    /// Assembles an epoch, building its secret tree (and wiping the encryption secret).
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
        Self {
            context,
            tree,
            interim_transcript_hash,
            confirmation_tag,
            secrets,
            secret_tree,
        }
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

    /// The signature key of the member at `leaf` in that epoch.
    pub(crate) fn signature_key(&self, leaf: LeafIndex) -> Option<&SignaturePublicKey> {
        match &self.members {
            PastMembers::Tree(tree) => tree.leaf(leaf).map(|l| &l.signature_key),
            PastMembers::Keys(keys) => keys.get(leaf.0 as usize).and_then(Option::as_ref),
        }
    }
}
