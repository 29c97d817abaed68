//! Unit and property tests of the codecs whose encoding depends on other fields
//! (confirmation tag, membership tag, padding, group context in the TBS) and of the
//! rejection of unknown select values; property tests for round trips and panic-free decoding.

use conclave_codec::{CodecError, Decode, Encode, Reader};
use conclave_crypto::CipherSuite;
use proptest::prelude::*;

use super::*;

fn basic_leaf(source: LeafNodeSource) -> LeafNode {
    LeafNode {
        encryption_key: HpkePublicKey(vec![1; 32]),
        signature_key: SignaturePublicKey(vec![2; 32]),
        credential: Credential::Basic {
            identity: b"alice".to_vec(),
        },
        capabilities: Capabilities {
            versions: vec![ProtocolVersion::MLS10],
            cipher_suites: vec![CipherSuite(1)],
            extensions: vec![ExtensionType(0x0a0a)],
            proposals: vec![ProposalType(0x1a1a)],
            credentials: vec![CredentialType::BASIC],
        },
        leaf_node_source: source,
        extensions: vec![],
        signature: vec![3; 64],
    }
}

fn framed(sender: Sender, content: Content) -> FramedContent {
    FramedContent {
        group_id: b"group".to_vec(),
        epoch: 7,
        sender,
        authenticated_data: vec![9, 9],
        content,
    }
}

fn empty_commit() -> Content {
    Content::Commit(Commit {
        proposals: vec![],
        path: None,
    })
}

fn remove_proposal() -> Content {
    Content::Proposal(Proposal::Remove(Remove {
        removed: LeafIndex(3),
    }))
}

fn context() -> GroupContext {
    GroupContext {
        version: ProtocolVersion::MLS10,
        cipher_suite: CipherSuite(1),
        group_id: b"group".to_vec(),
        epoch: 7,
        tree_hash: vec![4; 32],
        confirmed_transcript_hash: vec![5; 32],
        extensions: vec![],
    }
}

fn malformed<T: std::fmt::Debug>(result: Result<T, CodecError>) {
    assert!(
        matches!(result, Err(CodecError::Malformed { .. })),
        "{result:?}"
    );
}

fn invalid_value<T: std::fmt::Debug>(result: Result<T, CodecError>, expected_what: &str) {
    match result {
        Err(CodecError::InvalidValue { what, .. }) => assert_eq!(what, expected_what),
        other => panic!("expected InvalidValue for {expected_what}, got {other:?}"),
    }
}

// ---- confirmation_tag presence (RFC 9420 §6.1) ----

#[test]
fn confirmation_tag_is_encoded_only_for_commits() {
    let auth = FramedContentAuthData {
        signature: vec![1, 2],
        confirmation_tag: Some(vec![7; 3]),
    };
    let commit = AuthenticatedContent {
        wire_format: WireFormat::PUBLIC_MESSAGE,
        content: framed(Sender::Member(LeafIndex(0)), empty_commit()),
        auth: auth.clone(),
    };
    let bytes = commit.to_bytes().unwrap();
    assert_eq!(bytes.len(), commit.encoded_len());
    // Ends with signature<V> then confirmation_tag<V>.
    assert!(bytes.ends_with(&[2, 1, 2, 3, 7, 7, 7]));
    assert_eq!(AuthenticatedContent::from_bytes(&bytes).unwrap(), commit);

    let proposal = AuthenticatedContent {
        wire_format: WireFormat::PUBLIC_MESSAGE,
        content: framed(Sender::Member(LeafIndex(0)), remove_proposal()),
        auth: FramedContentAuthData {
            signature: vec![1, 2],
            confirmation_tag: None,
        },
    };
    let bytes = proposal.to_bytes().unwrap();
    assert!(bytes.ends_with(&[2, 1, 2]));
    assert_eq!(AuthenticatedContent::from_bytes(&bytes).unwrap(), proposal);
    // A tag after a proposal's auth data is just trailing garbage.
    let mut extra = bytes.clone();
    extra.extend_from_slice(&[3, 7, 7, 7]);
    assert_eq!(
        AuthenticatedContent::from_bytes(&extra),
        Err(CodecError::TrailingBytes(4))
    );
}

