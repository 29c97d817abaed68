//! The workloads on Conclave (`conclave_core::group`), RFC 9420 §12.4.

use std::sync::Arc;

use conclave_codec::{Decode, Encode};
use conclave_core::credential::BasicIdentityProvider;
use conclave_core::group::{
    CommitOptions, Group, GroupEnv, JoinOptions, KeyPackageBundle, MemberParams, NewGroup,
    ProcessedMessage, SigningIdentity,
};
use conclave_core::messages::{
    Add, Content, Credential, KeyPackage, LeafIndex, MlsMessage, MlsMessageBody, Proposal, Remove,
    Welcome,
};
use conclave_crypto::{CipherSuite, CryptoProvider};

use crate::floors::{self, CommitShape, PrimitiveBench, Primitives, Processor};
use crate::{
    BACKLOG, BenchError, EXPORT_LABEL, Impl, LARGE_BATCH, LARGE_MESSAGE, Op, Progress,
    ProviderMode, RunConfig, SMALL_BATCH, SMALL_MESSAGE, StackRun, backlog_applies, backlog_reps,
    is_heap_run, payload, plan, remove_target, run_op,
};

const STACK: Impl = Impl::Conclave;

/// The operating system's random source (the peers draw from it too).
use conclave_crypto_awslc::SystemRandom as OsRng;

fn fail<E: core::fmt::Debug>(step: &'static str) -> impl FnOnce(E) -> BenchError {
    move |e| BenchError::Stack {
        stack: STACK.name(),
        step,
        message: format!("{e:?}"),
    }
}

use conclave_api::clock::now_seconds as unix_now;

fn encode(message: &MlsMessage, step: &'static str) -> Result<Vec<u8>, BenchError> {
    message.to_bytes().map_err(fail(step))
}

fn parse_key_package(bytes: &[u8]) -> Result<KeyPackage, BenchError> {
    match MlsMessage::from_bytes(bytes)
        .map_err(fail("parse KeyPackage"))?
        .body
    {
        MlsMessageBody::KeyPackage(kp) => Ok(kp),
        _ => Err(fail("parse KeyPackage")("not a KeyPackage")),
    }
}

fn parse_welcome(bytes: &[u8]) -> Result<Welcome, BenchError> {
    match MlsMessage::from_bytes(bytes)
        .map_err(fail("parse Welcome"))?
        .body
    {
        MlsMessageBody::Welcome(w) => Ok(w),
        _ => Err(fail("parse Welcome")("not a Welcome")),
    }
}

/// Parses and processes a commit; returns whether it removed the processor.
fn process_commit(group: &mut Group, bytes: &[u8], now: u64) -> Result<bool, BenchError> {
    let message = MlsMessage::from_bytes(bytes).map_err(fail("parse commit"))?;
    match group
        .process_message(&message, now)
        .map_err(fail("process commit"))?
    {
        ProcessedMessage::Commit(summary) => Ok(summary.self_removed),
        other => Err(fail("process commit")(other)),
    }
}

/// The shape of an encoded commit (a PublicMessage) for its floor.
fn commit_shape(bytes: &[u8]) -> Result<CommitShape, BenchError> {
    let message = MlsMessage::from_bytes(bytes).map_err(fail("parse commit"))?;
    let MlsMessageBody::PublicMessage(public) = &message.body else {
        return Err(fail("commit shape")("not a PublicMessage"));
    };
    let Content::Commit(commit) = &public.content.content else {
        return Err(fail("commit shape")("not a commit"));
    };
    let (hpke_ciphertexts, path_nodes) = commit.path.as_ref().map_or((0, 0), |path| {
        (
            path.nodes
                .iter()
                .map(|node| node.encrypted_path_secret.len())
                .sum(),
            path.nodes.len(),
        )
    });
    let leaf_node_bytes = match &commit.path {
        Some(path) => path
            .leaf_node
            .to_bytes()
            .map_err(fail("encode leaf node"))?
            .len(),
        None => 0,
    };
    Ok(CommitShape {
        bytes: bytes.len(),
        hpke_ciphertexts,
        path_nodes,
        leaf_node_bytes,
    })
}

