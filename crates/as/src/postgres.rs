//! The PostgreSQL engine of the AS store (RFC 9750 §4): the same logical schema as the SQLite
//! engine, for several AS processes (`conclave-as`, or `conclave-ds --with-as` on several
//! nodes) sharing one database, and so one root, one token table and one revocation list.
//!
//! What makes sharing safe, each in one statement:
//! - **one root**: the root row has a fixed primary key and is inserted with
//!   `ON CONFLICT DO NOTHING`; of two processes creating a root at once, one inserts and the
//!   other loads that root ([`crate::AuthenticationService::open_or_create`]);
//! - **one-time tokens**: a token is consumed by `DELETE … RETURNING`; of two concurrent
//!   deletes of one row, the second waits for the first and then finds nothing;
//! - **unique serials**: a sequence (`nextval`), never rolled back, never repeated;
//! - **revocations**: a committed row, read by every process on every check (no cache).
//!
//! Migrations run in one transaction under an advisory lock of their own, so processes
//! starting together on a new database take turns. Tables start with `as_`, so the AS can
//! share the Delivery Service's database.
//!
//! The [`AsStore`] trait is synchronous (see [`crate::store`]). This engine keeps one code
//! path for both engines by driving tokio-postgres on a small runtime of its own, on a
//! thread of its own: a call hands its query to that runtime and waits for the answer. It
//! can therefore be called from any thread that may block (the blocking pool, a test
//! thread), whether or not that thread belongs to another runtime, and it never stops a
//! runtime from inside another one.
//!
//! The root private key is stored in the clear in the database: protect the database (its
//! role's password, `pg_hba.conf`, backups) as the key itself. Connections are unencrypted
//! (`NoTls`): run the database on the same host or a private network.

use std::future::Future;
use std::sync::mpsc;

use conclave_crypto::Secret;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use crate::store::{
    AsStore, AsStoreError, IssuedCertificate, RenewalRecorded, StoredRoot, TokenUse, to_i64,
    to_suite, to_u64,
};

/// Schema migrations, applied in order; the version is the index + 1.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE as_root (
    id           SMALLINT PRIMARY KEY CHECK (id = 1),
    cipher_suite INTEGER NOT NULL,
    secret_key   BYTEA NOT NULL,
    public_key   BYTEA NOT NULL,
    certificate  BYTEA NOT NULL
);
CREATE TABLE as_tokens (
    token_hash BYTEA PRIMARY KEY,
    name       TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX as_tokens_expiry ON as_tokens (expires_at);
-- Serial 1 is the root's.
CREATE SEQUENCE as_serial AS BIGINT START WITH 2 MINVALUE 2;
CREATE TABLE as_certificates (
    serial      BIGINT PRIMARY KEY,
    name        TEXT NOT NULL,
    not_before  BIGINT NOT NULL,
    not_after   BIGINT NOT NULL,
    certificate BYTEA NOT NULL
);
CREATE INDEX as_certificates_name ON as_certificates (name, serial);
CREATE TABLE as_revoked (
    name       TEXT PRIMARY KEY,
    revoked_at BIGINT NOT NULL DEFAULT (EXTRACT(EPOCH FROM now())::BIGINT)
);
"#,
    r#"
CREATE TABLE as_renewal_requests (
    request_id BYTEA PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX as_renewal_requests_expiry ON as_renewal_requests (expires_at);
"#,
];

/// Advisory lock key serialising the migrations of AS processes starting together (not the
/// Delivery Service's key: the two may share a database and migrate independently).
const MIGRATION_LOCK: i64 = i64::from_be_bytes(*b"clv-as-m");

/// Default number of pooled connections per process.
pub const DEFAULT_POOL_SIZE: usize = 8;

fn db_error(e: impl core::fmt::Display) -> AsStoreError {
    AsStoreError::backend("postgres", e)
}

/// The runtime that drives the PostgreSQL connections, on its own thread; stopped when the
/// store is dropped.
struct Driver {
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Driver {
    fn start() -> Result<Self, AsStoreError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| db_error(format!("cannot start the driver's runtime: {e}")))?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("conclave-as-postgres".into())
            .spawn(move || {
                // Runs the spawned queries and connections until the store is dropped (or
                // the sender with it); the runtime is then dropped on this thread, outside
                // any other runtime.
                runtime.block_on(async {
                    let _ = stopped.await;
                });
            })
            .map_err(|e| db_error(format!("cannot start the driver's thread: {e}")))?;
        Ok(Self {
            handle,
            stop: Some(stop),
        })
    }

    /// Runs `work` on the driver's runtime and waits for its result (blocking this thread).
    fn run<T, F>(&self, work: F) -> Result<T, AsStoreError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, AsStoreError>> + Send + 'static,
    {
        let (send, receive) = mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = send.send(work.await);
        });
        receive
            .recv()
            .map_err(|_| db_error("the driver stopped before answering"))?
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The PostgreSQL AS store: a connection pool driven by a runtime of its own (see the
/// module documentation). Every call blocks the calling thread until the database answers.
pub struct PostgresAsStore {
    pool: Pool,
    driver: Driver,
}

impl core::fmt::Debug for PostgresAsStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PostgresAsStore")
            .field("pool", &self.pool.status())
            .finish_non_exhaustive()
    }
}

