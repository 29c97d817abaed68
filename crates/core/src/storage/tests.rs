//! Tests of the record keys and of the in-memory stores.

use std::sync::Arc;

use conclave_crypto::{CipherSuite, CryptoProvider, SeededRng};
use conclave_crypto_rustcrypto::RustCryptoProvider;

use super::*;
use crate::credential::BasicIdentityProvider;
use crate::group::{GroupEnv, MemberParams, SigningIdentity};
use crate::messages::Credential;

fn secret(byte: u8) -> Secret {
    Secret::new(vec![byte; 4])
}

fn record(key: RecordKey, byte: u8) -> Record {
    Record {
        key,
        value: secret(byte),
    }
}

#[test]
fn record_keys_round_trip_and_sort_like_their_bytes() {
    let keys = [
        RecordKey::Group,
        RecordKey::NodeSecret {
            epoch: 3,
            node: NodeIndex(7),
        },
        RecordKey::NodeSecret {
            epoch: 3,
            node: NodeIndex(1 << 33),
        },
        RecordKey::NodeSecret {
            epoch: 4,
            node: NodeIndex(0),
        },
        RecordKey::Ratchet {
            epoch: 3,
            leaf: LeafIndex(9),
            ratchet: RatchetType::Handshake,
        },
        RecordKey::Ratchet {
            epoch: 3,
            leaf: LeafIndex(9),
            ratchet: RatchetType::Application,
        },
        RecordKey::Ratchet {
            epoch: u64::MAX,
            leaf: LeafIndex(u32::MAX),
            ratchet: RatchetType::Application,
        },
    ];
    for pair in keys.windows(2) {
        assert!(pair[0] < pair[1]);
        assert!(pair[0].to_bytes() < pair[1].to_bytes());
    }
    for key in keys {
        assert_eq!(RecordKey::from_bytes(&key.to_bytes()).unwrap(), key);
    }
    assert_eq!(RecordKey::Group.to_bytes(), vec![0]);
    assert_eq!(keys[4].to_bytes().len(), 14);
    assert_eq!(keys[4].epoch(), Some(3));
    assert_eq!(RecordKey::Group.epoch(), None);
    for bad in [&[][..], &[3], &[0, 0], &[1, 0, 0], &[2; 14]] {
        assert!(RecordKey::from_bytes(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn group_store_applies_full_and_incremental_changes() {
    let store = InMemoryStorage::new();
    let node = |n| RecordKey::NodeSecret {
        epoch: 1,
        node: NodeIndex(n),
    };
    // Incremental changes before the first full write are refused.
    let early = StateChanges::Incremental {
        group_id: b"g".to_vec(),
        upserts: vec![record(node(1), 1)],
        deletes: Vec::new(),
    };
    assert_eq!(store.write_changes(&early), Err(StorageError::UnknownGroup));
    assert_eq!(store.read_group(b"g").unwrap(), None);

    let full = StateChanges::Full {
        group_id: b"g".to_vec(),
        records: vec![
            record(RecordKey::Group, 0),
            record(node(1), 1),
            record(node(2), 2),
        ],
    };
    assert!(full.is_full() && !full.is_empty());
    assert_eq!(full.written_bytes(), 1 + 4 + 2 * (17 + 4));
    store.write_changes(&full).unwrap();
    let incremental = StateChanges::Incremental {
        group_id: b"g".to_vec(),
        upserts: vec![record(node(2), 9), record(node(3), 3)],
        deletes: vec![node(1)],
    };
    assert_eq!(incremental.written_bytes(), 2 * (17 + 4) + 17);
    store.write_changes(&incremental).unwrap();
    assert_eq!(
        store.read_group(b"g").unwrap().unwrap(),
        vec![
            record(RecordKey::Group, 0),
            record(node(2), 9),
            record(node(3), 3)
        ]
    );
    // A full rewrite drops every record it does not list.
    let rewrite = StateChanges::Full {
        group_id: b"g".to_vec(),
        records: vec![record(RecordKey::Group, 5)],
    };
    store.write_changes(&rewrite).unwrap();
    assert_eq!(
        store.read_group(b"g").unwrap().unwrap(),
        vec![record(RecordKey::Group, 5)]
    );
    assert_eq!(store.group_ids().unwrap(), vec![b"g".to_vec()]);
    store.delete_group(b"g").unwrap();
    assert_eq!(store.read_group(b"g").unwrap(), None);
    assert!(store.group_ids().unwrap().is_empty());
}

#[test]
fn key_packages_and_psks_round_trip() {
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
    let bundle = KeyPackageBundle::generate(
        &MemberParams::new(env.clone(), signer.clone()),
        suite,
        0,
        &mut rng,
    )
    .unwrap();
    assert_eq!(
        KeyPackageBundle::from_bytes(&bundle.to_bytes().unwrap()).unwrap(),
        bundle
    );
    let reference = crate::welcome::key_package_ref(cs.as_ref(), &bundle.key_package).unwrap();
    let entry = StoredKeyPackage {
        bundle,
        last_resort: true,
    };
    assert_eq!(
        StoredKeyPackage::from_bytes(entry.to_bytes().unwrap().as_bytes()).unwrap(),
        entry
    );
    storage.insert_key_package(&reference, &entry).unwrap();
    assert_eq!(storage.key_package(&reference).unwrap(), Some(entry));
    storage.delete_key_package(&reference).unwrap();
    assert_eq!(storage.key_package(&reference).unwrap(), None);

    storage
        .insert_psk(b"id", &Secret::new(vec![1; 32]))
        .unwrap();
    assert_eq!(storage.psk(b"id").unwrap(), Some(Secret::new(vec![1; 32])));
    // Groups see the same PSK through the environment.
    assert_eq!(env.psks.external_psk(b"id"), Some(Secret::new(vec![1; 32])));
    storage.delete_psk(b"id").unwrap();
    assert_eq!(env.psks.external_psk(b"id"), None);
}
