//! Checks of the official MLS `crypto-basics.json` test vectors (test-vectors/FORMATS.md,
//! "Crypto Basics"; RFC 9420 §5.1.2, §5.1.3, §5.2, §8, §9).
//!
//! Each section of a case is one check per provider, so a failure names the section.

use conclave_crypto::labels;
use conclave_crypto::{CipherSuiteProvider, CryptoProvider, CryptoRandom, SeededRng};
use serde::Deserialize;

use crate::{Report, cases, expect_bytes};

/// One test case of `crypto-basics.json` (one cipher suite).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CryptoBasicsCase {
    pub(crate) cipher_suite: u16,
    pub(crate) ref_hash: RefHashCase,
    pub(crate) expand_with_label: ExpandWithLabelCase,
    pub(crate) derive_secret: DeriveSecretCase,
    pub(crate) derive_tree_secret: DeriveTreeSecretCase,
    pub(crate) sign_with_label: SignWithLabelCase,
    pub(crate) encrypt_with_label: EncryptWithLabelCase,
}

/// `ref_hash` of the crypto-basics vectors.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RefHashCase {
    pub(crate) label: String,
    pub(crate) value: String,
    pub(crate) out: String,
}

/// `expand_with_label` of the crypto-basics vectors.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ExpandWithLabelCase {
    pub(crate) secret: String,
    pub(crate) label: String,
    pub(crate) context: String,
    pub(crate) length: u16,
    pub(crate) out: String,
}

/// `derive_secret` of the crypto-basics vectors.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DeriveSecretCase {
    pub(crate) secret: String,
    pub(crate) label: String,
    pub(crate) out: String,
}

/// `derive_tree_secret` of the crypto-basics vectors.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DeriveTreeSecretCase {
    pub(crate) secret: String,
    pub(crate) label: String,
    pub(crate) generation: u32,
    pub(crate) length: u16,
    pub(crate) out: String,
}

/// `sign_with_label` of the crypto-basics vectors.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SignWithLabelCase {
    #[serde(rename = "priv")]
    pub(crate) private_key: String,
    #[serde(rename = "pub")]
    pub(crate) public_key: String,
    pub(crate) content: String,
    pub(crate) label: String,
    pub(crate) signature: String,
}

/// `encrypt_with_label` of the crypto-basics vectors.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct EncryptWithLabelCase {
    #[serde(rename = "priv")]
    pub(crate) private_key: String,
    #[serde(rename = "pub")]
    pub(crate) public_key: String,
    pub(crate) label: String,
    pub(crate) context: String,
    pub(crate) plaintext: String,
    pub(crate) kem_output: String,
    pub(crate) ciphertext: String,
}

/// `RefHash(label, value)` (RFC 9420 §5.2).
pub(crate) fn check_ref_hash(cs: &dyn CipherSuiteProvider, t: &RefHashCase) -> Result<(), String> {
    let value = unhex("ref_hash.value", &t.value)?;
    let out = labels::ref_hash(cs, &t.label, &value).map_err(|e| format!("ref_hash: {e}"))?;
    expect_bytes("ref_hash.out", &out, &unhex("ref_hash.out", &t.out)?)
}

/// `ExpandWithLabel(secret, label, context, length)` (RFC 9420 §8).
pub(crate) fn check_expand_with_label(
    cs: &dyn CipherSuiteProvider,
    t: &ExpandWithLabelCase,
) -> Result<(), String> {
    let secret = unhex("expand_with_label.secret", &t.secret)?;
    let context = unhex("expand_with_label.context", &t.context)?;
    let out = labels::expand_with_label(cs, &secret, &t.label, &context, usize::from(t.length))
        .map_err(|e| format!("expand_with_label: {e}"))?;
    expect_bytes(
        "expand_with_label.out",
        out.as_bytes(),
        &unhex("expand_with_label.out", &t.out)?,
    )
}

/// `DeriveSecret(secret, label)` (RFC 9420 §8).
pub(crate) fn check_derive_secret(
    cs: &dyn CipherSuiteProvider,
    t: &DeriveSecretCase,
) -> Result<(), String> {
    let secret = unhex("derive_secret.secret", &t.secret)?;
    let out =
        labels::derive_secret(cs, &secret, &t.label).map_err(|e| format!("derive_secret: {e}"))?;
    expect_bytes(
        "derive_secret.out",
        out.as_bytes(),
        &unhex("derive_secret.out", &t.out)?,
    )
}

