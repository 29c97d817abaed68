//! Creating (RFC 9420 §12.4.1) and processing (§12.4.2) commits, and the Welcome and
//! GroupInfo a committer produces (§12.4.3).
//!
//! Both directions compute the next epoch completely on the side ([`StagedCommit`]); the
//! group adopts it only when everything verified (processing) or when the Delivery Service
//! accepted the commit (creation, via the pending commit).

use crate::ratchet_tree_options::{RatchetTreeLocation, RatchetTreeOption};
use conclave_codec::Encode;
use conclave_crypto::{CipherSuiteProvider, CryptoRandom, Secret, hpke, labels};

use super::proposals::{AppliedProposals, CommittedProposal, Committer, TreeKeys};
use super::public::PublicState;
use super::state::{ConfirmationTag, EpochState, NextEpoch, PskSources};
use super::{
    Group, GroupConfig, GroupError, GroupStatus, SigningIdentity, mls_message, sign_leaf_node,
};
use crate::framing::{VerifiedContent, sign_content};
use crate::messages::{
    AuthenticatedContent, Commit, Content, EncryptedGroupSecrets, Extension, ExtensionPayload,
    ExternalPub, FramedContent, GroupContext, GroupInfo, GroupSecrets, HpkeCiphertext,
    KeyPackageRef, LeafIndex, LeafNode, LeafNodeSource, MlsMessage, MlsMessageBody, PathSecret,
    PreSharedKeyId, Proposal, ProposalOrRef, ReInit, Sender, UpdatePath, Welcome, WireFormat,
};
use crate::transcript;
use crate::tree::check_committer_parent_hash;
use crate::treekem::{GeneratedPath, PrivateTree, decrypt_path};
use crate::validation::{GroupRequirements, LeafNodeContext, LeafNodeValidator};
use crate::welcome::{GROUP_INFO_TBS_LABEL, WELCOME_LABEL};

/// Label of the external-init secret export (RFC 9420 §8.3).
pub(crate) const EXTERNAL_INIT_LABEL: &[u8] = b"MLS 1.0 external init secret";

/// Options of a commit we create.
#[derive(Debug, Clone)]
pub struct CommitOptions {
    /// Proposals to include by value (RFC 9420 §12.4).
    pub proposals: Vec<Proposal>,
    /// Include the valid proposals received in this epoch, by reference (RFC 9420 §12.4:
    /// SHOULD).
    pub include_pending: bool,
    /// Always include an UpdatePath, even when no proposal requires one (RFC 9420 §12.4:
    /// by default the path MUST be populated).
    pub force_path: bool,
    /// Add a Replace by value for each late Update kept by [`Group::receive_late_update`]
    /// whose leaf no other proposal of the commit touches (draft-barnes-mls-replace-00).
    /// Off by default: a policy of the committer; see that method for the caveat on
    /// post-compromise security.
    pub replace_late_updates: bool,
    /// Put the ratchet tree in the GroupInfo (and so in the Welcome), RFC 9420 §12.4.3.3.
    pub ratchet_tree_in_group_info: bool,
    /// Extra GroupInfo extensions.
    pub group_info_extensions: Vec<Extension>,
    /// Extra extensions of the GroupInfo in the Welcome only (RFC 9420 §12.4.3.1: that
    /// GroupInfo is encrypted to the joiners, and signed apart from the published one when
    /// this is not empty): data for the joiners that the Delivery Service must not read.
    /// Joiners read them with [`Group::join_with_extensions`].
    pub welcome_group_info_extensions: Vec<Extension>,
    /// Authenticated data of the commit message. In a group that requires Safe AAD
    /// (draft-ietf-mls-extensions-10 §4.9) an encoded `SafeAAD`; empty is sent as the empty
    /// `SafeAAD`.
    pub authenticated_data: Vec<u8>,
    /// Tests only: announce this next-epoch member-proof key instead of the true one (a
    /// dishonest committer, draft-mahy-mls-member-proof-00 §4).
    #[cfg(test)]
    pub(crate) forged_next_member_proof_key: Option<crate::messages::SignaturePublicKey>,
}

impl Default for CommitOptions {
    fn default() -> Self {
        Self {
            proposals: Vec::new(),
            include_pending: true,
            force_path: true,
            replace_late_updates: false,
            ratchet_tree_in_group_info: true,
            group_info_extensions: Vec::new(),
            welcome_group_info_extensions: Vec::new(),
            authenticated_data: Vec::new(),
            #[cfg(test)]
            forged_next_member_proof_key: None,
        }
    }
}

/// What a commit we created produced.
#[derive(Debug, Clone)]
pub struct CommitOutput {
    /// The commit, to send to the group.
    pub commit: MlsMessage,
    /// The Welcome for the new members, if any were added.
    pub welcome: Option<MlsMessage>,
    /// The GroupInfo of the new epoch (for the Delivery Service and external joiners).
    pub group_info: MlsMessage,
}

/// What a split commit we created produced (draft-mularczyk-mls-splitcommit-00 §3).
#[derive(Debug, Clone)]
pub struct SplitCommitOutput {
    /// The SCommit, for the Delivery Service to split (or for us to split, with
    /// [`Group::per_member_commit`]).
    pub scommit: crate::split::SCommit,
    /// The Welcome for the new members, if any were added.
    pub welcome: Option<MlsMessage>,
    /// The GroupInfo of the new epoch.
    pub group_info: MlsMessage,
}

/// What a commit changed.
#[derive(Debug, Clone, PartialEq, Eq, conclave_codec::Encode, conclave_codec::Decode)]
pub struct CommitSummary {
    /// The new epoch.
    pub epoch: u64,
    /// Who committed.
    pub committer: Sender,
    /// The committer's leaf in the new epoch (for an external commit, the joiner's leaf).
    pub committer_leaf: Option<LeafIndex>,
    /// Members added, by leaf.
    pub added: Vec<LeafIndex>,
    /// Members removed, by leaf.
    pub removed: Vec<LeafIndex>,
    /// Members whose leaf an Update replaced.
    pub updated: Vec<LeafIndex>,
    /// A ReInit the commit carried (RFC 9420 §11.2).
    pub reinit: Option<ReInit>,
    /// Whether the commit removed us.
    pub self_removed: bool,
    /// What its AppDataUpdate and AppEphemeral proposals did (draft-ietf-mls-extensions-10
    /// §4.7, §4.8): the components whose data changed, with their new data, and the
    /// ephemeral data.
    pub app_data: super::app_data::AppDataSummary,
}

/// A fully computed next epoch, not yet adopted.
#[derive(Debug, Clone)]
pub(crate) struct StagedCommit {
    /// The next epoch (`None` when we were removed and cannot compute it).
    pub(crate) epoch: Option<Box<EpochState>>,
    /// Our private keys in the next epoch.
    pub(crate) private: Option<PrivateTree>,
    pub(crate) summary: CommitSummary,
    /// A status change (removed, reinitialised).
    pub(crate) status: Option<GroupStatus>,
}

/// Our own commit, waiting for the Delivery Service.
#[derive(Debug, Clone)]
pub(crate) struct PendingCommit {
    pub(crate) encoded: Vec<u8>,
    pub(crate) staged: StagedCommit,
}

