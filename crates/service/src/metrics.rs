//! Metrics for operators, shared by the Delivery Service and the Authentication Service: a
//! registry per process rendered at `GET /metrics` in the Prometheus text format (version
//! 0.0.4), and an axum middleware that counts and times every request by matched route,
//! method and status.
//!
//! The crate is `prometheus-client`, the Prometheus project's own Rust client, rather than
//! `metrics` with `metrics-exporter-prometheus`: its registries are plain values instead of a
//! process-wide recorder, so each service (and each test, and each devnet in a test process)
//! counts into its own registry, and the DS and the AS served by one process share one only
//! when they are given the same [`Metrics`]. It also brings no HTTP server or push gateway of
//! its own (`/metrics` is an axum route like the others).
//!
//! Each service registers its metrics under its own prefix (`conclave_ds`, `conclave_as`);
//! a registry must not get the same prefix twice (the families would be listed twice).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::registry::Unit;

pub use prometheus_client::metrics::counter::Counter;
pub use prometheus_client::metrics::family::Family;
pub use prometheus_client::metrics::gauge::Gauge;
pub use prometheus_client::metrics::histogram::Histogram;
pub use prometheus_client::registry::Registry;

/// The path metrics are served at.
pub const METRICS_PATH: &str = "/metrics";

/// The `route` label of a request that matched no route (a 404 from the fallback): the raw
/// path is not used, so that scanners cannot grow the number of series.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The metrics registry of a process: cheap to clone, every clone is the same registry.
#[derive(Clone, Default)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
}

impl core::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The registry. A panic while it was held cannot leave it half-changed in a way that
    /// matters (registering appends to a list; encoding only reads), so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a service's metrics: `register` is given the sub-registry whose names start
    /// with `prefix_` (e.g. `conclave_ds_`).
    pub fn register<T>(&self, prefix: &str, register: impl FnOnce(&mut Registry) -> T) -> T {
        let mut registry = self.lock();
        register(registry.sub_registry_with_prefix(prefix))
    }

    /// Every metric, in the Prometheus text format (version 0.0.4).
    pub fn render(&self) -> Result<String, core::fmt::Error> {
        let mut text = String::new();
        prometheus_text::encode(&mut text, &self.lock())?;
        Ok(text)
    }

    /// A router serving [`METRICS_PATH`] (`GET`): the registry in the Prometheus text format,
    /// `Content-Type: text/plain; version=0.0.4`.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        Router::new()
            .route(METRICS_PATH, get(serve_metrics))
            .with_state(self.clone())
    }
}

/// `GET /metrics`.
pub async fn serve_metrics(State(metrics): State<Metrics>) -> Response {
    match metrics.render() {
        Ok(text) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, prometheus_text::CONTENT_TYPE)],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "encoding the metrics failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the metrics could not be encoded",
            )
                .into_response()
        }
    }
}

/// Latency buckets, seconds: 100 µs doubling to about 13 s (18 buckets), for request and
/// storage latencies alike.
pub fn latency_histogram() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.000_1, 2.0, 18,
    ))
}

/// A family of latency histograms ([`latency_histogram`] buckets) by label set `L`.
pub type LatencyFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// A new [`LatencyFamily`].
pub fn latency_family<L: Clone + core::hash::Hash + Eq>() -> LatencyFamily<L> {
    Family::new_with_constructor(latency_histogram as fn() -> Histogram)
}

/// The labels of a request count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    /// The matched route (`/v1/groups/{group}/commits`), or [`UNMATCHED_ROUTE`].
    route: String,
    /// The method (`GET`, …; `other` for extension methods).
    method: &'static str,
    /// The response status code.
    status: u16,
}

/// The labels of a request latency.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    /// The matched route, or [`UNMATCHED_ROUTE`].
    route: String,
    /// The method.
    method: &'static str,
}

/// The HTTP metrics of one service: `<prefix>_http_requests_total{route, method, status}`
/// and `<prefix>_http_request_duration_seconds{route, method}` (until the response head is
/// ready; a WebSocket's lifetime is not included).
#[derive(Clone, Debug)]
pub struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    duration: LatencyFamily<RouteLabels>,
}

