//! Every wire structure of RFC 9420, with its TLS presentation-language encoding.

mod group_context;

pub use group_context::{Extension, ExtensionType, GroupContext, ProtocolVersion};
