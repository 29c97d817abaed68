//! The handshake mode a group records: Conclave's private-use component
//! [`CONCLAVE_HANDSHAKES_COMPONENT`] (draft-ietf-mls-extensions-10 §4.6, §7.5), whose
//! GroupContext data is the `WireFormat` its members send proposals and commits in
//! (`mls_public_message`, `mls_private_message` or the SemiPrivateMessage of
//! draft-mahy-mls-semiprivatemessage-07).
//!
//! Where a group records a mode, every member and a non-member that follows the group's
//! handshakes ([`crate::public_group`], e.g. the Delivery Service of RFC 9750 §5) refuse a
//! member's handshake in another wire format: a member that sends its commit as a
//! PrivateMessage in a semi-private group would otherwise hide it from the Delivery Service
//! that the group chose to let verify its handshakes. Two kinds of handshakes keep the wire
//! format other rules give them:
//! - handshakes from non-members (external commits, `new_member_proposal` and external
//!   senders' proposals) are PublicMessages (RFC 9420 §6.1, §12.1.8, §12.4.3.2);
//! - a SelfRemove proposal is a PublicMessage (draft-ietf-mls-extensions-10 §6.3), so that
//!   whoever commits next, the Delivery Service included, can see it.
//!
//! Groups without the component (created before it, or by other implementations) accept
//! every wire format RFC 9420 allows.

use conclave_codec::Decode as _;

use super::GroupError;
use crate::codepoints::CONCLAVE_HANDSHAKES_COMPONENT;
use crate::messages::{
    Content, Extension, ExtensionProposalBody, FramedContent, Proposal, Sender, WireFormat,
};
use crate::validation::negotiation::{DictionaryLocation, check_dictionary};

/// The handshake wire format the group context's extensions record, if they record a
/// readable one.
pub fn recorded_handshake_wire_format(context_extensions: &[Extension]) -> Option<WireFormat> {
    check_dictionary(context_extensions, DictionaryLocation::GroupContext)
        .ok()
        .flatten()?
        .get(CONCLAVE_HANDSHAKES_COMPONENT)
        .and_then(|data| WireFormat::from_bytes(data).ok())
}

/// Checks that a handshake `framed` in `wire_format` follows the mode the group context
/// records (this module's rules). Application messages are not handshakes and pass.
pub fn check_handshake_wire_format(
    context_extensions: &[Extension],
    wire_format: WireFormat,
    framed: &FramedContent,
) -> Result<(), GroupError> {
    let bound_by_mode = match (&framed.sender, &framed.content) {
        (_, Content::Application(_)) => false,
        (Sender::Member(_), Content::Proposal(proposal)) => !is_self_remove(proposal),
        (Sender::Member(_), Content::Commit(_)) => true,
        (Sender::External(_) | Sender::NewMemberProposal | Sender::NewMemberCommit, _) => false,
    };
    if !bound_by_mode {
        return Ok(());
    }
    match recorded_handshake_wire_format(context_extensions) {
        Some(required) if required != wire_format => Err(GroupError::HandshakeModeViolated {
            required,
            found: wire_format,
        }),
        _ => Ok(()),
    }
}

fn is_self_remove(proposal: &Proposal) -> bool {
    matches!(
        proposal.extension_body(),
        Some(ExtensionProposalBody::SelfRemove(_))
    )
}

#[cfg(test)]
mod tests {
    use conclave_codec::Encode as _;

    use super::*;
    use crate::messages::{
        AppDataDictionary, Commit, ExtensionPayload as _, ExtensionProposal, LeafIndex, SelfRemove,
    };

    fn context_with(mode: Option<WireFormat>) -> Vec<Extension> {
        let mut dictionary = AppDataDictionary::default();
        if let Some(mode) = mode {
            dictionary.insert(CONCLAVE_HANDSHAKES_COMPONENT, mode.to_bytes().unwrap());
        }
        vec![dictionary.to_extension().unwrap()]
    }

    fn framed(sender: Sender, content: Content) -> FramedContent {
        FramedContent {
            group_id: b"g".to_vec(),
            epoch: 1,
            sender,
            authenticated_data: Vec::new(),
            content,
        }
    }

    fn commit() -> Content {
        Content::Commit(Commit {
            proposals: Vec::new(),
            path: None,
        })
    }

    #[test]
    fn a_members_handshake_must_use_the_recorded_wire_format() {
        let semi = crate::codepoints::SEMI_PRIVATE_MESSAGE_WIRE_FORMAT;
        let context = context_with(Some(semi));
        let member_commit = framed(Sender::Member(LeafIndex(1)), commit());
        assert_eq!(
            check_handshake_wire_format(&context, WireFormat::PRIVATE_MESSAGE, &member_commit),
            Err(GroupError::HandshakeModeViolated {
                required: semi,
                found: WireFormat::PRIVATE_MESSAGE
            })
        );
        assert_eq!(
            check_handshake_wire_format(&context, WireFormat::PUBLIC_MESSAGE, &member_commit),
            Err(GroupError::HandshakeModeViolated {
                required: semi,
                found: WireFormat::PUBLIC_MESSAGE
            })
        );
        assert_eq!(
            check_handshake_wire_format(&context, semi, &member_commit),
            Ok(())
        );
        // Without a recorded mode, every wire format passes.
        for wire_format in [
            WireFormat::PRIVATE_MESSAGE,
            WireFormat::PUBLIC_MESSAGE,
            semi,
        ] {
            assert_eq!(
                check_handshake_wire_format(&context_with(None), wire_format, &member_commit),
                Ok(())
            );
            assert_eq!(
                check_handshake_wire_format(&[], wire_format, &member_commit),
                Ok(())
            );
        }
    }

    #[test]
    fn self_removes_external_handshakes_and_application_messages_keep_their_own_rules() {
        let context = context_with(Some(WireFormat::PRIVATE_MESSAGE));
        let self_remove = Proposal::Extension(ExtensionProposal::new(
            crate::codepoints::CodepointProfile::default(),
            ExtensionProposalBody::SelfRemove(SelfRemove),
        ));
        let cases = [
            framed(Sender::Member(LeafIndex(0)), Content::Proposal(self_remove)),
            framed(Sender::NewMemberCommit, commit()),
            framed(Sender::External(0), commit()),
            framed(Sender::Member(LeafIndex(0)), Content::Application(vec![1])),
        ];
        for case in &cases {
            assert_eq!(
                check_handshake_wire_format(&context, WireFormat::PUBLIC_MESSAGE, case),
                Ok(()),
                "{case:?}"
            );
        }
    }
}
