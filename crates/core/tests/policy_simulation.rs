//! The policy-enforcing variant of the simulation (draft-ietf-mimi-room-policy-04 §3, §8):
//! members of random roles attempt random operations — add a user with a role, add a client
//! of a listed user, remove, kick, change a role (ban and unban included), change their own
//! role, change the role definitions; outsiders join by external commit — in rooms of each
//! preset. An oracle written from the
//! presets' documented rules says which are permitted. A permitted operation must be
//! committed by the actor and accepted by every member; a forbidden one must be refused
//! where it is created, and when a modified client (whose identity provider claims another
//! participant's role) sends it anyway, every member must refuse it and stay byte for byte
//! as it was. After each step all members agree on the epoch, the group context and the
//! participant list, which must equal the oracle's.
//!
//! `CONCLAVE_POLICY_SIM_STEPS` sets the number of steps per run (default below).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{Draw, NOW, env, identity};
use conclave_core::credential::{
    BasicIdentityProvider, CredentialCheck, CredentialError, IdentityProvider,
};
use conclave_core::group::policy::{
    ADMIN_ROLE, BANNED_ROLE, MEMBER_ROLE, NO_ROLE, PolicyError, Preset,
};
use conclave_core::group::{
    CommitOptions, Group, GroupEnv, GroupError, JoinOptions, KeyPackageBundle, MemberParams,
    NewGroup, ProcessedMessage,
};
use conclave_core::messages::{Add, Credential, CredentialType, MlsMessageBody, Proposal, Remove};
use conclave_crypto::{CipherSuite, SeededRng};

const SUITE: CipherSuite = CipherSuite(1);
const DEFAULT_STEPS: usize = 60;
const USERS: [&str; 8] = ["u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7"];

fn steps() -> usize {
    std::env::var("CONCLAVE_POLICY_SIM_STEPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_STEPS)
}

/// A modified client's identity provider: `liar` claims to be `as_user`.
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
    fn valid_successor(&self, a: &Credential, b: &Credential) -> Result<bool, CredentialError> {
        BasicIdentityProvider.valid_successor(a, b)
    }
    fn supported_credential_types(&self) -> Vec<CredentialType> {
        vec![CredentialType::BASIC]
    }
}

/// The operations actors attempt.
#[derive(Debug, Clone)]
enum Op {
    /// Add a user that is not in the list, with a role.
    Add(String, u32),
    /// Add a client of a listed user that has none.
    AddClient(String),
    /// Remove a user (its client and its list entry).
    Remove(String),
    /// Remove a user's client only.
    Kick(String),
    /// Give a user a role (the actor itself included).
    SetRole(String, u32),
    /// Change the role definitions (a description).
    ChangeRoles,
    /// An outsider joins by external commit, putting itself in the list as a member (the
    /// actor only supplies the GroupInfo).
    Join(String),
}

/// The oracle: what the presets allow (Appendix A style rules as documented on
/// [`Preset`]), written independently of the policy engine.
fn permitted(preset: Preset, roles: &BTreeMap<String, u32>, actor: &str, op: &Op) -> bool {
    let actor_role = roles.get(actor).copied().unwrap_or(NO_ROLE);
    let admin = actor_role == ADMIN_ROLE;
    let member = actor_role == MEMBER_ROLE;
    let role_of = |u: &str| roles.get(u).copied().unwrap_or(NO_ROLE);
    match (preset, op) {
        (_, Op::SetRole(user, _)) if user == actor => false,
        (Preset::AdminsOnly, Op::Add(_, _) | Op::AddClient(_)) => admin,
        (Preset::Open, Op::Add(_, role)) => admin || (member && *role == MEMBER_ROLE),
        (Preset::Open, Op::AddClient(user)) => admin || (member && role_of(user) == MEMBER_ROLE),
        (Preset::Cooperative, Op::Add(_, role)) => *role == MEMBER_ROLE,
        (Preset::Cooperative, Op::AddClient(user)) => role_of(user) == MEMBER_ROLE,
        (Preset::Cooperative, Op::Remove(user) | Op::Kick(user)) => role_of(user) == MEMBER_ROLE,
        (_, Op::Remove(_) | Op::Kick(_)) => admin,
        (Preset::Cooperative, Op::SetRole(user, role)) => matches!(
            (role_of(user), *role),
            (MEMBER_ROLE, BANNED_ROLE) | (BANNED_ROLE, MEMBER_ROLE)
        ),
        (_, Op::SetRole(user, role)) => {
            admin
                && matches!(
                    (role_of(user), *role),
                    (MEMBER_ROLE, BANNED_ROLE | ADMIN_ROLE)
                        | (ADMIN_ROLE, BANNED_ROLE | MEMBER_ROLE)
                        | (BANNED_ROLE, MEMBER_ROLE)
                )
        }
        (preset, Op::Join(_)) => preset == Preset::Open,
        (Preset::Cooperative, Op::ChangeRoles) => false,
        (_, Op::ChangeRoles) => admin,
        _ => unreachable!("every preset is covered"),
    }
}

