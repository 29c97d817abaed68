//! The SQLite AS store and the persistent service (DESIGN.md §5): one-time tokens kept by
//! hash and consumed atomically, token expiry, revocations, the root surviving restarts (a
//! credential issued before a restart still validates after it), schema versioning, file
//! permissions, and `setup::open` with its admin token file.

// Test code: a panic is a test failure (clippy.toml allows this in #[test] functions; the
// helpers of this file are test code too).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::{Arc, Barrier};

use conclave_as::setup::{AsOptions, open};
use conclave_as::sqlite::SqliteAsStore;
use conclave_as::{
    AsError, AsStore, AuthenticationService, EnrolmentRequest, IssuedCertificate, TokenUse,
};
use conclave_core::credential::{
    CredentialCheck, CredentialRole, IdentityProvider, X509IdentityProvider,
};
use conclave_core::messages::{Credential, SignaturePublicKey};
use conclave_crypto::{CipherSuite, CipherSuiteProvider, CryptoProvider};
use conclave_crypto_rustcrypto::RustCryptoProvider;
use conclave_service::OsRandom;
use sha2::{Digest, Sha256};

const NOW: u64 = 1_750_000_000;

fn cs(suite: u16) -> Box<dyn CipherSuiteProvider> {
    RustCryptoProvider
        .cipher_suite_provider(CipherSuite(suite))
        .unwrap()
}

/// Enrols `name` with a fresh key; returns the credential and the key.
fn enrol<S: AsStore>(
    service: &AuthenticationService<S>,
    name: &str,
    now: u64,
) -> (Credential, SignaturePublicKey) {
    let cs = cs(service.cipher_suite().0);
    let (secret, public) = cs.signature_generate(&mut OsRandom).unwrap();
    let token = service.issue_token(name, now, &mut OsRandom).unwrap();
    let request = EnrolmentRequest::sign(
        cs.as_ref(),
        name,
        SignaturePublicKey(public.clone()),
        &secret,
        token,
    )
    .unwrap();
    (
        service.enrol(&request, now).unwrap(),
        SignaturePublicKey(public),
    )
}

fn member_check(
    root: &[u8],
    credential: &Credential,
    key: &SignaturePublicKey,
    suite: u16,
    now: u64,
) -> Result<(), conclave_core::credential::CredentialError> {
    X509IdentityProvider::new([root], &RustCryptoProvider)
        .unwrap()
        .validate_credential(&CredentialCheck {
            credential,
            signature_key: key,
            signature_scheme: cs(suite).signature(),
            role: CredentialRole::Member,
            now,
        })
}

#[test]
fn tokens_are_stored_by_hash_and_used_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("as.db");
    let service = AuthenticationService::open_or_create(
        SqliteAsStore::open(&path).unwrap(),
        cs(1),
        NOW,
        &mut OsRandom,
    )
    .unwrap();
    let token = service.issue_token("alice", NOW, &mut OsRandom).unwrap();

    // The database holds the token's SHA-256, never the token.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let stored: Vec<Vec<u8>> = conn
        .prepare("SELECT token_hash FROM as_tokens")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(stored, vec![Sha256::digest(&token).to_vec()]);
    let file = std::fs::read(&path).unwrap();
    assert!(!file.windows(token.len()).any(|w| w == token.as_slice()));

    // Another name cannot use it and does not consume it; the owner can, once.
    let store = service.store();
    let hash = Sha256::digest(&token).to_vec();
    assert_eq!(
        store.take_token("bob", &hash, NOW).unwrap(),
        TokenUse::Invalid
    );
    assert_eq!(
        store.take_token("alice", &hash, NOW).unwrap(),
        TokenUse::Valid
    );
    assert_eq!(
        store.take_token("alice", &hash, NOW).unwrap(),
        TokenUse::Invalid
    );
}

