//! Cipher suites (RFC 9420 §5.1, §17.1) and the algorithms each one names.

/// An MLS cipher suite identifier (RFC 9420 §17.1).
///
/// A newtype rather than an enum: unknown and GREASE values must survive decoding
/// (RFC 9420 §13.5) even though no provider implements them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CipherSuite(pub u16);

/// KEM of a cipher suite (RFC 9180 §7.1 identifiers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KemAlgorithm {
    /// DHKEM(P-256, HKDF-SHA256), 0x0010.
    DhKemP256,
    /// DHKEM(P-384, HKDF-SHA384), 0x0011.
    DhKemP384,
    /// DHKEM(P-521, HKDF-SHA512), 0x0012.
    DhKemP521,
    /// DHKEM(X25519, HKDF-SHA256), 0x0020.
    DhKemX25519,
    /// DHKEM(X448, HKDF-SHA512), 0x0021.
    DhKemX448,
    /// ML-KEM-768 (FIPS 203) as an HPKE KEM, 0x0041 (draft-ietf-mls-pq-ciphersuites §2,
    /// through draft-ietf-hpke-pq), with the key derivation of its [`PqHpke`].
    MlKem768(PqHpke),
    /// ML-KEM-1024 (FIPS 203) as an HPKE KEM, 0x0042, with the key derivation of its
    /// [`PqHpke`].
    MlKem1024(PqHpke),
    /// MLKEM768-X25519, the X-Wing combiner (draft-connolly-cfrg-xwing-kem), 0x647a, with
    /// the key derivation of its [`PqHpke`].
    MlKem768X25519(PqHpke),
    /// MLKEM768-P256, the QSF hybrid of draft-irtf-cfrg-hybrid-kems, 0x0050.
    MlKem768P256,
    /// MLKEM1024-P384, the QSF hybrid of draft-irtf-cfrg-hybrid-kems, 0x0051.
    MlKem1024P384,
}

/// Which HPKE key derivation a post-quantum KEM uses (the one thing that differs between
/// the draft and what OpenMLS 0.9.2 computes).
///
/// The KEM itself (ML-KEM of FIPS 203; X-Wing: `expand_decaps_key` with SHAKE256, the
/// SHA3-256 combiner with the `\.//^\` label, `enc = ct_M || ct_X`, `pk = ek_M || ek_X`),
/// the KEM ids (0x0041, 0x0042, 0x647a), the private-key form (the ML-KEM seed `d || z`,
/// the 32-byte X-Wing seed) and HPKE's key schedule (RFC 9180 §5.1 with the suite's HKDF)
/// are the same under both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PqHpke {
    /// draft-ietf-hpke-pq §3, as draft-ietf-mls-pq-ciphersuites §2 asks:
    /// `DeriveKeyPair(ikm)` takes `sk = LabeledDerive(ikm, "DeriveKeyPair", "", Nsk)`
    /// (SHAKE256 over `ikm`, "HPKE-v1", the KEM `suite_id` and the label).
    Draft,
    /// OpenMLS 0.9.2 (feature `draft-ietf-mls-pq-ciphersuites`, `openmls_rust_crypto` 0.6,
    /// HPKE from hpke-rs 0.7): `DeriveKeyPair(ikm)` takes `sk = SHAKE256(ikm, Nsk)` with no
    /// label or `suite_id` (64 bytes for ML-KEM, 32 for X-Wing). OpenMLS's own enum names
    /// X-Wing 0x004D, but its provider hands HPKE the KEM 0x647a, so HPKE's `suite_id`
    /// (RFC 9180 §5.1) is the draft's.
    OpenMls09,
}

/// An ML-KEM parameter set (FIPS 203 §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MlKemParams {
    /// ML-KEM-768: 1184-byte encapsulation keys, 1088-byte ciphertexts.
    MlKem768,
    /// ML-KEM-1024: 1568-byte encapsulation keys, 1568-byte ciphertexts.
    MlKem1024,
}

impl MlKemParams {
    /// Length of an encapsulation key (FIPS 203 §8, Table 3).
    pub const fn encapsulation_key_len(self) -> usize {
        match self {
            Self::MlKem768 => 1184,
            Self::MlKem1024 => 1568,
        }
    }

