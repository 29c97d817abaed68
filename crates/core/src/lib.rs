//! The MLS protocol (RFC 9420): wire structures, tree math, key schedule, secret tree,
//! transcript hashes and message protection.
//!
//! Sans-IO: nothing here performs I/O or reads a clock or OS randomness. Randomness comes from
//! a [`conclave_crypto::CryptoRandom`] the caller supplies; cryptography from a
//! [`conclave_crypto::CipherSuiteProvider`].
//!
//! Applications start with [`member::Member`], which takes the randomness, the clock and a
//! [`storage::Storage`] once and saves its groups incrementally after every operation;
//! [`group::Group`] is the state machine underneath, with explicit time and randomness.
//!
//! [`public_group::PublicGroup`] follows a group's public state from outside it (tree,
//! GroupContext, membership), checking every PublicMessage handshake with the members' own
//! rules but none of their secrets: the view of an assisted Delivery Service (RFC 9750 §5).

#![forbid(unsafe_code)]

pub mod codepoints;
pub mod credential;
pub mod framing;
pub mod group;
pub mod key_schedule;
pub mod kp_context;
pub mod last_resort;
pub mod member;
pub mod member_proof;
pub mod messages;
mod parallel;
pub mod partial;
pub mod psk;
pub mod public_group;
pub mod ratchet_tree_options;
pub mod safe;
pub mod secret_tree;
pub mod semi_private;
pub mod split;
pub mod storage;
pub mod targeted;
pub mod transcript;
pub mod tree;
pub mod tree_math;
pub mod treekem;
pub mod validation;
pub mod welcome;

/// The README's Rust example, compiled and run by `cargo test --doc` so that it cannot drift
/// from the API.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeExample;
