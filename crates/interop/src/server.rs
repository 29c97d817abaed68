//! The `mls_client.MLSClient` service (the mlswg interop harness) on top of
//! [`conclave_core::group`].
//!
//! Harness conventions followed here:
//! - byte strings map to MLS objects as `crate::wire` says (`MLSMessage`s, out-of-band
//!   ratchet trees, empty for absent);
//! - credentials are Basic (RFC 9420 §5.3) with the actor's name as identity, and a Remove
//!   names the removed member by that identity;
//! - group states, pending joins ("transactions"), reinitialisations and external signers
//!   are kept in memory under `u32` handles, released by `Free` (`crate::registry`);
//! - `encrypt_handshake` selects PrivateMessage (true) or PublicMessage (false) for our
//!   proposals and commits (RFC 9420 §6);
//!
//! External PSKs given by `StorePSK` (or with an external join) go to one store shared by all
//! states of this server (RFC 9420 §8.4: a PSK is found by its id).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use conclave_codec::{Decode, Encode};
use conclave_core::credential::BasicIdentityProvider;
use conclave_core::group::{
    CommitOptions, Group, GroupConfig, GroupEnv, GroupError, GroupStatus, JoinOptions,
    KeyPackageBundle, LeafOptions, ProcessedMessage, SigningIdentity, external_proposal,
    new_member_proposal,
};
use conclave_core::messages::{
    Add, Credential, ExtensionPayload, ExtensionType, ExternalSender, ExternalSenders,
    GroupContextExtensions, LeafIndex, MlsMessage, MlsMessageBody, Node, PreSharedKey,
    PreSharedKeyId, Proposal, ProtocolVersion, Psk, RatchetTreeNodes, ReInit, Remove,
    ResumptionPskUsage, Welcome, WireFormat, find_payload,
};
use conclave_crypto::{CipherSuite, Secret};
use tonic::{Request, Response, Status};

use crate::clock::unix_now;
use crate::error::{InteropError, Result, bad};
use crate::proto::{self, mls_client_server::MlsClient};
use crate::provider::{InteropProvider, suite_of, supported_suite_ids};
use crate::registry::{Handle, PendingJoin, PendingReInit, Registry};
use crate::rng::{OsRandom, random_bytes};
use crate::wire::{
    decode_group_info, decode_key_package, decode_key_packages, decode_message, decode_tree,
    decode_welcome, encode_message, encode_optional, encode_tree, extensions_of, out_of_band_tree,
    wrap,
};

/// Everything the server holds: the protocol environment, the external PSKs and the handles.
struct State {
    env: GroupEnv,
    /// The same store as `env.psks`, kept typed so that `StorePSK` can write to it.
    psks: Arc<RwLock<HashMap<Vec<u8>, Secret>>>,
    registry: Registry,
}

/// The private keys of a new KeyPackage, which the harness gets back with it
/// (`CreateKeyPackage`, `NewMemberAddProposal`).
struct KeyPackageSecrets {
    init_priv: Vec<u8>,
    encryption_priv: Vec<u8>,
    signature_priv: Vec<u8>,
}

/// The gRPC service.
pub struct InteropServer {
    state: Mutex<State>,
}

impl core::fmt::Debug for InteropServer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("InteropServer").finish_non_exhaustive()
    }
}

impl Default for InteropServer {
    fn default() -> Self {
        Self::new()
    }
}

impl InteropServer {
    /// A server with no state, offering every suite of [`InteropProvider`].
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State::new()),
        }
    }

    /// Runs `f` under the lock; a lock poisoned by an earlier panic is an error, not a panic.
    fn with_state<T>(&self, f: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
        let mut state = self.state.lock().map_err(|_| InteropError::Poisoned)?;
        f(&mut state)
    }
}

impl Default for State {
    fn default() -> Self {
        Self::new()
    }
}

// ---- helpers ---------------------------------------------------------------------------------

/// The group configuration a request asks for: only the handshake wire format varies.
fn group_config(encrypt_handshake: bool) -> GroupConfig {
    GroupConfig {
        handshake_wire_format: if encrypt_handshake {
            WireFormat::PRIVATE_MESSAGE
        } else {
            WireFormat::PUBLIC_MESSAGE
        },
        ..GroupConfig::default()
    }
}

/// The Welcome of a join request and the options to process it with: the ratchet tree is
/// the out-of-band one, if given (RFC 9420 §12.4.3.3).
fn welcome_join(welcome: &[u8], ratchet_tree: &[u8]) -> Result<(Welcome, JoinOptions)> {
    let welcome = decode_welcome(welcome)?;
    let options = JoinOptions {
        ratchet_tree: decode_tree(ratchet_tree)?,
        ..JoinOptions::default()
    };
    Ok((welcome, options))
}

/// Commit options for a request's `force_path` and `external_tree`: a tree sent out of band
/// is left out of the GroupInfo in the Welcome (RFC 9420 §12.4.3.3).
fn commit_options(force_path: bool, external_tree: bool) -> CommitOptions {
    CommitOptions {
        force_path,
        ratchet_tree_in_group_info: !external_tree,
        ..CommitOptions::default()
    }
}

/// Whether `credential` is the Basic credential of `identity` (how the harness names members).
fn has_identity(credential: &Credential, identity: &[u8]) -> bool {
    matches!(credential, Credential::Basic { identity: id } if id == identity)
}

/// The error for a Remove naming nobody in the group.
fn no_member(identity: &[u8]) -> InteropError {
    bad(format!(
        "no member with identity {:?}",
        String::from_utf8_lossy(identity)
    ))
}

/// A ReInit proposal (RFC 9420 §12.1.5) into `group_id` with `cipher_suite` and
/// `extensions`; the protocol version stays MLS 1.0.
fn reinit_proposal(
    group_id: Vec<u8>,
    cipher_suite: u32,
    extensions: &[proto::Extension],
) -> Result<Proposal> {
    Ok(Proposal::ReInit(ReInit {
        group_id,
        version: ProtocolVersion::MLS10,
        cipher_suite: suite_of(cipher_suite)?,
        extensions: extensions_of(extensions)?,
    }))
}

