//! The PostgreSQL engine of the [`Store`]: the same logical schema as the
//! SQLite engine, for several stateless DS nodes on one database.
//!
//! Concurrency: a write locks the group row (`SELECT … FOR UPDATE`) before it checks the
//! epoch and membership, and the epoch update is conditional (`WHERE epoch = e`), so two
//! nodes racing for one epoch serialise on the row and exactly one wins. A KeyPackage claim
//! picks its row with `FOR UPDATE SKIP LOCKED` and re-checks `claimed_at IS NULL` in the same
//! statement, so a one-time package is never handed out twice.
//!
//! Wake-ups: once a log append has committed, the node announces it to every DS node with
//! `pg_notify`; see [`super::pg_listen`].

use std::sync::Arc;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use super::migrations::{self, Dialect, MigrationSession};
use super::pg_listen::{self, Listener};
use super::rules::{self, AppendFacts, CommitDecision, CommitFacts, ProofFacts};
use super::{
    Appended, ClaimedKeyPackage, ClientRecord, CommitRecord, Committed, CredentialChange,
    CredentialUpdated, GroupKind, GroupRecord, KeyPackageStock, LogEntry, NewGroup, NewKeyPackage,
    NewMessage, Pruned, ReceiverKey, Registered, Store, StoreError, WakeupFeed, WelcomeEntry,
    to_i64, to_u64,
};
use super::{MemberProofKey, ProofUse, WithToken};

/// Advisory lock key serialising migrations of DS nodes starting together.
const MIGRATION_LOCK: i64 = 0x636f_6e63_6c61_7665; // "conclave"

/// Wake-ups kept for a WebSocket that falls behind (per DS process).
const WAKEUP_CAPACITY: usize = 4096;

/// The PostgreSQL store.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    /// The listening connection; stopped when the last clone of the store is dropped.
    listener: Arc<Listener>,
    /// Wake-ups of appended messages for [`send_notices`] (which stops when the last clone
    /// of the store is dropped).
    notices: tokio::sync::mpsc::Sender<String>,
}

/// Wake-ups of messages waiting for [`send_notices`]; past this, one is dropped (and the
/// listeners' sweep announces its append).
const NOTICE_QUEUE: usize = 65_536;

/// Most wake-ups sent in one statement.
const NOTICE_BATCH: usize = 1024;

impl core::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

