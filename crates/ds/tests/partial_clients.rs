//! Partial clients (draft-ietf-mls-partial-02) at the Delivery Service: in a verified group
//! of full members, a client registered `partial` joins from the AnnotatedWelcome the DS
//! stored in its inbox (§8), follows an add with a path, an update, a removal of another
//! member and an external commit from the AnnotatedCommits the DS serves it in the log
//! (§10), with the full members' epoch authenticator after each, and gets its own
//! MembershipProof (§7); a full member still reads the raw commits, a removed partial
//! client reads its removal raw, and non-members get the uniform 404. Runs on SQLite and,
//! when configured, PostgreSQL.

// Test code: a panic is a test failure.
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
use conclave_api::delivery as wire;
use conclave_codec::{Decode, Encode};
use conclave_core::group::{
    CommitOptions, CommitOutput, Group, JoinOptions, KeyPackageBundle, NewGroup, SigningIdentity,
};
use conclave_core::messages::{Add, MlsMessage, MlsMessageBody, Proposal, Remove};
use conclave_core::partial::member::{PartialMember, PartialPsks};
use conclave_core::partial::{AnnotatedCommit, AnnotatedWelcome, MembershipProof};
use conclave_core::secret_tree::SecretTreeConfig;
use conclave_crypto::{CryptoProvider, SeededRng};
use conclave_crypto_rustcrypto::RustCryptoProvider;
use conclave_ds::Store;

