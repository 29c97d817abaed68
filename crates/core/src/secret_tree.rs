//! The secret tree and sender ratchets (RFC 9420 §9, §9.1, §9.2), and the sender-data key
//! and nonce (RFC 9420 §6.3.2).
//!
//! The secret tree has the shape of the ratchet tree, with the epoch's `encryption_secret`
//! at the root. Secrets are derived lazily: a leaf's ratchets are created the first time that
//! leaf is used, by deriving down from the nearest stored ancestor, storing the sibling
//! secrets met on the way and deleting every secret consumed (§9.2). At any time the stored
//! node secrets form a frontier of at most `O(log n)` nodes per leaf used, so a 10 000-member
//! group never derives or stores secrets for members that do not send.
//!
//! Each leaf has a handshake and an application [`SenderRatchet`]. A ratchet hands out each
//! generation's key and nonce once. For out-of-order delivery it keeps the keys of skipped
//! generations inside a bounded window ([`SecretTreeConfig::out_of_order_tolerance`]) and
//! jumps forward at most [`SecretTreeConfig::maximum_forward_distance`] generations at once;
//! anything older than the window is gone for good (forward secrecy).
//!
//! For incremental storage ([`crate::storage`]) the tree records which of its entries (node
//! secrets and sender ratchets, [`SecretTreeEntry`]) changed since they were last taken
//! ([`SecretTree::take_changed`]). Every change is made on a copy and adopted only when the
//! whole operation succeeded, so a failed decryption changes nothing, not even the
//! derivation of a leaf's first ratchets.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use conclave_crypto::labels::{derive_tree_secret, expand_with_label};
use conclave_crypto::{CipherSuiteProvider, CryptoError, Secret};

use crate::messages::ContentType;
use crate::tree_math::{LeafIndex, NodeIndex, TreeSize};

/// Errors of the secret tree and sender ratchets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretTreeError {
    /// The leaf is not in the tree.
    #[error("leaf {0} is outside the secret tree")]
    LeafOutOfRange(u32),
    /// The leaf's secret was deleted without its ratchets existing (corrupted state).
    #[error("the secret of leaf {0} is no longer available")]
    LeafSecretUnavailable(u32),
    /// The key of this generation was already handed out (used) and deleted.
    #[error("the key of generation {0} was already used")]
    KeyAlreadyUsed(u32),
    /// The generation is older than the out-of-order window; its key was deleted.
    #[error("generation {generation} is too old (ratchet is at {current})")]
    GenerationExpired {
        /// The requested generation.
        generation: u32,
        /// The ratchet's next generation.
        current: u32,
    },
    /// The generation is further ahead than the configured maximum forward distance.
    #[error("generation {generation} is too far ahead of {current} (maximum distance {max})")]
    GenerationTooFarAhead {
        /// The requested generation.
        generation: u32,
        /// The ratchet's next generation.
        current: u32,
        /// The configured maximum.
        max: u32,
    },
    /// All `2^32` generations of the ratchet have been used.
    #[error("the sender ratchet is exhausted")]
    RatchetExhausted,
    /// A cryptographic operation failed.
    #[error("secret tree crypto error: {0}")]
    Crypto(#[from] CryptoError),
    /// A stored entry could not be restored.
    #[error("stored secret tree entry is malformed: {0}")]
    MalformedEntry(&'static str),
}

/// Limits for out-of-order delivery (RFC 9420 §9.2: unconsumed values MAY be kept "for some
/// reasonable amount of time").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretTreeConfig {
    /// How many generations behind the newest one seen a ratchet keeps skipped keys for
    /// (0: no out-of-order delivery). At most this many keys are stored per ratchet.
    pub out_of_order_tolerance: u32,
    /// How many generations a ratchet may skip ahead at once when decrypting.
    pub maximum_forward_distance: u32,
}

impl Default for SecretTreeConfig {
    /// 32 generations of out-of-order tolerance, jumps of at most 1000 generations.
    fn default() -> Self {
        Self {
            out_of_order_tolerance: 32,
            maximum_forward_distance: 1000,
        }
    }
}

/// Which of a leaf's two ratchets (RFC 9420 §9): handshake messages (proposals and
/// commits) or application messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RatchetType {
    /// `handshake_ratchet_secret`: PrivateMessages with proposal or commit content.
    Handshake,
    /// `application_ratchet_secret`: PrivateMessages with application content.
    Application,
}

impl RatchetType {
    /// The ratchet that protects PrivateMessages of a content type (RFC 9420 §6.3.1):
    /// application data uses the application ratchet, proposals and commits the handshake one.
    pub fn for_content_type(content_type: ContentType) -> Self {
        match content_type {
            ContentType::Application => Self::Application,
            ContentType::Proposal | ContentType::Commit => Self::Handshake,
        }
    }
}

/// One generation's AEAD key and nonce (RFC 9420 §9.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyNonce {
    /// The generation `j`.
    pub generation: u32,
    /// `ratchet_key_[N]_[j]` (`AEAD.Nk` bytes).
    pub key: Secret,
    /// `ratchet_nonce_[N]_[j]` (`AEAD.Nn` bytes), before the reuse guard is applied.
    pub nonce: Secret,
}

