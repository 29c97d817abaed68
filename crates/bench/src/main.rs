//! `conclave-bench` (in progress).

fn main() {}
