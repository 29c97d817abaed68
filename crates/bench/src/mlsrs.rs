//! The workloads on mls-rs, configured like the others: every commit with a path, the
//! ratchet tree in the (single) Welcome, PublicMessage handshakes, no padding, in-memory
//! storage written only when asked (as Conclave's `Group::to_bytes`).

use mls_rs::client_builder::{MlsConfig, PaddingMode};
use mls_rs::group::{CommitEffect, ReceivedMessage};
use mls_rs::identity::SigningIdentity;
use mls_rs::identity::basic::{BasicCredential, BasicIdentityProvider};
use mls_rs::mls_rules::{CommitOptions, DefaultMlsRules, EncryptionOptions};
use mls_rs::storage_provider::in_memory::{InMemoryGroupStateStorage, InMemoryKeyPackageStorage};
use mls_rs::{
    CipherSuite, CipherSuiteProvider, Client, CryptoProvider, ExtensionList, Group,
    GroupStateStorage, MlsMessage,
};

use crate::{
    BACKLOG, BenchError, EXPORT_LABEL, Impl, LARGE_BATCH, LARGE_MESSAGE, Op, Progress,
    ProviderMode, RunConfig, SMALL_BATCH, SMALL_MESSAGE, StackRun, backlog_applies, backlog_reps,
    is_heap_run, payload, plan, remove_target, run_op,
};

const STACK: Impl = Impl::MlsRs;
const SUITE: CipherSuite = CipherSuite::CURVE25519_AES128;

fn fail<E: core::fmt::Debug>(step: &'static str) -> impl FnOnce(E) -> BenchError {
    move |e| BenchError::Stack {
        stack: STACK.name(),
        step,
        message: format!("{e:?}"),
    }
}

pub(crate) fn run(cfg: &RunConfig, progress: &Progress) -> Result<StackRun, BenchError> {
    match cfg.provider {
        ProviderMode::RustCrypto => run_with(
            mls_rs_crypto_rustcrypto::RustCryptoProvider::new(),
            cfg,
            progress,
        ),
        ProviderMode::Fastest => run_with(
            mls_rs_crypto_awslc::AwsLcCryptoProvider::new(),
            cfg,
            progress,
        ),
    }
}

/// A client with its own key-package and group-state stores (clones share the maps).
fn client<P: CryptoProvider + Clone>(
    crypto: &P,
    name: &str,
) -> Result<
    (
        Client<impl MlsConfig + use<P>>,
        InMemoryKeyPackageStorage,
        InMemoryGroupStateStorage,
    ),
    BenchError,
> {
    let cs = crypto
        .cipher_suite_provider(SUITE)
        .ok_or_else(|| fail("cipher suite")("unsupported"))?;
    let (secret, public) = cs.signature_key_generate().map_err(fail("signature key"))?;
    let identity = SigningIdentity::new(
        BasicCredential::new(name.as_bytes().to_vec()).into_credential(),
        public,
    );
    let key_packages = InMemoryKeyPackageStorage::new();
    let states = InMemoryGroupStateStorage::new();
    let rules = DefaultMlsRules::new()
        .with_commit_options(
            CommitOptions::new()
                .with_path_required(true)
                .with_ratchet_tree_extension(true)
                .with_single_welcome_message(true),
        )
        .with_encryption_options(EncryptionOptions::new(false, PaddingMode::None));
    let client = Client::builder()
        .identity_provider(BasicIdentityProvider)
        .crypto_provider(crypto.clone())
        .key_package_repo(key_packages.clone())
        .group_state_storage(states.clone())
        .mls_rules(rules)
        .signing_identity(identity, secret, SUITE)
        .build();
    Ok((client, key_packages, states))
}

fn key_package<C: MlsConfig>(client: &Client<C>) -> Result<Vec<u8>, BenchError> {
    client
        .generate_key_package_message(ExtensionList::new(), ExtensionList::new(), None)
        .map_err(fail("KeyPackage"))?
        .to_bytes()
        .map_err(fail("encode KeyPackage"))
}

/// Parses and processes a commit; returns whether it removed the processor.
fn process_commit<C: MlsConfig>(group: &mut Group<C>, bytes: &[u8]) -> Result<bool, BenchError> {
    let message = MlsMessage::from_bytes(bytes).map_err(fail("parse commit"))?;
    match group
        .process_incoming_message(message)
        .map_err(fail("process commit"))?
    {
        ReceivedMessage::Commit(description) => {
            Ok(matches!(description.effect, CommitEffect::Removed { .. }))
        }
        _ => Err(fail("process commit")("not a commit")),
    }
}

fn agree<C: MlsConfig>(
    out: &mut StackRun,
    a: &Group<C>,
    b: &Group<C>,
    what: &str,
) -> Result<(), BenchError> {
    let auth = |g: &Group<C>| {
        g.epoch_authenticator()
            .map(|s| s.to_vec())
            .map_err(fail("epoch authenticator"))
    };
    out.check(
        STACK,
        format!("{what}: epoch authenticator"),
        auth(a)?,
        auth(b)?,
    )?;
    let export = |g: &Group<C>| {
        g.export_secret(EXPORT_LABEL.as_bytes(), b"", 32)
            .map(|s| s.to_vec())
            .map_err(fail("export secret"))
    };
    out.check(
        STACK,
        format!("{what}: exported secret"),
        export(a)?,
        export(b)?,
    )
}

