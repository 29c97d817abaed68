//! Groups whose ratchet tree the DS holds (draft-ietf-mls-ratchet-tree-options-00 §3
//! `distributionService`): their Welcomes and GroupInfos leave the tree out, and the DS serves
//! the tree it rebuilt from the handshakes to members — a client added by a commit the DS
//! took among them — and, when the group allows it, to external joiners; others get the
//! uniform 404. A group whose handshakes the DS cannot read is refused the option. Runs on
//! SQLite and, when configured, PostgreSQL.

// Test code: a panic is a test failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;

use axum::http::{StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use conclave_api::delivery::RATCHET_TREE_MEDIA_TYPE;
use conclave_codec::{Decode, Encode};
use conclave_core::codepoints::CONCLAVE_HANDSHAKES_COMPONENT;
use conclave_core::group::{
    CommitOptions, Group, GroupError, JoinOptions, KeyPackageBundle, MemberParams, NewGroup,
};
use conclave_core::messages::{
    Add, MlsMessage, MlsMessageBody, Proposal, RatchetTreeNodes, WireFormat,
};
use conclave_core::ratchet_tree_options::RatchetTreeLocation;
use conclave_ds::Store;

use common::{
    Account, Api, SUITE, account, bundle_declaring, engines, ok, public_params, rng, unique,
};

fn tree_on_ds(account: &Account) -> MemberParams {
    let mut params = public_params(&account.signer);
    params.config.ratchet_tree_location = RatchetTreeLocation::DeliveryService;
    params
}

fn refused_with(r: &common::Reply, status: StatusCode, code: &str, needle: &str) {
    assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.body));
    let body = r.json();
    assert_eq!(body["error"], code, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains(needle), "{message:?} lacks {needle:?}");
}