impl HttpMetrics {
    /// Registers the HTTP metrics of the service whose metrics start with `prefix`.
    pub fn register(metrics: &Metrics, prefix: &str) -> Self {
        let http = Self {
            requests: Family::default(),
            duration: latency_family(),
        };
        metrics.register(prefix, |registry| {
            registry.register(
                "http_requests",
                "HTTP requests answered, by matched route, method and status",
                http.requests.clone(),
            );
            registry.register_with_unit(
                "http_request_duration",
                "Time to answer an HTTP request, by matched route and method",
                Unit::Seconds,
                http.duration.clone(),
            );
        });
        http
    }

    /// `router` with every request counted and timed (the routes and the fallback it has
    /// now; add this last).
    pub fn instrument<S: Clone + Send + Sync + 'static>(&self, router: Router<S>) -> Router<S> {
        router.layer(axum::middleware::from_fn_with_state(self.clone(), track))
    }
}

/// The `method` label: the standard methods by name, anything else as `other` (bounded).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// The middleware of [`HttpMetrics::instrument`].
async fn track(State(http): State<HttpMetrics>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| UNMATCHED_ROUTE.to_owned(), |p| p.as_str().to_owned());
    let method = method_label(request.method());
    let start = Instant::now();
    let response = next.run(request).await;
    let elapsed = start.elapsed().as_secs_f64();
    http.duration
        .get_or_create(&RouteLabels {
            route: route.clone(),
            method,
        })
        .observe(elapsed);
    http.requests
        .get_or_create(&RequestLabels {
            route,
            method,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use axum::body::Body;
    use tower::ServiceExt as _;

    async fn call(app: &Router, method: Method, uri: &str) -> (StatusCode, String) {
        let response = app
            .clone()
            .oneshot(
                Request::builder()
                    .method(method)
                    .uri(uri)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn requests_are_counted_by_matched_route_method_and_status() {
        let metrics = Metrics::new();
        let http = HttpMetrics::register(&metrics, "svc");
        let app: Router = http
            .instrument(
                Router::new()
                    .route("/items/{id}", get(|| async { "ok" }))
                    .fallback(|| async { StatusCode::NOT_FOUND }),
            )
            .merge(metrics.router());
        assert_eq!(call(&app, Method::GET, "/items/1").await.0, StatusCode::OK);
        assert_eq!(call(&app, Method::GET, "/items/2").await.0, StatusCode::OK);
        assert_eq!(
            call(&app, Method::POST, "/items/3").await.0,
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(
            call(&app, Method::GET, "/nowhere/9").await.0,
            StatusCode::NOT_FOUND
        );
        let (status, text) = call(&app, Method::GET, METRICS_PATH).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            text.contains(
                r#"svc_http_requests_total{route="/items/{id}",method="GET",status="200"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"svc_http_requests_total{route="/items/{id}",method="POST",status="405"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"svc_http_requests_total{route="unmatched",method="GET",status="404"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"svc_http_request_duration_seconds_count{route="/items/{id}",method="GET"} 2"#
            ),
            "{text}"
        );
        // The raw paths of unmatched requests are not labels.
        assert!(!text.contains("/nowhere"), "{text}");
    }

    #[tokio::test]
    async fn metrics_are_served_in_the_prometheus_text_format() {
        let metrics = Metrics::new();
        let counter = metrics.register("svc", |registry| {
            let counter = Counter::<u64>::default();
            registry.register("things", "Things done", counter.clone());
            counter
        });
        counter.inc();
        let app: Router = metrics.router();
        let response = app
            .oneshot(
                Request::builder()
                    .uri(METRICS_PATH)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/plain; version=0.0.4; charset=utf-8"
        );
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(text.contains("# TYPE svc_things_total counter"), "{text}");
        assert!(text.contains("\nsvc_things_total 1\n"), "{text}");
    }

    #[test]
    fn extension_methods_share_one_label() {
        let custom = Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_label(&custom), "other");
        assert_eq!(method_label(&Method::DELETE), "DELETE");
    }
}