struct Sim {
    preset: Preset,
    rng: SeededRng,
    /// The members' groups, by user (one client per user).
    groups: BTreeMap<String, Group>,
    /// The oracle's participant list.
    roles: BTreeMap<String, u32>,
    revision: u32,
    accepted: usize,
    refused: usize,
    forged: usize,
}

fn params(name: &str, rng: &mut SeededRng) -> MemberParams {
    let mut params = MemberParams::new(env(), identity(name, SUITE, rng));
    params.components = conclave_core::group::topic::components();
    params.config.allow_external_commits = true;
    params
}

impl Sim {
    fn new(preset: Preset, seed: u64) -> Self {
        let mut rng = SeededRng::new(seed);
        let policy = preset.policy_for(b"u0");
        let group = policy
            .entries()
            .unwrap()
            .into_iter()
            .fold(NewGroup::new(SUITE, b"room".to_vec()), |g, (id, data)| {
                g.with_app_data(id, data)
            });
        let creator = Group::create(params("u0", &mut rng), group, NOW, &mut rng).unwrap();
        Self {
            preset,
            rng,
            groups: BTreeMap::from([("u0".to_owned(), creator)]),
            roles: BTreeMap::from([("u0".to_owned(), preset.creator_role())]),
            revision: 0,
            accepted: 0,
            refused: 0,
            forged: 0,
        }
    }

    fn role_choices(&self) -> Vec<u32> {
        let roles = self.preset.roles();
        [MEMBER_ROLE, ADMIN_ROLE, BANNED_ROLE]
            .into_iter()
            .filter(|r| roles.role(*r).is_some())
            .collect()
    }

    /// A random operation by a random member.
    fn draw(&mut self) -> (String, Op) {
        let members: Vec<String> = self.groups.keys().cloned().collect();
        let actor = members[self.rng.below(members.len())].clone();
        let outsiders: Vec<&str> = USERS
            .iter()
            .copied()
            .filter(|u| !self.roles.contains_key(*u))
            .collect();
        let inactive: Vec<String> = self
            .roles
            .iter()
            .filter(|(u, r)| !self.groups.contains_key(*u) && **r != BANNED_ROLE)
            .map(|(u, _)| u.clone())
            .collect();
        let others: Vec<String> = members.iter().filter(|m| **m != actor).cloned().collect();
        let listed: Vec<String> = self.roles.keys().cloned().collect();
        let choices = self.role_choices();
        loop {
            let op = match self.rng.below(8) {
                7 if !outsiders.is_empty() => {
                    Op::Join(outsiders[self.rng.below(outsiders.len())].to_owned())
                }
                0 | 1 if !outsiders.is_empty() => {
                    let user = outsiders[self.rng.below(outsiders.len())];
                    let adds = [MEMBER_ROLE, ADMIN_ROLE];
                    let role = adds[self.rng.below(adds.len())];
                    if self.preset.roles().role(role).is_none() {
                        continue;
                    }
                    Op::Add(user.to_owned(), role)
                }
                2 if !inactive.is_empty() => {
                    Op::AddClient(inactive[self.rng.below(inactive.len())].clone())
                }
                3 if !others.is_empty() => Op::Remove(others[self.rng.below(others.len())].clone()),
                4 if !others.is_empty() => Op::Kick(others[self.rng.below(others.len())].clone()),
                5 => {
                    let user = listed[self.rng.below(listed.len())].clone();
                    let role = choices[self.rng.below(choices.len())];
                    if self.roles.get(&user) == Some(&role) {
                        continue;
                    }
                    Op::SetRole(user, role)
                }
                6 => Op::ChangeRoles,
                _ => continue,
            };
            return (actor, op);
        }
    }