    /// Length of a ciphertext (FIPS 203 §8, Table 3).
    pub const fn ciphertext_len(self) -> usize {
        match self {
            Self::MlKem768 => 1088,
            Self::MlKem1024 => 1568,
        }
    }

    /// Length of the seed `d || z` a decapsulation key is stored as (FIPS 203 §7.1, the
    /// private-key form draft-ietf-hpke-pq uses).
    pub const SEED_LEN: usize = 64;
    /// Length of the encapsulation randomness `m` (FIPS 203 §7.2).
    pub const ENCAPS_RANDOMNESS_LEN: usize = 32;
}

/// KDF (and hash) of a cipher suite (RFC 9180 §7.2 identifiers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KdfAlgorithm {
    /// HKDF-SHA256, 0x0001.
    HkdfSha256,
    /// HKDF-SHA384, 0x0002.
    HkdfSha384,
    /// HKDF-SHA512, 0x0003.
    HkdfSha512,
}

/// AEAD of a cipher suite (RFC 9180 §7.3 identifiers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AeadAlgorithm {
    /// AES-128-GCM, 0x0001.
    Aes128Gcm,
    /// AES-256-GCM, 0x0002.
    Aes256Gcm,
    /// ChaCha20Poly1305, 0x0003.
    ChaCha20Poly1305,
}

/// Signature scheme of a cipher suite (RFC 8446 SignatureScheme values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    /// ecdsa_secp256r1_sha256, DER-encoded signatures (RFC 9420 §5.1.2).
    EcdsaP256Sha256,
    /// ecdsa_secp384r1_sha384.
    EcdsaP384Sha384,
    /// ecdsa_secp521r1_sha512.
    EcdsaP521Sha512,
    /// ed25519.
    Ed25519,
    /// ed448.
    Ed448,
    /// mldsa44 (0x0904): ML-DSA-44 (FIPS 204), pure, empty context, as draft-ietf-tls-mldsa
    /// defines it (draft-ietf-mls-pq-ciphersuites §3, TBD9).
    MlDsa44,
    /// mldsa65 (0x0905): ML-DSA-65 (TBD10).
    MlDsa65,
    /// mldsa87 (0x0906): ML-DSA-87 (TBD11).
    MlDsa87,
}

impl SignatureAlgorithm {
    /// The TLS SignatureScheme value (RFC 8446 §4.2.3; the ML-DSA values are
    /// draft-ietf-tls-mldsa's, which draft-ietf-mls-pq-ciphersuites §3 names).
    pub const fn id(self) -> u16 {
        match self {
            Self::EcdsaP256Sha256 => 0x0403,
            Self::EcdsaP384Sha384 => 0x0503,
            Self::EcdsaP521Sha512 => 0x0603,
            Self::Ed25519 => 0x0807,
            Self::Ed448 => 0x0808,
            Self::MlDsa44 => 0x0904,
            Self::MlDsa65 => 0x0905,
            Self::MlDsa87 => 0x0906,
        }
    }

    /// Whether this is ML-DSA (FIPS 204).
    pub const fn is_ml_dsa(self) -> bool {
        matches!(self, Self::MlDsa44 | Self::MlDsa65 | Self::MlDsa87)
    }

    /// `(public key, signature)` lengths of an ML-DSA parameter set (FIPS 204 §4, Table 2),
    /// `None` for the other schemes. An ML-DSA secret key is always the 32-byte seed `ξ`
    /// of `ML-DSA.KeyGen_internal` (FIPS 204 Algorithm 6), see [`ML_DSA_SEED_LEN`].
    pub const fn ml_dsa_lengths(self) -> Option<(usize, usize)> {
        match self {
            Self::MlDsa44 => Some((1312, 2420)),
            Self::MlDsa65 => Some((1952, 3309)),
            Self::MlDsa87 => Some((2592, 4627)),
            _ => None,
        }
    }
}

/// Length of an ML-DSA secret key as Conclave stores it: the seed `ξ` that
/// `ML-DSA.KeyGen_internal` (FIPS 204 Algorithm 6) expands, as the private-key form of
/// draft-ietf-lamps-dilithium-certificates (RFC 9881) recommends.
pub const ML_DSA_SEED_LEN: usize = 32;

