//! Targeted messages between members of a real group (draft-ietf-mls-targeted-messages):
//! under each codepoint profile's version, to one member only, refused by the others and
//! after the epoch ends, leaving every state byte-identical.

use std::sync::{Arc, RwLock};

use conclave_crypto::{CipherSuite, CryptoProvider, SeededRng};
use conclave_crypto_rustcrypto::RustCryptoProvider;

use crate::codepoints::{CodepointProfile, TARGETED_MESSAGE_WIRE_FORMAT};
use crate::credential::BasicIdentityProvider;
use crate::group::{
    CommitOptions, Group, GroupConfig, GroupEnv, GroupError, JoinOptions, KeyPackageBundle,
    MemberParams, NewGroup, SigningIdentity,
};
use crate::messages::{Add, Credential, LeafIndex, MlsMessage, MlsMessageBody, Proposal};
use crate::targeted::TargetedError;

const NOW: u64 = 1_700_000_000;
const SUITE: CipherSuite = CipherSuite(1);

fn params(name: &str, profile: CodepointProfile, rng: &mut SeededRng) -> MemberParams {
    let env = GroupEnv {
        crypto: Arc::new(RustCryptoProvider),
        identity: Arc::new(BasicIdentityProvider),
        psks: Arc::new(RwLock::new(std::collections::HashMap::new())),
    };
    let cs = RustCryptoProvider.cipher_suite_provider(SUITE).unwrap();
    let signer = SigningIdentity::generate(
        cs.as_ref(),
        Credential::Basic {
            identity: name.as_bytes().to_vec(),
        },
        rng,
    )
    .unwrap();
    MemberParams {
        config: GroupConfig {
            codepoint_profile: profile,
            ..GroupConfig::default()
        },
        ..MemberParams::new(env, signer)
    }
}

/// Alice, Bob and Carol at leaves 0, 1, 2, all at epoch 2.
fn three(profile: CodepointProfile, rng: &mut SeededRng) -> Vec<Group> {
    let mut groups = vec![
        Group::create(
            params("alice", profile, rng),
            NewGroup::new(SUITE, b"targeted".to_vec()),
            NOW,
            rng,
        )
        .unwrap(),
    ];
    for name in ["bob", "carol"] {
        let joiner = params(name, profile, rng);
        let bundle = KeyPackageBundle::generate(&joiner, SUITE, NOW, rng).unwrap();
        let output = groups[0]
            .commit(
                &CommitOptions {
                    proposals: vec![Proposal::Add(Add {
                        key_package: bundle.key_package.clone(),
                    })],
                    ..CommitOptions::default()
                },
                NOW,
                rng,
            )
            .unwrap();
        groups[0].merge_pending_commit().unwrap();
        for g in groups.iter_mut().skip(1) {
            g.process_message(&output.commit, NOW).unwrap();
        }
        let welcome = output.welcome.unwrap().into_welcome().unwrap();
        groups.push(Group::join(joiner, &welcome, &bundle, &JoinOptions::default(), NOW).unwrap());
    }
    groups
}

/// Opening `message` fails with `expected` and leaves `group` byte-identical.
fn assert_refused(group: &Group, message: &MlsMessage, expected: &GroupError) {
    let before = group.to_bytes().unwrap();
    assert_eq!(
        group.process_targeted_message(message).unwrap_err(),
        *expected
    );
    assert_eq!(group.to_bytes().unwrap(), before, "the group changed");
}

#[test]
fn a_member_sends_to_one_member_under_every_profile() {
    for profile in CodepointProfile::ALL {
        let mut rng = SeededRng::new(1);
        let groups = three(profile, &mut rng);
        let bob = groups[1].own_leaf();
        let message = groups[0]
            .encrypt_targeted_message(bob, b"just for you", b"id=1", 8, &mut rng)
            .unwrap();
        assert_eq!(message.wire_format(), TARGETED_MESSAGE_WIRE_FORMAT);
        let before = groups[1].to_bytes().unwrap();
        let opened = groups[1].process_targeted_message(&message).unwrap();
        assert_eq!(opened.sender, groups[0].own_leaf(), "{profile}");
        assert_eq!(opened.content.application_data, b"just for you");
        assert_eq!(opened.content.padding_length, 8);
        assert_eq!(opened.authenticated_data, b"id=1");
        assert_eq!(groups[1].to_bytes().unwrap(), before, "state changed");
        // Bob answers Alice.
        let reply = groups[1]
            .encrypt_targeted_message(groups[0].own_leaf(), b"thanks", b"", 0, &mut rng)
            .unwrap();
        let opened = groups[0].process_targeted_message(&reply).unwrap();
        assert_eq!(opened.sender, bob);
        assert_eq!(opened.content.application_data, b"thanks");
    }
}

