//! Smoke test of the partial-member section (`--partial`, draft-ietf-mls-partial-02): one
//! small run, every metric recorded for the roles it belongs to, the partial member joining
//! with fewer bytes than the full member, and the table naming the goals.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use conclave_bench::partial::{Metric, Role, records, render_table, run};
use conclave_bench::{BenchError, ProviderMode, RepPolicy, RunConfig};

fn config(n: usize) -> RunConfig {
    RunConfig {
        n,
        provider: ProviderMode::RustCrypto,
        reps: RepPolicy {
            fixed: Some(2),
            quick: false,
        },
        progress: false,
        suite: 1,
    }
}

#[test]
fn a_small_partial_run_records_every_metric_and_the_partial_member_joins_smaller() {
    let cfg = config(12);
    let result = run(&cfg).unwrap();
    // Join, 3 update and 3 remove commits, then 3 split update and 3 split remove commits
    // (2 timed + 1 heap run each), 3 checks each.
    assert_eq!(result.checks, 3 * 13);
    for metric in Metric::ALL {
        let roles: &[Role] = match metric {
            Metric::AnnotateWelcome
            | Metric::AnnotateCommitFirst
            | Metric::AnnotateCommitNext
            | Metric::AnnotateSplitCommitFirst
            | Metric::AnnotateSplitCommitNext => &[Role::Annotator],
            Metric::UpdateStageVerify | Metric::UpdateStagePath | Metric::UpdateStageSchedule => {
                &[Role::Partial]
            }
            _ => &[Role::Full, Role::Partial],
        };
        for &role in roles {
            let value = result.median(role, metric);
            assert!(
                value.is_some_and(|v| v > 0.0),
                "{} of {}: {value:?}",
                metric.name(),
                role.name()
            );
        }
    }
    // The AnnotatedSplitCommit carries one ciphertext where the AnnotatedCommit carries the
    // whole UpdatePath (the group was built by one add: blank parents, many ciphertexts).
    let split = result
        .median(Role::Partial, Metric::SplitUpdateDownload)
        .unwrap();
    let regular = result
        .median(Role::Partial, Metric::UpdateDownload)
        .unwrap();
    assert!(split < regular, "split {split} ≥ regular {regular}");
    let full = result.median(Role::Full, Metric::JoinDownload).unwrap();
    let partial = result.median(Role::Partial, Metric::JoinDownload).unwrap();
    assert!(partial < full, "partial {partial} ≥ full {full}");
    let full = result.median(Role::Full, Metric::JoinStored).unwrap();
    let partial = result.median(Role::Partial, Metric::JoinStored).unwrap();
    assert!(partial < full, "partial {partial} ≥ full {full}");
    // The AnnotatedCommit is the commit plus proofs: never smaller.
    assert!(
        result
            .median(Role::Partial, Metric::UpdateDownload)
            .unwrap()
            > result.median(Role::Full, Metric::UpdateDownload).unwrap()
    );

    let records = records(&cfg, &result);
    assert!(records.iter().all(|r| r.n == 12 && r.cipher_suite == 1));
    assert!(
        records
            .iter()
            .any(|r| r.implementation == "conclave-partial" && r.op == "partial_join_download")
    );
    let table = render_table(&records);
    assert!(
        table.contains("| 12 | partial_join_download | bytes |"),
        "{table}"
    );
    assert!(table.contains("not checked below 10 000"), "{table}");
    assert!(table.contains("| 12 | partial_annotate_commit_next_receiver | ms |"));
}

#[test]
fn the_partial_run_needs_three_members() {
    assert!(matches!(run(&config(2)), Err(BenchError::Config(_))));
}
