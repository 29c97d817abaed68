//! A handle for applications: one MLS client (RFC 9420 §2 "client") with its signing
//! identity, its storage, and the randomness and clock it was given once, when it was built.
//! The groups it creates, joins or loads ([`MemberGroup`]) use them, and are saved to the
//! storage ([`crate::storage`]) after every operation that changes them.
//!
//! Sans-IO still: the core reads no clock and no OS randomness; the application injects
//! them here (e.g. `conclave_crypto_awslc::SystemRandom` and a closure over the system
//! time), and its [`Storage`] implementation does the I/O.
//!
//! [`Member`] shows the whole life cycle: create, add, join, send, receive, reload.

use std::ops::Deref;
use std::sync::{Arc, Mutex};

use conclave_crypto::{CipherSuite, CryptoError, CryptoProvider, CryptoRandom};

use crate::credential::{BasicIdentityProvider, IdentityProvider};
use crate::group::{
    CommitBuilder, CommitOutput, CommitSummary, Components, Group, GroupConfig, GroupEnv,
    GroupError, JoinOptions, KeyPackageBundle, LeafOptions, MemberParams, NewGroup,
    ProcessedMessage, PskStore, SigningIdentity,
};
use crate::messages::{
    AppDataUpdate, AppEphemeral, Credential, Extension, MediaType, MlsMessage, MlsMessageBody,
    Proposal, Welcome, WireFormat,
};
use crate::storage::{InMemoryStorage, Storage, StorageError, StoredKeyPackage};

/// The current time in Unix seconds, as the application reads it (the core never does).
/// Any `Fn() -> u64` is a clock.
pub trait Clock: Send + Sync {
    /// Seconds since the Unix epoch.
    fn now(&self) -> u64;
}

impl<F: Fn() -> u64 + Send + Sync> Clock for F {
    fn now(&self) -> u64 {
        self()
    }
}

/// Why an operation of a [`Member`] or [`MemberGroup`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MemberError {
    /// The MLS operation failed (the group is unchanged, RFC 9420 rules name themselves).
    #[error(transparent)]
    Group(#[from] GroupError),
    /// Reading or writing the storage failed. After a failed write the group in memory is
    /// kept and its next save rewrites every record.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// None of the Welcome's entries is for a KeyPackage in our storage
    /// (RFC 9420 §12.4.3.1).
    #[error("the Welcome is for none of our stored KeyPackages (RFC 9420 §12.4.3.1)")]
    NoMatchingKeyPackage,
    /// The message is not of the kind the operation takes.
    #[error("expected a {expected:?} message, got {got:?}")]
    UnexpectedMessage {
        /// What the operation takes.
        expected: WireFormat,
        /// What it got.
        got: WireFormat,
    },
    /// The storage holds no group with this id.
    #[error("no stored group with this id")]
    GroupNotFound,
    /// [`MemberBuilder::build`] lacks a required setting.
    #[error("the member builder needs {0}")]
    Missing(&'static str),
}

/// What a [`Member`] shares with its groups: the storage, the randomness and the clock.
pub struct Runtime {
    storage: Arc<dyn Storage>,
    rng: Mutex<Box<dyn CryptoRandom + Send>>,
    clock: Box<dyn Clock>,
}

impl core::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Runtime").finish_non_exhaustive()
    }
}

/// The shared random source, locked for each draw only.
struct SharedRng<'a>(&'a Mutex<Box<dyn CryptoRandom + Send>>);

impl CryptoRandom for SharedRng<'_> {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), CryptoError> {
        self.0
            .lock()
            .map_err(|_| CryptoError::RandomFailed)?
            .fill(dest)
    }
}

impl Runtime {
    fn now(&self) -> u64 {
        self.clock.now()
    }

