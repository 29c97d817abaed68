//! Negotiation of the components and wire formats of draft-ietf-mls-extensions-10 (§4.6,
//! §5, §5.1, §6.2): what a group context requires, what a leaf supports, and the rules
//! between the two.
//!
//! - `app_data_dictionary` (§4.6): entries sorted by `component_id`, at most one per
//!   component, wherever a dictionary is validated (KeyPackage, LeafNode, GroupContext,
//!   GroupInfo).
//! - `app_components` and `safe_aad` (§5): in a LeafNode the supported components, in the
//!   GroupContext the required ones; every member must list every required one.
//! - `supported_wire_formats` / `required_wire_formats` (§5): every member must support every
//!   required wire format. The RFC 9420 wire formats (1–5) are supported by every client, as
//!   the extensions list only non-default formats (§7.1). Only under codepoint profiles that
//!   have these extensions ([`CodepointProfile::has_wire_format_extensions`]).
//! - `content_media_types` (§6.2): a non-empty list; a client that does not accept every media
//!   type the group requires is not added (a SHOULD NOT, refused unless the group's policy
//!   says otherwise, [`MediaTypePolicy`]).
//! - `external_receivers` (draft-mahy-mls-semiprivatemessage-07 §3): decodes wherever a
//!   GroupContext dictionary is checked; a group context whose `required_wire_formats` lists
//!   `mls_semiprivate_message` must list at least one receiver ([`crate::semi_private`]).
//! - Unknown component IDs, GREASE values among them (§5.1), are ignored wherever they
//!   appear: only the components named here are read.
//! - A received leaf that lists `app_data_dictionary` in its capabilities but has no
//!   `app_components` entry is not refused: it supports no component, and so fails any
//!   component requirement. The §4.6 rule ("MUST understand and advertise") binds the
//!   leaf's creator; ours always advertise (`crate::group::app_data::leaf`).

use conclave_codec::{CodecError, Decode};

use crate::codepoints::{
    APP_COMPONENTS_COMPONENT, CONTENT_MEDIA_TYPES_COMPONENT, CodepointProfile,
    REQUIRED_WIRE_FORMATS_EXTENSION, SAFE_AAD_COMPONENT, SUPPORTED_WIRE_FORMATS_EXTENSION,
};
use crate::messages::{
    AppDataDictionary, ComponentId, ComponentsList, Extension, ExtensionPayload, ExtensionType,
    LeafIndex, LeafNode, MediaType, MediaTypeList, WireFormat, WireFormats,
};

/// Where an `app_data_dictionary` appears (draft-ietf-mls-extensions-10 §4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DictionaryLocation {
    /// `KeyPackage.extensions`.
    KeyPackage,
    /// `LeafNode.extensions`.
    LeafNode,
    /// `GroupContext.extensions`.
    GroupContext,
    /// `GroupInfo.extensions`.
    GroupInfo,
}

impl core::fmt::Display for DictionaryLocation {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::KeyPackage => "KeyPackage",
            Self::LeafNode => "LeafNode",
            Self::GroupContext => "GroupContext",
            Self::GroupInfo => "GroupInfo",
        })
    }
}

/// Which list of required components (draft-ietf-mls-extensions-10 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ComponentListKind {
    /// `app_components`: the components every member must support.
    AppComponents,
    /// `safe_aad`: the Safe AAD components every member must support.
    SafeAad,
}

impl core::fmt::Display for ComponentListKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::AppComponents => "app_components",
            Self::SafeAad => "safe_aad",
        })
    }
}

/// Whose support a requirement was checked against: a leaf being validated (a joiner, an
/// Update, a commit's new leaf) or a member of the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Supporter {
    /// The leaf being validated.
    Leaf,
    /// The member at this leaf.
    Member(LeafIndex),
}

impl core::fmt::Display for Supporter {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Leaf => f.write_str("the leaf"),
            Self::Member(leaf) => write!(f, "member {}", leaf.0),
        }
    }
}

