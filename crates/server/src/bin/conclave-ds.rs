//! `conclave-ds`: the Conclave Delivery Service binary.
//!
//! ```text
//! conclave-ds --listen 127.0.0.1:8080 --database sqlite:./conclave.db
//! conclave-ds --database postgres://user@127.0.0.1:5432/conclave
//! conclave-ds --with-as --as-database sqlite:./conclave-as.db   # the AS in the same process
//! conclave-ds --with-as --as-database postgres://user@db/conclave # nodes sharing one AS
//! conclave-ds --as-url http://127.0.0.1:8081                      # checked by a remote AS
//! ```
//! Every flag has an environment variable (`CONCLAVE_DS_LISTEN`, `CONCLAVE_DS_DATABASE`, …);
//! the listener's read timeouts and connection cap, and the WebSocket caps, are flags too
//! (`--header-timeout`, `--max-connections`, `--max-websockets`, …; see the crate README);
//! logs go to stderr, filtered by `RUST_LOG` (default `info`), as text or JSON (`--log-format`).
//! Metrics: `GET /metrics` (Prometheus text format), the AS's too with `--with-as`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use conclave_ds::{AppState, DsConfig};
use conclave_server::remote_as::RemoteAs;
use conclave_server::with_as;
use conclave_service::serve::ServerLimits;
use conclave_service::{CryptoBackend, LogFormat, init_logging, shutdown_signal};

