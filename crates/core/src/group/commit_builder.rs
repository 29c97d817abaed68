//! A builder for our commits (RFC 9420 §12.4.1): proposals by value, then the options of the
//! commit, then [`CommitBuilder::build`].
//!
//! Obvious mistakes (a message that is not a KeyPackage, a KeyPackage of another suite,
//! removing a blank leaf or ourselves, an unknown PSK) are refused when the proposal is
//! added; every rule of RFC 9420 §12.1 and §12.2 is checked again when the commit is built,
//! as for any commit.

use conclave_crypto::CryptoRandom;

use super::{CommitOptions, CommitOutput, Group, GroupError};
use crate::messages::{
    Add, Extension, GroupContextExtensions, KeyPackage, LeafIndex, MlsMessage, MlsMessageBody,
    PreSharedKey, PreSharedKeyId, Proposal, ProposalType, Psk, Remove,
};

/// A commit of ours being put together; see [`Group::commit_builder`].
///
/// `R` is what builds it: `()` for [`CommitBuilder::build`] with the time and randomness
/// passed in, or a [`crate::member::MemberGroup`]'s runtime, which supplies them and saves
/// the group.
#[must_use = "a commit builder does nothing until it is built"]
pub struct CommitBuilder<'a, R = ()> {
    pub(crate) group: &'a mut Group,
    pub(crate) options: CommitOptions,
    /// External PSKs to include; their nonces are drawn when the commit is built (§8.4).
    pub(crate) external_psks: Vec<Vec<u8>>,
    pub(crate) runtime: R,
}

impl Group {
    /// Starts a commit of ours (RFC 9420 §12.4.1): by default with the pending proposals by
    /// reference and an UpdatePath, and the ratchet tree in the GroupInfo and Welcome.
    ///
    /// ```text
    /// group.commit_builder().add_member(&key_package)?.remove_member(leaf)?.build(now, rng)?
    /// ```
    pub fn commit_builder(&mut self) -> CommitBuilder<'_> {
        CommitBuilder::new(self, ())
    }
}

impl<'a, R> CommitBuilder<'a, R> {
    pub(crate) fn new(group: &'a mut Group, runtime: R) -> Self {
        Self {
            group,
            options: CommitOptions::default(),
            external_psks: Vec::new(),
            runtime,
        }
    }

    /// Adds the member of a KeyPackage message (an Add proposal, RFC 9420 §12.1.1).
    pub fn add_member(self, key_package: &MlsMessage) -> Result<Self, GroupError> {
        match &key_package.body {
            MlsMessageBody::KeyPackage(kp) => self.add_key_package(kp.clone()),
            _ => Err(GroupError::UnexpectedWireFormat(key_package.wire_format())),
        }
    }

    /// Adds the member of a KeyPackage (an Add proposal, RFC 9420 §12.1.1), which must be of
    /// the group's cipher suite.
    pub fn add_key_package(mut self, key_package: KeyPackage) -> Result<Self, GroupError> {
        if key_package.cipher_suite != self.group.cipher_suite() {
            return Err(GroupError::proposal(
                ProposalType::ADD,
                "the KeyPackage's cipher suite is not the group's",
                "12.1.1",
            ));
        }
        self.options
            .proposals
            .push(Proposal::Add(Add { key_package }));
        Ok(self)
    }

    /// Removes the member at `leaf` (a Remove proposal, RFC 9420 §12.1.3); not ourselves
    /// (§12.2: a commit must not remove its committer).
    pub fn remove_member(mut self, leaf: LeafIndex) -> Result<Self, GroupError> {
        if leaf == self.group.own_leaf() {
            return Err(GroupError::InvalidProposalList(
                "it contains a Remove proposal that removes the committer",
            ));
        }
        if self.group.tree().leaf(leaf).is_none() {
            return Err(GroupError::proposal(
                ProposalType::REMOVE,
                "the removed leaf is blank or outside the tree",
                "12.1.3",
            ));
        }
        self.options
            .proposals
            .push(Proposal::Remove(Remove { removed: leaf }));
        Ok(self)
    }

    /// Injects the external PSK `psk_id` into the key schedule (a PreSharedKey proposal,
    /// RFC 9420 §8.4, §12.1.4); it must be in the PSK store.
    pub fn propose_external_psk(mut self, psk_id: Vec<u8>) -> Result<Self, GroupError> {
        if self.group.env.psks.external_psk(&psk_id).is_none() {
            return Err(GroupError::PskNotFound);
        }
        self.external_psks.push(psk_id);
        Ok(self)
    }

