//! Checker for `tree-math.json`: node count, root, and the left / right / parent / sibling
//! relations of every node (RFC 9420 Appendix C). Suite-independent: one check per case.

use conclave_core::tree_math::{NodeIndex, TreeSize};
use conclave_crypto::CryptoProvider;
use serde_json::Value;

use crate::{Report, cases, field_u64};

/// Checks every case of the file.
pub(crate) fn check(json: &Value, _: &[Box<dyn CryptoProvider>], report: &mut Report) {
    for (i, case) in cases(json) {
        report.record(|| format!("case {i}"), check_case(case));
    }
}

/// A node relation of a tree: left, right, parent or sibling.
type Relation = fn(TreeSize, NodeIndex) -> Option<NodeIndex>;

fn check_case(case: &Value) -> Result<(), String> {
    let n_leaves = u32::try_from(field_u64(case, "n_leaves")?).map_err(|e| e.to_string())?;
    let size = TreeSize::new(n_leaves).ok_or("n_leaves is 0")?;
    let n_nodes = field_u64(case, "n_nodes")?;
    if size.node_count() != n_nodes {
        return Err(format!("node_count {} != {n_nodes}", size.node_count()));
    }
    let root = field_u64(case, "root")?;
    if size.root().0 != root {
        return Err(format!("root {} != {root}", size.root().0));
    }
    let relations: [(&str, Relation); 4] = [
        ("left", TreeSize::left),
        ("right", TreeSize::right),
        ("parent", TreeSize::parent),
        ("sibling", TreeSize::sibling),
    ];
    for (name, relation) in relations {
        let expected = case
            .get(name)
            .and_then(Value::as_array)
            .ok_or_else(|| format!("missing array {name}"))?;
        if u64::try_from(expected.len()).ok() != Some(n_nodes) {
            return Err(format!(
                "{name} has {} entries, expected {n_nodes}",
                expected.len()
            ));
        }
        for (x, want) in (0u64..).zip(expected) {
            let want = match want {
                Value::Null => None,
                v => Some(
                    v.as_u64()
                        .ok_or_else(|| format!("{name}[{x}] is not an integer"))?,
                ),
            };
            let got = relation(size, NodeIndex(x)).map(|n| n.0);
            if got != want {
                return Err(format!("{name}({x}) = {got:?}, expected {want:?}"));
            }
        }
    }
    Ok(())
}
