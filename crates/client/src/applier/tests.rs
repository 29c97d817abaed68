use super::*;
use crate::OsRandom;
use crate::testing::{NOW, env, group_of};
use conclave_core::credential::BasicIdentityProvider;
use conclave_core::group::CommitOptions;
use conclave_core::messages::Remove;

fn config(own: &str) -> ApplierConfig {
    ApplierConfig {
        group_name: "g".into(),
        own_name: own.into(),
        identity: Arc::new(BasicIdentityProvider),
        state_writes: StateWrites::Incremental,
        replace_late_updates: false,
    }
}

fn entry(seq: u64, epoch: u64, content_type: u8, sender: &str, message: &MlsMessage) -> LogEntry {
    LogEntry {
        seq,
        epoch,
        content_type,
        sender: sender.into(),
        message: Ok(message.to_bytes().unwrap()),
    }
}

fn update(group: &mut Group) -> MlsMessage {
    group
        .commit(&CommitOptions::default(), NOW, &mut OsRandom)
        .unwrap()
        .commit
}

/// A commit whose ciphertext was tampered with: labelled a commit of `epoch`, undecryptable.
fn tampered(mut bytes: Vec<u8>) -> Vec<u8> {
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    bytes
}

#[test]
fn messages_are_read_older_epochs_skipped_and_duplicates_ignored() {
    let mut groups = group_of(b"a#1", &["alice", "bob"]);
    let (_, mut bob) = groups.remove(1);
    // As stored when joined: the skipped entry then changes nothing.
    assert!(bob.take_changes().unwrap().is_full());
    let (_, alice) = &mut groups[0];
    let hello = alice
        .encrypt_application_message(b"hello", &[], &mut OsRandom)
        .unwrap();
    let mut applier = LogApplier::new(bob, 0, config("bob"));
    let old = applier
        .apply(&entry(1, 0, 1, "alice", &hello), NOW)
        .unwrap()
        .unwrap();
    assert_eq!(old.outcome, Outcome::Skipped);
    assert_eq!(old.state, StateWrite::Nothing);
    let step = applier
        .apply(&entry(2, 1, 1, "alice", &hello), NOW)
        .unwrap()
        .unwrap();
    assert_eq!(step.outcome, Outcome::Message);
    assert_eq!(step.history.as_ref().unwrap().body, "hello");
    assert_eq!(step.history.as_ref().unwrap().sender, "alice");
    assert!(matches!(&step.state, StateWrite::Changes(c) if !c.is_full()));
    assert_eq!(step.cursor, 2);
    // The same page delivered again.
    assert!(
        applier
            .apply(&entry(2, 1, 1, "alice", &hello), NOW)
            .unwrap()
            .is_none()
    );
    assert!(
        applier
            .apply(&entry(1, 0, 1, "alice", &hello), NOW)
            .unwrap()
            .is_none()
    );
    assert_eq!(applier.end_of_log().unwrap().map(|s| s.outcome), None);
}

#[test]
fn the_first_valid_commit_of_the_epoch_wins_over_an_invalid_one_before_it() {
    let mut groups = group_of(b"a#2", &["alice", "bob", "carol"]);
    let (_, mut carol) = groups.remove(2);
    let (_, bob) = groups.remove(1);
    let (_, alice) = &mut groups[0];
    let bad = tampered(update(alice).to_bytes().unwrap());
    let good = update(&mut carol);
    let mut applier = LogApplier::new(bob, 0, config("bob"));
    let first = applier
        .apply(
            &LogEntry {
                message: Ok(bad),
                ..entry(1, 1, 3, "alice", &good)
            },
            NOW,
        )
        .unwrap()
        .unwrap();
    assert_eq!(first.outcome, Outcome::InvalidCommit);
    assert_eq!(first.status, GroupStatus::Active);
    let second = applier
        .apply(&entry(2, 1, 3, "carol", &good), NOW)
        .unwrap()
        .unwrap();
    assert_eq!(
        second.outcome,
        Outcome::Commit {
            epoch: 2,
            own: false
        }
    );
    assert!(matches!(&second.state, StateWrite::Changes(c) if c.is_full()));
    assert_eq!(
        second.history.as_ref().unwrap().body,
        "carol updated the group keys"
    );
    carol.merge_pending_commit().unwrap();
    assert_eq!(
        applier.group().epoch_authenticator(),
        carol.epoch_authenticator()
    );
    assert!(applier.end_of_log().unwrap().is_none());
}

