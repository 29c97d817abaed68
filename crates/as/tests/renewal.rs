//! Credential renewal (`POST /v1/as/renew`, RFC 9750 §4): a fresh certificate for the same
//! name without a new token, for the current key or a new one; refused for another AS's
//! credential, a wrong or missing proof, a revoked client, a certificate expired beyond the
//! grace period, or a stale request. Through the router in process, and with
//! `AsClient::renew` against a listener.

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

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use conclave_api::AsClient;
use conclave_api::authentication::{CREDENTIAL_MEDIA_TYPE, RENEWAL_MEDIA_TYPE};
use conclave_as::http::{AsHttpState, router};
use conclave_as::setup::{AsOptions, open};
use conclave_as::sqlite::SqliteAsStore;
use conclave_as::{
    AuthenticationService, DEFAULT_RENEWAL_GRACE, EnrolmentRequest, InMemoryAsStore, RenewalRequest,
};
use conclave_codec::{Decode, Encode};
use conclave_core::credential::{
    CredentialCheck, CredentialError, CredentialRole, IdentityProvider, X509IdentityProvider,
};
use conclave_core::messages::{Credential, SignaturePublicKey};
use conclave_crypto::{CipherSuite, CipherSuiteProvider, CryptoProvider, Secret};
use conclave_crypto_rustcrypto::RustCryptoProvider;
use conclave_service::OsRandom;
use tower::ServiceExt as _;

const ADMIN: &str = "admin-secret-for-tests";
const LIFETIME: u64 = 3600;
const GRACE: u64 = 2 * 3600;

fn cs() -> Box<dyn CipherSuiteProvider> {
    RustCryptoProvider
        .cipher_suite_provider(CipherSuite(1))
        .unwrap()
}

/// A client's key pair and credential.
struct Enrolled {
    key: SignaturePublicKey,
    secret: Secret,
    credential: Credential,
}

fn key_pair() -> (SignaturePublicKey, Secret) {
    let (secret, public) = cs().signature_generate(&mut OsRandom).unwrap();
    (SignaturePublicKey(public), secret)
}

/// Enrols `name` with `service` at `now` (sans-IO).
fn enrol<S: conclave_as::AsStore>(
    service: &AuthenticationService<S>,
    name: &str,
    now: u64,
) -> Enrolled {
    let token = service.issue_token(name, now, &mut OsRandom).unwrap();
    let (key, secret) = key_pair();
    let request = EnrolmentRequest::sign(cs().as_ref(), name, key.clone(), &secret, token).unwrap();
    Enrolled {
        credential: service.enrol(&request, now).unwrap(),
        key,
        secret,
    }
}

impl Enrolled {
    /// A renewal request keeping the key.
    fn renewal(&self, timestamp: u64) -> RenewalRequest {
        RenewalRequest::sign(
            cs().as_ref(),
            self.credential.clone(),
            &self.key,
            &self.secret,
            None,
            timestamp,
        )
        .unwrap()
    }

    /// A renewal request moving to `new`.
    fn rotation(&self, new: &(SignaturePublicKey, Secret), timestamp: u64) -> RenewalRequest {
        RenewalRequest::sign(
            cs().as_ref(),
            self.credential.clone(),
            &self.key,
            &self.secret,
            Some((&new.0, &new.1)),
            timestamp,
        )
        .unwrap()
    }
}

