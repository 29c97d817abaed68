//! TreeKEM (RFC 9420 §7.4–§7.6): generating an UpdatePath's secrets, encrypting path secrets
//! to the group, decrypting them, and the private keys a member holds for tree nodes.
//!
//! The public side of an UpdatePath (blanking the sender's direct path, setting the new node
//! keys and the parent-hash chain) lives on [`RatchetTree::set_path_keys`]; this module
//! handles the secrets.

use std::collections::BTreeMap;

use conclave_crypto::hpke::HpkeKeyPair;
use conclave_crypto::{CipherSuiteProvider, CryptoError, CryptoRandom, Secret, labels};

use crate::messages::{
    EncryptedPathSecrets, HpkeCiphertextRef, HpkePublicKey, LeafIndex, LeafNode, UpdatePath,
    UpdatePathNode,
};
use crate::tree::{RatchetTree, TreeError};
use crate::tree_math::NodeIndex;

/// Label of path-secret encryption (RFC 9420 §7.6).
pub(crate) const UPDATE_PATH_NODE_LABEL: &str = "UpdatePathNode";

/// Why a TreeKEM operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TreeKemError {
    /// A cryptographic operation failed.
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
    /// The tree rejected an operation.
    #[error("tree: {0}")]
    Tree(#[from] TreeError),
    /// The UpdatePath does not have one node per filtered-direct-path node (RFC 9420 §12.4.2).
    #[error(
        "UpdatePath has {actual} nodes but the sender's filtered direct path has {expected} \
         (RFC 9420 §12.4.2)"
    )]
    PathLengthMismatch {
        /// Length of the filtered direct path.
        expected: usize,
        /// Nodes in the UpdatePath.
        actual: usize,
    },
    /// An UpdatePathNode has the wrong number of ciphertexts (RFC 9420 §7.6).
    #[error(
        "UpdatePathNode for node {node:?} has {actual} ciphertexts, but the copath resolution \
         has {expected} nodes (RFC 9420 §7.6)"
    )]
    CiphertextCountMismatch {
        /// The filtered-direct-path node.
        node: NodeIndex,
        /// Size of the copath child's resolution, new members excluded.
        expected: usize,
        /// Ciphertexts present.
        actual: usize,
    },
    /// We hold no private key for any node the path secret was encrypted to.
    #[error("no private key for any node the path secret was encrypted to (RFC 9420 §7.6)")]
    NoDecryptionKey,
    /// A public key derived from a decrypted path secret differs from the UpdatePath's
    /// (RFC 9420 §7.6, step 6 of decryption).
    #[error("derived public key of node {0:?} differs from the UpdatePath (RFC 9420 §7.6)")]
    PublicKeyMismatch(NodeIndex),
    /// The member is the sender of the path: it cannot decrypt its own UpdatePath.
    #[error("cannot decrypt our own UpdatePath")]
    OwnPath,
}

/// An HPKE key pair held for one tree node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeKey {
    /// The private key.
    pub secret_key: Secret,
    /// The matching public key, as it appears in the tree.
    pub public_key: HpkePublicKey,
}

impl From<HpkeKeyPair> for NodeKey {
    fn from(pair: HpkeKeyPair) -> Self {
        Self {
            secret_key: pair.secret_key,
            public_key: HpkePublicKey(pair.public_key),
        }
    }
}

/// The private keys a member holds: its leaf's and those of nodes on its direct path
/// (RFC 9420 §4.2 tree invariant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateTree {
    own_leaf: LeafIndex,
    keys: BTreeMap<NodeIndex, NodeKey>,
}

impl PrivateTree {
    /// The private state of a member at `own_leaf` holding only its leaf key.
    pub fn new(own_leaf: LeafIndex, leaf_key: NodeKey) -> Self {
        let mut keys = BTreeMap::new();
        keys.insert(own_leaf.node(), leaf_key);
        Self { own_leaf, keys }
    }

    /// The member's leaf.
    pub fn own_leaf(&self) -> LeafIndex {
        self.own_leaf
    }

