//! Joining a group: from a Welcome (RFC 9420 §12.4.3.1) or by an external commit
//! (§12.4.3.2).

use std::collections::VecDeque;

use conclave_crypto::{CipherSuiteProvider, CryptoRandom, Secret, hpke};

use super::commit::{CommitBase, CommitOptions, CommitOutput, EXTERNAL_INIT_LABEL, build_commit};
use super::proposals::{CommittedProposal, Committer, ProposalContext, validate_and_apply};
use super::state::{EpochState, PskSources};
use super::{
    Group, GroupConfig, GroupEnv, GroupError, GroupStatus, KeyPackageBundle, MemberParams,
    SigningIdentity, mls_message,
};
use crate::credential::IdentityProvider;
use crate::framing::protect_public;
use crate::messages::{
    Extension, ExtensionProposal, ExtensionProposalBody, ExternalInit, ExternalPub, GroupInfo,
    HpkePublicKey, LeafIndex, LeafNode, LeafNodeSource, Lifetime, MlsMessage, MlsMessageBody,
    PreSharedKey, PreSharedKeyId, Proposal, ProposalOrRef, Psk, RatchetTreeNodes, Remove,
    ResumptionPskUsage, Sender, Welcome, find_payload,
};
use crate::ratchet_tree_options::{
    RatchetTreeLocation, RatchetTreeOption, check_tree_url, tree_option_of,
};
use crate::transcript;
use crate::tree::RatchetTree;
use crate::treekem::{NodeKey, PrivateTree};
use crate::validation::negotiation::{
    DictionaryLocation, NegotiationRequirements, Supporter, check_dictionary, check_leaf_meets,
};
use crate::welcome::{
    check_group_info_cipher_suite, check_psk_ids, decrypt_group_info, decrypt_group_secrets,
    find_group_secrets, joiner_epoch_secrets, joiner_key_schedule, verify_group_info_signature,
};

/// Inputs of a join beyond the Welcome or GroupInfo.
#[derive(Debug, Clone, Default)]
pub struct JoinOptions {
    /// The ratchet tree, when the Welcome or GroupInfo does not carry it (RFC 9420 §12.4.3.3).
    pub ratchet_tree: Option<RatchetTreeNodes>,
    /// Resumption PSKs from other groups (ReInit, branch, RFC 9420 §11.2, §11.3):
    /// `(group_id, epoch, secret)`.
    pub resumption_psks: Vec<(Vec<u8>, u64, Secret)>,
    /// For an external commit: our prior appearance to remove (resync, RFC 9420 §12.4.3.2).
    pub remove_prior_leaf: Option<LeafIndex>,
    /// For an external commit: external PSKs to include.
    pub psks: Vec<PreSharedKeyId>,
    /// For an external commit: AppDataUpdate and AppEphemeral proposals to include by value
    /// (draft-ietf-mls-extensions-10 §4.7, §4.8: they "can be included in an external
    /// Commit"), under the group's codepoints; those the profile keeps out of external commits
    /// ([`crate::codepoints::CodepointProfile::external_commit_allows`]) are refused.
    pub app_proposals: Vec<ExtensionProposalBody>,
    /// For an external commit: the pending SelfRemove proposals (PublicMessages) fetched with
    /// the GroupInfo. The joiner validates each, all but its membership tag, and includes
    /// them by reference (draft-ietf-mls-extensions-10 §6.3: it MUST).
    pub self_removes: Vec<MlsMessage>,
}

/// Where a joiner finds PSKs (RFC 9420 §8.4): the PSK store and the resumption PSKs it was
/// given; it has no epochs of its own.
fn joiner_psks<'a>(env: &'a GroupEnv, options: &'a JoinOptions) -> PskSources<'a> {
    PskSources {
        external: env.psks.as_ref(),
        own: None,
        linked: &options.resumption_psks,
    }
}

/// The ratchet tree of a GroupInfo's `ratchet_tree` extension, else the supplied one.
fn tree_for(group_info: &GroupInfo, options: &JoinOptions) -> Result<RatchetTree, GroupError> {
    group_info_tree(group_info, options.ratchet_tree.as_ref())
}

