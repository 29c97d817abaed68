//! Verified groups: the DS follows a group's public state from its handshakes and takes the
//! member list from it (RFC 9750 §5, the "assisted" Delivery Service), never from a list a
//! client writes.
//!
//! A group is verified when its creator gives the DS the GroupInfo (and tree) of its first
//! epoch (`POST /v1/groups` with `group_info`). The DS builds a
//! [`PublicGroup`](conclave_core::public_group::PublicGroup) from it, checked as a joiner
//! checks a GroupInfo, and from then on:
//!
//! - every proposal posted to the group is a PublicMessage whose signature the DS verifies
//!   against the sender (RFC 9420 §6.1) and whose rules it checks as members do (§12.1);
//! - every commit is a PublicMessage the DS processes as members do, without the secrets
//!   (§12.4.2): the proposal list, the UpdatePath's leaf, keys and parent hash, the new tree
//!   hash and GroupContext; an external commit (§12.4.3.2) is signed by the joiner's new
//!   leaf and carries exactly one ExternalInit;
//! - the committer's GroupInfo must describe exactly the epoch the DS computed, signed by a
//!   member; the ratchet tree the DS serves is its own;
//! - the members are the clients the leaves of the DS's tree name ([`crate::identity`]):
//!   a commit can cut no one off and let no one in but by its verified proposals.
//!
//! What the DS cannot verify stays the members' job (the module docs of
//! `conclave_core::public_group`): membership tags, confirmation tags, the encrypted path
//! secrets. A commit that passes here but fails there moves the DS to an epoch the members
//! refuse; the members then report it (RFC 9750 "Invalid Commits").

use std::sync::Arc;

use conclave_codec::{Decode, Encode};
use conclave_core::credential::IdentityProvider;
use conclave_core::messages::{
    GroupInfo, LeafIndex, LeafNode, MlsMessage, MlsMessageBody, RatchetTreeNodes, Sender,
};
use conclave_core::public_group::{PublicGroup, PublicGroupConfig, PublicHandshake};
use conclave_crypto::CipherSuiteProvider;

use crate::error::DsError;
use crate::identity::{UnauthenticatedIdentities, client_id_of};
use crate::policy::run_policy;
use crate::receiver::DsReceiver;
use crate::state::AppState;
use crate::store::{GroupRecord, LogEntry};

/// What a verified group's creation stores: the GroupInfo and tree of its first epoch and
/// the DS's public state.
pub(crate) struct VerifiedStart {
    /// The GroupInfo `MLSMessage`.
    pub(crate) group_info: Vec<u8>,
    /// The tree (`RatchetTreeNodes`), the DS's own encoding.
    pub(crate) ratchet_tree: Vec<u8>,
    /// [`PublicGroup::to_bytes`].
    pub(crate) public_state: Vec<u8>,
    /// Whether the GroupInfo says the DS holds the tree
    /// (draft-ietf-mls-ratchet-tree-options-00 §3 `distributionService`).
    pub(crate) tree_on_ds: bool,
}

/// Whether a GroupInfo carries `RatchetTreeOption{distributionService}`
/// (draft-ietf-mls-ratchet-tree-options-00 §3).
pub(crate) fn says_tree_on_ds(info: &GroupInfo) -> Result<bool, DsError> {
    conclave_core::ratchet_tree_options::RatchetTreeLocation::of_group_info(&info.extensions)
        .map(|l| l == conclave_core::ratchet_tree_options::RatchetTreeLocation::DeliveryService)
        .map_err(|e| DsError::BadRequest(format!("group_info: {e}")))
}

/// [`says_tree_on_ds`] of an encoded GroupInfo `MLSMessage`.
pub(crate) fn message_says_tree_on_ds(message: &MlsMessage) -> Result<bool, DsError> {
    says_tree_on_ds(group_info_of(message)?)
}

/// The refusal of a group that asks the DS to hold its tree while the DS cannot follow its
/// handshakes (draft-ietf-mls-ratchet-tree-options-00 §3: "not possible if any handshake
/// messages are sent as an MLS PrivateMessage").
pub(crate) fn tree_needs_readable_handshakes(why: &str) -> DsError {
    DsError::TreeNeedsReadableHandshakes(format!(
        "the Delivery Service can hold a group's ratchet tree only if it reads the group's \
         handshakes (draft-ietf-mls-ratchet-tree-options-00 §3); {why}: create the group with \
         public or semi-private handshakes and register its first GroupInfo, or keep the tree \
         in its Welcomes and GroupInfos"
    ))
}

