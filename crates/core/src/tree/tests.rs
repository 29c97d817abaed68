//! Tests of the ratchet tree: structure, proposals, resolution, filtered direct paths,
//! cached tree hashes (including a 10 000-leaf tree), parent hashes and join validation.

use conclave_crypto::labels::sign_with_label;
use conclave_crypto::{CipherSuite, CipherSuiteProvider, CryptoProvider, SeededRng};
use conclave_crypto_rustcrypto::RustCryptoProvider;

use super::*;
use crate::credential::BasicIdentityProvider;
use crate::messages::{
    Capabilities, Credential, CredentialType, GroupContext, LeafNodeSource, Lifetime,
    ProtocolVersion,
};
use crate::validation::{LEAF_NODE_TBS_LABEL, LifetimePolicy, ValidationError};

fn cs() -> Box<dyn CipherSuiteProvider> {
    RustCryptoProvider
        .cipher_suite_provider(CipherSuite(1))
        .unwrap()
}

/// A leaf with distinct keys derived from `tag`; its signature is not valid.
fn leaf(tag: u32) -> LeafNode {
    LeafNode {
        encryption_key: HpkePublicKey(format!("enc-{tag}").into_bytes()),
        signature_key: SignaturePublicKey(format!("sig-{tag}").into_bytes()),
        credential: Credential::Basic {
            identity: tag.to_be_bytes().to_vec(),
        },
        capabilities: Capabilities::default(),
        leaf_node_source: LeafNodeSource::KeyPackage(Lifetime {
            not_before: 0,
            not_after: u64::MAX,
        }),
        extensions: Vec::new(),
        signature: vec![0; 4],
    }
}

fn parent(tag: u32, unmerged: &[u32]) -> ParentNode {
    ParentNode {
        encryption_key: HpkePublicKey(format!("penc-{tag}").into_bytes()),
        parent_hash: Vec::new(),
        unmerged_leaves: unmerged.iter().copied().map(LeafIndex).collect(),
    }
}

fn n(i: u64) -> NodeIndex {
    NodeIndex(i)
}

fn nodes_of(spec: Vec<Option<Node>>) -> RatchetTreeNodes {
    RatchetTreeNodes(spec)
}

fn tree_with_leaves(count: u32) -> RatchetTree {
    let mut tree = RatchetTree::new(leaf(0));
    for i in 1..count {
        tree.add_leaf(leaf(i)).unwrap();
    }
    tree
}

/// Whether the cached root hash equals the hash of a tree rebuilt from the wire form.
fn assert_cache_consistent(tree: &mut RatchetTree, cs: &dyn CipherSuiteProvider) {
    let cached = tree.tree_hash(cs).unwrap();
    let mut fresh = RatchetTree::from_nodes(tree.to_nodes()).unwrap();
    assert_eq!(cached, fresh.tree_hash(cs).unwrap());
    assert_eq!(
        tree.all_tree_hashes(cs).unwrap(),
        fresh.all_tree_hashes(cs).unwrap()
    );
}

// ---- structure (RFC 9420 §12.4.3.3) ---------------------------------------------------

#[test]
fn from_nodes_rejects_malformed_vectors() {
    assert_eq!(
        RatchetTree::from_nodes(nodes_of(vec![])).unwrap_err(),
        TreeError::EmptyTree
    );
    assert_eq!(
        RatchetTree::from_nodes(nodes_of(vec![Some(Node::leaf(leaf(0))), None, None])).unwrap_err(),
        TreeError::TrailingBlankNode
    );
    assert_eq!(
        RatchetTree::from_nodes(nodes_of(vec![
            Some(Node::leaf(leaf(0))),
            Some(Node::leaf(leaf(1))),
            Some(Node::leaf(leaf(2))),
        ]))
        .unwrap_err(),
        TreeError::WrongNodeType {
            node: n(1),
            expected: "parent"
        }
    );
    assert_eq!(
        RatchetTree::from_nodes(nodes_of(vec![
            Some(Node::parent(parent(0, &[]))),
            None,
            Some(Node::leaf(leaf(1))),
        ]))
        .unwrap_err(),
        TreeError::WrongNodeType {
            node: n(0),
            expected: "leaf"
        }
    );
}

#[test]
fn from_nodes_pads_to_full_size_and_round_trips() {
    // Three leaves: padded to four; export drops the trailing blanks again.
    let wire = nodes_of(vec![
        Some(Node::leaf(leaf(0))),
        Some(Node::parent(parent(1, &[]))),
        Some(Node::leaf(leaf(1))),
        None,
        Some(Node::leaf(leaf(2))),
    ]);
    let tree = RatchetTree::from_nodes(wire.clone()).unwrap();
    assert_eq!(tree.leaf_count(), 4);
    assert_eq!(tree.member_count(), 3);
    assert_eq!(tree.size().node_count(), 7);
    assert_eq!(tree.to_nodes(), wire);

    // A vector ending in a parent node implies one more (blank) leaf.
    let wire = nodes_of(vec![
        Some(Node::leaf(leaf(0))),
        Some(Node::parent(parent(1, &[]))),
        Some(Node::leaf(leaf(1))),
        None,
        Some(Node::leaf(leaf(2))),
        Some(Node::parent(parent(2, &[]))),
    ]);
    let tree = RatchetTree::from_nodes(wire.clone()).unwrap();
    assert_eq!(tree.leaf_count(), 4);
    assert_eq!(tree.to_nodes(), wire);

    let single = RatchetTree::new(leaf(7));
    assert_eq!(single.leaf_count(), 1);
    assert_eq!(single.to_nodes(), nodes_of(vec![Some(Node::leaf(leaf(7)))]));
}

