//! Opening a persistent Authentication Service from command-line options (RFC 9750 §4):
//! shared by the `conclave-as` binary and `conclave-ds --with-as` (crate `conclave-server`), so both read the same
//! database, admin token file and suite the same way.

use std::path::PathBuf;

use conclave_crypto::CipherSuite;
use conclave_service::{CryptoBackend, OsRandom, now_seconds};

use crate::http::{AsHttpState, DEFAULT_MAX_BODY, load_or_create_admin_token};
use crate::sqlite::SqliteAsStore;
use crate::{
    AsError, AsStore, AuthenticationService, DEFAULT_CERTIFICATE_LIFETIME, DEFAULT_RENEWAL_GRACE,
    DEFAULT_TOKEN_LIFETIME,
};

/// How to open the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsOptions {
    /// The database URL: `sqlite:PATH` or `sqlite::memory:`.
    pub database: String,
    /// The admin token file (created with a random token if missing).
    pub admin_token_file: PathBuf,
    /// The cipher suite of the root key, used on first start only (later starts keep the
    /// stored root's suite).
    pub cipher_suite: u16,
    /// Lifetime of issued certificates, seconds.
    pub certificate_lifetime: u64,
    /// Lifetime of enrolment tokens, seconds.
    pub token_lifetime: u64,
    /// How long after its expiry a certificate can still be renewed, seconds.
    pub renewal_grace: u64,
    /// Largest request body, bytes.
    pub max_body: usize,
    /// The cryptography backend that signs certificates and verifies proofs.
    pub crypto: CryptoBackend,
}

impl Default for AsOptions {
    fn default() -> Self {
        Self {
            database: "sqlite:./conclave-as.db".into(),
            admin_token_file: PathBuf::from("./conclave-as.admin-token"),
            cipher_suite: 1,
            certificate_lifetime: DEFAULT_CERTIFICATE_LIFETIME,
            token_lifetime: DEFAULT_TOKEN_LIFETIME,
            renewal_grace: DEFAULT_RENEWAL_GRACE,
            max_body: DEFAULT_MAX_BODY,
            crypto: CryptoBackend::default(),
        }
    }
}

/// Why the service could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The database could not be opened or migrated.
    #[error("AS database {url}: {reason}")]
    Database {
        /// The URL.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The admin token file could not be read or created.
    #[error("AS admin token file {path}: {source}")]
    AdminToken {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The cipher suite is not implemented.
    #[error(
        "cipher suite {0} is not supported (the AS signs certificates with suites 1, 2, 3 or 7)"
    )]
    UnsupportedSuite(u16),
    /// The service could not load or create its root.
    #[error(transparent)]
    Service(#[from] AsError),
}

/// Opens the store, loads or creates the root (persisted on first start), reads or creates
/// the admin token, and returns the HTTP state. Blocking (file I/O): call it before the
/// runtime serves, or on the blocking pool.
pub fn open(options: &AsOptions) -> Result<AsHttpState, SetupError> {
    let store =
        SqliteAsStore::from_url(&options.database).map_err(|reason| SetupError::Database {
            url: options.database.clone(),
            reason,
        })?;
    let stored_suite = store
        .load_root()
        .map_err(|reason| SetupError::Database {
            url: options.database.clone(),
            reason,
        })?
        .map(|root| root.cipher_suite);
    let suite = match stored_suite {
        Some(stored) if stored != options.cipher_suite => {
            tracing::warn!(
                stored,
                requested = options.cipher_suite,
                "the AS root exists already: keeping its cipher suite"
            );
            stored
        }
        Some(stored) => stored,
        None => options.cipher_suite,
    };
    let crypto = options.crypto.provider();
    let cs = crypto
        .cipher_suite_provider(CipherSuite(suite))
        .ok_or(SetupError::UnsupportedSuite(suite))?;
    let service = AuthenticationService::open_or_create(store, cs, now_seconds(), &mut OsRandom)?
        .with_certificate_lifetime(options.certificate_lifetime)
        .with_token_lifetime(options.token_lifetime)
        .with_renewal_grace(options.renewal_grace);
    if stored_suite.is_none() {
        tracing::info!(suite, "created the AS root");
    }
    let admin_token = load_or_create_admin_token(&options.admin_token_file).map_err(|source| {
        SetupError::AdminToken {
            path: options.admin_token_file.clone(),
            source,
        }
    })?;
    Ok(AsHttpState::new(service, admin_token.as_bytes())
        .with_max_body(options.max_body)
        .with_crypto(crypto))
}
