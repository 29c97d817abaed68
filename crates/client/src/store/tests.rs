use super::*;
use crate::OsRandom;
use crate::testing::{NOW, env, group_of};
use conclave_core::group::Group;
use conclave_core::group::ProcessedMessage;
use conclave_core::storage::{
    ExternalPskStore, GroupStore, Record, RecordKey, StateChanges, StorageError,
};

fn entry(seq: u64, body: &str) -> HistoryEntry {
    HistoryEntry {
        seq,
        epoch: 1,
        sender: "alice".into(),
        kind: "message".into(),
        body: body.into(),
        at: 0,
    }
}

fn row(group_id: &[u8]) -> GroupRow {
    GroupRow {
        group_id: group_id.to_vec(),
        name: "g".into(),
        cursor: 0,
        status: GroupStatus::Active,
        reason: None,
    }
}

fn applied(cursor: u64) -> AppliedEntry<'static> {
    AppliedEntry {
        cursor,
        status: GroupStatus::Active,
        reason: None,
        history: None,
        sent_digest: None,
        body_from_outbox: false,
    }
}

fn record_count(store: &Store, group_id: &[u8]) -> i64 {
    store
        .conn()
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM group_records WHERE group_id = ?1",
            [group_id],
            |r| r.get(0),
        )
        .unwrap()
}

fn snapshot_len(store: &Store, group_id: &[u8]) -> usize {
    store
        .conn()
        .unwrap()
        .query_row(
            "SELECT length(state) FROM groups WHERE group_id = ?1",
            [group_id],
            |r| r.get(0),
        )
        .unwrap()
}

#[test]
fn the_profile_lock_excludes_other_processes_until_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let first = Store::open(dir.path()).unwrap();
    let second = Store::open(dir.path()).unwrap();
    let held = first.lock(std::time::Duration::from_secs(5)).unwrap();
    let refused = second.lock(std::time::Duration::from_millis(200));
    assert!(refused.is_err());
    drop(held);
    second.lock(std::time::Duration::from_secs(5)).unwrap();
}

#[test]
fn applying_an_entry_is_atomic_and_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut groups = group_of(b"g#1", &["alice", "bob"]);
    let (_, alice) = &mut groups[0];
    store
        .insert_group(
            &row(b"g#1"),
            &StateWrite::of(alice, StateWrites::Incremental).unwrap(),
        )
        .unwrap();
    alice
        .encrypt_application_message(b"hello", &[], &mut OsRandom)
        .unwrap();
    let write = StateWrite::of(alice, StateWrites::Incremental).unwrap();
    store
        .save_state_and_outbox(b"g#1", &write, b"digest", "hello")
        .unwrap();
    let first = entry(1, "");
    let applied = AppliedEntry {
        history: Some(&first),
        sent_digest: Some(b"digest"),
        body_from_outbox: true,
        ..applied(1)
    };
    assert!(
        store
            .apply_entry(b"g#1", &StateWrite::Nothing, &applied)
            .unwrap()
    );
    // Applying the same entry again (a retry after a crash) changes nothing.
    assert!(
        !store
            .apply_entry(b"g#1", &StateWrite::Nothing, &applied)
            .unwrap()
    );
    assert_eq!(store.history(b"g#1").unwrap(), vec![entry(1, "hello")]);
    assert_eq!(store.outbox(b"digest").unwrap(), None);
    assert_eq!(store.group_by_name("g").unwrap().unwrap().cursor, 1);
}

#[test]
fn an_application_message_writes_a_few_records_and_the_group_reloads_equal() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut groups = group_of(b"g#2", &["alice", "bob", "carol", "dave"]);
    let (_, mut bob) = groups.remove(1);
    let (_, alice) = &mut groups[0];
    let full = StateWrite::of(&mut bob, StateWrites::Incremental).unwrap();
    assert!(matches!(&full, StateWrite::Changes(c) if c.is_full()));
    store.insert_group(&row(b"g#2"), &full).unwrap();
    let full_bytes = store.state_bytes_written();
    for i in 0..5u64 {
        let message = alice
            .encrypt_application_message(b"hi", &[], &mut OsRandom)
            .unwrap();
        let processed = bob.process_message(&message, NOW).unwrap();
        assert!(matches!(processed, ProcessedMessage::Application { .. }));
        let write = StateWrite::of(&mut bob, StateWrites::Incremental).unwrap();
        assert!(matches!(&write, StateWrite::Changes(c) if !c.is_full()));
        store.apply_entry(b"g#2", &write, &applied(i + 1)).unwrap();
    }
    let per_message = (store.state_bytes_written() - full_bytes) / 5;
    assert!(
        per_message * 4 < full_bytes,
        "{per_message} bytes per message, {full_bytes} for the whole state"
    );
    let loaded = store.load_group(env(), b"g#2").unwrap().unwrap();
    assert_eq!(loaded.epoch_authenticator(), bob.epoch_authenticator());
    assert_eq!(loaded.to_bytes().unwrap(), bob.to_bytes().unwrap());
    assert_eq!(snapshot_len(&store, b"g#2"), 0);
}

