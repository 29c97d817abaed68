//! Split commits (draft-mularczyk-mls-splitcommit-00, "Server Aided MLS"): a commit whose
//! UpdatePath travels apart from the signed part, so that the Delivery Service (or the
//! committer) can hand each receiver only the one ciphertext it decrypts.
//!
//! - An [`SCommit`] (§3) is a signed [`SCommitBroadcast`] — the epoch identifier, the
//!   proposals and the committer's new LeafNode, framed as a `PublicMessage` of content type
//!   `scommit_broadcast` — and an unsigned [`SUpdatePath`] (the UpdatePath's nodes).
//! - A [`PerMemberCommit`] (§3) keeps the broadcast message and, instead of the path, the one
//!   ciphertext the receiver decrypts and the path's public keys ([`split_for_receiver`]).
//! - There is no confirmation tag on the wire: the signed `epoch_identifier`, exported from
//!   the new epoch, takes its place (§3 processing step 4, §6.2).
//!
//! Creating and processing reuse the regular commit code ([`crate::group::Group::split_commit`],
//! [`crate::group::Group::process_scommit`], [`crate::group::Group::process_per_member_commit`]).
//! A Delivery Service follows split commits as a public view
//! ([`crate::public_group::PublicGroup::process_scommit`], with the GroupInfo the committer
//! publishes: it carries the confirmation tag the wire does not) and splits them from its
//! tree; partial members take them as [`crate::partial::AnnotatedSplitCommit`]s.
//!
//! # Where the draft leaves gaps, and what Conclave does
//!
//! - **Transcript hash (§4).** The draft hashes "the FramedContent with a SCommitBroadcast
//!   inside", but that content holds the `epoch_identifier`, exported from the epoch whose
//!   GroupContext holds this very hash: a cycle. Conclave's `ConfirmedTranscriptHashInput` for
//!   a split commit is `wire_format || FramedContent` with an *empty* `epoch_identifier` and
//!   no signature (the signature covers the identifier, so it cannot be hashed before it
//!   exists). The signed identifier then binds the whole new epoch, as §6.2 argues.
//! - **Interim transcript hash (§4).** The draft makes it equal to the confirmed hash. A
//!   member who joins the new epoch by Welcome (or by external commit) derives it from the
//!   GroupInfo's confirmed hash and `confirmation_tag` (RFC 9420 §8.2, §12.4.3.1) and cannot
//!   tell that the epoch began with a split commit, so the two would part. Conclave keeps
//!   RFC 9420's interim hash: every member computes the confirmation tag of the new epoch
//!   itself (`MAC(confirmation_key, confirmed_transcript_hash)`; it is in the GroupInfo),
//!   so nothing extra travels and joiners agree.
//! - **Per-member public keys (§3).** The draft sends only the keys of the committer's
//!   filtered direct path that are *not* on the receiver's direct path and lets the receiver
//!   derive the others from its path secret. But RFC 9420 §12.4.1 encrypts path secrets to
//!   the provisional GroupContext, whose `tree_hash` covers those very keys: the receiver
//!   cannot decrypt before it knows them. Conclave's `new_pks` therefore lists the keys of
//!   every node of the committer's filtered direct path (in its order, at most log₂ N keys);
//!   the receiver checks that the keys it derives from the path secret equal them
//!   (RFC 9420 §12.4.2), and the parent-hash and tree-hash checks hold as for any commit.
//! - **Label (§3).** The epoch identifier is exported with "SCommitBroadcast"
//!   ([`SCOMMIT_EPOCH_IDENTIFIER_LABEL`]; the construction steps say "SplittableCommit"),
//!   an empty context and `KDF.Nh` bytes (the draft gives neither).
//! - **Codepoints.** Private-use values ([`crate::codepoints`]): wire formats `mls_scommit`
//!   and `mls_per_member_commit`, content type `scommit_broadcast`.
//! - **Opt-in.** A group sends and accepts split commits only when its `required_wire_formats`
//!   list both wire formats (draft-ietf-mls-extensions-10 §5): every member's leaf then
//!   announces them, so no peer that does not know split commits can receive one.
//! - **Our restrictions.** The broadcast message is a `PublicMessage` from a member (the draft
//!   also allows a `PrivateMessage`; not implemented), whatever handshake wire format the
//!   group otherwise uses; external commits are never split. A full member processing an
//!   SCommit copies its SUpdatePath once into the UpdatePath it stands for.

