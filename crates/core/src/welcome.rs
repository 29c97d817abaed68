//! Processing a Welcome message (RFC 9420 §12.4.3.1), as the primitives the group state
//! machine composes:
//!
//! 1. [`find_group_secrets`]: the `EncryptedGroupSecrets` addressed to our KeyPackage (by
//!    [`key_package_ref`]), checking the Welcome's cipher suite against the KeyPackage's;
//! 2. [`decrypt_group_secrets`]: `DecryptWithLabel(init_key_priv, "Welcome",
//!    encrypted_group_info, kem_output, ciphertext)`, then [`check_psk_ids`];
//! 3. [`joiner_key_schedule`] from the `joiner_secret` and the PSK secret (which the caller
//!    computes from the PSKs it holds, `crate::psk::psk_secret`);
//! 4. [`decrypt_group_info`] with the `welcome_key` / `welcome_nonce`;
//! 5. [`verify_group_info_signature`] with the signer's key (the caller looks up the leaf
//!    `GroupInfo.signer` in the ratchet tree), and [`check_group_info_cipher_suite`];
//! 6. [`joiner_epoch_secrets`]: the epoch secrets from the GroupContext, verifying the
//!    `confirmation_tag` (RFC 9420 §6.1).
//!
//! Tree validation, the `group_id` uniqueness check and building the group state are the
//! state machine's job.

use conclave_codec::{CodecError, Decode, Encode};
use conclave_crypto::labels::{decrypt_with_label, make_key_package_ref};
use conclave_crypto::{CipherSuite, CipherSuiteProvider, CryptoError, Secret};

use crate::key_schedule::{EpochSecrets, KeySchedule, KeyScheduleError};
use crate::messages::{
    EncryptedGroupSecrets, GroupInfo, GroupSecrets, KeyPackage, KeyPackageRef, PreSharedKeyId, Psk,
    ResumptionPskUsage, SignaturePublicKey, Welcome,
};
use crate::transcript::verify_confirmation_tag;

/// The `EncryptWithLabel` label of `encrypted_group_secrets` (RFC 9420 §12.4.3.1).
pub const WELCOME_LABEL: &str = "Welcome";
/// The `SignWithLabel` label of a GroupInfo signature (RFC 9420 §12.4.3).
pub const GROUP_INFO_TBS_LABEL: &str = "GroupInfoTBS";

/// Why a Welcome could not be processed. Each message names the RFC 9420 rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WelcomeError {
    /// No `EncryptedGroupSecrets` entry is addressed to our KeyPackage.
    #[error("RFC 9420 §12.4.3.1: no entry of Welcome.secrets is for our KeyPackage")]
    NotForUs,
    /// The Welcome's cipher suite is not our KeyPackage's.
    #[error(
        "RFC 9420 §12.4.3.1: Welcome cipher suite {welcome:?} is not the KeyPackage's {key_package:?}"
    )]
    CipherSuiteMismatch {
        /// `Welcome.cipher_suite`.
        welcome: CipherSuite,
        /// `KeyPackage.cipher_suite`.
        key_package: CipherSuite,
    },
    /// The GroupInfo's cipher suite is not our KeyPackage's.
    #[error(
        "RFC 9420 §12.4.3.1: GroupInfo cipher suite {group_info:?} is not the KeyPackage's {key_package:?}"
    )]
    GroupInfoCipherSuiteMismatch {
        /// `GroupInfo.group_context.cipher_suite`.
        group_info: CipherSuite,
        /// `KeyPackage.cipher_suite`.
        key_package: CipherSuite,
    },
    /// `encrypted_group_secrets` does not decrypt with our `init_key`.
    #[error("RFC 9420 §12.4.3.1: encrypted_group_secrets does not decrypt: {0}")]
    GroupSecretsDecryption(CryptoError),
    /// The decrypted `GroupSecrets` does not decode.
    #[error("RFC 9420 §12.4.3.1: malformed GroupSecrets: {0}")]
    MalformedGroupSecrets(CodecError),
    /// More than one resumption PSK with usage `reinit` or `branch`.
    #[error("RFC 9420 §12.4.3.1: more than one resumption PSK with usage reinit or branch")]
    MultipleReinitOrBranchPsks,
    /// The GroupSecrets name PSKs but no PSK secret was supplied.
    #[error("RFC 9420 §12.4.3.1: the Welcome requires PSKs that were not supplied")]
    PskSecretMissing,
    /// The key schedule rejected the joiner or PSK secret.
    #[error("RFC 9420 §8: {0}")]
    KeySchedule(#[from] KeyScheduleError),
    /// `encrypted_group_info` does not decrypt with the welcome key and nonce.
    #[error("RFC 9420 §12.4.3.1: encrypted_group_info does not decrypt")]
    GroupInfoDecryption,
    /// The decrypted `GroupInfo` does not decode.
    #[error("RFC 9420 §12.4.3.1: malformed GroupInfo: {0}")]
    MalformedGroupInfo(CodecError),
    /// The GroupInfo signature does not verify under the signer's key.
    #[error("RFC 9420 §12.4.3.1: the GroupInfo signature does not verify")]
    GroupInfoSignature,
    /// The GroupInfo's `confirmation_tag` is not the MAC of the confirmed transcript hash.
    #[error("RFC 9420 §12.4.3.1, §6.1: the GroupInfo confirmation_tag does not verify")]
    ConfirmationTag,
    /// Encoding a structure failed.
    #[error("encoding failed: {0}")]
    Encoding(CodecError),
    /// A cryptographic operation other than the above failed.
    #[error("crypto error: {0}")]
    Crypto(CryptoError),
}