#[test]
fn confirmation_tag_presence_must_match_content_type() {
    let missing = AuthenticatedContent {
        wire_format: WireFormat::PUBLIC_MESSAGE,
        content: framed(Sender::Member(LeafIndex(0)), empty_commit()),
        auth: FramedContentAuthData {
            signature: vec![1],
            confirmation_tag: None,
        },
    };
    malformed(missing.to_bytes());
    let spurious = AuthenticatedContent {
        wire_format: WireFormat::PUBLIC_MESSAGE,
        content: framed(Sender::Member(LeafIndex(0)), Content::Application(vec![1])),
        auth: FramedContentAuthData {
            signature: vec![1],
            confirmation_tag: Some(vec![1]),
        },
    };
    malformed(spurious.to_bytes());
    // A commit whose auth data stops after the signature is truncated.
    let mut bytes = missing.wire_format.to_bytes().unwrap();
    missing.content.encode(&mut bytes).unwrap();
    missing.auth.encode(&mut bytes).unwrap();
    assert!(matches!(
        AuthenticatedContent::from_bytes(&bytes),
        Err(CodecError::UnexpectedEnd { .. })
    ));
}

// ---- membership_tag presence (RFC 9420 §6.2) ----

#[test]
fn membership_tag_only_for_member_senders() {
    let member = PublicMessage {
        content: framed(
            Sender::Member(LeafIndex(2)),
            Content::Application(vec![1, 2, 3]),
        ),
        auth: FramedContentAuthData {
            signature: vec![8],
            confirmation_tag: None,
        },
        membership_tag: Some(vec![6; 4]),
    };
    let bytes = member.to_bytes().unwrap();
    assert!(bytes.ends_with(&[1, 8, 4, 6, 6, 6, 6]));
    assert_eq!(PublicMessage::from_bytes(&bytes).unwrap(), member);

    for sender in [
        Sender::External(1),
        Sender::NewMemberProposal,
        Sender::NewMemberCommit,
    ] {
        let content = if sender == Sender::NewMemberCommit {
            empty_commit()
        } else {
            remove_proposal()
        };
        let tag = (sender == Sender::NewMemberCommit).then(|| vec![5]);
        let message = PublicMessage {
            content: framed(sender, content),
            auth: FramedContentAuthData {
                signature: vec![8],
                confirmation_tag: tag,
            },
            membership_tag: None,
        };
        let bytes = message.to_bytes().unwrap();
        assert_eq!(PublicMessage::from_bytes(&bytes).unwrap(), message);
        let mut extra = bytes;
        extra.extend_from_slice(&[1, 6]);
        assert_eq!(
            PublicMessage::from_bytes(&extra),
            Err(CodecError::TrailingBytes(2))
        );

        let with_tag = PublicMessage {
            membership_tag: Some(vec![6]),
            ..message
        };
        malformed(with_tag.to_bytes());
    }

    let without = PublicMessage {
        membership_tag: None,
        ..member
    };
    malformed(without.to_bytes());
}

// ---- PrivateMessageContent padding (RFC 9420 §6.3.1) ----

#[test]
fn private_content_padding_round_trip_and_zero_rule() {
    let content = PrivateMessageContent {
        content: Content::Application(b"hi".to_vec()),
        auth: FramedContentAuthData {
            signature: vec![1; 3],
            confirmation_tag: None,
        },
        padding: 5,
    };
    let bytes = content.to_bytes().unwrap();
    // No content type byte: opaque<V> application data, signature<V>, five zeros.
    assert_eq!(bytes, [2, b'h', b'i', 3, 1, 1, 1, 0, 0, 0, 0, 0]);
    assert_eq!(bytes.len(), content.encoded_len());
    let decoded =
        PrivateMessageContent::from_bytes_with_type(&bytes, ContentType::Application).unwrap();
    assert_eq!(decoded, content);

    for position in 7..bytes.len() {
        let mut bad = bytes.clone();
        bad[position] = 1;
        malformed(PrivateMessageContent::from_bytes_with_type(
            &bad,
            ContentType::Application,
        ));
    }

    // No padding at all is fine.
    let unpadded = PrivateMessageContent {
        padding: 0,
        ..content
    };
    let bytes = unpadded.to_bytes().unwrap();
    assert_eq!(
        PrivateMessageContent::from_bytes_with_type(&bytes, ContentType::Application).unwrap(),
        unpadded
    );
}

#[test]
fn private_content_commit_carries_confirmation_tag() {
    let content = PrivateMessageContent {
        content: empty_commit(),
        auth: FramedContentAuthData {
            signature: vec![1],
            confirmation_tag: Some(vec![2, 2]),
        },
        padding: 2,
    };
    let bytes = content.to_bytes().unwrap();
    assert_eq!(bytes, [0, 0, 1, 1, 2, 2, 2, 0, 0]);
    assert_eq!(
        PrivateMessageContent::from_bytes_with_type(&bytes, ContentType::Commit).unwrap(),
        content
    );
    let mut untagged = content;
    untagged.auth.confirmation_tag = None;
    malformed(untagged.to_bytes());
}

