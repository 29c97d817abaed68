//! A registered client replacing its signature key and credential
//! (`PUT /v1/clients/{id}/credential`), with the Authentication Service (`--with-as`: the
//! certificate the AS renewed, `POST /v1/as/renew`) and without; and a revoked client's
//! login. The AS cases run on both store engines (SQLite always, PostgreSQL when
//! `CONCLAVE_TEST_POSTGRES_URL` is set).

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

use std::sync::{Arc, RwLock};

use axum::http::{Method, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use conclave_api::authentication::{ENROLMENT_MEDIA_TYPE, RENEWAL_MEDIA_TYPE};
use conclave_api::delivery as wire;
use conclave_as::RenewalRequest;
use conclave_as::{AuthenticationService, EnrolmentRequest, InMemoryAsStore};
use conclave_codec::{Decode, Encode};
use conclave_core::credential::X509IdentityProvider;
use conclave_core::group::{
    Group, GroupEnv, KeyPackageBundle, MemberParams, NewGroup, SigningIdentity,
};
use conclave_core::messages::{Credential, MlsMessage, MlsMessageBody, SignaturePublicKey};
use conclave_crypto::CryptoProvider;
use conclave_crypto_rustcrypto::RustCryptoProvider;
use conclave_ds::store::Store;
use conclave_service::OsRandom;

use common::{Api, Reply, SUITE, engines, env, identity, postgres_url, rng, unique};
use in_process::ADMIN;

/// The DS with its AS, certificates lasting one hour, renewable for two hours after.
fn api_with_as(store: Arc<dyn Store>) -> Api {
    in_process::api_with_as(store, 3600, 7200)
}

/// Enrols `name` (a unique name per test run: tests share the PostgreSQL database) through
/// the merged router's AS routes.
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
    let cs = RustCryptoProvider.cipher_suite_provider(SUITE).unwrap();
    let (secret_key, public) = cs.signature_generate(&mut OsRandom).unwrap();
    let public_key = SignaturePublicKey(public);
    let request = EnrolmentRequest::sign(
        cs.as_ref(),
        name,
        public_key.clone(),
        &secret_key,
        token.into_bytes(),
    )
    .unwrap();
    let r = api
        .call(
            Method::POST,
            "/v1/as/enrol",
            None,
            Some(ENROLMENT_MEDIA_TYPE),
            request.to_bytes().unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    SigningIdentity {
        secret_key,
        public_key,
        credential: Credential::from_bytes(&r.body).unwrap(),
    }
}

/// Renews `signer`'s credential at the AS, rotating to a fresh key pair if `rotate`.
async fn renew(api: &Api, signer: &SigningIdentity, rotate: bool) -> SigningIdentity {
    let cs = RustCryptoProvider.cipher_suite_provider(SUITE).unwrap();
    let (secret_key, public_key) = if rotate {
        let (secret, public) = cs.signature_generate(&mut OsRandom).unwrap();
        (secret, SignaturePublicKey(public))
    } else {
        (signer.secret_key.clone(), signer.public_key.clone())
    };
    let request = RenewalRequest::sign(
        cs.as_ref(),
        signer.credential.clone(),
        &signer.public_key,
        &signer.secret_key,
        rotate.then_some((&public_key, &secret_key)),
        api.clock.now(),
    )
    .unwrap();
    let r = api
        .call(
            Method::POST,
            "/v1/as/renew",
            None,
            Some(RENEWAL_MEDIA_TYPE),
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

/// `PUT /v1/clients/{client_id}/credential` with `new`'s key and credential, proven by
/// `prover`'s key (normally `new` itself) and consented to by `old`'s (normally the
/// registered key), both over the change bound to `token`.
async fn change(
    api: &Api,
    token: Option<&str>,
    client_id: &str,
    old: &SigningIdentity,
    new: &SigningIdentity,
    prover: &SigningIdentity,
) -> Reply {
    let cs = RustCryptoProvider.cipher_suite_provider(SUITE).unwrap();
    let credential = new.credential.to_bytes().unwrap();
    let tbs = wire::CredentialChangeTbs {
        client_id: client_id.as_bytes().to_vec(),
        cipher_suite: SUITE.0,
        signature_key: new.public_key.as_ref().to_vec(),
        credential: credential.clone(),
        previous_signature_key: old.public_key.as_ref().to_vec(),
        token_id: wire::token_id(token.unwrap_or_default()),
    };
    let signature =
        wire::sign_credential_change(cs.as_ref(), prover.secret_key.as_bytes(), &tbs).unwrap();
    let previous_key_signature =
        wire::sign_credential_change_previous(cs.as_ref(), old.secret_key.as_bytes(), &tbs)
            .unwrap();
    api.call(
        Method::PUT,
        &format!("/v1/clients/{client_id}/credential"),
        token,
        Some("application/json"),
        serde_json::to_vec(&serde_json::json!({
            "cipher_suite": SUITE.0,
            "signature_key": STANDARD.encode(new.public_key.as_ref()),
            "credential": STANDARD.encode(&credential),
            "signature": STANDARD.encode(&signature),
            "previous_key_signature": STANDARD.encode(&previous_key_signature),
        }))
        .unwrap(),
    )
    .await
}

/// A KeyPackage (`MLSMessage`) of `signer`, for a group whose members validate X.509.
fn x509_key_package(api: &Api, signer: &SigningIdentity) -> Vec<u8> {
    let root = match &signer.credential {
        Credential::X509 { certificates } => certificates[1].cert_data.clone(),
        _ => panic!("not X.509"),
    };
    let env = GroupEnv {
        crypto: Arc::new(RustCryptoProvider),
        identity: Arc::new(X509IdentityProvider::new([root], &RustCryptoProvider).unwrap()),
        psks: Arc::new(RwLock::new(std::collections::HashMap::new())),
    };
    let bundle = KeyPackageBundle::generate(
        &MemberParams::new(env, signer.clone()),
        SUITE,
        api.clock.now(),
        &mut rng(),
    )
    .unwrap();
    MlsMessage::new(MlsMessageBody::KeyPackage(bundle.key_package))
        .to_bytes()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_credential_replaces_the_registered_one() {
    for (store, _guard) in engines().await {
        let api = api_with_as(store);
        let name = unique("alice");
        let alice = enrol(&api, &name).await;
        let token = api.register_and_login(&name, &alice).await;
        let old_kp = x509_key_package(&api, &alice);
        assert_eq!(
            api.upload_key_package(&token, &old_kp).await.status,
            StatusCode::CREATED
        );

        // Near the end of the certificate's life: renew with a new key, then tell the DS.
        api.clock.advance(3000);
        let renewed = renew(&api, &alice, true).await;
        let token = api.login(&name, &alice).await;
        let r = change(&api, Some(&token), &name, &alice, &renewed, &renewed).await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(r.json()["client_id"], name.as_str());
        let record = api.state.store().client(&name).await.unwrap().unwrap();
        assert_eq!(record.signature_key, renewed.public_key.as_ref());
        assert_eq!(record.credential, renewed.credential.to_bytes().unwrap());
        // The change revoked the token it was made with.
        api.get("/v1/welcomes", Some(&token))
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
        // The same change again (with a new token, the new key now the registered one) is
        // accepted: nothing to do.
        let token = api.login(&name, &renewed).await;
        assert_eq!(
            change(&api, Some(&token), &name, &renewed, &renewed, &renewed)
                .await
                .status,
            StatusCode::OK
        );

        // Logging in takes the new key; the old one no longer works.
        api.try_login(&name, &alice)
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
        let token = api.login(&name, &renewed).await;
        // Uploads must carry the new credential; the KeyPackage published before stays.
        api.upload_key_package(&token, &x509_key_package(&api, &alice))
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        let new_kp = x509_key_package(&api, &renewed);
        assert_eq!(
            api.upload_key_package(&token, &new_kp).await.status,
            StatusCode::CREATED
        );
        let mut claimed = Vec::new();
        for _ in 0..2 {
            let r = api.claim(&token, &name).await;
            assert_eq!(r.status, StatusCode::OK);
            claimed.push(r.body);
        }
        claimed.sort();
        let mut published = vec![old_kp, new_kp];
        published.sort();
        assert_eq!(claimed, published);

        // After the old certificate's end (within the grace period of the renewed one's
        // renewal): renew again, keeping the key. The token expired meanwhile: log in again
        // (an expired certificate does not stop a login).
        api.clock.advance(3600 + 1800);
        let again = renew(&api, &renewed, false).await;
        let token = api.login(&name, &renewed).await;
        assert_eq!(
            change(&api, Some(&token), &name, &renewed, &again, &again)
                .await
                .status,
            StatusCode::OK
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_changes_that_are_refused() {
    for (store, _guard) in engines().await {
        let api = api_with_as(store);
        let name = unique("alice");
        let alice = enrol(&api, &name).await;
        let token = api.register_and_login(&name, &alice).await;
        let renewed = renew(&api, &alice, true).await;
        let path = format!("/v1/clients/{name}/credential");

        // No token, a wrong token, another client's token.
        change(&api, None, &name, &alice, &renewed, &renewed)
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
        change(&api, Some("forged"), &name, &alice, &renewed, &renewed)
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
        let other_name = unique("bob");
        let bob = enrol(&api, &other_name).await;
        let bob_token = api.register_and_login(&other_name, &bob).await;
        change(&api, Some(&bob_token), &name, &alice, &renewed, &renewed)
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");

        // The proof made by the old key, or by nobody's key.
        change(&api, Some(&token), &name, &alice, &renewed, &alice)
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
        let stranger = identity("stranger", &mut rng());
        change(&api, Some(&token), &name, &alice, &renewed, &stranger)
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
        // Malformed bodies.
        api.call(
            Method::PUT,
            &path,
            Some(&token),
            Some("application/json"),
            b"{}".to_vec(),
        )
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request");
        api.call(Method::PUT, &path, Some(&token), None, Vec::new())
            .await
            .assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");

        // Identity change: Bob's (valid, AS-issued) credential under Alice's client id.
        let r = change(&api, Some(&token), &name, &alice, &bob, &bob).await;
        r.assert_error(StatusCode::FORBIDDEN, "forbidden");
        assert!(
            r.json()["message"].as_str().unwrap().contains("client id"),
            "{}",
            r.json()
        );
        // A credential of another AS, for the same name.
        let other = AuthenticationService::open_or_create(
            InMemoryAsStore::new(),
            RustCryptoProvider.cipher_suite_provider(SUITE).unwrap(),
            api.clock.now(),
            &mut OsRandom,
        )
        .unwrap();
        let other_token = other
            .issue_token(&name, api.clock.now(), &mut OsRandom)
            .unwrap();
        let cs = RustCryptoProvider.cipher_suite_provider(SUITE).unwrap();
        let (secret_key, public) = cs.signature_generate(&mut OsRandom).unwrap();
        let public_key = SignaturePublicKey(public);
        let request = EnrolmentRequest::sign(
            cs.as_ref(),
            &name,
            public_key.clone(),
            &secret_key,
            other_token,
        )
        .unwrap();
        let foreign = SigningIdentity {
            credential: other.enrol(&request, api.clock.now()).unwrap(),
            secret_key,
            public_key,
        };
        let r = change(&api, Some(&token), &name, &alice, &foreign, &foreign).await;
        r.assert_error(StatusCode::FORBIDDEN, "forbidden");
        assert!(
            r.json()["message"]
                .as_str()
                .unwrap()
                .contains("trusted root"),
            "{}",
            r.json()
        );
        // A basic credential with the same identity.
        let basic = identity(&format!("mls://{name}"), &mut rng());
        change(&api, Some(&token), &name, &alice, &basic, &basic)
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        // The AS-issued certificate for another key than the one sent.
        let mut mismatched = renewed.clone();
        mismatched.public_key = stranger.public_key.clone();
        mismatched.secret_key = stranger.secret_key.clone();
        change(&api, Some(&token), &name, &alice, &mismatched, &mismatched)
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        // Nothing changed so far.
        let record = api.state.store().client(&name).await.unwrap().unwrap();
        assert_eq!(record.signature_key, alice.public_key.as_ref());

        // An expired credential is not accepted (renew it at the AS first) ...
        api.clock.advance(3600 + 120);
        let token = api.login(&name, &alice).await;
        let r = change(&api, Some(&token), &name, &alice, &renewed, &renewed).await;
        r.assert_error(StatusCode::FORBIDDEN, "forbidden");
        assert!(
            r.json()["message"]
                .as_str()
                .unwrap()
                .contains("not valid at"),
            "{}",
            r.json()
        );
        // ... and a revoked client's new credential neither.
        let fresh = renew(&api, &renewed, false).await;
        let r = api
            .post_json(
                "/v1/as/revoke",
                Some(ADMIN),
                serde_json::json!({"name": name}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        let r = change(&api, Some(&token), &name, &alice, &fresh, &fresh).await;
        r.assert_error(StatusCode::FORBIDDEN, "forbidden");
        assert!(
            r.json()["message"].as_str().unwrap().contains("revoked"),
            "{}",
            r.json()
        );
        let record = api.state.store().client(&name).await.unwrap().unwrap();
        assert_eq!(record.signature_key, alice.public_key.as_ref());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_client_cannot_log_in() {
    for (store, _guard) in engines().await {
        let api = api_with_as(store);
        let name = unique("frank");
        let frank = enrol(&api, &name).await;
        let token = api.register_and_login(&name, &frank).await;
        let bystander_name = unique("grace");
        let bystander = enrol(&api, &bystander_name).await;
        api.register_and_login(&bystander_name, &bystander).await;

        let r = api
            .post_json(
                "/v1/as/revoke",
                Some(ADMIN),
                serde_json::json!({"name": name}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        // No new token.
        let r = api.try_login(&name, &frank).await;
        r.assert_error(StatusCode::FORBIDDEN, "forbidden");
        assert!(
            r.json()["message"].as_str().unwrap().contains("revoked"),
            "{}",
            r.json()
        );
        // The token issued before the revocation stops working at once.
        let r = api.get("/v1/key-packages", Some(&token)).await;
        r.assert_error(StatusCode::FORBIDDEN, "forbidden");
        assert!(
            r.json()["message"].as_str().unwrap().contains("revoked"),
            "{}",
            r.json()
        );
        api.clock.advance(api.state.config().token_lifetime + 1);
        api.get("/v1/key-packages", Some(&token))
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
        api.try_login(&name, &frank)
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        // Other clients are unaffected, even with an expired certificate (a client must be
        // able to log in to replace it).
        api.clock.advance(3600);
        api.login(&bystander_name, &bystander).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_as_the_identity_must_stay() {
    for (store, _guard) in engines().await {
        let api = Api::new(store);
        let mut rng = rng();
        let name = unique("carol");
        let carol = identity(&name, &mut rng);
        let token = api.register_and_login(&name, &carol).await;
        // A new key with the same basic identity: accepted.
        let rotated = identity(&name, &mut rng);
        let r = change(&api, Some(&token), &name, &carol, &rotated, &rotated).await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        // The change revoked the token; the new key logs in.
        let token = api.login(&name, &rotated).await;
        // Another identity: refused.
        let other = identity("somebody-else", &mut rng);
        let r = change(&api, Some(&token), &name, &rotated, &other, &other).await;
        r.assert_error(StatusCode::FORBIDDEN, "forbidden");
        assert!(
            r.json()["message"]
                .as_str()
                .unwrap()
                .contains("same client"),
            "{}",
            r.json()
        );
        // Another credential type: refused.
        let as_service = AuthenticationService::open_or_create(
            InMemoryAsStore::new(),
            RustCryptoProvider.cipher_suite_provider(SUITE).unwrap(),
            api.clock.now(),
            &mut OsRandom,
        )
        .unwrap();
        let t = as_service
            .issue_token("carol", api.clock.now(), &mut OsRandom)
            .unwrap();
        let cs = RustCryptoProvider.cipher_suite_provider(SUITE).unwrap();
        let (secret_key, public) = cs.signature_generate(&mut OsRandom).unwrap();
        let public_key = SignaturePublicKey(public);
        let request =
            EnrolmentRequest::sign(cs.as_ref(), "carol", public_key.clone(), &secret_key, t)
                .unwrap();
        let x509 = SigningIdentity {
            credential: as_service.enrol(&request, api.clock.now()).unwrap(),
            secret_key,
            public_key,
        };
        change(&api, Some(&token), &name, &rotated, &x509, &x509)
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        // The registration label does not stand for the credential change's.
        let credential = rotated.credential.to_bytes().unwrap();
        let tbs = wire::RegistrationTbs {
            client_id: name.as_bytes().to_vec(),
            cipher_suite: SUITE.0,
            signature_key: rotated.public_key.as_ref().to_vec(),
            credential: credential.clone(),
        };
        let registration_signature =
            wire::sign_registration(cs.as_ref(), rotated.secret_key.as_bytes(), &tbs).unwrap();
        api.call(
            Method::PUT,
            &format!("/v1/clients/{name}/credential"),
            Some(&token),
            Some("application/json"),
            serde_json::to_vec(&serde_json::json!({
                "cipher_suite": SUITE.0,
                "signature_key": STANDARD.encode(rotated.public_key.as_ref()),
                "credential": STANDARD.encode(&credential),
                "signature": STANDARD.encode(&registration_signature),
                "previous_key_signature": STANDARD.encode(&registration_signature),
            }))
            .unwrap(),
        )
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
}

/// GET and POST of group messages check the token in the store call that reads or appends
/// (one statement on PostgreSQL): after a credential change the old token is refused at
/// once on both, by the node that made the change and by another node on the same database
/// (another `AppState`; on PostgreSQL over its own connections), with the 401 of any other
/// bad token. A non-member and a bad token are refused as on every other route.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_change_revokes_the_old_token_on_reads_and_posts_at_once() {
    for (store, _guard) in engines().await {
        let other_node = match store.engine() {
            "postgres" => conclave_ds::open_store(&postgres_url().unwrap(), 2)
                .await
                .unwrap(),
            _ => store.clone(),
        };
        let (node_1, node_2) = (Api::new(store), Api::new(other_node));
        let mut rng = rng();
        let name = unique("dora");
        let dora = identity(&name, &mut rng);
        let old_token = node_1.register_and_login(&name, &dora).await;
        let outsider = unique("outsider");
        let outsider_token = node_2
            .register_and_login(&outsider, &identity(&outsider, &mut rng))
            .await;
        let gid_bytes = unique("g").into_bytes();
        let gid = hex::encode(&gid_bytes);
        let mut group = Group::create(
            MemberParams::new(env(), dora.clone()),
            NewGroup::new(SUITE, gid_bytes),
            node_1.clock.now(),
            &mut rng,
        )
        .unwrap();
        let r = node_1
            .post_json(
                "/v1/groups",
                Some(&old_token),
                serde_json::json!({"group_id": gid}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
        let path = format!("/v1/groups/{gid}/messages");
        // Both nodes serve the member (and so have the token and group in any cache).
        for node in [&node_1, &node_2] {
            let m = group
                .encrypt_application_message(b"before", b"", &mut rng)
                .unwrap();
            let r = node.post_message(&old_token, &gid, &m).await;
            assert_eq!(
                r.status,
                StatusCode::OK,
                "{}",
                String::from_utf8_lossy(&r.body)
            );
            assert_eq!(
                node.get(&path, Some(&old_token)).await.status,
                StatusCode::OK
            );
        }
        // A non-member: 404 on both routes, as for a group that does not exist.
        let m = group
            .encrypt_application_message(b"outsider", b"", &mut rng)
            .unwrap();
        for node in [&node_1, &node_2] {
            node.get(&path, Some(&outsider_token))
                .await
                .assert_error(StatusCode::NOT_FOUND, "not_found");
            node.post_message(&outsider_token, &gid, &m)
                .await
                .assert_error(StatusCode::NOT_FOUND, "not_found");
        }
        // A bad token: 401 whatever the group (known, unknown, malformed) or the body.
        let unknown = node_1.get(&path, Some("no such token")).await;
        unknown.assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
        for node in [&node_1, &node_2] {
            for p in [
                path.clone(),
                format!("/v1/groups/{}/messages", hex::encode(b"nope")),
                "/v1/groups/not-hex/messages".to_owned(),
                format!("{path}?after=banana"),
            ] {
                node.get(&p, Some("no such token"))
                    .await
                    .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
                node.call(
                    Method::POST,
                    &p,
                    Some("no such token"),
                    Some(wire::MLS_MEDIA_TYPE),
                    m.to_bytes().unwrap(),
                )
                .await
                .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
            }
            node.call(
                Method::POST,
                &path,
                Some("no such token"),
                Some("text/plain"),
                b"not MLS".to_vec(),
            )
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
        }

        // Dora changes her key on node 1: her old token is refused at once on both nodes,
        // on both routes, with the same answer as an unknown token.
        let rotated = identity(&name, &mut rng);
        let r = change(&node_1, Some(&old_token), &name, &dora, &rotated, &rotated).await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        let m = group
            .encrypt_application_message(b"after", b"", &mut rng)
            .unwrap();
        for node in [&node_2, &node_1] {
            let read = node.get(&path, Some(&old_token)).await;
            read.assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
            assert_eq!(read.body, unknown.body);
            let post = node.post_message(&old_token, &gid, &m).await;
            post.assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
            assert_eq!(post.body, unknown.body);
        }
        // Nothing was appended with the old token; a token of the new key works everywhere.
        let new_token = node_2.login(&name, &rotated).await;
        let entries = |r: Reply| r.json()["entries"].as_array().unwrap().len();
        assert_eq!(entries(node_1.get(&path, Some(&new_token)).await), 2);
        let r = node_2.post_message(&new_token, &gid, &m).await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(r.json()["seq"], 3);
        assert_eq!(entries(node_1.get(&path, Some(&new_token)).await), 3);
    }
}