#[test]
fn a_schema_1_snapshot_loads_and_is_replaced_by_records_on_the_first_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut groups = group_of(b"g#3", &["alice", "bob"]);
    let (_, mut bob) = groups.remove(1);
    let (_, alice) = &mut groups[0];
    {
        // The database as a schema-1 client left it: the state as one snapshot blob.
        let conn = Connection::open(dir.path().join("client.db")).unwrap();
        conn.execute_batch(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
             CREATE TABLE groups (group_id BLOB PRIMARY KEY, name TEXT NOT NULL UNIQUE,
                 state BLOB NOT NULL, cursor INTEGER NOT NULL, status TEXT NOT NULL,
                 reason TEXT, updated_at INTEGER NOT NULL);",
        )
        .unwrap();
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)",
            [1i64.to_be_bytes().to_vec()],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO groups VALUES (?1, 'g', ?2, 7, 'active', NULL, 0)",
            params![b"g#3".to_vec(), bob.to_bytes().unwrap()],
        )
        .unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(
        store.meta("schema_version").unwrap(),
        Some(SCHEMA_VERSION.to_be_bytes().to_vec())
    );
    let mut loaded = store.load_group(env(), b"g#3").unwrap().unwrap();
    assert_eq!(loaded.epoch_authenticator(), bob.epoch_authenticator());
    assert_eq!(store.group_by_id(b"g#3").unwrap().unwrap().cursor, 7);
    // The next entry: a message. Its write is the first of the records, so in full, and
    // the snapshot goes in the same transaction.
    let message = alice
        .encrypt_application_message(b"after the upgrade", &[], &mut OsRandom)
        .unwrap();
    loaded.process_message(&message, NOW).unwrap();
    bob.process_message(&message, NOW).unwrap();
    let write = StateWrite::of(&mut loaded, StateWrites::Incremental).unwrap();
    assert!(matches!(&write, StateWrite::Changes(c) if c.is_full()));
    store.apply_entry(b"g#3", &write, &applied(8)).unwrap();
    assert_eq!(snapshot_len(&store, b"g#3"), 0);
    assert!(record_count(&store, b"g#3") > 1);
    let reloaded = store.load_group(env(), b"g#3").unwrap().unwrap();
    assert_eq!(reloaded.to_bytes().unwrap(), bob.to_bytes().unwrap());
}

#[test]
fn full_snapshot_writes_replace_the_records_and_still_load() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut groups = group_of(b"g#4", &["alice", "bob"]);
    let (_, mut bob) = groups.remove(1);
    store
        .insert_group(
            &row(b"g#4"),
            &StateWrite::of(&mut bob, StateWrites::Incremental).unwrap(),
        )
        .unwrap();
    assert!(record_count(&store, b"g#4") > 0);
    let write = StateWrite::of(&mut bob, StateWrites::FullSnapshot).unwrap();
    store.save_state(b"g#4", &write).unwrap();
    assert_eq!(record_count(&store, b"g#4"), 0);
    assert_eq!(snapshot_len(&store, b"g#4"), bob.to_bytes().unwrap().len());
    let loaded = store.load_group(env(), b"g#4").unwrap().unwrap();
    assert_eq!(loaded.epoch_authenticator(), bob.epoch_authenticator());
}

#[test]
fn deleted_records_do_not_linger_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let secure: i64 = store
        .conn()
        .unwrap()
        .query_row("PRAGMA secure_delete", [], |r| r.get(0))
        .unwrap();
    assert_eq!(secure, 1);
    // A record written, checkpointed into the main file, then deleted and checkpointed.
    let marker = vec![0xA5u8; 64];
    let changes = StateChanges::Full {
        group_id: b"g#5".to_vec(),
        records: vec![Record {
            key: RecordKey::Group,
            value: Secret::new(marker.clone()),
        }],
    };
    GroupStore::write_changes(&store, &changes).unwrap();
    let checkpoint = |store: &Store| {
        store
            .conn()
            .unwrap()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .unwrap();
    };
    checkpoint(&store);
    let file = std::fs::read(dir.path().join("client.db")).unwrap();
    assert!(file.windows(marker.len()).any(|w| w == marker));
    GroupStore::delete_group(&store, b"g#5").unwrap();
    checkpoint(&store);
    let file = std::fs::read(dir.path().join("client.db")).unwrap();
    assert!(!file.windows(marker.len()).any(|w| w == marker));
}

#[test]
fn the_store_implements_the_core_storage_traits() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let incremental = StateChanges::Incremental {
        group_id: b"g#6".to_vec(),
        upserts: Vec::new(),
        deletes: Vec::new(),
    };
    assert_eq!(
        GroupStore::write_changes(&store, &incremental),
        Err(StorageError::UnknownGroup)
    );
    let mut groups = group_of(b"g#6", &["alice"]);
    let (_, alice) = &mut groups[0];
    let StateWrite::Changes(full) = StateWrite::of(alice, StateWrites::Incremental).unwrap() else {
        panic!("a new group is written in full");
    };
    GroupStore::write_changes(&store, &full).unwrap();
    assert_eq!(
        GroupStore::group_ids(&store).unwrap(),
        vec![b"g#6".to_vec()]
    );
    let records = GroupStore::read_group(&store, b"g#6").unwrap().unwrap();
    let loaded = Group::load(env(), records).unwrap();
    assert_eq!(loaded.epoch_authenticator(), alice.epoch_authenticator());
    store
        .insert_psk(b"psk", &Secret::new(vec![1, 2, 3]))
        .unwrap();
    assert_eq!(store.psk(b"psk").unwrap(), Some(Secret::new(vec![1, 2, 3])));
    store.delete_psk(b"psk").unwrap();
    assert_eq!(store.psk(b"psk").unwrap(), None);
}
