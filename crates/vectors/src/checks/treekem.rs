//! Checker for `treekem.json` (RFC 9420 §7.4–§7.6, §7.9): decrypting the given UpdatePaths
//! as every other member, the tree hash after merging, and creating a new UpdatePath that
//! every other member decrypts to the same commit secret.

use conclave_codec::{Decode, Encode};
use conclave_core::messages::{
    GroupContext, LeafIndex, LeafNode, LeafNodeSource, ProtocolVersion, RatchetTreeNodes,
    UpdatePath,
};
use conclave_core::tree::{RatchetTree, check_committer_parent_hash};
use conclave_core::tree_math::NodeIndex;
use conclave_core::treekem::{GeneratedPath, NodeKey, PrivateTree, decrypt_path};
use conclave_core::validation::LEAF_NODE_TBS_LABEL;
use conclave_crypto::{CipherSuiteProvider, CryptoProvider, SeededRng, labels};
use serde_json::Value;

use crate::{Report, field_hex, field_u64};

/// One check per case and provider.
pub(crate) fn check(json: &Value, providers: &[Box<dyn CryptoProvider>], report: &mut Report) {
    report.check_suite_cases(json, providers, check_case);
}

/// A member's private state from the vector.
struct Member {
    leaf: LeafIndex,
    private: PrivateTree,
    signature_key: Vec<u8>,
}

fn check_case(cs: &dyn CipherSuiteProvider, case: &Value) -> Result<(), String> {
    let group_id = field_hex(case, "group_id")?;
    let epoch = field_u64(case, "epoch")?;
    let confirmed_transcript_hash = field_hex(case, "confirmed_transcript_hash")?;
    let nodes = RatchetTreeNodes::from_bytes(&field_hex(case, "ratchet_tree")?)
        .map_err(|e| format!("ratchet_tree: {e}"))?;
    let tree = RatchetTree::from_nodes(nodes).map_err(|e| format!("ratchet_tree: {e}"))?;
    let members = load_members(cs, &tree, case)?;
    let context = |tree_hash: Vec<u8>| -> Result<Vec<u8>, String> {
        GroupContext {
            version: ProtocolVersion::MLS10,
            cipher_suite: cs.cipher_suite(),
            group_id: group_id.clone(),
            epoch,
            tree_hash,
            confirmed_transcript_hash: confirmed_transcript_hash.clone(),
            extensions: Vec::new(),
        }
        .to_bytes()
        .map_err(|e| e.to_string())
    };
    let update_paths = case
        .get("update_paths")
        .and_then(Value::as_array)
        .ok_or("update_paths")?;
    if update_paths.is_empty() {
        return Err("no update_paths".into());
    }
    let mut rng = SeededRng::new(epoch ^ u64::from(cs.cipher_suite().0));
    for (n, entry) in update_paths.iter().enumerate() {
        let sender =
            LeafIndex(u32::try_from(field_u64(entry, "sender")?).map_err(|e| e.to_string())?);
        let path = UpdatePath::from_bytes(&field_hex(entry, "update_path")?)
            .map_err(|e| format!("update_path {n}: {e}"))?;
        let mut merged = tree.clone();
        merge(cs, &mut merged, sender, &path).map_err(|e| format!("update_path {n}: {e}"))?;
        let tree_hash_after = merged.tree_hash(cs).map_err(|e| e.to_string())?;
        if tree_hash_after != field_hex(entry, "tree_hash_after")? {
            return Err(format!("update_path {n}: tree_hash_after differs"));
        }
        let provisional = context(tree_hash_after)?;
        let expected_secrets = entry
            .get("path_secrets")
            .and_then(Value::as_array)
            .ok_or("path_secrets")?;
        let commit_secret = field_hex(entry, "commit_secret")?;
        for member in members.iter().filter(|m| m.leaf != sender) {
            let decrypted = decrypt_path(
                cs,
                &merged,
                sender,
                &path,
                &member.private,
                &[],
                &provisional,
                None,
            )
            .map_err(|e| format!("update_path {n}, leaf {}: {e}", member.leaf.0))?;
            let expected = expected_secrets
                .get(member.leaf.0 as usize)
                .and_then(Value::as_str)
                .ok_or_else(|| format!("no path secret for leaf {}", member.leaf.0))?;
            if hex::encode(decrypted.path_secret.as_bytes()) != expected {
                return Err(format!(
                    "update_path {n}, leaf {}: path secret differs",
                    member.leaf.0
                ));
            }
            if decrypted.commit_secret.as_bytes() != commit_secret.as_slice() {
                return Err(format!(
                    "update_path {n}, leaf {}: commit secret differs",
                    member.leaf.0
                ));
            }
        }

        // Our own UpdatePath from the same sender must decrypt to our commit secret.
        let signer = members
            .iter()
            .find(|m| m.leaf == sender)
            .ok_or_else(|| format!("no private state for sender {}", sender.0))?;
        let mut ours = tree.clone();
        let generated =
            GeneratedPath::generate(cs, &ours, sender, &mut rng).map_err(|e| e.to_string())?;
        let parent_hash = ours
            .set_path_keys(cs, sender, generated.public_keys())
            .map_err(|e| e.to_string())?;
        let mut leaf = tree.leaf(sender).cloned().ok_or("sender leaf is blank")?;
        leaf.encryption_key = generated.leaf_public_key().clone();
        leaf.leaf_node_source = LeafNodeSource::Commit(parent_hash);
        sign_leaf(cs, &mut leaf, &signer.signature_key, &group_id, sender)?;
        ours.set_leaf(sender, Some(leaf.clone()))
            .map_err(|e| e.to_string())?;
        let provisional = context(ours.tree_hash(cs).map_err(|e| e.to_string())?)?;
        let new_path = generated
            .encrypt(cs, &ours, &[], &provisional, leaf, &mut rng)
            .map_err(|e| e.to_string())?;
        // Receivers merge the path as received.
        let mut received = tree.clone();
        merge(cs, &mut received, sender, &new_path).map_err(|e| format!("own path: {e}"))?;
        for member in members.iter().filter(|m| m.leaf != sender) {
            let decrypted = decrypt_path(
                cs,
                &received,
                sender,
                &new_path,
                &member.private,
                &[],
                &provisional,
                None,
            )
            .map_err(|e| format!("own path, leaf {}: {e}", member.leaf.0))?;
            if decrypted.commit_secret != *generated.commit_secret() {
                return Err(format!(
                    "own path, leaf {}: commit secret differs",
                    member.leaf.0
                ));
            }
        }
    }
    Ok(())
}

