//! Joining a group: `GroupInfo` (RFC 9420 §12.4.3) and `Welcome` with its group secrets
//! (§12.4.3.1).

use conclave_codec::{CodecError, Decode, Encode};
use conclave_crypto::CipherSuite;

use super::{Extension, GroupContext, HpkeCiphertext, KeyPackageRef, LeafIndex, PreSharedKeyId};

/// `GroupInfo` (RFC 9420 §12.4.3).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct GroupInfo {
    /// The group context of the new epoch.
    pub group_context: GroupContext,
    /// `Extension extensions<V>` (GroupInfo extensions, e.g. `ratchet_tree`, `external_pub`).
    pub extensions: Vec<Extension>,
    /// `MAC confirmation_tag` of the epoch.
    pub confirmation_tag: Vec<u8>,
    /// `uint32 signer`: leaf index of the signing member.
    pub signer: LeafIndex,
    /// `SignWithLabel(., "GroupInfoTBS", GroupInfoTBS)`.
    pub signature: Vec<u8>,
}

impl GroupInfo {
    /// Encodes `GroupInfoTBS` (RFC 9420 §12.4.3): every field but the signature.
    pub fn to_be_signed(&self) -> Result<Vec<u8>, CodecError> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_to_be_signed(&mut out)?;
        Ok(out)
    }

    /// `SignContent` over `GroupInfoTBS` (RFC 9420 §5.1.2, §12.4.3) with `label`, in one
    /// buffer: what `SignWithLabel` signs and `VerifyWithLabel` verifies. With the ratchet
    /// tree inside (megabytes at 10 000 members) this saves the separate `GroupInfoTBS`
    /// buffer that [`GroupInfo::to_be_signed`] followed by a label prefix would hold at
    /// the same time.
    pub fn sign_content(&self, label: &str) -> Result<Vec<u8>, conclave_crypto::CryptoError> {
        let tbs_len = self.encoded_len() - self.signature.encoded_len();
        let mut out = conclave_crypto::labels::sign_content_header(label, tbs_len)?;
        self.encode_to_be_signed(&mut out)
            .map_err(|e| conclave_crypto::CryptoError::Encoding(e.to_string()))?;
        Ok(out)
    }

    fn encode_to_be_signed(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        let Self {
            group_context,
            extensions,
            confirmation_tag,
            signer,
            signature: _,
        } = self;
        group_context.encode(out)?;
        extensions.encode(out)?;
        confirmation_tag.encode(out)?;
        signer.encode(out)
    }
}

/// `PathSecret` (RFC 9420 §12.4.3.1): `opaque path_secret<V>`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct PathSecret {
    /// The path secret for the lowest common ancestor of the joiner and the committer.
    pub path_secret: Vec<u8>,
}

/// `GroupSecrets` (RFC 9420 §12.4.3.1): what a Welcome encrypts to each new member.
///
/// Holds secrets; callers should drop the decoded value promptly or move the secrets into
/// zeroizing storage.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct GroupSecrets {
    /// `opaque joiner_secret<V>`.
    pub joiner_secret: Vec<u8>,
    /// `optional<PathSecret> path_secret`.
    pub path_secret: Option<PathSecret>,
    /// `PreSharedKeyID psks<V>`.
    pub psks: Vec<PreSharedKeyId>,
}

/// `EncryptedGroupSecrets` (RFC 9420 §12.4.3.1).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct EncryptedGroupSecrets {
    /// `KeyPackageRef new_member`.
    pub new_member: KeyPackageRef,
    /// `HPKECiphertext encrypted_group_secrets`.
    pub encrypted_group_secrets: HpkeCiphertext,
}

/// `Welcome` (RFC 9420 §12.4.3.1).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Welcome {
    /// `CipherSuite cipher_suite`.
    pub cipher_suite: CipherSuite,
    /// `EncryptedGroupSecrets secrets<V>`.
    pub secrets: Vec<EncryptedGroupSecrets>,
    /// `opaque encrypted_group_info<V>`.
    pub encrypted_group_info: Vec<u8>,
}
