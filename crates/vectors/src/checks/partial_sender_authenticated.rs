//! `partial/test-vector-partial-sender-authenticated-messages.json` (and its `-spec`
//! subset): draft-ietf-mls-partial-02 §7, `SenderAuthenticatedMessage<PublicMessage>`.
//!
//! Per case and provider that supports the case's suite (MLSpp's 8–10 included), one check:
//! the message decodes and re-encodes to the same bytes; the proof is well formed and proves
//! a leaf node; the message's sender is a member at the proof's leaf
//! ([`conclave_core::partial::verify_sender`] against the root the proof implies); and the
//! proven LeafNode's own signature (RFC 9420 §7.2, bound to the message's group id and the
//! proven leaf index for `update` and `commit` sources) verifies with its signature key.
//! Negative controls: the same proof for a sender at another leaf, and against another tree
//! hash, must be refused.
//!
//! **Gap.** The file holds no partial client state: neither the tree hash nor the
//! GroupContext of the message's epoch. A member's signature covers that GroupContext
//! (RFC 9420 §6.1: `FramedContentTBS` includes it), whose confirmed transcript hash and
//! extensions cannot be derived from the file; a context built from the proof's root, the
//! message's group id and epoch and an empty transcript hash and extensions does not verify.
//! So (1) the proof is checked for consistency with itself, not against an independently
//! known tree hash, and (2) the message signature — the point of §7 — is **not** checked:
//! each case lists it under `skipped`. Our own groups' messages are checked end to end by
//! the core's tests (`SenderAuthenticatedMessage::verify` with the real GroupContext).

use conclave_core::messages::{LeafIndex, LeafNodeSource, PublicMessage, Sender};
use conclave_core::partial::{SenderAuthenticatedMessage, verify_sender};
use conclave_core::validation::verify_leaf_node_signature;
use conclave_crypto::{CipherSuiteProvider, CryptoProvider};

use super::messages::decode_and_compare;
use crate::{Report, cases, field_hex, field_str, field_u64};

/// The full file's name under the vector directory's `partial/`.
pub const FILE_NAME: &str = "test-vector-partial-sender-authenticated-messages.json";
/// The `-spec` subset's name.
pub const SPEC_FILE_NAME: &str = "test-vector-partial-sender-authenticated-messages-spec.json";

/// Runs the file's cases.
pub fn check(json: &serde_json::Value, providers: &[Box<dyn CryptoProvider>], report: &mut Report) {
    report.check_suite_cases(json, providers, check_case);
    for (i, case) in cases(json) {
        let suite = field_u64(case, "cipher_suite").unwrap_or_default();
        report.skipped.push(format!(
            "case {i} suite {suite}: message signature not checked (the file has no \
             GroupContext for the message's epoch, RFC 9420 §6.1)"
        ));
    }
}

fn check_case(cs: &dyn CipherSuiteProvider, case: &serde_json::Value) -> Result<(), String> {
    let message_type = field_str(case, "message_type")?;
    if !message_type.starts_with("PublicMessage") {
        return Err(format!("unknown message_type {message_type}"));
    }
    let bytes = field_hex(case, "sender_authenticated_message")?;
    let message = decode_and_compare::<SenderAuthenticatedMessage<PublicMessage>>(&bytes)?;
    let proof = &message.sender_membership_proof;
    let root = proof.root_tree_hash(cs).map_err(|e| e.to_string())?;
    let content = &message.message.content;
    let proven = verify_sender(
        cs,
        proof,
        &root,
        content.sender,
        "sender-authenticated message",
    )
    .map_err(|e| e.to_string())?;
    let leaf = proven.leaf_node;
    let group = match leaf.leaf_node_source {
        LeafNodeSource::KeyPackage(_) => None,
        LeafNodeSource::Update | LeafNodeSource::Commit(_) => {
            Some((content.group_id.as_slice(), proven.leaf_index))
        }
    };
    verify_leaf_node_signature(cs, leaf, group)
        .map_err(|e| format!("proven LeafNode signature: {e}"))?;
    // Negative controls: another sender leaf, another tree hash.
    let other_leaf = Sender::Member(LeafIndex(proven.leaf_index.0 ^ 1));
    if verify_sender(cs, proof, &root, other_leaf, "control").is_ok() {
        return Err("a message from another leaf was accepted with this proof".into());
    }
    let mut other_root = root.clone();
    if let Some(byte) = other_root.first_mut() {
        *byte ^= 1;
    }
    if verify_sender(cs, proof, &other_root, content.sender, "control").is_ok() {
        return Err("the proof was accepted against another tree hash".into());
    }
    Ok(())
}