#[test]
fn the_in_place_encoding_is_the_encoding_of_the_copied_nodes() {
    use crate::messages::ExtensionPayload;
    use conclave_codec::Encode;
    let trees = [
        RatchetTree::new(leaf(7)),
        RatchetTree::from_nodes(nodes_of(vec![
            Some(Node::leaf(leaf(0))),
            Some(Node::parent(parent(1, &[2]))),
            Some(Node::leaf(leaf(1))),
            None,
            Some(Node::leaf(leaf(2))),
        ]))
        .unwrap(),
        // Blank leaves and parents inside, trailing blanks at the end of the padded tree.
        RatchetTree::from_nodes(nodes_of(vec![
            None,
            None,
            Some(Node::leaf(leaf(1))),
            Some(Node::parent(parent(3, &[]))),
            None,
            None,
            Some(Node::leaf(leaf(3))),
            None,
            Some(Node::leaf(leaf(4))),
        ]))
        .unwrap(),
        tree_with_leaves(33),
    ];
    for tree in &trees {
        let copied = tree.to_nodes();
        assert_eq!(tree.nodes_to_bytes().unwrap(), copied.to_bytes().unwrap());
        assert_eq!(
            tree.ratchet_tree_extension().unwrap(),
            copied.to_extension().unwrap()
        );
    }
}

#[test]
fn lookups() {
    let tree = tree_with_leaves(5);
    assert_eq!(tree.leaf(LeafIndex(3)), Some(&leaf(3)));
    assert_eq!(tree.leaf(LeafIndex(5)), None);
    assert_eq!(tree.leaf(LeafIndex(100)), None);
    assert_eq!(
        tree.find_leaf_by_signature_key(&leaf(4).signature_key),
        Some(LeafIndex(4))
    );
    assert_eq!(
        tree.find_leaf_by_encryption_key(&leaf(2).encryption_key),
        Some(LeafIndex(2))
    );
    assert_eq!(
        tree.find_leaf_by_signature_key(&leaf(9).signature_key),
        None
    );
    assert_eq!(tree.find_leaf(&leaf(1)), Some(LeafIndex(1)));
    assert_eq!(
        tree.find_node_by_encryption_key(&leaf(1).encryption_key),
        Some(n(2))
    );
    assert_eq!(tree.members().count(), 5);
}

// ---- proposals (RFC 9420 §12.1.1–§12.1.3, §7.7) ----------------------------------------

#[test]
fn add_fills_leftmost_blank_then_extends_and_marks_unmerged() {
    let mut tree = tree_with_leaves(2);
    tree.set_parent(n(1), Some(parent(1, &[]))).unwrap();
    // No blank leaf: doubles to four leaves; the new leaf is unmerged at the new root only
    // if the root is non-blank (it is blank after extending).
    assert_eq!(tree.add_leaf(leaf(2)).unwrap(), LeafIndex(2));
    assert_eq!(tree.leaf_count(), 4);
    tree.set_parent(n(3), Some(parent(3, &[2]))).unwrap();
    assert_eq!(tree.add_leaf(leaf(3)).unwrap(), LeafIndex(3));
    assert_eq!(
        tree.parent_node(n(3)).unwrap().unmerged_leaves,
        vec![LeafIndex(2), LeafIndex(3)]
    );
    // Remove leaf 0 (blanks 1 and 3), then re-add: it goes to leaf 0, and the unmerged
    // lists stay sorted.
    tree.remove_leaf(LeafIndex(0)).unwrap();
    assert!(tree.is_blank(n(1)) && tree.is_blank(n(3)));
    tree.set_parent(n(3), Some(parent(4, &[2, 3]))).unwrap();
    assert_eq!(tree.leftmost_blank_leaf(), Some(LeafIndex(0)));
    assert_eq!(tree.add_leaf(leaf(4)).unwrap(), LeafIndex(0));
    assert_eq!(
        tree.parent_node(n(3)).unwrap().unmerged_leaves,
        vec![LeafIndex(0), LeafIndex(2), LeafIndex(3)]
    );
    assert_eq!(tree.leftmost_blank_leaf(), None);
}

#[test]
fn update_replaces_leaf_and_blanks_direct_path() {
    let mut tree = tree_with_leaves(4);
    tree.set_parent(n(1), Some(parent(1, &[]))).unwrap();
    tree.set_parent(n(3), Some(parent(3, &[]))).unwrap();
    tree.set_parent(n(5), Some(parent(5, &[]))).unwrap();
    tree.update_leaf(LeafIndex(1), leaf(11)).unwrap();
    assert_eq!(tree.leaf(LeafIndex(1)), Some(&leaf(11)));
    assert!(tree.is_blank(n(1)) && tree.is_blank(n(3)));
    assert!(!tree.is_blank(n(5)));
    assert_eq!(
        tree.update_leaf(LeafIndex(7), leaf(12)).unwrap_err(),
        TreeError::LeafOutOfRange(LeafIndex(7))
    );
}