impl KeyNonce {
    /// The nonce with the reuse guard XORed into its first four bytes (RFC 9420 §6.3.1).
    pub fn nonce_with_reuse_guard(&self, reuse_guard: [u8; 4]) -> Secret {
        apply_reuse_guard(self.nonce.as_bytes(), reuse_guard)
    }
}

/// XORs the 4-byte `reuse_guard` into the first four bytes of `nonce` (RFC 9420 §6.3.1).
pub fn apply_reuse_guard(nonce: &[u8], reuse_guard: [u8; 4]) -> Secret {
    let mut out = nonce.to_vec();
    for (byte, guard) in out.iter_mut().zip(reuse_guard) {
        *byte ^= guard;
    }
    Secret::new(out)
}

/// `sender_data_key` and `sender_data_nonce` (RFC 9420 §6.3.2): `ExpandWithLabel` of
/// `sender_data_secret` with labels "key" / "nonce" over `ciphertext_sample`, the first
/// `KDF.Nh` bytes of the content ciphertext (the whole ciphertext if it is shorter).
pub fn sender_data_key_nonce(
    cs: &dyn CipherSuiteProvider,
    sender_data_secret: &[u8],
    ciphertext: &[u8],
) -> Result<(Secret, Secret), SecretTreeError> {
    let sample = ciphertext.get(..cs.hash_len()).unwrap_or(ciphertext);
    let key = expand_with_label(cs, sender_data_secret, "key", sample, cs.aead_key_len())?;
    let nonce = expand_with_label(cs, sender_data_secret, "nonce", sample, cs.aead_nonce_len())?;
    Ok((key, nonce))
}

/// A symmetric hash ratchet of one sender (RFC 9420 §9.1).
#[derive(Debug, Clone)]
pub struct SenderRatchet {
    /// `ratchet_secret_[N]_[next_generation]`; `None` once all generations are used.
    secret: Option<Secret>,
    next_generation: u32,
    /// Keys of skipped generations still inside the out-of-order window.
    skipped: BTreeMap<u32, KeyNonce>,
    config: SecretTreeConfig,
}

impl SenderRatchet {
    /// A ratchet starting at generation 0 from `ratchet_secret_[N]_[0]`.
    pub fn new(secret: Secret, config: SecretTreeConfig) -> Self {
        Self {
            secret: Some(secret),
            next_generation: 0,
            skipped: BTreeMap::new(),
            config,
        }
    }

    /// The next generation this ratchet will derive.
    pub fn next_generation(&self) -> u32 {
        self.next_generation
    }

    /// The number of skipped keys currently retained.
    pub fn retained_keys(&self) -> usize {
        self.skipped.len()
    }

    /// The key and nonce of `next_generation`, from the current ratchet secret.
    fn derive_current(&self, cs: &dyn CipherSuiteProvider) -> Result<KeyNonce, SecretTreeError> {
        let secret = self
            .secret
            .as_ref()
            .ok_or(SecretTreeError::RatchetExhausted)?;
        let g = self.next_generation;
        Ok(KeyNonce {
            generation: g,
            key: derive_tree_secret(cs, secret.as_bytes(), "key", g, cs.aead_key_len())?,
            nonce: derive_tree_secret(cs, secret.as_bytes(), "nonce", g, cs.aead_nonce_len())?,
        })
    }

    /// Replaces the ratchet secret by the next one, deleting the old one (RFC 9420 §9.2).
    fn advance(&mut self, cs: &dyn CipherSuiteProvider) -> Result<(), SecretTreeError> {
        let secret = self
            .secret
            .as_ref()
            .ok_or(SecretTreeError::RatchetExhausted)?;
        let g = self.next_generation;
        match g.checked_add(1) {
            Some(next) => {
                let derived =
                    derive_tree_secret(cs, secret.as_bytes(), "secret", g, cs.hash_len())?;
                self.secret = Some(derived);
                self.next_generation = next;
            }
            None => self.secret = None,
        }
        Ok(())
    }

    /// The key and nonce for encrypting the next message; the ratchet moves past it so it
    /// is never handed out again (RFC 9420 §9.1: each pair encrypts at most one message).
    pub fn next_key(&mut self, cs: &dyn CipherSuiteProvider) -> Result<KeyNonce, SecretTreeError> {
        let key = self.derive_current(cs)?;
        self.advance(cs)?;
        Ok(key)
    }

    /// The key and nonce of `generation` for decrypting a received message.
    ///
    /// The key is removed from the ratchet (it is consumed). If decryption with it fails, the
    /// caller may give it back with [`SenderRatchet::restore_key`] so that a forged message
    /// cannot destroy the key of a genuine one. Moving forward stores the skipped keys that
    /// fall inside the out-of-order window and deletes older ones.
    pub fn key_for_generation(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        generation: u32,
    ) -> Result<KeyNonce, SecretTreeError> {
        let current = self.next_generation;
        if generation < current || self.secret.is_none() {
            if let Some(key) = self.skipped.remove(&generation) {
                return Ok(key);
            }
            if self.secret.is_none() && generation >= current {
                return Err(SecretTreeError::RatchetExhausted);
            }
            let newest = current.saturating_sub(1);
            return Err(
                if newest - generation <= self.config.out_of_order_tolerance {
                    SecretTreeError::KeyAlreadyUsed(generation)
                } else {
                    SecretTreeError::GenerationExpired {
                        generation,
                        current,
                    }
                },
            );
        }
        let max = self.config.maximum_forward_distance;
        if generation - current > max {
            return Err(SecretTreeError::GenerationTooFarAhead {
                generation,
                current,
                max,
            });
        }
        let tolerance = self.config.out_of_order_tolerance;
        while self.next_generation < generation {
            if generation - self.next_generation <= tolerance {
                let skipped = self.derive_current(cs)?;
                self.skipped.insert(skipped.generation, skipped);
            }
            self.advance(cs)?;
        }
        let key = self.derive_current(cs)?;
        self.advance(cs)?;
        // Forget skipped keys that fell out of the window behind `generation`.
        let oldest_kept = generation.saturating_sub(tolerance);
        self.skipped = self.skipped.split_off(&oldest_kept);
        Ok(key)
    }

