//! Authentication of API requests: the [`AuthenticatedClient`] extractor that the
//! authenticated handlers take, the token check it shares with the WebSocket
//! (`check_token`), the unchecked [`BearerToken`] of the two hot routes (`GET` and `POST`
//! of a group's messages), whose store call checks the token in the statement that reads or
//! appends (on PostgreSQL: one statement per request instead of two, and the check in the
//! work's own snapshot), and the stateless login challenges (`ChallengeKey`).

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::error::DsError;
use crate::policy::run_policy;
use crate::state::AppState;
use crate::store::rules;

/// The client a request's bearer token belongs to. The token is taken from
/// `Authorization: Bearer <token>` only, on every route (a token in a URL ends up in logs and
/// histories); it must be known, unexpired and of its client's current token generation (a
/// credential change revokes every token issued before it, on every DS node sharing the
/// database), and with a [`crate::CredentialPolicy`] the client must not have been revoked
/// since it logged in ([`crate::CredentialPolicy::is_revoked`], asked on every request).
///
/// Refusals: 401 `unauthorized` (no token, a malformed `Authorization`, an unknown, expired
/// or revoked token), 403 `forbidden` (a client revoked by the policy), 503 if the store or
/// the policy cannot answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedClient(pub String);

impl FromRequestParts<Arc<AppState>> for AuthenticatedClient {
    type Rejection = DsError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(&parts.headers)?.ok_or_else(|| {
            DsError::Unauthorized("a bearer token is required in the Authorization header".into())
        })?;
        check_token(state, &token).await.map(|s| Self(s.client_id))
    }
}

/// The bearer token of `Authorization: Bearer <token>`, if the header is present.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Result<Option<String>, DsError> {
    headers
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
        .transpose()
}

/// A token that passed [`check_token`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Session {
    /// The client it belongs to.
    pub(crate) client_id: String,
    /// When it expires, seconds since the Unix epoch.
    pub(crate) expires_at: u64,
}

/// Checks a bearer token as [`AuthenticatedClient`] says: 401 unless the store knows it,
/// unexpired and of its client's current generation; 403 if the credential policy revoked
/// the client. Asks the store (and the policy) every time, so that a revocation on one
/// node holds on all of them at once: PostgreSQL (several nodes) reads the token and its
/// client's generation on every request; SQLite (one process) answers from the tokens it
/// has already checked, which it forgets in the same call that moves a client's token
/// generation on (`crate::store::sqlite`, module comment). The policy is asked every time.
pub(crate) async fn check_token(state: &AppState, token: &str) -> Result<Session, DsError> {
    let (client_id, expires_at) = state
        .store
        .token(&token_hash(token), state.now())
        .await?
        .ok_or_else(token_refused)?;
    check_policy(state, &client_id).await?;
    Ok(Session {
        client_id,
        expires_at,
    })
}

/// The 401 of a token the store refuses (unknown, expired, or of a past generation).
pub(crate) fn token_refused() -> DsError {
    DsError::Unauthorized(
        "unknown, expired or revoked token (a credential change revokes older tokens): log \
         in again"
            .into(),
    )
}

/// The bearer token of a request, not yet checked: taken by the hot routes whose store call
/// checks it in the same call as their work (`Store::member_log_with_token`,
/// `Store::append_with_token`; see `crate::routes::groups::read_log`). The handler refuses
/// a token the store refuses with [`token_refused`] and runs [`check_policy`] on the
/// token's client before answering, so that a request is refused as [`AuthenticatedClient`]
/// refuses it. Refusals here: 401 for a missing or malformed `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BearerToken(pub(crate) String);

impl FromRequestParts<Arc<AppState>> for BearerToken {
    type Rejection = DsError;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        bearer_token(&parts.headers)?.map(Self).ok_or_else(|| {
            DsError::Unauthorized("a bearer token is required in the Authorization header".into())
        })
    }
}

/// With a [`crate::CredentialPolicy`]: 403 if it revoked `client_id`
/// ([`crate::CredentialPolicy::is_revoked`], asked on every request).
pub(crate) async fn check_policy(state: &AppState, client_id: &str) -> Result<(), DsError> {
    if let Some(policy) = state.config.credential_policy.clone() {
        let id = client_id.to_owned();
        let revoked = run_policy(policy, "revocation check", move |p| p.is_revoked(&id)).await?;
        if revoked {
            return Err(DsError::Forbidden(format!(
                "client {client_id:?} is revoked by the Authentication Service: its token no \
                 longer works"
            )));
        }
    }
    Ok(())
}

/// The hash a token is stored and looked up by (the store never holds a usable token):
/// `conclave_api::delivery::token_id`, SHA-256 of the token, which signed statements name.
pub(crate) fn token_hash(token: &str) -> Vec<u8> {
    conclave_api::delivery::token_id(token)
}

/// The name of the challenge key among the nodes' shared secrets.
pub(crate) const CHALLENGE_KEY_NAME: &str = "challenge-hmac-sha256-v1";

