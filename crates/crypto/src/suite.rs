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
}

impl KemAlgorithm {
    /// RFC 9180 KEM identifier.
    pub const fn id(self) -> u16 {
        match self {
            Self::DhKemP256 => 0x0010,
            Self::DhKemP384 => 0x0011,
            Self::DhKemP521 => 0x0012,
            Self::DhKemX25519 => 0x0020,
            Self::DhKemX448 => 0x0021,
        }
    }

    /// The KDF that DHKEM uses internally (RFC 9180 §7.1).
    pub const fn kdf(self) -> KdfAlgorithm {
        match self {
            Self::DhKemP256 | Self::DhKemX25519 => KdfAlgorithm::HkdfSha256,
            Self::DhKemP384 => KdfAlgorithm::HkdfSha384,
            Self::DhKemP521 | Self::DhKemX448 => KdfAlgorithm::HkdfSha512,
        }
    }

    /// `Nsecret`: length of the KEM shared secret.
    pub const fn shared_secret_len(self) -> usize {
        self.kdf().hash_len()
    }

    /// `Nenc`: length of the encapsulated key (the serialized public key).
    pub const fn enc_len(self) -> usize {
        self.public_key_len()
    }

    /// `Npk`: length of a serialized public key.
    pub const fn public_key_len(self) -> usize {
        match self {
            Self::DhKemP256 => 65,
            Self::DhKemP384 => 97,
            Self::DhKemP521 => 133,
            Self::DhKemX25519 => 32,
            Self::DhKemX448 => 56,
        }
    }

    /// `Nsk`: length of a serialized private key.
    pub const fn secret_key_len(self) -> usize {
        match self {
            Self::DhKemP256 => 32,
            Self::DhKemP384 => 48,
            Self::DhKemP521 => 66,
            Self::DhKemX25519 => 32,
            Self::DhKemX448 => 56,
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

    /// The algorithms this suite names, or `None` for an unknown codepoint.
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
        Some(match self.0 {
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
            _ => return None,
        })
    }

    /// Whether this is one of the seven suites of RFC 9420 §17.1.
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
