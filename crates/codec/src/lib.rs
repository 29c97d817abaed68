//! The TLS presentation language (RFC 8446 §3) as MLS uses it, with the MLS variable-length
//! integer for vector lengths (RFC 9420 §2.1.2).
//!
//! # Why our own codec
//! We write our own instead of building on `tls_codec` for three reasons: decoding borrows a
//! [`Reader`] over the input and copies byte vectors with one `memcpy` (no per-element loop),
//! which matters for 1 MiB application messages and 10 000-member trees; the rules below are
//! enforced in one small place we control; and encoding is fallible so that an over-long vector
//! is an error, never a silently truncated length. A derive macro
//! (`#[derive(Encode, Decode)]`, crate `conclave-codec-derive`) keeps the wire structs
//! declarative.
//!
//! # Rules (all enforced, none panic)
//! - Vector lengths are MLS varints and must use the minimal encoding (RFC 9420 §2.1.2);
//!   the `0b11` prefix is invalid.
//! - A length beyond the remaining input is an error, checked before anything is allocated,
//!   so no decode allocates more than the input length justifies.
//! - A vector's elements are counted ([`Decode::skip`]) before they are decoded into a
//!   vector allocated once at its exact size ([`Decode::decode_all`]): a vector costs
//!   `size_of::<T>()` bytes per element, never spare capacity or a reallocation's two
//!   buffers.
//! - [`Decode::from_bytes`] rejects trailing bytes after a whole object.
//! - `optional<T>` presence bytes other than 0 and 1 are rejected.

#![forbid(unsafe_code)]

// Lets the derive macros, which name `::conclave_codec`, be used inside this crate's tests.
#[cfg(test)]
extern crate self as conclave_codec;

mod error;
mod impls;
mod reader;
mod varint;

pub use conclave_codec_derive::{Decode, Encode};
pub use error::CodecError;
pub use reader::Reader;
pub use varint::{MAX_VARINT, read_varint, varint_len, write_varint};

/// A value with a TLS presentation-language encoding.
pub trait Encode {
    /// Exact number of bytes [`Encode::encode`] will append.
    fn encoded_len(&self) -> usize;

    /// Appends the encoding to `out`.
    ///
    /// Fails only if a vector is longer than the MLS varint can express (2^30 - 1 bytes).
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError>;

    /// Encodes into a fresh, exactly sized buffer.
    fn to_bytes(&self) -> Result<Vec<u8>, CodecError> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out)?;
        Ok(out)
    }

    /// Encodes a slice of values back to back (the body of a vector).
    ///
    /// Overridden by `u8` to copy in one step.
    fn encode_slice(items: &[Self], out: &mut Vec<u8>) -> Result<(), CodecError>
    where
        Self: Sized,
    {
        items.iter().try_for_each(|item| item.encode(out))
    }

    /// Encoded length of a slice of values back to back.
    fn slice_encoded_len(items: &[Self]) -> usize
    where
        Self: Sized,
    {
        items.iter().map(Encode::encoded_len).sum()
    }
}

/// A value that can be parsed from its TLS presentation-language encoding.
pub trait Decode: Sized {
    /// Reads one value from the reader, advancing it.
    fn decode(reader: &mut Reader<'_>) -> Result<Self, CodecError>;

    /// Decodes a whole object: the input must contain exactly one value, no trailing bytes.
    fn from_bytes(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut reader = Reader::new(bytes);
        let value = Self::decode(&mut reader)?;
        reader.finish()?;
        Ok(value)
    }

    /// Reads past one value without keeping it. The default decodes it; the codec's own
    /// types and the derive skip a vector by its length prefix, without decoding its
    /// elements.
    fn skip(reader: &mut Reader<'_>) -> Result<(), CodecError> {
        Self::decode(reader).map(drop)
    }

    /// Decodes values until `reader` is exhausted (the body of a vector).
    ///
    /// The values are counted first ([`Decode::skip`]), so the vector is allocated once at
    /// its exact size: memory is `size_of::<Self>()` per value, never a growing vector's
    /// spare capacity or the two buffers of a reallocation (a body of one-byte values
    /// would otherwise briefly take twice that).
    ///
    /// Overridden by `u8` to copy in one step.
    fn decode_all(reader: &mut Reader<'_>) -> Result<Vec<Self>, CodecError> {
        let count = reader.count_values(Self::skip)?;
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            items.push(Self::decode(reader)?);
        }
        reader.finish()?;
        Ok(items)
    }
}

/// Writes `bytes` as an `opaque<V>`: a minimal MLS varint length, then the bytes.
pub fn write_opaque(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), CodecError> {
    write_varint(out, bytes.len())?;
    out.extend_from_slice(bytes);
    Ok(())
}

/// Encoded length of an `opaque<V>` holding `len` bytes.
pub fn opaque_len(len: usize) -> usize {
    varint_len(len) + len
}

/// Writes a vector `T items<V>` (length prefix in bytes, then the items).
pub fn write_vector<T: Encode>(out: &mut Vec<u8>, items: &[T]) -> Result<(), CodecError> {
    write_varint(out, T::slice_encoded_len(items))?;
    T::encode_slice(items, out)
}

#[cfg(test)]
mod tests;