fn suite_from(value: i64) -> Result<u16, StoreError> {
    u16::try_from(value).map_err(|_| StoreError::Backend("bad cipher suite".into()))
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user@host:port/db`) with a pool of `pool_size`
    /// connections, migrates the schema, and opens the connection that listens for the
    /// wake-ups of every DS node on the database (one more connection than the pool).
    pub async fn connect(url: &str, pool_size: usize) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Config(format!("postgres URL: {e}")))?;
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .build()
            .map_err(|e| StoreError::Config(format!("postgres pool: {e}")))?;
        let listener = Arc::new(Listener::start(config, WAKEUP_CAPACITY).await?);
        let (notices, queue) = tokio::sync::mpsc::channel(NOTICE_QUEUE);
        tokio::spawn(send_notices(pool.clone(), queue));
        let store = Self {
            pool,
            listener,
            notices,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Queues the wake-up of an appended message for [`send_notices`].
    fn notice(&self, group_id: &[u8], seq: u64) {
        if self
            .notices
            .try_send(pg_listen::payload(group_id, seq, false))
            .is_err()
        {
            tracing::warn!("postgres: wake-up queue full (the listeners' sweep will announce)");
        }
    }

    /// Brings the schema up to date ([`migrations::migrate`]) in one transaction.
    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        migrations::migrate(&mut Migrating(&tx), conclave_service::now_seconds()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Appends a message of a group with member proofs (draft-mahy-mls-member-proof-00): in
    /// one transaction with the group row locked (as a commit locks it), the append rule,
    /// the proof rule against the current key, the nonce recorded (single use per epoch),
    /// then the append itself.
    async fn append_with_proof(
        &self,
        group_id: &[u8],
        m: &NewMessage,
        used: &ProofUse,
        now: u64,
    ) -> Result<Appended, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let facts = tx
            .query_opt(
                "SELECT g.epoch, EXISTS (SELECT 1 FROM group_members m
                 WHERE m.group_id = g.group_id AND m.client_id = $2)
                 FROM groups g WHERE g.group_id = $1 FOR UPDATE",
                &[&group_id, &m.sender],
            )
            .await?
            .map(|row| -> Result<AppendFacts, StoreError> {
                Ok(AppendFacts {
                    epoch: to_u64(row.try_get(0)?)?,
                    sender_is_member: row.try_get(1)?,
                })
            })
            .transpose()?;
        if let Some(refused) = rules::append(facts, m.epoch) {
            return Ok(refused);
        }
        let epoch = to_i64(m.epoch)?;
        let proof = match member_proof_key_in(&*tx, group_id).await? {
            Some(public_key) => {
                let inserted = tx
                    .execute(
                        "INSERT INTO member_proof_nonces (group_id, epoch, nonce)
                         VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                        &[&group_id, &epoch, &used.nonce],
                    )
                    .await?;
                Some(ProofFacts {
                    public_key,
                    nonce_seen: inserted == 0,
                })
            }
            None => None,
        };
        if let Some(refused) = rules::append_proof(proof.as_ref(), Some(used)) {
            return Ok(Appended::MemberProofRefused(refused));
        }
        let row = tx
            .query_opt(
                APPEND,
                &[
                    &group_id,
                    &epoch,
                    &m.sender,
                    &i64::from(m.content_type),
                    &m.data,
                    &to_i64(now)?,
                    &true,
                    &m.recipient,
                ],
            )
            .await?
            .ok_or_else(|| {
                StoreError::Backend("the group changed while its row was locked".into())
            })?;
        let seq = to_u64(row.try_get(0)?)?;
        insert_message_annotations(&*tx, group_id, seq, m, now).await?;
        tx.commit().await?;
        self.notice(group_id, seq);
        Ok(Appended::Accepted { seq })
    }
}

/// The migration session of PostgreSQL: the runner's statements on the transaction of
/// [`PostgresStore::migrate`], serialised between processes by an advisory lock held until
/// that transaction ends.
struct Migrating<'a>(&'a tokio_postgres::Transaction<'a>);

impl MigrationSession for Migrating<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn lock(&mut self) -> Result<(), StoreError> {
        self.0
            .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        Ok(())
    }

    async fn execute(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.0.batch_execute(sql).await?)
    }

    async fn applied_version(&mut self) -> Result<i64, StoreError> {
        Ok(self
            .0
            .query_one(migrations::APPLIED_VERSION, &[])
            .await?
            .try_get(0)?)
    }

    async fn record(&mut self, version: i64, applied_at: i64) -> Result<(), StoreError> {
        self.0
            .execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                &[&version, &applied_at],
            )
            .await?;
        Ok(())
    }
}

/// Appends a proposal or application message in one statement (one round trip, the group
/// row locked only for its duration): the sequence number is taken from the group row only
/// if the epoch is the message's and the sender a member. Parameters: group id, epoch,
/// sender, content type, message, time, whether a member proof was accepted (else the group
/// must have none), recipient. No row: refused.
///
/// The epoch condition is re-checked on the newest row version if a concurrent write held
/// the row (READ COMMITTED); the membership subquery sees the statement's snapshot, which is
/// enough because membership only changes with a commit, and a commit moves the epoch on.
const APPEND: &str = "
WITH advanced AS (
    UPDATE groups SET last_seq = last_seq + 1
    WHERE group_id = $1 AND epoch = $2
      AND EXISTS (SELECT 1 FROM group_members WHERE group_id = $1 AND client_id = $3)
      AND ($7 OR NOT EXISTS (SELECT 1 FROM member_proof_keys WHERE group_id = $1))
    RETURNING last_seq
)
INSERT INTO messages (group_id, seq, epoch, content_type, sender, data, created_at, recipient)
SELECT $1, last_seq, $2, $4, $3, $5, $6, $8 FROM advanced
RETURNING seq";

/// The client of a valid bearer token, as a CTE named `tok` (zero or one row) for the
/// statements that check the token in the work's own statement
/// ([`Store::member_log_with_token`], [`Store::append_with_token`]): the token (by its hash,
/// `$TOKEN`) must be of its client's current token generation (a credential change moves it
/// on, which revokes it) and unexpired at `$NOW` (`expires_at >= now`, as
/// [`rules::unexpired`]). The same conditions as [`Store::token`], in the same snapshot as the
/// read or append of the statement.
macro_rules! token_cte {
    ($token:literal, $now:literal) => {
        concat!(
            "tok AS (SELECT t.client_id FROM tokens t
                     JOIN clients c ON c.client_id = t.client_id
                         AND c.token_generation = t.token_generation
                     WHERE t.token_hash = ",
            $token,
            " AND t.expires_at >= ",
            $now,
            ")"
        )
    };
}

/// [`Store::member_log_with_token`] in one statement: no row if the token is refused; else
/// at least one row, whose first columns are the token's client and whether it is a member
/// (the page's columns are NULL when it is empty or the client is no member).
const MEMBER_LOG_WITH_TOKEN: &str = concat!(
    "WITH ",
    token_cte!("$4", "$5"),
    ",
     member AS (SELECT tok.client_id, EXISTS (SELECT 1 FROM group_members gm
                    WHERE gm.group_id = $1 AND gm.client_id = tok.client_id) AS yes FROM tok)
     SELECT member.client_id, member.yes,
            m.seq, m.epoch, m.content_type, m.sender, m.data, m.recipient
     FROM member LEFT JOIN LATERAL (
         SELECT seq, epoch, content_type, sender, data, recipient FROM messages
         WHERE group_id = $1 AND seq > $2 ORDER BY seq LIMIT $3
     ) m ON member.yes
     ORDER BY m.seq"
);

/// [`APPEND`] with the sender taken from a valid bearer token in the same statement (a
/// message without member proof): no row if the token is refused; else one row, the token's
/// client and the appended message's sequence number (NULL if the append was refused).
const APPEND_WITH_TOKEN: &str = concat!(
    "WITH ",
    token_cte!("$7", "$5"),
    ",
     advanced AS (
         UPDATE groups SET last_seq = last_seq + 1
         WHERE group_id = $1 AND epoch = $2
           AND EXISTS (SELECT 1 FROM group_members gm JOIN tok ON gm.client_id = tok.client_id
                       WHERE gm.group_id = $1)
           AND NOT EXISTS (SELECT 1 FROM member_proof_keys WHERE group_id = $1)
         RETURNING last_seq
     ),
     inserted AS (
         INSERT INTO messages
             (group_id, seq, epoch, content_type, sender, data, created_at, recipient)
         SELECT $1, advanced.last_seq, $2, $3, tok.client_id, $4, $5, $6 FROM advanced, tok
         RETURNING seq
     )
     SELECT tok.client_id, (SELECT seq FROM inserted) FROM tok"
);

/// Reads a page of log entries from rows whose columns `first..first + 6` are a log entry's
/// (all NULL for the one row of an empty page).
fn log_entries(rows: &[tokio_postgres::Row], first: usize) -> Result<Vec<LogEntry>, StoreError> {
    let mut entries = Vec::with_capacity(rows.len());
    for row in rows {
        let Some(seq) = row.try_get::<_, Option<i64>>(first)? else {
            continue; // the empty page's one row
        };
        entries.push(LogEntry {
            seq: to_u64(seq)?,
            epoch: to_u64(row.try_get(first + 1)?)?,
            content_type: u8::try_from(row.try_get::<_, i64>(first + 2)?)
                .map_err(|_| StoreError::Backend("bad content type".into()))?,
            sender: row.try_get(first + 3)?,
            data: row.try_get(first + 4)?,
            recipient: row.try_get(first + 5)?,
        });
    }
    Ok(entries)
}

/// draft-ietf-mls-partial-02 §7: stores the sender's proof of an appended application
/// message for each partial member ([`NewMessage::annotations`]).
async fn insert_message_annotations(
    conn: &impl tokio_postgres::GenericClient,
    group_id: &[u8],
    seq: u64,
    m: &NewMessage,
    now: u64,
) -> Result<(), StoreError> {
    for (client, proof) in &m.annotations {
        conn.execute(
            "INSERT INTO partial_annotations (group_id, seq, client_id, data, created_at)
             VALUES ($1, $2, $3, $4, $5)",
            &[&group_id, &to_i64(seq)?, client, proof, &to_i64(now)?],
        )
        .await?;
    }
    Ok(())
}

/// Announces committed message appends to every DS node, in batches: the wake-ups queued
/// while the previous batch was sent go out in one statement (one `pg_notify` per append,
/// in one transaction of their own, after the appends'; see [`super::pg_listen`] for why
/// not in the append's). A post is so answered without waiting for its notification, and
/// a node makes one notifying transaction per batch instead of one per post. A failure is
/// logged: the appends stand, and the listeners' next sweep announces them.
async fn send_notices(pool: Pool, mut queue: tokio::sync::mpsc::Receiver<String>) {
    let mut batch = Vec::with_capacity(NOTICE_BATCH);
    while queue.recv_many(&mut batch, NOTICE_BATCH).await > 0 {
        let sent = async {
            let client = pool.get().await?;
            let statement = client
                .prepare_cached("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p")
                .await?;
            client
                .execute(&statement, &[&pg_listen::CHANNEL, &batch])
                .await?;
            Ok::<_, StoreError>(())
        }
        .await;
        if let Err(e) = sent {
            tracing::warn!(
                error = %e,
                appends = batch.len(),
                "postgres: could not announce appends (the listeners' sweep will)"
            );
        }
        batch.clear();
    }
}

/// Announces a committed log append to every DS node: `pg_notify` in a transaction of its
/// own, after the append's (see [`super::pg_listen`] for why). A failure is logged, not
/// returned: the append stands, and the listeners' next sweep announces it.
async fn announce(
    client: &deadpool_postgres::ClientWrapper,
    group_id: &[u8],
    seq: u64,
    commit: bool,
) {
    let payload = pg_listen::payload(group_id, seq, commit);
    let notified = match client.prepare_cached("SELECT pg_notify($1, $2)").await {
        Ok(statement) => {
            client
                .execute(&statement, &[&pg_listen::CHANNEL, &payload])
                .await
        }
        Err(e) => Err(e),
    };
    if let Err(e) = notified {
        tracing::warn!(
            error = %StoreError::from(e),
            "postgres: could not announce an append (the listeners' sweep will)"
        );
    }
}

/// The member-proof key of a group, read with `client` (in the caller's transaction).
async fn member_proof_key_in(
    client: &impl tokio_postgres::GenericClient,
    group_id: &[u8],
) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(client
        .query_opt(
            "SELECT public_key FROM member_proof_keys WHERE group_id = $1",
            &[&group_id],
        )
        .await?
        .map(|r| r.try_get(0))
        .transpose()?)
}

/// A row of `SELECT seq, epoch, content_type, sender, data, recipient FROM messages …` as a log entry.
fn log_entry(r: &tokio_postgres::Row) -> Result<LogEntry, StoreError> {
    Ok(LogEntry {
        seq: to_u64(r.try_get(0)?)?,
        epoch: to_u64(r.try_get(1)?)?,
        content_type: u8::try_from(r.try_get::<_, i64>(2)?)
            .map_err(|_| StoreError::Backend("bad content type".into()))?,
        sender: r.try_get(3)?,
        data: r.try_get(4)?,
        recipient: r.try_get(5)?,
    })
}

#[async_trait]
impl Store for PostgresStore {
    fn engine(&self) -> &'static str {
        "postgres"
    }

    fn wakeups(&self) -> Option<WakeupFeed> {
        Some(self.listener.feed().clone())
    }

    async fn health(&self) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        client.query_one("SELECT 1", &[]).await?;
        Ok(())
    }

    async fn register_client(&self, c: &ClientRecord) -> Result<Registered, StoreError> {
        let client = self.pool.get().await?;
        let inserted = client
            .execute(
                "INSERT INTO clients (client_id, cipher_suite, signature_key, credential,
                 created_at, partial) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (client_id) DO NOTHING",
                &[
                    &c.client_id,
                    &i64::from(c.cipher_suite),
                    &c.signature_key,
                    &c.credential,
                    &to_i64(c.created_at)?,
                    &c.partial,
                ],
            )
            .await?;
        if inserted == 1 {
            return Ok(Registered::Created);
        }
        let row = client
            .query_opt(
                "SELECT signature_key, credential FROM clients WHERE client_id = $1",
                &[&c.client_id],
            )
            .await?;
        Ok(match row {
            Some(row) => {
                let key: Vec<u8> = row.try_get(0)?;
                let credential: Vec<u8> = row.try_get(1)?;
                rules::reregistration(&key, &credential, c)
            }
            // The insert conflicted, so the id was taken a moment ago.
            None => Registered::Taken,
        })
    }

    async fn client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                "SELECT client_id, cipher_suite, signature_key, credential, created_at,
                 token_generation, partial FROM clients WHERE client_id = $1",
                &[&client_id],
            )
            .await?;
        row.map(|r| {
            Ok(ClientRecord {
                client_id: r.try_get(0)?,
                cipher_suite: suite_from(r.try_get(1)?)?,
                signature_key: r.try_get(2)?,
                credential: r.try_get(3)?,
                created_at: to_u64(r.try_get(4)?)?,
                token_generation: to_u64(r.try_get(5)?)?,
                partial: r.try_get(6)?,
            })
        })
        .transpose()
    }

    async fn update_client_credential(
        &self,
        c: &CredentialChange,
    ) -> Result<CredentialUpdated, StoreError> {
        let client = self.pool.get().await?;
        // One statement: the row is updated only if it still has the previous key and
        // credential; otherwise the subquery tells a missing client from a changed one.
        let row = client
            .query_one(
                "WITH updated AS (
                     UPDATE clients SET cipher_suite = $2, signature_key = $3, credential = $4,
                         token_generation = token_generation + 1
                     WHERE client_id = $1 AND signature_key = $5 AND credential = $6
                     RETURNING 1
                 )
                 SELECT (SELECT COUNT(*) FROM updated),
                        EXISTS (SELECT 1 FROM clients WHERE client_id = $1)",
                &[
                    &c.client_id,
                    &i64::from(c.cipher_suite),
                    &c.signature_key,
                    &c.credential,
                    &c.previous_signature_key,
                    &c.previous_credential,
                ],
            )
            .await?;
        let updated: i64 = row.try_get(0)?;
        let exists: bool = row.try_get(1)?;
        Ok(rules::credential_update(updated == 1, exists))
    }

    async fn use_challenge(
        &self,
        challenge_id: &[u8],
        expires_at: u64,
    ) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        let inserted = client
            .execute(
                "INSERT INTO used_challenges (challenge_id, expires_at) VALUES ($1, $2)
                 ON CONFLICT (challenge_id) DO NOTHING",
                &[&challenge_id, &to_i64(expires_at)?],
            )
            .await?;
        Ok(inserted == 1)
    }

    async fn server_secret(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>, StoreError> {
        let client = self.pool.get().await?;
        // Whichever node inserts first wins; the others read its secret.
        client
            .execute(
                "INSERT INTO server_secrets (name, secret) VALUES ($1, $2)
                 ON CONFLICT (name) DO NOTHING",
                &[&name, &candidate],
            )
            .await?;
        let row = client
            .query_one(
                "SELECT secret FROM server_secrets WHERE name = $1",
                &[&name],
            )
            .await?;
        Ok(row.try_get(0)?)
    }

    async fn put_token(
        &self,
        token_hash: &[u8],
        client_id: &str,
        token_generation: u64,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        client
            .execute(
                "INSERT INTO tokens (token_hash, client_id, token_generation, expires_at)
                 VALUES ($1, $2, $3, $4)",
                &[
                    &token_hash,
                    &client_id,
                    &to_i64(token_generation)?,
                    &to_i64(expires_at)?,
                ],
            )
            .await?;
        Ok(())
    }

    async fn token(
        &self,
        token_hash: &[u8],
        now: u64,
    ) -> Result<Option<(String, u64)>, StoreError> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(
                "SELECT t.client_id, t.expires_at FROM tokens t
                 JOIN clients c ON c.client_id = t.client_id
                     AND c.token_generation = t.token_generation
                 WHERE t.token_hash = $1",
            )
            .await?;
        let row = client.query_opt(&statement, &[&token_hash]).await?;
        match row {
            Some(r) => {
                let expires = to_u64(r.try_get(1)?)?;
                Ok(rules::unexpired(expires, now).then_some((r.try_get(0)?, expires)))
            }
            None => Ok(None),
        }
    }

    async fn publish_key_packages(&self, packages: &[NewKeyPackage]) -> Result<u64, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let mut stored = 0u64;
        for kp in packages {
            let suite = i64::from(kp.cipher_suite);
            if kp.last_resort {
                tx.execute(
                    "UPDATE key_packages SET not_after = $4
                     WHERE owner = $1 AND cipher_suite = $2 AND last_resort AND kp_ref <> $3",
                    &[&kp.owner, &suite, &kp.kp_ref, &rules::RETIRED_NOT_AFTER],
                )
                .await?;
            }
            stored += tx
                .execute(
                    "INSERT INTO key_packages (kp_ref, owner, cipher_suite, last_resort,
                     not_before, not_after, data, bound_group)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                     ON CONFLICT (kp_ref) DO NOTHING",
                    &[
                        &kp.kp_ref,
                        &kp.owner,
                        &suite,
                        &kp.last_resort,
                        &to_i64(kp.not_before)?,
                        &to_i64(kp.not_after)?,
                        &kp.data,
                        &kp.bound_group,
                    ],
                )
                .await?;
        }
        tx.commit().await?;
        Ok(stored)
    }

    async fn count_target_claim(
        &self,
        owner: &str,
        minute: u64,
        limit: u32,
    ) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        let minute = to_i64(minute)?;
        let limit = i64::from(limit);
        // One upsert (the row lock orders concurrent claims of one target): a new minute
        // starts the count again; within the minute the count grows only below the limit
        // (the row is not touched at the limit, so nothing is returned).
        let counted = client
            .query_opt(
                "INSERT INTO target_claims (owner, minute, claims)
                 SELECT $1, $2, 1 WHERE EXISTS
                     (SELECT 1 FROM clients WHERE client_id = $1)
                 ON CONFLICT (owner) DO UPDATE SET
                     claims = CASE WHEN target_claims.minute = EXCLUDED.minute
                                   THEN target_claims.claims + 1 ELSE 1 END,
                     minute = EXCLUDED.minute
                 WHERE target_claims.minute <> EXCLUDED.minute OR target_claims.claims < $3
                 RETURNING claims",
                &[&owner, &minute, &limit],
            )
            .await?;
        if counted.is_some() {
            return Ok(true);
        }
        // Not counted: refused if the client exists (the limit was reached), allowed for an
        // unknown id.
        let known = client
            .query_opt("SELECT 1 FROM clients WHERE client_id = $1", &[&owner])
            .await?;
        Ok(known.is_none())
    }

    async fn claim_key_package(
        &self,
        owner: &str,
        cipher_suite: u16,
        group: Option<&[u8]>,
        now: u64,
    ) -> Result<Option<ClaimedKeyPackage>, StoreError> {
        let client = self.pool.get().await?;
        let now = to_i64(now)?;
        let suite = i64::from(cipher_suite);
        // `bound_group = NULL` is never true: a claim naming no group gets unbound packages
        // only.
        let one_time = client
            .query_opt(
                "UPDATE key_packages SET claimed_at = $3, claim_count = claim_count + 1
                 WHERE id = (SELECT id FROM key_packages
                             WHERE owner = $1 AND cipher_suite = $2 AND NOT last_resort
                             AND claimed_at IS NULL AND not_before <= $3 AND not_after >= $3
                             AND (bound_group IS NULL OR bound_group = $4)
                             ORDER BY bound_group IS NULL, id LIMIT 1 FOR UPDATE SKIP LOCKED)
                 AND claimed_at IS NULL
                 RETURNING kp_ref, data",
                &[&owner, &suite, &now, &group],
            )
            .await?;
        if let Some(row) = one_time {
            return Ok(Some(ClaimedKeyPackage {
                kp_ref: row.try_get(0)?,
                data: row.try_get(1)?,
                last_resort: false,
            }));
        }
        let last_resort = client
            .query_opt(
                "UPDATE key_packages SET claimed_at = $3, claim_count = claim_count + 1
                 WHERE id = (SELECT id FROM key_packages
                             WHERE owner = $1 AND cipher_suite = $2 AND last_resort
                             AND not_before <= $3 AND not_after >= $3
                             AND (bound_group IS NULL OR bound_group = $4)
                             ORDER BY bound_group IS NULL, id DESC LIMIT 1)
                 RETURNING kp_ref, data",
                &[&owner, &suite, &now, &group],
            )
            .await?;
        Ok(match last_resort {
            Some(row) => Some(ClaimedKeyPackage {
                kp_ref: row.try_get(0)?,
                data: row.try_get(1)?,
                last_resort: true,
            }),
            None => None,
        })
    }

    async fn key_package_stock(
        &self,
        owner: &str,
        now: u64,
    ) -> Result<Vec<KeyPackageStock>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT cipher_suite,
                    COUNT(*) FILTER (WHERE NOT last_resort AND claimed_at IS NULL),
                    COUNT(*) FILTER (WHERE last_resort),
                    COUNT(*) FILTER (WHERE last_resort AND claimed_at IS NOT NULL)
                 FROM key_packages
                 WHERE owner = $1 AND not_before <= $2 AND not_after >= $2
                 AND bound_group IS NULL
                 GROUP BY cipher_suite ORDER BY cipher_suite",
                &[&owner, &to_i64(now)?],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let last_resort: i64 = r.try_get(2)?;
                let claimed: i64 = r.try_get(3)?;
                Ok(KeyPackageStock {
                    cipher_suite: suite_from(r.try_get(0)?)?,
                    one_time_available: to_u64(r.try_get(1)?)?,
                    has_last_resort: last_resort > 0,
                    last_resort_claimed: claimed > 0,
                })
            })
            .collect()
    }

    async fn create_group(&self, group: &NewGroup, now: u64) -> Result<bool, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let inserted = tx
            .execute(
                "INSERT INTO groups (group_id, epoch, last_seq, allow_external_join, created_at,
                 group_info, ratchet_tree, public_state)
                 VALUES ($1, $2, 0, $3, $4, $5, $6, $7) ON CONFLICT (group_id) DO NOTHING",
                &[
                    &group.group_id,
                    &to_i64(group.epoch)?,
                    &group.allow_external_join,
                    &to_i64(now)?,
                    &group.group_info,
                    &group.ratchet_tree,
                    &group.public_state,
                ],
            )
            .await?;
        if inserted == 0 {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO group_members (group_id, client_id) VALUES ($1, $2)",
            &[&group.group_id, &group.creator],
        )
        .await?;
        if let Some(key) = &group.member_proof {
            tx.execute(
                "INSERT INTO member_proof_keys (group_id, cipher_suite, epoch, public_key)
                 VALUES ($1, $2, $3, $4)",
                &[
                    &group.group_id,
                    &i32::from(key.cipher_suite),
                    &to_i64(key.epoch)?,
                    &key.public_key,
                ],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn member_proof_key(
        &self,
        group_id: &[u8],
    ) -> Result<Option<MemberProofKey>, StoreError> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(
                "SELECT cipher_suite, epoch, public_key FROM member_proof_keys
                 WHERE group_id = $1",
            )
            .await?;
        let Some(row) = client.query_opt(&statement, &[&group_id]).await? else {
            return Ok(None);
        };
        let suite: i32 = row.try_get(0)?;
        Ok(Some(MemberProofKey {
            cipher_suite: u16::try_from(suite)
                .map_err(|_| StoreError::Backend(format!("cipher suite {suite} out of range")))?,
            epoch: to_u64(row.try_get(1)?)?,
            public_key: row.try_get(2)?,
        }))
    }

    async fn group(&self, group_id: &[u8]) -> Result<Option<GroupRecord>, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let statement = tx
            .prepare_cached(
                "SELECT epoch, last_seq, group_info, ratchet_tree, allow_external_join,
                 public_state FROM groups WHERE group_id = $1",
            )
            .await?;
        let Some(row) = tx.query_opt(&statement, &[&group_id]).await? else {
            return Ok(None);
        };
        let statement = tx
            .prepare_cached(
                "SELECT client_id FROM group_members WHERE group_id = $1 ORDER BY client_id",
            )
            .await?;
        let members = tx
            .query(&statement, &[&group_id])
            .await?
            .iter()
            .map(|r| r.try_get::<_, String>(0))
            .collect::<Result<Vec<_>, _>>()?;
        tx.commit().await?;
        Ok(Some(GroupRecord {
            group_id: group_id.to_vec(),
            epoch: to_u64(row.try_get(0)?)?,
            last_seq: to_u64(row.try_get(1)?)?,
            group_info: row.try_get(2)?,
            ratchet_tree: row.try_get(3)?,
            allow_external_join: row.try_get(4)?,
            members,
            public_state: row.try_get(5)?,
        }))
    }

    async fn removed_at(
        &self,
        group_id: &[u8],
        client_id: &str,
    ) -> Result<Option<u64>, StoreError> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                "SELECT removed_at FROM former_members WHERE group_id = $1 AND client_id = $2",
                &[&group_id, &client_id],
            )
            .await?;
        row.map(|r| {
            r.try_get::<_, i64>(0)
                .map_err(StoreError::from)
                .and_then(to_u64)
        })
        .transpose()
    }

    async fn group_kind(&self, group_id: &[u8]) -> Result<Option<GroupKind>, StoreError> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(
                "SELECT public_state IS NOT NULL,
                 EXISTS (SELECT 1 FROM member_proof_keys k WHERE k.group_id = g.group_id)
                 FROM groups g WHERE g.group_id = $1",
            )
            .await?;
        client
            .query_opt(&statement, &[&group_id])
            .await?
            .map(|row| {
                Ok(GroupKind {
                    verified: row.try_get(0)?,
                    member_proofs: row.try_get(1)?,
                })
            })
            .transpose()
    }

    async fn member_log(
        &self,
        group_id: &[u8],
        client_id: &str,
        after: u64,
        limit: u32,
    ) -> Result<Option<Vec<LogEntry>>, StoreError> {
        let client = self.pool.get().await?;
        // One statement, so one snapshot: always one row at least, whose first column says
        // whether the client is a member; the page's columns are NULL when it is empty.
        let statement = client
            .prepare_cached(
                "WITH member AS (SELECT EXISTS (SELECT 1 FROM group_members
                                                WHERE group_id = $1 AND client_id = $4) AS yes)
                 SELECT member.yes, m.seq, m.epoch, m.content_type, m.sender, m.data, m.recipient
                 FROM member LEFT JOIN LATERAL (
                     SELECT seq, epoch, content_type, sender, data, recipient FROM messages
                     WHERE group_id = $1 AND seq > $2 ORDER BY seq LIMIT $3
                 ) m ON member.yes
                 ORDER BY m.seq",
            )
            .await?;
        let rows = client
            .query(
                &statement,
                &[&group_id, &to_i64(after)?, &i64::from(limit), &client_id],
            )
            .await?;
        let member = match rows.first() {
            Some(row) => row.try_get::<_, bool>(0)?,
            None => false,
        };
        if !member {
            return Ok(None);
        }
        Ok(Some(log_entries(&rows, 1)?))
    }

    async fn member_log_with_token(
        &self,
        token_hash: &[u8],
        now: u64,
        group_id: &[u8],
        after: u64,
        limit: u32,
    ) -> Result<WithToken<Option<Vec<LogEntry>>>, StoreError> {
        let client = self.pool.get().await?;
        // One statement, so the token, its client's generation, the membership and the
        // page are read in one snapshot.
        let statement = client.prepare_cached(MEMBER_LOG_WITH_TOKEN).await?;
        let rows = client
            .query(
                &statement,
                &[
                    &group_id,
                    &to_i64(after)?,
                    &i64::from(limit),
                    &token_hash,
                    &to_i64(now)?,
                ],
            )
            .await?;
        let Some(first) = rows.first() else {
            return Ok(WithToken::Refused);
        };
        let client_id: String = first.try_get(0)?;
        let outcome = if first.try_get::<_, bool>(1)? {
            Some(log_entries(&rows, 2)?)
        } else {
            None
        };
        Ok(WithToken::Client { client_id, outcome })
    }

    async fn is_member(&self, group_id: &[u8], client_id: &str) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached("SELECT 1 FROM group_members WHERE group_id = $1 AND client_id = $2")
            .await?;
        Ok(client
            .query_opt(&statement, &[&group_id, &client_id])
            .await?
            .is_some())
    }

    async fn append(
        &self,
        group_id: &[u8],
        m: &NewMessage,
        now: u64,
    ) -> Result<Appended, StoreError> {
        if let Some(used) = &m.member_proof {
            return self.append_with_proof(group_id, m, used, now).await;
        }
        let client = self.pool.get().await?;
        let (epoch, now) = (to_i64(m.epoch)?, to_i64(now)?);
        let content_type = i64::from(m.content_type);
        // A refused append is retried only if the group changed in between so that it
        // would now be accepted (a commit racing it); a few rounds are plenty.
        let statement = client.prepare_cached(APPEND).await?;
        for _ in 0..3 {
            let appended = client
                .query_opt(
                    &statement,
                    &[
                        &group_id,
                        &epoch,
                        &m.sender,
                        &content_type,
                        &m.data,
                        &now,
                        &false,
                        &m.recipient,
                    ],
                )
                .await?;
            if let Some(row) = appended {
                let seq = to_u64(row.try_get(0)?)?;
                // After the append's own statement: a DS stopped in between leaves the
                // message without its proofs (a partial member reports it unreadable).
                insert_message_annotations(&**client, group_id, seq, m, to_u64(now)?).await?;
                self.notice(group_id, seq);
                return Ok(Appended::Accepted { seq });
            }
            // Refused: say why, with the rule the statement's conditions implement. If the
            // rule would now append it, a commit raced the statement: try again.
            let facts = client
                .query_opt(
                    "SELECT g.epoch, EXISTS (SELECT 1 FROM group_members m
                     WHERE m.group_id = g.group_id AND m.client_id = $2)
                     FROM groups g WHERE g.group_id = $1",
                    &[&group_id, &m.sender],
                )
                .await?
                .map(|row| -> Result<AppendFacts, StoreError> {
                    Ok(AppendFacts {
                        epoch: to_u64(row.try_get(0)?)?,
                        sender_is_member: row.try_get(1)?,
                    })
                })
                .transpose()?;
            if let Some(refused) = rules::append(facts, m.epoch) {
                return Ok(refused);
            }
            // A group with member proofs takes no message without one.
            let proof = member_proof_key_in(&**client, group_id)
                .await?
                .map(|public_key| ProofFacts {
                    public_key,
                    nonce_seen: false,
                });
            if let Some(refused) = rules::append_proof(proof.as_ref(), None) {
                return Ok(Appended::MemberProofRefused(refused));
            }
        }
        Err(StoreError::Backend(
            "append refused repeatedly while the group allows it".into(),
        ))
    }

    async fn append_with_token(
        &self,
        token_hash: &[u8],
        group_id: &[u8],
        m: &NewMessage,
        now: u64,
    ) -> Result<WithToken<Appended>, StoreError> {
        if m.member_proof.is_some() || !m.annotations.is_empty() {
            // Not folded: the token, then the append (as the trait's default).
            return super::token_then_append(self, token_hash, group_id, m, now).await;
        }
        let row = {
            let client = self.pool.get().await?;
            let statement = client.prepare_cached(APPEND_WITH_TOKEN).await?;
            client
                .query_opt(
                    &statement,
                    &[
                        &group_id,
                        &to_i64(m.epoch)?,
                        &i64::from(m.content_type),
                        &m.data,
                        &to_i64(now)?,
                        &m.recipient,
                        &token_hash,
                    ],
                )
                .await?
        };
        let Some(row) = row else {
            return Ok(WithToken::Refused);
        };
        let client_id: String = row.try_get(0)?;
        if let Some(seq) = row.try_get::<_, Option<i64>>(1)? {
            let seq = to_u64(seq)?;
            self.notice(group_id, seq);
            return Ok(WithToken::Client {
                client_id,
                outcome: Appended::Accepted { seq },
            });
        }
        // Refused by the group (or a commit raced it): the token was valid in the
        // statement's snapshot; the plain append, as its client, says why (and retries if
        // a commit raced it, as it does for itself).
        super::append_as(self, client_id, group_id, m, now).await
    }

    async fn commit(
        &self,
        group_id: &[u8],
        c: &CommitRecord,
        now: u64,
    ) -> Result<Committed, StoreError> {
        let now = to_i64(now)?;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        // The group row stays locked until the transaction ends: concurrent commits to the
        // group serialise here, and each sees the epoch and members the previous one left.
        let row = tx
            .query_opt(
                "SELECT epoch, allow_external_join FROM groups WHERE group_id = $1 FOR UPDATE",
                &[&group_id],
            )
            .await?;
        let previous: Vec<String> = match row {
            Some(_) => tx
                .query(
                    "SELECT client_id FROM group_members WHERE group_id = $1",
                    &[&group_id],
                )
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        let facts = match &row {
            Some(row) => Some(CommitFacts {
                epoch: to_u64(row.try_get(0)?)?,
                allow_external_join: row.try_get(1)?,
                sender_is_member: previous.contains(&c.sender),
            }),
            None => None,
        };
        let next_epoch = match rules::commit(facts.as_ref(), c)? {
            CommitDecision::Apply { next_epoch } => next_epoch,
            CommitDecision::Refuse(refused) => return Ok(refused),
        };
        // Member proofs (the row lock serialises this with appends to the group).
        let proof = match member_proof_key_in(&*tx, group_id).await? {
            Some(public_key) => Some(ProofFacts {
                public_key,
                nonce_seen: match &c.member_proof {
                    Some(used) => tx
                        .query_opt(
                            "SELECT 1 FROM member_proof_nonces WHERE group_id = $1
                             AND epoch = $2 AND nonce = $3",
                            &[&group_id, &to_i64(c.epoch)?, &used.nonce],
                        )
                        .await?
                        .is_some(),
                    None => false,
                },
            }),
            None => None,
        };
        if let Some(refused) = rules::commit_proof(proof.as_ref(), c) {
            return Ok(Committed::MemberProofRefused(refused));
        }
        if proof.is_some()
            && let Some(next_key) = &c.next_member_proof_key
        {
            // The epoch ends: its nonces cannot be replayed into the next one.
            tx.execute(
                "UPDATE member_proof_keys SET epoch = $2, public_key = $3 WHERE group_id = $1",
                &[&group_id, &to_i64(next_epoch)?, next_key],
            )
            .await?;
            tx.execute(
                "DELETE FROM member_proof_nonces WHERE group_id = $1",
                &[&group_id],
            )
            .await?;
        }
        // The conditional epoch update (the rule checked the epoch under the row lock; the
        // condition keeps "exactly one commit per epoch" in the statement that moves it).
        let Some(row) = tx
            .query_opt(
                "UPDATE groups SET epoch = $3, last_seq = last_seq + 1, group_info = $4,
                 ratchet_tree = $5, allow_external_join = COALESCE($6, allow_external_join),
                 public_state = COALESCE($7, public_state)
                 WHERE group_id = $1 AND epoch = $2 RETURNING last_seq",
                &[
                    &group_id,
                    &to_i64(c.epoch)?,
                    &to_i64(next_epoch)?,
                    &c.group_info,
                    &c.ratchet_tree,
                    &c.allow_external_join,
                    &c.public_state,
                ],
            )
            .await?
        else {
            return Err(StoreError::Backend(
                "the group's epoch moved while its row was locked".into(),
            ));
        };
        let seq: i64 = row.try_get(0)?;
        tx.execute(
            "INSERT INTO messages (group_id, seq, epoch, content_type, sender, data, created_at)
             VALUES ($1, $2, $3, 3, $4, $5, $6)",
            &[&group_id, &seq, &to_i64(c.epoch)?, &c.sender, &c.data, &now],
        )
        .await?;
        // Who leaves may still read the log up to this commit; who (re)joins is a member
        // again.
        let change = rules::membership_change(&previous, &c.members);
        if !change.removed.is_empty() {
            tx.execute(
                "DELETE FROM group_members WHERE group_id = $1 AND client_id = ANY($2::TEXT[])",
                &[&group_id, &change.removed],
            )
            .await?;
            tx.execute(
                "INSERT INTO former_members (group_id, client_id, removed_at)
                 SELECT $1, m, $3 FROM UNNEST($2::TEXT[]) AS m
                 ON CONFLICT (group_id, client_id) DO UPDATE SET removed_at = EXCLUDED.removed_at",
                &[&group_id, &change.removed, &seq],
            )
            .await?;
        }
        if !change.added.is_empty() {
            tx.execute(
                "INSERT INTO group_members (group_id, client_id)
                 SELECT $1, m FROM UNNEST($2::TEXT[]) AS m ON CONFLICT DO NOTHING",
                &[&group_id, &change.added],
            )
            .await?;
            tx.execute(
                "DELETE FROM former_members WHERE group_id = $1 AND client_id = ANY($2::TEXT[])",
                &[&group_id, &change.added],
            )
            .await?;
        }
        let mut routed = Vec::new();
        if let Some((welcome, refs)) = &c.welcome {
            let welcome_id: i64 = tx
                .query_one(
                    "INSERT INTO welcome_messages (group_id, data, created_at)
                     VALUES ($1, $2, $3) RETURNING id",
                    &[&group_id, welcome, &now],
                )
                .await?
                .try_get(0)?;
            // One statement for every inbox row, each ref matched once.
            let owners = tx
                .query(
                    "INSERT INTO welcome_inbox (client_id, kp_ref, welcome_id)
                     SELECT owner, kp_ref, $2 FROM key_packages WHERE kp_ref = ANY($1)
                     RETURNING client_id",
                    &[refs, &welcome_id],
                )
                .await?;
            for owner in owners {
                routed.push(owner.try_get(0)?);
            }
        }
        // draft-ietf-mls-partial-02 §8: each partial joiner's own AnnotatedWelcome.
        for (kp_ref, annotated) in &c.annotated_welcomes {
            let welcome_id: i64 = tx
                .query_one(
                    "INSERT INTO welcome_messages (group_id, data, created_at)
                     VALUES ($1, $2, $3) RETURNING id",
                    &[&group_id, annotated, &now],
                )
                .await?
                .try_get(0)?;
            let owner = tx
                .query_opt(
                    "INSERT INTO welcome_inbox (client_id, kp_ref, welcome_id, annotated)
                     SELECT owner, kp_ref, $2, TRUE FROM key_packages WHERE kp_ref = $1
                     RETURNING client_id",
                    &[kp_ref, &welcome_id],
                )
                .await?;
            if let Some(owner) = owner {
                routed.push(owner.try_get(0)?);
            }
        }
        // draft-ietf-mls-partial-02 §10: the partial members' AnnotatedCommits, at the
        // commit's position in the log.
        for (member, annotated) in &c.annotations {
            tx.execute(
                "INSERT INTO partial_annotations (group_id, seq, client_id, data, created_at)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&group_id, &seq, member, annotated, &now],
            )
            .await?;
        }
        tx.commit().await?;
        announce(&client, group_id, to_u64(seq)?, true).await;
        Ok(Committed::Accepted {
            seq: to_u64(seq)?,
            epoch: next_epoch,
            routed,
        })
    }

    async fn read_log(
        &self,
        group_id: &[u8],
        after: u64,
        limit: u32,
    ) -> Result<Vec<LogEntry>, StoreError> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(
                "SELECT seq, epoch, content_type, sender, data, recipient FROM messages
                 WHERE group_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            )
            .await?;
        let rows = client
            .query(&statement, &[&group_id, &to_i64(after)?, &i64::from(limit)])
            .await?;
        rows.iter().map(log_entry).collect()
    }

    async fn epoch_proposals(
        &self,
        group_id: &[u8],
        epoch: u64,
        limit: u32,
    ) -> Result<Vec<LogEntry>, StoreError> {
        let client = self.pool.get().await?;
        // The last commit is found by walking the primary key (group_id, seq) backwards.
        let rows = client
            .query(
                "SELECT seq, epoch, content_type, sender, data, recipient FROM messages
                 WHERE group_id = $1 AND content_type = 2 AND epoch = $2
                   AND seq > COALESCE((SELECT seq FROM messages
                                       WHERE group_id = $1 AND content_type = 3
                                       ORDER BY seq DESC LIMIT 1), 0)
                 ORDER BY seq LIMIT $3",
                &[&group_id, &to_i64(epoch)?, &i64::from(limit)],
            )
            .await?;
        rows.iter().map(log_entry).collect()
    }

    async fn welcomes(
        &self,
        client_id: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<WelcomeEntry>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT i.id, i.kp_ref, w.data, i.annotated FROM welcome_inbox i
                 JOIN welcome_messages w ON w.id = i.welcome_id
                 WHERE i.client_id = $1 AND i.id > $2 ORDER BY i.id LIMIT $3",
                &[&client_id, &to_i64(after)?, &i64::from(limit)],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(WelcomeEntry {
                    id: to_u64(r.try_get(0)?)?,
                    kp_ref: r.try_get(1)?,
                    data: r.try_get(2)?,
                    annotated: r.try_get(3)?,
                })
            })
            .collect()
    }

    async fn partial_clients(&self, client_ids: &[String]) -> Result<Vec<String>, StoreError> {
        if client_ids.is_empty() {
            return Ok(Vec::new());
        }
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT client_id FROM clients WHERE partial AND client_id = ANY($1)
                 ORDER BY client_id",
                &[&client_ids],
            )
            .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    async fn annotations(
        &self,
        group_id: &[u8],
        client_id: &str,
        after: u64,
        up_to: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT seq, data FROM partial_annotations
                 WHERE group_id = $1 AND client_id = $2 AND seq > $3 AND seq <= $4
                 ORDER BY seq",
                &[&group_id, &client_id, &to_i64(after)?, &to_i64(up_to)?],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((to_u64(r.try_get(0)?)?, r.try_get(1)?)))
            .collect()
    }

    async fn ack_welcomes(&self, client_id: &str, up_to: u64) -> Result<u64, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let n = tx
            .execute(
                "DELETE FROM welcome_inbox WHERE client_id = $1 AND id <= $2",
                &[&client_id, &to_i64(up_to)?],
            )
            .await?;
        tx.execute(
            "DELETE FROM welcome_messages w WHERE NOT EXISTS
             (SELECT 1 FROM welcome_inbox i WHERE i.welcome_id = w.id)",
            &[],
        )
        .await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn receiver_key(&self, candidate: &ReceiverKey) -> Result<ReceiverKey, StoreError> {
        let client = self.pool.get().await?;
        let suite = i32::from(candidate.cipher_suite);
        // Concurrent nodes: the second INSERT waits for the first one's transaction and
        // then does nothing; the SELECT (read committed) sees the first key.
        client
            .execute(
                "INSERT INTO receiver_keys (cipher_suite, receiver, private_key, created_at)
                 VALUES ($1, $2, $3, $4) ON CONFLICT (cipher_suite) DO NOTHING",
                &[
                    &suite,
                    &candidate.receiver,
                    &candidate.private_key.as_bytes(),
                    &to_i64(candidate.created_at)?,
                ],
            )
            .await?;
        let row = client
            .query_one(
                "SELECT receiver, private_key, created_at FROM receiver_keys
                 WHERE cipher_suite = $1",
                &[&suite],
            )
            .await?;
        Ok(ReceiverKey {
            cipher_suite: candidate.cipher_suite,
            receiver: row.try_get(0)?,
            private_key: conclave_crypto::Secret::new(row.try_get(1)?),
            created_at: to_u64(row.try_get(2)?)?,
        })
    }

    async fn prune(&self, now: u64, messages_before: Option<u64>) -> Result<Pruned, StoreError> {
        let cutoffs = rules::prune_cutoffs(now, messages_before)?;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let messages = match cutoffs.messages_before {
            Some(before) => {
                tx.execute(
                    "DELETE FROM partial_annotations WHERE created_at < $1",
                    &[&before],
                )
                .await?;
                tx.execute("DELETE FROM messages WHERE created_at < $1", &[&before])
                    .await?
            }
            None => 0,
        };
        let expired = cutoffs.auth_expired_before;
        let auth = tx
            .execute(
                "DELETE FROM used_challenges WHERE expires_at < $1",
                &[&expired],
            )
            .await?
            + tx.execute(
                "DELETE FROM tokens WHERE expires_at < $1 OR token_generation <
                 (SELECT c.token_generation FROM clients c WHERE c.client_id = tokens.client_id)",
                &[&expired],
            )
            .await?;
        let key_packages = tx
            .execute(
                "DELETE FROM key_packages WHERE not_after < $1",
                &[&cutoffs.key_packages_expired_before],
            )
            .await?;
        tx.commit().await?;
        Ok(Pruned {
            messages,
            auth,
            key_packages,
        })
    }
}