impl PendingCommit {
    /// Whether `message` is our commit echoed back.
    pub(crate) fn is_echo_of(&self, message: &MlsMessage) -> bool {
        message.encoded_len() == self.encoded.len()
            && message.to_bytes().is_ok_and(|bytes| bytes == self.encoded)
    }
}

/// The state a committer starts from: the current epoch, or a GroupInfo for an external
/// commit.
pub(crate) struct CommitBase<'a> {
    pub(crate) cs: &'a dyn CipherSuiteProvider,
    pub(crate) config: &'a GroupConfig,
    pub(crate) signer: &'a SigningIdentity,
    pub(crate) context: &'a GroupContext,
    pub(crate) interim_transcript_hash: &'a [u8],
    /// `init_secret` of the current epoch, or the external init secret.
    pub(crate) init_secret: Secret,
    /// Our leaf (regular commit) or `None` (external commit: the leftmost blank leaf).
    pub(crate) own_leaf: Option<LeafIndex>,
    /// Capabilities and extensions for our new leaf.
    pub(crate) leaf_template: &'a LeafNode,
    /// Our member-proof keys of the current epoch (draft-mahy-mls-member-proof-00); `None`
    /// for an external commit (the joiner is not a member yet) or an epoch without them.
    pub(crate) member_proof: Option<&'a crate::member_proof::MemberProofKeys>,
    /// A regular commit or an SCommit (draft-mularczyk-mls-splitcommit-00 §3).
    pub(crate) form: CommitForm<'a>,
}

/// How a commit we build is framed.
#[derive(Clone, Copy)]
pub(crate) enum CommitForm<'a> {
    /// A `Commit` with its confirmation tag (RFC 9420 §12.4).
    Regular,
    /// An SCommit: an `SCommitBroadcast` and the UpdatePath apart
    /// (draft-mularczyk-mls-splitcommit-00 §3); the membership key of the current epoch tags
    /// the broadcast message.
    Split {
        /// The current epoch's `membership_key` (RFC 9420 §6.2).
        membership_key: &'a [u8],
    },
}

/// A built commit's content: the signed commit, or the signed SCommit.
pub(crate) enum BuiltContent {
    /// The signed commit with its confirmation tag, to protect.
    Regular(AuthenticatedContent),
    /// The SCommit, its broadcast message signed and tagged.
    Split(crate::split::SCommit),
}

impl BuiltContent {
    /// The signed commit of a regular build.
    pub(crate) fn regular(&self) -> Result<&AuthenticatedContent, GroupError> {
        match self {
            Self::Regular(content) => Ok(content),
            Self::Split(_) => Err(GroupError::MalformedState(
                "a split commit, not a framed one",
            )),
        }
    }
}

/// The result of building a commit, before it is protected.
pub(crate) struct BuiltCommit {
    /// The signed commit (or SCommit).
    pub(crate) content: BuiltContent,
    pub(crate) staged: StagedCommit,
    pub(crate) welcome: Option<MlsMessage>,
    pub(crate) group_info: MlsMessage,
}

