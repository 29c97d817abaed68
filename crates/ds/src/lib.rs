//! The Conclave Delivery Service (RFC 9750 §5-§6).
//!
//! The DS orders handshake messages (exactly one commit per epoch, gap-free per-group
//! sequence numbers), keeps a KeyPackage directory, routes Welcomes by KeyPackageRef, serves
//! the latest GroupInfo for external joins, and fans out through a per-group log read with a
//! cursor plus WebSocket wake-ups. It is trusted for ordering and availability, never for
//! confidentiality: it reads only the clear header of an `MLSMessage` (RFC 9420 §6) and holds
//! no group secret. Clients still validate every commit and apply the first valid one in log
//! order (RFC 9750 "Invalid Commits").
//!
//! - [`config`]: [`DsConfig`], limits and lifetimes;
//! - [`policy`]: the optional [`CredentialPolicy`] (e.g. an Authentication Service's) and
//!   the DS's own successor check;
//! - [`state`]: [`AppState`], what the handlers share;
//! - [`auth`]: the [`AuthenticatedClient`] extractor (bearer token in the header only, token
//!   generations, revocation) and the stateless login challenges;
//! - [`query`]: the typed query strings;
//! - [`routes`]: the HTTP API (axum), one module per resource, and [`router`];
//! - `bundle`: the checks of a commit bundle;
//! - [`store`]: the storage trait, its engine-independent rules and its SQLite and
//!   PostgreSQL engines;
//! - [`header`]: the clear-header reader; `ids`: the syntax of client and group ids;
//! - `self_remove`: SelfRemove proposals checked as a non-member can, and served with the
//!   GroupInfo to external joiners (draft-ietf-mls-extensions-10 §6.3);
//! - [`receiver`]: the DS as an external receiver of semi-private handshakes
//!   (draft-mahy-mls-semiprivatemessage-07): its HPKE keys, published at
//!   `GET /v1/ds/external-receiver`, and [`AppState::open_semi_private`];
//! - [`metrics`]: the DS's metrics (served at `GET /metrics`);
//! - [`error`]: [`DsError`] and its HTTP form.
//!
//! The bodies of the API (commit bundle, signed auth statements, JSON) are in
//! `conclave_api::delivery`, shared with clients; TLS, body limits and the clock come from
//! `conclave-service`. Running the DS with an Authentication Service is the `conclave-server`
//! crate's business: this crate only defines the [`CredentialPolicy`] an AS plugs into.

#![forbid(unsafe_code)]

pub mod auth;
mod bundle;
pub mod config;
pub mod error;
pub mod header;
mod identity;
mod ids;
pub mod metrics;
pub mod policy;
pub mod query;
pub mod receiver;
pub mod routes;
mod self_remove;
pub mod state;
pub mod store;
mod verified;

use std::sync::Arc;

pub use auth::AuthenticatedClient;
pub use conclave_service::Clock;
pub use config::DsConfig;
pub use error::{DsError, StoreError};
pub use policy::{CredentialPolicy, Registration, same_client};
pub use routes::router;
pub use state::AppState;
pub use store::Store;

/// Opens the store a database URL names: `sqlite:PATH`, `sqlite::memory:`, or
/// `postgres://…` / `postgresql://…` (with a pool of `pool_size` connections).
pub async fn open_store(url: &str, pool_size: usize) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        let url = url.to_owned();
        let store = tokio::task::spawn_blocking(move || store::sqlite::SqliteStore::from_url(&url))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))??;
        Ok(Arc::new(store))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(
            store::postgres::PostgresStore::connect(url, pool_size).await?,
        ))
    } else {
        Err(StoreError::Config(format!(
            "unknown database URL {url:?}: use sqlite:PATH or postgres://…"
        )))
    }
}

/// Serves the API on `listener` (a [`tokio::net::TcpListener`] or a
/// `conclave_service::tls::TlsListener`) within the read timeouts and connection cap of
/// [`DsConfig::server`] (`conclave_service::serve`), until `shutdown` completes, then drains
/// open requests (graceful shutdown). A retention pass runs every `prune_interval`.
pub async fn serve<L>(
    listener: L,
    state: Arc<AppState>,
    prune_interval: std::time::Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    let app = router(state.clone());
    serve_app(listener, state, app, prune_interval, shutdown).await
}

/// Like [`serve`], with a given router: the DS's ([`router`]) merged with more routes, e.g.
/// the Authentication Service's (`conclave-ds --with-as`).
pub async fn serve_app<L>(
    listener: L,
    state: Arc<AppState>,
    app: axum::Router,
    prune_interval: std::time::Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    let pruner = {
        let state = state.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(prune_interval);
            loop {
                ticker.tick().await;
                match state.prune().await {
                    Ok(p) => tracing::debug!(?p, "retention pass"),
                    Err(e) => tracing::warn!(error = %e, "retention pass failed"),
                }
            }
        })
    };
    let limits = state.config.server;
    let result = conclave_service::serve::serve(listener, app, limits, shutdown).await;
    pruner.abort();
    result
}
