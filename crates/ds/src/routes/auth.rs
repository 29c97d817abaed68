//! Login: a challenge (`POST /v1/auth/challenge`, stateless: sealed with the nodes' shared
//! key) signed with the registered key buys one bearer token (`POST /v1/auth/token`), which
//! [`AuthenticatedClient`](crate::auth::AuthenticatedClient) checks on every other request.

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
use crate::auth::{challenge_id, token_hash};
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

/// `POST /v1/auth/challenge`: a challenge for the client id, valid for the configured
/// lifetime and for one login. Issued alike for every well-formed client id, registered or
/// not, and sealed with the nodes' shared key instead of stored
/// ([`ChallengeKey`](crate::auth::ChallengeKey)): an unauthenticated caller learns nothing
/// about who is registered and writes nothing.
pub(crate) async fn challenge(State(state): St, headers: HeaderMap, body: Body) -> AppResult {
    let request: ChallengeRequest = read_json(&state, &headers, body).await?;
    check_client_id(&request.client_id)?;
    let expires_at = state.now().saturating_add(state.config.challenge_lifetime);
    let challenge = state.challenge_key().await?.seal(
        &request.client_id,
        &random_bytes::<16>()?,
        expires_at,
    )?;
    Ok(json(
        StatusCode::OK,
        &ChallengeResponse {
            challenge: STANDARD.encode(challenge),
            expires_at,
        },
    ))
}

/// The one refusal of a login whose client, challenge or signature does not verify: the
/// same for an unregistered client as for a wrong key (no enumeration).
fn login_refused() -> DsError {
    DsError::Unauthorized(
        "the login does not verify: unknown client, or a challenge or signature that is not \
         valid (ask for a new challenge and sign it with the registered key)"
            .into(),
    )
}

/// `POST /v1/auth/token`: a bearer token for the client that signed its challenge with its
/// registered key (`SignWithLabel(…, "conclave ds auth", ChallengeTbs)`, RFC 9420 §5.1.2),
/// if the credential policy lets it log in. A challenge buys one token (its answer is
/// recorded until the challenge expires); the token belongs to the client's current token
/// generation. The store keeps only the token's hash.
pub(crate) async fn token(State(state): St, headers: HeaderMap, body: Body) -> AppResult {
    let request: TokenRequest = read_json(&state, &headers, body).await?;
    check_client_id(&request.client_id)?;
    let challenge = b64("challenge", &request.challenge)?;
    let signature = b64("signature", &request.signature)?;
    let expires_at = state
        .challenge_key()
        .await?
        .open(&request.client_id, &challenge, state.now())
        .ok_or_else(login_refused)?;
    let client = state
        .store
        .client(&request.client_id)
        .await?
        .ok_or_else(login_refused)?;
    let cs = state.suite(client.cipher_suite)?;
    let tbs = wire::ChallengeTbs {
        client_id: request.client_id.as_bytes().to_vec(),
        challenge: challenge.clone(),
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
    .map_err(|_| login_refused())?;
    if !state
        .store
        .use_challenge(&challenge_id(&challenge), expires_at)
        .await?
    {
        return Err(DsError::Unauthorized(
            "this challenge was answered already: ask for a new one".into(),
        ));
    }
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
        .put_token(
            &token_hash(&token),
            &request.client_id,
            client.token_generation,
            expires_at,
        )
        .await?;
    Ok(json(StatusCode::OK, &TokenResponse { token, expires_at }))
}
