//! The primitives of one MLS cipher suite (RFC 9420 §5.1, §17.1) on aws-lc-rs: hash, HMAC,
//! HKDF (RFC 5869), AEAD, Diffie-Hellman for DHKEM (RFC 9180 §4.1, §7.1) and signatures
//! (RFC 9420 §5.1.2, RFC 8032).

use std::sync::{Arc, Mutex};

use aws_lc_rs::{aead, agreement, digest, hkdf, hmac, rand, signature};
use conclave_crypto::{
    AeadAlgorithm, CipherSuite, CipherSuiteProvider, CryptoError, CryptoRandom, KdfAlgorithm,
    KemAlgorithm, ML_DSA_SEED_LEN, MlKemParams, Secret, SignatureAlgorithm, SignatureToVerify,
};
use signature::KeyPair as _;
use zeroize::Zeroizing;

use crate::ec::Curve;

/// Length of an X25519 secret or public key (RFC 7748 §5).
const X25519_KEY_LEN: usize = 32;
/// Length of an Ed25519 seed (RFC 8032 §5.1.5).
const ED25519_SEED_LEN: usize = 32;
/// Length of an Ed25519 public key (RFC 8032 §5.1.5).
const ED25519_PUBLIC_KEY_LEN: usize = 32;
/// Length of an Ed25519 signature (RFC 8032 §5.1.6).
const ED25519_SIGNATURE_LEN: usize = 64;
/// Length of the AEAD tag for all MLS AEADs (RFC 9180 §7.3 `Nt`).
const AEAD_TAG_LEN: usize = 16;
/// How many out-of-range candidates ECDSA key generation tolerates before it concludes the
/// random source is broken (each try fails with probability below 2^-32 for these curves).
const MAX_SCALAR_ATTEMPTS: usize = 256;

/// The Diffie-Hellman group of the suite's KEM.
#[derive(Debug, Clone, Copy)]
enum DhGroup {
    X25519,
    Nist(Curve),
}

/// The suite's signature scheme.
#[derive(Debug, Clone, Copy)]
enum SigScheme {
    Ed25519,
    Ecdsa(Curve),
    /// ML-DSA (FIPS 204): the parameter set, its signing and verification algorithms.
    MlDsa(
        SignatureAlgorithm,
        &'static signature::PqdsaSigningAlgorithm,
        &'static signature::PqdsaVerificationAlgorithm,
    ),
}

/// Output length for aws-lc-rs HKDF-Expand.
struct OkmLen(usize);

impl hkdf::KeyType for OkmLen {
    fn len(&self) -> usize {
        self.0
    }
}

/// The aws-lc-rs implementation of one cipher suite ([`CipherSuiteProvider`]).
///
/// Obtained from [`crate::AwsLcProvider`] or [`AwsLcCipherSuite::new`]; cheap to clone
/// (clones share the signing-key cache).
#[derive(Debug, Clone)]
pub struct AwsLcCipherSuite {
    suite: CipherSuite,
    kem: KemAlgorithm,
    kdf: KdfAlgorithm,
    aead: AeadAlgorithm,
    signature: SignatureAlgorithm,
    digest: &'static digest::Algorithm,
    hmac: hmac::Algorithm,
    hkdf: hkdf::Algorithm,
    aead_alg: &'static aead::Algorithm,
    /// The DHKEM's group, or a hybrid KEM's traditional half; `None` for pure ML-KEM.
    dh: Option<DhGroup>,
    sig: SigScheme,
    /// The last Ed25519 key used to sign, loaded: aws-lc computes the public key when it
    /// loads a seed, which would double the cost of every signature (a group member signs
    /// with one key, message after message).
    ed25519_signer: Arc<Mutex<Option<LoadedEd25519>>>,
}

/// An Ed25519 key pair loaded from `seed` (kept to recognise the key; zeroized on drop).
struct LoadedEd25519 {
    seed: Zeroizing<Vec<u8>>,
    key_pair: signature::Ed25519KeyPair,
}

