//! The primitives' costs, measured in the run, and each operation's floor: the primitive
//! work RFC 9420 requires for that operation at that N, priced with those costs
//! (formulas in the crate README, "Floors").
//!
//! The same measurement serves `examples/crypto_floors.rs`, which prints the table of
//! primitive costs alone.

use std::time::Instant;

use conclave_crypto::{CipherSuiteProvider, CryptoError, SignatureToVerify, hpke};

/// A cost linear in the input length: `fixed + per_byte · len` seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Linear {
    /// Seconds per call independent of the length.
    pub fixed: f64,
    /// Seconds per input byte.
    pub per_byte: f64,
}

impl Linear {
    /// The cost of one call on `len` bytes, in seconds.
    pub fn at(&self, len: usize) -> f64 {
        self.fixed + self.per_byte * len as f64
    }

    /// Fitted through a measurement at [`SHORT`] bytes and one at [`LONG`] bytes.
    fn fit(short: f64, long: f64) -> Self {
        let per_byte = ((long - short) / (LONG - SHORT) as f64).max(0.0);
        Self {
            fixed: (short - per_byte * SHORT as f64).max(0.0),
            per_byte,
        }
    }
}

/// The short input of the linear fits.
pub const SHORT: usize = 100;
/// The long input of the linear fits (1 MiB).
pub const LONG: usize = 1 << 20;
/// Signatures per batch when measuring batch verification, unless the run names the batch
/// its ops verify ([`Primitives::measure_with_batch`]).
pub const BATCH: usize = 64;

/// The largest batch measured (a join at N = 10 000 verifies one batch of N).
pub const MAX_BATCH: usize = 10_000;

/// The messages of the `app_backlog_1000` op, verified as one sender's batch.
pub const BACKLOG: usize = 1000;

/// What one primitive call costs on one thread, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Primitives {
    /// The signature scheme's `Sign` (Ed25519: SHA-512 over the message twice).
    pub sign: Linear,
    /// `Verify` of one signature alone.
    pub verify: Linear,
    /// `Verify` per signature within a batch of [`Primitives::batch`] signatures by as many
    /// keys ([`CipherSuiteProvider::verify_all`]; the per-byte part is the hashing of each
    /// message), as a join's leaves are. A larger batch costs less per signature (one
    /// multi-scalar multiplication for the whole batch).
    pub verify_batched: Linear,
    /// The batch size `verify_batched` was measured at.
    pub batch: usize,
    /// `Verify` per signature within a batch of [`BACKLOG`] signatures by one key, as a
    /// backlog of one sender's application messages is (the batch verifier enters a key
    /// shared by several signatures once).
    pub verify_batched_one_key: Linear,
    /// The suite's hash (SHA-256).
    pub hash: Linear,
    /// The suite's MAC (HMAC-SHA-256).
    pub mac: Linear,
    /// AEAD seal (AES-128-GCM).
    pub aead_seal: Linear,
    /// AEAD open.
    pub aead_open: Linear,
    /// One HKDF-Expand of `Nh` bytes.
    pub kdf_expand: f64,
    /// One HPKE base-mode seal of a 32-byte secret (RFC 9180 §5.1: an ephemeral key pair,
    /// one DH, the key schedule with its `info` part hashed once, one AEAD).
    pub hpke_seal: f64,
    /// One HPKE base-mode open of it (one DH, the key schedule, one AEAD).
    pub hpke_open: f64,
    /// One DH (X25519 shared secret).
    pub dh: f64,
    /// One DH public key from its secret key (X25519 base-point multiplication).
    pub dh_public_key: f64,
}

/// Seconds per call of `f`, after one warm-up call: the median of [`ROUNDS`] rounds of
/// `calls / ROUNDS` calls each (at least one), as an op's time is the median of its
/// repetitions, so that a moment when the shared machine slows down does not set the floor.
fn per_call(
    calls: u32,
    mut f: impl FnMut() -> Result<(), CryptoError>,
) -> Result<f64, CryptoError> {
    f()?;
    let each = (calls / ROUNDS).max(1);
    let mut rounds = Vec::with_capacity(ROUNDS as usize);
    for _ in 0..ROUNDS {
        let start = Instant::now();
        for _ in 0..each {
            f()?;
        }
        rounds.push(start.elapsed().as_secs_f64() / f64::from(each));
    }
    rounds.sort_by(f64::total_cmp);
    Ok(rounds.get(rounds.len() / 2).copied().unwrap_or_default())
}

