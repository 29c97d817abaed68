//! The HTTP API of the Authentication Service (RFC 9750 §4), served by the
//! `conclave-as` binary and, merged into the Delivery Service's router, by
//! `conclave-ds --with-as` (same paths).
//!
//! | method, path | request | response |
//! | --- | --- | --- |
//! | `GET /v1/as/health` | | 200 `{"status":"ok"}` when the store answers |
//! | `GET /v1/as/root` | | 200 [`RootResponse`] |
//! | `POST /v1/as/tokens` | admin bearer; JSON [`NameRequest`] | 200 [`TokenResponse`] |
//! | `POST /v1/as/enrol` | [`ENROLMENT_MEDIA_TYPE`]: TLS-encoded [`EnrolmentRequest`] | 200 [`CREDENTIAL_MEDIA_TYPE`]: TLS-encoded `Credential` (leaf, root) |
//! | `POST /v1/as/renew` | [`RENEWAL_MEDIA_TYPE`]: TLS-encoded [`RenewalRequest`] | 200 [`CREDENTIAL_MEDIA_TYPE`]: a fresh `Credential` for the same name |
//! | `POST /v1/as/revoke` | admin bearer; JSON [`NameRequest`] | 204 |
//! | `GET /v1/as/revoked` | | 200 [`RevokedResponse`] |
//!
//! Every refusal is a JSON [`ErrorBody`] with a 4xx status (5xx for our own faults). The
//! router has no fallback of its own, so that it can be `.merge()`d into another router.
//! Store calls and certificate signing run on the blocking thread pool.
//!
//! Metrics (Prometheus text format, `conclave_service::metrics`): every request is counted
//! and timed by route, method and status (`conclave_as_http_requests_total`,
//! `conclave_as_http_request_duration_seconds`), and the credentials issued and revoked are
//! counted (`conclave_as_enrolments_total`, `conclave_as_renewals_total`,
//! `conclave_as_revocations_total`). The router does not serve `GET /metrics` itself (the
//! DS's router does when the AS is merged into it): a process serving the AS alone merges
//! [`AsHttpState::metrics`]' [`Metrics::router`].

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use conclave_codec::{Decode, Encode};
use conclave_crypto::{CryptoProvider, Secret};
use conclave_service::body as request;
use conclave_service::metrics::{Counter, HttpMetrics, Metrics};
use conclave_service::{CryptoBackend, OsRandom};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::{AsError, AsStore, AuthenticationService, EnrolmentRequest, RenewalRequest};
use conclave_api::authentication::{
    CREDENTIAL_MEDIA_TYPE, ENROLMENT_MEDIA_TYPE, ErrorBody, HealthResponse, NameRequest,
    RENEWAL_MEDIA_TYPE, RevokedResponse, RootResponse, TokenResponse,
};

/// Default largest request body, bytes (an enrolment request is well under 1 KiB).
pub const DEFAULT_MAX_BODY: usize = 64 * 1024;

pub use conclave_service::Clock;

/// The prefix of the AS's metric names.
pub const METRICS_PREFIX: &str = "conclave_as";

/// The AS's metrics.
#[derive(Clone, Debug)]
struct AsMetrics {
    http: HttpMetrics,
    enrolments: Counter,
    renewals: Counter,
    revocations: Counter,
}

impl AsMetrics {
    /// Registers the AS's metrics in `metrics` (once per registry).
    fn register(metrics: &Metrics) -> Self {
        let counters = Self {
            http: HttpMetrics::register(metrics, METRICS_PREFIX),
            enrolments: Counter::default(),
            renewals: Counter::default(),
            revocations: Counter::default(),
        };
        metrics.register(METRICS_PREFIX, |registry| {
            registry.register(
                "enrolments",
                "Credentials issued to enrolling clients",
                counters.enrolments.clone(),
            );
            registry.register("renewals", "Credentials renewed", counters.renewals.clone());
            registry.register(
                "revocations",
                "Clients revoked",
                counters.revocations.clone(),
            );
        });
        counters
    }
}

/// Everything the handlers share: the service, the admin token (kept only as a hash), the
/// clock, the cryptography backend, the body limit and the metrics.
pub struct AsHttpState {
    service: AuthenticationService<Box<dyn AsStore>>,
    admin_token_hash: Secret,
    clock: Clock,
    crypto: Arc<dyn CryptoProvider>,
    max_body: usize,
    metrics: Metrics,
    counters: AsMetrics,
}

impl core::fmt::Debug for AsHttpState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AsHttpState")
            .field("service", &self.service)
            .field("max_body", &self.max_body)
            .finish_non_exhaustive()
    }
}

