//! Decoding and encoding errors.

/// Why bytes could not be decoded (or a value encoded).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The input ended before the value did.
    #[error("unexpected end of input: needed {needed} more bytes, {remaining} left")]
    UnexpectedEnd {
        /// Bytes the value still needed.
        needed: usize,
        /// Bytes that were left.
        remaining: usize,
    },
    /// A varint used more bytes than needed (RFC 9420 §2.1.2 requires the minimum).
    #[error("non-minimal variable-length integer encoding (RFC 9420 §2.1.2)")]
    NonMinimalVarint,
    /// A varint began with the reserved `0b11` prefix (RFC 9420 §2.1.2).
    #[error("invalid variable-length integer prefix 0b11 (RFC 9420 §2.1.2)")]
    InvalidVarintPrefix,
    /// A vector is longer than 2^30 - 1 bytes and cannot be length-prefixed.
    #[error("vector of {0} bytes exceeds the MLS varint maximum of 2^30 - 1")]
    VectorTooLong(usize),
    /// Bytes were left after a whole object.
    #[error("{0} trailing bytes after the end of the object")]
    TrailingBytes(usize),
    /// An enumerated value (wire format, content type, presence flag…) is not allowed here.
    #[error("invalid value {value} for {what}")]
    InvalidValue {
        /// The field or type.
        what: &'static str,
        /// The value read.
        value: u64,
    },
    /// A value violates a structural rule stated by the type (e.g. a fixed length).
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// The field or type.
        what: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
}
