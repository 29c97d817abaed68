//! Pre-shared key identifiers (RFC 9420 §8.4), with the `application(3)` PSK type of
//! draft-ietf-mls-extensions-10 §4.5.

use conclave_codec::{Decode, Encode};

use super::ComponentId;

/// `PSKType` (RFC 9420 §8.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode)]
#[repr(u8)]
pub enum PskType {
    /// `external(1)`.
    External = 1,
    /// `resumption(2)`.
    Resumption = 2,
    /// `application(3)` (draft-ietf-mls-extensions-10 §4.5; value
    /// [`crate::codepoints::APPLICATION_PSK_TYPE`]).
    Application = 3,
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
    /// `application(3)` (draft-ietf-mls-extensions-10 §4.5): a PSK a component contributes,
    /// domain-separated from external PSKs and from other components' by `component_id`.
    /// The application supplies it ([`crate::group::PskStore::application_psk`]).
    Application {
        /// `ComponentID component_id`: the component the PSK belongs to.
        component_id: ComponentId,
        /// `opaque psk_id<V>`: the component's identifier of the PSK.
        psk_id: Vec<u8>,
    } = 3,
}

impl Psk {
    /// The PSK's type.
    pub fn psk_type(&self) -> PskType {
        match self {
            Self::External { .. } => PskType::External,
            Self::Resumption { .. } => PskType::Resumption,
            Self::Application { .. } => PskType::Application,
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
