//! Tests of the Safe Application Interface constructions (draft-ietf-mls-extensions-10 §4):
//! byte layouts against hand-built encodings, and every refusal.

use conclave_codec::{Decode, Encode};
use conclave_crypto::labels::expand_with_label;
use conclave_crypto::{CipherSuite, CipherSuiteProvider, CryptoProvider, SeededRng, hpke};
use conclave_crypto_rustcrypto::RustCryptoProvider;

use super::*;
use crate::codepoints::{APP_DATA_DICTIONARY_EXTENSION, APPLICATION_PSK_TYPE, SAFE_AAD_COMPONENT};
use crate::messages::{
    AppDataDictionary, ComponentsList, Extension, ExtensionType, PreSharedKeyId, Psk, SafeAad,
    SafeAadItem,
};

fn cs(suite: u16) -> Box<dyn CipherSuiteProvider> {
    RustCryptoProvider
        .cipher_suite_provider(CipherSuite(suite))
        .unwrap()
}

fn label(component: u16, label: &[u8]) -> ComponentOperationLabel {
    operation_label(CodepointProfile::Draft, ComponentId(component), label)
}

/// `opaque<V>` with a one-byte varint length (lengths below 64).
fn opaque(bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![u8::try_from(bytes.len()).unwrap()];
    assert!(out[0] < 64);
    out.extend_from_slice(bytes);
    out
}

#[test]
fn the_component_operation_label_is_base_label_component_then_label() {
    let encoded = encode_operation_label(&label(0x1234, b"sig")).unwrap();
    let mut expected = opaque(b"MLS Component");
    expected.extend_from_slice(&[0x12, 0x34]);
    expected.extend_from_slice(&opaque(b"sig"));
    assert_eq!(encoded, expected);
    // The OpenMLS 0.9 profile keeps the -07/-08 base label.
    let old = operation_label(CodepointProfile::OpenMls09, ComponentId(1), b"");
    assert_eq!(old.base_label, b"Application");
}

#[test]
fn safe_sign_signs_sign_content_with_the_prefixed_serialized_label() {
    let cs = cs(1);
    let cs = cs.as_ref();
    let (secret, public) = cs.signature_generate(&mut SeededRng::new(1)).unwrap();
    let l = label(7, b"receipt");
    let signature = safe_sign_with_label(cs, secret.as_bytes(), &l, b"content").unwrap();
    // SignContent { "MLS 1.0 " || ComponentOperationLabel, content }, built by hand.
    let mut full_label = b"MLS 1.0 ".to_vec();
    full_label.extend_from_slice(&l.to_bytes().unwrap());
    let mut sign_content = opaque(&full_label);
    sign_content.extend_from_slice(&opaque(b"content"));
    cs.verify(&public, &sign_content, &signature).unwrap();
    safe_verify_with_label(cs, &public, &l, b"content", &signature).unwrap();
}

#[test]
fn a_safe_signature_verifies_only_for_its_component_label_content_and_key() {
    let cs = cs(1);
    let cs = cs.as_ref();
    let mut rng = SeededRng::new(2);
    let (secret, public) = cs.signature_generate(&mut rng).unwrap();
    let (_, other_public) = cs.signature_generate(&mut rng).unwrap();
    let l = label(7, b"receipt");
    let signature = safe_sign_with_label(cs, secret.as_bytes(), &l, b"content").unwrap();
    for (key, l, content) in [
        (&public, label(8, b"receipt"), b"content".as_slice()),
        (&public, label(7, b"receipt2"), b"content"),
        (&public, label(7, b"receipt"), b"content2"),
        (&other_public, label(7, b"receipt"), b"content"),
        (
            &public,
            operation_label(CodepointProfile::OpenMls09, ComponentId(7), b"receipt"),
            b"content",
        ),
    ] {
        assert_eq!(
            safe_verify_with_label(cs, key, &l, content, &signature),
            Err(SafeError::InvalidSignature)
        );
    }
    // Nor is it an RFC 9420 signature under the label string alone.
    assert!(
        conclave_crypto::labels::verify_with_label(cs, &public, "receipt", b"content", &signature)
            .is_err()
    );
}

