//! Shared helpers of the DS test suites: the engines to run on, real MLS clients made with
//! conclave_core, and a client of the HTTP API.
#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use conclave_api::delivery as wire;
use conclave_codec::{Decode, Encode};
use conclave_core::credential::BasicIdentityProvider;
use conclave_core::group::{
    CommitOutput, GroupConfig, GroupEnv, KeyPackageBundle, LeafOptions, MemberParams,
    SigningIdentity,
};
use conclave_core::messages::{Credential, MlsMessage, MlsMessageBody, WireFormat};
use conclave_crypto::{CipherSuite, CryptoProvider, SeededRng};
use conclave_crypto_rustcrypto::RustCryptoProvider;
use conclave_ds::store::Store;
use conclave_ds::{AppState, DsConfig};
use tower::ServiceExt as _;

/// The suite of the tests: MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519.
pub const SUITE: CipherSuite = CipherSuite(1);

/// The PostgreSQL URL of the throwaway test server (mandatory under `CI=true`).
pub fn postgres_url() -> Option<String> {
    conclave_testkit::postgres::server_url()
}

/// A fresh SQLite database in a temporary directory (kept alive by the returned guard).
pub fn sqlite_store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = conclave_ds::store::sqlite::SqliteStore::open(&dir.path().join("ds.db")).unwrap();
    (Arc::new(store), dir)
}

/// The engines to run a test on: SQLite always, PostgreSQL when configured.
pub async fn engines() -> Vec<(Arc<dyn Store>, Option<tempfile::TempDir>)> {
    let (sqlite, dir) = sqlite_store();
    let mut out = vec![(sqlite, Some(dir))];
    if let Some(url) = postgres_url() {
        let pg = conclave_ds::open_store(&url, 8).await.unwrap();
        out.push((pg, None));
    }
    out
}

/// A unique name so that tests sharing one PostgreSQL database never collide.
pub fn unique(prefix: &str) -> String {
    let mut bytes = [0u8; 6];
    conclave_crypto::CryptoRandom::fill(&mut conclave_service::OsRandom, &mut bytes).unwrap();
    format!("{prefix}-{}", hex::encode(bytes))
}

/// A unique group id.
pub fn unique_group_id() -> Vec<u8> {
    unique("group").into_bytes()
}

pub fn rng() -> SeededRng {
    let mut seed = [0u8; 8];
    conclave_crypto::CryptoRandom::fill(&mut conclave_service::OsRandom, &mut seed).unwrap();
    SeededRng::new(u64::from_le_bytes(seed))
}

pub fn env() -> GroupEnv {
    GroupEnv {
        crypto: Arc::new(RustCryptoProvider),
        identity: Arc::new(BasicIdentityProvider),
        psks: Arc::new(RwLock::new(std::collections::HashMap::new())),
    }
}

pub fn identity(name: &str, rng: &mut SeededRng) -> SigningIdentity {
    let cs = RustCryptoProvider.cipher_suite_provider(SUITE).unwrap();
    SigningIdentity::generate(
        cs.as_ref(),
        Credential::Basic {
            identity: name.as_bytes().to_vec(),
        },
        rng,
    )
    .unwrap()
}

pub fn key_package(signer: &SigningIdentity, now: u64, rng: &mut SeededRng) -> KeyPackageBundle {
    key_package_with_lifetime(signer, now, None, rng)
}

pub fn key_package_with_lifetime(
    signer: &SigningIdentity,
    now: u64,
    lifetime: Option<u64>,
    rng: &mut SeededRng,
) -> KeyPackageBundle {
    let options = LeafOptions {
        lifetime_seconds: lifetime,
        ..LeafOptions::default()
    };
    KeyPackageBundle::generate(
        &MemberParams {
            leaf: options,
            ..MemberParams::new(env(), signer.clone())
        },
        SUITE,
        now,
        rng,
    )
    .unwrap()
}

/// A member whose handshakes are PublicMessages (what a verified group requires) and whose
/// group allows external commits.
pub fn public_params(signer: &SigningIdentity) -> MemberParams {
    MemberParams {
        config: GroupConfig {
            handshake_wire_format: WireFormat::PUBLIC_MESSAGE,
            allow_external_commits: true,
            ..GroupConfig::default()
        },
        ..MemberParams::new(env(), signer.clone())
    }
}

