//! Plumbing shared by the Conclave services (the Delivery Service and the Authentication
//! Service, RFC 9750 §4-§6): request bodies, TLS, graceful shutdown, logging, metrics, the
//! choice of cryptography backend, the clock and the OS random source. Nothing here is
//! protocol logic; the protocol crates stay sans-IO and get time and randomness from here.
//!
//! - [`body`]: size-limited body readers with a required media type;
//! - [`tls`]: the rustls listener;
//! - [`serve`]: serving a router with read timeouts and a connection cap;
//! - [`shutdown`]: Ctrl-C / SIGTERM;
//! - [`logging`]: text or JSON logs;
//! - [`metrics`]: the Prometheus registry, `GET /metrics` and the per-route request metrics;
//! - [`crypto`]: [`CryptoBackend`], aws-lc (default) or RustCrypto.

#![forbid(unsafe_code)]

pub mod body;
pub mod crypto;
pub mod logging;
pub mod metrics;
pub mod serve;
pub mod shutdown;
pub mod tls;

pub use conclave_api::clock::{Clock, now_seconds, system_clock};
pub use crypto::CryptoBackend;
pub use logging::{LogFormat, init_logging};
pub use shutdown::shutdown_signal;

/// The operating system's random source, for the tokens, challenges and keys the services
/// make (RFC 9420 §16.1 asks for a good source).
pub use conclave_crypto_rustcrypto::SystemRandom as OsRandom;
