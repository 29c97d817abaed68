//! Who a Conclave member is: the identity provider that accepts both kinds of credential a
//! Conclave Authentication Service issues — X.509 certificates chaining to its root
//! (RFC 9420 §5.3.1) and UserInfo VCs of its issuer (draft-barnes-mls-addl-creds-01 §3) —
//! and names both `mls://<name>`, so that a member may move from one to the other (a valid
//! successor, RFC 9420 §5.3.1), and the AS's revocation list (RFC 9420 §5.3.2) applies to
//! both.
//!
//! It lives in the contract crate because the AS, the DS (through the AS's policy) and every
//! client validate leaves with it. The issuer's key set is fetched by the application
//! (`GET /v1/as/vc/jwks`, [`crate::AsClient::vc_jwks`]) and handed in: nothing here fetches.

use conclave_core::codepoints::USERINFO_VC_CREDENTIAL;
use conclave_core::credential::{
    CredentialCheck, CredentialError, IdentityProvider, RevocationList, UserInfoVcIdentityProvider,
    X509IdentityProvider,
};
use conclave_core::messages::{Credential, CredentialType};

use crate::authentication::identity_uri;

/// Both credential kinds of one AS (module documentation): X.509 chains to its root and UserInfo
/// VCs of its issuer, each named `mls://<name>`, minus the revoked names.
#[derive(Debug)]
pub struct AsIdentityProvider {
    x509: X509IdentityProvider,
    vc: Option<UserInfoVcIdentityProvider>,
    revoked: RevocationList,
}

impl AsIdentityProvider {
    /// A provider of these parts: `vc` is `None` for an AS that issues no VCs.
    pub fn new(
        x509: X509IdentityProvider,
        vc: Option<UserInfoVcIdentityProvider>,
        revoked: RevocationList,
    ) -> Self {
        Self { x509, vc, revoked }
    }

    fn vc(&self) -> Result<&UserInfoVcIdentityProvider, CredentialError> {
        self.vc
            .as_ref()
            .ok_or(CredentialError::UnsupportedCredentialType(
                USERINFO_VC_CREDENTIAL,
            ))
    }
}

impl IdentityProvider for AsIdentityProvider {
    fn validate_credential(&self, check: &CredentialCheck<'_>) -> Result<(), CredentialError> {
        match check.credential {
            Credential::UserInfoVc(_) => {
                self.vc()?.validate_credential(check)?;
                let identity = self.identity(check.credential)?;
                let revoked = self
                    .revoked
                    .read()
                    .map_err(|_| CredentialError::Rejected("revocation list poisoned".into()))?
                    .contains(&identity);
                if revoked {
                    return Err(CredentialError::Rejected(format!(
                        "{} is revoked (RFC 9420 §5.3.2)",
                        String::from_utf8_lossy(&identity)
                    )));
                }
                Ok(())
            }
            _ => self.x509.validate_credential(check),
        }
    }

    /// `mls://<name>` for both kinds: a VC's UserInfo `sub` is the enrolled name.
    fn identity(&self, credential: &Credential) -> Result<Vec<u8>, CredentialError> {
        match credential {
            Credential::UserInfoVc(_) => {
                let claims = self.vc()?.claims(credential)?;
                Ok(identity_uri(&claims.subject).into_bytes())
            }
            _ => self.x509.identity(credential),
        }
    }

    fn valid_successor(
        &self,
        predecessor: &Credential,
        successor: &Credential,
    ) -> Result<bool, CredentialError> {
        Ok(self.identity(predecessor)? == self.identity(successor)?)
    }

    fn supported_credential_types(&self) -> Vec<CredentialType> {
        let mut types = vec![CredentialType::X509];
        if self.vc.is_some() {
            types.push(USERINFO_VC_CREDENTIAL);
        }
        types
    }
}
