//! Storage of a client's MLS state: group states as records, KeyPackage private keys and
//! external PSKs, behind traits an application implements on its own database, with an
//! in-memory implementation for tests and short-lived clients.
//!
//! # Group records
//!
//! A group is stored as a set of records (key → value) so that an application message
//! rewrites a few small records instead of the whole state:
//!
//! | key ([`RecordKey`]) | bytes | value | rewritten |
//! | --- | --- | --- | --- |
//! | [`RecordKey::Group`] | `00` | everything but the secret-tree entries below: config, signer, ratchet tree and tree hashes, epoch secrets, our path keys, proposals, pending commit, past epochs (context, sender-data secret, signature keys), resumption PSKs, status | on every change other than a sender ratchet's (commits, proposals, credential, …) |
//! | [`RecordKey::NodeSecret`] | `01` ‖ epoch (u64) ‖ node (u64) | a node secret of that epoch's secret tree (RFC 9420 §9), `KDF.Nh` bytes | created and deleted as a leaf's ratchets are first derived: O(log n), once per leaf and epoch |
//! | [`RecordKey::Ratchet`] | `02` ‖ epoch (u64) ‖ leaf (u32) ‖ `00` handshake / `01` application | one sender ratchet (§9.1): its current secret, next generation and the retained keys of skipped generations (§9.2) | when that sender's message of that epoch is sent or received |
//!
//! Integers are big-endian, so the byte order of keys is the order of [`RecordKey`] and a
//! prefix selects a kind and epoch. The epoch is the current one or one of the past epochs a
//! group keeps for late messages (RFC 9420 §14). Values are the codec encodings of the
//! state; they contain secrets, are [`Secret`]s (zeroized) in memory, and should be
//! encrypted at rest.
//!
//! [`crate::group::Group::take_changes`] returns what changed since the last save as
//! [`StateChanges`]: either a full rewrite (every record of the group; on a new or loaded
//! snapshot and after anything but a sender ratchet changed), or the upserts and deletes of
//! the secret-tree records an application message touched. A [`GroupStore`] applies them
//! atomically and [`crate::group::Group::load`] rebuilds the group from the records.
//!
//! If writing changes fails, the store still holds the previous state while the group in
//! memory is ahead of it: drop the group and reload it from the store (or call
//! [`crate::group::Group::force_full_save`] and write again). Write the changes before
//! sending a message the operation produced: a sent message whose ratchet step was not
//! stored would have its generation, and so its key and nonce, reused after a reload.

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

use conclave_codec::{Decode, Encode};
use conclave_crypto::Secret;

use crate::group::{KeyPackageBundle, PskStore};
use crate::messages::{KeyPackage, KeyPackageRef, LeafIndex};
use crate::secret_tree::RatchetType;
use crate::tree_math::NodeIndex;

/// Why a storage operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The backing store failed.
    #[error("storage backend failed: {0}")]
    Backend(String),
    /// A stored value could not be decoded.
    #[error("stored value is malformed: {0}")]
    Malformed(String),
    /// Incremental changes were given for a group the store does not hold: its full
    /// rewrite was never written. Reload the group (or force a full save).
    #[error("incremental changes for a group that is not stored")]
    UnknownGroup,
}

// ---- group records ------------------------------------------------------------------------

/// The key of one record of a group (see the [module documentation](self) for the layout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum RecordKey {
    /// The group record: everything but the secret-tree entries.
    Group,
    /// A node secret of the secret tree of `epoch` (RFC 9420 §9).
    NodeSecret {
        /// The epoch.
        epoch: u64,
        /// The node index in the tree (RFC 9420 Appendix C).
        node: NodeIndex,
    },
    /// A sender ratchet of `leaf` in `epoch` (RFC 9420 §9.1).
    Ratchet {
        /// The epoch.
        epoch: u64,
        /// The sender's leaf.
        leaf: LeafIndex,
        /// Handshake or application ratchet.
        ratchet: RatchetType,
    },
}

const TAG_GROUP: u8 = 0;
const TAG_NODE: u8 = 1;
const TAG_RATCHET: u8 = 2;

