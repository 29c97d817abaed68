//! Group states in the client's database: the core's records (the member state of
//! RFC 9420 §8-§12 split by [`conclave_core::storage::RecordKey`]) in `group_records`, or a
//! whole snapshot in `groups.state` (schema 1, and [`StateWrites::FullSnapshot`]); the state
//! writes the sync makes in the same transaction as its cursor and history; and the core's
//! storage traits ([`GroupStore`], [`KeyPackageStore`], [`ExternalPskStore`]) on the same
//! database.

use std::sync::MutexGuard;
use std::sync::atomic::Ordering;

use conclave_core::group::{Group, GroupEnv, GroupError};
use conclave_core::messages::KeyPackageRef;
use conclave_core::storage::{
    ExternalPskStore, GroupStore, KeyPackageStore, Record, RecordKey, StateChanges, StorageError,
    StoredKeyPackage as CoreStoredKeyPackage,
};
use conclave_crypto::Secret;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{Store, StoredKeyPackage};
use crate::error::ClientError;

/// How a group's state is written after it changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateWrites {
    /// The records that changed ([`Group::take_changes`]): O(1) bytes per application
    /// message, the whole state on commits.
    #[default]
    Incremental,
    /// The whole state ([`Group::to_bytes`]) on every change: O(members) bytes per
    /// application message. Kept to compare against.
    FullSnapshot,
}

/// One write of a group's state, taken from the group after it changed ([`StateWrite::of`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateWrite {
    /// Nothing changed.
    Nothing,
    /// The whole state as one snapshot ([`StateWrites::FullSnapshot`]); its records are
    /// deleted.
    Snapshot(Vec<u8>),
    /// Record changes ([`StateWrites::Incremental`]); a snapshot left from schema 1 is
    /// dropped once the group's records are written in full.
    Changes(StateChanges),
    /// The state of a partial member (draft-ietf-mls-partial-02,
    /// [`conclave_core::partial::member::PartialMember::to_bytes`]): the group's other kind
    /// of state, stored whole in `partial_groups` (it holds no tree: O(log n) bytes).
    Partial(Vec<u8>),
}

impl StateWrite {
    /// What to write for `group` in `mode`. For [`StateWrites::Incremental`] this takes the
    /// group's changes ([`Group::take_changes`]): if the write then fails, drop the group and
    /// reload it (or call [`Group::force_full_save`]).
    pub fn of(group: &mut Group, mode: StateWrites) -> Result<Self, GroupError> {
        match mode {
            StateWrites::FullSnapshot => group.to_bytes().map(Self::Snapshot),
            StateWrites::Incremental => {
                let changes = group.take_changes()?;
                Ok(if changes.is_empty() {
                    Self::Nothing
                } else {
                    Self::Changes(changes)
                })
            }
        }
    }

    /// The bytes this write stores: the snapshot, or the record keys and values (a delete
    /// counts its key).
    pub fn written_bytes(&self) -> usize {
        match self {
            Self::Nothing => 0,
            Self::Snapshot(bytes) => bytes.len(),
            Self::Changes(changes) => changes.written_bytes(),
            Self::Partial(bytes) => bytes.len(),
        }
    }
}

fn backend(e: impl core::fmt::Display) -> StorageError {
    StorageError::Backend(e.to_string())
}

/// Writes one group state change inside `tx` (see [`StateWrite`]).
fn write_state_tx(
    tx: &Transaction<'_>,
    group_id: &[u8],
    write: &StateWrite,
) -> Result<(), StorageError> {
    match write {
        StateWrite::Nothing => Ok(()),
        StateWrite::Snapshot(bytes) => {
            tx.prepare_cached("UPDATE groups SET state = ?2 WHERE group_id = ?1")
                .and_then(|mut s| s.execute(params![group_id, bytes]))
                .map_err(backend)?;
            tx.prepare_cached("DELETE FROM group_records WHERE group_id = ?1")
                .and_then(|mut s| s.execute([group_id]))
                .map_err(backend)?;
            Ok(())
        }
        StateWrite::Changes(changes) => write_changes_tx(tx, changes),
        StateWrite::Partial(bytes) => tx
            .prepare_cached(
                "INSERT INTO partial_groups (group_id, state) VALUES (?1, ?2)
                 ON CONFLICT (group_id) DO UPDATE SET state = excluded.state",
            )
            .and_then(|mut s| s.execute(params![group_id, bytes]))
            .map(|_| ())
            .map_err(backend),
    }
}

