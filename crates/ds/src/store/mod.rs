//! The storage of the Delivery Service: one trait, one logical schema, two engines —
//! [`sqlite::SqliteStore`] (embedded default: bundled SQLite, WAL, one writer connection) and
//! [`postgres::PostgresStore`] (many stateless DS nodes on one database).
//!
//! The engines read facts and write outcomes; the decisions are made once for both, by the
//! pure functions of [`rules`], and the schema migrations are one list with one runner
//! (`migrations`). Every rule that decides between concurrent requests is applied inside one
//! transaction of the engine, never by the caller reading first and writing later:
//! - a commit is appended only if the group's epoch moves from `e` to `e + 1` in the same
//!   transaction (RFC 9750 §5.2 "exactly one commit per epoch");
//! - sequence numbers are taken from the group row in the transaction that appends, so they
//!   are gap-free;
//! - a one-time KeyPackage is claimed by one conditional update (RFC 9420 §10: a KeyPackage
//!   is used once; RFC 9750 §5.1 last-resort packages).
//!
//! Times are seconds since the Unix epoch and are passed in by the caller.

pub mod metered;
mod migrations;
mod pg_listen;
pub mod postgres;
pub mod rules;
pub mod sqlite;

use async_trait::async_trait;
use tokio::sync::broadcast;

pub use crate::error::StoreError;

/// New entries in a group log, as announced to WebSocket clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    /// The group.
    pub group_id: Vec<u8>,
    /// The sequence number of the newest entry announced.
    pub seq: u64,
    /// Whether a commit is among the announced entries (the member list may have changed).
    pub commit: bool,
}

/// A fan-out of [`LogEvent`]s to the WebSockets of one DS process (a bounded broadcast: a
/// receiver that falls behind learns that it lagged, never silently loses events).
#[derive(Debug, Clone)]
pub struct WakeupFeed(broadcast::Sender<LogEvent>);

impl WakeupFeed {
    /// A feed keeping up to `capacity` events for its slowest receiver.
    pub fn new(capacity: usize) -> Self {
        Self(broadcast::channel(capacity.max(1)).0)
    }

    /// A receiver of every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<LogEvent> {
        self.0.subscribe()
    }

    /// Publishes an event to the current receivers (none: dropped).
    pub fn publish(&self, event: LogEvent) {
        // An error only means that no WebSocket is open.
        let _ = self.0.send(event);
    }
}

/// A registered client: its DS client id bound to one signature key and credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRecord {
    /// The client id.
    pub client_id: String,
    /// The cipher suite of the signature key.
    pub cipher_suite: u16,
    /// The signature public key.
    pub signature_key: Vec<u8>,
    /// The TLS-encoded `Credential`.
    pub credential: Vec<u8>,
    /// When it registered.
    pub created_at: u64,
    /// The generation of its tokens: a token is valid only while it carries the client's
    /// current generation, and every credential change moves it on (so that no token issued
    /// before a change survives it, on any DS node). Ignored by
    /// [`Store::register_client`], which starts at 0.
    pub token_generation: u64,
    /// A partial client (draft-ietf-mls-partial-02): its Welcomes are stored annotated
    /// ([`CommitRecord::annotated_welcomes`]) and it reads commits annotated
    /// ([`CommitRecord::annotations`]). Set at registration only.
    pub partial: bool,
}

/// Result of a registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registered {
    /// A new client.
    Created,
    /// The same client id with the same key and credential existed: nothing changed.
    Unchanged,
    /// The client id is taken by another key or credential.
    Taken,
}

/// A registered client's new signature key and credential (e.g. after the Authentication
/// Service renewed its certificate), replacing the ones it registered with, provided those
/// are still `previous_signature_key` and `previous_credential`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialChange {
    /// The client id.
    pub client_id: String,
    /// The signature key the change was checked against (the stored one).
    pub previous_signature_key: Vec<u8>,
    /// The credential the change was checked against (the stored one, TLS-encoded).
    pub previous_credential: Vec<u8>,
    /// The cipher suite of the new signature key.
    pub cipher_suite: u16,
    /// The new signature public key.
    pub signature_key: Vec<u8>,
    /// The new TLS-encoded `Credential`.
    pub credential: Vec<u8>,
}

