//! Who a leaf is, for the DS of a verified group (RFC 9750 §5): the client id a leaf's
//! credential names, and the identity provider the DS validates leaf credentials with.
//!
//! With a [`CredentialPolicy`](crate::CredentialPolicy) that supplies one (the
//! Authentication Service's: X.509 chains to the AS root, its revocation list), leaves are
//! validated as members validate them. Without, the DS cannot authenticate a credential:
//! [`UnauthenticatedIdentities`] reads the identity a credential presents (a `basic`
//! credential's bytes, an `x509` credential's first subjectAltName URI, a multi-credential's
//! first binding) and accepts it as a claim. Members still validate every credential with
//! their own provider; a DS without an AS protects the roster against forged *handshakes*,
//! not against a client that registered an id first.

use conclave_api::authentication::name_of_identity;
use conclave_core::codepoints::{MULTI_CREDENTIAL, WEAK_MULTI_CREDENTIAL};
use conclave_core::credential::{
    CredentialCheck, CredentialError, IdentityProvider, X509IdentityProvider,
};
use conclave_core::messages::{Credential, CredentialType};
use conclave_crypto::CryptoProvider;

use crate::ids::check_client_id;

/// The client id a credential identity names: `mls://<client id>` (the AS's certificates,
/// RFC 9420 §5.3.1 URIs) or the identity itself when it is a valid client id (a `basic`
/// credential of a client registered without an AS). `None` for anything else.
pub(crate) fn client_id_of(identity: &[u8]) -> Option<String> {
    let name = match name_of_identity(identity) {
        Some(name) => name,
        None => std::str::from_utf8(identity).ok()?,
    };
    check_client_id(name).ok()?;
    Some(name.to_owned())
}

/// The identities leaves present, taken as claims (see the module comment).
pub(crate) struct UnauthenticatedIdentities {
    /// Reads X.509 identities; it has no trust anchor, so it never validates a chain.
    x509: X509IdentityProvider,
}

impl UnauthenticatedIdentities {
    /// A provider for the DS's cipher suites.
    pub(crate) fn new(crypto: &dyn CryptoProvider) -> Result<Self, CredentialError> {
        let no_anchors: [&[u8]; 0] = [];
        Ok(Self {
            x509: X509IdentityProvider::new(no_anchors, crypto)?,
        })
    }

    /// The identity of a single (not multi) credential.
    fn single_identity(&self, credential: &Credential) -> Result<Vec<u8>, CredentialError> {
        match credential {
            Credential::Basic { identity } => Ok(identity.clone()),
            Credential::X509 { .. } => self.x509.identity(credential),
            other => Err(CredentialError::UnsupportedCredentialType(
                other.credential_type(),
            )),
        }
    }
}

impl IdentityProvider for UnauthenticatedIdentities {
    /// Accepts any credential whose identity names a client id: the DS has no authority to
    /// ask (module comment).
    fn validate_credential(&self, check: &CredentialCheck<'_>) -> Result<(), CredentialError> {
        let identity = self.identity(check.credential)?;
        if client_id_of(&identity).is_some() {
            Ok(())
        } else {
            Err(CredentialError::Rejected(
                "the credential names no client id of this Delivery Service".into(),
            ))
        }
    }

    /// A multi-credential presents its first binding's identity
    /// (draft-ietf-mls-extensions-10 §6.5).
    fn identity(&self, credential: &Credential) -> Result<Vec<u8>, CredentialError> {
        match credential.bindings() {
            Some(bindings) => match bindings.first() {
                Some(first) => self.single_identity(&first.credential),
                None => Err(CredentialError::IdentityMissing("binding")),
            },
            None => self.single_identity(credential),
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
        vec![
            CredentialType::BASIC,
            CredentialType::X509,
            MULTI_CREDENTIAL,
            WEAK_MULTI_CREDENTIAL,
        ]
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn identities_name_client_ids() {
        assert_eq!(client_id_of(b"mls://alice").as_deref(), Some("alice"));
        assert_eq!(client_id_of(b"bob").as_deref(), Some("bob"));
        assert_eq!(client_id_of(b"mls://"), None);
        assert_eq!(client_id_of(b"has space"), None);
        assert_eq!(client_id_of(&[0xff, 0xfe]), None);
    }

    #[test]
    fn basic_credentials_are_claims_of_their_identity() {
        let crypto = conclave_crypto_rustcrypto::RustCryptoProvider;
        let ids = UnauthenticatedIdentities::new(&crypto).unwrap();
        let alice = Credential::Basic {
            identity: b"alice".to_vec(),
        };
        assert_eq!(ids.identity(&alice).unwrap(), b"alice");
        let other = Credential::Basic {
            identity: b"eve".to_vec(),
        };
        assert!(!ids.valid_successor(&alice, &other).unwrap());
        assert!(ids.valid_successor(&alice, &alice).unwrap());
    }
}