impl RecordKey {
    /// The key as bytes: a tag byte, then big-endian fields (at most 17 bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(17);
        match *self {
            Self::Group => out.push(TAG_GROUP),
            Self::NodeSecret { epoch, node } => {
                out.push(TAG_NODE);
                out.extend_from_slice(&epoch.to_be_bytes());
                out.extend_from_slice(&node.0.to_be_bytes());
            }
            Self::Ratchet {
                epoch,
                leaf,
                ratchet,
            } => {
                out.push(TAG_RATCHET);
                out.extend_from_slice(&epoch.to_be_bytes());
                out.extend_from_slice(&leaf.0.to_be_bytes());
                out.push(match ratchet {
                    RatchetType::Handshake => 0,
                    RatchetType::Application => 1,
                });
            }
        }
        out
    }

    /// Parses a key written by [`RecordKey::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StorageError> {
        let malformed = || StorageError::Malformed("record key".into());
        let mut reader = conclave_codec::Reader::new(bytes);
        let key = match reader.read_u8().map_err(|_| malformed())? {
            TAG_GROUP => Self::Group,
            TAG_NODE => Self::NodeSecret {
                epoch: reader.read_u64().map_err(|_| malformed())?,
                node: NodeIndex(reader.read_u64().map_err(|_| malformed())?),
            },
            TAG_RATCHET => Self::Ratchet {
                epoch: reader.read_u64().map_err(|_| malformed())?,
                leaf: LeafIndex(reader.read_u32().map_err(|_| malformed())?),
                ratchet: match reader.read_u8().map_err(|_| malformed())? {
                    0 => RatchetType::Handshake,
                    1 => RatchetType::Application,
                    _ => return Err(malformed()),
                },
            },
            _ => return Err(malformed()),
        };
        reader.finish().map_err(|_| malformed())?;
        Ok(key)
    }

    /// The epoch of a secret-tree record; `None` for the group record.
    pub fn epoch(&self) -> Option<u64> {
        match *self {
            Self::Group => None,
            Self::NodeSecret { epoch, .. } | Self::Ratchet { epoch, .. } => Some(epoch),
        }
    }
}

/// One record of a group: a key and its encoded value (which contains secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The key.
    pub key: RecordKey,
    /// The value.
    pub value: Secret,
}

impl Record {
    /// Key and value bytes together: what writing the record costs.
    pub fn written_len(&self) -> usize {
        self.key.to_bytes().len() + self.value.len()
    }
}

/// What to write to the store after a group changed ([`crate::group::Group::take_changes`]).
///
/// Deliberately exhaustive: a store must handle every kind of change, so a new kind would be
/// a breaking change rather than a silently ignored one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateChanges {
    /// Replace every record of the group by `records` (records not listed are deleted).
    Full {
        /// The group.
        group_id: Vec<u8>,
        /// All of its records.
        records: Vec<Record>,
    },
    /// Write `upserts` and delete `deletes`; every other record of the group stays.
    Incremental {
        /// The group.
        group_id: Vec<u8>,
        /// Records created or changed.
        upserts: Vec<Record>,
        /// Records to delete (their secrets were consumed, RFC 9420 §9.2).
        deletes: Vec<RecordKey>,
    },
}

impl StateChanges {
    /// The group the changes are for.
    pub fn group_id(&self) -> &[u8] {
        match self {
            Self::Full { group_id, .. } | Self::Incremental { group_id, .. } => group_id,
        }
    }

    /// Whether this replaces every record.
    pub fn is_full(&self) -> bool {
        matches!(self, Self::Full { .. })
    }

    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        match self {
            Self::Full { .. } => false,
            Self::Incremental {
                upserts, deletes, ..
            } => upserts.is_empty() && deletes.is_empty(),
        }
    }

    /// The bytes of the keys and values written (a delete counts its key).
    pub fn written_bytes(&self) -> usize {
        match self {
            Self::Full { records, .. } => records.iter().map(Record::written_len).sum(),
            Self::Incremental {
                upserts, deletes, ..
            } => {
                upserts.iter().map(Record::written_len).sum::<usize>()
                    + deletes.iter().map(|k| k.to_bytes().len()).sum::<usize>()
            }
        }
    }
}

/// Persistent group states as records, keyed by group id: what an application's database
/// implements (e.g. one table `(group_id, key, value)` with `(group_id, key)` unique).
pub trait GroupStore: Send + Sync {
    /// Applies `changes` atomically: all of it or, on error, nothing. A full rewrite
    /// replaces every record of the group; incremental changes for a group not stored fail
    /// with [`StorageError::UnknownGroup`].
    fn write_changes(&self, changes: &StateChanges) -> Result<(), StorageError>;
    /// Every record of a group, for [`crate::group::Group::load`]; `None` if not stored.
    fn read_group(&self, group_id: &[u8]) -> Result<Option<Vec<Record>>, StorageError>;
    /// Forgets a group (e.g. after we were removed, RFC 9420 §12.4.2).
    fn delete_group(&self, group_id: &[u8]) -> Result<(), StorageError>;
    /// The ids of the stored groups.
    fn group_ids(&self) -> Result<Vec<Vec<u8>>, StorageError>;
}

