//! The Conclave client library: one MLS client (RFC 9420)
//! with its local state in SQLite, talking to the Delivery Service (RFC 9750 §5-§6) and the
//! Authentication Service (RFC 9750 §4).
//!
//! - [`store`]: the local database (profile, KeyPackage private keys, groups as the core's
//!   records, cursors, history), updated one log entry per transaction so a killed client
//!   resumes exactly; an application message writes only the records it changed;
//! - [`applier`]: the sans-IO log applier — what to do with each entry of a group's log
//!   (apply the first valid commit of each epoch, report a desynchronization instead of
//!   silently rejoining, RFC 9750 "Invalid Commits");
//! - [`delivery`]: the Delivery Service operations the driver needs, as a trait;
//! - the driver (private) feeds the applier from the DS and runs our commits and messages
//!   with retries;
//! - the services are reached through `conclave-api` ([`conclave_api::DsClient`],
//!   [`conclave_api::AsClient`]): this crate links no server code;
//! - [`Client`]: the operations — register, create, add, remove, leave, send — and the sync,
//!   which applies every group's log, retries our own commits that lost the race for an
//!   epoch, and keeps KeyPackages topped up.
//!
//! Identity: X.509 credentials issued by the AS (`mls://<name>`), validated by
//! [`conclave_core::credential::X509IdentityProvider`] with the AS root as the only trust
//! anchor and the AS's revocation list, so expired, foreign-root and revoked credentials are
//! refused (RFC 9420 §5.3.1, §5.3.2).
//!
//! Leaving: MLS does not let a member commit its own removal (RFC 9420 §12.2: a commit must
//! not remove its committer). [`Client::leave`] posts a SelfRemove proposal
//! (draft-ietf-mls-extensions-10 §6.3) when every member's leaf lists it — our leaves do
//! ([`ClientOptions::self_remove`]) — and a Remove proposal of our own leaf by reference
//! (RFC 9420 §12.1.3) otherwise, and says which ([`LeaveMechanism`]). Either way the next
//! member to sync commits it: every client commits the pending proposals of others after
//! each sync, and before sending, as RFC 9420 §12.4 requires; a SelfRemove is also committed
//! by an external joiner.
//!
//! Handshakes ([`handshakes`]): each group has a mode chosen at creation — `semiprivate`
//! by default (SemiPrivateMessage, draft-mahy-mls-semiprivatemessage-07: encrypted, and
//! readable by the DS with its published key so that it can check them), `public` or
//! `private` (the DS sees only clear headers and cannot protect the roster).
//!
//! Partial members (draft-ietf-mls-partial-02): with [`ClientOptions::partial`] the client
//! registers partial and holds each group as a tree-less
//! [`conclave_core::partial::member::PartialMember`], following what the DS annotates;
//! operations that need the tree are refused with [`ClientError::PartialMember`].
//!
//! The group topic ([`topic`]) is an application component of our own
//! (draft-ietf-mls-extensions-10 §4.6-§4.7): [`Client::set_topic`] commits an AppDataUpdate,
//! every member's client checks it with the same component logic, and
//! [`GroupSummary::topic`] and the history show it.

pub mod applier;
pub mod delivery;
pub mod error;
pub mod event;
pub mod handshakes;
pub mod store;
pub mod topic;

mod client;
mod driver;
mod names;
pub mod policy;
#[cfg(test)]
mod testing;

pub use client::{
    Client, ClientOptions, CredentialKind, EnrolledIdentity, GroupSummary, LeaveMechanism,
    NewGroupOptions, SyncReport,
};
pub use error::{BadResponse, ClientError};
pub use event::{AddProgress, Event};
pub use handshakes::HandshakeMode;
pub use store::{GroupStatus, HistoryEntry, StateWrites};

/// Whether `name` is an acceptable user or group name: 1-64 characters of `[a-z0-9._-]`
/// (the AS's rule for client names).
pub use conclave_api::authentication::is_valid_name;

/// Seconds since the Unix epoch (0 if the clock is before it).
pub use conclave_api::clock::now_seconds;

/// The operating system's random source, for the sans-IO core (RFC 9420 §16.1).
pub use conclave_crypto_awslc::SystemRandom as OsRandom;