/// Builds a commit (RFC 9420 §12.4.1) over `applied` proposals.
pub(crate) fn build_commit(
    base: &CommitBase<'_>,
    mut applied: AppliedProposals,
    proposal_refs: Vec<ProposalOrRef>,
    psk_secrets: &[Secret],
    previous_private: Option<&PrivateTree>,
    options: &CommitOptions,
    rng: &mut dyn CryptoRandom,
) -> Result<BuiltCommit, GroupError> {
    let form = base.form;
    let cs = base.cs;
    let group_id = base.context.group_id.clone();
    let new_leaves: Vec<LeafIndex> = applied.added.iter().map(|(leaf, _)| *leaf).collect();

    let with_path = applied.path_required || options.force_path;
    let own_leaf = match base.own_leaf {
        Some(leaf) => leaf,
        // External commit: the joiner takes the leftmost blank leaf (RFC 9420 §12.4.3.2).
        None => applied.tree.add_leaf(base.leaf_template.clone())?,
    };
    // The `ratchet_tree` extension of the new epoch's GroupInfo, when made beside the path.
    let mut tree_extension = None;
    let (path, generated, provisional, commit_secret) = if with_path {
        let generated = GeneratedPath::generate(cs, &applied.tree, own_leaf, rng)?;
        let parent_hash = applied
            .tree
            .set_path_keys(cs, own_leaf, generated.public_keys())?;
        let leaf = sign_leaf_node(
            cs,
            base.signer,
            generated.leaf_public_key().clone(),
            base.leaf_template.capabilities.clone(),
            LeafNodeSource::Commit(parent_hash),
            // The leaf is created for the epoch the commit starts
            // (draft-barnes-mls-replace-00 §3, [`super::replace`]).
            super::replace::stamp_leaf_node_epoch(
                &base.leaf_template.capabilities,
                base.leaf_template.extensions.clone(),
                base.context.epoch.saturating_add(1),
            )?,
            Some((&group_id, own_leaf)),
        )?;
        applied.tree.set_leaf(own_leaf, Some(leaf.clone()))?;
        let provisional = provisional_context(cs, base.context, &mut applied)?;
        let provisional_bytes = super::encode(&provisional)?;
        // The tree is final here: its GroupInfo encoding (RFC 9420 §12.4.3.3) is made on
        // another thread while this one encrypts the path (§7.6), instead of after it.
        let tree = &applied.tree;
        let (encoded_tree, path) = crate::parallel::beside(
            ratchet_tree_in_group_info(base.config, options)
                && tree.leaf_count() >= TREE_ENCODING_BESIDE_PATH,
            || tree.ratchet_tree_extension(),
            || generated.encrypt(cs, tree, &new_leaves, &provisional_bytes, leaf, rng),
        );
        tree_extension = Some(encoded_tree?);
        let commit_secret = generated.commit_secret().clone();
        (Some(path?), Some(generated), provisional, commit_secret)
    } else {
        let provisional = provisional_context(cs, base.context, &mut applied)?;
        (None, None, provisional, Secret::zero(cs.hash_len()))
    };

    let sender = match base.own_leaf {
        Some(leaf) => Sender::Member(leaf),
        None => Sender::NewMemberCommit,
    };
    // draft-mahy-mls-member-proof-00 (D3): the new epoch's member-proof keys come before the
    // GroupContext enters the key schedule, so the commit can announce them (§4, D7).
    let next_member_proof = crate::member_proof::keys_for_epoch(
        cs,
        &provisional.extensions,
        base.init_secret.as_bytes(),
        commit_secret.as_bytes(),
        &group_id,
        provisional.epoch,
    )?;
    let content = FramedContent {
        group_id: group_id.clone(),
        epoch: base.context.epoch,
        sender,
        // Safe AAD (draft-ietf-mls-extensions-10 §4.9) by the context the commit is sent in,
        // with our member proof and the next epoch's key where the group has member proofs.
        authenticated_data: super::member_proof::commit_aad(
            cs,
            base.context,
            base.member_proof,
            base.own_leaf.is_some(),
            announced_next_key(next_member_proof.as_ref(), options).as_ref(),
            crate::safe::outgoing_authenticated_data(
                &base.context.extensions,
                &options.authenticated_data,
            )?,
            rng,
        )?,
        content: Content::Commit(Commit {
            proposals: proposal_refs,
            path,
        }),
    };
    let wire_format = match base.own_leaf {
        Some(_) => base.config.handshake_wire_format,
        // External commits are PublicMessages (RFC 9420 §6.3.2: only members encrypt).
        None => WireFormat::PUBLIC_MESSAGE,
    };
    // A regular commit is signed now; a split one once its epoch identifier is known
    // (draft-mularczyk-mls-splitcommit-00 §3), its transcript hash taken without it (§4).
    let (framed, confirmed) = match form {
        CommitForm::Regular => {
            let signed = sign_content(
                cs,
                base.signer.secret_key.as_bytes(),
                wire_format,
                content,
                Some(base.context),
            )?;
            let confirmed =
                transcript::confirmed_transcript_hash(cs, base.interim_transcript_hash, &signed)?;
            (Framed::Regular(signed), confirmed)
        }
        CommitForm::Split { membership_key } => {
            let unsigned = split_content(content)?;
            let confirmed = crate::split::confirmed_transcript_hash(
                cs,
                base.interim_transcript_hash,
                &unsigned.0,
            )?;
            (Framed::Split(unsigned, membership_key), confirmed)
        }
    };

    // The new epoch (RFC 9420 §8, §8.2).
    let summary = CommitSummary::of(provisional.epoch, sender, Some(own_leaf), &applied);
    let next = NextEpoch::start(
        cs,
        GroupContext {
            confirmed_transcript_hash: confirmed,
            ..provisional
        },
        &base.init_secret,
        &commit_secret,
        psk_secret(cs, &applied.psks, psk_secrets)?.as_ref(),
    )?;
    let joiner_secret = next.schedule().joiner_secret().clone();
    let welcome_key_nonce = if applied.added.is_empty() {
        None
    } else {
        Some(next.schedule().welcome_key_nonce(cs)?)
    };
    let tag = match framed {
        Framed::Regular(_) => ConfirmationTag::Compute,
        Framed::Split(..) => ConfirmationTag::Split(None),
    };
    let mut epoch = next.finish(cs, base.config, applied.tree, tag)?;
    epoch.member_proof = next_member_proof;
    let content = match framed {
        Framed::Regular(mut signed) => {
            signed.auth.confirmation_tag = Some(epoch.confirmation_tag.clone());
            BuiltContent::Regular(signed)
        }
        Framed::Split((mut unsigned, path), membership_key) => {
            unsigned.broadcast.epoch_identifier =
                crate::split::epoch_identifier(cs, &epoch.secrets)?;
            let broadcast = crate::split::protect_broadcast(
                cs,
                base.signer.secret_key.as_bytes(),
                membership_key,
                unsigned,
                base.context,
            )?;
            BuiltContent::Split(crate::split::SCommit { broadcast, path })
        }
    };

    // GroupInfo of the new epoch (RFC 9420 §12.4.3), as published for external joiners.
    let sign = |readers: GroupInfoReaders<'_>| {
        sign_group_info(
            cs,
            base.signer,
            &epoch,
            own_leaf,
            options,
            base.config,
            readers,
            tree_extension.as_ref(),
        )
    };
    let publishes_external_pub = publishes_external_pub(base.config);
    let group_info = sign(GroupInfoReaders::published(publishes_external_pub))?;

    // Welcome for the added members (RFC 9420 §12.4.3.1).
    let welcome = match welcome_key_nonce {
        None => None,
        Some((key, nonce)) => {
            // Joiners by Welcome need no `external_pub`: their GroupInfo leaves it out
            // (a smaller Welcome), and has the Welcome-only extensions and the member-proof
            // secret where the new epoch has one (D4 of draft-mahy-mls-member-proof-00 as
            // decided in `crate::member_proof`); signed separately when it differs from the
            // published one.
            let welcome_only = &options.welcome_group_info_extensions;
            let group_info_bytes = if publishes_external_pub
                || !welcome_only.is_empty()
                || epoch.member_proof.is_some()
            {
                super::encode(&sign(GroupInfoReaders::welcome(welcome_only))?)?
            } else {
                super::encode(&group_info)?
            };
            let encrypted_group_info =
                cs.aead_seal(key.as_bytes(), nonce.as_bytes(), &[], &group_info_bytes)?;
            let prepared =
                labels::prepare_encrypt_context(cs, WELCOME_LABEL, &encrypted_group_info)?;
            // The GroupSecrets of each joiner (RFC 9420 §12.4.3.1), then one HPKE
            // encryption per joiner, in parallel where enabled.
            let mut joiners = Vec::with_capacity(applied.added.len());
            for (leaf, key_package) in &applied.added {
                let path_secret = generated
                    .as_ref()
                    .and_then(|g| g.path_secret_for_joiner(&epoch.tree, *leaf))
                    .map(|s| PathSecret {
                        path_secret: s.as_bytes().to_vec(),
                    });
                let mut group_secrets = GroupSecrets {
                    joiner_secret: joiner_secret.as_bytes().to_vec(),
                    path_secret,
                    psks: applied.psks.clone(),
                };
                let encoded = group_secrets.to_bytes();
                // The struct's copies of the secrets are wiped too, not only the encoding.
                zeroize::Zeroize::zeroize(&mut group_secrets.joiner_secret);
                if let Some(path_secret) = group_secrets.path_secret.as_mut() {
                    zeroize::Zeroize::zeroize(&mut path_secret.path_secret);
                }
                joiners.push((key_package, zeroize::Zeroizing::new(encoded?)));
            }
            let secrets_list = crate::parallel::try_map_with_random(
                &joiners,
                conclave_crypto::hpke::encap_randomness_len(cs.kem()),
                rng,
                |(key_package, plaintext), rng| {
                    let encrypted = labels::encrypt_with_label_prepared(
                        cs,
                        key_package.init_key.as_ref(),
                        &prepared,
                        plaintext,
                        rng,
                    )?;
                    let encoded_kp = key_package.to_bytes()?;
                    Ok::<_, GroupError>(EncryptedGroupSecrets {
                        new_member: KeyPackageRef(labels::make_key_package_ref(cs, &encoded_kp)?),
                        encrypted_group_secrets: HpkeCiphertext {
                            kem_output: encrypted.kem_output,
                            ciphertext: encrypted.ciphertext,
                        },
                    })
                },
            )?;
            Some(mls_message(MlsMessageBody::Welcome(Welcome {
                cipher_suite: epoch.context.cipher_suite,
                secrets: secrets_list,
                encrypted_group_info,
            })))
        }
    };

    let private = match generated {
        Some(generated) => generated.into_private_tree(),
        None => {
            let mut private = previous_private.cloned().ok_or(GroupError::PathRequired(
                "an external commit always carries a path",
            ))?;
            private.prune(&epoch.tree);
            private
        }
    };
    Ok(BuiltCommit {
        content,
        staged: StagedCommit::advance(epoch, private, summary),
        welcome,
        group_info: mls_message(MlsMessageBody::GroupInfo(group_info)),
    })
}

