//! `conclave-as`: the Conclave Authentication Service binary (RFC 9750 §4).
//!
//! ```text
//! conclave-as --listen 127.0.0.1:8081 --database sqlite:./conclave-as.db \
//!             --admin-token-file ./conclave-as.admin-token
//! conclave-as --database postgres://user@db/conclave   # several AS processes, one root
//! ```
//! Every flag has an environment variable (`CONCLAVE_AS_LISTEN`, `CONCLAVE_AS_DATABASE`, …);
//! logs go to stderr, filtered by `RUST_LOG` (default `info`), as text or JSON (`--log-format`). Once bound, it prints
//! `listening on <addr>` on stdout. SIGINT/SIGTERM drain open requests. Metrics: `GET
//! /metrics` (Prometheus text format). The listener has read timeouts and a connection cap
//! (`--header-timeout`, `--request-timeout`, `--idle-timeout`, `--max-connections`).

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use conclave_as::setup::AsOptions;
use conclave_service::serve::ServerLimits;
use conclave_service::{CryptoBackend, LogFormat, init_logging, shutdown_signal};

/// mimalloc instead of glibc's malloc: a server allocates per request on many threads,
/// where glibc's arenas showed as 10–14 % of the DS's profile under load (`crates/ds/README.md`,
/// "Load benchmark").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The Conclave Authentication Service (RFC 9750 §4).
#[derive(Debug, Parser)]
#[command(name = "conclave-as", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "CONCLAVE_AS_LISTEN", default_value = "127.0.0.1:8081")]
    listen: String,
    /// Database URL: sqlite:PATH (or sqlite::memory: for a throwaway AS), or
    /// postgres://USER@HOST:PORT/DB for several AS processes sharing one root.
    #[arg(
        long,
        env = "CONCLAVE_AS_DATABASE",
        default_value = "sqlite:./conclave-as.db"
    )]
    database: String,
    /// PostgreSQL connection pool size.
    #[arg(long, env = "CONCLAVE_AS_POOL_SIZE", default_value_t = 8)]
    pool_size: usize,
    /// File with the admin bearer token; created with a random token (mode 0600) if missing.
    #[arg(
        long,
        env = "CONCLAVE_AS_ADMIN_TOKEN_FILE",
        default_value = "./conclave-as.admin-token"
    )]
    admin_token_file: PathBuf,
    /// Cipher suite of the root key (first start only): 1, 2, 3 or 7, or a post-quantum suite
    /// (draft-ietf-mls-pq-ciphersuites TBD1–TBD11, e.g. 0xF0A0 or its draft name; TBD9–TBD11,
    /// 0xF0A8–0xF0AA, sign with ML-DSA and get RFC 9881 certificates).
    #[arg(long, env = "CONCLAVE_AS_CIPHER_SUITE", default_value = "1", value_parser = parse_suite)]
    cipher_suite: u16,
    /// Lifetime of issued certificates, seconds.
    #[arg(
        long,
        env = "CONCLAVE_AS_CERTIFICATE_LIFETIME",
        default_value_t = 86_400
    )]
    certificate_lifetime: u64,
    /// Lifetime of enrolment tokens, seconds.
    #[arg(long, env = "CONCLAVE_AS_TOKEN_LIFETIME", default_value_t = 86_400)]
    token_lifetime: u64,
    /// How long after its expiry a certificate can still be renewed (POST /v1/as/renew),
    /// seconds.
    #[arg(long, env = "CONCLAVE_AS_RENEWAL_GRACE", default_value_t = 7 * 86_400)]
    renewal_grace: u64,
    /// Largest request body, bytes.
    #[arg(long, env = "CONCLAVE_AS_MAX_BODY", default_value_t = 64 * 1024)]
    max_body: usize,
    /// Most HTTP connections served at once; beyond, new connections are closed at once.
    #[arg(long, env = "CONCLAVE_AS_MAX_CONNECTIONS", default_value_t = 1024)]
    max_connections: usize,
    /// Seconds a client has to send a request's line and headers (also the keep-alive idle
    /// time between requests).
    #[arg(long, env = "CONCLAVE_AS_HEADER_TIMEOUT", default_value_t = 10.0)]
    header_timeout: f64,
    /// Seconds to read a request's body and answer it (then 408).
    #[arg(long, env = "CONCLAVE_AS_REQUEST_TIMEOUT", default_value_t = 30.0)]
    request_timeout: f64,
    /// Seconds without a byte in either direction after which a connection is closed.
    #[arg(long, env = "CONCLAVE_AS_IDLE_TIMEOUT", default_value_t = 120.0)]
    idle_timeout: f64,
    /// Cryptography backend: aws-lc or rustcrypto.
    #[arg(long, env = "CONCLAVE_AS_CRYPTO", default_value = "aws-lc")]
    crypto: CryptoBackend,
    /// Log format: text or json (one object per line).
    #[arg(long, env = "CONCLAVE_AS_LOG_FORMAT", default_value = "text")]
    log_format: LogFormat,
}

/// A positive number of seconds given by `flag`, at most a day.
fn seconds(flag: &str, value: f64) -> anyhow::Result<std::time::Duration> {
    std::time::Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero() && d.as_secs() <= 86_400)
        .with_context(|| format!("{flag} must be a positive number of seconds, at most a day"))
}

async fn json_not_found() -> conclave_as::http::AsHttpError {
    conclave_as::http::AsHttpError::NotFound("no such endpoint (the AS serves /v1/as/...)".into())
}

/// `--cipher-suite`: a number or a post-quantum suite's draft name.
fn parse_suite(text: &str) -> Result<u16, String> {
    conclave_core::codepoints::parse_cipher_suite(text)
        .map(|suite| suite.0)
        .ok_or_else(|| format!("unknown cipher suite {text:?}: give a number or a draft name"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    init_logging(args.log_format, "info");
    let options = AsOptions {
        database: args.database.clone(),
        pool_size: args.pool_size,
        admin_token_file: args.admin_token_file.clone(),
        cipher_suite: args.cipher_suite,
        certificate_lifetime: args.certificate_lifetime,
        token_lifetime: args.token_lifetime,
        renewal_grace: args.renewal_grace,
        max_body: args.max_body,
        crypto: args.crypto,
    };
    let state = tokio::task::spawn_blocking(move || conclave_as::setup::open(&options))
        .await
        .context("opening the AS")?
        .context("opening the AS")?;
    let suite = state.service().cipher_suite().0;
    let metrics = state.metrics().clone();
    let app = conclave_as::http::router(state)
        .merge(metrics.router())
        .fallback(json_not_found);
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let local = listener.local_addr()?;
    let database = conclave_as::setup::redact_password(&args.database);
    tracing::info!(%local, suite, %database, "conclave-as listening");
    // A line on stdout that scripts and tests wait for.
    println!("listening on {local}");
    let limits = ServerLimits {
        header_read_timeout: seconds("--header-timeout", args.header_timeout)?,
        request_timeout: seconds("--request-timeout", args.request_timeout)?,
        idle_timeout: seconds("--idle-timeout", args.idle_timeout)?,
        max_connections: args.max_connections.max(1),
    };
    conclave_service::serve::serve(listener, app, limits, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}