#[test]
fn remove_blanks_and_truncates() {
    let mut tree = tree_with_leaves(5);
    assert_eq!(tree.leaf_count(), 8);
    tree.set_parent(n(11), Some(parent(11, &[]))).unwrap();
    assert_eq!(tree.remove_leaf(LeafIndex(4)).unwrap(), leaf(4));
    // Leaf 4 was the only member on the right: the tree halves.
    assert_eq!(tree.leaf_count(), 4);
    assert_eq!(
        tree.remove_leaf(LeafIndex(4)).unwrap_err(),
        TreeError::LeafOutOfRange(LeafIndex(4))
    );
    tree.remove_leaf(LeafIndex(1)).unwrap();
    assert_eq!(tree.leaf_count(), 4);
    assert_eq!(
        tree.remove_leaf(LeafIndex(1)).unwrap_err(),
        TreeError::BlankLeaf(LeafIndex(1))
    );
    tree.remove_leaf(LeafIndex(3)).unwrap();
    tree.remove_leaf(LeafIndex(2)).unwrap();
    assert_eq!(tree.leaf_count(), 1);
    assert_eq!(tree.member_count(), 1);
    // The last member: the tree never shrinks below one leaf.
    tree.remove_leaf(LeafIndex(0)).unwrap();
    assert_eq!(tree.leaf_count(), 1);
    assert_eq!(tree.member_count(), 0);
}

// ---- resolution and filtered direct path (RFC 9420 §4.1) -------------------------------

#[test]
fn resolution_matches_rfc_figure() {
    // RFC 9420 §4.1.1, "A Tree with Blanks and Unmerged Leaves": A B _ D E F _ H, X[B] at
    // node 3, Y at node 9, all other parents blank.
    let mut tree = tree_with_leaves(8);
    tree.remove_leaf(LeafIndex(2)).unwrap();
    tree.remove_leaf(LeafIndex(6)).unwrap();
    tree.set_parent(n(3), Some(parent(3, &[1]))).unwrap();
    tree.set_parent(n(9), Some(parent(9, &[]))).unwrap();
    assert_eq!(tree.resolution(n(3)), vec![n(3), n(2)]);
    assert_eq!(tree.resolution(n(4)), vec![]);
    assert_eq!(tree.resolution(n(12)), vec![]);
    assert_eq!(tree.resolution(n(7)), vec![n(3), n(2), n(9), n(14)]);
    assert_eq!(tree.resolution(n(99)), vec![]);
}

#[test]
fn filtered_direct_path_matches_rfc_table() {
    // RFC 9420 §4.1.2: A B _ _ E F G _, T (node 1), W (7), X (9), Y (11) non-blank.
    let mut tree = tree_with_leaves(8);
    tree.remove_leaf(LeafIndex(2)).unwrap();
    tree.remove_leaf(LeafIndex(3)).unwrap();
    tree.remove_leaf(LeafIndex(7)).unwrap();
    for p in [1, 7, 9, 11] {
        tree.set_parent(n(p), Some(parent(u32::try_from(p).unwrap(), &[])))
            .unwrap();
    }
    let fdp = |leaf: u32| tree.filtered_direct_path(LeafIndex(leaf));
    assert_eq!(fdp(0), vec![n(1), n(7)]);
    assert_eq!(fdp(1), vec![n(1), n(7)]);
    assert_eq!(fdp(4), vec![n(9), n(11), n(7)]);
    assert_eq!(fdp(5), vec![n(9), n(11), n(7)]);
    assert_eq!(fdp(6), vec![n(11), n(7)]);
    assert_eq!(
        tree.filtered_direct_path_with_copath(LeafIndex(6)),
        vec![(n(11), n(9)), (n(7), n(3))]
    );
    assert!(tree.filtered_direct_path(LeafIndex(8)).is_empty());
}

// ---- tree hashes (RFC 9420 §7.8) --------------------------------------------------------

#[test]
fn cached_hashes_match_fresh_computation_through_changes() {
    let cs = cs();
    let cs = cs.as_ref();
    let mut tree = RatchetTree::new(leaf(0));
    let mut rng = SeededRng::new(7);
    let mut next = 1;
    for step in 0..200u32 {
        let members: Vec<LeafIndex> = tree.members().map(|(i, _)| i).collect();
        match rng.next_u64() % 4 {
            0 | 1 => {
                tree.add_leaf(leaf(next)).unwrap();
                next += 1;
            }
            2 if members.len() > 1 => {
                let victim = members[usize::try_from(rng.next_u64()).unwrap() % members.len()];
                tree.remove_leaf(victim).unwrap();
            }
            _ => {
                let who = members[usize::try_from(rng.next_u64()).unwrap() % members.len()];
                let count = tree.filtered_direct_path(who).len();
                let keys = (0..count)
                    .map(|k| HpkePublicKey(format!("path-{step}-{k}").into_bytes()))
                    .collect();
                tree.set_path_keys(cs, who, keys).unwrap();
            }
        }
        if step % 10 == 0 {
            assert_cache_consistent(&mut tree, cs);
        }
    }
    assert_cache_consistent(&mut tree, cs);
}

