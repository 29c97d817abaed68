//! Heap used to refuse adversarial UserInfo VC tokens (draft-barnes-mls-addl-creds-01 §3.2),
//! measured by a counting global allocator in its own test binary: a token over
//! `MAX_USERINFO_VC_JWT_BYTES` is refused by its length before any parsing, and a token under
//! the cap never makes validation allocate more than [`K`] bytes per token byte (the JSON
//! payload is parsed into `serde_json` values, a few times: the issuer is read before the
//! signature is checked, and the JWS library parses the claims again).
//!
//! Measured (16 KiB tokens): 25 bytes per token byte for an array of zeros, 12-13 for arrays
//! of empty arrays or objects, 11 for an object of short keys; a token over the cap costs
//! nothing of its size.
#![cfg(feature = "userinfo-vc")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use conclave_core::credential::{
    CredentialCheck, CredentialRole, IdentityProvider, IssuerKeys, MAX_USERINFO_VC_JWT_BYTES,
    UserInfoVcIdentityProvider, UserInfoVcIssuer,
};
use conclave_core::messages::{Credential, SignaturePublicKey, UserInfoVc};
use conclave_crypto::{CipherSuite, CryptoProvider, SeededRng, SignatureAlgorithm};
use conclave_crypto_rustcrypto::RustCryptoProvider;
use peak_alloc::PeakAlloc;
use serde_json::json;

#[global_allocator]
static HEAP: PeakAlloc = PeakAlloc;

/// The counter is global: the tests of this binary take turns, or one's allocations would
/// show in the other's peak.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The stated bound: peak heap of one validation, in bytes per token byte.
const K: usize = 64;
/// Fixed costs (the provider's own structures, error strings).
const SLACK: usize = 16 * 1024;
const NOW: u64 = 1_750_000_000;

struct Fixture {
    issuer: UserInfoVcIssuer,
    provider: UserInfoVcIdentityProvider,
    leaf: SignaturePublicKey,
}

fn fixture() -> Fixture {
    let cs = RustCryptoProvider
        .cipher_suite_provider(CipherSuite(1))
        .unwrap();
    let rng = &mut SeededRng::new(1);
    let (secret, public) = cs.signature_generate(rng).unwrap();
    let (_, leaf) = cs.signature_generate(rng).unwrap();
    let issuer = UserInfoVcIssuer::new(
        "https://op.example",
        "k1",
        SignatureAlgorithm::Ed25519,
        secret.as_bytes(),
        &public,
    )
    .unwrap();
    let mut keys = IssuerKeys::new();
    keys.insert_jwks_json(issuer.issuer(), issuer.jwks().to_string().as_bytes())
        .unwrap();
    Fixture {
        issuer,
        provider: UserInfoVcIdentityProvider::new(keys),
        leaf: SignaturePublicKey(leaf),
    }
}

/// Peak heap above the starting point while validating `jwt`, and whether it validated.
fn peak_of(f: &Fixture, jwt: Vec<u8>) -> (usize, bool) {
    let credential = Credential::UserInfoVc(UserInfoVc { jwt });
    HEAP.reset_peak_usage();
    let base = HEAP.current_usage();
    let ok = f
        .provider
        .validate_credential(&CredentialCheck {
            credential: &credential,
            signature_key: &f.leaf,
            signature_scheme: SignatureAlgorithm::Ed25519,
            role: CredentialRole::NewMember,
            now: NOW,
        })
        .is_ok();
    (HEAP.peak_usage().saturating_sub(base), ok)
}

/// A compact JWS of `payload` (JSON text) under a header naming the fixture's key, with a
/// junk signature.
fn token(payload: &str) -> Vec<u8> {
    let header = json!({"alg": "EdDSA", "kid": "k1"}).to_string();
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode([0u8; 64])
    )
    .into_bytes()
}

/// Payloads that are cheap on the wire and costly as JSON values, filled to just under the
/// cap.
fn adversarial_payloads() -> Vec<(&'static str, String)> {
    // base64 grows the payload by 4/3; leave room for the header and signature.
    let budget = MAX_USERINFO_VC_JWT_BYTES * 3 / 4 - 200;
    let fill = |head: &str, item: &str, tail: &str| {
        let mut s = head.to_owned();
        while s.len() + item.len() + tail.len() < budget {
            s.push_str(item);
        }
        s.push_str(tail);
        s
    };
    let mut keys = String::from(r#"{"iss":"https://op.example""#);
    let mut i = 0;
    while keys.len() < budget - 16 {
        keys.push_str(&format!(r#","{i:x}":0"#));
        i += 1;
    }
    keys.push('}');
    vec![
        (
            "empty arrays",
            fill(r#"{"iss":"https://op.example","a":["#, "[],", "[]]}"),
        ),
        (
            "empty objects",
            fill(r#"{"iss":"https://op.example","a":["#, "{},", "{}]}"),
        ),
        (
            "zeros",
            fill(r#"{"iss":"https://op.example","a":["#, "0,", "0]}"),
        ),
        ("short keys", keys),
        ("nesting", {
            let depth = 120;
            format!(
                r#"{{"iss":"https://op.example","a":{}{}}}"#,
                "[".repeat(depth),
                "]".repeat(depth)
            )
        }),
    ]
}

#[test]
fn tokens_over_the_cap_are_refused_without_allocating_their_size() {
    let _turn = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let f = fixture();
    for size in [MAX_USERINFO_VC_JWT_BYTES + 1, 1 << 20, 16 << 20] {
        let jwt = vec![b'a'; size];
        let (peak, ok) = peak_of(&f, jwt);
        assert!(!ok);
        assert!(peak < SLACK, "{size} bytes: {peak} bytes of heap");
    }
}

#[test]
fn adversarial_tokens_under_the_cap_stay_within_k_bytes_per_byte() {
    let _turn = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let f = fixture();
    for (name, payload) in adversarial_payloads() {
        let jwt = token(&payload);
        assert!(
            jwt.len() <= MAX_USERINFO_VC_JWT_BYTES,
            "{name}: {}",
            jwt.len()
        );
        let len = jwt.len();
        let (peak, ok) = peak_of(&f, jwt);
        assert!(!ok, "{name}");
        println!("{name}: {len} bytes, peak {peak} ({} per byte)", peak / len);
        assert!(peak <= K * len + SLACK, "{name}: {peak} bytes for {len}");
    }
    // A genuine token costs about as much as its size too.
    let credential = f
        .issuer
        .issue(
            SignatureAlgorithm::Ed25519,
            &f.leaf.0,
            &serde_json::Map::from_iter([("sub".to_owned(), json!("alice"))]),
            NOW - 10,
            NOW + 10,
        )
        .unwrap();
    let Credential::UserInfoVc(vc) = credential else {
        unreachable!()
    };
    let len = vc.jwt.len();
    let (peak, ok) = peak_of(&f, vc.jwt);
    assert!(ok);
    assert!(peak <= K * len + SLACK, "genuine: {peak} bytes for {len}");
}
