//! The driver against the simulated DS ([`super::sim`]): several clients send messages and
//! commit key updates in a seeded random order, with pages cut short, pages delivered again
//! and answers lost after successful writes; at the end every client must be at the DS's
//! epoch with the same epoch authenticator and the same history, holding every message of
//! the log exactly once. Clients are also restarted from their databases at random.

use std::collections::{BTreeMap, HashSet};

use conclave_codec::Encode as _;
use conclave_core::group::Group;

use super::commit::Op;
use super::sim::{Counts, Faults, SimClient, SimDs};
use super::{GroupDriver, Observer, ProgressFn};
use crate::ClientOptions;
use crate::error::ClientError;
use crate::store::{GroupRow, GroupStatus, Profile, StateWrite, StateWrites, Store};
use crate::testing::{env, group_of};

const GROUP: &[u8] = b"sim#1";

const FAULTS: Faults = Faults {
    short_page: 30,
    duplicate_page: 20,
    lost_response: 10,
    lost_request: 5,
};

const NO_FAULTS: Faults = Faults {
    short_page: 0,
    duplicate_page: 0,
    lost_response: 0,
    lost_request: 0,
};

struct SimMember {
    _dir: tempfile::TempDir,
    store: Store,
    ds: SimClient,
    env: conclave_core::group::GroupEnv,
    profile: Profile,
    options: ClientOptions,
    observer: Option<Observer>,
    progress: Option<ProgressFn>,
}

impl SimMember {
    fn new(
        name: &str,
        signer: conclave_core::group::SigningIdentity,
        mut group: Group,
        ds: &SimDs,
        state_writes: StateWrites,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let row = GroupRow {
            group_id: GROUP.to_vec(),
            name: "sim".into(),
            cursor: 0,
            status: GroupStatus::Active,
            reason: None,
        };
        store
            .insert_group(&row, &StateWrite::of(&mut group, state_writes).unwrap())
            .unwrap();
        let profile = Profile {
            name: name.into(),
            cipher_suite: 1,
            signature_secret: signer.secret_key.clone(),
            signature_public: signer.public_key.0.clone(),
            credential: signer.credential.to_bytes().unwrap(),
            root_certificate: Vec::new(),
            ds_url: "sim://ds".into(),
            as_url: "sim://as".into(),
        };
        Self {
            _dir: dir,
            store,
            ds: ds.client(name),
            env: env(),
            profile,
            options: ClientOptions {
                page_size: 4,
                max_attempts: 20,
                state_writes,
                ..ClientOptions::default()
            },
            observer: None,
            progress: None,
        }
    }

    fn driver(&mut self) -> GroupDriver<'_, SimClient> {
        GroupDriver {
            store: &self.store,
            ds: &self.ds,
            env: &self.env,
            profile: &self.profile,
            options: &self.options,
            observer: &mut self.observer,
            progress: &mut self.progress,
        }
    }

    /// The process was killed between two operations: everything is read back from the
    /// database.
    fn restart(&mut self) {
        self.store = Store::open(self._dir.path()).unwrap();
    }

    fn group(&self) -> Group {
        self.store.load_group(env(), GROUP).unwrap().unwrap()
    }

    fn cursor(&self) -> u64 {
        self.store.group_by_id(GROUP).unwrap().unwrap().cursor
    }
}

/// What an operation may fail with under the injected faults.
fn tolerated(result: Result<(), ClientError>) {
    match result {
        Ok(()) | Err(ClientError::Unreachable { .. }) => {}
        Err(e) => panic!("unexpected error: {e}"),
    }
}