#[test]
fn concurrent_enrolments_consume_a_token_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("as.db");
    // Two store instances on one file (as two processes would have), eight threads.
    let stores = [
        Arc::new(SqliteAsStore::open(&path).unwrap()),
        Arc::new(SqliteAsStore::open(&path).unwrap()),
    ];
    for round in 0..5u8 {
        let hash = Sha256::digest([round]).to_vec();
        stores[0].insert_token("carol", &hash, NOW + 60).unwrap();
        let barrier = Arc::new(Barrier::new(8));
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let store = stores[i % 2].clone();
                let barrier = barrier.clone();
                let hash = hash.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    store.take_token("carol", &hash, NOW).unwrap()
                })
            })
            .collect();
        let outcomes: Vec<TokenUse> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let valid = outcomes.iter().filter(|o| **o == TokenUse::Valid).count();
        assert_eq!(valid, 1, "round {round}: {outcomes:?}");
    }
}

#[test]
fn expired_tokens_are_refused_and_pruned() {
    let store = SqliteAsStore::in_memory().unwrap();
    store.insert_token("dave", b"h1", NOW + 100).unwrap();
    store.insert_token("dave", b"h2", NOW + 100).unwrap();
    store.insert_token("dave", b"h3", NOW + 1000).unwrap();
    // At its expiry second it is still valid; after, it is expired (and used up).
    assert_eq!(
        store.take_token("dave", b"h1", NOW + 100).unwrap(),
        TokenUse::Valid
    );
    assert_eq!(
        store.take_token("dave", b"h2", NOW + 101).unwrap(),
        TokenUse::Expired
    );
    assert_eq!(
        store.take_token("dave", b"h2", NOW).unwrap(),
        TokenUse::Invalid
    );
    store.insert_token("dave", b"h4", NOW + 100).unwrap();
    assert_eq!(store.prune_tokens(NOW + 500).unwrap(), 1);
    assert_eq!(
        store.take_token("dave", b"h4", NOW).unwrap(),
        TokenUse::Invalid
    );
    assert_eq!(
        store.take_token("dave", b"h3", NOW + 500).unwrap(),
        TokenUse::Valid
    );

    // Through the service: a token issued with a one-hour lifetime fails after it.
    let service = AuthenticationService::open_or_create(
        SqliteAsStore::in_memory().unwrap(),
        cs(1),
        NOW,
        &mut OsRandom,
    )
    .unwrap()
    .with_token_lifetime(3600);
    let cs = cs(1);
    let (secret, public) = cs.signature_generate(&mut OsRandom).unwrap();
    let token = service.issue_token("erin", NOW, &mut OsRandom).unwrap();
    let request = EnrolmentRequest::sign(
        cs.as_ref(),
        "erin",
        SignaturePublicKey(public),
        &secret,
        token,
    )
    .unwrap();
    assert_eq!(
        service.enrol(&request, NOW + 3601),
        Err(AsError::ExpiredToken)
    );
    assert_eq!(service.enrol(&request, NOW), Err(AsError::InvalidToken));
}

#[test]
fn revocations_persist_and_block_enrolment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("as.db");
    {
        let store = SqliteAsStore::open(&path).unwrap();
        store.revoke("mallory").unwrap();
        store.revoke("eve").unwrap();
        store.revoke("mallory").unwrap(); // idempotent
    }
    let service = AuthenticationService::open_or_create(
        SqliteAsStore::open(&path).unwrap(),
        cs(1),
        NOW,
        &mut OsRandom,
    )
    .unwrap();
    assert_eq!(
        service.revoked().unwrap(),
        vec!["mls://eve".to_owned(), "mls://mallory".to_owned()]
    );
    assert!(service.store().is_revoked("eve").unwrap());
    assert!(!service.store().is_revoked("alice").unwrap());
    let cs = cs(1);
    let (secret, public) = cs.signature_generate(&mut OsRandom).unwrap();
    let token = service.issue_token("eve", NOW, &mut OsRandom).unwrap();
    let request = EnrolmentRequest::sign(
        cs.as_ref(),
        "eve",
        SignaturePublicKey(public),
        &secret,
        token,
    )
    .unwrap();
    assert_eq!(
        service.enrol(&request, NOW),
        Err(AsError::Revoked("eve".into()))
    );
}

