//! The client's local state in SQLite (bundled, WAL): the profile (signature key, credential,
//! service URLs, trust anchor), KeyPackage private keys by KeyPackageRef (RFC 9420 §10,
//! RFC 9750 §5.1), the groups (member state as records, RFC 9420 §8-§12), the per-group
//! Delivery Service cursor, the message history, and the Welcome inbox cursor.
//!
//! Group states are stored as the core's records ([`conclave_core::storage`]): table
//! `group_records (group_id, key, value)`, written from
//! [`conclave_core::group::Group::take_changes`], so an application message rewrites its
//! sender's ratchet record (and on a sender's first message of an epoch the O(log n)
//! node secrets of its derivation) instead of the whole O(members) state; the tree and epoch
//! secrets are rewritten on commits only. [`StateWrites::FullSnapshot`] keeps the former
//! layout (the whole `Group::to_bytes` snapshot in `groups.state` on every change), for
//! comparison. A database of schema 1 (snapshots only) is read as it is: a snapshot loads
//! with `Group::from_bytes`, and the first incremental write of that group replaces it by
//! its records in the same transaction.
//!
//! [`Store`] implements the core's storage traits
//! ([`conclave_core::storage::GroupStore`], [`conclave_core::storage::KeyPackageStore`],
//! [`conclave_core::storage::ExternalPskStore`]) on the same database (see `records`).
//!
//! Crash safety: applying one log entry writes the group's state changes, the cursor and
//! the history in one transaction ([`Store::apply_entry`]), and joining from a Welcome
//! stores the group, drops the used KeyPackage and moves the inbox cursor in one transaction
//! ([`Store::join_group`]), so a client killed at any point resumes without losing or
//! repeating anything.
//!
//! The signature key and group secrets are stored in the clear in the profile directory
//! (mode 0700 where supported); protecting it is the operating system's job (full-disk
//! encryption, the home directory's permissions). `PRAGMA secure_delete` is on, so deleted
//! key records (consumed ratchet secrets, RFC 9420 §9.2; used KeyPackages, §16.8) are
//! overwritten in the file rather than left in free pages.

mod records;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, MutexGuard};

use conclave_crypto::Secret;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::error::ClientError;

pub use records::{StateWrite, StateWrites};

/// Current schema version. 1: group states as snapshots only; 2: group records.
///
/// `group_records` is a rowid table on purpose: in a `WITHOUT ROWID` table the values are
/// part of the primary-key B-tree, and a lookup that compares against the group record
/// (O(members) bytes, on overflow pages) reads all of it — every message would cost
/// O(members) again.
const SCHEMA_VERSION: i64 = 3;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS key_packages (
    kp_ref BLOB PRIMARY KEY,
    cipher_suite INTEGER NOT NULL,
    key_package BLOB NOT NULL,
    init_private BLOB NOT NULL,
    encryption_private BLOB NOT NULL,
    last_resort INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS groups (
    group_id BLOB PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    state BLOB NOT NULL,
    cursor INTEGER NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS group_records (
    group_id BLOB NOT NULL,
    key BLOB NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (group_id, key)
);
CREATE TABLE IF NOT EXISTS psks (
    psk_id BLOB PRIMARY KEY,
    psk BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS history (
    group_id BLOB NOT NULL,
    seq INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    sender TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (group_id, seq)
);
CREATE TABLE IF NOT EXISTS partial_groups (
    group_id BLOB PRIMARY KEY,
    state BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    digest BLOB PRIMARY KEY,
    group_id BLOB NOT NULL,
    body TEXT NOT NULL,
    at INTEGER NOT NULL
);
";

/// The identity of this client (one per home directory).
#[derive(Clone)]
pub struct Profile {
    /// The user name (also the DS client id and the AS name, `mls://<name>`).
    pub name: String,
    /// The cipher suite of the signature key and of the groups we create.
    pub cipher_suite: u16,
    /// The signature private key (zeroized on drop).
    pub signature_secret: Secret,
    /// The signature public key.
    pub signature_public: Vec<u8>,
    /// The TLS-encoded `Credential` the AS issued (RFC 9420 §5.3).
    pub credential: Vec<u8>,
    /// The AS root certificate (DER), our trust anchor.
    pub root_certificate: Vec<u8>,
    /// The Delivery Service base URL.
    pub ds_url: String,
    /// The Authentication Service base URL.
    pub as_url: String,
}

impl core::fmt::Debug for Profile {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Profile")
            .field("name", &self.name)
            .field("cipher_suite", &self.cipher_suite)
            .field("ds_url", &self.ds_url)
            .field("as_url", &self.as_url)
            .finish_non_exhaustive()
    }
}

/// A stored KeyPackage with its private keys.
#[derive(Clone)]
pub struct StoredKeyPackage {
    /// Its KeyPackageRef (RFC 9420 §5.2).
    pub kp_ref: Vec<u8>,
    /// The cipher suite.
    pub cipher_suite: u16,
    /// The TLS-encoded KeyPackage.
    pub key_package: Vec<u8>,
    /// `init_key` private key.
    pub init_private: Secret,
    /// Leaf encryption private key.
    pub encryption_private: Secret,
    /// Whether it is the last-resort package (kept after use).
    pub last_resort: bool,
}

/// Where a group stands locally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupStatus {
    /// A member in good standing.
    Active,
    /// A commit removed us, or the DS no longer lists us.
    Removed,
    /// We asked to leave.
    Left,
    /// A commit the DS accepted could not be applied (RFC 9750 "Invalid Commits").
    Desynchronized,
}

impl GroupStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Removed => "removed",
            Self::Left => "left",
            Self::Desynchronized => "desynchronized",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "active" => Self::Active,
            "removed" => Self::Removed,
            "left" => Self::Left,
            "desynchronized" => Self::Desynchronized,
            _ => return None,
        })
    }
}