/// The bundle of a commit declaring `members` as the member list (which a verified group
/// ignores and an unverified one takes).
pub fn bundle_declaring(output: &CommitOutput, members: &[&str]) -> wire::CommitBundle {
    wire::CommitBundle {
        commit: output.commit.clone(),
        welcome: output.welcome.clone(),
        group_info: output.group_info.clone(),
        ratchet_tree: None,
        members: members.iter().map(|m| m.as_bytes().to_vec()).collect(),
        allow_external_join: None,
    }
}

/// A registered client with its bearer token.
pub struct Account {
    pub id: String,
    pub signer: SigningIdentity,
    pub token: String,
}

/// Registers a client named after `name` (made unique) and logs it in.
pub async fn account(api: &Api, name: &str, rng: &mut SeededRng) -> Account {
    let id = unique(name);
    let signer = identity(&id, rng);
    let token = api.register_and_login(&id, &signer).await;
    Account { id, signer, token }
}

/// The bundle of a commit declaring `members` (see [`bundle_declaring`]).
pub fn bundle_for(output: &CommitOutput, members: &[&Account]) -> wire::CommitBundle {
    let ids: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
    bundle_declaring(output, &ids)
}

/// Asserts a 200, showing the body otherwise.
pub fn ok(r: &Reply) {
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
}

