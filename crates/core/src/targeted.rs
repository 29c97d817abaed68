//! Targeted messages (draft-ietf-mls-targeted-messages): a one-shot message from one group
//! member to exactly one other member, HPKE-encrypted in PSK mode to the recipient's leaf
//! encryption key, with a PSK exported from the epoch, and signed with the sender's leaf
//! signature key.
//!
//! Two versions, chosen by the group's codepoint profile
//! ([`crate::codepoints::CodepointProfile::targeted_message_version`]):
//! - [`TargetedMessageVersion::Draft01`], what OpenMLS 0.9.2 implements behind its
//!   `targeted-messages-draft` feature: the HPKE `info` is `TargetedMessageContext` with an
//!   empty context and the HPKE `aad` is the serialized `TargetedMessageTBM`, which holds the
//!   `kem_output`, so the sender seals in two steps (`SetupPSKS`, then `Seal`; -01 §6.2).
//! - [`TargetedMessageVersion::Draft02`], the editor's copy after -02: the `info` carries
//!   `TargetedMessageContextData` (both leaf indices) and the `aad` is `authenticated_data`
//!   itself, so the sender uses single-shot `SealPSK` (§6.2).
//!
//! Everything else — the wire structs, the signature over `TargetedMessageTBS` with the
//! ciphertext's hash, the encrypted sender auth data keyed from a ciphertext sample (§6.3)
//! and the recipient's checks in order (§7) — is common. This module is group-free (the
//! conformance vectors give an exporter secret, a sender leaf and a recipient key);
//! `Group::encrypt_targeted_message` and `Group::process_targeted_message` call it with the
//! group's current epoch.

use conclave_codec::{CodecError, Decode, Encode};
use conclave_crypto::hpke::{self, Ephemeral, Psk};
use conclave_crypto::labels::{expand_with_label, sign_with_label, verify_with_label};
use conclave_crypto::{CipherSuiteProvider, CryptoError, CryptoRandom, Secret};

use crate::codepoints::TARGETED_MESSAGE_WIRE_FORMAT;
use crate::key_schedule::{KeyScheduleError, mls_exporter};
use crate::messages::{
    LeafIndex, ProtocolVersion, SenderAuthDataAad, TargetedContentError, TargetedMessage,
    TargetedMessageContent, TargetedMessageContextData, TargetedMessagePskId,
    TargetedMessageSenderAuthData, TargetedMessageTbm, TargetedMessageTbs,
};

/// The exporter label of both derived secrets (draft-ietf-mls-targeted-messages-01 §5,
/// §6.3, §9.4.1).
pub const TARGETED_MESSAGE_EXPORTER_LABEL: &str = "targeted message";
/// The exporter context of `targeted_message_psk` (-01 §5).
pub const TARGETED_MESSAGE_PSK_CONTEXT: &[u8] = b"psk";
/// The exporter context of `sender_auth_data_secret` (-01 §6.3).
pub const SENDER_AUTH_DATA_SECRET_CONTEXT: &[u8] = b"sender auth data secret";
/// `PSKId.label` (-01 §3).
pub const TARGETED_MESSAGE_PSK_ID_LABEL: &[u8] = b"MLS 1.0 targeted message psk";
/// The `SignWithLabel` label of `TargetedMessageTBS` (-01 §5, §9.2.1).
pub const TARGETED_MESSAGE_TBS_LABEL: &str = "TargetedMessageTBS";
/// `TargetedMessageContext.label` (-01 §6.2, §9.3.1): already prefixed, written as is.
pub const TARGETED_MESSAGE_DATA_LABEL: &[u8] = b"MLS 1.0 TargetedMessageData";

/// Which version of draft-ietf-mls-targeted-messages a group speaks. Both use wire format
/// `mls_targeted_message` (0x0006) but are not wire compatible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetedMessageVersion {
    /// draft-ietf-mls-targeted-messages-01 (OpenMLS 0.9.2).
    Draft01,
    /// The editor's copy after draft-ietf-mls-targeted-messages-02.
    Draft02,
}

