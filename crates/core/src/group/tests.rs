//! Life-cycle tests of the group state machine with several members.

use std::sync::{Arc, RwLock};

use conclave_crypto::{CipherSuite, CryptoProvider, SeededRng};
use conclave_crypto_rustcrypto::RustCryptoProvider;

use super::*;
use crate::credential::BasicIdentityProvider;
use crate::messages::ExtensionPayload as _;
use crate::messages::{
    ExternalSenders, PreSharedKey, PreSharedKeyId, Psk, Remove, ResumptionPskUsage,
};

const NOW: u64 = 1_700_000_000;

std::thread_local! {
    /// Whether this test thread's groups use the aws-lc-rs provider instead of RustCrypto.
    static AWS_LC: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn provider() -> Arc<dyn CryptoProvider> {
    if AWS_LC.with(std::cell::Cell::get) {
        Arc::new(conclave_crypto_awslc::AwsLcProvider)
    } else {
        Arc::new(RustCryptoProvider)
    }
}

fn env() -> GroupEnv {
    GroupEnv {
        crypto: provider(),
        identity: Arc::new(BasicIdentityProvider),
        psks: Arc::new(RwLock::new(std::collections::HashMap::new())),
    }
}

fn identity(name: &str, suite: CipherSuite, rng: &mut SeededRng) -> SigningIdentity {
    let cs = provider().cipher_suite_provider(suite).unwrap();
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
        KeyPackageBundle::generate(&MemberParams::new(env(), signer.clone()), suite, NOW, rng)
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
        MemberParams {
            config,
            ..MemberParams::new(env(), alice)
        },
        NewGroup::new(suite, b"group".to_vec()),
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
        MemberParams {
            config,
            ..MemberParams::new(env(), signer)
        },
        &welcome_of(&output),
        &bundle,
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
        MemberParams {
            config: groups[0].config().clone(),
            ..MemberParams::new(env(), erin)
        },
        &group_info,
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

/// The post-quantum suites (draft-ietf-mls-pq-ciphersuites §3, Conclave's and MLSpp's
/// values) through the whole life cycle: adds, application messages, reloads, an empty
/// commit, an Update by reference, a Remove, an external join.
#[test]
fn lifecycle_every_post_quantum_suite() {
    for suite in CipherSuite::PQ.into_iter().chain(CipherSuite::MLSPP_PQ) {
        run_lifecycle(suite, WireFormat::PRIVATE_MESSAGE);
    }
}

/// The same on the aws-lc-rs provider (Conclave's values), with public handshakes.
#[test]
fn lifecycle_every_post_quantum_suite_on_aws_lc() {
    AWS_LC.with(|aws_lc| aws_lc.set(true));
    for suite in CipherSuite::PQ {
        run_lifecycle(suite, WireFormat::PUBLIC_MESSAGE);
    }
}

/// Commits `options` at `committer`, everyone else processes it; returns the output.
fn commit_all(
    groups: &mut [Group],
    committer: usize,
    options: &CommitOptions,
    rng: &mut SeededRng,
) -> CommitOutput {
    let output = groups[committer].commit(options, NOW, rng).unwrap();
    for (i, g) in groups.iter_mut().enumerate() {
        if i == committer {
            g.merge_pending_commit().unwrap();
        } else if *g.status() == GroupStatus::Active {
            g.process_message(&output.commit, NOW).unwrap();
        }
    }
    output
}

fn three_members(suite: CipherSuite, rng: &mut SeededRng) -> Vec<Group> {
    let mut groups = vec![new_group(suite, GroupConfig::default(), rng)];
    add_member(&mut groups, 0, "bob", rng);
    add_member(&mut groups, 0, "carol", rng);
    groups
}

#[test]
fn external_and_resumption_psks() {
    let mut rng = SeededRng::new(7);
    let suite = CipherSuite(1);
    let psks: Arc<RwLock<std::collections::HashMap<Vec<u8>, Secret>>> = Arc::default();
    psks.write()
        .unwrap()
        .insert(b"shared".to_vec(), Secret::new(vec![7; 32]));
    let mut groups = three_members(suite, &mut rng);
    for g in groups.iter_mut() {
        g.env.psks = psks.clone();
    }
    let nonce = vec![1u8; 32];
    let external = PreSharedKeyId {
        psk: Psk::External {
            psk_id: b"shared".to_vec(),
        },
        psk_nonce: nonce.clone(),
    };
    let resumption = PreSharedKeyId {
        psk: Psk::Resumption {
            usage: ResumptionPskUsage::Application,
            psk_group_id: b"group".to_vec(),
            psk_epoch: groups[0].epoch(),
        },
        psk_nonce: nonce,
    };
    // By reference from bob, by value from the committer.
    let proposal = groups[1]
        .propose(
            Proposal::PreSharedKey(PreSharedKey {
                psk: external.clone(),
            }),
            b"",
            &mut rng,
        )
        .unwrap();
    for g in groups.iter_mut() {
        g.process_message(&proposal, NOW).unwrap();
    }
    let options = CommitOptions {
        proposals: vec![Proposal::PreSharedKey(PreSharedKey { psk: resumption })],
        ..CommitOptions::default()
    };
    commit_all(&mut groups, 0, &options, &mut rng);
    assert_agree(&groups);

    // An unknown PSK makes the commit impossible to create, and the group is unchanged.
    let unknown = PreSharedKeyId {
        psk: Psk::External {
            psk_id: b"nope".to_vec(),
        },
        psk_nonce: vec![0; 32],
    };
    let before = groups[0].to_bytes().unwrap();
    let options = CommitOptions {
        proposals: vec![Proposal::PreSharedKey(PreSharedKey { psk: unknown })],
        ..CommitOptions::default()
    };
    assert_eq!(
        groups[0].commit(&options, NOW, &mut rng).unwrap_err(),
        GroupError::PskNotFound
    );
    assert_eq!(groups[0].to_bytes().unwrap(), before);
}

#[test]
fn branch_and_reinit() {
    let mut rng = SeededRng::new(8);
    let suite = CipherSuite(1);
    let mut groups = three_members(suite, &mut rng);

    // Alice branches a subgroup with carol.
    let carol_signer = groups[2].signer().clone();
    let carol_kp = KeyPackageBundle::generate(
        &MemberParams::new(env(), carol_signer.clone()),
        suite,
        NOW,
        &mut rng,
    )
    .unwrap();
    let (branch, output) = groups[0]
        .branch(
            b"branch".to_vec(),
            Vec::new(),
            &LinkedGroupOptions {
                key_packages: vec![carol_kp.key_package.clone()],
                ..LinkedGroupOptions::default()
            },
            NOW,
            &mut rng,
        )
        .unwrap();
    assert_eq!(branch.epoch(), 1);
    let carol_branch = groups[2]
        .join_branch(
            MemberParams::new(env(), carol_signer),
            &welcome_of(&output),
            &carol_kp,
            &JoinOptions::default(),
            NOW,
        )
        .unwrap();
    assert_eq!(
        carol_branch.epoch_authenticator(),
        branch.epoch_authenticator()
    );
    // Bob cannot join the branch as if it were his (he is not in it) — and a branch with a
    // stranger is refused.
    let (stranger, stranger_kp) = key_package("mallory", suite, &mut rng);
    drop(stranger);
    assert!(matches!(
        groups[0].branch(
            b"b2".to_vec(),
            Vec::new(),
            &LinkedGroupOptions {
                key_packages: vec![stranger_kp.key_package],
                ..LinkedGroupOptions::default()
            },
            NOW,
            &mut rng
        ),
        Err(GroupError::Resumption(_))
    ));

    // Bob proposes a ReInit to suite 3; alice commits it.
    let reinit = ReInit {
        group_id: b"group-v2".to_vec(),
        version: ProtocolVersion::MLS10,
        cipher_suite: CipherSuite(3),
        extensions: Vec::new(),
    };
    let proposal = groups[1]
        .propose(Proposal::ReInit(reinit.clone()), b"", &mut rng)
        .unwrap();
    for g in groups.iter_mut() {
        g.process_message(&proposal, NOW).unwrap();
    }
    commit_all(&mut groups, 0, &CommitOptions::default(), &mut rng);
    for g in &groups {
        assert_eq!(*g.status(), GroupStatus::ReInitialized(reinit.clone()));
    }
    assert!(
        groups[0]
            .encrypt_application_message(b"x", b"", &mut rng)
            .is_err()
    );

    // Carol recreates the group in the new suite with alice and bob.
    let new_suite = CipherSuite(3);
    let mut signers = Vec::new();
    let mut bundles = Vec::new();
    for name in ["alice", "bob"] {
        let (signer, bundle) = key_package(name, new_suite, &mut rng);
        signers.push(signer);
        bundles.push(bundle);
    }
    let carol_new = identity("carol", new_suite, &mut rng);
    let kps: Vec<KeyPackage> = bundles.iter().map(|b| b.key_package.clone()).collect();
    let (new_group, output) = groups[2]
        .reinit(
            carol_new,
            &LinkedGroupOptions {
                key_packages: kps.clone(),
                ..LinkedGroupOptions::default()
            },
            NOW,
            &mut rng,
        )
        .unwrap();
    assert_eq!(new_group.cipher_suite(), new_suite);
    assert_eq!(new_group.epoch(), 1);
    for (i, (signer, bundle)) in signers.into_iter().zip(&bundles).enumerate() {
        let joined = groups[i]
            .join_reinit(
                MemberParams::new(env(), signer),
                &welcome_of(&output),
                bundle,
                &JoinOptions::default(),
                NOW,
            )
            .unwrap();
        assert_eq!(
            joined.epoch_authenticator(),
            new_group.epoch_authenticator()
        );
        assert_eq!(joined.group_id(), b"group-v2");
    }
}

#[test]
fn external_senders_and_new_member_proposals() {
    let mut rng = SeededRng::new(9);
    let suite = CipherSuite(2);
    let cs = RustCryptoProvider.cipher_suite_provider(suite).unwrap();
    let server = identity("server", suite, &mut rng);
    let senders = ExternalSenders(vec![crate::messages::ExternalSender {
        signature_key: server.public_key.clone(),
        credential: server.credential.clone(),
    }]);
    let mut groups = three_members(suite, &mut rng);
    commit_all(
        &mut groups,
        1,
        &CommitOptions {
            proposals: vec![Proposal::GroupContextExtensions(
                crate::messages::GroupContextExtensions {
                    extensions: vec![senders.to_extension().unwrap()],
                },
            )],
            ..CommitOptions::default()
        },
        &mut rng,
    );
    assert_agree(&groups);

    // The server removes carol.
    let carol = groups[2].own_leaf();
    let proposal = external_proposal(
        cs.as_ref(),
        b"group",
        groups[0].epoch(),
        0,
        &server,
        Proposal::Remove(Remove { removed: carol }),
        b"",
    )
    .unwrap();
    for g in groups.iter_mut() {
        assert!(matches!(
            g.process_message(&proposal, NOW).unwrap(),
            ProcessedMessage::Proposal {
                sender: Sender::External(0),
                ..
            }
        ));
    }
    commit_all(&mut groups, 0, &CommitOptions::default(), &mut rng);
    assert_eq!(*groups[2].status(), GroupStatus::Removed);
    groups.truncate(2);
    assert_agree(&groups);

    // An external sender that is not listed is rejected.
    let rogue = identity("rogue", suite, &mut rng);
    let forged = external_proposal(
        cs.as_ref(),
        b"group",
        groups[0].epoch(),
        0,
        &rogue,
        Proposal::Remove(Remove {
            removed: LeafIndex(1),
        }),
        b"",
    )
    .unwrap();
    assert!(groups[0].process_message(&forged, NOW).is_err());

    // Dave asks to join with a new_member_proposal; bob commits it and dave joins.
    let (dave, dave_kp) = key_package("dave", suite, &mut rng);
    let proposal =
        new_member_proposal(cs.as_ref(), b"group", groups[0].epoch(), &dave_kp, &dave).unwrap();
    for g in groups.iter_mut() {
        g.process_message(&proposal, NOW).unwrap();
    }
    let output = commit_all(&mut groups, 1, &CommitOptions::default(), &mut rng);
    let joined = Group::join(
        MemberParams::new(env(), dave),
        &welcome_of(&output),
        &dave_kp,
        &JoinOptions::default(),
        NOW,
    )
    .unwrap();
    groups.push(joined);
    assert_agree(&groups);
    exchange(&mut groups, 2, &mut rng);
}

#[test]
fn out_of_order_and_past_epoch_messages() {
    let mut rng = SeededRng::new(10);
    let mut groups = three_members(CipherSuite(1), &mut rng);
    let messages: Vec<MlsMessage> = (0..5)
        .map(|i| {
            groups[1]
                .encrypt_application_message(format!("m{i}").as_bytes(), b"", &mut rng)
                .unwrap()
        })
        .collect();
    // Delivered in reverse order within the epoch.
    for (i, message) in messages.iter().enumerate().rev().take(3) {
        match groups[0].process_message(message, NOW).unwrap() {
            ProcessedMessage::Application { data, .. } => {
                assert_eq!(data, format!("m{i}").as_bytes())
            }
            other => panic!("{other:?}"),
        }
    }
    // A replay is rejected.
    assert!(groups[0].process_message(&messages[4], NOW).is_err());
    // The epoch moves on; the two remaining messages still decrypt (past epoch window).
    commit_all(&mut groups, 2, &CommitOptions::default(), &mut rng);
    for (i, message) in messages.iter().enumerate().take(2) {
        match groups[0].process_message(message, NOW).unwrap() {
            ProcessedMessage::Application { data, epoch, .. } => {
                assert_eq!(data, format!("m{i}").as_bytes());
                assert_eq!(epoch, groups[0].epoch() - 1);
            }
            other => panic!("{other:?}"),
        }
    }
    // Beyond the window (3 past epochs), old messages are refused.
    let old = groups[1]
        .encrypt_application_message(b"late", b"", &mut rng)
        .unwrap();
    for _ in 0..4 {
        commit_all(&mut groups, 0, &CommitOptions::default(), &mut rng);
    }
    assert!(matches!(
        groups[2].process_message(&old, NOW),
        Err(GroupError::WrongEpoch { .. })
    ));
    // Our own message echoed back is recognised.
    let mine = groups[0]
        .encrypt_application_message(b"mine", b"", &mut rng)
        .unwrap();
    assert_eq!(
        groups[0].process_message(&mine, NOW).unwrap(),
        ProcessedMessage::OwnMessage
    );
}

#[test]
fn competing_commits_first_wins() {
    let mut rng = SeededRng::new(11);
    let mut groups = three_members(CipherSuite(1), &mut rng);
    let a = groups[0]
        .commit(&CommitOptions::default(), NOW, &mut rng)
        .unwrap();
    let b = groups[1]
        .commit(&CommitOptions::default(), NOW, &mut rng)
        .unwrap();
    // The delivery service orders a first: everyone applies it; bob discards his own.
    assert!(matches!(
        groups[1].process_message(&a.commit, NOW).unwrap(),
        ProcessedMessage::Commit(_)
    ));
    assert!(!groups[1].has_pending_commit());
    groups[2].process_message(&a.commit, NOW).unwrap();
    assert!(matches!(
        groups[0].process_message(&a.commit, NOW).unwrap(),
        ProcessedMessage::OwnCommitMerged(_)
    ));
    // b is now for an old epoch.
    assert!(matches!(
        groups[2].process_message(&b.commit, NOW),
        Err(GroupError::WrongEpoch { .. })
    ));
    assert_agree(&groups);
}

#[test]
fn out_of_band_tree_resync_and_required_capabilities() {
    let mut rng = SeededRng::new(12);
    let suite = CipherSuite(1);
    let mut groups = vec![new_group(suite, GroupConfig::default(), &mut rng)];
    add_member(&mut groups, 0, "bob", &mut rng);

    // Carol joins with the tree supplied out of band (not in the Welcome).
    let (carol, carol_kp) = key_package("carol", suite, &mut rng);
    let options = CommitOptions {
        proposals: vec![Proposal::Add(crate::messages::Add {
            key_package: carol_kp.key_package.clone(),
        })],
        ratchet_tree_in_group_info: false,
        ..CommitOptions::default()
    };
    let output = commit_all(&mut groups, 1, &options, &mut rng);
    let welcome = welcome_of(&output);
    let missing = Group::join(
        MemberParams::new(env(), carol.clone()),
        &welcome,
        &carol_kp,
        &JoinOptions::default(),
        NOW,
    );
    assert_eq!(missing.unwrap_err(), GroupError::MissingRatchetTree);
    let tree = groups[0].tree().to_nodes();
    let joined = Group::join(
        MemberParams::new(env(), carol),
        &welcome,
        &carol_kp,
        &JoinOptions {
            ratchet_tree: Some(tree),
            ..JoinOptions::default()
        },
        NOW,
    )
    .unwrap();
    groups.push(joined);
    assert_agree(&groups);

    // Bob lost his state: he rejoins externally, removing his prior appearance (resync).
    let bob_signer = groups[1].signer().clone();
    let bob_leaf = groups[1].own_leaf();
    let group_info = match &groups[0].group_info(true).unwrap().body {
        Body::GroupInfo(info) => info.clone(),
        _ => panic!(),
    };
    let (new_bob, output) = Group::join_external(
        MemberParams::new(env(), bob_signer),
        &group_info,
        &JoinOptions {
            remove_prior_leaf: Some(bob_leaf),
            ..JoinOptions::default()
        },
        NOW,
        &mut rng,
    )
    .unwrap();
    for i in [0, 2] {
        match groups[i].process_message(&output.commit, NOW).unwrap() {
            ProcessedMessage::Commit(summary) => assert_eq!(summary.removed, vec![bob_leaf]),
            other => panic!("{other:?}"),
        }
    }
    groups[1] = new_bob;
    assert_agree(&groups);
    for sender in 0..3 {
        exchange(&mut groups, sender, &mut rng);
    }

    // Someone else cannot resync bob away: a stranger's external commit removing bob is
    // refused because the stranger is not a valid successor of bob's credential.
    let mallory = identity("mallory", suite, &mut rng);
    let group_info = match &groups[0].group_info(true).unwrap().body {
        Body::GroupInfo(info) => info.clone(),
        _ => panic!(),
    };
    let (_, forged) = Group::join_external(
        MemberParams::new(env(), mallory),
        &group_info,
        &JoinOptions {
            remove_prior_leaf: Some(groups[1].own_leaf()),
            ..JoinOptions::default()
        },
        NOW,
        &mut rng,
    )
    .unwrap();
    let before = groups[0].to_bytes().unwrap();
    assert!(groups[0].process_message(&forged.commit, NOW).is_err());
    assert_eq!(groups[0].to_bytes().unwrap(), before);

    // A required capability nobody supports cannot be set.
    let required = crate::messages::RequiredCapabilities {
        extension_types: vec![crate::messages::ExtensionType(0xff00)],
        proposal_types: Vec::new(),
        credential_types: Vec::new(),
    };
    let options = CommitOptions {
        proposals: vec![Proposal::GroupContextExtensions(
            crate::messages::GroupContextExtensions {
                extensions: vec![required.to_extension().unwrap()],
            },
        )],
        ..CommitOptions::default()
    };
    assert!(groups[0].commit(&options, NOW, &mut rng).is_err());
    // One every member supports (basic credentials) can.
    let required = crate::messages::RequiredCapabilities {
        extension_types: Vec::new(),
        proposal_types: Vec::new(),
        credential_types: vec![crate::messages::CredentialType::BASIC],
    };
    let options = CommitOptions {
        proposals: vec![Proposal::GroupContextExtensions(
            crate::messages::GroupContextExtensions {
                extensions: vec![required.to_extension().unwrap()],
            },
        )],
        ..CommitOptions::default()
    };
    commit_all(&mut groups, 0, &options, &mut rng);
    assert_agree(&groups);
}

/// RFC 9420 §11.2 lets a ReInit keep the group id: the new group's `reinit` PSK then names
/// the same group id as the new group's own epochs, and must still be found.
#[test]
fn reinit_keeping_the_group_id() {
    let mut rng = SeededRng::new(13);
    let suite = CipherSuite(1);
    let mut groups = three_members(suite, &mut rng);
    let reinit = ReInit {
        group_id: b"group".to_vec(),
        version: ProtocolVersion::MLS10,
        cipher_suite: suite,
        extensions: Vec::new(),
    };
    commit_all(
        &mut groups,
        0,
        &CommitOptions {
            proposals: vec![Proposal::ReInit(reinit)],
            ..CommitOptions::default()
        },
        &mut rng,
    );
    let mut signers = Vec::new();
    let mut bundles = Vec::new();
    for name in ["bob", "carol"] {
        let (signer, bundle) = key_package(name, suite, &mut rng);
        signers.push(signer);
        bundles.push(bundle);
    }
    let kps: Vec<KeyPackage> = bundles.iter().map(|b| b.key_package.clone()).collect();
    let alice = identity("alice", suite, &mut rng);
    let options = CommitOptions {
        ratchet_tree_in_group_info: false,
        ..CommitOptions::default()
    };
    let (new_group, output) = groups[0]
        .reinit(
            alice,
            &LinkedGroupOptions {
                key_packages: kps.clone(),
                commit: options.clone(),
                ..LinkedGroupOptions::default()
            },
            NOW,
            &mut rng,
        )
        .unwrap();
    assert_eq!(new_group.group_id(), b"group");
    for (i, (signer, bundle)) in signers.into_iter().zip(&bundles).enumerate() {
        let joined = groups[i + 1]
            .join_reinit(
                MemberParams::new(env(), signer),
                &welcome_of(&output),
                bundle,
                &JoinOptions {
                    ratchet_tree: Some(new_group.tree().to_nodes()),
                    ..JoinOptions::default()
                },
                NOW,
            )
            .unwrap();
        assert_eq!(
            joined.epoch_authenticator(),
            new_group.epoch_authenticator()
        );
    }
}

#[test]
fn resync_only_policy_accepts_a_rejoin_and_refuses_newcomers() {
    let mut rng = SeededRng::new(31);
    let suite = CipherSuite(1);
    let config = GroupConfig {
        allow_external_commits: false,
        allow_external_resync: true,
        ..GroupConfig::default()
    };
    let mut groups = vec![new_group(suite, config.clone(), &mut rng)];
    add_member(&mut groups, 0, "bob", &mut rng);
    let group_info = |g: &Group| match &g.group_info(true).unwrap().body {
        Body::GroupInfo(info) => info.clone(),
        _ => panic!(),
    };
    // A newcomer's external commit is refused.
    let (_, newcomer) = Group::join_external(
        MemberParams {
            config: config.clone(),
            ..MemberParams::new(env(), identity("dave", suite, &mut rng))
        },
        &group_info(&groups[0]),
        &JoinOptions::default(),
        NOW,
        &mut rng,
    )
    .unwrap();
    let before = groups[0].to_bytes().unwrap();
    assert!(matches!(
        groups[0].process_message(&newcomer.commit, NOW),
        Err(GroupError::SenderNotAllowed { .. })
    ));
    assert_eq!(groups[0].to_bytes().unwrap(), before);
    // Bob, who lost his state, rejoins replacing his old leaf: accepted.
    let bob_leaf = groups[1].own_leaf();
    let (new_bob, rejoin) = Group::join_external(
        MemberParams {
            config: config.clone(),
            ..MemberParams::new(env(), groups[1].signer().clone())
        },
        &group_info(&groups[0]),
        &JoinOptions {
            remove_prior_leaf: Some(bob_leaf),
            ..JoinOptions::default()
        },
        NOW,
        &mut rng,
    )
    .unwrap();
    match groups[0].process_message(&rejoin.commit, NOW).unwrap() {
        ProcessedMessage::Commit(summary) => assert_eq!(summary.removed, vec![bob_leaf]),
        other => panic!("{other:?}"),
    }
    groups[1] = new_bob;
    assert_agree(&groups);
    // With neither policy, even a resync is refused.
    let closed = GroupConfig {
        allow_external_commits: false,
        allow_external_resync: false,
        ..GroupConfig::default()
    };
    let mut groups = vec![new_group(suite, closed.clone(), &mut rng)];
    add_member(&mut groups, 0, "bob", &mut rng);
    let info = group_info(&groups[0]);
    assert!(
        !info
            .extensions
            .iter()
            .any(|e| e.extension_type == crate::messages::ExtensionType::EXTERNAL_PUB),
        "no external_pub when external commits are closed"
    );
}

#[test]
fn welcome_group_info_leaves_out_external_pub_the_published_one_has_it() {
    let mut rng = SeededRng::new(41);
    let suite = CipherSuite(1);
    let mut groups = vec![new_group(suite, GroupConfig::default(), &mut rng)];
    let (_, bob_kp) = key_package("bob", suite, &mut rng);
    let options = CommitOptions {
        proposals: vec![Proposal::Add(crate::messages::Add {
            key_package: bob_kp.key_package.clone(),
        })],
        ..CommitOptions::default()
    };
    let output = commit_all(&mut groups, 0, &options, &mut rng);
    let cs = env().suite(suite).unwrap();
    let opened = crate::welcome::open_welcome(
        cs.as_ref(),
        &welcome_of(&output),
        &bob_kp.key_package,
        bob_kp.init_private_key.as_bytes(),
        None,
    )
    .unwrap();
    let has_external_pub = |info: &crate::messages::GroupInfo| {
        info.extensions
            .iter()
            .any(|e| e.extension_type == crate::messages::ExtensionType::EXTERNAL_PUB)
    };
    assert!(!has_external_pub(&opened.group_info));
    match &output.group_info.body {
        Body::GroupInfo(published) => {
            assert!(has_external_pub(published));
            // Same epoch, same signer: only the extension differs.
            assert_eq!(published.group_context, opened.group_info.group_context);
        }
        other => panic!("{other:?}"),
    }
}

/// The stored state keeps the larger subtrees' tree hashes (format version 2), so the first
/// commit processed after a load hashes O(log n) nodes; a version 1 state (no hashes) still
/// loads and rebuilds the whole cache.
#[test]
fn a_loaded_state_processes_a_commit_without_rehashing_the_tree() {
    let mut rng = SeededRng::new(43);
    let suite = CipherSuite(1);
    let mut alice = new_group(suite, GroupConfig::default(), &mut rng);
    let mut bundles = Vec::new();
    for i in 0..31 {
        bundles.push(key_package(&format!("member-{i}"), suite, &mut rng));
    }
    let options = CommitOptions {
        proposals: bundles
            .iter()
            .map(|(_, b)| {
                Proposal::Add(crate::messages::Add {
                    key_package: b.key_package.clone(),
                })
            })
            .collect(),
        ..CommitOptions::default()
    };
    let output = alice.commit(&options, NOW, &mut rng).unwrap();
    alice.merge_pending_commit().unwrap();
    let (signer, bundle) = bundles.swap_remove(0);
    let bob = Group::join(
        MemberParams::new(env(), signer),
        &welcome_of(&output),
        &bundle,
        &JoinOptions::default(),
        NOW,
    )
    .unwrap();

    let stored = bob.to_bytes().unwrap();
    // The same state in format version 1: the version field set to 1, the trailing
    // tree-hash section cut off.
    let mut reader = conclave_codec::Reader::new(&stored);
    super::storage::decode_without_tree_hashes(&mut reader);
    let v1_len = stored.len() - reader.remaining();
    let mut stored_v1 = stored[..v1_len].to_vec();
    stored_v1[..2].copy_from_slice(&1u16.to_be_bytes());

    let mut loaded = Group::from_bytes(env(), &stored).unwrap();
    let mut loaded_v1 = Group::from_bytes(env(), &stored_v1).unwrap();
    assert_eq!(loaded.epoch.tree.tree_hash_computations(), 0);

    let update = alice
        .commit(&CommitOptions::default(), NOW, &mut rng)
        .unwrap();
    alice.merge_pending_commit().unwrap();
    loaded.process_message(&update.commit, NOW).unwrap();
    loaded_v1.process_message(&update.commit, NOW).unwrap();
    assert_eq!(loaded.epoch_authenticator(), alice.epoch_authenticator());
    assert_eq!(loaded_v1.epoch_authenticator(), alice.epoch_authenticator());

    // 32 leaves, depth 5: the committer's direct path and leaf (6 nodes), the two copath
    // subtrees below the stored level (1 + 3 nodes), and the parent-hash checks.
    let node_count = loaded.epoch.tree.size().node_count();
    let with_hashes = loaded.epoch.tree.tree_hash_computations();
    let without_hashes = loaded_v1.epoch.tree.tree_hash_computations();
    assert!(with_hashes <= 24, "{with_hashes} node hashes after a load");
    assert!(
        without_hashes >= node_count,
        "{without_hashes} node hashes: a version 1 state has none stored"
    );
}

/// A commit adding many members checks their signatures as one batch; a bad one among them
/// still fails the commit with the error of the faulty KeyPackage (RFC 9420 §10.1), and
/// the group is unchanged.
#[test]
fn a_bad_signature_among_many_added_key_packages_is_named() {
    let mut rng = SeededRng::new(44);
    let suite = CipherSuite(1);
    let mut alice = new_group(suite, GroupConfig::default(), &mut rng);
    let bundles: Vec<_> = (0..20)
        .map(|i| key_package(&format!("member-{i}"), suite, &mut rng).1)
        .collect();
    let options_with = |fault: Option<(usize, bool)>| {
        let proposals = bundles
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let mut key_package = b.key_package.clone();
                match fault {
                    Some((at, true)) if at == i => key_package.signature[3] ^= 1,
                    Some((at, false)) if at == i => key_package.leaf_node.signature[3] ^= 1,
                    _ => {}
                }
                Proposal::Add(crate::messages::Add { key_package })
            })
            .collect();
        CommitOptions {
            proposals,
            ..CommitOptions::default()
        }
    };
    let before = alice.to_bytes().unwrap();
    assert!(matches!(
        alice.commit(&options_with(Some((13, true))), NOW, &mut rng),
        Err(GroupError::Validation(
            crate::validation::ValidationError::KeyPackageSignature
        ))
    ));
    assert!(matches!(
        alice.commit(&options_with(Some((2, false))), NOW, &mut rng),
        Err(GroupError::Validation(
            crate::validation::ValidationError::LeafNodeSignature
        ))
    ));
    assert_eq!(alice.to_bytes().unwrap(), before);
    alice.commit(&options_with(None), NOW, &mut rng).unwrap();
}

