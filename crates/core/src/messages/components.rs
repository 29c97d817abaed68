//! Wire structures of the Safe Application Interface and the extensions carried by it
//! (draft-ietf-mls-extensions-10 §4–§6): component identifiers and labels, the application
//! data dictionary, the AppDataUpdate, AppEphemeral and SelfRemove proposals, SafeAAD,
//! wire-format and component lists, AppAck and content media types; and the Replace proposal
//! and `leaf_node_epoch` extension of draft-barnes-mls-replace-00 (§3, §4), which travel the
//! same way.
//!
//! These are wire values only. The codepoints they travel under are in
//! [`crate::codepoints`]; the rules that apply to them are where the group processes them.

use conclave_codec::{CodecError, Decode, Encode, Reader};

use super::WireFormat;

/// `uint16 ComponentID` (draft-ietf-mls-extensions-10 §4.1): names one application component
/// using the Safe Application Interface. Values 0x8000–0xFFFF are for private use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Encode, Decode)]
pub struct ComponentId(pub u16);

impl ComponentId {
    /// Whether the value lies in the private-use range 0x8000–0xFFFF (§7.5).
    pub fn is_private_use(self) -> bool {
        self.0 >= 0x8000
    }

    /// Whether the value is one of the GREASE values 0x0A0A, 0x1A1A, …, 0x7A7A (§7.5).
    pub fn is_grease(self) -> bool {
        let [high, low] = self.0.to_be_bytes();
        high == low && low & 0x0F == 0x0A && high <= 0x7A
    }
}

/// `ComponentOperationLabel` (draft-ietf-mls-extensions-10 §4.1): the label that replaces
/// RFC 9420's label string in the safe signing, encryption and export operations.
///
/// `base_label` is "MLS Component" in -10; peers built on -07/-08 still send "Application",
/// which the group's codepoint profile selects ([`crate::codepoints::CodepointProfile`]).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ComponentOperationLabel {
    /// `opaque base_label<V>`.
    pub base_label: Vec<u8>,
    /// The component performing the operation.
    pub component_id: ComponentId,
    /// `opaque label<V>`: the component's own label for the operation.
    pub label: Vec<u8>,
}

/// `ComponentData` (draft-ietf-mls-extensions-10 §4.6): one component's entry in an
/// [`AppDataDictionary`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub struct ComponentData {
    /// The component the data belongs to.
    pub component_id: ComponentId,
    /// `opaque data<V>`, interpreted by the component.
    pub data: Vec<u8>,
}

/// `AppDataDictionary` (draft-ietf-mls-extensions-10 §4.6): the payload of the
/// `app_data_dictionary` extension in KeyPackages, LeafNodes, GroupContexts and GroupInfos.
///
/// Entries "MUST be sorted by component_id" with at most one entry per component; decoding
/// accepts any list (a peer may be wrong), and [`AppDataDictionary::check_sorted`] is the
/// rule, applied where the dictionary is validated.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash, Encode, Decode)]
pub struct AppDataDictionary {
    /// `ComponentData component_data<V>`.
    pub component_data: Vec<ComponentData>,
}

impl AppDataDictionary {
    /// The data of `component_id`, if the dictionary has an entry for it.
    pub fn get(&self, component_id: ComponentId) -> Option<&[u8]> {
        self.component_data
            .binary_search_by_key(&component_id, |entry| entry.component_id)
            .ok()
            .and_then(|index| self.component_data.get(index))
            .map(|entry| entry.data.as_slice())
    }

    /// Sets `component_id`'s data, keeping the entries sorted (§4.6.1).
    pub fn insert(&mut self, component_id: ComponentId, data: Vec<u8>) {
        match self
            .component_data
            .binary_search_by_key(&component_id, |entry| entry.component_id)
        {
            Ok(index) => {
                if let Some(entry) = self.component_data.get_mut(index) {
                    entry.data = data;
                }
            }
            Err(index) => self
                .component_data
                .insert(index, ComponentData { component_id, data }),
        }
    }

    /// Removes `component_id`'s entry; returns whether there was one.
    pub fn remove(&mut self, component_id: ComponentId) -> bool {
        match self
            .component_data
            .binary_search_by_key(&component_id, |entry| entry.component_id)
        {
            Ok(index) => {
                self.component_data.remove(index);
                true
            }
            Err(_) => false,
        }
    }

    /// Whether the entries are strictly increasing by `component_id` (sorted, no repeats), as
    /// draft-ietf-mls-extensions-10 §4.6 requires.
    pub fn check_sorted(&self) -> bool {
        self.component_data
            .windows(2)
            .all(|pair| matches!(pair, [a, b] if a.component_id < b.component_id))
    }

