//! Life-cycle tests of the group state machine with several members.

use std::sync::{Arc, RwLock};

use conclave_crypto::{CipherSuite, CryptoProvider, SeededRng};
use conclave_crypto_rustcrypto::RustCryptoProvider;

use super::*;
use crate::credential::BasicIdentityProvider;
use crate::messages::Remove;

const NOW: u64 = 1_700_000_000;

fn env() -> GroupEnv {
    GroupEnv {
        crypto: Arc::new(RustCryptoProvider),
        identity: Arc::new(BasicIdentityProvider),
        psks: Arc::new(RwLock::new(std::collections::HashMap::new())),
    }
}

fn identity(name: &str, suite: CipherSuite, rng: &mut SeededRng) -> SigningIdentity {
    let cs = RustCryptoProvider.cipher_suite_provider(suite).unwrap();
    SigningIdentity::generate(
        cs.as_ref(),
        Credential::Basic {
            identity: name.as_bytes().to_vec(),
        },
        rng,
    )
    .unwrap()
}

fn key_package(
    name: &str,
    suite: CipherSuite,
    rng: &mut SeededRng,
) -> (SigningIdentity, KeyPackageBundle) {
    let signer = identity(name, suite, rng);
    let bundle =
        KeyPackageBundle::generate(&env(), suite, &signer, &LeafOptions::default(), NOW, rng)
            .unwrap();
    (signer, bundle)
}

fn welcome_of(output: &CommitOutput) -> Welcome {
    match &output.welcome.as_ref().unwrap().body {
        MlsMessageBody::Welcome(w) => w.clone(),
        _ => panic!("not a welcome"),
    }
}

use crate::messages::{MlsMessageBody as Body, Welcome};

fn new_group(suite: CipherSuite, config: GroupConfig, rng: &mut SeededRng) -> Group {
    let alice = identity("alice", suite, rng);
    Group::create(
        env(),
        suite,
        b"group".to_vec(),
        alice,
        Vec::new(),
        config,
        &LeafOptions::default(),
        NOW,
        rng,
    )
    .unwrap()
}

/// Adds `name` through a commit by `committer`; every other member processes it.
fn add_member(groups: &mut Vec<Group>, committer: usize, name: &str, rng: &mut SeededRng) {
    let suite = groups[0].cipher_suite();
    let (signer, bundle) = key_package(name, suite, rng);
    let options = CommitOptions {
        proposals: vec![Proposal::Add(crate::messages::Add {
            key_package: bundle.key_package.clone(),
        })],
        ..CommitOptions::default()
    };
    let output = groups[committer].commit(&options, NOW, rng).unwrap();
    for (i, group) in groups.iter_mut().enumerate() {
        if i == committer {
            group.merge_pending_commit().unwrap();
        } else {
            let processed = group.process_message(&output.commit, NOW).unwrap();
            assert!(matches!(processed, ProcessedMessage::Commit(_)));
        }
    }
    let config = groups[committer].config().clone();
    let joined = Group::join(
        env(),
        &welcome_of(&output),
        &bundle,
        signer,
        config,
        &JoinOptions::default(),
        NOW,
    )
    .unwrap();
    groups.push(joined);
    assert_agree(groups);
}

fn assert_agree(groups: &[Group]) {
    let first = &groups[0];
    for group in groups.iter().filter(|g| *g.status() == GroupStatus::Active) {
        assert_eq!(group.epoch(), first.epoch());
        assert_eq!(group.epoch_authenticator(), first.epoch_authenticator());
        assert_eq!(group.context(), first.context());
    }
}

/// Stores and reloads every member; the reloaded state must encode identically.
fn reload_all(groups: &mut [Group]) {
    for group in groups.iter_mut() {
        let bytes = group.to_bytes().unwrap();
        let restored = Group::from_bytes(env(), &bytes).unwrap();
        assert_eq!(restored.to_bytes().unwrap(), bytes);
        *group = restored;
    }
}

