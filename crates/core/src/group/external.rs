//! Proposals from outside the group (RFC 9420 §12.1.8): by an external sender listed in the
//! group's `external_senders` extension, or by a prospective member asking to be added
//! (`new_member_proposal`). Both are PublicMessages without a membership tag, signed without
//! the group context (RFC 9420 §6.1).

use conclave_crypto::CipherSuiteProvider;

use super::{GroupError, KeyPackageBundle, SigningIdentity, mls_message};
use crate::framing::{protect_public, sign_content};
use crate::messages::{
    Add, Content, FramedContent, MlsMessage, MlsMessageBody, Proposal, Sender, WireFormat,
};

/// A proposal by the external sender at `sender_index` of the group's `external_senders`
/// (RFC 9420 §12.1.8.1): Add, Remove, PreSharedKey, ReInit or GroupContextExtensions, or
/// AppDataUpdate or AppEphemeral (draft-ietf-mls-extensions-10 §4.7, §4.8), whose codepoint
/// must be the group's ([`super::app_data::app_data_update_proposal`]).
pub fn external_proposal(
    cs: &dyn CipherSuiteProvider,
    group_id: &[u8],
    epoch: u64,
    sender_index: u32,
    signer: &SigningIdentity,
    proposal: Proposal,
    authenticated_data: &[u8],
) -> Result<MlsMessage, GroupError> {
    super::proposals::check_sender_may_propose(&Sender::External(sender_index), &proposal)?;
    sign_external(
        cs,
        group_id,
        epoch,
        Sender::External(sender_index),
        signer,
        proposal,
        authenticated_data,
    )
}

/// A prospective member's request to be added (RFC 9420 §12.1.8: `new_member_proposal`), an
/// Add of its own KeyPackage signed with the KeyPackage's signature key.
pub fn new_member_proposal(
    cs: &dyn CipherSuiteProvider,
    group_id: &[u8],
    epoch: u64,
    key_package: &KeyPackageBundle,
    signer: &SigningIdentity,
) -> Result<MlsMessage, GroupError> {
    if key_package.key_package.leaf_node.signature_key != signer.public_key {
        return Err(GroupError::SenderNotAllowed {
            sender: crate::messages::SenderType::NewMemberProposal,
            what: "an Add signed with a key other than its KeyPackage's",
            section: "12.1.8",
        });
    }
    let proposal = Proposal::Add(Add {
        key_package: key_package.key_package.clone(),
    });
    sign_external(
        cs,
        group_id,
        epoch,
        Sender::NewMemberProposal,
        signer,
        proposal,
        &[],
    )
}

fn sign_external(
    cs: &dyn CipherSuiteProvider,
    group_id: &[u8],
    epoch: u64,
    sender: Sender,
    signer: &SigningIdentity,
    proposal: Proposal,
    authenticated_data: &[u8],
) -> Result<MlsMessage, GroupError> {
    let content = FramedContent {
        group_id: group_id.to_vec(),
        epoch,
        sender,
        authenticated_data: authenticated_data.to_vec(),
        content: Content::Proposal(proposal),
    };
    let signed = sign_content(
        cs,
        signer.secret_key.as_bytes(),
        WireFormat::PUBLIC_MESSAGE,
        content,
        None,
    )?;
    let message = protect_public(cs, &signed, None, None)?;
    Ok(mls_message(MlsMessageBody::PublicMessage(message)))
}