/// Rounds of a primitive's measurement, whose median is taken.
const ROUNDS: u32 = 5;

/// Calls per measurement for a short and a long input.
const SHORT_CALLS: u32 = 400;
const LONG_CALLS: u32 = 4;

fn linear(mut f: impl FnMut(&[u8]) -> Result<(), CryptoError>) -> Result<Linear, CryptoError> {
    let short = vec![7u8; SHORT];
    let long = vec![7u8; LONG];
    Ok(Linear::fit(
        per_call(SHORT_CALLS, || f(&short))?,
        per_call(LONG_CALLS, || f(&long))?,
    ))
}

/// `count` messages of [`SHORT`] bytes, each signed by one of `keys` (in turn): the inputs
/// of a batch verification.
struct SignedBatch {
    /// (public key, message, signature)
    items: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)>,
}

impl SignedBatch {
    fn new(
        cs: &dyn CipherSuiteProvider,
        rng: &mut conclave_crypto::SeededRng,
        count: usize,
        keys: usize,
    ) -> Result<Self, CryptoError> {
        let keys = (0..keys.max(1))
            .map(|_| cs.signature_generate(rng))
            .collect::<Result<Vec<_>, _>>()?;
        let items = (0..count)
            .map(|i| {
                let (secret, public) = keys.get(i % keys.len()).ok_or(CryptoError::InvalidKey {
                    kind: "signature secret",
                    reason: "no key was generated",
                })?;
                let message = vec![u8::try_from(i % 256).unwrap_or(0); SHORT];
                let signature = cs.sign(secret.as_bytes(), &message)?;
                Ok((public.clone(), message, signature))
            })
            .collect::<Result<Vec<_>, CryptoError>>()?;
        Ok(Self { items })
    }

    /// Batch verification per signature; its per-byte part is taken from single
    /// verification (the same SHA-512).
    fn measure(&self, cs: &dyn CipherSuiteProvider, per_byte: f64) -> Result<Linear, CryptoError> {
        let batch = self.items.len().max(1);
        let items: Vec<SignatureToVerify<'_>> = self
            .items
            .iter()
            .map(|(public_key, message, signature)| SignatureToVerify {
                public_key,
                message,
                signature,
            })
            .collect();
        // About 640 signatures verified in all, at least two batches.
        let calls = u32::try_from((640 / batch).max(2)).unwrap_or(2);
        let each = per_call(calls, || cs.verify_all(&items))? / batch as f64;
        Ok(Linear {
            fixed: (each - per_byte * SHORT as f64).max(0.0),
            per_byte,
        })
    }
}

/// The inputs of a primitives measurement (keys, signatures, ciphertexts), made once, so
/// that [`PrimitiveBench::measure`] can time the primitives again before each operation:
/// the speed of the shared machine this runs on drifts by tens of percent within a run, and
/// an operation's floor is priced with the primitives as fast as they were for it.
pub struct PrimitiveBench<'a> {
    cs: &'a dyn CipherSuiteProvider,
    rng: conclave_crypto::SeededRng,
    secret: conclave_crypto::Secret,
    public: Vec<u8>,
    short: Vec<u8>,
    long: Vec<u8>,
    sig_short: Vec<u8>,
    sig_long: Vec<u8>,
    batch: usize,
    batch_by_many_keys: SignedBatch,
    batch_by_one_key: SignedBatch,
    aead_key: Vec<u8>,
    nonce: Vec<u8>,
    sealed_short: Vec<u8>,
    sealed_long: Vec<u8>,
    prk: conclave_crypto::Secret,
    dh_secret: [u8; 32],
    dh_public: Vec<u8>,
    recipient: hpke::HpkeKeyPair,
    info: hpke::InfoHash,
    enc: Vec<u8>,
    ct: Vec<u8>,
}

/// The secret the HPKE measurements encrypt (an UpdatePath's path secret).
const PATH_SECRET: [u8; 32] = [1u8; 32];