/// Applies record changes inside `tx`; a full rewrite also drops a schema-1 snapshot.
fn write_changes_tx(tx: &Transaction<'_>, changes: &StateChanges) -> Result<(), StorageError> {
    let group_id = changes.group_id();
    let mut upsert = tx
        .prepare_cached(
            "INSERT INTO group_records (group_id, key, value) VALUES (?1, ?2, ?3)
             ON CONFLICT (group_id, key) DO UPDATE SET value = excluded.value",
        )
        .map_err(backend)?;
    match changes {
        StateChanges::Full { records, .. } => {
            tx.prepare_cached("DELETE FROM group_records WHERE group_id = ?1")
                .and_then(|mut s| s.execute([group_id]))
                .map_err(backend)?;
            tx.prepare_cached("UPDATE groups SET state = x'' WHERE group_id = ?1")
                .and_then(|mut s| s.execute([group_id]))
                .map_err(backend)?;
            for record in records {
                upsert
                    .execute(params![
                        group_id,
                        record.key.to_bytes(),
                        record.value.as_bytes()
                    ])
                    .map_err(backend)?;
            }
        }
        StateChanges::Incremental {
            upserts, deletes, ..
        } => {
            let stored: Option<i64> = tx
                .prepare_cached("SELECT 1 FROM group_records WHERE group_id = ?1 AND key = ?2")
                .and_then(|mut s| {
                    s.query_row(params![group_id, RecordKey::Group.to_bytes()], |r| r.get(0))
                        .optional()
                })
                .map_err(backend)?;
            if stored.is_none() {
                return Err(StorageError::UnknownGroup);
            }
            for record in upserts {
                upsert
                    .execute(params![
                        group_id,
                        record.key.to_bytes(),
                        record.value.as_bytes()
                    ])
                    .map_err(backend)?;
            }
            let mut delete = tx
                .prepare_cached("DELETE FROM group_records WHERE group_id = ?1 AND key = ?2")
                .map_err(backend)?;
            for key in deletes {
                delete
                    .execute(params![group_id, key.to_bytes()])
                    .map_err(backend)?;
            }
        }
    }
    Ok(())
}

impl Store {
    /// Writes a group state change in `tx` and counts its bytes.
    pub(super) fn write_state(
        &self,
        tx: &Transaction<'_>,
        group_id: &[u8],
        write: &StateWrite,
    ) -> Result<(), ClientError> {
        write_state_tx(tx, group_id, write).map_err(|e| self.err(e))?;
        self.count(write.written_bytes());
        Ok(())
    }

    fn count(&self, bytes: usize) {
        self.written
            .fetch_add(u64::try_from(bytes).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// The bytes of group state written through this handle so far: snapshots, and record
    /// keys and values (a deleted record counts its key). For measurements.
    pub fn state_bytes_written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// The stored state of a partial member of the group (draft-ietf-mls-partial-02), if the
    /// group is held as one ([`StateWrite::Partial`]).
    pub fn partial_state(&self, group_id: &[u8]) -> Result<Option<Vec<u8>>, ClientError> {
        self.conn()?
            .prepare_cached("SELECT state FROM partial_groups WHERE group_id = ?1")
            .and_then(|mut s| s.query_row([group_id], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))
    }

    /// Loads the member state of a group: from its records, or from a snapshot (schema 1,
    /// or [`StateWrites::FullSnapshot`]). `None` if no state is stored.
    pub fn load_group(&self, env: GroupEnv, group_id: &[u8]) -> Result<Option<Group>, ClientError> {
        let corrupt = |e: GroupError| {
            ClientError::CorruptState(format!(
                "the state of group {:?}: {e}",
                String::from_utf8_lossy(group_id)
            ))
        };
        let snapshot: Option<Vec<u8>> = self
            .conn()?
            .query_row(
                "SELECT state FROM groups WHERE group_id = ?1",
                [group_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        if let Some(bytes) = snapshot.filter(|b| !b.is_empty()) {
            return Group::from_bytes(env, &bytes).map(Some).map_err(corrupt);
        }
        match self.read_records(group_id)? {
            Some(records) => Group::load(env, records).map(Some).map_err(corrupt),
            None => Ok(None),
        }
    }

    fn read_records(&self, group_id: &[u8]) -> Result<Option<Vec<Record>>, ClientError> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached("SELECT key, value FROM group_records WHERE group_id = ?1")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([group_id], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
            })
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        if rows.is_empty() {
            return Ok(None);
        }
        rows.into_iter()
            .map(|(key, value)| {
                Ok(Record {
                    key: RecordKey::from_bytes(&key)
                        .map_err(|e| ClientError::CorruptState(e.to_string()))?,
                    value: Secret::new(value),
                })
            })
            .collect::<Result<Vec<_>, ClientError>>()
            .map(Some)
    }

    pub(super) fn storage_conn(&self) -> Result<MutexGuard<'_, Connection>, StorageError> {
        self.conn
            .lock()
            .map_err(|_| backend("the connection lock is poisoned"))
    }
}

// ---- the core's storage traits ------------------------------------------------------------

impl GroupStore for Store {
    fn write_changes(&self, changes: &StateChanges) -> Result<(), StorageError> {
        let mut conn = self.storage_conn()?;
        let tx = conn.transaction().map_err(backend)?;
        write_changes_tx(&tx, changes)?;
        tx.commit().map_err(backend)?;
        self.count(changes.written_bytes());
        Ok(())
    }

