//! Small shared wire types: indices, key and reference newtypes, and the `uint16` registries
//! that must carry unknown values (RFC 9420 §5.1, §5.2, §5.3, §6, §12.1, §17).

use conclave_codec::{Decode, Encode};

/// Index of a leaf in the ratchet tree (a `uint32` on the wire, RFC 9420 §4.1, §6.1).
///
/// This is the *leaf* index (0 for the leftmost leaf), not the node index of the
/// array representation (RFC 9420 Appendix C).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Encode, Decode)]
pub struct LeafIndex(pub u32);

impl From<u32> for LeafIndex {
    fn from(value: u32) -> Self {
        Self(value)
    }
}

impl From<LeafIndex> for u32 {
    fn from(value: LeafIndex) -> Self {
        value.0
    }
}

macro_rules! opaque_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Encode, Decode)]
        pub struct $name(pub Vec<u8>);

        impl From<Vec<u8>> for $name {
            fn from(value: Vec<u8>) -> Self {
                Self(value)
            }
        }

        impl AsRef<[u8]> for $name {
            fn as_ref(&self) -> &[u8] {
                &self.0
            }
        }
    };
}

opaque_newtype!(
    /// `opaque HPKEPublicKey<V>` (RFC 9420 §5.1.1): an encoded HPKE (KEM) public key.
    HpkePublicKey
);
opaque_newtype!(
    /// `opaque SignaturePublicKey<V>` (RFC 9420 §5.1.1): an encoded signature public key.
    SignaturePublicKey
);
opaque_newtype!(
    /// `HashReference KeyPackageRef` (RFC 9420 §5.2): `RefHash("MLS 1.0 KeyPackage Reference",
    /// KeyPackage)`, an `opaque<V>`.
    KeyPackageRef
);
opaque_newtype!(
    /// `HashReference ProposalRef` (RFC 9420 §5.2): `RefHash("MLS 1.0 Proposal Reference",
    /// AuthenticatedContent)`, an `opaque<V>`.
    ProposalRef
);

/// `uint16 WireFormat` (RFC 9420 §6, §17.2). Unknown values are kept by the type; the
/// `MLSMessage` select rejects them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Encode, Decode)]
pub struct WireFormat(pub u16);

impl WireFormat {
    /// `mls_public_message`.
    pub const PUBLIC_MESSAGE: Self = Self(0x0001);
    /// `mls_private_message`.
    pub const PRIVATE_MESSAGE: Self = Self(0x0002);
    /// `mls_welcome`.
    pub const WELCOME: Self = Self(0x0003);
    /// `mls_group_info`.
    pub const GROUP_INFO: Self = Self(0x0004);
    /// `mls_key_package`.
    pub const KEY_PACKAGE: Self = Self(0x0005);
}

/// `uint16 ProposalType` (RFC 9420 §12.1, §17.4), as listed in capabilities and required
/// capabilities. Unknown (including GREASE, §13.5) values are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Encode, Decode)]
pub struct ProposalType(pub u16);

impl ProposalType {
    /// `add`.
    pub const ADD: Self = Self(0x0001);
    /// `update`.
    pub const UPDATE: Self = Self(0x0002);
    /// `remove`.
    pub const REMOVE: Self = Self(0x0003);
    /// `psk`.
    pub const PSK: Self = Self(0x0004);
    /// `reinit`.
    pub const REINIT: Self = Self(0x0005);
    /// `external_init`.
    pub const EXTERNAL_INIT: Self = Self(0x0006);
    /// `group_context_extensions`.
    pub const GROUP_CONTEXT_EXTENSIONS: Self = Self(0x0007);
}

/// `uint16 CredentialType` (RFC 9420 §5.3, §17.5), as listed in capabilities. Unknown
/// (including GREASE, §13.5) values are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Encode, Decode)]
pub struct CredentialType(pub u16);

impl CredentialType {
    /// `basic`: a bare identity.
    pub const BASIC: Self = Self(0x0001);
    /// `x509`: a certificate chain.
    pub const X509: Self = Self(0x0002);
}