impl core::fmt::Debug for LoadedEd25519 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("LoadedEd25519(..)")
    }
}

/// The error for a DH operation on a pure ML-KEM suite, which has no DH group.
const NO_DH: CryptoError = CryptoError::Backend("this suite's KEM has no Diffie-Hellman group");

impl AwsLcCipherSuite {
    /// The provider for `suite`, or `None` unless it is one of suites 1, 2, 3, 5, 7
    /// (RFC 9420 §17.1) or a post-quantum suite (draft-ietf-mls-pq-ciphersuites §3).
    pub fn new(suite: CipherSuite) -> Option<Self> {
        let (kem, kdf, aead, signature) = suite.algorithms()?;
        let dh = match kem.dh_group() {
            Some(KemAlgorithm::DhKemX25519) => Some(DhGroup::X25519),
            Some(KemAlgorithm::DhKemP256) => Some(DhGroup::Nist(Curve::P256)),
            Some(KemAlgorithm::DhKemP384) => Some(DhGroup::Nist(Curve::P384)),
            Some(KemAlgorithm::DhKemP521) => Some(DhGroup::Nist(Curve::P521)),
            // Pure ML-KEM (see `crate::mlkem`).
            None => None,
            // X448 is not in aws-lc-rs.
            Some(_) => return None,
        };
        let sig = match signature {
            SignatureAlgorithm::Ed25519 => SigScheme::Ed25519,
            SignatureAlgorithm::EcdsaP256Sha256 => SigScheme::Ecdsa(Curve::P256),
            SignatureAlgorithm::EcdsaP384Sha384 => SigScheme::Ecdsa(Curve::P384),
            SignatureAlgorithm::EcdsaP521Sha512 => SigScheme::Ecdsa(Curve::P521),
            SignatureAlgorithm::MlDsa44 => SigScheme::MlDsa(
                signature,
                &signature::ML_DSA_44_SIGNING,
                &signature::ML_DSA_44,
            ),
            SignatureAlgorithm::MlDsa65 => SigScheme::MlDsa(
                signature,
                &signature::ML_DSA_65_SIGNING,
                &signature::ML_DSA_65,
            ),
            SignatureAlgorithm::MlDsa87 => SigScheme::MlDsa(
                signature,
                &signature::ML_DSA_87_SIGNING,
                &signature::ML_DSA_87,
            ),
            SignatureAlgorithm::Ed448 => return None,
        };
        let (digest, hmac, hkdf) = match kdf {
            KdfAlgorithm::HkdfSha256 => (&digest::SHA256, hmac::HMAC_SHA256, hkdf::HKDF_SHA256),
            KdfAlgorithm::HkdfSha384 => (&digest::SHA384, hmac::HMAC_SHA384, hkdf::HKDF_SHA384),
            KdfAlgorithm::HkdfSha512 => (&digest::SHA512, hmac::HMAC_SHA512, hkdf::HKDF_SHA512),
        };
        let aead_alg = match aead {
            AeadAlgorithm::Aes128Gcm => &aead::AES_128_GCM,
            AeadAlgorithm::Aes256Gcm => &aead::AES_256_GCM,
            AeadAlgorithm::ChaCha20Poly1305 => &aead::CHACHA20_POLY1305,
        };
        Some(Self {
            suite,
            kem,
            kdf,
            aead,
            signature,
            digest,
            hmac,
            hkdf,
            aead_alg,
            dh,
            sig,
            ed25519_signer: Arc::new(Mutex::new(None)),
        })
    }

