//! The client library against an in-process devnet (DS + AS over HTTP on loopback, SQLite):
//! an offline member catching up 50 epochs in order, a commit that loses the race for its
//! epoch and is retried, credential refusals (expired, foreign root, revoked), a
//! desynchronization reported instead of papered over, leaving, the group topic, group
//! ids that show the DS no name, and member proofs (draft-mahy-mls-member-proof-00).

// Test code: a panic is a test failure (clippy.toml allows this in #[test] functions; the
// helpers of this file are test code too).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;

use conclave_api::delivery::LogEntryView;
use conclave_as::{AuthenticationService, EnrolmentRequest, InMemoryAsStore};
use conclave_client::{Client, ClientError, ClientOptions, EnrolledIdentity};
use conclave_core::credential::CredentialError;
use conclave_core::messages::{MlsMessageBody, SignaturePublicKey};
use conclave_crypto::{CipherSuite, CryptoProvider};
use conclave_crypto_awslc::AwsLcProvider;
use conclave_server::devnet::{Devnet, DevnetOptions};
use conclave_service::OsRandom;

async fn devnet(dir: &Path) -> Devnet {
    Devnet::start(&DevnetOptions::new(&dir.join("devnet")))
        .await
        .unwrap()
}

/// A devnet whose DS registers any client with a well-formed credential: the DS is not
/// trusted (RFC 9750 §5), so the clients must refuse bad credentials by themselves.
async fn lax_devnet(dir: &Path) -> Devnet {
    Devnet::start(&DevnetOptions {
        check_credentials: false,
        ..DevnetOptions::new(&dir.join("devnet"))
    })
    .await
    .unwrap()
}

async fn user(devnet: &Devnet, dir: &Path, name: &str) -> Client {
    user_with(devnet, dir, name, ClientOptions::default()).await
}

async fn user_with(devnet: &Devnet, dir: &Path, name: &str, options: ClientOptions) -> Client {
    let token = devnet.issue_token(name).await.unwrap();
    Client::register(
        &dir.join(name),
        &devnet.info.ds_url,
        &devnet.info.as_url,
        name,
        &token,
        options,
    )
    .await
    .unwrap()
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

/// A devnet on a post-quantum suite (draft-ietf-mls-pq-ciphersuites TBD1, X-Wing with
/// Ed25519): the AS certifies Ed25519 keys under its root of that suite, the clients enrol,
/// form a group, commit and talk on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_devnet_on_a_post_quantum_suite_carries_a_group() {
    let dir = tempfile::tempdir().unwrap();
    let suite = CipherSuite::MLS_128_MLKEM768X25519_AES128GCM_SHA256_ED25519;
    let net = Devnet::start(&DevnetOptions {
        cipher_suite: suite.0,
        ..DevnetOptions::new(&dir.path().join("devnet"))
    })
    .await
    .unwrap();
    let mut alice = user(&net, dir.path(), "alice").await;
    let mut bob = user(&net, dir.path(), "bob").await;
    alice.create_group("pq").await.unwrap();
    alice.add_members("pq", &names(&["bob"])).await.unwrap();
    assert_eq!(bob.sync().await.unwrap().joined, 1);
    alice.send("pq", "harvest this").await.unwrap();
    alice.update_keys("pq").await.unwrap();
    bob.sync().await.unwrap();
    bob.send("pq", "no").await.unwrap();
    alice.sync().await.unwrap();
    assert_eq!(alice.epoch("pq").unwrap(), bob.epoch("pq").unwrap());
    let bodies: Vec<String> = alice
        .history("pq")
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "message")
        .map(|e| e.body)
        .collect();
    assert_eq!(bodies, ["harvest this", "no"]);
    net.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_member_catches_up_fifty_epochs_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let net = devnet(dir.path()).await;
    let mut alice = user(&net, dir.path(), "alice").await;
    let mut dave = user(&net, dir.path(), "dave").await;
    alice.create_group("team").await.unwrap();
    alice.add_members("team", &names(&["dave"])).await.unwrap();
    let report = dave.sync().await.unwrap();
    assert_eq!(report.joined, 1);
    let start = dave.epoch("team").unwrap();

    // dave goes offline; alice talks and moves the group 50 epochs on.
    for i in 0..50 {
        alice.send("team", &format!("message {i}")).await.unwrap();
        alice.update_keys("team").await.unwrap();
    }
    let target = alice.epoch("team").unwrap();
    assert_eq!(target, start + 50);

    let report = dave.sync().await.unwrap();
    assert_eq!(report.messages, 50);
    assert_eq!(dave.epoch("team").unwrap(), target);
    let received: Vec<String> = dave
        .history("team")
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "message")
        .map(|e| e.body)
        .collect();
    let expected: Vec<String> = (0..50).map(|i| format!("message {i}")).collect();
    assert_eq!(received, expected, "every message once, in order");
    // Both sides agree on the group: dave can talk in the new epoch.
    dave.send("team", "back online").await.unwrap();
    alice.sync().await.unwrap();
    let last = alice.history("team").unwrap().pop().unwrap();
    assert_eq!(
        (last.sender.as_str(), last.body.as_str()),
        ("dave", "back online")
    );
    net.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ds_sees_a_random_group_id_and_joiners_learn_the_name_from_the_welcome() {
    let dir = tempfile::tempdir().unwrap();
    let net = devnet(dir.path()).await;
    let mut alice = user(&net, dir.path(), "alice").await;
    let mut bob = user(&net, dir.path(), "bob").await;
    let name = "secret-plans";
    let summary = alice.create_group(name).await.unwrap();
    let gid = hex::decode(&summary.group_id).unwrap();
    assert_eq!(gid.len(), 16, "a random 16-byte group id");
    let shows_name = |bytes: &[u8]| bytes.windows(6).any(|w| w == b"secret");
    assert!(!shows_name(&gid));
    alice.add_members(name, &names(&["bob"])).await.unwrap();
    alice.send(name, "hello").await.unwrap();

    // Bob names the group as Alice does, from the Welcome's encrypted GroupInfo.
    bob.sync().await.unwrap();
    assert_eq!(bob.group(name).unwrap().group_id, summary.group_id);

    // What the DS holds of the group never shows its name: the GroupInfo it serves and the
    // log.
    let info = alice.ds().group_info(&gid).await.unwrap();
    assert!(!shows_name(
        &conclave_codec::Encode::to_bytes(&info).unwrap()
    ));
    for entry in alice.ds().read_log(&gid, 0, 100).await.unwrap() {
        let bytes = conclave_api::b64_decode(conclave_api::Service::Delivery, &entry.message);
        assert!(!shows_name(&bytes.unwrap()));
    }
    net.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_on_different_crypto_backends_share_a_group() {
    let dir = tempfile::tempdir().unwrap();
    let net = devnet(dir.path()).await;
    let mut alice = user(&net, dir.path(), "alice").await;
    let rustcrypto = ClientOptions {
        crypto: std::sync::Arc::new(conclave_crypto_rustcrypto::RustCryptoProvider),
        ..ClientOptions::default()
    };
    assert_eq!(rustcrypto.crypto.name(), "rustcrypto");
    let mut bob = user_with(&net, dir.path(), "bob", rustcrypto).await;
    alice.create_group("mixed").await.unwrap();
    alice.add_members("mixed", &names(&["bob"])).await.unwrap();
    assert_eq!(bob.sync().await.unwrap().joined, 1);
    alice.send("mixed", "from aws-lc").await.unwrap();
    bob.send("mixed", "from rustcrypto").await.unwrap();
    bob.update_keys("mixed").await.unwrap();
    alice.sync().await.unwrap();
    bob.sync().await.unwrap();
    let last = |client: &Client| {
        client
            .history("mixed")
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == "message")
            .map(|e| (e.sender, e.body))
            .collect::<Vec<_>>()
    };
    let expected = vec![
        ("alice".to_owned(), "from aws-lc".to_owned()),
        ("bob".to_owned(), "from rustcrypto".to_owned()),
    ];
    assert_eq!(last(&alice), expected);
    assert_eq!(last(&bob), expected);
    assert_eq!(alice.epoch("mixed").unwrap(), bob.epoch("mixed").unwrap());
    net.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_commit_is_retried_against_the_new_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let net = devnet(dir.path()).await;
    let mut alice = user(&net, dir.path(), "alice").await;
    let mut bob = user(&net, dir.path(), "bob").await;
    let mut carol = user(&net, dir.path(), "carol").await;
    alice.create_group("race").await.unwrap();
    alice.add_members("race", &names(&["bob"])).await.unwrap();
    bob.sync().await.unwrap();
    let epoch = bob.epoch("race").unwrap();

    // alice wins epoch `epoch`; bob, not synced, commits for the same epoch and loses.
    alice.update_keys("race").await.unwrap();
    let added = bob.add_members("race", &names(&["carol"])).await.unwrap();
    assert_eq!(added, names(&["carol"]));
    assert_eq!(bob.epoch("race").unwrap(), epoch + 2);

    // The log holds alice's commit for `epoch`, then bob's retried one for `epoch + 1`.
    let group_id = hex::decode(bob.group("race").unwrap().group_id).unwrap();
    let commits: Vec<(u64, String)> = bob
        .ds()
        .read_log(&group_id, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.content_type == 3)
        .map(|e| (e.epoch, e.sender))
        .collect();
    assert!(
        commits.contains(&(epoch, "alice".to_owned())),
        "{commits:?}"
    );
    assert!(
        commits.contains(&(epoch + 1, "bob".to_owned())),
        "{commits:?}"
    );

    carol.sync().await.unwrap();
    alice.sync().await.unwrap();
    for client in [&alice, &bob, &carol] {
        assert_eq!(client.epoch("race").unwrap(), epoch + 2);
        let mut members = client.group("race").unwrap().members;
        members.sort();
        assert_eq!(members, names(&["alice", "bob", "carol"]));
    }
    carol.send("race", "made it").await.unwrap();
    alice.sync().await.unwrap();
    assert_eq!(
        alice.history("race").unwrap().pop().unwrap().body,
        "made it"
    );
    net.shutdown().await.unwrap();
}

