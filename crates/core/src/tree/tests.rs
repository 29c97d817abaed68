//! Tests of the ratchet tree.