/// What a verified commit changes at the DS.
pub(crate) struct VerifiedCommit {
    /// The members after the commit, by client id, sorted.
    pub(crate) members: Vec<String>,
    /// The tree after the commit, the DS's own encoding.
    pub(crate) ratchet_tree: Vec<u8>,
    /// The public state after the commit.
    pub(crate) public_state: Vec<u8>,
    /// The KeyPackageRefs of the members the commit adds: its Welcome is for them only.
    pub(crate) added: Vec<Vec<u8>>,
    /// What annotating the commit and its Welcome for partial clients needs
    /// ([`annotate`]).
    pub(crate) annotation: AnnotationInputs,
}

/// What the DS's views before and after a verified commit give the annotators of
/// draft-ietf-mls-partial-02 (§8 AnnotatedWelcome, §10 AnnotatedCommit): "any party that
/// knows the group's ratchet tree (both before and after the Commit) and the indices of the
/// sender and receiver in the tree" (§10).
pub(crate) struct AnnotationInputs {
    suite: u16,
    /// The view before the commit (its tree is the tree before).
    before: PublicGroup,
    /// The commit processed (its group's tree is the tree after); moved here, not copied.
    after: Box<conclave_core::public_group::StagedPublicCommit>,
    committer: LeafIndex,
    committer_client: String,
    external: bool,
    has_path: bool,
    new_leaves: Vec<LeafIndex>,
    /// The members after the commit that process it, by client id (one leaf each, its
    /// first): neither the committer nor the members it adds (they join by Welcome). The
    /// members it removes are not in the tree after, so they get no annotation.
    receivers: Vec<(String, LeafIndex)>,
    /// The members the commit adds: their leaf, KeyPackageRef and client id.
    joiners: Vec<(LeafIndex, Vec<u8>, String)>,
}

impl AnnotationInputs {
    /// The client ids the commit may be annotated for: its receivers and joiners.
    pub(crate) fn candidates(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .receivers
            .iter()
            .map(|(c, _)| c.clone())
            .chain(self.joiners.iter().map(|(_, _, c)| c.clone()))
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }
}

