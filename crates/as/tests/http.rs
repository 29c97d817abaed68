//! The AS HTTP API (RFC 9750 §4): every route and error case through the router in process,
//! and [`AsClient`] against a real listener. The `conclave-as` binary is tested in the
//! `conclave-server` crate.

// Test code: a panic is a test failure (clippy.toml allows this in #[test] functions; the
// helpers of this file are test code too).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use conclave_api::AsClient;
use conclave_api::authentication::{CREDENTIAL_MEDIA_TYPE, ENROLMENT_MEDIA_TYPE};
use conclave_as::http::{AsHttpState, router};
use conclave_as::sqlite::SqliteAsStore;
use conclave_as::{AuthenticationService, EnrolmentRequest, InMemoryAsStore};
use conclave_codec::{Decode, Encode};
use conclave_core::credential::{
    CredentialCheck, CredentialRole, IdentityProvider, X509IdentityProvider,
};
use conclave_core::messages::{Credential, SignaturePublicKey};
use conclave_crypto::{CipherSuite, CipherSuiteProvider, CryptoProvider, Secret};
use conclave_crypto_rustcrypto::RustCryptoProvider;
use conclave_service::OsRandom;
use tower::ServiceExt as _;

const ADMIN: &str = "admin-secret-for-tests";

fn cs() -> Box<dyn CipherSuiteProvider> {
    RustCryptoProvider
        .cipher_suite_provider(CipherSuite(1))
        .unwrap()
}

struct Api {
    router: Router,
    clock: Arc<AtomicU64>,
    root: Vec<u8>,
}

struct Reply {
    status: StatusCode,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {} {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    #[track_caller]
    fn assert_error(&self, status: StatusCode, code: &str) -> String {
        assert_eq!(
            self.status,
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.content_type.as_deref(), Some("application/json"));
        let j = self.json();
        assert_eq!(j["error"], code, "{j}");
        let message = j["message"].as_str().unwrap().to_owned();
        assert!(!message.is_empty());
        message
    }
}

impl Api {
    fn new() -> Self {
        let clock = Arc::new(AtomicU64::new(conclave_service::now_seconds()));
        let service = AuthenticationService::open_or_create(
            SqliteAsStore::in_memory().unwrap(),
            cs(),
            clock.load(Ordering::SeqCst),
            &mut OsRandom,
        )
        .unwrap()
        .with_token_lifetime(3600);
        let root = service.root_certificate().to_vec();
        let c = clock.clone();
        let state = AsHttpState::new(service, ADMIN.as_bytes())
            .with_clock(Arc::new(move || c.load(Ordering::SeqCst)))
            .with_max_body(4096);
        Self {
            router: router(state),
            clock,
            root,
        }
    }

    fn now(&self) -> u64 {
        self.clock.load(Ordering::SeqCst)
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Body,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = self
            .router
            .clone()
            .oneshot(request.body(body).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        Reply {
            status,
            content_type,
            body,
        }
    }

    async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, &[], Body::empty()).await
    }

    async fn admin_post(&self, path: &str, admin: Option<&str>, json: &str) -> Reply {
        let auth = admin.map(|a| format!("Bearer {a}"));
        let mut headers = vec![("content-type", "application/json")];
        if let Some(a) = &auth {
            headers.push(("authorization", a.as_str()));
        }
        self.call(Method::POST, path, &headers, Body::from(json.to_owned()))
            .await
    }

    async fn token(&self, name: &str) -> String {
        let r = self
            .admin_post(
                "/v1/as/tokens",
                Some(ADMIN),
                &format!(r#"{{"name":"{name}"}}"#),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.json()["name"], name);
        r.json()["token"].as_str().unwrap().to_owned()
    }

    async fn enrol(&self, request: &EnrolmentRequest) -> Reply {
        self.enrol_raw(request.to_bytes().unwrap()).await
    }

    async fn enrol_raw(&self, body: Vec<u8>) -> Reply {
        self.call(
            Method::POST,
            "/v1/as/enrol",
            &[("content-type", ENROLMENT_MEDIA_TYPE)],
            Body::from(body),
        )
        .await
    }
}

/// A fresh key pair and a signed request for `name` with `token`.
fn signed_request(name: &str, token: &str) -> (EnrolmentRequest, SignaturePublicKey, Secret) {
    let cs = cs();
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
    (request, key, secret)
}

fn member_check(
    root: &[u8],
    credential: &Credential,
    key: &SignaturePublicKey,
    now: u64,
) -> Result<Vec<u8>, conclave_core::credential::CredentialError> {
    let provider = X509IdentityProvider::new([root], &RustCryptoProvider).unwrap();
    provider.validate_credential(&CredentialCheck {
        credential,
        signature_key: key,
        signature_scheme: cs().signature(),
        role: CredentialRole::Member,
        now,
    })?;
    provider.identity(credential)
}

#[tokio::test]
async fn health_and_root() {
    let api = Api::new();
    let r = api.get("/v1/as/health").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), serde_json::json!({"status": "ok"}));
    let r = api.get("/v1/as/root").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["cipher_suite"], 1);
    let root = STANDARD
        .decode(r.json()["root_certificate"].as_str().unwrap())
        .unwrap();
    assert_eq!(root, api.root);
    // The root parses as a trust anchor.
    X509IdentityProvider::new([&root], &RustCryptoProvider).unwrap();
    // Wrong method: a JSON 405.
    api.call(Method::POST, "/v1/as/root", &[], Body::empty())
        .await
        .assert_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    api.get("/v1/as/enrol")
        .await
        .assert_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
}

