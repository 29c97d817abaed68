//! What the decoding targets share: the round-trip rule.

use conclave_codec::{Decode, Encode};

/// Whatever decodes from `data` must re-encode to exactly `data`.
pub fn round_trip<T: Decode + Encode>(data: &[u8]) {
    if let Ok(value) = T::from_bytes(data) {
        let encoded = value.to_bytes().expect("a decoded value re-encodes");
        assert_eq!(encoded, data, "re-encoding differs from the input");
    }
}
