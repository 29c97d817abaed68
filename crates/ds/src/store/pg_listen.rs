//! Cross-node wake-ups of the PostgreSQL engine (RFC 9750 §5 fan-out, scale-out mode):
//! once a log append has committed, the node that made it runs `pg_notify` on [`CHANNEL`];
//! every DS process keeps one dedicated connection that `LISTEN`s on the channel and feeds
//! its local [`WakeupFeed`] — the only source of its WebSockets' wake-ups, so the node that
//! made an append announces it once, like every other node.
//!
//! The notification is sent in a transaction of its own, after the append's, rather than in
//! it: PostgreSQL serialises the commits of notifying transactions on one database-wide lock
//! held through the commit's WAL flush, which would cap every node's appends together at one
//! flush each; and a full notification queue would make appends fail. A notification can
//! then be lost (the node dies between the two, the queue is full, the listening connection
//! drops), so every [`SWEEP_INTERVAL`], and right after every reconnect, the listener also
//! asks the database which groups got entries since its previous sweep (less
//! [`SWEEP_SLACK`]) and announces those whose log advanced past what it announced. The
//! sweep doubles as the connection's health check; a failed connection is re-opened with
//! exponential backoff. Repeated wake-ups are harmless (clients read from their cursor), and
//! the listener drops those it already announced.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, Client, Config, NoTls, Notification};

use super::{LogEvent, StoreError, WakeupFeed, to_i64, to_u64};

/// The notification channel of log appends.
pub(crate) const CHANNEL: &str = "conclave_ds_log";

/// `application_name` of the listening connections (visible in `pg_stat_activity`).
pub(crate) const APPLICATION_NAME: &str = "conclave-ds wake-ups";

/// How often the listener sweeps the log for appends it was not told about.
const SWEEP_INTERVAL: Duration = Duration::from_secs(15);

/// How long a sweep may take before the connection is considered lost.
const SWEEP_TIMEOUT: Duration = Duration::from_secs(30);

/// First and largest delay between reconnection attempts.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// A sweep covers entries created up to this many seconds before the previous sweep began:
/// entries carry the appending node's clock, read when its request began, so this covers
/// clock skew between DS nodes and requests that waited.
const SWEEP_SLACK: u64 = 30;

/// Groups not announced for this many seconds are forgotten by the duplicate filter.
const FORGET_AFTER: u64 = 4 * SWEEP_SLACK;

/// The payload of a notification: `<group id hex> <seq> <c|m>` (`c`: a commit).
pub(crate) fn payload(group_id: &[u8], seq: u64, commit: bool) -> String {
    format!(
        "{} {seq} {}",
        hex::encode(group_id),
        if commit { 'c' } else { 'm' }
    )
}

/// Parses a [`payload`].
pub(crate) fn parse_payload(payload: &str) -> Option<LogEvent> {
    let mut parts = payload.split(' ');
    let group_id = hex::decode(parts.next()?).ok()?;
    let seq = parts.next()?.parse().ok()?;
    let commit = match parts.next()? {
        "c" => true,
        "m" => false,
        _ => return None,
    };
    if parts.next().is_some() || group_id.is_empty() {
        return None;
    }
    Some(LogEvent {
        group_id,
        seq,
        commit,
    })
}

/// An open listening connection: its client and the notifications its connection task
/// forwards (an error, then the end, when the connection fails).
struct Listening {
    client: Client,
    notifications: mpsc::UnboundedReceiver<Result<Notification, tokio_postgres::Error>>,
}

/// Opens a connection and `LISTEN`s on [`CHANNEL`].
async fn open(config: &Config) -> Result<Listening, StoreError> {
    let mut config = config.clone();
    config.application_name(APPLICATION_NAME);
    let (client, mut connection) = config.connect(NoTls).await?;
    let (sender, notifications) = mpsc::unbounded_channel();
    // Drives the connection; ends when it fails, or when the client is dropped.
    tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    if sender.send(Ok(n)).is_err() {
                        break;
                    }
                }
                Some(Ok(_)) => {} // notices
                Some(Err(e)) => {
                    let _ = sender.send(Err(e));
                    break;
                }
                None => break,
            }
        }
    });
    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    Ok(Listening {
        client,
        notifications,
    })
}

