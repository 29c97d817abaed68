//! Checker for `message-protection.json` (not written yet: records a failure so it cannot pass silently).

use conclave_crypto::CryptoProvider;

use crate::Report;

/// Checks every case of the file.
pub(crate) fn check(
    _json: &serde_json::Value,
    _providers: &[Box<dyn CryptoProvider>],
    report: &mut Report,
) {
    report.record(|| "checker".into(), Err("not implemented yet".into()));
}
