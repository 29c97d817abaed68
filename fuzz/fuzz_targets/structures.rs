//! Decodes arbitrary bytes as each top-level RFC 9420 structure (and the structures of
//! draft-ietf-mls-targeted-messages and the SCommit / PerMemberCommit messages of
//! draft-mularczyk-mls-splitcommit-00), chosen by the first byte.
//! Decoding must never panic, and whatever decodes must re-encode to exactly the input.
#![no_main]

use conclave_codec::Encode;
use conclave_core::messages::{
    AuthenticatedContent, Commit, ContentType, Credential, GroupContext, GroupInfo, GroupSecrets,
    KeyPackage, LeafNode, PrivateMessageContent, Proposal, RatchetTreeNodes, TargetedMessage,
    TargetedMessageContent, TargetedMessageSenderAuthData, UpdatePath, Welcome,
};
use libfuzzer_sys::fuzz_target;

mod common;
use common::round_trip;

fuzz_target!(|input: &[u8]| {
    let Some((&selector, data)) = input.split_first() else {
        return;
    };
    match selector % 19 {
        0 => round_trip::<KeyPackage>(data),
        1 => round_trip::<Welcome>(data),
        2 => round_trip::<GroupInfo>(data),
        3 => round_trip::<GroupSecrets>(data),
        4 => round_trip::<Commit>(data),
        5 => round_trip::<Proposal>(data),
        6 => round_trip::<LeafNode>(data),
        7 => round_trip::<UpdatePath>(data),
        8 => round_trip::<RatchetTreeNodes>(data),
        9 => round_trip::<GroupContext>(data),
        10 => round_trip::<Credential>(data),
        11 => round_trip::<AuthenticatedContent>(data),
        12 | 13 | 14 => {
            let content_type = match selector % 19 {
                12 => ContentType::Application,
                13 => ContentType::Proposal,
                _ => ContentType::Commit,
            };
            if let Ok(value) = PrivateMessageContent::from_bytes_with_type(data, content_type) {
                // The padding length is kept, so the whole input must re-encode exactly.
                let encoded = value.to_bytes().expect("a decoded value re-encodes");
                assert_eq!(encoded, data, "re-encoding differs from the input");
            }
        }
        15 => round_trip::<TargetedMessage>(data),
        16 => round_trip::<TargetedMessageSenderAuthData>(data),
        17 => {
            if let Ok(value) = TargetedMessageContent::parse(data) {
                // The padding is every byte after the data, all zero: it re-encodes exactly.
                let encoded = value.to_bytes().expect("a parsed content re-encodes");
                assert_eq!(encoded, data, "re-encoding differs from the input");
            }
        }
        18 => round_trip::<conclave_core::split::SplitMessage>(data),
        _ => unreachable!(),
    }
});