async fn create(api: &Api, who: &Account, gid: &str, body: serde_json::Value) -> common::Reply {
    let mut body = body;
    body["group_id"] = gid.into();
    api.post_json("/v1/groups", Some(&who.token), body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ds_serves_its_tree_to_welcomed_and_external_joiners_and_nobody_else() {
    for (store, _guard) in engines().await {
        serve_on(store).await;
    }
}

async fn serve_on(store: Arc<dyn Store>) {
    let api = Api::new(store);
    let mut rng = rng();
    let now = api.clock.now();
    let alice = account(&api, "alice", &mut rng).await;
    let bob = account(&api, "bob", &mut rng).await;
    let carol = account(&api, "carol", &mut rng).await;
    let gid_bytes = unique("g").into_bytes();
    let gid = hex::encode(&gid_bytes);
    let mut a = Group::create(
        tree_on_ds(&alice),
        NewGroup::new(SUITE, gid_bytes),
        now,
        &mut rng,
    )
    .unwrap();
    let info = a.group_info(true).unwrap().to_bytes().unwrap();
    let tree = a.tree().to_nodes().to_bytes().unwrap();
    // The GroupInfo has no tree: the DS needs it beside it.
    let r = create(
        &api,
        &alice,
        &gid,
        serde_json::json!({"group_info": STANDARD.encode(&info), "tree_on_ds": true}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.json());
    let r = create(
        &api,
        &alice,
        &gid,
        serde_json::json!({"group_info": STANDARD.encode(&info),
            "ratchet_tree": STANDARD.encode(&tree), "tree_on_ds": true,
            "allow_external_join": false}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
    assert_eq!(r.json()["verified"], true);

    let tree_path = format!("/v1/groups/{gid}/ratchet-tree");
    // Bob is not a member yet: the uniform 404 of every group route.
    let not_member = api.get(&tree_path, Some(&bob.token)).await;
    let group_view = api
        .get(&format!("/v1/groups/{gid}"), Some(&bob.token))
        .await;
    assert_eq!(not_member.status, StatusCode::NOT_FOUND);
    assert_eq!(not_member.body, group_view.body);

    // Alice adds Bob; neither the Welcome nor the GroupInfo carries the tree.
    let bob_kp =
        KeyPackageBundle::generate(&public_params(&bob.signer), SUITE, now, &mut rng).unwrap();
    let add_bob = a
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
            &bundle_declaring(&add_bob, &[&alice.id, &bob.id]),
        )
        .await);
    a.merge_pending_commit().unwrap();
    let MlsMessageBody::Welcome(welcome) = &add_bob.welcome.as_ref().unwrap().body else {
        panic!("not a Welcome")
    };
    let refused = Group::join(
        public_params(&bob.signer),
        welcome,
        &bob_kp,
        &JoinOptions::default(),
        now,
    );
    assert!(
        matches!(
            &refused,
            Err(GroupError::RatchetTreeOnDeliveryService { group_id, epoch: 1 })
                if hex::encode(group_id) == gid
        ),
        "{refused:?}"
    );
    // The holder of the Welcome is a member now: it gets the DS's tree, and joins with it.
    let r = api.get(&tree_path, Some(&bob.token)).await;
    ok(&r);
    assert_eq!(
        r.headers.get(header::CONTENT_TYPE).unwrap(),
        RATCHET_TREE_MEDIA_TYPE
    );
    let served = RatchetTreeNodes::from_bytes(&r.body).unwrap();
    assert_eq!(served, a.tree().to_nodes());
    let b = Group::join(
        public_params(&bob.signer),
        welcome,
        &bob_kp,
        &JoinOptions {
            ratchet_tree: Some(served),
            ..JoinOptions::default()
        },
        now,
    )
    .unwrap();
    assert_eq!(b.epoch_authenticator(), a.epoch_authenticator());
    // Carol, no member and the group closed to external joins: the uniform 404.
    let r = api.get(&tree_path, Some(&carol.token)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body, group_view.body);

    // In a group open to external joins, Carol joins externally with the published
    // GroupInfo and the DS's tree.
    let gid2_bytes = unique("g").into_bytes();
    let gid2 = hex::encode(&gid2_bytes);
    let mut a2 = Group::create(
        tree_on_ds(&alice),
        NewGroup::new(SUITE, gid2_bytes),
        now,
        &mut rng,
    )
    .unwrap();
    let r = create(
        &api,
        &alice,
        &gid2,
        serde_json::json!({
            "group_info": STANDARD.encode(a2.group_info(true).unwrap().to_bytes().unwrap()),
            "ratchet_tree": STANDARD.encode(a2.tree().to_nodes().to_bytes().unwrap()),
            "tree_on_ds": true, "allow_external_join": true}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
    // The GroupInfo is published with the first commit.
    let update = a2.commit(&CommitOptions::default(), now, &mut rng).unwrap();
    ok(&api
        .post_bundle(
            &alice.token,
            &gid2,
            &bundle_declaring(&update, &[&alice.id]),
        )
        .await);
    a2.merge_pending_commit().unwrap();
    let r = api
        .get(&format!("/v1/groups/{gid2}/group-info"), Some(&carol.token))
        .await;
    ok(&r);
    let message = MlsMessage::from_bytes(&r.body).unwrap();
    let MlsMessageBody::GroupInfo(group_info) = &message.body else {
        panic!("not a GroupInfo")
    };
    let r = api
        .get(
            &format!("/v1/groups/{gid2}/ratchet-tree"),
            Some(&carol.token),
        )
        .await;
    ok(&r);
    let (c, join) = Group::join_external(
        public_params(&carol.signer),
        group_info,
        &JoinOptions {
            ratchet_tree: Some(RatchetTreeNodes::from_bytes(&r.body).unwrap()),
            ..JoinOptions::default()
        },
        now,
        &mut rng,
    )
    .unwrap();
    ok(&api
        .post_bundle(&carol.token, &gid2, &bundle_declaring(&join, &[&carol.id]))
        .await);
    a2.process_message(&join.commit, now).unwrap();
    assert_eq!(c.epoch_authenticator(), a2.epoch_authenticator());
    assert_eq!(
        c.config().ratchet_tree_location,
        RatchetTreeLocation::DeliveryService
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_whose_handshakes_the_ds_cannot_read_cannot_have_its_tree_on_the_ds() {
    for (store, _guard) in engines().await {
        refusals_on(store).await;
    }
}

async fn refusals_on(store: Arc<dyn Store>) {
    let api = Api::new(store);
    let mut rng = rng();
    let now = api.clock.now();
    let alice = account(&api, "alice", &mut rng).await;
    let code = "tree_needs_readable_handshakes";

    // Registered without its first GroupInfo (private handshakes): refused, with the way out.
    let gid = hex::encode(unique("g"));
    let r = create(&api, &alice, &gid, serde_json::json!({"tree_on_ds": true})).await;
    refused_with(
        &r,
        StatusCode::BAD_REQUEST,
        code,
        "public or semi-private handshakes",
    );
    assert_eq!(
        api.get(&format!("/v1/groups/{gid}"), Some(&alice.token))
            .await
            .status,
        StatusCode::NOT_FOUND,
        "nothing was created"
    );

    // A GroupInfo that says distributionService in a group recording private handshakes.
    let gid_bytes = unique("g").into_bytes();
    let gid = hex::encode(&gid_bytes);
    let mut params = tree_on_ds(&alice);
    params.config.handshake_wire_format = WireFormat::PRIVATE_MESSAGE;
    let a = Group::create(
        params,
        NewGroup::new(SUITE, gid_bytes).with_app_data(
            CONCLAVE_HANDSHAKES_COMPONENT,
            WireFormat::PRIVATE_MESSAGE.to_bytes().unwrap(),
        ),
        now,
        &mut rng,
    )
    .unwrap();
    let r = create(
        &api,
        &alice,
        &gid,
        serde_json::json!({
            "group_info": STANDARD.encode(a.group_info(true).unwrap().to_bytes().unwrap()),
            "ratchet_tree": STANDARD.encode(a.tree().to_nodes().to_bytes().unwrap())}),
    )
    .await;
    refused_with(
        &r,
        StatusCode::BAD_REQUEST,
        code,
        "records PrivateMessage handshakes",
    );

    // A group the DS does not follow: a commit whose GroupInfo says distributionService.
    let gid_bytes = unique("g").into_bytes();
    let gid = hex::encode(&gid_bytes);
    let mut a = Group::create(
        tree_on_ds(&alice),
        NewGroup::new(SUITE, gid_bytes),
        now,
        &mut rng,
    )
    .unwrap();
    let r = create(&api, &alice, &gid, serde_json::json!({})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
    let update = a.commit(&CommitOptions::default(), now, &mut rng).unwrap();
    let r = api
        .post_bundle(&alice.token, &gid, &bundle_declaring(&update, &[&alice.id]))
        .await;
    refused_with(
        &r,
        StatusCode::BAD_REQUEST,
        code,
        "does not follow this group",
    );
}

async fn post_partial(
    api: &Api,
    who: &Account,
    gid: &str,
    output: &conclave_core::group::CommitOutput,
    partial: conclave_core::ratchet_tree_options::PartialGroupInfo,
) -> common::Reply {
    let bundle = conclave_api::delivery::PartialCommitBundle {
        commit: output.commit.clone(),
        welcome: output.welcome.clone(),
        partial_group_info: partial,
        members: vec![who.id.as_bytes().to_vec()],
    };
    api.call(
        axum::http::Method::POST,
        &format!("/v1/groups/{gid}/commits"),
        Some(&who.token),
        Some(conclave_api::delivery::PARTIAL_COMMIT_BUNDLE_MEDIA_TYPE),
        bundle.to_bytes().unwrap(),
    )
    .await
}

/// draft-ietf-mls-ratchet-tree-options-00 §4: a committer posts a PartialGroupInfo instead of
/// the GroupInfo; the DS rebuilds the GroupInfo (with the tree when the partial says so),
/// verifies the signature and serves exactly what the committer signed. A forged signature
/// and a group the DS does not follow are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ds_rebuilds_the_group_info_from_a_partial_group_info() {
    for (store, _guard) in engines().await {
        partial_on(store).await;
    }
}

async fn partial_on(store: Arc<dyn Store>) {
    use conclave_core::ratchet_tree_options::PartialGroupInfo;
    let api = Api::new(store);
    let mut rng = rng();
    let now = api.clock.now();
    let alice = account(&api, "alice", &mut rng).await;
    let bob = account(&api, "bob", &mut rng).await;
    let gid_bytes = unique("g").into_bytes();
    let gid = hex::encode(&gid_bytes);
    // A verified group that keeps the tree in its GroupInfos.
    let mut a = Group::create(
        public_params(&alice.signer),
        NewGroup::new(SUITE, gid_bytes),
        now,
        &mut rng,
    )
    .unwrap();
    let r = create(
        &api,
        &alice,
        &gid,
        serde_json::json!({"group_info": STANDARD.encode(a.group_info(true).unwrap().to_bytes().unwrap())}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
    let bob_kp =
        KeyPackageBundle::generate(&public_params(&bob.signer), SUITE, now, &mut rng).unwrap();
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
    let MlsMessageBody::GroupInfo(full) = &output.group_info.body else {
        panic!("not a GroupInfo")
    };
    let partial = PartialGroupInfo::of(full, true);
    let mut forged = partial.clone();
    forged.signature[5] ^= 1;
    let r = post_partial(&api, &alice, &gid, &output, forged).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.json());
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("PartialGroupInfo is not the epoch"),
        "{}",
        r.json()
    );
    ok(&post_partial(&api, &alice, &gid, &output, partial).await);
    a.merge_pending_commit().unwrap();
    let r = api
        .get(&format!("/v1/groups/{gid}/group-info"), Some(&bob.token))
        .await;
    ok(&r);
    assert_eq!(r.body, output.group_info.to_bytes().unwrap());

    // A group the DS does not follow cannot send one.
    let gid_bytes = unique("g").into_bytes();
    let gid = hex::encode(&gid_bytes);
    let mut a = Group::create(
        public_params(&alice.signer),
        NewGroup::new(SUITE, gid_bytes),
        now,
        &mut rng,
    )
    .unwrap();
    let r = create(&api, &alice, &gid, serde_json::json!({})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
    let output = a.commit(&CommitOptions::default(), now, &mut rng).unwrap();
    let MlsMessageBody::GroupInfo(full) = &output.group_info.body else {
        panic!("not a GroupInfo")
    };
    let r = post_partial(
        &api,
        &alice,
        &gid,
        &output,
        PartialGroupInfo::of(full, true),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.json());
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("handshakes the DS follows"),
        "{}",
        r.json()
    );
}
