//! Application data in the group state (draft-ietf-mls-extensions-10 §4.6–§4.8): the
//! `app_data_dictionary` GroupContext extension, the AppDataUpdate and AppEphemeral
//! proposals, and the application's component logic they call.
//!
//! - The application supplies its components as a [`ComponentHandler`] (through
//!   [`super::MemberParams::components`], or [`Group::set_component_handler`] after loading a
//!   group). It validates AppEphemeral data and computes a component's new data from an
//!   AppDataUpdate. A component it does not list is unknown, and every proposal for an
//!   unknown component is invalid (§4.7, §4.8). [`NoComponents`] knows none.
//! - Conclave itself implements the components the draft defines: `app_components`,
//!   `safe_aad` and `content_media_types` in the GroupContext (an AppDataUpdate carries the
//!   component's whole new value, checked to decode), and `app_ack` in AppEphemeral
//!   ([`ack`], §6.1). Any other (component, proposal) pair goes to the application: the draft
//!   leaves where a component may appear to it (§7.5).
//! - Commits report what changed ([`AppDataSummary`] in [`super::CommitSummary`]), so that a
//!   client can show "alice set the topic to …".
//!
//! Submodules: [`ack`] (AppAck, §6.1), [`content`] (content media types and
//! `ApplicationFraming`, §6.2), [`leaf`] (the dictionaries, wire formats and GREASE of the
//! leaves, KeyPackages and GroupInfos we create, §4.6, §5, §5.1).

pub mod ack;
pub mod content;
pub mod leaf;

use std::sync::Arc;

use conclave_codec::{CodecError, Decode, Encode};
use conclave_crypto::CryptoRandom;

use super::proposals::{
    AppliedProposals, CommittedProposal, Committer, ProposalContext, check_context_support,
};
use super::public::PublicState;
use super::{CommitBuilder, Group, GroupError};
use crate::codepoints::{
    APP_ACK_COMPONENT, APP_COMPONENTS_COMPONENT, AppDataUpdateBase, CONTENT_MEDIA_TYPES_COMPONENT,
    CodepointProfile, DictionaryPlacement, SAFE_AAD_COMPONENT,
};
use crate::messages::{
    AppDataDictionary, AppDataUpdate, AppDataUpdateOperation, AppEphemeral, ComponentId,
    ComponentsList, Extension, ExtensionPayload, ExtensionProposal, ExtensionProposalBody,
    ExtensionProposalKind, GroupContextExtensions, MediaTypeList, MlsMessage, Proposal,
    ProposalOrRef, ProposalType, RequiredCapabilities, Sender, find_payload,
};
use crate::validation::ValidationError;
use crate::validation::negotiation::{DictionaryLocation, check_dictionary};

pub use ack::{app_ack_ephemeral, app_ack_of, check_app_ack};
pub use content::FramedApplicationData;

// ---- the application's components ----------------------------------------------------------

/// What the component logic is called about: which component, who sent the proposal, and
/// where (draft-ietf-mls-extensions-10 §4.7, §4.8: an application "can make more restrictive
/// validity rules" for external senders and external commits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComponentCall<'a> {
    /// The component.
    pub component_id: ComponentId,
    /// Who sent the proposal: a member, an external sender, or the joiner of an external
    /// commit (`NewMemberCommit`).
    pub sender: Sender,
    /// Whether the proposal is in an external commit.
    pub external_commit: bool,
    /// The group.
    pub group_id: &'a [u8],
    /// The epoch the commit leads to (the current epoch plus one).
    pub epoch: u64,
}

/// Why the component logic refused an update or ephemeral data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ComponentRejection {
    /// The application does not know the component.
    #[error("the component is not known to the application")]
    Unknown,
    /// The application considers the data or update invalid.
    #[error("{0}")]
    Invalid(String),
}

/// The application's components (draft-ietf-mls-extensions-10 §4.7, §4.8: "the MLS client
/// needs an application callback interface"). Implementations must be deterministic: every
/// member computes the same new data from the same update, or the group forks.
pub trait ComponentHandler: Send + Sync {
    /// The components the application implements. They are the only ones whose proposals
    /// are valid, besides those Conclave implements, and they are advertised in the
    /// `app_components` of our leaves (§5).
    fn supported_components(&self) -> Vec<ComponentId>;

    /// Validates the data of an AppEphemeral proposal for `call.component_id` (§4.8).
    fn validate_ephemeral(
        &self,
        call: &ComponentCall<'_>,
        data: &[u8],
    ) -> Result<(), ComponentRejection>;

