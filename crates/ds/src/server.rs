//! The HTTP API of the Delivery Service (RFC 9750 §5-§6, DESIGN.md §4 "API"): axum
//! handlers over a [`Store`], bearer-token authentication, the WebSocket of wake-ups.
//!
//! | method and path | body | who |
//! | --- | --- | --- |
//! | `GET /v1/health` | | anyone |
//! | `POST /v1/clients` | JSON [`RegisterRequest`] | anyone (proof of possession; with a [`CredentialPolicy`], a credential it accepts) |
//! | `PUT /v1/clients/{id}/credential` | JSON [`CredentialChangeRequest`] | the client: a new key and credential for the same identity |
//! | `POST /v1/auth/challenge`, `POST /v1/auth/token` | JSON | anyone |
//! | `POST /v1/key-packages[?last_resort=true]` | `message/mls` or a batch | the owner |
//! | `GET /v1/key-packages` | | the owner: its stock |
//! | `POST /v1/key-packages/claim` | JSON [`ClaimRequest`] → `message/mls` | any client |
//! | `POST /v1/groups` | JSON [`CreateGroupRequest`] | any client (becomes the member) |
//! | `GET /v1/groups/{id}` | | members |
//! | `POST /v1/groups/{id}/commits` | [`CommitBundle`] | members; joiners for external commits |
//! | `POST /v1/groups/{id}/messages` | `message/mls` | members |
//! | `GET /v1/groups/{id}/messages?after=N&limit=M` | | members |
//! | `GET /v1/groups/{id}/group-info`, `…/ratchet-tree` | | members, or anyone if external joins are allowed |
//! | `GET /v1/welcomes?after=N`, `DELETE /v1/welcomes?up_to=N` | | the inbox owner |
//! | `GET /v1/ws` | WebSocket of [`WakeUp`]s | any client, for its groups |

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use conclave_codec::{Decode, Encode};
use conclave_core::messages::{
    ContentType, Credential, LeafNodeSource, MlsMessage, ProtocolVersion, RatchetTreeNodes, Sender,
};
use conclave_core::validation;
use conclave_crypto::{CipherSuite, CipherSuiteProvider, CryptoProvider, labels};
use conclave_service::body as request;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;

use crate::error::DsError;
use crate::header::{self as mls_header, decode_message};
use crate::store::{
    Appended, ClientRecord, CommitRecord, Committed, CredentialChange, CredentialUpdated, LogEvent,
    MAX_STORED, NewKeyPackage, NewMessage, Registered, Store, WakeupFeed,
};
use conclave_api::delivery::{
    self as wire, Accepted, ChallengeRequest, ChallengeResponse, ClaimRequest, CommitBundle,
    CreateGroupRequest, CredentialChangeRequest, GroupView, KeyPackageStock, LogEntryView, LogPage,
    RegisterRequest, RegistrationTbs, TokenRequest, TokenResponse, WakeUp, WelcomePage,
    WelcomeView,
};

/// Limits and lifetimes of the service.
#[derive(Clone)]
pub struct DsConfig {
    /// Lifetime of a bearer token, seconds.
    pub token_lifetime: u64,
    /// Lifetime of a challenge, seconds.
    pub challenge_lifetime: u64,
    /// Largest accepted request body, bytes.
    pub max_body: usize,
    /// KeyPackage claims allowed per claiming client per minute.
    pub claims_per_minute: u32,
    /// Most log entries or Welcomes in one page.
    pub max_page: u32,
    /// Most members a commit bundle may declare.
    pub max_members: usize,
    /// Log entries older than this many seconds are removed (None: kept forever).
    pub retention: Option<u64>,
    /// An extra check of registering clients' credentials (None: any well-formed credential
    /// with a proof of possession); `conclave-ds --with-as` sets the AS's.
    pub credential_policy: Option<Arc<dyn CredentialPolicy>>,
    /// The cryptography backend that verifies signatures (default: aws-lc).
    pub crypto: Arc<dyn CryptoProvider>,
}

/// What a registering client presents (`POST /v1/clients`), for a [`CredentialPolicy`]; also
/// the new key and credential of a credential change (`PUT /v1/clients/{id}/credential`) and
/// the stored ones of a client logging in.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The client id asked for.
    pub client_id: String,
    /// The cipher suite of the signature key.
    pub cipher_suite: u16,
    /// The signature public key (its possession is proven already).
    pub signature_key: Vec<u8>,
    /// The credential.
    pub credential: Credential,
    /// The DS's current time, seconds since the Unix epoch.
    pub now: u64,
}

/// An extra check of the credential a client registers with, e.g. by an Authentication
/// Service (RFC 9750 §4): the DS then registers only clients the AS vouches for. Called on
/// the blocking thread pool, after the proof of possession is verified.
pub trait CredentialPolicy: Send + Sync + core::fmt::Debug {
    /// Accepts the registration, or refuses it ([`DsError::Forbidden`] for a credential the
    /// policy rejects, [`DsError::Store`] if it cannot decide now).
    fn check(&self, registration: &Registration) -> Result<(), DsError>;

    /// Accepts a registered client's new key and credential (`PUT
    /// /v1/clients/{id}/credential`): `registration` must be acceptable as a registration,
    /// and its credential a valid successor of `previous`, i.e. for the same client (RFC 9420
    /// §5.3.1, `valid_successor`). The default checks [`CredentialPolicy::check`] and
    /// [`same_client`] (the AS's policy keeps it: a registered credential may predate the AS
    /// or come from another, and the successor must still present the same identity).
    fn check_successor(
        &self,
        crypto: &dyn CryptoProvider,
        previous: &Credential,
        registration: &Registration,
    ) -> Result<(), DsError> {
        self.check(registration)?;
        same_client(crypto, previous, &registration.credential)
    }

    /// Accepts a registered client's login (`POST /v1/auth/token`), with the key and
    /// credential it is registered with. The default accepts; the AS's policy refuses a
    /// revoked client. It must not refuse an expired credential: the client needs a token to
    /// replace it.
    fn check_login(&self, registered: &Registration) -> Result<(), DsError> {
        let _ = registered;
        Ok(())
    }

    /// Whether `client_id` has been revoked since it logged in. Asked on every
    /// authenticated request, so that a revoked client's token stops working at once
    /// instead of when it expires. The default: never.
    fn is_revoked(&self, client_id: &str) -> Result<bool, DsError> {
        let _ = client_id;
        Ok(false)
    }
}