/// The ratchet tree of a GroupInfo's `ratchet_tree` extension, else `supplied`
/// (RFC 9420 §12.4.3.3).
pub(crate) fn group_info_tree(
    group_info: &GroupInfo,
    supplied: Option<&RatchetTreeNodes>,
) -> Result<RatchetTree, GroupError> {
    let nodes = match (
        find_payload::<RatchetTreeNodes>(&group_info.extensions)?,
        supplied,
    ) {
        (Some(nodes), _) => nodes,
        (None, Some(supplied)) => supplied.clone(),
        (None, None) => tree_from_option(group_info)?,
    };
    Ok(RatchetTree::from_nodes(nodes)?)
}

/// The tree a GroupInfo's `RatchetTreeOption` carries, or the error that tells the joiner
/// where to get it (draft-ietf-mls-ratchet-tree-options-00 §3).
fn tree_from_option(group_info: &GroupInfo) -> Result<RatchetTreeNodes, GroupError> {
    let context = &group_info.group_context;
    match tree_option_of(&group_info.extensions)? {
        Some(RatchetTreeOption::Full(nodes)) => Ok(nodes),
        Some(RatchetTreeOption::DistributionService) => {
            Err(GroupError::RatchetTreeOnDeliveryService {
                group_id: context.group_id.clone(),
                epoch: context.epoch,
            })
        }
        Some(RatchetTreeOption::HttpsUri(url)) => {
            check_tree_url(&url, &context.extensions)?;
            Err(GroupError::RatchetTreeAtUrl(
                String::from_utf8_lossy(&url).into_owned(),
            ))
        }
        Some(RatchetTreeOption::OutOfBand) | None => Err(GroupError::MissingRatchetTree),
    }
}

/// Verifies the GroupInfo's signature by its `signer` leaf of `tree` (RFC 9420 §12.4.3) and
/// its extension lists: no type twice (§13.4), a sorted `app_data_dictionary`
/// (draft-ietf-mls-extensions-10 §4.6).
pub(crate) fn verify_group_info(
    cs: &dyn CipherSuiteProvider,
    group_info: &GroupInfo,
    tree: &RatchetTree,
) -> Result<(), GroupError> {
    let signer = tree
        .leaf(group_info.signer)
        .ok_or(GroupError::GroupInfo("the signer leaf is blank"))?;
    verify_group_info_signature(cs, group_info, &signer.signature_key)?;
    // RFC 9420 §13.4: no extension type twice in one list.
    crate::validation::check_unique_extensions(&group_info.extensions)?;
    crate::validation::check_unique_extensions(&group_info.group_context.extensions)?;
    // draft-ietf-mls-extensions-10 §4.6: a GroupInfo's dictionary is sorted too; its
    // entries, GREASE among them, are otherwise ignored (§5.2).
    check_dictionary(&group_info.extensions, DictionaryLocation::GroupInfo)
        .map_err(crate::validation::ValidationError::from)?;
    Ok(())
}

/// Verifies the GroupInfo signature by leaf `signer`, its extensions (RFC 9420 §13.4) and
/// the GroupContext's (§12.1.7, §13.4), and validates the tree for a joiner with
/// [`RatchetTree::validate_for_join`] (§12.4.3.1).
///
/// Joiners and the non-member view ([`crate::public_group::PublicGroup::from_group_info`])
/// call it alike.
pub(crate) fn verify_group_info_and_tree(
    cs: &dyn CipherSuiteProvider,
    identity: &dyn IdentityProvider,
    policy: &super::public::PublicPolicy,
    group_info: &GroupInfo,
    tree: &mut RatchetTree,
    now: u64,
) -> Result<(), GroupError> {
    verify_group_info(cs, group_info, tree)?;
    validate_joined_tree(cs, identity, policy, &group_info.group_context, tree, now)
}

