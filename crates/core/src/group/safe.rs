//! The Safe Application Interface on a group (draft-ietf-mls-extensions-10 §4): components
//! sign with our leaf's signature key and verify other members' (§4.3), encrypt to a
//! member's leaf key or the group's external key and decrypt with ours (§4.2), export one
//! forward-secure secret per component and epoch (§4.4), inject application PSKs (§4.5) and
//! send Safe AAD (§4.9). The constructions themselves are in [`crate::safe`].
//!
//! Every label is a `ComponentOperationLabel` with the base label of the group's codepoint
//! profile ([`Group::component_operation_label`]).
//!
//! §4.2, §4.3: for the operations that use a secret key — [`Group::safe_sign`],
//! [`Group::safe_decrypt`], [`Group::safe_hpke_receiver`], an authenticated
//! [`Group::safe_hpke_sender`] and [`Group::safe_export_secret`] — the component id "MUST be
//! set to the ComponentID of the component performing the operation". The group cannot
//! tell which component calls it: the application passes its calling component's own id.
//!
//! The root node's key pair is not offered (§4.2: it "SHOULD NOT be used"); the group's
//! `external_priv` / `external_pub` (RFC 9420 §8), known to every member of the current epoch,
//! is ([`SafeHpkeKey::External`]).

use conclave_crypto::hpke::{self, ReceiverContext, SenderContext};
use conclave_crypto::{CryptoRandom, Secret};

use super::{Group, GroupError};
use crate::messages::{
    ComponentId, ComponentOperationLabel, HpkeCiphertext, HpkePublicKey, LeafIndex, MlsMessage,
    PreSharedKey, PreSharedKeyId, Proposal, Psk, SafeAad,
};
use crate::safe::{self as safe_api, SafeError};

/// An HPKE key pair of the group that components may use (draft-ietf-mls-extensions-10
/// §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SafeHpkeKey {
    /// The encryption key of a member's leaf. Only the member at that leaf holds its private
    /// key, for as long as the leaf keeps that key.
    Leaf(LeafIndex),
    /// The group's `external_pub` / `external_priv` of the current epoch (RFC 9420 §8): every
    /// member holds the private key until the epoch ends; anyone with the GroupInfo can
    /// encrypt to it.
    External,
}

impl Group {
    /// The `ComponentOperationLabel` of `component_id`'s operation `label`
    /// (draft-ietf-mls-extensions-10 §4.1), with the base label of the group's codepoint
    /// profile.
    pub fn component_operation_label(
        &self,
        component_id: ComponentId,
        label: &[u8],
    ) -> ComponentOperationLabel {
        safe_api::operation_label(self.config.codepoint_profile, component_id, label)
    }

    /// `SafeSignWithLabel` with our leaf's signature key (draft-ietf-mls-extensions-10 §4.3).
    /// `component_id` must be the calling component's own.
    pub fn safe_sign(
        &self,
        component_id: ComponentId,
        label: &[u8],
        content: &[u8],
    ) -> Result<Vec<u8>, GroupError> {
        let label = self.component_operation_label(component_id, label);
        Ok(safe_api::safe_sign_with_label(
            self.cs.as_ref(),
            self.signer.secret_key.as_bytes(),
            &label,
            content,
        )?)
    }

    /// `SafeVerifyWithLabel` with the signature key of the member at `signer` in the current
    /// epoch (draft-ietf-mls-extensions-10 §4.3). Any component may verify any other's
    /// signatures. [`SafeError::InvalidSignature`] unless the member signed `content` for
    /// this component and label.
    pub fn safe_verify(
        &self,
        signer: LeafIndex,
        component_id: ComponentId,
        label: &[u8],
        content: &[u8],
        signature: &[u8],
    ) -> Result<(), GroupError> {
        let key = self
            .epoch
            .tree
            .leaf(signer)
            .map(|leaf| leaf.signature_key.clone())
            .ok_or(SafeError::NoSuchMember(signer.0))?;
        let label = self.component_operation_label(component_id, label);
        Ok(safe_api::safe_verify_with_label(
            self.cs.as_ref(),
            key.as_ref(),
            &label,
            content,
            signature,
        )?)
    }

