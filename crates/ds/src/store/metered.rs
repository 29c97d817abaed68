//! A [`Store`] that times every operation of the engine it wraps, for the
//! `conclave_ds_store_operation_duration_seconds` histogram ([`DsMetrics`]). It changes
//! nothing else: every call goes to the engine as it is.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;

use super::{
    Appended, ClaimedKeyPackage, ClientRecord, CommitRecord, Committed, CredentialChange,
    CredentialUpdated, GroupKind, GroupRecord, KeyPackageStock, LogEntry, MemberProofKey, NewGroup,
    NewKeyPackage, NewMessage, Pruned, ReceiverKey, Registered, Store, StoreError, WakeupFeed,
    WelcomeEntry, WithToken,
};
use crate::metrics::DsMetrics;

/// An engine whose operations are timed.
pub struct MeteredStore {
    inner: Arc<dyn Store>,
    metrics: DsMetrics,
}

impl core::fmt::Debug for MeteredStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MeteredStore")
            .field("engine", &self.inner.engine())
            .finish_non_exhaustive()
    }
}

impl MeteredStore {
    /// `inner`, timed into `metrics`.
    pub fn new(inner: Arc<dyn Store>, metrics: DsMetrics) -> Self {
        Self { inner, metrics }
    }

    /// Awaits `operation`, recording how long it took (whatever its outcome).
    async fn timed<T>(&self, name: &'static str, operation: impl Future<Output = T>) -> T {
        let start = Instant::now();
        let outcome = operation.await;
        self.metrics
            .store_operation(name, start.elapsed().as_secs_f64());
        outcome
    }
}

