//! The drafts' extensions of what we create (draft-ietf-mls-extensions-10 §4.6, §5, §5.1):
//! the `app_data_dictionary` of our LeafNodes, KeyPackages, GroupInfos and new groups, our
//! `supported_wire_formats`, the capabilities that announce them, and GREASE.
//!
//! - A leaf whose capabilities list `app_data_dictionary` carries a dictionary with an
//!   `app_components` entry listing the components we support (§4.6: an implementation that
//!   advertises the extension "MUST understand and advertise the `app_components`
//!   component"), plus the application's entries.
//! - With [`crate::group::GroupConfig::grease`] (the default), our KeyPackages and GroupInfos
//!   carry a random GREASE component entry, and our LeafNodes one random GREASE value (§5.1:
//!   "A random selection of GREASE values SHOULD be included"): in the `app_components` list
//!   we build, or as a dictionary entry when the application gave that list. One value per
//!   leaf is enough to exercise a receiver's tolerance, and every leaf is in every Welcome
//!   and ratchet tree, so a second one would cost three bytes per member there.
//! - Our `supported_wire_formats` list only the non-default wire formats we support (§7.1:
//!   the extension "contains a list of non-default Wire Formats"); the RFC 9420 formats are
//!   implied, as [`crate::validation::negotiation`] reads them.

use conclave_codec::Encode;
use conclave_crypto::CryptoRandom;

use super::{
    AppDataError, BUILTIN_EPHEMERAL_COMPONENTS, BUILTIN_UPDATE_COMPONENTS, ComponentHandler,
};
use crate::codepoints::{
    APP_COMPONENTS_COMPONENT, CONTENT_MEDIA_TYPES_COMPONENT, CodepointProfile, GREASE_COMPONENTS,
    REQUIRED_WIRE_FORMATS_EXTENSION, SUPPORTED_WIRE_FORMATS_EXTENSION,
};
use crate::group::{GroupConfig, GroupError, LeafOptions, NewGroup};
use crate::messages::{
    AppDataDictionary, Capabilities, ComponentId, ComponentsList, Extension, ExtensionPayload,
    ExtensionProposalKind, ExtensionType, ProposalType, WireFormat, WireFormats,
};
use crate::validation::ValidationError;
use crate::validation::negotiation::{DictionaryLocation, NegotiationError, check_dictionary};

/// The non-default extension types of the drafts we implement under `profile`, which our
/// leaves list in `capabilities.extensions` (RFC 9420 §7.2): `app_data_dictionary`, and
/// `supported_wire_formats` / `required_wire_formats` where the profile has them.
pub fn draft_extension_types(profile: CodepointProfile) -> Vec<ExtensionType> {
    let mut types = vec![AppDataDictionary::EXTENSION_TYPE];
    if profile.has_wire_format_extensions() {
        types.push(SUPPORTED_WIRE_FORMATS_EXTENSION);
        types.push(REQUIRED_WIRE_FORMATS_EXTENSION);
    }
    types
}

/// The draft proposal types we implement under `profile`, which our leaves list in
/// `capabilities.proposals` (RFC 9420 §7.2, §12.2): AppDataUpdate and AppEphemeral.
pub fn draft_proposal_types(profile: CodepointProfile) -> Vec<ProposalType> {
    vec![
        profile.proposal_type(ExtensionProposalKind::AppDataUpdate),
        profile.proposal_type(ExtensionProposalKind::AppEphemeral),
    ]
}

/// The non-default wire formats we support, which our `supported_wire_formats` list
/// (draft-ietf-mls-extensions-10 §5, §7.1: the RFC 9420 formats are implied):
/// `mls_semiprivate_message` (draft-mahy-mls-semiprivatemessage-07 §3), `mls_scommit` and
/// `mls_per_member_commit` (draft-mularczyk-mls-splitcommit-00 §3, [`crate::split`]).
pub const SUPPORTED_WIRE_FORMATS: [WireFormat; 3] = [
    crate::codepoints::SEMI_PRIVATE_MESSAGE_WIRE_FORMAT,
    crate::codepoints::SCOMMIT_WIRE_FORMAT,
    crate::codepoints::PER_MEMBER_COMMIT_WIRE_FORMAT,
];

