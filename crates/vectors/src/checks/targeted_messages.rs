//! Checker for `drafts/targeted-messages-openmls.json`: the receiver side of
//! draft-ietf-mls-targeted-messages-01 (Appendix A; OpenMLS 0.9.2's vectors). From the
//! epoch's exporter secret, the sender's LeafNode and the recipient's HPKE private key, the
//! message must pass every check of -01 §7 and give the expected application data,
//! authenticated data and padding length. The same message opened as the -02 editor's copy
//! must be refused (the versions are not wire compatible).

use conclave_codec::Decode;
use conclave_core::messages::{LeafIndex, LeafNode, MlsMessage, MlsMessageBody};
use conclave_core::targeted::{
    TargetedEpoch, TargetedEpochSecrets, TargetedMessageVersion, TargetedReceive,
};
use conclave_crypto::{CipherSuiteProvider, CryptoProvider, Secret};
use serde_json::Value;

use crate::{Report, expect_bytes, field_hex, field_u64, hpke_secret_key};

/// The file's name in the `drafts/` directory of the vectors.
pub const FILE_NAME: &str = "targeted-messages-openmls.json";

/// Checks every case of the file on every provider supporting its suite.
pub(crate) fn check(json: &Value, providers: &[Box<dyn CryptoProvider>], report: &mut Report) {
    report.check_suite_cases(json, providers, check_case);
}

fn leaf(case: &Value, name: &str) -> Result<LeafIndex, String> {
    let value = field_u64(case, name)?;
    Ok(LeafIndex(
        u32::try_from(value).map_err(|_| format!("{name} out of range"))?,
    ))
}

fn check_case(cs: &dyn CipherSuiteProvider, case: &Value) -> Result<(), String> {
    let group_id = field_hex(case, "group_id")?;
    let epoch = field_u64(case, "epoch")?;
    let exporter_secret = Secret::new(field_hex(case, "exporter_secret")?);
    let sender = leaf(case, "sender_leaf_index")?;
    let sender_leaf = LeafNode::from_bytes(&field_hex(case, "sender_leaf_node")?)
        .map_err(|e| format!("sender_leaf_node: {e}"))?;
    let recipient = leaf(case, "recipient_leaf_index")?;
    let own_private_key = hpke_secret_key(cs, field_hex(case, "recipient_encryption_priv")?);
    let message = MlsMessage::from_bytes(&field_hex(case, "targeted_message")?)
        .map_err(|e| format!("targeted_message: {e}"))?;
    let MlsMessageBody::TargetedMessage(message) = message.body else {
        return Err(format!(
            "targeted_message has wire format {}",
            message.body.wire_format().0
        ));
    };
    let secrets = TargetedEpochSecrets::derive(cs, &exporter_secret).map_err(|e| e.to_string())?;
    let lookup = |index: LeafIndex| (index == sender).then(|| sender_leaf.signature_key.0.clone());
    let receive = TargetedReceive {
        own_leaf: recipient,
        own_private_key: &own_private_key,
        sender_signature_key: &lookup,
    };
    let open = |version| {
        TargetedEpoch {
            version,
            cs,
            group_id: &group_id,
            epoch,
            secrets: &secrets,
        }
        .open(&message, &receive)
    };
    let opened = open(TargetedMessageVersion::Draft01).map_err(|e| e.to_string())?;
    if opened.sender != sender {
        return Err(format!(
            "sender {} instead of {}",
            opened.sender.0, sender.0
        ));
    }
    expect_bytes(
        "application_data",
        &opened.content.application_data,
        &field_hex(case, "application_data")?,
    )?;
    expect_bytes(
        "authenticated_data",
        &opened.authenticated_data,
        &field_hex(case, "authenticated_data")?,
    )?;
    let padding = field_u64(case, "padding_length")?;
    if u64::try_from(opened.content.padding_length).ok() != Some(padding) {
        return Err(format!(
            "padding_length {} instead of {padding}",
            opened.content.padding_length
        ));
    }
    if open(TargetedMessageVersion::Draft02).is_ok() {
        return Err("a -01 message also opened as the -02 editor's copy".into());
    }
    Ok(())
}
