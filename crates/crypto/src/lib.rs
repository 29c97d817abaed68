//! Cryptography for Conclave: the provider traits that a cipher-suite backend implements,
//! our own HPKE (RFC 9180) over those traits, and the labelled functions of RFC 9420 §5
//! (`ExpandWithLabel`, `DeriveSecret`, `SignWithLabel`, `EncryptWithLabel`, `RefHash`…).
//!
//! This crate does no I/O and reads no clock or OS randomness: every operation that needs
//! randomness takes a [`CryptoRandom`] source from the caller, so tests are deterministic.
//! Backends live in their own crates (`conclave-crypto-awslc`, `conclave-crypto-rustcrypto`).
#![forbid(unsafe_code)]

mod error;
pub mod hpke;
pub mod labels;
#[cfg(feature = "ml-kem")]
pub mod mlkem;
mod pq;
mod provider;
mod secret;
mod seeded;
pub mod signature_derive;
mod suite;

pub use error::CryptoError;
pub use provider::{CipherSuiteProvider, CryptoProvider, CryptoRandom, SignatureToVerify};
pub use secret::{Secret, ct_eq};
pub use seeded::SeededRng;
pub use suite::{
    AeadAlgorithm, CipherSuite, KdfAlgorithm, KemAlgorithm, ML_DSA_SEED_LEN, MlKemParams, PqHpke,
    SignatureAlgorithm,
};
