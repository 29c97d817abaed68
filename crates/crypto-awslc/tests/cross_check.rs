//! Cross-check of the two crypto backends: for every cipher suite that both
//! `AwsLcProvider` and `RustCryptoProvider` implement, every primitive of
//! `CipherSuiteProvider` must give the same answer on the same input (or both must fail).
//! ECDSA signatures are randomized differently by the two backends, so for them we check
//! that each side verifies the other's signatures instead of comparing bytes.

// Test-only helpers outside `#[test]` functions may unwrap, index and panic (clippy.toml allows
// it inside tests), and data generators truncate to bytes on purpose.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use conclave_crypto::{CipherSuiteProvider, CryptoError, CryptoProvider, CryptoRandom};
use conclave_crypto_awslc::AwsLcProvider;
use conclave_crypto_rustcrypto::RustCryptoProvider;

/// SplitMix64 as a deterministic byte source: the same seed gives the same stream.
struct TestRng(u64);

impl TestRng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        self.fill(&mut v).unwrap();
        v
    }
}

impl CryptoRandom for TestRng {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), CryptoError> {
        for chunk in dest.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        Ok(())
    }
}

/// Group orders of the NIST curves (SEC 2 §2.4.2, §2.5.1, §2.6.1), big-endian `Nsk` bytes.
fn curve_order(nsk: usize) -> Vec<u8> {
    let hex_order = match nsk {
        32 => "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551",
        48 => {
            "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf\
             581a0db248b0a77aecec196accc52973"
        }
        66 => {
            "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\
             fffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409"
        }
        _ => panic!("not a NIST scalar length: {nsk}"),
    };
    hex::decode(hex_order).unwrap()
}

/// `x + delta` on a big-endian number of fixed width (wrapping; test use only).
fn add_small(x: &[u8], delta: i16) -> Vec<u8> {
    let mut v = x.to_vec();
    let mut carry = i32::from(delta);
    for b in v.iter_mut().rev() {
        let sum = i32::from(*b) + carry;
        *b = sum.rem_euclid(256) as u8;
        carry = sum.div_euclid(256);
        if carry == 0 {
            break;
        }
    }
    v
}

/// The suites both backends implement, as `(aws-lc, RustCrypto)` provider pairs.
fn suite_pairs() -> Vec<(Box<dyn CipherSuiteProvider>, Box<dyn CipherSuiteProvider>)> {
    let aws = AwsLcProvider;
    let rc = RustCryptoProvider;
    let rc_suites = rc.supported_cipher_suites();
    let pairs: Vec<_> = aws
        .supported_cipher_suites()
        .into_iter()
        .filter(|cs| rc_suites.contains(cs) && !cs.is_post_quantum())
        .map(|cs| {
            (
                aws.cipher_suite_provider(cs).unwrap(),
                rc.cipher_suite_provider(cs).unwrap(),
            )
        })
        .collect();
    // Both implement at least suites 1, 2, 3, 5 and 7; a shrinking overlap is a failure.
    let ids: Vec<u16> = pairs.iter().map(|(a, _)| a.cipher_suite().0).collect();
    assert_eq!(ids, vec![1, 2, 3, 5, 7], "suites both backends support");
    pairs
}

/// Every post-quantum suite: a key pair from one backend, sealed to by the other and
/// opened by the first; `DeriveKeyPair` and deterministic `Encap` give the same bytes on both
/// (draft-ietf-mls-pq-ciphersuites §2 through draft-ietf-hpke-pq).
#[test]
fn post_quantum_hpke_agrees_across_backends() {
    use conclave_crypto::{CipherSuite, hpke};
    let mut rng = TestRng(11);
    for suite in CipherSuite::PQ {
        let aws = AwsLcProvider.cipher_suite_provider(suite).unwrap();
        let rc = RustCryptoProvider.cipher_suite_provider(suite).unwrap();
        let ikm = rng.bytes(32);
        let kp = hpke::derive_key_pair(&*aws, &ikm).unwrap();
        assert_eq!(kp, hpke::derive_key_pair(&*rc, &ikm).unwrap(), "{suite:?}");
        let randomness = rng.bytes(hpke::encap_randomness_len(aws.kem()));
        let (ss_a, enc_a) = hpke::encap_deterministic(&*aws, &kp.public_key, &randomness).unwrap();
        let (ss_r, enc_r) = hpke::encap_deterministic(&*rc, &kp.public_key, &randomness).unwrap();
        assert_eq!((&ss_a, &enc_a), (&ss_r, &enc_r), "{suite:?}");
        for (sender, receiver) in [(&aws, &rc), (&rc, &aws)] {
            let (enc, ct) =
                hpke::seal_base(&**sender, &kp.public_key, b"i", b"a", b"pq", &mut rng).unwrap();
            let pt = hpke::open_base(&**receiver, &enc, kp.secret_key.as_bytes(), b"i", b"a", &ct)
                .unwrap();
            assert_eq!(pt.as_bytes(), b"pq", "{suite:?}");
        }
    }
}