    /// Gives back a key obtained from [`SenderRatchet::key_for_generation`] that did not
    /// decrypt its message, if its generation is still inside the out-of-order window.
    pub fn restore_key(&mut self, key: KeyNonce) {
        let newest = self.next_generation.saturating_sub(1);
        if key.generation < self.next_generation
            && newest - key.generation <= self.config.out_of_order_tolerance
        {
            self.skipped.insert(key.generation, key);
        }
    }
}

/// The two ratchets of one leaf.
#[derive(Debug, Clone)]
struct LeafRatchets {
    handshake: SenderRatchet,
    application: SenderRatchet,
}

impl LeafRatchets {
    fn get(&mut self, ratchet: RatchetType) -> &mut SenderRatchet {
        match ratchet {
            RatchetType::Handshake => &mut self.handshake,
            RatchetType::Application => &mut self.application,
        }
    }

    fn get_ref(&self, ratchet: RatchetType) -> &SenderRatchet {
        match ratchet {
            RatchetType::Handshake => &self.handshake,
            RatchetType::Application => &self.application,
        }
    }
}

/// One separately stored entry of a secret tree: a node secret of the frontier (RFC 9420
/// §9) or one of a leaf's two sender ratchets (§9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SecretTreeEntry {
    /// The secret of a tree node, derived but not yet consumed.
    Node(NodeIndex),
    /// The handshake or application ratchet of a leaf.
    Ratchet(LeafIndex, RatchetType),
}

/// A leaf's ratchets derived from the nearest stored ancestor, not yet adopted by the tree.
struct DerivedLeaf {
    ratchets: LeafRatchets,
    /// The ancestor secret the derivation consumed (RFC 9420 §9.2).
    consumed: NodeIndex,
    /// The siblings met on the way down, stored in its place.
    siblings: Vec<(NodeIndex, Secret)>,
}

/// The secret tree of one epoch (RFC 9420 §9), derived lazily.
#[derive(Debug, Clone)]
pub struct SecretTree {
    size: TreeSize,
    /// Node secrets derived but not yet consumed (the frontier).
    nodes: HashMap<NodeIndex, Secret>,
    /// Ratchets of the leaves used so far.
    leaves: HashMap<LeafIndex, LeafRatchets>,
    config: SecretTreeConfig,
    /// Entries changed since the last [`SecretTree::take_changed`].
    changed: BTreeSet<SecretTreeEntry>,
}

impl SecretTree {
    /// A secret tree with `encryption_secret` at the root of a tree of `size`.
    pub fn new(encryption_secret: Secret, size: TreeSize, config: SecretTreeConfig) -> Self {
        let mut nodes = HashMap::new();
        nodes.insert(size.root(), encryption_secret);
        Self {
            size,
            nodes,
            leaves: HashMap::new(),
            config,
            changed: BTreeSet::new(),
        }
    }

    /// The ratchet window this tree was built with.
    pub fn config(&self) -> SecretTreeConfig {
        self.config
    }

    /// The shape of the tree.
    pub fn size(&self) -> TreeSize {
        self.size
    }

    /// How many node secrets are stored (for tests and memory accounting).
    pub fn stored_node_secrets(&self) -> usize {
        self.nodes.len()
    }

    /// How many leaves have ratchets.
    pub fn initialized_leaves(&self) -> usize {
        self.leaves.len()
    }

    /// The ratchet of `leaf`, deriving the leaf's secrets on first use.
    ///
    /// The ratchet is handed out mutably, so it counts as changed (see
    /// [`SecretTree::take_changed`]); [`SecretTree::ratchet_state`] reads it without that.
    pub fn ratchet(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        leaf: LeafIndex,
        ratchet: RatchetType,
    ) -> Result<&mut SenderRatchet, SecretTreeError> {
        if !self.leaves.contains_key(&leaf) {
            let derived = self.derive_leaf(cs, leaf)?;
            self.adopt(leaf, derived);
        }
        self.changed.insert(SecretTreeEntry::Ratchet(leaf, ratchet));
        self.leaves
            .get_mut(&leaf)
            .map(|r| r.get(ratchet))
            .ok_or(SecretTreeError::LeafSecretUnavailable(leaf.0))
    }

    /// The ratchet of `leaf` if its secrets were derived, without changing anything.
    pub fn ratchet_state(&self, leaf: LeafIndex, ratchet: RatchetType) -> Option<&SenderRatchet> {
        self.leaves.get(&leaf).map(|r| r.get_ref(ratchet))
    }

