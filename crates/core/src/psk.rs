//! The PSK secret (RFC 9420 §8.4): chaining the pre-shared keys of a Commit or of a Welcome's
//! `GroupSecrets` into the `psk_secret` input of the key schedule.
//!
//! ```text
//! psk_extracted_[i] = KDF.Extract(0, psk_[i])
//! psk_input_[i]     = ExpandWithLabel(psk_extracted_[i], "derived psk", PSKLabel, KDF.Nh)
//! psk_secret_[0]    = 0
//! psk_secret_[i]    = KDF.Extract(psk_input_[i-1], psk_secret_[i-1])
//! ```
//!
//! with `PSKLabel { PreSharedKeyID id; uint16 index; uint16 count; }`. Resolving a
//! `PreSharedKeyID` to its secret (an application-supplied external PSK or a stored
//! `resumption_psk`) is the caller's job.

use conclave_codec::Encode;
use conclave_crypto::labels::expand_with_label;
use conclave_crypto::{CipherSuiteProvider, CryptoError, Secret};

/// Errors computing a PSK secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PskError {
    /// More PSKs than `uint16 count` can express.
    #[error("{0} PSKs exceed the uint16 count of PSKLabel")]
    TooManyPsks(usize),
    /// Encoding the `PreSharedKeyID` failed.
    #[error("encoding PSKLabel failed: {0}")]
    Encoding(String),
    /// A cryptographic operation failed.
    #[error("PSK crypto error: {0}")]
    Crypto(#[from] CryptoError),
}

/// The label of the `ExpandWithLabel` step (RFC 9420 §8.4).
pub const DERIVED_PSK_LABEL: &str = "derived psk";

/// Encodes `PSKLabel { PreSharedKeyID id; uint16 index; uint16 count; }` (RFC 9420 §8.4).
pub fn psk_label<I: Encode + ?Sized>(id: &I, index: u16, count: u16) -> Result<Vec<u8>, PskError> {
    let mut out = Vec::with_capacity(id.encoded_len() + 4);
    id.encode(&mut out)
        .map_err(|e| PskError::Encoding(e.to_string()))?;
    out.extend_from_slice(&index.to_be_bytes());
    out.extend_from_slice(&count.to_be_bytes());
    Ok(out)
}

/// `psk_secret` of an ordered list of `(PreSharedKeyID, psk)` pairs (RFC 9420 §8.4).
///
/// `I` is the `PreSharedKeyID` wire structure (`messages::PreSharedKeyId`); any encodable
/// value is accepted so that the computation depends only on the encoding. With no PSKs the
/// result is the all-zero secret of `KDF.Nh` bytes.
pub fn psk_secret<I: Encode>(
    cs: &dyn CipherSuiteProvider,
    psks: &[(&I, &[u8])],
) -> Result<Secret, PskError> {
    let nh = cs.hash_len();
    let count = u16::try_from(psks.len()).map_err(|_| PskError::TooManyPsks(psks.len()))?;
    let zero = Secret::zero(nh);
    let mut secret = Secret::zero(nh);
    for (index, (id, psk)) in (0u16..).zip(psks) {
        let extracted = cs.kdf_extract(zero.as_bytes(), psk);
        let label = psk_label(*id, index, count)?;
        let input = expand_with_label(cs, extracted.as_bytes(), DERIVED_PSK_LABEL, &label, nh)?;
        secret = cs.kdf_extract(input.as_bytes(), secret.as_bytes());
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{PreSharedKeyId, Psk};
    use conclave_crypto::{CipherSuite, CryptoProvider};
    use conclave_crypto_rustcrypto::RustCryptoProvider;

    #[test]
    fn psk_label_layout() {
        let id: Vec<u8> = vec![0xaa, 0xbb];
        let label = psk_label(&id, 1, 3).unwrap();
        assert_eq!(label, vec![2, 0xaa, 0xbb, 0, 1, 0, 3]);
    }

    #[test]
    fn empty_list_is_zero_and_order_matters() {
        let cs = RustCryptoProvider
            .cipher_suite_provider(CipherSuite(1))
            .unwrap();
        let cs = cs.as_ref();
        let none: [(&PreSharedKeyId, &[u8]); 0] = [];
        assert_eq!(psk_secret(cs, &none).unwrap(), Secret::zero(32));
        let id = |n: u8| PreSharedKeyId {
            psk: Psk::External { psk_id: vec![n] },
            psk_nonce: vec![n; 32],
        };
        let (a, b) = (id(1), id(2));
        let ab = psk_secret(cs, &[(&a, &[1u8; 32][..]), (&b, &[2u8; 32][..])]).unwrap();
        let ba = psk_secret(cs, &[(&b, &[2u8; 32][..]), (&a, &[1u8; 32][..])]).unwrap();
        assert_ne!(ab, ba);
        assert_ne!(ab, Secret::zero(32));
    }
}
