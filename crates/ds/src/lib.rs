//! The Conclave Delivery Service (in progress).