#[async_trait]
impl Store for MeteredStore {
    fn engine(&self) -> &'static str {
        self.inner.engine()
    }

    fn wakeups(&self) -> Option<WakeupFeed> {
        self.inner.wakeups()
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.timed("health", self.inner.health()).await
    }

    async fn register_client(&self, client: &ClientRecord) -> Result<Registered, StoreError> {
        self.timed("register_client", self.inner.register_client(client))
            .await
    }

    async fn client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        self.timed("client", self.inner.client(client_id)).await
    }

    async fn update_client_credential(
        &self,
        change: &CredentialChange,
    ) -> Result<CredentialUpdated, StoreError> {
        self.timed(
            "update_client_credential",
            self.inner.update_client_credential(change),
        )
        .await
    }

    async fn use_challenge(
        &self,
        challenge_id: &[u8],
        expires_at: u64,
    ) -> Result<bool, StoreError> {
        self.timed(
            "use_challenge",
            self.inner.use_challenge(challenge_id, expires_at),
        )
        .await
    }

    async fn server_secret(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.timed("server_secret", self.inner.server_secret(name, candidate))
            .await
    }

    async fn put_token(
        &self,
        token_hash: &[u8],
        client_id: &str,
        token_generation: u64,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        self.timed(
            "put_token",
            self.inner
                .put_token(token_hash, client_id, token_generation, expires_at),
        )
        .await
    }

    async fn token(
        &self,
        token_hash: &[u8],
        now: u64,
    ) -> Result<Option<(String, u64)>, StoreError> {
        self.timed("token", self.inner.token(token_hash, now)).await
    }

    async fn publish_key_packages(&self, packages: &[NewKeyPackage]) -> Result<u64, StoreError> {
        self.timed(
            "publish_key_packages",
            self.inner.publish_key_packages(packages),
        )
        .await
    }

    async fn count_target_claim(
        &self,
        owner: &str,
        minute: u64,
        limit: u32,
    ) -> Result<bool, StoreError> {
        self.timed(
            "count_target_claim",
            self.inner.count_target_claim(owner, minute, limit),
        )
        .await
    }

    async fn claim_key_package(
        &self,
        owner: &str,
        cipher_suite: u16,
        group: Option<&[u8]>,
        now: u64,
    ) -> Result<Option<ClaimedKeyPackage>, StoreError> {
        self.timed(
            "claim_key_package",
            self.inner
                .claim_key_package(owner, cipher_suite, group, now),
        )
        .await
    }

    async fn key_package_stock(
        &self,
        owner: &str,
        now: u64,
    ) -> Result<Vec<KeyPackageStock>, StoreError> {
        self.timed(
            "key_package_stock",
            self.inner.key_package_stock(owner, now),
        )
        .await
    }

    async fn create_group(&self, group: &NewGroup, now: u64) -> Result<bool, StoreError> {
        self.timed("create_group", self.inner.create_group(group, now))
            .await
    }

    async fn member_proof_key(
        &self,
        group_id: &[u8],
    ) -> Result<Option<MemberProofKey>, StoreError> {
        self.timed("member_proof_key", self.inner.member_proof_key(group_id))
            .await
    }

    async fn group(&self, group_id: &[u8]) -> Result<Option<GroupRecord>, StoreError> {
        self.timed("group", self.inner.group(group_id)).await
    }

    async fn group_kind(&self, group_id: &[u8]) -> Result<Option<GroupKind>, StoreError> {
        self.timed("group_kind", self.inner.group_kind(group_id))
            .await
    }

    async fn member_log(
        &self,
        group_id: &[u8],
        client_id: &str,
        after: u64,
        limit: u32,
    ) -> Result<Option<Vec<LogEntry>>, StoreError> {
        self.timed(
            "member_log",
            self.inner.member_log(group_id, client_id, after, limit),
        )
        .await
    }

    async fn member_log_with_token(
        &self,
        token_hash: &[u8],
        now: u64,
        group_id: &[u8],
        after: u64,
        limit: u32,
    ) -> Result<WithToken<Option<Vec<LogEntry>>>, StoreError> {
        self.timed(
            "member_log_with_token",
            self.inner
                .member_log_with_token(token_hash, now, group_id, after, limit),
        )
        .await
    }

    async fn append_with_token(
        &self,
        token_hash: &[u8],
        group_id: &[u8],
        message: &NewMessage,
        now: u64,
    ) -> Result<WithToken<Appended>, StoreError> {
        self.timed(
            "append_with_token",
            self.inner
                .append_with_token(token_hash, group_id, message, now),
        )
        .await
    }

    async fn is_member(&self, group_id: &[u8], client_id: &str) -> Result<bool, StoreError> {
        self.timed("is_member", self.inner.is_member(group_id, client_id))
            .await
    }

    async fn removed_at(
        &self,
        group_id: &[u8],
        client_id: &str,
    ) -> Result<Option<u64>, StoreError> {
        self.timed("removed_at", self.inner.removed_at(group_id, client_id))
            .await
    }

    async fn append(
        &self,
        group_id: &[u8],
        message: &NewMessage,
        now: u64,
    ) -> Result<Appended, StoreError> {
        self.timed("append", self.inner.append(group_id, message, now))
            .await
    }

    async fn commit(
        &self,
        group_id: &[u8],
        commit: &CommitRecord,
        now: u64,
    ) -> Result<Committed, StoreError> {
        self.timed("commit", self.inner.commit(group_id, commit, now))
            .await
    }

    async fn read_log(
        &self,
        group_id: &[u8],
        after: u64,
        limit: u32,
    ) -> Result<Vec<LogEntry>, StoreError> {
        self.timed("read_log", self.inner.read_log(group_id, after, limit))
            .await
    }

    async fn epoch_proposals(
        &self,
        group_id: &[u8],
        epoch: u64,
        limit: u32,
    ) -> Result<Vec<LogEntry>, StoreError> {
        self.timed(
            "epoch_proposals",
            self.inner.epoch_proposals(group_id, epoch, limit),
        )
        .await
    }

    async fn partial_clients(&self, client_ids: &[String]) -> Result<Vec<String>, StoreError> {
        self.timed("partial_clients", self.inner.partial_clients(client_ids))
            .await
    }

    async fn annotations(
        &self,
        group_id: &[u8],
        client_id: &str,
        after: u64,
        up_to: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.timed(
            "annotations",
            self.inner.annotations(group_id, client_id, after, up_to),
        )
        .await
    }

    async fn welcomes(
        &self,
        client_id: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<WelcomeEntry>, StoreError> {
        self.timed("welcomes", self.inner.welcomes(client_id, after, limit))
            .await
    }

    async fn ack_welcomes(&self, client_id: &str, up_to: u64) -> Result<u64, StoreError> {
        self.timed("ack_welcomes", self.inner.ack_welcomes(client_id, up_to))
            .await
    }

    async fn prune(&self, now: u64, messages_before: Option<u64>) -> Result<Pruned, StoreError> {
        self.timed("prune", self.inner.prune(now, messages_before))
            .await
    }

    async fn receiver_key(&self, candidate: &ReceiverKey) -> Result<ReceiverKey, StoreError> {
        self.timed("receiver_key", self.inner.receiver_key(candidate))
            .await
    }
}
