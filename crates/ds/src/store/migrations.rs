//! The schema migrations of both engines, in one list, and the one runner that applies them.
//! Each engine provides only a [`MigrationSession`]: how to run statements in the
//! migration's transaction, and how to keep other processes from migrating at the same time
//! (SQLite: the write lock of `BEGIN IMMEDIATE`; PostgreSQL: an advisory lock, so that DS
//! nodes starting together on a new database take turns).
//!
//! A migration is never edited once released: a change of schema is a new migration at the
//! end of [`MIGRATIONS`], in both dialects. The version of a migration is its index + 1; the
//! applied versions are recorded in the table `schema_migrations`.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use super::StoreError;

/// The SQL dialect of an engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Dialect {
    /// The engine's name, for logs.
    fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }

    /// Creates the bookkeeping table if it is missing.
    fn bookkeeping_table(self) -> &'static str {
        match self {
            Self::Sqlite => {
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                    version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)"
            }
            Self::Postgres => {
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                    version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)"
            }
        }
    }
}

/// One schema migration, in each engine's dialect (the same logical schema).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    /// What it does, for logs.
    pub(crate) summary: &'static str,
    /// The SQLite statements.
    pub(crate) sqlite: &'static str,
    /// The PostgreSQL statements.
    pub(crate) postgres: &'static str,
}

impl Migration {
    /// The statements of `dialect`.
    fn sql(&self, dialect: Dialect) -> &'static str {
        match dialect {
            Dialect::Sqlite => self.sqlite,
            Dialect::Postgres => self.postgres,
        }
    }
}

/// The migrations, oldest first.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        summary: "clients, KeyPackages, groups, members, logs, Welcomes, challenges, tokens",
        sqlite: r#"
