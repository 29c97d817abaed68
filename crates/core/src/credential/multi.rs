//! Multi-credentials (draft-ietf-mls-extensions-10 §6.5): creating credential bindings
//! (§6.5.1), and checking that a multi-credential is valid for a LeafNode's signature key
//! (§6.5.2) with [`MultiCredentialProvider`], which adds the `multi` and `weak-multi`
//! credential types to any [`IdentityProvider`].
//!
//! The group-wide half of §6.5.2 (every member supports the credential type and the
//! bindings) needs the members' capabilities and lives with the other capability rules in
//! [`crate::validation`] (`check_multi_credential_support`).
//!
//! # Decisions
//! - **Which key a binding signs.** §6.5.1 makes the binding's signature
//!   `SignWithLabel(credential_key, "CredentialBindingTBS", CredentialBindingTBS)`, where
//!   `CredentialBindingTBS` ends with the `signature_key` of the LeafNode; §6.5.2 says the
//!   signature must be "valid with respect to the `signature_key` value in the leaf node".
//!   Read together: the signature is made and verified with the binding's `credential_key`
//!   (the holder of the bound credential vouches for the leaf key), over a TBS that contains
//!   the leaf's `signature_key`. A binding therefore verifies only for the leaf whose
//!   `signature_key` it names, and cannot be moved to another leaf.
//! - **Nesting.** §6.5 does not forbid a binding whose credential is itself a
//!   multi-credential, but it defines validity and support only for the credential of a
//!   LeafNode. Conclave refuses nested multi-credentials when validating
//!   ([`MultiCredentialError::NestedMultiCredential`]); the decoder bounds the nesting
//!   ([`crate::messages::MAX_CREDENTIAL_NESTING`]).
//! - **Empty credentials.** A multi-credential without bindings presents no identity and
//!   is refused ([`MultiCredentialError::NoBindings`]).

use std::sync::Arc;

use conclave_crypto::labels::{sign_with_label, verify_with_label};
use conclave_crypto::{CipherSuite, CipherSuiteProvider, CryptoError, CryptoProvider, Secret};

use super::{CredentialCheck, CredentialError, CredentialRole, IdentityProvider};
use crate::codepoints::{CREDENTIAL_BINDING_TBS_LABEL, MULTI_CREDENTIAL, WEAK_MULTI_CREDENTIAL};
use crate::messages::{
    Capabilities, Credential, CredentialBinding, CredentialType, MultiCredential,
    SignaturePublicKey, WeakMultiCredential,
};

/// Why a multi-credential was refused, or could not be made (draft-ietf-mls-extensions-10
/// §6.5).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MultiCredentialError {
    /// A multi-credential with no bindings.
    #[error("draft-ietf-mls-extensions-10 §6.5: the multi-credential has no credential bindings")]
    NoBindings,
    /// A binding's credential is itself a `multi` or `weak-multi` credential.
    #[error(
        "draft-ietf-mls-extensions-10 §6.5: binding {index}'s credential is itself a \
         multi-credential; nested multi-credentials are not accepted"
    )]
    NestedMultiCredential {
        /// The binding's position.
        index: usize,
    },
    /// A binding of a `multi` credential whose credential type or cipher suite this client
    /// does not support: every member must support every binding (§6.5.2).
    #[error(
        "draft-ietf-mls-extensions-10 §6.5.2: binding {index} of a multi credential \
         (credential type {credential_type:?}, cipher suite {cipher_suite:?}) is not \
         supported by this client"
    )]
    UnsupportedBinding {
        /// The binding's position.
        index: usize,
        /// Its credential type.
        credential_type: CredentialType,
        /// Its cipher suite.
        cipher_suite: CipherSuite,
    },
    /// A `weak-multi` credential none of whose bindings this client supports (§6.5.2: each
    /// member supports at least one).
    #[error(
        "draft-ietf-mls-extensions-10 §6.5.2: this client supports none of the bindings of \
         the weak-multi credential"
    )]
    NoSupportedBinding,
    /// A binding's signature does not verify under its `credential_key` over the LeafNode's
    /// `signature_key` (§6.5.1, §6.5.2).
    #[error(
        "draft-ietf-mls-extensions-10 §6.5.2: binding {index}'s signature does not verify \
         under its credential_key for this leaf's signature_key"
    )]
    BindingSignature {
        /// The binding's position.
        index: usize,
    },
    /// A binding's credential is not valid for its `credential_key` according to the
    /// identity provider (§6.5.2: valid according to the Authentication Service, and
    /// `credential_key` corresponds to the credential).
    #[error(
        "draft-ietf-mls-extensions-10 §6.5.2: binding {index}'s credential is refused: {source}"
    )]
    BindingCredential {
        /// The binding's position.
        index: usize,
        /// The identity provider's reason.
        source: Box<CredentialError>,
    },
    /// Creating a binding: no crypto provider for the binding's cipher suite.
    #[error("draft-ietf-mls-extensions-10 §6.5.1: no crypto provider for cipher suite {0:?}")]
    NoProviderForSuite(CipherSuite),
    /// Creating a binding: encoding or signing failed.
    #[error("draft-ietf-mls-extensions-10 §6.5.1: signing a credential binding failed: {0}")]
    Signing(CryptoError),
}