impl KemAlgorithm {
    /// RFC 9180 KEM identifier.
    pub const fn id(self) -> u16 {
        match self {
            Self::DhKemP256 => 0x0010,
            Self::DhKemP384 => 0x0011,
            Self::DhKemP521 => 0x0012,
            Self::DhKemX25519 => 0x0020,
            Self::DhKemX448 => 0x0021,
            Self::MlKem768(_) => 0x0041,
            Self::MlKem1024(_) => 0x0042,
            Self::MlKem768X25519(_) => 0x647a,
            Self::MlKem768P256 => 0x0050,
            Self::MlKem1024P384 => 0x0051,
        }
    }

    /// Whether this is a DHKEM (RFC 9180 §4.1) rather than an ML-KEM or hybrid KEM.
    pub const fn is_dhkem(self) -> bool {
        matches!(
            self,
            Self::DhKemP256
                | Self::DhKemP384
                | Self::DhKemP521
                | Self::DhKemX25519
                | Self::DhKemX448
        )
    }

    /// The ML-KEM inside this KEM, if any.
    pub const fn ml_kem(self) -> Option<MlKemParams> {
        match self {
            Self::MlKem768(_) | Self::MlKem768X25519(_) | Self::MlKem768P256 => {
                Some(MlKemParams::MlKem768)
            }
            Self::MlKem1024(_) | Self::MlKem1024P384 => Some(MlKemParams::MlKem1024),
            _ => None,
        }
    }

    /// The HPKE integration of a post-quantum KEM ([`PqHpke`]); `None` for a DHKEM. The
    /// P-256 and P-384 hybrids exist only in the draft's.
    pub const fn pq_hpke(self) -> Option<PqHpke> {
        match self {
            Self::MlKem768(v) | Self::MlKem1024(v) | Self::MlKem768X25519(v) => Some(v),
            Self::MlKem768P256 | Self::MlKem1024P384 => Some(PqHpke::Draft),
            _ => None,
        }
    }

    /// The DHKEM whose group a KEM's Diffie-Hellman half runs on: the KEM itself for a
    /// DHKEM, the traditional component of a hybrid, `None` for pure ML-KEM. Providers use
    /// it to pick the curve of their `dh_*` operations.
    pub const fn dh_group(self) -> Option<KemAlgorithm> {
        match self {
            Self::MlKem768(_) | Self::MlKem1024(_) => None,
            Self::MlKem768X25519(_) => Some(Self::DhKemX25519),
            Self::MlKem768P256 => Some(Self::DhKemP256),
            Self::MlKem1024P384 => Some(Self::DhKemP384),
            dh => Some(dh),
        }
    }

    /// The KDF that DHKEM uses internally (RFC 9180 §7.1). ML-KEM and the hybrids use no
    /// HKDF inside (they use SHAKE256 and SHA3-256); for them this is HKDF-SHA256, whose
    /// output length is their `Nsecret`.
    pub const fn kdf(self) -> KdfAlgorithm {
        match self {
            Self::DhKemP384 => KdfAlgorithm::HkdfSha384,
            Self::DhKemP521 | Self::DhKemX448 => KdfAlgorithm::HkdfSha512,
            _ => KdfAlgorithm::HkdfSha256,
        }
    }

    /// `Nsecret`: length of the KEM shared secret (32 for ML-KEM and the hybrids).
    pub const fn shared_secret_len(self) -> usize {
        self.kdf().hash_len()
    }

    /// `Nenc`: length of the encapsulated key (the serialized ephemeral public key for
    /// DHKEM; ML-KEM ciphertext, followed for hybrids by the ephemeral DH public key).
    pub const fn enc_len(self) -> usize {
        match (self.ml_kem(), self.dh_group()) {
            (Some(ml), Some(dh)) => ml.ciphertext_len() + dh.public_key_len(),
            (Some(ml), None) => ml.ciphertext_len(),
            (None, _) => self.public_key_len(),
        }
    }

