//! Becoming a member: `CreateGroup` (RFC 9420 §11), `CreateKeyPackage` (§10), `JoinGroup`
//! (joining by Welcome, §12.4.3.1) and `ExternalJoin` (external commit, §12.4.3.2).

use conclave_core::group::{Group, JoinOptions, MemberParams, NewGroup};
use conclave_core::messages::{MlsMessageBody, RatchetTreeNodes, find_payload};

use super::proposals::{external_psk_id, leaf_by_identity};
use super::{State, group_config, welcome_join};
use crate::clock::unix_now;
use crate::error::{Result, bad};
use crate::proto;
use crate::provider::suite_of;
use crate::rng::OsRandom;
use crate::wire::{decode_group_info, decode_tree, encode_message, wrap};

impl State {
    /// `CreateGroup`: a one-member group of our own.
    pub(crate) fn create_group(
        &mut self,
        req: proto::CreateGroupRequest,
    ) -> Result<proto::CreateGroupResponse> {
        let suite = suite_of(req.cipher_suite)?;
        let signer = self.new_signer(suite, &req.identity)?;
        let group = Group::create(
            MemberParams {
                config: group_config(req.encrypt_handshake),
                ..MemberParams::new(self.env.clone(), signer)
            },
            NewGroup::new(suite, req.group_id),
            unix_now(),
            &mut OsRandom,
        )?;
        let (state_id, _) = self.insert_member(group)?;
        Ok(proto::CreateGroupResponse { state_id })
    }

    /// `CreateKeyPackage`: a KeyPackage kept under a transaction id until `JoinGroup`.
    pub(crate) fn create_key_package(
        &mut self,
        req: proto::CreateKeyPackageRequest,
    ) -> Result<proto::CreateKeyPackageResponse> {
        let suite = suite_of(req.cipher_suite)?;
        let (signer, bundle) = self.new_key_package(suite, &req.identity)?;
        let key_package = wrap(MlsMessageBody::KeyPackage(bundle.key_package.clone()))?;
        let (transaction_id, secrets) = self.insert_pending_join(signer, bundle)?;
        Ok(proto::CreateKeyPackageResponse {
            transaction_id,
            key_package,
            init_priv: secrets.init_priv,
            encryption_priv: secrets.encryption_priv,
            signature_priv: secrets.signature_priv,
        })
    }

    /// `JoinGroup`: joins by the Welcome for a transaction's KeyPackage. The transaction is
    /// used up only when the join succeeds, so that the harness may try again.
    pub(crate) fn join_group(
        &mut self,
        req: proto::JoinGroupRequest,
    ) -> Result<proto::JoinGroupResponse> {
        let (welcome, options) = welcome_join(&req.welcome, &req.ratchet_tree)?;
        let tx = self.registry.take_transaction(req.transaction_id)?;
        let joined = Group::join(
            MemberParams {
                config: group_config(req.encrypt_handshake),
                ..MemberParams::new(self.env.clone(), tx.signer.clone())
            },
            &welcome,
            &tx.bundle,
            &options,
            unix_now(),
        );
        let group = match joined {
            Ok(group) => group,
            Err(error) => {
                self.registry.restore_transaction(req.transaction_id, tx);
                return Err(error.into());
            }
        };
        let (state_id, epoch_authenticator) = self.insert_member(group)?;
        Ok(proto::JoinGroupResponse {
            state_id,
            epoch_authenticator,
        })
    }

    /// `ExternalJoin`: joins by external commit from a GroupInfo, with the PSKs given (which
    /// are stored for later use too) and, for a resync, removing our prior leaf.
    pub(crate) fn external_join(
        &mut self,
        req: proto::ExternalJoinRequest,
    ) -> Result<proto::ExternalJoinResponse> {
        let info = decode_group_info(&req.group_info)?;
        let suite = info.group_context.cipher_suite;
        let tree = decode_tree(&req.ratchet_tree)?;
        let mut psks = Vec::new();
        for psk in &req.psks {
            self.store_psk_secret(&psk.psk_id, &psk.psk_secret)?;
            psks.push(external_psk_id(&psk.psk_id, suite, &self.env)?);
        }
        let remove_prior_leaf = if req.remove_prior {
            // Our prior leaf is found in the tree the GroupInfo carries, else the one given.
            let nodes = match find_payload::<RatchetTreeNodes>(&info.extensions)? {
                Some(nodes) => nodes,
                None => tree
                    .clone()
                    .ok_or_else(|| bad("remove_prior needs the ratchet tree"))?,
            };
            Some(
                leaf_by_identity(&nodes, &req.identity)
                    .ok_or_else(|| bad("remove_prior: we are not in the group"))?,
            )
        } else {
            None
        };
        let options = JoinOptions {
            ratchet_tree: tree,
            remove_prior_leaf,
            psks,
            ..JoinOptions::default()
        };
        let signer = self.new_signer(suite, &req.identity)?;
        let (group, output) = Group::join_external(
            MemberParams {
                config: group_config(req.encrypt_handshake),
                ..MemberParams::new(self.env.clone(), signer)
            },
            &info,
            &options,
            unix_now(),
            &mut OsRandom,
        )?;
        let commit = encode_message(&output.commit)?;
        let (state_id, epoch_authenticator) = self.insert_member(group)?;
        Ok(proto::ExternalJoinResponse {
            state_id,
            commit,
            epoch_authenticator,
        })
    }
}
