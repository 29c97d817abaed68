//! Test-only crate: groups mixing Conclave, mls-rs and OpenMLS members (RFC 9420).
//!
//! The tests live in `tests/mixed/`; mls-rs (with `mls-rs-crypto-rustcrypto`) and OpenMLS
//! (with `openmls_rust_crypto`) are dev-dependencies only. Each test lets one
//! implementation create a group in one cipher suite (1, 2, 3 with all three; 7 with
//! Conclave and mls-rs) and one handshake wire format, then runs Welcome and external joins,
//! update commits and proposals, external and resumption PSKs, removals and application
//! messages through every member, checking after each commit that all members agree on the
//! epoch authenticator (RFC 9420 §8.7), an exported secret (§8.5) and the roster.
//!
//! `tests/self_remove.rs`: SelfRemove (draft-ietf-mls-extensions-10 §6.5) between Conclave,
//! under its `mls-rs` codepoint profile, and mls-rs with its `self_remove_proposal` feature
//! (enabled for this crate's dev-dependency only), committed by regular and external commits
//! of either implementation, and where mls-rs departs from the draft.
