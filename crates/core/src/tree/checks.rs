//! Validating a ratchet tree received when joining (RFC 9420 §12.4.3.1): one named check
//! per rule of the tree itself, and [`RatchetTree::validate_for_join`], which runs them all
//! together with the LeafNode validation of every leaf (RFC 9420 §7.3, through
//! [`crate::validation::LeafNodeValidator`]).

use std::collections::HashMap;

use conclave_crypto::CipherSuiteProvider;

use super::{RatchetTree, TreeError, TreeValidationError};
use crate::credential::IdentityProvider;
use crate::messages::{GroupContext, LeafIndex, LeafNode};
use crate::tree_math::NodeIndex;
use crate::validation::negotiation::NegotiationPolicy;
use crate::validation::{
    DeferredSignature, GroupRequirements, LeafNodeContext, LeafNodeValidator, LifetimePolicy,
    UsedLeafKeys, verify_deferred,
};

impl RatchetTree {
    /// The tree hash matches the one in the GroupInfo's GroupContext (RFC 9420 §12.4.3.1,
    /// §12.4.3.3).
    pub fn verify_tree_hash(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        expected: &[u8],
    ) -> Result<(), TreeError> {
        if self.tree_hash(cs)? == expected {
            Ok(())
        } else {
            Err(TreeError::TreeHashMismatch)
        }
    }

