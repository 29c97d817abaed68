//! The client side of the Authentication Service's HTTP API (RFC 9750 §4): fetch the root,
//! issue tokens and revoke (administrator), enrol, renew, read the revocation list.
//!
//! Plain HTTP through reqwest; refusals come back as [`ApiError::Refused`] carrying the
//! server's code and message.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use conclave_codec::{Decode, Encode};
use conclave_core::credential::RevocationList;
use conclave_core::messages::Credential;
use conclave_crypto::CipherSuite;
use serde::de::DeserializeOwned;

use crate::authentication::{
    CREDENTIAL_MEDIA_TYPE, ENROLMENT_MEDIA_TYPE, EnrolmentRequest, HealthResponse, NameRequest,
    RENEWAL_MEDIA_TYPE, RenewalRequest, RevokedResponse, RootResponse, TokenResponse,
};
use crate::{ApiError, BadResponse, HttpLimits, Service, b64_decode};

const SERVICE: Service = Service::Authentication;

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
    /// Largest answer body read, bytes.
    max_response: usize,
}

impl AsClient {
    /// A client of the AS at `base_url` (e.g. `http://127.0.0.1:8081`), under the default
    /// [`HttpLimits`].
    pub fn new(base_url: &str) -> Result<Self, ApiError> {
        Self::with_limits(base_url, HttpLimits::DEFAULT)
    }

    /// [`AsClient::new`] under `limits`.
    pub fn with_limits(base_url: &str, limits: HttpLimits) -> Result<Self, ApiError> {
        let http = limits
            .client()
            .map_err(|e| crate::http::unreachable(SERVICE, base_url, &e))?;
        Ok(Self {
            max_response: limits.max_response,
            ..Self::with_http_client(http, base_url)
        })
    }

    /// A client using a configured reqwest client (its timeouts are the caller's), reading
    /// answers of at most the default [`HttpLimits::max_response`].
    pub fn with_http_client(http: reqwest::Client, base_url: &str) -> Self {
        Self {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
            max_response: HttpLimits::DEFAULT.max_response,
        }
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request; a transport failure is [`ApiError::Unreachable`].
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, ApiError> {
        request
            .send()
            .await
            .map_err(|e| crate::ds_client::unreachable(SERVICE, &self.base, &e))
    }

    /// `GET /v1/as/health`: Ok if the AS and its store answer.
    pub async fn health(&self) -> Result<(), ApiError> {
        let response = self.send(self.http.get(self.url("/v1/as/health"))).await?;
        let body: HealthResponse = json_of("the health check", response, self.max_response).await?;
        if body.status == "ok" {
            Ok(())
        } else {
            Err(protocol(format!("health status {:?}", body.status)))
        }
    }

    /// `GET /v1/as/root`: the trust anchor.
    pub async fn root(&self) -> Result<RootInfo, ApiError> {
        let response = self.send(self.http.get(self.url("/v1/as/root"))).await?;
        let body: RootResponse =
            json_of("the root certificate request", response, self.max_response).await?;
        let root_certificate = b64_decode(SERVICE, &body.root_certificate)?;
        Ok(RootInfo {
            cipher_suite: CipherSuite(body.cipher_suite),
            root_certificate,
        })
    }

    /// `POST /v1/as/tokens` (administrator): a one-time enrolment token for `name`.
    pub async fn issue_token(&self, admin_token: &str, name: &str) -> Result<String, ApiError> {
        let response = self
            .send(
                self.http
                    .post(self.url("/v1/as/tokens"))
                    .bearer_auth(admin_token)
                    .json(&NameRequest { name: name.into() }),
            )
            .await?;
        let body: TokenResponse =
            json_of("the enrolment token request", response, self.max_response).await?;
        Ok(body.token)
    }

    /// `POST /v1/as/enrol`: the credential (X.509 chain: leaf, root) for the request's key.
    pub async fn enrol(&self, request: &EnrolmentRequest) -> Result<Credential, ApiError> {
        let body = request.to_bytes()?;
        let response = self
            .send(
                self.http
                    .post(self.url("/v1/as/enrol"))
                    .header(reqwest::header::CONTENT_TYPE, ENROLMENT_MEDIA_TYPE)
                    .body(body),
            )
            .await?;
        credential_of("the enrolment", response, self.max_response).await
    }

    /// `POST /v1/as/enrol-vc`: the same enrolment, answered with a `userinfo-vc` credential
    /// (draft-barnes-mls-addl-creds-01 §3) instead of a certificate. Refusals: those of
    /// [`AsClient::enrol`], and `vc_unavailable` (the AS's root cannot sign JWS).
    pub async fn enrol_userinfo_vc(
        &self,
        request: &EnrolmentRequest,
    ) -> Result<Credential, ApiError> {
        let body = request.to_bytes()?;
        let response = self
            .send(
                self.http
                    .post(self.url("/v1/as/enrol-vc"))
                    .header(reqwest::header::CONTENT_TYPE, ENROLMENT_MEDIA_TYPE)
                    .body(body),
            )
            .await?;
        credential_of("the UserInfo VC enrolment", response, self.max_response).await
    }

    /// `GET /v1/as/vc/jwks`: the AS's UserInfo VC issuer (`issuer`) and its JWK Set as JSON
    /// bytes, what `conclave_core::credential::IssuerKeys::insert_jwks_json` takes.
    pub async fn vc_jwks(&self) -> Result<(String, Vec<u8>), ApiError> {
        let response = self.send(self.http.get(self.url("/v1/as/vc/jwks"))).await?;
        let bytes = bytes_of("the VC issuer's JWK set", response, self.max_response).await?;
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| protocol(format!("bad JSON answer: {e}")))?;
        let issuer = value
            .get("issuer")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| protocol("the JWK set names no issuer".to_owned()))?
            .to_owned();
        Ok((issuer, bytes))
    }

    /// `POST /v1/as/renew`: a fresh credential for the same name, without a new token, for
    /// the request's key (the current one, or a new one the request also proves). Refusals:
    /// `not_renewable` (another AS's credential), `renewal_expired` (expired longer ago than
    /// the grace period: enrol again), `revoked`, `invalid_proof`, `stale_request` (the
    /// request's timestamp is too far from the AS's clock).
    pub async fn renew(&self, request: &RenewalRequest) -> Result<Credential, ApiError> {
        let body = request.to_bytes()?;
        let response = self
            .send(
                self.http
                    .post(self.url("/v1/as/renew"))
                    .header(reqwest::header::CONTENT_TYPE, RENEWAL_MEDIA_TYPE)
                    .body(body),
            )
            .await?;
        credential_of("the certificate renewal", response, self.max_response).await
    }

    /// `POST /v1/as/revoke` (administrator): revokes `name`.
    pub async fn revoke(&self, admin_token: &str, name: &str) -> Result<(), ApiError> {
        let response = self
            .send(
                self.http
                    .post(self.url("/v1/as/revoke"))
                    .bearer_auth(admin_token)
                    .json(&NameRequest { name: name.into() }),
            )
            .await?;
        success("the revocation", response).await.map(|_| ())
    }

    /// `GET /v1/as/revoked`: identity URIs (`mls://<name>`) of the revoked clients.
    pub async fn revoked(&self) -> Result<Vec<String>, ApiError> {
        let response = self.send(self.http.get(self.url("/v1/as/revoked"))).await?;
        let body: RevokedResponse =
            json_of("the revocation list request", response, self.max_response).await?;
        Ok(body.revoked)
    }

    /// Fetches the revocation list and stores it into `list` (replacing its contents), the
    /// shared set an `X509IdentityProvider` checks (RFC 9420 §5.3.2).
    pub async fn refresh_revocation_list(&self, list: &RevocationList) -> Result<(), ApiError> {
        let revoked: HashSet<Vec<u8>> = self
            .revoked()
            .await?
            .into_iter()
            .map(String::into_bytes)
            .collect();
        let mut guard = list
            .write()
            .map_err(|_| protocol("revocation list lock poisoned".into()))?;
        *guard = revoked;
        Ok(())
    }

    /// A fresh revocation list filled from the AS.
    pub async fn revocation_list(&self) -> Result<RevocationList, ApiError> {
        let list: RevocationList = Arc::new(RwLock::new(HashSet::new()));
        self.refresh_revocation_list(&list).await?;
        Ok(list)
    }
}

