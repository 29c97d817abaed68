//! Several `conclave-as` processes on one PostgreSQL database are one Authentication Service
//! (RFC 9750 §4): started together on a new database they create one root; a token minted
//! through one is good once through any; a revocation made through one is listed by all at
//! once. (The full scenario, with DS nodes and CLI clients, is `crates/cli/tests/multi_node.rs`.)

// Test code: a panic is a test failure (clippy.toml allows this in #[test] functions; the
// helpers of this file are test code too).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../../ds/tests/common/mod.rs"]
mod common;

use conclave_api::{ApiError, AsClient};
use conclave_as::EnrolmentRequest;
use conclave_core::messages::SignaturePublicKey;
use conclave_crypto::{CipherSuite, CryptoProvider};
use conclave_crypto_rustcrypto::RustCryptoProvider;
use conclave_service::OsRandom;

use common::{postgres_url, unique};
use conclave_testkit::process::Process;

/// A fresh database on the test server; dropped at the end.
async fn fresh_database(server: &str) -> (String, impl AsyncFnOnce()) {
    let (admin, connection) = tokio_postgres::connect(server, tokio_postgres::NoTls)
        .await
        .unwrap();
    let driver = tokio::spawn(connection);
    let name = unique("as_nodes").replace('-', "_");
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let url = match server.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("unexpected PostgreSQL URL {server}"),
    };
    let drop_it = async move || {
        admin
            .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .await
            .unwrap();
        drop(admin);
        let _ = driver.await;
    };
    (url, drop_it)
}

fn enrolment(name: &str, token: &str) -> EnrolmentRequest {
    let cs = RustCryptoProvider
        .cipher_suite_provider(CipherSuite(1))
        .unwrap();
    let (secret, public) = cs.signature_generate(&mut OsRandom).unwrap();
    EnrolmentRequest::sign(
        cs.as_ref(),
        name,
        SignaturePublicKey(public),
        &secret,
        token.as_bytes().to_vec(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_processes_on_one_postgres_database_are_one_authentication_service() {
    let Some(server) = postgres_url() else {
        return;
    };
    let (url, drop_database) = fresh_database(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let admin_file = dir.path().join("admin-token");
    std::fs::write(&admin_file, "shared-admin-token\n").unwrap();

    // Three processes started at once on the new database.
    let starts: Vec<_> = (0..3)
        .map(|_| {
            let url = url.clone();
            let admin_file = admin_file.clone();
            std::thread::spawn(move || {
                Process::start(
                    env!("CARGO_BIN_EXE_conclave-as"),
                    &[
                        "--listen",
                        "127.0.0.1:0",
                        "--database",
                        &url,
                        "--pool-size",
                        "2",
                        "--admin-token-file",
                        admin_file.to_str().unwrap(),
                    ],
                    &[],
                )
            })
        })
        .collect();
    let nodes: Vec<Process> = starts.into_iter().map(|h| h.join().unwrap()).collect();
    let clients: Vec<AsClient> = nodes
        .iter()
        .map(|n| AsClient::new(&n.base).unwrap())
        .collect();

    let mut roots = Vec::new();
    for client in &clients {
        client.health().await.unwrap();
        roots.push(client.root().await.unwrap());
    }
    assert!(roots.iter().all(|r| *r == roots[0]), "several roots");

    // Minted through node 0, used through node 1, then refused through node 2.
    let token = clients[0]
        .issue_token("shared-admin-token", "alice")
        .await
        .unwrap();
    clients[1].enrol(&enrolment("alice", &token)).await.unwrap();
    let again = clients[2].enrol(&enrolment("alice", &token)).await;
    assert!(
        matches!(&again, Err(ApiError::Refused { code, .. }) if code == "invalid_token"),
        "{again:?}"
    );

    // Revoked through node 2: listed by every node at once, and enrolment refused.
    clients[2]
        .revoke("shared-admin-token", "alice")
        .await
        .unwrap();
    for client in &clients {
        assert_eq!(client.revoked().await.unwrap(), vec!["mls://alice"]);
    }
    let token = clients[1]
        .issue_token("shared-admin-token", "alice")
        .await
        .unwrap();
    let refused = clients[0].enrol(&enrolment("alice", &token)).await;
    assert!(
        matches!(&refused, Err(ApiError::Refused { code, .. }) if code == "revoked"),
        "{refused:?}"
    );

    drop(nodes);
    drop_database().await;
}