/// One seeded run; returns the fault counts.
fn run(seed: u64, state_writes: StateWrites) -> Counts {
    let names = ["alice", "bob", "carol"];
    let ds = SimDs::new(seed, FAULTS);
    ds.create_group(GROUP, 1);
    let mut members: Vec<SimMember> = group_of(GROUP, &names)
        .into_iter()
        .zip(names)
        .map(|((signer, group), name)| SimMember::new(name, signer, group, &ds, state_writes))
        .collect();
    let mut rng = seed.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1;
    let mut next = move || {
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        rng.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11
    };
    let mut sent = HashSet::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        for step in 0..30u64 {
            let who = usize::try_from(next() % 3).unwrap();
            let member = &mut members[who];
            match next() % 10 {
                0..=5 => {
                    let text = format!("{} says {step}", names[who]);
                    sent.insert(text.clone());
                    tolerated(member.driver().send(GROUP, &text).await.map(|_| ()));
                }
                6 | 7 => tolerated(
                    member
                        .driver()
                        .run_commit(GROUP, &Op::Update)
                        .await
                        .map(|_| ()),
                ),
                8 => tolerated(member.driver().sync_group_log(GROUP).await.map(|_| ())),
                _ => member.restart(),
            }
        }
        // Settle: no more lost answers; everyone catches up with the whole log.
        ds.set_faults(NO_FAULTS);
        for member in &mut members {
            member.driver().settle_pending_commit(GROUP).await.unwrap();
            member.driver().sync_group_log(GROUP).await.unwrap();
        }
    });

    let (epoch, log) = ds.log(GROUP);
    let authenticator = members[0].group().epoch_authenticator().to_vec();
    let mut histories = Vec::new();
    for (member, name) in members.iter().zip(names) {
        let row = member.store.group_by_id(GROUP).unwrap().unwrap();
        assert_eq!(row.status, GroupStatus::Active, "seed {seed}: {name}");
        assert_eq!(
            member.cursor(),
            log.len() as u64,
            "seed {seed}: {name}'s cursor"
        );
        let group = member.group();
        assert_eq!(group.epoch(), epoch, "seed {seed}: {name}'s epoch");
        assert!(!group.has_pending_commit(), "seed {seed}: {name}");
        assert_eq!(
            group.epoch_authenticator(),
            authenticator.as_slice(),
            "seed {seed}: {name}'s epoch authenticator"
        );
        let history: BTreeMap<u64, (String, String, String)> = member
            .store
            .history(GROUP)
            .unwrap()
            .into_iter()
            .map(|h| (h.seq, (h.kind, h.sender, h.body)))
            .collect();
        histories.push(history);
    }
    // Every application message of the log, exactly once, in every history; and the same
    // history everywhere.
    let messages: Vec<u64> = log
        .iter()
        .filter(|e| e.content_type == 1)
        .map(|e| e.seq)
        .collect();
    for (history, name) in histories.iter().zip(names) {
        let lines: Vec<(&u64, &(String, String, String))> =
            history.iter().filter(|(_, l)| l.0 == "message").collect();
        let seqs: Vec<u64> = lines.iter().map(|(s, _)| **s).collect();
        assert_eq!(seqs, messages, "seed {seed}: {name}'s messages");
        let bodies: HashSet<&String> = lines.iter().map(|(_, l)| &l.2).collect();
        assert_eq!(
            bodies.len(),
            lines.len(),
            "seed {seed}: {name}: a message twice"
        );
        assert!(
            bodies.iter().all(|b| sent.contains(*b)),
            "seed {seed}: {name}: a message nobody sent"
        );
        assert_eq!(history, &histories[0], "seed {seed}: {name}'s history");
    }
    let mut counts = ds.counts();
    counts.entries = log.len() as u64;
    counts
}