/// The message of a proposal we sent, as the harness receives it.
fn proposal_response(message: &MlsMessage) -> Result<proto::ProposalResponse> {
    Ok(proto::ProposalResponse {
        proposal: encode_message(message)?,
    })
}

/// Our Basic identity, to be kept in the new group.
fn basic_identity(signer: &SigningIdentity) -> Result<Vec<u8>> {
    match &signer.credential {
        Credential::Basic { identity } => Ok(identity.clone()),
        Credential::X509 { .. } => Err(bad("only Basic credentials are used here")),
    }
}

/// The leaf of the member whose Basic identity is `identity`, in a tree given as nodes
/// (leaves are the even nodes, RFC 9420 §4.1).
fn leaf_by_identity(nodes: &RatchetTreeNodes, identity: &[u8]) -> Option<LeafIndex> {
    nodes
        .0
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .find_map(|(i, node)| match node {
            Some(Node::Leaf(leaf)) if has_identity(&leaf.credential, identity) => {
                u32::try_from(i / 2).ok().map(LeafIndex)
            }
            _ => None,
        })
}

/// The leaf of the member of `group` whose Basic identity is `identity`.
fn member_leaf(group: &Group, identity: &[u8]) -> Result<LeafIndex> {
    group
        .members()
        .find_map(|(leaf, node)| has_identity(&node.credential, identity).then_some(leaf))
        .ok_or_else(|| no_member(identity))
}

/// A fresh PSK nonce, as long as the suite's hash (RFC 9420 §8.4).
fn psk_nonce(suite: CipherSuite, env: &GroupEnv) -> Result<Vec<u8>> {
    let cs = env.suite(suite)?;
    Ok(random_bytes(cs.hash_len())?)
}

/// The id of the external PSK `psk_id`, with a fresh nonce.
fn external_psk_id(psk_id: &[u8], suite: CipherSuite, env: &GroupEnv) -> Result<PreSharedKeyId> {
    Ok(PreSharedKeyId {
        psk: Psk::External {
            psk_id: psk_id.to_vec(),
        },
        psk_nonce: psk_nonce(suite, env)?,
    })
}

/// The id of the application resumption PSK of `group_id`'s epoch `epoch`, with a fresh
/// nonce.
fn resumption_psk_id(
    group_id: &[u8],
    epoch: u64,
    suite: CipherSuite,
    env: &GroupEnv,
) -> Result<PreSharedKeyId> {
    Ok(PreSharedKeyId {
        psk: Psk::Resumption {
            usage: ResumptionPskUsage::Application,
            psk_group_id: group_id.to_vec(),
            psk_epoch: epoch,
        },
        psk_nonce: psk_nonce(suite, env)?,
    })
}

/// Where a described proposal applies: the group's id, suite and tree.
struct ProposalTarget<'a> {
    /// The group's id (for resumption PSKs).
    group_id: &'a [u8],
    /// The group's suite (for PSK nonces).
    suite: CipherSuite,
    /// The group's tree (to find removed members by identity).
    tree: &'a RatchetTreeNodes,
}

/// Builds the proposal a harness `ProposalDescription` asks for.
fn described_proposal(
    description: &proto::ProposalDescription,
    target: &ProposalTarget<'_>,
    env: &GroupEnv,
) -> Result<Proposal> {
    match description.proposal_type.as_slice() {
        b"add" => Ok(Proposal::Add(Add {
            key_package: decode_key_package(&description.key_package)?,
        })),
        b"remove" => {
            let removed = leaf_by_identity(target.tree, &description.removed_id)
                .ok_or_else(|| no_member(&description.removed_id))?;
            Ok(Proposal::Remove(Remove { removed }))
        }
        b"externalPSK" => Ok(Proposal::PreSharedKey(PreSharedKey {
            psk: external_psk_id(&description.psk_id, target.suite, env)?,
        })),
        b"resumptionPSK" => Ok(Proposal::PreSharedKey(PreSharedKey {
            psk: resumption_psk_id(target.group_id, description.epoch_id, target.suite, env)?,
        })),
        b"groupContextExtensions" => Ok(Proposal::GroupContextExtensions(GroupContextExtensions {
            extensions: extensions_of(&description.extensions)?,
        })),
        b"reinit" => reinit_proposal(
            description.group_id.clone(),
            description.cipher_suite,
            &description.extensions,
        ),
        other => Err(bad(format!(
            "unknown proposal type {:?}",
            String::from_utf8_lossy(other)
        ))),
    }
}

/// Processes proposals sent by reference before a commit that names them (RFC 9420 §12.4):
/// each must be a proposal (ours come back as [`ProcessedMessage::OwnMessage`]).
fn receive_proposals(group: &mut Group, proposals: &[Vec<u8>], now: u64) -> Result<()> {
    for bytes in proposals {
        let message = decode_message(bytes)?;
        match group.process_message(&message, now) {
            Ok(ProcessedMessage::Proposal { .. } | ProcessedMessage::OwnMessage) => {}
            // The same proposal named twice (or already received): nothing more to do.
            Err(GroupError::DuplicateProposal) => {}
            Ok(_) => return Err(bad("a by-reference entry is not a proposal")),
            Err(error) => return Err(error.into()),
        }
    }
    Ok(())
}

impl State {
    /// No handles, no PSKs, every suite of [`InteropProvider`], Basic credentials.
    fn new() -> Self {
        let psks = Arc::new(RwLock::new(HashMap::new()));
        let env = GroupEnv {
            crypto: Arc::new(InteropProvider),
            identity: Arc::new(BasicIdentityProvider),
            psks: psks.clone(),
        };
        Self {
            env,
            psks,
            registry: Registry::new(),
        }
    }

