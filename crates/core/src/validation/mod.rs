//! Leaf node validation (RFC 9420 §7.3), KeyPackage validation (RFC 9420 §10.1) and the
//! required-capabilities rules (RFC 9420 §11.1, §12.1.7), with the component, wire-format
//! and media-type negotiation of draft-ietf-mls-extensions-10 (§4.6, §5, §6.2) in
//! [`negotiation`] and the members' support of multi-credentials (§6.5.2,
//! [`check_multi_credential_support`]).
//!
//! Each rule is a named function returning a [`ValidationError`] whose message names the
//! rule and its section, so a rejection can be traced to the RFC. [`LeafNodeValidator`]
//! runs all the §7.3 steps for a leaf in a given [`LeafNodeContext`], and
//! [`LeafNodeValidator::validate_key_package`] all the §10.1 steps.
//!
//! Leaves already in a group may omit the group's cipher suite from their capabilities
//! when their keys are keys of the suite (an interoperability leniency, RFC 9420 §7.3,
//! §10.1; [`LeafNodeContext::tolerates_omitted_suite`]); KeyPackages may not.
//!
//! Group state is not owned here: the caller describes the group with
//! [`GroupRequirements`], the other members' credential types with
//! [`MemberCredentialTypes`] and key uniqueness with a [`LeafKeyLookup`]. The current time
//! is an argument (sans-IO). Lifetimes are enforced according to a [`LifetimePolicy`] so
//! that the expired KeyPackage lifetime of an idle member does not make a tree unusable.

mod multi;
pub mod negotiation;

use std::collections::BTreeSet;

use conclave_codec::CodecError;
use conclave_crypto::labels::{sign_content, verify_with_label};
use conclave_crypto::{CipherSuite, CipherSuiteProvider, CryptoError, SignatureToVerify, hpke};

use crate::credential::{CredentialCheck, CredentialError, CredentialRole, IdentityProvider};
use crate::messages::{
    Capabilities, CredentialType, Extension, ExtensionType, ExternalSenders, GroupContext,
    HpkePublicKey, KeyPackage, LeafIndex, LeafNode, LeafNodeSource, Lifetime, ProposalType,
    ProtocolVersion, RequiredCapabilities, SignaturePublicKey, find_payload,
};
use negotiation::{
    DictionaryLocation, NegotiationError, NegotiationPolicy, NegotiationRequirements, Supporter,
};

pub use multi::{
    BindingKind, BindingRequirement, CredentialSupport, MultiCredentialGap,
    check_multi_credential_support,
};

/// The `SignWithLabel` label of a LeafNode signature (RFC 9420 §7.2).
pub const LEAF_NODE_TBS_LABEL: &str = "LeafNodeTBS";
/// The `SignWithLabel` label of a KeyPackage signature (RFC 9420 §10).
pub const KEY_PACKAGE_TBS_LABEL: &str = "KeyPackageTBS";

/// A capability named by a `required_capabilities` extension (RFC 9420 §11.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    /// An extension type.
    Extension(ExtensionType),
    /// A proposal type.
    Proposal(ProposalType),
    /// A credential type.
    Credential(CredentialType),
}

/// The kind of a `leaf_node_source` (RFC 9420 §7.2), without its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeafNodeSourceKind {
    /// `key_package`.
    KeyPackage,
    /// `update`.
    Update,
    /// `commit`.
    Commit,
}

impl LeafNodeSourceKind {
    /// The kind of a source.
    pub fn of(source: &LeafNodeSource) -> Self {
        match source {
            LeafNodeSource::KeyPackage(_) => Self::KeyPackage,
            LeafNodeSource::Update => Self::Update,
            LeafNodeSource::Commit(_) => Self::Commit,
        }
    }
}

