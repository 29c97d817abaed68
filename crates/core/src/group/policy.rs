//! Room policy and roles (draft-ietf-mimi-room-policy-04) as MLS components: who may add,
//! remove, ban, change roles and change the policy itself, checked by every member on every
//! commit before it is accepted.
//!
//! - The role definitions are the draft's `roles_list` component (`RoleData`, §3) in the
//!   GroupContext's `app_data_dictionary` (draft-ietf-mls-extensions-10 §4.6), under
//!   [`ROOM_ROLES_COMPONENT`]. Each participant's role is in Conclave's participant list
//!   ([`ROOM_PARTICIPANTS_COMPONENT`]: the MIMI ParticipantList of draft-ietf-mimi-protocol
//!   reduced to what the policy needs, user identity → role index). Both change only through
//!   AppDataUpdate (§3: "the value of the `update` field completely replaces the value of the
//!   `data` field"); a GroupContextExtensions proposal that touches them is refused.
//! - A "user" is the identity the group's identity provider gives a leaf's credential
//!   ([`crate::credential::IdentityProvider::identity`]); a user's leaves are its clients.
//! - [`check_commit`] is the one check of a commit's proposal list against the policy of the
//!   epoch it leaves (§8: each capability covers sending the proposals and committing them).
//!   It runs where the proposal list is validated, so commit creation, commit processing by
//!   every member and the public view of a Delivery Service ([`crate::public_group`]) judge
//!   alike. A group whose context has no `roles_list` has no policy: everything the RFC allows
//!   is allowed (and a commit may introduce one; it only has to leave a consistent state).
//! - [`check_received`] refuses a proposal by reference whose sender's role holds no
//!   capability that could authorize it, so that it never enters the proposal cache.
//! - Several senders of participant-list updates in one commit must each be authorized for
//!   every change the commit makes to the list (the conservative reading: the draft does not
//!   say how concurrent list updates combine).
//! - What each MLS operation needs (§8.1): an Add of a client whose user joins the list needs
//!   `canAddParticipant` with the (0 → role) change; an Add of another client of a listed user
//!   by that user needs `canAddOwnClient`; a Remove of another user's client needs
//!   `canRemoveParticipant` (the user leaves the list), `canBan` (the user becomes "banned")
//!   or `canKick` (the user stays); removing one's own client needs `canRemoveOwnClient`, or
//!   `canRemoveSelf` when leaving the list; a role change needs `canChangeUserRole`, `canBan`
//!   or `canUnban` with the change in the actor's `authorized_role_changes`; an external join
//!   needs `canOpenJoin` on role 0 (newcomers) or `canAddOwnClient` (listed users); an
//!   AppDataUpdate of `roles_list` needs `canChangeRoleDefinitions` (§8.6), ReInit needs
//!   `canSendMLSReinitProposal` (§8.6). Updates and PSKs need nothing (their capabilities are
//!   reserved, §8.7).
//! - Message capabilities (§8.3): [`check_message`] — an application message is sent only
//!   by a user whose role holds `canSendMessage` and read only by one whose role holds
//!   `canReceiveMessage`, under the policy of the message's epoch; the sender's client, every
//!   receiver and the DS of a verified group ("the Hub can enforce whether a member can send
//!   a message") check it. The finer message capabilities (replies, reactions, edits, links)
//!   concern the content format and are the application's.
//! - Not implemented: preauthorization (§4: `preauth_list`, `canJoinIfPreauthorized`,
//!   `canChangeOwnRole`), the base room policy and the other components (§5–§7), join codes,
//!   and the DS withholding fan-out from users without `canReceiveMessage`.

mod presets;
#[cfg(test)]
mod tests;

use conclave_codec::{CodecError, Decode, Encode};

use super::app_data::{ComponentCall, ComponentHandler, ComponentRejection};
use super::proposals::{AppliedProposals, CommittedProposal, Committer};
use crate::codepoints::{ROOM_PARTICIPANTS_COMPONENT, ROOM_ROLES_COMPONENT};
use crate::credential::IdentityProvider;
use crate::messages::{
    AppDataDictionary, AppDataUpdateOperation, ComponentId, Extension, ExtensionProposalBody,
    LeafNode, Proposal, Sender,
};
use crate::tree::RatchetTree;
use crate::validation::negotiation::{DictionaryLocation, check_dictionary};

pub use presets::{ADMIN_ROLE, MEMBER_ROLE, Preset, UnknownPreset};

// ---- capabilities (draft-ietf-mimi-room-policy-04 §8, §10.2) -------------------------------

/// `uint16 CapabilityType` (draft-ietf-mimi-room-policy-04 §3, the "MIMI Role Capabilities"
/// registry of §10.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Encode, Decode)]
pub struct Capability(pub u16);

impl Capability {
    /// `canAddParticipant` (§8.1.1).
    pub const ADD_PARTICIPANT: Self = Self(0x0000);
    /// `canRemoveParticipant` (§8.1.2).
    pub const REMOVE_PARTICIPANT: Self = Self(0x0001);
    /// `canAddOwnClient` (§8.1.1).
    pub const ADD_OWN_CLIENT: Self = Self(0x0002);
    /// `canRemoveOwnClient` (§8.1.2).
    pub const REMOVE_OWN_CLIENT: Self = Self(0x0003);
    /// `canOpenJoin` (§8.1.1): role 0 only.
    pub const OPEN_JOIN: Self = Self(0x0004);
    /// `canJoinIfPreauthorized` (§8.1.1; preauthorization is not implemented).
    pub const JOIN_IF_PREAUTHORIZED: Self = Self(0x0005);
    /// `canRemoveSelf` (§8.1.2).
    pub const REMOVE_SELF: Self = Self(0x0006);
    /// `canBan` (§8.1.3).
    pub const BAN: Self = Self(0x000a);
    /// `canUnBan` (§8.1.3).
    pub const UNBAN: Self = Self(0x000b);
    /// `canKick` (§8.1.2).
    pub const KICK: Self = Self(0x000c);
    /// `canChangeUserRole` (§8.1.3).
    pub const CHANGE_USER_ROLE: Self = Self(0x000f);
    /// `canChangeOwnRole` (§8.1.3; needs preauthorization, not implemented).
    pub const CHANGE_OWN_ROLE: Self = Self(0x0010);
    /// `canSendMessage` (§8.3).
    pub const SEND_MESSAGE: Self = Self(0x0100);
    /// `canReceiveMessage` (§8.3).
    pub const RECEIVE_MESSAGE: Self = Self(0x0101);
    /// `canChangeRoomName` (§8.2).
    pub const CHANGE_ROOM_NAME: Self = Self(0x0300);
    /// `canChangeRoomMembershipStyle` (§8.6).
    pub const CHANGE_ROOM_MEMBERSHIP_STYLE: Self = Self(0x0502);
    /// `canChangeRoleDefinitions` (§8.6).
    pub const CHANGE_ROLE_DEFINITIONS: Self = Self(0x0503);
    /// `canChangePreauthorizedUserList` (§8.6).
    pub const CHANGE_PREAUTHORIZED_USER_LIST: Self = Self(0x0504);
    /// `canSendMLSReinitProposal` (§8.6).
    pub const SEND_MLS_REINIT_PROPOSAL: Self = Self(0x0601);

