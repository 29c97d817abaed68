//! Prints the cost of the primitives that bound the benchmark's operations from below
//! (crates/bench/README.md, "Floors"): signatures alone and batched, hashing, MAC, AEAD,
//! HKDF, DH and HPKE of suite 1, on both providers, one thread. `conclave-bench` measures
//! the same way (`conclave_bench::floors::PrimitiveBench::measure`) right before each
//! Conclave operation and prices that operation's floor with it.
//!
//! `cargo run --release -p conclave-bench --example crypto_floors`

#![forbid(unsafe_code)]

use conclave_bench::floors::Primitives;
use conclave_crypto::{CipherSuite, CryptoProvider};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let providers: [(&str, Box<dyn CryptoProvider>); 2] = [
        ("aws-lc-rs", Box::new(conclave_crypto_awslc::AwsLcProvider)),
        (
            "rustcrypto",
            Box::new(conclave_crypto_rustcrypto::RustCryptoProvider),
        ),
    ];
    for (name, provider) in providers {
        let cs = provider
            .cipher_suite_provider(CipherSuite(1))
            .ok_or("suite 1")?;
        let primitives = Primitives::measure(cs.as_ref())?;
        println!("{name}, suite 1, one thread:");
        for line in primitives.describe() {
            println!("  {line}");
        }
    }
    Ok(())
}
