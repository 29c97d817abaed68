//! The wall clock, for the code around the sans-IO protocol crates: the services and the
//! client read the time here and pass it into the core (RFC 9420 checks lifetimes and
//! credentials "at the current time", §7.2, §5.3.1).

use std::sync::Arc;

/// A source of the current time in seconds since the Unix epoch; replaceable in tests.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Seconds since the Unix epoch (0 if the system clock is before it).
pub fn now_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The system clock as a [`Clock`].
pub fn system_clock() -> Clock {
    Arc::new(now_seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_reads_a_time_after_this_code_was_written() {
        // 2026-01-01T00:00:00Z: a clock before it is broken.
        assert!(system_clock()() > 1_767_225_600);
    }
}
