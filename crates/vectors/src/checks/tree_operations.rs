//! Checker for `tree-operations.json` (RFC 9420 §7.7, §7.8, §12.1.1–§12.1.3).

use conclave_codec::{Decode, Encode};
use conclave_core::messages::{LeafIndex, Proposal, RatchetTreeNodes};
use conclave_core::tree::RatchetTree;
use conclave_crypto::{CipherSuiteProvider, CryptoProvider};

use crate::{Report, field_hex, field_u64};

/// Each case: the tree hash before, applying the Add, Update or Remove proposal from
/// `proposal_sender`, the serialized tree after and its tree hash.
pub(crate) fn check(
    json: &serde_json::Value,
    providers: &[Box<dyn CryptoProvider>],
    report: &mut Report,
) {
    report.check_suite_cases(json, providers, check_case);
}

fn check_case(cs: &dyn CipherSuiteProvider, case: &serde_json::Value) -> Result<(), String> {
    let tree_before = field_hex(case, "tree_before")?;
    let proposal = field_hex(case, "proposal")?;
    let sender = field_u64(case, "proposal_sender")?;
    let hash_before = field_hex(case, "tree_hash_before")?;
    let tree_after = field_hex(case, "tree_after")?;
    let hash_after = field_hex(case, "tree_hash_after")?;

    let nodes = RatchetTreeNodes::from_bytes(&tree_before).map_err(|e| e.to_string())?;
    let mut tree = RatchetTree::from_nodes(nodes).map_err(|e| e.to_string())?;
    let hash = tree.tree_hash(cs).map_err(|e| e.to_string())?;
    if hash != hash_before {
        return Err(format!(
            "tree_hash_before {} != {}",
            hex::encode(hash),
            hex::encode(hash_before)
        ));
    }

    let sender = LeafIndex(u32::try_from(sender).map_err(|_| "proposal_sender out of range")?);
    match Proposal::from_bytes(&proposal).map_err(|e| e.to_string())? {
        Proposal::Add(add) => tree
            .add_leaf(*add.key_package.leaf_node)
            .map(|_| ())
            .map_err(|e| e.to_string())?,
        Proposal::Update(update) => tree
            .update_leaf(sender, *update.leaf_node)
            .map_err(|e| e.to_string())?,
        Proposal::Remove(remove) => tree
            .remove_leaf(remove.removed)
            .map(|_| ())
            .map_err(|e| e.to_string())?,
        other => return Err(format!("unexpected proposal {:?}", other.proposal_type())),
    }

    let serialized = tree.to_nodes().to_bytes().map_err(|e| e.to_string())?;
    if serialized != tree_after {
        return Err("serialized tree after the proposal differs from tree_after".into());
    }
    let hash = tree.tree_hash(cs).map_err(|e| e.to_string())?;
    if hash != hash_after {
        return Err(format!(
            "tree_hash_after {} != {}",
            hex::encode(hash),
            hex::encode(hash_after)
        ));
    }
    // The incrementally maintained hash must equal a fresh computation.
    let mut fresh = RatchetTree::from_nodes(tree.to_nodes()).map_err(|e| e.to_string())?;
    if fresh.tree_hash(cs).map_err(|e| e.to_string())? != hash_after {
        return Err("a fresh tree hash differs from the cached one".into());
    }
    Ok(())
}