/// A credential to bind into a multi-credential, with the private key of the signature key
/// it certifies (draft-ietf-mls-extensions-10 §6.5.1).
#[derive(Debug, Clone, Copy)]
pub struct BindingSigner<'a> {
    /// The binding's cipher suite: `credential_key` is a key of its signature scheme. It
    /// need not be the group's suite.
    pub cipher_suite: CipherSuite,
    /// The credential to bind.
    pub credential: &'a Credential,
    /// The signature public key `credential` certifies.
    pub credential_key: &'a SignaturePublicKey,
    /// The private key of `credential_key`.
    pub secret_key: &'a Secret,
}

fn signing_error(e: impl core::fmt::Display) -> MultiCredentialError {
    MultiCredentialError::Signing(CryptoError::Encoding(e.to_string()))
}

impl CredentialBinding {
    /// Makes the binding of `signer`'s credential to the leaf key `signature_key`:
    /// `signature = SignWithLabel(credential_key, "CredentialBindingTBS",
    /// CredentialBindingTBS)` (draft-ietf-mls-extensions-10 §6.5.1). `cs` is the provider of
    /// `signer.cipher_suite`.
    pub fn sign(
        cs: &dyn CipherSuiteProvider,
        signer: &BindingSigner<'_>,
        signature_key: &SignaturePublicKey,
    ) -> Result<Self, MultiCredentialError> {
        if cs.cipher_suite() != signer.cipher_suite {
            return Err(MultiCredentialError::NoProviderForSuite(
                signer.cipher_suite,
            ));
        }
        let mut binding = Self {
            cipher_suite: signer.cipher_suite,
            credential: signer.credential.clone(),
            credential_key: signer.credential_key.clone(),
            signature: Vec::new(),
        };
        let tbs = binding.to_be_signed(signature_key).map_err(signing_error)?;
        binding.signature = sign_with_label(
            cs,
            signer.secret_key.as_bytes(),
            CREDENTIAL_BINDING_TBS_LABEL,
            &tbs,
        )
        .map_err(MultiCredentialError::Signing)?;
        Ok(binding)
    }

    /// Verifies the binding's signature under its `credential_key` over
    /// `CredentialBindingTBS` naming the leaf key `signature_key` (draft-ietf-mls-extensions-10
    /// §6.5.1, §6.5.2 third condition; see the module's decisions). `cs` is the provider
    /// of the binding's cipher suite; `index` names the binding in the error.
    pub fn verify(
        &self,
        cs: &dyn CipherSuiteProvider,
        signature_key: &SignaturePublicKey,
        index: usize,
    ) -> Result<(), MultiCredentialError> {
        let refused = MultiCredentialError::BindingSignature { index };
        if cs.cipher_suite() != self.cipher_suite {
            return Err(refused);
        }
        let tbs = self
            .to_be_signed(signature_key)
            .map_err(|_| refused.clone())?;
        verify_with_label(
            cs,
            self.credential_key.as_ref(),
            CREDENTIAL_BINDING_TBS_LABEL,
            &tbs,
            &self.signature,
        )
        .map_err(|_| refused)
    }
}

