//! The storage conformance suite: every engine behind the `Store` trait must pass it
//! (SQLite always; PostgreSQL when `CONCLAVE_TEST_POSTGRES_URL` is set, mandatory under
//! `CI=true`). The store treats messages as opaque bytes, so these tests use small synthetic
//! payloads; the API suite (`api.rs`) uses real MLS objects.

// Test code: a panic is a test failure (clippy.toml allows this in #[test] functions; the
// helpers of this file are test code too).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::{engines, unique, unique_group_id};
use conclave_ds::store::{
    Appended, ClientRecord, CommitRecord, Committed, CredentialChange, CredentialUpdated,
    GroupKind, MemberProofKey, NewGroup, NewKeyPackage, NewMessage, Registered, Store, WithToken,
};

const NOW: u64 = 1_700_000_000;

fn client(id: &str) -> ClientRecord {
    ClientRecord {
        client_id: id.to_owned(),
        cipher_suite: 1,
        signature_key: format!("key of {id}").into_bytes(),
        credential: format!("credential of {id}").into_bytes(),
        created_at: NOW,
        token_generation: 0,
        partial: false,
    }
}

fn commit(epoch: u64, sender: &str, members: &[&str], tag: &str) -> CommitRecord {
    CommitRecord {
        epoch,
        data: format!("commit {tag}").into_bytes(),
        sender: sender.to_owned(),
        external: false,
        group_info: format!("group info {tag}").into_bytes(),
        ratchet_tree: None,
        members: members.iter().map(|m| (*m).to_owned()).collect(),
        welcome: None,
        allow_external_join: None,
        public_state: None,
        member_proof: None,
        next_member_proof_key: None,
        annotations: Vec::new(),
        annotated_welcomes: Vec::new(),
    }
}

fn message(epoch: u64, sender: &str, tag: &str) -> NewMessage {
    NewMessage {
        epoch,
        content_type: 1,
        sender: sender.to_owned(),
        data: tag.as_bytes().to_vec(),
        member_proof: None,
        recipient: None,
        annotations: Vec::new(),
    }
}

async fn group_with(store: &Arc<dyn Store>, members: &[&str]) -> Vec<u8> {
    let gid = unique_group_id();
    assert!(
        store
            .create_group(
                &NewGroup::unverified(gid.clone(), 0, false, members[0].to_owned()),
                NOW
            )
            .await
            .unwrap()
    );
    if members.len() > 1 {
        let r = store
            .commit(&gid, &commit(0, members[0], members, "setup"), NOW)
            .await
            .unwrap();
        assert!(matches!(r, Committed::Accepted { epoch: 1, .. }), "{r:?}");
    }
    gid
}

