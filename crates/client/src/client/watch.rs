//! Live mode: a sync, then the DS's WebSocket wake-ups (RFC 9750 §5: the DS tells members a
//! group has new entries), each triggering a sync; a sync also runs after an idle period,
//! and the connection is re-established when it drops.

use futures_util::StreamExt as _;

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
            let url = self.ds.websocket_url().await?;
            let connection = tokio_tungstenite::connect_async(url.as_str()).await;
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
