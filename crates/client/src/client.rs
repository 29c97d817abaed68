//! The client: registration, group operations and the sync loop (RFC 9420 §10-§12 over the
//! Delivery Service of RFC 9750 §5-§6).
//!
//! Ordering rules (RFC 9750 §5.2 "Strongly Consistent", "Invalid Commits"):
//! - the group log is applied strictly in sequence order, one entry per SQLite transaction;
//! - entries of epochs before ours are from before we joined and are skipped;
//! - of the commits for our epoch, the first valid one is applied; one that fails
//!   validation is remembered, and if the log then moves past our epoch without a valid
//!   commit, the group is marked desynchronized and the user told how to recover — the
//!   client never rejoins on its own;
//! - our own commit is created pending, saved, then posted; it is merged when it comes back
//!   in the log (recognised by the core's pending commit). A `wrong_epoch` answer means
//!   another commit won: we drop ours, catch up, recompute the operation (skipping members
//!   already added or removed) and try again, a bounded number of times.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use conclave_api::authentication::{
    EnrolmentRequest, RenewalRequest, certificate_validity, is_valid_name, name_of_identity,
};
use conclave_api::delivery::{Accepted, CommitBundle, LogEntryView, WelcomeView};
use conclave_api::{AsClient, DsClient};
use conclave_codec::{Decode, Encode};
use conclave_core::credential::{
    CredentialCheck, CredentialRole, RevocationList, X509IdentityProvider,
};
use conclave_core::group::{
    CommitOptions, CommitSummary, Group, GroupConfig, GroupEnv, JoinOptions, KeyPackageBundle,
    LeafOptions, MemberParams, NewGroup, ProcessedMessage, SigningIdentity,
};
use conclave_core::messages::{
    Add, Credential, KeyPackage, LeafIndex, LeafNode, MlsMessage, MlsMessageBody, Proposal,
    ProtocolVersion, RatchetTreeNodes, Remove, Sender, SignaturePublicKey, WireFormat,
    find_payload,
};
use conclave_core::tree::RatchetTree;
use conclave_crypto::{CipherSuite, Secret, labels};
use conclave_crypto_awslc::AwsLcProvider;
use futures_util::StreamExt as _;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{BadResponse, ClientError};
use crate::store::{
    AppliedEntry, GroupRow, GroupStatus, HistoryEntry, Profile, Store, StoredKeyPackage,
};
use crate::{OsRandom, now_seconds};

/// Standard base64 from the Delivery Service's JSON.
fn b64_decode(service: &'static str, value: &str) -> Result<Vec<u8>, ClientError> {
    conclave_api::b64_decode(conclave_api::Service::Delivery, value).map_err(|e| match e {
        conclave_api::ApiError::BadResponse { source, .. } => ClientError::bad(service, source),
        other => ClientError::from(other),
    })
}

/// The provider of `suite` (the client's backend is aws-lc).
fn crypto_suite(
    suite: CipherSuite,
) -> Result<Box<dyn conclave_crypto::CipherSuiteProvider>, ClientError> {
    use conclave_crypto::CryptoProvider as _;
    AwsLcProvider
        .cipher_suite_provider(suite)
        .ok_or(ClientError::Group(
            conclave_core::group::GroupError::UnsupportedCipherSuite(suite),
        ))
}

const DS: &str = "the Delivery Service";

/// Tunables of a client.
#[derive(Debug, Clone)]
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
        }
    }
}

/// Something the client learned or did, reported as it happens (for live output).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// An application message (ours or another member's).
    Message {
        /// Local group name.
        group: String,
        /// Log position.
        seq: u64,
        /// Epoch.
        epoch: u64,
        /// Sender's name.
        sender: String,
        /// The text.
        text: String,
    },
    /// We joined a group from a Welcome (RFC 9420 §12.4.3.1).
    Joined {
        /// Local group name.
        group: String,
        /// Epoch joined at.
        epoch: u64,
        /// The members.
        members: Vec<String>,
    },
    /// A Welcome could not be used.
    JoinFailed {
        /// Why.
        reason: String,
    },
    /// A commit changed the group (members added or removed, keys updated).
    Membership {
        /// Local group name.
        group: String,
        /// Log position.
        seq: u64,
        /// The new epoch.
        epoch: u64,
        /// What happened, in words.
        text: String,
    },
    /// A member asked to be removed (a Remove proposal of its own leaf).
    Proposal {
        /// Local group name.
        group: String,
        /// Log position.
        seq: u64,
        /// What was proposed.
        text: String,
    },
    /// We are no longer a member.
    Removed {
        /// Local group name.
        group: String,
        /// What happened.
        reason: String,
    },
    /// The group could not follow the log (RFC 9750 "Invalid Commits").
    Desynchronized {
        /// Local group name.
        group: String,
        /// Our epoch.
        epoch: u64,
        /// What failed.
        reason: String,
    },
    /// A message we could not read.
    Undecryptable {
        /// Local group name.
        group: String,
        /// Log position.
        seq: u64,
        /// Its epoch.
        epoch: u64,
        /// Why.
        reason: String,
    },
    /// Our certificate was renewed before it expired and the groups were told (each got a
    /// commit whose UpdatePath leaf carries the new credential).
    CredentialRenewed {
        /// The new certificate's `notAfter` (seconds since the Unix epoch).
        valid_until: u64,
        /// Groups that got the new credential.
        groups: u64,
    },
    /// We published KeyPackages.
    KeyPackagesPublished {
        /// How many.
        count: u64,
        /// Whether it was the last-resort package.
        last_resort: bool,
    },
}

/// Progress of a long operation (claiming KeyPackages for a large add, uploading).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddProgress {
    /// What is being done.
    pub stage: &'static str,
    /// Steps done.
    pub done: u64,
    /// Steps in all.
    pub total: u64,
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
    /// Where the group stands.
    pub status: GroupStatus,
    /// Why it is not active.
    pub reason: Option<String>,
    /// The last log entry applied.
    pub cursor: u64,
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

/// A membership operation carried by one commit.
#[derive(Debug, Clone)]
enum Op {
    Add(Vec<String>),
    Remove(Vec<String>),
    CommitPending,
    Update,
}

/// What applying one log entry gave.
#[derive(Default)]
struct Outcome {
    history: Option<HistoryEntry>,
    event: Option<Event>,
    status: Option<(GroupStatus, String)>,
    sent_digest: Option<Vec<u8>>,
    is_message: bool,
}

type Observer = Box<dyn FnMut(&Event) + Send>;
type ProgressFn = Box<dyn FnMut(&AddProgress) + Send>;

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

fn digest(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

/// The display name of a group id `name#suffix` (RFC 9420 leaves group ids opaque; ours
/// carry the creator's name for the group so that joiners can name it).
fn display_name(group_id: &[u8]) -> String {
    let text = String::from_utf8_lossy(group_id);
    let base = text.split('#').next().unwrap_or("group");
    if is_valid_name(base) {
        base.to_owned()
    } else {
        "group".to_owned()
    }
}

fn check_name(name: &str) -> Result<(), ClientError> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(ClientError::InvalidName(name.to_owned()))
    }
}