/// A GREASE component drawn from `rng` (§5.1).
fn grease_component(rng: &mut dyn CryptoRandom) -> Result<ComponentId, GroupError> {
    let mut byte = [0u8; 1];
    rng.fill(&mut byte)?;
    let index = usize::from(byte[0]) % GREASE_COMPONENTS.len();
    Ok(GREASE_COMPONENTS
        .get(index)
        .copied()
        .unwrap_or(GREASE_COMPONENTS[0]))
}

/// Removes the `app_data_dictionary` from `extensions` and returns it decoded and checked
/// (§4.6), or an empty one.
fn take_dictionary(
    extensions: &mut Vec<Extension>,
    location: DictionaryLocation,
) -> Result<AppDataDictionary, GroupError> {
    let dictionary = check_dictionary(extensions, location)
        .map_err(ValidationError::from)?
        .unwrap_or_default();
    extensions.retain(|e| e.extension_type != AppDataDictionary::EXTENSION_TYPE);
    Ok(dictionary)
}

/// Adds `entries` (checked sorted, §4.6) to `dictionary`, replacing existing entries.
fn merge(
    dictionary: &mut AppDataDictionary,
    entries: &AppDataDictionary,
    location: DictionaryLocation,
) -> Result<(), GroupError> {
    if !entries.check_sorted() {
        return Err(ValidationError::from(NegotiationError::UnsortedDictionary(location)).into());
    }
    for entry in &entries.component_data {
        dictionary.insert(entry.component_id, entry.data.clone());
    }
    Ok(())
}

fn has_grease(dictionary: &AppDataDictionary) -> bool {
    dictionary.component_ids().any(ComponentId::is_grease)
}

/// The extensions of a LeafNode we create (RFC 9420 §7.2, draft-ietf-mls-extensions-10
/// §4.6, §5, §5.1): `options.leaf_extensions`, with the `app_data_dictionary` built as the
/// module documentation says when `capabilities` list it, and our `supported_wire_formats`
/// when they list that.
pub(crate) fn leaf_extensions(
    options: &LeafOptions,
    capabilities: &Capabilities,
    config: &GroupConfig,
    handler: &dyn ComponentHandler,
    rng: &mut dyn CryptoRandom,
) -> Result<Vec<Extension>, GroupError> {
    let location = DictionaryLocation::LeafNode;
    let mut extensions = options.leaf_extensions.clone();
    let wants_dictionary = !options.leaf_app_data.component_data.is_empty()
        || options.content_media_types.is_some()
        || extensions
            .iter()
            .any(|e| e.extension_type == AppDataDictionary::EXTENSION_TYPE);
    if capabilities
        .extensions
        .contains(&AppDataDictionary::EXTENSION_TYPE)
    {
        let mut dictionary = take_dictionary(&mut extensions, location)?;
        merge(&mut dictionary, &options.leaf_app_data, location)?;
        if let Some(list) = &options.content_media_types {
            dictionary.insert(CONTENT_MEDIA_TYPES_COMPONENT, list.to_bytes()?);
        }
        let mut greased = has_grease(&dictionary);
        if dictionary.get(APP_COMPONENTS_COMPONENT).is_none() {
            let mut supported: Vec<ComponentId> = BUILTIN_UPDATE_COMPONENTS
                .into_iter()
                .chain(BUILTIN_EPHEMERAL_COMPONENTS)
                .chain(handler.supported_components())
                .collect();
            if config.grease && !greased {
                supported.push(grease_component(rng)?);
                greased = true;
            }
            supported.sort_unstable();
            supported.dedup();
            let list = ComponentsList {
                component_ids: supported,
            };
            dictionary.insert(APP_COMPONENTS_COMPONENT, list.to_bytes()?);
        }
        if config.grease && !greased {
            dictionary.insert(grease_component(rng)?, Vec::new());
        }
        let extension = dictionary.to_extension()?;
        // What we send is what we would accept (§4.6, §5).
        check_dictionary(std::slice::from_ref(&extension), location)
            .map_err(ValidationError::from)?;
        extensions.push(extension);
    } else if wants_dictionary {
        return Err(AppDataError::DictionaryNotInCapabilities.into());
    }
    if config.codepoint_profile.has_wire_format_extensions()
        && capabilities
            .extensions
            .contains(&SUPPORTED_WIRE_FORMATS_EXTENSION)
        && !extensions
            .iter()
            .any(|e| e.extension_type == SUPPORTED_WIRE_FORMATS_EXTENSION)
    {
        extensions.push(Extension {
            extension_type: SUPPORTED_WIRE_FORMATS_EXTENSION,
            extension_data: WireFormats {
                wire_formats: SUPPORTED_WIRE_FORMATS.to_vec(),
            }
            .to_bytes()?,
        });
    }
    Ok(extensions)
}