    /// A fresh signature key pair with a Basic credential for `identity`.
    fn new_signer(&self, suite: CipherSuite, identity: &[u8]) -> Result<SigningIdentity> {
        let cs = self.env.suite(suite)?;
        let credential = Credential::Basic {
            identity: identity.to_vec(),
        };
        Ok(SigningIdentity::generate(
            cs.as_ref(),
            credential,
            &mut OsRandom,
        )?)
    }

    /// A fresh identity and a KeyPackage for it (RFC 9420 §10).
    fn new_key_package(
        &self,
        suite: CipherSuite,
        identity: &[u8],
    ) -> Result<(SigningIdentity, KeyPackageBundle)> {
        let signer = self.new_signer(suite, identity)?;
        let bundle = KeyPackageBundle::generate(
            &self.env,
            suite,
            &signer,
            &LeafOptions::default(),
            unix_now(),
            &mut OsRandom,
        )?;
        Ok((signer, bundle))
    }

    /// Keeps a KeyPackage until its Welcome arrives; returns the transaction id and the
    /// private keys to report.
    fn insert_pending_join(
        &mut self,
        signer: SigningIdentity,
        bundle: KeyPackageBundle,
    ) -> Result<(u32, KeyPackageSecrets)> {
        let secrets = KeyPackageSecrets {
            init_priv: bundle.init_private_key.as_bytes().to_vec(),
            encryption_priv: bundle.encryption_private_key.as_bytes().to_vec(),
            signature_priv: signer.secret_key.as_bytes().to_vec(),
        };
        let id = self
            .registry
            .insert(Handle::Transaction(Box::new(PendingJoin {
                signer,
                bundle,
            })))?;
        Ok((id, secrets))
    }

    /// Keeps a new group state; returns its id and epoch authenticator (RFC 9420 §8.7), which
    /// is what every operation creating a state reports.
    fn insert_member(&mut self, group: Group) -> Result<(u32, Vec<u8>)> {
        let epoch_authenticator = group.epoch_authenticator().to_vec();
        let state_id = self.registry.insert(Handle::Member(Box::new(group)))?;
        Ok((state_id, epoch_authenticator))
    }

    // ---- becoming a member ---------------------------------------------------------------

    /// `CreateGroup`: a one-member group of our own.
    fn create_group(
        &mut self,
        req: proto::CreateGroupRequest,
    ) -> Result<proto::CreateGroupResponse> {
        let suite = suite_of(req.cipher_suite)?;
        let signer = self.new_signer(suite, &req.identity)?;
        let group = Group::create(
            self.env.clone(),
            suite,
            req.group_id,
            signer,
            Vec::new(),
            group_config(req.encrypt_handshake),
            &LeafOptions::default(),
            unix_now(),
            &mut OsRandom,
        )?;
        let (state_id, _) = self.insert_member(group)?;
        Ok(proto::CreateGroupResponse { state_id })
    }

    /// `CreateKeyPackage`: a KeyPackage kept under a transaction id until `JoinGroup`.
    fn create_key_package(
        &mut self,
        req: proto::CreateKeyPackageRequest,
    ) -> Result<proto::CreateKeyPackageResponse> {
        let suite = suite_of(req.cipher_suite)?;
        let (signer, bundle) = self.new_key_package(suite, &req.identity)?;
        let key_package = wrap(MlsMessageBody::KeyPackage(bundle.key_package.clone()))?;
        let (transaction_id, secrets) = self.insert_pending_join(signer, bundle)?;
        Ok(proto::CreateKeyPackageResponse {
            transaction_id,
            key_package,
            init_priv: secrets.init_priv,
            encryption_priv: secrets.encryption_priv,
            signature_priv: secrets.signature_priv,
        })
    }

    /// `JoinGroup`: joins by the Welcome for a transaction's KeyPackage. The transaction is
    /// used up only when the join succeeds, so that the harness may try again.
    fn join_group(&mut self, req: proto::JoinGroupRequest) -> Result<proto::JoinGroupResponse> {
        let (welcome, options) = welcome_join(&req.welcome, &req.ratchet_tree)?;
        let tx = self.registry.take_transaction(req.transaction_id)?;
        let joined = Group::join(
            self.env.clone(),
            &welcome,
            &tx.bundle,
            tx.signer.clone(),
            group_config(req.encrypt_handshake),
            &options,
            unix_now(),
        );
        let group = match joined {
            Ok(group) => group,
            Err(error) => {
                self.registry.restore_transaction(req.transaction_id, tx);
                return Err(error.into());
            }
        };
        let (state_id, epoch_authenticator) = self.insert_member(group)?;
        Ok(proto::JoinGroupResponse {
            state_id,
            epoch_authenticator,
        })
    }

    /// `ExternalJoin`: joins by external commit from a GroupInfo, with the PSKs given (which
    /// are stored for later use too) and, for a resync, removing our prior leaf.
    fn external_join(
        &mut self,
        req: proto::ExternalJoinRequest,
    ) -> Result<proto::ExternalJoinResponse> {
        let info = decode_group_info(&req.group_info)?;
        let suite = info.group_context.cipher_suite;
        let tree = decode_tree(&req.ratchet_tree)?;
        let mut psks = Vec::new();
        for psk in &req.psks {
            self.store_psk_secret(&psk.psk_id, &psk.psk_secret)?;
            psks.push(external_psk_id(&psk.psk_id, suite, &self.env)?);
        }
        let remove_prior_leaf = if req.remove_prior {
            // Our prior leaf is found in the tree the GroupInfo carries, else the one given.
            let nodes = match find_payload::<RatchetTreeNodes>(&info.extensions)? {
                Some(nodes) => nodes,
                None => tree
                    .clone()
                    .ok_or_else(|| bad("remove_prior needs the ratchet tree"))?,
            };
            Some(
                leaf_by_identity(&nodes, &req.identity)
                    .ok_or_else(|| bad("remove_prior: we are not in the group"))?,
            )
        } else {
            None
        };
        let options = JoinOptions {
            ratchet_tree: tree,
            remove_prior_leaf,
            psks,
            ..JoinOptions::default()
        };
        let signer = self.new_signer(suite, &req.identity)?;
        let (group, output) = Group::join_external(
            self.env.clone(),
            &info,
            signer,
            group_config(req.encrypt_handshake),
            &LeafOptions::default(),
            &options,
            unix_now(),
            &mut OsRandom,
        )?;
        let commit = encode_message(&output.commit)?;
        let (state_id, epoch_authenticator) = self.insert_member(group)?;
        Ok(proto::ExternalJoinResponse {
            state_id,
            commit,
            epoch_authenticator,
        })
    }

