//! The workloads on OpenMLS, configured like the others: every commit with a path, the
//! ratchet tree in the Welcome, PublicMessage handshakes, no padding, 3 past epochs kept,
//! and its in-memory storage (which OpenMLS writes on every operation). Signing goes
//! through the provider's own crypto, so that `fastest` signs with libcrux too.
//!
//! Suites: 1, and the post-quantum suites of draft-ietf-mls-pq-ciphersuites §3 that OpenMLS
//! 0.9.2 carries (feature `draft-ietf-mls-pq-ciphersuites`), under OpenMLS's value of the
//! suite asked for (`conclave_crypto::CipherSuite::OPENMLS_09_PQ`: the same algorithms;
//! only OpenMLS's HPKE key derivation differs, see `conclave_core::codepoints`), on a
//! backend that lists it ([`supports`]).

use std::collections::HashMap;

use openmls::prelude::tls_codec::Deserialize as _;
use openmls::prelude::{
    BasicCredential, Ciphersuite, CredentialWithKey, KeyPackage, LeafNodeIndex, LeafNodeParameters,
    MIXED_PLAINTEXT_WIRE_FORMAT_POLICY, MlsGroup, MlsGroupCreateConfig, MlsGroupJoinConfig,
    MlsMessageBodyIn, MlsMessageIn, MlsMessageOut, ProcessedMessageContent, ProtocolVersion,
    StagedWelcome,
};
use openmls_rust_crypto::MemoryStorage;
use openmls_traits::OpenMlsProvider;
use openmls_traits::crypto::OpenMlsCrypto;
use openmls_traits::signatures::{Signer, SignerError};
use openmls_traits::types::SignatureScheme;

use crate::{
    BACKLOG, BenchError, EXPORT_LABEL, Impl, LARGE_BATCH, LARGE_MESSAGE, Op, Progress,
    ProviderMode, RunConfig, SMALL_BATCH, SMALL_MESSAGE, StackRun, backlog_applies, backlog_reps,
    is_heap_run, payload, plan, remove_target, run_op,
};

const STACK: Impl = Impl::OpenMls;
const MAX_PAST_EPOCHS: usize = 3;

fn fail<E: core::fmt::Debug>(step: &'static str) -> impl FnOnce(E) -> BenchError {
    move |e| BenchError::Stack {
        stack: STACK.name(),
        step,
        message: format!("{e:?}"),
    }
}

/// A provider family: how to make a provider (one per member: it holds the member's
/// storage) and a stand-alone crypto object for signing.
trait Backend {
    type Provider: OpenMlsProvider<StorageProvider = MemoryStorage>;
    fn provider() -> Result<Self::Provider, BenchError>;
    fn crypto() -> Result<<Self::Provider as OpenMlsProvider>::CryptoProvider, BenchError>;
}

struct RustCryptoBackend;

impl Backend for RustCryptoBackend {
    type Provider = openmls_rust_crypto::OpenMlsRustCrypto;
    fn provider() -> Result<Self::Provider, BenchError> {
        Ok(openmls_rust_crypto::OpenMlsRustCrypto::default())
    }
    fn crypto() -> Result<openmls_rust_crypto::RustCrypto, BenchError> {
        Ok(openmls_rust_crypto::RustCrypto::default())
    }
}

struct LibcruxBackend;

impl Backend for LibcruxBackend {
    type Provider = openmls_libcrux_crypto::Provider;
    fn provider() -> Result<Self::Provider, BenchError> {
        openmls_libcrux_crypto::Provider::new().map_err(fail("libcrux provider"))
    }
    fn crypto() -> Result<openmls_libcrux_crypto::CryptoProvider, BenchError> {
        openmls_libcrux_crypto::CryptoProvider::new().map_err(fail("libcrux provider"))
    }
}