    const NAMES: [(Self, &'static str); 19] = [
        (Self::ADD_PARTICIPANT, "canAddParticipant"),
        (Self::REMOVE_PARTICIPANT, "canRemoveParticipant"),
        (Self::ADD_OWN_CLIENT, "canAddOwnClient"),
        (Self::REMOVE_OWN_CLIENT, "canRemoveOwnClient"),
        (Self::OPEN_JOIN, "canOpenJoin"),
        (Self::JOIN_IF_PREAUTHORIZED, "canJoinIfPreauthorized"),
        (Self::REMOVE_SELF, "canRemoveSelf"),
        (Self::BAN, "canBan"),
        (Self::UNBAN, "canUnBan"),
        (Self::KICK, "canKick"),
        (Self::CHANGE_USER_ROLE, "canChangeUserRole"),
        (Self::CHANGE_OWN_ROLE, "canChangeOwnRole"),
        (Self::SEND_MESSAGE, "canSendMessage"),
        (Self::RECEIVE_MESSAGE, "canReceiveMessage"),
        (Self::CHANGE_ROOM_NAME, "canChangeRoomName"),
        (
            Self::CHANGE_ROOM_MEMBERSHIP_STYLE,
            "canChangeRoomMembershipStyle",
        ),
        (Self::CHANGE_ROLE_DEFINITIONS, "canChangeRoleDefinitions"),
        (
            Self::CHANGE_PREAUTHORIZED_USER_LIST,
            "canChangePreauthorizedUserList",
        ),
        (Self::SEND_MLS_REINIT_PROPOSAL, "canSendMLSReinitProposal"),
    ];

    /// The registry name (§10.2), when Conclave knows it.
    pub fn name(self) -> Option<&'static str> {
        Self::NAMES
            .iter()
            .find(|(capability, _)| *capability == self)
            .map(|(_, name)| *name)
    }
}

impl core::fmt::Display for Capability {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "capability 0x{:04x}", self.0),
        }
    }
}

// ---- the components (draft-ietf-mimi-room-policy-04 §3) -----------------------------------

/// The role index of a non-participant (§3: "`role_index` zero is reserved").
pub const NO_ROLE: u32 = 0;
/// The role index of the "banned" role (§8.1.3).
pub const BANNED_ROLE: u32 = 1;
/// The name the banned role must have (§8.1.3).
pub const BANNED_ROLE_NAME: &[u8] = b"banned";

/// `SingleSourceRoleChangeTargets` (§3).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub struct RoleChangeTargets {
    /// `from_role_index`.
    pub from_role_index: u32,
    /// `target_role_indexes<V>`.
    pub target_role_indexes: Vec<u32>,
}

/// `Role` (§3).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub struct Role {
    /// `role_index`.
    pub role_index: u32,
    /// `role_name<V>`: a human-readable name.
    pub role_name: Vec<u8>,
    /// `role_description<V>`.
    pub role_description: Vec<u8>,
    /// `role_capabilities<V>`.
    pub role_capabilities: Vec<Capability>,
    /// `minimum_participants_constraint`.
    pub minimum_participants_constraint: u32,
    /// `optional uint32 maximum_participants_constraint`.
    pub maximum_participants_constraint: Option<u32>,
    /// `minimum_active_participants_constraint`.
    pub minimum_active_participants_constraint: u32,
    /// `optional uint32 maximum_active_participants_constraint`.
    pub maximum_active_participants_constraint: Option<u32>,
    /// `authorized_role_changes<V>`.
    pub authorized_role_changes: Vec<RoleChangeTargets>,
}

impl Role {
    /// Whether the role holds `capability`.
    pub fn has(&self, capability: Capability) -> bool {
        self.role_capabilities.contains(&capability)
    }

    /// Whether the role's `authorized_role_changes` allow `from` → `to` (§8.1).
    pub fn may_change(&self, from: u32, to: u32) -> bool {
        self.authorized_role_changes
            .iter()
            .any(|entry| entry.from_role_index == from && entry.target_role_indexes.contains(&to))
    }

    /// The name as text (lossy), for messages.
    pub fn name(&self) -> String {
        String::from_utf8_lossy(&self.role_name).into_owned()
    }
}

/// `RoleData` (§3): the data of [`ROOM_ROLES_COMPONENT`], and its `RoleUpdate`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Encode, Decode)]
pub struct RoleData {
    /// `roles<V>`.
    pub roles: Vec<Role>,
}

impl RoleData {
    /// The role with `index`.
    pub fn role(&self, index: u32) -> Option<&Role> {
        self.roles.iter().find(|role| role.role_index == index)
    }

    /// The role named `name`.
    pub fn role_named(&self, name: &str) -> Option<&Role> {
        self.roles
            .iter()
            .find(|role| role.role_name == name.as_bytes())
    }

    /// Whether role 1 is the "banned" role the ban capabilities need (§8.1.3).
    pub fn has_banned_role(&self) -> bool {
        self.role(BANNED_ROLE)
            .is_some_and(|role| role.role_name == BANNED_ROLE_NAME)
    }