#[test]
fn another_member_cannot_open_it_and_the_generic_path_refuses_it() {
    let mut rng = SeededRng::new(2);
    let mut groups = three(CodepointProfile::Draft, &mut rng);
    let message = groups[0]
        .encrypt_targeted_message(LeafIndex(1), b"secret", b"", 0, &mut rng)
        .unwrap();
    assert_refused(
        &groups[2],
        &message,
        &GroupError::Targeted(TargetedError::NotRecipient {
            recipient: 1,
            own: 2,
        }),
    );
    // Carol re-addresses it to herself: the sender auth data is bound to the recipient.
    let mut readdressed = message.clone();
    if let MlsMessageBody::TargetedMessage(m) = &mut readdressed.body {
        m.recipient_leaf_index = LeafIndex(2);
    }
    assert_refused(
        &groups[2],
        &readdressed,
        &GroupError::Targeted(TargetedError::SenderAuthDataUndecryptable),
    );
    // RFC 9420 §6: only mls10 envelopes, and only this wire format here.
    let mut version = message.clone();
    version.version = crate::messages::ProtocolVersion(2);
    assert_refused(&groups[1], &version, &GroupError::UnsupportedVersion(2));
    let application = groups[0]
        .encrypt_application_message(b"x", b"", &mut rng)
        .unwrap();
    assert_refused(
        &groups[1],
        &application,
        &GroupError::UnexpectedWireFormat(crate::messages::WireFormat::PRIVATE_MESSAGE),
    );
    assert_eq!(
        groups[1].process_message(&message, NOW).unwrap_err(),
        GroupError::UnexpectedWireFormat(TARGETED_MESSAGE_WIRE_FORMAT)
    );
}

#[test]
fn a_message_of_an_ended_epoch_or_another_group_is_refused() {
    let mut rng = SeededRng::new(3);
    let mut groups = three(CodepointProfile::OpenMls09, &mut rng);
    let message = groups[0]
        .encrypt_targeted_message(LeafIndex(1), b"late", b"", 0, &mut rng)
        .unwrap();
    let output = groups[2]
        .commit(&CommitOptions::default(), NOW, &mut rng)
        .unwrap();
    groups[2].merge_pending_commit().unwrap();
    for g in groups.iter_mut().take(2) {
        g.process_message(&output.commit, NOW).unwrap();
    }
    assert_refused(
        &groups[1],
        &message,
        &GroupError::Targeted(TargetedError::WrongEpoch {
            message: 2,
            current: 3,
        }),
    );
    let mut other = message.clone();
    if let MlsMessageBody::TargetedMessage(m) = &mut other.body {
        m.group_id = b"other".to_vec();
    }
    assert_refused(
        &groups[1],
        &other,
        &GroupError::Targeted(TargetedError::WrongGroup),
    );
}

#[test]
fn sending_to_a_blank_leaf_or_to_oneself_is_refused() {
    let mut rng = SeededRng::new(4);
    let groups = three(CodepointProfile::Draft, &mut rng);
    assert_eq!(
        groups[0]
            .encrypt_targeted_message(LeafIndex(7), b"x", b"", 0, &mut rng)
            .unwrap_err(),
        GroupError::Targeted(TargetedError::NoSuchRecipient(7))
    );
    assert_eq!(
        groups[0]
            .encrypt_targeted_message(LeafIndex(0), b"x", b"", 0, &mut rng)
            .unwrap_err(),
        GroupError::Targeted(TargetedError::ToSelf)
    );
}