/// The second half of [`verify_group_info_and_tree`]: the tree validated for a joiner
/// (RFC 9420 §12.4.3.1) and the group context's extensions against it (§12.1.7, §13.4).
fn validate_joined_tree(
    cs: &dyn CipherSuiteProvider,
    identity: &dyn IdentityProvider,
    policy: &super::public::PublicPolicy,
    context: &crate::messages::GroupContext,
    tree: &mut RatchetTree,
    now: u64,
) -> Result<(), GroupError> {
    tree.validate_for_join_in(
        cs,
        identity,
        context,
        &policy.negotiation,
        policy.lifetime_policy,
        now,
    )?;
    super::proposals::check_group_context_extensions(
        cs,
        identity,
        tree,
        &context.extensions,
        &policy.negotiation,
        now,
    )
}

impl Group {
    /// The state of a new member in its first epoch, by Welcome or external commit
    /// (RFC 9420 §12.4.3), or of a group's creator (§11): nothing cached, pending or kept
    /// from earlier epochs, and every record still to be written ([`Group::take_changes`]).
    pub(super) fn joined(
        env: GroupEnv,
        cs: Box<dyn CipherSuiteProvider>,
        config: GroupConfig,
        signer: SigningIdentity,
        epoch: EpochState,
        private: PrivateTree,
        linked_psks: Vec<(Vec<u8>, u64, Secret)>,
    ) -> Self {
        Self {
            env,
            cs,
            config: config.into(),
            signer: signer.into(),
            epoch: epoch.into(),
            private: private.into(),
            proposals: Vec::new().into(),
            pending_commit: None.into(),
            past_epochs: VecDeque::new().into(),
            resumption_psks: VecDeque::new().into(),
            status: GroupStatus::Active.into(),
            pending_updates: Vec::new().into(),
            late_updates: Vec::new().into(),
            linked_psks: linked_psks.into(),
            changes: super::records::ChangeLog::unsaved(),
            components: super::app_data::Components::default(),
        }
    }

    /// Joins a group from a Welcome (RFC 9420 §12.4.3.1) with `key_package`, the one of
    /// ours the Welcome was encrypted to, as `member` (its signer must be the KeyPackage's).
    pub fn join(
        member: MemberParams,
        welcome: &Welcome,
        key_package: &KeyPackageBundle,
        options: &JoinOptions,
        now: u64,
    ) -> Result<Self, GroupError> {
        Self::join_with_psks(member, welcome, key_package, options, now).map(|(group, _, _)| group)
    }

    /// [`Group::join`], also returning the extensions of the Welcome's GroupInfo, verified
    /// with it (RFC 9420 §12.4.3.1), except `ratchet_tree`, whose bytes the join releases
    /// once the tree is built and the signature over them checked. The committer may put extensions there for the joiners
    /// only ([`super::CommitOptions::welcome_group_info_extensions`]): the Welcome's
    /// GroupInfo is encrypted, so the Delivery Service does not read them.
    pub fn join_with_extensions(
        member: MemberParams,
        welcome: &Welcome,
        key_package: &KeyPackageBundle,
        options: &JoinOptions,
        now: u64,
    ) -> Result<(Self, Vec<Extension>), GroupError> {
        Self::join_with_psks(member, welcome, key_package, options, now)
            .map(|(group, _, extensions)| (group, extensions))
    }