/// A commit's content between framing and the new epoch: signed, or a split commit's
/// broadcast content still without its epoch identifier (with the SUpdatePath and the
/// membership key to tag it with).
enum Framed<'a> {
    Regular(AuthenticatedContent),
    Split(
        (
            crate::split::SCommitBroadcastContent,
            Option<crate::split::SUpdatePath>,
        ),
        &'a [u8],
    ),
}

/// The `SCommitBroadcast` content of a commit's `FramedContent` and its SUpdatePath
/// (draft-mularczyk-mls-splitcommit-00 §3 steps 2–3): the proposals, the UpdatePath's leaf,
/// the path without it; the epoch identifier still empty.
fn split_content(
    content: FramedContent,
) -> Result<
    (
        crate::split::SCommitBroadcastContent,
        Option<crate::split::SUpdatePath>,
    ),
    GroupError,
> {
    let FramedContent {
        group_id,
        epoch,
        sender,
        authenticated_data,
        content,
    } = content;
    let Content::Commit(Commit { proposals, path }) = content else {
        return Err(GroupError::MalformedState("a split commit of no commit"));
    };
    let (leaf_node, path) = match path {
        Some(UpdatePath { leaf_node, nodes }) => {
            (Some(leaf_node), Some(crate::split::SUpdatePath { nodes }))
        }
        None => (None, None),
    };
    Ok((
        crate::split::SCommitBroadcastContent {
            group_id,
            epoch,
            sender,
            authenticated_data,
            content_type: crate::split::SCommitBroadcastType,
            broadcast: crate::split::SCommitBroadcast {
                epoch_identifier: Vec::new(),
                proposals,
                leaf_node,
            },
        },
        path,
    ))
}

/// The next-epoch member-proof key a commit announces: the new epoch's (or, in tests, a
/// forged one).
fn announced_next_key(
    next: Option<&crate::member_proof::MemberProofKeys>,
    options: &CommitOptions,
) -> Option<crate::messages::SignaturePublicKey> {
    #[cfg(test)]
    if let (Some(_), Some(forged)) = (next, &options.forged_next_member_proof_key) {
        return Some(forged.clone());
    }
    let _ = options;
    next.map(|keys| keys.public_key().clone())
}

/// Whether the published GroupInfo carries `external_pub` (RFC 9420 §12.4.3.2): when the
/// group accepts external commits of either kind.
fn publishes_external_pub(config: &GroupConfig) -> bool {
    config.allow_external_commits || config.allow_external_resync
}

/// What a GroupInfo carries for its readers beyond the epoch: `external_pub` for external
/// joiners (RFC 9420 §12.4.3.2); for the joiners by Welcome, their own extensions and the
/// epoch's member-proof secret (draft-mahy-mls-member-proof-00, D4 in
/// [`crate::member_proof`]), which a published GroupInfo never carries.
pub(crate) struct GroupInfoReaders<'a> {
    /// Whether to include `external_pub`.
    pub(crate) external_pub: bool,
    /// Extensions added after the others.
    pub(crate) extensions: &'a [Extension],
    /// Whether the GroupInfo travels in a Welcome (and may carry secrets).
    pub(crate) for_welcome: bool,
}

impl<'a> GroupInfoReaders<'a> {
    /// A GroupInfo published for anyone (external joiners, the DS).
    pub(crate) fn published(external_pub: bool) -> Self {
        Self {
            external_pub,
            extensions: &[],
            for_welcome: false,
        }
    }

    /// The GroupInfo inside a Welcome, with the Welcome-only `extensions`.
    pub(crate) fn welcome(extensions: &'a [Extension]) -> Self {
        Self {
            external_pub: false,
            extensions,
            for_welcome: true,
        }
    }
}

/// Whether a commit's GroupInfo carries the ratchet tree (RFC 9420 §12.4.3.3).
fn ratchet_tree_in_group_info(config: &GroupConfig, options: &CommitOptions) -> bool {
    matches!(config.ratchet_tree_location, RatchetTreeLocation::GroupInfo)
        && options.ratchet_tree_in_group_info
}

/// From this many leaves on, a commit encodes the tree for its GroupInfo beside its path's
/// encryptions ([`crate::parallel::beside`]): below, the encoding takes less than a
/// thread hand-off.
pub(crate) const TREE_ENCODING_BESIDE_PATH: u32 = 64;

/// Signs the GroupInfo of an epoch (RFC 9420 §12.4.3), with the ratchet tree as the
/// options say (`encoded_tree`: its extension, already encoded from the epoch's tree), what `readers` asks for, and a GREASE `app_data_dictionary` when the
/// configuration asks for GREASE (draft-ietf-mls-extensions-10 §5.1).
#[allow(clippy::too_many_arguments)]
pub(crate) fn sign_group_info(
    cs: &dyn CipherSuiteProvider,
    signer: &SigningIdentity,
    epoch: &EpochState,
    own_leaf: LeafIndex,
    options: &CommitOptions,
    config: &GroupConfig,
    readers: GroupInfoReaders<'_>,
    encoded_tree: Option<&Extension>,
) -> Result<GroupInfo, GroupError> {
    let GroupInfoReaders {
        external_pub,
        extensions: welcome_extensions,
        for_welcome,
    } = readers;
    let EpochState {
        context,
        tree,
        secrets,
        confirmation_tag,
        member_proof,
        ..
    } = epoch;
    let mut extensions = Vec::new();
    // draft-ietf-mls-ratchet-tree-options-00 §3: in a group whose tree the Delivery Service
    // holds, the GroupInfo says so instead of carrying the tree.
    match config.ratchet_tree_location {
        RatchetTreeLocation::DeliveryService => {
            extensions.push(RatchetTreeOption::DistributionService.to_extension()?);
        }
        RatchetTreeLocation::GroupInfo if options.ratchet_tree_in_group_info => {
            extensions.push(match encoded_tree {
                Some(encoded) => encoded.clone(),
                None => tree.ratchet_tree_extension()?,
            });
        }
        _ => {}
    }
    if external_pub {
        let pair = secrets.external_key_pair(cs)?;
        extensions.push(
            ExternalPub {
                external_pub: crate::messages::HpkePublicKey(pair.public_key),
            }
            .to_extension()?,
        );
    }
    extensions.extend(options.group_info_extensions.iter().cloned());
    extensions.extend(welcome_extensions.iter().cloned());
    if for_welcome && let Some(keys) = member_proof {
        extensions = crate::member_proof::with_secret_in_group_info(&extensions, keys.secret())?;
    }
    if !extensions
        .iter()
        .any(|e| e.extension_type == crate::codepoints::APP_DATA_DICTIONARY_EXTENSION)
        && let Some(grease) = super::app_data::leaf::group_info_grease(config, confirmation_tag)?
    {
        extensions.push(grease);
    }
    let mut group_info = GroupInfo {
        group_context: context.clone(),
        extensions,
        confirmation_tag: confirmation_tag.to_vec(),
        signer: own_leaf,
        signature: Vec::new(),
    };
    let content = group_info.sign_content(GROUP_INFO_TBS_LABEL)?;
    group_info.signature = cs.sign(signer.secret_key.as_bytes(), &content)?;
    Ok(group_info)
}

