//! Client registration (`POST /v1/clients`) and credential change (`PUT
//! /v1/clients/{id}/credential`): both prove possession of the signature key (RFC 9420
//! §5.1.2 `SignWithLabel` over a [`RegistrationTbs`], resp. a [`CredentialChangeTbs`] that
//! the registered key signs too) and pass the credential policy.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use conclave_api::delivery::{
    self as wire, CredentialChangeRequest, CredentialChangeTbs, RegisterRequest, RegistrationTbs,
};
use conclave_codec::{Decode, Encode};
use conclave_core::messages::Credential;
use conclave_crypto::labels;

use super::{AppResult, St, b64, json, read_json};
use crate::auth::{bearer_token, check_token, token_hash};
use crate::error::DsError;
use crate::ids::check_client_id;
use crate::policy::{Registration, run_policy, same_client};
use crate::state::AppState;
use crate::store::{ClientRecord, CredentialChange, CredentialUpdated, Registered};

/// A key and credential whose holder proved possession of the key.
struct ProvenKey {
    signature_key: Vec<u8>,
    credential: Vec<u8>,
    parsed: Credential,
}

/// Without a [`CredentialPolicy`](crate::CredentialPolicy) the DS takes a credential's
/// identity as a claim (`crate::identity`); a UserInfo VC (draft-barnes-mls-addl-creds-01
/// §3) names its holder only through its issuer's signature, which the DS has no keys to
/// check, and its verified groups could not read it: refused rather than taken unchecked.
fn refuse_unverifiable(state: &AppState, credential: &Credential) -> Result<(), DsError> {
    let is_vc = |c: &Credential| matches!(c, Credential::UserInfoVc(_));
    let has_vc = is_vc(credential)
        || credential
            .bindings()
            .is_some_and(|bindings| bindings.iter().any(|b| is_vc(&b.credential)));
    if state.config.credential_policy.is_none() && has_vc {
        return Err(DsError::BadRequest(
            "a UserInfo VC credential (draft-barnes-mls-addl-creds) is validated with its \
             issuer's keys, which this Delivery Service does not have: run it with an \
             Authentication Service (--with-as or --as-url), or register with an X.509 or \
             basic credential"
                .into(),
        ));
    }
    Ok(())
}

/// Decodes the base64 `[signature_key, credential, signature]` of a registration and
/// checks the proof of possession: the key signed the
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
    refuse_unverifiable(state, &parsed)?;
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

/// `POST /v1/clients`: registers a client id bound to a signature key and credential, after
/// the proof of possession (and the [`CredentialPolicy`](crate::CredentialPolicy) check, if
/// any). 201 for a new
/// client, 200 for the same registration again, 409 for a client id taken by another key.
pub(crate) async fn register(State(state): St, headers: HeaderMap, body: Body) -> AppResult {
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
        token_generation: 0,
        partial: request.partial,
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
/// key and credential, e.g. with the certificate the AS renewed. Both keys sign the
/// [`CredentialChangeTbs`], which names the request's token: the new key proves possession,
/// the registered key consents (a stolen token alone cannot move the account to another
/// key). The new credential must be for the same client (with a policy, one the policy
/// accepts as a successor; without, [`same_client`]). The change revokes every token issued
/// before it (the client's token generation moves on), on every DS node. KeyPackages
/// published with the previous credential stay until claimed or expired; uploads must match
/// the new one.
pub(crate) async fn change_credential(
    State(state): St,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> AppResult {
    let token = bearer_token(&headers)?.ok_or_else(|| {
        DsError::Unauthorized("a bearer token is required in the Authorization header".into())
    })?;
    let caller = check_token(&state, &token).await?.client_id;
    if caller != client_id {
        return Err(DsError::Forbidden(format!(
            "a client can change only its own credential (the token is {caller}'s)"
        )));
    }
    let request: CredentialChangeRequest = read_json(&state, &headers, body).await?;
    let signature_key = b64("signature_key", &request.signature_key)?;
    let credential = b64("credential", &request.credential)?;
    let signature = b64("signature", &request.signature)?;
    let previous_key_signature = b64("previous_key_signature", &request.previous_key_signature)?;
    let parsed = Credential::from_bytes(&credential)
        .map_err(|e| DsError::BadRequest(format!("credential: not a valid Credential: {e}")))?;
    let current = state
        .store
        .client(&client_id)
        .await?
        .ok_or_else(|| DsError::Unauthorized("the token's client is gone".into()))?;
    let tbs = CredentialChangeTbs {
        client_id: client_id.as_bytes().to_vec(),
        cipher_suite: request.cipher_suite,
        signature_key: signature_key.clone(),
        credential: credential.clone(),
        previous_signature_key: current.signature_key.clone(),
        token_id: token_hash(&token),
    }
    .to_bytes()
    .map_err(|e| DsError::BadRequest(format!("credential change too large: {e}")))?;
    labels::verify_with_label(
        state.suite(request.cipher_suite)?.as_ref(),
        &signature_key,
        wire::CREDENTIAL_LABEL,
        &tbs,
        &signature,
    )
    .map_err(|_| {
        DsError::Unauthorized(
            "the credential change's signature does not verify under the new signature_key".into(),
        )
    })?;
    labels::verify_with_label(
        state.suite(current.cipher_suite)?.as_ref(),
        &current.signature_key,
        wire::CREDENTIAL_PREVIOUS_KEY_LABEL,
        &tbs,
        &previous_key_signature,
    )
    .map_err(|_| {
        DsError::Unauthorized(
            "previous_key_signature does not verify under the registered key: a credential \
             change must be signed by the key it replaces (and name this request's token)"
                .into(),
        )
    })?;
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