impl AsHttpState {
    /// The state of a service whose administrator authenticates with `admin_token`
    /// (`Authorization: Bearer <admin_token>`), with the system clock and a metrics registry
    /// of its own.
    pub fn new<S: AsStore + 'static>(
        service: AuthenticationService<S>,
        admin_token: &[u8],
    ) -> Self {
        let metrics = Metrics::new();
        Self {
            service: service.into_dyn(),
            admin_token_hash: Secret::new(Sha256::digest(admin_token).to_vec()),
            clock: conclave_service::system_clock(),
            crypto: CryptoBackend::default().provider(),
            max_body: DEFAULT_MAX_BODY,
            counters: AsMetrics::register(&metrics),
            metrics,
        }
    }

    /// Counts into `metrics` instead (e.g. the registry of the process's Delivery Service,
    /// so that one `GET /metrics` shows both). Call it once per registry.
    #[must_use]
    pub fn with_metrics(mut self, metrics: &Metrics) -> Self {
        self.counters = AsMetrics::register(metrics);
        self.metrics = metrics.clone();
        self
    }

    /// The metrics registry the AS counts into.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Uses another cryptography backend to verify chains (default: aws-lc).
    #[must_use]
    pub fn with_crypto(mut self, crypto: Arc<dyn CryptoProvider>) -> Self {
        self.crypto = crypto;
        self
    }

    /// The cryptography backend.
    pub fn crypto(&self) -> &Arc<dyn CryptoProvider> {
        &self.crypto
    }

    /// Uses another clock (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Sets the largest accepted request body, bytes.
    #[must_use]
    pub fn with_max_body(mut self, max_body: usize) -> Self {
        self.max_body = max_body;
        self
    }

    /// The service.
    pub fn service(&self) -> &AuthenticationService<Box<dyn AsStore>> {
        &self.service
    }

    /// The current time of the state's clock.
    pub fn now(&self) -> u64 {
        (self.clock)()
    }

    /// Whether `presented` is the admin token (compared in constant time, through hashes of
    /// equal length).
    fn is_admin_token(&self, presented: &str) -> bool {
        self.admin_token_hash
            .ct_eq_bytes(&Sha256::digest(presented.as_bytes()))
    }
}

