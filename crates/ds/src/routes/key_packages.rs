//! The KeyPackage directory (RFC 9750 §5.1): uploads, the owner's stock, and claims.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use conclave_api::delivery::{self as wire, ClaimRequest, KeyPackageStock};
use conclave_codec::{Decode, Encode};
use conclave_core::kp_context::{ContextPair, ContextType};
use conclave_core::messages::{
    KeyPackage, LeafNodeSource, MlsMessage, ProtocolVersion, find_payload,
};
use conclave_core::validation;
use conclave_crypto::labels;

use super::{AppResult, St, json, mls_response, read_body, read_json, require_media_type};
use crate::auth::AuthenticatedClient;
use crate::error::DsError;
use crate::header::{self as mls_header, decode_message};
use crate::ids::{check_client_id, parse_group_id};
use crate::store::{MAX_STORED, NewKeyPackage};

/// `POST /v1/key-packages`: publishes the uploader's KeyPackages (one `message/mls`, or a
/// TLS-encoded batch). Each must be valid (RFC 9420 §10.1: fields, leaf and package
/// signatures, an unexpired lifetime) and carry the uploader's registered signature key and
/// credential.
///
/// Whether a package is a last-resort one (RFC 9420 §16.8, RFC 9750 §5.1) is read from the
/// signed package itself ([`conclave_core::messages::KeyPackage::is_last_resort`]): the
/// `last_resort_key_package` component (draft-ietf-mls-extensions-10 §6.4) or the 0x000A
/// extension OpenMLS and mls-rs use. No request parameter says so (an old client's
/// `?last_resort=true` is ignored like any unknown parameter), so the DS serves a package
/// the way any member processing its Add sees it. An upload holds at most one last-resort
/// package per cipher suite.
pub(crate) async fn upload(
    State(state): St,
    AuthenticatedClient(client_id): AuthenticatedClient,
    headers: HeaderMap,
    body: Body,
) -> AppResult {
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
        let (bound_group, not_before) = match key_package_context(kp)
            .map_err(|e| DsError::BadRequest(format!("KeyPackage {i}: {e}")))?
        {
            None => (None, lifetime.not_before.min(MAX_STORED)),
            Some(pair) if pair.context_type == ContextType::GROUP_ID => (
                Some(pair.context_value),
                lifetime.not_before.min(MAX_STORED),
            ),
            // A context the DS cannot match a claim against (a URI, a domain, a JWK
            // thumbprint): never served by a claim, but known by reference, so that the
            // Welcome of its group reaches its owner — its start is put beyond every
            // claim's "now".
            Some(_) => (None, MAX_STORED),
        };
        packages.push(NewKeyPackage {
            kp_ref,
            owner: client_id.clone(),
            cipher_suite: kp.cipher_suite.0,
            last_resort: kp.is_last_resort(),
            not_before,
            not_after: lifetime.not_after,
            bound_group,
            data,
        });
    }
    let mut suites: Vec<u16> = packages
        .iter()
        .filter(|p| p.last_resort)
        .map(|p| p.cipher_suite)
        .collect();
    suites.sort_unstable();
    if suites.windows(2).any(|w| w.first() == w.get(1)) {
        return Err(DsError::BadRequest(
            "at most one last-resort KeyPackage per cipher suite".into(),
        ));
    }
    let stored = state.store.publish_key_packages(&packages).await?;
    Ok(json(
        StatusCode::CREATED,
        &serde_json::json!({"stored": stored, "offered": packages.len()}),
    ))
}

/// `GET /v1/key-packages`: the caller's stock per cipher suite (a claimed last-resort
/// package is the signal to rotate it).
pub(crate) async fn stock(
    State(state): St,
    AuthenticatedClient(client_id): AuthenticatedClient,
) -> AppResult {
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

/// `POST /v1/key-packages/claim`: hands out one of a client's KeyPackages for a suite, a
/// one-time package first, else its last-resort one (flagged in
/// [`LAST_RESORT_HEADER`](wire::LAST_RESORT_HEADER)); rate-limited per claimer and per
/// target: past either limit the answer is 429 with `Retry-After` (the seconds to the next
/// minute). The per-target limit counts every claim of the target, a last-resort one too:
/// serving the last-resort package once the one-time ones are protected would let a
/// drainer make every adder use the one reusable package (RFC 9420 §16.8).
pub(crate) async fn claim(
    State(state): St,
    AuthenticatedClient(claimer): AuthenticatedClient,
    headers: HeaderMap,
    body: Body,
) -> AppResult {
    let request: ClaimRequest = read_json(&state, &headers, body).await?;
    check_client_id(&request.client_id)?;
    let group = request
        .group_id
        .as_deref()
        .map(parse_group_id)
        .transpose()?;
    state.count_claim(&claimer)?;
    state.count_target_claim(&request.client_id).await?;
    let claimed = state
        .store
        .claim_key_package(
            &request.client_id,
            request.cipher_suite,
            group.as_deref(),
            state.now(),
        )
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

/// The `kp_context` of a KeyPackage (draft-mahy-mls-kp-context-00 §2), if it has one. A
/// malformed one is refused at upload: no member could tell where the package may be used.
///
/// A package bound to a group (`groupid`) is served only to a claim naming that group
/// (§1: "used only in the anticipated context"), so that a directory claim can never hand
/// an invitation for one group to an adder of another.
fn key_package_context(kp: &KeyPackage) -> Result<Option<ContextPair>, String> {
    find_payload::<ContextPair>(&kp.extensions).map_err(|e| {
        format!(
            "its kp_context extension is not one ContextPair (draft-mahy-mls-kp-context-00 §2): {e}"
        )
    })
}
