//! The group state as records (layout in [`crate::storage`]): what changed since the last
//! save ([`Group::take_changes`]) and loading from the records ([`Group::load`]).
//!
//! The group record is the snapshot encoding ([`super::storage`]) with the current and past
//! secret trees reduced to their shape; their node secrets and sender ratchets are records
//! of their own, keyed by epoch. The secret trees report which of their entries changed;
//! every other field is [`super::Tracked`], so any other change makes the next save a full
//! rewrite.

use std::collections::BTreeMap;

use conclave_crypto::Secret;

use super::storage::{RECORD_FORMAT_VERSION, SecretTrees, is_record_format};
use super::{Group, GroupEnv, GroupError};
use crate::secret_tree::{SecretTree, SecretTreeEntry};
use crate::storage::{Record, RecordKey, StateChanges};

/// What the next [`Group::take_changes`] must write besides the changed secret-tree entries.
#[derive(Debug)]
pub(crate) struct ChangeLog {
    /// Every record is to be rewritten: the group was never saved as records, a write was
    /// abandoned, or the caller asked for it.
    full: bool,
    /// Test builds only: the group record last written or loaded, to catch a change of
    /// the group record that an incremental save would have missed.
    #[cfg(test)]
    pub(super) group_record: Option<Vec<u8>>,
    /// Test builds only: how many saves that check turned into full rewrites.
    #[cfg(test)]
    pub(super) missed: usize,
}

impl ChangeLog {
    /// A group whose records were never written.
    pub(super) fn unsaved() -> Self {
        Self {
            full: true,
            #[cfg(test)]
            group_record: None,
            #[cfg(test)]
            missed: 0,
        }
    }
}

/// The record key of a secret-tree entry of `epoch`.
fn record_key(epoch: u64, entry: SecretTreeEntry) -> RecordKey {
    match entry {
        SecretTreeEntry::Node(node) => RecordKey::NodeSecret { epoch, node },
        SecretTreeEntry::Ratchet(leaf, ratchet) => RecordKey::Ratchet {
            epoch,
            leaf,
            ratchet,
        },
    }
}

impl Group {
    /// What changed in the stored form of the group since the last call (or since it was
    /// created, joined or loaded), for a [`crate::storage::GroupStore`] to write atomically.
    ///
    /// After an application message is sent ([`Group::encrypt_application_message`]) or
    /// received ([`Group::process_message`] returning `Application` or `OwnMessage`, in the
    /// current or a past epoch), or after a rejected message, this is
    /// [`StateChanges::Incremental`]: the sender's ratchet record of that epoch, and on the
    /// first use of a leaf in an epoch the O(log n) node-secret records of its derivation
    /// (RFC 9420 §9, §9.2: consumed secrets are deleted). After any other change (a new,
    /// joined or snapshot-loaded group, proposals, commits, a credential, …) it is
    /// [`StateChanges::Full`]. The core decides; a change it cannot attribute to a sender
    /// ratchet is always a full rewrite — so is a safe export
    /// ([`Group::safe_export_secret`]): the epoch's exporter tree lives in the group record.
    ///
    /// The changes count as saved once returned. If writing them fails, reload the group
    /// from the store (its previous state) or call [`Group::force_full_save`] and write the
    /// next changes; send nothing the operation produced before its changes are written.
    pub fn take_changes(&mut self) -> Result<StateChanges, GroupError> {
        let tracked = self.take_tracked_changes();
        #[allow(unused_mut)]
        let mut full = self.changes.full || tracked;
        #[cfg(test)]
        if !full && self.group_record_changed()? {
            self.changes.missed += 1;
            full = true;
        }
        // If anything below fails, the next save rewrites everything.
        self.changes.full = true;
        let changes = if full {
            let records = self.records()?;
            for tree in self.secret_trees_mut() {
                tree.1.clear_changed();
            }
            #[cfg(test)]
            {
                self.changes.group_record = Some(self.group_record()?);
            }
            StateChanges::Full {
                group_id: self.group_id().to_vec(),
                records,
            }
        } else {
            let mut upserts = Vec::new();
            let mut deletes = Vec::new();
            for (epoch, tree) in self.secret_trees_mut() {
                for entry in tree.take_changed() {
                    let key = record_key(epoch, entry);
                    match tree.entry_value(entry)? {
                        Some(value) => upserts.push(Record { key, value }),
                        None => deletes.push(key),
                    }
                }
            }
            StateChanges::Incremental {
                group_id: self.group_id().to_vec(),
                upserts,
                deletes,
            }
        };
        self.changes.full = false;
        Ok(changes)
    }

