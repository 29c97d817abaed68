//! AppAck (draft-ietf-mls-extensions-10 §6.1): acknowledging the application messages
//! received in the current epoch, as the data of an AppEphemeral proposal for the `app_ack`
//! component, so that the acknowledgement enters the transcript with the commit.
//!
//! [`app_ack_of`] builds one from the `(sender, generation)` pairs of the received messages
//! (as [`crate::group::ProcessedMessage::Application`] reports them); [`check_app_ack`] is the
//! validity rule a member applies to a received one. When to send one is the application's
//! policy (§6.1); after an external commit, pending AppEphemerals are gone and an AppAck has
//! to be sent again.

use std::collections::BTreeMap;

use conclave_codec::Encode;

use super::AppDataError;
use crate::codepoints::APP_ACK_COMPONENT;
use crate::group::GroupError;
use crate::messages::{AppAck, AppEphemeral, LeafIndex, MessageRange};
use crate::tree::RatchetTree;

/// The AppAck of a set of received messages, each named by its sender's leaf and its
/// PrivateMessage generation (§6.1): one `MessageRange` per run of consecutive generations
/// of one sender, ordered by sender then generation. Repeated pairs count once.
pub fn app_ack_of(received: impl IntoIterator<Item = (LeafIndex, u32)>) -> AppAck {
    let mut pairs: Vec<(u32, u32)> = received
        .into_iter()
        .map(|(sender, generation)| (sender.0, generation))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    let mut received_ranges: Vec<MessageRange> = Vec::new();
    for (sender, generation) in pairs {
        match received_ranges.last_mut() {
            Some(range)
                if range.sender == sender
                    && range.last_generation.checked_add(1) == Some(generation) =>
            {
                range.last_generation = generation;
            }
            _ => received_ranges.push(MessageRange {
                sender,
                first_generation: generation,
                last_generation: generation,
            }),
        }
    }
    AppAck { received_ranges }
}

/// The AppEphemeral for the `app_ack` component carrying `ack` (§6.1).
pub fn app_ack_ephemeral(ack: &AppAck) -> Result<AppEphemeral, GroupError> {
    Ok(AppEphemeral {
        component_id: APP_ACK_COMPONENT,
        data: ack.to_bytes()?,
    })
}

/// Checks a received AppAck against the members of the epoch it acknowledges messages of
/// (§6.1): every range runs forwards (`first_generation <= last_generation`), names a
/// sender that is a member in that epoch, and does not overlap another range of the same
/// sender.
pub fn check_app_ack(ack: &AppAck, tree: &RatchetTree) -> Result<(), AppDataError> {
    let mut by_sender: BTreeMap<u32, Vec<(u32, u32)>> = BTreeMap::new();
    for range in &ack.received_ranges {
        if range.first_generation > range.last_generation {
            return Err(AppDataError::AppAckRangeReversed {
                sender: range.sender,
                first: range.first_generation,
                last: range.last_generation,
            });
        }
        if tree.leaf(LeafIndex(range.sender)).is_none() {
            return Err(AppDataError::AppAckSenderNotMember(range.sender));
        }
        by_sender
            .entry(range.sender)
            .or_default()
            .push((range.first_generation, range.last_generation));
    }
    for (sender, ranges) in &mut by_sender {
        ranges.sort_unstable();
        if ranges
            .windows(2)
            .any(|pair| matches!(pair, [a, b] if b.0 <= a.1))
        {
            return Err(AppDataError::AppAckRangesOverlap(*sender));
        }
    }
    Ok(())
}
