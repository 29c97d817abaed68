//! The SQLite engine of the [`Store`]: bundled SQLite in WAL mode, one
//! writer connection (every write is a `BEGIN IMMEDIATE` transaction on it), a few reader
//! connections, and every call run on the blocking thread pool, never on the async runtime —
//! except the small indexed reads of every request (token, a member's page of the log), run
//! at once when a reader connection is free (`SqliteStore::read_small`).
//!
//! Group commit: appends that queue up while the writer is busy are applied together, each
//! in its own savepoint, in one transaction — one WAL sync (`synchronous=FULL`) for all of
//! them instead of one each. Every append is answered only after that transaction commits,
//! so an acknowledged message is as durable as before. One blocking task at a time drains
//! the queue (it is started by the append that finds none running), so queued appends do
//! not each hold a thread waiting for the writer.
//!
//! Tokens: a SQLite database is served by one DS process (as for the wake-ups, which the
//! handlers announce in process), so the store remembers the tokens it has checked
//! ([`TokenCache`]) and forgets a client's tokens in [`Store::update_client_credential`],
//! the one write that moves a client's token generation on, once it has committed. A token
//! revoked that way fails at once; expiry is checked against the clock on every use.
//! Two DS processes (or two stores in one process) on one SQLite file are not supported:
//! neither would see the other's credential changes in time.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};

use super::migrations::{self, Dialect, MigrationSession};
use super::rules::{self, AppendFacts, CommitDecision, CommitFacts, ProofFacts};
use super::{
    Appended, ClaimedKeyPackage, ClientRecord, CommitRecord, Committed, CredentialChange,
    CredentialUpdated, GroupKind, GroupRecord, KeyPackageStock, LogEntry, NewGroup, NewKeyPackage,
    NewMessage, Pruned, ReceiverKey, Registered, Store, StoreError, WelcomeEntry, to_i64, to_u64,
};
use super::{MemberProofKey, ProofUse};

/// Number of reader connections of a file database.
const READERS: usize = 4;

/// Most appends applied in one transaction.
const MAX_BATCH: usize = 512;

/// Most tokens [`TokenCache`] remembers; it is emptied when full.
const TOKEN_CACHE_CAPACITY: usize = 100_000;

/// The tokens this store has found valid: token hash → (client, expiry). See the module
/// comment for why this is correct for SQLite (one process) and not done for PostgreSQL.
#[derive(Default)]
struct TokenCache {
    valid: std::collections::HashMap<Vec<u8>, (String, u64)>,
    /// Moves on with every credential change. An answer read from the database before a
    /// change is not remembered after it (the change may have revoked it).
    changes: u64,
}

/// An append waiting for the writer connection.
struct AppendJob {
    group_id: Vec<u8>,
    message: NewMessage,
    now: u64,
    reply: tokio::sync::oneshot::Sender<Result<Appended, StoreError>>,
}

struct Inner {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    /// Appends not yet taken by a writer, and whether a task is draining them (see the
    /// module comment: group commit).
    appends: Mutex<AppendQueue>,
    tokens: Mutex<TokenCache>,
}

#[derive(Default)]
struct AppendQueue {
    jobs: Vec<AppendJob>,
    draining: bool,
}

/// The SQLite store.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

impl core::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Room for every statement the store prepares (the default, 16, is fewer than the
    // writer's, which then evict each other).
    conn.set_prepared_statement_cache_capacity(128);
    // Plans that do not depend on the values bound: the bundled SQLite (STAT4) otherwise
    // re-compiles a cached statement with a range on a parameter (`seq > ?2`, every log
    // read) each time the value changes, which profiling showed as a large share of a read.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

/// The migration session of SQLite: the runner's statements on the transaction of
/// [`migrate`], whose `BEGIN IMMEDIATE` already keeps other processes out.
struct Migrating<'a>(&'a rusqlite::Transaction<'a>);

impl MigrationSession for Migrating<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    async fn lock(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn execute(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.0.execute_batch(sql)?)
    }

    async fn applied_version(&mut self) -> Result<i64, StoreError> {
        Ok(self
            .0
            .query_row(migrations::APPLIED_VERSION, [], |r| r.get(0))?)
    }

    async fn record(&mut self, version: i64, applied_at: i64) -> Result<(), StoreError> {
        self.0.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
            params![version, applied_at],
        )?;
        Ok(())
    }
}

/// Brings the schema up to date ([`migrations::migrate`]) in one write transaction.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    migrations::run_synchronously(migrations::migrate(
        &mut Migrating(&tx),
        conclave_service::now_seconds(),
    ))??;
    tx.commit()?;
    Ok(())
}

fn lock(m: &Mutex<Connection>) -> Result<MutexGuard<'_, Connection>, StoreError> {
    m.lock()
        .map_err(|_| StoreError::Backend("sqlite connection lock poisoned".into()))
}

fn lock_tokens(inner: &Inner) -> Result<MutexGuard<'_, TokenCache>, StoreError> {
    inner
        .tokens
        .lock()
        .map_err(|_| StoreError::Backend("sqlite token cache lock poisoned".into()))
}

fn lock_appends(inner: &Inner) -> Result<MutexGuard<'_, AppendQueue>, StoreError> {
    inner
        .appends
        .lock()
        .map_err(|_| StoreError::Backend("sqlite append queue lock poisoned".into()))
}

