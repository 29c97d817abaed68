//! Tests of the room policy (draft-ietf-mimi-room-policy-04 §3, §8): each MUST and each
//! capability has a refused case, checked both where the commit is created and where every
//! other member processes it (a forging client whose identity provider lies about who it is
//! builds the commit the honest check would refuse). Every refusal leaves the group byte for
//! byte as it was.

use std::sync::{Arc, RwLock};

use conclave_crypto::{CipherSuite, CryptoProvider, SeededRng};
use conclave_crypto_rustcrypto::RustCryptoProvider;

use super::*;
use crate::credential::{
    BasicIdentityProvider, CredentialCheck, CredentialError, IdentityProvider,
};
use crate::group::{
    CommitOptions, CommitOutput, Group, GroupEnv, GroupError, GroupStatus, JoinOptions,
    KeyPackageBundle, MemberParams, NewGroup, ProcessedMessage, SigningIdentity,
};
use crate::messages::{
    Add, Credential, CredentialType, GroupContextExtensions, GroupInfo, MlsMessage, MlsMessageBody,
    ProtocolVersion, ReInit, Remove,
};

const NOW: u64 = 1_700_000_000;
const SUITE: CipherSuite = CipherSuite(1);

/// A basic-credential provider that claims `as_user` for `liar`'s credential: a modified
/// client that believes it holds another member's role.
struct Masquerade {
    liar: Vec<u8>,
    as_user: Vec<u8>,
}

impl IdentityProvider for Masquerade {
    fn validate_credential(&self, check: &CredentialCheck<'_>) -> Result<(), CredentialError> {
        BasicIdentityProvider.validate_credential(check)
    }

    fn identity(&self, credential: &Credential) -> Result<Vec<u8>, CredentialError> {
        let identity = BasicIdentityProvider.identity(credential)?;
        Ok(if identity == self.liar {
            self.as_user.clone()
        } else {
            identity
        })
    }

    fn valid_successor(
        &self,
        predecessor: &Credential,
        successor: &Credential,
    ) -> Result<bool, CredentialError> {
        BasicIdentityProvider.valid_successor(predecessor, successor)
    }

    fn supported_credential_types(&self) -> Vec<CredentialType> {
        vec![CredentialType::BASIC]
    }
}

fn env_with(identity: Arc<dyn IdentityProvider>) -> GroupEnv {
    GroupEnv {
        crypto: Arc::new(RustCryptoProvider),
        identity,
        psks: Arc::new(RwLock::new(std::collections::HashMap::new())),
    }
}

fn env() -> GroupEnv {
    env_with(Arc::new(BasicIdentityProvider))
}

fn params(name: &str, rng: &mut SeededRng) -> MemberParams {
    let cs = RustCryptoProvider.cipher_suite_provider(SUITE).unwrap();
    let signer = SigningIdentity::generate(
        cs.as_ref(),
        Credential::Basic {
            identity: name.as_bytes().to_vec(),
        },
        rng,
    )
    .unwrap();
    let mut params = MemberParams::new(env(), signer);
    params.components = crate::group::topic::components();
    params.config.allow_external_commits = true;
    params
}

fn with_policy(group: NewGroup, policy: &RoomPolicy) -> NewGroup {
    policy
        .entries()
        .unwrap()
        .into_iter()
        .fold(group, |group, (id, data)| group.with_app_data(id, data))
}

/// A room of `preset` created by alice, with `members` added by alice as members.
struct Room {
    groups: Vec<Group>,
    rng: SeededRng,
}

impl Room {
    fn new(preset: Preset, members: &[&str]) -> Self {
        Self::with_roles(preset.policy_for(b"alice"), members)
    }

    fn with_roles(policy: RoomPolicy, members: &[&str]) -> Self {
        let mut rng = SeededRng::new(7);
        let alice = params("alice", &mut rng);
        let group = Group::create(
            alice,
            with_policy(NewGroup::new(SUITE, b"room".to_vec()), &policy),
            NOW,
            &mut rng,
        )
        .unwrap();
        let mut room = Self {
            groups: vec![group],
            rng,
        };
        for name in members {
            room.add(0, name, MEMBER_ROLE).unwrap();
        }
        room
    }