    /// Runs `f` on a copy of `leaf`'s ratchet (derived on first use) and adopts the copy, and
    /// the derivation, only if `f` succeeds: a failure leaves the tree exactly as it was.
    fn with_ratchet<T, E: From<SecretTreeError>>(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        leaf: LeafIndex,
        ratchet: RatchetType,
        f: impl FnOnce(&mut SenderRatchet) -> Result<T, E>,
    ) -> Result<T, E> {
        if let Some(ratchets) = self.leaves.get_mut(&leaf) {
            let slot = ratchets.get(ratchet);
            let mut copy = slot.clone();
            let out = f(&mut copy)?;
            *slot = copy;
            self.changed.insert(SecretTreeEntry::Ratchet(leaf, ratchet));
            return Ok(out);
        }
        let mut derived = self.derive_leaf(cs, leaf)?;
        let out = f(derived.ratchets.get(ratchet))?;
        self.adopt(leaf, derived);
        Ok(out)
    }

    /// The key and nonce `leaf` uses to encrypt its next message of this type.
    pub fn next_key(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        leaf: LeafIndex,
        ratchet: RatchetType,
    ) -> Result<KeyNonce, SecretTreeError> {
        self.with_ratchet(cs, leaf, ratchet, |r| r.next_key(cs))
    }

    /// The key and nonce of `generation` of `leaf`'s ratchet, for decryption
    /// (see [`SenderRatchet::key_for_generation`]).
    pub fn key_for_generation(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        leaf: LeafIndex,
        ratchet: RatchetType,
        generation: u32,
    ) -> Result<KeyNonce, SecretTreeError> {
        self.with_ratchet(cs, leaf, ratchet, |r| r.key_for_generation(cs, generation))
    }

    /// Decrypts with the key and nonce of `generation` of `leaf`'s ratchet: `open` gets the
    /// key, and the key is consumed (deleted, RFC 9420 §9.2) only if `open` succeeds. If it
    /// fails, the tree is left exactly as it was, so a forged message can neither burn the
    /// key of a genuine one, nor move the ratchet, nor derive the leaf's secrets.
    pub fn open_generation<T, E: From<SecretTreeError>>(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        leaf: LeafIndex,
        ratchet: RatchetType,
        generation: u32,
        open: impl FnOnce(&KeyNonce) -> Result<T, E>,
    ) -> Result<T, E> {
        self.with_ratchet(cs, leaf, ratchet, |r| {
            let key = r.key_for_generation(cs, generation)?;
            open(&key)
        })
    }

    /// Gives back an unused key (see [`SenderRatchet::restore_key`]).
    pub fn restore_key(&mut self, leaf: LeafIndex, ratchet: RatchetType, key: KeyNonce) {
        if let Some(r) = self.leaves.get_mut(&leaf) {
            r.get(ratchet).restore_key(key);
            self.changed.insert(SecretTreeEntry::Ratchet(leaf, ratchet));
        }
    }

    /// Derives the two ratchets of `leaf` from the nearest stored ancestor (RFC 9420 §9),
    /// without changing the tree: [`SecretTree::adopt`] stores the siblings met on the way
    /// and deletes the consumed node secret (§9.2).
    fn derive_leaf(
        &self,
        cs: &dyn CipherSuiteProvider,
        leaf: LeafIndex,
    ) -> Result<DerivedLeaf, SecretTreeError> {
        if !self.size.contains_leaf(leaf) {
            return Err(SecretTreeError::LeafOutOfRange(leaf.0));
        }
        let target = leaf.node();
        let start = std::iter::once(target)
            .chain(self.size.direct_path(target))
            .find(|n| self.nodes.contains_key(n))
            .ok_or(SecretTreeError::LeafSecretUnavailable(leaf.0))?;
        let unavailable = SecretTreeError::LeafSecretUnavailable(leaf.0);
        let nh = cs.hash_len();
        let mut secret = self
            .nodes
            .get(&start)
            .ok_or_else(|| unavailable.clone())?
            .clone();
        let mut current = start;
        let mut siblings = Vec::new();
        while current != target {
            let left = self.size.left(current).ok_or_else(|| unavailable.clone())?;
            let right = self
                .size
                .right(current)
                .ok_or_else(|| unavailable.clone())?;
            let left_secret = expand_with_label(cs, secret.as_bytes(), "tree", b"left", nh)?;
            let right_secret = expand_with_label(cs, secret.as_bytes(), "tree", b"right", nh)?;
            if target < current {
                siblings.push((right, right_secret));
                current = left;
                secret = left_secret;
            } else {
                siblings.push((left, left_secret));
                current = right;
                secret = right_secret;
            }
        }
        let handshake = expand_with_label(cs, secret.as_bytes(), "handshake", &[], nh)?;
        let application = expand_with_label(cs, secret.as_bytes(), "application", &[], nh)?;
        Ok(DerivedLeaf {
            ratchets: LeafRatchets {
                handshake: SenderRatchet::new(handshake, self.config),
                application: SenderRatchet::new(application, self.config),
            },
            consumed: start,
            siblings,
        })
    }

