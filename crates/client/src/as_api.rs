//! The Authentication Service (RFC 9750 §4) as the client uses it: a thin layer over
//! [`conclave_as::client::AsClient`] that turns its errors into [`ClientError`]s with the
//! service's name and URL, so the user reads what failed and where.

use conclave_as::client::{AsClient, AsClientError};
use conclave_as::{EnrolmentRequest, RenewalRequest};
use conclave_core::credential::RevocationList;
use conclave_core::messages::Credential;

use crate::error::{BadResponse, ClientError};

const SERVICE: &str = "the Authentication Service";

/// The AS root, as `GET /v1/as/root` serves it.
#[derive(Debug, Clone)]
pub struct AsRoot {
    /// The cipher suite whose signature scheme the root uses.
    pub cipher_suite: u16,
    /// The DER root certificate.
    pub root_certificate: Vec<u8>,
}

/// An Authentication Service client.
#[derive(Debug, Clone)]
pub struct AsApi {
    inner: AsClient,
}

impl AsApi {
    /// A client of the AS at `base`.
    pub fn new(base: &str) -> Self {
        Self {
            inner: AsClient::with_http_client(reqwest::Client::new(), base),
        }
    }

    fn map(&self, what: &str, e: AsClientError) -> ClientError {
        match e {
            AsClientError::Refused {
                status,
                code,
                message,
            } => ClientError::Refused {
                service: SERVICE,
                what: what.to_owned(),
                status,
                code,
                message,
            },
            AsClientError::Transport(e) => ClientError::Unreachable {
                service: SERVICE,
                url: self.inner.base_url().to_owned(),
                reason: e.to_string(),
            },
            other => ClientError::bad(SERVICE, BadResponse::Json(other.to_string())),
        }
    }

    /// The root certificate.
    pub async fn root(&self) -> Result<AsRoot, ClientError> {
        let root = self
            .inner
            .root()
            .await
            .map_err(|e| self.map("the root certificate request", e))?;
        Ok(AsRoot {
            cipher_suite: root.cipher_suite.0,
            root_certificate: root.root_certificate,
        })
    }

    /// Issues a one-time enrolment token for `name` (administrator).
    pub async fn issue_token(&self, admin_token: &str, name: &str) -> Result<String, ClientError> {
        self.inner
            .issue_token(admin_token, name)
            .await
            .map_err(|e| self.map("the enrolment token request", e))
    }

    /// Enrols: sends the signed request, gets the X.509 credential.
    pub async fn enrol(&self, request: &EnrolmentRequest) -> Result<Credential, ClientError> {
        self.inner
            .enrol(request)
            .await
            .map_err(|e| self.map("the enrolment", e))
    }

    /// Renews our certificate: the signed request proves possession of the current key
    /// (see [`conclave_as::RenewalRequest`]); returns the new credential.
    pub async fn renew(&self, request: &RenewalRequest) -> Result<Credential, ClientError> {
        self.inner
            .renew(request)
            .await
            .map_err(|e| self.map("the certificate renewal", e))
    }

    /// Revokes `name` (administrator).
    pub async fn revoke(&self, admin_token: &str, name: &str) -> Result<(), ClientError> {
        self.inner
            .revoke(admin_token, name)
            .await
            .map_err(|e| self.map("the revocation", e))
    }

    /// Replaces the contents of `list` with the AS's revoked identities (RFC 9420 §5.3.2).
    pub async fn refresh(&self, list: &RevocationList) -> Result<(), ClientError> {
        self.inner
            .refresh_revocation_list(list)
            .await
            .map_err(|e| self.map("the revocation list request", e))
    }
}
