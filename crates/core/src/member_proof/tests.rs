//! Tests of the member-proof primitives (draft-mahy-mls-member-proof-00 as decided in
//! `crate::member_proof`): key derivation in every suite and backend, proofs, and the
//! outsider's check.

use conclave_crypto::{CipherSuite, CipherSuiteProvider, CryptoProvider, SeededRng};
use conclave_crypto_awslc::AwsLcProvider;
use conclave_crypto_rustcrypto::RustCryptoProvider;

use super::*;

fn rust(suite: u16) -> Box<dyn CipherSuiteProvider> {
    RustCryptoProvider
        .cipher_suite_provider(CipherSuite(suite))
        .unwrap()
}

const TARGET: ProofTarget<'static> = ProofTarget {
    group_id: b"group",
    epoch: 7,
    content_type: ContentType::Application,
};

fn keys(cs: &dyn CipherSuiteProvider, init: u8) -> MemberProofKeys {
    let nh = cs.hash_len();
    let secret = member_proof_secret(cs, &vec![init; nh], &vec![2; nh], b"group", 7).unwrap();
    MemberProofKeys::from_secret(cs, secret).unwrap()
}

/// Every suite the backends build here (Ed448 suites need RustCrypto's `x448` feature: the
/// `conclave-crypto` test `signature_derive` covers them).
#[test]
fn every_suite_derives_the_same_key_pair_from_the_same_secret_in_both_backends() {
    let suites = RustCryptoProvider.supported_cipher_suites();
    assert!(suites.len() >= 5, "{suites:?}");
    for CipherSuite(suite) in suites {
        let cs = rust(suite);
        let a = keys(cs.as_ref(), 1);
        let b = keys(cs.as_ref(), 1);
        assert_eq!(a, b, "suite {suite}: derivation is deterministic");
        assert_ne!(
            a.public_key(),
            keys(cs.as_ref(), 3).public_key(),
            "suite {suite}: another secret, another key"
        );
        // The derived secret key signs and the public key verifies.
        let signature = cs.sign(a.secret_key.as_bytes(), b"m").unwrap();
        cs.verify(a.public_key().as_ref(), b"m", &signature)
            .unwrap();
        if let Some(aws) = AwsLcProvider.cipher_suite_provider(CipherSuite(suite)) {
            let other = keys(aws.as_ref(), 1);
            assert_eq!(
                other.public_key(),
                a.public_key(),
                "suite {suite}: aws-lc and RustCrypto derive the same key"
            );
            let signature = aws.sign(other.secret_key.as_bytes(), b"m").unwrap();
            cs.verify(a.public_key().as_ref(), b"m", &signature)
                .unwrap();
        }
    }
}

#[test]
fn the_secret_depends_on_every_input() {
    let cs = rust(1);
    let cs = cs.as_ref();
    let base = member_proof_secret(cs, &[1; 32], &[2; 32], b"g", 1).unwrap();
    for other in [
        member_proof_secret(cs, &[9; 32], &[2; 32], b"g", 1).unwrap(),
        member_proof_secret(cs, &[1; 32], &[9; 32], b"g", 1).unwrap(),
        member_proof_secret(cs, &[1; 32], &[2; 32], b"h", 1).unwrap(),
        member_proof_secret(cs, &[1; 32], &[2; 32], b"g", 2).unwrap(),
    ] {
        assert_ne!(base, other);
    }
    assert_eq!(base.len(), 32);
}

fn aad_with(proof: Option<&MemberProofAad>, next: Option<&SignaturePublicKey>) -> Vec<u8> {
    add_items(&[], proof, next).unwrap()
}

#[test]
fn an_outsider_accepts_a_valid_proof_and_learns_its_nonce() {
    let cs = rust(2);
    let cs = cs.as_ref();
    let keys = keys(cs, 1);
    let mut rng = SeededRng::new(1);
    let proof = prove(cs, &keys, TARGET, None, &mut rng).unwrap();
    assert_eq!(proof.nonce.len(), cs.hash_len());
    assert_eq!(proof.member_proof_pub_key.as_ref(), Some(keys.public_key()));
    let seen = verify_for_outsider(
        cs,
        keys.public_key().as_ref(),
        b"group",
        7,
        ContentType::Application,
        &aad_with(Some(&proof), None),
    )
    .unwrap();
    assert_eq!(seen.nonce, proof.nonce);
    assert_eq!(seen.next_epoch_key, None);
    // Two proofs never share a nonce.
    let again = prove(cs, &keys, TARGET, None, &mut rng).unwrap();
    assert_ne!(again.nonce, proof.nonce);
}