/// Registers `name` with a certificate that `service` issued at `issued_at` (outside the
/// devnet's HTTP AS); the client trusts `service`'s root.
async fn register_with<S: conclave_as::AsStore>(
    net: &Devnet,
    dir: &Path,
    name: &str,
    service: &AuthenticationService<S>,
    issued_at: u64,
) -> Client {
    let suite = CipherSuite(1);
    let cs = AwsLcProvider.cipher_suite_provider(suite).unwrap();
    let (secret, public) = cs.signature_generate(&mut OsRandom).unwrap();
    let token = service.issue_token(name, issued_at, &mut OsRandom).unwrap();
    let request = EnrolmentRequest::sign(
        cs.as_ref(),
        name,
        SignaturePublicKey(public.clone()),
        &secret,
        token,
    )
    .unwrap();
    let credential = service.enrol(&request, issued_at).unwrap();
    Client::register_enrolled(
        &dir.join(name),
        &net.info.ds_url,
        &net.info.as_url,
        EnrolledIdentity {
            name: name.to_owned(),
            suite,
            signature_secret: secret,
            signature_public: public,
            credential,
            root_certificate: service.root_certificate().to_vec(),
        },
        ClientOptions::default(),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_foreign_and_revoked_credentials_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let net = lax_devnet(dir.path()).await;
    let mut alice = user(&net, dir.path(), "alice").await;
    alice.create_group("safe").await.unwrap();
    let now = conclave_client::now_seconds();

    // Expired: a certificate of the devnet's own AS (same root, opened from its database),
    // issued three days ago with the default one-day lifetime.
    let same_root = conclave_as::setup::open(&conclave_as::setup::AsOptions {
        database: format!("sqlite:{}", net.info.data_dir.join("as.db").display()),
        admin_token_file: net.info.admin_token_file.clone(),
        ..conclave_as::setup::AsOptions::default()
    })
    .unwrap();
    register_with(
        &net,
        dir.path(),
        "frank",
        same_root.service(),
        now - 3 * 86_400,
    )
    .await;
    let err = alice
        .add_members("safe", &names(&["frank"]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            ClientError::CredentialRefused { user, source: CredentialError::NotValidAtTime { .. } }
                if user == "frank"
        ),
        "{err}"
    );

    // Foreign root: a valid certificate from another AS altogether.
    let foreign = AuthenticationService::new(
        AwsLcProvider.cipher_suite_provider(CipherSuite(1)).unwrap(),
        InMemoryAsStore::new(),
        now,
        &mut OsRandom,
    )
    .unwrap();
    register_with(&net, dir.path(), "grace", &foreign, now).await;
    let err = alice
        .add_members("safe", &names(&["grace"]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            ClientError::CredentialRefused { user, source: CredentialError::UntrustedRoot }
                if user == "grace"
        ),
        "{err}"
    );

    // Revoked: a properly enrolled user, then revoked by the AS administrator.
    let _erin = user(&net, dir.path(), "erin").await;
    conclave_api::AsClient::new(&net.info.as_url)
        .unwrap()
        .revoke(&net.info.admin_token().unwrap(), "erin")
        .await
        .unwrap();
    let err = alice
        .add_members("safe", &names(&["erin"]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            ClientError::CredentialRefused { user, source: CredentialError::Rejected(reason) }
                if user == "erin" && reason.contains("revoked")
        ),
        "{err}"
    );
    assert!(err.to_string().contains("erin"), "{err}");

    // Nobody was added; a valid user still can be.
    let _bob = user(&net, dir.path(), "bob").await;
    assert_eq!(
        alice.add_members("safe", &names(&["bob"])).await.unwrap(),
        names(&["bob"])
    );
    let mut members = alice.group("safe").unwrap().members;
    members.sort();
    assert_eq!(members, names(&["alice", "bob"]));
    net.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_commit_accepted_by_the_ds_is_reported_as_a_desync() {
    use conclave_api::delivery::CommitBundle;
    use conclave_core::messages::{
        ContentType, MlsMessage, MlsMessageBody, PrivateMessage, ProtocolVersion,
    };

    let dir = tempfile::tempdir().unwrap();
    let net = devnet(dir.path()).await;
    // A group without member proofs: in a member-proof group (the default) the DS refuses
    // this proof-less "commit" outright (see the member-proof test below).
    let mut alice = user_with(
        &net,
        dir.path(),
        "alice",
        ClientOptions {
            member_proofs: false,
            ..ClientOptions::default()
        },
    )
    .await;
    let mut bob = user(&net, dir.path(), "bob").await;
    // A group whose handshakes the DS cannot read (RFC 9750 "Invalid Commits"): in the
    // default, semi-private mode the DS refuses such a commit (below).
    alice
        .create_group_with("stuck", conclave_client::HandshakeMode::Private)
        .await
        .unwrap();
    alice.add_members("stuck", &names(&["bob"])).await.unwrap();
    bob.sync().await.unwrap();
    alice.send("stuck", "before").await.unwrap();
    let epoch = alice.epoch("stuck").unwrap();
    let group_id = hex::decode(alice.group("stuck").unwrap().group_id).unwrap();

    // A buggy bob posts a "commit" the DS can only judge by its clear header: right group,
    // right epoch, content type commit, with a GroupInfo claiming the next epoch. Its
    // ciphertext is garbage, so no member can apply it.
    let mut group_info = bob.ds().group_info(&group_id).await.unwrap();
    if let MlsMessageBody::GroupInfo(info) = &mut group_info.body {
        info.group_context.epoch = epoch + 1;
    }
    let garbage = MlsMessage {
        version: ProtocolVersion::MLS10,
        body: MlsMessageBody::PrivateMessage(PrivateMessage {
            group_id: group_id.clone(),
            epoch,
            content_type: ContentType::Commit,
            authenticated_data: Vec::new(),
            encrypted_sender_data: vec![7; 28],
            ciphertext: vec![9; 120],
        }),
    };
    let bundle = CommitBundle {
        commit: garbage,
        welcome: None,
        group_info,
        ratchet_tree: None,
        members: vec![b"alice".to_vec(), b"bob".to_vec()],
        allow_external_join: None,
    };
    bob.ds().post_commit(&group_id, &bundle).await.unwrap();

    // The same garbage in a verified (semi-private) group is refused by the DS: a handshake
    // it cannot read and verify does not enter the log.
    alice.create_group("guarded").await.unwrap();
    alice
        .add_members("guarded", &names(&["bob"]))
        .await
        .unwrap();
    bob.sync().await.unwrap();
    let guarded_id = hex::decode(alice.group("guarded").unwrap().group_id).unwrap();
    let guarded_epoch = alice.epoch("guarded").unwrap();
    let mut guarded = bundle.clone();
    let mut guarded_info = bob.ds().group_info(&guarded_id).await.unwrap();
    if let MlsMessageBody::GroupInfo(info) = &mut guarded_info.body {
        info.group_context.epoch = guarded_epoch + 1;
    }
    guarded.group_info = guarded_info;
    if let MlsMessageBody::PrivateMessage(m) = &mut guarded.commit.body {
        m.group_id = guarded_id.clone();
        m.epoch = guarded_epoch;
    }
    match bob.ds().post_commit(&guarded_id, &guarded).await {
        Err(conclave_api::ApiError::Refused { status: 400, .. }) => {}
        other => panic!("the DS took garbage in a verified group: {other:?}"),
    }
    assert_eq!(alice.epoch("guarded").unwrap(), guarded_epoch);

    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    alice.set_observer(move |e| sink.lock().unwrap().push(e.clone()));
    let report = alice.sync().await.unwrap();
    assert_eq!(report.desynchronized, names(&["stuck"]));
    assert!(
        seen.lock().unwrap().iter().any(|e| matches!(
            e,
            conclave_client::Event::Desynchronized { group, epoch: at, .. }
                if group == "stuck" && *at == epoch
        )),
        "{:?}",
        seen.lock().unwrap()
    );
    // Nothing was applied or rejoined: the state stays at the last good epoch, and every
    // operation says what happened and what to do.
    assert_eq!(alice.epoch("stuck").unwrap(), epoch);
    let summary = alice.group("stuck").unwrap();
    assert_eq!(summary.status, conclave_client::GroupStatus::Desynchronized);
    let err = alice.send("stuck", "after").await.unwrap_err();
    match &err {
        ClientError::Desynchronized {
            group,
            epoch: at,
            reason,
        } => {
            assert_eq!(group, "stuck");
            assert_eq!(*at, epoch);
            assert!(reason.contains("invalid"), "{reason}");
        }
        other => panic!("expected a desync, got {other}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("Invalid Commits") && text.contains("add you again"),
        "{text}"
    );
    net.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_is_committed_by_a_remaining_member() {
    let dir = tempfile::tempdir().unwrap();
    let net = devnet(dir.path()).await;
    let mut alice = user(&net, dir.path(), "alice").await;
    let mut bob = user(&net, dir.path(), "bob").await;
    let mut carol = user(&net, dir.path(), "carol").await;
    alice.create_group("club").await.unwrap();
    alice
        .add_members("club", &names(&["bob", "carol"]))
        .await
        .unwrap();
    bob.sync().await.unwrap();
    carol.sync().await.unwrap();
    let epoch = alice.epoch("club").unwrap();

    // Every member's leaf lists SelfRemove (draft-ietf-mls-extensions-10 §6.3).
    assert_eq!(
        carol.leave("club").await.unwrap(),
        conclave_client::LeaveMechanism::SelfRemove
    );
    assert_eq!(
        carol.group("club").unwrap().status,
        conclave_client::GroupStatus::Left
    );
    assert!(matches!(
        carol.send("club", "still here?").await,
        Err(ClientError::GroupInactive { .. })
    ));
    // bob's sync sees the proposal and commits it (a member cannot commit its own removal).
    bob.sync().await.unwrap();
    assert_eq!(bob.epoch("club").unwrap(), epoch + 1);
    alice.sync().await.unwrap();
    let mut members = alice.group("club").unwrap().members;
    members.sort();
    assert_eq!(members, names(&["alice", "bob"]));
    let events: Vec<String> = alice
        .history("club")
        .unwrap()
        .into_iter()
        .map(|e| e.body)
        .collect();
    assert!(
        events.iter().any(|e| e == "carol asked to leave"),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| e == "bob removed carol"),
        "{events:?}"
    );
    net.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_packages_are_topped_up_and_the_last_resort_rotated() {
    let dir = tempfile::tempdir().unwrap();
    let net = devnet(dir.path()).await;
    let mut alice = user(&net, dir.path(), "alice").await;
    let token = net.issue_token("bob").await.unwrap();
    let mut bob = Client::register(
        &dir.path().join("bob"),
        &net.info.ds_url,
        &net.info.as_url,
        "bob",
        &token,
        ClientOptions {
            key_packages: 2,
            key_package_threshold: 2,
            ..ClientOptions::default()
        },
    )
    .await
    .unwrap();
    // Three groups: two one-time packages, then the last-resort one.
    for name in ["one", "two", "three"] {
        alice.create_group(name).await.unwrap();
        alice.add_members(name, &names(&["bob"])).await.unwrap();
    }
    let published = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = published.clone();
    bob.set_observer(move |e| {
        if let conclave_client::Event::KeyPackagesPublished { count, last_resort } = e {
            sink.lock().unwrap().push((*count, *last_resort));
        }
    });
    let report = bob.sync().await.unwrap();
    assert_eq!(report.joined, 3, "the last-resort package works too");
    let published = published.lock().unwrap().clone();
    assert!(published.contains(&(2, false)), "{published:?}");
    assert!(published.contains(&(1, true)), "rotated: {published:?}");
    // The stock is back: bob can be added again with a fresh one-time package.
    alice.create_group("four").await.unwrap();
    alice.add_members("four", &names(&["bob"])).await.unwrap();
    assert_eq!(bob.sync().await.unwrap().joined, 1);
    net.shutdown().await.unwrap();
}

/// The client marks its last-resort KeyPackage inside the package
/// (draft-ietf-mls-extensions-10 §6.4); the DS learns it from the package, not from a flag,
/// hands it out once the one-time packages are gone, and the owner keeps its private keys
/// after joining with it, so it works for a second group too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_resort_key_package_is_marked_in_the_package_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let net = devnet(dir.path()).await;
    let mut alice = user(&net, dir.path(), "alice").await;
    let options = ClientOptions {
        key_packages: 2,
        key_package_threshold: 2,
        ..ClientOptions::default()
    };
    let mut bob = user_with(&net, dir.path(), "bob", options).await;
    let stock = bob.ds().key_package_stock().await.unwrap();
    assert_eq!(stock.len(), 1);
    assert_eq!(stock[0].one_time_available, 2);
    assert!(stock[0].has_last_resort);
    let suite = CipherSuite(stock[0].cipher_suite);
    // Alice takes the two one-time packages, then the last-resort one twice.
    for expected in [false, false, true, true] {
        let claimed = alice.ds().claim_key_package("bob", suite).await.unwrap();
        let MlsMessageBody::KeyPackage(package) = &claimed.message.body else {
            panic!("not a KeyPackage");
        };
        assert_eq!(claimed.last_resort, expected, "the DS's classification");
        assert_eq!(package.is_last_resort(), expected, "the package's marker");
    }
    // Two groups add Bob with his last-resort package; he joins both.
    for name in ["one", "two"] {
        alice.create_group(name).await.unwrap();
        alice.add_members(name, &names(&["bob"])).await.unwrap();
    }
    let report = bob.sync().await.unwrap();
    assert_eq!(report.joined, 2);
    net.shutdown().await.unwrap();
}

/// Short-lived certificates are renewed by their holders before they expire: past half its
/// validity a client's sync renews at the AS, tells the DS and commits the new credential
/// into its groups, so that once the first certificates have expired a newcomer can still
/// join (a joiner validates every leaf, RFC 9420 §12.4.3.1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_are_renewed_in_time_and_newcomers_can_still_join() {
    const LIFETIME: u64 = 8;
    let dir = tempfile::tempdir().unwrap();
    let net = Devnet::start(&DevnetOptions {
        certificate_lifetime: LIFETIME,
        ..DevnetOptions::new(&dir.path().join("devnet"))
    })
    .await
    .unwrap();
    let start = std::time::Instant::now();
    let options = ClientOptions {
        renewal_margin: Some(LIFETIME / 2 + 1),
        ..ClientOptions::default()
    };
    let mut alice = user_with(&net, dir.path(), "alice", options.clone()).await;
    let mut bob = user_with(&net, dir.path(), "bob", options).await;
    alice.create_group("team").await.unwrap();
    alice.add_members("team", &names(&["bob"])).await.unwrap();
    assert_eq!(bob.sync().await.unwrap().joined, 1);
    let epoch = alice.epoch("team").unwrap();

    let renewals = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    for client in [&mut alice, &mut bob] {
        let renewals = renewals.clone();
        client.set_observer(move |event| {
            if let conclave_client::Event::CredentialRenewed { groups, .. } = event {
                assert_eq!(*groups, 1);
                renewals.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
    }
    // Nothing to renew yet.
    alice.sync().await.unwrap();
    assert_eq!(renewals.load(std::sync::atomic::Ordering::SeqCst), 0);

    // Within the renewal margin: both renew, each with one commit.
    tokio::time::sleep(
        std::time::Duration::from_secs(LIFETIME / 2 + 1).saturating_sub(start.elapsed()),
    )
    .await;
    let report = alice.sync().await.unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let report = bob.sync().await.unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    alice.sync().await.unwrap();
    assert_eq!(renewals.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert_eq!(alice.epoch("team").unwrap(), epoch + 2);
    assert_eq!(bob.epoch("team").unwrap(), epoch + 2);

    // The first certificates have expired: a newcomer joins, checking alice's and bob's
    // renewed leaves.
    tokio::time::sleep(
        std::time::Duration::from_secs(LIFETIME + 1).saturating_sub(start.elapsed()),
    )
    .await;
    let mut carol = user(&net, dir.path(), "carol").await;
    alice.add_members("team", &names(&["carol"])).await.unwrap();
    assert_eq!(carol.sync().await.unwrap().joined, 1);
    carol.send("team", "hello after the renewal").await.unwrap();
    bob.sync().await.unwrap();
    let history = bob.history("team").unwrap();
    assert!(
        history.iter().any(|h| h.body == "hello after the renewal"),
        "{history:?}"
    );
}

/// A member removed before it synced still gets the messages sent while it was a member,
/// then learns of its removal from the removing commit itself; nothing after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_removed_before_it_synced_reads_up_to_its_removal() {
    let dir = tempfile::tempdir().unwrap();
    let net = devnet(dir.path()).await;
    let mut alice = user(&net, dir.path(), "alice").await;
    let mut bob = user(&net, dir.path(), "bob").await;
    alice.create_group("team").await.unwrap();
    alice.add_members("team", &names(&["bob"])).await.unwrap();
    assert_eq!(bob.sync().await.unwrap().joined, 1);

    alice.send("team", "first, while bob is in").await.unwrap();
    alice.send("team", "second, while bob is in").await.unwrap();
    alice
        .remove_members("team", &names(&["bob"]))
        .await
        .unwrap();
    alice.send("team", "after bob left").await.unwrap();

    let removed = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = removed.clone();
    bob.set_observer(move |event| {
        if let conclave_client::Event::Removed { reason, .. } = event {
            seen.lock().unwrap().push(reason.clone());
        }
    });
    let report = bob.sync().await.unwrap();
    assert_eq!(report.messages, 2);
    let bodies: Vec<String> = bob
        .history("team")
        .unwrap()
        .into_iter()
        .filter(|h| h.kind == "message")
        .map(|h| h.body)
        .collect();
    assert_eq!(
        bodies,
        vec!["first, while bob is in", "second, while bob is in"]
    );
    let reasons = removed.lock().unwrap().clone();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(reasons[0].contains("alice removed bob"), "{reasons:?}");
    let group = bob.group("team").unwrap();
    assert_eq!(group.status, conclave_client::GroupStatus::Removed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_topic_set_by_one_member_is_seen_and_changed_by_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let net = devnet(dir.path()).await;
    let mut alice = user(&net, dir.path(), "alice").await;
    let mut bob = user(&net, dir.path(), "bob").await;
    let mut carol = user(&net, dir.path(), "carol").await;
    alice.create_group("club").await.unwrap();
    alice
        .add_members("club", &names(&["bob", "carol"]))
        .await
        .unwrap();
    bob.sync().await.unwrap();
    carol.sync().await.unwrap();
    assert_eq!(alice.group("club").unwrap().topic, None);

    assert!(alice.set_topic("club", Some("Friday lunch")).await.unwrap());
    // The same topic again makes no commit.
    let epoch = alice.epoch("club").unwrap();
    assert!(!alice.set_topic("club", Some("Friday lunch")).await.unwrap());
    assert_eq!(alice.epoch("club").unwrap(), epoch);

    // Bob sees it after a sync, in his group list and his history; he changes it.
    bob.sync().await.unwrap();
    let listed = bob.groups().unwrap();
    assert_eq!(listed[0].topic.as_deref(), Some("Friday lunch"));
    let last = bob.history("club").unwrap().pop().unwrap();
    assert_eq!(last.body, "alice set the topic to \"Friday lunch\"");
    assert!(
        bob.set_topic("club", Some("Saturday brunch"))
            .await
            .unwrap()
    );
    alice.sync().await.unwrap();
    assert_eq!(
        alice.topic("club").unwrap().as_deref(),
        Some("Saturday brunch")
    );
    assert_eq!(
        alice.history("club").unwrap().pop().unwrap().body,
        "bob set the topic to \"Saturday brunch\""
    );

    // Too long: refused before anything is sent.
    let error = carol
        .set_topic("club", Some(&"é".repeat(129)))
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::InvalidTopic(_)), "{error}");
    assert_eq!(
        error.to_string(),
        "invalid topic: a group topic is at most 256 bytes of UTF-8, and this one has 258 \
         bytes; shorten it"
    );
    // Carol clears it without having synced: her client catches up first.
    assert!(carol.set_topic("club", None).await.unwrap());
    alice.sync().await.unwrap();
    bob.sync().await.unwrap();
    for client in [&alice, &bob, &carol] {
        assert_eq!(client.topic("club").unwrap(), None);
        assert_eq!(client.epoch("club").unwrap(), epoch + 2);
    }
    assert_eq!(
        bob.history("club").unwrap().pop().unwrap().body,
        "carol cleared the topic"
    );
    net.shutdown().await.unwrap();
}

/// The group's log as the DS holds it: `(poster, content type, message)`.
async fn log_of(
    client: &Client,
    group: &str,
) -> Vec<(String, u8, conclave_core::messages::MlsMessage)> {
    use base64::Engine as _;
    use conclave_codec::Decode as _;
    let group_id = hex::decode(client.group(group).unwrap().group_id).unwrap();
    client
        .ds()
        .read_log(&group_id, 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|entry| {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&entry.message)
                .unwrap();
            (
                entry.sender,
                entry.content_type,
                conclave_core::messages::MlsMessage::from_bytes(&bytes).unwrap(),
            )
        })
        .collect()
}

/// draft-mahy-mls-semiprivatemessage-07 through the devnet: three users chat in a group
/// created in the default mode, `semiprivate`; the joiners follow the mode, every handshake
/// in the DS's log is a SemiPrivateMessage that the DS's own key (read from its store) opens,
/// and application messages stay PrivateMessages it cannot open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_users_chat_in_a_semi_private_group_whose_handshakes_the_ds_can_read() {
    use conclave_client::HandshakeMode;
    use conclave_core::codepoints::SEMI_PRIVATE_MESSAGE_WIRE_FORMAT;
    use conclave_core::messages::{Content, ExternalReceiver, WireFormat};

    let dir = tempfile::tempdir().unwrap();
    let net = devnet(dir.path()).await;
    let mut alice = user(&net, dir.path(), "alice").await;
    let mut bob = user(&net, dir.path(), "bob").await;
    let mut carol = user(&net, dir.path(), "carol").await;
    let created = alice.create_group("chat").await.unwrap();
    assert_eq!(created.handshakes, HandshakeMode::SemiPrivate);
    alice
        .add_members("chat", &names(&["bob", "carol"]))
        .await
        .unwrap();
    bob.sync().await.unwrap();
    carol.sync().await.unwrap();
    for client in [&bob, &carol] {
        assert_eq!(
            client.group("chat").unwrap().handshakes,
            HandshakeMode::SemiPrivate
        );
    }
    alice.send("chat", "hello from alice").await.unwrap();
    bob.update_keys("chat").await.unwrap();
    bob.send("chat", "hello from bob").await.unwrap();
    carol.sync().await.unwrap();
    carol.update_keys("chat").await.unwrap();
    carol.send("chat", "hello from carol").await.unwrap();
    alice
        .remove_members("chat", &names(&["bob"]))
        .await
        .unwrap();
    for client in [&mut alice, &mut bob, &mut carol] {
        client.sync().await.unwrap();
    }
    let said = |client: &Client| {
        client
            .history("chat")
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == "message")
            .map(|e| (e.sender, e.body))
            .collect::<Vec<_>>()
    };
    let expected = vec![
        ("alice".to_owned(), "hello from alice".to_owned()),
        ("bob".to_owned(), "hello from bob".to_owned()),
        ("carol".to_owned(), "hello from carol".to_owned()),
    ];
    assert_eq!(said(&alice), expected);
    assert_eq!(said(&carol), expected);
    assert_eq!(alice.epoch("chat").unwrap(), carol.epoch("chat").unwrap());
    assert_eq!(
        carol.group("chat").unwrap().members,
        names(&["alice", "carol"])
    );

    // The DS's key for the suite, as its store holds it (another node would read the same).
    let store = conclave_ds::open_store(
        &format!(
            "sqlite:{}",
            dir.path().join("devnet").join("ds.db").display()
        ),
        1,
    )
    .await
    .unwrap();
    let suite = CipherSuite(1);
    let stored = store
        .receiver_key(&conclave_ds::store::ReceiverKey {
            cipher_suite: suite.0,
            receiver: Vec::new(),
            private_key: conclave_crypto::Secret::new(Vec::new()),
            created_at: 0,
        })
        .await
        .unwrap();
    let receiver = {
        use conclave_codec::Decode as _;
        ExternalReceiver::from_bytes(&stored.receiver).unwrap()
    };
    assert_eq!(alice.ds().external_receiver(suite).await.unwrap(), receiver);
    let cs = AwsLcProvider.cipher_suite_provider(suite).unwrap();
    let (mut commits, mut applications) = (0, 0);
    for (poster, content_type, message) in log_of(&alice, "chat").await {
        if content_type == 1 {
            assert_eq!(message.wire_format(), WireFormat::PRIVATE_MESSAGE);
            applications += 1;
            continue;
        }
        assert_eq!(
            message.wire_format(),
            SEMI_PRIVATE_MESSAGE_WIRE_FORMAT,
            "a handshake by {poster}"
        );
        let MlsMessageBody::SemiPrivateMessage(semi) = &message.body else {
            unreachable!()
        };
        let opened = conclave_core::semi_private::open_as_external_receiver(
            cs.as_ref(),
            stored.private_key.as_bytes(),
            &receiver,
            semi,
        )
        .unwrap();
        if content_type == 3 {
            assert!(matches!(opened.content.content, Content::Commit(_)));
            commits += 1;
        }
    }
    // Two adds in one commit, two updates, one remove; three messages.
    assert_eq!((commits, applications), (4, 3));
    net.shutdown().await.unwrap();
}

/// The other modes: `public` and `private` groups record their mode, joiners follow it, and
/// the DS's log shows the mode's wire format for every handshake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joiners_follow_the_public_or_private_handshake_mode_of_the_group() {
    use conclave_client::HandshakeMode;

    let dir = tempfile::tempdir().unwrap();
    let net = devnet(dir.path()).await;
    let mut alice = user(&net, dir.path(), "alice").await;
    let mut bob = user(&net, dir.path(), "bob").await;
    for mode in [HandshakeMode::Public, HandshakeMode::Private] {
        let group = mode.name();
        let created = alice.create_group_with(group, mode).await.unwrap();
        assert_eq!(created.handshakes, mode);
        alice.add_members(group, &names(&["bob"])).await.unwrap();
        bob.sync().await.unwrap();
        assert_eq!(bob.group(group).unwrap().handshakes, mode);
        bob.update_keys(group).await.unwrap();
        alice.sync().await.unwrap();
        let handshakes: Vec<_> = log_of(&alice, group)
            .await
            .into_iter()
            .filter(|(_, content_type, _)| *content_type != 1)
            .map(|(poster, _, message)| (poster, message.wire_format()))
            .collect();
        assert_eq!(handshakes.len(), 2, "{handshakes:?}");
        for (poster, wire_format) in handshakes {
            assert_eq!(wire_format, mode.wire_format(), "{group}: {poster}");
        }
    }
    net.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_proof_group_works_across_commits_and_refuses_forged_posts() {
    use conclave_core::messages::{ContentType, MlsMessage, PrivateMessage, ProtocolVersion};

    let dir = tempfile::tempdir().unwrap();
    let net = devnet(dir.path()).await;
    let mut alice = user(&net, dir.path(), "alice").await;
    let mut bob = user(&net, dir.path(), "bob").await;
    let carol = user(&net, dir.path(), "carol").await;
    // Groups are created with member proofs by default, registered with the DS.
    alice.create_group("proven").await.unwrap();
    alice.add_members("proven", &names(&["bob"])).await.unwrap();
    bob.sync().await.unwrap();
    for round in 0..3 {
        alice.send("proven", &format!("a{round}")).await.unwrap();
        bob.sync().await.unwrap();
        bob.update_keys("proven").await.unwrap();
        bob.send("proven", &format!("b{round}")).await.unwrap();
        alice.sync().await.unwrap();
        alice.update_keys("proven").await.unwrap();
    }
    bob.sync().await.unwrap();
    assert_eq!(alice.epoch("proven").unwrap(), bob.epoch("proven").unwrap());
    let bodies = |c: &Client| -> Vec<String> {
        c.history("proven")
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == "message")
            .map(|e| e.body)
            .collect()
    };
    let expected: Vec<String> = (0..3)
        .flat_map(|r| [format!("a{r}"), format!("b{r}")])
        .collect();
    assert_eq!(bodies(&alice), expected);
    assert_eq!(bodies(&bob), expected);

    // Bob (a member) posting a raw, proof-less message: refused by the DS because it proves
    // no membership of the epoch; Carol (registered, not a member) gets the uniform 404.
    let group_id = hex::decode(alice.group("proven").unwrap().group_id).unwrap();
    let epoch = alice.epoch("proven").unwrap();
    let forged = MlsMessage {
        version: ProtocolVersion::MLS10,
        body: MlsMessageBody::PrivateMessage(PrivateMessage {
            group_id: group_id.clone(),
            epoch,
            content_type: ContentType::Application,
            authenticated_data: vec![0],
            encrypted_sender_data: vec![7; 28],
            ciphertext: vec![9; 120],
        }),
    };
    let text = bob
        .ds()
        .post_message(&group_id, &forged)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("member proof") && text.contains("403"),
        "{text}"
    );
    let text = carol
        .ds()
        .post_message(&group_id, &forged)
        .await
        .unwrap_err()
        .to_string();
    assert!(text.contains("404"), "{text}");
    // Nothing entered the log: both stay in step and keep talking.
    alice.send("proven", "still here").await.unwrap();
    let report = bob.sync().await.unwrap();
    assert_eq!(report.messages, 1);
    assert!(report.desynchronized.is_empty());
    net.shutdown().await.unwrap();
}

