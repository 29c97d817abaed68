//! Encodings of the primitive types: fixed-width big-endian integers (RFC 8446 §3.3),
//! fixed-length opaque arrays, vectors with an MLS varint length (RFC 9420 §2.1.2) and
//! `optional<T>` (RFC 9420 §2.1.1: a presence byte, 0 or 1, then the value).

use crate::{CodecError, Decode, Encode, Reader, varint_len, write_varint};

macro_rules! integer {
    ($ty:ty, $read:ident) => {
        impl Encode for $ty {
            fn encoded_len(&self) -> usize {
                core::mem::size_of::<$ty>()
            }
            fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
                out.extend_from_slice(&self.to_be_bytes());
                Ok(())
            }
        }
        impl Decode for $ty {
            fn decode(reader: &mut Reader<'_>) -> Result<Self, CodecError> {
                reader.$read()
            }
            fn skip(reader: &mut Reader<'_>) -> Result<(), CodecError> {
                reader.read_bytes(core::mem::size_of::<$ty>()).map(drop)
            }
        }
    };
}

integer!(u16, read_u16);
integer!(u32, read_u32);
integer!(u64, read_u64);

impl Encode for u8 {
    fn encoded_len(&self) -> usize {
        1
    }
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.push(*self);
        Ok(())
    }
    fn encode_slice(items: &[Self], out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.extend_from_slice(items);
        Ok(())
    }
    fn slice_encoded_len(items: &[Self]) -> usize {
        items.len()
    }
}

impl Decode for u8 {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, CodecError> {
        reader.read_u8()
    }
    fn skip(reader: &mut Reader<'_>) -> Result<(), CodecError> {
        reader.read_bytes(1).map(drop)
    }
    fn decode_all(reader: &mut Reader<'_>) -> Result<Vec<Self>, CodecError> {
        let rest = reader.read_bytes(reader.remaining())?;
        Ok(rest.to_vec())
    }
}

impl<const N: usize> Encode for [u8; N] {
    fn encoded_len(&self) -> usize {
        N
    }
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.extend_from_slice(self);
        Ok(())
    }
}

impl<const N: usize> Decode for [u8; N] {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, CodecError> {
        reader.read_array()
    }
    fn skip(reader: &mut Reader<'_>) -> Result<(), CodecError> {
        reader.read_bytes(N).map(drop)
    }
}

/// `T items<V>`: the length prefix counts bytes, not items.
impl<T: Encode> Encode for Vec<T> {
    fn encoded_len(&self) -> usize {
        let body = T::slice_encoded_len(self);
        varint_len(body) + body
    }
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        write_varint(out, T::slice_encoded_len(self))?;
        T::encode_slice(self, out)
    }
}

impl<T: Decode> Decode for Vec<T> {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, CodecError> {
        reader.read_vector()
    }
    /// By the length prefix: the elements are checked when the vector is decoded.
    fn skip(reader: &mut Reader<'_>) -> Result<(), CodecError> {
        reader.read_opaque().map(drop)
    }
}

impl<T: Encode> Encode for Option<T> {
    fn encoded_len(&self) -> usize {
        1 + self.as_ref().map_or(0, Encode::encoded_len)
    }
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        match self {
            None => {
                out.push(0);
                Ok(())
            }
            Some(value) => {
                out.push(1);
                value.encode(out)
            }
        }
    }
}

impl<T: Decode> Decode for Option<T> {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, CodecError> {
        match reader.read_u8()? {
            0 => Ok(None),
            1 => T::decode(reader).map(Some),
            other => Err(CodecError::InvalidValue {
                what: "optional presence",
                value: other.into(),
            }),
        }
    }
    fn skip(reader: &mut Reader<'_>) -> Result<(), CodecError> {
        match reader.read_u8()? {
            0 => Ok(()),
            1 => T::skip(reader),
            other => Err(CodecError::InvalidValue {
                what: "optional presence",
                value: other.into(),
            }),
        }
    }
}

impl<T: Encode + ?Sized> Encode for &T {
    fn encoded_len(&self) -> usize {
        (**self).encoded_len()
    }
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        (**self).encode(out)
    }
}

impl<T: Encode> Encode for Box<T> {
    fn encoded_len(&self) -> usize {
        (**self).encoded_len()
    }
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        (**self).encode(out)
    }
}

impl<T: Decode> Decode for Box<T> {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, CodecError> {
        T::decode(reader).map(Box::new)
    }
    fn skip(reader: &mut Reader<'_>) -> Result<(), CodecError> {
        T::skip(reader)
    }
}

/// `opaque<V>` given as a borrowed slice (encode only).
impl Encode for [u8] {
    fn encoded_len(&self) -> usize {
        varint_len(self.len()) + self.len()
    }
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        crate::write_opaque(out, self)
    }
}

/// A boolean as one byte, 0 or 1 (used only in stored state; the MLS wire format has none).
impl Encode for bool {
    fn encoded_len(&self) -> usize {
        1
    }
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.push(u8::from(*self));
        Ok(())
    }
}

impl Decode for bool {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, CodecError> {
        match reader.read_u8()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(CodecError::InvalidValue {
                what: "bool",
                value: other.into(),
            }),
        }
    }
}