/// Result of a [`CredentialChange`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialUpdated {
    /// The client now has the new key and credential.
    Replaced,
    /// No such client.
    NoClient,
    /// The client's key or credential is no longer the previous one (a concurrent change):
    /// nothing changed.
    Changed,
}

/// The Delivery Service's key pair as an external receiver of one cipher suite
/// (draft-mahy-mls-semiprivatemessage-07 §3): the encoded `ExternalReceiver` it publishes and
/// the HPKE private key of its public key. Stored in the database so that every DS node on it
/// uses the same key; the private key is a secret of the store (protect the database as the
/// DS's key material).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiverKey {
    /// The cipher suite (its KEM decides the key).
    pub cipher_suite: u16,
    /// The TLS-encoded `ExternalReceiver` (public key and credential).
    pub receiver: Vec<u8>,
    /// The HPKE private key (zeroized on drop, redacted in `Debug`).
    pub private_key: conclave_crypto::Secret,
    /// When it was stored.
    pub created_at: u64,
}

/// A KeyPackage to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKeyPackage {
    /// `MakeKeyPackageRef` of the package (RFC 9420 §5.2).
    pub kp_ref: Vec<u8>,
    /// The client that published it.
    pub owner: String,
    /// Its cipher suite.
    pub cipher_suite: u16,
    /// Served only when no one-time package is left, and never consumed.
    pub last_resort: bool,
    /// Start of its lifetime (RFC 9420 §7.2 `Lifetime`).
    pub not_before: u64,
    /// End of its lifetime.
    pub not_after: u64,
    /// The group its `kp_context` binds it to (draft-mahy-mls-kp-context-00 §2,
    /// `groupid`): only a claim naming that group is served it. `None`: valid anywhere.
    pub bound_group: Option<Vec<u8>>,
    /// The `MLSMessage` carrying it.
    pub data: Vec<u8>,
}

/// A claimed KeyPackage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedKeyPackage {
    /// Its reference.
    pub kp_ref: Vec<u8>,
    /// The `MLSMessage` carrying it.
    pub data: Vec<u8>,
    /// Whether it is the owner's last-resort package (no one-time package was left).
    pub last_resort: bool,
}

/// KeyPackage stock of one client for one suite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPackageStock {
    /// The suite.
    pub cipher_suite: u16,
    /// Unclaimed, currently valid one-time packages.
    pub one_time_available: u64,
    /// Whether a currently valid last-resort package is published.
    pub has_last_resort: bool,
    /// Whether the last-resort package was handed out since it was published.
    pub last_resort_claimed: bool,
}

/// A group as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRecord {
    /// The MLS group id.
    pub group_id: Vec<u8>,
    /// The current epoch.
    pub epoch: u64,
    /// The last sequence number used (0: empty log).
    pub last_seq: u64,
    /// The latest GroupInfo (`MLSMessage`).
    pub group_info: Option<Vec<u8>>,
    /// The latest ratchet tree, if the committer supplied it.
    pub ratchet_tree: Option<Vec<u8>>,
    /// Whether GroupInfo is served to non-members for external joins.
    pub allow_external_join: bool,
    /// The members, by client id, sorted.
    pub members: Vec<String>,
    /// The group's public state (`conclave_core::public_group`, encoded) when the DS
    /// verifies its handshakes; `None` for a group whose handshakes the DS cannot read.
    pub public_state: Option<Vec<u8>>,
}

/// A group to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGroup {
    /// The MLS group id.
    pub group_id: Vec<u8>,
    /// Its first epoch.
    pub epoch: u64,
    /// Whether GroupInfo is served to non-members for external joins.
    pub allow_external_join: bool,
    /// The creating client, its only member.
    pub creator: String,
    /// The GroupInfo of its first epoch, if the creator supplied it.
    pub group_info: Option<Vec<u8>>,
    /// Its ratchet tree, if the creator supplied it.
    pub ratchet_tree: Option<Vec<u8>>,
    /// The group's public state when the DS verifies its handshakes (see
    /// [`GroupRecord::public_state`]).
    pub public_state: Option<Vec<u8>>,
    /// The member-proof key of its first epoch, when the group has member proofs
    /// (draft-mahy-mls-member-proof-00), stored in the same transaction.
    pub member_proof: Option<MemberProofKey>,
}