#[test]
fn private_content_decode_reads_rest_of_reader() {
    let mut reader = Reader::new(&[1, 0xaa, 0, 0, 0]);
    let content = PrivateMessageContent::decode_with_type(&mut reader, ContentType::Application);
    assert_eq!(
        content.unwrap(),
        PrivateMessageContent {
            content: Content::Application(vec![0xaa]),
            auth: FramedContentAuthData {
                signature: vec![],
                confirmation_tag: None
            },
            padding: 2,
        }
    );
    assert!(reader.is_empty());
}

// ---- FramedContentTBS and other to-be-signed encodings ----

#[test]
fn framed_content_tbs_includes_context_by_sender_type() {
    let ctx = context();
    let ctx_bytes = ctx.to_bytes().unwrap();
    for sender in [Sender::Member(LeafIndex(1)), Sender::NewMemberCommit] {
        let content = framed(sender, empty_commit());
        let tbs = FramedContentTbs::new(WireFormat::PUBLIC_MESSAGE, &content, Some(&ctx)).unwrap();
        let bytes = tbs.to_bytes().unwrap();
        let mut expected = vec![0, 1, 0, 1];
        expected.extend(content.to_bytes().unwrap());
        expected.extend(&ctx_bytes);
        assert_eq!(bytes, expected);
        assert_eq!(bytes.len(), tbs.encoded_len());
        malformed(FramedContentTbs::new(
            WireFormat::PUBLIC_MESSAGE,
            &content,
            None,
        ));
    }
    for sender in [Sender::External(0), Sender::NewMemberProposal] {
        let content = framed(sender, remove_proposal());
        let with = FramedContentTbs::new(WireFormat::PUBLIC_MESSAGE, &content, Some(&ctx)).unwrap();
        let without = FramedContentTbs::new(WireFormat::PUBLIC_MESSAGE, &content, None).unwrap();
        let mut expected = vec![0, 1, 0, 1];
        expected.extend(content.to_bytes().unwrap());
        assert_eq!(with.to_bytes().unwrap(), expected);
        assert_eq!(without.to_bytes().unwrap(), expected);
    }
}

#[test]
fn authenticated_content_tbm_is_tbs_then_auth() {
    let ctx = context();
    let content = framed(Sender::Member(LeafIndex(1)), Content::Application(vec![1]));
    let auth = FramedContentAuthData {
        signature: vec![4, 4],
        confirmation_tag: None,
    };
    let tbm = authenticated_content_tbm(&content, &auth, Some(&ctx)).unwrap();
    let mut expected = FramedContentTbs::new(WireFormat::PUBLIC_MESSAGE, &content, Some(&ctx))
        .unwrap()
        .to_bytes();
    expected.as_mut().unwrap().extend([2, 4, 4]);
    assert_eq!(tbm, expected.unwrap());
    let bad = FramedContentAuthData {
        confirmation_tag: Some(vec![1]),
        ..auth
    };
    malformed(authenticated_content_tbm(&content, &bad, Some(&ctx)));
}

#[test]
fn leaf_node_tbs_appends_group_for_update_and_commit() {
    let kp_leaf = basic_leaf(LeafNodeSource::KeyPackage(Lifetime {
        not_before: 1,
        not_after: 2,
    }));
    let full = kp_leaf.to_bytes().unwrap();
    let tbs = kp_leaf.to_be_signed(None).unwrap();
    // Minus signature<V>: a two-byte varint (64 > 63) and 64 bytes.
    assert_eq!(tbs, full[..full.len() - 66]);
    assert_eq!(
        kp_leaf.to_be_signed(Some((b"g", LeafIndex(5)))).unwrap(),
        tbs
    );

    for source in [LeafNodeSource::Update, LeafNodeSource::Commit(vec![7; 32])] {
        let leaf = basic_leaf(source);
        malformed(leaf.to_be_signed(None));
        let tbs = leaf.to_be_signed(Some((b"g", LeafIndex(5)))).unwrap();
        let full = leaf.to_bytes().unwrap();
        let unsigned = &full[..full.len() - 66];
        let mut expected = unsigned.to_vec();
        expected.extend([1, b'g', 0, 0, 0, 5]);
        assert_eq!(tbs, expected);
    }
}