    /// [`Group::join`], also returning the PSKs the Welcome used and its GroupInfo's
    /// extensions.
    pub(crate) fn join_with_psks(
        member: MemberParams,
        welcome: &Welcome,
        key_package: &KeyPackageBundle,
        options: &JoinOptions,
        now: u64,
    ) -> Result<(Self, Vec<PreSharedKeyId>, Vec<Extension>), GroupError> {
        let MemberParams {
            env,
            signer,
            mut config,
            leaf: _,
            components,
        } = member;
        let cs = env.suite(welcome.cipher_suite)?;
        let kp = &key_package.key_package;
        let entry = find_group_secrets(cs.as_ref(), welcome, kp)?;
        let secrets = decrypt_group_secrets(
            cs.as_ref(),
            welcome,
            entry,
            key_package.init_private_key.as_bytes(),
        )?;
        check_psk_ids(&secrets.psks)?;
        let psk_secrets = joiner_psks(&env, options).resolve(&secrets.psks)?;
        let psk_secret = super::commit::psk_secret(cs.as_ref(), &secrets.psks, &psk_secrets)?;
        let schedule = joiner_key_schedule(
            cs.as_ref(),
            &secrets,
            psk_secret.as_ref().map(Secret::as_bytes),
        )?;
        let mut group_info = decrypt_group_info(cs.as_ref(), welcome, &schedule)?;
        check_own_key_package(&group_info, kp)?;
        let mut tree = tree_for(&group_info, options)?;
        // draft-ietf-mls-ratchet-tree-options-00 §3: we sign our GroupInfos as the group's.
        config.ratchet_tree_location = RatchetTreeLocation::of_group_info(&group_info.extensions)?;
        verify_group_info(cs.as_ref(), &group_info, &tree)?;
        // The signature over the `ratchet_tree` extension is checked and the tree is built
        // from it: its bytes (about the size of the Welcome) are released before the tree's
        // validation, the join's largest allocation, instead of being held to the end.
        group_info
            .extensions
            .retain(|e| e.extension_type != crate::messages::ExtensionType::RATCHET_TREE);
        validate_joined_tree(
            cs.as_ref(),
            env.identity.as_ref(),
            &config.public_policy(),
            &group_info.group_context,
            &mut tree,
            now,
        )?;
        let own = tree
            .find_leaf(&kp.leaf_node)
            .ok_or(GroupError::OwnLeafNotFound)?;

        let mut private = PrivateTree::new(
            own,
            NodeKey {
                secret_key: key_package.encryption_private_key.clone(),
                public_key: kp.leaf_node.encryption_key.clone(),
            },
        );
        if let Some(path_secret) = secrets.path_secret.clone() {
            // The path secret is the common ancestor's; the committer's filtered direct path
            // continues from there (RFC 9420 §12.4.3.1).
            let ancestor = tree
                .size()
                .common_ancestor(own.node(), group_info.signer.node())
                .ok_or(GroupError::GroupInfo(
                    "signer and joiner have no common ancestor",
                ))?;
            let path = tree.filtered_direct_path(group_info.signer);
            let start = path
                .iter()
                .position(|n| *n == ancestor)
                .ok_or(GroupError::GroupInfo(
                    "the common ancestor is not on the signer's path",
                ))?;
            let nodes = path.get(start..).unwrap_or(&[]);
            private.insert_path(cs.as_ref(), nodes, path_secret)?;
        }
        if !private.is_consistent_with(&tree) {
            return Err(GroupError::PrivateKeyMismatch);
        }

        let epoch_secrets = joiner_epoch_secrets(cs.as_ref(), schedule, &group_info)?;
        check_resumption(&group_info, &secrets.psks)?;
        let psks = secrets.psks.clone();
        let extensions = group_info.extensions;
        let context = group_info.group_context;
        let interim = transcript::interim_transcript_hash(
            cs.as_ref(),
            &context.confirmed_transcript_hash,
            &group_info.confirmation_tag,
        )?;
        // draft-mahy-mls-member-proof-00 (D4 in `crate::member_proof`): a joiner by Welcome
        // gets the epoch's member-proof secret from the Welcome's GroupInfo.
        let member_proof = if crate::member_proof::enabled(&context.extensions)? {
            let secret = crate::member_proof::secret_in_group_info(&extensions)?
                .ok_or(crate::member_proof::MemberProofError::NoKey)?;
            Some(crate::member_proof::MemberProofKeys::from_secret(
                cs.as_ref(),
                secret,
            )?)
        } else {
            None
        };
        let mut epoch = EpochState::new(
            &config,
            context,
            tree,
            interim,
            group_info.confirmation_tag,
            epoch_secrets,
        );
        epoch.member_proof = member_proof;
        let linked_psks = options.resumption_psks.clone();
        let mut group = Self::joined(env, cs, config, signer, epoch, private, linked_psks);
        group.components = components;
        Ok((group, psks, extensions))
    }