#[test]
fn an_invalid_commit_and_then_a_later_epoch_desynchronize_the_group() {
    let mut groups = group_of(b"a#3", &["alice", "bob"]);
    let (_, bob) = groups.remove(1);
    let (_, alice) = &mut groups[0];
    let commit = update(alice);
    alice.merge_pending_commit().unwrap();
    let later = alice
        .encrypt_application_message(b"epoch 2", &[], &mut OsRandom)
        .unwrap();
    let mut applier = LogApplier::new(bob, 0, config("bob"));
    let bad = LogEntry {
        message: Ok(tampered(commit.to_bytes().unwrap())),
        ..entry(1, 1, 3, "alice", &commit)
    };
    assert_eq!(
        applier.apply(&bad, NOW).unwrap().unwrap().outcome,
        Outcome::InvalidCommit
    );
    let step = applier
        .apply(&entry(2, 2, 1, "alice", &later), NOW)
        .unwrap()
        .unwrap();
    assert_eq!(step.outcome, Outcome::Desynchronized);
    assert_eq!(step.status, GroupStatus::Desynchronized);
    assert!(step.reason.as_deref().unwrap().contains("log entry 1"));
    assert!(matches!(
        step.event,
        Some(Event::Desynchronized { epoch: 1, .. })
    ));
    assert!(applier.is_stopped());
    assert!(
        applier
            .apply(&entry(3, 2, 1, "alice", &later), NOW)
            .unwrap()
            .is_none()
    );
}

#[test]
fn an_invalid_commit_at_the_end_of_the_log_desynchronizes_the_group() {
    let mut groups = group_of(b"a#4", &["alice", "bob"]);
    let (_, bob) = groups.remove(1);
    let (_, alice) = &mut groups[0];
    let commit = update(alice);
    let mut applier = LogApplier::new(bob, 0, config("bob"));
    let bad = LogEntry {
        message: Err("bad base64".into()),
        ..entry(1, 1, 3, "alice", &commit)
    };
    applier.apply(&bad, NOW).unwrap().unwrap();
    let step = applier.end_of_log().unwrap().unwrap();
    assert_eq!(step.status, GroupStatus::Desynchronized);
    assert_eq!(step.cursor, 1);
    assert!(step.reason.as_deref().unwrap().contains("bad base64"));
}

#[test]
fn our_own_commit_and_message_are_recognised_when_they_come_back() {
    let mut groups = group_of(b"a#5", &["alice", "bob"]);
    let (_, mut bob) = groups.remove(1);
    let commit = update(&mut bob);
    let mut applier = LogApplier::new(bob, 0, config("bob"));
    let step = applier
        .apply(&entry(1, 1, 3, "bob", &commit), NOW)
        .unwrap()
        .unwrap();
    assert_eq!(
        step.outcome,
        Outcome::Commit {
            epoch: 2,
            own: true
        }
    );
    let mut bob = applier.into_group();
    let message = bob
        .encrypt_application_message(b"mine", &[], &mut OsRandom)
        .unwrap();
    let mut applier = LogApplier::new(bob, 1, config("bob"));
    let step = applier
        .apply(&entry(2, 2, 1, "bob", &message), NOW)
        .unwrap()
        .unwrap();
    let digest = encoded_digest(&message).unwrap();
    assert_eq!(
        step.outcome,
        Outcome::OwnMessage {
            digest: digest.clone()
        }
    );
    let applied = step.applied_entry();
    assert_eq!(applied.sent_digest, Some(digest.as_slice()));
    assert!(applied.body_from_outbox);
    assert_eq!(applied.history.unwrap().sender, "bob");
    assert!(step.is_message());
}

#[test]
fn a_proposal_is_shown_and_a_commit_removing_us_stops_the_applier() {
    let mut groups = group_of(b"a#6", &["alice", "bob", "carol"]);
    let (_, carol) = groups.remove(2);
    let (_, mut bob) = groups.remove(1);
    let (_, alice) = &mut groups[0];
    let own = bob.own_leaf();
    let leave = bob
        .propose(
            Proposal::Remove(Remove { removed: own }),
            &[],
            &mut OsRandom,
        )
        .unwrap();
    let mut carol_applier = LogApplier::new(carol, 0, config("carol"));
    let step = carol_applier
        .apply(&entry(1, 1, 2, "bob", &leave), NOW)
        .unwrap()
        .unwrap();
    assert_eq!(step.outcome, Outcome::Proposal);
    assert_eq!(step.history.as_ref().unwrap().body, "bob asked to leave");
    // Alice commits bob's removal (by value: she has not seen the proposal).
    let removal = alice
        .commit(
            &CommitOptions {
                proposals: vec![Proposal::Remove(Remove { removed: own })],
                ..CommitOptions::default()
            },
            NOW,
            &mut OsRandom,
        )
        .unwrap()
        .commit;
    let mut bob_applier = LogApplier::new(bob, 1, config("bob"));
    let step = bob_applier
        .apply(&entry(2, 1, 3, "alice", &removal), NOW)
        .unwrap()
        .unwrap();
    assert_eq!(step.outcome, Outcome::Removed);
    assert_eq!(step.status, GroupStatus::Removed);
    assert!(matches!(step.event, Some(Event::Removed { .. })));
    assert!(bob_applier.is_stopped());
    let _ = env();
}

