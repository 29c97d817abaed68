//! `conclave-vectors [DIR]`: runs every official MLS test-vector file in DIR (default:
//! `$MLS_TEST_VECTORS`, else `../shared/test-vectors`) against every crypto provider and
//! prints `<file>: <passed>/<total>` per file, failure details, and `N passed, M failed`.
//! Exits non-zero on any failure.

use std::path::PathBuf;
use std::process::ExitCode;

use conclave_vectors::{FileOutcome, all_providers, default_vector_dir, run_dir};

/// Failure details printed per file before the rest are summarised.
const MAX_DETAILS: usize = 20;

fn main() -> ExitCode {
    let dir = std::env::args_os()
        .nth(1)
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
    let (mut passed, mut failed) = (0usize, 0usize);
    for (name, outcome) in &results {
        match outcome {
            FileOutcome::Checked(report) => {
                println!("{name}: {}/{}", report.passed, report.total());
                for failure in report.failures.iter().take(MAX_DETAILS) {
                    println!("  FAIL {failure}");
                }
                if report.failures.len() > MAX_DETAILS {
                    println!(
                        "  … and {} more failures",
                        report.failures.len() - MAX_DETAILS
                    );
                }
                passed += report.passed;
                failed += report.failures.len();
            }
            FileOutcome::Unsupported => println!("{name}: unsupported"),
            FileOutcome::Unreadable(e) => {
                println!("{name}: 0/1");
                println!("  FAIL cannot parse file: {e}");
                failed += 1;
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
