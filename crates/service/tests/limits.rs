//! The listener's limits (`conclave_service::serve`): connections that send their request
//! slowly or not at all are closed within the header timeout, connections beyond the cap are
//! closed at once, a body that does not arrive gets 408 within the request timeout, an idle
//! connection is closed — and a normal request is served all along.

// Test code: a panic is a test failure (clippy.toml allows this in #[test] functions; the
// helpers of this file are test code too).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::{get, post};
use conclave_service::serve::{ServerLimits, serve};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// A server with `limits` on a loopback port; stops when the sender is dropped.
async fn start(limits: ServerLimits) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let app = Router::new()
        .route("/hello", get(|| async { "hello" }))
        .route("/echo", post(|body: String| async move { body }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, app, limits, async move {
        let _ = stopped.await;
    }));
    (addr, stop)
}

/// A complete GET, answered.
async fn normal_request(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut answer))
        .await
        .expect("no answer")
        .unwrap();
    answer
}

/// How long until the server closes `stream` (reads until EOF or an error), at most
/// `within`; `None` if it is still open then.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout_at((start + within).into(), stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_are_closed_and_a_normal_request_still_succeeds() {
    let limits = ServerLimits {
        header_read_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(2),
        idle_timeout: Duration::from_secs(5),
        max_connections: 20,
    };
    let (addr, _stop) = start(limits).await;
    // A few slow clients, fewer than the cap: a normal request is served meanwhile.
    let mut slow = Vec::new();
    for _ in 0..5 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        slow.push(s);
    }
    assert!(normal_request(addr).await.contains("hello"));
    // 50 half-sent requests against a cap of 20.
    for _ in 0..45 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let _ = s.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n").await;
        slow.push(s);
    }
    let started = Instant::now();
    let mut closed = Vec::new();
    for s in &mut slow {
        closed.push(closed_within(s, Duration::from_secs(4)).await);
    }
    assert!(
        closed.iter().all(Option::is_some),
        "half-sent requests still open after {:?}",
        started.elapsed()
    );
    // Those beyond the cap were closed at once, the others at the header timeout.
    let at_once = closed
        .iter()
        .filter(|c| c.is_some_and(|d| d < Duration::from_millis(500)))
        .count();
    assert!(at_once >= 25, "only {at_once} of 50 refused at once");
    assert!(started.elapsed() < Duration::from_secs(4));
    // The server serves normally again.
    assert!(normal_request(addr).await.contains("hello"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_sent_slowly_are_cut_at_the_header_timeout() {
    let limits = ServerLimits {
        header_read_timeout: Duration::from_secs(1),
        ..ServerLimits::default()
    };
    let (addr, _stop) = start(limits).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    // One header byte every 200 ms: always progressing, never done.
    let mut closed = false;
    for byte in b"GET /hello HTTP/1.1\r\nHost: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" {
        if s.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        if started.elapsed() > Duration::from_secs(3) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if !closed {
        closed = closed_within(&mut s, Duration::from_millis(100))
            .await
            .is_some();
    }
    assert!(closed, "a slowly sent header kept its connection");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_does_not_arrive_gets_408() {
    let limits = ServerLimits {
        request_timeout: Duration::from_secs(1),
        ..ServerLimits::default()
    };
    let (addr, _stop) = start(limits).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten b")
        .await
        .unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(3), s.read(&mut answer))
        .await
        .expect("no answer within the request timeout")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_is_closed() {
    let limits = ServerLimits {
        header_read_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_secs(1),
        ..ServerLimits::default()
    };
    let (addr, _stop) = start(limits).await;
    // A keep-alive connection that sends nothing after its first request.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 1024];
    let n = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("hello"));
    let closed = closed_within(&mut s, Duration::from_secs(3)).await;
    assert!(closed.is_some(), "an idle connection stayed open");
}