    fn rng(&self) -> SharedRng<'_> {
        SharedRng(&self.rng)
    }

    /// Writes the group's changes ([`Group::take_changes`]); if that fails, the group's next
    /// save is a full rewrite.
    fn save(&self, group: &mut Group) -> Result<(), MemberError> {
        let changes = group.take_changes()?;
        if changes.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.storage.write_changes(&changes) {
            group.force_full_save();
            return Err(e.into());
        }
        Ok(())
    }
}

/// One MLS client: its services, signing identity, group policy and storage, and the
/// randomness and clock injected when it was built ([`Member::builder`]).
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use std::time::{SystemTime, UNIX_EPOCH};
///
/// use conclave_core::group::ProcessedMessage;
/// use conclave_core::member::Member;
/// use conclave_core::messages::Credential;
/// use conclave_core::storage::InMemoryStorage;
/// use conclave_crypto_awslc::{AwsLcProvider, SystemRandom};
///
/// let now = || SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
/// let member = |name: &str, storage: Arc<InMemoryStorage>| {
///     Member::builder()
///         .crypto(AwsLcProvider)
///         .credential(Credential::Basic { identity: name.into() })
///         .storage(storage)
///         .random(SystemRandom)
///         .clock(now)
///         .build()
/// };
/// let alice = member("alice", Arc::new(InMemoryStorage::new()))?;
/// let bob_storage = Arc::new(InMemoryStorage::new()); // the application's database
/// let bob = member("bob", bob_storage.clone())?;
///
/// // Bob publishes a KeyPackage; Alice creates a group and adds him.
/// let key_package = bob.generate_key_package()?;
/// let mut alice_group = alice.create_group(b"team".to_vec())?;
/// let commit = alice_group.commit_builder().add_member(&key_package)?.build()?;
/// alice_group.merge_pending_commit()?; // once the Delivery Service accepted the commit
/// let welcome = commit.welcome.ok_or("no Welcome")?;
/// let mut bob_group = bob.join(&welcome)?; // finds his KeyPackage in his storage
///
/// // Alice sends, Bob reads.
/// let message = alice_group.send(b"hello bob")?;
/// let ProcessedMessage::Application { data, .. } = bob_group.process(&message)? else {
///     return Err("not an application message".into());
/// };
/// assert_eq!(data, b"hello bob");
///
/// // Every operation was saved: after a restart, Bob's group loaded from his storage
/// // reads the next message.
/// drop((bob_group, bob));
/// let bob = member("bob", bob_storage)?;
/// let mut bob_group = bob.load_group(b"team")?;
/// let message = alice_group.send(b"still there?")?;
/// let ProcessedMessage::Application { data, .. } = bob_group.process(&message)? else {
///     return Err("not an application message".into());
/// };
/// assert_eq!(data, b"still there?");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Member {
    params: MemberParams,
    cipher_suite: CipherSuite,
    runtime: Arc<Runtime>,
}

impl Member {
    /// Starts building a member.
    pub fn builder() -> MemberBuilder {
        MemberBuilder::default()
    }

    /// Services, signer, group policy and leaf parameters.
    pub fn params(&self) -> &MemberParams {
        &self.params
    }

    /// Our signature key pair and credential.
    pub fn signer(&self) -> &SigningIdentity {
        &self.params.signer
    }

    /// The cipher suite of our KeyPackages and new groups.
    pub fn cipher_suite(&self) -> CipherSuite {
        self.cipher_suite
    }

