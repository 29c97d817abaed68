//! Branching (RFC 9420 §11.3): `CreateBranch` (a new group of some members of this one,
//! linked to it by a branch resumption PSK) and `HandleBranch` (joining it by Welcome).

use conclave_core::group::{LinkedGroupOptions, MemberParams};

use super::{State, commit_options, welcome_join};
use crate::clock::unix_now;
use crate::error::Result;
use crate::proto;
use crate::rng::OsRandom;
use crate::wire::{decode_key_packages, extensions_of};

impl State {
    /// `CreateBranch`: creates the branch with the given members' KeyPackages.
    pub(crate) fn create_branch(
        &mut self,
        req: proto::CreateBranchRequest,
    ) -> Result<proto::CreateSubgroupResponse> {
        let key_packages = decode_key_packages(&req.key_packages)?;
        let extensions = extensions_of(&req.extensions)?;
        let group = self.registry.member(req.state_id)?;
        let (branch, output) = group.branch(
            req.group_id,
            extensions,
            &LinkedGroupOptions {
                key_packages,
                commit: commit_options(req.force_path, req.external_tree),
                ..LinkedGroupOptions::default()
            },
            unix_now(),
            &mut OsRandom,
        )?;
        self.subgroup_response(branch, output.welcome.as_ref(), req.external_tree)
    }

    /// `HandleBranch`: joins a branch of the group state `state_id` with a transaction's
    /// KeyPackage, in that state's configuration. Unlike `JoinGroup`, the transaction is used
    /// up even when the join fails.
    pub(crate) fn handle_branch(
        &mut self,
        req: proto::HandleBranchRequest,
    ) -> Result<proto::HandleBranchResponse> {
        let (welcome, options) = welcome_join(&req.welcome, &req.ratchet_tree)?;
        let tx = self.registry.take_transaction(req.transaction_id)?;
        let group = self.registry.member(req.state_id)?;
        let group_config = group.config().clone();
        let branch = group.join_branch(
            MemberParams {
                config: group_config,
                ..MemberParams::new(self.env.clone(), tx.signer.clone())
            },
            &welcome,
            &tx.bundle,
            &options,
            unix_now(),
        )?;
        let (state_id, epoch_authenticator) = self.insert_member(branch)?;
        Ok(proto::HandleBranchResponse {
            state_id,
            epoch_authenticator,
        })
    }
}