    /// The rules a role list must follow (§3, §8.1.1): role indexes are unique; a maximum is
    /// not below its minimum; `canOpenJoin` "MUST NOT appear in any non-zero role"; a role
    /// that holds `canOpenJoin` has an `authorized_role_changes` entry from role 0 (§8.1.1
    /// "MUST have an entry with `from_role_index` equal to zero"); every role change names
    /// existing roles (or 0).
    pub fn check(&self) -> Result<(), PolicyError> {
        let invalid = |reason: String| PolicyError::InvalidRoles { reason };
        for (position, role) in self.roles.iter().enumerate() {
            if self
                .roles
                .iter()
                .skip(position.saturating_add(1))
                .any(|other| other.role_index == role.role_index)
            {
                return Err(invalid(format!(
                    "role index {} appears twice (§3)",
                    role.role_index
                )));
            }
            let below = |max: Option<u32>, min: u32| max.is_some_and(|max| max < min);
            if below(
                role.maximum_participants_constraint,
                role.minimum_participants_constraint,
            ) || below(
                role.maximum_active_participants_constraint,
                role.minimum_active_participants_constraint,
            ) {
                return Err(invalid(format!(
                    "role {} has a maximum below its minimum (§3)",
                    role.role_index
                )));
            }
            if role.has(Capability::OPEN_JOIN) {
                if role.role_index != NO_ROLE {
                    return Err(invalid(format!(
                        "canOpenJoin appears in the non-zero role {} (§8.1.1: it MUST NOT)",
                        role.role_index
                    )));
                }
                if !role
                    .authorized_role_changes
                    .iter()
                    .any(|entry| entry.from_role_index == NO_ROLE)
                {
                    return Err(invalid(
                        "role 0 holds canOpenJoin without an authorized_role_changes entry \
                         from role 0 (§8.1.1: it MUST have one)"
                            .into(),
                    ));
                }
            }
            for entry in &role.authorized_role_changes {
                for index in core::iter::once(entry.from_role_index)
                    .chain(entry.target_role_indexes.iter().copied())
                {
                    if index != NO_ROLE && self.role(index).is_none() {
                        return Err(invalid(format!(
                            "role {} authorizes a change involving role {index}, which is not \
                             defined (§3)",
                            role.role_index
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

/// One entry of the participant list: a user and its role.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub struct Participant {
    /// `opaque user<V>`: the user's identity (as the identity provider names it).
    pub user: Vec<u8>,
    /// `uint32 role_index`: never 0 (role 0 means "not in the list", §3).
    pub role_index: u32,
}

/// Conclave's participant list, the data of [`ROOM_PARTICIPANTS_COMPONENT`] and its update:
/// `struct { Participant participants<V>; }`, sorted by `user` with no user twice, so that
/// every member encodes one list one way. An update replaces the list.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Encode, Decode)]
pub struct ParticipantList {
    /// `participants<V>`.
    pub participants: Vec<Participant>,
}

impl ParticipantList {
    /// The role of `user`: [`NO_ROLE`] when it is not in the list.
    pub fn role_of(&self, user: &[u8]) -> u32 {
        self.participants
            .binary_search_by(|p| p.user.as_slice().cmp(user))
            .ok()
            .and_then(|index| self.participants.get(index))
            .map_or(NO_ROLE, |p| p.role_index)
    }

    /// Sets `user`'s role; [`NO_ROLE`] takes it out of the list. Keeps the list sorted.
    pub fn set_role(&mut self, user: &[u8], role_index: u32) {
        match self
            .participants
            .binary_search_by(|p| p.user.as_slice().cmp(user))
        {
            Ok(index) if role_index == NO_ROLE => {
                self.participants.remove(index);
            }
            Ok(index) => {
                if let Some(entry) = self.participants.get_mut(index) {
                    entry.role_index = role_index;
                }
            }
            Err(_) if role_index == NO_ROLE => {}
            Err(index) => self.participants.insert(
                index,
                Participant {
                    user: user.to_vec(),
                    role_index,
                },
            ),
        }
    }

    /// The rules of the list against `roles`: sorted by user, no user twice, no empty user,
    /// no entry with role 0 (§3), every role defined.
    pub fn check(&self, roles: &RoleData) -> Result<(), PolicyError> {
        let invalid = |reason: String| PolicyError::InvalidParticipants { reason };
        for pair in self.participants.windows(2) {
            if let [first, second] = pair
                && first.user >= second.user
            {
                return Err(invalid(
                    "the participant list must be sorted by user with no user twice".into(),
                ));
            }
        }
        for participant in &self.participants {
            if participant.user.is_empty() {
                return Err(invalid("a participant has an empty user identity".into()));
            }
            if participant.role_index == NO_ROLE {
                return Err(invalid(format!(
                    "participant {} has role 0, which means \"not a participant\" (§3)",
                    display_user(&participant.user)
                )));
            }
            if roles.role(participant.role_index).is_none() {
                return Err(invalid(format!(
                    "participant {} has role {}, which is not defined",
                    display_user(&participant.user),
                    participant.role_index
                )));
            }
        }
        Ok(())
    }
}

/// A user identity for messages: text when it is UTF-8, else hex.
pub fn display_user(user: &[u8]) -> String {
    match core::str::from_utf8(user) {
        Ok(text) => text.to_owned(),
        Err(_) => user.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

/// A group's policy: the role definitions and the participant list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoomPolicy {
    /// The `roles_list` component.
    pub roles: RoleData,
    /// The participant list component (empty when absent).
    pub participants: ParticipantList,
}

impl RoomPolicy {
    /// The policy in a GroupContext's extensions: `None` when its `app_data_dictionary` has
    /// no `roles_list` (no policy). Malformed components are an error.
    pub fn from_extensions(extensions: &[Extension]) -> Result<Option<Self>, PolicyError> {
        let dictionary =
            check_dictionary(extensions, DictionaryLocation::GroupContext).map_err(|e| {
                PolicyError::InvalidRoles {
                    reason: format!("the app_data_dictionary does not decode: {e}"),
                }
            })?;
        Self::from_dictionary(dictionary.as_ref())
    }

    /// The policy in a dictionary (see [`RoomPolicy::from_extensions`]).
    pub fn from_dictionary(
        dictionary: Option<&AppDataDictionary>,
    ) -> Result<Option<Self>, PolicyError> {
        let Some(roles) = dictionary.and_then(|d| d.get(ROOM_ROLES_COMPONENT)) else {
            return Ok(None);
        };
        let roles = decode_roles(roles)?;
        let participants = match dictionary.and_then(|d| d.get(ROOM_PARTICIPANTS_COMPONENT)) {
            Some(bytes) => decode_participants(bytes)?,
            None => ParticipantList::default(),
        };
        Ok(Some(Self {
            roles,
            participants,
        }))
    }

    /// The role of `user` (`None` for a non-participant or an undefined role).
    pub fn role_of(&self, user: &[u8]) -> Option<&Role> {
        self.roles.role(self.participants.role_of(user))
    }

    /// The role `actor` gives a user it adds: the lowest non-zero target of its role's
    /// (0 → …) entry (§8.1.1). `None` when it may add nobody.
    pub fn add_role_for(&self, actor: &[u8]) -> Option<u32> {
        self.role_of(actor)?
            .authorized_role_changes
            .iter()
            .filter(|entry| entry.from_role_index == NO_ROLE)
            .flat_map(|entry| entry.target_role_indexes.iter().copied())
            .filter(|index| *index != NO_ROLE)
            .min()
    }

    /// The two dictionary entries of the policy: (`roles_list`, its data) and (participant
    /// list, its data).
    pub fn entries(&self) -> Result<[(ComponentId, Vec<u8>); 2], CodecError> {
        Ok([
            (ROOM_ROLES_COMPONENT, self.roles.to_bytes()?),
            (ROOM_PARTICIPANTS_COMPONENT, self.participants.to_bytes()?),
        ])
    }
}

/// Which side of an application message [`check_message`] judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageRole {
    /// The member that sends it needs `canSendMessage`.
    Send,
    /// The member that reads it needs `canReceiveMessage`.
    Receive,
}

/// The message capabilities of draft-ietf-mimi-room-policy-04 §8.3 that MLS can see: in a
/// group with a room policy (`extensions`, the GroupContext's, of the message's epoch),
/// `user` may send an application message only if its role holds `canSendMessage`, and read
/// one only if it holds `canReceiveMessage` ("the holder can send / receive instant messages
/// to / from the room"). A group without a policy allows both. A non-participant has role 0,
/// which holds neither in a sensible policy. The finer message capabilities (replies,
/// reactions, edits, links) concern the content format and are the application's.
///
/// `user` is asked only when the group has a policy, so that groups without one pay nothing
/// per message.
pub fn check_message(
    extensions: &[Extension],
    user: impl FnOnce() -> Result<Vec<u8>, PolicyError>,
    side: MessageRole,
) -> Result<(), PolicyError> {
    let Some(policy) = RoomPolicy::from_extensions(extensions)? else {
        return Ok(());
    };
    let user = user()?;
    let user = user.as_slice();
    let (capability, action) = match side {
        MessageRole::Send => (Capability::SEND_MESSAGE, "sending an application message"),
        MessageRole::Receive => (
            Capability::RECEIVE_MESSAGE,
            "receiving an application message",
        ),
    };
    let role_index = policy.participants.role_of(user);
    let role = policy.roles.role(role_index);
    if role.is_some_and(|role| role.has(capability)) {
        return Ok(());
    }
    Err(PolicyError::MissingCapability {
        capability,
        actor: display_user(user),
        role: role.map_or_else(|| format!("{role_index} (undefined)"), Role::name),
        action: action.to_owned(),
        section: "8.3",
    })
}

/// Decodes and checks `RoleData` (§3).
pub fn decode_roles(bytes: &[u8]) -> Result<RoleData, PolicyError> {
    let roles = RoleData::from_bytes(bytes).map_err(PolicyError::MalformedRoles)?;
    roles.check()?;
    Ok(roles)
}

fn decode_participants(bytes: &[u8]) -> Result<ParticipantList, PolicyError> {
    ParticipantList::from_bytes(bytes).map_err(PolicyError::MalformedParticipants)
}

// ---- the group's view ------------------------------------------------------------------------

impl super::Group {
    /// The room policy of the current epoch: `None` when the group has none.
    pub fn room_policy(&self) -> Result<Option<RoomPolicy>, super::GroupError> {
        Ok(RoomPolicy::from_extensions(&self.context().extensions)?)
    }

    /// The user identity of our own leaf, as the group's identity provider names it.
    pub fn own_user(&self) -> Result<Vec<u8>, super::GroupError> {
        Ok(self.env.identity.identity(&self.signer.credential)?)
    }

    /// The AppDataUpdate proposal that replaces the participant list with `list`, under the
    /// group's codepoints (draft-ietf-mimi-room-policy-04 §3; draft-ietf-mls-extensions-10
    /// §4.7).
    pub fn participants_proposal(
        &self,
        list: &ParticipantList,
    ) -> Result<Proposal, super::GroupError> {
        Ok(update_proposal(
            self.config.codepoint_profile,
            ROOM_PARTICIPANTS_COMPONENT,
            list.to_bytes()?,
        ))
    }

    /// The AppDataUpdate proposal that replaces the role definitions with `roles` (§3).
    pub fn roles_proposal(&self, roles: &RoleData) -> Result<Proposal, super::GroupError> {
        Ok(update_proposal(
            self.config.codepoint_profile,
            ROOM_ROLES_COMPONENT,
            roles.to_bytes()?,
        ))
    }
}

/// An AppDataUpdate `update` proposal of a policy component.
pub fn update_proposal(
    profile: crate::codepoints::CodepointProfile,
    component_id: ComponentId,
    data: Vec<u8>,
) -> Proposal {
    super::app_data::app_data_update_proposal(
        profile,
        crate::messages::AppDataUpdate {
            component_id,
            op: AppDataUpdateOperation::Update(data),
        },
    )
}

// ---- the component logic (draft-ietf-mls-extensions-10 §4.7) -------------------------------

/// The component logic of the policy components, in front of the application's other
/// components (`inner`): an update of `roles_list` must be a valid `RoleData` (§3), one of
/// the participant list a valid list; either replaces the data. They carry no AppEphemeral
/// data. Who may send them is [`check_commit`]'s concern.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PolicyComponents<H> {
    inner: H,
}

impl<H> PolicyComponents<H> {
    /// The policy components in front of `inner`.
    pub fn new(inner: H) -> Self {
        Self { inner }
    }
}

impl<H: ComponentHandler> ComponentHandler for PolicyComponents<H> {
    fn supported_components(&self) -> Vec<ComponentId> {
        let mut components = self.inner.supported_components();
        components.extend([ROOM_ROLES_COMPONENT, ROOM_PARTICIPANTS_COMPONENT]);
        components
    }

    fn validate_ephemeral(
        &self,
        call: &ComponentCall<'_>,
        data: &[u8],
    ) -> Result<(), ComponentRejection> {
        match call.component_id {
            ROOM_ROLES_COMPONENT | ROOM_PARTICIPANTS_COMPONENT => Err(ComponentRejection::Invalid(
                "the room policy has no AppEphemeral data".into(),
            )),
            _ => self.inner.validate_ephemeral(call, data),
        }
    }

    fn apply_update(
        &self,
        call: &ComponentCall<'_>,
        current: Option<&[u8]>,
        update: &[u8],
    ) -> Result<Vec<u8>, ComponentRejection> {
        let invalid = |e: PolicyError| ComponentRejection::Invalid(e.to_string());
        match call.component_id {
            ROOM_ROLES_COMPONENT => {
                decode_roles(update).map_err(invalid)?;
                Ok(update.to_vec())
            }
            ROOM_PARTICIPANTS_COMPONENT => {
                let list = decode_participants(update).map_err(invalid)?;
                // The roles are checked against the list in `check_commit`, which sees both.
                list.check(&RoleData {
                    roles: list
                        .participants
                        .iter()
                        .map(|p| placeholder_role(p.role_index))
                        .collect(),
                })
                .map_err(invalid)?;
                Ok(update.to_vec())
            }
            _ => self.inner.apply_update(call, current, update),
        }
    }
}

/// A role with only an index, to check a list's shape without its role definitions.
fn placeholder_role(role_index: u32) -> Role {
    Role {
        role_index,
        role_name: Vec::new(),
        role_description: Vec::new(),
        role_capabilities: Vec::new(),
        minimum_participants_constraint: 0,
        maximum_participants_constraint: None,
        minimum_active_participants_constraint: 0,
        maximum_active_participants_constraint: None,
        authorized_role_changes: Vec::new(),
    }
}

// ---- errors ----------------------------------------------------------------------------------

/// A commit or a policy change the room policy refuses (draft-ietf-mimi-room-policy-04).
/// Each message names the missing capability or the broken rule, and its section.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The actor's role does not hold the capability the operation needs.
    #[error(
        "draft-ietf-mimi-room-policy-04 §{section}: {actor} (role {role}) lacks {capability}, which {action} needs"
    )]
    MissingCapability {
        /// The capability that was missing.
        capability: Capability,
        /// Who acted (the proposal's sender).
        actor: String,
        /// The actor's role name (or "none").
        role: String,
        /// What was attempted.
        action: String,
        /// The section of the rule.
        section: &'static str,
    },
    /// The actor holds the capability but its `authorized_role_changes` do not allow the
    /// role change.
    #[error(
        "draft-ietf-mimi-room-policy-04 §{section}: {actor} (role {role}) has {capability} but its authorized_role_changes do not allow {user} to go from role {from} to role {to}"
    )]
    RoleChangeNotAuthorized {
        /// The capability used.
        capability: Capability,
        /// Who acted.
        actor: String,
        /// The actor's role name.
        role: String,
        /// The user whose role changes.
        user: String,
        /// Its role before.
        from: u32,
        /// Its role after.
        to: u32,
        /// The section of the rule.
        section: &'static str,
    },
    /// The `roles_list` data does not decode.
    #[error("draft-ietf-mimi-room-policy-04 §3: the roles_list does not decode: {0}")]
    MalformedRoles(CodecError),
    /// The participant list does not decode.
    #[error("draft-ietf-mimi-room-policy-04 §3: the participant list does not decode: {0}")]
    MalformedParticipants(CodecError),
    /// The role definitions break a rule.
    #[error("draft-ietf-mimi-room-policy-04: invalid roles_list: {reason}")]
    InvalidRoles {
        /// Which rule.
        reason: String,
    },
    /// The participant list breaks a rule.
    #[error("draft-ietf-mimi-room-policy-04 §3: invalid participant list: {reason}")]
    InvalidParticipants {
        /// Which rule.
        reason: String,
    },
    /// A `roles_list` update in a commit that also changes the participant list.
    #[error(
        "draft-ietf-mimi-room-policy-04 §3: an update of roles_list is not valid in the same commit as a participant list change"
    )]
    RolesWithParticipantChange,
    /// A GroupContextExtensions proposal changes a policy component.
    #[error(
        "draft-ietf-mimi-room-policy-04 §3: the roles and participants change only through AppDataUpdate, not a GroupContextExtensions proposal"
    )]
    NotThroughAppDataUpdate,
    /// After the commit a client belongs to a user that is not a participant.
    #[error(
        "draft-ietf-mimi-room-policy-04 §8.1: after the commit, {user} has a client in the group but is not in the participant list"
    )]
    ClientOfNonParticipant {
        /// The user.
        user: String,
    },
    /// After the commit a banned or removed user still has a client.
    #[error(
        "draft-ietf-mimi-room-policy-04 §8.1.2, §8.1.3: {user} is banned, and a banned user has no client in the group (a ban removes all of the user's clients; unban first)"
    )]
    BannedUserHasClients {
        /// The user.
        user: String,
    },
    /// A role's head-count constraint is broken by the commit.
    #[error(
        "draft-ietf-mimi-room-policy-04 §3, §8.1: role {role} would have {count} {what}, outside its constraint ({limit})"
    )]
    HeadCount {
        /// The role name.
        role: String,
        /// "participants" or "active participants".
        what: &'static str,
        /// The count after the commit.
        count: u32,
        /// The constraint, e.g. "at most 3".
        limit: String,
    },
    /// The identity provider could not name a leaf's user.
    #[error("draft-ietf-mimi-room-policy-04 §8: the user of a leaf is unknown: {0}")]
    UnknownUser(String),
}

