//! Smoke test of the side-by-side benchmark: every operation on all three stacks at
//! N ∈ {2, 10}, the members of each stack agree after every commit, and the JSON output has
//! the documented shape. Repetitions are cut to 2 to keep it to seconds.

// The helpers below are test code too: a panic there is a test failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use conclave_bench::{
    Impl, Op, ProviderMode, Record, RepPolicy, RunConfig, StackRun, backlog_applies, fill_floors,
    records, render_table, run_stack,
};
use serde_json::Value;

fn config(n: usize, provider: ProviderMode) -> RunConfig {
    RunConfig {
        n,
        provider,
        reps: RepPolicy {
            fixed: Some(2),
            quick: false,
        },
        progress: false,
        suite: 1,
    }
}

fn assert_agreement(stack: Impl, n: usize, run: &StackRun) {
    // join + 3 updates + (3 removes unless the processor was removed) + 3 refills (2 timed
    // repetitions and the heap run of each), two values each (epoch authenticator, exported
    // secret).
    let expected = if n == 2 {
        2 * (1 + 3 + 3)
    } else {
        2 * (1 + 3 + 3 + 3)
    };
    assert_eq!(run.checks.len(), expected, "{} N={n}", stack.name());
    for check in &run.checks {
        assert!(!check.left.is_empty(), "{}: {}", stack.name(), check.what);
        assert_eq!(check.left, check.right, "{}: {}", stack.name(), check.what);
    }
    // Each epoch has its own authenticator: consecutive checks must not repeat one.
    let auths: Vec<&Vec<u8>> = run
        .checks
        .iter()
        .filter(|c| c.what.ends_with("epoch authenticator"))
        .map(|c| &c.left)
        .collect();
    for pair in auths.windows(2) {
        assert_ne!(pair[0], pair[1], "{}: epoch did not change", stack.name());
    }
}

/// The JSON shape; `heap` says whether the counting allocator was installed (the binary)
/// or not (the library in this test binary).
fn assert_shape(value: &Value, heap: bool) {
    let array = value.as_array().expect("array");
    assert!(!array.is_empty());
    for item in array {
        let object = item.as_object().expect("object");
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "cipher_suite",
                "floor",
                "floor_ratio",
                "impl",
                "median",
                "n",
                "op",
                "peak_heap_bytes",
                "provider",
                "unit"
            ]
        );
        let imp = object["impl"].as_str().unwrap();
        assert!(Impl::parse(imp).is_some(), "impl {imp}");
        let op = object["op"].as_str().unwrap();
        let op = Op::ALL
            .into_iter()
            .find(|o| o.name() == op)
            .unwrap_or_else(|| panic!("op {op}"));
        assert_eq!(object["unit"].as_str().unwrap(), op.unit());
        assert!(object["n"].as_u64().unwrap() >= 2);
        let median = object["median"].as_f64().unwrap();
        assert!(median.is_finite() && median > 0.0, "{item}");
        assert!(ProviderMode::parse(object["provider"].as_str().unwrap()).is_some());
        // Every timed op has a floor and a ratio to it (after `fill_floors`), the sizes none.
        let floor = &object["floor"];
        let ratio = &object["floor_ratio"];
        if op.unit() == "bytes" {
            assert!(floor.is_null() && ratio.is_null(), "{item}");
        } else {
            assert!(floor.as_f64().unwrap() > 0.0, "{item}");
            let ratio = ratio.as_f64().unwrap();
            let expected = if op.higher_is_better() {
                floor.as_f64().unwrap() / median
            } else {
                median / floor.as_f64().unwrap()
            };
            assert!((ratio - expected).abs() <= 1e-9 * expected, "{item}");
        }
        // Every timed op has a peak heap (each allocates), the sizes none.
        let peak = &object["peak_heap_bytes"];
        if heap && op.unit() != "bytes" {
            assert!(peak.as_u64().unwrap() > 0, "{item}");
        } else {
            assert!(peak.is_null(), "{item}");
        }
    }
}

#[test]
fn every_op_every_stack_small_groups() {
    let mut all: Vec<Record> = Vec::new();
    for n in [2, 10] {
        let cfg = config(n, ProviderMode::RustCrypto);
        for stack in Impl::ALL {
            let run = run_stack(stack, &cfg).unwrap_or_else(|e| panic!("{e}"));
            assert_agreement(stack, n, &run);
            let recs = records(stack, &cfg, &run);
            let ops: Vec<&str> = recs.iter().map(|r| r.op.as_str()).collect();
            // The peers' KeyPackage sizes are not measured yet; the backlog runs at N = 2
            // (and 1000) only.
            let expected: Vec<&str> = Op::ALL
                .iter()
                .filter(|o| stack == Impl::Conclave || **o != Op::KeyPackageSize)
                .filter(|o| **o != Op::AppBacklog1000 || backlog_applies(n))
                .map(|o| o.name())
                .collect();
            assert_eq!(ops, expected, "{} N={n}", stack.name());
            all.extend(recs);
        }
    }
    // Sizes are deterministic functions of the group: a Welcome grows with N.
    let size = |stack: Impl, n: usize| {
        all.iter()
            .find(|r| r.implementation == stack.name() && r.op == "welcome_size" && r.n == n)
            .unwrap()
            .median
    };
    for stack in Impl::ALL {
        assert!(size(stack, 10) > size(stack, 2));
    }
    // This test binary has no counting allocator: no peak is reported.
    assert!(all.iter().all(|r| r.peak_heap_bytes.is_none()));
    // Conclave's run carries the floors; `fill_floors` gives them to the peers' records.
    assert!(
        all.iter()
            .filter(|r| r.implementation != "conclave")
            .all(|r| r.floor.is_none())
    );
    fill_floors(&mut all);
    assert_shape(&serde_json::to_value(&all).unwrap(), false);
    let table = render_table(&all);
    assert_eq!(table.lines().count(), 2 + 2 * Op::ALL.len() - 1);
}

