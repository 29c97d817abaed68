//! Semi-private handshakes in a group (draft-mahy-mls-semiprivatemessage-07): members stay in
//! sync, the external receiver reads and verifies every handshake, and forged or misplaced
//! messages are refused by members and receiver alike.

use std::sync::{Arc, RwLock};

use conclave_codec::{Decode, Encode};
use conclave_crypto::{CipherSuite, CryptoProvider, SeededRng, hpke};
use conclave_crypto_rustcrypto::RustCryptoProvider;

use super::*;
use crate::codepoints::{
    SEMI_PRIVATE_MESSAGE_RECEIVER_LABEL, SEMI_PRIVATE_MESSAGE_WIRE_FORMAT,
    SUPPORTED_WIRE_FORMATS_EXTENSION,
};
use crate::credential::BasicIdentityProvider;
use crate::framing::{FramingError, OpenedHandshake};
use crate::messages::{
    Add, Commit, ExternalReceiver, GroupContextExtensions, PerMessageKeyAndNonces, Remove,
    SemiPrivateContentAad, SemiPrivateMessage, SemiPrivateMessageContext, SenderData,
    SenderDataAad, Welcome,
};
use crate::secret_tree::{apply_reuse_guard, sender_data_key_nonce};
use crate::semi_private::{external_receiver_ref, open_as_external_receiver};
use crate::validation::ValidationError;
use crate::validation::negotiation::{NegotiationError, Supporter};

const NOW: u64 = 1_700_000_000;
const SUITE: CipherSuite = CipherSuite(1);

fn env() -> GroupEnv {
    GroupEnv {
        crypto: Arc::new(RustCryptoProvider),
        identity: Arc::new(BasicIdentityProvider),
        psks: Arc::new(RwLock::new(std::collections::HashMap::new())),
    }
}

fn cs() -> Box<dyn CipherSuiteProvider> {
    RustCryptoProvider.cipher_suite_provider(SUITE).unwrap()
}

fn semi_config() -> GroupConfig {
    GroupConfig {
        handshake_wire_format: SEMI_PRIVATE_MESSAGE_WIRE_FORMAT,
        ..GroupConfig::default()
    }
}

fn member(name: &str, rng: &mut SeededRng) -> MemberParams {
    let signer = SigningIdentity::generate(
        cs().as_ref(),
        Credential::Basic {
            identity: name.as_bytes().to_vec(),
        },
        rng,
    )
    .unwrap();
    MemberParams {
        config: semi_config(),
        ..MemberParams::new(env(), signer)
    }
}

/// An external receiver (the Delivery Service in production) with its HPKE private key.
struct Receiver {
    entry: ExternalReceiver,
    secret_key: Secret,
}

fn receiver(name: &str, rng: &mut SeededRng) -> Receiver {
    let pair = hpke::generate_key_pair(cs().as_ref(), rng).unwrap();
    Receiver {
        entry: ExternalReceiver {
            external_receiver_public_key: HpkePublicKey(pair.public_key),
            credential: Credential::Basic {
                identity: name.as_bytes().to_vec(),
            },
        },
        secret_key: pair.secret_key,
    }
}

impl Receiver {
    fn open(&self, message: &MlsMessage) -> Result<OpenedHandshake, FramingError> {
        open_as_external_receiver(
            cs().as_ref(),
            self.secret_key.as_bytes(),
            &self.entry,
            semi(message),
        )
    }

    /// Opens `message` and verifies it as the Delivery Service would with the group's
    /// public state: the sender's leaf key from `group`'s tree and `group`'s context (the
    /// epoch the message was sent in).
    fn open_and_verify(&self, message: &MlsMessage, group: &Group) -> AuthenticatedContent {
        let opened = self.open(message).unwrap();
        let key = group
            .tree()
            .leaf(opened.sender_leaf)
            .unwrap()
            .signature_key
            .clone();
        opened
            .verify(cs().as_ref(), key.as_ref(), group.context())
            .unwrap()
            .into_authenticated_content()
    }
}

use crate::messages::AuthenticatedContent;
use crate::messages::ExtensionPayload as _;

