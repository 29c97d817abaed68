//! Hash, HMAC and HKDF of a cipher suite (RFC 9420 §5.1: `Hash`, `MAC`, `KDF`), on the
//! RustCrypto `sha2`, `hmac` and `hkdf` crates (RFC 6234, RFC 2104, RFC 5869).

use conclave_crypto::{CryptoError, KdfAlgorithm, Secret};
use hkdf::{Hkdf, HmacImpl};
use hmac::Hmac;
use sha2::Digest;
use zeroize::{Zeroize, Zeroizing};

/// Runs `$body` with `$h` bound to the `sha2` type of the suite's hash.
macro_rules! with_hash {
    ($kdf:expr, $h:ident => $body:expr) => {
        match $kdf {
            KdfAlgorithm::HkdfSha256 => {
                type $h = sha2::Sha256;
                $body
            }
            KdfAlgorithm::HkdfSha384 => {
                type $h = sha2::Sha384;
                $body
            }
            KdfAlgorithm::HkdfSha512 => {
                type $h = sha2::Sha512;
                $body
            }
        }
    };
}

/// `Hash(data)` with the suite's hash function.
pub(crate) fn hash(kdf: KdfAlgorithm, data: &[u8]) -> Vec<u8> {
    with_hash!(kdf, H => H::digest(data).to_vec())
}

/// `Hash(parts[0] || parts[1] || ...)`, fed incrementally.
pub(crate) fn hash_parts(kdf: KdfAlgorithm, parts: &[&[u8]]) -> Vec<u8> {
    with_hash!(kdf, H => {
        let mut hasher = H::new();
        for part in parts {
            hasher.update(part);
        }
        hasher.finalize().to_vec()
    })
}

/// `MAC(key, data)`: HMAC (RFC 2104) with the suite's hash (RFC 9420 §5.1).
///
/// HMAC accepts keys of any length, so this cannot fail.
pub(crate) fn mac(kdf: KdfAlgorithm, key: &[u8], data: &[u8]) -> Vec<u8> {
    with_hash!(kdf, H => {
        let mut state = <Hmac<H> as HmacImpl>::new_from_slice(key);
        HmacImpl::update(&mut state, data);
        HmacImpl::finalize(state).to_vec()
    })
}

/// `HKDF-Extract(salt, ikm)` (RFC 5869 §2.2).
pub(crate) fn extract(kdf: KdfAlgorithm, salt: &[u8], ikm: &[u8]) -> Secret {
    with_hash!(kdf, H => {
        let (mut prk, _) = Hkdf::<H>::extract(Some(salt), ikm);
        let out = Secret::from_slice(prk.as_slice());
        prk.as_mut_slice().zeroize();
        out
    })
}

/// `HKDF-Expand(prk, info, len)` (RFC 5869 §2.3): `len` must be at most `255 * Nh` and
/// `prk` at least `Nh` bytes long.
pub(crate) fn expand(
    kdf: KdfAlgorithm,
    prk: &[u8],
    info: &[u8],
    len: usize,
) -> Result<Secret, CryptoError> {
    let max = kdf.hash_len().saturating_mul(255);
    if len > max {
        return Err(CryptoError::InvalidLength {
            what: "HKDF-Expand output",
            len,
        });
    }
    let mut okm = Zeroizing::new(vec![0u8; len]);
    with_hash!(kdf, H => {
        let hk = Hkdf::<H>::from_prk(prk)
            .map_err(|_| CryptoError::InvalidLength { what: "HKDF-Expand PRK", len: prk.len() })?;
        hk.expand(info, okm.as_mut_slice())
            .map_err(|_| CryptoError::InvalidLength { what: "HKDF-Expand output", len })?;
    });
    Ok(Secret::new(core::mem::take(&mut *okm)))
}