/// A renewal the DS missed is resumed, not stuck: the AS renewed (and from then on renews
/// only from the new certificate), but the DS could not be reached. The next renewal hands
/// the DS the certificate the AS issued instead of asking the AS again, which would refuse
/// the superseded one; renewals after it go through the AS as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_the_ds_missed_is_resumed_with_the_certificate_the_as_issued() {
    let dir = tempfile::tempdir().unwrap();
    let net = devnet(dir.path()).await;
    let home = dir.path().join("alice");
    let alice = user(&net, dir.path(), "alice").await;
    let mut bob = user(&net, dir.path(), "bob").await;
    drop(alice);

    // The DS is unreachable (nothing listens on port 9): the AS renews, the DS never hears.
    let mut cut_off = Client::open(
        &home,
        Some("http://127.0.0.1:9"),
        None,
        ClientOptions::default(),
    )
    .unwrap();
    let error = cut_off.renew_credential().await.unwrap_err();
    assert!(matches!(error, ClientError::Unreachable { .. }), "{error}");
    drop(cut_off);

    let mut alice = Client::open(&home, None, None, ClientOptions::default()).unwrap();
    let renewals = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = renewals.clone();
    alice.set_observer(move |event| {
        if let conclave_client::Event::CredentialRenewed { .. } = event {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let warnings = alice.renew_credential().await.unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(renewals.load(std::sync::atomic::Ordering::SeqCst), 1);
    // The next renewal starts from the certificate the DS now has.
    alice.renew_credential().await.unwrap();
    assert_eq!(renewals.load(std::sync::atomic::Ordering::SeqCst), 2);

    // Alice's renewed credential is the one the DS and the members check.
    alice.create_group("team").await.unwrap();
    alice.add_members("team", &names(&["bob"])).await.unwrap();
    assert_eq!(bob.sync().await.unwrap().joined, 1);
    alice.send("team", "renewed").await.unwrap();
    bob.sync().await.unwrap();
    assert!(
        bob.history("team")
            .unwrap()
            .iter()
            .any(|h| h.body == "renewed")
    );
    net.shutdown().await.unwrap();
}

/// draft-ietf-mls-targeted-messages through the devnet: Alice sends Bob a private aside in a
/// group of three. The DS routes it to Bob only (Carol's read of the log shows the entry's
/// position with no message and no sender), Bob's history shows it as private, Carol's not
/// at all, and the group chat goes on for everyone (no state changed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_aside_reaches_only_its_recipient() {
    let dir = tempfile::tempdir().unwrap();
    let net = devnet(dir.path()).await;
    let mut alice = user(&net, dir.path(), "alice").await;
    let mut bob = user(&net, dir.path(), "bob").await;
    let mut carol = user(&net, dir.path(), "carol").await;
    alice.create_group("team").await.unwrap();
    alice
        .add_members("team", &names(&["bob", "carol"]))
        .await
        .unwrap();
    bob.sync().await.unwrap();
    carol.sync().await.unwrap();

    let seq = alice.send_to("team", "bob", "psst, bob").await.unwrap();
    alice.send("team", "hello all").await.unwrap();
    bob.sync().await.unwrap();
    carol.sync().await.unwrap();

    let bob_history = bob.history("team").unwrap();
    let aside = bob_history.iter().find(|e| e.seq == seq).unwrap();
    assert_eq!(
        (
            aside.kind.as_str(),
            aside.sender.as_str(),
            aside.body.as_str()
        ),
        ("private", "alice", "psst, bob")
    );
    assert_eq!(bob_history.last().unwrap().body, "hello all");
    let carol_history = carol.history("team").unwrap();
    assert!(
        carol_history
            .iter()
            .all(|e| e.seq != seq && e.kind != "private")
    );
    assert_eq!(carol_history.last().unwrap().body, "hello all");
    let alice_history = alice.history("team").unwrap();
    let sent = alice_history.iter().find(|e| e.seq == seq).unwrap();
    assert_eq!(
        (sent.kind.as_str(), sent.body.as_str()),
        ("private", "(to bob) psst, bob")
    );

    // What each reads from the DS at that position.
    let group_id = hex::decode(carol.group("team").unwrap().group_id).unwrap();
    async fn entry(client: &Client, group_id: &[u8], seq: u64) -> LogEntryView {
        client
            .ds()
            .read_log(group_id, seq - 1, 1)
            .await
            .unwrap()
            .pop()
            .unwrap()
    }
    let for_carol = entry(&carol, &group_id, seq).await;
    assert_eq!(
        (
            for_carol.content_type,
            for_carol.sender.as_str(),
            for_carol.message.as_str()
        ),
        (4, "", "")
    );
    let for_bob = entry(&bob, &group_id, seq).await;
    assert_eq!(
        (for_bob.content_type, for_bob.sender.as_str()),
        (4, "alice")
    );
    assert!(!for_bob.message.is_empty());

    // The group is verified (semi-private handshakes): the DS knows whose leaf the aside is
    // addressed to, and refuses to route Bob's aside to Carol.
    let (_, _, aside) = log_of(&bob, "team")
        .await
        .into_iter()
        .find(|(_, content_type, _)| *content_type == 4)
        .unwrap();
    let misrouted = alice
        .ds()
        .post_targeted_message(&group_id, &aside, "carol")
        .await
        .unwrap_err();
    assert!(
        matches!(&misrouted, conclave_api::ApiError::Refused { status: 400, message, .. }
            if message.contains("does not hold")),
        "{misrouted}"
    );

    // Not to a non-member, and not to oneself.
    assert!(matches!(
        alice.send_to("team", "dave", "x").await.unwrap_err(),
        ClientError::NotAMember { .. }
    ));
    assert!(alice.send_to("team", "alice", "x").await.is_err());
    net.shutdown().await.unwrap();
}

/// draft-barnes-mls-addl-creds through the devnet: Alice and Carol enrol for UserInfo VCs,
/// Bob for a certificate; they form one group (every client validates both kinds against the
/// AS's root and VC issuer keys, and the DS of the verified group too), talk, and commit.
/// A VC is not renewed by the AS: forcing a renewal says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_with_userinfo_vcs_and_certificates_share_a_group() {
    let dir = tempfile::tempdir().unwrap();
    let net = devnet(dir.path()).await;
    let vc = || ClientOptions {
        credential: conclave_client::CredentialKind::UserInfoVc,
        ..ClientOptions::default()
    };
    let mut alice = user_with(&net, dir.path(), "alice", vc()).await;
    let mut bob = user(&net, dir.path(), "bob").await;
    let mut carol = user_with(&net, dir.path(), "carol", vc()).await;
    // What the DS hands out for each: a KeyPackage with the credential asked for.
    let suite = CipherSuite(bob.ds().key_package_stock().await.unwrap()[0].cipher_suite);
    for (user, expected) in [
        ("alice", conclave_core::codepoints::USERINFO_VC_CREDENTIAL),
        ("bob", conclave_core::messages::CredentialType::X509),
    ] {
        let claimed = carol.ds().claim_key_package(user, suite).await.unwrap();
        let MlsMessageBody::KeyPackage(package) = &claimed.message.body else {
            panic!("not a KeyPackage");
        };
        assert_eq!(
            package.leaf_node.credential.credential_type(),
            expected,
            "{user}"
        );
    }
    alice.create_group("mixed").await.unwrap();
    alice
        .add_members("mixed", &names(&["bob", "carol"]))
        .await
        .unwrap();
    assert_eq!(bob.sync().await.unwrap().joined, 1);
    assert_eq!(carol.sync().await.unwrap().joined, 1);
    bob.send("mixed", "from a certificate").await.unwrap();
    carol.send("mixed", "from a VC").await.unwrap();
    carol.update_keys("mixed").await.unwrap();
    alice.sync().await.unwrap();
    bob.sync().await.unwrap();
    for client in [&alice, &bob, &carol] {
        assert_eq!(
            client.epoch("mixed").unwrap(),
            alice.epoch("mixed").unwrap()
        );
    }
    let bodies: Vec<String> = alice
        .history("mixed")
        .unwrap()
        .into_iter()
        .map(|e| e.body)
        .collect();
    assert!(
        bodies.iter().any(|b| b == "from a certificate"),
        "{bodies:?}"
    );
    assert!(bodies.iter().any(|b| b == "from a VC"), "{bodies:?}");
    assert!(matches!(
        alice.renew_credential().await.unwrap_err(),
        ClientError::NotRenewable(_)
    ));
    net.shutdown().await.unwrap();
}