/// Whether `url` names a PostgreSQL database (`postgres://…` or `postgresql://…`).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

impl PostgresAsStore {
    /// Connects to `url` (`postgres://user@host:port/db`) with a pool of at most `pool_size`
    /// connections, and migrates the schema. Blocking.
    pub fn connect(url: &str, pool_size: usize) -> Result<Self, AsStoreError> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| AsStoreError::Config(format!("postgres URL: {e}")))?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let driver = Driver::start()?;
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .build()
            .map_err(|e| AsStoreError::Config(format!("postgres pool: {e}")))?;
        let store = Self { pool, driver };
        store.migrate()?;
        Ok(store)
    }

    /// Runs `work` with a pooled connection on the driver's runtime.
    fn with_client<T, F, Fut>(&self, work: F) -> Result<T, AsStoreError>
    where
        T: Send + 'static,
        F: FnOnce(deadpool_postgres::Object) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, AsStoreError>> + Send + 'static,
    {
        let pool = self.pool.clone();
        self.driver.run(async move {
            let client = pool.get().await.map_err(db_error)?;
            work(client).await
        })
    }

    fn migrate(&self) -> Result<(), AsStoreError> {
        self.with_client(|mut client| async move {
            // Processes starting together take turns: even the bookkeeping table is created
            // under the lock (concurrent `CREATE TABLE IF NOT EXISTS` can fail on the
            // catalog).
            let tx = client.transaction().await.map_err(db_error)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
                .await
                .map_err(db_error)?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS as_schema_migrations (
                    version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
            )
            .await
            .map_err(db_error)?;
            let current: i64 = tx
                .query_one(
                    "SELECT COALESCE(MAX(version), 0) FROM as_schema_migrations",
                    &[],
                )
                .await
                .map_err(db_error)?
                .try_get(0)
                .map_err(db_error)?;
            let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
            if current > known {
                return Err(AsStoreError::SchemaTooNew {
                    found: current,
                    supported: known,
                });
            }
            for (version, sql) in (1i64..).zip(MIGRATIONS.iter()) {
                if version <= current {
                    continue;
                }
                tx.batch_execute(sql).await.map_err(db_error)?;
                tx.execute(
                    "INSERT INTO as_schema_migrations (version, applied_at)
                     VALUES ($1, EXTRACT(EPOCH FROM now())::BIGINT)",
                    &[&version],
                )
                .await
                .map_err(db_error)?;
                tracing::info!(version, "AS postgres: applied migration");
            }
            tx.commit().await.map_err(db_error)
        })
    }
}

impl AsStore for PostgresAsStore {
    fn health(&self) -> Result<(), AsStoreError> {
        self.with_client(|client| async move {
            client
                .query_one("SELECT 1", &[])
                .await
                .map(|_| ())
                .map_err(db_error)
        })
    }