    /// A `LessSafeKey` (arbitrary caller nonces, as HPKE and the MLS secret tree need) for
    /// `key`, and the parsed nonce.
    fn aead_key_and_nonce(
        &self,
        key: &[u8],
        nonce: &[u8],
    ) -> Result<(aead::LessSafeKey, aead::Nonce), CryptoError> {
        if key.len() != self.aead.key_len() {
            return Err(CryptoError::InvalidKey {
                kind: "AEAD",
                reason: "wrong length",
            });
        }
        let nonce = aead::Nonce::try_assume_unique_for_key(nonce).map_err(|_| {
            CryptoError::InvalidLength {
                what: "AEAD nonce",
                len: nonce.len(),
            }
        })?;
        let key =
            aead::UnboundKey::new(self.aead_alg, key).map_err(|_| CryptoError::InvalidKey {
                kind: "AEAD",
                reason: "rejected",
            })?;
        Ok((aead::LessSafeKey::new(key), nonce))
    }

    /// An ECDSA key pair from a scalar in `[1, n-1]` (RFC 9420 §5.1.2 key encoding).
    fn ecdsa_key_pair(
        curve: Curve,
        secret_key: &[u8],
    ) -> Result<signature::EcdsaKeyPair, CryptoError> {
        // `from_private_key_and_public_key` wants the public point too; computing it through
        // the ECDH key type is cheap. (A key parsed from RFC 5915 DER instead was measured
        // an order of magnitude slower to sign with: ~220 µs against ~16 µs on P-256.)
        let public_key = Self::ecdsa_public_key(curve, secret_key)?;
        signature::EcdsaKeyPair::from_private_key_and_public_key(
            curve.ecdsa_signing(),
            secret_key,
            &public_key,
        )
        .map_err(|_| CryptoError::InvalidKey {
            kind: "signature secret",
            reason: "rejected by aws-lc",
        })
    }

    /// The uncompressed public point of an ECDSA scalar in `[1, n-1]`.
    fn ecdsa_public_key(curve: Curve, secret_key: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if !curve.scalar_is_valid(secret_key) {
            return Err(CryptoError::InvalidKey {
                kind: "signature secret",
                reason: "not a scalar in [1, n-1] of the curve's length",
            });
        }
        // The ECDH key type computes the same point and serializes it uncompressed.
        let private_key = agreement::PrivateKey::from_private_key(curve.agreement(), secret_key)
            .map_err(|_| CryptoError::InvalidKey {
                kind: "signature secret",
                reason: "rejected by aws-lc",
            })?;
        let public_key = private_key
            .compute_public_key()
            .map_err(|_| CryptoError::Backend("computing an ECDSA public key"))?;
        Ok(public_key.as_ref().to_vec())
    }

    /// An Ed25519 key pair from its RFC 8032 seed.
    fn ed25519_key_pair(seed: &[u8]) -> Result<signature::Ed25519KeyPair, CryptoError> {
        if seed.len() != ED25519_SEED_LEN {
            return Err(CryptoError::InvalidKey {
                kind: "signature secret",
                reason: "Ed25519 seed must be 32 bytes",
            });
        }
        signature::Ed25519KeyPair::from_seed_unchecked(seed).map_err(|_| CryptoError::InvalidKey {
            kind: "signature secret",
            reason: "rejected by aws-lc",
        })
    }

    /// Signs with the cached key pair when `seed` is the cached key's (compared in constant
    /// time), else loads it and caches it.
    fn ed25519_sign(&self, seed: &[u8], message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let sign = |key_pair: &signature::Ed25519KeyPair| {
            key_pair
                .try_sign(message)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(|_| CryptoError::Backend("Ed25519"))
        };
        // A poisoned lock only means another signer panicked: the cache is rebuilt.
        let mut cached = match self.ed25519_signer.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(loaded) = cached.as_ref()
            && conclave_crypto::ct_eq(&loaded.seed, seed)
        {
            return sign(&loaded.key_pair);
        }
        let key_pair = Self::ed25519_key_pair(seed)?;
        let signature = sign(&key_pair)?;
        *cached = Some(LoadedEd25519 {
            seed: Zeroizing::new(seed.to_vec()),
            key_pair,
        });
        Ok(signature)
    }

