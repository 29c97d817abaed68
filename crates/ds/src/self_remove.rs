//! SelfRemove proposals at the Delivery Service (draft-ietf-mls-extensions-10 §6.3): the DS
//! "needs to validate SelfRemove Proposals it receives (except that it cannot validate the
//! `membership_tag`)", and "SHOULD attach any SelfRemove proposals known to the DS to the
//! GroupInfo object" it gives an external joiner.
//!
//! The check is the external joiner's own ([`conclave_core::group::check_as_non_member`]),
//! made against the GroupInfo of the group's current epoch and its ratchet tree (from the
//! GroupInfo's `ratchet_tree` extension, else the tree the committer supplied): a
//! PublicMessage of this group and epoch, from a member of that tree whose signature
//! verifies, in a group where every member lists the SelfRemove codepoint. The codepoint
//! profile is the one whose SelfRemove codepoint the proposal carries (the DS serves groups
//! of every profile, [`conclave_core::codepoints`]).

use conclave_codec::Decode;
use conclave_core::codepoints::CodepointProfile;
use conclave_core::group::{CheckedSelfRemove, check_as_non_member};
use conclave_core::messages::{
    Content, ExtensionProposalKind, MlsMessage, MlsMessageBody, RatchetTreeNodes, find_payload,
};
use conclave_core::tree::RatchetTree;
use conclave_crypto::CryptoProvider;

use crate::header as mls_header;
use crate::store::GroupRecord;

/// The codepoint profile a message's SelfRemove proposal travels under, if the message is a
/// PublicMessage proposal under any profile's SelfRemove codepoint.
pub(crate) fn self_remove_profile(message: &MlsMessage) -> Option<CodepointProfile> {
    let MlsMessageBody::PublicMessage(public) = &message.body else {
        return None;
    };
    let Content::Proposal(proposal) = &public.content.content else {
        return None;
    };
    let proposal_type = proposal.proposal_type();
    CodepointProfile::ALL
        .into_iter()
        .find(|profile| profile.proposal_type(ExtensionProposalKind::SelfRemove) == proposal_type)
}

/// The epoch a stored GroupInfo describes, decoded once for the checks of several proposals.
pub(crate) struct EpochView {
    group_info: conclave_core::messages::GroupInfo,
    tree: RatchetTree,
}

impl EpochView {
    /// The GroupInfo and tree of the group's current epoch; `None` if the DS holds no
    /// GroupInfo of that epoch (no commit so far) or no usable tree (the committer's
    /// GroupInfo and tree are stored as declared: the DS checks only their encoding).
    pub(crate) fn of(record: &GroupRecord) -> Option<Self> {
        let message = mls_header::decode_message(record.group_info.as_deref()?).ok()?;
        let group_info = mls_header::group_info(&message).ok()?.clone();
        if group_info.group_context.epoch != record.epoch {
            return None;
        }
        let nodes = match find_payload::<RatchetTreeNodes>(&group_info.extensions).ok()? {
            Some(nodes) => nodes,
            None => RatchetTreeNodes::from_bytes(record.ratchet_tree.as_deref()?).ok()?,
        };
        let tree = RatchetTree::from_nodes(nodes).ok()?;
        Some(Self { group_info, tree })
    }

    /// Checks a SelfRemove of `profile` against this epoch, as a non-member can.
    pub(crate) fn check(
        &self,
        crypto: &dyn CryptoProvider,
        profile: CodepointProfile,
        message: &MlsMessage,
    ) -> Result<CheckedSelfRemove, String> {
        let suite = self.group_info.group_context.cipher_suite;
        let cs = crypto
            .cipher_suite_provider(suite)
            .ok_or_else(|| format!("cipher suite {} is not supported here", suite.0))?;
        check_as_non_member(
            cs.as_ref(),
            profile,
            &self.group_info.group_context,
            &self.tree,
            message,
        )
        .map_err(|e| e.to_string())
    }
}

/// Of the proposals of the current epoch (in log order), the SelfRemoves that pass
/// [`EpochView::check`], the first of each member only (draft-ietf-mls-extensions-10 §6.3:
/// one per client and epoch).
pub(crate) fn pending_self_removes(
    crypto: &dyn CryptoProvider,
    view: &EpochView,
    proposals: &[Vec<u8>],
) -> Vec<MlsMessage> {
    let mut senders = Vec::new();
    let mut out = Vec::new();
    for bytes in proposals {
        let Ok(message) = MlsMessage::from_bytes(bytes) else {
            continue;
        };
        let Some(profile) = self_remove_profile(&message) else {
            continue;
        };
        let Ok(checked) = view.check(crypto, profile, &message) else {
            continue;
        };
        if !senders.contains(&checked.sender) {
            senders.push(checked.sender);
            out.push(message);
        }
    }
    out
}
