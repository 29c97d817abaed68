//! The WebSocket of wake-ups (`GET /v1/ws`): a [`WakeUp`] for every new log entry of a
//! group the client belongs to, so that it reads the log from its cursor instead of polling.
//! Wake-ups are hints: they may repeat, and a socket that cannot keep up is closed.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use conclave_api::delivery::WakeUp;
use tokio::sync::broadcast;

use super::{AppResult, St};
use crate::auth::WebSocketClient;
use crate::error::DsError;
use crate::state::AppState;
use crate::store::LogEvent;

/// WebSocket close code sent to a client that fell behind the wake-ups (RFC 6455 §7.4.2,
/// 1013 "try again later"): it reconnects and reads every group from its cursor.
const CLOSE_LAGGED: u16 = 1013;

/// WebSocket close code sent when the store cannot tell whether a wake-up is for the client
/// (RFC 6455 §7.4.1, 1011 "unexpected condition"): it reconnects and reads its groups.
const CLOSE_UNAVAILABLE: u16 = 1011;

/// `GET /v1/ws`: upgrades to a WebSocket of [`WakeUp`]s for the caller's groups (the token
/// may be in the query: `?token=`).
pub(crate) async fn upgrade(
    State(state): St,
    WebSocketClient(client_id): WebSocketClient,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> AppResult {
    let upgrade =
        upgrade.map_err(|e| DsError::BadRequest(format!("not a WebSocket upgrade: {e}")))?;
    let events = state.wakeups.subscribe();
    Ok(upgrade.on_upgrade(move |socket| push_wakeups(state, client_id, socket, events)))
}

/// Sends a [`WakeUp`] for every new log entry of a group the client belongs to. A socket
/// that falls behind is closed with [`CLOSE_LAGGED`] rather than silently missing wake-ups:
/// after (re)connecting, a client reads each of its groups from its cursor.
async fn push_wakeups(
    state: Arc<AppState>,
    client_id: String,
    mut socket: WebSocket,
    mut events: broadcast::Receiver<LogEvent>,
) {
    let _open = state.metrics.websocket_opened();
    let mut membership: HashMap<Vec<u8>, bool> = HashMap::new();
    loop {
        tokio::select! {
            event = events.recv() => {
                let LogEvent { group_id, seq, commit } = match event {
                    Ok(e) => e,
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(client = %client_id, missed = n,
                                       "wake-ups lagged: closing the WebSocket");
                        let close = CloseFrame {
                            code: CLOSE_LAGGED,
                            reason: "wake-ups lagged: reconnect and read from your cursors".into(),
                        };
                        let _ = socket.send(Message::Close(Some(close))).await;
                        break;
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                };
                if commit {
                    membership.remove(&group_id);
                }
                let member = match membership.get(&group_id) {
                    Some(m) => *m,
                    None => match state.store.is_member(&group_id, &client_id).await {
                        Ok(m) => {
                            membership.insert(group_id.clone(), m);
                            m
                        }
                        Err(e) => {
                            // Not knowing whether to announce: the client must re-sync.
                            tracing::warn!(error = %e, "wake-up membership check failed");
                            let close = CloseFrame {
                                code: CLOSE_UNAVAILABLE,
                                reason: "store unavailable: reconnect and read from your \
                                         cursors".into(),
                            };
                            let _ = socket.send(Message::Close(Some(close))).await;
                            break;
                        }
                    },
                };
                if !member {
                    continue;
                }
                let wake = WakeUp { group: hex::encode(&group_id), seq };
                let Ok(text) = serde_json::to_string(&wake) else { continue };
                if socket.send(Message::Text(text.into())).await.is_err() {
                    break;
                }
                state.metrics.wakeup_sent();
            }
            incoming = socket.recv() => {
                match incoming {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => {}
                }
            }
        }
    }
}