#[test]
fn safe_encryption_decrypts_only_with_the_same_component_label_context_and_key() {
    for suite in [1u16, 2, 3] {
        let cs = cs(suite);
        let cs = cs.as_ref();
        let mut rng = SeededRng::new(3);
        let pair = hpke::generate_key_pair(cs, &mut rng).unwrap();
        let other = hpke::generate_key_pair(cs, &mut rng).unwrap();
        let l = label(0x8001, b"blob");
        let ct =
            safe_encrypt_with_label(cs, &pair.public_key, &l, b"ctx", b"secret", &mut rng).unwrap();
        let pt = safe_decrypt_with_label(cs, pair.secret_key.as_bytes(), &l, b"ctx", &ct).unwrap();
        assert_eq!(pt.as_bytes(), b"secret");
        // It is EncryptWithLabel with the serialized label in place of the label string.
        let plain = conclave_crypto::labels::decrypt_with_label_bytes(
            cs,
            pair.secret_key.as_bytes(),
            &l.to_bytes().unwrap(),
            b"ctx",
            &ct.kem_output,
            &ct.ciphertext,
        )
        .unwrap();
        assert_eq!(plain.as_bytes(), b"secret");
        for (key, l, context) in [
            (&pair.secret_key, label(0x8002, b"blob"), b"ctx".as_slice()),
            (&pair.secret_key, label(0x8001, b"blob2"), b"ctx"),
            (&pair.secret_key, label(0x8001, b"blob"), b"ctx2"),
            (&other.secret_key, label(0x8001, b"blob"), b"ctx"),
        ] {
            assert_eq!(
                safe_decrypt_with_label(cs, key.as_bytes(), &l, context, &ct),
                Err(SafeError::DecryptionFailed),
                "suite {suite}"
            );
        }
    }
}

#[test]
fn the_other_hpke_modes_use_the_label_as_info_and_refuse_another_component() {
    let cs = cs(1);
    let cs = cs.as_ref();
    let mut rng = SeededRng::new(4);
    let recipient = hpke::generate_key_pair(cs, &mut rng).unwrap();
    let sender = hpke::generate_key_pair(cs, &mut rng).unwrap();
    let psk = hpke::Psk {
        psk: &[9; 32],
        psk_id: b"psk",
    };
    let l = label(42, b"stream");
    for (use_psk, authenticate) in [(false, false), (true, false), (false, true), (true, true)] {
        let psk = use_psk.then_some(psk);
        let sender_sk = authenticate.then_some(sender.secret_key.as_bytes());
        let sender_pk = authenticate.then_some(sender.public_key.as_slice());
        let (enc, mut sending) =
            safe_hpke_sender(cs, &recipient.public_key, &l, psk, sender_sk, &mut rng).unwrap();
        let ct = sending.seal(b"aad", b"message").unwrap();
        let exported = sending.export(b"exp", 32).unwrap();
        let mut receiving = safe_hpke_receiver(
            cs,
            &enc,
            recipient.secret_key.as_bytes(),
            &l,
            psk,
            sender_pk,
        )
        .unwrap();
        assert_eq!(receiving.open(b"aad", &ct).unwrap().as_bytes(), b"message");
        assert_eq!(receiving.export(b"exp", 32).unwrap(), exported);
        // info is the serialized label itself: plain HPKE with that info agrees.
        let plain = hpke::setup_receiver(
            cs,
            &enc,
            recipient.secret_key.as_bytes(),
            &l.to_bytes().unwrap(),
            psk,
            sender_pk,
        )
        .unwrap();
        assert_eq!(plain.export(b"exp", 32).unwrap(), exported);
        // Another component's receiver derives other keys.
        let mut wrong = safe_hpke_receiver(
            cs,
            &enc,
            recipient.secret_key.as_bytes(),
            &label(43, b"stream"),
            psk,
            sender_pk,
        )
        .unwrap();
        assert!(wrong.open(b"aad", &ct).is_err());
        assert_ne!(wrong.export(b"exp", 32).unwrap(), exported);
    }
}

