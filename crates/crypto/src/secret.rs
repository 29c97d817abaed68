//! Secret byte strings: zeroized on drop, compared in constant time, never printed.

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A secret value (key, PRK, path secret, …).
///
/// The bytes are wiped when the value is dropped; `Debug` prints only the length, and
/// equality is constant-time so that comparing secrets or MAC tags leaks no timing.
#[derive(Clone, Default)]
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    /// Wraps bytes as a secret (takes ownership; the vector is zeroized on drop).
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// Copies a slice into a new secret.
    pub fn from_slice(bytes: &[u8]) -> Self {
        Self::new(bytes.to_vec())
    }

    /// An all-zero secret of `len` bytes (RFC 9420 uses these as defaults).
    pub fn zero(len: usize) -> Self {
        Self::new(vec![0; len])
    }

    /// The secret bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Constant-time comparison with a byte slice (lengths are not secret).
    pub fn ct_eq_bytes(&self, other: &[u8]) -> bool {
        self.0.as_slice().ct_eq(other).into()
    }
}

impl AsRef<[u8]> for Secret {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for Secret {
    fn from(bytes: Vec<u8>) -> Self {
        Self::new(bytes)
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq_bytes(other.as_bytes())
    }
}

impl Eq for Secret {}

impl core::fmt::Debug for Secret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Secret({} bytes)", self.0.len())
    }
}

/// Constant-time equality of two byte strings (for MAC tags and other authenticators).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// A secret is stored as an `opaque<V>` (for serialized state only; secrets never go on the
/// wire in the clear).
impl conclave_codec::Encode for Secret {
    fn encoded_len(&self) -> usize {
        conclave_codec::opaque_len(self.0.len())
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), conclave_codec::CodecError> {
        conclave_codec::write_opaque(out, &self.0)
    }
}

impl conclave_codec::Decode for Secret {
    fn decode(reader: &mut conclave_codec::Reader<'_>) -> Result<Self, conclave_codec::CodecError> {
        reader.read_opaque().map(Self::from_slice)
    }
}
