//! Indexes that a [`super::RatchetTree`] keeps beside its nodes so that the per-commit
//! checks do not scan every member:
//!
//! - fingerprints of the encryption keys of all non-blank nodes and of the signature keys
//!   of all leaves, for the key-uniqueness rules (RFC 9420 §7.3 last step, §12.4.2 "the
//!   encryption keys of the path are unique in the tree"): a key whose fingerprint is absent
//!   is certainly unused, so the common case (a fresh key) costs one hash lookup; a present
//!   fingerprint is confirmed by a scan;
//! - per credential type, how many members use it and how many list it in
//!   `capabilities.credentials` (the §7.3 credential-type compatibility rules);
//! - how many members have each distinct combination of supported credential types and
//!   cipher suites, and each multi-credential requirement (draft-ietf-mls-extensions-10
//!   §6.5.2: every member must support a member's multi-credential).
//!
//! All of it is plain data, cloned by memcpy when a commit is staged on a copy of the tree.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use crate::messages::{CredentialType, LeafNode};
use crate::validation::{BindingRequirement, CredentialSupport, MemberCredentialTypes};

/// Hashes a key to 64 bits (FNV-1a). Not a security function: a collision only costs a scan.
pub(super) fn fingerprint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The fingerprints are hashes already: the map uses them as they are.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = bytes
            .iter()
            .fold(self.0, |h, b| h.rotate_left(8) ^ u64::from(*b));
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

/// How many keys with each fingerprint the tree holds.
#[derive(Debug, Clone, Default)]
pub(super) struct FingerprintCounts(HashMap<u64, u32, BuildHasherDefault<PassThrough>>);

impl FingerprintCounts {
    pub(super) fn add(&mut self, key: &[u8]) {
        let count = self.0.entry(fingerprint(key)).or_insert(0);
        *count = count.saturating_add(1);
    }

    pub(super) fn remove(&mut self, key: &[u8]) {
        let fp = fingerprint(key);
        if let Some(count) = self.0.get_mut(&fp) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.0.remove(&fp);
            }
        }
    }

    /// `false` means no key of the tree equals `key`; `true` needs a scan to confirm.
    pub(super) fn may_contain(&self, key: &[u8]) -> bool {
        self.0.contains_key(&fingerprint(key))
    }
}

/// Per credential type: members using it, and members supporting it; per support
/// combination and per multi-credential requirement: the members with it.
#[derive(Debug, Clone, Default)]
pub(super) struct CredentialCounts {
    types: BTreeMap<CredentialType, (u32, u32)>,
    supports: BTreeMap<CredentialSupport, u32>,
    multi: BTreeMap<BindingRequirement, u32>,
}

/// Adds `delta` to a count, dropping it at zero.
fn count<K: Ord>(map: &mut BTreeMap<K, u32>, key: K, delta: i32) {
    let entry = map.entry(key);
    let value = entry.or_insert(0);
    *value = value.saturating_add_signed(delta);
    map.retain(|_, n| *n > 0);
}

impl CredentialCounts {
    fn supported(leaf: &LeafNode) -> BTreeSet<CredentialType> {
        leaf.capabilities.credentials.iter().copied().collect()
    }

    /// Counts `leaf` in (`delta` = 1) or out (`delta` = -1).
    pub(super) fn adjust(&mut self, leaf: &LeafNode, delta: i32) {
        let entry = self
            .types
            .entry(leaf.credential.credential_type())
            .or_default();
        entry.0 = entry.0.saturating_add_signed(delta);
        for t in Self::supported(leaf) {
            let entry = self.types.entry(t).or_default();
            entry.1 = entry.1.saturating_add_signed(delta);
        }
        self.types
            .retain(|_, (used, supported)| *used > 0 || *supported > 0);
        count(
            &mut self.supports,
            CredentialSupport::of(&leaf.capabilities),
            delta,
        );
        if let Some(required) = BindingRequirement::of(&leaf.credential) {
            count(&mut self.multi, required, delta);
        }
    }

    /// The summary of `members` members minus `except` (RFC 9420 §7.3,
    /// draft-ietf-mls-extensions-10 §6.5.2).
    pub(super) fn summary(&self, members: u32, except: Option<&LeafNode>) -> MemberCredentialTypes {
        let (in_use, supported_by_all) = self.type_summary(members, except);
        let mut supports = self.supports.clone();
        let mut multi = self.multi.clone();
        if let Some(leaf) = except {
            count(&mut supports, CredentialSupport::of(&leaf.capabilities), -1);
            if let Some(required) = BindingRequirement::of(&leaf.credential) {
                count(&mut multi, required, -1);
            }
        }
        MemberCredentialTypes {
            in_use,
            supported_by_all,
            supports: supports.into_keys().collect(),
            multi_credentials: multi.into_keys().collect(),
        }
    }

    /// The types in use by, and supported by all of, `members` members minus `except`.
    fn type_summary(
        &self,
        members: u32,
        except: Option<&LeafNode>,
    ) -> (BTreeSet<CredentialType>, Option<BTreeSet<CredentialType>>) {
        let (except_type, except_supported) = match except {
            Some(leaf) => (
                Some(leaf.credential.credential_type()),
                Self::supported(leaf),
            ),
            None => (None, BTreeSet::new()),
        };
        let members = members.saturating_sub(u32::from(except.is_some()));
        let mut in_use = BTreeSet::new();
        let mut supported_by_all = BTreeSet::new();
        for (t, (used, supported)) in &self.types {
            let used = used.saturating_sub(u32::from(except_type == Some(*t)));
            let supported = supported.saturating_sub(u32::from(except_supported.contains(t)));
            if used > 0 {
                in_use.insert(*t);
            }
            if supported == members {
                supported_by_all.insert(*t);
            }
        }
        (in_use, (members > 0).then_some(supported_by_all))
    }
}
