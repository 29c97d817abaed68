//! The traits a cryptographic backend implements.
//!
//! One [`CipherSuiteProvider`] object per cipher suite, object-safe, exposing the primitive
//! operations MLS needs: hash, HMAC, HKDF, AEAD, Diffie-Hellman for DHKEM, and signatures.
//! HPKE itself is built on top of these in [`crate::hpke`]; backends never implement it.
//!
//! Key encodings follow the test-vector conventions (test-vectors/FORMATS.md):
//! DH and ECDSA secret keys are big-endian scalars (X25519/X448: the raw 32/56 bytes),
//! EdDSA secret keys are the RFC 8032 seed; public keys are the raw RFC 9180
//! `SerializePublicKey` (uncompressed SEC1 for NIST curves) or RFC 8032 encodings;
//! ECDSA signatures are DER-encoded (RFC 9420 §5.1.2).
//!
//! ML-DSA (FIPS 204; draft-ietf-mls-pq-ciphersuites §3 through draft-ietf-tls-mldsa): the
//! secret key is the 32-byte seed `ξ` of `ML-DSA.KeyGen_internal` (Algorithm 6), the public
//! key and the signature are FIPS 204's `pkEncode` / `sigEncode` bytes. Signing is pure
//! `ML-DSA.Sign` (Algorithm 2) with an empty context string over the whole message (MLS
//! `SignWithLabel` already binds its label into the `SignContent`, RFC 9420 §5.1.2).
//! Whether a backend signs deterministically or hedged is its own choice: verification
//! cannot tell, and FIPS 204 §3.4 allows both.

use crate::{AeadAlgorithm, KdfAlgorithm, KemAlgorithm, MlKemParams, SignatureAlgorithm};
use crate::{CipherSuite, CryptoError, Secret};

/// A source of randomness, injected by the caller (the protocol crates read no OS randomness).
pub trait CryptoRandom {
    /// Fills `dest` with random bytes.
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), CryptoError>;
}

/// A backend: hands out one provider per supported cipher suite.
pub trait CryptoProvider: Send + Sync {
    /// A short name for logs and conformance output ("aws-lc-rs", "rustcrypto").
    fn name(&self) -> &'static str;

    /// The suites this backend implements.
    fn supported_cipher_suites(&self) -> Vec<CipherSuite>;

    /// The provider for one suite, or `None` if it is not supported.
    fn cipher_suite_provider(&self, suite: CipherSuite) -> Option<Box<dyn CipherSuiteProvider>>;
}

/// The primitives of one cipher suite.
///
/// All methods are pure functions of their inputs except the `*_generate` ones, which draw
/// from the supplied random source. Implementations must never panic on any input.
pub trait CipherSuiteProvider: Send + Sync {
    /// The suite implemented.
    fn cipher_suite(&self) -> CipherSuite;

    /// KEM of the suite.
    fn kem(&self) -> KemAlgorithm;
    /// KDF and hash of the suite.
    fn kdf(&self) -> KdfAlgorithm;
    /// AEAD of the suite.
    fn aead(&self) -> AeadAlgorithm;
    /// Signature scheme of the suite.
    fn signature(&self) -> SignatureAlgorithm;

    /// `Nh`: hash output length.
    fn hash_len(&self) -> usize {
        self.kdf().hash_len()
    }
    /// `Nk`: AEAD key length.
    fn aead_key_len(&self) -> usize {
        self.aead().key_len()
    }
    /// `Nn`: AEAD nonce length.
    fn aead_nonce_len(&self) -> usize {
        self.aead().nonce_len()
    }

    // ---- hash / MAC / KDF -------------------------------------------------------------

    /// The suite's hash function.
    fn hash(&self, data: &[u8]) -> Vec<u8>;

    /// The hash of the concatenation of `parts`, without building it: lets a large input
    /// (the encoded commit in the transcript hash, RFC 9420 §8.2) be hashed where it lies.
    /// The default concatenates; providers with an incremental hash override it.
    fn hash_parts(&self, parts: &[&[u8]]) -> Vec<u8> {
        self.hash(&parts.concat())
    }

    /// HMAC with the suite's hash (RFC 9420 §5.1 `MAC`).
    fn mac(&self, key: &[u8], data: &[u8]) -> Vec<u8>;

    /// HKDF-Extract(salt, ikm).
    fn kdf_extract(&self, salt: &[u8], ikm: &[u8]) -> Secret;

    /// HKDF-Expand(prk, info, len). Fails if `len > 255 * Nh` or `prk` is shorter than `Nh`.
    fn kdf_expand(&self, prk: &[u8], info: &[u8], len: usize) -> Result<Secret, CryptoError>;

    // ---- AEAD -------------------------------------------------------------------------