/// A stored group.
#[derive(Clone)]
pub struct GroupRow {
    /// The MLS group id.
    pub group_id: Vec<u8>,
    /// The local name.
    pub name: String,
    /// The last DS log sequence number applied.
    pub cursor: u64,
    /// Where the group stands.
    pub status: GroupStatus,
    /// Why it is not active, if it is not.
    pub reason: Option<String>,
}

/// One line of a group's history.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HistoryEntry {
    /// The DS log sequence number it came from (0: local event such as joining).
    pub seq: u64,
    /// The epoch.
    pub epoch: u64,
    /// Who (a user name, or "" for events without a sender).
    pub sender: String,
    /// `message`, `event` or `undecryptable`.
    pub kind: String,
    /// The text.
    pub body: String,
    /// When it was recorded (seconds since the Unix epoch).
    pub at: u64,
}

/// What applying one log entry changes besides the group state ([`Store::apply_entry`]).
#[derive(Debug, Clone, Copy)]
pub struct AppliedEntry<'a> {
    /// The entry's sequence number: the new cursor.
    pub cursor: u64,
    /// The group's status after it.
    pub status: GroupStatus,
    /// Why the group is not active, if so.
    pub reason: Option<&'a str>,
    /// The history line it produced.
    pub history: Option<&'a HistoryEntry>,
    /// The digest of our own message it echoed (its outbox entry is consumed).
    pub sent_digest: Option<&'a [u8]>,
    /// The history line's text is the outbox text of `sent_digest` (our own message, whose
    /// key is gone once sent, RFC 9420 §9.2); without an outbox entry no line is written.
    pub body_from_outbox: bool,
}

/// An exclusive lock on a profile, across processes: held while an operation reads a group
/// state, talks to the DS and writes the state back, so that two `conclave` processes on one
/// profile (say `watch` and `send`) never work from the same state — which could reuse a
/// ratchet generation (RFC 9420 §9.2). It is an exclusive SQLite transaction on a separate
/// lock file, released when dropped (or when the process dies).
pub struct ProfileLock {
    _conn: Connection,
}

impl core::fmt::Debug for ProfileLock {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ProfileLock")
    }
}

/// The local database.
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
    written: AtomicU64,
}

