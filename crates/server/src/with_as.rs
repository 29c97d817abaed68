//! The Delivery Service's check of credentials against an Authentication Service
//! (RFC 9750 §4), in the two ways a DS can reach one:
//!
//! - **the AS in the DS's process** (`conclave-ds --with-as`): the AS routes (`/v1/as/...`,
//!   [`conclave_as::http`]) are served next to the DS's, and the policy reads the AS's own
//!   store. With a PostgreSQL AS database (`--as-database postgres://…`) several DS nodes
//!   serve one AS: one root, one token table, one revocation list, read on every check, so a
//!   revocation made through any node applies on every node at the next request;
//! - **a remote AS** (`conclave-ds --as-url http://…`, [`crate::remote_as::RemoteAs`]): the
//!   DS serves no AS routes; it fetches the root once at start and keeps a copy of the
//!   revocation list no older than a TTL, so a revocation applies on every node within the
//!   TTL (fail closed: past the TTL without a fresh list, checks answer 503).
//!
//! With either, a client enrolled in the AS's UserInfo VC mode
//! (`POST /v1/as/enrol-vc`, draft-barnes-mls-addl-creds-01 §3) registers with its
//! `userinfo-vc` credential: it is validated against the AS's issuer key set (a remote AS's
//! is fetched at start, [`crate::remote_as`]), and names the
//! client `mls://<name>` like a certificate ([`conclave_as::userinfo_vc`]).
//!
//! Either way the policy validates the credential as members do
//! ([`conclave_core::credential::X509IdentityProvider`] with the AS root as trust anchor and
//! the AS's revocation list, RFC 9420 §5.3.1-§5.3.2): an X.509 chain to the AS root, valid
//! now, whose end-entity key is the registered signature key, for a client that is not
//! revoked. The DS client id must be the enrolled name: the certificate's identity is
//! `mls://<client id>`, so a KeyPackage claimed by client id is the named client's.
//!
//! The same check applies to a credential change (`PUT /v1/clients/{id}/credential`, e.g.
//! after `POST /v1/as/renew`), whose credential must also be a valid successor of the
//! registered one (same `mls://` identity, RFC 9420 §5.3.1), and must be signed by the
//! registered key too. No token outlives a revocation: a revoked client cannot log in
//! (`POST /v1/auth/token`), the tokens it already holds are refused on their next request
//! ([`CredentialPolicy::is_revoked`] is asked on every authenticated request, and by open
//! WebSockets before each delivery and on each re-check), and a credential change revokes
//! every token issued before it, on every DS node.
//!
//! What a DS does not verify in either mode: the MLS messages themselves (members do,
//! RFC 9750 §5), and the expiry of a registered credential after registration (a client with
//! an expired certificate can still log in to give the DS a renewed one; members refuse
//! expired credentials). `crates/server/README.md` compares the modes.

use std::sync::Arc;

use axum::Router;
use conclave_as::http::AsHttpState;
use conclave_as::{AsError, AsStoreError};
use conclave_core::credential::IdentityProvider;
use conclave_core::messages::SignaturePublicKey;
use conclave_crypto::{CipherSuite, CryptoProvider};
use conclave_ds::{AppState, CredentialPolicy, DsError, Registration, StoreError};

use crate::remote_as::RemoteAs;

/// Where the policy finds the root and the revocations.
#[derive(Debug)]
enum Authority {
    /// The AS served by this process: its store, read on every check.
    Local(Arc<AsHttpState>),
    /// A remote AS: its root, and a copy of its revocation list no older than a TTL.
    Remote(Arc<RemoteAs>),
}

impl Authority {
    fn crypto(&self) -> &Arc<dyn CryptoProvider> {
        match self {
            Self::Local(state) => state.crypto(),
            Self::Remote(remote) => remote.crypto(),
        }
    }

    /// A validator with the AS root as trust anchor, the AS's UserInfo VC issuer keys and
    /// the current revocation list.
    fn identity_provider(&self) -> Result<Arc<dyn IdentityProvider>, DsError> {
        match self {
            Self::Local(state) => Ok(Arc::new(
                state
                    .service()
                    .member_identity_provider(state.crypto().as_ref())
                    .map_err(as_error)?,
            )),
            Self::Remote(remote) => Ok(Arc::new(remote.identity_provider()?)),
        }
    }

    fn is_revoked(&self, name: &str) -> Result<bool, DsError> {
        match self {
            Self::Local(state) => state
                .service()
                .store()
                .is_revoked(name)
                .map_err(as_store_error),
            Self::Remote(remote) => remote.is_revoked(name),
        }
    }
}

/// The AS's check of registering clients.
#[derive(Debug)]
pub struct AsCredentialPolicy {
    authority: Authority,
}

impl AsCredentialPolicy {
    /// The policy of the AS served with `state` (in this process).
    pub fn new(state: Arc<AsHttpState>) -> Self {
        Self {
            authority: Authority::Local(state),
        }
    }

    /// The policy of a remote AS.
    pub fn remote(remote: Arc<RemoteAs>) -> Self {
        Self {
            authority: Authority::Remote(remote),
        }
    }
}

impl CredentialPolicy for AsCredentialPolicy {
    fn check(&self, registration: &Registration) -> Result<(), DsError> {
        let crypto = self.authority.crypto();
        let cs = crypto
            .cipher_suite_provider(CipherSuite(registration.cipher_suite))
            .ok_or_else(|| {
                DsError::BadRequest(format!(
                    "unsupported cipher suite {}",
                    registration.cipher_suite
                ))
            })?;
        let name = conclave_as::validate_with(
            self.authority.identity_provider()?.as_ref(),
            &registration.credential,
            &SignaturePublicKey(registration.signature_key.clone()),
            cs.signature(),
            registration.now,
        )
        .map_err(|e| match e {
            AsError::Credential(reason) => DsError::Forbidden(format!(
                "the credential is not one this server's Authentication Service vouches \
                 for: {reason} (enrol at the AS's /v1/as/enrol and register with the \
                 credential it issues)"
            )),
            other => as_error(other),
        })?;
        if name != registration.client_id {
            return Err(DsError::Forbidden(format!(
                "the credential is for mls://{name}, not for client id {:?}: with the \
                 Authentication Service, the client id is the enrolled name",
                registration.client_id
            )));
        }
        Ok(())
    }