    /// The proposals of `op`, built against `group` (the actor's view), and the
    /// KeyPackage of an added client.
    fn proposals(
        &mut self,
        group: &Group,
        op: &Op,
    ) -> (Vec<Proposal>, Option<(MemberParams, KeyPackageBundle)>) {
        let mut list = group.room_policy().unwrap().unwrap().participants;
        let leaf_of = |user: &str| {
            group
                .members()
                .find(|(_, leaf)| {
                    matches!(&leaf.credential, Credential::Basic { identity } if identity == user.as_bytes())
                })
                .map(|(leaf, _)| leaf)
        };
        let mut proposals = Vec::new();
        let mut joiner = None;
        match op {
            Op::Add(user, _) | Op::AddClient(user) => {
                let params = params(user, &mut self.rng);
                let bundle =
                    KeyPackageBundle::generate(&params, SUITE, NOW, &mut self.rng).unwrap();
                proposals.push(Proposal::Add(Add {
                    key_package: bundle.key_package.clone(),
                }));
                if let Op::Add(user, role) = op {
                    list.set_role(user.as_bytes(), *role);
                    proposals.push(group.participants_proposal(&list).unwrap());
                }
                joiner = Some((params, bundle));
            }
            Op::Remove(user) => {
                proposals.push(Proposal::Remove(Remove {
                    removed: leaf_of(user).unwrap(),
                }));
                list.set_role(user.as_bytes(), NO_ROLE);
                proposals.push(group.participants_proposal(&list).unwrap());
            }
            Op::Kick(user) => proposals.push(Proposal::Remove(Remove {
                removed: leaf_of(user).unwrap(),
            })),
            Op::SetRole(user, role) => {
                if *role == BANNED_ROLE
                    && let Some(removed) = leaf_of(user)
                    && removed != group.own_leaf()
                {
                    proposals.push(Proposal::Remove(Remove { removed }));
                }
                list.set_role(user.as_bytes(), *role);
                proposals.push(group.participants_proposal(&list).unwrap());
            }
            Op::Join(_) => unreachable!("an external join is built by the joiner"),
            Op::ChangeRoles => {
                self.revision += 1;
                let mut roles = group.room_policy().unwrap().unwrap().roles;
                roles.roles[0].role_description =
                    format!("revision {}", self.revision).into_bytes();
                proposals.push(group.roles_proposal(&roles).unwrap());
            }
        }
        (proposals, joiner)
    }

