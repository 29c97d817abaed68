//! ML-DSA (FIPS 204) in both backends, for the suites of draft-ietf-mls-pq-ciphersuites §3
//! that sign with it (TBD9–TBD11): the RFC 9881 example keys as known answers for key
//! generation from a seed, signatures made by one backend verified by the other, and the
//! refusals (tampered signature or message, wrong lengths, another key).

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use conclave_crypto::{
    CipherSuite, CipherSuiteProvider, CryptoError, CryptoProvider, CryptoRandom, ML_DSA_SEED_LEN,
    SignatureAlgorithm,
};
use conclave_crypto_awslc::AwsLcProvider;
use conclave_crypto_rustcrypto::RustCryptoProvider;

/// The three ML-DSA suites, with the parameter set each names.
const ML_DSA_SUITES: [(CipherSuite, SignatureAlgorithm, &str); 3] = [
    (
        CipherSuite::MLS_128_MLKEM768X25519_CHACHA20POLY1305_SHA384_MLDSA44,
        SignatureAlgorithm::MlDsa44,
        "ML-DSA-44",
    ),
    (
        CipherSuite::MLS_192_MLKEM768_AES256GCM_SHA384_MLDSA65,
        SignatureAlgorithm::MlDsa65,
        "ML-DSA-65",
    ),
    (
        CipherSuite::MLS_256_MLKEM1024_AES256GCM_SHA384_MLDSA87,
        SignatureAlgorithm::MlDsa87,
        "ML-DSA-87",
    ),
];

fn backends(suite: CipherSuite) -> [Box<dyn CipherSuiteProvider>; 2] {
    [
        AwsLcProvider.cipher_suite_provider(suite).unwrap(),
        RustCryptoProvider.cipher_suite_provider(suite).unwrap(),
    ]
}

/// A counter as a deterministic byte source.
struct CountingRng(u8);

impl CryptoRandom for CountingRng {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), CryptoError> {
        for b in dest {
            *b = self.0;
            self.0 = self.0.wrapping_add(1);
        }
        Ok(())
    }
}

#[test]
fn both_backends_list_the_ml_dsa_suites_with_their_algorithms() {
    for (suite, scheme, _) in ML_DSA_SUITES {
        for provider in [
            &AwsLcProvider as &dyn CryptoProvider,
            &RustCryptoProvider as &dyn CryptoProvider,
        ] {
            assert!(
                provider.supported_cipher_suites().contains(&suite),
                "{} {suite:?}",
                provider.name()
            );
        }
        let (_, _, _, signature) = suite.algorithms().unwrap();
        assert_eq!(signature, scheme);
        assert!(suite.is_post_quantum());
    }
    assert_eq!(SignatureAlgorithm::MlDsa44.id(), 0x0904);
    assert_eq!(SignatureAlgorithm::MlDsa65.id(), 0x0905);
    assert_eq!(SignatureAlgorithm::MlDsa87.id(), 0x0906);
}

#[test]
fn ml_dsa_signatures_verify_across_backends_and_tampering_is_refused() {
    for (suite, scheme, set) in ML_DSA_SUITES {
        let [aws, rc] = backends(suite);
        let (public_len, signature_len) = scheme.ml_dsa_lengths().unwrap();
        let mut rng = CountingRng(suite.0.to_be_bytes()[1]);
        let (sk, pk) = aws.signature_generate(&mut rng).unwrap();
        assert_eq!(sk.len(), ML_DSA_SEED_LEN);
        assert_eq!(pk.len(), public_len);
        assert_eq!(rc.signature_public_key(sk.as_bytes()).unwrap(), pk);
        // Both draw the seed the same way from the same source.
        let mut rng_again = CountingRng(suite.0.to_be_bytes()[1]);
        assert_eq!(
            rc.signature_generate(&mut rng_again).unwrap(),
            (sk.clone(), pk.clone())
        );

        for msg in [&b""[..], b"m", &[0x5a; 3000][..]] {
            let sig_a = aws.sign(sk.as_bytes(), msg).unwrap();
            let sig_r = rc.sign(sk.as_bytes(), msg).unwrap();
            assert_eq!(sig_a.len(), signature_len, "{set}");
            assert_eq!(sig_r.len(), signature_len, "{set}");
            // RustCrypto signs deterministically (FIPS 204 §3.4), aws-lc hedged.
            assert_eq!(rc.sign(sk.as_bytes(), msg).unwrap(), sig_r, "{set}");
            for sig in [&sig_a, &sig_r] {
                for verifier in [&aws, &rc] {
                    verifier.verify(&pk, msg, sig).unwrap();
                    let mut other = msg.to_vec();
                    other.push(1);
                    assert_eq!(
                        verifier.verify(&pk, &other, sig),
                        Err(CryptoError::InvalidSignature),
                        "{set}"
                    );
                    for at in [0, sig.len() / 2, sig.len() - 1] {
                        let mut bad = sig.clone();
                        bad[at] ^= 0x01;
                        assert!(verifier.verify(&pk, msg, &bad).is_err(), "{set} byte {at}");
                    }
                    assert!(verifier.verify(&pk, msg, &sig[1..]).is_err(), "{set}");
                    let mut longer = sig.clone();
                    longer.push(0);
                    assert!(verifier.verify(&pk, msg, &longer).is_err(), "{set}");
                    assert!(verifier.verify(&pk, msg, &[]).is_err(), "{set}");
                    assert!(verifier.verify(&pk[1..], msg, sig).is_err(), "{set}");
                }
            }
        }
        // Another key's public key.
        let (_, other_pk) = rc.signature_generate(&mut rng).unwrap();
        assert_ne!(other_pk, pk);
        let sig = rc.sign(sk.as_bytes(), b"m").unwrap();
        for verifier in [&aws, &rc] {
            assert_eq!(
                verifier.verify(&other_pk, b"m", &sig),
                Err(CryptoError::InvalidSignature)
            );
        }
    }
}

