//! What the Authentication Service remembers (RFC 9750 §4): its root key and certificate,
//! one-time enrolment tokens (by hash, with an expiry), issued certificates (the latest one
//! of a name is the only one that renews), used renewal requests (until they could no
//! longer be fresh) and revocations.
//! [`InMemoryAsStore`] is for tests; `crate::sqlite::SqliteAsStore` persists in one file and
//! `crate::postgres::PostgresAsStore` in a PostgreSQL database that several AS processes
//! share.
//!
//! The trait is synchronous: SQLite is a blocking library, and the service and its HTTP layer
//! call the store on the blocking thread pool, whatever the engine. The PostgreSQL engine
//! drives its asynchronous driver on a runtime of its own behind the same synchronous calls.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use conclave_crypto::Secret;

/// A certificate the AS issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCertificate {
    /// The client name.
    pub name: String,
    /// The serial number.
    pub serial: u64,
    /// Start of validity, seconds since the Unix epoch.
    pub not_before: u64,
    /// End of validity, seconds since the Unix epoch.
    pub not_after: u64,
    /// The certificate (DER).
    pub certificate: Vec<u8>,
}

/// The AS root: its signature key pair and self-signed certificate. The private key is a
/// [`Secret`] (zeroized on drop, never printed).
#[derive(Clone, PartialEq, Eq)]
pub struct StoredRoot {
    /// The cipher suite whose signature scheme the key belongs to.
    pub cipher_suite: u16,
    /// The private signature key, in the suite's encoding.
    pub secret_key: Secret,
    /// The public signature key, in the suite's encoding.
    pub public_key: Vec<u8>,
    /// The self-signed root certificate (DER).
    pub certificate: Vec<u8>,
}

impl core::fmt::Debug for StoredRoot {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StoredRoot")
            .field("cipher_suite", &self.cipher_suite)
            .field("certificate", &self.certificate.len())
            .finish_non_exhaustive()
    }
}

/// What presenting an enrolment token found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenUse {
    /// The token was `name`'s and unexpired: it is now consumed.
    Valid,
    /// The token was `name`'s but expired (it is consumed too).
    Expired,
    /// Unknown, used already, or another name's (nothing is consumed).
    Invalid,
}

/// What [`AsStore::record_renewal`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RenewalRecorded {
    /// The renewed certificate is recorded; it is now the name's latest.
    Recorded,
    /// The presented certificate is not the latest issued to the name (a key rotation, a
    /// renewal or a new enrolment came after it): nothing recorded.
    Superseded,
    /// The same request was used before: nothing recorded.
    Replayed,
}

/// Why the AS store failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AsStoreError {
    /// The database failed, or could not be reached.
    #[error("{engine}: {message}")]
    Backend {
        /// The engine (`sqlite`, `postgres`, `memory`).
        engine: &'static str,
        /// What failed.
        message: String,
    },
    /// The database URL or file cannot be used.
    #[error("{0}")]
    Config(String),
    /// The database was migrated by a newer binary: this one refuses to touch it.
    #[error(
        "the AS database has schema version {found}, newer than this binary's {supported} \
         (run the newer binary, or use another database)"
    )]
    SchemaTooNew {
        /// The database's version.
        found: i64,
        /// The newest this binary knows.
        supported: i64,
    },
    /// A value does not fit the database, or a stored value is out of range (a damaged
    /// database).
    #[error("{0}")]
    OutOfRange(String),
}

impl AsStoreError {
    /// A failure of `engine`.
    pub(crate) fn backend(engine: &'static str, message: impl core::fmt::Display) -> Self {
        Self::Backend {
            engine,
            message: message.to_string(),
        }
    }
}

/// `value` as the signed 64-bit integer databases store.
pub(crate) fn to_i64(value: u64) -> Result<i64, AsStoreError> {
    i64::try_from(value).map_err(|_| {
        AsStoreError::OutOfRange(format!("value {value} out of range for the database"))
    })
}

/// A stored signed 64-bit integer as the unsigned value it was.
pub(crate) fn to_u64(value: i64) -> Result<u64, AsStoreError> {
    u64::try_from(value)
        .map_err(|_| AsStoreError::OutOfRange(format!("negative value {value} in the database")))
}

/// A stored cipher suite.
pub(crate) fn to_suite(value: i64) -> Result<u16, AsStoreError> {
    u16::try_from(value)
        .map_err(|_| AsStoreError::OutOfRange(format!("stored cipher suite {value} out of range")))
}