/// mimalloc instead of glibc's malloc: a server allocates per request on many threads,
/// where glibc's arenas showed as 10–14 % of the DS's profile under load (`crates/ds/README.md`,
/// "Load benchmark").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The Conclave Delivery Service (RFC 9750).
#[derive(Debug, Parser)]
#[command(name = "conclave-ds", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "CONCLAVE_DS_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Database URL: sqlite:PATH, sqlite::memory: or postgres://USER@HOST:PORT/DB.
    #[arg(
        long,
        env = "CONCLAVE_DS_DATABASE",
        default_value = "sqlite:./conclave.db"
    )]
    database: String,
    /// PostgreSQL connection pool size.
    #[arg(long, env = "CONCLAVE_DS_POOL_SIZE", default_value_t = 16)]
    pool_size: usize,
    /// Lifetime of bearer tokens, seconds.
    #[arg(long, env = "CONCLAVE_DS_TOKEN_LIFETIME", default_value_t = 900)]
    token_lifetime: u64,
    /// Largest request body, bytes.
    #[arg(long, env = "CONCLAVE_DS_MAX_BODY", default_value_t = 4 << 20)]
    max_body: usize,
    /// KeyPackage claims per client per minute.
    #[arg(long, env = "CONCLAVE_DS_CLAIMS_PER_MINUTE", default_value_t = 60)]
    claims_per_minute: u32,
    /// Claims of one client's KeyPackages per minute, by all claimers together (0: no
    /// limit); past it, 429 with Retry-After.
    #[arg(
        long,
        env = "CONCLAVE_DS_CLAIMS_PER_TARGET_PER_MINUTE",
        default_value_t = 30
    )]
    claims_per_target_per_minute: u32,
    /// Remove log entries older than this many days (0: keep forever).
    #[arg(long, env = "CONCLAVE_DS_RETENTION_DAYS", default_value_t = 0)]
    retention_days: u64,
    /// PEM certificate chain: serve HTTPS (with --tls-key).
    #[arg(long, env = "CONCLAVE_DS_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// PEM private key of the certificate.
    #[arg(long, env = "CONCLAVE_DS_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// Seconds between retention passes.
    #[arg(long, env = "CONCLAVE_DS_PRUNE_INTERVAL", default_value_t = 600)]
    prune_interval: u64,
    /// Also serve the Authentication Service (/v1/as/...), and register only clients whose
    /// credential it issued (unexpired, unrevoked, client id = enrolled name).
    #[arg(long, env = "CONCLAVE_DS_WITH_AS", conflicts_with = "as_url")]
    with_as: bool,
    /// Check registrations, logins and every request against the remote Authentication
    /// Service at this URL (its root, fetched at start, and its revocation list) without
    /// serving the AS routes.
    #[arg(long, env = "CONCLAVE_DS_AS_URL")]
    as_url: Option<String>,
    /// With --as-url: how old (seconds) the copy of the AS's revocation list may be; a
    /// revoked client is refused within this long, and past it without an answer from the
    /// AS, checks fail (503).
    #[arg(long, env = "CONCLAVE_DS_AS_REVOCATION_TTL", default_value_t = 5.0)]
    as_revocation_ttl: f64,
    /// With --as-url: how long (seconds) to wait at start for the AS to answer.
    #[arg(long, env = "CONCLAVE_DS_AS_WAIT", default_value_t = 30)]
    as_wait: u64,
    /// The AS database (with --with-as): sqlite:PATH, or postgres://USER@HOST:PORT/DB for
    /// several DS nodes serving one AS (one root, tokens and revocations shared).
    #[arg(
        long,
        env = "CONCLAVE_DS_AS_DATABASE",
        default_value = "sqlite:./conclave-as.db"
    )]
    as_database: String,
    /// The AS admin token file (with --with-as); created with a random token if missing.
    #[arg(
        long,
        env = "CONCLAVE_DS_AS_ADMIN_TOKEN_FILE",
        default_value = "./conclave-as.admin-token"
    )]
    as_admin_token_file: std::path::PathBuf,
    /// Cipher suite of the AS root key (with --with-as, first start only): 1, 2, 3 or 7, or a
    /// post-quantum suite (0xF0A0–0xF0AA or its draft name; 0xF0A8–0xF0AA sign with ML-DSA).
    #[arg(
        long,
        env = "CONCLAVE_DS_AS_CIPHER_SUITE",
        default_value = "1",
        value_parser = parse_suite
    )]
    as_cipher_suite: u16,
    /// Lifetime of the certificates the AS issues (with --with-as), seconds.
    #[arg(
        long,
        env = "CONCLAVE_DS_AS_CERTIFICATE_LIFETIME",
        default_value_t = 86_400
    )]
    as_certificate_lifetime: u64,
    /// How long after its expiry a certificate can still be renewed at the AS (with
    /// --with-as), seconds.
    #[arg(
        long,
        env = "CONCLAVE_DS_AS_RENEWAL_GRACE",
        default_value_t = 7 * 86_400
    )]
    as_renewal_grace: u64,
    /// Most HTTP connections served at once; beyond, new connections are closed at once.
    #[arg(long, env = "CONCLAVE_DS_MAX_CONNECTIONS", default_value_t = 1024)]
    max_connections: usize,
    /// Seconds a client has to send a request's line and headers (also the keep-alive idle
    /// time between requests).
    #[arg(long, env = "CONCLAVE_DS_HEADER_TIMEOUT", default_value_t = 10.0)]
    header_timeout: f64,
    /// Seconds to read a request's body and answer it (then 408).
    #[arg(long, env = "CONCLAVE_DS_REQUEST_TIMEOUT", default_value_t = 30.0)]
    request_timeout: f64,
    /// Seconds without a byte in either direction after which a connection (or WebSocket) is
    /// closed.
    #[arg(long, env = "CONCLAVE_DS_IDLE_TIMEOUT", default_value_t = 120.0)]
    idle_timeout: f64,
    /// Most WebSockets open on this node.
    #[arg(long, env = "CONCLAVE_DS_MAX_WEBSOCKETS", default_value_t = 10_000)]
    max_websockets: usize,
    /// Most WebSockets open per client on this node.
    #[arg(
        long,
        env = "CONCLAVE_DS_MAX_WEBSOCKETS_PER_CLIENT",
        default_value_t = 8
    )]
    max_websockets_per_client: usize,
    /// Seconds between re-checks of an idle WebSocket's token (it is checked before every
    /// delivery too); the socket is pinged as often.
    #[arg(long, env = "CONCLAVE_DS_WEBSOCKET_RECHECK", default_value_t = 30.0)]
    websocket_recheck: f64,
    /// Cryptography backend: aws-lc or rustcrypto.
    #[arg(long, env = "CONCLAVE_DS_CRYPTO", default_value = "aws-lc")]
    crypto: CryptoBackend,
    /// Log format: text or json (one object per line).
    #[arg(long, env = "CONCLAVE_DS_LOG_FORMAT", default_value = "text")]
    log_format: LogFormat,
}