// ---- KeyPackages --------------------------------------------------------------------------

/// A KeyPackage's private keys as stored until a Welcome uses them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKeyPackage {
    /// The KeyPackage and its private keys.
    pub bundle: KeyPackageBundle,
    /// A "last resort" KeyPackage is kept after use; any other is deleted once a Welcome
    /// used it (RFC 9420 §16.8).
    pub last_resort: bool,
}

/// KeyPackage private keys, keyed by KeyPackageRef (RFC 9420 §5.2), until a Welcome uses
/// them (§12.4.3.1 finds the entry by this reference).
pub trait KeyPackageStore: Send + Sync {
    /// Stores a KeyPackage's private keys.
    fn insert_key_package(
        &self,
        reference: &KeyPackageRef,
        key_package: &StoredKeyPackage,
    ) -> Result<(), StorageError>;
    /// Looks up a KeyPackage without removing it.
    fn key_package(
        &self,
        reference: &KeyPackageRef,
    ) -> Result<Option<StoredKeyPackage>, StorageError>;
    /// Deletes a KeyPackage's keys (RFC 9420 §16.8: a one-time KeyPackage is not reused).
    fn delete_key_package(&self, reference: &KeyPackageRef) -> Result<(), StorageError>;
}

/// Stored form of a [`StoredKeyPackage`].
#[derive(Encode, Decode)]
struct EncodedKeyPackage {
    key_package: KeyPackage,
    init_private_key: Secret,
    encryption_private_key: Secret,
    last_resort: bool,
}

/// Stored form of a [`KeyPackageBundle`].
#[derive(Encode, Decode)]
struct StoredBundle {
    key_package: KeyPackage,
    init_private_key: Secret,
    encryption_private_key: Secret,
}

impl KeyPackageBundle {
    /// The compact binary encoding of the bundle (private keys included).
    pub fn to_bytes(&self) -> Result<Vec<u8>, StorageError> {
        StoredBundle {
            key_package: self.key_package.clone(),
            init_private_key: self.init_private_key.clone(),
            encryption_private_key: self.encryption_private_key.clone(),
        }
        .to_bytes()
        .map_err(|e| StorageError::Malformed(e.to_string()))
    }

    /// Decodes a bundle written by [`KeyPackageBundle::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StorageError> {
        let stored =
            StoredBundle::from_bytes(bytes).map_err(|e| StorageError::Malformed(e.to_string()))?;
        Ok(Self {
            key_package: stored.key_package,
            init_private_key: stored.init_private_key,
            encryption_private_key: stored.encryption_private_key,
        })
    }
}

impl StoredKeyPackage {
    /// The compact binary encoding (private keys included: encrypt it at rest).
    pub fn to_bytes(&self) -> Result<Secret, StorageError> {
        EncodedKeyPackage {
            key_package: self.bundle.key_package.clone(),
            init_private_key: self.bundle.init_private_key.clone(),
            encryption_private_key: self.bundle.encryption_private_key.clone(),
            last_resort: self.last_resort,
        }
        .to_bytes()
        .map(Secret::new)
        .map_err(|e| StorageError::Malformed(e.to_string()))
    }

    /// Decodes an entry written by [`StoredKeyPackage::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StorageError> {
        let stored = EncodedKeyPackage::from_bytes(bytes)
            .map_err(|e| StorageError::Malformed(e.to_string()))?;
        Ok(Self {
            bundle: KeyPackageBundle {
                key_package: stored.key_package,
                init_private_key: stored.init_private_key,
                encryption_private_key: stored.encryption_private_key,
            },
            last_resort: stored.last_resort,
        })
    }
}

// ---- external PSKs ------------------------------------------------------------------------

/// External pre-shared keys by PSK id (RFC 9420 §8.4), as the application stores them.
/// Groups read them through [`PskStore`], which every `ExternalPskStore` implements (a
/// failing lookup counts as an unknown PSK).
pub trait ExternalPskStore: Send + Sync {
    /// Stores (replaces) an external PSK.
    fn insert_psk(&self, psk_id: &[u8], psk: &Secret) -> Result<(), StorageError>;
    /// The external PSK with this id, if stored.
    fn psk(&self, psk_id: &[u8]) -> Result<Option<Secret>, StorageError>;
    /// Forgets an external PSK.
    fn delete_psk(&self, psk_id: &[u8]) -> Result<(), StorageError>;
}