/// Storage of the AS state. Tokens are stored and looked up by hash (the AS never stores a
/// token itself).
///
/// Several processes may share one database (RFC 9750 §4: one AS, one root, for the whole
/// deployment): [`AsStore::store_root`] stores at most one root, [`AsStore::take_token`]
/// consumes a token at most once and [`AsStore::next_serial`] never hands out a serial twice,
/// across every process on the database; a revocation is visible to all of them once
/// [`AsStore::revoke`] returns.
pub trait AsStore: Send + Sync {
    /// Whether the store answers (for health checks).
    fn health(&self) -> Result<(), AsStoreError> {
        Ok(())
    }
    /// The persisted root, if one was stored.
    fn load_root(&self) -> Result<Option<StoredRoot>, AsStoreError>;
    /// Stores `root` unless a root is stored already; returns whether it was stored.
    fn store_root(&self, root: &StoredRoot) -> Result<bool, AsStoreError>;
    /// Records a one-time token (by its hash) for `name`, valid until `expires_at`.
    fn insert_token(
        &self,
        name: &str,
        token_hash: &[u8],
        expires_at: u64,
    ) -> Result<(), AsStoreError>;
    /// Removes the tokens that expired before `now`; returns how many.
    fn prune_tokens(&self, now: u64) -> Result<u64, AsStoreError>;
    /// Consumes the token if it is `name`'s, atomically (a token is never used twice); says
    /// whether it was valid at `now`.
    fn take_token(&self, name: &str, token_hash: &[u8], now: u64)
    -> Result<TokenUse, AsStoreError>;
    /// A fresh serial number (never 1, the root's).
    fn next_serial(&self) -> Result<u64, AsStoreError>;
    /// Records an issued certificate.
    fn record_issued(&self, issued: IssuedCertificate) -> Result<(), AsStoreError>;
    /// Records the certificate a renewal issued, in one atomic step with its two checks:
    /// the renewed certificate (serial `renewed_serial`) must be the latest one recorded for
    /// `issued.name` (the highest serial), and the request (`request_id`) must not have been
    /// used before; the request is then remembered until `request_expires_at`. Requests
    /// whose memory expired before `now` are forgotten.
    fn record_renewal(
        &self,
        issued: IssuedCertificate,
        renewed_serial: u64,
        request_id: &[u8],
        request_expires_at: u64,
        now: u64,
    ) -> Result<RenewalRecorded, AsStoreError>;
    /// The certificates issued to `name`, oldest first.
    fn issued(&self, name: &str) -> Result<Vec<IssuedCertificate>, AsStoreError>;
    /// Revokes a client (idempotent).
    fn revoke(&self, name: &str) -> Result<(), AsStoreError>;
    /// Whether a client is revoked.
    fn is_revoked(&self, name: &str) -> Result<bool, AsStoreError>;
    /// All revoked clients, sorted.
    fn revoked(&self) -> Result<Vec<String>, AsStoreError>;
}

macro_rules! forward_store {
    ($ty:ty) => {
        impl<T: AsStore + ?Sized> AsStore for $ty {
            fn health(&self) -> Result<(), AsStoreError> {
                (**self).health()
            }
            fn load_root(&self) -> Result<Option<StoredRoot>, AsStoreError> {
                (**self).load_root()
            }
            fn store_root(&self, root: &StoredRoot) -> Result<bool, AsStoreError> {
                (**self).store_root(root)
            }
            fn insert_token(
                &self,
                name: &str,
                token_hash: &[u8],
                expires_at: u64,
            ) -> Result<(), AsStoreError> {
                (**self).insert_token(name, token_hash, expires_at)
            }
            fn prune_tokens(&self, now: u64) -> Result<u64, AsStoreError> {
                (**self).prune_tokens(now)
            }
            fn take_token(
                &self,
                name: &str,
                token_hash: &[u8],
                now: u64,
            ) -> Result<TokenUse, AsStoreError> {
                (**self).take_token(name, token_hash, now)
            }
            fn next_serial(&self) -> Result<u64, AsStoreError> {
                (**self).next_serial()
            }
            fn record_issued(&self, issued: IssuedCertificate) -> Result<(), AsStoreError> {
                (**self).record_issued(issued)
            }
            fn record_renewal(
                &self,
                issued: IssuedCertificate,
                renewed_serial: u64,
                request_id: &[u8],
                request_expires_at: u64,
                now: u64,
            ) -> Result<RenewalRecorded, AsStoreError> {
                (**self).record_renewal(issued, renewed_serial, request_id, request_expires_at, now)
            }
            fn issued(&self, name: &str) -> Result<Vec<IssuedCertificate>, AsStoreError> {
                (**self).issued(name)
            }
            fn revoke(&self, name: &str) -> Result<(), AsStoreError> {
                (**self).revoke(name)
            }
            fn is_revoked(&self, name: &str) -> Result<bool, AsStoreError> {
                (**self).is_revoked(name)
            }
            fn revoked(&self) -> Result<Vec<String>, AsStoreError> {
                (**self).revoked()
            }
        }
    };
}

