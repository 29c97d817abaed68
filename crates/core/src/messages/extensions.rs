//! Payloads of the extensions RFC 9420 defines (§5.3.3, §11.1, §12.1.8.1, §12.4.3.2,
//! §12.4.3.3): the `extension_data` of an [`Extension`] with the matching type.
//! (`ratchet_tree`'s payload is [`super::RatchetTreeNodes`]; `app_data_dictionary`'s,
//! draft-ietf-mls-extensions-10 §4.6, is [`super::AppDataDictionary`].)

use conclave_codec::{CodecError, Decode, Encode};

use super::{
    Credential, CredentialType, Extension, ExtensionType, HpkePublicKey, ProposalType,
    SignaturePublicKey,
};

/// `application_id` (RFC 9420 §5.3.3): `opaque application_id<V>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub struct ApplicationId(pub Vec<u8>);

/// `RequiredCapabilities` (RFC 9420 §11.1).
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode)]
pub struct RequiredCapabilities {
    /// `ExtensionType extension_types<V>`.
    pub extension_types: Vec<ExtensionType>,
    /// `ProposalType proposal_types<V>`.
    pub proposal_types: Vec<ProposalType>,
    /// `CredentialType credential_types<V>`.
    pub credential_types: Vec<CredentialType>,
}

/// `ExternalPub` (RFC 9420 §12.4.3.2).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ExternalPub {
    /// `HPKEPublicKey external_pub`.
    pub external_pub: HpkePublicKey,
}

/// `ExternalSender` (RFC 9420 §12.1.8.1).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ExternalSender {
    /// `SignaturePublicKey signature_key`.
    pub signature_key: SignaturePublicKey,
    /// The external sender's credential.
    pub credential: Credential,
}

/// `ExternalSender external_senders<V>` (RFC 9420 §12.1.8.1): the `external_senders`
/// payload. A `Sender` of type `external` carries an index into this list.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode)]
pub struct ExternalSenders(pub Vec<ExternalSender>);

/// A typed extension payload with its registered type.
pub trait ExtensionPayload: Encode + Decode {
    /// The extension type this payload belongs to.
    const EXTENSION_TYPE: ExtensionType;

    /// Wraps the payload in an [`Extension`].
    fn to_extension(&self) -> Result<Extension, CodecError> {
        Ok(Extension {
            extension_type: Self::EXTENSION_TYPE,
            extension_data: self.to_bytes()?,
        })
    }
}

impl ExtensionPayload for ApplicationId {
    const EXTENSION_TYPE: ExtensionType = ExtensionType::APPLICATION_ID;
}
impl ExtensionPayload for super::RatchetTreeNodes {
    const EXTENSION_TYPE: ExtensionType = ExtensionType::RATCHET_TREE;
}
impl ExtensionPayload for RequiredCapabilities {
    const EXTENSION_TYPE: ExtensionType = ExtensionType::REQUIRED_CAPABILITIES;
}
impl ExtensionPayload for ExternalPub {
    const EXTENSION_TYPE: ExtensionType = ExtensionType::EXTERNAL_PUB;
}
impl ExtensionPayload for ExternalSenders {
    const EXTENSION_TYPE: ExtensionType = ExtensionType::EXTERNAL_SENDERS;
}
/// `app_data_dictionary` (draft-ietf-mls-extensions-10 §4.6): the same codepoint under every
/// codepoint profile.
impl ExtensionPayload for super::AppDataDictionary {
    const EXTENSION_TYPE: ExtensionType = crate::codepoints::APP_DATA_DICTIONARY_EXTENSION;
}

impl Extension {
    /// Decodes the payload if this extension has `P`'s type: `Ok(None)` for another type, an
    /// error if the type matches but the data does not decode (with no trailing bytes).
    pub fn payload<P: ExtensionPayload>(&self) -> Result<Option<P>, CodecError> {
        if self.extension_type == P::EXTENSION_TYPE {
            P::from_bytes(&self.extension_data).map(Some)
        } else {
            Ok(None)
        }
    }
}

/// Finds the first extension of `P`'s type in `extensions` and decodes its payload.
///
/// Extension lists must not repeat a type (RFC 9420 §13.4); that rule is checked where lists
/// are validated, not here.
pub fn find_payload<P: ExtensionPayload>(
    extensions: &[Extension],
) -> Result<Option<P>, CodecError> {
    extensions
        .iter()
        .find(|e| e.extension_type == P::EXTENSION_TYPE)
        .map_or(Ok(None), |e| P::from_bytes(&e.extension_data).map(Some))
}