    /// Makes the next [`Group::take_changes`] a full rewrite, e.g. after writing the
    /// previous changes failed and the group in memory is kept.
    pub fn force_full_save(&mut self) {
        self.changes.full = true;
    }

    /// Every record of the group, in key order.
    pub fn records(&self) -> Result<Vec<Record>, GroupError> {
        let mut records = vec![Record {
            key: RecordKey::Group,
            value: Secret::new(self.group_record()?),
        }];
        let trees = std::iter::once((self.epoch(), &self.epoch.secret_tree)).chain(
            self.past_epochs
                .iter()
                .map(|p| (p.context.epoch, &p.secret_tree)),
        );
        for (epoch, tree) in trees {
            for entry in tree.entries() {
                if let Some(value) = tree.entry_value(entry)? {
                    records.push(Record {
                        key: record_key(epoch, entry),
                        value,
                    });
                }
            }
        }
        records.sort_by_key(|r| r.key);
        Ok(records)
    }

    /// Rebuilds a group from its records, as a [`crate::storage::GroupStore`] returns them
    /// (in any order). The loaded group has nothing to save until it changes.
    pub fn load(
        env: GroupEnv,
        records: impl IntoIterator<Item = Record>,
    ) -> Result<Self, GroupError> {
        let mut group_record = None;
        let mut entries: BTreeMap<u64, Vec<(SecretTreeEntry, Secret)>> = BTreeMap::new();
        for record in records {
            let entry = match record.key {
                RecordKey::Group => {
                    if group_record.replace(record.value).is_some() {
                        return Err(GroupError::MalformedState("two group records"));
                    }
                    continue;
                }
                RecordKey::NodeSecret { node, .. } => SecretTreeEntry::Node(node),
                RecordKey::Ratchet { leaf, ratchet, .. } => SecretTreeEntry::Ratchet(leaf, ratchet),
            };
            let epoch = record.key.epoch().ok_or(GroupError::MalformedState(
                "a secret-tree record without epoch",
            ))?;
            entries
                .entry(epoch)
                .or_default()
                .push((entry, record.value));
        }
        let bytes = group_record.ok_or(GroupError::MalformedState("no group record"))?;
        let (mut group, version) = Self::decode_state(env, bytes.as_bytes())?;
        if !is_record_format(version) {
            return Err(GroupError::MalformedState(
                "the group record is a snapshot (see Group::from_bytes)",
            ));
        }
        let mut trees: BTreeMap<u64, &mut SecretTree> = group.secret_trees_mut().collect();
        for (epoch, list) in &entries {
            let tree = trees.get_mut(epoch).ok_or(GroupError::MalformedState(
                "a secret-tree record of an epoch the group does not keep",
            ))?;
            tree.restore_entries(list.iter().map(|(e, v)| (*e, v.as_bytes())))?;
        }
        group.changes.full = false;
        #[cfg(test)]
        {
            group.changes.group_record = Some(bytes.as_bytes().to_vec());
        }
        Ok(group)
    }

    /// The group record: the state without the current and past secret trees' entries.
    fn group_record(&self) -> Result<Vec<u8>, GroupError> {
        self.encode_state(RECORD_FORMAT_VERSION, SecretTrees::Separate)
    }

    /// Whether the group record differs from the one last written (test builds).
    #[cfg(test)]
    fn group_record_changed(&self) -> Result<bool, GroupError> {
        Ok(self.changes.group_record.as_deref() != Some(self.group_record()?.as_slice()))
    }

    /// The secret trees stored as separate records, by epoch: the current one and the past
    /// epochs'. Reached past the change tracking: the trees report their own changes.
    fn secret_trees_mut(&mut self) -> impl Iterator<Item = (u64, &mut SecretTree)> {
        let current = self.epoch.untracked_mut();
        std::iter::once((current.context.epoch, &mut current.secret_tree)).chain(
            self.past_epochs
                .untracked_mut()
                .iter_mut()
                .map(|p| (p.context.epoch, &mut p.secret_tree)),
        )
    }

    /// Whether any tracked field was changed since the last call; resets the marks.
    fn take_tracked_changes(&mut self) -> bool {
        // Every field is asked (no short-circuit), so that every mark is reset.
        [
            self.config.take_changed(),
            self.signer.take_changed(),
            self.epoch.take_changed(),
            self.private.take_changed(),
            self.proposals.take_changed(),
            self.pending_commit.take_changed(),
            self.past_epochs.take_changed(),
            self.resumption_psks.take_changed(),
            self.status.take_changed(),
            self.pending_updates.take_changed(),
            self.late_updates.take_changed(),
            self.linked_psks.take_changed(),
        ]
        .contains(&true)
    }
}

#[cfg(test)]
mod tests;