    /// `Npk`: length of a serialized public key.
    pub const fn public_key_len(self) -> usize {
        match self {
            Self::DhKemP256 => 65,
            Self::DhKemP384 => 97,
            Self::DhKemP521 => 133,
            Self::DhKemX25519 => 32,
            Self::DhKemX448 => 56,
            Self::MlKem768(_) => MlKemParams::MlKem768.encapsulation_key_len(),
            Self::MlKem1024(_) => MlKemParams::MlKem1024.encapsulation_key_len(),
            Self::MlKem768X25519(_) => MlKemParams::MlKem768.encapsulation_key_len() + 32,
            Self::MlKem768P256 => MlKemParams::MlKem768.encapsulation_key_len() + 65,
            Self::MlKem1024P384 => MlKemParams::MlKem1024.encapsulation_key_len() + 97,
        }
    }

    /// `Nsk`: length of a serialized private key (the 64-byte seed for ML-KEM, the 32-byte
    /// seed for the hybrids).
    pub const fn secret_key_len(self) -> usize {
        match self {
            Self::DhKemP256 => 32,
            Self::DhKemP384 => 48,
            Self::DhKemP521 => 66,
            Self::DhKemX25519 => 32,
            Self::DhKemX448 => 56,
            Self::MlKem768(_) | Self::MlKem1024(_) => MlKemParams::SEED_LEN,
            Self::MlKem768X25519(_) | Self::MlKem768P256 | Self::MlKem1024P384 => 32,
        }
    }

    /// Whether this is a NIST curve (DeriveKeyPair uses rejection sampling, RFC 9180 §7.1.3).
    pub const fn is_nist_curve(self) -> bool {
        matches!(self, Self::DhKemP256 | Self::DhKemP384 | Self::DhKemP521)
    }

    /// The bitmask applied to the first byte of a DeriveKeyPair candidate (RFC 9180 §7.1.3).
    pub const fn derive_bitmask(self) -> u8 {
        match self {
            Self::DhKemP521 => 0x01,
            _ => 0xff,
        }
    }
}

impl KdfAlgorithm {
    /// RFC 9180 KDF identifier.
    pub const fn id(self) -> u16 {
        match self {
            Self::HkdfSha256 => 0x0001,
            Self::HkdfSha384 => 0x0002,
            Self::HkdfSha512 => 0x0003,
        }
    }

    /// `Nh`: output length of the hash (and of `KDF.Extract`).
    pub const fn hash_len(self) -> usize {
        match self {
            Self::HkdfSha256 => 32,
            Self::HkdfSha384 => 48,
            Self::HkdfSha512 => 64,
        }
    }
}

impl AeadAlgorithm {
    /// RFC 9180 AEAD identifier.
    pub const fn id(self) -> u16 {
        match self {
            Self::Aes128Gcm => 0x0001,
            Self::Aes256Gcm => 0x0002,
            Self::ChaCha20Poly1305 => 0x0003,
        }
    }

    /// `Nk`: key length.
    pub const fn key_len(self) -> usize {
        match self {
            Self::Aes128Gcm => 16,
            Self::Aes256Gcm | Self::ChaCha20Poly1305 => 32,
        }
    }

    /// `Nn`: nonce length.
    pub const fn nonce_len(self) -> usize {
        12
    }

    /// `Nt`: authentication tag length.
    pub const fn tag_len(self) -> usize {
        16
    }
}

impl CipherSuite {
    /// MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519
    pub const MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519: Self = Self(1);
    /// MLS_128_DHKEMP256_AES128GCM_SHA256_P256
    pub const MLS_128_DHKEMP256_AES128GCM_SHA256_P256: Self = Self(2);
    /// MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519
    pub const MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_ED25519: Self = Self(3);
    /// MLS_256_DHKEMX448_AES256GCM_SHA512_Ed448
    pub const MLS_256_DHKEMX448_AES256GCM_SHA512_ED448: Self = Self(4);
    /// MLS_256_DHKEMP521_AES256GCM_SHA512_P521
    pub const MLS_256_DHKEMP521_AES256GCM_SHA512_P521: Self = Self(5);
    /// MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_Ed448
    pub const MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_ED448: Self = Self(6);
    /// MLS_256_DHKEMP384_AES256GCM_SHA384_P384
    pub const MLS_256_DHKEMP384_AES256GCM_SHA384_P384: Self = Self(7);

    /// The seven suites RFC 9420 defines, in codepoint order.
    pub const ALL: [Self; 7] = [
        Self(1),
        Self(2),
        Self(3),
        Self(4),
        Self(5),
        Self(6),
        Self(7),
    ];

