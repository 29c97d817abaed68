//! A partial client (draft-ietf-mls-partial-02) against a running `conclave-ds` process over
//! HTTP, through the DS client of `conclave-api`: it registers `partial`
//! (`DsClient::register_partial`), joins from the AnnotatedWelcome in its inbox, follows a
//! full member's commits from the annotated log, and fetches its own MembershipProof
//! (`DsClient::membership_proof`), which proves its leaf under its GroupContext's tree hash;
//! it reads application messages with the sender proofs the DS attaches (§7), and refuses
//! one whose proof (the posting client's) does not prove the sender it decrypts to.

// Test code: a panic is a test failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../../ds/tests/common/mod.rs"]
mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use conclave_api::delivery::{
    ANNOTATED_COMMIT_CONTENT_TYPE, CreateGroupRequest, SENDER_AUTHENTICATED_CONTENT_TYPE,
};
use conclave_api::ds_client::DsClient;
use conclave_codec::{Decode, Encode};
use conclave_core::framing::PaddingPolicy;
use conclave_core::group::{
    CommitOptions, Group, KeyPackageBundle, NewGroup, ProcessedMessage, SigningIdentity,
};
use conclave_core::messages::{Add, MlsMessage, MlsMessageBody, PrivateMessage, Proposal};
use conclave_core::partial::member::{PartialMember, PartialMemberError, PartialPsks};
use conclave_core::partial::{
    AnnotatedCommit, AnnotatedWelcome, MembershipProof, SenderAuthenticatedMessage,
};
use conclave_core::secret_tree::SecretTreeConfig;
use conclave_crypto::{CryptoProvider, SeededRng};
use conclave_crypto_rustcrypto::RustCryptoProvider;
use conclave_testkit::process::Process;

use common::{SUITE, bundle_declaring, identity, public_params, rng, unique};

fn now() -> u64 {
    conclave_service::now_seconds()
}

struct Client {
    id: String,
    signer: SigningIdentity,
    ds: DsClient,
}

async fn client(base: &str, name: &str, partial: bool, rng: &mut SeededRng) -> Client {
    let id = unique(name);
    let signer = identity(&id, rng);
    let cs = RustCryptoProvider.cipher_suite_provider(SUITE).unwrap();
    let ds = DsClient::new(base, &id, cs, signer.secret_key.clone()).unwrap();
    let credential = signer.credential.to_bytes().unwrap();
    if partial {
        ds.register_partial(signer.public_key.as_ref(), &credential)
            .await
            .unwrap();
    } else {
        ds.register(signer.public_key.as_ref(), &credential)
            .await
            .unwrap();
    }
    Client { id, signer, ds }
}

async fn publish(client: &Client, rng: &mut SeededRng) -> KeyPackageBundle {
    let bundle =
        KeyPackageBundle::generate(&public_params(&client.signer), SUITE, now(), rng).unwrap();
    let message = MlsMessage::new(MlsMessageBody::KeyPackage(bundle.key_package.clone()));
    client.ds.publish_key_packages(&[message]).await.unwrap();
    bundle
}