// ---- the commit check -----------------------------------------------------------------------

/// What [`check_commit`] judges: a proposal list, applied to the epoch it leaves.
pub(crate) struct CommitCheck<'a> {
    pub(crate) identity: &'a dyn IdentityProvider,
    /// The group context extensions of the epoch the commit leaves.
    pub(crate) extensions: &'a [Extension],
    /// The ratchet tree of the epoch the commit leaves.
    pub(crate) tree: &'a RatchetTree,
    pub(crate) committer: Committer,
    /// The leaf of an external commit's joiner (its UpdatePath leaf).
    pub(crate) joiner: Option<&'a LeafNode>,
    pub(crate) proposals: &'a [CommittedProposal],
    pub(crate) applied: &'a AppliedProposals,
}

/// The user of a leaf.
fn user_of(identity: &dyn IdentityProvider, leaf: &LeafNode) -> Result<Vec<u8>, PolicyError> {
    identity
        .identity(&leaf.credential)
        .map_err(|e| PolicyError::UnknownUser(e.to_string()))
}

/// Who sent a proposal, as the policy sees it.
struct Actor {
    /// The user (`None`: an external sender, which acts as role 0).
    user: Option<Vec<u8>>,
    /// Its role in the list before the commit (0: not listed).
    role_index: u32,
}

