//! Looks inside the bytes peers produce (with Conclave's codec), so the scenarios can check
//! that each peer sent what it was asked to: the wire format (RFC 9420 §6), and for
//! PublicMessage commits the proposals and the path (§12.4).

use conclave_codec::{Decode, Encode};
use conclave_core::messages::{
    AuthenticatedContent, Content, MlsMessage, MlsMessageBody, Proposal, ProposalOrRef, Psk,
    Sender, WireFormat,
};
use conclave_crypto::{CipherSuite, CryptoProvider, labels};
use conclave_crypto_rustcrypto::RustCryptoProvider;

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
                if let Proposal::PreSharedKey(psk) = *proposal {
                    shape.psks.push((psk.psk.psk, psk.psk.psk_nonce.len()));
                }
            }
            ProposalOrRef::Reference(_) => shape.by_reference += 1,
        }
    }
    Some(shape)
}

/// One entry of a commit's proposal list (RFC 9420 §12.4).
#[derive(Debug, Clone)]
pub(crate) enum Committed {
    Value(Box<Proposal>),
    Reference(Vec<u8>),
}

/// The proposal list of a PublicMessage commit, in order, and whether it has an UpdatePath;
/// `None` for a PrivateMessage.
pub(crate) fn committed(bytes: &[u8]) -> Option<(Vec<Committed>, bool)> {
    let message = MlsMessage::from_bytes(bytes).unwrap();
    let MlsMessageBody::PublicMessage(public) = message.body else {
        return None;
    };
    let Content::Commit(commit) = public.content.content else {
        panic!("not a commit")
    };
    let list = commit
        .proposals
        .into_iter()
        .map(|p| match p {
            ProposalOrRef::Proposal(proposal) => Committed::Value(proposal),
            ProposalOrRef::Reference(r) => Committed::Reference(r.0),
        })
        .collect();
    Some((list, commit.path.is_some()))
}

/// The `ProposalRef` of a PublicMessage proposal (RFC 9420 §5.2):
/// `RefHash("MLS 1.0 Proposal Reference", AuthenticatedContent)`.
pub(crate) fn proposal_ref(suite: u16, bytes: &[u8]) -> Vec<u8> {
    let message = MlsMessage::from_bytes(bytes).unwrap();
    let MlsMessageBody::PublicMessage(public) = message.body else {
        panic!("not a PublicMessage")
    };
    let content = AuthenticatedContent {
        wire_format: WireFormat::PUBLIC_MESSAGE,
        content: public.content,
        auth: public.auth,
    };
    let cs = RustCryptoProvider
        .cipher_suite_provider(CipherSuite(suite))
        .unwrap();
    labels::make_proposal_ref(cs.as_ref(), &content.to_bytes().unwrap()).unwrap()
}

/// The proposal a PublicMessage proposal carries, and its sender.
pub(crate) fn proposal_of(bytes: &[u8]) -> (Proposal, Sender) {
    let message = MlsMessage::from_bytes(bytes).unwrap();
    let MlsMessageBody::PublicMessage(public) = message.body else {
        panic!("not a PublicMessage")
    };
    let Content::Proposal(proposal) = public.content.content else {
        panic!("not a proposal")
    };
    (proposal, public.content.sender)
}

/// The extension types of a KeyPackage's `extensions` (RFC 9420 §10).
pub(crate) fn key_package_extensions(bytes: &[u8]) -> Vec<u16> {
    let message = MlsMessage::from_bytes(bytes).unwrap();
    let MlsMessageBody::KeyPackage(kp) = message.body else {
        panic!("not a KeyPackage")
    };
    kp.extensions.iter().map(|e| e.extension_type.0).collect()
}
