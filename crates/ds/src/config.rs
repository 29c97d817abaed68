//! The configuration of the Delivery Service: limits, lifetimes, the optional credential
//! policy, the cryptography backend and the metrics registry.

use std::sync::Arc;

use conclave_crypto::CryptoProvider;
use conclave_service::metrics::Metrics;

use crate::policy::CredentialPolicy;

/// Limits and lifetimes of the service.
#[derive(Clone)]
pub struct DsConfig {
    /// Lifetime of a bearer token, seconds.
    pub token_lifetime: u64,
    /// Lifetime of a challenge, seconds.
    pub challenge_lifetime: u64,
    /// Largest accepted request body, bytes.
    pub max_body: usize,
    /// KeyPackage claims allowed per claiming client per minute.
    pub claims_per_minute: u32,
    /// Claims of one client's KeyPackages allowed per minute, by all claimers together
    /// (0: no limit). Past it a claim is answered 429 with `Retry-After`.
    pub claims_per_target_per_minute: u32,
    /// Most log entries or Welcomes in one page.
    pub max_page: u32,
    /// Most members a commit bundle may declare.
    pub max_members: usize,
    /// Log entries older than this many seconds are removed (None: kept forever).
    pub retention: Option<u64>,
    /// An extra check of registering clients' credentials (None: any well-formed credential
    /// with a proof of possession); `conclave-ds --with-as` sets the AS's.
    pub credential_policy: Option<Arc<dyn CredentialPolicy>>,
    /// The cryptography backend that verifies signatures (default: aws-lc).
    pub crypto: Arc<dyn CryptoProvider>,
    /// The registry the DS counts into and serves at `GET /metrics` (default: a registry of
    /// its own). Give the same one to an Authentication Service served by the same process
    /// so that `/metrics` shows both; never to two DS states.
    pub metrics: Metrics,
}

impl core::fmt::Debug for DsConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DsConfig")
            .field("token_lifetime", &self.token_lifetime)
            .field("challenge_lifetime", &self.challenge_lifetime)
            .field("max_body", &self.max_body)
            .field("claims_per_minute", &self.claims_per_minute)
            .field(
                "claims_per_target_per_minute",
                &self.claims_per_target_per_minute,
            )
            .field("max_page", &self.max_page)
            .field("max_members", &self.max_members)
            .field("retention", &self.retention)
            .field("credential_policy", &self.credential_policy)
            .field("crypto", &self.crypto.name())
            .finish_non_exhaustive()
    }
}

impl Default for DsConfig {
    fn default() -> Self {
        Self {
            token_lifetime: 15 * 60,
            challenge_lifetime: 60,
            max_body: 4 << 20,
            claims_per_minute: 60,
            claims_per_target_per_minute: 30,
            max_page: 1000,
            max_members: 100_000,
            retention: None,
            credential_policy: None,
            crypto: conclave_service::CryptoBackend::default().provider(),
            metrics: Metrics::new(),
        }
    }
}