#[test]
fn key_package_and_group_info_tbs_drop_the_signature() {
    let kp = KeyPackage {
        version: ProtocolVersion::MLS10,
        cipher_suite: CipherSuite(1),
        init_key: HpkePublicKey(vec![1; 32]),
        leaf_node: Box::new(basic_leaf(LeafNodeSource::KeyPackage(Lifetime {
            not_before: 0,
            not_after: 9,
        }))),
        extensions: vec![],
        signature: vec![9; 10],
    };
    let full = kp.to_bytes().unwrap();
    assert_eq!(kp.to_be_signed().unwrap(), full[..full.len() - 11]);
    assert_eq!(KeyPackage::from_bytes(&full).unwrap(), kp);

    let gi = GroupInfo {
        group_context: context(),
        extensions: vec![],
        confirmation_tag: vec![1; 32],
        signer: LeafIndex(4),
        signature: vec![9; 10],
    };
    let full = gi.to_bytes().unwrap();
    assert_eq!(gi.to_be_signed().unwrap(), full[..full.len() - 11]);
    assert_eq!(GroupInfo::from_bytes(&full).unwrap(), gi);
}

// ---- unknown select values are rejected ----

#[test]
fn unknown_enum_values_are_rejected() {
    invalid_value(ContentType::from_bytes(&[0]), "ContentType");
    invalid_value(ContentType::from_bytes(&[4]), "ContentType");
    invalid_value(Sender::from_bytes(&[0]), "Sender");
    invalid_value(Sender::from_bytes(&[5]), "Sender");
    invalid_value(SenderType::from_bytes(&[5]), "SenderType");
    invalid_value(Proposal::from_bytes(&[0, 0x0b]), "Proposal");
    invalid_value(Proposal::from_bytes(&[0xf0, 0x02]), "Proposal");
    invalid_value(Proposal::from_bytes(&[0x0a, 0x0a]), "Proposal");
    invalid_value(ProposalOrRef::from_bytes(&[3]), "ProposalOrRef");
    invalid_value(Credential::from_bytes(&[0x4a, 0x4a, 0]), "Credential");
    invalid_value(Node::from_bytes(&[3]), "Node");
    invalid_value(LeafNodeSource::from_bytes(&[0]), "LeafNodeSource");
    // 3 is application (draft-ietf-mls-extensions-10 §4.5).
    invalid_value(Psk::from_bytes(&[4]), "Psk");
    invalid_value(ResumptionPskUsage::from_bytes(&[4]), "ResumptionPskUsage");
    invalid_value(Content::from_bytes(&[0, 0]), "Content");
    // MLSMessage: version 1, wire_format 7 (6 is mls_targeted_message).
    invalid_value(MlsMessage::from_bytes(&[0, 1, 0, 7]), "MlsMessageBody");
    // optional<T> presence byte must be 0 or 1.
    invalid_value(RatchetTreeNodes::from_bytes(&[1, 2]), "optional presence");
}

#[test]
fn unknown_registry_values_are_kept() {
    // GREASE and private-use values survive in lists (RFC 9420 §13.5).
    let caps = Capabilities {
        versions: vec![ProtocolVersion(0x0a0a)],
        cipher_suites: vec![CipherSuite(0x2a2a)],
        extensions: vec![ExtensionType(0xff00)],
        proposals: vec![ProposalType(0xfafa)],
        credentials: vec![CredentialType(0x4a4a)],
    };
    let bytes = caps.to_bytes().unwrap();
    assert_eq!(Capabilities::from_bytes(&bytes).unwrap(), caps);
    let ext = Extension {
        extension_type: ExtensionType(0xbaba),
        extension_data: vec![1, 2],
    };
    assert_eq!(
        Extension::from_bytes(&ext.to_bytes().unwrap()).unwrap(),
        ext
    );
}

#[test]
fn extension_payload_helpers() {
    let senders = ExternalSenders(vec![ExternalSender {
        signature_key: SignaturePublicKey(vec![1, 2]),
        credential: Credential::X509 {
            certificates: vec![Certificate { cert_data: vec![3] }],
        },
    }]);
    let ext = senders.to_extension().unwrap();
    assert_eq!(ext.extension_type, ExtensionType::EXTERNAL_SENDERS);
    assert_eq!(
        ext.payload::<ExternalSenders>().unwrap(),
        Some(senders.clone())
    );
    assert_eq!(ext.payload::<ExternalPub>().unwrap(), None);
    let list = vec![ApplicationId(b"app".to_vec()).to_extension().unwrap(), ext];
    assert_eq!(
        find_payload::<ExternalSenders>(&list).unwrap(),
        Some(senders)
    );
    assert_eq!(find_payload::<RequiredCapabilities>(&list).unwrap(), None);
    let broken = Extension {
        extension_type: ExtensionType::EXTERNAL_PUB,
        extension_data: vec![5],
    };
    assert!(broken.payload::<ExternalPub>().is_err());
}

