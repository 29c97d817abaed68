//! The `conclave-as` binary: enrolment over HTTP, a restart on the same files keeps the root
//! and the admin token, SIGTERM drains and exits 0.

// Test code: a panic is a test failure (clippy.toml allows this in #[test] functions; the
// helpers of this file are test code too).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use conclave_api::AsClient;
use conclave_as::EnrolmentRequest;
use conclave_core::credential::{
    CredentialCheck, CredentialRole, IdentityProvider as _, X509IdentityProvider,
};
use conclave_core::messages::{Credential, SignaturePublicKey};
use conclave_crypto::{CipherSuite, CipherSuiteProvider, CryptoProvider};
use conclave_crypto_rustcrypto::RustCryptoProvider;
use conclave_service::OsRandom;

use conclave_testkit::process::Process;

fn cs() -> Box<dyn CipherSuiteProvider> {
    RustCryptoProvider
        .cipher_suite_provider(CipherSuite(1))
        .unwrap()
}

/// A fresh key pair and a signed request for `name` with `token`.
fn signed_request(name: &str, token: &str) -> (EnrolmentRequest, SignaturePublicKey) {
    let cs = cs();
    let (secret, public) = cs.signature_generate(&mut OsRandom).unwrap();
    let key = SignaturePublicKey(public);
    let request = EnrolmentRequest::sign(
        cs.as_ref(),
        name,
        key.clone(),
        &secret,
        token.as_bytes().to_vec(),
    )
    .unwrap();
    (request, key)
}

/// Validates `credential` as a member would, against `root`; returns its identity.
fn member_check(
    root: &[u8],
    credential: &Credential,
    key: &SignaturePublicKey,
    now: u64,
) -> Result<Vec<u8>, conclave_core::credential::CredentialError> {
    let provider = X509IdentityProvider::new([root], &RustCryptoProvider).unwrap();
    provider.validate_credential(&CredentialCheck {
        credential,
        signature_key: key,
        signature_scheme: cs().signature(),
        role: CredentialRole::Member,
        now,
    })?;
    provider.identity(credential)
}

fn start_as(dir: &std::path::Path) -> Process {
    let database = format!("sqlite:{}", dir.join("as.db").display());
    let token_file = dir.join("admin-token").display().to_string();
    Process::start(
        env!("CARGO_BIN_EXE_conclave-as"),
        &["--listen", "127.0.0.1:0", "--certificate-lifetime", "600"],
        &[
            ("CONCLAVE_AS_DATABASE", &database),
            ("CONCLAVE_AS_ADMIN_TOKEN_FILE", &token_file),
        ],
    )
}

#[tokio::test]
async fn the_binary_enrols_and_keeps_its_root_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let process = start_as(dir.path());
    let admin = std::fs::read_to_string(dir.path().join("admin-token")).unwrap();
    let admin = admin.trim().to_owned();
    let client = AsClient::new(&process.base).unwrap();
    client.health().await.unwrap();
    let root = client.root().await.unwrap();
    let token = client.issue_token(&admin, "alice").await.unwrap();
    let (request, key) = signed_request("alice", &token);
    let credential = client.enrol(&request).await.unwrap();
    let now = conclave_service::now_seconds();
    member_check(&root.root_certificate, &credential, &key, now).unwrap();
    // --certificate-lifetime 600 is honoured.
    assert!(member_check(&root.root_certificate, &credential, &key, now + 700).is_err());
    // Unknown paths get a JSON 404.
    let r = reqwest::get(format!("{}/v1/nothing", process.base))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let body: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(body["error"], "not_found");
    #[cfg(unix)]
    assert!(process.terminate().success());
    #[cfg(not(unix))]
    drop(process);

    // Restarted on the same files: same root, same admin token, the old credential valid.
    let process = start_as(dir.path());
    let client = AsClient::new(&process.base).unwrap();
    let again = client.root().await.unwrap();
    assert_eq!(again, root);
    member_check(&again.root_certificate, &credential, &key, now).unwrap();
    let token = client.issue_token(&admin, "bob").await.unwrap();
    let err = client.enrol(&request).await.unwrap_err();
    assert_eq!(err.code(), Some("invalid_token"));
    let (bob_request, key) = signed_request("bob", &token);
    let bob = client.enrol(&bob_request).await.unwrap();
    member_check(&root.root_certificate, &bob, &key, now).unwrap();
}
