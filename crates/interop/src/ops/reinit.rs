//! Reinitialisation (RFC 9420 §11.2): `ReInitProposal`, `ReInitCommit`,
//! `HandlePendingReInitCommit` and `HandleReInitCommit` (which end the old group and leave a
//! reinit handle with our KeyPackage for the new one), `ReInitWelcome` (the committer creates
//! the new group) and `HandleReInitWelcome` (the others join it).

use conclave_core::group::{Group, GroupStatus, LinkedGroupOptions, MemberParams, SigningIdentity};
use conclave_core::messages::{Credential, MlsMessage, MlsMessageBody};

use super::proposals::reinit_proposal;
use super::{State, commit_options, welcome_join};
use crate::clock::unix_now;
use crate::error::{Result, bad};
use crate::proto;
use crate::registry::{Handle, PendingReInit};
use crate::rng::OsRandom;
use crate::wire::{decode_key_packages, encode_optional, out_of_band_tree, wrap};

/// Our Basic identity, to be kept in the new group.
fn basic_identity(signer: &SigningIdentity) -> Result<Vec<u8>> {
    match &signer.credential {
        Credential::Basic { identity } => Ok(identity.clone()),
        _ => Err(bad("only Basic credentials are used here")),
    }
}

impl State {
    /// `ReInitProposal`: proposes reinitialising the group.
    pub(crate) fn re_init_proposal(
        &mut self,
        req: proto::ReInitProposalRequest,
    ) -> Result<proto::ProposalResponse> {
        let proposal = reinit_proposal(req.group_id, req.cipher_suite, &req.extensions)?;
        self.propose(req.state_id, proposal)
    }

    /// `ReInitCommit`: an ordinary commit of the (by-reference) ReInit proposal.
    pub(crate) fn re_init_commit(
        &mut self,
        req: proto::CommitRequest,
    ) -> Result<proto::CommitResponse> {
        self.commit(req)
    }

    /// After a ReInit commit was applied to `state_id`: moves the old group into a reinit
    /// handle with a fresh identity and KeyPackage in the new suite.
    fn start_reinit(&mut self, state_id: u32) -> Result<proto::HandleReInitCommitResponse> {
        let group = self.registry.member(state_id)?;
        let GroupStatus::ReInitialized(reinit) = group.status() else {
            return Err(bad("the commit did not carry a ReInit"));
        };
        let suite = reinit.cipher_suite;
        let identity = basic_identity(group.signer())?;
        let epoch_authenticator = group.epoch_authenticator().to_vec();
        let (signer, bundle) = self.new_key_package(suite, &identity)?;
        let key_package = wrap(MlsMessageBody::KeyPackage(bundle.key_package.clone()))?;
        let old = self.registry.take_member(state_id)?;
        let reinit_id = self
            .registry
            .insert(Handle::ReInit(Box::new(PendingReInit {
                old,
                signer,
                bundle,
            })))?;
        Ok(proto::HandleReInitCommitResponse {
            reinit_id,
            key_package,
            epoch_authenticator,
        })
    }

    /// `HandlePendingReInitCommit`: merges our own ReInit commit.
    pub(crate) fn handle_pending_re_init_commit(
        &mut self,
        req: proto::HandlePendingCommitRequest,
    ) -> Result<proto::HandleReInitCommitResponse> {
        self.registry.member(req.state_id)?.merge_pending_commit()?;
        self.start_reinit(req.state_id)
    }

    /// `HandleReInitCommit`: processes another member's ReInit commit.
    pub(crate) fn handle_re_init_commit(
        &mut self,
        req: proto::HandleCommitRequest,
    ) -> Result<proto::HandleReInitCommitResponse> {
        self.apply_commit(&req)?;
        self.start_reinit(req.state_id)
    }

    /// `ReInitWelcome`: creates the new group with the members' new KeyPackages.
    pub(crate) fn re_init_welcome(
        &mut self,
        req: proto::ReInitWelcomeRequest,
    ) -> Result<proto::CreateSubgroupResponse> {
        let key_packages = decode_key_packages(&req.key_package)?;
        let pending = self.registry.reinit(req.reinit_id)?;
        let (group, output) = pending.old.reinit(
            pending.signer.clone(),
            &LinkedGroupOptions {
                key_packages,
                commit: commit_options(req.force_path, req.external_tree),
                ..LinkedGroupOptions::default()
            },
            unix_now(),
            &mut OsRandom,
        )?;
        self.subgroup_response(group, output.welcome.as_ref(), req.external_tree)
    }

    /// Keeps a group created from another (reinitialised, RFC 9420 §11.2, or branched,
    /// §11.3) and reports it with the Welcome for its other members.
    pub(super) fn subgroup_response(
        &mut self,
        group: Group,
        welcome: Option<&MlsMessage>,
        external_tree: bool,
    ) -> Result<proto::CreateSubgroupResponse> {
        let welcome = encode_optional(welcome)?;
        let ratchet_tree = out_of_band_tree(&group, external_tree)?;
        let (state_id, epoch_authenticator) = self.insert_member(group)?;
        Ok(proto::CreateSubgroupResponse {
            state_id,
            welcome,
            ratchet_tree,
            epoch_authenticator,
        })
    }

    /// `HandleReInitWelcome`: joins the new group with the reinit handle's KeyPackage, in
    /// the old group's configuration.
    pub(crate) fn handle_re_init_welcome(
        &mut self,
        req: proto::HandleReInitWelcomeRequest,
    ) -> Result<proto::JoinGroupResponse> {
        let (welcome, options) = welcome_join(&req.welcome, &req.ratchet_tree)?;
        let pending = self.registry.reinit(req.reinit_id)?;
        let group_config = pending.old.config().clone();
        let group = pending.old.join_reinit(
            MemberParams {
                config: group_config,
                ..MemberParams::new(self.env.clone(), pending.signer.clone())
            },
            &welcome,
            &pending.bundle,
            &options,
            unix_now(),
        )?;
        let (state_id, epoch_authenticator) = self.insert_member(group)?;
        Ok(proto::JoinGroupResponse {
            state_id,
            epoch_authenticator,
        })
    }
}