/// The task that owns the listening connection of one store.
pub(crate) struct Listener {
    feed: WakeupFeed,
    task: tokio::task::AbortHandle,
}

impl core::fmt::Debug for Listener {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Listener").finish_non_exhaustive()
    }
}

impl Listener {
    /// Opens the listening connection (so that, once this returns, every later commit is
    /// announced) and starts the task that serves and re-opens it.
    pub(crate) async fn start(config: Config, capacity: usize) -> Result<Self, StoreError> {
        let feed = WakeupFeed::new(capacity);
        let first = open(&config).await?;
        let task = tokio::spawn(run(config, feed.clone(), first)).abort_handle();
        Ok(Self { feed, task })
    }

    /// The feed the listener publishes to.
    pub(crate) fn feed(&self) -> &WakeupFeed {
        &self.feed
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // Dropping the task drops the client, which closes the connection.
        self.task.abort();
    }
}

/// What the listener announced: group → (newest sequence number, when, by its clock).
struct Announced {
    feed: WakeupFeed,
    seen: HashMap<Vec<u8>, (u64, u64)>,
}

impl Announced {
    /// Publishes `event` unless an entry at least as new was announced for its group
    /// (commits always go out: they tell the WebSockets that the member list changed).
    fn offer(&mut self, event: LogEvent, now: u64) {
        let newer = match self.seen.get_mut(&event.group_id) {
            Some((seq, at)) if event.seq <= *seq => {
                *at = now;
                false
            }
            Some(entry) => {
                *entry = (event.seq, now);
                true
            }
            None => {
                self.seen.insert(event.group_id.clone(), (event.seq, now));
                true
            }
        };
        if newer || event.commit {
            self.feed.publish(event);
        }
    }

    fn forget_old(&mut self, now: u64) {
        self.seen
            .retain(|_, (_, at)| now.saturating_sub(*at) <= FORGET_AFTER);
    }
}

/// Serves the listening connection, re-opens it when it fails, sweeps; forever.
async fn run(config: Config, feed: WakeupFeed, mut current: Listening) {
    let mut announced = Announced {
        feed,
        seen: HashMap::new(),
    };
    // Entries created before this were announced already (or precede the process).
    let mut covered_since = conclave_service::now_seconds();
    loop {
        serve(&mut current, &mut announced, &mut covered_since).await;
        drop(current);
        let mut delay = BACKOFF_MIN;
        current = loop {
            tokio::time::sleep(delay).await;
            let reopened = match open(&config).await {
                Ok(listening) => sweep(&listening.client, &mut announced, &mut covered_since)
                    .await
                    .map(|found| (listening, found)),
                Err(e) => Err(e),
            };
            match reopened {
                Ok((listening, found)) => {
                    tracing::info!(
                        groups = found,
                        "postgres: wake-up listener reconnected; swept the appends made meanwhile"
                    );
                    break listening;
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?delay,
                                   "postgres: wake-up listener cannot reconnect");
                    delay = (delay * 2).min(BACKOFF_MAX);
                }
            }
        };
    }
}

/// Forwards notifications and sweeps periodically until the connection fails.
async fn serve(current: &mut Listening, announced: &mut Announced, covered_since: &mut u64) {
    let mut ticker = tokio::time::interval(SWEEP_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        tokio::select! {
            message = current.notifications.recv() => match message {
                Some(Ok(n)) => match parse_payload(n.payload()) {
                    Some(event) => announced.offer(event, conclave_service::now_seconds()),
                    None => tracing::warn!(payload = n.payload(),
                                           "postgres: malformed wake-up notification"),
                },
                Some(Err(e)) => {
                    let e = StoreError::from(e);
                    tracing::warn!(error = %e, "postgres: wake-up listener connection failed");
                    return;
                }
                None => {
                    tracing::warn!("postgres: wake-up listener connection closed");
                    return;
                }
            },
            _ = ticker.tick() => {
                let swept = tokio::time::timeout(
                    SWEEP_TIMEOUT,
                    sweep(&current.client, announced, covered_since),
                )
                .await;
                match swept {
                    Ok(Ok(found)) => {
                        if found > 0 {
                            tracing::debug!(groups = found, "postgres: wake-up sweep");
                        }
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "postgres: wake-up sweep failed");
                        return;
                    }
                    Err(_) => {
                        tracing::warn!("postgres: wake-up sweep timed out");
                        return;
                    }
                }
            }
        }
    }
}