    /// Joins by an external commit (RFC 9420 §12.4.3.2) from a GroupInfo with `external_pub`.
    /// Returns the group, already in the new epoch, and the commit to send; if the Delivery
    /// Service rejects the commit, discard the group and try again with a fresh GroupInfo.
    pub fn join_external(
        member: MemberParams,
        group_info: &GroupInfo,
        options: &JoinOptions,
        now: u64,
        rng: &mut dyn CryptoRandom,
    ) -> Result<(Self, CommitOutput), GroupError> {
        let MemberParams {
            env,
            signer,
            mut config,
            leaf: leaf_options,
            components,
        } = member;
        let suite = group_info.group_context.cipher_suite;
        let cs = env.suite(suite)?;
        let mut tree = tree_for(group_info, options)?;
        config.ratchet_tree_location = RatchetTreeLocation::of_group_info(&group_info.extensions)?;
        verify_group_info_and_tree(
            cs.as_ref(),
            env.identity.as_ref(),
            &config.public_policy(),
            group_info,
            &mut tree,
            now,
        )?;
        let external_pub = find_payload::<ExternalPub>(&group_info.extensions)?
            .ok_or(GroupError::GroupInfo("no external_pub extension"))?;
        let (init_secret, kem_output) =
            external_commit_init(cs.as_ref(), &external_pub.external_pub, rng)?;

        let mut by_value = vec![Proposal::ExternalInit(ExternalInit { kem_output })];
        if let Some(prior) = options.remove_prior_leaf {
            by_value.push(Proposal::Remove(Remove { removed: prior }));
        }
        for psk in &options.psks {
            by_value.push(Proposal::PreSharedKey(PreSharedKey { psk: psk.clone() }));
        }
        for body in &options.app_proposals {
            if !config.codepoint_profile.external_commit_allows(body.kind()) {
                return Err(super::AppDataError::NotInExternalCommit {
                    kind: body.kind(),
                    profile: config.codepoint_profile,
                }
                .into());
            }
            by_value.push(Proposal::Extension(ExtensionProposal::new(
                config.codepoint_profile,
                body.clone(),
            )));
        }
        let self_removes = super::self_remove::check_for_joiner(
            cs.as_ref(),
            config.codepoint_profile,
            &group_info.group_context,
            &tree,
            &options.self_removes,
        )?;
        let committed: Vec<CommittedProposal> = by_value
            .iter()
            .map(|p| CommittedProposal {
                sender: Sender::NewMemberCommit,
                proposal: p.clone(),
            })
            .chain(self_removes.iter().map(|s| CommittedProposal {
                sender: Sender::Member(s.sender),
                proposal: s.proposal.clone(),
            }))
            .collect();
        let context = &group_info.group_context;
        let psks = joiner_psks(&env, options);
        let applied = {
            let ctx = ProposalContext {
                cs: cs.as_ref(),
                identity: env.identity.as_ref(),
                context,
                tree: &tree,
                lifetime_policy: config.lifetime_policy,
                now,
                psks: Some(&psks),
                policy: config.negotiation_policy(),
                components: components.handler(),
            };
            validate_and_apply(&ctx, Committer::External, &committed)?
        };
        let psk_secrets = psks.resolve(&applied.psks)?;
        let interim = transcript::interim_transcript_hash(
            cs.as_ref(),
            &context.confirmed_transcript_hash,
            &group_info.confirmation_tag,
        )?;
        // A placeholder leaf reserves our position; the commit replaces it with the signed one.
        let capabilities = leaf_options.capabilities_for(
            suite,
            env.identity.as_ref(),
            config.codepoint_profile,
        )?;
        let extensions = super::app_data::leaf::leaf_extensions(
            &leaf_options,
            &capabilities,
            &config,
            components.handler(),
            rng,
        )?;
        let template = LeafNode {
            encryption_key: HpkePublicKey(Vec::new()),
            signature_key: signer.public_key.clone(),
            credential: signer.credential.clone(),
            capabilities,
            leaf_node_source: LeafNodeSource::KeyPackage(Lifetime {
                not_before: 0,
                not_after: 0,
            }),
            extensions,
            signature: Vec::new(),
        };
        // Our leaf must meet what the group (as this commit leaves it) requires, as the
        // members will check (draft-ietf-mls-extensions-10 §5, §6.2).
        let requirements = NegotiationRequirements::from_extensions(
            &applied.extensions,
            &config.negotiation_policy(),
        )
        .map_err(crate::validation::ValidationError::from)?;
        check_leaf_meets(&requirements, &template, Supporter::Leaf)
            .map_err(crate::validation::ValidationError::from)?;
        let commit_options = CommitOptions::default();
        let built = {
            let base = CommitBase {
                cs: cs.as_ref(),
                config: &config,
                signer: &signer,
                context,
                interim_transcript_hash: &interim,
                init_secret,
                own_leaf: None,
                leaf_template: &template,
                member_proof: None,
                form: crate::group::commit::CommitForm::Regular,
            };
            let refs = by_value
                .into_iter()
                .map(|p| ProposalOrRef::Proposal(Box::new(p)))
                .chain(
                    self_removes
                        .into_iter()
                        .map(|s| ProposalOrRef::Reference(s.reference)),
                )
                .collect();
            build_commit(
                &base,
                applied,
                refs,
                &psk_secrets,
                None,
                &commit_options,
                rng,
            )?
        };
        let message = protect_public(cs.as_ref(), built.content.regular()?, Some(context), None)?;
        let commit = mls_message(MlsMessageBody::PublicMessage(message));
        let staged = built.staged;
        let epoch = staged
            .epoch
            .ok_or(GroupError::MalformedState("external commit without epoch"))?;
        let private = staged
            .private
            .ok_or(GroupError::MalformedState("external commit without keys"))?;
        let linked_psks = options.resumption_psks.clone();
        let mut group = Self::joined(env, cs, config, signer, *epoch, private, linked_psks);
        group.components = components;
        Ok((
            group,
            CommitOutput {
                commit,
                welcome: built.welcome,
                group_info: built.group_info,
            },
        ))
    }
}

