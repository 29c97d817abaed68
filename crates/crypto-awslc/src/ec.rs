//! The NIST curves P-256, P-384 and P-521: scalar range checks (RFC 9180 §7.1.3, SEC 1
//! §3.2.1), public-key format checks (RFC 9180 §7.1.1 `SerializePublicKey`, uncompressed
//! SEC 1 §2.3.3) and the aws-lc-rs algorithm handles for ECDH and ECDSA (RFC 9420 §5.1.2).

use aws_lc_rs::{agreement, signature};

/// Group order `n` of P-256 (SEC 2 §2.4.2), big-endian.
const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// Group order `n` of P-384 (SEC 2 §2.5.1), big-endian.
const P384_ORDER: [u8; 48] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc7, 0x63, 0x4d, 0x81, 0xf4, 0x37, 0x2d, 0xdf,
    0x58, 0x1a, 0x0d, 0xb2, 0x48, 0xb0, 0xa7, 0x7a, 0xec, 0xec, 0x19, 0x6a, 0xcc, 0xc5, 0x29, 0x73,
];

/// Group order `n` of P-521 (SEC 2 §2.6.1), big-endian in 66 bytes.
const P521_ORDER: [u8; 66] = [
    0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xfa, 0x51, 0x86, 0x87, 0x83, 0xbf, 0x2f, 0x96, 0x6b, 0x7f, 0xcc, 0x01, 0x48, 0xf7, 0x09,
    0xa5, 0xd0, 0x3b, 0xb5, 0xc9, 0xb8, 0x89, 0x9c, 0x47, 0xae, 0xbb, 0x6f, 0xb7, 0x1e, 0x91, 0x38,
    0x64, 0x09,
];

/// One of the NIST prime curves used by MLS suites 2, 5 and 7.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Curve {
    /// secp256r1.
    P256,
    /// secp384r1.
    P384,
    /// secp521r1.
    P521,
}

