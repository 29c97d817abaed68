//! The log applier: what a member does with each entry of a group's Delivery Service log,
//! as a deterministic state machine without I/O (RFC 9750 §5.2 "Strongly Consistent",
//! "Invalid Commits"; RFC 9420 §12.4.2, §15).
//!
//! [`LogApplier`] owns the member's [`Group`] and the log cursor. Fed one [`LogEntry`] at a
//! time, in log order, with the time, it returns a [`Step`]: what the entry meant
//! ([`Outcome`]), the history line and [`Event`] it produced, the group's status after it,
//! and the state write to make ([`StateWrite`]) — which the caller stores in one
//! transaction together with the new cursor ([`Step::applied_entry`]). Rules:
//!
//! - entries up to the cursor were applied already (a duplicate delivery) and give no step;
//! - entries of epochs before ours are from before we joined, or of an epoch we left: skipped;
//! - of the commits for our epoch the first valid one is applied (RFC 9750 §5.2: the DS
//!   orders them); one that fails validation is remembered, and if the log then moves past
//!   our epoch without a valid commit, or ends ([`LogApplier::end_of_log`]), the group is
//!   desynchronized: the client stops and says so instead of rejoining on its own
//!   (RFC 9750 "Invalid Commits");
//! - our own pending commit coming back is merged (the core recognises it, RFC 9420 §12.4);
//! - our own application message coming back cannot be decrypted (its key was deleted when
//!   sent, RFC 9420 §9.2): its text comes from the outbox, matched by the digest of the
//!   message ([`Outcome::OwnMessage`]);
//! - proposals are cached for the next commit (RFC 9420 §12.1) and shown; with
//!   [`ApplierConfig::replace_late_updates`], another member's Update proposal of an older
//!   epoch is kept for a Replace in our next commit (draft-barnes-mls-replace-00) instead of
//!   being skipped;
//! - a commit that removes us ends the group for us (RFC 9420 §12.4.2).
//!
//! Once a step leaves the group inactive (removed, desynchronized) the applier stops.

use std::collections::HashMap;
use std::sync::Arc;

use conclave_api::delivery::LogEntryView;
use conclave_codec::{Decode, Encode};
use conclave_core::credential::IdentityProvider;
use conclave_core::group::{Group, GroupError, ProcessedMessage};
use conclave_core::messages::{LeafIndex, MlsMessage, MlsMessageBody, Proposal, Sender};
use sha2::{Digest, Sha256};

use crate::event::Event;
use crate::names::{describe_commit, leaf_name, member_names};
use crate::store::{AppliedEntry, GroupStatus, HistoryEntry, StateWrite, StateWrites};

/// The history kind of a targeted message (a private aside to or from one member).
pub const PRIVATE_KIND: &str = "private";

/// The digest by which our own sent messages are matched in the outbox: SHA-256 of the
/// `MLSMessage` encoding.
pub fn message_digest(message: &[u8]) -> Vec<u8> {
    Sha256::digest(message).to_vec()
}

/// One entry of a group's log, decoded from the Delivery Service's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Sequence number (1, 2, … without gaps).
    pub seq: u64,
    /// The epoch the DS read from the message's clear header.
    pub epoch: u64,
    /// 1 application, 2 proposal, 3 commit (RFC 9420 §6 `ContentType`).
    pub content_type: u8,
    /// The DS client id that posted it.
    pub sender: String,
    /// The `MLSMessage` bytes; `Err` with the reason if the DS's encoding was unreadable.
    pub message: Result<Vec<u8>, String>,
}

impl LogEntry {
    /// Decodes a DS log entry (its message is base64).
    pub fn from_view(view: &LogEntryView) -> Self {
        Self {
            seq: view.seq,
            epoch: view.epoch,
            content_type: view.content_type,
            sender: view.sender.clone(),
            message: conclave_api::b64_decode(conclave_api::Service::Delivery, &view.message)
                .map_err(|e| e.to_string()),
        }
    }
}

