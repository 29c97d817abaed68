//! The HTTP API of the Delivery Service (RFC 9750 §5-§6): the router and one module of
//! axum handlers per resource. Authenticated handlers take an [`AuthenticatedClient`];
//! queries are typed ([`crate::query`]); every refusal is a [`DsError`] with its JSON body.
//!
//! | method and path | body | who | module |
//! | --- | --- | --- | --- |
//! | `GET /v1/health` | | anyone | here |
//! | `POST /v1/clients` | JSON [`RegisterRequest`](conclave_api::delivery::RegisterRequest) | anyone (proof of possession; with a [`CredentialPolicy`](crate::CredentialPolicy), a credential it accepts) | `clients` |
//! | `PUT /v1/clients/{id}/credential` | JSON [`CredentialChangeRequest`](conclave_api::delivery::CredentialChangeRequest) | the client, signed by the new and the registered key: a new key and credential for the same identity (revokes older tokens) | `clients` |
//! | `POST /v1/auth/challenge`, `POST /v1/auth/token` | JSON | anyone (a challenge for any client id; stateless) | `auth` |
//! | `POST /v1/key-packages` | `message/mls` or a batch | the owner | `key_packages` |
//! | `GET /v1/key-packages` | | the owner: its stock | `key_packages` |
//! | `POST /v1/key-packages/claim` | JSON [`ClaimRequest`](conclave_api::delivery::ClaimRequest) → `message/mls` | any client | `key_packages` |
//! | `POST /v1/groups` | JSON [`CreateGroupRequest`](conclave_api::delivery::CreateGroupRequest) | any client (becomes the member) | `groups` |
//! | `GET /v1/groups/{id}` | | members | `groups` |
//! | `POST /v1/groups/{id}/commits` | [`CommitBundle`](conclave_api::delivery::CommitBundle) | members; joiners for external commits | `groups` |
//! | `POST /v1/groups/{id}/messages` | `message/mls` | members | `groups` |
//! | `GET /v1/groups/{id}/messages?after=N&limit=M` | | members | `groups` |
//! | `GET /v1/groups/{id}/group-info`, `…/ratchet-tree` | | members, or anyone if external joins are allowed | `groups` |
//! | `GET /v1/groups/{id}/external-join` | → [`ExternalJoinBundle`](conclave_api::delivery::ExternalJoinBundle): GroupInfo with the pending SelfRemoves | members, or anyone if external joins are allowed | `groups` |
//! | `GET /v1/welcomes?after=N&limit=M`, `DELETE /v1/welcomes?up_to=N` | | the inbox owner | `welcomes` |
//! | `GET /v1/ds/external-receiver?cipher_suite=N` | → `application/vnd.conclave.external-receiver`: the DS's TLS-encoded `ExternalReceiver` for that suite (draft-mahy-mls-semiprivatemessage-07) | anyone | here |
//! | `GET /v1/ws` | WebSocket of [`WakeUp`](conclave_api::delivery::WakeUp)s; token in `Authorization` or the first frame | any client, for its groups | `websocket` |
//! | `GET /metrics` | Prometheus text format | anyone (operators: keep it off the public network) | [`crate::metrics`] |
//!
//! A client that may not see a group gets the same 404 `not_found` from every group route,
//! whether the group exists or not (`no_such_group`).
//!
//! Every request is counted and timed by matched route, method and status
//! ([`conclave_service::metrics::HttpMetrics`]).

mod auth;
mod clients;
mod groups;
mod key_packages;
pub(crate) mod websocket;
mod welcomes;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use conclave_api::delivery as wire;
use conclave_service::body as request;
use conclave_service::metrics::{METRICS_PATH, serve_metrics};
use serde::de::DeserializeOwned;

pub use crate::auth::AuthenticatedClient;
use crate::error::DsError;
use crate::state::AppState;