#[tokio::test]
async fn tokens_need_the_admin_token_and_a_valid_name() {
    let api = Api::new();
    let body = r#"{"name":"alice"}"#;
    let m = api
        .admin_post("/v1/as/tokens", None, body)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(m.contains("admin token"), "{m}");
    api.admin_post("/v1/as/tokens", Some("not-the-token"), body)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    api.admin_post("/v1/as/tokens", Some(&format!("{ADMIN}x")), body)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    api.call(
        Method::POST,
        "/v1/as/tokens",
        &[
            ("content-type", "application/json"),
            ("authorization", &format!("Basic {ADMIN}")),
        ],
        Body::from(body),
    )
    .await
    .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    // Malformed bodies.
    api.admin_post("/v1/as/tokens", Some(ADMIN), "{not json")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request");
    api.admin_post("/v1/as/tokens", Some(ADMIN), r#"{"nom":"alice"}"#)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request");
    api.call(
        Method::POST,
        "/v1/as/tokens",
        &[("authorization", &format!("Bearer {ADMIN}"))],
        Body::from(body),
    )
    .await
    .assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    let m = api
        .admin_post("/v1/as/tokens", Some(ADMIN), r#"{"name":"Alice Smith"}"#)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_name");
    assert!(m.contains("a-z"), "{m}");
    // The right token: two tokens for one name are distinct.
    let t1 = api.token("alice").await;
    let t2 = api.token("alice").await;
    assert_ne!(t1, t2);
    assert_eq!(t1.len(), 32);
}

#[tokio::test]
async fn enrolment_issues_a_credential_once_per_token() {
    let api = Api::new();
    let token = api.token("alice").await;
    let (good, key, _) = signed_request("alice", &token);

    // A forged proof is refused and does not use the token up.
    let (mut forged, _, _) = signed_request("alice", &token);
    forged.signature_key = key.clone();
    api.enrol(&forged)
        .await
        .assert_error(StatusCode::FORBIDDEN, "invalid_proof");
    // Someone else's name with this token.
    let (other, _, _) = signed_request("bob", &token);
    api.enrol(&other)
        .await
        .assert_error(StatusCode::FORBIDDEN, "invalid_token");

    let r = api.enrol(&good).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.content_type.as_deref(), Some(CREDENTIAL_MEDIA_TYPE));
    let credential = Credential::from_bytes(&r.body).unwrap();
    let Credential::X509 { certificates } = &credential else {
        panic!("not X.509")
    };
    assert_eq!(certificates.len(), 2);
    assert_eq!(certificates[1].cert_data, api.root);
    assert_eq!(
        member_check(&api.root, &credential, &key, api.now()).unwrap(),
        b"mls://alice"
    );

    // The token is used up.
    let m = api
        .enrol(&good)
        .await
        .assert_error(StatusCode::FORBIDDEN, "invalid_token");
    assert!(m.contains("new one"), "{m}");
    // Unknown token, bad name.
    let (unknown, _, _) = signed_request("alice", "0123456789abcdef0123456789abcdef");
    api.enrol(&unknown)
        .await
        .assert_error(StatusCode::FORBIDDEN, "invalid_token");
    let (bad_name, _, _) = signed_request("Alice!", &token);
    api.enrol(&bad_name)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_name");
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let api = Api::new();
    let token = api.token("carol").await;
    api.clock.fetch_add(3601, Ordering::SeqCst);
    let (request, _, _) = signed_request("carol", &token);
    let m = api
        .enrol(&request)
        .await
        .assert_error(StatusCode::FORBIDDEN, "invalid_token");
    assert!(m.contains("expired"), "{m}");
}

#[tokio::test]
async fn malformed_and_oversized_enrolments_are_refused() {
    let api = Api::new();
    api.enrol_raw(b"\x05abc".to_vec())
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request");
    let token = api.token("dave").await;
    let (good, _, _) = signed_request("dave", &token);
    let mut trailing = good.to_bytes().unwrap();
    trailing.push(0);
    api.enrol_raw(trailing)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request");
    api.call(
        Method::POST,
        "/v1/as/enrol",
        &[("content-type", "application/json")],
        Body::from(good.to_bytes().unwrap()),
    )
    .await
    .assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    // Over the 4096-byte limit: with a Content-Length, and streamed without one.
    api.enrol_raw(vec![0u8; 5000])
        .await
        .assert_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..10).map(|_| Ok(vec![0u8; 1000])).collect();
    let stream = Body::from_stream(futures_util::stream::iter(chunks));
    api.call(
        Method::POST,
        "/v1/as/enrol",
        &[("content-type", ENROLMENT_MEDIA_TYPE)],
        stream,
    )
    .await
    .assert_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    let big_name = format!(r#"{{"name":"{}"}}"#, "a".repeat(5000));
    api.admin_post("/v1/as/tokens", Some(ADMIN), &big_name)
        .await
        .assert_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    // None of this used the token up.
    assert_eq!(api.enrol(&good).await.status, StatusCode::OK);
}

#[tokio::test]
async fn revocation() {
    let api = Api::new();
    let token = api.token("bob").await;
    let body = r#"{"name":"bob"}"#;
    api.admin_post("/v1/as/revoke", None, body)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    api.admin_post("/v1/as/revoke", Some("wrong"), body)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    api.admin_post("/v1/as/revoke", Some(ADMIN), r#"{"name":"../bob"}"#)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_name");
    api.admin_post("/v1/as/revoke", Some(ADMIN), "[]")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request");
    let r = api.get("/v1/as/revoked").await;
    assert_eq!(r.json(), serde_json::json!({"revoked": []}));

    let r = api.admin_post("/v1/as/revoke", Some(ADMIN), body).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.body.is_empty());
    let r = api.admin_post("/v1/as/revoke", Some(ADMIN), body).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = api.get("/v1/as/revoked").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), serde_json::json!({"revoked": ["mls://bob"]}));

    // A revoked client cannot enrol, even with a token issued before.
    let (request, _, _) = signed_request("bob", &token);
    let m = api
        .enrol(&request)
        .await
        .assert_error(StatusCode::FORBIDDEN, "revoked");
    assert!(m.contains("bob"), "{m}");
}