fn semi(message: &MlsMessage) -> &SemiPrivateMessage {
    match &message.body {
        MlsMessageBody::SemiPrivateMessage(m) => m,
        other => panic!("not a SemiPrivateMessage: {:?}", other.wire_format()),
    }
}

fn create(receivers: &[&Receiver], rng: &mut SeededRng) -> Group {
    Group::create(
        member("alice", rng),
        NewGroup::new(SUITE, b"semi".to_vec())
            .with_external_receivers(receivers.iter().map(|r| r.entry.clone()).collect())
            .unwrap(),
        NOW,
        rng,
    )
    .unwrap()
}

fn welcome_of(output: &CommitOutput) -> Welcome {
    output.welcome.clone().unwrap().into_welcome().unwrap()
}

fn assert_agree(groups: &[Group]) {
    for group in groups {
        assert_eq!(group.epoch(), groups[0].epoch());
        assert_eq!(group.epoch_authenticator(), groups[0].epoch_authenticator());
        assert_eq!(group.context(), groups[0].context());
    }
}

/// `committer` commits `options`; the receiver opens and verifies the commit (checking it
/// names `expected_proposals` proposals), every other member processes it.
fn commit_all(
    groups: &mut [Group],
    committer: usize,
    options: &CommitOptions,
    ds: &Receiver,
    rng: &mut SeededRng,
) -> CommitOutput {
    let output = groups[committer].commit(options, NOW, rng).unwrap();
    assert_eq!(
        output.commit.wire_format(),
        SEMI_PRIVATE_MESSAGE_WIRE_FORMAT
    );
    let opened = ds.open_and_verify(&output.commit, &groups[committer]);
    assert_eq!(
        opened.content.sender,
        Sender::Member(groups[committer].own_leaf())
    );
    assert!(opened.auth.confirmation_tag.is_some());
    assert!(matches!(opened.content.content, Content::Commit(_)));
    for (i, group) in groups.iter_mut().enumerate() {
        if i == committer {
            group.merge_pending_commit().unwrap();
        } else {
            let processed = group.process_message(&output.commit, NOW).unwrap();
            assert!(
                matches!(processed, ProcessedMessage::Commit(_)),
                "{processed:?}"
            );
        }
    }
    output
}

/// `sender` proposes; the receiver opens it; every other member caches it.
fn propose_all(
    groups: &mut [Group],
    sender: usize,
    proposal: Proposal,
    ds: &Receiver,
    rng: &mut SeededRng,
) {
    let message = groups[sender].propose(proposal.clone(), &[], rng).unwrap();
    assert_eq!(message.wire_format(), SEMI_PRIVATE_MESSAGE_WIRE_FORMAT);
    let opened = ds.open_and_verify(&message, &groups[sender]);
    assert_eq!(opened.content.content, Content::Proposal(proposal));
    for (i, group) in groups.iter_mut().enumerate() {
        let processed = group.process_message(&message, NOW).unwrap();
        if i == sender {
            assert_eq!(processed, ProcessedMessage::OwnMessage);
        } else {
            assert!(matches!(processed, ProcessedMessage::Proposal { .. }));
        }
    }
}

fn add(groups: &mut Vec<Group>, committer: usize, name: &str, ds: &Receiver, rng: &mut SeededRng) {
    let params = member(name, rng);
    let bundle = KeyPackageBundle::generate(&params, SUITE, NOW, rng).unwrap();
    let options = CommitOptions {
        proposals: vec![Proposal::Add(Add {
            key_package: bundle.key_package.clone(),
        })],
        ..CommitOptions::default()
    };
    let output = commit_all(groups, committer, &options, ds, rng);
    let joined = Group::join(
        params,
        &welcome_of(&output),
        &bundle,
        &JoinOptions::default(),
        NOW,
    )
    .unwrap();
    groups.push(joined);
    assert_agree(groups);
}

/// A group of alice, bob and carol whose handshakes are semi-private to `ds`.
fn three(ds: &Receiver, rng: &mut SeededRng) -> Vec<Group> {
    let mut groups = vec![create(&[ds], rng)];
    add(&mut groups, 0, "bob", ds, rng);
    add(&mut groups, 1, "carol", ds, rng);
    groups
}

