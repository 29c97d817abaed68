//! Tests of the member handle: KeyPackages found and deleted on join, groups saved after
//! every operation and reloaded, failed writes.

use std::sync::atomic::{AtomicBool, Ordering};

use conclave_crypto::SeededRng;
use conclave_crypto_rustcrypto::RustCryptoProvider;

use super::*;
use crate::messages::KeyPackageRef;
use crate::storage::{
    ExternalPskStore, GroupStore, KeyPackageStore, Record, StateChanges, StoredKeyPackage,
};

const NOW: u64 = 1_700_000_000;

fn member(name: &str, seed: u64, storage: Arc<InMemoryStorage>) -> Member {
    Member::builder()
        .crypto(RustCryptoProvider)
        .credential(Credential::Basic {
            identity: name.as_bytes().to_vec(),
        })
        .storage(storage)
        .random(SeededRng::new(seed))
        .clock(|| NOW)
        .build()
        .unwrap()
}

fn key_package_ref(member: &Member, message: &MlsMessage) -> KeyPackageRef {
    let MlsMessageBody::KeyPackage(kp) = &message.body else {
        panic!("not a KeyPackage");
    };
    let cs = member.params().env.suite(member.cipher_suite()).unwrap();
    crate::welcome::key_package_ref(cs.as_ref(), kp).unwrap()
}

#[test]
fn the_builder_names_what_is_missing() {
    let credential = Credential::Basic {
        identity: b"x".to_vec(),
    };
    assert_eq!(
        Member::builder().build().unwrap_err(),
        MemberError::Missing("a crypto provider")
    );
    let base = || {
        Member::builder()
            .crypto(RustCryptoProvider)
            .random(SeededRng::new(1))
    };
    assert_eq!(base().build().unwrap_err(), MemberError::Missing("a clock"));
    assert_eq!(
        base().clock(|| NOW).build().unwrap_err(),
        MemberError::Missing("a credential or signer")
    );
    assert!(matches!(
        base()
            .clock(|| NOW)
            .credential(credential.clone())
            .cipher_suite(CipherSuite(0x7777))
            .build(),
        Err(MemberError::Group(GroupError::UnsupportedCipherSuite(_)))
    ));
    // An existing signer is kept.
    let alice = base().clock(|| NOW).credential(credential).build().unwrap();
    let again = base()
        .clock(|| NOW)
        .signer(alice.signer().clone())
        .build()
        .unwrap();
    assert_eq!(again.signer(), alice.signer());
    assert_eq!(again.now(), NOW);
}

#[test]
fn join_uses_the_stored_key_package_and_deletes_a_one_time_one() {
    let bob_store = Arc::new(InMemoryStorage::new());
    let alice = member("alice", 1, Arc::new(InMemoryStorage::new()));
    let bob = member("bob", 2, bob_store.clone());
    let carol = member("carol", 3, Arc::new(InMemoryStorage::new()));

    let spare = bob.generate_key_package().unwrap();
    let one_time = bob.generate_key_package().unwrap();
    let last_resort = bob.generate_last_resort_key_package().unwrap();
    let carols = carol.generate_key_package().unwrap();
    for kp in [&spare, &one_time, &last_resort] {
        assert!(
            bob_store
                .key_package(&key_package_ref(&bob, kp))
                .unwrap()
                .is_some()
        );
    }

    let mut group = alice.create_group(b"g".to_vec()).unwrap();
    assert_eq!(alice.group_ids().unwrap(), vec![b"g".to_vec()]);
    let output = group
        .commit_builder()
        .add_member(&one_time)
        .unwrap()
        .build()
        .unwrap();
    // The pending commit is saved: a reload has it.
    assert!(alice.load_group(b"g").unwrap().has_pending_commit());
    group.merge_pending_commit().unwrap();
    let welcome = output.welcome.unwrap();

    // Not a Welcome; a Welcome for someone else.
    assert_eq!(
        bob.join(&spare).unwrap_err(),
        MemberError::UnexpectedMessage {
            expected: WireFormat::WELCOME,
            got: WireFormat::KEY_PACKAGE
        }
    );
    assert_eq!(
        carol.join(&welcome).unwrap_err(),
        MemberError::NoMatchingKeyPackage
    );

    let bob_group = bob.join(&welcome).unwrap();
    assert_eq!(bob_group.epoch_authenticator(), group.epoch_authenticator());
    // RFC 9420 §16.8: the used one-time KeyPackage is gone, the others stay.
    let used = key_package_ref(&bob, &one_time);
    assert_eq!(bob_store.key_package(&used).unwrap(), None);
    assert!(
        bob_store
            .key_package(&key_package_ref(&bob, &spare))
            .unwrap()
            .is_some()
    );
    assert_eq!(
        bob.join(&welcome).unwrap_err(),
        MemberError::NoMatchingKeyPackage
    );

    // A last-resort KeyPackage is kept after use (here for a second group).
    let mut other = alice.create_group(b"h".to_vec()).unwrap();
    let output = other
        .commit_builder()
        .add_member(&last_resort)
        .unwrap()
        .add_member(&carols)
        .unwrap()
        .build()
        .unwrap();
    other.merge_pending_commit().unwrap();
    let welcome = output.welcome.unwrap();
    let carol_group = carol.join(&welcome).unwrap();
    let bob_other = bob.join(&welcome).unwrap();
    assert_eq!(
        carol_group.epoch_authenticator(),
        bob_other.epoch_authenticator()
    );
    assert!(
        bob_store
            .key_package(&key_package_ref(&bob, &last_resort))
            .unwrap()
            .is_some()
    );
    let mut ids = bob.group_ids().unwrap();
    ids.sort();
    assert_eq!(ids, vec![b"g".to_vec(), b"h".to_vec()]);
}