/// Whether `successor` presents the same client as `predecessor`, as far as the DS can tell
/// without an Authentication Service (RFC 9420 §5.3.1 `valid_successor`; §5.3.3 identities):
/// the credential type must be the same; a `basic` credential must keep its identity, an
/// `x509` credential its first subjectAltName URI (the `X509IdentityProvider` identity; the
/// chain is not validated here). Refusals are [`DsError::Forbidden`].
pub fn same_client(
    crypto: &dyn CryptoProvider,
    predecessor: &Credential,
    successor: &Credential,
) -> Result<(), DsError> {
    use conclave_core::credential::{IdentityProvider as _, X509IdentityProvider};
    let refused = |why: String| {
        DsError::Forbidden(format!(
            "the new credential is not for the same client: {why} (a client id keeps its \
             identity; register a new client id for another one)"
        ))
    };
    if predecessor.credential_type() != successor.credential_type() {
        return Err(refused(format!(
            "its type is {:?}, the registered one's is {:?}",
            successor.credential_type(),
            predecessor.credential_type()
        )));
    }
    match (predecessor, successor) {
        (Credential::Basic { identity: old }, Credential::Basic { identity: new }) => {
            if old == new {
                Ok(())
            } else {
                Err(refused(format!(
                    "identity {:?} instead of {:?}",
                    String::from_utf8_lossy(new),
                    String::from_utf8_lossy(old)
                )))
            }
        }
        (Credential::X509 { .. }, Credential::X509 { .. }) => {
            let no_anchors: [&[u8]; 0] = [];
            let provider = X509IdentityProvider::new(no_anchors, crypto)
                .map_err(|e| DsError::Internal(format!("identity provider: {e}")))?;
            match provider.valid_successor(predecessor, successor) {
                Ok(true) => Ok(()),
                Ok(false) => Err(refused("another subjectAltName URI".into())),
                Err(e) => Err(refused(e.to_string())),
            }
        }
        _ => Ok(()),
    }
}

impl core::fmt::Debug for DsConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DsConfig")
            .field("token_lifetime", &self.token_lifetime)
            .field("challenge_lifetime", &self.challenge_lifetime)
            .field("max_body", &self.max_body)
            .field("claims_per_minute", &self.claims_per_minute)
            .field("max_page", &self.max_page)
            .field("max_members", &self.max_members)
            .field("retention", &self.retention)
            .field("credential_policy", &self.credential_policy)
            .field("crypto", &self.crypto.name())
            .finish()
    }
}

impl Default for DsConfig {
    fn default() -> Self {
        Self {
            token_lifetime: 15 * 60,
            challenge_lifetime: 60,
            max_body: 4 << 20,
            claims_per_minute: 60,
            max_page: 1000,
            max_members: 100_000,
            retention: None,
            credential_policy: None,
            crypto: conclave_service::CryptoBackend::default().provider(),
        }
    }
}

pub use conclave_service::Clock;

/// Wake-ups kept for a WebSocket that falls behind, when the server announces its own
/// appends.
const WAKEUP_CAPACITY: usize = 4096;

/// WebSocket close code sent to a client that fell behind the wake-ups (RFC 6455 §7.4.2,
/// 1013 "try again later"): it reconnects and reads every group from its cursor.
const CLOSE_LAGGED: u16 = 1013;

/// A token looked up in the store is trusted from memory for at most this many seconds
/// (and never past its expiry).
const TOKEN_CACHE_TTL: u64 = 60;

/// Most tokens kept in memory.
const TOKEN_CACHE_MAX: usize = 100_000;

/// WebSocket close code sent when the store cannot tell whether a wake-up is for the client
/// (RFC 6455 §7.4.1, 1011 "unexpected condition"): it reconnects and reads its groups.
const CLOSE_UNAVAILABLE: u16 = 1011;

/// Everything the handlers share.
pub struct AppState {
    store: Arc<dyn Store>,
    config: DsConfig,
    clock: Clock,
    crypto: Arc<dyn CryptoProvider>,
    /// The wake-ups the WebSockets of this process subscribe to.
    wakeups: WakeupFeed,
    /// Whether handlers announce their own appends (the store has no feed of its own).
    announce_locally: bool,
    claims: Mutex<HashMap<String, (u64, u32)>>,
    /// Tokens already looked up: hash → (client, trusted until). The DS never revokes a
    /// token before it expires (only expired ones are pruned), so this is the store's
    /// answer without a query per request; [`TOKEN_CACHE_TTL`] bounds how long a token
    /// removed from the database by hand stays usable on a node.
    tokens: Mutex<HashMap<Vec<u8>, (String, u64)>>,
}