/// What an entry meant to us.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Of an older epoch: not for us.
    Skipped,
    /// Another member's Update proposal of an older epoch, kept for a Replace in our next
    /// commit (draft-barnes-mls-replace-00; only with
    /// [`ApplierConfig::replace_late_updates`]).
    LateUpdate,
    /// An application message of another member.
    Message,
    /// Our own application message echoed back; its text is in the outbox under `digest`.
    OwnMessage {
        /// The digest of the message ([`message_digest`]).
        digest: Vec<u8>,
    },
    /// A commit was applied: the group is at `epoch` now.
    Commit {
        /// The new epoch.
        epoch: u64,
        /// It was our own pending commit.
        own: bool,
    },
    /// A commit for our epoch that we could not apply: remembered, in case no valid one
    /// follows.
    InvalidCommit,
    /// A proposal was cached.
    Proposal,
    /// A message we could not read.
    Undecryptable,
    /// A commit removed us.
    Removed,
    /// The group cannot follow the log any more (RFC 9750 "Invalid Commits").
    Desynchronized,
}

/// The result of one entry: what to show, and what to store in one transaction.
#[derive(Debug, Clone)]
pub struct Step {
    /// The new cursor (the entry's sequence number; unchanged at the end of the log).
    pub cursor: u64,
    /// What the entry meant.
    pub outcome: Outcome,
    /// The history line to record.
    pub history: Option<HistoryEntry>,
    /// The event to report once stored.
    pub event: Option<Event>,
    /// The group's status after the entry.
    pub status: GroupStatus,
    /// Why it is not active, if so.
    pub reason: Option<String>,
    /// The group state write.
    pub state: StateWrite,
}

impl Step {
    /// The cursor, status and history part of the step, for [`crate::store::Store::apply_entry`].
    pub fn applied_entry(&self) -> AppliedEntry<'_> {
        let digest = match &self.outcome {
            Outcome::OwnMessage { digest } => Some(digest.as_slice()),
            _ => None,
        };
        AppliedEntry {
            cursor: self.cursor,
            status: self.status,
            reason: self.reason.as_deref(),
            history: self.history.as_ref(),
            sent_digest: digest,
            body_from_outbox: digest.is_some(),
        }
    }

    /// Whether the entry was an application message (ours or another member's).
    pub fn is_message(&self) -> bool {
        matches!(self.outcome, Outcome::Message | Outcome::OwnMessage { .. })
    }
}

/// Who we are and how to name things, for a [`LogApplier`].
#[derive(Clone)]
pub struct ApplierConfig {
    /// The local name of the group (for events).
    pub group_name: String,
    /// Our user name (the sender of our own messages).
    pub own_name: String,
    /// Names members from their credentials (RFC 9420 §5.3.1).
    pub identity: Arc<dyn IdentityProvider>,
    /// How state writes are made.
    pub state_writes: StateWrites,
    /// Keep other members' late Update proposals for a Replace in our next commit
    /// (draft-barnes-mls-replace-00; [`crate::ClientOptions::replace_late_updates`]).
    pub replace_late_updates: bool,
}

impl core::fmt::Debug for ApplierConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ApplierConfig")
            .field("group_name", &self.group_name)
            .field("own_name", &self.own_name)
            .field("state_writes", &self.state_writes)
            .field("replace_late_updates", &self.replace_late_updates)
            .finish_non_exhaustive()
    }
}

/// Applies a group's log, entry by entry (see the [module documentation](self)).
#[derive(Debug)]
pub struct LogApplier {
    group: Group,
    cursor: u64,
    config: ApplierConfig,
    /// The first invalid commit for our epoch, until a valid one follows.
    invalid: Option<String>,
    stopped: bool,
}

impl LogApplier {
    /// An applier for `group`, whose log was applied up to `cursor`.
    pub fn new(group: Group, cursor: u64, config: ApplierConfig) -> Self {
        Self {
            group,
            cursor,
            config,
            invalid: None,
            stopped: false,
        }
    }

    /// The group as it stands.
    pub fn group(&self) -> &Group {
        &self.group
    }

    /// The group, once done.
    pub fn into_group(self) -> Group {
        self.group
    }

    /// The last entry applied.
    pub fn cursor(&self) -> u64 {
        self.cursor
    }