fn seeds() -> u64 {
    std::env::var("CONCLAVE_SIM_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48)
}

#[test]
fn clients_converge_through_a_simulated_ds_that_reorders_duplicates_and_loses_answers() {
    let mut total = Counts::default();
    for seed in 1..=seeds() {
        let c = run(seed, StateWrites::Incremental);
        total.lost_responses += c.lost_responses;
        total.lost_requests += c.lost_requests;
        total.duplicate_pages += c.duplicate_pages;
        total.short_pages += c.short_pages;
        total.wrong_epochs += c.wrong_epochs;
        total.entries += c.entries;
    }
    eprintln!("{} seeds: {total:?}", seeds());
    // The faults were exercised, not just configured.
    assert!(total.lost_responses > 0, "{total:?}");
    assert!(total.lost_requests > 0, "{total:?}");
    assert!(total.duplicate_pages > 0, "{total:?}");
    assert!(total.short_pages > 0, "{total:?}");
    assert!(total.wrong_epochs > 0, "{total:?}");
}

#[test]
fn clients_converge_the_same_way_with_full_snapshot_writes() {
    for seed in 1..=8 {
        run(seed, StateWrites::FullSnapshot);
    }
}

#[test]
fn a_commit_nobody_can_apply_desynchronizes_every_client_and_none_rejoins() {
    let names = ["alice", "bob"];
    let ds = SimDs::new(7, NO_FAULTS);
    ds.create_group(GROUP, 1);
    let mut members: Vec<SimMember> = group_of(GROUP, &names)
        .into_iter()
        .zip(names)
        .map(|((signer, group), name)| {
            SimMember::new(name, signer, group, &ds, StateWrites::Incremental)
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        members[0].driver().send(GROUP, "before").await.unwrap();
        // A commit for epoch 1 that no member can decrypt, accepted by the DS.
        let mut group = members[1].group();
        let output = group
            .commit(
                &conclave_core::group::CommitOptions::default(),
                crate::testing::NOW,
                &mut crate::OsRandom,
            )
            .unwrap();
        let mut commit = output.commit;
        if let conclave_core::messages::MlsMessageBody::PrivateMessage(m) = &mut commit.body {
            let last = m.ciphertext.len() - 1;
            m.ciphertext[last] ^= 1;
        }
        ds.post_raw("mallory", GROUP, &commit, true).unwrap();
        for member in &mut members {
            member.driver().sync_group_log(GROUP).await.unwrap();
            let row = member.store.group_by_id(GROUP).unwrap().unwrap();
            assert_eq!(row.status, GroupStatus::Desynchronized);
            assert!(row.reason.unwrap().contains("log entry 2"));
            assert_eq!(member.group().epoch(), 1);
            let refused = member.driver().send(GROUP, "after").await;
            assert!(matches!(
                refused,
                Err(ClientError::Desynchronized { epoch: 1, .. })
            ));
        }
    });
    assert_eq!(ds.log(GROUP).1.len(), 2);
}

/// Members of `group_of_members` on a fault-free simulated DS.
fn members_of(ds: &SimDs, members: &[(&str, bool)]) -> Vec<SimMember> {
    ds.create_group(GROUP, 1);
    crate::testing::group_of_members(GROUP, members)
        .into_iter()
        .zip(members)
        .map(|((signer, group), (name, _))| {
            SimMember::new(name, signer, group, ds, StateWrites::Incremental)
        })
        .collect()
}

/// What a sync does for a group: apply the log, then commit others' pending proposals (and,
/// with the policy, kept late Updates as Replaces).
async fn sync(member: &mut SimMember) {
    member.driver().sync_group_log(GROUP).await.unwrap();
    let replace = member.options.replace_late_updates;
    if super::has_work_to_commit(&member.group(), replace, crate::now_seconds()) {
        member
            .driver()
            .run_commit(GROUP, &Op::CommitPending)
            .await
            .unwrap();
    }
}

fn member_names(member: &SimMember) -> Vec<String> {
    crate::names::member_names(env().identity.as_ref(), &member.group())
        .into_iter()
        .map(|(_, name)| name)
        .collect()
}

#[test]
fn leaving_a_self_remove_capable_group_sends_a_self_remove_the_next_sync_commits() {
    let ds = SimDs::new(11, NO_FAULTS);
    let mut members = members_of(&ds, &[("alice", true), ("bob", true), ("carol", true)]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mechanism = members[1].driver().leave(GROUP).await.unwrap();
        assert_eq!(mechanism, crate::LeaveMechanism::SelfRemove);
        let row = members[1].store.group_by_id(GROUP).unwrap().unwrap();
        assert_eq!(row.status, GroupStatus::Left);
        assert!(row.reason.unwrap().contains("SelfRemove"));
        // The proposal in the log is a PublicMessage, although the group's handshakes are
        // PrivateMessages.
        let (_, log) = ds.log(GROUP);
        let bytes = crate::applier::LogEntry::from_view(&log[0])
            .message
            .unwrap();
        let posted = conclave_codec::Decode::from_bytes(&bytes).unwrap();
        let conclave_core::messages::MlsMessage {
            body: conclave_core::messages::MlsMessageBody::PublicMessage(_),
            ..
        } = posted
        else {
            panic!("the SelfRemove is not a PublicMessage")
        };

        // Carol's next sync commits it; Alice follows.
        sync(&mut members[2]).await;
        sync(&mut members[0]).await;
    });
    let (epoch, log) = ds.log(GROUP);
    assert_eq!(log.len(), 2, "the SelfRemove, then one commit");
    for i in [0, 2] {
        assert_eq!(members[i].group().epoch(), epoch);
        assert_eq!(member_names(&members[i]), ["alice", "carol"]);
    }
    assert_eq!(
        members[0].group().epoch_authenticator(),
        members[2].group().epoch_authenticator()
    );
    let history = members[0].store.history(GROUP).unwrap();
    assert_eq!(history[0].body, "bob asked to leave");
}

