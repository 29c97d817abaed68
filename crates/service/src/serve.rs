//! The HTTP listener of both services: HTTP/1.1 with read timeouts and a connection cap,
//! so that clients that send slowly, or not at all, cannot hold the server's connections
//! (a "slowloris"). [`ServerLimits`] says what is bounded:
//!
//! - the request line and headers must arrive within [`ServerLimits::header_read_timeout`]
//!   of the server starting to wait for them — on a new connection, and on a keep-alive
//!   connection between requests (so it is also the keep-alive idle timeout);
//! - reading the body and handling the request take at most
//!   [`ServerLimits::request_timeout`]; past it the answer is 408 `request_timeout`;
//! - a connection on which no byte moves in either direction for
//!   [`ServerLimits::idle_timeout`] is closed — an upgraded WebSocket too (the DS pings its
//!   sockets more often than that);
//! - at most [`ServerLimits::max_connections`] HTTP connections are served at once; beyond,
//!   a new connection is closed as soon as it is accepted. Upgraded WebSockets leave this
//!   count (the DS caps them on its own).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{Semaphore, watch};
use tokio::time::{Instant, Sleep};

/// How often at most the listener logs that it refuses connections.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// The read timeouts and connection cap of a service's listener (see the module).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Time to receive a request's line and headers (and the keep-alive idle time).
    pub header_read_timeout: Duration,
    /// Time to read a request's body and answer it.
    pub request_timeout: Duration,
    /// A connection with no byte read or written for this long is closed.
    pub idle_timeout: Duration,
    /// HTTP connections served at once.
    pub max_connections: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(120),
            max_connections: 1024,
        }
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown` completes, then stops
/// accepting and waits for the open requests to finish (graceful shutdown).
pub async fn serve<L>(
    mut listener: L,
    app: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    let request_timeout = limits.request_timeout;
    let app = app.layer(axum::middleware::from_fn(
        move |request: Request, next: Next| bounded(request_timeout, request, next),
    ));
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    // Dropped at shutdown: each connection then finishes its request and closes.
    let (stop_tx, stop_rx) = watch::channel(());
    // Each connection holds a receiver: all gone means all connections closed.
    let (done_tx, done_rx) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    let (mut refused, mut last_warned) = (0u64, None::<Instant>);
    loop {
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            drop(io);
            // A flood of connections must not flood the log too: one line per interval.
            refused = refused.saturating_add(1);
            let now = Instant::now();
            if last_warned.is_none_or(|at| now.duration_since(at) >= REFUSAL_LOG_INTERVAL) {
                tracing::warn!(
                    ?peer,
                    max = limits.max_connections,
                    refused,
                    "connection limit reached: closing new connections"
                );
                last_warned = Some(now);
                refused = 0;
            }
            continue;
        };
        let service = TowerToHyperService::new(app.clone());
        let (mut stop, done) = (stop_rx.clone(), done_rx.clone());
        tokio::spawn(async move {
            let io = TokioIo::new(IdleTimeout::new(io, limits.idle_timeout));
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .keep_alive(true);
            let connection = builder.serve_connection(io, service).with_upgrades();
            let mut connection = std::pin::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                _ = stop.changed() => {
                    // Shutting down: finish the request in progress, take no other.
                    connection.as_mut().graceful_shutdown();
                    connection.as_mut().await
                }
            };
            if let Err(e) = result {
                tracing::debug!(?peer, error = %e, "connection ended");
            }
            drop(permit);
            drop(done);
        });
    }
    drop(listener);
    drop(stop_tx);
    drop(done_rx);
    done_tx.closed().await;
    Ok(())
}

/// Runs a request within `limit`; 408 `request_timeout` (JSON, like every refusal) past it.
async fn bounded(limit: Duration, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => (
            axum::http::StatusCode::REQUEST_TIMEOUT,
            axum::Json(conclave_api::delivery::ErrorBody {
                error: "request_timeout".into(),
                message: format!(
                    "the request was not received and answered within {} s",
                    limit.as_secs_f64()
                ),
                current_epoch: None,
            }),
        )
            .into_response(),
    }
}

/// A connection that fails with `TimedOut` once no byte was read or written for `timeout`
/// while the server waits on it.
struct IdleTimeout<T> {
    inner: T,
    timeout: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl<T> IdleTimeout<T> {
    fn new(inner: T, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            deadline: Box::pin(tokio::time::sleep(timeout)),
        }
    }

    /// Something moved: the idle time starts again.
    fn progressed(&mut self) {
        let next = Instant::now() + self.timeout;
        self.deadline.as_mut().reset(next);
    }

    /// Waiting: an error once the connection was idle for too long.
    fn check_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection idle for too long",
            )),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for IdleTimeout<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    this.progressed();
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.check_idle(cx).map(Err),
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, data) {
            Poll::Ready(result) => {
                if matches!(result, Ok(n) if n > 0) {
                    this.progressed();
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.check_idle(cx).map(Err),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Pending => this.check_idle(cx).map(Err),
            ready => ready,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(result) => {
                if matches!(result, Ok(n) if n > 0) {
                    this.progressed();
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.check_idle(cx).map(Err),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