    /// The group's records; `None` if it has none (also when its state is still a
    /// snapshot, which [`Store::load_group`] reads).
    fn read_group(&self, group_id: &[u8]) -> Result<Option<Vec<Record>>, StorageError> {
        self.read_records(group_id).map_err(backend)
    }

    fn delete_group(&self, group_id: &[u8]) -> Result<(), StorageError> {
        let mut conn = self.storage_conn()?;
        let tx = conn.transaction().map_err(backend)?;
        tx.execute("DELETE FROM group_records WHERE group_id = ?1", [group_id])
            .map_err(backend)?;
        tx.execute(
            "UPDATE groups SET state = x'' WHERE group_id = ?1",
            [group_id],
        )
        .map_err(backend)?;
        tx.commit().map_err(backend)
    }

    fn group_ids(&self) -> Result<Vec<Vec<u8>>, StorageError> {
        let conn = self.storage_conn()?;
        let mut stmt = conn
            .prepare("SELECT DISTINCT group_id FROM group_records ORDER BY group_id")
            .map_err(backend)?;
        stmt.query_map([], |r| r.get(0))
            .map_err(backend)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(backend)
    }
}

impl KeyPackageStore for Store {
    fn insert_key_package(
        &self,
        reference: &KeyPackageRef,
        key_package: &CoreStoredKeyPackage,
    ) -> Result<(), StorageError> {
        use conclave_codec::Encode as _;
        let bundle = &key_package.bundle;
        let stored = StoredKeyPackage {
            kp_ref: reference.0.clone(),
            cipher_suite: bundle.key_package.cipher_suite.0,
            key_package: bundle.key_package.to_bytes().map_err(backend)?,
            init_private: bundle.init_private_key.clone(),
            encryption_private: bundle.encryption_private_key.clone(),
            last_resort: key_package.last_resort,
        };
        let mut conn = self.storage_conn()?;
        let tx = conn.transaction().map_err(backend)?;
        Self::put_key_package_tx(&tx, &stored).map_err(backend)?;
        tx.commit().map_err(backend)
    }

    fn key_package(
        &self,
        reference: &KeyPackageRef,
    ) -> Result<Option<CoreStoredKeyPackage>, StorageError> {
        use conclave_codec::Decode as _;
        let Some(stored) = Store::key_package(self, &reference.0).map_err(backend)? else {
            return Ok(None);
        };
        let key_package = conclave_core::messages::KeyPackage::from_bytes(&stored.key_package)
            .map_err(|e| StorageError::Malformed(e.to_string()))?;
        Ok(Some(CoreStoredKeyPackage {
            bundle: conclave_core::group::KeyPackageBundle {
                key_package,
                init_private_key: stored.init_private,
                encryption_private_key: stored.encryption_private,
            },
            last_resort: stored.last_resort,
        }))
    }

    fn delete_key_package(&self, reference: &KeyPackageRef) -> Result<(), StorageError> {
        self.storage_conn()?
            .execute("DELETE FROM key_packages WHERE kp_ref = ?1", [&reference.0])
            .map(|_| ())
            .map_err(backend)
    }
}

impl ExternalPskStore for Store {
    fn insert_psk(&self, psk_id: &[u8], psk: &Secret) -> Result<(), StorageError> {
        self.storage_conn()?
            .execute(
                "INSERT OR REPLACE INTO psks (psk_id, psk) VALUES (?1, ?2)",
                params![psk_id, psk.as_bytes()],
            )
            .map(|_| ())
            .map_err(backend)
    }

    fn psk(&self, psk_id: &[u8]) -> Result<Option<Secret>, StorageError> {
        self.storage_conn()?
            .query_row("SELECT psk FROM psks WHERE psk_id = ?1", [psk_id], |r| {
                r.get::<_, Vec<u8>>(0)
            })
            .optional()
            .map(|v| v.map(Secret::new))
            .map_err(backend)
    }

    fn delete_psk(&self, psk_id: &[u8]) -> Result<(), StorageError> {
        self.storage_conn()?
            .execute("DELETE FROM psks WHERE psk_id = ?1", [psk_id])
            .map(|_| ())
            .map_err(backend)
    }
}
