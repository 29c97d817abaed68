//! Per-suite behaviour of the provider: the supported-suite list, sign/verify and DH round
//! trips, rejection of tampered signatures and ciphertexts, validity checks of DH secret
//! keys, and the absence of panics on malformed keys and inputs (RFC 9420 §5.1, RFC 9180 §7.1).

// Test helpers outside `#[test]` functions: a panic here is a test failure, not a crash.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use conclave_crypto::{
    CipherSuite, CipherSuiteProvider, CryptoError, CryptoProvider, CryptoRandom, KemAlgorithm,
    SignatureAlgorithm,
};
use conclave_crypto_rustcrypto::RustCryptoProvider;
use sha2::{Digest, Sha256};

/// A deterministic random source: SHA-256(seed || counter) blocks.
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
        for chunk in dest.chunks_mut(32) {
            let block = Sha256::new()
                .chain_update(self.seed.to_be_bytes())
                .chain_update(self.counter.to_be_bytes())
                .finalize();
            self.counter += 1;
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

/// The RFC 9420 suites the provider lists (the DHKEM suites this file's DH tests cover).
fn expected_suites() -> Vec<u16> {
    if cfg!(feature = "x448") {
        vec![1, 2, 3, 4, 5, 6, 7]
    } else {
        vec![1, 2, 3, 5, 7]
    }
}

/// Every suite the provider lists: the RFC 9420 ones, then the post-quantum ones
/// (draft-ietf-mls-pq-ciphersuites, Conclave's values).
fn expected_listed_suites() -> Vec<u16> {
    let mut all = expected_suites();
    all.extend(CipherSuite::PQ.iter().map(|s| s.0));
    all
}

fn suites() -> Vec<Box<dyn CipherSuiteProvider>> {
    let provider = RustCryptoProvider;
    let all: Vec<_> = provider
        .supported_cipher_suites()
        .into_iter()
        .filter(|cs| !cs.is_post_quantum())
        .map(|cs| provider.cipher_suite_provider(cs).unwrap())
        .collect();
    assert_eq!(all.len(), expected_suites().len());
    all
}

/// A DH key pair drawn like HPKE's GenerateKeyPair: random `Nsk` bytes until valid.
fn dh_keypair(s: &dyn CipherSuiteProvider, rng: &mut TestRng) -> (Vec<u8>, Vec<u8>) {
    loop {
        let mut sk = vec![0u8; s.kem().secret_key_len()];
        rng.fill(&mut sk).unwrap();
        if s.kem() == KemAlgorithm::DhKemP521 {
            sk[0] &= 0x01;
        }
        if s.dh_secret_key_is_valid(&sk) {
            let pk = s.dh_public_key(&sk).unwrap();
            return (sk, pk);
        }
    }
}

#[test]
fn provider_lists_suites() {
    // `RustCryptoProvider` is usable wherever a `Default` provider is expected.
    fn make<T: Default>() -> T {
        T::default()
    }
    let provider: RustCryptoProvider = make();
    assert_eq!(provider.name(), "rustcrypto");
    let ids: Vec<u16> = provider
        .supported_cipher_suites()
        .into_iter()
        .map(|c| c.0)
        .collect();
    assert_eq!(ids, expected_listed_suites());
    for id in 0u16..=10 {
        let p = provider.cipher_suite_provider(CipherSuite(id));
        // 8–10 are MLSpp's numbers for three post-quantum suites.
        let expected = expected_suites().contains(&id) || (8..=10).contains(&id);
        assert_eq!(p.is_some(), expected, "suite {id}");
        if let Some(p) = p {
            assert_eq!(p.cipher_suite(), CipherSuite(id));
            let (kem, kdf, aead, sig) = CipherSuite(id).algorithms().unwrap();
            assert_eq!(
                (p.kem(), p.kdf(), p.aead(), p.signature()),
                (kem, kdf, aead, sig)
            );
        }
    }
    assert!(
        provider
            .cipher_suite_provider(CipherSuite(0x0a0a))
            .is_none()
    );
    assert!(
        provider
            .cipher_suite_provider(CipherSuite(0xffff))
            .is_none()
    );
}

#[test]
fn sign_verify_round_trip_and_tampering() {
    for s in suites() {
        let id = s.cipher_suite().0;
        let mut rng = TestRng::new(u64::from(id));
        let (sk, pk) = s.signature_generate(&mut rng).unwrap();
        assert_eq!(
            s.signature_public_key(sk.as_bytes()).unwrap(),
            pk,
            "suite {id}"
        );
        let msg = b"MLS signature round trip";
        let sig = s.sign(sk.as_bytes(), msg).unwrap();
        s.verify(&pk, msg, &sig).unwrap();

        // Deterministic signatures (RFC 6979 for ECDSA, RFC 8032 for EdDSA).
        assert_eq!(s.sign(sk.as_bytes(), msg).unwrap(), sig, "suite {id}");

        // Key length / encoding, as documented by the trait.
        let (npk, nsig) = match s.signature() {
            SignatureAlgorithm::Ed25519 => (32, Some(64)),
            SignatureAlgorithm::Ed448 => (57, Some(114)),
            _ => (s.kem().public_key_len(), None),
        };
        assert_eq!(pk.len(), npk, "suite {id}");
        match nsig {
            Some(n) => assert_eq!(sig.len(), n, "suite {id}"),
            None => {
                assert_eq!(pk[0], 0x04, "suite {id}: uncompressed SEC1");
                assert_eq!(sig[0], 0x30, "suite {id}: DER SEQUENCE");
                let der_len = if sig[1] == 0x81 {
                    usize::from(sig[2]) + 3
                } else {
                    usize::from(sig[1]) + 2
                };
                assert_eq!(der_len, sig.len(), "suite {id}: DER length");
            }
        }

        // Wrong message.
        assert_eq!(
            s.verify(&pk, b"MLS signature round trip!", &sig),
            Err(CryptoError::InvalidSignature),
            "suite {id}"
        );
        // Every single-bit flip of the signature is rejected.
        for i in 0..sig.len() {
            for bit in [0x01u8, 0x80] {
                let mut bad = sig.clone();
                bad[i] ^= bit;
                assert!(s.verify(&pk, msg, &bad).is_err(), "suite {id} byte {i}");
            }
        }
        // Truncated, extended and empty signatures.
        assert!(
            s.verify(&pk, msg, &sig[..sig.len() - 1]).is_err(),
            "suite {id}"
        );
        let mut longer = sig.clone();
        longer.push(0);
        assert!(s.verify(&pk, msg, &longer).is_err(), "suite {id}");
        assert!(s.verify(&pk, msg, &[]).is_err(), "suite {id}");
        // Another key's public key.
        let (_, other_pk) = s.signature_generate(&mut rng).unwrap();
        assert_ne!(other_pk, pk);
        assert!(s.verify(&other_pk, msg, &sig).is_err(), "suite {id}");
    }
}

#[test]
fn signature_generate_uses_the_rng() {
    for s in suites() {
        let id = s.cipher_suite().0;
        let (a, _) = s.signature_generate(&mut TestRng::new(9)).unwrap();
        let (b, _) = s.signature_generate(&mut TestRng::new(9)).unwrap();
        let (c, _) = s.signature_generate(&mut TestRng::new(10)).unwrap();
        assert_eq!(a, b, "suite {id}: same seed, same key");
        assert_ne!(a, c, "suite {id}: different seed, different key");
        assert_eq!(
            s.signature_generate(&mut FailingRng).unwrap_err(),
            CryptoError::RandomFailed,
            "suite {id}"
        );
    }
}

#[test]
fn dh_round_trip() {
    for s in suites() {
        let id = s.cipher_suite().0;
        let mut rng = TestRng::new(100 + u64::from(id));
        let kem = s.kem();
        let (a_sk, a_pk) = dh_keypair(&*s, &mut rng);
        let (b_sk, b_pk) = dh_keypair(&*s, &mut rng);
        assert_eq!(a_sk.len(), kem.secret_key_len(), "suite {id}");
        assert_eq!(a_pk.len(), kem.public_key_len(), "suite {id}");
        let ab = s.dh(&a_sk, &b_pk).unwrap();
        let ba = s.dh(&b_sk, &a_pk).unwrap();
        assert_eq!(ab, ba, "suite {id}");
        // Raw x-coordinate for NIST curves; the u-coordinate for X25519/X448.
        let expected_len = match kem {
            KemAlgorithm::DhKemP256 => 32,
            KemAlgorithm::DhKemP384 => 48,
            KemAlgorithm::DhKemP521 => 66,
            KemAlgorithm::DhKemX25519 => 32,
            KemAlgorithm::DhKemX448 => 56,
            other => panic!("suite {id}: {other:?} is not a DHKEM"),
        };
        assert_eq!(ab.len(), expected_len, "suite {id}");
        if kem.is_nist_curve() {
            // The x-coordinate of the shared point is the x-coordinate of b*A.
            assert_ne!(ab.as_bytes(), &a_pk[1..1 + expected_len], "suite {id}");
        }
        let (_, c_pk) = dh_keypair(&*s, &mut rng);
        assert_ne!(s.dh(&a_sk, &c_pk).unwrap(), ab, "suite {id}");
    }
}

/// Big-endian group orders `n` of the NIST curves.
fn nist_order(kem: KemAlgorithm) -> Vec<u8> {
    let hex = match kem {
        KemAlgorithm::DhKemP256 => {
            "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"
        }
        KemAlgorithm::DhKemP384 => {
            "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf\
             581a0db248b0a77aecec196accc52973"
        }
        KemAlgorithm::DhKemP521 => {
            "01ff ffffffff ffffffff ffffffff ffffffff ffffffff ffffffff ffffffff \
             fffffffa 51868783 bf2f966b 7fcc0148 f709a5d0 3bb5c9b8 899c47ae bb6fb71e 91386409"
        }
        _ => unreachable!(),
    };
    hex::decode(hex.replace(' ', "")).unwrap()
}

fn minus_one(mut n: Vec<u8>) -> Vec<u8> {
    for b in n.iter_mut().rev() {
        if *b == 0 {
            *b = 0xff;
        } else {
            *b -= 1;
            break;
        }
    }
    n
}

#[test]
fn dh_secret_key_validity() {
    for s in suites() {
        let id = s.cipher_suite().0;
        let kem = s.kem();
        let nsk = kem.secret_key_len();
        for len in [0, 1, nsk - 1, nsk + 1, 2 * nsk] {
            assert!(
                !s.dh_secret_key_is_valid(&vec![1u8; len]),
                "suite {id} len {len}"
            );
        }
        if kem.is_nist_curve() {
            let n = nist_order(kem);
            assert_eq!(n.len(), nsk);
            assert!(
                !s.dh_secret_key_is_valid(&vec![0u8; nsk]),
                "suite {id}: zero"
            );
            assert!(!s.dh_secret_key_is_valid(&n), "suite {id}: n");
            assert!(
                !s.dh_secret_key_is_valid(&vec![0xffu8; nsk]),
                "suite {id}: 2^k-1"
            );
            let n1 = minus_one(n);
            assert!(s.dh_secret_key_is_valid(&n1), "suite {id}: n-1");
            s.dh_public_key(&n1).unwrap();
            let mut one = vec![0u8; nsk];
            one[nsk - 1] = 1;
            assert!(s.dh_secret_key_is_valid(&one), "suite {id}: 1");
            assert!(s.dh_public_key(&vec![0u8; nsk]).is_err(), "suite {id}");
        } else {
            assert!(s.dh_secret_key_is_valid(&vec![0u8; nsk]), "suite {id}");
            assert!(s.dh_secret_key_is_valid(&vec![0xffu8; nsk]), "suite {id}");
        }
    }
}

/// Small-order X25519/X448 points give an all-zero output, which `dh` rejects; malformed or
/// off-curve NIST points are rejected.
#[test]
fn dh_rejects_invalid_public_keys() {
    for s in suites() {
        let id = s.cipher_suite().0;
        let kem = s.kem();
        let mut rng = TestRng::new(200 + u64::from(id));
        let (sk, pk) = dh_keypair(&*s, &mut rng);
        let npk = kem.public_key_len();
        let mut bad_keys: Vec<Vec<u8>> =
            vec![vec![], pk[..npk - 1].to_vec(), [&pk[..], &[0]].concat()];
        if kem.is_nist_curve() {
            // Compressed encoding, the identity, an off-curve point.
            let flen = (npk - 1) / 2;
            let mut compressed = vec![0x02 | (pk[npk - 1] & 1)];
            compressed.extend_from_slice(&pk[1..=flen]);
            bad_keys.push(compressed);
            bad_keys.push(vec![0x00]);
            bad_keys.push(vec![0u8; npk]);
            let mut off_curve = pk.clone();
            off_curve[npk - 1] ^= 1;
            bad_keys.push(off_curve);
            let mut wrong_prefix = pk.clone();
            wrong_prefix[0] = 0x06;
            bad_keys.push(wrong_prefix);
        } else {
            // u = 0 and u = 1 have small order.
            bad_keys.push(vec![0u8; npk]);
            let mut one = vec![0u8; npk];
            one[0] = 1;
            bad_keys.push(one);
        }
        for bad in &bad_keys {
            assert!(
                s.dh(&sk, bad).is_err(),
                "suite {id} key {}",
                hex::encode(bad)
            );
        }
        // Wrong-length secret keys.
        for len in [0, 1, sk.len() - 1, sk.len() + 1] {
            assert!(s.dh(&vec![3u8; len], &pk).is_err(), "suite {id}");
            assert!(s.dh_public_key(&vec![3u8; len]).is_err(), "suite {id}");
        }
    }
}

#[test]
fn aead_round_trip_and_tampering() {
    for s in suites() {
        let id = s.cipher_suite().0;
        let key: Vec<u8> = (0u8..).take(s.aead_key_len()).collect();
        let nonce: Vec<u8> = (100u8..).take(s.aead_nonce_len()).collect();
        let aad = b"associated data";
        for pt in [&b""[..], b"x", &[0x5a; 100]] {
            let ct = s.aead_seal(&key, &nonce, aad, pt).unwrap();
            assert_eq!(ct.len(), pt.len() + 16, "suite {id}");
            assert_eq!(s.aead_open(&key, &nonce, aad, &ct).unwrap().as_bytes(), pt);
            for i in 0..ct.len() {
                let mut bad = ct.clone();
                bad[i] ^= 0x01;
                assert_eq!(
                    s.aead_open(&key, &nonce, aad, &bad),
                    Err(CryptoError::AeadOpenFailed),
                    "suite {id} byte {i}"
                );
            }
            let fail = Err(CryptoError::AeadOpenFailed);
            assert_eq!(s.aead_open(&key, &nonce, b"associated dat4", &ct), fail);
            let mut other_nonce = nonce.clone();
            other_nonce[0] ^= 1;
            assert_eq!(s.aead_open(&key, &other_nonce, aad, &ct), fail);
            let mut other_key = key.clone();
            other_key[0] ^= 1;
            assert_eq!(s.aead_open(&other_key, &nonce, aad, &ct), fail);
            assert_eq!(s.aead_open(&key, &nonce, aad, &ct[..ct.len() - 1]), fail);
        }
        // Ciphertexts shorter than the tag.
        for len in 0..16 {
            assert!(
                s.aead_open(&key, &nonce, aad, &vec![0u8; len]).is_err(),
                "suite {id}"
            );
        }
        // Wrong key and nonce lengths are errors, not panics.
        for len in [0, 1, key.len() - 1, key.len() + 1, 64] {
            assert!(
                s.aead_seal(&vec![0u8; len], &nonce, aad, b"pt").is_err(),
                "suite {id}"
            );
            assert!(
                s.aead_open(&vec![0u8; len], &nonce, aad, &[0u8; 32])
                    .is_err()
            );
        }
        for len in [0, 1, 11, 13, 16, 24] {
            assert!(
                s.aead_seal(&key, &vec![0u8; len], aad, b"pt").is_err(),
                "suite {id}"
            );
            assert!(s.aead_open(&key, &vec![0u8; len], aad, &[0u8; 32]).is_err());
        }
    }
}

/// No method panics on keys of any wrong length or on garbage of the right length.
#[test]
fn no_panic_on_malformed_keys() {
    let mut rng = TestRng::new(7);
    for s in suites() {
        let id = s.cipher_suite().0;
        let mut lengths: Vec<usize> = (0..=140).collect();
        lengths.push(1000);
        for len in lengths {
            for fill in [0x00u8, 0x01, 0x04, 0x80, 0xff] {
                let mut garbage = vec![fill; len];
                if let Some(first) = garbage.first_mut() {
                    *first = 0x04;
                }
                let mut random = vec![0u8; len];
                rng.fill(&mut random).unwrap();
                for key in [&vec![fill; len], &garbage, &random] {
                    let _ = s.dh_secret_key_is_valid(key);
                    let _ = s.dh_public_key(key);
                    let _ = s.dh(key, key);
                    let _ = s.signature_public_key(key);
                    let _ = s.sign(key, b"m");
                    let _ = s.verify(key, b"m", key);
                    let _ = s.kdf_expand(key, key, len);
                    let _ = s.aead_seal(key, key, key, key);
                    let _ = s.aead_open(key, key, key, key);
                    let _ = s.mac(key, key);
                    let _ = s.kdf_extract(key, key);
                    let _ = s.hash(key);
                }
            }
        }
        // Valid keys with random signatures of many lengths.
        let (sk, pk) = s.signature_generate(&mut rng).unwrap();
        let sig = s.sign(sk.as_bytes(), b"m").unwrap();
        for len in 0..200 {
            let mut random = vec![0u8; len];
            rng.fill(&mut random).unwrap();
            if len >= 2 {
                random[0] = 0x30;
                random[1] = u8::try_from(len - 2).unwrap();
            }
            assert!(s.verify(&pk, b"m", &random).is_err(), "suite {id}");
        }
        s.verify(&pk, b"m", &sig).unwrap();
    }
}

#[test]
fn system_random_fills_the_whole_buffer_with_fresh_bytes() {
    use conclave_crypto_rustcrypto::SystemRandom;
    let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
    SystemRandom.fill(&mut a).unwrap();
    SystemRandom.fill(&mut b).unwrap();
    // 64 zero bytes, or two equal draws, happen with probability 2^-512.
    assert_ne!(a, [0u8; 64]);
    assert_ne!(a, b);
}
