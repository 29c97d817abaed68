//! Opening a persistent Authentication Service from command-line options (RFC 9750 §4):
//! shared by the `conclave-as` binary and `conclave-ds --with-as` (crate `conclave-server`),
//! so both read the same database, admin token file and suite the same way. The database URL
//! picks the engine: `sqlite:PATH` for one machine, `postgres://…` for several processes
//! sharing one AS (one root, one token table, one revocation list).

use std::path::PathBuf;

use conclave_crypto::CipherSuite;
use conclave_service::{CryptoBackend, OsRandom, now_seconds};

use crate::http::{AsHttpState, DEFAULT_MAX_BODY, load_or_create_admin_token};
use crate::postgres::{DEFAULT_POOL_SIZE, PostgresAsStore, is_postgres_url};
use crate::sqlite::SqliteAsStore;
use crate::{
    AsError, AsStore, AsStoreError, AuthenticationService, DEFAULT_CERTIFICATE_LIFETIME,
    DEFAULT_RENEWAL_GRACE, DEFAULT_TOKEN_LIFETIME,
};

/// How to open the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsOptions {
    /// The database URL: `sqlite:PATH`, `sqlite::memory:` or
    /// `postgres://USER@HOST:PORT/DB` (also `postgresql://`).
    pub database: String,
    /// Most pooled connections (PostgreSQL only).
    pub pool_size: usize,
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
            pool_size: DEFAULT_POOL_SIZE,
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
    #[error("AS database {url}: {source}")]
    Database {
        /// The URL, without its password.
        url: String,
        /// What failed.
        source: AsStoreError,
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
        "cipher suite {0} is not supported (the AS signs certificates with suites 1, 2, 3 or 7, or the post-quantum suites 0xF0A0-0xF0AA)"
    )]
    UnsupportedSuite(u16),
    /// The service could not load or create its root.
    #[error(transparent)]
    Service(#[from] AsError),
}

/// Opens the store that `url` names: `sqlite:PATH`, `sqlite::memory:`, or
/// `postgres://…`/`postgresql://…` with at most `pool_size` connections. Blocking.
pub fn open_store(url: &str, pool_size: usize) -> Result<Box<dyn AsStore>, AsStoreError> {
    if is_postgres_url(url) {
        Ok(Box::new(PostgresAsStore::connect(url, pool_size)?))
    } else if url.starts_with("sqlite:") {
        Ok(Box::new(SqliteAsStore::from_url(url)?))
    } else {
        Err(AsStoreError::Config(format!(
            "unknown AS database URL {:?}: use sqlite:PATH, sqlite::memory: or \
             postgres://USER@HOST:PORT/DB",
            redact_password(url)
        )))
    }
}

/// `url` without the password of its user part (`postgres://user:secret@host` →
/// `postgres://user:***@host`), for messages and logs.
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = match rest.split_once('/') {
        Some((authority, path)) => (authority, Some(path)),
        None => (rest, None),
    };
    let Some((user, host)) = authority
        .rsplit_once('@')
        .and_then(|(user_info, host)| Some((user_info.split_once(':')?.0, host)))
    else {
        return url.to_owned();
    };
    match path {
        Some(path) => format!("{scheme}://{user}:***@{host}/{path}"),
        None => format!("{scheme}://{user}:***@{host}"),
    }
}

/// Opens the store, loads or creates the root (persisted on first start; with several
/// processes on one PostgreSQL database, the first one creates it and the others load it),
/// reads or creates the admin token, and returns the HTTP state. Blocking (file and database
/// I/O): call it before the runtime serves, or on the blocking pool.
pub fn open(options: &AsOptions) -> Result<AsHttpState, SetupError> {
    let database_error = |source| SetupError::Database {
        url: redact_password(&options.database),
        source,
    };
    let store = open_store(&options.database, options.pool_size).map_err(database_error)?;
    let stored_suite = store
        .load_root()
        .map_err(database_error)?
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_left_out_of_database_urls() {
        assert_eq!(
            redact_password("postgres://conclave:s3cret@db:5432/as"),
            "postgres://conclave:***@db:5432/as"
        );
        assert_eq!(
            redact_password("postgresql://u:p@host"),
            "postgresql://u:***@host"
        );
        for unchanged in [
            "postgres://conclave@db/as",
            "sqlite:./conclave-as.db",
            "sqlite::memory:",
        ] {
            assert_eq!(redact_password(unchanged), unchanged);
        }
    }

    #[test]
    fn unknown_database_urls_are_refused_with_the_accepted_forms() {
        let Err(err) = open_store("mysql://root:pw@localhost/as", 1) else {
            panic!("a mysql: URL was accepted");
        };
        let message = err.to_string();
        assert!(message.contains("postgres://"), "{message}");
        assert!(!message.contains("pw"), "{message}");
    }
}
