//! Conclave deployments (RFC 9750 §4-§6): the Delivery Service and the Authentication
//! Service put together.
//!
//! - the binaries `conclave-ds` (the DS, optionally with the AS in the same process),
//!   `conclave-as` (the AS alone) and `conclave-ds-load` (a load generator for the DS);
//! - [`with_as`]: the AS's routes next to the DS's, and the AS's [`conclave_ds::CredentialPolicy`];
//! - [`devnet`]: a DS and an AS on loopback with SQLite in a directory, for `conclave devnet`,
//!   the demo and tests.
//!
//! The `conclave-ds` and `conclave-as` library crates know nothing of each other; this crate
//! is where they meet.

#![forbid(unsafe_code)]

pub mod devnet;
pub mod with_as;

pub use devnet::{Devnet, DevnetError, DevnetInfo, DevnetOptions};
