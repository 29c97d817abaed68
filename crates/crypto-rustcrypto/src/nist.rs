//! The NIST curves P-256, P-384 and P-521: ECDH for DHKEM (RFC 9180 §4.1, §7.1) and ECDSA
//! signatures (RFC 9420 §5.1.2), on the RustCrypto `p256`, `p384`, `p521` and `ecdsa` crates.
//!
//! Encodings (RFC 9180 §7.1.1, RFC 9420 §5.1.1): a secret key is the big-endian scalar of
//! exactly `Nsk` bytes, which must lie in `[1, n-1]`; a public key is the uncompressed SEC1
//! point (`0x04 || x || y`, `Npk` bytes); the DH output is the x-coordinate of the shared
//! point; ECDSA signatures are DER-encoded and produced deterministically (RFC 6979).

/// Defines one module with the DH and ECDSA operations of one NIST curve.
///
/// `$mask` is the DeriveKeyPair-style bitmask applied to the first byte of a random candidate
/// scalar before rejection sampling (RFC 9180 §7.1.3: `0x01` for P-521, `0xff` otherwise).
macro_rules! nist_curve {
    ($(#[$doc:meta])* $name:ident, $krate:ident, $npk:expr, $mask:expr) => {
        $(#[$doc])*
        pub(crate) mod $name {
            use conclave_crypto::{CryptoError, CryptoRandom, Secret};
            use ecdsa::signature::{Signer as _, Verifier as _};
            use elliptic_curve::sec1::ToSec1Point as _;
            use $krate::ecdsa::{Signature, SigningKey, VerifyingKey};
            use $krate::{FieldBytes, PublicKey, SecretKey};
            use zeroize::Zeroizing;

            /// `Npk`: length of an uncompressed SEC1 public key.
            const NPK: usize = $npk;

            /// How many candidate scalars key generation draws before giving up; the chance
            /// that one candidate is rejected is below 2^-32 for all three curves.
            const MAX_ATTEMPTS: usize = 256;

            /// Parses a fixed-length big-endian scalar in `[1, n-1]`.
            fn field_bytes<'a>(
                sk: &'a [u8],
                kind: &'static str,
            ) -> Result<&'a FieldBytes, CryptoError> {
                <&FieldBytes>::try_from(sk)
                    .map_err(|_| CryptoError::InvalidKey { kind, reason: "wrong length" })
            }

            /// Parses a DH secret key.
            fn secret_key(sk: &[u8]) -> Result<SecretKey, CryptoError> {
                SecretKey::from_bytes(field_bytes(sk, "DH secret")?).map_err(|_| {
                    CryptoError::InvalidKey { kind: "DH secret", reason: "scalar not in [1, n-1]" }
                })
            }

            /// Checks that `pk` is an uncompressed SEC1 encoding of the right length.
            fn check_uncompressed(pk: &[u8], kind: &'static str) -> Result<(), CryptoError> {
                if pk.len() != NPK || pk.first() != Some(&0x04) {
                    return Err(CryptoError::InvalidKey {
                        kind,
                        reason: "not an uncompressed SEC1 point of the right length",
                    });
                }
                Ok(())
            }

            /// Whether `sk` is exactly `Nsk` bytes encoding a scalar in `[1, n-1]`.
            pub(crate) fn dh_secret_key_is_valid(sk: &[u8]) -> bool {
                secret_key(sk).is_ok()
            }

            /// `SerializePublicKey(pk(sk))`: the uncompressed SEC1 point.
            pub(crate) fn dh_public_key(sk: &[u8]) -> Result<Vec<u8>, CryptoError> {
                let pk = secret_key(sk)?.public_key();
                Ok(pk.to_sec1_point(false).as_bytes().to_vec())
            }

            /// `DH(sk, pk)`: the x-coordinate of `sk * pk`. The peer key must be a valid,
            /// non-identity point on the curve (checked while decoding it).
            pub(crate) fn dh(sk: &[u8], pk: &[u8]) -> Result<Secret, CryptoError> {
                let sk = secret_key(sk)?;
                check_uncompressed(pk, "DH public")
                    .map_err(|_| CryptoError::DhFailed("malformed public key"))?;
                let pk = PublicKey::from_sec1_bytes(pk)
                    .map_err(|_| CryptoError::DhFailed("public key is not a point on the curve"))?;
                let shared = sk.diffie_hellman(&pk);
                Ok(Secret::from_slice(shared.raw_secret_bytes().as_slice()))
            }

            /// Parses an ECDSA signing key.
            fn signing_key(sk: &[u8]) -> Result<SigningKey, CryptoError> {
                SigningKey::from_bytes(field_bytes(sk, "signature secret")?).map_err(|_| {
                    CryptoError::InvalidKey {
                        kind: "signature secret",
                        reason: "scalar not in [1, n-1]",
                    }
                })
            }

            /// The uncompressed SEC1 public key of an ECDSA secret key.
            pub(crate) fn signature_public_key(sk: &[u8]) -> Result<Vec<u8>, CryptoError> {
                let key = signing_key(sk)?;
                Ok(key.verifying_key().to_sec1_point(false).as_bytes().to_vec())
            }

            /// A key pair from a random scalar, drawn from `rng` with rejection sampling.
            pub(crate) fn signature_generate(
                rng: &mut dyn CryptoRandom,
            ) -> Result<(Secret, Vec<u8>), CryptoError> {
                for _ in 0..MAX_ATTEMPTS {
                    let mut candidate = Zeroizing::new(FieldBytes::default());
                    rng.fill(candidate.as_mut_slice())?;
                    if let Some(first) = candidate.first_mut() {
                        *first &= $mask;
                    }
                    if let Ok(key) = SigningKey::from_bytes(&candidate) {
                        let pk = key.verifying_key().to_sec1_point(false).as_bytes().to_vec();
                        return Ok((Secret::from_slice(candidate.as_slice()), pk));
                    }
                }
                Err(CryptoError::Backend("no valid ECDSA scalar found in 256 attempts"))
            }

            /// Deterministic ECDSA (RFC 6979) over the curve's hash of `msg`, DER-encoded.
            pub(crate) fn sign(sk: &[u8], msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
                let key = signing_key(sk)?;
                let sig: Signature =
                    key.try_sign(msg).map_err(|_| CryptoError::Backend("ECDSA signing failed"))?;
                Ok(sig.to_der().as_bytes().to_vec())
            }

            /// Verifies a DER-encoded ECDSA signature under an uncompressed SEC1 public key.
            pub(crate) fn verify(pk: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
                check_uncompressed(pk, "signature public")?;
                let key = VerifyingKey::from_sec1_bytes(pk).map_err(|_| {
                    CryptoError::InvalidKey {
                        kind: "signature public",
                        reason: "not a point on the curve",
                    }
                })?;
                let sig = Signature::from_der(sig).map_err(|_| CryptoError::InvalidSignature)?;
                key.verify(msg, &sig).map_err(|_| CryptoError::InvalidSignature)
            }
        }
    };
}

nist_curve!(
    /// P-256 with SHA-256 (suite 2).
    p256_ops, p256, 65, 0xff
);
nist_curve!(
    /// P-384 with SHA-384 (suite 7).
    p384_ops, p384, 97, 0xff
);
nist_curve!(
    /// P-521 with SHA-512 (suite 5).
    p521_ops, p521, 133, 0x01
);
