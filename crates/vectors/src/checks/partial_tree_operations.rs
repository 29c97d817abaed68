//! `partial/test-vector-partial-tree-operations.json` (and its `-spec` subset):
//! draft-ietf-mls-partial-02 §10, processing an UpdatePath without the tree.
//!
//! Per case and provider that supports the case's suite (MLSpp's 8–10 included), through
//! [`conclave_core::partial::decrypt_partial_path`]: the proofs re-encode exactly, reference
//! the same tree and are valid relative to `tree_hash_after`; the committer's proof shows the
//! UpdatePath's leaf and keys; the receiver's key (from `receiver_path_state`, its public key
//! derived from the private key and compared with the receiver's proof) decrypts the
//! `resolution_index`-th ciphertext of the LCA's UpdatePathNode; every derived public key
//! matches the UpdatePath; and the result is `commit_secret`. Negative controls: the next
//! `resolution_index` and a changed `tree_hash_after` must be refused.
//!
//! Two readings of the file, both documented here because the format does not state them:
//!
//! - The committer's leaf is `sender_membership_proof_after.leaf_index` (the file has no
//!   pre-commit sender proof; a member's leaf index does not change in a commit).
//! - The HPKE context of `DecryptWithLabel(…, "UpdatePathNode", context, …)` is the raw
//!   `tree_hash_after` bytes. RFC 9420 §12.4.2 uses the whole provisional GroupContext, but
//!   the file has no group id, epoch, transcript hash or extensions; the ciphertexts open
//!   with `tree_hash_after` alone, which pins how the generator encrypted them. Real groups
//!   pass the encoded provisional GroupContext (the core's tests do).
//!
//! `receiver_path_state` also lists path secrets; they are the receiver's state before the
//! commit and play no part in §10, so they are not checked.

use conclave_core::messages::HpkePublicKey;
use conclave_core::messages::UpdatePath;
use conclave_core::partial::{MembershipProof, PartialPath, decrypt_partial_path};
use conclave_core::tree_math::NodeIndex;
use conclave_core::treekem::{NodeKey, PrivateTree};
use conclave_crypto::{CipherSuiteProvider, CryptoProvider, hpke};

use super::messages::decode_and_compare;
use crate::{Report, expect_bytes, field_hex, field_u64, hpke_secret_key};

/// The full file's name under the vector directory's `partial/`.
pub const FILE_NAME: &str = "test-vector-partial-tree-operations.json";
/// The `-spec` subset's name.
pub const SPEC_FILE_NAME: &str = "test-vector-partial-tree-operations-spec.json";

/// Runs the file's cases.
pub fn check(json: &serde_json::Value, providers: &[Box<dyn CryptoProvider>], report: &mut Report) {
    report.check_suite_cases(json, providers, check_case);
}

fn check_case(cs: &dyn CipherSuiteProvider, case: &serde_json::Value) -> Result<(), String> {
    let update_path = decode_and_compare::<UpdatePath>(&field_hex(case, "update_path")?)?;
    let sender_after =
        decode_and_compare::<MembershipProof>(&field_hex(case, "sender_membership_proof_after")?)?;
    let receiver_after = decode_and_compare::<MembershipProof>(&field_hex(
        case,
        "receiver_membership_proof_after",
    )?)?;
    let tree_hash_after = field_hex(case, "tree_hash_after")?;
    let resolution_index = u32::try_from(field_u64(case, "resolution_index")?)
        .map_err(|_| "resolution_index out of range")?;
    let private = private_tree(cs, case, &receiver_after)?;
    let input = PartialPath {
        update_path: &update_path,
        committer: sender_after.leaf_index,
        tree_hash_after: &tree_hash_after,
        resolution_index,
        sender_proof_after: &sender_after,
        receiver_proof_after: &receiver_after,
    };
    let decrypted =
        decrypt_partial_path(cs, &input, &private, &tree_hash_after).map_err(|e| e.to_string())?;
    expect_bytes(
        "commit_secret",
        decrypted.commit_secret.as_bytes(),
        &field_hex(case, "commit_secret")?,
    )?;

    let next = PartialPath {
        resolution_index: resolution_index.saturating_add(1),
        ..input
    };
    if decrypt_partial_path(cs, &next, &private, &tree_hash_after).is_ok() {
        return Err("the next resolution_index was accepted".into());
    }
    let mut other_hash = tree_hash_after.clone();
    if let Some(byte) = other_hash.first_mut() {
        *byte ^= 1;
    }
    let changed = PartialPath {
        tree_hash_after: &other_hash,
        ..input
    };
    if decrypt_partial_path(cs, &changed, &private, &tree_hash_after).is_ok() {
        return Err("a changed tree_hash_after was accepted".into());
    }
    Ok(())
}

/// The receiver's keys from `receiver_path_state` (`node`, `encryption_priv`), each public
/// key derived from its private key.
fn private_tree(
    cs: &dyn CipherSuiteProvider,
    case: &serde_json::Value,
    receiver_after: &MembershipProof,
) -> Result<PrivateTree, String> {
    let entries = case
        .get("receiver_path_state")
        .and_then(|s| s.as_array())
        .ok_or("missing receiver_path_state")?;
    let own_leaf = receiver_after.leaf_index;
    let mut keys = Vec::new();
    for entry in entries {
        let node = NodeIndex(field_u64(entry, "node")?);
        let secret_key = hpke_secret_key(cs, field_hex(entry, "encryption_priv")?);
        let public_key = hpke::public_key(cs, secret_key.as_bytes())
            .map_err(|e| format!("node {}: {e}", node.0))?;
        keys.push((
            node,
            NodeKey {
                secret_key,
                public_key: HpkePublicKey(public_key),
            },
        ));
    }
    let leaf_position = keys
        .iter()
        .position(|(node, _)| *node == own_leaf.node())
        .ok_or("receiver_path_state has no key for the receiver's leaf")?;
    let (_, leaf_key) = keys.swap_remove(leaf_position);
    let mut private = PrivateTree::new(own_leaf, leaf_key);
    for (node, key) in keys {
        private.insert(node, key);
    }
    Ok(private)
}
