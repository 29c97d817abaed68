//! Receiving split commits as a member (draft-mularczyk-mls-splitcommit-00 §3, "A receiver
//! group member processes a PerMemberCommit"): the broadcast message is checked like a
//! member's PublicMessage commit (RFC 9420 §6.1, §6.2), the path rebuilt into the UpdatePath
//! it stands for, and the commit processed by the one commit-processing code
//! ([`super::commit::process_received_commit`]) with the split commit's transcript hash and
//! epoch-identifier check in place of the confirmation tag (§3 step 4, §4). Creating one is
//! [`Group::split_commit`]; the format and the decisions are in [`crate::split`].

use std::borrow::Cow;

use super::commit::{CommitProof, CommitSummary, ReceivedCommit, process_received_commit};
use super::{Group, GroupError, member_proof};
use crate::messages::{ContentType, HpkeCiphertextRef, Sender, UpdatePathNode};
use crate::split::{
    PerMemberCommit, SCommit, SCommitBroadcastMessage, SplitCommitError, SplitMessage, commit_of,
    is_enabled, nodes_with_single_ciphertext, verify_broadcast,
};

impl Group {
    /// Processes an SCommit from another member (draft-mularczyk-mls-splitcommit-00 §3): the
    /// whole UpdatePath, as a full member would. Our own SCommit echoed back merges our
    /// pending commit. A refused SCommit leaves the group as it was.
    pub fn process_scommit(
        &mut self,
        scommit: &SCommit,
        now: u64,
    ) -> Result<CommitSummary, GroupError> {
        if scommit.broadcast.content.sender == Sender::Member(self.own_leaf()) {
            let echo = SplitMessage::SCommit(scommit.clone());
            if let Some(pending) = self.pending_commit.as_deref()
                && conclave_codec::Encode::to_bytes(&echo).is_ok_and(|b| b == pending.encoded)
            {
                return self.merge_pending_commit();
            }
            return Err(GroupError::UnrecognisedOwnMessage);
        }
        let nodes = scommit.path.as_ref().map(|path| path.nodes.clone());
        self.process_split(&scommit.broadcast, nodes, None, now)
    }

    /// Processes the PerMemberCommit split for us from another member's SCommit
    /// (draft-mularczyk-mls-splitcommit-00 §3): the one ciphertext we decrypt and the path's
    /// public keys. A refused one leaves the group as it was.
    pub fn process_per_member_commit(
        &mut self,
        commit: &PerMemberCommit,
        now: u64,
    ) -> Result<CommitSummary, GroupError> {
        if commit.broadcast.content.sender == Sender::Member(self.own_leaf()) {
            return Err(SplitCommitError::NotAReceiver(self.own_leaf()).into());
        }
        let (nodes, single) = match &commit.partial_path {
            Some(partial) => (
                Some(nodes_with_single_ciphertext(partial)?),
                Some(HpkeCiphertextRef {
                    kem_output: &partial.encrypted_path_secret.kem_output,
                    ciphertext: &partial.encrypted_path_secret.ciphertext,
                }),
            ),
            None => (None, None),
        };
        self.process_split(&commit.broadcast, nodes, single, now)
    }

    /// The checks and processing shared by SCommits and PerMemberCommits.
    fn process_split(
        &mut self,
        broadcast: &SCommitBroadcastMessage,
        nodes: Option<Vec<UpdatePathNode>>,
        single: Option<HpkeCiphertextRef<'_>>,
        now: u64,
    ) -> Result<CommitSummary, GroupError> {
        self.ensure_active()?;
        if !is_enabled(&self.epoch.context.extensions)? {
            return Err(SplitCommitError::NotEnabled.into());
        }
        let content = &broadcast.content;
        self.public_state()
            .check_group_and_epoch(&content.group_id, content.epoch)?;
        let Sender::Member(leaf) = content.sender else {
            return Err(SplitCommitError::SenderNotMember.into());
        };
        // The Safe AAD and member-proof rules of a commit (draft-ietf-mls-extensions-10 §4.9,
        // draft-mahy-mls-member-proof-00 §4) hold for its split form too.
        crate::safe::incoming_safe_aad(
            self.config.codepoint_profile,
            &self.epoch.context.extensions,
            &content.authenticated_data,
        )?;
        member_proof::check_incoming(
            self.cs.as_ref(),
            self.config.codepoint_profile,
            &self.epoch.context,
            self.member_proof_public_key(),
            Some(content.sender),
            ContentType::Commit,
            &content.authenticated_data,
        )?;
        let key = self
            .epoch
            .tree
            .leaf(leaf)
            .map(|l| l.signature_key.clone())
            .ok_or(GroupError::UnknownSender(leaf))?;
        verify_broadcast(
            self.cs.as_ref(),
            broadcast,
            &self.epoch.context,
            Some(self.epoch.secrets.membership_key.as_bytes()),
            key.as_ref(),
        )?;
        let commit = commit_of(&content.broadcast, nodes)?;
        let received = ReceivedCommit {
            sender: content.sender,
            commit: Cow::Owned(commit),
            authenticated_data: &content.authenticated_data,
            proof: CommitProof::Split(content),
            single_ciphertext: single,
        };
        let staged = process_received_commit(self, &received, now)?;
        let summary = staged.summary.clone();
        self.apply_staged(staged);
        Ok(summary)
    }
}

#[cfg(test)]
mod tests;
