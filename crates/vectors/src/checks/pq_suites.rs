//! `pq-suites.json`, our own known answers for the post-quantum suites of
//! draft-ietf-mls-pq-ciphersuites §3 (no official MLS-level vectors exist for them yet).
//!
//! One case per suite (Conclave's values for TBD1–TBD11, the ML-DSA suites included, and
//! MLSpp's 8–10), each with:
//! - `derive_key_pair`: `ikm` and the key pair HPKE `DeriveKeyPair` gives (draft-ietf-hpke-pq
//!   §3), as RFC 9420 §7.4 derives every tree node's key from its path secret;
//! - the `welcome.json` fields (`init_priv`, `signer_pub`, `key_package`, `welcome`): a
//!   two-member group's Welcome, checked like the official file (RFC 9420 §12.4.3.1: the
//!   GroupSecrets decrypted with the KEM, the GroupInfo's signature and confirmation tag);
//! - `epoch_authenticator` of the joined epoch (RFC 9420 §8.7), which the checker recomputes
//!   from the Welcome.
//!
//! The generator runs the group on the RustCrypto provider with a seeded random source, so
//! regenerating gives the same bytes; the checker runs on every provider.

use std::sync::Arc;

use conclave_codec::Encode;
use conclave_core::credential::BasicIdentityProvider;
use conclave_core::group::{
    CommitOptions, Group, GroupEnv, KeyPackageBundle, MemberParams, NewGroup, SigningIdentity,
};
use conclave_core::messages::{Add, Credential, MlsMessage, MlsMessageBody, Proposal};
use conclave_crypto::{CipherSuite, CipherSuiteProvider, CryptoProvider, SeededRng, hpke};
use serde_json::{Value, json};

use crate::{Report, expect_bytes, field_hex};

/// The file's name in `kat/`.
pub const FILE_NAME: &str = "pq-suites.json";

/// The time the generated KeyPackages and credentials are valid at.
const NOW: u64 = 1_800_000_000;

/// Checks every case on every provider that supports its suite, and lists each suite
/// (value, draft name, providers) in the report for the conformance command.
pub(crate) fn check(json: &Value, providers: &[Box<dyn CryptoProvider>], report: &mut Report) {
    report.check_suite_cases(json, providers, check_case);
    for case in json.as_array().into_iter().flatten() {
        let Some(value) = case
            .get("cipher_suite")
            .and_then(Value::as_u64)
            .and_then(|v| u16::try_from(v).ok())
        else {
            continue;
        };
        let suite = CipherSuite(value);
        let name = conclave_core::codepoints::pq_cipher_suite_of(suite)
            .map_or("not a post-quantum suite", |pq| pq.name());
        let on: Vec<&str> = providers
            .iter()
            .filter(|p| p.cipher_suite_provider(suite).is_some())
            .map(|p| p.name())
            .collect();
        report
            .covered
            .push(format!("suite {value:#06x} {name} [{}]", on.join(", ")));
    }
}

fn check_case(cs: &dyn CipherSuiteProvider, case: &Value) -> Result<(), String> {
    let derive = case.get("derive_key_pair").ok_or("no derive_key_pair")?;
    let kp = hpke::derive_key_pair(cs, &field_hex(derive, "ikm")?).map_err(|e| e.to_string())?;
    expect_bytes(
        "derived sk",
        kp.secret_key.as_bytes(),
        &field_hex(derive, "sk")?,
    )?;
    expect_bytes("derived pk", &kp.public_key, &field_hex(derive, "pk")?)?;
    let epoch_authenticator = super::welcome::check_case_secrets(cs, case)?;
    expect_bytes(
        "epoch_authenticator",
        &epoch_authenticator,
        &field_hex(case, "epoch_authenticator")?,
    )
}

/// Writes the file's contents: one case per post-quantum suite.
pub fn generate() -> Result<Value, String> {
    let provider = conclave_crypto_rustcrypto::RustCryptoProvider;
    let mut cases = Vec::new();
    for suite in CipherSuite::PQ.into_iter().chain(CipherSuite::MLSPP_PQ) {
        cases.push(generate_case(&provider, suite).map_err(|e| format!("suite {suite:?}: {e}"))?);
    }
    Ok(Value::Array(cases))
}

fn generate_case(provider: &dyn CryptoProvider, suite: CipherSuite) -> Result<Value, String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let cs = provider
        .cipher_suite_provider(suite)
        .ok_or("the RustCrypto provider lacks the suite")?;
    let mut rng = SeededRng::new(0x90_0000 + u64::from(suite.0));
    let [high, low] = suite.0.to_be_bytes();
    let ikm: Vec<u8> = (0..32u8).map(|i| i ^ low ^ high).collect();
    let kp = hpke::derive_key_pair(cs.as_ref(), &ikm).map_err(|e| err(&e))?;

    let env = GroupEnv {
        crypto: Arc::new(conclave_crypto_rustcrypto::RustCryptoProvider),
        identity: Arc::new(BasicIdentityProvider),
        psks: Arc::new(()),
    };
    let member = |name: &str, rng: &mut SeededRng| {
        SigningIdentity::generate(
            cs.as_ref(),
            Credential::Basic {
                identity: name.as_bytes().to_vec(),
            },
            rng,
        )
    };
    let alice = member("alice", &mut rng).map_err(|e| err(&e))?;
    let bob = member("bob", &mut rng).map_err(|e| err(&e))?;
    let signer_pub = alice.public_key.0.clone();
    let mut group = Group::create(
        MemberParams::new(env.clone(), alice),
        NewGroup::new(suite, b"pq known answers".to_vec()),
        NOW,
        &mut rng,
    )
    .map_err(|e| err(&e))?;
    let bundle = KeyPackageBundle::generate(
        &MemberParams::new(env.clone(), bob.clone()),
        suite,
        NOW,
        &mut rng,
    )
    .map_err(|e| err(&e))?;
    let options = CommitOptions {
        proposals: vec![Proposal::Add(Add {
            key_package: bundle.key_package.clone(),
        })],
        ..CommitOptions::default()
    };
    let output = group.commit(&options, NOW, &mut rng).map_err(|e| err(&e))?;
    group.merge_pending_commit().map_err(|e| err(&e))?;
    let welcome = output.welcome.ok_or("no Welcome")?;
    let key_package = MlsMessage::new(MlsMessageBody::KeyPackage(bundle.key_package));
    Ok(json!({
        "cipher_suite": suite.0,
        "derive_key_pair": {
            "ikm": hex::encode(&ikm),
            "sk": hex::encode(kp.secret_key.as_bytes()),
            "pk": hex::encode(&kp.public_key),
        },
        "init_priv": hex::encode(bundle.init_private_key.as_bytes()),
        "signer_pub": hex::encode(signer_pub),
        "key_package": hex::encode(key_package.to_bytes().map_err(|e| err(&e))?),
        "welcome": hex::encode(welcome.to_bytes().map_err(|e| err(&e))?),
        "epoch_authenticator": hex::encode(group.epoch_authenticator()),
    }))
}