impl<'a> PrimitiveBench<'a> {
    /// Prepares the measurement of `cs`'s primitives, batch verification in batches of
    /// `batch` signatures (clamped to 2..=[`MAX_BATCH`]): the batch a join or an add at that
    /// N verifies, each signature by its own key as a join's leaves are, so that their
    /// floors price the batch they run (up to 1.5 s at N = 10 000, mostly generating keys
    /// and signing the batch); and a batch of [`BACKLOG`] signatures by one key, for the
    /// backlog.
    pub fn new(cs: &'a dyn CipherSuiteProvider, batch: usize) -> Result<Self, CryptoError> {
        let batch = batch.clamp(2, MAX_BATCH);
        let mut rng = conclave_crypto::SeededRng::new(17);
        let (secret, public) = cs.signature_generate(&mut rng)?;
        let short = vec![7u8; SHORT];
        let long = vec![7u8; LONG];
        let sig_short = cs.sign(secret.as_bytes(), &short)?;
        let sig_long = cs.sign(secret.as_bytes(), &long)?;
        let batch_by_many_keys = SignedBatch::new(cs, &mut rng, batch, batch)?;
        let batch_by_one_key = SignedBatch::new(cs, &mut rng, BACKLOG, 1)?;
        let aead_key = vec![5u8; cs.aead_key_len()];
        let nonce = vec![9u8; cs.aead_nonce_len()];
        let sealed_short = cs.aead_seal(&aead_key, &nonce, b"", &short)?;
        let sealed_long = cs.aead_seal(&aead_key, &nonce, b"", &long)?;
        let prk = cs.kdf_extract(b"salt", b"ikm");
        let dh_secret = [0x42u8; 32];
        let dh_public = cs.dh_public_key(&dh_secret)?;
        let recipient = hpke::generate_key_pair(cs, &mut rng)?;
        let info = hpke::InfoHash::new(cs, b"MLS 1.0 UpdatePathNode");
        let (enc, ct) = hpke::seal_base(
            cs,
            &recipient.public_key,
            b"MLS 1.0 UpdatePathNode",
            b"",
            &PATH_SECRET,
            &mut rng,
        )?;
        Ok(Self {
            cs,
            rng,
            secret,
            public,
            short,
            long,
            sig_short,
            sig_long,
            batch,
            batch_by_many_keys,
            batch_by_one_key,
            aead_key,
            nonce,
            sealed_short,
            sealed_long,
            prk,
            dh_secret,
            dh_public,
            recipient,
            info,
            enc,
            ct,
        })
    }

    /// Times every primitive now, on the calling thread (about 0.3 s for suite 1, plus
    /// the batches: about 0.4 s more at N = 10 000).
    pub fn measure(&mut self) -> Result<Primitives, CryptoError> {
        let cs = self.cs;
        let secret = self.secret.as_bytes();
        let sign = linear(|m| cs.sign(secret, m).map(drop))?;
        let verify = Linear::fit(
            per_call(SHORT_CALLS, || {
                cs.verify(&self.public, &self.short, &self.sig_short)
            })?,
            per_call(LONG_CALLS, || {
                cs.verify(&self.public, &self.long, &self.sig_long)
            })?,
        );
        let verify_batched = self.batch_by_many_keys.measure(cs, verify.per_byte)?;
        let verify_batched_one_key = self.batch_by_one_key.measure(cs, verify.per_byte)?;
        let hash = linear(|m| {
            std::hint::black_box(cs.hash(m));
            Ok(())
        })?;
        let key = vec![3u8; cs.hash_len()];
        let mac = linear(|m| {
            std::hint::black_box(cs.mac(&key, m));
            Ok(())
        })?;
        let (aead_key, nonce) = (&self.aead_key, &self.nonce);
        let aead_seal = linear(|m| cs.aead_seal(aead_key, nonce, b"", m).map(drop))?;
        let aead_open = Linear::fit(
            per_call(SHORT_CALLS, || {
                cs.aead_open(aead_key, nonce, b"", &self.sealed_short)
                    .map(drop)
            })?,
            per_call(LONG_CALLS, || {
                cs.aead_open(aead_key, nonce, b"", &self.sealed_long)
                    .map(drop)
            })?,
        );
        let kdf_expand = per_call(SHORT_CALLS, || {
            cs.kdf_expand(self.prk.as_bytes(), b"info", cs.hash_len())
                .map(drop)
        })?;
        let dh = per_call(SHORT_CALLS, || {
            cs.dh(&self.dh_secret, &self.dh_public).map(drop)
        })?;
        let dh_public_key = per_call(SHORT_CALLS, || cs.dh_public_key(&self.dh_secret).map(drop))?;
        let (recipient, info, rng) = (&self.recipient, &self.info, &mut self.rng);
        let hpke_seal = per_call(SHORT_CALLS / 2, || {
            hpke::seal_base_with_info_hash(cs, &recipient.public_key, info, b"", &PATH_SECRET, rng)
                .map(drop)
        })?;
        let hpke_open = per_call(SHORT_CALLS / 2, || {
            hpke::open_base(
                cs,
                &self.enc,
                self.recipient.secret_key.as_bytes(),
                b"MLS 1.0 UpdatePathNode",
                b"",
                &self.ct,
            )
            .map(drop)
        })?;
        Ok(Primitives {
            sign,
            verify,
            verify_batched,
            batch: self.batch,
            verify_batched_one_key,
            hash,
            mac,
            aead_seal,
            aead_open,
            kdf_expand,
            hpke_seal,
            hpke_open,
            dh,
            dh_public_key,
        })
    }
}