/// `SafeExportSecret(id)` computed without tree math: the 2^16-leaf tree is perfect, so the
/// path from the root follows the bits of `id` from the most significant one (0 = left).
fn export_by_bits(cs: &dyn CipherSuiteProvider, root: &Secret, id: u16) -> Secret {
    let mut secret = root.clone();
    for bit in (0..16).rev() {
        let side: &[u8] = if id >> bit & 1 == 0 {
            b"left"
        } else {
            b"right"
        };
        secret = expand_with_label(cs, secret.as_bytes(), "tree", side, cs.hash_len()).unwrap();
    }
    secret
}

#[test]
fn the_exporter_tree_leaf_of_a_component_follows_the_secret_tree_derivation() {
    for suite in [1u16, 2, 3] {
        let cs = cs(suite);
        let cs = cs.as_ref();
        let root = Secret::new(vec![0x5a; cs.hash_len()]);
        let mut tree = ExporterTree::new(root.clone());
        for id in [0u16, 1, 2, 0x7fff, 0x8000, 0xabcd, 0xfffe, 0xffff] {
            let exported = tree.export(cs, ComponentId(id)).unwrap();
            assert_eq!(
                exported,
                export_by_bits(cs, &root, id),
                "suite {suite} id {id}"
            );
            assert_eq!(exported.len(), cs.hash_len());
        }
    }
}

#[test]
fn an_exported_secret_is_consumed_and_only_its_path_is_deleted() {
    let cs = cs(1);
    let cs = cs.as_ref();
    let root = Secret::new(vec![1; 32]);
    let mut tree = ExporterTree::new(root.clone());
    assert!(tree.can_export(ComponentId(5)));
    tree.export(cs, ComponentId(5)).unwrap();
    // The root was consumed; the 16 siblings on the path are kept (RFC 9420 §9.2).
    assert_eq!(tree.stored_nodes(), 16);
    assert!(!tree.can_export(ComponentId(5)));
    assert_eq!(
        tree.export(cs, ComponentId(5)),
        Err(SafeError::ExportConsumed(5))
    );
    // The neighbour's secret comes from a kept sibling and is still right.
    assert_eq!(
        tree.export(cs, ComponentId(4)).unwrap(),
        export_by_bits(cs, &root, 4)
    );
    assert_eq!(
        tree.export(cs, ComponentId(4)),
        Err(SafeError::ExportConsumed(4))
    );
    // After both leaves of a parent were exported, nothing below it is kept.
    assert_eq!(tree.stored_nodes(), 15);
}

#[test]
fn an_exporter_tree_survives_its_stored_form_and_rejects_inconsistent_ones() {
    let cs = cs(1);
    let cs = cs.as_ref();
    let root = Secret::new(vec![2; 32]);
    let mut tree = ExporterTree::new(root.clone());
    tree.export(cs, ComponentId(0x8000)).unwrap();
    let stored = tree.to_stored().unwrap().to_bytes().unwrap();
    let mut restored =
        ExporterTree::from_stored(StoredExporterTree::from_bytes(&stored).unwrap()).unwrap();
    assert_eq!(restored, tree);
    assert_eq!(
        restored.export(cs, ComponentId(0x8000)),
        Err(SafeError::ExportConsumed(0x8000))
    );
    assert_eq!(
        restored.export(cs, ComponentId(1)).unwrap(),
        export_by_bits(cs, &root, 1)
    );

    // A node outside the tree, a node twice, a node below another.
    let entry = |node: u32| {
        let mut out = node.to_be_bytes().to_vec();
        out.extend_from_slice(&opaque(&[3; 32]));
        out
    };
    for nodes in [vec![131_071u32], vec![4, 4], vec![65_535, 0]] {
        let body: Vec<u8> = nodes.iter().flat_map(|n| entry(*n)).collect();
        let mut bytes = Vec::new();
        conclave_codec::write_opaque(&mut bytes, &body).unwrap();
        let stored = StoredExporterTree::from_bytes(&bytes).unwrap();
        assert!(
            matches!(
                ExporterTree::from_stored(stored),
                Err(SafeError::MalformedExporterTree(_))
            ),
            "{nodes:?}"
        );
    }
}

