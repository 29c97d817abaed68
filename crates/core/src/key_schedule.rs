//! The MLS key schedule (RFC 9420 §8): from the previous epoch's `init_secret`, the
//! `commit_secret`, the `psk_secret` and the serialized `GroupContext` to the joiner, welcome
//! and epoch secrets, every secret derived from the epoch secret (§8 table, §8.5 exporter,
//! §8.6 resumption PSK, §8.7 epoch authenticator), the external key pair (§8) and the Welcome
//! key and nonce (§12.4.3.1), plus the `application_export_secret` of
//! draft-ietf-mls-extensions-10 §4.4 (the root of the safe exporter tree,
//! [`crate::safe::ExporterTree`]).
//!
//! The schedule is split where the protocol needs it split:
//!
//! * a member processing or creating a Commit knows everything up front:
//!   [`KeySchedule::from_init`], then [`KeySchedule::epoch_secrets`];
//! * a new member first learns only the `joiner_secret` (from `GroupSecrets`) and the PSKs,
//!   derives the `welcome_secret` to decrypt the `GroupInfo`, and only then learns the
//!   `GroupContext`: [`KeySchedule::from_joiner`], [`KeySchedule::welcome_key_nonce`], then
//!   [`KeySchedule::epoch_secrets`].
//!
//! Intermediate secrets are [`Secret`]s (zeroized on drop); [`KeySchedule::epoch_secrets`]
//! consumes the schedule so the joiner and member secrets are deleted once used (§9.2).

use conclave_crypto::hpke::HpkeKeyPair;
use conclave_crypto::labels::{derive_key_pair, derive_secret, expand_with_label};
use conclave_crypto::{CipherSuiteProvider, CryptoError, Secret};

/// Errors of the key schedule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyScheduleError {
    /// A cryptographic operation failed (e.g. an exporter length above `255 * Nh`).
    #[error("key schedule crypto error: {0}")]
    Crypto(#[from] CryptoError),
    /// An input secret does not have the length the suite requires.
    #[error("{what} has length {len}, expected {expected}")]
    InvalidSecretLength {
        /// Which input.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The required length (`KDF.Nh`).
        expected: usize,
    },
}

/// The labels of the epoch-derived secrets (RFC 9420 §8, table "Epoch-Derived Secrets").
pub mod labels {
    /// `sender_data_secret`.
    pub const SENDER_DATA: &str = "sender data";
    /// `encryption_secret`.
    pub const ENCRYPTION: &str = "encryption";
    /// `exporter_secret`.
    pub const EXPORTER: &str = "exporter";
    /// `external_secret`.
    pub const EXTERNAL: &str = "external";
    /// `confirmation_key`.
    pub const CONFIRM: &str = "confirm";
    /// `membership_key`.
    pub const MEMBERSHIP: &str = "membership";
    /// `resumption_psk`.
    pub const RESUMPTION: &str = "resumption";
    /// `epoch_authenticator`.
    pub const AUTHENTICATION: &str = "authentication";
    /// `init_secret` of the next epoch.
    pub const INIT: &str = "init";
    /// `joiner_secret` (ExpandWithLabel over the GroupContext).
    pub const JOINER: &str = "joiner";
    /// `welcome_secret`.
    pub const WELCOME: &str = "welcome";
    /// `epoch_secret` (ExpandWithLabel over the GroupContext).
    pub const EPOCH: &str = "epoch";
    /// Second step of `MLS-Exporter` (RFC 9420 §8.5).
    pub const EXPORTED: &str = "exported";
}

/// The all-zero secret of `KDF.Nh` bytes that stands for an absent `commit_secret` or
/// `psk_secret` (RFC 9420 §8: "`0` represents an all-zero byte string of length `KDF.Nh`").
pub fn zero_secret(cs: &dyn CipherSuiteProvider) -> Secret {
    Secret::zero(cs.hash_len())
}

/// `joiner_secret = ExpandWithLabel(KDF.Extract(init_secret, commit_secret), "joiner",
/// GroupContext_[n], KDF.Nh)` (RFC 9420 §8; Extract's salt is `init_secret`).
pub fn joiner_secret(
    cs: &dyn CipherSuiteProvider,
    init_secret: &[u8],
    commit_secret: &[u8],
    group_context: &[u8],
) -> Result<Secret, KeyScheduleError> {
    let prk = cs.kdf_extract(init_secret, commit_secret);
    Ok(expand_with_label(
        cs,
        prk.as_bytes(),
        labels::JOINER,
        group_context,
        cs.hash_len(),
    )?)
}

