//! The AS store conformance suite (RFC 9750 §4): every engine behind the `AsStore` trait must
//! pass it, SQLite always and PostgreSQL when `CONCLAVE_TEST_POSTGRES_URL` is set (mandatory
//! under `CI=true`; each test gets a database of its own). Several store instances on one
//! database stand for several AS processes: one root however many create it at once, a
//! token taken once however many race for it, serials never repeated, revocations seen by
//! every instance as soon as they are made.

// Test code: a panic is a test failure (clippy.toml allows this in #[test] functions; the
// helpers of this file are test code too).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Barrier};

use conclave_as::postgres::PostgresAsStore;
use conclave_as::setup::{AsOptions, open, open_store};
use conclave_as::sqlite::SqliteAsStore;
use conclave_as::{
    AsError, AsStore, AsStoreError, AuthenticationService, EnrolmentRequest, IssuedCertificate,
    RenewalRecorded, StoredRoot, TokenUse,
};
use conclave_core::credential::{
    CredentialCheck, CredentialRole, IdentityProvider, X509IdentityProvider,
};
use conclave_core::messages::{Credential, SignaturePublicKey};
use conclave_crypto::{CipherSuite, CipherSuiteProvider, CryptoProvider, Secret};
use conclave_crypto_rustcrypto::RustCryptoProvider;
use conclave_service::OsRandom;

const NOW: u64 = 1_750_000_000;

use conclave_testkit::postgres::{TestDatabase, execute, server_url};

/// A fresh database of one engine; dropped (PostgreSQL) or deleted (SQLite) with the value.
enum Database {
    Sqlite {
        _dir: tempfile::TempDir,
        path: PathBuf,
    },
    Postgres(TestDatabase),
}

impl Database {
    fn engine(&self) -> &'static str {
        match self {
            Self::Sqlite { .. } => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// The database's URL, as `setup::open` takes it.
    fn url(&self) -> String {
        match self {
            Self::Sqlite { path, .. } => format!("sqlite:{}", path.display()),
            Self::Postgres(database) => database.url().to_owned(),
        }
    }

    /// A store on the database, as one more AS process would open it.
    fn open(&self) -> Box<dyn AsStore> {
        self.try_open().unwrap()
    }

    fn try_open(&self) -> Result<Box<dyn AsStore>, AsStoreError> {
        Ok(match self {
            Self::Sqlite { path, .. } => Box::new(SqliteAsStore::open(path)?),
            Self::Postgres(_) => Box::new(PostgresAsStore::connect(&self.url(), 4)?),
        })
    }

    /// Runs `sql` on the database directly.
    fn execute(&self, sql: &str) {
        match self {
            Self::Sqlite { path, .. } => rusqlite::Connection::open(path)
                .unwrap()
                .execute_batch(sql)
                .unwrap(),
            Self::Postgres(_) => execute(&self.url(), sql),
        }
    }
}

/// A fresh database of each engine: SQLite always, PostgreSQL when configured.
fn databases() -> Vec<Database> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("as.db");
    let mut out = vec![Database::Sqlite { _dir: dir, path }];
    if let Some(server) = server_url() {
        out.push(Database::Postgres(TestDatabase::create(
            &server,
            "conclave_as",
        )));
    }
    out
}

fn cs(suite: u16) -> Box<dyn CipherSuiteProvider> {
    RustCryptoProvider
        .cipher_suite_provider(CipherSuite(suite))
        .unwrap()
}

fn service(
    store: Box<dyn AsStore>,
    suite: u16,
    now: u64,
) -> AuthenticationService<Box<dyn AsStore>> {
    AuthenticationService::open_or_create(store, cs(suite), now, &mut OsRandom).unwrap()
}

