//! Partial members (draft-ietf-mls-partial-02) against full members, Conclave only: mls-rs
//! and OpenMLS have no partial clients, so the comparison is with Conclave's own full member
//! in the same run (same group, same commits, same joiner).
//!
//! The group of N is built (untimed) by member 0 adding N − 2 KeyPackages; then member 0
//! adds the joiner J in a commit of its own whose Welcome carries no ratchet tree. J joins
//! twice from that one Welcome and KeyPackage:
//!
//! - **full**: it downloads the Welcome and the ratchet tree (as a Delivery Service holding
//!   the tree serves it, draft-ietf-mls-ratchet-tree-options-00) and runs RFC 9420 §12.4.3.1
//!   with the full tree validation;
//! - **partial**: it downloads the AnnotatedWelcome (the Welcome plus the sender's and its
//!   own membership proofs, §8) and joins with [`PartialMember::join`].
//!
//! Member 0 then commits updates (with an UpdatePath) and removals of other members; the full
//! J processes the commit (RFC 9420 §12.4.2), the partial J the AnnotatedCommit made for it
//! (§10). The annotator (a party holding the tree: the committer, or a Delivery Service
//! following the public group) is timed on its own: one AnnotatedWelcome, one commit for its
//! first partial receiver ([`CommitAnnotator::new`] + [`CommitAnnotator::annotate_for`]) and
//! for each further receiver (`annotate_for` alone). After every commit member 0 and both Js
//! must agree on the epoch authenticator and an exported secret (RFC 9420 §8.5, §8.7).
//!
//! Member 0 then sends split commits (draft-mularczyk-mls-splitcommit-00; the group enables
//! them with `required_wire_formats`): updates and removals again, the full J processing the
//! SCommit and the partial J its AnnotatedSplitCommit (Conclave's extension of §10 after the
//! draft's Appendix "Known Issues": the PerMemberCommit with the one ciphertext J decrypts).
//! The goal of the split rows compares the partial J with the full J processing the
//! *regular* commit at the same N.
//!
//! Everything crosses as bytes: parsing is inside the timed regions.

use std::sync::Arc;
use std::time::Instant;

use conclave_codec::{Decode, Encode};
use conclave_core::codepoints::{PER_MEMBER_COMMIT_WIRE_FORMAT, SCOMMIT_WIRE_FORMAT};
use conclave_core::credential::BasicIdentityProvider;
use conclave_core::group::{
    CommitOptions, Group, GroupEnv, JoinOptions, KeyPackageBundle, MemberParams, NewGroup,
    ProcessedMessage, SigningIdentity,
};
use conclave_core::messages::{
    Add, Credential, LeafIndex, MlsMessage, MlsMessageBody, Proposal, RatchetTreeNodes, Remove,
    Welcome,
};
use conclave_core::partial::member::{PartialCommitOutcome, PartialMember, PartialPsks};
use conclave_core::partial::{
    AnnotatedCommit, AnnotatedSplitCommit, AnnotatedWelcome, CommitAnnotator, CommitFacts,
    annotate_welcome,
};
use conclave_core::secret_tree::SecretTreeConfig;
use conclave_core::split::SplitMessage;
use conclave_crypto::{CipherSuite, CryptoProvider};

use crate::{BenchError, EXPORT_LABEL, ProviderMode, Record, RepKind, RunConfig, heap, median};

/// The operating system's random source.
use conclave_crypto_awslc::SystemRandom as OsRng;

const STAGE: &str = "conclave (partial)";

fn fail<E: core::fmt::Debug>(step: &'static str) -> impl FnOnce(E) -> BenchError {
    move |e| BenchError::Stack {
        stack: STAGE,
        step,
        message: format!("{e:?}"),
    }
}

/// Who a measurement is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The full member J (RFC 9420).
    Full,
    /// The partial member J (draft-ietf-mls-partial-02).
    Partial,
    /// The annotator (a holder of the tree: committer or Delivery Service).
    Annotator,
}

impl Role {
    /// The `impl` of its JSON records.
    pub fn name(self) -> &'static str {
        match self {
            Role::Full => "conclave",
            Role::Partial => "conclave-partial",
            Role::Annotator => "conclave-annotator",
        }
    }
}