fn name(s: &dyn CipherSuiteProvider) -> String {
    format!("suite {}", s.cipher_suite().0)
}

#[test]
fn algorithms_and_constants_agree() {
    for (a, r) in suite_pairs() {
        assert_eq!(a.cipher_suite(), r.cipher_suite());
        assert_eq!(
            (a.kem(), a.kdf(), a.aead(), a.signature()),
            (r.kem(), r.kdf(), r.aead(), r.signature())
        );
        assert_eq!(
            (a.hash_len(), a.aead_key_len(), a.aead_nonce_len()),
            (r.hash_len(), r.aead_key_len(), r.aead_nonce_len())
        );
    }
}

#[test]
fn hash_and_mac_agree() {
    let mut rng = TestRng(1);
    for (a, r) in suite_pairs() {
        for len in [0usize, 1, 3, 55, 56, 64, 127, 128, 129, 1000] {
            let data = rng.bytes(len);
            assert_eq!(a.hash(&data), r.hash(&data), "{} hash len {len}", name(&*a));
            assert_eq!(a.hash(&data).len(), a.hash_len());
            // Keys shorter than, equal to and longer than the hash block.
            for key_len in [0usize, 1, a.hash_len(), 64, 128, 129, 300] {
                let key = rng.bytes(key_len);
                assert_eq!(a.mac(&key, &data), r.mac(&key, &data), "{} mac", name(&*a));
            }
        }
    }
}

#[test]
fn kdf_extract_agrees() {
    let mut rng = TestRng(2);
    for (a, r) in suite_pairs() {
        for salt_len in [0usize, 1, a.hash_len(), 200] {
            for ikm_len in [0usize, 1, a.hash_len(), 300] {
                let salt = rng.bytes(salt_len);
                let ikm = rng.bytes(ikm_len);
                assert_eq!(
                    a.kdf_extract(&salt, &ikm),
                    r.kdf_extract(&salt, &ikm),
                    "{} extract salt {salt_len} ikm {ikm_len}",
                    name(&*a)
                );
            }
        }
    }
}

#[test]
fn kdf_expand_agrees() {
    let mut rng = TestRng(3);
    for (a, r) in suite_pairs() {
        let nh = a.hash_len();
        for prk_len in [nh, 64, 65, 129, 200] {
            if prk_len < nh {
                continue;
            }
            let prk = rng.bytes(prk_len);
            for info_len in [0usize, 1, 100] {
                let info = rng.bytes(info_len);
                for len in [0usize, 1, nh - 1, nh, nh + 1, 3 * nh + 7, 255 * nh] {
                    assert_eq!(
                        a.kdf_expand(&prk, &info, len).unwrap(),
                        r.kdf_expand(&prk, &info, len).unwrap(),
                        "{} expand prk {prk_len} info {info_len} len {len}",
                        name(&*a)
                    );
                }
            }
            // Both reject an output longer than 255 * Nh.
            assert!(a.kdf_expand(&prk, b"", 255 * nh + 1).is_err());
            assert!(r.kdf_expand(&prk, b"", 255 * nh + 1).is_err());
        }
        // Both reject a PRK shorter than Nh.
        let short = rng.bytes(nh - 1);
        assert!(
            a.kdf_expand(&short, b"", 16).is_err(),
            "{} short prk",
            name(&*a)
        );
        assert!(
            r.kdf_expand(&short, b"", 16).is_err(),
            "{} short prk",
            name(&*r)
        );
    }
}