    /// Computes the component's new data from its current data (`None` when the group
    /// context has no entry for it) and one AppDataUpdate `update` (§4.7). Several updates
    /// of one component in a commit are applied one after the other, in commit order.
    fn apply_update(
        &self,
        call: &ComponentCall<'_>,
        current: Option<&[u8]>,
        update: &[u8],
    ) -> Result<Vec<u8>, ComponentRejection>;
}

/// A [`ComponentHandler`] that knows no component: every AppDataUpdate and AppEphemeral for
/// a component Conclave does not implement is invalid. The default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoComponents;

impl ComponentHandler for NoComponents {
    fn supported_components(&self) -> Vec<ComponentId> {
        Vec::new()
    }

    fn validate_ephemeral(
        &self,
        _call: &ComponentCall<'_>,
        _data: &[u8],
    ) -> Result<(), ComponentRejection> {
        Err(ComponentRejection::Unknown)
    }

    fn apply_update(
        &self,
        _call: &ComponentCall<'_>,
        _current: Option<&[u8]>,
        _update: &[u8],
    ) -> Result<Vec<u8>, ComponentRejection> {
        Err(ComponentRejection::Unknown)
    }
}

/// A shared [`ComponentHandler`], as [`super::MemberParams`] and [`Group`] hold it.
#[derive(Clone)]
pub struct Components(Arc<dyn ComponentHandler>);

impl Components {
    /// Wraps a handler.
    pub fn new(handler: impl ComponentHandler + 'static) -> Self {
        Self(Arc::new(handler))
    }

    /// Wraps a shared handler.
    pub fn from_arc(handler: Arc<dyn ComponentHandler>) -> Self {
        Self(handler)
    }

    /// The handler.
    pub fn handler(&self) -> &dyn ComponentHandler {
        self.0.as_ref()
    }
}

impl Default for Components {
    fn default() -> Self {
        Self::new(NoComponents)
    }
}

impl core::fmt::Debug for Components {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("Components")
            .field(&self.0.supported_components())
            .finish()
    }
}

/// The components whose GroupContext data Conclave itself updates (draft-ietf-mls-
/// extensions-10 §5, §6.2): an AppDataUpdate of one carries its whole new value.
pub const BUILTIN_UPDATE_COMPONENTS: [ComponentId; 3] = [
    APP_COMPONENTS_COMPONENT,
    SAFE_AAD_COMPONENT,
    CONTENT_MEDIA_TYPES_COMPONENT,
];

/// The components whose AppEphemeral data Conclave itself validates (draft-ietf-mls-
/// extensions-10 §6.1).
pub const BUILTIN_EPHEMERAL_COMPONENTS: [ComponentId; 1] = [APP_ACK_COMPONENT];

// ---- errors --------------------------------------------------------------------------------

