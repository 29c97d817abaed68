//! Checker for `welcome.json` (RFC 9420 §12.4.3.1).

use conclave_codec::Decode;
use conclave_core::messages::{
    KeyPackage, MlsMessage, MlsMessageBody, SignaturePublicKey, Welcome,
};
use conclave_core::welcome;
use conclave_crypto::{CipherSuiteProvider, CryptoProvider};

use crate::{Report, field_hex, field_u64};

/// Each case: find our entry of the Welcome by KeyPackageRef, decrypt the GroupSecrets with
/// `init_priv`, decrypt the GroupInfo, verify its signature with `signer_pub`, and verify
/// its confirmation tag from a key schedule with the `joiner_secret` and no PSKs.
pub(crate) fn check(
    json: &serde_json::Value,
    providers: &[Box<dyn CryptoProvider>],
    report: &mut Report,
) {
    report.check_suite_cases(json, providers, check_case);
}

fn check_case(cs: &dyn CipherSuiteProvider, case: &serde_json::Value) -> Result<(), String> {
    check_case_secrets(cs, case).map(|_| ())
}

/// [`check_case`], returning the joined epoch's `epoch_authenticator` (RFC 9420 §8.7) for
/// files that record it (our `pq-suites.json`).
pub(crate) fn check_case_secrets(
    cs: &dyn CipherSuiteProvider,
    case: &serde_json::Value,
) -> Result<Vec<u8>, String> {
    let init_priv = field_hex(case, "init_priv")?;
    let signer_pub = SignaturePublicKey(field_hex(case, "signer_pub")?);
    let key_package = MlsMessage::from_bytes(&field_hex(case, "key_package")?)
        .map_err(|e| format!("key_package: {e}"))?;
    let welcome = MlsMessage::from_bytes(&field_hex(case, "welcome")?)
        .map_err(|e| format!("welcome: {e}"))?;
    let MlsMessageBody::KeyPackage(key_package) = key_package.body else {
        return Err("key_package is not an MLSMessage(KeyPackage)".into());
    };
    let MlsMessageBody::Welcome(welcome) = welcome.body else {
        return Err("welcome is not an MLSMessage(Welcome)".into());
    };
    if u64::from(key_package.cipher_suite.0) != field_u64(case, "cipher_suite")? {
        return Err("key_package cipher suite differs from the case's".into());
    }
    let epoch_authenticator = open_and_verify(cs, &welcome, &key_package, &init_priv, &signer_pub)?;

    // Negative controls: the same steps must fail with a wrong init key or signer key.
    // Both ends change: an ML-KEM seed's last 32 bytes are `z`, used only to reject invalid
    // ciphertexts (FIPS 203 §6.3), so only a change to `d` at the front breaks decryption;
    // an X25519 key's low bits of the first byte are clamped away (RFC 7748 §5).
    let mut wrong_priv = init_priv.clone();
    if let Some(last) = wrong_priv.last_mut() {
        *last ^= 1;
    }
    if let Some(first) = wrong_priv.first_mut() {
        *first ^= 0x40;
    }
    if open_and_verify(cs, &welcome, &key_package, &wrong_priv, &signer_pub).is_ok() {
        return Err("Welcome opened with a corrupted init_priv".into());
    }
    let mut wrong_signer = signer_pub.clone();
    if let Some(first) = wrong_signer.0.get_mut(1) {
        *first ^= 1;
    }
    if open_and_verify(cs, &welcome, &key_package, &init_priv, &wrong_signer).is_ok() {
        return Err("GroupInfo verified under a corrupted signer key".into());
    }
    Ok(epoch_authenticator)
}

fn open_and_verify(
    cs: &dyn CipherSuiteProvider,
    welcome: &Welcome,
    key_package: &KeyPackage,
    init_priv: &[u8],
    signer_pub: &SignaturePublicKey,
) -> Result<Vec<u8>, String> {
    let opened = welcome::open_welcome(cs, welcome, key_package, init_priv, None)
        .map_err(|e| e.to_string())?;
    welcome::verify_group_info_signature(cs, &opened.group_info, signer_pub)
        .map_err(|e| e.to_string())?;
    let epoch = welcome::joiner_epoch_secrets(cs, opened.key_schedule, &opened.group_info)
        .map_err(|e| e.to_string())?;
    Ok(epoch.epoch_authenticator.as_bytes().to_vec())
}