/// A broken negotiation rule of draft-ietf-mls-extensions-10. Each message names the rule
/// and its section.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NegotiationError {
    /// An `app_data_dictionary` extension does not decode.
    #[error("draft-ietf-mls-extensions-10 §4.6: the {0} app_data_dictionary does not decode: {1}")]
    MalformedDictionary(DictionaryLocation, CodecError),
    /// Dictionary entries are not sorted by `component_id`, or a component has two entries.
    #[error(
        "draft-ietf-mls-extensions-10 §4.6: the {0} app_data_dictionary is not sorted by component_id with at most one entry per component"
    )]
    UnsortedDictionary(DictionaryLocation),
    /// The data of a component this implementation reads does not decode.
    #[error(
        "draft-ietf-mls-extensions-10 §5, §6.2: component {component:?} of the {location} app_data_dictionary does not decode: {error}"
    )]
    MalformedComponent {
        /// Where the dictionary is.
        location: DictionaryLocation,
        /// The component.
        component: ComponentId,
        /// Why it does not decode.
        error: CodecError,
    },
    /// A `content_media_types` list is empty.
    #[error(
        "draft-ietf-mls-extensions-10 §6.2: the {0} content_media_types list must contain at least one media type"
    )]
    EmptyMediaTypeList(DictionaryLocation),
    /// A `supported_wire_formats` or `required_wire_formats` extension does not decode.
    #[error("draft-ietf-mls-extensions-10 §5: extension {extension:?} does not decode: {error}")]
    MalformedWireFormats {
        /// The extension's type.
        extension: ExtensionType,
        /// Why it does not decode.
        error: CodecError,
    },
    /// A leaf or member does not list a component the group requires.
    #[error(
        "draft-ietf-mls-extensions-10 §5: {supporter} does not support component {component:?}, which the group context requires in {list}"
    )]
    RequiredComponentUnsupported {
        /// Who lacks it.
        supporter: Supporter,
        /// The list that requires it.
        list: ComponentListKind,
        /// The component.
        component: ComponentId,
    },
    /// A leaf or member does not support a wire format the group requires.
    #[error(
        "draft-ietf-mls-extensions-10 §5: {supporter} does not support wire format {wire_format:?}, which the group's required_wire_formats lists"
    )]
    RequiredWireFormatUnsupported {
        /// Who lacks it.
        supporter: Supporter,
        /// The wire format.
        wire_format: WireFormat,
    },
    /// The group context requires `mls_semiprivate_message` but lists no external receiver
    /// (draft-mahy-mls-semiprivatemessage-07 §3: "there needs to be at least one entry in
    /// the `external_receivers`").
    #[error(
        "draft-mahy-mls-semiprivatemessage-07 §3: a group that requires mls_semiprivate_message needs at least one external receiver"
    )]
    SemiPrivateWithoutExternalReceivers,
    /// A leaf or member does not accept a media type the group requires.
    #[error(
        "draft-ietf-mls-extensions-10 §6.2: {supporter} does not accept media type {media_type:?}, which the group's content_media_types requires"
    )]
    RequiredMediaTypeUnsupported {
        /// Who lacks it.
        supporter: Supporter,
        /// The media type (`type/subtype`, lossily decoded for the message).
        media_type: String,
    },
}

/// Whether a client that does not accept the media types a group requires may be added
/// (draft-ietf-mls-extensions-10 §6.2: "SHOULD NOT add … unless all the members … advertise
/// support for all the required media types").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum MediaTypePolicy {
    /// Refuse such a client (and a group context change that would exclude a member). The
    /// default.
    #[default]
    Require,
    /// Do not check: the application knows by other means which clients accept which
    /// types (the draft's "preconfigured" exception).
    Ignore,
}

/// How a group reads the drafts' negotiation extensions: its codepoint profile and its
/// media-type policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NegotiationPolicy {
    /// Which codepoints the group uses ([`CodepointProfile`]).
    pub profile: CodepointProfile,
    /// Whether required media types are enforced.
    pub media_types: MediaTypePolicy,
}

/// What a group context requires of every member (draft-ietf-mls-extensions-10 §5, §6.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NegotiationRequirements {
    /// Components every member must list in its `app_components`.
    pub components: Vec<ComponentId>,
    /// Components every member must list in its `safe_aad`.
    pub safe_aad: Vec<ComponentId>,
    /// Wire formats every member must support (`required_wire_formats`).
    pub wire_formats: Vec<WireFormat>,
    /// Media types every member must accept (`content_media_types`), when the policy
    /// enforces them.
    pub media_types: Vec<MediaType>,
}

