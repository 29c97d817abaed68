//! X25519 and X448 (RFC 7748 §5) for DHKEM (RFC 9180 §4.1, §7.1), on the RustCrypto
//! `x25519-dalek` and `x448` crates; an X25519 whose peer key is on the curve (every honest
//! one) goes through `curve25519-dalek`'s Edwards arithmetic instead of the ladder
//! (`x25519::on_curve`: the same bytes, about a quarter faster with its AVX2 backend).
//!
//! Keys are the raw 32/56-byte strings of RFC 7748; any such string is a valid secret key
//! (it is clamped when used). The DH output is checked against the all-zero value
//! (RFC 7748 §6, RFC 9180 §7.1.4), which rejects small-order peer keys.

use conclave_crypto::{CryptoError, Secret, ct_eq};
use zeroize::Zeroizing;

/// Copies a key of exactly `N` bytes into a (zeroized-on-drop) array.
fn key_array<const N: usize>(
    bytes: &[u8],
    kind: &'static str,
) -> Result<Zeroizing<[u8; N]>, CryptoError> {
    <[u8; N]>::try_from(bytes)
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::InvalidKey {
            kind,
            reason: "wrong length",
        })
}

/// Rejects the all-zero shared secret (constant time).
fn reject_zero<const N: usize>(
    out: Zeroizing<[u8; N]>,
    what: &'static str,
) -> Result<Secret, CryptoError> {
    if ct_eq(out.as_slice(), &[0u8; N]) {
        return Err(CryptoError::DhFailed(what));
    }
    Ok(Secret::from_slice(out.as_slice()))
}

/// X25519 (suites 1 and 3).
pub(crate) mod x25519 {
    use super::{CryptoError, Secret, Zeroizing, key_array, reject_zero};
    use x25519_dalek::{PublicKey, StaticSecret, x25519};

    /// `Nsk` = `Npk` = 32.
    const N: usize = 32;

    /// Any 32 bytes are a valid X25519 secret key.
    pub(crate) fn dh_secret_key_is_valid(sk: &[u8]) -> bool {
        sk.len() == N
    }

    /// `X25519(sk, 9)`, computed with the fixed-base table (several times faster than a
    /// ladder on the base point; every HPKE encapsulation needs one).
    pub(crate) fn dh_public_key(sk: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let sk = key_array::<N>(sk, "DH secret")?;
        let secret = StaticSecret::from(*sk);
        Ok(PublicKey::from(&secret).as_bytes().to_vec())
    }

    /// `X25519(sk, pk)`, rejecting the all-zero output.
    pub(crate) fn dh(sk: &[u8], pk: &[u8]) -> Result<Secret, CryptoError> {
        let sk = key_array::<N>(sk, "DH secret")?;
        let pk = <[u8; N]>::try_from(pk)
            .map_err(|_| CryptoError::DhFailed("X25519 public key has the wrong length"))?;
        let out = match on_curve(&sk, &pk) {
            Some(out) => out,
            None => Zeroizing::new(x25519(*sk, pk)),
        };
        reject_zero(out, "all-zero X25519 output")
    }

    /// `X25519(k, u)` (RFC 7748 §5) through the birationally equivalent Edwards curve
    /// (RFC 7748 §4.1), for a `u` on the curve; `None` for a `u` on the twist (or `u = −1`,
    /// which has no Edwards image), which the Montgomery ladder then handles.
    ///
    /// Why it is the same function: the clamped scalar is `k = 8·k'`, so
    /// `[k]P = [k']([8]P)`; `[8]P` lies in the prime-order subgroup, where `k'` may be
    /// reduced mod ℓ; the u-coordinate of a point does not depend on the sign of its
    /// Edwards x, so either preimage of `u` serves; the identity maps to `u = 0`, as the
    /// ladder's output for a small-order `P`. `u` is decoded as RFC 7748 §5 says (top bit
    /// masked, reduced mod p), and the output is canonical. The scalar multiplication is
    /// constant-time; the branch depends on the public `u` only.
    fn on_curve(k: &[u8; N], u: &[u8; N]) -> Option<Zeroizing<[u8; N]>> {
        use curve25519_dalek::montgomery::MontgomeryPoint;
        use curve25519_dalek::scalar::Scalar;
        let point = MontgomeryPoint(*u).to_edwards(0)?;
        let mut clamped = Zeroizing::new(*k);
        if let Some(low) = clamped.first_mut() {
            *low &= 0xf8;
        }
        if let Some(high) = clamped.last_mut() {
            *high = (*high & 0x7f) | 0x40;
        }
        // k' = k / 8: the clamped k's three low bits are zero.
        let mut eighth = Zeroizing::new([0u8; N]);
        let mut carry = 0u8;
        for (out, byte) in eighth.iter_mut().rev().zip(clamped.iter().rev()) {
            *out = (byte >> 3) | carry;
            carry = byte << 5;
        }
        let scalar = Zeroizing::new(Scalar::from_bytes_mod_order(*eighth));
        let product = Zeroizing::new(point.mul_by_cofactor() * *scalar);
        Some(Zeroizing::new(product.to_montgomery().to_bytes()))
    }

