//! The client side of the AS HTTP API (RFC 9750 §4; routes in [`crate::http`]): fetch the
//! root, issue tokens and revoke (administrator), enrol, renew, read the revocation list.
//!
//! Plain HTTP through reqwest; refusals come back as [`AsClientError::Refused`] carrying the
//! server's code and message.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use conclave_codec::{Decode, Encode};
use conclave_core::credential::RevocationList;
use conclave_core::messages::Credential;
use conclave_crypto::CipherSuite;
use serde::de::DeserializeOwned;

use crate::wire::{
    CREDENTIAL_MEDIA_TYPE, ENROLMENT_MEDIA_TYPE, ErrorBody, HealthResponse, NameRequest,
    RENEWAL_MEDIA_TYPE, RevokedResponse, RootResponse, TokenResponse,
};
use crate::{EnrolmentRequest, RenewalRequest};

/// Why a call to the AS failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AsClientError {
    /// The AS answered with an error (4xx/5xx).
    #[error("the AS refused the request ({status} {code}): {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The stable error code (`invalid_token`, `invalid_proof`, `revoked`, …).
        code: String,
        /// The server's explanation.
        message: String,
    },
    /// The AS could not be reached, or the connection failed.
    #[error("cannot talk to the AS: {0}")]
    Transport(#[from] reqwest::Error),
    /// The AS answered something this client does not understand.
    #[error("unexpected answer from the AS: {0}")]
    Protocol(String),
}

impl AsClientError {
    /// The server's error code, for a refusal.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Refused { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// The AS trust anchor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootInfo {
    /// The cipher suite whose signature scheme the AS uses (clients' keys must be of it).
    pub cipher_suite: CipherSuite,
    /// The root certificate (DER).
    pub root_certificate: Vec<u8>,
}

/// A client of one AS.
#[derive(Debug, Clone)]
pub struct AsClient {
    http: reqwest::Client,
    base: String,
}