forward_store!(Box<T>);
forward_store!(Arc<T>);

#[derive(Debug, Default)]
struct State {
    root: Option<StoredRoot>,
    /// token hash → (name, expires_at)
    tokens: HashMap<Vec<u8>, (String, u64)>,
    serial: u64,
    issued: Vec<IssuedCertificate>,
    revoked: HashSet<String>,
    /// Used renewal requests → until when they are remembered.
    renewals: HashMap<Vec<u8>, u64>,
}

/// An in-memory AS store (tests, trials): everything is lost when it is dropped.
#[derive(Debug, Default)]
pub struct InMemoryAsStore(Mutex<State>);

impl InMemoryAsStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> Result<T, AsStoreError> {
        self.0
            .lock()
            .map(|mut state| f(&mut state))
            .map_err(|_| AsStoreError::backend("memory", "the store's lock is poisoned"))
    }
}

impl AsStore for InMemoryAsStore {
    fn load_root(&self) -> Result<Option<StoredRoot>, AsStoreError> {
        self.with(|s| s.root.clone())
    }

    fn store_root(&self, root: &StoredRoot) -> Result<bool, AsStoreError> {
        self.with(|s| {
            if s.root.is_some() {
                false
            } else {
                s.root = Some(root.clone());
                true
            }
        })
    }

    fn insert_token(
        &self,
        name: &str,
        token_hash: &[u8],
        expires_at: u64,
    ) -> Result<(), AsStoreError> {
        self.with(|s| {
            s.tokens
                .insert(token_hash.to_vec(), (name.to_string(), expires_at));
        })
    }

    fn prune_tokens(&self, now: u64) -> Result<u64, AsStoreError> {
        self.with(|s| {
            let before = s.tokens.len();
            s.tokens.retain(|_, (_, expires_at)| *expires_at >= now);
            before.saturating_sub(s.tokens.len()) as u64
        })
    }

    fn take_token(
        &self,
        name: &str,
        token_hash: &[u8],
        now: u64,
    ) -> Result<TokenUse, AsStoreError> {
        self.with(|s| match s.tokens.get(token_hash) {
            Some((owner, expires_at)) if owner == name => {
                let expired = *expires_at < now;
                s.tokens.remove(token_hash);
                if expired {
                    TokenUse::Expired
                } else {
                    TokenUse::Valid
                }
            }
            _ => TokenUse::Invalid,
        })
    }

    fn next_serial(&self) -> Result<u64, AsStoreError> {
        self.with(|s| {
            s.serial = s.serial.saturating_add(1);
            // Serial 1 is the root's.
            s.serial.saturating_add(1)
        })
    }

    fn record_issued(&self, issued: IssuedCertificate) -> Result<(), AsStoreError> {
        self.with(|s| s.issued.push(issued))
    }

    fn record_renewal(
        &self,
        issued: IssuedCertificate,
        renewed_serial: u64,
        request_id: &[u8],
        request_expires_at: u64,
        now: u64,
    ) -> Result<RenewalRecorded, AsStoreError> {
        self.with(|s| {
            s.renewals.retain(|_, until| *until >= now);
            if s.renewals.contains_key(request_id) {
                return RenewalRecorded::Replayed;
            }
            let latest = s
                .issued
                .iter()
                .filter(|c| c.name == issued.name)
                .map(|c| c.serial)
                .max();
            if latest != Some(renewed_serial) {
                return RenewalRecorded::Superseded;
            }
            s.renewals.insert(request_id.to_vec(), request_expires_at);
            s.issued.push(issued);
            RenewalRecorded::Recorded
        })
    }

    fn issued(&self, name: &str) -> Result<Vec<IssuedCertificate>, AsStoreError> {
        self.with(|s| {
            s.issued
                .iter()
                .filter(|i| i.name == name)
                .cloned()
                .collect()
        })
    }

    fn revoke(&self, name: &str) -> Result<(), AsStoreError> {
        self.with(|s| {
            s.revoked.insert(name.to_string());
        })
    }

    fn is_revoked(&self, name: &str) -> Result<bool, AsStoreError> {
        self.with(|s| s.revoked.contains(name))
    }

    fn revoked(&self) -> Result<Vec<String>, AsStoreError> {
        self.with(|s| {
            let mut names: Vec<String> = s.revoked.iter().cloned().collect();
            names.sort();
            names
        })
    }
}
