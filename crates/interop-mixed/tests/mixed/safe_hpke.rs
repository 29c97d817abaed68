//! `SafeEncryptWithLabel` / `SafeDecryptWithLabel` (draft-ietf-mls-extensions-10 §4.1,
//! §4.2) between Conclave and OpenMLS 0.9.2: each encrypts to the other's HPKE key for a
//! component, and the other decrypts. OpenMLS puts the -07/-08 base label "Application" in
//! its `ComponentOperationLabel`, which the `openmls-0.9` profile selects; with the -10 base
//! label "MLS Component" its decryption fails.
//!
//! (OpenMLS 0.9.2 has no SafeSignWithLabel, §4.3, so signatures cannot be crossed.)

use conclave_core::codepoints::CodepointProfile;
use conclave_core::messages::{ComponentId, HpkeCiphertext};
use conclave_core::safe::{operation_label, safe_decrypt_with_label, safe_encrypt_with_label};
use conclave_crypto::{CipherSuite, CryptoProvider, SeededRng, hpke};
use conclave_crypto_rustcrypto::RustCryptoProvider;
use openmls::ciphersuite::{
    SafeEncryptionContext, safe_decrypt_with_label as openmls_decrypt,
    safe_encrypt_with_label as openmls_encrypt,
};
use openmls::prelude::{Ciphersuite, OpenMlsCrypto, OpenMlsProvider};
use openmls_rust_crypto::OpenMlsRustCrypto;

use crate::conclave_ext::PROFILE;

const COMPONENT: u16 = 0x8005;
const LABEL: &str = "sealed note";
const CONTEXT: &[u8] = b"group 42";

fn crosses(suite: u16) {
    let cs = RustCryptoProvider
        .cipher_suite_provider(CipherSuite(suite))
        .unwrap();
    let openmls_suite = Ciphersuite::try_from(suite).unwrap();
    let provider = OpenMlsRustCrypto::default();
    let crypto = provider.crypto();
    let mut rng = SeededRng::new(u64::from(suite));
    let conclave_keys = hpke::derive_key_pair(cs.as_ref(), &[0x11; 32]).unwrap();
    let openmls_keys = crypto
        .derive_hpke_keypair(openmls_suite.hpke_config(), &[0x22; 32])
        .unwrap();
    let context = |component_id| SafeEncryptionContext {
        component_id,
        label: LABEL,
        context: CONTEXT,
    };
    let label = |profile: CodepointProfile, component| {
        operation_label(profile, ComponentId(component), LABEL.as_bytes())
    };

    // Conclave → OpenMLS.
    let sealed = safe_encrypt_with_label(
        cs.as_ref(),
        &openmls_keys.public,
        &label(PROFILE, COMPONENT),
        CONTEXT,
        b"to openmls",
        &mut rng,
    )
    .unwrap();
    let ciphertext = openmls::prelude::HpkeCiphertext {
        kem_output: sealed.kem_output.clone().into(),
        ciphertext: sealed.ciphertext.clone().into(),
    };
    let opened = openmls_decrypt(
        &openmls_keys.private,
        &ciphertext,
        openmls_suite,
        context(COMPONENT),
        crypto,
    )
    .unwrap_or_else(|e| panic!("suite {suite}: OpenMLS could not open Conclave's: {e:?}"));
    assert_eq!(opened, b"to openmls");
    // Another component's key schedule does not open it (§4.2).
    assert!(
        openmls_decrypt(
            &openmls_keys.private,
            &ciphertext,
            openmls_suite,
            context(COMPONENT + 1),
            crypto,
        )
        .is_err()
    );

    // The -10 base label is not OpenMLS's.
    let draft = safe_encrypt_with_label(
        cs.as_ref(),
        &openmls_keys.public,
        &label(CodepointProfile::Draft, COMPONENT),
        CONTEXT,
        b"draft label",
        &mut rng,
    )
    .unwrap();
    let draft = openmls::prelude::HpkeCiphertext {
        kem_output: draft.kem_output.into(),
        ciphertext: draft.ciphertext.into(),
    };
    assert!(
        openmls_decrypt(
            &openmls_keys.private,
            &draft,
            openmls_suite,
            context(COMPONENT),
            crypto,
        )
        .is_err(),
        "suite {suite}: OpenMLS opened a ciphertext with the -10 base label"
    );

    // OpenMLS → Conclave.
    let sealed = openmls_encrypt(
        &conclave_keys.public_key,
        b"to conclave",
        openmls_suite,
        context(COMPONENT),
        crypto,
    )
    .unwrap();
    let ciphertext = HpkeCiphertext {
        kem_output: sealed.kem_output.as_slice().to_vec(),
        ciphertext: sealed.ciphertext.as_slice().to_vec(),
    };
    let opened = safe_decrypt_with_label(
        cs.as_ref(),
        conclave_keys.secret_key.as_bytes(),
        &label(PROFILE, COMPONENT),
        CONTEXT,
        &ciphertext,
    )
    .unwrap_or_else(|e| panic!("suite {suite}: Conclave could not open OpenMLS's: {e:?}"));
    assert_eq!(opened.as_bytes(), b"to conclave");
    assert!(
        safe_decrypt_with_label(
            cs.as_ref(),
            conclave_keys.secret_key.as_bytes(),
            &label(CodepointProfile::Draft, COMPONENT),
            CONTEXT,
            &ciphertext,
        )
        .is_err()
    );
}

#[test]
fn safe_hpke_ciphertexts_cross_between_conclave_and_openmls_under_the_profile_base_label() {
    for suite in [1, 2, 3] {
        crosses(suite);
    }
}