use conclave_codec::{CodecError, Decode, Encode, Reader};
use conclave_crypto::{CipherSuiteProvider, labels};

use crate::codepoints::{
    PER_MEMBER_COMMIT_WIRE_FORMAT, REQUIRED_WIRE_FORMATS_EXTENSION, SCOMMIT_BROADCAST_CONTENT_TYPE,
    SCOMMIT_EPOCH_IDENTIFIER_LABEL, SCOMMIT_WIRE_FORMAT,
};
use crate::framing::FRAMED_CONTENT_TBS_LABEL;
use crate::messages::{
    Commit, EncryptedPathSecrets, Extension, GroupContext, HpkeCiphertext, HpkePublicKey,
    LeafIndex, LeafNode, ProposalOrRef, ProtocolVersion, Sender, UpdatePath, UpdatePathNode,
    WireFormat, WireFormats,
};
use crate::tree::RatchetTree;

/// Why a split commit was refused or could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SplitCommitError {
    /// The group does not require both split-commit wire formats.
    #[error(
        "split commits are not enabled in this group: its required_wire_formats must list mls_scommit and mls_per_member_commit (draft-mularczyk-mls-splitcommit-00 §3)"
    )]
    NotEnabled,
    /// The message is not of the expected wire format.
    #[error("expected wire format {expected:?}, found {found:?}")]
    WrongWireFormat {
        /// The wire format required here.
        expected: WireFormat,
        /// The one the message has.
        found: WireFormat,
    },
    /// Only `mls10` is implemented.
    #[error("protocol version {0} is not supported (RFC 9420 §6)")]
    UnsupportedVersion(u16),
    /// The broadcast message's sender is not a member (external commits are not split).
    #[error("a split commit's broadcast message must come from a member")]
    SenderNotMember,
    /// The membership tag of the broadcast message does not verify (RFC 9420 §6.2).
    #[error("invalid membership tag on the split commit's broadcast message (RFC 9420 §6.2)")]
    InvalidMembershipTag,
    /// The signature of the broadcast message does not verify (RFC 9420 §6.1).
    #[error("invalid signature on the split commit's broadcast message (RFC 9420 §6.1)")]
    InvalidSignature,
    /// The `epoch_identifier` is not the one exported from the new epoch.
    #[error(
        "the split commit's epoch_identifier does not match the new epoch (draft-mularczyk-mls-splitcommit-00 §3)"
    )]
    EpochIdentifierMismatch,
    /// The broadcast names a committer leaf node but no path came with it, or the reverse.
    #[error(
        "the split commit's leaf_node and path must come together (draft-mularczyk-mls-splitcommit-00 §3)"
    )]
    PathMismatch,
    /// The receiver is the committer, a new member or outside the tree.
    #[error("leaf {0:?} does not receive this split commit")]
    NotAReceiver(LeafIndex),
    /// The SCommit's path does not fit the committer's filtered direct path.
    #[error("the path has {actual} nodes, the committer's filtered direct path {expected}")]
    PathLength {
        /// Nodes of the filtered direct path.
        expected: usize,
        /// Nodes sent.
        actual: usize,
    },
    /// The SCommit lacks the ciphertext for the receiver.
    #[error("the path carries no ciphertext for leaf {0:?}")]
    MissingCiphertext(LeafIndex),
    /// Encoding failed.
    #[error("encoding failed: {0}")]
    Codec(#[from] CodecError),
    /// The crypto provider failed.
    #[error("crypto: {0}")]
    Crypto(#[from] conclave_crypto::CryptoError),
}

/// `SCommitBroadcast` (draft-mularczyk-mls-splitcommit-00 §3): what every receiver gets.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct SCommitBroadcast {
    /// `opaque epoch_identifier<V>`: `MLS-Exporter("SCommitBroadcast", "", KDF.Nh)` of the
    /// new epoch.
    pub epoch_identifier: Vec<u8>,
    /// `ProposalOrRef proposals<V>`.
    pub proposals: Vec<ProposalOrRef>,
    /// `optional<LeafNode> leaf_node`: the committer's new leaf, present with a path.
    pub leaf_node: Option<Box<LeafNode>>,
}

/// The `content_type` byte `scommit_broadcast` ([`SCOMMIT_BROADCAST_CONTENT_TYPE`]); decoding
/// refuses any other value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SCommitBroadcastType;

