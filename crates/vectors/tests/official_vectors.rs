//! Runs the official vector files through the same checkers as `conclave-vectors`.
//! A missing vector directory or file fails the test; nothing is skipped.

// A test crate: a panic in a helper is a test failure, not a crash on input.
#![allow(clippy::panic)]

use conclave_vectors::{FileOutcome, all_providers, checks, default_vector_dir};

fn assert_file_passes(name: &str) {
    let dir = default_vector_dir();
    let path = dir.join(name);
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(name)
        .to_owned();
    let name = name.as_str();
    assert!(
        path.is_file(),
        "vector file {} not found (set MLS_TEST_VECTORS to the test-vectors directory)",
        path.display()
    );
    let file_name = name.rsplit('/').next().unwrap_or(name);
    assert!(
        checks::checker_for(file_name).is_some(),
        "no checker for {name}"
    );
    let providers = all_providers();
    match conclave_vectors::run_file(&path, file_name, &providers) {
        FileOutcome::Checked(report) => {
            assert!(report.total() > 0, "{name}: no checks ran");
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

macro_rules! vector_tests {
    ($($test:ident => $file:literal),* $(,)?) => {
        $( #[test] fn $test() { assert_file_passes($file); } )*
    };
}

vector_tests! {
    crypto_basics => "crypto-basics.json",
    deserialization => "deserialization.json",
    key_schedule => "key-schedule.json",
    message_protection => "message-protection.json",
    messages => "messages.json",
    passive_client_welcome => "passive-client-welcome.json",
    passive_client_handling_commit => "passive-client-handling-commit.json",
    passive_client_random => "passive-client-random.json",
    psk_secret => "psk_secret.json",
    secret_tree => "secret-tree.json",
    transcript_hashes => "transcript-hashes.json",
    tree_math => "tree-math.json",
    treekem => "treekem.json",
    welcome => "welcome.json",
    tree_operations => "tree-operations.json",
    tree_validation => "tree-validation.json",
    targeted_messages_openmls => "drafts/targeted-messages-openmls.json",
    hpke_pq_mlspp => "drafts/hpke-pq-mlspp.json",
    partial_message_syntax => "partial/test-vector-partial-message-syntax.json",
    partial_message_syntax_spec => "partial/test-vector-partial-message-syntax-spec.json",
    partial_membership_proofs => "partial/test-vector-partial-membership-proofs.json",
    partial_membership_proofs_spec => "partial/test-vector-partial-membership-proofs-spec.json",
    partial_sender_authenticated_messages =>
        "partial/test-vector-partial-sender-authenticated-messages.json",
    partial_sender_authenticated_messages_spec =>
        "partial/test-vector-partial-sender-authenticated-messages-spec.json",
    partial_tree_operations => "partial/test-vector-partial-tree-operations.json",
    partial_tree_operations_spec => "partial/test-vector-partial-tree-operations-spec.json",
    partial_annotated_welcome => "partial/test-vector-partial-annotated-welcome.json",
    partial_annotated_welcome_spec => "partial/test-vector-partial-annotated-welcome-spec.json",
    partial_annotated_commit => "partial/test-vector-partial-annotated-commit.json",
    partial_annotated_commit_spec => "partial/test-vector-partial-annotated-commit-spec.json",
    partial_passive_client => "partial/test-vector-partial-passive-client-scenarios.json",
    partial_passive_client_spec => "partial/test-vector-partial-passive-client-scenarios-spec.json",
}

/// The Partial MLS directory holds the draft's 14 files (7 categories, each a full file and
/// its `-spec` subset), so that a partial or missing copy fails rather than runs less.
#[test]
fn the_partial_directory_holds_the_fourteen_files() {
    let dir = default_vector_dir().join("partial");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 14, "{names:?}");
    for category in [
        "annotated-commit",
        "annotated-welcome",
        "membership-proofs",
        "message-syntax",
        "passive-client-scenarios",
        "sender-authenticated-messages",
        "tree-operations",
    ] {
        for suffix in ["", "-spec"] {
            let name = format!("test-vector-partial-{category}{suffix}.json");
            assert!(names.contains(&name), "missing {name}");
        }
    }
}