    fn check_login(&self, registered: &Registration) -> Result<(), DsError> {
        // The enrolled name is the client id; the credential's own identity is checked too
        // in case the client registered before the AS was enabled.
        let mut names = vec![registered.client_id.clone()];
        if let Ok(provider) = self.authority.identity_provider()
            && let Ok(identity) = provider.identity(&registered.credential)
            && let Some(name) = conclave_as::name_of_identity(&identity)
        {
            names.push(name.to_owned());
        }
        for name in names {
            if self.authority.is_revoked(&name)? {
                return Err(DsError::Forbidden(format!(
                    "client {name:?} is revoked by the Authentication Service: it cannot log \
                     in any more"
                )));
            }
        }
        Ok(())
    }

    /// The client id is the enrolled name (checked at registration).
    fn is_revoked(&self, client_id: &str) -> Result<bool, DsError> {
        self.authority.is_revoked(client_id)
    }

    /// Members' own check: X.509 chains to the AS root (and, for the AS in this process, its
    /// UserInfo VCs), minus revoked clients.
    fn leaf_identities(&self) -> Result<Option<Arc<dyn IdentityProvider>>, DsError> {
        Ok(Some(self.authority.identity_provider()?))
    }
}

/// A failure of the AS's store, as the DS reports it (503: it cannot decide now).
fn as_store_error(reason: AsStoreError) -> DsError {
    DsError::Store(StoreError::Backend(format!("AS store: {reason}")))
}

/// Any other failure of the AS, as the DS reports it.
fn as_error(e: AsError) -> DsError {
    match e {
        AsError::Store(reason) => as_store_error(reason),
        other => DsError::Internal(format!("AS credential check: {other}")),
    }
}

/// The policy of the AS served with `state`, for [`conclave_ds::DsConfig::credential_policy`].
pub fn policy(state: Arc<AsHttpState>) -> Arc<dyn CredentialPolicy> {
    Arc::new(AsCredentialPolicy::new(state))
}

/// The policy of a remote AS, for [`conclave_ds::DsConfig::credential_policy`].
pub fn remote_policy(remote: Arc<RemoteAs>) -> Arc<dyn CredentialPolicy> {
    Arc::new(AsCredentialPolicy::remote(remote))
}

/// The DS router with the AS routes merged in. `ds_state`'s configuration should carry
/// [`policy`]`(as_state)` so that registrations are checked by the same AS.
pub fn router(ds_state: Arc<AppState>, as_state: Arc<AsHttpState>) -> Router {
    conclave_ds::router(ds_state).merge(conclave_as::http::router(as_state))
}

#[cfg(test)]
mod tests {
    use conclave_as::{AuthenticationService, EnrolmentRequest, InMemoryAsStore};
    use conclave_core::credential::{CredentialCheck, CredentialRole};
    use conclave_core::messages::Credential;
    use conclave_crypto::SeededRng;
    use conclave_crypto_rustcrypto::RustCryptoProvider;

    use super::*;

    /// draft-barnes-mls-addl-creds-01 §3 through the DS: a client enrolled in the AS's VC
    /// mode registers with its UserInfo VC under its enrolled name, and not under another,
    /// and not once revoked; the DS's leaf check accepts the VC too.
    #[test]
    fn a_client_enrolled_with_a_userinfo_vc_registers_under_its_name() {
        let now = conclave_service::now_seconds();
        let rng = &mut SeededRng::new(1);
        let cs = RustCryptoProvider
            .cipher_suite_provider(CipherSuite(1))
            .unwrap();
        let (secret, public) = cs.signature_generate(rng).unwrap();
        let service = AuthenticationService::new(cs, InMemoryAsStore::new(), now, rng).unwrap();
        let token = service.issue_token("alice", now, rng).unwrap();
        let cs = RustCryptoProvider
            .cipher_suite_provider(CipherSuite(1))
            .unwrap();
        let key = SignaturePublicKey(public);
        let request =
            EnrolmentRequest::sign(cs.as_ref(), "alice", key.clone(), &secret, token).unwrap();
        let vc = service.enrol_userinfo_vc(&request, now).unwrap();
        assert!(matches!(vc, Credential::UserInfoVc(_)));
        let state = Arc::new(AsHttpState::new(service, b"admin"));
        let policy = AsCredentialPolicy::new(state.clone());
        let registration = |client_id: &str| Registration {
            client_id: client_id.to_owned(),
            cipher_suite: 1,
            signature_key: key.0.clone(),
            credential: vc.clone(),
            now,
        };
        policy.check(&registration("alice")).unwrap();
        assert!(matches!(
            policy.check(&registration("mallory")),
            Err(DsError::Forbidden(_))
        ));
        let leaves = policy.leaf_identities().unwrap().unwrap();
        leaves
            .validate_credential(&CredentialCheck {
                credential: &vc,
                signature_key: &key,
                signature_scheme: cs.signature(),
                role: CredentialRole::Member,
                now,
            })
            .unwrap();
        state.service().revoke("alice").unwrap();
        assert!(matches!(
            policy.check(&registration("alice")),
            Err(DsError::Forbidden(_))
        ));
    }
}