impl Encode for SCommitBroadcastType {
    fn encoded_len(&self) -> usize {
        1
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.push(SCOMMIT_BROADCAST_CONTENT_TYPE);
        Ok(())
    }
}

impl Decode for SCommitBroadcastType {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, CodecError> {
        match reader.read_u8()? {
            SCOMMIT_BROADCAST_CONTENT_TYPE => Ok(Self),
            other => Err(CodecError::InvalidValue {
                what: "scommit_broadcast content type",
                value: other.into(),
            }),
        }
    }
}

/// `FramedContent` with `content_type = scommit_broadcast` (draft-mularczyk-mls-splitcommit-00
/// §3, RFC 9420 §6).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct SCommitBroadcastContent {
    /// `opaque group_id<V>`.
    pub group_id: Vec<u8>,
    /// `uint64 epoch`: the epoch the commit is sent in.
    pub epoch: u64,
    /// The committer.
    pub sender: Sender,
    /// `opaque authenticated_data<V>`.
    pub authenticated_data: Vec<u8>,
    /// `ContentType content_type = scommit_broadcast`.
    pub content_type: SCommitBroadcastType,
    /// The payload.
    pub broadcast: SCommitBroadcast,
}

/// The broadcast part as an `MLSMessage` holding a `PublicMessage` (RFC 9420 §6.2):
/// `FramedContentAuthData` is the signature alone (§3: no confirmation tag), then the
/// member's `membership_tag`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct SCommitBroadcastMessage {
    /// `ProtocolVersion version = mls10`.
    pub version: ProtocolVersion,
    /// `mls_public_message` (a `PrivateMessage` is not implemented).
    pub wire_format: WireFormat,
    /// The signed content.
    pub content: SCommitBroadcastContent,
    /// `opaque signature<V>` over `FramedContentTBS` (RFC 9420 §6.1).
    pub signature: Vec<u8>,
    /// `MAC membership_tag` (RFC 9420 §6.2).
    pub membership_tag: Vec<u8>,
}

/// `SUpdatePath` (draft-mularczyk-mls-splitcommit-00 §3): an UpdatePath without its leaf.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct SUpdatePath {
    /// `UpdatePathNode nodes<V>`.
    pub nodes: Vec<UpdatePathNode>,
}

/// `SCommit` (draft-mularczyk-mls-splitcommit-00 §3).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct SCommit {
    /// `MLSMessage scommit_broadcast_message`.
    pub broadcast: SCommitBroadcastMessage,
    /// `optional<SUpdatePath> path`.
    pub path: Option<SUpdatePath>,
}

/// `PartialSUpdatePath` (draft-mularczyk-mls-splitcommit-00 §3).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct PartialSUpdatePath {
    /// The one ciphertext the receiver decrypts.
    pub encrypted_path_secret: HpkeCiphertext,
    /// `HPKEPublicKey new_pks<V>`: the keys of the committer's filtered direct path, every
    /// node of it in Conclave (see the module documentation for why).
    pub new_pks: Vec<HpkePublicKey>,
}

/// `PerMemberCommit` (draft-mularczyk-mls-splitcommit-00 §3).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct PerMemberCommit {
    /// `MLSMessage scommit_broadcast_message`, the SCommit's.
    pub broadcast: SCommitBroadcastMessage,
    /// `optional<PartialSUpdatePath> partial_path`.
    pub partial_path: Option<PartialSUpdatePath>,
}

/// An `MLSMessage` (draft-mularczyk-mls-splitcommit-00 §3) of wire format `mls_scommit` or
/// `mls_per_member_commit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitMessage {
    /// `mls_scommit`.
    SCommit(SCommit),
    /// `mls_per_member_commit`.
    PerMemberCommit(PerMemberCommit),
}

impl Encode for SplitMessage {
    fn encoded_len(&self) -> usize {
        4 + match self {
            Self::SCommit(s) => s.encoded_len(),
            Self::PerMemberCommit(p) => p.encoded_len(),
        }
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        ProtocolVersion::MLS10.encode(out)?;
        match self {
            Self::SCommit(s) => {
                SCOMMIT_WIRE_FORMAT.encode(out)?;
                s.encode(out)
            }
            Self::PerMemberCommit(p) => {
                PER_MEMBER_COMMIT_WIRE_FORMAT.encode(out)?;
                p.encode(out)
            }
        }
    }
}