/// Enrols `name` with a fresh key; returns the credential and the key.
fn enrol<S: AsStore>(
    service: &AuthenticationService<S>,
    name: &str,
    now: u64,
) -> Result<(Credential, SignaturePublicKey), AsError> {
    let cs = cs(service.cipher_suite().0);
    let (secret, public) = cs.signature_generate(&mut OsRandom).unwrap();
    let token = service.issue_token(name, now, &mut OsRandom)?;
    let request = EnrolmentRequest::sign(
        cs.as_ref(),
        name,
        SignaturePublicKey(public.clone()),
        &secret,
        token,
    )
    .unwrap();
    Ok((service.enrol(&request, now)?, SignaturePublicKey(public)))
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
fn a_token_is_taken_once_and_only_by_its_owner() {
    for db in databases() {
        let engine = db.engine();
        let store = db.open();
        store.insert_token("alice", b"hash-a", NOW + 60).unwrap();
        assert_eq!(
            store.take_token("bob", b"hash-a", NOW).unwrap(),
            TokenUse::Invalid,
            "{engine}: another name's token"
        );
        assert_eq!(
            store.take_token("alice", b"hash-a", NOW).unwrap(),
            TokenUse::Valid,
            "{engine}: the owner's, once"
        );
        assert_eq!(
            store.take_token("alice", b"hash-a", NOW).unwrap(),
            TokenUse::Invalid,
            "{engine}: used up"
        );
        assert_eq!(
            store.take_token("alice", b"unknown", NOW).unwrap(),
            TokenUse::Invalid,
            "{engine}: unknown"
        );
    }
}

#[test]
fn two_stores_racing_for_one_token_let_exactly_one_take_it() {
    for db in databases() {
        let engine = db.engine();
        // Two store instances on one database, as two AS processes have; eight threads.
        let stores: [Arc<dyn AsStore>; 2] = [Arc::from(db.open()), Arc::from(db.open())];
        for round in 0..5u8 {
            let hash = vec![round; 32];
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
            assert_eq!(valid, 1, "{engine}, round {round}: {outcomes:?}");
            assert!(
                outcomes
                    .iter()
                    .all(|o| matches!(o, TokenUse::Valid | TokenUse::Invalid)),
                "{engine}: {outcomes:?}"
            );
        }
    }
}

#[test]
fn two_services_enrolling_with_one_token_issue_one_certificate() {
    for db in databases() {
        let engine = db.engine();
        let first = Arc::new(service(db.open(), 1, NOW));
        let second = Arc::new(service(db.open(), 1, NOW));
        let cs = cs(1);
        let token = first.issue_token("dora", NOW, &mut OsRandom).unwrap();
        let (secret, public) = cs.signature_generate(&mut OsRandom).unwrap();
        let request = EnrolmentRequest::sign(
            cs.as_ref(),
            "dora",
            SignaturePublicKey(public),
            &secret,
            token,
        )
        .unwrap();
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = [first.clone(), second.clone()]
            .into_iter()
            .map(|service| {
                let barrier = barrier.clone();
                let request = request.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    service.enrol(&request, NOW)
                })
            })
            .collect();
        let outcomes: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(
            outcomes.iter().filter(|o| o.is_ok()).count(),
            1,
            "{engine}: {outcomes:?}"
        );
        assert!(
            outcomes
                .iter()
                .any(|o| matches!(o, Err(AsError::InvalidToken))),
            "{engine}: {outcomes:?}"
        );
        assert_eq!(first.issued("dora").unwrap().len(), 1, "{engine}");
    }
}

#[test]
fn expired_tokens_are_refused_used_up_and_pruned() {
    for db in databases() {
        let engine = db.engine();
        let store = db.open();
        store.insert_token("dave", b"h1", NOW + 100).unwrap();
        store.insert_token("dave", b"h2", NOW + 100).unwrap();
        store.insert_token("dave", b"h3", NOW + 1000).unwrap();
        // At its expiry second it is still valid; after, it is expired (and used up).
        assert_eq!(
            store.take_token("dave", b"h1", NOW + 100).unwrap(),
            TokenUse::Valid,
            "{engine}"
        );
        assert_eq!(
            store.take_token("dave", b"h2", NOW + 101).unwrap(),
            TokenUse::Expired,
            "{engine}"
        );
        assert_eq!(
            store.take_token("dave", b"h2", NOW).unwrap(),
            TokenUse::Invalid,
            "{engine}"
        );
        store.insert_token("dave", b"h4", NOW + 100).unwrap();
        assert_eq!(store.prune_tokens(NOW + 500).unwrap(), 1, "{engine}");
        assert_eq!(
            store.take_token("dave", b"h4", NOW).unwrap(),
            TokenUse::Invalid,
            "{engine}"
        );
        assert_eq!(
            store.take_token("dave", b"h3", NOW + 500).unwrap(),
            TokenUse::Valid,
            "{engine}"
        );

        // Through the service: a token issued with a one-hour lifetime fails after it.
        let service = service(db.open(), 1, NOW).with_token_lifetime(3600);
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
            Err(AsError::ExpiredToken),
            "{engine}"
        );
        assert_eq!(
            service.enrol(&request, NOW),
            Err(AsError::InvalidToken),
            "{engine}"
        );
    }
}