    /// Adopts a derivation: deletes the consumed node secret, stores the siblings and the
    /// leaf's ratchets, and records all of them as changed.
    fn adopt(&mut self, leaf: LeafIndex, derived: DerivedLeaf) {
        self.nodes.remove(&derived.consumed);
        self.changed.insert(SecretTreeEntry::Node(derived.consumed));
        for (node, secret) in derived.siblings {
            self.changed.insert(SecretTreeEntry::Node(node));
            self.nodes.insert(node, secret);
        }
        self.changed
            .insert(SecretTreeEntry::Ratchet(leaf, RatchetType::Handshake));
        self.changed
            .insert(SecretTreeEntry::Ratchet(leaf, RatchetType::Application));
        self.leaves.insert(leaf, derived.ratchets);
    }

    // ---- separately stored entries (crate::storage) ----------------------------------------

    /// The entries changed (created, modified or deleted) since the last call, and forgets
    /// them.
    pub fn take_changed(&mut self) -> BTreeSet<SecretTreeEntry> {
        std::mem::take(&mut self.changed)
    }

    /// Forgets which entries changed (after they were all written).
    pub fn clear_changed(&mut self) {
        self.changed.clear();
    }

    /// Every entry the tree currently holds, in order.
    pub fn entries(&self) -> Vec<SecretTreeEntry> {
        let mut entries: Vec<SecretTreeEntry> = self
            .nodes
            .keys()
            .map(|n| SecretTreeEntry::Node(*n))
            .chain(self.leaves.keys().flat_map(|leaf| {
                [RatchetType::Handshake, RatchetType::Application]
                    .map(|r| SecretTreeEntry::Ratchet(*leaf, r))
            }))
            .collect();
        entries.sort_unstable();
        entries
    }

    /// The stored value of `entry`, or `None` if the tree does not hold it (it was consumed
    /// or never derived): a node's secret, or a ratchet's secret, next generation and
    /// retained keys.
    pub fn entry_value(
        &self,
        entry: SecretTreeEntry,
    ) -> Result<Option<Secret>, conclave_codec::CodecError> {
        use conclave_codec::Encode;
        match entry {
            SecretTreeEntry::Node(node) => Ok(self.nodes.get(&node).cloned()),
            SecretTreeEntry::Ratchet(leaf, ratchet) => self
                .leaves
                .get(&leaf)
                .map(|r| r.get_ref(ratchet).stored().to_bytes().map(Secret::new))
                .transpose(),
        }
    }

    /// The same tree without any node secret or ratchet (its shape and configuration only),
    /// to be completed with [`SecretTree::restore_entries`].
    pub fn without_entries(&self) -> Self {
        Self {
            size: self.size,
            nodes: HashMap::new(),
            leaves: HashMap::new(),
            config: self.config,
            changed: BTreeSet::new(),
        }
    }

