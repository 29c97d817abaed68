//! Checks the key encodings against the official MLS `crypto-basics` test vectors
//! (RFC 9420 §5; file format in `test-vectors/FORMATS.md`): for every suite the provider
//! supports, the public keys of `sign_with_label.priv` and `encrypt_with_label.priv` must
//! equal the vectors' `pub`, and the vector's `SignWithLabel` signature must verify.
//!
//! The vectors are found via `MLS_TEST_VECTORS` (default: `shared/test-vectors` next to the
//! workspace); a missing file is a failure, not a skip.

// Test helpers outside `#[test]` functions: a panic here is a test failure, not a crash.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;

use conclave_crypto::{CipherSuite, CryptoProvider};
use conclave_crypto_rustcrypto::RustCryptoProvider;
use serde_json::Value;

fn vectors_dir() -> PathBuf {
    match std::env::var_os("MLS_TEST_VECTORS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/test-vectors"),
    }
}

fn load(name: &str) -> Vec<Value> {
    let path = vectors_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read test vectors {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn field(v: &Value, obj: &str, key: &str) -> Vec<u8> {
    hex::decode(
        v[obj][key]
            .as_str()
            .unwrap_or_else(|| panic!("missing {obj}.{key}")),
    )
    .unwrap()
}

/// A QUIC-style variable-length integer (RFC 9420 §2.1.2), for lengths below 2^14.
fn varint_prefixed(out: &mut Vec<u8>, data: &[u8]) {
    let len = data.len();
    if len < 0x40 {
        out.push(u8::try_from(len).unwrap());
    } else {
        assert!(len < 0x4000);
        out.extend_from_slice(&(0x4000 | u16::try_from(len).unwrap()).to_be_bytes());
    }
    out.extend_from_slice(data);
}

/// `SignContent { opaque label<V> = "MLS 1.0 " + Label; opaque content<V>; }` (RFC 9420 §5.1.2).
fn sign_content(label: &str, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    varint_prefixed(&mut out, format!("MLS 1.0 {label}").as_bytes());
    varint_prefixed(&mut out, content);
    out
}

#[test]
fn crypto_basics_key_encodings() {
    let provider = RustCryptoProvider;
    let vectors = load("crypto-basics.json");
    let mut checked = Vec::new();
    for v in &vectors {
        let id = u16::try_from(v["cipher_suite"].as_u64().unwrap()).unwrap();
        let Some(s) = provider.cipher_suite_provider(CipherSuite(id)) else {
            // Only X448 suites may be missing, and only without the `x448` feature.
            assert!(
                !cfg!(feature = "x448") && (id == 4 || id == 6),
                "suite {id} unsupported"
            );
            continue;
        };

        let sig_priv = field(v, "sign_with_label", "priv");
        let sig_pub = field(v, "sign_with_label", "pub");
        assert_eq!(
            s.signature_public_key(&sig_priv).unwrap(),
            sig_pub,
            "suite {id}"
        );

        let label = v["sign_with_label"]["label"].as_str().unwrap();
        let content = field(v, "sign_with_label", "content");
        let signature = field(v, "sign_with_label", "signature");
        let tbs = sign_content(label, &content);
        s.verify(&sig_pub, &tbs, &signature).unwrap();
        assert!(
            s.verify(&sig_pub, &tbs[1..], &signature).is_err(),
            "suite {id}"
        );
        // Our own signature over the same content verifies too.
        let ours = s.sign(&sig_priv, &tbs).unwrap();
        s.verify(&sig_pub, &tbs, &ours).unwrap();

        let dh_priv = field(v, "encrypt_with_label", "priv");
        let dh_pub = field(v, "encrypt_with_label", "pub");
        assert!(s.dh_secret_key_is_valid(&dh_priv), "suite {id}");
        assert_eq!(s.dh_public_key(&dh_priv).unwrap(), dh_pub, "suite {id}");
        checked.push(id);
    }
    let expected: Vec<u16> = if cfg!(feature = "x448") {
        vec![1, 2, 3, 4, 5, 6, 7]
    } else {
        vec![1, 2, 3, 5, 7]
    };
    checked.sort_unstable();
    assert_eq!(checked, expected);
}