/// A broken rule of the application-data part of draft-ietf-mls-extensions-10. Each message
/// names the rule and its section.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AppDataError {
    /// A draft proposal travels under a codepoint the group's profile does not give it.
    #[error(
        "draft-ietf-mls-extensions-10 §7.2: proposal type {proposal_type:?} does not carry {kind:?} under the group's codepoint profile {profile}"
    )]
    ProposalCodepoint {
        /// The codepoint on the wire.
        proposal_type: ProposalType,
        /// The body it carries.
        kind: ExtensionProposalKind,
        /// The group's profile.
        profile: CodepointProfile,
    },
    /// A proposal the group's codepoint profile keeps out of external commits, because the
    /// peers it stands for refuse it there.
    #[error(
        "draft-ietf-mls-extensions-10 §4.7, §4.8: the codepoint profile {profile} keeps {kind:?} out of external commits (its peers refuse it there)"
    )]
    NotInExternalCommit {
        /// The proposal's kind.
        kind: ExtensionProposalKind,
        /// The group's profile.
        profile: CodepointProfile,
    },
    /// An AppDataUpdate names a component the application does not know.
    #[error(
        "draft-ietf-mls-extensions-10 §4.7: AppDataUpdate for component {0:?}, which is not known to the application"
    )]
    UnknownUpdateComponent(ComponentId),
    /// An AppEphemeral names a component the application does not know.
    #[error(
        "draft-ietf-mls-extensions-10 §4.8: AppEphemeral for component {0:?}, which is not known to the application"
    )]
    UnknownEphemeralComponent(ComponentId),
    /// The component logic rejected an update.
    #[error(
        "draft-ietf-mls-extensions-10 §4.7: the update of component {component:?} is invalid: {reason}"
    )]
    UpdateRejected {
        /// The component.
        component: ComponentId,
        /// Why.
        reason: String,
    },
    /// The component logic rejected AppEphemeral data.
    #[error(
        "draft-ietf-mls-extensions-10 §4.8: the AppEphemeral data of component {component:?} is invalid: {reason}"
    )]
    EphemeralRejected {
        /// The component.
        component: ComponentId,
        /// Why.
        reason: String,
    },
    /// A component has a remove together with another AppDataUpdate in one commit.
    #[error(
        "draft-ietf-mls-extensions-10 §4.7: component {0:?} has a remove together with another AppDataUpdate (one remove, or updates only)"
    )]
    RemoveNotAlone(ComponentId),
    /// A remove names a component without an entry.
    #[error(
        "draft-ietf-mls-extensions-10 §4.7: remove of component {0:?}, which has no entry in the group context's app_data_dictionary"
    )]
    RemoveOfAbsentEntry(ComponentId),
    /// A GroupContextExtensions proposal touches the dictionary although AppDataUpdate is
    /// required.
    #[error(
        "draft-ietf-mls-extensions-10 §4.7: AppDataUpdate is in required_capabilities, so a GroupContextExtensions proposal must not add, remove or modify app_data_dictionary"
    )]
    GroupContextExtensionsTouchesDictionary,
    /// A leaf or KeyPackage was given application data but its capabilities do not list
    /// `app_data_dictionary`.
    #[error(
        "draft-ietf-mls-extensions-10 §4.6, RFC 9420 §7.2: application data for a leaf whose capabilities do not list app_data_dictionary"
    )]
    DictionaryNotInCapabilities,
    /// The group's codepoint profile has no wire-format extensions.
    #[error(
        "draft-ietf-mls-extensions-10 §5: the codepoint profile {0} has no required_wire_formats extension"
    )]
    NoWireFormatExtensions(CodepointProfile),
    /// An AppAck does not decode.
    #[error("draft-ietf-mls-extensions-10 §6.1: the AppAck does not decode: {0}")]
    MalformedAppAck(CodecError),
    /// An AppAck range ends before it starts.
    #[error(
        "draft-ietf-mls-extensions-10 §6.1: AppAck range of sender {sender} runs from generation {first} to {last}"
    )]
    AppAckRangeReversed {
        /// The sender of the acknowledged messages.
        sender: u32,
        /// `first_generation`.
        first: u32,
        /// `last_generation`.
        last: u32,
    },
    /// Two AppAck ranges of one sender overlap or are not in increasing order.
    #[error(
        "draft-ietf-mls-extensions-10 §6.1: the AppAck ranges of sender {0} overlap or are out of order"
    )]
    AppAckRangesOverlap(u32),
    /// An AppAck acknowledges messages of a leaf that is not a member in this epoch.
    #[error(
        "draft-ietf-mls-extensions-10 §6.1: AppAck for messages of leaf {0}, which is not a member in this epoch"
    )]
    AppAckSenderNotMember(u32),
    /// The group context has no `content_media_types`: application data is not framed.
    #[error(
        "draft-ietf-mls-extensions-10 §6.2: the group context has no content_media_types, so application data is not ApplicationFraming"
    )]
    NotFramed,
    /// Application data is not a valid `ApplicationFraming`.
    #[error(
        "draft-ietf-mls-extensions-10 §6.2: the application data is not an ApplicationFraming: {0}"
    )]
    MalformedFraming(CodecError),
    /// A media type is neither required by the group nor accepted by every member.
    #[error(
        "draft-ietf-mls-extensions-10 §6.2: media type {0:?} is neither in the group's content_media_types nor accepted by every member"
    )]
    MediaTypeNotSupported(String),
}

// ---- the proposals ------------------------------------------------------------------------

/// An AppDataUpdate proposal under `profile`'s codepoint (draft-ietf-mls-extensions-10 §4.7).
pub fn app_data_update_proposal(profile: CodepointProfile, update: AppDataUpdate) -> Proposal {
    Proposal::Extension(ExtensionProposal::new(
        profile,
        ExtensionProposalBody::AppDataUpdate(update),
    ))
}

/// An AppEphemeral proposal under `profile`'s codepoint (draft-ietf-mls-extensions-10 §4.8).
pub fn app_ephemeral_proposal(profile: CodepointProfile, ephemeral: AppEphemeral) -> Proposal {
    Proposal::Extension(ExtensionProposal::new(
        profile,
        ExtensionProposalBody::AppEphemeral(ephemeral),
    ))
}

/// A draft proposal must travel under the codepoint the group's profile gives its kind
/// (draft-ietf-mls-extensions-10 §7.2, [`CodepointProfile::proposal_kind`]).
pub(crate) fn check_codepoint(
    profile: CodepointProfile,
    proposal: &ExtensionProposal,
) -> Result<(), AppDataError> {
    if profile.proposal_kind(proposal.proposal_type) == Some(proposal.body.kind()) {
        Ok(())
    } else {
        Err(AppDataError::ProposalCodepoint {
            proposal_type: proposal.proposal_type,
            kind: proposal.body.kind(),
            profile,
        })
    }
}

