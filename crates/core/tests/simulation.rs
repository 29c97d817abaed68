//! A deterministic simulation of many clients in one MLS group (RFC 9420 §12): random adds
//! (Welcome joins, §12.4.3.1), removes, empty commits with a path, Update proposals by
//! reference (§12.1.2), external joins and resyncs from the last GroupInfo (§12.4.3.2),
//! competing commits sequenced by an in-memory Delivery Service (the first commit of an
//! epoch wins, RFC 9750 §5), and application messages delivered out of order and late
//! (previous epoch, RFC 9420 §14). Members change application data (draft-ietf-mls-
//! extensions-10 §4.7: AppDataUpdate updates and removes, by reference and by value, also in
//! external commits) and attach AppEphemeral data (§4.8), AppAcks of the messages they
//! received among it (§6.1). Some runs are member-proof groups
//! (draft-mahy-mls-member-proof-00): a watcher standing in for the Delivery Service checks
//! every message's proof with the epoch's key alone, learns each next key from the winning
//! commit, and must agree with every member on it.
//!
//! After every commit all members must agree on the epoch, the epoch authenticator and the
//! group context (so the application data), must report the same application-data changes,
//! and must read each other's messages.
//!
//! `CONCLAVE_SIM_EPOCHS` sets the number of epochs of each run (default below).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeSet;

use common::{
    Draw, LOG, NOW, REACTION, TOPIC, components, env, group_info_of, identity, key_package,
    welcome_of,
};
use conclave_codec::Encode;
use conclave_core::codepoints::APP_ACK_COMPONENT;
use conclave_core::codepoints::SEMI_PRIVATE_MESSAGE_WIRE_FORMAT;
use conclave_core::group::app_data::app_ack_of;
use conclave_core::group::{
    AppDataSummary, CommitOptions, CommitOutput, Group, GroupConfig, GroupError, GroupStatus,
    JoinOptions, KeyPackageBundle, MemberParams, NewGroup, ProcessedMessage, SigningIdentity,
};
use conclave_core::member_proof;
use conclave_core::messages::{
    Add, AppDataUpdate, AppDataUpdateOperation, AppEphemeral, Credential, ExtensionProposalBody,
    ExternalReceiver, GroupInfo, HpkePublicKey, LeafIndex, MlsMessage, MlsMessageBody, Proposal,
    RatchetTreeNodes, Remove, WireFormat,
};
use conclave_core::semi_private::open_as_external_receiver;
use conclave_crypto::{CipherSuite, SeededRng};

/// Epochs per run when `CONCLAVE_SIM_EPOCHS` is not set.
const DEFAULT_EPOCHS: u64 = 150;
/// Number of distinct clients (identities) that come and go.
const CLIENTS: usize = 24;
const GROUP_ID: &[u8] = b"simulated group";

fn epochs() -> u64 {
    match std::env::var("CONCLAVE_SIM_EPOCHS") {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("CONCLAVE_SIM_EPOCHS={value:?} is not a number")),
        Err(_) => DEFAULT_EPOCHS,
    }
}

/// How the clients of a run send their handshake messages.
#[derive(Debug, Clone, Copy)]
enum Handshakes {
    Public,
    Private,
    /// Each client picks one at random.
    Mixed,
    /// The group enables semi-private handshakes for an external receiver
    /// (draft-mahy-mls-semiprivatemessage-07); each client picks public, private or
    /// semi-private at random, and the receiver opens and verifies every semi-private one.
    MixedWithSemiPrivate,
}

struct Client {
    name: String,
    signer: SigningIdentity,
    config: GroupConfig,
    group: Option<Group>,
    /// The application messages this client read: `(epoch, sender, generation)`, for its
    /// AppAcks (draft-ietf-mls-extensions-10 §6.1).
    received: Vec<(u64, LeafIndex, u32)>,
}

impl Client {
    /// Our parameters: the client's signer and policy, and the test components.
    fn params(&self) -> MemberParams {
        MemberParams {
            config: self.config.clone(),
            components: components(),
            ..MemberParams::new(env(), self.signer.clone())
        }
    }
}

#[derive(Debug, Default)]
struct Stats {
    epochs: u64,
    welcome_joins: u64,
    external_joins: u64,
    resyncs: u64,
    removes: u64,
    update_proposals: u64,
    proposals_by_reference: u64,
    path_less_commits: u64,
    empty_commits: u64,
    discarded_commits: u64,
    app_messages: u64,
    deliveries: u64,
    late_deliveries: u64,
    reloads: u64,
    max_size: usize,
    app_data_updates: u64,
    app_data_removes: u64,
    app_ephemerals: u64,
    app_acks: u64,
    app_data_in_external_commits: u64,
    semi_private_opened: u64,
    member_proofs_checked: u64,
}

/// What a Delivery Service that holds only a member-proof group's current key checks
/// (draft-mahy-mls-member-proof-00 §3, §4): each message's proof under that key, each nonce
/// once per epoch, and each commit's next-epoch key.
struct ProofWatcher {
    /// The key of the current epoch, registered by the creator and then learnt from commits.
    key: Vec<u8>,
    /// The nonces of the current epoch.
    nonces: BTreeSet<Vec<u8>>,
}

