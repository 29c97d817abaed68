//! What the Authentication Service remembers: one-time enrolment tokens, issued
//! certificates and revocations.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// A certificate the AS issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCertificate {
    /// The client name.
    pub name: String,
    /// The serial number.
    pub serial: u64,
    /// End of validity, seconds since the Unix epoch.
    pub not_after: u64,
}

/// Storage of the AS state. Errors are strings: the AS reports them as they are.
pub trait AsStore: Send + Sync {
    /// Records a one-time token for `name`.
    fn insert_token(&self, name: &str, token: &[u8]) -> Result<(), String>;
    /// Consumes the token if it is `name`'s; `false` if unknown or for another name.
    fn take_token(&self, name: &str, token: &[u8]) -> Result<bool, String>;
    /// A fresh serial number.
    fn next_serial(&self) -> Result<u64, String>;
    /// Records an issued certificate.
    fn record_issued(&self, issued: IssuedCertificate) -> Result<(), String>;
    /// Revokes a client.
    fn revoke(&self, name: &str) -> Result<(), String>;
    /// Whether a client is revoked.
    fn is_revoked(&self, name: &str) -> Result<bool, String>;
    /// All revoked clients.
    fn revoked(&self) -> Result<Vec<String>, String>;
}

#[derive(Debug, Default)]
struct State {
    tokens: HashMap<Vec<u8>, String>,
    serial: u64,
    issued: Vec<IssuedCertificate>,
    revoked: HashSet<String>,
}

/// An in-memory AS store.
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
    fn insert_token(&self, name: &str, token: &[u8]) -> Result<(), String> {
        self.with(|s| {
            s.tokens.insert(token.to_vec(), name.to_string());
        })
    }

    fn take_token(&self, name: &str, token: &[u8]) -> Result<bool, String> {
        self.with(|s| match s.tokens.get(token) {
            Some(owner) if owner == name => {
                s.tokens.remove(token);
                true
            }
            _ => false,
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
