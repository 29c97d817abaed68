//! SelfRemove through the Delivery Service (draft-ietf-mls-extensions-10 §6.3): a member's
//! SelfRemove is validated when posted (all but its membership tag) and attached to the
//! GroupInfo an external joiner fetches; the joiner's external commit includes it and the
//! leaving member is removed. Runs on SQLite and, when configured, PostgreSQL.

// Test code: a panic is a test failure (clippy.toml allows this in #[test] functions; the
// helpers of this file are test code too).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use conclave_api::delivery::{self as wire, ExternalJoinBundle};
use conclave_codec::Decode;
use conclave_core::codepoints::CodepointProfile;
use conclave_core::credential::BasicIdentityProvider;
use conclave_core::framing::sign_content;
use conclave_core::group::{
    CommitOptions, Group, GroupConfig, JoinOptions, KeyPackageBundle, LeafOptions, MemberParams,
    NewGroup, ProcessedMessage, SigningIdentity, default_capabilities,
};
use conclave_core::messages::{
    Add, ExtensionProposalKind, MlsMessage, MlsMessageBody, Proposal, WireFormat,
};
use conclave_crypto::CryptoProvider;
use conclave_crypto_rustcrypto::RustCryptoProvider;
use conclave_ds::Store;

use common::{Account, Api, SUITE, account, bundle_for, engines, env, rng, unique};

/// A member whose leaves list SelfRemove (the draft's codepoint) and whose handshakes are
/// PrivateMessages, as the Conclave client's are.
fn params(signer: &SigningIdentity) -> MemberParams {
    let mut capabilities =
        default_capabilities(SUITE, &BasicIdentityProvider, CodepointProfile::Draft);
    capabilities
        .proposals
        .push(CodepointProfile::Draft.proposal_type(ExtensionProposalKind::SelfRemove));
    MemberParams {
        config: GroupConfig {
            handshake_wire_format: WireFormat::PRIVATE_MESSAGE,
            ..GroupConfig::default()
        },
        leaf: LeafOptions {
            capabilities: Some(capabilities),
            ..LeafOptions::default()
        },
        ..MemberParams::new(env(), signer.clone())
    }
}

async fn external_join(api: &Api, c: &Account, gid: &str) -> ExternalJoinBundle {
    let r = api
        .get(&format!("/v1/groups/{gid}/external-join"), Some(&c.token))
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.headers["content-type"], wire::EXTERNAL_JOIN_MEDIA_TYPE);
    ExternalJoinBundle::from_bytes(&r.body).unwrap()
}