impl Decode for SplitMessage {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, CodecError> {
        let version = ProtocolVersion::decode(reader)?;
        if version != ProtocolVersion::MLS10 {
            return Err(CodecError::InvalidValue {
                what: "protocol version",
                value: version.0.into(),
            });
        }
        let wire_format = WireFormat::decode(reader)?;
        if wire_format == SCOMMIT_WIRE_FORMAT {
            Ok(Self::SCommit(SCommit::decode(reader)?))
        } else if wire_format == PER_MEMBER_COMMIT_WIRE_FORMAT {
            Ok(Self::PerMemberCommit(PerMemberCommit::decode(reader)?))
        } else {
            Err(CodecError::InvalidValue {
                what: "split commit wire format",
                value: wire_format.0.into(),
            })
        }
    }
}

/// Whether the group context `extensions` enable split commits: `required_wire_formats`
/// lists both `mls_scommit` and `mls_per_member_commit` (Conclave's opt-in, module
/// documentation).
pub fn is_enabled(extensions: &[Extension]) -> Result<bool, CodecError> {
    let Some(extension) = extensions
        .iter()
        .find(|e| e.extension_type == REQUIRED_WIRE_FORMATS_EXTENSION)
    else {
        return Ok(false);
    };
    let formats = WireFormats::from_bytes(&extension.extension_data)?;
    Ok(formats.wire_formats.contains(&SCOMMIT_WIRE_FORMAT)
        && formats
            .wire_formats
            .contains(&PER_MEMBER_COMMIT_WIRE_FORMAT))
}

/// The `FramedContentTBS` of the broadcast content (RFC 9420 §6.1): version, wire format,
/// content and, for the member sender, the group context.
fn framed_content_tbs(
    content: &SCommitBroadcastContent,
    context: &GroupContext,
) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(content.encoded_len() + context.encoded_len() + 4);
    ProtocolVersion::MLS10.encode(&mut out)?;
    WireFormat::PUBLIC_MESSAGE.encode(&mut out)?;
    content.encode(&mut out)?;
    context.encode(&mut out)?;
    Ok(out)
}

/// `AuthenticatedContentTBM` (RFC 9420 §6.2): the TBS and the auth data (the signature
/// alone, draft-mularczyk-mls-splitcommit-00 §3).
fn authenticated_content_tbm(tbs: &[u8], signature: &[u8]) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(tbs.len() + signature.len() + 4);
    out.extend_from_slice(tbs);
    conclave_codec::write_opaque(&mut out, signature)?;
    Ok(out)
}

/// `membership_tag = MAC(membership_key, AuthenticatedContentTBM)` (RFC 9420 §6.2) of the
/// broadcast content whose `FramedContentTBS` is `tbs`.
fn membership_tag(
    cs: &dyn CipherSuiteProvider,
    membership_key: &[u8],
    tbs: &[u8],
    signature: &[u8],
) -> Result<Vec<u8>, CodecError> {
    Ok(cs.mac(membership_key, &authenticated_content_tbm(tbs, signature)?))
}

/// Re-tags `message` as it stands (tests: a forged signature under a valid tag).
#[cfg(test)]
pub(crate) fn retag(
    cs: &dyn CipherSuiteProvider,
    membership_key: &[u8],
    message: &mut SCommitBroadcastMessage,
    context: &GroupContext,
) {
    let tbs = framed_content_tbs(&message.content, context).unwrap();
    message.membership_tag = membership_tag(cs, membership_key, &tbs, &message.signature).unwrap();
}

/// Signs `content` and adds the membership tag (RFC 9420 §6.1, §6.2) into the broadcast
/// `PublicMessage` (draft-mularczyk-mls-splitcommit-00 §3 step 4).
pub(crate) fn protect_broadcast(
    cs: &dyn CipherSuiteProvider,
    signature_key: &[u8],
    membership_key: &[u8],
    content: SCommitBroadcastContent,
    context: &GroupContext,
) -> Result<SCommitBroadcastMessage, SplitCommitError> {
    if !matches!(content.sender, Sender::Member(_)) {
        return Err(SplitCommitError::SenderNotMember);
    }
    let tbs = framed_content_tbs(&content, context)?;
    let signature = labels::sign_with_label(cs, signature_key, FRAMED_CONTENT_TBS_LABEL, &tbs)?;
    let membership_tag = membership_tag(cs, membership_key, &tbs, &signature)?;
    Ok(SCommitBroadcastMessage {
        version: ProtocolVersion::MLS10,
        wire_format: WireFormat::PUBLIC_MESSAGE,
        content,
        signature,
        membership_tag,
    })
}

