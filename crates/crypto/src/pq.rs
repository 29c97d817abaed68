//! The post-quantum KEMs of draft-ietf-mls-pq-ciphersuites §2 as HPKE KEMs: ML-KEM-768 and
//! ML-KEM-1024 (FIPS 203) and the hybrids MLKEM768-X25519 (X-Wing), MLKEM768-P256 and
//! MLKEM1024-P384, with the HPKE integration of draft-ietf-hpke-pq.
//!
//! - **DeriveKeyPair** (draft-ietf-hpke-pq §3, with the one-stage `LabeledDerive` of
//!   draft-ietf-hpke-hpke §4): `sk = SHAKE256(ikm || "HPKE-v1" || suite_id ||
//!   I2OSP(len(label), 2) || label || I2OSP(Nsk, 2) || context, Nsk)` with the label
//!   `"DeriveKeyPair"` and an empty context. The private key is that seed: `d || z` (64
//!   bytes) for ML-KEM, a 32-byte seed for the hybrids. Under OpenMLS 0.9.2's values
//!   ([`PqHpke::OpenMls09`]) it is `sk = SHAKE256(ikm, Nsk)` instead; nothing else
//!   differs.
//! - **Hybrid key expansion** (draft-irtf-cfrg-hybrid-kems, QSF construction; X-Wing is the
//!   X25519 instance, draft-connolly-cfrg-xwing-kem §5.2): `SHAKE256(seed, 64 + Nseed_T)`
//!   gives the ML-KEM seed, then the traditional seed, from which the DH secret key is the
//!   first valid `Nsk`-byte big-endian chunk (X25519: the 32 bytes as they are; P-256:
//!   128 bytes, four chunks; P-384: 48 bytes, one chunk).
//! - **Hybrid shared secret** (the C2PRI combiner): `SHA3-256(ss_PQ || ss_T || ct_T ||
//!   ek_T || label)`, with the label `\.//^\` for X-Wing, `MLKEM768-P256` and
//!   `MLKEM1024-P384` for the others. `enc = ct_PQ || ct_T`, `pk = ek_PQ || ek_T`.
//! - **Encap randomness**: the ML-KEM `m` (32 bytes), followed for hybrids by the ephemeral
//!   DH secret key's seed, sampled as above (32 bytes for X25519, 96 for P-256, 48 for
//!   P-384).
//!
//! ML-KEM itself is the provider's ([`CipherSuiteProvider::ml_kem_public_key`] and friends),
//! as is the Diffie-Hellman half ([`CipherSuiteProvider::dh`] on the suite's
//! [`KemAlgorithm::dh_group`]). SHAKE256 and SHA3-256 are the `shake` and `sha3` crates.

use sha3::Digest as _;
use shake::{ExtendableOutput as _, Update as _, XofReader as _};
use zeroize::Zeroizing;

use crate::hpke::{HpkeKeyPair, kem_suite_id};
use crate::{CipherSuiteProvider, CryptoError, KemAlgorithm, MlKemParams, PqHpke, Secret};

/// The HPKE version label (draft-ietf-hpke-hpke §4).
const HPKE_VERSION_LABEL: &[u8] = b"HPKE-v1";

/// `SHAKE256(data, len)` (FIPS 202 §6.2).
fn shake256(parts: &[&[u8]], len: usize) -> Zeroizing<Vec<u8>> {
    let mut hasher = shake::Shake256::default();
    for part in parts {
        hasher.update(part);
    }
    let mut out = Zeroizing::new(vec![0u8; len]);
    hasher.finalize_xof().read(&mut out);
    out
}

/// The ML-KEM part of a KEM this module handles.
fn ml_kem_of(kem: KemAlgorithm) -> Result<MlKemParams, CryptoError> {
    kem.ml_kem()
        .ok_or(CryptoError::Backend("not a post-quantum KEM"))
}

/// The traditional half of a hybrid: its DH group, seed length at key generation and
/// randomness length at encapsulation, and the combiner label.
struct Traditional {
    seed_len: usize,
    encap_randomness_len: usize,
    label: &'static [u8],
}