/// The annotations of one verified commit for its partial clients: the TLS-encoded
/// AnnotatedCommits by client id, and the TLS-encoded AnnotatedWelcomes by KeyPackageRef.
pub(crate) struct Annotations {
    /// For `CommitRecord::annotations`.
    pub(crate) commits: Vec<(String, Vec<u8>)>,
    /// For `CommitRecord::annotated_welcomes`.
    pub(crate) welcomes: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Annotates a verified commit for the partial clients among its receivers and joiners
/// (`partial`): draft-ietf-mls-partial-02 §10 — each partial receiver gets the
/// AnnotatedCommit [`CommitAnnotator`] builds from the DS's trees before and after; §8 —
/// each partial joiner whose KeyPackage the Welcome names gets the AnnotatedWelcome whose
/// sender is the committer's leaf after the commit (the GroupInfo's signer) and whose joiner
/// is its new leaf, both proven in the tree after.
///
/// [`CommitAnnotator`]: conclave_core::partial::CommitAnnotator
pub(crate) async fn annotate(
    state: &AppState,
    inputs: AnnotationInputs,
    commit: MlsMessage,
    welcome: Option<(MlsMessage, Vec<Vec<u8>>)>,
    partial: Vec<String>,
) -> Result<Annotations, DsError> {
    let cs = state.suite(inputs.suite)?;
    blocking(move || {
        let cs = cs.as_ref();
        let failed = |e: conclave_core::partial::PartialError| {
            DsError::Internal(format!("annotating the commit for partial clients: {e}"))
        };
        let partial: std::collections::HashSet<String> = partial.into_iter().collect();
        let is_partial = |client: &String| partial.contains(client);
        let mut out = Annotations {
            commits: Vec::new(),
            welcomes: Vec::new(),
        };
        let receivers: Vec<&(String, LeafIndex)> = inputs
            .receivers
            .iter()
            .filter(|(client, _)| is_partial(client) && *client != inputs.committer_client)
            .collect();
        if !receivers.is_empty() {
            let annotator = conclave_core::partial::CommitAnnotator::new(
                cs,
                inputs.before.tree(),
                inputs.after.group().tree(),
                conclave_core::partial::CommitFacts {
                    commit: &commit,
                    committer: inputs.committer,
                    new_member_commit: inputs.external,
                    has_path: inputs.has_path,
                    new_leaves: &inputs.new_leaves,
                },
            )
            .map_err(failed)?;
            for (client, leaf) in receivers {
                let annotated = annotator.annotate_for(cs, *leaf).map_err(failed)?;
                out.commits.push((client.clone(), encode(&annotated)?));
            }
        }
        if let Some((message, refs)) = welcome {
            let MlsMessageBody::Welcome(welcome) = message.body else {
                return Err(DsError::BadRequest("the Welcome is not a Welcome".into()));
            };
            for (leaf, kp_ref, client) in &inputs.joiners {
                if !is_partial(client) || !refs.contains(kp_ref) {
                    continue;
                }
                let annotated = conclave_core::partial::annotate_welcome(
                    cs,
                    inputs.after.group().tree(),
                    welcome.clone(),
                    inputs.committer,
                    *leaf,
                )
                .map_err(failed)?;
                out.welcomes.push((kp_ref.clone(), encode(&annotated)?));
            }
        }
        Ok(out)
    })
    .await
}

fn encode(value: &impl Encode) -> Result<Vec<u8>, DsError> {
    value
        .to_bytes()
        .map_err(|e| DsError::Internal(format!("encoding an annotation: {e}")))
}

/// The MembershipProof (draft-ietf-mls-partial-02 §7) of `client`'s leaf (its first) in
/// the current epoch of the verified group `record` describes; `None` when the group is not
/// verified or no leaf names `client`.
pub(crate) async fn membership_proof(
    state: &AppState,
    record: &GroupRecord,
    client: &str,
) -> Result<Option<Vec<u8>>, DsError> {
    let Some(verifier) = Verifier::of(state, record).await? else {
        return Ok(None);
    };
    let client = client.to_owned();
    blocking(move || {
        let view = verifier.load(&[])?;
        let Some(leaf) = view
            .members()
            .find(|(_, leaf)| {
                verifier.client_of(leaf, "a member's").ok().as_deref() == Some(&client)
            })
            .map(|(index, _)| index)
        else {
            return Ok(None);
        };
        let proof = conclave_core::partial::MembershipProof::for_leaf(
            view.tree(),
            verifier.opener.cs.as_ref(),
            leaf,
        )
        .map_err(|e| DsError::Internal(format!("the membership proof: {e}")))?;
        encode(&proof).map(Some)
    })
    .await
}

/// The identity provider leaves are validated with: the credential policy's (the AS's),
/// else identities as claims ([`crate::identity`]).
async fn identities(state: &AppState) -> Result<Arc<dyn IdentityProvider>, DsError> {
    if let Some(policy) = state.config.credential_policy.clone()
        && let Some(provider) =
            run_policy(policy, "leaf identity provider", |p| p.leaf_identities()).await?
    {
        return Ok(provider);
    }
    let provider = UnauthenticatedIdentities::new(state.crypto.as_ref())
        .map_err(|e| DsError::Internal(format!("identity provider: {e}")))?;
    Ok(Arc::new(provider))
}

/// The policy of the DS's views: external commits, newcomers' and resyncs', are judged by
/// the group's `allow_external_join` flag at the DS (checked with the epoch, in the store's
/// transaction), so the view itself accepts both kinds. Application components: the ones
/// Conclave clients use (the group topic).
fn view_config() -> PublicGroupConfig {
    PublicGroupConfig {
        allow_external_commits: true,
        allow_external_resync: true,
        components: conclave_core::group::topic::components(),
        ..PublicGroupConfig::default()
    }
}

fn bad(what: &str) -> impl Fn(conclave_core::public_group::PublicGroupError) -> DsError + '_ {
    move |e| DsError::BadRequest(format!("{what}: {e}"))
}