/// A member replaces its credential and commits; a credential of another identity is
/// refused up front (RFC 9420 §7.3, §5.3.1). (A basic credential's only valid successor is
/// itself; the client tests renew X.509 certificates this way.)
#[test]
fn a_member_replaces_its_credential_with_a_commit() {
    let mut rng = SeededRng::new(45);
    let suite = CipherSuite(1);
    let mut groups = vec![new_group(suite, GroupConfig::default(), &mut rng)];
    add_member(&mut groups, 0, "bob", &mut rng);
    let renewed = Credential::Basic {
        identity: b"alice".to_vec(),
    };
    let other = Credential::Basic {
        identity: b"mallory".to_vec(),
    };
    assert!(matches!(
        groups[0].set_credential(other, NOW),
        Err(GroupError::Validation(
            crate::validation::ValidationError::CredentialNotValidSuccessor
        ))
    ));
    groups[0].set_credential(renewed.clone(), NOW).unwrap();
    let output = commit_all(&mut groups, 0, &CommitOptions::default(), &mut rng);
    assert!(output.welcome.is_none());
    let leaf = groups[1]
        .members()
        .find(|(i, _)| i.0 == 0)
        .map(|(_, l)| l.clone())
        .unwrap();
    assert_eq!(leaf.credential, renewed);
    assert_agree(&groups);
}