    // ---- using a state -------------------------------------------------------------------

    /// `GroupInfo`: a signed GroupInfo for external joiners, with the tree inside it or, with
    /// `external_tree`, beside it.
    fn group_info(&mut self, req: proto::GroupInfoRequest) -> Result<proto::GroupInfoResponse> {
        let group = self.registry.member(req.state_id)?;
        let group_info = encode_message(&group.group_info(!req.external_tree)?)?;
        let ratchet_tree = out_of_band_tree(group, req.external_tree)?;
        Ok(proto::GroupInfoResponse {
            group_info,
            ratchet_tree,
        })
    }

    /// `StateAuth`: the epoch authenticator, which members compare to check they agree.
    fn state_auth(&mut self, req: proto::StateAuthRequest) -> Result<proto::StateAuthResponse> {
        let group = self.registry.member(req.state_id)?;
        Ok(proto::StateAuthResponse {
            state_auth_secret: group.epoch_authenticator().to_vec(),
        })
    }

    /// `Export`: `MLS-Exporter(label, context, length)` of the current epoch.
    fn export(&mut self, req: proto::ExportRequest) -> Result<proto::ExportResponse> {
        let group = self.registry.member(req.state_id)?;
        let length = usize::try_from(req.key_length).map_err(|_| bad("key_length too large"))?;
        let secret = group.export_secret(&req.label, &req.context, length)?;
        Ok(proto::ExportResponse {
            exported_secret: secret.as_bytes().to_vec(),
        })
    }

    /// `Protect`: encrypts an application message.
    fn protect(&mut self, req: proto::ProtectRequest) -> Result<proto::ProtectResponse> {
        let group = self.registry.member(req.state_id)?;
        let message = group.encrypt_application_message(
            &req.plaintext,
            &req.authenticated_data,
            &mut OsRandom,
        )?;
        Ok(proto::ProtectResponse {
            ciphertext: encode_message(&message)?,
        })
    }

    /// `Unprotect`: decrypts an application message; anything else is refused.
    fn unprotect(&mut self, req: proto::UnprotectRequest) -> Result<proto::UnprotectResponse> {
        let message = decode_message(&req.ciphertext)?;
        let group = self.registry.member(req.state_id)?;
        match group.process_message(&message, unix_now())? {
            ProcessedMessage::Application {
                data,
                authenticated_data,
                ..
            } => Ok(proto::UnprotectResponse {
                authenticated_data,
                plaintext: data,
            }),
            _ => Err(bad("the message is not an application message")),
        }
    }

    /// Adds an external PSK to the store shared by all states (RFC 9420 §8.4).
    fn store_psk_secret(&self, psk_id: &[u8], secret: &[u8]) -> Result<()> {
        let mut psks = self.psks.write().map_err(|_| InteropError::Poisoned)?;
        psks.insert(psk_id.to_vec(), Secret::new(secret.to_vec()));
        Ok(())
    }

    /// `StorePSK`: stores an external PSK. The handle must exist, though the store is shared
    /// by all states: the harness names one, and a wrong one is its mistake to hear about.
    fn store_psk(&mut self, req: proto::StorePskRequest) -> Result<proto::StorePskResponse> {
        if !self.registry.contains(req.state_or_transaction_id) {
            return Err(InteropError::UnknownHandle(req.state_or_transaction_id));
        }
        self.store_psk_secret(&req.psk_id, &req.psk_secret)?;
        Ok(proto::StorePskResponse {})
    }

    // ---- proposals -----------------------------------------------------------------------

    /// Sends `proposal` from the group state `state_id`.
    fn propose(&mut self, state_id: u32, proposal: Proposal) -> Result<proto::ProposalResponse> {
        let group = self.registry.member(state_id)?;
        let message = group.propose(proposal, &[], &mut OsRandom)?;
        proposal_response(&message)
    }

    /// `AddProposal`: proposes adding the holder of a KeyPackage.
    fn add_proposal(&mut self, req: proto::AddProposalRequest) -> Result<proto::ProposalResponse> {
        let key_package = decode_key_package(&req.key_package)?;
        self.propose(req.state_id, Proposal::Add(Add { key_package }))
    }

    /// `UpdateProposal`: proposes a fresh leaf for ourselves.
    fn update_proposal(
        &mut self,
        req: proto::UpdateProposalRequest,
    ) -> Result<proto::ProposalResponse> {
        let group = self.registry.member(req.state_id)?;
        let message = group.propose_update(None, &mut OsRandom)?;
        proposal_response(&message)
    }

    /// `RemoveProposal`: proposes removing the member with a given identity.
    fn remove_proposal(
        &mut self,
        req: proto::RemoveProposalRequest,
    ) -> Result<proto::ProposalResponse> {
        let removed = member_leaf(self.registry.member(req.state_id)?, &req.removed_id)?;
        self.propose(req.state_id, Proposal::Remove(Remove { removed }))
    }

    /// `ExternalPSKProposal`: proposes injecting a stored external PSK.
    fn external_psk_proposal(
        &mut self,
        req: proto::ExternalPskProposalRequest,
    ) -> Result<proto::ProposalResponse> {
        let suite = self.registry.member(req.state_id)?.cipher_suite();
        let psk = external_psk_id(&req.psk_id, suite, &self.env)?;
        self.propose(req.state_id, Proposal::PreSharedKey(PreSharedKey { psk }))
    }