/// A violated validation rule. Each message names the rule and its RFC 9420 section.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// The KeyPackage's `kp_context` binds it to another context
    /// (draft-mahy-mls-kp-context-00).
    #[error(transparent)]
    KpContext(#[from] crate::kp_context::KpContextError),
    /// The LeafNode signature does not verify under its `signature_key`.
    #[error("RFC 9420 §7.3: the LeafNode signature does not verify under signature_key")]
    LeafNodeSignature,
    /// The KeyPackage signature does not verify under `leaf_node.signature_key`.
    #[error("RFC 9420 §10.1: the KeyPackage signature does not verify under the leaf's key")]
    KeyPackageSignature,
    /// The credential was rejected by the identity provider.
    #[error("RFC 9420 §7.3, §5.3.1: credential rejected: {0}")]
    Credential(#[source] CredentialError),
    /// A replacement credential is not a valid successor of the member's old one.
    #[error(
        "RFC 9420 §5.3.1: the new credential is not a valid successor of the member's credential"
    )]
    CredentialNotValidSuccessor,
    /// The leaf's capabilities do not include the group's cipher suite.
    #[error("RFC 9420 §7.3, §11.1: capabilities do not include the group's cipher suite {0:?}")]
    UnsupportedCipherSuite(CipherSuite),
    /// A leaf already in the group omits the group's cipher suite from its capabilities
    /// and its `encryption_key` is not a public key of that suite's KEM either, so nothing
    /// shows it can take part in the group (see [`LeafNodeContext::tolerates_omitted_suite`]).
    #[error(
        "RFC 9420 §7.3, §10: capabilities omit the group's cipher suite {0:?} and encryption_key is not a key of it"
    )]
    EncryptionKeyNotOfSuite(CipherSuite),
    /// The leaf's capabilities do not include the group's protocol version.
    #[error("RFC 9420 §7.3, §11.1: capabilities do not include protocol version {0:?}")]
    UnsupportedVersion(ProtocolVersion),
    /// The leaf's own credential type is not in its `capabilities.credentials`.
    #[error("RFC 9420 §7.2: the leaf's credential type {0:?} is not in its capabilities")]
    OwnCredentialTypeNotListed(CredentialType),
    /// Some member does not support the leaf's credential type.
    #[error("RFC 9420 §7.3: credential type {0:?} is not supported by every member")]
    CredentialTypeUnsupportedByMembers(CredentialType),
    /// The leaf does not support a credential type another member uses.
    #[error("RFC 9420 §7.3: the leaf does not support credential type {0:?} in use in the group")]
    CredentialTypeInUseUnsupported(CredentialType),
    /// Some member (or the leaf itself) does not support the leaf's multi-credential.
    #[error(
        "draft-ietf-mls-extensions-10 §6.5.2: the leaf's multi-credential is not supported by \
         every member: {0}"
    )]
    MultiCredentialUnsupportedByMember(MultiCredentialGap),
    /// The leaf does not support the multi-credential of another member.
    #[error(
        "draft-ietf-mls-extensions-10 §6.5.2: the leaf does not support another member's \
         multi-credential: {0}"
    )]
    MultiCredentialInUseUnsupported(MultiCredentialGap),
    /// The leaf does not support a capability the group requires.
    #[error("RFC 9420 §7.3, §11.1: the leaf does not support required capability {0:?}")]
    RequiredCapabilityUnsupported(Capability),
    /// A member does not support a capability a GroupContextExtensions proposal requires.
    #[error(
        "RFC 9420 §12.1.7, §11.1: member {member:?} does not support required capability {capability:?}"
    )]
    MemberLacksRequiredCapability {
        /// The member's leaf index.
        member: LeafIndex,
        /// What it lacks.
        capability: Capability,
    },
    /// A member does not list a non-default group context extension in its capabilities.
    #[error(
        "RFC 9420 §12.1.7, §13.4: member {member:?} does not support group context extension {extension:?}"
    )]
    MemberLacksContextExtension {
        /// The member's leaf index.
        member: LeafIndex,
        /// The extension type it does not list.
        extension: ExtensionType,
    },
    /// An extension type appears twice in one list.
    #[error("RFC 9420 §13.4: extension type {0:?} appears more than once in one list")]
    DuplicateExtension(ExtensionType),
    /// The leaf's capabilities omit a non-default group context extension.
    #[error("RFC 9420 §13.4: the leaf does not support group context extension {0:?}")]
    ContextExtensionUnsupported(ExtensionType),
    /// A non-default extension of the leaf is not listed in its capabilities.
    #[error("RFC 9420 §7.3: extension {0:?} is not listed in the leaf's capabilities")]
    ExtensionNotInCapabilities(ExtensionType),
    /// The current time is outside the leaf's lifetime.
    #[error(
        "RFC 9420 §7.3: time {now} is outside the lifetime {}..={}",
        lifetime.not_before,
        lifetime.not_after
    )]
    OutsideLifetime {
        /// The time supplied.
        now: u64,
        /// The leaf's lifetime.
        lifetime: Lifetime,
    },
    /// The `leaf_node_source` does not match where the leaf appears.
    #[error("RFC 9420 §7.3: leaf_node_source is {found:?}, expected {expected:?}")]
    WrongLeafNodeSource {
        /// Required here.
        expected: LeafNodeSourceKind,
        /// Found.
        found: LeafNodeSourceKind,
    },
    /// An Update leaf keeps the encryption key of the leaf it replaces.
    #[error("RFC 9420 §7.3: an Update's encryption_key must differ from the replaced leaf's")]
    UpdateEncryptionKeyUnchanged,
    /// The encryption key is already used by another member.
    #[error("RFC 9420 §7.3: encryption_key is not unique in the group")]
    DuplicateEncryptionKey,
    /// The signature key is already used by another member.
    #[error("RFC 9420 §7.3: signature_key is not unique in the group")]
    DuplicateSignatureKey,
    /// The KeyPackage's protocol version is not the group's.
    #[error("RFC 9420 §10.1: KeyPackage version {found:?} is not the group's {expected:?}")]
    KeyPackageVersionMismatch {
        /// The group's.
        expected: ProtocolVersion,
        /// The KeyPackage's.
        found: ProtocolVersion,
    },
    /// The KeyPackage's cipher suite is not the group's.
    #[error("RFC 9420 §10.1: KeyPackage cipher suite {found:?} is not the group's {expected:?}")]
    KeyPackageCipherSuiteMismatch {
        /// The group's.
        expected: CipherSuite,
        /// The KeyPackage's.
        found: CipherSuite,
    },
    /// `init_key` equals `leaf_node.encryption_key`.
    #[error("RFC 9420 §10.1: init_key must differ from leaf_node.encryption_key")]
    InitKeyEqualsEncryptionKey,
    /// A `required_capabilities` extension does not decode.
    #[error("RFC 9420 §11.1: malformed required_capabilities extension: {0}")]
    MalformedRequiredCapabilities(CodecError),
    /// Encoding a to-be-signed structure failed.
    #[error("encoding failed: {0}")]
    Encoding(CodecError),
    /// A negotiation rule of draft-ietf-mls-extensions-10 (§4.6, §5, §6.2).
    #[error(transparent)]
    Negotiation(#[from] NegotiationError),
}

/// Whether an extension type is one of the RFC 9420 "default" extensions, which are never
/// listed in capabilities (RFC 9420 §7.2).
pub fn is_default_extension(extension_type: ExtensionType) -> bool {
    (1..=5).contains(&extension_type.0)
}

/// Whether a proposal type is one of the RFC 9420 "default" proposals, which are never
/// listed in capabilities (RFC 9420 §7.2).
pub fn is_default_proposal(proposal_type: ProposalType) -> bool {
    (1..=7).contains(&proposal_type.0)
}

