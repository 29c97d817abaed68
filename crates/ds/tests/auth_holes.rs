//! Regression tests of the attacks on the DS's authentication, tokens, WebSocket and group
//! reads (issue 13, holes 5, 6 and 11): a stolen token is not an account, a credential change
//! ends every older token, tokens never travel in URLs, WebSockets re-check their token and
//! are capped, challenges neither reveal who is registered nor leave rows behind, and group
//! reads answer alike whether the group is missing or the caller is not a member. Runs on
//! SQLite and, when configured, PostgreSQL.

// Test code: a panic is a test failure (clippy.toml allows this in #[test] functions; the
// helpers of this file are test code too).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use conclave_api::delivery as wire;
use conclave_codec::Encode;
use conclave_core::group::SigningIdentity;
use conclave_crypto::CryptoProvider;
use conclave_crypto_rustcrypto::RustCryptoProvider;
use conclave_ds::{DsConfig, Store};
use futures_util::{SinkExt as _, StreamExt as _};
use std::sync::Arc;
use tokio_tungstenite::tungstenite::Message;

use common::{Api, Reply, SUITE, engines, identity, rng, unique};

/// `PUT /v1/clients/{client_id}/credential` to `new`'s key and credential, with the proofs
/// of the new key and of `old`, the registered one, bound to `token`.
async fn change_credential(
    api: &Api,
    token: &str,
    client_id: &str,
    old: &SigningIdentity,
    new: &SigningIdentity,
) -> Reply {
    let cs = RustCryptoProvider.cipher_suite_provider(SUITE).unwrap();
    let credential = new.credential.to_bytes().unwrap();
    let tbs = wire::CredentialChangeTbs {
        client_id: client_id.as_bytes().to_vec(),
        cipher_suite: SUITE.0,
        signature_key: new.public_key.as_ref().to_vec(),
        credential: credential.clone(),
        previous_signature_key: old.public_key.as_ref().to_vec(),
        token_id: wire::token_id(token),
    };
    let signature =
        wire::sign_credential_change(cs.as_ref(), new.secret_key.as_bytes(), &tbs).unwrap();
    let previous =
        wire::sign_credential_change_previous(cs.as_ref(), old.secret_key.as_bytes(), &tbs)
            .unwrap();
    api.call(
        Method::PUT,
        &format!("/v1/clients/{client_id}/credential"),
        Some(token),
        Some("application/json"),
        serde_json::to_vec(&serde_json::json!({
            "cipher_suite": SUITE.0,
            "signature_key": STANDARD.encode(new.public_key.as_ref()),
            "credential": STANDARD.encode(&credential),
            "signature": STANDARD.encode(&signature),
            "previous_key_signature": STANDARD.encode(&previous),
        }))
        .unwrap(),
    )
    .await
}