#[test]
fn an_outsider_refuses_a_missing_forged_or_misdirected_proof() {
    let cs = rust(1);
    let cs = cs.as_ref();
    let right = keys(cs, 1);
    let wrong = keys(cs, 5);
    let mut rng = SeededRng::new(2);
    let check = |aad: &[u8], epoch: u64, content_type: ContentType| {
        verify_for_outsider(
            cs,
            right.public_key().as_ref(),
            b"group",
            epoch,
            content_type,
            aad,
        )
    };
    // No proof, or not even a SafeAAD.
    assert_eq!(
        check(&aad_with(None, None), 7, ContentType::Application),
        Err(MemberProofError::Missing)
    );
    assert!(matches!(
        check(b"", 7, ContentType::Application),
        Err(MemberProofError::Safe(SafeError::NotSafeAad(_)))
    ));
    // A proof under another key naming itself, or naming the right key.
    let forged = prove(cs, &wrong, TARGET, None, &mut rng).unwrap();
    assert_eq!(
        check(&aad_with(Some(&forged), None), 7, ContentType::Application),
        Err(MemberProofError::WrongKey)
    );
    let mut impostor = forged.clone();
    impostor.member_proof_pub_key = Some(right.public_key().clone());
    assert_eq!(
        check(
            &aad_with(Some(&impostor), None),
            7,
            ContentType::Application
        ),
        Err(MemberProofError::InvalidSignature)
    );
    impostor.member_proof_pub_key = None;
    assert_eq!(
        check(
            &aad_with(Some(&impostor), None),
            7,
            ContentType::Application
        ),
        Err(MemberProofError::InvalidSignature)
    );
    // A valid proof used for another epoch or content type.
    let valid = prove(cs, &right, TARGET, None, &mut rng).unwrap();
    let aad = aad_with(Some(&valid), None);
    assert_eq!(check(&aad, 7, ContentType::Application).map(|_| ()), Ok(()));
    assert_eq!(
        check(&aad, 8, ContentType::Application),
        Err(MemberProofError::InvalidSignature)
    );
    assert_eq!(
        check(&aad, 7, ContentType::Proposal),
        Err(MemberProofError::InvalidSignature)
    );
    // A short nonce.
    let mut short = valid.clone();
    short.nonce.pop();
    assert_eq!(
        check(&aad_with(Some(&short), None), 7, ContentType::Application),
        Err(MemberProofError::NonceLength {
            len: 31,
            expected: 32
        })
    );
}

#[test]
fn the_next_epoch_key_is_signed_and_only_allowed_in_a_commit() {
    let cs = rust(1);
    let cs = cs.as_ref();
    let current = keys(cs, 1);
    let next = keys(cs, 2);
    let other = keys(cs, 3);
    let mut rng = SeededRng::new(3);
    let commit = ProofTarget {
        content_type: ContentType::Commit,
        ..TARGET
    };
    let proof = prove(cs, &current, commit, Some(next.public_key()), &mut rng).unwrap();
    let key = current.public_key().as_ref();
    let seen = verify_for_outsider(
        cs,
        key,
        b"group",
        7,
        ContentType::Commit,
        &aad_with(Some(&proof), Some(next.public_key())),
    )
    .unwrap();
    assert_eq!(seen.next_epoch_key.as_ref(), Some(next.public_key()));
    // Swapping the announced key breaks the proof.
    assert_eq!(
        verify_for_outsider(
            cs,
            key,
            b"group",
            7,
            ContentType::Commit,
            &aad_with(Some(&proof), Some(other.public_key())),
        ),
        Err(MemberProofError::InvalidSignature)
    );
    // An application message cannot announce a key.
    let app = prove(cs, &current, TARGET, Some(next.public_key()), &mut rng).unwrap();
    assert_eq!(
        verify_for_outsider(
            cs,
            key,
            b"group",
            7,
            ContentType::Application,
            &aad_with(Some(&app), Some(next.public_key())),
        ),
        Err(MemberProofError::NextEpochKeyUnexpected)
    );
    // An external commit's key is read without a proof.
    assert_eq!(
        next_epoch_key_for_outsider(&aad_with(None, Some(next.public_key()))).unwrap(),
        Some(next.public_key().clone())
    );
}

#[test]
fn the_application_cannot_use_the_member_proof_components_and_items_stay_sorted() {
    let own = SafeAad {
        aad_items: vec![
            SafeAadItem {
                component_id: crate::messages::ComponentId(0x8001),
                aad_item_data: vec![1],
            },
            SafeAadItem {
                component_id: crate::messages::ComponentId(0x9000),
                aad_item_data: vec![2],
            },
        ],
    };
    let encoded = safe::encode_safe_aad(&own).unwrap();
    let cs = rust(1);
    let keys = keys(cs.as_ref(), 1);
    let proof = prove(cs.as_ref(), &keys, TARGET, None, &mut SeededRng::new(4)).unwrap();
    let merged = add_items(&encoded, Some(&proof), Some(keys.public_key())).unwrap();
    let parsed = safe::parse_safe_aad(&merged).unwrap();
    let ids: Vec<u16> = parsed.aad_items.iter().map(|i| i.component_id.0).collect();
    assert_eq!(ids, vec![0x8001, 0x8C04, 0x8C05, 0x9000]);
    assert_eq!(
        add_items(&merged, Some(&proof), None),
        Err(MemberProofError::ComponentReserved(0x8C04))
    );
}

#[test]
fn member_proofs_need_safe_aad() {
    let mut dictionary = AppDataDictionary::default();
    dictionary.insert(MEMBER_PROOF_COMPONENT, Vec::new());
    let without = vec![Extension {
        extension_type: APP_DATA_DICTIONARY_EXTENSION,
        extension_data: dictionary.to_bytes().unwrap(),
    }];
    assert_eq!(enabled(&without), Err(MemberProofError::RequiresSafeAad));
    dictionary.insert(
        crate::codepoints::SAFE_AAD_COMPONENT,
        crate::messages::ComponentsList::default()
            .to_bytes()
            .unwrap(),
    );
    let with = vec![Extension {
        extension_type: APP_DATA_DICTIONARY_EXTENSION,
        extension_data: dictionary.to_bytes().unwrap(),
    }];
    assert_eq!(enabled(&with), Ok(true));
    assert_eq!(enabled(&[]), Ok(false));
}