impl NewGroup {
    /// A group whose handshakes the DS does not verify: no GroupInfo, tree or public state
    /// until its first commit.
    pub fn unverified(
        group_id: Vec<u8>,
        epoch: u64,
        allow_external_join: bool,
        creator: String,
    ) -> Self {
        Self {
            group_id,
            epoch,
            allow_external_join,
            creator,
            group_info: None,
            ratchet_tree: None,
            public_state: None,
            member_proof: None,
        }
    }
}

/// A group's member-proof key (draft-mahy-mls-member-proof-00): the key of the group's
/// current epoch, which every message and member commit must prove with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberProofKey {
    /// The group's cipher suite (the key's signature scheme).
    pub cipher_suite: u16,
    /// The epoch the key belongs to: the group's current epoch.
    pub epoch: u64,
    /// The public key.
    pub public_key: Vec<u8>,
}

/// What a group is, fixed when it is created: a group never becomes verified or gains member
/// proofs later, nor loses either (groups are never deleted). A node may so cache it
/// ([`crate::AppState`] does) to skip the reads of a plain group's posts; the store's append
/// re-checks the member-proof rule in its own transaction anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupKind {
    /// The DS follows the group's handshakes: it was registered with its first GroupInfo
    /// and holds its public state (a verified group).
    pub verified: bool,
    /// The group has a member-proof key (draft-mahy-mls-member-proof-00).
    pub member_proofs: bool,
}

/// A member proof the route verified (`conclave_core::member_proof::verify_for_outsider`),
/// for the store to check against the key it holds and to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofUse {
    /// The key the proof verified under.
    pub public_key: Vec<u8>,
    /// The proof's nonce: accepted once per group and epoch.
    pub nonce: Vec<u8>,
}

/// Why the store refused a message or commit of a member-proof group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberProofRefusal {
    /// No proof, or one verified under a key that is not the group's current one.
    Required,
    /// The proof's nonce was used before in this group and epoch (a replay).
    Replayed,
    /// A commit without the next epoch's member-proof key.
    NextKeyMissing,
}

/// A proposal or application message to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// The epoch in its header: must be the group's current epoch.
    pub epoch: u64,
    /// Its content type (RFC 9420 §6): 1 application, 2 proposal.
    pub content_type: u8,
    /// The posting client: must be a member.
    pub sender: String,
    /// The `MLSMessage`.
    pub data: Vec<u8>,
    /// Its verified member proof, in a group with member proofs.
    pub member_proof: Option<ProofUse>,
    /// The one member a targeted message is for (draft-ietf-mls-targeted-messages): only it
    /// and the sender read it from the log. `None`: every member reads it.
    pub recipient: Option<String>,
    /// draft-ietf-mls-partial-02 §7: for an application message of a verified group with
    /// partial members, `(partial client, the sender's TLS-encoded MembershipProof)` for
    /// each, stored in `partial_annotations` at the message's position
    /// ([`Store::annotations`]).
    pub annotations: Vec<(String, Vec<u8>)>,
}

/// Outcome of appending a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Stored with this sequence number.
    Accepted {
        /// Its sequence number.
        seq: u64,
    },
    /// No such group.
    NoGroup,
    /// The sender is not a member.
    NotMember,
    /// The message is not for the current epoch.
    WrongEpoch {
        /// The group's current epoch.
        current: u64,
    },
    /// The group has member proofs and the message's is missing, stale or replayed.
    MemberProofRefused(MemberProofRefusal),
}

/// Outcome of a call that checks a bearer token in the same call as its work
/// ([`Store::member_log_with_token`], [`Store::append_with_token`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WithToken<T> {
    /// The token is unknown, expired at `now`, or of a past token generation of its client
    /// (revoked by a credential change): nothing was read or written.
    Refused,
    /// The token is valid: it belongs to `client_id`, and `outcome` is the work's.
    Client {
        /// The client the token belongs to.
        client_id: String,
        /// What the work returned, done as that client.
        outcome: T,
    },
}

