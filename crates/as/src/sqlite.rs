//! The SQLite engine of the AS store (RFC 9750 §4): bundled SQLite in WAL mode, one file, a
//! versioned schema applied by migrations, for an AS on one machine. It holds the root key pair and certificate (so the trust
//! anchor survives restarts), the hashes of enrolment tokens with their expiry, issued
//! certificates, and revocations.
//!
//! The root private key is stored in the clear in the database file: the file is created
//! with mode 0600 on Unix, and in memory the key lives in a [`Secret`] (zeroized on drop).
//! Table names start with `as_`, so that the file could even be shared with the Delivery
//! Service's SQLite database without collisions.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use conclave_crypto::Secret;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::store::{
    AsStore, AsStoreError, IssuedCertificate, RenewalRecorded, StoredRoot, TokenUse, to_i64,
    to_suite, to_u64,
};

/// Schema migrations, applied in order; the version is the index + 1.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE as_root (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    cipher_suite INTEGER NOT NULL,
    secret_key   BLOB NOT NULL,
    public_key   BLOB NOT NULL,
    certificate  BLOB NOT NULL
);
CREATE TABLE as_tokens (
    token_hash BLOB PRIMARY KEY,
    name       TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX as_tokens_expiry ON as_tokens (expires_at);
CREATE TABLE as_serial (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    next INTEGER NOT NULL
);
INSERT INTO as_serial (id, next) VALUES (1, 2);
CREATE TABLE as_certificates (
    serial      INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    not_before  INTEGER NOT NULL,
    not_after   INTEGER NOT NULL,
    certificate BLOB NOT NULL
);
CREATE INDEX as_certificates_name ON as_certificates (name, serial);
CREATE TABLE as_revoked (
    name       TEXT PRIMARY KEY,
    revoked_at INTEGER NOT NULL DEFAULT (unixepoch())
);
"#,
    r#"
CREATE TABLE as_renewal_requests (
    request_id BLOB PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE INDEX as_renewal_requests_expiry ON as_renewal_requests (expires_at);
"#,
];

/// The SQLite AS store. Every call is synchronous (the HTTP layer runs it on the blocking
/// pool); one connection serializes the writes, which is plenty for an AS.
pub struct SqliteAsStore {
    conn: Mutex<Connection>,
}

impl core::fmt::Debug for SqliteAsStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SqliteAsStore").finish_non_exhaustive()
    }
}

fn db_error(e: rusqlite::Error) -> AsStoreError {
    AsStoreError::backend("sqlite", e)
}

/// Why opening a database failed: `Busy` when another connection was setting the same new file
/// up (SQLite answers "busy" at once where waiting could deadlock): worth another try.
enum OpenFailure {
    Busy(rusqlite::Error),
    Final(AsStoreError),
}

impl From<rusqlite::Error> for OpenFailure {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                Self::Busy(e)
            }
            _ => Self::Final(db_error(e)),
        }
    }
}

impl From<AsStoreError> for OpenFailure {
    fn from(e: AsStoreError) -> Self {
        Self::Final(e)
    }
}

impl OpenFailure {
    fn into_store_error(self) -> AsStoreError {
        match self {
            Self::Busy(e) => db_error(e),
            Self::Final(e) => e,
        }
    }
}

/// How long opening retries while other connections set the same new file up.
const OPEN_RETRY: std::time::Duration = std::time::Duration::from_secs(10);

fn migrate(conn: &mut Connection) -> Result<(), OpenFailure> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS as_schema_migrations (
            version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current: i64 = tx.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM as_schema_migrations",
        [],
        |r| r.get(0),
    )?;
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    if current > known {
        return Err(OpenFailure::Final(AsStoreError::SchemaTooNew {
            found: current,
            supported: known,
        }));
    }
    for (version, sql) in (1i64..).zip(MIGRATIONS.iter()) {
        if version <= current {
            continue;
        }
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO as_schema_migrations (version, applied_at) VALUES (?1, unixepoch())",
            params![version],
        )?;
    }
    Ok(tx.commit()?)
}

/// Creates the database file readable by its owner only (it holds the root private key).
#[cfg(unix)]
fn create_private_file(path: &Path) -> Result<(), AsStoreError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(AsStoreError::Config(format!(
            "cannot create {}: {e}",
            path.display()
        ))),
    }
}

#[cfg(not(unix))]
fn create_private_file(_path: &Path) -> Result<(), AsStoreError> {
    Ok(())
}

