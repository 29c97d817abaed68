//! Randomness from the operating system for the protocol core, which takes every random byte
//! through [`CryptoRandom`] (sans-IO; RFC 9420 §16.1 asks for a good source).

use conclave_crypto::{CryptoError, CryptoRandom};

/// The operating system's CSPRNG, as the pure-Rust provider reads it.
pub use conclave_crypto_rustcrypto::SystemRandom as OsRandom;

/// `len` random bytes from [`OsRandom`].
pub fn random_bytes(len: usize) -> Result<Vec<u8>, CryptoError> {
    let mut out = vec![0u8; len];
    OsRandom.fill(&mut out)?;
    Ok(out)
}