/// OpenMLS's cipher suite for a run's suite: suite 1 and OpenMLS's own values as they are,
/// Conclave's value of a post-quantum suite as OpenMLS 0.9.2's value of the same suite.
fn openmls_suite(value: u16) -> Option<Ciphersuite> {
    let suite = conclave_crypto::CipherSuite(value);
    let openmls = if value == 1 || suite.openmls_09_pq_equivalent().is_some() {
        value
    } else {
        conclave_crypto::CipherSuite::OPENMLS_09_PQ
            .iter()
            .find(|(_, draft)| *draft == suite)
            .map(|(openmls, _)| openmls.0)?
    };
    Ciphersuite::try_from(openmls).ok()
}

/// Whether OpenMLS runs suite `value` in provider mode `mode`: OpenMLS has a value for it
/// and the backend lists it (`openmls_libcrux_crypto` 0.4 lists no draft suite). `Err`
/// says why not.
pub(crate) fn supports(mode: ProviderMode, value: u16) -> Result<Ciphersuite, String> {
    let suite = openmls_suite(value)
        .ok_or_else(|| format!("OpenMLS 0.9.2 has no value for suite {value:#06x}"))?;
    let listed = match mode {
        ProviderMode::RustCrypto => RustCryptoBackend::crypto().map(|c| c.supported_ciphersuites()),
        ProviderMode::Fastest => LibcruxBackend::crypto().map(|c| c.supported_ciphersuites()),
    }
    .map_err(|e| e.to_string())?;
    if listed.contains(&suite) {
        Ok(suite)
    } else {
        Err(format!(
            "{} does not list OpenMLS suite {:#06x}",
            mode.backend(STACK),
            u16::from(suite)
        ))
    }
}

/// A signature key pair that signs with the provider's crypto.
struct CryptoSigner<C> {
    crypto: C,
    scheme: SignatureScheme,
    private: Vec<u8>,
}

impl<C: OpenMlsCrypto> Signer for CryptoSigner<C> {
    fn sign(&self, payload: &[u8]) -> Result<Vec<u8>, SignerError> {
        self.crypto
            .sign(self.scheme, payload, &self.private)
            .map_err(SignerError::CryptoError)
    }

    fn signature_scheme(&self) -> SignatureScheme {
        self.scheme
    }
}

type SignerOf<B> = CryptoSigner<<<B as Backend>::Provider as OpenMlsProvider>::CryptoProvider>;

fn identity<B: Backend>(
    name: &str,
    suite: Ciphersuite,
) -> Result<(SignerOf<B>, CredentialWithKey), BenchError> {
    let crypto = B::crypto()?;
    let scheme = suite.signature_algorithm();
    let (private, public) = crypto
        .signature_key_gen(scheme)
        .map_err(fail("signature key"))?;
    let credential = CredentialWithKey {
        credential: BasicCredential::new(name.as_bytes().to_vec()).into(),
        signature_key: public.into(),
    };
    Ok((
        CryptoSigner {
            crypto,
            scheme,
            private,
        },
        credential,
    ))
}

/// A KeyPackage whose private keys go to `provider`'s storage, as bytes.
fn key_package<B: Backend>(
    provider: &B::Provider,
    name: &str,
    suite: Ciphersuite,
) -> Result<(SignerOf<B>, Vec<u8>), BenchError> {
    let (signer, credential) = identity::<B>(name, suite)?;
    let bundle = KeyPackage::builder()
        .build(suite, provider, &signer, credential)
        .map_err(fail("KeyPackage"))?;
    let bytes = MlsMessageOut::from(bundle.key_package().clone())
        .to_bytes()
        .map_err(fail("encode KeyPackage"))?;
    Ok((signer, bytes))
}

fn parse(bytes: &[u8], step: &'static str) -> Result<MlsMessageIn, BenchError> {
    MlsMessageIn::tls_deserialize_exact(bytes).map_err(fail(step))
}

fn join<B: Backend>(
    provider: &B::Provider,
    config: &MlsGroupJoinConfig,
    welcome: &[u8],
) -> Result<MlsGroup, BenchError> {
    let welcome = match parse(welcome, "parse Welcome")?.extract() {
        MlsMessageBodyIn::Welcome(w) => w,
        _ => return Err(fail("parse Welcome")("not a Welcome")),
    };
    StagedWelcome::new_from_welcome(provider, config, welcome, None)
        .map_err(fail("join"))?
        .into_group(provider)
        .map_err(fail("join"))
}

