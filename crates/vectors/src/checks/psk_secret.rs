//! Checker for `psk_secret.json`: the chained PSK secret of a list of external PSKs
//! (RFC 9420 §8.4), each `PreSharedKeyID` of external type.

use conclave_core::messages::{PreSharedKeyId, Psk};
use conclave_core::psk::psk_secret;
use conclave_crypto::{CipherSuiteProvider, CryptoProvider};
use serde_json::Value;

use crate::{Report, field_hex};

/// Checks every case of the file on every provider supporting its suite.
pub(crate) fn check(json: &Value, providers: &[Box<dyn CryptoProvider>], report: &mut Report) {
    report.check_suite_cases(json, providers, check_case);
}

fn check_case(cs: &dyn CipherSuiteProvider, case: &Value) -> Result<(), String> {
    let entries = case
        .get("psks")
        .and_then(Value::as_array)
        .ok_or("missing array psks")?;
    let mut ids = Vec::with_capacity(entries.len());
    let mut secrets = Vec::with_capacity(entries.len());
    for entry in entries {
        ids.push(PreSharedKeyId {
            psk: Psk::External {
                psk_id: field_hex(entry, "psk_id")?,
            },
            psk_nonce: field_hex(entry, "psk_nonce")?,
        });
        secrets.push(field_hex(entry, "psk")?);
    }
    let pairs: Vec<(&PreSharedKeyId, &[u8])> = ids
        .iter()
        .zip(&secrets)
        .map(|(id, psk)| (id, psk.as_slice()))
        .collect();
    let got = psk_secret(cs, &pairs).map_err(|e| e.to_string())?;
    let want = field_hex(case, "psk_secret")?;
    if got.as_bytes() == want.as_slice() {
        Ok(())
    } else {
        Err(format!(
            "psk_secret: got {}, expected {}",
            hex::encode(got.as_bytes()),
            hex::encode(&want)
        ))
    }
}