struct Judge<'a> {
    old: &'a RoomPolicy,
    new: &'a RoomPolicy,
}

impl Judge<'_> {
    fn actor_name(actor: &Actor) -> String {
        actor
            .user
            .as_deref()
            .map_or_else(|| "an external sender".into(), display_user)
    }

    fn role_name(&self, index: u32) -> String {
        self.old
            .roles
            .role(index)
            .map_or_else(|| format!("{index} (undefined)"), Role::name)
    }

    /// The actor's role must hold `capability` (§8).
    fn require(
        &self,
        actor: &Actor,
        capability: Capability,
        action: impl FnOnce() -> String,
        section: &'static str,
    ) -> Result<(), PolicyError> {
        let holds = self
            .old
            .roles
            .role(actor.role_index)
            .is_some_and(|role| role.has(capability));
        if holds {
            Ok(())
        } else {
            Err(PolicyError::MissingCapability {
                capability,
                actor: Self::actor_name(actor),
                role: self.role_name(actor.role_index),
                action: action(),
                section,
            })
        }
    }

    /// The actor's role must hold `capability` and allow `from` → `to` (§8.1).
    fn require_change(
        &self,
        actor: &Actor,
        capability: Capability,
        user: &[u8],
        (from, to): (u32, u32),
        section: &'static str,
    ) -> Result<(), PolicyError> {
        // Role 0's entry carries canOpenJoin (§8.1.1); the other changes use the actor's role.
        self.require(
            actor,
            capability,
            || format!("changing {}'s role from {from} to {to}", display_user(user)),
            section,
        )?;
        let allowed = self
            .old
            .roles
            .role(actor.role_index)
            .is_some_and(|role| role.may_change(from, to));
        if allowed {
            Ok(())
        } else {
            Err(PolicyError::RoleChangeNotAuthorized {
                capability,
                actor: Self::actor_name(actor),
                role: self.role_name(actor.role_index),
                user: display_user(user),
                from,
                to,
                section,
            })
        }
    }

    /// One participant's role change `from` → `to`, made by `actor` (§8.1.1–§8.1.3).
    fn role_change(
        &self,
        actor: &Actor,
        user: &[u8],
        from: u32,
        to: u32,
    ) -> Result<(), PolicyError> {
        let own = actor.user.as_deref() == Some(user);
        let banned_defined = self.old.roles.has_banned_role();
        match (from, to) {
            (NO_ROLE, _) if own => {
                // A newcomer adding itself: canOpenJoin on role 0 (§8.1.1).
                self.require_change(actor, Capability::OPEN_JOIN, user, (from, to), "8.1.1")
            }
            (NO_ROLE, _) => self.require_change(
                actor,
                Capability::ADD_PARTICIPANT,
                user,
                (from, to),
                "8.1.1",
            ),
            (_, NO_ROLE) if own => {
                self.require_change(actor, Capability::REMOVE_SELF, user, (from, to), "8.1.2")
            }
            (_, NO_ROLE) => self.require_change(
                actor,
                Capability::REMOVE_PARTICIPANT,
                user,
                (from, to),
                "8.1.2",
            ),
            (_, BANNED_ROLE) if banned_defined && !own => {
                self.require_change(actor, Capability::BAN, user, (from, to), "8.1.3")
            }
            (BANNED_ROLE, _) if banned_defined && !own => {
                self.require_change(actor, Capability::UNBAN, user, (from, to), "8.1.3")
            }
            _ if own => {
                // canChangeOwnRole moves a user to its first preauthorization match (§8.1.3);
                // without preauthorization there is none.
                self.require(
                    actor,
                    Capability::CHANGE_OWN_ROLE,
                    || "changing one's own role".into(),
                    "8.1.3",
                )?;
                Err(PolicyError::RoleChangeNotAuthorized {
                    capability: Capability::CHANGE_OWN_ROLE,
                    actor: Self::actor_name(actor),
                    role: self.role_name(actor.role_index),
                    user: display_user(user),
                    from,
                    to,
                    section: "4, 8.1.3",
                })
            }
            _ => self.require_change(
                actor,
                Capability::CHANGE_USER_ROLE,
                user,
                (from, to),
                "8.1.3",
            ),
        }
    }
}