/// Parses and processes a commit; returns whether it removed the processor.
fn process_commit<B: Backend>(
    provider: &B::Provider,
    group: &mut MlsGroup,
    bytes: &[u8],
) -> Result<bool, BenchError> {
    let message = parse(bytes, "parse commit")?
        .try_into_protocol_message()
        .map_err(fail("parse commit"))?;
    let processed = group
        .process_message(provider, message)
        .map_err(fail("process commit"))?;
    match processed.into_content() {
        ProcessedMessageContent::StagedCommitMessage(staged) => {
            let removed = staged.self_removed();
            group
                .merge_staged_commit(provider, *staged)
                .map_err(fail("merge commit"))?;
            Ok(removed)
        }
        _ => Err(fail("process commit")("not a commit")),
    }
}

fn agree<B: Backend>(
    out: &mut StackRun,
    (pa, a): (&B::Provider, &MlsGroup),
    (pb, b): (&B::Provider, &MlsGroup),
    what: &str,
) -> Result<(), BenchError> {
    out.check(
        STACK,
        format!("{what}: epoch authenticator"),
        a.epoch_authenticator().as_slice().to_vec(),
        b.epoch_authenticator().as_slice().to_vec(),
    )?;
    let export = |p: &B::Provider, g: &MlsGroup| {
        g.export_secret(p.crypto(), EXPORT_LABEL, b"", 32)
            .map_err(fail("export secret"))
    };
    out.check(
        STACK,
        format!("{what}: exported secret"),
        export(pa, a)?,
        export(pb, b)?,
    )
}

fn snapshot(storage: &MemoryStorage) -> Result<HashMap<Vec<u8>, Vec<u8>>, BenchError> {
    Ok(storage
        .values
        .read()
        .map_err(|_| fail("storage")("poisoned lock"))?
        .clone())
}

pub(crate) fn run(cfg: &RunConfig, progress: &Progress) -> Result<StackRun, BenchError> {
    match cfg.provider {
        ProviderMode::RustCrypto => run_with::<RustCryptoBackend>(cfg, progress),
        ProviderMode::Fastest => run_with::<LibcruxBackend>(cfg, progress),
    }
}