#[test]
fn cache_follows_the_cipher_suite() {
    let one = cs();
    let three = RustCryptoProvider
        .cipher_suite_provider(CipherSuite(3))
        .unwrap();
    let other = RustCryptoProvider
        .cipher_suite_provider(CipherSuite(7))
        .unwrap();
    let mut tree = tree_with_leaves(3);
    let h1 = tree.tree_hash(one.as_ref()).unwrap();
    let h2 = tree.tree_hash(other.as_ref()).unwrap();
    assert_eq!(h1.len(), 32);
    assert_eq!(h2.len(), 48);
    assert_eq!(tree.tree_hash(one.as_ref()).unwrap(), h1);
    assert_eq!(tree.tree_hash(three.as_ref()).unwrap(), h1);
}

#[test]
fn ten_thousand_leaves_rehash_in_log_n() {
    let cs = cs();
    let cs = cs.as_ref();
    let mut tree = tree_with_leaves(10_000);
    assert_eq!(tree.leaf_count(), 16_384);
    assert_eq!(tree.member_count(), 10_000);
    let first = tree.tree_hash(cs).unwrap();
    // The first computation hashes every node once.
    assert_eq!(tree.tree_hash_computations(), tree.size().node_count());
    let depth = u64::from(tree.size().root().level());
    assert_eq!(depth, 14);

    // Unchanged tree: nothing to hash.
    let before = tree.tree_hash_computations();
    assert_eq!(tree.tree_hash(cs).unwrap(), first);
    assert_eq!(tree.tree_hash_computations(), before);

    // One leaf changes: the leaf and its 14 ancestors are hashed again.
    let before = tree.tree_hash_computations();
    tree.update_leaf(LeafIndex(4321), leaf(50_000)).unwrap();
    let second = tree.tree_hash(cs).unwrap();
    assert_ne!(second, first);
    assert_eq!(tree.tree_hash_computations() - before, depth + 1);

    // A committer's path: sibling hashes come from the cache; the parent hashes and the
    // new root hash cost O(log n).
    let before = tree.tree_hash_computations();
    let count = tree.filtered_direct_path(LeafIndex(9_999)).len();
    let keys = (0..count)
        .map(|k| HpkePublicKey(format!("big-path-{k}").into_bytes()))
        .collect();
    tree.set_path_keys(cs, LeafIndex(9_999), keys).unwrap();
    tree.tree_hash(cs).unwrap();
    assert!(tree.tree_hash_computations() - before <= 2 * (depth + 1));

    // A remove that truncates nothing and an add: still O(log n) each.
    let before = tree.tree_hash_computations();
    tree.remove_leaf(LeafIndex(17)).unwrap();
    tree.add_leaf(leaf(60_000)).unwrap();
    tree.tree_hash(cs).unwrap();
    assert!(tree.tree_hash_computations() - before <= 2 * (depth + 1));

    // And the result is the same as hashing from scratch.
    assert_cache_consistent(&mut tree, cs);
}

// ---- parent hashes (RFC 9420 §7.9) and join validation (§12.4.3.1) --------------------

/// Members with real signature keys, so that join validation can run end to end.
struct Group {
    group_id: Vec<u8>,
    tree: RatchetTree,
    secrets: Vec<Vec<u8>>,
    rng: SeededRng,
    next_key: u32,
}

impl Group {
    fn new(cs: &dyn CipherSuiteProvider) -> Self {
        let mut group = Group {
            group_id: b"tree-test-group".to_vec(),
            tree: RatchetTree::new(leaf(0)),
            secrets: Vec::new(),
            rng: SeededRng::new(99),
            next_key: 0,
        };
        let first = group.key_package_leaf(cs);
        group.tree.set_leaf(LeafIndex(0), Some(first)).unwrap();
        group
    }

    fn fresh_enc(&mut self) -> HpkePublicKey {
        self.next_key += 1;
        HpkePublicKey(format!("member-enc-{}", self.next_key).into_bytes())
    }

    /// A key-package leaf with a fresh signature key; its secret is kept at the index of
    /// `secrets` equal to the signature key's position in the order of creation.
    fn key_package_leaf(&mut self, cs: &dyn CipherSuiteProvider) -> LeafNode {
        let (secret, public) = cs.signature_generate(&mut self.rng).unwrap();
        self.secrets.push(secret.as_ref().to_vec());
        let mut node = leaf(0);
        node.encryption_key = self.fresh_enc();
        node.signature_key = SignaturePublicKey(public);
        node.capabilities = Capabilities {
            versions: vec![ProtocolVersion::MLS10],
            cipher_suites: vec![cs.cipher_suite()],
            credentials: vec![CredentialType::BASIC],
            ..Capabilities::default()
        };
        node.signature = sign(cs, secret.as_ref(), &node, None);
        node
    }

    fn secret_for(&self, cs: &dyn CipherSuiteProvider, leaf: &LeafNode) -> Vec<u8> {
        self.secrets
            .iter()
            .find(|s| cs.signature_public_key(s).unwrap() == leaf.signature_key.0)
            .unwrap()
            .clone()
    }

    fn add(&mut self, cs: &dyn CipherSuiteProvider) -> LeafIndex {
        let node = self.key_package_leaf(cs);
        self.tree.add_leaf(node).unwrap()
    }