/// The key schedule of one epoch up to the point where the GroupContext is needed a second
/// time: it holds the `joiner_secret` and the intermediate
/// `member_secret = KDF.Extract(joiner_secret, psk_secret)` (RFC 9420 §8).
#[derive(Debug, Clone)]
pub struct KeySchedule {
    joiner_secret: Secret,
    member_secret: Secret,
}

impl KeySchedule {
    /// The schedule of a member that knows the previous epoch's `init_secret` and the
    /// commit (RFC 9420 §8). `psk_secret = None` means no PSKs (the all-zero secret).
    pub fn from_init(
        cs: &dyn CipherSuiteProvider,
        init_secret: &[u8],
        commit_secret: &[u8],
        psk_secret: Option<&[u8]>,
        group_context: &[u8],
    ) -> Result<Self, KeyScheduleError> {
        let joiner = joiner_secret(cs, init_secret, commit_secret, group_context)?;
        Self::from_joiner(cs, joiner, psk_secret)
    }

    /// The schedule of a new member that received `joiner_secret` in `GroupSecrets`
    /// (RFC 9420 §12.4.3.1). `psk_secret = None` means no PSKs.
    pub fn from_joiner(
        cs: &dyn CipherSuiteProvider,
        joiner_secret: Secret,
        psk_secret: Option<&[u8]>,
    ) -> Result<Self, KeyScheduleError> {
        let nh = cs.hash_len();
        check_len("joiner_secret", joiner_secret.as_bytes(), nh)?;
        let zero;
        let psk = match psk_secret {
            Some(psk) => {
                check_len("psk_secret", psk, nh)?;
                psk
            }
            None => {
                zero = zero_secret(cs);
                zero.as_bytes()
            }
        };
        let member_secret = cs.kdf_extract(joiner_secret.as_bytes(), psk);
        Ok(Self {
            joiner_secret,
            member_secret,
        })
    }

    /// The `joiner_secret` (sent to new members in `GroupSecrets`).
    pub fn joiner_secret(&self) -> &Secret {
        &self.joiner_secret
    }

    /// `welcome_secret = DeriveSecret(member_secret, "welcome")` (RFC 9420 §8).
    pub fn welcome_secret(&self, cs: &dyn CipherSuiteProvider) -> Result<Secret, KeyScheduleError> {
        Ok(derive_secret(
            cs,
            self.member_secret.as_bytes(),
            labels::WELCOME,
        )?)
    }

    /// The AEAD key and nonce that protect the `GroupInfo` in a Welcome
    /// (RFC 9420 §12.4.3.1): `welcome_key = ExpandWithLabel(welcome_secret, "key", "",
    /// AEAD.Nk)`, `welcome_nonce = ExpandWithLabel(welcome_secret, "nonce", "", AEAD.Nn)`.
    pub fn welcome_key_nonce(
        &self,
        cs: &dyn CipherSuiteProvider,
    ) -> Result<(Secret, Secret), KeyScheduleError> {
        let welcome = self.welcome_secret(cs)?;
        let key = expand_with_label(cs, welcome.as_bytes(), "key", &[], cs.aead_key_len())?;
        let nonce = expand_with_label(cs, welcome.as_bytes(), "nonce", &[], cs.aead_nonce_len())?;
        Ok((key, nonce))
    }

    /// `epoch_secret = ExpandWithLabel(member_secret, "epoch", GroupContext_[n], KDF.Nh)` and
    /// every secret derived from it (RFC 9420 §8). Consumes the schedule: the joiner and
    /// member secrets are deleted, and the epoch secret is deleted once its children exist.
    pub fn epoch_secrets(
        self,
        cs: &dyn CipherSuiteProvider,
        group_context: &[u8],
    ) -> Result<EpochSecrets, KeyScheduleError> {
        let epoch_secret = expand_with_label(
            cs,
            self.member_secret.as_bytes(),
            labels::EPOCH,
            group_context,
            cs.hash_len(),
        )?;
        EpochSecrets::from_epoch_secret(cs, &epoch_secret)
    }
}

