//! Batch verification of Ed25519 signatures (RFC 8032 §5.1.7).
//!
//! Joining a group of n members checks n leaf signatures (RFC 9420 §7.3, §12.4.3.1), and a
//! commit adding n members checks 2n KeyPackage and leaf signatures (§10.1). One by one that
//! is n double-scalar multiplications; as a batch it is one multi-scalar multiplication of
//! at most 2n + 1 points, several times cheaper per signature for large n.
//!
//! For signatures `(R_i, s_i)` by keys `A_i` on messages `M_i`, with `k_i = SHA-512(R_i ||
//! A_i || M_i)`, the batch holds if
//!
//! ```text
//! [8] ( [Σ z_i s_i] B − Σ [z_i] R_i − Σ [z_i k_i] A_i ) = 0
//! ```
//!
//! for coefficients `z_i` of 128 bits. They are derived from a hash of every `k_i` and `s_i`
//! (no random source: the crate stays sans-IO), so a signer cannot choose its signature
//! after seeing them. This is the *cofactored* equation, which RFC 8032 §5.1.7 allows ("It's
//! sufficient, but not required, to instead check [S]B = R + [k]A'"): every signature valid
//! under the cofactorless check also passes, and a signature that passes but fails a
//! cofactorless check must have been built with a small-order component by the holder of
//! the signing key itself. Callers that must name the failing signature verify one by one
//! after a failed batch.
//!
//! Signatures by the same key share its point: its coefficients are summed (`Σ [z_i k_i] A`
//! over the signatures by `A`), so the key is decoded once and enters the multi-scalar
//! multiplication once. A backlog of application messages from one sender is then a
//! multiplication of n + 2 points instead of 2n + 1, and an add's KeyPackage and leaf
//! signatures (one key each) of 3n + 1 instead of 4n + 1.
//!
//! Decoding follows RFC 8032 §5.1.3 and §5.1.7: a point encoding with `y >= p` or no square
//! root is rejected, and so is `s >= L`.

#![forbid(unsafe_code)]

use std::collections::HashMap;

use conclave_crypto::{CryptoError, SignatureToVerify};
use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use sha2::{Digest, Sha512};

/// Length of an Ed25519 public key.
pub const PUBLIC_KEY_LEN: usize = 32;
/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// Why a batch did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// Signature `index` has a malformed key, `R` or `s` (RFC 8032 §5.1.7 step 1).
    #[error("signature {index} is malformed (key or signature encoding, RFC 8032 §5.1.7)")]
    Malformed {
        /// Position of the signature in the batch.
        index: usize,
    },
    /// The batch equation does not hold: at least one signature is invalid.
    #[error("the batch of Ed25519 signatures does not verify (RFC 8032 §5.1.7)")]
    Invalid,
}

/// Below this many signatures a batch is not cheaper than checking one by one.
pub const MIN_BATCH: usize = 4;

