//! `conclave-ds --with-as` (RFC 9750 §4): the AS routes served by the DS, and
//! client registration limited to credentials the AS issued: a foreign root, a basic
//! credential, an expired or revoked certificate, or a client id other than the enrolled
//! name are refused; an AS-issued credential is accepted. In process through the router,
//! and once against the binary.

// Test code: a panic is a test failure (clippy.toml allows this in #[test] functions; the
// helpers of this file are test code too).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../../ds/tests/common/mod.rs"]
mod common;
mod in_process;

use axum::http::{Method, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use conclave_api::authentication::ENROLMENT_MEDIA_TYPE;
use conclave_api::delivery as wire;
use conclave_as::{AuthenticationService, EnrolmentRequest, InMemoryAsStore};
use conclave_codec::{Decode, Encode};
use conclave_core::group::SigningIdentity;
use conclave_core::messages::{Credential, SignaturePublicKey};
use conclave_crypto::{CryptoProvider, Secret};
use conclave_crypto_rustcrypto::RustCryptoProvider;
use conclave_service::OsRandom;

use common::{Api, SUITE, identity, rng, sqlite_store};
use conclave_testkit::process::Process;
use in_process::ADMIN;

/// The DS with its AS (one-day certificates) on a fresh SQLite database.
fn api_with_as() -> (Api, tempfile::TempDir) {
    let (store, dir) = sqlite_store();
    (
        in_process::api_with_as(
            store,
            conclave_as::DEFAULT_CERTIFICATE_LIFETIME,
            conclave_as::DEFAULT_RENEWAL_GRACE,
        ),
        dir,
    )
}

/// A fresh key pair and the enrolment request for `name` with `token`.
fn enrolment(name: &str, token: &str) -> (EnrolmentRequest, Secret, SignaturePublicKey) {
    let cs = RustCryptoProvider.cipher_suite_provider(SUITE).unwrap();
    let (secret, public) = cs.signature_generate(&mut OsRandom).unwrap();
    let key = SignaturePublicKey(public);
    let request = EnrolmentRequest::sign(
        cs.as_ref(),
        name,
        key.clone(),
        &secret,
        token.as_bytes().to_vec(),
    )
    .unwrap();
    (request, secret, key)
}

/// Enrols `name` through the merged router's AS routes.
async fn enrol(api: &Api, name: &str) -> SigningIdentity {
    let r = api
        .post_json(
            "/v1/as/tokens",
            Some(ADMIN),
            serde_json::json!({ "name": name }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let token = r.json()["token"].as_str().unwrap().to_owned();
    let (request, secret_key, public_key) = enrolment(name, &token);
    let r = api
        .call(
            Method::POST,
            "/v1/as/enrol",
            None,
            Some(ENROLMENT_MEDIA_TYPE),
            request.to_bytes().unwrap(),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    SigningIdentity {
        secret_key,
        public_key,
        credential: Credential::from_bytes(&r.body).unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_needs_a_credential_of_this_as() {
    let (api, _dir) = api_with_as();
    // Both APIs answer on one router.
    assert_eq!(api.get("/v1/health", None).await.status, StatusCode::OK);
    assert_eq!(api.get("/v1/as/health", None).await.status, StatusCode::OK);
    api.get("/v1/nothing", None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");

    // An AS-issued credential is accepted, and the client can log in.
    let alice = enrol(&api, "alice").await;
    let token = api.register_and_login("alice", &alice).await;
    assert!(!token.is_empty());

    // A credential chained to another AS's root.
    let other = AuthenticationService::open_or_create(
        InMemoryAsStore::new(),
        RustCryptoProvider.cipher_suite_provider(SUITE).unwrap(),
        api.clock.now(),
        &mut OsRandom,
    )
    .unwrap();
    let other_token = other
        .issue_token("bob", api.clock.now(), &mut OsRandom)
        .unwrap();
    let (request, secret_key, public_key) =
        enrolment("bob", std::str::from_utf8(&other_token).unwrap());
    let foreign = SigningIdentity {
        secret_key,
        public_key,
        credential: other.enrol(&request, api.clock.now()).unwrap(),
    };
    let r = api.register("bob", &foreign).await;
    r.assert_error(StatusCode::FORBIDDEN, "forbidden");
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("trusted root"),
        "{}",
        r.json()
    );

    // A basic credential (what a DS without the AS accepts).
    let mut rng = rng();
    let basic = identity("carol", &mut rng);
    api.register("carol", &basic)
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden");

    // Dave's certificate under another client id.
    let dave = enrol(&api, "dave").await;
    let r = api.register("not-dave", &dave).await;
    r.assert_error(StatusCode::FORBIDDEN, "forbidden");
    assert!(
        r.json()["message"].as_str().unwrap().contains("client id"),
        "{}",
        r.json()
    );
    // Another key than the certificate's.
    let mut mixed = identity("dave", &mut rng);
    mixed.credential = dave.credential.clone();
    api.register("dave", &mixed)
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(
        api.register("dave", &dave).await.status,
        StatusCode::CREATED
    );

    // A revoked client.
    let frank = enrol(&api, "frank").await;
    let r = api
        .post_json(
            "/v1/as/revoke",
            Some(ADMIN),
            serde_json::json!({"name": "frank"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = api.register("frank", &frank).await;
    r.assert_error(StatusCode::FORBIDDEN, "forbidden");
    assert!(
        r.json()["message"].as_str().unwrap().contains("revoked"),
        "{}",
        r.json()
    );

    // An expired certificate (the AS issues one-day certificates).
    let erin = enrol(&api, "erin").await;
    api.clock.advance(2 * 24 * 3600);
    let r = api.register("erin", &erin).await;
    r.assert_error(StatusCode::FORBIDDEN, "forbidden");
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("not valid at"),
        "{}",
        r.json()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_the_as_and_checks_registrations() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("as-admin-token");
    let ds_database = format!("sqlite:{}", dir.path().join("ds.db").display());
    let as_database = format!("sqlite:{}", dir.path().join("as.db").display());
    let process = Process::start(
        env!("CARGO_BIN_EXE_conclave-ds"),
        &[
            "--listen",
            "127.0.0.1:0",
            "--with-as",
            "--database",
            &ds_database,
            "--as-database",
            &as_database,
            "--as-admin-token-file",
            &token_file.display().to_string(),
        ],
        &[],
    );
    let base = process.base.clone();
    let admin = std::fs::read_to_string(&token_file).unwrap();
    let admin = admin.trim();

    let as_client = conclave_api::AsClient::new(&base).unwrap();
    as_client.health().await.unwrap();
    assert_eq!(as_client.root().await.unwrap().cipher_suite, SUITE);
    let token = as_client.issue_token(admin, "alice").await.unwrap();
    let (request, secret_key, public_key) = enrolment("alice", &token);
    let alice = SigningIdentity {
        secret_key,
        public_key,
        credential: as_client.enrol(&request).await.unwrap(),
    };

    let http = reqwest::Client::new();
    let register = |client_id: &str, signer: &SigningIdentity| {
        let cs = RustCryptoProvider.cipher_suite_provider(SUITE).unwrap();
        let credential = signer.credential.to_bytes().unwrap();
        let tbs = wire::RegistrationTbs {
            client_id: client_id.as_bytes().to_vec(),
            cipher_suite: SUITE.0,
            signature_key: signer.public_key.as_ref().to_vec(),
            credential: credential.clone(),
        };
        let signature =
            wire::sign_registration(cs.as_ref(), signer.secret_key.as_bytes(), &tbs).unwrap();
        let body = serde_json::json!({
            "client_id": client_id,
            "cipher_suite": SUITE.0,
            "signature_key": STANDARD.encode(signer.public_key.as_ref()),
            "credential": STANDARD.encode(&credential),
            "signature": STANDARD.encode(&signature),
        });
        http.post(format!("{base}/v1/clients"))
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&body).unwrap())
            .send()
    };
    let mut rng = rng();
    let basic = identity("bob", &mut rng);
    assert_eq!(register("bob", &basic).await.unwrap().status(), 403);
    assert_eq!(register("alice", &alice).await.unwrap().status(), 201);

    drop(process);
}