#[test]
fn every_operation_is_saved_and_reloads_identically() {
    let alice = member("alice", 4, Arc::new(InMemoryStorage::new()));
    let bob = member("bob", 5, Arc::new(InMemoryStorage::new()));
    let kp = bob.generate_key_package().unwrap();
    let mut a = alice.create_group(b"g".to_vec()).unwrap();
    let output = a.commit_builder().add_member(&kp).unwrap().build().unwrap();
    a.merge_pending_commit().unwrap();
    let mut b = bob.join(output.welcome.as_ref().unwrap()).unwrap();

    let same = |m: &Member, g: &MemberGroup| {
        let loaded = m.load_group(g.group_id()).unwrap();
        assert_eq!(loaded.to_bytes().unwrap(), g.to_bytes().unwrap());
    };
    for i in 0..3 {
        let text = format!("message {i}");
        let message = a.send(text.as_bytes()).unwrap();
        same(&alice, &a);
        let ProcessedMessage::Application { data, .. } = b.process(&message).unwrap() else {
            panic!("not an application message");
        };
        assert_eq!(data, text.as_bytes());
        same(&bob, &b);
    }
    // A rejected message: the error is the group's, and the state still matches.
    let message = a.send(b"once").unwrap();
    b.process(&message).unwrap();
    assert!(matches!(b.process(&message), Err(MemberError::Group(_))));
    same(&bob, &b);

    let update = b.propose_update(None).unwrap();
    same(&bob, &b);
    assert!(matches!(
        a.process(&update).unwrap(),
        ProcessedMessage::Proposal { .. }
    ));
    let output = a.commit_builder().build().unwrap();
    same(&alice, &a);
    a.clear_pending_commit().unwrap();
    same(&alice, &a);
    let output2 = a.commit_builder().build().unwrap();
    assert_ne!(output.commit, output2.commit);
    assert!(matches!(
        b.process(&output2.commit).unwrap(),
        ProcessedMessage::Commit(_)
    ));
    a.merge_pending_commit().unwrap();
    same(&alice, &a);
    same(&bob, &b);
    assert_eq!(a.epoch_authenticator(), b.epoch_authenticator());
    let epoch = b.modify(|g, _, _| Ok(g.epoch())).unwrap();
    assert_eq!(epoch, a.epoch());

    assert_eq!(
        bob.load_group(b"unknown").unwrap_err(),
        MemberError::GroupNotFound
    );
    bob.delete_group(b"g").unwrap();
    assert_eq!(
        bob.load_group(b"g").unwrap_err(),
        MemberError::GroupNotFound
    );
    assert_eq!(b.into_group().epoch(), a.epoch());
}

#[test]
fn external_join_and_snapshot_adoption() {
    let alice = member("alice", 6, Arc::new(InMemoryStorage::new()));
    let dave = member("dave", 7, Arc::new(InMemoryStorage::new()));
    let mut a = alice.create_group(b"open".to_vec()).unwrap();
    let group_info = a.group_info(true).unwrap();
    assert!(matches!(
        dave.join_external(&a.send(b"x").unwrap(), &JoinOptions::default()),
        Err(MemberError::UnexpectedMessage { .. })
    ));
    let (d, output) = dave
        .join_external(&group_info, &JoinOptions::default())
        .unwrap();
    a.process(&output.commit).unwrap();
    assert_eq!(a.epoch_authenticator(), d.epoch_authenticator());
    assert!(dave.load_group(b"open").is_ok());

    // A snapshot of the old format is taken in charge and saved as records.
    let snapshot = a.to_bytes().unwrap();
    let other = member("alice", 6, Arc::new(InMemoryStorage::new()));
    let adopted = other
        .adopt(Group::from_bytes(other.params().env.clone(), &snapshot).unwrap())
        .unwrap();
    assert_eq!(
        other.load_group(b"open").unwrap().to_bytes().unwrap(),
        snapshot
    );
    assert_eq!(adopted.to_bytes().unwrap(), snapshot);
}

/// A store whose group writes fail while `failing` is set.
#[derive(Default)]
struct Flaky {
    inner: InMemoryStorage,
    failing: AtomicBool,
}

impl GroupStore for Flaky {
    fn write_changes(&self, changes: &StateChanges) -> Result<(), StorageError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(StorageError::Backend("disk full".into()));
        }
        self.inner.write_changes(changes)
    }
    fn read_group(&self, group_id: &[u8]) -> Result<Option<Vec<Record>>, StorageError> {
        self.inner.read_group(group_id)
    }
    fn delete_group(&self, group_id: &[u8]) -> Result<(), StorageError> {
        self.inner.delete_group(group_id)
    }
    fn group_ids(&self) -> Result<Vec<Vec<u8>>, StorageError> {
        self.inner.group_ids()
    }
}