/// The measured quantities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Bytes downloaded to join: the Welcome and the ratchet tree (full) or the
    /// AnnotatedWelcome (partial).
    JoinDownload,
    /// Bytes stored after joining: `Group::to_bytes` or `PartialMember::to_bytes`.
    JoinStored,
    /// Time to join from those bytes.
    Join,
    /// Bytes downloaded to follow one update commit: the commit, or its AnnotatedCommit.
    UpdateDownload,
    /// Time to process one update commit (with an UpdatePath) by another member.
    UpdateProcess,
    /// Of which parsing the bytes (timed apart, once more): the commit is O(N) bytes.
    UpdateParse,
    /// Partial member, timed apart on the same input: §10 steps 1–2 and the framing
    /// (`verify_annotated_commit`: membership tag, signature, proofs).
    UpdateStageVerify,
    /// Partial member: the path secret (`commit_secret`: one HPKE decryption, the chain).
    UpdateStagePath,
    /// Partial member: the key schedule, transcript hashes and confirmation tag
    /// (`finish_commit`).
    UpdateStageSchedule,
    /// Bytes downloaded to follow one remove commit.
    RemoveDownload,
    /// Time to process one commit removing another member.
    RemoveProcess,
    /// Bytes stored after the last commit.
    FinalStored,
    /// Annotator: the AnnotatedWelcome for one joiner (two proofs, encoded).
    AnnotateWelcome,
    /// Annotator: one commit for its first partial receiver (`CommitAnnotator::new` +
    /// `annotate_for` + encoding).
    AnnotateCommitFirst,
    /// Annotator: the same commit for one more receiver (`annotate_for` + encoding).
    AnnotateCommitNext,
    /// Bytes downloaded to follow one split update commit (draft-mularczyk-mls-splitcommit-00):
    /// the SCommit (full) or the AnnotatedSplitCommit (partial; Conclave's extension).
    SplitUpdateDownload,
    /// Time to process one split update commit: the SCommit (full) or the
    /// AnnotatedSplitCommit (partial). The goal compares the partial member's time with the
    /// full member's for the *regular* commit ([`Metric::UpdateProcess`]).
    SplitUpdateProcess,
    /// As [`Metric::SplitUpdateDownload`], for a split commit removing another member.
    SplitRemoveDownload,
    /// As [`Metric::SplitUpdateProcess`], for a split commit removing another member (goal
    /// against [`Metric::RemoveProcess`]).
    SplitRemoveProcess,
    /// Annotator: one split commit for its first partial receiver
    /// (`CommitAnnotator::for_split` + `annotate_split_for` + encoding).
    AnnotateSplitCommitFirst,
    /// Annotator: the same split commit for one more receiver (`annotate_split_for` +
    /// encoding: the PerMemberCommit and the proofs).
    AnnotateSplitCommitNext,
}

impl Metric {
    /// In table order.
    pub const ALL: [Metric; 21] = [
        Metric::JoinDownload,
        Metric::JoinStored,
        Metric::Join,
        Metric::UpdateDownload,
        Metric::UpdateProcess,
        Metric::UpdateParse,
        Metric::UpdateStageVerify,
        Metric::UpdateStagePath,
        Metric::UpdateStageSchedule,
        Metric::RemoveDownload,
        Metric::RemoveProcess,
        Metric::FinalStored,
        Metric::AnnotateWelcome,
        Metric::AnnotateCommitFirst,
        Metric::AnnotateCommitNext,
        Metric::SplitUpdateDownload,
        Metric::SplitUpdateProcess,
        Metric::SplitRemoveDownload,
        Metric::SplitRemoveProcess,
        Metric::AnnotateSplitCommitFirst,
        Metric::AnnotateSplitCommitNext,
    ];

