//! The constructions of draft-ietf-mls-targeted-messages without a group: the receiver-side
//! vectors of the -02 editor's copy (Appendix A; -01's are checked by the conformance
//! command), round trips of both versions, and one negative test per MUST of §6.1 and §7.

use conclave_codec::{Decode, Encode};
use conclave_crypto::{CipherSuite, CipherSuiteProvider, CryptoProvider, Secret, SeededRng, hpke};
use conclave_crypto_rustcrypto::RustCryptoProvider;

use super::*;
use crate::messages::{LeafNode, MlsMessage, MlsMessageBody};

/// One receiver-side vector (all cipher suite 1).
struct Vector {
    epoch: u64,
    sender_leaf_index: u32,
    recipient_leaf_index: u32,
    padding_length: usize,
    group_id: &'static str,
    exporter_secret: &'static str,
    sender_leaf_node: &'static str,
    recipient_encryption_priv: &'static str,
    authenticated_data: &'static str,
    application_data: &'static str,
    targeted_message: &'static str,
}

/// Appendix A of the editor's copy after draft-ietf-mls-targeted-messages-02.
const DRAFT_02_VECTORS: [Vector; 3] = [
    Vector {
        epoch: 1,
        sender_leaf_index: 0,
        recipient_leaf_index: 1,
        padding_length: 0,
        group_id: "f2262a40482cec0303230db5ac5fcf31",
        exporter_secret: "e7d6fb6557f6b0dd7b8b8a1eeb0ed16b3737b7564377aa4aa831999dd1bfbf6a",
        sender_leaf_node: "205d4f25388282dbeed3dc7a83c297be2d1cfb0120aeec7b776eaf1ce5c67b8d2220dd42b86b0339901510cb2a16018fa89c5315e738a6e15d09b5c0c373a1b9179400010673656e64657202000106000100020003000002000101000000006a8560a3000000006af42cb3004040cabc6b771ebb2331ee6a63497c8949fd63353fd42657596c7b1ee0e1a50e45bde622d871ac9e6b07060f02d65f162575a542a81cf07b019397d46b84d1a6c806",
        recipient_encryption_priv: "28e4c3614487885ffcb6f3f9a59a3a2a9109650890e10ffae0dc2e00df625ab8",
        authenticated_data: "",
        application_data: "4b41542074657374207061796c6f616420666f72207461726765746564206d65737361676573",
        targeted_message: "0001000610f2262a40482cec0303230db5ac5fcf310000000000000001000000010040777ffcb757af2885bd1d07bb2b181592847fb3735e8da278352c07a557a08d7ca230f2bd254579b4e91c396fdd15e4c9196b345f6162787581858f6f9f60ae4e8299a00d3fbc4018279f6630a3bdf2c3ff70a15596820404c0b8098131795b6d247f71afc96562fd652e4bd28ca153d093f9c1c134d1857e37f852e72bd9eb8a03ba6eb23c60484f12612ae7a7194a0430d6ee563e0e0a111bb9e46eee74b8f5f2f2017c7c1f6ee1120334776b42a368",
    },
    Vector {
        epoch: 5,
        sender_leaf_index: 0,
        recipient_leaf_index: 2,
        padding_length: 64,
        group_id: "494bb867937321cfa1ed12e38beb4ebc",
        exporter_secret: "099416d0ebdcfc56c4b902371abe0e56453818791e851a1d99d8cd2e3d9fa5d8",
        sender_leaf_node: "2069ed695cce5e378511ec918ecfcf0ec77aef8419b8aefff56fc69ae1bde4fe1220d5949ec3e201eb1131cca57e20552bf355300fb311274b2cf7fd568f2e112f0800010673656e64657202000106000100020003000002000101000000006a8560a3000000006af42cb300404028bad1f073bd390cac5c8d0143baf45c5f47623694d96c87f25eef82d4f8aff759075d6bd7c21b41bdd0dede88352da82ad50144a122895422207d41059ec60d",
        recipient_encryption_priv: "aa30b0aedaa86b1197cc8f8d4dc0e0427ca3b3b31e33361a7d9e4ed43a632bd0",
        authenticated_data: "726571756573742d69643d3432",
        application_data: "7365636f6e64207461726765746564207061796c6f6164",
        targeted_message: "0001000610494bb867937321cfa1ed12e38beb4ebc0000000000000005000000020d726571756573742d69643d343240770d3fc8dad6abb190188ea5e3a35bbc949520be96cb6fc4619b83165fc50500d9f04b6ff70717d9df81aeb3b7f99c042470cdee8adbc75419552c20802b968b75a3cc577ea5dc9ff4cd8d0cfccf9be1f963b6ae360d643aa0e82b5e373e0696d01b77409543a8cc820871e6fb77a2248c0ab36c74e5f9994068e5cd351ad109febddbc9dabff823763b59647f2f20d97307c1b52d784186c4349ae12fbece479657c5080146b323a7e3ddd82dd812ac8af669577a59fd6409dfc537c5ce7723d006ca30aa642ffa2709187d1d4616e813628c67aed7575de8b6014615afa038dc4c",
    },
    Vector {
        epoch: 42,
        sender_leaf_index: 3,
        recipient_leaf_index: 7,
        padding_length: 128,
        group_id: "e87d0d3f4c6704f4c7b293803608a2ca",
        exporter_secret: "2966045954d98555c3eb113c09053631d0a5da1331409fc2183f6e07ebb73a66",
        sender_leaf_node: "207ced1c787759a5538d0b4b40231a5c35417593458ac8f79f4270a20f4f5be72120ba40b1f4ed2a356eda58ed61fc9933324d2a2a2c9669257b2918f9bad57c5e7700010673656e64657202000106000100020003000002000101000000006a8560a3000000006af42cb3004040fa4214542d9a917fc3520a47692dd4c9ce4fa9f1786b0414b1209f46e0f1df687c0da0c558628918794beb0b2fd9a4ad2d0847722c552742e1a4ac0464e81b00",
        recipient_encryption_priv: "24c98ea1980e34892cfe90cb87c4e6757fcdcde7cd28e3b51d100ea907bdae2b",
        authenticated_data: "",
        application_data: "",
        targeted_message: "0001000610e87d0d3f4c6704f4c7b293803608a2ca000000000000002a0000000700407775080b98cd1a824901a329abf71dbb638ea997cfe0971100c878080a214937c645c42a187f2eece6e2728c14be16f1e86b7053940cdc0e483e32dd7842bb3bc51bc492556c55088f5087bf5a0f31d264ba94dd08c3b876384b6afd41e2d1424b0c2eef2eb61f923fd612f85583c8f5a831313f8f8e7021409157ccd86dba88622b7ff3c984bbf93ced6898e990414032b5cb610af88ac92e21ec00a269a3cf0a3073075a000952bac39e41074361012ad37a8194b0b9b42382b1e3e7191560bc664a8678555eb2d53389d1f0b7c231b3b4b4f1dc68f59e627e806ccdb000c98f3074e120b03a91746f77185af95b6446813a95132ef5c153587a785652a77cd85ef344d1134db24fbe38",
    },
];