/// Applies queued appends, a batch at a time, until the queue is empty; then says no task
/// drains it any more (under the queue's lock, so an append queued meanwhile is either
/// taken here or starts a new drain).
fn drain_appends(inner: &Inner) -> Result<(), StoreError> {
    /// Lets the next append start a drain even if this one stops early (an error, or a
    /// panic unwinding), so that the queue never waits for a drain that is gone.
    struct Draining<'a> {
        inner: &'a Inner,
        finished: bool,
    }
    impl Drop for Draining<'_> {
        fn drop(&mut self) {
            if !self.finished
                && let Ok(mut queue) = self.inner.appends.lock()
            {
                queue.draining = false;
            }
        }
    }
    let mut draining = Draining {
        inner,
        finished: false,
    };
    loop {
        let mut conn = match lock(&inner.writer) {
            Ok(conn) => conn,
            Err(e) => {
                // No append can be applied: answer the queued ones rather than leave them.
                let jobs = std::mem::take(&mut lock_appends(inner)?.jobs);
                for job in jobs {
                    let _ = job.reply.send(Err(StoreError::Backend(e.to_string())));
                }
                return Err(e);
            }
        };
        let jobs = {
            let mut queue = lock_appends(inner)?;
            if queue.jobs.is_empty() {
                queue.draining = false;
                draining.finished = true;
                return Ok(());
            }
            let take = queue.jobs.len().min(MAX_BATCH);
            queue.jobs.drain(..take).collect::<Vec<_>>()
        };
        append_batch(&mut conn, jobs);
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, in WAL mode, and migrates it.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut writer = Connection::open(path)?;
        configure(&writer)?;
        let mode: String = writer.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Backend(format!(
                "sqlite: could not enable WAL (journal_mode is {mode})"
            )));
        }
        // An acknowledged message survives a crash of the process or of the machine.
        writer.pragma_update(None, "synchronous", "FULL")?;
        migrate(&mut writer)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let reader = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | OpenFlags::SQLITE_OPEN_URI,
            )?;
            configure(&reader)?;
            readers.push(Mutex::new(reader));
        }
        Ok(Self::from_parts(writer, readers))
    }

    /// A private in-memory database (one connection; for tests and trials).
    pub fn in_memory() -> Result<Self, StoreError> {
        let mut writer = Connection::open_in_memory()?;
        configure(&writer)?;
        migrate(&mut writer)?;
        Ok(Self::from_parts(writer, Vec::new()))
    }

    /// Opens a store from a `sqlite:` URL: `sqlite:./path.db`, `sqlite://path.db` or
    /// `sqlite::memory:`.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        let rest = url
            .strip_prefix("sqlite:")
            .ok_or_else(|| StoreError::Config(format!("not a sqlite: URL: {url}")))?;
        if rest == ":memory:" {
            return Self::in_memory();
        }
        let path = rest.strip_prefix("//").unwrap_or(rest);
        if path.is_empty() {
            return Err(StoreError::Config("sqlite: URL without a path".into()));
        }
        Self::open(Path::new(path))
    }

    fn from_parts(writer: Connection, readers: Vec<Mutex<Connection>>) -> Self {
        Self {
            inner: Arc::new(Inner {
                writer: Mutex::new(writer),
                readers,
                next_reader: AtomicUsize::new(0),
                appends: Mutex::new(AppendQueue::default()),
                tokens: Mutex::new(TokenCache::default()),
            }),
        }
    }

    /// Runs `f` with the writer connection on the blocking pool.
    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = lock(&inner.writer)?;
            f(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// Runs `f` at once, on the calling thread, with a reader connection that is free right
    /// now; with none free (or an in-memory database, whose one connection is the writer's),
    /// as [`Self::read`] does, on the blocking pool.
    ///
    /// For the small indexed reads every request makes (the token, a member's page of the
    /// log): they take tens of microseconds, less than the hand-off to a pool thread and
    /// back, which profiling showed as the largest share of a read (`crates/ds/README.md`,
    /// "Load benchmark"). A WAL reader never waits for the writer, and `try_lock` never
    /// waits for another reader, so the async worker is not held beyond the read itself.
    async fn read_small<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inline = match self
            .inner
            .readers
            .iter()
            .find_map(|reader| reader.try_lock().ok())
        {
            Some(conn) => return f(&conn),
            None => f,
        };
        self.read(inline).await
    }

    /// Runs `f` with a reader connection (the writer for an in-memory database).
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let n = inner.readers.len();
            let guard = if n == 0 {
                lock(&inner.writer)?
            } else {
                let i = inner.next_reader.fetch_add(1, Ordering::Relaxed) % n;
                match inner.readers.get(i) {
                    Some(reader) => lock(reader)?,
                    None => lock(&inner.writer)?,
                }
            };
            f(&guard)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }
}

fn members_of(conn: &Connection, group_id: &[u8]) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT client_id FROM group_members WHERE group_id = ?1 ORDER BY client_id",
    )?;
    let rows = stmt.query_map(params![group_id], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Appends `m` within the caller's transaction (or savepoint).
fn append_in(
    conn: &Connection,
    gid: &[u8],
    m: &NewMessage,
    now: u64,
) -> Result<Appended, StoreError> {
    let row: Option<(i64, i64)> = conn
        .prepare_cached("SELECT epoch, last_seq FROM groups WHERE group_id = ?1")?
        .query_row(params![gid], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (facts, last_seq) = match row {
        Some((epoch, last_seq)) => (
            Some(AppendFacts {
                epoch: to_u64(epoch)?,
                sender_is_member: is_member_in(conn, gid, &m.sender)?,
            }),
            last_seq,
        ),
        None => (None, 0),
    };
    if let Some(refused) = rules::append(facts, m.epoch) {
        return Ok(refused);
    }
    let proof = proof_facts_in(conn, gid, m.epoch, m.member_proof.as_ref())?;
    if let Some(refused) = rules::append_proof(proof.as_ref(), m.member_proof.as_ref()) {
        return Ok(Appended::MemberProofRefused(refused));
    }
    record_nonce_in(conn, gid, m.epoch, m.member_proof.as_ref())?;
    let seq = last_seq + 1;
    conn.prepare_cached("UPDATE groups SET last_seq = ?2 WHERE group_id = ?1")?
        .execute(params![gid, seq])?;
    conn.prepare_cached(
        "INSERT INTO messages (group_id, seq, epoch, content_type, sender, data,
         created_at, recipient) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        gid,
        seq,
        to_i64(m.epoch)?,
        i64::from(m.content_type),
        m.sender,
        m.data,
        to_i64(now)?,
        m.recipient
    ])?;
    // draft-ietf-mls-partial-02 §7: the sender's proof for each partial member.
    for (client, proof) in &m.annotations {
        conn.prepare_cached(
            "INSERT INTO partial_annotations (group_id, seq, client_id, data, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![gid, seq, client, proof, to_i64(now)?])?;
    }
    Ok(Appended::Accepted { seq: to_u64(seq)? })
}

/// Applies queued appends in one transaction, each in a savepoint (one that fails leaves
/// the others intact), and answers each once the transaction has committed.
fn append_batch(conn: &mut Connection, jobs: Vec<AppendJob>) {
    let run = |conn: &mut Connection| -> Result<Vec<Result<Appended, StoreError>>, StoreError> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut outcomes = Vec::with_capacity(jobs.len());
        for job in &jobs {
            // A savepoint per append (its statements cached: they run for every append).
            tx.prepare_cached("SAVEPOINT append")?.execute([])?;
            let outcome = append_in(&tx, &job.group_id, &job.message, job.now);
            if outcome.is_err() {
                tx.prepare_cached("ROLLBACK TO append")?.execute([])?;
            }
            tx.prepare_cached("RELEASE append")?.execute([])?;
            outcomes.push(outcome);
        }
        tx.commit()?;
        Ok(outcomes)
    };
    match run(conn) {
        Ok(outcomes) => {
            for (job, outcome) in jobs.into_iter().zip(outcomes) {
                let _ = job.reply.send(outcome);
            }
        }
        Err(e) => {
            let text = e.to_string();
            for job in jobs {
                let _ = job.reply.send(Err(StoreError::Backend(text.clone())));
            }
        }
    }
}

