//! `conclave-bench`: runs the same RFC 9420 workloads on Conclave, mls-rs and OpenMLS and
//! prints each operation's median per stack with the ratio peer/Conclave.
//!
//! ```text
//! conclave-bench [--provider rustcrypto|fastest] [--sizes 2,10,100,1000,10000]
//!                [--threads 1] [--json FILE] [--quick] [--reps K]
//!                [--impls conclave,mls-rs,openmls] [--quiet] [--suites [LIST]]
//! ```
//!
//! `--suites` runs the post-quantum suites (draft-ietf-mls-pq-ciphersuites; all Conclave
//! implements, or a comma-separated list of numbers or draft names), Conclave and OpenMLS
//! 0.9.2 unless `--impls` says otherwise, at N = 2, 100, 1000 unless `--sizes` says
//! otherwise, one table per suite with the KeyPackage, Welcome and commit sizes. OpenMLS
//! runs the suites it carries (eight of the eleven) under its own value of the suite, on
//! `openmls_rust_crypto` (`openmls_libcrux_crypto` lists none of them, so `--provider
//! fastest` runs Conclave alone there); a stack that cannot run a suite is listed as skipped
//! with the reason. mls-rs has none of the draft's suites.
//!
//! `--partial` runs the partial-member section instead (draft-ietf-mls-partial-02, Conclave
//! only: [`conclave_bench::partial`]), at N = 1000, 10000 unless `--sizes` says otherwise.
//!
//! The binary counts its heap ([`conclave_bench::heap::CountingAllocator`]) so that every
//! timed operation also reports its peak heap (`peak_heap_bytes`).

#![forbid(unsafe_code)]

use std::time::Instant;

use anyhow::{Context, bail};
use conclave_bench::{
    Impl, Op, ProviderMode, RepKind, RepPolicy, RunConfig, fill_floors, records, render_table,
};

#[global_allocator]
static HEAP: conclave_bench::heap::CountingAllocator = conclave_bench::heap::CountingAllocator;

struct Args {
    provider: ProviderMode,
    sizes: Vec<usize>,
    threads: usize,
    json: Option<String>,
    reps: RepPolicy,
    impls: Vec<Impl>,
    progress: bool,
    /// Cipher suites; `[1]` unless `--suites`.
    suites: Vec<u16>,
    /// `--partial`: the partial-member section instead of the side-by-side ops.
    partial: bool,
}

const USAGE: &str = "usage: conclave-bench [--provider rustcrypto|fastest] [--sizes 2,10,100,1000,10000] \
[--threads N] [--json FILE] [--quick] [--reps K] [--impls conclave,mls-rs,openmls] [--quiet] [--suites [all|0xF0A0,...]] \
[--partial]";

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        provider: ProviderMode::RustCrypto,
        sizes: Vec::new(),
        threads: 1,
        json: None,
        reps: RepPolicy::default(),
        impls: Impl::ALL.to_vec(),
        progress: true,
        suites: vec![1],
        partial: false,
    };
    let mut it = std::env::args().skip(1).peekable();
    let mut pq = false;
    let mut impls_given = false;
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .with_context(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--provider" => {
                let v = value()?;
                args.provider = ProviderMode::parse(&v)
                    .with_context(|| format!("unknown provider {v:?} (rustcrypto|fastest)"))?;
            }
            "--sizes" => {
                args.sizes = value()?
                    .split(',')
                    .map(|s| {
                        s.trim()
                            .parse::<usize>()
                            .with_context(|| format!("bad size {s:?}"))
                    })
                    .collect::<anyhow::Result<_>>()?;
            }
            "--threads" => args.threads = value()?.parse().context("bad --threads")?,
            "--json" => args.json = Some(value()?),
            "--quick" => args.reps.quick = true,
            "--reps" => args.reps.fixed = Some(value()?.parse().context("bad --reps")?),
            "--impls" => {
                impls_given = true;
                args.impls = value()?
                    .split(',')
                    .map(|s| Impl::parse(s.trim()).with_context(|| format!("unknown impl {s:?}")))
                    .collect::<anyhow::Result<_>>()?;
            }
            "--quiet" => args.progress = false,
            "--partial" => args.partial = true,
            "--suites" => {
                pq = true;
                let list = match it.peek() {
                    Some(next) if !next.starts_with("--") => it.next(),
                    _ => None,
                };
                args.suites = match list.as_deref() {
                    None | Some("all") => conclave_crypto::CipherSuite::PQ
                        .iter()
                        .map(|s| s.0)
                        .collect(),
                    Some(list) => list
                        .split(',')
                        .map(|s| {
                            conclave_core::codepoints::parse_cipher_suite(s)
                                .map(|suite| suite.0)
                                .with_context(|| format!("unknown cipher suite {s:?}"))
                        })
                        .collect::<anyhow::Result<_>>()?,
                };
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    if pq && !impls_given {
        args.impls = vec![Impl::Conclave, Impl::OpenMls];
    }
    if args.sizes.is_empty() && pq {
        args.sizes = vec![2, 100, 1000];
    }
    if args.sizes.is_empty() && args.partial {
        args.sizes = vec![1000, 10000];
    }
    if args.sizes.is_empty() {
        args.sizes = if args.reps.quick {
            vec![2, 10, 100, 1000]
        } else {
            vec![2, 10, 100, 1000, 10000]
        };
    }
    if let Some(n) = args.sizes.iter().find(|&&n| n < 2) {
        bail!("group size {n} is below 2");
    }
    if args.threads == 0 {
        bail!("--threads must be at least 1");
    }
    Ok(args)
}

