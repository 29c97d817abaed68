//! Bearer-token authentication of API requests: the [`AuthenticatedClient`] extractor that
//! every authenticated handler takes.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Query};
use axum::http::header;
use axum::http::request::Parts;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::DsError;
use crate::policy::run_policy;
use crate::state::AppState;

/// The client a request's bearer token belongs to: the token is taken from
/// `Authorization: Bearer <token>` only (a token in a URL ends up in logs and histories); it
/// must be known and unexpired, and with a [`crate::CredentialPolicy`] the client must not
/// have been revoked since it logged in ([`crate::CredentialPolicy::is_revoked`], asked on
/// every request).
///
/// Refusals: 401 `unauthorized` (no token, a malformed `Authorization`, an unknown or
/// expired token), 403 `forbidden` (a revoked client), 503 if the store or the policy
/// cannot answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedClient(pub String);

/// [`AuthenticatedClient`] for the WebSocket upgrade only, which also accepts the token as
/// the query's `token=` when there is no `Authorization` header (browsers cannot set headers
/// on a WebSocket).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSocketClient(pub String);

/// The query parameter that may carry the token.
#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

impl FromRequestParts<Arc<AppState>> for AuthenticatedClient {
    type Rejection = DsError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        authenticate(parts, state, false).await.map(Self)
    }
}

impl FromRequestParts<Arc<AppState>> for WebSocketClient {
    type Rejection = DsError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        authenticate(parts, state, true).await.map(Self)
    }
}

/// The client of the request's token (from the header, or with `query_token` also from the
/// query), checked as [`AuthenticatedClient`] says.
async fn authenticate(
    parts: &Parts,
    state: &Arc<AppState>,
    query_token: bool,
) -> Result<String, DsError> {
    let from_header = parts
        .headers
        .get(header::AUTHORIZATION)
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(|v| v.trim().to_owned())
                .ok_or_else(|| {
                    DsError::Unauthorized("Authorization must be `Bearer <token>`".into())
                })
        })
        .transpose()?;
    let token = match from_header {
        Some(token) => token,
        // A query that does not parse carries no usable token.
        None if query_token => Query::<TokenQuery>::try_from_uri(&parts.uri)
            .ok()
            .and_then(|Query(q)| q.token)
            .ok_or_else(|| DsError::Unauthorized("a bearer token is required".into()))?,
        None => {
            return Err(DsError::Unauthorized(
                "a bearer token is required in the Authorization header".into(),
            ));
        }
    };
    let client = state
        .token_client(token_hash(&token))
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

/// The hash a token is stored and looked up by (the store never holds a usable token).
pub(crate) fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}
