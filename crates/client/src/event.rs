//! What the client reports as it happens (for live output): messages, joins, membership
//! changes, removals and desynchronizations (RFC 9750 "Invalid Commits"), credential
//! renewals and KeyPackage top-ups; and the progress of long operations.

use serde::Serialize;

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
    /// A commit changed the group (members added or removed, keys updated, the topic set or
    /// cleared).
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