#[test]
fn a_group_of_three_stays_in_sync_and_the_external_receiver_reads_every_handshake() {
    let mut rng = SeededRng::new(1);
    let ds = receiver("ds.example", &mut rng);
    let mut groups = three(&ds, &mut rng);

    // An Update proposal by bob, committed by carol.
    let update = groups[1].propose_update(None, &mut rng).unwrap();
    let opened = ds.open_and_verify(&update, &groups[1]);
    assert!(matches!(
        opened.content.content,
        Content::Proposal(Proposal::Update(_))
    ));
    for i in [0, 2] {
        groups[i].process_message(&update, NOW).unwrap();
    }
    assert_eq!(
        groups[1].process_message(&update, NOW).unwrap(),
        ProcessedMessage::OwnMessage
    );
    commit_all(&mut groups, 2, &CommitOptions::default(), &ds, &mut rng);
    assert_agree(&groups);

    // A Remove proposal by alice, committed by bob; carol is gone.
    propose_all(
        &mut groups,
        0,
        Proposal::Remove(Remove {
            removed: LeafIndex(2),
        }),
        &ds,
        &mut rng,
    );
    let output = groups[1]
        .commit(&CommitOptions::default(), NOW, &mut rng)
        .unwrap();
    let opened = ds.open_and_verify(&output.commit, &groups[1]);
    let Content::Commit(Commit { proposals, .. }) = &opened.content.content else {
        panic!("not a commit");
    };
    assert_eq!(proposals.len(), 1);
    groups[1].merge_pending_commit().unwrap();
    groups[0].process_message(&output.commit, NOW).unwrap();
    let removed = groups[2].process_message(&output.commit, NOW).unwrap();
    assert!(matches!(removed, ProcessedMessage::Commit(s) if s.self_removed));
    groups.truncate(2);
    assert_agree(&groups);

    // A Remove by value and an empty commit, then a new member; stored and reloaded state
    // keeps the wire format.
    add(&mut groups, 0, "dave", &ds, &mut rng);
    commit_all(
        &mut groups,
        2,
        &CommitOptions {
            proposals: vec![Proposal::Remove(Remove {
                removed: LeafIndex(1),
            })],
            ..CommitOptions::default()
        },
        &ds,
        &mut rng,
    );
    groups.remove(1);
    for group in &mut groups {
        let bytes = group.to_bytes().unwrap();
        *group = Group::from_bytes(env(), &bytes).unwrap();
        assert_eq!(
            group.config().handshake_wire_format,
            SEMI_PRIVATE_MESSAGE_WIRE_FORMAT
        );
    }
    commit_all(&mut groups, 0, &CommitOptions::default(), &ds, &mut rng);
    assert_agree(&groups);

    // Application messages stay PrivateMessages, which the receiver cannot read.
    let text = groups[1]
        .encrypt_application_message(b"hello", &[], &mut rng)
        .unwrap();
    assert_eq!(text.wire_format(), WireFormat::PRIVATE_MESSAGE);
    assert!(matches!(
        groups[0].process_message(&text, NOW).unwrap(),
        ProcessedMessage::Application { data, .. } if data == b"hello"
    ));
}

#[test]
fn a_semi_private_message_round_trips_through_the_mls_message_codec() {
    let mut rng = SeededRng::new(2);
    let ds = receiver("ds.example", &mut rng);
    let mut group = create(&[&ds], &mut rng);
    let message = group.propose_update(None, &mut rng).unwrap();
    let bytes = message.to_bytes().unwrap();
    assert_eq!(
        bytes.get(2..4).unwrap(),
        SEMI_PRIVATE_MESSAGE_WIRE_FORMAT.0.to_be_bytes()
    );
    assert_eq!(MlsMessage::from_bytes(&bytes).unwrap(), message);
}