/// The decrypted `GroupSecrets` (RFC 9420 §12.4.3.1) with the secrets zeroized on drop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinerSecrets {
    /// `joiner_secret`.
    pub joiner_secret: Secret,
    /// `path_secret`, if the committer sent one.
    pub path_secret: Option<Secret>,
    /// The PSKs to inject into the key schedule, in order.
    pub psks: Vec<PreSharedKeyId>,
}

/// `KeyPackageRef = MakeKeyPackageRef(KeyPackage)` (RFC 9420 §5.2).
pub fn key_package_ref(
    cs: &dyn CipherSuiteProvider,
    key_package: &KeyPackage,
) -> Result<KeyPackageRef, WelcomeError> {
    let encoded = key_package.to_bytes().map_err(WelcomeError::Encoding)?;
    make_key_package_ref(cs, &encoded)
        .map(KeyPackageRef)
        .map_err(WelcomeError::Crypto)
}

/// The entry of `welcome.secrets` whose `new_member` is our KeyPackageRef, after checking
/// that the Welcome's cipher suite is the KeyPackage's (RFC 9420 §12.4.3.1, first step).
/// `cs` must be the KeyPackage's suite (it computes the reference).
pub fn find_group_secrets<'w>(
    cs: &dyn CipherSuiteProvider,
    welcome: &'w Welcome,
    key_package: &KeyPackage,
) -> Result<&'w EncryptedGroupSecrets, WelcomeError> {
    if welcome.cipher_suite != key_package.cipher_suite {
        return Err(WelcomeError::CipherSuiteMismatch {
            welcome: welcome.cipher_suite,
            key_package: key_package.cipher_suite,
        });
    }
    let our_ref = key_package_ref(cs, key_package)?;
    welcome
        .secrets
        .iter()
        .find(|s| s.new_member == our_ref)
        .ok_or(WelcomeError::NotForUs)
}

/// `GroupSecrets = DecryptWithLabel(init_key_priv, "Welcome", encrypted_group_info,
/// kem_output, ciphertext)` (RFC 9420 §12.4.3.1), decoded.
pub fn decrypt_group_secrets(
    cs: &dyn CipherSuiteProvider,
    welcome: &Welcome,
    secrets: &EncryptedGroupSecrets,
    init_private_key: &[u8],
) -> Result<JoinerSecrets, WelcomeError> {
    let plaintext = decrypt_with_label(
        cs,
        init_private_key,
        WELCOME_LABEL,
        &welcome.encrypted_group_info,
        &secrets.encrypted_group_secrets.kem_output,
        &secrets.encrypted_group_secrets.ciphertext,
    )
    .map_err(WelcomeError::GroupSecretsDecryption)?;
    let GroupSecrets {
        joiner_secret,
        path_secret,
        psks,
    } = GroupSecrets::from_bytes(plaintext.as_bytes())
        .map_err(WelcomeError::MalformedGroupSecrets)?;
    Ok(JoinerSecrets {
        joiner_secret: Secret::new(joiner_secret),
        path_secret: path_secret.map(|p| Secret::new(p.path_secret)),
        psks,
    })
}

