//! The gRPC glue of `mls_client.MLSClient`, the mlswg interop harness's service: each RPC
//! takes the server's lock, runs the operation of the same name on `State` (the MLS side,
//! in `crate::ops`) and turns its error into a [`Status`] ([`crate::error`]). `Name` and
//! `SupportedCiphersuites` need no state and are answered here.
//!
//! One lock serves every request because operations move values between handles (a
//! transaction into a group, a group into a reinit), which per-handle locks would have to
//! take together.

use std::sync::Mutex;

use tonic::{Request, Response, Status};

use crate::error::{InteropError, Result};
use crate::ops::State;
use crate::proto::{self, mls_client_server::MlsClient};
use crate::provider::supported_suite_ids;

/// The gRPC service.
pub struct InteropServer {
    state: Mutex<State>,
}

impl core::fmt::Debug for InteropServer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("InteropServer").finish_non_exhaustive()
    }
}

impl Default for InteropServer {
    fn default() -> Self {
        Self::new()
    }
}

impl InteropServer {
    /// A server with no state, offering every suite of [`crate::provider::InteropProvider`].
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State::new()),
        }
    }

    /// Runs `f` under the lock; a lock poisoned by an earlier panic is an error, not a panic.
    fn with_state<T>(&self, f: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
        let mut state = self.state.lock().map_err(|_| InteropError::Poisoned)?;
        f(&mut state)
    }
}

/// Implements `MlsClient`: each listed method runs the `State` method of the same name under
/// the lock (the whole impl is generated so that `async_trait` sees the expanded methods).
macro_rules! mls_client_impl {
    ($($name:ident: $req:ty => $resp:ty;)*) => {
        #[tonic::async_trait]
        impl MlsClient for InteropServer {
            async fn name(
                &self,
                _request: Request<proto::NameRequest>,
            ) -> std::result::Result<Response<proto::NameResponse>, Status> {
                Ok(Response::new(proto::NameResponse {
                    name: "Conclave".to_owned(),
                }))
            }

            async fn supported_ciphersuites(
                &self,
                _request: Request<proto::SupportedCiphersuitesRequest>,
            ) -> std::result::Result<Response<proto::SupportedCiphersuitesResponse>, Status> {
                Ok(Response::new(proto::SupportedCiphersuitesResponse {
                    ciphersuites: supported_suite_ids(),
                }))
            }

            $(
                async fn $name(
                    &self,
                    request: Request<$req>,
                ) -> std::result::Result<Response<$resp>, Status> {
                    let req = request.into_inner();
                    self.with_state(|state| state.$name(req))
                        .map(Response::new)
                        .map_err(Status::from)
                }
            )*
        }
    };
}

mls_client_impl! {
    create_group: proto::CreateGroupRequest => proto::CreateGroupResponse;
    create_key_package: proto::CreateKeyPackageRequest => proto::CreateKeyPackageResponse;
    join_group: proto::JoinGroupRequest => proto::JoinGroupResponse;
    external_join: proto::ExternalJoinRequest => proto::ExternalJoinResponse;
    group_info: proto::GroupInfoRequest => proto::GroupInfoResponse;
    state_auth: proto::StateAuthRequest => proto::StateAuthResponse;
    export: proto::ExportRequest => proto::ExportResponse;
    protect: proto::ProtectRequest => proto::ProtectResponse;
    unprotect: proto::UnprotectRequest => proto::UnprotectResponse;
    store_psk: proto::StorePskRequest => proto::StorePskResponse;
    add_proposal: proto::AddProposalRequest => proto::ProposalResponse;
    update_proposal: proto::UpdateProposalRequest => proto::ProposalResponse;
    remove_proposal: proto::RemoveProposalRequest => proto::ProposalResponse;
    external_psk_proposal: proto::ExternalPskProposalRequest => proto::ProposalResponse;
    resumption_psk_proposal: proto::ResumptionPskProposalRequest => proto::ProposalResponse;
    group_context_extensions_proposal: proto::GroupContextExtensionsProposalRequest => proto::ProposalResponse;
    commit: proto::CommitRequest => proto::CommitResponse;
    handle_commit: proto::HandleCommitRequest => proto::HandleCommitResponse;
    handle_pending_commit: proto::HandlePendingCommitRequest => proto::HandleCommitResponse;
    re_init_proposal: proto::ReInitProposalRequest => proto::ProposalResponse;
    re_init_commit: proto::CommitRequest => proto::CommitResponse;
    handle_pending_re_init_commit: proto::HandlePendingCommitRequest => proto::HandleReInitCommitResponse;
    handle_re_init_commit: proto::HandleCommitRequest => proto::HandleReInitCommitResponse;
    re_init_welcome: proto::ReInitWelcomeRequest => proto::CreateSubgroupResponse;
    handle_re_init_welcome: proto::HandleReInitWelcomeRequest => proto::JoinGroupResponse;
    create_branch: proto::CreateBranchRequest => proto::CreateSubgroupResponse;
    handle_branch: proto::HandleBranchRequest => proto::HandleBranchResponse;
    new_member_add_proposal: proto::NewMemberAddProposalRequest => proto::NewMemberAddProposalResponse;
    create_external_signer: proto::CreateExternalSignerRequest => proto::CreateExternalSignerResponse;
    add_external_signer: proto::AddExternalSignerRequest => proto::ProposalResponse;
    external_signer_proposal: proto::ExternalSignerProposalRequest => proto::ProposalResponse;
    free: proto::FreeRequest => proto::FreeResponse;
}

