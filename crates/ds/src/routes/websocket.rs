//! The WebSocket of wake-ups (`GET /v1/ws`): a [`WakeUp`] for every new log entry of a
//! group the client belongs to, so that it reads the log from its cursor instead of polling.
//! Wake-ups are hints: they may repeat, and a socket that cannot keep up is closed.
//!
//! The token comes in the upgrade's `Authorization: Bearer` header or, for browsers (which
//! cannot set it), in the first text frame as [`WebSocketAuth`] JSON — never in the URL. The
//! socket re-checks its token before every delivery and every
//! [`DsConfig::websocket_recheck`](crate::DsConfig::websocket_recheck): an expired token, one
//! revoked by a credential change, or a client revoked by the credential policy closes it
//! (close codes [`WS_CLOSE_UNAUTHORIZED`], [`WS_CLOSE_FORBIDDEN`]). Incoming messages are
//! capped at [`MAX_INCOMING`] bytes (the socket receives only control frames and the token),
//! open sockets per node and per client are capped, and the per-socket membership cache is
//! bounded ([`MembershipCache`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use conclave_api::delivery::{
    WS_CLOSE_FORBIDDEN, WS_CLOSE_TOO_MANY, WS_CLOSE_UNAUTHORIZED, WakeUp, WebSocketAuth,
};
use tokio::sync::broadcast;

use super::{AppResult, St};
use crate::auth::{Session, bearer_token, check_token};
use crate::error::DsError;
use crate::state::AppState;
use crate::store::LogEvent;

/// WebSocket close code sent to a client that fell behind the wake-ups (RFC 6455 §7.4.1,
/// 1013 "try again later"): it reconnects and reads every group from its cursor.
const CLOSE_LAGGED: u16 = 1013;

/// WebSocket close code sent when the store cannot tell whether a wake-up is for the client
/// or whether its token still holds (RFC 6455 §7.4.1, 1011 "unexpected condition"): it
/// reconnects and reads its groups.
const CLOSE_UNAVAILABLE: u16 = 1011;

/// The largest message (and frame) the DS accepts on a WebSocket, bytes: the socket carries
/// wake-ups out, and in only control frames and the first-frame token (RFC 6455 §7.4.1 1009
/// "message too big" for anything larger).
pub(crate) const MAX_INCOMING: usize = 4096;

/// Most groups whose membership a socket remembers.
const MEMBERSHIP_CACHE_MAX: usize = 1024;

/// How long a socket trusts a remembered membership, seconds (a commit announced on the
/// feed forgets it at once; this bounds staleness for anything the feed missed).
const MEMBERSHIP_CACHE_TTL: u64 = 60;