/// Checks that at most one PSK is a resumption PSK with usage `reinit` or `branch`
/// (RFC 9420 §12.4.3.1). Whether we hold each PSK is the caller's check.
pub fn check_psk_ids(psks: &[PreSharedKeyId]) -> Result<(), WelcomeError> {
    let special = psks
        .iter()
        .filter(|id| {
            matches!(
                id.psk,
                Psk::Resumption {
                    usage: ResumptionPskUsage::Reinit | ResumptionPskUsage::Branch,
                    ..
                }
            )
        })
        .count();
    if special > 1 {
        Err(WelcomeError::MultipleReinitOrBranchPsks)
    } else {
        Ok(())
    }
}

/// The joiner's key schedule from `joiner_secret` and the PSK secret (`None`: no PSKs)
/// (RFC 9420 §8, §12.4.3.1).
pub fn joiner_key_schedule(
    cs: &dyn CipherSuiteProvider,
    secrets: &JoinerSecrets,
    psk_secret: Option<&[u8]>,
) -> Result<KeySchedule, WelcomeError> {
    Ok(KeySchedule::from_joiner(
        cs,
        secrets.joiner_secret.clone(),
        psk_secret,
    )?)
}

/// Decrypts `encrypted_group_info` with `welcome_key` and `welcome_nonce` (empty AAD) and
/// decodes the `GroupInfo` (RFC 9420 §12.4.3.1).
pub fn decrypt_group_info(
    cs: &dyn CipherSuiteProvider,
    welcome: &Welcome,
    key_schedule: &KeySchedule,
) -> Result<GroupInfo, WelcomeError> {
    let (key, nonce) = key_schedule.welcome_key_nonce(cs)?;
    let plaintext = cs
        .aead_open(
            key.as_bytes(),
            nonce.as_bytes(),
            &[],
            &welcome.encrypted_group_info,
        )
        .map_err(|_| WelcomeError::GroupInfoDecryption)?;
    GroupInfo::from_bytes(plaintext.as_bytes()).map_err(WelcomeError::MalformedGroupInfo)
}

/// Verifies `GroupInfo.signature = SignWithLabel(., "GroupInfoTBS", GroupInfoTBS)` under
/// the key of the leaf `GroupInfo.signer`, which the caller supplies (RFC 9420 §12.4.3,
/// §12.4.3.1).
pub fn verify_group_info_signature(
    cs: &dyn CipherSuiteProvider,
    group_info: &GroupInfo,
    signer_key: &SignaturePublicKey,
) -> Result<(), WelcomeError> {
    // Encoding fails only for a content past the codec's limits, which no decoded
    // GroupInfo has: a GroupInfo that cannot be signed over cannot carry a valid signature.
    let content = group_info
        .sign_content(GROUP_INFO_TBS_LABEL)
        .map_err(|_| WelcomeError::GroupInfoSignature)?;
    cs.verify(signer_key.as_ref(), &content, &group_info.signature)
        .map_err(|_| WelcomeError::GroupInfoSignature)
}

/// Checks that the GroupInfo's cipher suite is the KeyPackage's (RFC 9420 §12.4.3.1).
pub fn check_group_info_cipher_suite(
    group_info: &GroupInfo,
    key_package: &KeyPackage,
) -> Result<(), WelcomeError> {
    let group_info_suite = group_info.group_context.cipher_suite;
    if group_info_suite == key_package.cipher_suite {
        Ok(())
    } else {
        Err(WelcomeError::GroupInfoCipherSuiteMismatch {
            group_info: group_info_suite,
            key_package: key_package.cipher_suite,
        })
    }
}

