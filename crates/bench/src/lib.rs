//! Side-by-side benchmarks of Conclave, mls-rs and OpenMLS on the same RFC 9420 workloads:
//! one commit adding N−1 members (RFC 9420 §12.4), a join from the Welcome with
//! full tree validation (§12.4.3.1), update and remove commits with an UpdatePath (§12.4.2),
//! application messages as PrivateMessages (§6.3), a backlog of 1000 application messages
//! processed on return (`app_backlog_1000`), and the sizes of a Welcome, a commit and one
//! member's serialized state.
//!
//! Conclave's run also measures the primitives ([`floors`]) and gives each timed op its
//! floor: the primitive work RFC 9420 requires for it at that N (`floor`, `floor_ratio`).
//!
//! Every stack runs under the same conditions: cipher suite 1
//! (`MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519`), every commit carries an UpdatePath, the
//! ratchet tree rides in the Welcome (§12.4.3.3), handshakes are PublicMessages, application
//! messages PrivateMessages without padding, storage in memory, and every input crosses as
//! bytes: parsing and validation are inside the timed region. Each stack module also checks
//! that its members agree (epoch authenticators and exported secrets, RFC 9420 §8.5, §8.7)
//! after every commit, and that decrypted messages match what was sent.
//!
//! Each timed operation also runs once more, untimed, under [`heap::measure_peak`]: its peak
//! heap above the level at the operation's start (`peak_heap_bytes`).

// The crate denies rather than forbids unsafe code only so that `heap` can implement
// `GlobalAlloc` (an unsafe trait); every other module forbids it.
#![deny(unsafe_code)]

#[forbid(unsafe_code)]
mod conclave;
#[forbid(unsafe_code)]
pub mod floors;
pub mod heap;
#[forbid(unsafe_code)]
mod mlsrs;
#[forbid(unsafe_code)]
mod openmls;
#[forbid(unsafe_code)]
pub mod partial;
#[forbid(unsafe_code)]
mod report;

use std::time::Instant;

pub use report::{Record, fill_floors, median, render_table};

/// Errors of a benchmark run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// A stack refused or failed an operation.
    #[error("{stack}: {step}: {message}")]
    Stack {
        /// The stack (`conclave`, `mls-rs`, `openmls`).
        stack: &'static str,
        /// What it was doing.
        step: &'static str,
        /// The stack's error, rendered.
        message: String,
    },
    /// The members of one stack disagree, or a message did not round-trip.
    #[error("{stack}: members disagree: {what}")]
    Disagreement {
        /// The stack.
        stack: &'static str,
        /// What differed.
        what: String,
    },
    /// The requested configuration cannot be run.
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// The three implementations compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Impl {
    /// This workspace.
    Conclave,
    /// AWS's mls-rs.
    MlsRs,
    /// OpenMLS.
    OpenMls,
}

impl Impl {
    /// All three, in table order.
    pub const ALL: [Impl; 3] = [Impl::Conclave, Impl::MlsRs, Impl::OpenMls];

    /// The name used in the JSON output and the table.
    pub fn name(self) -> &'static str {
        match self {
            Impl::Conclave => "conclave",
            Impl::MlsRs => "mls-rs",
            Impl::OpenMls => "openmls",
        }
    }

    /// Parses [`Impl::name`].
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|i| i.name() == name)
    }
}

/// Which crypto backends the stacks run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderMode {
    /// Every stack on RustCrypto: the algorithm comparison.
    RustCrypto,
    /// Every stack on its fastest provider.
    Fastest,
}