    /// The key held for `node`, if any.
    pub fn key(&self, node: NodeIndex) -> Option<&NodeKey> {
        self.keys.get(&node)
    }

    /// Every node a key is held for, with its key (ascending node index).
    pub fn keys(&self) -> impl Iterator<Item = (NodeIndex, &NodeKey)> {
        self.keys.iter().map(|(n, k)| (*n, k))
    }

    /// Stores the key of `node`, replacing any previous one.
    pub fn insert(&mut self, node: NodeIndex, key: NodeKey) {
        self.keys.insert(node, key);
    }

    /// Moves the member to another leaf (external commit resync), keeping only `leaf_key`.
    pub fn reset(&mut self, own_leaf: LeafIndex, leaf_key: NodeKey) {
        *self = Self::new(own_leaf, leaf_key);
    }

    /// Stores the keys of `path_secret` at `start` and of the secrets derived from it for the
    /// following nodes of `path` (RFC 9420 §7.4), returning the secret after the last node
    /// (the commit secret, when `path` is a whole filtered direct path).
    pub fn insert_path(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        path: &[NodeIndex],
        path_secret: Secret,
    ) -> Result<Secret, TreeKemError> {
        let mut secret = path_secret;
        for node in path {
            let pair = labels::node_key_pair_from_path_secret(cs, secret.as_bytes())?;
            self.keys.insert(*node, pair.into());
            secret = labels::derive_secret(cs, secret.as_bytes(), "path")?;
        }
        Ok(secret)
    }

    /// Forgets keys whose node is blank in `tree` or now carries another public key (after
    /// proposals blanked or a commit replaced nodes; RFC 9420 §7.6 deletion of outdated keys).
    pub fn prune(&mut self, tree: &RatchetTree) {
        self.keys
            .retain(|node, key| tree.encryption_key(*node) == Some(&key.public_key));
    }

    /// Checks the tree invariant for our keys: every node we hold a key for is non-blank and
    /// carries our public key (RFC 9420 §4.2).
    pub fn is_consistent_with(&self, tree: &RatchetTree) -> bool {
        self.keys
            .iter()
            .all(|(node, key)| tree.encryption_key(*node) == Some(&key.public_key))
    }
}

/// The secrets of one node of a new UpdatePath.
#[derive(Debug, Clone)]
struct PathNodeSecret {
    node: NodeIndex,
    copath_child: NodeIndex,
    path_secret: Secret,
    key: NodeKey,
}

/// The secrets a committer generates for its UpdatePath (RFC 9420 §7.4): a fresh leaf key
/// pair, path secrets along the filtered direct path, and the commit secret.
#[derive(Debug, Clone)]
pub struct GeneratedPath {
    sender: LeafIndex,
    leaf_key: NodeKey,
    nodes: Vec<PathNodeSecret>,
    commit_secret: Secret,
}

impl GeneratedPath {
    /// Generates the path secrets of `sender` over `tree` (the tree with the commit's
    /// proposals applied): `path_secret[0]` at random, `path_secret[n] =
    /// DeriveSecret(path_secret[n-1], "path")`, node keys from `DeriveSecret(., "node")`, and
    /// the commit secret as the next secret after the last node (RFC 9420 §7.4, §12.4.2).
    pub fn generate(
        cs: &dyn CipherSuiteProvider,
        tree: &RatchetTree,
        sender: LeafIndex,
        rng: &mut dyn CryptoRandom,
    ) -> Result<Self, TreeKemError> {
        let leaf_key = conclave_crypto::hpke::generate_key_pair(cs, rng)?.into();
        let mut secret = vec![0u8; cs.hash_len()];
        rng.fill(&mut secret)?;
        let mut secret = Secret::new(secret);
        let mut nodes = Vec::new();
        for (node, copath_child) in tree.filtered_direct_path_with_copath(sender) {
            let key = labels::node_key_pair_from_path_secret(cs, secret.as_bytes())?.into();
            let next = labels::derive_secret(cs, secret.as_bytes(), "path")?;
            nodes.push(PathNodeSecret {
                node,
                copath_child,
                path_secret: secret,
                key,
            });
            secret = next;
        }
        Ok(Self {
            sender,
            leaf_key,
            nodes,
            commit_secret: secret,
        })
    }