/// Checks the broadcast message's framing, membership tag and signature (RFC 9420 §6,
/// §6.1, §6.2) against the current epoch: version, wire format, a member sender, then the
/// tag (constant time; `None`: a party without the membership key, such as a
/// [`crate::public_group::PublicGroup`], which cannot check it) and `signature_key`'s
/// signature. The caller has checked group id and epoch.
pub(crate) fn verify_broadcast(
    cs: &dyn CipherSuiteProvider,
    message: &SCommitBroadcastMessage,
    context: &GroupContext,
    membership_key: Option<&[u8]>,
    signature_key: &[u8],
) -> Result<(), SplitCommitError> {
    if message.version != ProtocolVersion::MLS10 {
        return Err(SplitCommitError::UnsupportedVersion(message.version.0));
    }
    if message.wire_format != WireFormat::PUBLIC_MESSAGE {
        return Err(SplitCommitError::WrongWireFormat {
            expected: WireFormat::PUBLIC_MESSAGE,
            found: message.wire_format,
        });
    }
    if !matches!(message.content.sender, Sender::Member(_)) {
        return Err(SplitCommitError::SenderNotMember);
    }
    let tbs = framed_content_tbs(&message.content, context)?;
    if let Some(membership_key) = membership_key {
        let expected = membership_tag(cs, membership_key, &tbs, &message.signature)?;
        if !conclave_crypto::ct_eq(&expected, &message.membership_tag) {
            return Err(SplitCommitError::InvalidMembershipTag);
        }
    }
    labels::verify_with_label(
        cs,
        signature_key,
        FRAMED_CONTENT_TBS_LABEL,
        &tbs,
        &message.signature,
    )
    .map_err(|e| match e {
        conclave_crypto::CryptoError::InvalidSignature => SplitCommitError::InvalidSignature,
        other => SplitCommitError::Crypto(other),
    })
}

/// The confirmed transcript hash after a split commit (draft-mularczyk-mls-splitcommit-00 §4,
/// with the cycle broken as the module documentation says):
/// `Hash(interim_before || wire_format || FramedContent)` where the content's
/// `epoch_identifier` is empty. The interim transcript hash after it equals it.
pub(crate) fn confirmed_transcript_hash(
    cs: &dyn CipherSuiteProvider,
    interim_before: &[u8],
    content: &SCommitBroadcastContent,
) -> Result<Vec<u8>, CodecError> {
    let mut unidentified = content.clone();
    unidentified.broadcast.epoch_identifier = Vec::new();
    let mut input = Vec::with_capacity(unidentified.encoded_len() + 2);
    WireFormat::PUBLIC_MESSAGE.encode(&mut input)?;
    unidentified.encode(&mut input)?;
    Ok(cs.hash_parts(&[interim_before, &input]))
}

/// `epoch_identifier = MLS-Exporter("SCommitBroadcast", "", KDF.Nh)` of the new epoch
/// (draft-mularczyk-mls-splitcommit-00 §3).
pub(crate) fn epoch_identifier(
    cs: &dyn CipherSuiteProvider,
    secrets: &crate::key_schedule::EpochSecrets,
) -> Result<Vec<u8>, crate::key_schedule::KeyScheduleError> {
    Ok(secrets
        .export(cs, SCOMMIT_EPOCH_IDENTIFIER_LABEL, &[], cs.hash_len())?
        .as_bytes()
        .to_vec())
}

/// The regular commit an SCommit stands for (draft-mularczyk-mls-splitcommit-00 §3): the
/// broadcast's proposals, and its leaf node with the SUpdatePath's nodes as the UpdatePath.
pub(crate) fn commit_of(
    broadcast: &SCommitBroadcast,
    path: Option<Vec<UpdatePathNode>>,
) -> Result<Commit, SplitCommitError> {
    let path = match (&broadcast.leaf_node, path) {
        (Some(leaf), Some(nodes)) => Some(UpdatePath {
            leaf_node: leaf.clone(),
            nodes,
        }),
        (None, None) => None,
        _ => return Err(SplitCommitError::PathMismatch),
    };
    Ok(Commit {
        proposals: broadcast.proposals.clone(),
        path,
    })
}