    /// For every non-blank parent and each of its `unmerged_leaves` (RFC 9420 §7.1,
    /// §12.4.3.1): the list is strictly increasing; the entry is a non-blank leaf below the
    /// parent; every non-blank node between that leaf and the parent lists it too.
    pub fn verify_unmerged_leaves(&self) -> Result<(), TreeError> {
        for (node, parent) in self.parent_nodes() {
            if parent
                .unmerged_leaves
                .windows(2)
                .any(|w| w.first() >= w.last())
            {
                return Err(TreeError::UnmergedLeavesNotSorted(node));
            }
        }
        // Every list is sorted now, so membership is a binary search.
        for (node, parent) in self.parent_nodes() {
            for &leaf in &parent.unmerged_leaves {
                let below = self
                    .size
                    .leaf_range(node)
                    .is_some_and(|(first, last)| first <= leaf && leaf <= last);
                if !below || self.leaf(leaf).is_none() {
                    return Err(TreeError::UnmergedLeafNotMember { node, leaf });
                }
                for intermediate in self.size.direct_path(leaf.node()) {
                    if intermediate == node {
                        break;
                    }
                    if let Some(between) = self.parent_node(intermediate)
                        && between.unmerged_leaves.binary_search(&leaf).is_err()
                    {
                        return Err(TreeError::UnmergedLeafMissingBelow {
                            node,
                            intermediate,
                            leaf,
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// No two nodes share an HPKE encryption key and no two leaves share a signature key
    /// (RFC 9420 §7.3, §12.4.3.1). Linear time.
    pub fn verify_unique_keys(&self) -> Result<(), TreeError> {
        let mut signature_keys: HashMap<&[u8], LeafIndex> = HashMap::new();
        let mut encryption_keys: HashMap<&[u8], NodeIndex> = HashMap::new();
        for (index, leaf) in self.members() {
            if let Some(first) = signature_keys.insert(&leaf.signature_key.0, index) {
                return Err(TreeError::DuplicateSignatureKey {
                    first,
                    second: index,
                });
            }
            if let Some(first) = encryption_keys.insert(&leaf.encryption_key.0, index.node()) {
                return Err(TreeError::DuplicateEncryptionKey {
                    first,
                    second: index.node(),
                });
            }
        }
        for (node, parent) in self.parent_nodes() {
            if let Some(other) = encryption_keys.insert(&parent.encryption_key.0, node) {
                let (first, second) = if other < node {
                    (other, node)
                } else {
                    (node, other)
                };
                return Err(TreeError::DuplicateEncryptionKey { first, second });
            }
        }
        Ok(())
    }

    /// Validates a tree received when joining (RFC 9420 §12.4.3.1, "Verify the integrity of
    /// the ratchet tree"), in the RFC's order:
    ///
    /// 1. the tree hash equals `context.tree_hash` (§7.8);
    /// 2. every non-blank parent node is parent-hash valid (§7.9.2);
    /// 3. every leaf is a valid LeafNode (§7.3): credential, signature (with
    ///    `context.group_id` and the leaf's index for the `update` and `commit` sources,
    ///    §7.2), compatibility with the group's parameters and required capabilities,
    ///    credential types, lifetime (per `lifetime_policy`), extensions;
    /// 4. the `unmerged_leaves` of every parent are consistent (§7.1);
    /// 5. no two nodes share an encryption key and no two leaves a signature key (§7.3).
    ///
    /// The leaves are checked in parallel where enabled, with their signatures verified
    /// afterwards as one batch ([`crate::validation::verify_deferred`]); if the batch fails,
    /// the leaves are checked one by one to name the first bad one.
    ///
    /// This is the one implementation: [`crate::group::Group::join`] and
    /// [`crate::group::Group::join_external`] call it, and so does the conformance check of
    /// the official `tree-validation` vectors.
    pub fn validate_for_join(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        identity: &dyn IdentityProvider,
        context: &GroupContext,
        lifetime_policy: LifetimePolicy,
        now: u64,
    ) -> Result<(), TreeValidationError> {
        self.validate_for_join_in(
            cs,
            identity,
            context,
            &NegotiationPolicy::default(),
            lifetime_policy,
            now,
        )
    }

    /// [`RatchetTree::validate_for_join`] with the drafts' group context extensions read as
    /// `policy` says (draft-ietf-mls-extensions-10 §5, §6.2): every leaf must then also
    /// support the components, wire formats and media types the group requires.
    pub fn validate_for_join_in(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        identity: &dyn IdentityProvider,
        context: &GroupContext,
        policy: &NegotiationPolicy,
        lifetime_policy: LifetimePolicy,
        now: u64,
    ) -> Result<(), TreeValidationError> {
        self.validate_for_join_batched(
            cs,
            identity,
            context,
            policy,
            lifetime_policy,
            now,
            LEAF_SIGNATURE_BATCH,
        )
    }

    /// [`RatchetTree::validate_for_join_in`], the leaves' signatures verified in batches of
    /// `batch`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn validate_for_join_batched(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        identity: &dyn IdentityProvider,
        context: &GroupContext,
        policy: &NegotiationPolicy,
        lifetime_policy: LifetimePolicy,
        now: u64,
        batch: usize,
    ) -> Result<(), TreeValidationError> {
        self.verify_tree_hash(cs, &context.tree_hash)?;
        self.verify_parent_hashes(cs)?;
        let requirements = GroupRequirements::from_group_context_in(context, policy)
            .map_err(TreeValidationError::GroupContext)?;
        let members = self.member_credential_types(None);
        let no_keys = UsedLeafKeys::default();
        let validator = LeafNodeValidator {
            cs,
            identity,
            group: &requirements,
            members: &members,
            keys: &no_keys,
            lifetime_policy,
            now,
        };
        self.verify_leaves(&validator, &context.group_id, batch)?;
        self.verify_unmerged_leaves()?;
        self.verify_unique_keys()?;
        Ok(())
    }

    /// Step 3 of [`RatchetTree::validate_for_join`]: every leaf per RFC 9420 §7.3 at its
    /// position in group `group_id`, the other members' credential types being this tree's.
    /// Key uniqueness is left to [`RatchetTree::verify_unique_keys`], which covers parent
    /// nodes too.
    fn verify_leaves(
        &self,
        validator: &LeafNodeValidator<'_>,
        group_id: &[u8],
        batch: usize,
    ) -> Result<(), TreeValidationError> {
        let leaves: Vec<(LeafIndex, &LeafNode)> = self.members().collect();
        for chunk in leaves.chunks(batch.max(1)) {
            let signatures: Vec<_> = crate::parallel::try_map(chunk, |&(leaf, node)| {
                check_leaf(validator, group_id, leaf, node, SignatureCheck::Deferred)
            })?
            .into_iter()
            .flatten()
            .collect();
            if !verify_deferred(validator.cs, &signatures) {
                // The batch failed: find the leaf, one by one, for the error.
                crate::parallel::try_map(chunk, |&(leaf, node)| {
                    check_leaf(validator, group_id, leaf, node, SignatureCheck::Now)
                })?;
                return Err(TreeValidationError::LeafSignatureBatch);
            }
        }
        Ok(())
    }
}

/// Leaves whose signatures [`RatchetTree::validate_for_join`] verifies as one batch. Each
/// deferred signature holds its signed content (the LeafNodeTBS, a few hundred bytes) and
/// the batch verifier two decompressed points per signature, so one batch of a 10 000-leaf
/// tree held about as much memory as the tree itself. Batches of 2048 bound that, at the
/// price of a slightly dearer multi-scalar multiplication per signature than in one
/// batch of N (a few per cent of the verification).
const LEAF_SIGNATURE_BATCH: usize = 2048;

/// Whether a leaf's signature is verified with its other checks or handed back for a batch.
#[derive(Debug, Clone, Copy)]
enum SignatureCheck {
    Deferred,
    Now,
}

/// One leaf of a tree being joined, validated per RFC 9420 §7.3 at its position.
fn check_leaf<'l>(
    validator: &LeafNodeValidator<'_>,
    group_id: &[u8],
    leaf: LeafIndex,
    node: &'l LeafNode,
    timing: SignatureCheck,
) -> Result<Option<DeferredSignature<'l>>, TreeValidationError> {
    let context = LeafNodeContext::TreeLeaf {
        group_id,
        leaf_index: leaf,
    };
    let result = match timing {
        SignatureCheck::Deferred => validator
            .validate_leaf_node_deferring_signature(node, &context)
            .map(Some),
        SignatureCheck::Now => validator.validate_leaf_node(node, &context).map(|()| None),
    };
    result.map_err(|error| TreeValidationError::Leaf { leaf, error })
}