    /// draft-ietf-mls-pq-ciphersuites §3 TBD1 `MLS_128_MLKEM768X25519_AES128GCM_SHA256_Ed25519`,
    /// under Conclave's private-use value (RFC 9420 §17.1: 0xF000–0xFFFF; the profile table
    /// in `conclave_core::codepoints` maps each peer's value).
    pub const MLS_128_MLKEM768X25519_AES128GCM_SHA256_ED25519: Self = Self(0xF0A0);
    /// TBD2 `MLS_128_MLKEM768X25519_AES256GCM_SHA384_Ed25519` (private-use value).
    pub const MLS_128_MLKEM768X25519_AES256GCM_SHA384_ED25519: Self = Self(0xF0A1);
    /// TBD3 `MLS_128_MLKEM768P256_AES128GCM_SHA256_P256` (private-use value).
    pub const MLS_128_MLKEM768P256_AES128GCM_SHA256_P256: Self = Self(0xF0A2);
    /// TBD4 `MLS_128_MLKEM768P256_AES256GCM_SHA384_P256` (private-use value).
    pub const MLS_128_MLKEM768P256_AES256GCM_SHA384_P256: Self = Self(0xF0A3);
    /// TBD5 `MLS_192_MLKEM1024P384_AES256GCM_SHA384_P384` (private-use value).
    pub const MLS_192_MLKEM1024P384_AES256GCM_SHA384_P384: Self = Self(0xF0A4);
    /// TBD6 `MLS_128_MLKEM768_AES256GCM_SHA384_Ed25519` (private-use value).
    pub const MLS_128_MLKEM768_AES256GCM_SHA384_ED25519: Self = Self(0xF0A5);
    /// TBD7 `MLS_128_MLKEM768_AES256GCM_SHA384_P256` (private-use value).
    pub const MLS_128_MLKEM768_AES256GCM_SHA384_P256: Self = Self(0xF0A6);
    /// TBD8 `MLS_192_MLKEM1024_AES256GCM_SHA384_P384` (private-use value).
    pub const MLS_192_MLKEM1024_AES256GCM_SHA384_P384: Self = Self(0xF0A7);
    /// TBD9 `MLS_128_MLKEM768X25519_CHACHA20POLY1305_SHA384_MLDSA44` (private-use value).
    pub const MLS_128_MLKEM768X25519_CHACHA20POLY1305_SHA384_MLDSA44: Self = Self(0xF0A8);
    /// TBD10 `MLS_192_MLKEM768_AES256GCM_SHA384_MLDSA65` (private-use value).
    pub const MLS_192_MLKEM768_AES256GCM_SHA384_MLDSA65: Self = Self(0xF0A9);
    /// TBD11 `MLS_256_MLKEM1024_AES256GCM_SHA384_MLDSA87` (private-use value).
    pub const MLS_256_MLKEM1024_AES256GCM_SHA384_MLDSA87: Self = Self(0xF0AA);
    /// TBD2 under MLSpp's provisional number 8 (the partial-MLS test vectors use it).
    pub const MLSPP_MLKEM768X25519_AES256GCM_SHA384_ED25519: Self = Self(0x0008);
    /// TBD4 under MLSpp's provisional number 9.
    pub const MLSPP_MLKEM768P256_AES256GCM_SHA384_P256: Self = Self(0x0009);
    /// TBD5 under MLSpp's provisional number 10.
    pub const MLSPP_MLKEM1024P384_AES256GCM_SHA384_P384: Self = Self(0x000A);

    /// The post-quantum suites of draft-ietf-mls-pq-ciphersuites §3, under Conclave's own
    /// (private-use) values, in draft order (TBD1–TBD11).
    pub const PQ: [Self; 11] = [
        Self::MLS_128_MLKEM768X25519_AES128GCM_SHA256_ED25519,
        Self::MLS_128_MLKEM768X25519_AES256GCM_SHA384_ED25519,
        Self::MLS_128_MLKEM768P256_AES128GCM_SHA256_P256,
        Self::MLS_128_MLKEM768P256_AES256GCM_SHA384_P256,
        Self::MLS_192_MLKEM1024P384_AES256GCM_SHA384_P384,
        Self::MLS_128_MLKEM768_AES256GCM_SHA384_ED25519,
        Self::MLS_128_MLKEM768_AES256GCM_SHA384_P256,
        Self::MLS_192_MLKEM1024_AES256GCM_SHA384_P384,
        Self::MLS_128_MLKEM768X25519_CHACHA20POLY1305_SHA384_MLDSA44,
        Self::MLS_192_MLKEM768_AES256GCM_SHA384_MLDSA65,
        Self::MLS_256_MLKEM1024_AES256GCM_SHA384_MLDSA87,
    ];

