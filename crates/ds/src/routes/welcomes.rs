//! The Welcome inbox: Welcomes routed to a client by the KeyPackageRefs of its published
//! KeyPackages (RFC 9420 §12.4.3.1), read page by page and acknowledged.

use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use conclave_api::delivery::{WelcomePage, WelcomeView};

use super::{AppResult, St, json};
use crate::auth::AuthenticatedClient;
use crate::error::DsError;
use crate::query::{AckQuery, ApiQuery, PageQuery};
use crate::store::MAX_STORED;

/// `GET /v1/welcomes?after=N&limit=M`: a page of the caller's inbox.
pub(crate) async fn read(
    State(state): St,
    AuthenticatedClient(client_id): AuthenticatedClient,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> AppResult {
    let welcomes = state
        .store
        .welcomes(&client_id, page.after(), page.limit(state.config.max_page))
        .await?
        .into_iter()
        .map(|w| WelcomeView {
            id: w.id,
            key_package_ref: hex::encode(w.kp_ref),
            message: STANDARD.encode(w.data),
            annotated: w.annotated,
        })
        .collect();
    Ok(json(StatusCode::OK, &WelcomePage { welcomes }))
}

/// `DELETE /v1/welcomes?up_to=N`: removes the caller's Welcomes up to id `N`, inclusive.
pub(crate) async fn acknowledge(
    State(state): St,
    AuthenticatedClient(client_id): AuthenticatedClient,
    ApiQuery(query): ApiQuery<AckQuery>,
) -> AppResult {
    let up_to = query
        .up_to
        .ok_or_else(|| DsError::BadRequest("query up_to=<id> is required".into()))?
        .min(MAX_STORED);
    let removed = state.store.ack_welcomes(&client_id, up_to).await?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({"removed": removed}),
    ))
}