CREATE TABLE clients (
    client_id     TEXT PRIMARY KEY,
    cipher_suite  INTEGER NOT NULL,
    signature_key BLOB NOT NULL,
    credential    BLOB NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE TABLE key_packages (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kp_ref       BLOB NOT NULL UNIQUE,
    owner        TEXT NOT NULL REFERENCES clients(client_id),
    cipher_suite INTEGER NOT NULL,
    last_resort  INTEGER NOT NULL,
    not_before   INTEGER NOT NULL,
    not_after    INTEGER NOT NULL,
    data         BLOB NOT NULL,
    claimed_at   INTEGER,
    claim_count  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX key_packages_claim ON key_packages (owner, cipher_suite, last_resort, claimed_at);
CREATE TABLE groups (
    group_id            BLOB PRIMARY KEY,
    epoch               INTEGER NOT NULL,
    last_seq            INTEGER NOT NULL,
    group_info          BLOB,
    ratchet_tree        BLOB,
    allow_external_join INTEGER NOT NULL,
    created_at          INTEGER NOT NULL
);
CREATE TABLE group_members (
    group_id  BLOB NOT NULL REFERENCES groups(group_id),
    client_id TEXT NOT NULL,
    PRIMARY KEY (group_id, client_id)
);
CREATE TABLE messages (
    group_id     BLOB NOT NULL REFERENCES groups(group_id),
    seq          INTEGER NOT NULL,
    epoch        INTEGER NOT NULL,
    content_type INTEGER NOT NULL,
    sender       TEXT NOT NULL,
    data         BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (group_id, seq)
);
CREATE INDEX messages_created ON messages (created_at);
CREATE TABLE welcome_messages (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id   BLOB NOT NULL,
    data       BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE welcome_inbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id  TEXT NOT NULL,
    kp_ref     BLOB NOT NULL,
    welcome_id INTEGER NOT NULL REFERENCES welcome_messages(id)
);
CREATE INDEX welcome_inbox_client ON welcome_inbox (client_id, id);
CREATE TABLE challenges (
    challenge  BLOB PRIMARY KEY,
    client_id  TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE tokens (
    token_hash BLOB PRIMARY KEY,
    client_id  TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
"#,
        postgres: r#"
CREATE TABLE clients (
    client_id     TEXT PRIMARY KEY,
    cipher_suite  BIGINT NOT NULL,
    signature_key BYTEA NOT NULL,
    credential    BYTEA NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE TABLE key_packages (
    id           BIGSERIAL PRIMARY KEY,
    kp_ref       BYTEA NOT NULL UNIQUE,
    owner        TEXT NOT NULL REFERENCES clients(client_id),
    cipher_suite BIGINT NOT NULL,
    last_resort  BOOLEAN NOT NULL,
    not_before   BIGINT NOT NULL,
    not_after    BIGINT NOT NULL,
    data         BYTEA NOT NULL,
    claimed_at   BIGINT,
    claim_count  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX key_packages_claim ON key_packages (owner, cipher_suite, last_resort, claimed_at);
CREATE TABLE groups (
    group_id            BYTEA PRIMARY KEY,
    epoch               BIGINT NOT NULL,
    last_seq            BIGINT NOT NULL,
    group_info          BYTEA,
    ratchet_tree        BYTEA,
    allow_external_join BOOLEAN NOT NULL,
    created_at          BIGINT NOT NULL
);
CREATE TABLE group_members (
    group_id  BYTEA NOT NULL REFERENCES groups(group_id),
    client_id TEXT NOT NULL,
    PRIMARY KEY (group_id, client_id)
);
CREATE TABLE messages (
    group_id     BYTEA NOT NULL REFERENCES groups(group_id),
    seq          BIGINT NOT NULL,
    epoch        BIGINT NOT NULL,
    content_type BIGINT NOT NULL,
    sender       TEXT NOT NULL,
    data         BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (group_id, seq)
);
CREATE INDEX messages_created ON messages (created_at);
CREATE TABLE welcome_messages (
    id         BIGSERIAL PRIMARY KEY,
    group_id   BYTEA NOT NULL,
    data       BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE welcome_inbox (
    id         BIGSERIAL PRIMARY KEY,
    client_id  TEXT NOT NULL,
    kp_ref     BYTEA NOT NULL,
    welcome_id BIGINT NOT NULL REFERENCES welcome_messages(id)
);
CREATE INDEX welcome_inbox_client ON welcome_inbox (client_id, id);
CREATE TABLE challenges (
    challenge  BYTEA PRIMARY KEY,
    client_id  TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE TABLE tokens (
    token_hash BYTEA PRIMARY KEY,
    client_id  TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
"#,
    },
    Migration {
        summary: "former members (a removed client reads the log up to its removal)",
        sqlite: r#"
CREATE TABLE former_members (
    group_id   BLOB NOT NULL REFERENCES groups(group_id),
    client_id  TEXT NOT NULL,
    removed_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, client_id)
);
"#,
        postgres: r#"
CREATE TABLE former_members (
    group_id   BYTEA NOT NULL REFERENCES groups(group_id),
    client_id  TEXT NOT NULL,
    removed_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, client_id)
);
"#,
    },
    Migration {
        summary: "groups: the public state of groups whose handshakes the DS verifies",
        sqlite: "ALTER TABLE groups ADD COLUMN public_state BLOB;",
        postgres: "ALTER TABLE groups ADD COLUMN public_state BYTEA;",
    },
    Migration {
        summary: "token generations (a credential change revokes older tokens), stateless \
                  challenges (answered ones only), the nodes' shared secrets",
        sqlite: r#"
ALTER TABLE clients ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 0;
DROP TABLE challenges;
CREATE TABLE used_challenges (
    challenge_id BLOB PRIMARY KEY,
    expires_at   INTEGER NOT NULL
);
CREATE TABLE server_secrets (
    name   TEXT PRIMARY KEY,
    secret BLOB NOT NULL
);
"#,
        postgres: r#"
ALTER TABLE clients ADD COLUMN token_generation BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN token_generation BIGINT NOT NULL DEFAULT 0;
DROP TABLE challenges;
CREATE TABLE used_challenges (
    challenge_id BYTEA PRIMARY KEY,
    expires_at   BIGINT NOT NULL
);
CREATE TABLE server_secrets (
    name   TEXT PRIMARY KEY,
    secret BYTEA NOT NULL
);
"#,
    },
    Migration {
        summary: "the DS's external-receiver HPKE keys, one per cipher suite \
                  (draft-mahy-mls-semiprivatemessage-07)",
        sqlite: r#"
CREATE TABLE receiver_keys (
    cipher_suite INTEGER PRIMARY KEY,
    receiver     BLOB NOT NULL,
    private_key  BLOB NOT NULL,
    created_at   INTEGER NOT NULL
);
"#,
        postgres: r#"
CREATE TABLE receiver_keys (
    cipher_suite INTEGER PRIMARY KEY,
    receiver     BYTEA NOT NULL,
    private_key  BYTEA NOT NULL,
    created_at   BIGINT NOT NULL
);
"#,
    },
    Migration {
        summary: "KeyPackage claims per target client and minute (draining limit)",
        sqlite: r#"
CREATE TABLE target_claims (
    owner  TEXT PRIMARY KEY REFERENCES clients(client_id),
    minute INTEGER NOT NULL,
    claims INTEGER NOT NULL
);
"#,
        postgres: r#"
CREATE TABLE target_claims (
    owner  TEXT PRIMARY KEY REFERENCES clients(client_id),
    minute BIGINT NOT NULL,
    claims BIGINT NOT NULL
);
"#,
    },
    Migration {
        summary: "member proofs (draft-mahy-mls-member-proof-00): each group's current key, \
                  the nonces used in its current epoch",
        sqlite: r#"
CREATE TABLE member_proof_keys (
    group_id     BLOB PRIMARY KEY REFERENCES groups(group_id),
    cipher_suite INTEGER NOT NULL,
    epoch        INTEGER NOT NULL,
    public_key   BLOB NOT NULL
);
CREATE TABLE member_proof_nonces (
    group_id BLOB NOT NULL REFERENCES groups(group_id),
    epoch    INTEGER NOT NULL,
    nonce    BLOB NOT NULL,
    PRIMARY KEY (group_id, epoch, nonce)
);
"#,
        postgres: r#"
CREATE TABLE member_proof_keys (
    group_id     BYTEA PRIMARY KEY REFERENCES groups(group_id),
    cipher_suite INTEGER NOT NULL,
    epoch        BIGINT NOT NULL,
    public_key   BYTEA NOT NULL
);
CREATE TABLE member_proof_nonces (
    group_id BYTEA NOT NULL REFERENCES groups(group_id),
    epoch    BIGINT NOT NULL,
    nonce    BYTEA NOT NULL,
    PRIMARY KEY (group_id, epoch, nonce)
);
"#,
    },
    Migration {
        summary: "messages.recipient: the one member a targeted message is routed to \
                  (draft-ietf-mls-targeted-messages); NULL for every member",
        sqlite: "ALTER TABLE messages ADD COLUMN recipient TEXT;",
        postgres: "ALTER TABLE messages ADD COLUMN recipient TEXT;",
    },
    Migration {
        summary: "key_packages.bound_group: the group a KeyPackage's kp_context names \
                  (draft-mahy-mls-kp-context-00), served only to claims naming that group; \
                  NULL for a package valid anywhere",
        sqlite: "ALTER TABLE key_packages ADD COLUMN bound_group BLOB;",
        postgres: "ALTER TABLE key_packages ADD COLUMN bound_group BYTEA;",
    },
    Migration {
        summary: "partial clients (draft-ietf-mls-partial-02): clients.partial, the \
                  AnnotatedCommits of each commit for them (partial_annotations), and \
                  welcome_inbox.annotated for their AnnotatedWelcomes",
        sqlite: r#"
ALTER TABLE clients ADD COLUMN partial INTEGER NOT NULL DEFAULT 0;
ALTER TABLE welcome_inbox ADD COLUMN annotated INTEGER NOT NULL DEFAULT 0;
CREATE TABLE partial_annotations (
    group_id   BLOB NOT NULL REFERENCES groups(group_id),
    seq        INTEGER NOT NULL,
    client_id  TEXT NOT NULL,
    data       BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, client_id, seq)
);
CREATE INDEX partial_annotations_created ON partial_annotations (created_at);
"#,
        postgres: r#"
ALTER TABLE clients ADD COLUMN partial BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE welcome_inbox ADD COLUMN annotated BOOLEAN NOT NULL DEFAULT FALSE;
CREATE TABLE partial_annotations (
    group_id   BYTEA NOT NULL REFERENCES groups(group_id),
    seq        BIGINT NOT NULL,
    client_id  TEXT NOT NULL,
    data       BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, client_id, seq)
);
CREATE INDEX partial_annotations_created ON partial_annotations (created_at);
"#,
    },
];

/// The operations the runner needs from an engine, all inside one transaction that the
/// engine opens before [`migrate`] and commits after it.
pub(crate) trait MigrationSession {
    /// The engine's dialect.
    fn dialect(&self) -> Dialect;

    /// Keeps every other process from migrating the database until the transaction ends.
    async fn lock(&mut self) -> Result<(), StoreError>;

    /// Runs statements without parameters.
    async fn execute(&mut self, sql: &str) -> Result<(), StoreError>;

    /// The newest applied version (0: none).
    async fn applied_version(&mut self) -> Result<i64, StoreError>;

    /// Records that `version` was applied at `applied_at` (seconds since the Unix epoch).
    async fn record(&mut self, version: i64, applied_at: i64) -> Result<(), StoreError>;
}

/// The query of the newest applied version, the same in both dialects.
pub(crate) const APPLIED_VERSION: &str = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";

/// Brings the schema up to date: under the session's lock, creates the bookkeeping table
/// (under the lock too: two PostgreSQL sessions running `CREATE TABLE IF NOT EXISTS` at once
/// can fail on the catalog), then applies every migration newer than the database's
/// version. A database written by a newer schema than [`MIGRATIONS`] knows is refused.
pub(crate) async fn migrate(
    session: &mut impl MigrationSession,
    now: u64,
) -> Result<(), StoreError> {
    let dialect = session.dialect();
    session.lock().await?;
    session.execute(dialect.bookkeeping_table()).await?;
    let current = session.applied_version().await?;
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    if current > known {
        return Err(StoreError::SchemaTooNew {
            found: current,
            supported: known,
        });
    }
    let applied_at = super::to_i64(now)?;
    for (version, migration) in (1i64..).zip(MIGRATIONS.iter()) {
        if version <= current {
            continue;
        }
        session.execute(migration.sql(dialect)).await?;
        session.record(version, applied_at).await?;
        tracing::info!(
            version,
            summary = migration.summary,
            engine = dialect.name(),
            "applied migration"
        );
    }
    Ok(())
}

/// Runs a future whose every step is synchronous, such as [`migrate`] over SQLite's
/// session (its operations do their work when called and never wait), to completion on the
/// calling thread. A future that would wait is an error, not a hang.
pub(crate) fn run_synchronously<F: Future>(future: F) -> Result<F::Output, StoreError> {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => Ok(output),
        Poll::Pending => Err(StoreError::Backend(
            "a synchronous storage operation waited".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    /// A session that records what the runner asks for.
    struct Recorder {
        version: i64,
        log: Vec<String>,
    }

    impl MigrationSession for Recorder {
        fn dialect(&self) -> Dialect {
            Dialect::Postgres
        }
        async fn lock(&mut self) -> Result<(), StoreError> {
            self.log.push("lock".into());
            Ok(())
        }
        async fn execute(&mut self, sql: &str) -> Result<(), StoreError> {
            self.log
                .push(sql.split_whitespace().take(3).collect::<Vec<_>>().join(" "));
            Ok(())
        }
        async fn applied_version(&mut self) -> Result<i64, StoreError> {
            Ok(self.version)
        }
        async fn record(&mut self, version: i64, _applied_at: i64) -> Result<(), StoreError> {
            self.log.push(format!("record {version}"));
            Ok(())
        }
    }

    #[test]
    fn a_new_database_gets_every_migration_under_the_lock() {
        let mut session = Recorder {
            version: 0,
            log: Vec::new(),
        };
        run_synchronously(migrate(&mut session, 1))
            .unwrap()
            .unwrap();
        assert_eq!(session.log[0], "lock");
        assert_eq!(session.log[1], "CREATE TABLE IF");
        assert_eq!(
            session
                .log
                .iter()
                .filter(|l| l.starts_with("record"))
                .count(),
            MIGRATIONS.len()
        );
        assert_eq!(
            session.log.last().unwrap(),
            &format!("record {}", MIGRATIONS.len())
        );
    }

    #[test]
    fn an_up_to_date_database_is_left_alone_and_a_newer_one_refused() {
        let mut session = Recorder {
            version: i64::try_from(MIGRATIONS.len()).unwrap(),
            log: Vec::new(),
        };
        run_synchronously(migrate(&mut session, 1))
            .unwrap()
            .unwrap();
        assert_eq!(session.log, ["lock", "CREATE TABLE IF"]);
        session.version += 1;
        let refused = run_synchronously(migrate(&mut session, 1)).unwrap();
        assert!(matches!(refused, Err(StoreError::SchemaTooNew { .. })));
    }

    /// Every migration has statements in both dialects, as many in each.
    #[test]
    fn both_dialects_have_every_migration() {
        let statements = |sql: &str| sql.split(';').filter(|s| !s.trim().is_empty()).count();
        for migration in MIGRATIONS {
            assert!(statements(migration.sqlite) > 0, "{}", migration.summary);
            assert_eq!(
                statements(migration.sqlite),
                statements(migration.postgres),
                "{}",
                migration.summary
            );
        }
    }
}