impl ProviderMode {
    /// The mode's name (`--provider`, and `provider` in the JSON output).
    pub fn name(self) -> &'static str {
        match self {
            ProviderMode::RustCrypto => "rustcrypto",
            ProviderMode::Fastest => "fastest",
        }
    }

    /// Parses [`ProviderMode::name`].
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "rustcrypto" => Some(ProviderMode::RustCrypto),
            "fastest" => Some(ProviderMode::Fastest),
            _ => None,
        }
    }

    /// The backend crate a stack uses in this mode.
    pub fn backend(self, stack: Impl) -> &'static str {
        match (self, stack) {
            (ProviderMode::RustCrypto, Impl::Conclave) => "conclave-crypto-rustcrypto",
            (ProviderMode::RustCrypto, Impl::MlsRs) => "mls-rs-crypto-rustcrypto",
            (ProviderMode::RustCrypto, Impl::OpenMls) => "openmls_rust_crypto",
            (ProviderMode::Fastest, Impl::Conclave) => "conclave-crypto-awslc",
            (ProviderMode::Fastest, Impl::MlsRs) => "mls-rs-crypto-awslc",
            (ProviderMode::Fastest, Impl::OpenMls) => "openmls_libcrux_crypto",
        }
    }
}

/// The measured operations, with their units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    /// A 1-member group commits adding N−1 KeyPackages (parse + validate + commit + merge).
    AddCommitCreate,
    /// A new member joins a group of N from the Welcome (parse + full validation).
    WelcomeJoin,
    /// A member commits with a path in a group of N (create + serialize + merge).
    UpdateCommitCreate,
    /// Another member processes that commit (parse + verify + decrypt + merge).
    UpdateCommitProcess,
    /// A member commits removing another one.
    RemoveCommitCreate,
    /// Another member processes that commit.
    RemoveCommitProcess,
    /// Encrypt + decrypt a 100-byte application message.
    App100BRoundtrip,
    /// Encrypt + decrypt a 1 MiB application message.
    App1MiBRoundtrip,
    /// A member processes [`BACKLOG`] waiting 100-byte application messages (N = 2 and
    /// 1000 only, see [`backlog_applies`]).
    AppBacklog1000,
    /// The Welcome of the add commit.
    WelcomeSize,
    /// An update commit (PublicMessage with an UpdatePath).
    CommitSize,
    /// The serialized state of one member.
    GroupStateSize,
    /// One KeyPackage (MLSMessage).
    KeyPackageSize,
}

impl Op {
    /// All operations, in table order.
    pub const ALL: [Op; 13] = [
        Op::AddCommitCreate,
        Op::WelcomeJoin,
        Op::UpdateCommitCreate,
        Op::UpdateCommitProcess,
        Op::RemoveCommitCreate,
        Op::RemoveCommitProcess,
        Op::App100BRoundtrip,
        Op::App1MiBRoundtrip,
        Op::AppBacklog1000,
        Op::WelcomeSize,
        Op::CommitSize,
        Op::GroupStateSize,
        Op::KeyPackageSize,
    ];

    /// The name in the JSON output and the table.
    pub fn name(self) -> &'static str {
        match self {
            Op::AddCommitCreate => "add_commit_create",
            Op::WelcomeJoin => "welcome_join",
            Op::UpdateCommitCreate => "update_commit_create",
            Op::UpdateCommitProcess => "update_commit_process",
            Op::RemoveCommitCreate => "remove_commit_create",
            Op::RemoveCommitProcess => "remove_commit_process",
            Op::App100BRoundtrip => "app_100B_roundtrip",
            Op::App1MiBRoundtrip => "app_1MiB_roundtrip",
            Op::AppBacklog1000 => "app_backlog_1000",
            Op::WelcomeSize => "welcome_size",
            Op::CommitSize => "commit_size",
            Op::GroupStateSize => "group_state_size",
            Op::KeyPackageSize => "key_package_size",
        }
    }

    /// The unit of its median.
    pub fn unit(self) -> &'static str {
        match self {
            Op::App100BRoundtrip | Op::AppBacklog1000 => "msg/s",
            Op::App1MiBRoundtrip => "MB/s",
            Op::WelcomeSize | Op::CommitSize | Op::GroupStateSize | Op::KeyPackageSize => "bytes",
            _ => "ms",
        }
    }

    /// Whether a larger value is better (rates) rather than smaller (times, sizes).
    pub fn higher_is_better(self) -> bool {
        matches!(
            self,
            Op::App100BRoundtrip | Op::App1MiBRoundtrip | Op::AppBacklog1000
        )
    }
}