/// Whether `capabilities` support an extension type: a default one always, any other only
/// when listed (RFC 9420 §7.2). The one test behind the leaf's own extensions (§7.3), the
/// group context extensions (§13.4) and required capabilities (§11.1).
fn supports_extension(capabilities: &Capabilities, extension_type: ExtensionType) -> bool {
    is_default_extension(extension_type) || capabilities.extensions.contains(&extension_type)
}

/// Whether `capabilities` support a proposal type: a default one always, any other only
/// when listed (RFC 9420 §7.2).
fn supports_proposal(capabilities: &Capabilities, proposal_type: ProposalType) -> bool {
    is_default_proposal(proposal_type) || capabilities.proposals.contains(&proposal_type)
}

/// The parameters of the group a leaf must be compatible with (RFC 9420 §7.3, §11.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRequirements {
    /// The group's protocol version.
    pub version: ProtocolVersion,
    /// The group's cipher suite.
    pub cipher_suite: CipherSuite,
    /// The group's `required_capabilities` extension, if any.
    pub required_capabilities: Option<RequiredCapabilities>,
    /// The types of the group context extensions: every member must support each
    /// non-default one (RFC 9420 §13.4).
    pub context_extensions: Vec<ExtensionType>,
    /// The components, wire formats and media types every member must support
    /// (draft-ietf-mls-extensions-10 §5, §6.2).
    pub negotiation: NegotiationRequirements,
    /// The contexts a `kp_context` KeyPackage may name to be added (draft-mahy-mls-kp-context-00):
    /// the group's id.
    pub kp_context: crate::kp_context::KpContextScope,
}

impl GroupRequirements {
    /// The requirements of a GroupContext (decoding its `required_capabilities`), with the
    /// drafts' extensions read under the default [`NegotiationPolicy`] (the draft's
    /// codepoints).
    pub fn from_group_context(context: &GroupContext) -> Result<Self, ValidationError> {
        Self::from_group_context_in(context, &NegotiationPolicy::default())
    }

    /// The requirements of a GroupContext, with the drafts' extensions read as `policy`
    /// says (draft-ietf-mls-extensions-10 §5, §6.2).
    pub fn from_group_context_in(
        context: &GroupContext,
        policy: &NegotiationPolicy,
    ) -> Result<Self, ValidationError> {
        Ok(Self {
            negotiation: NegotiationRequirements::from_extensions(&context.extensions, policy)?,
            version: context.version,
            cipher_suite: context.cipher_suite,
            kp_context: crate::kp_context::KpContextScope {
                group_id: context.group_id.clone(),
                also: Vec::new(),
            },
            context_extensions: context
                .extensions
                .iter()
                .map(|e| e.extension_type)
                .collect(),
            required_capabilities: find_payload(&context.extensions)
                .map_err(ValidationError::MalformedRequiredCapabilities)?,
        })
    }
}

/// The credential types of the other members (RFC 9420 §7.3): those in use, and those every
/// member supports; and what multi-credentials need of them (draft-ietf-mls-extensions-10
/// §6.5.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberCredentialTypes {
    /// The credential types of the members' credentials.
    pub in_use: BTreeSet<CredentialType>,
    /// The intersection of the members' `capabilities.credentials`; `None` when there are
    /// no members (nothing to be compatible with).
    pub supported_by_all: Option<BTreeSet<CredentialType>>,
    /// The distinct credential-type and cipher-suite support of the members: a leaf's
    /// multi-credential must be supported by each.
    pub supports: BTreeSet<CredentialSupport>,
    /// The requirements of the members' multi-credentials: a leaf must meet each.
    pub multi_credentials: BTreeSet<BindingRequirement>,
}

impl MemberCredentialTypes {
    /// Summarises the given member leaves (pass every member except the leaf being
    /// validated and the leaf it replaces, if any).
    pub fn from_leaves<'l>(leaves: impl IntoIterator<Item = &'l LeafNode>) -> Self {
        let mut summary = Self::default();
        for leaf in leaves {
            summary.in_use.insert(leaf.credential.credential_type());
            let supported: BTreeSet<CredentialType> =
                leaf.capabilities.credentials.iter().copied().collect();
            summary.supported_by_all = Some(match summary.supported_by_all.take() {
                None => supported,
                Some(all) => all.intersection(&supported).copied().collect(),
            });
            summary
                .supports
                .insert(CredentialSupport::of(&leaf.capabilities));
            summary
                .multi_credentials
                .extend(BindingRequirement::of(&leaf.credential));
        }
        summary
    }
}

/// Uniqueness lookups for leaf keys (RFC 9420 §7.3, last step). The caller answers for the
/// group's other leaves: the leaf being replaced (Update, UpdatePath) and, when validating
/// a whole tree, the leaf itself must be left out.
pub trait LeafKeyLookup: Sync {
    /// Whether another member's leaf has this `encryption_key`.
    fn encryption_key_in_use(&self, key: &HpkePublicKey) -> bool;
    /// Whether another member's leaf has this `signature_key`.
    fn signature_key_in_use(&self, key: &SignaturePublicKey) -> bool;
}

/// A [`LeafKeyLookup`] over explicit sets of keys.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UsedLeafKeys {
    /// Encryption keys in use.
    pub encryption_keys: BTreeSet<HpkePublicKey>,
    /// Signature keys in use.
    pub signature_keys: BTreeSet<SignaturePublicKey>,
}

impl UsedLeafKeys {
    /// The keys of the given leaves.
    pub fn from_leaves<'l>(leaves: impl IntoIterator<Item = &'l LeafNode>) -> Self {
        let mut keys = Self::default();
        for leaf in leaves {
            keys.encryption_keys.insert(leaf.encryption_key.clone());
            keys.signature_keys.insert(leaf.signature_key.clone());
        }
        keys
    }
}

