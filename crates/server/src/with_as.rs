//! The Authentication Service in the Delivery Service's process (`conclave-ds --with-as`;
//! RFC 9750 §4): the AS routes (`/v1/as/...`, [`conclave_as::http`]) served next to the
//! DS's, and a [`CredentialPolicy`] so that the DS registers only clients whose credential
//! the AS vouches for.
//!
//! The policy validates the credential as members do
//! ([`conclave_core::credential::X509IdentityProvider`] with the AS root as trust anchor and
//! the AS's current revocation list, RFC 9420 §5.3.1-§5.3.2): an X.509 chain to the AS root,
//! valid now, whose end-entity key is the registered signature key, for a client that is not
//! revoked. The DS client id must be the enrolled name: the certificate's identity is
//! `mls://<client id>`, so a KeyPackage claimed by client id is the named client's.
//!
//! The same check applies to a credential change (`PUT /v1/clients/{id}/credential`, e.g.
//! after `POST /v1/as/renew`), whose credential must also be a valid successor of the
//! registered one (same `mls://` identity, RFC 9420 §5.3.1). A revoked client cannot log in
//! (`POST /v1/auth/token`), and the tokens it already holds stop working on its next request
//! ([`CredentialPolicy::is_revoked`] is asked on every authenticated request).

use std::sync::Arc;

use axum::Router;
use conclave_as::http::AsHttpState;
use conclave_as::{AsError, AsStore as _};
use conclave_core::credential::IdentityProvider as _;
use conclave_core::messages::SignaturePublicKey;
use conclave_crypto::CipherSuite;
use conclave_ds::{AppState, CredentialPolicy, DsError, Registration, StoreError};

/// The AS's check of registering clients.
#[derive(Debug)]
pub struct AsCredentialPolicy {
    state: Arc<AsHttpState>,
}

impl AsCredentialPolicy {
    /// The policy of the AS served with `state`.
    pub fn new(state: Arc<AsHttpState>) -> Self {
        Self { state }
    }
}

impl CredentialPolicy for AsCredentialPolicy {
    fn check(&self, registration: &Registration) -> Result<(), DsError> {
        let crypto = self.state.crypto();
        let cs = crypto
            .cipher_suite_provider(CipherSuite(registration.cipher_suite))
            .ok_or_else(|| {
                DsError::BadRequest(format!(
                    "unsupported cipher suite {}",
                    registration.cipher_suite
                ))
            })?;
        let name = self
            .state
            .service()
            .validate_credential(
                crypto.as_ref(),
                &registration.credential,
                &SignaturePublicKey(registration.signature_key.clone()),
                cs.signature(),
                registration.now,
            )
            .map_err(|e| match e {
                AsError::Credential(reason) => DsError::Forbidden(format!(
                    "the credential is not one this server's Authentication Service vouches \
                     for: {reason} (enrol at /v1/as/enrol and register with the credential \
                     it issues)"
                )),
                AsError::Store(reason) => as_store_error(reason),
                other => DsError::Internal(format!("AS credential check: {other}")),
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
        let store = self.state.service().store();
        // The enrolled name is the client id; the credential's own identity is checked too
        // in case the client registered before the AS was enabled.
        let mut names = vec![registered.client_id.clone()];
        if let Ok(provider) = self
            .state
            .service()
            .identity_provider(self.state.crypto().as_ref())
            && let Ok(identity) = provider.identity(&registered.credential)
            && let Some(name) = conclave_as::name_of_identity(&identity)
        {
            names.push(name.to_owned());
        }
        for name in names {
            if store.is_revoked(&name).map_err(as_store_error)? {
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
        self.state
            .service()
            .store()
            .is_revoked(client_id)
            .map_err(as_store_error)
    }
}

/// A failure of the AS's store, as the DS reports it.
fn as_store_error(reason: String) -> DsError {
    DsError::Store(StoreError::Backend(format!("AS store: {reason}")))
}

/// The policy of the AS served with `state`, for [`conclave_ds::DsConfig::credential_policy`].
pub fn policy(state: Arc<AsHttpState>) -> Arc<dyn CredentialPolicy> {
    Arc::new(AsCredentialPolicy::new(state))
}

/// The DS router with the AS routes merged in. `ds_state`'s configuration should carry
/// [`policy`]`(as_state)` so that registrations are checked by the same AS.
pub fn router(ds_state: Arc<AppState>, as_state: Arc<AsHttpState>) -> Router {
    conclave_ds::router(ds_state).merge(conclave_as::http::router(as_state))
}
