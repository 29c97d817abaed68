//! The clear header of an `MLSMessage` (RFC 9420 §6), as much as the Delivery Service may
//! read without any group secret (RFC 9750 §5.2, §6): protocol version, wire format, group
//! id, epoch, content type, and, for a `PublicMessage`, the sender.
//!
//! The whole message is decoded with the `conclave_core::messages` codec, so a body that is
//! not exactly one well-formed `MLSMessage` is refused; nothing is decrypted or verified.

use conclave_codec::Decode;
use conclave_core::messages::{
    ContentType, GroupInfo, KeyPackage, MlsMessage, MlsMessageBody, ProtocolVersion, Sender,
    Welcome, WireFormat,
};

use crate::error::DsError;

/// What the Delivery Service reads from a `PublicMessage`, `PrivateMessage` or
/// `SemiPrivateMessage` without a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeHeader {
    /// `mls_public_message`, `mls_private_message` or `mls_semiprivate_message`.
    pub wire_format: WireFormat,
    /// The group the message is for.
    pub group_id: Vec<u8>,
    /// The epoch it was sent in.
    pub epoch: u64,
    /// Application, proposal or commit.
    pub content_type: ContentType,
    /// The sender; only a `PublicMessage` shows it (RFC 9420 §6.2). A `SemiPrivateMessage`
    /// shows it only once opened with the DS's key ([`crate::receiver`]).
    pub sender: Option<Sender>,
}

/// Decodes one `MLSMessage` of version `mls10` (RFC 9420 §6, §17.10 `message/mls`).
pub fn decode_message(bytes: &[u8]) -> Result<MlsMessage, DsError> {
    let message = MlsMessage::from_bytes(bytes)
        .map_err(|e| DsError::BadRequest(format!("not a valid MLSMessage: {e}")))?;
    if message.version != ProtocolVersion::MLS10 {
        return Err(DsError::BadRequest(format!(
            "unsupported protocol version {} (only mls10 = 1)",
            message.version.0
        )));
    }
    Ok(message)
}

/// The clear header of a `PublicMessage`, `PrivateMessage` or `SemiPrivateMessage`; any
/// other wire format is refused.
pub fn handshake_header(message: &MlsMessage) -> Result<HandshakeHeader, DsError> {
    match &message.body {
        MlsMessageBody::PublicMessage(public) => Ok(HandshakeHeader {
            wire_format: WireFormat::PUBLIC_MESSAGE,
            group_id: public.content.group_id.clone(),
            epoch: public.content.epoch,
            content_type: public.content.content_type(),
            sender: Some(public.content.sender),
        }),
        MlsMessageBody::PrivateMessage(private) => Ok(HandshakeHeader {
            wire_format: WireFormat::PRIVATE_MESSAGE,
            group_id: private.group_id.clone(),
            epoch: private.epoch,
            content_type: private.content_type,
            sender: None,
        }),
        // draft-mahy-mls-semiprivatemessage-07 §3.1: the same clear fields as a PrivateMessage.
        MlsMessageBody::SemiPrivateMessage(semi) => Ok(HandshakeHeader {
            wire_format: message.wire_format(),
            group_id: semi.group_id.clone(),
            epoch: semi.epoch,
            content_type: semi.content_type,
            sender: None,
        }),
        other => Err(DsError::BadRequest(format!(
            "expected a PublicMessage, PrivateMessage or SemiPrivateMessage, got wire format {}",
            other.wire_format().0
        ))),
    }
}

/// The clear `authenticated_data` of a `PublicMessage`, `PrivateMessage`,
/// `SemiPrivateMessage` or `TargetedMessage` (RFC 9420 §6; draft-mahy-mls-semiprivatemessage-07
/// §3.1; draft-ietf-mls-targeted-messages-01 §3); any other wire format is refused.
pub fn authenticated_data(message: &MlsMessage) -> Result<&[u8], DsError> {
    match &message.body {
        MlsMessageBody::PublicMessage(public) => Ok(&public.content.authenticated_data),
        MlsMessageBody::PrivateMessage(private) => Ok(&private.authenticated_data),
        MlsMessageBody::SemiPrivateMessage(semi) => Ok(&semi.authenticated_data),
        MlsMessageBody::TargetedMessage(targeted) => Ok(&targeted.authenticated_data),
        other => Err(DsError::BadRequest(format!(
            "expected a PublicMessage, PrivateMessage, SemiPrivateMessage or TargetedMessage, got wire format {}",
            other.wire_format().0
        ))),
    }
}

/// The `TargetedMessage` inside an `MLSMessage` (draft-ietf-mls-targeted-messages-01 §3),
/// if that is what it carries: its clear header is group id, epoch and recipient leaf.
pub fn targeted_message(message: &MlsMessage) -> Option<&conclave_core::messages::TargetedMessage> {
    match &message.body {
        MlsMessageBody::TargetedMessage(targeted) => Some(targeted),
        _ => None,
    }
}

/// The `GroupInfo` inside an `MLSMessage`, or an error naming what was found.
pub fn group_info(message: &MlsMessage) -> Result<&GroupInfo, DsError> {
    match &message.body {
        MlsMessageBody::GroupInfo(info) => Ok(info),
        other => Err(DsError::BadRequest(format!(
            "expected a GroupInfo, got wire format {}",
            other.wire_format().0
        ))),
    }
}

/// The `Welcome` inside an `MLSMessage`, or an error naming what was found.
pub fn welcome(message: &MlsMessage) -> Result<&Welcome, DsError> {
    match &message.body {
        MlsMessageBody::Welcome(welcome) => Ok(welcome),
        other => Err(DsError::BadRequest(format!(
            "expected a Welcome, got wire format {}",
            other.wire_format().0
        ))),
    }
}

/// The `KeyPackage` inside an `MLSMessage`, or an error naming what was found.
pub fn key_package(message: &MlsMessage) -> Result<&KeyPackage, DsError> {
    match &message.body {
        MlsMessageBody::KeyPackage(kp) => Ok(kp),
        other => Err(DsError::BadRequest(format!(
            "expected a KeyPackage, got wire format {}",
            other.wire_format().0
        ))),
    }
}

/// The numeric code of a content type (RFC 9420 §6), as stored in the log.
pub fn content_type_code(content_type: ContentType) -> u8 {
    match content_type {
        ContentType::Application => 1,
        ContentType::Proposal => 2,
        ContentType::Commit => 3,
    }
}
