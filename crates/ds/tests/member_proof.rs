//! Member proofs at the DS (draft-mahy-mls-member-proof-00): in a group created with a
//! member-proof key, only messages and commits proving membership of the current epoch enter
//! the log — whatever the DS's member list says — each proof is accepted once, and every
//! accepted commit hands the DS the next epoch's key. Runs on SQLite and, when configured,
//! PostgreSQL.
//!
//! The attacker, Mallory, holds a valid token and is on the DS's member list (the committer
//! lied about the roster, which the DS cannot check for private handshakes), but is not a
//! member of the MLS group: without member proofs the DS appended her messages.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use conclave_core::group::{CommitOptions, Group, JoinOptions, MemberParams, NewGroup};
use conclave_core::messages::{Add, MlsMessage, MlsMessageBody, Proposal};
use conclave_ds::Store;

use common::{
    Api, Reply, SUITE, account, bundle_for, engines, env, key_package, kp_message, ok, rng, unique,
};

/// A 403 naming the member proof.
fn refused(r: &Reply, what: &str) {
    r.assert_error(StatusCode::FORBIDDEN, "forbidden");
    let message = r.json()["message"].as_str().unwrap().to_owned();
    assert!(message.contains("member proof"), "{what}: {message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_members_of_the_current_epoch_post_into_a_member_proof_group() {
    for (store, _guard) in engines().await {
        member_proofs_on(store).await;
    }
}

async fn member_proofs_on(store: Arc<dyn Store>) {
    let api = Api::new(store);
    let mut rng = rng();
    let now = api.clock.now();
    let alice = account(&api, "alice", &mut rng).await;
    let bob = account(&api, "bob", &mut rng).await;
    let mallory = account(&api, "mallory", &mut rng).await;
    let bob_kp = key_package(&bob.signer, now, &mut rng);
    assert_eq!(
        api.upload_key_package(&bob.token, &kp_message(&bob_kp))
            .await
            .status,
        StatusCode::CREATED
    );

    // Alice creates a member-proof group and registers its epoch-0 key.
    let gid_bytes = unique("g").into_bytes();
    let gid = hex::encode(&gid_bytes);
    let new = NewGroup::new(SUITE, gid_bytes.clone())
        .with_member_proofs()
        .unwrap();
    let mut a = Group::create(
        MemberParams::new(env(), alice.signer.clone()),
        new,
        now,
        &mut rng,
    )
    .unwrap();
    let key = STANDARD.encode(a.member_proof_public_key().unwrap().as_ref());
    let r = api
        .post_json(
            "/v1/groups",
            Some(&alice.token),
            serde_json::json!({
                "group_id": gid,
                "member_proof": {"cipher_suite": SUITE.0, "public_key": key},
            }),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&r.body)
    );

    // She adds Bob, and (lying, or mistaken: the DS cannot tell) lists Mallory too.
    let output = a
        .commit(
            &CommitOptions {
                proposals: vec![Proposal::Add(Add {
                    key_package: bob_kp.key_package.clone(),
                })],
                ..CommitOptions::default()
            },
            now,
            &mut rng,
        )
        .unwrap();
    ok(&api
        .post_bundle(
            &alice.token,
            &gid,
            &bundle_for(&output, &[&alice, &bob, &mallory]),
        )
        .await);
    a.merge_pending_commit().unwrap();
    let MlsMessageBody::Welcome(welcome) = &output.welcome.unwrap().body else {
        panic!("no Welcome");
    };
    let mut b = Group::join(
        MemberParams::new(env(), bob.signer.clone()),
        welcome,
        &bob_kp,
        &JoinOptions::default(),
        now,
    )
    .unwrap();

    // A member's message with its proof is appended; the same proof again is a replay.
    let hello = a
        .encrypt_application_message(b"hello", &[], &mut rng)
        .unwrap();
    ok(&api.post_message(&alice.token, &gid, &hello).await);
    refused(
        &api.post_message(&alice.token, &gid, &hello).await,
        "a replayed message",
    );

    // Mallory, on the DS's list but not in the group, has no key of the epoch: a message of
    // her own group with the same id has no proof, or one under a key of her own.
    let mut own = Group::create(
        MemberParams::new(env(), mallory.signer.clone()),
        NewGroup::new(SUITE, gid_bytes.clone()),
        now,
        &mut rng,
    )
    .unwrap();
    let mut forged_group = Group::create(
        MemberParams::new(env(), mallory.signer.clone()),
        NewGroup::new(SUITE, gid_bytes.clone())
            .with_member_proofs()
            .unwrap(),
        now,
        &mut rng,
    )
    .unwrap();
    for group in [&mut own, &mut forged_group] {
        group
            .commit(&CommitOptions::default(), now, &mut rng)
            .unwrap();
        group.merge_pending_commit().unwrap();
        assert_eq!(group.epoch(), a.epoch());
        let message = group
            .encrypt_application_message(b"spam", &[], &mut rng)
            .unwrap();
        refused(
            &api.post_message(&mallory.token, &gid, &message).await,
            "a non-member's message",
        );
    }
    // Nor can she put Alice's proof on a message of hers.
    let (alice_aad, _) = framed_aad(&a.encrypt_application_message(b"x", &[], &mut rng).unwrap());
    let stolen = forged_group
        .encrypt_application_message_with_safe_aad(
            b"spam",
            &conclave_core::safe::parse_safe_aad(&alice_aad).unwrap(),
            &mut rng,
        )
        .unwrap_err();
    assert!(
        stolen.to_string().contains("member proof"),
        "the send API refuses foreign proof items: {stolen}"
    );
    // Her commit (with or without a proof of her own) does not enter the log either.
    let commit = own
        .commit(&CommitOptions::default(), now, &mut rng)
        .unwrap();
    refused(
        &api.post_bundle(&mallory.token, &gid, &bundle_for(&commit, &[&mallory]))
            .await,
        "a non-member's commit",
    );

    // Bob's commit (a member's) moves the group and the DS's key to the next epoch.
    b.process_message(&hello, now).unwrap();
    let output = b.commit(&CommitOptions::default(), now, &mut rng).unwrap();
    ok(&api
        .post_bundle(&bob.token, &gid, &bundle_for(&output, &[&alice, &bob]))
        .await);
    b.merge_pending_commit().unwrap();
    a.process_message(&output.commit, now).unwrap();
    let key = api
        .state
        .store()
        .member_proof_key(&gid_bytes)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(key.epoch, a.epoch());
    assert_eq!(
        key.public_key,
        a.member_proof_public_key().unwrap().as_ref()
    );
    let next = a
        .encrypt_application_message(b"next epoch", &[], &mut rng)
        .unwrap();
    ok(&api.post_message(&alice.token, &gid, &next).await);
    let log = api.read_log(&bob.token, &gid, 0).await;
    assert_eq!(
        log.len(),
        4,
        "add, hello, Bob's commit, next: nothing of Mallory's"
    );
}

fn framed_aad(message: &MlsMessage) -> (Vec<u8>, u64) {
    match &message.body {
        MlsMessageBody::PrivateMessage(m) => (m.authenticated_data.clone(), m.epoch),
        _ => panic!("not a PrivateMessage"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_proof_registration_must_be_usable() {
    let (store, _dir) = common::sqlite_store();
    let api = Api::new(store);
    let mut rng = rng();
    let alice = account(&api, "alice", &mut rng).await;
    for (suite, key, what) in [
        (0xFFFFu16, STANDARD.encode([1u8; 32]), "unknown suite"),
        (SUITE.0, "not base64!".to_owned(), "bad base64"),
        (SUITE.0, String::new(), "empty key"),
        (SUITE.0, STANDARD.encode([1u8; 300]), "oversized key"),
    ] {
        let r = api
            .post_json(
                "/v1/groups",
                Some(&alice.token),
                serde_json::json!({
                    "group_id": hex::encode(unique("g")),
                    "member_proof": {"cipher_suite": suite, "public_key": key},
                }),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}");
    }
}