/// An application message in flight.
struct AppMessage {
    sender: usize,
    sender_leaf: LeafIndex,
    epoch: u64,
    text: Vec<u8>,
    message: MlsMessage,
}

/// A commit submitted to the Delivery Service for the current epoch.
enum Submission {
    Member {
        committer: usize,
        output: CommitOutput,
        /// Clients to join through the Welcome, with their KeyPackages.
        joiners: Vec<(usize, KeyPackageBundle)>,
        /// Whether the ratchet tree is left out of the Welcome (joiners get it out of band).
        tree_out_of_band: bool,
    },
    External {
        joiner: usize,
        group: Box<Group>,
        output: CommitOutput,
        /// Whether this is a resync of a current member (its old state is then dropped).
        resync: bool,
    },
}

impl Submission {
    fn commit(&self) -> &MlsMessage {
        match self {
            Submission::Member { output, .. } | Submission::External { output, .. } => {
                &output.commit
            }
        }
    }
}

struct Sim {
    rng: SeededRng,
    suite: CipherSuite,
    clients: Vec<Client>,
    /// The GroupInfo of the current epoch, as the Delivery Service publishes it.
    group_info: GroupInfo,
    stats: Stats,
    /// The external receiver of a semi-private run, with its HPKE private key.
    receiver: Option<(ExternalReceiver, conclave_crypto::Secret)>,
    /// The member-proof watcher of a member-proof run.
    proofs: Option<ProofWatcher>,
}

impl Sim {
    fn new(suite: CipherSuite, handshakes: Handshakes, seed: u64, member_proofs: bool) -> Self {
        let mut rng = SeededRng::new(seed);
        let clients: Vec<Client> = (0..CLIENTS)
            .map(|i| {
                let name = format!("client-{i:02}");
                let handshake_wire_format = match handshakes {
                    Handshakes::Public => WireFormat::PUBLIC_MESSAGE,
                    Handshakes::Private => WireFormat::PRIVATE_MESSAGE,
                    Handshakes::Mixed if rng.chance(50) => WireFormat::PUBLIC_MESSAGE,
                    Handshakes::Mixed => WireFormat::PRIVATE_MESSAGE,
                    Handshakes::MixedWithSemiPrivate => match rng.below(3) {
                        0 => WireFormat::PUBLIC_MESSAGE,
                        1 => WireFormat::PRIVATE_MESSAGE,
                        _ => SEMI_PRIVATE_MESSAGE_WIRE_FORMAT,
                    },
                };
                Client {
                    signer: identity(&name, suite, &mut rng),
                    name,
                    config: GroupConfig {
                        handshake_wire_format,
                        ..GroupConfig::default()
                    },
                    group: None,
                    received: Vec::new(),
                }
            })
            .collect();
        let mut sim = Self {
            rng,
            suite,
            clients,
            group_info: GroupInfo {
                group_context: conclave_core::messages::GroupContext {
                    version: conclave_core::messages::ProtocolVersion::MLS10,
                    cipher_suite: suite,
                    group_id: Vec::new(),
                    epoch: 0,
                    tree_hash: Vec::new(),
                    confirmed_transcript_hash: Vec::new(),
                    extensions: Vec::new(),
                },
                extensions: Vec::new(),
                confirmation_tag: Vec::new(),
                signer: LeafIndex(0),
                signature: Vec::new(),
            },
            stats: Stats::default(),
            receiver: None,
            proofs: None,
        };
        let mut new_group = NewGroup::new(suite, GROUP_ID.to_vec());
        if matches!(handshakes, Handshakes::MixedWithSemiPrivate) {
            let cs = env().suite(suite).unwrap();
            let pair = conclave_crypto::hpke::generate_key_pair(cs.as_ref(), &mut sim.rng).unwrap();
            let entry = ExternalReceiver {
                external_receiver_public_key: HpkePublicKey(pair.public_key),
                credential: Credential::Basic {
                    identity: b"ds.example".to_vec(),
                },
            };
            new_group = new_group
                .with_external_receivers(vec![entry.clone()])
                .unwrap();
            sim.receiver = Some((entry, pair.secret_key));
        }
        if member_proofs {
            new_group = new_group.with_member_proofs().unwrap();
        }
        let group = Group::create(sim.clients[0].params(), new_group, NOW, &mut sim.rng).unwrap();
        sim.proofs = group.member_proof_public_key().map(|key| ProofWatcher {
            key: key.as_ref().to_vec(),
            nonces: BTreeSet::new(),
        });
        assert_eq!(sim.proofs.is_some(), member_proofs);
        sim.group_info = group_info_of(&group.group_info(true).unwrap());
        sim.clients[0].group = Some(group);
        sim
    }

    fn members(&self) -> Vec<usize> {
        (0..self.clients.len())
            .filter(|&i| self.clients[i].group.is_some())
            .collect()
    }