/// Binds each of `signers` to the leaf key `signature_key` (draft-ietf-mls-extensions-10
/// §6.5.1), signing each binding with the provider of its own cipher suite from `crypto`.
pub fn bind_credentials(
    crypto: &dyn CryptoProvider,
    signature_key: &SignaturePublicKey,
    signers: &[BindingSigner<'_>],
) -> Result<Vec<CredentialBinding>, MultiCredentialError> {
    signers
        .iter()
        .map(|signer| {
            let cs = crypto.cipher_suite_provider(signer.cipher_suite).ok_or(
                MultiCredentialError::NoProviderForSuite(signer.cipher_suite),
            )?;
            CredentialBinding::sign(cs.as_ref(), signer, signature_key)
        })
        .collect()
}

impl MultiCredential {
    /// A `multi` credential binding `signers` to the leaf key `signature_key`
    /// (draft-ietf-mls-extensions-10 §6.5.1). The leaf's capabilities must list `multi`
    /// and every binding's credential type and cipher suite ([`advertise_support`]).
    pub fn new(
        crypto: &dyn CryptoProvider,
        signature_key: &SignaturePublicKey,
        signers: &[BindingSigner<'_>],
    ) -> Result<Self, MultiCredentialError> {
        Ok(Self {
            bindings: bind_credentials(crypto, signature_key, signers)?,
        })
    }
}

impl WeakMultiCredential {
    /// A `weak-multi` credential binding `signers` to the leaf key `signature_key`
    /// (draft-ietf-mls-extensions-10 §6.5.1). The leaf's capabilities must list
    /// `weak-multi` and every binding's credential type and cipher suite
    /// ([`advertise_support`]).
    pub fn new(
        crypto: &dyn CryptoProvider,
        signature_key: &SignaturePublicKey,
        signers: &[BindingSigner<'_>],
    ) -> Result<Self, MultiCredentialError> {
        Ok(Self {
            bindings: bind_credentials(crypto, signature_key, signers)?,
        })
    }
}

/// Adds to `capabilities` what a leaf presenting `credential` must list: the credential's
/// type and, for a multi-credential, each binding's credential type and cipher suite.
/// Conclave counts the leaf itself among the members that must support its bindings
/// (draft-ietf-mls-extensions-10 §6.5.2), as RFC 9420 §7.2 requires a leaf to list its own
/// credential type; the leaves of a group then always pass the check a joiner runs on the
/// whole tree.
pub fn advertise_support(capabilities: &mut Capabilities, credential: &Credential) {
    fn add<T: PartialEq>(list: &mut Vec<T>, value: T) {
        if !list.contains(&value) {
            list.push(value);
        }
    }
    add(&mut capabilities.credentials, credential.credential_type());
    for binding in credential.bindings().unwrap_or_default() {
        add(
            &mut capabilities.credentials,
            binding.credential.credential_type(),
        );
        add(&mut capabilities.cipher_suites, binding.cipher_suite);
    }
}

/// What [`IdentityProvider::validate_multi_credential`] is shown: a multi-credential whose
/// bindings this client supports were each found valid (draft-ietf-mls-extensions-10
/// §6.5.2).
#[derive(Debug, Clone, Copy)]
pub struct MultiCredentialCheck<'a> {
    /// The `multi` or `weak-multi` credential.
    pub credential: &'a Credential,
    /// Its bindings, in wire order.
    pub bindings: &'a [CredentialBinding],
    /// The positions of the bindings that were validated (every one for `multi`; those
    /// this client supports for `weak-multi`).
    pub validated: &'a [usize],
    /// The leaf's `signature_key` the bindings were verified for.
    pub signature_key: &'a SignaturePublicKey,
    /// Which RFC 9420 §5.3.1 event this is.
    pub role: CredentialRole,
    /// The time the credentials were checked at, seconds since the Unix epoch.
    pub now: u64,
}

/// An [`IdentityProvider`] that accepts the multi-credentials of
/// draft-ietf-mls-extensions-10 §6.5 on top of an inner provider, which keeps deciding
/// about every other credential.
///
/// What the inner provider sees:
/// - [`IdentityProvider::validate_credential`] once for each binding this client supports
///   (§6.5.2 "valid according to the MLS Authentication Service" and "`credential_key`
///   corresponds to the specified `credential`"): the binding's credential, with the
///   binding's `credential_key` as `signature_key` and the signature scheme of the
///   binding's cipher suite, and the role and time of the outer check. So an X.509 binding
///   must certify exactly `credential_key`, as a leaf's certificate must certify its
///   `signature_key` (RFC 9420 §5.3).
/// - then [`IdentityProvider::validate_multi_credential`] once with the whole credential
///   and the list of validated bindings, for policies about the combination (the default
///   accepts).
///
/// A binding is *supported* when the inner provider lists its credential type and `crypto`
/// implements its cipher suite (§6.5.2). A `multi` credential with an unsupported binding is
/// refused; a `weak-multi` credential needs at least one supported binding, and every
/// supported one must be valid. Each binding's signature is verified under its
/// `credential_key` for the LeafNode's `signature_key` before the inner provider is asked.
///
/// Identity (RFC 9420 §5.3.3): the identity of a multi-credential is the inner provider's
/// identity of its first supported binding (wire order). Under `multi` every member
/// supports every binding, so all members agree; under `weak-multi` members supporting
/// different bindings may derive different identities, so an application using
/// `weak-multi` should put a binding every member supports first.
///
/// Succession (RFC 9420 §5.3.1): the identity must not change across an Update or an
/// UpdatePath, so a successor is valid when its identity-carrying credential (itself, or a
/// multi-credential's first supported binding) is a valid successor, for the inner provider,
/// of the predecessor's. A member can thus move from a credential to a multi-credential
/// that binds it first, and add, drop or renew the other bindings; it cannot change which
/// identity it presents.
pub struct MultiCredentialProvider {
    inner: Arc<dyn IdentityProvider>,
    suites: Vec<Box<dyn CipherSuiteProvider>>,
}

impl core::fmt::Debug for MultiCredentialProvider {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MultiCredentialProvider")
            .field(
                "suites",
                &self
                    .suites
                    .iter()
                    .map(|cs| cs.cipher_suite())
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl MultiCredentialProvider {
    /// Adds `multi` and `weak-multi` to `inner`, verifying binding signatures with the
    /// suites `crypto` implements.
    pub fn new(inner: Arc<dyn IdentityProvider>, crypto: &dyn CryptoProvider) -> Self {
        let suites = crypto
            .supported_cipher_suites()
            .into_iter()
            .filter_map(|suite| crypto.cipher_suite_provider(suite))
            .collect();
        Self { inner, suites }
    }

    /// The inner provider.
    pub fn inner(&self) -> &Arc<dyn IdentityProvider> {
        &self.inner
    }

    fn suite(&self, suite: CipherSuite) -> Option<&dyn CipherSuiteProvider> {
        self.suites
            .iter()
            .find(|cs| cs.cipher_suite() == suite)
            .map(AsRef::as_ref)
    }

    /// The provider of `binding`'s suite if this client supports the binding
    /// (draft-ietf-mls-extensions-10 §6.5.2: its credential type and cipher suite).
    fn supported(
        &self,
        types: &[CredentialType],
        binding: &CredentialBinding,
    ) -> Option<&dyn CipherSuiteProvider> {
        if binding.credential.is_multi() || !types.contains(&binding.credential.credential_type()) {
            return None;
        }
        self.suite(binding.cipher_suite)
    }

    /// The credential that carries a credential's identity: itself, or for a
    /// multi-credential its first supported binding's credential.
    fn primary<'c>(
        &self,
        types: &[CredentialType],
        credential: &'c Credential,
    ) -> Result<&'c Credential, CredentialError> {
        match credential.bindings() {
            None => Ok(credential),
            Some(bindings) => bindings
                .iter()
                .find(|b| self.supported(types, b).is_some())
                .map(|b| &b.credential)
                .ok_or(CredentialError::MultiCredential(
                    MultiCredentialError::NoSupportedBinding,
                )),
        }
    }

    /// draft-ietf-mls-extensions-10 §6.5.2: every supported binding is valid in the context
    /// of the leaf, every binding is supported under `multi`, at least one under
    /// `weak-multi`. Returns the positions of the validated bindings.
    fn validate_bindings(
        &self,
        check: &CredentialCheck<'_>,
        bindings: &[CredentialBinding],
    ) -> Result<Vec<usize>, MultiCredentialError> {
        if bindings.is_empty() {
            return Err(MultiCredentialError::NoBindings);
        }
        let weak = matches!(check.credential, Credential::WeakMulti(_));
        let types = self.inner.supported_credential_types();
        let mut validated = Vec::with_capacity(bindings.len());
        for (index, binding) in bindings.iter().enumerate() {
            if binding.credential.is_multi() {
                return Err(MultiCredentialError::NestedMultiCredential { index });
            }
            let Some(cs) = self.supported(&types, binding) else {
                if weak {
                    continue;
                }
                return Err(MultiCredentialError::UnsupportedBinding {
                    index,
                    credential_type: binding.credential.credential_type(),
                    cipher_suite: binding.cipher_suite,
                });
            };
            binding.verify(cs, check.signature_key, index)?;
            self.inner
                .validate_credential(&CredentialCheck {
                    credential: &binding.credential,
                    signature_key: &binding.credential_key,
                    signature_scheme: cs.signature(),
                    role: check.role,
                    now: check.now,
                })
                .map_err(|e| MultiCredentialError::BindingCredential {
                    index,
                    source: Box::new(e),
                })?;
            validated.push(index);
        }
        if validated.is_empty() {
            return Err(MultiCredentialError::NoSupportedBinding);
        }
        Ok(validated)
    }
}

impl IdentityProvider for MultiCredentialProvider {
    fn validate_credential(&self, check: &CredentialCheck<'_>) -> Result<(), CredentialError> {
        match check.credential.bindings() {
            None => self.inner.validate_credential(check),
            Some(bindings) => {
                let validated = self.validate_bindings(check, bindings)?;
                self.inner.validate_multi_credential(&MultiCredentialCheck {
                    credential: check.credential,
                    bindings,
                    validated: &validated,
                    signature_key: check.signature_key,
                    role: check.role,
                    now: check.now,
                })
            }
        }
    }

    fn identity(&self, credential: &Credential) -> Result<Vec<u8>, CredentialError> {
        let types = self.inner.supported_credential_types();
        self.inner.identity(self.primary(&types, credential)?)
    }

    fn valid_successor(
        &self,
        predecessor: &Credential,
        successor: &Credential,
    ) -> Result<bool, CredentialError> {
        let types = self.inner.supported_credential_types();
        self.inner.valid_successor(
            self.primary(&types, predecessor)?,
            self.primary(&types, successor)?,
        )
    }

    fn supported_credential_types(&self) -> Vec<CredentialType> {
        let mut types = self.inner.supported_credential_types();
        for kind in [MULTI_CREDENTIAL, WEAK_MULTI_CREDENTIAL] {
            if !types.contains(&kind) {
                types.push(kind);
            }
        }
        types
    }
}

#[cfg(test)]
mod group_tests;
#[cfg(test)]
mod tests;
