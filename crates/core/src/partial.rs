//! Partial MLS (draft-ietf-mls-partial-02): clients that hold no ratchet tree.
//!
//! A partial client keeps the group's secrets, the tree hash, its own leaf and the private
//! keys of its direct path; it learns just enough of the tree from annotations that anyone
//! holding the tree (a full member, or a Delivery Service that follows the public group)
//! attaches to MLS messages:
//!
//! - [`messages`]: the wire structures (§6–§10): [`MembershipProof`],
//!   [`SenderAuthenticatedMessage`], [`AnnotatedWelcome`], [`AnnotatedCommit`].
//!
//! - [`MembershipProof::for_leaf`], [`MembershipProof::verify`] and
//!   [`MembershipProof::same_tree_as`] (§6): proofs from a tree, checked against a tree hash.
//! - [`SenderAuthenticatedMessage::verify`], [`verify_sender`] (§7): a sender's proof, then
//!   its signature with the proven key.
//! - [`AnnotatedCommit::verify_annotations`] (§10 steps 1–2 and the presence rules) and
//!   [`decrypt_partial_path`] (§10): a commit's UpdatePath decrypted with the annotations
//!   and the receiver's direct-path keys, to the commit secret and the new keys.
//! - Annotators for parties that hold the tree (§8, §10): [`MembershipProof::for_leaf`],
//!   [`CommitAnnotator`], [`annotate_welcome`].
//! - [`AnnotatedSplitCommit`] (Conclave's extension, after the draft's Appendix "Known
//!   Issues"): an AnnotatedCommit carrying the receiver's per-member split commit
//!   (draft-mularczyk-mls-splitcommit-00), built by [`CommitAnnotator::for_split`] and
//!   processed by [`member::PartialMember::process_annotated_split_commit`] in O(log N).
//! - [`member`]: the partial member itself ([`member::PartialMember`]): joins from an
//!   AnnotatedWelcome (§8), follows AnnotatedCommits (§10), decrypts and authenticates
//!   application messages (§7, §11), exports secrets and persists compactly.
//!
//! The draft requests no codepoints (draft-ietf-mls-partial-02 §14).

mod annotate;
mod error;
pub mod member;
pub mod messages;
mod path;
mod proof;
mod sender;
mod state;

#[cfg(test)]
mod tests;

pub use annotate::{CommitAnnotator, CommitFacts, annotate_welcome};
pub use error::PartialError;
pub use path::{PartialPath, decrypt_partial_path, provisional_context, resolution_index};
pub use proof::ProvenLeaf;
pub use sender::{verify_group_info_sender, verify_sender};

pub use messages::{
    AnnotatedCommit, AnnotatedSplitCommit, AnnotatedWelcome, CopathHash, MembershipProof,
    SenderAuthenticatedGroupInfo, SenderAuthenticatedMessage, SenderAuthenticatedPrivateMessage,
    SenderAuthenticatedPublicMessage, SenderAuthenticatedWelcome,
};
