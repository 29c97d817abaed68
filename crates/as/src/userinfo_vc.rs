//! The AS's second issuance mode: UserInfo VC credentials (draft-barnes-mls-addl-creds-01
//! §3), the AS acting as the OpenID Provider of the draft's §3.1 life-cycle.
//!
//! A client enrols exactly as for a certificate (token, proof of possession of its new key:
//! [`EnrolmentRequest`]) and receives a `userinfo-vc` credential instead: a JWT signed by the
//! AS's issuer key whose `vc.credentialSubject` binds the UserInfo claims
//! `{"sub": <name>, "preferred_username": <name>}` to the client's key as a `did:jwk`, valid
//! for the certificate lifetime. The issuer's JWK Set is public (`GET /v1/as/vc/jwks`), so
//! that verifiers cache it and validate with
//! [`conclave_core::credential::UserInfoVcIdentityProvider`] (no fetching in the core).
//!
//! The issuer key is derived from the root key ([`VC_ISSUER_KEY_INFO`]), so the mode needs
//! no new storage and every AS process on one database signs with the same key. It exists
//! for roots of Ed25519 (cipher suites 1, 3) and P-256 (suite 2); other roots cannot issue
//! VCs ([`AsError::UserInfoVc`]).
//!
//! [`AsIdentityProvider`] accepts both kinds of credential of this AS and names both by the
//! same identity, `mls://<name>`, so a member may move from one to the other (a valid
//! successor, RFC 9420 §5.3.1) and revocation applies to both.

use conclave_core::credential::{IssuerKeys, UserInfoVcIdentityProvider, UserInfoVcIssuer};
use conclave_core::messages::Credential;
use conclave_crypto::{CryptoProvider, SignatureAlgorithm};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

pub use conclave_api::identities::AsIdentityProvider;

use crate::{AsError, AsStore, AuthenticationService, EnrolmentRequest};

/// HKDF `info` deriving the VC issuer's private key from the root's.
pub const VC_ISSUER_KEY_INFO: &[u8] = b"Conclave AS UserInfo VC issuer key";

