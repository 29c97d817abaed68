//! HPKE (RFC 9180) against the Appendix A test vectors whose (KEM, KDF, AEAD) is an MLS
//! cipher suite — A.1 (suite 1), A.2 (suite 3), A.3 (suite 2), A.6 (suite 5) — in all four
//! modes, plus round trips and error paths on all seven suites.

// A test crate: helper functions outside `#[test]` may panic on a failed expectation.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeSet;

use common::rfc9180_vectors::{Rfc9180Vector, VECTORS};
use conclave_crypto::hpke::{self, Ephemeral, Mode, Psk};
use conclave_crypto::{CipherSuite, CipherSuiteProvider, CryptoError};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// The MLS suite whose HPKE configuration is the vector's (kem_id, kdf_id, aead_id).
fn mls_suite_for(v: &Rfc9180Vector) -> Option<CipherSuite> {
    CipherSuite::ALL.into_iter().find(|s| {
        let (kem, kdf, aead, _) = s.algorithms().unwrap();
        (kem.id(), kdf.id(), aead.id()) == (v.kem_id, v.kdf_id, v.aead_id)
    })
}

fn check_vector(cs: &dyn CipherSuiteProvider, v: &Rfc9180Vector) {
    let name = v.section;
    let info = h(v.info);
    let psk_bytes = h(v.psk);
    let psk_id = h(v.psk_id);
    let psk = (!psk_bytes.is_empty()).then_some(Psk {
        psk: &psk_bytes,
        psk_id: &psk_id,
    });
    let mode = match v.mode {
        0 => Mode::Base,
        1 => Mode::Psk,
        2 => Mode::Auth,
        3 => Mode::AuthPsk,
        m => panic!("{name}: unknown mode {m}"),
    };
    assert_eq!(mode.uses_psk(), psk.is_some(), "{name}: psk presence");

    // DeriveKeyPair (RFC 9180 §7.1.3).
    let eph = hpke::derive_key_pair(cs, &h(v.ikm_e)).unwrap();
    assert_eq!(eph.secret_key.as_bytes(), h(v.sk_em), "{name}: skEm");
    assert_eq!(eph.public_key, h(v.pk_em), "{name}: pkEm");
    let rcpt = hpke::derive_key_pair(cs, &h(v.ikm_r)).unwrap();
    assert_eq!(rcpt.secret_key.as_bytes(), h(v.sk_rm), "{name}: skRm");
    assert_eq!(rcpt.public_key, h(v.pk_rm), "{name}: pkRm");
    let sender = (!v.ikm_s.is_empty()).then(|| hpke::derive_key_pair(cs, &h(v.ikm_s)).unwrap());
    assert_eq!(
        mode.uses_auth(),
        sender.is_some(),
        "{name}: sender key presence"
    );
    if let Some(s) = &sender {
        assert_eq!(s.secret_key.as_bytes(), h(v.sk_sm), "{name}: skSm");
        assert_eq!(s.public_key, h(v.pk_sm), "{name}: pkSm");
    }
    let sk_r = h(v.sk_rm);
    let pk_r = h(v.pk_rm);
    let sk_s = sender.as_ref().map(|s| s.secret_key.as_bytes().to_vec());
    let pk_s = sender.as_ref().map(|s| s.public_key.clone());

    // The KEM (RFC 9180 §4.1).
    let (shared_secret, enc) = match &sk_s {
        None => hpke::encap_deterministic(cs, &pk_r, &h(v.ikm_e)).unwrap(),
        Some(sk_s) => hpke::auth_encap_deterministic(cs, &pk_r, sk_s, &h(v.ikm_e)).unwrap(),
    };
    assert_eq!(enc, h(v.enc), "{name}: enc");
    assert_eq!(
        shared_secret.as_bytes(),
        h(v.shared_secret),
        "{name}: shared_secret"
    );
    let decapped = match &pk_s {
        None => hpke::decap(cs, &enc, &sk_r).unwrap(),
        Some(pk_s) => hpke::auth_decap(cs, &enc, &sk_r, pk_s).unwrap(),
    };
    assert_eq!(
        decapped.as_bytes(),
        h(v.shared_secret),
        "{name}: Decap shared_secret"
    );

    // Key schedule (RFC 9180 §5.1), both roles.
    let (enc_s, mut ctx_s) = hpke::setup_sender(
        cs,
        &pk_r,
        &info,
        psk,
        sk_s.as_deref(),
        Ephemeral::Ikm(&h(v.ikm_e)),
    )
    .unwrap();
    assert_eq!(enc_s, h(v.enc), "{name}: setup enc");
    let mut ctx_r = hpke::setup_receiver(cs, &enc_s, &sk_r, &info, psk, pk_s.as_deref()).unwrap();
    for (role, ctx) in [("S", ctx_s.context()), ("R", ctx_r.context())] {
        assert_eq!(ctx.key().as_bytes(), h(v.key), "{name} {role}: key");
        assert_eq!(
            ctx.base_nonce().as_bytes(),
            h(v.base_nonce),
            "{name} {role}: base_nonce"
        );
        assert_eq!(
            ctx.exporter_secret().as_bytes(),
            h(v.exporter_secret),
            "{name} {role}: exporter_secret"
        );
    }
    let direct = hpke::key_schedule(cs, mode, shared_secret.as_bytes(), &info, psk).unwrap();
    assert_eq!(
        direct.key().as_bytes(),
        h(v.key),
        "{name}: key_schedule key"
    );

    // Encryptions (RFC 9180 §5.2): run the sequence up to the last listed number.
    let last = v.encryptions.iter().map(|e| e.seq).max().unwrap();
    let mut checked = 0;
    for seq in 0..=last {
        assert_eq!(ctx_s.context().seq(), u128::from(seq));
        match v.encryptions.iter().find(|e| e.seq == seq) {
            Some(e) => {
                assert_eq!(
                    ctx_s.context().current_nonce(),
                    h(e.nonce),
                    "{name}: nonce {seq}"
                );
                assert_eq!(
                    ctx_r.context().current_nonce(),
                    h(e.nonce),
                    "{name}: nonce {seq}"
                );
                let ct = ctx_s.seal(&h(e.aad), &h(e.pt)).unwrap();
                assert_eq!(ct, h(e.ct), "{name}: ct {seq}");
                let pt = ctx_r.open(&h(e.aad), &ct).unwrap();
                assert_eq!(pt.as_bytes(), h(e.pt), "{name}: pt {seq}");
                checked += 1;
            }
            None => {
                let ct = ctx_s.seal(b"filler", b"").unwrap();
                assert!(ctx_r.open(b"filler", &ct).unwrap().is_empty());
            }
        }
    }
    assert_eq!(checked, v.encryptions.len());

    // Exported values (RFC 9180 §5.3).
    for x in v.exports {
        let ctx = h(x.exporter_context);
        let want = h(x.exported_value);
        assert_eq!(
            ctx_s.export(&ctx, x.len).unwrap().as_bytes(),
            want,
            "{name}: export S"
        );
        assert_eq!(
            ctx_r.export(&ctx, x.len).unwrap().as_bytes(),
            want,
            "{name}: export R"
        );
    }

    // Single-shot APIs (RFC 9180 §6) on the first encryption.
    let first = v.encryptions.iter().find(|e| e.seq == 0).unwrap();
    if !mode.uses_auth() {
        let (enc1, ct1) = hpke::seal(
            cs,
            &pk_r,
            &info,
            &h(first.aad),
            &h(first.pt),
            psk,
            Ephemeral::Ikm(&h(v.ikm_e)),
        )
        .unwrap();
        assert_eq!(
            (enc1.clone(), ct1.clone()),
            (h(v.enc), h(first.ct)),
            "{name}: Seal"
        );
        let pt = match psk {
            None => hpke::open_base(cs, &enc1, &sk_r, &info, &h(first.aad), &ct1).unwrap(),
            Some(p) => hpke::open_psk(cs, &enc1, &sk_r, &info, &h(first.aad), &ct1, p).unwrap(),
        };
        assert_eq!(pt.as_bytes(), h(first.pt), "{name}: Open");
        if psk.is_none() {
            let x = &v.exports[0];
            let got =
                hpke::receive_export_base(cs, &enc1, &sk_r, &info, &h(x.exporter_context), x.len)
                    .unwrap();
            assert_eq!(got.as_bytes(), h(x.exported_value), "{name}: ReceiveExport");
        }
    }
}