fn run_with<B: Backend>(cfg: &RunConfig, progress: &Progress) -> Result<StackRun, BenchError> {
    let n = cfg.n;
    let (add_reps, join_reps, reps) = plan(cfg);
    let mut out = StackRun::default();
    let suite = supports(cfg.provider, cfg.suite).map_err(BenchError::Config)?;
    let create_config = MlsGroupCreateConfig::builder()
        .ciphersuite(suite)
        .use_ratchet_tree_extension(true)
        .wire_format_policy(MIXED_PLAINTEXT_WIRE_FORMAT_POLICY)
        .padding_size(0)
        .max_past_epochs(MAX_PAST_EPOCHS)
        .build();
    let join_config = MlsGroupJoinConfig::builder()
        .use_ratchet_tree_extension(true)
        .wire_format_policy(MIXED_PLAINTEXT_WIRE_FORMAT_POLICY)
        .padding_size(0)
        .max_past_epochs(MAX_PAST_EPOCHS)
        .build();

    // Setup: members 2..N keep their keys in one shared provider (they never join); member 1
    // ("bob") and the spares have their own.
    let (alice_signer, alice_credential) = identity::<B>("member-0", suite)?;
    let bob_provider = B::provider()?;
    let (bob_signer, bob_kp) = key_package::<B>(&bob_provider, "member-1", suite)?;
    let others = B::provider()?;
    let mut kp_bytes = Vec::with_capacity(n - 1);
    kp_bytes.push(bob_kp);
    for i in 2..n {
        kp_bytes.push(key_package::<B>(&others, &format!("member-{i}"), suite)?.1);
    }
    // One spare per remove repetition, the heap run's included.
    let spares = (0..=reps)
        .map(|r| {
            let provider = B::provider()?;
            let (signer, kp) = key_package::<B>(&provider, &format!("spare-{r}"), suite)?;
            Ok((provider, signer, kp))
        })
        .collect::<Result<Vec<_>, BenchError>>()?;
    progress.note(format!("{} KeyPackages generated", n + reps));

    // add_commit_create (a fresh provider per repetition, so that storage does not pile up).
    let mut added = None;
    for r in 0..=add_reps {
        let provider = B::provider()?;
        let mut alice = MlsGroup::new(
            &provider,
            &alice_signer,
            &create_config,
            alice_credential.clone(),
        )
        .map_err(fail("create group"))?;
        let welcome = run_op(
            &mut out,
            Op::AddCommitCreate,
            is_heap_run(r, add_reps),
            || {
                let key_packages = kp_bytes
                    .iter()
                    .map(|bytes| match parse(bytes, "parse KeyPackage")?.extract() {
                        MlsMessageBodyIn::KeyPackage(kp) => kp
                            .validate(provider.crypto(), ProtocolVersion::Mls10)
                            .map_err(fail("validate KeyPackage")),
                        _ => Err(fail("parse KeyPackage")("not a KeyPackage")),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let (commit, welcome, _) = alice
                    .add_members(&provider, &alice_signer, &key_packages)
                    .map_err(fail("add commit"))?;
                alice
                    .merge_pending_commit(&provider)
                    .map_err(fail("merge add"))?;
                let _commit = commit.to_bytes().map_err(fail("encode commit"))?;
                welcome.to_bytes().map_err(fail("encode Welcome"))
            },
        )?;
        progress.rep(&out, Op::AddCommitCreate, r, add_reps);
        added = Some((provider, alice, welcome));
    }
    let (alice_provider, mut alice, welcome) =
        added.ok_or_else(|| fail("add commit")("no repetition"))?;
    out.push(Op::WelcomeSize, welcome.len() as f64);

    // welcome_join. Joining consumes the KeyPackage's private keys: bob's storage is put
    // back (untimed) before each repetition.
    let saved = snapshot(bob_provider.storage())?;
    let mut joined = None;
    for r in 0..=join_reps {
        *bob_provider
            .storage()
            .values
            .write()
            .map_err(|_| fail("storage")("poisoned lock"))? = saved.clone();
        let group = run_op(&mut out, Op::WelcomeJoin, is_heap_run(r, join_reps), || {
            join::<B>(&bob_provider, &join_config, &welcome)
        })?;
        progress.rep(&out, Op::WelcomeJoin, r, join_reps);
        joined = Some(group);
    }
    let mut bob = joined.ok_or_else(|| fail("join")("no repetition"))?;
    let mut bob_provider = bob_provider;
    let mut bob_signer = bob_signer;
    agree::<B>(
        &mut out,
        (&alice_provider, &alice),
        (&bob_provider, &bob),
        "join",
    )?;

    // update_commit_create / _process.
    for r in 0..=reps {
        let heap_run = is_heap_run(r, reps);
        let commit = run_op(&mut out, Op::UpdateCommitCreate, heap_run, || {
            let bundle = bob
                .self_update(&bob_provider, &bob_signer, LeafNodeParameters::default())
                .map_err(fail("update commit"))?;
            bob.merge_pending_commit(&bob_provider)
                .map_err(fail("merge update"))?;
            bundle.commit().to_bytes().map_err(fail("encode commit"))
        })?;
        run_op(&mut out, Op::UpdateCommitProcess, heap_run, || {
            process_commit::<B>(&alice_provider, &mut alice, &commit)
        })?;
        if !heap_run {
            out.push(Op::CommitSize, commit.len() as f64);
        }
        agree::<B>(
            &mut out,
            (&alice_provider, &alice),
            (&bob_provider, &bob),
            &format!("update {r}"),
        )?;
    }
    progress.note("update commits done");
    // The member's state: everything in its storage (keys and values).
    let state_size: usize = snapshot(bob_provider.storage())?
        .iter()
        .map(|(k, v)| k.len() + v.len())
        .sum();
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
                        .create_message(&alice_provider, &alice_signer, sent)
                        .map_err(fail("encrypt"))?
                        .to_bytes()
                        .map_err(fail("encode message"))?;
                    let message = parse(&bytes, "parse message")?
                        .try_into_protocol_message()
                        .map_err(fail("parse message"))?;
                    let processed = bob
                        .process_message(&bob_provider, message)
                        .map_err(fail("decrypt"))?;
                    let received = match processed.into_content() {
                        ProcessedMessageContent::ApplicationMessage(m) => Some(m.into_bytes()),
                        _ => None,
                    };
                    match received {
                        Some(data) if data == *sent => {}
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
                        .create_message(&alice_provider, &alice_signer, data)
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
                        let message = parse(bytes, "parse message")?
                            .try_into_protocol_message()
                            .map_err(fail("parse message"))?;
                        let processed = bob
                            .process_message(&bob_provider, message)
                            .map_err(fail("decrypt"))?;
                        let received = match processed.into_content() {
                            ProcessedMessageContent::ApplicationMessage(m) => Some(m.into_bytes()),
                            _ => None,
                        };
                        if received.as_ref() != Some(data) {
                            return Err(BenchError::Disagreement {
                                stack: STACK.name(),
                                what: "backlog message did not round-trip".into(),
                            });
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
    for (r, (spare_provider, spare_signer, spare_kp)) in spares.into_iter().enumerate() {
        let heap_run = is_heap_run(r, reps);
        let commit = run_op(&mut out, Op::RemoveCommitCreate, heap_run, || {
            let (commit, _, _) = alice
                .remove_members(
                    &alice_provider,
                    &alice_signer,
                    &[LeafNodeIndex::new(target)],
                )
                .map_err(fail("remove commit"))?;
            alice
                .merge_pending_commit(&alice_provider)
                .map_err(fail("merge remove"))?;
            commit.to_bytes().map_err(fail("encode commit"))
        })?;
        let self_removed = run_op(&mut out, Op::RemoveCommitProcess, heap_run, || {
            process_commit::<B>(&bob_provider, &mut bob, &commit)
        })?;
        if self_removed != (bob.own_leaf_index().u32() == target) {
            return Err(BenchError::Disagreement {
                stack: STACK.name(),
                what: format!("remove {r}: removal of the processor misreported"),
            });
        }
        if !self_removed {
            agree::<B>(
                &mut out,
                (&alice_provider, &alice),
                (&bob_provider, &bob),
                &format!("remove {r}"),
            )?;
        }
        let key_package = match parse(&spare_kp, "parse KeyPackage")?.extract() {
            MlsMessageBodyIn::KeyPackage(kp) => kp
                .validate(alice_provider.crypto(), ProtocolVersion::Mls10)
                .map_err(fail("validate KeyPackage"))?,
            _ => return Err(fail("parse KeyPackage")("not a KeyPackage")),
        };
        let (commit, welcome, _) = alice
            .add_members(&alice_provider, &alice_signer, &[key_package])
            .map_err(fail("refill commit"))?;
        alice
            .merge_pending_commit(&alice_provider)
            .map_err(fail("merge refill"))?;
        if self_removed {
            let welcome = welcome.to_bytes().map_err(fail("encode Welcome"))?;
            bob = join::<B>(&spare_provider, &join_config, &welcome)?;
            bob_provider = spare_provider;
            bob_signer = spare_signer;
        } else {
            let commit = commit.to_bytes().map_err(fail("encode commit"))?;
            process_commit::<B>(&bob_provider, &mut bob, &commit)?;
        }
        agree::<B>(
            &mut out,
            (&alice_provider, &alice),
            (&bob_provider, &bob),
            &format!("refill {r}"),
        )?;
    }
    let _ = bob_signer;
    progress.note("remove commits done");
    Ok(out)
}