impl core::fmt::Debug for AppState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AppState")
            .field("engine", &self.store.engine())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// A service over `store` with the system clock, verifying signatures with the
    /// configured backend ([`DsConfig::crypto`]).
    pub fn new(store: Arc<dyn Store>, config: DsConfig) -> Arc<Self> {
        Self::with_clock(store, config, conclave_service::system_clock())
    }

    /// A service with a given clock.
    pub fn with_clock(store: Arc<dyn Store>, config: DsConfig, clock: Clock) -> Arc<Self> {
        // PostgreSQL: the engine's feed covers every DS node on the database; SQLite: one
        // process, the handlers announce their appends.
        let (wakeups, announce_locally) = match store.wakeups() {
            Some(feed) => (feed, false),
            None => (WakeupFeed::new(WAKEUP_CAPACITY), true),
        };
        Arc::new(Self {
            store,
            crypto: config.crypto.clone(),
            config,
            clock,
            wakeups,
            announce_locally,
            claims: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
        })
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The configuration.
    pub fn config(&self) -> &DsConfig {
        &self.config
    }

    fn now(&self) -> u64 {
        (self.clock)()
    }

    /// The client a valid token (by its hash) belongs to: from memory, else the store.
    async fn token_client(&self, hash: Vec<u8>) -> Result<Option<String>, DsError> {
        let now = self.now();
        let poisoned = || DsError::Internal("token cache lock poisoned".into());
        if let Some((client, until)) = self.tokens.lock().map_err(|_| poisoned())?.get(&hash)
            && now <= *until
        {
            return Ok(Some(client.clone()));
        }
        let Some((client, expires_at)) = self.store.token(&hash, now).await? else {
            return Ok(None);
        };
        let until = expires_at.min(now.saturating_add(TOKEN_CACHE_TTL));
        let mut tokens = self.tokens.lock().map_err(|_| poisoned())?;
        if tokens.len() >= TOKEN_CACHE_MAX {
            tokens.retain(|_, (_, until)| now <= *until);
            if tokens.len() >= TOKEN_CACHE_MAX {
                tokens.clear();
            }
        }
        tokens.insert(hash, (client.clone(), until));
        Ok(Some(client))
    }

    /// Announces a log append to this process's WebSockets, unless the store's feed does.
    fn announce(&self, group_id: Vec<u8>, seq: u64, commit: bool) {
        if self.announce_locally {
            self.wakeups.publish(LogEvent {
                group_id,
                seq,
                commit,
            });
        }
    }

    fn suite(&self, suite: u16) -> Result<Box<dyn CipherSuiteProvider>, DsError> {
        self.crypto
            .cipher_suite_provider(CipherSuite(suite))
            .ok_or_else(|| DsError::BadRequest(format!("unsupported cipher suite {suite}")))
    }

    /// Counts a claim by `claimer`; refuses past the per-minute limit.
    fn count_claim(&self, claimer: &str) -> Result<(), DsError> {
        let window = self.now() / 60;
        let mut claims = self
            .claims
            .lock()
            .map_err(|_| DsError::Internal("rate limiter lock poisoned".into()))?;
        if claims.len() > 100_000 {
            claims.retain(|_, (w, _)| *w == window);
        }
        let entry = claims.entry(claimer.to_owned()).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        if entry.1 >= self.config.claims_per_minute {
            return Err(DsError::RateLimited(format!(
                "at most {} KeyPackage claims per minute",
                self.config.claims_per_minute
            )));
        }
        entry.1 += 1;
        Ok(())
    }

    /// Runs one retention pass (expired auth material and KeyPackages; old log entries when a
    /// retention period is configured).
    pub async fn prune(&self) -> Result<crate::store::Pruned, DsError> {
        let now = self.now();
        let before = self.config.retention.map(|r| now.saturating_sub(r));
        Ok(self.store.prune(now, before).await?)
    }
}

/// The router of the API.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/clients", post(register))
        .route("/v1/clients/{client}/credential", put(change_credential))
        .route("/v1/auth/challenge", post(challenge))
        .route("/v1/auth/token", post(token))
        .route(
            "/v1/key-packages",
            post(upload_key_packages).get(key_package_stock),
        )
        .route("/v1/key-packages/claim", post(claim_key_package))
        .route("/v1/groups", post(create_group))
        .route("/v1/groups/{group}", get(get_group))
        .route("/v1/groups/{group}/commits", post(post_commit))
        .route(
            "/v1/groups/{group}/messages",
            post(post_message).get(read_log),
        )
        .route("/v1/groups/{group}/group-info", get(get_group_info))
        .route("/v1/groups/{group}/ratchet-tree", get(get_ratchet_tree))
        .route("/v1/welcomes", get(read_welcomes).delete(ack_welcomes))
        .route("/v1/ws", get(websocket))
        .fallback(|| async { DsError::NotFound("no such endpoint".into()) })
        .method_not_allowed_fallback(|| async {
            (
                StatusCode::METHOD_NOT_ALLOWED,
                axum::Json(wire::ErrorBody {
                    error: "method_not_allowed".into(),
                    message: "this endpoint does not take that method".into(),
                    current_epoch: None,
                }),
            )
        })
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(state)
}

type AppResult = Result<Response, DsError>;
type St = State<Arc<AppState>>;

// ---- request helpers (shared with the AS: conclave_service::body) --------------------------

fn require_media_type(headers: &HeaderMap, expected: &[&str]) -> Result<String, DsError> {
    Ok(request::require_media_type(headers, expected)?)
}

async fn read_body(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Vec<u8>, DsError> {
    Ok(request::read_body(headers, body, state.config.max_body).await?)
}

async fn read_json<T: DeserializeOwned>(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<T, DsError> {
    Ok(request::read_json(headers, body, state.config.max_body).await?)
}

fn b64(field: &str, value: &str) -> Result<Vec<u8>, DsError> {
    STANDARD
        .decode(value)
        .map_err(|e| DsError::BadRequest(format!("{field}: not valid base64: {e}")))
}

fn parse_group_id(hex_id: &str) -> Result<Vec<u8>, DsError> {
    let id = hex::decode(hex_id)
        .map_err(|e| DsError::BadRequest(format!("group id must be hex: {e}")))?;
    if id.is_empty() || id.len() > 255 {
        return Err(DsError::BadRequest(
            "group id must be 1 to 255 bytes".into(),
        ));
    }
    Ok(id)
}

fn check_client_id(id: &str) -> Result<(), DsError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "._@:-".contains(c);
    if id.is_empty() || id.len() > 128 || !id.chars().all(ok_char) {
        return Err(DsError::BadRequest(format!(
            "client id {id:?} must be 1 to 128 characters of [A-Za-z0-9._@:-]"
        )));
    }
    Ok(())
}

/// `key=value` pairs of a query string whose values are numbers or simple words.
fn query_u64(query: &Option<String>, key: &str) -> Result<Option<u64>, DsError> {
    let Some(q) = query else { return Ok(None) };
    for pair in q.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k == key {
            return v
                .parse::<u64>()
                .map(Some)
                .map_err(|_| DsError::BadRequest(format!("query {key}={v:?} is not a number")));
        }
    }
    Ok(None)
}

fn query_flag(query: &Option<String>, key: &str) -> Result<bool, DsError> {
    let Some(q) = query else { return Ok(false) };
    for pair in q.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, "true"));
        if k == key {
            return match v {
                "true" | "1" => Ok(true),
                "false" | "0" => Ok(false),
                _ => Err(DsError::BadRequest(format!(
                    "query {key}={v:?} must be true or false"
                ))),
            };
        }
    }
    Ok(false)
}

fn query_str<'q>(query: &'q Option<String>, key: &str) -> Option<&'q str> {
    query.as_deref()?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key).then_some(v)
    })
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn random_bytes<const N: usize>() -> Result<[u8; N], DsError> {
    let mut out = [0u8; N];
    conclave_crypto::CryptoRandom::fill(&mut conclave_service::OsRandom, &mut out)
        .map_err(|e| DsError::Internal(format!("random source failed: {e}")))?;
    Ok(out)
}

