//! `DeriveSignatureKeyPair` (`conclave_crypto::signature_derive`) in all seven suites of
//! RFC 9420 §17.1, Ed448 included: deterministic, keyed by the secret, and a key pair that
//! signs and verifies. The comparison of both backends is in `conclave-core`'s member-proof
//! tests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// The shared helpers include a random source this file does not need.
#[allow(unused_imports)]
mod common;

use conclave_crypto::signature_derive::derive_signature_key_pair;

#[test]
fn every_suite_derives_a_deterministic_working_signature_key_pair() {
    for suite in 1..=7u16 {
        let cs = common::suite_provider(suite).unwrap();
        let cs = cs.as_ref();
        let secret = vec![0x42; cs.hash_len()];
        let (sk, pk) = derive_signature_key_pair(cs, &secret).unwrap();
        let (sk2, pk2) = derive_signature_key_pair(cs, &secret).unwrap();
        assert_eq!(
            (sk.as_bytes(), &pk),
            (sk2.as_bytes(), &pk2),
            "suite {suite}"
        );
        let (_, other) = derive_signature_key_pair(cs, &vec![0x43; cs.hash_len()]).unwrap();
        assert_ne!(pk, other, "suite {suite}");
        assert_eq!(cs.signature_public_key(sk.as_bytes()).unwrap(), pk);
        let signature = cs.sign(sk.as_bytes(), b"message").unwrap();
        cs.verify(&pk, b"message", &signature).unwrap();
    }
}

#[test]
fn the_curve_orders_match_what_the_backend_accepts_as_an_ecdsa_scalar() {
    // n - 1 is a valid secret key, n is not: the constants are the curves' orders.
    for (suite, order_hex) in [
        (
            2u16,
            "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551",
        ),
        (
            7,
            "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
        ),
        (
            5,
            "01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409",
        ),
    ] {
        let cs = common::suite_provider(suite).unwrap();
        let order = hex::decode(order_hex).unwrap();
        let mut below = order.clone();
        *below.last_mut().unwrap() -= 1;
        assert!(cs.signature_public_key(&below).is_ok(), "suite {suite}");
        assert!(cs.signature_public_key(&order).is_err(), "suite {suite}");
    }
}

/// ML-DSA (draft-ietf-mls-pq-ciphersuites TBD9–TBD11): the secret key is the 32-byte seed
/// `ExpandWithLabel(secret, "derive signature key", [0], 32)`, expanded by FIPS 204
/// `ML-DSA.KeyGen_internal`.
#[test]
fn the_ml_dsa_suites_derive_the_seed_by_expand_with_label() {
    use conclave_crypto::labels::expand_with_label;
    use conclave_crypto::{CipherSuite, CryptoProvider};
    for suite in [
        CipherSuite::MLS_128_MLKEM768X25519_CHACHA20POLY1305_SHA384_MLDSA44,
        CipherSuite::MLS_192_MLKEM768_AES256GCM_SHA384_MLDSA65,
        CipherSuite::MLS_256_MLKEM1024_AES256GCM_SHA384_MLDSA87,
    ] {
        let cs = conclave_crypto_rustcrypto::RustCryptoProvider
            .cipher_suite_provider(suite)
            .unwrap();
        let cs = cs.as_ref();
        let secret = vec![0x42; cs.hash_len()];
        let (sk, pk) = derive_signature_key_pair(cs, &secret).unwrap();
        let expected = expand_with_label(cs, &secret, "derive signature key", &[0], 32).unwrap();
        assert_eq!(sk.as_bytes(), expected.as_bytes(), "{suite:?}");
        assert_eq!(
            pk.len(),
            cs.signature().ml_dsa_lengths().unwrap().0,
            "{suite:?}"
        );
        let signature = cs.sign(sk.as_bytes(), b"message").unwrap();
        cs.verify(&pk, b"message", &signature).unwrap();
    }
}
