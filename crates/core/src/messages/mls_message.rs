//! `MLSMessage` (RFC 9420 §6): the outer envelope of everything MLS sends.

use conclave_codec::{Decode, Encode};

use super::{
    GroupInfo, KeyPackage, PrivateMessage, ProtocolVersion, PublicMessage, SemiPrivateMessage,
    TargetedMessage, Welcome, WireFormat,
};

/// `WireFormat wire_format` and the select of `MLSMessage` (RFC 9420 §6). Decoding an
/// unknown wire format fails.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
#[repr(u16)]
pub enum MlsMessageBody {
    /// `mls_public_message(1)`.
    PublicMessage(PublicMessage) = 0x0001,
    /// `mls_private_message(2)`.
    PrivateMessage(PrivateMessage) = 0x0002,
    /// `mls_welcome(3)`.
    Welcome(Welcome) = 0x0003,
    /// `mls_group_info(4)`.
    GroupInfo(GroupInfo) = 0x0004,
    /// `mls_key_package(5)`.
    KeyPackage(KeyPackage) = 0x0005,
    /// `mls_semiprivate_message` (draft-mahy-mls-semiprivatemessage-07 §3.1; the draft's
    /// `mls_semiprivate_message_` with a trailing underscore is a typo): value TBD1, here
    /// Conclave's private-use [`crate::codepoints::SEMI_PRIVATE_MESSAGE_WIRE_FORMAT`].
    SemiPrivateMessage(SemiPrivateMessage) = crate::codepoints::SEMI_PRIVATE_MESSAGE_WIRE_FORMAT.0,
    /// `mls_targeted_message` (draft-ietf-mls-targeted-messages-01 §3, §9.1: suggested
    /// 0x0006, which OpenMLS 0.9.2 uses): [`crate::codepoints::TARGETED_MESSAGE_WIRE_FORMAT`].
    TargetedMessage(TargetedMessage) = crate::codepoints::TARGETED_MESSAGE_WIRE_FORMAT.0,
}

impl MlsMessageBody {
    /// The body's wire format.
    pub fn wire_format(&self) -> WireFormat {
        match self {
            Self::PublicMessage(_) => WireFormat::PUBLIC_MESSAGE,
            Self::PrivateMessage(_) => WireFormat::PRIVATE_MESSAGE,
            Self::Welcome(_) => WireFormat::WELCOME,
            Self::GroupInfo(_) => WireFormat::GROUP_INFO,
            Self::KeyPackage(_) => WireFormat::KEY_PACKAGE,
            Self::SemiPrivateMessage(_) => crate::codepoints::SEMI_PRIVATE_MESSAGE_WIRE_FORMAT,
            Self::TargetedMessage(_) => crate::codepoints::TARGETED_MESSAGE_WIRE_FORMAT,
        }
    }
}

/// `MLSMessage` (RFC 9420 §6).
///
/// The codec keeps whatever `version` it reads; checking that it is `mls10` is part of
/// message processing, not of the syntax.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct MlsMessage {
    /// `ProtocolVersion version` (`mls10` for everything RFC 9420 defines).
    pub version: ProtocolVersion,
    /// The wire format and the message.
    pub body: MlsMessageBody,
}

impl MlsMessage {
    /// An `mls10` message with `body`.
    pub fn new(body: MlsMessageBody) -> Self {
        Self {
            version: ProtocolVersion::MLS10,
            body,
        }
    }

    /// The message's wire format.
    pub fn wire_format(&self) -> WireFormat {
        self.body.wire_format()
    }

    /// The Welcome inside, if that is what this message carries.
    pub fn into_welcome(self) -> Option<Welcome> {
        match self.body {
            MlsMessageBody::Welcome(welcome) => Some(welcome),
            _ => None,
        }
    }

    /// The GroupInfo inside, if that is what this message carries.
    pub fn into_group_info(self) -> Option<GroupInfo> {
        match self.body {
            MlsMessageBody::GroupInfo(group_info) => Some(group_info),
            _ => None,
        }
    }

    /// The KeyPackage inside, if that is what this message carries.
    pub fn into_key_package(self) -> Option<KeyPackage> {
        match self.body {
            MlsMessageBody::KeyPackage(key_package) => Some(key_package),
            _ => None,
        }
    }

    /// The Welcome inside, by reference.
    pub fn as_welcome(&self) -> Option<&Welcome> {
        match &self.body {
            MlsMessageBody::Welcome(welcome) => Some(welcome),
            _ => None,
        }
    }

    /// The GroupInfo inside, by reference.
    pub fn as_group_info(&self) -> Option<&GroupInfo> {
        match &self.body {
            MlsMessageBody::GroupInfo(group_info) => Some(group_info),
            _ => None,
        }
    }

    /// The KeyPackage inside, by reference.
    pub fn as_key_package(&self) -> Option<&KeyPackage> {
        match &self.body {
            MlsMessageBody::KeyPackage(key_package) => Some(key_package),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use conclave_crypto::CipherSuite;

    #[test]
    fn accessors_return_only_their_own_body() {
        let welcome = Welcome {
            cipher_suite: CipherSuite(1),
            secrets: Vec::new(),
            encrypted_group_info: vec![1, 2, 3],
        };
        let message = MlsMessage::new(MlsMessageBody::Welcome(welcome.clone()));
        assert_eq!(message.as_welcome(), Some(&welcome));
        assert!(message.as_group_info().is_none());
        assert!(message.as_key_package().is_none());
        assert!(message.clone().into_group_info().is_none());
        assert!(message.clone().into_key_package().is_none());
        assert_eq!(message.into_welcome(), Some(welcome));
    }
}