impl LeafKeyLookup for UsedLeafKeys {
    fn encryption_key_in_use(&self, key: &HpkePublicKey) -> bool {
        self.encryption_keys.contains(key)
    }

    fn signature_key_in_use(&self, key: &SignaturePublicKey) -> bool {
        self.signature_keys.contains(key)
    }
}

/// When to enforce the `lifetime` of `key_package`-source leaves (RFC 9420 §7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum LifetimePolicy {
    /// Only for a leaf arriving in a new KeyPackage ([`LeafNodeContext::KeyPackage`]); a
    /// member who joined long ago and never updated keeps its (expired) KeyPackage
    /// lifetime in the tree, and the RFC only RECOMMENDS checking received leaves, so
    /// leaves already in a tree are not checked. The default.
    #[default]
    NewKeyPackagesOnly,
    /// For every `key_package`-source leaf, including those of a tree being validated.
    Always,
    /// Never (e.g. when processing messages long after they were sent).
    Never,
}

/// Where a LeafNode appears, which determines its required source, the signature context
/// and the extra checks (RFC 9420 §7.3).
#[derive(Debug, Clone, Copy)]
pub enum LeafNodeContext<'a> {
    /// In a KeyPackage (downloaded, or in an Add proposal): source `key_package`.
    KeyPackage,
    /// In an Update proposal from the member at `leaf_index`, replacing `replaced`:
    /// source `update`, a new encryption key, and a credential that is a valid successor.
    Update {
        /// The group's `group_id` (signed in `LeafNodeTBS`).
        group_id: &'a [u8],
        /// The sender's leaf index (signed in `LeafNodeTBS`).
        leaf_index: LeafIndex,
        /// The leaf being replaced.
        replaced: &'a LeafNode,
    },
    /// In a Commit's UpdatePath from the committer at `leaf_index`: source `commit`.
    /// `replaced` is the committer's previous leaf (`None` for an external Commit).
    Commit {
        /// The group's `group_id`.
        group_id: &'a [u8],
        /// The committer's leaf index.
        leaf_index: LeafIndex,
        /// The committer's previous leaf, if it had one.
        replaced: Option<&'a LeafNode>,
    },
    /// A leaf of a ratchet tree being validated (joining, or after a Commit): any source.
    TreeLeaf {
        /// The group's `group_id`.
        group_id: &'a [u8],
        /// The leaf's index.
        leaf_index: LeafIndex,
    },
}

impl LeafNodeContext<'_> {
    /// Whether a leaf here may omit the group's cipher suite from
    /// `capabilities.cipher_suites`, provided it holds keys of the suite
    /// ([`check_group_parameters`]). An interoperability leniency: some implementations
    /// (MLSpp) create groups whose leaves do not list the group's own suite.
    ///
    /// RFC 9420 §7.3 requires a leaf to be "compatible with the group's parameters" and
    /// spells out only that `required_capabilities` be listed; §11.1 says members "need to
    /// support" the suite. For a leaf of a member that is already in the group, support is
    /// shown by the leaf itself: its signature verifies under the suite's signature scheme
    /// and its `encryption_key` is a key of the suite's KEM. So these may omit it:
    ///
    /// - a leaf of a ratchet tree received when joining (§12.4.3.1) or after a Commit;
    /// - an Update's leaf (§12.1.2) and the UpdatePath leaf of a member's Commit or of a
    ///   resync external Commit (§12.4.2), which replace the leaf of a member.
    ///
    /// A client *joining* the group must list it, so these may not:
    ///
    /// - a KeyPackage's leaf, in an Add or downloaded (§10.1). Decision: §10 says a
    ///   KeyPackage specifies "a protocol version and cipher suite that the client
    ///   supports", its `leaf_node.capabilities` "indicates what protocol versions, cipher
    ///   suites, ... are supported by the client", and that is what makes session
    ///   establishment safe from downgrade (§10, §11); §10.1 checks that the KeyPackage's
    ///   cipher suite is the group's and that its leaf is valid per §7.3. A KeyPackage whose
    ///   capabilities omit its own cipher suite contradicts itself, so an Add of it is
    ///   refused (an Add we commit as well as one in a Commit we receive);
    /// - the UpdatePath leaf of a newcomer's external Commit (§12.4.3.2), which admits a
    ///   new client as an Add does.
    ///
    /// The leaves we generate always list the suite (`group::default_capabilities`, and
    /// capabilities supplied through `group::LeafOptions` are checked).
    pub fn tolerates_omitted_suite(&self) -> bool {
        match self {
            Self::TreeLeaf { .. } | Self::Update { .. } => true,
            Self::Commit { replaced, .. } => replaced.is_some(),
            Self::KeyPackage => false,
        }
    }
}

/// Verifies `signature = SignWithLabel(., "LeafNodeTBS", LeafNodeTBS)` under the leaf's
/// `signature_key` (RFC 9420 §7.2, §7.3). `group` is `(group_id, leaf_index)`, required for
/// the `update` and `commit` sources.
pub fn verify_leaf_node_signature(
    cs: &dyn CipherSuiteProvider,
    leaf: &LeafNode,
    group: Option<(&[u8], LeafIndex)>,
) -> Result<(), ValidationError> {
    let tbs = leaf
        .to_be_signed(group)
        .map_err(ValidationError::Encoding)?;
    verify_with_label(
        cs,
        leaf.signature_key.as_ref(),
        LEAF_NODE_TBS_LABEL,
        &tbs,
        &leaf.signature,
    )
    .map_err(|_| ValidationError::LeafNodeSignature)
}