#[test]
fn ml_dsa_secret_keys_must_be_32_byte_seeds_on_both_backends() {
    for (suite, _, set) in ML_DSA_SUITES {
        for cs in backends(suite) {
            for bad in [&[][..], &[7; 31][..], &[7; 33][..], &[7; 64][..]] {
                assert!(
                    matches!(
                        cs.signature_public_key(bad),
                        Err(CryptoError::InvalidKey { .. })
                    ),
                    "{set} {} bytes",
                    bad.len()
                );
                assert!(cs.sign(bad, b"m").is_err(), "{set}");
            }
        }
    }
}

/// A signature of one parameter set does not verify under another's suite, even with the
/// same seed (the public keys and signature lengths differ).
#[test]
fn ml_dsa_parameter_sets_do_not_cross() {
    let seed = [9u8; 32];
    let [sig44, sig65] = [ML_DSA_SUITES[0].0, ML_DSA_SUITES[1].0]
        .map(|suite| RustCryptoProvider.cipher_suite_provider(suite).unwrap());
    let pk44 = sig44.signature_public_key(&seed).unwrap();
    let s44 = sig44.sign(&seed, b"m").unwrap();
    assert!(sig65.verify(&pk44, b"m", &s44).is_err());
    let aws65 = AwsLcProvider
        .cipher_suite_provider(ML_DSA_SUITES[1].0)
        .unwrap();
    assert!(aws65.verify(&pk44, b"m", &s44).is_err());
}

/// The registry's copy of RustCrypto `ml-dsa`'s example keys (RFC 9881 Appendix C, the
/// LAMPS working group's `examples/` files), read at run time: `ML-DSA-{44,65,87}-seed.priv`
/// (PKCS#8, seed form) and `ML-DSA-{44,65,87}.pub` (SubjectPublicKeyInfo), PEM. `None` if
/// no `ml-dsa` crate is unpacked in the Cargo registry.
fn registry_example_keys() -> Option<std::path::PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cargo")))?;
    let mut found: Vec<_> = std::fs::read_dir(home.join("registry").join("src"))
        .ok()?
        .flatten()
        .flat_map(|index| {
            std::fs::read_dir(index.path())
                .into_iter()
                .flatten()
                .flatten()
        })
        .filter(|krate| krate.file_name().to_string_lossy().starts_with("ml-dsa-"))
        .map(|krate| krate.path().join("tests").join("examples"))
        .filter(|dir| dir.join("ML-DSA-44.pub").is_file())
        .collect();
    found.sort();
    found.pop()
}

/// The DER inside one PEM block (RFC 7468), base64 decoded (RFC 4648 §4).
fn pem_der(text: &str) -> Vec<u8> {
    let body: String = text
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            other => panic!("not base64: {other:#x}"),
        }
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in body.bytes().filter(|c| *c != b'=') {
        acc = (acc << 6) | value(c);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff).to_le_bytes()[0]);
        }
    }
    out
}

/// Key generation known answers from files this repository does not carry: the example
/// seeds (00 01 … 1f) expand, on both backends, to the example public keys. The DER is
/// checked by hand: the algorithm OID (id-ml-dsa-44/65/87, 2.16.840.1.101.3.4.3.17–19)
/// in both files, the seed as the `[0]` seed choice of the private key, the public key as
/// the BIT STRING's content (no unused bits). Skipped, saying so, where the registry has
/// no `ml-dsa` crate (never under `CI`).
#[test]
fn the_registry_ml_dsa_example_keys_are_known_answers_on_both_backends() {
    let Some(dir) = registry_example_keys() else {
        // CI builds the RustCrypto backend, so its registry has the crate: a skip there
        // would hide a missing check.
        assert!(
            std::env::var_os("CI").is_none(),
            "no ml-dsa crate with tests/examples in the Cargo registry under CI"
        );
        eprintln!("skipped: no ml-dsa crate with tests/examples in the Cargo registry");
        return;
    };
    eprintln!("example keys from {}", dir.display());
    for ((suite, scheme, set), oid_last) in ML_DSA_SUITES.into_iter().zip([0x11u8, 0x12, 0x13]) {
        let read = |name: String| pem_der(&std::fs::read_to_string(dir.join(name)).unwrap());
        let private = read(format!("{set}-seed.priv"));
        let spki = read(format!("{set}.pub"));
        let oid = [
            0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, oid_last,
        ];
        for der in [&private, &spki] {
            assert!(der.windows(oid.len()).any(|w| w == oid), "{set}: OID");
        }
        let (seed_tag, seed) = private.split_at(private.len() - 32);
        assert!(seed_tag.ends_with(&[0x80, 0x20]), "{set}: seed form");
        assert_eq!(seed, (0u8..32).collect::<Vec<_>>(), "{set}: example seed");
        let public_len = scheme.ml_dsa_lengths().unwrap().0;
        let (bit_string, public_key) = spki.split_at(spki.len() - public_len);
        assert_eq!(bit_string.last(), Some(&0x00), "{set}: unused bits");
        for cs in backends(suite) {
            assert_eq!(cs.signature_public_key(seed).unwrap(), public_key, "{set}");
        }
    }
}
