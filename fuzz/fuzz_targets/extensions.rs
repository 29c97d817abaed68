//! Decodes arbitrary bytes as each structure of draft-ietf-mls-extensions-10, chosen by the
//! first byte. Decoding must never panic, and whatever decodes must re-encode to exactly the
//! input. (Proposals and credentials of the draft are also reached through the `structures`
//! target's `Proposal` and `Credential`.)
#![no_main]

use conclave_core::messages::{
    AppAck, AppDataDictionary, AppDataUpdate, AppEphemeral, ApplicationFraming,
    ComponentOperationLabel, ComponentsList, MediaTypeList, Proposal, SafeAad, WireFormats,
};
use libfuzzer_sys::fuzz_target;

mod common;
use common::round_trip;

fuzz_target!(|input: &[u8]| {
    let Some((&selector, data)) = input.split_first() else {
        return;
    };
    match selector % 11 {
        0 => round_trip::<AppDataDictionary>(data),
        1 => round_trip::<AppDataUpdate>(data),
        2 => round_trip::<AppEphemeral>(data),
        3 => round_trip::<SafeAad>(data),
        4 => round_trip::<WireFormats>(data),
        5 => round_trip::<ComponentsList>(data),
        6 => round_trip::<AppAck>(data),
        7 => round_trip::<MediaTypeList>(data),
        8 => round_trip::<ApplicationFraming>(data),
        9 => round_trip::<ComponentOperationLabel>(data),
        // The draft's proposal codepoints of every profile, followed by their bodies.
        _ => {
            for proposal_type in [0x0008_u16, 0x0009, 0x000A, 0xF003, 0xF0D0] {
                let mut bytes = proposal_type.to_be_bytes().to_vec();
                bytes.extend_from_slice(data);
                round_trip::<Proposal>(&bytes);
            }
        }
    }
});