#[test]
fn leaving_falls_back_to_a_remove_proposal_when_a_member_lacks_self_remove() {
    let ds = SimDs::new(12, NO_FAULTS);
    let mut members = members_of(&ds, &[("alice", true), ("bob", true), ("carol", false)]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mechanism = members[1].driver().leave(GROUP).await.unwrap();
        assert_eq!(mechanism, crate::LeaveMechanism::RemoveProposal);
        sync(&mut members[0]).await;
        sync(&mut members[2]).await;
    });
    let (epoch, log) = ds.log(GROUP);
    assert_eq!(log.len(), 2);
    for i in [0, 2] {
        assert_eq!(members[i].group().epoch(), epoch);
        assert_eq!(member_names(&members[i]), ["alice", "carol"]);
    }
}

#[test]
fn removing_a_member_whose_self_remove_is_pending_commits_the_self_remove() {
    let ds = SimDs::new(13, NO_FAULTS);
    let mut members = members_of(&ds, &[("alice", true), ("bob", true), ("carol", true)]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        members[1].driver().leave(GROUP).await.unwrap();
        members[0].driver().sync_group_log(GROUP).await.unwrap();
        // Alice removes bob, who already asked to leave: no Remove is sent (it would be
        // invalid), the pending SelfRemove is committed.
        members[0]
            .driver()
            .run_commit(GROUP, &Op::Remove(vec!["bob".into()]))
            .await
            .unwrap()
            .unwrap();
        sync(&mut members[2]).await;
    });
    assert_eq!(member_names(&members[0]), ["alice", "carol"]);
    assert_eq!(
        members[0].group().epoch_authenticator(),
        members[2].group().epoch_authenticator()
    );
}

fn topic(member: &SimMember) -> Option<String> {
    let mut group = member.group();
    // What the store holds has no components (they are code): the client's loading path
    // installs them, as here.
    group.set_component_handler(crate::topic::components());
    crate::topic::topic_of(&group).unwrap()
}

fn last_history(member: &SimMember) -> String {
    member
        .store
        .history(GROUP)
        .unwrap()
        .last()
        .unwrap()
        .body
        .clone()
}

#[test]
fn a_topic_set_by_one_member_reaches_the_others_and_their_history() {
    let ds = SimDs::new(21, NO_FAULTS);
    let mut members = members_of(&ds, &[("alice", true), ("bob", true), ("carol", true)]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let set = Op::SetTopic(Some("Friday lunch 🍕".into()));
        members[0]
            .driver()
            .run_commit(GROUP, &set)
            .await
            .unwrap()
            .unwrap();
        // Setting it again makes no commit.
        assert!(
            members[0]
                .driver()
                .run_commit(GROUP, &set)
                .await
                .unwrap()
                .is_none()
        );
        members[1].restart();
        members[1].driver().sync_group_log(GROUP).await.unwrap();
        assert_eq!(topic(&members[1]).as_deref(), Some("Friday lunch 🍕"));
        assert_eq!(
            last_history(&members[1]),
            "alice set the topic to \"Friday lunch 🍕\""
        );
        assert_eq!(
            last_history(&members[0]),
            "alice set the topic to \"Friday lunch 🍕\""
        );

        // Bob changes it; Alice and Carol follow.
        let change = Op::SetTopic(Some("Saturday brunch".into()));
        members[1]
            .driver()
            .run_commit(GROUP, &change)
            .await
            .unwrap()
            .unwrap();
        members[0].driver().sync_group_log(GROUP).await.unwrap();
        members[2].driver().sync_group_log(GROUP).await.unwrap();
        assert_eq!(
            last_history(&members[0]),
            "bob set the topic to \"Saturday brunch\""
        );
        assert_eq!(
            last_history(&members[2]),
            "bob set the topic to \"Saturday brunch\""
        );

        // Carol clears it.
        let clear = Op::SetTopic(None);
        members[2]
            .driver()
            .run_commit(GROUP, &clear)
            .await
            .unwrap()
            .unwrap();
        assert!(
            members[2]
                .driver()
                .run_commit(GROUP, &clear)
                .await
                .unwrap()
                .is_none()
        );
        members[0].driver().sync_group_log(GROUP).await.unwrap();
        members[1].driver().sync_group_log(GROUP).await.unwrap();
        assert_eq!(last_history(&members[1]), "carol cleared the topic");
    });
    let (epoch, log) = ds.log(GROUP);
    assert_eq!(log.len(), 3, "three commits, no more");
    for member in &members {
        assert_eq!(member.group().epoch(), epoch);
        assert_eq!(topic(member), None);
    }
    assert_eq!(
        members[0].group().epoch_authenticator(),
        members[1].group().epoch_authenticator()
    );
}

