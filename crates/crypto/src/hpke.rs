//! HPKE (RFC 9180) built on the primitives of a [`CipherSuiteProvider`].
//!
//! Implements DHKEM (RFC 9180 §4.1: `Encap`/`Decap`, `AuthEncap`/`AuthDecap`),
//! `DeriveKeyPair` (RFC 9180 §7.1.3), the labelled KDF helpers (RFC 9180 §4), the key
//! schedule for all four modes (RFC 9180 §5.1), the encryption context with `Seal`/`Open`
//! (RFC 9180 §5.2) and `Export` (RFC 9180 §5.3), and the single-shot APIs (RFC 9180 §6).
//!
//! The KEM's internal KDF and the HPKE KDF are both the provider's KDF: in every MLS cipher
//! suite they coincide. Operations refuse a provider whose KDF differs from the KEM's
//! (RFC 9180 §4.1 requires the KEM to use its own KDF).
//!
//! The post-quantum KEMs (ML-KEM-768/1024 and the ML-KEM hybrids of
//! draft-ietf-mls-pq-ciphersuites §2) take the place of DHKEM in `DeriveKeyPair`, `Encap`
//! and `Decap` (see the `pq` module); the key schedule is unchanged. They have no
//! `AuthEncap` (draft-ietf-hpke-pq §3), so the auth modes refuse them.
//!
//! Randomness is never read from the OS: [`encap`] and [`generate_key_pair`] draw from an
//! injected [`CryptoRandom`], and the `*_deterministic` variants take the ephemeral input
//! keying material directly (used to reproduce the RFC 9180 Appendix A vectors).

use zeroize::Zeroizing;

use crate::{CipherSuiteProvider, CryptoError, CryptoRandom, KemAlgorithm, Secret};

/// The HPKE version label prefixed to every labelled KDF input (RFC 9180 §4).
const HPKE_VERSION_LABEL: &[u8] = b"HPKE-v1";

/// An HPKE mode (RFC 9180 §5, Table 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// `mode_base` (0x00): encryption to a public key.
    Base,
    /// `mode_psk` (0x01): authenticated with a pre-shared key.
    Psk,
    /// `mode_auth` (0x02): authenticated with the sender's KEM key.
    Auth,
    /// `mode_auth_psk` (0x03): authenticated with both.
    AuthPsk,
}

impl Mode {
    /// The one-byte mode identifier (RFC 9180 §5).
    pub const fn id(self) -> u8 {
        match self {
            Self::Base => 0x00,
            Self::Psk => 0x01,
            Self::Auth => 0x02,
            Self::AuthPsk => 0x03,
        }
    }

    /// Whether the mode takes a PSK.
    pub const fn uses_psk(self) -> bool {
        matches!(self, Self::Psk | Self::AuthPsk)
    }

    /// Whether the mode authenticates the sender's KEM key.
    pub const fn uses_auth(self) -> bool {
        matches!(self, Self::Auth | Self::AuthPsk)
    }
}

/// A pre-shared key and its identifier for the PSK modes (RFC 9180 §5.1.2).
///
/// Both must be non-empty (`VerifyPSKInputs`, RFC 9180 §5.1).
#[derive(Debug, Clone, Copy)]
pub struct Psk<'a> {
    /// The pre-shared key (at least 32 bytes of entropy, RFC 9180 §9.5).
    pub psk: &'a [u8],
    /// The identifier of the PSK.
    pub psk_id: &'a [u8],
}

/// An HPKE/DHKEM key pair: `SerializePrivateKey(sk)` and `SerializePublicKey(pk)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HpkeKeyPair {
    /// The serialized private key (`Nsk` bytes).
    pub secret_key: Secret,
    /// The serialized public key (`Npk` bytes).
    pub public_key: Vec<u8>,
}

// ---- suite identifiers and labelled KDF (RFC 9180 §4, §4.1, §5.1) -----------------------------

/// The KEM `suite_id`: `concat("KEM", I2OSP(kem_id, 2))` (RFC 9180 §4.1).
pub fn kem_suite_id(kem: KemAlgorithm) -> Vec<u8> {
    let mut id = b"KEM".to_vec();
    id.extend_from_slice(&kem.id().to_be_bytes());
    id
}

/// The HPKE `suite_id`: `concat("HPKE", I2OSP(kem_id, 2), I2OSP(kdf_id, 2),
/// I2OSP(aead_id, 2))` (RFC 9180 §5.1).
pub fn hpke_suite_id(cs: &dyn CipherSuiteProvider) -> Vec<u8> {
    let mut id = b"HPKE".to_vec();
    id.extend_from_slice(&cs.kem().id().to_be_bytes());
    id.extend_from_slice(&cs.kdf().id().to_be_bytes());
    id.extend_from_slice(&cs.aead().id().to_be_bytes());
    id
}

