//! Unit tests: known answers (RFC 7748, RFC 8032, RFC 5869, FIPS 180-2, RFC 9180 Appendix B),
//! round trips for every supported suite, tamper rejection and no-panic on bad inputs.

// Test data generators truncate indices to bytes on purpose.
#![allow(clippy::cast_possible_truncation)]

use super::*;
use conclave_crypto::{CryptoError, CryptoRandom, KemAlgorithm};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn suite(id: u16) -> Box<dyn CipherSuiteProvider> {
    AwsLcProvider
        .cipher_suite_provider(CipherSuite(id))
        .unwrap()
}

/// The RFC 9420 suites (the post-quantum ones are tested through HPKE in
/// `tests/cross_check.rs` and by the conformance vectors).
fn all_suites() -> Vec<Box<dyn CipherSuiteProvider>> {
    AwsLcProvider
        .supported_cipher_suites()
        .into_iter()
        .filter(|cs| !cs.is_post_quantum())
        .map(|cs| AwsLcProvider.cipher_suite_provider(cs).unwrap())
        .collect()
}

/// A deterministic random source: SHA-256 in counter mode over a seed (test use only).
struct TestRng {
    seed: u64,
    counter: u64,
}

impl TestRng {
    fn new(seed: u64) -> Self {
        Self { seed, counter: 0 }
    }
}

impl CryptoRandom for TestRng {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), CryptoError> {
        let sha = suite(1);
        for chunk in dest.chunks_mut(32) {
            let mut input = self.seed.to_be_bytes().to_vec();
            input.extend_from_slice(&self.counter.to_be_bytes());
            self.counter += 1;
            let block = sha.hash(&input);
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
        Ok(())
    }
}

/// A random source that always fails.
struct FailingRng;

impl CryptoRandom for FailingRng {
    fn fill(&mut self, _dest: &mut [u8]) -> Result<(), CryptoError> {
        Err(CryptoError::RandomFailed)
    }
}

/// A random source that returns only 0xff bytes (never a valid NIST scalar).
struct AllOnesRng;

impl CryptoRandom for AllOnesRng {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), CryptoError> {
        dest.fill(0xff);
        Ok(())
    }
}

#[test]
fn provider_metadata() {
    let p = AwsLcProvider;
    assert_eq!(p.name(), "aws-lc-rs");
    let ids: Vec<u16> = p.supported_cipher_suites().iter().map(|c| c.0).collect();
    let mut expected = vec![1, 2, 3, 5, 7];
    expected.extend(CipherSuite::PQ.iter().map(|c| c.0));
    assert_eq!(ids, expected);
    for id in [8u16, 9, 10] {
        assert!(
            p.cipher_suite_provider(CipherSuite(id)).is_some(),
            "MLSpp suite {id}"
        );
    }
    for id in [0u16, 4, 6, 11, 0x0a0a, 0xffff] {
        assert!(
            p.cipher_suite_provider(CipherSuite(id)).is_none(),
            "suite {id}"
        );
    }
    for cs in p.supported_cipher_suites() {
        let s = p.cipher_suite_provider(cs).unwrap();
        let (kem, kdf, aead, sig) = cs.algorithms().unwrap();
        assert_eq!(s.cipher_suite(), cs);
        assert_eq!(
            (s.kem(), s.kdf(), s.aead(), s.signature()),
            (kem, kdf, aead, sig)
        );
        assert_eq!(s.hash_len(), kdf.hash_len());
        assert_eq!(s.aead_key_len(), aead.key_len());
        assert_eq!(s.aead_nonce_len(), 12);
    }
}

// ---- known answers -----------------------------------------------------------------------