#[test]
fn exact_encodings_of_small_structures() {
    assert_eq!(
        Sender::Member(LeafIndex(0x01020304)).to_bytes().unwrap(),
        [1, 1, 2, 3, 4]
    );
    assert_eq!(Sender::External(7).to_bytes().unwrap(), [2, 0, 0, 0, 7]);
    assert_eq!(Sender::NewMemberCommit.to_bytes().unwrap(), [4]);
    assert_eq!(
        Proposal::Remove(Remove {
            removed: LeafIndex(9)
        })
        .to_bytes()
        .unwrap(),
        [0, 3, 0, 0, 0, 9]
    );
    let psk = PreSharedKeyId {
        psk: Psk::Resumption {
            usage: ResumptionPskUsage::Branch,
            psk_group_id: vec![0xaa],
            psk_epoch: 1,
        },
        psk_nonce: vec![0xbb],
    };
    assert_eq!(
        psk.to_bytes().unwrap(),
        [2, 3, 1, 0xaa, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0xbb]
    );
    let sender_data = SenderData {
        leaf_index: LeafIndex(1),
        generation: 2,
        reuse_guard: [3, 4, 5, 6],
    };
    assert_eq!(
        sender_data.to_bytes().unwrap(),
        [0, 0, 0, 1, 0, 0, 0, 2, 3, 4, 5, 6]
    );
    let tree = RatchetTreeNodes(vec![None, None]);
    assert_eq!(tree.to_bytes().unwrap(), [2, 0, 0]);
    let message = MlsMessage::new(MlsMessageBody::Welcome(Welcome {
        cipher_suite: CipherSuite(1),
        secrets: vec![],
        encrypted_group_info: vec![],
    }));
    assert_eq!(message.to_bytes().unwrap(), [0, 1, 0, 3, 0, 1, 0, 0]);
    assert_eq!(message.wire_format(), WireFormat::WELCOME);
}

// ---- property tests ----

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

fn arb_sender() -> impl Strategy<Value = Sender> {
    prop_oneof![
        any::<u32>().prop_map(|i| Sender::Member(LeafIndex(i))),
        any::<u32>().prop_map(Sender::External),
        Just(Sender::NewMemberProposal),
        Just(Sender::NewMemberCommit),
    ]
}

fn arb_credential() -> impl Strategy<Value = Credential> {
    prop_oneof![
        bytes(16).prop_map(|identity| Credential::Basic { identity }),
        prop::collection::vec(
            bytes(8).prop_map(|cert_data| Certificate { cert_data }),
            0..3
        )
        .prop_map(|certificates| Credential::X509 { certificates }),
    ]
}

fn arb_extensions() -> impl Strategy<Value = Vec<Extension>> {
    prop::collection::vec(
        (any::<u16>(), bytes(8)).prop_map(|(t, extension_data)| Extension {
            extension_type: ExtensionType(t),
            extension_data,
        }),
        0..3,
    )
}

fn arb_leaf_node() -> impl Strategy<Value = LeafNode> {
    let source = prop_oneof![
        (any::<u64>(), any::<u64>()).prop_map(|(a, b)| LeafNodeSource::KeyPackage(Lifetime {
            not_before: a,
            not_after: b
        })),
        Just(LeafNodeSource::Update),
        bytes(40).prop_map(LeafNodeSource::Commit),
    ];
    let caps = (
        prop::collection::vec(any::<u16>(), 0..3),
        prop::collection::vec(any::<u16>(), 0..3),
        prop::collection::vec(any::<u16>(), 0..3),
    )
        .prop_map(|(suites, exts, props)| Capabilities {
            versions: vec![ProtocolVersion::MLS10],
            cipher_suites: suites.into_iter().map(CipherSuite).collect(),
            extensions: exts.into_iter().map(ExtensionType).collect(),
            proposals: props.into_iter().map(ProposalType).collect(),
            credentials: vec![CredentialType::BASIC],
        });
    (
        bytes(33),
        bytes(33),
        arb_credential(),
        caps,
        source,
        arb_extensions(),
        bytes(70),
    )
        .prop_map(
            |(enc, sig_key, credential, capabilities, leaf_node_source, extensions, signature)| {
                LeafNode {
                    encryption_key: HpkePublicKey(enc),
                    signature_key: SignaturePublicKey(sig_key),
                    credential,
                    capabilities,
                    leaf_node_source,
                    extensions,
                    signature,
                }
            },
        )
}