    fn outsiders(&self) -> Vec<usize> {
        (0..self.clients.len())
            .filter(|&i| self.clients[i].group.is_none())
            .collect()
    }

    fn group(&mut self, client: usize) -> &mut Group {
        self.clients[client].group.as_mut().unwrap()
    }

    fn epoch(&self) -> u64 {
        let first = self.members()[0];
        self.clients[first].group.as_ref().unwrap().epoch()
    }

    /// Picks `count` distinct members other than those in `exclude`.
    fn pick_members(&mut self, count: usize, exclude: &BTreeSet<usize>) -> Vec<usize> {
        let mut candidates: Vec<usize> = self
            .members()
            .into_iter()
            .filter(|m| !exclude.contains(m))
            .collect();
        self.rng.shuffle(&mut candidates);
        candidates.truncate(count);
        candidates
    }

    // ---- application messages ---------------------------------------------------------------

    fn send_app(&mut self, sender: usize) -> AppMessage {
        let epoch = self.epoch();
        let counter = self.stats.app_messages;
        self.stats.app_messages += 1;
        let text =
            format!("{} #{counter} in epoch {epoch}", self.clients[sender].name).into_bytes();
        // A member-proof group requires Safe AAD: its messages carry no free-form data.
        let authenticated_data = if self.proofs.is_some() {
            Vec::new()
        } else {
            counter.to_be_bytes().to_vec()
        };
        let group = self.clients[sender].group.as_mut().unwrap();
        let sender_leaf = group.own_leaf();
        let message = group
            .encrypt_application_message(&text, &authenticated_data, &mut self.rng)
            .unwrap();
        self.proof_checks(&message, false);
        AppMessage {
            sender,
            sender_leaf,
            epoch,
            text,
            message,
        }
    }

    /// Delivers `message` to `receiver` and checks that it reads what was sent.
    fn deliver_app(&mut self, receiver: usize, message: &AppMessage) {
        let name = self.clients[receiver].name.clone();
        let group = self.group(receiver);
        match group.process_message(&message.message, NOW) {
            Ok(ProcessedMessage::Application {
                sender,
                generation,
                epoch,
                data,
                ..
            }) => {
                assert_eq!(sender, message.sender_leaf, "{name}: wrong sender");
                assert_eq!(epoch, message.epoch, "{name}: wrong epoch");
                assert_eq!(data, message.text, "{name}: wrong plaintext");
                self.clients[receiver]
                    .received
                    .push((epoch, sender, generation));
            }
            other => panic!(
                "{name} (epoch {}) cannot read message of epoch {} from client {}: {other:?}",
                group.epoch(),
                message.epoch,
                message.sender
            ),
        }
    }

    /// Every member except the sender gets each message, each receiver in its own random
    /// order (out-of-order delivery within the epoch, RFC 9420 §9.2).
    fn deliver_all(&mut self, messages: &[AppMessage]) {
        for receiver in self.members() {
            let mut order: Vec<usize> = (0..messages.len()).collect();
            self.rng.shuffle(&mut order);
            for i in order {
                if messages[i].sender != receiver {
                    self.deliver_app(receiver, &messages[i]);
                    self.stats.deliveries += 1;
                }
            }
        }
    }

    // ---- handshake ----------------------------------------------------------------------------

    /// Sends a handshake message (proposal) to every member, including the sender (echo).
    /// What the external receiver of a semi-private run does with every semi-private
    /// handshake (draft-mahy-mls-semiprivatemessage-07 §3.3): opens it and verifies it with
    /// the sender's leaf and the group context of `sender`'s current epoch.
    fn receiver_checks(&mut self, sender: usize, message: &MlsMessage) {
        let MlsMessageBody::SemiPrivateMessage(semi) = &message.body else {
            return;
        };
        let (entry, secret) = self.receiver.as_ref().unwrap();
        let group = self.clients[sender].group.as_ref().unwrap();
        let cs = env().suite(self.suite).unwrap();
        let opened =
            open_as_external_receiver(cs.as_ref(), secret.as_bytes(), entry, semi).unwrap();
        assert_eq!(opened.sender_leaf, group.own_leaf());
        let key = group
            .tree()
            .leaf(opened.sender_leaf)
            .unwrap()
            .signature_key
            .clone();
        opened
            .verify(cs.as_ref(), key.as_ref(), group.context())
            .unwrap();
        self.stats.semi_private_opened += 1;
    }