impl core::fmt::Debug for Store {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

type RawGroupRow = (Vec<u8>, String, i64, String, Option<String>);

impl Store {
    /// Opens (creating if needed) `dir/client.db`.
    pub fn open(dir: &Path) -> Result<Self, ClientError> {
        std::fs::create_dir_all(dir).map_err(|source| ClientError::Io {
            what: format!("creating {}", dir.display()),
            source,
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
        let path = dir.join("client.db");
        let err = |e: rusqlite::Error| ClientError::storage(&path, e);
        let conn = Connection::open(&path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        // Deleted key material is overwritten, not left in free pages (RFC 9420 §9.2).
        conn.pragma_update(None, "secure_delete", "ON")
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        let store = Self {
            conn: Mutex::new(conn),
            path,
            written: AtomicU64::new(0),
        };
        let version = match store.meta("schema_version")? {
            None => 0,
            Some(v) => v
                .as_slice()
                .try_into()
                .map(i64::from_be_bytes)
                .map_err(|_| ClientError::CorruptState("bad schema version".into()))?,
        };
        if version > SCHEMA_VERSION {
            return Err(ClientError::CorruptState(format!(
                "written by a newer client (schema {version})"
            )));
        }
        if version < SCHEMA_VERSION {
            // Schema 1 → 2 adds tables only; its snapshots are read as they are. Schema
            // 2 → 3 adds `partial_groups` (the states of partial members).
            store.set_meta("schema_version", &SCHEMA_VERSION.to_be_bytes())?;
        }
        Ok(store)
    }

    fn err(&self, e: impl core::fmt::Display) -> ClientError {
        ClientError::storage(&self.path, e)
    }

    fn conn(&self) -> Result<MutexGuard<'_, Connection>, ClientError> {
        self.conn
            .lock()
            .map_err(|_| self.err("the connection lock is poisoned"))
    }

    /// Runs `f` in one transaction, committed if it succeeds.
    fn transaction<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let value = f(&tx)?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(value)
    }

    /// Takes the profile lock, waiting up to `timeout` for another process to release it.
    pub fn lock(&self, timeout: std::time::Duration) -> Result<ProfileLock, ClientError> {
        let path = self.path.with_file_name("client.lock");
        let busy = |e: rusqlite::Error| {
            ClientError::storage(
                &path,
                format!("{e} (another conclave process is using this profile; try again)"),
            )
        };
        let conn = Connection::open(&path).map_err(busy)?;
        conn.busy_timeout(timeout).map_err(busy)?;
        conn.execute_batch("CREATE TABLE IF NOT EXISTS lock (x INTEGER); BEGIN EXCLUSIVE;")
            .map_err(busy)?;
        Ok(ProfileLock { _conn: conn })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A metadata value.
    pub fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, ClientError> {
        self.conn()?
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Sets a metadata value.
    pub fn set_meta(&self, key: &str, value: &[u8]) -> Result<(), ClientError> {
        self.conn()?
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Deletes a metadata value (none is fine).
    pub fn delete_meta(&self, key: &str) -> Result<(), ClientError> {
        self.conn()?
            .execute("DELETE FROM meta WHERE key = ?1", [key])
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    fn meta_u64(&self, key: &str) -> Result<u64, ClientError> {
        Ok(self
            .meta(key)?
            .and_then(|v| v.as_slice().try_into().ok().map(u64::from_be_bytes))
            .unwrap_or(0))
    }

    fn meta_string(&self, key: &str) -> Result<Option<String>, ClientError> {
        self.meta(key)?
            .map(|v| {
                String::from_utf8(v)
                    .map_err(|_| ClientError::CorruptState(format!("{key} is not UTF-8")))
            })
            .transpose()
    }

    /// The profile, if registered.
    pub fn profile(&self) -> Result<Option<Profile>, ClientError> {
        let Some(name) = self.meta_string("name")? else {
            return Ok(None);
        };
        let need = |key: &str| -> Result<Vec<u8>, ClientError> {
            self.meta(key)?
                .ok_or_else(|| ClientError::CorruptState(format!("profile field {key} missing")))
        };
        let suite = need("cipher_suite")?;
        let cipher_suite = suite
            .as_slice()
            .try_into()
            .map(u16::from_be_bytes)
            .map_err(|_| ClientError::CorruptState("cipher suite".into()))?;
        let text = |key: &str| -> Result<String, ClientError> {
            String::from_utf8(need(key)?)
                .map_err(|_| ClientError::CorruptState(format!("profile field {key}")))
        };
        Ok(Some(Profile {
            name,
            cipher_suite,
            signature_secret: Secret::new(need("signature_secret")?),
            signature_public: need("signature_public")?,
            credential: need("credential")?,
            root_certificate: need("root_certificate")?,
            ds_url: text("ds_url")?,
            as_url: text("as_url")?,
        }))
    }

    /// Stores the profile (one transaction).
    pub fn save_profile(&self, profile: &Profile) -> Result<(), ClientError> {
        self.transaction(|tx| {
            let put = |key: &str, value: &[u8]| {
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    params![key, value],
                )
                .map(|_| ())
            };
            put("cipher_suite", &profile.cipher_suite.to_be_bytes())
                .and_then(|()| put("signature_secret", profile.signature_secret.as_bytes()))
                .and_then(|()| put("signature_public", &profile.signature_public))
                .and_then(|()| put("credential", &profile.credential))
                .and_then(|()| put("root_certificate", &profile.root_certificate))
                .and_then(|()| put("ds_url", profile.ds_url.as_bytes()))
                .and_then(|()| put("as_url", profile.as_url.as_bytes()))
                .and_then(|()| put("name", profile.name.as_bytes()))
                .map_err(|e| self.err(e))
        })
    }

    /// The Welcome inbox cursor.
    pub fn welcome_cursor(&self) -> Result<u64, ClientError> {
        self.meta_u64("welcome_cursor")
    }

    /// Moves the Welcome inbox cursor (for Welcomes we could not use).
    pub fn set_welcome_cursor(&self, id: u64) -> Result<(), ClientError> {
        self.set_meta("welcome_cursor", &id.to_be_bytes())
    }

    // ---- KeyPackages ----------------------------------------------------------------------

    /// Stores KeyPackages with their private keys (before they are published).
    pub fn put_key_packages(&self, packages: &[StoredKeyPackage]) -> Result<(), ClientError> {
        self.transaction(|tx| {
            for p in packages {
                Self::put_key_package_tx(tx, p).map_err(|e| self.err(e))?;
            }
            Ok(())
        })
    }

    fn put_key_package_tx(tx: &Transaction<'_>, p: &StoredKeyPackage) -> rusqlite::Result<()> {
        tx.execute(
            "INSERT OR REPLACE INTO key_packages
             (kp_ref, cipher_suite, key_package, init_private, encryption_private,
              last_resort, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                p.kp_ref,
                p.cipher_suite,
                p.key_package,
                p.init_private.as_bytes(),
                p.encryption_private.as_bytes(),
                p.last_resort,
                to_i64(crate::now_seconds()),
            ],
        )
        .map(|_| ())
    }

    /// The KeyPackage with this reference.
    pub fn key_package(&self, kp_ref: &[u8]) -> Result<Option<StoredKeyPackage>, ClientError> {
        self.conn()?
            .query_row(
                "SELECT kp_ref, cipher_suite, key_package, init_private, encryption_private,
                        last_resort
                 FROM key_packages WHERE kp_ref = ?1",
                [kp_ref],
                |r| {
                    Ok(StoredKeyPackage {
                        kp_ref: r.get(0)?,
                        cipher_suite: r.get(1)?,
                        key_package: r.get(2)?,
                        init_private: Secret::new(r.get(3)?),
                        encryption_private: Secret::new(r.get(4)?),
                        last_resort: r.get(5)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// How many one-time KeyPackages we hold private keys for.
    pub fn key_package_count(&self) -> Result<u64, ClientError> {
        self.conn()?
            .query_row(
                "SELECT COUNT(*) FROM key_packages WHERE last_resort = 0",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(to_u64)
            .map_err(|e| self.err(e))
    }

    // ---- groups ---------------------------------------------------------------------------

    fn raw_group_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawGroupRow> {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    }

    fn group_where(
        &self,
        clause: &str,
        arg: &dyn rusqlite::ToSql,
    ) -> Result<Option<GroupRow>, ClientError> {
        let sql =
            format!("SELECT group_id, name, cursor, status, reason FROM groups WHERE {clause}");
        let row = self
            .conn()?
            .query_row(&sql, [arg], Self::raw_group_row)
            .optional()
            .map_err(|e| self.err(e))?;
        row.map(Self::group_row).transpose()
    }

    fn group_row(
        (group_id, name, cursor, status, reason): RawGroupRow,
    ) -> Result<GroupRow, ClientError> {
        Ok(GroupRow {
            group_id,
            name,
            cursor: to_u64(cursor),
            status: GroupStatus::parse(&status)
                .ok_or_else(|| ClientError::CorruptState(format!("group status {status:?}")))?,
            reason,
        })
    }

    /// The group with this local name.
    pub fn group_by_name(&self, name: &str) -> Result<Option<GroupRow>, ClientError> {
        self.group_where("name = ?1", &name)
    }

    /// The group with this id.
    pub fn group_by_id(&self, group_id: &[u8]) -> Result<Option<GroupRow>, ClientError> {
        self.group_where("group_id = ?1", &group_id)
    }

    /// Every group, by name.
    pub fn groups(&self) -> Result<Vec<GroupRow>, ClientError> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare("SELECT group_id, name, cursor, status, reason FROM groups ORDER BY name")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], Self::raw_group_row)
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        rows.into_iter().map(Self::group_row).collect()
    }

    /// Stores a group we created (or imported), with its state.
    pub fn insert_group(&self, row: &GroupRow, state: &StateWrite) -> Result<(), ClientError> {
        self.transaction(|tx| {
            Self::insert_group_tx(tx, row).map_err(|e| self.err(e))?;
            self.write_state(tx, &row.group_id, state)
        })
    }

    fn insert_group_tx(tx: &Transaction<'_>, row: &GroupRow) -> rusqlite::Result<()> {
        // REPLACE: joining again a group we were removed from replaces its old state.
        tx.execute(
            "INSERT OR REPLACE INTO groups (group_id, name, state, cursor, status, reason, updated_at)
             VALUES (?1, ?2, x'', ?3, ?4, ?5, ?6)",
            params![
                row.group_id,
                row.name,
                to_i64(row.cursor),
                row.status.as_str(),
                row.reason,
                to_i64(crate::now_seconds()),
            ],
        )?;
        tx.execute(
            "DELETE FROM group_records WHERE group_id = ?1",
            [&row.group_id],
        )?;
        tx.execute(
            "DELETE FROM partial_groups WHERE group_id = ?1",
            [&row.group_id],
        )
        .map(|_| ())
    }

    fn insert_history_tx(
        tx: &Transaction<'_>,
        group_id: &[u8],
        entry: &HistoryEntry,
    ) -> rusqlite::Result<()> {
        tx.prepare_cached(
            "INSERT OR IGNORE INTO history (group_id, seq, epoch, sender, kind, body, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            group_id,
            to_i64(entry.seq),
            to_i64(entry.epoch),
            entry.sender,
            entry.kind,
            entry.body,
            to_i64(entry.at),
        ])
        .map(|_| ())
    }

    /// Joins a group from a Welcome, in one transaction: stores the group, records the
    /// event, forgets the used one-time KeyPackage and moves the inbox cursor.
    pub fn join_group(
        &self,
        row: &GroupRow,
        state: &StateWrite,
        event: &HistoryEntry,
        used_key_package: Option<&[u8]>,
        welcome_id: u64,
    ) -> Result<(), ClientError> {
        self.transaction(|tx| {
            let err = |e: rusqlite::Error| self.err(e);
            Self::insert_group_tx(tx, row).map_err(err)?;
            self.write_state(tx, &row.group_id, state)?;
            Self::insert_history_tx(tx, &row.group_id, event).map_err(err)?;
            if let Some(kp_ref) = used_key_package {
                tx.execute(
                    "DELETE FROM key_packages WHERE kp_ref = ?1 AND last_resort = 0",
                    [kp_ref],
                )
                .map_err(err)?;
            }
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('welcome_cursor', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [welcome_id.to_be_bytes().to_vec()],
            )
            .map_err(err)?;
            Ok(())
        })
    }

    /// Applies one log entry, in one transaction: the group's state changes, the cursor,
    /// the status, and at most one history line (idempotent on `(group, seq)`). An outbox
    /// entry matched by `sent_digest` is consumed in the same transaction. Returns whether
    /// there was one.
    pub fn apply_entry(
        &self,
        group_id: &[u8],
        state: &StateWrite,
        applied: &AppliedEntry<'_>,
    ) -> Result<bool, ClientError> {
        self.transaction(|tx| {
            let err = |e: rusqlite::Error| self.err(e);
            self.write_state(tx, group_id, state)?;
            tx.prepare_cached(
                "UPDATE groups SET cursor = ?2, status = ?3, reason = ?4, updated_at = ?5
                 WHERE group_id = ?1",
            )
            .and_then(|mut s| {
                s.execute(params![
                    group_id,
                    to_i64(applied.cursor),
                    applied.status.as_str(),
                    applied.reason,
                    to_i64(crate::now_seconds()),
                ])
            })
            .map_err(err)?;
            let outbox = match applied.sent_digest {
                Some(digest) => tx
                    .prepare_cached("SELECT body FROM outbox WHERE digest = ?1")
                    .and_then(|mut s| s.query_row([digest], |r| r.get::<_, String>(0)).optional())
                    .map_err(err)?,
                None => None,
            };
            if let Some(entry) = applied.history {
                if applied.body_from_outbox {
                    if let Some(body) = &outbox {
                        let entry = HistoryEntry {
                            body: body.clone(),
                            ..entry.clone()
                        };
                        Self::insert_history_tx(tx, group_id, &entry).map_err(err)?;
                    }
                } else {
                    Self::insert_history_tx(tx, group_id, entry).map_err(err)?;
                }
            }
            if let Some(digest) = applied.sent_digest {
                tx.prepare_cached("DELETE FROM outbox WHERE digest = ?1")
                    .and_then(|mut s| s.execute([digest]))
                    .map_err(err)?;
            }
            Ok(outbox.is_some())
        })
    }

    /// Saves a group's state without moving its cursor (after creating a message or commit).
    pub fn save_state(&self, group_id: &[u8], state: &StateWrite) -> Result<(), ClientError> {
        if *state == StateWrite::Nothing {
            return Ok(());
        }
        self.transaction(|tx| self.write_state(tx, group_id, state))
    }

    /// Saves a group's state and records a message we are about to send, in one
    /// transaction (so that its echo can be shown even if we die before the DS answers).
    pub fn save_state_and_outbox(
        &self,
        group_id: &[u8],
        state: &StateWrite,
        digest: &[u8],
        body: &str,
    ) -> Result<(), ClientError> {
        self.transaction(|tx| {
            self.write_state(tx, group_id, state)?;
            tx.execute(
                "INSERT OR REPLACE INTO outbox (digest, group_id, body, at) VALUES (?1, ?2, ?3, ?4)",
                params![digest, group_id, body, to_i64(crate::now_seconds())],
            )
            .map_err(|e| self.err(e))?;
            Ok(())
        })
    }

    /// The text of a message we sent, by the digest of its `MLSMessage` encoding.
    pub fn outbox(&self, digest: &[u8]) -> Result<Option<String>, ClientError> {
        self.conn()?
            .query_row("SELECT body FROM outbox WHERE digest = ?1", [digest], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Records a message we sent once the DS gave it a sequence number.
    pub fn record_sent(
        &self,
        group_id: &[u8],
        entry: &HistoryEntry,
        digest: &[u8],
    ) -> Result<(), ClientError> {
        self.transaction(|tx| {
            let err = |e: rusqlite::Error| self.err(e);
            Self::insert_history_tx(tx, group_id, entry).map_err(err)?;
            tx.execute("DELETE FROM outbox WHERE digest = ?1", [digest])
                .map_err(err)?;
            Ok(())
        })
    }

    /// Marks a group inactive (removed, left, desynchronized) with a reason.
    pub fn set_status(
        &self,
        group_id: &[u8],
        status: GroupStatus,
        reason: Option<&str>,
    ) -> Result<(), ClientError> {
        self.conn()?
            .execute(
                "UPDATE groups SET status = ?2, reason = ?3, updated_at = ?4 WHERE group_id = ?1",
                params![
                    group_id,
                    status.as_str(),
                    reason,
                    to_i64(crate::now_seconds())
                ],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Adds a history line (idempotent on `(group, seq)`).
    pub fn add_history(&self, group_id: &[u8], entry: &HistoryEntry) -> Result<(), ClientError> {
        self.transaction(|tx| Self::insert_history_tx(tx, group_id, entry).map_err(|e| self.err(e)))
    }

    /// The history of a group, in log order.
    pub fn history(&self, group_id: &[u8]) -> Result<Vec<HistoryEntry>, ClientError> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare(
                "SELECT seq, epoch, sender, kind, body, at FROM history
                 WHERE group_id = ?1 ORDER BY seq",
            )
            .map_err(|e| self.err(e))?;
        stmt.query_map([group_id], |r| {
            Ok(HistoryEntry {
                seq: to_u64(r.get(0)?),
                epoch: to_u64(r.get(1)?),
                sender: r.get(2)?,
                kind: r.get(3)?,
                body: r.get(4)?,
                at: to_u64(r.get(5)?),
            })
        })
        .map_err(|e| self.err(e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests;