    /// The storage (group records, KeyPackages, external PSKs).
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.runtime.storage
    }

    /// The current time of the injected clock.
    pub fn now(&self) -> u64 {
        self.runtime.now()
    }

    /// Generates a one-time KeyPackage (RFC 9420 §10), stores its private keys until a
    /// Welcome uses it, and returns it to publish.
    pub fn generate_key_package(&self) -> Result<MlsMessage, MemberError> {
        self.key_package(false)
    }

    /// Generates a "last resort" KeyPackage (RFC 9420 §16.8), kept after use, for when the
    /// one-time ones run out. It carries the last-resort marker of the member's codepoint
    /// profile (draft-ietf-mls-extensions-10 §6.4, [`crate::last_resort`]).
    pub fn generate_last_resort_key_package(&self) -> Result<MlsMessage, MemberError> {
        self.key_package(true)
    }

    fn key_package(&self, last_resort: bool) -> Result<MlsMessage, MemberError> {
        let generate = if last_resort {
            KeyPackageBundle::generate_last_resort
        } else {
            KeyPackageBundle::generate
        };
        let bundle = generate(
            &self.params,
            self.cipher_suite,
            self.runtime.now(),
            &mut self.runtime.rng(),
        )?;
        let cs = self.params.env.suite(self.cipher_suite)?;
        let reference = crate::welcome::key_package_ref(cs.as_ref(), &bundle.key_package)
            .map_err(GroupError::from)?;
        let message = MlsMessage::new(MlsMessageBody::KeyPackage(bundle.key_package.clone()));
        self.runtime.storage.insert_key_package(
            &reference,
            &StoredKeyPackage {
                bundle,
                last_resort,
            },
        )?;
        Ok(message)
    }

    /// Creates a group `group_id` in our cipher suite, without group context extensions
    /// (RFC 9420 §11), and saves it.
    pub fn create_group(&self, group_id: Vec<u8>) -> Result<MemberGroup, MemberError> {
        self.create_group_with(NewGroup::new(self.cipher_suite, group_id))
    }

    /// Creates a group (RFC 9420 §11) and saves it.
    pub fn create_group_with(&self, group: NewGroup) -> Result<MemberGroup, MemberError> {
        let group = Group::create(
            self.params.clone(),
            group,
            self.runtime.now(),
            &mut self.runtime.rng(),
        )?;
        self.adopt(group)
    }

    /// Joins the group of a Welcome message (RFC 9420 §12.4.3.1); see
    /// [`Member::join_welcome`].
    pub fn join(&self, welcome: &MlsMessage) -> Result<MemberGroup, MemberError> {
        match &welcome.body {
            MlsMessageBody::Welcome(w) => self.join_welcome(w, &JoinOptions::default()),
            _ => Err(MemberError::UnexpectedMessage {
                expected: WireFormat::WELCOME,
                got: welcome.wire_format(),
            }),
        }
    }

    /// Joins the group of a Welcome (RFC 9420 §12.4.3.1): finds the entry for one of our
    /// stored KeyPackages by its reference, joins with it, saves the group, and deletes the
    /// KeyPackage's private keys unless it is a last-resort one (§16.8). If that deletion
    /// fails the error is returned, and the group is already stored ([`Member::load_group`]).
    pub fn join_welcome(
        &self,
        welcome: &Welcome,
        options: &JoinOptions,
    ) -> Result<MemberGroup, MemberError> {
        let storage = &self.runtime.storage;
        let mut found = None;
        for entry in &welcome.secrets {
            if let Some(stored) = storage.key_package(&entry.new_member)? {
                found = Some((entry.new_member.clone(), stored));
                break;
            }
        }
        let (reference, stored) = found.ok_or(MemberError::NoMatchingKeyPackage)?;
        let group = Group::join(
            self.params.clone(),
            welcome,
            &stored.bundle,
            options,
            self.runtime.now(),
        )?;
        let group = self.adopt(group)?;
        if !stored.last_resort && !stored.bundle.key_package.is_last_resort() {
            storage.delete_key_package(&reference)?;
        }
        Ok(group)
    }

    /// Joins by an external commit (RFC 9420 §12.4.3.2) from a GroupInfo message with
    /// `external_pub`; returns the group, saved in the new epoch, and the commit to send.
    /// If the Delivery Service rejects the commit, delete the group and try again.
    pub fn join_external(
        &self,
        group_info: &MlsMessage,
        options: &JoinOptions,
    ) -> Result<(MemberGroup, CommitOutput), MemberError> {
        let MlsMessageBody::GroupInfo(info) = &group_info.body else {
            return Err(MemberError::UnexpectedMessage {
                expected: WireFormat::GROUP_INFO,
                got: group_info.wire_format(),
            });
        };
        let (group, output) = Group::join_external(
            self.params.clone(),
            info,
            options,
            self.runtime.now(),
            &mut self.runtime.rng(),
        )?;
        Ok((self.adopt(group)?, output))
    }

    /// Loads a stored group ([`Group::load`]).
    pub fn load_group(&self, group_id: &[u8]) -> Result<MemberGroup, MemberError> {
        let records = self
            .runtime
            .storage
            .read_group(group_id)?
            .ok_or(MemberError::GroupNotFound)?;
        let mut group = Group::load(self.params.env.clone(), records)?;
        group.set_component_handler(self.params.components.clone());
        Ok(MemberGroup {
            group,
            runtime: self.runtime.clone(),
        })
    }

    /// The ids of the stored groups.
    pub fn group_ids(&self) -> Result<Vec<Vec<u8>>, MemberError> {
        Ok(self.runtime.storage.group_ids()?)
    }

    /// Deletes a stored group (e.g. once we were removed, RFC 9420 §12.4.2).
    pub fn delete_group(&self, group_id: &[u8]) -> Result<(), MemberError> {
        Ok(self.runtime.storage.delete_group(group_id)?)
    }

    /// Takes charge of a group built otherwise (e.g. loaded from a [`Group::to_bytes`]
    /// snapshot to migrate it) and saves it.
    pub fn adopt(&self, group: Group) -> Result<MemberGroup, MemberError> {
        let mut group = MemberGroup {
            group,
            runtime: self.runtime.clone(),
        };
        group.save()?;
        Ok(group)
    }
}