fn agree(out: &mut StackRun, a: &Group, b: &Group, what: &str) -> Result<(), BenchError> {
    out.check(
        STACK,
        format!("{what}: epoch authenticator"),
        a.epoch_authenticator().to_vec(),
        b.epoch_authenticator().to_vec(),
    )?;
    let export = |g: &Group| {
        g.export_secret(EXPORT_LABEL, b"", 32)
            .map(|s| s.as_bytes().to_vec())
            .map_err(fail("export secret"))
    };
    out.check(
        STACK,
        format!("{what}: exported secret"),
        export(a)?,
        export(b)?,
    )
}

pub(crate) fn run(cfg: &RunConfig, progress: &Progress) -> Result<StackRun, BenchError> {
    let provider: Arc<dyn CryptoProvider> = match cfg.provider {
        ProviderMode::RustCrypto => Arc::new(conclave_crypto_rustcrypto::RustCryptoProvider),
        ProviderMode::Fastest => Arc::new(conclave_crypto_awslc::AwsLcProvider),
    };
    let env = GroupEnv {
        crypto: provider.clone(),
        identity: Arc::new(BasicIdentityProvider),
        psks: Arc::new(()),
    };
    let suite = CipherSuite(cfg.suite);
    let cs = env.suite(suite).map_err(fail("cipher suite"))?;
    let mut rng = OsRng;
    let now = unix_now();
    let n = cfg.n;
    let (add_reps, join_reps, reps) = plan(cfg);
    let mut out = StackRun::default();
    // The primitives' costs, for the floors (none if the suite's primitives cannot be
    // measured this way), timed again right before each op: each op's floor is priced with
    // the machine as fast as it was for that op. Batch verification is priced at the batch
    // a join or an add at this N verifies.
    let mut primitives = PrimitiveBench::new(cs.as_ref(), n).ok();
    let mut first = true;
    let mut measure_now = |what: &str| -> Option<Primitives> {
        let p = primitives.as_mut()?.measure().ok()?;
        if std::mem::replace(&mut first, false) {
            for line in p.describe() {
                progress.note(format!("primitive {line}"));
            }
        }
        progress.note(format!(
            "primitives before {what}: hpke seal {:.2} µs, verify {:.2} µs, batched {:.2} µs",
            p.hpke_seal * 1e6,
            p.verify.at(floors::SHORT) * 1e6,
            p.verify_batched.at(floors::SHORT) * 1e6,
        ));
        Some(p)
    };

    let member = |name: String, rng: &mut OsRng| -> Result<_, BenchError> {
        let signer = SigningIdentity::generate(
            cs.as_ref(),
            Credential::Basic {
                identity: name.into_bytes(),
            },
            rng,
        )
        .map_err(fail("signature key"))?;
        let bundle = KeyPackageBundle::generate(
            &MemberParams::new(env.clone(), signer.clone()),
            suite,
            now,
            rng,
        )
        .map_err(fail("KeyPackage"))?;
        let bytes = encode(
            &MlsMessage::new(MlsMessageBody::KeyPackage(bundle.key_package.clone())),
            "encode KeyPackage",
        )?;
        Ok((signer, bundle, bytes))
    };

    // Setup: the KeyPackages of members 1..N as bytes; member 1 ("bob") keeps his keys.
    let alice_id = SigningIdentity::generate(
        cs.as_ref(),
        Credential::Basic {
            identity: b"member-0".to_vec(),
        },
        &mut rng,
    )
    .map_err(fail("signature key"))?;
    let (bob_id, bob_kp, bob_bytes) = member("member-1".into(), &mut rng)?;
    out.push(Op::KeyPackageSize, bob_bytes.len() as f64);
    let mut kp_bytes = Vec::with_capacity(n - 1);
    kp_bytes.push(bob_bytes);
    for i in 2..n {
        kp_bytes.push(member(format!("member-{i}"), &mut rng)?.2);
    }
    // One spare per remove repetition, the heap run's included.
    let spares = (0..=reps)
        .map(|r| member(format!("spare-{r}"), &mut rng))
        .collect::<Result<Vec<_>, _>>()?;
    progress.note(format!("{} KeyPackages generated", n + reps));

    // add_commit_create: a fresh 1-member group commits adding N−1 KeyPackages.
    let prims_add = measure_now("add");
    let mut added = None;
    for r in 0..=add_reps {
        let mut alice = Group::create(
            bench_params(&env, &alice_id),
            NewGroup::new(suite, format!("conclave-bench-{r}").into_bytes()),
            now,
            &mut rng,
        )
        .map_err(fail("create group"))?;
        let welcome = run_op(
            &mut out,
            Op::AddCommitCreate,
            is_heap_run(r, add_reps),
            || {
                let proposals = kp_bytes
                    .iter()
                    .map(|b| {
                        parse_key_package(b).map(|key_package| Proposal::Add(Add { key_package }))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let output = alice
                    .commit(
                        &CommitOptions {
                            proposals,
                            ..CommitOptions::default()
                        },
                        now,
                        &mut rng,
                    )
                    .map_err(fail("add commit"))?;
                alice.merge_pending_commit().map_err(fail("merge add"))?;
                let commit = encode(&output.commit, "encode commit")?;
                let welcome = output
                    .welcome
                    .as_ref()
                    .ok_or_else(|| fail("add commit")("no Welcome"))?;
                Ok((commit, encode(welcome, "encode Welcome")?))
            },
        )?;
        progress.rep(&out, Op::AddCommitCreate, r, add_reps);
        added = Some((alice, welcome));
    }
    let (mut alice, (add_commit, welcome)) =
        added.ok_or_else(|| fail("add commit")("no repetition"))?;
    out.push(Op::WelcomeSize, welcome.len() as f64);
    if let Some(p) = &prims_add {
        let key_package = kp_bytes.first().map_or(0, Vec::len);
        let shape = commit_shape(&add_commit)?;
        out.set_floor(
            Op::AddCommitCreate,
            floors::add_commit_create(p, n, key_package, shape, welcome.len()),
        );
    }

    // welcome_join: member 1 joins from the Welcome (ratchet tree inside, full validation).
    if let Some(p) = measure_now("join") {
        out.set_floor(Op::WelcomeJoin, floors::welcome_join(&p, n, welcome.len()));
    }
    let mut joined = None;
    for r in 0..=join_reps {
        let group = run_op(&mut out, Op::WelcomeJoin, is_heap_run(r, join_reps), || {
            let parsed = parse_welcome(&welcome)?;
            Group::join(
                bench_params(&env, &bob_id),
                &parsed,
                &bob_kp,
                &JoinOptions::default(),
                now,
            )
            .map_err(fail("join"))
        })?;
        progress.rep(&out, Op::WelcomeJoin, r, join_reps);
        joined = Some(group);
    }
    let mut bob = joined.ok_or_else(|| fail("join")("no repetition"))?;
    agree(&mut out, &alice, &bob, "join")?;

    // update_commit_create / _process: member 1 commits with a path, member 0 processes.
    let prims_update = measure_now("update commits");
    for r in 0..=reps {
        let heap_run = is_heap_run(r, reps);
        let commit = run_op(&mut out, Op::UpdateCommitCreate, heap_run, || {
            let output = bob
                .commit(&CommitOptions::default(), now, &mut rng)
                .map_err(fail("update commit"))?;
            bob.merge_pending_commit().map_err(fail("merge update"))?;
            encode(&output.commit, "encode commit")
        })?;
        run_op(&mut out, Op::UpdateCommitProcess, heap_run, || {
            process_commit(&mut alice, &commit, now)
        })?;
        if !heap_run {
            out.push(Op::CommitSize, commit.len() as f64);
        }
        if r == 0
            && let Some(p) = &prims_update
        {
            let shape = commit_shape(&commit)?;
            out.set_floor(Op::UpdateCommitCreate, floors::commit_create(p, shape));
            out.set_floor(
                Op::UpdateCommitProcess,
                floors::commit_process(p, shape, Processor::Member),
            );
        }
        agree(&mut out, &alice, &bob, &format!("update {r}"))?;
    }
    progress.note("update commits done");
    let state = bob.to_bytes().map_err(fail("serialize state"))?;
    out.push(Op::GroupStateSize, state.len() as f64);

    // Application messages, member 0 to member 1.
    if let Some(p) = measure_now("application messages") {
        out.set_floor(
            Op::App100BRoundtrip,
            floors::app_roundtrip(&p, SMALL_MESSAGE),
        );
        out.set_floor(
            Op::App1MiBRoundtrip,
            floors::app_roundtrip(&p, LARGE_MESSAGE),
        );
    }
    for (op, len, batch) in [
        (Op::App100BRoundtrip, SMALL_MESSAGE, SMALL_BATCH),
        (Op::App1MiBRoundtrip, LARGE_MESSAGE, LARGE_BATCH),
    ] {
        let data: Vec<Vec<u8>> = (0..batch).map(|k| payload(len, k)).collect();
        for r in 0..=reps {
            run_op(&mut out, op, is_heap_run(r, reps), || {
                for sent in &data {
                    let message = alice
                        .encrypt_application_message(sent, &[], &mut rng)
                        .map_err(fail("encrypt"))?;
                    let bytes = encode(&message, "encode message")?;
                    let parsed = MlsMessage::from_bytes(&bytes).map_err(fail("parse message"))?;
                    match bob.process_message(&parsed, now).map_err(fail("decrypt"))? {
                        ProcessedMessage::Application { data, .. } if data == *sent => {}
                        _ => {
                            return Err(BenchError::Disagreement {
                                stack: STACK.name(),
                                what: "application message did not round-trip".into(),
                            });
                        }
                    }
                }
                Ok(())
            })?;
        }
    }
    if backlog_applies(n) {
        if let Some(p) = measure_now("backlog") {
            out.set_floor(Op::AppBacklog1000, floors::app_backlog(&p, SMALL_MESSAGE));
        }
        backlog(&mut out, &mut alice, &mut bob, reps, now, &mut rng)?;
    }
    progress.note("application messages done");

    // remove_commit_create / _process: member 0 removes the last member, member 1
    // processes; then (untimed) a spare is added back so that the group stays at N.
    let target = remove_target(n);
    let prims_remove = measure_now("remove commits");
    for (r, (spare_id, spare_kp, _)) in spares.iter().enumerate() {
        let heap_run = is_heap_run(r, reps);
        let commit = run_op(&mut out, Op::RemoveCommitCreate, heap_run, || {
            let output = alice
                .commit(
                    &CommitOptions {
                        proposals: vec![Proposal::Remove(Remove {
                            removed: LeafIndex(target),
                        })],
                        ..CommitOptions::default()
                    },
                    now,
                    &mut rng,
                )
                .map_err(fail("remove commit"))?;
            alice.merge_pending_commit().map_err(fail("merge remove"))?;
            encode(&output.commit, "encode commit")
        })?;
        let self_removed = run_op(&mut out, Op::RemoveCommitProcess, heap_run, || {
            process_commit(&mut bob, &commit, now)
        })?;
        if r == 0
            && let Some(p) = &prims_remove
        {
            let shape = commit_shape(&commit)?;
            out.set_floor(Op::RemoveCommitCreate, floors::commit_create(p, shape));
            let processor = if self_removed {
                Processor::Removed
            } else {
                Processor::Member
            };
            out.set_floor(
                Op::RemoveCommitProcess,
                floors::commit_process(p, shape, processor),
            );
        }
        if self_removed != (bob.own_leaf() == LeafIndex(target)) {
            return Err(BenchError::Disagreement {
                stack: STACK.name(),
                what: format!("remove {r}: removal of the processor misreported"),
            });
        }
        if !self_removed {
            agree(&mut out, &alice, &bob, &format!("remove {r}"))?;
        }
        // Refill.
        let output = alice
            .commit(
                &CommitOptions {
                    proposals: vec![Proposal::Add(Add {
                        key_package: spare_kp.key_package.clone(),
                    })],
                    ..CommitOptions::default()
                },
                now,
                &mut rng,
            )
            .map_err(fail("refill commit"))?;
        alice.merge_pending_commit().map_err(fail("merge refill"))?;
        if self_removed {
            let welcome = output
                .welcome
                .as_ref()
                .ok_or_else(|| fail("refill")("no Welcome"))?;
            let welcome = parse_welcome(&encode(welcome, "encode Welcome")?)?;
            bob = Group::join(
                bench_params(&env, spare_id),
                &welcome,
                spare_kp,
                &JoinOptions::default(),
                now,
            )
            .map_err(fail("refill join"))?;
        } else {
            process_commit(&mut bob, &encode(&output.commit, "encode commit")?, now)?;
        }
        agree(&mut out, &alice, &bob, &format!("refill {r}"))?;
    }
    progress.note("remove commits done");
    Ok(out)
}

/// `app_backlog_1000`: member 0 sends [`BACKLOG`] application messages (untimed); member 1
/// parses them and processes them together with `Group::process_application_backlog`
/// (signatures in batches, decryptions in parallel on the `--threads` pool), and each
/// plaintext must be the one sent.
fn backlog(
    out: &mut StackRun,
    alice: &mut Group,
    bob: &mut Group,
    reps: usize,
    now: u64,
    rng: &mut OsRng,
) -> Result<(), BenchError> {
    let reps = backlog_reps(reps);
    for r in 0..=reps {
        let sent: Vec<Vec<u8>> = (0..BACKLOG)
            .map(|k| payload(SMALL_MESSAGE, r * BACKLOG + k))
            .collect();
        let wire = sent
            .iter()
            .map(|data| {
                let message = alice
                    .encrypt_application_message(data, &[], rng)
                    .map_err(fail("encrypt"))?;
                encode(&message, "encode message")
            })
            .collect::<Result<Vec<_>, _>>()?;
        run_op(out, Op::AppBacklog1000, is_heap_run(r, reps), || {
            let parsed = wire
                .iter()
                .map(|bytes| MlsMessage::from_bytes(bytes).map_err(fail("parse message")))
                .collect::<Result<Vec<_>, _>>()?;
            let results = bob.process_application_backlog(&parsed, now);
            if results.len() != sent.len() {
                return Err(fail("backlog")("result count"));
            }
            for (result, data) in results.into_iter().zip(&sent) {
                match result.map_err(fail("backlog"))? {
                    ProcessedMessage::Application { data: got, .. } if got == *data => {}
                    _ => {
                        return Err(BenchError::Disagreement {
                            stack: STACK.name(),
                            what: "backlog message did not round-trip".into(),
                        });
                    }
                }
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// A member's parameters in the benchmark: the default policy, except that its commits do
/// not publish `external_pub` (RFC 9420 §12.4.3.2: a DeriveKeyPair per commit), as the
/// peers' commits here do not either (mls-rs builds the GroupInfo for external joiners only
/// when asked, `allow_external_commit`). The workload is then the same for all stacks.
fn bench_params(env: &GroupEnv, signer: &SigningIdentity) -> MemberParams {
    let mut params = MemberParams::new(env.clone(), signer.clone());
    params.config.allow_external_commits = false;
    params.config.allow_external_resync = false;
    params
}