// ---- leaves omitting the group's cipher suite (MLSpp interop, RFC 9420 §7.3, §10.1) -------

/// Makes `group`'s own leaf look like the leaves MLSpp creates: its capabilities list other
/// suites but not the group's own. The leaf is re-signed; its keys stay keys of the suite.
/// (We never generate such a leaf: this stands in for another implementation.)
fn omit_own_suite(group: &mut Group) {
    let cs = group.cs.as_ref();
    let own = group.own_leaf();
    let suite = group.cipher_suite();
    let mut leaf = group.epoch.tree.leaf(own).unwrap().clone();
    leaf.capabilities.cipher_suites = vec![CipherSuite(0x0a0a), CipherSuite(7)];
    assert!(!leaf.capabilities.cipher_suites.contains(&suite));
    let tbs = leaf
        .to_be_signed(Some((&group.epoch.context.group_id, own)))
        .unwrap();
    leaf.signature = labels::sign_with_label(
        cs,
        group.signer.secret_key.as_bytes(),
        crate::validation::LEAF_NODE_TBS_LABEL,
        &tbs,
    )
    .unwrap();
    group.epoch.tree.set_leaf(own, Some(leaf)).unwrap();
    group.epoch.context.tree_hash = group.epoch.tree.tree_hash(cs).unwrap();
}

