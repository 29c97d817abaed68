//! The syntax of the identifiers the API takes: client ids and (hex) group ids.

use crate::error::DsError;

/// Checks a client id: 1 to 128 characters of `[A-Za-z0-9._@:-]` (safe in URLs, logs and
/// `mls://` identities).
pub(crate) fn check_client_id(id: &str) -> Result<(), DsError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "._@:-".contains(c);
    if id.is_empty() || id.len() > 128 || !id.chars().all(ok_char) {
        return Err(DsError::BadRequest(format!(
            "client id {id:?} must be 1 to 128 characters of [A-Za-z0-9._@:-]"
        )));
    }
    Ok(())
}

/// Decodes a group id from the hex of a path or body: 1 to 255 bytes (RFC 9420 §6, an
/// `opaque group_id<V>` the DS bounds).
pub(crate) fn parse_group_id(hex_id: &str) -> Result<Vec<u8>, DsError> {
    let id = hex::decode(hex_id)
        .map_err(|e| DsError::BadRequest(format!("group id must be hex: {e}")))?;
    if id.is_empty() || id.len() > 255 {
        return Err(DsError::BadRequest(
            "group id must be 1 to 255 bytes".into(),
        ));
    }
    Ok(id)
}