fn arb_psk_id() -> impl Strategy<Value = PreSharedKeyId> {
    let usage = prop_oneof![
        Just(ResumptionPskUsage::Application),
        Just(ResumptionPskUsage::Reinit),
        Just(ResumptionPskUsage::Branch),
    ];
    let psk = prop_oneof![
        bytes(16).prop_map(|psk_id| Psk::External { psk_id }),
        (usage, bytes(16), any::<u64>()).prop_map(|(usage, psk_group_id, psk_epoch)| {
            Psk::Resumption {
                usage,
                psk_group_id,
                psk_epoch,
            }
        }),
    ];
    (psk, bytes(32)).prop_map(|(psk, psk_nonce)| PreSharedKeyId { psk, psk_nonce })
}

fn arb_proposal() -> impl Strategy<Value = Proposal> {
    prop_oneof![
        arb_leaf_node().prop_map(|leaf_node| Proposal::Update(Update {
            leaf_node: Box::new(leaf_node)
        })),
        any::<u32>().prop_map(|i| Proposal::Remove(Remove {
            removed: LeafIndex(i)
        })),
        arb_psk_id().prop_map(|psk| Proposal::PreSharedKey(PreSharedKey { psk })),
        (bytes(8), any::<u16>(), arb_extensions()).prop_map(|(group_id, suite, extensions)| {
            Proposal::ReInit(ReInit {
                group_id,
                version: ProtocolVersion::MLS10,
                cipher_suite: CipherSuite(suite),
                extensions,
            })
        }),
        bytes(40).prop_map(|kem_output| Proposal::ExternalInit(ExternalInit { kem_output })),
        arb_extensions().prop_map(|extensions| Proposal::GroupContextExtensions(
            GroupContextExtensions { extensions }
        )),
    ]
}

fn arb_commit() -> impl Strategy<Value = Commit> {
    let por = prop_oneof![
        arb_proposal().prop_map(|p| ProposalOrRef::Proposal(Box::new(p))),
        bytes(32).prop_map(|r| ProposalOrRef::Reference(ProposalRef(r))),
    ];
    let node = (
        bytes(33),
        prop::collection::vec((bytes(33), bytes(48)), 0..3),
    )
        .prop_map(|(key, cts)| UpdatePathNode {
            encryption_key: HpkePublicKey(key),
            encrypted_path_secret: EncryptedPathSecrets::from_ciphertexts(cts.iter().map(
                |(kem_output, ciphertext)| HpkeCiphertextRef {
                    kem_output,
                    ciphertext,
                },
            ))
            .unwrap(),
        });
    let path =
        (arb_leaf_node(), prop::collection::vec(node, 0..3)).prop_map(|(leaf_node, nodes)| {
            UpdatePath {
                leaf_node: Box::new(leaf_node),
                nodes,
            }
        });
    (prop::collection::vec(por, 0..3), prop::option::of(path))
        .prop_map(|(proposals, path)| Commit { proposals, path })
}

fn arb_content() -> impl Strategy<Value = Content> {
    prop_oneof![
        bytes(100).prop_map(Content::Application),
        arb_proposal().prop_map(Content::Proposal),
        arb_commit().prop_map(Content::Commit),
    ]
}

/// A public message whose optional tags match its sender and content type.
fn arb_public_message() -> impl Strategy<Value = PublicMessage> {
    (
        bytes(16),
        any::<u64>(),
        arb_sender(),
        bytes(8),
        arb_content(),
        bytes(64),
        bytes(32),
        bytes(32),
    )
        .prop_map(
            |(group_id, epoch, sender, authenticated_data, content, sig, conf, mem)| {
                let confirmation_tag =
                    (content.content_type() == ContentType::Commit).then_some(conf);
                let membership_tag = matches!(sender, Sender::Member(_)).then_some(mem);
                PublicMessage {
                    content: FramedContent {
                        group_id,
                        epoch,
                        sender,
                        authenticated_data,
                        content,
                    },
                    auth: FramedContentAuthData {
                        signature: sig,
                        confirmation_tag,
                    },
                    membership_tag,
                }
            },
        )
}

fn arb_mls_message() -> impl Strategy<Value = MlsMessage> {
    let private = (bytes(8), any::<u64>(), bytes(8), bytes(20), bytes(60)).prop_map(
        |(group_id, epoch, authenticated_data, encrypted_sender_data, ciphertext)| {
            MlsMessageBody::PrivateMessage(PrivateMessage {
                group_id,
                epoch,
                content_type: ContentType::Application,
                authenticated_data,
                encrypted_sender_data,
                ciphertext,
            })
        },
    );
    let key_package = (arb_leaf_node(), bytes(33), arb_extensions(), bytes(64)).prop_map(
        |(leaf_node, init_key, extensions, signature)| {
            MlsMessageBody::KeyPackage(KeyPackage {
                version: ProtocolVersion::MLS10,
                cipher_suite: CipherSuite(1),
                init_key: HpkePublicKey(init_key),
                leaf_node: Box::new(leaf_node),
                extensions,
                signature,
            })
        },
    );
    prop_oneof![
        arb_public_message().prop_map(MlsMessageBody::PublicMessage),
        private,
        key_package
    ]
    .prop_map(MlsMessage::new)
}

