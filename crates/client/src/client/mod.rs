//! The client: one profile in a home directory, connected to its Delivery Service and
//! Authentication Service (RFC 9750 §4-§6), with its options, summaries and the operations
//! split by responsibility:
//!
//! - [`enrol`]: registration, certificate renewal and the revocation list (RFC 9750 §4,
//!   RFC 9420 §5.3);
//! - [`key_packages`]: publishing and topping up KeyPackages (RFC 9420 §10, RFC 9750 §5.1);
//! - [`groups`]: creating groups, listing them, and the user's group operations — add,
//!   remove, update, leave, send (RFC 9420 §11-§12), run by the [`crate::driver`];
//! - [`sync`]: one sync — Welcomes, renewal, every group's log, pending proposals, top-up;
//! - [`watch`]: following the DS's WebSocket wake-ups.
//!
//! Every operation that changes group state holds the profile lock
//! ([`crate::store::ProfileLock`]).

mod enrol;
mod groups;
mod key_packages;
mod partial;
mod roles;
mod sync;
mod watch;

pub use enrol::EnrolledIdentity;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use conclave_api::identities::AsIdentityProvider;
use conclave_api::{AsClient, DsClient, HttpLimits};
use conclave_core::credential::{
    IssuerKeys, RevocationList, UserInfoVcIdentityProvider, X509IdentityProvider,
};
use conclave_core::group::GroupEnv;
use conclave_crypto::{CipherSuite, CryptoProvider};
use conclave_crypto_awslc::AwsLcProvider;
use serde::Serialize;

use crate::driver::commit::crypto_suite;
use crate::driver::{GroupDriver, Observer, ProgressFn};
use crate::error::ClientError;
use crate::event::{AddProgress, Event};
use crate::store::{GroupStatus, Profile, StateWrites, Store};

/// Tunables of a client.
#[derive(Clone)]
pub struct ClientOptions {
    /// How many one-time KeyPackages to keep published (RFC 9750 §5.1: enough that the
    /// last-resort package is rarely used).
    pub key_packages: u64,
    /// Publish more when fewer than this many are left.
    pub key_package_threshold: u64,
    /// How many times an operation is attempted when its commit loses the race for an epoch.
    pub max_attempts: u32,
    /// Log entries fetched per request.
    pub page_size: u32,
    /// Added to the system clock (seconds), e.g. to test certificate expiry.
    pub clock_offset: i64,
    /// Renew our certificate at the AS once fewer than this many seconds of validity are
    /// left; `None`: once half of its validity period has passed.
    pub renewal_margin: Option<u64>,
    /// How group states are written: only what changed (the default), or the whole state
    /// on every change (for comparison).
    pub state_writes: StateWrites,
    /// The cryptography backend (default: aws-lc).
    pub crypto: Arc<dyn CryptoProvider>,
    /// Support SelfRemove (draft-ietf-mls-extensions-10 §6.3, default on): our new
    /// KeyPackages and groups list it in their capabilities, and [`Client::leave`] uses it in
    /// groups where every member does. Off: we behave as a client without it (leaves list
    /// no SelfRemove; leaving always sends a Remove proposal).
    pub self_remove: bool,
    /// The handshake mode of the groups we create ([`crate::handshakes`]; default
    /// `semiprivate`, which needs a DS that publishes its external-receiver key).
    pub handshakes: crate::HandshakeMode,
    /// Timeouts and the response-size limit of every request to the DS and the AS.
    pub http: HttpLimits,
    /// Create groups with member proofs (draft-mahy-mls-member-proof-00, default on): every
    /// message of the group carries a proof of membership of the current epoch, and the
    /// group is registered with the DS with its epoch-0 member-proof key, so that the DS
    /// takes into the group's log only messages from members — also when it cannot read the
    /// handshakes. Off: groups are created without (members of others' member-proof groups
    /// prove membership regardless: it is the group's rule, not ours).
    pub member_proofs: bool,
    /// Replace late Updates (draft-barnes-mls-replace-00; off by default): when another
    /// member's Update proposal reaches us after the commit that ended its epoch, we keep it
    /// ([`conclave_core::group::Group::receive_late_update`]) and our next commit puts its
    /// LeafNode at that member's leaf with a Replace proposal instead of dropping it, so the
    /// member still gets the fresh key. Caveat (§6): this helps post-compromise security only
    /// if the LeafNode's private key did not leak since the Update was made — an attacker who
    /// held the member's state then holds the replayed key too — and a Replace is not signed
    /// by the replaced member's current key. Whatever this says, our leaves list the Replace
    /// proposal type and stamp `leaf_node_epoch` (the draft's rollback protection), so that
    /// we can follow Replaces other members commit.
    pub replace_late_updates: bool,
    /// The kind of credential [`Client::register`] asks the AS for (default: an X.509
    /// certificate).
    pub credential: CredentialKind,
    /// Register as a partial client (draft-ietf-mls-partial-02; off by default): the DS is
    /// told (`DsClient::register_partial`), and every group this profile joins is held as a
    /// `PartialMember` — no ratchet tree, annotations from the DS. Recorded in the profile
    /// at registration; opening a profile sets this from the profile, whatever was passed.
    /// A partial client can read and send messages but cannot create groups, commit
    /// (add, remove, update, topic, roles), propose or leave
    /// ([`ClientError::PartialMember`]).
    pub partial: bool,
}

