//! The client library links no server code: an application that embeds it must not pull in
//! the Delivery Service or the Authentication Service, their HTTP server (axum), their
//! databases' drivers (tokio-postgres, deadpool) or the certificate issuer (rcgen).

// Test code: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

/// Crates that belong to the services, never to a client.
const SERVER_ONLY: [&str; 8] = [
    "axum",
    "axum-core",
    "tokio-postgres",
    "deadpool-postgres",
    "rcgen",
    "conclave-ds",
    "conclave-as",
    "conclave-service",
];

#[test]
fn the_client_library_links_no_server_crate() {
    let output = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "--package",
            "conclave-client",
            "--edges",
            "normal,build",
            "--prefix",
            "none",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tree = String::from_utf8(output.stdout).unwrap();
    let crates: Vec<&str> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    // The tree is real: it holds the client and the protocol crates.
    for expected in ["conclave-client", "conclave-api", "conclave-core"] {
        assert!(
            crates.contains(&expected),
            "{expected} missing from:\n{tree}"
        );
    }
    for forbidden in SERVER_ONLY {
        assert!(
            !crates.contains(&forbidden),
            "conclave-client depends on {forbidden}:\n{tree}"
        );
    }
}
