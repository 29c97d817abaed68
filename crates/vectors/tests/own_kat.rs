//! Our own known-answer files (`kat/`), through the same checkers as `conclave-vectors`, and
//! the generator that wrote them. A missing file fails; nothing is skipped.

// A test crate: a panic in a helper is a test failure, not a crash on input.
#![allow(clippy::panic)]

use conclave_vectors::{FileOutcome, KAT_FILES, all_providers, checks, kat_dir, kat_file_contents};

#[test]
fn the_extensions_safe_known_answers_pass_on_every_provider() {
    known_answers_pass(checks::extensions_safe::FILE_NAME, 7);
}

#[test]
fn the_extensions_structures_known_answers_pass_on_every_provider() {
    // 12 structures, 4 cases per profile, and the multi-credential on both providers.
    known_answers_pass(checks::extensions_structures::FILE_NAME, 12 + 4 * 3 + 2);
}

#[test]
fn the_post_quantum_known_answers_pass_on_every_provider() {
    // 11 suites under Conclave's values (TBD1–TBD11, the ML-DSA ones included) and 3 under
    // MLSpp's, on both providers.
    known_answers_pass(checks::pq_suites::FILE_NAME, 2 * 14);
}

/// The conformance command lists every post-quantum suite the file checks, the ML-DSA
/// ones (TBD9–TBD11) included, each on both providers.
#[test]
fn the_post_quantum_known_answers_list_every_suite_they_check() {
    let name = checks::pq_suites::FILE_NAME;
    let FileOutcome::Checked(report) =
        conclave_vectors::run_file(&kat_dir().join(name), name, &all_providers())
    else {
        panic!("{name} not checked");
    };
    assert_eq!(report.covered.len(), 14);
    for suite in conclave_crypto::CipherSuite::PQ
        .into_iter()
        .chain(conclave_crypto::CipherSuite::MLSPP_PQ)
    {
        let line = format!("suite {:#06x} ", suite.0);
        let listed = report
            .covered
            .iter()
            .find(|c| c.starts_with(&line))
            .unwrap_or_else(|| panic!("{suite:?} not listed"));
        assert!(listed.ends_with("[aws-lc-rs, rustcrypto]"), "{listed}");
    }
    assert!(
        report
            .covered
            .iter()
            .any(|c| c.contains("MLS_256_MLKEM1024_AES256GCM_SHA384_MLDSA87"))
    );
}

/// Flipping a byte of any recorded value of a case (the derived key pair, the Welcome, the
/// epoch authenticator) makes its check fail on every provider.
#[test]
fn a_tampered_post_quantum_known_answer_fails_its_check() {
    let name = checks::pq_suites::FILE_NAME;
    let text = std::fs::read_to_string(kat_dir().join(name)).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let providers = all_providers();
    let fields: [&[&str]; 5] = [
        &["derive_key_pair", "sk"],
        &["derive_key_pair", "pk"],
        &["welcome"],
        &["init_priv"],
        &["epoch_authenticator"],
    ];
    for index in 0..json.as_array().unwrap().len() {
        for path in fields {
            let mut tampered = json.clone();
            let mut field = &mut tampered[index];
            for key in path {
                field = &mut field[*key];
            }
            // The Welcome's last byte (the GroupInfo's AEAD tag); otherwise the first byte:
            // an ML-KEM seed's last 32 bytes (`z`) only matter for invalid ciphertexts
            // (FIPS 203 §6.3).
            let mut bytes = hex::decode(field.as_str().unwrap()).unwrap();
            let at = if path == ["welcome"] {
                bytes.len() - 1
            } else {
                0
            };
            bytes[at] ^= 0x40;
            *field = serde_json::Value::String(hex::encode(bytes));
            let mut report = conclave_vectors::Report::default();
            checks::checker_for(name).unwrap()(&tampered, &providers, &mut report);
            let prefix = format!("case {index} ");
            let failed = report
                .failures
                .iter()
                .filter(|f| f.starts_with(&prefix))
                .count();
            assert_eq!(
                failed, 2,
                "case {index}: tampered {path:?} must fail on both providers"
            );
            assert_eq!(report.failures.len(), 2, "only case {index} fails");
        }
    }
}