    /// MLSpp's provisional numbers for TBD2, TBD4 and TBD5 (suites 8–10).
    pub const MLSPP_PQ: [Self; 3] = [
        Self::MLSPP_MLKEM768X25519_AES256GCM_SHA384_ED25519,
        Self::MLSPP_MLKEM768P256_AES256GCM_SHA384_P256,
        Self::MLSPP_MLKEM1024P384_AES256GCM_SHA384_P384,
    ];

    /// OpenMLS 0.9.2's values (`openmls_traits` 0.6 with feature
    /// `draft-ietf-mls-pq-ciphersuites`) for the draft suites it carries, each paired with
    /// Conclave's value of the same suite: TBD1, TBD2 (X-Wing), TBD6–TBD8 (ML-KEM) and
    /// TBD9–TBD11 (ML-DSA). [`Self::algorithms`] decodes them to the same algorithms with
    /// [`PqHpke::OpenMls09`]. OpenMLS has no P-256 or P-384 hybrid (TBD3–TBD5).
    pub const OPENMLS_09_PQ: [(Self, Self); 8] = [
        (
            Self(0x004F),
            Self::MLS_128_MLKEM768X25519_AES128GCM_SHA256_ED25519,
        ),
        (
            Self(0x004E),
            Self::MLS_128_MLKEM768X25519_AES256GCM_SHA384_ED25519,
        ),
        (
            Self(0xF042),
            Self::MLS_128_MLKEM768_AES256GCM_SHA384_ED25519,
        ),
        (Self(0x0050), Self::MLS_128_MLKEM768_AES256GCM_SHA384_P256),
        (Self(0x0042), Self::MLS_192_MLKEM1024_AES256GCM_SHA384_P384),
        (
            Self(0x0052),
            Self::MLS_128_MLKEM768X25519_CHACHA20POLY1305_SHA384_MLDSA44,
        ),
        (
            Self(0x0051),
            Self::MLS_192_MLKEM768_AES256GCM_SHA384_MLDSA65,
        ),
        (
            Self(0x0907),
            Self::MLS_256_MLKEM1024_AES256GCM_SHA384_MLDSA87,
        ),
    ];

    /// For one of OpenMLS 0.9.2's values ([`Self::OPENMLS_09_PQ`]), Conclave's value of the
    /// same draft suite.
    pub const fn openmls_09_pq_equivalent(self) -> Option<Self> {
        let mut rest: &[(Self, Self)] = &Self::OPENMLS_09_PQ;
        while let [(openmls, draft), tail @ ..] = rest {
            if openmls.0 == self.0 {
                return Some(*draft);
            }
            rest = tail;
        }
        None
    }

    /// Whether the suite's KEM is ML-KEM or an ML-KEM hybrid.
    pub const fn is_post_quantum(self) -> bool {
        match self.algorithms() {
            Some((kem, ..)) => !kem.is_dhkem(),
            None => false,
        }
    }