    /// Whether a step left the group inactive: nothing more is applied.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// Applies the next entry at time `now` (Unix seconds). `None`: an entry up to the
    /// cursor (delivered again), or the applier stopped. An error leaves the group as it
    /// was before the entry only if the caller drops this applier (the core's state may be
    /// ahead of the store): reload from the store.
    pub fn apply(&mut self, entry: &LogEntry, now: u64) -> Result<Option<Step>, GroupError> {
        if self.stopped || entry.seq <= self.cursor {
            return Ok(None);
        }
        let ours = self.group.epoch();
        let (outcome, history, event, status) = if entry.epoch < ours {
            if self.config.replace_late_updates && entry.content_type == 2 {
                self.late_update(entry, now)
            } else {
                // From before we joined, or of an epoch we already left: not for us.
                (Outcome::Skipped, None, None, None)
            }
        } else if entry.epoch > ours {
            let reason = self.invalid.take().unwrap_or_else(|| {
                format!(
                    "the log moved to epoch {} but holds no commit we could apply for epoch \
                     {ours}",
                    entry.epoch
                )
            });
            self.desync(ours, reason)
        } else {
            match entry.content_type {
                3 => self.commit(entry, now),
                1 => self.application(entry, now),
                2 => self.proposal(entry, now),
                conclave_api::delivery::TARGETED_CONTENT_TYPE => self.targeted(entry, now),
                other => self.undecryptable(entry, format!("unknown content type {other}"), now),
            }
        };
        self.cursor = entry.seq;
        self.step(outcome, history, event, status).map(Some)
    }

    /// The log has no more entries for now. If a commit for our epoch was invalid and none
    /// valid followed, nobody can move the group from our epoch any more (the DS took that
    /// commit, RFC 9750 "Invalid Commits"): a step marking the group desynchronized.
    pub fn end_of_log(&mut self) -> Result<Option<Step>, GroupError> {
        if self.stopped {
            return Ok(None);
        }
        let Some(reason) = self.invalid.take() else {
            return Ok(None);
        };
        let (outcome, history, event, status) = self.desync(self.group.epoch(), reason);
        self.step(outcome, history, event, status).map(Some)
    }

    fn step(
        &mut self,
        outcome: Outcome,
        history: Option<HistoryEntry>,
        event: Option<Event>,
        status: Option<(GroupStatus, String)>,
    ) -> Result<Step, GroupError> {
        let state = StateWrite::of(&mut self.group, self.config.state_writes)?;
        let (status, reason) = match status {
            Some((s, r)) => (s, Some(r)),
            None => (GroupStatus::Active, None),
        };
        if status != GroupStatus::Active {
            self.stopped = true;
        }
        Ok(Step {
            cursor: self.cursor,
            outcome,
            history,
            event,
            status,
            reason,
            state,
        })
    }

    fn desync(&self, epoch: u64, reason: String) -> Parts {
        (
            Outcome::Desynchronized,
            None,
            Some(Event::Desynchronized {
                group: self.config.group_name.clone(),
                epoch,
                reason: reason.clone(),
            }),
            Some((GroupStatus::Desynchronized, reason)),
        )
    }

    fn undecryptable(&self, entry: &LogEntry, reason: String, now: u64) -> Parts {
        (
            Outcome::Undecryptable,
            Some(HistoryEntry {
                seq: entry.seq,
                epoch: entry.epoch,
                sender: entry.sender.clone(),
                kind: "undecryptable".into(),
                body: reason.clone(),
                at: now,
            }),
            Some(Event::Undecryptable {
                group: self.config.group_name.clone(),
                seq: entry.seq,
                epoch: entry.epoch,
                reason,
            }),
            None,
        )
    }

    fn decode(entry: &LogEntry) -> Result<(MlsMessage, &[u8]), String> {
        let bytes = entry.message.as_deref().map_err(Clone::clone)?;
        MlsMessage::from_bytes(bytes)
            .map(|m| (m, bytes))
            .map_err(|e| format!("not an MLS message: {e}"))
    }

