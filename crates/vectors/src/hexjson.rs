//! Helpers to read fields of a JSON test case, with errors that name the field.

use serde_json::Value;

/// A field that is missing or has the wrong shape.
pub type HexError = String;

/// A hex-encoded field, decoded.
pub fn field_hex(case: &Value, name: &str) -> Result<Vec<u8>, HexError> {
    let s = field_str(case, name)?;
    hex::decode(s).map_err(|e| format!("field {name}: bad hex: {e}"))
}

/// A string field.
pub fn field_str<'a>(case: &'a Value, name: &str) -> Result<&'a str, HexError> {
    case.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("missing string field {name}"))
}

/// An unsigned integer field.
pub fn field_u64(case: &Value, name: &str) -> Result<u64, HexError> {
    case.get(name)
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("missing integer field {name}"))
}
