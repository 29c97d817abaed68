//! `partial/test-vector-partial-membership-proofs.json` (and its `-spec` subset):
//! draft-ietf-mls-partial-02 §6.
//!
//! Per case and provider that supports the case's suite (MLSpp's provisional post-quantum
//! suites 8–10 included): every proof decodes and re-encodes to the same bytes, its
//! recomputed root tree hash (RFC 9420 §7.8) is `tree_hash` and it proves a leaf node, and
//! each proof references the same tree as the previous one. As a negative control, each
//! proof with one bit of a copath hash flipped must be refused.
//!
//! The file gives no ratchet tree, so proof *creation* cannot be compared with it; our
//! proofs are checked against trees of our own groups by the core's tests.

use conclave_codec::Decode;
use conclave_core::partial::MembershipProof;
use conclave_crypto::{CipherSuiteProvider, CryptoProvider};

use super::messages::decode_and_compare;
use crate::{Report, field_hex};

/// The full file's name under the vector directory's `partial/`.
pub const FILE_NAME: &str = "test-vector-partial-membership-proofs.json";
/// The `-spec` subset's name.
pub const SPEC_FILE_NAME: &str = "test-vector-partial-membership-proofs-spec.json";

/// Runs the file's cases.
pub fn check(json: &serde_json::Value, providers: &[Box<dyn CryptoProvider>], report: &mut Report) {
    report.check_suite_cases(json, providers, check_case);
}

fn check_case(cs: &dyn CipherSuiteProvider, case: &serde_json::Value) -> Result<(), String> {
    let tree_hash = field_hex(case, "tree_hash")?;
    let proofs = case
        .get("proofs")
        .and_then(|p| p.as_array())
        .ok_or("missing proofs")?;
    if proofs.is_empty() {
        return Err("no proofs".into());
    }
    let mut previous: Option<MembershipProof> = None;
    for (i, proof) in proofs.iter().enumerate() {
        let bytes = hex::decode(proof.as_str().ok_or("proof is not a string")?)
            .map_err(|e| format!("proof {i}: {e}"))?;
        let proof =
            decode_and_compare::<MembershipProof>(&bytes).map_err(|e| format!("proof {i}: {e}"))?;
        proof
            .verify(cs, &tree_hash)
            .map_err(|e| format!("proof {i}: {e}"))?;
        if let Some(previous) = &previous {
            let root = previous
                .same_tree_as(&proof, cs, "consecutive proofs")
                .map_err(|e| format!("proof {i}: {e}"))?;
            if root != tree_hash {
                return Err(format!("proof {i}: common root is not tree_hash"));
            }
        }
        let mut forged = MembershipProof::from_bytes(&bytes).map_err(|e| e.to_string())?;
        if let Some(byte) = forged
            .copath_hashes
            .first_mut()
            .and_then(|c| c.hash_value.first_mut())
        {
            *byte ^= 1;
            if forged.verify(cs, &tree_hash).is_ok() {
                return Err(format!("proof {i}: a forged copath hash was accepted"));
            }
        }
        previous = Some(proof);
    }
    Ok(())
}
