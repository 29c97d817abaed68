//! Group tests.