    /// What the member-proof watcher does with a message of the current epoch
    /// (draft-mahy-mls-member-proof-00 §3 "Verifying"): a member's message must prove
    /// membership under the epoch's key with a fresh nonce; an external commit only
    /// announces the next key. Returns the announced next key of a commit.
    fn proof_checks(&mut self, message: &MlsMessage, external: bool) -> Option<Vec<u8>> {
        let epoch = self.epoch();
        let watcher = self.proofs.as_mut()?;
        let (message_epoch, content_type, aad) = match &message.body {
            MlsMessageBody::PublicMessage(m) => (
                m.content.epoch,
                m.content.content_type(),
                &m.content.authenticated_data,
            ),
            MlsMessageBody::PrivateMessage(m) => (m.epoch, m.content_type, &m.authenticated_data),
            MlsMessageBody::SemiPrivateMessage(m) => {
                (m.epoch, m.content_type, &m.authenticated_data)
            }
            other => panic!("not a framed message: {other:?}"),
        };
        assert_eq!(message_epoch, epoch);
        if external {
            return member_proof::next_epoch_key_for_outsider(aad)
                .unwrap()
                .map(|key| key.0);
        }
        let cs = env().suite(self.suite).unwrap();
        let seen = member_proof::verify_for_outsider(
            cs.as_ref(),
            &watcher.key,
            GROUP_ID,
            epoch,
            content_type,
            aad,
        )
        .unwrap();
        assert!(watcher.nonces.insert(seen.nonce), "a nonce used twice");
        // Under another epoch's (or any other) key the same proof fails.
        let mut other_key = watcher.key.clone();
        if let Some(byte) = other_key.last_mut() {
            *byte ^= 1;
        }
        assert!(
            member_proof::verify_for_outsider(
                cs.as_ref(),
                &other_key,
                GROUP_ID,
                epoch,
                content_type,
                aad
            )
            .is_err()
        );
        self.stats.member_proofs_checked += 1;
        seen.next_epoch_key.map(|key| key.0)
    }

    fn broadcast_proposal(&mut self, proposer: usize, message: &MlsMessage) {
        self.receiver_checks(proposer, message);
        self.proof_checks(message, false);
        for member in self.members() {
            let processed = self.group(member).process_message(message, NOW).unwrap();
            if member == proposer {
                assert_eq!(processed, ProcessedMessage::OwnMessage);
            } else {
                assert!(
                    matches!(processed, ProcessedMessage::Proposal { .. }),
                    "{processed:?}"
                );
            }
        }
    }

    /// A regular commit by `committer` with `proposals` by value (and pending proposals by
    /// reference); new members' KeyPackages are made here.
    fn member_commit(
        &mut self,
        committer: usize,
        adds: &[usize],
        removes: &[LeafIndex],
    ) -> Submission {
        let mut joiners = Vec::new();
        let mut proposals = Vec::new();
        for &client in adds {
            let bundle = key_package(&self.clients[client].signer, self.suite, &mut self.rng);
            proposals.push(Proposal::Add(Add {
                key_package: bundle.key_package.clone(),
            }));
            joiners.push((client, bundle));
        }
        for &removed in removes {
            proposals.push(Proposal::Remove(Remove { removed }));
        }
        proposals.extend(self.app_proposals_by_value(committer));
        let only_adds = removes.is_empty() && !adds.is_empty();
        let has_pending = self.group(committer).pending_proposals().next().is_some();
        // Adds alone do not need a path (RFC 9420 §12.4); sometimes leave it out.
        let force_path = !(only_adds && !has_pending && self.rng.chance(40));
        if !force_path {
            self.stats.path_less_commits += 1;
        }
        if proposals.is_empty() && !has_pending {
            self.stats.empty_commits += 1;
        }
        let tree_out_of_band = !adds.is_empty() && self.rng.chance(25);
        let options = CommitOptions {
            proposals,
            force_path,
            ratchet_tree_in_group_info: !tree_out_of_band,
            // A member-proof group requires Safe AAD: no free-form data there.
            authenticated_data: if self.proofs.is_some() {
                Vec::new()
            } else {
                b"commit".to_vec()
            },
            ..CommitOptions::default()
        };
        let group = self.clients[committer].group.as_mut().unwrap();
        let output = group.commit(&options, NOW, &mut self.rng).unwrap();
        Submission::Member {
            committer,
            output,
            joiners,
            tree_out_of_band,
        }
    }

    /// Application data a committer includes by value (draft-ietf-mls-extensions-10 §4.7,
    /// §4.8): an update or a remove of LOG (no one proposes LOG by reference, so a remove
    /// never meets another AppDataUpdate of it), a reaction, an AppAck of the messages the
    /// committer read in this epoch.
    fn app_proposals_by_value(&mut self, committer: usize) -> Vec<Proposal> {
        let epoch = self.epoch();
        let mut proposals = Vec::new();
        let roll = self.rng.below(100);
        let group = self.clients[committer].group.as_ref().unwrap();
        let has_log = group.app_data(LOG).unwrap().is_some();
        if roll < 10 && has_log {
            proposals.push(group.app_data_update_proposal(AppDataUpdate {
                component_id: LOG,
                op: AppDataUpdateOperation::Remove,
            }));
            self.stats.app_data_removes += 1;
        } else if roll < 40 {
            proposals.push(group.app_data_update_proposal(AppDataUpdate {
                component_id: LOG,
                op: AppDataUpdateOperation::Update(format!("{epoch};").into_bytes()),
            }));
            self.stats.app_data_updates += 1;
        }
        if self.rng.chance(15) {
            proposals.push(group.app_ephemeral_proposal(AppEphemeral {
                component_id: REACTION,
                data: b"+1".to_vec(),
            }));
            self.stats.app_ephemerals += 1;
        }
        let received: Vec<(LeafIndex, u32)> = self.clients[committer]
            .received
            .iter()
            .filter(|(e, _, _)| *e == epoch)
            .map(|(_, sender, generation)| (*sender, *generation))
            .collect();
        if !received.is_empty() && self.rng.chance(30) {
            let ack = app_ack_of(received);
            proposals.push(group.app_ephemeral_proposal(AppEphemeral {
                component_id: APP_ACK_COMPONENT,
                data: ack.to_bytes().unwrap(),
            }));
            self.stats.app_acks += 1;
        }
        proposals
    }