impl NegotiationRequirements {
    /// The requirements of group context extensions, read as `policy` says. The group
    /// context's `app_data_dictionary` must be valid ([`check_dictionary`]).
    pub fn from_extensions(
        extensions: &[Extension],
        policy: &NegotiationPolicy,
    ) -> Result<Self, NegotiationError> {
        let mut requirements = Self::default();
        if let Some(dictionary) = check_dictionary(extensions, DictionaryLocation::GroupContext)? {
            let location = DictionaryLocation::GroupContext;
            if let Some(list) = components_list(&dictionary, APP_COMPONENTS_COMPONENT, location)? {
                requirements.components = list.component_ids;
            }
            if let Some(list) = components_list(&dictionary, SAFE_AAD_COMPONENT, location)? {
                requirements.safe_aad = list.component_ids;
            }
            if policy.media_types == MediaTypePolicy::Require
                && let Some(list) = media_type_list(&dictionary, location)?
            {
                requirements.media_types = list.media_type_list;
            }
        }
        if policy.profile.has_wire_format_extensions()
            && let Some(formats) = wire_formats(extensions, REQUIRED_WIRE_FORMATS_EXTENSION)?
        {
            requirements.wire_formats = formats.wire_formats;
        }
        if crate::semi_private::is_required(extensions, policy.profile)?
            && crate::semi_private::enabled_receivers(extensions, policy.profile)?.is_none()
        {
            return Err(NegotiationError::SemiPrivateWithoutExternalReceivers);
        }
        Ok(requirements)
    }

    /// Whether nothing is required.
    pub fn is_empty(&self) -> bool {
        self.components.is_empty()
            && self.safe_aad.is_empty()
            && self.wire_formats.is_empty()
            && self.media_types.is_empty()
    }
}

/// Finds and decodes the `app_data_dictionary` of an extension list and checks the §4.6
/// rule (sorted by `component_id`, at most one entry per component). In a LeafNode or the
/// GroupContext the components this implementation reads (`app_components`, `safe_aad`,
/// `content_media_types`) must decode too; any other component, GREASE values included, is
/// left alone (§5.1).
pub fn check_dictionary(
    extensions: &[Extension],
    location: DictionaryLocation,
) -> Result<Option<AppDataDictionary>, NegotiationError> {
    let Some(extension) = extensions
        .iter()
        .find(|e| e.extension_type == AppDataDictionary::EXTENSION_TYPE)
    else {
        return Ok(None);
    };
    let dictionary = AppDataDictionary::from_bytes(&extension.extension_data)
        .map_err(|e| NegotiationError::MalformedDictionary(location, e))?;
    if !dictionary.check_sorted() {
        return Err(NegotiationError::UnsortedDictionary(location));
    }
    if matches!(
        location,
        DictionaryLocation::LeafNode | DictionaryLocation::GroupContext
    ) {
        components_list(&dictionary, APP_COMPONENTS_COMPONENT, location)?;
        components_list(&dictionary, SAFE_AAD_COMPONENT, location)?;
        media_type_list(&dictionary, location)?;
    }
    if location == DictionaryLocation::GroupContext {
        crate::semi_private::receivers_of(&dictionary)?;
    }
    Ok(Some(dictionary))
}

/// The `ComponentsList` of `component` (`app_components` or `safe_aad`), if the dictionary
/// has it.
fn components_list(
    dictionary: &AppDataDictionary,
    component: ComponentId,
    location: DictionaryLocation,
) -> Result<Option<ComponentsList>, NegotiationError> {
    dictionary
        .get(component)
        .map(|data| {
            ComponentsList::from_bytes(data).map_err(|error| NegotiationError::MalformedComponent {
                location,
                component,
                error,
            })
        })
        .transpose()
}

/// The `content_media_types` of a dictionary, if present: a non-empty `MediaTypeList`
/// (draft-ietf-mls-extensions-10 §6.2).
pub fn media_type_list(
    dictionary: &AppDataDictionary,
    location: DictionaryLocation,
) -> Result<Option<MediaTypeList>, NegotiationError> {
    let Some(data) = dictionary.get(CONTENT_MEDIA_TYPES_COMPONENT) else {
        return Ok(None);
    };
    let list =
        MediaTypeList::from_bytes(data).map_err(|error| NegotiationError::MalformedComponent {
            location,
            component: CONTENT_MEDIA_TYPES_COMPONENT,
            error,
        })?;
    if list.media_type_list.is_empty() {
        return Err(NegotiationError::EmptyMediaTypeList(location));
    }
    Ok(Some(list))
}

