//! KeyPackage context (draft-mahy-mls-kp-context-00): the `kp_context` KeyPackage extension
//! (0x000B, [`KP_CONTEXT_EXTENSION`]) states the one context a KeyPackage may be used in —
//! for Conclave, above all one group, for a KeyPackage handed out of band as an invitation.
//!
//! The draft writes no processing rule; its stated purpose (§2, "wants the specific
//! KeyPackage used only in the anticipated context") is enforced here as: a KeyPackage with
//! `kp_context` is valid for a group only if the context is one the group accepts
//! ([`KpContextScope`]): `groupid` equal to the group's id, or a `uri`, `domain` or
//! `jwk_thumbprint` pair the application configured for the group. Everything else is
//! refused (fail closed) by the adder and by every member processing the Add, through the
//! one KeyPackage validation (RFC 9420 §10.1 plus this check). A KeyPackage without the
//! extension is valid anywhere. A malformed `kp_context` is refused too: a member that
//! implements the extension cannot tell where such a package may be used.
//!
//! The extension 0x000B is also requested by draft-mahy-mls-room-policy-ext; the codepoint
//! table settles it for `kp_context` ([`crate::codepoints`], "Clashes between drafts").

use conclave_codec::{Decode, Encode};

use crate::codepoints::KP_CONTEXT_EXTENSION;
use crate::messages::{Extension, ExtensionPayload, ExtensionType};

/// `ContextType` (draft-mahy-mls-kp-context-00 §2): a `uint8` enum (`(255)`); unknown values
/// are kept, so that a refusal can name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode)]
pub struct ContextType(pub u8);

impl ContextType {
    /// `reserved(0)`.
    pub const RESERVED: Self = Self(0);
    /// `groupid(1)`: `context_value` is a group id.
    pub const GROUP_ID: Self = Self(1);
    /// `uri(2)`.
    pub const URI: Self = Self(2);
    /// `domain(3)`.
    pub const DOMAIN: Self = Self(3);
    /// `jwk_thumbprint(4)`.
    pub const JWK_THUMBPRINT: Self = Self(4);
}

/// `ContextPair` (draft-mahy-mls-kp-context-00 §2); `ContextPair kp_context` is the payload
/// of the extension: one pair, not a list.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub struct ContextPair {
    /// `ContextType context_type`.
    pub context_type: ContextType,
    /// `opaque context_value<V>`.
    pub context_value: Vec<u8>,
}

impl ExtensionPayload for ContextPair {
    const EXTENSION_TYPE: ExtensionType = KP_CONTEXT_EXTENSION;
}

impl ContextPair {
    /// The context "only this group".
    pub fn group(group_id: &[u8]) -> Self {
        Self {
            context_type: ContextType::GROUP_ID,
            context_value: group_id.to_vec(),
        }
    }

    /// This pair as a `kp_context` KeyPackage extension.
    pub fn to_key_package_extension(&self) -> Result<Extension, conclave_codec::CodecError> {
        self.to_extension()
    }
}

/// Why a KeyPackage's `kp_context` refuses it for a group.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KpContextError {
    /// The extension does not decode as one `ContextPair`.
    #[error(
        "draft-mahy-mls-kp-context-00 §2: the KeyPackage's kp_context extension is not one \
         ContextPair: {0}"
    )]
    Malformed(conclave_codec::CodecError),
    /// The context is another group, or a context this group does not accept.
    #[error(
        "draft-mahy-mls-kp-context-00 §1, §2: the KeyPackage may be used only in its context \
         ({0}), which is not this group"
    )]
    OutsideContext(String),
}

/// The contexts a group accepts KeyPackages for: its own group id, and whatever URIs,
/// domains or JWK thumbprints the application names for it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KpContextScope {
    /// The group's id (`groupid`).
    pub group_id: Vec<u8>,
    /// Other accepted pairs (`uri`, `domain`, `jwk_thumbprint`).
    pub also: Vec<ContextPair>,
}

fn describe(pair: &ContextPair) -> String {
    let value = match std::str::from_utf8(&pair.context_value) {
        Ok(text) if pair.context_type != ContextType::GROUP_ID => format!("{text:?}"),
        _ => pair
            .context_value
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect(),
    };
    let kind = match pair.context_type {
        ContextType::GROUP_ID => "group id".to_owned(),
        ContextType::URI => "URI".to_owned(),
        ContextType::DOMAIN => "domain".to_owned(),
        ContextType::JWK_THUMBPRINT => "JWK thumbprint".to_owned(),
        other => format!("context type {}", other.0),
    };
    format!("{kind} {value}")
}

impl KpContextScope {
    /// draft-mahy-mls-kp-context-00 §1-§2: a KeyPackage whose extensions carry
    /// `kp_context` may be used only in that context. `Ok` for a package without it.
    pub fn check(&self, key_package_extensions: &[Extension]) -> Result<(), KpContextError> {
        let Some(extension) = key_package_extensions
            .iter()
            .find(|e| e.extension_type == KP_CONTEXT_EXTENSION)
        else {
            return Ok(());
        };
        let pair = ContextPair::from_bytes(&extension.extension_data)
            .map_err(KpContextError::Malformed)?;
        let accepted = match pair.context_type {
            ContextType::GROUP_ID => pair.context_value == self.group_id,
            _ => self.also.contains(&pair),
        };
        if accepted {
            Ok(())
        } else {
            Err(KpContextError::OutsideContext(describe(&pair)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(pair: &ContextPair) -> Vec<Extension> {
        vec![pair.to_key_package_extension().unwrap()]
    }

    #[test]
    fn a_group_bound_package_is_valid_only_in_its_group() {
        let scope = KpContextScope {
            group_id: b"g1".to_vec(),
            also: Vec::new(),
        };
        assert_eq!(scope.check(&[]), Ok(()));
        assert_eq!(scope.check(&ext(&ContextPair::group(b"g1"))), Ok(()));
        assert_eq!(
            scope.check(&ext(&ContextPair::group(b"g2"))),
            Err(KpContextError::OutsideContext("group id 6732".into()))
        );
    }

    #[test]
    fn other_contexts_need_the_application_to_accept_them_and_unknown_types_are_refused() {
        let uri = ContextPair {
            context_type: ContextType::URI,
            context_value: b"mimi://example.com/r/team".to_vec(),
        };
        let mut scope = KpContextScope {
            group_id: b"g".to_vec(),
            also: Vec::new(),
        };
        assert!(matches!(
            scope.check(&ext(&uri)),
            Err(KpContextError::OutsideContext(_))
        ));
        scope.also.push(uri.clone());
        assert_eq!(scope.check(&ext(&uri)), Ok(()));
        let unknown = ContextPair {
            context_type: ContextType(9),
            context_value: b"g".to_vec(),
        };
        assert_eq!(
            scope.check(&ext(&unknown)),
            Err(KpContextError::OutsideContext(
                "context type 9 \"g\"".into()
            ))
        );
    }

    #[test]
    fn a_malformed_context_is_refused_and_the_pair_round_trips() {
        let scope = KpContextScope::default();
        let bad = vec![Extension {
            extension_type: KP_CONTEXT_EXTENSION,
            extension_data: vec![1, 5, 0],
        }];
        assert!(matches!(
            scope.check(&bad),
            Err(KpContextError::Malformed(_))
        ));
        let pair = ContextPair::group(b"abc");
        assert_eq!(pair.to_bytes().unwrap(), [1, 3, b'a', b'b', b'c']);
        assert_eq!(
            ContextPair::from_bytes(&[1, 3, b'a', b'b', b'c']).unwrap(),
            pair
        );
    }
}