    /// The `op` of its JSON records.
    pub fn name(self) -> &'static str {
        match self {
            Metric::JoinDownload => "partial_join_download",
            Metric::JoinStored => "partial_join_stored",
            Metric::Join => "partial_join",
            Metric::UpdateDownload => "partial_update_commit_download",
            Metric::UpdateProcess => "partial_update_commit_process",
            Metric::UpdateParse => "partial_update_commit_parse_only",
            Metric::UpdateStageVerify => "partial_update_stage_verify",
            Metric::UpdateStagePath => "partial_update_stage_path_secret",
            Metric::UpdateStageSchedule => "partial_update_stage_key_schedule",
            Metric::RemoveDownload => "partial_remove_commit_download",
            Metric::RemoveProcess => "partial_remove_commit_process",
            Metric::FinalStored => "partial_state_after_commits",
            Metric::AnnotateWelcome => "partial_annotate_welcome",
            Metric::AnnotateCommitFirst => "partial_annotate_commit_first_receiver",
            Metric::AnnotateCommitNext => "partial_annotate_commit_next_receiver",
            Metric::SplitUpdateDownload => "partial_split_update_commit_download",
            Metric::SplitUpdateProcess => "partial_split_update_commit_process",
            Metric::SplitRemoveDownload => "partial_split_remove_commit_download",
            Metric::SplitRemoveProcess => "partial_split_remove_commit_process",
            Metric::AnnotateSplitCommitFirst => "partial_annotate_split_commit_first_receiver",
            Metric::AnnotateSplitCommitNext => "partial_annotate_split_commit_next_receiver",
        }
    }

    /// `bytes` or `ms`.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::JoinDownload
            | Metric::JoinStored
            | Metric::UpdateDownload
            | Metric::RemoveDownload
            | Metric::SplitUpdateDownload
            | Metric::SplitRemoveDownload
            | Metric::FinalStored => "bytes",
            _ => "ms",
        }
    }

    /// The goal for full/partial at N = 10 000, if any.
    pub fn goal(self) -> Option<f64> {
        match self {
            Metric::JoinDownload | Metric::JoinStored => Some(100.0),
            Metric::UpdateProcess
            | Metric::RemoveProcess
            | Metric::SplitUpdateProcess
            | Metric::SplitRemoveProcess => Some(10.0),
            _ => None,
        }
    }

    /// The full member's metric the goal compares the partial member with: for the split
    /// rows the full member processing the *regular* commit at the same N (the issue's
    /// goal is about commit processing, whatever form the partial member receives).
    pub fn goal_baseline(self) -> Metric {
        match self {
            Metric::SplitUpdateProcess => Metric::UpdateProcess,
            Metric::SplitRemoveProcess => Metric::RemoveProcess,
            other => other,
        }
    }
}

/// The samples of one run at one N.
#[derive(Debug, Clone, Default)]
pub struct PartialRun {
    /// Samples per (role, metric).
    pub samples: Vec<((Role, Metric), Vec<f64>)>,
    /// Peak heap of one untimed run, per (role, metric).
    pub peaks: Vec<((Role, Metric), u64)>,
    /// Agreement checks passed.
    pub checks: usize,
}

impl PartialRun {
    fn push(&mut self, role: Role, metric: Metric, value: f64) {
        let key = (role, metric);
        match self.samples.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(value),
            None => self.samples.push((key, vec![value])),
        }
    }

    /// The median of (role, metric).
    pub fn median(&self, role: Role, metric: Metric) -> Option<f64> {
        self.samples
            .iter()
            .find(|(k, _)| *k == (role, metric))
            .and_then(|(_, v)| median(v))
    }

    /// The peak heap of (role, metric).
    pub fn peak(&self, role: Role, metric: Metric) -> Option<u64> {
        self.peaks
            .iter()
            .find(|(k, _)| *k == (role, metric))
            .map(|&(_, p)| p)
    }

    /// Times `f` (a timed repetition) or measures its peak heap (`heap_run`).
    fn time<T>(
        &mut self,
        role: Role,
        metric: Metric,
        heap_run: bool,
        f: impl FnOnce() -> Result<T, BenchError>,
    ) -> Result<T, BenchError> {
        if heap_run {
            let (value, peak) = heap::measure_peak(f);
            let value = value?;
            if let Some(peak) = peak {
                self.peaks.push(((role, metric), peak));
            }
            Ok(value)
        } else {
            let start = Instant::now();
            let value = f()?;
            self.push(role, metric, start.elapsed().as_secs_f64() * 1e3);
            Ok(value)
        }
    }
}

