//! What the targets that feed edited valid messages to a live group share: the edit script
//! and the verbose switch.

use std::sync::OnceLock;

/// `CONCLAVE_FUZZ_VERBOSE=1` prints each outcome (to check what a reproducer does).
pub fn verbose() -> bool {
    static VERBOSE: OnceLock<bool> = OnceLock::new();
    *VERBOSE.get_or_init(|| std::env::var_os("CONCLAVE_FUZZ_VERBOSE").is_some())
}

/// Applies the edit script `edits` to `bytes`.
pub fn edit(mut bytes: Vec<u8>, edits: &[u8]) -> Vec<u8> {
    for chunk in edits.chunks_exact(4) {
        let [op, hi, lo, value] = [chunk[0], chunk[1], chunk[2], chunk[3]];
        let len = bytes.len();
        let at = usize::from(u16::from_be_bytes([hi, lo]));
        match op % 5 {
            0 if len > 0 => bytes[at % len] ^= value.max(1),
            1 => bytes.truncate(at % (len + 1)),
            2 => bytes.insert(at % (len + 1), value),
            3 if len > 0 => {
                bytes.remove(at % len);
            }
            4 if len > 0 => bytes[at % len] = value,
            _ => {}
        }
    }
    bytes
}
