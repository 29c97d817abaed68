//! Known-answer tests for each primitive, from public standards: FIPS 180-2 / RFC 6234
//! (SHA-2 of "abc"), RFC 4231 (HMAC), RFC 5869 (HKDF), RFC 8439 §2.8.2 and RFC 9180
//! Appendix A (AEADs, DHKEM key pairs), RFC 7748 (X25519, X448), RFC 8032 (Ed25519, Ed448)
//! and RFC 6979 §A.2.5 (deterministic ECDSA P-256).

// Test helpers outside `#[test]` functions: a panic here is a test failure, not a crash.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use conclave_crypto::{CipherSuite, CipherSuiteProvider, CryptoProvider};
use conclave_crypto_rustcrypto::RustCryptoProvider;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.split_whitespace().collect::<String>()).unwrap()
}

fn suite(id: u16) -> Box<dyn CipherSuiteProvider> {
    RustCryptoProvider
        .cipher_suite_provider(CipherSuite(id))
        .unwrap()
}

#[test]
fn sha2_of_abc() {
    assert_eq!(
        suite(1).hash(b"abc"),
        h("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
    assert_eq!(
        suite(7).hash(b"abc"),
        h(
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed
           8086072ba1e7cc2358baeca134c825a7"
        )
    );
    assert_eq!(
        suite(5).hash(b"abc"),
        h(
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a
           2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        )
    );
}

/// RFC 4231 §4.3, test case 2 (key "Jefe").
#[test]
fn hmac_rfc4231_case2() {
    let (key, data) = (b"Jefe", b"what do ya want for nothing?");
    assert_eq!(
        suite(2).mac(key, data),
        h("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    );
    assert_eq!(
        suite(7).mac(key, data),
        h(
            "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e
           8e2240ca5e69e2c78b3239ecfab21649"
        )
    );
    assert_eq!(
        suite(5).mac(key, data),
        h(
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554
           9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
        )
    );
}

/// RFC 5869 Appendix A.1 (test case 1, SHA-256).
#[test]
fn hkdf_rfc5869_case1() {
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
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf
           34007208d5b887185865"
        )
    );
}

/// `kdf_expand` accepts exactly up to `255 * Nh` bytes and a PRK of at least `Nh` bytes.
#[test]
fn hkdf_expand_limits() {
    for id in [1u16, 5, 7] {
        let s = suite(id);
        let nh = s.hash_len();
        let prk = vec![7u8; nh];
        assert_eq!(s.kdf_expand(&prk, b"x", 255 * nh).unwrap().len(), 255 * nh);
        assert!(s.kdf_expand(&prk, b"x", 255 * nh + 1).is_err());
        assert!(s.kdf_expand(&prk, b"x", usize::MAX).is_err());
        assert!(s.kdf_expand(&prk[1..], b"x", 16).is_err());
        assert_eq!(s.kdf_expand(&prk, b"x", 0).unwrap().len(), 0);
    }
}

/// RFC 8439 §2.8.2 (ChaCha20Poly1305 AEAD).
#[test]
fn chacha20poly1305_rfc8439() {
    let s = suite(3);
    let key = h("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
    let nonce = h("070000004041424344454647");
    let aad = h("50515253c0c1c2c3c4c5c6c7");
    let pt = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip \
for the future, sunscreen would be it.";
    let expected = h(
        "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6
        3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36
        92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc
        3ff4def08e4b7a9de576d26586cec64b6116
        1ae10b594f09e26a7e902ecbd0600691",
    );
    assert_eq!(s.aead_seal(&key, &nonce, &aad, pt).unwrap(), expected);
    assert_eq!(
        s.aead_open(&key, &nonce, &aad, &expected)
            .unwrap()
            .as_bytes(),
        pt
    );
}

/// RFC 9180 Appendix A: the first encryption of the AES-128-GCM (A.1), ChaCha20Poly1305 (A.2)
/// and AES-256-GCM (A.6) base-mode vectors.
#[test]
fn aead_rfc9180_vectors() {
    let pt = h("4265617574792069732074727574682c20747275746820626561757479");
    let aad = h("436f756e742d30");
    let cases: [(u16, &str, &str, &str); 3] = [
        (
            1,
            "4531685d41d65f03dc48f6b8302c05b0",
            "56d890e5accaaf011cff4b7d",
            "f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a9
             6d8770ac83d07bea87e13c512a",
        ),
        (
            3,
            "ad2744de8e17f4ebba575b3f5f5a8fa1f69c2a07f6e7500bc60ca6e3e3ec1c91",
            "5c4d98150661b848853b547f",
            "1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db
             21993c62ce81883d2dd1b51a28",
        ),
        (
            5,
            "751e346ce8f0ddb2305c8a2a85c70d5cf559c53093656be636b9406d4d7d1b70",
            "55ff7a7d739c69f44b25447b",
            "170f8beddfe949b75ef9c387e201baf4132fa7374593dfafa90768788b7b2b20
             0aafcc6d80ea4c795a7c5b841a",
        ),
    ];
    for (id, key, nonce, ct) in cases {
        let s = suite(id);
        let (key, nonce, ct) = (h(key), h(nonce), h(ct));
        assert_eq!(
            s.aead_seal(&key, &nonce, &aad, &pt).unwrap(),
            ct,
            "suite {id}"
        );
        assert_eq!(
            s.aead_open(&key, &nonce, &aad, &ct).unwrap().as_bytes(),
            pt,
            "suite {id}"
        );
    }
}

/// RFC 9180 Appendix A: `SerializePublicKey(pk(skEm)) == pkEm` for X25519 (A.1), P-256 (A.3)
/// and P-521 (A.6).
#[test]
fn dhkem_public_keys_rfc9180() {
    let cases: [(u16, &str, &str); 3] = [
        (
            1,
            "52c4a758a802cd8b936eceea314432798d5baf2d7e9235dc084ab1b9cfa2f736",
            "37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431",
        ),
        (
            2,
            "4995788ef4b9d6132b249ce59a77281493eb39af373d236a1fe415cb0c2d7beb",
            "04a92719c6195d5085104f469a8b9814d5838ff72b60501e2c4466e5e67b32
             5ac98536d7b61a1af4b78e5b7f951c0900be863c403ce65c9bfcb9382657222d18c4",
        ),
        (
            5,
            "014784c692da35df6ecde98ee43ac425dbdd0969c0c72b42f2e708ab9d5354
             15a8569bdacfcc0a114c85b8e3f26acf4d68115f8c91a66178cdbd03b7bcc5291e37
             4b",
            "040138b385ca16bb0d5fa0c0665fbbd7e69e3ee29f63991d3e9b5fa740aab8
             900aaeed46ed73a49055758425a0ce36507c54b29cc5b85a5cee6bae0cf1c21f2731
             ece2013dc3fb7c8d21654bb161b463962ca19e8c654ff24c94dd2898de12051f1ed0
             692237fb02b2f8d1dc1c73e9b366b529eb436e98a996ee522aef863dd5739d2f29b0",
        ),
    ];
    for (id, sk, pk) in cases {
        let s = suite(id);
        assert!(s.dh_secret_key_is_valid(&h(sk)), "suite {id}");
        assert_eq!(s.dh_public_key(&h(sk)).unwrap(), h(pk), "suite {id}");
    }
}

/// RFC 7748 §5.2 (first X25519 vector) and §6.1 (X25519 Diffie-Hellman).
#[test]
fn x25519_rfc7748() {
    let s = suite(1);
    let out = s
        .dh(
            &h("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
            &h("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"),
        )
        .unwrap();
    assert_eq!(
        out.as_bytes(),
        h("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552")
    );

    let a_sk = h("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    let a_pk = h("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    let b_sk = h("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    let b_pk = h("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    let shared = h("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    assert_eq!(s.dh_public_key(&a_sk).unwrap(), a_pk);
    assert_eq!(s.dh_public_key(&b_sk).unwrap(), b_pk);
    assert_eq!(s.dh(&a_sk, &b_pk).unwrap().as_bytes(), shared);
    assert_eq!(s.dh(&b_sk, &a_pk).unwrap().as_bytes(), shared);
}

/// RFC 7748 §6.2 (X448 Diffie-Hellman).
#[cfg(feature = "x448")]
#[test]
fn x448_rfc7748() {
    let s = suite(4);
    let a_sk = h("9a8f4925d1519f5775cf46b04b5800d4ee9ee8bae8bc5565d498c28d
                  d9c9baf574a9419744897391006382a6f127ab1d9ac2d8c0a598726b");
    let a_pk = h("9b08f7cc31b7e3e67d22d5aea121074a273bd2b83de09c63faa73d2c
                  22c5d9bbc836647241d953d40c5b12da88120d53177f80e532c41fa0");
    let b_sk = h("1c306a7ac2a0e2e0990b294470cba339e6453772b075811d8fad0d1d
                  6927c120bb5ee8972b0d3e21374c9c921b09d1b0366f10b65173992d");
    let b_pk = h("3eb7a829b0cd20f5bcfc0b599b6feccf6da4627107bdb0d4f345b430
                  27d8b972fc3e34fb4232a13ca706dcb57aec3dae07bdc1c67bf33609");
    let shared = h("07fff4181ac6cc95ec1c16a94a0f74d12da232ce40a77552281d282b
                    b60c0b56fd2464c335543936521c24403085d59a449a5037514a879d");
    assert_eq!(s.dh_public_key(&a_sk).unwrap(), a_pk);
    assert_eq!(s.dh_public_key(&b_sk).unwrap(), b_pk);
    assert_eq!(s.dh(&a_sk, &b_pk).unwrap().as_bytes(), shared);
    assert_eq!(s.dh(&b_sk, &a_pk).unwrap().as_bytes(), shared);
}

/// RFC 8032 §7.1, TEST 1 (empty message).
#[test]
fn ed25519_rfc8032_test1() {
    let s = suite(1);
    let sk = h("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
    let pk = h("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    let sig = h(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155
                 5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    );
    assert_eq!(s.signature_public_key(&sk).unwrap(), pk);
    assert_eq!(s.sign(&sk, b"").unwrap(), sig);
    s.verify(&pk, b"", &sig).unwrap();
}

/// RFC 8032 §7.4, -----TEST 1 (Ed448, empty message, no context).
#[cfg(feature = "x448")]
#[test]
fn ed448_rfc8032_test1() {
    let s = suite(4);
    let sk = h(
        "6c82a562cb808d10d632be89c8513ebf6c929f34ddfa8c9f63c9960ef6e348a3
                528c8a3fcc2f044e39a3fc5b94492f8f032e7549a20098f95b",
    );
    let pk = h(
        "5fd7449b59b461fd2ce787ec616ad46a1da1342485a70e1f8a0ea75d80e96778
                edf124769b46c7061bd6783df1e50f6cd1fa1abeafe8256180",
    );
    let sig = h(
        "533a37f6bbe457251f023c0d88f976ae2dfb504a843e34d2074fd823d41a591f
                 2b233f034f628281f2fd7a22ddd47d7828c59bd0a21bfd3980ff0d2028d4b18a
                 9df63e006c5d1c2d345b925d8dc00b4104852db99ac5c7cdda8530a113a0f4db
                 b61149f05a7363268c71d95808ff2e652600",
    );
    assert_eq!(s.signature_public_key(&sk).unwrap(), pk);
    assert_eq!(s.sign(&sk, b"").unwrap(), sig);
    s.verify(&pk, b"", &sig).unwrap();
}

/// DER `SEQUENCE { INTEGER r, INTEGER s }` for 32-byte `r`, `s` with their top bit set.
fn der_p256(r: &[u8], s: &[u8]) -> Vec<u8> {
    let mut out = vec![0x30, 0x46, 0x02, 0x21, 0x00];
    out.extend_from_slice(r);
    out.extend_from_slice(&[0x02, 0x21, 0x00]);
    out.extend_from_slice(s);
    out
}

/// RFC 6979 §A.2.5: ECDSA P-256 with SHA-256, message "sample" (deterministic `k`).
#[test]
fn ecdsa_p256_rfc6979_sample() {
    let s = suite(2);
    let sk = h("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721");
    let pk = h(
        "04 60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6
                   7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299",
    );
    let r = h("efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716");
    let sig_s = h("f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8");
    assert_eq!(s.signature_public_key(&sk).unwrap(), pk);
    let sig = s.sign(&sk, b"sample").unwrap();
    assert_eq!(sig, der_p256(&r, &sig_s));
    s.verify(&pk, b"sample", &sig).unwrap();
}