/// Size of the small application message.
pub const SMALL_MESSAGE: usize = 100;
/// Size of the large application message (1 MiB).
pub const LARGE_MESSAGE: usize = 1 << 20;
/// Small messages per timed batch.
pub const SMALL_BATCH: usize = 100;
/// Large messages per timed batch.
pub const LARGE_BATCH: usize = 2;
/// Waiting application messages (of [`SMALL_MESSAGE`] bytes) in `app_backlog_1000`.
pub const BACKLOG: usize = 1000;

/// Whether `app_backlog_1000` runs at group size `n` (issue 17: N = 2 and 1000).
pub fn backlog_applies(n: usize) -> bool {
    n == 2 || n == 1000
}

/// Repetitions of `app_backlog_1000` out of `reps` (at most 3: a repetition is 1000
/// messages).
pub(crate) fn backlog_reps(reps: usize) -> usize {
    reps.min(3)
}

/// How many repetitions each operation gets.
#[derive(Debug, Clone, Copy, Default)]
pub struct RepPolicy {
    /// Use this many repetitions for everything.
    pub fixed: Option<usize>,
    /// At most 3 repetitions (1 for the big add from N = 1000 on).
    pub quick: bool,
}

/// The families of operations that share a repetition count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepKind {
    /// `add_commit_create`.
    Add,
    /// `welcome_join`.
    Join,
    /// Update create/process, remove create/process, application-message batches.
    Other,
}

impl RepPolicy {
    /// Repetitions of `kind` at group size `n`: 21 up to N = 10, 11 up to 100, 5 up to 1000,
    /// then 3; the add gets 3 at N = 1000 and 1 beyond.
    pub fn reps(&self, n: usize, kind: RepKind) -> usize {
        if let Some(fixed) = self.fixed {
            return fixed.max(1);
        }
        let base = match n {
            0..=10 => 21,
            11..=100 => 11,
            101..=1000 => 5,
            _ => 3,
        };
        let reps = match (kind, n) {
            (RepKind::Add, 101..=1000) => 3,
            (RepKind::Add, 1001..) => 1,
            _ => base,
        };
        if self.quick {
            let cap = if kind == RepKind::Add && n >= 1000 {
                1
            } else {
                3
            };
            reps.min(cap)
        } else {
            reps
        }
    }
}

/// One run of one stack at one group size.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Group size N (≥ 2).
    pub n: usize,
    /// Crypto backends.
    pub provider: ProviderMode,
    /// Repetitions.
    pub reps: RepPolicy,
    /// Print progress on stderr.
    pub progress: bool,
    /// The cipher suite (Conclave's value). mls-rs and OpenMLS run suite 1 only: neither
    /// carries the post-quantum suites under values and key derivation Conclave shares
    /// (see `conclave_core::codepoints`).
    pub suite: u16,
}

/// Values that two members of one stack computed independently and that must be equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was compared (e.g. "update 3: epoch authenticator").
    pub what: String,
    /// The first member's value.
    pub left: Vec<u8>,
    /// The second member's value.
    pub right: Vec<u8>,
}

/// The raw samples and agreement checks of one stack at one N.
#[derive(Debug, Clone, Default)]
pub struct StackRun {
    /// Samples per operation, in the unit of [`Op::unit`].
    pub samples: Vec<(Op, Vec<f64>)>,
    /// Peak heap per operation, in bytes above the level at the operation's start, from
    /// its untimed run (absent when the counting allocator is not installed).
    pub peaks: Vec<(Op, u64)>,
    /// The agreement checks made along the way (all already verified equal).
    pub checks: Vec<Check>,
    /// Each operation's floor in the unit of [`Op::unit`] ([`floors`]; Conclave's run
    /// only, which measures the primitives).
    pub floors: Vec<(Op, f64)>,
}

impl StackRun {
    fn push(&mut self, op: Op, value: f64) {
        match self.samples.iter_mut().find(|(o, _)| *o == op) {
            Some((_, values)) => values.push(value),
            None => self.samples.push((op, vec![value])),
        }
    }