/// Whether a component's GroupContext data may be updated: one Conclave implements or one
/// the application lists (draft-ietf-mls-extensions-10 §4.7).
fn update_known(handler: &dyn ComponentHandler, component: ComponentId) -> bool {
    BUILTIN_UPDATE_COMPONENTS.contains(&component)
        || handler.supported_components().contains(&component)
}

/// One update of a component's GroupContext data (draft-ietf-mls-extensions-10 §4.7): the
/// components Conclave implements take their whole new value (which must decode); the
/// others go to the application.
fn apply_one_update(
    handler: &dyn ComponentHandler,
    call: &ComponentCall<'_>,
    current: Option<&[u8]>,
    update: &[u8],
) -> Result<Vec<u8>, AppDataError> {
    let component = call.component_id;
    let rejected = |reason: String| AppDataError::UpdateRejected { component, reason };
    match component {
        APP_COMPONENTS_COMPONENT | SAFE_AAD_COMPONENT => {
            ComponentsList::from_bytes(update).map_err(|e| rejected(e.to_string()))?;
            Ok(update.to_vec())
        }
        CONTENT_MEDIA_TYPES_COMPONENT => {
            let list = MediaTypeList::from_bytes(update).map_err(|e| rejected(e.to_string()))?;
            if list.media_type_list.is_empty() {
                return Err(rejected(
                    "a content_media_types list must contain at least one media type (§6.2)".into(),
                ));
            }
            Ok(update.to_vec())
        }
        _ if !handler.supported_components().contains(&component) => {
            Err(AppDataError::UnknownUpdateComponent(component))
        }
        _ => handler
            .apply_update(call, current, update)
            .map_err(|rejection| match rejection {
                ComponentRejection::Unknown => AppDataError::UnknownUpdateComponent(component),
                ComponentRejection::Invalid(reason) => rejected(reason),
            }),
    }
}

/// Validates AppEphemeral data (draft-ietf-mls-extensions-10 §4.8): `app_ack` here
/// ([`check_app_ack`] against the members of the current epoch), the others by the
/// application.
fn validate_ephemeral(
    handler: &dyn ComponentHandler,
    call: &ComponentCall<'_>,
    tree: &crate::tree::RatchetTree,
    data: &[u8],
) -> Result<(), AppDataError> {
    let component = call.component_id;
    if component == APP_ACK_COMPONENT {
        let ack =
            crate::messages::AppAck::from_bytes(data).map_err(AppDataError::MalformedAppAck)?;
        return check_app_ack(&ack, tree);
    }
    if !handler.supported_components().contains(&component) {
        return Err(AppDataError::UnknownEphemeralComponent(component));
    }
    handler
        .validate_ephemeral(call, data)
        .map_err(|rejection| match rejection {
            ComponentRejection::Unknown => AppDataError::UnknownEphemeralComponent(component),
            ComponentRejection::Invalid(reason) => {
                AppDataError::EphemeralRejected { component, reason }
            }
        })
}

/// Checks a draft proposal received by reference (draft-ietf-mls-extensions-10 §4.7, §4.8)
/// before it is cached: its component must be known, and AppEphemeral data must be valid
/// (against the members of this epoch, which a commit of it checks too). Refusing it here
/// keeps an invalid proposal out of the cache, where it would make every commit that covers
/// the pending proposals invalid. An update's effect is computed when it is committed, as it
/// depends on the other updates of the commit.
pub(crate) fn check_received(
    state: &PublicState<'_>,
    sender: Sender,
    proposal: &ExtensionProposal,
) -> Result<(), GroupError> {
    let handler = state.components;
    match &proposal.body {
        ExtensionProposalBody::AppDataUpdate(update)
            if !update_known(handler, update.component_id) =>
        {
            return Err(AppDataError::UnknownUpdateComponent(update.component_id).into());
        }
        ExtensionProposalBody::AppEphemeral(ephemeral) => {
            let call = ComponentCall {
                component_id: ephemeral.component_id,
                sender,
                external_commit: false,
                group_id: &state.context.group_id,
                epoch: state.context.epoch.saturating_add(1),
            };
            validate_ephemeral(handler, &call, state.tree, &ephemeral.data)?;
        }
        _ => {}
    }
    Ok(())
}

// ---- what a commit changed ------------------------------------------------------------------

/// What the AppDataUpdate and AppEphemeral proposals of a commit did (draft-ietf-mls-
/// extensions-10 §4.7, §4.8), in the order they were applied.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode)]
pub struct AppDataSummary {
    /// Components whose GroupContext data changed, in the order of their first
    /// AppDataUpdate in the commit.
    pub changes: Vec<AppDataChange>,
    /// The AppEphemeral data, in commit order.
    pub ephemeral: Vec<AppEphemeralEntry>,
}