/// The extensions of a KeyPackage we create (RFC 9420 §10, draft-ietf-mls-extensions-10
/// §4.6, §5.1): `options.key_package_extensions`, with `options.key_package_app_data` and a
/// GREASE entry in its `app_data_dictionary` when our capabilities list the extension.
pub(crate) fn key_package_extensions(
    options: &LeafOptions,
    capabilities: &Capabilities,
    config: &GroupConfig,
    rng: &mut dyn CryptoRandom,
) -> Result<Vec<Extension>, GroupError> {
    let location = DictionaryLocation::KeyPackage;
    let mut extensions = options.key_package_extensions.clone();
    let supported = capabilities
        .extensions
        .contains(&AppDataDictionary::EXTENSION_TYPE);
    let given = !options.key_package_app_data.component_data.is_empty()
        || extensions
            .iter()
            .any(|e| e.extension_type == AppDataDictionary::EXTENSION_TYPE);
    if !supported && !given {
        return Ok(extensions);
    }
    if !supported {
        return Err(AppDataError::DictionaryNotInCapabilities.into());
    }
    let mut dictionary = take_dictionary(&mut extensions, location)?;
    merge(&mut dictionary, &options.key_package_app_data, location)?;
    if config.grease && !has_grease(&dictionary) {
        dictionary.insert(grease_component(rng)?, Vec::new());
    }
    if !dictionary.component_data.is_empty() {
        extensions.push(dictionary.to_extension()?);
    }
    Ok(extensions)
}

/// The GREASE `app_data_dictionary` of a GroupInfo we sign (§5.1), when the group's
/// configuration asks for GREASE. The GREASE component is chosen from the epoch's
/// `confirmation_tag`, so that every GroupInfo of an epoch carries the same one (a GroupInfo
/// is also signed where no randomness is at hand, [`crate::group::Group::group_info`]).
pub(crate) fn group_info_grease(
    config: &GroupConfig,
    confirmation_tag: &[u8],
) -> Result<Option<Extension>, GroupError> {
    if !config.grease {
        return Ok(None);
    }
    let index = confirmation_tag
        .first()
        .map_or(0, |b| usize::from(*b) % GREASE_COMPONENTS.len());
    let component = GREASE_COMPONENTS
        .get(index)
        .copied()
        .unwrap_or(GREASE_COMPONENTS[0]);
    let mut dictionary = AppDataDictionary::default();
    dictionary.insert(component, Vec::new());
    Ok(Some(dictionary.to_extension()?))
}

/// The group context extensions of a new group (RFC 9420 §11, draft-ietf-mls-extensions-10
/// §4.6, §5): `group.extensions`, with `group.app_data` merged into its
/// `app_data_dictionary` and `group.required_wire_formats` as a `required_wire_formats`
/// extension (which `profile` must have).
pub(crate) fn group_context_extensions(
    group: &NewGroup,
    profile: CodepointProfile,
) -> Result<Vec<Extension>, GroupError> {
    let location = DictionaryLocation::GroupContext;
    let mut extensions = group.extensions.clone();
    if !group.app_data.component_data.is_empty() {
        let position = extensions
            .iter()
            .position(|e| e.extension_type == AppDataDictionary::EXTENSION_TYPE);
        let mut dictionary = take_dictionary(&mut extensions, location)?;
        merge(&mut dictionary, &group.app_data, location)?;
        let extension = dictionary.to_extension()?;
        match position {
            Some(index) if index <= extensions.len() => extensions.insert(index, extension),
            _ => extensions.push(extension),
        }
    }
    if let Some(formats) = &group.required_wire_formats {
        if !profile.has_wire_format_extensions() {
            return Err(AppDataError::NoWireFormatExtensions(profile).into());
        }
        extensions.push(Extension {
            extension_type: REQUIRED_WIRE_FORMATS_EXTENSION,
            extension_data: formats.to_bytes()?,
        });
    }
    Ok(extensions)
}