    /// Restores entries written with [`SecretTree::entry_value`] into a tree that has none
    /// (from [`SecretTree::without_entries`]). Both ratchets of a leaf must be present.
    pub fn restore_entries<'a>(
        &mut self,
        entries: impl IntoIterator<Item = (SecretTreeEntry, &'a [u8])>,
    ) -> Result<(), SecretTreeError> {
        use conclave_codec::Decode;
        let mut halves: HashMap<LeafIndex, [Option<SenderRatchet>; 2]> = HashMap::new();
        for (entry, value) in entries {
            match entry {
                SecretTreeEntry::Node(node) => {
                    if !self.size.contains(node) {
                        return Err(SecretTreeError::MalformedEntry("node outside the tree"));
                    }
                    self.nodes.insert(node, Secret::from_slice(value));
                }
                SecretTreeEntry::Ratchet(leaf, ratchet) => {
                    if !self.size.contains_leaf(leaf) {
                        return Err(SecretTreeError::LeafOutOfRange(leaf.0));
                    }
                    let stored = StoredRatchet::from_bytes(value)
                        .map_err(|_| SecretTreeError::MalformedEntry("undecodable ratchet"))?;
                    let slot = halves.entry(leaf).or_default();
                    let index = match ratchet {
                        RatchetType::Handshake => 0,
                        RatchetType::Application => 1,
                    };
                    if let Some(half) = slot.get_mut(index) {
                        *half = Some(SenderRatchet::from_stored(stored, self.config));
                    }
                }
            }
        }
        for (leaf, [handshake, application]) in halves {
            let (Some(handshake), Some(application)) = (handshake, application) else {
                return Err(SecretTreeError::MalformedEntry(
                    "a leaf has only one of its two ratchets",
                ));
            };
            self.leaves.insert(
                leaf,
                LeafRatchets {
                    handshake,
                    application,
                },
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use conclave_crypto::{CipherSuite, CryptoProvider};
    use conclave_crypto_rustcrypto::RustCryptoProvider;

    fn cs() -> Box<dyn CipherSuiteProvider> {
        RustCryptoProvider
            .cipher_suite_provider(CipherSuite(1))
            .unwrap()
    }

    fn tree(leaves: u32, config: SecretTreeConfig) -> SecretTree {
        SecretTree::new(
            Secret::new(vec![7; 32]),
            TreeSize::new(leaves).unwrap(),
            config,
        )
    }

    #[test]
    fn large_tree_is_derived_lazily() {
        let cs = cs();
        let mut t = tree(10_000, SecretTreeConfig::default());
        let depth = t.size().direct_path(LeafIndex(1234).node()).count();
        t.next_key(cs.as_ref(), LeafIndex(1234), RatchetType::Application)
            .unwrap();
        assert_eq!(t.initialized_leaves(), 1);
        // The root was consumed; one sibling per level below it is stored.
        assert!(
            t.stored_node_secrets() <= depth,
            "{}",
            t.stored_node_secrets()
        );
        // Every leaf can still be reached; afterwards no node secret is left.
        for leaf in t.size().leaves() {
            t.ratchet(cs.as_ref(), leaf, RatchetType::Handshake)
                .unwrap();
        }
        assert_eq!(t.initialized_leaves(), 10_000);
        assert_eq!(t.stored_node_secrets(), 0);
        assert_eq!(
            t.ratchet(cs.as_ref(), LeafIndex(10_000), RatchetType::Handshake)
                .unwrap_err(),
            SecretTreeError::LeafOutOfRange(10_000)
        );
    }

    #[test]
    fn derivation_order_does_not_matter() {
        let cs = cs();
        let config = SecretTreeConfig::default();
        let (mut a, mut b) = (tree(13, config), tree(13, config));
        let mut from_a = Vec::new();
        for leaf in (0..13).map(LeafIndex) {
            from_a.push(
                a.next_key(cs.as_ref(), leaf, RatchetType::Application)
                    .unwrap(),
            );
        }
        for leaf in (0..13).rev().map(LeafIndex) {
            let k = b
                .next_key(cs.as_ref(), leaf, RatchetType::Application)
                .unwrap();
            assert_eq!(k, from_a[leaf.0 as usize]);
        }
        // Handshake and application ratchets differ.
        let h = a
            .next_key(cs.as_ref(), LeafIndex(0), RatchetType::Handshake)
            .unwrap();
        assert_ne!(h.key, from_a[0].key);
    }

    #[test]
    fn sender_and_receiver_agree() {
        let cs = cs();
        let config = SecretTreeConfig::default();
        let (mut sender, mut receiver) = (tree(4, config), tree(4, config));
        for g in 0..5 {
            let sent = sender
                .next_key(cs.as_ref(), LeafIndex(3), RatchetType::Handshake)
                .unwrap();
            assert_eq!(sent.generation, g);
            let got = receiver
                .key_for_generation(cs.as_ref(), LeafIndex(3), RatchetType::Handshake, g)
                .unwrap();
            assert_eq!(sent, got);
        }
    }

    #[test]
    fn out_of_order_window_and_limits() {
        let cs = cs();
        let cs = cs.as_ref();
        let config = SecretTreeConfig {
            out_of_order_tolerance: 3,
            maximum_forward_distance: 10,
        };
        let mut sender = tree(2, config);
        let sent: Vec<KeyNonce> = (0..30)
            .map(|_| {
                sender
                    .next_key(cs, LeafIndex(1), RatchetType::Application)
                    .unwrap()
            })
            .collect();
        let mut t = tree(2, config);
        let r = t
            .ratchet(cs, LeafIndex(1), RatchetType::Application)
            .unwrap();
        assert_eq!(r.key_for_generation(cs, 6).unwrap(), sent[6]);
        assert_eq!(r.retained_keys(), 3); // generations 3, 4, 5
        assert_eq!(r.key_for_generation(cs, 4).unwrap(), sent[4]);
        assert_eq!(
            r.key_for_generation(cs, 4),
            Err(SecretTreeError::KeyAlreadyUsed(4))
        );
        assert!(matches!(
            r.key_for_generation(cs, 2),
            Err(SecretTreeError::GenerationExpired { generation: 2, .. })
        ));
        assert_eq!(
            r.key_for_generation(cs, 6),
            Err(SecretTreeError::KeyAlreadyUsed(6))
        );
        assert!(matches!(
            r.key_for_generation(cs, 18),
            Err(SecretTreeError::GenerationTooFarAhead {
                generation: 18,
                current: 7,
                max: 10
            })
        ));
        assert_eq!(r.key_for_generation(cs, 17).unwrap(), sent[17]);
        // Only the window behind 17 survives.
        assert_eq!(r.retained_keys(), 3);
        assert!(matches!(
            r.key_for_generation(cs, 5),
            Err(SecretTreeError::GenerationExpired { .. })
        ));
        let k15 = r.key_for_generation(cs, 15).unwrap();
        assert_eq!(k15, sent[15]);
        r.restore_key(k15);
        assert_eq!(r.key_for_generation(cs, 15).unwrap(), sent[15]);
        assert_eq!(r.next_key(cs).unwrap(), sent[18]);
    }

    #[test]
    fn zero_tolerance_keeps_nothing() {
        let cs = cs();
        let config = SecretTreeConfig {
            out_of_order_tolerance: 0,
            maximum_forward_distance: 100,
        };
        let mut t = tree(1, config);
        let r = t
            .ratchet(cs.as_ref(), LeafIndex(0), RatchetType::Application)
            .unwrap();
        r.key_for_generation(cs.as_ref(), 50).unwrap();
        assert_eq!(r.retained_keys(), 0);
        assert!(r.key_for_generation(cs.as_ref(), 49).is_err());
    }

    fn encoded(t: &SecretTree) -> Vec<u8> {
        conclave_codec::Encode::to_bytes(t).unwrap()
    }

    /// Rebuilds a tree from its entries, as records are loaded.
    fn from_entries(t: &SecretTree) -> SecretTree {
        let values: Vec<(SecretTreeEntry, Secret)> = t
            .entries()
            .into_iter()
            .map(|e| (e, t.entry_value(e).unwrap().unwrap()))
            .collect();
        let mut rebuilt = t.without_entries();
        rebuilt
            .restore_entries(values.iter().map(|(e, v)| (*e, v.as_bytes())))
            .unwrap();
        rebuilt
    }

    #[test]
    fn changes_are_reported_per_entry() {
        let cs = cs();
        let cs = cs.as_ref();
        let mut t = tree(16, SecretTreeConfig::default());
        assert!(t.take_changed().is_empty());
        t.next_key(cs, LeafIndex(5), RatchetType::Application)
            .unwrap();
        let changed = t.take_changed();
        // The root was consumed, one sibling per level stored, both ratchets created.
        let root = t.size().root();
        assert!(changed.contains(&SecretTreeEntry::Node(root)));
        assert_eq!(t.entry_value(SecretTreeEntry::Node(root)).unwrap(), None);
        let nodes = changed
            .iter()
            .filter(|e| matches!(e, SecretTreeEntry::Node(_)))
            .count();
        assert_eq!(nodes, 1 + 4);
        assert!(changed.contains(&SecretTreeEntry::Ratchet(
            LeafIndex(5),
            RatchetType::Handshake
        )));
        assert_eq!(changed.len(), nodes + 2);
        assert_eq!(encoded(&from_entries(&t)), encoded(&t));

        // A second message changes that ratchet only.
        t.next_key(cs, LeafIndex(5), RatchetType::Application)
            .unwrap();
        assert_eq!(
            t.take_changed().into_iter().collect::<Vec<_>>(),
            vec![SecretTreeEntry::Ratchet(
                LeafIndex(5),
                RatchetType::Application
            )]
        );
        // Retained out-of-order keys are part of the ratchet's entry.
        let mut receiver = tree(16, SecretTreeConfig::default());
        receiver
            .key_for_generation(cs, LeafIndex(5), RatchetType::Application, 3)
            .unwrap();
        let rebuilt = from_entries(&receiver);
        assert_eq!(
            rebuilt
                .ratchet_state(LeafIndex(5), RatchetType::Application)
                .unwrap()
                .retained_keys(),
            3
        );
        assert_eq!(encoded(&rebuilt), encoded(&receiver));
    }

    #[test]
    fn a_failed_decryption_changes_nothing() {
        let cs = cs();
        let cs = cs.as_ref();
        let mut t = tree(8, SecretTreeConfig::default());
        let before = encoded(&t);
        let failed: Result<(), SecretTreeError> =
            t.open_generation(cs, LeafIndex(2), RatchetType::Application, 4, |_| {
                Err(SecretTreeError::RatchetExhausted)
            });
        assert!(failed.is_err());
        assert_eq!(encoded(&t), before);
        assert!(t.take_changed().is_empty());
        assert!(
            t.ratchet_state(LeafIndex(2), RatchetType::Application)
                .is_none()
        );
        let generation = t
            .open_generation(cs, LeafIndex(2), RatchetType::Application, 4, |k| {
                Ok::<_, SecretTreeError>(k.generation)
            })
            .unwrap();
        assert_eq!(generation, 4);
        assert!(!t.take_changed().is_empty());
    }

    #[test]
    fn malformed_entries_are_refused() {
        let t = tree(4, SecretTreeConfig::default());
        let mut empty = t.without_entries();
        assert!(matches!(
            empty.restore_entries([(SecretTreeEntry::Node(NodeIndex(7)), &[0u8; 32][..])]),
            Err(SecretTreeError::MalformedEntry(_))
        ));
        assert!(matches!(
            empty.restore_entries([(
                SecretTreeEntry::Ratchet(LeafIndex(1), RatchetType::Handshake),
                &[1u8, 2, 3][..]
            )]),
            Err(SecretTreeError::MalformedEntry(_))
        ));
        assert!(matches!(
            empty.restore_entries([(
                SecretTreeEntry::Ratchet(LeafIndex(4), RatchetType::Handshake),
                &[][..]
            )]),
            Err(SecretTreeError::LeafOutOfRange(4))
        ));
    }

    #[test]
    fn reuse_guard_and_sender_data() {
        let kn = KeyNonce {
            generation: 0,
            key: Secret::new(vec![0; 16]),
            nonce: Secret::new(vec![0x0f; 12]),
        };
        let guarded = kn.nonce_with_reuse_guard([0xf0, 0x0f, 0, 1]);
        let mut want = vec![0x0f; 12];
        want[..4].copy_from_slice(&[0xff, 0x00, 0x0f, 0x0e]);
        assert_eq!(guarded.as_bytes(), want.as_slice());

        let cs = cs();
        let secret = [3u8; 32];
        let long = [9u8; 40];
        // Only the first Nh = 32 bytes matter; a shorter ciphertext is used whole.
        let a = sender_data_key_nonce(cs.as_ref(), &secret, &long).unwrap();
        let b = sender_data_key_nonce(cs.as_ref(), &secret, &long[..32]).unwrap();
        let c = sender_data_key_nonce(cs.as_ref(), &secret, &long[..5]).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.0.len(), 16);
        assert_eq!(a.1.len(), 12);
    }

    #[test]
    fn content_type_mapping() {
        assert_eq!(
            RatchetType::for_content_type(ContentType::Application),
            RatchetType::Application
        );
        assert_eq!(
            RatchetType::for_content_type(ContentType::Commit),
            RatchetType::Handshake
        );
        assert_eq!(
            RatchetType::for_content_type(ContentType::Proposal),
            RatchetType::Handshake
        );
    }
}

// ---- serialized state (RFC 9420 §9.2: what is kept between messages) -----------------------

impl conclave_codec::Encode for SecretTreeConfig {
    fn encoded_len(&self) -> usize {
        8
    }
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), conclave_codec::CodecError> {
        self.out_of_order_tolerance.encode(out)?;
        self.maximum_forward_distance.encode(out)
    }
}

impl conclave_codec::Decode for SecretTreeConfig {
    fn decode(reader: &mut conclave_codec::Reader<'_>) -> Result<Self, conclave_codec::CodecError> {
        Ok(Self {
            out_of_order_tolerance: reader.read_u32()?,
            maximum_forward_distance: reader.read_u32()?,
        })
    }
}

/// Stored form of a ratchet: its current secret, next generation and retained keys.
#[derive(conclave_codec::Encode, conclave_codec::Decode)]
struct StoredRatchet {
    secret: Option<Secret>,
    next_generation: u32,
    skipped: Vec<StoredKey>,
}

#[derive(conclave_codec::Encode, conclave_codec::Decode)]
struct StoredKey {
    generation: u32,
    key: Secret,
    nonce: Secret,
}

#[derive(conclave_codec::Encode, conclave_codec::Decode)]
struct StoredLeaf {
    leaf: LeafIndex,
    handshake: StoredRatchet,
    application: StoredRatchet,
}

#[derive(conclave_codec::Encode, conclave_codec::Decode)]
struct StoredNode {
    node: u64,
    secret: Secret,
}

#[derive(conclave_codec::Encode, conclave_codec::Decode)]
struct StoredSecretTree {
    leaves: u32,
    config: SecretTreeConfig,
    nodes: Vec<StoredNode>,
    ratchets: Vec<StoredLeaf>,
}

impl SenderRatchet {
    fn stored(&self) -> StoredRatchet {
        StoredRatchet {
            secret: self.secret.clone(),
            next_generation: self.next_generation,
            skipped: self
                .skipped
                .values()
                .map(|k| StoredKey {
                    generation: k.generation,
                    key: k.key.clone(),
                    nonce: k.nonce.clone(),
                })
                .collect(),
        }
    }