/// Why a targeted message could not be sent or was rejected. Every rejection leaves the
/// group untouched (targeted messages are stateless, -01 §8.6).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TargetedError {
    /// §7 step 1: the message names another group.
    #[error("draft-ietf-mls-targeted-messages-01 §7: the targeted message is for another group")]
    WrongGroup,
    /// §7 step 2, §7.1: only the current epoch is accepted (past epochs are OPTIONAL and
    /// weaken forward secrecy; Conclave does not keep their keys for this).
    #[error(
        "draft-ietf-mls-targeted-messages-01 §7, §7.1: the targeted message is for epoch \
         {message}, the group is at epoch {current}; only the current epoch is accepted"
    )]
    WrongEpoch {
        /// The message's epoch.
        message: u64,
        /// The group's current epoch.
        current: u64,
    },
    /// §7 step 3: the message is addressed to another leaf.
    #[error(
        "draft-ietf-mls-targeted-messages-01 §7: the targeted message is for leaf {recipient}, \
         not for this member (leaf {own})"
    )]
    NotRecipient {
        /// `recipient_leaf_index`.
        recipient: u32,
        /// Our leaf.
        own: u32,
    },
    /// §6.3, §7 step 4: `encrypted_sender_auth_data` does not decrypt.
    #[error(
        "draft-ietf-mls-targeted-messages-01 §6.3, §7: the sender auth data does not decrypt \
         (wrong group, epoch, recipient or a modified message)"
    )]
    SenderAuthDataUndecryptable,
    /// §3, §7 step 4: the decrypted sender auth data is not one `TargetedMessageSenderAuthData`.
    #[error(
        "draft-ietf-mls-targeted-messages-01 §3, §7: the decrypted sender auth data is not a \
         TargetedMessageSenderAuthData: {0}"
    )]
    MalformedSenderAuthData(CodecError),
    /// §7 step 4: `sender_leaf_index` is blank or outside the tree.
    #[error("draft-ietf-mls-targeted-messages-01 §7: sender leaf {0} is blank or outside the tree")]
    UnknownSender(u32),
    /// §5, §7 step 5: the signature over `TargetedMessageTBS` does not verify.
    #[error(
        "draft-ietf-mls-targeted-messages-01 §5, §7: the sender's signature over \
         TargetedMessageTBS does not verify"
    )]
    InvalidSignature,
    /// §6.2, §7 step 6: `OpenPSK` failed.
    #[error(
        "draft-ietf-mls-targeted-messages-01 §6.2, §7: the content does not decrypt with our \
         leaf key and the epoch's targeted-message PSK"
    )]
    ContentUndecryptable,
    /// §6.1, §7 step 7: the content is malformed or its padding is not all zero.
    #[error(transparent)]
    Content(#[from] TargetedContentError),
    /// Sending: the recipient leaf is blank or outside the tree.
    #[error("draft-ietf-mls-targeted-messages-01 §6.2: leaf {0} is not a member to send to")]
    NoSuchRecipient(u32),
    /// Sending: a targeted message goes to *another* member (-01 §1).
    #[error(
        "draft-ietf-mls-targeted-messages-01 §1: a targeted message goes to another member, \
         not to the sender's own leaf"
    )]
    ToSelf,
    /// A crypto primitive failed (not a rejection of the message's content).
    #[error("targeted message crypto: {0}")]
    Crypto(#[from] CryptoError),
    /// Encoding one of the structures failed.
    #[error("targeted message encoding: {0}")]
    Codec(#[from] CodecError),
    /// The exporter failed.
    #[error("targeted message exporter: {0}")]
    Exporter(#[from] KeyScheduleError),
}

/// The two secrets a targeted message takes from its epoch's exporter (-01 §5, §6.3).
#[derive(Debug)]
pub struct TargetedEpochSecrets {
    /// `targeted_message_psk = MLS-Exporter("targeted message", "psk", KDF.Nh)`.
    pub psk: Secret,
    /// `sender_auth_data_secret = MLS-Exporter("targeted message",
    /// "sender auth data secret", KDF.Nh)`.
    pub sender_auth_data_secret: Secret,
}

impl TargetedEpochSecrets {
    /// Derives both from the epoch's `exporter_secret` (RFC 9420 §8.5).
    pub fn derive(
        cs: &dyn CipherSuiteProvider,
        exporter_secret: &Secret,
    ) -> Result<Self, TargetedError> {
        let nh = cs.hash_len();
        Ok(Self {
            psk: mls_exporter(
                cs,
                exporter_secret,
                TARGETED_MESSAGE_EXPORTER_LABEL,
                TARGETED_MESSAGE_PSK_CONTEXT,
                nh,
            )?,
            sender_auth_data_secret: mls_exporter(
                cs,
                exporter_secret,
                TARGETED_MESSAGE_EXPORTER_LABEL,
                SENDER_AUTH_DATA_SECRET_CONTEXT,
                nh,
            )?,
        })
    }
}

/// The group, epoch and secrets a targeted message is sealed or opened in.
pub struct TargetedEpoch<'a> {
    /// The version the group speaks.
    pub version: TargetedMessageVersion,
    /// The group's cipher suite.
    pub cs: &'a dyn CipherSuiteProvider,
    /// The group id.
    pub group_id: &'a [u8],
    /// The epoch.
    pub epoch: u64,
    /// The epoch's derived secrets.
    pub secrets: &'a TargetedEpochSecrets,
}

/// What the sender puts in a targeted message.
#[derive(Debug)]
pub struct TargetedSend<'a> {
    /// Our leaf.
    pub sender: LeafIndex,
    /// Our leaf's signature private key.
    pub signature_key: &'a Secret,
    /// The recipient's leaf.
    pub recipient: LeafIndex,
    /// The recipient leaf's HPKE encryption key in the epoch.
    pub recipient_encryption_key: &'a [u8],
    /// `authenticated_data` (sent in clear, authenticated).
    pub authenticated_data: &'a [u8],
    /// `application_data`.
    pub application_data: &'a [u8],
    /// How many zero bytes of padding follow the application data (-01 §6.1).
    pub padding_length: usize,
}