/// draft-mahy-mls-kp-context-00 through the devnet: Bob makes an invitation for one group
/// (a KeyPackage bound to its id); Alice cannot use it for another group, adds Bob with it
/// to the right one, and Bob joins from the Welcome. The DS hands the bound package only to
/// a claim naming its group, never to one naming another group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_is_accepted_only_by_its_group() {
    let dir = tempfile::tempdir().unwrap();
    let net = devnet(dir.path()).await;
    let mut alice = user(&net, dir.path(), "alice").await;
    let mut bob = user(&net, dir.path(), "bob").await;
    alice.create_group("friends").await.unwrap();
    alice.create_group("other").await.unwrap();
    let group_id = alice.group("friends").unwrap().group_id;
    let link = bob.invitation(&group_id).await.unwrap();

    let suite = CipherSuite(bob.ds().key_package_stock().await.unwrap()[0].cipher_suite);
    let bound_to_a_group = |message: &conclave_core::messages::MlsMessage| {
        let MlsMessageBody::KeyPackage(package) = &message.body else {
            panic!("not a KeyPackage");
        };
        package
            .extensions
            .iter()
            .any(|e| e.extension_type == conclave_core::codepoints::KP_CONTEXT_EXTENSION)
    };
    let other_id = hex::decode(alice.group("other").unwrap().group_id).unwrap();
    for _ in 0..2 {
        let claimed = alice
            .ds()
            .claim_key_package_for("bob", suite, Some(&other_id))
            .await
            .unwrap();
        assert!(
            !bound_to_a_group(&claimed.message),
            "a claim for another group got the invitation's package"
        );
    }
    let claimed = alice
        .ds()
        .claim_key_package_for("bob", suite, Some(&hex::decode(&group_id).unwrap()))
        .await
        .unwrap();
    assert!(
        bound_to_a_group(&claimed.message),
        "a claim for the invitation's group is served its package first"
    );

    let epoch = alice.epoch("other").unwrap();
    let refused = alice.add_invited("other", &link).await.unwrap_err();
    assert!(
        refused.to_string().contains("draft-mahy-mls-kp-context-00"),
        "{refused}"
    );
    assert_eq!(alice.epoch("other").unwrap(), epoch);

    assert_eq!(alice.add_invited("friends", &link).await.unwrap(), "bob");
    assert_eq!(bob.sync().await.unwrap().joined, 1);
    assert_eq!(
        bob.epoch("friends").unwrap(),
        alice.epoch("friends").unwrap()
    );
    assert!(matches!(
        alice
            .add_invited("friends", "not a link")
            .await
            .unwrap_err(),
        ClientError::InvalidInvitation(_)
    ));
    net.shutdown().await.unwrap();
}

