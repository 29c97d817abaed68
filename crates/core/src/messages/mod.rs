//! Every wire structure of RFC 9420, with its TLS presentation-language encoding
//! (RFC 9420 §2.1, RFC 8446 §3).
//!
//! Names follow the RFC in Rust case (`MLSMessage` is [`MlsMessage`], `PreSharedKeyID` is
//! [`PreSharedKeyId`], `HPKECiphertext` is [`HpkeCiphertext`]). Each `select` over an enum is a
//! Rust enum whose discriminants are the wire values. Registries that must carry unknown
//! values (extension, proposal and credential types, wire formats) are `u16` newtypes with
//! associated constants; decoding a *select* over an unknown value fails, since the body's
//! encoding is unknown.
//!
//! Decoding never panics on any input: every read is bounds-checked by
//! [`conclave_codec::Reader`], and vector lengths are checked against the remaining input
//! before anything is allocated.

mod commit;
mod components;
mod credential;
mod extensions;
mod framed;
mod group_context;
mod key_package;
mod leaf_node;
mod mls_message;
mod proposals;
mod protected;
mod psk;
mod semi_private;
mod targeted;
mod types;
mod welcome;

#[cfg(test)]
mod tests;

pub use commit::{
    Commit, EncryptedPathSecrets, HpkeCiphertext, HpkeCiphertextRef, UpdatePath, UpdatePathNode,
};
pub use components::{
    AppAck, AppDataDictionary, AppDataUpdate, AppDataUpdateOperation, AppEphemeral,
    ApplicationFraming, ComponentData, ComponentId, ComponentOperationLabel, ComponentsList,
    ExtensionProposalBody, ExtensionProposalKind, LeafNodeEpoch, MediaType, MediaTypeList,
    MediaTypeParameter, MessageRange, Replace, SafeAad, SafeAadItem, SelfRemove, WireFormats,
};
pub use credential::{
    Certificate, Credential, CredentialBinding, CredentialBindingTbs, MAX_CREDENTIAL_NESTING,
    MultiCredential, UserInfoVc, WeakMultiCredential,
};
pub use extensions::{
    ApplicationId, ExtensionPayload, ExternalPub, ExternalSender, ExternalSenders,
    RequiredCapabilities, find_payload,
};
pub use framed::{
    AuthenticatedContent, Content, ContentType, FramedContent, FramedContentAuthData,
    FramedContentTbs, Sender, SenderType, authenticated_content_tbm,
};
pub use group_context::{Extension, ExtensionType, GroupContext, ProtocolVersion};
pub use key_package::KeyPackage;
pub use leaf_node::{
    Capabilities, LeafNode, LeafNodeSource, Lifetime, Node, NodeType, ParentNode, RatchetTreeNodes,
};
pub use mls_message::{MlsMessage, MlsMessageBody};
pub use proposals::{
    Add, ExtensionProposal, ExternalInit, GroupContextExtensions, PreSharedKey, Proposal,
    ProposalOrRef, ReInit, Remove, Update,
};
pub use protected::{
    PrivateContentAad, PrivateMessage, PrivateMessageContent, PublicMessage, SenderData,
    SenderDataAad,
};
pub use psk::{PreSharedKeyId, Psk, PskType, ResumptionPskUsage};
pub use semi_private::{
    ExternalReceiver, ExternalReceivers, KeyForExternalReceiver, PerMessageKeyAndNonces,
    SemiPrivateContentAad, SemiPrivateMessage, SemiPrivateMessageContext,
};
pub use targeted::{
    SenderAuthDataAad, TargetedContentError, TargetedMessage, TargetedMessageContent,
    TargetedMessageContextData, TargetedMessagePskId, TargetedMessageSenderAuthData,
    TargetedMessageTbm, TargetedMessageTbs,
};
pub use types::{
    CredentialType, HpkePublicKey, KeyPackageRef, LeafIndex, ProposalRef, ProposalType,
    SignaturePublicKey, WireFormat,
};
pub use welcome::{EncryptedGroupSecrets, GroupInfo, GroupSecrets, PathSecret, Welcome};