#[test]
fn rfc9180_appendix_a_vectors() {
    let mut covered = BTreeSet::new();
    for v in VECTORS {
        let suite = mls_suite_for(v)
            .unwrap_or_else(|| panic!("{}: no MLS suite uses this configuration", v.section));
        let cs = common::suite_provider(suite.0).unwrap();
        check_vector(cs.as_ref(), v);
        covered.insert((v.section.split(' ').next().unwrap(), v.mode));
    }
    // A.1, A.2, A.3 and A.6, each in all four modes.
    assert_eq!(covered.len(), 16);
}

#[test]
fn rfc9180_vector_mismatch_is_detected() {
    // Corrupt the recipient key: decapsulation must give a different secret, and opening fails.
    let v = &VECTORS[0];
    let cs = common::suite_provider(mls_suite_for(v).unwrap().0).unwrap();
    let cs = cs.as_ref();
    let other = hpke::derive_key_pair(cs, b"another recipient ikm, 32 bytes!").unwrap();
    let ss = hpke::decap(cs, &h(v.enc), other.secret_key.as_bytes()).unwrap();
    assert_ne!(ss.as_bytes(), h(v.shared_secret));
    let e = &v.encryptions[0];
    let res = hpke::open_base(
        cs,
        &h(v.enc),
        other.secret_key.as_bytes(),
        &h(v.info),
        &h(e.aad),
        &h(e.ct),
    );
    assert_eq!(res.unwrap_err(), CryptoError::AeadOpenFailed);
}

