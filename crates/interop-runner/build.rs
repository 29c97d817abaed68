//! Generates the gRPC client of `mls_client.MLSClient` from the interface file of
//! `conclave-interop` (parsed by `protox`, no `protoc` needed). The runner shares only this
//! interface with the server, as the harness's own runner does.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = "../interop/proto";
    let proto = "../interop/proto/mls_client.proto";
    println!("cargo:rerun-if-changed={proto}");
    let fds = protox::compile([proto], [dir])?;
    tonic_prost_build::configure()
        .build_server(false)
        .build_client(true)
        .compile_fds(fds)?;
    Ok(())
}
