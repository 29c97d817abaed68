//! EdDSA signatures (RFC 8032 §5.1 Ed25519 and §5.2 Ed448, pure mode with an empty context)
//! for the MLS suites (RFC 9420 §5.1.2), on the RustCrypto `ed25519-dalek` and
//! `ed448-goldilocks` crates.
//!
//! A secret key is the RFC 8032 seed (32 / 57 bytes), a public key the RFC 8032 point
//! encoding (32 / 57 bytes), a signature `R || S` (64 / 114 bytes).

use conclave_crypto::{CryptoError, CryptoRandom, Secret};
use zeroize::Zeroizing;

/// Copies a key of exactly `N` bytes into a (zeroized-on-drop) array.
fn seed<const N: usize>(bytes: &[u8]) -> Result<Zeroizing<[u8; N]>, CryptoError> {
    <[u8; N]>::try_from(bytes)
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::InvalidKey {
            kind: "signature secret",
            reason: "wrong length",
        })
}

/// Draws a fresh seed of `N` bytes from `rng`.
fn random_seed<const N: usize>(
    rng: &mut dyn CryptoRandom,
) -> Result<Zeroizing<[u8; N]>, CryptoError> {
    let mut seed = Zeroizing::new([0u8; N]);
    rng.fill(seed.as_mut_slice())?;
    Ok(seed)
}

/// The error for a public key that does not decode.
const BAD_PUBLIC: CryptoError = CryptoError::InvalidKey {
    kind: "signature public",
    reason: "not a valid point encoding",
};

/// Ed25519 (suites 1 and 3).
pub(crate) mod ed25519 {
    use super::{BAD_PUBLIC, CryptoError, CryptoRandom, Secret, random_seed, seed};
    use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

    /// Seed and public-key length.
    const N: usize = 32;

    /// Parses a seed.
    fn signing_key(sk: &[u8]) -> Result<SigningKey, CryptoError> {
        Ok(SigningKey::from_bytes(&*seed::<N>(sk)?))
    }

    /// The public key of a seed.
    pub(crate) fn signature_public_key(sk: &[u8]) -> Result<Vec<u8>, CryptoError> {
        Ok(signing_key(sk)?.verifying_key().to_bytes().to_vec())
    }

    /// A key pair from a random seed.
    pub(crate) fn signature_generate(
        rng: &mut dyn CryptoRandom,
    ) -> Result<(Secret, Vec<u8>), CryptoError> {
        let seed = random_seed::<N>(rng)?;
        let pk = SigningKey::from_bytes(&seed)
            .verifying_key()
            .to_bytes()
            .to_vec();
        Ok((Secret::from_slice(seed.as_slice()), pk))
    }

    /// The last key that signed, expanded: loading a seed computes the public key (a
    /// scalar multiplication), which would double the cost of every signature of a member
    /// that signs message after message with one key.
    #[derive(Default)]
    pub(crate) struct SignerCache(
        std::sync::Mutex<Option<(super::Zeroizing<[u8; N]>, SigningKey)>>,
    );

    impl core::fmt::Debug for SignerCache {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.write_str("SignerCache(..)")
        }
    }

    impl SignerCache {
        /// Signs `msg` (pure Ed25519), with the cached key when `sk` is its seed (compared
        /// in constant time).
        pub(crate) fn sign(&self, sk: &[u8], msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
            let seed = seed::<N>(sk)?;
            // A poisoned lock only means another signer panicked: the cache is rebuilt.
            let mut cached = match self.0.lock() {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
            let key = match cached.take() {
                Some((cached_seed, key))
                    if conclave_crypto::ct_eq(cached_seed.as_slice(), seed.as_slice()) =>
                {
                    key
                }
                _ => SigningKey::from_bytes(&seed),
            };
            let sig = key
                .try_sign(msg)
                .map_err(|_| CryptoError::Backend("Ed25519 signing failed"));
            *cached = Some((seed, key));
            Ok(sig?.to_bytes().to_vec())
        }
    }

    /// Verifies with the strict rules (canonical `S`, no small-order `R` or public key).
    pub(crate) fn verify(pk: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
        let pk = <[u8; N]>::try_from(pk).map_err(|_| BAD_PUBLIC)?;
        let key = VerifyingKey::from_bytes(&pk).map_err(|_| BAD_PUBLIC)?;
        let sig = Signature::from_slice(sig).map_err(|_| CryptoError::InvalidSignature)?;
        key.verify_strict(msg, &sig)
            .map_err(|_| CryptoError::InvalidSignature)
    }
}

/// Ed448 (suites 4 and 6).
#[cfg(feature = "x448")]
pub(crate) mod ed448 {
    use super::{BAD_PUBLIC, CryptoError, CryptoRandom, Secret, random_seed, seed};
    use ed448_goldilocks::signature::Signer as _;
    use ed448_goldilocks::{Signature, SigningKey, VerifyingKey};

    /// Seed and public-key length.
    const N: usize = 57;

    /// Parses a seed.
    fn signing_key(sk: &[u8]) -> Result<SigningKey, CryptoError> {
        let seed = seed::<N>(sk)?;
        SigningKey::try_from(seed.as_slice()).map_err(|_| CryptoError::InvalidKey {
            kind: "signature secret",
            reason: "wrong length",
        })
    }

    /// The public key of a seed.
    pub(crate) fn signature_public_key(sk: &[u8]) -> Result<Vec<u8>, CryptoError> {
        Ok(signing_key(sk)?.verifying_key().to_bytes().to_vec())
    }

    /// A key pair from a random seed.
    pub(crate) fn signature_generate(
        rng: &mut dyn CryptoRandom,
    ) -> Result<(Secret, Vec<u8>), CryptoError> {
        let seed = random_seed::<N>(rng)?;
        let pk = signature_public_key(seed.as_slice())?;
        Ok((Secret::from_slice(seed.as_slice()), pk))
    }

    /// Signs `msg` (pure Ed448, empty context).
    pub(crate) fn sign(sk: &[u8], msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let sig: Signature = signing_key(sk)?
            .try_sign(msg)
            .map_err(|_| CryptoError::Backend("Ed448 signing failed"))?;
        Ok(sig.to_bytes().to_vec())
    }

    /// Verifies a pure Ed448 signature with an empty context.
    pub(crate) fn verify(pk: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
        let pk = <[u8; N]>::try_from(pk).map_err(|_| BAD_PUBLIC)?;
        let key = VerifyingKey::from_bytes(&pk).map_err(|_| BAD_PUBLIC)?;
        let sig = Signature::from_slice(sig).map_err(|_| CryptoError::InvalidSignature)?;
        key.verify_raw(&sig, msg)
            .map_err(|_| CryptoError::InvalidSignature)
    }
}