    /// An external join (or resync) of `joiner` from the published GroupInfo.
    fn external_commit(&mut self, joiner: usize) -> Submission {
        let resync = self.clients[joiner].group.is_some();
        let mut app_proposals = Vec::new();
        if self.rng.chance(30) {
            app_proposals.push(ExtensionProposalBody::AppDataUpdate(AppDataUpdate {
                component_id: LOG,
                op: AppDataUpdateOperation::Update(b"joiner;".to_vec()),
            }));
            app_proposals.push(ExtensionProposalBody::AppEphemeral(AppEphemeral {
                component_id: REACTION,
                data: b"hello".to_vec(),
            }));
            self.stats.app_data_in_external_commits += 1;
        }
        let options = JoinOptions {
            remove_prior_leaf: self.clients[joiner].group.as_ref().map(Group::own_leaf),
            app_proposals,
            ..JoinOptions::default()
        };
        let (group, output) = Group::join_external(
            self.clients[joiner].params(),
            &self.group_info,
            &options,
            NOW,
            &mut self.rng,
        )
        .unwrap();
        Submission::External {
            joiner,
            group: Box::new(group),
            output,
            resync,
        }
    }

    /// One epoch: application messages, proposals, competing commits, delivery, joins, late
    /// messages, checks.
    fn step(&mut self) {
        let epoch = self.epoch();
        let size = self.members().len();

        // 1. Application messages; some are held back and delivered after the commit.
        let mut now_msgs = Vec::new();
        let mut late_msgs = Vec::new();
        let count = 1 + self.rng.below(3);
        let senders = self.pick_members(count, &BTreeSet::new());
        for sender in senders {
            for _ in 0..1 + self.rng.below(3) {
                let message = self.send_app(sender);
                if self.rng.chance(25) {
                    late_msgs.push(message);
                } else {
                    now_msgs.push(message);
                }
            }
        }
        self.deliver_all(&now_msgs);

        // 2. Proposals by reference: Updates (RFC 9420 §12.1.2) and Removes.
        let mut touched = BTreeSet::new();
        if size >= 3 && self.rng.chance(30) {
            let count = 1 + self.rng.below(2);
            let proposers = self.pick_members(count, &BTreeSet::new());
            for proposer in proposers {
                let message = self.propose_update(proposer);
                self.broadcast_proposal(proposer, &message);
                self.stats.update_proposals += 1;
                self.stats.proposals_by_reference += 1;
                touched.insert(proposer);
            }
        }
        if size >= 4 && self.rng.chance(15) {
            let proposer = self.pick_members(1, &BTreeSet::new())[0];
            let mut exclude = touched.clone();
            exclude.insert(proposer);
            if let Some(&target) = self.pick_members(1, &exclude).first() {
                let removed = self.group(target).own_leaf();
                let group = self.clients[proposer].group.as_mut().unwrap();
                let message = group
                    .propose(Proposal::Remove(Remove { removed }), b"", &mut self.rng)
                    .unwrap();
                self.broadcast_proposal(proposer, &message);
                self.stats.proposals_by_reference += 1;
                touched.insert(target);
            }
        }

        // Application data by reference (draft-ietf-mls-extensions-10 §4.7, §4.8): one TOPIC
        // change per epoch at most, so that a remove never meets another AppDataUpdate.
        if self.rng.chance(25) {
            let proposer = self.pick_members(1, &BTreeSet::new())[0];
            let epoch = self.epoch();
            let group = self.clients[proposer].group.as_mut().unwrap();
            let op = if group.app_data(TOPIC).unwrap().is_some() && self.rng.chance(30) {
                self.stats.app_data_removes += 1;
                AppDataUpdateOperation::Remove
            } else {
                self.stats.app_data_updates += 1;
                AppDataUpdateOperation::Update(format!("topic of epoch {epoch}").into_bytes())
            };
            let update = AppDataUpdate {
                component_id: TOPIC,
                op,
            };
            let message = group
                .propose_app_data_update(update, &mut self.rng)
                .unwrap();
            self.broadcast_proposal(proposer, &message);
            self.stats.proposals_by_reference += 1;
        }
        if self.rng.chance(15) {
            let proposer = self.pick_members(1, &BTreeSet::new())[0];
            let group = self.clients[proposer].group.as_mut().unwrap();
            let reaction = AppEphemeral {
                component_id: REACTION,
                data: b"by reference".to_vec(),
            };
            let message = group
                .propose_app_ephemeral(reaction, &mut self.rng)
                .unwrap();
            self.broadcast_proposal(proposer, &message);
            self.stats.proposals_by_reference += 1;
            self.stats.app_ephemerals += 1;
        }

        // 3. Commits, submitted concurrently; the Delivery Service keeps the first.
        let mut submissions = Vec::new();
        let competitors = if self.rng.chance(20) {
            2 + self.rng.below(2)
        } else {
            1
        };
        let mut committers = BTreeSet::new();
        for _ in 0..competitors {
            let outsiders = self.outsiders();
            let roll = self.rng.below(100);
            if roll < 12 && !outsiders.is_empty() {
                let joiner = self.rng.pick(&outsiders);
                // Mark the joiner taken so that no Add of the same client competes.
                submissions.push(self.external_commit(joiner));
                // No competing commit adds the same client.
                committers.insert(joiner);
                continue;
            }
            if roll < 16 && size >= 3 {
                let candidates: Vec<usize> = self
                    .members()
                    .into_iter()
                    .filter(|m| !touched.contains(m) && !committers.contains(m))
                    .collect();
                if let Some(&member) = candidates.first() {
                    submissions.push(self.external_commit(member));
                    committers.insert(member);
                    continue;
                }
            }
            let mut exclude = committers.clone();
            exclude.extend(touched.iter().copied());
            let Some(&committer) = self.pick_members(1, &exclude).first() else {
                continue;
            };
            committers.insert(committer);
            let mut adds = Vec::new();
            let mut removes = Vec::new();
            let want_add = size < 4 || (size < CLIENTS - 2 && self.rng.chance(45));
            if want_add {
                let mut outsiders: Vec<usize> = self
                    .outsiders()
                    .into_iter()
                    .filter(|o| !committers.contains(o))
                    .collect();
                self.rng.shuffle(&mut outsiders);
                outsiders.truncate(1 + self.rng.below(3));
                adds = outsiders;
            }
            if size > 3 && self.rng.chance(if size > 14 { 60 } else { 30 }) {
                let mut exclude = touched.clone();
                exclude.extend(committers.iter().copied());
                let count = 1 + self.rng.below(2).min(size - 3);
                for target in self.pick_members(count, &exclude) {
                    removes.push(self.group(target).own_leaf());
                }
            }
            submissions.push(self.member_commit(committer, &adds, &removes));
        }
        if submissions.is_empty() {
            let committer = self.pick_members(1, &touched)[0];
            submissions.push(self.member_commit(committer, &[], &[]));
        }
        self.rng.shuffle(&mut submissions);
        let mut submissions = submissions.into_iter();
        let winner = submissions.next().unwrap();
        let losers: Vec<Submission> = submissions.collect();
        for loser in &losers {
            self.stats.discarded_commits += 1;
            if let Submission::Member { committer, .. } = loser {
                self.group(*committer).clear_pending_commit();
            }
        }

        // Members persist and reload their state, sometimes with a commit pending.
        if self.rng.chance(20) {
            let client = match &winner {
                Submission::Member { committer, .. } => *committer,
                Submission::External { .. } => self.pick_members(1, &BTreeSet::new())[0],
            };
            self.reload(client);
        }

        // 4. Delivery of the winning commit.
        let members_before: BTreeSet<usize> = self.members().into_iter().collect();
        let commit = winner.commit().clone();
        let (origin, resync) = match &winner {
            Submission::Member { committer, .. } => (*committer, false),
            Submission::External { joiner, resync, .. } => (*joiner, *resync),
        };
        if matches!(winner, Submission::Member { .. }) {
            self.receiver_checks(origin, &commit);
        }
        let next_proof_key =
            self.proof_checks(&commit, matches!(winner, Submission::External { .. }));
        if self.proofs.is_some() {
            assert!(next_proof_key.is_some(), "a commit without the next key");
        }
        // What each member reports of the application data (all must agree).
        let mut app_data: Vec<(String, AppDataSummary)> = Vec::new();
        for member in members_before.clone() {
            if member == origin && resync {
                // The resyncing client lost its state: its old group is dropped.
                self.clients[member].group = None;
                continue;
            }
            let own = member == origin;
            let merge_directly = own && self.rng.chance(50);
            let name = self.clients[member].name.clone();
            let group = self.group(member);
            let processed = if merge_directly {
                group
                    .merge_pending_commit()
                    .map(ProcessedMessage::OwnCommitMerged)
            } else {
                group.process_message(&commit, NOW)
            };
            match processed {
                Ok(ProcessedMessage::OwnCommitMerged(summary)) if own => {
                    assert_eq!(summary.epoch, epoch + 1);
                    app_data.push((name, summary.app_data));
                }
                Ok(ProcessedMessage::Commit(summary)) if !own => {
                    assert_eq!(summary.epoch, epoch + 1);
                    app_data.push((name, summary.app_data.clone()));
                    if summary.self_removed {
                        assert_eq!(*group.status(), GroupStatus::Removed);
                        self.clients[member].group = None;
                        self.stats.removes += 1;
                    }
                }
                other => panic!(
                    "{} could not process the commit of epoch {epoch}: {other:?}",
                    self.clients[member].name
                ),
            }
        }

        for (name, summary) in &app_data {
            assert_eq!(
                summary, &app_data[0].1,
                "{name}: application data of the commit"
            );
        }

        // 5. Joins.
        let mut new_members = Vec::new();
        match winner {
            Submission::Member {
                committer,
                output,
                joiners,
                tree_out_of_band,
            } => {
                assert_eq!(output.welcome.is_some(), !joiners.is_empty());
                let options = JoinOptions {
                    ratchet_tree: tree_out_of_band.then(|| {
                        self.clients[committer]
                            .group
                            .as_ref()
                            .unwrap()
                            .tree()
                            .to_nodes()
                    }),
                    ..JoinOptions::default()
                };
                for (client, bundle) in joiners {
                    let welcome = welcome_of(output.welcome.as_ref().unwrap());
                    let group = Group::join(
                        self.clients[client].params(),
                        &welcome,
                        &bundle,
                        &options,
                        NOW,
                    )
                    .unwrap_or_else(|e| panic!("{} cannot join: {e:?}", self.clients[client].name));
                    self.clients[client].group = Some(group);
                    new_members.push(client);
                    self.stats.welcome_joins += 1;
                }
                self.group_info = group_info_of(&output.group_info);
                if self.group_info_has_no_tree() {
                    // The Delivery Service publishes a GroupInfo with the tree for external
                    // joiners.
                    self.group_info =
                        group_info_of(&self.group(committer).group_info(true).unwrap());
                }
            }
            Submission::External {
                joiner,
                group,
                output,
                resync,
            } => {
                self.clients[joiner].group = Some(*group);
                new_members.push(joiner);
                if resync {
                    self.stats.resyncs += 1;
                } else {
                    self.stats.external_joins += 1;
                }
                self.group_info = group_info_of(&output.group_info);
            }
        }
        if self.members().len() > self.stats.max_size {
            self.stats.max_size = self.members().len();
        }
        self.stats.epochs += 1;
        self.assert_agreement(epoch + 1);
        // The watcher moves to the key the winning commit announced, which every member
        // derived for itself (draft-mahy-mls-member-proof-00 §4).
        if let (Some(watcher), Some(key)) = (self.proofs.as_mut(), next_proof_key) {
            watcher.key = key;
            watcher.nonces.clear();
            for member in self.members() {
                let own = self.clients[member].group.as_ref().unwrap();
                assert_eq!(
                    own.member_proof_public_key().map(|k| k.as_ref().to_vec()),
                    Some(self.proofs.as_ref().unwrap().key.clone()),
                    "{}: member-proof key of epoch {}",
                    self.clients[member].name,
                    epoch + 1
                );
            }
        }

        // 6. Losing commits arrive late: they are for the old epoch and must be rejected
        // without effect.
        for loser in &losers {
            let member = self.pick_members(1, &BTreeSet::new())[0];
            let group = self.group(member);
            let before = common::snapshot(group);
            let result = group.process_message(loser.commit(), NOW);
            assert!(
                matches!(result, Err(GroupError::WrongEpoch { .. })),
                "stale commit: {result:?}"
            );
            assert_eq!(before, common::snapshot(group));
        }

        // 7. Late application messages of the previous epoch (RFC 9420 §14).
        for message in &late_msgs {
            for receiver in self.members() {
                if receiver == message.sender && members_before.contains(&receiver) {
                    continue;
                }
                if members_before.contains(&receiver) && !new_members.contains(&receiver) {
                    self.deliver_app(receiver, message);
                    self.stats.late_deliveries += 1;
                } else {
                    // Joined in the new epoch: never had the keys.
                    let result = self.group(receiver).process_message(&message.message, NOW);
                    assert!(
                        result.is_err(),
                        "a new member read an old message: {result:?}"
                    );
                }
            }
        }

        if self.rng.chance(20) {
            let client = self.pick_members(1, &BTreeSet::new())[0];
            self.reload(client);
        }

        // 8. The committer and the new members talk in the new epoch.
        let mut speakers: Vec<usize> = new_members.clone();
        if self.clients[origin].group.is_some() && !speakers.contains(&origin) {
            speakers.push(origin);
        }
        let messages: Vec<AppMessage> = speakers.into_iter().map(|s| self.send_app(s)).collect();
        self.deliver_all(&messages);
    }