    /// Records a check and fails if the two sides differ (or are empty).
    fn check(
        &mut self,
        stack: Impl,
        what: String,
        left: Vec<u8>,
        right: Vec<u8>,
    ) -> Result<(), BenchError> {
        if left.is_empty() || left != right {
            return Err(BenchError::Disagreement {
                stack: stack.name(),
                what,
            });
        }
        self.checks.push(Check { what, left, right });
        Ok(())
    }

    /// The samples of `op`.
    pub fn values(&self, op: Op) -> Option<&[f64]> {
        self.samples
            .iter()
            .find(|(o, _)| *o == op)
            .map(|(_, v)| v.as_slice())
    }

    /// The peak heap of `op` in bytes (see [`StackRun::peaks`]).
    pub fn peak(&self, op: Op) -> Option<u64> {
        self.peaks.iter().find(|(o, _)| *o == op).map(|&(_, p)| p)
    }

    /// The floor of `op` (see [`StackRun::floors`]).
    pub fn floor(&self, op: Op) -> Option<f64> {
        self.floors.iter().find(|(o, _)| *o == op).map(|&(_, f)| f)
    }

    /// Records the floor of `op`, given in seconds per operation, in the op's unit.
    pub(crate) fn set_floor(&mut self, op: Op, seconds: f64) {
        if !(seconds.is_finite() && seconds > 0.0) {
            return;
        }
        let value = match op {
            Op::App100BRoundtrip | Op::AppBacklog1000 => 1.0 / seconds,
            Op::App1MiBRoundtrip => LARGE_MESSAGE as f64 / seconds / 1e6,
            _ => seconds * 1e3,
        };
        self.floors.retain(|(o, _)| *o != op);
        self.floors.push((op, value));
    }

    fn set_peak(&mut self, op: Op, bytes: u64) {
        match self.peaks.iter_mut().find(|(o, _)| *o == op) {
            Some((_, peak)) => *peak = bytes,
            None => self.peaks.push((op, bytes)),
        }
    }
}

/// Repetition `r` of an operation timed `reps` times: `r < reps` are timed, `r == reps` is
/// the extra untimed run whose peak heap is measured.
pub(crate) fn is_heap_run(r: usize, reps: usize) -> bool {
    r == reps
}

/// Runs one repetition of `op` (the code from its inputs as bytes to its outputs as bytes,
/// exactly what is timed): a timed run adds a sample (milliseconds, or a rate for the
/// application batches), the heap run (see [`is_heap_run`]) records the peak heap instead.
pub(crate) fn run_op<T>(
    out: &mut StackRun,
    op: Op,
    heap_run: bool,
    f: impl FnOnce() -> Result<T, BenchError>,
) -> Result<T, BenchError> {
    if heap_run {
        let (value, peak) = heap::measure_peak(f);
        let value = value?;
        if let Some(peak) = peak {
            out.set_peak(op, peak);
        }
        Ok(value)
    } else {
        let start = Instant::now();
        let value = f()?;
        let secs = start.elapsed().as_secs_f64();
        let sample = match op {
            Op::App100BRoundtrip => rate(op, SMALL_BATCH, SMALL_MESSAGE, secs),
            Op::App1MiBRoundtrip => rate(op, LARGE_BATCH, LARGE_MESSAGE, secs),
            Op::AppBacklog1000 => rate(op, BACKLOG, SMALL_MESSAGE, secs),
            _ => secs * 1e3,
        };
        out.push(op, sample);
        Ok(value)
    }
}

/// Progress lines on stderr.
#[derive(Debug, Clone)]
pub(crate) struct Progress {
    enabled: bool,
    prefix: String,
}

impl Progress {
    fn new(cfg: &RunConfig, stack: Impl) -> Self {
        Self {
            enabled: cfg.progress,
            prefix: format!("[{} N={} {}]", cfg.provider.name(), cfg.n, stack.name()),
        }
    }

    pub(crate) fn note(&self, message: impl core::fmt::Display) {
        if self.enabled {
            eprintln!("{} {message}", self.prefix);
        }
    }