impl AppDataSummary {
    /// Whether the commit carried no AppDataUpdate or AppEphemeral.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.ephemeral.is_empty()
    }
}

/// One component's change of GroupContext data.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct AppDataChange {
    /// The component.
    pub component_id: ComponentId,
    /// Who sent its AppDataUpdates, in commit order.
    pub senders: Vec<Sender>,
    /// Its new data; `None` when it was removed.
    pub data: Option<Vec<u8>>,
}

/// The data of one AppEphemeral proposal.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct AppEphemeralEntry {
    /// Who sent it.
    pub sender: Sender,
    /// The component.
    pub component_id: ComponentId,
    /// The data, as the component validated it.
    pub data: Vec<u8>,
}

// ---- applying a proposal list ---------------------------------------------------------------

/// draft-ietf-mls-extensions-10 §4.7: when AppDataUpdate is in the group's
/// `required_capabilities.proposal_types`, a GroupContextExtensions proposal "MUST NOT add,
/// remove, or modify the `app_data_dictionary` GroupContext extension": its copy must be
/// byte for byte the current one (or both absent). The group's current
/// `required_capabilities` decides, not the one the proposal sets.
pub(crate) fn check_gce_keeps_dictionary(
    ctx: &ProposalContext<'_>,
    gce: &GroupContextExtensions,
) -> Result<(), GroupError> {
    let app_data_update = ctx
        .policy
        .profile
        .proposal_type(ExtensionProposalKind::AppDataUpdate);
    let required = find_payload::<RequiredCapabilities>(&ctx.context.extensions)
        .map_err(ValidationError::MalformedRequiredCapabilities)?;
    if !required.is_some_and(|r| r.proposal_types.contains(&app_data_update)) {
        return Ok(());
    }
    let dictionary = |extensions: &[Extension]| {
        extensions
            .iter()
            .find(|e| e.extension_type == AppDataDictionary::EXTENSION_TYPE)
            .map(|e| e.extension_data.clone())
    };
    if dictionary(&gce.extensions) == dictionary(&ctx.context.extensions) {
        Ok(())
    } else {
        Err(AppDataError::GroupContextExtensionsTouchesDictionary.into())
    }
}

/// The AppDataUpdates of one component in a commit, in commit order.
struct ComponentUpdates<'p> {
    component_id: ComponentId,
    operations: Vec<(Sender, &'p AppDataUpdateOperation)>,
}

/// Applies the AppEphemeral and AppDataUpdate proposals of a list (draft-ietf-mls-
/// extensions-10 §4.7, §4.8) to `applied`, after the RFC 9420 proposals (§12.3), and
/// records what they did in `applied.app_data`. Returns whether the group context's
/// `app_data_dictionary` changed.
///
/// # Order
///
/// 1. The RFC 9420 proposals, in the order of RFC 9420 §12.3 — GroupContextExtensions
///    first, then Update, Remove, Add, PreSharedKey, ExternalInit, ReInit.
/// 2. AppEphemeral proposals, in commit order (§4.8: "after any default proposals …, but
///    before any AppDataUpdate proposals"; several for one component "in the order in which
///    they are specified in the Commit").
/// 3. AppDataUpdate proposals, component by component in the order of each component's
///    first AppDataUpdate in the commit, and within a component in commit order (§4.7).
///
/// AppDataUpdate proposals apply to the `app_data_dictionary` *as a GroupContextExtensions
/// proposal of the same commit left it*. The draft says AppDataUpdates are processed "after
/// any default proposals" and describes a commit whose GroupContextExtensions proposal "can
/// be followed by zero or more AppDataUpdate proposals"; a GroupContextExtensions proposal
/// is a default proposal, so it comes first. The draft does not settle what happens when
/// that GroupContextExtensions proposal itself rewrites or drops the dictionary (possible
/// only while AppDataUpdate is not a required proposal type, [`check_gce_keeps_dictionary`]);
/// reading it literally, the updates then apply to the rewritten dictionary (and a remove of
/// an entry the rewrite dropped is invalid). This is the order we follow on both sides,
/// unless the group's codepoint profile says otherwise
/// ([`CodepointProfile::app_data_update_base`]: OpenMLS 0.9 starts from the dictionary of
/// the group context before the commit).
///
/// # Placement
///
/// A dictionary the group context did not have is appended to its extensions (§4.7); an
/// existing one keeps its place, or moves to the end where the profile says so
/// ([`CodepointProfile::app_data_dictionary_placement`]: OpenMLS 0.9).
pub(crate) fn apply_app_proposals(
    ctx: &ProposalContext<'_>,
    committer: Committer,
    proposals: &[CommittedProposal],
    applied: &mut AppliedProposals,
) -> Result<bool, GroupError> {
    let handler = ctx.components;
    let epoch = ctx.context.epoch.saturating_add(1);
    let call = |component_id, sender| ComponentCall {
        component_id,
        sender,
        external_commit: committer == Committer::External,
        group_id: &ctx.context.group_id,
        epoch,
    };

    // AppEphemeral, in commit order (§4.8).
    for proposal in proposals {
        if let Some(ExtensionProposalBody::AppEphemeral(ephemeral)) =
            proposal.proposal.extension_body()
        {
            validate_ephemeral(
                handler,
                &call(ephemeral.component_id, proposal.sender),
                ctx.tree,
                &ephemeral.data,
            )?;
            applied.app_data.ephemeral.push(AppEphemeralEntry {
                sender: proposal.sender,
                component_id: ephemeral.component_id,
                data: ephemeral.data.clone(),
            });
        }
    }

    let changes = apply_app_data_updates(
        handler,
        ctx.policy.profile,
        ctx.context,
        committer == Committer::External,
        proposals,
        &mut applied.extensions,
    )?;
    let changed = !changes.is_empty();
    applied.app_data.changes.extend(changes);
    Ok(changed)
}