    /// Serializes a member's state and loads it back (`Group::to_bytes`, `Group::from_bytes`).
    fn reload(&mut self, client: usize) {
        let group = self.clients[client].group.take().unwrap();
        let bytes = group.to_bytes().unwrap();
        drop(group);
        let mut group = Group::from_bytes(env(), &bytes).unwrap();
        assert_eq!(
            group.to_bytes().unwrap(),
            bytes,
            "state does not round-trip"
        );
        group.set_component_handler(components());
        self.clients[client].group = Some(group);
        self.stats.reloads += 1;
    }

    fn group_info_has_no_tree(&self) -> bool {
        conclave_core::messages::find_payload::<RatchetTreeNodes>(&self.group_info.extensions)
            .unwrap()
            .is_none()
    }

    fn propose_update(&mut self, proposer: usize) -> MlsMessage {
        let group = self.clients[proposer].group.as_mut().unwrap();
        group.propose_update(None, &mut self.rng).unwrap()
    }

    fn assert_agreement(&self, epoch: u64) {
        let members = self.members();
        let first = self.clients[members[0]].group.as_ref().unwrap();
        assert_eq!(first.epoch(), epoch);
        for &m in &members {
            let group = self.clients[m].group.as_ref().unwrap();
            assert_eq!(*group.status(), GroupStatus::Active);
            assert_eq!(group.epoch(), epoch, "{}", self.clients[m].name);
            assert_eq!(
                group.epoch_authenticator(),
                first.epoch_authenticator(),
                "{}: epoch authenticator",
                self.clients[m].name
            );
            assert_eq!(group.context(), first.context(), "{}", self.clients[m].name);
            assert_eq!(group.tree().member_count() as usize, members.len());
            let leaf = group.tree().leaf(group.own_leaf()).unwrap();
            assert_eq!(leaf.signature_key, self.clients[m].signer.public_key);
        }
    }
}

