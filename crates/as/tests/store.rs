//! What only the SQLite engine of the AS store does (RFC 9750 §4): the token's hash, never
//! the token, in the file; WAL; the file readable by its owner only; and `setup::open` with
//! its admin token file. The behaviour every engine shares (tokens taken once, also by racing
//! stores, expiry, serials, one root, revocations, restarts, schema versions) is in
//! `store_conformance.rs`.

// Test code: a panic is a test failure (clippy.toml allows this in #[test] functions; the
// helpers of this file are test code too).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use conclave_as::setup::{AsOptions, open};
use conclave_as::sqlite::SqliteAsStore;
use conclave_as::{AsStore, AsStoreError, AuthenticationService, TokenUse};
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
    assert_eq!(versions, vec![1, 2]);
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
    assert!(
        matches!(err, AsStoreError::SchemaTooNew { found: 99, .. }),
        "{err}"
    );
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