    /// `ResumptionPSKProposal`: proposes injecting the resumption PSK of an earlier epoch of
    /// this group.
    fn resumption_psk_proposal(
        &mut self,
        req: proto::ResumptionPskProposalRequest,
    ) -> Result<proto::ProposalResponse> {
        let group = self.registry.member(req.state_id)?;
        let (group_id, suite) = (group.group_id().to_vec(), group.cipher_suite());
        let psk = resumption_psk_id(&group_id, req.epoch_id, suite, &self.env)?;
        self.propose(req.state_id, Proposal::PreSharedKey(PreSharedKey { psk }))
    }

    /// `GroupContextExtensionsProposal`: proposes replacing the group's extensions.
    fn group_context_extensions_proposal(
        &mut self,
        req: proto::GroupContextExtensionsProposalRequest,
    ) -> Result<proto::ProposalResponse> {
        let extensions = extensions_of(&req.extensions)?;
        self.propose(
            req.state_id,
            Proposal::GroupContextExtensions(GroupContextExtensions { extensions }),
        )
    }

    // ---- commits -------------------------------------------------------------------------

    /// `Commit` (and `ReInitCommit`): commits the proposals received by reference, those
    /// described by value and any pending ones. The commit stays pending until
    /// `HandlePendingCommit`.
    fn commit(&mut self, req: proto::CommitRequest) -> Result<proto::CommitResponse> {
        let now = unix_now();
        let env = self.env.clone();
        let group = self.registry.member(req.state_id)?;
        receive_proposals(group, &req.by_reference, now)?;
        let tree = group.tree().to_nodes();
        let target = ProposalTarget {
            group_id: group.group_id(),
            suite: group.cipher_suite(),
            tree: &tree,
        };
        let proposals = req
            .by_value
            .iter()
            .map(|d| described_proposal(d, &target, &env))
            .collect::<Result<Vec<_>>>()?;
        let options = CommitOptions {
            proposals,
            include_pending: true,
            ..commit_options(req.force_path, req.external_tree)
        };
        let output = group.commit(&options, now, &mut OsRandom)?;
        let ratchet_tree = if req.external_tree {
            // The tree of the new epoch: merge a copy of our state with the pending commit.
            let mut copy = Group::from_bytes(env, &group.to_bytes()?)?;
            copy.merge_pending_commit()?;
            encode_tree(&copy)?
        } else {
            Vec::new()
        };
        Ok(proto::CommitResponse {
            commit: encode_message(&output.commit)?,
            welcome: encode_optional(output.welcome.as_ref())?,
            ratchet_tree,
        })
    }

    /// Processes `proposals` then the commit; returns the epoch authenticator.
    fn apply_commit(&mut self, req: &proto::HandleCommitRequest) -> Result<Vec<u8>> {
        let now = unix_now();
        let commit = decode_message(&req.commit)?;
        let group = self.registry.member(req.state_id)?;
        receive_proposals(group, &req.proposal, now)?;
        match group.process_message(&commit, now)? {
            ProcessedMessage::Commit(_) | ProcessedMessage::OwnCommitMerged(_) => {}
            _ => return Err(bad("the message is not a commit")),
        }
        Ok(group.epoch_authenticator().to_vec())
    }

    /// `HandleCommit`: processes another member's commit (with the proposals it names).
    fn handle_commit(
        &mut self,
        req: proto::HandleCommitRequest,
    ) -> Result<proto::HandleCommitResponse> {
        let epoch_authenticator = self.apply_commit(&req)?;
        Ok(proto::HandleCommitResponse {
            state_id: req.state_id,
            epoch_authenticator,
        })
    }

    /// `HandlePendingCommit`: merges our own pending commit.
    fn handle_pending_commit(
        &mut self,
        req: proto::HandlePendingCommitRequest,
    ) -> Result<proto::HandleCommitResponse> {
        let group = self.registry.member(req.state_id)?;
        group.merge_pending_commit()?;
        Ok(proto::HandleCommitResponse {
            state_id: req.state_id,
            epoch_authenticator: group.epoch_authenticator().to_vec(),
        })
    }

    // ---- reinitialisation (RFC 9420 §11.2) -------------------------------------------------

    /// `ReInitProposal`: proposes reinitialising the group.
    fn re_init_proposal(
        &mut self,
        req: proto::ReInitProposalRequest,
    ) -> Result<proto::ProposalResponse> {
        let proposal = reinit_proposal(req.group_id, req.cipher_suite, &req.extensions)?;
        self.propose(req.state_id, proposal)
    }

    /// `ReInitCommit`: an ordinary commit of the (by-reference) ReInit proposal.
    fn re_init_commit(&mut self, req: proto::CommitRequest) -> Result<proto::CommitResponse> {
        self.commit(req)
    }

    /// After a ReInit commit was applied to `state_id`: moves the old group into a reinit
    /// handle with a fresh identity and KeyPackage in the new suite.
    fn start_reinit(&mut self, state_id: u32) -> Result<proto::HandleReInitCommitResponse> {
        let group = self.registry.member(state_id)?;
        let GroupStatus::ReInitialized(reinit) = group.status() else {
            return Err(bad("the commit did not carry a ReInit"));
        };
        let suite = reinit.cipher_suite;
        let identity = basic_identity(group.signer())?;
        let epoch_authenticator = group.epoch_authenticator().to_vec();
        let (signer, bundle) = self.new_key_package(suite, &identity)?;
        let key_package = wrap(MlsMessageBody::KeyPackage(bundle.key_package.clone()))?;
        let old = self.registry.take_member(state_id)?;
        let reinit_id = self
            .registry
            .insert(Handle::ReInit(Box::new(PendingReInit {
                old,
                signer,
                bundle,
            })))?;
        Ok(proto::HandleReInitCommitResponse {
            reinit_id,
            key_package,
            epoch_authenticator,
        })
    }

    /// `HandlePendingReInitCommit`: merges our own ReInit commit.
    fn handle_pending_re_init_commit(
        &mut self,
        req: proto::HandlePendingCommitRequest,
    ) -> Result<proto::HandleReInitCommitResponse> {
        self.registry.member(req.state_id)?.merge_pending_commit()?;
        self.start_reinit(req.state_id)
    }