fn lists_suite(leaf: &LeafNode, suite: CipherSuite) -> bool {
    leaf.capabilities.cipher_suites.contains(&suite)
}

/// A group created by a client whose leaf omits the group's cipher suite (MLSpp): joining
/// from its Welcome, processing its commits and adding members all work, because its leaf
/// holds keys of the suite (RFC 9420 §7.3); our own leaves keep listing the suite.
#[test]
fn a_member_whose_capabilities_omit_the_suite_is_accepted() {
    for suite in [CipherSuite(1), CipherSuite(2)] {
        let mut rng = SeededRng::new(51);
        let mut creator = new_group(suite, GroupConfig::default(), &mut rng);
        omit_own_suite(&mut creator);
        let creator_leaf = creator.own_leaf();
        let mut groups = vec![creator];

        // Carol joins from the creator's Welcome: the tree carries the creator's leaf
        // (re-signed by its commit, still without the suite).
        add_member(&mut groups, 0, "carol", &mut rng);
        let in_carols_tree = groups[1].tree().leaf(creator_leaf).unwrap();
        assert!(!lists_suite(in_carols_tree, suite));
        assert!(matches!(
            in_carols_tree.leaf_node_source,
            LeafNodeSource::Commit(_)
        ));

        // Carol processes the creator's commits (a new leaf without the suite each time),
        // the creator processes Carol's, and Carol adds Dave, who joins the same tree.
        commit_all(&mut groups, 0, &CommitOptions::default(), &mut rng);
        commit_all(&mut groups, 1, &CommitOptions::default(), &mut rng);
        add_member(&mut groups, 1, "dave", &mut rng);
        commit_all(&mut groups, 0, &CommitOptions::default(), &mut rng);
        assert_agree(&groups);
        exchange(&mut groups, 2, &mut rng);
        for group in &groups {
            assert!(!lists_suite(
                group.tree().leaf(creator_leaf).unwrap(),
                suite
            ));
        }
        // Every leaf we generated lists the suite.
        for group in &groups[1..] {
            assert!(lists_suite(
                group.tree().leaf(group.own_leaf()).unwrap(),
                suite
            ));
        }

        // A KeyPackage omitting the suite is still refused in an Add (RFC 9420 §10.1).
        let (erin, mut bundle) = key_package("erin", suite, &mut rng);
        let cs = RustCryptoProvider.cipher_suite_provider(suite).unwrap();
        let kp = &mut bundle.key_package;
        kp.leaf_node.capabilities.cipher_suites = vec![CipherSuite(7)];
        let tbs = kp.leaf_node.to_be_signed(None).unwrap();
        kp.leaf_node.signature = labels::sign_with_label(
            cs.as_ref(),
            erin.secret_key.as_bytes(),
            crate::validation::LEAF_NODE_TBS_LABEL,
            &tbs,
        )
        .unwrap();
        let tbs = kp.to_be_signed().unwrap();
        kp.signature = labels::sign_with_label(
            cs.as_ref(),
            erin.secret_key.as_bytes(),
            crate::validation::KEY_PACKAGE_TBS_LABEL,
            &tbs,
        )
        .unwrap();
        let add = CommitOptions {
            proposals: vec![Proposal::Add(crate::messages::Add {
                key_package: kp.clone(),
            })],
            ..CommitOptions::default()
        };
        assert_eq!(
            groups[1].commit(&add, NOW, &mut rng).unwrap_err(),
            GroupError::Validation(crate::validation::ValidationError::UnsupportedCipherSuite(
                suite
            ))
        );
    }
}

