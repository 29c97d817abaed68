//! Properties of the labelled functions of `conclave_crypto::labels` (RFC 9420 §5, §7.4),
//! for every suite. The official `crypto-basics.json` vectors run in `conclave-vectors`.

// A test crate: helper functions outside `#[test]` may panic on a failed expectation.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use conclave_crypto::{CipherSuite, labels};

#[test]
fn reference_helpers_use_their_labels() {
    let cs = common::suite_provider(1).unwrap();
    let cs = cs.as_ref();
    let value = b"some encoded object";
    assert_eq!(
        labels::make_key_package_ref(cs, value).unwrap(),
        labels::ref_hash(cs, "MLS 1.0 KeyPackage Reference", value).unwrap()
    );
    assert_eq!(
        labels::make_proposal_ref(cs, value).unwrap(),
        labels::ref_hash(cs, "MLS 1.0 Proposal Reference", value).unwrap()
    );
    // RefHashInput = { opaque label<V>; opaque value<V>; } hashed with the suite's hash.
    let mut input = vec![5];
    input.extend_from_slice(b"Label");
    input.push(2);
    input.extend_from_slice(&[0xaa, 0xbb]);
    assert_eq!(
        labels::ref_hash(cs, "Label", &[0xaa, 0xbb]).unwrap(),
        cs.hash(&input)
    );
}

#[test]
fn derive_secret_and_tree_secret_are_expand_with_label() {
    for suite in CipherSuite::ALL {
        let cs = common::suite_provider(suite.0).unwrap();
        let cs = cs.as_ref();
        let secret = vec![0x42; cs.hash_len()];
        assert_eq!(
            labels::derive_secret(cs, &secret, "epoch").unwrap(),
            labels::expand_with_label(cs, &secret, "epoch", &[], cs.hash_len()).unwrap()
        );
        assert_eq!(
            labels::derive_tree_secret(cs, &secret, "key", 0x0102_0304, 16).unwrap(),
            labels::expand_with_label(cs, &secret, "key", &[1, 2, 3, 4], 16).unwrap()
        );
        assert!(labels::expand_with_label(cs, &secret, "x", &[], 70_000).is_err());
    }
}

#[test]
fn node_key_pair_from_path_secret_follows_rfc9420_7_4() {
    for suite in CipherSuite::ALL {
        let cs = common::suite_provider(suite.0).unwrap();
        let cs = cs.as_ref();
        let path_secret = vec![0x17; cs.hash_len()];
        let node_secret = labels::derive_secret(cs, &path_secret, "node").unwrap();
        let expected = labels::derive_key_pair(cs, node_secret.as_bytes()).unwrap();
        let kp = labels::node_key_pair_from_path_secret(cs, &path_secret).unwrap();
        assert_eq!(kp, expected);
        assert_eq!(
            kp.public_key,
            cs.dh_public_key(kp.secret_key.as_bytes()).unwrap()
        );
    }
}

#[test]
fn encrypt_with_label_rejects_tampering() {
    let mut rng = common::TestRng::new(99);
    for suite in CipherSuite::ALL {
        let cs = common::suite_provider(suite.0).unwrap();
        let cs = cs.as_ref();
        let kp = conclave_crypto::hpke::generate_key_pair(cs, &mut rng).unwrap();
        let ct =
            labels::encrypt_with_label(cs, &kp.public_key, "Welcome", b"ctx", b"secret", &mut rng)
                .unwrap();
        let sk = kp.secret_key.as_bytes();
        let ok =
            labels::decrypt_with_label(cs, sk, "Welcome", b"ctx", &ct.kem_output, &ct.ciphertext);
        assert_eq!(ok.unwrap().as_bytes(), b"secret");
        let bad_ctx =
            labels::decrypt_with_label(cs, sk, "Welcome", b"ctX", &ct.kem_output, &ct.ciphertext);
        assert!(bad_ctx.is_err());
        let mut bad = ct.ciphertext.clone();
        bad[0] ^= 0x80;
        assert!(
            labels::decrypt_with_label(cs, sk, "Welcome", b"ctx", &ct.kem_output, &bad).is_err()
        );
        // A truncated KEM output is an error, not a panic.
        let short = &ct.kem_output[..ct.kem_output.len() - 1];
        assert!(
            labels::decrypt_with_label(cs, sk, "Welcome", b"ctx", short, &ct.ciphertext).is_err()
        );
    }
}

#[test]
fn prepared_encrypt_context_matches_plain_encryption() {
    let mut rng = common::TestRng::new(5);
    for suite in CipherSuite::ALL {
        let cs = common::suite_provider(suite.0).unwrap();
        let cs = cs.as_ref();
        let kp = conclave_crypto::hpke::generate_key_pair(cs, &mut rng).unwrap();
        let context = vec![0x5a; 4096];
        let prepared = labels::prepare_encrypt_context(cs, "Welcome", &context).unwrap();
        let ct = labels::encrypt_with_label_prepared(
            cs,
            &kp.public_key,
            &prepared,
            b"secrets",
            &mut rng,
        )
        .unwrap();
        let sk = kp.secret_key.as_bytes();
        let pt =
            labels::decrypt_with_label(cs, sk, "Welcome", &context, &ct.kem_output, &ct.ciphertext)
                .unwrap();
        assert_eq!(pt.as_bytes(), b"secrets");
        // Another context does not decrypt it.
        assert!(
            labels::decrypt_with_label(cs, sk, "Welcome", b"x", &ct.kem_output, &ct.ciphertext)
                .is_err()
        );
    }
}
