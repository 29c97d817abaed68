//! Test-only runner of interop-harness scenario scripts.
