//! A deterministic random source for tests, simulations and fuzzing.
//!
//! **Not a secure random source**: it is SplitMix64, fully determined by its seed. Production
//! code passes a [`crate::CryptoRandom`] backed by the operating system instead.

use crate::{CryptoError, CryptoRandom};

/// Deterministic pseudo-random bytes from a 64-bit seed (SplitMix64). For tests only.
#[derive(Debug, Clone)]
pub struct SeededRng(u64);

impl SeededRng {
    /// A source seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl CryptoRandom for SeededRng {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), CryptoError> {
        for chunk in dest.chunks_mut(8) {
            let bytes = self.next_u64().to_be_bytes();
            for (d, s) in chunk.iter_mut().zip(bytes) {
                *d = s;
            }
        }
        Ok(())
    }
}