fn assert_round_trip<T: Encode + Decode + PartialEq + std::fmt::Debug>(value: &T) {
    let bytes = value.to_bytes().unwrap();
    assert_eq!(bytes.len(), value.encoded_len());
    assert_eq!(&T::from_bytes(&bytes).unwrap(), value);
}

/// Decoding is canonical: whatever decodes re-encodes to exactly the input.
fn assert_canonical<T: Encode + Decode>(input: &[u8]) {
    if let Ok(value) = T::from_bytes(input) {
        assert_eq!(value.to_bytes().unwrap(), input);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn public_message_round_trip(message in arb_public_message()) {
        assert_round_trip(&message);
        let auth = AuthenticatedContent {
            wire_format: WireFormat::PUBLIC_MESSAGE,
            content: message.content.clone(),
            auth: message.auth.clone(),
        };
        assert_round_trip(&auth);
    }

    #[test]
    fn mls_message_round_trip(message in arb_mls_message()) {
        assert_round_trip(&message);
    }

    #[test]
    fn commit_and_tree_round_trip(
        commit in arb_commit(),
        leaves in prop::collection::vec(prop::option::of(arb_leaf_node()), 0..4),
    ) {
        assert_round_trip(&commit);
        let tree = RatchetTreeNodes(leaves.into_iter().map(|l| l.map(Node::leaf)).collect());
        assert_round_trip(&tree);
    }

    #[test]
    fn group_secrets_round_trip(
        joiner in bytes(32),
        path in prop::option::of(bytes(32)),
        psks in prop::collection::vec(arb_psk_id(), 0..3),
    ) {
        let secrets = GroupSecrets {
            joiner_secret: joiner,
            path_secret: path.map(|path_secret| PathSecret { path_secret }),
            psks,
        };
        assert_round_trip(&secrets);
    }

    #[test]
    fn private_content_round_trip(
        content in arb_content(),
        signature in bytes(64),
        tag in bytes(32),
        padding in 0usize..64,
    ) {
        let content_type = content.content_type();
        let confirmation_tag = (content_type == ContentType::Commit).then_some(tag);
        let value = PrivateMessageContent {
            content,
            auth: FramedContentAuthData { signature, confirmation_tag },
            padding,
        };
        let bytes = value.to_bytes().unwrap();
        prop_assert_eq!(bytes.len(), value.encoded_len());
        let decoded = PrivateMessageContent::from_bytes_with_type(&bytes, content_type).unwrap();
        prop_assert_eq!(decoded, value);
    }

    /// Fuzz-style: mutated and truncated encodings never panic, and anything that decodes
    /// re-encodes to the same bytes.
    #[test]
    fn mutated_messages_never_panic(
        message in arb_mls_message(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = message.to_bytes().unwrap();
        for (index, value) in flips {
            let i = index.index(bytes.len());
            bytes[i] = value;
        }
        assert_canonical::<MlsMessage>(&bytes);
        let truncated = &bytes[..cut.index(bytes.len() + 1)];
        assert_canonical::<MlsMessage>(truncated);
        for content_type in [ContentType::Application, ContentType::Proposal, ContentType::Commit] {
            if let Ok(value) = PrivateMessageContent::from_bytes_with_type(&bytes, content_type) {
                prop_assert_eq!(value.to_bytes().unwrap(), bytes.clone());
            }
        }
    }

    #[test]
    fn random_bytes_never_panic(input in bytes(256)) {
        assert_canonical::<MlsMessage>(&input);
        assert_canonical::<RatchetTreeNodes>(&input);
        assert_canonical::<Commit>(&input);
        assert_canonical::<GroupSecrets>(&input);
        assert_canonical::<Proposal>(&input);
        for content_type in [ContentType::Application, ContentType::Proposal, ContentType::Commit] {
            let _ = PrivateMessageContent::from_bytes_with_type(&input, content_type);
        }
    }
}

proptest! {
    /// `EncryptedPathSecrets` accepts exactly the encodings a `Vec<HpkeCiphertext>` accepts,
    /// reads the same ciphertexts, and re-encodes byte for byte (RFC 9420 §7.6).
    #[test]
    fn encrypted_path_secrets_decode_like_a_vector_of_ciphertexts(
        entries in prop::collection::vec((bytes(33), bytes(48)), 0..4),
        noise in prop::collection::vec(any::<u8>(), 0..40),
        cut in any::<usize>(),
    ) {
        let owned: Vec<HpkeCiphertext> = entries
            .iter()
            .map(|(kem_output, ciphertext)| HpkeCiphertext {
                kem_output: kem_output.clone(),
                ciphertext: ciphertext.clone(),
            })
            .collect();
        let valid = owned.to_bytes().unwrap();
        let parsed = EncryptedPathSecrets::from_bytes(&valid).unwrap();
        prop_assert_eq!(parsed.len(), owned.len());
        prop_assert_eq!(parsed.to_vec(), owned.clone());
        prop_assert_eq!(parsed.to_bytes().unwrap(), valid.clone());
        // Truncated, or followed by noise: both decoders agree.
        let truncated = &valid[..cut % (valid.len() + 1)];
        prop_assert_eq!(
            EncryptedPathSecrets::from_bytes(truncated).map(|p| p.to_vec()).ok(),
            Vec::<HpkeCiphertext>::from_bytes(truncated).ok()
        );
        prop_assert_eq!(
            EncryptedPathSecrets::from_bytes(&noise).map(|p| p.to_vec()).ok(),
            Vec::<HpkeCiphertext>::from_bytes(&noise).ok()
        );
    }
}

// ---- draft-ietf-mls-extensions-10 proposals keep their codepoint ----

#[test]
fn draft_proposals_decode_under_every_profiles_codepoint_and_re_encode_unchanged() {
    use crate::codepoints::CodepointProfile;
    let bodies = [
        ExtensionProposalBody::SelfRemove(SelfRemove),
        ExtensionProposalBody::AppEphemeral(AppEphemeral {
            component_id: ComponentId(0x8001),
            data: b"ack".to_vec(),
        }),
        ExtensionProposalBody::AppDataUpdate(AppDataUpdate {
            component_id: ComponentId(0x8001),
            op: AppDataUpdateOperation::Update(b"topic".to_vec()),
        }),
        ExtensionProposalBody::AppDataUpdate(AppDataUpdate {
            component_id: ComponentId(0x8001),
            op: AppDataUpdateOperation::Remove,
        }),
    ];
    for profile in CodepointProfile::ALL {
        for body in &bodies {
            let proposal = Proposal::Extension(ExtensionProposal::new(profile, body.clone()));
            let bytes = proposal.to_bytes().unwrap();
            assert_eq!(bytes.len(), proposal.encoded_len());
            assert_eq!(
                &bytes[..2],
                &profile.proposal_type(body.kind()).0.to_be_bytes()
            );
            let decoded = Proposal::from_bytes(&bytes).unwrap();
            assert_eq!(decoded, proposal);
            assert_eq!(decoded.to_bytes().unwrap(), bytes);
        }
    }
    // SelfRemove is `struct {}`: the type alone.
    assert_eq!(
        Proposal::Extension(ExtensionProposal::new(
            CodepointProfile::MlsRs,
            ExtensionProposalBody::SelfRemove(SelfRemove)
        ))
        .to_bytes()
        .unwrap(),
        [0xF0, 0x03]
    );
    // AppDataUpdate's operation `invalid(0)` does not decode.
    invalid_value(
        Proposal::from_bytes(&[0, 8, 0x80, 0x01, 0]),
        "AppDataUpdateOperation",
    );
}

#[test]
fn an_app_data_dictionary_keeps_its_entries_sorted_and_unique() {
    let mut dictionary = AppDataDictionary::default();
    dictionary.insert(ComponentId(5), b"e".to_vec());
    dictionary.insert(ComponentId(1), b"a".to_vec());
    dictionary.insert(ComponentId(3), b"c".to_vec());
    dictionary.insert(ComponentId(3), b"C".to_vec());
    assert!(dictionary.check_sorted());
    assert_eq!(
        dictionary.component_ids().collect::<Vec<_>>(),
        [ComponentId(1), ComponentId(3), ComponentId(5)]
    );
    assert_eq!(dictionary.get(ComponentId(3)), Some(&b"C"[..]));
    assert!(dictionary.remove(ComponentId(1)));
    assert!(!dictionary.remove(ComponentId(1)));
    assert_eq!(dictionary.get(ComponentId(1)), None);
    let unsorted = AppDataDictionary {
        component_data: vec![
            ComponentData {
                component_id: ComponentId(2),
                data: vec![],
            },
            ComponentData {
                component_id: ComponentId(2),
                data: vec![],
            },
        ],
    };
    assert!(!unsorted.check_sorted());
}