    /// The algorithms this suite names, or `None` for an unknown codepoint.
    ///
    /// The post-quantum suites are those of draft-ietf-mls-pq-ciphersuites §3 (table "mapping
    /// of cipher suites to HPKE primitives"), under Conclave's values and MLSpp's (KEMs with
    /// [`PqHpke::Draft`]), and under OpenMLS 0.9.2's ([`Self::OPENMLS_09_PQ`], KEMs with
    /// [`PqHpke::OpenMls09`]).
    pub const fn algorithms(
        self,
    ) -> Option<(
        KemAlgorithm,
        KdfAlgorithm,
        AeadAlgorithm,
        SignatureAlgorithm,
    )> {
        use AeadAlgorithm as A;
        use KdfAlgorithm as H;
        use KemAlgorithm as K;
        use SignatureAlgorithm as S;
        // OpenMLS 0.9.2's values name the same algorithms as the draft suite they stand
        // for, with OpenMLS's HPKE integration of the KEM.
        let (pq, value) = match self.openmls_09_pq_equivalent() {
            Some(draft) => (PqHpke::OpenMls09, draft.0),
            None => (PqHpke::Draft, self.0),
        };
        Some(match value {
            1 => (K::DhKemX25519, H::HkdfSha256, A::Aes128Gcm, S::Ed25519),
            2 => (
                K::DhKemP256,
                H::HkdfSha256,
                A::Aes128Gcm,
                S::EcdsaP256Sha256,
            ),
            3 => (
                K::DhKemX25519,
                H::HkdfSha256,
                A::ChaCha20Poly1305,
                S::Ed25519,
            ),
            4 => (K::DhKemX448, H::HkdfSha512, A::Aes256Gcm, S::Ed448),
            5 => (
                K::DhKemP521,
                H::HkdfSha512,
                A::Aes256Gcm,
                S::EcdsaP521Sha512,
            ),
            6 => (K::DhKemX448, H::HkdfSha512, A::ChaCha20Poly1305, S::Ed448),
            7 => (
                K::DhKemP384,
                H::HkdfSha384,
                A::Aes256Gcm,
                S::EcdsaP384Sha384,
            ),
            // draft-ietf-mls-pq-ciphersuites §3, TBD1–TBD8.
            0xF0A0 => (
                K::MlKem768X25519(pq),
                H::HkdfSha256,
                A::Aes128Gcm,
                S::Ed25519,
            ),
            0xF0A1 | 0x0008 => (
                K::MlKem768X25519(pq),
                H::HkdfSha384,
                A::Aes256Gcm,
                S::Ed25519,
            ),
            0xF0A2 => (
                K::MlKem768P256,
                H::HkdfSha256,
                A::Aes128Gcm,
                S::EcdsaP256Sha256,
            ),
            0xF0A3 | 0x0009 => (
                K::MlKem768P256,
                H::HkdfSha384,
                A::Aes256Gcm,
                S::EcdsaP256Sha256,
            ),
            0xF0A4 | 0x000A => (
                K::MlKem1024P384,
                H::HkdfSha384,
                A::Aes256Gcm,
                S::EcdsaP384Sha384,
            ),
            0xF0A5 => (K::MlKem768(pq), H::HkdfSha384, A::Aes256Gcm, S::Ed25519),
            0xF0A6 => (
                K::MlKem768(pq),
                H::HkdfSha384,
                A::Aes256Gcm,
                S::EcdsaP256Sha256,
            ),
            0xF0A7 => (
                K::MlKem1024(pq),
                H::HkdfSha384,
                A::Aes256Gcm,
                S::EcdsaP384Sha384,
            ),
            // TBD9–TBD11: post-quantum signatures too.
            0xF0A8 => (
                K::MlKem768X25519(pq),
                H::HkdfSha384,
                A::ChaCha20Poly1305,
                S::MlDsa44,
            ),
            0xF0A9 => (K::MlKem768(pq), H::HkdfSha384, A::Aes256Gcm, S::MlDsa65),
            0xF0AA => (K::MlKem1024(pq), H::HkdfSha384, A::Aes256Gcm, S::MlDsa87),
            _ => return None,
        })
    }

    /// Whether this is one of the seven suites of RFC 9420 §17.1 or a post-quantum suite
    /// [`Self::algorithms`] knows.
    pub const fn is_known(self) -> bool {
        self.algorithms().is_some()
    }
}

impl From<u16> for CipherSuite {
    fn from(v: u16) -> Self {
        Self(v)
    }
}

impl From<CipherSuite> for u16 {
    fn from(cs: CipherSuite) -> Self {
        cs.0
    }
}

/// `CipherSuite cipher_suite;` is a `uint16` on the wire (RFC 9420 §17.1).
impl conclave_codec::Encode for CipherSuite {
    fn encoded_len(&self) -> usize {
        2
    }
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), conclave_codec::CodecError> {
        self.0.encode(out)
    }
}

impl conclave_codec::Decode for CipherSuite {
    fn decode(reader: &mut conclave_codec::Reader<'_>) -> Result<Self, conclave_codec::CodecError> {
        reader.read_u16().map(Self)
    }
}
