//! Ready-made role sets for new groups, after the role examples of draft-ietf-mimi-room-policy-04
//! (Appendix A: strictly administered, cooperatively administered and open rooms).
//!
//! Every preset has role 0 `none` (non-participants, §3), role 1 `banned` (§8.1.3) and role
//! 2 `member`; `admins-only` and `open` add role 3 `admin`. The creator of a group takes
//! [`Preset::creator_role`].

use super::{
    BANNED_ROLE, BANNED_ROLE_NAME, Capability, NO_ROLE, Participant, ParticipantList, Role,
    RoleChangeTargets, RoleData, RoomPolicy,
};

/// The `member` role index of every preset.
pub const MEMBER_ROLE: u32 = 2;
/// The `admin` role index of the presets that have one.
pub const ADMIN_ROLE: u32 = 3;

/// A preset role set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Preset {
    /// Admins add, remove, ban and change roles; members may only leave (Appendix A
    /// "strictly administered room"). At least one admin stays.
    AdminsOnly,
    /// Every member may add, remove, kick, ban and unban members (Appendix A "cooperatively
    /// administered room"); nobody may change the role definitions.
    Cooperative,
    /// Anyone may join by external commit as a member (`canOpenJoin` on role 0, §8.1.1) and
    /// members may add members; admins as in [`Preset::AdminsOnly`].
    Open,
    /// An announcement channel: as [`Preset::AdminsOnly`], but only admins post; members
    /// read (`member` lacks `canSendMessage`, §8.3).
    Announcements,
}

/// A preset name that is not one of [`Preset::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown policy preset {0:?} (known: admins-only, cooperative, open, announcements)")]
pub struct UnknownPreset(pub String);

fn changes(entries: &[(u32, &[u32])]) -> Vec<RoleChangeTargets> {
    entries
        .iter()
        .map(|(from, targets)| RoleChangeTargets {
            from_role_index: *from,
            target_role_indexes: targets.to_vec(),
        })
        .collect()
}

fn role(
    index: u32,
    name: &[u8],
    description: &str,
    capabilities: &[Capability],
    min_participants: u32,
    role_changes: &[(u32, &[u32])],
) -> Role {
    Role {
        role_index: index,
        role_name: name.to_vec(),
        role_description: description.as_bytes().to_vec(),
        role_capabilities: capabilities.to_vec(),
        minimum_participants_constraint: min_participants,
        maximum_participants_constraint: None,
        minimum_active_participants_constraint: 0,
        maximum_active_participants_constraint: None,
        authorized_role_changes: changes(role_changes),
    }
}

const MESSAGES: [Capability; 2] = [Capability::SEND_MESSAGE, Capability::RECEIVE_MESSAGE];
const OWN_CLIENTS: [Capability; 3] = [
    Capability::ADD_OWN_CLIENT,
    Capability::REMOVE_OWN_CLIENT,
    Capability::REMOVE_SELF,
];

impl Preset {
    /// Every preset.
    pub const ALL: [Self; 4] = [
        Self::AdminsOnly,
        Self::Cooperative,
        Self::Open,
        Self::Announcements,
    ];

    /// The preset's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::AdminsOnly => "admins-only",
            Self::Cooperative => "cooperative",
            Self::Open => "open",
            Self::Announcements => "announcements",
        }
    }

    /// The role the group's creator takes.
    pub fn creator_role(self) -> u32 {
        match self {
            Self::Cooperative => MEMBER_ROLE,
            Self::AdminsOnly | Self::Open | Self::Announcements => ADMIN_ROLE,
        }
    }

    /// The preset's `roles_list`.
    pub fn roles(self) -> RoleData {
        let none_caps: &[Capability] = match self {
            Self::Open => &[Capability::OPEN_JOIN],
            _ => &[],
        };
        let none_changes: &[(u32, &[u32])] = match self {
            Self::Open => &[(NO_ROLE, &[MEMBER_ROLE])],
            _ => &[],
        };
        let mut roles = vec![
            role(
                NO_ROLE,
                b"none",
                "not a participant",
                none_caps,
                0,
                none_changes,
            ),
            role(BANNED_ROLE, BANNED_ROLE_NAME, "banned", &[], 0, &[]),
        ];
        let admin_caps: Vec<Capability> = [
            Capability::ADD_PARTICIPANT,
            Capability::REMOVE_PARTICIPANT,
            Capability::KICK,
            Capability::BAN,
            Capability::UNBAN,
            Capability::CHANGE_USER_ROLE,
            Capability::CHANGE_ROLE_DEFINITIONS,
            Capability::CHANGE_ROOM_NAME,
            Capability::SEND_MLS_REINIT_PROPOSAL,
        ]
        .into_iter()
        .chain(OWN_CLIENTS)
        .chain(MESSAGES)
        .collect();
        match self {
            Self::AdminsOnly | Self::Open | Self::Announcements => {
                let mut member_caps: Vec<Capability> =
                    OWN_CLIENTS.into_iter().chain(MESSAGES).collect();
                if self == Self::Announcements {
                    member_caps.retain(|c| *c != Capability::SEND_MESSAGE);
                }
                let mut member_changes: Vec<(u32, &[u32])> = vec![(MEMBER_ROLE, &[NO_ROLE])];
                if self == Self::Open {
                    member_caps.push(Capability::ADD_PARTICIPANT);
                    member_changes.push((NO_ROLE, &[MEMBER_ROLE]));
                }
                roles.push(role(
                    MEMBER_ROLE,
                    b"member",
                    "a participant",
                    &member_caps,
                    0,
                    &member_changes,
                ));
                roles.push(role(
                    ADMIN_ROLE,
                    b"admin",
                    "manages the room",
                    &admin_caps,
                    1,
                    &[
                        (NO_ROLE, &[MEMBER_ROLE, ADMIN_ROLE]),
                        (BANNED_ROLE, &[NO_ROLE, MEMBER_ROLE]),
                        (MEMBER_ROLE, &[NO_ROLE, BANNED_ROLE, ADMIN_ROLE]),
                        (ADMIN_ROLE, &[NO_ROLE, BANNED_ROLE, MEMBER_ROLE]),
                    ],
                ));
            }
            Self::Cooperative => {
                let member_caps: Vec<Capability> = [
                    Capability::ADD_PARTICIPANT,
                    Capability::REMOVE_PARTICIPANT,
                    Capability::KICK,
                    Capability::BAN,
                    Capability::UNBAN,
                    Capability::CHANGE_ROOM_NAME,
                ]
                .into_iter()
                .chain(OWN_CLIENTS)
                .chain(MESSAGES)
                .collect();
                roles.push(role(
                    MEMBER_ROLE,
                    b"member",
                    "a participant",
                    &member_caps,
                    0,
                    &[
                        (NO_ROLE, &[MEMBER_ROLE]),
                        (BANNED_ROLE, &[NO_ROLE, MEMBER_ROLE]),
                        (MEMBER_ROLE, &[NO_ROLE, BANNED_ROLE]),
                    ],
                ));
            }
        }
        RoleData { roles }
    }

    /// The policy of a new group created by `creator` (its user identity).
    pub fn policy_for(self, creator: &[u8]) -> RoomPolicy {
        RoomPolicy {
            roles: self.roles(),
            participants: ParticipantList {
                participants: vec![Participant {
                    user: creator.to_vec(),
                    role_index: self.creator_role(),
                }],
            },
        }
    }
}

impl core::str::FromStr for Preset {
    type Err = UnknownPreset;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|preset| preset.name() == name)
            .ok_or_else(|| UnknownPreset(name.to_owned()))
    }
}

impl core::fmt::Display for Preset {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}