    /// A commit for our epoch (RFC 9420 §12.4.2): the first valid one is applied.
    fn commit(&mut self, entry: &LogEntry, now: u64) -> Parts {
        let identity = self.config.identity.clone();
        let before: HashMap<LeafIndex, String> = member_names(identity.as_ref(), &self.group)
            .into_iter()
            .collect();
        let policy_before = self.group.room_policy().ok().flatten();
        let result = Self::decode(entry).and_then(|(m, _)| {
            self.group
                .process_message(&m, now)
                .map_err(|e| e.to_string())
        });
        let (summary, own) = match result {
            Ok(ProcessedMessage::Commit(summary)) => (summary, false),
            Ok(ProcessedMessage::OwnCommitMerged(summary)) => (summary, true),
            Ok(_) => {
                self.invalid.get_or_insert_with(|| {
                    format!(
                        "log entry {} is labelled a commit but is not one",
                        entry.seq
                    )
                });
                return (Outcome::InvalidCommit, None, None, None);
            }
            Err(reason) => {
                // Keep looking for a valid commit of this epoch (the first valid one wins);
                // remember the first failure for the report.
                self.invalid.get_or_insert_with(|| {
                    format!(
                        "the commit at log entry {} (epoch {}, from {}) is invalid: {reason}",
                        entry.seq, entry.epoch, entry.sender
                    )
                });
                return (Outcome::InvalidCommit, None, None, None);
            }
        };
        self.invalid = None;
        let text = crate::policy::with_changes(
            describe_commit(identity.as_ref(), &summary, &before, &self.group),
            crate::policy::describe_changes(
                identity.as_ref(),
                &summary,
                policy_before.as_ref(),
                &self.group,
            ),
        );
        let history = Some(HistoryEntry {
            seq: entry.seq,
            epoch: summary.epoch,
            sender: entry.sender.clone(),
            kind: "event".into(),
            body: text.clone(),
            at: now,
        });
        if summary.self_removed {
            let reason = format!(
                "removed from the group at epoch {} ({text}); you hold no key for later epochs",
                summary.epoch
            );
            return (
                Outcome::Removed,
                history,
                Some(Event::Removed {
                    group: self.config.group_name.clone(),
                    reason: reason.clone(),
                }),
                Some((GroupStatus::Removed, reason)),
            );
        }
        (
            Outcome::Commit {
                epoch: summary.epoch,
                own,
            },
            history,
            Some(Event::Membership {
                group: self.config.group_name.clone(),
                seq: entry.seq,
                epoch: summary.epoch,
                text,
            }),
            None,
        )
    }

    /// An application message (RFC 9420 §6.3, §15).
    fn application(&mut self, entry: &LogEntry, now: u64) -> Parts {
        let (message, bytes) = match Self::decode(entry) {
            Ok(d) => d,
            Err(e) => return self.undecryptable(entry, e, now),
        };
        match self.group.process_message(&message, now) {
            Ok(ProcessedMessage::Application { sender, data, .. }) => {
                let sender = self
                    .group
                    .tree()
                    .leaf(sender)
                    .map(|l| leaf_name(self.config.identity.as_ref(), l))
                    .unwrap_or_else(|| entry.sender.clone());
                let text = String::from_utf8_lossy(&data).into_owned();
                (
                    Outcome::Message,
                    Some(HistoryEntry {
                        seq: entry.seq,
                        epoch: entry.epoch,
                        sender: sender.clone(),
                        kind: "message".into(),
                        body: text.clone(),
                        at: now,
                    }),
                    Some(Event::Message {
                        group: self.config.group_name.clone(),
                        seq: entry.seq,
                        epoch: entry.epoch,
                        sender,
                        text,
                    }),
                    None,
                )
            }
            // Our own message: its key is gone (RFC 9420 §9.2); the outbox kept the text in
            // case we died before recording it. The body is filled in from the outbox.
            Ok(ProcessedMessage::OwnMessage) => (
                Outcome::OwnMessage {
                    digest: message_digest(bytes),
                },
                Some(HistoryEntry {
                    seq: entry.seq,
                    epoch: entry.epoch,
                    sender: self.config.own_name.clone(),
                    kind: "message".into(),
                    body: String::new(),
                    at: now,
                }),
                None,
                None,
            ),
            Ok(_) => self.undecryptable(entry, "labelled application data but is not".into(), now),
            Err(e) => self.undecryptable(entry, e.to_string(), now),
        }
    }

    /// A targeted message (draft-ietf-mls-targeted-messages): a private aside to us from
    /// one member, kept in the history as `private`. The DS shows other members only the
    /// entry's position (an empty message), and shows the sender its own (addressed to
    /// another leaf, -01 §7): both are skipped. The group does not change.
    fn targeted(&mut self, entry: &LogEntry, now: u64) -> Parts {
        if entry.message.as_ref().is_ok_and(|m| m.is_empty()) {
            return (Outcome::Skipped, None, None, None);
        }
        let (message, _) = match Self::decode(entry) {
            Ok(d) => d,
            Err(e) => return self.undecryptable(entry, e, now),
        };
        let MlsMessageBody::TargetedMessage(targeted) = &message.body else {
            return self.undecryptable(entry, "labelled targeted but is not".into(), now);
        };
        if targeted.recipient_leaf_index != self.group.own_leaf() {
            return (Outcome::Skipped, None, None, None);
        }
        match self.group.process_targeted_message(&message) {
            Ok(opened) => {
                let sender = self
                    .group
                    .tree()
                    .leaf(opened.sender)
                    .map(|l| leaf_name(self.config.identity.as_ref(), l))
                    .unwrap_or_else(|| entry.sender.clone());
                let text = String::from_utf8_lossy(&opened.content.application_data).into_owned();
                (
                    Outcome::Message,
                    Some(HistoryEntry {
                        seq: entry.seq,
                        epoch: entry.epoch,
                        sender: sender.clone(),
                        kind: PRIVATE_KIND.into(),
                        body: text.clone(),
                        at: now,
                    }),
                    Some(Event::Message {
                        group: self.config.group_name.clone(),
                        seq: entry.seq,
                        epoch: entry.epoch,
                        sender: format!("{sender} (privately)"),
                        text,
                    }),
                    None,
                )
            }
            Err(e) => self.undecryptable(entry, e.to_string(), now),
        }
    }