/// The client a bearer token (header `Authorization: Bearer …`, or `token=` in the query for
/// WebSockets) belongs to.
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    query: &Option<String>,
) -> Result<String, DsError> {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .ok_or_else(|| {
                    DsError::Unauthorized("Authorization must be `Bearer <token>`".into())
                })
        })
        .transpose()?;
    let token = from_header
        .or_else(|| query_str(query, "token"))
        .ok_or_else(|| DsError::Unauthorized("a bearer token is required".into()))?;
    let client = state
        .token_client(token_hash(token))
        .await?
        .ok_or_else(|| DsError::Unauthorized("unknown or expired token".into()))?;
    if let Some(policy) = state.config.credential_policy.clone() {
        let id = client.clone();
        let revoked = run_policy(policy, "revocation check", move |p| p.is_revoked(&id)).await?;
        if revoked {
            return Err(DsError::Forbidden(format!(
                "client {client:?} is revoked by the Authentication Service: its token no \
                 longer works"
            )));
        }
    }
    Ok(client)
}

async fn require_member(state: &AppState, group_id: &[u8], client: &str) -> Result<(), DsError> {
    if state.store.is_member(group_id, client).await? {
        return Ok(());
    }
    match state.store.group(group_id).await? {
        None => Err(DsError::NotFound("no such group".into())),
        Some(_) => Err(DsError::Forbidden(format!(
            "client {client} is not a member of this group"
        ))),
    }
}

fn mls_response(status: StatusCode, bytes: Vec<u8>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, wire::MLS_MEDIA_TYPE)],
        bytes,
    )
        .into_response()
}

fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Response {
    (status, axum::Json(value)).into_response()
}

// ---- handlers -------------------------------------------------------------------------------

async fn health(State(state): St) -> Response {
    match state.store.health().await {
        Ok(()) => json(
            StatusCode::OK,
            &serde_json::json!({"status": "ok", "engine": state.store.engine()}),
        ),
        Err(e) => DsError::Store(e).into_response(),
    }
}

/// Runs a credential-policy check off the async workers: a policy may block (the AS's reads
/// its SQLite store).
async fn run_policy<T: Send + 'static>(
    policy: Arc<dyn CredentialPolicy>,
    what: &'static str,
    check: impl FnOnce(&dyn CredentialPolicy) -> Result<T, DsError> + Send + 'static,
) -> Result<T, DsError> {
    tokio::task::spawn_blocking(move || check(policy.as_ref()))
        .await
        .map_err(|e| DsError::Internal(format!("{what} task: {e}")))?
}

/// A key and credential whose holder proved possession of the key.
struct ProvenKey {
    signature_key: Vec<u8>,
    credential: Vec<u8>,
    parsed: Credential,
}

/// Decodes the base64 `[signature_key, credential, signature]` of a registration or
/// credential change and checks the proof of possession: the key signed the
/// `RegistrationTbs` of `client_id` under `label`. `what` and `bad_signature` word the
/// refusals.
fn prove_key(
    state: &AppState,
    client_id: &str,
    cipher_suite: u16,
    [signature_key, credential, signature]: [&String; 3],
    label: &str,
    what: &str,
    bad_signature: &str,
) -> Result<ProvenKey, DsError> {
    let signature_key = b64("signature_key", signature_key)?;
    let credential = b64("credential", credential)?;
    let signature = b64("signature", signature)?;
    let parsed = Credential::from_bytes(&credential)
        .map_err(|e| DsError::BadRequest(format!("credential: not a valid Credential: {e}")))?;
    let cs = state.suite(cipher_suite)?;
    let tbs = RegistrationTbs {
        client_id: client_id.as_bytes().to_vec(),
        cipher_suite,
        signature_key: signature_key.clone(),
        credential: credential.clone(),
    }
    .to_bytes()
    .map_err(|e| DsError::BadRequest(format!("{what} too large: {e}")))?;
    labels::verify_with_label(cs.as_ref(), &signature_key, label, &tbs, &signature)
        .map_err(|_| DsError::Unauthorized(bad_signature.to_owned()))?;
    Ok(ProvenKey {
        signature_key,
        credential,
        parsed,
    })
}

async fn register(State(state): St, headers: HeaderMap, body: Body) -> AppResult {
    let request: RegisterRequest = read_json(&state, &headers, body).await?;
    check_client_id(&request.client_id)?;
    let ProvenKey {
        signature_key,
        credential,
        parsed,
    } = prove_key(
        &state,
        &request.client_id,
        request.cipher_suite,
        [
            &request.signature_key,
            &request.credential,
            &request.signature,
        ],
        wire::REGISTER_LABEL,
        "registration",
        "registration signature does not verify under signature_key",
    )?;
    if let Some(policy) = state.config.credential_policy.clone() {
        let registration = Registration {
            client_id: request.client_id.clone(),
            cipher_suite: request.cipher_suite,
            signature_key: signature_key.clone(),
            credential: parsed,
            now: state.now(),
        };
        run_policy(policy, "credential check", move |p| p.check(&registration)).await?;
    }
    let record = ClientRecord {
        client_id: request.client_id.clone(),
        cipher_suite: request.cipher_suite,
        signature_key,
        credential,
        created_at: state.now(),
    };
    match state.store.register_client(&record).await? {
        Registered::Created => {
            tracing::info!(client = %request.client_id, "client registered");
            Ok(json(
                StatusCode::CREATED,
                &serde_json::json!({"client_id": request.client_id}),
            ))
        }
        Registered::Unchanged => Ok(json(
            StatusCode::OK,
            &serde_json::json!({"client_id": request.client_id}),
        )),
        Registered::Taken => Err(DsError::Conflict(format!(
            "client id {} is registered with another key",
            request.client_id
        ))),
    }
}

