//! Decodes arbitrary bytes as each structure of draft-ietf-mls-ratchet-tree-options-00,
//! chosen by the first byte, and checks a decoded URL against a decoded domain list. Decoding
//! must never panic, and whatever decodes must re-encode to exactly the input.
#![no_main]

use conclave_codec::Decode;
use conclave_core::messages::ExtensionPayload;
use conclave_core::ratchet_tree_options::{
    DomainList, PartialGroupInfo, RatchetTreeOption, check_tree_url,
};
use libfuzzer_sys::fuzz_target;

mod common;
use common::round_trip;

fuzz_target!(|input: &[u8]| {
    let Some((&selector, data)) = input.split_first() else {
        return;
    };
    match selector % 4 {
        0 => round_trip::<RatchetTreeOption>(data),
        1 => round_trip::<DomainList>(data),
        2 => round_trip::<PartialGroupInfo>(data),
        // A URL (the first half) against a domain list (the second half).
        _ => {
            let (url, domains) = data.split_at(data.len() / 2);
            if let Ok(list) = DomainList::from_bytes(domains)
                && let Ok(extension) = list.to_extension()
            {
                let _ = check_tree_url(url, &[extension]);
            }
        }
    }
});
