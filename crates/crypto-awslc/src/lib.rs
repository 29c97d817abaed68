//! Conclave's default cryptography backend, on `aws-lc-rs`.
//!
//! [`AwsLcProvider`] implements [`CryptoProvider`] for the MLS cipher suites 1, 2, 3, 5 and 7
//! (RFC 9420 §17.1): X25519/P-256/P-384/P-521 Diffie-Hellman for DHKEM (RFC 9180 §4.1),
//! SHA-2 hashing, HMAC and HKDF (RFC 5869), AES-GCM and ChaCha20-Poly1305, and Ed25519
//! (RFC 8032) or ECDSA (RFC 9420 §5.1.2, DER signatures) signatures. The X448/Ed448 suites
//! (4 and 6) are not offered: aws-lc does not implement those curves.
//!
//! The post-quantum suites of draft-ietf-mls-pq-ciphersuites §3 (TBD1–TBD11: ML-KEM-768/1024
//! and the X25519/P-256/P-384 hybrids, with Ed25519, ECDSA or ML-DSA) are offered too:
//! aws-lc-rs does the Diffie-Hellman halves, hashing, AEAD and signatures (ML-DSA-44/65/87
//! from its seed, `PqdsaKeyPair::from_seed`); ML-KEM itself is RustCrypto's `ml-kem` (see
//! the `mlkem` module for why).
//!
//! The provider is stateless; every key arrives as bytes in the encodings documented on
//! [`CipherSuiteProvider`]. Key generation draws only from the caller's [`CryptoRandom`], so
//! generated keys are reproducible under a seeded source (aws-lc's internal ECDSA nonce and
//! hedged ML-DSA randomness are the exceptions, and do not affect keys).
#![forbid(unsafe_code)]

mod ec;
mod suite;

use conclave_crypto::{CipherSuite, CipherSuiteProvider, CryptoProvider};

#[cfg(doc)]
use conclave_crypto::CryptoRandom;

pub use suite::AwsLcCipherSuite;

/// The aws-lc-rs backend: hands out an [`AwsLcCipherSuite`] for suites 1, 2, 3, 5 and 7 and
/// the post-quantum suites of draft-ietf-mls-pq-ciphersuites §3 (TBD1–TBD11).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AwsLcProvider;

impl AwsLcProvider {
    /// The suites this backend implements (RFC 9420 §17.1 codepoints 1, 2, 3, 5, 7, then
    /// `CipherSuite::PQ`).
    pub const SUPPORTED: [CipherSuite; 16] = [
        CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519,
        CipherSuite::MLS_128_DHKEMP256_AES128GCM_SHA256_P256,
        CipherSuite::MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_ED25519,
        CipherSuite::MLS_256_DHKEMP521_AES256GCM_SHA512_P521,
        CipherSuite::MLS_256_DHKEMP384_AES256GCM_SHA384_P384,
        // draft-ietf-mls-pq-ciphersuites §3 TBD1–TBD8 (Conclave's private-use values).
        CipherSuite::MLS_128_MLKEM768X25519_AES128GCM_SHA256_ED25519,
        CipherSuite::MLS_128_MLKEM768X25519_AES256GCM_SHA384_ED25519,
        CipherSuite::MLS_128_MLKEM768P256_AES128GCM_SHA256_P256,
        CipherSuite::MLS_128_MLKEM768P256_AES256GCM_SHA384_P256,
        CipherSuite::MLS_192_MLKEM1024P384_AES256GCM_SHA384_P384,
        CipherSuite::MLS_128_MLKEM768_AES256GCM_SHA384_ED25519,
        CipherSuite::MLS_128_MLKEM768_AES256GCM_SHA384_P256,
        CipherSuite::MLS_192_MLKEM1024_AES256GCM_SHA384_P384,
        // TBD9–TBD11, with ML-DSA signatures (aws-lc's ML-DSA).
        CipherSuite::MLS_128_MLKEM768X25519_CHACHA20POLY1305_SHA384_MLDSA44,
        CipherSuite::MLS_192_MLKEM768_AES256GCM_SHA384_MLDSA65,
        CipherSuite::MLS_256_MLKEM1024_AES256GCM_SHA384_MLDSA87,
    ];

    /// A new provider (the same as `AwsLcProvider::default()`).
    pub const fn new() -> Self {
        Self
    }
}

impl CryptoProvider for AwsLcProvider {
    fn name(&self) -> &'static str {
        "aws-lc-rs"
    }

    fn supported_cipher_suites(&self) -> Vec<CipherSuite> {
        Self::SUPPORTED.to_vec()
    }

    fn cipher_suite_provider(&self, suite: CipherSuite) -> Option<Box<dyn CipherSuiteProvider>> {
        AwsLcCipherSuite::new(suite).map(|s| Box::new(s) as Box<dyn CipherSuiteProvider>)
    }
}

#[cfg(test)]
mod tests;

/// The operating system's CSPRNG as aws-lc draws from it, for applications that hand the
/// sans-IO core its randomness (RFC 9420 §16.1 asks for a good source). The protocol crates
/// never read it themselves: the application passes it in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SystemRandom;

impl conclave_crypto::CryptoRandom for SystemRandom {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), conclave_crypto::CryptoError> {
        aws_lc_rs::rand::fill(dest).map_err(|_| conclave_crypto::CryptoError::RandomFailed)
    }
}
