//! The group topic: Conclave's own application component (draft-ietf-mls-extensions-10 §4.6,
//! §4.7), under the private-use component id
//! [`CONCLAVE_TOPIC_COMPONENT`](conclave_core::codepoints::CONCLAVE_TOPIC_COMPONENT) (draft-ietf-mls-extensions-10 §7.5).
//!
//! - The group context's `app_data_dictionary` entry of the component is the topic: UTF-8
//!   text of at most [`CONCLAVE_TOPIC_MAX_BYTES`] bytes. No entry: no topic.
//! - An AppDataUpdate `update` carries the whole new topic, under the same rules; a `remove`
//!   clears it (§4.7). The component logic every member runs is
//!   [`conclave_core::group::topic::TopicComponent`].
//! - The client installs the component in every group it creates, joins or loads, and its
//!   leaves list it in their `app_components` (§5.1), so that a member can tell whether the
//!   whole group understands a topic change before sending one ([`members_without_topic`]).

use conclave_codec::Decode as _;
use conclave_core::codepoints::{APP_COMPONENTS_COMPONENT, CONCLAVE_TOPIC_COMPONENT};
use conclave_core::credential::IdentityProvider;
use conclave_core::group::{Components, Group};
use conclave_core::messages::{ComponentsList, Extension};
use conclave_core::validation::negotiation::{DictionaryLocation, check_dictionary};

pub use conclave_core::codepoints::CONCLAVE_TOPIC_MAX_BYTES;

pub(crate) use conclave_core::group::topic::check_topic;

use crate::error::ClientError;
use crate::names::leaf_name;

/// Checks a topic we are about to set: [`check_topic`], as a client error that says what to
/// do (text is UTF-8, so only its length can be wrong).
pub(crate) fn check_new_topic(text: &str) -> Result<(), ClientError> {
    check_topic(text.as_bytes())
        .map(|_| ())
        .map_err(|reason| ClientError::InvalidTopic(format!("{reason}; shorten it")))
}

/// The application components the client installs in every group: the topic.
pub(crate) fn components() -> Components {
    conclave_core::group::topic::components()
}

/// The group's topic (its group context entry of the topic component), if it has one. An
/// entry that breaks the rule (which no valid commit can produce, but a group's creator may
/// set one unilaterally, §4.6) is shown with its invalid bytes replaced.
pub(crate) fn topic_of(group: &Group) -> Result<Option<String>, ClientError> {
    Ok(group
        .app_data(CONCLAVE_TOPIC_COMPONENT)?
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
}

/// [`topic_of`] from a group context's extensions, for a partial member (which holds the
/// group context but no [`Group`]).
pub(crate) fn topic_in_context(
    context_extensions: &[Extension],
) -> Result<Option<String>, ClientError> {
    let dictionary = check_dictionary(context_extensions, DictionaryLocation::GroupContext)
        .map_err(conclave_core::validation::ValidationError::from)
        .map_err(conclave_core::group::GroupError::from)?;
    Ok(dictionary
        .and_then(|d| d.get(CONCLAVE_TOPIC_COMPONENT).map(<[u8]>::to_vec))
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
