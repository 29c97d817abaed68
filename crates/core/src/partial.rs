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
//! The draft requests no codepoints (draft-ietf-mls-partial-02 §14).

pub mod messages;

#[cfg(test)]
mod tests;

pub use messages::{
    AnnotatedCommit, AnnotatedWelcome, CopathHash, MembershipProof, SenderAuthenticatedGroupInfo,
    SenderAuthenticatedMessage, SenderAuthenticatedPrivateMessage,
    SenderAuthenticatedPublicMessage, SenderAuthenticatedWelcome,
};