/// The leaves we generate list the group's cipher suite: by default, and capabilities that
/// omit it are refused for a KeyPackage, a new group and an external join (RFC 9420 §10.1).
#[test]
fn the_leaves_we_generate_list_the_group_suite() {
    let mut rng = SeededRng::new(52);
    let suite = CipherSuite(1);
    let unsupported = GroupError::Validation(
        crate::validation::ValidationError::UnsupportedCipherSuite(suite),
    );
    assert_eq!(
        default_capabilities(suite, &BasicIdentityProvider, CodepointProfile::Draft).cipher_suites,
        vec![suite]
    );
    let (alice, bundle) = key_package("alice", suite, &mut rng);
    assert!(lists_suite(&bundle.key_package.leaf_node, suite));

    let omitting = LeafOptions {
        capabilities: Some(Capabilities {
            cipher_suites: vec![CipherSuite(2)],
            ..default_capabilities(suite, &BasicIdentityProvider, CodepointProfile::Draft)
        }),
        ..LeafOptions::default()
    };
    let generated = KeyPackageBundle::generate(
        &MemberParams {
            leaf: omitting.clone(),
            ..MemberParams::new(env(), alice.clone())
        },
        suite,
        NOW,
        &mut rng,
    );
    assert_eq!(generated.unwrap_err(), unsupported);
    let created = Group::create(
        MemberParams {
            leaf: omitting.clone(),
            ..MemberParams::new(env(), alice.clone())
        },
        NewGroup::new(suite, b"g".to_vec()),
        NOW,
        &mut rng,
    );
    assert_eq!(created.unwrap_err(), unsupported);
    let mut groups = three_members(suite, &mut rng);
    let group_info = match &groups[0].group_info(true).unwrap().body {
        Body::GroupInfo(info) => info.clone(),
        _ => panic!(),
    };
    let joined = Group::join_external(
        MemberParams {
            leaf: omitting.clone(),
            ..MemberParams::new(env(), identity("erin", suite, &mut rng))
        },
        &group_info,
        &JoinOptions::default(),
        NOW,
        &mut rng,
    );
    assert_eq!(joined.unwrap_err(), unsupported);

    // Commits and Updates keep the suite in our leaves.
    commit_all(&mut groups, 1, &CommitOptions::default(), &mut rng);
    let update = groups[2].propose_update(None, &mut rng).unwrap();
    for g in groups.iter_mut().take(2) {
        g.process_message(&update, NOW).unwrap();
    }
    commit_all(&mut groups, 0, &CommitOptions::default(), &mut rng);
    assert_agree(&groups);
    for group in &groups {
        assert!(group.members().all(|(_, leaf)| lists_suite(leaf, suite)));
    }
}