/// The kinds of credential a Conclave AS issues; members accept both and name both
/// `mls://<name>` ([`conclave_api::identities::AsIdentityProvider`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CredentialKind {
    /// An X.509 certificate chaining to the AS root (RFC 9420 §5.3.1), renewed before it
    /// expires.
    #[default]
    Certificate,
    /// A UserInfo Verifiable Credential (draft-barnes-mls-addl-creds-01 §3): a JWT signed
    /// by the AS's VC issuer binding the name to our key as a `did:jwk`. The AS does not
    /// renew it: a VC client enrols again (with a new token) before it expires.
    UserInfoVc,
}

impl core::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("key_packages", &self.key_packages)
            .field("key_package_threshold", &self.key_package_threshold)
            .field("max_attempts", &self.max_attempts)
            .field("page_size", &self.page_size)
            .field("clock_offset", &self.clock_offset)
            .field("renewal_margin", &self.renewal_margin)
            .field("state_writes", &self.state_writes)
            .field("crypto", &self.crypto.name())
            .field("self_remove", &self.self_remove)
            .field("replace_late_updates", &self.replace_late_updates)
            .field("handshakes", &self.handshakes)
            .field("http", &self.http)
            .field("member_proofs", &self.member_proofs)
            .field("credential", &self.credential)
            .field("partial", &self.partial)
            .finish()
    }
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            key_packages: 10,
            key_package_threshold: 4,
            max_attempts: 8,
            page_size: 200,
            clock_offset: 0,
            renewal_margin: None,
            state_writes: StateWrites::Incremental,
            crypto: Arc::new(AwsLcProvider),
            self_remove: true,
            handshakes: crate::HandshakeMode::default(),
            http: HttpLimits::DEFAULT,
            member_proofs: true,
            credential: CredentialKind::Certificate,
            replace_late_updates: false,
            partial: false,
        }
    }
}

/// How [`Client::leave`] left a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaveMechanism {
    /// A SelfRemove proposal (draft-ietf-mls-extensions-10 §6.3): every member supports it;
    /// the next commit by any member, or by an external joiner, removes us.
    SelfRemove,
    /// A Remove proposal of our own leaf (RFC 9420 §12.1.3): some member does not support
    /// SelfRemove; the next member to sync commits it.
    RemoveProposal,
    /// We were the last member: nothing to send.
    LastMember,
}

impl LeaveMechanism {
    /// Why the group is inactive now, as the group's status reason says it.
    pub fn reason(self) -> &'static str {
        match self {
            Self::SelfRemove => {
                "you left with a SelfRemove proposal; the next commit by any member removes you"
            }
            Self::RemoveProposal => {
                "you left with a Remove proposal of your own leaf; the next member to sync \
                 commits your removal"
            }
            Self::LastMember => "you left; you were the last member",
        }
    }
}

