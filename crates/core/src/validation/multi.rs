//! Support of multi-credentials by the members of a group (draft-ietf-mls-extensions-10
//! §6.5.2): the group-wide half of multi-credential verification. Whether each binding is
//! valid for the leaf is the identity provider's half
//! ([`crate::credential::MultiCredentialProvider`]).
//!
//! A leaf presenting a multi-credential requires every member — the leaf itself included,
//! see [`crate::credential::advertise_support`] — to support its credential type (`multi` or
//! `weak-multi`); under `multi` every member must support every binding's credential type
//! and cipher suite, under `weak-multi` at least one binding. So that the group stays in a
//! state where these hold, a leaf joining or replacing another must also support the
//! multi-credentials the other members present (the counterpart of RFC 9420 §7.3's "the
//! leaf supports every credential type in use by the other members").

use conclave_crypto::CipherSuite;

use super::{MemberCredentialTypes, ValidationError};
use crate::messages::{Capabilities, Credential, CredentialType, LeafNode};

/// The credential types and cipher suites one member lists in its capabilities, sorted and
/// without repeats: what decides which credential bindings it supports
/// (draft-ietf-mls-extensions-10 §6.5.2).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct CredentialSupport {
    /// `capabilities.credentials`.
    pub credential_types: Vec<CredentialType>,
    /// `capabilities.cipher_suites`.
    pub cipher_suites: Vec<CipherSuite>,
}

impl CredentialSupport {
    /// The support advertised by `capabilities`.
    pub fn of(capabilities: &Capabilities) -> Self {
        let mut credential_types = capabilities.credentials.clone();
        credential_types.sort_unstable();
        credential_types.dedup();
        let mut cipher_suites = capabilities.cipher_suites.clone();
        cipher_suites.sort_unstable();
        cipher_suites.dedup();
        Self {
            credential_types,
            cipher_suites,
        }
    }

    /// Whether the member supports a credential type.
    pub fn supports_type(&self, credential_type: CredentialType) -> bool {
        self.credential_types
            .binary_search(&credential_type)
            .is_ok()
    }

    /// Whether the member supports a binding of this credential type and cipher suite
    /// (draft-ietf-mls-extensions-10 §6.5.2: "supports the credential type and cipher suite
    /// of the binding").
    pub fn supports_binding(&self, binding: BindingKind) -> bool {
        self.supports_type(binding.credential_type)
            && self
                .cipher_suites
                .binary_search(&binding.cipher_suite)
                .is_ok()
    }
}

/// The credential type and cipher suite of one credential binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BindingKind {
    /// The bound credential's type.
    pub credential_type: CredentialType,
    /// The binding's cipher suite.
    pub cipher_suite: CipherSuite,
}

/// What a member lacks to support a multi-credential (draft-ietf-mls-extensions-10 §6.5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum MultiCredentialGap {
    /// The credential type `multi` or `weak-multi` itself.
    #[error("credential type {0:?} is not listed")]
    CredentialType(CredentialType),
    /// A binding of a `multi` credential.
    #[error(
        "a binding's credential type {:?} with cipher suite {:?} is not supported",
        .0.credential_type,
        .0.cipher_suite
    )]
    Binding(BindingKind),
    /// Every binding of a `weak-multi` credential.
    #[error("none of the weak-multi credential's bindings is supported")]
    NoBinding,
}

/// What a member's multi-credential requires of every member (draft-ietf-mls-extensions-10
/// §6.5.2).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BindingRequirement {
    /// `multi` or `weak-multi`.
    pub credential_type: CredentialType,
    /// `weak-multi`: one binding suffices.
    pub weak: bool,
    /// The kinds of the bindings, sorted, without repeats.
    pub bindings: Vec<BindingKind>,
}

impl BindingRequirement {
    /// The requirement of a `multi` or `weak-multi` credential; `None` for any other.
    pub fn of(credential: &Credential) -> Option<Self> {
        let bindings = credential.bindings()?;
        let mut kinds: Vec<BindingKind> = bindings
            .iter()
            .map(|b| BindingKind {
                credential_type: b.credential.credential_type(),
                cipher_suite: b.cipher_suite,
            })
            .collect();
        kinds.sort_unstable();
        kinds.dedup();
        Some(Self {
            credential_type: credential.credential_type(),
            weak: matches!(credential, Credential::WeakMulti(_)),
            bindings: kinds,
        })
    }

    /// The first thing `support` lacks to meet this requirement, if any.
    pub fn unmet(&self, support: &CredentialSupport) -> Option<MultiCredentialGap> {
        if !support.supports_type(self.credential_type) {
            return Some(MultiCredentialGap::CredentialType(self.credential_type));
        }
        if self.weak {
            if !self.bindings.iter().any(|b| support.supports_binding(*b)) {
                return Some(MultiCredentialGap::NoBinding);
            }
        } else if let Some(binding) = self
            .bindings
            .iter()
            .find(|b| !support.supports_binding(**b))
        {
            return Some(MultiCredentialGap::Binding(*binding));
        }
        None
    }
}

/// Checks the group-wide conditions of draft-ietf-mls-extensions-10 §6.5.2 for `leaf`:
///
/// - if the leaf presents a multi-credential: every member and the leaf itself support its
///   credential type; under `multi` each supports every binding's credential type and
///   cipher suite; under `weak-multi` each supports at least one binding;
/// - the leaf supports every other member's multi-credential in the same way (so that
///   those members' credentials stay valid once the leaf is in the group).
///
/// `members` are the other members, as for RFC 9420 §7.3's credential-type checks.
pub fn check_multi_credential_support(
    leaf: &LeafNode,
    members: &MemberCredentialTypes,
) -> Result<(), ValidationError> {
    let own = CredentialSupport::of(&leaf.capabilities);
    if let Some(required) = BindingRequirement::of(&leaf.credential)
        && let Some(gap) = members
            .supports
            .iter()
            .chain([&own])
            .find_map(|support| required.unmet(support))
    {
        return Err(ValidationError::MultiCredentialUnsupportedByMember(gap));
    }
    match members
        .multi_credentials
        .iter()
        .find_map(|required| required.unmet(&own))
    {
        Some(gap) => Err(ValidationError::MultiCredentialInUseUnsupported(gap)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
