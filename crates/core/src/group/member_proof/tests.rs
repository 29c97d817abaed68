//! Member proofs on groups (draft-mahy-mls-member-proof-00 as decided in
//! `crate::member_proof`): every message carries a proof the DS can check, members refuse
//! messages without a valid one and commits announcing a wrong next-epoch key, and every
//! way into an epoch (creation, commit, Welcome, external commit, reload) ends with the
//! same key.

use std::sync::Arc;

use conclave_crypto::{CipherSuite, CryptoRandom, SeededRng};
use conclave_crypto_rustcrypto::RustCryptoProvider;

use crate::credential::BasicIdentityProvider;
use crate::framing::sign_content;
use crate::group::{
    CommitOptions, Group, GroupEnv, GroupError, JoinOptions, KeyPackageBundle, MemberParams,
    NewGroup, ProcessedMessage, SigningIdentity, mls_message,
};
use crate::member_proof::{
    self as proof, MemberProofError, MemberProofKeys, ProofTarget, verify_for_outsider,
};
use crate::messages::{
    Add, Content, ContentType, Credential, FramedContent, MlsMessage, MlsMessageBody, Proposal,
    Sender, WireFormat,
};

const NOW: u64 = 1_700_000_000;
const SUITE: CipherSuite = CipherSuite(1);

fn env() -> GroupEnv {
    GroupEnv {
        crypto: Arc::new(RustCryptoProvider),
        identity: Arc::new(BasicIdentityProvider),
        psks: Arc::new(()),
    }
}

fn params(name: &str, rng: &mut SeededRng) -> MemberParams {
    let env = env();
    let cs = env.suite(SUITE).unwrap();
    let signer = SigningIdentity::generate(
        cs.as_ref(),
        Credential::Basic {
            identity: name.as_bytes().to_vec(),
        },
        rng,
    )
    .unwrap();
    MemberParams::new(env, signer)
}

/// Alice creates a member-proof group and adds Bob by Welcome: both at epoch 1.
fn pair(rng: &mut SeededRng) -> (Group, Group) {
    let new = NewGroup::new(SUITE, b"proofs".to_vec())
        .with_member_proofs()
        .unwrap();
    let mut alice = Group::create(params("alice", rng), new, NOW, rng).unwrap();
    assert!(alice.member_proofs_enabled().unwrap());
    assert!(alice.member_proof_public_key().is_some());
    let bob = params("bob", rng);
    let bundle = KeyPackageBundle::generate(&bob, SUITE, NOW, rng).unwrap();
    let output = alice
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
    alice.merge_pending_commit().unwrap();
    let MlsMessageBody::Welcome(welcome) = &output.welcome.unwrap().body else {
        panic!("no Welcome");
    };
    let bob = Group::join(bob, welcome, &bundle, &JoinOptions::default(), NOW).unwrap();
    assert_eq!(
        alice.member_proof_public_key(),
        bob.member_proof_public_key(),
        "the Welcome gave Bob the epoch's member-proof key"
    );
    (alice, bob)
}

/// The clear `authenticated_data`, content type, group and epoch of a message.
fn clear_parts(message: &MlsMessage) -> (Vec<u8>, ContentType, Vec<u8>, u64) {
    match &message.body {
        MlsMessageBody::PrivateMessage(m) => (
            m.authenticated_data.clone(),
            m.content_type,
            m.group_id.clone(),
            m.epoch,
        ),
        MlsMessageBody::PublicMessage(m) => (
            m.content.authenticated_data.clone(),
            m.content.content_type(),
            m.content.group_id.clone(),
            m.content.epoch,
        ),
        _ => panic!("not a framed message"),
    }
}

/// What the Delivery Service would check, with the key it holds for the epoch.
fn outsider_check(key: &[u8], message: &MlsMessage) -> Result<proof::ProofSeen, MemberProofError> {
    let (aad, content_type, group_id, epoch) = clear_parts(message);
    let cs = env().suite(SUITE).unwrap();
    verify_for_outsider(cs.as_ref(), key, &group_id, epoch, content_type, &aad)
}

/// A genuine message of `group` whose `authenticated_data` is `aad` as given, bypassing the
/// member-proof logic of the send API.
fn message_with_raw_aad(
    group: &mut Group,
    content: Content,
    aad: Vec<u8>,
    rng: &mut dyn CryptoRandom,
) -> MlsMessage {
    let framed = FramedContent {
        group_id: group.group_id().to_vec(),
        epoch: group.epoch(),
        sender: Sender::Member(group.own_leaf()),
        authenticated_data: aad,
        content,
    };
    let signed = sign_content(
        group.cs.as_ref(),
        group.signer.secret_key.as_bytes(),
        WireFormat::PRIVATE_MESSAGE,
        framed,
        Some(&group.epoch.context),
    )
    .unwrap();
    mls_message(group.protect_signed(&signed, rng).unwrap())
}