/// `LabeledExtract(salt, label, ikm)` with an explicit `suite_id` (RFC 9180 §4):
/// `Extract(salt, concat("HPKE-v1", suite_id, label, ikm))`.
pub fn labeled_extract(
    cs: &dyn CipherSuiteProvider,
    suite_id: &[u8],
    salt: &[u8],
    label: &[u8],
    ikm: &[u8],
) -> Secret {
    // The input keying material may be secret: build it in a zeroizing buffer.
    let mut labeled_ikm = Zeroizing::new(Vec::with_capacity(
        HPKE_VERSION_LABEL.len() + suite_id.len() + label.len() + ikm.len(),
    ));
    labeled_ikm.extend_from_slice(HPKE_VERSION_LABEL);
    labeled_ikm.extend_from_slice(suite_id);
    labeled_ikm.extend_from_slice(label);
    labeled_ikm.extend_from_slice(ikm);
    cs.kdf_extract(salt, &labeled_ikm)
}

/// `LabeledExpand(prk, label, info, L)` with an explicit `suite_id` (RFC 9180 §4):
/// `Expand(prk, concat(I2OSP(L, 2), "HPKE-v1", suite_id, label, info), L)`.
///
/// Fails if `L` does not fit in two bytes or exceeds the KDF's limit of `255 * Nh`.
pub fn labeled_expand(
    cs: &dyn CipherSuiteProvider,
    suite_id: &[u8],
    prk: &[u8],
    label: &[u8],
    info: &[u8],
    len: usize,
) -> Result<Secret, CryptoError> {
    let len16 = u16::try_from(len).map_err(|_| CryptoError::InvalidLength {
        what: "HPKE LabeledExpand output",
        len,
    })?;
    let mut labeled_info = Vec::with_capacity(
        2 + HPKE_VERSION_LABEL.len() + suite_id.len() + label.len() + info.len(),
    );
    labeled_info.extend_from_slice(&len16.to_be_bytes());
    labeled_info.extend_from_slice(HPKE_VERSION_LABEL);
    labeled_info.extend_from_slice(suite_id);
    labeled_info.extend_from_slice(label);
    labeled_info.extend_from_slice(info);
    cs.kdf_expand(prk, &labeled_info, len)
}

/// Checks that the provider's KDF is the KEM's KDF (RFC 9180 §4.1, §7.1.3): this HPKE uses
/// the provider's KDF for both the KEM and the rest of HPKE.
fn check_kem_kdf(cs: &dyn CipherSuiteProvider) -> Result<KemAlgorithm, CryptoError> {
    let kem = cs.kem();
    if kem.is_dhkem() && kem.kdf() == cs.kdf() {
        Ok(kem)
    } else {
        Err(CryptoError::UnsupportedCipherSuite(cs.cipher_suite().0))
    }
}

fn check_len(what: &'static str, bytes: &[u8], expected: usize) -> Result<(), CryptoError> {
    if bytes.len() == expected {
        Ok(())
    } else {
        Err(CryptoError::InvalidLength {
            what,
            len: bytes.len(),
        })
    }
}

// ---- DHKEM (RFC 9180 §4.1, §7.1.3) -----------------------------------------------------------

/// `DeriveKeyPair(ikm)` of the suite's DHKEM (RFC 9180 §7.1.3).
///
/// For X25519/X448: `sk = LabeledExpand(dkp_prk, "sk", "", Nsk)`. For the NIST curves:
/// rejection sampling over `LabeledExpand(dkp_prk, "candidate", I2OSP(counter, 1), Nsk)`
/// with the first byte masked by the curve's bitmask, accepting the first candidate in
/// `[1, order-1]`; [`CryptoError::DeriveKeyPairError`] after 256 failures.
///
/// For the post-quantum KEMs: draft-ietf-hpke-pq §3 (`LabeledDerive` with SHAKE256).
pub fn derive_key_pair(
    cs: &dyn CipherSuiteProvider,
    ikm: &[u8],
) -> Result<HpkeKeyPair, CryptoError> {
    if !cs.kem().is_dhkem() {
        return crate::pq::derive_key_pair(cs, ikm);
    }
    let secret_key = derive_secret_key(cs, ikm)?;
    let public_key = cs.dh_public_key(secret_key.as_bytes())?;
    Ok(HpkeKeyPair {
        secret_key,
        public_key,
    })
}

/// The secret half of [`derive_key_pair`] (RFC 9180 §7.1.3), for callers that get the
/// public key another way (Encap computes it together with the DH output).
fn derive_secret_key(cs: &dyn CipherSuiteProvider, ikm: &[u8]) -> Result<Secret, CryptoError> {
    let kem = check_kem_kdf(cs)?;
    let suite_id = kem_suite_id(kem);
    let nsk = kem.secret_key_len();
    let dkp_prk = labeled_extract(cs, &suite_id, b"", b"dkp_prk", ikm);
    let secret_key = if kem.is_nist_curve() {
        let mut found = None;
        for counter in 0u8..=255 {
            let candidate = labeled_expand(
                cs,
                &suite_id,
                dkp_prk.as_bytes(),
                b"candidate",
                &[counter],
                nsk,
            )?;
            let mut bytes = Zeroizing::new(candidate.as_bytes().to_vec());
            if let Some(first) = bytes.first_mut() {
                *first &= kem.derive_bitmask();
            }
            if cs.dh_secret_key_is_valid(&bytes) {
                found = Some(Secret::new(core::mem::take(&mut *bytes)));
                break;
            }
        }
        found.ok_or(CryptoError::DeriveKeyPairError)?
    } else {
        labeled_expand(cs, &suite_id, dkp_prk.as_bytes(), b"sk", b"", nsk)?
    };
    Ok(secret_key)
}