#[test]
fn every_receiver_of_the_list_reads_the_handshake_and_an_outsider_cannot() {
    let mut rng = SeededRng::new(3);
    let ds = receiver("ds.example", &mut rng);
    let hub = receiver("hub.example", &mut rng);
    let outsider = receiver("outsider.example", &mut rng);
    let mut groups = vec![create(&[&ds, &hub], &mut rng)];
    add(&mut groups, 0, "bob", &ds, &mut rng);
    let message = groups[1].propose_update(None, &mut rng).unwrap();
    let by_ds = ds.open_and_verify(&message, &groups[1]);
    let by_hub = hub.open_and_verify(&message, &groups[1]);
    assert_eq!(by_ds, by_hub);

    // Not in the list.
    assert_eq!(
        outsider.open(&message).unwrap_err(),
        FramingError::NotAnExternalReceiver
    );
    // The DS's public entry without its private key.
    let impostor = Receiver {
        entry: ds.entry.clone(),
        secret_key: outsider.secret_key.clone(),
    };
    assert_eq!(
        impostor.open(&message).unwrap_err(),
        FramingError::KeyAndNoncesDecryption
    );
}

/// Re-encrypts `message`, sent by `sender`, as a sender who holds every key would, after
/// `edit` changed its fields, its plaintext or its per-message keys. Used to forge messages
/// that are consistently encrypted but break one rule of the draft.
fn reseal(
    message: &MlsMessage,
    sender: &Group,
    dss: &[&Receiver],
    rng: &mut SeededRng,
    edit: impl FnOnce(&mut SemiPrivateMessage, &mut Vec<u8>),
) -> MlsMessage {
    let cs = cs();
    let cs = cs.as_ref();
    let mut message = semi(message).clone();
    let ds = dss[0];
    let entry = message
        .keys_for_external_receivers
        .iter()
        .find(|k| k.external_receiver_ref == external_receiver_ref(cs, &ds.entry).unwrap())
        .unwrap();
    let context = SemiPrivateMessageContext {
        group_id: message.group_id.clone(),
        epoch: message.epoch,
        partial_context_hash: message.partial_context_hash.clone(),
    }
    .to_bytes()
    .unwrap();
    let keys = PerMessageKeyAndNonces::from_bytes(
        labels::decrypt_with_label(
            cs,
            ds.secret_key.as_bytes(),
            SEMI_PRIVATE_MESSAGE_RECEIVER_LABEL,
            &context,
            &entry.encrypted_keys_and_nonces.kem_output,
            &entry.encrypted_keys_and_nonces.ciphertext,
        )
        .unwrap()
        .as_bytes(),
    )
    .unwrap();
    let nonce = apply_reuse_guard(keys.nonce.as_bytes(), keys.reuse_guard);
    let aad = SemiPrivateContentAad::of(&message).to_bytes().unwrap();
    let mut plaintext = cs
        .aead_open(
            keys.key.as_bytes(),
            nonce.as_bytes(),
            &aad,
            &message.ciphertext,
        )
        .unwrap()
        .as_bytes()
        .to_vec();
    let sender_data_secret = sender.epoch.secrets.sender_data_secret.as_bytes();
    let sender_data =
        crate::framing::open_semi_private_sender_data(cs, &message, sender_data_secret).unwrap();

    edit(&mut message, &mut plaintext);

    let context = SemiPrivateMessageContext {
        group_id: message.group_id.clone(),
        epoch: message.epoch,
        partial_context_hash: message.partial_context_hash.clone(),
    }
    .to_bytes()
    .unwrap();
    message.keys_for_external_receivers = dss
        .iter()
        .map(|r| {
            let sealed = labels::encrypt_with_label(
                cs,
                r.entry.external_receiver_public_key.as_ref(),
                SEMI_PRIVATE_MESSAGE_RECEIVER_LABEL,
                &context,
                &keys.to_bytes().unwrap(),
                rng,
            )
            .unwrap();
            crate::messages::KeyForExternalReceiver {
                external_receiver_ref: external_receiver_ref(cs, &r.entry).unwrap(),
                encrypted_keys_and_nonces: crate::messages::HpkeCiphertext {
                    kem_output: sealed.kem_output,
                    ciphertext: sealed.ciphertext,
                },
            }
        })
        .collect();
    let aad = SemiPrivateContentAad::of(&message).to_bytes().unwrap();
    message.ciphertext = cs
        .aead_seal(keys.key.as_bytes(), nonce.as_bytes(), &aad, &plaintext)
        .unwrap();
    let (sd_key, sd_nonce) =
        sender_data_key_nonce(cs, sender_data_secret, &message.ciphertext).unwrap();
    let sd_aad = SenderDataAad {
        group_id: message.group_id.clone(),
        epoch: message.epoch,
        content_type: message.content_type,
    }
    .to_bytes()
    .unwrap();
    message.encrypted_sender_data = cs
        .aead_seal(
            sd_key.as_bytes(),
            sd_nonce.as_bytes(),
            &sd_aad,
            &SenderData { ..sender_data }.to_bytes().unwrap(),
        )
        .unwrap();
    MlsMessage::new(MlsMessageBody::SemiPrivateMessage(message))
}