/// Checks a commit's proposal list against the room policy of the epoch it leaves
/// (draft-ietf-mimi-room-policy-04 §3, §8): see the module documentation. A group without a
/// `roles_list` has no policy; a commit that introduces one only has to leave a consistent
/// state.
pub(crate) fn check_commit(check: &CommitCheck<'_>) -> Result<(), PolicyError> {
    let old = RoomPolicy::from_extensions(check.extensions)?;
    let new = RoomPolicy::from_extensions(&check.applied.extensions)?;
    let Some(old) = old else {
        if let Some(new) = &new {
            new.participants.check(&new.roles)?;
            check_members(check, new)?;
        }
        return Ok(());
    };
    let new_or_none = new.clone().unwrap_or_default();
    let judge = Judge {
        old: &old,
        new: &new_or_none,
    };
    let identity = check.identity;
    let joiner_user = check
        .joiner
        .map(|leaf| user_of(identity, leaf))
        .transpose()?;
    let actor_of = |sender: Sender, proposal: &Proposal| -> Result<Actor, PolicyError> {
        let user = match sender {
            Sender::Member(leaf) => Some(user_of(
                identity,
                check
                    .tree
                    .leaf(leaf)
                    .ok_or_else(|| PolicyError::UnknownUser(format!("no leaf {}", leaf.0)))?,
            )?),
            Sender::NewMemberCommit => joiner_user.clone(),
            Sender::NewMemberProposal => match proposal {
                Proposal::Add(add) => Some(user_of(identity, &add.key_package.leaf_node)?),
                _ => None,
            },
            Sender::External(_) => None,
        };
        let role_index = user
            .as_deref()
            .map_or(NO_ROLE, |user| old.participants.role_of(user));
        Ok(Actor { user, role_index })
    };

    let list_changed = old.participants != judge.new.participants;
    let mut roles_updated = false;

    for committed in check.proposals {
        let actor = actor_of(committed.sender, &committed.proposal)?;
        match &committed.proposal {
            Proposal::Add(add) => {
                let user = user_of(identity, &add.key_package.leaf_node)?;
                let before = old.participants.role_of(&user);
                let after = judge.new.participants.role_of(&user);
                if after == BANNED_ROLE && judge.new.roles.has_banned_role() {
                    // §8.1.3: a banned user has no clients; unbanning is a role change.
                    return Err(PolicyError::BannedUserHasClients {
                        user: display_user(&user),
                    });
                }
                if actor.user.as_deref() == Some(user.as_slice()) && before != NO_ROLE {
                    judge.require(
                        &actor,
                        Capability::ADD_OWN_CLIENT,
                        || "adding another client of one's own user".into(),
                        "8.1.1",
                    )?;
                } else if actor.user.as_deref() == Some(user.as_slice()) {
                    judge.role_change(&actor, &user, NO_ROLE, after)?;
                } else {
                    // §8.1.1: a holder authorized to add the user (0 → its role) may add
                    // the user's clients.
                    judge.require(
                        &actor,
                        Capability::ADD_PARTICIPANT,
                        || format!("adding {}", display_user(&user)),
                        "8.1.1",
                    )?;
                    if after != NO_ROLE {
                        judge.require_change(
                            &actor,
                            Capability::ADD_PARTICIPANT,
                            &user,
                            (NO_ROLE, after),
                            "8.1.1",
                        )?;
                    }
                }
            }
            Proposal::Remove(remove) => {
                let leaf = check.tree.leaf(remove.removed).ok_or_else(|| {
                    PolicyError::UnknownUser(format!("no leaf {}", remove.removed.0))
                })?;
                let user = user_of(identity, leaf)?;
                removal(&judge, &actor, &user)?;
            }
            Proposal::Extension(extension) => match &extension.body {
                ExtensionProposalBody::AppDataUpdate(update)
                    if update.component_id == ROOM_ROLES_COMPONENT =>
                {
                    roles_updated = true;
                    judge.require(
                        &actor,
                        Capability::CHANGE_ROLE_DEFINITIONS,
                        || "changing the role definitions".into(),
                        "8.6",
                    )?;
                }
                ExtensionProposalBody::AppDataUpdate(update)
                    if update.component_id == ROOM_PARTICIPANTS_COMPONENT =>
                {
                    if matches!(update.op, AppDataUpdateOperation::Remove) {
                        judge.require(
                            &actor,
                            Capability::CHANGE_ROLE_DEFINITIONS,
                            || "removing the participant list".into(),
                            "8.6",
                        )?;
                    }
                    // Every sender of a list update must be authorized for every change
                    // the commit makes to the list.
                    for (user, before, after) in
                        list_diff(&old.participants, &judge.new.participants)
                    {
                        judge.role_change(&actor, &user, before, after)?;
                    }
                }
                ExtensionProposalBody::SelfRemove(_) => {
                    if let Some(user) = actor.user.clone() {
                        removal(&judge, &actor, &user)?;
                    }
                }
                _ => {}
            },
            Proposal::GroupContextExtensions(gce) => {
                let proposed = RoomPolicy::from_extensions(&gce.extensions)?;
                let unchanged = match &proposed {
                    Some(proposed) => {
                        proposed.roles == old.roles && proposed.participants == old.participants
                    }
                    None => false,
                };
                if !unchanged {
                    return Err(PolicyError::NotThroughAppDataUpdate);
                }
            }
            Proposal::ReInit(_) => judge.require(
                &actor,
                Capability::SEND_MLS_REINIT_PROPOSAL,
                || "a ReInit proposal".into(),
                "8.6",
            )?,
            _ => {}
        }
    }
    if roles_updated && list_changed {
        return Err(PolicyError::RolesWithParticipantChange);
    }
    // A change of the list must come through an AppDataUpdate by an authorized sender; one
    // that appeared another way (a GroupContextExtensions proposal) was refused above.

    // The joiner of an external commit (§8.1.1): a listed user adds its own client, a
    // newcomer must have been put in the list by its own update (checked as canOpenJoin).
    if let (Committer::External, Some(user)) = (check.committer, &joiner_user) {
        let actor = Actor {
            user: Some(user.clone()),
            role_index: old.participants.role_of(user),
        };
        if actor.role_index != NO_ROLE {
            judge.require(
                &actor,
                Capability::ADD_OWN_CLIENT,
                || "joining with another client of one's own user (external commit)".into(),
                "8.1.1",
            )?;
        } else {
            let after = judge.new.participants.role_of(user);
            judge.role_change(&actor, user, NO_ROLE, after)?;
        }
    }
    let Some(new) = &new else {
        return Ok(());
    };
    new.participants.check(&new.roles)?;
    check_members(check, new)?;
    check_head_counts(check, &old, new)?;
    Ok(())
}