/// `--suites`: Conclave on a post-quantum suite (ML-KEM-768, Ed25519), with its sizes; the
/// peers refuse any suite but 1.
#[test]
fn conclave_runs_a_post_quantum_suite_and_the_peers_refuse_it() {
    let cfg = RunConfig {
        suite: conclave_crypto::CipherSuite::MLS_128_MLKEM768_AES256GCM_SHA384_ED25519.0,
        ..config(2, ProviderMode::Fastest)
    };
    let run = run_stack(Impl::Conclave, &cfg).unwrap_or_else(|e| panic!("{e}"));
    assert_agreement(Impl::Conclave, 2, &run);
    let recs = records(Impl::Conclave, &cfg, &run);
    let size = |op: Op| recs.iter().find(|r| r.op == op.name()).unwrap().median;
    // An ML-KEM-768 encapsulation key (1184 bytes) is in the KeyPackage twice (init key and
    // leaf encryption key); a Welcome carries at least one 1088-byte ciphertext.
    assert!(size(Op::KeyPackageSize) > 2.0 * 1184.0);
    assert!(size(Op::WelcomeSize) > 1088.0);
    assert!(recs.iter().all(|r| r.cipher_suite == cfg.suite));
    for peer in [Impl::MlsRs, Impl::OpenMls] {
        assert!(run_stack(peer, &cfg).is_err(), "{}", peer.name());
    }
}

#[test]
fn binary_writes_json_in_fastest_mode() {
    let dir = std::env::temp_dir().join(format!("conclave-bench-smoke-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("out.json");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_conclave-bench"))
        .args([
            "--provider",
            "fastest",
            "--sizes",
            "2",
            "--reps",
            "1",
            "--quiet",
            "--json",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains("| 2 | add_commit_create | ms |"),
        "{stdout}"
    );
    assert!(
        stdout.contains("| heap conclave | heap mls-rs | heap openmls |"),
        "{stdout}"
    );
    let value: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_shape(&value, true);
    let array = value.as_array().unwrap();
    // The 1 MiB round trip holds at least one 1 MiB message at a time, on every stack.
    for stack in Impl::ALL {
        let peak = array
            .iter()
            .find(|r| r["impl"] == stack.name() && r["op"] == "app_1MiB_roundtrip")
            .and_then(|r| r["peak_heap_bytes"].as_u64())
            .unwrap();
        assert!(peak >= 1 << 20, "{}: {peak}", stack.name());
    }
    // Every op on every stack, but the KeyPackage size on Conclave only.
    assert_eq!(array.len(), 3 * Op::ALL.len() - 2);
    assert!(
        array
            .iter()
            .all(|r| r["provider"] == "fastest" && r["n"] == 2)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--suites`: OpenMLS runs a post-quantum suite under its own value of it where it has one
/// and its backend lists it (openmls_rust_crypto); the others are skipped with a reason.
/// One OpenMLS run on a PQ suite (TBD6, ML-KEM-768) agrees after every commit.
#[test]
fn openmls_runs_the_pq_suites_it_carries_under_its_values() {
    use conclave_bench::stack_supports;
    use conclave_crypto::CipherSuite;
    let rc = ProviderMode::RustCrypto;
    for (openmls, draft) in CipherSuite::OPENMLS_09_PQ {
        assert_eq!(stack_supports(Impl::OpenMls, rc, draft.0), Ok(openmls.0));
        assert_eq!(stack_supports(Impl::Conclave, rc, draft.0), Ok(draft.0));
        assert!(stack_supports(Impl::MlsRs, rc, draft.0).is_err());
        let fastest = stack_supports(Impl::OpenMls, ProviderMode::Fastest, draft.0);
        assert!(fastest.unwrap_err().contains("openmls_libcrux_crypto"));
    }
    for hybrid in [0xF0A2, 0xF0A3, 0xF0A4] {
        let why = stack_supports(Impl::OpenMls, rc, hybrid).unwrap_err();
        assert!(why.contains("no value"), "{why}");
    }
    for stack in Impl::ALL {
        assert_eq!(stack_supports(stack, rc, 1), Ok(1));
    }
    let cfg = RunConfig {
        suite: CipherSuite::MLS_128_MLKEM768_AES256GCM_SHA384_ED25519.0,
        ..config(2, rc)
    };
    let run = run_stack(Impl::OpenMls, &cfg).unwrap();
    assert_agreement(Impl::OpenMls, 2, &run);
}