    fn policy(&self) -> RoomPolicy {
        self.groups[0].room_policy().unwrap().unwrap()
    }

    fn list_with(&self, user: &str, role: u32) -> ParticipantList {
        let mut list = self.policy().participants;
        list.set_role(user.as_bytes(), role);
        list
    }

    /// `by` adds `name` with `role` (Add + list update); every member processes it.
    fn add(&mut self, by: usize, name: &str, role: u32) -> Result<(), GroupError> {
        let joiner = params(name, &mut self.rng);
        let bundle = KeyPackageBundle::generate(&joiner, SUITE, NOW, &mut self.rng).unwrap();
        let list = self.list_with(name, role);
        let proposals = vec![
            Proposal::Add(Add {
                key_package: bundle.key_package.clone(),
            }),
            self.groups[by].participants_proposal(&list).unwrap(),
        ];
        let output = self.commit(by, proposals)?;
        let MlsMessageBody::Welcome(welcome) = &output.welcome.as_ref().unwrap().body else {
            panic!("no Welcome")
        };
        let joined = Group::join(joiner, welcome, &bundle, &JoinOptions::default(), NOW).unwrap();
        self.groups.push(joined);
        self.assert_agree();
        Ok(())
    }

    /// `by` commits `proposals`; on success every other member processes the commit.
    fn commit(&mut self, by: usize, proposals: Vec<Proposal>) -> Result<CommitOutput, GroupError> {
        let options = CommitOptions {
            proposals,
            ..CommitOptions::default()
        };
        let before = self.groups[by].to_bytes().unwrap();
        let output = match self.groups[by].commit(&options, NOW, &mut self.rng) {
            Ok(output) => output,
            Err(error) => {
                assert_eq!(
                    self.groups[by].to_bytes().unwrap(),
                    before,
                    "a refusal changed the group"
                );
                return Err(error);
            }
        };
        self.groups[by].merge_pending_commit().unwrap();
        for (i, group) in self.groups.iter_mut().enumerate() {
            if i != by && *group.status() == GroupStatus::Active {
                match group.process_message(&output.commit, NOW).unwrap() {
                    ProcessedMessage::Commit(_) => {}
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
        self.groups
            .retain(|group| *group.status() == GroupStatus::Active);
        Ok(output)
    }

    /// `by` builds a commit with a client that believes it is `as_user`, so its own check
    /// passes; every other member must refuse it and stay byte for byte as it was. Returns
    /// the members' (identical) error.
    fn forged(&mut self, by: usize, as_user: &str, proposals: Vec<Proposal>) -> GroupError {
        let liar = self.groups[by].own_user().unwrap();
        let forger_env = env_with(Arc::new(Masquerade {
            liar,
            as_user: as_user.as_bytes().to_vec(),
        }));
        let mut forger =
            Group::from_bytes(forger_env, &self.groups[by].to_bytes().unwrap()).unwrap();
        forger.set_component_handler(crate::group::topic::components());
        let options = CommitOptions {
            proposals,
            ..CommitOptions::default()
        };
        let output = forger
            .commit(&options, NOW, &mut self.rng)
            .expect("the forger's own check passes");
        self.refused_by_all(by, &output.commit)
    }

    /// Every member but `by` refuses `commit`, unchanged; all report the same error.
    fn refused_by_all(&mut self, by: usize, commit: &MlsMessage) -> GroupError {
        let mut errors = Vec::new();
        for (i, group) in self.groups.iter_mut().enumerate() {
            if i == by {
                continue;
            }
            let before = group.to_bytes().unwrap();
            let error = group
                .process_message(commit, NOW)
                .expect_err("every member must refuse the commit");
            assert_eq!(
                group.to_bytes().unwrap(),
                before,
                "a refusal changed the group"
            );
            errors.push(error);
        }
        let first = errors.first().expect("nobody processed the commit").clone();
        assert!(
            errors.iter().all(|e| *e == first),
            "members disagree: {errors:?}"
        );
        first
    }

    fn assert_agree(&self) {
        for group in &self.groups {
            assert_eq!(group.epoch(), self.groups[0].epoch());
            assert_eq!(group.context(), self.groups[0].context());
            assert_eq!(
                group.epoch_authenticator(),
                self.groups[0].epoch_authenticator()
            );
        }
    }

    fn index_of(&self, name: &str) -> usize {
        self.groups
            .iter()
            .position(|g| g.own_user().unwrap() == name.as_bytes())
            .unwrap()
    }

    fn leaf_of(&self, name: &str) -> crate::messages::LeafIndex {
        self.groups[self.index_of(name)].own_leaf()
    }

    fn key_package(&mut self, name: &str) -> crate::messages::KeyPackage {
        let joiner = params(name, &mut self.rng);
        KeyPackageBundle::generate(&joiner, SUITE, NOW, &mut self.rng)
            .unwrap()
            .key_package
    }
}

fn missing(error: &GroupError) -> Capability {
    match error {
        GroupError::Policy(PolicyError::MissingCapability { capability, .. }) => *capability,
        other => panic!("not a missing capability: {other}"),
    }
}

#[test]
fn an_admin_adds_members_and_every_member_agrees_on_the_list() {
    let room = Room::new(Preset::AdminsOnly, &["bob", "carol"]);
    let policy = room.policy();
    assert_eq!(policy.participants.role_of(b"alice"), ADMIN_ROLE);
    assert_eq!(policy.participants.role_of(b"bob"), MEMBER_ROLE);
    assert_eq!(policy.participants.role_of(b"carol"), MEMBER_ROLE);
    assert_eq!(room.groups.len(), 3);
}

#[test]
fn a_member_s_add_is_refused_when_created_naming_can_add_participant() {
    let mut room = Room::new(Preset::AdminsOnly, &["bob"]);
    let error = room.add(1, "dave", MEMBER_ROLE).unwrap_err();
    assert_eq!(missing(&error), Capability::ADD_PARTICIPANT);
    let text = error.to_string();
    assert!(text.contains("canAddParticipant"), "{text}");
    assert!(
        text.contains("draft-ietf-mimi-room-policy-04 §8.1.1"),
        "{text}"
    );
    assert!(text.contains("bob (role member)"), "{text}");
}

#[test]
fn every_member_refuses_a_forged_add_by_a_member_and_stays_unchanged() {
    let mut room = Room::new(Preset::AdminsOnly, &["bob", "carol"]);
    let kp = room.key_package("dave");
    let list = room.list_with("dave", MEMBER_ROLE);
    let proposals = vec![
        Proposal::Add(Add { key_package: kp }),
        room.groups[1].participants_proposal(&list).unwrap(),
    ];
    let error = room.forged(1, "alice", proposals);
    assert_eq!(missing(&error), Capability::ADD_PARTICIPANT);
}

#[test]
fn an_add_of_a_user_outside_the_participant_list_is_refused() {
    let mut room = Room::new(Preset::AdminsOnly, &[]);
    let kp = room.key_package("dave");
    let error = room
        .commit(0, vec![Proposal::Add(Add { key_package: kp })])
        .unwrap_err();
    assert!(
        matches!(
            error,
            GroupError::Policy(PolicyError::ClientOfNonParticipant { .. })
        ),
        "{error}"
    );
}

#[test]
fn an_admin_may_add_only_to_roles_its_authorized_role_changes_allow() {
    let mut roles = Preset::AdminsOnly.roles();
    for role in &mut roles.roles {
        if role.role_index == ADMIN_ROLE {
            role.authorized_role_changes = vec![RoleChangeTargets {
                from_role_index: NO_ROLE,
                target_role_indexes: vec![MEMBER_ROLE],
            }];
        }
    }
    let mut policy = Preset::AdminsOnly.policy_for(b"alice");
    policy.roles = roles;
    let mut room = Room::with_roles(policy, &[]);
    let error = room.add(0, "dave", ADMIN_ROLE).unwrap_err();
    assert!(
        matches!(
            error,
            GroupError::Policy(PolicyError::RoleChangeNotAuthorized {
                capability: Capability::ADD_PARTICIPANT,
                from: NO_ROLE,
                to: ADMIN_ROLE,
                ..
            })
        ),
        "{error}"
    );
}

#[test]
fn a_member_may_not_remove_another_member_and_members_refuse_the_forgery() {
    let mut room = Room::new(Preset::AdminsOnly, &["bob", "carol"]);
    let carol = room.leaf_of("carol");
    let list = room.list_with("carol", NO_ROLE);
    let proposals = vec![
        Proposal::Remove(Remove { removed: carol }),
        room.groups[1].participants_proposal(&list).unwrap(),
    ];
    let error = room.commit(1, proposals.clone()).unwrap_err();
    assert_eq!(missing(&error), Capability::REMOVE_PARTICIPANT);
    let error = room.forged(1, "alice", proposals);
    assert_eq!(missing(&error), Capability::REMOVE_PARTICIPANT);
    // Kicking (the clients only) needs canKick.
    let error = room
        .commit(1, vec![Proposal::Remove(Remove { removed: carol })])
        .unwrap_err();
    assert_eq!(missing(&error), Capability::KICK);
}

#[test]
fn removing_a_participant_must_remove_all_of_its_clients() {
    let mut room = Room::new(Preset::AdminsOnly, &["bob"]);
    let list = room.list_with("bob", NO_ROLE);
    let proposal = room.groups[0].participants_proposal(&list).unwrap();
    let error = room.commit(0, vec![proposal]).unwrap_err();
    assert!(
        matches!(error, GroupError::Policy(PolicyError::ClientOfNonParticipant { ref user }) if user == "bob"),
        "{error}"
    );
    let bob = room.leaf_of("bob");
    let proposal = room.groups[0].participants_proposal(&list).unwrap();
    room.commit(0, vec![Proposal::Remove(Remove { removed: bob }), proposal])
        .unwrap();
    assert_eq!(room.policy().participants.role_of(b"bob"), NO_ROLE);
    assert_eq!(room.groups.len(), 1);
}

#[test]
fn a_ban_changes_the_role_to_banned_and_must_remove_the_clients() {
    let mut room = Room::new(Preset::AdminsOnly, &["bob", "carol"]);
    let list = room.list_with("bob", BANNED_ROLE);
    let proposal = room.groups[0].participants_proposal(&list).unwrap();
    let error = room.commit(0, vec![proposal.clone()]).unwrap_err();
    assert!(
        matches!(
            error,
            GroupError::Policy(PolicyError::BannedUserHasClients { .. })
        ),
        "{error}"
    );
    let bob = room.leaf_of("bob");
    room.commit(0, vec![Proposal::Remove(Remove { removed: bob }), proposal])
        .unwrap();
    assert_eq!(room.policy().participants.role_of(b"bob"), BANNED_ROLE);
    // A banned user cannot be added back; a member cannot unban.
    let carol = room.index_of("carol");
    let list = room.list_with("bob", MEMBER_ROLE);
    let proposal = room.groups[carol].participants_proposal(&list).unwrap();
    let error = room.commit(carol, vec![proposal.clone()]).unwrap_err();
    assert_eq!(missing(&error), Capability::UNBAN);
    let error = room.forged(carol, "alice", vec![proposal]);
    assert_eq!(missing(&error), Capability::UNBAN);
}

#[test]
fn role_changes_need_can_change_user_role_and_never_apply_to_oneself() {
    let mut room = Room::new(Preset::AdminsOnly, &["bob", "carol"]);
    // bob promotes carol: refused.
    let list = room.list_with("carol", ADMIN_ROLE);
    let proposal = room.groups[1].participants_proposal(&list).unwrap();
    let error = room.commit(1, vec![proposal.clone()]).unwrap_err();
    assert_eq!(missing(&error), Capability::CHANGE_USER_ROLE);
    let error = room.forged(1, "alice", vec![proposal]);
    assert_eq!(missing(&error), Capability::CHANGE_USER_ROLE);
    // bob promotes himself: canChangeOwnRole (and preauthorization) needed.
    let list = room.list_with("bob", ADMIN_ROLE);
    let proposal = room.groups[1].participants_proposal(&list).unwrap();
    let error = room.commit(1, vec![proposal]).unwrap_err();
    assert_eq!(missing(&error), Capability::CHANGE_OWN_ROLE);
    // alice promotes carol: accepted by everyone.
    let proposal = room.groups[0]
        .participants_proposal(&room.list_with("carol", ADMIN_ROLE))
        .unwrap();
    room.commit(0, vec![proposal]).unwrap();
    room.assert_agree();
    assert_eq!(room.policy().participants.role_of(b"carol"), ADMIN_ROLE);
}

#[test]
fn a_demoted_admin_loses_its_capabilities() {
    let mut room = Room::new(Preset::AdminsOnly, &["bob"]);
    let promote = room.groups[0]
        .participants_proposal(&room.list_with("bob", ADMIN_ROLE))
        .unwrap();
    room.commit(0, vec![promote]).unwrap();
    // bob demotes alice: 2 admins → 1, allowed.
    let demote = room.groups[1]
        .participants_proposal(&room.list_with("alice", MEMBER_ROLE))
        .unwrap();
    room.commit(1, vec![demote]).unwrap();
    // alice (now a member) cannot demote bob.
    let demote = room.groups[0]
        .participants_proposal(&room.list_with("bob", MEMBER_ROLE))
        .unwrap();
    let error = room.commit(0, vec![demote]).unwrap_err();
    assert_eq!(missing(&error), Capability::CHANGE_USER_ROLE);
}

#[test]
fn a_head_count_minimum_refuses_removing_the_last_member() {
    let mut policy = Preset::AdminsOnly.policy_for(b"alice");
    for role in &mut policy.roles.roles {
        if role.role_index == MEMBER_ROLE {
            role.minimum_participants_constraint = 1;
        }
    }
    let mut room = Room::with_roles(policy, &["bob"]);
    let bob = room.leaf_of("bob");
    let proposal = room.groups[0]
        .participants_proposal(&room.list_with("bob", NO_ROLE))
        .unwrap();
    let error = room
        .commit(0, vec![Proposal::Remove(Remove { removed: bob }), proposal])
        .unwrap_err();
    assert!(
        matches!(
            error,
            GroupError::Policy(PolicyError::HeadCount { count: 0, .. })
        ),
        "{error}"
    );
}

#[test]
fn a_head_count_maximum_refuses_one_participant_too_many() {
    let mut policy = Preset::AdminsOnly.policy_for(b"alice");
    for role in &mut policy.roles.roles {
        if role.role_index == MEMBER_ROLE {
            role.maximum_participants_constraint = Some(1);
        }
    }
    let mut room = Room::with_roles(policy, &["bob"]);
    let error = room.add(0, "carol", MEMBER_ROLE).unwrap_err();
    assert!(
        matches!(
            error,
            GroupError::Policy(PolicyError::HeadCount { count: 2, .. })
        ),
        "{error}"
    );
}

#[test]
fn role_definitions_change_only_with_can_change_role_definitions_and_never_with_the_list() {
    let mut room = Room::new(Preset::AdminsOnly, &["bob"]);
    let mut roles = Preset::AdminsOnly.roles();
    roles.roles[2].role_description = b"may only talk".to_vec();
    let proposal = room.groups[1].roles_proposal(&roles).unwrap();
    let error = room.commit(1, vec![proposal.clone()]).unwrap_err();
    assert_eq!(missing(&error), Capability::CHANGE_ROLE_DEFINITIONS);
    let error = room.forged(1, "alice", vec![proposal]);
    assert_eq!(missing(&error), Capability::CHANGE_ROLE_DEFINITIONS);
    // §3: not valid in the same commit as a participant list change.
    let kp = room.key_package("dave");
    let proposals = vec![
        room.groups[0].roles_proposal(&roles).unwrap(),
        Proposal::Add(Add { key_package: kp }),
        room.groups[0]
            .participants_proposal(&room.list_with("dave", MEMBER_ROLE))
            .unwrap(),
    ];
    let error = room.commit(0, proposals).unwrap_err();
    assert_eq!(
        error,
        GroupError::Policy(PolicyError::RolesWithParticipantChange)
    );
    // Alone, by an admin: accepted.
    let proposal = room.groups[0].roles_proposal(&roles).unwrap();
    room.commit(0, vec![proposal]).unwrap();
    assert_eq!(room.policy().roles, roles);
}

#[test]
fn can_open_join_on_a_non_zero_role_makes_the_roles_invalid() {
    let mut roles = Preset::AdminsOnly.roles();
    roles.roles[2].role_capabilities.push(Capability::OPEN_JOIN);
    let error = roles.check().unwrap_err();
    assert!(error.to_string().contains("§8.1.1"), "{error}");
    let mut room = Room::new(Preset::AdminsOnly, &[]);
    let proposal = room.groups[0].roles_proposal(&roles).unwrap();
    let error = room.commit(0, vec![proposal]).unwrap_err();
    assert!(error.to_string().contains("canOpenJoin appears"), "{error}");
}

#[test]
fn role_lists_with_duplicate_indexes_or_a_maximum_below_the_minimum_are_invalid() {
    let mut roles = Preset::AdminsOnly.roles();
    roles.roles.push(roles.roles[2].clone());
    assert!(matches!(
        roles.check(),
        Err(PolicyError::InvalidRoles { .. })
    ));
    let mut roles = Preset::AdminsOnly.roles();
    roles.roles[3].maximum_participants_constraint = Some(0);
    assert!(matches!(
        roles.check(),
        Err(PolicyError::InvalidRoles { .. })
    ));
    let mut roles = Preset::Open.roles();
    roles.roles[0].authorized_role_changes.clear();
    assert!(matches!(
        roles.check(),
        Err(PolicyError::InvalidRoles { .. })
    ));
    let list = ParticipantList {
        participants: vec![
            Participant {
                user: b"zed".to_vec(),
                role_index: MEMBER_ROLE,
            },
            Participant {
                user: b"amy".to_vec(),
                role_index: MEMBER_ROLE,
            },
        ],
    };
    assert!(matches!(
        list.check(&Preset::AdminsOnly.roles()),
        Err(PolicyError::InvalidParticipants { .. })
    ));
}

#[test]
fn a_group_context_extensions_proposal_may_not_change_the_policy() {
    let mut room = Room::new(Preset::AdminsOnly, &["bob"]);
    let mut extensions = room.groups[0].context().extensions.clone();
    extensions.retain(|e| e.extension_type != crate::codepoints::APP_DATA_DICTIONARY_EXTENSION);
    let proposal = Proposal::GroupContextExtensions(GroupContextExtensions { extensions });
    let error = room.commit(0, vec![proposal]).unwrap_err();
    assert_eq!(
        error,
        GroupError::Policy(PolicyError::NotThroughAppDataUpdate)
    );
}

#[test]
fn a_member_may_not_propose_reinit() {
    let mut room = Room::new(Preset::AdminsOnly, &["bob"]);
    let proposal = Proposal::ReInit(ReInit {
        group_id: b"next".to_vec(),
        version: ProtocolVersion::MLS10,
        cipher_suite: SUITE,
        extensions: Vec::new(),
    });
    let error = room.commit(1, vec![proposal.clone()]).unwrap_err();
    assert_eq!(missing(&error), Capability::SEND_MLS_REINIT_PROPOSAL);
    let error = room.forged(1, "alice", vec![proposal]);
    assert_eq!(missing(&error), Capability::SEND_MLS_REINIT_PROPOSAL);
}

fn group_info(output: &CommitOutput) -> GroupInfo {
    match &output.group_info.body {
        MlsMessageBody::GroupInfo(info) => info.clone(),
        other => panic!("not a GroupInfo: {other:?}"),
    }
}

/// `name` joins by external commit, adding itself to the list as a member.
fn open_join(room: &mut Room, info: &GroupInfo, name: &str) -> (Group, CommitOutput) {
    let joiner = params(name, &mut room.rng);
    let list = room.list_with(name, MEMBER_ROLE);
    let options = JoinOptions {
        app_proposals: vec![ExtensionProposalBody::AppDataUpdate(
            crate::messages::AppDataUpdate {
                component_id: ROOM_PARTICIPANTS_COMPONENT,
                op: AppDataUpdateOperation::Update(list.to_bytes().unwrap()),
            },
        )],
        ..JoinOptions::default()
    };
    Group::join_external(joiner, info, &options, NOW, &mut room.rng).unwrap()
}

#[test]
fn a_newcomer_joins_an_open_room_by_external_commit_but_not_an_admins_only_room() {
    let mut room = Room::new(Preset::Open, &["bob"]);
    let output = room.commit(0, Vec::new()).unwrap();
    let info = group_info(&output);
    let (group, commit) = open_join(&mut room, &info, "erin");
    for member in &mut room.groups {
        member.process_message(&commit.commit, NOW).unwrap();
    }
    room.groups.push(group);
    room.assert_agree();
    assert_eq!(room.policy().participants.role_of(b"erin"), MEMBER_ROLE);

    let mut room = Room::new(Preset::AdminsOnly, &["bob"]);
    let output = room.commit(0, Vec::new()).unwrap();
    let info = group_info(&output);
    let (_, commit) = open_join(&mut room, &info, "erin");
    let error = room.refused_by_all(usize::MAX, &commit.commit);
    assert_eq!(missing(&error), Capability::OPEN_JOIN);
}

#[test]
fn in_a_cooperative_room_any_member_adds_and_removes_members() {
    let mut room = Room::new(Preset::Cooperative, &["bob"]);
    room.add(1, "carol", MEMBER_ROLE).unwrap();
    let carol = room.leaf_of("carol");
    let proposal = room.groups[1]
        .participants_proposal(&room.list_with("carol", NO_ROLE))
        .unwrap();
    room.commit(
        1,
        vec![Proposal::Remove(Remove { removed: carol }), proposal],
    )
    .unwrap();
    assert_eq!(room.groups.len(), 2);
    // Nobody may change the role definitions there.
    let proposal = room.groups[0]
        .roles_proposal(&Preset::AdminsOnly.roles())
        .unwrap();
    let error = room.commit(0, vec![proposal]).unwrap_err();
    assert_eq!(missing(&error), Capability::CHANGE_ROLE_DEFINITIONS);
}

#[test]
fn capabilities_display_their_registry_names() {
    assert_eq!(Capability::ADD_PARTICIPANT.to_string(), "canAddParticipant");
    assert_eq!(Capability::UNBAN.to_string(), "canUnBan");
    assert_eq!(Capability(0x0208).to_string(), "capability 0x0208");
    assert_eq!("admins-only".parse::<Preset>(), Ok(Preset::AdminsOnly));
    assert!("root".parse::<Preset>().is_err());
    for preset in Preset::ALL {
        preset.roles().check().unwrap();
    }
}

#[test]
fn the_policy_components_round_trip_and_reject_truncation() {
    let roles = Preset::Open.roles();
    let bytes = roles.to_bytes().unwrap();
    assert_eq!(RoleData::from_bytes(&bytes).unwrap(), roles);
    for cut in 0..bytes.len() {
        assert!(
            decode_roles(&bytes[..cut]).is_err(),
            "prefix of {cut} bytes decoded"
        );
    }
}

#[test]
fn a_proposal_its_sender_may_not_make_is_refused_on_receipt_and_blocks_no_commit() {
    let mut room = Room::new(Preset::AdminsOnly, &["bob", "carol"]);
    let kp = room.key_package("dave");
    let message = room.groups[1]
        .propose(Proposal::Add(Add { key_package: kp }), &[], &mut room.rng)
        .unwrap();
    let error = room.refused_by_all(1, &message);
    assert_eq!(missing(&error), Capability::ADD_PARTICIPANT);
    // Nobody else cached it: alice's next commit (of the pending proposals) goes through.
    room.commit(0, Vec::new()).unwrap();
    room.assert_agree();
    // A Remove of his own client (leaving) is his to propose.
    let bob = room.leaf_of("bob");
    let message = room.groups[1]
        .propose(
            Proposal::Remove(Remove { removed: bob }),
            &[],
            &mut room.rng,
        )
        .unwrap();
    for i in [0, 2] {
        assert!(matches!(
            room.groups[i].process_message(&message, NOW).unwrap(),
            ProcessedMessage::Proposal { .. }
        ));
    }
}

#[test]
fn ban_and_unban_apply_only_when_role_1_is_named_banned() {
    // A cooperative room whose role 1 is renamed: moving a member to role 1 is then a plain
    // role change (§8.1.3: the ban capabilities need role 1 named "banned"), which members
    // there may not make.
    let mut policy = Preset::Cooperative.policy_for(b"alice");
    policy.roles.roles[1].role_name = b"muted".to_vec();
    let mut room = Room::with_roles(policy, &["bob"]);
    assert!(!room.policy().roles.has_banned_role());
    let proposal = room.groups[0]
        .participants_proposal(&room.list_with("bob", BANNED_ROLE))
        .unwrap();
    let error = room.commit(0, vec![proposal]).unwrap_err();
    assert_eq!(missing(&error), Capability::CHANGE_USER_ROLE);
    // With the name right, the same change is a ban (and must remove bob's client).
    let mut room = Room::new(Preset::Cooperative, &["bob"]);
    let bob = room.leaf_of("bob");
    let proposal = room.groups[0]
        .participants_proposal(&room.list_with("bob", BANNED_ROLE))
        .unwrap();
    room.commit(0, vec![Proposal::Remove(Remove { removed: bob }), proposal])
        .unwrap();
    assert_eq!(room.policy().participants.role_of(b"bob"), BANNED_ROLE);
}

/// §8.3: an admin takes `canSendMessage` from members; a member's own client then refuses to
/// send, and a forging member's message (its client believes it is alice) is refused by every
/// other member. Admins still send, and members still read.
#[test]
fn a_role_without_can_send_message_may_not_send_and_members_refuse_its_messages() {
    let mut room = Room::new(Preset::AdminsOnly, &["bob", "carol"]);
    let mut roles = Preset::AdminsOnly.roles();
    roles.roles[MEMBER_ROLE as usize]
        .role_capabilities
        .retain(|c| *c != Capability::SEND_MESSAGE);
    let proposal = room.groups[0].roles_proposal(&roles).unwrap();
    room.commit(0, vec![proposal]).unwrap();

    let bob = room.index_of("bob");
    let before = room.groups[bob].to_bytes().unwrap();
    let error = room.groups[bob]
        .encrypt_application_message(b"hi", b"", &mut room.rng)
        .unwrap_err();
    assert_eq!(missing(&error), Capability::SEND_MESSAGE);
    let text = error.to_string();
    assert!(
        text.contains("canSendMessage") && text.contains("§8.3"),
        "{text}"
    );
    assert_eq!(room.groups[bob].to_bytes().unwrap(), before);

    let forger_env = env_with(Arc::new(Masquerade {
        liar: b"bob".to_vec(),
        as_user: b"alice".to_vec(),
    }));
    let mut forger = Group::from_bytes(forger_env, &before).unwrap();
    forger.set_component_handler(crate::group::topic::components());
    let forged = forger
        .encrypt_application_message(b"hi anyway", b"", &mut room.rng)
        .expect("the forger's own check passes");
    for i in [room.index_of("alice"), room.index_of("carol")] {
        let error = room.groups[i].process_message(&forged, NOW).unwrap_err();
        assert_eq!(missing(&error), Capability::SEND_MESSAGE);
    }

    let from_alice = room.groups[0]
        .encrypt_application_message(b"admins talk", b"", &mut room.rng)
        .unwrap();
    match room.groups[bob].process_message(&from_alice, NOW).unwrap() {
        ProcessedMessage::Application { data, .. } => assert_eq!(data, b"admins talk"),
        other => panic!("unexpected {other:?}"),
    }
}

/// §8.3: a member whose role lacks `canReceiveMessage` does not take application messages
/// (its client refuses them); a group without a policy has no message capabilities.
#[test]
fn a_role_without_can_receive_message_does_not_read_messages() {
    let mut room = Room::new(Preset::AdminsOnly, &["bob"]);
    let mut roles = Preset::AdminsOnly.roles();
    roles.roles[MEMBER_ROLE as usize]
        .role_capabilities
        .retain(|c| *c != Capability::RECEIVE_MESSAGE);
    let proposal = room.groups[0].roles_proposal(&roles).unwrap();
    room.commit(0, vec![proposal]).unwrap();
    let message = room.groups[0]
        .encrypt_application_message(b"not for members", b"", &mut room.rng)
        .unwrap();
    let bob = room.index_of("bob");
    let error = room.groups[bob].process_message(&message, NOW).unwrap_err();
    assert_eq!(missing(&error), Capability::RECEIVE_MESSAGE);

    assert!(
        check_message(
            &[],
            || panic!("no user is needed without a policy"),
            MessageRole::Send
        )
        .is_ok()
    );
}
