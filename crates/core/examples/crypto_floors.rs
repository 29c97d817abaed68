//! Prints the cost of the primitives that bound the benchmark's operations from below
//! (crates/bench/README.md, "Where the time goes"): Ed25519 signing and verification,
//! SHA-256, X25519 and HPKE, on both providers, one thread.
//!
//! `cargo run --release -p conclave-core --example crypto_floors`

use std::time::{Duration, Instant};

use conclave_crypto::{CipherSuite, CryptoProvider, SeededRng};

fn per_call(calls: u32, mut f: impl FnMut()) -> Duration {
    f();
    let start = Instant::now();
    for _ in 0..calls {
        f();
    }
    start.elapsed() / calls
}

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
        let mut rng = SeededRng::new(1);
        let (secret, public) = cs.signature_generate(&mut rng)?;
        let dh_secret = [0x42u8; 32];
        let dh_public = cs.dh_public_key(&dh_secret)?;
        for len in [100usize, 1 << 20] {
            let message = vec![7u8; len];
            let calls = if len > 1000 { 20 } else { 2000 };
            let signature = cs.sign(secret.as_bytes(), &message)?;
            let sign = per_call(calls, || {
                let _ = std::hint::black_box(cs.sign(secret.as_bytes(), &message));
            });
            let verify = per_call(calls, || {
                let _ = std::hint::black_box(cs.verify(&public, &message, &signature));
            });
            let hash = per_call(calls, || {
                let _ = std::hint::black_box(cs.hash(&message));
            });
            println!(
                "{name:10} {len:>8} B: Ed25519 sign {sign:>10.1?}  verify {verify:>10.1?}  SHA-256 {hash:>10.1?}"
            );
        }
        let dh = per_call(2000, || {
            let _ = std::hint::black_box(cs.dh(&dh_secret, &dh_public));
        });
        let base = per_call(2000, || {
            let _ = std::hint::black_box(cs.dh_public_key(&dh_secret));
        });
        println!("{name:10} X25519 shared secret {dh:>10.1?}  public key {base:>10.1?}");
    }
    Ok(())
}