/// Finishes the joiner's key schedule with the GroupInfo's GroupContext and verifies the
/// `confirmation_tag` against `MAC(confirmation_key, confirmed_transcript_hash)`
/// (RFC 9420 §12.4.3.1, §6.1, §8). Returns the epoch's secrets.
pub fn joiner_epoch_secrets(
    cs: &dyn CipherSuiteProvider,
    key_schedule: KeySchedule,
    group_info: &GroupInfo,
) -> Result<EpochSecrets, WelcomeError> {
    let context = group_info
        .group_context
        .to_bytes()
        .map_err(WelcomeError::Encoding)?;
    let epoch = key_schedule.epoch_secrets(cs, &context)?;
    if verify_confirmation_tag(
        cs,
        epoch.confirmation_key.as_bytes(),
        &group_info.group_context.confirmed_transcript_hash,
        &group_info.confirmation_tag,
    ) {
        Ok(epoch)
    } else {
        Err(WelcomeError::ConfirmationTag)
    }
}

/// A Welcome opened up to the point where the signer's key is needed: the result of
/// [`open_welcome`].
#[derive(Debug, Clone)]
pub struct OpenedWelcome {
    /// The decrypted `GroupSecrets`.
    pub secrets: JoinerSecrets,
    /// The decrypted, not yet verified `GroupInfo`.
    pub group_info: GroupInfo,
    /// The joiner's key schedule, to finish with [`joiner_epoch_secrets`].
    pub key_schedule: KeySchedule,
}

/// Steps 1–4 of RFC 9420 §12.4.3.1 in one call, for a Welcome whose PSKs the caller has
/// resolved into `psk_secret` up front (`None`: the Welcome must carry no PSKs, else
/// [`WelcomeError::PskSecretMissing`]; a caller that learns the PSK ids from the
/// GroupSecrets uses the individual steps). Also checks the GroupInfo's cipher suite.
pub fn open_welcome(
    cs: &dyn CipherSuiteProvider,
    welcome: &Welcome,
    key_package: &KeyPackage,
    init_private_key: &[u8],
    psk_secret: Option<&[u8]>,
) -> Result<OpenedWelcome, WelcomeError> {
    let entry = find_group_secrets(cs, welcome, key_package)?;
    let secrets = decrypt_group_secrets(cs, welcome, entry, init_private_key)?;
    check_psk_ids(&secrets.psks)?;
    if psk_secret.is_none() && !secrets.psks.is_empty() {
        return Err(WelcomeError::PskSecretMissing);
    }
    let key_schedule = joiner_key_schedule(cs, &secrets, psk_secret)?;
    let group_info = decrypt_group_info(cs, welcome, &key_schedule)?;
    check_group_info_cipher_suite(&group_info, key_package)?;
    Ok(OpenedWelcome {
        secrets,
        group_info,
        key_schedule,
    })
}

#[cfg(test)]
mod tests {
    use conclave_crypto::labels::{derive_key_pair, encrypt_with_label, sign_with_label};
    use conclave_crypto::{CryptoProvider, SeededRng};
    use conclave_crypto_rustcrypto::RustCryptoProvider;

    use super::*;
    use crate::messages::{
        Capabilities, Credential, GroupContext, HpkeCiphertext, HpkePublicKey, LeafIndex, LeafNode,
        LeafNodeSource, Lifetime, PathSecret, ProtocolVersion,
    };
    use crate::transcript::confirmation_tag;

    const SUITE: CipherSuite = CipherSuite(1);

    fn cs() -> Box<dyn CipherSuiteProvider> {
        RustCryptoProvider.cipher_suite_provider(SUITE).unwrap()
    }