/// `message` re-signed by `signer` with other authenticated data, keeping its (now wrong)
/// membership tag: a valid signature that only a member could check the tag of.
fn resigned(message: &MlsMessage, signer: &SigningIdentity, group: &Group) -> MlsMessage {
    let MlsMessageBody::PublicMessage(public) = &message.body else {
        panic!("not a PublicMessage")
    };
    let mut content = public.content.clone();
    content.authenticated_data = b"again".to_vec();
    let cs = RustCryptoProvider.cipher_suite_provider(SUITE).unwrap();
    let signed = sign_content(
        cs.as_ref(),
        signer.secret_key.as_bytes(),
        WireFormat::PUBLIC_MESSAGE,
        content,
        Some(group.context()),
    )
    .unwrap();
    let mut out = public.clone();
    out.content = signed.content;
    out.auth = signed.auth;
    MlsMessage::new(MlsMessageBody::PublicMessage(out))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_joiner_gets_the_pending_self_removes_and_commits_them() {
    for (store, _guard) in engines().await {
        self_remove_on(store).await;
    }
}

async fn self_remove_on(store: Arc<dyn Store>) {
    let api = Api::new(store);
    let mut rng = rng();
    let now = api.clock.now();
    let alice = account(&api, "alice", &mut rng).await;
    let bob = account(&api, "bob", &mut rng).await;
    let carol = account(&api, "carol", &mut rng).await;

    // Alice's group, open to external joins, with Bob.
    let gid_bytes = unique("g").into_bytes();
    let gid = hex::encode(&gid_bytes);
    let mut a = Group::create(
        params(&alice.signer),
        NewGroup::new(SUITE, gid_bytes),
        now,
        &mut rng,
    )
    .unwrap();
    let r = api
        .post_json(
            "/v1/groups",
            Some(&alice.token),
            serde_json::json!({"group_id": gid, "allow_external_join": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let bob_kp = KeyPackageBundle::generate(&params(&bob.signer), SUITE, now, &mut rng).unwrap();
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
    let r = api
        .post_bundle(&alice.token, &gid, &bundle_for(&output, &[&alice, &bob]))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    a.merge_pending_commit().unwrap();
    let MlsMessageBody::Welcome(welcome) = &output.welcome.as_ref().unwrap().body else {
        panic!("not a Welcome")
    };
    let mut b = Group::join(
        params(&bob.signer),
        welcome,
        &bob_kp,
        &JoinOptions::default(),
        now,
    )
    .unwrap();

    // No SelfRemove yet.
    assert!(
        external_join(&api, &carol, &gid)
            .await
            .self_removes
            .is_empty()
    );

    // Bob leaves with a SelfRemove; the DS validates it.
    let leave = b.self_remove(&[], &mut rng).unwrap();
    let mut tampered = leave.clone();
    let MlsMessageBody::PublicMessage(public) = &mut tampered.body else {
        panic!("not a PublicMessage")
    };
    public.content.authenticated_data = b"tampered".to_vec();
    let r = api.post_message(&bob.token, &gid, &tampered).await;
    r.assert_error(StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("invalid SelfRemove"),
        "{}",
        r.json()
    );
    let r = api.post_message(&bob.token, &gid, &leave).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    // A second one of Bob's verifies (its membership tag is for members to check) but is
    // not served: one per member and epoch.
    let second = resigned(&leave, &bob.signer, &b);
    let r = api.post_message(&bob.token, &gid, &second).await;
    assert_eq!(r.status, StatusCode::OK);
    // A non-member cannot post one.
    api.post_message(&carol.token, &gid, &leave)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");

    // Carol fetches the GroupInfo with Bob's SelfRemove and joins, removing Bob.
    let joining = external_join(&api, &carol, &gid).await;
    assert_eq!(joining.self_removes, vec![leave.clone()]);
    let MlsMessageBody::GroupInfo(info) = &joining.group_info.body else {
        panic!("not a GroupInfo")
    };
    let (mut c, out) = Group::join_external(
        params(&carol.signer),
        info,
        &JoinOptions {
            self_removes: joining.self_removes,
            ..JoinOptions::default()
        },
        now,
        &mut rng,
    )
    .unwrap();
    let r = api
        .post_bundle(&carol.token, &gid, &bundle_for(&out, &[&alice, &carol]))
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );

    // Alice applies the log: Bob's proposal, the second one refused by her, Carol's commit.
    let mut got = Vec::new();
    // (Entry 1 is the commit that added Bob.)
    for (_, message) in api.read_log(&alice.token, &gid, 1).await {
        got.push(a.process_message(&message, api.clock.now()));
    }
    assert!(matches!(got[0], Ok(ProcessedMessage::Proposal { .. })));
    assert!(got[1].is_err(), "{:?}", got[1]);
    let Ok(ProcessedMessage::Commit(summary)) = &got[2] else {
        panic!("{:?}", got[2])
    };
    assert_eq!(summary.removed, vec![b.own_leaf()]);
    assert_eq!(a.epoch_authenticator(), c.epoch_authenticator());

    // Bob reads up to the commit that removed him and sees his removal.
    let mut removed = false;
    for (_, message) in api.read_log(&bob.token, &gid, 1).await {
        if let Ok(ProcessedMessage::Commit(summary)) = b.process_message(&message, now) {
            removed = summary.self_removed;
        }
    }
    assert!(removed);
    assert_eq!(*b.status(), conclave_core::group::GroupStatus::Removed);
    let r = api
        .call(
            Method::GET,
            &format!("/v1/groups/{gid}"),
            Some(&bob.token),
            None,
            Vec::new(),
        )
        .await;
    r.assert_error(StatusCode::NOT_FOUND, "not_found");

    // The new epoch has no pending SelfRemove; an old one is refused.
    assert!(
        external_join(&api, &carol, &gid)
            .await
            .self_removes
            .is_empty()
    );
    api.post_message(&bob.token, &gid, &leave)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    let stale = a.self_remove(&[], &mut rng).unwrap();
    let next = c.commit(&CommitOptions::default(), now, &mut rng).unwrap();
    let r = api
        .post_bundle(&carol.token, &gid, &bundle_for(&next, &[&alice, &carol]))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    api.post_message(&alice.token, &gid, &stale)
        .await
        .assert_error(StatusCode::CONFLICT, "wrong_epoch");
}
