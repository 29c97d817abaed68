//! The async driver of one member's groups over a [`DeliveryService`]: it feeds the
//! sans-IO [`crate::applier::LogApplier`] from the group log and stores each step, sends
//! messages, runs commits with retries, and joins from Welcomes (RFC 9420 §10-§12 over the
//! Delivery Service of RFC 9750 §5-§6). Generic over the DS so that tests drive it with a
//! simulated one; [`crate::Client`] drives it with [`conclave_api::DsClient`].
//!
//! - [`log`]: applying a group's log, one entry per SQLite transaction;
//! - [`commit`]: our own commits — created pending, saved, posted, merged when they come back
//!   in the log, dropped and recomputed when another commit won the epoch;
//! - [`send`]: application messages (through the outbox) and leaving;
//! - [`join`]: joining groups from the Welcome inbox.

pub(crate) mod commit;
pub(crate) mod join;
pub(crate) mod log;
pub(crate) mod send;

#[cfg(test)]
mod sim;
#[cfg(test)]
mod tests;

use conclave_core::codepoints::{LEAF_NODE_EPOCH_EXTENSION, REPLACE_PROPOSAL};
use conclave_core::credential::IdentityProvider;
use conclave_core::group::{
    Group, GroupConfig, GroupEnv, LeafOptions, SigningIdentity, default_capabilities,
};
use conclave_core::messages::{
    Credential, ExtensionProposalBody, ExtensionProposalKind, LeafIndex, Proposal, Sender,
    SignaturePublicKey, WireFormat,
};
use conclave_crypto::CipherSuite;

use crate::ClientOptions;
use crate::applier::ApplierConfig;
use crate::delivery::DeliveryService;
use crate::error::ClientError;
use crate::event::{AddProgress, Event};
use crate::store::{GroupRow, GroupStatus, Profile, StateWrite, Store};

/// Reports events as they happen.
pub(crate) type Observer = Box<dyn FnMut(&Event) + Send>;
/// Reports progress of long operations.
pub(crate) type ProgressFn = Box<dyn FnMut(&AddProgress) + Send>;

/// Our group policy. Its handshake wire format, PrivateMessage, is the fallback of groups
/// that do not record a mode; a group's creator and joiners set the mode the group records
/// ([`crate::handshakes`]).
pub(crate) fn group_config() -> GroupConfig {
    GroupConfig {
        handshake_wire_format: WireFormat::PRIVATE_MESSAGE,
        ..GroupConfig::default()
    }
}

/// The parameters of our leaves (KeyPackages, the groups we create): the default
/// capabilities with the Replace proposal type and the `leaf_node_epoch` extension
/// (draft-barnes-mls-replace-00), plus the SelfRemove proposal type of our groups' codepoint profile when
/// `self_remove` is on, so that our groups are "self-remove-capable" once every member lists
/// it (draft-ietf-mls-extensions-10 §6.3).
pub(crate) fn leaf_options(
    suite: CipherSuite,
    identity: &dyn IdentityProvider,
    self_remove: bool,
) -> LeafOptions {
    let mut capabilities = default_capabilities(suite, identity, group_config().codepoint_profile);
    // draft-barnes-mls-replace-00: we can follow a Replace, and our leaves carry
    // `leaf_node_epoch` (§6: every leaf SHOULD, against rollback).
    capabilities.proposals.push(REPLACE_PROPOSAL);
    capabilities.extensions.push(LEAF_NODE_EPOCH_EXTENSION);
    if self_remove {
        capabilities.proposals.push(
            group_config()
                .codepoint_profile
                .proposal_type(ExtensionProposalKind::SelfRemove),
        );
    }
    LeafOptions {
        capabilities: Some(capabilities),
        ..LeafOptions::default()
    }
}

/// Whether `proposal` is a SelfRemove (draft-ietf-mls-extensions-10 §6.3).
pub(crate) fn is_self_remove(proposal: &Proposal) -> bool {
    matches!(
        proposal.extension_body(),
        Some(ExtensionProposalBody::SelfRemove(_))
    )
}

/// The leaves of other members whose SelfRemove waits for a commit: the next commit removes
/// them by reference, and a Remove of them would be invalid (draft-ietf-mls-extensions-10
/// §6.3).
pub(crate) fn leaving_members(group: &Group) -> Vec<LeafIndex> {
    let own = group.own_leaf();
    group
        .pending_proposals()
        .filter_map(|(sender, proposal)| match sender {
            Sender::Member(leaf) if *leaf != own && is_self_remove(proposal) => Some(*leaf),
            _ => None,
        })
        .collect()
}