fn build_env(profile: &Profile, revoked: &RevocationList) -> Result<GroupEnv, ClientError> {
    let provider = X509IdentityProvider::new([profile.root_certificate.as_slice()], &AwsLcProvider)
        .map_err(|e| ClientError::CorruptState(format!("the stored AS root: {e}")))?
        .with_revocation_list(revoked.clone());
    Ok(GroupEnv {
        crypto: Arc::new(AwsLcProvider),
        identity: Arc::new(provider),
        psks: Arc::new(()),
    })
}

/// Our group policy: handshake messages are PrivateMessages too, so the DS sees only the
/// clear header of every message (RFC 9420 §6.3, RFC 9750 §8 metadata protection).
fn group_config() -> GroupConfig {
    GroupConfig {
        handshake_wire_format: WireFormat::PRIVATE_MESSAGE,
        ..GroupConfig::default()
    }
}

impl Client {
    // ---- setting up -----------------------------------------------------------------------

    /// Registers a new client named `name` in `home`: fetches the AS root, makes a signature
    /// key pair, enrols with the one-time `token` (proof of possession, RFC 9750 §4),
    /// registers with the DS and publishes KeyPackages.
    pub async fn register(
        home: &Path,
        ds_url: &str,
        as_url: &str,
        name: &str,
        token: &str,
        options: ClientOptions,
    ) -> Result<Self, ClientError> {
        check_name(name)?;
        {
            let store = Store::open(home)?;
            if let Some(p) = store.profile()? {
                return Err(ClientError::AlreadyRegistered(p.name));
            }
        }
        let as_api = AsClient::new(as_url)?;
        let root = as_api.root().await?;
        let suite = root.cipher_suite;
        let cs = crypto_suite(suite)?;
        let (secret, public) = cs.signature_generate(&mut OsRandom)?;
        let request = EnrolmentRequest::sign(
            cs.as_ref(),
            name,
            SignaturePublicKey(public.clone()),
            &secret,
            token.as_bytes().to_vec(),
        )?;
        let credential = as_api.enrol(&request).await?;
        Self::register_enrolled(
            home,
            ds_url,
            as_url,
            name,
            suite,
            secret,
            public,
            &credential,
            root.root_certificate,
            options,
        )
        .await
    }