/// A group of a [`Member`]: every operation uses the member's clock and randomness and saves
/// the group's changes before returning (so a message is never returned, and sent, before
/// the ratchet step that produced it is stored). Reading goes through [`Deref`] to
/// [`Group`]. Keep one handle per group: two handles of the same stored group would each
/// write their own changes.
#[derive(Debug)]
pub struct MemberGroup {
    group: Group,
    runtime: Arc<Runtime>,
}

impl Deref for MemberGroup {
    type Target = Group;

    fn deref(&self) -> &Group {
        &self.group
    }
}

impl MemberGroup {
    /// Writes what changed since the last save (nothing after a successful operation).
    pub fn save(&mut self) -> Result<(), MemberError> {
        self.runtime.save(&mut self.group)
    }

    /// Runs `op` on the group, then saves whatever it changed, even if it failed (a
    /// rejected message may have consumed a key, RFC 9420 §9.2). The error of `op` comes
    /// first.
    fn run<T>(
        &mut self,
        op: impl FnOnce(&mut Group, u64, &mut dyn CryptoRandom) -> Result<T, GroupError>,
    ) -> Result<T, MemberError> {
        let now = self.runtime.now();
        let result = op(&mut self.group, now, &mut self.runtime.rng());
        let saved = self.save();
        let value = result?;
        saved?;
        Ok(value)
    }

    /// Encrypts an application message (RFC 9420 §6.3) and saves the ratchet step.
    pub fn send(&mut self, data: &[u8]) -> Result<MlsMessage, MemberError> {
        self.send_with_authenticated_data(data, &[])
    }

    /// [`MemberGroup::send`] with authenticated data (sent in the clear, authenticated).
    pub fn send_with_authenticated_data(
        &mut self,
        data: &[u8],
        authenticated_data: &[u8],
    ) -> Result<MlsMessage, MemberError> {
        self.run(|g, _, rng| g.encrypt_application_message(data, authenticated_data, rng))
    }

