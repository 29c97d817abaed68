//! What the handlers share: the store, the configuration, the clock, the wake-up feed of
//! the WebSockets and their counts, the KeyPackage claim rate limit, the challenge key and
//! the metrics.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use conclave_crypto::{CipherSuite, CipherSuiteProvider, CryptoProvider};
use conclave_service::Clock;

use crate::auth::{CHALLENGE_KEY_NAME, ChallengeKey};
use crate::config::DsConfig;
use crate::error::DsError;
use crate::metrics::DsMetrics;
use crate::routes::websocket::SocketCounts;
use crate::store::metered::MeteredStore;
use crate::store::{GroupKind, LogEvent, Pruned, Store, WakeupFeed};

/// Wake-ups kept for a WebSocket that falls behind, when the server announces its own
/// appends.
const WAKEUP_CAPACITY: usize = 4096;

/// Everything the handlers share.
pub struct AppState {
    /// The engine, timed for the metrics.
    pub(crate) store: Arc<dyn Store>,
    pub(crate) config: DsConfig,
    clock: Clock,
    pub(crate) crypto: Arc<dyn CryptoProvider>,
    /// The wake-ups the WebSockets of this process subscribe to.
    pub(crate) wakeups: WakeupFeed,
    /// Whether handlers announce their own appends (the store has no feed of its own).
    announce_locally: bool,
    /// KeyPackage claims per claimer: (minute, count).
    claims: Mutex<HashMap<String, (u64, u32)>>,
    /// The key that seals login challenges, loaded from the store (shared by every node on
    /// the database) on first use.
    challenge_key: tokio::sync::OnceCell<Arc<ChallengeKey>>,
    /// The WebSockets open on this node, in total and per client.
    pub(crate) sockets: SocketCounts,
    /// The DS's metrics, in [`DsConfig::metrics`].
    pub(crate) metrics: DsMetrics,
    /// The DS's external-receiver keys by cipher suite, once read from the store
    /// ([`crate::receiver`]).
    pub(crate) receivers: Mutex<HashMap<u16, Arc<crate::receiver::DsReceiver>>>,
    /// Who may post application messages, per (group, epoch) of a verified group
    /// ([`crate::verified::message_senders`]; `None`: anyone, the group has no room policy
    /// or is not verified). Facts about one epoch never change, so every node may cache them;
    /// the map is emptied when it grows past [`MESSAGE_SENDERS_CAPACITY`].
    pub(crate) message_senders: Mutex<HashMap<(Vec<u8>, u64), MessageSenders>>,
    /// The MembershipProofs (draft-ietf-mls-partial-02 §7) attached to application messages
    /// for partial members, per (group, epoch, posting client): the tree of an epoch never
    /// changes, so a sender's proof is built once per epoch, not once per message. Emptied
    /// when it grows past [`MESSAGE_SENDERS_CAPACITY`].
    pub(crate) sender_proofs: Mutex<HashMap<SenderProofKey, Arc<Vec<u8>>>>,
    /// What each group is ([`GroupKind`]: verified, with member proofs), once read: fixed
    /// when the group is created, so every node may cache it. Emptied when it grows past
    /// [`GROUP_KINDS_CAPACITY`].
    group_kinds: FactCache<Vec<u8>, GroupKind>,
    /// Whether each registered client is a partial client (draft-ietf-mls-partial-02), once
    /// read: set at registration and never changed (a credential change keeps it, clients
    /// are never deleted), so every node may cache it. Emptied when it grows past
    /// [`CLIENT_KINDS_CAPACITY`].
    partial_clients: FactCache<String, bool>,
}

/// The most clients [`AppState::client_is_partial`] remembers.
const CLIENT_KINDS_CAPACITY: usize = 100_000;

/// The most groups [`AppState::group_kind`] remembers.
const GROUP_KINDS_CAPACITY: usize = 100_000;

/// The most (group, epoch) entries [`AppState::message_senders`] holds.
pub(crate) const MESSAGE_SENDERS_CAPACITY: usize = 10_000;