/// `psk_secret` of the PSKs in proposal order (RFC 9420 §8.4); `None` (all zero) without PSKs.
pub(crate) fn psk_secret(
    cs: &dyn CipherSuiteProvider,
    ids: &[PreSharedKeyId],
    secrets: &[Secret],
) -> Result<Option<Secret>, GroupError> {
    if ids.is_empty() {
        return Ok(None);
    }
    let pairs: Vec<(&PreSharedKeyId, &[u8])> = ids
        .iter()
        .zip(secrets)
        .map(|(id, s)| (id, s.as_bytes()))
        .collect();
    if pairs.len() != ids.len() {
        return Err(GroupError::PskNotFound);
    }
    Ok(Some(crate::psk::psk_secret(cs, &pairs)?))
}

impl Group {
    /// Where this group finds PSKs (RFC 9420 §8.4, §8.6): the PSK store, its own recent
    /// epochs and the group it is linked to.
    pub(crate) fn psk_sources(&self) -> PskSources<'_> {
        PskSources {
            external: self.env.psks.as_ref(),
            own: Some(self),
            linked: &self.linked_psks,
        }
    }

    /// The public state of the current epoch and the policy its handshakes are judged by
    /// ([`super::public`]), shared with the non-member view.
    pub(crate) fn public_state(&self) -> PublicState<'_> {
        PublicState {
            cs: self.cs.as_ref(),
            identity: self.env.identity.as_ref(),
            context: &self.epoch.context,
            tree: &self.epoch.tree,
            interim_transcript_hash: &self.epoch.interim_transcript_hash,
            proposals: &self.proposals,
            policy: self.config.public_policy(),
            components: self.components.handler(),
            psks: Some(self.psk_sources()),
        }
    }

    /// Validates and applies a committed proposal list against the current epoch
    /// (RFC 9420 §12.2, §12.3): for a commit we create and for one we receive alike.
    pub(super) fn validate_proposals(
        &self,
        committer: Committer,
        committed: &[CommittedProposal],
        now: u64,
    ) -> Result<AppliedProposals, GroupError> {
        self.public_state()
            .validate_proposals(committer, committed, now)
    }

    /// Creates a commit (RFC 9420 §12.4.1) of the pending proposals (by reference) and
    /// `options.proposals` (by value). The commit stays pending: merge it with
    /// [`Group::merge_pending_commit`] once the Delivery Service accepted it, or let it be
    /// recognised when it comes back.
    pub fn commit(
        &mut self,
        options: &CommitOptions,
        now: u64,
        rng: &mut dyn CryptoRandom,
    ) -> Result<CommitOutput, GroupError> {
        let built = self.build_own_commit(options, now, false, rng)?;
        let body = self.protect_signed(built.content.regular()?, rng)?;
        let commit = mls_message(body);
        *self.pending_commit = Some(Box::new(PendingCommit {
            encoded: commit.to_bytes()?,
            staged: built.staged,
        }));
        Ok(CommitOutput {
            commit,
            welcome: built.welcome,
            group_info: built.group_info,
        })
    }

    /// Creates a split commit (draft-mularczyk-mls-splitcommit-00 §3, "Constructing a
    /// Splittable Commit"): the commit [`Group::commit`] would create — the same proposals,
    /// path and new epoch — sent as an [`crate::split::SCommit`]. It stays pending like any
    /// commit of ours. Split it for each receiver with [`Group::per_member_commit`] (or let
    /// the Delivery Service do so with [`crate::split::split_for_receiver`]). Refused unless
    /// the group enabled split commits ([`crate::split`]).
    pub fn split_commit(
        &mut self,
        options: &CommitOptions,
        now: u64,
        rng: &mut dyn CryptoRandom,
    ) -> Result<SplitCommitOutput, GroupError> {
        if !crate::split::is_enabled(&self.epoch.context.extensions)? {
            return Err(crate::split::SplitCommitError::NotEnabled.into());
        }
        let built = self.build_own_commit(options, now, true, rng)?;
        let BuiltContent::Split(scommit) = built.content else {
            return Err(GroupError::MalformedState(
                "a framed commit, not a split one",
            ));
        };
        let message = crate::split::SplitMessage::SCommit(scommit.clone());
        *self.pending_commit = Some(Box::new(PendingCommit {
            encoded: message.to_bytes()?,
            staged: built.staged,
        }));
        Ok(SplitCommitOutput {
            scommit,
            welcome: built.welcome,
            group_info: built.group_info,
        })
    }

    /// The PerMemberCommit of our pending split commit for the member at `receiver`
    /// (draft-mularczyk-mls-splitcommit-00 §3: "any party who knows the ratchet tree created
    /// by the splittable commit"), from the pending epoch's tree.
    pub fn per_member_commit(
        &self,
        scommit: &crate::split::SCommit,
        receiver: LeafIndex,
    ) -> Result<crate::split::PerMemberCommit, GroupError> {
        let pending = self
            .pending_commit
            .as_deref()
            .ok_or(GroupError::MalformedState("no pending commit"))?;
        let epoch = pending
            .staged
            .epoch
            .as_deref()
            .ok_or(GroupError::MalformedState(
                "the pending commit has no next epoch",
            ))?;
        Ok(crate::split::split_for_receiver(
            scommit,
            &epoch.tree,
            &pending.staged.summary.added,
            receiver,
        )?)
    }

    /// Everything of [`Group::commit`] before the commit is protected: the proposals, the
    /// path, the new epoch, framed as a commit or (`split`) an SCommit.
    pub(crate) fn build_own_commit(
        &self,
        options: &CommitOptions,
        now: u64,
        split: bool,
        rng: &mut dyn CryptoRandom,
    ) -> Result<BuiltCommit, GroupError> {
        self.ensure_active()?;
        if self.pending_commit.is_some() {
            return Err(GroupError::PendingCommit);
        }
        let own = self.own_leaf();
        let mut committed = Vec::new();
        let mut refs = Vec::new();
        if options.include_pending {
            for cached in self.proposals.iter() {
                // Our own Update is superseded by the commit's path; a Remove of us must be
                // committed by someone else (RFC 9420 §12.2).
                let ours_to_skip =
                    match &cached.proposal {
                        Proposal::Update(_) => cached.sender == Sender::Member(own),
                        Proposal::Remove(remove) => remove.removed == own,
                        _ => false,
                    } || super::self_remove::left_out_of_commit(own, cached, &self.proposals);
                if ours_to_skip {
                    continue;
                }
                committed.push(CommittedProposal {
                    sender: cached.sender,
                    proposal: cached.proposal.clone(),
                });
                refs.push(ProposalOrRef::Reference(cached.reference.clone()));
            }
        }
        for proposal in &options.proposals {
            super::self_remove::check_not_by_value(proposal)?;
            committed.push(CommittedProposal {
                sender: Sender::Member(own),
                proposal: proposal.clone(),
            });
            refs.push(ProposalOrRef::Proposal(Box::new(proposal.clone())));
        }
        if options.replace_late_updates {
            for proposal in self.late_update_replaces(&committed, now) {
                committed.push(CommittedProposal {
                    sender: Sender::Member(own),
                    proposal: proposal.clone(),
                });
                refs.push(ProposalOrRef::Proposal(Box::new(proposal)));
            }
        }
        super::app_data::order_for_profile(
            self.config.codepoint_profile,
            &mut committed,
            &mut refs,
        );
        let applied = self.validate_proposals(Committer::Member(own), &committed, now)?;
        let psk_secrets = self.psk_sources().resolve(&applied.psks)?;
        let template = self
            .epoch
            .tree
            .leaf(own)
            .cloned()
            .ok_or(GroupError::UnknownSender(own))?;
        let built = {
            let base = CommitBase {
                cs: self.cs.as_ref(),
                config: &self.config,
                signer: &self.signer,
                context: &self.epoch.context,
                interim_transcript_hash: &self.epoch.interim_transcript_hash,
                init_secret: self.epoch.secrets.init_secret.clone(),
                own_leaf: Some(own),
                leaf_template: &template,
                member_proof: self.epoch.member_proof.as_ref(),
                form: if split {
                    CommitForm::Split {
                        membership_key: self.epoch.secrets.membership_key.as_bytes(),
                    }
                } else {
                    CommitForm::Regular
                },
            };
            build_commit(
                &base,
                applied,
                refs,
                &psk_secrets,
                Some(&self.private),
                options,
                rng,
            )?
        };
        Ok(built)
    }

    /// The GroupInfo of the current epoch, signed by us (RFC 9420 §12.4.3), e.g. for the
    /// Delivery Service to serve to external joiners.
    pub fn group_info(&self, with_ratchet_tree: bool) -> Result<MlsMessage, GroupError> {
        let options = CommitOptions {
            ratchet_tree_in_group_info: with_ratchet_tree,
            ..CommitOptions::default()
        };
        let group_info = sign_group_info(
            self.cs.as_ref(),
            &self.signer,
            &self.epoch,
            self.own_leaf(),
            &options,
            &self.config,
            GroupInfoReaders::published(publishes_external_pub(&self.config)),
            None,
        )?;
        Ok(mls_message(MlsMessageBody::GroupInfo(group_info)))
    }
}

