//! Roles and room policy in the client (draft-ietf-mimi-room-policy-04, implemented by
//! [`conclave_core::group::policy`]): a new group may start from a preset, adds and removes
//! carry the matching participant-list update, a role change is one AppDataUpdate, and the
//! history tells who changed which role.
//!
//! The core checks every commit against the policy — ours before it is sent, others' before
//! they are applied — so a refused operation comes back as
//! [`conclave_core::group::GroupError::Policy`], naming the missing capability.

use conclave_api::authentication::name_of_identity;
use conclave_core::codepoints::{ROOM_PARTICIPANTS_COMPONENT, ROOM_ROLES_COMPONENT};
use conclave_core::credential::IdentityProvider;
use conclave_core::group::policy::{
    BANNED_ROLE, NO_ROLE, ParticipantList, RoomPolicy, display_user,
};
use conclave_core::group::{CommitSummary, Group, NewGroup};
use conclave_core::messages::{KeyPackage, LeafIndex, Proposal, Remove, Sender};

use crate::error::ClientError;

use crate::names::leaf_name;
pub use conclave_core::group::GroupError;
pub use conclave_core::group::policy::{PolicyError, Preset};

/// A new group with `preset`'s roles and `creator` (its user identity) in its role.
pub(crate) fn new_group(
    group: NewGroup,
    preset: Option<Preset>,
    creator: &[u8],
) -> Result<NewGroup, ClientError> {
    let Some(preset) = preset else {
        return Ok(group);
    };
    let entries = preset
        .policy_for(creator)
        .entries()
        .map_err(|e| ClientError::Group(e.into()))?;
    Ok(entries
        .into_iter()
        .fold(group, |group, (id, data)| group.with_app_data(id, data)))
}

/// The user identity of a credential.
fn user_of(
    identity: &dyn IdentityProvider,
    credential: &conclave_core::messages::Credential,
) -> Result<Vec<u8>, ClientError> {
    identity
        .identity(credential)
        .map_err(|e| ClientError::Group(e.into()))
}

/// The user name of an identity (`mls://alice` → `alice`).
fn name_of(user: &[u8]) -> String {
    name_of_identity(user).map_or_else(|| display_user(user), str::to_owned)
}

/// The participant-list update that goes with adding `key_packages` (§8.1.1): each new user
/// takes the role our role may give (the lowest of its (0 → …) targets, or `member`, which
/// the core then refuses naming `canAddParticipant`). `None` without a policy.
pub(crate) fn for_adds(
    identity: &dyn IdentityProvider,
    group: &Group,
    key_packages: &[KeyPackage],
) -> Result<Option<Proposal>, ClientError> {
    let Some(policy) = group.room_policy()? else {
        return Ok(None);
    };
    let own = group.own_user()?;
    let role = policy
        .add_role_for(&own)
        .unwrap_or(conclave_core::group::policy::MEMBER_ROLE);
    let mut list = policy.participants.clone();
    for kp in key_packages {
        let user = user_of(identity, &kp.leaf_node.credential)?;
        if list.role_of(&user) == NO_ROLE {
            list.set_role(&user, role);
        }
    }
    changed(group, &policy.participants, &list)
}

/// The participant-list update that goes with removing the clients at `leaves` (§8.1.2):
/// their users leave the list. `None` without a policy.
pub(crate) fn for_removes(
    identity: &dyn IdentityProvider,
    group: &Group,
    leaves: &[LeafIndex],
) -> Result<Option<Proposal>, ClientError> {
    let Some(policy) = group.room_policy()? else {
        return Ok(None);
    };
    let mut list = policy.participants.clone();
    for leaf in leaves {
        if let Some(node) = group.tree().leaf(*leaf) {
            list.set_role(&user_of(identity, &node.credential)?, NO_ROLE);
        }
    }
    changed(group, &policy.participants, &list)
}

fn changed(
    group: &Group,
    before: &ParticipantList,
    after: &ParticipantList,
) -> Result<Option<Proposal>, ClientError> {
    if before == after {
        return Ok(None);
    }
    Ok(Some(group.participants_proposal(after)?))
}

