//! A development network: the Delivery Service (RFC 9750 §5-§6) and the Authentication
//! Service (RFC 9750 §4) served together on one loopback port, with SQLite databases in a
//! data directory — what `conclave-ds --with-as` runs, in-process, for `conclave devnet`,
//! `conclave demo` and the tests.
//!
//! `devnet.json` in the data directory tells other commands where the services are and where
//! the AS admin token is (so that `conclave register` can mint enrolment tokens).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Why the devnet could not start, or its description could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DevnetError {
    /// A file or socket operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A database could not be opened.
    #[error("database {url}: {reason}")]
    Database {
        /// Its URL.
        url: String,
        /// What failed.
        reason: String,
    },
    /// `devnet.json` is not a devnet description.
    #[error("{path}: not a devnet description ({reason}); remove it and start the devnet again")]
    Description {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A server task failed.
    #[error("devnet task: {0}")]
    Task(String),
    /// The AS refused or could not be reached.
    #[error(transparent)]
    Api(#[from] conclave_api::ApiError),
}

/// The file name of the devnet description.
pub const DEVNET_FILE: &str = "devnet.json";

/// What `devnet.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DevnetInfo {
    /// The DS base URL.
    pub ds_url: String,
    /// The AS base URL (the same server).
    pub as_url: String,
    /// The file holding the AS admin token.
    pub admin_token_file: PathBuf,
    /// The data directory.
    pub data_dir: PathBuf,
}

impl DevnetInfo {
    /// Reads `dir/devnet.json`, if present.
    pub fn load(dir: &Path) -> Result<Option<Self>, DevnetError> {
        let path = dir.join(DEVNET_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| DevnetError::Description {
                        path: path.display().to_string(),
                        reason: e.to_string(),
                    })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(DevnetError::Io {
                what: format!("reading {}", path.display()),
                source,
            }),
        }
    }

    /// The admin token.
    pub fn admin_token(&self) -> Result<String, DevnetError> {
        std::fs::read_to_string(&self.admin_token_file)
            .map(|t| t.trim().to_owned())
            .map_err(|source| DevnetError::Io {
                what: format!(
                    "reading the admin token {}",
                    self.admin_token_file.display()
                ),
                source,
            })
    }
}

/// How to start a devnet.
#[derive(Debug, Clone)]
pub struct DevnetOptions {
    /// Where the databases, the admin token and `devnet.json` go.
    pub data_dir: PathBuf,
    /// The loopback port (0: any free port).
    pub port: u16,
    /// Lifetime of the certificates the AS issues, seconds.
    pub certificate_lifetime: u64,
    /// Whether the DS registers only clients whose credential the AS vouches for (as
    /// `conclave-ds --with-as` does). Tests turn it off to play an untrusted DS
    /// (RFC 9750 §5): clients must then refuse bad credentials on their own.
    pub check_credentials: bool,
    /// Cipher suite of the AS root key, and so of every client that enrols (RFC 9420 §17.1
    /// values, or a post-quantum suite of draft-ietf-mls-pq-ciphersuites under Conclave's
    /// values). Used when the AS database is created.
    pub cipher_suite: u16,
}

impl DevnetOptions {
    /// Defaults for `dir`: any port, one-day certificates.
    pub fn new(dir: &Path) -> Self {
        Self {
            data_dir: dir.to_path_buf(),
            port: 0,
            certificate_lifetime: conclave_as::DEFAULT_CERTIFICATE_LIFETIME,
            check_credentials: true,
            cipher_suite: 1,
        }
    }
}

/// A running devnet. Dropping it does not stop the server: call [`Devnet::shutdown`].
#[derive(Debug)]
pub struct Devnet {
    /// Where it listens, and the admin token file.
    pub info: DevnetInfo,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> DevnetError {
    move |source| DevnetError::Io { what, source }
}

impl Devnet {
    /// Starts the DS and the AS on `127.0.0.1:<port>` with SQLite in the data directory, and
    /// writes `devnet.json`.
    pub async fn start(options: &DevnetOptions) -> Result<Self, DevnetError> {
        let dir = &options.data_dir;
        std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        let ds_db = format!("sqlite:{}", dir.join("ds.db").display());
        let store =
            conclave_ds::open_store(&ds_db, 4)
                .await
                .map_err(|e| DevnetError::Database {
                    url: ds_db.clone(),
                    reason: e.to_string(),
                })?;
        let admin_token_file = dir.join("as-admin-token");
        let as_options = conclave_as::setup::AsOptions {
            database: format!("sqlite:{}", dir.join("as.db").display()),
            admin_token_file: admin_token_file.clone(),
            certificate_lifetime: options.certificate_lifetime,
            cipher_suite: options.cipher_suite,
            ..conclave_as::setup::AsOptions::default()
        };
        let as_state = tokio::task::spawn_blocking(move || conclave_as::setup::open(&as_options))
            .await
            .map_err(|e| DevnetError::Task(format!("AS setup: {e}")))?
            .map_err(|e| DevnetError::Database {
                url: dir.join("as.db").display().to_string(),
                reason: e.to_string(),
            })?;
        // One registry for both services: the devnet's GET /metrics shows the DS's and the
        // AS's metrics.
        let metrics = conclave_service::metrics::Metrics::new();
        let as_state = Arc::new(as_state.with_metrics(&metrics));
        let config = conclave_ds::DsConfig {
            // A devnet serves demos and large local adds: no practical claim limit.
            claims_per_minute: 1_000_000,
            claims_per_target_per_minute: 0,
            max_body: 64 << 20,
            credential_policy: options
                .check_credentials
                .then(|| crate::with_as::policy(as_state.clone())),
            metrics,
            ..conclave_ds::DsConfig::default()
        };
        let ds_state = conclave_ds::AppState::new(store, config);
        let router = crate::with_as::router(ds_state, as_state);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.port))
            .await
            .map_err(io(format!("binding 127.0.0.1:{}", options.port)))?;
        let local = listener
            .local_addr()
            .map_err(io("reading the listening address".into()))?;
        let url = format!("http://{local}");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            conclave_service::serve::serve(
                listener,
                router,
                conclave_service::serve::ServerLimits::default(),
                async move {
                    let _ = stopped.await;
                },
            )
            .await
        });
        let info = DevnetInfo {
            ds_url: url.clone(),
            as_url: url,
            admin_token_file,
            data_dir: dir.clone(),
        };
        let json = serde_json::to_vec_pretty(&info).map_err(|e| DevnetError::Description {
            path: DEVNET_FILE.into(),
            reason: e.to_string(),
        })?;
        let file = dir.join(DEVNET_FILE);
        std::fs::write(&file, json).map_err(io(format!("writing {}", file.display())))?;
        Ok(Self {
            info,
            stop: Some(stop),
            task,
        })
    }

    /// A one-time enrolment token for `name`, minted with the admin token.
    pub async fn issue_token(&self, name: &str) -> Result<String, DevnetError> {
        let client = conclave_api::AsClient::new(&self.info.as_url)?;
        Ok(client.issue_token(&self.info.admin_token()?, name).await?)
    }

    /// Waits until the server stops (it runs until [`Devnet::shutdown`] or the process
    /// ends).
    pub async fn wait(self) -> Result<(), DevnetError> {
        match self.task.await {
            Ok(result) => result.map_err(io("serving".into())),
            Err(e) => Err(DevnetError::Task(format!("server: {e}"))),
        }
    }

    /// Stops the server and waits for open requests to finish.
    pub async fn shutdown(mut self) -> Result<(), DevnetError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.wait().await
    }
}