/// The public half of a received commit (RFC 9420 §12.4.2): the next epoch's tree, group
/// context and transcript hashes, computed with no secret of the group. What remains for a
/// member is the path secrets, the key schedule and the confirmation tag
/// ([`process_commit`]); a non-member stops here ([`crate::public_group`]).
#[derive(Debug, Clone)]
pub(crate) struct PublicCommit {
    /// Who committed.
    pub(crate) sender: Sender,
    pub(crate) committer: Committer,
    /// The proposals applied and the UpdatePath merged, if any.
    pub(crate) applied: AppliedProposals,
    /// The committer's leaf in the new epoch (an external joiner's once its path is in);
    /// `None` only for an external commit without a path, which is refused.
    pub(crate) committer_leaf: Option<LeafIndex>,
    /// Whether the commit carried an UpdatePath.
    pub(crate) path: bool,
    /// The provisional GroupContext (RFC 9420 §12.4.2): epoch, tree hash and extensions of
    /// the next epoch, the current confirmed transcript hash. The UpdatePath is encrypted to
    /// it.
    pub(crate) provisional: GroupContext,
    /// The next epoch's confirmed transcript hash (RFC 9420 §8.2).
    pub(crate) confirmed_transcript_hash: Vec<u8>,
    /// The commit's confirmation tag, unverified (RFC 9420 §6.1: the confirmation key is a
    /// secret of the next epoch).
    pub(crate) confirmation_tag: Vec<u8>,
}

impl PublicCommit {
    /// The GroupContext of the next epoch: the provisional one with the new confirmed
    /// transcript hash (RFC 9420 §8.2, §12.4.2).
    pub(crate) fn next_context(&self) -> GroupContext {
        GroupContext {
            confirmed_transcript_hash: self.confirmed_transcript_hash.clone(),
            ..self.provisional.clone()
        }
    }

    /// What the commit changed.
    pub(crate) fn summary(&self) -> CommitSummary {
        CommitSummary::of(
            self.provisional.epoch,
            self.sender,
            self.committer_leaf,
            &self.applied,
        )
    }
}

/// Computes the public half of a verified commit from a member or an external joiner
/// (RFC 9420 §12.4.2): resolves its proposals (by value, by reference from the epoch's
/// cache), validates the list (§12.2, §12.4.3.2, draft-ietf-mls-extensions-10 §6.3) and the
/// group's external-commit policy, applies it (§12.3), validates and merges the UpdatePath
/// (§7.6, §7.9.2) and derives the next GroupContext and confirmed transcript hash (§8.2).
/// Nothing of the group changes here. Members ([`process_commit`]) and non-members
/// ([`crate::public_group::PublicGroup`]) call it alike.
pub(crate) fn stage_public_commit(
    state: &PublicState<'_>,
    verified: &VerifiedContent<'_>,
    now: u64,
) -> Result<PublicCommit, GroupError> {
    stage_received_commit(state, &ReceivedCommit::framed(verified)?, now)
}

/// What binds a received commit to the next epoch.
pub(crate) enum CommitProof<'a> {
    /// A framed commit: its transcript-hash input and confirmation tag (RFC 9420 §6.1, §8.2).
    Framed(&'a VerifiedContent<'a>),
    /// A split commit: the transcript hash over its broadcast content and the epoch
    /// identifier in place of the tag (draft-mularczyk-mls-splitcommit-00 §3, §4).
    Split(&'a crate::split::SCommitBroadcastContent),
}

/// A received, signature-verified commit, however it was framed.
pub(crate) struct ReceivedCommit<'a> {
    pub(crate) sender: Sender,
    pub(crate) commit: std::borrow::Cow<'a, Commit>,
    pub(crate) authenticated_data: &'a [u8],
    pub(crate) proof: CommitProof<'a>,
    /// The one path ciphertext of a per-member split commit (its UpdatePath nodes then
    /// carry none).
    pub(crate) single_ciphertext: Option<crate::messages::HpkeCiphertextRef<'a>>,
}

impl<'a> ReceivedCommit<'a> {
    /// A framed commit (RFC 9420 §12.4).
    pub(crate) fn framed(verified: &'a VerifiedContent<'a>) -> Result<Self, GroupError> {
        let Content::Commit(commit) = verified.content() else {
            return Err(GroupError::InvalidProposalList("not a commit"));
        };
        Ok(Self {
            sender: verified.sender(),
            commit: std::borrow::Cow::Borrowed(commit),
            authenticated_data: &verified.framed_content().authenticated_data,
            proof: CommitProof::Framed(verified),
            single_ciphertext: None,
        })
    }
}