#[test]
fn round_trips_on_all_suites() {
    let mut rng = common::TestRng::new(1);
    for suite in CipherSuite::ALL {
        let cs = common::suite_provider(suite.0).unwrap();
        let cs = cs.as_ref();
        let kp = hpke::generate_key_pair(cs, &mut rng).unwrap();
        assert_eq!(
            kp.public_key,
            cs.dh_public_key(kp.secret_key.as_bytes()).unwrap()
        );
        assert_eq!(kp.secret_key.len(), cs.kem().secret_key_len());
        let sk = kp.secret_key.as_bytes();
        let pk = &kp.public_key;

        let (enc, ct) = hpke::seal_base(cs, pk, b"info", b"aad", b"hello", &mut rng).unwrap();
        assert_eq!(enc.len(), cs.kem().enc_len());
        assert_eq!(ct.len(), 5 + cs.aead().tag_len());
        assert_eq!(
            hpke::open_base(cs, &enc, sk, b"info", b"aad", &ct)
                .unwrap()
                .as_bytes(),
            b"hello"
        );
        assert!(hpke::open_base(cs, &enc, sk, b"infO", b"aad", &ct).is_err());
        assert!(hpke::open_base(cs, &enc, sk, b"info", b"aaD", &ct).is_err());

        let psk = Psk {
            psk: &[7; 32],
            psk_id: b"id",
        };
        let (enc, ct) = hpke::seal_psk(cs, pk, b"i", b"a", b"psk msg", psk, &mut rng).unwrap();
        let pt = hpke::open_psk(cs, &enc, sk, b"i", b"a", &ct, psk).unwrap();
        assert_eq!(pt.as_bytes(), b"psk msg");
        let wrong = Psk {
            psk: &[8; 32],
            psk_id: b"id",
        };
        assert!(hpke::open_psk(cs, &enc, sk, b"i", b"a", &ct, wrong).is_err());
        assert!(hpke::open_base(cs, &enc, sk, b"i", b"a", &ct).is_err());

        let (enc, exported) = hpke::send_export_base(cs, pk, b"i", b"ctx", 42, &mut rng).unwrap();
        let received = hpke::receive_export_base(cs, &enc, sk, b"i", b"ctx", 42).unwrap();
        assert_eq!(exported.len(), 42);
        assert_eq!(exported, received);

        // Auth mode round trip.
        let s = hpke::generate_key_pair(cs, &mut rng).unwrap();
        let (ss, enc) = hpke::auth_encap(cs, pk, s.secret_key.as_bytes(), &mut rng).unwrap();
        assert_eq!(hpke::auth_decap(cs, &enc, sk, &s.public_key).unwrap(), ss);
        assert_ne!(hpke::decap(cs, &enc, sk).unwrap(), ss);

        // A failed Open does not advance the sequence number.
        let (enc, mut sctx) = hpke::setup_base_s(cs, pk, b"", &mut rng).unwrap();
        let mut rctx = hpke::setup_base_r(cs, &enc, sk, b"").unwrap();
        let c0 = sctx.seal(b"", b"m0").unwrap();
        let c1 = sctx.seal(b"", b"m1").unwrap();
        assert!(rctx.open(b"", &c1).is_err());
        assert_eq!(rctx.context().seq(), 0);
        assert_eq!(rctx.open(b"", &c0).unwrap().as_bytes(), b"m0");
        assert_eq!(rctx.open(b"", &c1).unwrap().as_bytes(), b"m1");
        assert_eq!(rctx.context().seq(), 2);
    }
}