impl SqliteAsStore {
    /// Opens (creating if needed, mode 0600) the database at `path`, in WAL mode, and
    /// migrates it to the current schema. Processes opening a new file together take turns.
    pub fn open(path: &Path) -> Result<Self, AsStoreError> {
        create_private_file(path)?;
        let deadline = std::time::Instant::now() + OPEN_RETRY;
        loop {
            match Self::open_once(path) {
                Ok(store) => return Ok(store),
                Err(OpenFailure::Busy(e)) if std::time::Instant::now() < deadline => {
                    tracing::debug!(error = %e, "sqlite: the AS database is busy, opening again");
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(failure) => return Err(failure.into_store_error()),
            }
        }
    }

    fn open_once(path: &Path) -> Result<Self, OpenFailure> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(OpenFailure::Final(AsStoreError::backend(
                "sqlite",
                format!("could not enable WAL (journal_mode is {mode})"),
            )));
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        migrate(&mut conn)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// A private in-memory database (for tests and trials; nothing survives).
    pub fn in_memory() -> Result<Self, AsStoreError> {
        let mut conn = Connection::open_in_memory().map_err(db_error)?;
        migrate(&mut conn).map_err(OpenFailure::into_store_error)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// Opens a store from a `sqlite:` URL: `sqlite:./path.db`, `sqlite://path.db` or
    /// `sqlite::memory:`.
    pub fn from_url(url: &str) -> Result<Self, AsStoreError> {
        let rest = url.strip_prefix("sqlite:").ok_or_else(|| {
            AsStoreError::Config(format!(
                "not a SQLite URL: {url:?} (use sqlite:PATH or sqlite::memory:)"
            ))
        })?;
        if rest == ":memory:" {
            return Self::in_memory();
        }
        let path = rest.strip_prefix("//").unwrap_or(rest);
        if path.is_empty() {
            return Err(AsStoreError::Config("sqlite: URL without a path".into()));
        }
        Self::open(Path::new(path))
    }

    fn conn(&self) -> Result<MutexGuard<'_, Connection>, AsStoreError> {
        self.conn
            .lock()
            .map_err(|_| AsStoreError::backend("sqlite", "the connection's lock is poisoned"))
    }
}

fn issued_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, String, i64, i64, Vec<u8>)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

impl AsStore for SqliteAsStore {
    fn health(&self) -> Result<(), AsStoreError> {
        self.conn()?
            .query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
            .map(|_| ())
            .map_err(db_error)
    }

