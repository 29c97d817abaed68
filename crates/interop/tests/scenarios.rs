//! Runs our interop-harness scenario scripts (crates/interop-runner/scripts, one file per
//! config kind) over two `conclave-interop` servers started as separate processes.
//!
//! The binary is found through `CARGO_BIN_EXE_conclave-interop`, which Cargo sets for the
//! integration tests of the crate that defines it after building it: no nested cargo call,
//! no guessing of the target directory, whatever profile or target dir CI uses. Each server
//! binds port 0 and prints the port the OS chose, so there is no race for a free port.
//!
//! Matrix: for suite 1, every script in both handshake modes (PrivateMessage and
//! PublicMessage) and both actor assignments (round-robin and its rotation, so that each actor
//! is played by each server); for suites 2, 3, 5 and 7 (aws-lc-rs) and 4 and 6 (RustCrypto,
//! X448 / Ed448), every script once with the rotated assignment, PrivateMessage handshakes for
//! the even suites and PublicMessage for the odd ones.

// Helpers outside #[test] functions: a panic there is a test failure too.
#![allow(
    clippy::panic,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use conclave_interop_runner::{
    Endpoint, RunSettings, Script, assignments, parse_config, run_script, scripts_dir,
};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const KINDS: [&str; 8] = [
    "welcome_join",
    "application",
    "commit",
    "external_join",
    "external_proposals",
    "reinit",
    "branch",
    "deep_random",
];

/// Starts a server on a port of the OS's choosing; returns it and its address.
async fn start_server() -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_conclave-interop"))
        .args(["--port", "0"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start conclave-interop");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("server did not start in time")
        .expect("read server output")
        .expect("server exited");
    let addr = line
        .strip_prefix("conclave-interop listening on ")
        .unwrap_or_else(|| panic!("unexpected server output {line:?}"))
        .to_owned();
    (child, format!("http://{addr}"))
}

fn load_scripts() -> BTreeMap<String, BTreeMap<String, Script>> {
    let dir = scripts_dir();
    KINDS
        .iter()
        .map(|kind| {
            let path = dir.join(format!("{kind}.json"));
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            let scripts = parse_config(&text).unwrap_or_else(|e| panic!("{kind}: {e}"));
            assert!(!scripts.is_empty(), "{kind} has no scripts");
            ((*kind).to_owned(), scripts)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_scripts_over_two_servers() {
    let (_first, first_addr) = start_server().await;
    let (_second, second_addr) = start_server().await;
    let endpoints = vec![
        Endpoint::connect(&first_addr).await.expect("connect"),
        Endpoint::connect(&second_addr).await.expect("connect"),
    ];
    assert_eq!(endpoints[0].name, "Conclave");
    assert_eq!(endpoints[0].suites, vec![1, 2, 3, 4, 5, 6, 7]);

    let configs = load_scripts();
    let started = Instant::now();
    let mut passed = 0usize;
    let mut failures = Vec::new();
    let mut per_suite: BTreeMap<u32, usize> = BTreeMap::new();
    for suite in [1u32, 2, 3, 4, 5, 6, 7] {
        // Suite 1 in both modes; the others alternate (even: PrivateMessage, odd: Public).
        let modes = if suite == 1 {
            vec![true, false]
        } else {
            vec![suite % 2 == 0]
        };
        for encrypt_handshake in modes {
            for (kind, scripts) in &configs {
                for (name, script) in scripts {
                    let all = assignments(&script.actors(), endpoints.len());
                    let chosen: Vec<_> = if suite == 1 {
                        all
                    } else {
                        all.into_iter().skip(1).take(1).collect()
                    };
                    for assignment in chosen {
                        let settings = RunSettings {
                            cipher_suite: suite,
                            encrypt_handshake,
                            assignment,
                        };
                        match run_script(&endpoints, script, &settings).await {
                            Ok(()) => {
                                passed += 1;
                                *per_suite.entry(suite).or_default() += 1;
                            }
                            Err(e) => failures.push(format!(
                                "{kind}/{name} suite {suite} encrypt={encrypt_handshake}: {e}"
                            )),
                        }
                    }
                }
            }
        }
    }
    eprintln!(
        "interop scenarios: {passed} runs passed, {} failed, in {:.1}s; passed per suite: {per_suite:?}",
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    for failure in &failures {
        eprintln!("FAILED {failure}");
    }
    assert!(
        failures.is_empty(),
        "{} scenario runs failed",
        failures.len()
    );
    assert!(passed > 0);
}