/// The options of one benchmarked commit by member 0: always with an UpdatePath, removing
/// the next of `removable` when `remove` is set (`what` names the step in errors).
fn commit_options(
    remove: bool,
    removable: &mut impl Iterator<Item = LeafIndex>,
    what: &'static str,
) -> Result<CommitOptions, BenchError> {
    let proposals = if remove {
        let removed = removable
            .next()
            .ok_or_else(|| fail(what)("no member left to remove"))?;
        vec![Proposal::Remove(Remove { removed })]
    } else {
        Vec::new()
    };
    Ok(CommitOptions {
        proposals,
        force_path: true,
        ..CommitOptions::default()
    })
}

fn encode<T: Encode + ?Sized>(value: &T, step: &'static str) -> Result<Vec<u8>, BenchError> {
    value.to_bytes().map_err(fail(step))
}

fn welcome_of(message: &MlsMessage) -> Result<Welcome, BenchError> {
    match &message.body {
        MlsMessageBody::Welcome(w) => Ok(w.clone()),
        _ => Err(fail("Welcome")("not a Welcome")),
    }
}

/// The checks that the three views of the group agree.
fn agree(
    run: &mut PartialRun,
    committer: &Group,
    full: &Group,
    partial: &PartialMember,
    what: &str,
) -> Result<(), BenchError> {
    let disagree = |part: &str| BenchError::Disagreement {
        stack: STAGE,
        what: format!("{what}: {part}"),
    };
    let auth = committer.epoch_authenticator();
    if auth.is_empty() || full.epoch_authenticator() != auth {
        return Err(disagree("full member's epoch authenticator"));
    }
    if partial.epoch_authenticator() != auth {
        return Err(disagree("partial member's epoch authenticator"));
    }
    let ours = committer
        .export_secret(EXPORT_LABEL, b"", 32)
        .map_err(fail("export"))?;
    let theirs = full
        .export_secret(EXPORT_LABEL, b"", 32)
        .map_err(fail("export"))?;
    let partials = partial
        .export_secret(EXPORT_LABEL, b"", 32)
        .map_err(fail("export"))?;
    if ours.as_bytes() != theirs.as_bytes() || ours.as_bytes() != partials.as_bytes() {
        return Err(disagree("exported secret"));
    }
    run.checks += 3;
    Ok(())
}