#[test]
fn serials_are_unique_across_stores_and_never_the_roots() {
    for db in databases() {
        let engine = db.engine();
        let stores: [Arc<dyn AsStore>; 2] = [Arc::from(db.open()), Arc::from(db.open())];
        let barrier = Arc::new(Barrier::new(6));
        let handles: Vec<_> = (0..6)
            .map(|i| {
                let store = stores[i % 2].clone();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    (0..25)
                        .map(|_| store.next_serial().unwrap())
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        let serials: Vec<u64> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        let distinct: HashSet<u64> = serials.iter().copied().collect();
        assert_eq!(
            distinct.len(),
            150,
            "{engine}: a serial was handed out twice"
        );
        assert!(
            serials.iter().all(|s| *s >= 2),
            "{engine}: serial 1 is the root's"
        );
    }
}

/// A root of made-up bytes: the store keeps roots, it does not check them.
fn fake_root(tag: u8) -> StoredRoot {
    StoredRoot {
        cipher_suite: 1,
        secret_key: Secret::new(vec![tag; 32]),
        public_key: vec![tag; 32],
        certificate: vec![tag; 100],
    }
}

#[test]
fn of_two_stores_storing_a_root_at_once_exactly_one_does() {
    for db in databases() {
        let engine = db.engine();
        let stores: [Arc<dyn AsStore>; 2] = [Arc::from(db.open()), Arc::from(db.open())];
        assert_eq!(stores[1].load_root().unwrap(), None, "{engine}");
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = (0..2u8)
            .map(|i| {
                let store = stores[usize::from(i)].clone();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    store.store_root(&fake_root(i + 1)).unwrap()
                })
            })
            .collect();
        let stored: Vec<bool> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(
            stored.iter().filter(|s| **s).count(),
            1,
            "{engine}: {stored:?}"
        );
        let winner = if stored[0] { 1 } else { 2 };
        for store in &stores {
            assert_eq!(
                store.load_root().unwrap(),
                Some(fake_root(winner)),
                "{engine}: every store sees the one root"
            );
        }
        // A later attempt keeps it.
        assert!(!stores[0].store_root(&fake_root(9)).unwrap(), "{engine}");
    }
}

#[test]
fn services_starting_together_on_a_new_database_share_one_root() {
    for round in 0..2 {
        for db in databases() {
            let engine = db.engine();
            let db = Arc::new(db);
            let barrier = Arc::new(Barrier::new(3));
            let handles: Vec<_> = (0..3)
                .map(|_| {
                    let db = db.clone();
                    let barrier = barrier.clone();
                    std::thread::spawn(move || {
                        // Opened together too (a new file or database, migrated by whoever
                        // comes first); a failure must not leave the others at the barrier.
                        barrier.wait();
                        let store = db.try_open();
                        barrier.wait();
                        let service = service(store.unwrap(), 1, NOW);
                        service.root_certificate().to_vec()
                    })
                })
                .collect();
            let roots: HashSet<Vec<u8>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            assert_eq!(roots.len(), 1, "{engine}, round {round}: several roots");
            let stored = db.open().load_root().unwrap().unwrap();
            assert!(roots.contains(&stored.certificate), "{engine}");
        }
    }
}

