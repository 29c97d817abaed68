//! Mixed-implementation group tests live in `tests/` (mls-rs and OpenMLS are dev-dependencies only).
