//! X25519 and X448 (RFC 7748 §5) for DHKEM (RFC 9180 §4.1, §7.1), on the RustCrypto
//! `x25519-dalek` and `x448` crates.
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
        reject_zero(Zeroizing::new(x25519(*sk, pk)), "all-zero X25519 output")
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