fn suite() -> Box<dyn CipherSuiteProvider> {
    RustCryptoProvider
        .cipher_suite_provider(CipherSuite(1))
        .unwrap()
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn open_vector(
    cs: &dyn CipherSuiteProvider,
    v: &Vector,
    version: TargetedMessageVersion,
) -> Result<OpenedTargetedMessage, TargetedError> {
    let secrets = TargetedEpochSecrets::derive(cs, &Secret::new(h(v.exporter_secret))).unwrap();
    let sender = LeafNode::from_bytes(&h(v.sender_leaf_node)).unwrap();
    let MlsMessageBody::TargetedMessage(message) =
        MlsMessage::from_bytes(&h(v.targeted_message)).unwrap().body
    else {
        panic!("not a targeted message");
    };
    let sender_index = LeafIndex(v.sender_leaf_index);
    let lookup = |leaf: LeafIndex| (leaf == sender_index).then(|| sender.signature_key.0.clone());
    let key = Secret::new(h(v.recipient_encryption_priv));
    TargetedEpoch {
        version,
        cs,
        group_id: &h(v.group_id),
        epoch: v.epoch,
        secrets: &secrets,
    }
    .open(
        &message,
        &TargetedReceive {
            own_leaf: LeafIndex(v.recipient_leaf_index),
            own_private_key: &key,
            sender_signature_key: &lookup,
        },
    )
}

#[test]
fn draft_02_editors_copy_vectors_open_and_refuse_the_01_processing() {
    let cs = suite();
    for v in &DRAFT_02_VECTORS {
        let opened = open_vector(cs.as_ref(), v, TargetedMessageVersion::Draft02).unwrap();
        assert_eq!(opened.sender, LeafIndex(v.sender_leaf_index));
        assert_eq!(opened.content.application_data, h(v.application_data));
        assert_eq!(opened.content.padding_length, v.padding_length);
        assert_eq!(opened.authenticated_data, h(v.authenticated_data));
        // Same sender auth data and signature, different HPKE info and aad.
        assert_eq!(
            open_vector(cs.as_ref(), v, TargetedMessageVersion::Draft01),
            Err(TargetedError::ContentUndecryptable)
        );
    }
}

/// Two members' keys and an epoch, for round trips without a group.
struct Fixture {
    cs: Box<dyn CipherSuiteProvider>,
    secrets: TargetedEpochSecrets,
    sender_sig: (Secret, Vec<u8>),
    recipient_kem: hpke::HpkeKeyPair,
}

impl Fixture {
    fn new(rng: &mut SeededRng) -> Self {
        let cs = suite();
        let secrets = TargetedEpochSecrets::derive(cs.as_ref(), &Secret::new(vec![7; 32])).unwrap();
        let sender_sig = cs.signature_generate(rng).unwrap();
        let recipient_kem = hpke::generate_key_pair(cs.as_ref(), rng).unwrap();
        Self {
            cs,
            secrets,
            sender_sig,
            recipient_kem,
        }
    }

    fn epoch(&self, version: TargetedMessageVersion) -> TargetedEpoch<'_> {
        TargetedEpoch {
            version,
            cs: self.cs.as_ref(),
            group_id: b"group",
            epoch: 3,
            secrets: &self.secrets,
        }
    }

    fn send<'a>(&'a self, data: &'a [u8], aad: &'a [u8], padding: usize) -> TargetedSend<'a> {
        TargetedSend {
            sender: LeafIndex(0),
            signature_key: &self.sender_sig.0,
            recipient: LeafIndex(1),
            recipient_encryption_key: &self.recipient_kem.public_key,
            authenticated_data: aad,
            application_data: data,
            padding_length: padding,
        }
    }

    fn open(
        &self,
        version: TargetedMessageVersion,
        message: &TargetedMessage,
    ) -> Result<OpenedTargetedMessage, TargetedError> {
        let lookup = |leaf: LeafIndex| (leaf == LeafIndex(0)).then(|| self.sender_sig.1.clone());
        self.epoch(version).open(
            message,
            &TargetedReceive {
                own_leaf: LeafIndex(1),
                own_private_key: &self.recipient_kem.secret_key,
                sender_signature_key: &lookup,
            },
        )
    }
}