    /// The components that have an entry, in order.
    pub fn component_ids(&self) -> impl Iterator<Item = ComponentId> + '_ {
        self.component_data.iter().map(|entry| entry.component_id)
    }
}

/// `AppDataUpdateOperation` and its select (draft-ietf-mls-extensions-10 §4.7): what an
/// AppDataUpdate does to its component's entry. `invalid(0)` does not decode.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
#[repr(u8)]
pub enum AppDataUpdateOperation {
    /// `update(1)`: `opaque update<V>`, handed to the component to compute its new data.
    Update(Vec<u8>) = 1,
    /// `remove(2)`: delete the component's entry.
    Remove = 2,
}

/// `AppDataUpdate` proposal (draft-ietf-mls-extensions-10 §4.7).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub struct AppDataUpdate {
    /// The component whose entry changes.
    pub component_id: ComponentId,
    /// The operation and its payload.
    pub op: AppDataUpdateOperation,
}

/// `AppEphemeral` proposal (draft-ietf-mls-extensions-10 §4.8): data for one component that
/// takes effect with the commit and changes no group state.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub struct AppEphemeral {
    /// The component the data is for.
    pub component_id: ComponentId,
    /// `opaque data<V>`.
    pub data: Vec<u8>,
}

/// `SelfRemove` proposal (draft-ietf-mls-extensions-10 §6.3): `struct {}`; the member leaving
/// is the proposal's sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Encode, Decode)]
pub struct SelfRemove;

/// `Replace` proposal (draft-barnes-mls-replace-00 §4): put `leaf_node` at leaf `replaced`,
/// a LeafNode its owner published earlier (in an Update proposal that came too late to be
/// committed). The rules are in [`crate::group::replace`].
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Replace {
    /// `uint32 replaced`: the leaf whose LeafNode is replaced (the draft's prose also calls
    /// it `removed` and `to_replace`; its struct says `replaced`).
    pub replaced: super::LeafIndex,
    /// The new LeafNode (source `update`, with a `leaf_node_epoch` extension); boxed like
    /// every embedded `LeafNode`.
    pub leaf_node: Box<super::LeafNode>,
}

/// The `leaf_node_epoch` LeafNode extension (draft-barnes-mls-replace-00 §3): `uint64`, the
/// epoch in which the LeafNode was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Encode, Decode)]
pub struct LeafNodeEpoch(pub u64);

impl super::ExtensionPayload for LeafNodeEpoch {
    const EXTENSION_TYPE: super::ExtensionType = crate::codepoints::LEAF_NODE_EPOCH_EXTENSION;
}

/// `SafeAADItem` (draft-ietf-mls-extensions-10 §4.9).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub struct SafeAadItem {
    /// The component the item belongs to.
    pub component_id: ComponentId,
    /// `opaque aad_item_data<V>`.
    pub aad_item_data: Vec<u8>,
}

/// `SafeAAD` (draft-ietf-mls-extensions-10 §4.9): the whole `authenticated_data` of a
/// message when the group requires Safe AAD; items sorted by `component_id`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash, Encode, Decode)]
pub struct SafeAad {
    /// `SafeAADItem aad_items<V>`.
    pub aad_items: Vec<SafeAadItem>,
}

/// `WireFormats` (draft-ietf-mls-extensions-10 §5): the payload of the
/// `supported_wire_formats` (LeafNode) and `required_wire_formats` (GroupContext) extensions.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash, Encode, Decode)]
pub struct WireFormats {
    /// `WireFormat wire_formats<V>`.
    pub wire_formats: Vec<WireFormat>,
}

/// `ComponentsList` (draft-ietf-mls-extensions-10 §4.3, §4.9): the data of the
/// `app_components` and `safe_aad` components. In a LeafNode it lists what the member
/// supports; in the GroupContext what every member must support.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash, Encode, Decode)]
pub struct ComponentsList {
    /// `ComponentID component_ids<V>`.
    pub component_ids: Vec<ComponentId>,
}

/// `MessageRange` (draft-ietf-mls-extensions-10 §6.1): generations of one sender's
/// PrivateMessages in the current epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode)]
pub struct MessageRange {
    /// The sender's leaf index.
    pub sender: u32,
    /// First generation received.
    pub first_generation: u32,
    /// Last generation received.
    pub last_generation: u32,
}

