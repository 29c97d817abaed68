//! Reading request bodies with a size limit and a required media type, shared by the
//! Delivery Service and the Authentication Service so that both refuse the same way (413 for
//! too large, 415 for another media type, 400 for unreadable JSON).

use axum::body::Body;
use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;

/// Why a request body was refused (the caller maps it to its own 4xx error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// 415: another `Content-Type` than expected.
    UnsupportedMediaType(String),
    /// 413: larger than the limit.
    PayloadTooLarge(String),
    /// 400: unreadable, or not the expected JSON.
    BadRequest(String),
}

/// The request's media type, lower case, without parameters.
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
}

/// The media type, if it is one of `expected`.
pub fn require_media_type(headers: &HeaderMap, expected: &[&str]) -> Result<String, BodyError> {
    match media_type(headers) {
        Some(t) if expected.contains(&t.as_str()) => Ok(t),
        other => Err(BodyError::UnsupportedMediaType(format!(
            "expected Content-Type {}, got {}",
            expected.join(" or "),
            other.as_deref().unwrap_or("none")
        ))),
    }
}

/// The whole body, refused early (by `Content-Length`) or while reading if larger than
/// `limit` bytes.
pub async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    let too_large = || BodyError::PayloadTooLarge(format!("body larger than {limit} bytes"));
    if let Some(length) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && length > limit as u64
    {
        return Err(too_large());
    }
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => Ok(bytes.to_vec()),
        Err(e) => {
            let text = e.to_string();
            if text.contains("length limit") {
                Err(too_large())
            } else {
                Err(BodyError::BadRequest(format!(
                    "could not read the body: {text}"
                )))
            }
        }
    }
}

/// A JSON body (`application/json`) of at most `limit` bytes.
pub async fn read_json<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<T, BodyError> {
    require_media_type(headers, &["application/json"])?;
    let bytes = read_body(headers, body, limit).await?;
    serde_json::from_slice(&bytes).map_err(|e| BodyError::BadRequest(format!("bad JSON body: {e}")))
}