/// The AppDataUpdate part of [`apply_app_proposals`] (draft-ietf-mls-extensions-10 §4.7),
/// which needs no ratchet tree, so that a partial member (draft-ietf-mls-partial-02 §10)
/// computes the same GroupContext as the full members: the updates of `proposals` applied
/// to the `app_data_dictionary` of `extensions` (the group context extensions after any
/// GroupContextExtensions proposal of the commit) or of `context` (as `profile` says),
/// written back into `extensions`. Returns the changes, empty when the commit has no
/// AppDataUpdate.
pub(crate) fn apply_app_data_updates(
    handler: &dyn ComponentHandler,
    profile: CodepointProfile,
    context: &crate::messages::GroupContext,
    external_commit: bool,
    proposals: &[CommittedProposal],
    extensions: &mut Vec<Extension>,
) -> Result<Vec<AppDataChange>, GroupError> {
    let epoch = context.epoch.saturating_add(1);
    let call = |component_id, sender| ComponentCall {
        component_id,
        sender,
        external_commit,
        group_id: &context.group_id,
        epoch,
    };

    // AppDataUpdate, grouped by component (§4.7).
    let mut by_component: Vec<ComponentUpdates<'_>> = Vec::new();
    for proposal in proposals {
        if let Some(ExtensionProposalBody::AppDataUpdate(update)) =
            proposal.proposal.extension_body()
        {
            if !update_known(handler, update.component_id) {
                return Err(AppDataError::UnknownUpdateComponent(update.component_id).into());
            }
            let entry = (proposal.sender, &update.op);
            match by_component
                .iter_mut()
                .find(|c| c.component_id == update.component_id)
            {
                Some(component) => component.operations.push(entry),
                None => by_component.push(ComponentUpdates {
                    component_id: update.component_id,
                    operations: vec![entry],
                }),
            }
        }
    }
    if by_component.is_empty() {
        return Ok(Vec::new());
    }
    // A list is valid for a component only with a single remove or with updates only.
    for component in &by_component {
        let removes = component
            .operations
            .iter()
            .filter(|(_, op)| matches!(op, AppDataUpdateOperation::Remove))
            .count();
        if removes > 0 && component.operations.len() > 1 {
            return Err(AppDataError::RemoveNotAlone(component.component_id).into());
        }
    }

    let base = match profile.app_data_update_base() {
        AppDataUpdateBase::AfterGroupContextExtensions => extensions.as_slice(),
        AppDataUpdateBase::PriorGroupContext => context.extensions.as_slice(),
    };
    let mut changes = Vec::with_capacity(by_component.len());
    let mut dictionary = check_dictionary(base, DictionaryLocation::GroupContext)
        .map_err(ValidationError::from)?
        .unwrap_or_default();
    for component in by_component {
        let id = component.component_id;
        let senders = component.operations.iter().map(|(s, _)| *s).collect();
        let mut data = dictionary.get(id).map(<[u8]>::to_vec);
        for (sender, op) in &component.operations {
            match op {
                AppDataUpdateOperation::Remove => {
                    if !dictionary.remove(id) {
                        return Err(AppDataError::RemoveOfAbsentEntry(id).into());
                    }
                    data = None;
                }
                AppDataUpdateOperation::Update(update) => {
                    data = Some(apply_one_update(
                        handler,
                        &call(id, *sender),
                        data.as_deref(),
                        update,
                    )?);
                }
            }
        }
        if let Some(new) = &data {
            dictionary.insert(id, new.clone());
        }
        changes.push(AppDataChange {
            component_id: id,
            senders,
            data,
        });
    }
    // "If no app_data_dictionary extension is present in the GroupContext, add one to the
    // end of the extensions list."
    let extension = dictionary.to_extension()?;
    let position = extensions
        .iter()
        .position(|e| e.extension_type == extension.extension_type);
    match (profile.app_data_dictionary_placement(), position) {
        (DictionaryPlacement::InPlace, Some(index)) => {
            if let Some(existing) = extensions.get_mut(index) {
                *existing = extension;
            }
        }
        (DictionaryPlacement::MovedToEnd, Some(index)) => {
            extensions.remove(index);
            extensions.push(extension);
        }
        (_, None) => extensions.push(extension),
    }
    Ok(changes)
}