/// The member-proof facts of a group in the caller's transaction (`None`: the group has no
/// member proofs): its current key and whether `used`'s nonce was seen in `epoch`.
fn proof_facts_in(
    conn: &Connection,
    gid: &[u8],
    epoch: u64,
    used: Option<&ProofUse>,
) -> Result<Option<ProofFacts>, StoreError> {
    let key: Option<Vec<u8>> = conn
        .prepare_cached("SELECT public_key FROM member_proof_keys WHERE group_id = ?1")?
        .query_row(params![gid], |r| r.get(0))
        .optional()?;
    let Some(public_key) = key else {
        return Ok(None);
    };
    let nonce_seen = match used {
        Some(used) => conn
            .prepare_cached(
                "SELECT 1 FROM member_proof_nonces WHERE group_id = ?1 AND epoch = ?2
                 AND nonce = ?3",
            )?
            .query_row(params![gid, to_i64(epoch)?, used.nonce], |_| Ok(()))
            .optional()?
            .is_some(),
        None => false,
    };
    Ok(Some(ProofFacts {
        public_key,
        nonce_seen,
    }))
}

/// Records a used nonce (single use per group and epoch).
fn record_nonce_in(
    conn: &Connection,
    gid: &[u8],
    epoch: u64,
    used: Option<&ProofUse>,
) -> Result<(), StoreError> {
    if let Some(used) = used {
        conn.prepare_cached(
            "INSERT INTO member_proof_nonces (group_id, epoch, nonce) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![gid, to_i64(epoch)?, used.nonce])?;
    }
    Ok(())
}

fn is_member_in(conn: &Connection, group_id: &[u8], client_id: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM group_members WHERE group_id = ?1 AND client_id = ?2")?
        .query_row(params![group_id, client_id], |_| Ok(()))
        .optional()?
        .is_some())
}

/// The log entries a `SELECT seq, epoch, content_type, sender, data, recipient FROM messages …`
/// returns.
fn log_entries(
    stmt: &mut rusqlite::Statement<'_>,
    params: impl rusqlite::Params,
) -> Result<Vec<LogEntry>, StoreError> {
    let rows = stmt.query_map(params, |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, Vec<u8>>(4)?,
            r.get::<_, Option<String>>(5)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, epoch, content_type, sender, data, recipient) = row?;
        out.push(LogEntry {
            seq: to_u64(seq)?,
            epoch: to_u64(epoch)?,
            content_type: u8::try_from(content_type)
                .map_err(|_| StoreError::Backend("bad content type".into()))?,
            sender,
            data,
            recipient,
        });
    }
    Ok(out)
}