/// `SerializePublicKey(pk(sk))` of a serialized KEM private key, for every KEM.
pub fn public_key(cs: &dyn CipherSuiteProvider, secret_key: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if cs.kem().is_dhkem() {
        cs.dh_public_key(secret_key)
    } else {
        crate::pq::public_key(cs, secret_key)
    }
}

/// Refuses `AuthEncap`/`AuthDecap` for the post-quantum KEMs, which define none
/// (draft-ietf-hpke-pq §3).
fn check_auth_kem_absent(cs: &dyn CipherSuiteProvider, auth: bool) -> Result<(), CryptoError> {
    if auth && !cs.kem().is_dhkem() {
        Err(CryptoError::UnsupportedCipherSuite(cs.cipher_suite().0))
    } else {
        Ok(())
    }
}

/// `GenerateKeyPair()` = `DeriveKeyPair(random(Nsk))` (RFC 9180 §4), drawing from `rng`.
pub fn generate_key_pair(
    cs: &dyn CipherSuiteProvider,
    rng: &mut dyn CryptoRandom,
) -> Result<HpkeKeyPair, CryptoError> {
    let mut ikm = Zeroizing::new(vec![0u8; cs.kem().secret_key_len()]);
    rng.fill(&mut ikm)?;
    derive_key_pair(cs, &ikm)
}

/// How many random bytes one `Encap` draws: `Nsk` for DHKEM (the ephemeral key pair is
/// `DeriveKeyPair(random(Nsk))`, RFC 9180 §4), the encapsulation randomness for the
/// post-quantum KEMs (see the `pq` module). Callers that pre-draw randomness per
/// recipient size their pools with it.
pub fn encap_randomness_len(kem: KemAlgorithm) -> usize {
    if kem.is_dhkem() {
        kem.secret_key_len()
    } else {
        crate::pq::encap_randomness_len(kem)
    }
}

/// Random input for `DeriveKeyPair` (`Nsk` bytes) or, for the post-quantum KEMs, for `Encap`
/// (its randomness, see the `pq` module).
fn random_ikm(
    cs: &dyn CipherSuiteProvider,
    rng: &mut dyn CryptoRandom,
) -> Result<Secret, CryptoError> {
    let mut ikm = Zeroizing::new(vec![0u8; encap_randomness_len(cs.kem())]);
    rng.fill(&mut ikm)?;
    Ok(Secret::new(core::mem::take(&mut *ikm)))
}

/// `ExtractAndExpand(dh, kem_context)` (RFC 9180 §4.1).
fn extract_and_expand(
    cs: &dyn CipherSuiteProvider,
    kem: KemAlgorithm,
    dh: &[u8],
    kem_context: &[u8],
) -> Result<Secret, CryptoError> {
    let suite_id = kem_suite_id(kem);
    let eae_prk = labeled_extract(cs, &suite_id, b"", b"eae_prk", dh);
    labeled_expand(
        cs,
        &suite_id,
        eae_prk.as_bytes(),
        b"shared_secret",
        kem_context,
        kem.shared_secret_len(),
    )
}

/// Joins DH outputs into one secret buffer.
fn concat_secrets(parts: &[&Secret]) -> Secret {
    let mut out = Zeroizing::new(Vec::with_capacity(parts.iter().map(|s| s.len()).sum()));
    for part in parts {
        out.extend_from_slice(part.as_bytes());
    }
    Secret::new(core::mem::take(&mut *out))
}

/// Encap/AuthEncap with the ephemeral secret key `DeriveKeyPair(ikm_e)` (RFC 9180 §4.1);
/// the ephemeral public key (`enc`) comes with the DH output.
fn encap_with_ephemeral(
    cs: &dyn CipherSuiteProvider,
    pk_r: &[u8],
    sk_s: Option<&[u8]>,
    ikm_e: &[u8],
) -> Result<(Secret, Vec<u8>), CryptoError> {
    if !cs.kem().is_dhkem() {
        check_auth_kem_absent(cs, sk_s.is_some())?;
        return crate::pq::encap(cs, pk_r, ikm_e);
    }
    let kem = check_kem_kdf(cs)?;
    check_len("HPKE recipient public key", pk_r, kem.public_key_len())?;
    let sk_e = derive_secret_key(cs, ikm_e)?;
    let (dh_e, enc) = cs.dh_with_public_key(sk_e.as_bytes(), pk_r)?;
    let mut kem_context = Vec::with_capacity(3 * kem.public_key_len());
    kem_context.extend_from_slice(&enc);
    kem_context.extend_from_slice(pk_r);
    let dh = match sk_s {
        None => dh_e,
        Some(sk_s) => {
            check_len("HPKE sender secret key", sk_s, kem.secret_key_len())?;
            let dh_s = cs.dh(sk_s, pk_r)?;
            kem_context.extend_from_slice(&cs.dh_public_key(sk_s)?);
            concat_secrets(&[&dh_e, &dh_s])
        }
    };
    let shared_secret = extract_and_expand(cs, kem, dh.as_bytes(), &kem_context)?;
    Ok((shared_secret, enc))
}