/// Puts the GroupContextExtensions proposal of a commit we create before its AppDataUpdate
/// proposals where the group's codepoint profile needs it
/// ([`CodepointProfile::group_context_extensions_before_app_data_updates`]: OpenMLS 0.9
/// refuses the other order; draft-ietf-mls-extensions-10 §4.7 fixes only the processing
/// order, which does not depend on the list's). `committed` and `list` are the commit's
/// proposals and their list entries, in the same order; the move is stable.
pub(crate) fn order_for_profile(
    profile: CodepointProfile,
    committed: &mut Vec<CommittedProposal>,
    list: &mut Vec<ProposalOrRef>,
) {
    if !profile.group_context_extensions_before_app_data_updates() {
        return;
    }
    let mut pairs: Vec<(CommittedProposal, ProposalOrRef)> = core::mem::take(committed)
        .into_iter()
        .zip(core::mem::take(list))
        .collect();
    pairs.sort_by_key(|(p, _)| !matches!(p.proposal, Proposal::GroupContextExtensions(_)));
    (*committed, *list) = pairs.into_iter().unzip();
}

/// Checks a new group context against the members of `applied` after an AppDataUpdate
/// changed its dictionary without a GroupContextExtensions proposal: every member supports
/// the `app_data_dictionary` extension (RFC 9420 §13.4) and whatever the new
/// `app_components`, `safe_aad` and `content_media_types` require (draft-ietf-mls-
/// extensions-10 §5, §6.2).
pub(crate) fn check_new_context(
    ctx: &ProposalContext<'_>,
    applied: &AppliedProposals,
) -> Result<(), GroupError> {
    check_context_support(&applied.tree, &applied.extensions, &ctx.policy)
}

// ---- the group's API -----------------------------------------------------------------------

impl Group {
    /// The group context's `app_data_dictionary` (draft-ietf-mls-extensions-10 §4.6), if it
    /// has one.
    pub fn app_data_dictionary(&self) -> Result<Option<AppDataDictionary>, GroupError> {
        Ok(check_dictionary(
            &self.epoch.context.extensions,
            DictionaryLocation::GroupContext,
        )
        .map_err(ValidationError::from)?)
    }

    /// The group context's data of `component` (draft-ietf-mls-extensions-10 §4.6).
    pub fn app_data(&self, component: ComponentId) -> Result<Option<Vec<u8>>, GroupError> {
        Ok(self
            .app_data_dictionary()?
            .and_then(|dictionary| dictionary.get(component).map(<[u8]>::to_vec)))
    }

    /// The application's components this group consults.
    pub fn components(&self) -> &Components {
        &self.components
    }

    /// Replaces the application's components: needed after [`Group::load`] or
    /// [`Group::from_bytes`], which know only [`NoComponents`] (the handler is code, not
    /// state). [`crate::member::Member`] does it for the groups it loads.
    pub fn set_component_handler(&mut self, components: Components) {
        self.components = components;
    }

    /// An AppDataUpdate proposal under this group's codepoint (draft-ietf-mls-extensions-10
    /// §4.7).
    pub fn app_data_update_proposal(&self, update: AppDataUpdate) -> Proposal {
        app_data_update_proposal(self.config.codepoint_profile, update)
    }

    /// An AppEphemeral proposal under this group's codepoint (draft-ietf-mls-extensions-10
    /// §4.8).
    pub fn app_ephemeral_proposal(&self, ephemeral: AppEphemeral) -> Proposal {
        app_ephemeral_proposal(self.config.codepoint_profile, ephemeral)
    }