/// Checks that `leaf_node_source` fits where the leaf appears (RFC 9420 §7.3): `key_package`
/// in a KeyPackage, `update` in an Update (with an encryption key different from the
/// replaced leaf's), `commit` in an UpdatePath; any source in a tree.
pub fn check_leaf_node_source(
    leaf: &LeafNode,
    context: &LeafNodeContext<'_>,
) -> Result<(), ValidationError> {
    let found = LeafNodeSourceKind::of(&leaf.leaf_node_source);
    let expected = match context {
        LeafNodeContext::KeyPackage => LeafNodeSourceKind::KeyPackage,
        LeafNodeContext::Update { replaced, .. } => {
            if leaf.encryption_key == replaced.encryption_key {
                return Err(ValidationError::UpdateEncryptionKeyUnchanged);
            }
            LeafNodeSourceKind::Update
        }
        LeafNodeContext::Commit { .. } => LeafNodeSourceKind::Commit,
        LeafNodeContext::TreeLeaf { .. } => return Ok(()),
    };
    if found == expected {
        Ok(())
    } else {
        Err(ValidationError::WrongLeafNodeSource { expected, found })
    }
}

/// Checks that capabilities include the group's protocol version and cipher suite
/// (RFC 9420 §11.1: "all members of the group need to support the cipher suite and
/// protocol version in use"; §7.3 compatibility with the group's parameters). The strict
/// form, for KeyPackages and our own leaves; [`check_group_parameters`] lets leaves already
/// in the group omit the suite.
pub fn check_supports_group(
    capabilities: &Capabilities,
    version: ProtocolVersion,
    cipher_suite: CipherSuite,
) -> Result<(), ValidationError> {
    if !capabilities.versions.contains(&version) {
        return Err(ValidationError::UnsupportedVersion(version));
    }
    if !capabilities.cipher_suites.contains(&cipher_suite) {
        return Err(ValidationError::UnsupportedCipherSuite(cipher_suite));
    }
    Ok(())
}

/// Checks that a leaf is compatible with the group's version and cipher suite (RFC 9420
/// §7.3, §11.1): the version must be listed; the suite too, except where `context`
/// tolerates its omission ([`LeafNodeContext::tolerates_omitted_suite`]), in which case the
/// leaf's `encryption_key` must be a public key of the suite's KEM
/// ([`check_encryption_key_of_suite`], with `cs` the suite's provider). Its
/// `signature_key` is a key of the suite's signature scheme when its signature verifies,
/// which LeafNode validation checks (§7.3).
pub fn check_group_parameters(
    cs: &dyn CipherSuiteProvider,
    leaf: &LeafNode,
    context: &LeafNodeContext<'_>,
    version: ProtocolVersion,
    suite: CipherSuite,
) -> Result<(), ValidationError> {
    match check_supports_group(&leaf.capabilities, version, suite) {
        Err(ValidationError::UnsupportedCipherSuite(_)) if context.tolerates_omitted_suite() => {
            check_encryption_key_of_suite(cs, &leaf.encryption_key)
                .map_err(|_| ValidationError::EncryptionKeyNotOfSuite(suite))
        }
        other => other,
    }
}

/// Checks that `key` is an HPKE public key of the suite's KEM (RFC 9420 §5.1.1, RFC 9180
/// §4.1): an encapsulation to it must succeed, which deserializes it (length `Npk`, a
/// point of the curve) and computes a DH with it (X25519/X448 reject an all-zero
/// result). The ephemeral key is fixed and the shared secret is discarded: only the key's
/// validity is learned.
pub fn check_encryption_key_of_suite(
    cs: &dyn CipherSuiteProvider,
    key: &HpkePublicKey,
) -> Result<(), CryptoError> {
    hpke::encap_deterministic(cs, key.as_ref(), KEY_CHECK_IKM).map(|_| ())
}

/// The `ikm` of the ephemeral key [`check_encryption_key_of_suite`] encapsulates with.
const KEY_CHECK_IKM: &[u8] = b"conclave: is this an HPKE public key of the suite";

/// Checks that capabilities cover a `required_capabilities` extension (RFC 9420 §7.3,
/// §11.1). Default extension and proposal types count as supported without being listed;
/// credential types must always be listed.
pub fn check_required_capabilities(
    capabilities: &Capabilities,
    required: &RequiredCapabilities,
) -> Result<(), ValidationError> {
    missing_required_capability(capabilities, required).map_or(Ok(()), |c| {
        Err(ValidationError::RequiredCapabilityUnsupported(c))
    })
}

fn missing_required_capability(
    capabilities: &Capabilities,
    required: &RequiredCapabilities,
) -> Option<Capability> {
    let extension = required
        .extension_types
        .iter()
        .find(|e| !supports_extension(capabilities, **e))
        .map(|e| Capability::Extension(*e));
    let proposal = || {
        required
            .proposal_types
            .iter()
            .find(|p| !supports_proposal(capabilities, **p))
            .map(|p| Capability::Proposal(*p))
    };
    let credential = || {
        required
            .credential_types
            .iter()
            .find(|c| !capabilities.credentials.contains(c))
            .map(|c| Capability::Credential(*c))
    };
    extension.or_else(proposal).or_else(credential)
}

/// Checks credential-type compatibility (RFC 9420 §7.2, §7.3): the leaf lists its own
/// credential type in its capabilities, every member supports that type, and the leaf
/// supports every credential type in use by the members.
pub fn check_credential_type_compatibility(
    leaf: &LeafNode,
    members: &MemberCredentialTypes,
) -> Result<(), ValidationError> {
    let own = leaf.credential.credential_type();
    if !leaf.capabilities.credentials.contains(&own) {
        return Err(ValidationError::OwnCredentialTypeNotListed(own));
    }
    if let Some(all) = &members.supported_by_all
        && !all.contains(&own)
    {
        return Err(ValidationError::CredentialTypeUnsupportedByMembers(own));
    }
    if let Some(missing) = members
        .in_use
        .iter()
        .find(|t| !leaf.capabilities.credentials.contains(t))
    {
        return Err(ValidationError::CredentialTypeInUseUnsupported(*missing));
    }
    Ok(())
}