/// Serves `state` on a loopback port; returns the base URL.
async fn serve(state: AsHttpState) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router(state)).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn as_client_against_a_listener() {
    let service = AuthenticationService::open_or_create(
        InMemoryAsStore::new(),
        cs(),
        conclave_service::now_seconds(),
        &mut OsRandom,
    )
    .unwrap();
    let base = serve(AsHttpState::new(service, ADMIN.as_bytes())).await;
    let client = AsClient::new(&format!("{base}/")).unwrap();
    client.health().await.unwrap();
    let root = client.root().await.unwrap();
    assert_eq!(root.cipher_suite, CipherSuite(1));

    let err = client.issue_token("wrong", "alice").await.unwrap_err();
    assert_eq!(err.code(), Some("unauthorized"));
    assert!(err.to_string().contains("admin token"), "{err}");
    let err = client.issue_token(ADMIN, "no spaces").await.unwrap_err();
    assert_eq!(err.code(), Some("invalid_name"));

    let token = client.issue_token(ADMIN, "alice").await.unwrap();
    let (request, key, _) = signed_request("alice", &token);
    let credential = client.enrol(&request).await.unwrap();
    let now = conclave_service::now_seconds();
    assert_eq!(
        member_check(&root.root_certificate, &credential, &key, now).unwrap(),
        b"mls://alice"
    );
    let err = client.enrol(&request).await.unwrap_err();
    assert!(
        matches!(&err, conclave_api::ApiError::Refused { status: 403, code, message, .. }
            if code == "invalid_token" && !message.is_empty()),
        "{err}"
    );

    assert!(client.revoked().await.unwrap().is_empty());
    let err = client.revoke("wrong", "alice").await.unwrap_err();
    assert_eq!(err.code(), Some("unauthorized"));
    client.revoke(ADMIN, "alice").await.unwrap();
    assert_eq!(client.revoked().await.unwrap(), vec!["mls://alice"]);
    // Members fed with the list refuse the revoked client's credential.
    let list = client.revocation_list().await.unwrap();
    let provider = X509IdentityProvider::new([&root.root_certificate], &RustCryptoProvider)
        .unwrap()
        .with_revocation_list(list);
    assert!(
        provider
            .validate_credential(&CredentialCheck {
                credential: &credential,
                signature_key: &key,
                signature_scheme: cs().signature(),
                role: CredentialRole::NewMember,
                now,
            })
            .is_err()
    );
    let err = client.enrol(&request).await.unwrap_err();
    assert_eq!(err.code(), Some("revoked"));

    // Nobody listening: a transport error.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let err = AsClient::new(&dead).unwrap().root().await.unwrap_err();
    assert!(matches!(err, conclave_api::ApiError::Unreachable { .. }));
}