    /// Checks an AppDataUpdate against the current state as a commit of it alone would
    /// (draft-ietf-mls-extensions-10 §4.7): a known component, an existing entry to remove,
    /// an update the component accepts. Nothing changes.
    pub fn check_app_data_update(&self, update: &AppDataUpdate) -> Result<(), GroupError> {
        let handler = self.components.handler();
        let id = update.component_id;
        if !update_known(handler, id) {
            return Err(AppDataError::UnknownUpdateComponent(id).into());
        }
        let current = self.app_data(id)?;
        match &update.op {
            AppDataUpdateOperation::Remove if current.is_none() => {
                Err(AppDataError::RemoveOfAbsentEntry(id).into())
            }
            AppDataUpdateOperation::Remove => Ok(()),
            AppDataUpdateOperation::Update(bytes) => {
                let call = ComponentCall {
                    component_id: id,
                    sender: Sender::Member(self.own_leaf()),
                    external_commit: false,
                    group_id: &self.epoch.context.group_id,
                    epoch: self.epoch().saturating_add(1),
                };
                apply_one_update(handler, &call, current.as_deref(), bytes).map(|_| ())?;
                Ok(())
            }
        }
    }

    /// Checks AppEphemeral data as a commit of it would (draft-ietf-mls-extensions-10
    /// §4.8). Nothing changes.
    pub fn check_app_ephemeral(&self, ephemeral: &AppEphemeral) -> Result<(), GroupError> {
        let handler = self.components.handler();
        let call = ComponentCall {
            component_id: ephemeral.component_id,
            sender: Sender::Member(self.own_leaf()),
            external_commit: false,
            group_id: &self.epoch.context.group_id,
            epoch: self.epoch().saturating_add(1),
        };
        validate_ephemeral(handler, &call, &self.epoch.tree, &ephemeral.data)?;
        Ok(())
    }

    /// Proposes an AppDataUpdate by reference (draft-ietf-mls-extensions-10 §4.7), checked
    /// first with [`Group::check_app_data_update`]; the next commit includes it.
    pub fn propose_app_data_update(
        &mut self,
        update: AppDataUpdate,
        rng: &mut dyn CryptoRandom,
    ) -> Result<MlsMessage, GroupError> {
        self.check_app_data_update(&update)?;
        let proposal = self.app_data_update_proposal(update);
        self.propose(proposal, &[], rng)
    }

    /// Proposes AppEphemeral data by reference (draft-ietf-mls-extensions-10 §4.8), checked
    /// first with [`Group::check_app_ephemeral`].
    pub fn propose_app_ephemeral(
        &mut self,
        ephemeral: AppEphemeral,
        rng: &mut dyn CryptoRandom,
    ) -> Result<MlsMessage, GroupError> {
        self.check_app_ephemeral(&ephemeral)?;
        let proposal = self.app_ephemeral_proposal(ephemeral);
        self.propose(proposal, &[], rng)
    }
}

impl<R> CommitBuilder<'_, R> {
    /// Updates `component`'s GroupContext data with `update` (an AppDataUpdate by value,
    /// draft-ietf-mls-extensions-10 §4.7), checked first against the current state
    /// ([`Group::check_app_data_update`]); no UpdatePath is needed for it.
    pub fn update_app_data(
        self,
        component: ComponentId,
        update: Vec<u8>,
    ) -> Result<Self, GroupError> {
        self.app_data_update(AppDataUpdate {
            component_id: component,
            op: AppDataUpdateOperation::Update(update),
        })
    }

    /// Removes `component`'s GroupContext data (an AppDataUpdate `remove` by value,
    /// draft-ietf-mls-extensions-10 §4.7).
    pub fn remove_app_data(self, component: ComponentId) -> Result<Self, GroupError> {
        self.app_data_update(AppDataUpdate {
            component_id: component,
            op: AppDataUpdateOperation::Remove,
        })
    }

    /// Includes an AppDataUpdate by value (draft-ietf-mls-extensions-10 §4.7).
    pub fn app_data_update(mut self, update: AppDataUpdate) -> Result<Self, GroupError> {
        self.group.check_app_data_update(&update)?;
        let proposal = self.group.app_data_update_proposal(update);
        self.options.proposals.push(proposal);
        Ok(self)
    }

    /// Includes AppEphemeral data by value (draft-ietf-mls-extensions-10 §4.8).
    pub fn app_ephemeral(
        mut self,
        component: ComponentId,
        data: Vec<u8>,
    ) -> Result<Self, GroupError> {
        let ephemeral = AppEphemeral {
            component_id: component,
            data,
        };
        self.group.check_app_ephemeral(&ephemeral)?;
        let proposal = self.group.app_ephemeral_proposal(ephemeral);
        self.options.proposals.push(proposal);
        Ok(self)
    }
}

#[cfg(test)]
mod tests;