/// The framing error of a refused message.
fn framing(error: GroupError) -> FramingError {
    match error {
        GroupError::Framing(e) => e,
        other => panic!("not a framing error: {other:?}"),
    }
}

/// A forged proposal from bob (leaf 1), as alice (leaf 0) and the receiver see it: the
/// member's verdict (on a fresh copy of alice's state each time) and the receiver's, after
/// opening and verifying against bob's leaf.
fn verdicts(
    groups: &[Group],
    ds: &Receiver,
    forged: &MlsMessage,
) -> (
    Result<ProcessedMessage, GroupError>,
    Result<(), FramingError>,
) {
    let mut alice = Group::from_bytes(env(), &groups[0].to_bytes().unwrap()).unwrap();
    let member = alice.process_message(forged, NOW);
    let receiver = ds.open(forged).and_then(|opened| {
        let key = groups[1]
            .tree()
            .leaf(LeafIndex(1))
            .unwrap()
            .signature_key
            .clone();
        opened
            .verify(cs().as_ref(), key.as_ref(), groups[1].context())
            .map(|_| ())
    });
    (member, receiver)
}

#[test]
fn an_untampered_reseal_is_accepted_so_the_forgeries_below_test_one_rule_each() {
    let mut rng = SeededRng::new(4);
    let ds = receiver("ds.example", &mut rng);
    let mut groups = vec![create(&[&ds], &mut rng)];
    add(&mut groups, 0, "bob", &ds, &mut rng);
    let message = groups[1].propose_update(None, &mut rng).unwrap();
    let forged = reseal(&message, &groups[1], &[&ds], &mut rng, |_, _| {});
    assert_ne!(forged, message);
    let (member, receiver) = verdicts(&groups, &ds, &forged);
    assert!(matches!(member.unwrap(), ProcessedMessage::Proposal { .. }));
    receiver.unwrap();
}

#[test]
fn a_wrong_partial_context_hash_is_refused_by_members_and_the_receiver() {
    let mut rng = SeededRng::new(5);
    let ds = receiver("ds.example", &mut rng);
    let mut groups = vec![create(&[&ds], &mut rng)];
    add(&mut groups, 0, "bob", &ds, &mut rng);
    let message = groups[1].propose_update(None, &mut rng).unwrap();
    let forged = reseal(&message, &groups[1], &[&ds], &mut rng, |m, _| {
        m.partial_context_hash[0] ^= 1;
    });
    let (member, receiver) = verdicts(&groups, &ds, &forged);
    assert_eq!(
        framing(member.unwrap_err()),
        FramingError::PartialContextHashMismatch
    );
    assert_eq!(
        receiver.unwrap_err(),
        FramingError::PartialContextHashMismatch
    );

    // The refusal consumed no key: the genuine message is still accepted afterwards.
    let before = groups[0].to_bytes().unwrap();
    assert!(groups[0].process_message(&forged, NOW).is_err());
    assert_eq!(groups[0].to_bytes().unwrap(), before);
    assert!(matches!(
        groups[0].process_message(&message, NOW).unwrap(),
        ProcessedMessage::Proposal { .. }
    ));
}