    /// `SafeEncryptWithLabel` to `to` (draft-ietf-mls-extensions-10 §4.2): a member's leaf
    /// key or the group's `external_pub`. Any component may encrypt to any other.
    pub fn safe_encrypt(
        &self,
        to: SafeHpkeKey,
        component_id: ComponentId,
        label: &[u8],
        context: &[u8],
        plaintext: &[u8],
        rng: &mut dyn CryptoRandom,
    ) -> Result<HpkeCiphertext, GroupError> {
        let public_key = self.safe_public_key(to)?;
        let label = self.component_operation_label(component_id, label);
        Ok(safe_api::safe_encrypt_with_label(
            self.cs.as_ref(),
            public_key.as_ref(),
            &label,
            context,
            plaintext,
            rng,
        )?)
    }

    /// `SafeDecryptWithLabel` with our private key of `with` (draft-ietf-mls-extensions-10
    /// §4.2): our own leaf's ([`SafeHpkeKey::Leaf`] of [`Group::own_leaf`]) or the group's
    /// `external_priv`. `component_id` must be the calling component's own.
    pub fn safe_decrypt(
        &self,
        with: SafeHpkeKey,
        component_id: ComponentId,
        label: &[u8],
        context: &[u8],
        ciphertext: &HpkeCiphertext,
    ) -> Result<Secret, GroupError> {
        let secret_key = self.safe_secret_key(with)?;
        let label = self.component_operation_label(component_id, label);
        Ok(safe_api::safe_decrypt_with_label(
            self.cs.as_ref(),
            secret_key.as_bytes(),
            &label,
            context,
            ciphertext,
        )?)
    }

    /// An HPKE sender context to `to` in any RFC 9180 mode, with `info` the
    /// `ComponentOperationLabel` (draft-ietf-mls-extensions-10 §4.2): base, PSK (`psk`),
    /// auth (`authenticate`: with our leaf's private key as the sender key) or auth-PSK.
    /// Returns `(enc, context)`; seal or export with the context. With `authenticate`,
    /// `component_id` must be the calling component's own.
    pub fn safe_hpke_sender(
        &self,
        to: SafeHpkeKey,
        component_id: ComponentId,
        label: &[u8],
        psk: Option<hpke::Psk<'_>>,
        authenticate: bool,
        rng: &mut dyn CryptoRandom,
    ) -> Result<(Vec<u8>, SenderContext<'_>), GroupError> {
        let public_key = self.safe_public_key(to)?;
        let sender_key = if authenticate {
            Some(self.safe_secret_key(SafeHpkeKey::Leaf(self.own_leaf()))?)
        } else {
            None
        };
        let label = self.component_operation_label(component_id, label);
        Ok(safe_api::safe_hpke_sender(
            self.cs.as_ref(),
            public_key.as_ref(),
            &label,
            psk,
            sender_key.as_ref().map(Secret::as_bytes),
            rng,
        )?)
    }

