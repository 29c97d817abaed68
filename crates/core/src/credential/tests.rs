//! Tests of credential validation.
