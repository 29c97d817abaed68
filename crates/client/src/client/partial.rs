//! Partial mode (draft-ietf-mls-partial-02): a client registered `partial` holds, for each
//! of its groups, a [`PartialMember`] — the epoch secrets, the tree hash, its own leaf and
//! the private keys of its direct path, no ratchet tree — and relies on the Delivery Service,
//! which follows the public tree of verified groups, for the annotations:
//!
//! - **Joining (§8)**: the Welcome inbox holds an AnnotatedWelcome for a partial client
//!   (`"annotated": true`); [`PartialMember::join`] checks the sender and joiner proofs
//!   against the GroupInfo's tree hash.
//! - **Following commits (§10)**: the log shows the commits of our epochs as AnnotatedCommits
//!   (content type 5); [`PartialMember::process_annotated_commit`] applies them. A raw commit
//!   (content type 3) of our epoch is one the DS did not annotate for us: the commit that
//!   removed us (the DS README: a removed partial client reads its removal raw).
//! - **Messages (§7, §11)**: others' application messages come as
//!   `SenderAuthenticatedMessage<PrivateMessage>` (content type 6) with the sender's proof
//!   the DS attached; [`PartialMember::decrypt_application_message`] checks the proof against
//!   the epoch's tree hash, that it proves the sender leaf the PrivateMessage decrypts to, and
//!   the signature with the proven key. Our own messages are PrivateMessages like a full
//!   member's.
//! - **What a partial member cannot do (§4, §9)**: anything that needs the tree — creating a
//!   group, committing (add, remove, update, topic, roles), proposing, leaving, external
//!   joins, private asides — is refused with [`ClientError::PartialMember`].
//!
//! The state is one blob per group ([`StateWrite::Partial`], `partial_groups`), written with
//! the cursor and history in one transaction per log entry, as for full members.

use conclave_api::delivery::{
    ANNOTATED_COMMIT_CONTENT_TYPE, LogEntryView, SENDER_AUTHENTICATED_CONTENT_TYPE, WelcomeView,
};
use conclave_codec::{Decode as _, Encode as _};
use conclave_core::framing::PaddingPolicy;
use conclave_core::group::KeyPackageBundle;
use conclave_core::messages::{KeyPackage, MlsMessage, MlsMessageBody, PrivateMessage};
use conclave_core::partial::member::{PartialCommitOutcome, PartialMember, PartialPsks};
use conclave_core::partial::{AnnotatedCommit, AnnotatedWelcome, SenderAuthenticatedMessage};
use conclave_core::secret_tree::SecretTreeConfig;

use super::{Client, ClientOptions, GroupSummary};
use crate::OsRandom;
use crate::applier::message_digest;
use crate::delivery::DeliveryService;
use crate::driver::GroupDriver;
use crate::error::{BadResponse, ClientError};
use crate::event::Event;
use crate::names::{joined_name, leaf_name};
use crate::store::{AppliedEntry, GroupRow, GroupStatus, HistoryEntry, StateWrite, Store};

/// The store's metadata key saying that this profile registered as a partial client.
pub(crate) const PARTIAL_META: &str = "partial";

const DS: &str = "the Delivery Service";

/// What one log entry did to a partial member, before it is stored.
struct PartialStep {
    history: Option<HistoryEntry>,
    event: Option<Event>,
    status: Option<(GroupStatus, String)>,
    message: bool,
    own_digest: Option<Vec<u8>>,
}

impl PartialStep {
    fn nothing() -> Self {
        Self {
            history: None,
            event: None,
            status: None,
            message: false,
            own_digest: None,
        }
    }
}

impl Client {
    /// Whether this profile is a partial client (draft-ietf-mls-partial-02): registered with
    /// [`crate::ClientOptions::partial`].
    pub fn is_partial(&self) -> bool {
        self.options.partial
    }

    /// Refuses `operation` for a partial client (draft-ietf-mls-partial-02 §4, §9).
    pub(super) fn refuse_if_partial(&self, operation: &'static str) -> Result<(), ClientError> {
        if self.options.partial {
            Err(ClientError::PartialMember { operation })
        } else {
            Ok(())
        }
    }

    pub(super) fn load_partial(&self, row: &GroupRow) -> Result<PartialMember, ClientError> {
        load_partial(&self.store, &self.options, row)
    }