fn run(suite: CipherSuite, handshakes: Handshakes, seed: u64) {
    run_with(suite, handshakes, seed, false);
}

fn run_with(suite: CipherSuite, handshakes: Handshakes, seed: u64, member_proofs: bool) {
    let epochs = epochs();
    let started = std::time::Instant::now();
    let mut sim = Sim::new(suite, handshakes, seed, member_proofs);
    for _ in 0..epochs {
        sim.step();
    }
    let s = &sim.stats;
    println!(
        "suite {} {handshakes:?} handshakes: {} epochs in {:.1?}; group size now {} (max {}); \
         {} Welcome joins, {} external joins, {} resyncs, {} removes, {} Update proposals, \
         {} proposals by reference, {} empty and {} path-less commits, {} discarded competing \
         commits, \
         {} application messages ({} deliveries, {} late), {} state reloads; \
         {} AppDataUpdate updates, {} removes, {} external commits with application data, \
         {} AppEphemerals, {} AppAcks",
        suite.0,
        s.epochs,
        started.elapsed(),
        sim.members().len(),
        s.max_size,
        s.welcome_joins,
        s.external_joins,
        s.resyncs,
        s.removes,
        s.update_proposals,
        s.proposals_by_reference,
        s.empty_commits,
        s.path_less_commits,
        s.discarded_commits,
        s.app_messages,
        s.deliveries,
        s.late_deliveries,
        s.reloads,
        s.app_data_updates,
        s.app_data_removes,
        s.app_data_in_external_commits,
        s.app_ephemerals,
        s.app_acks,
    );
    assert_eq!(s.epochs, epochs);
    if epochs >= 100 {
        for (what, count) in [
            ("welcome joins", s.welcome_joins),
            ("external joins", s.external_joins),
            ("resyncs", s.resyncs),
            ("removes", s.removes),
            ("update proposals", s.update_proposals),
            ("empty commits", s.empty_commits),
            ("path-less commits", s.path_less_commits),
            ("discarded commits", s.discarded_commits),
            ("application messages", s.app_messages),
            ("late deliveries", s.late_deliveries),
            ("state reloads", s.reloads),
            ("AppDataUpdate updates", s.app_data_updates),
            ("AppDataUpdate removes", s.app_data_removes),
            (
                "external commits with application data",
                s.app_data_in_external_commits,
            ),
            ("AppEphemerals", s.app_ephemerals),
            ("AppAcks", s.app_acks),
        ] {
            assert!(count > 0, "no {what} in {epochs} epochs");
        }
        if matches!(handshakes, Handshakes::MixedWithSemiPrivate) {
            println!(
                "{} semi-private handshakes opened and verified by the external receiver",
                s.semi_private_opened
            );
            assert!(s.semi_private_opened > 0, "no semi-private handshake");
        }
        if member_proofs {
            println!(
                "{} member proofs checked by the watcher",
                s.member_proofs_checked
            );
            assert!(s.member_proofs_checked > 0, "no member proof");
        }
    }
}

#[test]
fn simulation_suite1_public_handshakes() {
    run(CipherSuite(1), Handshakes::Public, 1);
}

#[test]
fn simulation_suite2_private_handshakes() {
    run(CipherSuite(2), Handshakes::Private, 2);
}

#[test]
fn simulation_suite1_mixed_handshakes() {
    run(CipherSuite(1), Handshakes::Mixed, 3);
}

#[test]
fn simulation_suite3_semi_private_handshakes() {
    run(CipherSuite(3), Handshakes::MixedWithSemiPrivate, 4);
}

/// A member-proof group (draft-mahy-mls-member-proof-00) with every handshake mode, watched
/// by a Delivery Service that holds only the current epoch's key.
#[test]
fn simulation_suite1_member_proofs_with_semi_private_handshakes() {
    run_with(CipherSuite(1), Handshakes::MixedWithSemiPrivate, 5, true);
}