#[test]
fn an_unavailable_exporter_tree_refuses_every_export() {
    let cs = cs(1);
    let mut tree = ExporterTree::unavailable();
    assert!(!tree.is_available());
    assert!(tree.to_stored().is_none());
    assert_eq!(
        tree.export(cs.as_ref(), ComponentId(1)),
        Err(SafeError::ExporterUnavailable)
    );
}

fn item(component: u16, data: &[u8]) -> SafeAadItem {
    SafeAadItem {
        component_id: ComponentId(component),
        aad_item_data: data.to_vec(),
    }
}

#[test]
fn a_safe_aad_must_be_the_whole_field_with_strictly_increasing_components() {
    // The empty SafeAAD is the zero-length vector: one byte.
    assert_eq!(encode_safe_aad(&SafeAad::default()).unwrap(), vec![0]);
    assert_eq!(parse_safe_aad(&[0]).unwrap(), SafeAad::default());
    let sorted = SafeAad {
        aad_items: vec![item(1, b"a"), item(0x8000, b"")],
    };
    let bytes = encode_safe_aad(&sorted).unwrap();
    assert_eq!(parse_safe_aad(&bytes).unwrap(), sorted);
    // Empty bytes, trailing bytes, a truncated struct.
    assert!(matches!(parse_safe_aad(&[]), Err(SafeError::NotSafeAad(_))));
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(matches!(
        parse_safe_aad(&trailing),
        Err(SafeError::NotSafeAad(_))
    ));
    assert!(matches!(
        parse_safe_aad(&bytes[..bytes.len() - 1]),
        Err(SafeError::NotSafeAad(_))
    ));
    // Unsorted and repeated components.
    for items in [
        vec![item(2, b"a"), item(1, b"b")],
        vec![item(1, b"a"), item(1, b"b")],
    ] {
        let aad = SafeAad { aad_items: items };
        assert_eq!(encode_safe_aad(&aad), Err(SafeError::SafeAadUnsorted));
        assert_eq!(
            parse_safe_aad(&aad.to_bytes().unwrap()),
            Err(SafeError::SafeAadUnsorted)
        );
    }
}

fn dictionary(entries: &[(u16, Vec<u8>)]) -> Extension {
    let mut dict = AppDataDictionary::default();
    for (id, data) in entries {
        dict.insert(ComponentId(*id), data.clone());
    }
    Extension {
        extension_type: APP_DATA_DICTIONARY_EXTENSION,
        extension_data: dict.to_bytes().unwrap(),
    }
}

#[test]
fn safe_aad_is_in_force_exactly_when_the_context_has_a_safe_aad_entry() {
    let empty_list = ComponentsList::default().to_bytes().unwrap();
    let listed = ComponentsList {
        component_ids: vec![ComponentId(0x8000)],
    }
    .to_bytes()
    .unwrap();
    let other = Extension {
        extension_type: ExtensionType(0xff00),
        extension_data: vec![1, 2],
    };
    assert_eq!(safe_aad_components(&[]).unwrap(), None);
    assert_eq!(
        safe_aad_components(std::slice::from_ref(&other)).unwrap(),
        None
    );
    assert_eq!(
        safe_aad_components(&[dictionary(&[(1, vec![0])])]).unwrap(),
        None
    );
    // Present with an empty list: in force.
    assert_eq!(
        safe_aad_components(&[other, dictionary(&[(SAFE_AAD_COMPONENT.0, empty_list)])]).unwrap(),
        Some(ComponentsList::default())
    );
    assert_eq!(
        safe_aad_components(&[dictionary(&[(SAFE_AAD_COMPONENT.0, listed)])])
            .unwrap()
            .map(|l| l.component_ids),
        Some(vec![ComponentId(0x8000)])
    );
    // A malformed dictionary or list is an error, not "no Safe AAD".
    let malformed = Extension {
        extension_type: APP_DATA_DICTIONARY_EXTENSION,
        extension_data: vec![5],
    };
    assert!(matches!(
        safe_aad_components(&[malformed]),
        Err(SafeError::MalformedAppDataDictionary(_))
    ));
    assert!(matches!(
        safe_aad_components(&[dictionary(&[(SAFE_AAD_COMPONENT.0, vec![9])])]),
        Err(SafeError::MalformedAppDataDictionary(_))
    ));
}

