//! The structures of draft-barnes-mls-replace-00, chosen by the first byte: the Replace
//! proposal body (§4), the `leaf_node_epoch` extension data (§3), a whole Proposal under the
//! Replace codepoint, and the §4 checks on two decoded LeafNodes. Decoding must never panic,
//! whatever decodes must re-encode to exactly the input, and the checks must answer (accept
//! or refuse) without panicking.
#![no_main]

use conclave_codec::Decode;
use conclave_core::codepoints::REPLACE_PROPOSAL;
use conclave_core::group::replace::{check_replace, leaf_node_epoch};
use conclave_core::messages::{LeafIndex, LeafNode, LeafNodeEpoch, Proposal, Replace};
use libfuzzer_sys::fuzz_target;

mod common;
use common::round_trip;

fuzz_target!(|input: &[u8]| {
    let Some((&selector, data)) = input.split_first() else {
        return;
    };
    match selector % 4 {
        0 => round_trip::<Replace>(data),
        1 => round_trip::<LeafNodeEpoch>(data),
        2 => {
            let mut bytes = REPLACE_PROPOSAL.0.to_be_bytes().to_vec();
            bytes.extend_from_slice(data);
            round_trip::<Proposal>(&bytes);
        }
        // An epoch, then the current and the new LeafNode.
        _ => {
            let Some((epoch, rest)) = data.split_first_chunk::<8>() else {
                return;
            };
            let mut reader = conclave_codec::Reader::new(rest);
            let (Ok(current), Ok(new)) =
                (LeafNode::decode(&mut reader), LeafNode::decode(&mut reader))
            else {
                return;
            };
            let leaf = LeafIndex(u32::from(epoch[0]));
            let _ = leaf_node_epoch(&new, leaf);
            let _ = check_replace(u64::from_be_bytes(*epoch), leaf, &current, &new);
        }
    }
});