    /// [`MemberGroup::send`] with Safe AAD (draft-ietf-mls-extensions-10 §4.9,
    /// [`Group::encrypt_application_message_with_safe_aad`]).
    pub fn send_with_safe_aad(
        &mut self,
        data: &[u8],
        aad: &crate::messages::SafeAad,
    ) -> Result<MlsMessage, MemberError> {
        self.run(|g, _, rng| g.encrypt_application_message_with_safe_aad(data, aad, rng))
    }

    /// `SafeExportSecret(component_id)` of the current epoch
    /// ([`Group::safe_export_secret`], draft-ietf-mls-extensions-10 §4.4). The secret is
    /// returned only once the deletion of its source is saved, so a reload cannot export it
    /// again; if saving fails the secret is dropped (and the group's next save rewrites
    /// everything).
    pub fn safe_export_secret(
        &mut self,
        component_id: crate::messages::ComponentId,
    ) -> Result<conclave_crypto::Secret, MemberError> {
        self.run(|g, _, _| g.safe_export_secret(component_id))
    }

    /// `SafeEncryptWithLabel` to a member's leaf key or the group's external key, with our
    /// randomness ([`Group::safe_encrypt`], draft-ietf-mls-extensions-10 §4.2). Nothing is
    /// saved: encryption changes no state.
    pub fn safe_encrypt(
        &self,
        to: crate::group::SafeHpkeKey,
        component_id: crate::messages::ComponentId,
        label: &[u8],
        context: &[u8],
        plaintext: &[u8],
    ) -> Result<crate::messages::HpkeCiphertext, MemberError> {
        Ok(self.group.safe_encrypt(
            to,
            component_id,
            label,
            context,
            plaintext,
            &mut self.runtime.rng(),
        )?)
    }

    /// Processes a message of the group ([`Group::process_message`]) and saves the result.
    pub fn process(&mut self, message: &MlsMessage) -> Result<ProcessedMessage, MemberError> {
        self.run(|g, now, _| g.process_message(message, now))
    }

    /// Starts a commit of ours; its [`CommitBuilder::build`] uses our clock and randomness
    /// and saves the pending commit.
    pub fn commit_builder(&mut self) -> CommitBuilder<'_, &Runtime> {
        CommitBuilder::new(&mut self.group, &*self.runtime)
    }

    /// Merges our pending commit once the Delivery Service accepted it (RFC 9420 §12.4.1)
    /// and saves the new epoch.
    pub fn merge_pending_commit(&mut self) -> Result<CommitSummary, MemberError> {
        self.run(|g, _, _| g.merge_pending_commit())
    }

    /// Discards our pending commit (the Delivery Service rejected it) and saves that.
    pub fn clear_pending_commit(&mut self) -> Result<(), MemberError> {
        self.run(|g, _, _| {
            g.clear_pending_commit();
            Ok(())
        })
    }

    /// Sends a proposal by reference (RFC 9420 §12.1) and saves it.
    pub fn propose(&mut self, proposal: Proposal) -> Result<MlsMessage, MemberError> {
        self.run(|g, _, rng| g.propose(proposal, &[], rng))
    }

    /// Asks to leave the group with a SelfRemove proposal ([`Group::self_remove`],
    /// draft-ietf-mls-extensions-10 §6.3) and saves it as our pending proposal. Returns the
    /// PublicMessage to send; the next commit by another member removes us.
    pub fn self_remove(&mut self) -> Result<MlsMessage, MemberError> {
        self.run(|g, _, rng| g.self_remove(&[], rng))
    }

    /// Proposes a fresh encryption key for our leaf (RFC 9420 §12.1.2), optionally with new
    /// leaf extensions, and saves the new private key.
    pub fn propose_update(
        &mut self,
        leaf_extensions: Option<Vec<Extension>>,
    ) -> Result<MlsMessage, MemberError> {
        self.run(|g, _, rng| g.propose_update(leaf_extensions, rng))
    }

    /// Proposes an AppDataUpdate by reference ([`Group::propose_app_data_update`],
    /// draft-ietf-mls-extensions-10 §4.7) and saves it.
    pub fn propose_app_data_update(
        &mut self,
        update: AppDataUpdate,
    ) -> Result<MlsMessage, MemberError> {
        self.run(|g, _, rng| g.propose_app_data_update(update, rng))
    }

    /// Proposes AppEphemeral data by reference ([`Group::propose_app_ephemeral`],
    /// draft-ietf-mls-extensions-10 §4.8) and saves it.
    pub fn propose_app_ephemeral(
        &mut self,
        ephemeral: AppEphemeral,
    ) -> Result<MlsMessage, MemberError> {
        self.run(|g, _, rng| g.propose_app_ephemeral(ephemeral, rng))
    }

    /// Sends `content` framed as `media_type`
    /// ([`Group::encrypt_framed_application_message`], draft-ietf-mls-extensions-10 §6.2)
    /// and saves the ratchet step.
    pub fn send_framed(
        &mut self,
        media_type: MediaType,
        content: &[u8],
    ) -> Result<MlsMessage, MemberError> {
        self.run(|g, _, rng| g.encrypt_framed_application_message(media_type, content, &[], rng))
    }

    /// Replaces the credential of our next leaf ([`Group::set_credential`]) and saves it.
    pub fn set_credential(&mut self, credential: Credential) -> Result<(), MemberError> {
        self.run(|g, now, _| g.set_credential(credential, now))
    }

    /// Runs any other operation of [`Group`] with our clock and randomness, then saves.
    pub fn modify<T>(
        &mut self,
        op: impl FnOnce(&mut Group, u64, &mut dyn CryptoRandom) -> Result<T, GroupError>,
    ) -> Result<T, MemberError> {
        self.run(op)
    }

    /// The group, detached from the member (not saved any more).
    pub fn into_group(self) -> Group {
        self.group
    }
}