/// The `WireFormats` of the extension `extension_type` (`supported_wire_formats` or
/// `required_wire_formats`), if present.
pub(crate) fn wire_formats(
    extensions: &[Extension],
    extension_type: ExtensionType,
) -> Result<Option<WireFormats>, NegotiationError> {
    extensions
        .iter()
        .find(|e| e.extension_type == extension_type)
        .map(|e| {
            WireFormats::from_bytes(&e.extension_data).map_err(|error| {
                NegotiationError::MalformedWireFormats {
                    extension: extension_type,
                    error,
                }
            })
        })
        .transpose()
}

/// Whether two media types name the same `type/subtype`: compared without regard to ASCII
/// case (media type names are case-insensitive, RFC 6838 §4.2); parameters are not compared.
pub fn same_media_type(a: &MediaType, b: &MediaType) -> bool {
    a.media_type.eq_ignore_ascii_case(&b.media_type)
}

/// Whether a wire format is one of RFC 9420's (1–5), which every client supports.
pub fn is_default_wire_format(wire_format: WireFormat) -> bool {
    (WireFormat::PUBLIC_MESSAGE.0..=WireFormat::KEY_PACKAGE.0).contains(&wire_format.0)
}

/// Checks a LeafNode's own `app_data_dictionary` (draft-ietf-mls-extensions-10 §4.6) and that
/// it supports everything `requirements` names (§5, §6.2). `supporter` names the leaf in
/// the error.
pub fn check_leaf_meets(
    requirements: &NegotiationRequirements,
    leaf: &LeafNode,
    supporter: Supporter,
) -> Result<(), NegotiationError> {
    let dictionary = check_dictionary(&leaf.extensions, DictionaryLocation::LeafNode)?;
    if requirements.is_empty() {
        return Ok(());
    }
    let location = DictionaryLocation::LeafNode;
    for (kind, component, required) in [
        (
            ComponentListKind::AppComponents,
            APP_COMPONENTS_COMPONENT,
            &requirements.components,
        ),
        (
            ComponentListKind::SafeAad,
            SAFE_AAD_COMPONENT,
            &requirements.safe_aad,
        ),
    ] {
        if required.is_empty() {
            continue;
        }
        let supported = match &dictionary {
            Some(dictionary) => components_list(dictionary, component, location)?
                .map(|list| list.component_ids)
                .unwrap_or_default(),
            None => Vec::new(),
        };
        if let Some(missing) = required.iter().find(|c| !supported.contains(c)) {
            return Err(NegotiationError::RequiredComponentUnsupported {
                supporter,
                list: kind,
                component: *missing,
            });
        }
    }
    if !requirements.wire_formats.is_empty() {
        let supported = wire_formats(&leaf.extensions, SUPPORTED_WIRE_FORMATS_EXTENSION)?
            .map(|formats| formats.wire_formats)
            .unwrap_or_default();
        if let Some(missing) = requirements
            .wire_formats
            .iter()
            .find(|f| !is_default_wire_format(**f) && !supported.contains(f))
        {
            return Err(NegotiationError::RequiredWireFormatUnsupported {
                supporter,
                wire_format: *missing,
            });
        }
    }
    if !requirements.media_types.is_empty() {
        let accepted = match &dictionary {
            Some(dictionary) => media_type_list(dictionary, location)?
                .map(|list| list.media_type_list)
                .unwrap_or_default(),
            None => Vec::new(),
        };
        if let Some(missing) = requirements
            .media_types
            .iter()
            .find(|required| !accepted.iter().any(|a| same_media_type(a, required)))
        {
            return Err(NegotiationError::RequiredMediaTypeUnsupported {
                supporter,
                media_type: String::from_utf8_lossy(&missing.media_type).into_owned(),
            });
        }
    }
    Ok(())
}

/// Checks that every member supports everything `requirements` names (draft-ietf-mls-
/// extensions-10 §5, §6.2): for a new group context (a GroupContextExtensions proposal,
/// an AppDataUpdate of the `app_components`, `safe_aad` or `content_media_types` component,
/// a new group, a group being joined). The members are those of the group after the commit.
pub fn check_members_meet<'l>(
    requirements: &NegotiationRequirements,
    members: impl IntoIterator<Item = (LeafIndex, &'l LeafNode)>,
) -> Result<(), NegotiationError> {
    if requirements.is_empty() {
        return Ok(());
    }
    for (member, leaf) in members {
        check_leaf_meets(requirements, leaf, Supporter::Member(member))?;
    }
    Ok(())
}