use common::{
    Account, Api, SUITE, account, bundle_for, engines, identity, kp_message, ok, public_params,
    rng, unique,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_client_follows_a_verified_group_from_the_ds_annotations() {
    for (store, _guard) in engines().await {
        partial_client_on(store).await;
    }
}

/// Registers `name` (made unique) as a partial client and logs it in.
async fn partial_account(api: &Api, name: &str, rng: &mut SeededRng) -> Account {
    let id = unique(name);
    let signer = identity(&id, rng);
    let cs = RustCryptoProvider.cipher_suite_provider(SUITE).unwrap();
    let credential = signer.credential.to_bytes().unwrap();
    let tbs = wire::RegistrationTbs {
        client_id: id.as_bytes().to_vec(),
        cipher_suite: SUITE.0,
        signature_key: signer.public_key.as_ref().to_vec(),
        credential: credential.clone(),
    };
    let signature =
        wire::sign_registration(cs.as_ref(), signer.secret_key.as_bytes(), &tbs).unwrap();
    let r = api
        .post_json(
            "/v1/clients",
            None,
            serde_json::json!({
                "client_id": id,
                "cipher_suite": SUITE.0,
                "signature_key": STANDARD.encode(signer.public_key.as_ref()),
                "credential": STANDARD.encode(&credential),
                "signature": STANDARD.encode(&signature),
                "partial": true,
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
    let token = api.login(&id, &signer).await;
    Account { id, signer, token }
}

/// A KeyPackage of `account`, published at the DS (Welcomes are routed by its reference).
async fn published_key_package(
    api: &Api,
    account: &Account,
    now: u64,
    rng: &mut SeededRng,
) -> KeyPackageBundle {
    let bundle =
        KeyPackageBundle::generate(&public_params(&account.signer), SUITE, now, rng).unwrap();
    let r = api
        .upload_key_package(&account.token, &kp_message(&bundle))
        .await;
    assert!(r.status.is_success(), "{}", r.json());
    bundle
}

/// The log entries after `after` as (seq, epoch, content type, bytes).
async fn log(api: &Api, token: &str, gid: &str, after: u64) -> Vec<(u64, u64, u8, Vec<u8>)> {
    let r = api
        .get(
            &format!("/v1/groups/{gid}/messages?after={after}&limit=1000"),
            Some(token),
        )
        .await;
    ok(&r);
    r.json()["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["seq"].as_u64().unwrap(),
                e["epoch"].as_u64().unwrap(),
                u8::try_from(e["content_type"].as_u64().unwrap()).unwrap(),
                STANDARD.decode(e["message"].as_str().unwrap()).unwrap(),
            )
        })
        .collect()
}

/// The partial client's side: it reads the log after its cursor and processes each
/// AnnotatedCommit of its epoch. Commits of epochs before it joined are skipped; every
/// commit of its epochs must come annotated.
struct PartialSide {
    member: PartialMember,
    token: String,
    cursor: u64,
}

impl PartialSide {
    async fn sync(&mut self, api: &Api, gid: &str) {
        for (seq, epoch, content_type, bytes) in log(api, &self.token, gid, self.cursor).await {
            self.cursor = seq;
            if epoch < self.member.epoch() {
                continue;
            }
            assert_ne!(
                content_type, 3,
                "a commit of the partial client's epoch {epoch} came unannotated"
            );
            if content_type == wire::ANNOTATED_COMMIT_CONTENT_TYPE {
                let annotated = AnnotatedCommit::from_bytes(&bytes).unwrap();
                self.member
                    .process_annotated_commit(&annotated, &PartialPsks::NONE)
                    .unwrap();
            }
        }
    }
}

/// Posts `output` (a commit of `committer`) declaring `declared`, merges it at the
/// committer and has the other full members process it.
async fn commit_through_ds(
    api: &Api,
    gid: &str,
    committer: (&Account, &mut Group),
    others: &mut [&mut Group],
    output: &CommitOutput,
    declared: &[&Account],
    now: u64,
) {
    ok(&api
        .post_bundle(&committer.0.token, gid, &bundle_for(output, declared))
        .await);
    committer.1.merge_pending_commit().unwrap();
    for group in others.iter_mut() {
        group.process_message(&output.commit, now).unwrap();
    }
}

fn welcome_of(output: &CommitOutput) -> conclave_core::messages::Welcome {
    match &output.welcome.as_ref().unwrap().body {
        MlsMessageBody::Welcome(w) => w.clone(),
        _ => panic!("not a Welcome"),
    }
}

fn join_full(
    signer: &SigningIdentity,
    output: &CommitOutput,
    kp: &KeyPackageBundle,
    tree_of: &Group,
    now: u64,
) -> Group {
    Group::join(
        public_params(signer),
        &welcome_of(output),
        kp,
        &JoinOptions {
            ratchet_tree: Some(tree_of.tree().to_nodes()),
            ..JoinOptions::default()
        },
        now,
    )
    .unwrap()
}

async fn partial_client_on(store: Arc<dyn Store>) {
    let api = Api::new(store);
    let mut rng = rng();
    let now = api.clock.now();
    let alice = account(&api, "alice", &mut rng).await;
    let bob = account(&api, "bob", &mut rng).await;
    let dave = account(&api, "dave", &mut rng).await;
    let eve = account(&api, "eve", &mut rng).await;
    let frank = account(&api, "frank", &mut rng).await;
    let carol = partial_account(&api, "carol", &mut rng).await;

    // Alice creates a verified group (the DS follows its PublicMessage handshakes).
    let gid_bytes = unique("g").into_bytes();
    let gid = hex::encode(&gid_bytes);
    let mut a = Group::create(
        public_params(&alice.signer),
        NewGroup::new(SUITE, gid_bytes),
        now,
        &mut rng,
    )
    .unwrap();
    let info = a.group_info(true).unwrap().to_bytes().unwrap();
    let r = api
        .post_json(
            "/v1/groups",
            Some(&alice.token),
            serde_json::json!({"group_id": gid, "allow_external_join": true,
                "group_info": STANDARD.encode(&info)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());

    // (1) Alice adds Bob (full) and Carol (partial).
    let bob_kp = published_key_package(&api, &bob, now, &mut rng).await;
    let carol_kp = published_key_package(&api, &carol, now, &mut rng).await;
    let add = a
        .commit(
            &CommitOptions {
                proposals: vec![
                    Proposal::Add(Add {
                        key_package: bob_kp.key_package.clone(),
                    }),
                    Proposal::Add(Add {
                        key_package: carol_kp.key_package.clone(),
                    }),
                ],
                ..CommitOptions::default()
            },
            now,
            &mut rng,
        )
        .unwrap();
    commit_through_ds(
        &api,
        &gid,
        (&alice, &mut a),
        &mut [],
        &add,
        &[&alice, &bob, &carol],
        now,
    )
    .await;
    let mut b = join_full(&bob.signer, &add, &bob_kp, &a, now);

    // Bob's inbox holds the plain Welcome, Carol's her AnnotatedWelcome.
    let r = api.get("/v1/welcomes?after=0", Some(&bob.token)).await;
    ok(&r);
    let bob_inbox = r.json()["welcomes"].as_array().unwrap().clone();
    assert_eq!(bob_inbox.len(), 1);
    assert!(bob_inbox[0].get("annotated").is_none());
    let plain = STANDARD
        .decode(bob_inbox[0]["message"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        MlsMessage::from_bytes(&plain).unwrap(),
        *add.welcome.as_ref().unwrap()
    );
    let r = api.get("/v1/welcomes?after=0", Some(&carol.token)).await;
    ok(&r);
    let carol_inbox = r.json()["welcomes"].as_array().unwrap().clone();
    assert_eq!(carol_inbox.len(), 1);
    assert_eq!(carol_inbox[0]["annotated"], true);
    let annotated_welcome = AnnotatedWelcome::from_bytes(
        &STANDARD
            .decode(carol_inbox[0]["message"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let member = PartialMember::join(
        &RustCryptoProvider,
        &annotated_welcome,
        &carol_kp,
        carol.signer.secret_key.clone(),
        &PartialPsks::NONE,
        SecretTreeConfig::default(),
    )
    .unwrap();
    let mut c = PartialSide {
        member,
        token: carol.token.clone(),
        cursor: 0,
    };
    assert_eq!(c.member.epoch(), a.epoch());
    assert_eq!(c.member.epoch_authenticator(), a.epoch_authenticator());
    assert_eq!(c.member.context(), a.context());

    // (2) Bob adds Dave with a path.
    let dave_kp = published_key_package(&api, &dave, now, &mut rng).await;
    let add_dave = b
        .commit(
            &CommitOptions {
                proposals: vec![Proposal::Add(Add {
                    key_package: dave_kp.key_package.clone(),
                })],
                force_path: true,
                ..CommitOptions::default()
            },
            now,
            &mut rng,
        )
        .unwrap();
    commit_through_ds(
        &api,
        &gid,
        (&bob, &mut b),
        &mut [&mut a],
        &add_dave,
        &[&alice, &bob, &carol, &dave],
        now,
    )
    .await;
    let mut d = join_full(&dave.signer, &add_dave, &dave_kp, &a, now);
    c.sync(&api, &gid).await;
    assert_eq!(c.member.epoch(), a.epoch());
    assert_eq!(c.member.epoch_authenticator(), a.epoch_authenticator());
    assert_eq!(d.epoch_authenticator(), a.epoch_authenticator());

    // A full member reads the same commit raw.
    let bob_view = log(&api, &bob.token, &gid, 0).await;
    let (_, _, content_type, raw) = bob_view.last().unwrap();
    assert_eq!(*content_type, 3);
    assert_eq!(MlsMessage::from_bytes(raw).unwrap(), add_dave.commit);

    // (3) Alice updates her leaf (a commit with only a path).
    let update = a
        .commit(
            &CommitOptions {
                force_path: true,
                ..CommitOptions::default()
            },
            now,
            &mut rng,
        )
        .unwrap();
    commit_through_ds(
        &api,
        &gid,
        (&alice, &mut a),
        &mut [&mut b, &mut d],
        &update,
        &[&alice, &bob, &carol, &dave],
        now,
    )
    .await;
    c.sync(&api, &gid).await;
    assert_eq!(c.member.epoch_authenticator(), a.epoch_authenticator());

    // (4) Dave removes Bob.
    let remove_bob = d
        .commit(
            &CommitOptions {
                proposals: vec![Proposal::Remove(Remove {
                    removed: b.own_leaf(),
                })],
                ..CommitOptions::default()
            },
            now,
            &mut rng,
        )
        .unwrap();
    commit_through_ds(
        &api,
        &gid,
        (&dave, &mut d),
        &mut [&mut a, &mut b],
        &remove_bob,
        &[&alice, &carol, &dave],
        now,
    )
    .await;
    c.sync(&api, &gid).await;
    assert_eq!(c.member.epoch(), a.epoch());
    assert_eq!(c.member.epoch_authenticator(), a.epoch_authenticator());
    assert_eq!(d.epoch_authenticator(), a.epoch_authenticator());
    assert_eq!(
        c.member.export_secret("test", b"ctx", 32).unwrap(),
        a.export_secret("test", b"ctx", 32).unwrap()
    );

    // (5) Eve joins by an external commit: annotated without a pre-commit sender proof.
    let r = api
        .get(&format!("/v1/groups/{gid}/group-info"), Some(&eve.token))
        .await;
    ok(&r);
    let info_message = MlsMessage::from_bytes(&r.body).unwrap();
    let MlsMessageBody::GroupInfo(group_info) = &info_message.body else {
        panic!("not a GroupInfo")
    };
    let (mut e, eve_join) = Group::join_external(
        public_params(&eve.signer),
        group_info,
        &JoinOptions::default(),
        now,
        &mut rng,
    )
    .unwrap();
    ok(&api
        .post_bundle(&eve.token, &gid, &bundle_for(&eve_join, &[&eve]))
        .await);
    a.process_message(&eve_join.commit, now).unwrap();
    d.process_message(&eve_join.commit, now).unwrap();
    let seen = log(&api, &carol.token, &gid, c.cursor).await;
    let (_, _, content_type, bytes) = seen.last().unwrap();
    assert_eq!(*content_type, wire::ANNOTATED_COMMIT_CONTENT_TYPE);
    assert!(
        AnnotatedCommit::from_bytes(bytes)
            .unwrap()
            .sender_membership_proof
            .is_none()
    );
    c.sync(&api, &gid).await;
    assert_eq!(c.member.epoch(), e.epoch());
    assert_eq!(c.member.epoch_authenticator(), e.epoch_authenticator());
    assert_eq!(a.epoch_authenticator(), e.epoch_authenticator());

    // Carol's own MembershipProof of the current epoch is the one the tree gives.
    let r = api
        .get(
            &format!("/v1/groups/{gid}/membership-proof"),
            Some(&carol.token),
        )
        .await;
    ok(&r);
    let proof = MembershipProof::from_bytes(&r.body).unwrap();
    let cs = RustCryptoProvider.cipher_suite_provider(SUITE).unwrap();
    assert_eq!(
        proof,
        MembershipProof::for_leaf(a.tree(), cs.as_ref(), c.member.own_leaf()).unwrap()
    );
    // Non-members — an outsider, a removed member — get the uniform 404.
    for token in [&frank.token, &bob.token] {
        let r = api
            .get(&format!("/v1/groups/{gid}/membership-proof"), Some(token))
            .await;
        r.assert_error(StatusCode::NOT_FOUND, "not_found");
    }

    // (6) Alice removes Carol: a removed member has no leaf to prove, so Carol gets no
    // annotation and reads her removal raw; then she is a non-member.
    let remove_carol = a
        .commit(
            &CommitOptions {
                proposals: vec![Proposal::Remove(Remove {
                    removed: c.member.own_leaf(),
                })],
                ..CommitOptions::default()
            },
            now,
            &mut rng,
        )
        .unwrap();
    commit_through_ds(
        &api,
        &gid,
        (&alice, &mut a),
        &mut [&mut d, &mut e],
        &remove_carol,
        &[&alice, &dave, &eve],
        now,
    )
    .await;
    let seen = log(&api, &carol.token, &gid, c.cursor).await;
    assert_eq!(seen.len(), 1);
    let (_, _, content_type, raw) = &seen[0];
    assert_eq!(*content_type, 3);
    assert_eq!(MlsMessage::from_bytes(raw).unwrap(), remove_carol.commit);
    let r = api
        .get(
            &format!("/v1/groups/{gid}/membership-proof"),
            Some(&carol.token),
        )
        .await;
    r.assert_error(StatusCode::NOT_FOUND, "not_found");
}