#[test]
fn a_topic_change_that_loses_the_race_for_the_epoch_is_retried_and_lands() {
    let ds = SimDs::new(22, FAULTS);
    let mut members = members_of(&ds, &[("alice", true), ("bob", true)]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        // Bob commits first; Alice is an epoch behind when she sets the topic.
        loop {
            match members[1].driver().run_commit(GROUP, &Op::Update).await {
                Ok(_) => break,
                Err(ClientError::Unreachable { .. }) => continue,
                Err(e) => panic!("{e}"),
            }
        }
        let set = Op::SetTopic(Some("retried".into()));
        loop {
            match members[0].driver().run_commit(GROUP, &set).await {
                Ok(_) => break,
                Err(ClientError::Unreachable { .. }) => continue,
                Err(e) => panic!("{e}"),
            }
        }
        loop {
            match members[1].driver().sync_group_log(GROUP).await {
                Ok(_) => break,
                Err(ClientError::Unreachable { .. }) => continue,
                Err(e) => panic!("{e}"),
            }
        }
    });
    let (epoch, log) = ds.log(GROUP);
    assert_eq!(log.len(), 2, "Bob's commit, then Alice's retried one");
    for member in &members {
        assert_eq!(member.group().epoch(), epoch);
        assert_eq!(topic(member).as_deref(), Some("retried"));
    }
}

#[test]
fn a_topic_longer_than_256_bytes_is_refused_before_anything_is_posted() {
    let ds = SimDs::new(23, NO_FAULTS);
    let mut members = members_of(&ds, &[("alice", true), ("bob", true)]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let error = runtime
        .block_on(
            members[0]
                .driver()
                .run_commit(GROUP, &Op::SetTopic(Some("x".repeat(257)))),
        )
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid topic: a group topic is at most 256 bytes of UTF-8, and this one has 257 \
         bytes; shorten it"
    );
    assert!(ds.log(GROUP).1.is_empty());
    assert_eq!(members[0].group().epoch(), 1);
    assert!(!members[0].group().has_pending_commit());
}

/// A component logic that takes any topic: a client that skips the topic rule.
struct AnyTopic;

impl conclave_core::group::ComponentHandler for AnyTopic {
    fn supported_components(&self) -> Vec<conclave_core::messages::ComponentId> {
        vec![conclave_core::codepoints::CONCLAVE_TOPIC_COMPONENT]
    }

    fn validate_ephemeral(
        &self,
        _call: &conclave_core::group::ComponentCall<'_>,
        _data: &[u8],
    ) -> Result<(), conclave_core::group::ComponentRejection> {
        Ok(())
    }

    fn apply_update(
        &self,
        _call: &conclave_core::group::ComponentCall<'_>,
        _current: Option<&[u8]>,
        update: &[u8],
    ) -> Result<Vec<u8>, conclave_core::group::ComponentRejection> {
        Ok(update.to_vec())
    }
}

