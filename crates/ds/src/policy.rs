//! The credential policy: an optional extra check, e.g. by an Authentication Service
//! (RFC 9750 §4), of the credentials clients register, change to and log in with; and the
//! DS's own successor check ([`same_client`]) when there is no policy.

use std::sync::Arc;

use conclave_core::credential::IdentityProvider;
use conclave_core::messages::Credential;
use conclave_crypto::CryptoProvider;

use crate::error::DsError;

/// What a registering client presents (`POST /v1/clients`), for a [`CredentialPolicy`]; also
/// the new key and credential of a credential change (`PUT /v1/clients/{id}/credential`) and
/// the stored ones of a client logging in.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The client id asked for.
    pub client_id: String,
    /// The cipher suite of the signature key.
    pub cipher_suite: u16,
    /// The signature public key (its possession is proven already).
    pub signature_key: Vec<u8>,
    /// The credential.
    pub credential: Credential,
    /// The DS's current time, seconds since the Unix epoch.
    pub now: u64,
}

/// An extra check of the credential a client registers with, e.g. by an Authentication
/// Service (RFC 9750 §4): the DS then registers only clients the AS vouches for. Called on
/// the blocking thread pool, after the proof of possession is verified.
pub trait CredentialPolicy: Send + Sync + core::fmt::Debug {
    /// Accepts the registration, or refuses it ([`DsError::Forbidden`] for a credential the
    /// policy rejects, [`DsError::Store`] if it cannot decide now).
    fn check(&self, registration: &Registration) -> Result<(), DsError>;

    /// Accepts a registered client's new key and credential (`PUT
    /// /v1/clients/{id}/credential`): `registration` must be acceptable as a registration,
    /// and its credential a valid successor of `previous`, i.e. for the same client (RFC 9420
    /// §5.3.1, `valid_successor`). The default checks [`CredentialPolicy::check`] and
    /// [`same_client`] (the AS's policy keeps it: a registered credential may predate the AS
    /// or come from another, and the successor must still present the same identity).
    fn check_successor(
        &self,
        crypto: &dyn CryptoProvider,
        previous: &Credential,
        registration: &Registration,
    ) -> Result<(), DsError> {
        self.check(registration)?;
        same_client(crypto, previous, &registration.credential)
    }

    /// Accepts a registered client's login (`POST /v1/auth/token`), with the key and
    /// credential it is registered with. The default accepts; the AS's policy refuses a
    /// revoked client. It must not refuse an expired credential: the client needs a token to
    /// replace it.
    fn check_login(&self, registered: &Registration) -> Result<(), DsError> {
        let _ = registered;
        Ok(())
    }

    /// Whether `client_id` has been revoked since it logged in. Asked on every
    /// authenticated request, so that a revoked client's token stops working at once
    /// instead of when it expires. The default: never.
    fn is_revoked(&self, client_id: &str) -> Result<bool, DsError> {
        let _ = client_id;
        Ok(false)
    }

    /// The identity provider the DS validates the leaves of verified groups with (RFC 9750
    /// §5): the one members use, e.g. X.509 chains to the AS root with its current
    /// revocation list. `None` (the default): the DS reads identities as unauthenticated
    /// claims (`crate::identity`).
    fn leaf_identities(&self) -> Result<Option<Arc<dyn IdentityProvider>>, DsError> {
        Ok(None)
    }
}