impl Primitives {
    /// Measures every primitive of `cs` on the calling thread (about 0.3 s for suite 1),
    /// batch verification in batches of [`BATCH`].
    pub fn measure(cs: &dyn CipherSuiteProvider) -> Result<Self, CryptoError> {
        Self::measure_with_batch(cs, BATCH)
    }

    /// [`Primitives::measure`], with batch verification measured in batches of `batch`
    /// signatures (clamped to 2..=[`MAX_BATCH`]): see [`PrimitiveBench::new`].
    pub fn measure_with_batch(
        cs: &dyn CipherSuiteProvider,
        batch: usize,
    ) -> Result<Self, CryptoError> {
        PrimitiveBench::new(cs, batch)?.measure()
    }

    /// One line per primitive, in microseconds, for the example and the progress notes.
    pub fn describe(&self) -> Vec<String> {
        let us = |s: f64| s * 1e6;
        let lin = |name: &str, l: &Linear| {
            format!(
                "{name:24} {:9.2} µs + {:7.3} ns/B  (100 B: {:8.2} µs, 1 MiB: {:9.1} µs)",
                us(l.fixed),
                l.per_byte * 1e9,
                us(l.at(SHORT)),
                us(l.at(LONG))
            )
        };
        vec![
            lin("sign", &self.sign),
            lin("verify", &self.verify),
            lin(
                &format!("verify (batch of {})", self.batch),
                &self.verify_batched,
            ),
            lin(
                &format!("verify (batch of {BACKLOG}, 1 key)"),
                &self.verify_batched_one_key,
            ),
            lin("hash", &self.hash),
            lin("mac", &self.mac),
            lin("aead seal", &self.aead_seal),
            lin("aead open", &self.aead_open),
            format!("{:24} {:9.2} µs", "kdf expand", us(self.kdf_expand)),
            format!("{:24} {:9.2} µs", "hpke seal (32 B)", us(self.hpke_seal)),
            format!("{:24} {:9.2} µs", "hpke open (32 B)", us(self.hpke_open)),
            format!("{:24} {:9.2} µs", "dh", us(self.dh)),
            format!("{:24} {:9.2} µs", "dh public key", us(self.dh_public_key)),
        ]
    }
}

/// The key-schedule derivations of one epoch (RFC 9420 §8: `joiner_secret`, the PSK
/// secret, `welcome_secret`, `epoch_secret` and the ten secrets derived from it, §8.1,
/// §8.3), priced as HKDF calls.
pub const KEY_SCHEDULE_KDF_CALLS: f64 = 16.0;

/// KDF calls per node of an UpdatePath (RFC 9420 §7.4: `path_secret[n+1]` and
/// `node_secret` by `DeriveSecret`, then `DeriveKeyPair`'s extract and expand).
pub const PATH_NODE_KDF_CALLS: f64 = 4.0;

/// The framing around an application message's content inside its signature and
/// ciphertext (FramedContentTBS: version, wire format, group id, epoch, sender, AAD,
/// content type, lengths, the group context; the auth data), in bytes, approximately.
pub const APP_FRAMING: usize = 150;