/// Announces, for every group with entries created since `covered_since` (less
/// [`SWEEP_SLACK`]), its newest entry if not announced yet (with whether a commit is among
/// them); moves `covered_since` to the start of this sweep. Returns how many groups it
/// found.
async fn sweep(
    client: &Client,
    announced: &mut Announced,
    covered_since: &mut u64,
) -> Result<usize, StoreError> {
    let started = conclave_service::now_seconds();
    let since = covered_since.saturating_sub(SWEEP_SLACK);
    let rows = client
        .query(
            "SELECT group_id, MAX(seq), BOOL_OR(content_type = 3) FROM messages
             WHERE created_at >= $1 GROUP BY group_id",
            &[&to_i64(since)?],
        )
        .await?;
    let mut found = Vec::with_capacity(rows.len());
    for r in &rows {
        found.push(LogEvent {
            group_id: r.try_get(0)?,
            seq: to_u64(r.try_get(1)?)?,
            commit: r.try_get(2)?,
        });
    }
    let count = found.len();
    for event in found {
        // A commit already announced need not go out again: only newer entries do.
        let newer = announced
            .seen
            .get(&event.group_id)
            .is_none_or(|(seq, _)| event.seq > *seq);
        if newer {
            announced.offer(event, started);
        }
    }
    announced.forget_old(started);
    *covered_since = started;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trip_and_rejects() {
        let event = parse_payload(&payload(b"group-1", 42, true)).unwrap();
        assert_eq!(
            event,
            LogEvent {
                group_id: b"group-1".to_vec(),
                seq: 42,
                commit: true
            }
        );
        assert!(
            !parse_payload(&payload(&[0xff; 255], u64::MAX, false))
                .unwrap()
                .commit
        );
        for bad in [
            "",
            "zz 1 m",
            " 1 m",
            "00 x m",
            "00 1",
            "00 1 x",
            "00 1 m extra",
            "00 -1 m",
        ] {
            assert_eq!(parse_payload(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn announced_once_unless_a_commit() {
        let feed = WakeupFeed::new(16);
        let mut heard = feed.subscribe();
        let mut announced = Announced {
            feed,
            seen: HashMap::new(),
        };
        let event = |group: &[u8], seq, commit| LogEvent {
            group_id: group.to_vec(),
            seq,
            commit,
        };
        announced.offer(event(b"g", 2, false), 100);
        announced.offer(event(b"g", 2, false), 100); // the same again (a sweep, say)
        announced.offer(event(b"g", 1, false), 100); // an older one, late
        announced.offer(event(b"h", 1, false), 100);
        announced.offer(event(b"g", 2, true), 100); // a commit always goes out
        announced.offer(event(b"g", 3, false), 100);
        for expected in [
            event(b"g", 2, false),
            event(b"h", 1, false),
            event(b"g", 2, true),
            event(b"g", 3, false),
        ] {
            assert_eq!(heard.try_recv().unwrap(), expected);
        }
        assert!(heard.try_recv().is_err());
        // Groups quiet for long are forgotten: announced again if they show up.
        announced.forget_old(100 + FORGET_AFTER + 1);
        assert!(announced.seen.is_empty());
        announced.offer(event(b"g", 3, false), 500);
        assert_eq!(heard.try_recv().unwrap(), event(b"g", 3, false));
    }
}
