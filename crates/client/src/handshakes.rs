//! A group's handshake mode: the wire format its members send proposals and commits in,
//! chosen when the group is created and recorded in its group context so that members who
//! join later follow it.
//!
//! | mode | wire format | what the Delivery Service sees of a handshake |
//! |---|---|---|
//! | `public` | PublicMessage (RFC 9420 §6.2) | everything: it can check every handshake and keep the roster itself |
//! | `semiprivate` | SemiPrivateMessage (draft-mahy-mls-semiprivatemessage-07) | everything, with its own key; nobody else on the path |
//! | `private` | PrivateMessage (RFC 9420 §6.3) | only the clear header: it cannot check handshakes, so it cannot protect the roster |
//!
//! `semiprivate` is the default ([`crate::ClientOptions::handshakes`]): the DS publishes its
//! external-receiver key (`GET /v1/ds/external-receiver`), the group lists it in its
//! `external_receivers` and requires the wire format, and handshakes stay encrypted on the
//! wire while the DS can verify them.
//!
//! The mode is the group context's [`CONCLAVE_HANDSHAKES_COMPONENT`] entry (Conclave's own
//! component). A joiner reads it ([`mode_of`]); a group without it is read as
//! `semiprivate` when its `required_wire_formats` lists the semi-private wire format (and
//! has a receiver), else as `private`, the mode of every group created before modes existed.

use conclave_codec::Encode as _;
use conclave_core::codepoints::{CONCLAVE_HANDSHAKES_COMPONENT, SEMI_PRIVATE_MESSAGE_WIRE_FORMAT};
use conclave_core::group::{Group, GroupError, NewGroup};
use conclave_core::messages::{ExternalReceiver, GroupContext, WireFormat};
use serde::Serialize;

/// How a group's members send their handshake messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HandshakeMode {
    /// PublicMessage: signed, readable by anyone on the path, checkable by the DS.
    Public,
    /// SemiPrivateMessage: encrypted to the members and to the DS (the default).
    #[default]
    SemiPrivate,
    /// PrivateMessage: encrypted to the members only. The DS cannot check handshakes, so it
    /// cannot protect the roster (it takes the committer's word for it).
    Private,
}

/// A mode name [`HandshakeMode::from_str`](core::str::FromStr) does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown handshake mode {0:?}: expected public, semiprivate or private")]
pub struct UnknownHandshakeMode(pub String);

impl HandshakeMode {
    /// Every mode.
    pub const ALL: [Self; 3] = [Self::Public, Self::SemiPrivate, Self::Private];

    /// The mode's name, as the command line spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::SemiPrivate => "semiprivate",
            Self::Private => "private",
        }
    }

    /// The wire format of the mode's handshakes.
    pub fn wire_format(self) -> WireFormat {
        match self {
            Self::Public => WireFormat::PUBLIC_MESSAGE,
            Self::SemiPrivate => SEMI_PRIVATE_MESSAGE_WIRE_FORMAT,
            Self::Private => WireFormat::PRIVATE_MESSAGE,
        }
    }

    /// The mode of a handshake wire format, if it is one.
    pub fn of_wire_format(wire_format: WireFormat) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|mode| mode.wire_format() == wire_format)
    }
}

impl core::fmt::Display for HandshakeMode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

impl core::str::FromStr for HandshakeMode {
    type Err = UnknownHandshakeMode;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|mode| mode.name() == name)
            .ok_or_else(|| UnknownHandshakeMode(name.to_owned()))
    }
}

/// A new group in `mode`: the mode recorded in the group context, and for `semiprivate` the
/// DS's `receiver` in `external_receivers` with the wire format required
/// (draft-mahy-mls-semiprivatemessage-07 §3).
pub(crate) fn new_group(
    group: NewGroup,
    mode: HandshakeMode,
    receiver: Option<ExternalReceiver>,
) -> Result<NewGroup, GroupError> {
    let group = group.with_app_data(
        CONCLAVE_HANDSHAKES_COMPONENT,
        mode.wire_format().to_bytes()?,
    );
    match (mode, receiver) {
        (HandshakeMode::SemiPrivate, Some(receiver)) => {
            group.with_external_receivers(vec![receiver])
        }
        (HandshakeMode::SemiPrivate, None) => Err(GroupError::SemiPrivateNotEnabled),
        _ => Ok(group),
    }
}

/// The handshake mode a group context announces (see the module documentation).
pub fn mode_of(context: &GroupContext) -> HandshakeMode {
    let recorded =
        conclave_core::group::handshake_mode::recorded_handshake_wire_format(&context.extensions)
            .and_then(HandshakeMode::of_wire_format);
    if let Some(mode) = recorded {
        return mode;
    }
    let profile = conclave_core::codepoints::CodepointProfile::default();
    match conclave_core::semi_private::enabled_receivers(&context.extensions, profile) {
        Ok(Some(_)) => HandshakeMode::SemiPrivate,
        _ => HandshakeMode::Private,
    }
}

/// Makes a group we joined send its handshakes as its context says.
pub(crate) fn follow(group: &mut Group) -> Result<(), GroupError> {
    let mode = mode_of(group.context());
    group.set_handshake_wire_format(mode.wire_format())
}

/// The mode our member state of `group` sends handshakes in.
pub fn mode_of_group(group: &Group) -> HandshakeMode {
    HandshakeMode::of_wire_format(group.config().handshake_wire_format)
        .unwrap_or(HandshakeMode::Private)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_from_their_names_and_map_to_their_wire_formats() {
        for mode in HandshakeMode::ALL {
            assert_eq!(mode.name().parse::<HandshakeMode>(), Ok(mode));
            assert_eq!(
                HandshakeMode::of_wire_format(mode.wire_format()),
                Some(mode)
            );
        }
        assert_eq!(
            "semi-private".parse::<HandshakeMode>(),
            Err(UnknownHandshakeMode("semi-private".into()))
        );
        assert_eq!(HandshakeMode::default(), HandshakeMode::SemiPrivate);
    }

    #[test]
    fn a_semi_private_group_needs_the_receiver() {
        let group = NewGroup::new(conclave_crypto::CipherSuite(1), b"g".to_vec());
        assert_eq!(
            new_group(group, HandshakeMode::SemiPrivate, None).unwrap_err(),
            GroupError::SemiPrivateNotEnabled
        );
    }
}
