//! Tests of the commit builder.

use std::sync::{Arc, RwLock};

use conclave_crypto::{CipherSuite, CryptoProvider, Secret, SeededRng};
use conclave_crypto_rustcrypto::RustCryptoProvider;

use super::super::*;
use crate::credential::BasicIdentityProvider;
use crate::messages::{RatchetTreeNodes, find_payload};

const NOW: u64 = 1_700_000_000;
const SUITE: CipherSuite = CipherSuite(1);

fn env() -> GroupEnv {
    let mut psks = std::collections::HashMap::new();
    psks.insert(b"shared".to_vec(), Secret::new(vec![7; 32]));
    GroupEnv {
        crypto: Arc::new(RustCryptoProvider),
        identity: Arc::new(BasicIdentityProvider),
        psks: Arc::new(RwLock::new(psks)),
    }
}

fn params(name: &str, suite: CipherSuite, rng: &mut SeededRng) -> MemberParams {
    let cs = RustCryptoProvider.cipher_suite_provider(suite).unwrap();
    let signer = SigningIdentity::generate(
        cs.as_ref(),
        Credential::Basic {
            identity: name.as_bytes().to_vec(),
        },
        rng,
    )
    .unwrap();
    MemberParams::new(env(), signer)
}

fn key_package(name: &str, rng: &mut SeededRng) -> (MemberParams, KeyPackageBundle, MlsMessage) {
    let member = params(name, SUITE, rng);
    let bundle = KeyPackageBundle::generate(&member, SUITE, NOW, rng).unwrap();
    let message = MlsMessage::new(MlsMessageBody::KeyPackage(bundle.key_package.clone()));
    (member, bundle, message)
}

fn welcome(output: &CommitOutput) -> Welcome {
    match &output.welcome.as_ref().unwrap().body {
        MlsMessageBody::Welcome(w) => w.clone(),
        _ => panic!("not a Welcome"),
    }
}

use crate::messages::Welcome;

#[test]
fn adds_removes_and_proposes_by_value() {
    let mut rng = SeededRng::new(1);
    let mut alice = Group::create(
        params("alice", SUITE, &mut rng),
        NewGroup::new(SUITE, b"builder".to_vec()),
        NOW,
        &mut rng,
    )
    .unwrap();
    let (bob, bob_bundle, bob_kp) = key_package("bob", &mut rng);
    let (carol, carol_bundle, carol_kp) = key_package("carol", &mut rng);
    let output = alice
        .commit_builder()
        .add_member(&bob_kp)
        .unwrap()
        .add_member(&carol_kp)
        .unwrap()
        .authenticated_data(b"adding two".to_vec())
        .build(NOW, &mut rng)
        .unwrap();
    assert!(alice.has_pending_commit());
    assert_eq!(alice.merge_pending_commit().unwrap().added.len(), 2);
    let welcome = welcome(&output);
    let mut bob = Group::join(bob, &welcome, &bob_bundle, &JoinOptions::default(), NOW).unwrap();
    let mut carol =
        Group::join(carol, &welcome, &carol_bundle, &JoinOptions::default(), NOW).unwrap();
    assert_eq!(bob.epoch_authenticator(), alice.epoch_authenticator());

    // Carol removes bob, with an external PSK and new group context extensions; the
    // GroupInfo leaves the tree out.
    let bob_leaf = bob.own_leaf();
    let output = carol
        .commit_builder()
        .remove_member(bob_leaf)
        .unwrap()
        .propose_external_psk(b"shared".to_vec())
        .unwrap()
        .propose_group_context_extensions(Vec::new())
        .ratchet_tree_in_group_info(false)
        .build(NOW, &mut rng)
        .unwrap();
    let MlsMessageBody::GroupInfo(info) = &output.group_info.body else {
        panic!("not a GroupInfo");
    };
    assert_eq!(
        find_payload::<RatchetTreeNodes>(&info.extensions).unwrap(),
        None
    );
    carol.merge_pending_commit().unwrap();
    let ProcessedMessage::Commit(summary) = alice.process_message(&output.commit, NOW).unwrap()
    else {
        panic!("not a commit");
    };
    assert_eq!(summary.removed, vec![bob_leaf]);
    assert!(matches!(
        bob.process_message(&output.commit, NOW).unwrap(),
        ProcessedMessage::Commit(CommitSummary {
            self_removed: true,
            ..
        })
    ));
    assert_eq!(alice.epoch_authenticator(), carol.epoch_authenticator());
    assert_eq!(alice.members().count(), 2);
}