#[cfg(test)]
mod tests {
    use conclave_core::messages::WireFormat;

    use super::*;
    use crate::wire::decode_message;

    fn server() -> InteropServer {
        InteropServer::new()
    }

    #[test]
    fn unknown_and_wrong_handles_are_refused_with_a_status() {
        let server = server();
        let error = server
            .with_state(|s| s.state_auth(proto::StateAuthRequest { state_id: 7 }))
            .unwrap_err();
        assert_eq!(Status::from(error).code(), tonic::Code::NotFound);
        let signer = server
            .with_state(|s| {
                s.create_external_signer(proto::CreateExternalSignerRequest {
                    cipher_suite: 1,
                    identity: b"ds".to_vec(),
                })
            })
            .unwrap();
        let error = server
            .with_state(|s| {
                s.state_auth(proto::StateAuthRequest {
                    state_id: signer.signer_id,
                })
            })
            .unwrap_err();
        assert_eq!(Status::from(error).code(), tonic::Code::InvalidArgument);
        let error = server
            .with_state(|s| {
                s.create_group(proto::CreateGroupRequest {
                    group_id: b"g".to_vec(),
                    cipher_suite: 0x10000,
                    encrypt_handshake: false,
                    identity: b"alice".to_vec(),
                })
            })
            .unwrap_err();
        assert_eq!(Status::from(error).code(), tonic::Code::InvalidArgument);
        // Garbage where an MLSMessage is expected.
        let error = server
            .with_state(|s| {
                s.join_group(proto::JoinGroupRequest {
                    transaction_id: 1,
                    welcome: vec![0, 1, 0, 3, 0xff],
                    ..Default::default()
                })
            })
            .unwrap_err();
        assert_eq!(Status::from(error).code(), tonic::Code::InvalidArgument);
    }

    /// Two members in one server: add by Welcome with the tree out of band, remove by
    /// identity, and Free.
    #[test]
    fn add_then_remove_by_identity_in_process() {
        let server = server();
        let run = |f: &mut dyn FnMut(&mut State) -> Result<()>| server.with_state(|s| f(s));
        let mut alice = 0;
        let mut bob_tx = 0;
        let mut kp = Vec::new();
        run(&mut |s| {
            alice = s
                .create_group(proto::CreateGroupRequest {
                    group_id: b"group".to_vec(),
                    cipher_suite: 1,
                    encrypt_handshake: true,
                    identity: b"alice".to_vec(),
                })?
                .state_id;
            let created = s.create_key_package(proto::CreateKeyPackageRequest {
                cipher_suite: 1,
                identity: b"bob".to_vec(),
            })?;
            bob_tx = created.transaction_id;
            kp = created.key_package;
            Ok(())
        })
        .unwrap();
        let mut commit = proto::CommitResponse::default();
        run(&mut |s| {
            commit = s.commit(proto::CommitRequest {
                state_id: alice,
                by_value: vec![proto::ProposalDescription {
                    proposal_type: b"add".to_vec(),
                    key_package: kp.clone(),
                    ..Default::default()
                }],
                external_tree: true,
                ..Default::default()
            })?;
            Ok(())
        })
        .unwrap();
        assert!(!commit.ratchet_tree.is_empty());
        let mut bob = 0;
        run(&mut |s| {
            let merged =
                s.handle_pending_commit(proto::HandlePendingCommitRequest { state_id: alice })?;
            let joined = s.join_group(proto::JoinGroupRequest {
                transaction_id: bob_tx,
                welcome: commit.welcome.clone(),
                encrypt_handshake: true,
                identity: b"bob".to_vec(),
                ratchet_tree: commit.ratchet_tree.clone(),
            })?;
            assert_eq!(joined.epoch_authenticator, merged.epoch_authenticator);
            bob = joined.state_id;
            Ok(())
        })
        .unwrap();
        run(&mut |s| {
            let proposal = s
                .remove_proposal(proto::RemoveProposalRequest {
                    state_id: bob,
                    removed_id: b"alice".to_vec(),
                })?
                .proposal;
            // A PrivateMessage, as encrypt_handshake asked.
            assert_eq!(
                decode_message(&proposal)?.wire_format(),
                WireFormat::PRIVATE_MESSAGE
            );
            assert!(
                s.remove_proposal(proto::RemoveProposalRequest {
                    state_id: bob,
                    removed_id: b"nobody".to_vec(),
                })
                .is_err()
            );
            s.free(proto::FreeRequest { state_id: alice })?;
            assert!(s.free(proto::FreeRequest { state_id: alice }).is_err());
            Ok(())
        })
        .unwrap();
    }
}