fn add(key_package: &KeyPackageBundle) -> CommitOptions {
    CommitOptions {
        proposals: vec![Proposal::Add(Add {
            key_package: key_package.key_package.clone(),
        })],
        ..CommitOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_client_joins_and_follows_through_the_ds_client() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite:{}", dir.path().join("ds.db").display());
    let ds = Process::start(
        env!("CARGO_BIN_EXE_conclave-ds"),
        &["--listen", "127.0.0.1:0", "--database", &database],
        &[],
    );
    let base = ds.base.clone();
    let mut rng = rng();
    let alice = client(&base, "alice", false, &mut rng).await;
    let bob = client(&base, "bob", false, &mut rng).await;
    let carol = client(&base, "carol", true, &mut rng).await;

    // Alice's verified group.
    let mut a = Group::create(
        public_params(&alice.signer),
        NewGroup::new(SUITE, unique("g").into_bytes()),
        now(),
        &mut rng,
    )
    .unwrap();
    let gid = a.group_id().to_vec();
    let request = CreateGroupRequest {
        group_id: hex::encode(&gid),
        epoch: 0,
        allow_external_join: false,
        group_info: Some(STANDARD.encode(a.group_info(true).unwrap().to_bytes().unwrap())),
        ratchet_tree: None,
        member_proof: None,
        tree_on_ds: false,
    };
    let token = alice.ds.login().await.unwrap();
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/groups"))
        .bearer_auth(&token)
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);

    // Alice adds Carol: Carol's inbox holds her AnnotatedWelcome.
    let carol_kp = publish(&carol, &mut rng).await;
    let output = a.commit(&add(&carol_kp), now(), &mut rng).unwrap();
    alice
        .ds
        .post_commit(&gid, &bundle_declaring(&output, &[&alice.id, &carol.id]))
        .await
        .unwrap();
    a.merge_pending_commit().unwrap();
    let welcomes = carol.ds.welcomes(0).await.unwrap();
    assert_eq!(welcomes.len(), 1);
    assert!(welcomes[0].annotated);
    let annotated =
        AnnotatedWelcome::from_bytes(&STANDARD.decode(&welcomes[0].message).unwrap()).unwrap();
    let mut c = PartialMember::join(
        &RustCryptoProvider,
        &annotated,
        &carol_kp,
        carol.signer.secret_key.clone(),
        &PartialPsks::NONE,
        SecretTreeConfig::default(),
    )
    .unwrap();
    assert_eq!(c.epoch_authenticator(), a.epoch_authenticator());

    // Alice adds Bob: Carol reads the commit annotated and agrees.
    let bob_kp = publish(&bob, &mut rng).await;
    let output = a.commit(&add(&bob_kp), now(), &mut rng).unwrap();
    alice
        .ds
        .post_commit(
            &gid,
            &bundle_declaring(&output, &[&alice.id, &bob.id, &carol.id]),
        )
        .await
        .unwrap();
    a.merge_pending_commit().unwrap();
    let mut processed = 0;
    for entry in carol.ds.read_log(&gid, 0, 100).await.unwrap() {
        if entry.epoch < c.epoch() {
            continue;
        }
        assert_eq!(entry.content_type, ANNOTATED_COMMIT_CONTENT_TYPE);
        let annotated =
            AnnotatedCommit::from_bytes(&STANDARD.decode(&entry.message).unwrap()).unwrap();
        c.process_annotated_commit(&annotated, &PartialPsks::NONE)
            .unwrap();
        processed += 1;
    }
    assert_eq!(processed, 1);
    assert_eq!(c.epoch(), a.epoch());
    assert_eq!(c.epoch_authenticator(), a.epoch_authenticator());
    // Bob, a full member, reads the same commit raw.
    let entries = bob.ds.read_log(&gid, 0, 100).await.unwrap();
    assert_eq!(entries.last().unwrap().content_type, 3);

    // draft-ietf-mls-partial-02 §7: the DS attaches the proof of the *posting* client's
    // leaf. Bob posts a copy of Alice's message: it carries Bob's proof, which does not prove
    // the sender the message decrypts to, and Carol refuses it without consuming its key.
    let hello = a
        .encrypt_application_message(b"hello carol", b"", &mut rng)
        .unwrap();
    bob.ds.post_message(&gid, &hello).await.unwrap();
    let entry = carol
        .ds
        .read_log(&gid, 0, 100)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(entry.content_type, SENDER_AUTHENTICATED_CONTENT_TYPE);
    let replayed = SenderAuthenticatedMessage::<PrivateMessage>::from_bytes(
        &STANDARD.decode(&entry.message).unwrap(),
    )
    .unwrap();
    let before = c.to_bytes().unwrap();
    let refused = c.decrypt_application_message(&replayed).unwrap_err();
    assert!(
        matches!(refused, PartialMemberError::ProvenLeafMismatch { .. }),
        "{refused}"
    );
    assert_eq!(
        c.to_bytes().unwrap(),
        before,
        "a refused message changes nothing"
    );

    // Alice's own post reaches Carol with Alice's proof (content type 6); Bob reads raw.
    alice.ds.post_message(&gid, &hello).await.unwrap();
    let entry = carol
        .ds
        .read_log(&gid, 0, 100)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(entry.content_type, SENDER_AUTHENTICATED_CONTENT_TYPE);
    let authenticated = SenderAuthenticatedMessage::<PrivateMessage>::from_bytes(
        &STANDARD.decode(&entry.message).unwrap(),
    )
    .unwrap();
    let opened = c.decrypt_application_message(&authenticated).unwrap();
    assert_eq!(opened.data, b"hello carol");
    assert_eq!(opened.sender, a.own_leaf());
    assert_eq!(
        bob.ds
            .read_log(&gid, 0, 100)
            .await
            .unwrap()
            .pop()
            .unwrap()
            .content_type,
        1
    );

    // Carol's reply: a PrivateMessage every full member reads as usual.
    let reply = c
        .encrypt_application_message(b"hi alice", b"", PaddingPolicy::default(), &mut rng)
        .unwrap();
    let reply = MlsMessage::new(MlsMessageBody::PrivateMessage(reply));
    carol.ds.post_message(&gid, &reply).await.unwrap();
    let entry = alice
        .ds
        .read_log(&gid, 0, 100)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(entry.content_type, 1);
    let message = MlsMessage::from_bytes(&STANDARD.decode(&entry.message).unwrap()).unwrap();
    match a.process_message(&message, now()).unwrap() {
        ProcessedMessage::Application { data, sender, .. } => {
            assert_eq!(data, b"hi alice");
            assert_eq!(sender, c.own_leaf());
        }
        other => panic!("not an application message: {other:?}"),
    }

    // Carol's own proof, as the tree gives it.
    let proof = carol.ds.membership_proof(&gid).await.unwrap();
    let cs = RustCryptoProvider.cipher_suite_provider(SUITE).unwrap();
    assert_eq!(
        proof,
        MembershipProof::for_leaf(a.tree(), cs.as_ref(), c.own_leaf()).unwrap()
    );
}