/// Decap/AuthDecap (RFC 9180 §4.1).
fn decap_inner(
    cs: &dyn CipherSuiteProvider,
    enc: &[u8],
    sk_r: &[u8],
    pk_s: Option<&[u8]>,
) -> Result<Secret, CryptoError> {
    if !cs.kem().is_dhkem() {
        check_auth_kem_absent(cs, pk_s.is_some())?;
        return crate::pq::decap(cs, enc, sk_r);
    }
    let kem = check_kem_kdf(cs)?;
    check_len("HPKE encapsulated key", enc, kem.enc_len())?;
    check_len("HPKE recipient secret key", sk_r, kem.secret_key_len())?;
    let (dh_e, pk_r) = cs.dh_with_public_key(sk_r, enc)?;
    let mut kem_context = Vec::with_capacity(3 * kem.public_key_len());
    kem_context.extend_from_slice(enc);
    kem_context.extend_from_slice(&pk_r);
    let dh = match pk_s {
        None => dh_e,
        Some(pk_s) => {
            check_len("HPKE sender public key", pk_s, kem.public_key_len())?;
            let dh_s = cs.dh(sk_r, pk_s)?;
            kem_context.extend_from_slice(pk_s);
            concat_secrets(&[&dh_e, &dh_s])
        }
    };
    extract_and_expand(cs, kem, dh.as_bytes(), &kem_context)
}

/// `Encap(pkR)` (RFC 9180 §4.1): returns `(shared_secret, enc)`. The ephemeral key pair is
/// `GenerateKeyPair()` drawn from `rng`.
pub fn encap(
    cs: &dyn CipherSuiteProvider,
    pk_r: &[u8],
    rng: &mut dyn CryptoRandom,
) -> Result<(Secret, Vec<u8>), CryptoError> {
    let ikm_e = random_ikm(cs, rng)?;
    encap_with_ephemeral(cs, pk_r, None, ikm_e.as_bytes())
}

/// `Encap(pkR)` with the ephemeral key pair `DeriveKeyPair(ikm_e)` (RFC 9180 §4.1,
/// Appendix A): deterministic, for test vectors. For the post-quantum KEMs `ikm_e` is the
/// encapsulation randomness itself (the `ikmE` of the draft-ietf-hpke-pq vectors).
pub fn encap_deterministic(
    cs: &dyn CipherSuiteProvider,
    pk_r: &[u8],
    ikm_e: &[u8],
) -> Result<(Secret, Vec<u8>), CryptoError> {
    encap_with_ephemeral(cs, pk_r, None, ikm_e)
}

/// `Decap(enc, skR)` (RFC 9180 §4.1): the KEM shared secret.
pub fn decap(cs: &dyn CipherSuiteProvider, enc: &[u8], sk_r: &[u8]) -> Result<Secret, CryptoError> {
    decap_inner(cs, enc, sk_r, None)
}

/// `AuthEncap(pkR, skS)` (RFC 9180 §4.1): returns `(shared_secret, enc)`.
pub fn auth_encap(
    cs: &dyn CipherSuiteProvider,
    pk_r: &[u8],
    sk_s: &[u8],
    rng: &mut dyn CryptoRandom,
) -> Result<(Secret, Vec<u8>), CryptoError> {
    let ikm_e = random_ikm(cs, rng)?;
    encap_with_ephemeral(cs, pk_r, Some(sk_s), ikm_e.as_bytes())
}

/// `AuthEncap(pkR, skS)` with the ephemeral key pair `DeriveKeyPair(ikm_e)`: deterministic.
pub fn auth_encap_deterministic(
    cs: &dyn CipherSuiteProvider,
    pk_r: &[u8],
    sk_s: &[u8],
    ikm_e: &[u8],
) -> Result<(Secret, Vec<u8>), CryptoError> {
    encap_with_ephemeral(cs, pk_r, Some(sk_s), ikm_e)
}

/// `AuthDecap(enc, skR, pkS)` (RFC 9180 §4.1).
pub fn auth_decap(
    cs: &dyn CipherSuiteProvider,
    enc: &[u8],
    sk_r: &[u8],
    pk_s: &[u8],
) -> Result<Secret, CryptoError> {
    decap_inner(cs, enc, sk_r, Some(pk_s))
}

// ---- key schedule and context (RFC 9180 §5.1–§5.3) ---------------------------------------

/// `VerifyPSKInputs(mode, psk, psk_id)` (RFC 9180 §5.1), with the mode implied by `psk`.
fn verify_psk_inputs(psk: Option<Psk<'_>>) -> Result<(), CryptoError> {
    match psk {
        Some(p) if p.psk.is_empty() || p.psk_id.is_empty() => Err(CryptoError::InvalidKey {
            kind: "HPKE PSK",
            reason: "psk and psk_id must both be non-empty in the PSK modes",
        }),
        _ => Ok(()),
    }
}