    fn load_root(&self) -> Result<Option<StoredRoot>, AsStoreError> {
        let row = self
            .conn()?
            .query_row(
                "SELECT cipher_suite, secret_key, public_key, certificate FROM as_root
                 WHERE id = 1",
                [],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        Secret::new(r.get::<_, Vec<u8>>(1)?),
                        r.get::<_, Vec<u8>>(2)?,
                        r.get::<_, Vec<u8>>(3)?,
                    ))
                },
            )
            .optional()
            .map_err(db_error)?;
        row.map(|(suite, secret_key, public_key, certificate)| {
            Ok(StoredRoot {
                cipher_suite: to_suite(suite)?,
                secret_key,
                public_key,
                certificate,
            })
        })
        .transpose()
    }

    fn store_root(&self, root: &StoredRoot) -> Result<bool, AsStoreError> {
        let changed = self
            .conn()?
            .execute(
                "INSERT INTO as_root (id, cipher_suite, secret_key, public_key, certificate)
                 VALUES (1, ?1, ?2, ?3, ?4) ON CONFLICT (id) DO NOTHING",
                params![
                    i64::from(root.cipher_suite),
                    root.secret_key.as_bytes(),
                    root.public_key,
                    root.certificate
                ],
            )
            .map_err(db_error)?;
        Ok(changed == 1)
    }

    fn insert_token(
        &self,
        name: &str,
        token_hash: &[u8],
        expires_at: u64,
    ) -> Result<(), AsStoreError> {
        self.conn()?
            .execute(
                "INSERT INTO as_tokens (token_hash, name, expires_at) VALUES (?1, ?2, ?3)",
                params![token_hash, name, to_i64(expires_at)?],
            )
            .map(|_| ())
            .map_err(db_error)
    }

    fn prune_tokens(&self, now: u64) -> Result<u64, AsStoreError> {
        let removed = self
            .conn()?
            .execute(
                "DELETE FROM as_tokens WHERE expires_at < ?1",
                params![to_i64(now)?],
            )
            .map_err(db_error)?;
        Ok(removed as u64)
    }

    fn take_token(
        &self,
        name: &str,
        token_hash: &[u8],
        now: u64,
    ) -> Result<TokenUse, AsStoreError> {
        // One statement: two concurrent enrolments cannot both consume the token.
        let expires_at: Option<i64> = self
            .conn()?
            .query_row(
                "DELETE FROM as_tokens WHERE token_hash = ?1 AND name = ?2 RETURNING expires_at",
                params![token_hash, name],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_error)?;
        Ok(match expires_at {
            None => TokenUse::Invalid,
            Some(e) if to_u64(e)? < now => TokenUse::Expired,
            Some(_) => TokenUse::Valid,
        })
    }

    fn next_serial(&self) -> Result<u64, AsStoreError> {
        let serial: i64 = self
            .conn()?
            .query_row(
                "UPDATE as_serial SET next = next + 1 WHERE id = 1 RETURNING next - 1",
                [],
                |r| r.get(0),
            )
            .map_err(db_error)?;
        to_u64(serial)
    }

    fn record_issued(&self, issued: IssuedCertificate) -> Result<(), AsStoreError> {
        self.conn()?
            .execute(
                "INSERT INTO as_certificates (serial, name, not_before, not_after, certificate)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    to_i64(issued.serial)?,
                    issued.name,
                    to_i64(issued.not_before)?,
                    to_i64(issued.not_after)?,
                    issued.certificate
                ],
            )
            .map(|_| ())
            .map_err(db_error)
    }

    fn record_renewal(
        &self,
        issued: IssuedCertificate,
        renewed_serial: u64,
        request_id: &[u8],
        request_expires_at: u64,
        now: u64,
    ) -> Result<RenewalRecorded, AsStoreError> {
        let mut conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db_error)?;
        tx.execute(
            "DELETE FROM as_renewal_requests WHERE expires_at < ?1",
            params![to_i64(now)?],
        )
        .map_err(db_error)?;
        let fresh = tx
            .execute(
                "INSERT INTO as_renewal_requests (request_id, expires_at) VALUES (?1, ?2)
                 ON CONFLICT (request_id) DO NOTHING",
                params![request_id, to_i64(request_expires_at)?],
            )
            .map_err(db_error)?;
        if fresh == 0 {
            return Ok(RenewalRecorded::Replayed);
        }
        let latest: Option<i64> = tx
            .query_row(
                "SELECT MAX(serial) FROM as_certificates WHERE name = ?1",
                params![issued.name],
                |r| r.get(0),
            )
            .map_err(db_error)?;
        if latest != Some(to_i64(renewed_serial)?) {
            // Dropping the transaction rolls the request back: it may be tried again.
            return Ok(RenewalRecorded::Superseded);
        }
        tx.execute(
            "INSERT INTO as_certificates (serial, name, not_before, not_after, certificate)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                to_i64(issued.serial)?,
                issued.name,
                to_i64(issued.not_before)?,
                to_i64(issued.not_after)?,
                issued.certificate
            ],
        )
        .map_err(db_error)?;
        tx.commit().map_err(db_error)?;
        Ok(RenewalRecorded::Recorded)
    }

    fn issued(&self, name: &str) -> Result<Vec<IssuedCertificate>, AsStoreError> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT serial, name, not_before, not_after, certificate FROM as_certificates
                 WHERE name = ?1 ORDER BY serial",
            )
            .map_err(db_error)?;
        let rows = stmt
            .query_map(params![name], issued_row)
            .map_err(db_error)?;
        let mut out = Vec::new();
        for row in rows {
            let (serial, name, not_before, not_after, certificate) = row.map_err(db_error)?;
            out.push(IssuedCertificate {
                name,
                serial: to_u64(serial)?,
                not_before: to_u64(not_before)?,
                not_after: to_u64(not_after)?,
                certificate,
            });
        }
        Ok(out)
    }

    fn revoke(&self, name: &str) -> Result<(), AsStoreError> {
        self.conn()?
            .execute(
                "INSERT INTO as_revoked (name) VALUES (?1) ON CONFLICT (name) DO NOTHING",
                params![name],
            )
            .map(|_| ())
            .map_err(db_error)
    }

    fn is_revoked(&self, name: &str) -> Result<bool, AsStoreError> {
        self.conn()?
            .query_row(
                "SELECT 1 FROM as_revoked WHERE name = ?1",
                params![name],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
            .map_err(db_error)
    }

    fn revoked(&self) -> Result<Vec<String>, AsStoreError> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached("SELECT name FROM as_revoked ORDER BY name")
            .map_err(db_error)?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(db_error)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(db_error)
    }
}