const VERSIONS: [TargetedMessageVersion; 2] = [
    TargetedMessageVersion::Draft01,
    TargetedMessageVersion::Draft02,
];

#[test]
fn both_versions_round_trip_with_padding_and_aad_and_do_not_cross() {
    let mut rng = SeededRng::new(1);
    let f = Fixture::new(&mut rng);
    for version in VERSIONS {
        let message = f
            .epoch(version)
            .seal(&f.send(b"psst", b"nonce-1", 5), &mut rng)
            .unwrap();
        let opened = f.open(version, &message).unwrap();
        assert_eq!(opened.sender, LeafIndex(0));
        assert_eq!(opened.content.application_data, b"psst");
        assert_eq!(opened.content.padding_length, 5);
        assert_eq!(opened.authenticated_data, b"nonce-1");
        let other = VERSIONS.into_iter().find(|v| *v != version).unwrap();
        assert_eq!(
            f.open(other, &message),
            Err(TargetedError::ContentUndecryptable)
        );
        // The wire encoding round trips inside an MLSMessage.
        let wire = MlsMessage::new(MlsMessageBody::TargetedMessage(message.clone()));
        assert_eq!(
            MlsMessage::from_bytes(&wire.to_bytes().unwrap()).unwrap(),
            wire
        );
    }
}