/// `--as-cipher-suite`: a number or a post-quantum suite's draft name.
fn parse_suite(text: &str) -> Result<u16, String> {
    conclave_core::codepoints::parse_cipher_suite(text)
        .map(|suite| suite.0)
        .ok_or_else(|| format!("unknown cipher suite {text:?}: give a number or a draft name"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    init_logging(args.log_format, "info");
    // One registry for the DS and, with --with-as, the AS: one GET /metrics shows both.
    let metrics = conclave_service::metrics::Metrics::new();
    let store = conclave_ds::open_store(&args.database, args.pool_size)
        .await
        .with_context(|| format!("opening the database {}", args.database))?;
    let as_state = if args.with_as {
        let options = conclave_as::setup::AsOptions {
            database: args.as_database.clone(),
            admin_token_file: args.as_admin_token_file.clone(),
            cipher_suite: args.as_cipher_suite,
            certificate_lifetime: args.as_certificate_lifetime,
            renewal_grace: args.as_renewal_grace,
            crypto: args.crypto,
            ..conclave_as::setup::AsOptions::default()
        };
        let state = tokio::task::spawn_blocking(move || conclave_as::setup::open(&options))
            .await
            .context("opening the Authentication Service")?
            .context("opening the Authentication Service")?;
        Some(Arc::new(state.with_metrics(&metrics)))
    } else {
        None
    };
    let remote = match &args.as_url {
        Some(url) => Some(connect_remote_as(&args, url).await?),
        None => None,
    };
    let credential_policy = match (&as_state, &remote) {
        (Some(state), _) => Some(with_as::policy(state.clone())),
        (None, Some(remote)) => Some(with_as::remote_policy(remote.clone())),
        (None, None) => None,
    };
    let server = ServerLimits {
        header_read_timeout: seconds("--header-timeout", args.header_timeout)?,
        request_timeout: seconds("--request-timeout", args.request_timeout)?,
        idle_timeout: seconds("--idle-timeout", args.idle_timeout)?,
        max_connections: args.max_connections.max(1),
    };
    let config = DsConfig {
        server,
        max_websockets: args.max_websockets,
        max_websockets_per_client: args.max_websockets_per_client,
        websocket_recheck: seconds("--websocket-recheck", args.websocket_recheck)?,
        credential_policy,
        crypto: args.crypto.provider(),
        token_lifetime: args.token_lifetime,
        max_body: args.max_body,
        claims_per_minute: args.claims_per_minute,
        claims_per_target_per_minute: args.claims_per_target_per_minute,
        retention: (args.retention_days > 0).then(|| args.retention_days.saturating_mul(86_400)),
        metrics,
        ..DsConfig::default()
    };
    let engine = store.engine();
    let state = AppState::new(store, config);
    let app = match as_state {
        Some(as_state) => with_as::router(state.clone(), as_state),
        None => conclave_ds::router(state.clone()),
    };
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let local = listener.local_addr()?;
    let prune_interval = Duration::from_secs(args.prune_interval.max(1));
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(
            conclave_service::tls::server_config(cert, key)
                .context("loading the TLS certificate")?,
        ),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(
        %local,
        engine,
        scheme,
        with_as = args.with_as,
        as_url = args.as_url.as_deref().unwrap_or(""),
        "conclave-ds listening"
    );
    // A line on stdout that scripts and tests wait for.
    println!("listening on {local}");
    match tls {
        Some(config) => {
            let listener = conclave_service::tls::TlsListener::new(listener, config)?;
            conclave_ds::serve_app(listener, state, app, prune_interval, shutdown_signal()).await?;
        }
        None => {
            conclave_ds::serve_app(listener, state, app, prune_interval, shutdown_signal()).await?;
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// A positive number of seconds given by `flag`, at most a day.
fn seconds(flag: &str, value: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero() && *d <= Duration::from_secs(86_400))
        .with_context(|| format!("{flag} must be a positive number of seconds, at most a day"))
}

/// Fetches the remote AS's root and revocation list, retrying for `--as-wait` seconds (the AS
/// may be starting too), and starts refreshing the list.
async fn connect_remote_as(args: &Args, url: &str) -> anyhow::Result<Arc<RemoteAs>> {
    let ttl = Duration::try_from_secs_f64(args.as_revocation_ttl)
        .ok()
        .filter(|ttl| !ttl.is_zero())
        .context("--as-revocation-ttl must be a positive number of seconds")?;
    // At most a day: an Instant far in the future could overflow.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.as_wait.min(86_400));
    let remote = loop {
        match RemoteAs::connect(url, ttl, args.crypto.provider()).await {
            Ok(remote) => break Arc::new(remote),
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(error = %e, "waiting for the Authentication Service");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e).context("connecting to the Authentication Service"),
        }
    };
    remote.spawn_refresher();
    tracing::info!(
        url,
        ttl_ms = ttl.as_millis(),
        "checking against the remote AS"
    );
    Ok(remote)
}
