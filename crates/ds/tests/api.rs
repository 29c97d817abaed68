//! The API conformance suite with real MLS objects made by conclave_core: a group's life
//! through the DS (KeyPackages, claim, add by Welcome, messages, competing commits, external
//! join), access control, and bad input. Runs on SQLite and, when configured, PostgreSQL.

// Test code: a panic is a test failure (clippy.toml allows this in #[test] functions; the
// helpers of this file are test code too).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use axum::http::{Method, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use conclave_api::delivery::{self as wire, CommitBundle};
use conclave_codec::{Decode, Encode};
use conclave_core::codepoints::CodepointProfile;
use conclave_core::group::{
    CommitOptions, Group, JoinOptions, KeyPackageBundle, MemberParams, NewGroup, ProcessedMessage,
    SigningIdentity,
};
use conclave_core::messages::{Add, MlsMessage, MlsMessageBody, Proposal};
use conclave_ds::{DsConfig, Store};
use std::sync::Arc;

use common::{Api, SUITE, engines, env, identity, key_package, kp_message, rng, unique};

struct Client {
    id: String,
    signer: SigningIdentity,
    token: String,
    key_packages: Vec<KeyPackageBundle>,
}

async fn client(api: &Api, name: &str, rng: &mut conclave_crypto::SeededRng) -> Client {
    let id = unique(name);
    let signer = identity(&id, rng);
    let token = api.register_and_login(&id, &signer).await;
    Client {
        id,
        signer,
        token,
        key_packages: Vec::new(),
    }
}

async fn publish(api: &Api, c: &mut Client, n: usize, rng: &mut conclave_crypto::SeededRng) {
    for _ in 0..n {
        let kp = key_package(&c.signer, api.clock.now(), rng);
        let r = api.upload_key_package(&c.token, &kp_message(&kp)).await;
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        c.key_packages.push(kp);
    }
}

fn bundle_of(
    output: &conclave_core::group::CommitOutput,
    members: &[&Client],
    allow_external_join: Option<bool>,
) -> CommitBundle {
    CommitBundle {
        commit: output.commit.clone(),
        welcome: output.welcome.clone(),
        group_info: output.group_info.clone(),
        ratchet_tree: None,
        members: members.iter().map(|m| m.id.as_bytes().to_vec()).collect(),
        allow_external_join,
    }
}

fn welcome_of(message: &MlsMessage) -> conclave_core::messages::Welcome {
    match &message.body {
        MlsMessageBody::Welcome(w) => w.clone(),
        _ => panic!("not a Welcome"),
    }
}

/// Claims `owner`'s KeyPackage through the DS.
async fn claim(
    api: &Api,
    claimer: &Client,
    owner: &Client,
) -> (conclave_core::messages::KeyPackage, bool) {
    let r = api.claim(&claimer.token, &owner.id).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.headers["content-type"], wire::MLS_MEDIA_TYPE);
    let last_resort = r.headers[wire::LAST_RESORT_HEADER] == "true";
    let message = MlsMessage::from_bytes(&r.body).unwrap();
    match message.body {
        MlsMessageBody::KeyPackage(kp) => (kp, last_resort),
        _ => panic!("not a KeyPackage"),
    }
}