/// The client id a leaf names, or a refusal naming `whose`.
fn client_of(
    leaf: &LeafNode,
    identity: &dyn IdentityProvider,
    whose: &str,
) -> Result<String, DsError> {
    identity
        .identity(&leaf.credential)
        .ok()
        .and_then(|id| client_id_of(&id))
        .ok_or_else(|| {
            DsError::BadRequest(format!(
                "{whose} leaf names no client of this Delivery Service (its credential's \
                 identity must be a client id, or mls://<client id>)"
            ))
        })
}

/// The members of a view, by client id, sorted and deduplicated.
fn roster(view: &PublicGroup, identity: &dyn IdentityProvider) -> Result<Vec<String>, DsError> {
    let mut members = Vec::new();
    for (_, leaf) in view.members() {
        members.push(client_of(leaf, identity, "a member's")?);
    }
    members.sort();
    members.dedup();
    Ok(members)
}

fn encode_tree(view: &PublicGroup) -> Result<Vec<u8>, DsError> {
    view.tree()
        .to_nodes()
        .to_bytes()
        .map_err(|e| DsError::Internal(format!("encoding the tree: {e}")))
}

fn encode_state(view: &PublicGroup) -> Result<Vec<u8>, DsError> {
    view.to_bytes()
        .map_err(|e| DsError::Internal(format!("encoding the public state: {e}")))
}

/// The GroupInfo inside an `MLSMessage`.
fn group_info_of(message: &MlsMessage) -> Result<&GroupInfo, DsError> {
    match &message.body {
        MlsMessageBody::GroupInfo(info) => Ok(info),
        _ => Err(DsError::BadRequest("group_info: not a GroupInfo".into())),
    }
}

/// Refuses a tree of more than `max_nodes` nodes (twice the DS's member limit) before it is
/// built: an in-memory tree costs tens of bytes per node, and a run of blank nodes is one
/// byte each on the wire (issue: decode amplification). The tree is the one given, else the
/// GroupInfo's `ratchet_tree` extension (RFC 9420 §12.4.3.3).
fn check_tree_size(
    info: &GroupInfo,
    given: Option<&RatchetTreeNodes>,
    max_nodes: usize,
) -> Result<(), DsError> {
    let in_extension;
    let nodes = match given {
        Some(nodes) => nodes,
        None => {
            in_extension =
                conclave_core::messages::find_payload::<RatchetTreeNodes>(&info.extensions)
                    .map_err(|e| DsError::BadRequest(format!("group_info: ratchet_tree: {e}")))?;
            match &in_extension {
                Some(nodes) => nodes,
                None => return Ok(()),
            }
        }
    };
    if nodes.0.len() > max_nodes {
        return Err(DsError::BadRequest(format!(
            "the ratchet tree has {} nodes; a group of this DS has at most {} members, so at \
             most {max_nodes} nodes",
            nodes.0.len(),
            max_nodes / 2
        )));
    }
    Ok(())
}