#[test]
fn full_snapshot_mode_writes_the_whole_state_for_every_entry() {
    let mut groups = group_of(b"a#7", &["alice", "bob"]);
    let (_, bob) = groups.remove(1);
    let (_, alice) = &mut groups[0];
    let hello = alice
        .encrypt_application_message(b"hello", &[], &mut OsRandom)
        .unwrap();
    let mut applier = LogApplier::new(
        bob,
        0,
        ApplierConfig {
            state_writes: StateWrites::FullSnapshot,
            ..config("bob")
        },
    );
    let step = applier
        .apply(&entry(1, 1, 1, "alice", &hello), NOW)
        .unwrap()
        .unwrap();
    let StateWrite::Snapshot(bytes) = &step.state else {
        panic!("not a snapshot: {:?}", step.outcome);
    };
    assert_eq!(bytes, &applier.group().to_bytes().unwrap());
}

/// draft-barnes-mls-replace-00: Bob's Update reaches the log after Alice's commit ended its
/// epoch. With the policy off, Carol skips it as before; with it on, she keeps it and her
/// next commit Replaces Bob's leaf with it; Bob and Alice follow.
#[test]
fn a_late_update_is_skipped_by_default_and_replaced_with_the_policy_on() {
    let mut groups = group_of(b"r#1", &["alice", "bob", "carol"]);
    let late = groups[1].1.propose_update(None, &mut OsRandom).unwrap();
    let commit = update(&mut groups[0].1);
    groups[0].1.merge_pending_commit().unwrap();
    groups[1].1.process_message(&commit, NOW).unwrap();
    let log = [
        entry(1, 1, 3, "alice", &commit),
        entry(2, 1, 2, "bob", &late),
    ];

    let (_, carol) = groups.remove(2);
    let copy = Group::from_bytes(env(), &carol.to_bytes().unwrap()).unwrap();
    let mut off = LogApplier::new(copy, 0, config("carol"));
    let mut on = LogApplier::new(
        carol,
        0,
        ApplierConfig {
            replace_late_updates: true,
            ..config("carol")
        },
    );
    for applier in [&mut off, &mut on] {
        let step = applier.apply(&log[0], NOW).unwrap().unwrap();
        assert_eq!(
            step.outcome,
            Outcome::Commit {
                epoch: 2,
                own: false
            }
        );
    }
    let skipped = off.apply(&log[1], NOW).unwrap().unwrap();
    assert_eq!(skipped.outcome, Outcome::Skipped);
    assert!(off.group().late_update_leaves().is_empty());
    let kept = on.apply(&log[1], NOW).unwrap().unwrap();
    assert_eq!(kept.outcome, Outcome::LateUpdate);
    assert!(kept.history.unwrap().body.contains("late Update"));
    let bob = groups[1].1.own_leaf();
    assert_eq!(on.group().late_update_leaves(), vec![bob]);

    let mut carol = on.into_group();
    let output = carol
        .commit(
            &CommitOptions {
                replace_late_updates: true,
                ..CommitOptions::default()
            },
            NOW,
            &mut OsRandom,
        )
        .unwrap();
    carol.merge_pending_commit().unwrap();
    for (_, member) in &mut groups {
        member.process_message(&output.commit, NOW).unwrap();
        assert_eq!(member.epoch_authenticator(), carol.epoch_authenticator());
    }
    let MlsMessageBody::PrivateMessage(_) = &late.body else {
        panic!("our groups' handshakes are PrivateMessages")
    };
    // Bob's leaf now has the key he proposed, which he holds.
    let replaced = carol.tree().leaf(bob).unwrap();
    assert_eq!(groups[1].1.tree().leaf(bob), Some(replaced));
    let hello = groups[1]
        .1
        .encrypt_application_message(b"fresh", &[], &mut OsRandom)
        .unwrap();
    assert!(matches!(
        carol.process_message(&hello, NOW).unwrap(),
        ProcessedMessage::Application { .. }
    ));
}
