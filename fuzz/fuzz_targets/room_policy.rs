//! The room-policy components (draft-ietf-mimi-room-policy-04 §3): arbitrary bytes as a
//! `RoleData` or a participant list, chosen by the first byte. Decoding must never panic,
//! whatever decodes must re-encode to exactly the input, and the rule checks and the
//! component logic must return (accept or refuse) without panicking.
#![no_main]

use conclave_core::group::policy::{ParticipantList, PolicyComponents, RoleData};
use conclave_core::group::{ComponentCall, ComponentHandler, NoComponents};
use conclave_core::codepoints::{ROOM_PARTICIPANTS_COMPONENT, ROOM_ROLES_COMPONENT};
use conclave_core::messages::{LeafIndex, Sender};
use libfuzzer_sys::fuzz_target;

mod common;
use common::round_trip;

fuzz_target!(|input: &[u8]| {
    let Some((&selector, data)) = input.split_first() else {
        return;
    };
    let component_id = if selector % 2 == 0 {
        round_trip::<RoleData>(data);
        if let Ok(roles) = <RoleData as conclave_codec::Decode>::from_bytes(data) {
            let _ = roles.check();
        }
        ROOM_ROLES_COMPONENT
    } else {
        round_trip::<ParticipantList>(data);
        ROOM_PARTICIPANTS_COMPONENT
    };
    let call = ComponentCall {
        component_id,
        sender: Sender::Member(LeafIndex(0)),
        external_commit: false,
        group_id: b"fuzz",
        epoch: 1,
    };
    let _ = PolicyComponents::new(NoComponents).apply_update(&call, None, data);
});