#[test]
fn the_root_survives_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("as.db");
    for suite in [1u16, 2, 3] {
        let path = path.with_extension(format!("{suite}.db"));
        let (root, alice, alice_key, alice_serial) = {
            let service = AuthenticationService::open_or_create(
                SqliteAsStore::open(&path).unwrap(),
                cs(suite),
                NOW,
                &mut OsRandom,
            )
            .unwrap();
            let (credential, key) = enrol(&service, "alice", NOW);
            let issued = service.issued("alice").unwrap();
            assert_eq!(issued.len(), 1);
            let Credential::X509 { certificates } = &credential else {
                panic!("not an X.509 credential")
            };
            assert_eq!(issued[0].certificate, certificates[0].cert_data);
            (
                service.root_certificate().to_vec(),
                credential,
                key,
                issued[0].serial,
            )
        };
        // "Restart": a new store and service on the same file, later.
        let later = NOW + 3600;
        let service = AuthenticationService::open_or_create(
            SqliteAsStore::open(&path).unwrap(),
            cs(suite),
            later,
            &mut OsRandom,
        )
        .unwrap();
        assert_eq!(service.root_certificate(), root.as_slice());
        member_check(service.root_certificate(), &alice, &alice_key, suite, later).unwrap();
        assert_eq!(
            service
                .validate_credential(
                    &RustCryptoProvider,
                    &alice,
                    &alice_key,
                    cs(suite).signature(),
                    later
                )
                .unwrap(),
            "alice"
        );
        // Serials keep growing across restarts; issued certificates are remembered.
        let (bob, bob_key) = enrol(&service, "bob", later);
        member_check(&root, &bob, &bob_key, suite, later).unwrap();
        let bob_issued: Vec<IssuedCertificate> = service.issued("bob").unwrap();
        assert!(bob_issued[0].serial > alice_serial);
        assert_eq!(service.issued("alice").unwrap().len(), 1);
        // Opening with another suite than the stored root's is refused.
        let err = AuthenticationService::open_or_create(
            SqliteAsStore::open(&path).unwrap(),
            cs(if suite == 1 { 2 } else { 1 }),
            later,
            &mut OsRandom,
        )
        .unwrap_err();
        assert!(matches!(err, AsError::Root(_)), "{err}");
    }
}

#[test]
fn schema_is_versioned_and_the_file_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("as.db");
    drop(SqliteAsStore::open(&path).unwrap());
    drop(SqliteAsStore::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let versions: Vec<i64> = conn
        .prepare("SELECT version FROM as_schema_migrations ORDER BY version")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(versions, vec![1]);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode.to_ascii_lowercase(), "wal");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // A database from a newer binary is refused, not damaged.
    conn.execute(
        "INSERT INTO as_schema_migrations (version, applied_at) VALUES (99, 0)",
        [],
    )
    .unwrap();
    drop(conn);
    let err = SqliteAsStore::open(&path).unwrap_err();
    assert!(err.contains("schema version 99"), "{err}");
    assert!(SqliteAsStore::from_url("postgres://x").is_err());
}

#[test]
fn setup_opens_the_service_and_its_admin_token() {
    let dir = tempfile::tempdir().unwrap();
    let options = AsOptions {
        database: format!("sqlite:{}", dir.path().join("as.db").display()),
        admin_token_file: dir.path().join("admin-token"),
        cipher_suite: 2,
        ..AsOptions::default()
    };
    let first = open(&options).unwrap();
    let token = std::fs::read_to_string(&options.admin_token_file).unwrap();
    let token = token.trim();
    assert_eq!(token.len(), 64);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&options.admin_token_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let root = first.service().root_certificate().to_vec();
    assert_eq!(first.service().cipher_suite(), CipherSuite(2));
    drop(first);
    // A later start asking for suite 1 keeps the stored suite-2 root and the same token.
    let second = open(&AsOptions {
        cipher_suite: 1,
        ..options.clone()
    })
    .unwrap();
    assert_eq!(second.service().cipher_suite(), CipherSuite(2));
    assert_eq!(second.service().root_certificate(), root.as_slice());
    assert_eq!(
        std::fs::read_to_string(&options.admin_token_file)
            .unwrap()
            .trim(),
        token
    );
    // Unsupported suites and unusable files are reported.
    let fresh = AsOptions {
        database: "sqlite::memory:".into(),
        cipher_suite: 5,
        ..options.clone()
    };
    assert!(open(&fresh).is_err());
    std::fs::write(dir.path().join("empty"), "  \n").unwrap();
    let empty = AsOptions {
        admin_token_file: dir.path().join("empty"),
        ..options
    };
    assert!(open(&empty).unwrap_err().to_string().contains("empty"));
}