fn kp(owner: &str, tag: &str, last_resort: bool, not_after: u64) -> NewKeyPackage {
    NewKeyPackage {
        kp_ref: format!("ref {owner} {tag}").into_bytes(),
        owner: owner.to_owned(),
        cipher_suite: 1,
        last_resort,
        not_before: NOW - 3600,
        not_after,
        bound_group: None,
        data: format!("kp {tag}").into_bytes(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_one_commit_per_epoch() {
    for (store, _guard) in engines().await {
        let (a, b) = (unique("a"), unique("b"));
        let gid = group_with(&store, &[&a, &b]).await;
        for epoch in 1..6u64 {
            // 8 concurrent commits for the same epoch: exactly one wins.
            let mut tasks = Vec::new();
            for i in 0..8 {
                let (store, gid, a, b) = (store.clone(), gid.clone(), a.clone(), b.clone());
                let sender = if i % 2 == 0 { a.clone() } else { b.clone() };
                tasks.push(tokio::spawn(async move {
                    let c = commit(epoch, &sender, &[&a, &b], &format!("{epoch}/{i}"));
                    store.commit(&gid, &c, NOW).await.unwrap()
                }));
            }
            let mut accepted = 0;
            for t in tasks {
                match t.await.unwrap() {
                    Committed::Accepted { epoch: e, .. } => {
                        assert_eq!(e, epoch + 1);
                        accepted += 1;
                    }
                    Committed::WrongEpoch { current } => assert_eq!(current, epoch + 1),
                    other => panic!("{}: {other:?}", store.engine()),
                }
            }
            assert_eq!(accepted, 1, "{}: epoch {epoch}", store.engine());
        }
        // An old or future epoch is refused with the current one.
        for stale in [0, 3, 9] {
            assert_eq!(
                store
                    .commit(&gid, &commit(stale, &a, &[&a], "stale"), NOW)
                    .await
                    .unwrap(),
                Committed::WrongEpoch { current: 6 }
            );
        }
        let g = store.group(&gid).await.unwrap().unwrap();
        assert_eq!((g.epoch, g.last_seq), (6, 6));
        // The stored GroupInfo is the winning commit's, and the log holds the winners only.
        let log = store.read_log(&gid, 0, 100).await.unwrap();
        assert_eq!(log.len(), 6);
        let last = log.last().unwrap();
        let tag = String::from_utf8(last.data.clone()).unwrap();
        let tag = tag.strip_prefix("commit ").unwrap();
        assert_eq!(
            g.group_info.unwrap(),
            format!("group info {tag}").into_bytes()
        );
        for (i, e) in log.iter().enumerate() {
            assert_eq!(e.seq, i as u64 + 1);
            assert_eq!(e.epoch, i as u64);
            assert_eq!(e.content_type, 3);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sequence_numbers_are_gap_free() {
    for (store, _guard) in engines().await {
        let (a, b) = (unique("a"), unique("b"));
        let gid = group_with(&store, &[&a, &b]).await;
        // 40 concurrent appends, some for a wrong epoch, plus a commit in the middle.
        let mut tasks = Vec::new();
        for i in 0..40u64 {
            let (store, gid, a) = (store.clone(), gid.clone(), a.clone());
            tasks.push(tokio::spawn(async move {
                let epoch = if i % 7 == 3 { 5 } else { 1 };
                store
                    .append(&gid, &message(epoch, &a, &format!("m{i}")), NOW)
                    .await
                    .unwrap()
            }));
        }
        let mut seqs = BTreeSet::new();
        for t in tasks {
            match t.await.unwrap() {
                Appended::Accepted { seq } => assert!(seqs.insert(seq)),
                Appended::WrongEpoch { current } => assert_eq!(current, 1),
                other => panic!("{other:?}"),
            }
        }
        let log = store.read_log(&gid, 0, 1000).await.unwrap();
        let logged: Vec<u64> = log.iter().map(|e| e.seq).collect();
        let expected: Vec<u64> = (1..=logged.len() as u64).collect();
        assert_eq!(logged, expected, "{}: gap or duplicate", store.engine());
        assert_eq!(
            seqs.len() + 1,
            log.len(),
            "every acknowledged append is in the log"
        );
        // Cursor reads page through the log without loss.
        let mut cursor = 0;
        let mut paged = Vec::new();
        loop {
            let page = store.read_log(&gid, cursor, 7).await.unwrap();
            let Some(last) = page.last() else { break };
            cursor = last.seq;
            paged.extend(page);
        }
        assert_eq!(paged, log);
        // Appends for an old epoch are refused after a commit; the log is unchanged.
        let r = store
            .commit(&gid, &commit(1, &b, &[&a, &b], "e1"), NOW)
            .await
            .unwrap();
        assert!(matches!(r, Committed::Accepted { .. }));
        assert_eq!(
            store
                .append(&gid, &message(1, &a, "late"), NOW)
                .await
                .unwrap(),
            Appended::WrongEpoch { current: 2 }
        );
        assert_eq!(
            store.read_log(&gid, 0, 1000).await.unwrap().len(),
            log.len() + 1
        );
    }
}

/// A targeted message keeps its recipient through the log (draft-ietf-mls-targeted-messages:
/// the routes show it to the recipient and the sender only); other messages have none.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_targeted_message_keeps_its_recipient() {
    for (store, _guard) in engines().await {
        let (a, b, c) = (unique("a"), unique("b"), unique("c"));
        let gid = group_with(&store, &[&a, &b, &c]).await;
        let targeted = NewMessage {
            content_type: 4,
            recipient: Some(b.clone()),
            ..message(1, &a, "aside")
        };
        store.append(&gid, &targeted, NOW).await.unwrap();
        store
            .append(&gid, &message(1, &c, "all"), NOW)
            .await
            .unwrap();
        let log = store.read_log(&gid, 0, 100).await.unwrap();
        let recipients: Vec<_> = log.iter().map(|e| e.recipient.clone()).collect();
        assert_eq!(
            recipients[1..],
            [Some(b.clone()), None],
            "{}",
            store.engine()
        );
        assert_eq!(log[1].content_type, 4);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn membership_is_enforced_in_the_transaction() {
    for (store, _guard) in engines().await {
        let (a, b, eve) = (unique("a"), unique("b"), unique("eve"));
        let gid = group_with(&store, &[&a, &b]).await;
        assert_eq!(
            store
                .append(&gid, &message(1, &eve, "x"), NOW)
                .await
                .unwrap(),
            Appended::NotMember
        );
        assert_eq!(
            store
                .commit(&gid, &commit(1, &eve, &[&eve], "x"), NOW)
                .await
                .unwrap(),
            Committed::NotMember
        );
        assert_eq!(
            store
                .append(b"no such group", &message(1, &a, "x"), NOW)
                .await
                .unwrap(),
            Appended::NoGroup
        );
        assert_eq!(
            store
                .commit(b"no such group", &commit(1, &a, &[&a], "x"), NOW)
                .await
                .unwrap(),
            Committed::NoGroup
        );
        // External commits only when allowed, and only for a joiner the bundle names.
        let mut external = commit(1, &eve, &[&a, &b, &eve], "ext");
        external.external = true;
        assert_eq!(
            store.commit(&gid, &external, NOW).await.unwrap(),
            Committed::ExternalRefused
        );
        let mut allow = commit(1, &a, &[&a, &b], "allow");
        allow.allow_external_join = Some(true);
        assert!(matches!(
            store.commit(&gid, &allow, NOW).await.unwrap(),
            Committed::Accepted { epoch: 2, .. }
        ));
        let mut not_named = commit(2, &eve, &[&a, &b], "ext2");
        not_named.external = true;
        assert_eq!(
            store.commit(&gid, &not_named, NOW).await.unwrap(),
            Committed::ExternalRefused
        );
        external.epoch = 2;
        assert!(matches!(
            store.commit(&gid, &external, NOW).await.unwrap(),
            Committed::Accepted { epoch: 3, .. }
        ));
        assert!(store.is_member(&gid, &eve).await.unwrap());
        // A commit that removes b: b can no longer post.
        let r = store
            .commit(&gid, &commit(3, &a, &[&a, &eve], "rm b"), NOW)
            .await
            .unwrap();
        assert!(matches!(r, Committed::Accepted { .. }));
        assert!(!store.is_member(&gid, &b).await.unwrap());
        assert_eq!(
            store.append(&gid, &message(4, &b, "x"), NOW).await.unwrap(),
            Appended::NotMember
        );
        let g = store.group(&gid).await.unwrap().unwrap();
        let mut expected = vec![a.clone(), eve.clone()];
        expected.sort();
        assert_eq!(g.members, expected);
        assert!(g.allow_external_join);
        // Creating a group twice is refused.
        assert!(
            !store
                .create_group(&NewGroup::unverified(gid.clone(), 0, false, a.clone()), NOW)
                .await
                .unwrap()
        );
    }
}

/// draft-mahy-mls-kp-context-00: a package bound to a group is served only to a claim
/// naming that group (before unbound ones), never to a claim naming another group or none,
/// and is not counted in the owner's stock of packages for anyone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn key_packages_bound_to_a_group_are_served_only_for_it() {
    for (store, _guard) in engines().await {
        let dan = unique("dan");
        store.register_client(&client(&dan)).await.unwrap();
        let far = NOW + 86_400;
        let mut bound = kp(&dan, "for g1", false, far);
        bound.bound_group = Some(b"g1".to_vec());
        let mut bound_last_resort = kp(&dan, "last for g1", true, far);
        bound_last_resort.bound_group = Some(b"g1".to_vec());
        store
            .publish_key_packages(&[kp(&dan, "free", false, far), bound, bound_last_resort])
            .await
            .unwrap();
        let stock = store.key_package_stock(&dan, NOW).await.unwrap();
        assert_eq!(stock.len(), 1);
        assert_eq!(
            stock[0].one_time_available, 1,
            "bound packages are not stock"
        );
        assert!(
            !stock[0].has_last_resort,
            "a bound last-resort package is not stock"
        );

        // Another group's claim and a claim naming no group get the free package only.
        let other = store
            .claim_key_package(&dan, 1, Some(b"g2"), NOW)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(other.data, b"kp free");
        assert!(
            store
                .claim_key_package(&dan, 1, None, NOW)
                .await
                .unwrap()
                .is_none(),
            "a claim naming no group got a bound package"
        );
        assert!(
            store
                .claim_key_package(&dan, 1, Some(b"g2"), NOW)
                .await
                .unwrap()
                .is_none(),
            "a claim for g2 got a package bound to g1"
        );
        // g1's claims get its one-time package, then its last-resort one.
        let first = store
            .claim_key_package(&dan, 1, Some(b"g1"), NOW)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.data, b"kp for g1");
        assert!(!first.last_resort);
        let second = store
            .claim_key_package(&dan, 1, Some(b"g1"), NOW)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(second.data, b"kp last for g1");
        assert!(second.last_resort);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn key_package_claims() {
    for (store, _guard) in engines().await {
        let bob = unique("bob");
        assert_eq!(
            store.register_client(&client(&bob)).await.unwrap(),
            Registered::Created
        );
        let far = NOW + 86_400;
        let packages = vec![
            kp(&bob, "1", false, far),
            kp(&bob, "2", false, far),
            kp(&bob, "3", false, far),
            kp(&bob, "expired", false, NOW - 1),
            kp(&bob, "last", true, far),
        ];
        assert_eq!(store.publish_key_packages(&packages).await.unwrap(), 5);
        // Publishing again stores nothing new.
        assert_eq!(store.publish_key_packages(&packages).await.unwrap(), 0);
        let stock = store.key_package_stock(&bob, NOW).await.unwrap();
        assert_eq!(stock.len(), 1);
        assert_eq!(stock[0].one_time_available, 3);
        assert!(stock[0].has_last_resort && !stock[0].last_resort_claimed);

        // 12 concurrent claims: the 3 one-time packages exactly once each, then last resort.
        let mut tasks = Vec::new();
        for _ in 0..12 {
            let (store, bob) = (store.clone(), bob.clone());
            tasks.push(tokio::spawn(async move {
                store
                    .claim_key_package(&bob, 1, None, NOW)
                    .await
                    .unwrap()
                    .unwrap()
            }));
        }
        let mut one_time = Vec::new();
        let mut last_resort = 0;
        for t in tasks {
            let c = t.await.unwrap();
            assert_ne!(c.data, b"kp expired", "an expired package was served");
            if c.last_resort {
                assert_eq!(c.data, b"kp last");
                last_resort += 1;
            } else {
                one_time.push(c.data);
            }
        }
        one_time.sort();
        assert_eq!(
            one_time,
            vec![b"kp 1".to_vec(), b"kp 2".to_vec(), b"kp 3".to_vec()]
        );
        assert_eq!(last_resort, 9);
        let stock = store.key_package_stock(&bob, NOW).await.unwrap();
        assert_eq!(stock[0].one_time_available, 0);
        assert!(stock[0].last_resort_claimed, "the owner is told to rotate");

        // Rotating the last-resort package replaces it and clears the flag.
        store
            .publish_key_packages(&[kp(&bob, "last2", true, far)])
            .await
            .unwrap();
        let stock = store.key_package_stock(&bob, NOW).await.unwrap();
        assert!(stock[0].has_last_resort && !stock[0].last_resort_claimed);
        let c = store
            .claim_key_package(&bob, 1, None, NOW)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(c.data, b"kp last2");

        // Expired last-resort packages are not served either; other suites have nothing.
        assert!(
            store
                .claim_key_package(&bob, 1, None, far + 1)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .claim_key_package(&bob, 2, None, NOW)
                .await
                .unwrap()
                .is_none()
        );
        // Not yet valid packages are not served.
        let carol = unique("carol");
        store.register_client(&client(&carol)).await.unwrap();
        let mut future = kp(&carol, "future", false, far);
        future.not_before = NOW + 100;
        store.publish_key_packages(&[future]).await.unwrap();
        assert!(
            store
                .claim_key_package(&carol, 1, None, NOW)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .claim_key_package(&carol, 1, None, NOW + 200)
                .await
                .unwrap()
                .is_some()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn welcomes_are_routed_by_key_package_ref() {
    for (store, _guard) in engines().await {
        let (a, bob, carol) = (unique("a"), unique("bob"), unique("carol"));
        for c in [&a, &bob, &carol] {
            store.register_client(&client(c)).await.unwrap();
        }
        store
            .publish_key_packages(&[
                kp(&bob, "b", false, NOW + 1000),
                kp(&carol, "c", false, NOW + 1000),
            ])
            .await
            .unwrap();
        let gid = group_with(&store, &[&a]).await;
        let mut add = commit(0, &a, &[&a, &bob, &carol], "add");
        add.welcome = Some((
            b"welcome 1".to_vec(),
            vec![
                format!("ref {bob} b").into_bytes(),
                format!("ref {carol} c").into_bytes(),
                b"unknown ref".to_vec(),
            ],
        ));
        match store.commit(&gid, &add, NOW).await.unwrap() {
            Committed::Accepted { routed, .. } => {
                let mut expected = vec![bob.clone(), carol.clone()];
                expected.sort();
                let mut routed = routed;
                routed.sort();
                assert_eq!(routed, expected);
            }
            other => panic!("{other:?}"),
        }
        let inbox = store.welcomes(&bob, 0, 10).await.unwrap();
        assert_eq!(inbox.len(), 1);
        assert_eq!(inbox[0].data, b"welcome 1");
        assert_eq!(inbox[0].kp_ref, format!("ref {bob} b").into_bytes());
        assert!(store.welcomes(&a, 0, 10).await.unwrap().is_empty());
        // A refused commit routes nothing.
        let mut loser = commit(0, &a, &[&a, &bob], "loser");
        loser.welcome = Some((
            b"welcome 2".to_vec(),
            vec![format!("ref {bob} b").into_bytes()],
        ));
        assert_eq!(
            store.commit(&gid, &loser, NOW).await.unwrap(),
            Committed::WrongEpoch { current: 1 }
        );
        assert_eq!(store.welcomes(&bob, 0, 10).await.unwrap().len(), 1);
        // Acknowledging empties the inbox of that client only.
        assert_eq!(store.ack_welcomes(&bob, inbox[0].id).await.unwrap(), 1);
        assert!(store.welcomes(&bob, 0, 10).await.unwrap().is_empty());
        assert_eq!(store.welcomes(&carol, 0, 10).await.unwrap().len(), 1);
    }
}

/// draft-ietf-mls-partial-02 §7: an application message's sender proofs for the partial
/// members are stored at the message's position, for those members only; a refused
/// message stores none.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn partial_clients_get_the_sender_proofs_of_application_messages() {
    for (store, _guard) in engines().await {
        let (a, bob) = (unique("a"), unique("bob"));
        store.register_client(&client(&a)).await.unwrap();
        let mut record = client(&bob);
        record.partial = true;
        store.register_client(&record).await.unwrap();
        let gid = group_with(&store, &[&a, &bob]).await;
        let proven = NewMessage {
            annotations: vec![(bob.clone(), b"a's proof".to_vec())],
            ..message(1, &a, "hello")
        };
        let seq = match store.append(&gid, &proven, NOW).await.unwrap() {
            Appended::Accepted { seq } => seq,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            store.annotations(&gid, &bob, 0, seq).await.unwrap(),
            vec![(seq, b"a's proof".to_vec())]
        );
        assert!(
            store
                .annotations(&gid, &a, 0, seq)
                .await
                .unwrap()
                .is_empty()
        );
        // A message of a past epoch is refused, and leaves no proof behind.
        let stale = NewMessage {
            annotations: vec![(bob.clone(), b"stale".to_vec())],
            ..message(0, &a, "stale")
        };
        assert!(!matches!(
            store.append(&gid, &stale, NOW).await.unwrap(),
            Appended::Accepted { .. }
        ));
        assert_eq!(
            store.annotations(&gid, &bob, 0, seq + 5).await.unwrap(),
            vec![(seq, b"a's proof".to_vec())]
        );
    }
}

/// draft-ietf-mls-partial-02: a partial client's flag is kept; a commit's AnnotatedCommits
/// are stored at its sequence number, each for its client, and its AnnotatedWelcomes are
/// routed to their KeyPackage's owner marked annotated; a refused commit stores none.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn partial_clients_get_their_annotations_with_the_commit() {
    for (store, _guard) in engines().await {
        let (a, bob, carol) = (unique("a"), unique("bob"), unique("carol"));
        store.register_client(&client(&a)).await.unwrap();
        for c in [&bob, &carol] {
            let mut record = client(c);
            record.partial = true;
            store.register_client(&record).await.unwrap();
        }
        assert!(!store.client(&a).await.unwrap().unwrap().partial);
        assert!(store.client(&bob).await.unwrap().unwrap().partial);
        // Registering again does not change the flag.
        assert_eq!(
            store.register_client(&client(&bob)).await.unwrap(),
            Registered::Unchanged
        );
        assert!(store.client(&bob).await.unwrap().unwrap().partial);
        store
            .publish_key_packages(&[kp(&carol, "c", false, NOW + 1000)])
            .await
            .unwrap();
        let gid = group_with(&store, &[&a, &bob]).await;
        let mut add = commit(1, &a, &[&a, &bob, &carol], "add");
        add.annotations = vec![(bob.clone(), b"annotated for bob".to_vec())];
        add.annotated_welcomes = vec![(
            format!("ref {carol} c").into_bytes(),
            b"annotated welcome".to_vec(),
        )];
        let seq = match store.commit(&gid, &add, NOW).await.unwrap() {
            Committed::Accepted { seq, routed, .. } => {
                assert_eq!(routed, vec![carol.clone()]);
                seq
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(
            store.annotations(&gid, &bob, 0, seq).await.unwrap(),
            vec![(seq, b"annotated for bob".to_vec())]
        );
        assert!(
            store
                .annotations(&gid, &bob, seq, seq + 5)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .annotations(&gid, &a, 0, seq)
                .await
                .unwrap()
                .is_empty()
        );
        let inbox = store.welcomes(&carol, 0, 10).await.unwrap();
        assert_eq!(inbox.len(), 1);
        assert!(inbox[0].annotated);
        assert_eq!(inbox[0].data, b"annotated welcome");
        // A refused commit stores no annotation.
        let mut loser = commit(1, &a, &[&a, &bob, &carol], "loser");
        loser.annotations = vec![(bob.clone(), b"lost".to_vec())];
        assert_eq!(
            store.commit(&gid, &loser, NOW).await.unwrap(),
            Committed::WrongEpoch { current: 2 }
        );
        assert_eq!(
            store.annotations(&gid, &bob, 0, 100).await.unwrap().len(),
            1
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clients_challenges_and_tokens() {
    for (store, _guard) in engines().await {
        let a = unique("a");
        assert_eq!(
            store.register_client(&client(&a)).await.unwrap(),
            Registered::Created
        );
        assert_eq!(
            store.register_client(&client(&a)).await.unwrap(),
            Registered::Unchanged
        );
        let mut other = client(&a);
        other.signature_key = b"another key".to_vec();
        assert_eq!(
            store.register_client(&other).await.unwrap(),
            Registered::Taken
        );
        assert_eq!(store.client(&a).await.unwrap().unwrap(), client(&a));
        assert!(store.client(&unique("nobody")).await.unwrap().is_none());

        // A challenge is answered once, across every node on the database.
        let ch = unique("challenge").into_bytes();
        assert!(store.use_challenge(&ch, NOW + 60).await.unwrap());
        assert!(
            !store.use_challenge(&ch, NOW + 60).await.unwrap(),
            "replayed"
        );
        assert!(
            store
                .use_challenge(&unique("challenge").into_bytes(), NOW + 60)
                .await
                .unwrap()
        );
        // The nodes' shared secret: the first one stored stays.
        let name = unique("secret");
        assert_eq!(
            store.server_secret(&name, b"first").await.unwrap(),
            b"first"
        );
        assert_eq!(
            store.server_secret(&name, b"second").await.unwrap(),
            b"first"
        );

        let token = unique("token").into_bytes();
        store.put_token(&token, &a, 0, NOW + 900).await.unwrap();
        assert_eq!(
            store.token_client(&token, NOW).await.unwrap(),
            Some(a.clone())
        );
        assert_eq!(store.token_client(&token, NOW + 901).await.unwrap(), None);
        assert_eq!(store.token_client(b"forged", NOW).await.unwrap(), None);

        // Retention removes expired auth material and old log entries. (Its own, older time
        // base: tests share the PostgreSQL database and run concurrently.)
        let t = NOW - 1_000_000;
        let old_token = unique("token").into_bytes();
        store.put_token(&old_token, &a, 0, t + 900).await.unwrap();
        let answered = unique("challenge").into_bytes();
        assert!(store.use_challenge(&answered, t + 60).await.unwrap());
        let gid = group_with(&store, &[&a]).await;
        store.append(&gid, &message(0, &a, "old"), t).await.unwrap();
        store
            .append(&gid, &message(0, &a, "new"), NOW)
            .await
            .unwrap();
        let pruned = store.prune(t + 10_000, Some(t + 1)).await.unwrap();
        assert!(pruned.messages >= 1 && pruned.auth >= 1, "{pruned:?}");
        let log = store.read_log(&gid, 0, 10).await.unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].data, b"new");
        assert_eq!(store.token_client(&old_token, t).await.unwrap(), None);
        assert_eq!(
            store.token_client(&token, NOW).await.unwrap(),
            Some(a.clone())
        );
        // An answered challenge is forgotten once it expired (it could not be answered
        // again anyway).
        assert!(store.use_challenge(&answered, t + 60).await.unwrap());
        store.health().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn client_credential_changes() {
    for (store, _guard) in engines().await {
        let a = unique("a");
        let engine = store.engine();
        store.register_client(&client(&a)).await.unwrap();
        store
            .publish_key_packages(&[kp(&a, "old", false, NOW + 3600)])
            .await
            .unwrap();
        let change = |previous: &ClientRecord, tag: &str| CredentialChange {
            client_id: previous.client_id.clone(),
            previous_signature_key: previous.signature_key.clone(),
            previous_credential: previous.credential.clone(),
            cipher_suite: 2,
            signature_key: format!("key {tag}").into_bytes(),
            credential: format!("credential {tag}").into_bytes(),
        };
        let original = client(&a);
        let token = unique("token").into_bytes();
        store.put_token(&token, &a, 0, NOW + 900).await.unwrap();
        assert_eq!(
            store.token_client(&token, NOW).await.unwrap(),
            Some(a.clone())
        );
        assert_eq!(
            store
                .update_client_credential(&change(&original, "1"))
                .await
                .unwrap(),
            CredentialUpdated::Replaced,
            "{engine}"
        );
        let updated = store.client(&a).await.unwrap().unwrap();
        assert_eq!(
            updated,
            ClientRecord {
                client_id: a.clone(),
                cipher_suite: 2,
                signature_key: b"key 1".to_vec(),
                credential: b"credential 1".to_vec(),
                created_at: NOW,
                token_generation: 1,
                partial: false,
            }
        );
        // The change revoked the token issued before it; one of the new generation works.
        assert_eq!(
            store.token_client(&token, NOW).await.unwrap(),
            None,
            "{engine}"
        );
        let fresh = unique("token").into_bytes();
        store.put_token(&fresh, &a, 1, NOW + 900).await.unwrap();
        assert_eq!(
            store.token_client(&fresh, NOW).await.unwrap(),
            Some(a.clone())
        );
        // Retention removes the revoked token, keeps the valid one.
        store.prune(NOW, None).await.unwrap();
        assert_eq!(
            store.token_client(&fresh, NOW).await.unwrap(),
            Some(a.clone())
        );
        // A change checked against the original record no longer applies (compare-and-swap),
        // whether the key or only the credential is stale.
        assert_eq!(
            store
                .update_client_credential(&change(&original, "2"))
                .await
                .unwrap(),
            CredentialUpdated::Changed
        );
        let mut stale_credential = change(&updated, "2");
        stale_credential.previous_credential = original.credential.clone();
        assert_eq!(
            store
                .update_client_credential(&stale_credential)
                .await
                .unwrap(),
            CredentialUpdated::Changed
        );
        assert_eq!(store.client(&a).await.unwrap().unwrap(), updated);
        // Unknown client.
        assert_eq!(
            store
                .update_client_credential(&change(&client(&unique("nobody")), "3"))
                .await
                .unwrap(),
            CredentialUpdated::NoClient
        );
        // Registering again with the old key is a conflict; with the new one, unchanged.
        assert_eq!(
            store.register_client(&original).await.unwrap(),
            Registered::Taken
        );
        let mut again = updated.clone();
        again.created_at = NOW + 5;
        assert_eq!(
            store.register_client(&again).await.unwrap(),
            Registered::Unchanged
        );
        // Concurrent changes from the same record: exactly one wins.
        let mut tasks = Vec::new();
        for i in 0..8 {
            let (store, c) = (store.clone(), change(&updated, &format!("race {i}")));
            tasks.push(tokio::spawn(async move {
                store.update_client_credential(&c).await.unwrap()
            }));
        }
        let mut replaced = 0;
        for t in tasks {
            match t.await.unwrap() {
                CredentialUpdated::Replaced => replaced += 1,
                CredentialUpdated::Changed => {}
                other => panic!("{engine}: {other:?}"),
            }
        }
        assert_eq!(replaced, 1, "{engine}");
        // The KeyPackage published with the old credential is still there to claim.
        let claimed = store
            .claim_key_package(&a, 1, None, NOW)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(claimed.data, b"kp old");
    }
}

/// Several DS processes starting together on a new PostgreSQL database all migrate it
/// without error (the migrations, the bookkeeping table included, run under an advisory
/// lock: concurrent `CREATE TABLE IF NOT EXISTS` fails on the catalog otherwise).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_starting_together_migrate_a_new_postgres_database() {
    let Some(url) = common::postgres_url() else {
        return;
    };
    let database = conclave_testkit::postgres::TestDatabase::create(&url, "migrate");
    let opened =
        futures_util::future::join_all((0..6).map(|_| conclave_ds::open_store(database.url(), 2)))
            .await;
    for store in &opened {
        assert!(store.is_ok(), "{:?}", store.as_ref().err());
    }
    drop(opened);
}

/// A removed client is remembered with the sequence number of the commit that removed it
/// (it may read the log up to there); adding it back forgets that.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn removed_members_are_remembered_until_added_back() {
    for (store, _guard) in engines().await {
        let (alice, bob, carol) = (unique("alice"), unique("bob"), unique("carol"));
        let gid = group_with(&store, &[&alice, &bob, &carol]).await;
        assert_eq!(store.removed_at(&gid, &bob).await.unwrap(), None);
        let removal = store
            .commit(
                &gid,
                &commit(1, &alice, &[&alice, &carol], "remove bob"),
                NOW,
            )
            .await
            .unwrap();
        let Committed::Accepted { seq, .. } = removal else {
            panic!("{removal:?}");
        };
        assert!(!store.is_member(&gid, &bob).await.unwrap());
        assert_eq!(store.removed_at(&gid, &bob).await.unwrap(), Some(seq));
        assert_eq!(store.removed_at(&gid, &carol).await.unwrap(), None);
        // Removed again later (after being added back): the later commit counts.
        let back = store
            .commit(
                &gid,
                &commit(2, &alice, &[&alice, &bob, &carol], "add bob"),
                NOW,
            )
            .await
            .unwrap();
        assert!(matches!(back, Committed::Accepted { .. }), "{back:?}");
        assert_eq!(store.removed_at(&gid, &bob).await.unwrap(), None);
        let again = store
            .commit(
                &gid,
                &commit(3, &carol, &[&alice, &carol], "remove bob again"),
                NOW,
            )
            .await
            .unwrap();
        let Committed::Accepted { seq: later, .. } = again else {
            panic!("{again:?}");
        };
        assert!(later > seq);
        assert_eq!(store.removed_at(&gid, &bob).await.unwrap(), Some(later));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn epoch_proposals_are_the_proposals_after_the_last_commit() {
    for (store, _guard) in engines().await {
        let gid = group_with(&store, &["alice", "bob"]).await;
        let proposal = |epoch: u64, tag: &str| NewMessage {
            content_type: 2,
            ..message(epoch, "bob", tag)
        };
        store.append(&gid, &proposal(1, "p0"), NOW).await.unwrap();
        store
            .commit(&gid, &commit(1, "alice", &["alice", "bob"], "c1"), NOW)
            .await
            .unwrap();
        assert!(
            store
                .epoch_proposals(&gid, 2, 100)
                .await
                .unwrap()
                .is_empty(),
            "{}",
            store.engine()
        );
        for entry in [
            proposal(2, "p1"),
            message(2, "bob", "m1"),
            proposal(2, "p2"),
        ] {
            store.append(&gid, &entry, NOW).await.unwrap();
        }
        let found = store.epoch_proposals(&gid, 2, 100).await.unwrap();
        let tags: Vec<&[u8]> = found.iter().map(|e| e.data.as_slice()).collect();
        assert_eq!(tags, [b"p1".as_slice(), b"p2"], "{}", store.engine());
        assert!(found.iter().all(|e| e.epoch == 2 && e.content_type == 2));
        assert_eq!(store.epoch_proposals(&gid, 2, 1).await.unwrap().len(), 1);
        // A past epoch has none any more: its proposals are before the last commit.
        assert!(
            store
                .epoch_proposals(&gid, 1, 100)
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn public_state_is_created_with_the_group_and_moves_with_its_commits() {
    for (store, _guard) in engines().await {
        let a = unique("a");
        let gid = unique_group_id();
        let new = NewGroup {
            group_info: Some(b"info 0".to_vec()),
            ratchet_tree: Some(b"tree 0".to_vec()),
            public_state: Some(b"state 0".to_vec()),
            ..NewGroup::unverified(gid.clone(), 0, false, a.clone())
        };
        assert!(store.create_group(&new, NOW).await.unwrap());
        let g = store.group(&gid).await.unwrap().unwrap();
        assert_eq!(g.public_state.as_deref(), Some(&b"state 0"[..]));
        assert_eq!(g.group_info.as_deref(), Some(&b"info 0"[..]));
        assert_eq!(g.ratchet_tree.as_deref(), Some(&b"tree 0"[..]));
        // A commit with a new state replaces it; one without leaves it.
        let mut next = commit(0, &a, &[&a], "1");
        next.public_state = Some(b"state 1".to_vec());
        assert!(matches!(
            store.commit(&gid, &next, NOW).await.unwrap(),
            Committed::Accepted { epoch: 1, .. }
        ));
        let g = store.group(&gid).await.unwrap().unwrap();
        assert_eq!(g.public_state.as_deref(), Some(&b"state 1"[..]));
        // A commit that lost the epoch race leaves the state of the winner.
        let mut late = commit(0, &a, &[&a], "late");
        late.public_state = Some(b"late state".to_vec());
        assert_eq!(
            store.commit(&gid, &late, NOW).await.unwrap(),
            Committed::WrongEpoch { current: 1 }
        );
        let g = store.group(&gid).await.unwrap().unwrap();
        assert_eq!(g.public_state.as_deref(), Some(&b"state 1"[..]));
        // An unverified group has none.
        let other = group_with(&store, &[&a]).await;
        assert_eq!(
            store.group(&other).await.unwrap().unwrap().public_state,
            None
        );
    }
}

/// A member's read (`member_log`) is the page `read_log` gives, and nothing for a
/// non-member, a removed member or a missing group; `group_kind` says what a group was
/// created as, and nothing for a missing group.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn member_reads_and_group_kinds() {
    for (store, _guard) in engines().await {
        let (a, b, c) = (unique("a"), unique("b"), unique("c"));
        let engine = store.engine();
        let gid = group_with(&store, &[&a, &b]).await;
        for i in 0..5 {
            let r = store
                .append(&gid, &message(1, &a, &format!("m{i}")), NOW)
                .await
                .unwrap();
            assert!(matches!(r, Appended::Accepted { .. }), "{engine}: {r:?}");
        }
        let page = store.read_log(&gid, 2, 3).await.unwrap();
        assert_eq!(page.len(), 3, "{engine}");
        assert_eq!(
            store.member_log(&gid, &b, 2, 3).await.unwrap(),
            Some(page),
            "{engine}"
        );
        assert_eq!(
            store.member_log(&gid, &b, 6, 10).await.unwrap(),
            Some(Vec::new()),
            "{engine}: past the end, an empty page"
        );
        assert_eq!(store.member_log(&gid, &c, 0, 10).await.unwrap(), None);
        assert_eq!(
            store
                .member_log(&unique_group_id(), &a, 0, 10)
                .await
                .unwrap(),
            None
        );
        // b removed: no member read any more (the route serves it up to its removal).
        let r = store
            .commit(&gid, &commit(1, &a, &[&a], "remove b"), NOW)
            .await
            .unwrap();
        assert!(matches!(r, Committed::Accepted { epoch: 2, .. }), "{r:?}");
        assert_eq!(store.member_log(&gid, &b, 0, 10).await.unwrap(), None);

        let plain = GroupKind {
            verified: false,
            member_proofs: false,
        };
        assert_eq!(store.group_kind(&gid).await.unwrap(), Some(plain));
        assert_eq!(store.group_kind(&unique_group_id()).await.unwrap(), None);
        let verified = unique_group_id();
        let new = NewGroup {
            group_info: Some(b"info 0".to_vec()),
            public_state: Some(b"state 0".to_vec()),
            ..NewGroup::unverified(verified.clone(), 0, false, a.clone())
        };
        assert!(store.create_group(&new, NOW).await.unwrap());
        assert_eq!(
            store.group_kind(&verified).await.unwrap(),
            Some(GroupKind {
                verified: true,
                member_proofs: false,
            }),
            "{engine}"
        );
        let proved = unique_group_id();
        let new = NewGroup {
            member_proof: Some(MemberProofKey {
                cipher_suite: 1,
                epoch: 0,
                public_key: b"proof key".to_vec(),
            }),
            ..NewGroup::unverified(proved.clone(), 0, false, a.clone())
        };
        assert!(store.create_group(&new, NOW).await.unwrap());
        assert_eq!(
            store.group_kind(&proved).await.unwrap(),
            Some(GroupKind {
                verified: false,
                member_proofs: true,
            }),
            "{engine}"
        );
    }
}

/// The external-receiver key of a suite (draft-mahy-mls-semiprivatemessage-07): the first
/// key stored wins, concurrent nodes included, and later candidates are discarded.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_first_receiver_key_of_a_suite_is_kept_for_every_node() {
    use conclave_ds::store::ReceiverKey;
    // Suite values no real suite has: the PostgreSQL database is shared with the other test
    // binaries, whose DS must not find these fake keys for its real suites.
    const SUITE: u16 = 0xFE01;
    const OTHER_SUITE: u16 = 0xFE03;
    for (store, fresh) in engines().await {
        let candidate = |tag: u8| ReceiverKey {
            cipher_suite: SUITE,
            receiver: vec![tag; 40],
            private_key: conclave_crypto::Secret::new(vec![tag; 32]),
            created_at: NOW,
        };
        let results = futures_util::future::join_all((1..=8u8).map(|tag| {
            let store = store.clone();
            async move { store.receiver_key(&candidate(tag)).await.unwrap() }
        }))
        .await;
        let first = results[0].clone();
        assert!(results.iter().all(|r| *r == first), "{results:?}");
        if fresh.is_some() {
            // A fresh database: the stored key is one of the candidates.
            assert!((1..=8).any(|tag| first.receiver == vec![tag; 40]));
            assert_eq!(first.private_key.as_bytes(), &first.receiver[..32]);
        }
        let later = store.receiver_key(&candidate(99)).await.unwrap();
        assert_eq!(later, first);
        // Another suite has its own key.
        let other = store
            .receiver_key(&ReceiverKey {
                cipher_suite: OTHER_SUITE,
                ..candidate(50)
            })
            .await
            .unwrap();
        assert_eq!(other.cipher_suite, OTHER_SUITE);
        assert_ne!(other.receiver, first.receiver);
    }
}

/// Member proofs (draft-mahy-mls-member-proof-00): a group created with a key takes a
/// message only with a proof verified under its current key and a fresh nonce, a commit only
/// with the next key, which replaces the current one; nonces are single-use per epoch.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn member_proof_groups_take_fresh_proofs_under_the_current_key() {
    use conclave_ds::store::{MemberProofKey, MemberProofRefusal, ProofUse};
    for (store, _guard) in engines().await {
        let engine = store.engine();
        let gid = unique_group_id();
        let key0 = MemberProofKey {
            cipher_suite: 1,
            epoch: 0,
            public_key: b"key 0".to_vec(),
        };
        assert!(
            store
                .create_group(
                    &NewGroup {
                        member_proof: Some(key0.clone()),
                        ..NewGroup::unverified(gid.clone(), 0, false, "alice".into())
                    },
                    NOW
                )
                .await
                .unwrap()
        );
        assert_eq!(store.member_proof_key(&gid).await.unwrap(), Some(key0));
        let used = |key: &str, nonce: &str| ProofUse {
            public_key: key.as_bytes().to_vec(),
            nonce: nonce.as_bytes().to_vec(),
        };
        let proven = |epoch: u64, tag: &str, proof: Option<ProofUse>| NewMessage {
            member_proof: proof,
            ..message(epoch, "alice", tag)
        };
        let refused = |r: MemberProofRefusal| Appended::MemberProofRefused(r);
        assert_eq!(
            store
                .append(&gid, &proven(0, "bare", None), NOW)
                .await
                .unwrap(),
            refused(MemberProofRefusal::Required),
            "{engine}"
        );
        assert_eq!(
            store
                .append(
                    &gid,
                    &proven(0, "other key", Some(used("key 9", "n0"))),
                    NOW
                )
                .await
                .unwrap(),
            refused(MemberProofRefusal::Required),
            "{engine}"
        );
        assert!(matches!(
            store
                .append(&gid, &proven(0, "m1", Some(used("key 0", "n1"))), NOW)
                .await
                .unwrap(),
            Appended::Accepted { .. }
        ));
        assert_eq!(
            store
                .append(&gid, &proven(0, "m1 again", Some(used("key 0", "n1"))), NOW)
                .await
                .unwrap(),
            refused(MemberProofRefusal::Replayed),
            "{engine}"
        );
        // A commit without the next key is refused; with it, the key moves on.
        let mut c = commit(0, "alice", &["alice"], "c1");
        c.member_proof = Some(used("key 0", "n2"));
        assert_eq!(
            store.commit(&gid, &c, NOW).await.unwrap(),
            Committed::MemberProofRefused(MemberProofRefusal::NextKeyMissing),
            "{engine}"
        );
        c.next_member_proof_key = Some(b"key 1".to_vec());
        assert!(matches!(
            store.commit(&gid, &c, NOW).await.unwrap(),
            Committed::Accepted { epoch: 1, .. }
        ));
        let key = store.member_proof_key(&gid).await.unwrap().unwrap();
        assert_eq!((key.epoch, key.public_key), (1, b"key 1".to_vec()));
        assert_eq!(
            store
                .append(&gid, &proven(1, "old key", Some(used("key 0", "n3"))), NOW)
                .await
                .unwrap(),
            refused(MemberProofRefusal::Required),
            "{engine}"
        );
        assert!(matches!(
            store
                .append(&gid, &proven(1, "m2", Some(used("key 1", "n1"))), NOW)
                .await
                .unwrap(),
            Appended::Accepted { .. }
        ));
        // A group without a key has no member-proof rule.
        let plain = group_with(&store, &["alice"]).await;
        assert_eq!(store.member_proof_key(&plain).await.unwrap(), None);
        assert!(matches!(
            store
                .append(&plain, &proven(0, "plain", None), NOW)
                .await
                .unwrap(),
            Appended::Accepted { .. }
        ));
    }
}

/// The calls that check a bearer token with their work (one statement on PostgreSQL) refuse
/// an unknown token, an expired one and one revoked by a credential change, without reading
/// or writing anything, and act as the token's client for a valid one.
#[tokio::test]
async fn reads_and_appends_with_a_token_check_it_in_the_same_call() {
    for (store, _guard) in engines().await {
        let engine = store.engine();
        let (a, b, outsider) = (unique("a"), unique("b"), unique("outsider"));
        for id in [&a, &b, &outsider] {
            store.register_client(&client(id)).await.unwrap();
        }
        let gid = group_with(&store, &[&a, &b]).await;
        let seq = match store
            .append(&gid, &message(1, &a, "first"), NOW)
            .await
            .unwrap()
        {
            Appended::Accepted { seq } => seq,
            other => panic!("{engine}: {other:?}"),
        };
        let (a_token, b_token, outsider_token) = (
            unique("token a").into_bytes(),
            unique("token b").into_bytes(),
            unique("token outsider").into_bytes(),
        );
        store.put_token(&a_token, &a, 0, NOW + 900).await.unwrap();
        store.put_token(&b_token, &b, 0, NOW + 900).await.unwrap();
        store
            .put_token(&outsider_token, &outsider, 0, NOW + 900)
            .await
            .unwrap();

        // A valid token reads as its client.
        match store
            .member_log_with_token(&b_token, NOW, &gid, 0, 10)
            .await
            .unwrap()
        {
            WithToken::Client { client_id, outcome } => {
                assert_eq!(client_id, b, "{engine}");
                let log = outcome.expect("b is a member");
                assert_eq!(log, store.read_log(&gid, 0, 10).await.unwrap(), "{engine}");
                let last = log.last().unwrap();
                assert_eq!((last.seq, last.data.as_slice()), (seq, &b"first"[..]));
            }
            WithToken::Refused => panic!("{engine}: a valid token refused"),
        }
        // An empty page (after the end) still names the client.
        assert_eq!(
            store
                .member_log_with_token(&b_token, NOW, &gid, seq, 10)
                .await
                .unwrap(),
            WithToken::Client {
                client_id: b.clone(),
                outcome: Some(Vec::new())
            },
            "{engine}"
        );
        // A valid token of a non-member: its client, no page.
        assert_eq!(
            store
                .member_log_with_token(&outsider_token, NOW, &gid, 0, 10)
                .await
                .unwrap(),
            WithToken::Client {
                client_id: outsider.clone(),
                outcome: None
            },
            "{engine}"
        );
        // An unknown group: no page either.
        assert_eq!(
            store
                .member_log_with_token(&b_token, NOW, b"no such group", 0, 10)
                .await
                .unwrap(),
            WithToken::Client {
                client_id: b.clone(),
                outcome: None
            },
            "{engine}"
        );
        // Unknown and expired tokens are refused.
        let unknown = unique("unknown token").into_bytes();
        assert_eq!(
            store
                .member_log_with_token(&unknown, NOW, &gid, 0, 10)
                .await
                .unwrap(),
            WithToken::Refused,
            "{engine}"
        );
        assert_eq!(
            store
                .member_log_with_token(&b_token, NOW + 900, &gid, 0, 10)
                .await
                .unwrap(),
            WithToken::Client {
                client_id: b.clone(),
                outcome: Some(store.read_log(&gid, 0, 10).await.unwrap())
            },
            "{engine}: valid up to its expiry, inclusive"
        );
        assert_eq!(
            store
                .member_log_with_token(&b_token, NOW + 901, &gid, 0, 10)
                .await
                .unwrap(),
            WithToken::Refused,
            "{engine}: expired"
        );

        // Appends: the token's client is the sender, whatever the message says.
        let mut forged = message(1, &a, "by b");
        forged.sender = a.clone();
        let next = match store
            .append_with_token(&b_token, &gid, &forged, NOW)
            .await
            .unwrap()
        {
            WithToken::Client {
                client_id,
                outcome: Appended::Accepted { seq: next },
            } => {
                assert_eq!(client_id, b, "{engine}");
                next
            }
            other => panic!("{engine}: {other:?}"),
        };
        assert_eq!(next, seq + 1, "{engine}");
        let log = store.read_log(&gid, seq, 10).await.unwrap();
        assert_eq!(log.len(), 1, "{engine}");
        assert_eq!(log[0].sender, b, "{engine}: the token's client sent it");
        // A non-member's valid token: refused by the group, as the plain append.
        assert_eq!(
            store
                .append_with_token(&outsider_token, &gid, &message(1, "", "x"), NOW)
                .await
                .unwrap(),
            WithToken::Client {
                client_id: outsider.clone(),
                outcome: Appended::NotMember
            },
            "{engine}"
        );
        // A wrong epoch and an unknown group: the plain append's refusals.
        assert_eq!(
            store
                .append_with_token(&b_token, &gid, &message(5, "", "x"), NOW)
                .await
                .unwrap(),
            WithToken::Client {
                client_id: b.clone(),
                outcome: Appended::WrongEpoch { current: 1 }
            },
            "{engine}"
        );
        assert_eq!(
            store
                .append_with_token(&b_token, b"no such group", &message(1, "", "x"), NOW)
                .await
                .unwrap(),
            WithToken::Client {
                client_id: b.clone(),
                outcome: Appended::NoGroup
            },
            "{engine}"
        );
        // Unknown and expired tokens append nothing.
        for (token, now) in [(&unknown, NOW), (&b_token, NOW + 901)] {
            assert_eq!(
                store
                    .append_with_token(token, &gid, &message(1, "", "refused"), now)
                    .await
                    .unwrap(),
                WithToken::Refused,
                "{engine}"
            );
        }
        assert_eq!(store.read_log(&gid, next, 10).await.unwrap(), Vec::new());

        // A credential change revokes b's token at once, for reads and appends; a token
        // of the new generation works.
        let b_record = client(&b);
        assert_eq!(
            store
                .update_client_credential(&CredentialChange {
                    client_id: b.clone(),
                    previous_signature_key: b_record.signature_key.clone(),
                    previous_credential: b_record.credential.clone(),
                    cipher_suite: 1,
                    signature_key: b"new key".to_vec(),
                    credential: b"new credential".to_vec(),
                })
                .await
                .unwrap(),
            CredentialUpdated::Replaced,
            "{engine}"
        );
        assert_eq!(
            store
                .member_log_with_token(&b_token, NOW, &gid, 0, 10)
                .await
                .unwrap(),
            WithToken::Refused,
            "{engine}: revoked"
        );
        assert_eq!(
            store
                .append_with_token(&b_token, &gid, &message(1, "", "revoked"), NOW)
                .await
                .unwrap(),
            WithToken::Refused,
            "{engine}: revoked"
        );
        assert_eq!(store.read_log(&gid, next, 10).await.unwrap(), Vec::new());
        let fresh = unique("token b fresh").into_bytes();
        store.put_token(&fresh, &b, 1, NOW + 900).await.unwrap();
        assert!(matches!(
            store
                .member_log_with_token(&fresh, NOW, &gid, 0, 10)
                .await
                .unwrap(),
            WithToken::Client { client_id, outcome: Some(log) } if client_id == b && log.len() == 3
        ));
        // a's token is untouched by b's change.
        assert!(matches!(
            store
                .append_with_token(&a_token, &gid, &message(1, "", "by a"), NOW)
                .await
                .unwrap(),
            WithToken::Client { client_id, outcome: Appended::Accepted { .. } } if client_id == a
        ));
    }
}