#[test]
fn members_exchange_proven_messages_across_commits_and_the_ds_can_check_each() {
    let mut rng = SeededRng::new(1);
    let (mut alice, mut bob) = pair(&mut rng);
    let mut keys_seen = vec![alice.member_proof_public_key().unwrap().clone()];
    for round in 0..3 {
        let key = alice.member_proof_public_key().unwrap().clone();
        let message = alice
            .encrypt_application_message(b"hello", &[], &mut rng)
            .unwrap();
        let seen = outsider_check(key.as_ref(), &message).unwrap();
        assert_eq!(seen.next_epoch_key, None);
        let ProcessedMessage::Application { data, .. } =
            bob.process_message(&message, NOW).unwrap()
        else {
            panic!("not an application message");
        };
        assert_eq!(data, b"hello");

        // A commit (alternating committers) announces the next epoch's key, which the
        // outsider learns and both members derive.
        let (committer, other) = if round % 2 == 0 {
            (&mut bob, &mut alice)
        } else {
            (&mut alice, &mut bob)
        };
        let output = committer
            .commit(&CommitOptions::default(), NOW, &mut rng)
            .unwrap();
        let seen = outsider_check(key.as_ref(), &output.commit).unwrap();
        committer.merge_pending_commit().unwrap();
        other.process_message(&output.commit, NOW).unwrap();
        let next = seen.next_epoch_key.unwrap();
        assert_eq!(committer.member_proof_public_key(), Some(&next));
        assert_eq!(other.member_proof_public_key(), Some(&next));
        assert!(!keys_seen.contains(&next), "every epoch has its own key");
        keys_seen.push(next);
    }
    // A proposal carries a proof too.
    let proposal = alice.propose_update(None, &mut rng).unwrap();
    outsider_check(alice.member_proof_public_key().unwrap().as_ref(), &proposal).unwrap();
    bob.process_message(&proposal, NOW).unwrap();
}

#[test]
fn a_member_refuses_a_message_without_a_proof_or_with_a_forged_one() {
    let mut rng = SeededRng::new(2);
    let (mut alice, mut bob) = pair(&mut rng);
    let before = bob.to_bytes().unwrap();
    // No proof at all (an empty SafeAAD).
    let bare = message_with_raw_aad(
        &mut alice,
        Content::Application(b"x".to_vec()),
        proof::add_items(&[], None, None).unwrap(),
        &mut rng,
    );
    assert_eq!(
        bob.process_message(&bare, NOW).unwrap_err(),
        GroupError::MemberProof(MemberProofError::Missing)
    );
    // A proof under a key that is not the epoch's.
    let cs = env().suite(SUITE).unwrap();
    let stranger = MemberProofKeys::from_secret(
        cs.as_ref(),
        proof::member_proof_secret(cs.as_ref(), &[7; 32], &[7; 32], b"proofs", 1).unwrap(),
    )
    .unwrap();
    let target = ProofTarget {
        group_id: b"proofs",
        epoch: alice.epoch(),
        content_type: ContentType::Application,
    };
    let forged = proof::prove(cs.as_ref(), &stranger, target, None, &mut rng).unwrap();
    let message = message_with_raw_aad(
        &mut alice,
        Content::Application(b"x".to_vec()),
        proof::add_items(&[], Some(&forged), None).unwrap(),
        &mut rng,
    );
    assert_eq!(
        bob.process_message(&message, NOW).unwrap_err(),
        GroupError::MemberProof(MemberProofError::WrongKey)
    );
    // Refused before decryption: Bob's state did not move.
    assert_eq!(bob.to_bytes().unwrap(), before);
    // The application cannot forge the items through the send API either.
    let own = proof::add_items(&[], Some(&forged), None).unwrap();
    assert_eq!(
        alice
            .encrypt_application_message(b"x", &own, &mut rng)
            .unwrap_err(),
        GroupError::MemberProof(MemberProofError::ComponentReserved(0x8C04))
    );
}

