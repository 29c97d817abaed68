//! The errors of the client library. Every message says what was wrong and, where the user
//! can do something about it, what to do — in terms of the library's operations, not of a
//! particular front end (the `conclave` CLI adds its own command hints).

use conclave_core::credential::CredentialError;
use conclave_core::group::GroupError;

/// Why a client operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// No profile in the home directory yet.
    #[error("no Conclave profile in {0}: register a client in this directory first")]
    NotRegistered(String),
    /// The profile exists already.
    #[error("this profile directory already holds the profile of {0:?}: use another directory")]
    AlreadyRegistered(String),
    /// A local group name is unknown.
    #[error("no group named {0:?} in this profile")]
    UnknownGroup(String),
    /// A local group name is taken.
    #[error("you already have a group named {0:?}: choose another name")]
    GroupNameTaken(String),
    /// A group or user name is not acceptable.
    #[error("invalid name {0:?}: use 1-64 characters from a-z, 0-9, '.', '_' and '-'")]
    InvalidName(String),
    /// The group cannot be used any more: we were removed or left.
    #[error("group {group:?}: {reason}")]
    GroupInactive {
        /// The local group name.
        group: String,
        /// What happened.
        reason: String,
    },
    /// The group's state diverged from the Delivery Service's log (RFC 9750 "Invalid
    /// Commits"): the client refuses to guess and stops using the group.
    #[error(
        "group {group:?} is out of sync: {reason}. Your client stays at epoch {epoch} and will \
         not rejoin on its own (RFC 9750 \"Invalid Commits\"). To recover, a member who is \
         still in step must remove you and add you again: your next sync joins from the new \
         Welcome. If no member can follow the group any more, create a new group"
    )]
    Desynchronized {
        /// The local group name.
        group: String,
        /// The epoch the client stopped at.
        epoch: u64,
        /// What could not be applied.
        reason: String,
    },
    /// A user has no usable KeyPackage on the Delivery Service.
    #[error("{user} cannot be added: {reason}")]
    CannotAdd {
        /// The user.
        user: String,
        /// Why.
        reason: String,
    },
    /// A member's or new member's credential was refused (RFC 9420 §5.3.1).
    #[error("{user}'s credential is refused: {source}")]
    CredentialRefused {
        /// The user.
        user: String,
        /// What the identity provider said.
        #[source]
        source: CredentialError,
    },
    /// Our credential is not one the AS renews (a UserInfo VC, or a credential from
    /// elsewhere): enrol again with a new token before it expires.
    #[error(
        "our {0} credential is not renewed by the AS: enrol again (a new profile, with a new \
         enrolment token) before it expires"
    )]
    NotRenewable(String),
    /// An invitation link ([`crate::Client::invitation`]) is malformed.
    #[error("invalid invitation: {0}")]
    InvalidInvitation(String),
    /// A user is not in the group.
    #[error("{user} is not a member of group {group:?}")]
    NotAMember {
        /// The user.
        user: String,
        /// The group.
        group: String,
    },
    /// A group topic breaks the topic component's rule ([`crate::topic`]).
    #[error("invalid topic: {0}")]
    InvalidTopic(String),
    /// Members' clients do not support the group topic: a topic change would be an invalid
    /// commit for them (draft-ietf-mls-extensions-10 §4.7, §5.1).
    #[error(
        "cannot change the topic: the client of {} does not support group topics (its leaf \
         does not list the topic component in app_components); the topic can change once \
         they use a client that does and have updated their keys",
        members.join(", ")
    )]
    TopicUnsupported {
        /// The members, by name.
        members: Vec<String>,
    },
    /// A group whose ratchet tree the DS holds (draft-ietf-mls-ratchet-tree-options-00 §3
    /// `distributionService`) must send handshakes the DS reads.
    #[error(
        "the Delivery Service can hold the ratchet tree only of a group whose handshakes it \
         reads (draft-ietf-mls-ratchet-tree-options-00 §3): use public or semi-private \
         handshakes, or keep the tree in the group's Welcomes"
    )]
    TreeOnDsNeedsReadableHandshakes,
    /// An operation a partial member cannot perform (draft-ietf-mls-partial-02 §4, §9).
    #[error(
        "cannot {operation}: this client is a partial member (draft-ietf-mls-partial-02), \
         which holds no ratchet tree, and the operation needs it (commits, proposals and \
         private asides are made against the tree). Ask a full member to do it, or \
         register a full client (not partial) in another profile directory"
    )]
    PartialMember {
        /// What was refused.
        operation: &'static str,
    },
    /// A partial member refused an input or an operation
    /// ([`conclave_core::partial::member::PartialMemberError`]: its message names the rule).
    #[error(transparent)]
    Partial(#[from] conclave_core::partial::member::PartialMemberError),
    /// A role operation on a group that has no room policy (draft-ietf-mimi-room-policy-04).
    #[error("the group has no roles (it was created without a room policy)")]
    NoRoomPolicy,
    /// A role name the group's roles_list does not define.
    #[error("the group has no role named {role:?} (its roles: {})", known.join(", "))]
    UnknownRole {
        /// The name asked for.
        role: String,
        /// The group's role names.
        known: Vec<String>,
    },
    /// The user is neither a member nor in the group's participant list.
    #[error("{0} is neither a member of the group nor in its participant list")]
    NotAParticipant(String),
    /// The Delivery Service kept refusing our commit with "wrong epoch".
    #[error(
        "the group kept moving while we tried to commit ({attempts} attempts lost the race); \
         try again"
    )]
    TooManyRetries {
        /// How many attempts were made.
        attempts: u32,
    },
    /// The Delivery Service or the Authentication Service refused a request.
    #[error("{service} refused {what}: {message} (HTTP {status}, {code})")]
    Refused {
        /// "the Delivery Service" or "the Authentication Service".
        service: &'static str,
        /// The operation.
        what: String,
        /// HTTP status.
        status: u16,
        /// The stable error code.
        code: String,
        /// The server's explanation.
        message: String,
    },
    /// The Delivery Service answered "wrong epoch" (RFC 9750 §5.2: one commit per epoch).
    #[error("the group is at epoch {current} on the Delivery Service, our message was for another")]
    WrongEpoch {
        /// The group's current epoch on the DS.
        current: u64,
    },
    /// A service could not be reached.
    #[error("cannot reach {service} at {url}: {reason}. Is it running, and is the URL right?")]
    Unreachable {
        /// Which service.
        service: &'static str,
        /// Its URL.
        url: String,
        /// The transport error.
        reason: String,
    },
    /// A server answer could not be understood.
    #[error("{service} sent an answer we cannot use: {source}")]
    BadResponse {
        /// Which service.
        service: &'static str,
        /// What was wrong with it.
        #[source]
        source: BadResponse,
    },
    /// The MLS protocol refused an operation or a message.
    #[error("MLS: {0}")]
    Group(#[from] GroupError),
    /// The local database failed.
    #[error("local state ({path}): {reason}")]
    Storage {
        /// The database file.
        path: String,
        /// What failed.
        reason: String,
    },
    /// The stored state is corrupt or from an incompatible version.
    #[error("local state is unusable: {0}; move the home directory aside and register again")]
    CorruptState(String),
    /// A cryptographic operation failed (e.g. the random source).
    #[error("crypto: {0}")]
    Crypto(#[from] conclave_crypto::CryptoError),
    /// An encoding failed.
    #[error("encoding: {0}")]
    Codec(#[from] conclave_codec::CodecError),
    /// A local file could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

pub use conclave_api::BadResponse;

impl From<conclave_api::ApiError> for ClientError {
    fn from(e: conclave_api::ApiError) -> Self {
        use conclave_api::ApiError;
        match e {
            ApiError::Refused {
                service,
                what,
                status,
                code,
                message,
            } => Self::Refused {
                service: service.name(),
                what,
                status,
                code,
                message,
            },
            ApiError::WrongEpoch { current } => Self::WrongEpoch { current },
            ApiError::Unreachable {
                service,
                url,
                reason,
            } => Self::Unreachable {
                service: service.name(),
                url,
                reason,
            },
            ApiError::BadResponse { service, source } => Self::BadResponse {
                service: service.name(),
                source,
            },
            ApiError::Crypto(e) => Self::Crypto(e),
            ApiError::Codec(e) => Self::Codec(e),
            other => Self::BadResponse {
                service: "a service",
                source: BadResponse::Json(other.to_string()),
            },
        }
    }
}

impl ClientError {
    pub(crate) fn storage(path: &std::path::Path, e: impl core::fmt::Display) -> Self {
        Self::Storage {
            path: path.display().to_string(),
            reason: e.to_string(),
        }
    }

    pub(crate) fn bad(service: &'static str, source: BadResponse) -> Self {
        Self::BadResponse { service, source }
    }
}