/// The router of the API, with `GET /metrics` (the registry of [`crate::DsConfig::metrics`])
/// and every request counted.
pub fn router(state: Arc<AppState>) -> Router {
    let http = state.metrics.http().clone();
    let metrics = state.config.metrics.clone();
    let router = Router::new()
        .route("/v1/health", get(health))
        .route("/v1/clients", post(clients::register))
        .route(
            "/v1/clients/{client}/credential",
            put(clients::change_credential),
        )
        .route("/v1/auth/challenge", post(auth::challenge))
        .route("/v1/auth/token", post(auth::token))
        .route(
            "/v1/key-packages",
            post(key_packages::upload).get(key_packages::stock),
        )
        .route("/v1/key-packages/claim", post(key_packages::claim))
        .route("/v1/groups", post(groups::create))
        .route("/v1/groups/{group}", get(groups::get))
        .route("/v1/groups/{group}/commits", post(groups::post_commit))
        .route(
            "/v1/groups/{group}/messages",
            post(groups::post_message).get(groups::read_log),
        )
        .route("/v1/groups/{group}/group-info", get(groups::group_info))
        .route("/v1/groups/{group}/ratchet-tree", get(groups::ratchet_tree))
        .route(
            "/v1/groups/{group}/membership-proof",
            get(groups::membership_proof),
        )
        .route(
            "/v1/groups/{group}/external-join",
            get(groups::external_join),
        )
        .route(
            "/v1/welcomes",
            get(welcomes::read).delete(welcomes::acknowledge),
        )
        .route("/v1/ds/external-receiver", get(external_receiver))
        .route("/v1/ws", get(websocket::upgrade))
        .route(METRICS_PATH, get(serve_metrics).with_state(metrics))
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
        .with_state(state);
    http.instrument(router)
}

/// `GET /v1/ds/external-receiver?cipher_suite=N`: the DS's `ExternalReceiver` for the suite
/// (draft-mahy-mls-semiprivatemessage-07 §3), for groups to list in their
/// `external_receivers`. Public: it holds only a public key and the DS's name. Only suites
/// the DS's crypto backend implements (400 otherwise), so at most one key per suite is ever
/// generated.
async fn external_receiver(
    State(state): St,
    crate::query::ApiQuery(query): crate::query::ApiQuery<crate::query::SuiteQuery>,
) -> AppResult {
    let receiver = state.external_receiver(query.suite()?).await?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, wire::EXTERNAL_RECEIVER_MEDIA_TYPE)],
        receiver.encoded.clone(),
    )
        .into_response())
}

/// What a handler answers.
pub(crate) type AppResult = Result<Response, DsError>;

/// The state extractor of the handlers.
pub(crate) type St = State<Arc<AppState>>;

// ---- request and response helpers (bodies: conclave_service::body, shared with the AS) ----

pub(crate) fn require_media_type(
    headers: &HeaderMap,
    expected: &[&str],
) -> Result<String, DsError> {
    Ok(request::require_media_type(headers, expected)?)
}

pub(crate) async fn read_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Vec<u8>, DsError> {
    Ok(request::read_body(headers, body, state.config.max_body).await?)
}

pub(crate) async fn read_json<T: DeserializeOwned>(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<T, DsError> {
    Ok(request::read_json(headers, body, state.config.max_body).await?)
}

/// A base64 field of a JSON body.
pub(crate) fn b64(field: &str, value: &str) -> Result<Vec<u8>, DsError> {
    STANDARD
        .decode(value)
        .map_err(|e| DsError::BadRequest(format!("{field}: not valid base64: {e}")))
}

/// The one answer to a client that asks about a group it may not see: 404 `not_found`,
/// the same whether the group does not exist or the client is not a member (and, for an
/// external commit, whether the group refuses it), so that group ids cannot be probed.
pub(crate) fn no_such_group() -> DsError {
    DsError::NotFound(
        "no such group, or not one this client may use (it is not a member; an external \
         commit needs a group that allows external joins)"
            .into(),
    )
}

/// Refuses a client that is not a member of the group with [`no_such_group`].
pub(crate) async fn require_member(
    state: &AppState,
    group_id: &[u8],
    client: &str,
) -> Result<(), DsError> {
    if state.store.is_member(group_id, client).await? {
        Ok(())
    } else {
        Err(no_such_group())
    }
}

/// A `message/mls` answer.
pub(crate) fn mls_response(status: StatusCode, bytes: Vec<u8>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, wire::MLS_MEDIA_TYPE)],
        bytes,
    )
        .into_response()
}

/// A JSON answer.
pub(crate) fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Response {
    (status, axum::Json(value)).into_response()
}

/// `GET /v1/health`: 200 with the engine's name when the store answers, else 503.
async fn health(State(state): St) -> Response {
    match state.store.health().await {
        Ok(()) => json(
            StatusCode::OK,
            &serde_json::json!({"status": "ok", "engine": state.store.engine()}),
        ),
        Err(e) => DsError::Store(e).into_response(),
    }
}