    #[cfg(test)]
    mod tests {
        #![allow(
            clippy::unwrap_used,
            clippy::indexing_slicing,
            clippy::cast_possible_truncation
        )]

        use super::*;

        /// The ladder, for comparison.
        fn ladder(k: &[u8; N], u: &[u8; N]) -> [u8; N] {
            x25519(*k, *u)
        }

        fn bytes(seed: &mut u64) -> [u8; N] {
            let mut out = [0u8; N];
            for b in out.iter_mut() {
                *seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                *b = (*seed >> 33) as u8;
            }
            out
        }

        /// On random public keys (points on the curve), random 32-byte strings (about half
        /// on the twist, left to the ladder), and the special values of `u` (0, 1, −1,
        /// p − 1 + 2, p, p + 1, 2^255 − 1, the top bit set), the Edwards route gives the
        /// ladder's bytes wherever it answers.
        #[test]
        fn the_edwards_route_is_the_ladder() {
            let mut seed = 7u64;
            let mut answered = 0;
            let mut twist = 0;
            let p_minus = |d: u8| {
                let mut u = [0xffu8; N];
                u[0] = 0xed - d;
                u[31] = 0x7f;
                u
            };
            let mut specials = vec![
                [0u8; N],
                {
                    let mut u = [0u8; N];
                    u[0] = 1;
                    u
                },
                {
                    let mut u = [0u8; N];
                    u[0] = 9;
                    u
                },
                p_minus(1),
                p_minus(0),
                [0xffu8; N],
                {
                    let mut u = [0u8; N];
                    u[0] = 0xee;
                    u[1..31].fill(0xff);
                    u[31] = 0x7f;
                    u
                },
            ];
            for _ in 0..5 {
                let mut u = bytes(&mut seed);
                u[31] |= 0x80;
                specials.push(u);
            }
            for i in 0..300 {
                let k = bytes(&mut seed);
                let u = if i % 2 == 0 {
                    ladder(&bytes(&mut seed), &x25519_dalek::X25519_BASEPOINT_BYTES)
                } else {
                    bytes(&mut seed)
                };
                for u in core::iter::once(u).chain(specials.iter().copied()) {
                    match on_curve(&k, &u) {
                        Some(out) => {
                            answered += 1;
                            assert_eq!(*out, ladder(&k, &u), "k {k:02x?} u {u:02x?}");
                        }
                        None => twist += 1,
                    }
                }
            }
            assert!(answered > 1000 && twist > 100, "{answered} {twist}");
        }
    }
}

/// X448 (suites 4 and 6).
#[cfg(feature = "x448")]
pub(crate) mod x448 {
    use super::{CryptoError, Secret, Zeroizing, key_array, reject_zero};
    use ::x448::{X448_BASEPOINT_BYTES, x448};

    /// `Nsk` = `Npk` = 56.
    const N: usize = 56;

    /// Any 56 bytes are a valid X448 secret key.
    pub(crate) fn dh_secret_key_is_valid(sk: &[u8]) -> bool {
        sk.len() == N
    }

    /// `X448(sk, 5)`.
    pub(crate) fn dh_public_key(sk: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let sk = key_array::<N>(sk, "DH secret")?;
        x448(*sk, X448_BASEPOINT_BYTES)
            .map(|pk| pk.to_vec())
            .ok_or(CryptoError::Backend(
                "X448 base-point multiplication failed",
            ))
    }

    /// `X448(sk, pk)`, rejecting low-order peer keys and the all-zero output.
    pub(crate) fn dh(sk: &[u8], pk: &[u8]) -> Result<Secret, CryptoError> {
        let sk = key_array::<N>(sk, "DH secret")?;
        let pk = <[u8; N]>::try_from(pk)
            .map_err(|_| CryptoError::DhFailed("X448 public key has the wrong length"))?;
        let out = x448(*sk, pk).ok_or(CryptoError::DhFailed("low-order X448 public key"))?;
        reject_zero(Zeroizing::new(out), "all-zero X448 output")
    }
}