#[test]
fn a_wrong_framed_content_tbs_hash_is_refused_by_members_and_the_receiver() {
    let mut rng = SeededRng::new(6);
    let ds = receiver("ds.example", &mut rng);
    let mut groups = vec![create(&[&ds], &mut rng)];
    add(&mut groups, 0, "bob", &ds, &mut rng);
    let message = groups[1].propose_update(None, &mut rng).unwrap();
    let forged = reseal(&message, &groups[1], &[&ds], &mut rng, |m, _| {
        m.framed_content_tbs_hash[0] ^= 1;
    });
    let (member, receiver) = verdicts(&groups, &ds, &forged);
    assert_eq!(
        framing(member.unwrap_err()),
        FramingError::FramedContentTbsHashMismatch
    );
    assert_eq!(
        receiver.unwrap_err(),
        FramingError::FramedContentTbsHashMismatch
    );
}

#[test]
fn a_tampered_ciphertext_fields_or_receiver_list_are_refused() {
    let mut rng = SeededRng::new(7);
    let ds = receiver("ds.example", &mut rng);
    let other = receiver("other.example", &mut rng);
    let mut groups = vec![create(&[&ds], &mut rng)];
    add(&mut groups, 0, "bob", &ds, &mut rng);
    let message = groups[1].propose_update(None, &mut rng).unwrap();

    // Fields in the AAD changed after encryption: the content does not decrypt.
    let mut changed = semi(&message).clone();
    changed.framed_content_tbs_hash[0] ^= 1;
    let changed = MlsMessage::new(MlsMessageBody::SemiPrivateMessage(changed));
    let (member, receiver) = verdicts(&groups, &ds, &changed);
    assert_eq!(
        framing(member.unwrap_err()),
        FramingError::ContentDecryption
    );
    assert_eq!(receiver.unwrap_err(), FramingError::ContentDecryption);

    // Encrypted to another receiver than the group's: members refuse it.
    let redirected = reseal(&message, &groups[1], &[&ds, &other], &mut rng, |_, _| {});
    let (member, receiver) = verdicts(&groups, &ds, &redirected);
    assert_eq!(
        framing(member.unwrap_err()),
        FramingError::ExternalReceiverKeysMismatch
    );
    receiver.unwrap();
}

#[test]
fn non_zero_padding_is_refused_by_members_and_the_receiver() {
    let mut rng = SeededRng::new(8);
    let ds = receiver("ds.example", &mut rng);
    let mut groups = vec![create(&[&ds], &mut rng)];
    add(&mut groups, 0, "bob", &ds, &mut rng);
    let message = groups[1].propose_update(None, &mut rng).unwrap();
    let zero = reseal(&message, &groups[1], &[&ds], &mut rng, |_, p| {
        p.extend_from_slice(&[0, 0, 0]);
    });
    let (member, receiver) = verdicts(&groups, &ds, &zero);
    assert!(member.is_ok());
    receiver.unwrap();
    let forged = reseal(&message, &groups[1], &[&ds], &mut rng, |_, p| {
        p.extend_from_slice(&[0, 1, 0]);
    });
    let (member, receiver) = verdicts(&groups, &ds, &forged);
    assert_eq!(framing(member.unwrap_err()), FramingError::NonZeroPadding);
    assert_eq!(receiver.unwrap_err(), FramingError::NonZeroPadding);
}

#[test]
fn application_messages_are_never_semi_private() {
    let mut rng = SeededRng::new(9);
    let ds = receiver("ds.example", &mut rng);
    let mut groups = vec![create(&[&ds], &mut rng)];
    add(&mut groups, 0, "bob", &ds, &mut rng);

    // Not signed for the wire format…
    let content = FramedContent {
        group_id: groups[1].group_id().to_vec(),
        epoch: groups[1].epoch(),
        sender: Sender::Member(LeafIndex(1)),
        authenticated_data: Vec::new(),
        content: Content::Application(b"hi".to_vec()),
    };
    assert_eq!(
        sign_content(
            cs().as_ref(),
            groups[1].signer().secret_key.as_bytes(),
            SEMI_PRIVATE_MESSAGE_WIRE_FORMAT,
            content,
            Some(groups[1].context()),
        )
        .unwrap_err(),
        FramingError::ApplicationAsSemiPrivateMessage
    );

    // …nor accepted by members or the receiver when a sender forges one.
    let message = groups[1].propose_update(None, &mut rng).unwrap();
    let mut forged = semi(&message).clone();
    forged.content_type = ContentType::Application;
    let forged = MlsMessage::new(MlsMessageBody::SemiPrivateMessage(forged));
    let (member, receiver) = verdicts(&groups, &ds, &forged);
    assert_eq!(
        framing(member.unwrap_err()),
        FramingError::ApplicationAsSemiPrivateMessage
    );
    assert_eq!(
        receiver.unwrap_err(),
        FramingError::ApplicationAsSemiPrivateMessage
    );
}