/// A fresh key pair with the same (basic) credential as `signer`: the same client to the
/// DS's successor check.
fn same_credential_new_key(signer: &SigningIdentity) -> SigningIdentity {
    let cs = RustCryptoProvider.cipher_suite_provider(SUITE).unwrap();
    let (secret_key, public) = cs
        .signature_generate(&mut conclave_service::OsRandom)
        .unwrap();
    SigningIdentity {
        secret_key,
        public_key: conclave_core::messages::SignaturePublicKey(public),
        credential: signer.credential.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stolen_token_alone_cannot_change_the_credential() {
    for (store, _guard) in engines().await {
        let api = Api::new(store);
        let mut rng = rng();
        let id = unique("alice");
        let alice = identity(&id, &mut rng);
        let stolen = api.register_and_login(&id, &alice).await;
        // Mallory holds Alice's token, not her key: she proves only her own new key.
        let mallory = same_credential_new_key(&alice);
        let r = change_credential(&api, &stolen, &id, &mallory, &mallory).await;
        assert!(
            r.status.is_client_error(),
            "a change without the registered key's proof was accepted: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        let record = api.state.store().client(&id).await.unwrap().unwrap();
        assert_eq!(record.signature_key, alice.public_key.as_ref());
        api.try_login(&id, &mallory)
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
        // Nor with a proof "by the old key" that is her own key's.
        let r = change_credential(&api, &stolen, &id, &mallory, &mallory).await;
        r.assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
        // Alice, with both keys, can.
        let rotated = same_credential_new_key(&alice);
        let other_token = api.login(&id, &alice).await;
        let r = change_credential(&api, &stolen, &id, &alice, &rotated).await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        let record = api.state.store().client(&id).await.unwrap().unwrap();
        assert_eq!(record.signature_key, rotated.public_key.as_ref());
        // Alice's signed change cannot be replayed under another (new) token: it names
        // the token it was made for.
        let later = api.login(&id, &rotated).await;
        let back = same_credential_new_key(&rotated);
        let made_for_other = {
            let cs = RustCryptoProvider.cipher_suite_provider(SUITE).unwrap();
            let credential = back.credential.to_bytes().unwrap();
            let tbs = wire::CredentialChangeTbs {
                client_id: id.as_bytes().to_vec(),
                cipher_suite: SUITE.0,
                signature_key: back.public_key.as_ref().to_vec(),
                credential: credential.clone(),
                previous_signature_key: rotated.public_key.as_ref().to_vec(),
                token_id: wire::token_id(&other_token),
            };
            serde_json::json!({
                "cipher_suite": SUITE.0,
                "signature_key": STANDARD.encode(back.public_key.as_ref()),
                "credential": STANDARD.encode(&credential),
                "signature": STANDARD.encode(wire::sign_credential_change(
                    cs.as_ref(), back.secret_key.as_bytes(), &tbs).unwrap()),
                "previous_key_signature": STANDARD.encode(wire::sign_credential_change_previous(
                    cs.as_ref(), rotated.secret_key.as_bytes(), &tbs).unwrap()),
            })
        };
        api.call(
            Method::PUT,
            &format!("/v1/clients/{id}/credential"),
            Some(&later),
            Some("application/json"),
            serde_json::to_vec(&made_for_other).unwrap(),
        )
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_issued_before_a_credential_change_stop_working_on_every_node() {
    for (store, _guard) in engines().await {
        let api = Api::new(store.clone());
        // A second DS node on the same database.
        let other = Api::new(store);
        let mut rng = rng();
        let id = unique("alice");
        let alice = identity(&id, &mut rng);
        let first = api.register_and_login(&id, &alice).await;
        let second = api.login(&id, &alice).await;
        // Both nodes have seen (and may remember) the second token.
        assert_eq!(
            api.get("/v1/welcomes", Some(&second)).await.status,
            StatusCode::OK
        );
        assert_eq!(
            other.get("/v1/welcomes", Some(&second)).await.status,
            StatusCode::OK
        );

        let rotated = same_credential_new_key(&alice);
        let r = change_credential(&api, &first, &id, &alice, &rotated).await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        for token in [&first, &second] {
            for node in [&api, &other] {
                node.get("/v1/welcomes", Some(token))
                    .await
                    .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
            }
        }
        // A token from after the change works.
        let fresh = other.login(&id, &rotated).await;
        assert_eq!(
            api.get("/v1/welcomes", Some(&fresh)).await.status,
            StatusCode::OK
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenge_is_issued_for_unknown_clients_too_and_the_answer_fails_alike() {
    for (store, _guard) in engines().await {
        let api = Api::new(store);
        let mut rng = rng();
        let known = unique("alice");
        let alice = identity(&known, &mut rng);
        api.register_and_login(&known, &alice).await;
        let unknown = unique("nobody");
        let nobody = identity(&unknown, &mut rng);
        let mallory = identity("mallory", &mut rng);

        let for_known = api
            .post_json(
                "/v1/auth/challenge",
                None,
                serde_json::json!({ "client_id": known }),
            )
            .await;
        let for_unknown = api
            .post_json(
                "/v1/auth/challenge",
                None,
                serde_json::json!({ "client_id": unknown }),
            )
            .await;
        assert_eq!(for_known.status, StatusCode::OK);
        assert_eq!(
            for_unknown.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&for_unknown.body)
        );
        let shape = |r: &Reply| {
            let j = r.json();
            let mut keys: Vec<String> = j.as_object().unwrap().keys().cloned().collect();
            keys.sort();
            (
                keys,
                STANDARD
                    .decode(j["challenge"].as_str().unwrap())
                    .unwrap()
                    .len(),
            )
        };
        assert_eq!(shape(&for_known), shape(&for_unknown));

        // The answers fail with the same status, code and message: an unknown client, and a
        // known client answering with another key.
        let wrong_key = api.try_login(&known, &mallory).await;
        let unregistered = api.try_login(&unknown, &nobody).await;
        wrong_key.assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
        unregistered.assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
        assert_eq!(wrong_key.json(), unregistered.json());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenge_answer_buys_one_token() {
    for (store, _guard) in engines().await {
        let api = Api::new(store);
        let mut rng = rng();
        let id = unique("alice");
        let alice = identity(&id, &mut rng);
        api.register_and_login(&id, &alice).await;
        let r = api
            .post_json(
                "/v1/auth/challenge",
                None,
                serde_json::json!({ "client_id": id }),
            )
            .await;
        let challenge = r.json()["challenge"].as_str().unwrap().to_owned();
        let cs = RustCryptoProvider.cipher_suite_provider(SUITE).unwrap();
        let signature = wire::sign_challenge(
            cs.as_ref(),
            alice.secret_key.as_bytes(),
            &id,
            &STANDARD.decode(&challenge).unwrap(),
        )
        .unwrap();
        let answer = serde_json::json!({
            "client_id": id, "challenge": challenge, "signature": STANDARD.encode(&signature),
        });
        assert_eq!(
            api.post_json("/v1/auth/token", None, answer.clone())
                .await
                .status,
            StatusCode::OK
        );
        api.post_json("/v1/auth/token", None, answer.clone())
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
        // Nor on another node.
        let other = Api::new(api.state.store().clone());
        other
            .post_json("/v1/auth/token", None, answer)
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
        // A challenge is for the client it was issued to.
        let bob = unique("bob");
        let r = api
            .post_json(
                "/v1/auth/challenge",
                None,
                serde_json::json!({ "client_id": bob }),
            )
            .await;
        let challenge = r.json()["challenge"].as_str().unwrap().to_owned();
        let signature = wire::sign_challenge(
            cs.as_ref(),
            alice.secret_key.as_bytes(),
            &id,
            &STANDARD.decode(&challenge).unwrap(),
        )
        .unwrap();
        api.post_json(
            "/v1/auth/token",
            None,
            serde_json::json!({
                "client_id": id, "challenge": challenge, "signature": STANDARD.encode(&signature),
            }),
        )
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
}

/// The number of rows in every table of a SQLite database.
fn sqlite_rows(path: &std::path::Path) -> u64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    tables
        .iter()
        .map(|t| {
            conn.query_row(&format!("SELECT COUNT(*) FROM \"{t}\""), [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap() as u64
        })
        .sum()
}

/// The number of rows in every table of a PostgreSQL database.
async fn postgres_rows(url: &str) -> u64 {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let tables = client
        .query(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
            &[],
        )
        .await
        .unwrap();
    let mut total = 0u64;
    for row in tables {
        let table: String = row.get(0);
        let count: i64 = client
            .query_one(&format!("SELECT COUNT(*) FROM \"{table}\""), &[])
            .await
            .unwrap()
            .get(0);
        total += count as u64;
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_challenges_leave_no_rows() {
    // SQLite: a database file to count rows in.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ds.db");
    let store: Arc<dyn Store> =
        Arc::new(conclave_ds::store::sqlite::SqliteStore::open(&path).unwrap());
    let api = Api::new(store);
    let id = registered(&api).await;
    let before = sqlite_rows(&path);
    burst_of_challenges(&api, &id).await;
    assert_eq!(sqlite_rows(&path), before, "challenges were stored");
    // PostgreSQL: a database of its own.
    if let Some(server) = common::postgres_url() {
        let db = conclave_testkit::postgres::TestDatabase::create(&server, "ds_challenges");
        let store = conclave_ds::open_store(db.url(), 2).await.unwrap();
        let api = Api::new(store);
        let id = registered(&api).await;
        let before = postgres_rows(db.url()).await;
        burst_of_challenges(&api, &id).await;
        assert_eq!(
            postgres_rows(db.url()).await,
            before,
            "challenges were stored"
        );
    }
}

/// A newly registered client, after a first challenge: the nodes' challenge key is stored
/// once, by the first challenge a database sees.
async fn registered(api: &Api) -> String {
    let id = unique("alice");
    let alice = identity(&id, &mut rng());
    assert_eq!(api.register(&id, &alice).await.status, StatusCode::CREATED);
    let r = api
        .post_json(
            "/v1/auth/challenge",
            None,
            serde_json::json!({ "client_id": id }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    id
}

/// 50 challenges for the registered client `id` and 50 for unknown ones.
async fn burst_of_challenges(api: &Api, id: &str) {
    for i in 0..100 {
        let client_id = if i % 2 == 0 {
            id.to_owned()
        } else {
            unique("nobody")
        };
        let r = api
            .post_json(
                "/v1/auth/challenge",
                None,
                serde_json::json!({ "client_id": client_id }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_reads_answer_alike_for_a_missing_group_and_a_non_member() {
    use conclave_core::group::{CommitOptions, Group, MemberParams, NewGroup};

    for (store, _guard) in engines().await {
        let api = Api::new(store);
        let mut rng = rng();
        let now = api.clock.now();
        let alice_id = unique("alice");
        let alice = identity(&alice_id, &mut rng);
        let alice_token = api.register_and_login(&alice_id, &alice).await;
        let carol_id = unique("carol");
        let carol = identity(&carol_id, &mut rng);
        let carol_token = api.register_and_login(&carol_id, &carol).await;
        let existing = unique("g").into_bytes();
        let r = api
            .post_json(
                "/v1/groups",
                Some(&alice_token),
                serde_json::json!({ "group_id": hex::encode(&existing) }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
        let missing = unique("g").into_bytes();

        // What Carol (not a member) gets for each read and post, per group.
        let mut answers = Vec::new();
        for gid in [&existing, &missing] {
            let hex_id = hex::encode(gid);
            // Carol's own view of a group with that id, to make well-formed MLS messages.
            let mut own = Group::create(
                MemberParams::new(common::env(), carol.clone()),
                NewGroup::new(SUITE, gid.clone()),
                now,
                &mut rng,
            )
            .unwrap();
            let message = own
                .encrypt_application_message(b"hello", b"", &mut rng)
                .unwrap();
            let commit = own
                .commit(&CommitOptions::default(), now, &mut rng)
                .unwrap();
            let bundle = wire::CommitBundle {
                commit: commit.commit.clone(),
                welcome: None,
                group_info: commit.group_info.clone(),
                ratchet_tree: None,
                members: vec![carol_id.as_bytes().to_vec()],
                allow_external_join: None,
            };
            let mut replies = vec![
                api.get(&format!("/v1/groups/{hex_id}"), Some(&carol_token))
                    .await,
                api.get(
                    &format!("/v1/groups/{hex_id}/messages?after=0"),
                    Some(&carol_token),
                )
                .await,
                api.get(
                    &format!("/v1/groups/{hex_id}/group-info"),
                    Some(&carol_token),
                )
                .await,
                api.get(
                    &format!("/v1/groups/{hex_id}/ratchet-tree"),
                    Some(&carol_token),
                )
                .await,
                api.get(
                    &format!("/v1/groups/{hex_id}/external-join"),
                    Some(&carol_token),
                )
                .await,
                api.post_message(&carol_token, &hex_id, &message).await,
                api.post_bundle(&carol_token, &hex_id, &bundle).await,
            ];
            let answers_here: Vec<(StatusCode, serde_json::Value)> =
                replies.drain(..).map(|r| (r.status, r.json())).collect();
            answers.push(answers_here);
        }
        for (non_member, no_group) in answers[0].iter().zip(&answers[1]) {
            assert_eq!(non_member, no_group);
            assert_eq!(non_member.0, StatusCode::NOT_FOUND, "{}", non_member.1);
            assert_eq!(non_member.1["error"], "not_found");
        }
        // Alice, the member, reads her group.
        assert_eq!(
            api.get(
                &format!("/v1/groups/{}", hex::encode(&existing)),
                Some(&alice_token)
            )
            .await
            .status,
            StatusCode::OK
        );
    }
}

// ---- WebSocket ----

/// A running DS (the API on a loopback socket) for WebSocket tests.
struct Served {
    addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Served {
    async fn start(api: &Api) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(conclave_ds::serve(
            listener,
            api.state.clone(),
            Duration::from_secs(3600),
            async move {
                let _ = stopped.await;
            },
        ));
        Self {
            addr,
            stop: Some(stop),
            server,
        }
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), &mut self.server).await;
    }
}

type Socket = common::WsStream;

/// Opens `/v1/ws` with the token in the `Authorization` header.
async fn ws_with_header(
    addr: std::net::SocketAddr,
    token: &str,
) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    common::ws_connect(&format!("ws://{addr}/v1/ws"), token).await
}

/// The next frame that is not a ping or pong, within `within`.
async fn next_frame(socket: &mut Socket, within: Duration) -> Option<Message> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Err(_) => return None,
            Ok(None) => return Some(Message::Close(None)),
            Ok(Some(Err(_))) => return Some(Message::Close(None)),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Ok(Some(Ok(m))) => return Some(m),
        }
    }
}

/// Asserts that the socket was closed (with `code`, when the server said one).
async fn assert_closed(socket: &mut Socket, code: Option<u16>) {
    match next_frame(socket, Duration::from_secs(5)).await {
        Some(Message::Close(frame)) => {
            if let (Some(code), Some(frame)) = (code, frame) {
                assert_eq!(u16::from(frame.code), code, "{frame:?}");
            }
        }
        other => panic!("the socket is still open: {other:?}"),
    }
}

/// Alice's group with one message posted per call of the returned poster.
async fn alice_group(
    api: &Api,
    token: &str,
    signer: &SigningIdentity,
) -> (String, conclave_core::group::Group) {
    use conclave_core::group::{Group, MemberParams, NewGroup};
    let gid = unique("g").into_bytes();
    let group = Group::create(
        MemberParams::new(common::env(), signer.clone()),
        NewGroup::new(SUITE, gid.clone()),
        api.clock.now(),
        &mut rng(),
    )
    .unwrap();
    let hex_id = hex::encode(&gid);
    let r = api
        .post_json(
            "/v1/groups",
            Some(token),
            serde_json::json!({ "group_id": hex_id }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    (hex_id, group)
}

async fn post_ping(api: &Api, token: &str, gid: &str, group: &mut conclave_core::group::Group) {
    let m = group
        .encrypt_application_message(b"ping", b"", &mut rng())
        .unwrap();
    let r = api.post_message(token, gid, &m).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_in_the_websocket_url_is_not_accepted() {
    for (store, _guard) in engines().await {
        let api = Api::with_config(
            store,
            DsConfig {
                websocket_auth_timeout: Duration::from_secs(1),
                ..DsConfig::default()
            },
        );
        let served = Served::start(&api).await;
        let id = unique("alice");
        let alice = identity(&id, &mut rng());
        let token = api.register_and_login(&id, &alice).await;
        let (gid, mut group) = alice_group(&api, &token, &alice).await;
        // With the token only in the query, the socket never serves wake-ups.
        match tokio_tungstenite::connect_async(format!("ws://{}/v1/ws?token={token}", served.addr))
            .await
        {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
            }
            Err(e) => panic!("{e}"),
            Ok((mut socket, _)) => {
                post_ping(&api, &token, &gid, &mut group).await;
                match next_frame(&mut socket, Duration::from_secs(15)).await {
                    Some(Message::Close(Some(frame))) => {
                        assert_eq!(u16::from(frame.code), wire::WS_CLOSE_UNAUTHORIZED);
                    }
                    other => panic!("a socket authenticated by its URL: {other:?}"),
                }
            }
        }
        served.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_closes_when_its_token_expires() {
    for (store, _guard) in engines().await {
        let api = Api::with_config(
            store,
            DsConfig {
                token_lifetime: 30,
                ..DsConfig::default()
            },
        );
        let served = Served::start(&api).await;
        let id = unique("alice");
        let alice = identity(&id, &mut rng());
        let token = api.register_and_login(&id, &alice).await;
        let (gid, mut group) = alice_group(&api, &token, &alice).await;
        let mut socket = ws_with_header(served.addr, &token).await.unwrap();
        post_ping(&api, &token, &gid, &mut group).await;
        assert!(matches!(
            next_frame(&mut socket, Duration::from_secs(5)).await,
            Some(Message::Text(_))
        ));
        // The token expires; the next delivery finds it expired and closes the socket.
        api.clock.advance(31);
        let fresh = api.login(&id, &alice).await;
        post_ping(&api, &fresh, &gid, &mut group).await;
        assert_closed(&mut socket, Some(wire::WS_CLOSE_UNAUTHORIZED)).await;
        served.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_closes_when_its_client_changes_credential() {
    for (store, _guard) in engines().await {
        let api = Api::new(store);
        let served = Served::start(&api).await;
        let id = unique("alice");
        let alice = identity(&id, &mut rng());
        let token = api.register_and_login(&id, &alice).await;
        let (gid, mut group) = alice_group(&api, &token, &alice).await;
        let mut socket = ws_with_header(served.addr, &token).await.unwrap();
        let rotated = same_credential_new_key(&alice);
        let r = change_credential(&api, &token, &id, &alice, &rotated).await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        let fresh = api.login(&id, &rotated).await;
        post_ping(&api, &fresh, &gid, &mut group).await;
        assert_closed(&mut socket, Some(wire::WS_CLOSE_UNAUTHORIZED)).await;
        served.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_refuses_large_frames() {
    for (store, _guard) in engines().await {
        let api = Api::new(store);
        let served = Served::start(&api).await;
        let id = unique("alice");
        let alice = identity(&id, &mut rng());
        let token = api.register_and_login(&id, &alice).await;
        let mut socket = ws_with_header(served.addr, &token).await.unwrap();
        // The socket carries wake-ups out; in, only control frames (and the first-frame
        // token): 64 KiB is far beyond what it takes.
        let _ = socket
            .send(Message::Text("x".repeat(64 * 1024).into()))
            .await;
        assert_closed(&mut socket, None).await;
        served.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_connections_are_capped_per_client_and_per_node() {
    for (store, _guard) in engines().await {
        let api = Api::with_config(
            store,
            DsConfig {
                max_websockets: 3,
                max_websockets_per_client: 2,
                ..DsConfig::default()
            },
        );
        let served = Served::start(&api).await;
        let mut rng = rng();
        let (alice_id, bob_id) = (unique("alice"), unique("bob"));
        let alice = api
            .register_and_login(&alice_id, &identity(&alice_id, &mut rng))
            .await;
        let bob = api
            .register_and_login(&bob_id, &identity(&bob_id, &mut rng))
            .await;
        let refusal = |r: Result<Socket, tokio_tungstenite::tungstenite::Error>| match r {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status(),
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("a socket beyond the cap was opened"),
        };
        let a1 = ws_with_header(served.addr, &alice).await.unwrap();
        let _a2 = ws_with_header(served.addr, &alice).await.unwrap();
        assert_eq!(
            refusal(ws_with_header(served.addr, &alice).await),
            StatusCode::TOO_MANY_REQUESTS
        );
        let _b1 = ws_with_header(served.addr, &bob).await.unwrap();
        // Three open on the node: Bob's second is refused by the node's cap.
        assert_eq!(
            refusal(ws_with_header(served.addr, &bob).await),
            StatusCode::SERVICE_UNAVAILABLE
        );
        // A socket closed makes room again.
        drop(a1);
        let mut reopened = None;
        for _ in 0..50 {
            if let Ok(socket) = ws_with_header(served.addr, &alice).await {
                reopened = Some(socket);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(reopened.is_some(), "the cap was not released");
        served.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_sends_its_token_in_the_first_frame() {
    for (store, _guard) in engines().await {
        let api = Api::with_config(
            store,
            DsConfig {
                websocket_auth_timeout: Duration::from_secs(2),
                ..DsConfig::default()
            },
        );
        let served = Served::start(&api).await;
        let id = unique("alice");
        let alice = identity(&id, &mut rng());
        let token = api.register_and_login(&id, &alice).await;
        let (gid, mut group) = alice_group(&api, &token, &alice).await;
        let url = format!("ws://{}/v1/ws", served.addr);
        let (mut socket, _) = tokio_tungstenite::connect_async(url.clone()).await.unwrap();
        let auth = serde_json::to_string(&wire::WebSocketAuth {
            token: token.clone(),
        })
        .unwrap();
        socket.send(Message::Text(auth.into())).await.unwrap();
        // Give the server a moment to check the token and subscribe.
        tokio::time::sleep(Duration::from_millis(300)).await;
        post_ping(&api, &token, &gid, &mut group).await;
        match next_frame(&mut socket, Duration::from_secs(5)).await {
            Some(Message::Text(text)) => {
                let wake: wire::WakeUp = serde_json::from_str(&text).unwrap();
                assert_eq!(wake.group, gid);
            }
            other => panic!("no wake-up: {other:?}"),
        }
        // A wrong token, or no token in time, closes the socket with 4401.
        let (mut wrong, _) = tokio_tungstenite::connect_async(url.clone()).await.unwrap();
        let forged = serde_json::to_string(&wire::WebSocketAuth {
            token: "forged".into(),
        })
        .unwrap();
        wrong.send(Message::Text(forged.into())).await.unwrap();
        assert_closed(&mut wrong, Some(wire::WS_CLOSE_UNAUTHORIZED)).await;
        let (mut silent, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        assert_closed(&mut silent, Some(wire::WS_CLOSE_UNAUTHORIZED)).await;
        served.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_websocket_closes_when_its_token_expires() {
    for (store, _guard) in engines().await {
        let api = Api::with_config(
            store,
            DsConfig {
                token_lifetime: 30,
                websocket_recheck: Duration::from_millis(200),
                ..DsConfig::default()
            },
        );
        let served = Served::start(&api).await;
        let id = unique("alice");
        let alice = identity(&id, &mut rng());
        let token = api.register_and_login(&id, &alice).await;
        let mut socket = ws_with_header(served.addr, &token).await.unwrap();
        // Nothing to deliver: the socket stays open while the token holds ...
        assert_eq!(
            next_frame(&mut socket, Duration::from_millis(600)).await,
            None
        );
        // ... and is closed by the periodic check once it expired.
        api.clock.advance(31);
        assert_closed(&mut socket, Some(wire::WS_CLOSE_UNAUTHORIZED)).await;
        served.stop().await;
    }
}

/// A DS without an Authentication Service cannot check a UserInfo VC's issuer signature
/// (draft-barnes-mls-addl-creds-01 §3.3), so it takes none: neither at registration nor as
/// a changed credential (where it would otherwise stand as an unchecked claim).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ds_without_an_as_refuses_userinfo_vc_credentials() {
    for (store, _guard) in engines().await {
        let api = Api::new(store);
        let mut rng = rng();
        let id = unique("vc");
        let basic = identity(&id, &mut rng);
        let with_vc = SigningIdentity {
            credential: conclave_core::messages::Credential::UserInfoVc(
                conclave_core::messages::UserInfoVc {
                    jwt: b"a.b.c".to_vec(),
                },
            ),
            ..basic.clone()
        };
        let r = api.register(&id, &with_vc).await;
        r.assert_error(StatusCode::BAD_REQUEST, "bad_request");
        assert!(
            String::from_utf8_lossy(&r.body).contains("Authentication Service"),
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        assert!(api.state.store().client(&id).await.unwrap().is_none());
        let token = api.register_and_login(&id, &basic).await;
        let r = change_credential(&api, &token, &id, &basic, &with_vc).await;
        assert!(
            r.status.is_client_error(),
            "{} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        let record = api.state.store().client(&id).await.unwrap().unwrap();
        assert_eq!(record.credential, basic.credential.to_bytes().unwrap());
    }
}
