//! The group topic: Conclave's own application component (draft-ietf-mls-extensions-10 §4.6,
//! §4.7), under the private-use component id [`CONCLAVE_TOPIC_COMPONENT`] (§7.5).
//!
//! - The group context's `app_data_dictionary` entry of the component is the topic: UTF-8
//!   text of at most [`CONCLAVE_TOPIC_MAX_BYTES`] bytes. No entry: no topic.
//! - An AppDataUpdate `update` carries the whole new topic, under the same rules; a `remove`
//!   clears it (§4.7). [`TopicComponent`] is the component logic every member runs, and a
//!   Delivery Service that follows the group's public state ([`crate::public_group`]): a
//!   commit whose update breaks a rule is invalid for every member (§4.7: "the MLS client
//!   MUST consider the proposal list invalid").

use crate::codepoints::{CONCLAVE_TOPIC_COMPONENT, CONCLAVE_TOPIC_MAX_BYTES};
use crate::group::{ComponentCall, ComponentHandler, ComponentRejection, Components};
use crate::messages::ComponentId;

/// Checks a topic: UTF-8 of at most [`CONCLAVE_TOPIC_MAX_BYTES`] bytes. The one check of
/// the rule, used by the component logic on every member and before we send a change.
pub fn check_topic(bytes: &[u8]) -> Result<&str, String> {
    let text = core::str::from_utf8(bytes)
        .map_err(|e| format!("a group topic must be UTF-8 text, and this one is not ({e})"))?;
    if bytes.len() > CONCLAVE_TOPIC_MAX_BYTES {
        return Err(format!(
            "a group topic is at most {CONCLAVE_TOPIC_MAX_BYTES} bytes of UTF-8, and this one \
             has {} bytes",
            bytes.len()
        ));
    }
    Ok(text)
}

/// The component logic of the group topic (draft-ietf-mls-extensions-10 §4.7): an update's
/// payload is the new topic, checked with [`check_topic`]; the topic carries no AppEphemeral
/// data (§4.8).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TopicComponent;

impl ComponentHandler for TopicComponent {
    fn supported_components(&self) -> Vec<ComponentId> {
        vec![CONCLAVE_TOPIC_COMPONENT]
    }

    fn validate_ephemeral(
        &self,
        call: &ComponentCall<'_>,
        _data: &[u8],
    ) -> Result<(), ComponentRejection> {
        if call.component_id != CONCLAVE_TOPIC_COMPONENT {
            return Err(ComponentRejection::Unknown);
        }
        Err(ComponentRejection::Invalid(
            "the group topic is set with AppDataUpdate only; it has no AppEphemeral data".into(),
        ))
    }

    fn apply_update(
        &self,
        call: &ComponentCall<'_>,
        _current: Option<&[u8]>,
        update: &[u8],
    ) -> Result<Vec<u8>, ComponentRejection> {
        if call.component_id != CONCLAVE_TOPIC_COMPONENT {
            return Err(ComponentRejection::Unknown);
        }
        check_topic(update).map_err(ComponentRejection::Invalid)?;
        Ok(update.to_vec())
    }
}

/// The application components of Conclave's groups: the room policy
/// ([`super::policy::PolicyComponents`]) and the topic.
pub fn components() -> Components {
    Components::new(super::policy::PolicyComponents::new(TopicComponent))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;
    use crate::messages::Sender;

    fn call(component_id: ComponentId) -> ComponentCall<'static> {
        ComponentCall {
            component_id,
            sender: Sender::Member(crate::messages::LeafIndex(0)),
            external_commit: false,
            group_id: b"g",
            epoch: 2,
        }
    }

    #[test]
    fn an_update_sets_the_topic_to_its_payload() {
        let new = TopicComponent
            .apply_update(
                &call(CONCLAVE_TOPIC_COMPONENT),
                Some(b"old"),
                "café ☕".as_bytes(),
            )
            .unwrap();
        assert_eq!(new, "café ☕".as_bytes());
    }

    #[test]
    fn a_topic_of_256_bytes_is_accepted_and_one_of_257_is_refused_naming_the_limit() {
        let longest = "é".repeat(128);
        assert_eq!(check_topic(longest.as_bytes()), Ok(longest.as_str()));
        let too_long = format!("{longest}x");
        let reason = TopicComponent
            .apply_update(&call(CONCLAVE_TOPIC_COMPONENT), None, too_long.as_bytes())
            .unwrap_err();
        assert_eq!(
            reason,
            ComponentRejection::Invalid(
                "a group topic is at most 256 bytes of UTF-8, and this one has 257 bytes".into()
            )
        );
    }

    #[test]
    fn a_topic_that_is_not_utf8_is_refused() {
        let ComponentRejection::Invalid(reason) = TopicComponent
            .apply_update(&call(CONCLAVE_TOPIC_COMPONENT), None, &[0x66, 0xFF])
            .unwrap_err()
        else {
            panic!("not an Invalid rejection")
        };
        assert!(
            reason.starts_with("a group topic must be UTF-8 text"),
            "{reason}"
        );
    }

    #[test]
    fn other_components_and_ephemeral_data_are_not_the_topic_s() {
        assert_eq!(
            TopicComponent.apply_update(&call(ComponentId(0x8C02)), None, b"x"),
            Err(ComponentRejection::Unknown)
        );
        assert!(matches!(
            TopicComponent.validate_ephemeral(&call(CONCLAVE_TOPIC_COMPONENT), b"x"),
            Err(ComponentRejection::Invalid(_))
        ));
    }
}