    pub(super) fn partial_summary(&self, row: &GroupRow) -> GroupSummary {
        let member = self.load_partial(row).ok();
        GroupSummary {
            name: row.name.clone(),
            group_id: hex::encode(&row.group_id),
            epoch: member.as_ref().map_or(0, PartialMember::epoch),
            // A partial member holds no tree: it knows its own leaf only.
            members: vec![self.profile.name.clone()],
            // The topic lives in the GroupContext's app_data_dictionary, which a partial
            // member holds.
            topic: member
                .as_ref()
                .and_then(|m| crate::topic::topic_in_context(&m.context().extensions).ok())
                .flatten(),
            status: row.status,
            reason: row.reason.clone(),
            cursor: row.cursor,
            handshakes: member.as_ref().map_or_else(Default::default, |m| {
                crate::handshakes::mode_of(m.context())
            }),
            member_proofs: member.as_ref().is_some_and(|m| {
                conclave_core::member_proof::enabled(&m.context().extensions).unwrap_or(false)
            }),
            tree_on_ds: false,
        }
    }

    /// Applies the group's log after our cursor as a partial member, one entry per
    /// transaction. Returns (entries applied, messages received).
    pub(super) async fn sync_partial_log(
        &mut self,
        group_id: &[u8],
    ) -> Result<(u64, u64), ClientError> {
        let (mut applied, mut messages) = (0, 0);
        loop {
            let Some(row) = self.store.group_by_id(group_id)? else {
                return Ok((applied, messages));
            };
            if row.status != GroupStatus::Active {
                return Ok((applied, messages));
            }
            let page = match self
                .ds
                .read_log(group_id, row.cursor, self.options.page_size)
                .await
                .map_err(ClientError::from)
            {
                Ok(page) => page,
                Err(ClientError::Refused {
                    status: 403 | 404, ..
                }) => {
                    let reason = "removed from the group: the Delivery Service no longer \
                                  counts you as a member";
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
            let start = row.cursor;
            let mut member = self.load_partial(&row)?;
            let mut progressed = false;
            for entry in page.iter().filter(|e| e.seq > start) {
                let step = self.partial_step(&mut member, &row.name, entry);
                let (status, reason) = match &step.status {
                    Some((status, reason)) => (*status, Some(reason.as_str())),
                    None => (GroupStatus::Active, None),
                };
                self.store.apply_entry(
                    group_id,
                    &partial_write(&member)?,
                    &AppliedEntry {
                        cursor: entry.seq,
                        status,
                        reason,
                        history: step.history.as_ref(),
                        sent_digest: step.own_digest.as_deref(),
                        body_from_outbox: step.own_digest.is_some(),
                    },
                )?;
                applied += 1;
                progressed = true;
                if step.message {
                    messages += 1;
                }
                if let Some(event) = &step.event {
                    self.emit(event);
                }
                if status != GroupStatus::Active {
                    return Ok((applied, messages));
                }
            }
            if !progressed {
                return Ok((applied, messages));
            }
        }
    }

    /// What one log entry does to the partial member `member` (changed in place only by
    /// what succeeded: the core's operations change nothing when they fail).
    fn partial_step(
        &self,
        member: &mut PartialMember,
        group: &str,
        entry: &LogEntryView,
    ) -> PartialStep {
        let undecryptable = |reason: String| PartialStep {
            history: Some(HistoryEntry {
                seq: entry.seq,
                epoch: entry.epoch,
                sender: entry.sender.clone(),
                kind: "undecryptable".into(),
                body: reason.clone(),
                at: self.now(),
            }),
            event: Some(Event::Undecryptable {
                group: group.to_owned(),
                seq: entry.seq,
                epoch: entry.epoch,
                reason,
            }),
            status: None,
            message: false,
            own_digest: None,
        };
        let bytes = match conclave_api::b64_decode(conclave_api::Service::Delivery, &entry.message)
        {
            Ok(bytes) => bytes,
            Err(e) => return undecryptable(e.to_string()),
        };
        // Entries of epochs before ours (the commit that added us, and before): skipped.
        if entry.epoch < member.epoch() {
            return PartialStep::nothing();
        }
        match entry.content_type {
            ANNOTATED_COMMIT_CONTENT_TYPE => {
                let annotated = match AnnotatedCommit::from_bytes(&bytes) {
                    Ok(a) => a,
                    Err(e) => return undecryptable(format!("an AnnotatedCommit: {e}")),
                };
                match member.process_annotated_commit(&annotated, &PartialPsks::NONE) {
                    Ok(PartialCommitOutcome::Advanced { epoch, .. }) => {
                        let text = format!("{} committed; epoch {epoch}", entry.sender);
                        PartialStep {
                            history: Some(HistoryEntry {
                                seq: entry.seq,
                                epoch,
                                sender: entry.sender.clone(),
                                kind: "event".into(),
                                body: text.clone(),
                                at: self.now(),
                            }),
                            event: Some(Event::Membership {
                                group: group.to_owned(),
                                seq: entry.seq,
                                epoch,
                                text,
                            }),
                            ..PartialStep::nothing()
                        }
                    }
                    Ok(PartialCommitOutcome::Removed) => self.removed_step(group, entry),
                    // A ReInit (or an outcome of a later core version): this client follows
                    // no successor group.
                    Ok(_) => {
                        let reason = "the group was reinitialized (RFC 9420 §11.2); this \
                                      client does not follow ReInit"
                            .to_owned();
                        PartialStep {
                            status: Some((GroupStatus::Removed, reason.clone())),
                            event: Some(Event::Removed {
                                group: group.to_owned(),
                                reason,
                            }),
                            ..PartialStep::nothing()
                        }
                    }
                    Err(e) => {
                        let reason = format!("an annotated commit was refused: {e}");
                        PartialStep {
                            status: Some((GroupStatus::Desynchronized, reason.clone())),
                            event: Some(Event::Desynchronized {
                                group: group.to_owned(),
                                epoch: member.epoch(),
                                reason,
                            }),
                            ..PartialStep::nothing()
                        }
                    }
                }
            }
            // A raw commit of our epoch: the DS annotates every commit for a partial member
            // it keeps, so this one removed us.
            3 => self.removed_step(group, entry),
            SENDER_AUTHENTICATED_CONTENT_TYPE => {
                let message = match SenderAuthenticatedMessage::<PrivateMessage>::from_bytes(&bytes)
                {
                    Ok(m) => m,
                    Err(e) => return undecryptable(format!("a SenderAuthenticatedMessage: {e}")),
                };
                match member.decrypt_application_message(&message) {
                    Ok(opened) => {
                        let sender = leaf_name(self.env.identity.as_ref(), &opened.sender_leaf);
                        let text = String::from_utf8_lossy(&opened.data).into_owned();
                        PartialStep {
                            history: Some(HistoryEntry {
                                seq: entry.seq,
                                epoch: entry.epoch,
                                sender: sender.clone(),
                                kind: "message".into(),
                                body: text.clone(),
                                at: self.now(),
                            }),
                            event: Some(Event::Message {
                                group: group.to_owned(),
                                seq: entry.seq,
                                epoch: entry.epoch,
                                sender,
                                text,
                            }),
                            message: true,
                            ..PartialStep::nothing()
                        }
                    }
                    Err(e) => undecryptable(e.to_string()),
                }
            }
            // An application message without a sender proof: ours (its key is gone, RFC 9420
            // §9.2; the outbox has the text), or one we cannot authenticate.
            1 if entry.sender == self.profile.name => PartialStep {
                history: Some(HistoryEntry {
                    seq: entry.seq,
                    epoch: entry.epoch,
                    sender: self.profile.name.clone(),
                    kind: "message".into(),
                    body: String::new(),
                    at: self.now(),
                }),
                message: true,
                own_digest: Some(message_digest(&bytes)),
                ..PartialStep::nothing()
            },
            1 => undecryptable(
                "an application message without its sender's membership proof: a partial \
                 member cannot authenticate the sender without it (draft-ietf-mls-partial-02 \
                 §7)"
                .into(),
            ),
            2 => {
                let result = MlsMessage::from_bytes(&bytes)
                    .map_err(|e| e.to_string())
                    .and_then(|m| member.receive_proposal(&m).map_err(|e| e.to_string()));
                match result {
                    Ok(()) => PartialStep::nothing(),
                    Err(e) => undecryptable(format!("a proposal: {e}")),
                }
            }
            // Targeted messages (private asides) need the recipient's leaf key from the tree.
            _ => PartialStep::nothing(),
        }
    }

    fn removed_step(&self, group: &str, entry: &LogEntryView) -> PartialStep {
        let reason = format!("{} removed you from the group", entry.sender);
        PartialStep {
            history: Some(HistoryEntry {
                seq: entry.seq,
                epoch: entry.epoch,
                sender: entry.sender.clone(),
                kind: "event".into(),
                body: reason.clone(),
                at: self.now(),
            }),
            status: Some((GroupStatus::Removed, reason.clone())),
            event: Some(Event::Removed {
                group: group.to_owned(),
                reason,
            }),
            ..PartialStep::nothing()
        }
    }

    /// Sends `text` as a partial member: a PrivateMessage signed with our key (RFC 9420
    /// §6.3), readable by full members as usual; the DS attaches our membership proof for
    /// partial readers (draft-ietf-mls-partial-02 §7). The ratchet step is stored with the
    /// text in the outbox before posting. In a group that requires them, the message
    /// carries the Safe AAD and our member proof (draft-mahy-mls-member-proof-00 §3), as a
    /// full member's does.
    pub(super) async fn send_partial(
        &mut self,
        row: &GroupRow,
        text: &str,
    ) -> Result<u64, ClientError> {
        for _ in 0..self.options.max_attempts {
            self.sync_partial_log(&row.group_id).await?;
            let row = self.require_active(&row.name)?;
            let mut member = self.load_partial(&row)?;
            let private = member.encrypt_application_message(
                text.as_bytes(),
                &[],
                PaddingPolicy::default(),
                &mut OsRandom,
            )?;
            let message = MlsMessage::new(MlsMessageBody::PrivateMessage(private));
            let sent = message_digest(&message.to_bytes()?);
            // The ratchet moved: saved before sending, so a generation is never reused.
            self.store.save_state_and_outbox(
                &row.group_id,
                &partial_write(&member)?,
                &sent,
                text,
            )?;
            match self
                .ds
                .post_message(&row.group_id, &message)
                .await
                .map_err(ClientError::from)
            {
                Ok(accepted) => {
                    self.store.record_sent(
                        &row.group_id,
                        &HistoryEntry {
                            seq: accepted.seq,
                            epoch: member.epoch(),
                            sender: self.profile.name.clone(),
                            kind: "message".into(),
                            body: text.to_owned(),
                            at: self.now(),
                        },
                        &sent,
                    )?;
                    return Ok(accepted.seq);
                }
                // A commit ended the epoch first: follow it and encrypt again.
                Err(ClientError::WrongEpoch { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Err(ClientError::TooManyRetries {
            attempts: self.options.max_attempts,
        })
    }

    /// Leaves the group as a partial member: a Remove proposal of our own leaf
    /// ([`PartialMember::propose_own_removal`], RFC 9420 §12.1.3) in the group's handshake
    /// format, which the next full member to sync commits. (A SelfRemove needs every leaf
    /// to list it, which a member without the tree cannot check.) The group is marked left.
    pub(super) async fn leave_partial(
        &mut self,
        row: &GroupRow,
    ) -> Result<super::LeaveMechanism, ClientError> {
        for _ in 0..self.options.max_attempts {
            self.sync_partial_log(&row.group_id).await?;
            let row = self.require_active(&row.name)?;
            let mut member = self.load_partial(&row)?;
            let wire_format = crate::handshakes::mode_of(member.context()).wire_format();
            let message = member.propose_own_removal(
                wire_format,
                &[],
                PaddingPolicy::default(),
                &mut OsRandom,
            )?;
            // An encrypted proposal moved the ratchet: saved before posting.
            self.store
                .save_state(&row.group_id, &partial_write(&member)?)?;
            match self
                .ds
                .post_message(&row.group_id, &message)
                .await
                .map_err(ClientError::from)
            {
                Ok(accepted) => {
                    let mechanism = super::LeaveMechanism::RemoveProposal;
                    self.store.add_history(
                        &row.group_id,
                        &HistoryEntry {
                            seq: accepted.seq,
                            epoch: member.epoch(),
                            sender: self.profile.name.clone(),
                            kind: "event".into(),
                            body: format!("{} asked to leave", self.profile.name),
                            at: self.now(),
                        },
                    )?;
                    self.store.set_status(
                        &row.group_id,
                        GroupStatus::Left,
                        Some(mechanism.reason()),
                    )?;
                    return Ok(mechanism);
                }
                // A commit ended the epoch first: follow it and propose again.
                Err(ClientError::WrongEpoch { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Err(ClientError::TooManyRetries {
            attempts: self.options.max_attempts,
        })
    }

    /// The partial member's exporter secret (RFC 9420 §8.5).
    pub(super) fn partial_export(
        &self,
        row: &GroupRow,
        label: &str,
        context: &[u8],
        length: usize,
    ) -> Result<Vec<u8>, ClientError> {
        let member = self.load_partial(row)?;
        Ok(member
            .export_secret(label, context, length)?
            .as_bytes()
            .to_vec())
    }
}

impl<D: DeliveryService> GroupDriver<'_, D> {
    /// Joins a group from an AnnotatedWelcome as a partial member (§8), in one transaction
    /// as [`GroupDriver::process_welcomes`] stores any join.
    pub(crate) fn join_partial(
        &mut self,
        view: &WelcomeView,
    ) -> Result<Option<Event>, ClientError> {
        if !view.annotated {
            return Err(ClientError::bad(
                DS,
                BadResponse::Mls(
                    "a plain Welcome reached a partial client: a partial member needs an \
                     AnnotatedWelcome (draft-ietf-mls-partial-02 §8), which the Delivery \
                     Service builds only for groups whose handshakes it reads (public or \
                     semi-private) — ask for the group to be made that way, or register a \
                     full client"
                        .into(),
                ),
            ));
        }
        let kp_ref = hex::decode(&view.key_package_ref)
            .map_err(|e| ClientError::bad(DS, BadResponse::Encoding(e.to_string())))?;
        let Some(stored) = self.store.key_package(&kp_ref)? else {
            return Err(ClientError::CorruptState(format!(
                "a Welcome names KeyPackage {} whose private key this client does not have",
                view.key_package_ref
            )));
        };
        let bytes = conclave_api::b64_decode(conclave_api::Service::Delivery, &view.message)?;
        let annotated = AnnotatedWelcome::from_bytes(&bytes)
            .map_err(|e| ClientError::bad(DS, BadResponse::Mls(e.to_string())))?;
        let bundle = KeyPackageBundle {
            key_package: KeyPackage::from_bytes(&stored.key_package)?,
            init_private_key: stored.init_private.clone(),
            encryption_private_key: stored.encryption_private.clone(),
        };
        let (member, group_info_extensions) = PartialMember::join_with_group_info_extensions(
            self.options.crypto.as_ref(),
            &annotated,
            &bundle,
            self.profile.signature_secret.clone(),
            &PartialPsks::NONE,
            SecretTreeConfig::default(),
        )?;
        let group_id = member.group_id().to_vec();
        let existing = self.store.group_by_id(&group_id)?;
        if let Some(row) = &existing
            && row.status == GroupStatus::Active
            && load_partial(self.store, self.options, row)
                .map(|m| m.epoch())
                .unwrap_or(0)
                >= member.epoch()
        {
            self.store.set_welcome_cursor(view.id)?;
            return Ok(None);
        }
        let name = match existing {
            Some(row) => row.name,
            // As a full member names it: the adder's name from the GroupInfo, else the
            // topic of the group context.
            None => {
                let topic = crate::topic::topic_in_context(&member.context().extensions)
                    .ok()
                    .flatten();
                self.unique_name(&joined_name(&group_info_extensions, topic.as_deref()))?
            }
        };
        let row = GroupRow {
            group_id,
            name: name.clone(),
            cursor: 0,
            status: GroupStatus::Active,
            reason: None,
        };
        let event = HistoryEntry {
            seq: 0,
            epoch: member.epoch(),
            sender: String::new(),
            kind: "event".into(),
            body: format!(
                "you joined as a partial member (draft-ietf-mls-partial-02); {} members",
                member.leaf_count()
            ),
            at: self.now(),
        };
        let used = (!stored.last_resort).then_some(kp_ref.as_slice());
        self.store
            .join_group(&row, &partial_write(&member)?, &event, used, view.id)?;
        Ok(Some(Event::Joined {
            group: name,
            epoch: member.epoch(),
            members: vec![self.profile.name.clone()],
        }))
    }
}

/// The stored partial-member state of the group `row` names.
fn load_partial(
    store: &Store,
    options: &ClientOptions,
    row: &GroupRow,
) -> Result<PartialMember, ClientError> {
    let bytes = store.partial_state(&row.group_id)?.ok_or_else(|| {
        ClientError::CorruptState(format!(
            "group {:?} has no partial-member state (this profile is partial)",
            row.name
        ))
    })?;
    PartialMember::from_bytes(&bytes, options.crypto.as_ref()).map_err(|e| {
        ClientError::CorruptState(format!("the partial state of group {:?}: {e}", row.name))
    })
}

fn partial_write(member: &PartialMember) -> Result<StateWrite, ClientError> {
    Ok(StateWrite::Partial(member.to_bytes()?))
}