/// [`Store::token_client`], then [`append_as`] the token's client: the default of
/// [`Store::append_with_token`], and what an engine that folds the token into its append
/// does for the messages it does not fold.
pub(crate) async fn token_then_append<S: Store + ?Sized>(
    store: &S,
    token_hash: &[u8],
    group_id: &[u8],
    message: &NewMessage,
    now: u64,
) -> Result<WithToken<Appended>, StoreError> {
    let Some(client_id) = store.token_client(token_hash, now).await? else {
        return Ok(WithToken::Refused);
    };
    append_as(store, client_id, group_id, message, now).await
}

/// [`Store::append`] of `message` with `client_id` (whose token was checked) as its sender.
pub(crate) async fn append_as<S: Store + ?Sized>(
    store: &S,
    client_id: String,
    group_id: &[u8],
    message: &NewMessage,
    now: u64,
) -> Result<WithToken<Appended>, StoreError> {
    let mut message = message.clone();
    message.sender.clone_from(&client_id);
    let outcome = store.append(group_id, &message, now).await?;
    Ok(WithToken::Client { client_id, outcome })
}

/// A commit bundle to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitRecord {
    /// The epoch of the commit: the group must be at it, and moves to `epoch + 1`.
    pub epoch: u64,
    /// The commit `MLSMessage`.
    pub data: Vec<u8>,
    /// The posting client.
    pub sender: String,
    /// An external commit (RFC 9420 §12.4.3.2): the sender need not be a member, the group
    /// must allow external joins, and the sender must be among `members`.
    pub external: bool,
    /// The GroupInfo of epoch `epoch + 1`.
    pub group_info: Vec<u8>,
    /// The ratchet tree of epoch `epoch + 1`, if supplied.
    pub ratchet_tree: Option<Vec<u8>>,
    /// The members after the commit.
    pub members: Vec<String>,
    /// The Welcome and the KeyPackageRefs of its recipients (distinct, at most the group's
    /// member limit: one inbox row each).
    pub welcome: Option<(Vec<u8>, Vec<Vec<u8>>)>,
    /// New external-join policy, if it changes.
    pub allow_external_join: Option<bool>,
    /// The group's public state after the commit, for a group whose handshakes the DS
    /// verifies (unchanged when `None`).
    pub public_state: Option<Vec<u8>>,
    /// Its verified member proof (a member's commit in a group with member proofs).
    pub member_proof: Option<ProofUse>,
    /// The member-proof key of epoch `epoch + 1` the commit announces
    /// (draft-mahy-mls-member-proof-00 §4).
    pub next_member_proof_key: Option<Vec<u8>>,
    /// The commit's AnnotatedCommits (draft-ietf-mls-partial-02 §10), TLS-encoded, by the
    /// partial client each is for: stored with the commit's sequence number in the same
    /// transaction, and served to that client in place of the commit.
    pub annotations: Vec<(String, Vec<u8>)>,
    /// The AnnotatedWelcomes (draft-ietf-mls-partial-02 §8), TLS-encoded, of the partial
    /// joiners, by the KeyPackageRef of each: routed like [`CommitRecord::welcome`] (to the
    /// KeyPackage's owner), marked [`WelcomeEntry::annotated`]. Their refs are not among
    /// the plain Welcome's.
    pub annotated_welcomes: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Outcome of a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Committed {
    /// Accepted: the group is at `epoch`, the commit has sequence number `seq`.
    Accepted {
        /// Sequence number of the commit.
        seq: u64,
        /// The new epoch.
        epoch: u64,
        /// Recipients whose KeyPackageRef matched a published KeyPackage (their inbox got
        /// the Welcome).
        routed: Vec<String>,
    },
    /// No such group.
    NoGroup,
    /// The sender is not a member (and the commit is not external).
    NotMember,
    /// An external commit to a group that does not allow them, or whose member list does
    /// not include the joiner.
    ExternalRefused,
    /// Another commit won this epoch, or the commit is for an old or future epoch.
    WrongEpoch {
        /// The group's current epoch.
        current: u64,
    },
    /// The group has member proofs and the commit's proof or next-epoch key is missing,
    /// stale or replayed.
    MemberProofRefused(MemberProofRefusal),
}