/// [`stage_public_commit`] of a commit however it was framed (a split commit's included,
/// draft-mularczyk-mls-splitcommit-00 §3 processing step 3: "as specified in RFC 9420").
pub(crate) fn stage_received_commit(
    state: &PublicState<'_>,
    received: &ReceivedCommit<'_>,
    now: u64,
) -> Result<PublicCommit, GroupError> {
    let cs = state.cs;
    let commit = received.commit.as_ref();
    let sender = received.sender;
    let committer = match sender {
        Sender::Member(leaf) => Committer::Member(leaf),
        Sender::NewMemberCommit => {
            if !state.policy.allow_external_commits && !state.policy.allow_external_resync {
                return Err(GroupError::SenderNotAllowed {
                    sender: sender.sender_type(),
                    what: "a commit: external commits are disabled by policy",
                    section: "12.4.3.2",
                });
            }
            Committer::External
        }
        Sender::External(_) | Sender::NewMemberProposal => {
            return Err(GroupError::SenderNotAllowed {
                sender: sender.sender_type(),
                what: "a commit",
                section: "6.1",
            });
        }
    };

    // Resolve the proposals (RFC 9420 §12.4): by value from the committer, by reference from
    // the cache. External commits carry no references (§12.4.3.2) but SelfRemoves
    // (draft-ietf-mls-extensions-10 §6.3).
    let mut committed = Vec::with_capacity(commit.proposals.len());
    for entry in &commit.proposals {
        match entry {
            ProposalOrRef::Proposal(proposal) => {
                super::self_remove::check_not_by_value(proposal)?;
                committed.push(CommittedProposal {
                    sender,
                    proposal: Proposal::clone(proposal),
                });
            }
            ProposalOrRef::Reference(reference) => {
                let cached = state
                    .proposals
                    .iter()
                    .find(|p| &p.reference == reference)
                    .ok_or(GroupError::UnknownProposalRef)?;
                if committer == Committer::External {
                    super::self_remove::check_external_reference(&cached.proposal)?;
                }
                committed.push(CommittedProposal {
                    sender: cached.sender,
                    proposal: cached.proposal.clone(),
                });
            }
        }
    }
    let mut applied = state.validate_proposals(committer, &committed, now)?;
    if committer == Committer::External {
        let joiner = commit.path.as_ref().map(|path| &*path.leaf_node);
        state.check_policy(committer, joiner, &committed, &applied)?;
    }
    // The two external-commit policies are independent: a group may let members that lost
    // their state rejoin (resync, removing their prior appearance) without letting
    // newcomers in (RFC 9420 §12.4.3.2; RFC 9750 "Invalid Commits").
    if committer == Committer::External {
        let resync = !applied.removed.is_empty();
        if resync && !state.policy.allow_external_resync {
            return Err(GroupError::SenderNotAllowed {
                sender: sender.sender_type(),
                what: "a resync external commit (disabled by policy)",
                section: "12.4.3.2",
            });
        }
        if !resync && !state.policy.allow_external_commits {
            return Err(GroupError::SenderNotAllowed {
                sender: sender.sender_type(),
                what: "an external commit by a newcomer (only resync is allowed by policy)",
                section: "12.4.3.2",
            });
        }
    }
    super::replace::check_path(&committed, commit.path.is_some())?;
    if commit.path.is_none() && applied.path_required {
        return Err(GroupError::PathRequired(
            "the commit is empty or covers a proposal type that requires a path",
        ));
    }
    let committer_leaf = match (&commit.path, committer) {
        (Some(path), _) => Some(apply_path(state, &mut applied, committer, path, now)?),
        (None, Committer::Member(leaf)) => Some(leaf),
        (None, Committer::External) => None,
    };
    let provisional = provisional_context(cs, state.context, &mut applied)?;
    let (confirmed_transcript_hash, confirmation_tag) = match received.proof {
        CommitProof::Framed(verified) => (
            match verified.precomputed_transcript_hash(state.interim_transcript_hash) {
                Some(hash) => hash.to_vec(),
                None => transcript::confirmed_transcript_hash_of_encoded(
                    cs,
                    state.interim_transcript_hash,
                    verified.wire_format(),
                    verified.encoded_content(),
                    &verified.auth().signature,
                )?,
            },
            verified
                .auth()
                .confirmation_tag
                .clone()
                .ok_or(GroupError::ConfirmationTagMismatch)?,
        ),
        // No confirmation tag (draft-mularczyk-mls-splitcommit-00 §3, §4).
        CommitProof::Split(content) => (
            crate::split::confirmed_transcript_hash(cs, state.interim_transcript_hash, content)?,
            Vec::new(),
        ),
    };
    Ok(PublicCommit {
        sender,
        committer,
        applied,
        committer_leaf,
        path: commit.path.is_some(),
        provisional,
        confirmed_transcript_hash,
        confirmation_tag,
    })
}

/// Processes a verified commit from another member or an external joiner (RFC 9420 §12.4.2)
/// into a staged next epoch: its public half ([`stage_public_commit`]), then the path
/// secrets, the key schedule and the confirmation tag. Nothing of the group changes here.
pub(crate) fn process_commit(
    group: &Group,
    verified: VerifiedContent<'_>,
    now: u64,
) -> Result<StagedCommit, GroupError> {
    process_received_commit(group, &ReceivedCommit::framed(&verified)?, now)
}