#[test]
fn the_codepoint_profile_is_stored_with_the_group_and_a_default_one_writes_no_section() {
    let mut rng = SeededRng::new(41);
    let suite = CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519;
    let mut default_group = new_group(suite, GroupConfig::default(), &mut rng);
    // Without its exporter tree (a section of its own), so that no section is left.
    default_group.epoch.exporter_tree = crate::safe::ExporterTree::unavailable();
    let mls_rs = new_group(
        suite,
        GroupConfig {
            codepoint_profile: crate::codepoints::CodepointProfile::MlsRs,
            ..GroupConfig::default()
        },
        &mut rng,
    );
    let default_bytes = default_group.to_bytes().unwrap();
    let mls_rs_bytes = mls_rs.to_bytes().unwrap();
    // An empty section list is one byte (its length) at the very end.
    assert_eq!(default_bytes.last(), Some(&0));
    let restored = Group::from_bytes(env(), &mls_rs_bytes).unwrap();
    assert_eq!(
        restored.config().codepoint_profile,
        crate::codepoints::CodepointProfile::MlsRs
    );
    assert_eq!(restored.to_bytes().unwrap(), mls_rs_bytes);
    assert_eq!(
        Group::from_bytes(env(), &default_bytes)
            .unwrap()
            .config()
            .codepoint_profile,
        crate::codepoints::CodepointProfile::Draft
    );
}

#[test]
fn a_state_with_an_unknown_section_is_refused() {
    let mut rng = SeededRng::new(42);
    let suite = CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519;
    let mut group = new_group(suite, GroupConfig::default(), &mut rng);
    // Without its exporter tree (a section of its own), so that the section list is empty.
    group.epoch.exporter_tree = crate::safe::ExporterTree::unavailable();
    let mut bytes = group.to_bytes().unwrap();
    // Replace the empty section list by one section with tag 0xFFFF and no data.
    assert_eq!(bytes.pop(), Some(0));
    bytes.extend_from_slice(&[3, 0xFF, 0xFF, 0]);
    assert!(matches!(
        Group::from_bytes(env(), &bytes),
        Err(GroupError::MalformedState("unknown state section"))
    ));
}

// ---- draft-ietf-mls-ratchet-tree-options-00: the tree held by the Delivery Service --------

use crate::messages::{GroupInfo, RatchetTreeNodes, find_payload};

fn tree_on_ds() -> GroupConfig {
    GroupConfig {
        ratchet_tree_location: crate::ratchet_tree_options::RatchetTreeLocation::DeliveryService,
        ..GroupConfig::default()
    }
}

fn group_info_body(message: &MlsMessage) -> GroupInfo {
    match &message.body {
        Body::GroupInfo(info) => info.clone(),
        other => panic!("not a GroupInfo: {other:?}"),
    }
}

/// A group of `alice` and `others` members added in one commit, every member joined.
fn group_of(config: GroupConfig, others: usize, rng: &mut SeededRng) -> Group {
    let suite = CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519;
    let mut alice = new_group(suite, config, rng);
    let proposals = (0..others)
        .map(|i| {
            let (_, bundle) = key_package(&format!("m{i}"), suite, rng);
            Proposal::Add(crate::messages::Add {
                key_package: bundle.key_package,
            })
        })
        .collect();
    alice
        .commit(
            &CommitOptions {
                proposals,
                ..CommitOptions::default()
            },
            NOW,
            rng,
        )
        .unwrap();
    alice.merge_pending_commit().unwrap();
    alice
}

/// Adds bob to `alice`'s group; returns bob's signer and KeyPackage and the commit.
fn add_bob(
    alice: &mut Group,
    rng: &mut SeededRng,
) -> (SigningIdentity, KeyPackageBundle, CommitOutput) {
    let (signer, bundle) = key_package("bob", alice.cipher_suite(), rng);
    let output = alice
        .commit(
            &CommitOptions {
                proposals: vec![Proposal::Add(crate::messages::Add {
                    key_package: bundle.key_package.clone(),
                })],
                ..CommitOptions::default()
            },
            NOW,
            rng,
        )
        .unwrap();
    alice.merge_pending_commit().unwrap();
    (signer, bundle, output)
}

fn join_bob(
    signer: &SigningIdentity,
    bundle: &KeyPackageBundle,
    output: &CommitOutput,
    tree: Option<RatchetTreeNodes>,
) -> Result<Group, GroupError> {
    Group::join(
        MemberParams::new(env(), signer.clone()),
        &welcome_of(output),
        bundle,
        &JoinOptions {
            ratchet_tree: tree,
            ..JoinOptions::default()
        },
        NOW,
    )
}

#[test]
fn a_welcome_of_a_group_whose_tree_the_ds_holds_omits_the_tree_and_names_the_ds() {
    use crate::ratchet_tree_options::{RatchetTreeLocation, RatchetTreeOption, tree_option_of};
    let mut rng = SeededRng::new(71);
    let mut inline = group_of(GroupConfig::default(), 20, &mut rng);
    let mut on_ds = group_of(tree_on_ds(), 20, &mut rng);
    let (_, _, inline_add) = add_bob(&mut inline, &mut rng);
    let (signer, bundle, ds_add) = add_bob(&mut on_ds, &mut rng);
    let inline_size = inline_add
        .welcome
        .as_ref()
        .unwrap()
        .to_bytes()
        .unwrap()
        .len();
    let ds_size = ds_add.welcome.as_ref().unwrap().to_bytes().unwrap().len();
    let tree_size = on_ds.tree().to_nodes().to_bytes().unwrap().len();
    // The Welcome shrinks by the tree (less the 3-byte RatchetTreeOption extension).
    assert!(
        ds_size + tree_size <= inline_size + 16,
        "{ds_size} + {tree_size} vs {inline_size}"
    );
    assert!(ds_size < inline_size / 4, "{ds_size} vs {inline_size}");
    // The published GroupInfo says where the tree is and carries none either.
    let published = group_info_body(&ds_add.group_info);
    assert_eq!(
        tree_option_of(&published.extensions).unwrap(),
        Some(RatchetTreeOption::DistributionService)
    );
    assert!(
        find_payload::<RatchetTreeNodes>(&published.extensions)
            .unwrap()
            .is_none()
    );
    let explicit = group_info_body(&on_ds.group_info(true).unwrap());
    assert!(
        find_payload::<RatchetTreeNodes>(&explicit.extensions)
            .unwrap()
            .is_none()
    );

    // Without the tree the joiner is told to fetch it from the DS, for this group and epoch.
    assert_eq!(
        join_bob(&signer, &bundle, &ds_add, None).unwrap_err(),
        GroupError::RatchetTreeOnDeliveryService {
            group_id: b"group".to_vec(),
            epoch: on_ds.epoch(),
        }
    );
    // With the tree the DS serves (the group's public tree) it joins, in the same epoch, and
    // its own GroupInfos say that the DS holds the tree.
    let mut bob = join_bob(&signer, &bundle, &ds_add, Some(on_ds.tree().to_nodes())).unwrap();
    assert_eq!(bob.epoch_authenticator(), on_ds.epoch_authenticator());
    assert_eq!(
        bob.config().ratchet_tree_location,
        RatchetTreeLocation::DeliveryService
    );
    let bobs = bob
        .commit(&CommitOptions::default(), NOW, &mut rng)
        .unwrap();
    assert_eq!(
        tree_option_of(&group_info_body(&bobs.group_info).extensions).unwrap(),
        Some(RatchetTreeOption::DistributionService)
    );
    // Stored and loaded, the member keeps the location.
    let bytes = bob.to_bytes().unwrap();
    let loaded = Group::from_bytes(env(), &bytes).unwrap();
    assert_eq!(
        loaded.config().ratchet_tree_location,
        RatchetTreeLocation::DeliveryService
    );
    assert_eq!(loaded.to_bytes().unwrap(), bytes);
}

