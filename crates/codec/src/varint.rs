//! The MLS variable-length integer (RFC 9420 §2.1.2): a QUIC-style prefix of two bits giving
//! the length (1, 2 or 4 bytes), carrying values up to 2^30 - 1. Encodings must be minimal.

use crate::{CodecError, Reader};

/// Largest value a varint can carry: 2^30 - 1.
pub const MAX_VARINT: usize = (1 << 30) - 1;

/// Number of bytes the minimal encoding of `value` takes (4 for anything ≥ 2^14).
pub const fn varint_len(value: usize) -> usize {
    if value < (1 << 6) {
        1
    } else if value < (1 << 14) {
        2
    } else {
        4
    }
}

/// Appends the minimal varint encoding of `value` (RFC 9420 §2.1.2).
pub fn write_varint(out: &mut Vec<u8>, value: usize) -> Result<(), CodecError> {
    let value32 = match u32::try_from(value) {
        Ok(v) if value <= MAX_VARINT => v,
        _ => return Err(CodecError::VectorTooLong(value)),
    };
    let [b0, b1, b2, b3] = value32.to_be_bytes();
    match varint_len(value) {
        1 => out.push(b3),
        2 => out.extend_from_slice(&[b2 | 0x40, b3]),
        _ => out.extend_from_slice(&[b0 | 0x80, b1, b2, b3]),
    }
    Ok(())
}

/// Reads a varint, rejecting the `0b11` prefix and non-minimal encodings (RFC 9420 §2.1.2).
pub fn read_varint(reader: &mut Reader<'_>) -> Result<usize, CodecError> {
    let first = reader.read_u8()?;
    let (len, value) = match first >> 6 {
        0 => (1, usize::from(first)),
        1 => {
            let second = reader.read_u8()?;
            (2, (usize::from(first & 0x3f) << 8) | usize::from(second))
        }
        2 => {
            let rest = reader.read_array::<3>()?;
            let [a, b, c] = rest;
            let value = (usize::from(first & 0x3f) << 24)
                | (usize::from(a) << 16)
                | (usize::from(b) << 8)
                | usize::from(c);
            (4, value)
        }
        _ => return Err(CodecError::InvalidVarintPrefix),
    };
    if varint_len(value) != len {
        return Err(CodecError::NonMinimalVarint);
    }
    Ok(value)
}