    /// A commit with a path from `who`: new path keys, parent hashes, a new signed leaf.
    fn commit(&mut self, cs: &dyn CipherSuiteProvider, who: LeafIndex) {
        let count = self.tree.filtered_direct_path(who).len();
        let keys = (0..count).map(|_| self.fresh_enc()).collect();
        let ph = self.tree.set_path_keys(cs, who, keys).unwrap();
        let mut node = self.tree.leaf(who).unwrap().clone();
        let secret = self.secret_for(cs, &node);
        node.encryption_key = self.fresh_enc();
        node.leaf_node_source = LeafNodeSource::Commit(ph.clone());
        node.signature = sign(cs, &secret, &node, Some((&self.group_id, who)));
        check_committer_parent_hash(&node, &ph).unwrap();
        self.tree.set_leaf(who, Some(node)).unwrap();
    }

    /// The group context a joiner would receive: this group's id and `tree_hash`.
    fn context(&self, cs: &dyn CipherSuiteProvider, tree_hash: Vec<u8>) -> GroupContext {
        GroupContext {
            version: ProtocolVersion::MLS10,
            cipher_suite: cs.cipher_suite(),
            group_id: self.group_id.clone(),
            epoch: 1,
            tree_hash,
            confirmed_transcript_hash: Vec::new(),
            extensions: Vec::new(),
        }
    }

    /// Join validation against the tree's own hash.
    fn validate(&mut self, cs: &dyn CipherSuiteProvider) -> Result<(), TreeValidationError> {
        let hash = self.tree.tree_hash(cs)?;
        let context = self.context(cs, hash);
        self.validate_with(cs, &context)
    }

    fn validate_with(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        context: &GroupContext,
    ) -> Result<(), TreeValidationError> {
        self.tree.validate_for_join(
            cs,
            &BasicIdentityProvider,
            context,
            LifetimePolicy::Always,
            1,
        )
    }

    /// Replaces the leaf at `index` with a changed copy, re-signed (as a `key_package`
    /// leaf) when `resign` is set.
    fn change_leaf(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        index: LeafIndex,
        resign: bool,
        change: impl FnOnce(&mut LeafNode),
    ) {
        let mut node = self.tree.leaf(index).unwrap().clone();
        let secret = self.secret_for(cs, &node);
        change(&mut node);
        if resign {
            node.signature = sign(cs, &secret, &node, None);
        }
        self.tree.set_leaf(index, Some(node)).unwrap();
    }
}

fn sign(
    cs: &dyn CipherSuiteProvider,
    secret: &[u8],
    node: &LeafNode,
    group: Option<(&[u8], LeafIndex)>,
) -> Vec<u8> {
    let tbs = node.to_be_signed(group).unwrap();
    sign_with_label(cs, secret, LEAF_NODE_TBS_LABEL, &tbs).unwrap()
}

/// A group with commits, adds (unmerged leaves) and removes (blanks in the chains).
fn busy_group(cs: &dyn CipherSuiteProvider) -> Group {
    let mut group = Group::new(cs);
    for _ in 0..6 {
        group.add(cs);
    }
    group.commit(cs, LeafIndex(0));
    group.commit(cs, LeafIndex(5));
    group.add(cs);
    group.add(cs);
    group.tree.remove_leaf(LeafIndex(2)).unwrap();
    group.commit(cs, LeafIndex(3));
    group.add(cs);
    group.tree.remove_leaf(LeafIndex(6)).unwrap();
    group.add(cs);
    group
}

#[test]
fn committed_paths_are_parent_hash_valid() {
    let cs = cs();
    let cs = cs.as_ref();
    let mut group = busy_group(cs);
    assert!(group.tree.parent_nodes().count() > 0);
    assert!(
        group
            .tree
            .parent_nodes()
            .any(|(_, p)| !p.unmerged_leaves.is_empty())
    );
    group.tree.verify_parent_hashes(cs).unwrap();
    group.validate(cs).unwrap();
}

#[test]
fn tampered_parent_is_not_parent_hash_valid() {
    let cs = cs();
    let cs = cs.as_ref();
    let mut group = busy_group(cs);
    let (node, mut p) = group
        .tree
        .parent_nodes()
        .map(|(i, p)| (i, p.clone()))
        .next()
        .unwrap();
    p.encryption_key = HpkePublicKey(b"attacker".to_vec());
    group.tree.set_parent(node, Some(p)).unwrap();
    assert!(matches!(
        group.tree.verify_parent_hashes(cs),
        Err(TreeError::ParentHashInvalid { .. })
    ));
    // Join validation runs the same check.
    assert!(matches!(
        group.validate(cs),
        Err(TreeValidationError::Tree(
            TreeError::ParentHashInvalid { .. }
        ))
    ));
}

#[test]
fn set_path_keys_checks_the_path_length() {
    let cs = cs();
    let mut tree = tree_with_leaves(4);
    assert_eq!(
        tree.set_path_keys(cs.as_ref(), LeafIndex(0), vec![]),
        Err(TreeError::PathLengthMismatch {
            expected: 2,
            actual: 0
        })
    );
    let single = &mut RatchetTree::new(leaf(0));
    assert_eq!(
        single.set_path_keys(cs.as_ref(), LeafIndex(0), vec![]),
        Ok(Vec::new())
    );
    assert_eq!(
        check_committer_parent_hash(&leaf(0), &[]),
        Err(TreeError::CommitterParentHashMismatch)
    );
}

