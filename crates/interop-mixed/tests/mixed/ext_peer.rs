//! The interface the draft-ietf-mls-extensions-10 scenarios drive Conclave and OpenMLS
//! members through, and the application components both sides run.
//!
//! As in [`crate::peer`], everything that crosses between members is the TLS encoding of an
//! `MLSMessage`. Group context extensions cross as the TLS encoding of an `Extension`
//! vector (RFC 9420 §7.2), so that each side builds them with its own codec.

use conclave_codec::Encode;
use conclave_core::codepoints::{APP_COMPONENTS_COMPONENT, SAFE_AAD_COMPONENT};
use conclave_core::messages::{
    AppDataUpdate, AppDataUpdateOperation, AppEphemeral, ComponentId, ComponentsList,
    ExtensionProposalBody, ExtensionProposalKind,
};

use crate::peer::{CommitOut, Kind};

/// A component with GroupContext data whose AppDataUpdate appends the update to the current
/// data (draft-ietf-mls-extensions-10 §4.7: the component logic computes the new data). An
/// append shows whether several updates in one commit were applied in commit order.
pub(crate) const TOPIC: u16 = 0x8001;
/// A component that only takes AppEphemeral data (§4.8).
pub(crate) const PRESENCE: u16 = 0x8002;
/// A component that tags application messages with Safe AAD items (§4.9).
pub(crate) const RECEIPTS: u16 = 0x8003;
/// Components whose exporter-tree secrets the members compare (§4.4): one in each half of
/// the 2^16 leaves.
pub(crate) const EXPORT_LOW: u16 = 0x0042;
pub(crate) const EXPORT_HIGH: u16 = 0xC0DE;

/// The components of the application, listed in `app_components` (§5).
pub(crate) const APP_COMPONENTS: [u16; 3] = [TOPIC, PRESENCE, RECEIPTS];

/// The drafts' proposal types, which every member supports (§4.7, §4.8, §6.3).
pub(crate) const DRAFT_PROPOSALS: [ExtensionProposalKind; 3] = [
    ExtensionProposalKind::AppDataUpdate,
    ExtensionProposalKind::AppEphemeral,
    ExtensionProposalKind::SelfRemove,
];

/// `app_components` (§5, §7.5).
pub(crate) const APP_COMPONENTS_ID: u16 = APP_COMPONENTS_COMPONENT.0;
/// `safe_aad` (§4.9, §5, §7.5).
pub(crate) const SAFE_AAD_ID: u16 = SAFE_AAD_COMPONENT.0;

/// The component logic of an AppDataUpdate (draft-ietf-mls-extensions-10 §4.7) that both
/// implementations' members run: `TOPIC` appends; `app_components` and `safe_aad` take the
/// whole new `ComponentsList`.
pub(crate) fn apply_update(
    component: u16,
    current: Option<&[u8]>,
    update: &[u8],
) -> Result<Vec<u8>, String> {
    match component {
        TOPIC => {
            let mut data = current.unwrap_or_default().to_vec();
            data.extend_from_slice(update);
            Ok(data)
        }
        APP_COMPONENTS_ID | SAFE_AAD_ID => Ok(update.to_vec()),
        other => Err(format!("component {other:#06x} takes no AppDataUpdate")),
    }
}

/// The component logic of an AppEphemeral (§4.8): only `PRESENCE` takes data.
pub(crate) fn check_ephemeral(component: u16, data: &[u8]) -> Result<(), String> {
    match component {
        PRESENCE if !data.is_empty() => Ok(()),
        PRESENCE => Err("empty presence".into()),
        other => Err(format!("component {other:#06x} takes no AppEphemeral")),
    }
}

/// A `ComponentsList` (§5): `ComponentID component_ids<V>`, encoded.
pub(crate) fn components_list(ids: &[u16]) -> Vec<u8> {
    ComponentsList {
        component_ids: ids.iter().copied().map(ComponentId).collect(),
    }
    .to_bytes()
    .unwrap()
}

/// A draft proposal a member is asked to send or commit.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum ExtProposal {
    /// AppDataUpdate `update` (§4.7).
    Update { component: u16, update: Vec<u8> },
    /// AppDataUpdate `remove` (§4.7).
    Remove { component: u16 },
    /// AppEphemeral (§4.8).
    Ephemeral { component: u16, data: Vec<u8> },
    /// GroupContextExtensions (RFC 9420 §12.1.7) with these extensions (an encoded
    /// `Extension` vector); by value only.
    Context(Vec<u8>),
}

impl core::fmt::Debug for ExtProposal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        match self {
            Self::Update { component, update } => {
                write!(f, "Update({component:#06x}, {:?})", text(update))
            }
            Self::Remove { component } => write!(f, "Remove({component:#06x})"),
            Self::Ephemeral { component, data } => {
                write!(f, "Ephemeral({component:#06x}, {:?})", text(data))
            }
            Self::Context(_) => write!(f, "GroupContextExtensions"),
        }
    }
}