    fn step(&mut self) {
        let (actor, op) = self.draw();
        let allowed = permitted(self.preset, &self.roles, &actor, &op);
        if let Op::Join(user) = &op {
            self.join(user, allowed);
            self.check_agreement();
            return;
        }
        let mut group = self.groups.remove(&actor).unwrap();
        let (proposals, joiner) = self.proposals(&group, &op);
        let options = CommitOptions {
            proposals: proposals.clone(),
            ..CommitOptions::default()
        };
        let before = group.to_bytes().unwrap();
        let result = group.commit(&options, NOW, &mut self.rng);
        match (allowed, result) {
            (true, Ok(output)) => {
                group.merge_pending_commit().unwrap();
                for (name, member) in &mut self.groups {
                    match member.process_message(&output.commit, NOW) {
                        Ok(ProcessedMessage::Commit(_)) => {}
                        other => panic!("{name} did not accept {actor}'s {op:?}: {other:?}"),
                    }
                }
                self.groups.insert(actor.clone(), group);
                self.apply(&op);
                if let Some((params, bundle)) = joiner {
                    let MlsMessageBody::Welcome(welcome) = &output.welcome.unwrap().body else {
                        panic!("no Welcome")
                    };
                    let joined =
                        Group::join(params, welcome, &bundle, &JoinOptions::default(), NOW)
                            .unwrap();
                    let user = match &op {
                        Op::Add(user, _) | Op::AddClient(user) => user.clone(),
                        _ => unreachable!(),
                    };
                    self.groups.insert(user, joined);
                }
                self.groups
                    .retain(|_, g| *g.status() == conclave_core::group::GroupStatus::Active);
                self.accepted += 1;
            }
            (false, Err(GroupError::Policy(_))) => {
                assert_eq!(
                    group.to_bytes().unwrap(),
                    before,
                    "a refusal changed {actor}"
                );
                self.forge(&actor, &group, proposals);
                self.groups.insert(actor, group);
                self.refused += 1;
            }
            (allowed, result) => panic!(
                "{:?} room: {actor} ({:?}) attempted {op:?}: oracle says {allowed}, the group says {:?}",
                self.preset,
                self.roles.get(&actor),
                result.map(|_| "accepted")
            ),
        }
        self.check_agreement();
    }

    /// A modified client of `actor` claims the role of another participant and sends the
    /// forbidden commit anyway: every member must refuse it, unchanged.
    fn forge(&mut self, actor: &str, group: &Group, proposals: Vec<Proposal>) {
        let disguises: Vec<String> = self
            .roles
            .iter()
            .filter(|(u, r)| **r == self.preset.creator_role() && u.as_str() != actor)
            .map(|(u, _)| u.clone())
            .collect();
        if disguises.is_empty() {
            return;
        }
        let disguise = disguises[self.rng.below(disguises.len())].clone();
        let env = GroupEnv {
            identity: Arc::new(Masquerade {
                liar: actor.as_bytes().to_vec(),
                as_user: disguise.into_bytes(),
            }),
            ..env()
        };
        let mut forger = Group::from_bytes(env, &group.to_bytes().unwrap()).unwrap();
        forger.set_component_handler(conclave_core::group::topic::components());
        let options = CommitOptions {
            proposals,
            ..CommitOptions::default()
        };
        // Some operations no role may do; then there is nothing to forge.
        let Ok(output) = forger.commit(&options, NOW, &mut self.rng) else {
            return;
        };
        let mut errors = Vec::new();
        for (name, member) in &mut self.groups {
            let before = member.to_bytes().unwrap();
            match member.process_message(&output.commit, NOW) {
                Err(GroupError::Policy(error)) => errors.push(error),
                other => panic!("{name} did not refuse {actor}'s forged commit: {other:?}"),
            }
            assert_eq!(
                member.to_bytes().unwrap(),
                before,
                "a refusal changed {name}"
            );
        }
        if let Some(first) = errors.first() {
            assert!(
                errors.iter().all(|e| e == first),
                "members disagree: {errors:?}"
            );
            assert!(
                !matches!(first, PolicyError::UnknownUser(_)),
                "refused for the wrong reason: {first}"
            );
            self.forged += 1;
        }
    }

