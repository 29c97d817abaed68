//! Names shown to the user: a member's user name from its credential (`mls://<name>`,
//! RFC 9420 §5.3 credentials as the AS issues them), a group's display name from its id, and
//! a commit described in words.

use std::collections::HashMap;

use conclave_api::authentication::{is_valid_name, name_of_identity};
use conclave_core::codepoints::CONCLAVE_TOPIC_COMPONENT;
use conclave_core::credential::IdentityProvider;
use conclave_core::group::{CommitSummary, Group};
use conclave_core::messages::{LeafIndex, LeafNode, Sender};

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

/// The display name of a group id `name#suffix` (RFC 9420 leaves group ids opaque; ours
/// carry the creator's name for the group so that joiners can name it).
pub(crate) fn display_name(group_id: &[u8]) -> String {
    let text = String::from_utf8_lossy(group_id);
    let base = text.split('#').next().unwrap_or("group");
    if is_valid_name(base) {
        base.to_owned()
    } else {
        "group".to_owned()
    }
}

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