impl<T: ExternalPskStore + ?Sized> PskStore for T {
    fn external_psk(&self, psk_id: &[u8]) -> Option<Secret> {
        self.psk(psk_id).ok().flatten()
    }
}

/// The three stores together, as one application database provides them.
pub trait Storage: GroupStore + KeyPackageStore + ExternalPskStore {}

impl<T: GroupStore + KeyPackageStore + ExternalPskStore + ?Sized> Storage for T {}

// ---- in memory ----------------------------------------------------------------------------

/// Everything in memory: group records, KeyPackages and external PSKs.
#[derive(Debug, Default)]
pub struct InMemoryStorage {
    groups: RwLock<HashMap<Vec<u8>, BTreeMap<RecordKey, Secret>>>,
    key_packages: RwLock<HashMap<Vec<u8>, Secret>>,
    psks: RwLock<HashMap<Vec<u8>, Secret>>,
}

fn poisoned<T>(_: T) -> StorageError {
    StorageError::Backend("lock poisoned".into())
}

impl InMemoryStorage {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl GroupStore for InMemoryStorage {
    fn write_changes(&self, changes: &StateChanges) -> Result<(), StorageError> {
        let mut groups = self.groups.write().map_err(poisoned)?;
        match changes {
            StateChanges::Full { group_id, records } => {
                let records = records.iter().map(|r| (r.key, r.value.clone())).collect();
                groups.insert(group_id.clone(), records);
            }
            StateChanges::Incremental {
                group_id,
                upserts,
                deletes,
            } => {
                let records = groups.get_mut(group_id).ok_or(StorageError::UnknownGroup)?;
                for record in upserts {
                    records.insert(record.key, record.value.clone());
                }
                for key in deletes {
                    records.remove(key);
                }
            }
        }
        Ok(())
    }

    fn read_group(&self, group_id: &[u8]) -> Result<Option<Vec<Record>>, StorageError> {
        Ok(self
            .groups
            .read()
            .map_err(poisoned)?
            .get(group_id)
            .map(|records| {
                records
                    .iter()
                    .map(|(key, value)| Record {
                        key: *key,
                        value: value.clone(),
                    })
                    .collect()
            }))
    }

    fn delete_group(&self, group_id: &[u8]) -> Result<(), StorageError> {
        self.groups.write().map_err(poisoned)?.remove(group_id);
        Ok(())
    }

    fn group_ids(&self) -> Result<Vec<Vec<u8>>, StorageError> {
        Ok(self
            .groups
            .read()
            .map_err(poisoned)?
            .keys()
            .cloned()
            .collect())
    }
}

impl KeyPackageStore for InMemoryStorage {
    fn insert_key_package(
        &self,
        reference: &KeyPackageRef,
        key_package: &StoredKeyPackage,
    ) -> Result<(), StorageError> {
        let encoded = key_package.to_bytes()?;
        self.key_packages
            .write()
            .map_err(poisoned)?
            .insert(reference.0.clone(), encoded);
        Ok(())
    }

    fn key_package(
        &self,
        reference: &KeyPackageRef,
    ) -> Result<Option<StoredKeyPackage>, StorageError> {
        let guard = self.key_packages.read().map_err(poisoned)?;
        guard
            .get(&reference.0)
            .map(|bytes| StoredKeyPackage::from_bytes(bytes.as_bytes()))
            .transpose()
    }

    fn delete_key_package(&self, reference: &KeyPackageRef) -> Result<(), StorageError> {
        self.key_packages
            .write()
            .map_err(poisoned)?
            .remove(&reference.0);
        Ok(())
    }
}

impl ExternalPskStore for InMemoryStorage {
    fn insert_psk(&self, psk_id: &[u8], psk: &Secret) -> Result<(), StorageError> {
        self.psks
            .write()
            .map_err(poisoned)?
            .insert(psk_id.to_vec(), psk.clone());
        Ok(())
    }

    fn psk(&self, psk_id: &[u8]) -> Result<Option<Secret>, StorageError> {
        Ok(self.psks.read().map_err(poisoned)?.get(psk_id).cloned())
    }

    fn delete_psk(&self, psk_id: &[u8]) -> Result<(), StorageError> {
        self.psks.write().map_err(poisoned)?.remove(psk_id);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