    /// AEAD encryption; returns ciphertext with the tag appended.
    fn aead_seal(
        &self,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError>;

    /// AEAD decryption of ciphertext-with-tag; [`CryptoError::AeadOpenFailed`] on a bad tag.
    fn aead_open(
        &self,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Secret, CryptoError>;

    // ---- Diffie-Hellman for DHKEM (RFC 9180 §4.1) ---------------------------------------

    /// Checks that `secret_key` is a valid DH secret key for the KEM: for NIST curves a
    /// big-endian scalar in `[1, n-1]` of exactly `Nsk` bytes; for X25519/X448 any `Nsk` bytes.
    /// HPKE DeriveKeyPair uses this for rejection sampling (RFC 9180 §7.1.3).
    fn dh_secret_key_is_valid(&self, secret_key: &[u8]) -> bool;

    /// The serialized public key (`SerializePublicKey(pk(sk))`) of a DH secret key.
    fn dh_public_key(&self, secret_key: &[u8]) -> Result<Vec<u8>, CryptoError>;

    /// `DH(sk, pk)`: the raw shared secret (x-coordinate for NIST curves). Rejects invalid
    /// public keys and an all-zero X25519/X448 output.
    fn dh(&self, secret_key: &[u8], public_key: &[u8]) -> Result<Secret, CryptoError>;

    /// `(DH(sk, pk), SerializePublicKey(pk(sk)))` in one call: DHKEM needs both for every
    /// Encap (the ephemeral public key is `enc`) and Decap (the recipient's public key is in
    /// `kem_context`), RFC 9180 §4.1. A backend whose key objects compute the public key
    /// anyway when they load a secret key overrides this so that it is computed once.
    fn dh_with_public_key(
        &self,
        secret_key: &[u8],
        public_key: &[u8],
    ) -> Result<(Secret, Vec<u8>), CryptoError> {
        Ok((
            self.dh(secret_key, public_key)?,
            self.dh_public_key(secret_key)?,
        ))
    }

    // ---- ML-KEM for the post-quantum KEMs (FIPS 203) ----------------------------------------
    //
    // HPKE builds ML-KEM-768/1024 and the hybrids of draft-ietf-mls-pq-ciphersuites §2 on
    // these three (see `hpke`); a hybrid's Diffie-Hellman half uses the `dh_*` operations
    // above on the group `KemAlgorithm::dh_group` names. The defaults refuse: a provider
    // without ML-KEM supports no post-quantum suite.

    /// `ML-KEM.KeyGen_internal(d, z)` (FIPS 203 §6.1) from the 64-byte seed `d || z`:
    /// the encapsulation key.
    fn ml_kem_public_key(&self, params: MlKemParams, seed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let _ = (params, seed);
        Err(CryptoError::UnsupportedCipherSuite(self.cipher_suite().0))
    }

    /// `ML-KEM.Encaps_internal(ek, m)` (FIPS 203 §6.2) with the 32 bytes of randomness `m`:
    /// `(shared_key, ciphertext)`. Must refuse an encapsulation key that fails the FIPS 203
    /// §7.2 input check (modulus check).
    fn ml_kem_encap(
        &self,
        params: MlKemParams,
        encapsulation_key: &[u8],
        randomness: &[u8],
    ) -> Result<(Secret, Vec<u8>), CryptoError> {
        let _ = (params, encapsulation_key, randomness);
        Err(CryptoError::UnsupportedCipherSuite(self.cipher_suite().0))
    }

    /// `ML-KEM.Decaps_internal(dk, c)` (FIPS 203 §6.3) with the decapsulation key expanded
    /// from its 64-byte seed; constant time, with implicit rejection.
    fn ml_kem_decap(
        &self,
        params: MlKemParams,
        seed: &[u8],
        ciphertext: &[u8],
    ) -> Result<Secret, CryptoError> {
        let _ = (params, seed, ciphertext);
        Err(CryptoError::UnsupportedCipherSuite(self.cipher_suite().0))
    }

    // ---- signatures -----------------------------------------------------------------------

    /// Generates a signature key pair `(secret, public)` from the random source.
    fn signature_generate(
        &self,
        rng: &mut dyn CryptoRandom,
    ) -> Result<(Secret, Vec<u8>), CryptoError>;

    /// The public key of a signature secret key.
    fn signature_public_key(&self, secret_key: &[u8]) -> Result<Vec<u8>, CryptoError>;

    /// Signs `message` (the scheme hashes it itself; ECDSA output is DER).
    fn sign(&self, secret_key: &[u8], message: &[u8]) -> Result<Vec<u8>, CryptoError>;

    /// Verifies `signature` over `message`; [`CryptoError::InvalidSignature`] if it fails.
    fn verify(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), CryptoError>;

    /// Verifies every signature of `signatures`: `Ok` only if each is valid. On failure it
    /// does not say which one: callers that must name it verify one by one afterwards.
    ///
    /// The default verifies one by one. A provider may check a whole batch at once where
    /// the scheme allows (Ed25519: RFC 8032 §5.1.7 with the cofactored equation, see the
    /// `conclave-ed25519-batch` crate), which is several times cheaper per signature.
    fn verify_all(&self, signatures: &[SignatureToVerify<'_>]) -> Result<(), CryptoError> {
        signatures
            .iter()
            .try_for_each(|s| self.verify(s.public_key, s.message, s.signature))
    }
}

/// One signature to check with [`CipherSuiteProvider::verify_all`].
#[derive(Debug, Clone, Copy)]
pub struct SignatureToVerify<'a> {
    /// The signer's public key.
    pub public_key: &'a [u8],
    /// The signed message (for MLS, the `SignContent` with its label, RFC 9420 §5.1.2).
    pub message: &'a [u8],
    /// The signature.
    pub signature: &'a [u8],
}
