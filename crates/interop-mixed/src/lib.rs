//! Test-only crate: groups mixing Conclave, mls-rs and OpenMLS members (RFC 9420).
//!
//! The tests live in `tests/mixed/`; mls-rs (with `mls-rs-crypto-rustcrypto`) and OpenMLS
//! (with `openmls_rust_crypto`) are dev-dependencies only. Each test lets one
//! implementation create a group in one cipher suite (1, 2, 3 with all three; 7 with
//! Conclave and mls-rs) and one handshake wire format, then runs Welcome and external joins,
//! update commits and proposals, external and resumption PSKs, removals and application
//! messages through every member, checking after each commit that all members agree on the
//! epoch authenticator (RFC 9420 §8.7), an exported secret (§8.5) and the roster.
