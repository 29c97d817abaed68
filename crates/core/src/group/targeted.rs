//! Targeted messages on a group (draft-ietf-mls-targeted-messages): send to one other
//! member, open one sent to us, in the current epoch. The constructions are in
//! [`crate::targeted`]; the version (-01 or the -02 editor's copy) follows the group's
//! codepoint profile.
//!
//! A targeted message changes no state (-01 §8.6: "does not change any group state"), so
//! both operations take `&self`: a rejected message leaves the group as it was, and a
//! replay within the epoch opens again (applications that care put a nonce in
//! `authenticated_data`, §8.6). Only the current epoch is accepted (§7.1: past epochs are
//! OPTIONAL and weaken forward secrecy).

use conclave_crypto::CryptoRandom;

use super::{Group, GroupError};
use crate::messages::{LeafIndex, MlsMessage, MlsMessageBody, ProtocolVersion};
use crate::targeted::{
    OpenedTargetedMessage, TargetedEpoch, TargetedEpochSecrets, TargetedError, TargetedReceive,
    TargetedSend,
};

impl Group {
    fn with_targeted_epoch<T>(
        &self,
        run: impl FnOnce(&TargetedEpoch<'_>) -> Result<T, TargetedError>,
    ) -> Result<T, GroupError> {
        let cs = self.cs.as_ref();
        let secrets = TargetedEpochSecrets::derive(cs, &self.epoch.secrets.exporter_secret)?;
        let epoch = TargetedEpoch {
            version: self.config.codepoint_profile.targeted_message_version(),
            cs,
            group_id: &self.epoch.context.group_id,
            epoch: self.epoch.context.epoch,
            secrets: &secrets,
        };
        Ok(run(&epoch)?)
    }

    /// A targeted message with `data` to the member at `to`, in the current epoch
    /// (draft-ietf-mls-targeted-messages-01 §6.2, §6.3; the -02 editor's copy under the
    /// `draft` and `mls-rs` profiles). `authenticated_data` travels in clear and is
    /// authenticated; `padding` zero bytes follow the data inside the encryption (§6.1).
    pub fn encrypt_targeted_message(
        &self,
        to: LeafIndex,
        data: &[u8],
        authenticated_data: &[u8],
        padding: usize,
        rng: &mut dyn CryptoRandom,
    ) -> Result<MlsMessage, GroupError> {
        self.ensure_active()?;
        let sender = self.own_leaf();
        let recipient_key = self
            .epoch
            .tree
            .leaf(to)
            .map(|leaf| leaf.encryption_key.clone())
            .ok_or(TargetedError::NoSuchRecipient(to.0))?;
        // In a member-proof group the clear `authenticated_data` carries our proof, as an
        // application message's does (draft-mahy-mls-member-proof-00 §3), so that the DS
        // takes it into the log.
        let authenticated_data = &self.outgoing_aad(
            authenticated_data,
            crate::messages::ContentType::Application,
            rng,
        )?;
        let message = self.with_targeted_epoch(|epoch| {
            epoch.seal(
                &TargetedSend {
                    sender,
                    signature_key: &self.signer.secret_key,
                    recipient: to,
                    recipient_encryption_key: recipient_key.as_ref(),
                    authenticated_data,
                    application_data: data,
                    padding_length: padding,
                },
                rng,
            )
        })?;
        Ok(MlsMessage::new(MlsMessageBody::TargetedMessage(message)))
    }

    /// Opens a targeted message sent to us, with every recipient check of
    /// draft-ietf-mls-targeted-messages-01 §7 in order (group, current epoch, our leaf,
    /// sender auth data naming a member, signature before decryption, content, zero
    /// padding). Nothing is returned unless all passed; the group does not change.
    ///
    /// The envelope must be an `mls10` `MLSMessage` (RFC 9420 §6) of wire format
    /// `mls_targeted_message`.
    pub fn process_targeted_message(
        &self,
        message: &MlsMessage,
    ) -> Result<OpenedTargetedMessage, GroupError> {
        if message.version != ProtocolVersion::MLS10 {
            return Err(GroupError::UnsupportedVersion(message.version.0));
        }
        let MlsMessageBody::TargetedMessage(message) = &message.body else {
            return Err(GroupError::UnexpectedWireFormat(message.wire_format()));
        };
        self.ensure_active()?;
        super::member_proof::check_incoming(
            self.cs.as_ref(),
            self.config.codepoint_profile,
            &self.epoch.context,
            self.member_proof_public_key(),
            None,
            crate::messages::ContentType::Application,
            &message.authenticated_data,
        )?;
        let own_leaf = self.own_leaf();
        let own_private_key = self
            .private
            .key(own_leaf.node())
            .map(|key| key.secret_key.clone())
            .ok_or(TargetedError::NotRecipient {
                recipient: message.recipient_leaf_index.0,
                own: own_leaf.0,
            })?;
        let tree = &self.epoch.tree;
        let lookup = |leaf: LeafIndex| tree.leaf(leaf).map(|l| l.signature_key.0.clone());
        self.with_targeted_epoch(|epoch| {
            epoch.open(
                message,
                &TargetedReceive {
                    own_leaf,
                    own_private_key: &own_private_key,
                    sender_signature_key: &lookup,
                },
            )
        })
    }
}

#[cfg(test)]
mod tests;