    fn from_stored(stored: StoredRatchet, config: SecretTreeConfig) -> Self {
        Self {
            secret: stored.secret,
            next_generation: stored.next_generation,
            skipped: stored
                .skipped
                .into_iter()
                .map(|k| {
                    (
                        k.generation,
                        KeyNonce {
                            generation: k.generation,
                            key: k.key,
                            nonce: k.nonce,
                        },
                    )
                })
                .collect(),
            config,
        }
    }
}

impl SecretTree {
    fn stored(&self) -> StoredSecretTree {
        let mut nodes: Vec<StoredNode> = self
            .nodes
            .iter()
            .map(|(n, s)| StoredNode {
                node: n.0,
                secret: s.clone(),
            })
            .collect();
        nodes.sort_by_key(|n| n.node);
        let mut ratchets: Vec<StoredLeaf> = self
            .leaves
            .iter()
            .map(|(leaf, r)| StoredLeaf {
                leaf: *leaf,
                handshake: r.handshake.stored(),
                application: r.application.stored(),
            })
            .collect();
        ratchets.sort_by_key(|r| r.leaf);
        StoredSecretTree {
            leaves: self.size.leaf_count(),
            config: self.config,
            nodes,
            ratchets,
        }
    }
}

impl conclave_codec::Encode for SecretTree {
    fn encoded_len(&self) -> usize {
        self.stored().encoded_len()
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), conclave_codec::CodecError> {
        self.stored().encode(out)
    }
}

impl conclave_codec::Decode for SecretTree {
    fn decode(reader: &mut conclave_codec::Reader<'_>) -> Result<Self, conclave_codec::CodecError> {
        let stored = StoredSecretTree::decode(reader)?;
        let size = TreeSize::new(stored.leaves).ok_or(conclave_codec::CodecError::Malformed {
            what: "SecretTree",
            reason: "zero leaves",
        })?;
        let config = stored.config;
        Ok(Self {
            size,
            nodes: stored
                .nodes
                .into_iter()
                .map(|n| (NodeIndex(n.node), n.secret))
                .collect(),
            leaves: stored
                .ratchets
                .into_iter()
                .map(|r| {
                    (
                        r.leaf,
                        LeafRatchets {
                            handshake: SenderRatchet::from_stored(r.handshake, config),
                            application: SenderRatchet::from_stored(r.application, config),
                        },
                    )
                })
                .collect(),
            config,
            changed: BTreeSet::new(),
        })
    }
}