/// draft-irtf-cfrg-hybrid-kems (QSF instances) and draft-connolly-cfrg-xwing-kem §5.
fn traditional(kem: KemAlgorithm) -> Option<Traditional> {
    match kem {
        KemAlgorithm::MlKem768X25519(_) => Some(Traditional {
            seed_len: 32,
            encap_randomness_len: 32,
            label: b"\\.//^\\",
        }),
        KemAlgorithm::MlKem768P256 => Some(Traditional {
            seed_len: 128,
            encap_randomness_len: 96,
            label: b"MLKEM768-P256",
        }),
        KemAlgorithm::MlKem1024P384 => Some(Traditional {
            seed_len: 48,
            encap_randomness_len: 48,
            label: b"MLKEM1024-P384",
        }),
        _ => None,
    }
}

/// How many random bytes `Encap` consumes for `kem`.
pub(crate) fn encap_randomness_len(kem: KemAlgorithm) -> usize {
    MlKemParams::ENCAPS_RANDOMNESS_LEN + traditional(kem).map_or(0, |t| t.encap_randomness_len)
}

/// `LabeledDerive(ikm, "DeriveKeyPair", "", Nsk)` (draft-ietf-hpke-pq §3,
/// draft-ietf-hpke-hpke §4 one-stage KDF with SHAKE256).
fn labeled_derive_secret_key(kem: KemAlgorithm, ikm: &[u8]) -> Result<Secret, CryptoError> {
    let label: &[u8] = b"DeriveKeyPair";
    let nsk = kem.secret_key_len();
    let label_len = u16::try_from(label.len()).map_err(|_| CryptoError::Backend("label"))?;
    let out_len = u16::try_from(nsk).map_err(|_| CryptoError::Backend("Nsk"))?;
    let suite_id = kem_suite_id(kem);
    let out = shake256(
        &[
            ikm,
            HPKE_VERSION_LABEL,
            &suite_id,
            &label_len.to_be_bytes(),
            label,
            &out_len.to_be_bytes(),
        ],
        nsk,
    );
    Ok(Secret::new(out.to_vec()))
}

/// The first `dh_sk_len`-byte chunk of `seed` that is a valid DH secret key of the group
/// (rejection sampling, draft-irtf-cfrg-hybrid-kems `RandomScalar`).
fn random_scalar(cs: &dyn CipherSuiteProvider, seed: &[u8]) -> Result<Secret, CryptoError> {
    let group = cs
        .kem()
        .dh_group()
        .ok_or(CryptoError::Backend("no DH group"))?;
    seed.chunks_exact(group.secret_key_len())
        .find(|candidate| cs.dh_secret_key_is_valid(candidate))
        .map(|candidate| Secret::new(candidate.to_vec()))
        .ok_or(CryptoError::DeriveKeyPairError)
}

/// A hybrid's expanded private key: the ML-KEM seed and the DH secret key.
struct ExpandedHybridKey {
    ml_kem_seed: Zeroizing<Vec<u8>>,
    dh_secret: Secret,
}

/// `expand_decaps_key(seed)` of a hybrid (draft-irtf-cfrg-hybrid-kems; X-Wing:
/// draft-connolly-cfrg-xwing-kem §5.2).
fn expand_hybrid_key(
    cs: &dyn CipherSuiteProvider,
    trad: &Traditional,
    seed: &[u8],
) -> Result<ExpandedHybridKey, CryptoError> {
    if seed.len() != cs.kem().secret_key_len() {
        return Err(CryptoError::InvalidLength {
            what: "hybrid KEM secret key",
            len: seed.len(),
        });
    }
    let full = shake256(&[seed], MlKemParams::SEED_LEN + trad.seed_len);
    let (ml_kem_seed, dh_seed) = full
        .split_at_checked(MlKemParams::SEED_LEN)
        .ok_or(CryptoError::Backend("seed expansion"))?;
    Ok(ExpandedHybridKey {
        ml_kem_seed: Zeroizing::new(ml_kem_seed.to_vec()),
        dh_secret: random_scalar(cs, dh_seed)?,
    })
}

/// The C2PRI combiner: `SHA3-256(ss_PQ || ss_T || ct_T || ek_T || label)`.
fn combine(ss_pq: &Secret, ss_t: &Secret, ct_t: &[u8], ek_t: &[u8], label: &[u8]) -> Secret {
    let mut hasher = sha3::Sha3_256::new();
    for part in [ss_pq.as_bytes(), ss_t.as_bytes(), ct_t, ek_t, label] {
        sha3::Digest::update(&mut hasher, part);
    }
    Secret::new(hasher.finalize().to_vec())
}