/// `kem_output, context = SetupBaseS(external_pub, "")`, `init_secret =
/// context.export("MLS 1.0 external init secret", KDF.Nh)` (RFC 9420 §8.3).
pub fn external_commit_init(
    cs: &dyn CipherSuiteProvider,
    external_pub: &HpkePublicKey,
    rng: &mut dyn CryptoRandom,
) -> Result<(Secret, Vec<u8>), GroupError> {
    let (kem_output, context) = hpke::setup_sender(
        cs,
        external_pub.as_ref(),
        &[],
        None,
        None,
        hpke::Ephemeral::Random(rng),
    )?;
    let init_secret = context.export(EXTERNAL_INIT_LABEL, cs.hash_len())?;
    Ok((init_secret, kem_output))
}

/// Resumption PSK rules for a joiner (RFC 9420 §12.4.3.1): with a `reinit` or `branch` PSK,
/// the new group is at epoch 1.
fn check_resumption(group_info: &GroupInfo, psks: &[PreSharedKeyId]) -> Result<(), GroupError> {
    let special = psks.iter().any(|id| {
        matches!(
            id.psk,
            Psk::Resumption {
                usage: ResumptionPskUsage::Reinit | ResumptionPskUsage::Branch,
                ..
            }
        )
    });
    if special && group_info.group_context.epoch != 1 {
        return Err(GroupError::Resumption(
            "a group joined with a reinit or branch PSK must be at epoch 1",
        ));
    }
    Ok(())
}

/// What a joiner checks of its own KeyPackage against the GroupInfo it joins with, full or
/// partial: the GroupInfo's suite is the KeyPackage's (RFC 9420 §12.4.3.1); a KeyPackage
/// bound to a context joins only there (draft-mahy-mls-kp-context-00); our own leaf lists
/// the group's version and suite (RFC 9420 §7.3, §10.1: only other members' leaves may omit
/// the suite, `validation::LeafNodeContext::tolerates_omitted_suite`).
pub(crate) fn check_own_key_package(
    group_info: &crate::messages::GroupInfo,
    kp: &crate::messages::KeyPackage,
) -> Result<(), GroupError> {
    check_group_info_cipher_suite(group_info, kp)?;
    crate::kp_context::KpContextScope {
        group_id: group_info.group_context.group_id.clone(),
        also: Vec::new(),
    }
    .check(&kp.extensions)
    .map_err(crate::validation::ValidationError::from)?;
    crate::validation::check_supports_group(
        &kp.leaf_node.capabilities,
        group_info.group_context.version,
        group_info.group_context.cipher_suite,
    )?;
    Ok(())
}