    /// Notes repetition `r` of `op` (its time, or the heap run's peak).
    pub(crate) fn rep(&self, out: &StackRun, op: Op, r: usize, reps: usize) {
        if !self.enabled {
            return;
        }
        if is_heap_run(r, reps) {
            match out.peak(op) {
                Some(peak) => self.note(format!("{} heap run: peak {peak} bytes", op.name())),
                None => self.note(format!("{} heap run: no counting allocator", op.name())),
            }
        } else if let Some(ms) = out.values(op).and_then(<[f64]>::last) {
            self.note(format!("{} {}/{reps}: {ms:.2} ms", op.name(), r + 1));
        }
    }
}

/// The payloads of the application-message workloads.
pub(crate) fn payload(len: usize, seed: usize) -> Vec<u8> {
    (0..len)
        .map(|i| i.wrapping_mul(31).wrapping_add(seed).to_le_bytes()[0])
        .collect()
}

/// The exporter label used in agreement checks.
pub(crate) const EXPORT_LABEL: &str = "conclave-bench";

/// Whether `stack` runs cipher suite `suite` in provider mode `provider`: the value the
/// stack runs it under, or why not. Conclave runs every suite its backends implement; mls-rs suite 1 only (it has none
/// of draft-ietf-mls-pq-ciphersuites' suites); OpenMLS suite 1 and the post-quantum suites
/// it carries, under its own value of the suite, where its backend lists it.
pub fn stack_supports(stack: Impl, provider: ProviderMode, suite: u16) -> Result<u16, String> {
    match stack {
        Impl::Conclave => Ok(suite),
        Impl::MlsRs if suite == 1 => Ok(suite),
        Impl::MlsRs => Err(format!("mls-rs runs suite 1 only (asked for {suite:#06x})")),
        Impl::OpenMls => openmls::supports(provider, suite).map(u16::from),
    }
}

/// Runs every operation of `stack` at `cfg.n`.
pub fn run_stack(stack: Impl, cfg: &RunConfig) -> Result<StackRun, BenchError> {
    if cfg.n < 2 {
        return Err(BenchError::Config(format!(
            "group size {} is below 2",
            cfg.n
        )));
    }
    stack_supports(stack, cfg.provider, cfg.suite).map_err(BenchError::Config)?;
    let progress = Progress::new(cfg, stack);
    match stack {
        Impl::Conclave => conclave::run(cfg, &progress),
        Impl::MlsRs => mlsrs::run(cfg, &progress),
        Impl::OpenMls => openmls::run(cfg, &progress),
    }
}

/// Medians of a run as JSON records.
pub fn records(stack: Impl, cfg: &RunConfig, run: &StackRun) -> Vec<Record> {
    Op::ALL
        .iter()
        .filter_map(|&op| {
            run.values(op).and_then(median).map(|m| Record {
                implementation: stack.name().to_owned(),
                op: op.name().to_owned(),
                n: cfg.n,
                median: m,
                unit: op.unit().to_owned(),
                peak_heap_bytes: run.peak(op),
                floor: run.floor(op),
                floor_ratio: None,
                provider: cfg.provider.name().to_owned(),
                cipher_suite: cfg.suite,
            })
        })
        .collect()
}

/// The number of removals a run makes, and whether the processor is itself removed.
///
/// The committer (leaf 0) removes the last leaf; the processor is leaf 1. At N = 2 the
/// only other member is the processor, which then processes its own removal and is
/// replaced by a fresh joiner before the next repetition.
pub(crate) fn remove_target(n: usize) -> u32 {
    u32::try_from(n.saturating_sub(1)).unwrap_or(u32::MAX)
}

/// The operations' repetition counts of a run, for the progress notes.
pub(crate) fn plan(cfg: &RunConfig) -> (usize, usize, usize) {
    (
        cfg.reps.reps(cfg.n, RepKind::Add),
        cfg.reps.reps(cfg.n, RepKind::Join),
        cfg.reps.reps(cfg.n, RepKind::Other),
    )
}

/// Messages per second, or MB/s (10^6 bytes of plaintext per second) for the large ones.
fn rate(op: Op, batch: usize, len: usize, secs: f64) -> f64 {
    if op == Op::App1MiBRoundtrip {
        (batch * len) as f64 / secs / 1e6
    } else {
        batch as f64 / secs
    }
}