/// [`CipherSuiteProvider::verify_all`](conclave_crypto::CipherSuiteProvider::verify_all)
/// for a provider: for Ed25519 (`ed25519`) one batch from [`MIN_BATCH`] signatures on,
/// otherwise `single` for each signature.
pub fn verify_all(
    signatures: &[SignatureToVerify<'_>],
    ed25519: bool,
    single: impl Fn(&SignatureToVerify<'_>) -> Result<(), CryptoError>,
) -> Result<(), CryptoError> {
    if !ed25519 || signatures.len() < MIN_BATCH {
        return signatures.iter().try_for_each(single);
    }
    verify_batch(signatures).map_err(|_| CryptoError::InvalidSignature)
}

/// Domain separation of the coefficient derivation.
const COEFFICIENT_LABEL: &[u8] = b"conclave ed25519 batch coefficients v1";

/// Verifies every signature of `items` at once (see the crate documentation for the
/// equation). `Ok` for an empty batch.
pub fn verify_batch(items: &[SignatureToVerify<'_>]) -> Result<(), BatchError> {
    let count = items.len();
    if count == 0 {
        return Ok(());
    }
    let mut r_points = Vec::with_capacity(count);
    // The distinct keys, each decoded once, and for each signature the index of its key.
    let mut keys: HashMap<[u8; PUBLIC_KEY_LEN], usize> = HashMap::new();
    let mut a_points = Vec::new();
    let mut key_of = Vec::with_capacity(count);
    let mut s_scalars = Vec::with_capacity(count);
    let mut k_scalars = Vec::with_capacity(count);
    let mut transcript = Sha512::new();
    transcript.update(COEFFICIENT_LABEL);
    transcript.update((count as u64).to_le_bytes());
    for (index, item) in items.iter().enumerate() {
        let malformed = BatchError::Malformed { index };
        let public_key: &[u8; PUBLIC_KEY_LEN] =
            item.public_key.try_into().map_err(|_| malformed)?;
        let signature: &[u8; SIGNATURE_LEN] = item.signature.try_into().map_err(|_| malformed)?;
        let (r_bytes, s_bytes) = signature.split_at(32);
        let r_bytes: [u8; 32] = r_bytes.try_into().map_err(|_| malformed)?;
        let s_bytes: [u8; 32] = s_bytes.try_into().map_err(|_| malformed)?;
        let key = match keys.get(public_key) {
            Some(key) => *key,
            None => {
                a_points.push(decode_point(public_key).ok_or(malformed)?);
                let key = a_points.len() - 1;
                keys.insert(*public_key, key);
                key
            }
        };
        let r = decode_point(&r_bytes).ok_or(malformed)?;
        let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes)).ok_or(malformed)?;
        let mut hasher = Sha512::new();
        hasher.update(r_bytes);
        hasher.update(public_key);
        hasher.update(item.message);
        let k_wide: [u8; 64] = hasher.finalize().into();
        transcript.update(k_wide);
        transcript.update(s_bytes);
        r_points.push(r);
        key_of.push(key);
        s_scalars.push(s);
        k_scalars.push(Scalar::from_bytes_mod_order_wide(&k_wide));
    }
    let seed: [u8; 64] = transcript.finalize().into();
    let coefficients = coefficients(&seed, count);

    let b_coefficient: Scalar = coefficients
        .iter()
        .zip(&s_scalars)
        .map(|(z, s)| z * s)
        .sum();
    // Σ z_i k_i per key.
    let mut a_coefficients = vec![Scalar::ZERO; a_points.len()];
    for ((z, k), key) in coefficients.iter().zip(&k_scalars).zip(&key_of) {
        if let Some(sum) = a_coefficients.get_mut(*key) {
            *sum += z * k;
        }
    }
    let scalars = core::iter::once(b_coefficient)
        .chain(coefficients.iter().map(|z| -z))
        .chain(a_coefficients.iter().map(|c| -c));
    let points = core::iter::once(ED25519_BASEPOINT_POINT)
        .chain(r_points)
        .chain(a_points);
    let sum = EdwardsPoint::vartime_multiscalar_mul(scalars, points);
    if sum.mul_by_cofactor().is_identity() {
        Ok(())
    } else {
        Err(BatchError::Invalid)
    }
}

/// `count` coefficients of 128 bits, four per SHA-512 output of `seed || block`.
fn coefficients(seed: &[u8; 64], count: usize) -> Vec<Scalar> {
    let mut out = Vec::with_capacity(count);
    let mut block = 0u64;
    while out.len() < count {
        let mut hasher = Sha512::new();
        hasher.update(seed);
        hasher.update(block.to_le_bytes());
        let bytes: [u8; 64] = hasher.finalize().into();
        for chunk in bytes.chunks_exact(16) {
            if out.len() == count {
                break;
            }
            let mut wide = [0u8; 32];
            if let Some(low) = wide.get_mut(..16) {
                low.copy_from_slice(chunk);
            }
            out.push(Scalar::from_bytes_mod_order(wide));
        }
        block = block.wrapping_add(1);
    }
    out
}

/// Decodes a point (RFC 8032 §5.1.3), refusing non-canonical encodings of `y` (`y >= p`),
/// which the decompression alone would reduce.
fn decode_point(bytes: &[u8; 32]) -> Option<EdwardsPoint> {
    if !y_is_canonical(bytes) {
        return None;
    }
    CompressedEdwardsY(*bytes).decompress()
}

/// `y < p = 2^255 − 19`, with `y` the encoding without its sign bit (little-endian).
fn y_is_canonical(bytes: &[u8; 32]) -> bool {
    // y >= p only if y is one of 2^255 − 19 .. 2^255 − 1: bytes 1..=30 all 0xff, the top
    // byte 0x7f without the sign bit, and the low byte at least 0xed.
    let [low, middle @ .., top] = bytes;
    !(*top & 0x7f == 0x7f && middle.iter().all(|b| *b == 0xff) && *low >= 0xed)
}

#[cfg(test)]
mod tests;