/// A group whose ratchet tree the DS holds (draft-ietf-mls-ratchet-tree-options-00 §3
/// `distributionService`): joiners by Welcome fetch the tree from the DS, a joiner's own
/// commit keeps the tree out of its Welcome too, an external joiner joins with the DS's tree,
/// and everyone ends in the same epoch with the same epoch authenticator. Private handshakes
/// cannot have it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joiners_of_a_group_whose_tree_the_ds_holds_fetch_it_and_agree() {
    use conclave_client::{HandshakeMode, NewGroupOptions};

    let dir = tempfile::tempdir().unwrap();
    let net = devnet(dir.path()).await;
    let mut alice = user(&net, dir.path(), "alice").await;
    let mut bob = user(&net, dir.path(), "bob").await;
    let mut carol = user(&net, dir.path(), "carol").await;
    let refused = alice
        .create_group_with_options(
            "secret",
            &NewGroupOptions {
                handshakes: HandshakeMode::Private,
                tree_on_ds: true,
                ..NewGroupOptions::default()
            },
        )
        .await;
    assert!(
        matches!(refused, Err(ClientError::TreeOnDsNeedsReadableHandshakes)),
        "{refused:?}"
    );
    let created = alice
        .create_group_with_options(
            "big",
            &NewGroupOptions {
                handshakes: HandshakeMode::SemiPrivate,
                tree_on_ds: true,
                allow_external_joins: true,
                ..NewGroupOptions::default()
            },
        )
        .await
        .unwrap();
    assert!(created.tree_on_ds);
    alice.add_members("big", &names(&["bob"])).await.unwrap();
    // The Welcome in Bob's inbox carries no tree: he fetches it from the DS.
    assert_eq!(bob.sync().await.unwrap().joined, 1);
    let bobs = bob.group("big").unwrap();
    assert!(bobs.tree_on_ds);
    assert_eq!(bobs.members, names(&["alice", "bob"]));
    // Bob's own commit adds Carol; its Welcome has no tree either.
    bob.add_members("big", &names(&["carol"])).await.unwrap();
    assert_eq!(carol.sync().await.unwrap().joined, 1);
    alice.sync().await.unwrap();
    carol.send("big", "hello from carol").await.unwrap();
    // Dave joins by an external commit, with the GroupInfo and the DS's tree.
    let mut dave = user(&net, dir.path(), "dave").await;
    let joined = dave
        .join_external(&hex::decode(&created.group_id).unwrap(), "big")
        .await
        .unwrap();
    assert!(joined.tree_on_ds);
    assert_eq!(joined.members, names(&["alice", "bob", "carol", "dave"]));
    dave.send("big", "hello from dave").await.unwrap();
    alice.sync().await.unwrap();
    bob.sync().await.unwrap();
    carol.sync().await.unwrap();
    let epoch = alice.epoch("big").unwrap();
    let authenticator = alice.epoch_authenticator("big").unwrap();
    for client in [&bob, &carol, &dave] {
        assert_eq!(client.epoch("big").unwrap(), epoch);
        assert_eq!(client.epoch_authenticator("big").unwrap(), authenticator);
        assert!(client.group("big").unwrap().tree_on_ds);
    }
    let said: Vec<_> = alice
        .history("big")
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "message")
        .map(|e| (e.sender, e.body))
        .collect();
    assert_eq!(
        said,
        vec![
            ("carol".to_owned(), "hello from carol".to_owned()),
            ("dave".to_owned(), "hello from dave".to_owned())
        ]
    );
    net.shutdown().await.unwrap();
}
