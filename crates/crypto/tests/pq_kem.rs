//! The post-quantum KEMs (draft-ietf-mls-pq-ciphersuites §2) through our HPKE on the
//! RustCrypto provider: round trips on every PQ suite, a tampered `enc` gives a different
//! secret (ML-KEM's implicit rejection), no auth mode, and the FIPS 203 §7.2 modulus check.
//! The known answers are `drafts/hpke-pq-mlspp.json`, run by the conformance command.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use conclave_crypto::hpke;
use conclave_crypto::{CipherSuite, CryptoError, CryptoProvider, SeededRng};
use conclave_crypto_rustcrypto::RustCryptoProvider;

#[test]
fn every_pq_suite_seals_and_opens_and_refuses_a_tampered_enc() {
    let mut rng = SeededRng::new(7);
    for suite in CipherSuite::PQ.into_iter().chain(CipherSuite::MLSPP_PQ) {
        let cs = RustCryptoProvider.cipher_suite_provider(suite).unwrap();
        let kem = cs.kem();
        let kp = hpke::generate_key_pair(&*cs, &mut rng).unwrap();
        assert_eq!(kp.secret_key.len(), kem.secret_key_len(), "{suite:?}");
        assert_eq!(kp.public_key.len(), kem.public_key_len(), "{suite:?}");
        assert_eq!(
            hpke::public_key(&*cs, kp.secret_key.as_bytes()).unwrap(),
            kp.public_key
        );
        let (enc, ct) =
            hpke::seal_base(&*cs, &kp.public_key, b"info", b"aad", b"hello", &mut rng).unwrap();
        assert_eq!(enc.len(), kem.enc_len(), "{suite:?}");
        let pt =
            hpke::open_base(&*cs, &enc, kp.secret_key.as_bytes(), b"info", b"aad", &ct).unwrap();
        assert_eq!(pt.as_bytes(), b"hello");

        let (ss, enc) = hpke::encap(&*cs, &kp.public_key, &mut rng).unwrap();
        let mut tampered = enc.clone();
        tampered[0] ^= 1;
        let other = hpke::decap(&*cs, &tampered, kp.secret_key.as_bytes()).unwrap();
        assert_ne!(other, ss, "{suite:?}: implicit rejection");
        assert!(
            hpke::open_base(
                &*cs,
                &tampered,
                kp.secret_key.as_bytes(),
                b"info",
                b"aad",
                &ct
            )
            .is_err()
        );
        assert!(hpke::decap(&*cs, &enc[1..], kp.secret_key.as_bytes()).is_err());
        assert!(matches!(
            hpke::auth_encap(&*cs, &kp.public_key, kp.secret_key.as_bytes(), &mut rng),
            Err(CryptoError::UnsupportedCipherSuite(_))
        ));
    }
}

#[test]
fn derive_key_pair_is_deterministic_and_depends_on_the_ikm() {
    for suite in CipherSuite::PQ {
        let cs = RustCryptoProvider.cipher_suite_provider(suite).unwrap();
        let a = hpke::derive_key_pair(&*cs, &[1; 32]).unwrap();
        assert_eq!(a, hpke::derive_key_pair(&*cs, &[1; 32]).unwrap());
        assert_ne!(a, hpke::derive_key_pair(&*cs, &[2; 32]).unwrap());
    }
}

#[test]
fn an_encapsulation_key_with_an_unreduced_coefficient_is_refused() {
    let mut rng = SeededRng::new(9);
    let cs = RustCryptoProvider
        .cipher_suite_provider(CipherSuite::MLS_128_MLKEM768_AES256GCM_SHA384_ED25519)
        .unwrap();
    let kp = hpke::generate_key_pair(&*cs, &mut rng).unwrap();
    let mut bad = kp.public_key.clone();
    // The first 12-bit coefficient set to 0xFFF > q = 3329 (FIPS 203 §7.2 modulus check).
    bad[0] = 0xff;
    bad[1] |= 0x0f;
    assert!(hpke::encap(&*cs, &bad, &mut rng).is_err());
    assert!(hpke::encap(&*cs, &kp.public_key, &mut rng).is_ok());
}

/// OpenMLS 0.9.2's values decode to the algorithms of the draft suite they stand for, with
/// [`PqHpke::OpenMls09`]: the same KEM (and KEM id), KDF, AEAD and signature, and
/// `DeriveKeyPair` taking the secret key as plain `SHAKE256(ikm, Nsk)`, whose public key is
/// the one the draft suite computes for that secret key. HPKE to such a key opens under
/// either value: only the key derivation differs.
#[test]
fn openmls_values_decode_to_the_draft_algorithms_with_openmls_key_derivation() {
    use conclave_crypto::PqHpke;
    use shake::{ExtendableOutput as _, Update as _, XofReader as _};
    let mut rng = SeededRng::new(11);
    for (openmls, draft) in CipherSuite::OPENMLS_09_PQ {
        assert_eq!(openmls.openmls_09_pq_equivalent(), Some(draft));
        let (kem, kdf, aead, sig) = openmls.algorithms().unwrap();
        let (draft_kem, draft_kdf, draft_aead, draft_sig) = draft.algorithms().unwrap();
        assert_eq!(
            (kdf, aead, sig),
            (draft_kdf, draft_aead, draft_sig),
            "{openmls:?}"
        );
        assert_eq!(kem.pq_hpke(), Some(PqHpke::OpenMls09), "{openmls:?}");
        assert_eq!(draft_kem.pq_hpke(), Some(PqHpke::Draft), "{draft:?}");
        assert_eq!(kem.ml_kem(), draft_kem.ml_kem());
        assert_eq!(kem.dh_group(), draft_kem.dh_group());
        assert_eq!(kem.id(), draft_kem.id(), "{openmls:?}");
        assert!(openmls.is_post_quantum());

        let cs = RustCryptoProvider.cipher_suite_provider(openmls).unwrap();
        let draft_cs = RustCryptoProvider.cipher_suite_provider(draft).unwrap();
        let ikm = [0x42u8; 32];
        let kp = hpke::derive_key_pair(&*cs, &ikm).unwrap();
        let mut expected_sk = vec![0u8; kem.secret_key_len()];
        let mut shake = shake::Shake256::default();
        shake.update(&ikm);
        shake.finalize_xof().read(&mut expected_sk);
        assert_eq!(kp.secret_key.as_bytes(), expected_sk, "{openmls:?}");
        assert_eq!(
            hpke::public_key(&*draft_cs, kp.secret_key.as_bytes()).unwrap(),
            kp.public_key
        );
        assert_ne!(hpke::derive_key_pair(&*draft_cs, &ikm).unwrap(), kp);

        let (enc, ct) =
            hpke::seal_base(&*cs, &kp.public_key, b"info", b"aad", b"hi", &mut rng).unwrap();
        let sk = kp.secret_key.as_bytes();
        let pt = hpke::open_base(&*cs, &enc, sk, b"info", b"aad", &ct).unwrap();
        assert_eq!(pt.as_bytes(), b"hi");
        let under_draft = hpke::open_base(&*draft_cs, &enc, sk, b"info", b"aad", &ct);
        assert_eq!(under_draft.unwrap().as_bytes(), b"hi", "{openmls:?}");
    }
}
