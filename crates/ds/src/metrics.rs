//! The Delivery Service's metrics, registered under `conclave_ds_` in the process's
//! [`Metrics`] registry and served at `GET /metrics` (Prometheus text format):
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `conclave_ds_http_requests_total` | counter | `route`, `method`, `status` |
//! | `conclave_ds_http_request_duration_seconds` | histogram | `route`, `method` |
//! | `conclave_ds_commits_accepted_total` | counter | |
//! | `conclave_ds_commits_refused_total` | counter | `reason`: the error code (`wrong_epoch`, `forbidden`, `bad_request`, `not_found`, …) |
//! | `conclave_ds_websocket_wakeups_total` | counter | |
//! | `conclave_ds_websockets_open` | gauge | |
//! | `conclave_ds_store_operation_duration_seconds` | histogram | `operation`: the [`Store`](crate::Store) method |
//!
//! Store latencies are measured by [`crate::store::metered::MeteredStore`], which wraps the
//! engine.

use conclave_service::metrics::{
    Counter, Family, Gauge, HttpMetrics, LatencyFamily, Metrics, latency_family,
};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::registry::Unit;

use crate::error::DsError;

/// The prefix of the DS's metric names.
pub const PREFIX: &str = "conclave_ds";

/// The label of a refused commit.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    /// The stable error code of the refusal.
    reason: &'static str,
}

/// The label of a storage operation.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct OperationLabels {
    /// The [`Store`](crate::Store) method.
    pub(crate) operation: &'static str,
}

/// The DS's metrics (cheap to clone: every clone counts into the same series).
#[derive(Clone, Debug)]
pub struct DsMetrics {
    http: HttpMetrics,
    commits_accepted: Counter,
    commits_refused: Family<RefusalLabels, Counter>,
    wakeups: Counter,
    websockets: Gauge,
    store: LatencyFamily<OperationLabels>,
}

impl DsMetrics {
    /// Registers the DS's metrics in `metrics` (once per registry).
    pub fn register(metrics: &Metrics) -> Self {
        let ds = Self {
            http: HttpMetrics::register(metrics, PREFIX),
            commits_accepted: Counter::default(),
            commits_refused: Family::default(),
            wakeups: Counter::default(),
            websockets: Gauge::default(),
            store: latency_family(),
        };
        metrics.register(PREFIX, |registry| {
            registry.register(
                "commits_accepted",
                "Commits appended to a group log (each moved its group to the next epoch)",
                ds.commits_accepted.clone(),
            );
            registry.register(
                "commits_refused",
                "Commits refused, by the error code of the refusal (wrong_epoch: another \
                 commit won the epoch)",
                ds.commits_refused.clone(),
            );
            registry.register(
                "websocket_wakeups",
                "Wake-ups sent on WebSockets",
                ds.wakeups.clone(),
            );
            registry.register(
                "websockets_open",
                "WebSockets of wake-ups open now",
                ds.websockets.clone(),
            );
            registry.register_with_unit(
                "store_operation_duration",
                "Time taken by storage operations, by operation",
                Unit::Seconds,
                ds.store.clone(),
            );
        });
        ds
    }

    /// The per-route request metrics.
    pub fn http(&self) -> &HttpMetrics {
        &self.http
    }

    /// Counts the outcome of a posted commit.
    pub(crate) fn commit_outcome<T>(&self, outcome: &Result<T, DsError>) {
        match outcome {
            Ok(_) => {
                self.commits_accepted.inc();
            }
            Err(e) => {
                let (_, reason) = e.status_and_code();
                self.commits_refused
                    .get_or_create(&RefusalLabels { reason })
                    .inc();
            }
        }
    }

    /// Counts a wake-up sent on a WebSocket.
    pub(crate) fn wakeup_sent(&self) {
        self.wakeups.inc();
    }

    /// Counts a WebSocket as open until the returned guard is dropped.
    pub(crate) fn websocket_opened(&self) -> OpenWebSocket {
        self.websockets.inc();
        OpenWebSocket(self.websockets.clone())
    }

    /// Records how long a storage operation took.
    pub(crate) fn store_operation(&self, operation: &'static str, seconds: f64) {
        self.store
            .get_or_create(&OperationLabels { operation })
            .observe(seconds);
    }
}

/// An open WebSocket, counted in `conclave_ds_websockets_open` while it lives.
#[derive(Debug)]
pub(crate) struct OpenWebSocket(Gauge);

impl Drop for OpenWebSocket {
    fn drop(&mut self) {
        self.0.dec();
    }
}
