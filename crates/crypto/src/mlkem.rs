//! ML-KEM-768 and ML-KEM-1024 (FIPS 203) on RustCrypto's `ml-kem`, for the post-quantum
//! KEMs that [`crate::hpke`] builds (draft-ietf-mls-pq-ciphersuites §2): what both of our
//! providers answer their `ml_kem_*` methods with (feature `ml-kem`). aws-lc-rs 1.18 offers
//! ML-KEM only with randomized encapsulation and expanded decapsulation keys, while HPKE
//! (draft-ietf-hpke-pq §3) stores the seed and our `Encap` takes its randomness from the
//! injected source.
//!
//! Decapsulation keys are kept as their 64-byte seed `d || z` (FIPS 203 §7.1) and expanded
//! on use. `ml-kem` decapsulates in constant time with implicit rejection (FIPS 203 §6.3)
//! and checks encapsulation keys on decoding (the FIPS 203 §7.2 modulus check).

use crate::{CryptoError, MlKemParams, Secret};
use ml_kem::{Decapsulate as _, KeyExport as _};
use zeroize::Zeroizing;

fn seed(bytes: &[u8]) -> Result<Zeroizing<ml_kem::Seed>, CryptoError> {
    ml_kem::Seed::try_from(bytes)
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::InvalidKey {
            kind: "ML-KEM secret",
            reason: "expected the 64-byte seed d || z",
        })
}

fn randomness(bytes: &[u8]) -> Result<ml_kem::B32, CryptoError> {
    ml_kem::B32::try_from(bytes).map_err(|_| CryptoError::InvalidLength {
        what: "ML-KEM encapsulation randomness",
        len: bytes.len(),
    })
}

const BAD_EK: CryptoError = CryptoError::InvalidKey {
    kind: "ML-KEM encapsulation",
    reason: "wrong length or coefficients not reduced modulo q (FIPS 203 §7.2)",
};

macro_rules! level {
    ($name:ident, $module:ident) => {
        mod $name {
            use super::*;
            use ml_kem::$module::{DecapsulationKey, EncapsulationKey};

            pub(super) fn public_key(seed_bytes: &[u8]) -> Result<Vec<u8>, CryptoError> {
                let dk = DecapsulationKey::from_seed(*seed(seed_bytes)?);
                Ok(dk.encapsulation_key().to_bytes().to_vec())
            }

            pub(super) fn encap(ek: &[u8], m: &[u8]) -> Result<(Secret, Vec<u8>), CryptoError> {
                let key = ek.try_into().map_err(|_| BAD_EK)?;
                let ek = EncapsulationKey::new(&key).map_err(|_| BAD_EK)?;
                let (ct, ss) = ek.encapsulate_deterministic(&randomness(m)?);
                Ok((Secret::new(ss.to_vec()), ct.to_vec()))
            }

            pub(super) fn decap(seed_bytes: &[u8], ct: &[u8]) -> Result<Secret, CryptoError> {
                let dk = DecapsulationKey::from_seed(*seed(seed_bytes)?);
                let ss = dk
                    .decapsulate_slice(ct)
                    .map_err(|_| CryptoError::InvalidLength {
                        what: "ML-KEM ciphertext",
                        len: ct.len(),
                    })?;
                Ok(Secret::new(ss.to_vec()))
            }
        }
    };
}

level!(l768, ml_kem_768);
level!(l1024, ml_kem_1024);

/// `ML-KEM.KeyGen_internal(d, z)`'s encapsulation key (FIPS 203 §6.1).
pub fn public_key(params: MlKemParams, seed: &[u8]) -> Result<Vec<u8>, CryptoError> {
    match params {
        MlKemParams::MlKem768 => l768::public_key(seed),
        MlKemParams::MlKem1024 => l1024::public_key(seed),
    }
}

/// `ML-KEM.Encaps_internal(ek, m)` (FIPS 203 §6.2) after the §7.2 input check: the shared
/// secret and the ciphertext.
pub fn encap(params: MlKemParams, ek: &[u8], m: &[u8]) -> Result<(Secret, Vec<u8>), CryptoError> {
    match params {
        MlKemParams::MlKem768 => l768::encap(ek, m),
        MlKemParams::MlKem1024 => l1024::encap(ek, m),
    }
}

/// `ML-KEM.Decaps_internal(dk, c)` (FIPS 203 §6.3) with `dk` from its seed.
pub fn decap(params: MlKemParams, seed: &[u8], ct: &[u8]) -> Result<Secret, CryptoError> {
    match params {
        MlKemParams::MlKem768 => l768::decap(seed, ct),
        MlKemParams::MlKem1024 => l1024::decap(seed, ct),
    }
}
