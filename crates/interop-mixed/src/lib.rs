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
//! `tests/self_remove.rs`: SelfRemove (draft-ietf-mls-extensions-10 §6.3) between Conclave,
//! under its `mls-rs` codepoint profile, and mls-rs with its `self_remove_proposal` feature
//! (enabled for this crate's dev-dependency only), committed by regular and external commits
//! of either implementation, and where mls-rs departs from the draft.
//!
//! `tests/mixed/extensions.rs` and `tests/mixed/safe_hpke.rs` mix Conclave and OpenMLS
//! (with its `extensions-draft` feature) members that use draft-ietf-mls-extensions-10:
//! AppDataUpdate, AppEphemeral, Safe AAD, SelfRemove, last-resort KeyPackages, the exporter
//! tree and SafeEncryptWithLabel. Conclave members run the `openmls-0.9` codepoint profile,
//! which holds every way OpenMLS 0.9 differs from -10; after every commit all members must
//! agree on the group context extensions (byte for byte), the epoch authenticator and the
//! exporter-tree secrets.
