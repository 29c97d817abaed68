//! Checker for `secret-tree.json`: sender-data key and nonce (RFC 9420 §6.3.2) and the
//! handshake / application ratchet keys and nonces of every leaf at the listed generations
//! (RFC 9420 §9, §9.1).

use conclave_core::secret_tree::{
    RatchetType, SecretTree, SecretTreeConfig, sender_data_key_nonce,
};
use conclave_core::tree_math::{LeafIndex, TreeSize};
use conclave_crypto::{CipherSuiteProvider, CryptoProvider, Secret};
use serde_json::Value;

use crate::{Report, field_hex, field_u64};

/// Checks every case of the file on every provider supporting its suite.
pub(crate) fn check(json: &Value, providers: &[Box<dyn CryptoProvider>], report: &mut Report) {
    report.check_suite_cases(json, providers, check_case);
}

fn check_case(cs: &dyn CipherSuiteProvider, case: &Value) -> Result<(), String> {
    let sender_data = case.get("sender_data").ok_or("missing sender_data")?;
    let (key, nonce) = sender_data_key_nonce(
        cs,
        &field_hex(sender_data, "sender_data_secret")?,
        &field_hex(sender_data, "ciphertext")?,
    )
    .map_err(|e| e.to_string())?;
    expect(&key, &field_hex(sender_data, "key")?, "sender_data.key")?;
    expect(
        &nonce,
        &field_hex(sender_data, "nonce")?,
        "sender_data.nonce",
    )?;

    let leaves = case
        .get("leaves")
        .and_then(Value::as_array)
        .ok_or("missing array leaves")?;
    let n_leaves = u32::try_from(leaves.len()).map_err(|e| e.to_string())?;
    let size = TreeSize::new(n_leaves).ok_or("no leaves")?;
    // Allow the largest jump the vectors make; the defaults are policy, not spec.
    let max_generation = leaves
        .iter()
        .flat_map(|l| l.as_array().into_iter().flatten())
        .filter_map(|e| e.get("generation").and_then(Value::as_u64))
        .max()
        .unwrap_or(0);
    let config = SecretTreeConfig {
        maximum_forward_distance: u32::try_from(max_generation).map_err(|e| e.to_string())?,
        ..SecretTreeConfig::default()
    };
    let mut tree = SecretTree::new(
        Secret::new(field_hex(case, "encryption_secret")?),
        size,
        config,
    );
    for (leaf, entries) in (0u32..).zip(leaves) {
        let entries = entries
            .as_array()
            .ok_or_else(|| format!("leaves[{leaf}] is not an array"))?;
        if entries.is_empty() {
            return Err(format!("leaves[{leaf}] is empty"));
        }
        for entry in entries {
            let generation =
                u32::try_from(field_u64(entry, "generation")?).map_err(|e| e.to_string())?;
            let at = |msg: String| format!("leaf {leaf} generation {generation}: {msg}");
            for (ty, prefix) in [
                (RatchetType::Handshake, "handshake"),
                (RatchetType::Application, "application"),
            ] {
                let kn = tree
                    .key_for_generation(cs, LeafIndex(leaf), ty, generation)
                    .map_err(|e| at(e.to_string()))?;
                let key_field = format!("{prefix}_key");
                let nonce_field = format!("{prefix}_nonce");
                expect(&kn.key, &field_hex(entry, &key_field)?, &key_field).map_err(at)?;
                expect(&kn.nonce, &field_hex(entry, &nonce_field)?, &nonce_field).map_err(at)?;
            }
        }
    }
    Ok(())
}

fn expect(got: &Secret, want: &[u8], what: &str) -> Result<(), String> {
    if got.as_bytes() == want {
        Ok(())
    } else {
        Err(format!(
            "{what}: got {}, expected {}",
            hex::encode(got.as_bytes()),
            hex::encode(want)
        ))
    }
}
