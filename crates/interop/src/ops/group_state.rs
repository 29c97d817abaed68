//! Using a group state without changing its epoch: `GroupInfo` (RFC 9420 §12.4.3),
//! `StateAuth` (the epoch authenticator, §8.7), `Export` (the exporter, §8.5), `Protect` and
//! `Unprotect` (application messages, §6.3), `StorePSK` (external PSKs, §8.4) and `Free`.

use conclave_core::group::ProcessedMessage;

use super::State;
use crate::clock::unix_now;
use crate::error::{InteropError, Result, bad};
use crate::proto;
use crate::rng::OsRandom;
use crate::wire::{decode_message, encode_message, out_of_band_tree};

impl State {
    /// `GroupInfo`: a signed GroupInfo for external joiners, with the tree inside it or, with
    /// `external_tree`, beside it.
    pub(crate) fn group_info(
        &mut self,
        req: proto::GroupInfoRequest,
    ) -> Result<proto::GroupInfoResponse> {
        let group = self.registry.member(req.state_id)?;
        let group_info = encode_message(&group.group_info(!req.external_tree)?)?;
        let ratchet_tree = out_of_band_tree(group, req.external_tree)?;
        Ok(proto::GroupInfoResponse {
            group_info,
            ratchet_tree,
        })
    }

    /// `StateAuth`: the epoch authenticator, which members compare to check they agree.
    pub(crate) fn state_auth(
        &mut self,
        req: proto::StateAuthRequest,
    ) -> Result<proto::StateAuthResponse> {
        let group = self.registry.member(req.state_id)?;
        Ok(proto::StateAuthResponse {
            state_auth_secret: group.epoch_authenticator().to_vec(),
        })
    }

    /// `Export`: `MLS-Exporter(label, context, length)` of the current epoch.
    pub(crate) fn export(&mut self, req: proto::ExportRequest) -> Result<proto::ExportResponse> {
        let group = self.registry.member(req.state_id)?;
        let length = usize::try_from(req.key_length).map_err(|_| bad("key_length too large"))?;
        let secret = group.export_secret(&req.label, &req.context, length)?;
        Ok(proto::ExportResponse {
            exported_secret: secret.as_bytes().to_vec(),
        })
    }

    /// `Protect`: encrypts an application message.
    pub(crate) fn protect(&mut self, req: proto::ProtectRequest) -> Result<proto::ProtectResponse> {
        let group = self.registry.member(req.state_id)?;
        let message = group.encrypt_application_message(
            &req.plaintext,
            &req.authenticated_data,
            &mut OsRandom,
        )?;
        Ok(proto::ProtectResponse {
            ciphertext: encode_message(&message)?,
        })
    }

    /// `Unprotect`: decrypts an application message; anything else is refused.
    pub(crate) fn unprotect(
        &mut self,
        req: proto::UnprotectRequest,
    ) -> Result<proto::UnprotectResponse> {
        let message = decode_message(&req.ciphertext)?;
        let group = self.registry.member(req.state_id)?;
        match group.process_message(&message, unix_now())? {
            ProcessedMessage::Application {
                data,
                authenticated_data,
                ..
            } => Ok(proto::UnprotectResponse {
                authenticated_data,
                plaintext: data,
            }),
            _ => Err(bad("the message is not an application message")),
        }
    }

    /// `StorePSK`: stores an external PSK. The handle must exist, though the store is shared
    /// by all states: the harness names one, and a wrong one is its mistake to hear about.
    pub(crate) fn store_psk(
        &mut self,
        req: proto::StorePskRequest,
    ) -> Result<proto::StorePskResponse> {
        if !self.registry.contains(req.state_or_transaction_id) {
            return Err(InteropError::UnknownHandle(req.state_or_transaction_id));
        }
        self.store_psk_secret(&req.psk_id, &req.psk_secret)?;
        Ok(proto::StorePskResponse {})
    }

    /// `Free`: forgets a handle of any kind.
    pub(crate) fn free(&mut self, req: proto::FreeRequest) -> Result<proto::FreeResponse> {
        self.registry.remove(req.state_id)?;
        Ok(proto::FreeResponse {})
    }
}