    /// An ECDH/X25519 private key from its serialized form, checked as
    /// [`CipherSuiteProvider::dh_secret_key_is_valid`] requires.
    fn dh_private_key(&self, secret_key: &[u8]) -> Result<agreement::PrivateKey, CryptoError> {
        if !self.dh_secret_key_is_valid(secret_key) {
            return Err(CryptoError::InvalidKey {
                kind: "DH secret",
                reason: "wrong length or scalar out of range",
            });
        }
        let alg = match self.dh {
            Some(DhGroup::X25519) => &agreement::X25519,
            Some(DhGroup::Nist(curve)) => curve.agreement(),
            None => return Err(NO_DH),
        };
        agreement::PrivateKey::from_private_key(alg, secret_key).map_err(|_| {
            CryptoError::InvalidKey {
                kind: "DH secret",
                reason: "rejected by aws-lc",
            }
        })
    }

    /// HKDF-Expand computed directly from HMAC (RFC 5869 §2.3), for PRKs longer than the
    /// aws-lc-rs `Prk` type accepts. `len` has already been checked against `255 * Nh`.
    fn hkdf_expand_with_hmac(
        &self,
        prk: &[u8],
        info: &[u8],
        len: usize,
    ) -> Result<Secret, CryptoError> {
        let key = hmac::Key::new(self.hmac, prk);
        let nh = self.hash_len();
        let mut okm = Zeroizing::new(vec![0u8; len]);
        // The HMAC input of block i is T(i-1) || info || i, with T(0) empty.
        let mut input = Zeroizing::new(Vec::with_capacity(nh + info.len() + 1));
        let mut block = Zeroizing::new([0u8; digest::MAX_OUTPUT_LEN]);
        let mut counter: u8 = 1;
        for chunk in okm.chunks_mut(nh) {
            input.extend_from_slice(info);
            input.push(counter);
            let t = hmac::sign_to_buffer(&key, &input, block.as_mut_slice())
                .map_err(|_| CryptoError::Backend("HKDF-Expand"))?;
            for (dst, src) in chunk.iter_mut().zip(t.iter()) {
                *dst = *src;
            }
            input.clear();
            input.extend_from_slice(t);
            counter = counter.wrapping_add(1);
        }
        Ok(Secret::new(core::mem::take(&mut *okm)))
    }

    /// `DH(sk, pk)` with a loaded private key, accepting only the raw RFC 9180
    /// `SerializePublicKey` form of `public_key`.
    fn agree(
        &self,
        private_key: &agreement::PrivateKey,
        public_key: &[u8],
    ) -> Result<Secret, CryptoError> {
        let (alg, shape_ok) = match self.dh {
            Some(DhGroup::X25519) => (&agreement::X25519, public_key.len() == X25519_KEY_LEN),
            Some(DhGroup::Nist(curve)) => (
                curve.agreement(),
                curve.public_key_has_uncompressed_form(public_key),
            ),
            None => return Err(NO_DH),
        };
        // Only the raw RFC 9180 SerializePublicKey form is accepted (not X.509 or
        // compressed points, which aws-lc would otherwise parse too).
        if !shape_ok {
            return Err(CryptoError::InvalidKey {
                kind: "DH public",
                reason: "wrong encoding",
            });
        }
        let peer = agreement::UnparsedPublicKey::new(alg, public_key);
        // aws-lc checks that a NIST point is on the curve and rejects the all-zero X25519
        // output (RFC 7748 §6.1); the zero check below repeats the latter for defence.
        let shared = agreement::agree(
            private_key,
            peer,
            CryptoError::DhFailed("invalid peer public key or zero shared secret"),
            |raw| Ok(Secret::from_slice(raw)),
        )?;
        let all_zero = shared.as_bytes().iter().fold(0u8, |acc, b| acc | b) == 0;
        if all_zero {
            return Err(CryptoError::DhFailed("all-zero shared secret"));
        }
        Ok(shared)
    }
}