fn member_check(
    root: &[u8],
    credential: &Credential,
    key: &SignaturePublicKey,
    now: u64,
) -> Result<Vec<u8>, CredentialError> {
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

fn leaf(credential: &Credential) -> Vec<u8> {
    let Credential::X509 { certificates } = credential else {
        panic!("not X.509")
    };
    certificates[0].cert_data.clone()
}

struct Api {
    state: Arc<AsHttpState>,
    clock: Arc<AtomicU64>,
}

struct Reply {
    status: StatusCode,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Reply {
    #[track_caller]
    fn credential(&self) -> Credential {
        assert_eq!(
            self.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.content_type.as_deref(), Some(CREDENTIAL_MEDIA_TYPE));
        Credential::from_bytes(&self.body).unwrap()
    }

    #[track_caller]
    fn assert_error(&self, status: StatusCode, code: &str) -> String {
        assert_eq!(
            self.status,
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        let j: serde_json::Value = serde_json::from_slice(&self.body).unwrap();
        assert_eq!(j["error"], code, "{j}");
        j["message"].as_str().unwrap().to_owned()
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
        .with_certificate_lifetime(LIFETIME)
        .with_renewal_grace(GRACE);
        let c = clock.clone();
        let state = AsHttpState::new(service, ADMIN.as_bytes())
            .with_clock(Arc::new(move || c.load(Ordering::SeqCst)));
        Self {
            state: Arc::new(state),
            clock,
        }
    }

    fn now(&self) -> u64 {
        self.clock.load(Ordering::SeqCst)
    }

    fn advance(&self, seconds: u64) {
        self.clock.fetch_add(seconds, Ordering::SeqCst);
    }

    fn root(&self) -> Vec<u8> {
        self.state.service().root_certificate().to_vec()
    }

    fn enrol(&self, name: &str) -> Enrolled {
        enrol(self.state.service(), name, self.now())
    }

    async fn call(&self, method: Method, content_type: &str, body: Vec<u8>) -> Reply {
        let request = Request::builder()
            .method(method)
            .uri("/v1/as/renew")
            .header("content-type", content_type)
            .body(Body::from(body))
            .unwrap();
        let response = router(self.state.clone()).oneshot(request).await.unwrap();
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

    async fn renew(&self, request: &RenewalRequest) -> Reply {
        self.call(
            Method::POST,
            RENEWAL_MEDIA_TYPE,
            request.to_bytes().unwrap(),
        )
        .await
    }
}

#[tokio::test]
async fn renewal_keeps_the_name_and_the_key() {
    let api = Api::new();
    let alice = api.enrol("alice");
    api.advance(LIFETIME / 2);
    let renewed = api.renew(&alice.renewal(api.now())).await.credential();
    assert_ne!(leaf(&renewed), leaf(&alice.credential));
    assert_eq!(
        member_check(&api.root(), &renewed, &alice.key, api.now()).unwrap(),
        b"mls://alice"
    );
    // The new certificate runs from now: valid past the old one's end.
    let later = api.now() + LIFETIME - 120;
    assert!(member_check(&api.root(), &alice.credential, &alice.key, later).is_err());
    member_check(&api.root(), &renewed, &alice.key, later).unwrap();
    // Both certificates are recorded.
    assert_eq!(api.state.service().issued("alice").unwrap().len(), 2);
    // The renewed credential renews in turn.
    let again = Enrolled {
        key: alice.key.clone(),
        secret: alice.secret.clone(),
        credential: renewed,
    };
    api.renew(&again.renewal(api.now())).await.credential();
}

#[tokio::test]
async fn renewal_within_the_grace_period_and_beyond() {
    let api = Api::new();
    let alice = api.enrol("alice");
    let bob = api.enrol("bob");
    // Alice's certificate expired an hour ago (grace: two hours): renewed.
    api.advance(LIFETIME + 3600);
    let renewed = api.renew(&alice.renewal(api.now())).await.credential();
    member_check(&api.root(), &renewed, &alice.key, api.now()).unwrap();
    // Bob's expired more than two hours ago: he must enrol again.
    api.advance(3600 + 120);
    let m = api
        .renew(&bob.renewal(api.now()))
        .await
        .assert_error(StatusCode::FORBIDDEN, "renewal_expired");
    assert!(m.contains("grace") && m.contains("enrol again"), "{m}");
    // A fresh enrolment works again, and so does renewing that.
    let bob = api.enrol("bob");
    api.renew(&bob.renewal(api.now())).await.credential();
}

#[tokio::test]
async fn renewal_can_rotate_the_key() {
    let api = Api::new();
    let alice = api.enrol("alice");
    let new = key_pair();
    let renewed = api
        .renew(&alice.rotation(&new, api.now()))
        .await
        .credential();
    assert_eq!(
        member_check(&api.root(), &renewed, &new.0, api.now()).unwrap(),
        b"mls://alice"
    );
    assert!(matches!(
        member_check(&api.root(), &renewed, &alice.key, api.now()),
        Err(CredentialError::KeyMismatch)
    ));

    // A new key without its proof: the AS must not certify a key nobody proved to hold.
    let mut unproven = alice.rotation(&new, api.now());
    unproven.new_key_proof = None;
    api.renew(&unproven)
        .await
        .assert_error(StatusCode::FORBIDDEN, "invalid_proof");
    // The new-key proof made by another key.
    let stranger = key_pair();
    let mut forged = alice.rotation(&new, api.now());
    forged.new_key_proof = alice.rotation(&stranger, api.now()).new_key_proof;
    api.renew(&forged)
        .await
        .assert_error(StatusCode::FORBIDDEN, "invalid_proof");
    // The current key's proof reused as the new key's (labels differ).
    let mut swapped = alice.renewal(api.now());
    swapped.signature_key = alice.key.clone();
    swapped.new_key_proof = Some(swapped.proof.clone());
    api.renew(&swapped)
        .await
        .assert_error(StatusCode::FORBIDDEN, "invalid_proof");
}

#[tokio::test]
async fn renewal_needs_the_current_key() {
    let api = Api::new();
    let alice = api.enrol("alice");
    // Someone holding Alice's (public) credential but not her key: signs with their own.
    let mallory = key_pair();
    let stolen = Enrolled {
        key: alice.key.clone(),
        secret: mallory.1.clone(),
        credential: alice.credential.clone(),
    };
    api.renew(&stolen.renewal(api.now()))
        .await
        .assert_error(StatusCode::FORBIDDEN, "invalid_proof");
    // ... or asking for their own key with a proof by it.
    let theirs = Enrolled {
        key: alice.key.clone(),
        secret: mallory.1.clone(),
        credential: alice.credential.clone(),
    };
    api.renew(&theirs.rotation(&mallory, api.now()))
        .await
        .assert_error(StatusCode::FORBIDDEN, "invalid_proof");
    // A valid request whose fields were changed after signing.
    let mut altered = alice.renewal(api.now());
    altered.timestamp += 1;
    api.renew(&altered)
        .await
        .assert_error(StatusCode::FORBIDDEN, "invalid_proof");
    // A stale (or replayed) request, and one from a clock far ahead.
    let old = alice.renewal(api.now() - 301);
    let m = api
        .renew(&old)
        .await
        .assert_error(StatusCode::FORBIDDEN, "stale_request");
    assert!(m.contains("clock"), "{m}");
    api.renew(&alice.renewal(api.now() + 301))
        .await
        .assert_error(StatusCode::FORBIDDEN, "stale_request");
    api.renew(&alice.renewal(api.now() - 299))
        .await
        .credential();
}

#[tokio::test]
async fn foreign_and_revoked_credentials_are_not_renewed() {
    let api = Api::new();
    // A credential of another AS (same name, same suite).
    let other = AuthenticationService::open_or_create(
        InMemoryAsStore::new(),
        cs(),
        api.now(),
        &mut OsRandom,
    )
    .unwrap();
    let foreign = enrol(&other, "alice", api.now());
    let m = api
        .renew(&foreign.renewal(api.now()))
        .await
        .assert_error(StatusCode::FORBIDDEN, "not_renewable");
    assert!(m.contains("not one this AS issued"), "{m}");
    // A basic credential.
    let (key, secret) = key_pair();
    let basic = Enrolled {
        key,
        secret,
        credential: Credential::Basic {
            identity: b"mls://alice".to_vec(),
        },
    };
    api.renew(&basic.renewal(api.now()))
        .await
        .assert_error(StatusCode::FORBIDDEN, "not_renewable");
    // Our own leaf, chained to the other AS's root.
    let alice = api.enrol("alice");
    let Credential::X509 { certificates } = &foreign.credential else {
        panic!()
    };
    let mut mixed = Enrolled {
        key: alice.key.clone(),
        secret: alice.secret.clone(),
        credential: alice.credential.clone(),
    };
    if let Credential::X509 {
        certificates: chain,
    } = &mut mixed.credential
    {
        chain[1] = certificates[1].clone();
    }
    api.renew(&mixed.renewal(api.now()))
        .await
        .assert_error(StatusCode::FORBIDDEN, "not_renewable");
    // A leaf that does not parse.
    let mut garbage = alice.renewal(api.now());
    if let Credential::X509 { certificates } = &mut garbage.credential {
        certificates[0].cert_data = vec![0x30, 0x03, 0x02, 0x01, 0x01];
    }
    api.renew(&garbage)
        .await
        .assert_error(StatusCode::FORBIDDEN, "not_renewable");

    // Revoked: no renewal, whatever the proof.
    let bob = api.enrol("bob");
    api.state.service().revoke("bob").unwrap();
    let m = api
        .renew(&bob.renewal(api.now()))
        .await
        .assert_error(StatusCode::FORBIDDEN, "revoked");
    assert!(m.contains("bob"), "{m}");
    // Alice is unaffected.
    api.renew(&alice.renewal(api.now())).await.credential();
}

#[tokio::test]
async fn malformed_renewals_are_refused() {
    let api = Api::new();
    let alice = api.enrol("alice");
    let good = alice.renewal(api.now()).to_bytes().unwrap();
    api.call(Method::POST, RENEWAL_MEDIA_TYPE, b"\x01\x02".to_vec())
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request");
    let mut trailing = good.clone();
    trailing.push(0);
    api.call(Method::POST, RENEWAL_MEDIA_TYPE, trailing)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request");
    api.call(Method::POST, "application/json", good.clone())
        .await
        .assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    api.call(Method::GET, RENEWAL_MEDIA_TYPE, Vec::new())
        .await
        .assert_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    api.call(Method::POST, RENEWAL_MEDIA_TYPE, good)
        .await
        .credential();
}

#[tokio::test]
async fn as_client_renews() {
    let service = AuthenticationService::open_or_create(
        InMemoryAsStore::new(),
        cs(),
        conclave_service::now_seconds(),
        &mut OsRandom,
    )
    .unwrap();
    assert_eq!(service.renewal_grace(), DEFAULT_RENEWAL_GRACE);
    let now = conclave_service::now_seconds();
    let alice = enrol(&service, "alice", now);
    let state = AsHttpState::new(service, ADMIN.as_bytes());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router(state)).await });
    let client = AsClient::new(&format!("http://{addr}")).unwrap();
    let root = client.root().await.unwrap().root_certificate;

    let new = key_pair();
    let renewed = client
        .renew(&alice.rotation(&new, conclave_service::now_seconds()))
        .await
        .unwrap();
    assert_eq!(
        member_check(&root, &renewed, &new.0, conclave_service::now_seconds()).unwrap(),
        b"mls://alice"
    );
    let err = client
        .renew(&alice.renewal(conclave_service::now_seconds() - 3600))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("stale_request"));
    client.revoke(ADMIN, "alice").await.unwrap();
    let err = client
        .renew(&alice.renewal(conclave_service::now_seconds()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, conclave_api::ApiError::Refused { status: 403, code, .. }
            if code == "revoked"),
        "{err}"
    );
}

