//! Looks inside the bytes peers produce (with Conclave's codec), so the scenarios can check
//! that each peer sent what it was asked to: the wire format (RFC 9420 §6), and for
//! PublicMessage commits the proposals and the path (§12.4).

use conclave_codec::Decode;
use conclave_core::messages::{
    Content, MlsMessage, MlsMessageBody, Proposal, ProposalOrRef, Psk, Sender,
};

/// The `wire_format` of an `MLSMessage` (RFC 9420 §6): 1 public, 2 private, 3 Welcome,
/// 4 GroupInfo, 5 KeyPackage.
pub(crate) fn wire_format(bytes: &[u8]) -> u16 {
    u16::from_be_bytes([bytes[2], bytes[3]])
}

/// What a PublicMessage commit contains.
#[derive(Debug, Default)]
pub(crate) struct CommitShape {
    /// Types of the proposals by value.
    pub(crate) by_value: Vec<u16>,
    /// The PreSharedKey proposals by value.
    pub(crate) psks: Vec<(Psk, usize)>,
    /// How many proposals by reference.
    pub(crate) by_reference: usize,
    /// Whether the commit has an UpdatePath.
    pub(crate) path: bool,
    /// Whether the sender is `new_member_commit`.
    pub(crate) external: bool,
}

/// The shape of a PublicMessage commit; `None` for a PrivateMessage.
pub(crate) fn commit_shape(bytes: &[u8]) -> Option<CommitShape> {
    let message = MlsMessage::from_bytes(bytes).unwrap();
    let MlsMessageBody::PublicMessage(public) = message.body else {
        return None;
    };
    let Content::Commit(commit) = public.content.content else {
        panic!("not a commit")
    };
    let mut shape = CommitShape {
        path: commit.path.is_some(),
        external: public.content.sender == Sender::NewMemberCommit,
        ..CommitShape::default()
    };
    for p in commit.proposals {
        match p {
            ProposalOrRef::Proposal(proposal) => {
                shape.by_value.push(proposal.proposal_type().0);
                if let Proposal::PreSharedKey(psk) = proposal {
                    shape.psks.push((psk.psk.psk, psk.psk.psk_nonce.len()));
                }
            }
            ProposalOrRef::Reference(_) => shape.by_reference += 1,
        }
    }
    Some(shape)
}