#[test]
fn join_validation_rejects_each_rule() {
    let cs = cs();
    let cs = cs.as_ref();

    // Wrong tree hash.
    let mut group = busy_group(cs);
    let context = group.context(cs, b"nope".to_vec());
    assert_eq!(
        group.validate_with(cs, &context),
        Err(TreeValidationError::Tree(TreeError::TreeHashMismatch))
    );

    // Every leaf is validated per RFC 9420 §7.3 and a bad one is named. A member added
    // since the last commit is an unmerged leaf of every parent above it, so changing it
    // leaves the parent hashes valid and only the leaf check can fail.
    let mut group = busy_group(cs);
    let joined = group.add(cs);
    group.validate(cs).unwrap();
    group.change_leaf(cs, joined, true, |node| node.capabilities.versions.clear());
    assert_eq!(
        group.validate(cs),
        Err(TreeValidationError::Leaf {
            leaf: joined,
            error: ValidationError::UnsupportedVersion(ProtocolVersion::MLS10)
        })
    );
    // Lifetimes are enforced under `LifetimePolicy::Always`.
    let mut group = busy_group(cs);
    let joined = group.add(cs);
    group.change_leaf(cs, joined, true, |node| {
        node.leaf_node_source = LeafNodeSource::KeyPackage(Lifetime {
            not_before: 5,
            not_after: 10,
        });
    });
    assert!(matches!(
        group.validate(cs),
        Err(TreeValidationError::Leaf {
            leaf,
            error: ValidationError::OutsideLifetime { .. }
        }) if leaf == joined
    ));

    // A bad leaf signature, found after the batch failed, is named.
    let mut group = busy_group(cs);
    let joined = group.add(cs);
    group.change_leaf(cs, joined, false, |node| node.signature[0] ^= 1);
    assert_eq!(
        group.validate(cs),
        Err(TreeValidationError::Leaf {
            leaf: joined,
            error: ValidationError::LeafNodeSignature
        })
    );
    // In batches smaller than the tree (as a 10 000-leaf tree is verified), a good tree
    // passes and a bad signature in a later batch is named too.
    for batch in [1, 2, 3] {
        let validate_batched = |group: &mut Group| {
            let hash = group.tree.tree_hash(cs).unwrap();
            let context = group.context(cs, hash);
            group.tree.validate_for_join_batched(
                cs,
                &BasicIdentityProvider,
                &context,
                &crate::validation::negotiation::NegotiationPolicy::default(),
                LifetimePolicy::Always,
                1,
                batch,
            )
        };
        let mut group = busy_group(cs);
        let joined = group.add(cs);
        validate_batched(&mut group).unwrap();
        group.change_leaf(cs, joined, false, |node| node.signature[0] ^= 1);
        assert_eq!(
            validate_batched(&mut group),
            Err(TreeValidationError::Leaf {
                leaf: joined,
                error: ValidationError::LeafNodeSignature
            })
        );
    }
    // `update` and `commit` leaves are signed with the group id: another id fails them.
    let mut group = busy_group(cs);
    let hash = group.tree.tree_hash(cs).unwrap();
    let mut context = group.context(cs, hash);
    context.group_id = b"other group".to_vec();
    assert!(matches!(
        group.validate_with(cs, &context),
        Err(TreeValidationError::Leaf {
            error: ValidationError::LeafNodeSignature,
            ..
        })
    ));

    // Duplicate encryption and signature keys.
    let mut group = busy_group(cs);
    let copy = group.tree.leaf(LeafIndex(0)).unwrap().clone();
    group.tree.set_leaf(LeafIndex(7), Some(copy)).unwrap();
    assert_eq!(
        group.tree.verify_unique_keys(),
        Err(TreeError::DuplicateSignatureKey {
            first: LeafIndex(0),
            second: LeafIndex(7)
        })
    );
    let mut group = busy_group(cs);
    let (node, p) = group
        .tree
        .parent_nodes()
        .map(|(i, p)| (i, p.clone()))
        .next()
        .unwrap();
    let mut clash = group.tree.leaf(LeafIndex(1)).unwrap().clone();
    clash.encryption_key = p.encryption_key.clone();
    group.tree.set_leaf(LeafIndex(1), Some(clash)).unwrap();
    assert_eq!(
        group.tree.verify_unique_keys(),
        Err(TreeError::DuplicateEncryptionKey {
            first: node.min(n(2)),
            second: node.max(n(2))
        })
    );
}