impl KeyPackageStore for Flaky {
    fn insert_key_package(
        &self,
        reference: &KeyPackageRef,
        key_package: &StoredKeyPackage,
    ) -> Result<(), StorageError> {
        self.inner.insert_key_package(reference, key_package)
    }
    fn key_package(
        &self,
        reference: &KeyPackageRef,
    ) -> Result<Option<StoredKeyPackage>, StorageError> {
        self.inner.key_package(reference)
    }
    fn delete_key_package(&self, reference: &KeyPackageRef) -> Result<(), StorageError> {
        self.inner.delete_key_package(reference)
    }
}

impl ExternalPskStore for Flaky {
    fn insert_psk(&self, psk_id: &[u8], psk: &conclave_crypto::Secret) -> Result<(), StorageError> {
        self.inner.insert_psk(psk_id, psk)
    }
    fn psk(&self, psk_id: &[u8]) -> Result<Option<conclave_crypto::Secret>, StorageError> {
        self.inner.psk(psk_id)
    }
    fn delete_psk(&self, psk_id: &[u8]) -> Result<(), StorageError> {
        self.inner.delete_psk(psk_id)
    }
}

#[test]
fn a_failed_write_returns_no_message_and_the_next_save_is_full() {
    let store = Arc::new(Flaky::default());
    let alice = Member::builder()
        .crypto(RustCryptoProvider)
        .credential(Credential::Basic {
            identity: b"alice".to_vec(),
        })
        .storage(store.clone())
        .random(SeededRng::new(8))
        .clock(|| NOW)
        .build()
        .unwrap();
    let mut group = alice.create_group(b"g".to_vec()).unwrap();
    store.failing.store(true, Ordering::SeqCst);
    assert_eq!(
        group.send(b"lost").unwrap_err(),
        MemberError::Storage(StorageError::Backend("disk full".into()))
    );
    store.failing.store(false, Ordering::SeqCst);
    // The group in memory went on; its next save rewrites everything, so the store
    // catches up and no generation is ever handed out twice.
    group.send(b"kept").unwrap();
    let loaded = alice.load_group(b"g").unwrap();
    assert_eq!(loaded.to_bytes().unwrap(), group.to_bytes().unwrap());
}

#[test]
fn a_member_that_self_removes_keeps_the_proposal_saved_and_is_removed_by_the_next_commit() {
    let with_self_remove = |name: &str, seed: u64, storage: Arc<InMemoryStorage>| {
        let mut capabilities = crate::group::default_capabilities(
            CipherSuite(1),
            &crate::credential::BasicIdentityProvider,
            crate::codepoints::CodepointProfile::Draft,
        );
        capabilities.proposals.push(
            crate::codepoints::CodepointProfile::Draft
                .proposal_type(crate::messages::ExtensionProposalKind::SelfRemove),
        );
        Member::builder()
            .crypto(RustCryptoProvider)
            .credential(Credential::Basic {
                identity: name.as_bytes().to_vec(),
            })
            .storage(storage)
            .random(SeededRng::new(seed))
            .clock(|| NOW)
            .leaf_options(LeafOptions {
                capabilities: Some(capabilities),
                ..LeafOptions::default()
            })
            .build()
            .unwrap()
    };
    let bob_store = Arc::new(InMemoryStorage::new());
    let alice = with_self_remove("alice", 1, Arc::new(InMemoryStorage::new()));
    let bob = with_self_remove("bob", 2, bob_store.clone());
    let key_package = bob.generate_key_package().unwrap();
    let mut alice_group = alice.create_group(b"leaving".to_vec()).unwrap();
    let commit = alice_group
        .commit_builder()
        .add_member(&key_package)
        .unwrap()
        .build()
        .unwrap();
    alice_group.merge_pending_commit().unwrap();
    let mut bob_group = bob.join(&commit.welcome.unwrap()).unwrap();

    let proposal = bob_group.self_remove().unwrap();
    // Saved: a reload still holds it and recognises its echo.
    drop(bob_group);
    let mut bob_group = bob.load_group(b"leaving").unwrap();
    assert_eq!(bob_group.pending_proposals().count(), 1);
    assert_eq!(
        bob_group.process(&proposal).unwrap(),
        ProcessedMessage::OwnMessage
    );
    assert!(matches!(
        alice_group.process(&proposal).unwrap(),
        ProcessedMessage::Proposal { .. }
    ));
    let commit = alice_group.commit_builder().build().unwrap();
    alice_group.merge_pending_commit().unwrap();
    let ProcessedMessage::Commit(summary) = bob_group.process(&commit.commit).unwrap() else {
        panic!("not a commit")
    };
    assert!(summary.self_removed);
    assert_eq!(*bob_group.status(), crate::group::GroupStatus::Removed);
    assert_eq!(alice_group.members().count(), 1);
}
