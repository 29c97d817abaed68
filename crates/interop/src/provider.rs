//! Cipher-suite selection (RFC 9420 §17.1): which suites the server offers
//! (`SupportedCiphersuites`) and which backend serves each, plus the parsing of the suite
//! numbers the harness sends. aws-lc-rs serves the suites it implements (1, 2, 3, 5, 7),
//! RustCrypto the rest (4 and 6, X448/Ed448).

use conclave_crypto::{CipherSuite, CipherSuiteProvider, CryptoProvider};
use conclave_crypto_awslc::AwsLcProvider;
use conclave_crypto_rustcrypto::RustCryptoProvider;

use crate::error::{Result, bad};

/// aws-lc-rs first, RustCrypto for what aws-lc-rs lacks.
#[derive(Debug, Clone, Copy, Default)]
pub struct InteropProvider;

impl CryptoProvider for InteropProvider {
    fn name(&self) -> &'static str {
        "aws-lc-rs+rustcrypto"
    }

    /// RFC 9420's suites only: the post-quantum ones (draft-ietf-mls-pq-ciphersuites) have
    /// Conclave's private-use values, which no other client of the interop harness knows.
    fn supported_cipher_suites(&self) -> Vec<CipherSuite> {
        let mut suites = AwsLcProvider.supported_cipher_suites();
        for suite in RustCryptoProvider.supported_cipher_suites() {
            if !suites.contains(&suite) {
                suites.push(suite);
            }
        }
        suites.retain(|suite| !suite.is_post_quantum());
        suites.sort_by_key(|s| s.0);
        suites
    }

    fn cipher_suite_provider(&self, suite: CipherSuite) -> Option<Box<dyn CipherSuiteProvider>> {
        AwsLcProvider
            .cipher_suite_provider(suite)
            .or_else(|| RustCryptoProvider.cipher_suite_provider(suite))
    }
}

/// The suites [`InteropProvider`] serves, as the numbers `SupportedCiphersuites` answers.
pub fn supported_suite_ids() -> Vec<u32> {
    InteropProvider
        .supported_cipher_suites()
        .iter()
        .map(|s| u32::from(s.0))
        .collect()
}

/// The suite a request names: the harness sends a `uint32`, MLS suites are `uint16`
/// (RFC 9420 §17.1), so larger numbers are refused rather than truncated. Whether the suite
/// is supported is for the provider to say when it is used.
pub(crate) fn suite_of(value: u32) -> Result<CipherSuite> {
    u16::try_from(value)
        .map(CipherSuite)
        .map_err(|_| bad(format!("cipher suite {value} out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_suite_is_offered_and_out_of_range_numbers_are_refused() {
        assert_eq!(supported_suite_ids(), [1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(suite_of(7).ok(), Some(CipherSuite(7)));
        assert!(suite_of(0x1_0000).is_err());
    }
}