#[test]
fn setup_configures_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let state = open(&AsOptions {
        database: "sqlite::memory:".into(),
        admin_token_file: dir.path().join("admin-token"),
        renewal_grace: 42,
        ..AsOptions::default()
    })
    .unwrap();
    assert_eq!(state.service().renewal_grace(), 42);
    assert_eq!(AsOptions::default().renewal_grace, 7 * 24 * 3600);
}

#[tokio::test]
async fn after_a_key_rotation_only_the_new_certificate_renews() {
    let api = Api::new();
    let alice = api.enrol("alice");
    let new = key_pair();
    let rotated = Enrolled {
        credential: api
            .renew(&alice.rotation(&new, api.now()))
            .await
            .credential(),
        key: new.0.clone(),
        secret: new.1.clone(),
    };
    api.advance(10);
    // The old certificate and key (still within their lifetime) renew nothing any more:
    // neither for the old key, nor to a key of the thief's choosing.
    let m = api
        .renew(&alice.renewal(api.now()))
        .await
        .assert_error(StatusCode::FORBIDDEN, "superseded");
    assert!(m.contains("latest"), "{m}");
    let thief = key_pair();
    api.renew(&alice.rotation(&thief, api.now()))
        .await
        .assert_error(StatusCode::FORBIDDEN, "superseded");
    // The rotated certificate renews, and then it is the one superseded.
    let again = api.renew(&rotated.renewal(api.now())).await.credential();
    api.advance(1);
    api.renew(&rotated.renewal(api.now()))
        .await
        .assert_error(StatusCode::FORBIDDEN, "superseded");
    let latest = Enrolled {
        credential: again,
        key: new.0.clone(),
        secret: new.1.clone(),
    };
    api.renew(&latest.renewal(api.now())).await.credential();
    // A new enrolment supersedes every certificate issued before it.
    let enrolled_again = api.enrol("alice");
    api.advance(1);
    api.renew(&latest.renewal(api.now()))
        .await
        .assert_error(StatusCode::FORBIDDEN, "superseded");
    api.renew(&enrolled_again.renewal(api.now()))
        .await
        .credential();
}

#[tokio::test]
async fn a_renewal_request_is_used_once() {
    let api = Api::new();
    let alice = api.enrol("alice");
    let request = alice.renewal(api.now());
    api.renew(&request).await.credential();
    // The identical request again, within its freshness window.
    let r = api.renew(&request).await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "a replayed renewal was accepted: {}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(api.state.service().issued("alice").unwrap().len(), 2);
}
