//! The service clients under hostile servers: one that never answers, one that drips its
//! answer, and ones that send a huge body (declared or chunked). Each request fails with an
//! error that names the limit, within the configured time, without reading the body.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use conclave_api::{ApiError, AsClient, BadResponse, HttpLimits};

/// What the fake server does after reading a request.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Reads the request and says nothing.
    Silent,
    /// Sends the head of an answer, then one body byte every second.
    Drip,
    /// Declares a 1 GiB body and sends it.
    HugeDeclared,
    /// Sends an endless chunked body.
    HugeChunked,
}

/// A server on a local port behaving as `behaviour` on every connection; returns its URL.
fn server(behaviour: Behaviour) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            std::thread::spawn(move || serve(stream, behaviour));
        }
    });
    url
}

fn serve(mut stream: TcpStream, behaviour: Behaviour) {
    let mut request = [0u8; 4096];
    let _ = stream.read(&mut request);
    let megabyte = vec![b'0'; 1 << 20];
    let _ = match behaviour {
        Behaviour::Silent => {
            std::thread::sleep(Duration::from_secs(30));
            Ok(())
        }
        Behaviour::Drip => (|| {
            stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n",
            )?;
            for _ in 0..100 {
                stream.write_all(b" ")?;
                std::thread::sleep(Duration::from_secs(1));
            }
            Ok::<(), std::io::Error>(())
        })(),
        Behaviour::HugeDeclared => (|| {
            stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1073741824\r\n\r\n",
            )?;
            for _ in 0..1024 {
                stream.write_all(&megabyte)?;
            }
            Ok::<(), std::io::Error>(())
        })(),
        Behaviour::HugeChunked => (|| {
            stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
            )?;
            for _ in 0..1024 {
                stream.write_all(format!("{:x}\r\n", megabyte.len()).as_bytes())?;
                stream.write_all(&megabyte)?;
                stream.write_all(b"\r\n")?;
            }
            Ok::<(), std::io::Error>(())
        })(),
    };
}

/// Short limits, so that the tests run in seconds.
fn limits() -> HttpLimits {
    HttpLimits {
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_millis(500),
        request_timeout: Duration::from_secs(3),
        max_response: 1 << 20,
    }
}

/// Runs `root()` against a server behaving as `behaviour`; the error and the time taken.
async fn root_against(behaviour: Behaviour) -> (ApiError, Duration) {
    let client = AsClient::with_limits(&server(behaviour), limits()).unwrap();
    let start = Instant::now();
    let error = client
        .root()
        .await
        .expect_err("the server never answers well");
    (error, start.elapsed())
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_timeout_within_the_read_timeout() {
    let (error, took) = root_against(Behaviour::Silent).await;
    assert!(
        matches!(&error, ApiError::Unreachable { reason, .. } if reason.contains("timeout")),
        "{error}"
    );
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[tokio::test]
async fn a_server_that_drips_its_answer_is_a_timeout_within_the_request_timeout() {
    let (error, took) = root_against(Behaviour::Drip).await;
    assert!(error.to_string().contains("timeout"), "{error}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[tokio::test]
async fn a_declared_huge_body_is_refused_before_it_is_read() {
    let (error, took) = root_against(Behaviour::HugeDeclared).await;
    assert!(
        matches!(
            &error,
            ApiError::BadResponse {
                source: BadResponse::TooLarge { limit: 1_048_576 },
                ..
            }
        ),
        "{error}"
    );
    assert!(
        error.to_string().contains("larger than the limit"),
        "{error}"
    );
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[tokio::test]
async fn an_endless_chunked_body_is_cut_at_the_limit() {
    let (error, took) = root_against(Behaviour::HugeChunked).await;
    assert!(
        matches!(
            &error,
            ApiError::BadResponse {
                source: BadResponse::TooLarge { .. },
                ..
            }
        ),
        "{error}"
    );
    assert!(took < Duration::from_secs(3), "took {took:?}");
}