/// Whether `successor` presents the same client as `predecessor`, as far as the DS can tell
/// without an Authentication Service (RFC 9420 §5.3.1 `valid_successor`; §5.3.3 identities):
/// the credential type must be the same; a `basic` credential must keep its identity, an
/// `x509` credential its first subjectAltName URI (the `X509IdentityProvider` identity; the
/// chain is not validated here); a `multi` or `weak-multi` credential
/// (draft-ietf-mls-extensions-10 §6.5) must keep its first binding's client by the same
/// rules (`MultiCredentialProvider`'s identity is its first supported binding's).
/// Refusals are [`DsError::Forbidden`].
pub fn same_client(
    crypto: &dyn CryptoProvider,
    predecessor: &Credential,
    successor: &Credential,
) -> Result<(), DsError> {
    use conclave_core::credential::{IdentityProvider as _, X509IdentityProvider};
    let refused = |why: String| {
        DsError::Forbidden(format!(
            "the new credential is not for the same client: {why} (a client id keeps its \
             identity; register a new client id for another one)"
        ))
    };
    if predecessor.credential_type() != successor.credential_type() {
        return Err(refused(format!(
            "its type is {:?}, the registered one's is {:?}",
            successor.credential_type(),
            predecessor.credential_type()
        )));
    }
    if let (Some(old), Some(new)) = (predecessor.bindings(), successor.bindings()) {
        return match (old.first(), new.first()) {
            (Some(old), Some(new)) => same_client(crypto, &old.credential, &new.credential),
            _ => Err(refused("a multi-credential without bindings".into())),
        };
    }
    match (predecessor, successor) {
        (Credential::Basic { identity: old }, Credential::Basic { identity: new }) => {
            if old == new {
                Ok(())
            } else {
                Err(refused(format!(
                    "identity {:?} instead of {:?}",
                    String::from_utf8_lossy(new),
                    String::from_utf8_lossy(old)
                )))
            }
        }
        (Credential::X509 { .. }, Credential::X509 { .. }) => {
            let no_anchors: [&[u8]; 0] = [];
            let provider = X509IdentityProvider::new(no_anchors, crypto)
                .map_err(|e| DsError::Internal(format!("identity provider: {e}")))?;
            match provider.valid_successor(predecessor, successor) {
                Ok(true) => Ok(()),
                Ok(false) => Err(refused("another subjectAltName URI".into())),
                Err(e) => Err(refused(e.to_string())),
            }
        }
        _ => Ok(()),
    }
}

/// Runs a credential-policy check off the async workers: a policy may block (the AS's reads
/// its store).
pub(crate) async fn run_policy<T: Send + 'static>(
    policy: Arc<dyn CredentialPolicy>,
    what: &'static str,
    check: impl FnOnce(&dyn CredentialPolicy) -> Result<T, DsError> + Send + 'static,
) -> Result<T, DsError> {
    tokio::task::spawn_blocking(move || check(policy.as_ref()))
        .await
        .map_err(|e| DsError::Internal(format!("{what} task: {e}")))?
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use conclave_core::messages::{CredentialBinding, MultiCredential, SignaturePublicKey};
    use conclave_crypto::CipherSuite;
    use conclave_crypto_rustcrypto::RustCryptoProvider;

    use super::*;

    fn multi(names: &[&str]) -> Credential {
        Credential::Multi(MultiCredential {
            bindings: names
                .iter()
                .map(|name| CredentialBinding {
                    cipher_suite: CipherSuite(1),
                    credential: Credential::Basic {
                        identity: name.as_bytes().to_vec(),
                    },
                    credential_key: SignaturePublicKey(vec![1]),
                    signature: Vec::new(),
                })
                .collect(),
        })
    }

    #[test]
    fn a_multi_credential_keeps_the_client_of_its_first_binding() {
        let crypto = RustCryptoProvider;
        same_client(&crypto, &multi(&["alice", "x"]), &multi(&["alice", "y"])).unwrap();
        for successor in [multi(&["bob", "alice"]), multi(&[])] {
            assert!(matches!(
                same_client(&crypto, &multi(&["alice"]), &successor),
                Err(DsError::Forbidden(_))
            ));
        }
        // A change of credential type is refused as before.
        let basic = Credential::Basic {
            identity: b"alice".to_vec(),
        };
        assert!(matches!(
            same_client(&crypto, &basic, &multi(&["alice"])),
            Err(DsError::Forbidden(_))
        ));
    }
}