    /// The recipient side of [`Group::safe_hpke_sender`] with our private key of `with`
    /// (draft-ietf-mls-extensions-10 §4.2). `sender` names the sender's key for the auth
    /// modes (`None`: base or PSK mode). `component_id` must be the calling component's own.
    pub fn safe_hpke_receiver(
        &self,
        with: SafeHpkeKey,
        enc: &[u8],
        component_id: ComponentId,
        label: &[u8],
        psk: Option<hpke::Psk<'_>>,
        sender: Option<SafeHpkeKey>,
    ) -> Result<ReceiverContext<'_>, GroupError> {
        let secret_key = self.safe_secret_key(with)?;
        let sender_key = sender.map(|s| self.safe_public_key(s)).transpose()?;
        let label = self.component_operation_label(component_id, label);
        Ok(safe_api::safe_hpke_receiver(
            self.cs.as_ref(),
            enc,
            secret_key.as_bytes(),
            &label,
            psk,
            sender_key.as_ref().map(AsRef::as_ref),
        )?)
    }

    /// The public key of `key` in the current epoch.
    fn safe_public_key(&self, key: SafeHpkeKey) -> Result<HpkePublicKey, GroupError> {
        match key {
            SafeHpkeKey::Leaf(leaf) => self
                .epoch
                .tree
                .leaf(leaf)
                .map(|l| l.encryption_key.clone())
                .ok_or_else(|| SafeError::NoSuchMember(leaf.0).into()),
            SafeHpkeKey::External => {
                let pair = self.epoch.secrets.external_key_pair(self.cs.as_ref())?;
                Ok(HpkePublicKey(pair.public_key))
            }
        }
    }

    /// Our private key of `key` in the current epoch: our own leaf's, or `external_priv`.
    fn safe_secret_key(&self, key: SafeHpkeKey) -> Result<Secret, GroupError> {
        match key {
            SafeHpkeKey::Leaf(leaf) => {
                if leaf != self.own_leaf() {
                    return Err(SafeError::NotOwnLeaf(leaf.0).into());
                }
                self.private
                    .key(leaf.node())
                    .map(|k| k.secret_key.clone())
                    .ok_or_else(|| SafeError::NotOwnLeaf(leaf.0).into())
            }
            SafeHpkeKey::External => Ok(self
                .epoch
                .secrets
                .external_key_pair(self.cs.as_ref())?
                .secret_key),
        }
    }

    /// `SafeExportSecret(component_id)` of the current epoch (draft-ietf-mls-extensions-10
    /// §4.4): `KDF.Nh` bytes from the epoch's exporter tree. `component_id` must be the
    /// calling component's own.
    ///
    /// **Once per component and epoch.** The secret is consumed as it is returned: its
    /// source key material is deleted (RFC 9420 §9.2 schedule), and a second call for the
    /// same component in the same epoch fails with [`SafeError::ExportConsumed`] — keep the
    /// returned secret for as long as the component needs it. A commit starts a new epoch
    /// with a fresh tree; exports of ended epochs are gone. The export changes the stored
    /// state: [`Group::take_changes`] is then a full rewrite (exports are rare), to be
    /// written before the secret is used, so that a reload cannot export it again.
    pub fn safe_export_secret(&mut self, component_id: ComponentId) -> Result<Secret, GroupError> {
        let tree = &self.epoch.exporter_tree;
        if !tree.is_available() {
            return Err(SafeError::ExporterUnavailable.into());
        }
        if !tree.can_export(component_id) {
            return Err(SafeError::ExportConsumed(component_id.0).into());
        }
        let cs = self.cs.as_ref();
        Ok(self.epoch.exporter_tree.export(cs, component_id)?)
    }

    /// Whether `component_id`'s exported secret of the current epoch is still to be had
    /// ([`Group::safe_export_secret`]).
    pub fn can_safe_export(&self, component_id: ComponentId) -> bool {
        self.epoch.exporter_tree.can_export(component_id)
    }

    /// A PreSharedKey proposal of the application PSK `psk_id` of `component_id`
    /// (draft-ietf-mls-extensions-10 §4.5), with a fresh nonce of `KDF.Nh` bytes
    /// (RFC 9420 §8.4). Every member must find the PSK in its
    /// [`super::PskStore::application_psk`]; send it with [`Group::propose`] or in
    /// [`super::CommitOptions::proposals`].
    pub fn application_psk_proposal(
        &self,
        component_id: ComponentId,
        psk_id: Vec<u8>,
        rng: &mut dyn CryptoRandom,
    ) -> Result<Proposal, GroupError> {
        let mut psk_nonce = vec![0u8; self.cs.hash_len()];
        rng.fill(&mut psk_nonce)?;
        Ok(Proposal::PreSharedKey(PreSharedKey {
            psk: PreSharedKeyId {
                psk: Psk::Application {
                    component_id,
                    psk_id,
                },
                psk_nonce,
            },
        }))
    }

    /// Whether this group frames every `authenticated_data` as a `SafeAAD`: its
    /// GroupContext's `app_data_dictionary` has a `safe_aad` entry
    /// (draft-ietf-mls-extensions-10 §4.9, §5).
    pub fn safe_aad_required(&self) -> Result<bool, GroupError> {
        Ok(safe_api::safe_aad_required(&self.epoch.context.extensions)?)
    }

    /// [`Group::encrypt_application_message`] with `aad` as the authenticated data
    /// (draft-ietf-mls-extensions-10 §4.9): its items must be in strictly increasing
    /// `component_id` order. An empty `aad` is the zero-length item vector.
    pub fn encrypt_application_message_with_safe_aad(
        &mut self,
        data: &[u8],
        aad: &SafeAad,
        rng: &mut dyn CryptoRandom,
    ) -> Result<MlsMessage, GroupError> {
        let authenticated_data = safe_api::encode_safe_aad(aad)?;
        self.encrypt_application_message(data, &authenticated_data, rng)
    }

    /// The `authenticated_data` to send in the current epoch (draft-ietf-mls-extensions-10
    /// §4.9, [`safe_api::outgoing_authenticated_data`]).
    pub(super) fn outgoing_authenticated_data(
        &self,
        authenticated_data: &[u8],
    ) -> Result<Vec<u8>, GroupError> {
        Ok(safe_api::outgoing_authenticated_data(
            &self.epoch.context.extensions,
            authenticated_data,
        )?)
    }
}

#[cfg(test)]
mod tests;