/// A group, for listings.
#[derive(Debug, Clone, Serialize)]
pub struct GroupSummary {
    /// The local name.
    pub name: String,
    /// The MLS group id (hex).
    pub group_id: String,
    /// The epoch.
    pub epoch: u64,
    /// Member names.
    pub members: Vec<String>,
    /// The group topic ([`crate::topic`]), if it has one.
    pub topic: Option<String>,
    /// Where the group stands.
    pub status: GroupStatus,
    /// Why it is not active.
    pub reason: Option<String>,
    /// The last log entry applied.
    pub cursor: u64,
    /// How our handshakes travel in this group ([`crate::handshakes`]).
    pub handshakes: crate::HandshakeMode,
    /// Whether every message of the group carries a member proof
    /// (draft-mahy-mls-member-proof-00), so that the DS takes only members' posts.
    pub member_proofs: bool,
    /// Whether the DS holds the group's ratchet tree (draft-ietf-mls-ratchet-tree-options-00
    /// §3 `distributionService`): Welcomes and GroupInfos leave it out and joiners fetch it
    /// from the DS; otherwise it travels in them.
    pub tree_on_ds: bool,
}

/// How [`Client::create_group_with_options`] creates a group.
#[derive(Debug, Clone, Default)]
pub struct NewGroupOptions {
    /// The handshake mode ([`crate::handshakes`]).
    pub handshakes: crate::HandshakeMode,
    /// Roles and room policy (draft-ietf-mimi-room-policy-04, [`crate::policy`]); `None`:
    /// every member may add and remove.
    pub policy: Option<conclave_core::group::policy::Preset>,
    /// The DS holds the ratchet tree (draft-ietf-mls-ratchet-tree-options-00 §3
    /// `distributionService`); needs public or semi-private handshakes.
    pub tree_on_ds: bool,
    /// The DS serves the group's GroupInfo (and tree) to any authenticated client, who can
    /// then join by an external commit ([`Client::join_external`], RFC 9420 §12.4.3.2).
    pub allow_external_joins: bool,
}

/// What a sync did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncReport {
    /// Groups joined from Welcomes.
    pub joined: u64,
    /// Log entries applied.
    pub applied: u64,
    /// Messages received.
    pub messages: u64,
    /// Groups found out of sync (their names).
    pub desynchronized: Vec<String>,
    /// Problems that did not stop the sync (e.g. committing a pending proposal failed).
    pub warnings: Vec<String>,
}

/// One Conclave client: a profile in a home directory, connected to its DS and AS.
pub struct Client {
    store: Store,
    profile: Profile,
    ds: DsClient,
    as_api: AsClient,
    env: GroupEnv,
    revoked: RevocationList,
    options: ClientOptions,
    observer: Option<Observer>,
    progress: Option<ProgressFn>,
}

impl core::fmt::Debug for Client {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client")
            .field("profile", &self.profile)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// The store's metadata key of the AS's UserInfo VC issuer key set (the JSON of
/// `GET /v1/as/vc/jwks`, with its `issuer`), absent for an AS that issues no VCs.
pub(crate) const VC_JWKS: &str = "vc_jwks";

/// What groups validate with: the AS's certificates under the stored root and, when the
/// AS issues them, its UserInfo VCs under the stored issuer key set, minus the revoked
/// (RFC 9420 §5.3.1, §5.3.2; draft-barnes-mls-addl-creds-01 §3.3).
fn build_env(
    profile: &Profile,
    vc_jwks: Option<&[u8]>,
    revoked: &RevocationList,
    crypto: &Arc<dyn CryptoProvider>,
) -> Result<GroupEnv, ClientError> {
    let x509 = X509IdentityProvider::new([profile.root_certificate.as_slice()], crypto.as_ref())
        .map_err(|e| ClientError::CorruptState(format!("the stored AS root: {e}")))?
        .with_revocation_list(revoked.clone());
    let vc = vc_jwks.map(vc_validator).transpose()?;
    Ok(GroupEnv {
        crypto: crypto.clone(),
        identity: Arc::new(AsIdentityProvider::new(x509, vc, revoked.clone())),
        psks: Arc::new(()),
    })
}

/// A UserInfo VC validator trusting the one issuer of `jwks` (the AS's JWK Set, whose
/// `issuer` member names it).
fn vc_validator(jwks: &[u8]) -> Result<UserInfoVcIdentityProvider, ClientError> {
    let corrupt = |e: String| ClientError::CorruptState(format!("the stored VC issuer keys: {e}"));
    let value: serde_json::Value =
        serde_json::from_slice(jwks).map_err(|e| corrupt(e.to_string()))?;
    let issuer = value
        .get("issuer")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| corrupt("no issuer".into()))?;
    let mut keys = IssuerKeys::new();
    keys.insert_jwks_json(issuer, jwks)
        .map_err(|e| corrupt(e.to_string()))?;
    Ok(UserInfoVcIdentityProvider::new(keys))
}

