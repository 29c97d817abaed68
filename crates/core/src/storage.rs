//! Storage of a client's MLS state (DESIGN.md §2): group states, KeyPackage private keys and
//! external PSKs, behind traits an application implements on its own database, with an
//! in-memory implementation for tests and short-lived clients.
//!
//! Values are the compact binary encodings of [`crate::group::Group::to_bytes`] and of
//! [`KeyPackageBundle`] (the TLS presentation-language codec, not JSON). They contain
//! secrets: an implementation should encrypt them at rest.

use std::collections::HashMap;
use std::sync::RwLock;

use conclave_codec::{Decode, Encode};
use conclave_crypto::Secret;

use crate::group::{KeyPackageBundle, PskStore};
use crate::messages::{KeyPackage, KeyPackageRef};

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
}

/// Persistent group states, keyed by group id.
pub trait GroupStateStore: Send + Sync {
    /// Stores (replaces) the state of a group.
    fn write_group(&self, group_id: &[u8], state: &[u8]) -> Result<(), StorageError>;
    /// The stored state of a group.
    fn read_group(&self, group_id: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;
    /// Forgets a group (after we were removed, RFC 9420 §12.4.2).
    fn delete_group(&self, group_id: &[u8]) -> Result<(), StorageError>;
    /// The ids of the stored groups.
    fn group_ids(&self) -> Result<Vec<Vec<u8>>, StorageError>;
}

/// KeyPackage private keys, keyed by KeyPackageRef (RFC 9420 §5.2), until a Welcome uses
/// them.
pub trait KeyPackageStore: Send + Sync {
    /// Stores a KeyPackage bundle.
    fn insert_key_package(
        &self,
        reference: &KeyPackageRef,
        bundle: &KeyPackageBundle,
    ) -> Result<(), StorageError>;
    /// Looks up a bundle without removing it (a last-resort KeyPackage stays usable).
    fn key_package(
        &self,
        reference: &KeyPackageRef,
    ) -> Result<Option<KeyPackageBundle>, StorageError>;
    /// Deletes a used one-time KeyPackage's keys (RFC 9420 §16.8: do not reuse).
    fn delete_key_package(&self, reference: &KeyPackageRef) -> Result<(), StorageError>;
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

/// Everything in memory: groups, KeyPackages and external PSKs.
#[derive(Debug, Default)]
pub struct InMemoryStorage {
    groups: RwLock<HashMap<Vec<u8>, Vec<u8>>>,
    key_packages: RwLock<HashMap<Vec<u8>, Vec<u8>>>,
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

    /// Registers an external PSK (RFC 9420 §8.4).
    pub fn insert_psk(&self, psk_id: &[u8], psk: Secret) -> Result<(), StorageError> {
        self.psks
            .write()
            .map_err(poisoned)?
            .insert(psk_id.to_vec(), psk);
        Ok(())
    }
}

impl GroupStateStore for InMemoryStorage {
    fn write_group(&self, group_id: &[u8], state: &[u8]) -> Result<(), StorageError> {
        self.groups
            .write()
            .map_err(poisoned)?
            .insert(group_id.to_vec(), state.to_vec());
        Ok(())
    }

    fn read_group(&self, group_id: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.groups.read().map_err(poisoned)?.get(group_id).cloned())
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
        bundle: &KeyPackageBundle,
    ) -> Result<(), StorageError> {
        let encoded = bundle.to_bytes()?;
        self.key_packages
            .write()
            .map_err(poisoned)?
            .insert(reference.0.clone(), encoded);
        Ok(())
    }

    fn key_package(
        &self,
        reference: &KeyPackageRef,
    ) -> Result<Option<KeyPackageBundle>, StorageError> {
        let guard = self.key_packages.read().map_err(poisoned)?;
        guard
            .get(&reference.0)
            .map(|bytes| KeyPackageBundle::from_bytes(bytes))
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

impl PskStore for InMemoryStorage {
    fn external_psk(&self, psk_id: &[u8]) -> Option<Secret> {
        self.psks
            .read()
            .ok()
            .and_then(|map| map.get(psk_id).cloned())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use conclave_crypto::{CipherSuite, CryptoProvider, SeededRng};
    use conclave_crypto_rustcrypto::RustCryptoProvider;

    use super::*;
    use crate::credential::BasicIdentityProvider;
    use crate::group::{Group, GroupConfig, GroupEnv, LeafOptions, SigningIdentity};
    use crate::messages::Credential;

    #[test]
    fn groups_key_packages_and_psks_round_trip() {
        let storage = Arc::new(InMemoryStorage::new());
        let env = GroupEnv {
            crypto: Arc::new(RustCryptoProvider),
            identity: Arc::new(BasicIdentityProvider),
            psks: storage.clone(),
        };
        let mut rng = SeededRng::new(3);
        let suite = CipherSuite(1);
        let cs = RustCryptoProvider.cipher_suite_provider(suite).unwrap();
        let signer = SigningIdentity::generate(
            cs.as_ref(),
            Credential::Basic {
                identity: b"alice".to_vec(),
            },
            &mut rng,
        )
        .unwrap();

        let bundle =
            KeyPackageBundle::generate(&env, suite, &signer, &LeafOptions::default(), 0, &mut rng)
                .unwrap();
        let reference = crate::welcome::key_package_ref(cs.as_ref(), &bundle.key_package).unwrap();
        storage.insert_key_package(&reference, &bundle).unwrap();
        assert_eq!(storage.key_package(&reference).unwrap(), Some(bundle));
        storage.delete_key_package(&reference).unwrap();
        assert_eq!(storage.key_package(&reference).unwrap(), None);

        let group = Group::create(
            env.clone(),
            suite,
            b"g".to_vec(),
            signer,
            Vec::new(),
            GroupConfig::default(),
            &LeafOptions::default(),
            0,
            &mut rng,
        )
        .unwrap();
        storage
            .write_group(group.group_id(), &group.to_bytes().unwrap())
            .unwrap();
        let loaded = Group::from_bytes(env, &storage.read_group(b"g").unwrap().unwrap()).unwrap();
        assert_eq!(loaded.epoch_authenticator(), group.epoch_authenticator());
        assert_eq!(storage.group_ids().unwrap(), vec![b"g".to_vec()]);
        storage.delete_group(b"g").unwrap();
        assert_eq!(storage.read_group(b"g").unwrap(), None);

        storage.insert_psk(b"id", Secret::new(vec![1; 32])).unwrap();
        assert_eq!(storage.external_psk(b"id"), Some(Secret::new(vec![1; 32])));
    }
}
