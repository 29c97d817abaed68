//! Which cryptography backend a service runs on: a configuration value, not a compile-time
//! choice. aws-lc-rs is the default (the faster one); the pure-Rust RustCrypto backend is
//! there for platforms without a C toolchain and for cross-checking.

use std::sync::Arc;

use conclave_crypto::CryptoProvider;

/// A cryptography backend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CryptoBackend {
    /// aws-lc-rs: suites 1, 2, 3, 5 and 7.
    #[default]
    AwsLc,
    /// The RustCrypto crates: suites 1, 2, 3, 5 and 7.
    RustCrypto,
}

impl CryptoBackend {
    /// The provider.
    pub fn provider(self) -> Arc<dyn CryptoProvider> {
        match self {
            Self::AwsLc => Arc::new(conclave_crypto_awslc::AwsLcProvider),
            Self::RustCrypto => Arc::new(conclave_crypto_rustcrypto::RustCryptoProvider),
        }
    }

    /// The name the command line uses.
    pub fn name(self) -> &'static str {
        match self {
            Self::AwsLc => "aws-lc",
            Self::RustCrypto => "rustcrypto",
        }
    }
}

impl core::fmt::Display for CryptoBackend {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

impl core::str::FromStr for CryptoBackend {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "aws-lc" | "awslc" | "aws-lc-rs" => Ok(Self::AwsLc),
            "rustcrypto" | "rust-crypto" => Ok(Self::RustCrypto),
            other => Err(format!(
                "unknown crypto backend {other:?}: use aws-lc (the default) or rustcrypto"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use conclave_crypto::CipherSuite;

    #[test]
    fn both_backends_parse_and_carry_suite_1() {
        for (text, backend) in [
            ("aws-lc", CryptoBackend::AwsLc),
            ("rustcrypto", CryptoBackend::RustCrypto),
        ] {
            let parsed: CryptoBackend = text.parse().unwrap();
            assert_eq!(parsed, backend);
            assert_eq!(parsed.to_string(), text);
            assert!(
                parsed
                    .provider()
                    .cipher_suite_provider(
                        CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519
                    )
                    .is_some()
            );
        }
        assert!("openssl".parse::<CryptoBackend>().is_err());
    }
}
