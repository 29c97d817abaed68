//! The group context (RFC 9420 §8.1), protocol version and extensions (§13).

use conclave_codec::{Decode, Encode};
use conclave_crypto::CipherSuite;

/// `ProtocolVersion` (RFC 9420 §6): a `uint16`; `mls10` is 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Encode, Decode)]
pub struct ProtocolVersion(pub u16);

impl ProtocolVersion {
    /// MLS 1.0.
    pub const MLS10: Self = Self(1);
}

/// `ExtensionType` (RFC 9420 §13, §17.3): a `uint16`; unknown values are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Encode, Decode)]
pub struct ExtensionType(pub u16);

impl ExtensionType {
    /// application_id (RFC 9420 §5.3.3).
    pub const APPLICATION_ID: Self = Self(0x0001);
    /// ratchet_tree (RFC 9420 §12.4.3.3).
    pub const RATCHET_TREE: Self = Self(0x0002);
    /// required_capabilities (RFC 9420 §11.1).
    pub const REQUIRED_CAPABILITIES: Self = Self(0x0003);
    /// external_pub (RFC 9420 §12.4.3.2).
    pub const EXTERNAL_PUB: Self = Self(0x0004);
    /// external_senders (RFC 9420 §12.1.8.1).
    pub const EXTERNAL_SENDERS: Self = Self(0x0005);
}

/// `Extension` (RFC 9420 §13): a type and opaque data, interpreted by whoever knows the type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub struct Extension {
    /// The extension's type.
    pub extension_type: ExtensionType,
    /// `opaque extension_data<V>`.
    pub extension_data: Vec<u8>,
}

/// `GroupContext` (RFC 9420 §8.1): the summary of the group's state that every key schedule
/// step and signature binds to.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct GroupContext {
    /// Always `mls10`.
    pub version: ProtocolVersion,
    /// The group's cipher suite.
    pub cipher_suite: CipherSuite,
    /// `opaque group_id<V>`.
    pub group_id: Vec<u8>,
    /// The epoch number.
    pub epoch: u64,
    /// Tree hash of the ratchet tree's root (RFC 9420 §7.8).
    pub tree_hash: Vec<u8>,
    /// Confirmed transcript hash (RFC 9420 §8.2).
    pub confirmed_transcript_hash: Vec<u8>,
    /// Group context extensions.
    pub extensions: Vec<Extension>,
}
