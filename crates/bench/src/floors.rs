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

/// Seconds per call of `f`, after one warm-up call, over `calls` calls.
fn per_call(
    calls: u32,
    mut f: impl FnMut() -> Result<(), CryptoError>,
) -> Result<f64, CryptoError> {
    f()?;
    let start = Instant::now();
    for _ in 0..calls {
        f()?;
    }
    Ok(start.elapsed().as_secs_f64() / f64::from(calls.max(1)))
}

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

impl Primitives {
    /// Measures every primitive of `cs` on the calling thread (about 0.3 s for suite 1),
    /// batch verification in batches of [`BATCH`].
    pub fn measure(cs: &dyn CipherSuiteProvider) -> Result<Self, CryptoError> {
        Self::measure_with_batch(cs, BATCH)
    }

    /// [`Primitives::measure`], with batch verification measured in batches of `batch`
    /// signatures (clamped to 2..=[`MAX_BATCH`]): the batch a join or an add at that N
    /// verifies, each signature by its own key as a join's leaves are, so that their floors
    /// price the batch they run (up to 1.5 s more at N = 10 000, mostly generating keys and
    /// signing the batch); and a batch of [`BACKLOG`] signatures by one key, for the backlog.
    pub fn measure_with_batch(
        cs: &dyn CipherSuiteProvider,
        batch: usize,
    ) -> Result<Self, CryptoError> {
        let batch = batch.clamp(2, MAX_BATCH);
        let mut rng = conclave_crypto::SeededRng::new(17);
        let (secret, public) = cs.signature_generate(&mut rng)?;
        let secret = secret.as_bytes();
        let sign = linear(|m| cs.sign(secret, m).map(drop))?;
        let short = vec![7u8; SHORT];
        let long = vec![7u8; LONG];
        let (sig_short, sig_long) = (cs.sign(secret, &short)?, cs.sign(secret, &long)?);
        let verify = Linear::fit(
            per_call(SHORT_CALLS, || cs.verify(&public, &short, &sig_short))?,
            per_call(LONG_CALLS, || cs.verify(&public, &long, &sig_long))?,
        );
        let verify_batched = Self::measure_batch(cs, &mut rng, verify.per_byte, batch, true)?;
        let verify_batched_one_key =
            Self::measure_batch(cs, &mut rng, verify.per_byte, BACKLOG, false)?;
        let hash = linear(|m| {
            std::hint::black_box(cs.hash(m));
            Ok(())
        })?;
        let key = vec![3u8; cs.hash_len()];
        let mac = linear(|m| {
            std::hint::black_box(cs.mac(&key, m));
            Ok(())
        })?;
        let aead_key = vec![5u8; cs.aead_key_len()];
        let nonce = vec![9u8; cs.aead_nonce_len()];
        let aead_seal = linear(|m| cs.aead_seal(&aead_key, &nonce, b"", m).map(drop))?;
        let sealed_short = cs.aead_seal(&aead_key, &nonce, b"", &[7u8; SHORT])?;
        let sealed_long = cs.aead_seal(&aead_key, &nonce, b"", &vec![7u8; LONG])?;
        let aead_open = Linear::fit(
            per_call(SHORT_CALLS, || {
                cs.aead_open(&aead_key, &nonce, b"", &sealed_short)
                    .map(drop)
            })?,
            per_call(LONG_CALLS, || {
                cs.aead_open(&aead_key, &nonce, b"", &sealed_long).map(drop)
            })?,
        );
        let prk = cs.kdf_extract(b"salt", b"ikm");
        let kdf_expand = per_call(SHORT_CALLS, || {
            cs.kdf_expand(prk.as_bytes(), b"info", cs.hash_len())
                .map(drop)
        })?;
        let dh_secret = [0x42u8; 32];
        let dh_public = cs.dh_public_key(&dh_secret)?;
        let dh = per_call(SHORT_CALLS, || cs.dh(&dh_secret, &dh_public).map(drop))?;
        let dh_public_key = per_call(SHORT_CALLS, || cs.dh_public_key(&dh_secret).map(drop))?;
        let recipient = hpke::generate_key_pair(cs, &mut rng)?;
        let info = hpke::InfoHash::new(cs, b"MLS 1.0 UpdatePathNode");
        let path_secret = [1u8; 32];
        let hpke_seal = per_call(SHORT_CALLS / 2, || {
            hpke::seal_base_with_info_hash(
                cs,
                &recipient.public_key,
                &info,
                b"",
                &path_secret,
                &mut rng,
            )
            .map(drop)
        })?;
        let (enc, ct) = hpke::seal_base(
            cs,
            &recipient.public_key,
            b"MLS 1.0 UpdatePathNode",
            b"",
            &path_secret,
            &mut rng,
        )?;
        let hpke_open = per_call(SHORT_CALLS / 2, || {
            hpke::open_base(
                cs,
                &enc,
                recipient.secret_key.as_bytes(),
                b"MLS 1.0 UpdatePathNode",
                b"",
                &ct,
            )
            .map(drop)
        })?;
        Ok(Self {
            sign,
            verify,
            verify_batched,
            batch,
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

    /// Batch verification of `batch` signatures over [`SHORT`]-byte messages, per
    /// signature; its per-byte part is taken from single verification (the same SHA-512).
    fn measure_batch(
        cs: &dyn CipherSuiteProvider,
        rng: &mut conclave_crypto::SeededRng,
        per_byte: f64,
        batch: usize,
        key_per_signature: bool,
    ) -> Result<Linear, CryptoError> {
        let keys = (0..if key_per_signature { batch } else { 1 })
            .map(|_| cs.signature_generate(rng))
            .collect::<Result<Vec<_>, _>>()?;
        let messages: Vec<Vec<u8>> = (0..batch)
            .map(|i| vec![u8::try_from(i % 256).unwrap_or(0); SHORT])
            .collect();
        let signed = messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let (secret, public) = keys.get(i % keys.len()).ok_or(CryptoError::InvalidKey {
                    kind: "signature secret",
                    reason: "no key was generated",
                })?;
                Ok((public.as_slice(), cs.sign(secret.as_bytes(), m)?))
            })
            .collect::<Result<Vec<_>, CryptoError>>()?;
        let items: Vec<SignatureToVerify<'_>> = messages
            .iter()
            .zip(&signed)
            .map(|(message, (public_key, signature))| SignatureToVerify {
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
