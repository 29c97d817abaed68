//! `conclave-interop --port <N>`: serves `mls_client.MLSClient` (the mlswg interop harness's
//! gRPC service) on 127.0.0.1:<N>.

use std::net::{Ipv4Addr, SocketAddr};

use anyhow::{Context, bail};
use conclave_interop::proto::mls_client_server::MlsClientServer;
use conclave_interop::server::InteropServer;

fn parse_port() -> anyhow::Result<u16> {
    let mut args = std::env::args().skip(1);
    let mut port = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                let value = args.next().context("--port needs a value")?;
                port = Some(value.parse::<u16>().context("--port must be a number")?);
            }
            other => {
                if let Some(value) = other.strip_prefix("--port=") {
                    port = Some(value.parse::<u16>().context("--port must be a number")?);
                } else {
                    bail!("usage: conclave-interop --port <N> (unknown argument {other:?})");
                }
            }
        }
    }
    port.context("usage: conclave-interop --port <N>")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port = parse_port()?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    // Announce readiness on stdout so that whoever started us can wait for it.
    println!("conclave-interop listening on {}", listener.local_addr()?);
    tonic::transport::Server::builder()
        .add_service(MlsClientServer::new(InteropServer::new()))
        .serve_with_incoming(tokio_stream_incoming(listener))
        .await
        .context("serving")?;
    Ok(())
}

/// The accepted connections of `listener` as the stream tonic serves.
fn tokio_stream_incoming(
    listener: tokio::net::TcpListener,
) -> tonic::transport::server::TcpIncoming {
    tonic::transport::server::TcpIncoming::from(listener)
}