/// One entry of a group log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Its sequence number.
    pub seq: u64,
    /// The epoch in its header.
    pub epoch: u64,
    /// Its content type.
    pub content_type: u8,
    /// The posting client.
    pub sender: String,
    /// The `MLSMessage`.
    pub data: Vec<u8>,
    /// The one member a targeted message is for ([`NewMessage::recipient`]).
    pub recipient: Option<String>,
}

/// One Welcome in an inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WelcomeEntry {
    /// Position in the inbox.
    pub id: u64,
    /// The KeyPackageRef it was routed by.
    pub kp_ref: Vec<u8>,
    /// The Welcome `MLSMessage`, or the TLS-encoded `AnnotatedWelcome` when `annotated`.
    pub data: Vec<u8>,
    /// Whether `data` is an AnnotatedWelcome (draft-ietf-mls-partial-02 §8) for a partial
    /// client.
    pub annotated: bool,
}

/// What a retention run removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Log entries older than the retention period.
    pub messages: u64,
    /// Expired answered challenges, and tokens expired or of a past generation.
    pub auth: u64,
    /// Expired KeyPackages.
    pub key_packages: u64,
}

/// The Delivery Service storage. Both engines pass the same conformance suite
/// (`tests/store_conformance.rs`).
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Short engine name ("sqlite", "postgres").
    fn engine(&self) -> &'static str;

    /// The engine's own feed of log appends, covering every DS process that shares the
    /// database (PostgreSQL: `LISTEN`/`NOTIFY`), or `None` when the engine serves one process
    /// only (SQLite) and the server announces its own appends. With a feed, the server does
    /// not announce appends itself, so each wake-up is delivered once.
    fn wakeups(&self) -> Option<WakeupFeed> {
        None
    }

    /// Whether the store answers.
    async fn health(&self) -> Result<(), StoreError>;

    /// Registers a client id bound to a signature key and credential.
    async fn register_client(&self, client: &ClientRecord) -> Result<Registered, StoreError>;

    /// A registered client.
    async fn client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError>;

    /// Replaces a client's cipher suite, signature key and credential, in one conditional
    /// update: only if they are still the previous ones (compare-and-swap, so that a change
    /// checked against a credential never overwrites another). The same update moves the
    /// client's [`ClientRecord::token_generation`] on, which revokes every token issued
    /// before. KeyPackages published with the previous credential are left as they are.
    async fn update_client_credential(
        &self,
        change: &CredentialChange,
    ) -> Result<CredentialUpdated, StoreError>;

    /// Records that a login challenge (by its identifier) was answered, until `expires_at`
    /// (when the challenge itself expires). True the first time; false if it was answered
    /// before, on any node: one token per challenge. Only answers that verified are
    /// recorded, so an unauthenticated caller writes nothing.
    async fn use_challenge(&self, challenge_id: &[u8], expires_at: u64)
    -> Result<bool, StoreError>;

    /// The DS nodes' shared secret named `name` (e.g. the key that seals login challenges):
    /// the stored one, or `candidate` if none was stored yet (then stored). Every node on the
    /// database gets the same bytes.
    async fn server_secret(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>, StoreError>;

    /// Stores a token (by its hash) of the client's token generation `token_generation`
    /// (the [`ClientRecord::token_generation`] the login was checked against).
    async fn put_token(
        &self,
        token_hash: &[u8],
        client_id: &str,
        token_generation: u64,
        expires_at: u64,
    ) -> Result<(), StoreError>;

    /// A valid token: unexpired, and of its client's current token generation (no
    /// credential change since it was issued). The client it belongs to, and when it
    /// expires.
    async fn token(&self, token_hash: &[u8], now: u64)
    -> Result<Option<(String, u64)>, StoreError>;

    /// The client a valid token belongs to.
    async fn token_client(
        &self,
        token_hash: &[u8],
        now: u64,
    ) -> Result<Option<String>, StoreError> {
        Ok(self.token(token_hash, now).await?.map(|(client, _)| client))
    }

    /// Publishes KeyPackages; a new last-resort package replaces the owner's previous one for
    /// that suite. Packages already published (same reference) are skipped. Returns how many
    /// were stored.
    async fn publish_key_packages(&self, packages: &[NewKeyPackage]) -> Result<u64, StoreError>;

    /// Claims a KeyPackage of `owner` for `cipher_suite`: a one-time package that was never
    /// handed out, else the last-resort package (flagged); never an expired one. A package
    /// bound to a group ([`NewKeyPackage::bound_group`]) is served only when `group` names
    /// that group, and then before the unbound ones (it was made for that group).
    async fn claim_key_package(
        &self,
        owner: &str,
        cipher_suite: u16,
        group: Option<&[u8]>,
        now: u64,
    ) -> Result<Option<ClaimedKeyPackage>, StoreError>;

    /// Counts one claim of `owner`'s KeyPackages in `minute` (seconds since the Unix epoch
    /// divided by 60) against the per-target limit: `false`, and nothing counted, if `limit`
    /// claims of `owner`'s packages were counted in that minute already, by any claimers
    /// (the KeyPackage draining limit, RFC 9420 §16.8, RFC 9750 §5.1). One row per
    /// registered client at most: a claim of an unknown client id is not counted, and is
    /// allowed (its claim finds nothing). The counter is in the store, so DS nodes sharing
    /// one database share the limit.
    async fn count_target_claim(
        &self,
        owner: &str,
        minute: u64,
        limit: u32,
    ) -> Result<bool, StoreError>;

    /// The KeyPackage stock of `owner`, per suite.
    async fn key_package_stock(
        &self,
        owner: &str,
        now: u64,
    ) -> Result<Vec<KeyPackageStock>, StoreError>;

    /// Creates a group with its creator as its only member (and its member-proof key, when
    /// given, in the same transaction). False if the id is taken.
    async fn create_group(&self, group: &NewGroup, now: u64) -> Result<bool, StoreError>;

    /// The group's member-proof key (of its current epoch), if the group has member proofs.
    async fn member_proof_key(&self, group_id: &[u8])
    -> Result<Option<MemberProofKey>, StoreError>;

    /// A group.
    async fn group(&self, group_id: &[u8]) -> Result<Option<GroupRecord>, StoreError>;

    /// What the group is (`None`: no such group).
    async fn group_kind(&self, group_id: &[u8]) -> Result<Option<GroupKind>, StoreError>;

    /// Whether `client_id` is a member of the group.
    async fn is_member(&self, group_id: &[u8], client_id: &str) -> Result<bool, StoreError>;

    /// A member's read of the log: if `client_id` is a member of the group, the entries with
    /// `seq > after`, at most `limit`, in order, read in the same snapshot as the membership
    /// ([`Store::is_member`] then [`Store::read_log`] in one round trip); `None` for anyone
    /// else.
    async fn member_log(
        &self,
        group_id: &[u8],
        client_id: &str,
        after: u64,
        limit: u32,
    ) -> Result<Option<Vec<LogEntry>>, StoreError>;

    /// [`Store::token_client`] and then [`Store::member_log`] as the token's client, in one
    /// call: [`WithToken::Refused`] (nothing read) unless the token is valid at `now`. An
    /// engine shared by several DS nodes (PostgreSQL) checks the token in the same statement
    /// as the read, so in the same snapshot: a read that sees a token of a past generation
    /// refuses it, and no page is read after the credential change that revoked it has
    /// committed. The default does the two calls one after the other (SQLite: one process,
    /// whose token cache forgets a client's tokens in the call that revokes them).
    async fn member_log_with_token(
        &self,
        token_hash: &[u8],
        now: u64,
        group_id: &[u8],
        after: u64,
        limit: u32,
    ) -> Result<WithToken<Option<Vec<LogEntry>>>, StoreError> {
        let Some(client_id) = self.token_client(token_hash, now).await? else {
            return Ok(WithToken::Refused);
        };
        let outcome = self.member_log(group_id, &client_id, after, limit).await?;
        Ok(WithToken::Client { client_id, outcome })
    }

    /// For a client removed from the group (and not added back since): the sequence number
    /// of the commit that removed it. It may still read the log up to there, so that a
    /// member removed before it synced gets the messages of its membership and learns of
    /// its removal from the commit itself. `None` for anyone else.
    async fn removed_at(&self, group_id: &[u8], client_id: &str)
    -> Result<Option<u64>, StoreError>;

    /// Appends a proposal or application message for the current epoch.
    async fn append(
        &self,
        group_id: &[u8],
        message: &NewMessage,
        now: u64,
    ) -> Result<Appended, StoreError>;

    /// [`Store::token_client`] and then [`Store::append`] of `message` with the token's
    /// client as its sender (`message.sender` is ignored), in one call:
    /// [`WithToken::Refused`] (nothing written) unless the token is valid at `now`. As for
    /// [`Store::member_log_with_token`], PostgreSQL checks the token in the append's own
    /// statement (one snapshot) for a message without member proof or annotations; the
    /// default does the two calls one after the other.
    async fn append_with_token(
        &self,
        token_hash: &[u8],
        group_id: &[u8],
        message: &NewMessage,
        now: u64,
    ) -> Result<WithToken<Appended>, StoreError> {
        token_then_append(self, token_hash, group_id, message, now).await
    }

    /// Applies a commit bundle: epoch `e -> e + 1`, log append, GroupInfo, members, Welcome
    /// routing — all in one transaction, or nothing.
    async fn commit(
        &self,
        group_id: &[u8],
        commit: &CommitRecord,
        now: u64,
    ) -> Result<Committed, StoreError>;

    /// Log entries with `seq > after`, at most `limit`, in order.
    async fn read_log(
        &self,
        group_id: &[u8],
        after: u64,
        limit: u32,
    ) -> Result<Vec<LogEntry>, StoreError>;

    /// The proposals (content type 2) of the group's epoch `epoch`, when it is the current
    /// one: the entries after the log's last commit, in order, at most `limit`. The SelfRemove
    /// proposals served to external joiners are found among them
    /// (draft-ietf-mls-extensions-10 §6.3). The scan walks back from the end of the log to
    /// that commit, so it reads only the current epoch's entries.
    async fn epoch_proposals(
        &self,
        group_id: &[u8],
        epoch: u64,
        limit: u32,
    ) -> Result<Vec<LogEntry>, StoreError>;

    /// The clients among `client_ids` registered partial ([`ClientRecord::partial`]).
    async fn partial_clients(&self, client_ids: &[String]) -> Result<Vec<String>, StoreError>;

    /// The AnnotatedCommits stored for the partial client `client_id` in the group's log
    /// ([`CommitRecord::annotations`]) at sequence numbers in `after + 1 ..= up_to`, by
    /// sequence number, in order.
    async fn annotations(
        &self,
        group_id: &[u8],
        client_id: &str,
        after: u64,
        up_to: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError>;

    /// Welcomes in the inbox of `client_id` with `id > after`, at most `limit`, in order.
    async fn welcomes(
        &self,
        client_id: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<WelcomeEntry>, StoreError>;

    /// Removes the Welcomes with `id <= up_to` from the inbox. Returns how many.
    async fn ack_welcomes(&self, client_id: &str, up_to: u64) -> Result<u64, StoreError>;

    /// Retention: removes log entries created before `messages_before` (if given), expired
    /// answered challenges, expired tokens and tokens of a past generation, and KeyPackages expired for more than
    /// [`rules::KEY_PACKAGE_GRACE`] (kept that long so that Welcomes naming them are still
    /// routed); see [`rules::prune_cutoffs`].
    async fn prune(&self, now: u64, messages_before: Option<u64>) -> Result<Pruned, StoreError>;

    /// The external-receiver key of `candidate.cipher_suite`: `candidate` is stored if the
    /// suite has none yet, and the stored key is returned (so that concurrent DS nodes agree
    /// on the first one stored; later candidates are discarded).
    async fn receiver_key(&self, candidate: &ReceiverKey) -> Result<ReceiverKey, StoreError>;
}

/// Converts a stored integer to `u64`.
pub(crate) fn to_u64(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Backend(format!("negative value {value}")))
}

/// Converts an integer to the engines' signed 64-bit column type.
pub(crate) fn to_i64(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Backend(format!("value {value} out of range")))
}

/// The largest value the stores accept for epochs, sequence numbers and times.
pub const MAX_STORED: u64 = i64::MAX as u64;