#[test]
fn sha256_abc() {
    assert_eq!(
        suite(1).hash(b"abc"),
        h("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
}

#[test]
fn sha384_and_sha512_abc() {
    assert_eq!(
        suite(7).hash(b"abc"),
        h(
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed\
           8086072ba1e7cc2358baeca134c825a7"
        )
    );
    assert_eq!(
        suite(5).hash(b"abc"),
        h(
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
           2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        )
    );
}

#[test]
fn hkdf_rfc5869_case_1() {
    let s = suite(1);
    let ikm = [0x0bu8; 22];
    let salt = h("000102030405060708090a0b0c");
    let info = h("f0f1f2f3f4f5f6f7f8f9");
    let prk = s.kdf_extract(&salt, &ikm);
    assert_eq!(
        prk.as_bytes(),
        h("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5")
    );
    let okm = s.kdf_expand(prk.as_bytes(), &info, 42).unwrap();
    assert_eq!(
        okm.as_bytes(),
        h(
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf\
           34007208d5b887185865"
        )
    );
    // The MAC is HMAC with the same hash: HKDF-Extract(salt, ikm) = HMAC(salt, ikm).
    assert_eq!(s.mac(&salt, &ikm), prk.as_bytes());
}

#[test]
fn hkdf_expand_limits() {
    for s in all_suites() {
        let nh = s.hash_len();
        let prk = vec![7u8; nh];
        assert_eq!(
            s.kdf_expand(&prk, b"info", 255 * nh).unwrap().len(),
            255 * nh
        );
        assert_eq!(s.kdf_expand(&prk, b"", 0).unwrap().len(), 0);
        assert!(matches!(
            s.kdf_expand(&prk, b"info", 255 * nh + 1),
            Err(CryptoError::InvalidLength { .. })
        ));
        assert!(s.kdf_expand(&prk, b"info", usize::MAX).is_err());
        assert!(s.kdf_expand(&prk[..nh - 1], b"info", 16).is_err());
        assert!(s.kdf_expand(&[], b"info", 16).is_err());
    }
}

/// PRKs longer than 64 bytes take the HMAC-based path; it must agree with the aws-lc HKDF
/// path on the first blocks (both are RFC 5869 HKDF-Expand over the same HMAC key). We
/// check consistency through HMAC: T(1) = HMAC(prk, info || 0x01),
/// T(2) = HMAC(prk, T(1) || info || 0x02).
#[test]
fn hkdf_expand_long_prk() {
    for s in all_suites() {
        let nh = s.hash_len();
        for prk_len in [nh, 64, 65, 200] {
            if prk_len < nh {
                continue;
            }
            let prk: Vec<u8> = (0..prk_len).map(|i| i as u8).collect();
            let okm = s.kdf_expand(&prk, b"ctx", 2 * nh + 5).unwrap();
            let t1 = s.mac(&prk, b"ctx\x01");
            let mut in2 = t1.clone();
            in2.extend_from_slice(b"ctx\x02");
            let t2 = s.mac(&prk, &in2);
            let mut in3 = t2.clone();
            in3.extend_from_slice(b"ctx\x03");
            let t3 = s.mac(&prk, &in3);
            let mut expect = t1;
            expect.extend_from_slice(&t2);
            expect.extend_from_slice(&t3[..5]);
            assert_eq!(
                okm.as_bytes(),
                expect,
                "suite {:?} prk_len {prk_len}",
                s.cipher_suite()
            );
        }
    }
}

#[test]
fn kdf_extract_empty_salt_is_zero_salt() {
    for s in all_suites() {
        let zero = vec![0u8; s.hash_len()];
        assert_eq!(s.kdf_extract(&[], b"ikm"), s.kdf_extract(&zero, b"ikm"));
        assert_eq!(s.kdf_extract(b"salt", b"ikm").len(), s.hash_len());
    }
}

#[test]
fn x25519_rfc7748_scalar_mult() {
    let s = suite(1);
    let shared = s
        .dh(
            &h("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
            &h("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"),
        )
        .unwrap();
    assert_eq!(
        shared.as_bytes(),
        h("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552")
    );
}

#[test]
fn x25519_rfc7748_diffie_hellman() {
    let s = suite(3);
    let a_sk = h("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    let a_pk = h("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    let b_sk = h("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    let b_pk = h("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    let k = h("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    assert_eq!(s.dh_public_key(&a_sk).unwrap(), a_pk);
    assert_eq!(s.dh_public_key(&b_sk).unwrap(), b_pk);
    assert_eq!(s.dh(&a_sk, &b_pk).unwrap().as_bytes(), k);
    assert_eq!(s.dh(&b_sk, &a_pk).unwrap().as_bytes(), k);
}

#[test]
fn x25519_rejects_low_order_points() {
    let s = suite(1);
    let sk = [0x42u8; 32];
    // u = 0 and u = 1 are of small order: the shared secret is all zero (RFC 7748 §6.1).
    let mut one = [0u8; 32];
    one[0] = 1;
    for pk in [[0u8; 32], one] {
        assert!(matches!(s.dh(&sk, &pk), Err(CryptoError::DhFailed(_))));
    }
}

#[test]
fn ed25519_rfc8032_test_1() {
    let s = suite(1);
    let sk = h("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
    let pk = h("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    let sig = h(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bac\
                 c61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    );
    assert_eq!(s.signature_public_key(&sk).unwrap(), pk);
    assert_eq!(s.sign(&sk, b"").unwrap(), sig);
    s.verify(&pk, b"", &sig).unwrap();
    assert_eq!(
        s.verify(&pk, b"x", &sig),
        Err(CryptoError::InvalidSignature)
    );
}

/// RFC 9180 Appendix B.3.1 (P-256) and B.6.1 (P-521): public keys of the listed secret keys.
#[test]
fn nist_public_keys_rfc9180_appendix_b() {
    let p256 = suite(2);
    assert_eq!(
        p256.dh_public_key(&h(
            "4995788ef4b9d6132b249ce59a77281493eb39af373d236a1fe415cb0c2d7beb"
        ))
        .unwrap(),
        h(
            "04a92719c6195d5085104f469a8b9814d5838ff72b60501e2c4466e5e67b325ac98536d7b61a1af4b78e5b7f\
           951c0900be863c403ce65c9bfcb9382657222d18c4"
        )
    );
    let p521 = suite(5);
    let sk_e = h(
        "014784c692da35df6ecde98ee43ac425dbdd0969c0c72b42f2e708ab9d535415a8569bdacfcc0a114c85\
                  b8e3f26acf4d68115f8c91a66178cdbd03b7bcc5291e374b",
    );
    let pk_e = h(
        "040138b385ca16bb0d5fa0c0665fbbd7e69e3ee29f63991d3e9b5fa740aab8900aaeed46ed73a4905575\
                  8425a0ce36507c54b29cc5b85a5cee6bae0cf1c21f2731ece2013dc3fb7c8d21654bb161b463962ca1\
                  9e8c654ff24c94dd2898de12051f1ed0692237fb02b2f8d1dc1c73e9b366b529eb436e98a996ee522ae\
                  f863dd5739d2f29b0",
    );
    let sk_r = h(
        "01462680369ae375e4b3791070a7458ed527842f6a98a79ff5e0d4cbde83c27196a3916956655523a6a2\
                  556a7af62c5cadabe2ef9da3760bb21e005202f7b2462847",
    );
    let pk_r = h(
        "0401b45498c1714e2dce167d3caf162e45e0642afc7ed435df7902ccae0e84ba0f7d373f646b7738bbbd\
                  ca11ed91bdeae3cdcba3301f2457be452f271fa6837580e661012af49583a62e48d44bed350c7118c0\
                  d8dc861c238c72a2bda17f64704f464b57338e7f40b60959480c0e58e6559b190d81663ed816e523b6b\
                  6a418f66d2451ec64",
    );
    assert_eq!(p521.dh_public_key(&sk_e).unwrap(), pk_e);
    assert_eq!(p521.dh_public_key(&sk_r).unwrap(), pk_r);
    let z1 = p521.dh(&sk_e, &pk_r).unwrap();
    assert_eq!(z1, p521.dh(&sk_r, &pk_e).unwrap());
    assert_eq!(z1.len(), 66);
}

// ---- round trips for every suite ---------------------------------------------------------

#[test]
fn aead_round_trip_and_tamper() {
    for s in all_suites() {
        let key: Vec<u8> = (0..s.aead_key_len() as u8).collect();
        let nonce = [9u8; 12];
        for pt_len in [0usize, 1, 15, 16, 17, 1000] {
            let pt: Vec<u8> = (0..pt_len).map(|i| (i * 7) as u8).collect();
            let ct = s.aead_seal(&key, &nonce, b"aad", &pt).unwrap();
            assert_eq!(ct.len(), pt_len + 16);
            assert_eq!(
                s.aead_open(&key, &nonce, b"aad", &ct).unwrap().as_bytes(),
                pt
            );
            // Every single-bit flip, wrong AAD, wrong nonce, wrong key is rejected.
            for i in [0, ct.len() / 2, ct.len() - 1] {
                let mut bad = ct.clone();
                bad[i] ^= 0x01;
                assert_eq!(
                    s.aead_open(&key, &nonce, b"aad", &bad),
                    Err(CryptoError::AeadOpenFailed)
                );
            }
            assert_eq!(
                s.aead_open(&key, &nonce, b"aaX", &ct),
                Err(CryptoError::AeadOpenFailed)
            );
            assert_eq!(
                s.aead_open(&key, &[8u8; 12], b"aad", &ct),
                Err(CryptoError::AeadOpenFailed)
            );
            let mut key2 = key.clone();
            key2[0] ^= 1;
            assert_eq!(
                s.aead_open(&key2, &nonce, b"aad", &ct),
                Err(CryptoError::AeadOpenFailed)
            );
            assert_eq!(
                s.aead_open(&key, &nonce, b"aad", &ct[..ct.len() - 1]),
                Err(CryptoError::AeadOpenFailed)
            );
        }
    }
}

/// AES-128-GCM test case 2 of the GCM specification (McGrew–Viega): zero key, zero
/// 96-bit IV, one zero block.
#[test]
fn aes128gcm_known_answer() {
    let ct = suite(1)
        .aead_seal(&[0u8; 16], &[0u8; 12], b"", &[0u8; 16])
        .unwrap();
    assert_eq!(
        ct,
        h("0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf")
    );
}

#[test]
fn aead_bad_lengths() {
    for s in all_suites() {
        let key = vec![0u8; s.aead_key_len()];
        for bad_key in [
            vec![],
            vec![0u8; s.aead_key_len() - 1],
            vec![0u8; s.aead_key_len() + 1],
        ] {
            assert!(matches!(
                s.aead_seal(&bad_key, &[0; 12], b"", b"pt"),
                Err(CryptoError::InvalidKey { .. })
            ));
            assert!(s.aead_open(&bad_key, &[0; 12], b"", &[0; 32]).is_err());
        }
        for bad_nonce in [&[0u8; 0][..], &[0u8; 11], &[0u8; 13]] {
            assert!(matches!(
                s.aead_seal(&key, bad_nonce, b"", b"pt"),
                Err(CryptoError::InvalidLength { .. })
            ));
            assert!(s.aead_open(&key, bad_nonce, b"", &[0; 32]).is_err());
        }
        for short in [0usize, 1, 15] {
            assert_eq!(
                s.aead_open(&key, &[0; 12], b"", &vec![0u8; short]),
                Err(CryptoError::AeadOpenFailed)
            );
        }
    }
}

#[test]
fn dh_round_trip_every_suite() {
    for s in all_suites() {
        let mut rng = TestRng::new(u64::from(s.cipher_suite().0));
        let nsk = s.kem().secret_key_len();
        let mut keys = Vec::new();
        while keys.len() < 2 {
            let mut sk = vec![0u8; nsk];
            rng.fill(&mut sk).unwrap();
            sk[0] &= s.kem().derive_bitmask();
            if s.dh_secret_key_is_valid(&sk) {
                let pk = s.dh_public_key(&sk).unwrap();
                assert_eq!(pk.len(), s.kem().public_key_len());
                keys.push((sk, pk));
            }
        }
        let (a_sk, a_pk) = &keys[0];
        let (b_sk, b_pk) = &keys[1];
        let ab = s.dh(a_sk, b_pk).unwrap();
        let ba = s.dh(b_sk, a_pk).unwrap();
        assert_eq!(ab, ba);
        let expected_len = match s.kem() {
            KemAlgorithm::DhKemX25519 => 32,
            other => other.secret_key_len(),
        };
        assert_eq!(ab.len(), expected_len);
        assert_ne!(ab, s.dh(a_sk, a_pk).unwrap());
    }
}

#[test]
fn nist_dh_rejects_invalid_points() {
    for id in [2u16, 5, 7] {
        let s = suite(id);
        let nsk = s.kem().secret_key_len();
        let mut sk = vec![0u8; nsk];
        sk[nsk - 1] = 3;
        let pk = s.dh_public_key(&sk).unwrap();
        assert!(s.dh(&sk, &pk).is_ok());
        // Off-curve: change the last byte of Y.
        let mut off = pk.clone();
        *off.last_mut().unwrap() ^= 1;
        assert!(s.dh(&sk, &off).is_err(), "suite {id} off-curve");
        // Compressed form, wrong tag, truncated, empty, point at infinity.
        let mut compressed = vec![0x02 | (pk[pk.len() - 1] & 1)];
        compressed.extend_from_slice(&pk[1..=nsk]);
        assert!(s.dh(&sk, &compressed).is_err(), "suite {id} compressed");
        let mut hybrid = pk.clone();
        hybrid[0] = 0x06 | (pk[pk.len() - 1] & 1);
        assert!(s.dh(&sk, &hybrid).is_err(), "suite {id} hybrid");
        assert!(s.dh(&sk, &pk[..pk.len() - 1]).is_err());
        assert!(s.dh(&sk, &[]).is_err());
        assert!(s.dh(&sk, &[0u8]).is_err());
        assert!(s.dh(&sk, &vec![0u8; pk.len()]).is_err());
    }
}

#[test]
fn dh_secret_key_validity() {
    // X25519: any 32 bytes.
    for id in [1u16, 3] {
        let s = suite(id);
        assert!(s.dh_secret_key_is_valid(&[0u8; 32]));
        assert!(s.dh_secret_key_is_valid(&[0xffu8; 32]));
        assert!(!s.dh_secret_key_is_valid(&[0u8; 31]));
        assert!(!s.dh_secret_key_is_valid(&[0u8; 33]));
        assert!(!s.dh_secret_key_is_valid(&[]));
    }
    for id in [2u16, 5, 7] {
        let s = suite(id);
        let nsk = s.kem().secret_key_len();
        assert!(!s.dh_secret_key_is_valid(&vec![0u8; nsk]));
        assert!(!s.dh_secret_key_is_valid(&vec![0xffu8; nsk]));
        let mut one = vec![0u8; nsk];
        one[nsk - 1] = 1;
        assert!(s.dh_secret_key_is_valid(&one));
        assert!(!s.dh_secret_key_is_valid(&one[1..]));
        assert!(matches!(
            s.dh_public_key(&vec![0u8; nsk]),
            Err(CryptoError::InvalidKey { .. })
        ));
        assert!(
            s.dh(&vec![0xffu8; nsk], &s.dh_public_key(&one).unwrap())
                .is_err()
        );
    }
}

#[test]
fn signature_round_trip_and_tamper_every_suite() {
    for s in all_suites() {
        let mut rng = TestRng::new(100 + u64::from(s.cipher_suite().0));
        let (sk, pk) = s.signature_generate(&mut rng).unwrap();
        assert_eq!(s.signature_public_key(sk.as_bytes()).unwrap(), pk);
        let msg = b"the message to sign";
        let sig = s.sign(sk.as_bytes(), msg).unwrap();
        s.verify(&pk, msg, &sig).unwrap();
        // Tampered message, signature, key.
        assert_eq!(
            s.verify(&pk, b"the message to sigN", &sig),
            Err(CryptoError::InvalidSignature)
        );
        for i in [0, sig.len() / 2, sig.len() - 1] {
            let mut bad = sig.clone();
            bad[i] ^= 0x01;
            assert!(
                s.verify(&pk, msg, &bad).is_err(),
                "suite {:?} byte {i}",
                s.cipher_suite()
            );
        }
        assert!(s.verify(&pk, msg, &[]).is_err());
        assert!(s.verify(&pk, msg, &sig[..sig.len() - 1]).is_err());
        let (_, other_pk) = s.signature_generate(&mut rng).unwrap();
        assert_ne!(other_pk, pk);
        assert_eq!(
            s.verify(&other_pk, msg, &sig),
            Err(CryptoError::InvalidSignature)
        );
    }
}

#[test]
fn ecdsa_signatures_are_der() {
    for id in [2u16, 5, 7] {
        let s = suite(id);
        let (sk, _) = s.signature_generate(&mut TestRng::new(7)).unwrap();
        let sig = s.sign(sk.as_bytes(), b"m").unwrap();
        assert_eq!(sig[0], 0x30, "DER SEQUENCE");
        let body_len = if sig[1] == 0x81 {
            sig[2] as usize + 3
        } else {
            sig[1] as usize + 2
        };
        assert_eq!(body_len, sig.len());
    }
}

#[test]
fn signature_generate_is_deterministic_in_the_rng() {
    for s in all_suites() {
        let a = s.signature_generate(&mut TestRng::new(5)).unwrap();
        let b = s.signature_generate(&mut TestRng::new(5)).unwrap();
        let c = s.signature_generate(&mut TestRng::new(6)).unwrap();
        assert_eq!(a, b);
        assert_ne!(a.1, c.1);
        let expected_len = if s.kem().is_nist_curve() {
            s.kem().secret_key_len()
        } else {
            32
        };
        assert_eq!(a.0.len(), expected_len);
    }
}

#[test]
fn signature_generate_rng_failures() {
    for s in all_suites() {
        assert_eq!(
            s.signature_generate(&mut FailingRng),
            Err(CryptoError::RandomFailed)
        );
    }
    // All-ones candidates are >= n on every NIST curve (after the P-521 mask, 0x01ff..ff
    // is still above n), so generation gives up instead of looping forever.
    for id in [2u16, 5, 7] {
        assert_eq!(
            suite(id).signature_generate(&mut AllOnesRng),
            Err(CryptoError::RandomFailed)
        );
    }
    // X25519/Ed25519 accept any seed.
    assert!(suite(1).signature_generate(&mut AllOnesRng).is_ok());
}

#[test]
fn ecdsa_secret_key_edges() {
    for id in [2u16, 5, 7] {
        let s = suite(id);
        let nsk = s.kem().secret_key_len();
        let mut one = vec![0u8; nsk];
        one[nsk - 1] = 1;
        // 1 is valid; its public key is the generator.
        let g = s.signature_public_key(&one).unwrap();
        assert_eq!(g, s.dh_public_key(&one).unwrap());
        let sig = s.sign(&one, b"m").unwrap();
        s.verify(&g, b"m", &sig).unwrap();
        for bad in [vec![0u8; nsk], vec![0xffu8; nsk], one[1..].to_vec(), vec![]] {
            assert!(matches!(
                s.signature_public_key(&bad),
                Err(CryptoError::InvalidKey { .. })
            ));
            assert!(matches!(
                s.sign(&bad, b"m"),
                Err(CryptoError::InvalidKey { .. })
            ));
        }
    }
}

// ---- no panic on bad inputs --------------------------------------------------------------

#[test]
fn no_panic_on_bad_key_lengths() {
    let lengths = [0usize, 1, 16, 31, 32, 33, 48, 64, 65, 66, 67, 97, 133, 200];
    for s in all_suites() {
        for &len in &lengths {
            for fill in [0u8, 1, 0x04, 0xff] {
                let k = vec![fill; len];
                let _ = s.dh_secret_key_is_valid(&k);
                let _ = s.dh_public_key(&k);
                let _ = s.signature_public_key(&k);
                let _ = s.sign(&k, b"m");
                let _ = s.verify(&k, b"m", &k);
                let _ = s.aead_seal(&k, &k, b"", b"pt");
                let _ = s.aead_open(&k, &k, b"", &k);
                let _ = s.kdf_expand(&k, b"", len);
                let _ = s.mac(&k, &k);
                let _ = s.kdf_extract(&k, &k);
                for &len2 in &lengths {
                    let k2 = vec![fill ^ 0x5a; len2];
                    let _ = s.dh(&k, &k2);
                    let _ = s.verify(&k2, b"m", &k);
                }
            }
        }
        // Wrong-length keys are errors, not successes.
        assert!(s.dh_public_key(&[1u8; 5]).is_err());
        assert!(s.signature_public_key(&[1u8; 5]).is_err());
        assert!(s.sign(&[1u8; 5], b"m").is_err());
        assert!(s.verify(&[1u8; 5], b"m", &[0u8; 64]).is_err());
        assert!(s.dh(&[1u8; 5], &[1u8; 32]).is_err());
    }
}

#[test]
fn secret_debug_does_not_leak() {
    let prk = suite(1).kdf_extract(b"salt", b"ikm");
    assert_eq!(format!("{prk:?}"), "Secret(32 bytes)");
}

#[test]
fn system_random_fills_the_whole_buffer_with_fresh_bytes() {
    let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
    SystemRandom.fill(&mut a).unwrap();
    SystemRandom.fill(&mut b).unwrap();
    // 64 zero bytes, or two equal draws, happen with probability 2^-512.
    assert_ne!(a, [0u8; 64]);
    assert_ne!(a, b);
}
