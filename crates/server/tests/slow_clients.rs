//! The binaries' listeners against clients that send slowly or not at all (issue 13, hole 9):
//! with `--max-connections 20` and `--header-timeout 1` given as environment variables, 50
//! half-sent requests are closed — at once beyond the cap, the others within the header
//! timeout — and a normal request succeeds afterwards. For `conclave-ds` and `conclave-as`.

// Test code: a panic is a test failure (clippy.toml allows this in #[test] functions; the
// helpers of this file are test code too).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::{Duration, Instant};

use conclave_testkit::process::Process;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// `host:port` of a process's `http://host:port`.
fn address(process: &Process) -> String {
    process.base.strip_prefix("http://").unwrap().to_owned()
}

/// A complete GET of `path` with `Connection: close`: the status line.
async fn status_line(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut answer))
        .await
        .expect("no answer")
        .unwrap();
    answer.lines().next().unwrap_or_default().to_owned()
}

/// Whether the server closed `stream` before `deadline`.
async fn closed_before(stream: &mut TcpStream, deadline: Instant) -> bool {
    let mut buf = [0u8; 256];
    loop {
        match tokio::time::timeout_at(deadline.into(), stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// Opens 50 half-sent requests to `addr`, checks that all are closed within 4 s (the header
/// timeout is 1 s), then that `path` is served.
async fn survives_half_sent_requests(addr: &str, path: &str) {
    assert!(status_line(addr, path).await.contains("200"));
    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let _ = s
            .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n").as_bytes())
            .await;
        slow.push(s);
    }
    let deadline = Instant::now() + Duration::from_secs(4);
    let mut open = 0;
    for s in &mut slow {
        if !closed_before(s, deadline).await {
            open += 1;
        }
    }
    assert_eq!(
        open, 0,
        "{open} of 50 half-sent requests still open after 4 s"
    );
    assert!(status_line(addr, path).await.contains("200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ds_closes_half_sent_requests_and_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite:{}", dir.path().join("ds.db").display());
    let ds = Process::start(
        env!("CARGO_BIN_EXE_conclave-ds"),
        &["--listen", "127.0.0.1:0", "--database", &database],
        &[
            ("CONCLAVE_DS_MAX_CONNECTIONS", "20"),
            ("CONCLAVE_DS_HEADER_TIMEOUT", "1"),
        ],
    );
    survives_half_sent_requests(&address(&ds), "/v1/health").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_as_closes_half_sent_requests_and_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite:{}", dir.path().join("as.db").display());
    let token_file = dir.path().join("admin-token").display().to_string();
    let as_process = Process::start(
        env!("CARGO_BIN_EXE_conclave-as"),
        &[
            "--listen",
            "127.0.0.1:0",
            "--database",
            &database,
            "--admin-token-file",
            &token_file,
        ],
        &[
            ("CONCLAVE_AS_MAX_CONNECTIONS", "20"),
            ("CONCLAVE_AS_HEADER_TIMEOUT", "1"),
        ],
    );
    survives_half_sent_requests(&address(&as_process), "/v1/as/health").await;
}
