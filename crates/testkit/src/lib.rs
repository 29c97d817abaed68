//! Test support shared by the tests of several Conclave crates (a dev-dependency only):
//!
//! - [`postgres`]: the throwaway PostgreSQL server the tests run against
//!   (`CONCLAVE_TEST_POSTGRES_URL`, started by `scripts/test`) and fresh databases on it;
//! - [`process`]: service binaries started as processes, waited for until they listen;
//! - [`under_ci`] and [`unique`].
//!
//! Under `CI=true` (which `scripts/test` sets) nothing may be skipped: a missing PostgreSQL
//! server or binary fails the test instead of printing a note.

#![forbid(unsafe_code)]
// Test support: a failure here is a test failure, reported by a panic with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod postgres;
pub mod process;

/// Whether the tests run under CI (`CI=true`), where no test may skip a part.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// `prefix` and twelve random hex digits: a name no other test run uses (the tests share
/// one PostgreSQL server and run in parallel).
pub fn unique(prefix: &str) -> String {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).unwrap();
    format!("{prefix}_{}", hex::encode(bytes))
}

/// Reports that part of a test did not run because `what` is missing; under CI this fails
/// the test instead.
pub fn skip(what: &str) {
    assert!(
        !under_ci(),
        "{what} under CI=true: .ci/run (scripts/test) must provide it"
    );
    eprintln!("NOTE: {what}: this part of the test did not run (it is mandatory under CI=true)");
}