impl<'a> CommitBuilder<'a, &'a Runtime> {
    /// Creates the commit (RFC 9420 §12.4.1) with the member's clock and randomness and
    /// saves it as pending: merge it with [`MemberGroup::merge_pending_commit`] once the
    /// Delivery Service accepted it.
    pub fn build(self) -> Result<CommitOutput, MemberError> {
        let runtime = self.runtime;
        let (group, result) = self.create_keeping_group(runtime.now(), &mut runtime.rng());
        let saved = runtime.save(group);
        let output = result?;
        saved?;
        Ok(output)
    }
}

/// Builds a [`Member`]: crypto provider, credential or signer, randomness and clock are
/// required; the rest has defaults (basic credentials, cipher suite 1
/// `MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519`, in-memory storage, default group policy
/// and leaf parameters).
#[derive(Default)]
#[must_use = "a builder does nothing until it is built"]
pub struct MemberBuilder {
    crypto: Option<Arc<dyn CryptoProvider>>,
    identity: Option<Arc<dyn IdentityProvider>>,
    signer: Option<SigningIdentity>,
    credential: Option<Credential>,
    cipher_suite: Option<CipherSuite>,
    storage: Option<(Arc<dyn Storage>, Arc<dyn PskStore>)>,
    rng: Option<Box<dyn CryptoRandom + Send>>,
    clock: Option<Box<dyn Clock>>,
    config: GroupConfig,
    leaf: LeafOptions,
    components: Components,
}

impl core::fmt::Debug for MemberBuilder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MemberBuilder")
            .field("cipher_suite", &self.cipher_suite)
            .finish_non_exhaustive()
    }
}

impl MemberBuilder {
    /// The crypto backend.
    pub fn crypto(self, provider: impl CryptoProvider + 'static) -> Self {
        self.crypto_arc(Arc::new(provider))
    }

    /// The crypto backend, shared.
    pub fn crypto_arc(mut self, provider: Arc<dyn CryptoProvider>) -> Self {
        self.crypto = Some(provider);
        self
    }