    /// Replaces the group context extensions (a GroupContextExtensions proposal,
    /// RFC 9420 §12.1.7).
    pub fn propose_group_context_extensions(mut self, extensions: Vec<Extension>) -> Self {
        self.options
            .proposals
            .push(Proposal::GroupContextExtensions(GroupContextExtensions {
                extensions,
            }));
        self
    }

    /// Includes any proposal by value (RFC 9420 §12.4); it is validated with the others when
    /// the commit is built.
    pub fn propose(mut self, proposal: Proposal) -> Self {
        self.options.proposals.push(proposal);
        self
    }

    /// Replaces the leaves of members whose late Updates we kept with those Updates' LeafNodes
    /// (draft-barnes-mls-replace-00; [`CommitOptions::replace_late_updates`], off by
    /// default).
    pub fn replace_late_updates(mut self, replace: bool) -> Self {
        self.options.replace_late_updates = replace;
        self
    }

    /// Whether the valid proposals received in this epoch are committed by reference
    /// (default: yes, RFC 9420 §12.4 SHOULD).
    pub fn include_pending_proposals(mut self, include: bool) -> Self {
        self.options.include_pending = include;
        self
    }

    /// Whether an UpdatePath is included even when no proposal requires one (default: yes,
    /// for post-compromise security, RFC 9420 §12.4).
    pub fn force_path(mut self, force: bool) -> Self {
        self.options.force_path = force;
        self
    }

    /// Whether the GroupInfo (and so the Welcome) carries the ratchet tree (default: yes,
    /// RFC 9420 §12.4.3.3).
    pub fn ratchet_tree_in_group_info(mut self, include: bool) -> Self {
        self.options.ratchet_tree_in_group_info = include;
        self
    }

    /// Extra GroupInfo extensions.
    pub fn group_info_extensions(mut self, extensions: Vec<Extension>) -> Self {
        self.options.group_info_extensions = extensions;
        self
    }

    /// The commit message's authenticated data (RFC 9420 §6).
    pub fn authenticated_data(mut self, data: Vec<u8>) -> Self {
        self.options.authenticated_data = data;
        self
    }

    /// Creates the commit with the time and randomness given ([`Group::commit`]); gives
    /// the group back with the result, so that the caller can save it either way.
    pub(crate) fn create_keeping_group(
        self,
        now: u64,
        rng: &mut dyn CryptoRandom,
    ) -> (&'a mut Group, Result<CommitOutput, GroupError>) {
        let Self {
            group,
            mut options,
            external_psks,
            runtime: _,
        } = self;
        let result = external_psk_proposals(group, external_psks, rng).and_then(|psks| {
            options.proposals.extend(psks);
            group.commit(&options, now, rng)
        });
        (group, result)
    }
}

/// PreSharedKey proposals of external PSKs, with fresh nonces of `KDF.Nh` bytes (RFC 9420
/// §8.4).
fn external_psk_proposals(
    group: &Group,
    psk_ids: Vec<Vec<u8>>,
    rng: &mut dyn CryptoRandom,
) -> Result<Vec<Proposal>, GroupError> {
    let nonce_len = group.cs.hash_len();
    psk_ids
        .into_iter()
        .map(|psk_id| {
            let mut psk_nonce = vec![0u8; nonce_len];
            rng.fill(&mut psk_nonce)?;
            Ok(Proposal::PreSharedKey(PreSharedKey {
                psk: PreSharedKeyId {
                    psk: Psk::External { psk_id },
                    psk_nonce,
                },
            }))
        })
        .collect()
}

impl CommitBuilder<'_, ()> {
    /// Creates the commit (RFC 9420 §12.4.1) with the time `now` (Unix seconds) and `rng`.
    /// It stays pending: merge it with [`Group::merge_pending_commit`] once the Delivery
    /// Service accepted it (or when it comes back), or drop it with
    /// [`Group::clear_pending_commit`].
    pub fn build(self, now: u64, rng: &mut dyn CryptoRandom) -> Result<CommitOutput, GroupError> {
        self.create_keeping_group(now, rng).1
    }
}

#[cfg(test)]
mod tests;