/// `GET /v1/ws`: upgrades to a WebSocket of [`WakeUp`]s for the caller's groups. The token
/// is in the `Authorization` header (checked before the upgrade: 401/403) or in the first
/// text frame. 503 when the node has [`DsConfig::max_websockets`](crate::DsConfig) open, 429
/// when the client has its share.
pub(crate) async fn upgrade(
    State(state): St,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> AppResult {
    let session = match bearer_token(&headers)? {
        Some(token) => {
            let session = check_token(&state, &token).await?;
            Some((token, session))
        }
        None => None,
    };
    let upgrade =
        upgrade.map_err(|e| DsError::BadRequest(format!("not a WebSocket upgrade: {e}")))?;
    let open = state.sockets.open(state.config.max_websockets)?;
    let client_slot = match &session {
        Some((_, s)) => Some(
            state
                .sockets
                .open_for(&s.client_id, state.config.max_websockets_per_client)?,
        ),
        None => None,
    };
    Ok(upgrade
        .max_message_size(MAX_INCOMING)
        .max_frame_size(MAX_INCOMING)
        .on_upgrade(move |socket| async move {
            let _open = open;
            run(state, session, client_slot, socket).await;
        }))
}

/// Authenticates a socket opened without a header (its first frame), then serves it.
async fn run(
    state: Arc<AppState>,
    session: Option<(String, Session)>,
    client_slot: Option<ClientSlot>,
    mut socket: WebSocket,
) {
    let (token, session, _slot) = match (session, client_slot) {
        (Some((token, session)), Some(slot)) => (token, session, slot),
        _ => {
            let Some((token, session)) = first_frame_token(&state, &mut socket).await else {
                return;
            };
            let slot = match state
                .sockets
                .open_for(&session.client_id, state.config.max_websockets_per_client)
            {
                Ok(slot) => slot,
                Err(e) => {
                    close(&mut socket, WS_CLOSE_TOO_MANY, &e.to_string()).await;
                    return;
                }
            };
            (token, session, slot)
        }
    };
    let events = state.wakeups.subscribe();
    push_wakeups(state, token, session, socket, events).await;
}

/// Waits for the first frame's [`WebSocketAuth`] and checks its token; closes the socket
/// with [`WS_CLOSE_UNAUTHORIZED`] (or [`WS_CLOSE_FORBIDDEN`]) if it does not come in time or
/// does not hold.
async fn first_frame_token(state: &AppState, socket: &mut WebSocket) -> Option<(String, Session)> {
    let deadline = tokio::time::Instant::now() + state.config.websocket_auth_timeout;
    let token = loop {
        match tokio::time::timeout_at(deadline, socket.recv()).await {
            Err(_) => {
                close(
                    socket,
                    WS_CLOSE_UNAUTHORIZED,
                    "no token: send {\"token\": …} as the first frame, or use the \
                     Authorization header",
                )
                .await;
                return None;
            }
            Ok(Some(Ok(Message::Text(text)))) => {
                match serde_json::from_str::<WebSocketAuth>(text.as_str()) {
                    Ok(auth) => break auth.token,
                    Err(_) => {
                        close(
                            socket,
                            WS_CLOSE_UNAUTHORIZED,
                            "the first frame must be {\"token\": …}",
                        )
                        .await;
                        return None;
                    }
                }
            }
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            Ok(_) => return None,
        }
    };
    match check_token(state, &token).await {
        Ok(session) => Some((token, session)),
        Err(e) => {
            refuse(socket, &e).await;
            None
        }
    }
}

/// Closes the socket with the close code of a failed token check.
async fn refuse(socket: &mut WebSocket, error: &DsError) {
    let code = match error {
        DsError::Unauthorized(_) => WS_CLOSE_UNAUTHORIZED,
        DsError::Forbidden(_) => WS_CLOSE_FORBIDDEN,
        _ => CLOSE_UNAVAILABLE,
    };
    close(socket, code, &error.to_string()).await;
}

/// Sends a close frame (its reason cut to what a control frame holds, RFC 6455 §5.5).
async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let mut end = reason.len().min(120);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let reason = reason.get(..end).unwrap_or_default();
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// Whether the socket's token still holds at `state.now()`: its expiry first (no query),
/// then the store and the policy ([`check_token`]). `Err` is the refusal to close with.
async fn still_valid(state: &AppState, token: &str, session: &Session) -> Result<(), DsError> {
    if state.now() > session.expires_at {
        return Err(DsError::Unauthorized(
            "the token expired: log in again and reconnect".into(),
        ));
    }
    let current = check_token(state, token).await?;
    if current.client_id != session.client_id {
        return Err(DsError::Unauthorized("the token changed hands".into()));
    }
    Ok(())
}

/// Sends a [`WakeUp`] for every new log entry of a group the client belongs to. A socket
/// that falls behind is closed with [`CLOSE_LAGGED`] rather than silently missing wake-ups:
/// after (re)connecting, a client reads each of its groups from its cursor. The token is
/// re-checked before every delivery and on every tick of the re-check interval (which also
/// pings the client, so that an idle socket shows it is alive).
async fn push_wakeups(
    state: Arc<AppState>,
    token: String,
    session: Session,
    mut socket: WebSocket,
    mut events: broadcast::Receiver<LogEvent>,
) {
    let _open = state.metrics.websocket_opened();
    let client_id = session.client_id.clone();
    let mut membership = MembershipCache::new(MEMBERSHIP_CACHE_MAX, MEMBERSHIP_CACHE_TTL);
    let mut recheck = tokio::time::interval(state.config.websocket_recheck);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    recheck.tick().await;
    loop {
        tokio::select! {
            event = events.recv() => {
                let LogEvent { group_id, seq, commit } = match event {
                    Ok(e) => e,
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(client = %client_id, missed = n,
                                       "wake-ups lagged: closing the WebSocket");
                        close(&mut socket, CLOSE_LAGGED,
                              "wake-ups lagged: reconnect and read from your cursors").await;
                        break;
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                };
                if commit {
                    membership.forget(&group_id);
                }
                let now = state.now();
                let member = match membership.get(&group_id, now) {
                    Some(m) => m,
                    None => match state.store.is_member(&group_id, &client_id).await {
                        Ok(m) => {
                            membership.insert(group_id.clone(), m, now);
                            m
                        }
                        Err(e) => {
                            // Not knowing whether to announce: the client must re-sync.
                            tracing::warn!(error = %e, "wake-up membership check failed");
                            close(&mut socket, CLOSE_UNAVAILABLE,
                                  "store unavailable: reconnect and read from your cursors")
                                .await;
                            break;
                        }
                    },
                };
                if !member {
                    continue;
                }
                if let Err(e) = still_valid(&state, &token, &session).await {
                    tracing::debug!(client = %client_id, error = %e, "closing the WebSocket");
                    refuse(&mut socket, &e).await;
                    break;
                }
                let wake = WakeUp { group: hex::encode(&group_id), seq };
                let Ok(text) = serde_json::to_string(&wake) else { continue };
                // Counted before it leaves, so that whoever received it sees it counted.
                state.metrics.wakeup_sent();
                if socket.send(Message::Text(text.into())).await.is_err() {
                    break;
                }
            }
            _ = recheck.tick() => {
                if let Err(e) = still_valid(&state, &token, &session).await {
                    tracing::debug!(client = %client_id, error = %e, "closing the WebSocket");
                    refuse(&mut socket, &e).await;
                    break;
                }
                if socket.send(Message::Ping(Vec::new().into())).await.is_err() {
                    break;
                }
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

/// The WebSockets open on a node: in total, and per client.
#[derive(Debug, Default)]
pub(crate) struct SocketCounts {
    total: Arc<AtomicUsize>,
    per_client: Arc<Mutex<HashMap<String, usize>>>,
}

/// One open socket in [`SocketCounts`]' total (released when dropped).
#[derive(Debug)]
pub(crate) struct OpenSocket(Arc<AtomicUsize>);

impl Drop for OpenSocket {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One of a client's open sockets in [`SocketCounts`] (released when dropped).
#[derive(Debug)]
pub(crate) struct ClientSlot {
    counts: Arc<Mutex<HashMap<String, usize>>>,
    client_id: String,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        if let Ok(mut counts) = self.counts.lock()
            && let Some(n) = counts.get_mut(&self.client_id)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.client_id);
            }
        }
    }
}

impl SocketCounts {
    /// Counts a new socket, unless `max` are open: 503.
    pub(crate) fn open(&self, max: usize) -> Result<OpenSocket, DsError> {
        let previous = self.total.fetch_add(1, Ordering::SeqCst);
        let open = OpenSocket(self.total.clone());
        if previous >= max {
            return Err(DsError::Unavailable(format!(
                "this node has its maximum of {max} WebSockets open: try again later"
            )));
        }
        Ok(open)
    }

    /// Counts a socket of `client_id`, unless it has `max` open: 429.
    pub(crate) fn open_for(&self, client_id: &str, max: usize) -> Result<ClientSlot, DsError> {
        let mut counts = self
            .per_client
            .lock()
            .map_err(|_| DsError::Internal("socket counts lock poisoned".into()))?;
        let n = counts.entry(client_id.to_owned()).or_insert(0);
        if *n >= max {
            return Err(DsError::RateLimited(format!(
                "at most {max} WebSockets per client: close one first"
            )));
        }
        *n += 1;
        Ok(ClientSlot {
            counts: self.per_client.clone(),
            client_id: client_id.to_owned(),
        })
    }
}

/// A socket's memory of which groups its client belongs to: at most `max` groups (the least
/// recently used one is forgotten first), each trusted for `ttl` seconds.
#[derive(Debug)]
pub(crate) struct MembershipCache {
    /// group → (member, checked at, last use).
    entries: HashMap<Vec<u8>, (bool, u64, u64)>,
    max: usize,
    ttl: u64,
    uses: u64,
}

impl MembershipCache {
    /// An empty cache.
    pub(crate) fn new(max: usize, ttl: u64) -> Self {
        Self {
            entries: HashMap::new(),
            max: max.max(1),
            ttl,
            uses: 0,
        }
    }

    /// The remembered membership, if checked less than `ttl` before `now`.
    pub(crate) fn get(&mut self, group: &[u8], now: u64) -> Option<bool> {
        self.uses += 1;
        let uses = self.uses;
        let ttl = self.ttl;
        match self.entries.get_mut(group) {
            Some((member, checked, used)) if now < checked.saturating_add(ttl) => {
                *used = uses;
                Some(*member)
            }
            Some(_) => {
                self.entries.remove(group);
                None
            }
            None => None,
        }
    }

    /// Remembers a membership checked at `now`, forgetting the least recently used group if
    /// the cache is full.
    pub(crate) fn insert(&mut self, group: Vec<u8>, member: bool, now: u64) {
        self.uses += 1;
        if !self.entries.contains_key(&group) && self.entries.len() >= self.max {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (_, _, used))| *used)
                .map(|(g, _)| g.clone());
            if let Some(oldest) = oldest {
                self.entries.remove(&oldest);
            }
        }
        self.entries.insert(group, (member, now, self.uses));
    }

    /// Forgets a group (its membership may have changed).
    pub(crate) fn forget(&mut self, group: &[u8]) {
        self.entries.remove(group);
    }

    /// How many groups are remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_membership_cache_stays_bounded_and_forgets_the_least_recently_used() {
        let mut cache = MembershipCache::new(3, 60);
        for g in 0u8..3 {
            cache.insert(vec![g], true, 0);
        }
        // Group 0 is used again; inserting group 3 evicts group 1, the least recent.
        assert_eq!(cache.get(&[0], 1), Some(true));
        cache.insert(vec![3], false, 1);
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get(&[1], 1), None);
        assert_eq!(cache.get(&[0], 1), Some(true));
        assert_eq!(cache.get(&[3], 1), Some(false));
        for g in 10u8..200 {
            cache.insert(vec![g], true, 2);
            assert!(cache.len() <= 3);
        }
        // Entries expire.
        assert_eq!(cache.get(&[199], 61), Some(true));
        assert_eq!(cache.get(&[199], 62), None);
        cache.insert(vec![5], true, 100);
        cache.forget(&[5]);
        assert_eq!(cache.get(&[5], 100), None);
    }

    #[test]
    fn socket_counts_cap_the_total_and_each_client_and_release_on_drop() {
        let counts = SocketCounts::default();
        let a = counts.open(2).unwrap();
        let _b = counts.open(2).unwrap();
        assert!(matches!(counts.open(2), Err(DsError::Unavailable(_))));
        drop(a);
        let _c = counts.open(2).unwrap();

        let x = counts.open_for("alice", 2).unwrap();
        let _y = counts.open_for("alice", 2).unwrap();
        assert!(matches!(
            counts.open_for("alice", 2),
            Err(DsError::RateLimited(_))
        ));
        let _z = counts.open_for("bob", 2).unwrap();
        drop(x);
        let _w = counts.open_for("alice", 2).unwrap();
    }
}