/// `params` whose leaves list only RFC 9420's wire formats.
fn without_semi_private(mut params: MemberParams) -> MemberParams {
    params.leaf.leaf_extensions.push(Extension {
        extension_type: SUPPORTED_WIRE_FORMATS_EXTENSION,
        extension_data: WireFormats {
            wire_formats: vec![WireFormat::PUBLIC_MESSAGE, WireFormat::PRIVATE_MESSAGE],
        }
        .to_bytes()
        .unwrap(),
    });
    params
}

#[test]
fn a_client_without_semi_private_support_cannot_be_added_when_the_group_requires_it() {
    let mut rng = SeededRng::new(10);
    let ds = receiver("ds.example", &mut rng);
    let mut group = create(&[&ds], &mut rng);
    let bob = without_semi_private(member("bob", &mut rng));
    let bundle = KeyPackageBundle::generate(&bob, SUITE, NOW, &mut rng).unwrap();
    let before = group.to_bytes().unwrap();
    let error = group
        .commit(
            &CommitOptions {
                proposals: vec![Proposal::Add(Add {
                    key_package: bundle.key_package,
                })],
                ..CommitOptions::default()
            },
            NOW,
            &mut rng,
        )
        .unwrap_err();
    assert_eq!(
        error,
        GroupError::Validation(ValidationError::Negotiation(
            NegotiationError::RequiredWireFormatUnsupported {
                supporter: Supporter::Leaf,
                wire_format: SEMI_PRIVATE_MESSAGE_WIRE_FORMAT,
            }
        ))
    );
    assert_eq!(group.to_bytes().unwrap(), before);

    // Nor can a group that has such a member start requiring it.
    let plain = Group::create(
        without_semi_private(member("carol", &mut rng)),
        NewGroup::new(SUITE, b"plain".to_vec())
            .with_external_receivers(vec![ds.entry.clone()])
            .unwrap(),
        NOW,
        &mut rng,
    );
    assert!(matches!(
        plain.unwrap_err(),
        GroupError::Validation(ValidationError::Negotiation(
            NegotiationError::RequiredWireFormatUnsupported { .. }
        ))
    ));
}

#[test]
fn a_group_cannot_require_semi_private_messages_without_an_external_receiver() {
    let mut rng = SeededRng::new(11);
    let error = Group::create(
        member("alice", &mut rng),
        NewGroup::new(SUITE, b"semi".to_vec())
            .with_required_wire_formats(vec![SEMI_PRIVATE_MESSAGE_WIRE_FORMAT]),
        NOW,
        &mut rng,
    )
    .unwrap_err();
    assert_eq!(
        error,
        GroupError::Validation(ValidationError::Negotiation(
            NegotiationError::SemiPrivateWithoutExternalReceivers
        ))
    );

    // Nor drop its last receiver later.
    let ds = receiver("ds.example", &mut rng);
    let mut group = create(&[&ds], &mut rng);
    let mut extensions = group.context().extensions.clone();
    for extension in &mut extensions {
        if extension.extension_type == crate::messages::AppDataDictionary::EXTENSION_TYPE {
            let mut dictionary =
                crate::messages::AppDataDictionary::from_bytes(&extension.extension_data).unwrap();
            dictionary.insert(
                crate::codepoints::EXTERNAL_RECEIVERS_COMPONENT,
                crate::messages::ExternalReceivers(Vec::new())
                    .to_bytes()
                    .unwrap(),
            );
            extension.extension_data = dictionary.to_bytes().unwrap();
        }
    }
    let error = group
        .commit(
            &CommitOptions {
                proposals: vec![Proposal::GroupContextExtensions(GroupContextExtensions {
                    extensions,
                })],
                ..CommitOptions::default()
            },
            NOW,
            &mut rng,
        )
        .unwrap_err();
    assert_eq!(
        error,
        GroupError::Validation(ValidationError::Negotiation(
            NegotiationError::SemiPrivateWithoutExternalReceivers
        ))
    );
}