    /// `HandleReInitCommit`: processes another member's ReInit commit.
    fn handle_re_init_commit(
        &mut self,
        req: proto::HandleCommitRequest,
    ) -> Result<proto::HandleReInitCommitResponse> {
        self.apply_commit(&req)?;
        self.start_reinit(req.state_id)
    }

    /// `ReInitWelcome`: creates the new group with the members' new KeyPackages.
    fn re_init_welcome(
        &mut self,
        req: proto::ReInitWelcomeRequest,
    ) -> Result<proto::CreateSubgroupResponse> {
        let key_packages = decode_key_packages(&req.key_package)?;
        let pending = self.registry.reinit(req.reinit_id)?;
        let (group, output) = pending.old.reinit(
            pending.signer.clone(),
            &key_packages,
            &LeafOptions::default(),
            &commit_options(req.force_path, req.external_tree),
            unix_now(),
            &mut OsRandom,
        )?;
        self.subgroup_response(group, output.welcome.as_ref(), req.external_tree)
    }

    /// Keeps a group created from another (reinitialised, RFC 9420 §11.2, or branched,
    /// §11.3) and reports it with the Welcome for its other members.
    fn subgroup_response(
        &mut self,
        group: Group,
        welcome: Option<&MlsMessage>,
        external_tree: bool,
    ) -> Result<proto::CreateSubgroupResponse> {
        let welcome = encode_optional(welcome)?;
        let ratchet_tree = out_of_band_tree(&group, external_tree)?;
        let (state_id, epoch_authenticator) = self.insert_member(group)?;
        Ok(proto::CreateSubgroupResponse {
            state_id,
            welcome,
            ratchet_tree,
            epoch_authenticator,
        })
    }

    /// `HandleReInitWelcome`: joins the new group with the reinit handle's KeyPackage, in
    /// the old group's configuration.
    fn handle_re_init_welcome(
        &mut self,
        req: proto::HandleReInitWelcomeRequest,
    ) -> Result<proto::JoinGroupResponse> {
        let (welcome, options) = welcome_join(&req.welcome, &req.ratchet_tree)?;
        let pending = self.registry.reinit(req.reinit_id)?;
        let group_config = pending.old.config().clone();
        let group = pending.old.join_reinit(
            &welcome,
            &pending.bundle,
            pending.signer.clone(),
            group_config,
            &options,
            unix_now(),
        )?;
        let (state_id, epoch_authenticator) = self.insert_member(group)?;
        Ok(proto::JoinGroupResponse {
            state_id,
            epoch_authenticator,
        })
    }

    // ---- branching (RFC 9420 §11.3) -------------------------------------------------------

    /// `CreateBranch`: creates the branch with the given members' KeyPackages.
    fn create_branch(
        &mut self,
        req: proto::CreateBranchRequest,
    ) -> Result<proto::CreateSubgroupResponse> {
        let key_packages = decode_key_packages(&req.key_packages)?;
        let extensions = extensions_of(&req.extensions)?;
        let group = self.registry.member(req.state_id)?;
        let (branch, output) = group.branch(
            req.group_id,
            extensions,
            &key_packages,
            &LeafOptions::default(),
            &commit_options(req.force_path, req.external_tree),
            unix_now(),
            &mut OsRandom,
        )?;
        self.subgroup_response(branch, output.welcome.as_ref(), req.external_tree)
    }

    /// `HandleBranch`: joins a branch of the group state `state_id` with a transaction's
    /// KeyPackage, in that state's configuration. Unlike `JoinGroup`, the transaction is used
    /// up even when the join fails.
    fn handle_branch(
        &mut self,
        req: proto::HandleBranchRequest,
    ) -> Result<proto::HandleBranchResponse> {
        let (welcome, options) = welcome_join(&req.welcome, &req.ratchet_tree)?;
        let tx = self.registry.take_transaction(req.transaction_id)?;
        let group = self.registry.member(req.state_id)?;
        let group_config = group.config().clone();
        let branch = group.join_branch(
            &welcome,
            &tx.bundle,
            tx.signer.clone(),
            group_config,
            &options,
            unix_now(),
        )?;
        let (state_id, epoch_authenticator) = self.insert_member(branch)?;
        Ok(proto::HandleBranchResponse {
            state_id,
            epoch_authenticator,
        })
    }

    // ---- external proposals (RFC 9420 §12.1.8) --------------------------------------------

    /// `NewMemberAddProposal`: a fresh KeyPackage, proposed for addition by its holder; the
    /// KeyPackage is kept under a transaction id for the Welcome to come.
    fn new_member_add_proposal(
        &mut self,
        req: proto::NewMemberAddProposalRequest,
    ) -> Result<proto::NewMemberAddProposalResponse> {
        let info = decode_group_info(&req.group_info)?;
        let context = &info.group_context;
        let (signer, bundle) = self.new_key_package(context.cipher_suite, &req.identity)?;
        let cs = self.env.suite(context.cipher_suite)?;
        let message = new_member_proposal(
            cs.as_ref(),
            &context.group_id,
            context.epoch,
            &bundle,
            &signer,
        )?;
        let proposal = encode_message(&message)?;
        let (transaction_id, secrets) = self.insert_pending_join(signer, bundle)?;
        Ok(proto::NewMemberAddProposalResponse {
            transaction_id,
            proposal,
            init_priv: secrets.init_priv,
            encryption_priv: secrets.encryption_priv,
            signature_priv: secrets.signature_priv,
        })
    }