/// A proposal received by reference (draft-ietf-mimi-room-policy-04 §8: a capability covers
/// "sending a set of consistent MLS proposals"): its sender's role must hold a capability
/// that can authorize it. Refusing it here keeps it out of the proposal cache, where it would
/// make every commit that covers the pending proposals invalid. Whether a commit of it is
/// authorized as a whole (role changes, head-counts, the state after) is [`check_commit`]'s.
pub(crate) fn check_received(
    identity: &dyn IdentityProvider,
    extensions: &[Extension],
    tree: &RatchetTree,
    sender: Sender,
    proposal: &Proposal,
) -> Result<(), PolicyError> {
    let Some(old) = RoomPolicy::from_extensions(extensions)? else {
        return Ok(());
    };
    let judge = Judge {
        old: &old,
        new: &old,
    };
    let user = match sender {
        Sender::Member(leaf) => Some(user_of(
            identity,
            tree.leaf(leaf)
                .ok_or_else(|| PolicyError::UnknownUser(format!("no leaf {}", leaf.0)))?,
        )?),
        Sender::NewMemberProposal => match proposal {
            Proposal::Add(add) => Some(user_of(identity, &add.key_package.leaf_node)?),
            _ => None,
        },
        Sender::External(_) | Sender::NewMemberCommit => None,
    };
    let actor = Actor {
        role_index: user
            .as_deref()
            .map_or(NO_ROLE, |user| old.participants.role_of(user)),
        user,
    };
    let any = |capabilities: &[Capability], action: &str, section: &'static str| {
        let role = old.roles.role(actor.role_index);
        if capabilities
            .iter()
            .any(|c| role.is_some_and(|role| role.has(*c)))
        {
            return Ok(());
        }
        let first = capabilities
            .first()
            .copied()
            .unwrap_or(Capability::ADD_PARTICIPANT);
        judge.require(&actor, first, || action.to_owned(), section)
    };
    let own = |target: &[u8]| actor.user.as_deref() == Some(target);
    match proposal {
        Proposal::Add(add) => {
            let target = user_of(identity, &add.key_package.leaf_node)?;
            match (own(&target), old.participants.role_of(&target)) {
                (true, NO_ROLE) => any(&[Capability::OPEN_JOIN], "joining", "8.1.1"),
                (true, _) => any(
                    &[Capability::ADD_OWN_CLIENT],
                    "adding another client of one's own user",
                    "8.1.1",
                ),
                (false, _) => any(
                    &[Capability::ADD_PARTICIPANT],
                    &format!("adding {}", display_user(&target)),
                    "8.1.1",
                ),
            }
        }
        Proposal::Remove(remove) => {
            let leaf = tree
                .leaf(remove.removed)
                .ok_or_else(|| PolicyError::UnknownUser(format!("no leaf {}", remove.removed.0)))?;
            let target = user_of(identity, leaf)?;
            if own(&target) {
                any(
                    &[Capability::REMOVE_OWN_CLIENT, Capability::REMOVE_SELF],
                    "removing one's own client",
                    "8.1.2",
                )
            } else {
                any(
                    &[
                        Capability::REMOVE_PARTICIPANT,
                        Capability::BAN,
                        Capability::KICK,
                    ],
                    &format!("removing a client of {}", display_user(&target)),
                    "8.1.2",
                )
            }
        }
        Proposal::Extension(extension) => match &extension.body {
            ExtensionProposalBody::AppDataUpdate(update)
                if update.component_id == ROOM_ROLES_COMPONENT =>
            {
                any(
                    &[Capability::CHANGE_ROLE_DEFINITIONS],
                    "changing the role definitions",
                    "8.6",
                )
            }
            ExtensionProposalBody::AppDataUpdate(update)
                if update.component_id == ROOM_PARTICIPANTS_COMPONENT =>
            {
                any(
                    &[
                        Capability::ADD_PARTICIPANT,
                        Capability::REMOVE_PARTICIPANT,
                        Capability::REMOVE_SELF,
                        Capability::CHANGE_USER_ROLE,
                        Capability::BAN,
                        Capability::UNBAN,
                        Capability::OPEN_JOIN,
                    ],
                    "changing the participant list",
                    "8.1",
                )
            }
            ExtensionProposalBody::SelfRemove(_) => any(
                &[Capability::REMOVE_OWN_CLIENT, Capability::REMOVE_SELF],
                "leaving",
                "8.1.2",
            ),
            _ => Ok(()),
        },
        Proposal::GroupContextExtensions(gce) => {
            match RoomPolicy::from_extensions(&gce.extensions)? {
                Some(proposed) if proposed == old => Ok(()),
                _ => Err(PolicyError::NotThroughAppDataUpdate),
            }
        }
        Proposal::ReInit(_) => any(
            &[Capability::SEND_MLS_REINIT_PROPOSAL],
            "a ReInit proposal",
            "8.6",
        ),
        _ => Ok(()),
    }
}