#[test]
fn revocations_are_seen_by_every_store_at_once_and_block_enrolment() {
    for db in databases() {
        let engine = db.engine();
        let (a, b) = (db.open(), db.open());
        assert!(!b.is_revoked("mallory").unwrap(), "{engine}");
        a.revoke("mallory").unwrap();
        assert!(
            b.is_revoked("mallory").unwrap(),
            "{engine}: not seen at once"
        );
        b.revoke("eve").unwrap();
        a.revoke("mallory").unwrap(); // idempotent
        assert_eq!(
            a.revoked().unwrap(),
            vec!["eve".to_owned(), "mallory".to_owned()],
            "{engine}"
        );
        drop((a, b));

        // After a restart, through the service.
        let service = service(db.open(), 1, NOW);
        assert_eq!(
            service.revoked().unwrap(),
            vec!["mls://eve".to_owned(), "mls://mallory".to_owned()],
            "{engine}"
        );
        assert!(!service.store().is_revoked("alice").unwrap(), "{engine}");
        assert_eq!(
            enrol(&service, "eve", NOW).map(|_| ()),
            Err(AsError::Revoked("eve".into())),
            "{engine}"
        );
    }
}

#[test]
fn the_root_and_issued_certificates_survive_a_restart() {
    for suite in [1u16, 2, 3] {
        for db in databases() {
            let engine = db.engine();
            let (root, alice, alice_key, alice_serial) = {
                let service = service(db.open(), suite, NOW);
                let (credential, key) = enrol(&service, "alice", NOW).unwrap();
                let issued = service.issued("alice").unwrap();
                assert_eq!(issued.len(), 1, "{engine}");
                let Credential::X509 { certificates } = &credential else {
                    panic!("not an X.509 credential")
                };
                assert_eq!(issued[0].certificate, certificates[0].cert_data, "{engine}");
                (
                    service.root_certificate().to_vec(),
                    credential,
                    key,
                    issued[0].serial,
                )
            };
            // "Restart": a new store and service on the same database, later.
            let later = NOW + 3600;
            let service = service(db.open(), suite, later);
            assert_eq!(service.root_certificate(), root.as_slice(), "{engine}");
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
                "alice",
                "{engine}"
            );
            // Serials keep growing across restarts; issued certificates are remembered.
            let (bob, bob_key) = enrol(&service, "bob", later).unwrap();
            member_check(&root, &bob, &bob_key, suite, later).unwrap();
            let bob_issued: Vec<IssuedCertificate> = service.issued("bob").unwrap();
            assert!(bob_issued[0].serial > alice_serial, "{engine}");
            assert_eq!(service.issued("alice").unwrap().len(), 1, "{engine}");
            // Opening with another suite than the stored root's is refused.
            let err = AuthenticationService::open_or_create(
                db.open(),
                cs(if suite == 1 { 2 } else { 1 }),
                later,
                &mut OsRandom,
            )
            .unwrap_err();
            assert!(matches!(err, AsError::Root(_)), "{engine}: {err}");
        }
    }
}

#[test]
fn a_database_of_a_newer_schema_is_refused() {
    for db in databases() {
        let engine = db.engine();
        drop(db.open());
        drop(db.open());
        db.execute("INSERT INTO as_schema_migrations (version, applied_at) VALUES (99, 0)");
        let Err(err) = open_store(&db.url(), 2) else {
            panic!("{engine}: a newer schema was accepted");
        };
        assert_eq!(
            err,
            AsStoreError::SchemaTooNew {
                found: 99,
                supported: 2
            },
            "{engine}"
        );
        assert!(err.to_string().contains("schema version 99"), "{engine}");
    }
}

#[test]
fn setup_opens_either_engine_by_its_url() {
    for db in databases() {
        let engine = db.engine();
        let dir = tempfile::tempdir().unwrap();
        let options = AsOptions {
            database: db.url(),
            admin_token_file: dir.path().join("admin-token"),
            cipher_suite: 2,
            pool_size: 2,
            ..AsOptions::default()
        };
        let first = open(&options).unwrap();
        assert_eq!(first.service().cipher_suite(), CipherSuite(2), "{engine}");
        first.service().health().unwrap();
        let root = first.service().root_certificate().to_vec();
        // A second process on the same database, with its own admin token file, asking for
        // another suite: the stored root and its suite win.
        let second = open(&AsOptions {
            admin_token_file: dir.path().join("other-admin-token"),
            cipher_suite: 1,
            ..options.clone()
        })
        .unwrap();
        assert_eq!(second.service().cipher_suite(), CipherSuite(2), "{engine}");
        assert_eq!(
            second.service().root_certificate(),
            root.as_slice(),
            "{engine}"
        );
    }
    let Err(err) = open_store("mysql://root@localhost/as", 2) else {
        panic!("a mysql: URL was accepted");
    };
    assert!(matches!(err, AsStoreError::Config(_)), "{err}");
}