    /// The new leaf's HPKE public key (goes into the committer's new LeafNode).
    pub fn leaf_public_key(&self) -> &HpkePublicKey {
        &self.leaf_key.public_key
    }

    /// The new public keys of the filtered direct path, bottom-up (for
    /// [`RatchetTree::set_path_keys`]).
    pub fn public_keys(&self) -> Vec<HpkePublicKey> {
        self.nodes
            .iter()
            .map(|n| n.key.public_key.clone())
            .collect()
    }

    /// The commit secret (RFC 9420 §12.4.2).
    pub fn commit_secret(&self) -> &Secret {
        &self.commit_secret
    }

    /// The path secret of `node`, if it is on the filtered direct path.
    pub fn path_secret(&self, node: NodeIndex) -> Option<&Secret> {
        self.nodes
            .iter()
            .find(|n| n.node == node)
            .map(|n| &n.path_secret)
    }

    /// The path secret a new member at `joiner` receives in its Welcome: the one of the
    /// lowest filtered-direct-path node above both the committer and the joiner
    /// (RFC 9420 §12.4.3.1).
    pub fn path_secret_for_joiner(&self, tree: &RatchetTree, joiner: LeafIndex) -> Option<&Secret> {
        // The joiner's leaf is in the common ancestor's copath child, so that child's
        // resolution is non-empty and the ancestor is on the filtered direct path.
        let ancestor = tree
            .size()
            .common_ancestor(self.sender.node(), joiner.node())?;
        self.path_secret(ancestor)
    }

    /// Encrypts each path secret to the resolution of its copath child, excluding the
    /// leaves added by this commit (RFC 9420 §7.6), with the provisional GroupContext as
    /// context, and assembles the UpdatePath with the committer's signed `leaf_node`.
    ///
    /// `tree` is the tree after the path was merged (resolutions of copath children are the
    /// same before and after merging).
    pub fn encrypt(
        &self,
        cs: &dyn CipherSuiteProvider,
        tree: &RatchetTree,
        new_leaves: &[LeafIndex],
        provisional_context: &[u8],
        leaf_node: LeafNode,
        rng: &mut dyn CryptoRandom,
    ) -> Result<UpdatePath, TreeKemError> {
        let mut resolution = Vec::new();
        // Every ciphertext of the path shares the context: hash it once.
        let prepared =
            labels::prepare_encrypt_context(cs, UPDATE_PATH_NODE_LABEL, provisional_context)?;
        let mut new_leaves = new_leaves.to_vec();
        new_leaves.sort_unstable();
        // One encryption per (path secret, recipient), in UpdatePath order.
        let mut jobs: Vec<(&[u8], &Secret)> = Vec::new();
        let mut per_node = Vec::with_capacity(self.nodes.len());
        for secret in &self.nodes {
            resolution.clear();
            tree.resolution_into(secret.copath_child, &mut resolution);
            let before = jobs.len();
            for target in &resolution {
                if is_new_leaf(*target, &new_leaves) {
                    continue;
                }
                let key = tree
                    .encryption_key(*target)
                    .ok_or(TreeError::NodeOutOfRange(*target))?;
                jobs.push((key.as_ref(), &secret.path_secret));
            }
            per_node.push(jobs.len().saturating_sub(before));
        }
        let ciphertexts = crate::parallel::try_map_with_random(
            &jobs,
            conclave_crypto::hpke::encap_randomness_len(cs.kem()),
            rng,
            |(key, path_secret), rng| {
                labels::encrypt_with_label_prepared(cs, key, &prepared, path_secret.as_bytes(), rng)
                    .map_err(TreeKemError::from)
            },
        )?;
        let mut ciphertexts = ciphertexts.iter();
        let nodes = self
            .nodes
            .iter()
            .zip(per_node)
            .map(|(secret, count)| {
                Ok(UpdatePathNode {
                    encryption_key: secret.key.public_key.clone(),
                    encrypted_path_secret: EncryptedPathSecrets::from_ciphertexts(
                        ciphertexts
                            .by_ref()
                            .take(count)
                            .map(|ct| HpkeCiphertextRef {
                                kem_output: &ct.kem_output,
                                ciphertext: &ct.ciphertext,
                            }),
                    )
                    .map_err(TreeError::from)?,
                })
            })
            .collect::<Result<_, TreeKemError>>()?;
        Ok(UpdatePath {
            leaf_node: Box::new(leaf_node),
            nodes,
        })
    }

