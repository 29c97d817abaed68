//! Key packages (RFC 9420 §10): a client's signed, pre-published offer to be added to groups.

use conclave_codec::{CodecError, Decode, Encode};
use conclave_crypto::CipherSuite;

use super::{Extension, HpkePublicKey, LeafNode, ProtocolVersion};

/// `KeyPackage` (RFC 9420 §10).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct KeyPackage {
    /// `ProtocolVersion version`.
    pub version: ProtocolVersion,
    /// `CipherSuite cipher_suite`.
    pub cipher_suite: CipherSuite,
    /// `HPKEPublicKey init_key`: the key Welcome secrets are encrypted to.
    pub init_key: HpkePublicKey,
    /// The leaf node the client will occupy (source `key_package`); boxed, like every
    /// embedded `LeafNode`, so that a batch of small messages stays small in memory.
    pub leaf_node: Box<LeafNode>,
    /// `Extension extensions<V>`.
    pub extensions: Vec<Extension>,
    /// `SignWithLabel(., "KeyPackageTBS", KeyPackageTBS)`.
    pub signature: Vec<u8>,
}

impl KeyPackage {
    /// Encodes `KeyPackageTBS` (RFC 9420 §10): every field but the signature.
    pub fn to_be_signed(&self) -> Result<Vec<u8>, CodecError> {
        let Self {
            version,
            cipher_suite,
            init_key,
            leaf_node,
            extensions,
            signature: _,
        } = self;
        let mut out = Vec::with_capacity(self.encoded_len());
        version.encode(&mut out)?;
        cipher_suite.encode(&mut out)?;
        init_key.encode(&mut out)?;
        leaf_node.encode(&mut out)?;
        extensions.encode(&mut out)?;
        Ok(out)
    }
}