/// Maps any aws-lc-rs signature failure to [`CryptoError::InvalidSignature`].
fn bad_signature<E>(_: E) -> CryptoError {
    CryptoError::InvalidSignature
}

impl CipherSuiteProvider for AwsLcCipherSuite {
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
        digest::digest(self.digest, data).as_ref().to_vec()
    }

    fn hash_parts(&self, parts: &[&[u8]]) -> Vec<u8> {
        let mut context = digest::Context::new(self.digest);
        for part in parts {
            context.update(part);
        }
        context.finish().as_ref().to_vec()
    }

    fn mac(&self, key: &[u8], data: &[u8]) -> Vec<u8> {
        hmac::sign(&hmac::Key::new(self.hmac, key), data)
            .as_ref()
            .to_vec()
    }

    /// HKDF-Extract is `HMAC-Hash(salt, IKM)` (RFC 5869 §2.2); an empty salt is the same as
    /// `Nh` zero bytes because HMAC zero-pads its key.
    fn kdf_extract(&self, salt: &[u8], ikm: &[u8]) -> Secret {
        let key = hmac::Key::new(self.hmac, salt);
        let mut prk = Zeroizing::new(vec![0u8; self.hash_len()]);
        match hmac::sign_to_buffer(&key, ikm, &mut prk) {
            Ok(_) => Secret::new(core::mem::take(&mut *prk)),
            // The buffer is exactly Nh bytes, so this cannot happen; fall back to the
            // allocating form rather than panicking.
            Err(_) => {
                let mut ctx = hmac::Context::with_key(&key);
                ctx.update(ikm);
                Secret::from_slice(ctx.sign().as_ref())
            }
        }
    }

    fn kdf_expand(&self, prk: &[u8], info: &[u8], len: usize) -> Result<Secret, CryptoError> {
        let nh = self.hash_len();
        if len > 255 * nh {
            return Err(CryptoError::InvalidLength {
                what: "HKDF-Expand output",
                len,
            });
        }
        if prk.len() < nh {
            return Err(CryptoError::InvalidLength {
                what: "HKDF-Expand PRK",
                len: prk.len(),
            });
        }
        if prk.len() > digest::MAX_OUTPUT_LEN {
            return self.hkdf_expand_with_hmac(prk, info, len);
        }
        let prk = hkdf::Prk::new_less_safe(self.hkdf, prk);
        let info = [info];
        let okm = prk
            .expand(&info, OkmLen(len))
            .map_err(|_| CryptoError::InvalidLength {
                what: "HKDF-Expand output",
                len,
            })?;
        let mut out = Zeroizing::new(vec![0u8; len]);
        okm.fill(&mut out)
            .map_err(|_| CryptoError::Backend("HKDF-Expand"))?;
        Ok(Secret::new(core::mem::take(&mut *out)))
    }

    fn aead_seal(
        &self,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let (key, nonce) = self.aead_key_and_nonce(key, nonce)?;
        let mut out = Vec::with_capacity(plaintext.len() + AEAD_TAG_LEN);
        out.extend_from_slice(plaintext);
        key.seal_in_place_append_tag(nonce, aead::Aad::from(aad), &mut out)
            .map_err(|_| CryptoError::InvalidLength {
                what: "AEAD plaintext",
                len: plaintext.len(),
            })?;
        Ok(out)
    }

    fn aead_open(
        &self,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Secret, CryptoError> {
        let (key, nonce) = self.aead_key_and_nonce(key, nonce)?;
        let body_len = ciphertext
            .len()
            .checked_sub(AEAD_TAG_LEN)
            .ok_or(CryptoError::AeadOpenFailed)?;
        let (body, tag) = ciphertext
            .split_at_checked(body_len)
            .ok_or(CryptoError::AeadOpenFailed)?;
        // Decrypt straight into the (zeroized) output buffer: no copy of the ciphertext.
        let mut plaintext = Zeroizing::new(vec![0u8; body_len]);
        key.open_separate_gather(nonce, aead::Aad::from(aad), body, tag, &mut plaintext)
            .map_err(|_| CryptoError::AeadOpenFailed)?;
        Ok(Secret::new(core::mem::take(&mut *plaintext)))
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

    fn dh_secret_key_is_valid(&self, secret_key: &[u8]) -> bool {
        match self.dh {
            Some(DhGroup::X25519) => secret_key.len() == X25519_KEY_LEN,
            Some(DhGroup::Nist(curve)) => curve.scalar_is_valid(secret_key),
            None => false,
        }
    }

    fn dh_public_key(&self, secret_key: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let private_key = self.dh_private_key(secret_key)?;
        let public_key = private_key
            .compute_public_key()
            .map_err(|_| CryptoError::Backend("computing a DH public key"))?;
        Ok(public_key.as_ref().to_vec())
    }

    fn dh(&self, secret_key: &[u8], public_key: &[u8]) -> Result<Secret, CryptoError> {
        let private_key = self.dh_private_key(secret_key)?;
        self.agree(&private_key, public_key)
    }

    /// Loading a secret key into aws-lc computes its public key; one key object serves both.
    fn dh_with_public_key(
        &self,
        secret_key: &[u8],
        public_key: &[u8],
    ) -> Result<(Secret, Vec<u8>), CryptoError> {
        let private_key = self.dh_private_key(secret_key)?;
        let own_public = private_key
            .compute_public_key()
            .map_err(|_| CryptoError::Backend("computing a DH public key"))?;
        let shared = self.agree(&private_key, public_key)?;
        Ok((shared, own_public.as_ref().to_vec()))
    }
    fn signature_generate(
        &self,
        rng: &mut dyn CryptoRandom,
    ) -> Result<(Secret, Vec<u8>), CryptoError> {
        match self.sig {
            SigScheme::Ed25519 => {
                let mut seed = Zeroizing::new(vec![0u8; ED25519_SEED_LEN]);
                rng.fill(&mut seed)?;
                let public_key = self.signature_public_key(&seed)?;
                Ok((Secret::new(core::mem::take(&mut *seed)), public_key))
            }
            SigScheme::Ecdsa(curve) => {
                // Rejection sampling: draw Nsk bytes, mask the excess top bits (P-521),
                // keep the first candidate in [1, n-1].
                let mut scalar = Zeroizing::new(vec![0u8; curve.scalar_len()]);
                for _ in 0..MAX_SCALAR_ATTEMPTS {
                    rng.fill(&mut scalar)?;
                    if let Some(first) = scalar.first_mut() {
                        *first &= curve.first_byte_mask();
                    }
                    if curve.scalar_is_valid(&scalar) {
                        let public_key = self.signature_public_key(&scalar)?;
                        return Ok((Secret::new(core::mem::take(&mut *scalar)), public_key));
                    }
                }
                Err(CryptoError::RandomFailed)
            }
            SigScheme::MlDsa(..) => {
                // ML-DSA.KeyGen (FIPS 204 Algorithm 1): the seed ξ from the caller's source.
                let mut seed = Zeroizing::new(vec![0u8; ML_DSA_SEED_LEN]);
                rng.fill(&mut seed)?;
                let public_key = self.signature_public_key(&seed)?;
                Ok((Secret::new(core::mem::take(&mut *seed)), public_key))
            }
        }
    }

    fn signature_public_key(&self, secret_key: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match self.sig {
            SigScheme::Ed25519 => Ok(Self::ed25519_key_pair(secret_key)?
                .public_key()
                .as_ref()
                .to_vec()),
            SigScheme::Ecdsa(curve) => Self::ecdsa_public_key(curve, secret_key),
            SigScheme::MlDsa(_, signing, _) => Ok(ml_dsa_key_pair(signing, secret_key)?
                .public_key()
                .as_ref()
                .to_vec()),
        }
    }

    fn sign(&self, secret_key: &[u8], message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match self.sig {
            SigScheme::Ed25519 => self.ed25519_sign(secret_key, message),
            SigScheme::Ecdsa(curve) => {
                let key_pair = Self::ecdsa_key_pair(curve, secret_key)?;
                // aws-lc-rs ignores this argument and draws the ECDSA nonce internally.
                let sig = key_pair
                    .sign(&rand::SystemRandom::new(), message)
                    .map_err(|_| CryptoError::Backend("ECDSA signing"))?;
                Ok(sig.as_ref().to_vec())
            }
            SigScheme::MlDsa(_, signing, _) => {
                // ML-DSA.Sign (FIPS 204 Algorithm 2), pure, empty context; aws-lc signs
                // hedged, drawing `rnd` internally (the provider trait allows either variant).
                let key_pair = ml_dsa_key_pair(signing, secret_key)?;
                let mut sig = vec![0u8; signing.signature_len()];
                let len = key_pair
                    .sign(message, &mut sig)
                    .map_err(|_| CryptoError::Backend("ML-DSA signing"))?;
                sig.truncate(len);
                Ok(sig)
            }
        }
    }

    fn verify_all(&self, signatures: &[SignatureToVerify<'_>]) -> Result<(), CryptoError> {
        conclave_ed25519_batch::verify_all(
            signatures,
            matches!(self.sig, SigScheme::Ed25519),
            |s| self.verify(s.public_key, s.message, s.signature),
        )
    }

    fn verify(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), CryptoError> {
        match self.sig {
            SigScheme::Ed25519 => {
                if public_key.len() != ED25519_PUBLIC_KEY_LEN {
                    return Err(CryptoError::InvalidKey {
                        kind: "signature public",
                        reason: "Ed25519 public key must be 32 bytes",
                    });
                }
                if signature.len() != ED25519_SIGNATURE_LEN {
                    return Err(CryptoError::InvalidSignature);
                }
                signature::UnparsedPublicKey::new(&signature::ED25519, public_key)
                    .verify(message, signature)
                    .map_err(bad_signature)
            }
            SigScheme::Ecdsa(curve) => {
                if !curve.public_key_has_uncompressed_form(public_key) {
                    return Err(CryptoError::InvalidKey {
                        kind: "signature public",
                        reason: "not an uncompressed SEC 1 point of the curve",
                    });
                }
                signature::UnparsedPublicKey::new(curve.ecdsa_verification(), public_key)
                    .verify(message, signature)
                    .map_err(bad_signature)
            }
            SigScheme::MlDsa(scheme, _, verification) => {
                // Only the raw `pkEncode` bytes (aws-lc would also parse a DER SPKI).
                let Some((public_len, signature_len)) = scheme.ml_dsa_lengths() else {
                    return Err(CryptoError::Backend("not an ML-DSA signature scheme"));
                };
                if public_key.len() != public_len {
                    return Err(CryptoError::InvalidKey {
                        kind: "signature public",
                        reason: "not an ML-DSA public key of the suite's parameter set",
                    });
                }
                if signature.len() != signature_len {
                    return Err(CryptoError::InvalidSignature);
                }
                signature::UnparsedPublicKey::new(verification, public_key)
                    .verify(message, signature)
                    .map_err(bad_signature)
            }
        }
    }
}

/// The ML-DSA key pair `ML-DSA.KeyGen_internal(ξ)` (FIPS 204 Algorithm 6) of a 32-byte seed.
fn ml_dsa_key_pair(
    algorithm: &'static signature::PqdsaSigningAlgorithm,
    seed: &[u8],
) -> Result<signature::PqdsaKeyPair, CryptoError> {
    signature::PqdsaKeyPair::from_seed(algorithm, seed).map_err(|_| CryptoError::InvalidKey {
        kind: "signature secret",
        reason: "an ML-DSA secret key is a 32-byte seed",
    })
}