    /// How credentials are validated (RFC 9420 §5.3.1); default: basic credentials.
    pub fn identity_provider(self, identity: impl IdentityProvider + 'static) -> Self {
        self.identity_provider_arc(Arc::new(identity))
    }

    /// How credentials are validated, shared.
    pub fn identity_provider_arc(mut self, identity: Arc<dyn IdentityProvider>) -> Self {
        self.identity = Some(identity);
        self
    }

    /// Our credential, for which [`MemberBuilder::build`] generates a signature key pair
    /// with the injected randomness.
    pub fn credential(mut self, credential: Credential) -> Self {
        self.credential = Some(credential);
        self
    }

    /// Our existing signature key pair and credential (instead of
    /// [`MemberBuilder::credential`]).
    pub fn signer(mut self, signer: SigningIdentity) -> Self {
        self.signer = Some(signer);
        self
    }

    /// The cipher suite of our KeyPackages and new groups.
    pub fn cipher_suite(mut self, suite: CipherSuite) -> Self {
        self.cipher_suite = Some(suite);
        self
    }

    /// Where group records, KeyPackages and external PSKs are kept; default: in memory.
    pub fn storage<S: Storage + 'static>(mut self, storage: Arc<S>) -> Self {
        self.storage = Some((storage.clone(), storage));
        self
    }

    /// The random source, e.g. `conclave_crypto_awslc::SystemRandom`.
    pub fn random(mut self, rng: impl CryptoRandom + Send + 'static) -> Self {
        self.rng = Some(Box::new(rng));
        self
    }

    /// The clock (Unix seconds), e.g. a closure over `std::time::SystemTime`.
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Some(Box::new(clock));
        self
    }

    /// The policy of the groups we create or join.
    pub fn group_config(mut self, config: GroupConfig) -> Self {
        self.config = config;
        self
    }

    /// Capabilities, extensions and lifetime of our leaves and KeyPackages.
    pub fn leaf_options(mut self, leaf: LeafOptions) -> Self {
        self.leaf = leaf;
        self
    }

    /// The application's components (draft-ietf-mls-extensions-10 §4.7, §4.8); default:
    /// none. Every group the member creates, joins or loads consults them.
    pub fn components(mut self, components: Components) -> Self {
        self.components = components;
        self
    }

    /// The member; generates the signature key pair if only a credential was given.
    pub fn build(self) -> Result<Member, MemberError> {
        let crypto = self
            .crypto
            .ok_or(MemberError::Missing("a crypto provider"))?;
        let mut rng = self.rng.ok_or(MemberError::Missing("a random source"))?;
        let clock = self.clock.ok_or(MemberError::Missing("a clock"))?;
        let (storage, psks) = match self.storage {
            Some(storage) => storage,
            None => {
                let memory = Arc::new(InMemoryStorage::new());
                (
                    memory.clone() as Arc<dyn Storage>,
                    memory as Arc<dyn PskStore>,
                )
            }
        };
        let env = GroupEnv {
            crypto,
            identity: self
                .identity
                .unwrap_or_else(|| Arc::new(BasicIdentityProvider)),
            psks,
        };
        let cipher_suite = self.cipher_suite.unwrap_or(CipherSuite(1));
        let cs = env.suite(cipher_suite)?;
        let signer = match (self.signer, self.credential) {
            (Some(signer), _) => signer,
            (None, Some(credential)) => {
                SigningIdentity::generate(cs.as_ref(), credential, rng.as_mut())?
            }
            (None, None) => return Err(MemberError::Missing("a credential or signer")),
        };
        Ok(Member {
            params: MemberParams {
                env,
                signer,
                config: self.config,
                leaf: self.leaf,
                components: self.components,
            },
            cipher_suite,
            runtime: Arc::new(Runtime {
                storage,
                rng: Mutex::new(rng),
                clock,
            }),
        })
    }
}

#[cfg(test)]
mod tests;