/// `KeySchedule<ROLE>(mode, shared_secret, info, psk, psk_id)` (RFC 9180 §5.1).
///
/// The mode is given explicitly; `psk` must be `Some` exactly for the PSK modes.
pub fn key_schedule<'a>(
    cs: &'a dyn CipherSuiteProvider,
    mode: Mode,
    shared_secret: &[u8],
    info: &[u8],
    psk: Option<Psk<'_>>,
) -> Result<Context<'a>, CryptoError> {
    if cs.kem().is_dhkem() {
        check_kem_kdf(cs)?;
    }
    if mode.uses_psk() != psk.is_some() {
        return Err(CryptoError::InvalidKey {
            kind: "HPKE PSK",
            reason: "a PSK must be given exactly in the PSK modes",
        });
    }
    verify_psk_inputs(psk)?;
    let info_hash = InfoHash::new(cs, info);
    key_schedule_with_info_hash(cs, mode, shared_secret, &info_hash, psk)
}

/// `LabeledExtract("", "info_hash", info)` of an HPKE `info` (RFC 9180 §5.1), computed once
/// when many recipients share one `info` (an MLS Welcome encrypts to every new member with
/// the same, possibly large, context).
#[derive(Debug, Clone)]
pub struct InfoHash(Secret);

impl InfoHash {
    /// Hashes `info` for the suite.
    pub fn new(cs: &dyn CipherSuiteProvider, info: &[u8]) -> Self {
        Self(labeled_extract(
            cs,
            &hpke_suite_id(cs),
            b"",
            b"info_hash",
            info,
        ))
    }
}

/// [`key_schedule`] with a precomputed info hash.
fn key_schedule_with_info_hash<'a>(
    cs: &'a dyn CipherSuiteProvider,
    mode: Mode,
    shared_secret: &[u8],
    info_hash: &InfoHash,
    psk: Option<Psk<'_>>,
) -> Result<Context<'a>, CryptoError> {
    let (psk, psk_id) = psk.map_or((&[][..], &[][..]), |p| (p.psk, p.psk_id));
    let suite_id = hpke_suite_id(cs);
    let psk_id_hash = labeled_extract(cs, &suite_id, b"", b"psk_id_hash", psk_id);
    let info_hash = &info_hash.0;
    let mut ks_context = Vec::with_capacity(1 + psk_id_hash.len() + info_hash.len());
    ks_context.push(mode.id());
    ks_context.extend_from_slice(psk_id_hash.as_bytes());
    ks_context.extend_from_slice(info_hash.as_bytes());

    let secret = labeled_extract(cs, &suite_id, shared_secret, b"secret", psk);
    let key = labeled_expand(
        cs,
        &suite_id,
        secret.as_bytes(),
        b"key",
        &ks_context,
        cs.aead_key_len(),
    )?;
    let base_nonce = labeled_expand(
        cs,
        &suite_id,
        secret.as_bytes(),
        b"base_nonce",
        &ks_context,
        cs.aead_nonce_len(),
    )?;
    let exporter_secret = labeled_expand(
        cs,
        &suite_id,
        secret.as_bytes(),
        b"exp",
        &ks_context,
        cs.hash_len(),
    )?;
    Ok(Context {
        cs,
        suite_id,
        key,
        base_nonce,
        seq: 0,
        exporter_secret,
    })
}

/// An HPKE encryption context (RFC 9180 §5.2): AEAD key, base nonce, sequence number and
/// exporter secret. Obtain one through a sender or receiver setup; the role-specific
/// wrappers [`SenderContext`] and [`ReceiverContext`] only allow `Seal` or `Open`.
pub struct Context<'a> {
    cs: &'a dyn CipherSuiteProvider,
    suite_id: Vec<u8>,
    key: Secret,
    base_nonce: Secret,
    seq: u128,
    exporter_secret: Secret,
}

impl core::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Context")
            .field("suite", &self.cs.cipher_suite())
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

/// `ComputeNonce(seq)`: `base_nonce XOR I2OSP(seq, Nn)` (RFC 9180 §5.2).
fn compute_nonce(base_nonce: &[u8], seq: u128) -> Vec<u8> {
    let seq_bytes = seq.to_be_bytes();
    let n = base_nonce.len();
    base_nonce
        .iter()
        .enumerate()
        .map(|(i, b)| {
            // Byte i of I2OSP(seq, Nn): counted from the right end of the 16-byte encoding.
            let from_right = n - 1 - i;
            let s = seq_bytes
                .len()
                .checked_sub(1 + from_right)
                .and_then(|j| seq_bytes.get(j))
                .copied()
                .unwrap_or(0);
            b ^ s
        })
        .collect()
}

/// The largest sequence number allowed for a nonce of `nonce_len` bytes: `2^(8*Nn) - 1`.
fn max_seq(nonce_len: usize) -> u128 {
    match nonce_len.checked_mul(8) {
        Some(bits) if bits < 128 => (1u128 << bits) - 1,
        _ => u128::MAX,
    }
}