#[test]
fn an_external_psk_is_part_of_the_key_schedule() {
    let mut rng = SeededRng::new(3);
    let mut alice = Group::create(
        params("alice", SUITE, &mut rng),
        NewGroup::new(SUITE, b"psk".to_vec()),
        NOW,
        &mut rng,
    )
    .unwrap();
    let (bob, bob_bundle, bob_kp) = key_package("bob", &mut rng);
    let output = alice
        .commit_builder()
        .add_member(&bob_kp)
        .unwrap()
        .build(NOW, &mut rng)
        .unwrap();
    alice.merge_pending_commit().unwrap();
    let mut bob = Group::join(
        bob,
        &welcome(&output),
        &bob_bundle,
        &JoinOptions::default(),
        NOW,
    )
    .unwrap();
    let output = alice
        .commit_builder()
        .propose_external_psk(b"shared".to_vec())
        .unwrap()
        .build(NOW, &mut rng)
        .unwrap();
    // Bob cannot process it once he lost the PSK: the commit does use it (RFC 9420 §8.4).
    let env_without = GroupEnv {
        psks: Arc::new(()),
        ..env()
    };
    let mut forgetful = Group::from_bytes(env_without, &bob.to_bytes().unwrap()).unwrap();
    assert_eq!(
        forgetful.process_message(&output.commit, NOW).unwrap_err(),
        GroupError::PskNotFound
    );
    bob.process_message(&output.commit, NOW).unwrap();
    alice.merge_pending_commit().unwrap();
    assert_eq!(alice.epoch_authenticator(), bob.epoch_authenticator());
}

#[test]
fn obvious_mistakes_are_refused_when_added() {
    let mut rng = SeededRng::new(2);
    let mut alice = Group::create(
        params("alice", SUITE, &mut rng),
        NewGroup::new(SUITE, b"builder".to_vec()),
        NOW,
        &mut rng,
    )
    .unwrap();
    let own = alice.own_leaf();
    let not_a_key_package = alice.group_info(false).unwrap();
    assert!(matches!(
        alice.commit_builder().add_member(&not_a_key_package),
        Err(GroupError::UnexpectedWireFormat(WireFormat::GROUP_INFO))
    ));
    let other_suite = CipherSuite(3);
    let mallory = params("mallory", other_suite, &mut rng);
    let foreign = KeyPackageBundle::generate(&mallory, other_suite, NOW, &mut rng).unwrap();
    assert!(matches!(
        alice.commit_builder().add_key_package(foreign.key_package),
        Err(GroupError::InvalidProposal { .. })
    ));
    assert!(matches!(
        alice.commit_builder().remove_member(own),
        Err(GroupError::InvalidProposalList(_))
    ));
    assert!(matches!(
        alice.commit_builder().remove_member(LeafIndex(5)),
        Err(GroupError::InvalidProposal { .. })
    ));
    assert_eq!(
        alice
            .commit_builder()
            .propose_external_psk(b"unknown".to_vec())
            .err(),
        Some(GroupError::PskNotFound)
    );
    // Nothing was committed; rules checked at build time still apply.
    assert!(!alice.has_pending_commit());
    let bad = alice
        .commit_builder()
        .propose(Proposal::Remove(crate::messages::Remove { removed: own }))
        .build(NOW, &mut rng);
    assert!(bad.is_err());
    assert!(!alice.has_pending_commit());
    assert!(alice.take_changes().unwrap().is_full(), "never saved yet");
    assert!(
        alice
            .commit_builder()
            .force_path(false)
            .include_pending_proposals(false)
            .group_info_extensions(Vec::new())
            .build(NOW, &mut rng)
            .is_ok()
    );
}