/// Sender-data work of one PrivateMessage (RFC 9420 §6.3.2): key and nonce by two
/// `ExpandWithLabel`, one AEAD over 12 bytes.
fn sender_data(p: &Primitives, seal: bool) -> f64 {
    2.0 * p.kdf_expand
        + if seal {
            p.aead_seal.at(12)
        } else {
            p.aead_open.at(12)
        }
}

/// One step of the sender's ratchet (RFC 9420 §9.1: key, nonce, next secret).
fn ratchet_step(p: &Primitives) -> f64 {
    3.0 * p.kdf_expand
}

/// What a commit looks like, for its floor.
#[derive(Debug, Clone, Copy, Default)]
pub struct CommitShape {
    /// The encoded MLSMessage, in bytes.
    pub bytes: usize,
    /// HPKE ciphertexts in its UpdatePath (the resolutions of the copath, RFC 9420 §7.6).
    pub hpke_ciphertexts: usize,
    /// Nodes of its UpdatePath (the filtered direct path, §7.5).
    pub path_nodes: usize,
    /// The encoded LeafNode of its UpdatePath, in bytes; 0 without a path.
    pub leaf_node_bytes: usize,
}

/// Who processes a commit, for its floor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Processor {
    /// A member that stays: it decrypts its path secret and enters the new epoch.
    Member,
    /// The member the commit removes: it validates the commit but has no path secret to
    /// decrypt and no epoch to enter (RFC 9420 §12.4.2: the path is not encrypted to it).
    Removed,
}

/// The new LeafNode of a commit's path (RFC 9420 §7.4, §7.5): its key pair from the leaf
/// secret (`node_secret` by `DeriveSecret`, `DeriveKeyPair`'s extract and expand) and its
/// signature; nothing without a path.
fn leaf_create(p: &Primitives, c: CommitShape) -> f64 {
    if c.leaf_node_bytes == 0 {
        return 0.0;
    }
    (PATH_NODE_KDF_CALLS - 1.0) * p.kdf_expand + p.dh_public_key + p.sign.at(c.leaf_node_bytes)
}

/// Floor of creating a commit with a path, in seconds (README, "Floors").
pub fn commit_create(p: &Primitives, c: CommitShape) -> f64 {
    let nodes = c.path_nodes as f64;
    leaf_create(p, c)
        + c.hpke_ciphertexts as f64 * p.hpke_seal
        + nodes * (PATH_NODE_KDF_CALLS * p.kdf_expand + p.dh_public_key)
        + 2.0 * nodes * p.hash.at(100)
        + p.sign.at(c.bytes)
        + p.mac.at(c.bytes)
        + p.hash.at(c.bytes)
        + KEY_SCHEDULE_KDF_CALLS * p.kdf_expand
}

/// Floor of processing a commit with a path (README, "Floors"): the checks over the
/// message and the path every processor makes (the new leaf's signature, §7.3; parent and
/// tree hashes, §7.9, §7.8), then, for a member that stays, the path secret and the new
/// epoch.
pub fn commit_process(p: &Primitives, c: CommitShape, processor: Processor) -> f64 {
    let nodes = c.path_nodes as f64;
    let leaf = if c.leaf_node_bytes == 0 {
        0.0
    } else {
        p.verify.at(c.leaf_node_bytes)
    };
    let checks = p.verify.at(c.bytes)
        + p.mac.at(c.bytes)
        + p.hash.at(c.bytes)
        + leaf
        + 2.0 * nodes * p.hash.at(100);
    match processor {
        Processor::Removed => checks,
        Processor::Member => {
            checks
                + p.hpke_open
                + nodes * (PATH_NODE_KDF_CALLS * p.kdf_expand + p.dh_public_key)
                + KEY_SCHEDULE_KDF_CALLS * p.kdf_expand
        }
    }
}

/// Floor of the one commit adding `n − 1` KeyPackages of `key_package` bytes each to a
/// group of one, whose Welcome has `welcome` bytes (README, "Floors").
pub fn add_commit_create(
    p: &Primitives,
    n: usize,
    key_package: usize,
    commit: CommitShape,
    welcome: usize,
) -> f64 {
    let joiners = n.saturating_sub(1) as f64;
    joiners * (2.0 * p.verify_batched.at(key_package) + p.hash.at(key_package) + p.hpke_seal)
        + commit_create(p, commit)
        + p.sign.at(welcome)
        + p.aead_seal.at(welcome)
        + p.hash.at(welcome)
}