/// The public key of a serialized private key (the seed).
pub(crate) fn public_key(cs: &dyn CipherSuiteProvider, sk: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let kem = cs.kem();
    let params = ml_kem_of(kem)?;
    match traditional(kem) {
        None => {
            if sk.len() != MlKemParams::SEED_LEN {
                return Err(CryptoError::InvalidLength {
                    what: "ML-KEM secret key",
                    len: sk.len(),
                });
            }
            cs.ml_kem_public_key(params, sk)
        }
        Some(trad) => {
            let expanded = expand_hybrid_key(cs, &trad, sk)?;
            let mut pk = cs.ml_kem_public_key(params, &expanded.ml_kem_seed)?;
            pk.extend_from_slice(&cs.dh_public_key(expanded.dh_secret.as_bytes())?);
            Ok(pk)
        }
    }
}

/// `DeriveKeyPair(ikm)`: draft-ietf-hpke-pq §3 for [`PqHpke::Draft`]; for
/// [`PqHpke::OpenMls09`], `SHAKE256(ikm, Nsk)` without label, as OpenMLS 0.9.2 derives
/// (the rest — seed expansion, public key — is the same).
pub(crate) fn derive_key_pair(
    cs: &dyn CipherSuiteProvider,
    ikm: &[u8],
) -> Result<HpkeKeyPair, CryptoError> {
    let kem = cs.kem();
    let secret_key = match kem.pq_hpke() {
        Some(PqHpke::OpenMls09) => Secret::new(shake256(&[ikm], kem.secret_key_len()).to_vec()),
        _ => labeled_derive_secret_key(kem, ikm)?,
    };
    let public_key = public_key(cs, secret_key.as_bytes())?;
    Ok(HpkeKeyPair {
        secret_key,
        public_key,
    })
}

/// `Encap(pkR)` with explicit randomness ([`encap_randomness_len`] bytes): `(ss, enc)`.
pub(crate) fn encap(
    cs: &dyn CipherSuiteProvider,
    pk_r: &[u8],
    randomness: &[u8],
) -> Result<(Secret, Vec<u8>), CryptoError> {
    let kem = cs.kem();
    let params = ml_kem_of(kem)?;
    check_len("HPKE recipient public key", pk_r, kem.public_key_len())?;
    check_len(
        "KEM encapsulation randomness",
        randomness,
        encap_randomness_len(kem),
    )?;
    let (m, rand_t) = randomness
        .split_at_checked(MlKemParams::ENCAPS_RANDOMNESS_LEN)
        .ok_or(CryptoError::Backend("randomness"))?;
    match traditional(kem) {
        None => cs.ml_kem_encap(params, pk_r, m),
        Some(trad) => {
            let (ek_pq, ek_t) = pk_r
                .split_at_checked(params.encapsulation_key_len())
                .ok_or(CryptoError::Backend("public key split"))?;
            let (ss_pq, mut enc) = cs.ml_kem_encap(params, ek_pq, m)?;
            let sk_e = random_scalar(cs, rand_t)?;
            let (ss_t, ct_t) = cs.dh_with_public_key(sk_e.as_bytes(), ek_t)?;
            let ss = combine(&ss_pq, &ss_t, &ct_t, ek_t, trad.label);
            enc.extend_from_slice(&ct_t);
            Ok((ss, enc))
        }
    }
}

/// `Decap(enc, skR)` (draft-ietf-hpke-pq §3; hybrids: draft-irtf-cfrg-hybrid-kems).
pub(crate) fn decap(
    cs: &dyn CipherSuiteProvider,
    enc: &[u8],
    sk_r: &[u8],
) -> Result<Secret, CryptoError> {
    let kem = cs.kem();
    let params = ml_kem_of(kem)?;
    check_len("HPKE encapsulated key", enc, kem.enc_len())?;
    check_len("HPKE recipient secret key", sk_r, kem.secret_key_len())?;
    match traditional(kem) {
        None => cs.ml_kem_decap(params, sk_r, enc),
        Some(trad) => {
            let expanded = expand_hybrid_key(cs, &trad, sk_r)?;
            let (ct_pq, ct_t) = enc
                .split_at_checked(params.ciphertext_len())
                .ok_or(CryptoError::Backend("ciphertext split"))?;
            let ss_pq = cs.ml_kem_decap(params, &expanded.ml_kem_seed, ct_pq)?;
            let (ss_t, ek_t) = cs.dh_with_public_key(expanded.dh_secret.as_bytes(), ct_t)?;
            Ok(combine(&ss_pq, &ss_t, ct_t, &ek_t, trad.label))
        }
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
