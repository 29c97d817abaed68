//! Tests of leaf node and KeyPackage validation.
