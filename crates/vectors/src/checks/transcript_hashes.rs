//! Checker for `transcript-hashes.json` (RFC 9420 §8.2, §6.1).

use conclave_codec::Decode;
use conclave_core::messages::AuthenticatedContent;
use conclave_core::transcript;
use conclave_crypto::{CipherSuiteProvider, CryptoProvider};

use crate::{Report, field_hex};

/// Each case: the commit's confirmation tag is the MAC of the confirmed transcript hash
/// after it, and both hashes follow from `interim_transcript_hash_before`.
pub(crate) fn check(
    json: &serde_json::Value,
    providers: &[Box<dyn CryptoProvider>],
    report: &mut Report,
) {
    report.check_suite_cases(json, providers, check_case);
}

fn check_case(cs: &dyn CipherSuiteProvider, case: &serde_json::Value) -> Result<(), String> {
    let confirmation_key = field_hex(case, "confirmation_key")?;
    let content = field_hex(case, "authenticated_content")?;
    let interim_before = field_hex(case, "interim_transcript_hash_before")?;
    let confirmed_after = field_hex(case, "confirmed_transcript_hash_after")?;
    let interim_after = field_hex(case, "interim_transcript_hash_after")?;

    let content = AuthenticatedContent::from_bytes(&content).map_err(|e| e.to_string())?;
    let tag = content
        .auth
        .confirmation_tag
        .as_deref()
        .ok_or("commit without confirmation_tag")?;
    if !transcript::verify_confirmation_tag(cs, &confirmation_key, &confirmed_after, tag) {
        return Err("confirmation_tag is not MAC(confirmation_key, confirmed_after)".into());
    }
    let (confirmed, interim) = transcript::next_transcript_hashes(cs, &interim_before, &content)
        .map_err(|e| e.to_string())?;
    if confirmed != confirmed_after {
        return Err(format!(
            "confirmed hash {} != {}",
            hex::encode(confirmed),
            hex::encode(confirmed_after)
        ));
    }
    if interim != interim_after {
        return Err(format!(
            "interim hash {} != {}",
            hex::encode(interim),
            hex::encode(interim_after)
        ));
    }
    Ok(())
}
