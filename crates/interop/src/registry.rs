//! The handles the harness holds: group states, pending joins ("transactions"),
//! reinitialisations and external signers, kept in memory under `u32` handles until `Free`.
//!
//! One id space serves every kind, because the harness passes ids between operations without
//! saying their kind (`Free`, `StorePSK`'s `state_or_transaction_id`). Handles start at 1 and
//! are never reused: a stale id is an unknown handle, not someone else's state.

use std::collections::HashMap;

use conclave_core::group::{Group, KeyPackageBundle, SigningIdentity};

use crate::error::{InteropError, Result, bad};

/// A KeyPackage waiting for its Welcome, with the keys to use it.
pub(crate) struct PendingJoin {
    /// The identity the KeyPackage was signed with.
    pub(crate) signer: SigningIdentity,
    /// The KeyPackage and its private keys.
    pub(crate) bundle: KeyPackageBundle,
}

/// A member whose group committed a ReInit (RFC 9420 §11.2): the old group, and the identity
/// and KeyPackage for the new one.
pub(crate) struct PendingReInit {
    /// The group that was reinitialised (its resumption PSK links the new group to it).
    pub(crate) old: Group,
    /// Our identity in the new group.
    pub(crate) signer: SigningIdentity,
    /// Our KeyPackage for the new group, in its cipher suite.
    pub(crate) bundle: KeyPackageBundle,
}

/// What a handle refers to. Boxed so that the map's entries stay small whatever the kind.
pub(crate) enum Handle {
    /// A group state (`state_id`).
    Member(Box<Group>),
    /// A pending join (`transaction_id`).
    Transaction(Box<PendingJoin>),
    /// A pending reinitialisation (`reinit_id`).
    ReInit(Box<PendingReInit>),
    /// An external signer (`signer_id`, RFC 9420 §12.1.8.1).
    Signer(Box<SigningIdentity>),
}

/// Every live handle.
pub(crate) struct Registry {
    handles: HashMap<u32, Handle>,
    next_id: u32,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    /// No handles; the first one given out is 1 (0 reads as "none" in the harness).
    pub(crate) fn new() -> Self {
        Self {
            handles: HashMap::new(),
            next_id: 1,
        }
    }

    /// Keeps `handle` under a fresh id.
    pub(crate) fn insert(&mut self, handle: Handle) -> Result<u32> {
        let id = self.next_id;
        self.next_id = self
            .next_id
            .checked_add(1)
            .ok_or_else(|| bad("handles exhausted"))?;
        self.handles.insert(id, handle);
        Ok(id)
    }

    /// Whether `id` is a live handle of any kind.
    pub(crate) fn contains(&self, id: u32) -> bool {
        self.handles.contains_key(&id)
    }

    /// Forgets `id` (`Free`), whatever its kind.
    pub(crate) fn remove(&mut self, id: u32) -> Result<()> {
        self.handles
            .remove(&id)
            .map(|_| ())
            .ok_or(InteropError::UnknownHandle(id))
    }

    /// The handle `id` as the kind `pick` selects (`kind` names it in the error).
    fn get_mut<'a, T: ?Sized>(
        &'a mut self,
        id: u32,
        kind: &'static str,
        pick: impl FnOnce(&'a mut Handle) -> Option<&'a mut T>,
    ) -> Result<&'a mut T> {
        let handle = self
            .handles
            .get_mut(&id)
            .ok_or(InteropError::UnknownHandle(id))?;
        pick(handle).ok_or(InteropError::WrongHandle(id, kind))
    }

    /// Takes the handle `id` out as the kind `pick` selects; a handle of another kind is put
    /// back, so that a mistaken id costs the harness nothing.
    fn take<T>(
        &mut self,
        id: u32,
        kind: &'static str,
        pick: impl FnOnce(Handle) -> std::result::Result<T, Handle>,
    ) -> Result<T> {
        let handle = self
            .handles
            .remove(&id)
            .ok_or(InteropError::UnknownHandle(id))?;
        pick(handle).map_err(|other| {
            self.handles.insert(id, other);
            InteropError::WrongHandle(id, kind)
        })
    }

    /// The group state `id`.
    pub(crate) fn member(&mut self, id: u32) -> Result<&mut Group> {
        self.get_mut(id, "group state", |handle| match handle {
            Handle::Member(group) => Some(group.as_mut()),
            _ => None,
        })
    }

    /// Takes the group state `id` out of the registry.
    pub(crate) fn take_member(&mut self, id: u32) -> Result<Group> {
        self.take(id, "group state", |handle| match handle {
            Handle::Member(group) => Ok(*group),
            other => Err(other),
        })
    }

    /// Takes the pending join `id` out of the registry, to be consumed by a Welcome.
    pub(crate) fn take_transaction(&mut self, id: u32) -> Result<PendingJoin> {
        self.take(id, "transaction", |handle| match handle {
            Handle::Transaction(tx) => Ok(*tx),
            other => Err(other),
        })
    }

    /// Puts a pending join back under its old id, after a Welcome that failed to use it.
    pub(crate) fn restore_transaction(&mut self, id: u32, tx: PendingJoin) {
        self.handles.insert(id, Handle::Transaction(Box::new(tx)));
    }

    /// The pending reinitialisation `id`.
    pub(crate) fn reinit(&mut self, id: u32) -> Result<&mut PendingReInit> {
        self.get_mut(id, "reinit", |handle| match handle {
            Handle::ReInit(reinit) => Some(reinit.as_mut()),
            _ => None,
        })
    }

    /// The external signer `id`.
    pub(crate) fn signer(&mut self, id: u32) -> Result<&SigningIdentity> {
        let signer = self.get_mut(id, "external signer", |handle| match handle {
            Handle::Signer(signer) => Some(signer.as_mut()),
            _ => None,
        })?;
        Ok(signer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A handle whose content does not matter to these tests: an external signer.
    fn some_handle(registry: &mut Registry) -> u32 {
        use conclave_core::messages::Credential;
        use conclave_crypto::{CipherSuite, CryptoProvider};

        let cs = crate::provider::InteropProvider
            .cipher_suite_provider(CipherSuite(1))
            .unwrap();
        let credential = Credential::Basic {
            identity: b"ds".to_vec(),
        };
        let signer =
            SigningIdentity::generate(cs.as_ref(), credential, &mut crate::rng::OsRandom).unwrap();
        registry.insert(Handle::Signer(Box::new(signer))).unwrap()
    }

    #[test]
    fn ids_start_at_one_and_are_not_reused() {
        let mut registry = Registry::new();
        let first = some_handle(&mut registry);
        assert_eq!(first, 1);
        registry.remove(first).unwrap();
        assert!(matches!(
            registry.remove(first),
            Err(InteropError::UnknownHandle(1))
        ));
        assert_eq!(some_handle(&mut registry), 2);
    }

    #[test]
    fn a_handle_of_another_kind_is_refused_and_kept() {
        let mut registry = Registry::new();
        let id = some_handle(&mut registry);
        assert!(matches!(
            registry.take_transaction(id),
            Err(InteropError::WrongHandle(_, "transaction"))
        ));
        assert!(matches!(
            registry.member(id),
            Err(InteropError::WrongHandle(_, "group state"))
        ));
        assert!(registry.contains(id));
        assert!(registry.signer(id).is_ok());
    }
}