    /// The committer's private keys after the commit: its new leaf key and every node of its
    /// filtered direct path.
    pub fn into_private_tree(self) -> PrivateTree {
        let mut private = PrivateTree::new(self.sender, self.leaf_key);
        for node in self.nodes {
            private.insert(node.node, node.key);
        }
        private
    }
}

/// Whether `node` is the leaf of a member added by the current commit (`new_leaves`
/// sorted): those are left out of the resolutions (RFC 9420 §12.4.2).
fn is_new_leaf(node: NodeIndex, new_leaves: &[LeafIndex]) -> bool {
    node.leaf()
        .is_some_and(|leaf| new_leaves.binary_search(&leaf).is_ok())
}

/// What a receiver learns from an UpdatePath.
#[derive(Debug, Clone)]
pub struct DecryptedPath {
    /// The node whose path secret was decrypted (the lowest common ancestor of the sender
    /// and the receiver).
    pub node: NodeIndex,
    /// The decrypted path secret.
    pub path_secret: Secret,
    /// The commit secret (RFC 9420 §12.4.2).
    pub commit_secret: Secret,
    /// The new keys of the decrypted node and the filtered-direct-path nodes above it.
    pub keys: Vec<(NodeIndex, NodeKey)>,
}

/// Decrypts the path secret of an UpdatePath from `sender` (RFC 9420 §7.6): finds the
/// filtered-direct-path node whose copath child holds the receiver, decrypts the ciphertext
/// for a resolution node it has a private key for, derives the secrets above, and checks
/// every derived public key against the UpdatePath.
///
/// `tree` is the tree with the proposals applied and the path merged; `private` the
/// receiver's keys before the commit. `single` is the one ciphertext of a per-member split
/// commit (draft-mularczyk-mls-splitcommit-00 §3), used in place of the UpdatePath node's
/// list (then empty).
// The arguments are the RFC's inputs to path decryption, one each; a struct would only
// rename them.
#[allow(clippy::too_many_arguments)]
pub fn decrypt_path(
    cs: &dyn CipherSuiteProvider,
    tree: &RatchetTree,
    sender: LeafIndex,
    update_path: &UpdatePath,
    private: &PrivateTree,
    new_leaves: &[LeafIndex],
    provisional_context: &[u8],
    single: Option<HpkeCiphertextRef<'_>>,
) -> Result<DecryptedPath, TreeKemError> {
    if private.own_leaf() == sender {
        return Err(TreeKemError::OwnPath);
    }
    let path = tree.filtered_direct_path_with_copath(sender);
    if path.len() != update_path.nodes.len() {
        return Err(TreeKemError::PathLengthMismatch {
            expected: path.len(),
            actual: update_path.nodes.len(),
        });
    }
    let own = private.own_leaf().node();
    let position = path
        .iter()
        .position(|(_, copath_child)| own.is_in_subtree_of(*copath_child))
        .ok_or(TreeKemError::NoDecryptionKey)?;
    let (Some((node, copath_child)), Some(path_node)) =
        (path.get(position), update_path.nodes.get(position))
    else {
        return Err(TreeKemError::NoDecryptionKey);
    };
    let mut new_leaves = new_leaves.to_vec();
    new_leaves.sort_unstable();
    let resolution: Vec<NodeIndex> = tree
        .resolution(*copath_child)
        .into_iter()
        .filter(|n| !is_new_leaf(*n, &new_leaves))
        .collect();
    let held = |target: &NodeIndex| {
        private
            .key(*target)
            .filter(|key| tree.encryption_key(*target) == Some(&key.public_key))
            .map(|key| &key.secret_key)
    };
    let (secret_key, ciphertext) = match single {
        // A per-member split commit carries only the ciphertext for the resolution node
        // the receiver holds a key for (draft-mularczyk-mls-splitcommit-00 §3).
        Some(ciphertext) => (
            resolution
                .iter()
                .find_map(held)
                .ok_or(TreeKemError::NoDecryptionKey)?,
            ciphertext,
        ),
        None => {
            if resolution.len() != path_node.encrypted_path_secret.len() {
                return Err(TreeKemError::CiphertextCountMismatch {
                    node: *node,
                    expected: resolution.len(),
                    actual: path_node.encrypted_path_secret.len(),
                });
            }
            resolution
                .iter()
                .zip(path_node.encrypted_path_secret.iter())
                .find_map(|(target, ct)| held(target).map(|key| (key, ct)))
                .ok_or(TreeKemError::NoDecryptionKey)?
        }
    };
    let path_secret = labels::decrypt_with_label(
        cs,
        secret_key.as_bytes(),
        UPDATE_PATH_NODE_LABEL,
        provisional_context,
        ciphertext.kem_output,
        ciphertext.ciphertext,
    )?;
    let mut keys = Vec::new();
    let mut secret = path_secret.clone();
    for ((path_node_index, _), sent) in path.iter().zip(&update_path.nodes).skip(position) {
        let key: NodeKey = labels::node_key_pair_from_path_secret(cs, secret.as_bytes())?.into();
        if key.public_key != sent.encryption_key {
            return Err(TreeKemError::PublicKeyMismatch(*path_node_index));
        }
        keys.push((*path_node_index, key));
        secret = labels::derive_secret(cs, secret.as_bytes(), "path")?;
    }
    Ok(DecryptedPath {
        node: *node,
        path_secret,
        commit_secret: secret,
        keys,
    })
}