fn run_with<P: CryptoProvider + Clone>(
    crypto: P,
    cfg: &RunConfig,
    progress: &Progress,
) -> Result<StackRun, BenchError> {
    let n = cfg.n;
    let (add_reps, join_reps, reps) = plan(cfg);
    let mut out = StackRun::default();

    // Setup: the KeyPackages of members 1..N as bytes; member 1 ("bob") keeps his client.
    let (alice_client, _, _) = client(&crypto, "member-0")?;
    let (bob_client, bob_key_packages, bob_states) = client(&crypto, "member-1")?;
    let mut kp_bytes = Vec::with_capacity(n - 1);
    kp_bytes.push(key_package(&bob_client)?);
    for i in 2..n {
        let (c, _, _) = client(&crypto, &format!("member-{i}"))?;
        kp_bytes.push(key_package(&c)?);
    }
    // One spare per remove repetition, the heap run's included.
    let spares = (0..=reps)
        .map(|r| {
            let (c, _, _) = client(&crypto, &format!("spare-{r}"))?;
            let kp = key_package(&c)?;
            Ok((c, kp))
        })
        .collect::<Result<Vec<_>, BenchError>>()?;
    progress.note(format!("{} KeyPackages generated", n + reps));

    // add_commit_create.
    let mut added = None;
    for r in 0..=add_reps {
        let mut alice = alice_client
            .create_group(ExtensionList::new(), ExtensionList::new(), None)
            .map_err(fail("create group"))?;
        let welcome = run_op(
            &mut out,
            Op::AddCommitCreate,
            is_heap_run(r, add_reps),
            || {
                let mut builder = alice.commit_builder();
                for bytes in &kp_bytes {
                    let message =
                        MlsMessage::from_bytes(bytes).map_err(fail("parse KeyPackage"))?;
                    builder = builder.add_member(message).map_err(fail("add member"))?;
                }
                let output = builder.build().map_err(fail("add commit"))?;
                alice.apply_pending_commit().map_err(fail("merge add"))?;
                let _commit = output
                    .commit_message
                    .to_bytes()
                    .map_err(fail("encode commit"))?;
                match output.welcome_messages.as_slice() {
                    [welcome] => welcome.to_bytes().map_err(fail("encode Welcome")),
                    other => Err(fail("add commit")(format!("{} Welcomes", other.len()))),
                }
            },
        )?;
        progress.rep(&out, Op::AddCommitCreate, r, add_reps);
        added = Some((alice, welcome));
    }
    let (mut alice, welcome) = added.ok_or_else(|| fail("add commit")("no repetition"))?;
    out.push(Op::WelcomeSize, welcome.len() as f64);

    // welcome_join. Joining deletes the KeyPackage's private keys from the client's store:
    // they are put back (untimed) before the next repetition.
    let saved_key_packages = bob_key_packages.key_packages();
    let mut joined = None;
    for r in 0..=join_reps {
        for (id, data) in &saved_key_packages {
            bob_key_packages.insert(id.clone(), data.clone());
        }
        let group = run_op(&mut out, Op::WelcomeJoin, is_heap_run(r, join_reps), || {
            let message = MlsMessage::from_bytes(&welcome).map_err(fail("parse Welcome"))?;
            let (group, _) = bob_client
                .join_group(None, &message, None)
                .map_err(fail("join"))?;
            Ok(group)
        })?;
        progress.rep(&out, Op::WelcomeJoin, r, join_reps);
        joined = Some(group);
    }
    let mut bob = joined.ok_or_else(|| fail("join")("no repetition"))?;
    agree(&mut out, &alice, &bob, "join")?;

    // update_commit_create / _process.
    for r in 0..=reps {
        let heap_run = is_heap_run(r, reps);
        let commit = run_op(&mut out, Op::UpdateCommitCreate, heap_run, || {
            let output = bob.commit(Vec::new()).map_err(fail("update commit"))?;
            bob.apply_pending_commit().map_err(fail("merge update"))?;
            output
                .commit_message
                .to_bytes()
                .map_err(fail("encode commit"))
        })?;
        run_op(&mut out, Op::UpdateCommitProcess, heap_run, || {
            process_commit(&mut alice, &commit)
        })?;
        if !heap_run {
            out.push(Op::CommitSize, commit.len() as f64);
        }
        agree(&mut out, &alice, &bob, &format!("update {r}"))?;
    }
    progress.note("update commits done");
    // The member's state: the group snapshot plus the stored past epochs.
    bob.write_to_storage().map_err(fail("write state"))?;
    let group_id = bob.group_id().to_vec();
    let mut state_size = bob_states
        .state(&group_id)
        .map_err(fail("read state"))?
        .map_or(0, |s| s.len());
    if let Some(max) = bob_states
        .max_epoch_id(&group_id)
        .map_err(fail("read state"))?
    {
        for epoch in (0..=max).rev() {
            match bob_states
                .epoch(&group_id, epoch)
                .map_err(fail("read state"))?
            {
                Some(record) => state_size += record.len(),
                None => break,
            }
        }
    }
    out.push(Op::GroupStateSize, state_size as f64);

    // Application messages, member 0 to member 1.
    for (op, len, batch) in [
        (Op::App100BRoundtrip, SMALL_MESSAGE, SMALL_BATCH),
        (Op::App1MiBRoundtrip, LARGE_MESSAGE, LARGE_BATCH),
    ] {
        let data: Vec<Vec<u8>> = (0..batch).map(|k| payload(len, k)).collect();
        for r in 0..=reps {
            run_op(&mut out, op, is_heap_run(r, reps), || {
                for sent in &data {
                    let bytes = alice
                        .encrypt_application_message(sent, Vec::new())
                        .map_err(fail("encrypt"))?
                        .to_bytes()
                        .map_err(fail("encode message"))?;
                    let message = MlsMessage::from_bytes(&bytes).map_err(fail("parse message"))?;
                    match bob
                        .process_incoming_message(message)
                        .map_err(fail("decrypt"))?
                    {
                        ReceivedMessage::ApplicationMessage(m) if m.data() == sent.as_slice() => {}
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
    // app_backlog_1000 (N = 2 and 1000): member 0 sends BACKLOG application messages
    // (untimed); member 1 processes them one by one from bytes, the stack's only API.
    if backlog_applies(n) {
        let backlog_reps = backlog_reps(reps);
        for r in 0..=backlog_reps {
            let sent: Vec<Vec<u8>> = (0..BACKLOG)
                .map(|k| payload(SMALL_MESSAGE, r * BACKLOG + k))
                .collect();
            let wire = sent
                .iter()
                .map(|data| {
                    let bytes = alice
                        .encrypt_application_message(data, Vec::new())
                        .map_err(fail("encrypt"))?
                        .to_bytes()
                        .map_err(fail("encode message"))?;
                    Ok(bytes)
                })
                .collect::<Result<Vec<_>, BenchError>>()?;
            run_op(
                &mut out,
                Op::AppBacklog1000,
                is_heap_run(r, backlog_reps),
                || {
                    for (bytes, data) in wire.iter().zip(&sent) {
                        let message =
                            MlsMessage::from_bytes(bytes).map_err(fail("parse message"))?;
                        match bob
                            .process_incoming_message(message)
                            .map_err(fail("decrypt"))?
                        {
                            ReceivedMessage::ApplicationMessage(m)
                                if m.data() == data.as_slice() => {}
                            _ => {
                                return Err(BenchError::Disagreement {
                                    stack: STACK.name(),
                                    what: "backlog message did not round-trip".into(),
                                });
                            }
                        }
                    }
                    Ok(())
                },
            )?;
        }
    }
    progress.note("application messages done");

    // remove_commit_create / _process, then an untimed refill.
    let target = remove_target(n);
    for (r, (spare, spare_kp)) in spares.iter().enumerate() {
        let heap_run = is_heap_run(r, reps);
        let commit = run_op(&mut out, Op::RemoveCommitCreate, heap_run, || {
            let output = alice
                .commit_builder()
                .remove_member(target)
                .map_err(fail("remove member"))?
                .build()
                .map_err(fail("remove commit"))?;
            alice.apply_pending_commit().map_err(fail("merge remove"))?;
            output
                .commit_message
                .to_bytes()
                .map_err(fail("encode commit"))
        })?;
        let self_removed = run_op(&mut out, Op::RemoveCommitProcess, heap_run, || {
            process_commit(&mut bob, &commit)
        })?;
        if self_removed != (bob.current_member_index() == target) {
            return Err(BenchError::Disagreement {
                stack: STACK.name(),
                what: format!("remove {r}: removal of the processor misreported"),
            });
        }
        if !self_removed {
            agree(&mut out, &alice, &bob, &format!("remove {r}"))?;
        }
        let message = MlsMessage::from_bytes(spare_kp).map_err(fail("parse KeyPackage"))?;
        let output = alice
            .commit_builder()
            .add_member(message)
            .map_err(fail("refill"))?
            .build()
            .map_err(fail("refill commit"))?;
        alice.apply_pending_commit().map_err(fail("merge refill"))?;
        if self_removed {
            let welcome = output
                .welcome_messages
                .first()
                .ok_or_else(|| fail("refill")("no Welcome"))?;
            let (group, _) = spare
                .join_group(None, welcome, None)
                .map_err(fail("refill join"))?;
            bob = group;
        } else {
            let bytes = output
                .commit_message
                .to_bytes()
                .map_err(fail("encode commit"))?;
            process_commit(&mut bob, &bytes)?;
        }
        agree(&mut out, &alice, &bob, &format!("refill {r}"))?;
    }
    progress.note("remove commits done");
    Ok(out)
}