/// Loads a group's member state from the store, with the client's application components
/// installed ([`crate::topic`]): the stored state holds none, as components are code
/// (draft-ietf-mls-extensions-10 §4.7).
pub(crate) fn load_group(
    store: &Store,
    env: &GroupEnv,
    row: &GroupRow,
) -> Result<Group, ClientError> {
    let mut group = store
        .load_group(env.clone(), &row.group_id)?
        .ok_or_else(|| ClientError::CorruptState(format!("group {:?} has no state", row.name)))?;
    group.set_component_handler(crate::topic::components());
    Ok(group)
}

/// The error for an operation on a group that is no longer active.
pub(crate) fn inactive_error(row: &GroupRow, epoch: u64) -> ClientError {
    let reason = row.reason.clone().unwrap_or_default();
    match row.status {
        GroupStatus::Desynchronized => ClientError::Desynchronized {
            group: row.name.clone(),
            epoch,
            reason,
        },
        GroupStatus::Left => ClientError::GroupInactive {
            group: row.name.clone(),
            reason: if reason.is_empty() {
                "you left this group".into()
            } else {
                reason
            },
        },
        _ => ClientError::GroupInactive {
            group: row.name.clone(),
            reason: if reason.is_empty() {
                "you are no longer a member".into()
            } else {
                reason
            },
        },
    }
}

/// One member's group operations over a Delivery Service `D`, borrowing the client's
/// parts for the duration of an operation.
pub(crate) struct GroupDriver<'a, D> {
    pub(crate) store: &'a Store,
    pub(crate) ds: &'a D,
    pub(crate) env: &'a GroupEnv,
    pub(crate) profile: &'a Profile,
    pub(crate) options: &'a ClientOptions,
    pub(crate) observer: &'a mut Option<Observer>,
    pub(crate) progress: &'a mut Option<ProgressFn>,
}

impl<D: DeliveryService> GroupDriver<'_, D> {
    pub(crate) fn now(&self) -> u64 {
        crate::now_seconds().saturating_add_signed(self.options.clock_offset)
    }

    pub(crate) fn emit(&mut self, event: &Event) {
        if let Some(observer) = self.observer.as_mut() {
            observer(event);
        }
    }

    pub(crate) fn report_progress(&mut self, stage: &'static str, done: u64, total: u64) {
        if let Some(progress) = self.progress.as_mut() {
            progress(&AddProgress { stage, done, total });
        }
    }

    pub(crate) fn signer(&self) -> Result<SigningIdentity, ClientError> {
        use conclave_codec::Decode as _;
        Ok(SigningIdentity {
            secret_key: self.profile.signature_secret.clone(),
            public_key: SignaturePublicKey(self.profile.signature_public.clone()),
            credential: Credential::from_bytes(&self.profile.credential)?,
        })
    }

    pub(crate) fn applier_config(&self, group_name: &str) -> ApplierConfig {
        ApplierConfig {
            group_name: group_name.to_owned(),
            own_name: self.profile.name.clone(),
            identity: self.env.identity.clone(),
            state_writes: self.options.state_writes,
            replace_late_updates: self.options.replace_late_updates,
        }
    }

    pub(crate) fn load(&self, row: &GroupRow) -> Result<Group, ClientError> {
        load_group(self.store, self.env, row)
    }

    /// Saves a group's state after a local change (no log entry).
    pub(crate) fn save(&self, group_id: &[u8], group: &mut Group) -> Result<(), ClientError> {
        let write = StateWrite::of(group, self.options.state_writes)?;
        self.store.save_state(group_id, &write)
    }

    pub(crate) fn require_active_by_id(&self, group_id: &[u8]) -> Result<GroupRow, ClientError> {
        let row = self
            .store
            .group_by_id(group_id)?
            .ok_or_else(|| ClientError::UnknownGroup(hex::encode(group_id)))?;
        if row.status == GroupStatus::Active {
            Ok(row)
        } else {
            let epoch = self.load(&row).map(|g| g.epoch()).unwrap_or(0);
            Err(inactive_error(&row, epoch))
        }
    }
}

/// Whether proposals of other members wait for a commit (RFC 9420 §12.4: commit them
/// before sending).
/// Whether a sync should commit: others' proposals are pending, or (with
/// [`ClientOptions::replace_late_updates`](crate::ClientOptions::replace_late_updates)) a kept
/// late Update can be committed as a Replace now (draft-barnes-mls-replace-00).
pub(crate) fn has_work_to_commit(group: &Group, replace_late_updates: bool, now: u64) -> bool {
    has_foreign_proposals(group)
        || (replace_late_updates && !group.replaceable_late_updates(now).is_empty())
}

pub(crate) fn has_foreign_proposals(group: &Group) -> bool {
    let own = conclave_core::messages::Sender::Member(group.own_leaf());
    group.pending_proposals().any(|(sender, _)| *sender != own)
}
