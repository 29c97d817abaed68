//! A signature key pair derived deterministically from a secret, for every signature scheme
//! of the MLS cipher suites (RFC 9420 §17.1): what draft-mahy-mls-member-proof-00 §3 ("Derive
//! the `member_proof` key pair") needs and does not define.
//!
//! RFC 9420 derives HPKE key pairs from secrets (`DeriveKeyPair`, RFC 9180 §7.1.3) but never
//! signature key pairs. This is the same construction, with MLS's `ExpandWithLabel` as the
//! expansion and the signature scheme's secret-key encoding (the one the providers use:
//! RFC 8032 seeds for EdDSA, big-endian scalars for ECDSA, the FIPS 204 seed `ξ` for
//! ML-DSA):
//!
//! ```text
//! DeriveSignatureKeyPair(secret):
//!   EdDSA (Ed25519: Nsk = 32, Ed448: Nsk = 57):
//!     sk = ExpandWithLabel(secret, "derive signature key", [0], Nsk)
//!   ML-DSA (44, 65, 87: Nsk = 32, the seed of ML-DSA.KeyGen_internal, FIPS 204 Alg. 6):
//!     sk = ExpandWithLabel(secret, "derive signature key", [0], 32)
//!   ECDSA (P-256: Nsk = 32, P-384: 48, P-521: 66; bitmask 0xFF, 0xFF, 0x01):
//!     for counter in 0..=255:
//!       bytes = ExpandWithLabel(secret, "derive signature key", [counter], Nsk)
//!       bytes[0] &= bitmask
//!       if 0 < bytes < n (big-endian, n the curve order): sk = bytes; stop
//!     (no valid candidate after 256 tries: DeriveKeyPairError, as RFC 9180 §7.1.3)
//!   pk = the scheme's public key of sk
//! ```
//!
//! The label is prefixed "MLS 1.0 " by `ExpandWithLabel` (RFC 9420 §8), and `[counter]` is
//! one byte. The candidate test is done here, against the curve orders below, not by the
//! backend, so that every provider derives the same key from the same secret (a test in
//! `conclave-core` compares the backends for every suite). It is a function over the
//! provider's primitives (KDF, `signature_public_key`), not a provider method, so no backend
//! can derive differently.

use crate::labels::expand_with_label;
use crate::{CipherSuiteProvider, CryptoError, Secret, SignatureAlgorithm};

/// Label of the expansion (RFC 9420 §8 prefixes it with "MLS 1.0 ").
pub const DERIVE_SIGNATURE_KEY_LABEL: &str = "derive signature key";

/// Order of the P-256 group (SEC 2 §2.4.2, FIPS 186-5).
const P256_ORDER: [u8; 32] =
    hex_array(b"ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
/// Order of the P-384 group (SEC 2 §2.5.1).
const P384_ORDER: [u8; 48] = hex_array(
    b"ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
);
/// Order of the P-521 group (SEC 2 §2.6.1), as 66 big-endian bytes.
const P521_ORDER: [u8; 66] = hex_array(
    b"01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409",
);

/// Decodes a hex constant at compile time (the constants above are fixed; a malformed one
/// fails the build, not the program).
#[allow(clippy::indexing_slicing, clippy::panic)]
const fn hex_array<const N: usize>(hex: &[u8]) -> [u8; N] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("not a lower-case hex digit"),
        }
    }
    assert!(hex.len() == 2 * N, "hex constant of the wrong length");
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = (nibble(hex[2 * i]) << 4) | nibble(hex[2 * i + 1]);
        i += 1;
    }
    out
}

/// How a scheme's secret key is derived.
enum Shape {
    /// An EdDSA seed of this many bytes: any bytes are a valid key.
    Seed(usize),
    /// An ECDSA scalar below `order`, with `bitmask` applied to the first byte.
    Scalar { order: &'static [u8], bitmask: u8 },
}

fn shape(algorithm: SignatureAlgorithm) -> Shape {
    match algorithm {
        SignatureAlgorithm::Ed25519 => Shape::Seed(32),
        SignatureAlgorithm::Ed448 => Shape::Seed(57),
        SignatureAlgorithm::MlDsa44 | SignatureAlgorithm::MlDsa65 | SignatureAlgorithm::MlDsa87 => {
            Shape::Seed(crate::ML_DSA_SEED_LEN)
        }
        SignatureAlgorithm::EcdsaP256Sha256 => Shape::Scalar {
            order: &P256_ORDER,
            bitmask: 0xFF,
        },
        SignatureAlgorithm::EcdsaP384Sha384 => Shape::Scalar {
            order: &P384_ORDER,
            bitmask: 0xFF,
        },
        SignatureAlgorithm::EcdsaP521Sha512 => Shape::Scalar {
            order: &P521_ORDER,
            bitmask: 0x01,
        },
    }
}

/// Whether the big-endian `candidate` is in `[1, order - 1]` (same length as `order`).
/// Not constant time in the comparison's outcome, which only says whether a candidate is
/// kept; the kept value is not revealed by it.
fn is_valid_scalar(candidate: &[u8], order: &[u8]) -> bool {
    candidate.len() == order.len() && candidate.iter().any(|b| *b != 0) && candidate < order
}

/// `DeriveSignatureKeyPair(secret)` of the suite's signature scheme (module docs): the
/// secret key in the provider's encoding and its public key. `secret` must be at least
/// `KDF.Nh` bytes (it is an HKDF pseudorandom key).
pub fn derive_signature_key_pair(
    cs: &dyn CipherSuiteProvider,
    secret: &[u8],
) -> Result<(Secret, Vec<u8>), CryptoError> {
    let secret_key = match shape(cs.signature()) {
        Shape::Seed(len) => expand_with_label(cs, secret, DERIVE_SIGNATURE_KEY_LABEL, &[0], len)?,
        Shape::Scalar { order, bitmask } => {
            let mut found = None;
            for counter in 0..=u8::MAX {
                let candidate = expand_with_label(
                    cs,
                    secret,
                    DERIVE_SIGNATURE_KEY_LABEL,
                    &[counter],
                    order.len(),
                )?;
                let mut bytes = zeroize::Zeroizing::new(candidate.as_bytes().to_vec());
                if let Some(first) = bytes.first_mut() {
                    *first &= bitmask;
                }
                if is_valid_scalar(&bytes, order) {
                    found = Some(Secret::from_slice(&bytes));
                    break;
                }
            }
            found.ok_or(CryptoError::Backend(
                "DeriveSignatureKeyPair: no valid scalar in 256 candidates",
            ))?
        }
    };
    let public_key = cs.signature_public_key(secret_key.as_bytes())?;
    Ok((secret_key, public_key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_outside_one_to_order_minus_one_are_refused() {
        let order = P256_ORDER;
        let mut below = order;
        below[31] -= 1;
        assert!(is_valid_scalar(&below, &order));
        assert!(!is_valid_scalar(&order, &order));
        assert!(!is_valid_scalar(&[0u8; 32], &order));
        assert!(!is_valid_scalar(&[0xFF; 32], &order));
        assert!(is_valid_scalar(&[0x01; 32], &order));
        assert!(!is_valid_scalar(&[0x01; 31], &order));
    }

    #[test]
    fn the_orders_have_their_curves_sizes_and_leading_bytes() {
        assert_eq!(P256_ORDER[..4], [0xFF; 4]);
        assert_eq!(P384_ORDER[47], 0x73);
        assert_eq!(P521_ORDER[0], 0x01);
        assert_eq!(P521_ORDER[65], 0x09);
    }
}
