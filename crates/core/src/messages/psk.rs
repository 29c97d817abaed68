//! Pre-shared key identifiers (RFC 9420 §8.4).

use conclave_codec::{Decode, Encode};

/// `PSKType` (RFC 9420 §8.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode)]
#[repr(u8)]
pub enum PskType {
    /// `external(1)`.
    External = 1,
    /// `resumption(2)`.
    Resumption = 2,
}

/// `ResumptionPSKUsage` (RFC 9420 §8.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode)]
#[repr(u8)]
pub enum ResumptionPskUsage {
    /// `application(1)`.
    Application = 1,
    /// `reinit(2)`.
    Reinit = 2,
    /// `branch(3)`.
    Branch = 3,
}

/// `PSKType psktype` and its select inside `PreSharedKeyID` (RFC 9420 §8.4).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
#[repr(u8)]
pub enum Psk {
    /// `external(1)`: `opaque psk_id<V>`.
    External {
        /// The application-assigned identifier.
        psk_id: Vec<u8>,
    } = 1,
    /// `resumption(2)`: a resumption secret of an epoch of some group.
    Resumption {
        /// `ResumptionPSKUsage usage`.
        usage: ResumptionPskUsage,
        /// `opaque psk_group_id<V>`.
        psk_group_id: Vec<u8>,
        /// `uint64 psk_epoch`.
        psk_epoch: u64,
    } = 2,
}

impl Psk {
    /// The PSK's type.
    pub fn psk_type(&self) -> PskType {
        match self {
            Self::External { .. } => PskType::External,
            Self::Resumption { .. } => PskType::Resumption,
        }
    }
}

/// `PreSharedKeyID` (RFC 9420 §8.4).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub struct PreSharedKeyId {
    /// The type and its type-specific identification.
    pub psk: Psk,
    /// `opaque psk_nonce<V>`: fresh randomness of `KDF.Nh` bytes (§8.4).
    pub psk_nonce: Vec<u8>,
}