fn known_answers_pass(name: &str, at_least: usize) {
    let path = kat_dir().join(name);
    assert!(path.is_file(), "{} not found", path.display());
    assert!(checks::checker_for(name).is_some(), "no checker for {name}");
    match conclave_vectors::run_file(&path, name, &all_providers()) {
        FileOutcome::Checked(report) => {
            assert!(
                report.total() >= at_least,
                "{name}: only {} checks",
                report.total()
            );
            assert!(
                report.failures.is_empty(),
                "{name}: {}/{} passed; failures:\n{}",
                report.passed,
                report.total(),
                report.failures.join("\n")
            );
        }
        other => panic!("{name}: {other:?}"),
    }
}

#[test]
fn the_committed_known_answers_are_what_the_generator_writes() {
    for (name, _) in KAT_FILES {
        let committed = std::fs::read_to_string(kat_dir().join(name)).unwrap();
        assert_eq!(
            committed,
            kat_file_contents(name).unwrap(),
            "{name}: regenerate with `cargo run -p conclave-vectors --bin conclave-vectors -- \
             --write-kat` and review the diff"
        );
    }
}

#[test]
fn a_tampered_structure_encoding_fails_its_check() {
    let name = checks::extensions_structures::FILE_NAME;
    let text = std::fs::read_to_string(kat_dir().join(name)).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let providers = all_providers();
    let cases = json.as_array().unwrap();
    for index in 0..cases.len() {
        let mut tampered = json.clone();
        let case = &mut tampered[index];
        let field = if case["structure"] == "MultiCredential" {
            &mut case["bindings"][1]["signature"]
        } else {
            &mut case["encoding"]
        };
        let mut bytes = hex::decode(field.as_str().unwrap()).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        *field = serde_json::Value::String(hex::encode(bytes));
        let mut report = conclave_vectors::Report::default();
        checks::checker_for(name).unwrap()(&tampered, &providers, &mut report);
        assert!(
            !report.failures.is_empty(),
            "case {index} ({}) passed tampered",
            case_name(&json, index)
        );
    }
}

fn case_name(json: &serde_json::Value, index: usize) -> String {
    json.get(index)
        .and_then(|case| case.get("structure"))
        .and_then(serde_json::Value::as_str)
        .unwrap_or("?")
        .to_owned()
}

#[test]
fn a_tampered_known_answer_fails_its_check() {
    let name = checks::extensions_safe::FILE_NAME;
    let text = std::fs::read_to_string(kat_dir().join(name)).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let fields = [
        ("serialized_label", None),
        ("sign", Some("signature")),
        ("encrypt", Some("ciphertext")),
        ("application_psk", Some("psk_secret")),
    ];
    let providers = all_providers();
    for (field, inner) in fields {
        let mut tampered = json.clone();
        let case = &mut tampered[0];
        let slot = match inner {
            Some(inner) => &mut case[field][inner],
            None => &mut case[field],
        };
        let mut bytes = hex::decode(slot.as_str().unwrap()).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        *slot = serde_json::Value::String(hex::encode(bytes));
        let mut report = conclave_vectors::Report::default();
        checks::checker_for(name).unwrap()(&tampered, &providers, &mut report);
        assert!(
            !report.failures.is_empty(),
            "tampered {field}/{inner:?} passed"
        );
    }
    // Exporter secrets too.
    let secret = &mut json[0]["exporter"]["exports"][2]["secret"];
    let mut bytes = hex::decode(secret.as_str().unwrap()).unwrap();
    bytes[0] ^= 0x80;
    *secret = serde_json::Value::String(hex::encode(bytes));
    let mut report = conclave_vectors::Report::default();
    checks::checker_for(name).unwrap()(&json, &providers, &mut report);
    assert!(!report.failures.is_empty(), "tampered export passed");
}
