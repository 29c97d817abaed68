//! Regression tests of two attacks on the directory and the Welcome inbox, on SQLite and,
//! when configured, PostgreSQL:
//!
//! - KeyPackage draining (RFC 9420 §16.8): fresh accounts, each under its own per-claimer
//!   limit, claiming one victim's one-time KeyPackages are stopped by the per-target limit
//!   (429 with `Retry-After`), and the victim keeps the rest of its stock.
//! - Welcome fan-out (RFC 9420 §12.4.3.1): a Welcome naming one KeyPackageRef 2000 times
//!   makes one inbox row; a Welcome naming more distinct refs than the member limit is
//!   refused.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use axum::http::StatusCode;
use conclave_api::delivery::CommitBundle;
use conclave_codec::Decode;
use conclave_core::group::{CommitOptions, Group, MemberParams, NewGroup};
use conclave_core::messages::{Add, KeyPackageRef, MlsMessage, MlsMessageBody, Proposal, Welcome};
use conclave_ds::DsConfig;

use common::{Account, Api, SUITE, account, engines, env, key_package, kp_message, rng, unique};

/// Publishes `n` one-time KeyPackages of `owner`.
async fn publish(api: &Api, owner: &Account, n: usize, rng: &mut conclave_crypto::SeededRng) {
    for _ in 0..n {
        let kp = key_package(&owner.signer, api.clock.now(), rng);
        let r = api.upload_key_package(&owner.token, &kp_message(&kp)).await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
}

/// The number of unclaimed one-time KeyPackages of `owner` for the test suite.
async fn available(api: &Api, owner: &Account) -> u64 {
    let r = api.get("/v1/key-packages", Some(&owner.token)).await;
    assert_eq!(r.status, StatusCode::OK);
    r.json()
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["cipher_suite"] == SUITE.0)
        .map_or(0, |s| s["one_time_available"].as_u64().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_accounts_draining_one_victim_are_stopped_at_the_per_target_limit() {
    for (store, _guard) in engines().await {
        let api = Api::with_config(
            store,
            DsConfig {
                claims_per_minute: 60,
                claims_per_target_per_minute: 5,
                ..DsConfig::default()
            },
        );
        let mut rng = rng();
        let victim = account(&api, "victim", &mut rng).await;
        let bystander = account(&api, "bystander", &mut rng).await;
        publish(&api, &victim, 20, &mut rng).await;
        publish(&api, &bystander, 1, &mut rng).await;

        // Ten fresh accounts claim one package each: each is far below its own limit, but
        // together they reach the victim's after five.
        let mut refused = 0;
        for i in 0..10 {
            let drainer = account(&api, &format!("drainer{i}"), &mut rng).await;
            let r = api.claim(&drainer.token, &victim.id).await;
            if i < 5 {
                assert_eq!(
                    r.status,
                    StatusCode::OK,
                    "claim {i}: {}",
                    String::from_utf8_lossy(&r.body)
                );
            } else {
                r.assert_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
                let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
                assert!((1..=60).contains(&retry), "Retry-After {retry}");
                refused += 1;
            }
        }
        assert_eq!(refused, 5);
        assert_eq!(available(&api, &victim).await, 15);

        // Other targets are not affected.
        let claimer = account(&api, "claimer", &mut rng).await;
        let r = api.claim(&claimer.token, &bystander.id).await;
        assert_eq!(r.status, StatusCode::OK);

        // The next minute, claims of the victim are served again.
        api.clock.advance(60);
        let r = api.claim(&claimer.token, &victim.id).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(available(&api, &victim).await, 14);
    }
}

/// Alice's group with Bob's KeyPackage claimed and an Add commit of it made (not posted).
struct AddCommit {
    alice: Account,
    bob: Account,
    gid: String,
    bundle: CommitBundle,
    welcome: Welcome,
}

async fn add_commit(api: &Api, rng: &mut conclave_crypto::SeededRng) -> AddCommit {
    let now = api.clock.now();
    let alice = account(api, "alice", rng).await;
    let bob = account(api, "bob", rng).await;
    publish(api, &bob, 1, rng).await;
    let gid_bytes = unique("g").into_bytes();
    let gid = hex::encode(&gid_bytes);
    let mut group = Group::create(
        MemberParams::new(env(), alice.signer.clone()),
        NewGroup::new(SUITE, gid_bytes),
        now,
        rng,
    )
    .unwrap();
    let r = api
        .post_json(
            "/v1/groups",
            Some(&alice.token),
            serde_json::json!({"group_id": gid}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = api.claim(&alice.token, &bob.id).await;
    assert_eq!(r.status, StatusCode::OK);
    let Ok(MlsMessage {
        body: MlsMessageBody::KeyPackage(key_package),
        ..
    }) = MlsMessage::from_bytes(&r.body)
    else {
        panic!("the claim answered no KeyPackage");
    };
    let output = group
        .commit(
            &CommitOptions {
                proposals: vec![Proposal::Add(Add { key_package })],
                ..CommitOptions::default()
            },
            now,
            rng,
        )
        .unwrap();
    let welcome = output.welcome.clone().unwrap().into_welcome().unwrap();
    let bundle = CommitBundle {
        commit: output.commit.clone(),
        welcome: output.welcome.clone(),
        group_info: output.group_info.clone(),
        ratchet_tree: None,
        members: vec![alice.id.clone().into_bytes(), bob.id.clone().into_bytes()],
        allow_external_join: None,
    };
    AddCommit {
        alice,
        bob,
        gid,
        bundle,
        welcome,
    }
}

/// `bundle` with its Welcome's secrets replaced by `secrets`.
fn with_secrets(
    bundle: &CommitBundle,
    welcome: &Welcome,
    secrets: Vec<conclave_core::messages::EncryptedGroupSecrets>,
) -> CommitBundle {
    CommitBundle {
        welcome: Some(MlsMessage::new(MlsMessageBody::Welcome(Welcome {
            secrets,
            ..welcome.clone()
        }))),
        ..bundle.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_welcome_naming_one_ref_2000_times_makes_one_inbox_row() {
    for (store, _guard) in engines().await {
        let api = Api::new(store);
        let mut rng = rng();
        let add = add_commit(&api, &mut rng).await;
        let secret = add.welcome.secrets[0].clone();
        let bundle = with_secrets(&add.bundle, &add.welcome, vec![secret; 2000]);
        let r = api.post_bundle(&add.alice.token, &add.gid, &bundle).await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        let r = api.get("/v1/welcomes", Some(&add.bob.token)).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.json()["welcomes"].as_array().unwrap().len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_welcome_naming_more_refs_than_the_member_limit_is_refused() {
    for (store, _guard) in engines().await {
        let api = Api::with_config(
            store,
            DsConfig {
                max_members: 10,
                ..DsConfig::default()
            },
        );
        let mut rng = rng();
        let add = add_commit(&api, &mut rng).await;
        let secret = add.welcome.secrets[0].clone();
        let mut secrets = vec![secret.clone()];
        secrets.extend(
            (0..10u8).map(|i| conclave_core::messages::EncryptedGroupSecrets {
                new_member: KeyPackageRef(vec![i; 32]),
                ..secret.clone()
            }),
        );
        let bundle = with_secrets(&add.bundle, &add.welcome, secrets);
        api.post_bundle(&add.alice.token, &add.gid, &bundle)
            .await
            .assert_error(StatusCode::BAD_REQUEST, "bad_request");
        // Nothing was routed, and the same commit with the real Welcome is still taken.
        let r = api.get("/v1/welcomes", Some(&add.bob.token)).await;
        assert_eq!(r.json()["welcomes"].as_array().unwrap().len(), 0);
        let r = api
            .post_bundle(&add.alice.token, &add.gid, &add.bundle)
            .await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        let r = api.get("/v1/welcomes", Some(&add.bob.token)).await;
        assert_eq!(r.json()["welcomes"].as_array().unwrap().len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_target_counter_counts_per_minute_on_both_engines() {
    for (store, _guard) in engines().await {
        let api = Api::new(store.clone());
        let mut rng = rng();
        let victim = account(&api, "counted", &mut rng).await;
        let minute = 1_000;
        for _ in 0..3 {
            assert!(
                store
                    .count_target_claim(&victim.id, minute, 3)
                    .await
                    .unwrap()
            );
        }
        assert!(
            !store
                .count_target_claim(&victim.id, minute, 3)
                .await
                .unwrap()
        );
        assert!(
            !store
                .count_target_claim(&victim.id, minute, 3)
                .await
                .unwrap()
        );
        // A new minute starts again.
        assert!(
            store
                .count_target_claim(&victim.id, minute + 1, 3)
                .await
                .unwrap()
        );
        // An unknown client is not counted, and not refused.
        for _ in 0..5 {
            assert!(
                store
                    .count_target_claim("nobody-at-all", minute, 3)
                    .await
                    .unwrap()
            );
        }
    }
}