/// A leaf of a received tree may omit the group's cipher suite from its capabilities when
/// its encryption key is a key of the suite (RFC 9420 §7.3; the MLSpp leniency of
/// `LeafNodeContext::tolerates_omitted_suite`).
#[test]
fn join_validation_accepts_a_leaf_omitting_the_suite_only_with_keys_of_it() {
    let cs = cs();
    let cs = cs.as_ref();
    let mut group = busy_group(cs);
    let joined = group.add(cs);
    // The test keys are not X25519 keys: refused.
    group.change_leaf(cs, joined, true, |node| {
        node.capabilities.cipher_suites = vec![CipherSuite(2)];
    });
    assert_eq!(
        group.validate(cs),
        Err(TreeValidationError::Leaf {
            leaf: joined,
            error: ValidationError::EncryptionKeyNotOfSuite(cs.cipher_suite())
        })
    );
    // With an HPKE key of the suite: accepted.
    let key = conclave_crypto::hpke::generate_key_pair(cs, &mut SeededRng::new(5)).unwrap();
    group.change_leaf(cs, joined, true, |node| {
        node.encryption_key = HpkePublicKey(key.public_key);
    });
    group.validate(cs).unwrap();
}

#[test]
fn unmerged_leaf_rules() {
    let mut tree = tree_with_leaves(4);
    tree.set_parent(n(3), Some(parent(3, &[2, 1]))).unwrap();
    assert_eq!(
        tree.verify_unmerged_leaves(),
        Err(TreeError::UnmergedLeavesNotSorted(n(3)))
    );
    tree.set_parent(n(3), Some(parent(3, &[1]))).unwrap();
    tree.set_parent(n(1), Some(parent(1, &[]))).unwrap();
    assert_eq!(
        tree.verify_unmerged_leaves(),
        Err(TreeError::UnmergedLeafMissingBelow {
            node: n(3),
            intermediate: n(1),
            leaf: LeafIndex(1)
        })
    );
    tree.set_parent(n(1), Some(parent(1, &[1]))).unwrap();
    tree.verify_unmerged_leaves().unwrap();
    tree.set_parent(n(5), Some(parent(5, &[0]))).unwrap();
    assert_eq!(
        tree.verify_unmerged_leaves(),
        Err(TreeError::UnmergedLeafNotMember {
            node: n(5),
            leaf: LeafIndex(0)
        })
    );
    tree.set_parent(n(5), None).unwrap();
    tree.remove_leaf(LeafIndex(3)).unwrap();
    tree.set_parent(n(5), Some(parent(5, &[3]))).unwrap();
    assert_eq!(
        tree.verify_unmerged_leaves(),
        Err(TreeError::UnmergedLeafNotMember {
            node: n(5),
            leaf: LeafIndex(3)
        })
    );
}

#[test]
fn large_tree_validation_stays_near_linear() {
    let cs = cs();
    let cs = cs.as_ref();
    // Leaf 0 commits in a 5 000-member group, then 5 000 more join: the parents on leaf 0's
    // path carry thousands of unmerged leaves.
    let mut tree = tree_with_leaves(5_000);
    let count = tree.filtered_direct_path(LeafIndex(0)).len();
    let keys = (0..count)
        .map(|k| HpkePublicKey(format!("root-path-{k}").into_bytes()))
        .collect();
    let ph = tree.set_path_keys(cs, LeafIndex(0), keys).unwrap();
    let mut committer = tree.leaf(LeafIndex(0)).unwrap().clone();
    committer.leaf_node_source = LeafNodeSource::Commit(ph);
    tree.set_leaf(LeafIndex(0), Some(committer)).unwrap();
    for i in 5_000..10_000 {
        tree.add_leaf(leaf(i)).unwrap();
    }
    // The root of the 8 192-leaf tree leaf 0 committed in (the tree has since doubled).
    let old_root = n(8_191);
    assert!(tree.parent_node(old_root).unwrap().unmerged_leaves.len() > 1_000);

    let mut tree = RatchetTree::from_nodes(tree.to_nodes()).unwrap();
    tree.verify_parent_hashes(cs).unwrap();
    tree.verify_unmerged_leaves().unwrap();
    tree.verify_unique_keys().unwrap();
    // One pass of tree hashes plus the original-sibling hashes: O(n log n) at worst.
    let nodes = tree.size().node_count();
    assert!(tree.tree_hash_computations() <= nodes * 15);
}

// ---- key and credential indexes, copy-on-write clones -----------------------------------

#[test]
fn key_index_follows_replacements_blanks_and_parents() {
    let mut tree = tree_with_leaves(4);
    tree.set_parent(n(1), Some(parent(1, &[]))).unwrap();
    assert_eq!(
        tree.find_node_by_encryption_key(&parent(1, &[]).encryption_key),
        Some(n(1))
    );
    // Replacing leaf 2 forgets its old keys and learns the new ones.
    tree.set_leaf(LeafIndex(2), Some(leaf(7))).unwrap();
    assert_eq!(
        tree.find_node_by_encryption_key(&leaf(2).encryption_key),
        None
    );
    assert_eq!(
        tree.find_leaf_by_signature_key(&leaf(2).signature_key),
        None
    );
    assert_eq!(
        tree.find_leaf_by_signature_key(&leaf(7).signature_key),
        Some(LeafIndex(2))
    );
    // Blanking removes them; blanking the parent removes its key.
    tree.set_leaf(LeafIndex(2), None).unwrap();
    assert_eq!(
        tree.find_node_by_encryption_key(&leaf(7).encryption_key),
        None
    );
    tree.set_parent(n(1), None).unwrap();
    assert_eq!(
        tree.find_node_by_encryption_key(&parent(1, &[]).encryption_key),
        None
    );
    // The same key on two nodes: removing one keeps the other findable.
    let mut twin = parent(9, &[]);
    twin.encryption_key = leaf(0).encryption_key.clone();
    tree.set_parent(n(1), Some(twin)).unwrap();
    tree.set_leaf(LeafIndex(0), None).unwrap();
    assert_eq!(
        tree.find_node_by_encryption_key(&leaf(0).encryption_key),
        Some(n(1))
    );
    // A tree read from the wire has the same index.
    let copy = RatchetTree::from_nodes(tree.to_nodes()).unwrap();
    assert_eq!(
        copy.find_node_by_encryption_key(&leaf(0).encryption_key),
        Some(n(1))
    );
    assert_eq!(
        copy.find_leaf_by_signature_key(&leaf(3).signature_key),
        Some(LeafIndex(3))
    );
}