impl Context<'_> {
    /// The AEAD key (`key` of RFC 9180 §5.1), exposed for test vectors.
    pub fn key(&self) -> &Secret {
        &self.key
    }

    /// The base nonce (`base_nonce` of RFC 9180 §5.1), exposed for test vectors.
    pub fn base_nonce(&self) -> &Secret {
        &self.base_nonce
    }

    /// The exporter secret (`exporter_secret` of RFC 9180 §5.1), exposed for test vectors.
    pub fn exporter_secret(&self) -> &Secret {
        &self.exporter_secret
    }

    /// The current sequence number.
    pub fn seq(&self) -> u128 {
        self.seq
    }

    /// The nonce the next `Seal`/`Open` will use (`ComputeNonce(seq)`, RFC 9180 §5.2).
    pub fn current_nonce(&self) -> Vec<u8> {
        compute_nonce(self.base_nonce.as_bytes(), self.seq)
    }

    /// `IncrementSeq()` (RFC 9180 §5.2).
    fn increment_seq(&mut self) -> Result<(), CryptoError> {
        if self.seq >= max_seq(self.base_nonce.len()) {
            return Err(CryptoError::MessageLimitReached);
        }
        self.seq += 1;
        Ok(())
    }

    /// Fails before using a nonce whose sequence number could not be incremented afterwards.
    fn check_seq(&self) -> Result<(), CryptoError> {
        if self.seq >= max_seq(self.base_nonce.len()) {
            Err(CryptoError::MessageLimitReached)
        } else {
            Ok(())
        }
    }

    fn seal(&mut self, aad: &[u8], pt: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.check_seq()?;
        let nonce = self.current_nonce();
        let ct = self.cs.aead_seal(self.key.as_bytes(), &nonce, aad, pt)?;
        self.increment_seq()?;
        Ok(ct)
    }

    fn open(&mut self, aad: &[u8], ct: &[u8]) -> Result<Secret, CryptoError> {
        self.check_seq()?;
        let nonce = self.current_nonce();
        let pt = self.cs.aead_open(self.key.as_bytes(), &nonce, aad, ct)?;
        self.increment_seq()?;
        Ok(pt)
    }

    /// `Context.Export(exporter_context, L)` (RFC 9180 §5.3):
    /// `LabeledExpand(exporter_secret, "sec", exporter_context, L)`.
    pub fn export(&self, exporter_context: &[u8], len: usize) -> Result<Secret, CryptoError> {
        labeled_expand(
            self.cs,
            &self.suite_id,
            self.exporter_secret.as_bytes(),
            b"sec",
            exporter_context,
            len,
        )
    }
}

/// The sender's context `ContextS` (RFC 9180 §5.2): can `Seal` and `Export`, never `Open`.
#[derive(Debug)]
pub struct SenderContext<'a>(Context<'a>);

/// The recipient's context `ContextR` (RFC 9180 §5.2): can `Open` and `Export`, never `Seal`.
#[derive(Debug)]
pub struct ReceiverContext<'a>(Context<'a>);

impl<'a> SenderContext<'a> {
    /// `ContextS.Seal(aad, pt)` (RFC 9180 §5.2); fails with
    /// [`CryptoError::MessageLimitReached`] once the sequence number is exhausted.
    pub fn seal(&mut self, aad: &[u8], pt: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.0.seal(aad, pt)
    }

    /// `Context.Export(exporter_context, L)` (RFC 9180 §5.3).
    pub fn export(&self, exporter_context: &[u8], len: usize) -> Result<Secret, CryptoError> {
        self.0.export(exporter_context, len)
    }

    /// The underlying key-schedule values (for test vectors and diagnostics).
    pub fn context(&self) -> &Context<'a> {
        &self.0
    }
}

impl<'a> ReceiverContext<'a> {
    /// `ContextR.Open(aad, ct)` (RFC 9180 §5.2); [`CryptoError::AeadOpenFailed`] on a bad
    /// ciphertext (the sequence number is then not advanced).
    pub fn open(&mut self, aad: &[u8], ct: &[u8]) -> Result<Secret, CryptoError> {
        self.0.open(aad, ct)
    }

    /// `Context.Export(exporter_context, L)` (RFC 9180 §5.3).
    pub fn export(&self, exporter_context: &[u8], len: usize) -> Result<Secret, CryptoError> {
        self.0.export(exporter_context, len)
    }

    /// The underlying key-schedule values (for test vectors and diagnostics).
    pub fn context(&self) -> &Context<'a> {
        &self.0
    }
}

// ---- setup (RFC 9180 §5.1.1–§5.1.4) ----------------------------------------------------

/// Where the sender's ephemeral key comes from.
pub enum Ephemeral<'r> {
    /// `GenerateKeyPair()` from a random source (normal operation).
    Random(&'r mut dyn CryptoRandom),
    /// `DeriveKeyPair(ikm_e)`: deterministic, for test vectors (RFC 9180 Appendix A).
    Ikm(&'r [u8]),
}

impl core::fmt::Debug for Ephemeral<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Random(_) => f.write_str("Ephemeral::Random"),
            Self::Ikm(_) => f.write_str("Ephemeral::Ikm(..)"),
        }
    }
}

fn mode_for(psk: Option<Psk<'_>>, auth: bool) -> Mode {
    match (psk.is_some(), auth) {
        (false, false) => Mode::Base,
        (true, false) => Mode::Psk,
        (false, true) => Mode::Auth,
        (true, true) => Mode::AuthPsk,
    }
}