#[test]
fn invalid_inputs_are_errors() {
    let mut rng = common::TestRng::new(2);
    for suite in CipherSuite::ALL {
        let cs = common::suite_provider(suite.0).unwrap();
        let cs = cs.as_ref();
        let kp = hpke::generate_key_pair(cs, &mut rng).unwrap();
        let sk = kp.secret_key.as_bytes();
        let pk = &kp.public_key;
        // Wrong lengths.
        assert!(hpke::encap(cs, &pk[1..], &mut rng).is_err());
        assert!(hpke::decap(cs, &pk[1..], sk).is_err());
        assert!(hpke::decap(cs, pk, &sk[1..]).is_err());
        assert!(hpke::decap(cs, &[], sk).is_err());
        // Inconsistent PSK inputs (RFC 9180 §5.1 VerifyPSKInputs).
        for bad in [
            Psk {
                psk: &[],
                psk_id: b"id",
            },
            Psk {
                psk: &[1; 32],
                psk_id: &[],
            },
        ] {
            assert!(hpke::seal_psk(cs, pk, b"", b"", b"", bad, &mut rng).is_err());
        }
        let ss = [0u8; 32];
        assert!(hpke::key_schedule(cs, Mode::Psk, &ss, b"", None).is_err());
        let psk = Psk {
            psk: &[1; 32],
            psk_id: b"id",
        };
        assert!(hpke::key_schedule(cs, Mode::Base, &ss, b"", Some(psk)).is_err());
        // Export length beyond 255 * Nh, and beyond two bytes.
        let (_, ctx) = hpke::setup_base_s(cs, pk, b"", &mut rng).unwrap();
        assert!(ctx.export(b"", 255 * cs.hash_len() + 1).is_err());
        assert!(ctx.export(b"", 70_000).is_err());
        assert_eq!(
            ctx.export(b"", 255 * cs.hash_len()).unwrap().len(),
            255 * cs.hash_len()
        );
        // A failing random source is reported.
        let mut failing = common::FailingRng;
        assert_eq!(
            hpke::generate_key_pair(cs, &mut failing).unwrap_err(),
            CryptoError::RandomFailed
        );
        assert_eq!(
            hpke::seal_base(cs, pk, b"", b"", b"", &mut failing).unwrap_err(),
            CryptoError::RandomFailed
        );
    }
}

#[test]
fn nist_derive_key_pair_is_valid_scalar() {
    // Many random IKMs: every derived secret key must be accepted by the backend.
    let mut rng = common::TestRng::new(3);
    for suite in [2u16, 5, 7] {
        let cs = common::suite_provider(suite).unwrap();
        let cs = cs.as_ref();
        for _ in 0..32 {
            let kp = hpke::generate_key_pair(cs, &mut rng).unwrap();
            assert!(cs.dh_secret_key_is_valid(kp.secret_key.as_bytes()));
            if suite == 5 {
                assert!(kp.secret_key.as_bytes()[0] <= 1, "P-521 bitmask");
            }
        }
    }
}