/// `DeriveTreeSecret(secret, label, generation, length)` (RFC 9420 §9).
pub(crate) fn check_derive_tree_secret(
    cs: &dyn CipherSuiteProvider,
    t: &DeriveTreeSecretCase,
) -> Result<(), String> {
    let secret = unhex("derive_tree_secret.secret", &t.secret)?;
    let out =
        labels::derive_tree_secret(cs, &secret, &t.label, t.generation, usize::from(t.length))
            .map_err(|e| format!("derive_tree_secret: {e}"))?;
    expect_bytes(
        "derive_tree_secret.out",
        out.as_bytes(),
        &unhex("derive_tree_secret.out", &t.out)?,
    )
}

/// `VerifyWithLabel` of the given signature, then `SignWithLabel` + `VerifyWithLabel` with
/// the given key, and rejection of a signature over other content (RFC 9420 §5.1.2).
pub(crate) fn check_sign_with_label(
    cs: &dyn CipherSuiteProvider,
    t: &SignWithLabelCase,
) -> Result<(), String> {
    let sk = unhex("sign_with_label.priv", &t.private_key)?;
    let pk = unhex("sign_with_label.pub", &t.public_key)?;
    let content = unhex("sign_with_label.content", &t.content)?;
    let signature = unhex("sign_with_label.signature", &t.signature)?;

    let derived_pk = cs
        .signature_public_key(&sk)
        .map_err(|e| format!("sign_with_label: public key: {e}"))?;
    expect_bytes("sign_with_label: public key of priv", &derived_pk, &pk)?;

    labels::verify_with_label(cs, &pk, &t.label, &content, &signature)
        .map_err(|e| format!("sign_with_label: given signature does not verify: {e}"))?;

    let own = labels::sign_with_label(cs, &sk, &t.label, &content)
        .map_err(|e| format!("sign_with_label: signing failed: {e}"))?;
    labels::verify_with_label(cs, &pk, &t.label, &content, &own)
        .map_err(|e| format!("sign_with_label: own signature does not verify: {e}"))?;

    let mut other = content.clone();
    other.push(0);
    if labels::verify_with_label(cs, &pk, &t.label, &other, &signature).is_ok() {
        return Err("sign_with_label: signature verified over different content".into());
    }
    let other_label = format!("{}x", t.label);
    if labels::verify_with_label(cs, &pk, &other_label, &content, &signature).is_ok() {
        return Err("sign_with_label: signature verified under a different label".into());
    }
    Ok(())
}

/// `DecryptWithLabel` of the given ciphertext, then `EncryptWithLabel` + `DecryptWithLabel`,
/// and rejection under another label (RFC 9420 §5.1.3).
pub(crate) fn check_encrypt_with_label(
    cs: &dyn CipherSuiteProvider,
    t: &EncryptWithLabelCase,
    rng: &mut dyn CryptoRandom,
) -> Result<(), String> {
    let sk = unhex("encrypt_with_label.priv", &t.private_key)?;
    let pk = unhex("encrypt_with_label.pub", &t.public_key)?;
    let context = unhex("encrypt_with_label.context", &t.context)?;
    let plaintext = unhex("encrypt_with_label.plaintext", &t.plaintext)?;
    let kem_output = unhex("encrypt_with_label.kem_output", &t.kem_output)?;
    let ciphertext = unhex("encrypt_with_label.ciphertext", &t.ciphertext)?;

    let derived_pk = cs
        .dh_public_key(&sk)
        .map_err(|e| format!("encrypt_with_label: public key: {e}"))?;
    expect_bytes("encrypt_with_label: public key of priv", &derived_pk, &pk)?;

    let pt = labels::decrypt_with_label(cs, &sk, &t.label, &context, &kem_output, &ciphertext)
        .map_err(|e| format!("encrypt_with_label: decrypting the given ciphertext: {e}"))?;
    expect_bytes(
        "encrypt_with_label: decrypted plaintext",
        pt.as_bytes(),
        &plaintext,
    )?;

    let own = labels::encrypt_with_label(cs, &pk, &t.label, &context, &plaintext, rng)
        .map_err(|e| format!("encrypt_with_label: encrypting: {e}"))?;
    let pt = labels::decrypt_with_label(
        cs,
        &sk,
        &t.label,
        &context,
        &own.kem_output,
        &own.ciphertext,
    )
    .map_err(|e| format!("encrypt_with_label: decrypting own ciphertext: {e}"))?;
    expect_bytes("encrypt_with_label: round trip", pt.as_bytes(), &plaintext)?;

    let other_label = format!("{}x", t.label);
    if labels::decrypt_with_label(cs, &sk, &other_label, &context, &kem_output, &ciphertext).is_ok()
    {
        return Err("encrypt_with_label: decrypted under a different label".into());
    }
    Ok(())
}