impl Client {
    /// Opens the profile in `home`; `ds_url`/`as_url` override the stored service URLs.
    pub fn open(
        home: &Path,
        ds_url: Option<&str>,
        as_url: Option<&str>,
        options: ClientOptions,
    ) -> Result<Self, ClientError> {
        let store = Store::open(home)?;
        let profile = store
            .profile()?
            .ok_or_else(|| ClientError::NotRegistered(home.display().to_string()))?;
        Self::from_parts(store, profile, ds_url, as_url, options)
    }

    fn from_parts(
        store: Store,
        mut profile: Profile,
        ds_url: Option<&str>,
        as_url: Option<&str>,
        options: ClientOptions,
    ) -> Result<Self, ClientError> {
        if let Some(url) = ds_url {
            profile.ds_url = url.trim_end_matches('/').to_owned();
        }
        if let Some(url) = as_url {
            profile.as_url = url.trim_end_matches('/').to_owned();
        }
        let cached: HashSet<Vec<u8>> = store
            .meta("revoked")?
            .and_then(|v| serde_json::from_slice::<Vec<String>>(&v).ok())
            .unwrap_or_default()
            .into_iter()
            .map(String::into_bytes)
            .collect();
        let revoked: RevocationList = Arc::new(RwLock::new(cached));
        let vc_jwks = store.meta(VC_JWKS)?;
        let env = build_env(&profile, vc_jwks.as_deref(), &revoked, &options.crypto)?;
        let ds = DsClient::with_limits(
            &profile.ds_url,
            &profile.name,
            crypto_suite(options.crypto.as_ref(), CipherSuite(profile.cipher_suite))?,
            profile.signature_secret.clone(),
            options.http,
        )?;
        let as_api = AsClient::with_limits(&profile.as_url, options.http)?;
        // The profile decides whether we are partial, whatever the caller's options say.
        let mut options = options;
        options.partial = store.meta(partial::PARTIAL_META)?.as_deref() == Some(&[1]);
        Ok(Self {
            store,
            profile,
            ds,
            as_api,
            env,
            revoked,
            options,
            observer: None,
            progress: None,
        })
    }

    /// Reports every [`Event`] to `observer` as it happens.
    pub fn set_observer(&mut self, observer: impl FnMut(&Event) + Send + 'static) {
        self.observer = Some(Box::new(observer));
    }

    /// Reports progress of long operations to `progress`.
    pub fn set_progress(&mut self, progress: impl FnMut(&AddProgress) + Send + 'static) {
        self.progress = Some(Box::new(progress));
    }

    /// Our user name.
    pub fn name(&self) -> &str {
        &self.profile.name
    }

    /// The DS URL in use.
    pub fn ds_url(&self) -> &str {
        &self.profile.ds_url
    }

    /// The AS URL in use.
    pub fn as_url(&self) -> &str {
        &self.profile.as_url
    }

    /// The local database file.
    pub fn database_path(&self) -> PathBuf {
        self.store.path().to_path_buf()
    }

    /// The Delivery Service client (for diagnostics).
    pub fn ds(&self) -> &DsClient {
        &self.ds
    }

    /// The profile lock (see [`crate::store::ProfileLock`]), held by every operation that
    /// changes group state.
    fn lock(&self) -> Result<crate::store::ProfileLock, ClientError> {
        self.store.lock(std::time::Duration::from_secs(120))
    }

    fn now(&self) -> u64 {
        crate::now_seconds().saturating_add_signed(self.options.clock_offset)
    }

    fn emit(&mut self, event: &Event) {
        if let Some(observer) = self.observer.as_mut() {
            observer(event);
        }
    }

    fn suite(&self) -> CipherSuite {
        CipherSuite(self.profile.cipher_suite)
    }

    /// The group driver over our DS, for one operation.
    fn driver(&mut self) -> GroupDriver<'_, DsClient> {
        GroupDriver {
            store: &self.store,
            ds: &self.ds,
            env: &self.env,
            profile: &self.profile,
            options: &self.options,
            observer: &mut self.observer,
            progress: &mut self.progress,
        }
    }
}