#[test]
fn member_credential_types_match_a_scan_of_the_members() {
    use crate::validation::MemberCredentialTypes;
    let x509 = CredentialType(2);
    let custom = CredentialType(0xf000);
    let mut tree = tree_with_leaves(6);
    // Leaf 1 uses X.509; leaves 0..=3 support Basic and X.509; leaf 4 supports a custom type
    // twice (duplicates count once); leaf 5 supports nothing beyond the default.
    for i in 0..6u32 {
        let mut l = leaf(i);
        if i == 1 {
            l.credential = Credential::X509 {
                certificates: Vec::new(),
            };
        }
        l.capabilities.credentials = match i {
            0..=3 => vec![CredentialType::BASIC, x509],
            4 => vec![CredentialType::BASIC, custom, custom],
            _ => vec![CredentialType::BASIC],
        };
        // Leaves 2 and 3 present multi-credentials (draft-ietf-mls-extensions-10 §6.5),
        // and the leaves differ in the suites they list.
        if let 2 | 3 = i {
            let bindings = vec![crate::messages::CredentialBinding {
                cipher_suite: CipherSuite(u16::try_from(i).unwrap()),
                credential: l.credential.clone(),
                credential_key: SignaturePublicKey(vec![1]),
                signature: Vec::new(),
            }];
            l.credential = if i == 2 {
                Credential::Multi(crate::messages::MultiCredential { bindings })
            } else {
                Credential::WeakMulti(crate::messages::WeakMultiCredential { bindings })
            };
            l.capabilities
                .credentials
                .push(l.credential.credential_type());
        }
        if i % 2 == 0 {
            l.capabilities.cipher_suites.push(CipherSuite(2));
        }
        tree.set_leaf(LeafIndex(i), Some(l)).unwrap();
    }
    let scan = |tree: &RatchetTree, except: Option<LeafIndex>| {
        MemberCredentialTypes::from_leaves(
            tree.members()
                .filter(|(i, _)| Some(*i) != except)
                .map(|(_, l)| l),
        )
    };
    let check = |tree: &RatchetTree| {
        for except in [
            None,
            Some(LeafIndex(0)),
            Some(LeafIndex(1)),
            Some(LeafIndex(2)),
            Some(LeafIndex(3)),
            Some(LeafIndex(5)),
        ] {
            assert_eq!(
                tree.member_credential_types(except),
                scan(tree, except),
                "{except:?}"
            );
        }
    };
    check(&tree);
    assert_eq!(
        tree.member_credential_types(None).multi_credentials.len(),
        2
    );
    assert_eq!(
        tree.member_credential_types(Some(LeafIndex(2)))
            .multi_credentials
            .len(),
        1
    );
    assert!(tree.member_credential_types(None).in_use.contains(&x509));
    assert!(
        !tree
            .member_credential_types(Some(LeafIndex(1)))
            .in_use
            .contains(&x509)
    );
    // Without leaves 4 and 5, every member supports X.509.
    tree.set_leaf(LeafIndex(4), None).unwrap();
    tree.set_leaf(LeafIndex(5), None).unwrap();
    check(&tree);
    assert!(
        tree.member_credential_types(None)
            .supported_by_all
            .unwrap()
            .contains(&x509)
    );
    // An empty tree has nothing to be compatible with.
    let single = RatchetTree::new(leaf(0));
    assert_eq!(
        single
            .member_credential_types(Some(LeafIndex(0)))
            .supported_by_all,
        None
    );
}

#[test]
fn a_clone_is_independent_of_its_original() {
    let cs = cs();
    let mut tree = tree_with_leaves(4);
    tree.set_parent(n(1), Some(parent(1, &[]))).unwrap();
    let before = tree.tree_hash(cs.as_ref()).unwrap();
    let mut staged = tree.clone();
    staged.set_leaf(LeafIndex(1), Some(leaf(8))).unwrap();
    staged.add_leaf(leaf(9)).unwrap();
    assert_ne!(staged.tree_hash(cs.as_ref()).unwrap(), before);
    // The original's nodes, indexes and cached hashes are untouched.
    assert_eq!(tree.leaf(LeafIndex(1)), Some(&leaf(1)));
    assert_eq!(
        tree.find_leaf_by_signature_key(&leaf(8).signature_key),
        None
    );
    assert_eq!(tree.tree_hash(cs.as_ref()).unwrap(), before);
    assert_cache_consistent(&mut tree, cs.as_ref());
    assert_cache_consistent(&mut staged, cs.as_ref());
}