/// Decodes a hex field, naming it in the error.
fn unhex(field: &str, value: &str) -> Result<Vec<u8>, String> {
    hex::decode(value).map_err(|e| format!("{field}: bad hex: {e}"))
}

/// Runs every section of every case on every provider that supports the case's suite.
pub(crate) fn check(
    json: &serde_json::Value,
    providers: &[Box<dyn CryptoProvider>],
    report: &mut Report,
) {
    let mut rng = SeededRng::new(0x5eed);
    for (i, case) in cases(json) {
        let case: CryptoBasicsCase = match serde_json::from_value(case.clone()) {
            Ok(case) => case,
            Err(e) => {
                report.record(|| format!("case {i}"), Err(format!("malformed case: {e}")));
                continue;
            }
        };
        report.for_each_provider(providers, case.cipher_suite.into(), i, |cs| {
            let failures: Vec<String> = check_case(cs, &case, &mut rng);
            if failures.is_empty() {
                Ok(())
            } else {
                Err(failures.join("; "))
            }
        });
    }
}

/// All checks of one test case; returns every failure (empty when the case passes).
pub(crate) fn check_case(
    cs: &dyn CipherSuiteProvider,
    t: &CryptoBasicsCase,
    rng: &mut dyn CryptoRandom,
) -> Vec<String> {
    let results = [
        check_ref_hash(cs, &t.ref_hash),
        check_expand_with_label(cs, &t.expand_with_label),
        check_derive_secret(cs, &t.derive_secret),
        check_derive_tree_secret(cs, &t.derive_tree_secret),
        check_sign_with_label(cs, &t.sign_with_label),
        check_encrypt_with_label(cs, &t.encrypt_with_label, rng),
    ];
    results.into_iter().filter_map(Result::err).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The checks must notice a wrong expected value (guards against checks that cannot fail).
    #[test]
    fn checks_detect_corruption() {
        let path = crate::default_vector_dir().join("crypto-basics.json");
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let provider = conclave_crypto_rustcrypto::RustCryptoProvider;
        let mut rng = SeededRng::new(7);
        let mut n = 0;
        for (_, case) in cases(&json) {
            let case: CryptoBasicsCase = serde_json::from_value(case.clone()).unwrap();
            let cs = provider
                .cipher_suite_provider(conclave_crypto::CipherSuite(case.cipher_suite))
                .unwrap();
            assert!(check_case(cs.as_ref(), &case, &mut rng).is_empty());
            let flip = |hex_str: &str| {
                let mut b = hex::decode(hex_str).unwrap();
                b[0] ^= 1;
                hex::encode(b)
            };
            let mut bad = case.clone();
            bad.ref_hash.out = flip(&bad.ref_hash.out);
            bad.expand_with_label.out = flip(&bad.expand_with_label.out);
            bad.derive_secret.out = flip(&bad.derive_secret.out);
            bad.derive_tree_secret.out = flip(&bad.derive_tree_secret.out);
            bad.sign_with_label.signature = flip(&bad.sign_with_label.signature);
            bad.encrypt_with_label.ciphertext = flip(&bad.encrypt_with_label.ciphertext);
            let failures = check_case(cs.as_ref(), &bad, &mut rng);
            assert_eq!(
                failures.len(),
                6,
                "suite {}: {failures:?}",
                case.cipher_suite
            );
            n += 1;
        }
        assert_eq!(n, 7);
    }
}