/// Reads the admin token from `path`, or, if the file does not exist, creates it (mode 0600
/// on Unix) with a fresh random token (64 hex digits). Surrounding whitespace is ignored; an
/// empty file is an error.
pub fn load_or_create_admin_token(path: &Path) -> std::io::Result<Secret> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            let mut raw = [0u8; 32];
            conclave_crypto::CryptoRandom::fill(&mut OsRandom, &mut raw)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            let token = Secret::new(hex::encode(raw).into_bytes());
            raw.fill(0);
            file.write_all(token.as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            Ok(token)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let contents = Secret::new(std::fs::read(path)?);
            let trimmed = contents.as_bytes().trim_ascii();
            if trimmed.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("the admin token file {} is empty", path.display()),
                ));
            }
            Ok(Secret::from_slice(trimmed))
        }
        Err(e) => Err(e),
    }
}

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AsHttpError {
    /// The service refused or failed.
    #[error(transparent)]
    Service(#[from] AsError),
    /// The body or a header is malformed (400).
    #[error("{0}")]
    BadRequest(String),
    /// The admin token is missing or wrong (401).
    #[error("{0}")]
    Unauthorized(String),
    /// The body is larger than the limit (413).
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The body has the wrong media type (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// No such endpoint (404).
    #[error("{0}")]
    NotFound(String),
    /// The endpoint does not take this method (405).
    #[error("{0}")]
    MethodNotAllowed(String),
    /// Our own fault (500).
    #[error("{0}")]
    Internal(String),
}

impl AsHttpError {
    /// The HTTP status and the stable error code.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Service(e) => match e {
                AsError::InvalidToken | AsError::ExpiredToken => {
                    (StatusCode::FORBIDDEN, "invalid_token")
                }
                AsError::InvalidProof => (StatusCode::FORBIDDEN, "invalid_proof"),
                AsError::Revoked(_) => (StatusCode::FORBIDDEN, "revoked"),
                AsError::NotRenewable(_) => (StatusCode::FORBIDDEN, "not_renewable"),
                AsError::RenewalExpired { .. } => (StatusCode::FORBIDDEN, "renewal_expired"),
                AsError::StaleRequest { .. } => (StatusCode::FORBIDDEN, "stale_request"),
                AsError::Superseded => (StatusCode::FORBIDDEN, "superseded"),
                AsError::ReplayedRequest => (StatusCode::FORBIDDEN, "replayed_request"),
                AsError::InvalidName(_) => (StatusCode::BAD_REQUEST, "invalid_name"),
                AsError::Credential(_) => (StatusCode::BAD_REQUEST, "invalid_credential"),
                AsError::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable"),
                AsError::UserInfoVc(_) => (StatusCode::NOT_FOUND, "vc_unavailable"),
                _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            },
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for AsHttpError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = if status == StatusCode::SERVICE_UNAVAILABLE {
            tracing::error!(error = %self, "AS request failed");
            "the AS storage is unavailable; try again".to_owned()
        } else if status.is_server_error() {
            // Our own faults are logged in full but not described to the client.
            tracing::error!(error = %self, "AS request failed");
            "internal error of the AS".to_owned()
        } else {
            tracing::debug!(error = %self, code, "AS request refused");
            self.to_string()
        };
        let mut response = (
            status,
            axum::Json(ErrorBody {
                error: code.to_owned(),
                message,
            }),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

type AsResult = Result<Response, AsHttpError>;
type St = State<Arc<AsHttpState>>;

/// The router of the AS API (no fallback, so it merges into another router), its requests
/// counted in the state's metrics.
pub fn router(state: impl Into<Arc<AsHttpState>>) -> Router {
    let state = state.into();
    let http = state.counters.http.clone();
    let router = Router::new()
        .route("/v1/as/health", get(health).fallback(method_not_allowed))
        .route("/v1/as/root", get(root).fallback(method_not_allowed))
        .route(
            "/v1/as/tokens",
            post(issue_token).fallback(method_not_allowed),
        )
        .route("/v1/as/enrol", post(enrol).fallback(method_not_allowed))
        .route("/v1/as/renew", post(renew).fallback(method_not_allowed))
        .route(
            "/v1/as/enrol-vc",
            post(enrol_vc).fallback(method_not_allowed),
        )
        .route("/v1/as/vc/jwks", get(vc_jwks).fallback(method_not_allowed))
        .route("/v1/as/revoke", post(revoke).fallback(method_not_allowed))
        .route("/v1/as/revoked", get(revoked).fallback(method_not_allowed))
        .with_state(state);
    http.instrument(router)
}

async fn method_not_allowed() -> AsHttpError {
    AsHttpError::MethodNotAllowed("this endpoint does not take that method".into())
}

impl From<request::BodyError> for AsHttpError {
    fn from(e: request::BodyError) -> Self {
        match e {
            request::BodyError::UnsupportedMediaType(m) => Self::UnsupportedMediaType(m),
            request::BodyError::PayloadTooLarge(m) => Self::PayloadTooLarge(m),
            request::BodyError::BadRequest(m) => Self::BadRequest(m),
        }
    }
}

fn require_media_type(headers: &HeaderMap, expected: &str) -> Result<(), AsHttpError> {
    request::require_media_type(headers, &[expected])?;
    Ok(())
}

async fn read_body(
    state: &AsHttpState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Vec<u8>, AsHttpError> {
    Ok(request::read_body(headers, body, state.max_body).await?)
}

async fn read_json<T: DeserializeOwned>(
    state: &AsHttpState,
    headers: &HeaderMap,
    body: Body,
) -> Result<T, AsHttpError> {
    Ok(request::read_json(headers, body, state.max_body).await?)
}

/// Checks `Authorization: Bearer <admin token>`.
fn require_admin(state: &AsHttpState, headers: &HeaderMap) -> Result<(), AsHttpError> {
    let value = headers.get(header::AUTHORIZATION).ok_or_else(|| {
        AsHttpError::Unauthorized(
            "this endpoint needs the admin token: send `Authorization: Bearer <token>` with \
             the token from the AS's admin token file"
                .into(),
        )
    })?;
    let presented = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| {
            AsHttpError::Unauthorized("Authorization must be `Bearer <token>`".into())
        })?;
    if state.is_admin_token(presented) {
        Ok(())
    } else {
        Err(AsHttpError::Unauthorized(
            "wrong admin token (see the AS's admin token file)".into(),
        ))
    }
}

/// Runs `f` on the blocking pool (store calls, certificate signing).
async fn blocking<T, F>(state: &Arc<AsHttpState>, f: F) -> Result<T, AsHttpError>
where
    T: Send + 'static,
    F: FnOnce(&AsHttpState) -> Result<T, AsError> + Send + 'static,
{
    let state = state.clone();
    tokio::task::spawn_blocking(move || f(&state))
        .await
        .map_err(|e| AsHttpError::Internal(format!("AS task failed: {e}")))?
        .map_err(AsHttpError::from)
}

fn json<T: serde::Serialize>(value: &T) -> Response {
    (StatusCode::OK, axum::Json(value)).into_response()
}

// ---- handlers -------------------------------------------------------------------------------

async fn health(State(state): St) -> AsResult {
    blocking(&state, |s| s.service.health()).await?;
    Ok(json(&HealthResponse {
        status: "ok".into(),
    }))
}

async fn root(State(state): St) -> AsResult {
    Ok(json(&RootResponse {
        cipher_suite: state.service.cipher_suite().0,
        root_certificate: STANDARD.encode(state.service.root_certificate()),
    }))
}

async fn issue_token(State(state): St, headers: HeaderMap, body: Body) -> AsResult {
    require_admin(&state, &headers)?;
    let request: NameRequest = read_json(&state, &headers, body).await?;
    let name = request.name.clone();
    let token = blocking(&state, move |s| {
        s.service.issue_token(&request.name, s.now(), &mut OsRandom)
    })
    .await?;
    let token = String::from_utf8(token)
        .map_err(|_| AsHttpError::Internal("the token is not UTF-8".into()))?;
    tracing::info!(%name, "enrolment token issued");
    Ok(json(&TokenResponse { name, token }))
}

async fn enrol(State(state): St, headers: HeaderMap, body: Body) -> AsResult {
    require_media_type(&headers, ENROLMENT_MEDIA_TYPE)?;
    let bytes = read_body(&state, &headers, body).await?;
    let request = EnrolmentRequest::from_bytes(&bytes)
        .map_err(|e| AsHttpError::BadRequest(format!("not a TLS-encoded EnrolmentRequest: {e}")))?;
    let name = String::from_utf8_lossy(&request.name).into_owned();
    let credential = blocking(&state, move |s| s.service.enrol(&request, s.now())).await?;
    let response = credential_response(&credential)?;
    state.counters.enrolments.inc();
    tracing::info!(%name, "client enrolled");
    Ok(response)
}

/// Enrolment in the UserInfo VC mode (draft-barnes-mls-addl-creds-01 §3.1): the same
/// request as `/v1/as/enrol`, answered with a `userinfo-vc` credential.
async fn enrol_vc(State(state): St, headers: HeaderMap, body: Body) -> AsResult {
    require_media_type(&headers, ENROLMENT_MEDIA_TYPE)?;
    let bytes = read_body(&state, &headers, body).await?;
    let request = EnrolmentRequest::from_bytes(&bytes)
        .map_err(|e| AsHttpError::BadRequest(format!("not a TLS-encoded EnrolmentRequest: {e}")))?;
    let name = String::from_utf8_lossy(&request.name).into_owned();
    let credential = blocking(&state, move |s| {
        s.service.enrol_userinfo_vc(&request, s.now())
    })
    .await?;
    let response = credential_response(&credential)?;
    state.counters.enrolments.inc();
    tracing::info!(%name, "client enrolled with a UserInfo VC");
    Ok(response)
}

/// The VC issuer's JWK Set (RFC 7517 §5) with its `issuer`.
async fn vc_jwks(State(state): St) -> AsResult {
    let jwks = state.service.vc_jwks()?;
    Ok(json(&jwks))
}

async fn renew(State(state): St, headers: HeaderMap, body: Body) -> AsResult {
    require_media_type(&headers, RENEWAL_MEDIA_TYPE)?;
    let bytes = read_body(&state, &headers, body).await?;
    let request = RenewalRequest::from_bytes(&bytes)
        .map_err(|e| AsHttpError::BadRequest(format!("not a TLS-encoded RenewalRequest: {e}")))?;
    let credential = blocking(&state, move |s| {
        s.service.renew(s.crypto.as_ref(), &request, s.now())
    })
    .await?;
    let response = credential_response(&credential)?;
    state.counters.renewals.inc();
    tracing::info!("credential renewed");
    Ok(response)
}

/// A 200 answer carrying a TLS-encoded credential.
fn credential_response(
    credential: &conclave_core::messages::Credential,
) -> Result<Response, AsHttpError> {
    let encoded = credential
        .to_bytes()
        .map_err(|e| AsHttpError::Internal(format!("encoding the credential: {e}")))?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, CREDENTIAL_MEDIA_TYPE)],
        encoded,
    )
        .into_response())
}

async fn revoke(State(state): St, headers: HeaderMap, body: Body) -> AsResult {
    require_admin(&state, &headers)?;
    let request: NameRequest = read_json(&state, &headers, body).await?;
    let name = request.name.clone();
    blocking(&state, move |s| s.service.revoke(&request.name)).await?;
    state.counters.revocations.inc();
    tracing::info!(%name, "client revoked");
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn revoked(State(state): St) -> AsResult {
    let revoked = blocking(&state, |s| s.service.revoked()).await?;
    Ok(json(&RevokedResponse { revoked }))
}
