//! The typed query strings of the API, read with [`axum::extract::Query`]: one serde struct
//! per kind of query, and the [`ApiQuery`] extractor that answers a bad one with the API's
//! JSON 400 (`bad_request`) instead of axum's plain-text rejection. Unknown parameters are
//! ignored.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, Error as _};

use crate::error::DsError;
use crate::store::MAX_STORED;

/// A query string deserialized into `T`; a malformed one is a 400 that names the parameter
/// (`query after: "banana" is not a number`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = DsError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::try_from_uri(&parts.uri) {
            Ok(Query(value)) => Ok(Self(value)),
            Err(rejection) => {
                // The source is serde's error with the parameter's name in front.
                let why = std::error::Error::source(&rejection)
                    .map_or_else(|| rejection.body_text(), ToString::to_string);
                Err(DsError::BadRequest(format!("query {why}")))
            }
        }
    }
}

/// `?after=N&limit=M` of a paged read (the group log, the Welcome inbox).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct PageQuery {
    /// Entries after this position (default 0: from the start).
    #[serde(default, deserialize_with = "optional_number")]
    pub after: Option<u64>,
    /// At most this many entries (default 100; 1 to the configured page size).
    #[serde(default, deserialize_with = "optional_number")]
    pub limit: Option<u64>,
}

impl PageQuery {
    /// The position to read after, bounded by what the stores hold.
    pub fn after(&self) -> u64 {
        self.after.unwrap_or(0).min(MAX_STORED)
    }

    /// The page size: `limit` clamped to 1..=`max_page`, 100 when absent.
    pub fn limit(&self, max_page: u32) -> u32 {
        let limit = self.limit.unwrap_or(100).clamp(1, u64::from(max_page));
        u32::try_from(limit).unwrap_or(max_page)
    }
}

/// `?to=<client>` of `POST /v1/groups/{id}/messages`: the one member a targeted message
/// (draft-ietf-mls-targeted-messages) is routed to; absent for every other message.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TargetQuery {
    /// The recipient's client id.
    #[serde(default)]
    pub to: Option<String>,
}

/// `?up_to=N` of `DELETE /v1/welcomes`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct AckQuery {
    /// Remove the Welcomes up to this id, inclusive (required).
    #[serde(default, deserialize_with = "optional_number")]
    pub up_to: Option<u64>,
}

/// `?cipher_suite=N` of `GET /v1/ds/external-receiver`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct SuiteQuery {
    /// The cipher suite (required).
    #[serde(default, deserialize_with = "optional_number")]
    pub cipher_suite: Option<u64>,
}

impl SuiteQuery {
    /// The suite, or a 400 if it is missing or not a `uint16`.
    pub fn suite(&self) -> Result<u16, DsError> {
        let suite = self.cipher_suite.ok_or_else(|| {
            DsError::BadRequest("query cipher_suite: required (a cipher suite number)".into())
        })?;
        u16::try_from(suite).map_err(|_| {
            DsError::BadRequest(format!("query cipher_suite: {suite} is not a cipher suite"))
        })
    }
}

/// A decimal `u64` parameter.
fn optional_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    let text = String::deserialize(deserializer)?;
    text.parse::<u64>()
        .map(Some)
        .map_err(|_| D::Error::custom(format!("{text:?} is not a number")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use axum::http::Request;

    async fn parse<T: DeserializeOwned + Send>(uri: &str) -> Result<T, DsError> {
        let (mut parts, ()) = Request::builder().uri(uri).body(()).unwrap().into_parts();
        ApiQuery::<T>::from_request_parts(&mut parts, &())
            .await
            .map(|ApiQuery(q)| q)
    }

    #[tokio::test]
    async fn page_queries_default_and_clamp() {
        let q: PageQuery = parse("/x").await.unwrap();
        assert_eq!((q.after(), q.limit(1000)), (0, 100));
        let q: PageQuery = parse("/x?after=7&limit=5000&token=abc").await.unwrap();
        assert_eq!((q.after(), q.limit(1000)), (7, 1000));
        let q: PageQuery = parse("/x?limit=0").await.unwrap();
        assert_eq!(q.limit(1000), 1);
        let q: PageQuery = parse(&format!("/x?after={}", u64::MAX)).await.unwrap();
        assert_eq!(q.after(), MAX_STORED);
    }

    #[tokio::test]
    async fn a_bad_number_is_a_bad_request_naming_the_parameter() {
        let Err(DsError::BadRequest(why)) = parse::<PageQuery>("/x?after=banana").await else {
            panic!("expected a 400");
        };
        assert_eq!(why, r#"query after: "banana" is not a number"#);
        assert!(matches!(
            parse::<AckQuery>("/x?up_to=-1").await,
            Err(DsError::BadRequest(_))
        ));
        assert_eq!(parse::<AckQuery>("/x").await.unwrap().up_to, None);
    }
}
