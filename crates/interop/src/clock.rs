//! Time for the protocol core, which is sans-IO and takes "now" as an argument: the system
//! clock, read once per harness operation (KeyPackage and leaf lifetimes, RFC 9420 §7.2).

/// Seconds since the Unix epoch, from the system clock (lifetimes, RFC 9420 §7.2).
///
/// A clock set before 1970 reads as 0 instead of failing every request: the harness runs on
/// machines with sane clocks, and the lifetime checks still see a consistent (if odd) time.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