/// Checks that every non-default extension of the leaf is listed in its
/// `capabilities.extensions` (RFC 9420 §7.2, §7.3).
pub fn check_leaf_extensions_supported(leaf: &LeafNode) -> Result<(), ValidationError> {
    check_unique_extensions(&leaf.extensions)?;
    check_extensions_listed(&leaf.extensions, &leaf.capabilities)
}

/// "Any field containing a list of extensions MUST NOT have more than one extension of any
/// given type" (RFC 9420 §13.4).
pub fn check_unique_extensions(extensions: &[Extension]) -> Result<(), ValidationError> {
    let mut seen = BTreeSet::new();
    match extensions.iter().find(|e| !seen.insert(e.extension_type)) {
        Some(e) => Err(ValidationError::DuplicateExtension(e.extension_type)),
        None => Ok(()),
    }
}

/// A member's capabilities must list every non-default group context extension
/// (RFC 9420 §13.4: "The capabilities field MUST indicate support for each extension in the
/// GroupContext").
pub fn check_supports_context_extensions(
    capabilities: &Capabilities,
    context_extensions: &[ExtensionType],
) -> Result<(), ValidationError> {
    missing_context_extension(capabilities, context_extensions).map_or(Ok(()), |t| {
        Err(ValidationError::ContextExtensionUnsupported(t))
    })
}

/// The first non-default extension type of `context_extensions` that `capabilities` omit
/// (RFC 9420 §13.4).
fn missing_context_extension(
    capabilities: &Capabilities,
    context_extensions: &[ExtensionType],
) -> Option<ExtensionType> {
    context_extensions
        .iter()
        .find(|t| !supports_extension(capabilities, **t))
        .copied()
}

fn check_extensions_listed(
    extensions: &[Extension],
    capabilities: &Capabilities,
) -> Result<(), ValidationError> {
    match extensions
        .iter()
        .find(|e| !supports_extension(capabilities, e.extension_type))
    {
        Some(e) => Err(ValidationError::ExtensionNotInCapabilities(
            e.extension_type,
        )),
        None => Ok(()),
    }
}

/// Checks `not_before <= now <= not_after` (RFC 9420 §7.3).
pub fn check_lifetime(lifetime: &Lifetime, now: u64) -> Result<(), ValidationError> {
    if lifetime.not_before <= now && now <= lifetime.not_after {
        Ok(())
    } else {
        Err(ValidationError::OutsideLifetime {
            now,
            lifetime: *lifetime,
        })
    }
}

/// Checks that the leaf's `encryption_key` and `signature_key` are not used by another
/// member (RFC 9420 §7.3).
pub fn check_key_uniqueness(
    leaf: &LeafNode,
    keys: &dyn LeafKeyLookup,
) -> Result<(), ValidationError> {
    if keys.encryption_key_in_use(&leaf.encryption_key) {
        return Err(ValidationError::DuplicateEncryptionKey);
    }
    if keys.signature_key_in_use(&leaf.signature_key) {
        return Err(ValidationError::DuplicateSignatureKey);
    }
    Ok(())
}

/// Verifies `signature = SignWithLabel(., "KeyPackageTBS", KeyPackageTBS)` under
/// `leaf_node.signature_key` (RFC 9420 §10, §10.1).
pub fn verify_key_package_signature(
    cs: &dyn CipherSuiteProvider,
    key_package: &KeyPackage,
) -> Result<(), ValidationError> {
    let tbs = key_package
        .to_be_signed()
        .map_err(ValidationError::Encoding)?;
    verify_with_label(
        cs,
        key_package.leaf_node.signature_key.as_ref(),
        KEY_PACKAGE_TBS_LABEL,
        &tbs,
        &key_package.signature,
    )
    .map_err(|_| ValidationError::KeyPackageSignature)
}

/// Checks that a KeyPackage's version and cipher suite are the group's and that
/// `init_key != leaf_node.encryption_key` (RFC 9420 §10.1).
pub fn check_key_package_fields(
    key_package: &KeyPackage,
    version: ProtocolVersion,
    cipher_suite: CipherSuite,
) -> Result<(), ValidationError> {
    if key_package.version != version {
        return Err(ValidationError::KeyPackageVersionMismatch {
            expected: version,
            found: key_package.version,
        });
    }
    if key_package.cipher_suite != cipher_suite {
        return Err(ValidationError::KeyPackageCipherSuiteMismatch {
            expected: cipher_suite,
            found: key_package.cipher_suite,
        });
    }
    if key_package.init_key == key_package.leaf_node.encryption_key {
        return Err(ValidationError::InitKeyEqualsEncryptionKey);
    }
    Ok(())
}

