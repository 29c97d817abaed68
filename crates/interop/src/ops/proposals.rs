//! Proposals (RFC 9420 §12.1): `AddProposal`, `UpdateProposal`, `RemoveProposal`,
//! `ExternalPSKProposal`, `ResumptionPSKProposal` and `GroupContextExtensionsProposal` sent by
//! reference, and the harness's `ProposalDescription`s, which describe the proposals to commit
//! by value (`Commit`) or to send as an external sender (`ExternalSignerProposal`).
//! `ReInitProposal` is with the rest of reinitialisation, in [`super::reinit`].

use conclave_core::group::{Group, GroupEnv};
use conclave_core::messages::{
    Add, Credential, GroupContextExtensions, LeafIndex, MlsMessage, Node, PreSharedKey,
    PreSharedKeyId, Proposal, ProtocolVersion, Psk, RatchetTreeNodes, ReInit, Remove,
    ResumptionPskUsage,
};
use conclave_crypto::CipherSuite;

use super::State;
use crate::error::{InteropError, Result, bad};
use crate::proto;
use crate::provider::suite_of;
use crate::rng::{OsRandom, random_bytes};
use crate::wire::{decode_key_package, encode_message, extensions_of};

/// Whether `credential` is the Basic credential of `identity` (how the harness names members).
fn has_identity(credential: &Credential, identity: &[u8]) -> bool {
    matches!(credential, Credential::Basic { identity: id } if id == identity)
}

/// The error for a Remove naming nobody in the group.
fn no_member(identity: &[u8]) -> InteropError {
    bad(format!(
        "no member with identity {:?}",
        String::from_utf8_lossy(identity)
    ))
}

/// The leaf of the member whose Basic identity is `identity`, in a tree given as nodes
/// (leaves are the even nodes, RFC 9420 §4.1).
pub(crate) fn leaf_by_identity(nodes: &RatchetTreeNodes, identity: &[u8]) -> Option<LeafIndex> {
    nodes
        .0
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .find_map(|(i, node)| match node {
            Some(Node::Leaf(leaf)) if has_identity(&leaf.credential, identity) => {
                u32::try_from(i / 2).ok().map(LeafIndex)
            }
            _ => None,
        })
}

/// The leaf of the member of `group` whose Basic identity is `identity`.
fn member_leaf(group: &Group, identity: &[u8]) -> Result<LeafIndex> {
    group
        .members()
        .find_map(|(leaf, node)| has_identity(&node.credential, identity).then_some(leaf))
        .ok_or_else(|| no_member(identity))
}

/// A fresh PSK nonce, as long as the suite's hash (RFC 9420 §8.4).
fn psk_nonce(suite: CipherSuite, env: &GroupEnv) -> Result<Vec<u8>> {
    let cs = env.suite(suite)?;
    Ok(random_bytes(cs.hash_len())?)
}

/// The id of the external PSK `psk_id`, with a fresh nonce.
pub(crate) fn external_psk_id(
    psk_id: &[u8],
    suite: CipherSuite,
    env: &GroupEnv,
) -> Result<PreSharedKeyId> {
    Ok(PreSharedKeyId {
        psk: Psk::External {
            psk_id: psk_id.to_vec(),
        },
        psk_nonce: psk_nonce(suite, env)?,
    })
}

/// The id of the application resumption PSK of `group_id`'s epoch `epoch`, with a fresh
/// nonce.
fn resumption_psk_id(
    group_id: &[u8],
    epoch: u64,
    suite: CipherSuite,
    env: &GroupEnv,
) -> Result<PreSharedKeyId> {
    Ok(PreSharedKeyId {
        psk: Psk::Resumption {
            usage: ResumptionPskUsage::Application,
            psk_group_id: group_id.to_vec(),
            psk_epoch: epoch,
        },
        psk_nonce: psk_nonce(suite, env)?,
    })
}

/// A ReInit proposal (RFC 9420 §12.1.5) into `group_id` with `cipher_suite` and
/// `extensions`; the protocol version stays MLS 1.0.
pub(super) fn reinit_proposal(
    group_id: Vec<u8>,
    cipher_suite: u32,
    extensions: &[proto::Extension],
) -> Result<Proposal> {
    Ok(Proposal::ReInit(ReInit {
        group_id,
        version: ProtocolVersion::MLS10,
        cipher_suite: suite_of(cipher_suite)?,
        extensions: extensions_of(extensions)?,
    }))
}

/// The message of a proposal we sent, as the harness receives it.
pub(crate) fn proposal_response(message: &MlsMessage) -> Result<proto::ProposalResponse> {
    Ok(proto::ProposalResponse {
        proposal: encode_message(message)?,
    })
}