impl AsClient {
    /// A client of the AS at `base_url` (e.g. `http://127.0.0.1:8081`), with a 30 s timeout.
    pub fn new(base_url: &str) -> Result<Self, AsClientError> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()?;
        Ok(Self::with_http_client(http, base_url))
    }

    /// A client using a configured reqwest client.
    pub fn with_http_client(http: reqwest::Client, base_url: &str) -> Self {
        Self {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
        }
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET /v1/as/health`: Ok if the AS and its store answer.
    pub async fn health(&self) -> Result<(), AsClientError> {
        let response = self.http.get(self.url("/v1/as/health")).send().await?;
        let body: HealthResponse = json_of(response).await?;
        if body.status == "ok" {
            Ok(())
        } else {
            Err(AsClientError::Protocol(format!(
                "health status {:?}",
                body.status
            )))
        }
    }

    /// `GET /v1/as/root`: the trust anchor.
    pub async fn root(&self) -> Result<RootInfo, AsClientError> {
        let response = self.http.get(self.url("/v1/as/root")).send().await?;
        let body: RootResponse = json_of(response).await?;
        let root_certificate = STANDARD
            .decode(&body.root_certificate)
            .map_err(|e| AsClientError::Protocol(format!("root_certificate: {e}")))?;
        Ok(RootInfo {
            cipher_suite: CipherSuite(body.cipher_suite),
            root_certificate,
        })
    }

    /// `POST /v1/as/tokens` (administrator): a one-time enrolment token for `name`.
    pub async fn issue_token(
        &self,
        admin_token: &str,
        name: &str,
    ) -> Result<String, AsClientError> {
        let response = self
            .http
            .post(self.url("/v1/as/tokens"))
            .bearer_auth(admin_token)
            .json(&NameRequest { name: name.into() })
            .send()
            .await?;
        let body: TokenResponse = json_of(response).await?;
        Ok(body.token)
    }

    /// `POST /v1/as/enrol`: the credential (X.509 chain: leaf, root) for the request's key.
    pub async fn enrol(&self, request: &EnrolmentRequest) -> Result<Credential, AsClientError> {
        let body = request
            .to_bytes()
            .map_err(|e| AsClientError::Protocol(format!("encoding the request: {e}")))?;
        let response = self
            .http
            .post(self.url("/v1/as/enrol"))
            .header(reqwest::header::CONTENT_TYPE, ENROLMENT_MEDIA_TYPE)
            .body(body)
            .send()
            .await?;
        credential_of(response).await
    }

    /// `POST /v1/as/renew`: a fresh credential for the same name, without a new token, for
    /// the request's key (the current one, or a new one the request also proves). Refusals:
    /// `not_renewable` (another AS's credential), `renewal_expired` (expired longer ago than
    /// the grace period: enrol again), `revoked`, `invalid_proof`, `stale_request` (the
    /// request's timestamp is too far from the AS's clock).
    pub async fn renew(&self, request: &RenewalRequest) -> Result<Credential, AsClientError> {
        let body = request
            .to_bytes()
            .map_err(|e| AsClientError::Protocol(format!("encoding the request: {e}")))?;
        let response = self
            .http
            .post(self.url("/v1/as/renew"))
            .header(reqwest::header::CONTENT_TYPE, RENEWAL_MEDIA_TYPE)
            .body(body)
            .send()
            .await?;
        credential_of(response).await
    }

    /// `POST /v1/as/revoke` (administrator): revokes `name`.
    pub async fn revoke(&self, admin_token: &str, name: &str) -> Result<(), AsClientError> {
        let response = self
            .http
            .post(self.url("/v1/as/revoke"))
            .bearer_auth(admin_token)
            .json(&NameRequest { name: name.into() })
            .send()
            .await?;
        success(response).await.map(|_| ())
    }

    /// `GET /v1/as/revoked`: identity URIs (`mls://<name>`) of the revoked clients.
    pub async fn revoked(&self) -> Result<Vec<String>, AsClientError> {
        let response = self.http.get(self.url("/v1/as/revoked")).send().await?;
        let body: RevokedResponse = json_of(response).await?;
        Ok(body.revoked)
    }

    /// Fetches the revocation list and stores it into `list` (replacing its contents), the
    /// shared set an `X509IdentityProvider` checks (RFC 9420 §5.3.2).
    pub async fn refresh_revocation_list(
        &self,
        list: &RevocationList,
    ) -> Result<(), AsClientError> {
        let revoked: HashSet<Vec<u8>> = self
            .revoked()
            .await?
            .into_iter()
            .map(String::into_bytes)
            .collect();
        let mut guard = list
            .write()
            .map_err(|_| AsClientError::Protocol("revocation list lock poisoned".into()))?;
        *guard = revoked;
        Ok(())
    }

    /// A fresh revocation list filled from the AS.
    pub async fn revocation_list(&self) -> Result<RevocationList, AsClientError> {
        let list: RevocationList = Arc::new(RwLock::new(HashSet::new()));
        self.refresh_revocation_list(&list).await?;
        Ok(list)
    }
}

/// Passes a 2xx response through; turns an error answer into [`AsClientError::Refused`].
async fn success(response: reqwest::Response) -> Result<reqwest::Response, AsClientError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let bytes = response.bytes().await?;
    let (code, message) = match serde_json::from_slice::<ErrorBody>(&bytes) {
        Ok(body) => (body.error, body.message),
        Err(_) => (
            "http_error".to_owned(),
            String::from_utf8_lossy(&bytes).chars().take(500).collect(),
        ),
    };
    Err(AsClientError::Refused {
        status: status.as_u16(),
        code,
        message,
    })
}

/// The credential of a 2xx [`CREDENTIAL_MEDIA_TYPE`] answer.
async fn credential_of(response: reqwest::Response) -> Result<Credential, AsClientError> {
    let response = success(response).await?;
    let media = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if media != CREDENTIAL_MEDIA_TYPE {
        return Err(AsClientError::Protocol(format!(
            "expected {CREDENTIAL_MEDIA_TYPE}, got {media:?}"
        )));
    }
    let bytes = response.bytes().await?;
    Credential::from_bytes(&bytes)
        .map_err(|e| AsClientError::Protocol(format!("not a valid Credential: {e}")))
}

async fn json_of<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, AsClientError> {
    let bytes = success(response).await?.bytes().await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| AsClientError::Protocol(format!("bad JSON answer: {e}")))
}