#[test]
fn outgoing_authenticated_data_is_checked_only_under_safe_aad() {
    let safe = [dictionary(&[(
        SAFE_AAD_COMPONENT.0,
        ComponentsList::default().to_bytes().unwrap(),
    )])];
    assert_eq!(outgoing_authenticated_data(&[], b"raw").unwrap(), b"raw");
    assert_eq!(outgoing_authenticated_data(&[], b"").unwrap(), b"");
    assert_eq!(outgoing_authenticated_data(&safe, b"").unwrap(), vec![0]);
    assert!(matches!(
        outgoing_authenticated_data(&safe, b"raw"),
        Err(SafeError::NotSafeAad(_))
    ));
    let aad = encode_safe_aad(&SafeAad {
        aad_items: vec![item(3, b"x")],
    })
    .unwrap();
    assert_eq!(outgoing_authenticated_data(&safe, &aad).unwrap(), aad);
    assert_eq!(
        incoming_safe_aad(CodepointProfile::Draft, &[], b"raw").unwrap(),
        None
    );
    assert!(incoming_safe_aad(CodepointProfile::Draft, &safe, b"").is_err());
    assert_eq!(
        incoming_safe_aad(CodepointProfile::Draft, &safe, &[0]).unwrap(),
        Some(SafeAad::default())
    );
}

#[test]
fn bytes_after_the_safe_aad_are_accepted_only_where_the_profile_allows_them() {
    let safe = [dictionary(&[(
        SAFE_AAD_COMPONENT.0,
        ComponentsList::default().to_bytes().unwrap(),
    )])];
    let aad = SafeAad {
        aad_items: vec![item(3, b"x")],
    };
    let mut with_tail = encode_safe_aad(&aad).unwrap();
    with_tail.extend_from_slice(b"plain aad");
    for profile in CodepointProfile::ALL {
        let got = incoming_safe_aad(profile, &safe, &with_tail);
        if profile.safe_aad_allows_trailing_data() {
            assert_eq!(got.unwrap(), Some(aad.clone()), "{profile}");
        } else {
            assert!(matches!(got, Err(SafeError::NotSafeAad(_))), "{profile}");
        }
        // Unsorted items are refused under every profile, tail or not.
        let mut unsorted = SafeAad {
            aad_items: vec![item(3, b"x"), item(2, b"y")],
        }
        .to_bytes()
        .unwrap();
        unsorted.extend_from_slice(b"tail");
        assert!(
            incoming_safe_aad(profile, &safe, &unsorted).is_err(),
            "{profile}"
        );
    }
    assert!(CodepointProfile::OpenMls09.safe_aad_allows_trailing_data());
}

#[test]
fn an_application_psk_id_is_type_3_then_component_then_psk_id() {
    let id = PreSharedKeyId {
        psk: Psk::Application {
            component_id: ComponentId(0xbeef),
            psk_id: b"pw".to_vec(),
        },
        psk_nonce: vec![7; 2],
    };
    let bytes = id.to_bytes().unwrap();
    assert_eq!(
        bytes,
        vec![APPLICATION_PSK_TYPE, 0xbe, 0xef, 2, b'p', b'w', 2, 7, 7]
    );
    assert_eq!(PreSharedKeyId::from_bytes(&bytes).unwrap(), id);
    assert_eq!(id.psk.psk_type(), crate::messages::PskType::Application);
    // PSKLabel { id, index, count } carries it unchanged (RFC 9420 §8.4).
    let mut label = bytes.clone();
    label.extend_from_slice(&[0, 1, 0, 2]);
    assert_eq!(crate::psk::psk_label(&id, 1, 2).unwrap(), label);
    // An application PSK and an external PSK with the same psk_id are different PSKs.
    let cs = cs(1);
    let external = PreSharedKeyId {
        psk: Psk::External {
            psk_id: b"pw".to_vec(),
        },
        psk_nonce: vec![7; 2],
    };
    let psk = [1u8; 32];
    assert_ne!(
        crate::psk::psk_secret(cs.as_ref(), &[(&id, &psk[..])]).unwrap(),
        crate::psk::psk_secret(cs.as_ref(), &[(&external, &psk[..])]).unwrap()
    );
}