    /// `CreateExternalSigner`: a signer for external proposals, and the `ExternalSender`
    /// entry that a member adds to the group to accept them.
    fn create_external_signer(
        &mut self,
        req: proto::CreateExternalSignerRequest,
    ) -> Result<proto::CreateExternalSignerResponse> {
        let suite = suite_of(req.cipher_suite)?;
        let signer = self.new_signer(suite, &req.identity)?;
        let external_sender = ExternalSender {
            signature_key: signer.public_key.clone(),
            credential: signer.credential.clone(),
        }
        .to_bytes()?;
        let signer_id = self.registry.insert(Handle::Signer(Box::new(signer)))?;
        Ok(proto::CreateExternalSignerResponse {
            signer_id,
            external_sender,
        })
    }

    /// `AddExternalSigner`: a GroupContextExtensions proposal adding an external sender to
    /// `external_senders`, keeping the other extensions (a GroupContextExtensions proposal
    /// replaces them all).
    fn add_external_signer(
        &mut self,
        req: proto::AddExternalSignerRequest,
    ) -> Result<proto::ProposalResponse> {
        let sender = ExternalSender::from_bytes(&req.external_sender)?;
        let group = self.registry.member(req.state_id)?;
        let mut extensions = group.context().extensions.clone();
        let mut senders = find_payload::<ExternalSenders>(&extensions)?.unwrap_or_default();
        senders.0.push(sender);
        let updated = senders.to_extension()?;
        match extensions
            .iter_mut()
            .find(|e| e.extension_type == ExtensionType::EXTERNAL_SENDERS)
        {
            Some(existing) => *existing = updated,
            None => extensions.push(updated),
        }
        self.propose(
            req.state_id,
            Proposal::GroupContextExtensions(GroupContextExtensions { extensions }),
        )
    }

    /// `ExternalSignerProposal`: the described proposal, sent by an external signer to the
    /// group of a GroupInfo.
    fn external_signer_proposal(
        &mut self,
        req: proto::ExternalSignerProposalRequest,
    ) -> Result<proto::ProposalResponse> {
        let info = decode_group_info(&req.group_info)?;
        let context = &info.group_context;
        let signer = self.registry.signer(req.signer_id)?;
        // Our index in the group's external_senders: looked up by signature key, since the
        // harness does not always fill `signer_index`.
        let senders = find_payload::<ExternalSenders>(&context.extensions)?
            .ok_or_else(|| bad("the group has no external_senders extension"))?;
        let index = senders
            .0
            .iter()
            .position(|s| s.signature_key == signer.public_key)
            .ok_or_else(|| bad("this signer is not an external sender of the group"))?;
        let index = u32::try_from(index).map_err(|_| bad("external sender index too large"))?;
        // The tree (to find a removed member) is the GroupInfo's, else the one given.
        let tree = match find_payload::<RatchetTreeNodes>(&info.extensions)? {
            Some(nodes) => nodes,
            None => decode_tree(&req.ratchet_tree)?.unwrap_or_default(),
        };
        let description = req
            .description
            .as_ref()
            .ok_or_else(|| bad("missing proposal description"))?;
        let target = ProposalTarget {
            group_id: &context.group_id,
            suite: context.cipher_suite,
            tree: &tree,
        };
        let proposal = described_proposal(description, &target, &self.env)?;
        let cs = self.env.suite(context.cipher_suite)?;
        let message = external_proposal(
            cs.as_ref(),
            &context.group_id,
            context.epoch,
            index,
            signer,
            proposal,
            &[],
        )?;
        proposal_response(&message)
    }

    /// `Free`: forgets a handle of any kind.
    fn free(&mut self, req: proto::FreeRequest) -> Result<proto::FreeResponse> {
        self.registry.remove(req.state_id)?;
        Ok(proto::FreeResponse {})
    }
}

/// Implements `MlsClient`: each listed method runs the `State` method of the same name under
/// the lock (the whole impl is generated so that `async_trait` sees the expanded methods).
macro_rules! mls_client_impl {
    ($($name:ident: $req:ty => $resp:ty;)*) => {
        #[tonic::async_trait]
        impl MlsClient for InteropServer {
            async fn name(
                &self,
                _request: Request<proto::NameRequest>,
            ) -> std::result::Result<Response<proto::NameResponse>, Status> {
                Ok(Response::new(proto::NameResponse {
                    name: "Conclave".to_owned(),
                }))
            }

            async fn supported_ciphersuites(
                &self,
                _request: Request<proto::SupportedCiphersuitesRequest>,
            ) -> std::result::Result<Response<proto::SupportedCiphersuitesResponse>, Status> {
                Ok(Response::new(proto::SupportedCiphersuitesResponse {
                    ciphersuites: supported_suite_ids(),
                }))
            }

            $(
                async fn $name(
                    &self,
                    request: Request<$req>,
                ) -> std::result::Result<Response<$resp>, Status> {
                    let req = request.into_inner();
                    self.with_state(|state| state.$name(req))
                        .map(Response::new)
                        .map_err(Status::from)
                }
            )*
        }
    };
}