    fn key_package(cs: &dyn CipherSuiteProvider, seed: u8) -> (KeyPackage, Secret) {
        let init = derive_key_pair(cs, &[seed; 32]).unwrap();
        let kp = KeyPackage {
            version: ProtocolVersion::MLS10,
            cipher_suite: SUITE,
            init_key: HpkePublicKey(init.public_key),
            leaf_node: Box::new(LeafNode {
                encryption_key: HpkePublicKey(vec![seed; 32]),
                signature_key: SignaturePublicKey(vec![seed; 32]),
                credential: Credential::Basic {
                    identity: vec![seed],
                },
                capabilities: Capabilities::default(),
                leaf_node_source: LeafNodeSource::KeyPackage(Lifetime {
                    not_before: 0,
                    not_after: u64::MAX,
                }),
                extensions: vec![],
                signature: vec![],
            }),
            extensions: vec![],
            signature: vec![],
        };
        (kp, init.secret_key)
    }

    struct Built {
        welcome: Welcome,
        signer_key: SignaturePublicKey,
        key_package: KeyPackage,
        init_priv: Secret,
    }

    /// A committer's side of RFC 9420 §12.4.3.1, built from the primitives.
    fn build(psks: Vec<PreSharedKeyId>, tamper_tag: bool) -> Built {
        let cs = cs();
        let cs = cs.as_ref();
        let (key_package, init_priv) = key_package(cs, 1);
        let (signer_secret, signer_public) = cs.signature_generate(&mut SeededRng::new(9)).unwrap();
        let joiner = Secret::new(vec![7; 32]);
        let schedule = KeySchedule::from_joiner(cs, joiner.clone(), None).unwrap();
        let group_context = GroupContext {
            version: ProtocolVersion::MLS10,
            cipher_suite: SUITE,
            group_id: b"group".to_vec(),
            epoch: 4,
            tree_hash: vec![1; 32],
            confirmed_transcript_hash: vec![2; 32],
            extensions: vec![],
        };
        let epoch = schedule
            .clone()
            .epoch_secrets(cs, &group_context.to_bytes().unwrap())
            .unwrap();
        let mut tag = confirmation_tag(
            cs,
            epoch.confirmation_key.as_bytes(),
            &group_context.confirmed_transcript_hash,
        );
        if tamper_tag {
            tag[0] ^= 1;
        }
        let mut group_info = GroupInfo {
            group_context,
            extensions: vec![],
            confirmation_tag: tag,
            signer: LeafIndex(0),
            signature: vec![],
        };
        group_info.signature = sign_with_label(
            cs,
            signer_secret.as_bytes(),
            GROUP_INFO_TBS_LABEL,
            &group_info.to_be_signed().unwrap(),
        )
        .unwrap();
        let (key, nonce) = schedule.welcome_key_nonce(cs).unwrap();
        let encrypted_group_info = cs
            .aead_seal(
                key.as_bytes(),
                nonce.as_bytes(),
                &[],
                &group_info.to_bytes().unwrap(),
            )
            .unwrap();
        let group_secrets = GroupSecrets {
            joiner_secret: joiner.as_bytes().to_vec(),
            path_secret: Some(PathSecret {
                path_secret: vec![3; 32],
            }),
            psks,
        };
        let ct = encrypt_with_label(
            cs,
            &key_package.init_key.0,
            WELCOME_LABEL,
            &encrypted_group_info,
            &group_secrets.to_bytes().unwrap(),
            &mut SeededRng::new(5),
        )
        .unwrap();
        let (other_kp, _) = self::key_package(cs, 2);
        let decoy = EncryptedGroupSecrets {
            new_member: key_package_ref(cs, &other_kp).unwrap(),
            encrypted_group_secrets: HpkeCiphertext {
                kem_output: vec![0; 32],
                ciphertext: vec![0; 48],
            },
        };
        let welcome = Welcome {
            cipher_suite: SUITE,
            secrets: vec![
                decoy,
                EncryptedGroupSecrets {
                    new_member: key_package_ref(cs, &key_package).unwrap(),
                    encrypted_group_secrets: HpkeCiphertext {
                        kem_output: ct.kem_output,
                        ciphertext: ct.ciphertext,
                    },
                },
            ],
            encrypted_group_info,
        };
        Built {
            welcome,
            signer_key: SignaturePublicKey(signer_public),
            key_package,
            init_priv,
        }
    }

