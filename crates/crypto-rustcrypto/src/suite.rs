//! The per-suite provider: dispatches each primitive of [`CipherSuiteProvider`] to the
//! algorithm that the cipher suite names (RFC 9420 §5.1, §17.1).

use crate::montgomery::x25519;
use crate::nist::{p256_ops, p384_ops, p521_ops};
use crate::{aead, eddsa::ed25519, hash, mldsa};
#[cfg(feature = "x448")]
use crate::{eddsa::ed448, montgomery::x448};
use conclave_crypto::{
    AeadAlgorithm, CipherSuite, CipherSuiteProvider, CryptoError, CryptoRandom, KdfAlgorithm,
    KemAlgorithm, MlKemParams, Secret, SignatureAlgorithm, SignatureToVerify,
};

/// The error for an X448/Ed448 operation when the `x448` feature is off. Unreachable in
/// practice: the provider hands out no suite that needs them.
#[cfg(not(feature = "x448"))]
const NO_X448: CryptoError = CryptoError::Backend("X448/Ed448 support needs the `x448` feature");

/// The error for a DH operation on a pure ML-KEM suite, which has no DH group.
const NO_DH: CryptoError = CryptoError::Backend("this suite's KEM has no Diffie-Hellman group");

/// One cipher suite's primitives on the RustCrypto crates.
#[derive(Debug, Clone)]
pub(crate) struct RustCryptoSuite {
    suite: CipherSuite,
    kem: KemAlgorithm,
    kdf: KdfAlgorithm,
    aead: AeadAlgorithm,
    signature: SignatureAlgorithm,
    /// The last Ed25519 signing key, expanded (shared by clones).
    ed25519_signer: std::sync::Arc<ed25519::SignerCache>,
}

impl RustCryptoSuite {
    /// The provider for `suite`, or `None` if it is unknown or not compiled in.
    pub(crate) fn new(suite: CipherSuite) -> Option<Self> {
        let (kem, kdf, aead, signature) = suite.algorithms()?;
        if kem == KemAlgorithm::DhKemX448 && !cfg!(feature = "x448") {
            return None;
        }
        Some(Self {
            suite,
            kem,
            kdf,
            aead,
            signature,
            ed25519_signer: std::sync::Arc::default(),
        })
    }
}

impl RustCryptoSuite {
    /// The group of the suite's DHKEM or of its hybrid KEM's traditional half.
    fn dh_group(&self) -> KemAlgorithm {
        // A pure ML-KEM suite has none: fall back to the KEM, which matches no DH arm.
        self.kem.dh_group().unwrap_or(self.kem)
    }
}

impl CipherSuiteProvider for RustCryptoSuite {
    fn cipher_suite(&self) -> CipherSuite {
        self.suite
    }

    fn kem(&self) -> KemAlgorithm {
        self.kem
    }

    fn kdf(&self) -> KdfAlgorithm {
        self.kdf
    }

    fn aead(&self) -> AeadAlgorithm {
        self.aead
    }

    fn signature(&self) -> SignatureAlgorithm {
        self.signature
    }

    fn hash(&self, data: &[u8]) -> Vec<u8> {
        hash::hash(self.kdf, data)
    }

    fn hash_parts(&self, parts: &[&[u8]]) -> Vec<u8> {
        hash::hash_parts(self.kdf, parts)
    }

    fn mac(&self, key: &[u8], data: &[u8]) -> Vec<u8> {
        hash::mac(self.kdf, key, data)
    }

    fn kdf_extract(&self, salt: &[u8], ikm: &[u8]) -> Secret {
        hash::extract(self.kdf, salt, ikm)
    }

    fn kdf_expand(&self, prk: &[u8], info: &[u8], len: usize) -> Result<Secret, CryptoError> {
        hash::expand(self.kdf, prk, info, len)
    }

    fn aead_seal(
        &self,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        aead::seal(self.aead, key, nonce, aad, plaintext)
    }

