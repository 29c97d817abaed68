//! Shared helpers of the integration tests: the backend under test, a deterministic random
//! source, hex decoding and the location of the MLS test vectors.
#![allow(dead_code)]

pub mod crypto_basics;
pub mod rfc9180_vectors;

use std::path::PathBuf;

use conclave_crypto::{CipherSuite, CipherSuiteProvider, CryptoError, CryptoProvider, CryptoRandom};

/// The backend the tests run against (RustCrypto, with the X448/Ed448 suites).
pub fn backend() -> conclave_crypto_rustcrypto::RustCryptoProvider {
    conclave_crypto_rustcrypto::RustCryptoProvider
}

/// The provider of `suite`, or an error naming the suite.
pub fn suite_provider(suite: u16) -> Result<Box<dyn CipherSuiteProvider>, String> {
    backend()
        .cipher_suite_provider(CipherSuite(suite))
        .ok_or_else(|| format!("backend {} does not support suite {suite}", backend().name()))
}

/// The directory of the MLS test vectors: `$MLS_TEST_VECTORS`, else `shared/test-vectors`
/// next to the workspace.
pub fn vectors_dir() -> PathBuf {
    match std::env::var_os("MLS_TEST_VECTORS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/test-vectors")),
    }
}

/// Decodes a hex field, naming it in the error.
pub fn unhex(field: &str, value: &str) -> Result<Vec<u8>, String> {
    hex::decode(value).map_err(|e| format!("{field}: bad hex: {e}"))
}

/// A deterministic random source (SplitMix64) so that tests are reproducible.
pub struct TestRng(u64);

impl TestRng {
    /// A source seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
}

impl CryptoRandom for TestRng {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), CryptoError> {
        for chunk in dest.chunks_mut(8) {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            let bytes = z.to_be_bytes();
            chunk.copy_from_slice(bytes.get(..chunk.len()).unwrap_or(&[]));
        }
        Ok(())
    }
}

/// A random source that always fails (for error-path tests).
pub struct FailingRng;

impl CryptoRandom for FailingRng {
    fn fill(&mut self, _dest: &mut [u8]) -> Result<(), CryptoError> {
        Err(CryptoError::RandomFailed)
    }
}