    #[test]
    fn round_trip() {
        let cs = cs();
        let cs = cs.as_ref();
        let b = build(vec![], false);
        let opened =
            open_welcome(cs, &b.welcome, &b.key_package, b.init_priv.as_bytes(), None).unwrap();
        assert_eq!(opened.secrets.joiner_secret.as_bytes(), &[7; 32]);
        assert_eq!(
            opened.secrets.path_secret.as_ref().map(Secret::as_bytes),
            Some(&[3u8; 32][..])
        );
        assert_eq!(opened.group_info.group_context.epoch, 4);
        verify_group_info_signature(cs, &opened.group_info, &b.signer_key).unwrap();
        assert_eq!(
            verify_group_info_signature(
                cs,
                &opened.group_info,
                &SignaturePublicKey(b.key_package.leaf_node.signature_key.0.clone())
            ),
            Err(WelcomeError::GroupInfoSignature)
        );
        joiner_epoch_secrets(cs, opened.key_schedule, &opened.group_info).unwrap();
    }

    #[test]
    fn failures() {
        let cs = cs();
        let cs = cs.as_ref();
        let b = build(vec![], false);
        let (stranger, stranger_priv) = key_package(cs, 3);
        assert_eq!(
            open_welcome(cs, &b.welcome, &stranger, stranger_priv.as_bytes(), None).unwrap_err(),
            WelcomeError::NotForUs
        );
        let mut other_suite = b.key_package.clone();
        other_suite.cipher_suite = CipherSuite(3);
        assert!(matches!(
            open_welcome(cs, &b.welcome, &other_suite, b.init_priv.as_bytes(), None),
            Err(WelcomeError::CipherSuiteMismatch { .. })
        ));
        // The wrong init key.
        assert!(matches!(
            open_welcome(cs, &b.welcome, &b.key_package, &[4; 32], None),
            Err(WelcomeError::GroupSecretsDecryption(_))
        ));
        // A corrupted encrypted_group_info no longer matches the HPKE context.
        let mut corrupted = b.welcome.clone();
        corrupted.encrypted_group_info[0] ^= 1;
        assert!(matches!(
            open_welcome(cs, &corrupted, &b.key_package, b.init_priv.as_bytes(), None),
            Err(WelcomeError::GroupSecretsDecryption(_))
        ));
        // A PSK secret the committer did not use: the GroupInfo does not decrypt.
        assert_eq!(
            open_welcome(
                cs,
                &b.welcome,
                &b.key_package,
                b.init_priv.as_bytes(),
                Some(&[1; 32])
            )
            .unwrap_err(),
            WelcomeError::GroupInfoDecryption
        );
        // A bad confirmation tag.
        let t = build(vec![], true);
        let opened =
            open_welcome(cs, &t.welcome, &t.key_package, t.init_priv.as_bytes(), None).unwrap();
        assert_eq!(
            joiner_epoch_secrets(cs, opened.key_schedule, &opened.group_info).unwrap_err(),
            WelcomeError::ConfirmationTag
        );
    }

    #[test]
    fn psk_rules() {
        let resumption = |usage| PreSharedKeyId {
            psk: Psk::Resumption {
                usage,
                psk_group_id: b"g".to_vec(),
                psk_epoch: 1,
            },
            psk_nonce: vec![0; 32],
        };
        let external = PreSharedKeyId {
            psk: Psk::External {
                psk_id: b"ext".to_vec(),
            },
            psk_nonce: vec![0; 32],
        };
        check_psk_ids(&[]).unwrap();
        check_psk_ids(&[
            resumption(ResumptionPskUsage::Reinit),
            resumption(ResumptionPskUsage::Application),
            external.clone(),
        ])
        .unwrap();
        assert_eq!(
            check_psk_ids(&[
                resumption(ResumptionPskUsage::Reinit),
                resumption(ResumptionPskUsage::Branch)
            ]),
            Err(WelcomeError::MultipleReinitOrBranchPsks)
        );
        let cs = cs();
        let b = build(vec![external], false);
        assert_eq!(
            open_welcome(
                cs.as_ref(),
                &b.welcome,
                &b.key_package,
                b.init_priv.as_bytes(),
                None
            )
            .unwrap_err(),
            WelcomeError::PskSecretMissing
        );
    }
}
