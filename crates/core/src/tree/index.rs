//! Indexes that a [`super::RatchetTree`] keeps beside its nodes so that the per-commit
//! checks do not scan every member:
//!
//! - fingerprints of the encryption keys of all non-blank nodes and of the signature keys
//!   of all leaves, for the key-uniqueness rules (RFC 9420 §7.3 last step, §12.4.2 "the
//!   encryption keys of the path are unique in the tree"): a key whose fingerprint is absent
//!   is certainly unused, so the common case (a fresh key) costs one hash lookup; a present
//!   fingerprint is confirmed by a scan;
//! - per credential type, how many members use it and how many list it in
//!   `capabilities.credentials` (the §7.3 credential-type compatibility rules).
//!
//! All of it is plain data, cloned by memcpy when a commit is staged on a copy of the tree.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use crate::messages::{CredentialType, LeafNode};

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

/// Per credential type: members using it, and members supporting it.
#[derive(Debug, Clone, Default)]
pub(super) struct CredentialCounts(BTreeMap<CredentialType, (u32, u32)>);

impl CredentialCounts {
    fn supported(leaf: &LeafNode) -> BTreeSet<CredentialType> {
        leaf.capabilities.credentials.iter().copied().collect()
    }

    /// Counts `leaf` in (`delta` = 1) or out (`delta` = -1).
    pub(super) fn adjust(&mut self, leaf: &LeafNode, delta: i32) {
        let entry = self.0.entry(leaf.credential.credential_type()).or_default();
        entry.0 = entry.0.saturating_add_signed(delta);
        for t in Self::supported(leaf) {
            let entry = self.0.entry(t).or_default();
            entry.1 = entry.1.saturating_add_signed(delta);
        }
        self.0
            .retain(|_, (used, supported)| *used > 0 || *supported > 0);
    }

    /// The types in use by, and supported by all of, `members` members minus `except`.
    pub(super) fn summary(
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
        for (t, (used, supported)) in &self.0 {
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
