//! A pure-Rust cryptographic backend for Conclave on the RustCrypto crates.
//!
//! [`RustCryptoProvider`] implements [`CryptoProvider`] for the seven cipher suites of
//! RFC 9420 §17.1: suites 1, 2, 3, 5 and 7 always, and suites 4 and 6 (X448 / Ed448, on the
//! pre-release `x448` and `ed448-goldilocks` crates) when the crate feature `x448` is on.
//! It also carries the post-quantum suites of draft-ietf-mls-pq-ciphersuites §3 (ML-KEM from
//! RustCrypto's `ml-kem` through `conclave-crypto`; ML-DSA-44/65/87 for TBD9–TBD11 from
//! RustCrypto's `ml-dsa`, signing deterministically, see the `mldsa` module).
//! Key, signature and DH-output encodings are those documented on
//! [`conclave_crypto::CipherSuiteProvider`] (RFC 9180 §7.1.1, RFC 9420 §5.1).
//!
//! The backend reads no OS randomness: key generation draws from the caller's
//! [`conclave_crypto::CryptoRandom`], and ECDSA signing is deterministic (RFC 6979).
//! [`SystemRandom`] is the operating system's source for applications to pass in.
#![forbid(unsafe_code)]

mod aead;
mod eddsa;
mod hash;
mod mldsa;
mod montgomery;
mod nist;
mod suite;

use conclave_crypto::{CipherSuite, CipherSuiteProvider, CryptoProvider};
use suite::RustCryptoSuite;

/// The RustCrypto backend: hands out one [`CipherSuiteProvider`] per supported suite.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RustCryptoProvider;

impl RustCryptoProvider {
    /// A new provider (the type carries no state).
    pub const fn new() -> Self {
        Self
    }
}

impl CryptoProvider for RustCryptoProvider {
    fn name(&self) -> &'static str {
        "rustcrypto"
    }

    /// Suites 1, 2, 3, 5, 7, plus 4 and 6 with the `x448` feature, in codepoint order.
    fn supported_cipher_suites(&self) -> Vec<CipherSuite> {
        CipherSuite::ALL
            .into_iter()
            .chain(CipherSuite::PQ)
            .filter(|suite| RustCryptoSuite::new(*suite).is_some())
            .collect()
    }

    fn cipher_suite_provider(&self, suite: CipherSuite) -> Option<Box<dyn CipherSuiteProvider>> {
        RustCryptoSuite::new(suite).map(|p| Box::new(p) as Box<dyn CipherSuiteProvider>)
    }
}

/// The operating system's CSPRNG (`getrandom`), for applications that hand the sans-IO core
/// its randomness (RFC 9420 §16.1 asks for a good source). The protocol crates never read it
/// themselves: the application passes it in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SystemRandom;

impl conclave_crypto::CryptoRandom for SystemRandom {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), conclave_crypto::CryptoError> {
        getrandom::fill(dest).map_err(|_| conclave_crypto::CryptoError::RandomFailed)
    }
}