/// Checks new group context extensions against the members (RFC 9420 §12.1.7, §13.4,
/// §11.1): no extension type appears twice (§13.4), every member's capabilities list every
/// non-default extension (§13.4: "The capabilities field MUST indicate support for each
/// extension in the GroupContext"), and every member supports each capability of a
/// `required_capabilities` extension (§12.1.7, §11.1). The members are those of the group
/// after the Commit: including those added in the same Commit, excluding those removed
/// (the caller passes that set).
///
/// This is the one implementation of these rules for a GroupContextExtensions proposal, a
/// new group and a joined group; the `external_senders` extension is checked separately
/// ([`validate_external_senders`]).
pub fn check_group_context_extensions<'l>(
    new_extensions: &[Extension],
    members: impl IntoIterator<Item = (LeafIndex, &'l LeafNode)>,
) -> Result<(), ValidationError> {
    check_unique_extensions(new_extensions)?;
    let types: Vec<ExtensionType> = new_extensions.iter().map(|e| e.extension_type).collect();
    let required = find_payload::<RequiredCapabilities>(new_extensions)
        .map_err(ValidationError::MalformedRequiredCapabilities)?;
    for (member, leaf) in members {
        if let Some(extension) = missing_context_extension(&leaf.capabilities, &types) {
            return Err(ValidationError::MemberLacksContextExtension { member, extension });
        }
        if let Some(capability) = required
            .as_ref()
            .and_then(|required| missing_required_capability(&leaf.capabilities, required))
        {
            return Err(ValidationError::MemberLacksRequiredCapability { member, capability });
        }
    }
    Ok(())
}

/// Validates every entry of an `external_senders` extension with the identity provider
/// (RFC 9420 §5.3.1: when the extension is added or updated; §12.1.8.1). Returns the index
/// of the first rejected entry with the reason.
pub fn validate_external_senders(
    identity: &dyn IdentityProvider,
    senders: &ExternalSenders,
    cs: &dyn CipherSuiteProvider,
    now: u64,
) -> Result<(), (usize, ValidationError)> {
    for (index, sender) in senders.0.iter().enumerate() {
        identity
            .validate_credential(&CredentialCheck {
                credential: &sender.credential,
                signature_key: &sender.signature_key,
                signature_scheme: cs.signature(),
                role: CredentialRole::ExternalSender,
                now,
            })
            .map_err(|e| (index, ValidationError::Credential(e)))?;
    }
    Ok(())
}

/// Everything needed to validate leaves of one group (RFC 9420 §7.3) and KeyPackages
/// offered to it (RFC 9420 §10.1).
#[derive(Clone, Copy)]
pub struct LeafNodeValidator<'a> {
    /// The group's cipher suite.
    pub cs: &'a dyn CipherSuiteProvider,
    /// The Authentication Service policy.
    pub identity: &'a dyn IdentityProvider,
    /// The group's version, suite and required capabilities.
    pub group: &'a GroupRequirements,
    /// The other members' credential types.
    pub members: &'a MemberCredentialTypes,
    /// Key uniqueness among the other members.
    pub keys: &'a dyn LeafKeyLookup,
    /// When lifetimes are enforced.
    pub lifetime_policy: LifetimePolicy,
    /// The current time, seconds since the Unix epoch.
    pub now: u64,
}

impl core::fmt::Debug for LeafNodeValidator<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LeafNodeValidator")
            .field("group", self.group)
            .field("members", self.members)
            .field("lifetime_policy", &self.lifetime_policy)
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