/// Version byte of the challenge format.
const CHALLENGE_VERSION: u8 = 1;
/// Random bytes in a challenge.
const CHALLENGE_NONCE_LEN: usize = 16;
/// Bytes of the MAC that seals a challenge.
const CHALLENGE_TAG_LEN: usize = 32;
/// Domain separation of the MAC.
const CHALLENGE_MAC_LABEL: &[u8] = b"conclave ds challenge v1";

/// The key that seals login challenges, so that the DS keeps no state for them: a challenge
/// is `version (1) || nonce (16) || expires_at (8, big-endian) || tag (32)` with
///
/// ```text
/// tag = HMAC-SHA256(key, "conclave ds challenge v1" || uint16 len(client_id) || client_id
///                        || nonce || expires_at)
/// ```
///
/// Any DS node sharing the database holds the same key (a shared secret in the store,
/// created by the first node that needs it), so a challenge issued by one node is answered
/// at another. A challenge is issued for any well-formed client id, registered or not (who
/// is registered is not told to unauthenticated callers); it is accepted once
/// ([`crate::Store::use_challenge`] records answers that verified, never requests).
pub(crate) struct ChallengeKey(conclave_crypto::Secret);

impl core::fmt::Debug for ChallengeKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ChallengeKey(..)")
    }
}

impl ChallengeKey {
    /// The key of these bytes.
    pub(crate) fn new(key: Vec<u8>) -> Self {
        Self(conclave_crypto::Secret::from(key))
    }

    fn tag(&self, client_id: &str, nonce: &[u8], expires_at: u64) -> Result<Hmac<Sha256>, DsError> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.0.as_bytes())
            .map_err(|e| DsError::Internal(format!("challenge key: {e}")))?;
        let id_len = u16::try_from(client_id.len())
            .map_err(|_| DsError::BadRequest("client id too long".into()))?;
        mac.update(CHALLENGE_MAC_LABEL);
        mac.update(&id_len.to_be_bytes());
        mac.update(client_id.as_bytes());
        mac.update(nonce);
        mac.update(&expires_at.to_be_bytes());
        Ok(mac)
    }

    /// A challenge for `client_id`, valid until `expires_at`.
    pub(crate) fn seal(
        &self,
        client_id: &str,
        nonce: &[u8; CHALLENGE_NONCE_LEN],
        expires_at: u64,
    ) -> Result<Vec<u8>, DsError> {
        let tag = self
            .tag(client_id, nonce, expires_at)?
            .finalize()
            .into_bytes();
        let mut out = Vec::with_capacity(1 + CHALLENGE_NONCE_LEN + 8 + CHALLENGE_TAG_LEN);
        out.push(CHALLENGE_VERSION);
        out.extend_from_slice(nonce);
        out.extend_from_slice(&expires_at.to_be_bytes());
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// When a challenge this key sealed for `client_id` expires, if it is one and has not
    /// expired at `now` (the tag is compared in constant time).
    pub(crate) fn open(&self, client_id: &str, challenge: &[u8], now: u64) -> Option<u64> {
        let (&version, rest) = challenge.split_first()?;
        let (nonce, rest) = rest.split_at_checked(CHALLENGE_NONCE_LEN)?;
        let (expiry, tag) = rest.split_at_checked(8)?;
        if version != CHALLENGE_VERSION || tag.len() != CHALLENGE_TAG_LEN {
            return None;
        }
        let expires_at = u64::from_be_bytes(expiry.try_into().ok()?);
        self.tag(client_id, nonce, expires_at)
            .ok()?
            .verify_slice(tag)
            .ok()?;
        rules::challenge_accepted(client_id, expires_at, client_id, now).then_some(expires_at)
    }
}

/// The identifier an answered challenge is recorded by (single use).
pub(crate) fn challenge_id(challenge: &[u8]) -> Vec<u8> {
    Sha256::digest(challenge).to_vec()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_sealed_challenge_opens_for_its_client_until_it_expires() {
        let key = ChallengeKey::new(vec![7; 32]);
        let challenge = key.seal("alice", &[1; 16], 100).unwrap();
        assert_eq!(key.open("alice", &challenge, 100), Some(100));
        assert_eq!(key.open("alice", &challenge, 101), None, "expired");
        assert_eq!(key.open("bob", &challenge, 50), None, "another client");
        assert_eq!(
            ChallengeKey::new(vec![8; 32]).open("alice", &challenge, 50),
            None
        );
        // A later expiry cannot be written in.
        let mut extended = challenge.clone();
        if let Some(b) = extended.get_mut(17 + 7) {
            *b = b.wrapping_add(1);
        }
        assert_eq!(key.open("alice", &extended, 50), None);
        assert_eq!(key.open("alice", &challenge[..20], 50), None, "truncated");
        assert_eq!(key.open("alice", &[], 50), None);
    }
}
