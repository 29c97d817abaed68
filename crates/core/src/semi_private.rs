//! Semi-private handshakes (draft-mahy-mls-semiprivatemessage-07): handshake messages
//! encrypted for the members *and* for a group-agreed list of external receivers, such as
//! the Delivery Service, which can then check them as it would check PublicMessages.
//!
//! - The wire structures are in [`crate::messages`] ([`SemiPrivateMessage`],
//!   [`ExternalReceiver`], …); protection is in [`crate::framing`]
//!   ([`crate::framing::protect_semi_private`], [`crate::framing::unprotect_semi_private`]).
//! - A [`crate::group::Group`] whose `GroupConfig::handshake_wire_format` is
//!   [`SEMI_PRIVATE_MESSAGE_WIRE_FORMAT`] sends its proposals and commits this way; every
//!   member accepts them (§3.2) when the group has enabled the wire format.
//! - An external receiver calls [`open_as_external_receiver`] with its HPKE private key, then
//!   [`OpenedHandshake::verify`] with the group's context and the sender's signature key
//!   (§3.3).
//!
//! **Enabling** (§3): the group context's `required_wire_formats` lists
//! `mls_semiprivate_message` (so every member's `supported_wire_formats` must list it,
//! draft-ietf-mls-extensions-10 §5) and its `external_receivers` component has at least one
//! entry. A group context that requires the wire format without a receiver is refused
//! (`NegotiationError::SemiPrivateWithoutExternalReceivers`), wherever group contexts are
//! checked (creation, joining, GroupContextExtensions, AppDataUpdate).
//!
//! **Receivers' credentials** are not validated by the identity provider: the draft gives
//! them no role beyond naming the receiver, and a member that could add a receiver could
//! equally hand the receiver the handshakes itself. Members agree on the list as they agree
//! on the rest of the group context.

pub use crate::codepoints::{
    EXTERNAL_RECEIVERS_COMPONENT, SEMI_PRIVATE_MESSAGE_RECEIVER_LABEL,
    SEMI_PRIVATE_MESSAGE_WIRE_FORMAT,
};
pub use crate::framing::{OpenedHandshake, external_receiver_ref, open_as_external_receiver};
pub use crate::messages::{ExternalReceiver, ExternalReceivers, SemiPrivateMessage};

use conclave_codec::Decode;

use crate::codepoints::{CodepointProfile, REQUIRED_WIRE_FORMATS_EXTENSION};
use crate::messages::Extension;
use crate::validation::negotiation::{
    DictionaryLocation, NegotiationError, check_dictionary, wire_formats,
};

/// The `external_receivers` component of a GroupContext's `app_data_dictionary`
/// (draft-mahy-mls-semiprivatemessage-07 §3, §5.2), if present.
pub fn external_receivers(
    extensions: &[Extension],
) -> Result<Option<ExternalReceivers>, NegotiationError> {
    let Some(dictionary) = check_dictionary(extensions, DictionaryLocation::GroupContext)? else {
        return Ok(None);
    };
    receivers_of(&dictionary)
}

/// Decodes the `external_receivers` entry of a GroupContext dictionary, if present.
pub(crate) fn receivers_of(
    dictionary: &crate::messages::AppDataDictionary,
) -> Result<Option<ExternalReceivers>, NegotiationError> {
    dictionary
        .get(EXTERNAL_RECEIVERS_COMPONENT)
        .map(|data| {
            ExternalReceivers::from_bytes(data).map_err(|error| {
                NegotiationError::MalformedComponent {
                    location: DictionaryLocation::GroupContext,
                    component: EXTERNAL_RECEIVERS_COMPONENT,
                    error,
                }
            })
        })
        .transpose()
}

/// Whether the group context `extensions` require `mls_semiprivate_message` under
/// `profile` (draft-mahy-mls-semiprivatemessage-07 §3: in `required_wire_formats`).
pub fn is_required(
    extensions: &[Extension],
    profile: CodepointProfile,
) -> Result<bool, NegotiationError> {
    let Some(wire_format) = profile.semi_private_wire_format() else {
        return Ok(false);
    };
    let Some(formats) = wire_formats(extensions, REQUIRED_WIRE_FORMATS_EXTENSION)? else {
        return Ok(false);
    };
    Ok(formats.wire_formats.contains(&wire_format))
}

/// The external receivers of a group whose context `extensions` enable semi-private
/// handshakes (draft-mahy-mls-semiprivatemessage-07 §3), or `None` if they do not.
pub fn enabled_receivers(
    extensions: &[Extension],
    profile: CodepointProfile,
) -> Result<Option<Vec<ExternalReceiver>>, NegotiationError> {
    if !is_required(extensions, profile)? {
        return Ok(None);
    }
    Ok(external_receivers(extensions)?
        .map(|list| list.0)
        .filter(|list| !list.is_empty()))
}