/// The UpdatePath nodes a per-member commit stands for: the sent keys, each node holding the
/// one ciphertext first. A full member passes the ciphertext to decryption apart
/// ([`crate::treekem::decrypt_path`]'s `single`); a partial member (Conclave's
/// [`crate::partial::AnnotatedSplitCommit`]) reads the ciphertext of the node its proofs
/// name at `resolution_index` (draft-ietf-mls-partial-02 §10), here 0: whichever node that
/// is, it finds the PerMemberCommit's ciphertext.
pub(crate) fn nodes_with_single_ciphertext(
    partial: &PartialSUpdatePath,
) -> Result<Vec<UpdatePathNode>, CodecError> {
    let ciphertext = crate::messages::HpkeCiphertextRef {
        kem_output: &partial.encrypted_path_secret.kem_output,
        ciphertext: &partial.encrypted_path_secret.ciphertext,
    };
    partial
        .new_pks
        .iter()
        .map(|key| {
            Ok(UpdatePathNode {
                encryption_key: key.clone(),
                encrypted_path_secret: EncryptedPathSecrets::from_ciphertexts([ciphertext])?,
            })
        })
        .collect()
}

/// Splits `scommit` into the PerMemberCommit of the member at `receiver`
/// (draft-mularczyk-mls-splitcommit-00 §3, "convert an MlsMessage with an SCommit"): the
/// same broadcast message, the ciphertext of the SUpdatePath that `receiver` decrypts and
/// the keys of the committer's filtered direct path.
///
/// `tree` is the ratchet tree of the new epoch (the committer's, or the Delivery Service's
/// if it follows the tree) and `new_leaves` the leaves the commit added (they receive the
/// path secret in the Welcome, not here). Nothing is verified: the receiver does that.
pub fn split_for_receiver(
    scommit: &SCommit,
    tree: &RatchetTree,
    new_leaves: &[LeafIndex],
    receiver: LeafIndex,
) -> Result<PerMemberCommit, SplitCommitError> {
    let Sender::Member(committer) = scommit.broadcast.content.sender else {
        return Err(SplitCommitError::SenderNotMember);
    };
    let Some(path) = &scommit.path else {
        return Ok(PerMemberCommit {
            broadcast: scommit.broadcast.clone(),
            partial_path: None,
        });
    };
    if receiver == committer || new_leaves.contains(&receiver) || tree.leaf(receiver).is_none() {
        return Err(SplitCommitError::NotAReceiver(receiver));
    }
    let direct = tree.filtered_direct_path_with_copath(committer);
    if direct.len() != path.nodes.len() {
        return Err(SplitCommitError::PathLength {
            expected: direct.len(),
            actual: path.nodes.len(),
        });
    }
    // The ciphertext a regular receiver decrypts (RFC 9420 §12.4.2): the UpdatePathNode of
    // the committer's and the receiver's lowest common ancestor, at the receiver's place in
    // its copath child's resolution — the partial annotator's `resolution_index`
    // (draft-ietf-mls-partial-02 §10), one rule for both.
    let index = crate::partial::resolution_index(tree, committer, receiver, new_leaves)
        .and_then(|index| usize::try_from(index).ok())
        .ok_or(SplitCommitError::NotAReceiver(receiver))?;
    let lca = tree
        .size()
        .common_ancestor(committer.node(), receiver.node())
        .ok_or(SplitCommitError::NotAReceiver(receiver))?;
    let node = direct
        .iter()
        .position(|(node, _)| *node == lca)
        .and_then(|position| path.nodes.get(position))
        .ok_or(SplitCommitError::NotAReceiver(receiver))?;
    let ciphertext = node
        .encrypted_path_secret
        .iter()
        .nth(index)
        .ok_or(SplitCommitError::MissingCiphertext(receiver))?;
    Ok(PerMemberCommit {
        broadcast: scommit.broadcast.clone(),
        partial_path: Some(PartialSUpdatePath {
            encrypted_path_secret: ciphertext.to_owned(),
            new_pks: path
                .nodes
                .iter()
                .map(|n| n.encryption_key.clone())
                .collect(),
        }),
    })
}
