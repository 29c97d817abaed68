//! Live mode: a sync, then the DS's WebSocket wake-ups (RFC 9750 §5: the DS tells members a
//! group has new entries), each triggering a sync; a sync also runs after an idle period,
//! and the connection is re-established when it drops.

use futures_util::StreamExt as _;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

use super::Client;
use crate::error::ClientError;

impl Client {
    /// Syncs, then follows the DS WebSocket: every wake-up triggers a sync (new messages are
    /// reported to the observer). Reconnects when the connection drops; a sync also runs
    /// every `idle` without wake-ups. Returns when `stop` completes.
    pub async fn watch(
        &mut self,
        idle: std::time::Duration,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<(), ClientError> {
        tokio::pin!(stop);
        loop {
            let target = self.ds.websocket_target().await?;
            let connection = match websocket_request(&target) {
                Ok(request) => tokio_tungstenite::connect_async(request).await,
                Err(e) => Err(e),
            };
            let mut socket = match connection {
                Ok((socket, _)) => Some(socket),
                Err(e) => {
                    tracing::warn!(error = %e, "WebSocket connection failed; polling");
                    None
                }
            };
            self.sync().await?;
            loop {
                let next = async {
                    match socket.as_mut() {
                        Some(s) => s.next().await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    () = &mut stop => return Ok(()),
                    frame = next => match frame {
                        Some(Ok(tokio_tungstenite::tungstenite::Message::Text(_))) => {
                            self.sync().await?;
                        }
                        Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_)))
                        | Some(Err(_))
                        | None => break,
                        Some(Ok(_)) => {}
                    },
                    () = tokio::time::sleep(idle) => {
                        self.sync().await?;
                        if socket.is_none() {
                            break;
                        }
                    }
                }
            }
            tokio::select! {
                () = &mut stop => return Ok(()),
                () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            }
        }
    }
}

/// The upgrade request of the DS WebSocket: the token goes in the `Authorization` header,
/// never in the URL (URLs end up in logs).
fn websocket_request(
    target: &conclave_api::ds_client::WebSocketTarget,
) -> Result<tungstenite::handshake::client::Request, tungstenite::Error> {
    let mut request = target.url.as_str().into_client_request()?;
    let value = format!("Bearer {}", target.token)
        .parse()
        .map_err(|e| tungstenite::Error::HttpFormat(tungstenite::http::Error::from(e)))?;
    request
        .headers_mut()
        .insert(tungstenite::http::header::AUTHORIZATION, value);
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_websocket_request_carries_the_token_in_a_header_and_not_in_the_url() {
        let target = conclave_api::ds_client::WebSocketTarget {
            url: "ws://127.0.0.1:9/v1/ws".into(),
            token: "secret-token".into(),
        };
        let request = websocket_request(&target).unwrap();
        assert_eq!(request.uri().to_string(), "ws://127.0.0.1:9/v1/ws");
        assert!(!request.uri().to_string().contains("secret-token"));
        assert_eq!(
            request.headers()[tungstenite::http::header::AUTHORIZATION],
            "Bearer secret-token"
        );
    }
}
