//! The configuration of the Delivery Service: limits (bodies, WebSockets, the listener's
//! timeouts and connection cap), lifetimes, the optional credential policy, the
//! cryptography backend and the metrics registry.

use std::sync::Arc;
use std::time::Duration;

use conclave_crypto::CryptoProvider;
use conclave_service::metrics::Metrics;
use conclave_service::serve::ServerLimits;

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
    /// Most WebSockets open on this node at once (authenticated or still waiting for their
    /// token); beyond, upgrades are refused with 503.
    pub max_websockets: usize,
    /// Most WebSockets one client may have open on this node; beyond, 429 (or close code
    /// 4429 for a socket that sent its token in its first frame).
    pub max_websockets_per_client: usize,
    /// How often an open WebSocket re-checks its token (expiry, credential change,
    /// revocation) when it has nothing to deliver; it also checks before every delivery.
    pub websocket_recheck: Duration,
    /// How long a WebSocket opened without an `Authorization` header has to send its token
    /// in its first frame.
    pub websocket_auth_timeout: Duration,
    /// Read timeouts and the connection cap of the HTTP listener ([`crate::serve`]).
    pub server: ServerLimits,
    /// The identity of the basic credential in the DS's `ExternalReceiver`
    /// (draft-mahy-mls-semiprivatemessage-07 §3), default `conclave-ds`. Read when a
    /// suite's key is first generated; every node then serves the stored receiver.
    pub receiver_identity: Vec<u8>,
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
            .field("max_websockets", &self.max_websockets)
            .field("max_websockets_per_client", &self.max_websockets_per_client)
            .field("websocket_recheck", &self.websocket_recheck)
            .field("websocket_auth_timeout", &self.websocket_auth_timeout)
            .field("server", &self.server)
            .field("crypto", &self.crypto.name())
            .field(
                "receiver_identity",
                &String::from_utf8_lossy(&self.receiver_identity),
            )
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
            max_websockets: 10_000,
            max_websockets_per_client: 8,
            websocket_recheck: Duration::from_secs(30),
            websocket_auth_timeout: Duration::from_secs(10),
            server: ServerLimits::default(),
            crypto: conclave_service::CryptoBackend::default().provider(),
            receiver_identity: b"conclave-ds".to_vec(),
            metrics: Metrics::new(),
        }
    }
}