/// Where a described proposal applies: the group's id, suite and tree.
pub(crate) struct ProposalTarget<'a> {
    /// The group's id (for resumption PSKs).
    pub(crate) group_id: &'a [u8],
    /// The group's suite (for PSK nonces).
    pub(crate) suite: CipherSuite,
    /// The group's tree (to find removed members by identity).
    pub(crate) tree: &'a RatchetTreeNodes,
}

/// Builds the proposal a harness `ProposalDescription` asks for.
pub(crate) fn described_proposal(
    description: &proto::ProposalDescription,
    target: &ProposalTarget<'_>,
    env: &GroupEnv,
) -> Result<Proposal> {
    match description.proposal_type.as_slice() {
        b"add" => Ok(Proposal::Add(Add {
            key_package: decode_key_package(&description.key_package)?,
        })),
        b"remove" => {
            let removed = leaf_by_identity(target.tree, &description.removed_id)
                .ok_or_else(|| no_member(&description.removed_id))?;
            Ok(Proposal::Remove(Remove { removed }))
        }
        b"externalPSK" => Ok(Proposal::PreSharedKey(PreSharedKey {
            psk: external_psk_id(&description.psk_id, target.suite, env)?,
        })),
        b"resumptionPSK" => Ok(Proposal::PreSharedKey(PreSharedKey {
            psk: resumption_psk_id(target.group_id, description.epoch_id, target.suite, env)?,
        })),
        b"groupContextExtensions" => Ok(Proposal::GroupContextExtensions(GroupContextExtensions {
            extensions: extensions_of(&description.extensions)?,
        })),
        b"reinit" => reinit_proposal(
            description.group_id.clone(),
            description.cipher_suite,
            &description.extensions,
        ),
        other => Err(bad(format!(
            "unknown proposal type {:?}",
            String::from_utf8_lossy(other)
        ))),
    }
}

impl State {
    /// Sends `proposal` from the group state `state_id`.
    pub(super) fn propose(
        &mut self,
        state_id: u32,
        proposal: Proposal,
    ) -> Result<proto::ProposalResponse> {
        let group = self.registry.member(state_id)?;
        let message = group.propose(proposal, &[], &mut OsRandom)?;
        proposal_response(&message)
    }

    /// `AddProposal`: proposes adding the holder of a KeyPackage.
    pub(crate) fn add_proposal(
        &mut self,
        req: proto::AddProposalRequest,
    ) -> Result<proto::ProposalResponse> {
        let key_package = decode_key_package(&req.key_package)?;
        self.propose(req.state_id, Proposal::Add(Add { key_package }))
    }

    /// `UpdateProposal`: proposes a fresh leaf for ourselves.
    pub(crate) fn update_proposal(
        &mut self,
        req: proto::UpdateProposalRequest,
    ) -> Result<proto::ProposalResponse> {
        let group = self.registry.member(req.state_id)?;
        let message = group.propose_update(None, &mut OsRandom)?;
        proposal_response(&message)
    }

    /// `RemoveProposal`: proposes removing the member with a given identity.
    pub(crate) fn remove_proposal(
        &mut self,
        req: proto::RemoveProposalRequest,
    ) -> Result<proto::ProposalResponse> {
        let removed = member_leaf(self.registry.member(req.state_id)?, &req.removed_id)?;
        self.propose(req.state_id, Proposal::Remove(Remove { removed }))
    }

    /// `ExternalPSKProposal`: proposes injecting a stored external PSK.
    pub(crate) fn external_psk_proposal(
        &mut self,
        req: proto::ExternalPskProposalRequest,
    ) -> Result<proto::ProposalResponse> {
        let suite = self.registry.member(req.state_id)?.cipher_suite();
        let psk = external_psk_id(&req.psk_id, suite, &self.env)?;
        self.propose(req.state_id, Proposal::PreSharedKey(PreSharedKey { psk }))
    }

    /// `ResumptionPSKProposal`: proposes injecting the resumption PSK of an earlier epoch of
    /// this group.
    pub(crate) fn resumption_psk_proposal(
        &mut self,
        req: proto::ResumptionPskProposalRequest,
    ) -> Result<proto::ProposalResponse> {
        let group = self.registry.member(req.state_id)?;
        let (group_id, suite) = (group.group_id().to_vec(), group.cipher_suite());
        let psk = resumption_psk_id(&group_id, req.epoch_id, suite, &self.env)?;
        self.propose(req.state_id, Proposal::PreSharedKey(PreSharedKey { psk }))
    }

    /// `GroupContextExtensionsProposal`: proposes replacing the group's extensions.
    pub(crate) fn group_context_extensions_proposal(
        &mut self,
        req: proto::GroupContextExtensionsProposalRequest,
    ) -> Result<proto::ProposalResponse> {
        let extensions = extensions_of(&req.extensions)?;
        self.propose(
            req.state_id,
            Proposal::GroupContextExtensions(GroupContextExtensions { extensions }),
        )
    }
}
