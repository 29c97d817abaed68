//! Decodes arbitrary bytes as an `MLSMessage` (RFC 9420 §6). Decoding must never panic, and
//! whatever decodes must re-encode to exactly the input (the encoding is canonical).
#![no_main]

use conclave_codec::{Decode, Encode};
use conclave_core::messages::MlsMessage;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = MlsMessage::from_bytes(data) {
        let encoded = message.to_bytes().expect("a decoded message re-encodes");
        assert_eq!(encoded, data, "re-encoding differs from the input");
        assert_eq!(message.encoded_len(), data.len());
    }
});
