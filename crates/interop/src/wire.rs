//! The harness's wire conventions: how the byte strings of `mls_client.proto` map to MLS
//! objects and back.
//!
//! - Every MLS object crosses the wire as an `MLSMessage` (RFC 9420 §6); a field holding the
//!   wrong kind of message is a bad request.
//! - A ratchet tree exchanged out of band (`external_tree`) is the TLS encoding of
//!   `optional<Node> ratchet_tree<V>` (RFC 9420 §12.4.3.3); an empty field means "none".
//! - An optional message that is absent (a commit without Welcome) is an empty field.
//! - Extensions come as `(uint32 type, bytes data)` pairs and must fit `uint16` (§13).

use conclave_codec::{Decode, Encode};
use conclave_core::group::Group;
use conclave_core::messages::{
    Extension, ExtensionType, GroupInfo, KeyPackage, MlsMessage, MlsMessageBody, RatchetTreeNodes,
    Welcome,
};

use crate::error::{Result, bad};
use crate::proto;

/// Decodes an `MLSMessage` of any kind.
pub(crate) fn decode_message(bytes: &[u8]) -> Result<MlsMessage> {
    Ok(MlsMessage::from_bytes(bytes)?)
}

/// Encodes an `MLSMessage`.
pub(crate) fn encode_message(message: &MlsMessage) -> Result<Vec<u8>> {
    Ok(message.to_bytes()?)
}

/// Encodes `message`, or nothing when there is none (the harness's "absent").
pub(crate) fn encode_optional(message: Option<&MlsMessage>) -> Result<Vec<u8>> {
    message.map_or_else(|| Ok(Vec::new()), encode_message)
}

/// Wraps `body` in an `MLSMessage` and encodes it.
pub(crate) fn wrap(body: MlsMessageBody) -> Result<Vec<u8>> {
    encode_message(&MlsMessage::new(body))
}

/// Decodes an `MLSMessage` and takes its body out with `pick`, which gives `None` when the
/// body is not the kind expected (`kind` names that kind in the error).
fn decode_body<T>(
    bytes: &[u8],
    kind: &str,
    pick: impl FnOnce(MlsMessageBody) -> Option<T>,
) -> Result<T> {
    let body = decode_message(bytes)?.body;
    let wire_format = body.wire_format().0;
    pick(body).ok_or_else(|| bad(format!("expected a {kind}, got wire format {wire_format}")))
}

/// Decodes an `MLSMessage` that must be a Welcome (RFC 9420 §12.4.3.1).
pub(crate) fn decode_welcome(bytes: &[u8]) -> Result<Welcome> {
    decode_body(bytes, "Welcome", |body| match body {
        MlsMessageBody::Welcome(welcome) => Some(welcome),
        _ => None,
    })
}

/// Decodes an `MLSMessage` that must be a GroupInfo (RFC 9420 §12.4.3).
pub(crate) fn decode_group_info(bytes: &[u8]) -> Result<GroupInfo> {
    decode_body(bytes, "GroupInfo", |body| match body {
        MlsMessageBody::GroupInfo(info) => Some(info),
        _ => None,
    })
}

/// Decodes an `MLSMessage` that must be a KeyPackage (RFC 9420 §10).
pub(crate) fn decode_key_package(bytes: &[u8]) -> Result<KeyPackage> {
    decode_body(bytes, "KeyPackage", |body| match body {
        MlsMessageBody::KeyPackage(kp) => Some(kp),
        _ => None,
    })
}

/// Decodes a list of KeyPackages (the new members of a reinitialised or branched group).
pub(crate) fn decode_key_packages(list: &[Vec<u8>]) -> Result<Vec<KeyPackage>> {
    list.iter().map(|kp| decode_key_package(kp)).collect()
}

/// An out-of-band ratchet tree: `None` when empty.
pub(crate) fn decode_tree(bytes: &[u8]) -> Result<Option<RatchetTreeNodes>> {
    if bytes.is_empty() {
        Ok(None)
    } else {
        Ok(Some(RatchetTreeNodes::from_bytes(bytes)?))
    }
}

/// The ratchet tree of `group`, for sending out of band.
pub(crate) fn encode_tree(group: &Group) -> Result<Vec<u8>> {
    Ok(group.tree().to_nodes().to_bytes()?)
}

/// The tree of `group` when the harness asked for it out of band (`external_tree`), else
/// nothing: then the tree travels in the GroupInfo's `ratchet_tree` extension instead.
pub(crate) fn out_of_band_tree(group: &Group, external_tree: bool) -> Result<Vec<u8>> {
    if external_tree {
        encode_tree(group)
    } else {
        Ok(Vec::new())
    }
}

/// The harness's extensions as MLS extensions; a type beyond `uint16` is a bad request.
pub(crate) fn extensions_of(list: &[proto::Extension]) -> Result<Vec<Extension>> {
    list.iter()
        .map(|e| {
            let extension_type = u16::try_from(e.extension_type)
                .map_err(|_| bad(format!("extension type {} out of range", e.extension_type)))?;
            Ok(Extension {
                extension_type: ExtensionType(extension_type),
                extension_data: e.extension_data.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_fields_mean_absent_and_malformed_input_is_refused() {
        assert!(decode_tree(&[]).unwrap().is_none());
        assert!(encode_optional(None).unwrap().is_empty());
        assert!(decode_welcome(&[]).is_err());
        assert!(
            extensions_of(&[proto::Extension {
                extension_type: 0x1_0000,
                extension_data: Vec::new(),
            }])
            .is_err()
        );
    }
}