/// Generic sender setup (`SetupBaseS`, `SetupPSKS`, `SetupAuthS`, `SetupAuthPSKS`,
/// RFC 9180 §5.1.1–§5.1.4). The mode follows from which of `psk` and `sk_s` are given.
/// Returns `(enc, context)`.
pub fn setup_sender<'a>(
    cs: &'a dyn CipherSuiteProvider,
    pk_r: &[u8],
    info: &[u8],
    psk: Option<Psk<'_>>,
    sk_s: Option<&[u8]>,
    ephemeral: Ephemeral<'_>,
) -> Result<(Vec<u8>, SenderContext<'a>), CryptoError> {
    verify_psk_inputs(psk)?;
    let (shared_secret, enc) = match ephemeral {
        Ephemeral::Random(rng) => {
            let ikm_e = random_ikm(cs, rng)?;
            encap_with_ephemeral(cs, pk_r, sk_s, ikm_e.as_bytes())?
        }
        Ephemeral::Ikm(ikm_e) => encap_with_ephemeral(cs, pk_r, sk_s, ikm_e)?,
    };
    let mode = mode_for(psk, sk_s.is_some());
    let ctx = key_schedule(cs, mode, shared_secret.as_bytes(), info, psk)?;
    Ok((enc, SenderContext(ctx)))
}

/// Generic recipient setup (`SetupBaseR`, `SetupPSKR`, `SetupAuthR`, `SetupAuthPSKR`,
/// RFC 9180 §5.1.1–§5.1.4). The mode follows from which of `psk` and `pk_s` are given.
pub fn setup_receiver<'a>(
    cs: &'a dyn CipherSuiteProvider,
    enc: &[u8],
    sk_r: &[u8],
    info: &[u8],
    psk: Option<Psk<'_>>,
    pk_s: Option<&[u8]>,
) -> Result<ReceiverContext<'a>, CryptoError> {
    verify_psk_inputs(psk)?;
    let shared_secret = decap_inner(cs, enc, sk_r, pk_s)?;
    let mode = mode_for(psk, pk_s.is_some());
    let ctx = key_schedule(cs, mode, shared_secret.as_bytes(), info, psk)?;
    Ok(ReceiverContext(ctx))
}

/// `SetupBaseS(pkR, info)` (RFC 9180 §5.1.1): returns `(enc, context)`.
pub fn setup_base_s<'a>(
    cs: &'a dyn CipherSuiteProvider,
    pk_r: &[u8],
    info: &[u8],
    rng: &mut dyn CryptoRandom,
) -> Result<(Vec<u8>, SenderContext<'a>), CryptoError> {
    setup_sender(cs, pk_r, info, None, None, Ephemeral::Random(rng))
}

/// `SetupBaseR(enc, skR, info)` (RFC 9180 §5.1.1).
pub fn setup_base_r<'a>(
    cs: &'a dyn CipherSuiteProvider,
    enc: &[u8],
    sk_r: &[u8],
    info: &[u8],
) -> Result<ReceiverContext<'a>, CryptoError> {
    setup_receiver(cs, enc, sk_r, info, None, None)
}

/// `SetupPSKS(pkR, info, psk, psk_id)` (RFC 9180 §5.1.2): returns `(enc, context)`.
pub fn setup_psk_s<'a>(
    cs: &'a dyn CipherSuiteProvider,
    pk_r: &[u8],
    info: &[u8],
    psk: Psk<'_>,
    rng: &mut dyn CryptoRandom,
) -> Result<(Vec<u8>, SenderContext<'a>), CryptoError> {
    setup_sender(cs, pk_r, info, Some(psk), None, Ephemeral::Random(rng))
}

/// `SetupPSKR(enc, skR, info, psk, psk_id)` (RFC 9180 §5.1.2).
pub fn setup_psk_r<'a>(
    cs: &'a dyn CipherSuiteProvider,
    enc: &[u8],
    sk_r: &[u8],
    info: &[u8],
    psk: Psk<'_>,
) -> Result<ReceiverContext<'a>, CryptoError> {
    setup_receiver(cs, enc, sk_r, info, Some(psk), None)
}

// ---- single-shot APIs (RFC 9180 §6) --------------------------------------------------------

/// `SealBase(pkR, info, aad, pt)` (RFC 9180 §6.1): returns `(enc, ct)`.
pub fn seal_base(
    cs: &dyn CipherSuiteProvider,
    pk_r: &[u8],
    info: &[u8],
    aad: &[u8],
    pt: &[u8],
    rng: &mut dyn CryptoRandom,
) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
    seal(cs, pk_r, info, aad, pt, None, Ephemeral::Random(rng))
}

/// `OpenBase(enc, skR, info, aad, ct)` (RFC 9180 §6.1).
pub fn open_base(
    cs: &dyn CipherSuiteProvider,
    enc: &[u8],
    sk_r: &[u8],
    info: &[u8],
    aad: &[u8],
    ct: &[u8],
) -> Result<Secret, CryptoError> {
    setup_base_r(cs, enc, sk_r, info)?.open(aad, ct)
}

/// `SealPSK(pkR, info, aad, pt, psk, psk_id)` (RFC 9180 §6.1): returns `(enc, ct)`.
pub fn seal_psk(
    cs: &dyn CipherSuiteProvider,
    pk_r: &[u8],
    info: &[u8],
    aad: &[u8],
    pt: &[u8],
    psk: Psk<'_>,
    rng: &mut dyn CryptoRandom,
) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
    seal(cs, pk_r, info, aad, pt, Some(psk), Ephemeral::Random(rng))
}