#[test]
fn section_7_refuses_another_group_epoch_or_recipient_first() {
    let mut rng = SeededRng::new(2);
    let f = Fixture::new(&mut rng);
    for version in VERSIONS {
        let message = f
            .epoch(version)
            .seal(&f.send(b"x", b"", 0), &mut rng)
            .unwrap();
        let mut other_group = message.clone();
        other_group.group_id = b"other".to_vec();
        assert_eq!(
            f.open(version, &other_group),
            Err(TargetedError::WrongGroup)
        );
        let mut other_epoch = message.clone();
        other_epoch.epoch = 4;
        assert_eq!(
            f.open(version, &other_epoch),
            Err(TargetedError::WrongEpoch {
                message: 4,
                current: 3
            })
        );
        let mut other_recipient = message.clone();
        other_recipient.recipient_leaf_index = LeafIndex(2);
        assert_eq!(
            f.open(version, &other_recipient),
            Err(TargetedError::NotRecipient {
                recipient: 2,
                own: 1
            })
        );
    }
}

#[test]
fn section_6_3_modified_sender_auth_data_or_ciphertext_sample_does_not_decrypt() {
    let mut rng = SeededRng::new(3);
    let f = Fixture::new(&mut rng);
    for version in VERSIONS {
        let message = f
            .epoch(version)
            .seal(&f.send(b"hello", b"", 0), &mut rng)
            .unwrap();
        let mut flipped = message.clone();
        flipped.encrypted_sender_auth_data[0] ^= 1;
        assert_eq!(
            f.open(version, &flipped),
            Err(TargetedError::SenderAuthDataUndecryptable)
        );
        // The key is derived from the ciphertext's first KDF.Nh bytes.
        let mut sample = message.clone();
        sample.ciphertext[0] ^= 1;
        assert_eq!(
            f.open(version, &sample),
            Err(TargetedError::SenderAuthDataUndecryptable)
        );
    }
}

/// Re-encrypts `auth` as the sender auth data of `message` (what any group member can do:
/// the key comes from the exporter).
fn replace_sender_auth_data(
    epoch: &TargetedEpoch<'_>,
    message: &mut TargetedMessage,
    auth: &TargetedMessageSenderAuthData,
) {
    let (key, nonce) = epoch
        .sender_auth_data_key_nonce(&message.ciphertext)
        .unwrap();
    message.encrypted_sender_auth_data = epoch
        .cs
        .aead_seal(
            key.as_bytes(),
            nonce.as_bytes(),
            &epoch
                .sender_auth_data_aad(message.recipient_leaf_index)
                .unwrap(),
            &auth.to_bytes().unwrap(),
        )
        .unwrap();
}

fn decrypt_sender_auth_data(
    epoch: &TargetedEpoch<'_>,
    message: &TargetedMessage,
) -> TargetedMessageSenderAuthData {
    let (key, nonce) = epoch
        .sender_auth_data_key_nonce(&message.ciphertext)
        .unwrap();
    let plain = epoch
        .cs
        .aead_open(
            key.as_bytes(),
            nonce.as_bytes(),
            &epoch
                .sender_auth_data_aad(message.recipient_leaf_index)
                .unwrap(),
            &message.encrypted_sender_auth_data,
        )
        .unwrap();
    TargetedMessageSenderAuthData::from_bytes(plain.as_bytes()).unwrap()
}

#[test]
fn section_7_sender_must_be_a_member_and_sender_auth_data_must_decode() {
    let mut rng = SeededRng::new(4);
    let f = Fixture::new(&mut rng);
    for version in VERSIONS {
        let epoch = f.epoch(version);
        let message = epoch.seal(&f.send(b"hi", b"", 0), &mut rng).unwrap();
        let mut auth = decrypt_sender_auth_data(&epoch, &message);
        auth.sender_leaf_index = LeafIndex(9);
        let mut blank_sender = message.clone();
        replace_sender_auth_data(&epoch, &mut blank_sender, &auth);
        assert_eq!(
            f.open(version, &blank_sender),
            Err(TargetedError::UnknownSender(9))
        );
        let mut garbage = message.clone();
        let (key, nonce) = epoch
            .sender_auth_data_key_nonce(&garbage.ciphertext)
            .unwrap();
        garbage.encrypted_sender_auth_data =
            f.cs.aead_seal(
                key.as_bytes(),
                nonce.as_bytes(),
                &epoch.sender_auth_data_aad(LeafIndex(1)).unwrap(),
                &[0xff, 0xff],
            )
            .unwrap();
        assert!(matches!(
            f.open(version, &garbage),
            Err(TargetedError::MalformedSenderAuthData(_))
        ));
    }
}