/// Stored form of one node key.
#[derive(conclave_codec::Encode, conclave_codec::Decode)]
struct StoredNodeKey {
    node: u64,
    secret_key: Secret,
    public_key: HpkePublicKey,
}

/// Stored form of the private tree.
#[derive(conclave_codec::Encode, conclave_codec::Decode)]
struct StoredPrivateTree {
    own_leaf: LeafIndex,
    keys: Vec<StoredNodeKey>,
}

impl conclave_codec::Encode for PrivateTree {
    fn encoded_len(&self) -> usize {
        4 + conclave_codec::varint_len(self.keys_len()) + self.keys_len()
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), conclave_codec::CodecError> {
        StoredPrivateTree {
            own_leaf: self.own_leaf,
            keys: self
                .keys
                .iter()
                .map(|(node, key)| StoredNodeKey {
                    node: node.0,
                    secret_key: key.secret_key.clone(),
                    public_key: key.public_key.clone(),
                })
                .collect(),
        }
        .encode(out)
    }
}

impl PrivateTree {
    /// Encoded length of the stored key list body.
    fn keys_len(&self) -> usize {
        use conclave_codec::Encode as _;
        self.keys
            .values()
            .map(|k| 8 + k.secret_key.encoded_len() + k.public_key.encoded_len())
            .sum()
    }
}

impl conclave_codec::Decode for PrivateTree {
    fn decode(reader: &mut conclave_codec::Reader<'_>) -> Result<Self, conclave_codec::CodecError> {
        let stored = StoredPrivateTree::decode(reader)?;
        Ok(Self {
            own_leaf: stored.own_leaf,
            keys: stored
                .keys
                .into_iter()
                .map(|k| {
                    (
                        NodeIndex(k.node),
                        NodeKey {
                            secret_key: k.secret_key,
                            public_key: k.public_key,
                        },
                    )
                })
                .collect(),
        })
    }
}