#[async_trait]
impl Store for SqliteStore {
    fn engine(&self) -> &'static str {
        "sqlite"
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.read(|conn| {
            conn.query_row("SELECT 1", [], |_| Ok(()))?;
            Ok(())
        })
        .await
    }

    async fn register_client(&self, client: &ClientRecord) -> Result<Registered, StoreError> {
        let c = client.clone();
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let existing: Option<(Vec<u8>, Vec<u8>)> = tx
                .query_row(
                    "SELECT signature_key, credential FROM clients WHERE client_id = ?1",
                    params![c.client_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let outcome = match existing {
                Some((key, credential)) => rules::reregistration(&key, &credential, &c),
                None => {
                    tx.execute(
                        "INSERT INTO clients (client_id, cipher_suite, signature_key, credential,
                         created_at, partial) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![
                            c.client_id,
                            i64::from(c.cipher_suite),
                            c.signature_key,
                            c.credential,
                            to_i64(c.created_at)?,
                            c.partial
                        ],
                    )?;
                    Registered::Created
                }
            };
            tx.commit()?;
            Ok(outcome)
        })
        .await
    }

    async fn client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        let id = client_id.to_owned();
        self.read(move |conn| {
            let row = conn
                .prepare_cached(
                    "SELECT client_id, cipher_suite, signature_key, credential, created_at,
                     token_generation, partial FROM clients WHERE client_id = ?1",
                )?
                .query_row(params![id], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                        r.get::<_, Vec<u8>>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, bool>(6)?,
                    ))
                })
                .optional()?;
            row.map(
                |(client_id, suite, signature_key, credential, created, generation, partial)| {
                    Ok(ClientRecord {
                        client_id,
                        cipher_suite: u16::try_from(suite)
                            .map_err(|_| StoreError::Backend("bad cipher suite".into()))?,
                        signature_key,
                        credential,
                        created_at: to_u64(created)?,
                        token_generation: to_u64(generation)?,
                        partial,
                    })
                },
            )
            .transpose()
        })
        .await
    }

    async fn update_client_credential(
        &self,
        change: &CredentialChange,
    ) -> Result<CredentialUpdated, StoreError> {
        let c = change.clone();
        let inner = self.inner.clone();
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let updated = tx.execute(
                "UPDATE clients SET cipher_suite = ?2, signature_key = ?3, credential = ?4,
                 token_generation = token_generation + 1
                 WHERE client_id = ?1 AND signature_key = ?5 AND credential = ?6",
                params![
                    c.client_id,
                    i64::from(c.cipher_suite),
                    c.signature_key,
                    c.credential,
                    c.previous_signature_key,
                    c.previous_credential
                ],
            )?;
            let exists = updated == 1
                || tx
                    .query_row(
                        "SELECT 1 FROM clients WHERE client_id = ?1",
                        params![c.client_id],
                        |_| Ok(()),
                    )
                    .optional()?
                    .is_some();
            let outcome = rules::credential_update(updated == 1, exists);
            tx.commit()?;
            if updated == 1 {
                // The client's token generation moved on: every token it holds is revoked.
                // Forgotten after the commit, so a token read valid before it is not cached
                // after this (see `TokenCache::changes`).
                let mut cache = lock_tokens(&inner)?;
                cache.changes += 1;
                cache.valid.retain(|_, (client, _)| *client != c.client_id);
            }
            Ok(outcome)
        })
        .await
    }

    async fn use_challenge(
        &self,
        challenge_id: &[u8],
        expires_at: u64,
    ) -> Result<bool, StoreError> {
        let id = challenge_id.to_vec();
        self.write(move |conn| {
            let inserted = conn.execute(
                "INSERT INTO used_challenges (challenge_id, expires_at) VALUES (?1, ?2)
                 ON CONFLICT (challenge_id) DO NOTHING",
                params![id, to_i64(expires_at)?],
            )?;
            Ok(inserted == 1)
        })
        .await
    }

    async fn server_secret(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>, StoreError> {
        let (name, candidate) = (name.to_owned(), candidate.to_vec());
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO server_secrets (name, secret) VALUES (?1, ?2)
                 ON CONFLICT (name) DO NOTHING",
                params![name, candidate],
            )?;
            let secret: Vec<u8> = tx.query_row(
                "SELECT secret FROM server_secrets WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )?;
            tx.commit()?;
            Ok(secret)
        })
        .await
    }

    async fn put_token(
        &self,
        token_hash: &[u8],
        client_id: &str,
        token_generation: u64,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        let (hash, id) = (token_hash.to_vec(), client_id.to_owned());
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO tokens (token_hash, client_id, token_generation, expires_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![hash, id, to_i64(token_generation)?, to_i64(expires_at)?],
            )?;
            Ok(())
        })
        .await
    }

    async fn token(
        &self,
        token_hash: &[u8],
        now: u64,
    ) -> Result<Option<(String, u64)>, StoreError> {
        let seen_changes = {
            let cache = lock_tokens(&self.inner)?;
            if let Some((client, expires)) = cache.valid.get(token_hash) {
                return Ok(rules::unexpired(*expires, now).then(|| (client.clone(), *expires)));
            }
            cache.changes
        };
        let hash = token_hash.to_vec();
        let inner = self.inner.clone();
        self.read_small(move |conn| {
            let row = conn
                .prepare_cached(
                    "SELECT t.client_id, t.expires_at FROM tokens t
                     JOIN clients c ON c.client_id = t.client_id
                         AND c.token_generation = t.token_generation
                     WHERE t.token_hash = ?1",
                )?
                .query_row(params![hash], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                })
                .optional()?;
            match row {
                Some((client, expires)) => {
                    let expires = to_u64(expires)?;
                    if !rules::unexpired(expires, now) {
                        return Ok(None);
                    }
                    let mut cache = lock_tokens(&inner)?;
                    // Not if a credential change committed since the read began: it may
                    // have revoked this token (the change forgets what is cached, then).
                    if cache.changes == seen_changes {
                        if cache.valid.len() >= TOKEN_CACHE_CAPACITY {
                            cache.valid.clear();
                        }
                        cache.valid.insert(hash, (client.clone(), expires));
                    }
                    Ok(Some((client, expires)))
                }
                None => Ok(None),
            }
        })
        .await
    }

    async fn publish_key_packages(&self, packages: &[NewKeyPackage]) -> Result<u64, StoreError> {
        let packages = packages.to_vec();
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut stored = 0u64;
            for kp in &packages {
                if kp.last_resort {
                    // Keep the reference for Welcome routing of groups that already used the
                    // old package: mark it expired instead of deleting it.
                    tx.execute(
                        "UPDATE key_packages SET not_after = ?4
                         WHERE owner = ?1 AND cipher_suite = ?2 AND last_resort = 1
                         AND kp_ref <> ?3",
                        params![
                            kp.owner,
                            i64::from(kp.cipher_suite),
                            kp.kp_ref,
                            rules::RETIRED_NOT_AFTER
                        ],
                    )?;
                }
                stored += tx.execute(
                    "INSERT INTO key_packages (kp_ref, owner, cipher_suite, last_resort,
                     not_before, not_after, data, bound_group)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (kp_ref) DO NOTHING",
                    params![
                        kp.kp_ref,
                        kp.owner,
                        i64::from(kp.cipher_suite),
                        kp.last_resort,
                        to_i64(kp.not_before)?,
                        to_i64(kp.not_after)?,
                        kp.data,
                        kp.bound_group
                    ],
                )? as u64;
            }
            tx.commit()?;
            Ok(stored)
        })
        .await
    }

    async fn count_target_claim(
        &self,
        owner: &str,
        minute: u64,
        limit: u32,
    ) -> Result<bool, StoreError> {
        let owner = owner.to_owned();
        self.write(move |conn| {
            let minute = to_i64(minute)?;
            // One upsert: a new minute starts the count again; within the minute the count
            // grows only below the limit (the row is not touched at the limit, so nothing
            // is returned).
            let counted = conn
                .prepare_cached(
                    "INSERT INTO target_claims (owner, minute, claims)
                     SELECT ?1, ?2, 1 WHERE EXISTS
                         (SELECT 1 FROM clients WHERE client_id = ?1)
                     ON CONFLICT (owner) DO UPDATE SET
                         claims = CASE WHEN minute = excluded.minute THEN claims + 1 ELSE 1 END,
                         minute = excluded.minute
                     WHERE minute <> excluded.minute OR claims < ?3
                     RETURNING claims",
                )?
                .query_row(params![owner, minute, limit], |r| r.get::<_, i64>(0))
                .optional()?;
            if counted.is_some() {
                return Ok(true);
            }
            let at_limit = conn
                .prepare_cached("SELECT 1 FROM clients WHERE client_id = ?1")?
                .query_row(params![owner], |_| Ok(()))
                .optional()?;
            // Not counted: refused if the client exists (the limit was reached), allowed
            // for an unknown id.
            Ok(at_limit.is_none())
        })
        .await
    }

    async fn claim_key_package(
        &self,
        owner: &str,
        cipher_suite: u16,
        group: Option<&[u8]>,
        now: u64,
    ) -> Result<Option<ClaimedKeyPackage>, StoreError> {
        let owner = owner.to_owned();
        let group = group.map(<[u8]>::to_vec);
        self.write(move |conn| {
            let now = to_i64(now)?;
            let suite = i64::from(cipher_suite);
            // One statement: the row is chosen and marked claimed atomically (the writer is
            // the only connection that writes, and the statement runs in its own
            // transaction). `bound_group = NULL` is never true, so a claim naming no group
            // gets unbound packages only.
            let one_time = conn
                .prepare_cached(
                    "UPDATE key_packages SET claimed_at = ?3, claim_count = claim_count + 1
                     WHERE id = (SELECT id FROM key_packages
                                 WHERE owner = ?1 AND cipher_suite = ?2 AND last_resort = 0
                                 AND claimed_at IS NULL AND not_before <= ?3
                                 AND not_after >= ?3
                                 AND (bound_group IS NULL OR bound_group = ?4)
                                 ORDER BY bound_group IS NULL, id LIMIT 1)
                     AND claimed_at IS NULL
                     RETURNING kp_ref, data",
                )?
                .query_row(params![owner, suite, now, group], |r| {
                    Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
                })
                .optional()?;
            if let Some((kp_ref, data)) = one_time {
                return Ok(Some(ClaimedKeyPackage {
                    kp_ref,
                    data,
                    last_resort: false,
                }));
            }
            let last_resort = conn
                .prepare_cached(
                    "UPDATE key_packages SET claimed_at = ?3, claim_count = claim_count + 1
                     WHERE id = (SELECT id FROM key_packages
                                 WHERE owner = ?1 AND cipher_suite = ?2 AND last_resort = 1
                                 AND not_before <= ?3 AND not_after >= ?3
                                 AND (bound_group IS NULL OR bound_group = ?4)
                                 ORDER BY bound_group IS NULL, id DESC LIMIT 1)
                     RETURNING kp_ref, data",
                )?
                .query_row(params![owner, suite, now, group], |r| {
                    Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
                })
                .optional()?;
            Ok(last_resort.map(|(kp_ref, data)| ClaimedKeyPackage {
                kp_ref,
                data,
                last_resort: true,
            }))
        })
        .await
    }

    async fn key_package_stock(
        &self,
        owner: &str,
        now: u64,
    ) -> Result<Vec<KeyPackageStock>, StoreError> {
        let owner = owner.to_owned();
        self.read(move |conn| {
            let now = to_i64(now)?;
            let mut stmt = conn.prepare_cached(
                "SELECT cipher_suite,
                    SUM(CASE WHEN last_resort = 0 AND claimed_at IS NULL THEN 1 ELSE 0 END),
                    SUM(CASE WHEN last_resort = 1 THEN 1 ELSE 0 END),
                    SUM(CASE WHEN last_resort = 1 AND claimed_at IS NOT NULL THEN 1 ELSE 0 END)
                 FROM key_packages
                 WHERE owner = ?1 AND not_before <= ?2 AND not_after >= ?2
                 AND bound_group IS NULL
                 GROUP BY cipher_suite ORDER BY cipher_suite",
            )?;
            let rows = stmt.query_map(params![owner, now], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (suite, available, last_resort, claimed) = row?;
                out.push(KeyPackageStock {
                    cipher_suite: u16::try_from(suite)
                        .map_err(|_| StoreError::Backend("bad cipher suite".into()))?,
                    one_time_available: to_u64(available)?,
                    has_last_resort: last_resort > 0,
                    last_resort_claimed: claimed > 0,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn create_group(&self, group: &NewGroup, now: u64) -> Result<bool, StoreError> {
        let g = group.clone();
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let inserted = tx.execute(
                "INSERT INTO groups (group_id, epoch, last_seq, allow_external_join, created_at,
                 group_info, ratchet_tree, public_state)
                 VALUES (?1, ?2, 0, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (group_id) DO NOTHING",
                params![
                    g.group_id,
                    to_i64(g.epoch)?,
                    g.allow_external_join,
                    to_i64(now)?,
                    g.group_info,
                    g.ratchet_tree,
                    g.public_state
                ],
            )?;
            if inserted == 0 {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO group_members (group_id, client_id) VALUES (?1, ?2)",
                params![g.group_id, g.creator],
            )?;
            if let Some(key) = &g.member_proof {
                tx.execute(
                    "INSERT INTO member_proof_keys (group_id, cipher_suite, epoch, public_key)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![
                        g.group_id,
                        key.cipher_suite,
                        to_i64(key.epoch)?,
                        key.public_key
                    ],
                )?;
            }
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn member_proof_key(
        &self,
        group_id: &[u8],
    ) -> Result<Option<MemberProofKey>, StoreError> {
        let gid = group_id.to_vec();
        self.read(move |conn| {
            let row: Option<(u16, i64, Vec<u8>)> = conn
                .prepare_cached(
                    "SELECT cipher_suite, epoch, public_key FROM member_proof_keys
                     WHERE group_id = ?1",
                )?
                .query_row(params![gid], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            row.map(|(cipher_suite, epoch, public_key)| {
                Ok(MemberProofKey {
                    cipher_suite,
                    epoch: to_u64(epoch)?,
                    public_key,
                })
            })
            .transpose()
        })
        .await
    }

    async fn group(&self, group_id: &[u8]) -> Result<Option<GroupRecord>, StoreError> {
        let gid = group_id.to_vec();
        self.read(move |conn| {
            // One read transaction: group row and member list are one consistent snapshot.
            let tx = conn.unchecked_transaction()?;
            let row = tx
                .query_row(
                    "SELECT epoch, last_seq, group_info, ratchet_tree, allow_external_join,
                     public_state FROM groups WHERE group_id = ?1",
                    params![gid],
                    |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, i64>(1)?,
                            r.get::<_, Option<Vec<u8>>>(2)?,
                            r.get::<_, Option<Vec<u8>>>(3)?,
                            r.get::<_, bool>(4)?,
                            r.get::<_, Option<Vec<u8>>>(5)?,
                        ))
                    },
                )
                .optional()?;
            let Some((epoch, last_seq, group_info, ratchet_tree, allow, public_state)) = row else {
                return Ok(None);
            };
            let members = members_of(&tx, &gid)?;
            Ok(Some(GroupRecord {
                group_id: gid,
                epoch: to_u64(epoch)?,
                last_seq: to_u64(last_seq)?,
                group_info,
                ratchet_tree,
                allow_external_join: allow,
                members,
                public_state,
            }))
        })
        .await
    }

    async fn removed_at(
        &self,
        group_id: &[u8],
        client_id: &str,
    ) -> Result<Option<u64>, StoreError> {
        let (gid, id) = (group_id.to_vec(), client_id.to_owned());
        self.read(move |conn| {
            let seq: Option<i64> = conn
                .prepare_cached(
                    "SELECT removed_at FROM former_members WHERE group_id = ?1 AND client_id = ?2",
                )?
                .query_row(params![gid, id], |r| r.get(0))
                .optional()?;
            seq.map(to_u64).transpose()
        })
        .await
    }

    async fn is_member(&self, group_id: &[u8], client_id: &str) -> Result<bool, StoreError> {
        let (gid, id) = (group_id.to_vec(), client_id.to_owned());
        self.read(move |conn| is_member_in(conn, &gid, &id)).await
    }

    async fn group_kind(&self, group_id: &[u8]) -> Result<Option<GroupKind>, StoreError> {
        let gid = group_id.to_vec();
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT public_state IS NOT NULL,
                     EXISTS (SELECT 1 FROM member_proof_keys k WHERE k.group_id = g.group_id)
                     FROM groups g WHERE g.group_id = ?1",
                )?
                .query_row(params![gid], |r| {
                    Ok(GroupKind {
                        verified: r.get(0)?,
                        member_proofs: r.get(1)?,
                    })
                })
                .optional()?)
        })
        .await
    }

    async fn member_log(
        &self,
        group_id: &[u8],
        client_id: &str,
        after: u64,
        limit: u32,
    ) -> Result<Option<Vec<LogEntry>>, StoreError> {
        let (gid, id) = (group_id.to_vec(), client_id.to_owned());
        self.read_small(move |conn| {
            // One read transaction: the membership and the page are one snapshot. (Its
            // statements cached: this runs for every read of the log.)
            conn.prepare_cached("BEGIN")?.execute([])?;
            let read = (|| {
                if !is_member_in(conn, &gid, &id)? {
                    return Ok(None);
                }
                let mut stmt = conn.prepare_cached(
                    "SELECT seq, epoch, content_type, sender, data, recipient FROM messages
                     WHERE group_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
                )?;
                log_entries(&mut stmt, params![gid, to_i64(after)?, i64::from(limit)]).map(Some)
            })();
            // A read transaction: ending it either way changes nothing.
            conn.prepare_cached("COMMIT")?.execute([])?;
            read
        })
        .await
    }

    async fn append(
        &self,
        group_id: &[u8],
        message: &NewMessage,
        now: u64,
    ) -> Result<Appended, StoreError> {
        // Group commit: queue the append; whichever task holds the writer next applies
        // every queued append in one transaction.
        let (reply, answer) = tokio::sync::oneshot::channel();
        let start_drain = {
            let mut queue = lock_appends(&self.inner)?;
            queue.jobs.push(AppendJob {
                group_id: group_id.to_vec(),
                message: message.clone(),
                now,
                reply,
            });
            !std::mem::replace(&mut queue.draining, true)
        };
        // The first append to find no drain running starts one; it applies batches until
        // the queue is empty, so every queued append is applied (see `drain_appends`).
        if start_drain {
            let inner = self.inner.clone();
            tokio::task::spawn_blocking(move || {
                if let Err(e) = drain_appends(&inner) {
                    tracing::error!(error = %e, "sqlite: draining the append queue failed");
                }
            });
        }
        answer
            .await
            .map_err(|_| StoreError::Task("the append was not answered".into()))?
    }

    async fn commit(
        &self,
        group_id: &[u8],
        commit: &CommitRecord,
        now: u64,
    ) -> Result<Committed, StoreError> {
        let (gid, c) = (group_id.to_vec(), commit.clone());
        self.write(move |conn| {
            let now = to_i64(now)?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let row: Option<(i64, bool)> = tx
                .prepare_cached(
                    "SELECT epoch, allow_external_join FROM groups WHERE group_id = ?1",
                )?
                .query_row(params![gid], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let previous = match row {
                Some(_) => members_of(&tx, &gid)?,
                None => Vec::new(),
            };
            let facts = match row {
                Some((epoch, allow_external_join)) => Some(CommitFacts {
                    epoch: to_u64(epoch)?,
                    allow_external_join,
                    sender_is_member: previous.contains(&c.sender),
                }),
                None => None,
            };
            let next_epoch = match rules::commit(facts.as_ref(), &c)? {
                CommitDecision::Apply { next_epoch } => next_epoch,
                CommitDecision::Refuse(refused) => return Ok(refused),
            };
            let proof = proof_facts_in(&tx, &gid, c.epoch, c.member_proof.as_ref())?;
            if let Some(refused) = rules::commit_proof(proof.as_ref(), &c) {
                return Ok(Committed::MemberProofRefused(refused));
            }
            if proof.is_some()
                && let Some(next_key) = &c.next_member_proof_key
            {
                // The epoch ends: its nonces cannot be replayed into the next one.
                tx.prepare_cached(
                    "UPDATE member_proof_keys SET epoch = ?2, public_key = ?3 WHERE group_id = ?1",
                )?
                .execute(params![gid, to_i64(next_epoch)?, next_key])?;
                tx.prepare_cached("DELETE FROM member_proof_nonces WHERE group_id = ?1")?
                    .execute(params![gid])?;
            }
            // The conditional epoch update (the rule checked the epoch on this same write
            // transaction; the condition keeps "exactly one commit per epoch" in the
            // statement that moves the epoch).
            let seq: Option<i64> = tx
                .prepare_cached(
                    "UPDATE groups SET epoch = ?3, last_seq = last_seq + 1, group_info = ?4,
                     ratchet_tree = ?5,
                     allow_external_join = COALESCE(?6, allow_external_join),
                     public_state = COALESCE(?7, public_state)
                     WHERE group_id = ?1 AND epoch = ?2 RETURNING last_seq",
                )?
                .query_row(
                    params![
                        gid,
                        to_i64(c.epoch)?,
                        to_i64(next_epoch)?,
                        c.group_info,
                        c.ratchet_tree,
                        c.allow_external_join,
                        c.public_state
                    ],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(seq) = seq else {
                return Err(StoreError::Backend(
                    "the group's epoch moved inside the commit's transaction".into(),
                ));
            };
            tx.prepare_cached(
                "INSERT INTO messages (group_id, seq, epoch, content_type, sender, data,
                 created_at) VALUES (?1, ?2, ?3, 3, ?4, ?5, ?6)",
            )?
            .execute(params![gid, seq, to_i64(c.epoch)?, c.sender, c.data, now])?;
            // Who leaves may still read the log up to this commit; who (re)joins is a
            // member again.
            let change = rules::membership_change(&previous, &c.members);
            for removed in &change.removed {
                tx.prepare_cached(
                    "DELETE FROM group_members WHERE group_id = ?1 AND client_id = ?2",
                )?
                .execute(params![gid, removed])?;
                tx.prepare_cached(
                    "INSERT INTO former_members (group_id, client_id, removed_at)
                     VALUES (?1, ?2, ?3) ON CONFLICT (group_id, client_id)
                     DO UPDATE SET removed_at = excluded.removed_at",
                )?
                .execute(params![gid, removed, seq])?;
            }
            for added in &change.added {
                tx.prepare_cached(
                    "INSERT INTO group_members (group_id, client_id) VALUES (?1, ?2)
                     ON CONFLICT DO NOTHING",
                )?
                .execute(params![gid, added])?;
                tx.prepare_cached(
                    "DELETE FROM former_members WHERE group_id = ?1 AND client_id = ?2",
                )?
                .execute(params![gid, added])?;
            }
            let mut routed = Vec::new();
            if let Some((welcome, refs)) = &c.welcome {
                tx.prepare_cached(
                    "INSERT INTO welcome_messages (group_id, data, created_at)
                     VALUES (?1, ?2, ?3)",
                )?
                .execute(params![gid, welcome, now])?;
                let welcome_id = tx.last_insert_rowid();
                // One statement for every inbox row: the refs travel as one JSON array of
                // hex strings, each matched once through the unique index on kp_ref.
                let refs_json = format!(
                    "[{}]",
                    refs.iter()
                        .map(|r| format!("\"{}\"", hex::encode(r)))
                        .collect::<Vec<_>>()
                        .join(",")
                );
                let mut insert = tx.prepare_cached(
                    "INSERT INTO welcome_inbox (client_id, kp_ref, welcome_id)
                     SELECT owner, kp_ref, ?1 FROM key_packages
                     WHERE kp_ref IN (SELECT unhex(value) FROM json_each(?2))
                     RETURNING client_id",
                )?;
                let owners = insert.query_map(params![welcome_id, refs_json], |r| r.get(0))?;
                for owner in owners {
                    routed.push(owner?);
                }
            }
            // draft-ietf-mls-partial-02 §8: each partial joiner's own AnnotatedWelcome.
            for (kp_ref, annotated) in &c.annotated_welcomes {
                tx.prepare_cached(
                    "INSERT INTO welcome_messages (group_id, data, created_at)
                     VALUES (?1, ?2, ?3)",
                )?
                .execute(params![gid, annotated, now])?;
                let welcome_id = tx.last_insert_rowid();
                let owner: Option<String> = tx
                    .prepare_cached(
                        "INSERT INTO welcome_inbox (client_id, kp_ref, welcome_id, annotated)
                         SELECT owner, kp_ref, ?1, 1 FROM key_packages WHERE kp_ref = ?2
                         RETURNING client_id",
                    )?
                    .query_row(params![welcome_id, kp_ref], |r| r.get(0))
                    .optional()?;
                routed.extend(owner);
            }
            // draft-ietf-mls-partial-02 §10: the partial members' AnnotatedCommits, at the
            // commit's position in the log.
            for (client, annotated) in &c.annotations {
                tx.prepare_cached(
                    "INSERT INTO partial_annotations (group_id, seq, client_id, data, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![gid, seq, client, annotated, now])?;
            }
            tx.commit()?;
            Ok(Committed::Accepted {
                seq: to_u64(seq)?,
                epoch: next_epoch,
                routed,
            })
        })
        .await
    }

    async fn read_log(
        &self,
        group_id: &[u8],
        after: u64,
        limit: u32,
    ) -> Result<Vec<LogEntry>, StoreError> {
        let gid = group_id.to_vec();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, epoch, content_type, sender, data, recipient FROM messages
                 WHERE group_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )?;
            log_entries(&mut stmt, params![gid, to_i64(after)?, i64::from(limit)])
        })
        .await
    }

    async fn epoch_proposals(
        &self,
        group_id: &[u8],
        epoch: u64,
        limit: u32,
    ) -> Result<Vec<LogEntry>, StoreError> {
        let gid = group_id.to_vec();
        self.read(move |conn| {
            // The last commit is found by walking the primary key (group_id, seq) backwards.
            let mut stmt = conn.prepare_cached(
                "SELECT seq, epoch, content_type, sender, data, recipient FROM messages
                 WHERE group_id = ?1 AND content_type = 2 AND epoch = ?2
                   AND seq > COALESCE((SELECT seq FROM messages
                                       WHERE group_id = ?1 AND content_type = 3
                                       ORDER BY seq DESC LIMIT 1), 0)
                 ORDER BY seq LIMIT ?3",
            )?;
            log_entries(&mut stmt, params![gid, to_i64(epoch)?, i64::from(limit)])
        })
        .await
    }

    async fn partial_clients(&self, client_ids: &[String]) -> Result<Vec<String>, StoreError> {
        if client_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = serde_json::to_string(client_ids)
            .map_err(|e| StoreError::Backend(format!("client ids: {e}")))?;
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT client_id FROM clients
                 WHERE partial = 1 AND client_id IN (SELECT value FROM json_each(?1))
                 ORDER BY client_id",
            )?;
            let rows = stmt.query_map(params![ids], |r| r.get::<_, String>(0))?;
            let mut out = Vec::new();
            for row in rows {
                out.push(row?);
            }
            Ok(out)
        })
        .await
    }

    async fn annotations(
        &self,
        group_id: &[u8],
        client_id: &str,
        after: u64,
        up_to: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let (gid, id) = (group_id.to_vec(), client_id.to_owned());
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, data FROM partial_annotations
                 WHERE group_id = ?1 AND client_id = ?2 AND seq > ?3 AND seq <= ?4
                 ORDER BY seq",
            )?;
            let rows = stmt.query_map(params![gid, id, to_i64(after)?, to_i64(up_to)?], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (seq, data) = row?;
                out.push((to_u64(seq)?, data));
            }
            Ok(out)
        })
        .await
    }

    async fn welcomes(
        &self,
        client_id: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<WelcomeEntry>, StoreError> {
        let id = client_id.to_owned();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT i.id, i.kp_ref, w.data, i.annotated FROM welcome_inbox i
                 JOIN welcome_messages w ON w.id = i.welcome_id
                 WHERE i.client_id = ?1 AND i.id > ?2 ORDER BY i.id LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![id, to_i64(after)?, i64::from(limit)], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, bool>(3)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (wid, kp_ref, data, annotated) = row?;
                out.push(WelcomeEntry {
                    id: to_u64(wid)?,
                    kp_ref,
                    data,
                    annotated,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn ack_welcomes(&self, client_id: &str, up_to: u64) -> Result<u64, StoreError> {
        let id = client_id.to_owned();
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let n = tx.execute(
                "DELETE FROM welcome_inbox WHERE client_id = ?1 AND id <= ?2",
                params![id, to_i64(up_to)?],
            )?;
            tx.execute(
                "DELETE FROM welcome_messages WHERE id NOT IN
                 (SELECT welcome_id FROM welcome_inbox)",
                [],
            )?;
            tx.commit()?;
            Ok(n as u64)
        })
        .await
    }

    async fn receiver_key(&self, candidate: &ReceiverKey) -> Result<ReceiverKey, StoreError> {
        let candidate = candidate.clone();
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO receiver_keys (cipher_suite, receiver, private_key, created_at)
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (cipher_suite) DO NOTHING",
                params![
                    i64::from(candidate.cipher_suite),
                    candidate.receiver,
                    candidate.private_key.as_bytes(),
                    to_i64(candidate.created_at)?
                ],
            )?;
            let (receiver, private_key, created_at) = tx.query_row(
                "SELECT receiver, private_key, created_at FROM receiver_keys
                 WHERE cipher_suite = ?1",
                params![i64::from(candidate.cipher_suite)],
                |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                },
            )?;
            tx.commit()?;
            Ok(ReceiverKey {
                cipher_suite: candidate.cipher_suite,
                receiver,
                private_key: conclave_crypto::Secret::new(private_key),
                created_at: to_u64(created_at)?,
            })
        })
        .await
    }

    async fn prune(&self, now: u64, messages_before: Option<u64>) -> Result<Pruned, StoreError> {
        let cutoffs = rules::prune_cutoffs(now, messages_before)?;
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let messages = match cutoffs.messages_before {
                Some(before) => {
                    tx.execute(
                        "DELETE FROM partial_annotations WHERE created_at < ?1",
                        params![before],
                    )?;
                    tx.execute(
                        "DELETE FROM messages WHERE created_at < ?1",
                        params![before],
                    )?
                }
                None => 0,
            };
            let expired = cutoffs.auth_expired_before;
            let auth = tx.execute(
                "DELETE FROM used_challenges WHERE expires_at < ?1",
                params![expired],
            )? + tx.execute(
                "DELETE FROM tokens WHERE expires_at < ?1 OR token_generation <
                 (SELECT c.token_generation FROM clients c WHERE c.client_id = tokens.client_id)",
                params![expired],
            )?;
            let key_packages = tx.execute(
                "DELETE FROM key_packages WHERE not_after < ?1",
                params![cutoffs.key_packages_expired_before],
            )?;
            tx.commit()?;
            Ok(Pruned {
                messages: messages as u64,
                auth: auth as u64,
                key_packages: key_packages as u64,
            })
        })
        .await
    }
}
