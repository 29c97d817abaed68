//! The interop-harness gRPC server (in progress).