impl LeafNodeValidator<'_> {
    /// Runs every RFC 9420 §7.3 step on `leaf` as it appears in `context`: credential
    /// (and, when it replaces another credential, succession), signature, group
    /// compatibility and required capabilities, credential types (with the members'
    /// support of multi-credentials, draft-ietf-mls-extensions-10 §6.5.2), lifetime (per
    /// the policy), extensions listed in capabilities, source, and key uniqueness.
    pub fn validate_leaf_node(
        &self,
        leaf: &LeafNode,
        context: &LeafNodeContext<'_>,
    ) -> Result<(), ValidationError> {
        self.check_leaf_node(leaf, context, SignatureTiming::Now)
            .map(|_| ())
    }

    /// [`LeafNodeValidator::validate_leaf_node`] without verifying the signature: returns
    /// it, to be verified with others in one batch ([`verify_deferred`]).
    pub fn validate_leaf_node_deferring_signature<'l>(
        &self,
        leaf: &'l LeafNode,
        context: &LeafNodeContext<'_>,
    ) -> Result<DeferredSignature<'l>, ValidationError> {
        self.check_leaf_node(leaf, context, SignatureTiming::Deferred)?
            .ok_or(ValidationError::LeafNodeSignature)
    }

    fn check_leaf_node<'l>(
        &self,
        leaf: &'l LeafNode,
        context: &LeafNodeContext<'_>,
        timing: SignatureTiming,
    ) -> Result<Option<DeferredSignature<'l>>, ValidationError> {
        let (signing_group, role, replaced) = match *context {
            LeafNodeContext::KeyPackage => (None, CredentialRole::NewMember, None),
            LeafNodeContext::Update {
                group_id,
                leaf_index,
                replaced,
            } => (
                Some((group_id, leaf_index)),
                CredentialRole::Member,
                Some(replaced),
            ),
            LeafNodeContext::Commit {
                group_id,
                leaf_index,
                replaced,
            } => (
                Some((group_id, leaf_index)),
                CredentialRole::Member,
                replaced,
            ),
            LeafNodeContext::TreeLeaf {
                group_id,
                leaf_index,
            } => (Some((group_id, leaf_index)), CredentialRole::Member, None),
        };

        check_leaf_node_source(leaf, context)?;
        self.identity
            .validate_credential(&CredentialCheck {
                credential: &leaf.credential,
                signature_key: &leaf.signature_key,
                signature_scheme: self.cs.signature(),
                role,
                now: self.now,
            })
            .map_err(ValidationError::Credential)?;
        if let Some(old) = replaced
            && old.credential != leaf.credential
            && !self
                .identity
                .valid_successor(&old.credential, &leaf.credential)
                .map_err(ValidationError::Credential)?
        {
            return Err(ValidationError::CredentialNotValidSuccessor);
        }
        // A key_package leaf is signed without group context, even inside a tree.
        let signing_group = match leaf.leaf_node_source {
            LeafNodeSource::KeyPackage(_) => None,
            LeafNodeSource::Update | LeafNodeSource::Commit(_) => signing_group,
        };
        let deferred = match timing {
            SignatureTiming::Now => {
                verify_leaf_node_signature(self.cs, leaf, signing_group)?;
                None
            }
            SignatureTiming::Deferred => Some(DeferredSignature {
                public_key: leaf.signature_key.as_ref(),
                message: sign_content(
                    LEAF_NODE_TBS_LABEL,
                    &leaf
                        .to_be_signed(signing_group)
                        .map_err(ValidationError::Encoding)?,
                )
                .map_err(|_| ValidationError::LeafNodeSignature)?,
                signature: &leaf.signature,
            }),
        };
        check_group_parameters(
            self.cs,
            leaf,
            context,
            self.group.version,
            self.group.cipher_suite,
        )?;
        if let Some(required) = &self.group.required_capabilities {
            check_required_capabilities(&leaf.capabilities, required)?;
        }
        check_supports_context_extensions(&leaf.capabilities, &self.group.context_extensions)?;
        // Before the RFC 9420 rule, which would refuse a missing `multi` without naming the
        // draft's rule.
        check_multi_credential_support(leaf, self.members)?;
        check_credential_type_compatibility(leaf, self.members)?;
        if let LeafNodeSource::KeyPackage(lifetime) = &leaf.leaf_node_source {
            let enforce = match self.lifetime_policy {
                LifetimePolicy::Always => true,
                LifetimePolicy::NewKeyPackagesOnly => {
                    matches!(context, LeafNodeContext::KeyPackage)
                }
                LifetimePolicy::Never => false,
            };
            if enforce {
                check_lifetime(lifetime, self.now)?;
            }
        }
        check_leaf_extensions_supported(leaf)?;
        negotiation::check_leaf_meets(&self.group.negotiation, leaf, Supporter::Leaf)?;
        check_key_uniqueness(leaf, self.keys)?;
        Ok(deferred)
    }

    /// Runs every RFC 9420 §10.1 step on a KeyPackage offered to this group: version and
    /// cipher suite, the leaf node as a KeyPackage leaf (§7.3), the KeyPackage signature,
    /// and `init_key != leaf_node.encryption_key`. The leaf must list the group's cipher
    /// suite in its capabilities, unlike a leaf already in the group: see
    /// [`LeafNodeContext::tolerates_omitted_suite`] for the reading of §7.3 and §10.1.
    ///
    /// `KeyPackage.extensions` are not required to be listed in the capabilities: unknown
    /// (e.g. GREASE) KeyPackage extensions MUST be ignored (RFC 9420 §10, §13.5).
    pub fn validate_key_package(&self, key_package: &KeyPackage) -> Result<(), ValidationError> {
        check_key_package_fields(key_package, self.group.version, self.group.cipher_suite)?;
        check_unique_extensions(&key_package.extensions)?;
        negotiation::check_dictionary(&key_package.extensions, DictionaryLocation::KeyPackage)?;
        self.group.kp_context.check(&key_package.extensions)?;
        self.validate_leaf_node(&key_package.leaf_node, &LeafNodeContext::KeyPackage)?;
        verify_key_package_signature(self.cs, key_package)
    }

    /// [`LeafNodeValidator::validate_key_package`] without verifying the two signatures
    /// (leaf node and KeyPackage): returns them, to be verified with others in one batch
    /// ([`verify_deferred`]).
    pub fn validate_key_package_deferring_signatures<'k>(
        &self,
        key_package: &'k KeyPackage,
    ) -> Result<[DeferredSignature<'k>; 2], ValidationError> {
        check_key_package_fields(key_package, self.group.version, self.group.cipher_suite)?;
        check_unique_extensions(&key_package.extensions)?;
        negotiation::check_dictionary(&key_package.extensions, DictionaryLocation::KeyPackage)?;
        self.group.kp_context.check(&key_package.extensions)?;
        let leaf = self.validate_leaf_node_deferring_signature(
            &key_package.leaf_node,
            &LeafNodeContext::KeyPackage,
        )?;
        let package = DeferredSignature {
            public_key: key_package.leaf_node.signature_key.as_ref(),
            message: sign_content(
                KEY_PACKAGE_TBS_LABEL,
                &key_package
                    .to_be_signed()
                    .map_err(ValidationError::Encoding)?,
            )
            .map_err(|_| ValidationError::KeyPackageSignature)?,
            signature: &key_package.signature,
        };
        Ok([leaf, package])
    }
}

/// Whether [`LeafNodeValidator`] verifies a signature in place or hands it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SignatureTiming {
    Now,
    Deferred,
}

/// A signature whose verification was deferred, to check many at once with
/// [`verify_deferred`]: the signer's key, the `SignContent` (label included, RFC 9420
/// §5.1.2) and the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeferredSignature<'a> {
    public_key: &'a [u8],
    message: Vec<u8>,
    signature: &'a [u8],
}

/// Verifies deferred signatures with [`CipherSuiteProvider::verify_all`] (one batch for
/// Ed25519), one chunk per thread where the `parallel` feature is on.
/// `false` if any fails: the caller then validates one by one to name it.
pub fn verify_deferred(cs: &dyn CipherSuiteProvider, signatures: &[DeferredSignature<'_>]) -> bool {
    // One batch per thread: the larger the batch, the cheaper each signature.
    crate::parallel::try_for_each_chunk(signatures, 128, |chunk| {
        let items: Vec<SignatureToVerify<'_>> = chunk
            .iter()
            .map(|d| SignatureToVerify {
                public_key: d.public_key,
                message: &d.message,
                signature: d.signature,
            })
            .collect();
        cs.verify_all(&items)
    })
    .is_ok()
}

#[cfg(test)]
mod tests;
