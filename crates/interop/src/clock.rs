//! Time for the protocol core, which is sans-IO and takes "now" as an argument: the system
//! clock, read once per harness operation (KeyPackage and leaf lifetimes, RFC 9420 §7.2).

/// Seconds since the Unix epoch, from the system clock (lifetimes, RFC 9420 §7.2); 0 for a
/// clock set before 1970.
pub use conclave_api::clock::now_seconds as unix_now;
