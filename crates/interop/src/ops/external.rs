//! External proposals (RFC 9420 §12.1.8): `NewMemberAddProposal` (a would-be member asks to
//! be added), `CreateExternalSigner` and `AddExternalSigner` (an external sender and its
//! entry in the group's `external_senders` extension, §12.1.8.1) and
//! `ExternalSignerProposal` (a proposal sent by that external sender).

use conclave_codec::{Decode, Encode};
use conclave_core::group::{external_proposal, new_member_proposal};
use conclave_core::messages::{
    ExtensionPayload, ExtensionType, ExternalSender, ExternalSenders, GroupContextExtensions,
    Proposal, RatchetTreeNodes, find_payload,
};

use super::State;
use super::proposals::{ProposalTarget, described_proposal, proposal_response};
use crate::error::{Result, bad};
use crate::proto;
use crate::provider::suite_of;
use crate::registry::Handle;
use crate::wire::{decode_group_info, decode_tree, encode_message};

impl State {
    /// `NewMemberAddProposal`: a fresh KeyPackage, proposed for addition by its holder; the
    /// KeyPackage is kept under a transaction id for the Welcome to come.
    pub(crate) fn new_member_add_proposal(
        &mut self,
        req: proto::NewMemberAddProposalRequest,
    ) -> Result<proto::NewMemberAddProposalResponse> {
        let info = decode_group_info(&req.group_info)?;
        let context = &info.group_context;
        let (signer, bundle) = self.new_key_package(context.cipher_suite, &req.identity)?;
        let cs = self.env.suite(context.cipher_suite)?;
        let message = new_member_proposal(
            cs.as_ref(),
            &context.group_id,
            context.epoch,
            &bundle,
            &signer,
        )?;
        let proposal = encode_message(&message)?;
        let (transaction_id, secrets) = self.insert_pending_join(signer, bundle)?;
        Ok(proto::NewMemberAddProposalResponse {
            transaction_id,
            proposal,
            init_priv: secrets.init_priv,
            encryption_priv: secrets.encryption_priv,
            signature_priv: secrets.signature_priv,
        })
    }

    /// `CreateExternalSigner`: a signer for external proposals, and the `ExternalSender`
    /// entry that a member adds to the group to accept them.
    pub(crate) fn create_external_signer(
        &mut self,
        req: proto::CreateExternalSignerRequest,
    ) -> Result<proto::CreateExternalSignerResponse> {
        let suite = suite_of(req.cipher_suite)?;
        let signer = self.new_signer(suite, &req.identity)?;
        let external_sender = ExternalSender {
            signature_key: signer.public_key.clone(),
            credential: signer.credential.clone(),
        }
        .to_bytes()?;
        let signer_id = self.registry.insert(Handle::Signer(Box::new(signer)))?;
        Ok(proto::CreateExternalSignerResponse {
            signer_id,
            external_sender,
        })
    }

    /// `AddExternalSigner`: a GroupContextExtensions proposal adding an external sender to
    /// `external_senders`, keeping the other extensions (a GroupContextExtensions proposal
    /// replaces them all).
    pub(crate) fn add_external_signer(
        &mut self,
        req: proto::AddExternalSignerRequest,
    ) -> Result<proto::ProposalResponse> {
        let sender = ExternalSender::from_bytes(&req.external_sender)?;
        let group = self.registry.member(req.state_id)?;
        let mut extensions = group.context().extensions.clone();
        let mut senders = find_payload::<ExternalSenders>(&extensions)?.unwrap_or_default();
        senders.0.push(sender);
        let updated = senders.to_extension()?;
        match extensions
            .iter_mut()
            .find(|e| e.extension_type == ExtensionType::EXTERNAL_SENDERS)
        {
            Some(existing) => *existing = updated,
            None => extensions.push(updated),
        }
        self.propose(
            req.state_id,
            Proposal::GroupContextExtensions(GroupContextExtensions { extensions }),
        )
    }

    /// `ExternalSignerProposal`: the described proposal, sent by an external signer to the
    /// group of a GroupInfo.
    pub(crate) fn external_signer_proposal(
        &mut self,
        req: proto::ExternalSignerProposalRequest,
    ) -> Result<proto::ProposalResponse> {
        let info = decode_group_info(&req.group_info)?;
        let context = &info.group_context;
        let signer = self.registry.signer(req.signer_id)?;
        // Our index in the group's external_senders: looked up by signature key, since the
        // harness does not always fill `signer_index`.
        let senders = find_payload::<ExternalSenders>(&context.extensions)?
            .ok_or_else(|| bad("the group has no external_senders extension"))?;
        let index = senders
            .0
            .iter()
            .position(|s| s.signature_key == signer.public_key)
            .ok_or_else(|| bad("this signer is not an external sender of the group"))?;
        let index = u32::try_from(index).map_err(|_| bad("external sender index too large"))?;
        // The tree (to find a removed member) is the GroupInfo's, else the one given.
        let tree = match find_payload::<RatchetTreeNodes>(&info.extensions)? {
            Some(nodes) => nodes,
            None => decode_tree(&req.ratchet_tree)?.unwrap_or_default(),
        };
        let description = req
            .description
            .as_ref()
            .ok_or_else(|| bad("missing proposal description"))?;
        let target = ProposalTarget {
            group_id: &context.group_id,
            suite: context.cipher_suite,
            tree: &tree,
        };
        let proposal = described_proposal(description, &target, &self.env)?;
        let cs = self.env.suite(context.cipher_suite)?;
        let message = external_proposal(
            cs.as_ref(),
            &context.group_id,
            context.epoch,
            index,
            signer,
            proposal,
            &[],
        )?;
        proposal_response(&message)
    }
}