    /// A proposal of an earlier epoch (draft-barnes-mls-replace-00 §1): if it is another
    /// member's Update the core can verify and still Replace with, it is kept for our next
    /// commit; anything else is skipped as before.
    fn late_update(&mut self, entry: &LogEntry, now: u64) -> Parts {
        let Ok((message, _)) = Self::decode(entry) else {
            return (Outcome::Skipped, None, None, None);
        };
        let Ok(leaf) = self.group.receive_late_update(&message, now) else {
            return (Outcome::Skipped, None, None, None);
        };
        let who = self
            .group
            .tree()
            .leaf(leaf)
            .map(|l| leaf_name(self.config.identity.as_ref(), l))
            .unwrap_or_else(|| entry.sender.clone());
        let text = format!("{who}'s late Update is kept for a Replace in our next commit");
        (
            Outcome::LateUpdate,
            Some(HistoryEntry {
                seq: entry.seq,
                epoch: entry.epoch,
                sender: who,
                kind: "event".into(),
                body: text.clone(),
                at: now,
            }),
            Some(Event::Proposal {
                group: self.config.group_name.clone(),
                seq: entry.seq,
                text,
            }),
            None,
        )
    }

    /// A proposal (RFC 9420 §12.1), cached by the core for the next commit.
    fn proposal(&mut self, entry: &LogEntry, now: u64) -> Parts {
        let (message, _) = match Self::decode(entry) {
            Ok(d) => d,
            Err(e) => return self.undecryptable(entry, e, now),
        };
        match self.group.process_message(&message, now) {
            Ok(ProcessedMessage::Proposal {
                sender, proposal, ..
            }) => {
                let who = match sender {
                    Sender::Member(leaf) => self
                        .group
                        .tree()
                        .leaf(leaf)
                        .map(|l| leaf_name(self.config.identity.as_ref(), l))
                        .unwrap_or_else(|| entry.sender.clone()),
                    _ => entry.sender.clone(),
                };
                let text = match (&*proposal, sender) {
                    (Proposal::Remove(r), Sender::Member(leaf)) if r.removed == leaf => {
                        format!("{who} asked to leave")
                    }
                    // draft-ietf-mls-extensions-10 §6.3: a SelfRemove removes its sender.
                    (p, Sender::Member(_)) if crate::driver::is_self_remove(p) => {
                        format!("{who} asked to leave")
                    }
                    (p, _) => format!("{who} proposed {:?}", p.proposal_type()),
                };
                (
                    Outcome::Proposal,
                    Some(HistoryEntry {
                        seq: entry.seq,
                        epoch: entry.epoch,
                        sender: who,
                        kind: "event".into(),
                        body: text.clone(),
                        at: now,
                    }),
                    Some(Event::Proposal {
                        group: self.config.group_name.clone(),
                        seq: entry.seq,
                        text,
                    }),
                    None,
                )
            }
            Ok(_) => (Outcome::Skipped, None, None, None),
            Err(e) => self.undecryptable(entry, e.to_string(), now),
        }
    }
}

/// What one entry produced, before the state write is taken.
type Parts = (
    Outcome,
    Option<HistoryEntry>,
    Option<Event>,
    Option<(GroupStatus, String)>,
);

/// The encoding of a message, for its digest.
pub(crate) fn encoded_digest(message: &MlsMessage) -> Result<Vec<u8>, conclave_codec::CodecError> {
    message.to_bytes().map(|b| message_digest(&b))
}

#[cfg(test)]
mod tests;