#[test]
fn a_topic_commit_that_breaks_the_rule_is_invalid_for_the_other_members() {
    use crate::delivery::DeliveryService as _;
    use conclave_core::messages::{AppDataUpdate, AppDataUpdateOperation};

    let ds = SimDs::new(24, NO_FAULTS);
    let mut members = members_of(&ds, &[("alice", true), ("bob", true)]);
    // Alice's client skips the rule and commits a 300-byte topic.
    let mut rogue = members[0].group();
    rogue.set_component_handler(conclave_core::group::Components::new(AnyTopic));
    let proposal = rogue.app_data_update_proposal(AppDataUpdate {
        component_id: conclave_core::codepoints::CONCLAVE_TOPIC_COMPONENT,
        op: AppDataUpdateOperation::Update(vec![b'x'; 300]),
    });
    let output = rogue
        .commit(
            &conclave_core::group::CommitOptions {
                proposals: vec![proposal],
                ..conclave_core::group::CommitOptions::default()
            },
            crate::now_seconds(),
            &mut crate::OsRandom,
        )
        .unwrap();
    let bundle = conclave_api::delivery::CommitBundle {
        commit: output.commit,
        welcome: None,
        group_info: output.group_info,
        ratchet_tree: None,
        members: Vec::new(),
        allow_external_join: None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        members[0].ds.post_commit(GROUP, &bundle).await.unwrap();
        members[1].driver().sync_group_log(GROUP).await.unwrap();
    });
    // Bob's client refuses it (draft-ietf-mls-extensions-10 §4.7) and, with no valid commit
    // for the epoch, stops: the group is out of sync for him, his state unchanged.
    let row = members[1].store.group_by_id(GROUP).unwrap().unwrap();
    assert_eq!(row.status, GroupStatus::Desynchronized);
    let reason = row.reason.unwrap();
    assert!(
        reason.contains("a group topic is at most 256 bytes of UTF-8, and this one has 300 bytes"),
        "{reason}"
    );
    assert_eq!(members[1].group().epoch(), 1);
    assert_eq!(topic(&members[1]), None);
}

/// draft-barnes-mls-replace-00 through the driver: Bob's Update is in the log, but Alice's
/// commit, built before she read it, ends the epoch without it. Carol, whose policy is to
/// replace late Updates, commits it as a Replace at her next sync; Dave, without the
/// policy, does nothing. Everyone follows, and Bob's leaf has the key he proposed.
#[test]
fn a_sync_with_the_replace_policy_commits_a_late_update_as_a_replace() {
    let ds = SimDs::new(12, NO_FAULTS);
    let mut members = members_of(
        &ds,
        &[
            ("alice", true),
            ("bob", true),
            ("carol", true),
            ("dave", true),
        ],
    );
    members[2].options.replace_late_updates = true;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut bob = members[1].group();
        let update = bob.propose_update(None, &mut crate::OsRandom).unwrap();
        members[1].driver().save(GROUP, &mut bob).unwrap();
        ds.post_raw("bob", GROUP, &update, false).unwrap();
        let proposed = bob.pending_proposals().count();
        assert_eq!(proposed, 1);

        // Alice commits from her state, which has not read the Update.
        let mut alice = members[0].group();
        let commit = alice
            .commit(
                &conclave_core::group::CommitOptions::default(),
                crate::testing::NOW,
                &mut crate::OsRandom,
            )
            .unwrap()
            .commit;
        members[0].driver().save(GROUP, &mut alice).unwrap();
        ds.post_raw("alice", GROUP, &commit, true).unwrap();

        for member in &mut members {
            sync(member).await;
        }
        // Dave applied Carol's Replace commit too if it came before his sync; sync all again.
        for member in &mut members {
            member.driver().sync_group_log(GROUP).await.unwrap();
        }
        let (_, log) = ds.log(GROUP);
        assert_eq!(log.len(), 3, "the Update, Alice's commit, Carol's Replace");
        assert_eq!(log[2].sender, "carol");
        let reference = members[0].group();
        for member in &members {
            let group = member.group();
            assert_eq!(group.epoch(), 3);
            assert_eq!(group.epoch_authenticator(), reference.epoch_authenticator());
            assert!(
                group
                    .replaceable_late_updates(crate::testing::NOW)
                    .is_empty()
            );
        }
        // Bob holds the replaced leaf's key: his message is read.
        members[1].driver().send(GROUP, "fresh keys").await.unwrap();
        members[0].driver().sync_group_log(GROUP).await.unwrap();
        let history = members[0].store.history(GROUP).unwrap();
        assert!(
            history.iter().any(|h| h.body == "fresh keys"),
            "{history:?}"
        );
    });
}