/// The proposals that give `user` the role named `role` (§8.1.3): the list update, and for
/// `banned` or `none` the removal of all the user's clients. `None`: the user has that role
/// already.
pub(crate) fn for_role(
    identity: &dyn IdentityProvider,
    group: &Group,
    user: &str,
    role: &str,
) -> Result<Option<Vec<Proposal>>, ClientError> {
    let policy = group.room_policy()?.ok_or(ClientError::NoRoomPolicy)?;
    let role_index = policy
        .roles
        .role_named(role)
        .map(|r| r.role_index)
        .ok_or_else(|| ClientError::UnknownRole {
            role: role.to_owned(),
            known: policy.roles.roles.iter().map(|r| r.name()).collect(),
        })?;
    let leaves: Vec<(LeafIndex, Vec<u8>)> = group
        .members()
        .filter_map(|(leaf, node)| {
            identity
                .identity(&node.credential)
                .ok()
                .map(|id| (leaf, id))
        })
        .filter(|(_, id)| name_of(id) == user)
        .collect();
    let identity_bytes = leaves
        .first()
        .map(|(_, id)| id.clone())
        .or_else(|| {
            policy
                .participants
                .participants
                .iter()
                .find(|p| name_of(&p.user) == user)
                .map(|p| p.user.clone())
        })
        .ok_or_else(|| ClientError::NotAParticipant(user.to_owned()))?;
    let mut list = policy.participants.clone();
    list.set_role(&identity_bytes, role_index);
    let Some(update) = changed(group, &policy.participants, &list)? else {
        return Ok(None);
    };
    let mut proposals = Vec::new();
    if role_index == NO_ROLE || (role_index == BANNED_ROLE && policy.roles.has_banned_role()) {
        proposals.extend(
            leaves
                .iter()
                .filter(|(leaf, _)| *leaf != group.own_leaf())
                .map(|(removed, _)| Proposal::Remove(Remove { removed: *removed })),
        );
    }
    proposals.push(update);
    Ok(Some(proposals))
}

/// Each participant with its role name, for showing.
pub fn roles_of(group: &Group) -> Result<Option<Vec<(String, String)>>, ClientError> {
    let Some(policy) = group.room_policy()? else {
        return Ok(None);
    };
    Ok(Some(
        policy
            .participants
            .participants
            .iter()
            .map(|p| {
                let role = policy
                    .roles
                    .role(p.role_index)
                    .map_or_else(|| p.role_index.to_string(), |r| r.name());
                (name_of(&p.user), role)
            })
            .collect(),
    ))
}

/// The sentences a commit's policy changes add to the history (draft-ietf-mimi-room-policy-04
/// §3): "alice made bob admin", "alice changed the role definitions". `before` is the policy
/// of the epoch the commit left.
pub(crate) fn describe_changes(
    identity: &dyn IdentityProvider,
    summary: &CommitSummary,
    before: Option<&RoomPolicy>,
    group: &Group,
) -> Vec<String> {
    let Ok(Some(after)) = group.room_policy() else {
        return Vec::new();
    };
    let who = |senders: &[Sender]| match senders.last() {
        Some(Sender::Member(leaf)) => group
            .tree()
            .leaf(*leaf)
            .map(|l| leaf_name(identity, l))
            .unwrap_or_else(|| format!("leaf {}", leaf.0)),
        Some(Sender::NewMemberCommit) => "a joiner".into(),
        _ => "someone".into(),
    };
    let mut sentences = Vec::new();
    for change in &summary.app_data.changes {
        let by = who(&change.senders);
        if change.component_id == ROOM_ROLES_COMPONENT {
            sentences.push(format!("{by} changed the role definitions"));
        }
        if change.component_id != ROOM_PARTICIPANTS_COMPONENT {
            continue;
        }
        let empty = ParticipantList::default();
        let old = before.map_or(&empty, |p| &p.participants);
        let role_name = |index: u32| {
            after
                .roles
                .role(index)
                .map_or_else(|| index.to_string(), |r| r.name())
        };
        for p in &after.participants.participants {
            if old.role_of(&p.user) != p.role_index {
                sentences.push(format!(
                    "{by} made {} {}",
                    name_of(&p.user),
                    role_name(p.role_index)
                ));
            }
        }
        for p in &old.participants {
            if after.participants.role_of(&p.user) == NO_ROLE {
                sentences.push(format!(
                    "{by} took {} off the participant list",
                    name_of(&p.user)
                ));
            }
        }
    }
    sentences
}

/// A commit's history text with its policy sentences appended.
pub(crate) fn with_changes(text: String, changes: Vec<String>) -> String {
    if changes.is_empty() {
        return text;
    }
    // "updated the group keys" is what a commit that changed nothing else says.
    let base = text
        .strip_suffix(" updated the group keys")
        .map_or(text.clone(), |_| String::new());
    let mut sentences: Vec<String> = Vec::new();
    if !base.is_empty() {
        sentences.push(base);
    }
    sentences.extend(changes);
    sentences.join("; ")
}