#[test]
fn section_5_signature_is_checked_before_the_content_is_decrypted() {
    let mut rng = SeededRng::new(5);
    let f = Fixture::new(&mut rng);
    for version in VERSIONS {
        let epoch = f.epoch(version);
        let data = [0x42; 64];
        let message = epoch.seal(&f.send(&data, b"aad", 0), &mut rng).unwrap();
        assert!(message.ciphertext.len() > f.cs.hash_len());
        // A forged signature on an otherwise intact message: the content would decrypt, but
        // the signature fails first.
        let mut auth = decrypt_sender_auth_data(&epoch, &message);
        auth.signature[0] ^= 1;
        let mut forged = message.clone();
        replace_sender_auth_data(&epoch, &mut forged, &auth);
        assert_eq!(
            f.open(version, &forged),
            Err(TargetedError::InvalidSignature)
        );
        // authenticated_data is covered by the signature.
        let mut aad = message.clone();
        aad.authenticated_data = b"AAD".to_vec();
        assert_eq!(f.open(version, &aad), Err(TargetedError::InvalidSignature));
        // So is the whole ciphertext (through its hash), beyond the sample.
        let mut tail = message.clone();
        let last = tail.ciphertext.len() - 1;
        tail.ciphertext[last] ^= 1;
        assert_eq!(f.open(version, &tail), Err(TargetedError::InvalidSignature));
        // A member impersonating another: signed with the wrong key.
        let impostor = f.cs.signature_generate(&mut rng).unwrap();
        let send = TargetedSend {
            signature_key: &impostor.0,
            ..f.send(b"hi", b"", 0)
        };
        let impersonated = epoch.seal(&send, &mut rng).unwrap();
        assert_eq!(
            f.open(version, &impersonated),
            Err(TargetedError::InvalidSignature)
        );
    }
}

#[test]
fn section_6_2_content_for_another_key_or_psk_does_not_decrypt() {
    let mut rng = SeededRng::new(6);
    let f = Fixture::new(&mut rng);
    let other_key = hpke::generate_key_pair(f.cs.as_ref(), &mut rng).unwrap();
    for version in VERSIONS {
        let send = TargetedSend {
            recipient_encryption_key: &other_key.public_key,
            ..f.send(b"hi", b"", 0)
        };
        let message = f.epoch(version).seal(&send, &mut rng).unwrap();
        assert_eq!(
            f.open(version, &message),
            Err(TargetedError::ContentUndecryptable)
        );
    }
}

#[test]
fn section_6_1_non_zero_padding_rejects_the_message() {
    let mut rng = SeededRng::new(7);
    let f = Fixture::new(&mut rng);
    for version in VERSIONS {
        let mut plaintext = Vec::new();
        conclave_codec::write_opaque(&mut plaintext, b"hi").unwrap();
        plaintext.extend_from_slice(&[0, 0, 1, 0]);
        let message = f
            .epoch(version)
            .seal_plaintext(&f.send(b"", b"", 0), &plaintext, &mut rng)
            .unwrap();
        assert_eq!(
            f.open(version, &message),
            Err(TargetedError::Content(TargetedContentError::NonZeroPadding))
        );
        let truncated = f
            .epoch(version)
            .seal_plaintext(&f.send(b"", b"", 0), &[0x05, b'a'], &mut rng)
            .unwrap();
        assert!(matches!(
            f.open(version, &truncated),
            Err(TargetedError::Content(TargetedContentError::Malformed(_)))
        ));
    }
}

#[test]
fn a_member_does_not_target_itself() {
    let mut rng = SeededRng::new(8);
    let f = Fixture::new(&mut rng);
    let send = TargetedSend {
        recipient: LeafIndex(0),
        ..f.send(b"hi", b"", 0)
    };
    assert_eq!(
        f.epoch(TargetedMessageVersion::Draft02)
            .seal(&send, &mut rng)
            .map(|_| ()),
        Err(TargetedError::ToSelf)
    );
}

#[test]
fn content_parsing_takes_every_trailing_zero_as_padding() {
    let content = TargetedMessageContent {
        application_data: b"abc".to_vec(),
        padding_length: 3,
    };
    let bytes = content.to_bytes().unwrap();
    assert_eq!(bytes, [3, b'a', b'b', b'c', 0, 0, 0]);
    assert_eq!(TargetedMessageContent::parse(&bytes).unwrap(), content);
    assert_eq!(
        TargetedMessageContent::parse(&[0]).unwrap(),
        TargetedMessageContent {
            application_data: Vec::new(),
            padding_length: 0
        }
    );
}