/// Starts a verified group (`POST /v1/groups` with `group_info`): the GroupInfo of epoch
/// `epoch` of `group_id`, verified as a joiner verifies it (RFC 9420 §12.4.3.1 without the
/// secrets), whose only member is `creator`.
pub(crate) async fn start(
    state: &AppState,
    creator: &str,
    group_id: &[u8],
    epoch: u64,
    group_info_b64: &str,
    ratchet_tree_b64: Option<&str>,
) -> Result<VerifiedStart, DsError> {
    let info_bytes = crate::routes::b64("group_info", group_info_b64)?;
    let tree_bytes = ratchet_tree_b64
        .map(|t| crate::routes::b64("ratchet_tree", t))
        .transpose()?;
    let identity = identities(state).await?;
    let crypto = state.crypto.clone();
    let now = state.now();
    let creator = creator.to_owned();
    let group_id = group_id.to_vec();
    let max_nodes = state.config.max_members.saturating_mul(2);
    blocking(move || {
        let message = MlsMessage::from_bytes(&info_bytes)
            .map_err(|e| DsError::BadRequest(format!("group_info: {e}")))?;
        let info = group_info_of(&message)?;
        let nodes = tree_bytes
            .as_deref()
            .map(RatchetTreeNodes::from_bytes)
            .transpose()
            .map_err(|e| DsError::BadRequest(format!("ratchet_tree: {e}")))?;
        check_tree_size(info, nodes.as_ref(), max_nodes)?;
        if info.group_context.group_id != group_id || info.group_context.epoch != epoch {
            return Err(DsError::BadRequest(
                "the GroupInfo is not for this group id and epoch".into(),
            ));
        }
        let view = PublicGroup::from_group_info(
            crypto.as_ref(),
            identity.clone(),
            info,
            nodes.as_ref(),
            view_config(),
            now,
        )
        .map_err(bad("group_info"))?;
        let tree_on_ds = says_tree_on_ds(info)?;
        if tree_on_ds
            && conclave_core::group::handshake_mode::recorded_handshake_wire_format(
                &info.group_context.extensions,
            ) == Some(conclave_core::messages::WireFormat::PRIVATE_MESSAGE)
        {
            return Err(tree_needs_readable_handshakes(
                "this group records PrivateMessage handshakes",
            ));
        }
        let members = roster(&view, identity.as_ref())?;
        if members != [creator.clone()] {
            return Err(DsError::Forbidden(format!(
                "a new group's only member must be its creator {creator}; its tree names {}",
                members.join(", ")
            )));
        }
        Ok(VerifiedStart {
            group_info: info_bytes,
            ratchet_tree: encode_tree(&view)?,
            public_state: encode_state(&view)?,
            tree_on_ds,
        })
    })
    .await
}

/// What checking a handshake of a verified group needs, gathered once per request: the
/// stored public state, the leaf identity provider, the DS's opener for semi-private
/// handshakes, the crypto backend and the time.
struct Verifier {
    state_bytes: Vec<u8>,
    identity: Arc<dyn IdentityProvider>,
    opener: Opener,
    crypto: Arc<dyn conclave_crypto::CryptoProvider>,
    now: u64,
}

impl Verifier {
    /// The verifier of the group `record` describes; `None` for an unverified group.
    async fn of(state: &AppState, record: &GroupRecord) -> Result<Option<Self>, DsError> {
        let Some(state_bytes) = record.public_state.clone() else {
            return Ok(None);
        };
        Ok(Some(Self {
            state_bytes,
            identity: identities(state).await?,
            opener: Opener::of(state, record).await?,
            crypto: state.crypto.clone(),
            now: state.now(),
        }))
    }

    /// The view of the group's current epoch with the epoch's proposals from the log
    /// (`proposals`, in log order) cached: each was verified when posted, and is verified
    /// again (a proposal that no longer passes is left out, and a commit naming it is
    /// refused).
    fn load(&self, proposals: &[LogEntry]) -> Result<PublicGroup, DsError> {
        let mut view = PublicGroup::from_bytes(
            &self.state_bytes,
            self.crypto.as_ref(),
            self.identity.clone(),
        )
        .map_err(|e| DsError::Internal(format!("the group's public state: {e}")))?;
        view.set_components(conclave_core::group::topic::components());
        for entry in proposals {
            let Ok(message) = MlsMessage::from_bytes(&entry.data) else {
                continue;
            };
            if let Ok(handshake) = self.process(&view, &message, "a proposal") {
                // A duplicate is refused by `apply` and changes nothing.
                let _ = view.apply(handshake);
            }
        }
        Ok(view)
    }

    /// [`process`] with this verifier's opener and time.
    fn process(
        &self,
        view: &PublicGroup,
        message: &MlsMessage,
        what: &str,
    ) -> Result<PublicHandshake, DsError> {
        process(view, &self.opener, message, what, self.now)
    }

    /// The client id a leaf names ([`client_of`]).
    fn client_of(&self, leaf: &LeafNode, whose: &str) -> Result<String, DsError> {
        client_of(leaf, self.identity.as_ref(), whose)
    }
}

