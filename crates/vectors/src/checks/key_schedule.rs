//! Checker for `key-schedule.json`: the GroupContext encoding and every key schedule output
//! of a chain of epochs (RFC 9420 §8, §8.5, §8.7), including the external public key.

use conclave_codec::Encode;
use conclave_core::key_schedule::KeySchedule;
use conclave_core::messages::{GroupContext, ProtocolVersion};
use conclave_crypto::{CipherSuite, CipherSuiteProvider, CryptoProvider, Secret};
use serde_json::Value;

use crate::{Report, expect_bytes, field_hex, field_str, field_u64};

/// Checks every case of the file on every provider supporting its suite.
pub(crate) fn check(json: &Value, providers: &[Box<dyn CryptoProvider>], report: &mut Report) {
    report.check_suite_cases(json, providers, check_case);
}

fn check_case(cs: &dyn CipherSuiteProvider, case: &Value) -> Result<(), String> {
    let group_id = field_hex(case, "group_id")?;
    let mut init_secret = Secret::new(field_hex(case, "initial_init_secret")?);
    let epochs = case
        .get("epochs")
        .and_then(Value::as_array)
        .ok_or("missing array epochs")?;
    if epochs.is_empty() {
        return Err("no epochs".into());
    }
    for (epoch, e) in (0u64..).zip(epochs) {
        let at = |msg: String| format!("epoch {epoch}: {msg}");
        let context = GroupContext {
            version: ProtocolVersion::MLS10,
            cipher_suite: CipherSuite(cs.cipher_suite().0),
            group_id: group_id.clone(),
            epoch,
            tree_hash: field_hex(e, "tree_hash")?,
            confirmed_transcript_hash: field_hex(e, "confirmed_transcript_hash")?,
            extensions: Vec::new(),
        };
        let context = context.to_bytes().map_err(|err| at(err.to_string()))?;
        expect_bytes("group_context", &context, &field_hex(e, "group_context")?).map_err(at)?;

        let commit_secret = field_hex(e, "commit_secret")?;
        let psk_secret = field_hex(e, "psk_secret")?;
        let schedule = KeySchedule::from_init(
            cs,
            init_secret.as_bytes(),
            &commit_secret,
            Some(&psk_secret),
            &context,
        )
        .map_err(|err| at(err.to_string()))?;
        expect_bytes(
            "joiner",
            schedule.joiner_secret().as_bytes(),
            &field_hex(e, "joiner_secret")?,
        )
        .map_err(at)?;
        let welcome = schedule
            .welcome_secret(cs)
            .map_err(|err| at(err.to_string()))?;
        expect_bytes(
            "welcome",
            welcome.as_bytes(),
            &field_hex(e, "welcome_secret")?,
        )
        .map_err(at)?;

        let secrets = schedule
            .epoch_secrets(cs, &context)
            .map_err(|err| at(err.to_string()))?;
        let outputs: [(&str, &Secret); 9] = [
            ("init_secret", &secrets.init_secret),
            ("sender_data_secret", &secrets.sender_data_secret),
            ("encryption_secret", &secrets.encryption_secret),
            ("exporter_secret", &secrets.exporter_secret),
            ("epoch_authenticator", &secrets.epoch_authenticator),
            ("external_secret", &secrets.external_secret),
            ("confirmation_key", &secrets.confirmation_key),
            ("membership_key", &secrets.membership_key),
            ("resumption_psk", &secrets.resumption_psk),
        ];
        for (name, value) in outputs {
            expect_bytes(name, value.as_bytes(), &field_hex(e, name)?).map_err(at)?;
        }

        let external = secrets
            .external_key_pair(cs)
            .map_err(|err| at(err.to_string()))?;
        expect_bytes(
            "external_pub",
            &external.public_key,
            &field_hex(e, "external_pub")?,
        )
        .map_err(at)?;

        let exporter = e
            .get("exporter")
            .ok_or_else(|| at("missing exporter".into()))?;
        let length = usize::try_from(field_u64(exporter, "length")?).map_err(|x| x.to_string())?;
        let exported = secrets
            .export(
                cs,
                field_str(exporter, "label")?,
                &field_hex(exporter, "context")?,
                length,
            )
            .map_err(|err| at(err.to_string()))?;
        expect_bytes(
            "exporter.secret",
            exported.as_bytes(),
            &field_hex(exporter, "secret")?,
        )
        .map_err(at)?;

        init_secret = secrets.init_secret;
    }
    Ok(())
}
