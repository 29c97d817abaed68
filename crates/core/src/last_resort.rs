//! Last-resort KeyPackages (RFC 9420 §10, §16.8; draft-ietf-mls-extensions-10 §6.4): a
//! KeyPackage that may be used more than once, when its owner's one-time KeyPackages have
//! run out, marked as such inside the signed KeyPackage so that the Delivery Service and
//! the members processing an Add can tell.
//!
//! Two markers are in use, and [`KeyPackage::is_last_resort`] recognises both whatever the
//! group's codepoint profile:
//! - draft-ietf-mls-extensions-10 §6.4: an entry of the `last_resort_key_package` component
//!   with empty data in the KeyPackage's `app_data_dictionary` extension;
//! - the -04 design OpenMLS 0.9 and mls-rs ship: an empty KeyPackage extension of type
//!   0x000A.
//!
//! [`KeyPackageBundle::generate_last_resort`] writes the marker of the member's profile
//! ([`crate::codepoints::CodepointProfile::last_resort_marker`]) and lists the extension type it uses in the
//! leaf's capabilities.

use conclave_codec::{Decode, Encode};
use conclave_crypto::{CipherSuite, CryptoRandom};

use crate::codepoints::{
    APP_DATA_DICTIONARY_EXTENSION, LAST_RESORT_KEY_PACKAGE_COMPONENT,
    LAST_RESORT_KEY_PACKAGE_EXTENSION, LastResortMarker,
};
use crate::group::{GroupError, KeyPackageBundle, MemberParams};
use crate::messages::{AppDataDictionary, Extension, ExtensionType, KeyPackage};

impl KeyPackage {
    /// Whether the KeyPackage is marked as a last-resort KeyPackage, by either marker (see
    /// the module documentation): an empty-data `last_resort_key_package` component in its
    /// `app_data_dictionary` extension (draft-ietf-mls-extensions-10 §6.4), or an empty
    /// extension 0x000A. A dictionary that does not decode, or a marker carrying data, is
    /// not a mark.
    pub fn is_last_resort(&self) -> bool {
        self.extensions
            .iter()
            .any(|extension| match extension.extension_type {
                APP_DATA_DICTIONARY_EXTENSION => {
                    AppDataDictionary::from_bytes(&extension.extension_data).is_ok_and(|d| {
                        d.component_data.iter().any(|entry| {
                            entry.component_id == LAST_RESORT_KEY_PACKAGE_COMPONENT
                                && entry.data.is_empty()
                        })
                    })
                }
                LAST_RESORT_KEY_PACKAGE_EXTENSION => extension.extension_data.is_empty(),
                _ => false,
            })
    }
}

/// Adds `marker` to KeyPackage extensions: the component joins an existing
/// `app_data_dictionary` (kept sorted, draft-ietf-mls-extensions-10 §4.6) or starts one; the
/// extension is added unless present. Returns the extension type the marker uses.
pub fn add_marker(
    marker: LastResortMarker,
    extensions: &mut Vec<Extension>,
) -> Result<ExtensionType, GroupError> {
    match marker {
        LastResortMarker::Component(component) => {
            let existing = extensions
                .iter_mut()
                .find(|e| e.extension_type == APP_DATA_DICTIONARY_EXTENSION);
            match existing {
                Some(extension) => {
                    let mut dictionary = AppDataDictionary::from_bytes(&extension.extension_data)?;
                    dictionary.insert(component, Vec::new());
                    extension.extension_data = dictionary.to_bytes()?;
                }
                None => {
                    let mut dictionary = AppDataDictionary::default();
                    dictionary.insert(component, Vec::new());
                    extensions.push(Extension {
                        extension_type: APP_DATA_DICTIONARY_EXTENSION,
                        extension_data: dictionary.to_bytes()?,
                    });
                }
            }
            Ok(APP_DATA_DICTIONARY_EXTENSION)
        }
        LastResortMarker::Extension(extension_type) => {
            match extensions
                .iter_mut()
                .find(|e| e.extension_type == extension_type)
            {
                Some(extension) => extension.extension_data.clear(),
                None => extensions.push(Extension {
                    extension_type,
                    extension_data: Vec::new(),
                }),
            }
            Ok(extension_type)
        }
    }
}

impl KeyPackageBundle {
    /// Creates and signs a last-resort KeyPackage (RFC 9420 §16.8) like
    /// [`KeyPackageBundle::generate`], marked as the member's codepoint profile marks them
    /// (`member.config.codepoint_profile`, draft-ietf-mls-extensions-10 §6.4 for the draft
    /// profile), with the marker's extension type listed in the leaf's capabilities.
    pub fn generate_last_resort(
        member: &MemberParams,
        suite: CipherSuite,
        now: u64,
        rng: &mut dyn CryptoRandom,
    ) -> Result<Self, GroupError> {
        let mut marked = member.clone();
        let marker = member.config.codepoint_profile.last_resort_marker();
        let extension_type = add_marker(marker, &mut marked.leaf.key_package_extensions)?;
        let mut capabilities = member.leaf.capabilities_for(
            suite,
            member.env.identity.as_ref(),
            member.config.codepoint_profile,
        )?;
        if !capabilities.extensions.contains(&extension_type) {
            capabilities.extensions.push(extension_type);
        }
        marked.leaf.capabilities = Some(capabilities);
        Self::generate(&marked, suite, now, rng)
    }
}

#[cfg(test)]
mod tests;