/// Merges an UpdatePath into `tree` as a receiver does (RFC 9420 §7.6, §7.9.2), checking the
/// sender's parent hash.
fn merge(
    cs: &dyn CipherSuiteProvider,
    tree: &mut RatchetTree,
    sender: LeafIndex,
    path: &UpdatePath,
) -> Result<(), String> {
    let keys = path
        .nodes
        .iter()
        .map(|n| n.encryption_key.clone())
        .collect();
    let parent_hash = tree
        .set_path_keys(cs, sender, keys)
        .map_err(|e| e.to_string())?;
    check_committer_parent_hash(&path.leaf_node, &parent_hash).map_err(|e| e.to_string())?;
    tree.set_leaf(sender, Some(LeafNode::clone(&path.leaf_node)))
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Signs `LeafNodeTBS` for a leaf at `leaf` of group `group_id` (RFC 9420 §7.2).
fn sign_leaf(
    cs: &dyn CipherSuiteProvider,
    leaf_node: &mut LeafNode,
    signature_key: &[u8],
    group_id: &[u8],
    leaf: LeafIndex,
) -> Result<(), String> {
    let tbs = leaf_node
        .to_be_signed(Some((group_id, leaf)))
        .map_err(|e| e.to_string())?;
    let key = crate::signature_secret_key(cs, signature_key.to_vec())?;
    leaf_node.signature = labels::sign_with_label(cs, key.as_bytes(), LEAF_NODE_TBS_LABEL, &tbs)
        .map_err(|e| e.to_string())?;
    Ok(())
}

fn load_members(
    cs: &dyn CipherSuiteProvider,
    tree: &RatchetTree,
    case: &Value,
) -> Result<Vec<Member>, String> {
    let entries = case
        .get("leaves_private")
        .and_then(Value::as_array)
        .ok_or("leaves_private")?;
    let mut members = Vec::with_capacity(entries.len());
    for entry in entries {
        let leaf = LeafIndex(u32::try_from(field_u64(entry, "index")?).map_err(|e| e.to_string())?);
        let leaf_node = tree
            .leaf(leaf)
            .ok_or_else(|| format!("leaf {} is blank", leaf.0))?;
        let key = NodeKey {
            secret_key: field_hex(entry, "encryption_priv")?.into(),
            public_key: leaf_node.encryption_key.clone(),
        };
        if cs
            .dh_public_key(key.secret_key.as_bytes())
            .map_err(|e| e.to_string())?
            != key.public_key.as_ref()
        {
            return Err(format!(
                "leaf {}: encryption_priv does not match the tree",
                leaf.0
            ));
        }
        let mut private = PrivateTree::new(leaf, key);
        for secret in entry
            .get("path_secrets")
            .and_then(Value::as_array)
            .ok_or("path_secrets")?
        {
            let node = NodeIndex(field_u64(secret, "node")?);
            private
                .insert_path(cs, &[node], field_hex(secret, "path_secret")?.into())
                .map_err(|e| e.to_string())?;
        }
        if !private.is_consistent_with(tree) {
            return Err(format!(
                "leaf {}: private state inconsistent with the tree",
                leaf.0
            ));
        }
        members.push(Member {
            leaf,
            private,
            signature_key: field_hex(entry, "signature_priv")?,
        });
    }
    Ok(members)
}
