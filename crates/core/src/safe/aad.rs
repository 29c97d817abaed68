//! Safe AAD (draft-ietf-mls-extensions-10 §4.9, §5): when the GroupContext's
//! `app_data_dictionary` has a `safe_aad` entry — even with an empty component list — the
//! entire `authenticated_data` of every PublicMessage and PrivateMessage of the group is one
//! `SafeAAD` struct whose items are sorted by increasing `component_id`.
//!
//! What the text makes a rule, and what it does not:
//! * §4.9: "the entire `authenticated_data` field is framed as a `SafeAAD` struct": nothing
//!   may follow the struct (no unsafe trailing AAD), and an empty field is not a `SafeAAD`
//!   (the empty struct encodes as one byte, the zero-length vector).
//! * §4.9: items "sorted in increasing numerical order of the `component_id`". We read
//!   increasing as strictly increasing: two items of one component would make the framing
//!   ambiguous for the component reading it, which is what Safe AAD exists to prevent.
//! * §5: the GroupContext's `safe_aad` list names the Safe AAD components every member must
//!   understand. It does not require a message to carry an item of each, nor forbid items of
//!   other components, so neither is checked here.
//! * §5 says the field "always starts with" the SafeAAD struct; §4.9 (the section that
//!   defines the framing) says the entire field is the struct. We implement §4.9, except
//!   that a group whose codepoint profile allows it
//!   ([`CodepointProfile::safe_aad_allows_trailing_data`]: OpenMLS 0.9 appends its
//!   application's plain AAD) accepts bytes after the struct in what it receives. We never
//!   send such bytes.

use conclave_codec::{Decode, Encode, Reader};

use super::SafeError;
use crate::codepoints::{APP_DATA_DICTIONARY_EXTENSION, CodepointProfile, SAFE_AAD_COMPONENT};
use crate::messages::{AppDataDictionary, ComponentsList, Extension, SafeAad};

/// The `safe_aad` component of the GroupContext's `app_data_dictionary` (draft-ietf-mls-
/// extensions-10 §5): `Some(required Safe AAD components)` when the entry is present (Safe
/// AAD is then in force, even for an empty list), `None` without it.
pub fn safe_aad_components(
    context_extensions: &[Extension],
) -> Result<Option<ComponentsList>, SafeError> {
    let Some(extension) = context_extensions
        .iter()
        .find(|e| e.extension_type == APP_DATA_DICTIONARY_EXTENSION)
    else {
        return Ok(None);
    };
    let dictionary = AppDataDictionary::from_bytes(&extension.extension_data)
        .map_err(SafeError::MalformedAppDataDictionary)?;
    let Some(data) = dictionary
        .component_data
        .iter()
        .find(|entry| entry.component_id == SAFE_AAD_COMPONENT)
    else {
        return Ok(None);
    };
    ComponentsList::from_bytes(&data.data)
        .map(Some)
        .map_err(SafeError::MalformedAppDataDictionary)
}

/// Whether the group whose GroupContext has `context_extensions` frames every
/// `authenticated_data` as a `SafeAAD` (draft-ietf-mls-extensions-10 §4.9).
pub fn safe_aad_required(context_extensions: &[Extension]) -> Result<bool, SafeError> {
    Ok(safe_aad_components(context_extensions)?.is_some())
}

/// Parses an `authenticated_data` field that must be a `SafeAAD` (draft-ietf-mls-extensions-10
/// §4.9): exactly one struct, nothing after it, items in strictly increasing `component_id`
/// order.
pub fn parse_safe_aad(authenticated_data: &[u8]) -> Result<SafeAad, SafeError> {
    let aad = SafeAad::from_bytes(authenticated_data).map_err(SafeError::NotSafeAad)?;
    check_sorted(&aad)?;
    Ok(aad)
}

/// Encodes `aad` as an `authenticated_data` field (draft-ietf-mls-extensions-10 §4.9),
/// refusing items that are not in strictly increasing `component_id` order.
pub fn encode_safe_aad(aad: &SafeAad) -> Result<Vec<u8>, SafeError> {
    check_sorted(aad)?;
    aad.to_bytes().map_err(SafeError::Encoding)
}

/// The `authenticated_data` to send in a group with `context_extensions`, from the bytes the
/// caller gave (draft-ietf-mls-extensions-10 §4.9). Without Safe AAD the bytes are sent as
/// they are. With Safe AAD they must be a valid `SafeAAD`, except that empty bytes — "no
/// authenticated data", what every caller that has none passes — become the empty
/// `SafeAAD` (§4.9: "the `aad_items` is a zero-length vector").
pub fn outgoing_authenticated_data(
    context_extensions: &[Extension],
    authenticated_data: &[u8],
) -> Result<Vec<u8>, SafeError> {
    if !safe_aad_required(context_extensions)? {
        return Ok(authenticated_data.to_vec());
    }
    if authenticated_data.is_empty() {
        return encode_safe_aad(&SafeAad::default());
    }
    parse_safe_aad(authenticated_data)?;
    Ok(authenticated_data.to_vec())
}

/// The check of a received message's `authenticated_data` in a group with
/// `context_extensions` and codepoint profile `profile` (draft-ietf-mls-extensions-10 §4.9):
/// `Some(items)` with Safe AAD in force, `None` without it. Bytes after the `SafeAAD` are
/// refused unless the profile allows them.
pub(crate) fn incoming_safe_aad(
    profile: CodepointProfile,
    context_extensions: &[Extension],
    authenticated_data: &[u8],
) -> Result<Option<SafeAad>, SafeError> {
    if !safe_aad_required(context_extensions)? {
        return Ok(None);
    }
    if !profile.safe_aad_allows_trailing_data() {
        return parse_safe_aad(authenticated_data).map(Some);
    }
    let mut reader = Reader::new(authenticated_data);
    let aad = SafeAad::decode(&mut reader).map_err(SafeError::NotSafeAad)?;
    check_sorted(&aad)?;
    Ok(Some(aad))
}

fn check_sorted(aad: &SafeAad) -> Result<(), SafeError> {
    let sorted = aad
        .aad_items
        .windows(2)
        .all(|pair| matches!(pair, [a, b] if a.component_id < b.component_id));
    if sorted {
        Ok(())
    } else {
        Err(SafeError::SafeAadUnsorted)
    }
}