mls_client_impl! {
    create_group: proto::CreateGroupRequest => proto::CreateGroupResponse;
    create_key_package: proto::CreateKeyPackageRequest => proto::CreateKeyPackageResponse;
    join_group: proto::JoinGroupRequest => proto::JoinGroupResponse;
    external_join: proto::ExternalJoinRequest => proto::ExternalJoinResponse;
    group_info: proto::GroupInfoRequest => proto::GroupInfoResponse;
    state_auth: proto::StateAuthRequest => proto::StateAuthResponse;
    export: proto::ExportRequest => proto::ExportResponse;
    protect: proto::ProtectRequest => proto::ProtectResponse;
    unprotect: proto::UnprotectRequest => proto::UnprotectResponse;
    store_psk: proto::StorePskRequest => proto::StorePskResponse;
    add_proposal: proto::AddProposalRequest => proto::ProposalResponse;
    update_proposal: proto::UpdateProposalRequest => proto::ProposalResponse;
    remove_proposal: proto::RemoveProposalRequest => proto::ProposalResponse;
    external_psk_proposal: proto::ExternalPskProposalRequest => proto::ProposalResponse;
    resumption_psk_proposal: proto::ResumptionPskProposalRequest => proto::ProposalResponse;
    group_context_extensions_proposal: proto::GroupContextExtensionsProposalRequest => proto::ProposalResponse;
    commit: proto::CommitRequest => proto::CommitResponse;
    handle_commit: proto::HandleCommitRequest => proto::HandleCommitResponse;
    handle_pending_commit: proto::HandlePendingCommitRequest => proto::HandleCommitResponse;
    re_init_proposal: proto::ReInitProposalRequest => proto::ProposalResponse;
    re_init_commit: proto::CommitRequest => proto::CommitResponse;
    handle_pending_re_init_commit: proto::HandlePendingCommitRequest => proto::HandleReInitCommitResponse;
    handle_re_init_commit: proto::HandleCommitRequest => proto::HandleReInitCommitResponse;
    re_init_welcome: proto::ReInitWelcomeRequest => proto::CreateSubgroupResponse;
    handle_re_init_welcome: proto::HandleReInitWelcomeRequest => proto::JoinGroupResponse;
    create_branch: proto::CreateBranchRequest => proto::CreateSubgroupResponse;
    handle_branch: proto::HandleBranchRequest => proto::HandleBranchResponse;
    new_member_add_proposal: proto::NewMemberAddProposalRequest => proto::NewMemberAddProposalResponse;
    create_external_signer: proto::CreateExternalSignerRequest => proto::CreateExternalSignerResponse;
    add_external_signer: proto::AddExternalSignerRequest => proto::ProposalResponse;
    external_signer_proposal: proto::ExternalSignerProposalRequest => proto::ProposalResponse;
    free: proto::FreeRequest => proto::FreeResponse;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> InteropServer {
        InteropServer::new()
    }

    #[test]
    fn unknown_and_wrong_handles_are_refused_with_a_status() {
        let server = server();
        let error = server
            .with_state(|s| s.state_auth(proto::StateAuthRequest { state_id: 7 }))
            .unwrap_err();
        assert_eq!(Status::from(error).code(), tonic::Code::NotFound);
        let signer = server
            .with_state(|s| {
                s.create_external_signer(proto::CreateExternalSignerRequest {
                    cipher_suite: 1,
                    identity: b"ds".to_vec(),
                })
            })
            .unwrap();
        let error = server
            .with_state(|s| {
                s.state_auth(proto::StateAuthRequest {
                    state_id: signer.signer_id,
                })
            })
            .unwrap_err();
        assert_eq!(Status::from(error).code(), tonic::Code::InvalidArgument);
        let error = server
            .with_state(|s| {
                s.create_group(proto::CreateGroupRequest {
                    group_id: b"g".to_vec(),
                    cipher_suite: 0x10000,
                    encrypt_handshake: false,
                    identity: b"alice".to_vec(),
                })
            })
            .unwrap_err();
        assert_eq!(Status::from(error).code(), tonic::Code::InvalidArgument);
        // Garbage where an MLSMessage is expected.
        let error = server
            .with_state(|s| {
                s.join_group(proto::JoinGroupRequest {
                    transaction_id: 1,
                    welcome: vec![0, 1, 0, 3, 0xff],
                    ..Default::default()
                })
            })
            .unwrap_err();
        assert_eq!(Status::from(error).code(), tonic::Code::InvalidArgument);
    }

    /// Two members in one server: add by Welcome with the tree out of band, remove by
    /// identity, and Free.
    #[test]
    fn add_then_remove_by_identity_in_process() {
        let server = server();
        let run = |f: &mut dyn FnMut(&mut State) -> Result<()>| server.with_state(|s| f(s));
        let mut alice = 0;
        let mut bob_tx = 0;
        let mut kp = Vec::new();
        run(&mut |s| {
            alice = s
                .create_group(proto::CreateGroupRequest {
                    group_id: b"group".to_vec(),
                    cipher_suite: 1,
                    encrypt_handshake: true,
                    identity: b"alice".to_vec(),
                })?
                .state_id;
            let created = s.create_key_package(proto::CreateKeyPackageRequest {
                cipher_suite: 1,
                identity: b"bob".to_vec(),
            })?;
            bob_tx = created.transaction_id;
            kp = created.key_package;
            Ok(())
        })
        .unwrap();
        let mut commit = proto::CommitResponse::default();
        run(&mut |s| {
            commit = s.commit(proto::CommitRequest {
                state_id: alice,
                by_value: vec![proto::ProposalDescription {
                    proposal_type: b"add".to_vec(),
                    key_package: kp.clone(),
                    ..Default::default()
                }],
                external_tree: true,
                ..Default::default()
            })?;
            Ok(())
        })
        .unwrap();
        assert!(!commit.ratchet_tree.is_empty());
        let mut bob = 0;
        run(&mut |s| {
            let merged =
                s.handle_pending_commit(proto::HandlePendingCommitRequest { state_id: alice })?;
            let joined = s.join_group(proto::JoinGroupRequest {
                transaction_id: bob_tx,
                welcome: commit.welcome.clone(),
                encrypt_handshake: true,
                identity: b"bob".to_vec(),
                ratchet_tree: commit.ratchet_tree.clone(),
            })?;
            assert_eq!(joined.epoch_authenticator, merged.epoch_authenticator);
            bob = joined.state_id;
            Ok(())
        })
        .unwrap();
        run(&mut |s| {
            let proposal = s
                .remove_proposal(proto::RemoveProposalRequest {
                    state_id: bob,
                    removed_id: b"alice".to_vec(),
                })?
                .proposal;
            // A PrivateMessage, as encrypt_handshake asked.
            assert_eq!(
                decode_message(&proposal)?.wire_format(),
                WireFormat::PRIVATE_MESSAGE
            );
            assert!(
                s.remove_proposal(proto::RemoveProposalRequest {
                    state_id: bob,
                    removed_id: b"nobody".to_vec(),
                })
                .is_err()
            );
            s.free(proto::FreeRequest { state_id: alice })?;
            assert!(s.free(proto::FreeRequest { state_id: alice }).is_err());
            Ok(())
        })
        .unwrap();
    }
}