#[test]
fn a_tampered_tree_from_the_ds_is_refused_by_the_tree_hash() {
    let mut rng = SeededRng::new(72);
    let mut on_ds = group_of(tree_on_ds(), 3, &mut rng);
    let (signer, bundle, output) = add_bob(&mut on_ds, &mut rng);
    let mut nodes = on_ds.tree().to_nodes();
    // Another member's leaf (leaf 1, node 2): a new encryption key.
    match nodes.0.get_mut(2) {
        Some(Some(crate::messages::Node::Leaf(leaf))) => leaf.encryption_key.0[0] ^= 1,
        other => panic!("leaf 1 is {other:?}"),
    }
    assert_eq!(
        join_bob(&signer, &bundle, &output, Some(nodes)).unwrap_err(),
        GroupError::TreeValidation(crate::tree::TreeValidationError::Tree(
            crate::tree::TreeError::TreeHashMismatch
        ))
    );
}

#[test]
fn an_external_joiner_of_a_group_whose_tree_the_ds_holds_joins_with_the_fetched_tree() {
    let mut rng = SeededRng::new(73);
    let mut alice = group_of(tree_on_ds(), 2, &mut rng);
    let info = group_info_body(&alice.group_info(true).unwrap());
    let erin = identity("erin", alice.cipher_suite(), &mut rng);
    let params = || MemberParams::new(env(), erin.clone());
    let refused = Group::join_external(params(), &info, &JoinOptions::default(), NOW, &mut rng);
    assert!(
        matches!(
            refused,
            Err(GroupError::RatchetTreeOnDeliveryService { epoch: 1, .. })
        ),
        "{refused:?}"
    );
    let options = JoinOptions {
        ratchet_tree: Some(alice.tree().to_nodes()),
        ..JoinOptions::default()
    };
    let (erin_group, output) =
        Group::join_external(params(), &info, &options, NOW, &mut rng).unwrap();
    alice.process_message(&output.commit, NOW).unwrap();
    assert_eq!(
        erin_group.epoch_authenticator(),
        alice.epoch_authenticator()
    );
    assert_eq!(
        erin_group.config().ratchet_tree_location,
        crate::ratchet_tree_options::RatchetTreeLocation::DeliveryService
    );
}

#[test]
fn a_full_ratchet_tree_option_carries_the_tree_and_an_https_one_is_checked_against_the_domains() {
    use crate::ratchet_tree_options::{Domain, DomainList, RatchetTreeOption, TreeOptionError};
    let mut rng = SeededRng::new(74);
    let alice = group_of(GroupConfig::default(), 1, &mut rng);
    let mut info = group_info_body(&alice.group_info(false).unwrap());
    let with = |info: &GroupInfo, option: RatchetTreeOption| {
        let mut info = info.clone();
        info.extensions.push(option.to_extension().unwrap());
        info
    };
    let full = with(&info, RatchetTreeOption::Full(alice.tree().to_nodes()));
    assert_eq!(
        join::group_info_tree(&full, None).unwrap().to_nodes(),
        alice.tree().to_nodes()
    );
    let url = with(
        &info,
        RatchetTreeOption::HttpsUri(b"https://t.example/g".to_vec()),
    );
    assert_eq!(
        join::group_info_tree(&url, None).unwrap_err(),
        GroupError::RatchetTreeAtUrl("https://t.example/g".into())
    );
    info.group_context.extensions.push(
        DomainList {
            domains: vec![Domain(b"trees.example".to_vec())],
        }
        .to_extension()
        .unwrap(),
    );
    let url = with(
        &info,
        RatchetTreeOption::HttpsUri(b"https://t.example/g".to_vec()),
    );
    assert_eq!(
        join::group_info_tree(&url, None).unwrap_err(),
        GroupError::TreeOption(TreeOptionError::DomainNotAllowed {
            host: "t.example".into()
        })
    );
    let out_of_band = with(&info, RatchetTreeOption::OutOfBand);
    assert_eq!(
        join::group_info_tree(&out_of_band, None).unwrap_err(),
        GroupError::MissingRatchetTree
    );
}

/// Prints the size of the Welcome that adds one member to a group of `CONCLAVE_WELCOME_N`
/// members (default 1000), with the tree in it and with the tree on the DS (the numbers in
/// the crate README): `cargo test -p conclave-core --release -- --ignored welcome_sizes
/// --nocapture`.
#[test]
#[ignore = "a measurement, not a check"]
fn welcome_sizes_with_and_without_the_tree() {
    AWS_LC.with(|c| c.set(true));
    let n: usize = std::env::var("CONCLAVE_WELCOME_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let mut rng = SeededRng::new(75);
    for (what, config) in [
        ("tree in the Welcome", GroupConfig::default()),
        ("tree on the DS", tree_on_ds()),
    ] {
        let mut group = group_of(config, n - 1, &mut rng);
        let (_, _, output) = add_bob(&mut group, &mut rng);
        let welcome = output.welcome.as_ref().unwrap().to_bytes().unwrap().len();
        let group_info = output.group_info.to_bytes().unwrap().len();
        let tree = group.tree().to_nodes().to_bytes().unwrap().len();
        println!("N={n} {what}: Welcome {welcome} B, GroupInfo {group_info} B (tree {tree} B)");
    }
}

/// A large member commit is verified with its hashing passes side by side on a pool of two
/// threads (`framing::unprotect_and_verify_member_public`): the result is the same epoch as
/// one thread gives, and a bad membership tag or signature is refused as it is one pass
/// after the other — the tag first — with the group unchanged.
#[cfg(feature = "parallel")]
#[test]
fn a_large_commit_verified_on_two_threads_gives_the_same_epoch_and_errors() {
    use crate::framing::FramingError;
    let suite = CipherSuite(1);
    let mut rng = SeededRng::new(41);
    let mut groups = three_members(suite, &mut rng);
    let options = CommitOptions {
        force_path: true,
        // 48 KiB of authenticated data: above the size at which the passes are split.
        authenticated_data: vec![0x5a; 48 * 1024],
        ..CommitOptions::default()
    };
    let output = groups[0].commit(&options, NOW, &mut rng).unwrap();
    groups[0].merge_pending_commit().unwrap();
    let MlsMessageBody::PublicMessage(public) = &output.commit.body else {
        panic!("not a PublicMessage");
    };
    let two = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();

    // The membership tag covers the signature (RFC 9420 §6.2): a forged signature gets a
    // tag recomputed over it with the epoch's membership key, unless the tag is forged too.
    let receiver = Group::from_bytes(env(), &groups[1].to_bytes().unwrap()).unwrap();
    let tamper = |tag: bool, signature: bool| {
        let mut forged = public.clone();
        if signature && let Some(s) = forged.auth.signature.last_mut() {
            *s ^= 1;
            forged.membership_tag = Some(
                crate::framing::membership_tag(
                    receiver.cs.as_ref(),
                    receiver.epoch.secrets.membership_key.as_bytes(),
                    &forged.content,
                    &forged.auth,
                    &receiver.epoch.context,
                )
                .unwrap(),
            );
        }
        if tag && let Some(t) = forged.membership_tag.as_mut().and_then(|t| t.last_mut()) {
            *t ^= 1;
        }
        MlsMessage::new(MlsMessageBody::PublicMessage(forged))
    };
    for (tag, signature, expected) in [
        (true, false, FramingError::InvalidMembershipTag),
        (false, true, FramingError::InvalidSignature),
        (true, true, FramingError::InvalidMembershipTag),
    ] {
        let forged = tamper(tag, signature);
        for pool in [&one, &two] {
            let before = groups[1].to_bytes().unwrap();
            let err = pool
                .install(|| groups[1].process_message(&forged, NOW))
                .unwrap_err();
            assert_eq!(err, GroupError::Framing(expected.clone()));
            assert_eq!(groups[1].to_bytes().unwrap(), before);
        }
    }
    two.install(|| groups[1].process_message(&output.commit, NOW))
        .unwrap();
    one.install(|| groups[2].process_message(&output.commit, NOW))
        .unwrap();
    assert_agree(&groups);
}

/// A commit in a group large enough for its GroupInfo's tree to be encoded beside the path's
/// encryptions (`parallel::beside`) gives, on a pool of two threads, exactly the bytes one
/// thread gives: the commit, the GroupInfo and its `ratchet_tree`, which is the new epoch's
/// tree.
#[cfg(feature = "parallel")]
#[test]
fn a_commit_whose_tree_is_encoded_beside_its_path_is_the_same_on_two_threads() {
    let mut rng = SeededRng::new(43);
    let group = group_of(GroupConfig::default(), 80, &mut rng);
    assert!(group.tree().leaf_count() >= super::commit::TREE_ENCODING_BESIDE_PATH);
    let saved = group.to_bytes().unwrap();
    let mut outputs = Vec::new();
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let mut committer = Group::from_bytes(env(), &saved).unwrap();
        let mut commit_rng = SeededRng::new(44);
        let output = pool
            .install(|| committer.commit(&CommitOptions::default(), NOW, &mut commit_rng))
            .unwrap();
        committer.merge_pending_commit().unwrap();
        let MlsMessageBody::GroupInfo(group_info) = &output.group_info.body else {
            panic!("not a GroupInfo");
        };
        let tree = group_info
            .extensions
            .iter()
            .find(|e| e.extension_type == crate::messages::ExtensionType::RATCHET_TREE)
            .unwrap();
        assert_eq!(*tree, committer.tree().ratchet_tree_extension().unwrap());
        outputs.push((
            output.commit.to_bytes().unwrap(),
            output.group_info.to_bytes().unwrap(),
        ));
    }
    assert_eq!(outputs[0], outputs[1]);
}