/// The UserInfo VC mode (draft-barnes-mls-addl-creds-01 §3.1): the same enrolment request at
/// `/v1/as/enrol-vc` gives a `userinfo-vc` credential that verifies under the JWK Set the AS
/// publishes, as a member with only that set validates it.
#[tokio::test]
async fn enrol_vc_issues_a_userinfo_vc_verifiable_with_the_published_jwk_set() {
    use conclave_core::credential::{IssuerKeys, UserInfoVcIdentityProvider};

    let api = Api::new();
    let jwks = api.get("/v1/as/vc/jwks").await;
    assert_eq!(jwks.status, StatusCode::OK);
    let issuer = jwks.json()["issuer"].as_str().unwrap().to_owned();
    assert!(issuer.starts_with("urn:conclave:as:"), "{issuer}");
    assert_eq!(jwks.json()["keys"][0]["kty"], "OKP");

    let token = api.token("alice").await;
    let (request, key, _secret) = signed_request("alice", &token);
    let reply = api
        .call(
            Method::POST,
            "/v1/as/enrol-vc",
            &[("content-type", ENROLMENT_MEDIA_TYPE)],
            Body::from(request.to_bytes().unwrap()),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.content_type.as_deref(), Some(CREDENTIAL_MEDIA_TYPE));
    let credential = Credential::from_bytes(&reply.body).unwrap();
    assert!(matches!(credential, Credential::UserInfoVc(_)));

    let mut keys = IssuerKeys::new();
    keys.insert_jwks_json(&issuer, &jwks.body).unwrap();
    let provider = UserInfoVcIdentityProvider::new(keys);
    let check = |now| {
        provider.validate_credential(&CredentialCheck {
            credential: &credential,
            signature_key: &key,
            signature_scheme: cs().signature(),
            role: CredentialRole::Member,
            now,
        })
    };
    check(api.now()).unwrap();
    assert_eq!(provider.claims(&credential).unwrap().subject, "alice");
    // The default lifetime is a day.
    assert!(check(api.now() + 2 * 24 * 3600).is_err());
    // The token is used up, for both modes.
    let again = api
        .call(
            Method::POST,
            "/v1/as/enrol-vc",
            &[("content-type", ENROLMENT_MEDIA_TYPE)],
            Body::from(request.to_bytes().unwrap()),
        )
        .await;
    again.assert_error(StatusCode::FORBIDDEN, "invalid_token");
    api.enrol(&request)
        .await
        .assert_error(StatusCode::FORBIDDEN, "invalid_token");
    // Wrong method, wrong media type.
    assert_eq!(
        api.get("/v1/as/enrol-vc").await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    api.call(
        Method::POST,
        "/v1/as/enrol-vc",
        &[("content-type", "application/json")],
        Body::from("{}"),
    )
    .await
    .assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
}

/// `AsClient`'s UserInfo VC mode against a real listener: the JWK set it fetches verifies the
/// VC it enrols for.
#[tokio::test]
async fn as_client_enrols_a_userinfo_vc_and_fetches_the_jwk_set() {
    use conclave_core::credential::{IssuerKeys, UserInfoVcIdentityProvider};

    let service = AuthenticationService::open_or_create(
        InMemoryAsStore::new(),
        cs(),
        conclave_service::now_seconds(),
        &mut OsRandom,
    )
    .unwrap();
    let base = serve(AsHttpState::new(service, ADMIN.as_bytes())).await;
    let client = AsClient::new(&format!("{base}/")).unwrap();
    let (issuer, jwks) = client.vc_jwks().await.unwrap();
    let token = client.issue_token(ADMIN, "alice").await.unwrap();
    let (request, key, _) = signed_request("alice", &token);
    let credential = client.enrol_userinfo_vc(&request).await.unwrap();
    let mut keys = IssuerKeys::new();
    keys.insert_jwks_json(&issuer, &jwks).unwrap();
    let provider = UserInfoVcIdentityProvider::new(keys);
    provider
        .validate_credential(&CredentialCheck {
            credential: &credential,
            signature_key: &key,
            signature_scheme: cs().signature(),
            role: CredentialRole::NewMember,
            now: conclave_service::now_seconds(),
        })
        .unwrap();
    let err = client.enrol_userinfo_vc(&request).await.unwrap_err();
    assert_eq!(err.code(), Some("invalid_token"));
}
