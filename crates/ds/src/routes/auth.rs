//! Login: a challenge (`POST /v1/auth/challenge`) signed with the registered key buys a
//! bearer token (`POST /v1/auth/token`), which [`AuthenticatedClient`](crate::auth::AuthenticatedClient)
//! checks on every other request.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use conclave_api::delivery::{
    self as wire, ChallengeRequest, ChallengeResponse, TokenRequest, TokenResponse,
};
use conclave_codec::{Decode, Encode};
use conclave_core::messages::Credential;
use conclave_crypto::labels;

use super::{AppResult, St, b64, json, read_json};
use crate::auth::token_hash;
use crate::error::DsError;
use crate::ids::check_client_id;
use crate::policy::{Registration, run_policy};

/// `N` bytes from the OS random source.
fn random_bytes<const N: usize>() -> Result<[u8; N], DsError> {
    let mut out = [0u8; N];
    conclave_crypto::CryptoRandom::fill(&mut conclave_service::OsRandom, &mut out)
        .map_err(|e| DsError::Internal(format!("random source failed: {e}")))?;
    Ok(out)
}

/// `POST /v1/auth/challenge`: a fresh random challenge for a registered client, valid for
/// the configured lifetime and for one login attempt.
pub(crate) async fn challenge(State(state): St, headers: HeaderMap, body: Body) -> AppResult {
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

/// `POST /v1/auth/token`: a bearer token for the client that signed its challenge with its
/// registered key (`SignWithLabel(…, "conclave ds auth", ChallengeTbs)`, RFC 9420 §5.1.2),
/// if the credential policy lets it log in. The store keeps only the token's hash.
pub(crate) async fn token(State(state): St, headers: HeaderMap, body: Body) -> AppResult {
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