/// A suite's name for the table header.
fn suite_name(suite: u16) -> String {
    if suite == 1 {
        return "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519".to_owned();
    }
    conclave_core::codepoints::pq_cipher_suite_of(conclave_crypto::CipherSuite(suite))
        .map_or_else(|| "unknown".to_owned(), |s| s.name().to_owned())
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    // All three stacks parallelise with rayon's global pool (Conclave: the per-recipient HPKE
    // and per-member signature loops of large commits and joins); --threads sizes it.
    rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build_global()
        .context("rayon thread pool")?;
    let started = Instant::now();
    if args.partial {
        return partial_main(&args, started);
    }
    let mut everything = Vec::new();
    for &suite in &args.suites {
        let mut all = Vec::new();
        let mut reps_lines = Vec::new();
        let mut impls = Vec::new();
        let mut values = Vec::new();
        let mut skipped = Vec::new();
        for &stack in &args.impls {
            match conclave_bench::stack_supports(stack, args.provider, suite) {
                Ok(value) => {
                    impls.push(stack);
                    values.push(value);
                }
                Err(why) => skipped.push((stack, why)),
            }
        }
        for &n in &args.sizes {
            let cfg = RunConfig {
                n,
                provider: args.provider,
                reps: args.reps,
                progress: args.progress,
                suite,
            };
            reps_lines.push(format!(
                "N={n}: add {}, join {}, other ops {} (app batches of 100 × 100 B / 2 × 1 MiB; \
                 backlog of 1000 × 100 B at N = 2 and 1000, at most 3 repetitions)",
                args.reps.reps(n, RepKind::Add),
                args.reps.reps(n, RepKind::Join),
                args.reps.reps(n, RepKind::Other),
            ));
            for &stack in &impls {
                let t = Instant::now();
                let run = conclave_bench::run_stack(stack, &cfg)
                    .with_context(|| format!("{} at N={n}, suite {suite:#06x}", stack.name()))?;
                if args.progress {
                    eprintln!(
                        "[{} N={n} {} suite {suite:#06x}] done in {:.1} s ({} agreement checks passed)",
                        args.provider.name(),
                        stack.name(),
                        t.elapsed().as_secs_f64(),
                        run.checks.len()
                    );
                }
                all.extend(records(stack, &cfg, &run));
            }
        }
        fill_floors(&mut all);
        println!(
            "conclave-bench: suite {suite:#06x} ({}), provider mode `{}`, {} thread(s), {:.0} s so far",
            suite_name(suite),
            args.provider.name(),
            args.threads,
            started.elapsed().as_secs_f64()
        );
        for (stack, value) in impls.iter().zip(&values) {
            println!(
                "  {}: {} (suite {value:#06x})",
                stack.name(),
                args.provider.backend(*stack)
            );
        }
        for (stack, why) in &skipped {
            println!("  {}: skipped ({why})", stack.name());
        }
        println!(
            "medians over repetitions (heap: peak heap above the op's starting level in one \
             extra untimed run):"
        );
        for line in &reps_lines {
            println!("  {line}");
        }
        println!(
            "ratio = peer / conclave: for {} and bytes > 1 means Conclave is faster/smaller; \
             for {} and {} < 1 means Conclave is faster",
            Op::AddCommitCreate.unit(),
            Op::App100BRoundtrip.unit(),
            Op::App1MiBRoundtrip.unit()
        );
        println!(
            "floor = the primitive work RFC 9420 requires for the op at that N, priced with the \
             primitives measured in this run on one thread (crates/bench/README.md, \"Floors\"); \
             floor_ratio = time/floor for times, floor/rate for rates (1.00 = at the floor)"
        );
        println!();
        print!("{}", render_table(&all));
        println!();
        everything.extend(all);
    }
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&everything).context("JSON")?;
        std::fs::write(path, json).with_context(|| format!("writing {path}"))?;
    }
    Ok(())
}

/// `--partial`: partial member against full member, Conclave only (the peers have no
/// partial clients).
fn partial_main(args: &Args, started: Instant) -> anyhow::Result<()> {
    use conclave_bench::partial;
    let sizes = args.sizes.clone();
    let mut all = Vec::new();
    for &suite in &args.suites {
        for &n in &sizes {
            let cfg = RunConfig {
                n,
                provider: args.provider,
                reps: args.reps,
                progress: args.progress,
                suite,
            };
            let t = Instant::now();
            let run = partial::run(&cfg).with_context(|| format!("partial at N={n}"))?;
            if args.progress {
                eprintln!(
                    "[{} N={n} partial suite {suite:#06x}] done in {:.1} s ({} agreement checks passed)",
                    args.provider.name(),
                    t.elapsed().as_secs_f64(),
                    run.checks
                );
            }
            all.extend(partial::records(&cfg, &run));
        }
        println!(
            "conclave-bench --partial: suite {suite:#06x} ({}), provider mode `{}` ({}), {} thread(s), {:.0} s so far",
            suite_name(suite),
            args.provider.name(),
            args.provider.backend(Impl::Conclave),
            args.threads,
            started.elapsed().as_secs_f64()
        );
        println!(
            "partial member (draft-ietf-mls-partial-02) vs full member of the same run, Conclave \
             only: mls-rs and OpenMLS have no partial clients"
        );
        for &n in &sizes {
            println!(
                "  N={n}: joins {}, commits {} per kind (medians; heap: one extra untimed run)",
                args.reps.reps(n, RepKind::Join),
                args.reps.reps(n, RepKind::Other)
            );
        }
        println!();
        print!(
            "{}",
            partial::render_table(
                &all.iter()
                    .filter(|r| r.cipher_suite == suite)
                    .cloned()
                    .collect::<Vec<_>>()
            )
        );
        println!();
    }
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&all).context("JSON")?;
        std::fs::write(path, json).with_context(|| format!("writing {path}"))?;
    }
    Ok(())
}
