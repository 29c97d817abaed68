//! Scenario runner for the interop harness (in progress).