fn check_len(what: &'static str, secret: &[u8], expected: usize) -> Result<(), KeyScheduleError> {
    if secret.len() == expected {
        Ok(())
    } else {
        Err(KeyScheduleError::InvalidSecretLength {
            what,
            len: secret.len(),
            expected,
        })
    }
}

/// The secrets derived from one epoch's `epoch_secret` (RFC 9420 §8, table
/// "Epoch-Derived Secrets"), plus the next epoch's `init_secret` and the
/// `application_export_secret` of draft-ietf-mls-extensions-10 §4.4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochSecrets {
    /// `DeriveSecret(epoch_secret, "sender data")`: keys for sender data (RFC 9420 §6.3.2).
    pub sender_data_secret: Secret,
    /// `DeriveSecret(epoch_secret, "encryption")`: root of the secret tree (RFC 9420 §9).
    pub encryption_secret: Secret,
    /// `DeriveSecret(epoch_secret, "exporter")`: input of `MLS-Exporter` (RFC 9420 §8.5).
    pub exporter_secret: Secret,
    /// `DeriveSecret(epoch_secret, "external")`: seed of the external key pair.
    pub external_secret: Secret,
    /// `DeriveSecret(epoch_secret, "confirm")`: key of the confirmation tag (RFC 9420 §6.1).
    pub confirmation_key: Secret,
    /// `DeriveSecret(epoch_secret, "membership")`: key of the membership tag
    /// (RFC 9420 §6.2).
    pub membership_key: Secret,
    /// `DeriveSecret(epoch_secret, "resumption")`: the resumption PSK (RFC 9420 §8.6).
    pub resumption_psk: Secret,
    /// `DeriveSecret(epoch_secret, "authentication")` (RFC 9420 §8.7).
    pub epoch_authenticator: Secret,
    /// `DeriveSecret(epoch_secret, "init")`: the `init_secret` of the next epoch.
    pub init_secret: Secret,
    /// `DeriveSecret(epoch_secret, "application_export")`: the root of the epoch's exporter
    /// tree (draft-ietf-mls-extensions-10 §4.4). A group moves it into its
    /// [`crate::safe::ExporterTree`] and keeps it nowhere else.
    pub application_export_secret: Secret,
}

impl EpochSecrets {
    /// Derives all epoch secrets from `epoch_secret` (RFC 9420 §8).
    pub fn from_epoch_secret(
        cs: &dyn CipherSuiteProvider,
        epoch_secret: &Secret,
    ) -> Result<Self, KeyScheduleError> {
        let d = |label| derive_secret(cs, epoch_secret.as_bytes(), label);
        Ok(Self {
            sender_data_secret: d(labels::SENDER_DATA)?,
            encryption_secret: d(labels::ENCRYPTION)?,
            exporter_secret: d(labels::EXPORTER)?,
            external_secret: d(labels::EXTERNAL)?,
            confirmation_key: d(labels::CONFIRM)?,
            membership_key: d(labels::MEMBERSHIP)?,
            resumption_psk: d(labels::RESUMPTION)?,
            epoch_authenticator: d(labels::AUTHENTICATION)?,
            init_secret: d(labels::INIT)?,
            application_export_secret: d(crate::codepoints::APPLICATION_EXPORT_LABEL)?,
        })
    }

    /// `external_priv, external_pub = KEM.DeriveKeyPair(external_secret)` (RFC 9420 §8);
    /// `external_pub` goes in the `external_pub` GroupInfo extension (§12.4.3.2).
    pub fn external_key_pair(
        &self,
        cs: &dyn CipherSuiteProvider,
    ) -> Result<HpkeKeyPair, KeyScheduleError> {
        Ok(derive_key_pair(cs, self.external_secret.as_bytes())?)
    }

    /// `MLS-Exporter(label, context, length)` (RFC 9420 §8.5).
    pub fn export(
        &self,
        cs: &dyn CipherSuiteProvider,
        label: &str,
        context: &[u8],
        length: usize,
    ) -> Result<Secret, KeyScheduleError> {
        mls_exporter(cs, &self.exporter_secret, label, context, length)
    }
}