/// A removal of one of `user`'s clients by `actor` (§8.1.2, §8.1.3).
fn removal(judge: &Judge<'_>, actor: &Actor, user: &[u8]) -> Result<(), PolicyError> {
    let before = judge.old.participants.role_of(user);
    let after = judge.new.participants.role_of(user);
    let own = actor.user.as_deref() == Some(user);
    if own {
        if after == NO_ROLE && before != NO_ROLE {
            judge.role_change(actor, user, before, after)
        } else {
            judge.require(
                actor,
                Capability::REMOVE_OWN_CLIENT,
                || "removing one's own client".into(),
                "8.1.2",
            )
        }
    } else if after == NO_ROLE && before != NO_ROLE {
        judge.require_change(
            actor,
            Capability::REMOVE_PARTICIPANT,
            user,
            (before, after),
            "8.1.2",
        )
    } else if after == BANNED_ROLE && before != BANNED_ROLE && judge.new.roles.has_banned_role() {
        judge.require_change(actor, Capability::BAN, user, (before, after), "8.1.3")
    } else {
        judge.require(
            actor,
            Capability::KICK,
            || format!("removing a client of {}", display_user(user)),
            "8.1.2",
        )
    }
}

/// The users whose role the commit changes: (user, before, after).
fn list_diff(old: &ParticipantList, new: &ParticipantList) -> Vec<(Vec<u8>, u32, u32)> {
    let mut changes = Vec::new();
    for participant in &old.participants {
        let after = new.role_of(&participant.user);
        if after != participant.role_index {
            changes.push((participant.user.clone(), participant.role_index, after));
        }
    }
    for participant in &new.participants {
        if old.role_of(&participant.user) == NO_ROLE {
            changes.push((participant.user.clone(), NO_ROLE, participant.role_index));
        }
    }
    changes
}

/// The users of the clients in the group after the commit, one entry per client.
fn users_after(check: &CommitCheck<'_>) -> Result<Vec<Vec<u8>>, PolicyError> {
    let mut users = check
        .applied
        .tree
        .members()
        .map(|(_, leaf)| user_of(check.identity, leaf))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(joiner) = check.joiner {
        users.push(user_of(check.identity, joiner)?);
    }
    Ok(users)
}

/// After the commit, every client belongs to a participant (§8.1.1: clients are added for a
/// user in the list; §8.1.2: "There MUST NOT be any clients of the removed user") and no
/// banned user has a client (§8.1.3).
fn check_members(check: &CommitCheck<'_>, new: &RoomPolicy) -> Result<(), PolicyError> {
    for user in users_after(check)? {
        match new.participants.role_of(&user) {
            NO_ROLE => {
                return Err(PolicyError::ClientOfNonParticipant {
                    user: display_user(&user),
                });
            }
            BANNED_ROLE if new.roles.has_banned_role() => {
                return Err(PolicyError::BannedUserHasClients {
                    user: display_user(&user),
                });
            }
            _ => {}
        }
    }
    Ok(())
}

/// Head-counts (§3, §8.1): a role whose number of participants (or of active participants,
/// users with a client in the group) grows must stay within its maximum, one that shrinks
/// must stay at or above its minimum.
fn check_head_counts(
    check: &CommitCheck<'_>,
    old: &RoomPolicy,
    new: &RoomPolicy,
) -> Result<(), PolicyError> {
    let active_users = |users: &[Vec<u8>]| {
        let mut users = users.to_vec();
        users.sort_unstable();
        users.dedup();
        users
    };
    let before_users = active_users(
        &check
            .tree
            .members()
            .map(|(_, leaf)| user_of(check.identity, leaf))
            .collect::<Result<Vec<_>, _>>()?,
    );
    let after_users = active_users(&users_after(check)?);
    let count = |list: &ParticipantList, role: u32| -> u32 {
        u32::try_from(
            list.participants
                .iter()
                .filter(|p| p.role_index == role)
                .count(),
        )
        .unwrap_or(u32::MAX)
    };
    let active = |list: &ParticipantList, users: &[Vec<u8>], role: u32| -> u32 {
        u32::try_from(users.iter().filter(|u| list.role_of(u) == role).count()).unwrap_or(u32::MAX)
    };
    for role in &new.roles.roles {
        let index = role.role_index;
        let pairs = [
            (
                "participants",
                count(&old.participants, index),
                count(&new.participants, index),
                role.minimum_participants_constraint,
                role.maximum_participants_constraint,
            ),
            (
                "active participants",
                active(&old.participants, &before_users, index),
                active(&new.participants, &after_users, index),
                role.minimum_active_participants_constraint,
                role.maximum_active_participants_constraint,
            ),
        ];
        for (what, before, after, min, max) in pairs {
            if after > before
                && let Some(max) = max
                && after > max
            {
                return Err(PolicyError::HeadCount {
                    role: role.name(),
                    what,
                    count: after,
                    limit: format!("at most {max}"),
                });
            }
            if after < before && after < min {
                return Err(PolicyError::HeadCount {
                    role: role.name(),
                    what,
                    count: after,
                    limit: format!("at least {min}"),
                });
            }
        }
    }
    Ok(())
}