    /// Registers a client whose credential was obtained elsewhere (another AS, an
    /// enterprise CA): registers with the DS, stores the profile and publishes KeyPackages.
    /// `root_certificate` becomes this client's trust anchor.
    #[allow(clippy::too_many_arguments)]
    pub async fn register_enrolled(
        home: &Path,
        ds_url: &str,
        as_url: &str,
        name: &str,
        suite: CipherSuite,
        signature_secret: Secret,
        signature_public: Vec<u8>,
        credential: &Credential,
        root_certificate: Vec<u8>,
        options: ClientOptions,
    ) -> Result<Self, ClientError> {
        check_name(name)?;
        let mut store = Store::open(home)?;
        if let Some(p) = store.profile()? {
            return Err(ClientError::AlreadyRegistered(p.name));
        }
        let profile = Profile {
            name: name.to_owned(),
            cipher_suite: suite.0,
            signature_secret,
            signature_public,
            credential: credential.to_bytes()?,
            root_certificate,
            ds_url: ds_url.trim_end_matches('/').to_owned(),
            as_url: as_url.trim_end_matches('/').to_owned(),
        };
        let ds = DsClient::new(
            &profile.ds_url,
            name,
            crypto_suite(suite)?,
            profile.signature_secret.clone(),
        );
        ds.register(&profile.signature_public, &profile.credential)
            .await?;
        store.save_profile(&profile)?;
        let mut client = Self::from_parts(store, profile, None, None, options)?;
        client.top_up_key_packages().await?;
        Ok(client)
    }

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
        let env = build_env(&profile, &revoked)?;
        let ds = DsClient::new(
            &profile.ds_url,
            &profile.name,
            crypto_suite(CipherSuite(profile.cipher_suite))?,
            profile.signature_secret.clone(),
        );
        let as_api = AsClient::new(&profile.as_url)?;
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
        now_seconds().saturating_add_signed(self.options.clock_offset)
    }

    fn emit(&mut self, event: &Event) {
        if let Some(observer) = self.observer.as_mut() {
            observer(event);
        }
    }

    fn report_progress(&mut self, stage: &'static str, done: u64, total: u64) {
        if let Some(progress) = self.progress.as_mut() {
            progress(&AddProgress { stage, done, total });
        }
    }

    fn signer(&self) -> Result<SigningIdentity, ClientError> {
        Ok(SigningIdentity {
            secret_key: self.profile.signature_secret.clone(),
            public_key: SignaturePublicKey(self.profile.signature_public.clone()),
            credential: Credential::from_bytes(&self.profile.credential)?,
        })
    }

    fn suite(&self) -> CipherSuite {
        CipherSuite(self.profile.cipher_suite)
    }

    /// The user name a leaf presents (`mls://<name>` → `<name>`).
    fn leaf_name(&self, leaf: &LeafNode) -> String {
        match self.env.identity.identity(&leaf.credential) {
            Ok(identity) => name_of_identity(&identity)
                .map(str::to_owned)
                .unwrap_or_else(|| String::from_utf8_lossy(&identity).into_owned()),
            Err(_) => "(unknown)".to_owned(),
        }
    }

    fn member_names(&self, group: &Group) -> Vec<(LeafIndex, String)> {
        group
            .members()
            .map(|(i, leaf)| (i, self.leaf_name(leaf)))
            .collect()
    }

    fn load_group(&self, row: &GroupRow) -> Result<Group, ClientError> {
        Group::from_bytes(self.env.clone(), &row.state).map_err(|e| {
            ClientError::CorruptState(format!("the state of group {:?}: {e}", row.name))
        })
    }

    fn inactive_error(row: &GroupRow, epoch: u64) -> ClientError {
        let reason = row.reason.clone().unwrap_or_default();
        match row.status {
            GroupStatus::Desynchronized => ClientError::Desynchronized {
                group: row.name.clone(),
                epoch,
                reason,
            },
            GroupStatus::Left => ClientError::GroupInactive {
                group: row.name.clone(),
                reason: if reason.is_empty() {
                    "you left this group".into()
                } else {
                    reason
                },
            },
            _ => ClientError::GroupInactive {
                group: row.name.clone(),
                reason: if reason.is_empty() {
                    "you are no longer a member".into()
                } else {
                    reason
                },
            },
        }
    }

    fn require_active_by_id(&self, group_id: &[u8]) -> Result<GroupRow, ClientError> {
        let row = self
            .store
            .group_by_id(group_id)?
            .ok_or_else(|| ClientError::UnknownGroup(hex::encode(group_id)))?;
        if row.status == GroupStatus::Active {
            Ok(row)
        } else {
            let epoch = self.load_group(&row).map(|g| g.epoch()).unwrap_or(0);
            Err(Self::inactive_error(&row, epoch))
        }
    }

    fn group_row(&self, name: &str) -> Result<GroupRow, ClientError> {
        self.store
            .group_by_name(name)?
            .ok_or_else(|| ClientError::UnknownGroup(name.to_owned()))
    }

    fn require_active(&self, name: &str) -> Result<GroupRow, ClientError> {
        let row = self.group_row(name)?;
        self.require_active_by_id(&row.group_id)
    }

    // ---- KeyPackages ----------------------------------------------------------------------

    /// Generates `count` KeyPackages (RFC 9420 §10), stores their private keys, then
    /// publishes them.
    async fn publish_key_packages(
        &mut self,
        count: u64,
        last_resort: bool,
    ) -> Result<(), ClientError> {
        let suite = self.suite();
        let cs = crypto_suite(suite)?;
        let signer = self.signer()?;
        let now = self.now();
        // A KeyPackage is good only while its certificate is: the DS stops serving it then.
        let leaf = LeafOptions {
            lifetime_seconds: certificate_validity(&signer.credential)
                .ok()
                .map(|(_, not_after)| not_after.saturating_sub(now)),
            ..LeafOptions::default()
        };
        let member = MemberParams {
            leaf,
            ..MemberParams::new(self.env.clone(), signer)
        };
        let mut stored = Vec::new();
        let mut messages = Vec::new();
        for _ in 0..count {
            let bundle = KeyPackageBundle::generate(&member, suite, now, &mut OsRandom)?;
            let encoded = bundle.key_package.to_bytes()?;
            let kp_ref = labels::make_key_package_ref(cs.as_ref(), &encoded)?;
            stored.push(StoredKeyPackage {
                kp_ref,
                cipher_suite: suite.0,
                key_package: encoded,
                init_private: bundle.init_private_key.clone(),
                encryption_private: bundle.encryption_private_key.clone(),
                last_resort,
            });
            messages.push(MlsMessage {
                version: ProtocolVersion::MLS10,
                body: MlsMessageBody::KeyPackage(bundle.key_package),
            });
        }
        // Private keys first: a Welcome may arrive as soon as the DS has the package.
        self.store.put_key_packages(&stored)?;
        self.ds.publish_key_packages(&messages, last_resort).await?;
        self.emit(&Event::KeyPackagesPublished { count, last_resort });
        Ok(())
    }

    /// Keeps the DS stocked: publishes one-time KeyPackages when fewer than the threshold
    /// are left, and a new last-resort package when there is none or it was handed out
    /// (RFC 9750 §5.1: rotate a used last-resort package).
    pub async fn top_up_key_packages(&mut self) -> Result<(), ClientError> {
        let _lock = self.lock()?;
        self.top_up_inner().await
    }

    async fn top_up_inner(&mut self) -> Result<(), ClientError> {
        let stock = self.ds.key_package_stock().await?;
        let mine = stock
            .iter()
            .find(|s| s.cipher_suite == self.profile.cipher_suite);
        let available = mine.map_or(0, |s| s.one_time_available);
        if available < self.options.key_package_threshold {
            let count = self.options.key_packages.saturating_sub(available).max(1);
            self.publish_key_packages(count, false).await?;
        }
        if mine.is_none_or(|s| !s.has_last_resort || s.last_resort_claimed) {
            self.publish_key_packages(1, true).await?;
        }
        Ok(())
    }

    // ---- credential renewal ---------------------------------------------------------------

    /// Renews our certificate once less than half of its validity (or
    /// [`ClientOptions::renewal_margin`]) is left: the AS issues a
    /// new one for the same key (proof by that key), the DS is told, and every active group
    /// gets a commit whose UpdatePath leaf carries it (RFC 9420 §7.3: the others check it is
    /// a valid successor). Without this a member idle past its certificate's expiry would
    /// block every join, since a joiner validates every leaf (RFC 9420 §12.4.3.1).
    /// Credentials that are not this AS's X.509 certificates are left alone.
    async fn renew_credential_if_due(
        &mut self,
        report: &mut SyncReport,
    ) -> Result<(), ClientError> {
        let current = Credential::from_bytes(&self.profile.credential)?;
        let Ok((not_before, not_after)) = certificate_validity(&current) else {
            return Ok(());
        };
        let now = self.now();
        let margin = self
            .options
            .renewal_margin
            .unwrap_or(not_after.saturating_sub(not_before) / 2);
        if now.saturating_add(margin) < not_after {
            return Ok(());
        }
        let cs = crypto_suite(self.suite())?;
        let request = RenewalRequest::sign(
            cs.as_ref(),
            current,
            &SignaturePublicKey(self.profile.signature_public.clone()),
            &self.profile.signature_secret,
            None,
            now,
        )?;
        let renewed = self.as_api.renew(&request).await?;
        let encoded = renewed.to_bytes()?;
        self.ds
            .change_credential(&self.profile.signature_public, &encoded)
            .await?;
        self.profile.credential = encoded;
        self.store.save_profile(&self.profile)?;
        let valid_until = certificate_validity(&renewed)
            .map(|(_, until)| until)
            .unwrap_or(not_after);
        let mut groups = 0;
        for row in self.store.groups()? {
            if row.status != GroupStatus::Active {
                continue;
            }
            let mut group = self.load_group(&row)?;
            let result = match group.set_credential(renewed.clone(), now) {
                Ok(()) => {
                    self.store.save_state(&row.group_id, &group.to_bytes()?)?;
                    self.run_commit(&row.group_id, &Op::Update)
                        .await
                        .map(|_| ())
                }
                Err(e) => Err(e.into()),
            };
            match result {
                Ok(()) => groups += 1,
                Err(e) => report.warnings.push(format!(
                    "group {:?}: could not commit the renewed certificate: {e}",
                    row.name
                )),
            }
        }
        self.emit(&Event::CredentialRenewed {
            valid_until,
            groups,
        });
        Ok(())
    }

    // ---- revocation -----------------------------------------------------------------------

    /// Fetches the AS's revocation list (RFC 9420 §5.3.2) and keeps a copy for offline use.
    pub async fn refresh_revocations(&mut self) -> Result<(), ClientError> {
        self.as_api.refresh_revocation_list(&self.revoked).await?;
        let list: Vec<String> = self
            .revoked
            .read()
            .map(|set| {
                set.iter()
                    .map(|v| String::from_utf8_lossy(v).into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let json = serde_json::to_vec(&list)
            .map_err(|e| ClientError::CorruptState(format!("revocation list: {e}")))?;
        self.store.set_meta("revoked", &json)
    }

    // ---- groups ---------------------------------------------------------------------------

    fn unique_name(&self, base: &str) -> Result<String, ClientError> {
        if self.store.group_by_name(base)?.is_none() {
            return Ok(base.to_owned());
        }
        for i in 2..10_000u32 {
            let candidate = format!("{base}-{i}");
            if self.store.group_by_name(&candidate)?.is_none() {
                return Ok(candidate);
            }
        }
        Err(ClientError::GroupNameTaken(base.to_owned()))
    }

    fn summary(&self, row: &GroupRow) -> GroupSummary {
        let group = self.load_group(row).ok();
        GroupSummary {
            name: row.name.clone(),
            group_id: hex::encode(&row.group_id),
            epoch: group.as_ref().map_or(0, Group::epoch),
            members: group
                .as_ref()
                .map(|g| self.member_names(g).into_iter().map(|(_, n)| n).collect())
                .unwrap_or_default(),
            status: row.status,
            reason: row.reason.clone(),
            cursor: row.cursor,
        }
    }

    /// Creates a group named `name` with us as its only member (RFC 9420 §11), and
    /// registers it with the DS.
    pub async fn create_group(&mut self, name: &str) -> Result<GroupSummary, ClientError> {
        let _lock = self.lock()?;
        check_name(name)?;
        if self.store.group_by_name(name)?.is_some() {
            return Err(ClientError::GroupNameTaken(name.to_owned()));
        }
        let mut suffix = [0u8; 8];
        conclave_crypto::CryptoRandom::fill(&mut OsRandom, &mut suffix)?;
        let group_id = format!("{name}#{}", hex::encode(suffix)).into_bytes();
        let group = Group::create(
            MemberParams {
                config: group_config(),
                ..MemberParams::new(self.env.clone(), self.signer()?)
            },
            NewGroup::new(self.suite(), group_id.clone()),
            self.now(),
            &mut OsRandom,
        )?;
        self.ds.create_group(&group_id).await?;
        let row = GroupRow {
            group_id,
            name: name.to_owned(),
            state: group.to_bytes()?,
            cursor: 0,
            status: GroupStatus::Active,
            reason: None,
        };
        self.store.insert_group(&row)?;
        Ok(self.summary(&row))
    }

    /// Every group we know, by name.
    pub fn groups(&self) -> Result<Vec<GroupSummary>, ClientError> {
        Ok(self
            .store
            .groups()?
            .iter()
            .map(|row| self.summary(row))
            .collect())
    }

    /// One group.
    pub fn group(&self, name: &str) -> Result<GroupSummary, ClientError> {
        Ok(self.summary(&self.group_row(name)?))
    }

    /// The history of a group, in log order.
    pub fn history(&self, name: &str) -> Result<Vec<HistoryEntry>, ClientError> {
        let row = self.group_row(name)?;
        self.store.history(&row.group_id)
    }

    /// Adds `users` to the group in one commit (claiming one KeyPackage each, checking their
    /// credentials first; RFC 9420 §12.1.1). Users already in the group are skipped. Returns
    /// the users added.
    pub async fn add_members(
        &mut self,
        group: &str,
        users: &[String],
    ) -> Result<Vec<String>, ClientError> {
        let _lock = self.lock()?;
        for user in users {
            check_name(user)?;
        }
        let row = self.require_active(group)?;
        // Fail closed: a revoked client must not be added because the list was stale.
        self.refresh_revocations().await?;
        let before: HashSet<String> = self
            .member_names(&self.load_group(&row)?)
            .into_iter()
            .map(|(_, n)| n)
            .collect();
        self.run_commit(&row.group_id, &Op::Add(users.to_vec()))
            .await?;
        let row = self.group_row(group)?;
        let after = self.member_names(&self.load_group(&row)?);
        Ok(after
            .into_iter()
            .map(|(_, n)| n)
            .filter(|n| !before.contains(n) && users.contains(n))
            .collect())
    }

    /// Removes `users` from the group in one commit (RFC 9420 §12.1.3).
    pub async fn remove_members(
        &mut self,
        group: &str,
        users: &[String],
    ) -> Result<Vec<String>, ClientError> {
        let _lock = self.lock()?;
        let row = self.require_active(group)?;
        let current = self.load_group(&row)?;
        let members = self.member_names(&current);
        for user in users {
            if user == &self.profile.name {
                return Err(ClientError::CannotAdd {
                    user: user.clone(),
                    reason: "a member cannot commit its own removal (RFC 9420 §12.4): use \
                             `conclave group leave`"
                        .into(),
                });
            }
            if !members.iter().any(|(_, n)| n == user) {
                return Err(ClientError::NotAMember {
                    user: user.clone(),
                    group: group.to_owned(),
                });
            }
        }
        self.run_commit(&row.group_id, &Op::Remove(users.to_vec()))
            .await?;
        let row = self.group_row(group)?;
        let after: HashSet<String> = self
            .member_names(&self.load_group(&row)?)
            .into_iter()
            .map(|(_, n)| n)
            .collect();
        Ok(users
            .iter()
            .filter(|u| !after.contains(*u))
            .cloned()
            .collect())
    }

    /// Refreshes our keys in the group with an empty commit carrying an UpdatePath
    /// (RFC 9420 §12.4: post-compromise security); commits pending proposals too. Returns
    /// the new epoch.
    pub async fn update_keys(&mut self, group: &str) -> Result<u64, ClientError> {
        let _lock = self.lock()?;
        let row = self.require_active(group)?;
        self.run_commit(&row.group_id, &Op::Update).await?;
        self.epoch(group)
    }

    /// Leaves the group: posts a Remove proposal of our own leaf, which the next member to
    /// sync commits (RFC 9420 §12.1.3, §12.4: a member cannot commit its own removal).
    pub async fn leave(&mut self, group: &str) -> Result<(), ClientError> {
        let _lock = self.lock()?;
        let row = self.require_active(group)?;
        let group_id = row.group_id.clone();
        for _ in 0..self.options.max_attempts {
            self.settle_pending_commit(&group_id).await?;
            let row = self.require_active_by_id(&group_id)?;
            let mut state = self.load_group(&row)?;
            if state.members().count() <= 1 {
                let reason = "you left; you were the last member";
                self.store
                    .set_status(&group_id, GroupStatus::Left, Some(reason))?;
                return Ok(());
            }
            let own = state.own_leaf();
            let message = state.propose(
                Proposal::Remove(Remove { removed: own }),
                &[],
                &mut OsRandom,
            )?;
            self.store.save_state(&group_id, &state.to_bytes()?)?;
            match self
                .ds
                .post_message(&group_id, &message)
                .await
                .map_err(ClientError::from)
            {
                Ok(accepted) => {
                    let reason = "you left; the remaining members commit your removal";
                    self.store.add_history(
                        &group_id,
                        &HistoryEntry {
                            seq: accepted.seq,
                            epoch: state.epoch(),
                            sender: self.profile.name.clone(),
                            kind: "event".into(),
                            body: format!("{} asked to leave", self.profile.name),
                            at: self.now(),
                        },
                    )?;
                    self.store
                        .set_status(&group_id, GroupStatus::Left, Some(reason))?;
                    return Ok(());
                }
                Err(ClientError::WrongEpoch { .. }) => {
                    self.sync_group_log(&group_id).await?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(ClientError::TooManyRetries {
            attempts: self.options.max_attempts,
        })
    }

    /// Sends `text` to the group as an application message (a PrivateMessage, RFC 9420
    /// §6.3). Pending proposals are committed first (RFC 9420 §12.4). Returns the log
    /// position.
    pub async fn send(&mut self, group: &str, text: &str) -> Result<u64, ClientError> {
        let _lock = self.lock()?;
        let row = self.require_active(group)?;
        let group_id = row.group_id.clone();
        for _ in 0..self.options.max_attempts {
            self.settle_pending_commit(&group_id).await?;
            let row = self.require_active_by_id(&group_id)?;
            let mut state = self.load_group(&row)?;
            if self.has_foreign_proposals(&state) {
                self.run_commit(&group_id, &Op::CommitPending).await?;
                continue;
            }
            let message = state.encrypt_application_message(text.as_bytes(), &[], &mut OsRandom)?;
            let sent = digest(&message.to_bytes()?);
            // The ratchet moved: save before sending so a generation is never reused.
            self.store
                .save_state_and_outbox(&group_id, &state.to_bytes()?, &sent, text)?;
            match self
                .ds
                .post_message(&group_id, &message)
                .await
                .map_err(ClientError::from)
            {
                Ok(accepted) => {
                    self.store.record_sent(
                        &group_id,
                        &HistoryEntry {
                            seq: accepted.seq,
                            epoch: state.epoch(),
                            sender: self.profile.name.clone(),
                            kind: "message".into(),
                            body: text.to_owned(),
                            at: self.now(),
                        },
                        &sent,
                    )?;
                    return Ok(accepted.seq);
                }
                Err(ClientError::WrongEpoch { .. }) => {
                    self.sync_group_log(&group_id).await?;
                }
                Err(ClientError::Refused { status: 403, .. }) => {
                    self.sync_group_log(&group_id).await?;
                    self.require_active_by_id(&group_id)?;
                    return Err(ClientError::GroupInactive {
                        group: row.name,
                        reason: "the Delivery Service refused the message: you are not a member"
                            .into(),
                    });
                }
                Err(e) => return Err(e),
            }
        }
        Err(ClientError::TooManyRetries {
            attempts: self.options.max_attempts,
        })
    }

    /// Whether proposals of other members wait for a commit.
    fn has_foreign_proposals(&self, group: &Group) -> bool {
        let own = Sender::Member(group.own_leaf());
        group.pending_proposals().any(|(sender, _)| *sender != own)
    }

    /// A commit of ours left pending by an interrupted run: the log tells whether the DS
    /// took it (then it is merged as its echo); if not, it is dropped.
    async fn settle_pending_commit(&mut self, group_id: &[u8]) -> Result<(), ClientError> {
        let row = self.require_active_by_id(group_id)?;
        if !self.load_group(&row)?.has_pending_commit() {
            return Ok(());
        }
        self.sync_group_log(group_id).await?;
        let row = self.require_active_by_id(group_id)?;
        let mut group = self.load_group(&row)?;
        if group.has_pending_commit() {
            group.clear_pending_commit();
            self.store.save_state(group_id, &group.to_bytes()?)?;
        }
        Ok(())
    }

    /// Claims a KeyPackage of `user` and checks it: the KeyPackage is of the group's suite,
    /// presents `mls://<user>` (the DS must not substitute someone else), and its credential
    /// is valid now under our trust anchor and not revoked (RFC 9420 §5.3.1, §5.3.2).
    async fn claim_checked(
        &mut self,
        user: &str,
        suite: CipherSuite,
    ) -> Result<KeyPackage, ClientError> {
        let claimed = self
            .ds
            .claim_key_package(user, suite)
            .await
            .map_err(ClientError::from)
            .map_err(|e| match e {
                ClientError::Refused { status: 404, .. } => ClientError::CannotAdd {
                    user: user.to_owned(),
                    reason: "the Delivery Service has no KeyPackage of this user (are they \
                             registered? they publish more when they next sync)"
                        .into(),
                },
                other => other,
            })?;
        let MlsMessageBody::KeyPackage(kp) = claimed.message.body else {
            return Err(ClientError::bad(
                DS,
                BadResponse::Mls("a claimed KeyPackage is not a KeyPackage".into()),
            ));
        };
        if kp.cipher_suite != suite {
            return Err(ClientError::CannotAdd {
                user: user.to_owned(),
                reason: format!(
                    "their KeyPackage is for cipher suite {}, the group uses {}",
                    kp.cipher_suite.0, suite.0
                ),
            });
        }
        let presented = self
            .env
            .identity
            .identity(&kp.leaf_node.credential)
            .map_err(|source| ClientError::CredentialRefused {
                user: user.to_owned(),
                source,
            })?;
        if name_of_identity(&presented) != Some(user) {
            return Err(ClientError::CannotAdd {
                user: user.to_owned(),
                reason: format!(
                    "the Delivery Service returned a KeyPackage of {:?}",
                    String::from_utf8_lossy(&presented)
                ),
            });
        }
        let cs = crypto_suite(suite)?;
        self.env
            .identity
            .validate_credential(&CredentialCheck {
                credential: &kp.leaf_node.credential,
                signature_key: &kp.leaf_node.signature_key,
                signature_scheme: cs.signature(),
                role: CredentialRole::NewMember,
                now: self.now(),
            })
            .map_err(|source| ClientError::CredentialRefused {
                user: user.to_owned(),
                source,
            })?;
        Ok(kp)
    }

    /// The DS client ids of the members of the epoch a GroupInfo describes.
    fn members_of_group_info(&self, message: &MlsMessage) -> Result<Vec<String>, ClientError> {
        let MlsMessageBody::GroupInfo(info) = &message.body else {
            return Err(ClientError::CorruptState(
                "our commit produced no GroupInfo".into(),
            ));
        };
        let nodes = find_payload::<RatchetTreeNodes>(&info.extensions)?.ok_or_else(|| {
            ClientError::CorruptState("our GroupInfo carries no ratchet tree".into())
        })?;
        let tree = RatchetTree::from_nodes(nodes)
            .map_err(|e| ClientError::Group(conclave_core::group::GroupError::from(e)))?;
        Ok(tree
            .members()
            .map(|(_, leaf)| self.leaf_name(leaf))
            .collect())
    }

    /// Runs a membership operation as one commit, retrying when another commit wins the
    /// epoch (RFC 9750 §5.2). `Ok(None)`: nothing left to do.
    async fn run_commit(
        &mut self,
        group_id: &[u8],
        op: &Op,
    ) -> Result<Option<Accepted>, ClientError> {
        let mut claimed: HashMap<String, KeyPackage> = HashMap::new();
        for _ in 0..self.options.max_attempts {
            self.settle_pending_commit(group_id).await?;
            let row = self.require_active_by_id(group_id)?;
            let mut group = self.load_group(&row)?;
            let members = self.member_names(&group);
            let is_member = |user: &str| members.iter().any(|(_, n)| n == user);
            let proposals = match op {
                Op::Add(users) => {
                    let todo: Vec<String> =
                        users.iter().filter(|u| !is_member(u)).cloned().collect();
                    if todo.is_empty() {
                        return Ok(None);
                    }
                    let total = todo.len() as u64;
                    let mut proposals = Vec::with_capacity(todo.len());
                    for (i, user) in todo.iter().enumerate() {
                        let kp = match claimed.get(user) {
                            Some(kp) => kp.clone(),
                            None => {
                                let kp = self.claim_checked(user, group.cipher_suite()).await?;
                                claimed.insert(user.clone(), kp.clone());
                                kp
                            }
                        };
                        self.report_progress("claiming KeyPackages", i as u64 + 1, total);
                        proposals.push(Proposal::Add(Add { key_package: kp }));
                    }
                    proposals
                }
                Op::Remove(users) => {
                    let proposals: Vec<Proposal> = members
                        .iter()
                        .filter(|(leaf, n)| users.contains(n) && *leaf != group.own_leaf())
                        .map(|(leaf, _)| Proposal::Remove(Remove { removed: *leaf }))
                        .collect();
                    if proposals.is_empty() {
                        return Ok(None);
                    }
                    proposals
                }
                Op::CommitPending => {
                    if !self.has_foreign_proposals(&group) {
                        return Ok(None);
                    }
                    Vec::new()
                }
                Op::Update => Vec::new(),
            };
            self.report_progress("building the commit", 0, 1);
            let output = group.commit(
                &CommitOptions {
                    proposals,
                    ..CommitOptions::default()
                },
                self.now(),
                &mut OsRandom,
            )?;
            let members_after = self.members_of_group_info(&output.group_info)?;
            // Saved with the pending commit before posting: if we die after the DS took it,
            // the echo is still recognised as ours.
            self.store.save_state(group_id, &group.to_bytes()?)?;
            let bundle = CommitBundle {
                commit: output.commit,
                welcome: output.welcome,
                group_info: output.group_info,
                ratchet_tree: None,
                members: members_after.into_iter().map(String::into_bytes).collect(),
                allow_external_join: None,
            };
            self.report_progress("uploading the commit", 0, 1);
            match self
                .ds
                .post_commit(group_id, &bundle)
                .await
                .map_err(ClientError::from)
            {
                Ok(accepted) => {
                    self.report_progress("uploading the commit", 1, 1);
                    self.sync_group_log(group_id).await?;
                    return Ok(Some(accepted));
                }
                Err(ClientError::WrongEpoch { .. }) => {
                    tracing::info!("our commit lost the race for the epoch: catching up");
                    group.clear_pending_commit();
                    self.store.save_state(group_id, &group.to_bytes()?)?;
                    self.sync_group_log(group_id).await?;
                }
                // We cannot know whether the DS took it: keep it pending; the next
                // operation settles it from the log.
                Err(e @ ClientError::Unreachable { .. }) => return Err(e),
                Err(e) => {
                    group.clear_pending_commit();
                    self.store.save_state(group_id, &group.to_bytes()?)?;
                    return Err(e);
                }
            }
        }
        Err(ClientError::TooManyRetries {
            attempts: self.options.max_attempts,
        })
    }

    // ---- sync -----------------------------------------------------------------------------

    /// Catches up: joins groups from Welcomes, applies every group's log in order, commits
    /// proposals others left pending, and tops up KeyPackages.
    pub async fn sync(&mut self) -> Result<SyncReport, ClientError> {
        let _lock = self.lock()?;
        let mut report = SyncReport::default();
        if let Err(e) = self.refresh_revocations().await {
            report
                .warnings
                .push(format!("using the last known revocation list: {e}"));
        }
        report.joined = self.process_welcomes().await?;
        if let Err(e) = self.renew_credential_if_due(&mut report).await {
            report.warnings.push(format!(
                "could not renew the certificate (it stays valid until it expires): {e}"
            ));
        }
        for row in self.store.groups()? {
            if row.status != GroupStatus::Active {
                continue;
            }
            let (applied, messages) = self.sync_group_log_counted(&row.group_id).await?;
            report.applied += applied;
            report.messages += messages;
            let Some(row) = self.store.group_by_id(&row.group_id)? else {
                continue;
            };
            if row.status == GroupStatus::Desynchronized {
                report.desynchronized.push(row.name.clone());
                continue;
            }
            if row.status != GroupStatus::Active {
                continue;
            }
            if self.has_foreign_proposals(&self.load_group(&row)?)
                && let Err(e) = self.run_commit(&row.group_id, &Op::CommitPending).await
            {
                report.warnings.push(format!(
                    "group {:?}: could not commit pending proposals: {e}",
                    row.name
                ));
            }
        }
        self.top_up_inner().await?;
        Ok(report)
    }

    /// Joins groups from the Welcome inbox (RFC 9420 §12.4.3.1).
    async fn process_welcomes(&mut self) -> Result<u64, ClientError> {
        let mut cursor = self.store.welcome_cursor()?;
        let start = cursor;
        let mut joined = 0;
        loop {
            let page = self.ds.welcomes(cursor).await?;
            if page.is_empty() {
                break;
            }
            for welcome in &page {
                match self.join_from_welcome(welcome) {
                    Ok(Some(event)) => {
                        joined += 1;
                        self.emit(&event);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        self.store.set_welcome_cursor(welcome.id)?;
                        self.emit(&Event::JoinFailed {
                            reason: e.to_string(),
                        });
                    }
                }
                cursor = welcome.id;
            }
        }
        if cursor > start {
            // Best effort: the cursor already protects us from using a Welcome twice.
            if let Err(e) = self.ds.ack_welcomes(cursor).await {
                tracing::debug!(error = %e, "could not acknowledge Welcomes");
            }
        }
        Ok(joined)
    }

    fn join_from_welcome(&mut self, view: &WelcomeView) -> Result<Option<Event>, ClientError> {
        let kp_ref = hex::decode(&view.key_package_ref)
            .map_err(|e| ClientError::bad(DS, BadResponse::Encoding(e.to_string())))?;
        let Some(stored) = self.store.key_package(&kp_ref)? else {
            return Err(ClientError::CorruptState(format!(
                "a Welcome names KeyPackage {} whose private key this client does not have \
                 (used already, or published by another installation)",
                view.key_package_ref
            )));
        };
        let message = MlsMessage::from_bytes(&b64_decode(DS, &view.message)?)
            .map_err(|e| ClientError::bad(DS, BadResponse::Mls(e.to_string())))?;
        let MlsMessageBody::Welcome(welcome) = message.body else {
            return Err(ClientError::bad(
                DS,
                BadResponse::Mls("an inbox entry is not a Welcome".into()),
            ));
        };
        let bundle = KeyPackageBundle {
            key_package: KeyPackage::from_bytes(&stored.key_package)?,
            init_private_key: stored.init_private.clone(),
            encryption_private_key: stored.encryption_private.clone(),
        };
        let group = Group::join(
            MemberParams {
                config: group_config(),
                ..MemberParams::new(self.env.clone(), self.signer()?)
            },
            &welcome,
            &bundle,
            &JoinOptions::default(),
            self.now(),
        )?;
        let group_id = group.group_id().to_vec();
        let existing = self.store.group_by_id(&group_id)?;
        if let Some(row) = &existing
            && row.status == GroupStatus::Active
            && self.load_group(row).map(|g| g.epoch()).unwrap_or(0) >= group.epoch()
        {
            self.store.set_welcome_cursor(view.id)?;
            return Ok(None);
        }
        let name = match existing {
            Some(row) => row.name,
            None => self.unique_name(&display_name(&group_id))?,
        };
        let members: Vec<String> = self
            .member_names(&group)
            .into_iter()
            .map(|(_, n)| n)
            .collect();
        let row = GroupRow {
            group_id: group_id.clone(),
            name: name.clone(),
            state: group.to_bytes()?,
            cursor: 0,
            status: GroupStatus::Active,
            reason: None,
        };
        let event = HistoryEntry {
            seq: 0,
            epoch: group.epoch(),
            sender: String::new(),
            kind: "event".into(),
            body: format!("you joined; members: {}", members.join(", ")),
            at: self.now(),
        };
        let used = (!stored.last_resort).then_some(kp_ref.as_slice());
        self.store.join_group(&row, &event, used, view.id)?;
        Ok(Some(Event::Joined {
            group: name,
            epoch: group.epoch(),
            members,
        }))
    }

    async fn sync_group_log(&mut self, group_id: &[u8]) -> Result<u64, ClientError> {
        self.sync_group_log_counted(group_id).await.map(|(a, _)| a)
    }

    /// Applies the group's log after our cursor, in order, one entry per transaction.
    /// Returns (entries applied, messages received).
    async fn sync_group_log_counted(&mut self, group_id: &[u8]) -> Result<(u64, u64), ClientError> {
        let Some(row) = self.store.group_by_id(group_id)? else {
            return Ok((0, 0));
        };
        if row.status != GroupStatus::Active {
            return Ok((0, 0));
        }
        let mut group = self.load_group(&row)?;
        let mut cursor = row.cursor;
        let mut invalid: Option<String> = None;
        let (mut applied, mut messages) = (0u64, 0u64);
        loop {
            let page = match self
                .ds
                .read_log(group_id, cursor, self.options.page_size)
                .await
                .map_err(ClientError::from)
            {
                Ok(page) => page,
                Err(ClientError::Refused { status: 403, .. }) => {
                    let reason = "removed from the group: the Delivery Service no longer \
                                  counts you as a member, and you hold no key for its new \
                                  epochs";
                    self.store
                        .set_status(group_id, GroupStatus::Removed, Some(reason))?;
                    self.emit(&Event::Removed {
                        group: row.name.clone(),
                        reason: reason.into(),
                    });
                    return Ok((applied, messages));
                }
                Err(e) => return Err(e),
            };
            if page.is_empty() {
                break;
            }
            for entry in &page {
                if entry.seq <= cursor {
                    continue;
                }
                let outcome = self.process_entry(&mut group, &row.name, entry, &mut invalid)?;
                let (status, reason) = match &outcome.status {
                    Some((s, r)) => (*s, Some(r.as_str())),
                    None => (GroupStatus::Active, None),
                };
                self.store.apply_entry(
                    group_id,
                    &group.to_bytes()?,
                    &AppliedEntry {
                        cursor: entry.seq,
                        status,
                        reason,
                        history: outcome.history.as_ref(),
                        sent_digest: outcome.sent_digest.as_deref(),
                    },
                )?;
                cursor = entry.seq;
                applied += 1;
                if outcome.is_message {
                    messages += 1;
                }
                if let Some(event) = &outcome.event {
                    self.emit(event);
                }
                if status != GroupStatus::Active {
                    return Ok((applied, messages));
                }
            }
        }
        if let Some(reason) = invalid {
            // The DS accepts one commit per epoch and took this one: nobody can move the
            // group from our epoch any more (RFC 9750 "Invalid Commits").
            self.desynchronize(group_id, &row.name, group.epoch(), &reason)?;
        }
        Ok((applied, messages))
    }

    fn desynchronize(
        &mut self,
        group_id: &[u8],
        name: &str,
        epoch: u64,
        reason: &str,
    ) -> Result<(), ClientError> {
        self.store
            .set_status(group_id, GroupStatus::Desynchronized, Some(reason))?;
        self.emit(&Event::Desynchronized {
            group: name.to_owned(),
            epoch,
            reason: reason.to_owned(),
        });
        Ok(())
    }

    fn describe_commit(
        &self,
        summary: &CommitSummary,
        before: &HashMap<LeafIndex, String>,
        group: &Group,
    ) -> String {
        let name_now = |leaf: LeafIndex| {
            group
                .tree()
                .leaf(leaf)
                .map(|l| self.leaf_name(l))
                .or_else(|| before.get(&leaf).cloned())
                .unwrap_or_else(|| format!("leaf {}", leaf.0))
        };
        let committer = summary
            .committer_leaf
            .map(name_now)
            .unwrap_or_else(|| "someone".into());
        let added: Vec<String> = summary.added.iter().map(|l| name_now(*l)).collect();
        let removed: Vec<String> = summary
            .removed
            .iter()
            .map(|l| {
                before
                    .get(l)
                    .cloned()
                    .unwrap_or_else(|| format!("leaf {}", l.0))
            })
            .collect();
        let mut parts = Vec::new();
        if !added.is_empty() {
            parts.push(format!("added {}", added.join(", ")));
        }
        if !removed.is_empty() {
            parts.push(format!("removed {}", removed.join(", ")));
        }
        if parts.is_empty() {
            parts.push("updated the group keys".into());
        }
        format!("{committer} {}", parts.join(" and "))
    }

    /// Applies one log entry to `group` (not yet saved).
    fn process_entry(
        &self,
        group: &mut Group,
        name: &str,
        entry: &LogEntryView,
        invalid: &mut Option<String>,
    ) -> Result<Outcome, ClientError> {
        let ours = group.epoch();
        if entry.epoch < ours {
            // From before we joined, or of an epoch we already left: not for us.
            return Ok(Outcome::default());
        }
        if entry.epoch > ours {
            let reason = invalid.take().unwrap_or_else(|| {
                format!(
                    "the log moved to epoch {} but holds no commit we could apply for epoch \
                     {ours}",
                    entry.epoch
                )
            });
            return Ok(self.desync_outcome(name, ours, reason));
        }
        let decoded = b64_decode(DS, &entry.message).and_then(|bytes| {
            MlsMessage::from_bytes(&bytes)
                .map(|m| (m, bytes))
                .map_err(|e| ClientError::bad(DS, BadResponse::Mls(e.to_string())))
        });
        let now = self.now();
        match entry.content_type {
            3 => {
                let before: HashMap<LeafIndex, String> =
                    self.member_names(group).into_iter().collect();
                let result = decoded
                    .map_err(|e| e.to_string())
                    .and_then(|(m, _)| group.process_message(&m, now).map_err(|e| e.to_string()));
                match result {
                    Ok(ProcessedMessage::Commit(summary))
                    | Ok(ProcessedMessage::OwnCommitMerged(summary)) => {
                        *invalid = None;
                        let text = self.describe_commit(&summary, &before, group);
                        let mut outcome = Outcome {
                            history: Some(HistoryEntry {
                                seq: entry.seq,
                                epoch: summary.epoch,
                                sender: entry.sender.clone(),
                                kind: "event".into(),
                                body: text.clone(),
                                at: now,
                            }),
                            event: Some(Event::Membership {
                                group: name.to_owned(),
                                seq: entry.seq,
                                epoch: summary.epoch,
                                text: text.clone(),
                            }),
                            ..Outcome::default()
                        };
                        if summary.self_removed {
                            let reason = format!(
                                "removed from the group at epoch {} ({text}); you hold no key \
                                 for later epochs",
                                summary.epoch
                            );
                            outcome.status = Some((GroupStatus::Removed, reason.clone()));
                            outcome.event = Some(Event::Removed {
                                group: name.to_owned(),
                                reason,
                            });
                        }
                        Ok(outcome)
                    }
                    Ok(_) => {
                        if invalid.is_none() {
                            *invalid = Some(format!(
                                "log entry {} is labelled a commit but is not one",
                                entry.seq
                            ));
                        }
                        Ok(Outcome::default())
                    }
                    Err(reason) => {
                        // Keep looking for a valid commit of this epoch (the first valid one
                        // wins); remember the first failure for the report.
                        if invalid.is_none() {
                            *invalid = Some(format!(
                                "the commit at log entry {} (epoch {}, from {}) is invalid: \
                                 {reason}",
                                entry.seq, entry.epoch, entry.sender
                            ));
                        }
                        Ok(Outcome::default())
                    }
                }
            }
            1 => {
                let (message, bytes) = match decoded {
                    Ok(d) => d,
                    Err(e) => return Ok(self.undecryptable(name, entry, e.to_string(), now)),
                };
                match group.process_message(&message, now) {
                    Ok(ProcessedMessage::Application { sender, data, .. }) => {
                        let sender = group
                            .tree()
                            .leaf(sender)
                            .map(|l| self.leaf_name(l))
                            .unwrap_or_else(|| entry.sender.clone());
                        let text = String::from_utf8_lossy(&data).into_owned();
                        Ok(Outcome {
                            history: Some(HistoryEntry {
                                seq: entry.seq,
                                epoch: entry.epoch,
                                sender: sender.clone(),
                                kind: "message".into(),
                                body: text.clone(),
                                at: now,
                            }),
                            event: Some(Event::Message {
                                group: name.to_owned(),
                                seq: entry.seq,
                                epoch: entry.epoch,
                                sender,
                                text,
                            }),
                            is_message: true,
                            ..Outcome::default()
                        })
                    }
                    Ok(ProcessedMessage::OwnMessage) => {
                        // Our own message: its key is gone (RFC 9420 §9.2); the outbox kept
                        // the text in case we died before recording it.
                        let sent = digest(&bytes);
                        match self.store.outbox(&sent)? {
                            Some(text) => Ok(Outcome {
                                history: Some(HistoryEntry {
                                    seq: entry.seq,
                                    epoch: entry.epoch,
                                    sender: self.profile.name.clone(),
                                    kind: "message".into(),
                                    body: text,
                                    at: now,
                                }),
                                sent_digest: Some(sent),
                                is_message: true,
                                ..Outcome::default()
                            }),
                            None => Ok(Outcome::default()),
                        }
                    }
                    Ok(_) => Ok(self.undecryptable(
                        name,
                        entry,
                        "labelled application data but is not".into(),
                        now,
                    )),
                    Err(e) => Ok(self.undecryptable(name, entry, e.to_string(), now)),
                }
            }
            2 => {
                let (message, _) = match decoded {
                    Ok(d) => d,
                    Err(e) => return Ok(self.undecryptable(name, entry, e.to_string(), now)),
                };
                match group.process_message(&message, now) {
                    Ok(ProcessedMessage::Proposal {
                        sender, proposal, ..
                    }) => {
                        let who = match sender {
                            Sender::Member(leaf) => group
                                .tree()
                                .leaf(leaf)
                                .map(|l| self.leaf_name(l))
                                .unwrap_or_else(|| entry.sender.clone()),
                            _ => entry.sender.clone(),
                        };
                        let text = match (&*proposal, sender) {
                            (Proposal::Remove(r), Sender::Member(leaf)) if r.removed == leaf => {
                                format!("{who} asked to leave")
                            }
                            (p, _) => format!("{who} proposed {:?}", p.proposal_type()),
                        };
                        Ok(Outcome {
                            history: Some(HistoryEntry {
                                seq: entry.seq,
                                epoch: entry.epoch,
                                sender: who,
                                kind: "event".into(),
                                body: text.clone(),
                                at: now,
                            }),
                            event: Some(Event::Proposal {
                                group: name.to_owned(),
                                seq: entry.seq,
                                text,
                            }),
                            ..Outcome::default()
                        })
                    }
                    Ok(_) => Ok(Outcome::default()),
                    Err(e) => Ok(self.undecryptable(name, entry, e.to_string(), now)),
                }
            }
            other => {
                Ok(self.undecryptable(name, entry, format!("unknown content type {other}"), now))
            }
        }
    }

    fn desync_outcome(&self, name: &str, epoch: u64, reason: String) -> Outcome {
        Outcome {
            status: Some((GroupStatus::Desynchronized, reason.clone())),
            event: Some(Event::Desynchronized {
                group: name.to_owned(),
                epoch,
                reason,
            }),
            ..Outcome::default()
        }
    }

    fn undecryptable(&self, name: &str, entry: &LogEntryView, reason: String, now: u64) -> Outcome {
        Outcome {
            history: Some(HistoryEntry {
                seq: entry.seq,
                epoch: entry.epoch,
                sender: entry.sender.clone(),
                kind: "undecryptable".into(),
                body: reason.clone(),
                at: now,
            }),
            event: Some(Event::Undecryptable {
                group: name.to_owned(),
                seq: entry.seq,
                epoch: entry.epoch,
                reason,
            }),
            ..Outcome::default()
        }
    }

    // ---- diagnostics ----------------------------------------------------------------------

    /// Tries to decrypt `message` (an `MLSMessage`) with our state of the group, without
    /// keeping any change. Shows what a member — or a former member — can read.
    pub fn try_decrypt(&self, group: &str, message: &[u8]) -> Result<String, ClientError> {
        let row = self.group_row(group)?;
        let mut state = self.load_group(&row)?;
        let message = MlsMessage::from_bytes(message)?;
        match state.process_message(&message, self.now())? {
            ProcessedMessage::Application { data, .. } => {
                Ok(String::from_utf8_lossy(&data).into_owned())
            }
            _ => Err(ClientError::bad(
                DS,
                BadResponse::Mls("not an application message".into()),
            )),
        }
    }

    /// Our epoch in a group.
    pub fn epoch(&self, group: &str) -> Result<u64, ClientError> {
        let row = self.group_row(group)?;
        Ok(self.load_group(&row)?.epoch())
    }

    // ---- live -----------------------------------------------------------------------------

    /// Syncs, then follows the DS WebSocket: every wake-up triggers a sync (new messages are
    /// reported to the observer). Reconnects when the connection drops; a sync also runs
    /// every `idle` without wake-ups. Returns when `stop` completes.
    pub async fn watch(
        &mut self,
        idle: std::time::Duration,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<(), ClientError> {
        tokio::pin!(stop);
        loop {
            let url = self.ds.websocket_url().await?;
            let connection = tokio_tungstenite::connect_async(url.as_str()).await;
            let mut socket = match connection {
                Ok((socket, _)) => Some(socket),
                Err(e) => {
                    tracing::warn!(error = %e, "WebSocket connection failed; polling");
                    None
                }
            };
            self.sync().await?;
            loop {
                let next = async {
                    match socket.as_mut() {
                        Some(s) => s.next().await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    () = &mut stop => return Ok(()),
                    frame = next => match frame {
                        Some(Ok(tokio_tungstenite::tungstenite::Message::Text(_))) => {
                            self.sync().await?;
                        }
                        Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_)))
                        | Some(Err(_))
                        | None => break,
                        Some(Ok(_)) => {}
                    },
                    () = tokio::time::sleep(idle) => {
                        self.sync().await?;
                        if socket.is_none() {
                            break;
                        }
                    }
                }
            }
            tokio::select! {
                () = &mut stop => return Ok(()),
                () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            }
        }
    }
}
