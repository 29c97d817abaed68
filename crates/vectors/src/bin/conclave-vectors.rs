//! `conclave-vectors [DIR]`: runs every official MLS test-vector file in DIR (default:
//! `$MLS_TEST_VECTORS`, else `../shared/test-vectors`), then our own known-answer files
//! (`kat/` in this crate), against every crypto provider and prints
//! `<file>: <passed>/<total>` per file (the draft vectors of `DIR/drafts/` too, when present,
//! and the Partial MLS vectors of `DIR/partial/`, required under `CI=true`), failure details,
//! and `N passed, M failed`.
//! Exits non-zero on any failure.
//!
//! `conclave-vectors --write-kat` regenerates our known-answer files in `kat/` instead (they
//! are committed; regenerate only when their format or the implementation's intended output
//! changes, and review the diff).

use std::path::PathBuf;
use std::process::ExitCode;

use conclave_vectors::{
    FileOutcome, all_providers, default_vector_dir, kat_dir, run_dir, write_kat_files,
};

/// Failure details printed per file before the rest are summarised.
const MAX_DETAILS: usize = 20;

fn main() -> ExitCode {
    let mut args: Vec<_> = std::env::args_os().skip(1).collect();
    if let Some(at) = args.iter().position(|a| a == "--write-kat") {
        args.remove(at);
        if !args.is_empty() {
            eprintln!("error: --write-kat takes no other argument");
            return ExitCode::from(2);
        }
        return match write_kat_files(&kat_dir()) {
            Ok(paths) => {
                for path in paths {
                    println!("wrote {}", path.display());
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        };
    }
    let dir = args
        .into_iter()
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(default_vector_dir);
    let providers = all_providers();
    let results = match run_dir(&dir, &providers) {
        Ok(results) => results,
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!("hint: pass the directory as an argument or set MLS_TEST_VECTORS");
            return ExitCode::from(2);
        }
    };
    // Vectors of drafts (not RFCs yet) live in `drafts/` beside the official files; a
    // directory without it runs without them.
    let drafts_dir = dir.join("drafts");
    let drafts = if drafts_dir.is_dir() {
        match run_dir(&drafts_dir, &providers) {
            Ok(results) => results,
            Err(e) => {
                eprintln!("error: draft vectors: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        Vec::new()
    };
    // Partial MLS (draft-ietf-mls-partial-02) vectors live in `partial/`. Under CI=true a
    // missing directory is a failure, as a missing main directory always is.
    let partial_dir = dir.join("partial");
    let partial = if partial_dir.is_dir() {
        match run_dir(&partial_dir, &providers) {
            Ok(results) => results,
            Err(e) => {
                eprintln!("error: partial vectors: {e}");
                return ExitCode::from(2);
            }
        }
    } else if std::env::var("CI").is_ok_and(|v| v == "true") {
        eprintln!(
            "error: no partial/ vector directory in {} (required under CI=true)",
            dir.display()
        );
        return ExitCode::from(2);
    } else {
        println!("note: no partial/ vector directory in {}", dir.display());
        Vec::new()
    };
    let own = match run_dir(&kat_dir(), &providers) {
        Ok(results) => results,
        Err(e) => {
            eprintln!("error: our known-answer files: {e}");
            return ExitCode::from(2);
        }
    };
    let (mut passed, mut failed) = (0usize, 0usize);
    // An official file without a checker is reported; one of our own is a failure (we wrote
    // it for a checker).
    let listed = results
        .iter()
        .map(|r| (r, false))
        .chain(drafts.iter().map(|r| (r, false)))
        .chain(partial.iter().map(|r| (r, false)))
        .chain(own.iter().map(|r| (r, true)));
    for ((name, outcome), ours) in listed {
        let (p, f) = print_outcome(name, outcome, ours);
        passed += p;
        failed += f;
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Prints one file's line and failures; returns its `(passed, failed)` counts.
fn print_outcome(name: &str, outcome: &FileOutcome, ours: bool) -> (usize, usize) {
    match outcome {
        FileOutcome::Checked(report) => {
            println!("{name}: {}/{}", report.passed, report.total());
            for covered in &report.covered {
                println!("  checked {covered}");
            }
            for skipped in &report.skipped {
                println!("  skipped {skipped}");
            }
            for failure in report.failures.iter().take(MAX_DETAILS) {
                println!("  FAIL {failure}");
            }
            if report.failures.len() > MAX_DETAILS {
                println!(
                    "  … and {} more failures",
                    report.failures.len() - MAX_DETAILS
                );
            }
            (report.passed, report.failures.len())
        }
        FileOutcome::Unsupported if ours => {
            println!("{name}: 0/1");
            println!("  FAIL no checker for this known-answer file");
            (0, 1)
        }
        FileOutcome::Unsupported => {
            println!("{name}: unsupported");
            (0, 0)
        }
        FileOutcome::Unreadable(e) => {
            println!("{name}: 0/1");
            println!("  FAIL cannot parse file: {e}");
            (0, 1)
        }
    }
}