/// Takes the Welcome from `c`'s inbox and joins.
async fn join_from_inbox(api: &Api, c: &Client) -> Group {
    let r = api.get("/v1/welcomes", Some(&c.token)).await;
    assert_eq!(r.status, StatusCode::OK);
    let j = r.json();
    let entries = j["welcomes"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{j}");
    let bytes = STANDARD
        .decode(entries[0]["message"].as_str().unwrap())
        .unwrap();
    let welcome = welcome_of(&MlsMessage::from_bytes(&bytes).unwrap());
    let kp_ref = hex::decode(entries[0]["key_package_ref"].as_str().unwrap()).unwrap();
    let secrets = welcome
        .secrets
        .iter()
        .find(|s| s.new_member.0 == kp_ref)
        .unwrap();
    assert_eq!(secrets.new_member.0, kp_ref);
    let id = entries[0]["id"].as_u64().unwrap();
    // Try each of our KeyPackages: the one the DS routed by matches.
    let group = c
        .key_packages
        .iter()
        .find_map(|kp| {
            Group::join(
                MemberParams::new(env(), c.signer.clone()),
                &welcome,
                kp,
                &JoinOptions::default(),
                api.clock.now(),
            )
            .ok()
        })
        .expect("no KeyPackage matches the Welcome");
    let r = api
        .call(
            Method::DELETE,
            &format!("/v1/welcomes?up_to={id}"),
            Some(&c.token),
            None,
            vec![],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    group
}

/// Reads the log after `cursor` and processes every entry into `group`.
async fn catch_up(
    api: &Api,
    c: &Client,
    group: &mut Group,
    gid: &str,
    cursor: &mut u64,
) -> Vec<ProcessedMessage> {
    let mut out = Vec::new();
    for (seq, message) in api.read_log(&c.token, gid, *cursor).await {
        assert_eq!(seq, *cursor + 1, "gap in the log");
        *cursor = seq;
        out.push(group.process_message(&message, api.clock.now()).unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_life_through_the_ds() {
    for (store, _guard) in engines().await {
        life_on(store).await;
    }
}

async fn life_on(store: Arc<dyn Store>) {
    let api = Api::new(store);
    let mut rng = rng();
    let now = api.clock.now();
    let r = api.get("/v1/health", None).await;
    assert_eq!(r.status, StatusCode::OK);

    let alice = client(&api, "alice", &mut rng).await;
    let mut bob = client(&api, "bob", &mut rng).await;
    let carol = client(&api, "carol", &mut rng).await;
    publish(&api, &mut bob, 2, &mut rng).await;

    // Alice creates the group at the DS and in MLS.
    let gid_bytes = unique("g").into_bytes();
    let gid = hex::encode(&gid_bytes);
    let mut a = Group::create(
        MemberParams::new(env(), alice.signer.clone()),
        NewGroup::new(SUITE, gid_bytes.clone()),
        now,
        &mut rng,
    )
    .unwrap();
    let r = api
        .post_json(
            "/v1/groups",
            Some(&alice.token),
            serde_json::json!({"group_id": gid}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&r.body)
    );

    // Alice adds Bob with a KeyPackage claimed from the DS.
    let (bob_kp, last_resort) = claim(&api, &alice, &bob).await;
    assert!(!last_resort);
    let output = a
        .commit(
            &CommitOptions {
                proposals: vec![Proposal::Add(Add {
                    key_package: bob_kp,
                })],
                ..CommitOptions::default()
            },
            now,
            &mut rng,
        )
        .unwrap();
    let r = api
        .post_bundle(
            &alice.token,
            &gid,
            &bundle_of(&output, &[&alice, &bob], None),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.json()["seq"], 1);
    assert_eq!(r.json()["epoch"], 1);
    a.merge_pending_commit().unwrap();
    let mut b = join_from_inbox(&api, &bob).await;
    assert_eq!(b.epoch_authenticator(), a.epoch_authenticator());
    let (mut a_cursor, mut b_cursor) = (1u64, 1u64);

    // Application messages through the log.
    let m = a
        .encrypt_application_message(b"hello bob", b"", &mut rng)
        .unwrap();
    let r = api.post_message(&alice.token, &gid, &m).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    let got = catch_up(&api, &bob, &mut b, &gid, &mut b_cursor).await;
    assert!(
        matches!(&got[..], [ProcessedMessage::Application { data, .. }] if data == b"hello bob")
    );

    // Competing commits for epoch 1: exactly one wins; the loser catches up.
    let out_a = a.commit(&CommitOptions::default(), now, &mut rng).unwrap();
    let out_b = b.commit(&CommitOptions::default(), now, &mut rng).unwrap();
    let (bundle_a, bundle_b) = (
        bundle_of(&out_a, &[&alice, &bob], None),
        bundle_of(&out_b, &[&alice, &bob], None),
    );
    let (ra, rb) = tokio::join!(
        api.post_bundle(&alice.token, &gid, &bundle_a),
        api.post_bundle(&bob.token, &gid, &bundle_b),
    );
    let statuses = [ra.status, rb.status];
    assert!(
        statuses.contains(&StatusCode::OK) && statuses.contains(&StatusCode::CONFLICT),
        "{statuses:?}"
    );
    let loser = if ra.status == StatusCode::CONFLICT {
        &ra
    } else {
        &rb
    };
    loser.assert_error(StatusCode::CONFLICT, "wrong_epoch");
    assert_eq!(loser.json()["current_epoch"], 2);
    // The loser drops its pending commit; both apply the log (the winner's commit comes
    // back to it and merges).
    if ra.status == StatusCode::CONFLICT {
        a.clear_pending_commit();
    } else {
        b.clear_pending_commit();
    }
    let _ = catch_up(&api, &alice, &mut a, &gid, &mut a_cursor).await;
    let _ = catch_up(&api, &bob, &mut b, &gid, &mut b_cursor).await;
    assert_eq!((a.epoch(), b.epoch()), (2, 2));
    assert_eq!(a.epoch_authenticator(), b.epoch_authenticator());

    // Proposals are accepted for the current epoch only; a stale one gets 409.
    let stale_ad = b"stale";
    let stale = {
        let mut old = a
            .encrypt_application_message(stale_ad, b"", &mut rng)
            .unwrap();
        if let MlsMessageBody::PrivateMessage(p) = &mut old.body {
            p.epoch = 1;
        }
        old
    };
    api.post_message(&alice.token, &gid, &stale)
        .await
        .assert_error(StatusCode::CONFLICT, "wrong_epoch");

    // GroupInfo policy: not served to non-members while external joins are off (404, as
    // for a group that does not exist).
    let r = api
        .get(&format!("/v1/groups/{gid}/group-info"), Some(&carol.token))
        .await;
    r.assert_error(StatusCode::NOT_FOUND, "not_found");
    let r = api
        .get(&format!("/v1/groups/{gid}/group-info"), Some(&bob.token))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], wire::MLS_MEDIA_TYPE);

    // Non-members can neither read nor post.
    api.get(&format!("/v1/groups/{gid}/messages"), Some(&carol.token))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    let m = a.encrypt_application_message(b"x", b"", &mut rng).unwrap();
    api.post_message(&carol.token, &gid, &m)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    api.get(&format!("/v1/groups/{gid}"), Some(&carol.token))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");

    // Alice opens the group to external joins (with a commit), Carol joins externally.
    let out = a.commit(&CommitOptions::default(), now, &mut rng).unwrap();
    let r = api
        .post_bundle(
            &alice.token,
            &gid,
            &bundle_of(&out, &[&alice, &bob], Some(true)),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    let _ = catch_up(&api, &alice, &mut a, &gid, &mut a_cursor).await;
    let _ = catch_up(&api, &bob, &mut b, &gid, &mut b_cursor).await;
    let r = api
        .get(&format!("/v1/groups/{gid}/group-info"), Some(&carol.token))
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    let info = match MlsMessage::from_bytes(&r.body).unwrap().body {
        MlsMessageBody::GroupInfo(gi) => gi,
        _ => panic!("not a GroupInfo"),
    };
    assert_eq!(info.group_context.epoch, 3);
    let (mut c, out) = Group::join_external(
        MemberParams::new(env(), carol.signer.clone()),
        &info,
        &JoinOptions::default(),
        now,
        &mut rng,
    )
    .unwrap();
    // The joiner must name itself among the members.
    api.post_bundle(&carol.token, &gid, &bundle_of(&out, &[&alice, &bob], None))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    let r = api
        .post_bundle(
            &carol.token,
            &gid,
            &bundle_of(&out, &[&alice, &bob, &carol], None),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    let mut c_cursor = r.json()["seq"].as_u64().unwrap();
    let _ = catch_up(&api, &alice, &mut a, &gid, &mut a_cursor).await;
    let _ = catch_up(&api, &bob, &mut b, &gid, &mut b_cursor).await;
    assert_eq!(a.epoch_authenticator(), c.epoch_authenticator());
    assert_eq!(b.epoch_authenticator(), c.epoch_authenticator());
    let m = c
        .encrypt_application_message(b"hi all", b"", &mut rng)
        .unwrap();
    assert_eq!(
        api.post_message(&carol.token, &gid, &m).await.status,
        StatusCode::OK
    );
    let got = catch_up(&api, &alice, &mut a, &gid, &mut a_cursor).await;
    assert!(matches!(&got[..], [ProcessedMessage::Application { data, .. }] if data == b"hi all"));
    let _ = catch_up(&api, &carol, &mut c, &gid, &mut c_cursor).await;

    // The group view lists the members the bundles declared.
    let r = api
        .get(&format!("/v1/groups/{gid}"), Some(&bob.token))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let mut expected = vec![alice.id.clone(), bob.id.clone(), carol.id.clone()];
    expected.sort();
    assert_eq!(r.json()["members"], serde_json::json!(expected));
    assert_eq!(r.json()["epoch"], 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_package_directory_rules() {
    for (store, _guard) in engines().await {
        let api = Api::with_config(
            store,
            DsConfig {
                claims_per_minute: 5,
                ..DsConfig::default()
            },
        );
        let mut rng = rng();
        let alice = client(&api, "alice", &mut rng).await;
        let mut bob = client(&api, "bob", &mut rng).await;
        let eve = client(&api, "eve", &mut rng).await;
        let now = api.clock.now();

        // Eve cannot upload a KeyPackage of Bob's identity (foreign credential and key).
        let bobs = key_package(&bob.signer, now, &mut rng);
        api.upload_key_package(&eve.token, &kp_message(&bobs))
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        // Nor one with her key but Bob's credential.
        let forged_signer = SigningIdentity {
            credential: bob.signer.credential.clone(),
            ..eve.signer.clone()
        };
        let forged = key_package(&forged_signer, now, &mut rng);
        api.upload_key_package(&eve.token, &kp_message(&forged))
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        // A KeyPackage whose signature does not verify is refused.
        let mut tampered = key_package(&eve.signer, now, &mut rng);
        tampered.key_package.signature[0] ^= 1;
        api.upload_key_package(&eve.token, &kp_message(&tampered))
            .await
            .assert_error(StatusCode::BAD_REQUEST, "bad_request");
        // An expired KeyPackage is refused at upload.
        let short =
            common::key_package_with_lifetime(&bob.signer, now - 10_000, Some(60), &mut rng);
        api.upload_key_package(&bob.token, &kp_message(&short))
            .await
            .assert_error(StatusCode::BAD_REQUEST, "bad_request");
        // Without a token nothing is accepted.
        api.call(
            Method::POST,
            "/v1/key-packages",
            None,
            Some(wire::MLS_MEDIA_TYPE),
            kp_message(&bobs),
        )
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");

        // Bob publishes a batch of 2 (one request) and a last-resort package.
        let batch: Vec<KeyPackageBundle> = (0..2)
            .map(|_| key_package(&bob.signer, now, &mut rng))
            .collect();
        let messages: Vec<MlsMessage> = batch
            .iter()
            .map(|kp| MlsMessage::new(MlsMessageBody::KeyPackage(kp.key_package.clone())))
            .collect();
        let r = api
            .call(
                Method::POST,
                "/v1/key-packages",
                Some(&bob.token),
                Some(wire::KEY_PACKAGES_MEDIA_TYPE),
                messages.to_bytes().unwrap(),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(r.json()["stored"], 2);
        bob.key_packages.extend(batch.clone());
        // The DS reads "last resort" from the package (draft-ietf-mls-extensions-10 §6.4),
        // not from the request: the old `?last_resort=true` of an unmarked package is
        // ignored, and that package is a one-time one.
        let unmarked = key_package(&bob.signer, now, &mut rng);
        let r = api
            .call(
                Method::POST,
                "/v1/key-packages?last_resort=true",
                Some(&bob.token),
                Some(wire::MLS_MEDIA_TYPE),
                kp_message(&unmarked),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
        let r = api.get("/v1/key-packages", Some(&bob.token)).await;
        assert_eq!(r.json()[0]["one_time_available"], 3);
        assert_eq!(r.json()[0]["has_last_resort"], false);
        // Two marked packages of one suite in one upload are refused, whichever marker.
        let draft =
            common::last_resort_key_package(&bob.signer, now, CodepointProfile::Draft, &mut rng);
        let openmls = common::last_resort_key_package(
            &bob.signer,
            now,
            CodepointProfile::OpenMls09,
            &mut rng,
        );
        let two: Vec<MlsMessage> = [&draft, &openmls]
            .iter()
            .map(|kp| MlsMessage::new(MlsMessageBody::KeyPackage(kp.key_package.clone())))
            .collect();
        api.call(
            Method::POST,
            "/v1/key-packages",
            Some(&bob.token),
            Some(wire::KEY_PACKAGES_MEDIA_TYPE),
            two.to_bytes().unwrap(),
        )
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request");
        // The OpenMLS-profile marker (extension 0x000A) is recognised, then replaced by a
        // draft-marked package uploaded with no flag at all.
        assert_eq!(
            api.upload_key_package(&bob.token, &kp_message(&openmls))
                .await
                .status,
            StatusCode::CREATED
        );
        let r = api.get("/v1/key-packages", Some(&bob.token)).await;
        assert_eq!(r.json()[0]["has_last_resort"], true);
        let last = draft;
        assert_eq!(
            api.upload_key_package(&bob.token, &kp_message(&last))
                .await
                .status,
            StatusCode::CREATED
        );

        let (k1, lr1) = claim(&api, &alice, &bob).await;
        let (k2, lr2) = claim(&api, &alice, &bob).await;
        let (k0, lr0) = claim(&api, &alice, &bob).await;
        let (k3, lr3) = claim(&api, &alice, &bob).await;
        assert!(!lr1 && !lr2 && !lr0 && lr3);
        assert_ne!(k1, k2);
        assert!(!k0.is_last_resort());
        assert_eq!(k3, last.key_package);
        assert!(k3.is_last_resort());
        let r = api.get("/v1/key-packages", Some(&bob.token)).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.json()[0]["one_time_available"], 0);
        assert_eq!(r.json()[0]["last_resort_claimed"], true);

        // The last-resort package expires: nothing is served after its lifetime.
        api.clock.advance(91 * 86_400);
        let eve_token = api.login(&eve.id, &eve.signer).await;
        api.claim(&eve_token, &bob.id)
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        // Claims are rate-limited per claimer (5 per minute here).
        let alice_token = api.login(&alice.id, &alice.signer).await;
        for _ in 0..5 {
            api.claim(&alice_token, &bob.id)
                .await
                .assert_error(StatusCode::NOT_FOUND, "not_found");
        }
        api.claim(&alice_token, &bob.id)
            .await
            .assert_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
        api.clock.advance(60);
        api.claim(&alice_token, &bob.id)
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_rules() {
    for (store, _guard) in engines().await {
        let api = Api::new(store);
        let mut rng = rng();
        let alice = client(&api, "alice", &mut rng).await;
        let mallory = identity("mallory", &mut rng);

        // The challenge must be signed with the registered key.
        let r = api.try_login(&alice.id, &mallory).await;
        r.assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
        // Registration needs proof of possession: Mallory cannot register Alice's key.
        let forged = SigningIdentity {
            secret_key: mallory.secret_key.clone(),
            ..alice.signer.clone()
        };
        api.register(&unique("mallory"), &forged)
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
        // A client id cannot be taken over with another key.
        api.register(&alice.id, &mallory)
            .await
            .assert_error(StatusCode::CONFLICT, "conflict");
        // A used challenge cannot be replayed, and expires.
        let r = api
            .post_json(
                "/v1/auth/challenge",
                None,
                serde_json::json!({"client_id": alice.id}),
            )
            .await;
        let challenge = r.json()["challenge"].as_str().unwrap().to_owned();
        api.clock.advance(61);
        let cs = conclave_crypto::CryptoProvider::cipher_suite_provider(
            &conclave_crypto_rustcrypto::RustCryptoProvider,
            SUITE,
        )
        .unwrap();
        let raw = STANDARD.decode(&challenge).unwrap();
        let signature = wire::sign_challenge(
            cs.as_ref(),
            alice.signer.secret_key.as_bytes(),
            &alice.id,
            &raw,
        )
        .unwrap();
        api.post_json(
            "/v1/auth/token",
            None,
            serde_json::json!({"client_id": alice.id, "challenge": challenge,
                               "signature": STANDARD.encode(&signature)}),
        )
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");

        // Tokens: forged, malformed and expired ones are refused.
        let gid = hex::encode(unique("g"));
        let create = serde_json::json!({"group_id": gid});
        api.post_json("/v1/groups", Some("forged-token"), create.clone())
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
        let r = api
            .call(Method::GET, "/v1/welcomes", None, None, vec![])
            .await;
        r.assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
        let token = api.login(&alice.id, &alice.signer).await;
        // Outside the WebSocket upgrade, a token in the URL is not accepted: URLs end up in
        // logs.
        api.get(&format!("/v1/welcomes?token={token}"), None)
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
        assert_eq!(
            api.get("/v1/welcomes", Some(&token)).await.status,
            StatusCode::OK
        );
        assert_eq!(
            api.post_json("/v1/groups", Some(&token), create)
                .await
                .status,
            StatusCode::CREATED
        );
        api.clock.advance(16 * 60);
        api.get(&format!("/v1/groups/{gid}"), Some(&token))
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
        api.claim(&token, &alice.id)
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");

        // A token in use stops working when it expires, although the node remembers it.
        let short = Api::with_config(
            api.state.store().clone(),
            DsConfig {
                token_lifetime: 30,
                ..DsConfig::default()
            },
        );
        let token = short.login(&alice.id, &alice.signer).await;
        assert_eq!(
            short.get("/v1/welcomes", Some(&token)).await.status,
            StatusCode::OK
        );
        short.clock.advance(30);
        assert_eq!(
            short.get("/v1/welcomes", Some(&token)).await.status,
            StatusCode::OK
        );
        short.clock.advance(1);
        short
            .get("/v1/welcomes", Some(&token))
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_and_nothing_is_lost() {
    for (store, _guard) in engines().await {
        let api = Api::with_config(
            store,
            DsConfig {
                max_body: 64 * 1024,
                ..DsConfig::default()
            },
        );
        let mut rng = rng();
        let now = api.clock.now();
        let alice = client(&api, "alice", &mut rng).await;
        let gid_bytes = unique("g").into_bytes();
        let gid = hex::encode(&gid_bytes);
        let mut a = Group::create(
            MemberParams::new(env(), alice.signer.clone()),
            NewGroup::new(SUITE, gid_bytes.clone()),
            now,
            &mut rng,
        )
        .unwrap();
        api.post_json(
            "/v1/groups",
            Some(&alice.token),
            serde_json::json!({"group_id": gid}),
        )
        .await;
        let out = a.commit(&CommitOptions::default(), now, &mut rng).unwrap();
        let good = bundle_of(&out, &[&alice], None);
        assert_eq!(
            api.post_bundle(&alice.token, &gid, &good).await.status,
            StatusCode::OK
        );
        a.merge_pending_commit().unwrap();
        let m = a
            .encrypt_application_message(b"kept", b"", &mut rng)
            .unwrap();
        assert_eq!(
            api.post_message(&alice.token, &gid, &m).await.status,
            StatusCode::OK
        );
        let before = api.read_log(&alice.token, &gid, 0).await;
        assert_eq!(before.len(), 2);

        let t = Some(alice.token.as_str());
        let msgs = format!("/v1/groups/{gid}/messages");
        let commits = format!("/v1/groups/{gid}/commits");
        let mls = Some(wire::MLS_MEDIA_TYPE);
        // Malformed MLS bodies.
        for body in [
            vec![],
            vec![0, 1],
            vec![0xff; 100],
            m.to_bytes().unwrap()[..20].to_vec(),
        ] {
            api.call(Method::POST, &msgs, t, mls, body)
                .await
                .assert_error(StatusCode::BAD_REQUEST, "bad_request");
        }
        // Trailing bytes after a valid message.
        let mut trailing = m.to_bytes().unwrap();
        trailing.push(0);
        api.call(Method::POST, &msgs, t, mls, trailing)
            .await
            .assert_error(StatusCode::BAD_REQUEST, "bad_request");
        // A wrong protocol version.
        let mut v2 = m.clone();
        v2.version = conclave_core::messages::ProtocolVersion(2);
        api.post_message(&alice.token, &gid, &v2)
            .await
            .assert_error(StatusCode::BAD_REQUEST, "bad_request");
        // A message for another group than the URL names.
        let other = hex::encode(unique("other"));
        api.post_json("/v1/groups", t, serde_json::json!({"group_id": other}))
            .await;
        api.post_message(&alice.token, &other, &m)
            .await
            .assert_error(StatusCode::BAD_REQUEST, "bad_request");
        // Not hex, no such group.
        api.post_message(&alice.token, "zz-not-hex", &m)
            .await
            .assert_error(StatusCode::BAD_REQUEST, "bad_request");
        api.post_message(&alice.token, &hex::encode(b"nope"), &m)
            .await
            .assert_error(StatusCode::BAD_REQUEST, "bad_request");
        // A KeyPackage or a commit posted as a message.
        let kp = kp_message(&key_package(&alice.signer, now, &mut rng));
        api.call(Method::POST, &msgs, t, mls, kp)
            .await
            .assert_error(StatusCode::BAD_REQUEST, "bad_request");
        api.post_message(&alice.token, &gid, &out.commit)
            .await
            .assert_error(StatusCode::BAD_REQUEST, "bad_request");
        // Unknown or missing content types.
        for ct in [Some("text/plain"), Some("application/json"), None] {
            api.call(Method::POST, &msgs, t, ct, m.to_bytes().unwrap())
                .await
                .assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
        }
        api.call(Method::POST, &commits, t, mls, good.to_bytes().unwrap())
            .await
            .assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
        // Absurd sizes.
        api.call(Method::POST, &msgs, t, mls, vec![0; 1 << 20])
            .await
            .assert_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
        // Malformed bundles: garbage, a GroupInfo of the wrong epoch, a non-commit.
        let bundle_ct = Some(wire::COMMIT_BUNDLE_MEDIA_TYPE);
        api.call(Method::POST, &commits, t, bundle_ct, vec![1, 2, 3])
            .await
            .assert_error(StatusCode::BAD_REQUEST, "bad_request");
        let mut wrong_info = good.clone();
        wrong_info.commit = a
            .commit(&CommitOptions::default(), now, &mut rng)
            .unwrap()
            .commit;
        a.clear_pending_commit();
        api.post_bundle(&alice.token, &gid, &wrong_info)
            .await
            .assert_error(StatusCode::BAD_REQUEST, "bad_request");
        let mut not_commit = good.clone();
        not_commit.commit = m.clone();
        api.post_bundle(&alice.token, &gid, &not_commit)
            .await
            .assert_error(StatusCode::BAD_REQUEST, "bad_request");
        let mut no_members = good.clone();
        no_members.members.clear();
        api.post_bundle(&alice.token, &gid, &no_members)
            .await
            .assert_error(StatusCode::BAD_REQUEST, "bad_request");
        let mut bad_tree = good.clone();
        bad_tree.ratchet_tree = Some(vec![0xff; 10]);
        api.post_bundle(&alice.token, &gid, &bad_tree)
            .await
            .assert_error(StatusCode::BAD_REQUEST, "bad_request");
        // The same (already accepted) bundle again: 409, the epoch moved on.
        api.post_bundle(&alice.token, &gid, &good)
            .await
            .assert_error(StatusCode::CONFLICT, "wrong_epoch");
        // Malformed JSON, bad queries, unknown routes and methods.
        api.call(
            Method::POST,
            "/v1/groups",
            t,
            Some("application/json"),
            b"{not json".to_vec(),
        )
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request");
        api.post_json("/v1/groups", t, serde_json::json!({"group_id": 5}))
            .await
            .assert_error(StatusCode::BAD_REQUEST, "bad_request");
        api.get(&format!("{msgs}?after=banana"), t)
            .await
            .assert_error(StatusCode::BAD_REQUEST, "bad_request");
        api.get("/v1/nothing-here", t)
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        api.call(Method::PUT, "/v1/health", None, None, vec![])
            .await
            .assert_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
        api.post_json(
            "/v1/clients",
            None,
            serde_json::json!({"client_id": "../../etc"}),
        )
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request");

        // Nothing accepted before was lost or changed, and the server keeps serving.
        assert_eq!(api.read_log(&alice.token, &gid, 0).await, before);
        let m2 = a
            .encrypt_application_message(b"still here", b"", &mut rng)
            .unwrap();
        let r = api.post_message(&alice.token, &gid, &m2).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.json()["seq"], 3);
        assert_eq!(api.get("/v1/health", None).await.status, StatusCode::OK);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_wakeups_for_members_only_and_graceful_shutdown() {
    use futures_util::StreamExt as _;
    use tokio_tungstenite::tungstenite::Message;

    for (store, _guard) in engines().await {
        let api = Api::new(store);
        let mut rng = rng();
        let now = api.clock.now();
        let alice = client(&api, "alice", &mut rng).await;
        let carol = client(&api, "carol", &mut rng).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(conclave_ds::serve(
            listener,
            api.state.clone(),
            std::time::Duration::from_secs(3600),
            async move {
                let _ = stopped.await;
            },
        ));

        // With a bad token in the header the upgrade is refused with a JSON 401 (without
        // one, the token is expected in the first frame: tests/auth_holes.rs).
        let refused = common::ws_connect(&format!("ws://{addr}/v1/ws"), "forged").await;
        match refused {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
            }
            other => panic!("expected a 401, got {other:?}"),
        }
        let mut alice_ws = common::ws_connect(&format!("ws://{addr}/v1/ws"), &alice.token)
            .await
            .unwrap();
        let mut carol_ws = common::ws_connect(&format!("ws://{addr}/v1/ws"), &carol.token)
            .await
            .unwrap();

        let gid_bytes = unique("g").into_bytes();
        let gid = hex::encode(&gid_bytes);
        let mut a = Group::create(
            MemberParams::new(env(), alice.signer.clone()),
            NewGroup::new(SUITE, gid_bytes),
            now,
            &mut rng,
        )
        .unwrap();
        api.post_json(
            "/v1/groups",
            Some(&alice.token),
            serde_json::json!({"group_id": gid}),
        )
        .await;
        for expected_seq in 1..=2u64 {
            let m = a
                .encrypt_application_message(b"ping", b"", &mut rng)
                .unwrap();
            assert_eq!(
                api.post_message(&alice.token, &gid, &m).await.status,
                StatusCode::OK
            );
            let frame = tokio::time::timeout(std::time::Duration::from_secs(5), alice_ws.next())
                .await
                .expect("no wake-up")
                .unwrap()
                .unwrap();
            let Message::Text(text) = frame else {
                panic!("unexpected frame {frame:?}")
            };
            let wake: wire::WakeUp = serde_json::from_str(&text).unwrap();
            assert_eq!(
                wake,
                wire::WakeUp {
                    group: gid.clone(),
                    seq: expected_seq
                }
            );
        }
        // Carol is not a member: she hears nothing.
        let nothing =
            tokio::time::timeout(std::time::Duration::from_millis(300), carol_ws.next()).await;
        assert!(nothing.is_err(), "a non-member got {nothing:?}");

        // Graceful shutdown: the server stops when told and the sockets close.
        drop(alice_ws);
        drop(carol_ws);
        stop.send(()).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(10), server)
            .await
            .expect("server did not stop")
            .unwrap()
            .unwrap();
    }
}

// ---- the DS as an external receiver (draft-mahy-mls-semiprivatemessage-07) ------------------

async fn fetch_receiver(api: &Api, suite: &str) -> common::Reply {
    api.get(
        &format!("/v1/ds/external-receiver?cipher_suite={suite}"),
        None,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_ds_publishes_one_external_receiver_per_suite_shared_by_its_nodes() {
    use conclave_core::messages::{Credential, ExternalReceiver};
    for (store, _guard) in engines().await {
        let api = Api::new(store.clone());
        let reply = fetch_receiver(&api, "1").await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        assert_eq!(
            reply.headers["content-type"],
            wire::EXTERNAL_RECEIVER_MEDIA_TYPE
        );
        let receiver = ExternalReceiver::from_bytes(&reply.body).unwrap();
        assert_eq!(
            receiver.credential,
            Credential::Basic {
                identity: b"conclave-ds".to_vec()
            }
        );
        assert_eq!(receiver.external_receiver_public_key.0.len(), 32);
        // The same key again, and from another node on the same database.
        assert_eq!(fetch_receiver(&api, "1").await.body, reply.body);
        let node = Api::new(store.clone());
        assert_eq!(fetch_receiver(&node, "1").await.body, reply.body);
        // Another suite, another KEM: another key.
        let p256 = fetch_receiver(&api, "2").await;
        assert_eq!(p256.status, StatusCode::OK);
        assert_ne!(p256.body, reply.body);
        // Bad queries.
        api.get("/v1/ds/external-receiver", None)
            .await
            .assert_error(StatusCode::BAD_REQUEST, "bad_request");
        fetch_receiver(&api, "70000")
            .await
            .assert_error(StatusCode::BAD_REQUEST, "bad_request");
        fetch_receiver(&api, "4660")
            .await
            .assert_error(StatusCode::BAD_REQUEST, "bad_request");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_ds_opens_the_semi_private_handshakes_of_a_group_that_lists_it() {
    use conclave_core::codepoints::SEMI_PRIVATE_MESSAGE_WIRE_FORMAT;
    use conclave_core::group::GroupConfig;
    use conclave_core::messages::ExternalReceiver;
    let (store, _guard) = common::sqlite_store();
    let api = Api::new(store);
    let receiver = ExternalReceiver::from_bytes(&fetch_receiver(&api, "1").await.body).unwrap();
    let mut rng = rng();
    let mut group = Group::create(
        MemberParams {
            config: GroupConfig {
                handshake_wire_format: SEMI_PRIVATE_MESSAGE_WIRE_FORMAT,
                ..GroupConfig::default()
            },
            ..MemberParams::new(env(), identity("alice", &mut rng))
        },
        NewGroup::new(SUITE, unique("semi").into_bytes())
            .with_external_receivers(vec![receiver])
            .unwrap(),
        api.clock.now(),
        &mut rng,
    )
    .unwrap();
    let proposal = group.propose_update(None, &mut rng).unwrap();
    let MlsMessageBody::SemiPrivateMessage(semi) = &proposal.body else {
        panic!("not semi-private");
    };
    let opened = api.state.open_semi_private(SUITE.0, semi).await.unwrap();
    let key = group
        .tree()
        .leaf(opened.sender_leaf)
        .unwrap()
        .signature_key
        .clone();
    let verified = opened
        .verify(
            env().suite(SUITE).unwrap().as_ref(),
            key.as_ref(),
            group.context(),
        )
        .unwrap();
    assert!(matches!(
        verified.content(),
        conclave_core::messages::Content::Proposal(Proposal::Update(_))
    ));

    // A message for another receiver is refused with a 400 that names the rule.
    let mut other = semi.clone();
    other.keys_for_external_receivers[0].external_receiver_ref[0] ^= 1;
    let err = api
        .state
        .open_semi_private(SUITE.0, &other)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, conclave_ds::DsError::BadRequest(m) if m.contains("semiprivatemessage")),
        "{err:?}"
    );
}
