//! The group topic: Conclave's own application component (draft-ietf-mls-extensions-10 §4.6,
//! §4.7), under the private-use component id
//! [`CONCLAVE_TOPIC_COMPONENT`](conclave_core::codepoints::CONCLAVE_TOPIC_COMPONENT) (draft-ietf-mls-extensions-10 §7.5).
//!
//! - The group context's `app_data_dictionary` entry of the component is the topic: UTF-8
//!   text of at most [`CONCLAVE_TOPIC_MAX_BYTES`] bytes. No entry: no topic.
//! - An AppDataUpdate `update` carries the whole new topic, under the same rules; a `remove`
//!   clears it (§4.7). [`TopicComponent`] is the component logic every member runs: a commit
//!   whose update breaks a rule is invalid for every member (§4.7: "the MLS client MUST
//!   consider the proposal list invalid").
//! - The client installs the component in every group it creates, joins or loads, and its
//!   leaves list it in their `app_components` (§5.1), so that a member can tell whether the
//!   whole group understands a topic change before sending one ([`members_without_topic`]).

use conclave_codec::Decode as _;
use conclave_core::codepoints::{APP_COMPONENTS_COMPONENT, CONCLAVE_TOPIC_COMPONENT};
use conclave_core::credential::IdentityProvider;
use conclave_core::group::{
    ComponentCall, ComponentHandler, ComponentRejection, Components, Group,
};
use conclave_core::messages::{ComponentId, ComponentsList};
use conclave_core::validation::negotiation::{DictionaryLocation, check_dictionary};

pub use conclave_core::codepoints::CONCLAVE_TOPIC_MAX_BYTES;

use crate::error::ClientError;
use crate::names::leaf_name;

/// Checks a topic: UTF-8 of at most [`CONCLAVE_TOPIC_MAX_BYTES`] bytes. The one check of
/// the rule, used by the component logic on every member and before we send a change.
pub(crate) fn check_topic(bytes: &[u8]) -> Result<&str, String> {
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

/// Checks a topic we are about to set: [`check_topic`], as a client error that says what to
/// do (text is UTF-8, so only its length can be wrong).
pub(crate) fn check_new_topic(text: &str) -> Result<(), ClientError> {
    check_topic(text.as_bytes())
        .map(|_| ())
        .map_err(|reason| ClientError::InvalidTopic(format!("{reason}; shorten it")))
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

/// The application components the client installs in every group: the topic.
pub(crate) fn components() -> Components {
    Components::new(TopicComponent)
}

/// The group's topic (its group context entry of the topic component), if it has one. An
/// entry that breaks the rule (which no valid commit can produce, but a group's creator may
/// set one unilaterally, §4.6) is shown with its invalid bytes replaced.
pub(crate) fn topic_of(group: &Group) -> Result<Option<String>, ClientError> {
    Ok(group
        .app_data(CONCLAVE_TOPIC_COMPONENT)?
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
}

/// The members whose leaf does not list the topic component in its `app_components`
/// (draft-ietf-mls-extensions-10 §5.1), by name: they would refuse a topic change, which
/// would then be an invalid commit for them.
pub(crate) fn members_without_topic(identity: &dyn IdentityProvider, group: &Group) -> Vec<String> {
    group
        .members()
        .filter(|(_, leaf)| !lists_topic(&leaf.extensions))
        .map(|(_, leaf)| leaf_name(identity, leaf))
        .collect()
}

/// Whether a leaf's `app_data_dictionary` lists the topic in its `app_components`.
fn lists_topic(extensions: &[conclave_core::messages::Extension]) -> bool {
    check_dictionary(extensions, DictionaryLocation::LeafNode)
        .ok()
        .flatten()
        .and_then(|dictionary| {
            dictionary
                .get(APP_COMPONENTS_COMPONENT)
                .and_then(|data| ComponentsList::from_bytes(data).ok())
        })
        .is_some_and(|list| list.component_ids.contains(&CONCLAVE_TOPIC_COMPONENT))
}

#[cfg(test)]
mod tests {
    use super::*;
    use conclave_core::messages::Sender;

    fn call(component_id: ComponentId) -> ComponentCall<'static> {
        ComponentCall {
            component_id,
            sender: Sender::Member(conclave_core::messages::LeafIndex(0)),
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

    #[test]
    fn a_member_whose_leaf_does_not_list_the_topic_is_named_as_lacking_it() {
        use crate::testing::{NOW, SUITE, env, params, signer};
        use conclave_core::group::{MemberParams, NewGroup};

        let with = Group::create(
            params(signer("alice"), true),
            NewGroup::new(SUITE, b"t#1".to_vec()),
            NOW,
            &mut crate::OsRandom,
        )
        .unwrap();
        assert!(members_without_topic(env().identity.as_ref(), &with).is_empty());
        let without = Group::create(
            MemberParams {
                components: Components::default(),
                ..params(signer("alice"), true)
            },
            NewGroup::new(SUITE, b"t#2".to_vec()),
            NOW,
            &mut crate::OsRandom,
        )
        .unwrap();
        assert_eq!(
            members_without_topic(env().identity.as_ref(), &without),
            ["alice"]
        );
    }
}
