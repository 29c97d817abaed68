//! Names shown to the user: a member's user name from its credential (`mls://<name>`,
//! RFC 9420 §5.3 credentials as the AS issues them), the local name a joiner gives a group
//! (group ids are random and carry no name), and a commit described in words.

use std::collections::HashMap;

use conclave_api::authentication::{is_valid_name, name_of_identity};
use conclave_core::codepoints::{CONCLAVE_GROUP_NAME_EXTENSION, CONCLAVE_TOPIC_COMPONENT};
use conclave_core::credential::IdentityProvider;
use conclave_core::group::{CommitSummary, Group};
use conclave_core::messages::{Extension, LeafIndex, LeafNode, Sender};

use crate::error::ClientError;

/// The user name a leaf presents (`mls://<name>` → `<name>`).
pub(crate) fn leaf_name(identity: &dyn IdentityProvider, leaf: &LeafNode) -> String {
    match identity.identity(&leaf.credential) {
        Ok(identity) => name_of_identity(&identity)
            .map(str::to_owned)
            .unwrap_or_else(|| String::from_utf8_lossy(&identity).into_owned()),
        Err(_) => "(unknown)".to_owned(),
    }
}

/// Every member of the group's current epoch with its user name.
pub(crate) fn member_names(
    identity: &dyn IdentityProvider,
    group: &Group,
) -> Vec<(LeafIndex, String)> {
    group
        .members()
        .map(|(i, leaf)| (i, leaf_name(identity, leaf)))
        .collect()
}

/// The [`CONCLAVE_GROUP_NAME_EXTENSION`] carrying our local name of a group, for the
/// GroupInfo of the Welcomes we send (never the published GroupInfo: the DS must not see
/// group names, and group ids are random bytes).
pub(crate) fn group_name_extension(name: &str) -> Extension {
    Extension {
        extension_type: CONCLAVE_GROUP_NAME_EXTENSION,
        extension_data: name.as_bytes().to_vec(),
    }
}

/// The local name a joiner gives a group (before making it unique among its groups): the
/// adder's name for it from the Welcome's GroupInfo ([`group_name_extension`]), else one
/// made of the group's topic ([`crate::topic`]: lower-case letters and digits, other
/// characters as `-`), else `group`.
pub(crate) fn joined_name(welcome_extensions: &[Extension], topic: Option<&str>) -> String {
    let from_adder = welcome_extensions
        .iter()
        .find(|e| e.extension_type == CONCLAVE_GROUP_NAME_EXTENSION)
        .and_then(|e| std::str::from_utf8(&e.extension_data).ok())
        .filter(|name| is_valid_name(name));
    if let Some(name) = from_adder {
        return name.to_owned();
    }
    let from_topic: String = topic
        .unwrap_or("")
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("-")
        .chars()
        .take(MAX_GROUP_NAME_FROM_TOPIC)
        .collect();
    let from_topic = from_topic.trim_end_matches('-');
    if is_valid_name(from_topic) {
        from_topic.to_owned()
    } else {
        "group".to_owned()
    }
}

/// Longest local name made from a topic (room for a `-N` suffix within a name's 64).
const MAX_GROUP_NAME_FROM_TOPIC: usize = 32;

/// `Ok` if `name` is an acceptable user or group name.
pub(crate) fn check_name(name: &str) -> Result<(), ClientError> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(ClientError::InvalidName(name.to_owned()))
    }
}

/// A commit in words: "alice added bob and removed carol", "alice set the topic to \"…\""
/// (RFC 9420 §12.4.2 gives the added and removed leaves; removed members are named from the
/// epoch `before`; draft-ietf-mls-extensions-10 §4.7 the components whose data changed, of
/// which the topic is told, [`crate::topic`]). A topic proposed by another member than the
/// committer is told as theirs: "alice added bob; carol set the topic to \"…\"".
pub(crate) fn describe_commit(
    identity: &dyn IdentityProvider,
    summary: &CommitSummary,
    before: &HashMap<LeafIndex, String>,
    group: &Group,
) -> String {
    let name_now = |leaf: LeafIndex| {
        group
            .tree()
            .leaf(leaf)
            .map(|l| leaf_name(identity, l))
            .or_else(|| before.get(&leaf).cloned())
            .unwrap_or_else(|| format!("leaf {}", leaf.0))
    };
    let committer = summary
        .committer_leaf
        .map(name_now)
        .unwrap_or_else(|| "someone".into());
    let added: Vec<String> = summary.added.iter().map(|l| name_now(*l)).collect();
    let removed: Vec<String> = summary
        .removed
        .iter()
        .map(|l| {
            before
                .get(l)
                .cloned()
                .unwrap_or_else(|| format!("leaf {}", l.0))
        })
        .collect();
    let mut parts = Vec::new();
    if !added.is_empty() {
        parts.push(format!("added {}", added.join(", ")));
    }
    if !removed.is_empty() {
        parts.push(format!("removed {}", removed.join(", ")));
    }
    let mut topic_setters = Vec::new();
    for change in &summary.app_data.changes {
        if change.component_id != CONCLAVE_TOPIC_COMPONENT {
            continue;
        }
        let text = match &change.data {
            Some(data) => format!("set the topic to {:?}", String::from_utf8_lossy(data)),
            None => "cleared the topic".to_owned(),
        };
        // The topic's last proposer, who may not be the committer (by reference).
        let setter = match change.senders.last() {
            Some(Sender::Member(leaf)) if summary.committer_leaf != Some(*leaf) => {
                Some(name_now(*leaf))
            }
            _ => None,
        };
        match setter {
            None => parts.push(text),
            Some(setter) => topic_setters.push(format!("{setter} {text}")),
        }
    }
    if parts.is_empty() && topic_setters.is_empty() {
        parts.push("updated the group keys".into());
    }
    let mut sentences = Vec::new();
    if !parts.is_empty() {
        sentences.push(format!("{committer} {}", parts.join(" and ")));
    }
    sentences.extend(topic_setters);
    sentences.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_joiner_takes_the_adders_name_then_the_topic_then_group() {
        let named = [group_name_extension("friends")];
        assert_eq!(joined_name(&named, Some("Friday lunch")), "friends");
        // A name that is not a valid one is ignored.
        let bad = [group_name_extension("Not A Name!")];
        assert_eq!(joined_name(&bad, Some("Friday lunch")), "friday-lunch");
        assert_eq!(
            joined_name(&[], Some("  Ça va? Déjà 5 pm  ")),
            "a-va-d-j-5-pm"
        );
        assert_eq!(joined_name(&[], Some("!!!")), "group");
        assert_eq!(joined_name(&[], None), "group");
        let long = "x".repeat(200);
        assert_eq!(
            joined_name(&[], Some(&long)).len(),
            MAX_GROUP_NAME_FROM_TOPIC
        );
    }
}