/// Runs the partial-member workloads at `cfg.n` (≥ 3: member 0, the joiner and one more).
pub fn run(cfg: &RunConfig) -> Result<PartialRun, BenchError> {
    if cfg.n < 3 {
        return Err(BenchError::Config(format!(
            "the partial benchmark needs N ≥ 3 (asked for {})",
            cfg.n
        )));
    }
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
    let cs = cs.as_ref();
    let mut rng = OsRng;
    let now = conclave_api::clock::now_seconds();
    let n = cfg.n;
    let join_reps = cfg.reps.reps(n, RepKind::Join);
    let reps = cfg.reps.reps(n, RepKind::Other);
    let note = |m: String| {
        if cfg.progress {
            eprintln!("[{} N={n} partial] {m}", cfg.provider.name());
        }
    };
    let mut run = PartialRun::default();

    let member = |name: String, rng: &mut OsRng| -> Result<_, BenchError> {
        let signer = SigningIdentity::generate(
            cs,
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
        Ok((signer, bundle))
    };

    // Setup (untimed): member 0 and N − 2 others.
    let (creator, _) = member("member-0".into(), &mut rng)?;
    let mut committer = Group::create(
        MemberParams::new(env.clone(), creator),
        // Split commits enabled (draft-mularczyk-mls-splitcommit-00, Conclave's opt-in by
        // `required_wire_formats`) for the split phase; the regular commits are unchanged.
        NewGroup::new(suite, b"conclave-bench-partial".to_vec())
            .with_required_wire_formats(vec![SCOMMIT_WIRE_FORMAT, PER_MEMBER_COMMIT_WIRE_FORMAT]),
        now,
        &mut rng,
    )
    .map_err(fail("create group"))?;
    let proposals = (1..n - 1)
        .map(|i| {
            member(format!("member-{i}"), &mut rng).map(|(_, b)| {
                Proposal::Add(Add {
                    key_package: b.key_package,
                })
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    committer
        .commit(
            &CommitOptions {
                proposals,
                ..CommitOptions::default()
            },
            now,
            &mut rng,
        )
        .map_err(fail("setup add"))?;
    committer
        .merge_pending_commit()
        .map_err(fail("setup merge"))?;
    note(format!("group of {} built", n - 1));

    // The joiner J, added alone; the Welcome carries no tree.
    let (joiner_id, joiner_kp) = member("joiner".into(), &mut rng)?;
    let output = committer
        .commit(
            &CommitOptions {
                proposals: vec![Proposal::Add(Add {
                    key_package: joiner_kp.key_package.clone(),
                })],
                ratchet_tree_in_group_info: false,
                ..CommitOptions::default()
            },
            now,
            &mut rng,
        )
        .map_err(fail("add joiner"))?;
    let summary = committer
        .merge_pending_commit()
        .map_err(fail("merge joiner add"))?;
    let joiner_leaf = *summary
        .added
        .first()
        .ok_or_else(|| fail("add joiner")("no leaf added"))?;
    let welcome_message = output
        .welcome
        .ok_or_else(|| fail("add joiner")("no Welcome"))?;
    let welcome_bytes = encode(&welcome_message, "encode Welcome")?;
    let welcome = welcome_of(&welcome_message)?;
    let tree_bytes = encode(&committer.tree().to_nodes(), "encode tree")?;

    // Annotator: the AnnotatedWelcome.
    let mut annotated_welcome = Vec::new();
    for r in 0..=join_reps {
        annotated_welcome = run.time(
            Role::Annotator,
            Metric::AnnotateWelcome,
            r == join_reps,
            || {
                let annotated = annotate_welcome(
                    cs,
                    committer.tree(),
                    welcome.clone(),
                    committer.own_leaf(),
                    joiner_leaf,
                )
                .map_err(fail("annotate Welcome"))?;
                encode(&annotated, "encode AnnotatedWelcome")
            },
        )?;
    }
    run.push(
        Role::Full,
        Metric::JoinDownload,
        (welcome_bytes.len() + tree_bytes.len()) as f64,
    );
    run.push(
        Role::Partial,
        Metric::JoinDownload,
        annotated_welcome.len() as f64,
    );

    // The full join and the partial join of J.
    let mut full = None;
    let mut partial = None;
    for r in 0..=join_reps {
        let heap_run = r == join_reps;
        full = Some(run.time(Role::Full, Metric::Join, heap_run, || {
            let message = MlsMessage::from_bytes(&welcome_bytes).map_err(fail("parse Welcome"))?;
            let welcome = welcome_of(&message)?;
            let nodes = RatchetTreeNodes::from_bytes(&tree_bytes).map_err(fail("parse tree"))?;
            Group::join(
                MemberParams::new(env.clone(), joiner_id.clone()),
                &welcome,
                &joiner_kp,
                &JoinOptions {
                    ratchet_tree: Some(nodes),
                    ..JoinOptions::default()
                },
                now,
            )
            .map_err(fail("full join"))
        })?);
        partial = Some(run.time(Role::Partial, Metric::Join, heap_run, || {
            let annotated =
                AnnotatedWelcome::from_bytes(&annotated_welcome).map_err(fail("parse AW"))?;
            PartialMember::join(
                provider.as_ref(),
                &annotated,
                &joiner_kp,
                joiner_id.secret_key.clone(),
                &PartialPsks::NONE,
                SecretTreeConfig::default(),
            )
            .map_err(fail("partial join"))
        })?);
    }
    let mut full = full.ok_or_else(|| fail("join")("no repetition"))?;
    let mut partial = partial.ok_or_else(|| fail("join")("no repetition"))?;
    run.push(
        Role::Full,
        Metric::JoinStored,
        full.to_bytes().map_err(fail("full state"))?.len() as f64,
    );
    run.push(
        Role::Partial,
        Metric::JoinStored,
        partial.to_bytes().map_err(fail("partial state"))?.len() as f64,
    );
    agree(&mut run, &committer, &full, &partial, "join")?;
    note(format!("joins done ({join_reps} + 1 heap run)"));

    // Commits by member 0: updates, then removals of members other than J.
    let committer_leaf = committer.own_leaf();
    let mut removable = (1..n - 1)
        .filter_map(|i| u32::try_from(i).ok())
        .map(LeafIndex)
        .filter(|&l| l != joiner_leaf && l != committer_leaf)
        .rev();
    for (kind, download, process) in [
        ("update", Metric::UpdateDownload, Metric::UpdateProcess),
        ("remove", Metric::RemoveDownload, Metric::RemoveProcess),
    ] {
        for r in 0..=reps {
            let heap_run = r == reps;
            let options = commit_options(kind == "remove", &mut removable, "remove")?;
            let before = committer.tree().clone();
            let output = committer
                .commit(&options, now, &mut rng)
                .map_err(fail("commit"))?;
            let summary = committer.merge_pending_commit().map_err(fail("merge"))?;
            let commit_bytes = encode(&output.commit, "encode commit")?;
            let facts = CommitFacts {
                commit: &output.commit,
                committer: committer.own_leaf(),
                new_member_commit: false,
                has_path: true,
                new_leaves: &summary.added,
            };
            let annotator = run.time(
                Role::Annotator,
                Metric::AnnotateCommitFirst,
                heap_run,
                || {
                    let annotator = CommitAnnotator::new(cs, &before, committer.tree(), facts)
                        .map_err(fail("annotator"))?;
                    let first = annotator
                        .annotate_for(cs, joiner_leaf)
                        .map_err(fail("annotate"))?;
                    encode(&first, "encode AnnotatedCommit")?;
                    Ok(annotator)
                },
            )?;
            let annotated = run.time(
                Role::Annotator,
                Metric::AnnotateCommitNext,
                heap_run,
                || {
                    let next = annotator
                        .annotate_for(cs, joiner_leaf)
                        .map_err(fail("annotate"))?;
                    encode(&next, "encode AnnotatedCommit")
                },
            )?;
            drop(annotator);
            if !heap_run {
                run.push(Role::Full, download, commit_bytes.len() as f64);
                run.push(Role::Partial, download, annotated.len() as f64);
                if kind == "update" {
                    run.time(Role::Full, Metric::UpdateParse, false, || {
                        MlsMessage::from_bytes(&commit_bytes).map_err(fail("parse"))
                    })?;
                    let parsed = run.time(Role::Partial, Metric::UpdateParse, false, || {
                        AnnotatedCommit::from_bytes(&annotated).map_err(fail("parse AC"))
                    })?;
                    let verified =
                        run.time(Role::Partial, Metric::UpdateStageVerify, false, || {
                            partial
                                .verify_annotated_commit(&parsed)
                                .map_err(fail("verify"))
                        })?;
                    let (secret, keys) =
                        run.time(Role::Partial, Metric::UpdateStagePath, false, || {
                            partial
                                .commit_secret(&verified, &parsed)
                                .map_err(fail("path"))
                        })?;
                    run.time(Role::Partial, Metric::UpdateStageSchedule, false, || {
                        partial
                            .finish_commit(verified, &secret, keys, &PartialPsks::NONE)
                            .map_err(fail("schedule"))
                    })?;
                }
            }
            run.time(Role::Full, process, heap_run, || {
                let message = MlsMessage::from_bytes(&commit_bytes).map_err(fail("parse"))?;
                match full
                    .process_message(&message, now)
                    .map_err(fail("process"))?
                {
                    ProcessedMessage::Commit(_) => Ok(()),
                    other => Err(fail("process")(other)),
                }
            })?;
            run.time(Role::Partial, process, heap_run, || {
                let message = AnnotatedCommit::from_bytes(&annotated).map_err(fail("parse AC"))?;
                match partial
                    .process_annotated_commit(&message, &PartialPsks::NONE)
                    .map_err(fail("process annotated"))?
                {
                    PartialCommitOutcome::Advanced { .. } => Ok(()),
                    other => Err(fail("process annotated")(other)),
                }
            })?;
            agree(
                &mut run,
                &committer,
                &full,
                &partial,
                &format!("{kind} {r}"),
            )?;
        }
        note(format!("{kind} commits done ({reps} + 1 heap run)"));
    }

    // Split commits by member 0 (draft-mularczyk-mls-splitcommit-00): the full J processes
    // the SCommit, the partial J its AnnotatedSplitCommit (Conclave's extension of
    // draft-ietf-mls-partial-02 §10: the PerMemberCommit with one ciphertext).
    for (kind, download, process) in [
        (
            "split update",
            Metric::SplitUpdateDownload,
            Metric::SplitUpdateProcess,
        ),
        (
            "split remove",
            Metric::SplitRemoveDownload,
            Metric::SplitRemoveProcess,
        ),
    ] {
        for r in 0..=reps {
            let heap_run = r == reps;
            let options = commit_options(kind == "split remove", &mut removable, "split remove")?;
            let before = committer.tree().clone();
            let output = committer
                .split_commit(&options, now, &mut rng)
                .map_err(fail("split commit"))?;
            let summary = committer.merge_pending_commit().map_err(fail("merge"))?;
            let scommit_bytes = encode(
                &SplitMessage::SCommit(output.scommit.clone()),
                "encode SCommit",
            )?;
            let annotator = run.time(
                Role::Annotator,
                Metric::AnnotateSplitCommitFirst,
                heap_run,
                || {
                    let annotator = CommitAnnotator::for_split(
                        cs,
                        &before,
                        committer.tree(),
                        &output.scommit,
                        &summary.added,
                    )
                    .map_err(fail("split annotator"))?;
                    let first = annotator
                        .annotate_split_for(cs, joiner_leaf)
                        .map_err(fail("annotate split"))?;
                    encode(&first, "encode AnnotatedSplitCommit")?;
                    Ok(annotator)
                },
            )?;
            let annotated = run.time(
                Role::Annotator,
                Metric::AnnotateSplitCommitNext,
                heap_run,
                || {
                    let next = annotator
                        .annotate_split_for(cs, joiner_leaf)
                        .map_err(fail("annotate split"))?;
                    encode(&next, "encode AnnotatedSplitCommit")
                },
            )?;
            drop(annotator);
            if !heap_run {
                run.push(Role::Full, download, scommit_bytes.len() as f64);
                run.push(Role::Partial, download, annotated.len() as f64);
            }
            run.time(Role::Full, process, heap_run, || {
                let SplitMessage::SCommit(scommit) =
                    SplitMessage::from_bytes(&scommit_bytes).map_err(fail("parse SCommit"))?
                else {
                    return Err(fail("parse SCommit")("not an SCommit"));
                };
                full.process_scommit(&scommit, now)
                    .map_err(fail("process SCommit"))
                    .map(drop)
            })?;
            run.time(Role::Partial, process, heap_run, || {
                let message =
                    AnnotatedSplitCommit::from_bytes(&annotated).map_err(fail("parse ASC"))?;
                match partial
                    .process_annotated_split_commit(&message, &PartialPsks::NONE)
                    .map_err(fail("process annotated split"))?
                {
                    PartialCommitOutcome::Advanced { .. } => Ok(()),
                    other => Err(fail("process annotated split")(other)),
                }
            })?;
            agree(
                &mut run,
                &committer,
                &full,
                &partial,
                &format!("{kind} {r}"),
            )?;
        }
        note(format!("{kind} commits done ({reps} + 1 heap run)"));
    }
    run.push(
        Role::Full,
        Metric::FinalStored,
        full.to_bytes().map_err(fail("full state"))?.len() as f64,
    );
    run.push(
        Role::Partial,
        Metric::FinalStored,
        partial.to_bytes().map_err(fail("partial state"))?.len() as f64,
    );
    Ok(run)
}

/// The JSON records of a run (`impl`: `conclave` for the full member, `conclave-partial`,
/// `conclave-annotator`).
pub fn records(cfg: &RunConfig, run: &PartialRun) -> Vec<Record> {
    let mut out = Vec::new();
    for metric in Metric::ALL {
        for role in [Role::Full, Role::Partial, Role::Annotator] {
            if let Some(m) = run.median(role, metric) {
                out.push(Record {
                    implementation: role.name().to_owned(),
                    op: metric.name().to_owned(),
                    n: cfg.n,
                    median: m,
                    unit: metric.unit().to_owned(),
                    peak_heap_bytes: run.peak(role, metric),
                    provider: cfg.provider.name().to_owned(),
                    cipher_suite: cfg.suite,
                    // The partial rows have no floor model (`crate::floors` prices the
                    // full member's ops).
                    floor: None,
                    floor_ratio: None,
                });
            }
        }
    }
    out
}

fn cell(value: Option<f64>, unit: &str) -> String {
    match value {
        None => "-".to_owned(),
        Some(v) if unit == "bytes" => format!("{v:.0}"),
        Some(v) if v >= 100.0 => format!("{v:.1}"),
        Some(v) if v >= 1.0 => format!("{v:.2}"),
        Some(v) => format!("{v:.3}"),
    }
}

fn heap_cell(bytes: Option<u64>) -> String {
    match bytes {
        None => "-".to_owned(),
        Some(b) if b >= 1 << 20 => format!("{:.2} MiB", b as f64 / f64::from(1u32 << 20)),
        Some(b) => format!("{:.1} KiB", b as f64 / 1024.0),
    }
}

/// The Markdown table of the partial-member records: full and partial member side by side,
/// `partial/full` and its inverse, the goal where it sets one (checked at
/// N ≥ 10 000), and the annotator's rows.
pub fn render_table(records: &[Record]) -> String {
    let find = |role: Role, metric: Metric, n: usize| {
        records
            .iter()
            .find(|r| r.implementation == role.name() && r.op == metric.name() && r.n == n)
    };
    let mut sizes: Vec<usize> = records.iter().map(|r| r.n).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let mut out = String::from(
        "| N | metric | unit | full member | partial member | partial/full | full/partial | goal (N = 10 000) | heap full | heap partial |\n\
         |---:|---|---|---:|---:|---:|---:|---|---:|---:|\n",
    );
    for &n in &sizes {
        for metric in Metric::ALL {
            let unit = metric.unit();
            let full = find(Role::Full, metric, n);
            let partial = find(Role::Partial, metric, n);
            if full.is_none() && partial.is_none() {
                continue;
            }
            let (f, p) = (full.map(|r| r.median), partial.map(|r| r.median));
            let (ratio, inverse) = match (f, p) {
                (Some(f), Some(p)) if f > 0.0 && p > 0.0 => {
                    (format!("{:.4}", p / f), format!("{:.1}×", f / p))
                }
                _ => ("-".to_owned(), "-".to_owned()),
            };
            let baseline = find(Role::Full, metric.goal_baseline(), n).map(|r| r.median);
            let goal = match (metric.goal(), baseline, p) {
                (Some(goal), Some(f), Some(p)) if p > 0.0 => {
                    let verdict = if n < 10_000 {
                        "(not checked below 10 000)"
                    } else if f / p >= goal {
                        "met"
                    } else {
                        "MISSED"
                    };
                    if metric.goal_baseline() == metric {
                        format!("≥ {goal:.0}× {verdict}")
                    } else {
                        format!(
                            "≥ {goal:.0}× vs full {}: {:.1}× {verdict}",
                            metric.goal_baseline().name(),
                            f / p
                        )
                    }
                }
                _ => String::new(),
            };
            out.push_str(&format!(
                "| {n} | {} | {unit} | {} | {} | {ratio} | {inverse} | {goal} | {} | {} |\n",
                metric.name(),
                cell(f, unit),
                cell(p, unit),
                heap_cell(full.and_then(|r| r.peak_heap_bytes)),
                heap_cell(partial.and_then(|r| r.peak_heap_bytes)),
            ));
        }
    }
    out.push_str(
        "\n| N | annotator (committer or DS) | unit | median | heap |\n|---:|---|---|---:|---:|\n",
    );
    for &n in &sizes {
        for metric in Metric::ALL {
            if let Some(r) = find(Role::Annotator, metric, n) {
                out.push_str(&format!(
                    "| {n} | {} | {} | {} | {} |\n",
                    metric.name(),
                    r.unit,
                    cell(Some(r.median), &r.unit),
                    heap_cell(r.peak_heap_bytes),
                ));
            }
        }
    }
    out
}
