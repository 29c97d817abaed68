//! What the Authentication Service remembers (RFC 9750 §4; DESIGN.md §5): its root key and
//! certificate, one-time enrolment tokens (by hash, with an expiry), issued certificates and
//! revocations. [`InMemoryAsStore`] is for tests; `crate::sqlite::SqliteAsStore` persists.

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

/// Storage of the AS state. Errors are strings: the AS reports them as they are. Tokens are
/// stored and looked up by hash (the AS never stores a token itself).
pub trait AsStore: Send + Sync {
    /// Whether the store answers (for health checks).
    fn health(&self) -> Result<(), String> {
        Ok(())
    }
    /// The persisted root, if one was stored.
    fn load_root(&self) -> Result<Option<StoredRoot>, String>;
    /// Stores `root` unless a root is stored already; returns whether it was stored.
    fn store_root(&self, root: &StoredRoot) -> Result<bool, String>;
    /// Records a one-time token (by its hash) for `name`, valid until `expires_at`.
    fn insert_token(&self, name: &str, token_hash: &[u8], expires_at: u64) -> Result<(), String>;
    /// Removes the tokens that expired before `now`; returns how many.
    fn prune_tokens(&self, now: u64) -> Result<u64, String>;
    /// Consumes the token if it is `name`'s, atomically (a token is never used twice); says
    /// whether it was valid at `now`.
    fn take_token(&self, name: &str, token_hash: &[u8], now: u64) -> Result<TokenUse, String>;
    /// A fresh serial number (never 1, the root's).
    fn next_serial(&self) -> Result<u64, String>;
    /// Records an issued certificate.
    fn record_issued(&self, issued: IssuedCertificate) -> Result<(), String>;
    /// The certificates issued to `name`, oldest first.
    fn issued(&self, name: &str) -> Result<Vec<IssuedCertificate>, String>;
    /// Revokes a client (idempotent).
    fn revoke(&self, name: &str) -> Result<(), String>;
    /// Whether a client is revoked.
    fn is_revoked(&self, name: &str) -> Result<bool, String>;
    /// All revoked clients, sorted.
    fn revoked(&self) -> Result<Vec<String>, String>;
}

macro_rules! forward_store {
    ($ty:ty) => {
        impl<T: AsStore + ?Sized> AsStore for $ty {
            fn health(&self) -> Result<(), String> {
                (**self).health()
            }
            fn load_root(&self) -> Result<Option<StoredRoot>, String> {
                (**self).load_root()
            }
            fn store_root(&self, root: &StoredRoot) -> Result<bool, String> {
                (**self).store_root(root)
            }
            fn insert_token(
                &self,
                name: &str,
                token_hash: &[u8],
                expires_at: u64,
            ) -> Result<(), String> {
                (**self).insert_token(name, token_hash, expires_at)
            }
            fn prune_tokens(&self, now: u64) -> Result<u64, String> {
                (**self).prune_tokens(now)
            }
            fn take_token(
                &self,
                name: &str,
                token_hash: &[u8],
                now: u64,
            ) -> Result<TokenUse, String> {
                (**self).take_token(name, token_hash, now)
            }
            fn next_serial(&self) -> Result<u64, String> {
                (**self).next_serial()
            }
            fn record_issued(&self, issued: IssuedCertificate) -> Result<(), String> {
                (**self).record_issued(issued)
            }
            fn issued(&self, name: &str) -> Result<Vec<IssuedCertificate>, String> {
                (**self).issued(name)
            }
            fn revoke(&self, name: &str) -> Result<(), String> {
                (**self).revoke(name)
            }
            fn is_revoked(&self, name: &str) -> Result<bool, String> {
                (**self).is_revoked(name)
            }
            fn revoked(&self) -> Result<Vec<String>, String> {
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
}

/// An in-memory AS store (tests, trials): everything is lost when it is dropped.
#[derive(Debug, Default)]
pub struct InMemoryAsStore(Mutex<State>);

impl InMemoryAsStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> Result<T, String> {
        self.0
            .lock()
            .map(|mut state| f(&mut state))
            .map_err(|_| "AS store lock poisoned".to_string())
    }
}

impl AsStore for InMemoryAsStore {
    fn load_root(&self) -> Result<Option<StoredRoot>, String> {
        self.with(|s| s.root.clone())
    }

    fn store_root(&self, root: &StoredRoot) -> Result<bool, String> {
        self.with(|s| {
            if s.root.is_some() {
                false
            } else {
                s.root = Some(root.clone());
                true
            }
        })
    }

    fn insert_token(&self, name: &str, token_hash: &[u8], expires_at: u64) -> Result<(), String> {
        self.with(|s| {
            s.tokens
                .insert(token_hash.to_vec(), (name.to_string(), expires_at));
        })
    }

    fn prune_tokens(&self, now: u64) -> Result<u64, String> {
        self.with(|s| {
            let before = s.tokens.len();
            s.tokens.retain(|_, (_, expires_at)| *expires_at >= now);
            before.saturating_sub(s.tokens.len()) as u64
        })
    }

    fn take_token(&self, name: &str, token_hash: &[u8], now: u64) -> Result<TokenUse, String> {
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

    fn next_serial(&self) -> Result<u64, String> {
        self.with(|s| {
            s.serial = s.serial.saturating_add(1);
            // Serial 1 is the root's.
            s.serial.saturating_add(1)
        })
    }

    fn record_issued(&self, issued: IssuedCertificate) -> Result<(), String> {
        self.with(|s| s.issued.push(issued))
    }

    fn issued(&self, name: &str) -> Result<Vec<IssuedCertificate>, String> {
        self.with(|s| {
            s.issued
                .iter()
                .filter(|i| i.name == name)
                .cloned()
                .collect()
        })
    }

    fn revoke(&self, name: &str) -> Result<(), String> {
        self.with(|s| {
            s.revoked.insert(name.to_string());
        })
    }

    fn is_revoked(&self, name: &str) -> Result<bool, String> {
        self.with(|s| s.revoked.contains(name))
    }

    fn revoked(&self) -> Result<Vec<String>, String> {
        self.with(|s| {
            let mut names: Vec<String> = s.revoked.iter().cloned().collect();
            names.sort();
            names
        })
    }
}
