//! Shared helpers of the integration tests: the backend under test, a deterministic random
//! source, hex decoding and the location of the MLS test vectors.
#![allow(dead_code, unreachable_pub)]

pub mod rfc9180_vectors;

use conclave_crypto::{
    CipherSuite, CipherSuiteProvider, CryptoError, CryptoProvider, CryptoRandom,
};

/// The backend the tests run against (RustCrypto, with the X448/Ed448 suites).
pub fn backend() -> conclave_crypto_rustcrypto::RustCryptoProvider {
    conclave_crypto_rustcrypto::RustCryptoProvider
}

/// The provider of `suite`, or an error naming the suite.
pub fn suite_provider(suite: u16) -> Result<Box<dyn CipherSuiteProvider>, String> {
    backend()
        .cipher_suite_provider(CipherSuite(suite))
        .ok_or_else(|| {
            format!(
                "backend {} does not support suite {suite}",
                backend().name()
            )
        })
}

/// Decodes a hex field, naming it in the error.
pub fn unhex(field: &str, value: &str) -> Result<Vec<u8>, String> {
    hex::decode(value).map_err(|e| format!("{field}: bad hex: {e}"))
}

/// The deterministic random source of the tests.
pub use conclave_crypto::SeededRng as TestRng;

/// A random source that always fails (for error-path tests).
pub struct FailingRng;

impl CryptoRandom for FailingRng {
    fn fill(&mut self, _dest: &mut [u8]) -> Result<(), CryptoError> {
        Err(CryptoError::RandomFailed)
    }
}
