//! The AEADs of the MLS cipher suites (RFC 9420 §5.1, RFC 9180 §7.3): AES-128-GCM,
//! AES-256-GCM (NIST SP 800-38D) and ChaCha20Poly1305 (RFC 8439 §2.8), on the RustCrypto
//! `aes-gcm` and `chacha20poly1305` crates. Ciphertexts carry the 16-byte tag at the end.

use aes_gcm::aead::{Aead, KeyInit, Nonce, Payload};
use conclave_crypto::{AeadAlgorithm, CryptoError, Secret};

/// Checks the key and nonce lengths against `Nk` and `Nn` of the AEAD.
fn check_lengths(aead: AeadAlgorithm, key: &[u8], nonce: &[u8]) -> Result<(), CryptoError> {
    if key.len() != aead.key_len() {
        return Err(CryptoError::InvalidKey {
            kind: "AEAD",
            reason: "wrong length",
        });
    }
    if nonce.len() != aead.nonce_len() {
        return Err(CryptoError::InvalidLength {
            what: "AEAD nonce",
            len: nonce.len(),
        });
    }
    Ok(())
}

/// Encrypts with one concrete AEAD type.
fn seal_with<A: Aead + KeyInit>(
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let cipher = A::new_from_slice(key).map_err(|_| CryptoError::InvalidKey {
        kind: "AEAD",
        reason: "wrong length",
    })?;
    let nonce = Nonce::<A>::try_from(nonce).map_err(|_| CryptoError::InvalidLength {
        what: "AEAD nonce",
        len: nonce.len(),
    })?;
    cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| CryptoError::InvalidLength {
            what: "AEAD plaintext",
            len: plaintext.len(),
        })
}

/// Decrypts with one concrete AEAD type.
fn open_with<A: Aead + KeyInit>(
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Secret, CryptoError> {
    let cipher = A::new_from_slice(key).map_err(|_| CryptoError::InvalidKey {
        kind: "AEAD",
        reason: "wrong length",
    })?;
    let nonce = Nonce::<A>::try_from(nonce).map_err(|_| CryptoError::InvalidLength {
        what: "AEAD nonce",
        len: nonce.len(),
    })?;
    cipher
        .decrypt(
            &nonce,
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map(Secret::new)
        .map_err(|_| CryptoError::AeadOpenFailed)
}

/// AEAD `Seal(key, nonce, aad, pt)`: ciphertext with the tag appended.
pub(crate) fn seal(
    aead: AeadAlgorithm,
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    check_lengths(aead, key, nonce)?;
    match aead {
        AeadAlgorithm::Aes128Gcm => seal_with::<aes_gcm::Aes128Gcm>(key, nonce, aad, plaintext),
        AeadAlgorithm::Aes256Gcm => seal_with::<aes_gcm::Aes256Gcm>(key, nonce, aad, plaintext),
        AeadAlgorithm::ChaCha20Poly1305 => {
            seal_with::<chacha20poly1305::ChaCha20Poly1305>(key, nonce, aad, plaintext)
        }
    }
}

/// AEAD `Open(key, nonce, aad, ct)`; [`CryptoError::AeadOpenFailed`] on any authentication
/// failure (including a ciphertext shorter than the tag).
pub(crate) fn open(
    aead: AeadAlgorithm,
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Secret, CryptoError> {
    check_lengths(aead, key, nonce)?;
    match aead {
        AeadAlgorithm::Aes128Gcm => open_with::<aes_gcm::Aes128Gcm>(key, nonce, aad, ciphertext),
        AeadAlgorithm::Aes256Gcm => open_with::<aes_gcm::Aes256Gcm>(key, nonce, aad, ciphertext),
        AeadAlgorithm::ChaCha20Poly1305 => {
            open_with::<chacha20poly1305::ChaCha20Poly1305>(key, nonce, aad, ciphertext)
        }
    }
}