/// Passes a 2xx response through; turns an error answer into [`ApiError::Refused`].
async fn success(what: &str, response: reqwest::Response) -> Result<reqwest::Response, ApiError> {
    if response.status().is_success() {
        Ok(response)
    } else {
        Err(crate::ds_client::refusal(SERVICE, what, response).await)
    }
}

fn protocol(message: String) -> ApiError {
    ApiError::BadResponse {
        service: SERVICE,
        source: BadResponse::Json(message),
    }
}

/// The body of a 2xx answer, at most `limit` bytes.
async fn bytes_of(
    what: &str,
    response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    let response = success(what, response).await?;
    crate::http::body(SERVICE, response, limit).await
}

/// The credential of a 2xx [`CREDENTIAL_MEDIA_TYPE`] answer.
async fn credential_of(
    what: &str,
    response: reqwest::Response,
    limit: usize,
) -> Result<Credential, ApiError> {
    let media = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let bytes = bytes_of(what, response, limit).await?;
    if media != CREDENTIAL_MEDIA_TYPE {
        return Err(ApiError::BadResponse {
            service: SERVICE,
            source: BadResponse::MediaType(format!(
                "expected {CREDENTIAL_MEDIA_TYPE}, got {media:?}"
            )),
        });
    }
    Credential::from_bytes(&bytes).map_err(|e| ApiError::BadResponse {
        service: SERVICE,
        source: BadResponse::Mls(format!("not a valid Credential: {e}")),
    })
}

async fn json_of<T: DeserializeOwned>(
    what: &str,
    response: reqwest::Response,
    limit: usize,
) -> Result<T, ApiError> {
    let bytes = bytes_of(what, response, limit).await?;
    serde_json::from_slice(&bytes).map_err(|e| protocol(format!("bad JSON answer: {e}")))
}
