//! Commits and update paths (RFC 9420 §7.6, §12.4).

use conclave_codec::{CodecError, Decode, Encode, Reader, opaque_len, write_opaque};

use super::{HpkePublicKey, LeafNode, ProposalOrRef};

/// `HPKECiphertext` (RFC 9420 §7.6).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct HpkeCiphertext {
    /// `opaque kem_output<V>`.
    pub kem_output: Vec<u8>,
    /// `opaque ciphertext<V>`.
    pub ciphertext: Vec<u8>,
}

/// A borrowed `HPKECiphertext` (RFC 9420 §7.6) inside [`EncryptedPathSecrets`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HpkeCiphertextRef<'a> {
    /// `opaque kem_output<V>`.
    pub kem_output: &'a [u8],
    /// `opaque ciphertext<V>`.
    pub ciphertext: &'a [u8],
}

impl HpkeCiphertextRef<'_> {
    /// An owned copy.
    pub fn to_owned(&self) -> HpkeCiphertext {
        HpkeCiphertext {
            kem_output: self.kem_output.to_vec(),
            ciphertext: self.ciphertext.to_vec(),
        }
    }
}

/// `HPKECiphertext encrypted_path_secret<V>` of an `UpdatePathNode` (RFC 9420 §7.6), kept
/// in its encoding.
///
/// A commit after a large add carries one ciphertext per member in the copath
/// resolutions, and each receiver decrypts exactly one of them. Decoding them all into two
/// allocations each (and freeing them again) was a quarter of the time to process a commit
/// in a group of 10 000; here the whole list is one buffer, checked for well-formedness when
/// decoded and read in place.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct EncryptedPathSecrets {
    /// The vector body: the encoded ciphertexts, one after the other.
    body: Vec<u8>,
    /// Number of ciphertexts in `body`.
    count: usize,
}

impl EncryptedPathSecrets {
    /// Encodes `ciphertexts` in order.
    pub fn from_ciphertexts<'a>(
        ciphertexts: impl IntoIterator<Item = HpkeCiphertextRef<'a>>,
    ) -> Result<Self, CodecError> {
        let mut out = Self::default();
        for ciphertext in ciphertexts {
            out.push(ciphertext)?;
        }
        Ok(out)
    }

    /// Appends one ciphertext.
    pub fn push(&mut self, ciphertext: HpkeCiphertextRef<'_>) -> Result<(), CodecError> {
        write_opaque(&mut self.body, ciphertext.kem_output)?;
        write_opaque(&mut self.body, ciphertext.ciphertext)?;
        self.count = self.count.saturating_add(1);
        Ok(())
    }

    /// Number of ciphertexts.
    pub fn len(&self) -> usize {
        self.count
    }

    /// No ciphertext.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Removes every ciphertext.
    pub fn clear(&mut self) {
        self.body.clear();
        self.count = 0;
    }

    /// The ciphertexts, in order, read in place.
    pub fn iter(&self) -> impl Iterator<Item = HpkeCiphertextRef<'_>> + '_ {
        let mut reader = Reader::new(&self.body);
        core::iter::from_fn(move || {
            if reader.is_empty() {
                return None;
            }
            // The body was built by `push` or checked entry by entry in `decode`.
            let kem_output = reader.read_opaque().ok()?;
            let ciphertext = reader.read_opaque().ok()?;
            Some(HpkeCiphertextRef {
                kem_output,
                ciphertext,
            })
        })
    }

    /// Owned copies of the ciphertexts.
    pub fn to_vec(&self) -> Vec<HpkeCiphertext> {
        self.iter().map(|c| c.to_owned()).collect()
    }
}

impl core::fmt::Debug for EncryptedPathSecrets {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Encode for EncryptedPathSecrets {
    fn encoded_len(&self) -> usize {
        opaque_len(self.body.len())
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        write_opaque(out, &self.body)
    }
}

impl Decode for EncryptedPathSecrets {
    /// Accepts exactly what decoding a `Vec<HpkeCiphertext>` accepts.
    fn decode(reader: &mut Reader<'_>) -> Result<Self, CodecError> {
        let mut body = reader.read_vector_body()?;
        let bytes = body.peek_rest();
        let mut count = 0usize;
        while !body.is_empty() {
            body.read_opaque()?;
            body.read_opaque()?;
            count = count.saturating_add(1);
        }
        Ok(Self {
            body: bytes.to_vec(),
            count,
        })
    }

    /// By the length prefix (counting the vector it sits in copies nothing).
    fn skip(reader: &mut Reader<'_>) -> Result<(), CodecError> {
        reader.read_opaque().map(drop)
    }
}

/// `UpdatePathNode` (RFC 9420 §7.6).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct UpdatePathNode {
    /// The new public key of this filtered-direct-path node.
    pub encryption_key: HpkePublicKey,
    /// `HPKECiphertext encrypted_path_secret<V>`: one per resolution member of the copath
    /// child.
    pub encrypted_path_secret: EncryptedPathSecrets,
}

/// `UpdatePath` (RFC 9420 §7.6).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct UpdatePath {
    /// The committer's new leaf node (source `commit`); boxed, like every embedded
    /// `LeafNode`.
    pub leaf_node: Box<LeafNode>,
    /// `UpdatePathNode nodes<V>`: one per node of the filtered direct path.
    pub nodes: Vec<UpdatePathNode>,
}

/// `Commit` (RFC 9420 §12.4).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Commit {
    /// `ProposalOrRef proposals<V>`.
    pub proposals: Vec<ProposalOrRef>,
    /// `optional<UpdatePath> path`.
    pub path: Option<UpdatePath>,
}
