//! A crypto provider covering every MLS cipher suite (RFC 9420 §17.1): aws-lc-rs for the
//! suites it implements (1, 2, 3, 5, 7), RustCrypto for the rest (4 and 6, X448/Ed448).

use conclave_crypto::{CipherSuite, CipherSuiteProvider, CryptoProvider};
use conclave_crypto_awslc::AwsLcProvider;
use conclave_crypto_rustcrypto::RustCryptoProvider;

/// aws-lc-rs first, RustCrypto for what aws-lc-rs lacks.
#[derive(Debug, Clone, Copy, Default)]
pub struct InteropProvider;

impl CryptoProvider for InteropProvider {
    fn name(&self) -> &'static str {
        "aws-lc-rs+rustcrypto"
    }

    fn supported_cipher_suites(&self) -> Vec<CipherSuite> {
        let mut suites = AwsLcProvider.supported_cipher_suites();
        for suite in RustCryptoProvider.supported_cipher_suites() {
            if !suites.contains(&suite) {
                suites.push(suite);
            }
        }
        suites.sort_by_key(|s| s.0);
        suites
    }

    fn cipher_suite_provider(&self, suite: CipherSuite) -> Option<Box<dyn CipherSuiteProvider>> {
        AwsLcProvider
            .cipher_suite_provider(suite)
            .or_else(|| RustCryptoProvider.cipher_suite_provider(suite))
    }
}
