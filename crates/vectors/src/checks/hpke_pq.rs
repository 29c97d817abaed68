//! `drafts/hpke-pq-mlspp.json`: HPKE test vectors for the post-quantum KEMs (MLSpp's
//! `test-vectors-pq.json`, RFC 9180 Appendix A layout, base mode), which the suites of
//! draft-ietf-mls-pq-ciphersuites §3 use through draft-ietf-hpke-pq.
//!
//! Per case and provider, on a suite whose KEM is the case's: `DeriveKeyPair(ikmR)` gives
//! `skRm`/`pkRm`, `Encap` with the randomness `ikmE` gives `enc`/`shared_secret`, and
//! `Decap(enc, skRm)` gives `shared_secret`. Where an MLS suite also has the case's KDF and
//! AEAD, the key schedule (`key`, `base_nonce`, `exporter_secret`), every encryption (opened)
//! and every export are checked too. Cases whose KEM no MLS suite uses (ML-KEM-512) are
//! skipped and listed; so are the KDF-dependent parts for the SHAKE KDFs (0x0010–0x0013),
//! which no MLS suite uses.

use conclave_crypto::hpke;
use conclave_crypto::{CipherSuite, CipherSuiteProvider, CryptoProvider};

use crate::{Report, cases, expect_bytes, field_hex, field_u64};

/// The file's name under the vector directory's `drafts/`.
pub const FILE_NAME: &str = "hpke-pq-mlspp.json";

/// Every suite whose algorithms we know.
fn known_suites() -> impl Iterator<Item = CipherSuite> {
    CipherSuite::ALL.into_iter().chain(CipherSuite::PQ)
}

/// Runs the file's cases.
pub fn check(json: &serde_json::Value, providers: &[Box<dyn CryptoProvider>], report: &mut Report) {
    for (i, case) in cases(json) {
        let ids = (
            field_u64(case, "kem_id"),
            field_u64(case, "kdf_id"),
            field_u64(case, "aead_id"),
        );
        let (Ok(kem_id), Ok(kdf_id), Ok(aead_id)) = ids else {
            report.record(|| format!("case {i}"), Err("missing algorithm ids".into()));
            continue;
        };
        // Prefer a suite with the whole HPKE configuration, else one with the KEM.
        let with_kem = |s: &CipherSuite| {
            s.algorithms()
                .is_some_and(|(kem, ..)| u64::from(kem.id()) == kem_id)
        };
        let full = known_suites().find(|s| {
            s.algorithms().is_some_and(|(kem, kdf, aead, _)| {
                (
                    u64::from(kem.id()),
                    u64::from(kdf.id()),
                    u64::from(aead.id()),
                ) == (kem_id, kdf_id, aead_id)
            })
        });
        let Some(suite) = full.or_else(|| known_suites().find(with_kem)) else {
            report.skipped.push(format!(
                "case {i}: KEM {kem_id:#06x} is in no MLS cipher suite"
            ));
            continue;
        };
        if full.is_none() {
            report.skipped.push(format!(
                "case {i}: KDF {kdf_id:#06x} / AEAD {aead_id:#06x} are in no MLS suite with KEM \
                 {kem_id:#06x}: KEM checked, key schedule not"
            ));
        }
        report.for_each_provider(providers, u64::from(suite.0), i, |cs| {
            check_kem(cs, case)?;
            if full.is_some() {
                check_schedule(cs, case)?;
            }
            Ok(())
        });
    }
}

fn check_kem(cs: &dyn CipherSuiteProvider, case: &serde_json::Value) -> Result<(), String> {
    let kp = hpke::derive_key_pair(cs, &field_hex(case, "ikmR")?).map_err(|e| e.to_string())?;
    let mut want_sk = field_hex(case, "skRm")?;
    let mut got_sk = kp.secret_key.as_bytes().to_vec();
    if cs.kem() == conclave_crypto::KemAlgorithm::DhKemX448 {
        // MLSpp serializes X448 secret keys clamped (RFC 7748 §5); ours are the raw
        // DeriveKeyPair output. Both clamp to the same scalar.
        clamp_x448(&mut want_sk);
        clamp_x448(&mut got_sk);
    }
    expect_bytes("skRm", &got_sk, &want_sk)?;
    expect_bytes("pkRm", &kp.public_key, &field_hex(case, "pkRm")?)?;
    let shared_secret = field_hex(case, "shared_secret")?;
    let enc = field_hex(case, "enc")?;
    let (ss, got_enc) = hpke::encap_deterministic(cs, &kp.public_key, &field_hex(case, "ikmE")?)
        .map_err(|e| format!("Encap: {e}"))?;
    expect_bytes("enc", &got_enc, &enc)?;
    expect_bytes("Encap shared_secret", ss.as_bytes(), &shared_secret)?;
    let ss = hpke::decap(cs, &enc, kp.secret_key.as_bytes()).map_err(|e| format!("Decap: {e}"))?;
    expect_bytes("Decap shared_secret", ss.as_bytes(), &shared_secret)
}

/// `decodeScalar448` (RFC 7748 §5): clear the two low bits, set the top bit.
fn clamp_x448(key: &mut [u8]) {
    if let Some(first) = key.first_mut() {
        *first &= 0xfc;
    }
    if let Some(last) = key.last_mut() {
        *last |= 0x80;
    }
}

fn check_schedule(cs: &dyn CipherSuiteProvider, case: &serde_json::Value) -> Result<(), String> {
    let mut ctx = hpke::setup_base_r(
        cs,
        &field_hex(case, "enc")?,
        &field_hex(case, "skRm")?,
        &field_hex(case, "info")?,
    )
    .map_err(|e| format!("SetupBaseR: {e}"))?;
    expect_bytes(
        "key",
        ctx.context().key().as_bytes(),
        &field_hex(case, "key")?,
    )?;
    expect_bytes(
        "base_nonce",
        ctx.context().base_nonce().as_bytes(),
        &field_hex(case, "base_nonce")?,
    )?;
    expect_bytes(
        "exporter_secret",
        ctx.context().exporter_secret().as_bytes(),
        &field_hex(case, "exporter_secret")?,
    )?;
    let encryptions = case
        .get("encryptions")
        .and_then(|e| e.as_array())
        .ok_or("no encryptions")?;
    for (j, e) in encryptions.iter().enumerate() {
        let pt = ctx
            .open(&field_hex(e, "aad")?, &field_hex(e, "ct")?)
            .map_err(|err| format!("encryption {j}: {err}"))?;
        expect_bytes(
            &format!("encryption {j} pt"),
            pt.as_bytes(),
            &field_hex(e, "pt")?,
        )?;
    }
    let exports = case
        .get("exports")
        .and_then(|e| e.as_array())
        .ok_or("no exports")?;
    for (j, x) in exports.iter().enumerate() {
        let len = usize::try_from(field_u64(x, "L")?).map_err(|e| e.to_string())?;
        let got = ctx
            .export(&field_hex(x, "exporter_context")?, len)
            .map_err(|err| format!("export {j}: {err}"))?;
        expect_bytes(
            &format!("export {j}"),
            got.as_bytes(),
            &field_hex(x, "exported_value")?,
        )?;
    }
    Ok(())
}