/// `AppAck` (draft-ietf-mls-extensions-10 §6.1): the data of an AppEphemeral proposal for the
/// `app_ack` component.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash, Encode, Decode)]
pub struct AppAck {
    /// `MessageRange received_ranges<V>`.
    pub received_ranges: Vec<MessageRange>,
}

/// `Parameter` of a media type (draft-ietf-mls-extensions-10 §6.2): stored without the
/// quotes or escapes of RFC 2045.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub struct MediaTypeParameter {
    /// `opaque parameter_name<V>`.
    pub parameter_name: Vec<u8>,
    /// `opaque parameter_value<V>`.
    pub parameter_value: Vec<u8>,
}

/// `MediaType` (draft-ietf-mls-extensions-10 §6.2): `type/subtype` and its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub struct MediaType {
    /// `opaque type<V>`: top-level type, "/", subtype. Empty in an [`ApplicationFraming`]
    /// means the first type of the group's list.
    pub media_type: Vec<u8>,
    /// `Parameter parameters<V>`.
    pub parameters: Vec<MediaTypeParameter>,
}

/// `MediaTypeList` (draft-ietf-mls-extensions-10 §6.2): the data of the
/// `content_media_types` component.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash, Encode, Decode)]
pub struct MediaTypeList {
    /// `MediaType media_type_list<V>`; must hold at least one item.
    pub media_type_list: Vec<MediaType>,
}

/// `ApplicationFraming` (draft-ietf-mls-extensions-10 §6.2): the `application_data` of every
/// application message when the group context lists `content_media_types`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub struct ApplicationFraming {
    /// The content's media type.
    pub media_type: MediaType,
    /// `opaque inner_application_content<V>`.
    pub inner_application_content: Vec<u8>,
}

/// The body of a proposal type defined outside RFC 9420, without its codepoint.
///
/// Which codepoint each travels under depends on the group's codepoint profile
/// ([`crate::codepoints::CodepointProfile`]); [`ExtensionProposal`] pairs the two.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExtensionProposalBody {
    /// draft-ietf-mls-extensions-10 §4.7.
    AppDataUpdate(AppDataUpdate),
    /// draft-ietf-mls-extensions-10 §4.8.
    AppEphemeral(AppEphemeral),
    /// draft-ietf-mls-extensions-10 §6.5.
    SelfRemove(SelfRemove),
    /// draft-barnes-mls-replace-00 §4.
    Replace(Replace),
}

/// The kinds of [`ExtensionProposalBody`], to look codepoints up by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExtensionProposalKind {
    /// AppDataUpdate.
    AppDataUpdate,
    /// AppEphemeral.
    AppEphemeral,
    /// SelfRemove.
    SelfRemove,
    /// Replace (draft-barnes-mls-replace-00).
    Replace,
}

impl ExtensionProposalBody {
    /// The body's kind.
    pub fn kind(&self) -> ExtensionProposalKind {
        match self {
            Self::AppDataUpdate(_) => ExtensionProposalKind::AppDataUpdate,
            Self::AppEphemeral(_) => ExtensionProposalKind::AppEphemeral,
            Self::SelfRemove(_) => ExtensionProposalKind::SelfRemove,
            Self::Replace(_) => ExtensionProposalKind::Replace,
        }
    }

    pub(crate) fn encoded_len(&self) -> usize {
        match self {
            Self::AppDataUpdate(body) => body.encoded_len(),
            Self::AppEphemeral(body) => body.encoded_len(),
            Self::SelfRemove(body) => body.encoded_len(),
            Self::Replace(body) => body.encoded_len(),
        }
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        match self {
            Self::AppDataUpdate(body) => body.encode(out),
            Self::AppEphemeral(body) => body.encode(out),
            Self::SelfRemove(body) => body.encode(out),
            Self::Replace(body) => body.encode(out),
        }
    }

    pub(crate) fn decode(
        kind: ExtensionProposalKind,
        reader: &mut Reader<'_>,
    ) -> Result<Self, CodecError> {
        Ok(match kind {
            ExtensionProposalKind::AppDataUpdate => {
                Self::AppDataUpdate(AppDataUpdate::decode(reader)?)
            }
            ExtensionProposalKind::AppEphemeral => {
                Self::AppEphemeral(AppEphemeral::decode(reader)?)
            }
            ExtensionProposalKind::SelfRemove => Self::SelfRemove(SelfRemove::decode(reader)?),
            ExtensionProposalKind::Replace => Self::Replace(Replace::decode(reader)?),
        })
    }
}