/// What the recipient holds to open a targeted message.
pub struct TargetedReceive<'a> {
    /// Our leaf.
    pub own_leaf: LeafIndex,
    /// Our leaf's HPKE private key in the epoch.
    pub own_private_key: &'a Secret,
    /// The signature key of the (non-blank) leaf at an index in the epoch's tree, `None` for
    /// a blank leaf or an index outside the tree.
    pub sender_signature_key: &'a dyn Fn(LeafIndex) -> Option<Vec<u8>>,
}

impl core::fmt::Debug for TargetedReceive<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TargetedReceive")
            .field("own_leaf", &self.own_leaf)
            .finish_non_exhaustive()
    }
}

/// A targeted message that passed every check of -01 §7.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedTargetedMessage {
    /// The authenticated sender.
    pub sender: LeafIndex,
    /// `authenticated_data`.
    pub authenticated_data: Vec<u8>,
    /// The decrypted content.
    pub content: TargetedMessageContent,
}

impl core::fmt::Debug for TargetedEpoch<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TargetedEpoch")
            .field("version", &self.version)
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

impl TargetedEpoch<'_> {
    fn psk_id(&self) -> Result<Vec<u8>, TargetedError> {
        Ok(TargetedMessagePskId {
            group_id: self.group_id.to_vec(),
            epoch: self.epoch,
            label: TARGETED_MESSAGE_PSK_ID_LABEL.to_vec(),
        }
        .to_bytes()?)
    }

    /// The serialized `TargetedMessageContext`, the HPKE `info` (-01 §6.2: label and an
    /// empty opaque context; -02 §6.2: label and a `TargetedMessageContextData`).
    fn hpke_info(&self, recipient: LeafIndex, sender: LeafIndex) -> Result<Vec<u8>, TargetedError> {
        let mut info = Vec::new();
        conclave_codec::write_opaque(&mut info, TARGETED_MESSAGE_DATA_LABEL)?;
        match self.version {
            TargetedMessageVersion::Draft01 => conclave_codec::write_opaque(&mut info, &[])?,
            TargetedMessageVersion::Draft02 => TargetedMessageContextData {
                recipient_leaf_index: recipient,
                sender_leaf_index: sender,
            }
            .encode(&mut info)?,
        }
        Ok(info)
    }

    /// The HPKE `aad` of the content (-01 §6.2: the serialized `TargetedMessageTBM`;
    /// -02 §5.1, §6.2: `authenticated_data` itself).
    fn hpke_aad(
        &self,
        recipient: LeafIndex,
        authenticated_data: &[u8],
        sender: LeafIndex,
        kem_output: &[u8],
    ) -> Result<Vec<u8>, TargetedError> {
        Ok(match self.version {
            TargetedMessageVersion::Draft01 => TargetedMessageTbm {
                group_id: self.group_id.to_vec(),
                epoch: self.epoch,
                recipient_leaf_index: recipient,
                authenticated_data: authenticated_data.to_vec(),
                sender_leaf_index: sender,
                kem_output: kem_output.to_vec(),
            }
            .to_bytes()?,
            TargetedMessageVersion::Draft02 => authenticated_data.to_vec(),
        })
    }

    /// `TargetedMessageTBS` (-01 §5), with `ciphertext_hash = Hash(ciphertext)`.
    fn tbs(
        &self,
        recipient: LeafIndex,
        authenticated_data: &[u8],
        sender: LeafIndex,
        kem_output: &[u8],
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, TargetedError> {
        Ok(TargetedMessageTbs {
            version: ProtocolVersion::MLS10,
            wire_format: TARGETED_MESSAGE_WIRE_FORMAT,
            group_id: self.group_id.to_vec(),
            epoch: self.epoch,
            recipient_leaf_index: recipient,
            authenticated_data: authenticated_data.to_vec(),
            sender_leaf_index: sender,
            kem_output: kem_output.to_vec(),
            ciphertext_hash: self.cs.hash(ciphertext),
        }
        .to_bytes()?)
    }

    /// `sender_auth_data_key` and `sender_auth_data_nonce` (-01 §6.3): `ExpandWithLabel` of
    /// the secret over the first `KDF.Nh` bytes of the ciphertext (all of it if shorter).
    fn sender_auth_data_key_nonce(
        &self,
        ciphertext: &[u8],
    ) -> Result<(Secret, Secret), TargetedError> {
        let sample = ciphertext.get(..self.cs.hash_len()).unwrap_or(ciphertext);
        let secret = self.secrets.sender_auth_data_secret.as_bytes();
        let key = expand_with_label(self.cs, secret, "key", sample, self.cs.aead_key_len())?;
        let nonce = expand_with_label(self.cs, secret, "nonce", sample, self.cs.aead_nonce_len())?;
        Ok((key, nonce))
    }

    fn sender_auth_data_aad(&self, recipient: LeafIndex) -> Result<Vec<u8>, TargetedError> {
        Ok(SenderAuthDataAad {
            group_id: self.group_id.to_vec(),
            epoch: self.epoch,
            recipient_leaf_index: recipient,
        }
        .to_bytes()?)
    }

    /// Seals a targeted message in the sender's order (-01 §6.2; -02 §6.2): derive the PSK,
    /// encrypt the content with HPKE PSK mode, hash the ciphertext and sign the TBS, then
    /// encrypt the sender auth data keyed from a sample of the ciphertext (§6.3).
    pub fn seal(
        &self,
        send: &TargetedSend<'_>,
        rng: &mut dyn CryptoRandom,
    ) -> Result<TargetedMessage, TargetedError> {
        if send.sender == send.recipient {
            return Err(TargetedError::ToSelf);
        }
        let plaintext = TargetedMessageContent {
            application_data: send.application_data.to_vec(),
            padding_length: send.padding_length,
        }
        .to_bytes()?;
        self.seal_plaintext(send, &plaintext, rng)
    }

    /// [`TargetedEpoch::seal`] of an already serialized `TargetedMessageContent` (tests forge
    /// malformed contents with it).
    fn seal_plaintext(
        &self,
        send: &TargetedSend<'_>,
        plaintext: &[u8],
        rng: &mut dyn CryptoRandom,
    ) -> Result<TargetedMessage, TargetedError> {
        let psk_id = self.psk_id()?;
        let psk = Psk {
            psk: self.secrets.psk.as_bytes(),
            psk_id: &psk_id,
        };
        let info = self.hpke_info(send.recipient, send.sender)?;
        let (kem_output, ciphertext) = match self.version {
            TargetedMessageVersion::Draft01 => {
                // -01 §6.2: the aad holds kem_output, so SetupPSKS first, then Seal.
                let (kem_output, mut context) = hpke::setup_sender(
                    self.cs,
                    send.recipient_encryption_key,
                    &info,
                    Some(psk),
                    None,
                    Ephemeral::Random(rng),
                )?;
                let aad = self.hpke_aad(
                    send.recipient,
                    send.authenticated_data,
                    send.sender,
                    &kem_output,
                )?;
                let ciphertext = context.seal(&aad, plaintext)?;
                (kem_output, ciphertext)
            }
            TargetedMessageVersion::Draft02 => hpke::seal(
                self.cs,
                send.recipient_encryption_key,
                &info,
                send.authenticated_data,
                plaintext,
                Some(psk),
                Ephemeral::Random(rng),
            )?,
        };
        let tbs = self.tbs(
            send.recipient,
            send.authenticated_data,
            send.sender,
            &kem_output,
            &ciphertext,
        )?;
        let signature = sign_with_label(
            self.cs,
            send.signature_key.as_bytes(),
            TARGETED_MESSAGE_TBS_LABEL,
            &tbs,
        )?;
        let sender_auth_data = TargetedMessageSenderAuthData {
            sender_leaf_index: send.sender,
            signature,
            kem_output,
        }
        .to_bytes()?;
        let (key, nonce) = self.sender_auth_data_key_nonce(&ciphertext)?;
        let encrypted_sender_auth_data = self.cs.aead_seal(
            key.as_bytes(),
            nonce.as_bytes(),
            &self.sender_auth_data_aad(send.recipient)?,
            &sender_auth_data,
        )?;
        Ok(TargetedMessage {
            group_id: self.group_id.to_vec(),
            epoch: self.epoch,
            recipient_leaf_index: send.recipient,
            authenticated_data: send.authenticated_data.to_vec(),
            encrypted_sender_auth_data,
            ciphertext,
        })
    }

    /// Opens a targeted message with the recipient's checks of -01 §7, in order: group and
    /// epoch, recipient leaf, sender auth data (sender a non-blank leaf), the signature
    /// *before* any decryption of the content, `OpenPSK`, zero padding. Nothing is returned
    /// unless every step passed.
    pub fn open(
        &self,
        message: &TargetedMessage,
        receive: &TargetedReceive<'_>,
    ) -> Result<OpenedTargetedMessage, TargetedError> {
        // §7 steps 1-2.
        if message.group_id != self.group_id {
            return Err(TargetedError::WrongGroup);
        }
        if message.epoch != self.epoch {
            return Err(TargetedError::WrongEpoch {
                message: message.epoch,
                current: self.epoch,
            });
        }
        // §7 step 3.
        if message.recipient_leaf_index != receive.own_leaf {
            return Err(TargetedError::NotRecipient {
                recipient: message.recipient_leaf_index.0,
                own: receive.own_leaf.0,
            });
        }
        // §7 step 4, §6.3.
        let (key, nonce) = self.sender_auth_data_key_nonce(&message.ciphertext)?;
        let sender_auth_data = self
            .cs
            .aead_open(
                key.as_bytes(),
                nonce.as_bytes(),
                &self.sender_auth_data_aad(message.recipient_leaf_index)?,
                &message.encrypted_sender_auth_data,
            )
            .map_err(|_| TargetedError::SenderAuthDataUndecryptable)?;
        let sender_auth_data =
            TargetedMessageSenderAuthData::from_bytes(sender_auth_data.as_bytes())
                .map_err(TargetedError::MalformedSenderAuthData)?;
        let sender = sender_auth_data.sender_leaf_index;
        let signature_key =
            (receive.sender_signature_key)(sender).ok_or(TargetedError::UnknownSender(sender.0))?;
        // §7 step 5, §5: the signature over the TBS with the hash of the wire ciphertext,
        // before decrypting (§7: "MUST be verified before ciphertext is decrypted").
        let tbs = self.tbs(
            message.recipient_leaf_index,
            &message.authenticated_data,
            sender,
            &sender_auth_data.kem_output,
            &message.ciphertext,
        )?;
        verify_with_label(
            self.cs,
            &signature_key,
            TARGETED_MESSAGE_TBS_LABEL,
            &tbs,
            &sender_auth_data.signature,
        )
        .map_err(|_| TargetedError::InvalidSignature)?;
        // §7 step 6, §6.2.
        let psk_id = self.psk_id()?;
        let psk = Psk {
            psk: self.secrets.psk.as_bytes(),
            psk_id: &psk_id,
        };
        let info = self.hpke_info(message.recipient_leaf_index, sender)?;
        let aad = self.hpke_aad(
            message.recipient_leaf_index,
            &message.authenticated_data,
            sender,
            &sender_auth_data.kem_output,
        )?;
        let plaintext = hpke::open_psk(
            self.cs,
            &sender_auth_data.kem_output,
            receive.own_private_key.as_bytes(),
            &info,
            &aad,
            &message.ciphertext,
            psk,
        )
        .map_err(|_| TargetedError::ContentUndecryptable)?;
        // §7 step 7, §6.1.
        let content = TargetedMessageContent::parse(plaintext.as_bytes())?;
        Ok(OpenedTargetedMessage {
            sender,
            authenticated_data: message.authenticated_data.clone(),
            content,
        })
    }
}

#[cfg(test)]
mod tests;