    /// `user` joins by external commit with the list update that makes it a member
    /// (§8.1.1): every member accepts it exactly when role 0 holds `canOpenJoin`.
    fn join(&mut self, user: &str, allowed: bool) {
        let info = {
            let any = self.groups.values().next().unwrap();
            match any.group_info(true).unwrap().body {
                MlsMessageBody::GroupInfo(info) => info,
                other => panic!("not a GroupInfo: {other:?}"),
            }
        };
        let mut list = self
            .groups
            .values()
            .next()
            .unwrap()
            .room_policy()
            .unwrap()
            .unwrap()
            .participants;
        list.set_role(user.as_bytes(), MEMBER_ROLE);
        let options = JoinOptions {
            app_proposals: vec![
                conclave_core::messages::ExtensionProposalBody::AppDataUpdate(
                    conclave_core::messages::AppDataUpdate {
                        component_id: conclave_core::codepoints::ROOM_PARTICIPANTS_COMPONENT,
                        op: conclave_core::messages::AppDataUpdateOperation::Update(
                            conclave_codec::Encode::to_bytes(&list).unwrap(),
                        ),
                    },
                ),
            ],
            ..JoinOptions::default()
        };
        let joiner = params(user, &mut self.rng);
        let (group, output) =
            Group::join_external(joiner, &info, &options, NOW, &mut self.rng).unwrap();
        for (name, member) in &mut self.groups {
            let before = member.to_bytes().unwrap();
            match (allowed, member.process_message(&output.commit, NOW)) {
                (true, Ok(ProcessedMessage::Commit(_))) => {}
                (false, Err(GroupError::Policy(PolicyError::MissingCapability { .. }))) => {
                    assert_eq!(
                        member.to_bytes().unwrap(),
                        before,
                        "a refusal changed {name}"
                    );
                }
                (allowed, other) => {
                    panic!("{name}: {user}'s external join, oracle says {allowed}: {other:?}")
                }
            }
        }
        if allowed {
            self.roles.insert(user.to_owned(), MEMBER_ROLE);
            self.groups.insert(user.to_owned(), group);
            self.accepted += 1;
        } else {
            self.refused += 1;
        }
    }

    /// The oracle follows a permitted operation.
    fn apply(&mut self, op: &Op) {
        match op {
            Op::Add(user, role) => {
                self.roles.insert(user.clone(), *role);
            }
            Op::Remove(user) => {
                self.roles.remove(user);
                self.groups.remove(user);
            }
            Op::Kick(user) => {
                self.groups.remove(user);
            }
            Op::SetRole(user, role) => {
                self.roles.insert(user.clone(), *role);
                if *role == BANNED_ROLE {
                    self.groups.remove(user);
                }
            }
            Op::AddClient(_) | Op::ChangeRoles | Op::Join(_) => {}
        }
    }

    fn check_agreement(&self) {
        let first = self.groups.values().next().unwrap();
        for (name, group) in &self.groups {
            assert_eq!(group.epoch(), first.epoch(), "{name}");
            assert_eq!(group.context(), first.context(), "{name}");
            assert_eq!(group.epoch_authenticator(), first.epoch_authenticator());
        }
        let list = first.room_policy().unwrap().unwrap().participants;
        let actual: BTreeMap<String, u32> = list
            .participants
            .iter()
            .map(|p| (String::from_utf8(p.user.clone()).unwrap(), p.role_index))
            .collect();
        assert_eq!(
            actual, self.roles,
            "the participant list differs from the oracle's"
        );
    }
}

fn run(preset: Preset, seed: u64) {
    let mut sim = Sim::new(preset, seed);
    for _ in 0..steps() {
        sim.step();
    }
    assert!(
        sim.accepted > 0 && sim.refused > 0,
        "{preset}: nothing was tried both ways"
    );
    println!(
        "{preset} seed {seed}: {} accepted, {} refused ({} forged and refused by every member)",
        sim.accepted, sim.refused, sim.forged
    );
}

#[test]
fn policy_simulation_admins_only() {
    for seed in [1, 2] {
        run(Preset::AdminsOnly, seed);
    }
}

#[test]
fn policy_simulation_open() {
    for seed in [3, 4] {
        run(Preset::Open, seed);
    }
}

#[test]
fn policy_simulation_cooperative() {
    for seed in [5, 6] {
        run(Preset::Cooperative, seed);
    }
}
