//! Checker for the three passive-client files (`passive-client-welcome.json`,
//! `passive-client-handling-commit.json`, `passive-client-random.json`): join from the
//! Welcome, then follow every epoch's proposals and commit, comparing epoch authenticators
//! (test-vectors/FORMATS.md "Passive Client Scenarios"; RFC 9420 §12.4.2, §12.4.3.1).
//!
//! A public view ([`conclave_core::public_group::PublicGroup`], RFC 9750 §5) follows along:
//! started from a GroupInfo the passive client signs, it processes every PublicMessage
//! handshake, and after each commit its GroupContext and members must be the client's. An
//! epoch with a PrivateMessage handshake cannot be followed from outside; the view then
//! starts again from the client's GroupInfo of the next epoch.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use conclave_codec::Decode;
use conclave_core::credential::BasicIdentityProvider;
use conclave_core::group::{
    Group, GroupConfig, GroupEnv, JoinOptions, KeyPackageBundle, MemberParams, ProcessedMessage,
    SigningIdentity,
};
use conclave_core::messages::{KeyPackage, MlsMessage, MlsMessageBody, RatchetTreeNodes};
use conclave_core::public_group::{PublicGroup, PublicGroupConfig};
use conclave_core::validation::LifetimePolicy;
use conclave_crypto::{CipherSuite, CryptoProvider, Secret};
use serde_json::Value;

use crate::{Report, cases, field_hex, field_u64};

/// One check per case and provider.
pub(crate) fn check(json: &Value, providers: &[Box<dyn CryptoProvider>], report: &mut Report) {
    for (i, case) in cases(json) {
        let suite = match field_u64(case, "cipher_suite") {
            Ok(suite) => suite,
            Err(e) => {
                report.record(|| format!("case {i}"), Err(e));
                continue;
            }
        };
        let mut ran = false;
        for provider in providers {
            let Ok(suite16) = u16::try_from(suite) else {
                continue;
            };
            if provider
                .cipher_suite_provider(CipherSuite(suite16))
                .is_none()
            {
                continue;
            }
            ran = true;
            let crypto = provider_arc(provider.name());
            let outcome = crypto
                .ok_or_else(|| "unknown provider".to_string())
                .and_then(|c| check_case(c, case));
            report.record(
                || format!("case {i} suite {suite} [{}]", provider.name()),
                outcome,
            );
        }
        if !ran {
            report.record(
                || format!("case {i} suite {suite}"),
                Err("no provider supports this cipher suite".into()),
            );
        }
    }
}

/// The group keeps its crypto provider in an `Arc`: build a fresh one of the same backend.
fn provider_arc(name: &str) -> Option<Arc<dyn CryptoProvider>> {
    let all = crate::all_providers();
    all.into_iter().find(|p| p.name() == name).map(Arc::from)
}

fn decode_message(bytes: &[u8], what: &str) -> Result<MlsMessage, String> {
    MlsMessage::from_bytes(bytes).map_err(|e| format!("{what}: {e}"))
}