/// Checks a proposal posted by `poster` to a verified group (RFC 9420 §6.1, §12.1): a
/// PublicMessage of the current epoch whose signature and content the view accepts, sent by
/// the poster's own leaf (a member's proposal), or by a joiner that is the poster (a
/// `new_member_proposal`), or by an external sender of the group.
pub(crate) async fn check_proposal(
    state: &AppState,
    record: &GroupRecord,
    poster: &str,
    message: MlsMessage,
) -> Result<(), DsError> {
    let Some(verifier) = Verifier::of(state, record).await? else {
        return Ok(());
    };
    let poster = poster.to_owned();
    blocking(move || {
        let view = verifier.load(&[])?;
        let handshake = verifier.process(&view, &message, "the proposal")?;
        let PublicHandshake::Proposal {
            sender, proposal, ..
        } = &handshake
        else {
            return Err(DsError::BadRequest("not a proposal".into()));
        };
        match sender {
            Sender::Member(leaf) => {
                let leaf = view
                    .tree()
                    .leaf(*leaf)
                    .ok_or_else(|| DsError::BadRequest("the sender leaf is blank".into()))?;
                let sender = verifier.client_of(leaf, "the sender's")?;
                if sender != poster {
                    return Err(DsError::Forbidden(format!(
                        "the proposal is signed by {sender}'s leaf; {poster} cannot post it"
                    )));
                }
            }
            Sender::NewMemberProposal => {
                if let conclave_core::messages::Proposal::Add(add) = proposal.as_ref() {
                    let joiner = verifier.client_of(&add.key_package.leaf_node, "the joiner's")?;
                    if joiner != poster {
                        return Err(DsError::Forbidden(format!(
                            "a new member proposal for {joiner} cannot be posted by {poster}"
                        )));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    })
    .await
}

/// Checks that the leaf a targeted message is addressed to (its clear
/// `recipient_leaf_index`, draft-ietf-mls-targeted-messages-01 §3) is held by `recipient`,
/// the client the sender names for routing: in a verified group the DS knows the tree, so
/// a sender cannot have an aside for one member delivered to another. Groups the DS does
/// not follow are not checked (the recipient's client refuses a message for another leaf).
pub(crate) async fn check_targeted_recipient(
    state: &AppState,
    record: &GroupRecord,
    recipient_leaf: conclave_core::tree_math::LeafIndex,
    recipient: &str,
) -> Result<(), DsError> {
    let Some(verifier) = Verifier::of(state, record).await? else {
        return Ok(());
    };
    let recipient = recipient.to_owned();
    blocking(move || {
        let view = verifier.load(&[])?;
        let holder = view
            .tree()
            .leaf(recipient_leaf)
            .map(|leaf| verifier.client_of(leaf, "the recipient's"))
            .transpose()?;
        if holder.as_deref() != Some(recipient.as_str()) {
            return Err(DsError::BadRequest(format!(
                "the targeted message is for leaf {}, which {recipient} does not hold                  (draft-ietf-mls-targeted-messages-01 §3: recipient_leaf_index); address                  it to the recipient's current leaf",
                recipient_leaf.0
            )));
        }
        Ok(())
    })
    .await
}

/// Who may post application messages in one epoch of a verified group with a room policy
/// (draft-ietf-mimi-room-policy-04 §8.3: "The Hub can enforce whether a member can send a
/// message"): the members by client id, and those among them whose role holds
/// `canSendMessage`.
#[derive(Debug, Default)]
pub(crate) struct MessageSenders {
    /// Every client holding a leaf.
    pub(crate) members: std::collections::HashSet<String>,
    /// The members that may send.
    pub(crate) allowed: std::collections::HashSet<String>,
}

/// [`MessageSenders`] of the current epoch of the group `record` describes; `None` when it
/// is not verified or has no room policy (anyone may post; members check it too).
pub(crate) async fn message_senders(
    state: &AppState,
    record: &GroupRecord,
) -> Result<Option<MessageSenders>, DsError> {
    let Some(verifier) = Verifier::of(state, record).await? else {
        return Ok(None);
    };
    blocking(move || {
        let view = verifier.load(&[])?;
        let extensions = &view.context().extensions;
        let policy = conclave_core::group::policy::RoomPolicy::from_extensions(extensions)
            .map_err(|e| DsError::Internal(format!("the group's room policy: {e}")))?;
        if policy.is_none() {
            return Ok(None);
        }
        let mut senders = MessageSenders::default();
        for (_, leaf) in view.members() {
            let Ok(client) = verifier.client_of(leaf, "a member's") else {
                continue;
            };
            let may_send = conclave_core::group::policy::check_message(
                extensions,
                || {
                    verifier.identity.identity(&leaf.credential).map_err(|e| {
                        conclave_core::group::policy::PolicyError::UnknownUser(e.to_string())
                    })
                },
                conclave_core::group::policy::MessageRole::Send,
            )
            .is_ok();
            if may_send {
                senders.allowed.insert(client.clone());
            }
            senders.members.insert(client);
        }
        Ok(Some(senders))
    })
    .await
}

/// The DS's means to open a verified group's semi-private handshakes: its external
/// receiver for the group's suite, and the suite.
pub(crate) struct Opener {
    receiver: Arc<DsReceiver>,
    cs: Box<dyn CipherSuiteProvider>,
}

impl Opener {
    /// The opener of the group `record` describes (the suite of its latest GroupInfo).
    pub(crate) async fn of(state: &AppState, record: &GroupRecord) -> Result<Self, DsError> {
        let info = record
            .group_info
            .as_deref()
            .ok_or_else(|| DsError::Internal("a verified group without GroupInfo".into()))?;
        let message = MlsMessage::from_bytes(info)
            .map_err(|e| DsError::Internal(format!("the stored GroupInfo: {e}")))?;
        let suite = group_info_of(&message)?.group_context.cipher_suite;
        Ok(Self {
            receiver: state.external_receiver(suite.0).await?,
            cs: state.suite(suite.0)?,
        })
    }
}

/// Checks one handshake of a verified group against `view` (module docs): a PublicMessage
/// as it is; a SemiPrivateMessage opened with the DS's key first
/// (draft-mahy-mls-semiprivatemessage-07 §3.3: the external receiver decrypts it, checks the
/// `framed_content_tbs_hash` against the group's context, then verifies it as a member's
/// content). A PrivateMessage handshake is refused: the DS could not read it.
fn process(
    view: &PublicGroup,
    opener: &Opener,
    message: &MlsMessage,
    what: &str,
    now: u64,
) -> Result<PublicHandshake, DsError> {
    let what = format!("{what} is refused");
    let refused = bad(&what);
    match &message.body {
        MlsMessageBody::PublicMessage(_) => view.process_message(message, now).map_err(refused),
        MlsMessageBody::SemiPrivateMessage(semi) => {
            let opened = opener.receiver.open(opener.cs.as_ref(), semi)?;
            if opened.content.sender != Sender::Member(opened.sender_leaf) {
                return Err(DsError::BadRequest(format!(
                    "{what}: its sender is not the leaf its keys name"
                )));
            }
            opened
                .check_framed_content_tbs_hash(opener.cs.as_ref(), view.context())
                .map_err(|e| DsError::BadRequest(format!("{what}: {e}")))?;
            view.process_content(opened.wire_format, &opened.content, &opened.auth, now)
                .map_err(refused)
        }
        _ => Err(DsError::BadRequest(
            "this group's handshakes are verified by the Delivery Service: send proposals \
             and commits as PublicMessage or SemiPrivateMessage"
                .into(),
        )),
    }
}

/// Processes the commit of a bundle posted by `poster` to a verified group against the
/// group's state `record` and the epoch's proposals (module docs): the commit, the
/// committer (the poster's own leaf, or for an external commit the poster's new leaf), the
/// GroupInfo. Returns what the store applies with the epoch move; `None` for an unverified
/// group.
pub(crate) async fn check_commit(
    state: &AppState,
    record: &GroupRecord,
    poster: &str,
    commit: MlsMessage,
    group_info: MlsMessage,
    proposals: Vec<LogEntry>,
) -> Result<Option<VerifiedCommit>, DsError> {
    let Some(verifier) = Verifier::of(state, record).await? else {
        return Ok(None);
    };
    let poster = poster.to_owned();
    blocking(move || {
        let view = verifier.load(&proposals)?;
        let handshake = verifier.process(&view, &commit, "the commit")?;
        let PublicHandshake::Commit(staged) = handshake else {
            return Err(DsError::BadRequest("not a commit".into()));
        };
        let next = staged.group();
        let summary = staged.summary();
        let committer_leaf = next
            .tree()
            .leaf(summary.committer_leaf)
            .ok_or_else(|| DsError::BadRequest("the committer's leaf is blank".into()))?;
        let committer = verifier.client_of(committer_leaf, "the committer's")?;
        if committer != poster {
            return Err(DsError::Forbidden(format!(
                "the commit is signed by {committer}'s leaf; {poster} cannot post it"
            )));
        }
        next.check_group_info(group_info_of(&group_info)?)
            .map_err(bad("the GroupInfo is not the epoch the commit creates"))?;
        let ratchet_tree = encode_tree(next)?;
        let public_state = encode_state(next)?;
        let added = summary
            .added
            .iter()
            .map(|(_, kp_ref)| kp_ref.0.clone())
            .collect();
        // The roster, and who the commit could be annotated for (one pass over the leaves).
        let added_at: std::collections::HashMap<LeafIndex, &[u8]> = summary
            .added
            .iter()
            .map(|(leaf, kp_ref)| (*leaf, kp_ref.0.as_slice()))
            .collect();
        let mut members = Vec::new();
        let mut receivers: Vec<(String, LeafIndex)> = Vec::new();
        let mut joiners = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (index, leaf) in next.members() {
            let client = verifier.client_of(leaf, "a member's")?;
            if let Some(kp_ref) = added_at.get(&index) {
                joiners.push((index, kp_ref.to_vec(), client.clone()));
            } else if index != summary.committer_leaf && seen.insert(client.clone()) {
                receivers.push((client.clone(), index));
            }
            members.push(client);
        }
        members.sort();
        members.dedup();
        let facts = (
            summary.committer_leaf,
            summary.external,
            summary.path,
            summary.added.iter().map(|(leaf, _)| *leaf).collect(),
        );
        let annotation = AnnotationInputs {
            suite: view.context().cipher_suite.0,
            before: view,
            after: staged,
            committer: facts.0,
            committer_client: committer,
            external: facts.1,
            has_path: facts.2,
            new_leaves: facts.3,
            receivers,
            joiners,
        };
        Ok(Some(VerifiedCommit {
            members,
            ratchet_tree,
            public_state,
            added,
            annotation,
        }))
    })
    .await
}

/// The GroupInfo `MLSMessage` of the epoch a member's commit creates, rebuilt from its
/// `PartialGroupInfo` by the group's view and verified
/// ([`PublicGroup::group_info_from_partial`], draft-ietf-mls-ratchet-tree-options-00 §4): the
/// commit is processed as [`check_commit`] processes it (which runs again on the rebuilt
/// bundle), and the signer is its committer's leaf.
pub(crate) async fn rebuild_group_info(
    state: &AppState,
    record: &GroupRecord,
    poster: &str,
    commit: MlsMessage,
    partial: conclave_core::ratchet_tree_options::PartialGroupInfo,
    proposals: Vec<LogEntry>,
) -> Result<MlsMessage, DsError> {
    let Some(verifier) = Verifier::of(state, record).await? else {
        return Err(DsError::BadRequest(
            "a PartialGroupInfo needs a group whose handshakes the DS follows".into(),
        ));
    };
    let poster = poster.to_owned();
    blocking(move || {
        let view = verifier.load(&proposals)?;
        let handshake = verifier.process(&view, &commit, "the commit")?;
        let PublicHandshake::Commit(staged) = &handshake else {
            return Err(DsError::BadRequest("not a commit".into()));
        };
        let committer = staged.summary().committer_leaf;
        let next = staged.group();
        let leaf = next
            .tree()
            .leaf(committer)
            .ok_or_else(|| DsError::BadRequest("the committer's leaf is blank".into()))?;
        if verifier.client_of(leaf, "the committer's")? != poster {
            return Err(DsError::Forbidden(format!(
                "the commit is not signed by {poster}'s leaf"
            )));
        }
        let info = next
            .group_info_from_partial(&partial, committer)
            .map_err(bad(
                "the PartialGroupInfo is not the epoch the commit creates",
            ))?;
        Ok(MlsMessage {
            version: conclave_core::messages::ProtocolVersion::MLS10,
            body: MlsMessageBody::GroupInfo(info),
        })
    })
    .await
}

/// Runs CPU-bound verification off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, DsError> + Send + 'static,
) -> Result<T, DsError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| DsError::Internal(format!("verification task: {e}")))?
}