#[test]
fn aead_agrees_both_ways() {
    let mut rng = TestRng(4);
    for (a, r) in suite_pairs() {
        for pt_len in [0usize, 1, 15, 16, 17, 255, 4096] {
            let key = rng.bytes(a.aead_key_len());
            let nonce = rng.bytes(a.aead_nonce_len());
            let aad = rng.bytes(pt_len % 37);
            let pt = rng.bytes(pt_len);
            let ct_a = a.aead_seal(&key, &nonce, &aad, &pt).unwrap();
            let ct_r = r.aead_seal(&key, &nonce, &aad, &pt).unwrap();
            assert_eq!(ct_a, ct_r, "{} seal len {pt_len}", name(&*a));
            assert_eq!(
                r.aead_open(&key, &nonce, &aad, &ct_a).unwrap().as_bytes(),
                pt
            );
            assert_eq!(
                a.aead_open(&key, &nonce, &aad, &ct_r).unwrap().as_bytes(),
                pt
            );
            let mut bad = ct_a.clone();
            let last = bad.len() - 1;
            bad[last] ^= 0x80;
            assert_eq!(
                a.aead_open(&key, &nonce, &aad, &bad),
                Err(CryptoError::AeadOpenFailed)
            );
            assert_eq!(
                r.aead_open(&key, &nonce, &aad, &bad),
                Err(CryptoError::AeadOpenFailed)
            );
            // Wrong key and nonce lengths fail on both sides.
            let short_key = &key[..key.len() - 1];
            assert!(a.aead_seal(short_key, &nonce, &aad, &pt).is_err());
            assert!(r.aead_seal(short_key, &nonce, &aad, &pt).is_err());
            assert!(a.aead_seal(&key, &nonce[1..], &aad, &pt).is_err());
            assert!(r.aead_seal(&key, &nonce[1..], &aad, &pt).is_err());
        }
    }
}

/// A valid DH secret key drawn as DeriveKeyPair does (mask, then reject invalid).
fn dh_secret(s: &dyn CipherSuiteProvider, rng: &mut TestRng) -> Vec<u8> {
    loop {
        let mut sk = rng.bytes(s.kem().secret_key_len());
        sk[0] &= s.kem().derive_bitmask();
        if s.dh_secret_key_is_valid(&sk) {
            return sk;
        }
    }
}

#[test]
fn dh_secret_key_is_valid_agrees_on_edges() {
    for (a, r) in suite_pairs() {
        let nsk = a.kem().secret_key_len();
        let mut edges = vec![
            vec![0u8; nsk],
            vec![0xffu8; nsk],
            vec![0u8; nsk - 1],
            vec![0u8; nsk + 1],
            vec![],
        ];
        let mut one = vec![0u8; nsk];
        one[nsk - 1] = 1;
        edges.push(one);
        if a.kem().is_nist_curve() {
            let n = curve_order(nsk);
            edges.push(add_small(&n, -1));
            edges.push(add_small(&n, -2));
            edges.push(n.clone());
            edges.push(add_small(&n, 1));
            // Expected answers, so that agreement on a wrong answer is also caught.
            assert!(!a.dh_secret_key_is_valid(&n), "{} n", name(&*a));
            assert!(
                a.dh_secret_key_is_valid(&add_small(&n, -1)),
                "{} n-1",
                name(&*a)
            );
            assert!(
                !a.dh_secret_key_is_valid(&vec![0u8; nsk]),
                "{} zero",
                name(&*a)
            );
        } else {
            assert!(
                a.dh_secret_key_is_valid(&vec![0u8; nsk]),
                "{} X25519 zero",
                name(&*a)
            );
        }
        for sk in &edges {
            let va = a.dh_secret_key_is_valid(sk);
            assert_eq!(
                va,
                r.dh_secret_key_is_valid(sk),
                "{} sk {}",
                name(&*a),
                hex::encode(sk)
            );
            // The public key and its validity agree too.
            let pa = a.dh_public_key(sk);
            let pr = r.dh_public_key(sk);
            assert_eq!(
                pa.is_ok(),
                pr.is_ok(),
                "{} dh_public_key {}",
                name(&*a),
                hex::encode(sk)
            );
            if let (Ok(pa), Ok(pr)) = (pa, pr) {
                assert_eq!(pa, pr);
            }
        }
    }
}