/// Client ids, sorted as the DS lists members.
pub fn sorted(ids: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

/// A PublicMessage with one bit of its signature flipped.
pub fn bad_signature(message: &MlsMessage) -> MlsMessage {
    let mut out = message.clone();
    let MlsMessageBody::PublicMessage(public) = &mut out.body else {
        panic!("not a PublicMessage")
    };
    public.auth.signature[0] ^= 1;
    out
}

/// A last-resort KeyPackage, marked as `profile` marks them (draft-ietf-mls-extensions-10
/// §6.4 for the draft profile).
pub fn last_resort_key_package(
    signer: &SigningIdentity,
    now: u64,
    profile: conclave_core::codepoints::CodepointProfile,
    rng: &mut SeededRng,
) -> KeyPackageBundle {
    let mut member = MemberParams::new(env(), signer.clone());
    member.config.codepoint_profile = profile;
    KeyPackageBundle::generate_last_resort(&member, SUITE, now, rng).unwrap()
}

pub fn kp_message(bundle: &KeyPackageBundle) -> Vec<u8> {
    MlsMessage::new(MlsMessageBody::KeyPackage(bundle.key_package.clone()))
        .to_bytes()
        .unwrap()
}

/// A clock the tests move by hand.
#[derive(Clone)]
pub struct TestClock(pub Arc<AtomicU64>);

impl TestClock {
    pub fn new() -> Self {
        Self(Arc::new(AtomicU64::new(conclave_service::now_seconds())))
    }
    pub fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
    pub fn advance(&self, seconds: u64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

/// The API in process (no socket), over `store`, with a hand-moved clock.
pub struct Api {
    pub router: Router,
    pub clock: TestClock,
    pub state: Arc<AppState>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): status {} body {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
    /// Asserts a JSON error with this status and code.
    pub fn assert_error(&self, status: StatusCode, code: &str) {
        assert_eq!(
            self.status,
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        let j = self.json();
        assert_eq!(j["error"], code, "{j}");
        assert!(!j["message"].as_str().unwrap().is_empty());
    }
}

impl Api {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self::with_config(store, DsConfig::default())
    }

    pub fn with_config(store: Arc<dyn Store>, config: DsConfig) -> Self {
        let clock = TestClock::new();
        let c = clock.clone();
        let state = AppState::with_clock(store, config, Arc::new(move || c.now()));
        Self {
            router: conclave_ds::router(state.clone()),
            clock,
            state,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            request = request.header("authorization", format!("Bearer {t}"));
        }
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let response = self
            .router
            .clone()
            .oneshot(request.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn post_json(&self, path: &str, token: Option<&str>, v: serde_json::Value) -> Reply {
        self.call(
            Method::POST,
            path,
            token,
            Some("application/json"),
            serde_json::to_vec(&v).unwrap(),
        )
        .await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(Method::GET, path, token, None, Vec::new()).await
    }

    /// Registers `client_id` with `signer`'s key and logs in; returns the token.
    pub async fn register_and_login(&self, client_id: &str, signer: &SigningIdentity) -> String {
        let r = self.register(client_id, signer).await;
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        self.login(client_id, signer).await
    }

    pub async fn register(&self, client_id: &str, signer: &SigningIdentity) -> Reply {
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
        self.post_json(
            "/v1/clients",
            None,
            serde_json::json!({
                "client_id": client_id,
                "cipher_suite": SUITE.0,
                "signature_key": STANDARD.encode(signer.public_key.as_ref()),
                "credential": STANDARD.encode(&credential),
                "signature": STANDARD.encode(&signature),
            }),
        )
        .await
    }

    /// The challenge-response login; returns the token.
    pub async fn login(&self, client_id: &str, signer: &SigningIdentity) -> String {
        let r = self.try_login(client_id, signer).await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        r.json()["token"].as_str().unwrap().to_owned()
    }

    pub async fn try_login(&self, client_id: &str, signer: &SigningIdentity) -> Reply {
        let r = self
            .post_json(
                "/v1/auth/challenge",
                None,
                serde_json::json!({"client_id": client_id}),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        let challenge = STANDARD
            .decode(r.json()["challenge"].as_str().unwrap())
            .unwrap();
        let cs = RustCryptoProvider.cipher_suite_provider(SUITE).unwrap();
        let signature = wire::sign_challenge(
            cs.as_ref(),
            signer.secret_key.as_bytes(),
            client_id,
            &challenge,
        )
        .unwrap();
        self.post_json(
            "/v1/auth/token",
            None,
            serde_json::json!({
                "client_id": client_id,
                "challenge": STANDARD.encode(&challenge),
                "signature": STANDARD.encode(&signature),
            }),
        )
        .await
    }

    pub async fn upload_key_package(&self, token: &str, kp: &[u8]) -> Reply {
        self.call(
            Method::POST,
            "/v1/key-packages",
            Some(token),
            Some(wire::MLS_MEDIA_TYPE),
            kp.to_vec(),
        )
        .await
    }

    pub async fn claim(&self, token: &str, owner: &str) -> Reply {
        self.post_json(
            "/v1/key-packages/claim",
            Some(token),
            serde_json::json!({"client_id": owner, "cipher_suite": SUITE.0}),
        )
        .await
    }

    pub async fn post_bundle(
        &self,
        token: &str,
        group_hex: &str,
        bundle: &wire::CommitBundle,
    ) -> Reply {
        self.call(
            Method::POST,
            &format!("/v1/groups/{group_hex}/commits"),
            Some(token),
            Some(wire::COMMIT_BUNDLE_MEDIA_TYPE),
            bundle.to_bytes().unwrap(),
        )
        .await
    }

    pub async fn post_message(&self, token: &str, group_hex: &str, message: &MlsMessage) -> Reply {
        self.call(
            Method::POST,
            &format!("/v1/groups/{group_hex}/messages"),
            Some(token),
            Some(wire::MLS_MEDIA_TYPE),
            message.to_bytes().unwrap(),
        )
        .await
    }

    /// Reads the whole log after `after`; returns the decoded messages with their seq.
    pub async fn read_log(
        &self,
        token: &str,
        group_hex: &str,
        after: u64,
    ) -> Vec<(u64, MlsMessage)> {
        let r = self
            .get(
                &format!("/v1/groups/{group_hex}/messages?after={after}&limit=1000"),
                Some(token),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        r.json()["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let bytes = STANDARD.decode(e["message"].as_str().unwrap()).unwrap();
                (
                    e["seq"].as_u64().unwrap(),
                    MlsMessage::from_bytes(&bytes).unwrap(),
                )
            })
            .collect()
    }
}

/// A WebSocket client connection.
pub type WsStream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens the WebSocket at `url` with the bearer token in the `Authorization` header (the DS
/// takes no token from a URL).
pub async fn ws_connect(
    url: &str,
    token: &str,
) -> Result<WsStream, tokio_tungstenite::tungstenite::Error> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let mut request = url.into_client_request()?;
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(socket, _)| socket)
}