/// An issued certificate of made-up bytes: the store records certificates, it does not
/// check them.
fn fake_certificate(name: &str, serial: u64) -> IssuedCertificate {
    IssuedCertificate {
        name: name.to_owned(),
        serial,
        not_before: NOW,
        not_after: NOW + 3600,
        certificate: format!("certificate {serial}").into_bytes(),
    }
}

#[test]
fn only_the_latest_certificate_renews_and_a_request_is_used_once() {
    for db in databases() {
        let engine = db.engine();
        let store = db.open();
        store.record_issued(fake_certificate("alice", 10)).unwrap();
        store.record_issued(fake_certificate("alice", 11)).unwrap();
        store.record_issued(fake_certificate("bob", 12)).unwrap();
        // From an older certificate: refused, and the request is not used up.
        assert_eq!(
            store
                .record_renewal(
                    fake_certificate("alice", 13),
                    10,
                    b"request 1",
                    NOW + 300,
                    NOW
                )
                .unwrap(),
            RenewalRecorded::Superseded,
            "{engine}"
        );
        // Another name's latest serial is not this name's.
        assert_eq!(
            store
                .record_renewal(
                    fake_certificate("alice", 13),
                    12,
                    b"request 1",
                    NOW + 300,
                    NOW
                )
                .unwrap(),
            RenewalRecorded::Superseded,
            "{engine}"
        );
        assert_eq!(
            store
                .record_renewal(
                    fake_certificate("alice", 13),
                    11,
                    b"request 1",
                    NOW + 300,
                    NOW
                )
                .unwrap(),
            RenewalRecorded::Recorded,
            "{engine}"
        );
        assert_eq!(store.issued("alice").unwrap().len(), 3);
        // The same request again; then, from the new latest certificate, a new request.
        assert_eq!(
            store
                .record_renewal(
                    fake_certificate("alice", 14),
                    13,
                    b"request 1",
                    NOW + 300,
                    NOW
                )
                .unwrap(),
            RenewalRecorded::Replayed,
            "{engine}"
        );
        assert_eq!(
            store
                .record_renewal(
                    fake_certificate("alice", 14),
                    13,
                    b"request 2",
                    NOW + 300,
                    NOW
                )
                .unwrap(),
            RenewalRecorded::Recorded,
            "{engine}"
        );
        // A used request is forgotten once it expired (it would be stale by then anyway).
        assert_eq!(
            store
                .record_renewal(
                    fake_certificate("alice", 15),
                    14,
                    b"request 1",
                    NOW + 1000,
                    NOW + 301
                )
                .unwrap(),
            RenewalRecorded::Recorded,
            "{engine}"
        );
    }
}

#[test]
fn two_stores_renewing_one_certificate_at_once_record_one() {
    for db in databases() {
        let engine = db.engine();
        let setup = db.open();
        setup.record_issued(fake_certificate("carol", 20)).unwrap();
        let stores: [Arc<dyn AsStore>; 2] = [Arc::from(db.open()), Arc::from(db.open())];
        let barrier = Arc::new(Barrier::new(8));
        let handles: Vec<_> = (0..8u64)
            .map(|i| {
                let store = stores[(i % 2) as usize].clone();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    store
                        .record_renewal(
                            fake_certificate("carol", 100 + i),
                            20,
                            format!("request {i}").as_bytes(),
                            NOW + 300,
                            NOW,
                        )
                        .unwrap()
                })
            })
            .collect();
        let recorded = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|r| *r == RenewalRecorded::Recorded)
            .count();
        assert_eq!(recorded, 1, "{engine}");
        assert_eq!(setup.issued("carol").unwrap().len(), 2, "{engine}");
    }
}
