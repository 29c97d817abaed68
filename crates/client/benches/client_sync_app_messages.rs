//! Benchmark `client_sync_app_messages`: one member syncs application messages through the
//! client library — the log applier and the SQLite store — in groups of several sizes, with
//! the group state written incrementally (the core's records) and as a full snapshot per
//! entry (the former layout). Reports milliseconds and bytes of group state written per
//! message.
//!
//! The group is built directly with the core (a real DS would take too long for 10 000
//! members) and imported into the client's store; the messages are fed to the applier from
//! an in-memory log, and each step is stored as the sync stores it (one transaction per
//! entry: state changes, cursor, history).
//!
//! Run: `cargo bench -p conclave-client --bench client_sync_app_messages`
//! (options: `-- --sizes 10,1000,10000 --messages 1000`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::Instant;

use conclave_client::applier::{ApplierConfig, LogApplier, LogEntry};
use conclave_client::store::{GroupRow, GroupStatus, StateWrite, StateWrites, Store};
use conclave_codec::Encode as _;
use conclave_core::credential::BasicIdentityProvider;
use conclave_core::group::{
    CommitOptions, Group, GroupConfig, GroupEnv, JoinOptions, KeyPackageBundle, MemberParams,
    NewGroup, SigningIdentity,
};
use conclave_core::messages::{Add, Credential, MlsMessageBody, Proposal, WireFormat};
use conclave_crypto::CipherSuite;
use conclave_crypto_awslc::{AwsLcProvider, SystemRandom};

const SUITE: CipherSuite = CipherSuite(1);

fn env() -> GroupEnv {
    GroupEnv {
        crypto: Arc::new(AwsLcProvider),
        identity: Arc::new(BasicIdentityProvider),
        psks: Arc::new(()),
    }
}

fn params(env: &GroupEnv, name: &str) -> MemberParams {
    let cs = env.suite(SUITE).unwrap();
    let signer = SigningIdentity::generate(
        cs.as_ref(),
        Credential::Basic {
            identity: format!("mls://{name}").into_bytes(),
        },
        &mut SystemRandom,
    )
    .unwrap();
    MemberParams {
        config: GroupConfig {
            handshake_wire_format: WireFormat::PRIVATE_MESSAGE,
            ..GroupConfig::default()
        },
        ..MemberParams::new(env.clone(), signer)
    }
}

/// A group of `n` members: the sender (member 0) and the syncing member (member 1), whose
/// state is returned as a snapshot.
fn build(n: usize, now: u64) -> (Group, Vec<u8>) {
    let env = env();
    let mut sender = Group::create(
        params(&env, "member-0"),
        NewGroup::new(SUITE, b"bench#0".to_vec()),
        now,
        &mut SystemRandom,
    )
    .unwrap();
    let reader = params(&env, "member-1");
    let reader_kp = KeyPackageBundle::generate(&reader, SUITE, now, &mut SystemRandom).unwrap();
    let mut proposals = vec![Proposal::Add(Add {
        key_package: reader_kp.key_package.clone(),
    })];
    for i in 2..n {
        let member = params(&env, &format!("member-{i}"));
        let kp = KeyPackageBundle::generate(&member, SUITE, now, &mut SystemRandom).unwrap();
        proposals.push(Proposal::Add(Add {
            key_package: kp.key_package,
        }));
    }
    let output = sender
        .commit(
            &CommitOptions {
                proposals,
                ..CommitOptions::default()
            },
            now,
            &mut SystemRandom,
        )
        .unwrap();
    sender.merge_pending_commit().unwrap();
    let MlsMessageBody::Welcome(welcome) = output.welcome.unwrap().body else {
        panic!("no Welcome");
    };
    let joined = Group::join(reader, &welcome, &reader_kp, &JoinOptions::default(), now).unwrap();
    assert_eq!(joined.epoch_authenticator(), sender.epoch_authenticator());
    let snapshot = joined.to_bytes().unwrap();
    (sender, snapshot)
}