/// What processing a message produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ExtReceived {
    Application {
        data: Vec<u8>,
        /// `authenticated_data` as received.
        aad: Vec<u8>,
        /// Its Safe AAD items, when the group requires Safe AAD (§4.9).
        safe_aad: Option<Vec<(u16, Vec<u8>)>>,
    },
    Proposal,
    Commit {
        removed: bool,
        /// The AppEphemeral data the commit carried, in commit order (§4.8).
        ephemeral: Vec<(u16, Vec<u8>)>,
    },
}

/// One member of the shared group.
pub(crate) trait ExtPeer {
    fn kind(&self) -> Kind;
    fn name(&self) -> &str;
    /// A fresh KeyPackage (`MLSMessage`) whose leaf lists `app_data_dictionary` and the
    /// three draft proposal types and carries an `app_data_dictionary` with
    /// `app_components`; marked last-resort as the group's profile does it if `last_resort`
    /// (§6.4).
    fn key_package(&mut self, last_resort: bool) -> Vec<u8>;
    /// Whether this implementation reads `key_package` as a last-resort one (§6.4).
    fn is_last_resort(&self, key_package: &[u8]) -> bool;
    /// Creates the group with these group context extensions (an encoded `Extension`
    /// vector, in this order).
    fn create(&mut self, group_id: &[u8], context_extensions: &[u8]);
    /// Joins from a Welcome for the last KeyPackage it made.
    fn join(&mut self, welcome: &[u8]);
    /// Joins by external commit from a GroupInfo (with `external_pub` and the ratchet tree),
    /// including these pending SelfRemove proposals (PublicMessages) by reference (§6.3) and
    /// `inline` draft proposals by value (§4.7, §4.8); returns the commit. The peer is in the
    /// new epoch afterwards.
    fn join_external(
        &mut self,
        group_info: &[u8],
        self_removes: &[Vec<u8>],
        inline: &[ExtProposal],
    ) -> Vec<u8>;
    /// Whether the implementation can put draft proposals by value in its external commits.
    fn adds_to_external_commits(&self) -> bool;
    /// A GroupInfo with `external_pub` and the ratchet tree.
    fn group_info(&mut self) -> Vec<u8>;
    /// Commits the pending proposals by reference, plus `adds` and `inline` by value (in the
    /// order the implementation needs), with an UpdatePath if `path` (or if a proposal needs
    /// one). Pending until [`ExtPeer::merge`].
    fn commit(&mut self, adds: &[Vec<u8>], inline: &[ExtProposal], path: bool) -> CommitOut;
    /// Applies our pending commit.
    fn merge(&mut self);
    /// Sends a draft proposal by reference.
    fn propose(&mut self, proposal: &ExtProposal) -> Vec<u8>;
    /// Sends a SelfRemove proposal (§6.3).
    fn self_remove(&mut self) -> Vec<u8>;
    /// Processes a message from another member.
    fn try_process(&mut self, message: &[u8]) -> Result<ExtReceived, String>;
    fn process(&mut self, message: &[u8]) -> ExtReceived {
        let name = self.name().to_string();
        self.try_process(message)
            .unwrap_or_else(|e| panic!("{name}: processing failed: {e}"))
    }
    /// Encrypts an application message whose `authenticated_data` is the SafeAAD with these
    /// items (§4.9) — or empty in a group without Safe AAD.
    fn protect(&mut self, data: &[u8], safe_aad: &[(u16, Vec<u8>)]) -> Vec<u8>;
    /// [`ExtPeer::protect`] with `tail` after the SafeAAD, for an implementation that sends
    /// such messages (OpenMLS 0.9 appends the plain AAD its application set); `None` for one
    /// that never does (-10 §4.9: the whole field is the SafeAAD).
    fn protect_with_tail(
        &mut self,
        _data: &[u8],
        _safe_aad: &[(u16, Vec<u8>)],
        _tail: &[u8],
    ) -> Option<Vec<u8>> {
        None
    }
    fn epoch(&self) -> u64;
    /// The epoch authenticator (RFC 9420 §8.7).
    fn authenticator(&self) -> Vec<u8>;
    /// `SafeExportSecret(component)` of the current epoch (§4.4); once per component and
    /// epoch.
    fn safe_export(&mut self, component: u16) -> Vec<u8>;
    /// The GroupContext's extensions, as the encoded `Extension` vector.
    fn context_extensions(&self) -> Vec<u8>;
    /// Identities of the members, in leaf order.
    fn roster(&self) -> Vec<Vec<u8>>;
}

/// The body of a draft proposal (Conclave's structures).
pub(crate) fn body_of(p: &ExtProposal) -> ExtensionProposalBody {
    match p {
        ExtProposal::Update { component, update } => {
            ExtensionProposalBody::AppDataUpdate(AppDataUpdate {
                component_id: ComponentId(*component),
                op: AppDataUpdateOperation::Update(update.clone()),
            })
        }
        ExtProposal::Remove { component } => ExtensionProposalBody::AppDataUpdate(AppDataUpdate {
            component_id: ComponentId(*component),
            op: AppDataUpdateOperation::Remove,
        }),
        ExtProposal::Ephemeral { component, data } => {
            ExtensionProposalBody::AppEphemeral(AppEphemeral {
                component_id: ComponentId(*component),
                data: data.clone(),
            })
        }
        ExtProposal::Context(_) => panic!("GroupContextExtensions are not sent by reference"),
    }
}