/// `PUT /v1/clients/{id}/credential`: the client (its bearer token) replaces its signature
/// key and credential, e.g. with the certificate the AS renewed. The new key proves
/// possession; the new credential must be for the same client (with a policy, one the policy
/// accepts as a successor; without, [`same_client`]). KeyPackages published with the previous
/// credential stay until claimed or expired; uploads must match the new one.
async fn change_credential(
    State(state): St,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> AppResult {
    let caller = authenticate(&state, &headers, &None).await?;
    if caller != client_id {
        return Err(DsError::Forbidden(format!(
            "a client can change only its own credential (the token is {caller}'s)"
        )));
    }
    let request: CredentialChangeRequest = read_json(&state, &headers, body).await?;
    let ProvenKey {
        signature_key,
        credential,
        parsed,
    } = prove_key(
        &state,
        &client_id,
        request.cipher_suite,
        [
            &request.signature_key,
            &request.credential,
            &request.signature,
        ],
        wire::CREDENTIAL_LABEL,
        "credential change",
        "the credential change's signature does not verify under the new signature_key",
    )?;
    let current = state
        .store
        .client(&client_id)
        .await?
        .ok_or_else(|| DsError::Unauthorized("the token's client is gone".into()))?;
    let previous = Credential::from_bytes(&current.credential)
        .map_err(|e| DsError::Internal(format!("stored credential: {e}")))?;
    let registration = Registration {
        client_id: client_id.clone(),
        cipher_suite: request.cipher_suite,
        signature_key: signature_key.clone(),
        credential: parsed,
        now: state.now(),
    };
    match state.config.credential_policy.clone() {
        Some(policy) => {
            let crypto = state.crypto.clone();
            run_policy(policy, "credential check", move |p| {
                p.check_successor(crypto.as_ref(), &previous, &registration)
            })
            .await?
        }
        None => same_client(state.crypto.as_ref(), &previous, &registration.credential)?,
    }
    let change = CredentialChange {
        client_id: client_id.clone(),
        previous_signature_key: current.signature_key,
        previous_credential: current.credential,
        cipher_suite: request.cipher_suite,
        signature_key,
        credential,
    };
    match state.store.update_client_credential(&change).await? {
        CredentialUpdated::Replaced => {
            tracing::info!(client = %client_id, "client credential replaced");
            Ok(json(
                StatusCode::OK,
                &serde_json::json!({"client_id": client_id}),
            ))
        }
        CredentialUpdated::NoClient => {
            Err(DsError::Unauthorized("the token's client is gone".into()))
        }
        CredentialUpdated::Changed => Err(DsError::Conflict(
            "the client's credential changed meanwhile; send the change again".into(),
        )),
    }
}

async fn challenge(State(state): St, headers: HeaderMap, body: Body) -> AppResult {
    let request: ChallengeRequest = read_json(&state, &headers, body).await?;
    check_client_id(&request.client_id)?;
    if state.store.client(&request.client_id).await?.is_none() {
        return Err(DsError::NotFound(format!(
            "client {} is not registered",
            request.client_id
        )));
    }
    let challenge = random_bytes::<32>()?;
    let expires_at = state.now().saturating_add(state.config.challenge_lifetime);
    state
        .store
        .put_challenge(&challenge, &request.client_id, expires_at)
        .await?;
    Ok(json(
        StatusCode::OK,
        &ChallengeResponse {
            challenge: STANDARD.encode(challenge),
            expires_at,
        },
    ))
}

async fn token(State(state): St, headers: HeaderMap, body: Body) -> AppResult {
    let request: TokenRequest = read_json(&state, &headers, body).await?;
    check_client_id(&request.client_id)?;
    let challenge = b64("challenge", &request.challenge)?;
    let signature = b64("signature", &request.signature)?;
    let client = state
        .store
        .client(&request.client_id)
        .await?
        .ok_or_else(|| DsError::Unauthorized("unknown client".into()))?;
    // The challenge is consumed whatever the outcome: one attempt per challenge.
    if !state
        .store
        .take_challenge(&challenge, &request.client_id, state.now())
        .await?
    {
        return Err(DsError::Unauthorized(
            "unknown, expired or already used challenge".into(),
        ));
    }
    let cs = state.suite(client.cipher_suite)?;
    let tbs = wire::ChallengeTbs {
        client_id: request.client_id.as_bytes().to_vec(),
        challenge,
    }
    .to_bytes()
    .map_err(|e| DsError::BadRequest(format!("challenge too large: {e}")))?;
    labels::verify_with_label(
        cs.as_ref(),
        &client.signature_key,
        wire::AUTH_LABEL,
        &tbs,
        &signature,
    )
    .map_err(|_| {
        DsError::Unauthorized("the signature does not verify under the registered key".into())
    })?;
    if let Some(policy) = state.config.credential_policy.clone() {
        let credential = Credential::from_bytes(&client.credential)
            .map_err(|e| DsError::Internal(format!("stored credential: {e}")))?;
        let registered = Registration {
            client_id: client.client_id.clone(),
            cipher_suite: client.cipher_suite,
            signature_key: client.signature_key.clone(),
            credential,
            now: state.now(),
        };
        run_policy(policy, "login check", move |p| p.check_login(&registered)).await?;
    }
    let token = URL_SAFE_NO_PAD.encode(random_bytes::<32>()?);
    let expires_at = state.now().saturating_add(state.config.token_lifetime);
    state
        .store
        .put_token(&token_hash(&token), &request.client_id, expires_at)
        .await?;
    Ok(json(StatusCode::OK, &TokenResponse { token, expires_at }))
}

async fn upload_key_packages(
    State(state): St,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> AppResult {
    let client_id = authenticate(&state, &headers, &query).await?;
    let last_resort = query_flag(&query, "last_resort")?;
    let media = require_media_type(
        &headers,
        &[wire::MLS_MEDIA_TYPE, wire::KEY_PACKAGES_MEDIA_TYPE],
    )?;
    let bytes = read_body(&state, &headers, body).await?;
    let messages: Vec<MlsMessage> = if media == wire::MLS_MEDIA_TYPE {
        vec![decode_message(&bytes)?]
    } else {
        let messages = Vec::<MlsMessage>::from_bytes(&bytes)
            .map_err(|e| DsError::BadRequest(format!("not a valid vector of MLSMessages: {e}")))?;
        if messages.is_empty() {
            return Err(DsError::BadRequest("empty KeyPackage batch".into()));
        }
        messages
    };
    let client = state
        .store
        .client(&client_id)
        .await?
        .ok_or_else(|| DsError::Unauthorized("the token's client is gone".into()))?;
    let now = state.now();
    let mut packages = Vec::with_capacity(messages.len());
    for (i, message) in messages.iter().enumerate() {
        if message.version != ProtocolVersion::MLS10 {
            return Err(DsError::BadRequest(format!(
                "KeyPackage {i}: unsupported protocol version {}",
                message.version.0
            )));
        }
        let kp = mls_header::key_package(message)?;
        let cs = state.suite(kp.cipher_suite.0)?;
        let cs = cs.as_ref();
        validation::check_key_package_fields(kp, ProtocolVersion::MLS10, kp.cipher_suite)
            .map_err(|e| DsError::BadRequest(format!("KeyPackage {i}: {e}")))?;
        if kp.leaf_node.signature_key.as_ref() != client.signature_key.as_slice()
            || kp.leaf_node.credential.to_bytes().ok().as_deref()
                != Some(client.credential.as_slice())
        {
            return Err(DsError::Forbidden(format!(
                "KeyPackage {i}: its credential or signature key is not the uploader's \
                 ({client_id})"
            )));
        }
        let LeafNodeSource::KeyPackage(lifetime) = &kp.leaf_node.leaf_node_source else {
            return Err(DsError::BadRequest(format!(
                "KeyPackage {i}: leaf_node_source must be key_package"
            )));
        };
        validation::verify_leaf_node_signature(cs, &kp.leaf_node, None)
            .map_err(|e| DsError::BadRequest(format!("KeyPackage {i}: {e}")))?;
        validation::verify_key_package_signature(cs, kp)
            .map_err(|e| DsError::BadRequest(format!("KeyPackage {i}: {e}")))?;
        if lifetime.not_after < now || lifetime.not_after > MAX_STORED {
            return Err(DsError::BadRequest(format!(
                "KeyPackage {i}: expired or invalid lifetime (not_after {})",
                lifetime.not_after
            )));
        }
        let encoded = kp
            .to_bytes()
            .map_err(|e| DsError::BadRequest(format!("KeyPackage {i}: {e}")))?;
        let kp_ref = labels::make_key_package_ref(cs, &encoded)
            .map_err(|e| DsError::Internal(format!("KeyPackageRef: {e}")))?;
        let data = message
            .to_bytes()
            .map_err(|e| DsError::BadRequest(format!("KeyPackage {i}: {e}")))?;
        packages.push(NewKeyPackage {
            kp_ref,
            owner: client_id.clone(),
            cipher_suite: kp.cipher_suite.0,
            last_resort,
            not_before: lifetime.not_before.min(MAX_STORED),
            not_after: lifetime.not_after,
            data,
        });
    }
    if last_resort {
        let mut suites: Vec<u16> = packages.iter().map(|p| p.cipher_suite).collect();
        suites.sort_unstable();
        if suites.windows(2).any(|w| w.first() == w.get(1)) {
            return Err(DsError::BadRequest(
                "at most one last-resort KeyPackage per cipher suite".into(),
            ));
        }
    }
    let stored = state.store.publish_key_packages(&packages).await?;
    Ok(json(
        StatusCode::CREATED,
        &serde_json::json!({"stored": stored, "offered": packages.len()}),
    ))
}

async fn key_package_stock(
    State(state): St,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> AppResult {
    let client_id = authenticate(&state, &headers, &query).await?;
    let stock: Vec<KeyPackageStock> = state
        .store
        .key_package_stock(&client_id, state.now())
        .await?
        .into_iter()
        .map(|s| KeyPackageStock {
            cipher_suite: s.cipher_suite,
            one_time_available: s.one_time_available,
            has_last_resort: s.has_last_resort,
            last_resort_claimed: s.last_resort_claimed,
        })
        .collect();
    Ok(json(StatusCode::OK, &stock))
}

async fn claim_key_package(
    State(state): St,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> AppResult {
    let claimer = authenticate(&state, &headers, &query).await?;
    let request: ClaimRequest = read_json(&state, &headers, body).await?;
    check_client_id(&request.client_id)?;
    state.count_claim(&claimer)?;
    let claimed = state
        .store
        .claim_key_package(&request.client_id, request.cipher_suite, state.now())
        .await?
        .ok_or_else(|| {
            DsError::NotFound(format!(
                "no KeyPackage of client {} for cipher suite {}",
                request.client_id, request.cipher_suite
            ))
        })?;
    if claimed.last_resort {
        tracing::info!(owner = %request.client_id, "served a last-resort KeyPackage");
    }
    let mut response = mls_response(StatusCode::OK, claimed.data);
    response.headers_mut().insert(
        wire::LAST_RESORT_HEADER,
        HeaderValue::from_static(if claimed.last_resort { "true" } else { "false" }),
    );
    Ok(response)
}

async fn create_group(
    State(state): St,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> AppResult {
    let client_id = authenticate(&state, &headers, &query).await?;
    let request: CreateGroupRequest = read_json(&state, &headers, body).await?;
    let group_id = parse_group_id(&request.group_id)?;
    if request.epoch >= MAX_STORED {
        return Err(DsError::BadRequest("epoch out of range".into()));
    }
    if !state
        .store
        .create_group(
            &group_id,
            request.epoch,
            request.allow_external_join,
            &client_id,
            state.now(),
        )
        .await?
    {
        return Err(DsError::Conflict("a group with this id exists".into()));
    }
    Ok(json(
        StatusCode::CREATED,
        &GroupView {
            group_id: request.group_id.to_ascii_lowercase(),
            epoch: request.epoch,
            last_seq: 0,
            allow_external_join: request.allow_external_join,
            members: vec![client_id],
        },
    ))
}

async fn get_group(
    State(state): St,
    Path(group): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> AppResult {
    let client_id = authenticate(&state, &headers, &query).await?;
    let group_id = parse_group_id(&group)?;
    let record = state
        .store
        .group(&group_id)
        .await?
        .ok_or_else(|| DsError::NotFound("no such group".into()))?;
    if !record.members.contains(&client_id) {
        return Err(DsError::Forbidden(format!(
            "client {client_id} is not a member of this group"
        )));
    }
    Ok(json(
        StatusCode::OK,
        &GroupView {
            group_id: hex::encode(&record.group_id),
            epoch: record.epoch,
            last_seq: record.last_seq,
            allow_external_join: record.allow_external_join,
            members: record.members,
        },
    ))
}

async fn post_commit(
    State(state): St,
    Path(group): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> AppResult {
    let client_id = authenticate(&state, &headers, &query).await?;
    let group_id = parse_group_id(&group)?;
    require_media_type(&headers, &[wire::COMMIT_BUNDLE_MEDIA_TYPE])?;
    let bytes = read_body(&state, &headers, body).await?;
    let bundle = CommitBundle::from_bytes(&bytes)
        .map_err(|e| DsError::BadRequest(format!("not a valid commit bundle: {e}")))?;
    let record = check_commit_bundle(&state, &group_id, &client_id, &bundle)?;
    let epoch = record.epoch;
    match state.store.commit(&group_id, &record, state.now()).await? {
        Committed::Accepted { seq, epoch, routed } => {
            tracing::debug!(group = %group, seq, epoch, welcomes = routed.len(), "commit accepted");
            state.announce(group_id, seq, true);
            Ok(json(StatusCode::OK, &Accepted { seq, epoch }))
        }
        Committed::WrongEpoch { current } => Err(DsError::WrongEpoch {
            message: epoch,
            current,
        }),
        Committed::NoGroup => Err(DsError::NotFound("no such group".into())),
        Committed::NotMember => Err(DsError::Forbidden(format!(
            "client {client_id} is not a member of this group"
        ))),
        Committed::ExternalRefused => Err(DsError::Forbidden(
            "external commit refused: the group does not allow external joins, or the \
             member list does not include the joiner"
                .into(),
        )),
    }
}

/// Checks what the DS can see of a commit bundle: the commit's clear header, the GroupInfo
/// of the next epoch, the Welcome, the tree encoding and the member list.
fn check_commit_bundle(
    state: &AppState,
    group_id: &[u8],
    client_id: &str,
    bundle: &CommitBundle,
) -> Result<CommitRecord, DsError> {
    if bundle.commit.version != ProtocolVersion::MLS10 {
        return Err(DsError::BadRequest(
            "commit: unsupported protocol version".into(),
        ));
    }
    let head = mls_header::handshake_header(&bundle.commit)?;
    if head.content_type != ContentType::Commit {
        return Err(DsError::BadRequest(format!(
            "the bundle's message is not a commit (content type {})",
            mls_header::content_type_code(head.content_type)
        )));
    }
    if head.group_id != group_id {
        return Err(DsError::BadRequest(
            "the commit is for another group than the URL names".into(),
        ));
    }
    if head.epoch >= MAX_STORED - 1 {
        return Err(DsError::BadRequest("epoch out of range".into()));
    }
    let external = match head.sender {
        None | Some(Sender::Member(_)) => false,
        Some(Sender::NewMemberCommit) => true,
        Some(other) => {
            return Err(DsError::BadRequest(format!(
                "a commit cannot come from a {:?} sender",
                other.sender_type()
            )));
        }
    };
    if bundle.group_info.version != ProtocolVersion::MLS10 {
        return Err(DsError::BadRequest(
            "group_info: unsupported protocol version".into(),
        ));
    }
    let info = mls_header::group_info(&bundle.group_info)?;
    if info.group_context.group_id != group_id {
        return Err(DsError::BadRequest(
            "the GroupInfo is for another group".into(),
        ));
    }
    if info.group_context.epoch != head.epoch + 1 {
        return Err(DsError::BadRequest(format!(
            "the GroupInfo is for epoch {}, the commit leads to epoch {}",
            info.group_context.epoch,
            head.epoch + 1
        )));
    }
    let welcome = match &bundle.welcome {
        None => None,
        Some(message) => {
            if message.version != ProtocolVersion::MLS10 {
                return Err(DsError::BadRequest(
                    "welcome: unsupported protocol version".into(),
                ));
            }
            let welcome = mls_header::welcome(message)?;
            if welcome.cipher_suite != info.group_context.cipher_suite {
                return Err(DsError::BadRequest(
                    "the Welcome's cipher suite is not the group's".into(),
                ));
            }
            let refs = welcome
                .secrets
                .iter()
                .map(|s| s.new_member.0.clone())
                .collect();
            let data = message
                .to_bytes()
                .map_err(|e| DsError::BadRequest(format!("welcome: {e}")))?;
            Some((data, refs))
        }
    };
    if let Some(tree) = &bundle.ratchet_tree {
        RatchetTreeNodes::from_bytes(tree)
            .map_err(|e| DsError::BadRequest(format!("ratchet_tree: not a valid tree: {e}")))?;
    }
    if bundle.members.is_empty() || bundle.members.len() > state.config.max_members {
        return Err(DsError::BadRequest(format!(
            "the bundle must name 1 to {} members",
            state.config.max_members
        )));
    }
    let mut members = Vec::with_capacity(bundle.members.len());
    for m in &bundle.members {
        let id = String::from_utf8(m.clone())
            .map_err(|_| DsError::BadRequest("member ids must be UTF-8".into()))?;
        check_client_id(&id)?;
        members.push(id);
    }
    members.sort();
    members.dedup();
    let encode = |m: &MlsMessage, what: &str| {
        m.to_bytes()
            .map_err(|e| DsError::BadRequest(format!("{what}: {e}")))
    };
    Ok(CommitRecord {
        epoch: head.epoch,
        data: encode(&bundle.commit, "commit")?,
        sender: client_id.to_owned(),
        external,
        group_info: encode(&bundle.group_info, "group_info")?,
        ratchet_tree: bundle.ratchet_tree.clone(),
        members,
        welcome,
        allow_external_join: bundle.allow_external_join,
    })
}

async fn post_message(
    State(state): St,
    Path(group): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> AppResult {
    let client_id = authenticate(&state, &headers, &query).await?;
    let group_id = parse_group_id(&group)?;
    require_media_type(&headers, &[wire::MLS_MEDIA_TYPE])?;
    let bytes = read_body(&state, &headers, body).await?;
    let message = decode_message(&bytes)?;
    let head = mls_header::handshake_header(&message)?;
    if head.content_type == ContentType::Commit {
        return Err(DsError::BadRequest(
            "commits are posted as a bundle to /v1/groups/{id}/commits".into(),
        ));
    }
    if head.group_id != group_id {
        return Err(DsError::BadRequest(
            "the message is for another group than the URL names".into(),
        ));
    }
    if head.epoch >= MAX_STORED {
        return Err(DsError::BadRequest("epoch out of range".into()));
    }
    let new = NewMessage {
        epoch: head.epoch,
        content_type: mls_header::content_type_code(head.content_type),
        sender: client_id.clone(),
        data: bytes,
    };
    match state.store.append(&group_id, &new, state.now()).await? {
        Appended::Accepted { seq } => {
            state.announce(group_id, seq, false);
            Ok(json(
                StatusCode::OK,
                &Accepted {
                    seq,
                    epoch: head.epoch,
                },
            ))
        }
        Appended::WrongEpoch { current } => Err(DsError::WrongEpoch {
            message: head.epoch,
            current,
        }),
        Appended::NoGroup => Err(DsError::NotFound("no such group".into())),
        Appended::NotMember => Err(DsError::Forbidden(format!(
            "client {client_id} is not a member of this group"
        ))),
    }
}

async fn read_log(
    State(state): St,
    Path(group): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> AppResult {
    let client_id = authenticate(&state, &headers, &query).await?;
    let group_id = parse_group_id(&group)?;
    let after = query_u64(&query, "after")?.unwrap_or(0).min(MAX_STORED);
    let limit = query_u64(&query, "limit")?
        .unwrap_or(100)
        .clamp(1, u64::from(state.config.max_page));
    let limit = u32::try_from(limit).unwrap_or(state.config.max_page);
    // A removed client reads up to the commit that removed it (the messages of its
    // membership, then its removal), and nothing after.
    let until = if state.store.is_member(&group_id, &client_id).await? {
        None
    } else {
        match state.store.removed_at(&group_id, &client_id).await? {
            Some(removed_at) if after < removed_at => Some(removed_at),
            _ => {
                require_member(&state, &group_id, &client_id).await?;
                None
            }
        }
    };
    let entries = state
        .store
        .read_log(&group_id, after, limit)
        .await?
        .into_iter()
        .filter(|e| until.is_none_or(|until| e.seq <= until))
        .map(|e| LogEntryView {
            seq: e.seq,
            epoch: e.epoch,
            content_type: e.content_type,
            sender: e.sender,
            message: STANDARD.encode(e.data),
        })
        .collect();
    Ok(json(StatusCode::OK, &LogPage { entries }))
}

/// GroupInfo and ratchet tree are served to members, and to any authenticated client when
/// the group allows external joins (RFC 9420 §12.4.3.2, RFC 9750 "Invalid Commits").
async fn join_material(
    state: &AppState,
    group: &str,
    query: &Option<String>,
    headers: &HeaderMap,
) -> Result<crate::store::GroupRecord, DsError> {
    let client_id = authenticate(state, headers, query).await?;
    let group_id = parse_group_id(group)?;
    let record = state
        .store
        .group(&group_id)
        .await?
        .ok_or_else(|| DsError::NotFound("no such group".into()))?;
    if !record.allow_external_join && !record.members.contains(&client_id) {
        return Err(DsError::Forbidden(
            "the group does not allow external joins".into(),
        ));
    }
    Ok(record)
}

async fn get_group_info(
    State(state): St,
    Path(group): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> AppResult {
    let record = join_material(&state, &group, &query, &headers).await?;
    let info = record
        .group_info
        .ok_or_else(|| DsError::NotFound("no GroupInfo yet (no commit so far)".into()))?;
    Ok(mls_response(StatusCode::OK, info))
}

async fn get_ratchet_tree(
    State(state): St,
    Path(group): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> AppResult {
    let record = join_material(&state, &group, &query, &headers).await?;
    let tree = record
        .ratchet_tree
        .ok_or_else(|| DsError::NotFound("no ratchet tree was supplied for this epoch".into()))?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/octet-stream")],
        tree,
    )
        .into_response())
}

async fn read_welcomes(
    State(state): St,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> AppResult {
    let client_id = authenticate(&state, &headers, &query).await?;
    let after = query_u64(&query, "after")?.unwrap_or(0).min(MAX_STORED);
    let limit = query_u64(&query, "limit")?
        .unwrap_or(100)
        .clamp(1, u64::from(state.config.max_page));
    let limit = u32::try_from(limit).unwrap_or(state.config.max_page);
    let welcomes = state
        .store
        .welcomes(&client_id, after, limit)
        .await?
        .into_iter()
        .map(|w| WelcomeView {
            id: w.id,
            key_package_ref: hex::encode(w.kp_ref),
            message: STANDARD.encode(w.data),
        })
        .collect();
    Ok(json(StatusCode::OK, &WelcomePage { welcomes }))
}

async fn ack_welcomes(
    State(state): St,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> AppResult {
    let client_id = authenticate(&state, &headers, &query).await?;
    let up_to = query_u64(&query, "up_to")?
        .ok_or_else(|| DsError::BadRequest("query up_to=<id> is required".into()))?
        .min(MAX_STORED);
    let removed = state.store.ack_welcomes(&client_id, up_to).await?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({"removed": removed}),
    ))
}

async fn websocket(
    State(state): St,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    request: axum::extract::Request,
) -> AppResult {
    let client_id = authenticate(&state, &headers, &query).await?;
    let (mut parts, _) = request.into_parts();
    let upgrade = WebSocketUpgrade::from_request_parts(&mut parts, &state)
        .await
        .map_err(|e| DsError::BadRequest(format!("not a WebSocket upgrade: {e}")))?;
    let events = state.wakeups.subscribe();
    Ok(upgrade.on_upgrade(move |socket| push_wakeups(state, client_id, socket, events)))
}

/// Sends a [`WakeUp`] for every new log entry of a group the client belongs to. A socket
/// that falls behind is closed with [`CLOSE_LAGGED`] rather than silently missing wake-ups:
/// after (re)connecting, a client reads each of its groups from its cursor.
async fn push_wakeups(
    state: Arc<AppState>,
    client_id: String,
    mut socket: WebSocket,
    mut events: broadcast::Receiver<LogEvent>,
) {
    let mut membership: HashMap<Vec<u8>, bool> = HashMap::new();
    loop {
        tokio::select! {
            event = events.recv() => {
                let LogEvent { group_id, seq, commit } = match event {
                    Ok(e) => e,
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(client = %client_id, missed = n,
                                       "wake-ups lagged: closing the WebSocket");
                        let close = axum::extract::ws::CloseFrame {
                            code: CLOSE_LAGGED,
                            reason: "wake-ups lagged: reconnect and read from your cursors".into(),
                        };
                        let _ = socket.send(Message::Close(Some(close))).await;
                        break;
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                };
                if commit {
                    membership.remove(&group_id);
                }
                let member = match membership.get(&group_id) {
                    Some(m) => *m,
                    None => match state.store.is_member(&group_id, &client_id).await {
                        Ok(m) => {
                            membership.insert(group_id.clone(), m);
                            m
                        }
                        Err(e) => {
                            // Not knowing whether to announce: the client must re-sync.
                            tracing::warn!(error = %e, "wake-up membership check failed");
                            let close = axum::extract::ws::CloseFrame {
                                code: CLOSE_UNAVAILABLE,
                                reason: "store unavailable: reconnect and read from your \
                                         cursors".into(),
                            };
                            let _ = socket.send(Message::Close(Some(close))).await;
                            break;
                        }
                    },
                };
                if !member {
                    continue;
                }
                let wake = WakeUp { group: hex::encode(&group_id), seq };
                let Ok(text) = serde_json::to_string(&wake) else { continue };
                if socket.send(Message::Text(text.into())).await.is_err() {
                    break;
                }
            }
            incoming = socket.recv() => {
                match incoming {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => {}
                }
            }
        }
    }
}
