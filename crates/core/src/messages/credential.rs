//! Credentials (RFC 9420 §5.3): the identity a member's signature key is bound to.

use conclave_codec::{Decode, Encode};

use super::CredentialType;

/// `Certificate` (RFC 9420 §5.3): one DER-encoded X.509 certificate, `opaque cert_data<V>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub struct Certificate {
    /// The DER encoding.
    pub cert_data: Vec<u8>,
}

/// `Credential` (RFC 9420 §5.3): `CredentialType credential_type` then the select over it.
///
/// Only the two credential types RFC 9420 defines have a known body; decoding any other
/// `credential_type` fails, since its encoding cannot be known.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
#[repr(u16)]
pub enum Credential {
    /// `basic`: `opaque identity<V>`.
    Basic {
        /// The application-defined identity.
        identity: Vec<u8>,
    } = 0x0001,
    /// `x509`: `Certificate certificates<V>`, the end-entity certificate first.
    X509 {
        /// The certificate chain.
        certificates: Vec<Certificate>,
    } = 0x0002,
}

impl Credential {
    /// The credential's type.
    pub fn credential_type(&self) -> CredentialType {
        match self {
            Self::Basic { .. } => CredentialType::BASIC,
            Self::X509 { .. } => CredentialType::X509,
        }
    }
}