fn exchange(groups: &mut [Group], sender: usize, rng: &mut SeededRng) {
    let text = format!("hello from {sender} at {}", groups[sender].epoch());
    let message = groups[sender]
        .encrypt_application_message(text.as_bytes(), b"ad", rng)
        .unwrap();
    for (i, group) in groups.iter_mut().enumerate() {
        if i == sender || *group.status() != GroupStatus::Active {
            continue;
        }
        match group.process_message(&message, NOW).unwrap() {
            ProcessedMessage::Application {
                data,
                authenticated_data,
                ..
            } => {
                assert_eq!(data, text.as_bytes());
                assert_eq!(authenticated_data, b"ad");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn run_lifecycle(suite: CipherSuite, handshake: WireFormat) {
    let mut rng = SeededRng::new(u64::from(suite.0) * 31 + u64::from(handshake.0));
    let config = GroupConfig {
        handshake_wire_format: handshake,
        ..GroupConfig::default()
    };
    let mut groups = vec![new_group(suite, config, &mut rng)];
    add_member(&mut groups, 0, "bob", &mut rng);
    add_member(&mut groups, 1, "carol", &mut rng);
    add_member(&mut groups, 2, "dave", &mut rng);
    for sender in 0..groups.len() {
        exchange(&mut groups, sender, &mut rng);
    }
    reload_all(&mut groups);

    // An empty commit with a path (PCS for the committer).
    let output = groups[1]
        .commit(&CommitOptions::default(), NOW, &mut rng)
        .unwrap();
    // A pending commit survives a reload.
    reload_all(&mut groups);
    for (i, g) in groups.iter_mut().enumerate() {
        if i == 1 {
            // The committer recognises its own commit coming back.
            assert!(matches!(
                g.process_message(&output.commit, NOW).unwrap(),
                ProcessedMessage::OwnCommitMerged(_)
            ));
        } else {
            g.process_message(&output.commit, NOW).unwrap();
        }
    }
    assert_agree(&groups);

    // An Update proposal by reference, committed by another member.
    let proposal = groups[2].propose_update(None, &mut rng).unwrap();
    for (i, g) in groups.iter_mut().enumerate() {
        let processed = g.process_message(&proposal, NOW).unwrap();
        if i == 2 {
            assert_eq!(processed, ProcessedMessage::OwnMessage);
        }
    }
    let output = groups[0]
        .commit(&CommitOptions::default(), NOW, &mut rng)
        .unwrap();
    for (i, g) in groups.iter_mut().enumerate() {
        if i == 0 {
            g.merge_pending_commit().unwrap();
        } else {
            g.process_message(&output.commit, NOW).unwrap();
        }
    }
    assert_agree(&groups);
    exchange(&mut groups, 2, &mut rng);

    reload_all(&mut groups);

    // Remove carol (index 2) by value.
    let carol = groups[2].own_leaf();
    let options = CommitOptions {
        proposals: vec![Proposal::Remove(Remove { removed: carol })],
        ..CommitOptions::default()
    };
    let output = groups[3].commit(&options, NOW, &mut rng).unwrap();
    for (i, g) in groups.iter_mut().enumerate() {
        if i == 3 {
            g.merge_pending_commit().unwrap();
        } else {
            let processed = g.process_message(&output.commit, NOW).unwrap();
            if i == 2 {
                assert!(matches!(
                    processed,
                    ProcessedMessage::Commit(CommitSummary {
                        self_removed: true,
                        ..
                    })
                ));
            }
        }
    }
    assert_eq!(*groups[2].status(), GroupStatus::Removed);
    let removed = groups.remove(2);
    assert_agree(&groups);
    exchange(&mut groups, 0, &mut rng);
    drop(removed);

    // External join of erin, using the GroupInfo of the last commit.
    let erin = identity("erin", suite, &mut rng);
    let group_info = match &output.group_info.body {
        Body::GroupInfo(info) => info.clone(),
        _ => panic!(),
    };
    let (erin_group, external) = Group::join_external(
        env(),
        &group_info,
        erin,
        groups[0].config().clone(),
        &LeafOptions::default(),
        &JoinOptions::default(),
        NOW,
        &mut rng,
    )
    .unwrap();
    for g in groups.iter_mut() {
        g.process_message(&external.commit, NOW).unwrap();
    }
    groups.push(erin_group);
    assert_agree(&groups);
    for sender in 0..groups.len() {
        exchange(&mut groups, sender, &mut rng);
    }
}

#[test]
fn lifecycle_suite1_public_handshakes() {
    run_lifecycle(CipherSuite(1), WireFormat::PUBLIC_MESSAGE);
}

#[test]
fn lifecycle_suite1_private_handshakes() {
    run_lifecycle(CipherSuite(1), WireFormat::PRIVATE_MESSAGE);
}

#[test]
fn lifecycle_every_suite() {
    for suite in [2, 3, 5, 7] {
        run_lifecycle(CipherSuite(suite), WireFormat::PRIVATE_MESSAGE);
    }
}
