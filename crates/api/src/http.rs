//! The limits every HTTP exchange of the service clients runs under: a service that never
//! answers, answers one byte a minute or sends an endless body costs the client a bounded
//! wait and a bounded amount of memory, and the failure says which limit was hit.

use std::time::Duration;

use reqwest::Response;

use crate::{ApiError, BadResponse, Service};

/// Timeouts and the response-size limit of a service client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Longest wait for the TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// Longest wait for any read: the answer's head, or the next part of its body.
    pub read_timeout: Duration,
    /// Longest time of a whole request, from sending it to the end of the answer.
    pub request_timeout: Duration,
    /// Largest answer body read, bytes.
    pub max_response: usize,
}

impl HttpLimits {
    /// The defaults: 10 s to connect, 30 s between reads, 120 s per request, 64 MiB per
    /// answer (a page of the group log holds up to the client's page size of messages; the
    /// client asks for a smaller page when a page is over the limit).
    pub const DEFAULT: Self = Self {
        connect_timeout: Duration::from_secs(10),
        read_timeout: Duration::from_secs(30),
        request_timeout: Duration::from_secs(120),
        max_response: 64 << 20,
    };

    /// A reqwest client with these timeouts.
    pub fn client(&self) -> Result<reqwest::Client, reqwest::Error> {
        reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .read_timeout(self.read_timeout)
            .timeout(self.request_timeout)
            .build()
    }
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Most bytes of an error answer that are read (its JSON body is a code and a sentence).
pub(crate) const MAX_ERROR_BODY: usize = 64 << 10;

/// The transport failure of a request to `url`, naming the limit for a timeout.
pub(crate) fn unreachable(service: Service, url: &str, e: &reqwest::Error) -> ApiError {
    let reason = if e.is_timeout() {
        format!("no answer in time (timeout; {e})")
    } else {
        e.to_string()
    };
    ApiError::Unreachable {
        service,
        url: url.to_owned(),
        reason,
    }
}

/// The body of `response`, at most `limit` bytes: a longer one (by its `Content-Length`
/// or as it arrives) is [`BadResponse::TooLarge`], and nothing past the limit is kept.
pub(crate) async fn body(
    service: Service,
    mut response: Response,
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    let too_large = || ApiError::BadResponse {
        service,
        source: BadResponse::TooLarge { limit },
    };
    let declared = response.content_length().unwrap_or(0);
    if usize::try_from(declared).map_or(true, |d| d > limit) {
        return Err(too_large());
    }
    let url = response.url().to_string();
    let mut out = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| unreachable(service, &url, &e))?
    {
        if chunk.len() > limit.saturating_sub(out.len()) {
            return Err(too_large());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}