/// (group id, epoch, posting client): the key of [`AppState::sender_proofs`].
pub(crate) type SenderProofKey = (Vec<u8>, u64, String);

/// A cached [`crate::verified::message_senders`] answer.
pub(crate) type MessageSenders = Option<Arc<crate::verified::MessageSenders>>;

impl core::fmt::Debug for AppState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AppState")
            .field("engine", &self.store.engine())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// A service over `store` with the system clock, verifying signatures with the
    /// configured backend ([`DsConfig::crypto`]).
    pub fn new(store: Arc<dyn Store>, config: DsConfig) -> Arc<Self> {
        Self::with_clock(store, config, conclave_service::system_clock())
    }

    /// A service with a given clock. Registers the DS's metrics in [`DsConfig::metrics`].
    pub fn with_clock(store: Arc<dyn Store>, config: DsConfig, clock: Clock) -> Arc<Self> {
        let metrics = DsMetrics::register(&config.metrics);
        let store: Arc<dyn Store> = Arc::new(MeteredStore::new(store, metrics.clone()));
        // PostgreSQL: the engine's feed covers every DS node on the database; SQLite: one
        // process, the handlers announce their appends.
        let (wakeups, announce_locally) = match store.wakeups() {
            Some(feed) => (feed, false),
            None => (WakeupFeed::new(WAKEUP_CAPACITY), true),
        };
        Arc::new(Self {
            store,
            crypto: config.crypto.clone(),
            config,
            clock,
            wakeups,
            announce_locally,
            claims: Mutex::new(HashMap::new()),
            challenge_key: tokio::sync::OnceCell::new(),
            sockets: SocketCounts::default(),
            metrics,
            receivers: Mutex::new(HashMap::new()),
            message_senders: Mutex::new(HashMap::new()),
            sender_proofs: Mutex::new(HashMap::new()),
            group_kinds: FactCache::new("group kinds", GROUP_KINDS_CAPACITY),
            partial_clients: FactCache::new("client kinds", CLIENT_KINDS_CAPACITY),
        })
    }

    /// The store (the configured engine, its operations timed for the metrics).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The configuration.
    pub fn config(&self) -> &DsConfig {
        &self.config
    }

    /// The DS's metrics.
    pub fn metrics(&self) -> &DsMetrics {
        &self.metrics
    }

    /// The current time of the service's clock, seconds since the Unix epoch.
    pub(crate) fn now(&self) -> u64 {
        (self.clock)()
    }

    /// The key that seals login challenges: the nodes' shared one from the store (created
    /// there, from the OS random source, by the first node that needs it).
    pub(crate) async fn challenge_key(&self) -> Result<Arc<ChallengeKey>, DsError> {
        self.challenge_key
            .get_or_try_init(|| async {
                let mut candidate = [0u8; 32];
                conclave_crypto::CryptoRandom::fill(
                    &mut conclave_service::OsRandom,
                    &mut candidate,
                )
                .map_err(|e| DsError::Internal(format!("random source failed: {e}")))?;
                let key = self
                    .store
                    .server_secret(CHALLENGE_KEY_NAME, &candidate)
                    .await?;
                Ok::<_, DsError>(Arc::new(ChallengeKey::new(key)))
            })
            .await
            .cloned()
    }

    /// What the group is (`None`: no such group), from memory once read: a group's kind
    /// never changes ([`GroupKind`]), and a missing group is not remembered.
    pub(crate) async fn group_kind(&self, group_id: &[u8]) -> Result<Option<GroupKind>, DsError> {
        if let Some(kind) = self.group_kinds.get(group_id)? {
            return Ok(Some(kind));
        }
        let kind = self.store.group_kind(group_id).await?;
        if let Some(kind) = kind {
            self.group_kinds.insert(group_id.to_vec(), kind)?;
        }
        Ok(kind)
    }

    /// Whether `client_id` is a registered partial client, from memory once read (see
    /// [`AppState::partial_clients`]); an unknown client is not one, and is not remembered.
    pub(crate) async fn client_is_partial(&self, client_id: &str) -> Result<bool, DsError> {
        if let Some(partial) = self.partial_clients.get(client_id)? {
            return Ok(partial);
        }
        let Some(client) = self.store.client(client_id).await? else {
            return Ok(false);
        };
        self.partial_clients
            .insert(client.client_id, client.partial)?;
        Ok(client.partial)
    }

    /// Announces a log append to this process's WebSockets, unless the store's feed does.
    pub(crate) fn announce(&self, group_id: Vec<u8>, seq: u64, commit: bool) {
        if self.announce_locally {
            self.wakeups.publish(LogEvent {
                group_id,
                seq,
                commit,
            });
        }
    }

    /// The provider of a cipher suite the backend supports.
    pub(crate) fn suite(&self, suite: u16) -> Result<Box<dyn CipherSuiteProvider>, DsError> {
        self.crypto
            .cipher_suite_provider(CipherSuite(suite))
            .ok_or_else(|| DsError::BadRequest(format!("unsupported cipher suite {suite}")))
    }

    /// Counts a claim by `claimer`; refuses past the per-minute limit.
    pub(crate) fn count_claim(&self, claimer: &str) -> Result<(), DsError> {
        let window = self.now() / 60;
        let mut claims = self
            .claims
            .lock()
            .map_err(|_| DsError::Internal("rate limiter lock poisoned".into()))?;
        if claims.len() > 100_000 {
            claims.retain(|_, (w, _)| *w == window);
        }
        let entry = claims.entry(claimer.to_owned()).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        if entry.1 >= self.config.claims_per_minute {
            return Err(DsError::RetryAfter {
                message: format!(
                    "at most {} KeyPackage claims per minute",
                    self.config.claims_per_minute
                ),
                seconds: 60 - self.now() % 60,
            });
        }
        entry.1 += 1;
        Ok(())
    }

    /// Counts a claim of `owner`'s KeyPackages, by anyone; refuses past the per-target limit
    /// ([`DsConfig::claims_per_target_per_minute`](crate::DsConfig), 0: no limit), so that
    /// fresh accounts cannot drain a victim's one-time KeyPackages (RFC 9420 §16.8).
    pub(crate) async fn count_target_claim(&self, owner: &str) -> Result<(), DsError> {
        let limit = self.config.claims_per_target_per_minute;
        if limit == 0 {
            return Ok(());
        }
        let now = self.now();
        if self
            .store
            .count_target_claim(owner, now / 60, limit)
            .await?
        {
            Ok(())
        } else {
            Err(DsError::RetryAfter {
                message: format!(
                    "at most {limit} claims of client {owner}'s KeyPackages per minute; \
                     try again later"
                ),
                seconds: 60 - now % 60,
            })
        }
    }

    /// Runs one retention pass (expired auth material and KeyPackages; old log entries when a
    /// retention period is configured).
    pub async fn prune(&self) -> Result<Pruned, DsError> {
        let now = self.now();
        let before = self.config.retention.map(|r| now.saturating_sub(r));
        Ok(self.store.prune(now, before).await?)
    }
}

/// Facts that never change once stored (a group's kind, a client's partial flag), kept in
/// memory up to `capacity` entries; emptied when full.
struct FactCache<K, V> {
    map: Mutex<HashMap<K, V>>,
    capacity: usize,
    /// What it holds, for the error of a poisoned lock.
    what: &'static str,
}

impl<K: Eq + std::hash::Hash, V: Copy> FactCache<K, V> {
    fn new(what: &'static str, capacity: usize) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            capacity,
            what,
        }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, HashMap<K, V>>, DsError> {
        self.map
            .lock()
            .map_err(|_| DsError::Internal(format!("the {} cache lock is poisoned", self.what)))
    }

    fn get<Q>(&self, key: &Q) -> Result<Option<V>, DsError>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + std::hash::Hash + ?Sized,
    {
        Ok(self.lock()?.get(key).copied())
    }

    fn insert(&self, key: K, value: V) -> Result<(), DsError> {
        let mut map = self.lock()?;
        if map.len() >= self.capacity {
            map.clear();
        }
        map.insert(key, value);
        Ok(())
    }
}