    fn load_root(&self) -> Result<Option<StoredRoot>, AsStoreError> {
        self.with_client(|client| async move {
            let row = client
                .query_opt(
                    "SELECT cipher_suite, secret_key, public_key, certificate FROM as_root
                     WHERE id = 1",
                    &[],
                )
                .await
                .map_err(db_error)?;
            row.map(|row| {
                let suite: i32 = row.try_get(0).map_err(db_error)?;
                Ok(StoredRoot {
                    cipher_suite: to_suite(i64::from(suite))?,
                    secret_key: Secret::new(row.try_get::<_, Vec<u8>>(1).map_err(db_error)?),
                    public_key: row.try_get(2).map_err(db_error)?,
                    certificate: row.try_get(3).map_err(db_error)?,
                })
            })
            .transpose()
        })
    }

    fn store_root(&self, root: &StoredRoot) -> Result<bool, AsStoreError> {
        let root = root.clone();
        self.with_client(move |client| async move {
            let inserted = client
                .execute(
                    "INSERT INTO as_root (id, cipher_suite, secret_key, public_key, certificate)
                     VALUES (1, $1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
                    &[
                        &i32::from(root.cipher_suite),
                        &root.secret_key.as_bytes(),
                        &root.public_key,
                        &root.certificate,
                    ],
                )
                .await
                .map_err(db_error)?;
            Ok(inserted == 1)
        })
    }

    fn insert_token(
        &self,
        name: &str,
        token_hash: &[u8],
        expires_at: u64,
    ) -> Result<(), AsStoreError> {
        let (name, hash, expires_at) = (name.to_owned(), token_hash.to_vec(), to_i64(expires_at)?);
        self.with_client(move |client| async move {
            client
                .execute(
                    "INSERT INTO as_tokens (token_hash, name, expires_at) VALUES ($1, $2, $3)",
                    &[&hash, &name, &expires_at],
                )
                .await
                .map(|_| ())
                .map_err(db_error)
        })
    }

    fn prune_tokens(&self, now: u64) -> Result<u64, AsStoreError> {
        let now = to_i64(now)?;
        self.with_client(move |client| async move {
            client
                .execute("DELETE FROM as_tokens WHERE expires_at < $1", &[&now])
                .await
                .map_err(db_error)
        })
    }

    fn take_token(
        &self,
        name: &str,
        token_hash: &[u8],
        now: u64,
    ) -> Result<TokenUse, AsStoreError> {
        let (name, hash) = (name.to_owned(), token_hash.to_vec());
        // One statement: of two processes presenting the token at once, the second's delete
        // waits for the first's and then finds no row.
        let expires_at: Option<i64> = self.with_client(move |client| async move {
            client
                .query_opt(
                    "DELETE FROM as_tokens WHERE token_hash = $1 AND name = $2
                     RETURNING expires_at",
                    &[&hash, &name],
                )
                .await
                .map_err(db_error)?
                .map(|row| row.try_get(0).map_err(db_error))
                .transpose()
        })?;
        Ok(match expires_at {
            None => TokenUse::Invalid,
            Some(e) if to_u64(e)? < now => TokenUse::Expired,
            Some(_) => TokenUse::Valid,
        })
    }

    fn next_serial(&self) -> Result<u64, AsStoreError> {
        let serial: i64 = self.with_client(|client| async move {
            client
                .query_one("SELECT nextval('as_serial')", &[])
                .await
                .map_err(db_error)?
                .try_get(0)
                .map_err(db_error)
        })?;
        to_u64(serial)
    }

    fn record_issued(&self, issued: IssuedCertificate) -> Result<(), AsStoreError> {
        let (serial, not_before, not_after) = (
            to_i64(issued.serial)?,
            to_i64(issued.not_before)?,
            to_i64(issued.not_after)?,
        );
        self.with_client(move |client| async move {
            client
                .execute(
                    "INSERT INTO as_certificates (serial, name, not_before, not_after, certificate)
                     VALUES ($1, $2, $3, $4, $5)",
                    &[
                        &serial,
                        &issued.name,
                        &not_before,
                        &not_after,
                        &issued.certificate,
                    ],
                )
                .await
                .map(|_| ())
                .map_err(db_error)
        })
    }

    fn record_renewal(
        &self,
        issued: IssuedCertificate,
        renewed_serial: u64,
        request_id: &[u8],
        request_expires_at: u64,
        now: u64,
    ) -> Result<RenewalRecorded, AsStoreError> {
        let (serial, not_before, not_after) = (
            to_i64(issued.serial)?,
            to_i64(issued.not_before)?,
            to_i64(issued.not_after)?,
        );
        let (renewed, until, now) = (
            to_i64(renewed_serial)?,
            to_i64(request_expires_at)?,
            to_i64(now)?,
        );
        let request_id = request_id.to_vec();
        self.with_client(move |mut client| async move {
            let tx = client.transaction().await.map_err(db_error)?;
            // One renewal of a name at a time, across every AS process on the database.
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                &[&format!("as-renewal:{}", issued.name)],
            )
            .await
            .map_err(db_error)?;
            tx.execute(
                "DELETE FROM as_renewal_requests WHERE expires_at < $1",
                &[&now],
            )
            .await
            .map_err(db_error)?;
            let fresh = tx
                .execute(
                    "INSERT INTO as_renewal_requests (request_id, expires_at) VALUES ($1, $2)
                     ON CONFLICT (request_id) DO NOTHING",
                    &[&request_id, &until],
                )
                .await
                .map_err(db_error)?;
            if fresh == 0 {
                return Ok(RenewalRecorded::Replayed);
            }
            let latest: Option<i64> = tx
                .query_one(
                    "SELECT MAX(serial) FROM as_certificates WHERE name = $1",
                    &[&issued.name],
                )
                .await
                .map_err(db_error)?
                .try_get(0)
                .map_err(db_error)?;
            if latest != Some(renewed) {
                // Dropping the transaction rolls the request back: it may be tried again.
                return Ok(RenewalRecorded::Superseded);
            }
            tx.execute(
                "INSERT INTO as_certificates (serial, name, not_before, not_after, certificate)
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &serial,
                    &issued.name,
                    &not_before,
                    &not_after,
                    &issued.certificate,
                ],
            )
            .await
            .map_err(db_error)?;
            tx.commit().await.map_err(db_error)?;
            Ok(RenewalRecorded::Recorded)
        })
    }

    fn issued(&self, name: &str) -> Result<Vec<IssuedCertificate>, AsStoreError> {
        let name = name.to_owned();
        self.with_client(move |client| async move {
            let rows = client
                .query(
                    "SELECT serial, name, not_before, not_after, certificate FROM as_certificates
                     WHERE name = $1 ORDER BY serial",
                    &[&name],
                )
                .await
                .map_err(db_error)?;
            rows.iter()
                .map(|row| {
                    Ok(IssuedCertificate {
                        serial: to_u64(row.try_get(0).map_err(db_error)?)?,
                        name: row.try_get(1).map_err(db_error)?,
                        not_before: to_u64(row.try_get(2).map_err(db_error)?)?,
                        not_after: to_u64(row.try_get(3).map_err(db_error)?)?,
                        certificate: row.try_get(4).map_err(db_error)?,
                    })
                })
                .collect()
        })
    }

    fn revoke(&self, name: &str) -> Result<(), AsStoreError> {
        let name = name.to_owned();
        self.with_client(move |client| async move {
            client
                .execute(
                    "INSERT INTO as_revoked (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
                    &[&name],
                )
                .await
                .map(|_| ())
                .map_err(db_error)
        })
    }

    fn is_revoked(&self, name: &str) -> Result<bool, AsStoreError> {
        let name = name.to_owned();
        self.with_client(move |client| async move {
            client
                .query_opt("SELECT 1 FROM as_revoked WHERE name = $1", &[&name])
                .await
                .map(|row| row.is_some())
                .map_err(db_error)
        })
    }

    fn revoked(&self) -> Result<Vec<String>, AsStoreError> {
        self.with_client(|client| async move {
            client
                .query("SELECT name FROM as_revoked ORDER BY name", &[])
                .await
                .map_err(db_error)?
                .iter()
                .map(|row| row.try_get(0).map_err(db_error))
                .collect()
        })
    }
}
