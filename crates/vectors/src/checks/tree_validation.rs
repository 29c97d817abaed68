//! Checker for `tree-validation.json` (RFC 9420 §4.1.1, §7.8, §7.9.2, §7.3,
//! §12.4.3.1).

use conclave_codec::Decode;
use conclave_core::credential::BasicIdentityProvider;
use conclave_core::group::GroupConfig;
use conclave_core::messages::{GroupContext, ProtocolVersion, RatchetTreeNodes};
use conclave_core::tree::RatchetTree;
use conclave_core::tree_math::NodeIndex;
use conclave_crypto::{CipherSuiteProvider, CryptoProvider};
use serde_json::Value;

use crate::{Report, field_hex};

/// Each case: the resolution and tree hash of every node, then the whole tree through
/// [`RatchetTree::validate_for_join`], the validation `Group::join` runs (RFC 9420
/// §12.4.3.1): the root tree hash, parent-hash validity of every parent node, every leaf
/// (§7.3, signatures with `group_id`), unmerged leaves and unique keys.
pub(crate) fn check(json: &Value, providers: &[Box<dyn CryptoProvider>], report: &mut Report) {
    report.check_suite_cases(json, providers, check_case);
}

fn check_case(cs: &dyn CipherSuiteProvider, case: &Value) -> Result<(), String> {
    let tree = field_hex(case, "tree")?;
    let group_id = field_hex(case, "group_id")?;
    let resolutions = case
        .get("resolutions")
        .and_then(Value::as_array)
        .ok_or("missing array field resolutions")?;
    let hashes = case
        .get("tree_hashes")
        .and_then(Value::as_array)
        .ok_or("missing array field tree_hashes")?;

    let nodes = RatchetTreeNodes::from_bytes(&tree).map_err(|e| e.to_string())?;
    let mut tree = RatchetTree::from_nodes(nodes).map_err(|e| e.to_string())?;
    let node_count = usize::try_from(tree.size().node_count()).map_err(|e| e.to_string())?;
    if resolutions.len() != node_count || hashes.len() != node_count {
        return Err(format!(
            "tree has {node_count} nodes; vector has {} resolutions and {} hashes",
            resolutions.len(),
            hashes.len()
        ));
    }

    for (i, expected) in resolutions.iter().enumerate() {
        let expected: Vec<u64> = expected
            .as_array()
            .ok_or("resolution is not an array")?
            .iter()
            .map(|v| v.as_u64().ok_or("resolution entry is not an integer"))
            .collect::<Result<_, _>>()?;
        let index = NodeIndex(u64::try_from(i).map_err(|e| e.to_string())?);
        let actual: Vec<u64> = tree.resolution(index).iter().map(|n| n.0).collect();
        if actual != expected {
            return Err(format!(
                "resolution of node {i}: {actual:?} != {expected:?}"
            ));
        }
    }

    let actual_hashes = tree.all_tree_hashes(cs).map_err(|e| e.to_string())?;
    for (i, (actual, expected)) in actual_hashes.iter().zip(hashes).enumerate() {
        let expected = expected.as_str().ok_or("tree hash is not a string")?;
        let expected = hex::decode(expected).map_err(|e| e.to_string())?;
        if *actual != expected {
            return Err(format!("tree hash of node {i} differs"));
        }
    }

    // The group the tree belongs to, as a joiner's GroupInfo would describe it: the vector
    // gives the group id, the suite and (as the root's tree hash) the tree hash; it has no
    // group context extensions. The leaves are judged as `Group::join` judges them with the
    // default configuration (basic credentials; KeyPackage lifetimes of leaves already in a
    // tree are not enforced, so the vectors' fixed lifetimes do not expire).
    let root = usize::try_from(tree.size().root().0).map_err(|e| e.to_string())?;
    let root_hash = hashes
        .get(root)
        .and_then(Value::as_str)
        .ok_or("no tree hash for the root")?;
    let context = GroupContext {
        version: ProtocolVersion::MLS10,
        cipher_suite: cs.cipher_suite(),
        group_id,
        epoch: 0,
        tree_hash: hex::decode(root_hash).map_err(|e| e.to_string())?,
        confirmed_transcript_hash: Vec::new(),
        extensions: Vec::new(),
    };
    let lifetime_policy = GroupConfig::default().lifetime_policy;
    tree.validate_for_join(cs, &BasicIdentityProvider, &context, lifetime_policy, 0)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use conclave_crypto::CipherSuite;

    /// The group id reaches only the join validation (it signs `update` and `commit`
    /// leaves, RFC 9420 §7.2): a wrong one must fail cases with such leaves there, so the
    /// vectors do go through `RatchetTree::validate_for_join`.
    #[test]
    fn a_wrong_group_id_fails_the_join_validation() {
        let path = crate::default_vector_dir().join("tree-validation.json");
        let json: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let provider = conclave_crypto_rustcrypto::RustCryptoProvider;
        let cs = provider.cipher_suite_provider(CipherSuite(1)).unwrap();
        let mut failed = 0;
        for (_, case) in crate::cases(&json) {
            if crate::field_u64(case, "cipher_suite").unwrap() != 1 {
                continue;
            }
            check_case(cs.as_ref(), case).unwrap();
            let mut bad = case.clone();
            bad["group_id"] = Value::from(hex::encode(b"another group"));
            if let Err(reason) = check_case(cs.as_ref(), &bad) {
                assert!(reason.contains("LeafNode signature"), "{reason}");
                failed += 1;
            }
        }
        assert!(failed > 0);
    }
}