#[test]
fn dh_agrees_both_ways() {
    let mut rng = TestRng(5);
    for (a, r) in suite_pairs() {
        for _ in 0..8 {
            let sk1 = dh_secret(&*a, &mut rng);
            let sk2 = dh_secret(&*a, &mut rng);
            let pk1 = a.dh_public_key(&sk1).unwrap();
            let pk2 = a.dh_public_key(&sk2).unwrap();
            assert_eq!(
                pk1,
                r.dh_public_key(&sk1).unwrap(),
                "{} dh_public_key",
                name(&*a)
            );
            assert_eq!(
                pk2,
                r.dh_public_key(&sk2).unwrap(),
                "{} dh_public_key",
                name(&*a)
            );
            let z_a12 = a.dh(&sk1, &pk2).unwrap();
            let z_r21 = r.dh(&sk2, &pk1).unwrap();
            let z_r12 = r.dh(&sk1, &pk2).unwrap();
            let z_a21 = a.dh(&sk2, &pk1).unwrap();
            assert_eq!(z_a12, z_r21, "{} dh", name(&*a));
            assert_eq!(z_a12, z_r12, "{} dh", name(&*a));
            assert_eq!(z_a12, z_a21, "{} dh", name(&*a));
            // The one-key-object path gives the same pair as the two separate calls.
            let (z, own) = a.dh_with_public_key(&sk1, &pk2).unwrap();
            assert_eq!(
                (z, own),
                (z_a12, pk1.clone()),
                "{} dh_with_public_key",
                name(&*a)
            );
            let (z, own) = r.dh_with_public_key(&sk2, &pk1).unwrap();
            assert_eq!(
                (z, own),
                (z_r21, pk2.clone()),
                "{} dh_with_public_key",
                name(&*a)
            );
        }
    }
}

#[test]
fn dh_rejections_agree() {
    let mut rng = TestRng(6);
    for (a, r) in suite_pairs() {
        let sk = dh_secret(&*a, &mut rng);
        let pk = a.dh_public_key(&sk).unwrap();
        let npk = pk.len();
        let mut bad_keys = vec![vec![], pk[..npk - 1].to_vec(), vec![0u8; npk]];
        let mut extended = pk.clone();
        extended.push(0);
        bad_keys.push(extended);
        if a.kem().is_nist_curve() {
            let mut off_curve = pk.clone();
            off_curve[npk - 1] ^= 1;
            bad_keys.push(off_curve);
            let nsk = a.kem().secret_key_len();
            let mut compressed = vec![0x02 | (pk[npk - 1] & 1)];
            compressed.extend_from_slice(&pk[1..=nsk]);
            bad_keys.push(compressed);
        } else {
            // Small-order X25519 points give the all-zero output (RFC 7748 §6.1).
            let mut one = vec![0u8; 32];
            one[0] = 1;
            bad_keys.push(one);
        }
        for bad in &bad_keys {
            assert!(
                a.dh(&sk, bad).is_err(),
                "{} aws-lc accepted {}",
                name(&*a),
                hex::encode(bad)
            );
            assert!(
                r.dh(&sk, bad).is_err(),
                "{} RustCrypto accepted {}",
                name(&*a),
                hex::encode(bad)
            );
        }
    }
}

#[test]
fn signature_public_key_agrees() {
    let mut rng = TestRng(7);
    for (a, r) in suite_pairs() {
        for _ in 0..8 {
            let (sk, pk) = a.signature_generate(&mut rng).unwrap();
            assert_eq!(
                r.signature_public_key(sk.as_bytes()).unwrap(),
                pk,
                "{}",
                name(&*a)
            );
        }
        let nsk = a.signature_generate(&mut rng).unwrap().0.len();
        let mut one = vec![0u8; nsk];
        one[nsk - 1] = 1;
        let mut edges = vec![
            one,
            vec![0u8; nsk],
            vec![0xffu8; nsk],
            vec![0u8; nsk - 1],
            vec![],
        ];
        if a.kem().is_nist_curve() {
            let n = curve_order(nsk);
            edges.push(add_small(&n, -1));
            edges.push(n);
        }
        for sk in &edges {
            let pa = a.signature_public_key(sk);
            let pr = r.signature_public_key(sk);
            assert_eq!(
                pa.is_ok(),
                pr.is_ok(),
                "{} sk {}",
                name(&*a),
                hex::encode(sk)
            );
            if let (Ok(pa), Ok(pr)) = (pa, pr) {
                assert_eq!(pa, pr, "{} sk {}", name(&*a), hex::encode(sk));
            }
        }
    }
}