/// An application message of `group` whose signature is corrupted before encryption: it
/// decrypts, and its signature check fails (RFC 9420 §6.1).
fn badly_signed_message(group: &mut Group, data: &[u8], rng: &mut SeededRng) -> MlsMessage {
    let content = FramedContent {
        group_id: group.epoch.context.group_id.clone(),
        epoch: group.epoch(),
        sender: Sender::Member(group.own_leaf()),
        authenticated_data: Vec::new(),
        content: Content::Application(data.to_vec()),
    };
    let mut signed = sign_content(
        group.cs.as_ref(),
        group.signer.secret_key.as_bytes(),
        WireFormat::PRIVATE_MESSAGE,
        content,
        Some(&group.epoch.context),
    )
    .unwrap();
    signed.auth.signature[5] ^= 0x40;
    let padding = group.config.padding;
    let epoch = group.epoch.untracked_mut();
    let message = protect_private(
        group.cs.as_ref(),
        &signed,
        &mut epoch.secret_tree,
        epoch.secrets.sender_data_secret.as_bytes(),
        padding,
        rng,
    )
    .unwrap();
    mls_message(MlsMessageBody::PrivateMessage(message))
}

/// `message` with the last byte of its content ciphertext flipped: the sender data still
/// decrypts (its key comes from the ciphertext's first bytes), the content does not.
fn undecryptable(message: &MlsMessage) -> MlsMessage {
    let mut message = message.clone();
    let MlsMessageBody::PrivateMessage(private) = &mut message.body else {
        panic!("not a PrivateMessage");
    };
    *private.ciphertext.last_mut().unwrap() ^= 1;
    message
}

/// Processes `backlog` on two copies of `group` reloaded from its state, one message after
/// the other and with [`Group::process_application_backlog`] (in a pool of `threads`), and
/// checks that every result and the final state are the same; returns the results.
fn backlog_matches_one_by_one(
    group: &Group,
    backlog: &[MlsMessage],
    threads: usize,
) -> Vec<Result<ProcessedMessage, GroupError>> {
    let state = group.to_bytes().unwrap();
    let mut one_by_one = Group::from_bytes(env(), &state).unwrap();
    let expected: Vec<_> = backlog
        .iter()
        .map(|m| one_by_one.process_message(m, NOW))
        .collect();
    let mut batched = Group::from_bytes(env(), &state).unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let got = pool.install(|| batched.process_application_backlog(backlog, NOW));
    assert_eq!(got.len(), expected.len());
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(format!("{g:?}"), format!("{e:?}"), "message {i}");
    }
    assert_eq!(batched.to_bytes().unwrap(), one_by_one.to_bytes().unwrap());
    assert_eq!(
        format!("{:?}", batched.take_changes()),
        format!("{:?}", one_by_one.take_changes())
    );
    got
}

#[test]
fn a_backlog_names_the_bad_message_and_processes_the_others_as_one_by_one() {
    let mut rng = SeededRng::new(41);
    let mut groups = three_members(CipherSuite(1), &mut rng);
    // One message whose signature does not verify, one whose content does not decrypt,
    // a replay, a forgery placed before the genuine message of the same generation, and
    // one of our own messages echoed back.
    let bad_signature = 37;
    let mut backlog = Vec::new();
    let mut sent = Vec::new();
    for i in 0..160 {
        let from = 1 + i % 2;
        let data = format!("message {i} from {from}").into_bytes();
        if i == bad_signature {
            backlog.push(badly_signed_message(&mut groups[from], &data, &mut rng));
            sent.push(None);
            continue;
        }
        backlog.push(
            groups[from]
                .encrypt_application_message(&data, b"", &mut rng)
                .unwrap(),
        );
        sent.push(Some(data));
    }
    let bad_ciphertext = 90;
    backlog[bad_ciphertext] = undecryptable(&backlog[bad_ciphertext]);
    sent[bad_ciphertext] = None;
    backlog.push(backlog[150].clone());
    sent.push(None);
    let forged_first = undecryptable(&backlog[120]);
    backlog.insert(119, forged_first);
    sent.insert(119, None);
    backlog.push(
        groups[0]
            .encrypt_application_message(b"mine", b"", &mut rng)
            .unwrap(),
    );
    sent.push(None);
    let results = backlog_matches_one_by_one(&groups[0], &backlog, 2);
    for (i, (result, data)) in results.iter().zip(&sent).enumerate() {
        match (result, data) {
            (Ok(ProcessedMessage::Application { data: got, .. }), Some(data)) => {
                assert_eq!(got, data, "message {i}")
            }
            (Err(GroupError::Framing(crate::framing::FramingError::InvalidSignature)), None)
                if i == bad_signature => {}
            (Err(GroupError::Framing(crate::framing::FramingError::ContentDecryption)), None)
                if i == bad_ciphertext || i == 119 => {}
            (
                Err(GroupError::Framing(crate::framing::FramingError::SecretTree(
                    crate::secret_tree::SecretTreeError::KeyAlreadyUsed(_),
                ))),
                None,
            ) if i == results.len() - 2 => {}
            (Ok(ProcessedMessage::OwnMessage), None) if i == results.len() - 1 => {}
            other => panic!("message {i}: {other:?}"),
        }
    }
}

#[test]
fn a_backlog_across_a_commit_and_out_of_order_matches_one_by_one() {
    let mut rng = SeededRng::new(42);
    let mut groups = three_members(CipherSuite(1), &mut rng);
    let mut backlog: Vec<MlsMessage> = (0..20)
        .map(|i| {
            groups[1]
                .encrypt_application_message(format!("a{i}").as_bytes(), b"", &mut rng)
                .unwrap()
        })
        .collect();
    backlog.reverse();
    let output = groups[2]
        .commit(&CommitOptions::default(), NOW, &mut rng)
        .unwrap();
    groups[2].merge_pending_commit().unwrap();
    groups[1].process_message(&output.commit, NOW).unwrap();
    backlog.push(output.commit.clone());
    for i in 0..20 {
        backlog.push(
            groups[1 + i % 2]
                .encrypt_application_message(format!("b{i}").as_bytes(), b"", &mut rng)
                .unwrap(),
        );
    }
    for threads in [1, 2] {
        let results = backlog_matches_one_by_one(&groups[0], &backlog, threads);
        assert!(results.iter().all(Result::is_ok), "{results:?}");
    }
}