/// Floor of joining a group of `n` from a Welcome of `welcome` bytes (README, "Floors").
pub fn welcome_join(p: &Primitives, n: usize, welcome: usize) -> f64 {
    let leaf = welcome / n.max(1);
    n as f64 * p.verify_batched.at(leaf)
        + p.hpke_open
        + p.aead_open.at(welcome)
        + p.verify.at(welcome)
        + 2.0 * p.hash.at(welcome)
        + KEY_SCHEDULE_KDF_CALLS * p.kdf_expand
}

/// Floor of one application message sent and received, in seconds (README, "Floors").
pub fn app_roundtrip(p: &Primitives, payload: usize) -> f64 {
    let signed = payload + APP_FRAMING;
    p.sign.at(signed)
        + p.verify.at(signed)
        + p.aead_seal.at(signed)
        + p.aead_open.at(signed)
        + sender_data(p, true)
        + sender_data(p, false)
        + 2.0 * ratchet_step(p)
}

/// Floor of receiving one application message of a backlog, signatures batched, in
/// seconds on one thread (README, "Floors").
pub fn app_backlog(p: &Primitives, payload: usize) -> f64 {
    let signed = payload + APP_FRAMING;
    p.verify_batched_one_key.at(signed)
        + p.aead_open.at(signed)
        + sender_data(p, false)
        + ratchet_step(p)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_linear_fit_passes_through_both_measurements() {
        let fit = Linear::fit(2e-6, 2e-6 + 1e-9 * (LONG - SHORT) as f64);
        assert!((fit.at(SHORT) - 2e-6).abs() < 1e-12);
        assert!((fit.per_byte - 1e-9).abs() < 1e-15);
        assert!((fit.at(LONG) - (2e-6 + 1e-9 * (LONG - SHORT) as f64)).abs() < 1e-12);
    }

    #[test]
    fn floors_count_the_work_they_document() {
        let p = Primitives {
            hpke_seal: 1.0,
            hpke_open: 1.0,
            verify_batched: Linear {
                fixed: 1.0,
                per_byte: 0.0,
            },
            verify_batched_one_key: Linear {
                fixed: 0.5,
                per_byte: 0.0,
            },
            ..Primitives::default()
        };
        let shape = |e| CommitShape {
            bytes: 0,
            hpke_ciphertexts: e,
            path_nodes: 0,
            leaf_node_bytes: 0,
        };
        // One HPKE seal per ciphertext, one open to process; none for the removed member.
        assert_eq!(commit_create(&p, shape(10)), 10.0);
        assert_eq!(commit_process(&p, shape(10), Processor::Member), 1.0);
        assert_eq!(commit_process(&p, shape(10), Processor::Removed), 0.0);
        // A join verifies every leaf; an add two signatures and one seal per joiner.
        assert_eq!(welcome_join(&p, 100, 1000), 100.0 + 1.0);
        assert_eq!(add_commit_create(&p, 11, 300, shape(0), 1000), 10.0 * 3.0);
        // The backlog verifies one sender's batch only.
        assert_eq!(app_backlog(&p, 100), 0.5);
    }

    #[test]
    fn a_commit_with_a_path_signs_its_new_leaf_and_processors_verify_it() {
        let one = Linear {
            fixed: 1.0,
            per_byte: 0.0,
        };
        let p = Primitives {
            sign: one,
            verify: one,
            ..Primitives::default()
        };
        let with_leaf = CommitShape {
            bytes: 500,
            hpke_ciphertexts: 0,
            path_nodes: 0,
            leaf_node_bytes: 200,
        };
        // The commit's signature and the leaf's, made and verified.
        assert_eq!(commit_create(&p, with_leaf), 2.0);
        assert_eq!(commit_process(&p, with_leaf, Processor::Member), 2.0);
        assert_eq!(commit_process(&p, with_leaf, Processor::Removed), 2.0);
        let without = CommitShape {
            leaf_node_bytes: 0,
            ..with_leaf
        };
        assert_eq!(commit_create(&p, without), 1.0);
        assert_eq!(commit_process(&p, without, Processor::Member), 1.0);
    }
}