    fn aead_open(
        &self,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Secret, CryptoError> {
        aead::open(self.aead, key, nonce, aad, ciphertext)
    }

    fn dh_secret_key_is_valid(&self, secret_key: &[u8]) -> bool {
        match self.dh_group() {
            KemAlgorithm::DhKemP256 => p256_ops::dh_secret_key_is_valid(secret_key),
            KemAlgorithm::DhKemP384 => p384_ops::dh_secret_key_is_valid(secret_key),
            KemAlgorithm::DhKemP521 => p521_ops::dh_secret_key_is_valid(secret_key),
            KemAlgorithm::DhKemX25519 => x25519::dh_secret_key_is_valid(secret_key),
            #[cfg(feature = "x448")]
            KemAlgorithm::DhKemX448 => x448::dh_secret_key_is_valid(secret_key),
            #[cfg(not(feature = "x448"))]
            KemAlgorithm::DhKemX448 => false,
            _ => false,
        }
    }

    fn dh_public_key(&self, secret_key: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match self.dh_group() {
            KemAlgorithm::DhKemP256 => p256_ops::dh_public_key(secret_key),
            KemAlgorithm::DhKemP384 => p384_ops::dh_public_key(secret_key),
            KemAlgorithm::DhKemP521 => p521_ops::dh_public_key(secret_key),
            KemAlgorithm::DhKemX25519 => x25519::dh_public_key(secret_key),
            #[cfg(feature = "x448")]
            KemAlgorithm::DhKemX448 => x448::dh_public_key(secret_key),
            #[cfg(not(feature = "x448"))]
            KemAlgorithm::DhKemX448 => Err(NO_X448),
            _ => Err(NO_DH),
        }
    }

    fn dh(&self, secret_key: &[u8], public_key: &[u8]) -> Result<Secret, CryptoError> {
        match self.dh_group() {
            KemAlgorithm::DhKemP256 => p256_ops::dh(secret_key, public_key),
            KemAlgorithm::DhKemP384 => p384_ops::dh(secret_key, public_key),
            KemAlgorithm::DhKemP521 => p521_ops::dh(secret_key, public_key),
            KemAlgorithm::DhKemX25519 => x25519::dh(secret_key, public_key),
            #[cfg(feature = "x448")]
            KemAlgorithm::DhKemX448 => x448::dh(secret_key, public_key),
            #[cfg(not(feature = "x448"))]
            KemAlgorithm::DhKemX448 => Err(NO_X448),
            _ => Err(NO_DH),
        }
    }

    fn ml_kem_public_key(&self, params: MlKemParams, seed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        conclave_crypto::mlkem::public_key(params, seed)
    }

    fn ml_kem_encap(
        &self,
        params: MlKemParams,
        encapsulation_key: &[u8],
        randomness: &[u8],
    ) -> Result<(Secret, Vec<u8>), CryptoError> {
        conclave_crypto::mlkem::encap(params, encapsulation_key, randomness)
    }

    fn ml_kem_decap(
        &self,
        params: MlKemParams,
        seed: &[u8],
        ciphertext: &[u8],
    ) -> Result<Secret, CryptoError> {
        conclave_crypto::mlkem::decap(params, seed, ciphertext)
    }

    fn signature_generate(
        &self,
        rng: &mut dyn CryptoRandom,
    ) -> Result<(Secret, Vec<u8>), CryptoError> {
        match self.signature {
            SignatureAlgorithm::EcdsaP256Sha256 => p256_ops::signature_generate(rng),
            SignatureAlgorithm::EcdsaP384Sha384 => p384_ops::signature_generate(rng),
            SignatureAlgorithm::EcdsaP521Sha512 => p521_ops::signature_generate(rng),
            SignatureAlgorithm::Ed25519 => ed25519::signature_generate(rng),
            #[cfg(feature = "x448")]
            SignatureAlgorithm::Ed448 => ed448::signature_generate(rng),
            #[cfg(not(feature = "x448"))]
            SignatureAlgorithm::Ed448 => Err(NO_X448),
            SignatureAlgorithm::MlDsa44
            | SignatureAlgorithm::MlDsa65
            | SignatureAlgorithm::MlDsa87 => mldsa::signature_generate(self.signature, rng),
        }
    }

    fn signature_public_key(&self, secret_key: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match self.signature {
            SignatureAlgorithm::EcdsaP256Sha256 => p256_ops::signature_public_key(secret_key),
            SignatureAlgorithm::EcdsaP384Sha384 => p384_ops::signature_public_key(secret_key),
            SignatureAlgorithm::EcdsaP521Sha512 => p521_ops::signature_public_key(secret_key),
            SignatureAlgorithm::Ed25519 => ed25519::signature_public_key(secret_key),
            #[cfg(feature = "x448")]
            SignatureAlgorithm::Ed448 => ed448::signature_public_key(secret_key),
            #[cfg(not(feature = "x448"))]
            SignatureAlgorithm::Ed448 => Err(NO_X448),
            SignatureAlgorithm::MlDsa44
            | SignatureAlgorithm::MlDsa65
            | SignatureAlgorithm::MlDsa87 => {
                mldsa::signature_public_key(self.signature, secret_key)
            }
        }
    }

    fn sign(&self, secret_key: &[u8], message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match self.signature {
            SignatureAlgorithm::EcdsaP256Sha256 => p256_ops::sign(secret_key, message),
            SignatureAlgorithm::EcdsaP384Sha384 => p384_ops::sign(secret_key, message),
            SignatureAlgorithm::EcdsaP521Sha512 => p521_ops::sign(secret_key, message),
            SignatureAlgorithm::Ed25519 => self.ed25519_signer.sign(secret_key, message),
            #[cfg(feature = "x448")]
            SignatureAlgorithm::Ed448 => ed448::sign(secret_key, message),
            #[cfg(not(feature = "x448"))]
            SignatureAlgorithm::Ed448 => Err(NO_X448),
            SignatureAlgorithm::MlDsa44
            | SignatureAlgorithm::MlDsa65
            | SignatureAlgorithm::MlDsa87 => {
                mldsa::signature_sign(self.signature, secret_key, message)
            }
        }
    }

    fn verify_all(&self, signatures: &[SignatureToVerify<'_>]) -> Result<(), CryptoError> {
        conclave_ed25519_batch::verify_all(
            signatures,
            matches!(self.signature, SignatureAlgorithm::Ed25519),
            |s| self.verify(s.public_key, s.message, s.signature),
        )
    }

    fn verify(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), CryptoError> {
        match self.signature {
            SignatureAlgorithm::EcdsaP256Sha256 => p256_ops::verify(public_key, message, signature),
            SignatureAlgorithm::EcdsaP384Sha384 => p384_ops::verify(public_key, message, signature),
            SignatureAlgorithm::EcdsaP521Sha512 => p521_ops::verify(public_key, message, signature),
            SignatureAlgorithm::Ed25519 => ed25519::verify(public_key, message, signature),
            #[cfg(feature = "x448")]
            SignatureAlgorithm::Ed448 => ed448::verify(public_key, message, signature),
            #[cfg(not(feature = "x448"))]
            SignatureAlgorithm::Ed448 => Err(NO_X448),
            SignatureAlgorithm::MlDsa44
            | SignatureAlgorithm::MlDsa65
            | SignatureAlgorithm::MlDsa87 => {
                mldsa::signature_verify(self.signature, public_key, message, signature)
            }
        }
    }
}
