//! Commits (RFC 9420 §12.4): `Commit` (of proposals received by reference and described by
//! value), `HandleCommit` (processing another member's commit) and `HandlePendingCommit`
//! (merging our own once the harness says it was accepted).

use conclave_core::group::{CommitOptions, Group, GroupError, ProcessedMessage};

use super::proposals::{ProposalTarget, described_proposal};
use super::{State, commit_options};
use crate::clock::unix_now;
use crate::error::{Result, bad};
use crate::proto;
use crate::rng::OsRandom;
use crate::wire::{decode_message, encode_message, encode_optional, encode_tree};

/// Processes proposals sent by reference before a commit that names them (RFC 9420 §12.4):
/// each must be a proposal (ours come back as [`ProcessedMessage::OwnMessage`]).
fn receive_proposals(group: &mut Group, proposals: &[Vec<u8>], now: u64) -> Result<()> {
    for bytes in proposals {
        let message = decode_message(bytes)?;
        match group.process_message(&message, now) {
            Ok(ProcessedMessage::Proposal { .. } | ProcessedMessage::OwnMessage) => {}
            // The same proposal named twice (or already received): nothing more to do.
            Err(GroupError::DuplicateProposal) => {}
            Ok(_) => return Err(bad("a by-reference entry is not a proposal")),
            Err(error) => return Err(error.into()),
        }
    }
    Ok(())
}

impl State {
    /// `Commit` (and `ReInitCommit`): commits the proposals received by reference, those
    /// described by value and any pending ones. The commit stays pending until
    /// `HandlePendingCommit`.
    pub(crate) fn commit(&mut self, req: proto::CommitRequest) -> Result<proto::CommitResponse> {
        let now = unix_now();
        let env = self.env.clone();
        let group = self.registry.member(req.state_id)?;
        receive_proposals(group, &req.by_reference, now)?;
        let tree = group.tree().to_nodes();
        let target = ProposalTarget {
            group_id: group.group_id(),
            suite: group.cipher_suite(),
            tree: &tree,
        };
        let proposals = req
            .by_value
            .iter()
            .map(|d| described_proposal(d, &target, &env))
            .collect::<Result<Vec<_>>>()?;
        let options = CommitOptions {
            proposals,
            include_pending: true,
            ..commit_options(req.force_path, req.external_tree)
        };
        let output = group.commit(&options, now, &mut OsRandom)?;
        let ratchet_tree = if req.external_tree {
            // The tree of the new epoch: merge a copy of our state with the pending commit.
            let mut copy = Group::from_bytes(env, &group.to_bytes()?)?;
            copy.merge_pending_commit()?;
            encode_tree(&copy)?
        } else {
            Vec::new()
        };
        Ok(proto::CommitResponse {
            commit: encode_message(&output.commit)?,
            welcome: encode_optional(output.welcome.as_ref())?,
            ratchet_tree,
        })
    }

    /// Processes `proposals` then the commit; returns the epoch authenticator.
    pub(super) fn apply_commit(&mut self, req: &proto::HandleCommitRequest) -> Result<Vec<u8>> {
        let now = unix_now();
        let commit = decode_message(&req.commit)?;
        let group = self.registry.member(req.state_id)?;
        receive_proposals(group, &req.proposal, now)?;
        match group.process_message(&commit, now)? {
            ProcessedMessage::Commit(_) | ProcessedMessage::OwnCommitMerged(_) => {}
            _ => return Err(bad("the message is not a commit")),
        }
        Ok(group.epoch_authenticator().to_vec())
    }

    /// `HandleCommit`: processes another member's commit (with the proposals it names).
    pub(crate) fn handle_commit(
        &mut self,
        req: proto::HandleCommitRequest,
    ) -> Result<proto::HandleCommitResponse> {
        let epoch_authenticator = self.apply_commit(&req)?;
        Ok(proto::HandleCommitResponse {
            state_id: req.state_id,
            epoch_authenticator,
        })
    }

    /// `HandlePendingCommit`: merges our own pending commit.
    pub(crate) fn handle_pending_commit(
        &mut self,
        req: proto::HandlePendingCommitRequest,
    ) -> Result<proto::HandleCommitResponse> {
        let group = self.registry.member(req.state_id)?;
        group.merge_pending_commit()?;
        Ok(proto::HandleCommitResponse {
            state_id: req.state_id,
            epoch_authenticator: group.epoch_authenticator().to_vec(),
        })
    }
}