impl<S: AsStore> AuthenticationService<S> {
    /// Sets the `iss` of the UserInfo VCs this AS issues (an https URL where a real OpenID
    /// Provider would publish its discovery document). Default: `urn:conclave:as:` and the
    /// root key's fingerprint.
    pub fn with_vc_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.vc_issuer = Some(issuer.into());
        self
    }

    /// The `iss` of this AS's UserInfo VCs.
    pub fn vc_issuer_name(&self) -> String {
        self.vc_issuer.clone().unwrap_or_else(|| {
            let digest = Sha256::digest(self.root.public_key());
            let fingerprint = digest.get(..8).map(hex::encode).unwrap_or_default();
            format!("urn:conclave:as:{fingerprint}")
        })
    }

    /// The AS's UserInfo VC issuer: its key derived from the root key (module comment).
    pub fn vc_issuer(&self) -> Result<UserInfoVcIssuer, AsError> {
        let cs = self.root.provider();
        let scheme = cs.signature();
        if !matches!(
            scheme,
            SignatureAlgorithm::Ed25519 | SignatureAlgorithm::EcdsaP256Sha256
        ) {
            return Err(AsError::UserInfoVc(format!(
                "the AS root signs with {scheme:?}; UserInfo VCs are issued only by ASes \
                 with an Ed25519 or P-256 root (cipher suites 1, 2, 3)"
            )));
        }
        let secret = self.root.derive_secret(VC_ISSUER_KEY_INFO, 32)?;
        let public = cs.signature_public_key(secret.as_bytes())?;
        let kid = Sha256::digest(&public)
            .get(..8)
            .map(hex::encode)
            .unwrap_or_default();
        UserInfoVcIssuer::new(
            &self.vc_issuer_name(),
            &kid,
            scheme,
            secret.as_bytes(),
            &public,
        )
        .map_err(|e| AsError::UserInfoVc(e.to_string()))
    }

    /// The issuer's JWK Set (RFC 7517 §5), with its `issuer` as an extra member (§5 lets
    /// readers ignore it): what `GET /v1/as/vc/jwks` serves.
    pub fn vc_jwks(&self) -> Result<Value, AsError> {
        let issuer = self.vc_issuer()?;
        let mut jwks = issuer.jwks();
        if let Some(object) = jwks.as_object_mut() {
            object.insert("issuer".into(), Value::String(issuer.issuer().to_owned()));
        }
        Ok(jwks)
    }

    /// Enrols a client in the UserInfo VC mode: the checks of
    /// [`AuthenticationService::enrol`] (the token is consumed), then a UserInfo VC for the
    /// name and the request's key, valid from `now` for the certificate lifetime
    /// (draft-barnes-mls-addl-creds-01 §3.1, steps 3-4).
    pub fn enrol_userinfo_vc(
        &self,
        request: &EnrolmentRequest,
        now: u64,
    ) -> Result<Credential, AsError> {
        // Fail before the token is consumed if this AS cannot issue VCs.
        let issuer = self.vc_issuer()?;
        let name = self.accept_enrolment(request, now)?;
        let mut userinfo = Map::new();
        userinfo.insert("sub".into(), Value::String(name.clone()));
        userinfo.insert("preferred_username".into(), Value::String(name));
        issuer
            .issue(
                self.root.provider().signature(),
                &request.signature_key.0,
                &userinfo,
                now,
                now.saturating_add(self.certificate_lifetime),
            )
            .map_err(|e| AsError::UserInfoVc(e.to_string()))
    }

    /// A validator of this AS's UserInfo VCs: its own issuer key set as the only trusted one.
    pub fn vc_identity_provider(&self) -> Result<UserInfoVcIdentityProvider, AsError> {
        let issuer = self.vc_issuer()?;
        let mut keys = IssuerKeys::new();
        keys.insert_jwks_json(issuer.issuer(), issuer.jwks().to_string().as_bytes())
            .map_err(|e| AsError::UserInfoVc(e.to_string()))?;
        Ok(UserInfoVcIdentityProvider::new(keys))
    }

    /// What members configure to accept both kinds of this AS's credentials, minus the
    /// revoked clients (RFC 9420 §5.3.1-§5.3.2). Where the root cannot issue VCs, only
    /// certificates are accepted.
    pub fn member_identity_provider(
        &self,
        crypto: &dyn CryptoProvider,
    ) -> Result<AsIdentityProvider, AsError> {
        Ok(AsIdentityProvider::new(
            self.identity_provider(crypto)?,
            self.vc_identity_provider().ok(),
            self.revocation_list()?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use conclave_core::codepoints::USERINFO_VC_CREDENTIAL;
    use conclave_core::credential::{
        CredentialCheck, CredentialError, CredentialRole, IdentityProvider,
    };
    use conclave_core::messages::{CredentialType, SignaturePublicKey};
    use conclave_crypto::{CipherSuite, Secret, SeededRng};
    use conclave_crypto_rustcrypto::RustCryptoProvider;

    use super::*;
    use crate::InMemoryAsStore;

    const NOW: u64 = 1_750_000_000;

    fn service(suite: u16, seed: u64) -> AuthenticationService<InMemoryAsStore> {
        let cs = RustCryptoProvider
            .cipher_suite_provider(CipherSuite(suite))
            .unwrap();
        AuthenticationService::new(cs, InMemoryAsStore::new(), NOW, &mut SeededRng::new(seed))
            .unwrap()
    }

    /// A key pair of the service's suite and an enrolment request for `name` with a fresh
    /// token.
    fn enrolment(
        service: &AuthenticationService<InMemoryAsStore>,
        name: &str,
        seed: u64,
    ) -> (EnrolmentRequest, SignaturePublicKey, Secret) {
        let rng = &mut SeededRng::new(seed);
        let cs = RustCryptoProvider
            .cipher_suite_provider(service.cipher_suite())
            .unwrap();
        let (secret, public) = cs.signature_generate(rng).unwrap();
        let token = service.issue_token(name, NOW, rng).unwrap();
        let key = SignaturePublicKey(public);
        let request =
            EnrolmentRequest::sign(cs.as_ref(), name, key.clone(), &secret, token).unwrap();
        (request, key, secret)
    }

    fn check(
        provider: &dyn IdentityProvider,
        service: &AuthenticationService<InMemoryAsStore>,
        credential: &Credential,
        key: &SignaturePublicKey,
        now: u64,
    ) -> Result<(), CredentialError> {
        let scheme = RustCryptoProvider
            .cipher_suite_provider(service.cipher_suite())
            .unwrap()
            .signature();
        provider.validate_credential(&CredentialCheck {
            credential,
            signature_key: key,
            signature_scheme: scheme,
            role: CredentialRole::Member,
            now,
        })
    }

    #[test]
    fn a_vc_enrolment_gives_a_userinfo_vc_named_like_the_certificate_of_the_same_name() {
        for suite in [1, 2, 3] {
            let service = service(suite, 1);
            let (request, key, _) = enrolment(&service, "alice", 2);
            let vc = service.enrol_userinfo_vc(&request, NOW).unwrap();
            assert!(matches!(vc, Credential::UserInfoVc(_)));
            let members = service
                .member_identity_provider(&RustCryptoProvider)
                .unwrap();
            check(&members, &service, &vc, &key, NOW + 60).unwrap();
            assert_eq!(members.identity(&vc).unwrap(), b"mls://alice");
            // The same name's certificate is the same member: either succeeds the other.
            let (request, cert_key, _) = enrolment(&service, "alice", 3);
            let cert = service.enrol(&request, NOW).unwrap();
            check(&members, &service, &cert, &cert_key, NOW + 60).unwrap();
            assert!(members.valid_successor(&cert, &vc).unwrap());
            assert!(members.valid_successor(&vc, &cert).unwrap());
            let (request, _, _) = enrolment(&service, "bob", 4);
            let bob = service.enrol_userinfo_vc(&request, NOW).unwrap();
            assert!(!members.valid_successor(&vc, &bob).unwrap());
            // Validity: the certificate lifetime; for the leaf's key only.
            assert!(check(&members, &service, &vc, &key, NOW + DEFAULT_LIFETIME).is_err());
            assert!(check(&members, &service, &vc, &cert_key, NOW + 60).is_err());
            assert_eq!(
                members.supported_credential_types(),
                vec![CredentialType::X509, USERINFO_VC_CREDENTIAL]
            );
        }
    }

    const DEFAULT_LIFETIME: u64 = crate::DEFAULT_CERTIFICATE_LIFETIME;

    #[test]
    fn revoked_names_get_no_vc_and_their_vcs_are_refused() {
        let service = service(1, 5);
        let (request, key, _) = enrolment(&service, "carol", 6);
        let vc = service.enrol_userinfo_vc(&request, NOW).unwrap();
        service.revoke("carol").unwrap();
        let members = service
            .member_identity_provider(&RustCryptoProvider)
            .unwrap();
        let error = check(&members, &service, &vc, &key, NOW + 60).unwrap_err();
        assert!(error.to_string().contains("revoked"), "{error}");
        let (request, _, _) = enrolment(&service, "carol", 7);
        assert_eq!(
            service.enrol_userinfo_vc(&request, NOW),
            Err(AsError::Revoked("carol".into()))
        );
    }

    #[test]
    fn the_issuer_key_is_derived_from_the_root_and_is_not_the_root_key() {
        let service = service(1, 8);
        let jwks = service.vc_jwks().unwrap();
        assert_eq!(jwks, service.vc_jwks().unwrap());
        assert_eq!(jwks["issuer"], service.vc_issuer_name());
        let root_jwk = conclave_core::credential::jwk_for_signature_key(
            SignatureAlgorithm::Ed25519,
            service.root.public_key(),
        )
        .unwrap();
        assert_ne!(jwks["keys"][0]["x"], root_jwk["x"]);
        // Another AS (another root) has another issuer key; its VCs are refused here.
        let other = service_with_issuer(9, &service.vc_issuer_name());
        let (request, key, _) = enrolment(&other, "dave", 10);
        let foreign = other.enrol_userinfo_vc(&request, NOW).unwrap();
        let members = service
            .member_identity_provider(&RustCryptoProvider)
            .unwrap();
        assert!(check(&members, &service, &foreign, &key, NOW + 60).is_err());
    }

    fn service_with_issuer(seed: u64, issuer: &str) -> AuthenticationService<InMemoryAsStore> {
        service(1, seed).with_vc_issuer(issuer)
    }

    #[test]
    fn an_as_whose_root_cannot_sign_jws_refuses_vc_enrolment_without_using_the_token() {
        let service = service(7, 11);
        let (request, _, _) = enrolment(&service, "erin", 12);
        assert!(matches!(
            service.enrol_userinfo_vc(&request, NOW),
            Err(AsError::UserInfoVc(_))
        ));
        // The token still works for a certificate.
        service.enrol(&request, NOW).unwrap();
        let members = service
            .member_identity_provider(&RustCryptoProvider)
            .unwrap();
        assert_eq!(
            members.supported_credential_types(),
            vec![CredentialType::X509]
        );
    }
}
