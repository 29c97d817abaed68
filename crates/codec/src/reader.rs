//! A bounds-checked cursor over input bytes. Every read checks the remaining length first,
//! so decoding never reads out of bounds and never allocates for data that is not there.

use crate::{CodecError, Decode, varint::read_varint};

/// A cursor over a byte slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    input: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `input`.
    pub fn new(input: &'a [u8]) -> Self {
        Self { input }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.input.len()
    }

    /// Whether everything has been read.
    pub fn is_empty(&self) -> bool {
        self.input.is_empty()
    }

    /// The unread bytes, without consuming them.
    pub fn peek_rest(&self) -> &'a [u8] {
        self.input
    }

    /// Fails with [`CodecError::TrailingBytes`] unless everything has been read.
    pub fn finish(&self) -> Result<(), CodecError> {
        if self.input.is_empty() {
            Ok(())
        } else {
            Err(CodecError::TrailingBytes(self.input.len()))
        }
    }

    /// Reads exactly `n` bytes.
    pub fn read_bytes(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        let remaining = self.input.len();
        let (head, tail) = self
            .input
            .split_at_checked(n)
            .ok_or(CodecError::UnexpectedEnd {
                needed: n,
                remaining,
            })?;
        self.input = tail;
        Ok(head)
    }

    /// Reads a fixed-size array.
    pub fn read_array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let bytes = self.read_bytes(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// Reads one byte.
    pub fn read_u8(&mut self) -> Result<u8, CodecError> {
        let [b] = self.read_array::<1>()?;
        Ok(b)
    }

    /// Reads a big-endian `uint16`.
    pub fn read_u16(&mut self) -> Result<u16, CodecError> {
        self.read_array().map(u16::from_be_bytes)
    }

    /// Reads a big-endian `uint32`.
    pub fn read_u32(&mut self) -> Result<u32, CodecError> {
        self.read_array().map(u32::from_be_bytes)
    }

    /// Reads a big-endian `uint64`.
    pub fn read_u64(&mut self) -> Result<u64, CodecError> {
        self.read_array().map(u64::from_be_bytes)
    }

    /// Reads an MLS varint (RFC 9420 §2.1.2).
    pub fn read_varint(&mut self) -> Result<usize, CodecError> {
        read_varint(self)
    }

    /// Reads an `opaque<V>` and returns its content, borrowed from the input.
    pub fn read_opaque(&mut self) -> Result<&'a [u8], CodecError> {
        let len = self.read_varint()?;
        self.read_bytes(len)
    }

    /// Reads a vector header and returns a reader limited to the vector's body.
    pub fn read_vector_body(&mut self) -> Result<Reader<'a>, CodecError> {
        self.read_opaque().map(Reader::new)
    }

    /// Reads values with `read` until the input is exhausted (the body of a vector).
    ///
    /// The vector grows by doubling, but never past one slot per unread input byte (every
    /// value takes at least one byte): a body of `n` one-byte values ends with capacity `n`,
    /// not up to `2n`, and nothing is reserved for values the input cannot hold.
    pub fn read_until_end<T>(
        &mut self,
        mut read: impl FnMut(&mut Self) -> Result<T, CodecError>,
    ) -> Result<Vec<T>, CodecError> {
        let mut items = Vec::new();
        while !self.is_empty() {
            if items.len() == items.capacity() {
                items.reserve_exact(items.len().max(4).min(self.remaining()));
            }
            items.push(read(self)?);
        }
        Ok(items)
    }

    /// Counts the values `skip` reads before the input is exhausted, without consuming
    /// anything. A value must take at least one byte, so the count is at most the input's
    /// length.
    pub fn count_values(
        &self,
        mut skip: impl FnMut(&mut Self) -> Result<(), CodecError>,
    ) -> Result<usize, CodecError> {
        let mut probe = self.clone();
        let mut count = 0usize;
        while !probe.is_empty() {
            let before = probe.remaining();
            skip(&mut probe)?;
            if probe.remaining() >= before {
                return Err(CodecError::Malformed {
                    what: "vector",
                    reason: "an element takes no bytes",
                });
            }
            count = count.saturating_add(1);
        }
        Ok(count)
    }

    /// Reads a vector `T items<V>`.
    pub fn read_vector<T: Decode>(&mut self) -> Result<Vec<T>, CodecError> {
        let mut body = self.read_vector_body()?;
        T::decode_all(&mut body)
    }
}