impl Curve {
    /// The group order, big-endian, `scalar_len()` bytes.
    pub(crate) const fn order(self) -> &'static [u8] {
        match self {
            Self::P256 => &P256_ORDER,
            Self::P384 => &P384_ORDER,
            Self::P521 => &P521_ORDER,
        }
    }

    /// `Nsk`: the fixed length of a serialized scalar (RFC 9180 §7.1).
    pub(crate) const fn scalar_len(self) -> usize {
        self.order().len()
    }

    /// `Npk`: the length of an uncompressed SEC 1 point, `0x04 || X || Y`.
    pub(crate) const fn public_key_len(self) -> usize {
        1 + 2 * self.scalar_len()
    }

    /// The mask applied to the first byte of a random scalar candidate so that rejection
    /// sampling rarely rejects (RFC 9180 §7.1.3 uses the same mask for DeriveKeyPair).
    pub(crate) const fn first_byte_mask(self) -> u8 {
        match self {
            Self::P521 => 0x01,
            Self::P256 | Self::P384 => 0xff,
        }
    }

    /// The aws-lc-rs ECDH algorithm of this curve.
    pub(crate) fn agreement(self) -> &'static agreement::Algorithm {
        match self {
            Self::P256 => &agreement::ECDH_P256,
            Self::P384 => &agreement::ECDH_P384,
            Self::P521 => &agreement::ECDH_P521,
        }
    }

    /// The ECDSA signing algorithm with the MLS hash for this curve and DER (ASN.1)
    /// signatures (RFC 9420 §5.1.2; RFC 8446 §4.2.3 pairs each curve with its hash).
    pub(crate) fn ecdsa_signing(self) -> &'static signature::EcdsaSigningAlgorithm {
        match self {
            Self::P256 => &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            Self::P384 => &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
            Self::P521 => &signature::ECDSA_P521_SHA512_ASN1_SIGNING,
        }
    }

    /// The matching ECDSA verification algorithm (DER signatures).
    pub(crate) fn ecdsa_verification(self) -> &'static signature::EcdsaVerificationAlgorithm {
        match self {
            Self::P256 => &signature::ECDSA_P256_SHA256_ASN1,
            Self::P384 => &signature::ECDSA_P384_SHA384_ASN1,
            Self::P521 => &signature::ECDSA_P521_SHA512_ASN1,
        }
    }

    /// Whether `scalar` is exactly `Nsk` bytes and, read big-endian, lies in `[1, n-1]`
    /// (RFC 9180 §7.1.3, SEC 1 §3.2.1). Runs in time independent of the scalar's value.
    pub(crate) fn scalar_is_valid(self, scalar: &[u8]) -> bool {
        let order = self.order();
        if scalar.len() != order.len() {
            return false;
        }
        // Compute the borrow of `scalar - order` from the least significant byte up:
        // a final borrow of 1 means scalar < order. `nonzero` collects every bit.
        let mut borrow: u16 = 0;
        let mut nonzero: u8 = 0;
        for (&s, &n) in scalar.iter().rev().zip(order.iter().rev()) {
            let diff = u16::from(s).wrapping_sub(u16::from(n)).wrapping_sub(borrow);
            borrow = (diff >> 15) & 1;
            nonzero |= s;
        }
        (borrow == 1) & (nonzero != 0)
    }

    /// Whether `public_key` has the shape of an uncompressed SEC 1 point of this curve
    /// (`0x04` followed by two coordinates of `Nsk` bytes). Whether the point is on the
    /// curve is checked by aws-lc when the key is parsed.
    pub(crate) fn public_key_has_uncompressed_form(self, public_key: &[u8]) -> bool {
        public_key.len() == self.public_key_len() && public_key.first() == Some(&0x04)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CURVES: [Curve; 3] = [Curve::P256, Curve::P384, Curve::P521];

    /// `order - k` for small `k`, big-endian.
    fn order_minus(curve: Curve, k: u8) -> Vec<u8> {
        let mut v = curve.order().to_vec();
        let mut borrow = k;
        for b in v.iter_mut().rev() {
            let (d, o) = b.overflowing_sub(borrow);
            *b = d;
            borrow = u8::from(o);
            if borrow == 0 {
                break;
            }
        }
        v
    }

    #[test]
    fn scalar_range_edges() {
        for curve in CURVES {
            let len = curve.scalar_len();
            let mut one = vec![0u8; len];
            *one.last_mut().unwrap() = 1;
            assert!(!curve.scalar_is_valid(&vec![0u8; len]), "{curve:?} zero");
            assert!(curve.scalar_is_valid(&one), "{curve:?} one");
            assert!(
                curve.scalar_is_valid(&order_minus(curve, 1)),
                "{curve:?} n-1"
            );
            assert!(!curve.scalar_is_valid(curve.order()), "{curve:?} n");
            let mut n_plus_1 = curve.order().to_vec();
            *n_plus_1.last_mut().unwrap() += 1;
            assert!(!curve.scalar_is_valid(&n_plus_1), "{curve:?} n+1");
            assert!(!curve.scalar_is_valid(&vec![0xff; len]), "{curve:?} all-ff");
            assert!(!curve.scalar_is_valid(&one[1..]), "{curve:?} short");
            let mut long = vec![0u8];
            long.extend_from_slice(&one);
            assert!(!curve.scalar_is_valid(&long), "{curve:?} long");
        }
    }

    /// Our order constants agree with aws-lc's own range check on private keys:
    /// it accepts n-1 and rejects n.
    #[test]
    fn order_constants_match_aws_lc() {
        for curve in CURVES {
            let alg = curve.agreement();
            assert!(agreement::PrivateKey::from_private_key(alg, &order_minus(curve, 1)).is_ok());
            assert!(agreement::PrivateKey::from_private_key(alg, curve.order()).is_err());
            assert!(
                agreement::PrivateKey::from_private_key(alg, &vec![0; curve.scalar_len()]).is_err()
            );
        }
    }
}