#[test]
fn a_member_refuses_a_commit_announcing_a_wrong_next_epoch_key() {
    let mut rng = SeededRng::new(3);
    let (mut alice, mut bob) = pair(&mut rng);
    let wrong = bob.member_proof_public_key().unwrap().clone();
    let before = bob.to_bytes().unwrap();
    let output = alice
        .commit(
            &CommitOptions {
                forged_next_member_proof_key: Some(wrong.clone()),
                ..CommitOptions::default()
            },
            NOW,
            &mut rng,
        )
        .unwrap();
    // The DS cannot tell (the proof is valid, the key is what the committer says)…
    let seen = outsider_check(wrong.as_ref(), &output.commit).unwrap();
    assert_eq!(seen.next_epoch_key, Some(wrong));
    // …but every member can.
    assert_eq!(
        bob.process_message(&output.commit, NOW).unwrap_err(),
        GroupError::MemberProof(MemberProofError::NextEpochKeyMismatch)
    );
    assert_eq!(bob.to_bytes().unwrap(), before);
    // The honest commit goes through.
    alice.clear_pending_commit();
    let output = alice
        .commit(&CommitOptions::default(), NOW, &mut rng)
        .unwrap();
    alice.merge_pending_commit().unwrap();
    bob.process_message(&output.commit, NOW).unwrap();
    assert_eq!(
        alice.member_proof_public_key(),
        bob.member_proof_public_key()
    );
}

#[test]
fn the_keys_survive_a_reload_and_late_messages_are_checked_against_their_epoch() {
    let mut rng = SeededRng::new(4);
    let (mut alice, mut bob) = pair(&mut rng);
    let late = alice
        .encrypt_application_message(b"late", &[], &mut rng)
        .unwrap();
    let output = alice
        .commit(&CommitOptions::default(), NOW, &mut rng)
        .unwrap();
    // Reloaded with a pending commit: both keys come back.
    let reloaded = Group::from_bytes(env(), &alice.to_bytes().unwrap()).unwrap();
    assert_eq!(
        reloaded.member_proof_public_key(),
        alice.member_proof_public_key()
    );
    alice = reloaded;
    alice.merge_pending_commit().unwrap();
    bob.process_message(&output.commit, NOW).unwrap();
    let mut bob = Group::from_bytes(env(), &bob.to_bytes().unwrap()).unwrap();
    assert_eq!(
        alice.member_proof_public_key(),
        bob.member_proof_public_key()
    );
    // The late message of epoch 1 is checked against epoch 1's key, kept after the reload.
    let ProcessedMessage::Application { data, .. } = bob.process_message(&late, NOW).unwrap()
    else {
        panic!("not an application message");
    };
    assert_eq!(data, b"late");
    let message = alice
        .encrypt_application_message(b"now", &[], &mut rng)
        .unwrap();
    bob.process_message(&message, NOW).unwrap();
}

#[test]
fn an_external_joiner_announces_the_key_the_members_derive_and_carries_no_proof() {
    let mut rng = SeededRng::new(5);
    let (mut alice, mut bob) = pair(&mut rng);
    let MlsMessageBody::GroupInfo(info) = alice.group_info(true).unwrap().body else {
        panic!("no GroupInfo");
    };
    let (carol, output) = Group::join_external(
        params("carol", &mut rng),
        &info,
        &JoinOptions::default(),
        NOW,
        &mut rng,
    )
    .unwrap();
    let (aad, ..) = clear_parts(&output.commit);
    let announced = proof::next_epoch_key_for_outsider(&aad).unwrap().unwrap();
    assert_eq!(
        outsider_check(
            alice.member_proof_public_key().unwrap().as_ref(),
            &output.commit
        ),
        Err(MemberProofError::Missing)
    );
    alice.process_message(&output.commit, NOW).unwrap();
    bob.process_message(&output.commit, NOW).unwrap();
    assert_eq!(carol.member_proof_public_key(), Some(&announced));
    assert_eq!(alice.member_proof_public_key(), Some(&announced));
    assert_eq!(bob.member_proof_public_key(), Some(&announced));
}

#[test]
fn a_group_without_member_proofs_sends_none() {
    let mut rng = SeededRng::new(6);
    let mut alice = Group::create(
        params("alice", &mut rng),
        NewGroup::new(SUITE, b"plain".to_vec()),
        NOW,
        &mut rng,
    )
    .unwrap();
    assert!(!alice.member_proofs_enabled().unwrap());
    assert_eq!(alice.member_proof_public_key(), None);
    let message = alice
        .encrypt_application_message(b"x", &[], &mut rng)
        .unwrap();
    assert_eq!(clear_parts(&message).0, Vec::<u8>::new());
}