/// [`process_commit`] of a commit however it was framed (a split commit's included,
/// draft-mularczyk-mls-splitcommit-00 §3 processing steps 2–4).
pub(crate) fn process_received_commit(
    group: &Group,
    received: &ReceivedCommit<'_>,
    now: u64,
) -> Result<StagedCommit, GroupError> {
    let cs = group.cs.as_ref();
    let public = stage_received_commit(&group.public_state(), received, now)?;
    let path = received.commit.path.as_ref();
    let psk_secrets = group.psk_sources().resolve(&public.applied.psks)?;
    let own = group.own_leaf();
    let summary = public.summary();
    if public.applied.removed_leaves().any(|leaf| leaf == own) {
        // We cannot follow into the next epoch (RFC 9420 §12.4.2: delete the state).
        let mut summary = summary;
        summary.self_removed = true;
        return Ok(StagedCommit {
            epoch: None,
            private: None,
            summary,
            status: Some(GroupStatus::Removed),
        });
    }
    let next_context = public.next_context();
    let PublicCommit {
        applied,
        committer_leaf,
        provisional,
        confirmation_tag,
        ..
    } = public;

    // If a committed Update replaced our leaf, we hold its new private key (RFC 9420 §12.1.2).
    let mut private = group.private.clone();
    // A Replace of our leaf installs the LeafNode of one of our earlier Updates, whose key we
    // kept (draft-barnes-mls-replace-00 §4; [`super::Group::retain_update_keys`]).
    if applied.updated.contains(&own)
        && let Some(leaf) = applied.tree.leaf(own)
    {
        let key = group
            .pending_updates
            .iter()
            .find(|k| k.public_key == leaf.encryption_key)
            .ok_or(super::replace::ReplaceError::UnknownOwnKey)?;
        private.insert(own.node(), key.clone());
    }
    let commit_secret = match (path, committer_leaf) {
        (Some(path), Some(sender_leaf)) => {
            let new_leaves: Vec<LeafIndex> = applied.added.iter().map(|(leaf, _)| *leaf).collect();
            let provisional_bytes = super::encode(&provisional)?;
            let decrypted = decrypt_path(
                cs,
                &applied.tree,
                sender_leaf,
                path,
                &private,
                &new_leaves,
                &provisional_bytes,
                received.single_ciphertext,
            )?;
            private.prune(&applied.tree);
            for (node, key) in decrypted.keys {
                private.insert(node, key);
            }
            decrypted.commit_secret
        }
        (Some(_), None) => {
            return Err(GroupError::MalformedState(
                "a path without a committer leaf",
            ));
        }
        (None, _) => {
            private.prune(&applied.tree);
            Secret::zero(cs.hash_len())
        }
    };

    // The init secret: the previous epoch's, or the external one (RFC 9420 §8.3).
    let init_secret = match &applied.external_init {
        Some(init) => {
            let pair = group.epoch.secrets.external_key_pair(cs)?;
            let receiver = hpke::setup_receiver(
                cs,
                &init.kem_output,
                pair.secret_key.as_bytes(),
                &[],
                None,
                None,
            )?;
            receiver.export(EXTERNAL_INIT_LABEL, cs.hash_len())?
        }
        None => group.epoch.secrets.init_secret.clone(),
    };

    // draft-mahy-mls-member-proof-00 §4 (D3, D7): the new epoch's member-proof keys, which
    // the commit must have announced.
    let next_member_proof = crate::member_proof::keys_for_epoch(
        cs,
        &provisional.extensions,
        init_secret.as_bytes(),
        commit_secret.as_bytes(),
        &provisional.group_id,
        provisional.epoch,
    )?;
    super::member_proof::check_next_epoch_key(
        group.config.codepoint_profile,
        &group.epoch.context,
        next_member_proof.as_ref(),
        received.authenticated_data,
    )?;
    let tag = match received.proof {
        CommitProof::Framed(_) => ConfirmationTag::Verify(&confirmation_tag),
        CommitProof::Split(content) => {
            ConfirmationTag::Split(Some(&content.broadcast.epoch_identifier))
        }
    };
    let mut epoch = NextEpoch::start(
        cs,
        next_context,
        &init_secret,
        &commit_secret,
        psk_secret(cs, &applied.psks, &psk_secrets)?.as_ref(),
    )?
    .finish(cs, &group.config, applied.tree, tag)?;
    epoch.member_proof = next_member_proof;
    Ok(StagedCommit::advance(epoch, private, summary))
}

/// The provisional GroupContext of the next epoch (RFC 9420 §12.4.1, §12.4.2): the epoch
/// incremented, the extensions the proposals left and the hash of the new tree; the
/// confirmed transcript hash is still the current one.
fn provisional_context(
    cs: &dyn CipherSuiteProvider,
    current: &GroupContext,
    applied: &mut AppliedProposals,
) -> Result<GroupContext, GroupError> {
    Ok(GroupContext {
        epoch: current
            .epoch
            .checked_add(1)
            .ok_or(GroupError::MalformedState("epoch overflow"))?,
        tree_hash: applied.tree.tree_hash(cs)?,
        extensions: applied.extensions.clone(),
        ..current.clone()
    })
}

impl CommitSummary {
    /// What a commit over `applied` changed, leading to epoch `epoch`.
    fn of(
        epoch: u64,
        committer: Sender,
        committer_leaf: Option<LeafIndex>,
        applied: &AppliedProposals,
    ) -> Self {
        Self {
            epoch,
            committer,
            committer_leaf,
            added: applied.added.iter().map(|(leaf, _)| *leaf).collect(),
            removed: applied.removed_leaves().collect(),
            updated: applied.updated.clone(),
            reinit: applied.reinit.clone(),
            self_removed: false,
            app_data: applied.app_data.clone(),
        }
    }
}

impl StagedCommit {
    /// A staged move to `epoch`, reinitialising the group if the commit carried a ReInit
    /// (RFC 9420 §11.2).
    fn advance(epoch: EpochState, private: PrivateTree, summary: CommitSummary) -> Self {
        let status = summary.reinit.clone().map(GroupStatus::ReInitialized);
        Self {
            epoch: Some(Box::new(epoch)),
            private: Some(private),
            summary,
            status,
        }
    }
}

/// Validates the UpdatePath's leaf and merges the path into the tree (RFC 9420 §12.4.2,
/// §7.6, §7.9.2): the leaf is a valid `commit`-source LeafNode for the committer's position
/// (a new encryption key, a valid successor of the leaf it replaces), no path key is already
/// in the tree, and the parent hash the leaf carries matches the new path. Returns the
/// committer's leaf.
fn apply_path(
    state: &PublicState<'_>,
    applied: &mut AppliedProposals,
    committer: Committer,
    path: &UpdatePath,
    now: u64,
) -> Result<LeafIndex, GroupError> {
    let cs = state.cs;
    let (sender_leaf, replaced) = match committer {
        Committer::Member(leaf) => {
            let old = state
                .tree
                .leaf(leaf)
                .ok_or(GroupError::UnknownSender(leaf))?;
            if old.encryption_key == path.leaf_node.encryption_key {
                return Err(GroupError::CommitterEncryptionKeyUnchanged);
            }
            (leaf, Some(old.clone()))
        }
        Committer::External => {
            // A resync replaces the removed appearance: its leaf must be a valid successor.
            let replaced = applied.removed.first().map(|(_, old)| old.clone());
            (
                applied.tree.add_leaf(LeafNode::clone(&path.leaf_node))?,
                replaced,
            )
        }
    };
    {
        let requirements = GroupRequirements::from_group_context_in(
            &GroupContext {
                extensions: applied.extensions.clone(),
                ..state.context.clone()
            },
            &state.policy.negotiation,
        )?;
        let members = applied.tree.member_credential_types(Some(sender_leaf));
        let keys = TreeKeys {
            tree: &applied.tree,
            except: Some(sender_leaf),
        };
        let validator = LeafNodeValidator {
            cs,
            identity: state.identity,
            group: &requirements,
            members: &members,
            keys: &keys,
            lifetime_policy: state.policy.lifetime_policy,
            now,
        };
        validator.validate_leaf_node(
            &path.leaf_node,
            &LeafNodeContext::Commit {
                group_id: &state.context.group_id,
                leaf_index: sender_leaf,
                replaced: replaced.as_ref(),
            },
        )?;
    }
    for node in &path.nodes {
        if applied
            .tree
            .find_node_by_encryption_key(&node.encryption_key)
            .is_some()
        {
            return Err(GroupError::DuplicatePathKey);
        }
    }
    let keys = path
        .nodes
        .iter()
        .map(|n| n.encryption_key.clone())
        .collect();
    let parent_hash = applied.tree.set_path_keys(cs, sender_leaf, keys)?;
    check_committer_parent_hash(&path.leaf_node, &parent_hash)?;
    applied
        .tree
        .set_leaf(sender_leaf, Some(LeafNode::clone(&path.leaf_node)))?;
    Ok(sender_leaf)
}