/// `MLS-Exporter(Label, Context, Length) = ExpandWithLabel(DeriveSecret(exporter_secret,
/// Label), "exported", Hash(Context), Length)` (RFC 9420 §8.5).
pub fn mls_exporter(
    cs: &dyn CipherSuiteProvider,
    exporter_secret: &Secret,
    label: &str,
    context: &[u8],
    length: usize,
) -> Result<Secret, KeyScheduleError> {
    let derived = derive_secret(cs, exporter_secret.as_bytes(), label)?;
    let context_hash = cs.hash(context);
    Ok(expand_with_label(
        cs,
        derived.as_bytes(),
        labels::EXPORTED,
        &context_hash,
        length,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use conclave_crypto::{CipherSuite, CryptoProvider};
    use conclave_crypto_rustcrypto::RustCryptoProvider;

    fn cs() -> Box<dyn CipherSuiteProvider> {
        RustCryptoProvider
            .cipher_suite_provider(CipherSuite(1))
            .unwrap()
    }

    #[test]
    fn joiner_path_matches_member_path() {
        let cs = cs();
        let cs = cs.as_ref();
        let (init, commit, psk, ctx) = ([1u8; 32], [2u8; 32], [3u8; 32], b"context".as_slice());
        let member = KeySchedule::from_init(cs, &init, &commit, Some(&psk), ctx).unwrap();
        let joiner =
            KeySchedule::from_joiner(cs, member.joiner_secret().clone(), Some(&psk)).unwrap();
        assert_eq!(
            member.welcome_secret(cs).unwrap(),
            joiner.welcome_secret(cs).unwrap()
        );
        let (key, nonce) = joiner.welcome_key_nonce(cs).unwrap();
        assert_eq!((key.len(), nonce.len()), (16, 12));
        let a = member.epoch_secrets(cs, ctx).unwrap();
        let b = joiner.epoch_secrets(cs, ctx).unwrap();
        assert_eq!(a, b);
        assert_ne!(a.init_secret, a.encryption_secret);
        assert_ne!(a.application_export_secret, a.exporter_secret);
        assert_eq!(a.application_export_secret.len(), 32);
        assert_eq!(a.external_key_pair(cs).unwrap().public_key.len(), 32);
    }

    #[test]
    fn absent_psk_is_zero_and_lengths_are_checked() {
        let cs = cs();
        let cs = cs.as_ref();
        let zero = zero_secret(cs);
        let a = KeySchedule::from_init(cs, &[1; 32], &[2; 32], None, b"c").unwrap();
        let b =
            KeySchedule::from_init(cs, &[1; 32], &[2; 32], Some(zero.as_bytes()), b"c").unwrap();
        assert_eq!(a.welcome_secret(cs).unwrap(), b.welcome_secret(cs).unwrap());
        assert!(matches!(
            KeySchedule::from_init(cs, &[1; 32], &[2; 32], Some(&[0; 5]), b"c"),
            Err(KeyScheduleError::InvalidSecretLength {
                what: "psk_secret",
                ..
            })
        ));
        assert!(KeySchedule::from_joiner(cs, Secret::new(vec![0; 3]), None).is_err());
    }

    #[test]
    fn application_export_secret_is_derive_secret_of_the_epoch_secret() {
        let cs = cs();
        let cs = cs.as_ref();
        let epoch_secret = Secret::new(vec![5; 32]);
        let secrets = EpochSecrets::from_epoch_secret(cs, &epoch_secret).unwrap();
        // DeriveSecret(epoch_secret, "application_export") = ExpandWithLabel(., label, "", Nh)
        let expected =
            expand_with_label(cs, epoch_secret.as_bytes(), "application_export", &[], 32).unwrap();
        assert_eq!(secrets.application_export_secret, expected);
    }

    #[test]
    fn exporter_rejects_impossible_lengths() {
        let cs = cs();
        let cs = cs.as_ref();
        let secrets = EpochSecrets::from_epoch_secret(cs, &Secret::new(vec![5; 32])).unwrap();
        assert_eq!(secrets.export(cs, "label", b"ctx", 100).unwrap().len(), 100);
        assert!(secrets.export(cs, "label", b"ctx", 255 * 32 + 1).is_err());
        assert!(secrets.export(cs, "label", b"ctx", 70_000).is_err());
    }
}