fn check_case(crypto: Arc<dyn CryptoProvider>, case: &Value) -> Result<(), String> {
    let suite =
        CipherSuite(u16::try_from(field_u64(case, "cipher_suite")?).map_err(|e| e.to_string())?);
    let cs = crypto
        .cipher_suite_provider(suite)
        .ok_or("suite unsupported")?;
    let mut psks = HashMap::new();
    for psk in case
        .get("external_psks")
        .and_then(Value::as_array)
        .ok_or("external_psks")?
    {
        psks.insert(
            field_hex(psk, "psk_id")?,
            Secret::new(field_hex(psk, "psk")?),
        );
    }
    let env = GroupEnv {
        crypto: crypto.clone(),
        identity: Arc::new(BasicIdentityProvider),
        psks: Arc::new(RwLock::new(psks)),
    };
    let key_package = match decode_message(&field_hex(case, "key_package")?, "key_package")?.body {
        MlsMessageBody::KeyPackage(kp) => kp,
        _ => return Err("key_package is not an MLSMessage(KeyPackage)".into()),
    };
    let key_package: KeyPackage = key_package;
    let signature_key =
        crate::signature_secret_key(cs.as_ref(), field_hex(case, "signature_priv")?)?;
    let bundle = KeyPackageBundle {
        init_private_key: crate::hpke_secret_key(cs.as_ref(), field_hex(case, "init_priv")?),
        encryption_private_key: crate::hpke_secret_key(
            cs.as_ref(),
            field_hex(case, "encryption_priv")?,
        ),
        key_package: key_package.clone(),
    };
    let signer = SigningIdentity {
        secret_key: signature_key,
        public_key: key_package.leaf_node.signature_key.clone(),
        credential: key_package.leaf_node.credential.clone(),
    };
    let welcome = match decode_message(&field_hex(case, "welcome")?, "welcome")?.body {
        MlsMessageBody::Welcome(w) => w,
        _ => return Err("welcome is not an MLSMessage(Welcome)".into()),
    };
    let ratchet_tree = match case.get("ratchet_tree") {
        Some(Value::String(hex)) => Some(
            RatchetTreeNodes::from_bytes(&hex::decode(hex).map_err(|e| e.to_string())?)
                .map_err(|e| format!("ratchet_tree: {e}"))?,
        ),
        _ => None,
    };
    let config = GroupConfig {
        lifetime_policy: LifetimePolicy::Never,
        max_past_epochs: 0,
        ..GroupConfig::default()
    };
    let options = JoinOptions {
        ratchet_tree,
        ..JoinOptions::default()
    };
    let public_config = PublicGroupConfig::from(&config);
    let mut group = Group::join(
        MemberParams {
            config,
            ..MemberParams::new(env, signer)
        },
        &welcome,
        &bundle,
        &options,
        0,
    )
    .map_err(|e| format!("join: {e}"))?;
    let initial = field_hex(case, "initial_epoch_authenticator")?;
    if group.epoch_authenticator() != initial.as_slice() {
        return Err("initial epoch authenticator differs".into());
    }
    let epochs = case
        .get("epochs")
        .and_then(Value::as_array)
        .ok_or("epochs")?;
    let mut view = Some(public_view(&crypto, &group, &public_config)?);
    for (n, epoch) in epochs.iter().enumerate() {
        for (p, proposal) in epoch
            .get("proposals")
            .and_then(Value::as_array)
            .ok_or("proposals")?
            .iter()
            .enumerate()
        {
            let bytes = hex::decode(proposal.as_str().ok_or("proposal is not a string")?)
                .map_err(|e| e.to_string())?;
            let message = decode_message(&bytes, "proposal")?;
            view = follow(view, &message).map_err(|e| format!("epoch {n} proposal {p}: {e}"))?;
            match group.process_message(&message, 0) {
                Ok(ProcessedMessage::Proposal { .. }) => {}
                Ok(other) => return Err(format!("epoch {n} proposal {p}: unexpected {other:?}")),
                Err(e) => return Err(format!("epoch {n} proposal {p}: {e}")),
            }
        }
        let commit = decode_message(&field_hex(epoch, "commit")?, "commit")?;
        view = follow(view, &commit).map_err(|e| format!("epoch {n} commit (public view): {e}"))?;
        match group.process_message(&commit, 0) {
            Ok(ProcessedMessage::Commit(_)) => {}
            Ok(other) => return Err(format!("epoch {n} commit: unexpected {other:?}")),
            Err(e) => return Err(format!("epoch {n} commit: {e}")),
        }
        match &view {
            Some(view) => check_view(view, &group).map_err(|e| format!("epoch {n}: {e}"))?,
            None => view = Some(public_view(&crypto, &group, &public_config)?),
        }
        if group.epoch_authenticator() != field_hex(epoch, "epoch_authenticator")?.as_slice() {
            return Err(format!("epoch {n}: epoch authenticator differs"));
        }
    }
    Ok(())
}

/// A public view of `group`'s current epoch, from a GroupInfo `group` signs.
fn public_view(
    crypto: &Arc<dyn CryptoProvider>,
    group: &Group,
    config: &PublicGroupConfig,
) -> Result<PublicGroup, String> {
    let message = group
        .group_info(true)
        .map_err(|e| format!("group info: {e}"))?;
    let MlsMessageBody::GroupInfo(group_info) = &message.body else {
        return Err("group_info() did not return a GroupInfo".into());
    };
    PublicGroup::from_group_info(
        crypto.as_ref(),
        Arc::new(BasicIdentityProvider),
        group_info,
        None,
        config.clone(),
        0,
    )
    .map_err(|e| format!("public view from GroupInfo: {e}"))
}

/// The view after `message`: applied if it is a PublicMessage; `None` (lost) after a
/// PrivateMessage, which only members can read.
fn follow(view: Option<PublicGroup>, message: &MlsMessage) -> Result<Option<PublicGroup>, String> {
    let Some(mut view) = view else {
        return Ok(None);
    };
    if !matches!(message.body, MlsMessageBody::PublicMessage(_)) {
        return Ok(None);
    }
    let handshake = view
        .process_message(message, 0)
        .map_err(|e| e.to_string())?;
    view.apply(handshake).map_err(|e| e.to_string())?;
    Ok(Some(view))
}

/// The view's GroupContext and members are the passive client's.
fn check_view(view: &PublicGroup, group: &Group) -> Result<(), String> {
    if view.context() != group.context() {
        return Err("the public view's GroupContext differs from the client's".into());
    }
    if !view.members().eq(group.members()) {
        return Err("the public view's members differ from the client's".into());
    }
    Ok(())
}