struct Row {
    n: usize,
    mode: &'static str,
    ms_per_message: f64,
    apply_ms_per_message: f64,
    bytes_per_message: f64,
    state_after_import: u64,
}

fn run(n: usize, snapshot: &[u8], log: &[LogEntry], mode: StateWrites, now: u64) -> Row {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut group = Group::from_bytes(env(), snapshot).unwrap();
    let group_id = group.group_id().to_vec();
    let row = GroupRow {
        group_id: group_id.clone(),
        name: "bench".into(),
        cursor: 0,
        status: GroupStatus::Active,
        reason: None,
    };
    store
        .insert_group(&row, &StateWrite::of(&mut group, mode).unwrap())
        .unwrap();
    let imported = store.state_bytes_written();
    let config = ApplierConfig {
        group_name: "bench".into(),
        own_name: "member-1".into(),
        identity: Arc::new(BasicIdentityProvider),
        state_writes: mode,
        replace_late_updates: false,
    };
    let mut applier = LogApplier::new(group, 0, config);
    let mut applying = std::time::Duration::ZERO;
    let start = Instant::now();
    for entry in log {
        let step_start = Instant::now();
        let step = applier.apply(entry, now).unwrap().unwrap();
        applying += step_start.elapsed();
        assert!(step.is_message(), "entry {} was not read", entry.seq);
        store
            .apply_entry(&group_id, &step.state, &step.applied_entry())
            .unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64() * 1000.0;
    let applying = applying.as_secs_f64() * 1000.0;
    let written = store.state_bytes_written() - imported;
    let history = store.history(&group_id).unwrap();
    assert_eq!(history.len(), log.len());
    let count = log.len() as f64;
    Row {
        n,
        mode: match mode {
            StateWrites::FullSnapshot => "FullSnapshot",
            _ => "Incremental",
        },
        ms_per_message: elapsed / count,
        apply_ms_per_message: applying / count,
        bytes_per_message: written as f64 / count,
        state_after_import: imported,
    }
}

fn main() {
    let mut sizes = vec![10usize, 1000, 10_000];
    let mut messages = 1000usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--sizes" => {
                sizes = args
                    .next()
                    .unwrap()
                    .split(',')
                    .map(|s| s.parse().unwrap())
                    .collect();
            }
            "--messages" => messages = args.next().unwrap().parse().unwrap(),
            // `cargo bench` passes `--bench`.
            _ => {}
        }
    }
    let now = conclave_api::clock::now_seconds();
    let mut rows = Vec::new();
    for &n in &sizes {
        let start = Instant::now();
        let (mut sender, snapshot) = build(n, now);
        eprintln!(
            "N = {n}: group built in {:.1} s",
            start.elapsed().as_secs_f64()
        );
        let log: Vec<LogEntry> = (1..=messages)
            .map(|i| {
                let message = sender
                    .encrypt_application_message(
                        format!("message {i}").as_bytes(),
                        &[],
                        &mut SystemRandom,
                    )
                    .unwrap();
                LogEntry {
                    seq: i as u64,
                    epoch: sender.epoch(),
                    content_type: 1,
                    sender: "member-0".into(),
                    message: Ok(message.to_bytes().unwrap()),
                }
            })
            .collect();
        for mode in [StateWrites::Incremental, StateWrites::FullSnapshot] {
            let row = run(n, &snapshot, &log, mode, now);
            eprintln!(
                "N = {n} {}: {:.3} ms/message ({:.3} in the applier), {:.0} bytes/message",
                row.mode, row.ms_per_message, row.apply_ms_per_message, row.bytes_per_message
            );
            rows.push(row);
        }
    }
    println!(
        "| members | state writes | ms per message | of which in the applier | \
         state bytes written per message | state bytes written at import |"
    );
    println!("| ---: | --- | ---: | ---: | ---: | ---: |");
    for r in &rows {
        println!(
            "| {} | {} | {:.3} | {:.3} | {:.0} | {} |",
            r.n,
            r.mode,
            r.ms_per_message,
            r.apply_ms_per_message,
            r.bytes_per_message,
            r.state_after_import
        );
    }
}