#[test]
fn signatures_verify_across_backends() {
    let mut rng = TestRng(8);
    for (a, r) in suite_pairs() {
        for msg_len in [0usize, 1, 100, 5000] {
            let msg = rng.bytes(msg_len);
            let (sk, pk) = a.signature_generate(&mut rng).unwrap();
            let sig_a = a.sign(sk.as_bytes(), &msg).unwrap();
            let sig_r = r.sign(sk.as_bytes(), &msg).unwrap();
            r.verify(&pk, &msg, &sig_a).unwrap();
            a.verify(&pk, &msg, &sig_r).unwrap();
            a.verify(&pk, &msg, &sig_a).unwrap();
            r.verify(&pk, &msg, &sig_r).unwrap();
            if !a.kem().is_nist_curve() {
                // Ed25519 is deterministic (RFC 8032 §5.1.6).
                assert_eq!(sig_a, sig_r, "{} Ed25519 signature", name(&*a));
            }
            // Tampered signatures and messages are rejected by both.
            for sig in [&sig_a, &sig_r] {
                let mut bad = sig.clone();
                let mid = bad.len() / 2;
                bad[mid] ^= 0x04;
                assert!(a.verify(&pk, &msg, &bad).is_err(), "{}", name(&*a));
                assert!(r.verify(&pk, &msg, &bad).is_err(), "{}", name(&*a));
                let mut other = msg.clone();
                other.push(0);
                assert!(a.verify(&pk, &other, sig).is_err(), "{}", name(&*a));
                assert!(r.verify(&pk, &other, sig).is_err(), "{}", name(&*a));
            }
        }
    }
}

#[test]
fn signature_generate_agrees_under_the_same_rng() {
    for (a, r) in suite_pairs() {
        for seed in [0u64, 1, 42, 0xdead_beef] {
            let (sk_a, pk_a) = a.signature_generate(&mut TestRng(seed)).unwrap();
            let (sk_r, pk_r) = r.signature_generate(&mut TestRng(seed)).unwrap();
            assert_eq!(sk_a, sk_r, "{} seed {seed}", name(&*a));
            assert_eq!(pk_a, pk_r, "{} seed {seed}", name(&*a));
        }
    }
}

/// Both backends draw the same number of bytes per ECDSA candidate, so a stream whose first
/// candidates are out of range still yields the same key (rejection sampling agrees).
#[test]
fn signature_generate_agrees_after_rejections() {
    /// Answers the first `rejects` fills with all-ones bytes, then defers to a seeded stream.
    struct Prefixed {
        rejects: usize,
        inner: TestRng,
    }
    impl CryptoRandom for Prefixed {
        fn fill(&mut self, dest: &mut [u8]) -> Result<(), CryptoError> {
            if self.rejects > 0 {
                self.rejects -= 1;
                dest.fill(0xff);
                Ok(())
            } else {
                self.inner.fill(dest)
            }
        }
    }
    for (a, r) in suite_pairs() {
        if !a.kem().is_nist_curve() {
            continue;
        }
        let ka = a
            .signature_generate(&mut Prefixed {
                rejects: 3,
                inner: TestRng(9),
            })
            .unwrap();
        let kr = r
            .signature_generate(&mut Prefixed {
                rejects: 3,
                inner: TestRng(9),
            })
            .unwrap();
        assert_eq!(ka, kr, "{}", name(&*a));
        assert_eq!(
            ka,
            a.signature_generate(&mut TestRng(9)).unwrap(),
            "{}",
            name(&*a)
        );
    }
}

/// Both providers keep the last signing key loaded: alternating keys on one provider object
/// must still sign with the key asked for.
#[test]
fn signing_with_alternating_keys_uses_each_key() {
    let mut rng = TestRng(11);
    for (a, r) in suite_pairs() {
        let (sk1, pk1) = a.signature_generate(&mut rng).unwrap();
        let (sk2, pk2) = a.signature_generate(&mut rng).unwrap();
        for (round, (sk, pk, other)) in [(&sk1, &pk1, &pk2), (&sk2, &pk2, &pk1), (&sk1, &pk1, &pk2)]
            .into_iter()
            .enumerate()
        {
            let message = format!("message {round}");
            for signer in [&a, &r] {
                let sig = signer.sign(sk.as_bytes(), message.as_bytes()).unwrap();
                a.verify(pk, message.as_bytes(), &sig).unwrap();
                r.verify(pk, message.as_bytes(), &sig).unwrap();
                assert!(
                    a.verify(other, message.as_bytes(), &sig).is_err(),
                    "{} round {round}: signed with the cached key",
                    name(&**signer)
                );
            }
        }
    }
}
