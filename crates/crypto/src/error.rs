//! The one error type of the crypto layer.

/// What went wrong in a cryptographic operation.
///
/// Messages never contain secret material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The provider does not implement this cipher suite.
    #[error("cipher suite {0:#06x} is not supported by this provider")]
    UnsupportedCipherSuite(u16),
    /// A key had the wrong length or was not a valid encoding for its algorithm.
    #[error("invalid {kind} key: {reason}")]
    InvalidKey {
        /// Which kind of key ("signature public", "HPKE secret", "AEAD"…).
        kind: &'static str,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A signature did not verify (or could not be parsed).
    #[error("signature verification failed")]
    InvalidSignature,
    /// AEAD decryption failed: wrong key, nonce, associated data, or tampered ciphertext.
    #[error("AEAD decryption failed (authentication tag mismatch)")]
    AeadOpenFailed,
    /// An AEAD, KDF or HPKE input had an impossible length.
    #[error("invalid length for {what}: {len}")]
    InvalidLength {
        /// The input concerned.
        what: &'static str,
        /// The length supplied.
        len: usize,
    },
    /// A Diffie-Hellman computation produced the all-zero value or the peer key was invalid.
    #[error("Diffie-Hellman failed: {0}")]
    DhFailed(&'static str),
    /// HPKE DeriveKeyPair found no valid key within 256 attempts (RFC 9180 §7.1.3).
    #[error("HPKE DeriveKeyPair failed to find a valid key")]
    DeriveKeyPairError,
    /// HPKE context reached its maximum sequence number (RFC 9180 §5.2).
    #[error("HPKE message limit reached")]
    MessageLimitReached,
    /// The random source failed.
    #[error("random source failed")]
    RandomFailed,
    /// Encoding a labelled structure failed (a label or context too long).
    #[error("encoding failed: {0}")]
    Encoding(String),
    /// Any other backend failure.
    #[error("crypto backend error: {0}")]
    Backend(&'static str),
}
