//! `conclave-bench`: runs the same RFC 9420 workloads on Conclave, mls-rs and OpenMLS and
//! prints each operation's median per stack with the ratio peer/Conclave.
//!
//! ```text
//! conclave-bench [--provider rustcrypto|fastest] [--sizes 2,10,100,1000,10000]
//!                [--threads 1] [--json FILE] [--quick] [--reps K]
//!                [--impls conclave,mls-rs,openmls] [--quiet]
//! ```

use std::time::Instant;

use anyhow::{Context, bail};
use conclave_bench::{
    Impl, Op, ProviderMode, RepKind, RepPolicy, RunConfig, records, render_table,
};

struct Args {
    provider: ProviderMode,
    sizes: Vec<usize>,
    threads: usize,
    json: Option<String>,
    reps: RepPolicy,
    impls: Vec<Impl>,
    progress: bool,
}

const USAGE: &str = "usage: conclave-bench [--provider rustcrypto|fastest] [--sizes 2,10,100,1000,10000] \
[--threads N] [--json FILE] [--quick] [--reps K] [--impls conclave,mls-rs,openmls] [--quiet]";

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        provider: ProviderMode::RustCrypto,
        sizes: Vec::new(),
        threads: 1,
        json: None,
        reps: RepPolicy::default(),
        impls: Impl::ALL.to_vec(),
        progress: true,
    };
    let mut it = std::env::args().skip(1);
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
                args.impls = value()?
                    .split(',')
                    .map(|s| Impl::parse(s.trim()).with_context(|| format!("unknown impl {s:?}")))
                    .collect::<anyhow::Result<_>>()?;
            }
            "--quiet" => args.progress = false,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
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

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    // All three stacks parallelise with rayon's global pool (Conclave: the per-recipient HPKE
    // and per-member signature loops of large commits and joins); --threads sizes it.
    rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build_global()
        .context("rayon thread pool")?;
    let started = Instant::now();
    let mut all = Vec::new();
    let mut reps_lines = Vec::new();
    for &n in &args.sizes {
        let cfg = RunConfig {
            n,
            provider: args.provider,
            reps: args.reps,
            progress: args.progress,
        };
        reps_lines.push(format!(
            "N={n}: add {}, join {}, other ops {} (app batches of 100 × 100 B / 2 × 1 MiB)",
            args.reps.reps(n, RepKind::Add),
            args.reps.reps(n, RepKind::Join),
            args.reps.reps(n, RepKind::Other),
        ));
        for &stack in &args.impls {
            let t = Instant::now();
            let run = conclave_bench::run_stack(stack, &cfg)
                .with_context(|| format!("{} at N={n}", stack.name()))?;
            if args.progress {
                eprintln!(
                    "[{} N={n} {}] done in {:.1} s ({} agreement checks passed)",
                    args.provider.name(),
                    stack.name(),
                    t.elapsed().as_secs_f64(),
                    run.checks.len()
                );
            }
            all.extend(records(stack, &cfg, &run));
        }
    }
    println!(
        "conclave-bench: suite 1 (X25519/AES-128-GCM/SHA-256/Ed25519), provider mode `{}`, \
         {} thread(s), {:.0} s",
        args.provider.name(),
        args.threads,
        started.elapsed().as_secs_f64()
    );
    for stack in &args.impls {
        println!("  {}: {}", stack.name(), args.provider.backend(*stack));
    }
    println!("medians over repetitions:");
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
    println!();
    print!("{}", render_table(&all));
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&all).context("JSON")?;
        std::fs::write(path, json).with_context(|| format!("writing {path}"))?;
    }
    Ok(())
}