/// `OpenPSK(enc, skR, info, aad, ct, psk, psk_id)` (RFC 9180 §6.1).
pub fn open_psk(
    cs: &dyn CipherSuiteProvider,
    enc: &[u8],
    sk_r: &[u8],
    info: &[u8],
    aad: &[u8],
    ct: &[u8],
    psk: Psk<'_>,
) -> Result<Secret, CryptoError> {
    setup_psk_r(cs, enc, sk_r, info, psk)?.open(aad, ct)
}

/// Single-shot `Seal<MODE>` in base or PSK mode with an explicit ephemeral source
/// (RFC 9180 §6.1): returns `(enc, ct)`. With [`Ephemeral::Ikm`] the result is
/// deterministic.
pub fn seal(
    cs: &dyn CipherSuiteProvider,
    pk_r: &[u8],
    info: &[u8],
    aad: &[u8],
    pt: &[u8],
    psk: Option<Psk<'_>>,
    ephemeral: Ephemeral<'_>,
) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
    let (enc, mut ctx) = setup_sender(cs, pk_r, info, psk, None, ephemeral)?;
    let ct = ctx.seal(aad, pt)?;
    Ok((enc, ct))
}

/// `SealBase` with a precomputed info hash: the same result as [`seal_base`] with the
/// `info` that `info_hash` was computed from, without re-hashing `info` per recipient.
pub fn seal_base_with_info_hash(
    cs: &dyn CipherSuiteProvider,
    pk_r: &[u8],
    info_hash: &InfoHash,
    aad: &[u8],
    pt: &[u8],
    rng: &mut dyn CryptoRandom,
) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
    let ikm_e = random_ikm(cs, rng)?;
    let (shared_secret, enc) = encap_with_ephemeral(cs, pk_r, None, ikm_e.as_bytes())?;
    let ctx =
        key_schedule_with_info_hash(cs, Mode::Base, shared_secret.as_bytes(), info_hash, None)?;
    let mut ctx = SenderContext(ctx);
    let ct = ctx.seal(aad, pt)?;
    Ok((enc, ct))
}

/// `SendExportBase(pkR, info, exporter_context, L)` (RFC 9180 §6.2): returns
/// `(enc, exported)`.
pub fn send_export_base(
    cs: &dyn CipherSuiteProvider,
    pk_r: &[u8],
    info: &[u8],
    exporter_context: &[u8],
    len: usize,
    rng: &mut dyn CryptoRandom,
) -> Result<(Vec<u8>, Secret), CryptoError> {
    let (enc, ctx) = setup_base_s(cs, pk_r, info, rng)?;
    Ok((enc, ctx.export(exporter_context, len)?))
}

/// `ReceiveExportBase(enc, skR, info, exporter_context, L)` (RFC 9180 §6.2).
pub fn receive_export_base(
    cs: &dyn CipherSuiteProvider,
    enc: &[u8],
    sk_r: &[u8],
    info: &[u8],
    exporter_context: &[u8],
    len: usize,
) -> Result<Secret, CryptoError> {
    setup_base_r(cs, enc, sk_r, info)?.export(exporter_context, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_xor_is_big_endian_and_right_aligned() {
        let base = [0u8; 12];
        assert_eq!(compute_nonce(&base, 0), vec![0; 12]);
        let n = compute_nonce(&base, 0x0102);
        assert_eq!(&n[10..], &[0x01, 0x02]);
        assert!(n[..10].iter().all(|b| *b == 0));
        let base = [0xffu8; 12];
        let n = compute_nonce(&base, 1);
        assert_eq!(n[11], 0xfe);
        // A short nonce only takes the low-order bytes of the sequence number.
        assert_eq!(compute_nonce(&[0, 0], 0x0304_0506), vec![0x05, 0x06]);
    }

    #[test]
    fn max_seq_matches_nonce_length() {
        assert_eq!(max_seq(12), (1u128 << 96) - 1);
        assert_eq!(max_seq(1), 255);
        assert_eq!(max_seq(16), u128::MAX);
        assert_eq!(max_seq(32), u128::MAX);
    }

    #[test]
    fn mode_ids_and_selection() {
        let psk = Psk {
            psk: b"k",
            psk_id: b"i",
        };
        assert_eq!(mode_for(None, false).id(), 0);
        assert_eq!(mode_for(Some(psk), false).id(), 1);
        assert_eq!(mode_for(None, true).id(), 2);
        assert_eq!(mode_for(Some(psk), true).id(), 3);
        assert!(
            verify_psk_inputs(Some(Psk {
                psk: b"",
                psk_id: b"i"
            }))
            .is_err()
        );
        assert!(
            verify_psk_inputs(Some(Psk {
                psk: b"k",
                psk_id: b""
            }))
            .is_err()
        );
    }

    #[test]
    fn suite_ids() {
        assert_eq!(
            kem_suite_id(KemAlgorithm::DhKemX25519),
            b"KEM\x00\x20".to_vec()
        );
    }
}