#[test]
fn a_group_that_has_not_enabled_the_wire_format_neither_sends_nor_accepts_it() {
    let mut rng = SeededRng::new(12);
    let ds = receiver("ds.example", &mut rng);
    let mut plain = Group::create(
        member("alice", &mut rng),
        NewGroup::new(SUITE, b"semi".to_vec()),
        NOW,
        &mut rng,
    )
    .unwrap();
    assert_eq!(
        plain.propose_update(None, &mut rng).unwrap_err(),
        GroupError::SemiPrivateNotEnabled
    );

    // A semi-private handshake of a group with the same id arriving at a group that did
    // not enable it.
    let mut enabled = create(&[&ds], &mut rng);
    let message = enabled.propose_update(None, &mut rng).unwrap();
    assert_eq!(
        plain.process_message(&message, NOW).unwrap_err(),
        GroupError::SemiPrivateNotEnabled
    );
}

#[test]
fn a_member_switches_to_semi_private_handshakes_only_where_the_group_enabled_them() {
    let mut rng = SeededRng::new(13);
    let ds = receiver("ds.example", &mut rng);
    // A joiner's configuration said PrivateMessage; the group enabled SemiPrivateMessage.
    let mut group = Group::create(
        MemberParams {
            config: GroupConfig {
                handshake_wire_format: WireFormat::PRIVATE_MESSAGE,
                ..GroupConfig::default()
            },
            ..member("alice", &mut rng)
        },
        NewGroup::new(SUITE, b"semi".to_vec())
            .with_external_receivers(vec![ds.entry.clone()])
            .unwrap(),
        NOW,
        &mut rng,
    )
    .unwrap();
    let private = group.propose_update(None, &mut rng).unwrap();
    assert_eq!(private.wire_format(), WireFormat::PRIVATE_MESSAGE);
    group
        .set_handshake_wire_format(SEMI_PRIVATE_MESSAGE_WIRE_FORMAT)
        .unwrap();
    let group = Group::from_bytes(env(), &group.to_bytes().unwrap()).unwrap();
    assert_eq!(
        group.config().handshake_wire_format,
        SEMI_PRIVATE_MESSAGE_WIRE_FORMAT
    );
    let mut group = group;
    let semi_private = group.propose_update(None, &mut rng).unwrap();
    ds.open_and_verify(&semi_private, &group);

    let mut plain = Group::create(
        member("bob", &mut rng),
        NewGroup::new(SUITE, b"plain".to_vec()),
        NOW,
        &mut rng,
    )
    .unwrap();
    assert_eq!(
        plain
            .set_handshake_wire_format(SEMI_PRIVATE_MESSAGE_WIRE_FORMAT)
            .unwrap_err(),
        GroupError::SemiPrivateNotEnabled
    );
    assert_eq!(
        plain
            .set_handshake_wire_format(WireFormat::WELCOME)
            .unwrap_err(),
        GroupError::WireFormatNotAllowed(WireFormat::WELCOME)
    );
    plain
        .set_handshake_wire_format(WireFormat::PUBLIC_MESSAGE)
        .unwrap();
    assert_eq!(
        plain.propose_update(None, &mut rng).unwrap().wire_format(),
        WireFormat::PUBLIC_MESSAGE
    );
}

#[test]
fn a_malformed_external_receivers_component_is_refused() {
    let mut rng = SeededRng::new(14);
    let error = Group::create(
        member("alice", &mut rng),
        NewGroup::new(SUITE, b"semi".to_vec())
            .with_app_data(crate::codepoints::EXTERNAL_RECEIVERS_COMPONENT, vec![5, 1]),
        NOW,
        &mut rng,
    )
    .unwrap_err();
    assert!(
        matches!(
            error,
            GroupError::Validation(ValidationError::Negotiation(
                NegotiationError::MalformedComponent { component, .. }
            )) if component == crate::codepoints::EXTERNAL_RECEIVERS_COMPONENT
        ),
        "{error:?}"
    );
}
